#!/usr/bin/env python3
# SPDX-License-Identifier: MIT
"""One shopper's orders through the Python binding: the same steps per order
as bindings.c (cart_set_item, intent_create, sandbox_pay, payment_verify,
worker_run_once, order_wait). Prints one JSON object. bindings.sh runs it
beside the C bench.

On memory it also measures a Python clock callback's cost per order: the
same orders on a pipeline whose clock is a Python callable, in rounds
interleaved with the baseline's (the system clock, from C) so that the
machine's load touches both alike. "orders_per_s" is the baseline's;
"python_clock" holds the other's figures, the difference per order, and,
less noisy on a busy machine, the cost of one clock call (pipeline.now()
timed on both) times the calls an order makes.

    bindings.py ORDERS [STORAGE]      (STORAGE: memory: or a PostgreSQL URI)
"""

import json
import os
import statistics
import sys
import time

import kbpipeline

N_SKUS = 64
ROUNDS = 3
NOW_CALLS = 200000


class CountingClock:
    """The system clock, from Python, counting its calls."""

    def __init__(self):
        self.calls = 0

    def __call__(self):
        self.calls += 1
        return time.time_ns() // 1000000


def run(orders, clock=None, storage="memory:"):
    """(seconds for ORDERS orders after a warm-up of a tenth as many, ns per now() call)"""
    schema = None if storage == "memory:" else "kbp_bench_py_%d" % os.getpid()
    if schema:
        kbpipeline.migrate(storage, schema)
    with kbpipeline.Pipeline(storage=storage, storage_schema=schema, clock=clock) as p:
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
        now = p.now
        t0 = time.perf_counter_ns()
        for _ in range(NOW_CALLS):
            now()
        return seconds, (time.perf_counter_ns() - t0) / NOW_CALLS


def main():
    orders = int(sys.argv[1]) if len(sys.argv) > 1 else 20000
    storage = sys.argv[2] if len(sys.argv) > 2 else "memory:"
    if storage != "memory:":
        seconds, _ = run(orders, storage=storage)
        print(json.dumps({"binding": "python", "storage": "postgresql", "orders": orders,
                          "seconds": round(seconds, 3), "orders_per_s": round(orders / seconds),
                          "us_per_order": round(seconds * 1e6 / orders, 1)}))
        return
    base, hooked = [], []
    clock = CountingClock()
    for r in range(ROUNDS):
        # Which goes first alternates, so that neither always meets a warmer machine.
        pair = [(base, None), (hooked, clock)]
        for times, c in pair[::-1 if r % 2 else 1]:
            times.append(run(orders, c))
    seconds, with_clock = (statistics.median(t for t, _ in r) for r in (base, hooked))
    now_ns, now_hooked_ns = (statistics.median(n for _, n in r) for r in (base, hooked))
    # The clock counted its now() calls too.
    calls = (clock.calls - ROUNDS * NOW_CALLS) / (ROUNDS * (orders + orders // 10))
    cost = {
        "orders_per_s": round(orders / with_clock),
        "us_per_order": round((with_clock - seconds) / orders * 1e6, 2),
        "clock_calls_per_order": round(calls, 1),
        "now_ns": round(now_ns), "now_with_python_clock_ns": round(now_hooked_ns),
        "us_per_order_from_now": round(calls * (now_hooked_ns - now_ns) / 1000, 2),
        "rounds": ROUNDS,
    }
    print(json.dumps({"binding": "python", "storage": "memory", "orders": orders,
                      "seconds": round(seconds, 3), "orders_per_s": round(orders / seconds),
                      "us_per_order": round(seconds * 1e6 / orders, 1), "python_clock": cost}))
    # bindings.sh keeps stdout for its table: the clock's figures are shown here.
    print("python clock callback: %+.2f us per order measured, %d orders/s against %d with "
          "the system clock; %s calls per order at %+d ns each (now(): %d ns against %d) = "
          "%.2f us per order; medians of %d interleaved rounds"
          % (cost["us_per_order"], cost["orders_per_s"], round(orders / seconds),
             cost["clock_calls_per_order"], now_hooked_ns - now_ns, now_hooked_ns, now_ns,
             cost["us_per_order_from_now"], ROUNDS), file=sys.stderr)


if __name__ == "__main__":
    main()
