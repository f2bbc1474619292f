/* SPDX-License-Identifier: MIT */
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "storage/postgres/pg_internal.h"
#include "util/redact.h"

/* Deadlocks and serialization failures are retried this many times before giving up. */
#define RETRIES 5

enum { WAKE_JOBS = 1, WAKE_ORDERS = 2 };
/* Whose order changed, for WAKE_ORDERS: no key (every waiter), or a parameter. */
enum { KEY_NONE = -1 };

typedef struct stmt_def {
	const char *name;
	const char *sql;
	int n_params;
	int bytea_param;            /* index of a binary bytea parameter, or -1 */
	int replay_safe;            /* read-only or idempotent: may be repeated after a lost connection */
	int wakes;                  /* local topics to bump after success */
	int order_key;              /* index of the intent id parameter, or KEY_… */
} stmt_def;

static const stmt_def stmts[ST_COUNT] = {
	[ST_VENDOR_PUT] = { "vendor_put", "SELECT kbp_vendor_put($1,$2,$3)", 3, -1, 1, 0, KEY_NONE },
	[ST_VENDOR_GET] = { "vendor_get", "SELECT kbp_vendor_get($1)", 1, -1, 1, 0, KEY_NONE },
	[ST_PRODUCT_PUT] = { "product_put", "SELECT kbp_product_put($1,$2,$3,$4,$5,$6,$7,$8)", 8, -1, 1, 0, KEY_NONE },
	[ST_PRODUCT_GET] = { "product_get", "SELECT kbp_product_get($1)", 1, -1, 1, 0, KEY_NONE },
	[ST_PRODUCT_SET_ACTIVE] = { "product_set_active", "SELECT kbp_product_set_active($1,$2,$3)", 3, -1, 1, 0, KEY_NONE },
	[ST_CART_GET] = { "cart_get", "SELECT kbp_cart_get($1)", 1, -1, 1, 0, KEY_NONE },
	[ST_VERIFICATIONS_LIST] = { "verifications_list", "SELECT kbp_verifications_list($1)", 1, -1, 1, 0, KEY_NONE },
	[ST_ORDER_GET] = { "order_get", "SELECT kbp_order_get($1,$2)", 2, -1, 1, 0, KEY_NONE },
	[ST_JOB_ENQUEUE] = { "job_enqueue", "SELECT kbp_job_enqueue($1,$2,$3,$4,$5,$6,$7,$8)", 8, -1, 0, WAKE_JOBS, KEY_NONE },
	[ST_JOBS_ACQUIRE] = { "jobs_acquire", "SELECT kbp_jobs_acquire($1,$2,$3,$4)", 4, -1, 0, 0, KEY_NONE },
	[ST_JOB_COMPLETE] = { "job_complete", "SELECT kbp_job_complete($1,$2,$3)", 3, -1, 0, 0, KEY_NONE },
	[ST_JOB_GET] = { "job_get", "SELECT kbp_job_get($1)", 1, -1, 1, 0, KEY_NONE },
	[ST_JOBS_LIST] = { "jobs_list", "SELECT kbp_jobs_list($1,$2,$3,$4,$5)", 5, -1, 1, 0, KEY_NONE },
	[ST_MAINTENANCE] = { "maintenance", "SELECT kbp_maintenance($1,$2)", 2, -1, 1, WAKE_JOBS | WAKE_ORDERS, KEY_NONE },
	[ST_METRICS] = { "metrics", "SELECT kbp_metrics($1)", 1, -1, 1, 0, KEY_NONE },
	[ST_JOBS_COMPLETE] = { "jobs_complete", "SELECT kbp_jobs_complete($1,$2,$3)", 3, -1, 1, 0, KEY_NONE },
	[ST_DOCTOR] = { "doctor", "SELECT kbp_doctor($1,$2,$3)", 3, -1, 1, 0, KEY_NONE },
	[ST_JOBS_EXTEND] = { "jobs_extend", "SELECT kbp_jobs_extend($1,$2,$3,$4)", 4, -1, 1, 0, KEY_NONE },
	/*
	 * kbp_job_enqueue's unique_key rule for a batch in one statement: ON
	 * CONFLICT skips a job whose key a live job holds, one inserted earlier
	 * in the batch included, and the id answered is that holder's. A holder
	 * committed after the statement's snapshot leaves a NULL id, which the
	 * caller settles with job_enqueue.
	 */
	[ST_JOBS_INSERT] = { "jobs_insert",
		"WITH x AS (SELECT * FROM ROWS FROM (jsonb_to_recordset($1::jsonb)"
		"  AS (id text, kind text, payload text, unique_key text, priority integer,"
		"      run_at bigint, max_attempts integer)) WITH ORDINALITY"
		"  AS x(id, kind, payload, unique_key, priority, run_at, max_attempts, ord)),"
		" ins AS (INSERT INTO jobs (id, kind, payload, state, priority, max_attempts, run_at,"
		"                          unique_key, created_at, updated_at)"
		"  SELECT id, kind, payload::jsonb, 0, priority, max_attempts, run_at, unique_key, $2, $2"
		"    FROM x ORDER BY ord"
		"  ON CONFLICT (unique_key) WHERE state IN (0, 1) DO NOTHING RETURNING id, unique_key)"
		" SELECT kbp__res(0, NULL, jsonb_build_object("
		"   'created', (SELECT count(*) FROM ins),"
		"   'ids', (SELECT jsonb_agg(coalesce(i.id, h.id, j.id) ORDER BY x.ord) FROM x"
		"     LEFT JOIN ins i ON i.id = x.id"
		"     LEFT JOIN ins h ON i.id IS NULL AND h.unique_key = x.unique_key"
		"     LEFT JOIN jobs j ON i.id IS NULL AND h.id IS NULL AND j.unique_key = x.unique_key"
		"                     AND j.state IN (0, 1)))),"
		" (SELECT kbp__notify('jobs') FROM ins LIMIT 1)",
		2, -1, 0, WAKE_JOBS, KEY_NONE },
	/* Records: run inside a transaction that records.c opens, so never replayed on their own. */
	[ST_FACTS] = { "facts", "SELECT kbp_facts($1,$2,$3,$4,$5,$6,$7,$8,$9,$10,$11,$12,$13)", 13, -1,
		       0, 0, KEY_NONE },
	/*
	 * An order's status, polled by every waiter: the intent, its order and
	 * its finalize_order job without their lines, in one statement the
	 * server plans once (kbp_facts runs a dozen PL/pgSQL statements).
	 */
	[ST_FACTS_STATUS] = { "facts_status",
		"SELECT json_build_object("
		" 'intent', json_build_object('id', i.id, 'cart_id', i.cart_id,"
		"  'customer_id', i.customer_id, 'cart_version', i.cart_version,"
		"  'amount_minor', i.amount_minor, 'currency', i.currency, 'gateway', i.gateway,"
		"  'gateway_ref', i.gateway_ref, 'redirect', i.redirect,"
		"  'idempotency_key', i.idempotency_key, 'status', i.status,"
		"  'status_reason', i.status_reason, 'needs_refund', i.needs_refund,"
		"  'created_at', i.created_at, 'expires_at', i.expires_at, 'updated_at', i.updated_at,"
		"  'success_url', i.success_url, 'failure_url', i.failure_url,"
		"  'paid_at', coalesce(i.paid_at, 0), 'finalize_job_id', i.finalize_job_id,"
		"  'reconcile_marked', i.reconcile_scheduled),"
		" 'order', CASE WHEN o.id IS NOT NULL THEN json_build_object('id', o.id,"
		"  'order_number', o.order_number, 'intent_id', o.intent_id,"
		"  'customer_id', o.customer_id, 'total_minor', o.total_minor, 'currency', o.currency,"
		"  'status', o.status, 'fulfillment_status', o.fulfillment_status,"
		"  'created_at', o.created_at) END,"
		" 'job', CASE WHEN j.id IS NOT NULL THEN json_build_object('id', j.id, 'kind', j.kind,"
		"  'payload', j.payload::text, 'state', j.state, 'priority', j.priority,"
		"  'attempts', j.attempts, 'max_attempts', j.max_attempts, 'run_at', j.run_at,"
		"  'lease_until', j.lease_until, 'locked_by', j.locked_by, 'unique_key', j.unique_key,"
		"  'last_error', j.last_error, 'errors', j.errors, 'created_at', j.created_at,"
		"  'updated_at', j.updated_at, 'finished_at', j.finished_at) END)"
		" FROM intents i"
		" LEFT JOIN orders o ON o.intent_id = i.id"
		" LEFT JOIN jobs j ON j.id = i.finalize_job_id"
		" WHERE i.id = $1",
		1, -1, 0, 0, KEY_NONE },
	[ST_CHANGES_APPLY] = { "changes_apply", "SELECT kbp_changes_apply($1::jsonb,$2)", 2, 1, 0, 0,
		               KEY_NONE },
};

