/* SPDX-License-Identifier: MIT */
/*
 * The C side of bindings.sh: one shopper's orders through the C API, the
 * same calls per order as bindings.py and bindings.js make (cart_set_item,
 * intent_create, sandbox_pay, payment_verify, worker_run_once, the order's
 * status), on memory or on PostgreSQL, so that each binding's cost per
 * order is measured against the same work. Prints one JSON object.
 *
 *   kbp-bench-bindings ORDERS [STORAGE]     (STORAGE: memory: or a PostgreSQL URI)
 */
#include <kbpipeline.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#define N_SKUS 64

static double now_s(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

static void sku_name(char *out, size_t size, long i)
{
	snprintf(out, size, "bench-sku-%02ld", i % N_SKUS);
}

static int fail(const char *what)
{
	fprintf(stderr, "kbp-bench-bindings: %s: %s\n", what, kbp_error_last()->message);
	return -1;
}

static int stock(kbp_pipeline *p)
{
	kbp_product_spec s = KBP_PRODUCT_SPEC_INIT;
	char sku[32];

	if (kbp_gateway_add_sandbox(p, NULL) || kbp_vendor_put(p, "bench-vendor", "Bench Vendor"))
		return fail("setting up");
	s.vendor_id = "bench-vendor";
	s.name = "Bench SKU";
	s.on_hand = 1000000000;
	s.id = sku;
	for (long i = 0; i < N_SKUS; i++) {
		sku_name(sku, sizeof(sku), i);
		s.price_minor = 150000 + i;
		if (kbp_product_put(p, &s))
			return fail("stocking");
	}
	return 0;
}

/* One order, from the cart to its confirmed status. */
static int buy(kbp_pipeline *p, long i)
{
	kbp_intent_request req = KBP_INTENT_REQUEST_INIT;
	kbp_intent *intent = NULL;
	kbp_verification *v = NULL;
	kbp_order_status *st = NULL;
	char sku[32], *callback = NULL;
	int64_t version;
	int ran, ok;

	sku_name(sku, sizeof(sku), i);
	req.cart_id = "bench-cart-0";
	req.gateway = "sandbox";
	ok = kbp_cart_set_item(&version, p, "bench-cart-0", "bench-customer-0", sku, 1) == 0 &&
	     kbp_intent_create(&intent, p, &req) == 0 &&
	     kbp_sandbox_pay(&callback, p, "sandbox", intent->id, KBP_SANDBOX_COMPLETED, -1) == 0 &&
	     kbp_payment_verify(&v, p, "sandbox", callback, strlen(callback)) == 0 &&
	     kbp_worker_run_once(&ran, p, "bench", 64) == 0 &&
	     kbp_order_status_get(&st, p, intent->id) == 0 && st->stage == KBP_STAGE_CONFIRMED;
	if (!ok)
		fail("an order");
	kbp_order_status_free(st);
	kbp_verification_free(v);
	kbp_free(callback);
	kbp_intent_free(intent);
	return ok ? 0 : -1;
}

int main(int argc, char **argv)
{
	long orders = argc > 1 ? atol(argv[1]) : 20000;
	const char *storage = argc > 2 ? argv[2] : "memory:";
	kbp_options o = KBP_OPTIONS_INIT;
	kbp_pipeline *p = NULL;
	char schema[64];
	double t0, seconds;
	int version, rc = 1;

	snprintf(schema, sizeof(schema), "kbp_bench_c_%ld", (long)getpid());
	o.storage = storage;
	o.storage_schema = strcmp(storage, "memory:") ? schema : NULL;
	if (orders < 1) {
		fprintf(stderr, "usage: kbp-bench-bindings ORDERS [STORAGE]\n");
		return 2;
	}
	if (o.storage_schema && kbp_migrate(&version, storage, schema)) {
		fail("migrating");
		return 1;
	}
	if (kbp_pipeline_open(&p, &o) || stock(p))
		goto out;
	for (long i = 0; i < orders / 10; i++)
		if (buy(p, i))
			goto out;
	t0 = now_s();
	for (long i = 0; i < orders; i++)
		if (buy(p, i))
			goto out;
	seconds = now_s() - t0;
	printf("{\"binding\": \"c\", \"storage\": \"%s\", \"orders\": %ld, \"seconds\": %.3f, "
	       "\"orders_per_s\": %.0f, \"us_per_order\": %.1f}\n",
	       o.storage_schema ? "postgresql" : "memory", orders, seconds, orders / seconds,
	       seconds * 1e6 / orders);
	rc = 0;
out:
	kbp_pipeline_close(p);
	return rc;
}
