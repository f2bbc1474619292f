/* SPDX-License-Identifier: MIT */
/* libFuzzer target: the eSewa success callback's decoder, parser and authenticator. */
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include "core/objects.h"
#include "gateway/esewa/esewa_proto.h"
#include "util/crypto.h"

/* eSewa's public UAT key: the seeds are signed with it, so fuzzing reaches past the signature. */
static const char secret[] = "8gBm/:&EnhH.1/q";
static kbp_hmac keyed;
static int keyed_ready;

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	kbp_callback_claim claim = { NULL, NULL, -1, KBP_GATEWAY_PENDING };

	if (!keyed_ready) {
		if (kbp_crypto_init() != 0)
			return 0;
		kbp_hmac_init(&keyed, secret, sizeof(secret) - 1);
		keyed_ready = 1;
	}
	kbp__esewa_callback_parse((const char *)data, size, &keyed, "EPAYTEST", &claim);
	kbp__claim_clear(&claim);
	return 0;
}
