/* SPDX-License-Identifier: MIT */
#ifndef KBP_STORAGE_PG_INTERNAL_H
#define KBP_STORAGE_PG_INTERNAL_H

/*
 * The PostgreSQL backend. It stores records (records.c): each step of the
 * pipeline is one transaction of two round trips, whose decisions the
 * library makes. Every other vtable operation is one call of one SQL
 * function (lib/storage/postgres/schema/), one transaction and one round
 * trip. The functions answer
 * {"code","message","data"}; data uses the public structs' field names.
 * Connections come from a pool (libpq allows one thread per PGconn at a
 * time); a listener thread holds a LISTEN connection and turns
 * notifications into the same wait/notify sequences the memory backend has.
 */

#include <cjson/cJSON.h>
#include <libpq-fe.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdint.h>

#include "kbpipeline/sys/storage.h"
#include "util/topics.h"

#define PG_POOL_DEFAULT 8
#define PG_POOL_MAX 64
#define PG_SCHEMA_MAX 63

typedef enum pg_stmt {
	ST_VENDOR_PUT,
	ST_VENDOR_GET,
	ST_PRODUCT_PUT,
	ST_PRODUCT_GET,
	ST_PRODUCT_SET_ACTIVE,
	ST_CART_GET,
	ST_VERIFICATIONS_LIST,
	ST_ORDER_GET,
	ST_JOB_ENQUEUE,
	ST_JOBS_ACQUIRE,
	ST_JOB_COMPLETE,
	ST_JOB_GET,
	ST_JOBS_LIST,
	ST_MAINTENANCE,
	ST_METRICS,
	ST_JOBS_COMPLETE,
	ST_DOCTOR,
	ST_JOBS_EXTEND,
	ST_JOBS_INSERT,
	ST_FACTS,
	ST_FACTS_STATUS,
	ST_APPLY_INTENT_NEW,        /* the statements of a step's changes (changes.c) */
	ST_APPLY_INTENT,
	ST_APPLY_STOCK,
	ST_APPLY_CART,
	ST_APPLY_CART_ITEMS,
	ST_APPLY_ORDER,
	ST_APPLY_VERIFICATION,
	ST_APPLY_JOBS,
	ST_APPLY_JOB_WRITE,
	ST_APPLY_RESCUES,
	ST_COUNT
} pg_stmt;

/* Integers as the text parameters libpq sends. */
typedef struct pg_num {
	char s[24];
} pg_num;
pg_num pg_i64(int64_t v);

/* Local topics a call bumps after success, and whose order it names. */
enum { PG_WAKE_JOBS = 1, PG_WAKE_ORDERS = 2 };
enum { PG_KEY_NONE = -1 }; /* for PG_WAKE_ORDERS: every waiter */

typedef struct pg_stmt_def {
	const char *name;
	const char *sql;
	int n_params;
	int bytea_param;            /* index of a binary bytea parameter, or -1 */
	int replay_safe;            /* read-only or idempotent: may be repeated after a lost connection */
	int wakes;                  /* PG_WAKE_… */
	int order_key;              /* index of the intent id parameter, or PG_KEY_NONE */
} pg_stmt_def;

/* statements.c */
extern const pg_stmt_def pg_stmts[ST_COUNT];

typedef struct pg_conn {
	PGconn *conn;
	int in_use;
	uint64_t prepared;          /* bit i: statement i is prepared on this connection */
} pg_conn;

typedef struct pg_store {
	kbp_storage base;
	char *conninfo;
	char schema[PG_SCHEMA_MAX + 1];

	pthread_mutex_t pool_lock;
	pthread_cond_t pool_free;
	pg_conn conns[PG_POOL_MAX];
	int pool_size;

	kbp_topics topics;

	pthread_t listener;
	int listener_started;
	atomic_int listening;       /* the listener holds a LISTEN connection */
	int stop_pipe[2];
} pg_store;

static inline pg_store *pg_of(kbp_storage *s)
{
	return (pg_store *)s;
}

static inline int pg_oom(void)
{
	return kbp_error_set(KBP_ENOMEM, "out of memory");
}

