/* SPDX-License-Identifier: MIT */
/* The protocol code without a network: amounts, signatures, parsers. */
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "core/objects.h"
#include "core/pipeline_internal.h"
#include "gateway/esewa/esewa_proto.h"
#include "gateway/khalti/khalti_proto.h"
#include "gw.h"
#include "http/gwutil.h"
#include "http/http.h"

static kbp_hmac uat_key(void)
{
	kbp_hmac h;

	ck_assert_int_eq(kbp_crypto_init(), 0);
	kbp_hmac_init(&h, ESEWA_SECRET, strlen(ESEWA_SECRET));
	return h;
}

START_TEST(esewa_form_vector)
{
	static const char msg[] = "total_amount=110,transaction_uuid=241028,product_code=EPAYTEST";
	kbp_hmac h = uat_key();
	char sig[KBP_HMAC_B64_SIZE];

	kbp__esewa_sign(sig, &h, msg, strlen(msg));
	ck_assert_str_eq(sig, "i94zsd3oXF6ZsSr/kGqT4sSzYQzjj1W/waxjWyRwaME=");
	/* The key state is copied, not consumed: signing twice gives the same answer. */
	kbp__esewa_sign(sig, &h, msg, strlen(msg));
	ck_assert_str_eq(sig, "i94zsd3oXF6ZsSr/kGqT4sSzYQzjj1W/waxjWyRwaME=");
}
END_TEST

#define DOC_EXAMPLE                                                                              \
	"data=eyJ0cmFuc2FjdGlvbl9jb2RlIjoiMDAwQVdFTyIsInN0YXR1cyI6IkNPTVBMRVRFIiwidG90YWxfYW1vdW50Ij" \
	"oiMTAwMC4wIiwidHJhbnNhY3Rpb25fdXVpZCI6IjI1MDYxMC0xNjI0MTMiLCJwcm9kdWN0X2NvZGUiOiJFUEFZVEVT" \
	"VCIsInNpZ25lZF9maWVsZF9uYW1lcyI6InRyYW5zYWN0aW9uX2NvZGUsc3RhdHVzLHRvdGFsX2Ftb3VudCx0cmFuc2" \
	"FjdGlvbl91dWlkLHByb2R1Y3RfY29kZSxzaWduZWRfZmllbGRfbmFtZXMiLCJzaWduYXR1cmUiOiI2MkdjZlpUbVZr" \
	"emh0VWVoK1FKMUFxaUpyam9XV0dvZjNVK2VUUFRaN2ZBPSJ9"

START_TEST(esewa_documented_callback_verifies)
{
	kbp_hmac h = uat_key();
	kbp_callback_claim c = { NULL, NULL, -1, KBP_GATEWAY_PENDING };

	CK_OK(kbp__esewa_callback_parse(DOC_EXAMPLE, strlen(DOC_EXAMPLE), &h, "EPAYTEST", &c));
	ck_assert_str_eq(c.gateway_ref, "250610-162413");
	ck_assert_str_eq(c.external_txn_id, "000AWEO");
	ck_assert_int_eq(c.amount_minor, 100000);
	ck_assert_int_eq(c.status, KBP_GATEWAY_COMPLETED);
	kbp__claim_clear(&c);

	/* The same bytes for another merchant, or under another key, are refused. */
	memset(&c, 0, sizeof(c));
	CK_RC(kbp__esewa_callback_parse(DOC_EXAMPLE, strlen(DOC_EXAMPLE), &h, "OTHERSHOP", &c),
	      KBP_ESIGNATURE);
	kbp__claim_clear(&c);
	memset(&c, 0, sizeof(c));
	kbp_hmac_init(&h, "another secret", 14);
	CK_RC(kbp__esewa_callback_parse(DOC_EXAMPLE, strlen(DOC_EXAMPLE), &h, "EPAYTEST", &c),
	      KBP_ESIGNATURE);
	ck_assert_str_eq(c.gateway_ref, "250610-162413");   /* filed under its intent */
	kbp__claim_clear(&c);
	/* As a full query string, with other parameters and a percent-encoded byte. */
	{
		char q[1024];
		memset(&c, 0, sizeof(c));
		h = uat_key();
		snprintf(q, sizeof(q), "?intent=x&data=%%65%s", &DOC_EXAMPLE[6]);   /* %65: 'e' */
		CK_OK(kbp__esewa_callback_parse(q, strlen(q), &h, "EPAYTEST", &c));
		kbp__claim_clear(&c);
	}
}
END_TEST

