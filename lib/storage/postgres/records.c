/* SPDX-License-Identifier: MIT */
/*
 * Records (storage version 3) on PostgreSQL. A write transaction holds one
 * pooled connection and costs two round trips: BEGIN goes out with the
 * facts query in one pipeline, the changes with the COMMIT in another. A
 * read is the facts query alone. The rules that decide between the two are
 * the library's (lib/core/rules.c); schema/012_records.sql only reads and
 * writes.
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

/* One statement of a pipeline: SQL text without parameters, or a prepared statement. */
typedef struct pg_send {
	const char *sql;
	pg_stmt st;
	int n;
	const char *const *params;
	const int *lengths;
	const int *formats;
} pg_send;

static int send_one(PGconn *conn, const pg_send *q, const char *name)
{
	if (q->sql)
		return PQsendQueryParams(conn, q->sql, 0, NULL, NULL, NULL, NULL, 0);
	return PQsendQueryPrepared(conn, name, q->n, q->params, q->lengths, q->formats, 0);
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

/*
 * Sends n statements and a sync in one round trip and reads every result;
 * *out (may be NULL) keeps the last statement's. A connection that broke is
 * dropped and reported as KBP_ESTORAGE, with *lost set.
 */
static int pipeline(pg_conn *c, const pg_send *qs, int n, PGresult **out, int *lost)
{
	PGconn *conn = c->conn;
	int rc = 0, sent = 1;

	*lost = 0;
	if (out)
		*out = NULL;
	sent = PQenterPipelineMode(conn);
	for (int i = 0; sent && i < n; i++)
		sent = send_one(conn, &qs[i], qs[i].sql ? NULL : pg_stmt_name(qs[i].st));
	sent = sent && PQpipelineSync(conn);
	for (int i = 0; sent && i <= n; i++) {
		PGresult *res = PQgetResult(conn);
		if (!res) {
			sent = 0;
			break;
		}
		rc = judge(c, res, rc);
		if (i == n - 1 && out && PQresultStatus(res) == PGRES_TUPLES_OK)
			*out = res;
		else
			PQclear(res);
		if (i < n)
			PQclear(PQgetResult(conn)); /* the NULL that ends each statement's results */
	}
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
	if (rc == 0 && !(flags & KBP_TXN_READ))
		rc = pg_conn_ready(s, t->c, ST_CHANGES_APPLY, &lost);
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

/* An order's status: an intent by id with its order and job, without lines, read only. */
static int is_status_read(const pg_txn *t, const kbp_facts_query *q)
{
	return (t->flags & KBP_TXN_READ) && q->intent_id && !q->cart_id && !q->sku &&
	       !q->accepted_txn && !q->job_id && q->scan == KBP_SCAN_NONE &&
	       q->want == (KBP_FACTS_ORDER | KBP_FACTS_JOB | KBP_FACTS_NO_ITEMS);
}

static int status_read(pg_store *s, pg_txn *t, const kbp_facts_query *q, kbp_facts *out)
{
	const char *p[1] = { q->intent_id };
	pg_send qs = { NULL, ST_FACTS_STATUS, 1, p, NULL, NULL };
	PGresult *res;
	int lost, rc;

	if ((rc = pg_conn_ready(s, t->c, ST_FACTS_STATUS, &lost)))
		return rc;
	rc = pipeline(t->c, &qs, 1, &res, &lost);
	if (rc == 0 && !lost)
		rc = res ? parse_answer(out, res) : kbp_error_set(KBP_ESTORAGE, "no facts answered");
	PQclear(res);
	return rc;
}

int pg_facts_read(kbp_storage *st, kbp_txn *tx, const kbp_facts_query *q, kbp_facts *out)
{
	pg_txn *t = (pg_txn *)tx;
	pg_num want = pg_i64(q->want), scan = pg_i64(q->scan), before = pg_i64(q->scan_before),
	       max = pg_i64((int64_t)q->scan_max);
	const char *p[13] = { q->intent_id, q->idempotency_key, q->gateway, q->gateway_ref,
		              q->cart_id, q->sku, q->accepted_txn, want.s, scan.s, before.s, max.s,
		              t->flags & KBP_TXN_READ ? "f" : "t", q->job_id };
	pg_send qs[2] = { { "BEGIN", ST_FACTS, 0, NULL, NULL, NULL },
		          { NULL, ST_FACTS, 13, p, NULL, NULL } };
	int write = !(t->flags & KBP_TXN_READ), lost, rc;
	PGresult *res;

	if (is_status_read(t, q))
		return status_read(pg_of(st), t, q, out);
	rc = write ? pipeline(t->c, qs, 2, &res, &lost) : pipeline(t->c, qs + 1, 1, &res, &lost);
	t->begun = write && !lost;
	/*
	 * Nothing was committed, but the server may be going down: the caller
	 * hears of it (KBP_ESTORAGE) rather than a conflict, and the next call
	 * opens a fresh connection.
	 */
	if (lost)
		return rc;
	if (rc == 0)
		rc = res ? parse_answer(out, res) : kbp_error_set(KBP_ESTORAGE, "no facts answered");
	PQclear(res);
	return rc;
}

int pg_changes_apply(kbp_storage *st, kbp_txn *tx, const kbp_changes *c)
{
	(void)st;
	((pg_txn *)tx)->changes = c;
	return 0;
}

static int add_array(cJSON *doc, const char *name, size_t n, cJSON *(*item)(const void *, size_t),
                     const void *ctx)
{
	cJSON *a;

	if (n == 0)
		return 1;
	if (!(a = cJSON_AddArrayToObject(doc, name)))
		return 0;
	for (size_t i = 0; i < n; i++) {
		cJSON *x = item(ctx, i);
		if (!x || !cJSON_AddItemToArray(a, x)) {
			cJSON_Delete(x);
			return 0;
		}
	}
	return 1;
}

static cJSON *intent_item(const void *ctx, size_t i)
{
	const kbp_intent_write *w = &((const kbp_intent_write *)ctx)[i];
	cJSON *o = pg_json_intent_record(w->record);

	if (o && !cJSON_AddBoolToObject(o, "new", w->is_new)) {
		cJSON_Delete(o);
		return NULL;
	}
	return o;
}

static cJSON *stock_item(const void *ctx, size_t i)
{
	const kbp_stock_delta *d = &((const kbp_stock_delta *)ctx)[i];
	cJSON *o = cJSON_CreateObject();

	if (o && (!cJSON_AddStringToObject(o, "sku", d->sku) ||
	          !cJSON_AddNumberToObject(o, "on_hand", (double)d->on_hand) ||
	          !cJSON_AddNumberToObject(o, "reserved", (double)d->reserved))) {
		cJSON_Delete(o);
		return NULL;
	}
	return o;
}

static cJSON *job_write_item(const void *ctx, size_t i)
{
	const kbp_job_write *w = &((const kbp_job_write *)ctx)[i];
	cJSON *o = cJSON_CreateObject();

	if (o && (!cJSON_AddStringToObject(o, "id", w->id) ||
	          !cJSON_AddNumberToObject(o, "state", (double)w->state) ||
	          !cJSON_AddNumberToObject(o, "run_at", (double)w->run_at) ||
	          !cJSON_AddNumberToObject(o, "max_attempts", (double)w->max_attempts) ||
	          (w->error && !cJSON_AddStringToObject(o, "error", w->error)) ||
	          !cJSON_AddBoolToObject(o, "rescued", w->rescued))) {
		cJSON_Delete(o);
		return NULL;
	}
	return o;
}

static int add_object(cJSON *doc, const char *name, cJSON *o)
{
	if (o && cJSON_AddItemToObject(doc, name, o))
		return 1;
	cJSON_Delete(o);
	return 0;
}

static int add_verification(cJSON *doc, const kbp_changes *c)
{
	cJSON *v = pg_json_verification(c->verification);

	if (c->raw_sha256 && v && !cJSON_AddStringToObject(v, "raw_sha256", c->raw_sha256)) {
		cJSON_Delete(v);
		return 0;
	}
	return add_object(doc, "verification", v);
}

/* The changes as the JSON document kbp_changes_apply reads. */
static char *changes_json(const kbp_changes *c)
{
	cJSON *doc = cJSON_CreateObject();
	int ok = doc && cJSON_AddNumberToObject(doc, "now", (double)c->now);
	char *text;

	ok = ok && add_array(doc, "intents", c->n_intents, intent_item, c->intents) &&
	     add_array(doc, "stock", c->n_stock, stock_item, c->stock) &&
	     (!c->cart || add_object(doc, "cart", pg_json_cart(c->cart))) &&
	     (!c->order || add_object(doc, "order", pg_json_order(c->order))) &&
	     (!c->verification || add_verification(doc, c)) &&
	     (!c->n_jobs || add_object(doc, "jobs", pg_json_drafts(c->jobs, c->n_jobs))) &&
	     add_array(doc, "job_writes", c->n_job_writes, job_write_item, c->job_writes);
	text = ok ? cJSON_PrintUnformatted(doc) : NULL;
	cJSON_Delete(doc);
	return text;
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
	char *doc = changes_json(c);
	const char *p[2] = { doc, c->raw };
	int lengths[2] = { 0, (int)c->raw_len }, formats[2] = { 0, 1 };
	pg_send qs[2] = { { NULL, ST_CHANGES_APPLY, 2, p, lengths, formats },
		          { "COMMIT", ST_CHANGES_APPLY, 0, NULL, NULL, NULL } };
	int lost, rc;

	if (!doc)
		return pg_oom();
	rc = pipeline(t->c, qs, 2, NULL, &lost);
	free(doc);
	if (lost)
		t->begun = 0;
	return rc;
}

int pg_txn_commit(kbp_storage *st, kbp_txn *tx)
{
	pg_store *s = pg_of(st);
	pg_txn *t = (pg_txn *)tx;
	pg_send commit = { "COMMIT", ST_CHANGES_APPLY, 0, NULL, NULL, NULL };
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