/* Connects with search_path set to the schema; NULL with the error set. */
PGconn *pg_connect(const char *conninfo, const char *schema);
/* KBP_ESTORAGE with libpq's message, which never contains the password. */
int pg_conn_error(PGconn *conn, const char *what);

/*
 * Calls a statement's SQL function with text parameters (NULL for SQL NULL)
 * and hands back its data (NULL when JSON null). Returns the function's
 * code with its message set. *out_data is set whenever the function
 * answered, also with a non-zero code.
 */
int pg_call(pg_store *s, pg_stmt st, const char *const *params, int n, cJSON **out_data);
/* The same, with one binary (bytea) parameter at the statement's bytea slot. */
int pg_call_raw(pg_store *s, pg_stmt st, const char *const *params, const int *lengths, int n,
                cJSON **out_data);

/* A statement's prepared name. */
const char *pg_stmt_name(pg_stmt st);
/* The pool's connections (pool.c), for a transaction that spans calls. */
pg_conn *pg_pool_get(pg_store *s);
void pg_pool_put(pg_store *s, pg_conn *c);
void pg_conn_drop(pg_conn *c);
/*
 * How a call lost its connection: not at all, before its statement was sent
 * (it cannot have run), or while it ran (it may have committed).
 */
enum { LIVE = 0, LOST_UNSENT = 1, LOST_UNKNOWN = 2 };
/* Sends the preparing of st without waiting (pipeline mode); 0 when libpq could not. */
int pg_send_prepare(PGconn *conn, pg_stmt st);
/* Opens the connection if needed and prepares the statement on it; *lost: LOST_…. */
int pg_conn_ready(pg_store *s, pg_conn *c, pg_stmt st, int *lost);
/* A fatal result without SQLSTATE, or a connection libpq knows is gone. */
int pg_conn_broken(PGconn *conn, const PGresult *res);
/* A serialization failure or a deadlock: the transaction lost a race. */
int pg_retryable(const PGresult *res);
/* The server's error as a KBP_E… code with its message (unique violation: KBP_ECONFLICT). */
int pg_sql_error(const PGresult *res);

/* One statement of a pipeline: SQL text without parameters, or a prepared statement. */
typedef struct pg_send {
	const char *sql;
	pg_stmt st;
	int n;
	const char *const *params;
	const int *lengths;
	const int *formats;
} pg_send;

/*
 * A step's changes as the prepared statements that write them, one per
 * record, in an order that keeps foreign keys whole (changes.c).
 */
typedef struct pg_batch_item {
	char *doc;                  /* the record as JSON text, owned, or NULL */
	pg_num num[3];
	const char *params[8];
	int lengths[8];
	int formats[8];
} pg_batch_item;

typedef struct pg_batch {
	pg_send *q;                 /* n statements, pointing into items, and a free slot */
	pg_batch_item *items;
	int n;
	pg_num now;
} pg_batch;
/* 0, or KBP_ENOMEM with nothing to free. */
int pg_batch_build(pg_batch *b, const kbp_changes *c);
void pg_batch_free(pg_batch *b);

/* Records (records.c). */
int pg_txn_begin(kbp_storage *s, unsigned int flags, kbp_txn **out);
int pg_txn_commit(kbp_storage *s, kbp_txn *t);
void pg_txn_rollback(kbp_storage *s, kbp_txn *t);
int pg_facts_read(kbp_storage *s, kbp_txn *t, const kbp_facts_query *q, kbp_facts *out);
int pg_changes_apply(kbp_storage *s, kbp_txn *t, const kbp_changes *c);
/* The facts as the schema's kbp_facts answered them. */
int pg_facts_parse(kbp_facts *f, const cJSON *doc);

void pg_bump_jobs(pg_store *s);
/* A change of one intent's order (NULL or "": of any order). */
void pg_bump_order(pg_store *s, const char *intent_id);
int pg_wait_order(kbp_storage *st, const char *intent_id, uint64_t *seen, int64_t timeout_ms);
int pg_listener_start(pg_store *s);
void pg_listener_stop(pg_store *s);
int pg_wait(kbp_storage *s, kbp_topic topic, uint64_t *seen, int64_t timeout_ms);
void pg_notify(kbp_storage *s, kbp_topic topic);

