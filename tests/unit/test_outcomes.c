/* SPDX-License-Identifier: MIT */
/*
 * A worker's writes of job outcomes against a storage that fails on cue: the
 * memory backend with its jobs_complete and job_fail slots wrapped, so that an
 * outage or a refused message is the same on every run.
 */
#include <check.h>
#include <stdatomic.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "core/pipeline_internal.h"
#include "kbpipeline.h"
#include "util_tests.h"

typedef struct flaky {
	int (*jobs_complete)(kbp_storage *s, const char *const *job_ids, size_t n,
	                     const char *worker, int64_t now, int64_t *out_done);
	int (*job_fail)(kbp_storage *s, const char *job_id, const char *worker, const char *error,
	                int64_t retry_at, int64_t now);
	int fail_completions;       /* the first this many completions fail; -1: all */
	int fail_failures;          /* the first this many failures are not written */
	const char *refuse;         /* job_fail refuses messages containing this */
	atomic_int completions;
	atomic_int failures;
} flaky;

/* One per test: the storage slots have no context of their own. */
static flaky fl;

static int flaky_complete(kbp_storage *s, const char *const *job_ids, size_t n,
                          const char *worker, int64_t now, int64_t *out_done)
{
	int call = atomic_fetch_add(&fl.completions, 1);

	if (fl.fail_completions < 0 || call < fl.fail_completions)
		return kbp_error_set(KBP_ESTORAGE, "connection to the database lost");
	return fl.jobs_complete(s, job_ids, n, worker, now, out_done);
}

static int flaky_fail(kbp_storage *s, const char *job_id, const char *worker, const char *error,
                      int64_t retry_at, int64_t now)
{
	int call = atomic_fetch_add(&fl.failures, 1);

	if (call < fl.fail_failures)
		return kbp_error_set(KBP_ESTORAGE, "connection to the database lost");
	if (fl.refuse && strstr(error, fl.refuse))
		return kbp_error_set(KBP_EINVAL, "invalid byte sequence");
	return fl.job_fail(s, job_id, worker, error, retry_at, now);
}

static kbp_pipeline *open_flaky(int fail_completions, const char *refuse, int64_t lease_ms)
{
	kbp_options o = KBP_OPTIONS_INIT;
	kbp_pipeline *p = NULL;

	o.job_lease_ms = lease_ms;
	ck_assert_int_eq(kbp_pipeline_open(&p, &o), KBP_OK);
	memset(&fl, 0, sizeof(fl));
	fl.jobs_complete = p->storage->jobs_complete;
	fl.job_fail = p->storage->job_fail;
	fl.fail_completions = fail_completions;
	fl.refuse = refuse;
	p->storage->jobs_complete = flaky_complete;
	p->storage->job_fail = flaky_fail;
	return p;
}

static int h_ok(void *ctx, kbp_pipeline *p, const kbp_job *job)
{
	(void)ctx;
	(void)p;
	(void)job;
	return 0;
}

static int h_fail(void *ctx, kbp_pipeline *p, const kbp_job *job)
{
	(void)p;
	(void)job;
	return kbp_error_set(KBP_EGATEWAY, "%s", (const char *)ctx);
}

static kbp_job *run_one(kbp_pipeline *p, const char *kind, kbp_job_handler h, void *ctx)
{
	char *id = NULL;
	kbp_job *j = NULL;
	int ran = 0;

	ck_assert_int_eq(kbp_job_register(p, kind, h, ctx), KBP_OK);
	ck_assert_int_eq(kbp_job_enqueue(&id, p, kind, NULL, NULL), KBP_OK);
	ck_assert_int_eq(kbp_worker_run_once(&ran, p, "w1", 10), KBP_OK);
	ck_assert_int_eq(ran, 1);
	ck_assert_int_eq(kbp_job_get(&j, p, id), KBP_OK);
	free(id);
	return j;
}

static int64_t mono_ms(void)
{
	struct timespec t;

	clock_gettime(CLOCK_MONOTONIC, &t);
	return (int64_t)t.tv_sec * 1000 + t.tv_nsec / 1000000;
}

/* The storage fails three completions, then takes the fourth: the job is completed. */
START_TEST(completion_is_retried_through_an_outage)
{
	kbp_pipeline *p = open_flaky(3, NULL, 60000);
	kbp_job *j = run_one(p, "outage_ok", h_ok, NULL);

	int completions = atomic_load(&fl.completions);

	ck_assert_int_eq(j->state, KBP_JOB_COMPLETED);
	ck_assert_int_eq(completions, 4);
	kbp_job_free(j);
	kbp_pipeline_close(p);
}
END_TEST

/* The storage refuses the handler's message: a fixed one is recorded instead. */
START_TEST(refused_message_records_a_fallback)
{
	kbp_pipeline *p = open_flaky(0, "unstorable", 60000);
	kbp_job *j = run_one(p, "refused", h_fail, "an unstorable message");

	int failures = atomic_load(&fl.failures);

	ck_assert_int_eq(j->state, KBP_JOB_AVAILABLE);
	ck_assert_int_eq(j->attempts, 1);
	ck_assert_str_eq(j->last_error,
	                 "payment gateway failure (the handler's message could not be recorded)");
	ck_assert_int_eq(failures, 2);
	kbp_job_free(j);
	kbp_pipeline_close(p);
}
END_TEST

/* An outage is not a refusal: once the storage is back, the handler's own words are recorded. */
START_TEST(failure_is_retried_with_its_own_message)
{
	kbp_pipeline *p = open_flaky(0, NULL, 60000);
	kbp_job *j;

	fl.fail_failures = 1;
	j = run_one(p, "outage_fail", h_fail, "the courier was unreachable");
	ck_assert_int_eq(j->state, KBP_JOB_AVAILABLE);
	ck_assert_str_eq(j->last_error, "the courier was unreachable");
	ck_assert_int_eq(atomic_load(&fl.failures), 2);
	kbp_job_free(j);
	kbp_pipeline_close(p);
}
END_TEST

/* A storage that never recovers: the worker stops trying once the lease has passed. */
START_TEST(retries_end_with_the_lease)
{
	kbp_pipeline *p = open_flaky(-1, NULL, 400);
	int64_t t0 = mono_ms();
	kbp_job *j = run_one(p, "outage_forever", h_ok, NULL);
	int64_t took = mono_ms() - t0;
	int completions = atomic_load(&fl.completions);

	ck_assert_int_eq(j->state, KBP_JOB_RUNNING);
	ck_assert_int_ge(completions, 3);
	ck_assert_int_ge(took, 300);
	ck_assert_int_lt(took, 2000);
	kbp_job_free(j);
	kbp_pipeline_close(p);
}
END_TEST

TCase *outcomes_tcase(void)
{
	TCase *tc = tcase_create("outcomes");

	/* Each case pauses for the retries, up to a lease of 400 ms. */
	tcase_set_timeout(tc, 60);
	tcase_add_test(tc, completion_is_retried_through_an_outage);
	tcase_add_test(tc, refused_message_records_a_fallback);
	tcase_add_test(tc, failure_is_retried_with_its_own_message);
	tcase_add_test(tc, retries_end_with_the_lease);
	return tc;
}
