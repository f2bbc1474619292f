/* SPDX-License-Identifier: MIT */
#ifndef KBP_CORE_OBJECTS_H
#define KBP_CORE_OBJECTS_H

/*
 * Deep copies and member release of the public structs, expanded from their
 * field lists (core/fields.h). Backends return copies of what they hold; the
 * public kbp_…_free() functions release them. For each kbp_name:
 *   kbp__name_copy   fills dst with a deep copy of src; -1 when memory ran
 *                    out, and dst then holds what was copied (clear it)
 *   kbp__name_dup    a new deep copy, NULL when memory runs out
 *   kbp__name_clear  frees the members only
 */

#include "core/fields.h"

#define KBP__OBJECT_DECLARE(name)                                               \
	int kbp__##name##_copy(kbp_##name *dst, const kbp_##name *src);          \
	kbp_##name *kbp__##name##_dup(const kbp_##name *src);                   \
	void kbp__##name##_clear(kbp_##name *obj);
KBP_FIELDS_STRUCTS(KBP__OBJECT_DECLARE)
#undef KBP__OBJECT_DECLARE

/* The names the gateways have used. */
#define kbp__claim_clear kbp__callback_claim_clear
#define kbp__lookup_clear kbp__lookup_result_clear

#endif
