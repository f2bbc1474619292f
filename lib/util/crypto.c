/* SPDX-License-Identifier: MIT */
#include "util/crypto.h"

#include <pthread.h>
#include <stdatomic.h>
#include <string.h>

int kbp_crypto_init(void)
{
	return sodium_init() < 0 ? -1 : 0;
}

void kbp_hmac_init(kbp_hmac *h, const void *key, size_t key_len)
{
	crypto_auth_hmacsha256_init(h, key, key_len);
}

void kbp_hmac_update(kbp_hmac *h, const void *data, size_t len)
{
	crypto_auth_hmacsha256_update(h, data, len);
}

void kbp_hmac_final(kbp_hmac *h, unsigned char mac[KBP_HMAC_BYTES])
{
	crypto_auth_hmacsha256_final(h, mac);
	sodium_memzero(h, sizeof(*h));
}

int kbp_hmac_fields(unsigned char mac[KBP_HMAC_BYTES], const kbp_hmac *keyed, const char *names,
                    kbp_field_value_fn value_of, const void *ctx)
{
	kbp_hmac h = *keyed;
	const char *p = names;
	int rc = 0;

	while (*p && rc == 0) {
		const char *comma = strchr(p, ',');
		size_t n = comma ? (size_t)(comma - p) : strlen(p);
		char name[KBP_SIGN_NAME_MAX], buf[KBP_SIGN_VALUE_MAX];
		const char *value;
		if (n == 0 || n >= sizeof(name)) {
			rc = KBP_SIGN_BAD_NAMES;
			break;
		}
		memcpy(name, p, n);
		name[n] = '\0';
		if (!(value = value_of(ctx, name, buf, sizeof(buf)))) {
			rc = KBP_SIGN_MISSING;
			break;
		}
		if (p != names)
			kbp_hmac_update(&h, ",", 1);
		kbp_hmac_update(&h, name, n);
		kbp_hmac_update(&h, "=", 1);
		kbp_hmac_update(&h, value, strlen(value));
		p += comma ? n + 1 : n;
	}
	if (rc != 0) {
		sodium_memzero(&h, sizeof(h));
		return rc;
	}
	kbp_hmac_final(&h, mac);
	return 0;
}

size_t kbp_base64_encoded_size(size_t len)
{
	return sodium_base64_encoded_len(len, sodium_base64_VARIANT_ORIGINAL);
}

void kbp_base64_encode(char *out, size_t out_size, const void *in, size_t len)
{
	sodium_bin2base64(out, out_size, in, len, sodium_base64_VARIANT_ORIGINAL);
}

long kbp_base64_decode(unsigned char *out, size_t out_size, const char *in, size_t len)
{
	size_t bin_len = 0;
	const char *end = NULL;

	if (len % 4 != 0)
		return -1;
	if (sodium_base642bin(out, out_size, in, len, NULL, &bin_len, &end,
	                      sodium_base64_VARIANT_ORIGINAL) != 0)
		return -1;
	if (end != in + len)
		return -1;
	return (long)bin_len;
}

int kbp_ct_equal(const void *a, size_t a_len, const void *b, size_t b_len)
{
	if (a_len != b_len)
		return 0;
	return sodium_memcmp(a, b, a_len) == 0;
}

/*
 * Ids are drawn on every step of every order, and libsodium's randombytes_buf
 * is a getrandom() system call each time. Each thread instead expands a
 * 32-byte seed from randombytes_buf with ChaCha20 (libsodium's
 * randombytes_buf_deterministic) and re-keys from its own output after every
 * block, so a captured state never reveals earlier ids. A fork counter makes
 * a child process reseed rather than repeat its parent's ids.
 */
#define POOL_BYTES 512

static atomic_uint fork_generation;
static pthread_once_t atfork_once = PTHREAD_ONCE_INIT;

static void on_fork_child(void)
{
	atomic_fetch_add(&fork_generation, 1);
}

static void register_atfork(void)
{
	pthread_atfork(NULL, NULL, on_fork_child);
}

typedef struct random_pool {
	unsigned char seed[randombytes_SEEDBYTES];
	unsigned char bytes[POOL_BYTES];
	size_t used;
	unsigned int generation;
	int seeded;
} random_pool;

static _Thread_local random_pool pool;

static void pool_refill(random_pool *rp)
{
	unsigned char block[POOL_BYTES + randombytes_SEEDBYTES];

	randombytes_buf_deterministic(block, sizeof(block), rp->seed);
	memcpy(rp->bytes, block, POOL_BYTES);
	memcpy(rp->seed, block + POOL_BYTES, randombytes_SEEDBYTES);
	sodium_memzero(block, sizeof(block));
	rp->used = 0;
}

void kbp_random_bytes(void *buf, size_t len)
{
	random_pool *rp = &pool;
	unsigned char *out = buf;
	unsigned int generation;

	pthread_once(&atfork_once, register_atfork);
	generation = atomic_load(&fork_generation);
	if (!rp->seeded || rp->generation != generation) {
		randombytes_buf(rp->seed, sizeof(rp->seed));
		rp->generation = generation;
		rp->seeded = 1;
		pool_refill(rp);
	}
	while (len > 0) {
		size_t n;
		if (rp->used == POOL_BYTES)
			pool_refill(rp);
		n = POOL_BYTES - rp->used < len ? POOL_BYTES - rp->used : len;
		memcpy(out, rp->bytes + rp->used, n);
		sodium_memzero(rp->bytes + rp->used, n);
		rp->used += n;
		out += n;
		len -= n;
	}
}

uint32_t kbp_random_uniform(uint32_t upper_bound)
{
	/* Jitter only: rare, so libsodium's unbiased sampler is worth its system call. */
	return randombytes_uniform(upper_bound);
}

void kbp_sha256_hex(char out[KBP_SHA256_HEX_SIZE], const void *data, size_t len)
{
	unsigned char digest[crypto_hash_sha256_BYTES];

	crypto_hash_sha256(digest, data, len);
	sodium_bin2hex(out, KBP_SHA256_HEX_SIZE, digest, sizeof(digest));
}
