/* SPDX-License-Identifier: MIT */
/*
 * Unit tests of the internal helpers: crypto, ids, UTF-8, the hash map, backoff,
 * validation, redaction; and the worker's outcome writes (test_outcomes.c).
 */
#include <check.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "core/backoff.h"
#include "core/validate.h"
#include "kbpipeline.h"
#include "util/crypto.h"
#include "util/hmap.h"
#include "util/ids.h"
#include "util/redact.h"
#include "util/strings.h"
#include "util/topics.h"
#include "util_tests.h"

static void hmac_b64(char out[KBP_HMAC_B64_SIZE], const char *key, const char *msg)
{
	unsigned char mac[KBP_HMAC_BYTES];
	kbp_hmac h;

	kbp_hmac_init(&h, key, strlen(key));
	kbp_hmac_update(&h, msg, strlen(msg));
	kbp_hmac_final(&h, mac);
	kbp_base64_encode(out, KBP_HMAC_B64_SIZE, mac, sizeof(mac));
}

/* eSewa's published ePay v2 vector, with the public UAT secret. */
START_TEST(hmac_matches_esewa_form_vector)
{
	char sig[KBP_HMAC_B64_SIZE];

	hmac_b64(sig, "8gBm/:&EnhH.1/q", "total_amount=110,transaction_uuid=241028,product_code=EPAYTEST");
	ck_assert_str_eq(sig, "i94zsd3oXF6ZsSr/kGqT4sSzYQzjj1W/waxjWyRwaME=");
}
END_TEST

START_TEST(hmac_matches_esewa_callback_vector)
{
	char sig[KBP_HMAC_B64_SIZE];

	hmac_b64(sig, "8gBm/:&EnhH.1/q",
	         "transaction_code=000AWEO,status=COMPLETE,total_amount=1000.0,"
	         "transaction_uuid=250610-162413,product_code=EPAYTEST,"
	         "signed_field_names=transaction_code,status,total_amount,transaction_uuid,"
	         "product_code,signed_field_names");
	ck_assert_str_eq(sig, "62GcfZTmVkzhtUeh+QJ1AqiJrjoWWGof3U+eTPTZ7fA=");
}
END_TEST

START_TEST(hmac_changes_with_literal_text)
{
	char a[KBP_HMAC_B64_SIZE], b[KBP_HMAC_B64_SIZE];

	hmac_b64(a, "secret", "total_amount=110");
	hmac_b64(b, "secret", "total_amount=110.0");
	ck_assert_str_ne(a, b);
}
END_TEST

START_TEST(base64_round_trips_and_is_strict)
{
	unsigned char out[16];
	char enc[16];

	kbp_base64_encode(enc, sizeof(enc), "hello", 5);
	ck_assert_str_eq(enc, "aGVsbG8=");
	ck_assert_int_eq(kbp_base64_decode(out, sizeof(out), "aGVsbG8=", 8), 5);
	ck_assert_int_eq(memcmp(out, "hello", 5), 0);
	ck_assert_int_eq(kbp_base64_decode(out, sizeof(out), "aGVsbG8", 7), -1);   /* no padding */
	ck_assert_int_eq(kbp_base64_decode(out, sizeof(out), "aGVs bG8=", 9), -1); /* space */
	ck_assert_int_eq(kbp_base64_decode(out, sizeof(out), "aGVs*G8=", 8), -1);  /* bad char */
	ck_assert_int_eq(kbp_base64_decode(out, 2, "aGVsbG8=", 8), -1);            /* too small */
}
END_TEST

START_TEST(ct_equal_compares_length_and_bytes)
{
	ck_assert(kbp_ct_equal("abc", 3, "abc", 3));
	ck_assert(!kbp_ct_equal("abc", 3, "abd", 3));
	ck_assert(!kbp_ct_equal("abc", 3, "abcd", 4));
}
END_TEST

