/* SPDX-License-Identifier: MIT */
#include "util/topics.h"

#include <errno.h>

#include "kbpipeline/errors.h"
#include "util/clock.h"
#include "util/mutex.h"

void kbp_topics_init(kbp_topics *t)
{
	pthread_condattr_t attr;

	kbp_mutex_init(&t->lock);
	pthread_condattr_init(&attr);
	/* Timeouts must not jump with the wall clock. */
	pthread_condattr_setclock(&attr, CLOCK_MONOTONIC);
	for (int i = 0; i < KBP_TOPICS; i++) {
		pthread_cond_init(&t->cond[i], &attr);
		for (int k = 0; k < KBP_TOPIC_SHARDS; k++)
			pthread_cond_init(&t->keyed[i][k], &attr);
		t->keyed_waiting[i] = 0;
		t->seq[i] = 1;
		for (int k = 0; k < KBP_TOPIC_KEYS; k++)
			t->keys[i][k] = 0;
	}
	pthread_condattr_destroy(&attr);
}

void kbp_topics_destroy(kbp_topics *t)
{
	for (int i = 0; i < KBP_TOPICS; i++) {
		pthread_cond_destroy(&t->cond[i]);
		for (int k = 0; k < KBP_TOPIC_SHARDS; k++)
			pthread_cond_destroy(&t->keyed[i][k]);
	}
	pthread_mutex_destroy(&t->lock);
}

/* FNV-1a, never 0 (0 marks a change for every key); a collision only wakes a waiter early. */
static uint64_t key_hash(const char *key)
{
	uint64_t h = UINT64_C(14695981039346656037);

	for (; *key; key++)
		h = (h ^ (unsigned char)*key) * UINT64_C(1099511628211);
	return h ? h : 1;
}

static pthread_cond_t *shard_of(kbp_topics *t, int topic, uint64_t h)
{
	return &t->keyed[topic][h % KBP_TOPIC_SHARDS];
}

/* With the lock held: records the change of key (0: every key) and wakes its keyed waiters. */
static void advance(kbp_topics *t, int topic, uint64_t key)
{
	t->seq[topic]++;
	t->keys[topic][t->seq[topic] % KBP_TOPIC_KEYS] = key;
	if (t->keyed_waiting[topic] == 0)
		return;
	if (key != 0) {
		pthread_cond_broadcast(shard_of(t, topic, key));
		return;
	}
	for (int k = 0; k < KBP_TOPIC_SHARDS; k++)
		pthread_cond_broadcast(&t->keyed[topic][k]);
}

void kbp_topics_bump(kbp_topics *t, int topic)
{
	pthread_mutex_lock(&t->lock);
	advance(t, topic, 0);
	pthread_cond_broadcast(&t->cond[topic]);
	pthread_mutex_unlock(&t->lock);
}

void kbp_topics_bump_one(kbp_topics *t, int topic)
{
	pthread_mutex_lock(&t->lock);
	advance(t, topic, 0);
	pthread_cond_signal(&t->cond[topic]);
	pthread_mutex_unlock(&t->lock);
}

void kbp_topics_bump_key(kbp_topics *t, int topic, const char *key)
{
	pthread_mutex_lock(&t->lock);
	advance(t, topic, key_hash(key));
	pthread_cond_broadcast(&t->cond[topic]);
	pthread_mutex_unlock(&t->lock);
}

/* With the lock held: whether a change after *seen concerns key h. */
static int concerns(const kbp_topics *t, int topic, uint64_t seen, uint64_t h)
{
	uint64_t now = t->seq[topic];

	if (now - seen >= KBP_TOPIC_KEYS)
		return 1;
	for (uint64_t s = seen + 1; s <= now; s++) {
		uint64_t k = t->keys[topic][s % KBP_TOPIC_KEYS];
		if (k == 0 || k == h)
			return 1;
	}
	return 0;
}

int kbp_topics_wait_key(kbp_topics *t, int topic, const char *key, uint64_t *seen,
                        int64_t timeout_ms)
{
	struct timespec deadline = kbp_clock_deadline(timeout_ms > 0 ? timeout_ms : 0);
	uint64_t h = key_hash(key);
	int rc = 0, found = 0;

	pthread_mutex_lock(&t->lock);
	for (;;) {
		if (t->seq[topic] != *seen) {
			found = concerns(t, topic, *seen, h);
			*seen = t->seq[topic];
			if (found)
				break;
		}
		if (rc == ETIMEDOUT || timeout_ms <= 0)
			break;
		t->keyed_waiting[topic]++;
		rc = pthread_cond_timedwait(shard_of(t, topic, h), &t->lock, &deadline);
		t->keyed_waiting[topic]--;
	}
	pthread_mutex_unlock(&t->lock);
	return found ? 0 : KBP_ETIMEOUT;
}

int kbp_topics_wait(kbp_topics *t, int topic, uint64_t *seen, int64_t timeout_ms)
{
	struct timespec deadline = kbp_clock_deadline(timeout_ms > 0 ? timeout_ms : 0);
	int rc = 0;

	pthread_mutex_lock(&t->lock);
	while (t->seq[topic] == *seen && rc != ETIMEDOUT && timeout_ms > 0)
		rc = pthread_cond_timedwait(&t->cond[topic], &t->lock, &deadline);
	rc = t->seq[topic] != *seen ? 0 : KBP_ETIMEOUT;
	*seen = t->seq[topic];
	pthread_mutex_unlock(&t->lock);
	return rc;
}
