/* SPDX-License-Identifier: MIT */
/* Payment intents: reservation, snapshot, idempotency, all-or-nothing, bad input. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <kbpipeline/sys/gateway.h>
#include "fixture.h"

static int64_t pending_intents(fx *f)
{
	kbp_metrics m;
	fx_metrics(f, &m);
	return m.intents[KBP_INTENT_PENDING];
}

static int create(kbp_intent **out, fx *f, const char *cart, const char *key, const char *ok_url)
{
	kbp_intent_request req = KBP_INTENT_REQUEST_INIT;
	req.cart_id = cart;
	req.gateway = FX_GATEWAY;
	req.idempotency_key = key;
	req.success_url = ok_url;
	return kbp_intent_create(out, f->p, &req);
}

START_TEST(create_reserves_and_snapshots)
{
	fx f;
	const char *a, *b, *cart;
	kbp_intent *in, *got;
	kbp_cart *c = NULL;
	cJSON *redirect;
	const cJSON *method, *url;

	fx_open(&f);
	a = fx_product(&f, "a", 1250, 10);
	b = fx_product(&f, "b", 99, 4);
	cart = fx_cart(&f, a, 3);
	fx_cart_set(&f, cart, b, 4);

	in = fx_intent(&f, cart);
	ck_assert_int_eq(strncmp(in->id, "pi_", 3), 0);
	ck_assert_str_eq(in->cart_id, cart);
	ck_assert_str_eq(in->customer_id, fx_customer_of(&f, cart));
	ck_assert_int_eq(in->cart_version, 2);
	ck_assert_uint_eq(in->n_items, 2);
	ck_assert_str_eq(in->items[0].sku, a);
	ck_assert_str_eq(in->items[0].vendor_id, f.vendor);
	ck_assert_int_eq(in->items[0].qty, 3);
	ck_assert_int_eq(in->items[0].unit_price_minor, 1250);
	ck_assert_str_eq(in->items[1].sku, b);
	ck_assert_int_eq(in->items[1].qty, 4);
	ck_assert_int_eq(in->items[1].unit_price_minor, 99);
	ck_assert_int_eq(in->amount_minor, 3 * 1250 + 4 * 99);
	ck_assert_str_eq(in->currency, "NPR");
	ck_assert_str_eq(in->gateway, FX_GATEWAY);
	ck_assert_ptr_nonnull(in->gateway_ref);
	ck_assert_ptr_nonnull(in->idempotency_key);
	ck_assert_ptr_null(in->status_reason);
	ck_assert_int_eq(in->needs_refund, 0);
	ck_assert_int_eq(in->created_at, f.start);
	ck_assert_int_eq(in->expires_at, f.start + FX_TTL_MS);

	ck_assert_ptr_nonnull(in->redirect);
	redirect = cJSON_Parse(in->redirect);
	ck_assert_ptr_nonnull(redirect);
	method = cJSON_GetObjectItemCaseSensitive(redirect, "method");
	url = cJSON_GetObjectItemCaseSensitive(redirect, "url");
	ck_assert(cJSON_IsString(method));
	ck_assert(strcmp(method->valuestring, "GET") == 0 || strcmp(method->valuestring, "POST") == 0);
	ck_assert(cJSON_IsString(url));
	ck_assert(strncmp(url->valuestring, "http://", 7) == 0 || strncmp(url->valuestring, "https://", 8) == 0);
	cJSON_Delete(redirect);

	ck_assert_int_eq(fx_reserved(&f, a), 3);
	ck_assert_int_eq(fx_reserved(&f, b), 4);
	ck_assert_int_eq(fx_on_hand(&f, a), 10);

	got = fx_intent_get(&f, in->id);
	ck_assert_str_eq(got->id, in->id);
	ck_assert_int_eq(got->amount_minor, in->amount_minor);
	ck_assert_str_eq(got->gateway_ref, in->gateway_ref);
	ck_assert_uint_eq(got->n_items, 2);
	ck_assert_int_eq(got->expires_at, in->expires_at);
	kbp_intent_free(got);

	/* The cart itself is left alone until the order exists. */
	CK_OK(kbp_cart_get(&c, f.p, cart));
	ck_assert_uint_eq(c->n_items, 2);
	kbp_cart_free(c);
	kbp_intent_free(in);
	fx_close(&f);
}
END_TEST

