/* SPDX-License-Identifier: MIT */
/*
 * Lease renewal (DESIGN §7): a job whose handler (or whose batch) runs past
 * the lease keeps it, so maintenance rescues only jobs whose worker is gone.
 */
#include <errno.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "fixture.h"
#include "jobs_util.h"

#define LEASE_MS INT64_C(1000)

static void open_with_lease(fx *f)
{
	kbp_options o;

	fx_default_options(f, &o);
	o.job_lease_ms = LEASE_MS;
	fx_open_with(f, &o);
}

/* Each call takes step_ms (default 60 % of the lease), then asks maintenance to rescue stale jobs. */
typedef struct slow {
	fx *f;
	int64_t step_ms;
	atomic_int calls;
	int64_t rescued;
} slow;

static int h_slow(void *ctx, kbp_pipeline *p, const kbp_job *job)
{
	slow *s = ctx;
	int64_t n = 0;

	(void)job;
	atomic_fetch_add(&s->calls, 1);
	fx_advance(s->f, s->step_ms ? s->step_ms : LEASE_MS * 6 / 10);
	if (kbp_jobs_rescue(&n, p) != 0)
		return kbp_error_set(KBP_ESTATE, "jobs_rescue failed: %s", kbp_error_last()->message);
	s->rescued += n;
	return 0;
}

START_TEST(run_once_renews_its_batch_between_jobs)
{
	fx f;
	slow s = { .f = &f };
	const char *kind;
	char *ids[3];
	int ran = 0;

	open_with_lease(&f);
	kind = fx_kind(&f, "slow");
	CK_OK(kbp_job_register(f.p, kind, h_slow, &s));
	for (int i = 0; i < 3; i++)
		ids[i] = enqueue(&f, kind, NULL, NULL);
	/* 3 x 60 % of the lease in one batch: the last job starts after its first lease. */
	CK_OK(kbp_worker_run_once(&ran, f.p, FX_WORKER, 3));
	ck_assert_int_eq(ran, 3);
	ck_assert_int_eq(atomic_load(&s.calls), 3);
	ck_assert_int_eq(s.rescued, 0);
	for (int i = 0; i < 3; i++) {
		kbp_job *j = fx_job_get(&f, ids[i]);
		ck_assert_int_eq(j->state, KBP_JOB_COMPLETED);
		ck_assert_int_eq(j->attempts, 1);
		kbp_job_free(j);
		free(ids[i]);
	}
	fx_close(&f);
}
END_TEST

/* A handler that succeeds once released. */
typedef struct gate {
	pthread_mutex_t mu;
	pthread_cond_t cv;
	int inside, open;
} gate;

static int h_gate(void *ctx, kbp_pipeline *p, const kbp_job *job)
{
	gate *g = ctx;

	(void)p;
	(void)job;
	pthread_mutex_lock(&g->mu);
	g->inside = 1;
	pthread_cond_broadcast(&g->cv);
	while (!g->open)
		pthread_cond_wait(&g->cv, &g->mu);
	pthread_mutex_unlock(&g->mu);
	return 0;
}

static void sleep_ms(long ms)
{
	struct timespec t = { ms / 1000, (ms % 1000) * 1000000L };

	while (nanosleep(&t, &t) == -1 && errno == EINTR)
		;
}

/* Polls (up to 10 s) until the job's lease ends after `after`. */
static kbp_job *wait_for_lease_after(fx *f, const char *id, int64_t after)
{
	for (int i = 0; i < 1000; i++) {
		kbp_job *j = fx_job_get(f, id);
		if (j->state == KBP_JOB_RUNNING && j->lease_until > after)
			return j;
		kbp_job_free(j);
		sleep_ms(10);
	}
	ck_abort_msg("the lease of job %s was not renewed past %lld", id, (long long)after);
	return NULL;
}

START_TEST(worker_keeps_the_lease_of_a_long_job)
{
	fx f;
	gate g = { PTHREAD_MUTEX_INITIALIZER, PTHREAD_COND_INITIALIZER, 0, 0 };
	kbp_worker_options wo = KBP_WORKER_OPTIONS_INIT;
	kbp_worker *w = NULL;
	const char *kind;
	int64_t first_lease, rescued = -1;
	kbp_job *j;
	char *id;

	open_with_lease(&f);
	kind = fx_kind(&f, "long");
	CK_OK(kbp_job_register(f.p, kind, h_gate, &g));
	id = enqueue(&f, kind, NULL, NULL);
	wo.threads = 1;
	CK_OK(kbp_worker_start(&w, f.p, &wo));
	pthread_mutex_lock(&g.mu);
	while (!g.inside)
		pthread_cond_wait(&g.cv, &g.mu);
	pthread_mutex_unlock(&g.mu);

	j = fx_job_get(&f, id);
	first_lease = j->lease_until;
	kbp_job_free(j);
	/* Two thirds into the lease, the keeper (every third of it) renews it... */
	fx_advance(&f, LEASE_MS * 2 / 3);
	kbp_job_free(wait_for_lease_after(&f, id, first_lease));
	/* ...so once the first lease has passed, maintenance leaves the job alone. */
	fx_advance(&f, LEASE_MS * 2 / 3);
	CK_OK(kbp_jobs_rescue(&rescued, f.p));
	ck_assert_int_eq(rescued, 0);

	pthread_mutex_lock(&g.mu);
	g.open = 1;
	pthread_cond_broadcast(&g.cv);
	pthread_mutex_unlock(&g.mu);
	kbp_worker_stop(w);
	j = fx_job_get(&f, id);
	ck_assert_int_eq(j->state, KBP_JOB_COMPLETED);
	ck_assert_int_eq(j->attempts, 1);
	kbp_job_free(j);
	free(id);
	fx_close(&f);
}
END_TEST

/*
 * A batch that stalls past its whole lease is rescued; renewing it later does
 * not take the jobs back, and their late outcome does not count.
 */
START_TEST(a_rescued_batch_is_not_taken_back)
{
	fx f;
	slow s = { .f = &f, .step_ms = LEASE_MS * 3 / 2 };
	const char *kind;
	char *ids[2];
	int ran = 0;

	open_with_lease(&f);
	kind = fx_kind(&f, "rescued");
	CK_OK(kbp_job_register(f.p, kind, h_slow, &s));
	for (int i = 0; i < 2; i++)
		ids[i] = enqueue(&f, kind, NULL, NULL);
	CK_OK(kbp_worker_run_once(&ran, f.p, FX_WORKER, 2));
	ck_assert_int_eq(ran, 2);
	ck_assert_int_eq(s.rescued, 2);     /* both, by the first handler's maintenance call */
	for (int i = 0; i < 2; i++) {
		kbp_job *j = fx_job_get(&f, ids[i]);
		ck_assert_int_eq(j->state, KBP_JOB_AVAILABLE);
		ck_assert_int_eq(j->attempts, 1);
		ck_assert_ptr_nonnull(j->last_error);
		ck_assert_ptr_nonnull(strstr(j->last_error, "lease expired"));
		kbp_job_free(j);
		free(ids[i]);
	}
	fx_close(&f);
}
END_TEST

void add_leases_tests(Suite *s)
{
	TCase *tc = fx_tcase("leases");
	tcase_add_test(tc, run_once_renews_its_batch_between_jobs);
	tcase_add_test(tc, worker_keeps_the_lease_of_a_long_job);
	tcase_add_test(tc, a_rescued_batch_is_not_taken_back);
	suite_add_tcase(s, tc);
}
