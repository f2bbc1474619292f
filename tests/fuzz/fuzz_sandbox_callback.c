/* SPDX-License-Identifier: MIT */
/* libFuzzer target: the sandbox gateway's callback parser and authenticator. */
#include <stddef.h>
#include <stdint.h>

#include "core/objects.h"
#include "gateway/sandbox/sandbox_callback.h"
#include "util/crypto.h"

/* The seed corpus is signed with this key, so fuzzing reaches past the signature check. */
static const char secret[] = "fuzz-secret";
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
	kbp__sandbox_callback_parse((const char *)data, size, &keyed, &claim);
	kbp__claim_clear(&claim);
	return 0;
}
