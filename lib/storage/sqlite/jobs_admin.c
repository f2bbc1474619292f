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

typedef struct admin_ctx {
	const char *job_id;
	int64_t now;
} admin_ctx;

static int state_of(sq_conn *c, const char *job_id, int64_t *state)
{
	int rc;

	*state = -1;
	if ((rc = sq_scalar(c, state, "SELECT state FROM jobs WHERE id = ?", "t", job_id)))
		return rc;
	return *state < 0 ? kbp_error_set(KBP_ENOTFOUND, "job '%s' does not exist", job_id) : 0;
}

/* A job comes back to life only while no live job holds its unique key. */
static int key_free(sq_conn *c, const char *job_id)
{
	sqlite3_stmt *st = sq_stmt(c, "SELECT h.id, j.unique_key FROM jobs j JOIN jobs h "
	                              "ON h.unique_key = j.unique_key AND h.state IN (" SQ_JOB_AVAILABLE ", " SQ_JOB_RUNNING ") "
	                              "WHERE j.id = ?",
	                           "t", job_id);
	int rc;

	if (!st)
		return kbp_error_last()->code;
	if ((rc = sq_next(c, st)) != 1)
		return rc;
	rc = kbp_error_set(KBP_ECONFLICT, "job %s already holds unique key '%s'",
	                   (const char *)sqlite3_column_text(st, 0),
	                   (const char *)sqlite3_column_text(st, 1));
	sqlite3_reset(st);
	return rc;
}

static int retry_body(sq_conn *c, void *ctx)
{
	admin_ctx *x = ctx;
	int64_t state;
	int rc;

	if ((rc = state_of(c, x->job_id, &state)))
		return rc;
	if (state != KBP_JOB_FAILED && state != KBP_JOB_CANCELED)
		return kbp_error_set(KBP_ESTATE, "job '%s' is %s; only failed or canceled jobs are retried",
		                     x->job_id, kbp_job_state_name((kbp_job_state)state));
	if ((rc = key_free(c, x->job_id)))
		return rc;
	/* A retried job gets at least one more attempt. */
	return sq_run(c, NULL,
	              "UPDATE jobs SET state = " SQ_JOB_AVAILABLE ", run_at = ?1, finished_at = 0, updated_at = ?1, "
	              "max_attempts = max(max_attempts, attempts + 1) WHERE id = ?2",
	              "lt", x->now, x->job_id);
}

int sq_job_retry(kbp_storage *s, const char *job_id, int64_t now)
{
	admin_ctx x = { job_id, now };
	int rc = sq_write(sq_of(s), retry_body, &x);

	if (rc == 0) {
		sq_bump(sq_of(s), KBP_TOPIC_JOBS);
		sq_bump(sq_of(s), KBP_TOPIC_ORDERS);
	}
	return rc;
}

static int cancel_body(sq_conn *c, void *ctx)
{
	admin_ctx *x = ctx;
	int64_t state;
	int rc;

	if ((rc = state_of(c, x->job_id, &state)))
		return rc;
	if (state != KBP_JOB_AVAILABLE && state != KBP_JOB_FAILED)
		return kbp_error_set(KBP_ESTATE,
		                     "job '%s' is %s; only available or failed jobs are canceled",
		                     x->job_id, kbp_job_state_name((kbp_job_state)state));
	return sq_run(c, NULL,
	              "UPDATE jobs SET state = " SQ_JOB_CANCELED ", finished_at = ?1, updated_at = ?1, lease_until = 0 "
	              "WHERE id = ?2",
	              "lt", x->now, x->job_id);
}

int sq_job_cancel(kbp_storage *s, const char *job_id, int64_t now)
{
	admin_ctx x = { job_id, now };
	int rc = sq_write(sq_of(s), cancel_body, &x);

	if (rc == 0)
		sq_bump(sq_of(s), KBP_TOPIC_ORDERS);
	return rc;
}