/* Signs the fields with the UAT key and parses the callback as EPAYTEST's. */
static int parse_signed(const cb_fields *f, kbp_callback_claim *c)
{
	kbp_hmac h = uat_key();
	char *cb = esewa_callback(f);
	int rc;

	memset(c, 0, sizeof(*c));
	c->amount_minor = -1;
	rc = kbp__esewa_callback_parse(cb, strlen(cb), &h, "EPAYTEST", c);
	free(cb);
	return rc;
}

START_TEST(esewa_number_literal_is_hashed_as_written)
{
	kbp_hmac h = uat_key();
	kbp_callback_claim c = { NULL, NULL, -1, KBP_GATEWAY_PENDING };
	cb_fields f = { "000AWEO", "COMPLETE", "133.0", "pi-ABC", "EPAYTEST", NULL, NULL };
	char *cb = esewa_callback(&f);

	CK_OK(kbp__esewa_callback_parse(cb, strlen(cb), &h, "EPAYTEST", &c));
	ck_assert_int_eq(c.amount_minor, 13300);
	kbp__claim_clear(&c);
	free(cb);
	/* "1,000.0" as a string literal: commas are part of the signed text. */
	f.total_amount = "\"1,000.0\"";
	cb = esewa_callback(&f);
	memset(&c, 0, sizeof(c));
	CK_OK(kbp__esewa_callback_parse(cb, strlen(cb), &h, "EPAYTEST", &c));
	ck_assert_int_eq(c.amount_minor, 100000);
	kbp__claim_clear(&c);
	free(cb);
	/* Signed, but grouped where no thousands separator stands: not an amount. */
	f.total_amount = "\"1,00.0\"";
	CK_RC(parse_signed(&f, &c), KBP_EPARSE);
	ck_assert_str_eq(kbp_error_last()->message,
	                 "callback total_amount is not a rupee amount (digits, \",\" only between "
	                 "groups of three, at most two decimals)");
	kbp__claim_clear(&c);
}
END_TEST

/* eSewa signs transaction_code; a callback that leaves it out of the signature is not genuine. */
START_TEST(esewa_transaction_code_must_be_signed)
{
	kbp_callback_claim c;
	cb_fields f = { "000AWEO", "COMPLETE", "\"100\"", "pi-ABC", "EPAYTEST",
		        "status,total_amount,transaction_uuid,product_code,signed_field_names", NULL };

	CK_RC(parse_signed(&f, &c), KBP_ESIGNATURE);
	ck_assert_str_eq(kbp_error_last()->message, "callback does not sign transaction_code");
	ck_assert_str_eq(c.gateway_ref, "pi-ABC");   /* filed under its intent */
	ck_assert_ptr_null(c.external_txn_id);
	kbp__claim_clear(&c);
	/* The same fields with transaction_code signed too: genuine. */
	f.signed_field_names = "transaction_code,status,total_amount,transaction_uuid,product_code";
	CK_OK(parse_signed(&f, &c));
	ck_assert_str_eq(c.external_txn_id, "000AWEO");
	kbp__claim_clear(&c);
}
END_TEST

