/* SPDX-License-Identifier: MIT */
#include <stdlib.h>
#include <string.h>

#include "storage/sqlite/sq_internal.h"

/* Running under worker's lease: only then may worker settle or renew the job. */
#define HELD "id = ? AND state = " SQ_JOB_RUNNING " AND locked_by = ?"

typedef struct held_ctx {
	const char *sql;            /* binds a value, the job id and the worker */
	const char *const *job_ids;
	size_t n;
	const char *worker;
	int64_t value, now;
	int64_t count;
} held_ctx;

static int held_body(sq_conn *c, void *ctx)
{
	held_ctx *x = ctx;
	int rc = 0;

	x->count = 0;
	for (size_t i = 0; rc == 0 && i < x->n; i++) {
		int64_t changed = 0;
		rc = sq_run(c, &changed, x->sql, "lltt", x->value, x->now, x->job_ids[i], x->worker);
		x->count += changed;
	}
	return rc;
}

int sq_jobs_complete(kbp_storage *s, const char *const *job_ids, size_t n, const char *worker,
                     int64_t now, int64_t *out_done)
{
	held_ctx x = { "UPDATE jobs SET state = " SQ_JOB_COMPLETED ", finished_at = ?1, updated_at = ?2, lease_until = 0 "
		       "WHERE " HELD,
		       job_ids, n, worker, now, now, 0 };
	int rc = sq_write(sq_of(s), held_body, &x);

	*out_done = rc ? 0 : x.count;
	return rc;
}

int sq_jobs_extend(kbp_storage *s, const char *const *job_ids, size_t n, const char *worker,
                   int64_t lease_until, int64_t now, int64_t *out_count)
{
	held_ctx x = { "UPDATE jobs SET lease_until = ?1, updated_at = ?2 WHERE " HELD,
		       job_ids, n, worker, lease_until, now, 0 };
	int rc = sq_write(sq_of(s), held_body, &x);

	*out_count = rc ? 0 : x.count;
	return rc;
}

/* A job's new state (kbp_job_write in sys/storage.h). */
int sq_job_write(sq_conn *c, const kbp_job_write *w, int64_t now)
{
	int rc = sq_run(c, NULL,
	                "UPDATE jobs SET state = ?1, run_at = ?2, max_attempts = ?3, lease_until = 0, "
	                "finished_at = CASE WHEN ?1 IN (" SQ_JOB_FAILED ", " SQ_JOB_CANCELED ") THEN ?4 ELSE 0 END, "
	                "updated_at = ?4, last_error = coalesce(?5, last_error), "
	                "errors = CASE WHEN ?5 IS NULL THEN errors ELSE json_insert(errors, '$[#]', "
	                "json_object('attempt', attempts, 'at', ?4, 'message', ?5)) END "
	                "WHERE id = ?6",
	                "dldltt", (int)w->state, w->run_at, w->max_attempts, now, w->error, w->id);

	if (rc == 0 && w->rescued)
		rc = sq_run(c, NULL, "INSERT INTO job_rescues (at, count) VALUES (?, 1)", "l", now);
	return rc;
}

static int holder_read(sq_conn *c, kbp_facts *f)
{
	sqlite3_stmt *st = sq_stmt(c, "SELECT id FROM jobs WHERE unique_key = ? AND id <> ? "
	                              "AND state IN (" SQ_JOB_AVAILABLE ", " SQ_JOB_RUNNING ")",
	                           "tt", f->job->unique_key, f->job->id);
	char *holder;
	int rc;

	if (!st)
		return kbp_error_last()->code;
	if ((rc = sq_next(c, st)) != 1)
		return rc;
	holder = strdup((const char *)sqlite3_column_text(st, 0));
	sqlite3_reset(st);
	if (!holder)
		return kbp_error_set(KBP_ENOMEM, "out of memory");
	rc = sq_job_load(c, holder, &f->holder);
	free(holder);
	return rc;
}

/* The job read by id, else the intent's finalize_order job, and the live job holding its key. */
int sq_job_facts(sq_conn *c, const kbp_facts_query *q, kbp_facts *f)
{
	const char *id = q->job_id ? q->job_id : f->intent ? f->intent->finalize_job_id : NULL;
	int rc;

	if (!id)
		return 0;
	if ((rc = sq_job_load(c, id, &f->job)) || !f->job)
		return rc;
	if (!(q->want & KBP_FACTS_JOB_HOLDER) || !f->job->unique_key)
		return 0;
	return holder_read(c, f);
}

/* KBP_SCAN_LAPSED_LEASES: with BEGIN IMMEDIATE, no other writer holds them. */
int sq_jobs_lapsed(sq_conn *c, const kbp_facts_query *q, kbp_facts *f)
{
	int64_t max = q->scan_max > INT64_MAX ? INT64_MAX : (int64_t)q->scan_max;
	sqlite3_stmt *st;
	int rc;

	if (!(f->jobs = calloc(1, sizeof(*f->jobs))) ||
	    !(f->jobs->jobs = calloc(q->scan_max + 1, sizeof(*f->jobs->jobs))))
		return kbp_error_set(KBP_ENOMEM, "out of memory");
	st = sq_stmt(c, "SELECT " SQ_JOB_COLS " FROM jobs WHERE state = " SQ_JOB_RUNNING " AND lease_until < ? "
	                "ORDER BY id LIMIT ?",
	             "ll", q->scan_before, max);
	if (!st)
		return kbp_error_last()->code;
	while ((rc = sq_next(c, st)) == 1)
		if ((rc = sq_job_read(st, &f->jobs->jobs[f->jobs->n++])))
			break;
	sqlite3_reset(st);
	return rc;
}
