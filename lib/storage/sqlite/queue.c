/* SPDX-License-Identifier: MIT */
#include <stdlib.h>
#include <string.h>

#include "core/objects.h"
#include "storage/sqlite/sq_internal.h"

/* The live job holding key, in a fresh allocation; *out stays NULL when none does. */
static int live_holder(sq_conn *c, const char *key, char **out)
{
	sqlite3_stmt *st;
	int rc, ok = 1;

	*out = NULL;
	if (!key)
		return 0;
	if (!(st = sq_stmt(c, "SELECT id FROM jobs WHERE unique_key = ? AND state IN (" SQ_JOB_AVAILABLE ", " SQ_JOB_RUNNING ")", "t", key)))
		return kbp_error_last()->code;
	if ((rc = sq_next(c, st)) != 1)
		return rc;
	*out = sq_dup(st, 0, &ok);
	sqlite3_reset(st);
	return ok ? 0 : kbp_error_set(KBP_ENOMEM, "out of memory");
}

static int job_insert(sq_conn *c, const kbp_job_draft *d, int64_t now)
{
	return sq_run(c, NULL,
	              "INSERT INTO jobs (id, kind, payload, state, priority, attempts, max_attempts, "
	              "run_at, lease_until, unique_key, errors, created_at, updated_at, finished_at) "
	              "VALUES (?1, ?2, ?3, " SQ_JOB_AVAILABLE ", ?4, 0, ?5, ?6, 0, ?7, '[]', ?8, ?8, 0)",
	              "tttddltl", d->id, d->kind, d->payload, d->priority, d->max_attempts, d->run_at,
	              d->unique_key, now);
}

int sq_jobs_insert_in(sq_conn *c, const kbp_job_draft *drafts, size_t n, int64_t now,
                      char **out_ids, size_t *out_created)
{
	int rc = 0;

	*out_created = 0;
	for (size_t i = 0; rc == 0 && i < n; i++) {
		if ((rc = live_holder(c, drafts[i].unique_key, &out_ids[i])) || out_ids[i])
			continue;
		if ((rc = job_insert(c, &drafts[i], now)) == 0 && !(out_ids[i] = strdup(drafts[i].id)))
			rc = kbp_error_set(KBP_ENOMEM, "out of memory");
		if (rc == 0)
			(*out_created)++;
	}
	return rc;
}

typedef struct insert_ctx {
	const kbp_job_draft *drafts;
	size_t n;
	int64_t now;
	char **out_ids;
	size_t created;
} insert_ctx;

static int insert_body(sq_conn *c, void *ctx)
{
	insert_ctx *x = ctx;

	return sq_jobs_insert_in(c, x->drafts, x->n, x->now, x->out_ids, &x->created);
}

int sq_jobs_insert(kbp_storage *s, const kbp_job_draft *drafts, size_t n, int64_t now,
                   char **out_ids, size_t *out_created)
{
	insert_ctx x = { drafts, n, now, out_ids, 0 };
	int rc = sq_write(sq_of(s), insert_body, &x);

	*out_created = rc ? 0 : x.created;
	if (rc)
		for (size_t i = 0; i < n; i++) {
			free(out_ids[i]);
			out_ids[i] = NULL;
		}
	else if (x.created)
		sq_bump(sq_of(s), KBP_TOPIC_JOBS);
	return rc;
}

int sq_job_enqueue(kbp_storage *s, const kbp_job_draft *d, int64_t now, char **out_id)
{
	size_t created = 0;
	int rc = sq_jobs_insert(s, d, 1, now, out_id, &created);

	if (rc == 0 && !created)
		return kbp_error_set(KBP_EEXISTS, "job %s already holds unique key '%s'", *out_id,
		                     d->unique_key);
	return rc;
}

typedef struct acquire_ctx {
	const char *worker;
	int max;
	int64_t lease_until, now;
	kbp_job_list *list;
} acquire_ctx;

/* The due jobs' ids in acquisition order, read before any of them changes. */
static int due_ids(sq_conn *c, const acquire_ctx *x, char **ids, int *n)
{
	sqlite3_stmt *st = sq_stmt(c, "SELECT id FROM jobs WHERE state = " SQ_JOB_AVAILABLE " AND run_at <= ? "
	                              "ORDER BY priority, run_at, rowid LIMIT ?",
	                           "ld", x->now, x->max);
	int rc, ok = 1;

	*n = 0;
	if (!st)
		return kbp_error_last()->code;
	while ((rc = sq_next(c, st)) == 1 && *n < x->max)
		ids[(*n)++] = sq_dup(st, 0, &ok);
	sqlite3_reset(st);
	return rc < 0 ? rc : ok ? 0 : kbp_error_set(KBP_ENOMEM, "out of memory");
}

static int take(sq_conn *c, acquire_ctx *x, const char *id)
{
	sqlite3_stmt *st = sq_stmt(c,
	                           "UPDATE jobs SET state = " SQ_JOB_RUNNING ", attempts = attempts + 1, lease_until = ?, "
	                           "locked_by = ?, updated_at = ? WHERE id = ? RETURNING " SQ_JOB_COLS,
	                           "ltlt", x->lease_until, x->worker, x->now, id);
	int rc;

	if (!st)
		return kbp_error_last()->code;
	if ((rc = sq_next(c, st)) != 1)
		return rc ? rc : kbp_error_set(KBP_ESTORAGE, "job '%s' vanished while acquired", id);
	rc = sq_job_read(st, &x->list->jobs[x->list->n++]);
	while (sq_next(c, st) == 1) {
	}
	return rc;
}

static int acquire_body(sq_conn *c, void *ctx)
{
	acquire_ctx *x = ctx;
	char **ids = calloc((size_t)x->max, sizeof(*ids));
	int n = 0, rc;

	if (!ids)
		return kbp_error_set(KBP_ENOMEM, "out of memory");
	rc = due_ids(c, x, ids, &n);
	for (int i = 0; rc == 0 && i < n; i++)
		rc = take(c, x, ids[i]);
	for (int i = 0; i < n; i++)
		free(ids[i]);
	free(ids);
	return rc;
}

int sq_jobs_acquire(kbp_storage *s, const char *worker, int max, int64_t lease_ms, int64_t now,
                    kbp_job_list **out)
{
	kbp_job_list *list = calloc(1, sizeof(*list));
	acquire_ctx x = { worker, max, now + lease_ms, now, list };
	int rc;

	if (!list || !(list->jobs = calloc(max > 0 ? (size_t)max : 1, sizeof(*list->jobs)))) {
		free(list);
		return kbp_error_set(KBP_ENOMEM, "out of memory");
	}
	if (max > 0 && (rc = sq_write(sq_of(s), acquire_body, &x))) {
		kbp_job_list_free(list);
		return rc;
	}
	*out = list;
	return 0;
}
