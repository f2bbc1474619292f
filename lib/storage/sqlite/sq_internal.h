/* SPDX-License-Identifier: MIT */
#ifndef KBP_STORAGE_SQLITE_INTERNAL_H
#define KBP_STORAGE_SQLITE_INTERNAL_H

/*
 * The SQLite backend (DESIGN §5): a file in WAL mode, shared by the threads
 * of a process through a pool of connections and by processes through the
 * file itself. It has the records slots (storage interface version 3), so it
 * only stores: the pipeline's rules run in the library. Writes take SQLite's
 * one write lock with BEGIN IMMEDIATE and wait up to SQ_BUSY_MS for it.
 */

#include <pthread.h>
#include <sqlite3.h>
#include <stdint.h>

#include "core/fields.h"
#include "kbpipeline/sys/storage.h"
#include "util/topics.h"

#define SQ_BUSY_MS 5000

/*
 * The states that SQL names, as literals (a partial index serves only a query
 * that spells its condition the same way), held to the C enums at build time;
 * the schema takes them from the headers ({{KBP_…}}, embed_sql.py).
 */
#define SQ_JOB_AVAILABLE "0"
#define SQ_JOB_RUNNING "1"
#define SQ_JOB_COMPLETED "2"
#define SQ_JOB_FAILED "3"
#define SQ_JOB_CANCELED "4"
#define SQ_INTENT_PENDING "0"
#define SQ_INTENT_SUCCEEDED "1"
#define SQ_INTENT_EXPIRED "3"
#define SQ_ACCEPTED "0"
#define SQ_REJECTED "1"
_Static_assert(KBP_JOB_AVAILABLE == 0 && KBP_JOB_RUNNING == 1 && KBP_JOB_COMPLETED == 2 &&
                       KBP_JOB_FAILED == 3 && KBP_JOB_CANCELED == 4,
               "SQ_JOB_… are the kbp_job_state values");
_Static_assert(KBP_INTENT_PENDING == 0 && KBP_INTENT_SUCCEEDED == 1 && KBP_INTENT_EXPIRED == 3,
               "SQ_INTENT_… are the kbp_intent_status values");
_Static_assert(KBP_VERIFICATION_ACCEPTED == 0 && KBP_VERIFICATION_REJECTED == 1,
               "SQ_ACCEPTED and SQ_REJECTED are the kbp_verification_outcome values");
/* How often a waiter looks at the file for commits of other processes. */
#define SQ_WATCH_MS 50
#define SQ_POOL_DEFAULT 8
#define SQ_CACHE_MAX 96
#define SQ_HOUR_MS INT64_C(3600000)

typedef struct sq_cached {
	const char *sql;            /* the statement's text, compared by address */
	sqlite3_stmt *st;
} sq_cached;

typedef struct sq_conn {
	sqlite3 *db;
	sq_cached cache[SQ_CACHE_MAX];
	size_t n_cached;
	struct sq_conn *next;       /* in the idle list */
} sq_conn;

typedef struct sq_store {
	kbp_storage base;
	char *path;
	pthread_mutex_t pool_lock;
	pthread_cond_t pool_cond;
	sq_conn *idle;
	int n_open, max_open;
	/*
	 * This process's writers queue here for the file's write lock rather
	 * than in SQLite's busy handler, which polls with sleeps.
	 */
	pthread_mutex_t write_lock;
	pthread_mutex_t maintenance_lock;
	kbp_topics topics;
	/* The connection that watches the file's data_version for other writers. */
	pthread_mutex_t watch_lock;
	sq_conn *watch;
	int64_t data_version;
} sq_store;

struct kbp_txn {
	sq_conn *c;
	int write;
	int wake_jobs;              /* jobs were inserted: wake a worker on commit */
	int wake_orders;            /* jobs changed state: wake every order waiter on commit */
	char **changed;             /* intents written: their order waiters wake on commit */
	size_t n_changed;
};

static inline sq_store *sq_of(kbp_storage *s)
{
	return (sq_store *)s;
}

/* What the scheme "sqlite" is registered with (lib/core/storage_open.c). */
int kbp__storage_sqlite_open_fn(kbp_storage **out, const char *uri,
                                const kbp_storage_open_options *opts);

