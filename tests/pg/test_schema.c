/* SPDX-License-Identifier: MIT */
/*
 * What only a database backend has: schema versions and migrations, a
 * database that is not there, a schema that must hold no credential, and
 * stock that is locked when it is written, not when it is read, the
 * wake-ups of an order's waiters and the lines their polls leave out, and
 * the one write that does not wait for the disk.
 * Runs against the server named by KBP_TEST_STORAGE (tests/pg/with-pg.sh).
 */
#include <check.h>
#include <libpq-fe.h>
#include <pthread.h>
#include <sodium.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include <kbpipeline.h>

#include "storage/postgres/pg_internal.h"

static const char *uri(void)
{
	const char *u = getenv("KBP_TEST_STORAGE");

	ck_assert_msg(u && *u, "KBP_TEST_STORAGE names no database");
	return u;
}

/* A schema name no other test uses. */
static void fresh_schema(char out[24])
{
	unsigned char r[6];

	randombytes_buf(r, sizeof(r));
	snprintf(out, 24, "s%02x%02x%02x%02x%02x%02x", r[0], r[1], r[2], r[3], r[4], r[5]);
}

static int open_schema(kbp_pipeline **p, const char *schema)
{
	kbp_options o = KBP_OPTIONS_INIT;

	o.storage = uri();
	o.storage_schema = schema;
	return kbp_pipeline_open(p, &o);
}

static long long scalar(const char *sql, const char *param)
{
	PGconn *c = PQconnectdb(uri());
	const char *params[1] = { param };
	PGresult *r;
	long long v;

	ck_assert_int_eq(PQstatus(c), CONNECTION_OK);
	r = PQexecParams(c, sql, param ? 1 : 0, NULL, params, NULL, NULL, 0);
	ck_assert_msg(PQresultStatus(r) == PGRES_TUPLES_OK || PQresultStatus(r) == PGRES_COMMAND_OK,
	              "%s: %s", sql, PQerrorMessage(c));
	v = PQresultStatus(r) == PGRES_TUPLES_OK ? atoll(PQgetvalue(r, 0, 0)) : 0;
	PQclear(r);
	PQfinish(c);
	return v;
}

START_TEST(unmigrated_schema_is_refused)
{
	char schema[24];
	kbp_pipeline *p = NULL;

	fresh_schema(schema);
	ck_assert_int_eq(open_schema(&p, schema), KBP_EVERSION);
	ck_assert_ptr_null(p);
	ck_assert_ptr_nonnull(strstr(kbp_error_last()->message, "migrate"));
}
END_TEST

START_TEST(migrate_is_idempotent_and_versioned)
{
	char schema[24];
	kbp_pipeline *p = NULL;
	int v1 = -1, v2 = -1;

	fresh_schema(schema);
	ck_assert_int_eq(kbp_migrate(&v1, uri(), schema), 0);
	ck_assert_int_eq(kbp_migrate(&v2, uri(), schema), 0);
	ck_assert_int_gt(v1, 0);
	ck_assert_int_eq(v1, v2);
	ck_assert_int_eq(open_schema(&p, schema), 0);
	ck_assert_str_eq(kbp_pipeline_storage_name(p), "postgres");
	kbp_pipeline_close(p);
}
END_TEST

START_TEST(schema_from_the_future_is_refused)
{
	char schema[24], sql[128];
	kbp_pipeline *p = NULL;
	int v = 0;

	fresh_schema(schema);
	ck_assert_int_eq(kbp_migrate(&v, uri(), schema), 0);
	snprintf(sql, sizeof(sql), "INSERT INTO %s.kbp_schema_version VALUES (%d, 0)", schema, v + 1);
	scalar(sql, NULL);
	ck_assert_int_eq(open_schema(&p, schema), KBP_EVERSION);
	ck_assert_ptr_null(p);
	ck_assert_ptr_nonnull(strstr(kbp_error_last()->message, "newer"));
	ck_assert_int_eq(kbp_migrate(NULL, uri(), schema), KBP_EVERSION);
}
END_TEST

