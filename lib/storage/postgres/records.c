/* SPDX-License-Identifier: MIT */
/*
 * Records (storage version 3) on PostgreSQL. A write transaction holds one
 * pooled connection and costs two round trips: BEGIN goes out with the
 * facts query in one pipeline, the changes with the COMMIT in another. A
 * read is the facts query alone. The rules that decide between the two are
 * the library's (lib/core/rules.c); the facts query (schema/) only reads and
 * the change statements (changes.c) only write.
 */
#include <stdlib.h>
#include <string.h>

#include "core/records.h"
#include "storage/postgres/pg_internal.h"

typedef struct pg_txn {
	pg_conn *c;
	unsigned int flags;
	int begun;                  /* BEGIN went out: the end is COMMIT or ROLLBACK */
	const kbp_changes *changes; /* sent with the COMMIT */
} pg_txn;

static int send_one(PGconn *conn, const pg_send *q)
{
	if (q->sql)
		return PQsendQueryParams(conn, q->sql, 0, NULL, NULL, NULL, NULL, 0);
	return PQsendQueryPrepared(conn, pg_stmt_name(q->st), q->n, q->params, q->lengths,
	                           q->formats, 0);
}

/* The first failure among a pipeline's results, as a code (0 when all succeeded). */
static int judge(pg_conn *c, PGresult *res, int rc)
{
	ExecStatusType status = PQresultStatus(res);

	if (rc || status == PGRES_COMMAND_OK || status == PGRES_TUPLES_OK ||
	    status == PGRES_PIPELINE_SYNC)
		return rc;
	if (status == PGRES_PIPELINE_ABORTED)
		return kbp_error_set(KBP_ESTORAGE, "PostgreSQL skipped a statement after an error");
	if (pg_conn_broken(c->conn, res))
		return KBP_ESTORAGE;
	if (pg_retryable(res))
		return kbp_error_set(KBP_ECONFLICT, "PostgreSQL ended the transaction for another's sake");
	return pg_sql_error(res);
}

/* Whether q is a statement *mask does not hold as prepared; it does after. */
static int unprepared(uint64_t *mask, const pg_send *q)
{
	uint64_t bit = q->sql ? 0 : UINT64_C(1) << q->st;
	int first = bit && !(*mask & bit);

	*mask |= bit;
	return first;
}

/*
 * Reads the next message's result into rc (and the NULL after it, but for
 * the sync's); *keep (when given) takes it if it has rows. Its status, or
 * -1 when the connection failed.
 */
static int take(pg_conn *c, int *rc, PGresult **keep, int sync)
{
	PGresult *res = PQgetResult(c->conn);
	int status;

	if (!res)
		return -1;
	status = (int)PQresultStatus(res);
	*rc = judge(c, res, *rc);
	if (keep && status == PGRES_TUPLES_OK)
		*keep = res;
	else
		PQclear(res);
	if (!sync)
		PQclear(PQgetResult(c->conn));
	return status;
}

/*
 * Sends n statements and a sync in one round trip and reads every result;
 * *out (may be NULL) keeps the last statement's. A statement the connection
 * has not prepared yet is prepared in the same round trip, before its first
 * use, and so inside the transaction, whose locks it would take anyway. A
 * connection that broke is dropped and reported as KBP_ESTORAGE, with *lost
 * set.
 */
static int pipeline(pg_conn *c, const pg_send *qs, int n, PGresult **out, int *lost)
{
	PGconn *conn = c->conn;
	uint64_t start = c->prepared, mask = start;
	int rc = 0, sent;

	*lost = 0;
	if (out)
		*out = NULL;
	sent = PQenterPipelineMode(conn);
	for (int i = 0; sent && i < n; i++) {
		if (unprepared(&mask, &qs[i]))
			sent = pg_send_prepare(conn, qs[i].st);
		sent = sent && send_one(conn, &qs[i]);
	}
	sent = sent && PQpipelineSync(conn);
	mask = start;
	for (int i = 0; sent && i < n; i++) {
		if (unprepared(&mask, &qs[i])) {
			int status = take(c, &rc, NULL, 0);
			sent = status >= 0;
			if (status == PGRES_COMMAND_OK)
				c->prepared |= UINT64_C(1) << qs[i].st;
		}
		sent = sent && take(c, &rc, i == n - 1 ? out : NULL, 0) >= 0;
	}
	sent = sent && take(c, &rc, NULL, 1) >= 0;
	if (!sent || PQstatus(conn) != CONNECTION_OK) {
		rc = pg_conn_error(conn, "connection to PostgreSQL lost");
		if (out) {
			PQclear(*out);
			*out = NULL;
		}
		pg_conn_drop(c);
		*lost = 1;
		return rc;
	}
	PQexitPipelineMode(conn);
	return rc;
}

static void txn_end(pg_store *s, pg_txn *t)
{
	pg_pool_put(s, t->c);
	free(t);
}

int pg_txn_begin(kbp_storage *st, unsigned int flags, kbp_txn **out)
{
	pg_store *s = pg_of(st);
	pg_txn *t = calloc(1, sizeof(*t));
	int lost = LIVE, rc;

	if (!t)
		return pg_oom();
	t->c = pg_pool_get(s);
	t->flags = flags;
	rc = pg_conn_ready(s, t->c, ST_FACTS, &lost);
	if (rc) {
		txn_end(s, t);
		return rc;
	}
	*out = (kbp_txn *)t;
	return 0;
}

