/* SPDX-License-Identifier: MIT */
#ifndef KBPIPELINE_SYS_HTTP_H
#define KBPIPELINE_SYS_HTTP_H

/*
 * The HTTP transport the networked gateways (eSewa, Khalti) talk through.
 * The library's default is libcurl (kbp_http_default()); a host application
 * that has its own HTTP stack, proxy rules or test double fills a
 * kbp_http_transport and names it in the gateway's options.
 *
 * A transport answers every HTTP response, whatever its status, with 0 and
 * the status and body; only a response that never arrived is an error:
 *   KBP_ETIMEOUT  the connect or total timeout passed;
 *   KBP_ETOOBIG   the body exceeded max_response_bytes;
 *   KBP_EGATEWAY  anything else (DNS, refused connection, TLS, protocol).
 * Request headers may carry credentials: a transport never logs them and
 * never puts them in an error message.
 */

#include <stddef.h>
#include <stdint.h>
#include "../errors.h"

#ifdef __cplusplus
extern "C" {
#endif

#define KBP_HTTP_VERSION 1

typedef struct kbp_http_header {
	const char *name;
	const char *value;
} kbp_http_header;

typedef struct kbp_http_request {
	unsigned int version;
	const char *method;         /* "GET" or "POST" */
	const char *url;            /* http:// or https:// only */
	const kbp_http_header *headers;
	size_t n_headers;
	const char *body;           /* may be NULL */
	size_t body_len;
	int64_t connect_timeout_ms; /* > 0 */
	int64_t timeout_ms;         /* the whole exchange, > 0 */
	size_t max_response_bytes;  /* a larger body fails with KBP_ETOOBIG */
} kbp_http_request;

typedef struct kbp_http_response {
	int status;                 /* the HTTP status code */
	char *body;                 /* malloc()ed and NUL-terminated (never NULL on success) */
	size_t body_len;
} kbp_http_response;

typedef struct kbp_http_transport {
	unsigned int version;       /* KBP_HTTP_VERSION */
	void *ctx;
	/* Thread-safe: gateways call it from any thread that verifies or prepares. */
	int (*send)(void *ctx, const kbp_http_request *req, kbp_http_response *out);
} kbp_http_transport;

/* libcurl's transport, or NULL when the library was built without libcurl. */
KBP_EXTERN const kbp_http_transport *kbp_http_default(void);
/* Frees the body of a response a transport filled; accepts NULL. */
KBP_EXTERN void kbp_http_response_clear(kbp_http_response *response);

#ifdef __cplusplus
}
#endif
#endif