START_TEST(ids_have_prefix_and_alphabet)
{
	char a[KBP_GEN_ID_SIZE], b[KBP_GEN_ID_SIZE], n[KBP_GEN_ID_SIZE];

	kbp_id_generate(a, "pi_");
	kbp_id_generate(b, "pi_");
	ck_assert_uint_eq(strlen(a), 23);
	ck_assert_int_eq(strncmp(a, "pi_", 3), 0);
	ck_assert_str_ne(a, b);
	ck_assert_uint_eq(strspn(a + 3, "0123456789abcdefghjkmnpqrstvwxyz"), 20);
	kbp_order_number_generate(n);
	ck_assert_int_eq(strncmp(n, "ORD-", 4), 0);
	ck_assert_uint_eq(strspn(n + 4, "0123456789ABCDEFGHJKMNPQRSTVWXYZ"), 12);
	ck_assert_int_eq(kbp__check_id(a, "id"), 0);
}
END_TEST

START_TEST(utf8_validation)
{
	ck_assert(kbp_utf8_valid("plain", 5));
	ck_assert(kbp_utf8_valid("\xe0\xa4\xa8\xe0\xa5\x87", 6));        /* Devanagari */
	ck_assert(kbp_utf8_valid("\xf0\x9f\x98\x80", 4));                /* emoji */
	ck_assert(!kbp_utf8_valid("\xc0\xaf", 2));                       /* overlong */
	ck_assert(!kbp_utf8_valid("\xed\xa0\x80", 3));                   /* surrogate */
	ck_assert(!kbp_utf8_valid("\xf4\x90\x80\x80", 4));               /* > U+10FFFF */
	ck_assert(!kbp_utf8_valid("\xe0\xa4", 2));                       /* truncated */
	ck_assert(!kbp_utf8_valid("\xff", 1));
}
END_TEST

START_TEST(utf8_prefix_and_boundary)
{
	const char *euro = "a\xe2\x82\xac";                             /* "a€" */

	ck_assert_uint_eq(kbp_utf8_valid_prefix("plain", 5), 5);
	ck_assert_uint_eq(kbp_utf8_valid_prefix("ok\xff rest", 8), 2);
	ck_assert_uint_eq(kbp_utf8_valid_prefix(euro, 3), 1);
	ck_assert_uint_eq(kbp_utf8_valid_prefix(euro, 4), 4);
	ck_assert_uint_eq(kbp_utf8_valid_prefix("\xed\xa0\x80", 3), 0);
	/* A cut inside a character moves back to its start; elsewhere it stays. */
	for (size_t len = 2; len < 4; len++)
		ck_assert_uint_eq(kbp_utf8_boundary(euro, len), 1);
	ck_assert_uint_eq(kbp_utf8_boundary(euro, 4), 4);
	ck_assert_uint_eq(kbp_utf8_boundary(euro, 1), 1);
	ck_assert_uint_eq(kbp_utf8_boundary("x\xf0\x9f\x98", 4), 1);
	ck_assert_uint_eq(kbp_utf8_boundary("x\xf0\x9f\x98\x80", 5), 5);
	ck_assert_uint_eq(kbp_utf8_boundary("", 0), 0);
	/* Bytes that are not UTF-8 at all are not this function's to judge. */
	ck_assert_uint_eq(kbp_utf8_boundary("\x80\x80\x80\x80\x80", 5), 5);
}
END_TEST

