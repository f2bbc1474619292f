/* SPDX-License-Identifier: MIT */
/*
 * Order watches: one library thread per watch follows the storage's order
 * wake-ups and tells its host which of the watched intents may have
 * changed, so that a host with its own event loop can wait for thousands
 * of orders without a thread per wait. It builds on the storage's wait()
 * for the topic and on wait_order() with no timeout, which answers at once
 * whether a change since an intent's last look concerned that intent.
 */
#include <stdatomic.h>
#include <stdlib.h>
#include <string.h>

#include "core/pipeline_internal.h"
#include "core/validate.h"
#include "util/hmap.h"
#include "util/mutex.h"

/* The watch thread's sleep when nothing changes; stopping wakes it at once. */
#define WATCH_SLICE_MS 60000

typedef struct watched {
	char *intent_id;            /* the map's key */
	uint64_t seen;              /* the order topic's sequence at its last look */
} watched;

struct kbp_order_watch {
	kbp_storage *storage;
	kbp_order_watch_fn fn;
	void *ctx;
	pthread_mutex_t lock;       /* guards intents, and is held while fn runs */
	kbp_hmap intents;
	atomic_int stopping;
	uint64_t seq;               /* the order topic's sequence the thread last saw */
	pthread_t thread;
};

/* With the lock held: fn for each watched intent that a change since its last look may concern. */
static void report_changes(kbp_order_watch *w)
{
	const char *key;
	void *value;

	for (size_t i = 0; kbp_hmap_next(&w->intents, &i, &key, &value);) {
		watched *e = value;
		if (w->storage->wait_order(w->storage, e->intent_id, &e->seen, 0) == 0)
			w->fn(w->ctx, e->intent_id);
	}
}

static void *watch_main(void *arg)
{
	kbp_order_watch *w = arg;

	for (;;) {
		int changed = w->storage->wait(w->storage, KBP_TOPIC_ORDERS, &w->seq, WATCH_SLICE_MS) == 0;
		if (atomic_load(&w->stopping))
			return NULL;
		if (!changed)
			continue;
		pthread_mutex_lock(&w->lock);
		report_changes(w);
		pthread_mutex_unlock(&w->lock);
	}
}

static void forget_all(kbp_order_watch *w)
{
	const char *key;
	void *value;

	for (size_t i = 0; kbp_hmap_next(&w->intents, &i, &key, &value);) {
		watched *e = value;
		free(e->intent_id);
		free(e);
	}
	kbp_hmap_clear(&w->intents);
}

int kbp_order_watch_open(kbp_order_watch **out, kbp_pipeline *p, kbp_order_watch_fn fn, void *ctx)
{
	kbp_order_watch *w;

	KBP_CHECK_OUT(out);
	*out = NULL;
	KBP_CHECK_PIPELINE(p);
	if (!fn)
		return kbp_error_set(KBP_EINVAL, "fn is NULL");
	if (!(w = calloc(1, sizeof(*w))))
		return kbp__oom();
	w->storage = p->storage;
	w->fn = fn;
	w->ctx = ctx;
	kbp_mutex_init(&w->lock);
	kbp_hmap_init(&w->intents);
	atomic_init(&w->stopping, 0);
	/* Taken here, not by the thread: a change before the thread runs must still wake it. */
	w->storage->wait(w->storage, KBP_TOPIC_ORDERS, &w->seq, 0);
	if (pthread_create(&w->thread, NULL, watch_main, w) != 0) {
		pthread_mutex_destroy(&w->lock);
		free(w);
		return kbp_error_set(KBP_ENOMEM, "the order watch's thread could not be started");
	}
	*out = w;
	return 0;
}

/* Checks what every call about one intent takes, then takes the watch's lock. */
static int lock_for(kbp_order_watch *w, const char *intent_id)
{
	int rc;

	if (!w)
		return kbp_error_set(KBP_EINVAL, "watch is NULL");
	if ((rc = kbp__check_id(intent_id, "intent id")))
		return rc;
	pthread_mutex_lock(&w->lock);
	return 0;
}

int kbp_order_watch_add(kbp_order_watch *w, const char *intent_id)
{
	watched *e;
	int rc;

	if ((rc = lock_for(w, intent_id)))
		return rc;
	if (kbp_hmap_get(&w->intents, intent_id)) {
		pthread_mutex_unlock(&w->lock);
		return 0;
	}
	e = calloc(1, sizeof(*e));
	if (e && (e->intent_id = strdup(intent_id))) {
		/* From now on: a change before this look is the caller's to read. */
		w->storage->wait(w->storage, KBP_TOPIC_ORDERS, &e->seen, 0);
		if (kbp_hmap_put(&w->intents, e->intent_id, e) == 0) {
			pthread_mutex_unlock(&w->lock);
			return 0;
		}
	}
	pthread_mutex_unlock(&w->lock);
	if (e)
		free(e->intent_id);
	free(e);
	return kbp__oom();
}

int kbp_order_watch_remove(kbp_order_watch *w, const char *intent_id)
{
	watched *e;
	int rc;

	if ((rc = lock_for(w, intent_id)))
		return rc;
	e = kbp_hmap_del(&w->intents, intent_id);
	pthread_mutex_unlock(&w->lock);
	if (!e)
		return kbp_error_set(KBP_ENOTFOUND, "intent %s is not watched", intent_id);
	free(e->intent_id);
	free(e);
	return 0;
}

void kbp_order_watch_close(kbp_order_watch *w)
{
	if (!w)
		return;
	atomic_store(&w->stopping, 1);
	/* Wakes the thread (and, once, any other waiter for orders, who looks and sleeps on). */
	w->storage->notify(w->storage, KBP_TOPIC_ORDERS);
	pthread_join(w->thread, NULL);
	forget_all(w);
	pthread_mutex_destroy(&w->lock);
	free(w);
}
