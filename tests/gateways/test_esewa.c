/* SPDX-License-Identifier: MIT */
/* The real eSewa backend, over libcurl, against the fake status API. */
#include <cjson/cJSON.h>
#include <sodium.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "core/objects.h"
#include "core/pipeline_internal.h"
#include "gw.h"

#define PRICE 1500  /* paisa */
#define QTY 2
#define AMOUNT_TEXT "\"30.0\""

static char *genuine(const kbp_intent *in, const char *amount_literal)
{
	cb_fields f = { "000AWEO", "COMPLETE", amount_literal, gw_uuid(in), PRODUCT_CODE, NULL, NULL };

	return esewa_callback(&f);
}

START_TEST(prepare_gives_a_signed_form)
{
	gw g;
	kbp_intent *in;
	cJSON *doc, *fields;
	char message[512], expected[64], want_failure[256];
	unsigned char mac[32];

	gw_open(&g);
	in = gw_intent(&g, "esewa", PRICE, QTY);
	doc = cJSON_Parse(in->redirect);
	ck_assert_ptr_nonnull(doc);
	ck_assert_str_eq(cJSON_GetObjectItem(doc, "method")->valuestring, "POST");
	ck_assert_str_eq(cJSON_GetObjectItem(doc, "url")->valuestring,
	                 "https://rc-epay.esewa.com.np/api/epay/main/v2/form");
	fields = cJSON_GetObjectItem(doc, "fields");
#define FIELD(name) cJSON_GetObjectItem(fields, name)->valuestring
	ck_assert_str_eq(FIELD("amount"), "30");
	ck_assert_str_eq(FIELD("total_amount"), "30");
	ck_assert_str_eq(FIELD("tax_amount"), "0");
	ck_assert_str_eq(FIELD("product_service_charge"), "0");
	ck_assert_str_eq(FIELD("product_delivery_charge"), "0");
	ck_assert_str_eq(FIELD("product_code"), PRODUCT_CODE);
	ck_assert_str_eq(FIELD("transaction_uuid"), in->gateway_ref);
	ck_assert_str_eq(FIELD("success_url"), "https://shop.example/esewa/success");
	snprintf(want_failure, sizeof(want_failure), "https://shop.example/esewa/failure?intent_id=%s",
	         in->id);
	ck_assert_str_eq(FIELD("failure_url"), want_failure);
	ck_assert_str_eq(FIELD("signed_field_names"), "total_amount,transaction_uuid,product_code");
	for (const char *c = in->gateway_ref; *c; c++)
		ck_assert_msg((*c >= 'a' && *c <= 'z') || (*c >= 'A' && *c <= 'Z') ||
		                      (*c >= '0' && *c <= '9') || *c == '-',
		              "transaction_uuid %s has a forbidden byte", in->gateway_ref);
	snprintf(message, sizeof(message), "total_amount=30,transaction_uuid=%s,product_code=%s",
	         in->gateway_ref, PRODUCT_CODE);
	crypto_auth_hmacsha256_state st;
	crypto_auth_hmacsha256_init(&st, (const unsigned char *)ESEWA_SECRET, strlen(ESEWA_SECRET));
	crypto_auth_hmacsha256_update(&st, (const unsigned char *)message, strlen(message));
	crypto_auth_hmacsha256_final(&st, mac);
	sodium_bin2base64(expected, sizeof(expected), mac, 32, sodium_base64_VARIANT_ORIGINAL);
	ck_assert_str_eq(FIELD("signature"), expected);
#undef FIELD
	cJSON_Delete(doc);
	kbp_intent_free(in);
	gw_close(&g);
}
END_TEST

