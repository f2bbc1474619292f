/* SPDX-License-Identifier: MIT */
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>

#include "storage/sqlite/sq_internal.h"

/* More connections than this and callers wait for one: a file has one writer anyway. */
#define SQ_POOL_MAX 64

int sq_fail(sq_conn *c, int src, const char *what)
{
	int primary = src & 0xff;

	if (primary == SQLITE_BUSY || primary == SQLITE_LOCKED)
		return kbp_error_set(KBP_ESTORAGE,
		                     "%s: the SQLite database stayed locked by another writer for "
		                     "more than %d ms",
		                     what, SQ_BUSY_MS);
	if (src == SQLITE_CONSTRAINT_UNIQUE || src == SQLITE_CONSTRAINT_PRIMARYKEY)
		return kbp_error_set(KBP_ECONFLICT, "%s: %s", what, sqlite3_errmsg(c->db));
	if (primary == SQLITE_NOMEM)
		return kbp_error_set(KBP_ENOMEM, "out of memory");
	if (primary == SQLITE_NOTADB)
		return kbp_error_set(KBP_ESTORAGE, "%s: the file is not a SQLite database", what);
	return kbp_error_set(KBP_ESTORAGE, "%s: %s", what, c ? sqlite3_errmsg(c->db) : "SQLite failed");
}

static int setup(sq_conn *c)
{
	static const char *const pragmas[] = {
		/* Commits survive a crash of the process and of the machine. */
		"PRAGMA synchronous = FULL",
		"PRAGMA foreign_keys = OFF",
		"PRAGMA temp_store = MEMORY",
	};
	int src = sqlite3_busy_timeout(c->db, SQ_BUSY_MS);

	for (size_t i = 0; src == SQLITE_OK && i < sizeof(pragmas) / sizeof(*pragmas); i++)
		src = sqlite3_exec(c->db, pragmas[i], NULL, NULL, NULL);
	return src == SQLITE_OK ? 0 : sq_fail(c, src, "cannot set up the SQLite connection");
}

int sq_conn_open(sq_conn **out, const char *path, int create)
{
	int flags = SQLITE_OPEN_READWRITE | SQLITE_OPEN_NOMUTEX | SQLITE_OPEN_EXRESCODE;
	sq_conn *c = calloc(1, sizeof(*c));
	int src, rc;

	*out = NULL;
	if (!c)
		return kbp_error_set(KBP_ENOMEM, "out of memory");
	src = sqlite3_open_v2(path, &c->db, flags | (create ? SQLITE_OPEN_CREATE : 0), NULL);
	if (src != SQLITE_OK) {
		rc = kbp_error_set(KBP_ESTORAGE, "cannot open the SQLite database '%s': %s", path,
		                   c->db ? sqlite3_errmsg(c->db) : "out of memory");
		sq_conn_close(c);
		return rc;
	}
	if (sqlite3_db_readonly(c->db, "main") == 1) {
		sq_conn_close(c);
		return kbp_error_set(KBP_ESTORAGE, "the SQLite database '%s' is not writable", path);
	}
	if ((rc = setup(c))) {
		sq_conn_close(c);
		return rc;
	}
	*out = c;
	return 0;
}

void sq_conn_close(sq_conn *c)
{
	if (!c)
		return;
	for (size_t i = 0; i < c->n_cached; i++)
		sqlite3_finalize(c->cache[i].st);
	sqlite3_close_v2(c->db);
	free(c);
}

int sq_acquire(sq_store *q, sq_conn **out)
{
	int grow = 0;

	pthread_mutex_lock(&q->pool_lock);
	while (!q->idle && q->n_open >= q->max_open)
		pthread_cond_wait(&q->pool_cond, &q->pool_lock);
	if ((*out = q->idle))
		q->idle = (*out)->next;
	else
		grow = ++q->n_open;
	pthread_mutex_unlock(&q->pool_lock);
	if (!grow)
		return 0;
	if (sq_conn_open(out, q->path, 0) == 0)
		return 0;
	pthread_mutex_lock(&q->pool_lock);
	q->n_open--;
	pthread_cond_signal(&q->pool_cond);
	pthread_mutex_unlock(&q->pool_lock);
	return kbp_error_last()->code;
}

