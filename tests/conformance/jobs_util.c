/* SPDX-License-Identifier: MIT */
#include "jobs_util.h"

#include <errno.h>
#include <stdio.h>
#include <string.h>
#include <time.h>

int h_count(void *ctx, kbp_pipeline *p, const kbp_job *job)
{
	counter *c = ctx;
	int n = atomic_fetch_add(&c->calls, 1) + 1;
	cJSON *payload = cJSON_Parse(job->payload);
	const cJSON *tag = cJSON_GetObjectItemCaseSensitive(payload, "n");

	(void)p;
	if (c->n_seen < 64)
		snprintf(c->seen[c->n_seen++], sizeof c->seen[0], "%s",
		         cJSON_IsString(tag) ? tag->valuestring : "?");
	cJSON_Delete(payload);
	c->last_attempts = job->attempts;
	c->last_state = job->state;
	snprintf(c->last_locked_by, sizeof c->last_locked_by, "%s", job->locked_by ? job->locked_by : "");
	if (c->fail_first < 0 || n <= c->fail_first)
		return kbp_error_set(KBP_EINVAL, "boom %d", n);
	return 0;
}

void blocker_init(blocker *b, int block)
{
	pthread_mutex_init(&b->mu, NULL);
	pthread_cond_init(&b->cv, NULL);
	b->block = block;
	b->started = 0;
	b->released = 0;
	atomic_init(&b->calls, 0);
}

int h_block(void *ctx, kbp_pipeline *p, const kbp_job *job)
{
	blocker *b = ctx;
	int n = atomic_fetch_add(&b->calls, 1) + 1;

	(void)p;
	(void)job;
	if (n > b->block)
		return 0;
	pthread_mutex_lock(&b->mu);
	b->started++;
	pthread_cond_broadcast(&b->cv);
	while (!b->released)
		pthread_cond_wait(&b->cv, &b->mu);
	pthread_mutex_unlock(&b->mu);
	return kbp_error_set(KBP_EINVAL, "came back after losing the lease");
}

void blocker_wait_started(blocker *b, int n)
{
	struct timespec deadline;
	int rc = 0;

	clock_gettime(CLOCK_REALTIME, &deadline);
	deadline.tv_sec += 10;
	pthread_mutex_lock(&b->mu);
	while (b->started < n && rc != ETIMEDOUT)
		rc = pthread_cond_timedwait(&b->cv, &b->mu, &deadline);
	ck_assert_msg(b->started >= n, "only %d of %d handlers started", b->started, n);
	pthread_mutex_unlock(&b->mu);
}

void blocker_release(blocker *b)
{
	pthread_mutex_lock(&b->mu);
	b->released = 1;
	pthread_cond_broadcast(&b->cv);
	pthread_mutex_unlock(&b->mu);
}

static void *runner_main(void *arg)
{
	runner *r = arg;
	r->rc = kbp_worker_run_once(&r->ran, r->f->p, r->worker, 1);
	return NULL;
}

void runner_start(runner *r, fx *f, const char *worker)
{
	r->f = f;
	r->rc = -999;
	r->ran = -1;
	snprintf(r->worker, sizeof r->worker, "%s", worker);
	ck_assert_int_eq(pthread_create(&r->th, NULL, runner_main, r), 0);
}

void runner_join(runner *r)
{
	pthread_join(r->th, NULL);
}

char *enqueue(fx *f, const char *kind, const char *payload, const kbp_enqueue_options *o)
{
	char *id = NULL;
	CK_OK(kbp_job_enqueue(&id, f->p, kind, payload, o));
	ck_assert_ptr_nonnull(id);
	ck_assert_int_eq(strncmp(id, "job_", 4), 0);
	return id;
}
