/* SPDX-License-Identifier: MIT */
#include <stdlib.h>
#include <string.h>

#include "core/objects.h"
#include "storage/sqlite/sq_internal.h"

int sq_job_get(kbp_storage *s, const char *job_id, kbp_job **out)
{
	sq_store *q = sq_of(s);
	sq_conn *c;
	int rc;

	if ((rc = sq_acquire(q, &c)))
		return rc;
	rc = sq_job_load(c, job_id, out);
	sq_release(q, c);
	if (rc == 0 && !*out)
		rc = kbp_error_set(KBP_ENOTFOUND, "job '%s' does not exist", job_id);
	return rc;
}

/*
 * Newest first, enqueue order breaking ties so that paging is stable; a
 * filter that is unset matches every job (state -1, kind NULL, since 0), and
 * the cursor row (created_at, rowid) bounds the page from above.
 */
static const char *const list_sql =
	"SELECT " SQ_JOB_COLS " FROM jobs WHERE (?1 < 0 OR state = ?1) AND (?2 IS NULL OR kind = ?2) "
	"AND created_at >= ?3 AND (?4 = 0 OR (created_at, rowid) < (?5, ?6)) "
	"ORDER BY created_at DESC, rowid DESC LIMIT ?7";

typedef struct cursor {
	int64_t created_at, seq;
	int set;
} cursor;

static int cursor_read(sq_conn *c, const char *after, cursor *cur)
{
	sqlite3_stmt *st;
	int rc;

	memset(cur, 0, sizeof(*cur));
	if (!after)
		return 0;
	if (!(st = sq_stmt(c, "SELECT created_at, rowid FROM jobs WHERE id = ?", "t", after)))
		return kbp_error_last()->code;
	if ((rc = sq_next(c, st)) == 0)
		return kbp_error_set(KBP_EINVAL, "paging cursor '%s' is not a job", after);
	if (rc < 0)
		return rc;
	*cur = (cursor){ sqlite3_column_int64(st, 0), sqlite3_column_int64(st, 1), 1 };
	sqlite3_reset(st);
	return 0;
}

/* One more row than the page holds says whether a next page exists. */
static int page_read(sq_conn *c, const kbp_job_filter *f, size_t limit, const cursor *cur,
                     kbp_job_list *list)
{
	sqlite3_stmt *st = sq_stmt(c, list_sql, "dtldlll", f->state, f->kind, f->since, cur->set,
	                           cur->created_at, cur->seq, (int64_t)limit + 1);
	int rc, more = 0;

	if (!st)
		return kbp_error_last()->code;
	while ((rc = sq_next(c, st)) == 1) {
		if (list->n == limit) {
			more = 1;
			sqlite3_reset(st);
			break;
		}
		if ((rc = sq_job_read(st, &list->jobs[list->n++]))) {
			sqlite3_reset(st);
			return rc;
		}
	}
	if (rc < 0)
		return rc;
	if (more && !(list->next_after = strdup(list->jobs[list->n - 1].id)))
		return kbp_error_set(KBP_ENOMEM, "out of memory");
	return 0;
}

int sq_jobs_list(kbp_storage *s, const kbp_job_filter *f, kbp_job_list **out)
{
	sq_store *q = sq_of(s);
	size_t limit = f->limit ? f->limit : 100;
	kbp_job_list *list = calloc(1, sizeof(*list));
	cursor cur;
	sq_conn *c;
	int rc;

	if (!list || !(list->jobs = calloc(limit, sizeof(*list->jobs)))) {
		free(list);
		return kbp_error_set(KBP_ENOMEM, "out of memory");
	}
	if ((rc = sq_acquire(q, &c)) == 0) {
		/* One read transaction: the cursor and the page see the same queue. */
		if ((rc = sq_begin(c, 0)) == 0 && (rc = cursor_read(c, f->after, &cur)) == 0)
			rc = page_read(c, f, limit, &cur, list);
		sq_rollback(c);
		sq_release(q, c);
	}
	if (rc) {
		kbp_job_list_free(list);
		return rc;
	}
	*out = list;
	return 0;
}