START_TEST(same_key_same_intent)
{
	fx f;
	const char *sku, *cart, *key;
	kbp_intent *first = NULL, *again = NULL;
	int64_t before;

	fx_open(&f);
	sku = fx_product(&f, "a", 500, 10);
	cart = fx_cart(&f, sku, 2);
	key = fx_id(&f, "key");
	CK_OK(create(&first, &f, cart, key, "https://shop.example/ok"));
	before = pending_intents(&f);
	CK_OK(create(&again, &f, cart, key, "https://shop.example/ok"));
	ck_assert_str_eq(again->id, first->id);
	ck_assert_str_eq(again->gateway_ref, first->gateway_ref);
	ck_assert_int_eq(again->amount_minor, first->amount_minor);
	ck_assert_str_eq(again->idempotency_key, key);
	ck_assert_int_eq(fx_reserved(&f, sku), 2);
	ck_assert_int_eq(pending_intents(&f), before);
	kbp_intent_free(first);
	kbp_intent_free(again);
	fx_close(&f);
}
END_TEST

START_TEST(same_key_different_parameters_conflict)
{
	fx f;
	const char *sku, *cart, *other, *key;
	kbp_intent *first = NULL, *bad = (kbp_intent *)&bad;
	kbp_intent_request req = KBP_INTENT_REQUEST_INIT;
	kbp_sandbox_options so = KBP_SANDBOX_OPTIONS_INIT;
	int64_t before;

	fx_open(&f);
	so.name = "sandbox2";
	CK_OK(kbp_gateway_add_sandbox(f.p, &so));
	sku = fx_product(&f, "a", 500, 10);
	cart = fx_cart(&f, sku, 2);
	other = fx_cart(&f, sku, 3);
	key = fx_id(&f, "key");
	CK_OK(create(&first, &f, cart, key, "https://shop.example/ok"));
	before = pending_intents(&f);

	CK_RC(create(&bad, &f, other, key, "https://shop.example/ok"), KBP_ECONFLICT);
	ck_assert_ptr_null(bad);
	CK_RC(create(&bad, &f, cart, key, "https://shop.example/other"), KBP_ECONFLICT);
	CK_RC(create(&bad, &f, cart, key, NULL), KBP_ECONFLICT);
	req.cart_id = cart;
	req.gateway = "sandbox2";
	req.idempotency_key = key;
	req.success_url = "https://shop.example/ok";
	CK_RC(kbp_intent_create(&bad, f.p, &req), KBP_ECONFLICT);
	req.gateway = FX_GATEWAY;
	req.failure_url = "https://shop.example/fail";
	CK_RC(kbp_intent_create(&bad, f.p, &req), KBP_ECONFLICT);

	ck_assert_int_eq(fx_reserved(&f, sku), 2);
	ck_assert_int_eq(pending_intents(&f), before);
	kbp_intent_free(first);
	fx_close(&f);
}
END_TEST

START_TEST(fresh_keys_make_fresh_intents)
{
	fx f;
	const char *sku, *cart;
	kbp_intent *a = NULL, *b = NULL;

	fx_open(&f);
	sku = fx_product(&f, "a", 500, 10);
	cart = fx_cart(&f, sku, 2);
	CK_OK(create(&a, &f, cart, NULL, NULL));
	CK_OK(create(&b, &f, cart, NULL, NULL));
	ck_assert_str_ne(a->id, b->id);
	ck_assert_ptr_nonnull(a->idempotency_key);
	ck_assert_ptr_nonnull(b->idempotency_key);
	ck_assert_str_ne(a->idempotency_key, b->idempotency_key);
	ck_assert_str_ne(a->gateway_ref, b->gateway_ref);
	ck_assert_int_eq(fx_reserved(&f, sku), 4);
	kbp_intent_free(a);
	kbp_intent_free(b);
	fx_close(&f);
}
END_TEST