static const struct {
	fake_answer answer;
	int rc;
	kbp_intent_status status;
	int recorded;               /* an audit row is written (the gateway answered) */
} table[] = {
	{ FAKE_COMPLETED, 0, KBP_INTENT_SUCCEEDED, 1 },
	{ FAKE_PENDING, KBP_EPENDING, KBP_INTENT_PENDING, 1 },
	{ FAKE_AMBIGUOUS, KBP_EPENDING, KBP_INTENT_PENDING, 1 },
	{ FAKE_CANCELED, KBP_EDECLINED, KBP_INTENT_FAILED, 1 },
	{ FAKE_EXPIRED, KBP_ENOTFOUND, KBP_INTENT_PENDING, 1 },     /* eSewa: NOT_FOUND, session expired */
	{ FAKE_NOT_FOUND, KBP_ENOTFOUND, KBP_INTENT_PENDING, 1 },
	{ FAKE_REFUNDED, KBP_EDECLINED, KBP_INTENT_PENDING, 1 },
	{ FAKE_PARTIAL_REFUND, KBP_EDECLINED, KBP_INTENT_PENDING, 1 },
	{ FAKE_WRONG_AMOUNT, KBP_EAMOUNT, KBP_INTENT_FAILED, 1 },    /* needs_refund */
	{ FAKE_OUTAGE, KBP_EGATEWAY, KBP_INTENT_PENDING, 0 },
	{ FAKE_5XX, KBP_EGATEWAY, KBP_INTENT_PENDING, 0 },
	{ FAKE_UNAUTHORIZED, KBP_EGATEWAY, KBP_INTENT_PENDING, 0 },
	{ FAKE_SLOW, KBP_ETIMEOUT, KBP_INTENT_PENDING, 0 },
	{ FAKE_MALFORMED, KBP_EPARSE, KBP_INTENT_PENDING, 0 },
	{ FAKE_OTHER_REF, KBP_EGATEWAY, KBP_INTENT_PENDING, 0 },
	{ FAKE_HUGE, KBP_EGATEWAY, KBP_INTENT_PENDING, 0 },
	{ FAKE_UNNAMED, KBP_EGATEWAY, KBP_INTENT_PENDING, 0 },   /* COMPLETE, no transaction_uuid */
	{ FAKE_NO_PRODUCT, KBP_EGATEWAY, KBP_INTENT_PENDING, 0 },/* COMPLETE, no product_code */
};

START_TEST(every_status_answer)
{
	gw g;
	kbp_intent *in;
	char *cb;
	size_t rows;
	int outcome;

	gw_open(&g);
	in = gw_intent(&g, "esewa", PRICE, QTY);
	/* Half the callbacks carry the amount as a JSON number, as eSewa's docs print it. */
	cb = genuine(in, _i % 2 ? "30.0" : AMOUNT_TEXT);
	fake_set_answer(g.fake, in->gateway_ref, table[_i].answer);
	rows = gw_rows(&g, in->id);
	CK_RC(gw_verify(&g, "esewa", cb, strlen(cb), &outcome), table[_i].rc);
	ck_assert_msg(gw_status(&g, in->id) == table[_i].status, "answer %s: intent is %s",
	              fake_answer_name(table[_i].answer),
	              kbp_intent_status_name(gw_status(&g, in->id)));
	ck_assert_uint_eq(gw_rows(&g, in->id), rows + (size_t)table[_i].recorded);
	ck_assert_int_eq(gw_has_order(&g, in->id), table[_i].status == KBP_INTENT_SUCCEEDED);
	ck_assert_int_eq(fake_count(g.fake, "status"), 1);
	/* Held while pending; released on failure, sold once the order exists. */
	ck_assert_int_eq(gw_reserved(&g, gw_last_sku(&g)),
	                 table[_i].status == KBP_INTENT_PENDING ? QTY : 0);
	if (table[_i].recorded && table[_i].rc != 0)
		ck_assert_str_ne(gw_last_reason(&g, in->id), "");
	/* Whatever went wrong that left the intent pending, a later COMPLETE still pays it. */
	if (table[_i].status == KBP_INTENT_PENDING) {
		if (table[_i].answer == FAKE_SLOW)
			usleep(FAKE_SLOW_MS * 1000);   /* the one-thread fake is still busy with it */
		fake_set_answer(g.fake, in->gateway_ref, FAKE_COMPLETED);
		CK_OK(gw_verify(&g, "esewa", cb, strlen(cb), &outcome));
		ck_assert_int_eq(outcome, KBP_VERIFICATION_ACCEPTED);
		ck_assert_int_eq(gw_status(&g, in->id), KBP_INTENT_SUCCEEDED);
		ck_assert_int_eq(gw_has_order(&g, in->id), 1);
	}
	free(cb);
	kbp_intent_free(in);
	gw_close(&g);
}
END_TEST

