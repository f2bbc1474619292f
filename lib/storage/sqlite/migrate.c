/* SPDX-License-Identifier: MIT */
#include <ctype.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "storage/sqlite/sq_internal.h"

#define SQ_SCHEMA_MAX 63
#define SQ_DEFAULT_SCHEMA "kbp"

static int schema_valid(const char *schema)
{
	size_t len = strlen(schema);

	if (len == 0 || len > SQ_SCHEMA_MAX)
		return 0;
	for (size_t i = 0; i < len; i++)
		if (!isalnum((unsigned char)schema[i]) && schema[i] != '_')
			return 0;
	return 1;
}

/*
 * sqlite:PATH, or sqlite://PATH for an absolute path (sqlite:///tmp/x.db).
 * A schema other than the default names a store of its own beside the file,
 * PATH.SCHEMA, as a PostgreSQL schema is a store of its own in a database.
 */
int sq_path(char **out, const char *uri, const char *schema)
{
	const char *path = uri + strlen("sqlite:");
	struct stat st;
	size_t len;

	*out = NULL;
	if (strncmp(uri, "sqlite:", strlen("sqlite:")) != 0)
		return kbp_error_set(KBP_EINVAL, "the SQLite backend's URI is \"sqlite:PATH\"");
	if (strncmp(path, "//", 2) == 0)
		path += 2;
	if (!*path)
		return kbp_error_set(KBP_EINVAL,
		                     "the SQLite URI names no file: write \"sqlite:PATH\", e.g. "
		                     "\"sqlite:/var/lib/shop/kbp.db\"");
	if (*path == ':')
		return kbp_error_set(KBP_EINVAL,
		                     "the SQLite URI must name a file (use \"memory:\" for a store in memory)");
	if (schema && strcmp(schema, SQ_DEFAULT_SCHEMA) != 0 && !schema_valid(schema))
		return kbp_error_set(KBP_EINVAL,
		                     "a SQLite schema name is 1 to %d letters, digits or '_'",
		                     SQ_SCHEMA_MAX);
	if (stat(path, &st) == 0 && S_ISDIR(st.st_mode))
		return kbp_error_set(KBP_EINVAL, "the SQLite path '%s' is a directory, not a file", path);
	if (!schema || strcmp(schema, SQ_DEFAULT_SCHEMA) == 0)
		schema = NULL;
	len = strlen(path) + (schema ? strlen(schema) + 2 : 1);
	if (!(*out = malloc(len)))
		return kbp_error_set(KBP_ENOMEM, "out of memory");
	snprintf(*out, len, schema ? "%s.%s" : "%s", path, schema);
	return 0;
}

static int read_version(sq_conn *c, int64_t *out)
{
	*out = 0;
	return sq_scalar(c, out, "SELECT max(version) FROM kbp_schema_version", "");
}

static int apply(sq_conn *c, int version)
{
	char what[64];
	int src;

	snprintf(what, sizeof(what), "SQLite migration %d failed", version);
	src = sqlite3_exec(c->db, kbp_sq_migrations[version - 1], NULL, NULL, NULL);
	if (src != SQLITE_OK)
		return sq_fail(c, src, what);
	/* Migrations record when they ran by the version alone: a backend reads no clock. */
	return sq_run(c, NULL, "INSERT INTO kbp_schema_version (version) VALUES (?)", "d", version);
}

static int apply_pending(sq_conn *c, const char *path, int *out_version)
{
	int64_t version;
	int rc;

	if ((rc = sq_run(c, NULL,
	                 "CREATE TABLE IF NOT EXISTS kbp_schema_version (version INTEGER PRIMARY KEY)",
	                 "")) ||
	    (rc = read_version(c, &version)))
		return rc;
	if (version > kbp_sq_migrations_count)
		return kbp_error_set(KBP_EVERSION,
		                     "the SQLite database '%s' is at version %lld, newer than this "
		                     "library's %d: upgrade the library",
		                     path, (long long)version, kbp_sq_migrations_count);
	for (int v = (int)version + 1; v <= kbp_sq_migrations_count; v++)
		if ((rc = apply(c, v)))
			return rc;
	*out_version = kbp_sq_migrations_count;
	return 0;
}

/*
 * WAL lets readers run beside the one writer, in this process and others.
 * Switching needs no transaction; a file already in WAL mode stays so.
 */
static int enter_wal(sq_conn *c, const char *path)
{
	int src = sqlite3_exec(c->db, "PRAGMA journal_mode = WAL", NULL, NULL, NULL);
	char what[512];

	if (src == SQLITE_OK)
		return 0;
	snprintf(what, sizeof(what), "cannot use '%s' as a SQLite database in WAL mode", path);
	return sq_fail(c, src, what);
}

/* One IMMEDIATE transaction: two processes migrating at once apply each migration once. */
int sq_migrate_conn(sq_conn *c, const char *path, int *out_version)
{
	int version = 0, rc;

	if ((rc = enter_wal(c, path)) || (rc = sq_begin(c, 1)))
		return rc;
	if ((rc = apply_pending(c, path, &version))) {
		sq_rollback(c);
		return rc;
	}
	if ((rc = sq_commit(c)))
		return rc;
	if (out_version)
		*out_version = version;
	return 0;
}

int kbp__storage_sqlite_migrate(int *out_version, const char *uri, const char *schema)
{
	char *path;
	sq_conn *c;
	int rc;

	if ((rc = sq_path(&path, uri, schema)))
		return rc;
	if ((rc = sq_conn_open(&c, path, 1)) == 0) {
		rc = sq_migrate_conn(c, path, out_version);
		sq_conn_close(c);
	}
	free(path);
	return rc;
}
