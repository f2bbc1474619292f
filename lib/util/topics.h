/* SPDX-License-Identifier: MIT */
#ifndef KBP_UTIL_TOPICS_H
#define KBP_UTIL_TOPICS_H

#include <pthread.h>
#include <stdint.h>

/*
 * Wake-up channels: each topic is a sequence number that changes whenever
 * something a waiter may care about happened. A waiter remembers the last
 * value it saw, so no change between its look and its sleep is lost.
 */
#define KBP_TOPICS 2
/* Keyed wake-ups remembered per topic; a waiter further behind simply looks. */
#define KBP_TOPIC_KEYS 256
/*
 * Keyed waiters sleep apart, by their key's hash, so that a change wakes the
 * waiters of its own key (and the few that share their shard), not all of them.
 */
#define KBP_TOPIC_SHARDS 64

typedef struct kbp_topics {
	pthread_mutex_t lock;
	pthread_cond_t cond[KBP_TOPICS];                    /* kbp_topics_wait()'s: every change */
	pthread_cond_t keyed[KBP_TOPICS][KBP_TOPIC_SHARDS]; /* kbp_topics_wait_key()'s */
	int keyed_waiting[KBP_TOPICS];
	uint64_t seq[KBP_TOPICS];
	/* The key hash of each recent change, by sequence number (0: every key). */
	uint64_t keys[KBP_TOPICS][KBP_TOPIC_KEYS];
} kbp_topics;

void kbp_topics_init(kbp_topics *t);
void kbp_topics_destroy(kbp_topics *t);
/* Bumps the topic and wakes every waiter. */
void kbp_topics_bump(kbp_topics *t, int topic);
/*
 * Bumps the topic and wakes one plain waiter: for work that one waiter can
 * take (a job), so that a pool of sleeping workers does not stampede the
 * queue. To keyed waiters it is a change of every key: they all wake.
 */
void kbp_topics_bump_one(kbp_topics *t, int topic);
/*
 * Blocks until the topic's sequence differs from *seen or timeout_ms passes
 * (KBP_ETIMEOUT), then stores the sequence in *seen. Sequences start at 1, so
 * a first call with *seen = 0 returns at once with the current value.
 */
int kbp_topics_wait(kbp_topics *t, int topic, uint64_t *seen, int64_t timeout_ms);
/*
 * A change that concerns one key (an intent's order): it wakes the plain
 * waiters and the keyed ones of the key's shard; kbp_topics_wait_key() sleeps
 * on unless the key is its own.
 */
void kbp_topics_bump_key(kbp_topics *t, int topic, const char *key);
/*
 * kbp_topics_wait() for the changes of one key: returns 0 once the topic
 * changed for this key, for every key (kbp_topics_bump), or more often than
 * the topic remembers; KBP_ETIMEOUT when timeout_ms passes first.
 */
int kbp_topics_wait_key(kbp_topics *t, int topic, const char *key, uint64_t *seen,
                        int64_t timeout_ms);

#endif
