/* SPDX-License-Identifier: MIT */
#include "util/ids.h"

#include <string.h>

#include "util/crypto.h"

/* Crockford's alphabet: no I, L, O or U, so ids read back without confusion. */
static const char lower_alphabet[] = "0123456789abcdefghjkmnpqrstvwxyz";
static const char upper_alphabet[] = "0123456789ABCDEFGHJKMNPQRSTVWXYZ";

static void append_random(char *out, size_t n, const char *alphabet)
{
	unsigned char bytes[32];

	kbp_random_bytes(bytes, n);
	for (size_t i = 0; i < n; i++)
		out[i] = alphabet[bytes[i] & 31];
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
