/* SPDX-License-Identifier: MIT */
/* The real Khalti backend, over libcurl, against the fake initiate and lookup. */
#include <cjson/cJSON.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "core/objects.h"
#include "core/pipeline_internal.h"
#include "gw.h"
#include "kbpipeline/sys/http.h"

#define PRICE 1500  /* paisa */
#define QTY 2

static char *return_of(const kbp_intent *in, const char *status)
{
	char *s = NULL;

	ck_assert_int_gt(asprintf(&s, "pidx=%s&txnId=T%s&amount=%lld&total_amount=%lld&status=%s"
	                              "&mobile=98XXXXX904&purchase_order_id=%s&purchase_order_name=Order"
	                              "&transaction_id=T%s",
	                          in->gateway_ref, in->gateway_ref, (long long)in->amount_minor,
	                          (long long)in->amount_minor, status, in->id, in->gateway_ref),
	                 0);
	return s;
}

START_TEST(prepare_initiates)
{
	gw g;
	kbp_intent *in;
	cJSON *doc, *sent;
	char auth[512], body[4096], want_url[256];

	gw_open(&g);
	in = gw_intent(&g, "khalti", PRICE, QTY);
	ck_assert_int_eq(fake_count(g.fake, "initiate"), 1);
	fake_last_initiate(g.fake, auth, sizeof(auth), body, sizeof(body));
	ck_assert_str_eq(auth, "Key " KHALTI_SECRET);
	sent = cJSON_Parse(body);
	ck_assert_ptr_nonnull(sent);
	ck_assert_str_eq(cJSON_GetObjectItem(sent, "purchase_order_id")->valuestring, in->id);
	ck_assert_int_eq((int)cJSON_GetObjectItem(sent, "amount")->valuedouble, PRICE * QTY);
	ck_assert_str_eq(cJSON_GetObjectItem(sent, "return_url")->valuestring,
	                 "https://shop.example/khalti/return");
	ck_assert_str_eq(cJSON_GetObjectItem(sent, "website_url")->valuestring, "https://shop.example");
	ck_assert_str_eq(cJSON_GetObjectItem(sent, "purchase_order_name")->valuestring, "Order");
	cJSON_Delete(sent);
	doc = cJSON_Parse(in->redirect);
	ck_assert_str_eq(cJSON_GetObjectItem(doc, "method")->valuestring, "GET");
	snprintf(want_url, sizeof(want_url), "https://test-pay.khalti.com/?pidx=%s", in->gateway_ref);
	ck_assert_str_eq(cJSON_GetObjectItem(doc, "url")->valuestring, want_url);
	ck_assert_ptr_nonnull(cJSON_GetObjectItem(doc, "expires_at"));
	cJSON_Delete(doc);
	kbp_intent_free(in);
	gw_close(&g);
}
END_TEST

static const struct {
	fake_answer answer;
	int rc;
} initiate_table[] = {
	{ FAKE_5XX, KBP_EGATEWAY },
	{ FAKE_UNAUTHORIZED, KBP_EINVAL },
	{ FAKE_SLOW, KBP_ETIMEOUT },
	{ FAKE_MALFORMED, KBP_EPARSE },
	{ FAKE_HUGE, KBP_EGATEWAY },
};

START_TEST(initiate_failures_hold_nothing)
{
	gw g;
	kbp_intent *in = NULL;

	gw_open(&g);
	fake_set_initiate(g.fake, initiate_table[_i].answer);
	CK_RC(gw_create(&in, &g, "khalti", PRICE, QTY), initiate_table[_i].rc);
	ck_assert_ptr_null(in);
	ck_assert_int_eq(gw_reserved(&g, gw_last_sku(&g)), 0);
	gw_close(&g);
}
END_TEST

START_TEST(minimum_amount)
{
	gw g;
	kbp_intent *in = NULL;

	gw_open(&g);
	CK_RC(gw_create(&in, &g, "khalti", 999, 1), KBP_EINVAL);
	ck_assert_ptr_null(in);
	ck_assert_int_eq(fake_count(g.fake, "initiate"), 0);
	ck_assert_int_eq(gw_reserved(&g, gw_last_sku(&g)), 0);
	in = gw_intent(&g, "khalti", 1000, 1);
	kbp_intent_free(in);
	gw_close(&g);
}
END_TEST