START_TEST(short_line_reserves_nothing)
{
	fx f;
	const char *a, *b, *c, *cart;
	kbp_intent *in = (kbp_intent *)&in;
	int64_t before;

	fx_open(&f);
	a = fx_product(&f, "a", 100, 10);
	b = fx_product(&f, "b", 100, 2);
	c = fx_product(&f, "c", 100, 10);
	cart = fx_cart(&f, a, 5);
	fx_cart_set(&f, cart, b, 3);   /* one short, in the middle */
	fx_cart_set(&f, cart, c, 5);
	before = pending_intents(&f);

	CK_RC(create(&in, &f, cart, fx_id(&f, "k"), NULL), KBP_EOUTOFSTOCK);
	ck_assert_ptr_null(in);
	ck_assert_msg(strstr(fx_last_message(), b) != NULL, "message \"%s\" does not name %s",
	              fx_last_message(), b);
	ck_assert_int_eq(fx_reserved(&f, a), 0);
	ck_assert_int_eq(fx_reserved(&f, b), 0);
	ck_assert_int_eq(fx_reserved(&f, c), 0);
	ck_assert_int_eq(pending_intents(&f), before);

	/* Exactly what is available is fine. */
	fx_cart_set(&f, cart, b, 2);
	in = fx_intent(&f, cart);
	ck_assert_int_eq(fx_reserved(&f, b), 2);
	ck_assert_int_eq(fx_reserved(&f, a), 5);
	kbp_intent_free(in);

	/* Reserved stock counts: a second cart finds b short now. */
	CK_RC(create(&in, &f, fx_cart(&f, b, 1), NULL, NULL), KBP_EOUTOFSTOCK);
	ck_assert_int_eq(fx_reserved(&f, b), 2);
	fx_close(&f);
}
END_TEST

START_TEST(cart_problems_refused_without_writes)
{
	fx f;
	const char *a, *off, *usd, *zero, *huge, *cart;
	kbp_intent *in = (kbp_intent *)&in;
	int64_t before;

	fx_open(&f);
	a = fx_product(&f, "a", 100, 10);
	off = fx_product(&f, "off", 100, 10);
	zero = fx_product(&f, "zero", 0, 10);
	huge = fx_product(&f, "huge", KBP_PRICE_MAX, INT64_C(1000000000000));
	{
		kbp_product_spec spec = KBP_PRODUCT_SPEC_INIT;
		spec.id = usd = fx_id(&f, "usd");
		spec.vendor_id = f.vendor;
		spec.name = "Dollar thing";
		spec.price_minor = 100;
		spec.currency = "USD";
		spec.on_hand = 10;
		CK_OK(kbp_product_put(f.p, &spec));
	}
	before = pending_intents(&f);

	CK_RC(create(&in, &f, fx_id(&f, "no-such-cart"), NULL, NULL), KBP_ENOTFOUND);
	ck_assert_ptr_null(in);

	cart = fx_cart(&f, a, 1);
	CK_OK(kbp_cart_remove_item(NULL, f.p, cart, fx_customer_of(&f, cart), a));
	CK_RC(create(&in, &f, cart, NULL, NULL), KBP_EEMPTY);

	cart = fx_cart(&f, a, 2);
	fx_cart_set(&f, cart, off, 1);
	CK_OK(kbp_product_set_active(f.p, off, 0));   /* deactivated before the intent */
	CK_RC(create(&in, &f, cart, NULL, NULL), KBP_EINACTIVE);

	cart = fx_cart(&f, a, 1);
	fx_cart_set(&f, cart, usd, 1);
	CK_RC(create(&in, &f, cart, NULL, NULL), KBP_EINVAL);

	CK_RC(create(&in, &f, fx_cart(&f, zero, 3), NULL, NULL), KBP_EINVAL);

	/* 1e14 * 1e6 does not fit in int64; nor do two lines of 1e14 * 5e4 + 5e4. */
	CK_RC(create(&in, &f, fx_cart(&f, huge, KBP_QTY_MAX), NULL, NULL), KBP_EOVERFLOW);
	cart = fx_cart(&f, huge, 50000);
	{
		const char *huge2 = fx_product(&f, "huge2", KBP_PRICE_MAX, 100000);
		fx_cart_set(&f, cart, huge2, 50000);
		CK_RC(create(&in, &f, cart, NULL, NULL), KBP_EOVERFLOW);
		ck_assert_int_eq(fx_reserved(&f, huge2), 0);
	}
	{
		/* Totals stop at KBP_AMOUNT_MAX (2^53 - 1), which every JSON number holds exactly. */
		const char *big = fx_product(&f, "big", KBP_PRICE_MAX, 1000);
		CK_OK(create(&in, &f, fx_cart(&f, big, 90), NULL, NULL));
		ck_assert_int_eq(in->amount_minor, 90 * KBP_PRICE_MAX);
		CK_OK(kbp_intent_cancel(f.p, in->id));
		kbp_intent_free(in);
		CK_RC(create(&in, &f, fx_cart(&f, big, 91), NULL, NULL), KBP_EOVERFLOW);
		ck_assert_int_eq(fx_reserved(&f, big), 0);
	}

	{
		kbp_intent_request req = KBP_INTENT_REQUEST_INIT;
		req.cart_id = fx_cart(&f, a, 1);
		req.gateway = "no-such-gateway";
		CK_RC(kbp_intent_create(&in, f.p, &req), KBP_ENOTFOUND);
	}

	ck_assert_int_eq(fx_reserved(&f, a), 0);
	ck_assert_int_eq(fx_reserved(&f, off), 0);
	ck_assert_int_eq(fx_reserved(&f, usd), 0);
	ck_assert_int_eq(fx_reserved(&f, zero), 0);
	ck_assert_int_eq(fx_reserved(&f, huge), 0);
	ck_assert_int_eq(pending_intents(&f), before);
	fx_close(&f);
}
END_TEST

