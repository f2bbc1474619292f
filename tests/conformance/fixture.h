/* SPDX-License-Identifier: MIT */
/*
 * Shared fixture of the backend conformance suite.
 *
 * The suite runs unchanged against every storage backend: each test opens its
 * own pipeline on the URI in KBP_TEST_STORAGE (default "memory:"), with a test
 * clock it advances by hand and a sandbox gateway whose secret it knows. Every
 * id a test creates carries a random per-test prefix, so tests sharing one
 * database never see each other's objects; global figures (metrics, audit rows
 * that matched no intent) are compared as deltas.
 *
 * Where a call must fail, tests often preset *out to a non-NULL sentinel
 * (e.g. `kbp_intent *in = (kbp_intent *)&in;`) to check the contract that a
 * failure sets *out to NULL.
 */
#ifndef KBP_CONFORMANCE_FIXTURE_H
#define KBP_CONFORMANCE_FIXTURE_H

#include <check.h>
#include <stdatomic.h>
#include <stddef.h>
#include <stdint.h>
#include <cjson/cJSON.h>
#include <kbpipeline.h>

/* 2026-01-01T00:00:00Z: far from zero so that "now - x" never goes negative. */
#define FX_EPOCH_MS INT64_C(1767225600000)
#define FX_TTL_MS INT64_C(900000)
#define FX_SECRET "conformance secret: deliberately not 32 bytes long"
#define FX_GATEWAY "sandbox"
#define FX_WORKER "fx-worker"

typedef struct fx {
	kbp_pipeline *p;
	_Atomic int64_t now;
	int64_t start;              /* the clock when the test began; it never goes back */
	char prefix[16];            /* random per test, e.g. "t3f9a0c12d4" */
	char *vendor;               /* created on first fx_product() */
	char **ids;                 /* every string fx_id() returned, freed on close */
	size_t n_ids, cap_ids;
} fx;

/* Asserts that expr returns KBP_OK, showing the library's message otherwise. */
#define CK_OK(expr) CK_RC((expr), KBP_OK)
/* Asserts that expr returns exactly the code want. */
#define CK_RC(expr, want)                                                         \
	do {                                                                          \
		int ck_rc_ = (expr);                                                      \
		int ck_want_ = (want);                                                    \
		ck_assert_msg(ck_rc_ == ck_want_, "%s returned %d (%s), expected %d (%s): %s", \
		              #expr, ck_rc_, fx_strerror(ck_rc_), ck_want_,               \
		              fx_strerror(ck_want_), fx_last_message());                  \
	} while (0)

const char *fx_strerror(int code);
const char *fx_last_message(void);

/* Fills o with the suite's defaults: storage from KBP_TEST_STORAGE, the test clock. */
void fx_default_options(fx *f, kbp_options *o);
/* Opens the pipeline with o (storage and clock are forced to the fixture's) and the sandbox. */
void fx_open_with(fx *f, kbp_options *o);
void fx_open(fx *f);
void fx_close(fx *f);
const char *fx_storage_uri(void);

int64_t fx_now(fx *f);
void fx_set_now(fx *f, int64_t ms);
void fx_advance(fx *f, int64_t ms);

/* A per-test unique identifier "<prefix>-<formatted>", owned by the fixture. */
const char *fx_id(fx *f, const char *fmt, ...)
#if defined(__GNUC__)
	__attribute__((format(printf, 2, 3)))
#endif
	;
/* A job kind unique to this test ("k<prefix>-<name>", lowercase). */
const char *fx_kind(fx *f, const char *name);

/* Catalog helpers: a product of the test's vendor, active, price in paisa. */
const char *fx_product(fx *f, const char *name, int64_t price, int64_t on_hand);
kbp_product *fx_product_get(fx *f, const char *sku);
int64_t fx_reserved(fx *f, const char *sku);
int64_t fx_on_hand(fx *f, const char *sku);

