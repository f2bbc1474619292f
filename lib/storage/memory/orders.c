/* SPDX-License-Identifier: MIT */
#include <stdlib.h>
#include <string.h>

#include "core/objects.h"
#include "storage/memory/memory_internal.h"

int mem_order_get(kbp_storage *s, const char *order_number, const char *intent_id,
                  kbp_order **out)
{
	mem_store *m = mem_of(s);
	kbp_order *o = NULL;
	mem_intent *in;
	int rc = 0;

	pthread_mutex_lock(&m->lock);
	if (order_number) {
		o = kbp_hmap_get(&m->orders, order_number);
	} else if ((in = kbp_hmap_get(&m->intents, intent_id))) {
		o = in->order;
	}
	if (!o)
		rc = kbp_error_set(KBP_ENOTFOUND, "no order %s '%s'", order_number ? "numbered" : "for intent",
		                   order_number ? order_number : intent_id);
	else if (!(*out = kbp__order_dup(o)))
		rc = kbp_error_set(KBP_ENOMEM, "out of memory");
	pthread_mutex_unlock(&m->lock);
	return rc;
}
