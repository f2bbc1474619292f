/* SPDX-License-Identifier: MIT */
#include <stddef.h>
#include <stdlib.h>
#include <string.h>

#include "core/doctor.h"
#include "storage/sqlite/sq_internal.h"

/* The most recent orders whose finalize latency the percentiles describe. */
#define SQ_LATENCY_ORDERS 1024

typedef struct pass_ctx {
	const kbp_maintenance_params *params;
	kbp_maintenance_result *out;
} pass_ctx;

static int pass_body(sq_conn *c, void *ctx)
{
	pass_ctx *x = ctx;
	int64_t now = x->params->now, before = x->params->prune_before;
	int rc;

	/* By jobs_listing: a job finished before the cut-off was created before it (migration 002). */
	if ((rc = sq_run(c, &x->out->jobs_pruned,
	                 "DELETE FROM jobs WHERE created_at < ?1 AND state IN (" SQ_JOB_COMPLETED ", "
	                 SQ_JOB_CANCELED ") AND finished_at < ?1", "l", before)))
		return rc;
	/* What forged callbacks leave behind: rejected rows that no intent owns. */
	if ((rc = sq_run(c, NULL,
	                 "DELETE FROM verifications WHERE outcome = " SQ_REJECTED " AND intent_id IS NULL AND at < ?",
	                 "l", before)))
		return rc;
	return sq_run(c, NULL, "DELETE FROM job_rescues WHERE at < ?", "l", now - SQ_HOUR_MS);
}

/*
 * The election: one pass at a time in this process, and the pass is one
 * write transaction, so passes of other processes on the file run one after
 * the other.
 */
int sq_maintenance(kbp_storage *s, const kbp_maintenance_params *params,
                   kbp_maintenance_result *out)
{
	sq_store *q = sq_of(s);
	pass_ctx x = { params, out };
	int rc;

	memset(out, 0, sizeof(*out));
	if (pthread_mutex_trylock(&q->maintenance_lock) != 0)
		return 0;
	rc = sq_write(q, pass_body, &x);
	pthread_mutex_unlock(&q->maintenance_lock);
	if (rc) {
		memset(out, 0, sizeof(*out));
		return rc;
	}
	out->ran = 1;
	return 0;
}

/* The metrics that one number answers; ?1 is now, ?2 the paid grace. */
static const struct {
	const char *sql;
	size_t offset;
} scalars[] = {
	{ "SELECT count(*) FROM jobs WHERE state = " SQ_JOB_RUNNING " AND lease_until < ?1",
	  offsetof(kbp_metrics, jobs_stuck) },
	{ "SELECT count(*) FROM jobs WHERE state = " SQ_JOB_FAILED " AND finished_at >= ?1 - 3600000",
	  offsetof(kbp_metrics, jobs_failed_last_hour) },
	{ "SELECT coalesce(max(?1 - run_at), 0) FROM jobs WHERE state = " SQ_JOB_AVAILABLE " AND run_at <= ?1",
	  offsetof(kbp_metrics, oldest_available_age_ms) },
	{ "SELECT coalesce(sum(count), 0) FROM job_rescues WHERE at >= ?1 - 3600000",
	  offsetof(kbp_metrics, jobs_rescued_last_hour) },
	{ "SELECT count(*) FROM orders", offsetof(kbp_metrics, orders) },
	{ "SELECT count(*) FROM orders o WHERE NOT EXISTS "
	  "(SELECT 1 FROM order_items i WHERE i.order_id = o.id)",
	  offsetof(kbp_metrics, orders_without_items) },
	{ "SELECT count(*) FROM intents i WHERE status = " SQ_INTENT_SUCCEEDED " AND NOT EXISTS "
	  "(SELECT 1 FROM orders o WHERE o.intent_id = i.id)",
	  offsetof(kbp_metrics, paid_intents_without_order) },
	{ "SELECT count(*) FROM intents i WHERE status = " SQ_INTENT_SUCCEEDED " AND ?1 - paid_at > ?2 "
	  "AND NOT EXISTS "
	  "(SELECT 1 FROM orders o WHERE o.intent_id = i.id)",
	  offsetof(kbp_metrics, paid_intents_without_order_late) },
	{ "SELECT coalesce(max(max(?1 - paid_at, 0)), 0) FROM intents i WHERE status = " SQ_INTENT_SUCCEEDED " AND NOT EXISTS "
	  "(SELECT 1 FROM orders o WHERE o.intent_id = i.id)",
	  offsetof(kbp_metrics, paid_without_order_oldest_ms) },
	{ "SELECT count(*) FROM intents WHERE needs_refund = 1", offsetof(kbp_metrics, needs_refund) },
	{ "SELECT count(*) FROM verifications WHERE outcome = " SQ_REJECTED,
	  offsetof(kbp_metrics, verifications_rejected) },
};

/* Counts by an enum column into counts[0..n). */
static int by_value(sq_conn *c, const char *sql, int64_t *counts, int n)
{
	sqlite3_stmt *st = sq_stmt(c, sql, "");
	int rc;

	if (!st)
		return kbp_error_last()->code;
	while ((rc = sq_next(c, st)) == 1) {
		int v = sqlite3_column_int(st, 0);
		if (v >= 0 && v < n)
			counts[v] = sqlite3_column_int64(st, 1);
	}
	return rc;
}

static int64_t percentile(const int64_t *sorted, size_t n, int pct)
{
	size_t i = (n * (size_t)pct + 99) / 100;

	return n ? sorted[i ? i - 1 : 0] : 0;
}