/* Decodes a callback, replaces the first `from` in its JSON with `to`, re-encodes. */
static char *tamper(const char *cb, const char *from, const char *to)
{
	unsigned char raw[8192];
	char json[8192], *at, *out;
	size_t n = strlen(cb + 5), bin = 0;

	ck_assert_int_eq(sodium_base642bin(raw, sizeof(raw) - 1, cb + 5, n, NULL, &bin, NULL,
	                                   sodium_base64_VARIANT_ORIGINAL), 0);
	raw[bin] = '\0';
	at = strstr((char *)raw, from);
	ck_assert_ptr_nonnull(at);
	snprintf(json, sizeof(json), "%.*s%s%s", (int)(at - (char *)raw), (char *)raw, to,
	         at + strlen(from));
	out = esewa_wrap(json);
	return out;
}

typedef struct refusal {
	const char *what;
	char *callback;
	size_t len;
	int rc;
	int attributable;           /* the audit row keeps the reference the callback claims */
} refusal;

/* The newest audit row that belongs to no intent names this gateway reference. */
static int last_orphan_names(gw *g, const char *gateway_ref)
{
	kbp_verification_list *l = NULL;
	int named;

	CK_OK(kbp_verification_list_get(&l, g->p, NULL));
	named = l->n > 0 && l->items[l->n - 1].gateway_ref &&
	        strcmp(l->items[l->n - 1].gateway_ref, gateway_ref) == 0;
	kbp_verification_list_free(l);
	return named;
}

START_TEST(bad_callbacks_are_refused_and_recorded)
{
	gw g;
	kbp_intent *in, *other;
	char *good;
	refusal r[16];
	size_t n = 0;
	cb_fields f;

	gw_open(&g);
	in = gw_intent(&g, "esewa", PRICE, QTY);
	other = gw_intent(&g, "esewa", PRICE, QTY);
	fake_set_answer(g.fake, in->gateway_ref, FAKE_COMPLETED);
	fake_set_answer(g.fake, other->gateway_ref, FAKE_COMPLETED);
	good = genuine(in, AMOUNT_TEXT);

	f = (cb_fields){ "000AWEO", "COMPLETE", AMOUNT_TEXT, gw_uuid(in), PRODUCT_CODE, NULL,
		         "not the secret" };
	r[n++] = (refusal){ "forged", esewa_callback(&f), 0, KBP_ESIGNATURE, 1 };
	f.secret = NULL;
	f.signed_field_names = "total_amount,transaction_uuid,product_code";
	r[n++] = (refusal){ "too few signed fields", esewa_callback(&f), 0, KBP_ESIGNATURE, 1 };
	f.signed_field_names = "status,total_amount,transaction_uuid,product_code,signed_field_names";
	r[n++] = (refusal){ "transaction_code not signed", esewa_callback(&f), 0, KBP_ESIGNATURE, 1 };
	f.signed_field_names = NULL;
	f.product_code = "OTHERSHOP";
	r[n++] = (refusal){ "another merchant", esewa_callback(&f), 0, KBP_ESIGNATURE, 1 };
	r[n++] = (refusal){ "tampered amount", tamper(good, "\"30.0\"", "\"3.0\""), 0,
		            KBP_ESIGNATURE, 1 };
	r[n++] = (refusal){ "tampered status", tamper(good, "COMPLETE", "COMPLETED"), 0,
		            KBP_ESIGNATURE, 1 };
	r[n++] = (refusal){ "no signature", tamper(good, "\"signature\"", "\"signatur\""), 0,
		            KBP_EPARSE, 1 };
	r[n++] = (refusal){ "a signed field missing", tamper(good, "\"transaction_code\"", "\"txn\""),
		            0, KBP_EPARSE, 1 };
	r[n++] = (refusal){ "no transaction_uuid", tamper(good, "\"transaction_uuid\"", "\"uuid\""),
		            0, KBP_EPARSE, 0 };
	r[n++] = (refusal){ "non-base64", strdup("data=***not base64***"), 0, KBP_EPARSE, 0 };
	r[n++] = (refusal){ "no data", strdup("garbage"), 0, KBP_EPARSE, 0 };
	r[n++] = (refusal){ "non-JSON", esewa_wrap("{\"transaction_uuid\": oops"), 0, KBP_EPARSE, 0 };
	r[n++] = (refusal){ "a JSON array", esewa_wrap("[1,2]"), 0, KBP_EPARSE, 0 };
	{
		char *big = malloc(KBP_CALLBACK_MAX + 2);
		memset(big, 'A', KBP_CALLBACK_MAX + 1);
		memcpy(big, good, strlen(good));   /* a genuine callback with a tail */
		big[KBP_CALLBACK_MAX + 1] = '\0';
		r[n++] = (refusal){ "over 64 KiB", big, KBP_CALLBACK_MAX + 1, KBP_ETOOBIG, 0 };
	}

	for (size_t i = 0; i < n; i++) {
		size_t rows = gw_rows(&g, in->id), orphans = gw_rows(&g, NULL);
		size_t len = r[i].len ? r[i].len : strlen(r[i].callback);
		int outcome;
		ck_assert_msg(gw_verify(&g, "esewa", r[i].callback, len, &outcome) == r[i].rc,
		              "%s: got %d (%s), want %d", r[i].what, kbp_error_last()->code,
		              kbp_error_last()->message, r[i].rc);
		ck_assert_msg(gw_status(&g, in->id) == KBP_INTENT_PENDING, "%s moved the intent",
		              r[i].what);
		ck_assert_int_eq(gw_has_order(&g, in->id), 0);
		/* Unauthenticated: recorded, but not under the intent it names. */
		ck_assert_msg(gw_rows(&g, NULL) == orphans + 1, "%s: not recorded", r[i].what);
		ck_assert_msg(gw_rows(&g, in->id) == rows, "%s: filed under the intent", r[i].what);
		if (r[i].attributable)
			ck_assert_msg(last_orphan_names(&g, gw_uuid(in)), "%s: reference lost", r[i].what);
		free(r[i].callback);
	}
	/* None of them reached the status API. */
	ck_assert_int_eq(fake_count(g.fake, "status"), 0);

	/* One intent's callback replayed for another: its uuid swapped in breaks the signature. */
	{
		char *swapped = tamper(good, gw_uuid(in), gw_uuid(other));
		size_t rows = gw_rows(&g, other->id), orphans = gw_rows(&g, NULL);
		CK_RC(gw_verify(&g, "esewa", swapped, strlen(swapped), NULL), KBP_ESIGNATURE);
		ck_assert_uint_eq(gw_rows(&g, other->id), rows);
		ck_assert_uint_eq(gw_rows(&g, NULL), orphans + 1);
		ck_assert_int_eq(gw_status(&g, other->id), KBP_INTENT_PENDING);
		free(swapped);
	}
	/* The genuine callback pays its own intent, once; replayed, it changes nothing. */
	CK_OK(gw_verify(&g, "esewa", good, strlen(good), NULL));
	ck_assert_int_eq(gw_status(&g, in->id), KBP_INTENT_SUCCEEDED);
	ck_assert_int_eq(gw_has_order(&g, in->id), 1);
	{
		kbp_verification *v = NULL;
		CK_OK(kbp_payment_verify(&v, g.p, "esewa", good, strlen(good)));
		ck_assert_int_eq(v->duplicate, 1);
		ck_assert_str_eq(v->intent_id, in->id);
		kbp_verification_free(v);
	}
	ck_assert_int_eq(gw_status(&g, other->id), KBP_INTENT_PENDING);
	ck_assert_int_eq(gw_has_order(&g, other->id), 0);
	free(good);
	kbp_intent_free(in);
	kbp_intent_free(other);
	gw_close(&g);
}
END_TEST

