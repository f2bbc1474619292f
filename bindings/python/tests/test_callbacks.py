# SPDX-License-Identifier: MIT
"""Python callables the library calls on its own threads: the clock, the log,
the gateways' HTTP transport; and order_wait_async. On memory and, with
KBP_TEST_PG_URI, on PostgreSQL (see test_pipeline.py).
"""

import asyncio
import base64
import gc
import hashlib
import hmac
import json
import logging
import os
import sys
import threading
import time
import unittest
import urllib.parse
import uuid
import weakref

import kbpipeline
from kbpipeline import _c
from test_pipeline import MemoryStorage, PostgresStorage

KHALTI_SECRET_ENV = "KBP_PY_TEST_KHALTI_SECRET"
KHALTI_SECRET = "test_secret_key_0123456789abcdef"
KHALTI_BASE = "https://khalti.test/api/v2/"
ESEWA_STATUS = "https://esewa.test/api/epay/transaction/status/"
T0 = 1_700_000_000_000


class Clock:
    """A clock a test moves; fail(exc) makes it raise that, answer(v) return that."""

    def __init__(self, now=T0):
        self.now = now
        self.bad = None
        self.threads = set()

    def __call__(self):
        self.threads.add(threading.get_ident())
        if isinstance(self.bad, BaseException):
            raise self.bad
        return self.now if self.bad is None else self.bad


class FakeKhalti:
    """Khalti's initiate and lookup, answered from Python (an object with send())."""

    def __init__(self, status="Completed"):
        self.status = status
        self.requests = []
        self.payments = {}
        self.lock = threading.Lock()

    def send(self, request):
        with self.lock:
            self.requests.append(request)
            body = json.loads(request.body)
            if request.headers.get("Authorization") != "Key " + KHALTI_SECRET:
                return 401, {}, b'{"detail":"Invalid token.","status_code":401}'
            if request.url == KHALTI_BASE + "epayment/initiate/":
                pidx = "pidx%d%s" % (len(self.payments), uuid.uuid4().hex[:8])
                self.payments[pidx] = body["amount"]
                answer = {"pidx": pidx, "payment_url": "https://test-pay.khalti.test/?pidx=" + pidx,
                          "expires_at": "2030-05-25T16:26:16.471649+05:45", "expires_in": 1800}
                return kbpipeline.HttpResponse(200, {"Content-Type": "application/json"},
                                               json.dumps(answer))
            if request.url == KHALTI_BASE + "epayment/lookup/":
                pidx = body["pidx"]
                return 200, {}, json.dumps({
                    "pidx": pidx, "total_amount": self.payments[pidx], "status": self.status,
                    "transaction_id": "txn" + pidx, "fee": 0, "refunded": False}).encode()
            return 404, {}, b'{"detail":"Not found."}'

    def callback(self, intent):
        """The return redirect's query string, as the shopper's browser brings it."""
        return urllib.parse.urlencode({
            "pidx": intent.gateway_ref, "status": "Completed", "transaction_id": "txn" +
            intent.gateway_ref, "total_amount": intent.amount_minor,
            "purchase_order_id": intent.id})


