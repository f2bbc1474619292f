/* SPDX-License-Identifier: MIT */
#include "util/ids.h"

#include <stdint.h>
#include <string.h>

#include "util/crypto.h"

/* Crockford's alphabet: no I, L, O or U, so ids read back without confusion. */
static const char lower_alphabet[] = "0123456789abcdefghjkmnpqrstvwxyz";
static const char upper_alphabet[] = "0123456789ABCDEFGHJKMNPQRSTVWXYZ";

/* n characters of 5 random bits each, drawn 40 bits (8 characters) at a time. */
static void append_random(char *out, size_t n, const char *alphabet)
{
	unsigned char bytes[20];
	size_t i = 0;

	kbp_random_bytes(bytes, (n + 7) / 8 * 5);
	for (size_t group = 0; i < n; group++) {
		const unsigned char *b = bytes + group * 5;
		uint64_t bits = (uint64_t)b[0] << 32 | (uint64_t)b[1] << 24 | (uint64_t)b[2] << 16 |
		                (uint64_t)b[3] << 8 | b[4];
		for (int k = 7; k >= 0 && i < n; k--)
			out[i++] = alphabet[(bits >> (5 * k)) & 31];
	}
	out[n] = '\0';
}

void kbp_id_generate(char out[KBP_GEN_ID_SIZE], const char *prefix)
{
	size_t plen = strlen(prefix);

	memcpy(out, prefix, plen);
	append_random(out + plen, 20, lower_alphabet);
}

void kbp_order_number_generate(char out[KBP_GEN_ID_SIZE])
{
	memcpy(out, "ORD-", 4);
	append_random(out + 4, 12, upper_alphabet);
}