START_TEST(esewa_duplicate_and_escaped_members_refused)
{
	kbp_hmac h = uat_key();
	kbp_callback_claim c = { NULL, NULL, -1, KBP_GATEWAY_PENDING };
	cb_fields f = { "000AWEO", "COMPLETE", "\"100\"", "pi-ABC", "EPAYTEST", NULL, NULL };
	char *cb = esewa_callback(&f), *json, *dup, *twisted;
	unsigned char raw[4096];
	long n = kbp_base64_decode(raw, sizeof(raw), cb + 5, strlen(cb + 5));

	ck_assert_int_gt(n, 0);
	json = strndup((const char *)raw, (size_t)n);
	/* A second total_amount after the signed one: a parser that keeps the last would pay 1. */
	ck_assert_int_gt(asprintf(&dup, "%.*s,\"total_amount\":\"1\"}", (int)(strlen(json) - 1), json), 0);
	twisted = esewa_wrap(dup);
	CK_RC(kbp__esewa_callback_parse(twisted, strlen(twisted), &h, "EPAYTEST", &c), KBP_EPARSE);
	kbp__claim_clear(&c);
	free(twisted);
	free(dup);
	/* An escaped member name. */
	memset(&c, 0, sizeof(c));
	ck_assert_int_gt(asprintf(&dup, "%.*s,\"x\\u0041\":\"1\"}", (int)(strlen(json) - 1), json), 0);
	twisted = esewa_wrap(dup);
	CK_RC(kbp__esewa_callback_parse(twisted, strlen(twisted), &h, "EPAYTEST", &c), KBP_EPARSE);
	kbp__claim_clear(&c);
	free(twisted);
	free(dup);
	free(json);
	free(cb);
}
END_TEST

START_TEST(esewa_amounts_convert_exactly)
{
	static const struct {
		const char *text;
		int64_t paisa;
	} good[] = {
		{ "110", 11000 }, { "133.0", 13300 }, { "1,000.0", 100000 }, { "100.5", 10050 },
		{ "100.50", 10050 }, { "0.01", 1 }, { "0", 0 }, { "1,000.50", 100050 },
		{ "12,345", 1234500 }, { "123,456.7", 12345670 }, { "1,000,000.25", 100000025 },
		{ "999999999999999.99", INT64_C(99999999999999999) },
		{ "999,999,999,999,999.99", INT64_C(99999999999999999) },
	};
	static const char *bad[] = { "", "-1", "+1", "1e3", "1.", ".5", "1.234", " 1", "1 ", "1,",
		                     ",1", "1,,000", "1,.5", "1.5,", "01", "abc", "1.2.3", "NaN",
		                     "1000000000000000", "0x10", "1.-5",
		                     /* a separator outside the thousands positions */
		                     "1,5", "1,00.0", "1000,0", "1,00,000.25", "1,0000", "1234,567",
		                     "12,34", "1,000,00", "1,000,0000", "0,500", "1,000.0,0" };
	char out[KBP_ESEWA_AMOUNT_TEXT_MAX];
	int64_t v;

	for (size_t i = 0; i < sizeof(good) / sizeof(good[0]); i++) {
		ck_assert_msg(kbp__esewa_amount_parse(good[i].text, strlen(good[i].text), &v) == 0,
		              "%s refused", good[i].text);
		ck_assert_int_eq(v, good[i].paisa);
	}
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++)
		ck_assert_msg(kbp__esewa_amount_parse(bad[i], strlen(bad[i]), &v) != 0, "%s accepted",
		              bad[i]);
	kbp__esewa_amount_format(out, 11000);
	ck_assert_str_eq(out, "110");
	kbp__esewa_amount_format(out, 10050);
	ck_assert_str_eq(out, "100.50");
	kbp__esewa_amount_format(out, 7);
	ck_assert_str_eq(out, "0.07");
	/* Round trip. */
	for (int64_t p = 0; p < 100000; p += 37) {
		kbp__esewa_amount_format(out, p);
		ck_assert_int_eq(kbp__esewa_amount_parse(out, strlen(out), &v), 0);
		ck_assert_int_eq(v, p);
	}
}
END_TEST

