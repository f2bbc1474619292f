/* SPDX-License-Identifier: MIT */
#include "core/storage_open.h"

#include <string.h>

int kbp__storage_kind(const char *uri)
{
	if (!uri || !*uri || strcmp(uri, "memory:") == 0)
		return KBP_STORAGE_MEMORY;
	/* libpq takes URIs with either scheme, or a key=value connection string. */
	if (strncmp(uri, "postgresql://", 13) == 0 || strncmp(uri, "postgres://", 11) == 0 ||
	    strchr(uri, '='))
		return KBP_STORAGE_POSTGRES;
	return -1;
}

static int open_backend(kbp_storage **s, const kbp_options *o)
{
	switch (kbp__storage_kind(o->storage)) {
	case KBP_STORAGE_MEMORY:
		return kbp_storage_memory_open(s, o->storage);
	case KBP_STORAGE_POSTGRES:
#ifdef KBP_HAVE_POSTGRES
		return kbp_storage_postgres_open(s, o->storage, o->storage_schema, o->storage_pool_size);
#else
		return kbp_error_set(KBP_EINVAL, "this build has no PostgreSQL support");
#endif
	}
	/* The URI itself is not repeated: it may carry a password. */
	return kbp_error_set(KBP_EINVAL,
	                     "storage URI names no known backend (\"memory:\" or postgresql://…)");
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
	       s->wait && s->notify && s->free && s->reconcile_schedule &&
	       s->jobs_complete && s->doctor && s->jobs_extend && s->wait_order;
}

int kbp__storage_open(kbp_storage **out, const kbp_options *opts)
{
	kbp_storage *s = NULL;
	int rc;

	*out = NULL;
	if ((rc = open_backend(&s, opts)))
		return rc;
	if (!vtable_complete(s)) {
		if (s->free)
			s->free(s);
		return kbp_error_set(KBP_EVERSION, "storage backend is incomplete or of an unknown version");
	}
	*out = s;
	return 0;
}

int kbp_migrate(int *out_version, const char *storage_uri, const char *schema)
{
	if (out_version)
		*out_version = 0;
	switch (kbp__storage_kind(storage_uri)) {
	case KBP_STORAGE_MEMORY:
		return 0;
	case KBP_STORAGE_POSTGRES:
#ifdef KBP_HAVE_POSTGRES
		return kbp_storage_postgres_migrate(out_version, storage_uri, schema);
#else
		(void)schema;
		return kbp_error_set(KBP_EINVAL, "this build has no PostgreSQL support");
#endif
	}
	return kbp_error_set(KBP_EINVAL,
	                     "storage URI names no known backend (\"memory:\" or postgresql://…)");
}
