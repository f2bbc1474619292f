/* SPDX-License-Identifier: MIT */
#ifndef KBPIPELINE_GATEWAYS_H
#define KBPIPELINE_GATEWAYS_H

/*
 * Registering the payment gateways a pipeline takes callbacks from, and the
 * sandbox's stand-in for the shopper; verifying their callbacks is verify.h.
 */

#include <stddef.h>
#include <stdint.h>
#include "pipeline.h"

#ifdef __cplusplus
extern "C" {
#endif

/*
 * The sandbox gateway: no network, callbacks signed with HMAC-SHA256. It
 * answers lookups from what kbp_sandbox_pay() recorded; for a payment it did
 * not prepare (another process configured with the same secret did), the
 * authenticated callback itself is the answer.
 */
typedef enum kbp_sandbox_answer {
	KBP_SANDBOX_COMPLETED = 0,
	KBP_SANDBOX_PENDING = 1,
	KBP_SANDBOX_FAILED = 2
} kbp_sandbox_answer;

#define KBP_SANDBOX_OPTIONS_VERSION 1

typedef struct kbp_sandbox_options {
	unsigned int version;
	const char *name;           /* registered name, NULL: "sandbox" */
	const char *base_url;       /* pay page base, NULL: "http://127.0.0.1/sandbox" */
	const char *secret;         /* signing key, NULL: 32 random bytes */
	size_t secret_len;
	int64_t lookup_delay_ms;    /* a slow gateway: lookups sleep this long */
} kbp_sandbox_options;

#define KBP_SANDBOX_OPTIONS_INIT { KBP_SANDBOX_OPTIONS_VERSION, NULL, NULL, NULL, 0, 0 }

KBP_EXTERN int kbp_gateway_add_sandbox(kbp_pipeline *p, const kbp_sandbox_options *opts);
/*
 * Plays the shopper at the sandbox's pay page: the sandbox records the
 * answer for the intent's payment and returns the signed callback that its
 * redirect would deliver. amount_minor < 0 pays the intent's own amount.
 */
KBP_EXTERN int kbp_sandbox_pay(char **out_callback, kbp_pipeline *p, const char *gateway,
                               const char *intent_id, kbp_sandbox_answer answer,
                               int64_t amount_minor);

/*
 * The networked gateways. Their merchant secret is never part of the
 * options: name an environment variable (secret_env) or a file
 * (secret_file) holding it, exactly one. It is read once, kept in
 * libsodium guarded memory, zeroed when the pipeline closes, and never
 * logged or put in an error message. Hosts default to the gateways' test
 * environments; production = 1 selects the live ones, and each URL can be
 * overridden (https only, or http to a loopback host). transport NULL
 * uses libcurl (see sys/http.h); the host keeps a transport it passes
 * alive until the pipeline is closed.
 */
struct kbp_http_transport;

#define KBP_ESEWA_OPTIONS_VERSION 1

typedef struct kbp_esewa_options {
	unsigned int version;
	const char *name;           /* registered name, NULL: "esewa" */
	const char *product_code;   /* merchant code, NULL: "EPAYTEST" (eSewa's UAT) */
	const char *secret_env;     /* environment variable holding the secret key */
	const char *secret_file;    /* or a file holding it (a trailing newline is ignored) */
	int production;             /* 0: UAT hosts (rc-epay, rc), 1: epay.esewa.com.np */
	const char *form_url;       /* NULL: …/api/epay/main/v2/form of the chosen hosts */
	const char *status_url;     /* NULL: …/api/epay/transaction/status/ of the chosen hosts */
	const char *success_url;    /* used when the intent request has none */
	const char *failure_url;    /* idem; the intent id is appended as intent_id=… */
	int64_t timeout_ms;         /* status API, 0: 10,000 */
	const struct kbp_http_transport *transport;
} kbp_esewa_options;

#define KBP_ESEWA_OPTIONS_INIT \
	{ KBP_ESEWA_OPTIONS_VERSION, NULL, NULL, NULL, NULL, 0, NULL, NULL, NULL, NULL, 0, NULL }

/*
 * eSewa ePay v2. The intent's redirect is the signed form to POST; the
 * success callback is the redirect's query string (data=<base64 JSON>),
 * authenticated and then confirmed with the status API.
 */
KBP_EXTERN int kbp_gateway_add_esewa(kbp_pipeline *p, const kbp_esewa_options *opts);

#define KBP_KHALTI_OPTIONS_VERSION 1

typedef struct kbp_khalti_options {
	unsigned int version;
	const char *name;           /* registered name, NULL: "khalti" */
	const char *secret_env;     /* environment variable holding the live or test secret key */
	const char *secret_file;    /* or a file holding it */
	int production;             /* 0: https://dev.khalti.com/api/v2/, 1: https://khalti.com/api/v2/ */
	const char *base_url;       /* overrides the API base (ending in "/") */
	const char *return_url;     /* used when the intent request has no success_url */
	const char *website_url;    /* NULL: the scheme and host of the return URL */
	const char *purchase_order_name; /* NULL: "Order" */
	int64_t timeout_ms;         /* initiate and lookup, 0: 10,000 */
	const struct kbp_http_transport *transport;
} kbp_khalti_options;

#define KBP_KHALTI_OPTIONS_INIT \
	{ KBP_KHALTI_OPTIONS_VERSION, NULL, NULL, NULL, 0, NULL, NULL, NULL, NULL, 0, NULL }

/*
 * Khalti ePayment (KPG-2). Preparing an intent calls initiate (amount at
 * least 1000 paisa); the redirect is Khalti's payment page. The return
 * redirect's query string is the callback: it is unsigned, so only the
 * lookup decides.
 */
KBP_EXTERN int kbp_gateway_add_khalti(kbp_pipeline *p, const kbp_khalti_options *opts);

/*
 * Registers the gateways a JSON file describes: an object whose members
 * "sandbox", "esewa" and "khalti" hold the fields of the matching options
 * struct (e.g. {"esewa": {"product_code": "EPAYTEST", "secret_env":
 * "KBP_ESEWA_SECRET"}}). Unknown keys, and keys that look like secrets, are
 * refused: secrets come only from secret_env or secret_file. Gateways
 * registered before a failing section stay registered.
 */
KBP_EXTERN int kbp_gateways_load(kbp_pipeline *p, const char *path);

#ifdef __cplusplus
}
#endif
#endif