START_TEST(hmap_put_get_delete_and_grow)
{
	enum { N = 5000 };
	static char keys[N][16];
	kbp_hmap m;
	size_t pos = 0, seen = 0;

	kbp_hmap_init(&m);
	for (int i = 0; i < N; i++) {
		snprintf(keys[i], sizeof(keys[i]), "k%d", i);
		ck_assert_int_eq(kbp_hmap_put(&m, keys[i], keys[i]), 0);
	}
	ck_assert_uint_eq(m.used, N);
	for (int i = 0; i < N; i += 2)
		ck_assert_ptr_eq(kbp_hmap_del(&m, keys[i]), keys[i]);
	for (int i = 0; i < N; i++)
		ck_assert_ptr_eq(kbp_hmap_get(&m, keys[i]), i % 2 ? keys[i] : NULL);
	while (kbp_hmap_next(&m, &pos, NULL, NULL))
		seen++;
	ck_assert_uint_eq(seen, N / 2);
	ck_assert_ptr_null(kbp_hmap_del(&m, "absent"));
	kbp_hmap_clear(&m);
}
END_TEST

START_TEST(backoff_grows_with_jitter_and_cap)
{
	for (int i = 0; i < 200; i++) {
		int64_t d1 = kbp__backoff_delay_ms(1, 1000, 3600000, 10);
		int64_t d3 = kbp__backoff_delay_ms(3, 1000, 3600000, 10);
		ck_assert(d1 >= 900 && d1 <= 1100);
		ck_assert(d3 >= 72900 && d3 <= 89100);
	}
	ck_assert_int_eq(kbp__backoff_delay_ms(2, 1000, 3600000, 0), 16000);
	ck_assert_int_eq(kbp__backoff_delay_ms(1000, 1000, 3600000, 0), 3600000);
	ck_assert_int_eq(kbp__backoff_delay_ms(1000, 86400000, 3600000, 0), 3600000);
}
END_TEST

START_TEST(keyed_waits_wake_for_their_key_only)
{
	kbp_topics t;
	uint64_t seen = 0;

	kbp_topics_init(&t);
	ck_assert_int_eq(kbp_topics_wait_key(&t, 1, "pi_a", &seen, 0), 0);    /* first look */
	kbp_topics_bump_key(&t, 1, "pi_b");
	ck_assert_int_eq(kbp_topics_wait_key(&t, 1, "pi_a", &seen, 20), KBP_ETIMEOUT);
	kbp_topics_bump_key(&t, 1, "pi_b");
	kbp_topics_bump_key(&t, 1, "pi_a");
	ck_assert_int_eq(kbp_topics_wait_key(&t, 1, "pi_a", &seen, 20), 0);
	ck_assert_int_eq(kbp_topics_wait_key(&t, 1, "pi_a", &seen, 0), KBP_ETIMEOUT);
	kbp_topics_bump(&t, 1);                                  /* every key */
	ck_assert_int_eq(kbp_topics_wait_key(&t, 1, "pi_a", &seen, 20), 0);
	/* A waiter further behind than the topic remembers looks, whatever the keys. */
	for (int i = 0; i < KBP_TOPIC_KEYS; i++)
		kbp_topics_bump_key(&t, 1, "pi_b");
	ck_assert_int_eq(kbp_topics_wait_key(&t, 1, "pi_a", &seen, 20), 0);
	/* A plain wait sees every change; the other topic is untouched. */
	ck_assert_int_eq(kbp_topics_wait(&t, 1, &seen, 0), KBP_ETIMEOUT);
	kbp_topics_bump_key(&t, 1, "pi_b");
	ck_assert_int_eq(kbp_topics_wait(&t, 1, &seen, 20), 0);
	seen = 0;
	ck_assert_int_eq(kbp_topics_wait(&t, 0, &seen, 0), 0);
	ck_assert_int_eq(kbp_topics_wait(&t, 0, &seen, 0), KBP_ETIMEOUT);
	kbp_topics_destroy(&t);
}
END_TEST

typedef struct key_waiter {
	kbp_topics *t;
	const char *key;
	uint64_t seen;
	int rc;
	pthread_t thread;
} key_waiter;

static void *wait_for_key(void *arg)
{
	key_waiter *w = arg;

	w->rc = kbp_topics_wait_key(w->t, 1, w->key, &w->seen, 60000);
	return NULL;
}

