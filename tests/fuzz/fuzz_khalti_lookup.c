/* SPDX-License-Identifier: MIT */
/*
 * libFuzzer target: Khalti's lookup and initiate answers. The first byte
 * chooses the HTTP status (and which parser), the rest is the body.
 */
#include <stddef.h>
#include <stdint.h>

#include "core/objects.h"
#include "gateway/khalti/khalti_proto.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static const int statuses[] = { 200, 400, 200, 400, 404, 401, 500, 200 };
	kbp_lookup_result r = { KBP_GATEWAY_PENDING, -1, "", NULL };
	kbp__khalti_initiated ini;
	int status;

	if (size == 0)
		return 0;
	status = statuses[data[0] % 8];
	if (data[0] & 0x80) {
		kbp__khalti_initiate_parse(status, (const char *)data + 1, size - 1, &ini);
		kbp__khalti_initiated_clear(&ini);
	} else {
		kbp__khalti_lookup_parse(status, (const char *)data + 1, size - 1, "PX1", &r);
		kbp__lookup_clear(&r);
	}
	return 0;
}