/* conn.c: connections, cached statements, errors. */
int sq_conn_open(sq_conn **out, const char *path, int create);
void sq_conn_close(sq_conn *c);
int sq_acquire(sq_store *q, sq_conn **out);
void sq_release(sq_store *q, sq_conn *c);
void sq_pool_close(sq_store *q);
/* A KBP_E… code and message for SQLite's last error on c: what failed, and why. */
int sq_fail(sq_conn *c, int src, const char *what);
/*
 * The cached statement for sql, reset, with its parameters bound from fmt:
 * 't' text (NULL binds NULL), 'l' int64_t, 'd' int, 'b' a blob (pointer and
 * size_t length). NULL on failure, with the error set.
 */
sqlite3_stmt *sq_stmt(sq_conn *c, const char *sql, const char *fmt, ...);
/* 1: a row, 0: done (the statement is reset), else a KBP_E… code. */
int sq_next(sq_conn *c, sqlite3_stmt *st);
/* Runs a statement to completion; *out_changes (may be NULL) gets the rows it changed. */
int sq_run(sq_conn *c, int64_t *out_changes, const char *sql, const char *fmt, ...);
/* One int64 from the first column of the first row; missing stays *out. */
int sq_scalar(sq_conn *c, int64_t *out, const char *sql, const char *fmt, ...);
int sq_begin(sq_conn *c, int write);
/* sq_begin for the store's connection c, a writer taking its turn first; sq_end gives it back. */
int sq_begin_in(sq_store *q, sq_conn *c, int write);
void sq_end(sq_store *q, int write);
/* Runs body in a write transaction on a pooled connection: committed when it returns 0. */
typedef int (*sq_body)(sq_conn *c, void *ctx);
int sq_write(sq_store *q, sq_body body, void *ctx);
int sq_commit(sq_conn *c);
void sq_rollback(sq_conn *c);
/* A copy of a text column (NULL stays NULL); clears *ok when memory runs out. */
char *sq_dup(sqlite3_stmt *st, int col, int *ok);
void sq_currency(char out[4], sqlite3_stmt *st, int col);

/* migrate.c */
int sq_migrate_conn(sq_conn *c, const char *path, int *out_version);
int kbp__storage_sqlite_migrate(int *out_version, const char *uri, const char *schema);
/* The file a URI and schema name, in a fresh allocation. */
int sq_path(char **out, const char *uri, const char *schema);
extern const char *const kbp_sq_migrations[];
extern const int kbp_sq_migrations_count;

/* rows.c: public structs from rows, as the backend's readers share them. */
int sq_intent_read(sq_conn *c, sqlite3_stmt *st, kbp_intent_record **out);
int sq_order_load(sq_conn *c, const char *by_number, const char *by_intent, kbp_order **out);
int sq_cart_load(sq_conn *c, const char *cart_id, kbp_cart **out);
int sq_job_read(sqlite3_stmt *st, kbp_job *out);
int sq_job_load(sq_conn *c, const char *job_id, kbp_job **out);
int sq_verification_read(sqlite3_stmt *st, kbp_verification *out);
int sq_product_read(sqlite3_stmt *st, kbp_product *out);
/* The record of the row st is on (SQ_INTENT_COLS), with its lines. */
int sq_intent_fill(sq_conn *c, sqlite3_stmt *st, kbp_intent_record *r);

/*
 * The columns a reader takes: rowid, then a struct's members in the order of
 * its field list (core/fields.h), each stored in the column of its name; a
 * member that is an array (lines, a job's errors) is read apart.
 */
#define SQ_COL(kind, member, ...) SQ_COL_##kind(member)
#define SQ_COL_STR(m) ", " #m
#define SQ_COL_JSON(m) ", " #m
#define SQ_COL_I64(m) ", " #m
#define SQ_COL_INT(m) ", " #m
#define SQ_COL_BOOL(m) ", " #m
#define SQ_COL_ENUM(m) ", " #m
#define SQ_COL_CUR(m) ", " #m
#define SQ_COL_ARRAY(m)
#define SQ_COLS(name) "rowid" KBP_FIELDS_##name(SQ_COL)
/* How many columns SQ_COLS(name) has after rowid. */
#define SQ_NCOL(kind, member, ...) SQ_NCOL_##kind
#define SQ_NCOL_STR +1
#define SQ_NCOL_JSON +1
#define SQ_NCOL_I64 +1
#define SQ_NCOL_INT +1
#define SQ_NCOL_BOOL +1
#define SQ_NCOL_ENUM +1
#define SQ_NCOL_CUR +1
#define SQ_NCOL_ARRAY
#define SQ_NCOLS(name) (0 KBP_FIELDS_##name(SQ_NCOL))