/* Four processes migrate one fresh schema at once: each version is applied once. */
START_TEST(concurrent_migrations_apply_once)
{
	char schema[24], sql[160];
	pid_t pids[4];
	int v = 0;

	fresh_schema(schema);
	for (int i = 0; i < 4; i++) {
		pids[i] = fork();
		ck_assert_int_ge(pids[i], 0);
		if (pids[i] == 0)
			_exit(kbp_migrate(NULL, uri(), schema) == 0 ? 0 : 1);
	}
	for (int i = 0; i < 4; i++) {
		int status;
		ck_assert_int_eq(waitpid(pids[i], &status, 0), pids[i]);
		ck_assert(WIFEXITED(status) && WEXITSTATUS(status) == 0);
	}
	ck_assert_int_eq(kbp_migrate(&v, uri(), schema), 0);
	snprintf(sql, sizeof(sql), "SELECT count(*) FROM %s.kbp_schema_version", schema);
	ck_assert_int_eq(scalar(sql, NULL), v);
}
END_TEST

START_TEST(missing_database_is_a_clear_error)
{
	PGconn *c = PQconnectdb(uri());
	char conninfo[1024];
	kbp_options o = KBP_OPTIONS_INIT;
	kbp_pipeline *p = NULL;

	/* The same server, a database that does not exist. */
	ck_assert_int_eq(PQstatus(c), CONNECTION_OK);
	snprintf(conninfo, sizeof(conninfo), "host=%s port=%s user=%s dbname=kbp_no_such_db",
	         PQhost(c), PQport(c), PQuser(c));
	PQfinish(c);
	o.storage = conninfo;
	ck_assert_int_eq(kbp_pipeline_open(&p, &o), KBP_ESTORAGE);
	ck_assert_ptr_null(p);
	ck_assert_ptr_nonnull(strstr(kbp_error_last()->message, "kbp_no_such_db"));
	ck_assert_ptr_null(strchr(kbp_error_last()->message, '\n'));
}
END_TEST

/* The old system kept a bearer token in a database function; this schema keeps none. */
START_TEST(schema_holds_no_credential)
{
	char schema[24];

	fresh_schema(schema);
	ck_assert_int_eq(kbp_migrate(NULL, uri(), schema), 0);
	ck_assert_int_gt(scalar("SELECT count(*) FROM pg_proc p JOIN pg_namespace n ON n.oid = p.pronamespace "
	                        "WHERE n.nspname = $1", schema), 10);
	ck_assert_int_eq(scalar("SELECT count(*) FROM pg_proc p JOIN pg_namespace n ON n.oid = p.pronamespace "
	                        "WHERE n.nspname = $1 AND p.prosrc ~* '(bearer|password|secret|api[_-]?key|authorization|token)'",
	                        schema), 0);
	ck_assert_int_eq(scalar("SELECT count(*) FROM pg_proc p JOIN pg_namespace n ON n.oid = p.pronamespace "
	                        "WHERE n.nspname = $1 AND p.prosrc ~* '(http_post|net\\.|dblink|pg_net)'",
	                        schema), 0);
}
END_TEST

/*
 * A rejected callback's audit row keeps the SHA-256 of the callback and its
 * first 256 bytes, not the whole body: a flood of forged callbacks cannot fill
 * the disk. The row belongs to no intent.
 */
START_TEST(rejected_callback_audit_is_bounded)
{
	enum { LEN = 60000 };
	char schema[24], sql[200], hex[crypto_hash_sha256_BYTES * 2 + 1];
	unsigned char digest[crypto_hash_sha256_BYTES];
	kbp_pipeline *p = NULL;
	kbp_verification *v = NULL;
	char *cb = malloc(LEN);

	ck_assert_ptr_nonnull(cb);
	memset(cb, 'A', LEN);
	memcpy(cb, "data=", 5);
	fresh_schema(schema);
	ck_assert_int_eq(kbp_migrate(NULL, uri(), schema), 0);
	ck_assert_int_eq(open_schema(&p, schema), 0);
	ck_assert_int_eq(kbp_gateway_add_sandbox(p, NULL), 0);
	ck_assert_int_eq(kbp_payment_verify(&v, p, "sandbox", cb, LEN), KBP_EPARSE);
	crypto_hash_sha256(digest, (const unsigned char *)cb, LEN);
	sodium_bin2hex(hex, sizeof(hex), digest, sizeof(digest));
	snprintf(sql, sizeof(sql), "SELECT octet_length(raw) FROM %s.verifications "
	         "WHERE raw_sha256 = $1 AND outcome = 1 AND intent_id IS NULL", schema);
	ck_assert_int_eq(scalar(sql, hex), 256);
	kbp_pipeline_close(p);
	free(cb);
}
END_TEST