static const struct {
	fake_answer answer;
	int rc;
	kbp_intent_status status;
	int recorded;
} table[] = {
	{ FAKE_COMPLETED, 0, KBP_INTENT_SUCCEEDED, 1 },
	{ FAKE_PENDING, KBP_EPENDING, KBP_INTENT_PENDING, 1 },
	{ FAKE_INITIATED, KBP_EPENDING, KBP_INTENT_PENDING, 1 },
	{ FAKE_EXPIRED, KBP_EDECLINED, KBP_INTENT_FAILED, 1 },       /* HTTP 400 + status */
	{ FAKE_CANCELED, KBP_EDECLINED, KBP_INTENT_FAILED, 1 },      /* HTTP 400 + status */
	{ FAKE_REFUNDED, KBP_EDECLINED, KBP_INTENT_PENDING, 1 },
	{ FAKE_PARTIAL_REFUND, KBP_EDECLINED, KBP_INTENT_PENDING, 1 },
	{ FAKE_NOT_FOUND, KBP_ENOTFOUND, KBP_INTENT_PENDING, 1 },    /* HTTP 404 */
	{ FAKE_WRONG_AMOUNT, KBP_EAMOUNT, KBP_INTENT_FAILED, 1 },    /* needs_refund */
	{ FAKE_OUTAGE, KBP_EGATEWAY, KBP_INTENT_PENDING, 0 },
	{ FAKE_5XX, KBP_EGATEWAY, KBP_INTENT_PENDING, 0 },
	{ FAKE_UNAUTHORIZED, KBP_EINVAL, KBP_INTENT_PENDING, 0 },    /* HTTP 401 */
	{ FAKE_SLOW, KBP_ETIMEOUT, KBP_INTENT_PENDING, 0 },
	{ FAKE_MALFORMED, KBP_EPARSE, KBP_INTENT_PENDING, 0 },
	{ FAKE_OTHER_REF, KBP_EGATEWAY, KBP_INTENT_PENDING, 0 },
	{ FAKE_HUGE, KBP_EGATEWAY, KBP_INTENT_PENDING, 0 },
	{ FAKE_UNNAMED, KBP_EGATEWAY, KBP_INTENT_PENDING, 0 },      /* Completed, no pidx */
};

START_TEST(every_lookup_answer)
{
	gw g;
	kbp_intent *in;
	char *ret;
	size_t rows;
	int outcome;

	gw_open(&g);
	in = gw_intent(&g, "khalti", PRICE, QTY);
	/* The return claims success every time: it is unsigned, only the lookup counts. */
	ret = return_of(in, "Completed");
	fake_set_answer(g.fake, in->gateway_ref, table[_i].answer);
	rows = gw_rows(&g, in->id);
	CK_RC(gw_verify(&g, "khalti", ret, strlen(ret), &outcome), table[_i].rc);
	ck_assert_msg(gw_status(&g, in->id) == table[_i].status, "answer %s: intent is %s",
	              fake_answer_name(table[_i].answer),
	              kbp_intent_status_name(gw_status(&g, in->id)));
	ck_assert_uint_eq(gw_rows(&g, in->id), rows + (size_t)table[_i].recorded);
	ck_assert_int_eq(gw_has_order(&g, in->id), table[_i].status == KBP_INTENT_SUCCEEDED);
	ck_assert_int_eq(fake_count(g.fake, "lookup"), 1);
	ck_assert_int_eq(gw_reserved(&g, gw_last_sku(&g)),
	                 table[_i].status == KBP_INTENT_PENDING ? QTY : 0);
	if (table[_i].recorded && table[_i].rc != 0)
		ck_assert_str_ne(gw_last_reason(&g, in->id), "");
	if (table[_i].status == KBP_INTENT_PENDING) {
		if (table[_i].answer == FAKE_SLOW)
			usleep(FAKE_SLOW_MS * 1000);   /* the one-thread fake is still busy with it */
		fake_set_answer(g.fake, in->gateway_ref, FAKE_COMPLETED);
		CK_OK(gw_verify(&g, "khalti", ret, strlen(ret), &outcome));
		ck_assert_int_eq(gw_status(&g, in->id), KBP_INTENT_SUCCEEDED);
		ck_assert_int_eq(gw_has_order(&g, in->id), 1);
	}
	free(ret);
	kbp_intent_free(in);
	gw_close(&g);
}
END_TEST

/*
 * The return is unsigned: a transaction_id it carries (here another payment's)
 * is never the payment's id. Only the lookup's transaction_id is.
 */
