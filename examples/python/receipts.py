# SPDX-License-Identifier: MIT
"""The README's Python example: a checkout with a job handler written in
Python, and an out-of-stock refusal as an exception. python3 receipts.py"""

import kbpipeline

with kbpipeline.Pipeline(storage="memory:") as p:
    p.add_sandbox_gateway()
    p.vendor_put("ilam-tea", "Ilam Tea House")
    p.product_put("tea-250g", "ilam-tea", "Ilam tea, 250 g", 45000, 10)   # price in paisa, stock
    p.cart_set_item("cart-1", "customer-1", "tea-250g", 2)

    intent = p.intent_create("cart-1", "sandbox", idempotency_key="checkout-cart-1")
    callback = p.sandbox_pay(intent.id)              # the shopper pays at the gateway
    p.payment_verify("sandbox", callback)            # the redirect comes back

    @p.job_register("send_receipt")                  # your own jobs, written in Python
    def send_receipt(job):
        print("receipt for", job.payload["intent_id"])

    p.job_enqueue("send_receipt", {"intent_id": intent.id})
    batch = p.jobs_enqueue([                         # many jobs in one storage step;
        {"kind": "send_receipt", "payload": {"intent_id": intent.id}, "unique_key": "copy"},
        {"kind": "send_receipt", "payload": {"intent_id": intent.id}, "unique_key": "copy"},
    ])                                               # one live job per unique key
    print("batch:", batch.created, "new of", len(batch.ids))
    p.worker_run_once()
    status = p.order_wait(intent.id, timeout_ms=5000)
    print(status.stage, status.order_number)

    try:
        p.cart_set_item("cart-2", "customer-2", "tea-250g", 50)
        p.intent_create("cart-2")
    except kbpipeline.OutOfStock as e:
        print("refused:", e.code, e.message)