static PGconn *connect_schema(const char *schema)
{
	PGconn *c = PQconnectdb(uri());
	char sql[80];
	PGresult *r;

	ck_assert_int_eq(PQstatus(c), CONNECTION_OK);
	snprintf(sql, sizeof(sql), "SET search_path TO %s", schema);
	r = PQexec(c, sql);
	ck_assert_int_eq(PQresultStatus(r), PGRES_COMMAND_OK);
	PQclear(r);
	return c;
}

/* Runs sql; its SQLSTATE, or "" when it succeeded. */
static const char *run_sql(PGconn *c, const char *sql)
{
	static char state[6];
	PGresult *r = PQexec(c, sql);
	const char *s = PQresultErrorField(r, PG_DIAG_SQLSTATE);

	snprintf(state, sizeof(state), "%s", s ? s : "");
	PQclear(r);
	return state;
}

static void add_product(kbp_pipeline *p, const char *sku, int64_t on_hand)
{
	kbp_product_spec spec = KBP_PRODUCT_SPEC_INIT;

	ck_assert_int_eq(kbp_vendor_put(p, "v", "Vendor"), 0);
	spec.id = sku;
	spec.vendor_id = "v";
	spec.name = sku;
	spec.price_minor = 100;
	spec.on_hand = on_hand;
	ck_assert_int_eq(kbp_product_put(p, &spec), 0);
}

static int64_t reserved_of(kbp_pipeline *p, const char *sku)
{
	kbp_product *prod = NULL;
	int64_t n;

	ck_assert_int_eq(kbp_product_get(&prod, p, sku), 0);
	n = prod->reserved;
	kbp_product_free(prod);
	return n;
}

/* One of the library's prepared statements, run on c with params. */
static PGresult *run_stmt(PGconn *c, pg_stmt st, const char *const *params)
{
	return PQexecParams(c, pg_stmts[st].sql, pg_stmts[st].n_params, NULL, params, NULL, NULL, 0);
}

/* The library's stock statement: sku's stock moves by (on_hand, reserved); its SQLSTATE, "" on success. */
static const char *apply_stock(PGconn *c, const char *sku, const char *on_hand, const char *reserved)
{
	static char state[6];
	PGresult *r = run_stmt(c, ST_APPLY_STOCK, (const char *const[]){ sku, on_hand, reserved });
	const char *s = PQresultErrorField(r, PG_DIAG_SQLSTATE);

	snprintf(state, sizeof(state), "%s", s ? s : "");
	PQclear(r);
	return state;
}

/* The stock write takes units only where they still are: else a serialization failure, nothing written. */
START_TEST(stock_write_checks_what_it_takes)
{
	char schema[24];
	kbp_pipeline *p = NULL;
	PGconn *c;

	fresh_schema(schema);
	ck_assert_int_eq(kbp_migrate(NULL, uri(), schema), 0);
	ck_assert_int_eq(open_schema(&p, schema), 0);
	add_product(p, "a", 2);
	c = connect_schema(schema);
	ck_assert_str_eq(apply_stock(c, "a", "0", "3"), "40001");
	ck_assert_int_eq(reserved_of(p, "a"), 0);
	ck_assert_str_eq(apply_stock(c, "b", "0", "0"), "40001");
	ck_assert_str_eq(apply_stock(c, "a", "0", "2"), "");
	ck_assert_int_eq(reserved_of(p, "a"), 2);
	ck_assert_str_eq(apply_stock(c, "a", "-1", "-2"), "");
	ck_assert_int_eq(reserved_of(p, "a"), 0);
	ck_assert_str_eq(apply_stock(c, "a", "0", "2"), "40001");
	ck_assert_int_eq(reserved_of(p, "a"), 0);
	PQfinish(c);
	kbp_pipeline_close(p);
}
END_TEST