START_TEST(external_id_comes_from_the_lookup)
{
	gw g;
	kbp_intent *in;
	kbp_gateway *khalti;
	kbp_callback_claim claim = { NULL, NULL, -1, KBP_GATEWAY_PENDING };
	kbp_lookup_result truth = { KBP_GATEWAY_PENDING, -1, "", NULL };
	kbp_verification *v = NULL;
	char *ret = NULL, want[128];

	gw_open(&g);
	khalti = kbp__gateway_find(g.p, "khalti");
	in = gw_intent(&g, "khalti", PRICE, QTY);
	ck_assert_int_gt(asprintf(&ret, "pidx=%s&status=Completed&total_amount=%lld"
	                                "&transaction_id=AnotherPaymentsTxn",
	                          in->gateway_ref, (long long)in->amount_minor), 0);
	snprintf(want, sizeof(want), "Txn%s", in->gateway_ref);
	fake_set_answer(g.fake, in->gateway_ref, FAKE_COMPLETED);
	CK_OK(khalti->parse_callback(khalti, ret, strlen(ret), &claim));
	ck_assert_str_eq(claim.external_txn_id, "AnotherPaymentsTxn");
	CK_OK(khalti->lookup(khalti, &claim, &truth));
	ck_assert_int_eq(truth.status, KBP_GATEWAY_COMPLETED);
	ck_assert_str_eq(truth.external_txn_id, want);
	kbp__lookup_clear(&truth);
	/* Completed without a transaction_id: missing, not borrowed from the return. */
	fake_set_answer(g.fake, in->gateway_ref, FAKE_NO_TXN_ID);
	memset(&truth, 0, sizeof(truth));
	CK_OK(khalti->lookup(khalti, &claim, &truth));
	ck_assert_int_eq(truth.status, KBP_GATEWAY_COMPLETED);
	ck_assert_ptr_null(truth.external_txn_id);
	kbp__lookup_clear(&truth);
	kbp__claim_clear(&claim);
	/* Through the pipeline, the payment is recorded under the lookup's id. */
	fake_set_answer(g.fake, in->gateway_ref, FAKE_COMPLETED);
	CK_OK(kbp_payment_verify(&v, g.p, "khalti", ret, strlen(ret)));
	ck_assert_str_eq(v->external_txn_id, want);
	ck_assert_str_eq(v->intent_id, in->id);
	kbp_verification_free(v);
	free(ret);
	kbp_intent_free(in);
	gw_close(&g);
}
END_TEST

START_TEST(return_hint_does_not_decide)
{
	gw g;
	kbp_intent *in;
	char *ret;

	gw_open(&g);
	in = gw_intent(&g, "khalti", PRICE, QTY);
	/* The shopper says canceled, Khalti says Completed: paid. */
	ret = return_of(in, "User%20canceled");
	fake_set_answer(g.fake, in->gateway_ref, FAKE_COMPLETED);
	CK_OK(gw_verify(&g, "khalti", ret, strlen(ret), NULL));
	ck_assert_int_eq(gw_status(&g, in->id), KBP_INTENT_SUCCEEDED);
	free(ret);
	kbp_intent_free(in);
	gw_close(&g);
}
END_TEST

START_TEST(bad_returns_are_refused_and_recorded)
{
	gw g;
	kbp_intent *in, *other;
	char *ret, *big;
	static const char *orphans[] = {
		"?message=Payment+failed",  "pidx=abc%zz", "pidx=a&pidx=b", "pidx=not_a_pidx",
		"status=Completed&amount=1000",
	};

	gw_open(&g);
	in = gw_intent(&g, "khalti", PRICE, QTY);
	other = gw_intent(&g, "khalti", PRICE, QTY);
	fake_set_answer(g.fake, in->gateway_ref, FAKE_COMPLETED);
	for (size_t i = 0; i < sizeof(orphans) / sizeof(orphans[0]); i++) {
		size_t before = gw_rows(&g, NULL);
		CK_RC(gw_verify(&g, "khalti", orphans[i], strlen(orphans[i]), NULL), KBP_EPARSE);
		ck_assert_uint_eq(gw_rows(&g, NULL), before + 1);
	}
	/* A pidx Khalti never issued: no intent, recorded. */
	{
		size_t before = gw_rows(&g, NULL);
		CK_RC(gw_verify(&g, "khalti", "pidx=NeverIssued1", 17, NULL), KBP_ENOTFOUND);
		ck_assert_uint_eq(gw_rows(&g, NULL), before + 1);
	}
	ret = return_of(in, "Completed");
	big = malloc(KBP_CALLBACK_MAX + 2);
	memset(big, 'a', KBP_CALLBACK_MAX + 1);
	memcpy(big, ret, strlen(ret));
	big[strlen(ret)] = '&';
	big[KBP_CALLBACK_MAX + 1] = '\0';
	CK_RC(gw_verify(&g, "khalti", big, KBP_CALLBACK_MAX + 1, NULL), KBP_ETOOBIG);
	free(big);
	ck_assert_int_eq(fake_count(g.fake, "lookup"), 1);   /* only the never-issued pidx */
	ck_assert_int_eq(gw_status(&g, in->id), KBP_INTENT_PENDING);
	ck_assert_int_eq(gw_has_order(&g, in->id), 0);
	/* One intent's return brought back while another is pending: it is about its own pidx. */
	CK_OK(gw_verify(&g, "khalti", ret, strlen(ret), NULL));
	CK_OK(gw_verify(&g, "khalti", ret, strlen(ret), NULL));
	ck_assert_int_eq(gw_status(&g, in->id), KBP_INTENT_SUCCEEDED);
	ck_assert_int_eq(gw_status(&g, other->id), KBP_INTENT_PENDING);
	ck_assert_int_eq(gw_has_order(&g, other->id), 0);
	ck_assert_uint_eq(gw_rows(&g, other->id), 0);
	free(ret);
	kbp_intent_free(in);
	kbp_intent_free(other);
	gw_close(&g);
}
END_TEST

