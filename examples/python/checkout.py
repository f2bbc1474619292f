# SPDX-License-Identifier: MIT
"""A minimal checkout through the kbpipeline Python package: one product, one
cart, paid through the sandbox gateway, printing each stage (the same stages
as examples/c/checkout.c). With the package installed: python3 checkout.py
"""

import kbpipeline

with kbpipeline.Pipeline(storage="memory:") as p:
    p.add_sandbox_gateway()
    p.vendor_put("ilam-tea", "Ilam Tea House")
    p.product_put("tea-250g", "ilam-tea", "Ilam tea, 250 g", price_minor=45000, on_hand=10)
    version = p.cart_set_item("cart-1", "customer-1", "tea-250g", 2)
    print("cart cart-1: 2 x tea-250g, version %d" % version)

    intent = p.intent_create("cart-1", "sandbox", idempotency_key="checkout-cart-1")
    print("intent %s: %d %s reserved" % (intent.id, intent.amount_minor, intent.currency))

    # The shopper pays at intent.redirect["url"]; the gateway's redirect brings this callback back.
    callback = p.sandbox_pay(intent.id)
    print("payment: completed at sandbox, callback of %d bytes" % len(callback))

    v = p.payment_verify("sandbox", callback)
    print("verification: %s, intent %s" % (v.outcome, v.intent_status))

    # A worker turns the verified payment into an order; order_wait raises
    # kbpipeline.Timeout if it is not confirmed or failed in time.
    p.worker_run_once()
    status = p.order_wait(intent.id, timeout_ms=5000)
    print("order %s: %s" % (status.order_number, status.stage))
    if status.stage != "confirmed":
        raise SystemExit(1)