typedef struct race {
	kbp_pipeline *p;
	const char *cart_id;
	int rc;
} race;

static void *create_intent(void *arg)
{
	race *r = arg;
	kbp_intent_request req = KBP_INTENT_REQUEST_INIT;
	kbp_intent *in = NULL;

	req.cart_id = r->cart_id;
	req.gateway = "sandbox";
	r->rc = kbp_intent_create(&in, r->p, &req);
	kbp_intent_free(in);
	return NULL;
}

/*
 * Another transaction takes the last units while a step is between its read
 * and its write: the read took no lock, so the step's write is what waits,
 * finds the units gone, and the step runs again and answers out of stock.
 */
START_TEST(units_taken_after_the_read_are_not_sold_twice)
{
	char schema[24];
	kbp_pipeline *p = NULL;
	PGconn *thief, *watch;
	char blocker[16];
	pthread_t t;
	race r;
	int waiting = 0;

	fresh_schema(schema);
	ck_assert_int_eq(kbp_migrate(NULL, uri(), schema), 0);
	ck_assert_int_eq(open_schema(&p, schema), 0);
	ck_assert_int_eq(kbp_gateway_add_sandbox(p, NULL), 0);
	add_product(p, "a", 1);
	ck_assert_int_eq(kbp_cart_set_item(NULL, p, "cart-race", "shopper", "a", 1), 0);
	thief = connect_schema(schema);
	watch = connect_schema(schema);
	ck_assert_str_eq(run_sql(thief, "BEGIN"), "");
	ck_assert_str_eq(run_sql(thief, "UPDATE products SET reserved = on_hand WHERE id = 'a'"), "");

	r = (race){ p, "cart-race", 1 };
	ck_assert_int_eq(pthread_create(&t, NULL, create_intent, &r), 0);
	snprintf(blocker, sizeof(blocker), "%d", PQbackendPID(thief));
	for (int i = 0; i < 3000 && !waiting; i++) {
		/* Only a backend the thief blocks: other suites share the server. */
		PGresult *q = PQexecParams(watch, "SELECT count(*) FROM pg_stat_activity "
		                                  "WHERE $1::int = ANY (pg_blocking_pids(pid)) "
		                                  "AND query LIKE '%UPDATE products SET on_hand%'",
		                           1, NULL, (const char *const[]){ blocker }, NULL, NULL, 0);
		waiting = PQresultStatus(q) == PGRES_TUPLES_OK && atoi(PQgetvalue(q, 0, 0)) > 0;
		PQclear(q);
		if (!waiting)
			usleep(10000);
	}
	ck_assert_msg(waiting, "the step's write never waited for the product");
	ck_assert_str_eq(run_sql(thief, "COMMIT"), "");
	ck_assert_int_eq(pthread_join(t, NULL), 0);

	ck_assert_int_eq(r.rc, KBP_EOUTOFSTOCK);
	ck_assert_int_eq(reserved_of(p, "a"), 1);
	PQfinish(thief);
	PQfinish(watch);
	kbp_pipeline_close(p);
}
END_TEST

/* The notifications on the orders channel that name intent_id, drained from c. */
static int wakeups_for(PGconn *c, const char *intent_id)
{
	PGnotify *n;
	int count = 0;

	usleep(200000);
	ck_assert_int_eq(PQconsumeInput(c), 1);
	while ((n = PQnotifies(c))) {
		count += strcmp(n->extra, intent_id) == 0;
		PQfreemem(n);
	}
	return count;
}

/* A pipeline on a fresh, migrated schema with the sandbox and 5 units of product "a". */
static kbp_pipeline *open_shop(char schema[24])
{
	kbp_pipeline *p = NULL;

	fresh_schema(schema);
	ck_assert_int_eq(kbp_migrate(NULL, uri(), schema), 0);
	ck_assert_int_eq(open_schema(&p, schema), 0);
	ck_assert_int_eq(kbp_gateway_add_sandbox(p, NULL), 0);
	add_product(p, "a", 5);
	return p;
}

