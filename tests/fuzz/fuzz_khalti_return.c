/* SPDX-License-Identifier: MIT */
/* libFuzzer target: Khalti's return redirect (a query string). */
#include <stddef.h>
#include <stdint.h>

#include "core/objects.h"
#include "gateway/khalti/khalti_proto.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	kbp_callback_claim claim = { NULL, NULL, -1, KBP_GATEWAY_PENDING };

	kbp__khalti_return_parse((const char *)data, size, &claim);
	kbp__claim_clear(&claim);
	return 0;
}