void sq_release(sq_store *q, sq_conn *c)
{
	/* A statement left mid-way would hold its read snapshot open. */
	for (size_t i = 0; i < c->n_cached; i++)
		sqlite3_reset(c->cache[i].st);
	if (!sqlite3_get_autocommit(c->db))
		sqlite3_exec(c->db, "ROLLBACK", NULL, NULL, NULL);
	pthread_mutex_lock(&q->pool_lock);
	c->next = q->idle;
	q->idle = c;
	pthread_cond_signal(&q->pool_cond);
	pthread_mutex_unlock(&q->pool_lock);
}

void sq_pool_close(sq_store *q)
{
	while (q->idle) {
		sq_conn *c = q->idle;
		q->idle = c->next;
		sq_conn_close(c);
	}
	q->n_open = 0;
}

static sqlite3_stmt *cached(sq_conn *c, const char *sql)
{
	sqlite3_stmt *st;
	int src;

	for (size_t i = 0; i < c->n_cached; i++)
		if (c->cache[i].sql == sql)
			return c->cache[i].st;
	src = sqlite3_prepare_v3(c->db, sql, -1, SQLITE_PREPARE_PERSISTENT, &st, NULL);
	if (src != SQLITE_OK) {
		sq_fail(c, src, "cannot prepare a SQLite statement");
		return NULL;
	}
	if (c->n_cached == SQ_CACHE_MAX) {
		/* Full: the last slot is recycled, so a rare statement leaves the common ones be. */
		sqlite3_finalize(c->cache[SQ_CACHE_MAX - 1].st);
		c->n_cached--;
	}
	c->cache[c->n_cached++] = (sq_cached){ sql, st };
	return st;
}

/* Takes the argument of kind from ap; binds it when the statement has a parameter i. */
static int bind_one(sqlite3_stmt *st, int i, char kind, va_list *ap)
{
	int bound = i <= sqlite3_bind_parameter_count(st);
	const char *text;
	const void *blob;
	int64_t n;
	size_t len;

	switch (kind) {
	case 't':
		text = va_arg(*ap, const char *);
		if (!bound)
			return SQLITE_OK;
		return text ? sqlite3_bind_text(st, i, text, -1, SQLITE_STATIC) : sqlite3_bind_null(st, i);
	case 'l':
	case 'd':
		n = kind == 'l' ? va_arg(*ap, int64_t) : va_arg(*ap, int);
		return bound ? sqlite3_bind_int64(st, i, n) : SQLITE_OK;
	case 'b':
		blob = va_arg(*ap, const void *);
		len = va_arg(*ap, size_t);
		if (!bound)
			return SQLITE_OK;
		return blob ? sqlite3_bind_blob64(st, i, blob, len, SQLITE_STATIC) : sqlite3_bind_null(st, i);
	default:
		return SQLITE_MISUSE;
	}
}

static sqlite3_stmt *vstmt(sq_conn *c, const char *sql, const char *fmt, va_list *ap)
{
	sqlite3_stmt *st = cached(c, sql);
	int src = SQLITE_OK;

	if (!st)
		return NULL;
	sqlite3_reset(st);
	sqlite3_clear_bindings(st);
	for (int i = 0; src == SQLITE_OK && fmt[i]; i++)
		src = bind_one(st, i + 1, fmt[i], ap);
	if (src != SQLITE_OK) {
		sq_fail(c, src, "cannot bind a SQLite parameter");
		return NULL;
	}
	return st;
}

sqlite3_stmt *sq_stmt(sq_conn *c, const char *sql, const char *fmt, ...)
{
	sqlite3_stmt *st;
	va_list ap;

	va_start(ap, fmt);
	st = vstmt(c, sql, fmt, &ap);
	va_end(ap);
	return st;
}