const char *pg_stmt_name(pg_stmt st)
{
	return stmts[st].name;
}

_Static_assert(ST_COUNT <= 64, "the prepared-statement bitmap holds 64 statements");

pg_num pg_i64(int64_t v)
{
	pg_num n;

	snprintf(n.s, sizeof(n.s), "%lld", (long long)v);
	return n;
}

int pg_conn_error(PGconn *conn, const char *what)
{
	char line[400];

	/* libpq's messages span lines; an error message is one line, and never holds the password. */
	kbp_redact_message(line, sizeof(line), conn ? PQerrorMessage(conn) : "out of memory", NULL,
	                   conn ? PQpass(conn) : NULL);
	return kbp_error_set(KBP_ESTORAGE, "%s: %s", what, line);
}

/* Server notices ("… already exists, skipping") are not errors; libpq would print them. */
static void ignore_notice(void *arg, const char *message)
{
	(void)arg;
	(void)message;
}

PGconn *pg_connect(const char *conninfo, const char *schema)
{
	const char *params[1] = { schema };
	PGconn *conn = PQconnectdb(conninfo);
	PGresult *res;

	if (!conn || PQstatus(conn) != CONNECTION_OK) {
		char line[400];

		/* A string libpq cannot parse is quoted back to us, password and all. */
		kbp_redact_message(line, sizeof(line), conn ? PQerrorMessage(conn) : "out of memory",
		                   conninfo, conn ? PQpass(conn) : NULL);
		kbp_error_set(KBP_ESTORAGE, "cannot connect to PostgreSQL: %s", line);
		PQfinish(conn);
		return NULL;
	}
	PQsetNoticeProcessor(conn, ignore_notice, NULL);
	res = PQexecParams(conn, "SELECT set_config('search_path', quote_ident($1), false)", 1, NULL,
	                   params, NULL, NULL, 0);
	if (PQresultStatus(res) != PGRES_TUPLES_OK) {
		pg_conn_error(conn, "cannot select the schema");
		PQclear(res);
		PQfinish(conn);
		return NULL;
	}
	PQclear(res);
	return conn;
}