static char *paid_intent(kbp_pipeline *p, const char *cart_id)
{
	kbp_intent_request req = KBP_INTENT_REQUEST_INIT;
	kbp_verification *v = NULL;
	kbp_intent *in = NULL;
	char *cb = NULL, *id;

	ck_assert_int_eq(kbp_cart_set_item(NULL, p, cart_id, "shopper", "a", 1), 0);
	req.cart_id = cart_id;
	req.gateway = "sandbox";
	ck_assert_int_eq(kbp_intent_create(&in, p, &req), 0);
	ck_assert_int_eq(kbp_sandbox_pay(&cb, p, "sandbox", in->id, KBP_SANDBOX_COMPLETED, -1), 0);
	ck_assert_int_eq(kbp_payment_verify(&v, p, "sandbox", cb, strlen(cb)), 0);
	id = strdup(in->id);
	kbp_verification_free(v);
	kbp_intent_free(in);
	kbp_free(cb);
	return id;
}

/*
 * An order's waiters hear of the changes that can move its stage: the order
 * made, the finalize job failed for good or canceled, and back. A worker
 * taking the job or completing it moves nothing, and wakes nobody.
 */
START_TEST(order_waiters_hear_only_stage_changes)
{
	char schema[24], sql[200];
	kbp_pipeline *p;
	kbp_order_status *st = NULL;
	char *made, *stopped;
	PGconn *c;
	int ran = 0;

	p = open_shop(schema);
	c = connect_schema(schema);
	snprintf(sql, sizeof(sql), "LISTEN \"%s.orders\"", schema);
	ck_assert_str_eq(run_sql(c, sql), "");

	made = paid_intent(p, "cart-made");
	ck_assert_int_eq(wakeups_for(c, made), 1);
	ck_assert_int_eq(kbp_worker_run_once(&ran, p, "w", 10), 0);
	ck_assert_int_eq(ran, 1);
	ck_assert_int_eq(wakeups_for(c, made), 1);
	ck_assert_int_eq(kbp_order_status_get(&st, p, made), 0);
	ck_assert_int_eq(st->stage, KBP_STAGE_CONFIRMED);
	kbp_order_status_free(st);

	stopped = paid_intent(p, "cart-stopped");
	ck_assert_int_eq(wakeups_for(c, stopped), 1);
	snprintf(sql, sizeof(sql), "UPDATE jobs SET state = %d WHERE payload->>'intent_id' = '%s'",
	         KBP_JOB_CANCELED, stopped);
	ck_assert_str_eq(run_sql(c, sql), "");
	ck_assert_int_eq(wakeups_for(c, stopped), 1);
	snprintf(sql, sizeof(sql), "UPDATE jobs SET state = %d WHERE payload->>'intent_id' = '%s'",
	         KBP_JOB_AVAILABLE, stopped);
	ck_assert_str_eq(run_sql(c, sql), "");
	ck_assert_int_eq(wakeups_for(c, stopped), 1);

	free(made);
	free(stopped);
	PQfinish(c);
	kbp_pipeline_close(p);
}
END_TEST

/* The JSON answer of one of the library's statements run on c: NULL when it answered no row. */
static cJSON *stmt_answer(PGconn *c, pg_stmt st, const char *const *params)
{
	PGresult *r = run_stmt(c, st, params);
	cJSON *doc = NULL;

	ck_assert_msg(PQresultStatus(r) == PGRES_TUPLES_OK, "%s: %s", pg_stmts[st].name,
	              PQresultErrorMessage(r));
	if (PQntuples(r) == 1)
		ck_assert_ptr_nonnull(doc = cJSON_Parse(PQgetvalue(r, 0, 0)));
	PQclear(r);
	return doc;
}

static int lines_of(const cJSON *doc, const char *record)
{
	const cJSON *items = cJSON_GetObjectItem(cJSON_GetObjectItem(doc, record), "items");

	return cJSON_IsArray(items) ? cJSON_GetArraySize(items) : -1;
}

