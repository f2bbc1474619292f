/* SPDX-License-Identifier: MIT */
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "storage/postgres/pg_internal.h"
#include "util/redact.h"

/* Deadlocks and serialization failures are retried this many times before giving up. */
#define RETRIES 5

const char *pg_stmt_name(pg_stmt st)
{
	return pg_stmts[st].name;
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
	/*
	 * Every statement of the library finds its rows by key, whatever the
	 * parameters: planned once for the connection, the plan is kept.
	 * Otherwise the server plans again each time a plan with the values in
	 * it looks cheaper than the kept one. It does for the statements inside
	 * the schema's PL/pgSQL functions, whose parameters fold branches away;
	 * under the order load, that planning cost about a fifth of the orders
	 * per second.
	 */
	res = PQexecParams(conn,
	                   "SELECT set_config('search_path', quote_ident($1), false),"
	                   " set_config('plan_cache_mode', 'force_generic_plan', false)",
	                   1, NULL, params, NULL, NULL, 0);
	if (PQresultStatus(res) != PGRES_TUPLES_OK) {
		pg_conn_error(conn, "cannot set up the session");
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

/* Parameters are text, typed by the server, but for the one bytea a statement may take. */
static void param_types(pg_stmt st, Oid types[16])
{
	for (int i = 0; i < 16; i++)
		types[i] = 0;
	if (pg_stmts[st].bytea_param >= 0)
		types[pg_stmts[st].bytea_param] = 17; /* bytea */
}

int pg_send_prepare(PGconn *conn, pg_stmt st)
{
	Oid types[16];

	param_types(st, types);
	return PQsendPrepare(conn, pg_stmts[st].name, pg_stmts[st].sql, pg_stmts[st].n_params, types);
}

/* Opens the connection if needed and prepares the statement on it. */
int pg_conn_ready(pg_store *s, pg_conn *c, pg_stmt st, int *lost)
{
	const pg_stmt_def *d = &pg_stmts[st];
	Oid types[16];
	PGresult *res;
	int ok, broken;

	drop_if_dead(c);
	if (!c->conn && !(c->conn = pg_connect(s->conninfo, s->schema))) {
		*lost = LOST_UNSENT;
		return kbp_error_last()->code;
	}
	if (c->prepared & (UINT64_C(1) << st))
		return 0;
	param_types(st, types);
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

	if (pg_stmts[st].wakes & PG_WAKE_JOBS)
		pg_bump_jobs(s);
	if (!(pg_stmts[st].wakes & PG_WAKE_ORDERS))
		return;
	if (pg_stmts[st].order_key >= 0)
		key = params[pg_stmts[st].order_key];
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
	if (pg_stmts[st].bytea_param >= 0)
		formats[pg_stmts[st].bytea_param] = 1;
	res = PQexecPrepared(c->conn, pg_stmts[st].name, n, params, lengths, formats, 0);
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
		if (!replayed && (lost == LOST_UNSENT || (lost == LOST_UNKNOWN && pg_stmts[st].replay_safe))) {
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
