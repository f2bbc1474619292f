/* SPDX-License-Identifier: MIT */
#include <stdlib.h>
#include <string.h>

#include "core/storage_open.h"
#include "storage/sqlite/sq_internal.h"

static void sq_free(kbp_storage *s)
{
	sq_store *q = sq_of(s);

	sq_pool_close(q);
	sq_conn_close(q->watch);
	kbp_topics_destroy(&q->topics);
	pthread_mutex_destroy(&q->watch_lock);
	pthread_mutex_destroy(&q->maintenance_lock);
	pthread_mutex_destroy(&q->write_lock);
	pthread_cond_destroy(&q->pool_cond);
	pthread_mutex_destroy(&q->pool_lock);
	free(q->path);
	free(q);
}

static const kbp_storage sqlite_vtable = {
	.version = KBP_STORAGE_VERSION,
	.name = "sqlite",
	.vendor_put = sq_vendor_put,
	.vendor_get = sq_vendor_get,
	.product_put = sq_product_put,
	.product_get = sq_product_get,
	.product_set_active = sq_product_set_active,
	.cart_get = sq_cart_get,
	.verifications_list = sq_verifications_list,
	.order_get = sq_order_get,
	.job_enqueue = sq_job_enqueue,
	.jobs_acquire = sq_jobs_acquire,
	.job_get = sq_job_get,
	.jobs_list = sq_jobs_list,
	.maintenance = sq_maintenance,
	.metrics = sq_metrics,
	.wait = sq_wait,
	.notify = sq_notify,
	.free = sq_free,
	.jobs_complete = sq_jobs_complete,
	.doctor = sq_doctor,
	.jobs_extend = sq_jobs_extend,
	.wait_order = sq_wait_order,
	.jobs_insert = sq_jobs_insert,
	.txn_begin = sq_txn_begin,
	.txn_commit = sq_txn_commit,
	.txn_rollback = sq_txn_rollback,
	.facts_read = sq_facts_read,
	.changes_apply = sq_changes_apply,
};

static sq_store *store_new(char *path, int pool_size)
{
	sq_store *q = calloc(1, sizeof(*q));

	if (!q)
		return NULL;
	q->base = sqlite_vtable;
	q->path = path;
	q->max_open = pool_size > 0 ? pool_size : SQ_POOL_DEFAULT;
	pthread_mutex_init(&q->pool_lock, NULL);
	pthread_cond_init(&q->pool_cond, NULL);
	pthread_mutex_init(&q->write_lock, NULL);
	pthread_mutex_init(&q->maintenance_lock, NULL);
	pthread_mutex_init(&q->watch_lock, NULL);
	kbp_topics_init(&q->topics);
	return q;
}

/*
 * Opening migrates: the file is created when missing and brought to this
 * library's schema, so a single-machine store needs no separate step (and
 * kbp_migrate() does the same on its own). The first connection stays in
 * the pool.
 */
static int sq_open(kbp_storage **out, const char *uri, const char *schema, int pool_size)
{
	sq_conn *first = NULL;
	sq_store *q;
	char *path;
	int rc;

	*out = NULL;
	if (!uri)
		return kbp_error_set(KBP_EINVAL, "the SQLite URI is NULL");
	if ((rc = sq_path(&path, uri, schema)))
		return rc;
	if ((rc = sq_conn_open(&first, path, 1)) || (rc = sq_migrate_conn(first, path, NULL))) {
		sq_conn_close(first);
		free(path);
		return rc;
	}
	if (!(q = store_new(path, pool_size))) {
		sq_conn_close(first);
		free(path);
		return kbp_error_set(KBP_ENOMEM, "out of memory");
	}
	q->n_open = 1;
	q->idle = first;
	*out = &q->base;
	return 0;
}

int kbp__storage_sqlite_open_fn(kbp_storage **out, const char *uri,
                                const kbp_storage_open_options *opts)
{
	return sq_open(out, uri, opts ? opts->schema : NULL, opts ? opts->pool_size : 0);
}
