/* SPDX-License-Identifier: MIT */
#ifndef KBP_HTTP_GWUTIL_H
#define KBP_HTTP_GWUTIL_H

/*
 * What the networked gateways share: the raw text of JSON members (a
 * signature covers the literal text, not a re-printed value), query strings
 * from browser redirects, and merchant secrets kept in guarded memory.
 */

#include <stddef.h>
#include <stdint.h>

/* ---- JSON member scanner ---- */

typedef enum kbp__json_kind {
	KBP_JSON_STRING = 1,        /* text: the characters between the quotes, escapes as written */
	KBP_JSON_NUMBER = 2,        /* text: the number literal */
	KBP_JSON_OTHER = 3          /* true, false, null, an object or an array */
} kbp__json_kind;

typedef struct kbp__json_raw {
	const char *text;
	size_t len;
	kbp__json_kind kind;
	int escaped;                /* a string containing a backslash escape */
} kbp__json_raw;

/*
 * 0 when json[0..len) is one object whose member names are unique and free
 * of escapes (so that every consumer sees the same members), -1 otherwise.
 * Meant for text that cJSON has already accepted; safe on any bytes.
 */
int kbp__json_members_check(const char *json, size_t len);
/* 1 and the raw value of the top-level member name, 0 when there is none. */
int kbp__json_raw_get(const char *json, size_t len, const char *name, kbp__json_raw *out);
/* A non-negative integer literal of at most 15 digits; -1 for anything else. */
int kbp__json_raw_int(const kbp__json_raw *v, int64_t *out);

/* A JSON object as received: its text (NUL-terminated copy) and its parse. */
struct cJSON;
typedef struct kbp__json_doc {
	char *text;
	size_t len;
	struct cJSON *root;
} kbp__json_doc;

/*
 * 0 when the bytes are UTF-8 text (no NUL) of one JSON object whose member
 * names are unique and plain; -1 when not, -2 out of memory. Clear the
 * document whatever the result.
 */
int kbp__json_doc_parse(kbp__json_doc *d, const char *bytes, size_t len);
void kbp__json_doc_clear(kbp__json_doc *d);

/* ---- query strings ---- */

typedef struct kbp__query_param {
	char *name;
	char *value;
} kbp__query_param;

typedef struct kbp__query {
	size_t n;
	kbp__query_param *params;
} kbp__query;

/*
 * Splits name=value pairs on '&', after an optional leading '?', and
 * percent-decodes both (plus_is_space: '+' decodes to a space, as forms
 * encode). -1 on a malformed escape, a NUL byte, invalid UTF-8, a repeated
 * name or memory exhaustion; -2 on more than max_params pairs.
 */
int kbp__query_parse(kbp__query *out, const char *raw, size_t len, int plus_is_space,
                     size_t max_params);
/* The value of name, or NULL. */
const char *kbp__query_get(const kbp__query *q, const char *name);
void kbp__query_clear(kbp__query *q);

/* ---- secrets ---- */

/* A merchant secret in libsodium guarded memory; sodium_free zeroes it. */
typedef struct kbp__secret {
	unsigned char *bytes;
	size_t len;
} kbp__secret;

#define KBP_SECRET_MAX 1024

/*
 * Loads a secret from the environment variable env_name or the file
 * file_path (exactly one given). One trailing newline of the file is
 * dropped; control bytes are refused. Error messages name the source,
 * never the bytes. what: "eSewa", "Khalti" for the messages.
 */
int kbp__secret_load(kbp__secret *out, const char *env_name, const char *file_path,
                     const char *what);
void kbp__secret_free(kbp__secret *s);

/* ---- URLs ---- */

/*
 * A base URL a gateway sends its secret or signed data to: https, or http
 * to a loopback host only (tests, a local proxy). 0 or a KBP_E… code.
 */
int kbp__check_gateway_url(const char *url, const char *what);

#endif