/* Migrations: the numbered files of schema/, compiled in. */
extern const char *const kbp_pg_migrations[];
extern const int kbp_pg_migration_count;
int pg_schema_check(PGconn *conn, const char *schema);
int pg_migrate(PGconn *conn, const char *schema, int *out_version);

/* JSON (the SQL functions' data) to the public structs. */
char *js_str(const cJSON *o, const char *name, int *ok);
int64_t js_i64(const cJSON *o, const char *name);
int js_bool(const cJSON *o, const char *name);
kbp_vendor *js_vendor(const cJSON *o);
kbp_product *js_product(const cJSON *o);
kbp_cart *js_cart(const cJSON *o);
kbp_intent *js_intent(const cJSON *o);
kbp_verification *js_verification(const cJSON *o);
int js_verification_fill(kbp_verification *v, const cJSON *o);
kbp_order *js_order(const cJSON *o);
int js_job_fill(kbp_job *j, const cJSON *o);
kbp_job *js_job(const cJSON *o);
kbp_job_list *js_job_list(const cJSON *array, const cJSON *next_after);
void js_metrics(kbp_metrics *m, const cJSON *o);

/* The structs as the JSON the schema reads (json_write.c); NULL when memory runs out. */
#define PG_JSON_STRUCTS(X) X(intent_item) X(intent) X(cart_item) X(cart) X(order) X(verification)
#define PG_JSON_DECLARE(name) cJSON *pg_json_##name(const kbp_##name *v);
PG_JSON_STRUCTS(PG_JSON_DECLARE)
#undef PG_JSON_DECLARE
cJSON *pg_json_intent_record(const kbp_intent_record *r);
/* Job drafts as the array jobs_insert and apply_jobs read with jsonb_to_recordset(). */
cJSON *pg_json_drafts(const kbp_job_draft *drafts, size_t n);

/* The vtable operations. */
int pg_vendor_put(kbp_storage *s, const char *id, const char *name, int64_t now);
int pg_vendor_get(kbp_storage *s, const char *id, kbp_vendor **out);
int pg_product_put(kbp_storage *s, const kbp_product_spec *spec, int64_t now);
int pg_product_get(kbp_storage *s, const char *id, kbp_product **out);
int pg_product_set_active(kbp_storage *s, const char *id, int active, int64_t now);
int pg_cart_get(kbp_storage *s, const char *cart_id, kbp_cart **out);
int pg_verifications_list(kbp_storage *s, const char *intent_id, kbp_verification_list **out);
int pg_order_get(kbp_storage *s, const char *order_number, const char *intent_id,
                 kbp_order **out);
int pg_job_enqueue(kbp_storage *s, const kbp_job_draft *d, int64_t now, char **out_id);
int pg_jobs_insert(kbp_storage *s, const kbp_job_draft *drafts, size_t n, int64_t now,
                   char **out_ids, size_t *out_created);
int pg_jobs_acquire(kbp_storage *s, const char *worker, int max, int64_t lease_ms, int64_t now,
                    kbp_job_list **out);
int pg_job_complete(kbp_storage *s, const char *job_id, const char *worker, int64_t now);
int pg_job_get(kbp_storage *s, const char *job_id, kbp_job **out);
int pg_jobs_list(kbp_storage *s, const kbp_job_filter *f, kbp_job_list **out);
int pg_maintenance(kbp_storage *s, const kbp_maintenance_params *params,
                   kbp_maintenance_result *out);
int pg_metrics(kbp_storage *s, int64_t now, kbp_metrics *out);
int pg_jobs_complete(kbp_storage *s, const char *const *job_ids, size_t n, const char *worker,
                     int64_t now, int64_t *out_done);
int pg_jobs_extend(kbp_storage *s, const char *const *job_ids, size_t n, const char *worker,
                   int64_t lease_until, int64_t now, int64_t *out_count);
/* A text[] literal of generated ids (which need no quoting); NULL when memory runs out. */
char *pg_id_array(const char *const *ids, size_t n);
int pg_doctor(kbp_storage *s, int64_t now, kbp_doctor_report **out);

#endif