START_TEST(request_bad_input_writes_nothing)
{
	fx f;
	const char *sku, *cart;
	kbp_intent *in = (kbp_intent *)&in;
	kbp_intent_request good = KBP_INTENT_REQUEST_INIT, r;
	char *long_key, *long_url, *max_url;
	int64_t before;

	fx_open(&f);
	sku = fx_product(&f, "a", 100, 10);
	cart = fx_cart(&f, sku, 1);
	long_key = fx_repeat('k', KBP_ID_MAX + 1);
	long_url = fx_repeat('u', KBP_URL_MAX + 1);
	memcpy(long_url, "https://", 8);
	max_url = fx_repeat('u', KBP_URL_MAX);
	memcpy(max_url, "https://", 8);
	good.cart_id = cart;
	good.gateway = FX_GATEWAY;
	before = pending_intents(&f);

	CK_RC(kbp_intent_create(&in, NULL, &good), KBP_EINVAL);
	ck_assert_ptr_null(in);
	CK_RC(kbp_intent_create(NULL, f.p, &good), KBP_EINVAL);
	CK_RC(kbp_intent_create(&in, f.p, NULL), KBP_EINVAL);
#define BAD(field, value, code) do { r = good; r.field = value; CK_RC(kbp_intent_create(&in, f.p, &r), code); ck_assert_ptr_null(in); } while (0)
	BAD(version, 2, KBP_EVERSION);
	BAD(version, 0, KBP_EVERSION);
	BAD(cart_id, NULL, KBP_EINVAL);
	BAD(cart_id, "", KBP_EINVAL);
	BAD(cart_id, "cart' OR '1'='1", KBP_EINVAL);
	BAD(gateway, NULL, KBP_EINVAL);
	BAD(idempotency_key, "", KBP_EINVAL);
	BAD(idempotency_key, "key with spaces", KBP_EINVAL);
	BAD(idempotency_key, long_key, KBP_ETOOBIG);
	BAD(success_url, "ftp://shop.example/ok", KBP_EINVAL);
	BAD(success_url, "shop.example/ok", KBP_EINVAL);
	BAD(success_url, "https://shop.example/a b", KBP_EINVAL);
	BAD(success_url, "https://shop.example/\n", KBP_EINVAL);
	BAD(success_url, long_url, KBP_ETOOBIG);
	BAD(failure_url, "javascript:alert(1)", KBP_EINVAL);
	BAD(failure_url, long_url, KBP_ETOOBIG);
#undef BAD
	ck_assert_int_eq(fx_reserved(&f, sku), 0);
	ck_assert_int_eq(pending_intents(&f), before);

	r = good;
	r.success_url = max_url;
	r.failure_url = "http://shop.example/fail";
	CK_OK(kbp_intent_create(&in, f.p, &r));
	kbp_intent_free(in);
	free(long_key);
	free(long_url);
	free(max_url);
	fx_close(&f);
}
END_TEST

