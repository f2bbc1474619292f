/* SPDX-License-Identifier: MIT */
#ifndef KBP_TESTS_GW_H
#define KBP_TESTS_GW_H

#include <check.h>
#include <pthread.h>
#include <stddef.h>
#include <stdint.h>

#include "fake_gateway.h"
#include "kbpipeline.h"

/* eSewa's public UAT secret; Khalti's here is made up for the fake server. */
#define ESEWA_SECRET "8gBm/:&EnhH.1/q"
#define KHALTI_SECRET "test_secret_key_kbp_6d1f0c2e9a7b4853"
#define ESEWA_ENV "KBP_TEST_ESEWA_SECRET"
#define KHALTI_ENV "KBP_TEST_KHALTI_SECRET"
#define PRODUCT_CODE "EPAYTEST"
#define GW_TIMEOUT_MS 500
/* Names the PostgreSQL schema main() migrated for this run, when there is one. */
#define GW_SCHEMA_ENV "KBP_TEST_GW_SCHEMA"

#define CK_RC(expr, code)                                                                 \
	do {                                                                              \
		int rc_ = (expr);                                                         \
		ck_assert_msg(rc_ == (code), "%s: got %d (%s), want %d", #expr, rc_,      \
		              kbp_error_last()->message, (code));                         \
	} while (0)
#define CK_OK(expr) CK_RC(expr, 0)

typedef struct gw {
	kbp_pipeline *p;
	fake_gateway *fake;
	pthread_mutex_t lock;
	char *seen;                 /* every log line and error message, for the secret search */
	size_t seen_len;
	char vendor[32];
	int seq;
	char skus[64][48];
	int n_skus;
} gw;

void gw_open(gw *g);
void gw_close(gw *g);
/* Remembers the text for the secret search. */
void gw_saw(gw *g, const char *text);

/* A product of the given price, a cart of qty, and an intent on gateway (ck-asserted). */
kbp_intent *gw_intent(gw *g, const char *gateway, int64_t price, int64_t qty);
const char *gw_last_sku(gw *g);
int gw_create(kbp_intent **out, gw *g, const char *gateway, int64_t price, int64_t qty);
kbp_intent_status gw_status(gw *g, const char *intent_id);
int64_t gw_reserved(gw *g, const char *sku);
/* Runs due jobs, then says whether the intent has an order. */
int gw_has_order(gw *g, const char *intent_id);
size_t gw_rows(gw *g, const char *intent_id);
/* The reason of the intent's latest audit row (static buffer), "" when none. */
const char *gw_last_reason(gw *g, const char *intent_id);
/* kbp_payment_verify, remembering the error message; the row is freed. */
int gw_verify(gw *g, const char *gateway, const char *callback, size_t len, int *outcome);

/* An eSewa success callback; total_amount is a JSON literal ("\"1500.0\"" or "1500.0"). */
typedef struct cb_fields {
	const char *transaction_code;
	const char *status;
	const char *total_amount;
	const char *transaction_uuid;
	const char *product_code;
	const char *signed_field_names;   /* NULL: eSewa's six */
	const char *secret;               /* NULL: ESEWA_SECRET */
} cb_fields;

/* "data=<base64 of the JSON>"; malloc()ed. */
char *esewa_callback(const cb_fields *f);
char *esewa_wrap(const char *json);
/* The transaction_uuid eSewa knows an intent by (its gateway_ref). */
const char *gw_uuid(const kbp_intent *in);

Suite *units_suite(void);
Suite *esewa_suite(void);
Suite *khalti_suite(void);
Suite *secrets_suite(void);

#endif
