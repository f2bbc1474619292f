/* SPDX-License-Identifier: MIT */
#ifndef KBP_TESTS_FAKE_GATEWAY_H
#define KBP_TESTS_FAKE_GATEWAY_H

/*
 * A fake eSewa and Khalti on 127.0.0.1 and a free port, served by one
 * thread with just enough HTTP/1.1 for libcurl:
 *   GET  /esewa/status/?product_code=&total_amount=&transaction_uuid=
 *   POST /khalti/api/v2/epayment/initiate/   (Authorization: Key <key>)
 *   POST /khalti/api/v2/epayment/lookup/     {"pidx": …}
 *   GET  /control?ref=<ref>&answer=<name>    (or fake_set_answer())
 * Each transaction_uuid or pidx answers as it was told (default: pending).
 */

#include <stddef.h>

typedef enum fake_answer {
	FAKE_PENDING = 0,
	FAKE_COMPLETED,
	FAKE_AMBIGUOUS,
	FAKE_EXPIRED,
	FAKE_CANCELED,
	FAKE_REFUNDED,
	FAKE_PARTIAL_REFUND,
	FAKE_INITIATED,
	FAKE_NOT_FOUND,
	FAKE_OUTAGE,        /* HTTP 200, an error body without status */
	FAKE_5XX,
	FAKE_SLOW,          /* answers after FAKE_SLOW_MS */
	FAKE_MALFORMED,     /* HTTP 200, not JSON */
	FAKE_UNAUTHORIZED,  /* HTTP 401 */
	FAKE_WRONG_AMOUNT,  /* completed, for one rupee more than asked */
	FAKE_OTHER_REF,     /* completed, about another transaction */
	FAKE_HUGE,          /* a body over 64 KiB */
	FAKE_UNNAMED,       /* completed, naming no transaction (no transaction_uuid / no pidx) */
	FAKE_NO_PRODUCT,    /* eSewa: completed, without a product_code */
	FAKE_NO_TXN_ID,     /* completed, without eSewa's ref_id / Khalti's transaction_id */
	FAKE_ANSWER_COUNT
} fake_answer;

#define FAKE_SLOW_MS 1500

typedef struct fake_gateway fake_gateway;

fake_gateway *fake_start(const char *khalti_key);
void fake_stop(fake_gateway *f);
int fake_port(const fake_gateway *f);
/* "http://127.0.0.1:<port>" */
const char *fake_url(const fake_gateway *f);

void fake_set_answer(fake_gateway *f, const char *ref, fake_answer answer);
/* How initiate answers: FAKE_COMPLETED (success), FAKE_5XX, FAKE_SLOW, FAKE_MALFORMED, FAKE_UNAUTHORIZED. */
void fake_set_initiate(fake_gateway *f, fake_answer answer);
const char *fake_answer_name(fake_answer a);
int fake_answer_parse(const char *name, fake_answer *out);

/* Requests served so far, per route: "status", "initiate", "lookup". */
int fake_count(fake_gateway *f, const char *route);
/* Copies of what the last initiate carried (empty when none). */
void fake_last_initiate(fake_gateway *f, char *auth, size_t auth_size, char *body,
                        size_t body_size);

#endif