static int latency(sq_conn *c, kbp_metrics *out)
{
	int64_t sorted[SQ_LATENCY_ORDERS];
	sqlite3_stmt *st = sq_stmt(c, "SELECT finalize_ms FROM (SELECT finalize_ms FROM orders "
	                              "ORDER BY rowid DESC LIMIT ?) ORDER BY finalize_ms",
	                           "d", SQ_LATENCY_ORDERS);
	size_t n = 0;
	int rc;

	if (!st)
		return kbp_error_last()->code;
	while ((rc = sq_next(c, st)) == 1 && n < SQ_LATENCY_ORDERS)
		sorted[n++] = sqlite3_column_int64(st, 0);
	sqlite3_reset(st);
	if (rc < 0)
		return rc;
	out->finalize_p50_ms = percentile(sorted, n, 50);
	out->finalize_p95_ms = percentile(sorted, n, 95);
	out->finalize_p99_ms = percentile(sorted, n, 99);
	return 0;
}

static int metrics_read(sq_conn *c, int64_t now, kbp_metrics *out)
{
	int rc = 0;

	for (size_t i = 0; rc == 0 && i < sizeof(scalars) / sizeof(*scalars); i++)
		rc = sq_scalar(c, (int64_t *)((char *)out + scalars[i].offset), scalars[i].sql, "ll",
		               now, (int64_t)KBP_DOCTOR_PAID_GRACE_MS);
	if (rc == 0)
		rc = by_value(c, "SELECT state, count(*) FROM jobs GROUP BY state", out->jobs,
		              KBP_JOB_STATE_COUNT);
	if (rc == 0)
		rc = by_value(c, "SELECT status, count(*) FROM intents GROUP BY status", out->intents,
		              KBP_INTENT_STATUS_COUNT);
	return rc ? rc : latency(c, out);
}

int sq_metrics(kbp_storage *s, int64_t now, kbp_metrics *out)
{
	sq_store *q = sq_of(s);
	sq_conn *c;
	int rc;

	memset(out, 0, sizeof(*out));
	if ((rc = sq_acquire(q, &c)))
		return rc;
	/* One read transaction: every number describes the same moment. */
	if ((rc = sq_begin(c, 0)) == 0)
		rc = metrics_read(c, now, out);
	sq_rollback(c);
	sq_release(q, c);
	if (rc)
		memset(out, 0, sizeof(*out));
	return rc;
}

/* Each check's offending ids, in the order the library reports them; ?1 is now - grace. */
static const char *const checks[KBP__DOCTOR_CHECKS] = {
	[KBP__DOCTOR_ORDERS_WITHOUT_ITEMS] =
		"SELECT o.order_number FROM orders o WHERE NOT EXISTS "
		"(SELECT 1 FROM order_items i WHERE i.order_id = o.id) ORDER BY o.order_number",
	[KBP__DOCTOR_PAID_WITHOUT_ORDER] =
		"SELECT i.id FROM intents i WHERE i.status = " SQ_INTENT_SUCCEEDED " AND i.paid_at < ?1 "
		"AND NOT EXISTS "
		"(SELECT 1 FROM orders o WHERE o.intent_id = i.id) ORDER BY i.paid_at, i.id",
	/* Reservations are held by pending intents and by paid ones whose order is not made yet. */
	[KBP__DOCTOR_UNBALANCED_RESERVATIONS] =
		"SELECT p.id FROM products p LEFT JOIN (SELECT it.sku, sum(it.qty) AS held "
		"FROM intent_items it JOIN intents i ON i.id = it.intent_id WHERE i.status = " SQ_INTENT_PENDING " "
		"OR (i.status = " SQ_INTENT_SUCCEEDED " AND NOT EXISTS (SELECT 1 FROM orders o WHERE o.intent_id = i.id)) "
		"GROUP BY it.sku) h ON h.sku = p.id WHERE p.reserved <> coalesce(h.held, 0) "
		"ORDER BY p.id",
	[KBP__DOCTOR_PRODUCTS_WITHOUT_VENDOR] =
		"SELECT p.id FROM products p WHERE NOT EXISTS "
		"(SELECT 1 FROM vendors v WHERE v.id = p.vendor_id) ORDER BY p.id",
	[KBP__DOCTOR_NEEDS_REFUND] =
		"SELECT id FROM intents WHERE needs_refund = 1 ORDER BY updated_at, id",
};

static int check_run(sq_conn *c, int check, int64_t now, kbp_doctor_report *r)
{
	sqlite3_stmt *st = sq_stmt(c, checks[check], "l", now - KBP_DOCTOR_PAID_GRACE_MS);
	int rc;

	if (!st)
		return kbp_error_last()->code;
	while ((rc = sq_next(c, st)) == 1)
		if (kbp__doctor_add(r, check, (const char *)sqlite3_column_text(st, 0)) != 0) {
			sqlite3_reset(st);
			return kbp_error_set(KBP_ENOMEM, "out of memory");
		}
	return rc;
}

int sq_doctor(kbp_storage *s, int64_t now, kbp_doctor_report **out)
{
	sq_store *q = sq_of(s);
	kbp_doctor_report *r = kbp__doctor_report_new();
	sq_conn *c;
	int rc;

	if (!r)
		return kbp_error_set(KBP_ENOMEM, "out of memory");
	if ((rc = sq_acquire(q, &c)) == 0) {
		if ((rc = sq_begin(c, 0)) == 0)
			for (int i = 0; rc == 0 && i < KBP__DOCTOR_CHECKS; i++)
				rc = check_run(c, i, now, r);
		sq_rollback(c);
		sq_release(q, c);
	}
	if (rc) {
		kbp_doctor_report_free(r);
		return rc;
	}
	*out = r;
	return 0;
}