static int parse_answer(kbp_facts *f, PGresult *res)
{
	cJSON *doc;
	int rc;

	if (PQntuples(res) == 0)
		return 0; /* the status statement found no intent */
	if (!(doc = cJSON_Parse(PQgetvalue(res, 0, 0))))
		return kbp_error_set(KBP_ESTORAGE, "malformed facts from the database");
	rc = pg_facts_parse(f, doc);
	cJSON_Delete(doc);
	return rc;
}

/* The facts of a read's answer res (consumed), unless the read failed with rc. */
static int answer_of(int rc, PGresult *res, kbp_facts *f)
{
	if (rc == 0)
		rc = res ? parse_answer(f, res) : kbp_error_set(KBP_ESTORAGE, "no facts answered");
	PQclear(res);
	return rc;
}

/* An order's status: an intent by id with its order and job, without lines, read only. */
static int is_status_read(const pg_txn *t, const kbp_facts_query *q)
{
	return (t->flags & KBP_TXN_READ) && q->intent_id && !q->cart_id && !q->sku &&
	       !q->accepted_txn && !q->job_id && q->scan == KBP_SCAN_NONE &&
	       q->want == (KBP_FACTS_ORDER | KBP_FACTS_JOB | KBP_FACTS_NO_ITEMS);
}

static int status_read(pg_txn *t, const kbp_facts_query *q, kbp_facts *out)
{
	const char *p[1] = { q->intent_id };
	pg_send qs = { .st = ST_FACTS_STATUS, .n = 1, .params = p };
	PGresult *res;
	int lost, rc;

	rc = pipeline(t->c, &qs, 1, &res, &lost);
	return answer_of(rc, res, out);
}

int pg_facts_read(kbp_storage *st, kbp_txn *tx, const kbp_facts_query *q, kbp_facts *out)
{
	pg_txn *t = (pg_txn *)tx;
	pg_num want = pg_i64(q->want), scan = pg_i64(q->scan), before = pg_i64(q->scan_before),
	       max = pg_i64((int64_t)q->scan_max);
	const char *p[13] = { q->intent_id, q->idempotency_key, q->gateway, q->gateway_ref,
		              q->cart_id, q->sku, q->accepted_txn, want.s, scan.s, before.s, max.s,
		              t->flags & KBP_TXN_READ ? "f" : "t", q->job_id };
	pg_send qs[2] = { { .sql = "BEGIN" }, { .st = ST_FACTS, .n = 13, .params = p } };
	int write = !(t->flags & KBP_TXN_READ), lost, rc;
	PGresult *res;

	if (is_status_read(t, q))
		return status_read(t, q, out);
	rc = write ? pipeline(t->c, qs, 2, &res, &lost) : pipeline(t->c, qs + 1, 1, &res, &lost);
	t->begun = write && !lost;
	/*
	 * A lost connection committed nothing, but the server may be going
	 * down: the caller hears of it (KBP_ESTORAGE) rather than a conflict,
	 * and the next call opens a fresh connection.
	 */
	return answer_of(rc, res, out);
}

int pg_changes_apply(kbp_storage *st, kbp_txn *tx, const kbp_changes *c)
{
	(void)st;
	((pg_txn *)tx)->changes = c;
	return 0;
}

/* Wakes this process's waiters at once; other processes hear the triggers' NOTIFY. */
static void wake(pg_store *s, const kbp_changes *c)
{
	int available = 0;

	for (size_t i = 0; i < c->n_job_writes; i++)
		available |= c->job_writes[i].state == KBP_JOB_AVAILABLE;
	if (c->n_jobs || available)
		pg_bump_jobs(s);
	if (c->n_job_writes)
		pg_bump_order(s, NULL);
	for (size_t i = 0; i < c->n_intents; i++)
		pg_bump_order(s, c->intents[i].record->intent.id);
	if (c->order)
		pg_bump_order(s, c->order->intent_id);
}

static int commit_changes(pg_txn *t, const kbp_changes *c)
{
	pg_batch b;
	int lost, rc;

	if ((rc = pg_batch_build(&b, c)))
		return rc;
	b.q[b.n] = (pg_send){ .sql = "COMMIT" }; /* the batch keeps a slot for it */
	rc = pipeline(t->c, b.q, b.n + 1, NULL, &lost);
	pg_batch_free(&b);
	if (lost)
		t->begun = 0;
	return rc;
}

int pg_txn_commit(kbp_storage *st, kbp_txn *tx)
{
	pg_store *s = pg_of(st);
	pg_txn *t = (pg_txn *)tx;
	pg_send commit = { .sql = "COMMIT" };
	int lost = 0, rc = 0;

	if (t->begun && t->changes)
		rc = commit_changes(t, t->changes);
	else if (t->begun)
		rc = pipeline(t->c, &commit, 1, NULL, &lost);
	/* A failed statement leaves the transaction aborted: it must still be ended. */
	if (rc && t->c->conn && t->begun)
		PQclear(PQexec(t->c->conn, "ROLLBACK"));
	if (rc == 0 && t->changes)
		wake(s, t->changes);
	txn_end(s, t);
	return rc;
}

void pg_txn_rollback(kbp_storage *st, kbp_txn *tx)
{
	pg_txn *t = (pg_txn *)tx;

	if (t->begun && t->c->conn)
		PQclear(PQexec(t->c->conn, "ROLLBACK"));
	txn_end(pg_of(st), t);
}