START_TEST(esewa_uuid_from_intent)
{
	char uuid[KBP_ESEWA_UUID_MAX + 1];

	CK_OK(kbp__esewa_uuid_from_intent(uuid, "pi_01HZX:a.b@c"));
	ck_assert_str_eq(uuid, "pi-01HZX-a-b-c");
	ck_assert_int_eq(kbp__esewa_uuid_valid(uuid), 1);
	ck_assert_int_eq(kbp__esewa_uuid_valid("a_b"), 0);
	ck_assert_int_eq(kbp__esewa_uuid_valid(""), 0);
}
END_TEST

static int status_parse(const char *body, kbp_lookup_result *r)
{
	memset(r, 0, sizeof(*r));
	kbp__lookup_clear(r);
	memset(r, 0, sizeof(*r));
	return kbp__esewa_status_parse(200, body, strlen(body), "123", "EPAYTEST", r);
}

START_TEST(esewa_status_answers)
{
	kbp_lookup_result r;

	CK_OK(status_parse("{\"product_code\":\"EPAYTEST\",\"transaction_uuid\":\"123\","
	                   "\"total_amount\":100.0,\"status\":\"COMPLETE\",\"ref_id\":\"0001TS9\"}", &r));
	ck_assert_int_eq(r.status, KBP_GATEWAY_COMPLETED);
	ck_assert_int_eq(r.amount_minor, 10000);
	ck_assert_str_eq(r.external_txn_id, "0001TS9");
	ck_assert_str_eq(r.currency, "NPR");
	kbp__lookup_clear(&r);
	/* The older camelCase shape. */
	CK_OK(status_parse("{\"productCode\":\"EPAYTEST\",\"transactionUuid\":\"123\","
	                   "\"totalAmount\":\"1,000.0\",\"status\":\"COMPLETE\",\"refId\":\"R1\"}", &r));
	ck_assert_int_eq(r.amount_minor, 100000);
	ck_assert_str_eq(r.external_txn_id, "R1");
	kbp__lookup_clear(&r);
	CK_OK(status_parse("{\"product_code\":\"EPAYTEST\",\"transaction_uuid\":\"123\","
	                   "\"status\":\"AMBIGUOUS\",\"ref_id\":null,\"total_amount\":100.0}", &r));
	ck_assert_int_eq(r.status, KBP_GATEWAY_AMBIGUOUS);
	kbp__lookup_clear(&r);
	/* The outage answer: HTTP 200 and no status. */
	CK_RC(status_parse("{\"code\":0,\"error_message\":\"Service unavailable\"}", &r), KBP_EGATEWAY);
	CK_RC(status_parse("{\"status\":\"COMPLETE\",\"transaction_uuid\":\"999\",\"total_amount\":1}", &r),
	      KBP_EGATEWAY);
	CK_RC(status_parse("{\"status\":\"COMPLETE\",\"transaction_uuid\":\"123\",\"product_code\":\"OTHER\","
	                   "\"total_amount\":1}", &r),
	      KBP_EGATEWAY);
	CK_RC(status_parse("{\"status\":\"COMPLETE\",\"transaction_uuid\":\"123\",\"product_code\":\"EPAYTEST\"}",
	                   &r),
	      KBP_EPARSE);
	CK_RC(status_parse("{\"status\":\"WHATEVER\"}", &r), KBP_EGATEWAY);
	CK_RC(status_parse("{\"status\": COMPLETE", &r), KBP_EPARSE);
	CK_RC(status_parse("[]", &r), KBP_EPARSE);
	CK_RC(status_parse("{\"status\":\"PENDING\",\"status\":\"COMPLETE\",\"total_amount\":1}", &r),
	      KBP_EPARSE);
	CK_RC(kbp__esewa_status_parse(503, "{}", 2, "123", "EPAYTEST", &r), KBP_EGATEWAY);
	kbp__lookup_clear(&r);
}
END_TEST

