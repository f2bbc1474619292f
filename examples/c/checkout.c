/* SPDX-License-Identifier: MIT */
/*
 * A minimal checkout: one product, one cart, paid through the sandbox gateway,
 * printing each stage. With the library installed, build and run it with
 *
 *   cc -o checkout checkout.c $(pkg-config --cflags --libs kbpipeline)
 *   ./checkout
 */
#include <kbpipeline.h>
#include <stdio.h>
#include <string.h>

static int fail(const char *what)
{
	fprintf(stderr, "%s: %s\n", what, kbp_error_last()->message);
	return 1;
}

int main(void)
{
	kbp_product_spec tea = KBP_PRODUCT_SPEC_INIT;
	kbp_intent_request req = KBP_INTENT_REQUEST_INIT;
	kbp_pipeline *p;
	int64_t cart_version;
	kbp_intent *intent;
	kbp_verification *v;
	kbp_order_status *status;
	char *callback;
	int ran;

	if (kbp_pipeline_open(&p, NULL) || kbp_gateway_add_sandbox(p, NULL))
		return fail("open");
	tea.id = "tea-250g";
	tea.vendor_id = "ilam-tea";
	tea.name = "Ilam tea, 250 g";
	tea.price_minor = 45000; /* NPR 450.00 */
	tea.on_hand = 10;
	if (kbp_vendor_put(p, "ilam-tea", "Ilam Tea House") || kbp_product_put(p, &tea) ||
	    kbp_cart_set_item(&cart_version, p, "cart-1", "customer-1", "tea-250g", 2))
		return fail("catalog");
	printf("cart cart-1: 2 x tea-250g, version %lld\n", (long long)cart_version);

	req.cart_id = "cart-1";
	req.gateway = "sandbox";
	req.idempotency_key = "checkout-cart-1";
	if (kbp_intent_create(&intent, p, &req))
		return fail("intent");
	printf("intent %s: %lld %s reserved\n", intent->id, (long long)intent->amount_minor,
	       intent->currency);

	/* The shopper pays at intent->redirect; the gateway's redirect brings this callback back. */
	if (kbp_sandbox_pay(&callback, p, "sandbox", intent->id, KBP_SANDBOX_COMPLETED, -1))
		return fail("pay");
	printf("payment: completed at sandbox, callback of %zu bytes\n", strlen(callback));

	if (kbp_payment_verify(&v, p, "sandbox", callback, strlen(callback)))
		return fail("verify");
	printf("verification: %s, intent %s\n", kbp_verification_outcome_name(v->outcome),
	       kbp_intent_status_name(v->intent_status));

	/* A worker turns the verified payment into an order. */
	if (kbp_worker_run_once(&ran, p, "example-worker", 10) ||
	    kbp_order_wait(&status, p, intent->id, 5000))
		return fail("order");
	printf("order %s: %s\n", status->order_number ? status->order_number : "(none)",
	       kbp_order_stage_name(status->stage));
	if (status->stage != KBP_STAGE_CONFIRMED)
		return 1;

	kbp_order_status_free(status);
	kbp_verification_free(v);
	kbp_free(callback);
	kbp_intent_free(intent);
	kbp_pipeline_close(p);
	return 0;
}