/* The lookup of the real backend, asked directly with the claim a genuine callback makes. */
static int lookup(gw *g, const char *callback, kbp_callback_claim *claim, kbp_lookup_result *truth)
{
	kbp_gateway *esewa = kbp__gateway_find(g->p, "esewa");

	ck_assert_ptr_nonnull(esewa);
	CK_OK(esewa->parse_callback(esewa, callback, strlen(callback), claim));
	return esewa->lookup(esewa, claim, truth);
}

/* eSewa's transaction id is the status API's ref_id, not the callback's transaction_code. */
START_TEST(external_id_comes_from_the_status_api)
{
	gw g;
	kbp_intent *in;
	kbp_callback_claim claim = { NULL, NULL, -1, KBP_GATEWAY_PENDING };
	kbp_lookup_result truth = { KBP_GATEWAY_PENDING, -1, "", NULL };
	kbp_verification *v = NULL;
	char *cb, want[128];

	gw_open(&g);
	in = gw_intent(&g, "esewa", PRICE, QTY);
	cb = genuine(in, AMOUNT_TEXT);
	snprintf(want, sizeof(want), "ref-%s", gw_uuid(in));
	fake_set_answer(g.fake, in->gateway_ref, FAKE_COMPLETED);
	CK_OK(lookup(&g, cb, &claim, &truth));
	ck_assert_str_eq(claim.external_txn_id, "000AWEO");
	ck_assert_int_eq(truth.status, KBP_GATEWAY_COMPLETED);
	ck_assert_str_eq(truth.external_txn_id, want);
	kbp__claim_clear(&claim);
	kbp__lookup_clear(&truth);
	/* COMPLETE without a ref_id: the answer has none, and the callback's is not borrowed. */
	fake_set_answer(g.fake, in->gateway_ref, FAKE_NO_TXN_ID);
	memset(&claim, 0, sizeof(claim));
	memset(&truth, 0, sizeof(truth));
	CK_OK(lookup(&g, cb, &claim, &truth));
	ck_assert_int_eq(truth.status, KBP_GATEWAY_COMPLETED);
	ck_assert_ptr_null(truth.external_txn_id);
	kbp__claim_clear(&claim);
	kbp__lookup_clear(&truth);
	/* Through the pipeline, the accepted payment is recorded under the status API's id. */
	fake_set_answer(g.fake, in->gateway_ref, FAKE_COMPLETED);
	CK_OK(kbp_payment_verify(&v, g.p, "esewa", cb, strlen(cb)));
	ck_assert_str_eq(v->external_txn_id, want);
	kbp_verification_free(v);
	free(cb);
	kbp_intent_free(in);
	gw_close(&g);
}
END_TEST