/*
 * What an order's waiters poll leaves the intent's and the order's lines
 * out (KBP_FACTS_NO_ITEMS); a step that wants them gets them.
 */
START_TEST(order_status_read_leaves_out_lines)
{
	char schema[24], want[8], no_items[8];
	kbp_pipeline *p;
	cJSON *doc;
	PGconn *c;
	char *id;
	int ran = 0;

	p = open_shop(schema);
	id = paid_intent(p, "cart-lines");
	ck_assert_int_eq(kbp_worker_run_once(&ran, p, "w", 10), 0);
	ck_assert_int_eq(ran, 1);
	c = connect_schema(schema);

	doc = stmt_answer(c, ST_FACTS_STATUS, (const char *const[]){ id });
	ck_assert_str_eq(cJSON_GetObjectItem(cJSON_GetObjectItem(doc, "intent"), "id")->valuestring, id);
	ck_assert(cJSON_IsObject(cJSON_GetObjectItem(doc, "order")));
	ck_assert(cJSON_IsObject(cJSON_GetObjectItem(doc, "job")));
	ck_assert_int_eq(lines_of(doc, "intent"), -1);
	ck_assert_int_eq(lines_of(doc, "order"), -1);
	cJSON_Delete(doc);
	ck_assert_ptr_null(stmt_answer(c, ST_FACTS_STATUS, (const char *const[]){ "pi_none" }));

	snprintf(want, sizeof(want), "%d", KBP_FACTS_ORDER | KBP_FACTS_JOB);
	snprintf(no_items, sizeof(no_items), "%d", KBP_FACTS_ORDER | KBP_FACTS_JOB | KBP_FACTS_NO_ITEMS);
	doc = stmt_answer(c, ST_FACTS, (const char *const[]){ id, NULL, NULL, NULL, NULL, NULL, NULL,
	                                                     want, "0", "0", "0", "f", NULL });
	ck_assert_int_eq(lines_of(doc, "intent"), 1);
	ck_assert_int_eq(lines_of(doc, "order"), 1);
	cJSON_Delete(doc);
	doc = stmt_answer(c, ST_FACTS, (const char *const[]){ id, NULL, NULL, NULL, NULL, NULL, NULL,
	                                                     no_items, "0", "0", "0", "f", NULL });
	ck_assert_int_eq(lines_of(doc, "intent"), -1);
	ck_assert_int_eq(lines_of(doc, "order"), -1);
	cJSON_Delete(doc);

	free(id);
	PQfinish(c);
	kbp_pipeline_close(p);
}
END_TEST

/* The connection's synchronous_commit, as the transaction it is in sees it. */
static int commits_wait(PGconn *c)
{
	PGresult *r = PQexec(c, "SHOW synchronous_commit");
	int on;

	ck_assert_int_eq(PQresultStatus(r), PGRES_TUPLES_OK);
	on = strcmp(PQgetvalue(r, 0, 0), "off") != 0;
	PQclear(r);
	return on;
}

/* The answer of a worker statement run in the transaction c is in. */
static cJSON *worker_answer(PGconn *c, pg_stmt st, const char *const *params)
{
	cJSON *doc = stmt_answer(c, st, params);

	ck_assert_ptr_nonnull(doc);
	ck_assert_int_eq(cJSON_GetObjectItem(doc, "code")->valueint, 0);
	return doc;
}

/*
 * A job's completion commits without waiting for the disk (a crash that
 * forgets it only runs the job again), for its own transaction alone: the
 * acquire before it, and whatever the pooled connection runs after it,
 * still wait.
 */
