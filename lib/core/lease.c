/* SPDX-License-Identifier: MIT */
#include <errno.h>
#include <stdlib.h>
#include <time.h>

#include "core/lease.h"
#include "core/pipeline_internal.h"

/* Renewals this far apart at the most, however long the lease. */
#define KEEPER_PERIOD_MAX_MS INT64_C(60000)
#define KEEPER_PERIOD_MIN_MS INT64_C(10)

struct kbp_lease_keeper {
	kbp_pipeline *p;
	kbp_lease_slot *slots;
	size_t n;
	int64_t period_ms;
	pthread_t thread;
	pthread_mutex_t lock;
	pthread_cond_t wake;
	int stopping;
};

int64_t kbp__lease_extend(kbp_pipeline *p, const kbp_job_list *batch, const char *worker)
{
	const char *ids[1000];
	size_t n = 0;
	int64_t now = kbp_pipeline_now(p), kept = 0;

	for (size_t i = 0; i < batch->n && n < sizeof(ids) / sizeof(ids[0]); i++)
		ids[n++] = batch->jobs[i].id;
	if (n > 0 && p->storage->jobs_extend(p->storage, ids, n, worker, now + p->job_lease_ms, now,
	                                     &kept) != 0) {
		kbp__log(p, KBP_LOG_WARN, "worker %s: leases not renewed: %s", worker,
		         kbp_error_last()->message);
		return -1;
	}
	return now + p->job_lease_ms;
}

void kbp__lease_slot_init(kbp_lease_slot *slot, const char *worker)
{
	pthread_mutex_init(&slot->lock, NULL);
	slot->batch = NULL;
	slot->worker = worker;
	slot->until = 0;
}

void kbp__lease_slot_destroy(kbp_lease_slot *slot)
{
	pthread_mutex_destroy(&slot->lock);
}

void kbp__lease_slot_hold(kbp_lease_slot *slot, const kbp_job_list *batch, int64_t until)
{
	pthread_mutex_lock(&slot->lock);
	slot->batch = batch;
	slot->until = until;
	pthread_mutex_unlock(&slot->lock);
}

int64_t kbp__lease_slot_until(kbp_lease_slot *slot)
{
	int64_t until;

	pthread_mutex_lock(&slot->lock);
	until = slot->until;
	pthread_mutex_unlock(&slot->lock);
	return until;
}

/* The slot's lock is held through the renewal, so its batch cannot be freed meanwhile. */
static void renew_slot(kbp_pipeline *p, kbp_lease_slot *slot)
{
	pthread_mutex_lock(&slot->lock);
	if (slot->batch) {
		int64_t until = kbp__lease_extend(p, slot->batch, slot->worker);
		if (until >= 0)
			slot->until = until;
	}
	pthread_mutex_unlock(&slot->lock);
}

static struct timespec deadline_after(int64_t ms)
{
	struct timespec t;

	clock_gettime(CLOCK_MONOTONIC, &t);
	t.tv_sec += (time_t)(ms / 1000);
	t.tv_nsec += (long)(ms % 1000) * 1000000L;
	if (t.tv_nsec >= 1000000000L) {
		t.tv_sec++;
		t.tv_nsec -= 1000000000L;
	}
	return t;
}

static void *keeper_main(void *arg)
{
	kbp_lease_keeper *k = arg;

	pthread_mutex_lock(&k->lock);
	while (!k->stopping) {
		struct timespec until = deadline_after(k->period_ms);
		int rc = 0;
		while (!k->stopping && rc != ETIMEDOUT)
			rc = pthread_cond_timedwait(&k->wake, &k->lock, &until);
		if (k->stopping)
			break;
		pthread_mutex_unlock(&k->lock);
		for (size_t i = 0; i < k->n; i++)
			renew_slot(k->p, &k->slots[i]);
		pthread_mutex_lock(&k->lock);
	}
	pthread_mutex_unlock(&k->lock);
	return NULL;
}

int kbp__lease_keeper_start(kbp_lease_keeper **out, kbp_pipeline *p, kbp_lease_slot *slots,
                            size_t n)
{
	kbp_lease_keeper *k = calloc(1, sizeof(*k));
	pthread_condattr_t attr;

	*out = NULL;
	if (!k)
		return kbp__oom();
	k->p = p;
	k->slots = slots;
	k->n = n;
	/* A third of the lease: two renewals can fail before a live job is rescued. */
	k->period_ms = p->job_lease_ms / 3;
	if (k->period_ms > KEEPER_PERIOD_MAX_MS)
		k->period_ms = KEEPER_PERIOD_MAX_MS;
	if (k->period_ms < KEEPER_PERIOD_MIN_MS)
		k->period_ms = KEEPER_PERIOD_MIN_MS;
	pthread_mutex_init(&k->lock, NULL);
	pthread_condattr_init(&attr);
	pthread_condattr_setclock(&attr, CLOCK_MONOTONIC);
	pthread_cond_init(&k->wake, &attr);
	pthread_condattr_destroy(&attr);
	if (pthread_create(&k->thread, NULL, keeper_main, k) != 0) {
		pthread_cond_destroy(&k->wake);
		pthread_mutex_destroy(&k->lock);
		free(k);
		return kbp_error_set(KBP_ENOMEM, "could not start the lease keeper thread");
	}
	*out = k;
	return 0;
}

void kbp__lease_keeper_stop(kbp_lease_keeper *k)
{
	if (!k)
		return;
	pthread_mutex_lock(&k->lock);
	k->stopping = 1;
	pthread_cond_signal(&k->wake);
	pthread_mutex_unlock(&k->lock);
	pthread_join(k->thread, NULL);
	pthread_cond_destroy(&k->wake);
	pthread_mutex_destroy(&k->lock);
	free(k);
}
