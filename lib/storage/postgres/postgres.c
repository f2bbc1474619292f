/* SPDX-License-Identifier: MIT */
#include <stdlib.h>
#include <string.h>

#include "core/storage_open.h"
#include "storage/postgres/pg_internal.h"
#include "util/mutex.h"

/* Schema names are identifiers we quote anyway; keeping them plain keeps channel names plain. */
static int check_schema(const char *schema)
{
	size_t len = schema ? strlen(schema) : 0;

	if (len == 0 || len > PG_SCHEMA_MAX)
		return kbp_error_set(KBP_EINVAL, "schema name must be 1 to %d bytes", PG_SCHEMA_MAX);
	for (size_t i = 0; i < len; i++) {
		char c = schema[i];
		if (!((c >= 'a' && c <= 'z') || c == '_' || (i > 0 && c >= '0' && c <= '9')))
			return kbp_error_set(KBP_EINVAL,
			                     "schema name may contain only a-z, 0-9 and _ (not first)");
	}
	return 0;
}

static void pg_free(kbp_storage *st)
{
	pg_store *s = pg_of(st);

	pg_listener_stop(s);
	for (int i = 0; i < PG_POOL_MAX; i++)
		PQfinish(s->conns[i].conn);
	kbp_topics_destroy(&s->topics);
	pthread_cond_destroy(&s->pool_free);
	pthread_mutex_destroy(&s->pool_lock);
	if (s->conninfo) {
		/* The connection string may carry a password. */
		memset(s->conninfo, 0, strlen(s->conninfo));
		free(s->conninfo);
	}
	free(s);
}

static const kbp_storage postgres_vtable = {
	.version = KBP_STORAGE_VERSION,
	.name = "postgres",
	.vendor_put = pg_vendor_put,
	.vendor_get = pg_vendor_get,
	.product_put = pg_product_put,
	.product_get = pg_product_get,
	.product_set_active = pg_product_set_active,
	.cart_get = pg_cart_get,
	.verifications_list = pg_verifications_list,
	.order_get = pg_order_get,
	.job_enqueue = pg_job_enqueue,
	.jobs_acquire = pg_jobs_acquire,
	.job_complete = pg_job_complete,
	.job_get = pg_job_get,
	.jobs_list = pg_jobs_list,
	.maintenance = pg_maintenance,
	.metrics = pg_metrics,
	.wait = pg_wait,
	.notify = pg_notify,
	.free = pg_free,
	.jobs_complete = pg_jobs_complete,
	.doctor = pg_doctor,
	.jobs_extend = pg_jobs_extend,
	.wait_order = pg_wait_order,
	.jobs_insert = pg_jobs_insert,
	.txn_begin = pg_txn_begin,
	.txn_commit = pg_txn_commit,
	.txn_rollback = pg_txn_rollback,
	.facts_read = pg_facts_read,
	.changes_apply = pg_changes_apply,
};

static pg_store *store_new(const char *conninfo, const char *schema, int pool_size)
{
	pg_store *s = calloc(1, sizeof(*s));

	if (!s)
		return NULL;
	s->base = postgres_vtable;
	s->pool_size = pool_size;
	strcpy(s->schema, schema);
	kbp_mutex_init(&s->pool_lock);
	pthread_cond_init(&s->pool_free, NULL);
	kbp_topics_init(&s->topics);
	if (!(s->conninfo = strdup(conninfo))) {
		pg_free(&s->base);
		return NULL;
	}
	return s;
}

int kbp_storage_postgres_open(kbp_storage **out, const char *conninfo, const char *schema,
                              int pool_size)
{
	pg_store *s;
	int rc;

	if (!out)
		return kbp_error_set(KBP_EINVAL, "out pointer is NULL");
	*out = NULL;
	if (!schema)
		schema = "kbp";
	if (!pool_size)
		pool_size = PG_POOL_DEFAULT;
	if (!conninfo)
		return kbp_error_set(KBP_EINVAL, "connection string is NULL");
	if ((rc = check_schema(schema)) != 0)
		return rc;
	if (pool_size < 1 || pool_size > PG_POOL_MAX)
		return kbp_error_set(KBP_EINVAL, "pool size must be 1 to %d", PG_POOL_MAX);
	if (!(s = store_new(conninfo, schema, pool_size)))
		return kbp_error_set(KBP_ENOMEM, "out of memory");
	/* The first connection proves the server, the credentials and the schema version. */
	if (!(s->conns[0].conn = pg_connect(conninfo, schema)) ||
	    (rc = pg_schema_check(s->conns[0].conn, schema)) != 0 ||
	    (rc = pg_listener_start(s)) != 0) {
		rc = kbp_error_last()->code;
		pg_free(&s->base);
		return rc;
	}
	*out = &s->base;
	return 0;
}

/* What "postgresql" and "postgres" are registered with. */
int kbp__storage_postgres_open_fn(kbp_storage **out, const char *uri,
                                  const kbp_storage_open_options *opts)
{
	return kbp_storage_postgres_open(out, uri, opts->schema, opts->pool_size);
}

int kbp_storage_postgres_migrate(int *out_version, const char *conninfo, const char *schema)
{
	PGconn *conn;
	int version = 0, rc;

	if (!schema)
		schema = "kbp";
	if (!conninfo)
		return kbp_error_set(KBP_EINVAL, "connection string is NULL");
	if ((rc = check_schema(schema)) != 0)
		return rc;
	/* The search_path is set inside the migration's own transaction. */
	if (!(conn = pg_connect(conninfo, "public")))
		return kbp_error_last()->code;
	rc = pg_migrate(conn, schema, &version);
	PQfinish(conn);
	if (rc == 0 && out_version)
		*out_version = version;
	return rc;
}