int sq_next(sq_conn *c, sqlite3_stmt *st)
{
	int src = sqlite3_step(st);

	if (src == SQLITE_ROW)
		return 1;
	sqlite3_reset(st);
	return src == SQLITE_DONE ? 0 : sq_fail(c, src, "a SQLite statement failed");
}

int sq_run(sq_conn *c, int64_t *out_changes, const char *sql, const char *fmt, ...)
{
	sqlite3_stmt *st;
	va_list ap;
	int rc;

	va_start(ap, fmt);
	st = vstmt(c, sql, fmt, &ap);
	va_end(ap);
	if (!st)
		return kbp_error_last()->code;
	while ((rc = sq_next(c, st)) == 1) {
	}
	if (rc == 0 && out_changes)
		*out_changes = sqlite3_changes64(c->db);
	return rc;
}

int sq_scalar(sq_conn *c, int64_t *out, const char *sql, const char *fmt, ...)
{
	sqlite3_stmt *st;
	va_list ap;
	int rc;

	va_start(ap, fmt);
	st = vstmt(c, sql, fmt, &ap);
	va_end(ap);
	if (!st)
		return kbp_error_last()->code;
	if ((rc = sq_next(c, st)) != 1)
		return rc;
	if (sqlite3_column_type(st, 0) != SQLITE_NULL)
		*out = sqlite3_column_int64(st, 0);
	sqlite3_reset(st);
	return 0;
}

static int exec(sq_conn *c, const char *sql, const char *what)
{
	int src = sqlite3_exec(c->db, sql, NULL, NULL, NULL);

	return src == SQLITE_OK ? 0 : sq_fail(c, src, what);
}

int sq_begin(sq_conn *c, int write)
{
	/* IMMEDIATE takes the write lock now: no write can later fail for a reader's snapshot. */
	return exec(c, write ? "BEGIN IMMEDIATE" : "BEGIN", "cannot begin a SQLite transaction");
}

int sq_commit(sq_conn *c)
{
	int rc = exec(c, "COMMIT", "cannot commit a SQLite transaction");

	if (rc)
		sq_rollback(c);
	return rc;
}

void sq_rollback(sq_conn *c)
{
	if (!sqlite3_get_autocommit(c->db))
		sqlite3_exec(c->db, "ROLLBACK", NULL, NULL, NULL);
}

char *sq_dup(sqlite3_stmt *st, int col, int *ok)
{
	const unsigned char *text = sqlite3_column_text(st, col);
	char *copy;

	if (!text)
		return NULL;
	if (!(copy = strdup((const char *)text)))
		*ok = 0;
	return copy;
}

void sq_currency(char out[4], sqlite3_stmt *st, int col)
{
	const unsigned char *text = sqlite3_column_text(st, col);

	memset(out, 0, 4);
	if (text)
		memcpy(out, text, strnlen((const char *)text, 3));
}

int sq_begin_in(sq_store *q, sq_conn *c, int write)
{
	int rc;

	/* Taken with a connection in hand, so no writer waits for the pool while holding it. */
	if (write)
		pthread_mutex_lock(&q->write_lock);
	if ((rc = sq_begin(c, write)))
		sq_end(q, write);
	return rc;
}

void sq_end(sq_store *q, int write)
{
	if (write)
		pthread_mutex_unlock(&q->write_lock);
}

int sq_write(sq_store *q, sq_body body, void *ctx)
{
	sq_conn *c;
	int rc;

	if ((rc = sq_acquire(q, &c)))
		return rc;
	if ((rc = sq_begin_in(q, c, 1)) == 0) {
		if ((rc = body(c, ctx)))
			sq_rollback(c);
		else
			rc = sq_commit(c);
		sq_end(q, 1);
	}
	sq_release(q, c);
	return rc;
}
