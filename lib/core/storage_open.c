/* SPDX-License-Identifier: MIT */
#include "core/storage_open.h"

#include <string.h>

static int is_memory_uri(const char *uri)
{
	return !uri || !*uri || strcmp(uri, "memory:") == 0;
}

static int vtable_complete(const kbp_storage *s)
{
	return s->version == KBP_STORAGE_VERSION && s->name && s->vendor_put && s->vendor_get &&
	       s->product_put && s->product_get && s->product_set_active && s->cart_set_item &&
	       s->cart_get && s->intent_create && s->intent_attach && s->intent_get &&
	       s->intent_cancel && s->payment_apply && s->verifications_list &&
	       s->order_finalize && s->order_get && s->order_facts && s->job_enqueue &&
	       s->jobs_acquire && s->job_complete && s->job_fail && s->job_get && s->jobs_list &&
	       s->job_retry && s->job_cancel && s->jobs_rescue && s->maintenance && s->metrics &&
	       s->wait && s->notify && s->free;
}

int kbp__storage_open(kbp_storage **out, const char *uri)
{
	kbp_storage *s = NULL;
	int rc;

	*out = NULL;
	if (!is_memory_uri(uri))
		return kbp_error_set(KBP_EINVAL,
		                     "storage URI is not supported by this build (use \"memory:\")");
	if ((rc = kbp_storage_memory_open(&s, uri)))
		return rc;
	if (!vtable_complete(s)) {
		if (s->free)
			s->free(s);
		return kbp_error_set(KBP_EVERSION, "storage backend is incomplete or of an unknown version");
	}
	*out = s;
	return 0;
}
