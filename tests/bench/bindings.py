#!/usr/bin/env python3
# SPDX-License-Identifier: MIT
"""One shopper's orders through the Python binding, on the memory backend: the
same steps per order as kbp-bench's inline scenario (cart_set_item,
intent_create, sandbox_pay, payment_verify, worker_run_once, order_wait).
Prints one JSON object. bindings.sh runs it beside the C bench.

    bindings.py ORDERS
"""

import json
import sys
import time

import kbpipeline

N_SKUS = 64


def main():
    orders = int(sys.argv[1]) if len(sys.argv) > 1 else 20000
    with kbpipeline.Pipeline(storage="memory:") as p:
        p.add_sandbox_gateway()
        p.vendor_put("bench-vendor", "Bench Vendor")
        for i in range(N_SKUS):
            p.product_put("bench-sku-%02d" % i, "bench-vendor", "Bench SKU", 150000 + i, 10**9)

        def buy(i):
            p.cart_set_item("bench-cart-0", "bench-customer-0", "bench-sku-%02d" % (i % N_SKUS), 1)
            intent = p.intent_create("bench-cart-0", "sandbox")
            p.payment_verify("sandbox", p.sandbox_pay(intent.id))
            p.worker_run_once("bench", 64)
            if p.order_wait(intent.id, 10000).stage != "confirmed":
                raise SystemExit("order of %s not confirmed" % intent.id)

        for i in range(orders // 10):
            buy(i)
        t0 = time.perf_counter()
        for i in range(orders):
            buy(i)
        seconds = time.perf_counter() - t0
    print(json.dumps({"binding": "python", "orders": orders, "seconds": round(seconds, 3),
                      "orders_per_s": round(orders / seconds)}))


if __name__ == "__main__":
    main()