class CallbackCase:
    """Runs on every storage; subclasses say how to open a pipeline."""

    def setUp(self):
        self.u = uuid.uuid4().hex[:10]
        os.environ[KHALTI_SECRET_ENV] = KHALTI_SECRET

    def open(self, **options):
        """A pipeline with a vendor and a product (self.sku), closed after the test."""
        p = self.open_pipeline(**options)
        self.addCleanup(p.close)
        self.vendor, self.sku = "v-" + self.u, "tea-" + self.u
        p.vendor_put(self.vendor, "Ilam Tea House")
        p.product_put(self.sku, self.vendor, "Ilam tea", 45000, 10)
        return p

    def intent(self, p, gateway="sandbox"):
        cart = "cart-%s-%s" % (self.u, uuid.uuid4().hex[:6])
        p.cart_set_item(cart, "customer-" + self.u, self.sku, 1)
        return p.intent_create(cart, gateway, success_url="https://shop.test/back")

    def checkout(self, p):
        """A paid intent through the sandbox; returns the intent (the job is not yet run)."""
        intent = self.intent(p)
        p.payment_verify("sandbox", p.sandbox_pay(intent.id))
        return intent

    def order_on_a_worker(self, **options):
        """A pipeline and an order a background worker confirmed: (pipeline, intent, status)."""
        p = self.open(**options)
        p.add_sandbox_gateway()
        intent = self.checkout(p)
        with p.worker_start(poll_ms=10):
            status = p.order_wait(intent.id, 20000)
        self.assertEqual(status.stage, "confirmed")
        return p, intent, status

    # -------------------------------------------------------- clock

    def test_the_clock_drives_intent_expiry_through_maintenance(self):
        clock = Clock()
        p = self.open(clock=clock, intent_ttl_ms=60000)
        p.add_sandbox_gateway()
        self.assertEqual(p.now(), T0)
        intent = self.intent(p)
        self.assertEqual((intent.created_at, intent.expires_at), (T0, T0 + 60000))
        self.assertEqual(p.product_get(self.sku).reserved, 1)

        clock.now = T0 + 59999
        self.assertEqual(p.maintenance_run().intents_expired, 0)
        self.assertEqual(p.intent_get(intent.id).status, "pending")
        clock.now = T0 + 60001
        m = p.maintenance_run()
        self.assertTrue(m.ran)
        self.assertEqual(m.intents_expired, 1)
        self.assertEqual(p.intent_get(intent.id).status, "expired")
        self.assertEqual(p.intent_get(intent.id).updated_at, T0 + 60001)
        self.assertEqual(p.product_get(self.sku).reserved, 0)
        self.assertEqual(p.order_status(intent.id).stage, "failed")

    def test_the_clock_is_called_on_worker_threads(self):
        clock = Clock()
        p, _, status = self.order_on_a_worker(clock=clock)
        self.assertEqual(p.order_get(status.order_number).created_at, T0)
        self.assertGreater(len(clock.threads - {threading.get_ident()}), 0)

    def test_a_failing_clock_keeps_its_last_time(self):
        clock, logged = Clock(), []
        p = self.open(clock=clock, log=lambda level, message: logged.append((level, message)))
        p.add_sandbox_gateway()
        clock.now = T0 + 5000
        self.assertEqual(p.now(), T0 + 5000)
        failures = [
            (RuntimeError("clock broke"), "RuntimeError: clock broke"),
            (1.5, "TypeError: the clock must return int milliseconds, not float"),
            (True, "TypeError: the clock must return int milliseconds, not bool"),
            (-1, "ValueError: the clock returned -1, a time before the epoch"),
            (2**70, "OverflowError: "),
        ]
        for bad, text in failures:
            with self.subTest(answer=bad):
                clock.bad, logged[:] = bad, []
                self.assertEqual(p.now(), T0 + 5000)
                self.assertEqual(len(logged), 1)
                self.assertEqual(logged[0][0], "error")
                self.assertTrue(logged[0][1].startswith(
                    "the Python clock failed, the pipeline keeps its last time: " + text),
                    logged[0][1])
        # The pipeline works on at the last time: an intent made now expires from it.
        intent = self.intent(p)
        self.assertEqual((intent.created_at, intent.status), (T0 + 5000, "pending"))
        clock.bad = None
        clock.now = T0 + 7000
        self.assertEqual(p.now(), T0 + 7000)

    def test_a_clock_calling_its_pipeline_keeps_its_last_time(self):
        clock, logged, held = Clock(), [], []

        def reentrant():
            return held[0].now() if len(held) > 1 else clock()

        p = self.open(clock=reentrant, log=lambda level, message: logged.append(message))
        held.extend([p, "armed"])
        self.assertEqual(p.now(), T0)
        self.assertEqual(logged, ["the Python clock failed, the pipeline keeps its last time: "
                                  "RuntimeError: the clock was called from inside a clock "
                                  "callback"])

    def test_a_failing_clock_without_a_log_reports_to_unraisablehook(self):
        clock, seen = Clock(), []
        p = self.open(clock=clock)
        hook, sys.unraisablehook = sys.unraisablehook, seen.append
        self.addCleanup(setattr, sys, "unraisablehook", hook)
        clock.bad = KeyError("gone")
        self.assertEqual(p.now(), T0)
        self.assertEqual([(type(u.exc_value), u.object) for u in seen], [(KeyError, clock)])

    # -------------------------------------------------------- log

    def test_the_log_receives_messages_from_worker_threads(self):
        logged, lock = [], threading.Lock()

        def log(level, message):
            with lock:
                logged.append((level, message, threading.get_ident()))

        _, intent, status = self.order_on_a_worker(log=log)
        created = "order %s created for intent %s" % (status.order_number, intent.id)
        with lock:
            hits = [(level, thread) for level, message, thread in logged if message == created]
        self.assertEqual(len(hits), 1, logged)
        self.assertEqual(hits[0][0], "info")
        self.assertNotEqual(hits[0][1], threading.get_ident())
        # Debug messages are below the default level.
        self.assertFalse([m for _, m, _ in logged if m.startswith("intent ")])

    def test_the_log_level_filters_and_a_logger_receives(self):
        logger = logging.getLogger("kbpipeline.test." + self.u)
        p = self.open(log=logger, log_level="debug")
        p.add_sandbox_gateway()
        with self.assertLogs(logger, logging.DEBUG) as cm:
            intent = self.checkout(p)
            self.assertEqual(p.worker_run_once(), 1)
        self.assertIn("DEBUG:%s:intent %s created for cart %s"
                      % (logger.name, intent.id, intent.cart_id), cm.output)
        self.assertTrue([o for o in cm.output if o.startswith("INFO:") and intent.id in o])

        quiet = []
        q = self.open(log=lambda level, message: quiet.append(level), log_level="warn")
        q.add_sandbox_gateway()
        self.checkout(q)
        self.assertEqual(q.worker_run_once(), 1)
        self.assertEqual(quiet, [])

    def test_the_log_is_never_called_recursively(self):
        logged, nested = [], []
        holder = []

        def log(level, message):
            logged.append(message)
            if not nested and message.startswith("intent "):
                # A call that logs, made from inside the callback.
                nested.append(self.intent(holder[0]).id)

        p = self.open(log=log, log_level="debug")
        holder.append(p)
        p.add_sandbox_gateway()
        first = self.intent(p)
        self.assertEqual(len(nested), 1)
        self.assertEqual(p.intent_get(nested[0]).status, "pending")
        after = self.intent(p)
        made = [m.split()[1] for m in logged if m.startswith("intent ")]
        self.assertEqual(made, [first.id, after.id])

    def test_a_raising_log_is_ignored(self):
        calls = []

        def log(level, message):
            calls.append(message)
            raise RuntimeError("the log is broken")

        p, intent, _ = self.order_on_a_worker(log=log)
        self.assertTrue(calls)
        jobs = p.jobs_list(state="completed", kind="finalize_order")
        self.assertEqual([j.payload["intent_id"] for j in jobs.jobs], [intent.id])

    # -------------------------------------------------------- HTTP transport

    def add_khalti(self, p, transport):
        p.add_khalti_gateway(secret_env=KHALTI_SECRET_ENV, base_url=KHALTI_BASE,
                             transport=transport)

    def test_a_python_transport_serves_khalti(self):
        fake = FakeKhalti()
        p = self.open()
        self.add_khalti(p, fake)
        intent = self.intent(p, "khalti")
        self.assertTrue(intent.gateway_ref.startswith("pidx0"))
        self.assertEqual(intent.redirect["url"],
                         "https://test-pay.khalti.test/?pidx=" + intent.gateway_ref)
        initiate = fake.requests[0]
        self.assertEqual((initiate.method, initiate.url),
                         ("POST", KHALTI_BASE + "epayment/initiate/"))
        self.assertEqual(initiate.headers["Content-Type"], "application/json")
        self.assertEqual((initiate.timeout_ms, initiate.connect_timeout_ms), (10000, 5000))
        self.assertGreater(initiate.max_response_bytes, 0)
        sent = json.loads(initiate.body)
        self.assertEqual((sent["amount"], sent["purchase_order_id"], sent["return_url"]),
                         (45000, intent.id, "https://shop.test/back"))
        self.assertNotIn(KHALTI_SECRET, repr(initiate))

        v = p.payment_verify("khalti", fake.callback(intent))
        self.assertEqual((v.outcome, v.intent_id, v.amount_minor), ("accepted", intent.id, 45000))
        self.assertEqual(v.external_txn_id, "txn" + intent.gateway_ref)
        self.assertEqual(json.loads(fake.requests[1].body), {"pidx": intent.gateway_ref})
        self.assertEqual(p.worker_run_once(), 1)
        status = p.order_wait(intent.id, 5000)
        self.assertEqual(status.stage, "confirmed")
        self.assertEqual(p.order_get(status.order_number).total_minor, 45000)
        self.assertEqual(len(fake.requests), 2)

    def test_a_python_transport_serves_esewa(self):
        asked = []

        def status_api(request):
            asked.append(request)
            q = dict(urllib.parse.parse_qsl(urllib.parse.urlsplit(request.url).query))
            return 200, {}, json.dumps({
                "product_code": q["product_code"], "transaction_uuid": q["transaction_uuid"],
                "total_amount": float(q["total_amount"]), "status": "COMPLETE",
                "ref_id": "REF" + self.u})

        p = self.open()
        p.add_esewa_gateway(secret_env=KHALTI_SECRET_ENV, status_url=ESEWA_STATUS,
                            failure_url="https://shop.test/failed", transport=status_api)
        intent = self.intent(p, "esewa")
        fields = intent.redirect["fields"]
        names = "transaction_code,status,total_amount,transaction_uuid,product_code," \
                "signed_field_names"
        data = {"transaction_code": "000AWEO", "status": "COMPLETE",
                "total_amount": fields["total_amount"], "product_code": fields["product_code"],
                "transaction_uuid": fields["transaction_uuid"], "signed_field_names": names}
        signed = ",".join("%s=%s" % (n, data[n]) for n in names.split(","))
        data["signature"] = base64.b64encode(hmac.new(
            KHALTI_SECRET.encode(), signed.encode(), hashlib.sha256).digest()).decode()
        callback = "data=" + base64.b64encode(json.dumps(data).encode()).decode()

        v = p.payment_verify("esewa", callback)
        self.assertEqual((v.outcome, v.intent_id, v.amount_minor), ("accepted", intent.id, 45000))
        self.assertEqual([(r.method, r.url.split("?")[0], r.body) for r in asked],
                         [("GET", ESEWA_STATUS, b"")])
        self.assertEqual(p.worker_run_once(), 1)
        self.assertEqual(p.order_wait(intent.id, 5000).stage, "confirmed")

    def test_a_raising_transport_is_a_gateway_error(self):
        fake, broken = FakeKhalti(), []

        def transport(request):
            if broken:
                raise broken[0]
            return fake.send(request)

        p = self.open()
        self.add_khalti(p, transport)
        broken.append(ConnectionRefusedError("refused by the test"))
        with self.assertRaises(kbpipeline.GatewayError) as cm:
            self.intent(p, "khalti")
        self.assertEqual(cm.exception.code, _c.KBP_EGATEWAY)
        self.assertEqual(str(cm.exception),
                         "Khalti initiate: ConnectionRefusedError: refused by the test")
        self.assertEqual(p.product_get(self.sku).reserved, 0)
        broken[0] = TimeoutError("too slow")
        with self.assertRaises(kbpipeline.Timeout) as cm:
            self.intent(p, "khalti")
        self.assertEqual(str(cm.exception), "Khalti initiate: Timeout: too slow")
        self.assertEqual(p.product_get(self.sku).reserved, 0)

        # Initiated, then the lookup fails: the payment stays pending, as after a network failure.
        broken.clear()
        intent = self.intent(p, "khalti")
        for bad in (OSError("network is down"), ValueError("parse")):
            with self.subTest(raised=type(bad).__name__):
                broken[:] = [bad]
                with self.assertRaises(kbpipeline.GatewayError) as cm:
                    p.payment_verify("khalti", fake.callback(intent))
                self.assertIn("%s: %s" % (type(bad).__name__, bad), str(cm.exception))
                self.assertEqual(p.intent_get(intent.id).status, "pending")
                self.assertEqual(p.order_status(intent.id).stage, "verifying")
        broken.clear()
        self.assertEqual(p.payment_verify("khalti", fake.callback(intent)).outcome, "accepted")

    def test_a_transport_answering_nonsense_is_a_gateway_error(self):
        answers = [("200", {}, b"{}"), (99, {}, b"{}"), (200, {}, 12), None]
        p = self.open()
        self.add_khalti(p, lambda request: answers[0])
        for answer in list(answers):
            with self.subTest(answer=answer):
                with self.assertRaises(kbpipeline.GatewayError):
                    self.intent(p, "khalti")
                answers.pop(0)
        self.assertEqual(p.product_get(self.sku).reserved, 0)

    def test_a_callback_cannot_close_its_pipeline(self):
        fake, refused, armed, held = FakeKhalti(), [], [], []

        def close_from(where):
            if armed:
                try:
                    held[0].close()
                except kbpipeline.InvalidState as e:
                    refused.append((where, str(e)))

        def clock():
            close_from("clock")
            return T0

        def transport(request):
            close_from("transport")
            return fake.send(request)

        p = self.open(clock=clock, log=lambda level, message: close_from("log"),
                      log_level="debug")
        held.append(p)
        self.add_khalti(p, transport)
        armed.append(True)
        intent = self.intent(p, "khalti")
        armed.clear()
        self.assertEqual({where for where, _ in refused}, {"clock", "log", "transport"})
        self.assertEqual({text for _, text in refused},
                         {"close() cannot run inside a callback of its pipeline: it would wait "
                          "for that callback to return"})
        self.assertFalse(p.closed)
        self.assertEqual(p.intent_get(intent.id).status, "pending")

    # -------------------------------------------------------- lifetime

    def test_the_pipeline_keeps_its_callables(self):
        clock, fake = Clock(), FakeKhalti()
        refs = [weakref.ref(clock), weakref.ref(fake)]
        p = self.open(clock=clock)
        self.add_khalti(p, fake)
        del clock, fake
        gc.collect()
        self.assertTrue(all(r() for r in refs), "a callable died before its pipeline")
        intent = self.intent(p, "khalti")
        self.assertEqual(intent.created_at, T0)
        self.assertEqual(p.payment_verify("khalti", refs[1]().callback(intent)).outcome,
                         "accepted")
        p.close()
        gc.collect()
        self.assertFalse(any(r() for r in refs), "the closed pipeline still holds a callable")

    # -------------------------------------------------------- asyncio

    def test_order_wait_async_resolves_when_confirmed(self):
        p = self.open()
        p.add_sandbox_gateway()
        intent = self.intent(p)
        ticks = []

        async def ticker():
            while True:
                ticks.append(time.monotonic())
                await asyncio.sleep(0.01)

        async def main():
            tick = asyncio.ensure_future(ticker())
            wait = asyncio.ensure_future(p.order_wait_async(intent.id, 20000))
            await asyncio.sleep(0.1)
            self.assertFalse(wait.done())
            p.payment_verify("sandbox", p.sandbox_pay(intent.id))
            with p.worker_start(poll_ms=10):
                status = await wait
            tick.cancel()
            return status

        status = asyncio.run(main())
        self.assertEqual(status.stage, "confirmed")
        self.assertTrue(status.order_number.startswith("ORD-"))
        # The loop ran on while the order was awaited.
        self.assertGreater(len(ticks), 5)

    def test_order_wait_async_times_out(self):
        p = self.open()
        p.add_sandbox_gateway()
        intent = self.intent(p)
        started = time.monotonic()
        with self.assertRaises(kbpipeline.Timeout) as cm:
            asyncio.run(p.order_wait_async(intent.id, 200))
        self.assertGreaterEqual(time.monotonic() - started, 0.19)
        self.assertEqual(cm.exception.status.stage, "verifying")
        with self.assertRaises(kbpipeline.NotFound):
            asyncio.run(p.order_wait_async("pi_missing" + self.u, 200))


