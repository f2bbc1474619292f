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

typedef struct kbp_topics {
	pthread_mutex_t lock;
	pthread_cond_t cond[KBP_TOPICS];
	uint64_t seq[KBP_TOPICS];
} kbp_topics;

void kbp_topics_init(kbp_topics *t);
void kbp_topics_destroy(kbp_topics *t);
/* Bumps the topic and wakes every waiter. */
void kbp_topics_bump(kbp_topics *t, int topic);
/*
 * Bumps the topic and wakes one waiter: for work that one waiter can take
 * (a job), so that a pool of sleeping workers does not stampede the queue.
 */
void kbp_topics_bump_one(kbp_topics *t, int topic);
/*
 * Blocks until the topic's sequence differs from *seen or timeout_ms passes
 * (KBP_ETIMEOUT), then stores the sequence in *seen. Sequences start at 1, so
 * a first call with *seen = 0 returns at once with the current value.
 */
int kbp_topics_wait(kbp_topics *t, int topic, uint64_t *seen, int64_t timeout_ms);

#endif
