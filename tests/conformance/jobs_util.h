/* SPDX-License-Identifier: MIT */
/* Job handlers shared by the jobs, admin and maintenance tests. */
#ifndef KBP_CONFORMANCE_JOBS_UTIL_H
#define KBP_CONFORMANCE_JOBS_UTIL_H

#include <pthread.h>
#include "fixture.h"

/* Counts calls; fails while calls <= fail_first (forever if fail_first < 0). */
typedef struct counter {
	atomic_int calls;
	int fail_first;
	char seen[64][32];          /* the "n" field of each payload, in run order */
	int n_seen;
	int last_attempts;
	kbp_job_state last_state;
	char last_locked_by[64];
} counter;

int h_count(void *ctx, kbp_pipeline *p, const kbp_job *job);

/*
 * Blocks its first `block` calls until released, then fails them (a worker
 * that lost its lease and comes back late); later calls succeed at once.
 */
typedef struct blocker {
	pthread_mutex_t mu;
	pthread_cond_t cv;
	int block;
	int started;
	int released;
	atomic_int calls;
} blocker;

void blocker_init(blocker *b, int block);
int h_block(void *ctx, kbp_pipeline *p, const kbp_job *job);
/* Waits (up to 10 s) until n blocked handlers are inside. */
void blocker_wait_started(blocker *b, int n);
void blocker_release(blocker *b);

/* Runs kbp_worker_run_once(max 1) on a thread of its own. */
typedef struct runner {
	pthread_t th;
	fx *f;
	char worker[32];
	int rc;
	int ran;
} runner;

void runner_start(runner *r, fx *f, const char *worker);
void runner_join(runner *r);

char *enqueue(fx *f, const char *kind, const char *payload, const kbp_enqueue_options *o);

#endif
