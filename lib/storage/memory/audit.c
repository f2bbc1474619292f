/* SPDX-License-Identifier: MIT */
#include <stdlib.h>
#include <string.h>

#include "core/objects.h"
#include "storage/memory/memory_internal.h"
#include "util/strings.h"

/* The audit of verifications: rows in order, an index of the accepted ones. */

static int append_row(mem_store *m, kbp_verification *row)
{
	if (m->n_rows == m->cap_rows) {
		size_t cap = m->cap_rows ? m->cap_rows * 2 : 256;
		kbp_verification **rows = realloc(m->rows, cap * sizeof(*rows));
		if (!rows)
			return -1;
		m->rows = rows;
		m->cap_rows = cap;
	}
	m->rows[m->n_rows++] = row;
	return 0;
}

static int is_orphan_rejection(const kbp_verification *row)
{
	return row->outcome == KBP_VERIFICATION_REJECTED && !row->intent_id;
}

/*
 * Drops at most max of the oldest rejected rows that no intent owns and that
 * were written before `before`: what forged callbacks leave behind.
 */
static int64_t drop_orphans(mem_store *m, int64_t before, int64_t max)
{
	size_t kept = 0;
	int64_t dropped = 0;

	for (size_t i = 0; i < m->n_rows; i++) {
		kbp_verification *row = m->rows[i];
		if (dropped < max && is_orphan_rejection(row) && row->at < before) {
			kbp_verification_free(row);
			dropped++;
			continue;
		}
		m->rows[kept++] = row;
	}
	m->n_rows = kept;
	m->rejected_rows -= dropped;
	m->orphan_rows -= dropped;
	return dropped;
}

int64_t mem_verifications_prune(mem_store *m, int64_t before)
{
	return drop_orphans(m, before, INT64_MAX);
}

/*
 * Between maintenance passes a flood of forged callbacks could still grow the
 * audit without bound: past the cap the oldest orphans go, a batch at a time
 * so that the compaction's cost is shared by many rows.
 */
static void cap_orphans(mem_store *m)
{
	if (m->orphan_rows > MEM_ORPHAN_ROWS_MAX + MEM_ORPHAN_ROWS_MAX / 4)
		drop_orphans(m, INT64_MAX, m->orphan_rows - MEM_ORPHAN_ROWS_MAX);
}

int mem_verification_append(mem_store *m, const kbp_verification *src)
{
	kbp_verification *row = kbp__verification_dup(src);
	char *key;

	if (!row || append_row(m, row) != 0) {
		kbp_verification_free(row);
		return -1;
	}
	if (row->outcome == KBP_VERIFICATION_REJECTED)
		m->rejected_rows++;
	if (is_orphan_rejection(row))
		m->orphan_rows++;
	/* The accepted index is what makes a duplicate callback a no-op. */
	if (row->outcome == KBP_VERIFICATION_ACCEPTED && row->external_txn_id &&
	    (key = mem_pair_key(row->gateway, row->external_txn_id)) &&
	    kbp_hmap_put(&m->accepted, key, row) != 0)
		free(key);
	cap_orphans(m);
	return 0;
}

int mem_verifications_list(kbp_storage *s, const char *intent_id, kbp_verification_list **out)
{
	mem_store *m = mem_of(s);
	kbp_verification_list *list = calloc(1, sizeof(*list));
	int rc = 0;

	if (!list)
		return kbp_error_set(KBP_ENOMEM, "out of memory");
	pthread_mutex_lock(&m->lock);
	for (size_t i = 0; i < m->n_rows && rc == 0; i++) {
		const kbp_verification *row = m->rows[i];
		if (!kbp_str_eq(row->intent_id, intent_id))
			continue;
		if (list->n % 16 == 0) {
			kbp_verification *items = realloc(list->items, (list->n + 16) * sizeof(*items));
			if (!items) {
				rc = kbp_error_set(KBP_ENOMEM, "out of memory");
				break;
			}
			list->items = items;
		}
		if (kbp__verification_copy(&list->items[list->n], row) != 0) {
			kbp__verification_clear(&list->items[list->n]);
			rc = kbp_error_set(KBP_ENOMEM, "out of memory");
			break;
		}
		list->n++;
	}
	pthread_mutex_unlock(&m->lock);
	if (rc != 0) {
		kbp_verification_list_free(list);
		return rc;
	}
	*out = list;
	return 0;
}
