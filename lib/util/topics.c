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
		t->seq[i] = 1;
	}
	pthread_condattr_destroy(&attr);
}

void kbp_topics_destroy(kbp_topics *t)
{
	for (int i = 0; i < KBP_TOPICS; i++)
		pthread_cond_destroy(&t->cond[i]);
	pthread_mutex_destroy(&t->lock);
}

void kbp_topics_bump(kbp_topics *t, int topic)
{
	pthread_mutex_lock(&t->lock);
	t->seq[topic]++;
	pthread_cond_broadcast(&t->cond[topic]);
	pthread_mutex_unlock(&t->lock);
}

void kbp_topics_bump_one(kbp_topics *t, int topic)
{
	pthread_mutex_lock(&t->lock);
	t->seq[topic]++;
	pthread_cond_signal(&t->cond[topic]);
	pthread_mutex_unlock(&t->lock);
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