/* Takes a free connection, opening one while the pool has room, else waits. */
pg_conn *pg_pool_get(pg_store *s)
{
	pg_conn *c = NULL;

	pthread_mutex_lock(&s->pool_lock);
	while (!c) {
		for (int i = 0; i < s->pool_size && !c; i++)
			if (!s->conns[i].in_use && s->conns[i].conn)
				c = &s->conns[i];
		for (int i = 0; i < s->pool_size && !c; i++)
			if (!s->conns[i].in_use && !s->conns[i].conn)
				c = &s->conns[i];
		if (!c)
			pthread_cond_wait(&s->pool_free, &s->pool_lock);
	}
	c->in_use = 1;
	pthread_mutex_unlock(&s->pool_lock);
	return c;
}

void pg_pool_put(pg_store *s, pg_conn *c)
{
	pthread_mutex_lock(&s->pool_lock);
	c->in_use = 0;
	pthread_cond_signal(&s->pool_free);
	pthread_mutex_unlock(&s->pool_lock);
}

void pg_conn_drop(pg_conn *c)
{
	PQfinish(c->conn);
	c->conn = NULL;
	c->prepared = 0;
}


/*
 * libpq's own failures carry no SQLSTATE, the server's errors always do: a
 * fatal result without one is a connection that broke, even when PQstatus
 * has not caught up (an immediate server restart leaves it CONNECTION_OK).
 */
