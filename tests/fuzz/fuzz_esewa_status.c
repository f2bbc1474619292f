/* SPDX-License-Identifier: MIT */
/* libFuzzer target: the eSewa status API's answer (the body after one byte choosing the HTTP status). */
#include <stddef.h>
#include <stdint.h>

#include "core/objects.h"
#include "gateway/esewa/esewa_proto.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static const int statuses[] = { 200, 200, 200, 404, 500, 503 };
	kbp_lookup_result r = { KBP_GATEWAY_PENDING, -1, "", NULL };

	if (size == 0)
		return 0;
	kbp__esewa_status_parse(statuses[data[0] % 6], (const char *)data + 1, size - 1, "123",
	                        "EPAYTEST", &r);
	kbp__lookup_clear(&r);
	return 0;
}
