# SPDX-License-Identifier: MIT
"""Every result carries every member of its C struct, under the member's name.

The converters (bindings/kbpipeline.i, shared by Python and Node) are
expanded from the structs' field lists in lib/core/fields.h; this reads those
lists and holds each kind of result to its list, so a member that a converter
drops, or one that no list names, fails here.
"""

import os
import re
import unittest

import kbpipeline

FIELDS_H = os.path.join(os.path.dirname(__file__), "..", "..", "..", "lib", "core", "fields.h")
LIST = re.compile(r"#define KBP_FIELDS_(\w+)\(X\)((?:[^\n]*\\\n)*[^\n]*)")
ENTRY = re.compile(r"X\((\w+),\s*(\w+)")


def field_lists():
    """struct name (without kbp_) -> the members a result shows, counts left out."""
    with open(FIELDS_H, encoding="utf-8") as f:
        return {name: [m for _, m in ENTRY.findall(body)] for name, body in LIST.findall(f.read())}


class FieldsTests(unittest.TestCase):
    def setUp(self):
        self.lists = field_lists()
        self.p = kbpipeline.Pipeline(storage="memory:")
        self.addCleanup(self.p.close)
        self.p.add_sandbox_gateway()

    def assertMembers(self, name, record):
        self.assertEqual(list(record), self.lists[name], "kbp_" + name)

    def test_every_result_has_its_structs_members(self):
        p = self.p
        p.vendor_put("v1", "Ilam Tea House")
        p.product_put("tea", "v1", "Tea", 45000, 10)
        p.cart_set_item("c1", "cust", "tea", 2)
        intent = p.intent_create("c1", "sandbox")
        verification = p.payment_verify("sandbox", p.sandbox_pay(intent.id))
        self.assertEqual(p.worker_run_once(), 1)
        status = p.order_status(intent.id)
        order = p.order_get(status.order_number)
        job = p.jobs_list(kind="finalize_order").jobs[0]
        health = p.health()

        for name, record in [
                ("vendor", p.vendor_get("v1")), ("product", p.product_get("tea")),
                ("cart", p.cart_get("c1")), ("intent", intent), ("intent_item", intent["items"][0]),
                ("verification", verification), ("order_status", status), ("order", order),
                ("intent_item", order["items"][0]), ("job", job), ("job", p.job_get(job.id)),
                ("maintenance_result", p.maintenance_run()), ("metrics", p.metrics()),
                ("doctor_report", p.doctor()), ("doctor_check", p.doctor().checks[0]),
                ("health", health), ("metrics", health.metrics)]:
            with self.subTest(struct=name):
                self.assertMembers(name, record)
        p.cart_set_item("c2", "cust", "tea", 1)
        self.assertMembers("cart_item", p.cart_get("c2")["items"][0])
        metrics = p.metrics()
        self.assertEqual(list(metrics.jobs), ["available", "running", "completed", "failed",
                                              "canceled"])
        self.assertEqual(list(metrics.intents), ["pending", "succeeded", "failed", "expired",
                                                 "canceled"])

    def test_a_failed_job_shows_its_errors_members(self):
        p = self.p

        @p.job_register("boom")
        def fail(job):
            raise RuntimeError("boom")

        job_id = p.job_enqueue("boom", {"n": 1}, max_attempts=1)
        p.worker_run_once()
        job = p.job_get(job_id)
        self.assertEqual(job.state, "failed")
        self.assertMembers("job_error", job.errors[0])


if __name__ == "__main__":
    unittest.main()