static void start_waiter(key_waiter *w, kbp_topics *t, const char *key)
{
	*w = (key_waiter){ .t = t, .key = key, .rc = -1 };
	ck_assert_int_eq(kbp_topics_wait_key(t, 1, key, &w->seen, 0), 0); /* first look */
	ck_assert_int_eq(pthread_create(&w->thread, NULL, wait_for_key, w), 0);
}

/* The waiter returns well before its own 60 s timeout: the change woke it. */
static void woken(key_waiter *w)
{
	struct timespec by;

	clock_gettime(CLOCK_REALTIME, &by);
	by.tv_sec += 10;
	ck_assert_int_eq(pthread_timedjoin_np(w->thread, NULL, &by), 0);
	ck_assert_int_eq(w->rc, 0);
}

/*
 * Keyed waiters sleep apart by their key's hash: a change of one key reaches
 * its own waiters, and a change of every key (kbp_topics_bump, and the
 * one-waiter kbp_topics_bump_one) reaches every keyed waiter, whatever shard
 * it sleeps on.
 */
START_TEST(keyed_waiters_in_every_shard_are_woken)
{
	char keys[KBP_TOPIC_SHARDS][16];
	key_waiter w[KBP_TOPIC_SHARDS];
	kbp_topics t;

	kbp_topics_init(&t);
	for (int i = 0; i < KBP_TOPIC_SHARDS; i++) {
		snprintf(keys[i], sizeof(keys[i]), "pi_%d", i);
		start_waiter(&w[i], &t, keys[i]);
	}
	kbp_topics_bump_key(&t, 1, keys[7]);
	woken(&w[7]);
	start_waiter(&w[7], &t, keys[7]);
	kbp_topics_bump_one(&t, 1);
	for (int i = 0; i < KBP_TOPIC_SHARDS; i++)
		woken(&w[i]);
	for (int i = 0; i < KBP_TOPIC_SHARDS; i++)
		start_waiter(&w[i], &t, keys[i]);
	kbp_topics_bump(&t, 1);
	for (int i = 0; i < KBP_TOPIC_SHARDS; i++)
		woken(&w[i]);
	kbp_topics_destroy(&t);
}
END_TEST

START_TEST(validation_codes)
{
	char long_id[KBP_ID_MAX + 2];

	memset(long_id, 'a', sizeof(long_id) - 1);
	long_id[sizeof(long_id) - 1] = '\0';
	ck_assert_int_eq(kbp__check_id(NULL, "id"), KBP_EINVAL);
	ck_assert_int_eq(kbp__check_id("", "id"), KBP_EINVAL);
	ck_assert_int_eq(kbp__check_id("a b", "id"), KBP_EINVAL);
	ck_assert_int_eq(kbp__check_id("x'; DROP TABLE", "id"), KBP_EINVAL);
	ck_assert_int_eq(kbp__check_id(long_id, "id"), KBP_ETOOBIG);
	long_id[KBP_ID_MAX] = '\0';
	ck_assert_int_eq(kbp__check_id(long_id, "id"), 0);
	ck_assert_int_eq(kbp__check_name("Chiya \xe0\xa4\x9a", "name"), 0);
	ck_assert_int_eq(kbp__check_name("bad\xff", "name"), KBP_EPARSE);
	ck_assert_int_eq(kbp__check_name("tab\there", "name"), KBP_EINVAL);
	ck_assert_int_eq(kbp__check_currency("NPR"), 0);
	ck_assert_int_eq(kbp__check_currency("npr"), KBP_EINVAL);
	ck_assert_int_eq(kbp__check_currency("NPRX"), KBP_EINVAL);
	ck_assert_int_eq(kbp__check_qty(0), KBP_EINVAL);
	ck_assert_int_eq(kbp__check_qty(-1), KBP_EINVAL);
	ck_assert_int_eq(kbp__check_qty(KBP_QTY_MAX + 1), KBP_EINVAL);
	ck_assert_int_eq(kbp__check_url("https://shop.example/ok", "url"), 0);
	ck_assert_int_eq(kbp__check_url("javascript:alert(1)", "url"), KBP_EINVAL);
	ck_assert_int_eq(kbp__check_url("https://a b", "url"), KBP_EINVAL);
	ck_assert_int_eq(kbp__check_json_object("{\"a\":1}", 100, "payload"), 0);
	ck_assert_int_eq(kbp__check_json_object("[1]", 100, "payload"), KBP_EPARSE);
	ck_assert_int_eq(kbp__check_json_object("{\"a\":", 100, "payload"), KBP_EPARSE);
	ck_assert_int_eq(kbp__check_json_object("{\"a\":\"0123456789\"}", 8, "payload"), KBP_ETOOBIG);
	ck_assert_int_eq(kbp__check_job_kind("send_email"), 0);
	ck_assert_int_eq(kbp__check_job_kind("Send"), KBP_EINVAL);
}
END_TEST