START_TEST(only_a_completion_skips_the_disk_wait)
{
	char schema[24], ids[64];
	kbp_pipeline *p;
	cJSON *doc;
	PGconn *c;
	char *id = NULL;

	p = open_shop(schema);
	ck_assert_int_eq(kbp_job_enqueue(&id, p, "noop", "{}", NULL), 0);
	c = connect_schema(schema);
	ck_assert_str_eq(run_sql(c, "SET synchronous_commit = on"), "");

	ck_assert_str_eq(run_sql(c, "BEGIN"), "");
	doc = worker_answer(c, ST_JOBS_ACQUIRE,
	                    (const char *const[]){ "w", "10", "60000", "9000000000000" });
	ck_assert_int_eq(cJSON_GetArraySize(cJSON_GetObjectItem(doc, "data")), 1);
	cJSON_Delete(doc);
	ck_assert(commits_wait(c));
	ck_assert_str_eq(run_sql(c, "COMMIT"), "");

	snprintf(ids, sizeof(ids), "{%s}", id);
	ck_assert_str_eq(run_sql(c, "BEGIN"), "");
	doc = worker_answer(c, ST_JOBS_COMPLETE, (const char *const[]){ ids, "w", "9000000000001" });
	ck_assert_int_eq(cJSON_GetObjectItem(cJSON_GetObjectItem(doc, "data"), "count")->valueint, 1);
	cJSON_Delete(doc);
	ck_assert(!commits_wait(c));
	ck_assert_str_eq(run_sql(c, "COMMIT"), "");
	ck_assert(commits_wait(c));

	kbp_free(id);
	PQfinish(c);
	kbp_pipeline_close(p);
}
END_TEST

/*
 * A connection of the pool keeps one plan per statement from the first
 * execution on. By default the server plans the first five executions
 * with the values in them, and goes on doing so for any statement (those
 * inside the schema's functions included) whose plan with the values looks
 * cheaper than the kept one.
 */
START_TEST(pooled_sessions_keep_their_plans)
{
	char schema[24];
	kbp_pipeline *p;
	PGresult *r;
	PGconn *c;

	p = open_shop(schema);
	ck_assert_ptr_nonnull(c = pg_connect(uri(), schema));
	r = PQprepare(c, "status", pg_stmts[ST_FACTS_STATUS].sql, 1, NULL);
	ck_assert_int_eq(PQresultStatus(r), PGRES_COMMAND_OK);
	PQclear(r);
	for (int i = 0; i < 6; i++) {
		r = PQexecPrepared(c, "status", 1, (const char *const[]){ "pi_none" }, NULL, NULL, 0);
		ck_assert_int_eq(PQresultStatus(r), PGRES_TUPLES_OK);
		PQclear(r);
	}
	r = PQexec(c, "SELECT generic_plans, custom_plans FROM pg_prepared_statements"
	              " WHERE name = 'status'");
	ck_assert_int_eq(PQntuples(r), 1);
	ck_assert_str_eq(PQgetvalue(r, 0, 0), "6");
	ck_assert_str_eq(PQgetvalue(r, 0, 1), "0");
	PQclear(r);

	PQfinish(c);
	kbp_pipeline_close(p);
}
END_TEST

int main(void)
{
	Suite *s = suite_create("postgres-schema");
	TCase *tc = tcase_create("schema");
	SRunner *sr;
	int failed;

	if (sodium_init() < 0)
		return 1;
	tcase_set_timeout(tc, 120);
	tcase_add_test(tc, unmigrated_schema_is_refused);
	tcase_add_test(tc, migrate_is_idempotent_and_versioned);
	tcase_add_test(tc, schema_from_the_future_is_refused);
	tcase_add_test(tc, concurrent_migrations_apply_once);
	tcase_add_test(tc, missing_database_is_a_clear_error);
	tcase_add_test(tc, schema_holds_no_credential);
	tcase_add_test(tc, rejected_callback_audit_is_bounded);
	tcase_add_test(tc, stock_write_checks_what_it_takes);
	tcase_add_test(tc, units_taken_after_the_read_are_not_sold_twice);
	tcase_add_test(tc, order_waiters_hear_only_stage_changes);
	tcase_add_test(tc, order_status_read_leaves_out_lines);
	tcase_add_test(tc, only_a_completion_skips_the_disk_wait);
	tcase_add_test(tc, pooled_sessions_keep_their_plans);
	suite_add_tcase(s, tc);
	sr = srunner_create(s);
	srunner_run_all(sr, CK_NORMAL);
	failed = srunner_ntests_failed(sr);
	srunner_free(sr);
	return failed ? 1 : 0;
}