START_TEST(get_and_cancel)
{
	fx f;
	const char *sku;
	kbp_intent *in, *got = (kbp_intent *)&got;
	kbp_order_status *st;

	fx_open(&f);
	sku = fx_product(&f, "a", 100, 10);
	in = fx_intent(&f, fx_cart(&f, sku, 4));
	ck_assert_int_eq(fx_reserved(&f, sku), 4);

	fx_advance(&f, 1000);
	CK_OK(kbp_intent_cancel(f.p, in->id));
	got = fx_intent_get(&f, in->id);
	ck_assert_int_eq(got->status, KBP_INTENT_CANCELED);
	ck_assert_ptr_nonnull(got->status_reason);
	ck_assert_str_eq(got->status_reason, "canceled");
	ck_assert_int_eq(got->updated_at, f.start + 1000);
	kbp_intent_free(got);
	ck_assert_int_eq(fx_reserved(&f, sku), 0);
	ck_assert_int_eq(fx_on_hand(&f, sku), 10);

	CK_RC(kbp_intent_cancel(f.p, in->id), KBP_ESTATE);
	ck_assert_int_eq(fx_reserved(&f, sku), 0);
	st = fx_status(&f, in->id);
	ck_assert_int_eq(st->stage, KBP_STAGE_FAILED);
	ck_assert_str_eq(st->reason, "canceled");
	kbp_order_status_free(st);

	CK_RC(kbp_intent_cancel(f.p, fx_id(&f, "pi_missing")), KBP_ENOTFOUND);
	CK_RC(kbp_intent_cancel(NULL, in->id), KBP_EINVAL);
	CK_RC(kbp_intent_cancel(f.p, NULL), KBP_EINVAL);
	CK_RC(kbp_intent_cancel(f.p, "pi bad"), KBP_EINVAL);

	got = (kbp_intent *)&got;
	CK_RC(kbp_intent_get(&got, f.p, fx_id(&f, "pi_missing")), KBP_ENOTFOUND);
	ck_assert_ptr_null(got);
	CK_RC(kbp_intent_get(NULL, f.p, in->id), KBP_EINVAL);
	CK_RC(kbp_intent_get(&got, NULL, in->id), KBP_EINVAL);
	CK_RC(kbp_intent_get(&got, f.p, ""), KBP_EINVAL);
	kbp_intent_free(in);
	fx_close(&f);
}
END_TEST

/* A gateway whose first prepare fails, as an outage or a refused initiate would. */
typedef struct flaky_gateway {
	kbp_gateway base;
	int prepares;
} flaky_gateway;

static int flaky_prepare(kbp_gateway *g, const kbp_payment_request *req, kbp_prepared *out)
{
	char ref[KBP_ID_MAX + 8];

	if (((flaky_gateway *)g)->prepares++ == 0)
		return kbp_error_set(KBP_EGATEWAY, "the gateway is down");
	snprintf(ref, sizeof ref, "ref-%s", req->intent_id);
	out->gateway_ref = strdup(ref);
	out->redirect = strdup("{\"method\":\"GET\",\"url\":\"https://pay.example/\"}");
	return out->gateway_ref && out->redirect ? 0 : KBP_ENOMEM;
}

static int flaky_parse(kbp_gateway *g, const char *raw, size_t len, kbp_callback_claim *out)
{
	return kbp_error_set(KBP_ESIGNATURE, "no callbacks");
}

static int flaky_lookup(kbp_gateway *g, const kbp_callback_claim *claim, kbp_lookup_result *out)
{
	return kbp_error_set(KBP_EGATEWAY, "no lookups");
}

static void flaky_free(kbp_gateway *g)
{
	free(g);
}

START_TEST(retry_after_failed_prepare_is_an_error)
{
	fx f;
	flaky_gateway *g = calloc(1, sizeof(*g));
	kbp_intent_request req = KBP_INTENT_REQUEST_INIT;
	const char *sku;
	kbp_intent *in = (kbp_intent *)&in, *again = NULL;
	kbp_metrics m0, m1;

	fx_open(&f);
	ck_assert_ptr_nonnull(g);
	g->base = (kbp_gateway){ KBP_GATEWAY_VERSION, "flaky", flaky_prepare, flaky_parse,
		                 flaky_lookup, flaky_free, 0 };
	CK_OK(kbp_pipeline_add_gateway(f.p, &g->base));
	sku = fx_product(&f, "a", 1500, 3);
	req.cart_id = fx_cart(&f, sku, 1);
	req.gateway = "flaky";
	req.idempotency_key = fx_id(&f, "key");
	fx_metrics(&f, &m0);

	CK_RC(kbp_intent_create(&in, f.p, &req), KBP_EGATEWAY);
	ck_assert_ptr_null(in);
	ck_assert_int_eq(fx_reserved(&f, sku), 0);

	/* The retry cannot pay the intent the first call canceled: it fails as that call did. */
	in = (kbp_intent *)&in;
	CK_RC(kbp_intent_create(&in, f.p, &req), KBP_ESTATE);
	ck_assert_ptr_null(in);
	ck_assert_ptr_nonnull(strstr(fx_last_message(), "gateway_prepare_failed"));
	ck_assert_ptr_nonnull(strstr(fx_last_message(), "new idempotency key"));
	ck_assert_int_eq(fx_reserved(&f, sku), 0);
	fx_metrics(&f, &m1);
	ck_assert_int_eq(m1.intents[KBP_INTENT_CANCELED] - m0.intents[KBP_INTENT_CANCELED], 1);
	ck_assert_int_eq(m1.intents[KBP_INTENT_PENDING], m0.intents[KBP_INTENT_PENDING]);

	/* A new key makes a payable intent, and retrying that key returns it. */
	req.idempotency_key = fx_id(&f, "key2");
	CK_OK(kbp_intent_create(&in, f.p, &req));
	ck_assert_int_eq(in->status, KBP_INTENT_PENDING);
	ck_assert_ptr_nonnull(in->gateway_ref);
	ck_assert_int_eq(fx_reserved(&f, sku), 1);
	CK_OK(kbp_intent_create(&again, f.p, &req));
	ck_assert_str_eq(again->id, in->id);
	ck_assert_str_eq(again->gateway_ref, in->gateway_ref);
	ck_assert_int_eq(fx_reserved(&f, sku), 1);
	ck_assert_int_eq(g->prepares, 2);
	kbp_intent_free(in);
	kbp_intent_free(again);
	fx_close(&f);
}
END_TEST

