/* SPDX-License-Identifier: MIT */
#include <stdlib.h>
#include <string.h>

#include "core/objects.h"
#include "core/storage_open.h"
#include "storage/memory/memory_internal.h"
#include "util/mutex.h"

char *mem_pair_key(const char *a, const char *b)
{
	size_t la = strlen(a), lb = strlen(b);
	char *key = malloc(la + lb + 2);

	if (!key)
		return NULL;
	memcpy(key, a, la);
	key[la] = '\n';
	memcpy(key + la + 1, b, lb + 1);
	return key;
}

void mem_ring_push(mem_ring *r, int64_t v)
{
	r->v[r->pos] = v;
	r->pos = (r->pos + 1) % MEM_RING;
	if (r->n < MEM_RING)
		r->n++;
}

static int mem_wait(kbp_storage *s, kbp_topic topic, uint64_t *seen, int64_t timeout_ms)
{
	return kbp_topics_wait(&mem_of(s)->topics, (int)topic, seen, timeout_ms);
}

static int mem_wait_order(kbp_storage *s, const char *intent_id, uint64_t *seen, int64_t timeout_ms)
{
	return kbp_topics_wait_key(&mem_of(s)->topics, KBP_TOPIC_ORDERS, intent_id, seen, timeout_ms);
}

static void mem_notify(kbp_storage *s, kbp_topic topic)
{
	kbp_topics_bump(&mem_of(s)->topics, (int)topic);
}

static int mem_maintenance(kbp_storage *s, const kbp_maintenance_params *params,
                           kbp_maintenance_result *out)
{
	mem_store *m = mem_of(s);

	memset(out, 0, sizeof(*out));
	/* The election: one pass at a time, the others report that they did not run. */
	if (pthread_mutex_trylock(&m->maintenance_lock) != 0)
		return 0;
	pthread_mutex_lock(&m->lock);
	out->ran = 1;
	out->jobs_pruned = mem_jobs_prune(m, params->prune_before);
	mem_verifications_prune(m, params->prune_before);
	pthread_mutex_unlock(&m->lock);
	pthread_mutex_unlock(&m->maintenance_lock);
	return 0;
}

static void free_map_values(kbp_hmap *map, void (*free_fn)(void *))
{
	void *value;

	for (size_t pos = 0; kbp_hmap_next(map, &pos, NULL, &value);)
		free_fn(value);
	kbp_hmap_clear(map);
}

static void free_vendor(void *v)
{
	kbp_vendor_free(v);
}

static void free_product(void *p)
{
	kbp_product_free(p);
}

static void free_cart(void *c)
{
	mem_cart_free(c);
}

static void free_intent(void *in)
{
	mem_intent_free(in);
}

static void free_job(void *j)
{
	mem_job_free(j);
}

static void free_key_only(kbp_hmap *map)
{
	const char *key;

	for (size_t pos = 0; kbp_hmap_next(map, &pos, &key, NULL);)
		free((char *)key);
	kbp_hmap_clear(map);
}

static void mem_free(kbp_storage *s)
{
	mem_store *m = mem_of(s);

	free_map_values(&m->vendors, free_vendor);
	free_map_values(&m->products, free_product);
	free_map_values(&m->carts, free_cart);
	kbp_hmap_clear(&m->intents_by_key);
	kbp_hmap_clear(&m->intents_by_ref);
	kbp_hmap_clear(&m->orders);
	free_map_values(&m->intents, free_intent);
	kbp_hmap_clear(&m->live_unique);
	free_map_values(&m->jobs, free_job);
	free_key_only(&m->accepted);
	for (size_t i = 0; i < m->n_rows; i++)
		kbp_verification_free(m->rows[i]);
	free(m->rows);
	free(m->ready.v);
	free(m->scheduled.v);
	kbp_topics_destroy(&m->topics);
	pthread_mutex_destroy(&m->maintenance_lock);
	pthread_mutex_destroy(&m->lock);
	free(m);
}

static const kbp_storage memory_vtable = {
	.version = KBP_STORAGE_VERSION,
	.name = "memory",
	.vendor_put = mem_vendor_put,
	.vendor_get = mem_vendor_get,
	.product_put = mem_product_put,
	.product_get = mem_product_get,
	.product_set_active = mem_product_set_active,
	.cart_get = mem_cart_get,
	.verifications_list = mem_verifications_list,
	.order_get = mem_order_get,
	.job_enqueue = mem_job_enqueue,
	.jobs_acquire = mem_jobs_acquire,
	.job_complete = mem_job_complete,
	.job_get = mem_job_get,
	.jobs_list = mem_jobs_list,
	.maintenance = mem_maintenance,
	.metrics = mem_metrics,
	.wait = mem_wait,
	.notify = mem_notify,
	.free = mem_free,
	.jobs_complete = mem_jobs_complete,
	.jobs_extend = mem_jobs_extend,
	.wait_order = mem_wait_order,
	.jobs_insert = mem_jobs_insert,
	.doctor = mem_doctor,
	.txn_begin = mem_txn_begin,
	.txn_commit = mem_txn_commit,
	.txn_rollback = mem_txn_rollback,
	.facts_read = mem_facts_read,
	.changes_apply = mem_changes_apply,
};

int kbp_storage_memory_open(kbp_storage **out, const char *uri)
{
	mem_store *m;

	if (!out)
		return kbp_error_set(KBP_EINVAL, "out pointer is NULL");
	*out = NULL;
	if (uri && *uri && strcmp(uri, "memory:") != 0)
		return kbp_error_set(KBP_EINVAL, "the memory backend's URI is \"memory:\"");
	if (!(m = calloc(1, sizeof(*m))))
		return kbp_error_set(KBP_ENOMEM, "out of memory");
	m->base = memory_vtable;
	kbp_mutex_init(&m->lock);
	pthread_mutex_init(&m->maintenance_lock, NULL);
	kbp_topics_init(&m->topics);
	kbp_hmap_init(&m->vendors);
	kbp_hmap_init(&m->products);
	kbp_hmap_init(&m->carts);
	kbp_hmap_init(&m->intents);
	kbp_hmap_init(&m->intents_by_key);
	kbp_hmap_init(&m->intents_by_ref);
	kbp_hmap_init(&m->orders);
	kbp_hmap_init(&m->jobs);
	kbp_hmap_init(&m->live_unique);
	kbp_hmap_init(&m->accepted);
	m->scheduled.by_time = 1;
	/* Opened without the registry too: every slot is filled, the library's ones included. */
	kbp__storage_check(&m->base, "memory");
	*out = &m->base;
	return 0;
}

/* What "memory" is registered with: a store has no schema or pool to take from the options. */
int kbp__storage_memory_open_fn(kbp_storage **out, const char *uri,
                                const kbp_storage_open_options *opts)
{
	(void)opts;
	return kbp_storage_memory_open(out, uri);
}
