/* SPDX-License-Identifier: MIT */
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

/*
 * The job leaves running, for another attempt at retry_at or for good (dead:
 * retry_at < 0, or no attempt left), its message appended to its history.
 */
#define SETTLE(message, retry_at, now)                                                             \
	"UPDATE jobs SET errors = json_insert(errors, '$[#]', json_object('attempt', attempts, "  \
	"'at', " now ", 'message', " message ")), last_error = " message ", updated_at = " now ", " \
	"lease_until = 0, "                                                                        \
	"finished_at = CASE WHEN " retry_at " < 0 OR attempts >= max_attempts THEN " now           \
	" ELSE 0 END, "                                                                            \
	"run_at = CASE WHEN " retry_at " < 0 OR attempts >= max_attempts THEN run_at ELSE "        \
	retry_at " END, "                                                                          \
	"state = CASE WHEN " retry_at " < 0 OR attempts >= max_attempts THEN " SQ_JOB_FAILED " ELSE " SQ_JOB_AVAILABLE " END "

typedef struct fail_ctx {
	const char *job_id, *worker, *error;
	int64_t retry_at, now;
	int dead;
} fail_ctx;

static int fail_body(sq_conn *c, void *ctx)
{
	fail_ctx *x = ctx;
	int64_t state = -1;
	sqlite3_stmt *st;
	int rc;

	if ((rc = sq_scalar(c, &state, "SELECT state FROM jobs WHERE id = ?", "t", x->job_id)))
		return rc;
	if (state < 0)
		return kbp_error_set(KBP_ENOTFOUND, "job '%s' does not exist", x->job_id);
	st = sq_stmt(c, SETTLE("?1", "?2", "?3") "WHERE id = ?4 AND state = " SQ_JOB_RUNNING " AND locked_by = ?5 "
	                "RETURNING state",
	             "tlltt", x->error, x->retry_at, x->now, x->job_id, x->worker);
	if (!st)
		return kbp_error_last()->code;
	if ((rc = sq_next(c, st)) == 0)
		return kbp_error_set(KBP_ESTATE, "job '%s' is no longer held by %s", x->job_id,
		                     x->worker);
	if (rc < 0)
		return rc;
	x->dead = sqlite3_column_int(st, 0) == KBP_JOB_FAILED;
	while (sq_next(c, st) == 1) {
	}
	return 0;
}

int sq_job_fail(kbp_storage *s, const char *job_id, const char *worker, const char *error,
                int64_t retry_at, int64_t now)
{
	fail_ctx x = { job_id, worker, error, retry_at, now, 0 };
	int rc = sq_write(sq_of(s), fail_body, &x);

	if (rc == 0)
		sq_bump(sq_of(s), x.dead ? KBP_TOPIC_ORDERS : KBP_TOPIC_JOBS);
	return rc;
}

int sq_jobs_rescue_in(sq_conn *c, int64_t now, int64_t *out_count, int64_t *out_failed)
{
	sqlite3_stmt *st = sq_stmt(c, SETTLE("('lease expired while held by ' || "
	                                     "coalesce(locked_by, 'unknown'))", "?1", "?1")
	                           "WHERE state = " SQ_JOB_RUNNING " AND lease_until < ?1 RETURNING state",
	                           "l", now);
	int rc;

	*out_count = *out_failed = 0;
	if (!st)
		return kbp_error_last()->code;
	while ((rc = sq_next(c, st)) == 1) {
		(*out_count)++;
		*out_failed += sqlite3_column_int(st, 0) == KBP_JOB_FAILED;
	}
	if (rc == 0 && *out_count)
		rc = sq_run(c, NULL, "INSERT INTO job_rescues (at, count) VALUES (?, ?)", "ll", now,
		            *out_count);
	return rc;
}

typedef struct rescue_ctx {
	int64_t now, count, failed;
} rescue_ctx;

static int rescue_body(sq_conn *c, void *ctx)
{
	rescue_ctx *x = ctx;

	return sq_jobs_rescue_in(c, x->now, &x->count, &x->failed);
}

int sq_jobs_rescue(kbp_storage *s, int64_t now, int64_t *out_count)
{
	rescue_ctx x = { now, 0, 0 };
	int rc = sq_write(sq_of(s), rescue_body, &x);

	*out_count = rc ? 0 : x.count;
	if (rc == 0 && x.count > x.failed)
		sq_bump(sq_of(s), KBP_TOPIC_JOBS);
	if (rc == 0 && x.failed)
		sq_bump(sq_of(s), KBP_TOPIC_ORDERS);
	return rc;
}