/* An answer is about our payment only when it says so: a missing name is refused. */
START_TEST(esewa_status_must_name_the_payment)
{
	static const struct {
		const char *body;
		const char *message;
	} unnamed[] = {
		{ "{\"product_code\":\"EPAYTEST\",\"total_amount\":100.0,\"status\":\"COMPLETE\","
		  "\"ref_id\":\"R1\"}",
		  "eSewa status API answered without a transaction_uuid" },
		{ "{\"transaction_uuid\":\"123\",\"total_amount\":100.0,\"status\":\"COMPLETE\","
		  "\"ref_id\":\"R1\"}",
		  "eSewa status API answered without a product_code" },
		{ "{\"product_code\":\"EPAYTEST\",\"transaction_uuid\":null,\"total_amount\":100.0,"
		  "\"status\":\"COMPLETE\",\"ref_id\":\"R1\"}",
		  "eSewa status API answered without a transaction_uuid" },
		{ "{\"product_code\":\"EPAYTEST\",\"transaction_uuid\":123,\"total_amount\":100.0,"
		  "\"status\":\"COMPLETE\",\"ref_id\":\"R1\"}",
		  "eSewa status API answered without a transaction_uuid" },
		{ "{\"status\":\"CANCELED\",\"total_amount\":100.0}",
		  "eSewa status API answered without a transaction_uuid" },
	};
	kbp_lookup_result r;

	for (size_t i = 0; i < sizeof(unnamed) / sizeof(unnamed[0]); i++) {
		CK_RC(status_parse(unnamed[i].body, &r), KBP_EGATEWAY);
		ck_assert_str_eq(kbp_error_last()->message, unnamed[i].message);
		kbp__lookup_clear(&r);
	}
	/* Either spelling names it. */
	CK_OK(status_parse("{\"productCode\":\"EPAYTEST\",\"transactionUuid\":\"123\","
	                   "\"totalAmount\":100,\"status\":\"PENDING\"}", &r));
	ck_assert_int_eq(r.status, KBP_GATEWAY_PENDING);
	kbp__lookup_clear(&r);
}
END_TEST

static int lookup_parse(int http, const char *body, kbp_lookup_result *r)
{
	memset(r, 0, sizeof(*r));
	return kbp__khalti_lookup_parse(http, body, strlen(body), "PX1", r);
}

START_TEST(khalti_lookup_answers)
{
	static const struct {
		int http;
		const char *status;
		kbp_gateway_status want;
	} ok[] = {
		{ 200, "Completed", KBP_GATEWAY_COMPLETED },
		{ 200, "Pending", KBP_GATEWAY_PENDING },
		{ 200, "Initiated", KBP_GATEWAY_PENDING },
		{ 200, "Refunded", KBP_GATEWAY_REFUNDED },
		{ 200, "Partially Refunded", KBP_GATEWAY_PARTIALLY_REFUNDED },
		{ 200, "Partially refunded", KBP_GATEWAY_PARTIALLY_REFUNDED },
		{ 400, "Expired", KBP_GATEWAY_EXPIRED },
		{ 400, "User canceled", KBP_GATEWAY_CANCELED },
	};
	kbp_lookup_result r;
	char body[256];

	for (size_t i = 0; i < sizeof(ok) / sizeof(ok[0]); i++) {
		snprintf(body, sizeof(body),
		         "{\"pidx\":\"PX1\",\"total_amount\":1000,\"status\":\"%s\",\"transaction_id\":%s,"
		         "\"fee\":0,\"refunded\":false}",
		         ok[i].status, ok[i].want == KBP_GATEWAY_COMPLETED ? "\"T1\"" : "null");
		CK_OK(lookup_parse(ok[i].http, body, &r));
		ck_assert_int_eq(r.status, ok[i].want);
		ck_assert_int_eq(r.amount_minor, 1000);
		kbp__lookup_clear(&r);
	}
	CK_OK(lookup_parse(404, "{\"detail\":\"Not found.\",\"error_key\":\"validation_error\"}", &r));
	ck_assert_int_eq(r.status, KBP_GATEWAY_NOT_FOUND);
	CK_RC(lookup_parse(401, "{\"detail\":\"Invalid token.\",\"status_code\":401}", &r), KBP_EINVAL);
	CK_RC(lookup_parse(500, "", &r), KBP_EGATEWAY);
	CK_RC(lookup_parse(502, "<html>", &r), KBP_EGATEWAY);
	CK_RC(lookup_parse(200, "{\"status\":", &r), KBP_EPARSE);
	CK_RC(lookup_parse(200, "{\"detail\":\"oops\"}", &r), KBP_EGATEWAY);
	CK_RC(lookup_parse(400, "{\"pidx\":[\"required\"],\"error_key\":\"validation_error\"}", &r),
	      KBP_EGATEWAY);
	CK_RC(lookup_parse(400, "{\"status\":\"Completed\",\"total_amount\":1000}", &r), KBP_EGATEWAY);
	CK_RC(lookup_parse(200, "{\"pidx\":\"OTHER\",\"status\":\"Completed\",\"total_amount\":1000}", &r),
	      KBP_EGATEWAY);
	CK_RC(lookup_parse(200, "{\"pidx\":\"PX1\",\"status\":\"Completed\",\"total_amount\":10.5}", &r),
	      KBP_EPARSE);
	CK_RC(lookup_parse(200, "{\"pidx\":\"PX1\",\"status\":\"Completed\"}", &r), KBP_EPARSE);
}
END_TEST

