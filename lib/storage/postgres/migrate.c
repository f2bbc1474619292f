/* SPDX-License-Identifier: MIT */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "storage/postgres/pg_internal.h"

static int exec_ok(PGconn *conn, const char *sql, const char *what)
{
	PGresult *res = PQexec(conn, sql);
	int ok = PQresultStatus(res) == PGRES_COMMAND_OK || PQresultStatus(res) == PGRES_TUPLES_OK;
	int rc = 0;

	if (!ok) {
		const char *msg = PQresultErrorField(res, PG_DIAG_MESSAGE_PRIMARY);
		/* Without the server's message, libpq's own says what went wrong, redacted. */
		rc = msg ? kbp_error_set(KBP_ESTORAGE, "%s: %s", what, msg) : pg_conn_error(conn, what);
	}
	PQclear(res);
	return rc;
}

/* The version recorded in the schema: 0 when the version table is absent. */
static int read_version(PGconn *conn, int *out)
{
	PGresult *res = PQexec(conn, "SELECT coalesce(max(version), 0) FROM kbp_schema_version");
	const char *state = PQresultErrorField(res, PG_DIAG_SQLSTATE);
	int rc = 0;

	*out = 0;
	if (PQresultStatus(res) == PGRES_TUPLES_OK)
		*out = atoi(PQgetvalue(res, 0, 0));
	else if (!state || strcmp(state, "42P01") != 0)
		rc = kbp_error_set(KBP_ESTORAGE, "cannot read the schema version: %s",
		                   PQresultErrorField(res, PG_DIAG_MESSAGE_PRIMARY));
	PQclear(res);
	return rc;
}

static int too_new(int version, const char *schema)
{
	return kbp_error_set(KBP_EVERSION,
	                     "schema '%s' is at version %d, newer than this library's %d: "
	                     "upgrade the library",
	                     schema, version, kbp_pg_migration_count);
}

int pg_schema_check(PGconn *conn, const char *schema)
{
	int version, rc = read_version(conn, &version);

	if (rc != 0)
		return rc;
	if (version > kbp_pg_migration_count)
		return too_new(version, schema);
	if (version < kbp_pg_migration_count)
		return kbp_error_set(KBP_EVERSION,
		                     "schema '%s' is at version %d, this library needs %d: "
		                     "run kbp_migrate() or `kbpipe migrate`",
		                     schema, version, kbp_pg_migration_count);
	return 0;
}

static int record_version(PGconn *conn, int version)
{
	char v[16], at[24];
	const char *params[2] = { v, at };
	PGresult *res;
	int ok;

	snprintf(v, sizeof(v), "%d", version);
	snprintf(at, sizeof(at), "%lld", (long long)time(NULL) * 1000);
	res = PQexecParams(conn, "INSERT INTO kbp_schema_version (version, applied_at) VALUES ($1, $2)",
	                   2, NULL, params, NULL, NULL, 0);
	ok = PQresultStatus(res) == PGRES_COMMAND_OK;
	PQclear(res);
	return ok ? 0 : kbp_error_set(KBP_ESTORAGE, "cannot record schema version %d", version);
}

static int apply_pending(PGconn *conn, const char *schema, int *out_version)
{
	int version, rc;

	if ((rc = exec_ok(conn,
	                  "CREATE TABLE IF NOT EXISTS kbp_schema_version ("
	                  " version integer PRIMARY KEY, applied_at bigint NOT NULL)",
	                  "cannot create the version table")) ||
	    (rc = read_version(conn, &version)))
		return rc;
	if (version > kbp_pg_migration_count)
		return too_new(version, schema);
	for (int v = version + 1; v <= kbp_pg_migration_count; v++) {
		char what[64];
		snprintf(what, sizeof(what), "migration %d failed", v);
		if ((rc = exec_ok(conn, kbp_pg_migrations[v - 1], what)) || (rc = record_version(conn, v)))
			return rc;
	}
	*out_version = kbp_pg_migration_count;
	return 0;
}

/*
 * One transaction under an advisory lock, so two processes migrating at once
 * apply each migration exactly once and either all pending ones land or none.
 */
int pg_migrate(PGconn *conn, const char *schema, int *out_version)
{
	const char *params[1] = { schema };
	char *quoted = PQescapeIdentifier(conn, schema, strlen(schema));
	char sql[PG_SCHEMA_MAX * 2 + 64];
	PGresult *res;
	int rc;

	if (!quoted)
		return pg_conn_error(conn, "cannot quote the schema name");
	if ((rc = exec_ok(conn, "BEGIN", "cannot begin the migration"))) {
		PQfreemem(quoted);
		return rc;
	}
	res = PQexecParams(conn, "SELECT pg_advisory_xact_lock(hashtext('kbpipeline.migrate.' || $1))",
	                   1, NULL, params, NULL, NULL, 0);
	rc = PQresultStatus(res) == PGRES_TUPLES_OK
	             ? 0
	             : kbp_error_set(KBP_ESTORAGE, "cannot take the migration lock");
	PQclear(res);
	snprintf(sql, sizeof(sql), "CREATE SCHEMA IF NOT EXISTS %s", quoted);
	if (rc == 0)
		rc = exec_ok(conn, sql, "cannot create the schema");
	snprintf(sql, sizeof(sql), "SET LOCAL search_path = %s", quoted);
	PQfreemem(quoted);
	if (rc == 0)
		rc = exec_ok(conn, sql, "cannot select the schema");
	if (rc == 0)
		rc = apply_pending(conn, schema, out_version);
	if (rc == 0)
		return exec_ok(conn, "COMMIT", "cannot commit the migration");
	PQclear(PQexec(conn, "ROLLBACK"));
	return rc;
}