int pg_conn_broken(PGconn *conn, const PGresult *res)
{
	return PQstatus(conn) != CONNECTION_OK ||
	       (PQresultStatus(res) == PGRES_FATAL_ERROR && !PQresultErrorField(res, PG_DIAG_SQLSTATE));
}

/*
 * An idle connection the server dropped (a restart, say) still says
 * CONNECTION_OK: libpq learns of the end of the stream only when it reads.
 * Reading what is pending now finds it before anything is sent.
 */
static void drop_if_dead(pg_conn *c)
{
	while (c->conn) {
		struct pollfd fd = { PQsocket(c->conn), POLLIN, 0 };
		if (PQstatus(c->conn) == CONNECTION_OK && poll(&fd, 1, 0) == 0)
			return;
		if (PQstatus(c->conn) != CONNECTION_OK || !PQconsumeInput(c->conn))
			pg_conn_drop(c);
	}
}

/* Opens the connection if needed and prepares the statement on it. */
int pg_conn_ready(pg_store *s, pg_conn *c, pg_stmt st, int *lost)
{
	const stmt_def *d = &stmts[st];
	Oid types[16] = { 0 };
	PGresult *res;
	int ok, broken;

	drop_if_dead(c);
	if (!c->conn && !(c->conn = pg_connect(s->conninfo, s->schema))) {
		*lost = LOST_UNSENT;
		return kbp_error_last()->code;
	}
	if (c->prepared & (UINT64_C(1) << st))
		return 0;
	if (d->bytea_param >= 0)
		types[d->bytea_param] = 17; /* bytea */
	res = PQprepare(c->conn, d->name, d->sql, d->n_params, types);
	ok = PQresultStatus(res) == PGRES_COMMAND_OK;
	broken = !ok && pg_conn_broken(c->conn, res);
	PQclear(res);
	if (broken) {
		/* Reopened on the next attempt; the statement itself never went out. */
		int rc = pg_conn_error(c->conn, "connection to PostgreSQL lost");
		pg_conn_drop(c);
		*lost = LOST_UNSENT;
		return rc;
	}
	if (!ok)
		return pg_conn_error(c->conn, "cannot prepare a statement (is the schema migrated?)");
	c->prepared |= UINT64_C(1) << st;
	return 0;
}

int pg_retryable(const PGresult *res)
{
	const char *state = PQresultErrorField(res, PG_DIAG_SQLSTATE);

	return state && (strcmp(state, "40001") == 0 || strcmp(state, "40P01") == 0);
}

int pg_sql_error(const PGresult *res)
{
	const char *state = PQresultErrorField(res, PG_DIAG_SQLSTATE);
	const char *msg = PQresultErrorField(res, PG_DIAG_MESSAGE_PRIMARY);

	/* A constraint caught what the function's own checks should have: a lost race. */
	if (state && (strcmp(state, "23505") == 0 || strcmp(state, "23514") == 0))
		return kbp_error_set(KBP_ECONFLICT, "concurrent change: %s", msg ? msg : state);
	/* Class 22, data exception: the server is up and refused a value it was given. */
	if (state && strncmp(state, "22", 2) == 0)
		return kbp_error_set(KBP_EINVAL, "PostgreSQL refused a value (%s): %s", state,
		                     msg ? msg : "unknown");
	return kbp_error_set(KBP_ESTORAGE, "PostgreSQL error %s: %s", state ? state : "?",
	                     msg ? msg : "unknown");
}