#define PW "S3cr3t-Pw-xyzzy"

/* The connection string fit to print. */
static const char *redacted(const char *conninfo)
{
	static char out[512];

	return kbp_redact_message(out, sizeof(out), conninfo, conninfo, NULL);
}

static const char *redacted_msg(const char *message, const char *conninfo, const char *password)
{
	static char out[512];

	return kbp_redact_message(out, sizeof(out), message, conninfo, password);
}

START_TEST(redact_uri_passwords)
{
	static const char *const cases[][2] = {
		{ "postgresql://shop:" PW "@host/db", "postgresql://shop:***@host/db" },
		{ "postgres://shop:" PW "@host:5433/db?sslmode=require",
		  "postgres://shop:***@host:5433/db?sslmode=require" },
		{ "postgresql://shop:" PW "@[::1/db", "postgresql://shop:***@[::1/db" },
		{ "postgresql://shop:" PW "@[]/db", "postgresql://shop:***@[]/db" },
		{ "postgresql://shop:" PW "%zz@host/db", "postgresql://shop:***@host/db" },
		{ "postgresql://shop:S3cr3t%2DPw@host/db", "postgresql://shop:***@host/db" },
		/* Unencoded '/', '?', '@', '&' and ':' that make libpq misread the URI. */
		{ "postgresql://shop:S3/cr?3t@Pw&x:y@host/db", "postgresql://shop:***@host/db" },
		{ "postgresql://shop@host/db?sslmode=disable&password=" PW "&application_name=a",
		  "postgresql://shop@host/db?sslmode=disable&password=***&application_name=a" },
		{ "postgresql://host/db?pass%77ord=" PW, "postgresql://host/db?pass%77ord=***" },
		{ "postgresql://host/db?oauth_client_secret=" PW "&sslmode=require",
		  "postgresql://host/db?oauth_client_secret=***&sslmode=require" },
		{ "postgresql://host/db?PASSWORD=S3cr3t&sslmode=x", "postgresql://host/db?PASSWORD=***&sslmode=x" },
		{ "postgresql://host/db?password=S3cr3t&Pw=x&port=1", "postgresql://host/db?password=***&port=1" },
		{ "postgresql://host/db?password=S3cr3t&Pw", "postgresql://host/db?password=***" },
		{ "mysql://shop:" PW "@host/db", "mysql://shop:***@host/db" },
		/* Nothing secret: left as it is. */
		{ "postgresql:///kbp?host=/tmp/pg&port=5432&user=postgres",
		  "postgresql:///kbp?host=/tmp/pg&port=5432&user=postgres" },
		{ "postgresql://shop:@host/db", "postgresql://shop:@host/db" },
		{ "postgresql://shop@host/db", "postgresql://shop@host/db" },
		{ "memory:", "memory:" },
	};

	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++)
		ck_assert_str_eq(redacted(cases[i][0]), cases[i][1]);
}
END_TEST