START_TEST(khalti_lookup_must_name_the_payment)
{
	static const struct {
		int http;
		const char *body;
	} unnamed[] = {
		{ 200, "{\"total_amount\":1000,\"status\":\"Completed\",\"transaction_id\":\"T1\"}" },
		{ 200, "{\"pidx\":null,\"total_amount\":1000,\"status\":\"Completed\","
		       "\"transaction_id\":\"T1\"}" },
		{ 200, "{\"pidx\":1,\"total_amount\":1000,\"status\":\"Completed\"}" },
		{ 400, "{\"total_amount\":1000,\"status\":\"User canceled\"}" },
		{ 200, "{\"total_amount\":1000,\"status\":\"Refunded\"}" },
	};
	kbp_lookup_result r;

	for (size_t i = 0; i < sizeof(unnamed) / sizeof(unnamed[0]); i++) {
		CK_RC(lookup_parse(unnamed[i].http, unnamed[i].body, &r), KBP_EGATEWAY);
		ck_assert_str_eq(kbp_error_last()->message, "Khalti lookup answered without a pidx");
		kbp__lookup_clear(&r);
	}
}
END_TEST

START_TEST(khalti_return_hint)
{
	static const char ret[] = "pidx=bZQLD9wRVWo4CdESSfuSsB&txnId=4H7AhoXDJWg5WjrcPT9ixW&amount=1000"
	                          "&total_amount=1000&status=User+canceled&mobile=98XXXXX904"
	                          "&tidx=4H7AhoXDJWg5WjrcPT9ixW&purchase_order_id=pi_X"
	                          "&purchase_order_name=test&transaction_id=4H7AhoXDJWg5WjrcPT9ixW";
	kbp_callback_claim c = { NULL, NULL, -1, KBP_GATEWAY_PENDING };

	CK_OK(kbp__khalti_return_parse(ret, strlen(ret), &c));
	ck_assert_str_eq(c.gateway_ref, "bZQLD9wRVWo4CdESSfuSsB");
	ck_assert_str_eq(c.external_txn_id, "4H7AhoXDJWg5WjrcPT9ixW");
	ck_assert_int_eq(c.amount_minor, 1000);
	ck_assert_int_eq(c.status, KBP_GATEWAY_CANCELED);
	kbp__claim_clear(&c);
	memset(&c, 0, sizeof(c));
	CK_RC(kbp__khalti_return_parse("?message=Payment+failed", 23, &c), KBP_EPARSE);
	CK_RC(kbp__khalti_return_parse("pidx=a%zz", 9, &c), KBP_EPARSE);
	CK_RC(kbp__khalti_return_parse("pidx=a&pidx=b", 13, &c), KBP_EPARSE);
	CK_RC(kbp__khalti_return_parse("pidx=a_b", 8, &c), KBP_EPARSE);
	kbp__claim_clear(&c);
}
END_TEST