static int answer(PGresult *res, cJSON **out_data)
{
	cJSON *doc = cJSON_Parse(PQgetvalue(res, 0, 0));
	const cJSON *code = cJSON_GetObjectItemCaseSensitive(doc, "code");
	const cJSON *message = cJSON_GetObjectItemCaseSensitive(doc, "message");
	cJSON *data;
	int rc;

	if (!cJSON_IsNumber(code)) {
		cJSON_Delete(doc);
		return kbp_error_set(KBP_ESTORAGE, "malformed answer from the database");
	}
	rc = code->valueint;
	if (rc != 0)
		kbp_error_set(rc, "%s", cJSON_IsString(message) ? message->valuestring : kbp_strerror(rc));
	data = cJSON_DetachItemFromObjectCaseSensitive(doc, "data");
	cJSON_Delete(doc);
	if (data && cJSON_IsNull(data)) {
		cJSON_Delete(data);
		data = NULL;
	}
	if (out_data)
		*out_data = data;
	else
		cJSON_Delete(data);
	return rc;
}

static void wake(pg_store *s, pg_stmt st, const char *const *params, const cJSON *data)
{
	const char *key = NULL;

	if (stmts[st].wakes & WAKE_JOBS)
		pg_bump_jobs(s);
	if (!(stmts[st].wakes & WAKE_ORDERS))
		return;
	if (stmts[st].order_key >= 0)
		key = params[stmts[st].order_key];
	pg_bump_order(s, key);
}

/* One attempt on one connection; *again: a lost race worth another try; *lost: LOST_…. */
static int attempt(pg_store *s, pg_conn *c, pg_stmt st, const char *const *params,
                   const int *lengths, int n, cJSON **out_data, int *again, int *lost)
{
	int formats[16] = { 0 };
	PGresult *res;
	int rc;

	*again = 0;
	*lost = LIVE;
	if ((rc = pg_conn_ready(s, c, st, lost)) != 0)
		return rc;
	if (stmts[st].bytea_param >= 0)
		formats[stmts[st].bytea_param] = 1;
	res = PQexecPrepared(c->conn, stmts[st].name, n, params, lengths, formats, 0);
	if (PQresultStatus(res) == PGRES_TUPLES_OK && PQntuples(res) == 1) {
		rc = answer(res, out_data);
	} else if (pg_conn_broken(c->conn, res)) {
		rc = pg_conn_error(c->conn, "connection to PostgreSQL lost");
		pg_conn_drop(c);
		*lost = LOST_UNKNOWN;
	} else {
		*again = pg_retryable(res);
		rc = pg_sql_error(res);
	}
	PQclear(res);
	return rc;
}

int pg_call_raw(pg_store *s, pg_stmt st, const char *const *params, const int *lengths, int n,
                cJSON **out_data)
{
	pg_conn *c = pg_pool_get(s);
	int rc = 0, again = 0, lost = LIVE, replayed = 0;

	if (out_data)
		*out_data = NULL;
	for (int i = 0; i < RETRIES; i++) {
		rc = attempt(s, c, st, params, lengths, n, out_data, &again, &lost);
		if (again)
			continue;
		/*
		 * A connection lost (a server restart, say) is reopened and the call
		 * repeated once: always when its statement never went out, else only
		 * when repeating cannot do twice what may already have committed.
		 */
		if (!replayed && (lost == LOST_UNSENT || (lost == LOST_UNKNOWN && stmts[st].replay_safe))) {
			replayed = 1;
			continue;
		}
		break;
	}
	pg_pool_put(s, c);
	if (rc == 0 || rc == KBP_EEXISTS)
		wake(s, st, params, out_data ? *out_data : NULL);
	return rc;
}

int pg_call(pg_store *s, pg_stmt st, const char *const *params, int n, cJSON **out_data)
{
	return pg_call_raw(s, st, params, NULL, n, out_data);
}
