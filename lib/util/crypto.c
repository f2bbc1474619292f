/* SPDX-License-Identifier: MIT */
#include "util/crypto.h"

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

void kbp_random_bytes(void *buf, size_t len)
{
	randombytes_buf(buf, len);
}

uint32_t kbp_random_uniform(uint32_t upper_bound)
{
	return randombytes_uniform(upper_bound);
}
