/* SPDX-License-Identifier: MIT */
#ifndef KBP_UTIL_CRYPTO_H
#define KBP_UTIL_CRYPTO_H

#include <stddef.h>
#include <stdint.h>
#include <sodium.h>

#define KBP_HMAC_BYTES 32
/* Standard base64 with padding of a 32-byte MAC, plus the NUL. */
#define KBP_HMAC_B64_SIZE 45

/* Initialises libsodium; 0, or -1 when it cannot be. Safe to call repeatedly. */
int kbp_crypto_init(void);

typedef crypto_auth_hmacsha256_state kbp_hmac;

/* HMAC-SHA256 with a key of any length (the gateways' secrets are not 32 bytes). */
void kbp_hmac_init(kbp_hmac *h, const void *key, size_t key_len);
void kbp_hmac_update(kbp_hmac *h, const void *data, size_t len);
void kbp_hmac_final(kbp_hmac *h, unsigned char mac[KBP_HMAC_BYTES]);

/*
 * eSewa's signing scheme (the sandbox uses it too): HMAC-SHA256 over
 * "name=value" for each name of the comma-separated list, joined by ",",
 * with each value's literal text as value_of(ctx, name, buf, buf_size)
 * returns it (buf holds text that value_of must build). keyed is copied,
 * never changed. Returns 0, KBP_SIGN_BAD_NAMES for an empty or over-long
 * name, or KBP_SIGN_MISSING when a listed field has no value.
 */
enum { KBP_SIGN_BAD_NAMES = -1, KBP_SIGN_MISSING = -2 };
#define KBP_SIGN_NAME_MAX 64
#define KBP_SIGN_VALUE_MAX 64
typedef const char *(*kbp_field_value_fn)(const void *ctx, const char *name, char *buf,
                                          size_t buf_size);
int kbp_hmac_fields(unsigned char mac[KBP_HMAC_BYTES], const kbp_hmac *keyed, const char *names,
                    kbp_field_value_fn value_of, const void *ctx);

/* Standard base64 with padding; out must hold base64_encoded_size(len) bytes. */
size_t kbp_base64_encoded_size(size_t len);
void kbp_base64_encode(char *out, size_t out_size, const void *in, size_t len);
/*
 * Strict standard base64 (padding required, nothing ignored). Returns the
 * decoded length, or -1 on malformed input or when out is too small.
 */
long kbp_base64_decode(unsigned char *out, size_t out_size, const char *in, size_t len);

/* Constant-time equality of two byte strings; different lengths are unequal. */
int kbp_ct_equal(const void *a, size_t a_len, const void *b, size_t b_len);

/* SHA-256 of the bytes in lower-case hex. */
#define KBP_SHA256_HEX_SIZE 65
void kbp_sha256_hex(char out[KBP_SHA256_HEX_SIZE], const void *data, size_t len);

void kbp_random_bytes(void *buf, size_t len);
uint32_t kbp_random_uniform(uint32_t upper_bound);

#endif
