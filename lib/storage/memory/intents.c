/* SPDX-License-Identifier: MIT */
#include <stdlib.h>
#include <string.h>

#include "core/objects.h"
#include "core/records.h"
#include "storage/memory/memory_internal.h"

void mem_intent_free(mem_intent *in)
{
	if (!in)
		return;
	kbp__intent_record_clear(&in->rec);
	free(in->ref_key);
	kbp_order_free(in->order);
	free(in);
}