START_TEST(redact_keyword_passwords)
{
	static const char *const cases[][2] = {
		{ "host=h password=" PW " dbname=db", "host=h password=*** dbname=db" },
		{ "host=h password = " PW, "host=h password = ***" },
		{ "host=h password='S3cr3t \\'Pw\\' xyzzy' dbname=db", "host=h password='***' dbname=db" },
		{ "host=h password=S3cr3t\\ Pw port=5432", "host=h password=*** port=5432" },
		/* A space in an unquoted password, an unterminated quote, a missing '='. */
		{ "password=S3cr3t Pw-xyzzy host=h", "password=*** host=h" },
		{ "host=h password='S3cr3t-Pw-xyzzy", "host=h password='***" },
		{ "host=h password=S3cr3t Pw=xyzzy port=1", "host=h password=*** port=1" },
		{ "password='S3cr3t' Pw-xyzzy' port=1", "password='*** port=1" },
		{ "password='S3cr3t'Pw-xyzzy' port=1", "password='*** port=1" },
		{ "host=h password S3cr3t-Pw-xyzzy", "host=h password ***" },
		{ "dbname=postgresql://shop:" PW "@h/db port=1", "dbname=postgresql://shop:***@h/db port=1" },
		{ "host=h sslpassword=" PW " sslmode=require", "host=h sslpassword=*** sslmode=require" },
		{ "host=/tmp/pg port=5432 dbname=kbp", "host=/tmp/pg port=5432 dbname=kbp" },
	};

	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++)
		ck_assert_str_eq(redacted(cases[i][0]), cases[i][1]);
}
END_TEST

/* What libpq says of strings it cannot parse, and what must become of it. */
START_TEST(redact_libpq_messages)
{
	const char *uri = "postgresql://shop:" PW "@[::1/db";

	ck_assert_str_eq(redacted_msg("end of string reached when looking for matching \"]\" in IPv6 "
	                              "host address in URI: \"postgresql://shop:" PW "@[::1/db\"\n",
	                              uri, NULL),
	                 "end of string reached when looking for matching \"]\" in IPv6 host address "
	                 "in URI: \"postgresql://shop:***@[::1/db\"");
	ck_assert_str_eq(redacted_msg("invalid percent-encoded token: \"" PW "%zz\"\n",
	                              "postgresql://shop:" PW "%zz@host/db", NULL),
	                 "invalid percent-encoded token: \"***\"");
	ck_assert_str_eq(redacted_msg("missing \"=\" after \"Pw-xyzzy\" in connection info string\n",
	                              "host=h password=S3cr3t Pw-xyzzy", NULL),
	                 "missing \"=\" after \"***\" in connection info string");
	ck_assert_str_eq(redacted_msg("invalid integer value \"S3\" for connection option \"port\"\n",
	                              "postgresql://shop:S3/cr3t@host/db", NULL),
	                 "invalid integer value \"***\" for connection option \"port\"");
	/* Pieces of a password split where libpq splits a URI, and quotes inside a password. */
	ck_assert_str_eq(redacted_msg("invalid percent-encoded token: \"u,cd%zz\"\n",
	                              "postgresql://u:ab,cd%zz/x@h/db", NULL),
	                 "invalid percent-encoded token: \"u,***\"");
	ck_assert_str_eq(redacted_msg("invalid percent-encoded token: \"-a\";Qz%Z1a\"\n",
	                              "postgresql://u@h/db?password=-a\";Qz%Z1a&sslmode=disable", NULL),
	                 "invalid percent-encoded token: \"***\"");
	ck_assert_str_eq(redacted_msg("missing \"=\" after \"Pw-xyzzy'\" in connection info string\n",
	                              "host=h password='S3cr3t'Pw-xyzzy' port=1", NULL),
	                 "missing \"=\" after \"***\" in connection info string");
	/* Quoted pieces that are not the password's stay. */
	ck_assert_str_eq(redacted_msg("invalid sslmode value: \"bogus\"",
	                              "postgresql://shop:" PW "@h/db?sslmode=bogus", NULL),
	                 "invalid sslmode value: \"bogus\"");
}
END_TEST