START_TEST(json_scanner)
{
	static const char j[] = " { \"a\" : \"x\\\"y\", \"n\":-12.50e1 ,\"o\":{\"a\":[1,\"}\"]},\"t\":true } ";
	kbp__json_raw v;

	ck_assert_int_eq(kbp__json_members_check(j, strlen(j)), 0);
	ck_assert_int_eq(kbp__json_raw_get(j, strlen(j), "n", &v), 1);
	ck_assert_int_eq(v.kind, KBP_JSON_NUMBER);
	ck_assert_int_eq((int)v.len, 8);
	ck_assert_int_eq(memcmp(v.text, "-12.50e1", 8), 0);
	ck_assert_int_eq(kbp__json_raw_get(j, strlen(j), "a", &v), 1);
	ck_assert_int_eq(v.escaped, 1);
	ck_assert_int_eq(kbp__json_raw_get(j, strlen(j), "t", &v), 1);
	ck_assert_int_eq(v.kind, KBP_JSON_OTHER);
	ck_assert_int_eq(kbp__json_raw_get(j, strlen(j), "zz", &v), 0);
	ck_assert_int_eq(kbp__json_members_check("{\"a\":1,\"a\":2}", 13), -1);
	ck_assert_int_eq(kbp__json_members_check("{\"a\":1} x", 9), -1);
	ck_assert_int_eq(kbp__json_members_check("{\"a\":", 5), -1);
}
END_TEST

/*
 * The sandbox's lookup answers from what its pay page recorded: a claim
 * carrying another transaction id does not change the answer's.
 */
START_TEST(sandbox_external_id_comes_from_its_record)
{
	gw g;
	kbp_intent *in;
	kbp_gateway *sb;
	kbp_callback_claim claim = { NULL, NULL, -1, KBP_GATEWAY_PENDING };
	kbp_lookup_result truth = { KBP_GATEWAY_PENDING, -1, "", NULL };
	char *cb = NULL, *recorded;

	gw_open(&g);
	CK_OK(kbp_gateway_add_sandbox(g.p, NULL));
	sb = kbp__gateway_find(g.p, "sandbox");
	in = gw_intent(&g, "sandbox", 1500, 1);
	/* Not paid yet: the record has no transaction, whatever a claim says. */
	claim.gateway_ref = strdup(in->gateway_ref);
	claim.external_txn_id = strdup("sbxtxn-claimed");
	claim.amount_minor = in->amount_minor;
	claim.status = KBP_GATEWAY_COMPLETED;
	CK_OK(sb->lookup(sb, &claim, &truth));
	ck_assert_int_eq(truth.status, KBP_GATEWAY_PENDING);
	ck_assert_ptr_null(truth.external_txn_id);
	kbp__lookup_clear(&truth);
	/* Paid: the recorded transaction id, not the claim's. */
	CK_OK(kbp_sandbox_pay(&cb, g.p, "sandbox", in->id, KBP_SANDBOX_COMPLETED, -1));
	kbp__claim_clear(&claim);
	memset(&claim, 0, sizeof(claim));
	CK_OK(sb->parse_callback(sb, cb, strlen(cb), &claim));
	recorded = strdup(claim.external_txn_id);
	free(claim.external_txn_id);
	claim.external_txn_id = strdup("sbxtxn-claimed");
	memset(&truth, 0, sizeof(truth));
	CK_OK(sb->lookup(sb, &claim, &truth));
	ck_assert_int_eq(truth.status, KBP_GATEWAY_COMPLETED);
	ck_assert_str_eq(truth.external_txn_id, recorded);
	ck_assert_str_ne(truth.external_txn_id, "sbxtxn-claimed");
	kbp__lookup_clear(&truth);
	kbp__claim_clear(&claim);
	free(recorded);
	free(cb);
	kbp_intent_free(in);
	gw_close(&g);
}
END_TEST