START_TEST(control_endpoint_and_options)
{
	gw g;
	kbp_khalti_options o = KBP_KHALTI_OPTIONS_INIT;
	kbp_intent *in;
	char url[256], *ret;
	kbp_http_response resp;
	kbp_http_request req = { KBP_HTTP_VERSION, "GET", NULL, NULL, 0, NULL, 0, 1000, 2000, 4096 };

	gw_open(&g);
	in = gw_intent(&g, "khalti", PRICE, QTY);
	/* The fake can also be told over HTTP, through the default transport. */
	snprintf(url, sizeof(url), "%s/control?ref=%s&answer=canceled", fake_url(g.fake),
	         in->gateway_ref);
	req.url = url;
	CK_OK(kbp_http_default()->send(kbp_http_default()->ctx, &req, &resp));
	ck_assert_int_eq(resp.status, 200);
	kbp_http_response_clear(&resp);
	ret = return_of(in, "Completed");
	CK_RC(gw_verify(&g, "khalti", ret, strlen(ret), NULL), KBP_EDECLINED);
	ck_assert_int_eq(gw_status(&g, in->id), KBP_INTENT_FAILED);
	free(ret);
	kbp_intent_free(in);

	CK_RC(kbp_gateway_add_khalti(g.p, NULL), KBP_EINVAL);
	o.name = "khalti2";
	o.secret_env = KHALTI_ENV;
	o.base_url = "https://khalti.example/api/v2";   /* no trailing slash */
	CK_RC(kbp_gateway_add_khalti(g.p, &o), KBP_EINVAL);
	o.base_url = "http://khalti.example/api/v2/";
	CK_RC(kbp_gateway_add_khalti(g.p, &o), KBP_EINVAL);
	o.base_url = NULL;
	o.version = 0;
	CK_RC(kbp_gateway_add_khalti(g.p, &o), KBP_EVERSION);
	o.version = KBP_KHALTI_OPTIONS_VERSION;
	CK_OK(kbp_gateway_add_khalti(g.p, &o));
	/* No return URL anywhere: preparing fails before any request. */
	{
		kbp_intent *none = NULL;
		CK_RC(gw_create(&none, &g, "khalti2", PRICE, QTY), KBP_EINVAL);
		ck_assert_ptr_null(none);
	}
	gw_close(&g);
}
END_TEST

Suite *khalti_suite(void)
{
	Suite *s = suite_create("khalti");
	TCase *tc = tcase_create("khalti");

	tcase_set_timeout(tc, 60);
	tcase_add_test(tc, prepare_initiates);
	tcase_add_loop_test(tc, initiate_failures_hold_nothing, 0,
	                    (int)(sizeof(initiate_table) / sizeof(initiate_table[0])));
	tcase_add_test(tc, minimum_amount);
	tcase_add_loop_test(tc, every_lookup_answer, 0, (int)(sizeof(table) / sizeof(table[0])));
	tcase_add_test(tc, return_hint_does_not_decide);
	tcase_add_test(tc, external_id_comes_from_the_lookup);
	tcase_add_test(tc, bad_returns_are_refused_and_recorded);
	tcase_add_test(tc, control_endpoint_and_options);
	suite_add_tcase(s, tc);
	return s;
}