START_TEST(redact_literals_anywhere)
{
	/* As written, unescaped, or known only as the password. */
	ck_assert_str_eq(redacted_msg("a " PW " b", "host=h password=" PW, NULL), "a *** b");
	ck_assert_str_eq(redacted_msg("a S3cr3t-Pw b", "postgresql://u:S3cr3t%2DPw@h/db", NULL),
	                 "a *** b");
	ck_assert_str_eq(redacted_msg("a S3cr3t Pw b", "password='S3cr3t\\ Pw'", NULL), "a *** b");
	ck_assert_str_eq(redacted_msg("a " PW " b", NULL, PW), "a *** b");
	ck_assert_str_eq(redacted_msg("a b", NULL, ""), "a b");
	/* Any URI in a message, not only the connection string. */
	ck_assert_str_eq(redacted_msg("see mysql://u:" PW "@h/x, then", NULL, NULL),
	                 "see mysql://u:***@h/x, then");
}
END_TEST

START_TEST(redact_message_shape)
{
	char small[12], many[1024] = "host=h";

	ck_assert_str_eq(redacted_msg("  one\n\ttwo   three \n", NULL, NULL), "one two three");
	ck_assert_str_eq(redacted_msg(NULL, NULL, NULL), "");
	kbp_redact_message(small, sizeof(small), "x postgresql://u:" PW "@h/db", NULL, NULL);
	ck_assert_str_eq(small, "x postgresq");
	ck_assert_ptr_eq(kbp_redact_message(NULL, 0, "x", NULL, NULL), NULL);
	/* More passwords than can be tracked: nothing of the message is shown. */
	for (int i = 0; i < 20; i++)
		snprintf(many + strlen(many), sizeof(many) - strlen(many), " password=p%dw", i);
	ck_assert_str_eq(redacted_msg("p3w", many, NULL), "(withheld: it may hold a password)");
}
END_TEST

static Suite *util_suite(void)
{
	Suite *s = suite_create("util");
	TCase *tc = tcase_create("util");

	tcase_add_test(tc, hmac_matches_esewa_form_vector);
	tcase_add_test(tc, hmac_matches_esewa_callback_vector);
	tcase_add_test(tc, hmac_changes_with_literal_text);
	tcase_add_test(tc, base64_round_trips_and_is_strict);
	tcase_add_test(tc, ct_equal_compares_length_and_bytes);
	tcase_add_test(tc, ids_have_prefix_and_alphabet);
	tcase_add_test(tc, utf8_validation);
	tcase_add_test(tc, utf8_prefix_and_boundary);
	tcase_add_test(tc, hmap_put_get_delete_and_grow);
	tcase_add_test(tc, backoff_grows_with_jitter_and_cap);
	tcase_add_test(tc, validation_codes);
	tcase_add_test(tc, keyed_waits_wake_for_their_key_only);
	tcase_add_test(tc, keyed_waiters_in_every_shard_are_woken);
	suite_add_tcase(s, tc);
	tc = tcase_create("redact");
	tcase_add_test(tc, redact_uri_passwords);
	tcase_add_test(tc, redact_keyword_passwords);
	tcase_add_test(tc, redact_libpq_messages);
	tcase_add_test(tc, redact_literals_anywhere);
	tcase_add_test(tc, redact_message_shape);
	suite_add_tcase(s, tc);
	suite_add_tcase(s, outcomes_tcase());
	return s;
}

int main(void)
{
	SRunner *sr;
	int failed;

	if (kbp_crypto_init() != 0)
		return 1;
	sr = srunner_create(util_suite());
	srunner_run_all(sr, CK_NORMAL);
	failed = srunner_ntests_failed(sr);
	srunner_free(sr);
	return failed ? 1 : 0;
}