/* A new cart with a new customer and one line; returns the cart id. */
const char *fx_cart(fx *f, const char *sku, int64_t qty);
/* Sets a line of a cart created by fx_cart (same customer). */
void fx_cart_set(fx *f, const char *cart_id, const char *sku, int64_t qty);
const char *fx_customer_of(fx *f, const char *cart_id);

/* Creates an intent on the sandbox with a fresh idempotency key; asserts success. */
kbp_intent *fx_intent(fx *f, const char *cart_id);
kbp_intent *fx_intent_get(fx *f, const char *intent_id);
kbp_intent_status fx_intent_status(fx *f, const char *intent_id);

/* The sandbox's signed callback for an intent; free with kbp_free(). */
char *fx_pay(fx *f, const char *intent_id, kbp_sandbox_answer answer, int64_t amount);
/* kbp_payment_verify of a whole NUL-terminated callback on the sandbox. */
int fx_verify(kbp_verification **out, fx *f, const char *callback);
/* Pays the intent's amount and verifies; asserts an accepted, non-duplicate outcome. */
void fx_pay_ok(fx *f, const char *intent_id);
/* A paid, verified intent for one line of sku. */
kbp_intent *fx_paid_intent(fx *f, const char *sku, int64_t qty);

/* Runs kbp_worker_run_once until it finds nothing due; returns jobs run. */
int fx_drain(fx *f);
kbp_order *fx_order_of(fx *f, const char *intent_id);   /* NULL if none */
kbp_order_status *fx_status(fx *f, const char *intent_id);

/*
 * The newest finalize_order job whose unique key is the intent id (found by
 * listing jobs created since the test began); NULL if none. free().
 * count, if not NULL, receives how many such jobs exist.
 */
char *fx_finalize_job(fx *f, const char *intent_id, size_t *count);
kbp_job *fx_job_get(fx *f, const char *job_id);

void fx_metrics(fx *f, kbp_metrics *m);

/* Callback forging: decode a sandbox callback's JSON, re-encode and re-sign. */
cJSON *fx_callback_decode(const char *callback);
char *fx_callback_encode(const cJSON *json);          /* "data=<base64>", free() */
/* Sets "signature" over signed_field_names with the given key. */
void fx_callback_sign(cJSON *json, const char *secret, size_t secret_len);
/* A fully forged sandbox callback signed with the given key; free(). */
char *fx_callback_forge(const char *txn, const char *status, const char *total_amount,
                        const char *currency, const char *gateway_ref,
                        const char *secret, size_t secret_len);
const char *fx_json_str(const cJSON *json, const char *field);

/* Counts audit rows of an intent (NULL: rows that matched no intent). */
size_t fx_verification_count(fx *f, const char *intent_id);
/* What the audit rows that matched no intent say about one gateway_ref. */
typedef struct fx_row {
	int found;                  /* rows with this gateway_ref */
	kbp_verification_outcome outcome;
	int64_t amount_minor;
	int has_intent;
	char reason[256];
} fx_row;
fx_row fx_orphan_row(fx *f, const char *gateway_ref);

/* A NUL-terminated string of n copies of c; free(). */
char *fx_repeat(char c, size_t n);

/* Area registration, one function per source file. */
void add_catalog_tests(Suite *s);
void add_cart_tests(Suite *s);
void add_intent_tests(Suite *s);
void add_verify_tests(Suite *s);
void add_finalize_tests(Suite *s);
void add_jobs_tests(Suite *s);
void add_leases_tests(Suite *s);
void add_maintenance_tests(Suite *s);
void add_orders_tests(Suite *s);
void add_order_watch_tests(Suite *s);
void add_admin_tests(Suite *s);
void add_concurrency_tests(Suite *s);

/*
 * Every area's tests in one suite, which a test program of a backend of its
 * own runs too; prints the storage's scheme.
 */
Suite *fx_conformance_suite(void);

/* A TCase with the suite's timeout. */
TCase *fx_tcase(const char *name);

#endif