START_TEST(options_are_validated)
{
	gw g;
	kbp_esewa_options o = KBP_ESEWA_OPTIONS_INIT;

	gw_open(&g);
	CK_RC(kbp_gateway_add_esewa(g.p, NULL), KBP_EINVAL);
	o.name = "esewa2";
	CK_RC(kbp_gateway_add_esewa(g.p, &o), KBP_EINVAL);            /* no secret source */
	o.secret_env = ESEWA_ENV;
	o.secret_file = "/nonexistent";
	CK_RC(kbp_gateway_add_esewa(g.p, &o), KBP_EINVAL);            /* both */
	o.secret_file = NULL;
	o.version = 99;
	CK_RC(kbp_gateway_add_esewa(g.p, &o), KBP_EVERSION);
	o.version = KBP_ESEWA_OPTIONS_VERSION;
	{
		/* Plain http only to a loopback host, and never with user information. */
		static const char *const refused[] = {
			"http://esewa.example/status/",
			"http://localhost:@evil.example/status/",
			"http://localhost@evil.example/status/",
			"http://127.0.0.1.evil.example/status/",
			"http://localhost:80x/status/",
			"https://user:pw@esewa.example/status/",
		};
		for (size_t i = 0; i < sizeof(refused) / sizeof(refused[0]); i++) {
			o.status_url = refused[i];
			CK_RC(kbp_gateway_add_esewa(g.p, &o), KBP_EINVAL);
		}
	}
	o.status_url = NULL;
	o.product_code = "EPAY TEST";
	CK_RC(kbp_gateway_add_esewa(g.p, &o), KBP_EINVAL);
	o.product_code = NULL;
	o.secret_env = "KBP_TEST_UNSET_VARIABLE";
	CK_RC(kbp_gateway_add_esewa(g.p, &o), KBP_EINVAL);
	o.secret_env = ESEWA_ENV;
	o.name = "esewa";
	CK_RC(kbp_gateway_add_esewa(g.p, &o), KBP_EEXISTS);
	o.name = "esewa2";
	CK_OK(kbp_gateway_add_esewa(g.p, &o));
	/* Without success/failure URLs anywhere, preparing fails and holds nothing. */
	{
		kbp_intent *in = NULL;
		CK_RC(gw_create(&in, &g, "esewa2", PRICE, QTY), KBP_EINVAL);
		ck_assert_ptr_null(in);
		ck_assert_int_eq(gw_reserved(&g, gw_last_sku(&g)), 0);
	}
	gw_close(&g);
}
END_TEST

Suite *esewa_suite(void)
{
	Suite *s = suite_create("esewa");
	TCase *tc = tcase_create("esewa");

	tcase_set_timeout(tc, 60);
	tcase_add_test(tc, prepare_gives_a_signed_form);
	tcase_add_loop_test(tc, every_status_answer, 0, (int)(sizeof(table) / sizeof(table[0])));
	tcase_add_test(tc, bad_callbacks_are_refused_and_recorded);
	tcase_add_test(tc, external_id_comes_from_the_status_api);
	tcase_add_test(tc, options_are_validated);
	suite_add_tcase(s, tc);
	return s;
}