#define SQ_PRODUCT_COLS SQ_COLS(product)
#define SQ_VERIFICATION_COLS SQ_COLS(verification)
#define SQ_ORDER_COLS SQ_COLS(order)
/* A job's error history is a JSON array in the column errors, after its members. */
#define SQ_JOB_COLS SQ_COLS(job) ", errors"
/* What only the pipeline keeps of an intent follows its members (kbp_intent_record). */
#define SQ_INTENT_COLS \
	SQ_COLS(intent) ", success_url, failure_url, paid_at, finalize_job_id, reconcile_marked"

/* records.c */
int sq_txn_begin(kbp_storage *s, unsigned int flags, kbp_txn **out);
int sq_txn_commit(kbp_storage *s, kbp_txn *t);
void sq_txn_rollback(kbp_storage *s, kbp_txn *t);
int sq_facts_read(kbp_storage *s, kbp_txn *t, const kbp_facts_query *q, kbp_facts *out);
/* facts.c: what facts_read reads beyond the intent. */
int sq_facts_more(sq_conn *c, const kbp_facts_query *q, kbp_facts *out);
int sq_changes_apply(kbp_storage *s, kbp_txn *t, const kbp_changes *ch);
int sq_job_facts(sq_conn *c, const kbp_facts_query *q, kbp_facts *f);
int sq_jobs_lapsed(sq_conn *c, const kbp_facts_query *q, kbp_facts *f);
int sq_job_write(sq_conn *c, const kbp_job_write *w, int64_t now);

/* catalog.c */
int sq_vendor_put(kbp_storage *s, const char *id, const char *name, int64_t now);
int sq_vendor_get(kbp_storage *s, const char *id, kbp_vendor **out);
int sq_product_put(kbp_storage *s, const kbp_product_spec *spec, int64_t now);
int sq_product_get(kbp_storage *s, const char *id, kbp_product **out);
int sq_product_set_active(kbp_storage *s, const char *id, int active, int64_t now);
int sq_cart_get(kbp_storage *s, const char *cart_id, kbp_cart **out);
int sq_verifications_list(kbp_storage *s, const char *intent_id, kbp_verification_list **out);
int sq_order_get(kbp_storage *s, const char *order_number, const char *intent_id,
                 kbp_order **out);

/* jobs.c */
/* Inside a write transaction: inserts or finds the live holder of each draft's key. */
int sq_jobs_insert_in(sq_conn *c, const kbp_job_draft *drafts, size_t n, int64_t now,
                      char **out_ids, size_t *out_created);
int sq_job_enqueue(kbp_storage *s, const kbp_job_draft *d, int64_t now, char **out_id);
int sq_jobs_insert(kbp_storage *s, const kbp_job_draft *drafts, size_t n, int64_t now,
                   char **out_ids, size_t *out_created);
int sq_jobs_acquire(kbp_storage *s, const char *worker, int max, int64_t lease_ms, int64_t now,
                    kbp_job_list **out);
int sq_jobs_complete(kbp_storage *s, const char *const *job_ids, size_t n, const char *worker,
                     int64_t now, int64_t *out_done);
int sq_jobs_extend(kbp_storage *s, const char *const *job_ids, size_t n, const char *worker,
                   int64_t lease_until, int64_t now, int64_t *out_count);
int sq_job_get(kbp_storage *s, const char *job_id, kbp_job **out);
int sq_jobs_list(kbp_storage *s, const kbp_job_filter *f, kbp_job_list **out);

/* admin.c */
int sq_maintenance(kbp_storage *s, const kbp_maintenance_params *params,
                   kbp_maintenance_result *out);
int sq_metrics(kbp_storage *s, int64_t now, kbp_metrics *out);
int sq_doctor(kbp_storage *s, int64_t now, kbp_doctor_report **out);

/* wake.c */
int sq_wait(kbp_storage *s, kbp_topic topic, uint64_t *seen, int64_t timeout_ms);
int sq_wait_order(kbp_storage *s, const char *intent_id, uint64_t *seen, int64_t timeout_ms);
void sq_notify(kbp_storage *s, kbp_topic topic);
/* Wakes this process's waiters of a topic after a commit. */
void sq_bump(sq_store *q, kbp_topic topic);

#endif
