/* SPDX-License-Identifier: MIT */
#ifndef KBP_CORE_STORAGE_OPEN_H
#define KBP_CORE_STORAGE_OPEN_H

#include "kbpipeline/sys/storage.h"

/*
 * Opens the backend registered for the scheme of the options' URI (NULL or
 * "" means "memory:"), checks its vtable and fills its optional slots.
 */
int kbp__storage_open(kbp_storage **out, const kbp_options *opts);
/*
 * Refuses a storage of an unknown version or without a required slot, and
 * sets the optional slots it left NULL to the library's fallbacks.
 */
int kbp__storage_check(kbp_storage *s, const char *scheme);
/* A version-3 backend that only stores: the library's rules run on its records. */
static inline int kbp__storage_has_records(const kbp_storage *s)
{
	return s->version >= 3 && s->txn_begin && s->txn_commit && s->txn_rollback &&
	       s->facts_read && s->changes_apply;
}
/*
 * The jobs_insert slot, or job_enqueue for each job on a version-1 backend,
 * whose struct has no such slot to fill.
 */
int kbp__storage_jobs_insert(kbp_storage *s, const kbp_job_draft *drafts, size_t n, int64_t now,
                             char **out_ids, size_t *out_created);

/* The built-in backends' open functions, registered before the first lookup. */
int kbp__storage_memory_open_fn(kbp_storage **out, const char *uri,
                                const kbp_storage_open_options *opts);
int kbp__storage_postgres_open_fn(kbp_storage **out, const char *uri,
                                  const kbp_storage_open_options *opts);

#endif