/*
 * A gateway that prepares without I/O (eSewa's signed form, the sandbox)
 * does it inside the step that creates the intent: when it fails, there is
 * no intent and no stock held, so a retry with the same key simply succeeds.
 */
START_TEST(failed_local_prepare_writes_nothing)
{
	fx f;
	flaky_gateway *g = calloc(1, sizeof(*g));
	kbp_intent_request req = KBP_INTENT_REQUEST_INIT;
	const char *sku;
	kbp_intent *in = (kbp_intent *)&in, *again = NULL;
	kbp_metrics m0, m1;

	fx_open(&f);
	ck_assert_ptr_nonnull(g);
	g->base = (kbp_gateway){ KBP_GATEWAY_VERSION, "flaky", flaky_prepare, flaky_parse,
		                 flaky_lookup, flaky_free, KBP_GATEWAY_PREPARE_LOCAL };
	CK_OK(kbp_pipeline_add_gateway(f.p, &g->base));
	sku = fx_product(&f, "a", 1500, 3);
	req.cart_id = fx_cart(&f, sku, 1);
	req.gateway = "flaky";
	req.idempotency_key = fx_id(&f, "key");
	fx_metrics(&f, &m0);

	CK_RC(kbp_intent_create(&in, f.p, &req), KBP_EGATEWAY);
	ck_assert_ptr_null(in);
	ck_assert_ptr_nonnull(strstr(fx_last_message(), "the gateway is down"));
	ck_assert_int_eq(fx_reserved(&f, sku), 0);
	fx_metrics(&f, &m1);
	for (int st = 0; st < KBP_INTENT_STATUS_COUNT; st++)
		ck_assert_int_eq(m1.intents[st], m0.intents[st]);

	CK_OK(kbp_intent_create(&in, f.p, &req));
	ck_assert_int_eq(in->status, KBP_INTENT_PENDING);
	ck_assert_ptr_nonnull(in->gateway_ref);
	ck_assert_ptr_nonnull(in->redirect);
	ck_assert_int_eq(fx_reserved(&f, sku), 1);
	CK_OK(kbp_intent_create(&again, f.p, &req));
	ck_assert_str_eq(again->id, in->id);
	ck_assert_str_eq(again->gateway_ref, in->gateway_ref);
	ck_assert_int_eq(fx_reserved(&f, sku), 1);
	ck_assert_int_eq(g->prepares, 2);
	kbp_intent_free(in);
	kbp_intent_free(again);
	fx_close(&f);
}
END_TEST

void add_intent_tests(Suite *s)
{
	TCase *tc = fx_tcase("intent");
	tcase_add_test(tc, create_reserves_and_snapshots);
	tcase_add_test(tc, same_key_same_intent);
	tcase_add_test(tc, same_key_different_parameters_conflict);
	tcase_add_test(tc, fresh_keys_make_fresh_intents);
	tcase_add_test(tc, short_line_reserves_nothing);
	tcase_add_test(tc, cart_problems_refused_without_writes);
	tcase_add_test(tc, request_bad_input_writes_nothing);
	tcase_add_test(tc, get_and_cancel);
	tcase_add_test(tc, retry_after_failed_prepare_is_an_error);
	tcase_add_test(tc, failed_local_prepare_writes_nothing);
	suite_add_tcase(s, tc);
}