/* The libcurl transport's error classes, against the fake and a closed port. */
START_TEST(http_transport_errors)
{
	fake_gateway *f = fake_start("k");
	const kbp_http_transport *t = kbp_http_default();
	kbp_http_request req = { KBP_HTTP_VERSION, "GET", NULL, NULL, 0, NULL, 0, 1000, 500, 65536 };
	kbp_http_response resp;
	char url[256];

	ck_assert_ptr_nonnull(f);
	ck_assert_ptr_nonnull(t);
	snprintf(url, sizeof(url), "%s/control?ref=r1&answer=completed", fake_url(f));
	req.url = url;
	CK_OK(kbp__http_send(t, &req, &resp));
	ck_assert_int_eq(resp.status, 200);
	ck_assert_str_eq(resp.body, "{}");
	kbp_http_response_clear(&resp);
	/* An HTTP error status is an answer, not a transport error. */
	snprintf(url, sizeof(url), "%s/nowhere", fake_url(f));
	CK_OK(kbp__http_send(t, &req, &resp));
	ck_assert_int_eq(resp.status, 404);
	kbp_http_response_clear(&resp);
	/* Too slow, too big. */
	snprintf(url, sizeof(url), "%s/esewa/status/?product_code=P&total_amount=1&transaction_uuid=slow",
	         fake_url(f));
	fake_set_answer(f, "slow", FAKE_SLOW);
	CK_RC(kbp__http_send(t, &req, &resp), KBP_ETIMEOUT);
	ck_assert_ptr_null(resp.body);
	usleep(FAKE_SLOW_MS * 1000);
	snprintf(url, sizeof(url), "%s/esewa/status/?product_code=P&total_amount=1&transaction_uuid=huge",
	         fake_url(f));
	fake_set_answer(f, "huge", FAKE_HUGE);
	CK_RC(kbp__http_send(t, &req, &resp), KBP_ETOOBIG);
	/* Nobody listening: a gateway error, distinct from a timeout. */
	snprintf(url, sizeof(url), "http://127.0.0.1:%d/", fake_port(f));
	fake_stop(f);
	CK_RC(kbp__http_send(t, &req, &resp), KBP_EGATEWAY);
	/* Only http and https; a header cannot smuggle a line break. */
	req.url = "ftp://127.0.0.1/x";
	CK_RC(kbp__http_send(t, &req, &resp), KBP_EINVAL);
	req.url = "file:///etc/passwd";
	CK_RC(kbp__http_send(t, &req, &resp), KBP_EINVAL);
	{
		const kbp_http_header h = { "X-Test", "a\r\nInjected: 1" };
		req.url = url;
		req.headers = &h;
		req.n_headers = 1;
		CK_RC(kbp__http_send(t, &req, &resp), KBP_EINVAL);
	}
}
END_TEST

Suite *units_suite(void)
{
	Suite *s = suite_create("units");
	TCase *tc = tcase_create("protocol");

	tcase_add_test(tc, esewa_form_vector);
	tcase_add_test(tc, esewa_documented_callback_verifies);
	tcase_add_test(tc, esewa_number_literal_is_hashed_as_written);
	tcase_add_test(tc, esewa_duplicate_and_escaped_members_refused);
	tcase_add_test(tc, esewa_transaction_code_must_be_signed);
	tcase_add_test(tc, esewa_amounts_convert_exactly);
	tcase_add_test(tc, esewa_uuid_from_intent);
	tcase_add_test(tc, esewa_status_answers);
	tcase_add_test(tc, esewa_status_must_name_the_payment);
	tcase_add_test(tc, khalti_lookup_answers);
	tcase_add_test(tc, khalti_lookup_must_name_the_payment);
	tcase_add_test(tc, khalti_return_hint);
	tcase_add_test(tc, json_scanner);
	tcase_add_test(tc, sandbox_external_id_comes_from_its_record);
	tcase_set_timeout(tc, 30);
	tcase_add_test(tc, http_transport_errors);
	suite_add_tcase(s, tc);
	return s;
}