class MemoryCallbackTests(MemoryStorage, CallbackCase, unittest.TestCase):
    def test_bad_callbacks_are_refused_at_once(self):
        def broken():
            raise RuntimeError("no time")

        cases = [
            (TypeError, dict(clock="not callable")),
            (TypeError, dict(clock=lambda: 1.5)),
            (TypeError, dict(clock=lambda: None)),
            (ValueError, dict(clock=lambda: -5)),
            (RuntimeError, dict(clock=broken)),
            (TypeError, dict(log=5)),
            (ValueError, dict(log_level="loud")),
            (TypeError, dict(log_level=2)),
        ]
        for exc, options in cases:
            with self.subTest(options=options):
                self.assertRaises(exc, kbpipeline.Pipeline, **options)
        p = self.open()
        with self.assertRaises(TypeError):
            p.add_khalti_gateway(secret_env=KHALTI_SECRET_ENV, transport="not callable")
        with self.assertRaises(TypeError):
            p.add_esewa_gateway(secret_env=KHALTI_SECRET_ENV, transport=object())
        # Nothing was registered by the refused calls.
        with self.assertRaises(kbpipeline.NotFound):
            self.intent(p, "khalti")


class PostgresCallbackTests(PostgresStorage, CallbackCase, unittest.TestCase):
    """The same on PostgreSQL."""


if __name__ == "__main__":
    unittest.main()
