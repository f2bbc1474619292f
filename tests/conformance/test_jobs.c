/* SPDX-License-Identifier: MIT */
/* The job queue: enqueue, handlers, ordering, backoff, dead jobs, retry, cancel, leases. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include "jobs_util.h"

static void open_jobs(fx *f, int max_attempts, int64_t unit, int64_t cap, int jitter, int64_t lease)
{
	kbp_options o;
	fx_default_options(f, &o);
	o.max_attempts = max_attempts;
	o.backoff_unit_ms = unit;
	o.backoff_max_ms = cap;
	o.backoff_jitter_pct = jitter;
	o.job_lease_ms = lease;
	fx_open_with(f, &o);
}

/* The last error refused a job in a state: the same words on every backend. */
static void ck_state_message(const char *job_id, const char *state, const char *rule)
{
	char want[256];

	snprintf(want, sizeof want, "job '%s' is %s; %s", job_id, state, rule);
	ck_assert_str_eq(fx_last_message(), want);
}

static int run_once(fx *f, const char *worker)
{
	int ran = -1;
	CK_OK(kbp_worker_run_once(&ran, f->p, worker, 1000));
	ck_assert_int_ge(ran, 0);
	return ran;
}

START_TEST(enqueue_and_get)
{
	fx f;
	const char *kind;
	char *id, *plain;
	kbp_job *j;
	cJSON *want, *got;
	kbp_enqueue_options eo = KBP_ENQUEUE_OPTIONS_INIT;

	fx_open(&f);
	kind = fx_kind(&f, "mail");
	fx_advance(&f, 42);
	eo.priority = 7;
	eo.unique_key = fx_id(&f, "u1");
	eo.run_at = fx_now(&f) + 5000;
	eo.max_attempts = 3;
	id = enqueue(&f, kind, "{\"to\": \"ram@example.com\", \"n\": [1, 2]}", &eo);
	j = fx_job_get(&f, id);
	ck_assert_str_eq(j->kind, kind);
	want = cJSON_Parse("{\"to\":\"ram@example.com\",\"n\":[1,2]}");
	got = cJSON_Parse(j->payload);
	ck_assert_ptr_nonnull(got);
	ck_assert(cJSON_Compare(want, got, 1));
	cJSON_Delete(want);
	cJSON_Delete(got);
	ck_assert_int_eq(j->state, KBP_JOB_AVAILABLE);
	ck_assert_int_eq(j->priority, 7);
	ck_assert_int_eq(j->attempts, 0);
	ck_assert_int_eq(j->max_attempts, 3);
	ck_assert_int_eq(j->run_at, f.start + 42 + 5000);
	ck_assert_str_eq(j->unique_key, eo.unique_key);
	ck_assert_ptr_null(j->last_error);
	ck_assert_uint_eq(j->n_errors, 0);
	ck_assert_int_eq(j->created_at, f.start + 42);
	ck_assert_int_eq(j->finished_at, 0);
	kbp_job_free(j);

	plain = enqueue(&f, kind, NULL, NULL);
	j = fx_job_get(&f, plain);
	got = cJSON_Parse(j->payload);
	ck_assert(cJSON_IsObject(got));
	ck_assert_ptr_null(got->child);
	cJSON_Delete(got);
	ck_assert_int_eq(j->priority, 0);
	ck_assert_int_eq(j->max_attempts, 20);
	ck_assert_int_eq(j->run_at, fx_now(&f));
	ck_assert_ptr_null(j->unique_key);
	kbp_job_free(j);
	ck_assert_str_ne(plain, id);
	free(id);
	free(plain);
	fx_close(&f);
}
END_TEST

static size_t count_kind(fx *f, const char *kind)
{
	kbp_job_filter flt = KBP_JOB_FILTER_INIT;
	kbp_job_list *l = NULL;
	size_t n;
	flt.kind = kind;
	flt.limit = KBP_JOB_LIST_MAX;
	CK_OK(kbp_jobs_list(&l, f->p, &flt));
	n = l->n;
	kbp_job_list_free(l);
	return n;
}

START_TEST(enqueue_bad_input_writes_nothing)
{
	fx f;
	const char *kind;
	char *id = (char *)&id, *big, *long_kind, *long_key;
	kbp_enqueue_options good = KBP_ENQUEUE_OPTIONS_INIT, o;
	kbp_metrics before, after;

	fx_open(&f);
	kind = fx_kind(&f, "bad");
	big = fx_repeat(' ', KBP_JOB_PAYLOAD_MAX + 1);
	big[0] = '{';
	big[KBP_JOB_PAYLOAD_MAX] = '}';
	long_kind = fx_repeat('k', KBP_JOB_KIND_MAX + 1);
	long_key = fx_repeat('u', KBP_ID_MAX + 1);
	fx_metrics(&f, &before);

	CK_RC(kbp_job_enqueue(&id, NULL, kind, NULL, NULL), KBP_EINVAL);
	ck_assert_ptr_null(id);
	CK_RC(kbp_job_enqueue(&id, f.p, NULL, NULL, NULL), KBP_EINVAL);
	CK_RC(kbp_job_enqueue(&id, f.p, "", NULL, NULL), KBP_EINVAL);
	CK_RC(kbp_job_enqueue(&id, f.p, "Upper", NULL, NULL), KBP_EINVAL);
	CK_RC(kbp_job_enqueue(&id, f.p, "has space", NULL, NULL), KBP_EINVAL);
	CK_RC(kbp_job_enqueue(&id, f.p, "semi;colon", NULL, NULL), KBP_EINVAL);
	CK_RC(kbp_job_enqueue(&id, f.p, long_kind, NULL, NULL), KBP_EINVAL);
	CK_RC(kbp_job_enqueue(&id, f.p, kind, "[1,2]", NULL), KBP_EPARSE);
	CK_RC(kbp_job_enqueue(&id, f.p, kind, "\"text\"", NULL), KBP_EPARSE);
	CK_RC(kbp_job_enqueue(&id, f.p, kind, "{\"a\":", NULL), KBP_EPARSE);
	CK_RC(kbp_job_enqueue(&id, f.p, kind, "", NULL), KBP_EPARSE);
	CK_RC(kbp_job_enqueue(&id, f.p, kind, "{\"a\":\"\xff\"}", NULL), KBP_EPARSE);
	CK_RC(kbp_job_enqueue(&id, f.p, kind, big, NULL), KBP_ETOOBIG);
#define BAD(field, value, code) do { o = good; o.field = value; CK_RC(kbp_job_enqueue(&id, f.p, kind, NULL, &o), code); ck_assert_ptr_null(id); } while (0)
	BAD(version, 7, KBP_EVERSION);
	BAD(priority, -1, KBP_EINVAL);
	BAD(priority, KBP_JOB_PRIORITY_MAX + 1, KBP_EINVAL);
	BAD(max_attempts, -1, KBP_EINVAL);
	BAD(max_attempts, 1001, KBP_EINVAL);
	BAD(run_at, -1, KBP_EINVAL);
	BAD(unique_key, "", KBP_EINVAL);
	BAD(unique_key, "key with space", KBP_EINVAL);
	BAD(unique_key, long_key, KBP_ETOOBIG);
	BAD(unique_key, KBP_JOB_KEY_PREFIX "finalize_order:pi_x", KBP_EINVAL);
	BAD(unique_key, "kbp:", KBP_EINVAL);
#undef BAD
	fx_metrics(&f, &after);
	ck_assert_uint_eq(count_kind(&f, kind), 0);
	for (int s = 0; s < KBP_JOB_STATE_COUNT; s++)
		ck_assert_int_eq(after.jobs[s], before.jobs[s]);

	/* The limits themselves are fine. */
	long_kind[KBP_JOB_KIND_MAX] = '\0';
	memcpy(long_kind, kind, strlen(kind));
	free(enqueue(&f, long_kind, NULL, NULL));
	o = good;
	o.priority = KBP_JOB_PRIORITY_MAX;
	o.max_attempts = 1000;
	big[KBP_JOB_PAYLOAD_MAX - 1] = '}';
	big[KBP_JOB_PAYLOAD_MAX] = '\0';
	free(enqueue(&f, kind, big, &o));
	ck_assert_uint_eq(count_kind(&f, kind), 1);
	ck_assert_uint_eq(count_kind(&f, long_kind), 1);
	free(big);
	free(long_kind);
	free(long_key);
	fx_close(&f);
}
END_TEST

START_TEST(unique_key_allows_one_live_job)
{
	fx f;
	const char *kind;
	char *first, *other = NULL, *third, *fourth;
	kbp_enqueue_options eo = KBP_ENQUEUE_OPTIONS_INIT;
	counter c = { 0 };

	fx_open(&f);
	kind = fx_kind(&f, "uniq");
	CK_OK(kbp_job_register(f.p, kind, h_count, &c));
	eo.unique_key = fx_id(&f, "key");
	first = enqueue(&f, kind, NULL, &eo);
	CK_RC(kbp_job_enqueue(&other, f.p, kind, "{\"x\":1}", &eo), KBP_EEXISTS);
	ck_assert_ptr_nonnull(other);
	ck_assert_str_eq(other, first);
	free(other);
	other = NULL;
	CK_RC(kbp_job_enqueue(NULL, f.p, kind, NULL, &eo), KBP_EEXISTS);
	ck_assert_uint_eq(count_kind(&f, kind), 1);

	run_once(&f, FX_WORKER);
	ck_assert_int_eq(atomic_load(&c.calls), 1);
	third = enqueue(&f, kind, NULL, &eo);          /* completed: the key is free */
	ck_assert_str_ne(third, first);
	CK_OK(kbp_job_cancel(f.p, third));
	fourth = enqueue(&f, kind, NULL, &eo);         /* canceled: free too */
	ck_assert_uint_eq(count_kind(&f, kind), 3);
	free(first);
	free(third);
	free(fourth);
	fx_close(&f);
}
END_TEST

START_TEST(register_rules)
{
	fx f;
	const char *kind;
	counter c = { 0 };

	fx_open(&f);
	kind = fx_kind(&f, "reg");
	CK_OK(kbp_job_register(f.p, kind, h_count, &c));
	CK_RC(kbp_job_register(f.p, kind, h_count, &c), KBP_EEXISTS);
	CK_RC(kbp_job_register(f.p, KBP_JOB_FINALIZE_ORDER, h_count, &c), KBP_EEXISTS);
	CK_RC(kbp_job_register(f.p, fx_kind(&f, "null"), NULL, &c), KBP_EINVAL);
	CK_RC(kbp_job_register(f.p, "Bad Kind", h_count, &c), KBP_EINVAL);
	CK_RC(kbp_job_register(f.p, NULL, h_count, &c), KBP_EINVAL);
	CK_RC(kbp_job_register(NULL, kind, h_count, &c), KBP_EINVAL);
	CK_OK(kbp_job_register(f.p, fx_kind(&f, "no-ctx"), h_count, NULL));
	fx_close(&f);
}
END_TEST

START_TEST(handler_runs_and_job_completes)
{
	fx f;
	const char *kind;
	char *id;
	kbp_job *j;
	counter c = { 0 };

	fx_open(&f);
	kind = fx_kind(&f, "ok");
	CK_OK(kbp_job_register(f.p, kind, h_count, &c));
	id = enqueue(&f, kind, "{\"n\":\"one\"}", NULL);
	fx_advance(&f, 10);
	ck_assert_int_ge(run_once(&f, "w-1"), 1);
	ck_assert_int_eq(atomic_load(&c.calls), 1);
	ck_assert_str_eq(c.seen[0], "one");
	ck_assert_int_eq(c.last_attempts, 1);
	ck_assert_int_eq(c.last_state, KBP_JOB_RUNNING);
	ck_assert_str_eq(c.last_locked_by, "w-1");

	j = fx_job_get(&f, id);
	ck_assert_int_eq(j->state, KBP_JOB_COMPLETED);
	ck_assert_int_eq(j->attempts, 1);
	ck_assert_int_eq(j->finished_at, f.start + 10);
	ck_assert_uint_eq(j->n_errors, 0);
	kbp_job_free(j);

	run_once(&f, "w-1");
	ck_assert_int_eq(atomic_load(&c.calls), 1);    /* completed jobs never run again */
	free(id);
	fx_close(&f);
}
END_TEST

START_TEST(priority_then_run_at_then_enqueue_order)
{
	fx f;
	const char *kind;
	counter c = { 0 };
	kbp_enqueue_options eo = KBP_ENQUEUE_OPTIONS_INIT;
	static const char *const expect[] = { "p0", "p10-early", "p10-a", "p10-b", "p50" };

	fx_open(&f);
	kind = fx_kind(&f, "prio");
	CK_OK(kbp_job_register(f.p, kind, h_count, &c));
	eo.priority = 50;
	free(enqueue(&f, kind, "{\"n\":\"p50\"}", &eo));
	eo.priority = 10;
	free(enqueue(&f, kind, "{\"n\":\"p10-a\"}", &eo));
	free(enqueue(&f, kind, "{\"n\":\"p10-b\"}", &eo));
	eo.run_at = fx_now(&f) - 1000;      /* due earlier */
	free(enqueue(&f, kind, "{\"n\":\"p10-early\"}", &eo));
	eo.run_at = 0;
	eo.priority = 0;
	free(enqueue(&f, kind, "{\"n\":\"p0\"}", &eo));

	for (int i = 0; i < 50 && atomic_load(&c.calls) < 5; i++) {
		int ran = 0;
		CK_OK(kbp_worker_run_once(&ran, f.p, FX_WORKER, 1));
	}
	ck_assert_int_eq(c.n_seen, 5);
	for (int i = 0; i < 5; i++)
		ck_assert_str_eq(c.seen[i], expect[i]);
	fx_close(&f);
}
END_TEST

START_TEST(future_job_waits_for_its_time)
{
	fx f;
	const char *kind;
	counter c = { 0 };
	kbp_enqueue_options eo = KBP_ENQUEUE_OPTIONS_INIT;
	char *id;
	kbp_job *j;

	fx_open(&f);
	kind = fx_kind(&f, "later");
	CK_OK(kbp_job_register(f.p, kind, h_count, &c));
	eo.run_at = fx_now(&f) + 60000;
	id = enqueue(&f, kind, NULL, &eo);
	run_once(&f, FX_WORKER);
	fx_advance(&f, 59999);
	run_once(&f, FX_WORKER);
	ck_assert_int_eq(atomic_load(&c.calls), 0);
	j = fx_job_get(&f, id);
	ck_assert_int_eq(j->state, KBP_JOB_AVAILABLE);
	ck_assert_int_eq(j->attempts, 0);
	kbp_job_free(j);
	fx_advance(&f, 1);
	run_once(&f, FX_WORKER);
	ck_assert_int_eq(atomic_load(&c.calls), 1);
	free(id);
	fx_close(&f);
}
END_TEST

/* Fails the job once more and checks run_at = now + min(cap, attempt^4 unit) +/- jitter. */
static int64_t fail_once(fx *f, counter *c, const char *id, int attempt, int64_t unit, int64_t cap,
                         int jitter_pct)
{
	int64_t now = fx_now(f), delay = unit;   /* unit * attempt^4 */
	int calls = atomic_load(&c->calls);
	kbp_job *j;

	for (int i = 0; i < 4; i++)
		delay *= attempt;
	if (delay > cap)
		delay = cap;
	run_once(f, FX_WORKER);
	ck_assert_int_eq(atomic_load(&c->calls), calls + 1);
	j = fx_job_get(f, id);
	ck_assert_int_eq(j->state, KBP_JOB_AVAILABLE);
	ck_assert_int_eq(j->attempts, attempt);
	ck_assert_uint_eq(j->n_errors, (size_t)attempt);
	ck_assert_int_eq(j->errors[attempt - 1].attempt, attempt);
	ck_assert_int_eq(j->errors[attempt - 1].at, now);
	ck_assert_ptr_nonnull(strstr(j->errors[attempt - 1].message, "boom"));
	ck_assert_ptr_nonnull(j->last_error);
	ck_assert_ptr_nonnull(strstr(j->last_error, "boom"));
	if (jitter_pct < 0) {
		ck_assert_int_eq(j->run_at, now + delay);
	} else {
		int64_t slack = delay * jitter_pct / 100 + 1;
		ck_assert_msg(j->run_at >= now + delay - slack && j->run_at <= now + delay + slack,
		              "attempt %d: run_at is now%+lld, expected %lld +/- %lld", attempt,
		              (long long)(j->run_at - now), (long long)delay, (long long)slack);
	}
	{
		int64_t run_at = j->run_at;
		kbp_job_free(j);
		return run_at;
	}
}

START_TEST(retry_backoff_under_test_clock)
{
	fx f;
	const char *kind;
	counter c = { 0 };
	char *id;
	int64_t run_at;
	kbp_job *j;

	open_jobs(&f, 3, 1000, 3600000, 10, 0);
	kind = fx_kind(&f, "flaky");
	c.fail_first = -1;
	CK_OK(kbp_job_register(f.p, kind, h_count, &c));
	id = enqueue(&f, kind, NULL, NULL);

	run_at = fail_once(&f, &c, id, 1, 1000, 3600000, 10);
	fx_set_now(&f, run_at - 1);
	run_once(&f, FX_WORKER);
	ck_assert_int_eq(atomic_load(&c.calls), 1);          /* not before its time */
	fx_set_now(&f, run_at);
	run_at = fail_once(&f, &c, id, 2, 1000, 3600000, 10);   /* 16 s +/- 10 % */
	fx_set_now(&f, run_at - 1);
	run_once(&f, FX_WORKER);
	ck_assert_int_eq(atomic_load(&c.calls), 2);
	fx_set_now(&f, run_at);

	/* Third failure of three: dead. */
	run_once(&f, FX_WORKER);
	ck_assert_int_eq(atomic_load(&c.calls), 3);
	j = fx_job_get(&f, id);
	ck_assert_int_eq(j->state, KBP_JOB_FAILED);
	ck_assert_int_eq(j->attempts, 3);
	ck_assert_uint_eq(j->n_errors, 3);
	ck_assert_int_eq(j->finished_at, run_at);
	ck_assert_str_eq(j->last_error, "boom 3");
	kbp_job_free(j);
	fx_advance(&f, INT64_C(86400000));
	run_once(&f, FX_WORKER);
	ck_assert_int_eq(atomic_load(&c.calls), 3);          /* dead jobs stay dead */
	free(id);
	fx_close(&f);
}
END_TEST

START_TEST(backoff_exact_without_jitter_and_capped)
{
	fx f;
	const char *kind;
	counter c = { 0 };
	char *id;
	int64_t run_at;

	open_jobs(&f, 5, 1000, 5000, -1, 0);
	kind = fx_kind(&f, "capped");
	c.fail_first = -1;
	CK_OK(kbp_job_register(f.p, kind, h_count, &c));
	id = enqueue(&f, kind, NULL, NULL);
	run_at = fail_once(&f, &c, id, 1, 1000, 5000, -1);
	fx_set_now(&f, run_at);
	run_at = fail_once(&f, &c, id, 2, 1000, 5000, -1);     /* 16 s capped at 5 s */
	fx_set_now(&f, run_at);
	fail_once(&f, &c, id, 3, 1000, 5000, -1);
	free(id);
	fx_close(&f);
}
END_TEST

START_TEST(backoff_is_jittered)
{
	fx f;
	const char *kind;
	counter c = { 0 };
	char *ids[20];
	int64_t first = -1;
	int distinct = 0;

	open_jobs(&f, 5, 10000, 3600000, 10, 0);
	kind = fx_kind(&f, "jitter");
	c.fail_first = -1;
	CK_OK(kbp_job_register(f.p, kind, h_count, &c));
	for (int i = 0; i < 20; i++)
		ids[i] = enqueue(&f, kind, NULL, NULL);
	run_once(&f, FX_WORKER);
	ck_assert_int_eq(atomic_load(&c.calls), 20);
	for (int i = 0; i < 20; i++) {
		kbp_job *j = fx_job_get(&f, ids[i]);
		ck_assert_int_ge(j->run_at, fx_now(&f) + 9000 - 1);
		ck_assert_int_le(j->run_at, fx_now(&f) + 11000 + 1);
		if (first < 0)
			first = j->run_at;
		else if (j->run_at != first)
			distinct = 1;
		kbp_job_free(j);
		free(ids[i]);
	}
	ck_assert_msg(distinct, "20 retries all got the same run_at: no jitter");
	fx_close(&f);
}
END_TEST

START_TEST(dead_job_and_manual_retry)
{
	fx f;
	const char *kind;
	counter c = { 0 };
	kbp_enqueue_options eo = KBP_ENQUEUE_OPTIONS_INIT;
	char *id;
	kbp_job *j;

	fx_open(&f);
	kind = fx_kind(&f, "dead");
	c.fail_first = 1;
	CK_OK(kbp_job_register(f.p, kind, h_count, &c));
	eo.max_attempts = 1;
	id = enqueue(&f, kind, NULL, &eo);
	run_once(&f, FX_WORKER);
	j = fx_job_get(&f, id);
	ck_assert_int_eq(j->state, KBP_JOB_FAILED);
	ck_assert_int_eq(j->attempts, 1);
	ck_assert_int_ne(j->finished_at, 0);
	kbp_job_free(j);

	fx_advance(&f, 3000);
	CK_OK(kbp_job_retry(f.p, id));
	j = fx_job_get(&f, id);
	ck_assert_int_eq(j->state, KBP_JOB_AVAILABLE);
	ck_assert_int_eq(j->run_at, fx_now(&f));
	ck_assert_int_eq(j->attempts, 1);
	ck_assert_int_ge(j->max_attempts, 2);
	ck_assert_int_eq(j->finished_at, 0);
	kbp_job_free(j);
	CK_RC(kbp_job_retry(f.p, id), KBP_ESTATE);      /* available */
	ck_state_message(id, "available", "only failed or canceled jobs are retried");

	run_once(&f, FX_WORKER);
	j = fx_job_get(&f, id);
	ck_assert_int_eq(j->state, KBP_JOB_COMPLETED);
	ck_assert_int_eq(j->attempts, 2);
	ck_assert_uint_eq(j->n_errors, 1);               /* history is kept */
	kbp_job_free(j);
	CK_RC(kbp_job_retry(f.p, id), KBP_ESTATE);      /* completed */
	CK_RC(kbp_job_retry(f.p, fx_id(&f, "job_none")), KBP_ENOTFOUND);
	CK_RC(kbp_job_retry(f.p, "job none"), KBP_EINVAL);
	CK_RC(kbp_job_retry(NULL, id), KBP_EINVAL);
	CK_RC(kbp_job_retry(f.p, NULL), KBP_EINVAL);
	free(id);
	fx_close(&f);
}
END_TEST

/* A dead job comes back only while no other live job holds its unique key. */
START_TEST(retry_waits_for_its_unique_key)
{
	fx f;
	const char *kind;
	counter c = { 0 };
	kbp_enqueue_options eo = KBP_ENQUEUE_OPTIONS_INIT;
	char *dead, *live, want[256];
	kbp_job *j;

	fx_open(&f);
	kind = fx_kind(&f, "keyed");
	c.fail_first = 1;
	CK_OK(kbp_job_register(f.p, kind, h_count, &c));
	eo.unique_key = fx_id(&f, "key");
	eo.max_attempts = 1;
	dead = enqueue(&f, kind, NULL, &eo);
	run_once(&f, FX_WORKER);
	live = enqueue(&f, kind, NULL, &eo);
	ck_assert_str_ne(dead, live);

	CK_RC(kbp_job_retry(f.p, dead), KBP_ECONFLICT);
	snprintf(want, sizeof want, "job %s already holds unique key '%s'", live, eo.unique_key);
	ck_assert_str_eq(fx_last_message(), want);
	j = fx_job_get(&f, dead);
	ck_assert_int_eq(j->state, KBP_JOB_FAILED);
	ck_assert_int_eq(j->max_attempts, 1);
	kbp_job_free(j);

	CK_OK(kbp_job_cancel(f.p, live));
	CK_OK(kbp_job_retry(f.p, dead));
	j = fx_job_get(&f, dead);
	ck_assert_int_eq(j->state, KBP_JOB_AVAILABLE);
	ck_assert_int_eq(j->max_attempts, 2);
	kbp_job_free(j);
	free(dead);
	free(live);
	fx_close(&f);
}
END_TEST

START_TEST(no_handler_is_a_failed_attempt)
{
	fx f;
	const char *kind;
	kbp_enqueue_options eo = KBP_ENQUEUE_OPTIONS_INIT;
	char *id, *dead;
	kbp_job *j;

	fx_open(&f);
	kind = fx_kind(&f, "orphan");
	id = enqueue(&f, kind, NULL, NULL);
	eo.max_attempts = 1;
	dead = enqueue(&f, kind, NULL, &eo);
	run_once(&f, FX_WORKER);
	j = fx_job_get(&f, id);
	ck_assert_int_eq(j->state, KBP_JOB_AVAILABLE);
	ck_assert_int_eq(j->attempts, 1);
	ck_assert_ptr_nonnull(j->last_error);
	ck_assert_uint_eq(j->n_errors, 1);
	ck_assert_int_gt(j->run_at, fx_now(&f));
	kbp_job_free(j);
	j = fx_job_get(&f, dead);
	ck_assert_int_eq(j->state, KBP_JOB_FAILED);
	kbp_job_free(j);
	free(id);
	free(dead);
	fx_close(&f);
}
END_TEST

/* Fails with the message in ctx: 200 euro signs (600 bytes), or bytes that are not UTF-8. */
static int h_fail_with(void *ctx, kbp_pipeline *p, const kbp_job *job)
{
	(void)p;
	(void)job;
	return kbp_error_set(KBP_EGATEWAY, "%s", (const char *)ctx);
}

/* A job's last error and its history: the same text, made of whole characters of want. */
static void assert_recorded(const kbp_job *j, const char *want, size_t max_len)
{
	size_t len, unit = strlen(want);

	ck_assert_int_eq(j->state, KBP_JOB_AVAILABLE);
	ck_assert_int_eq(j->attempts, 1);
	ck_assert_ptr_nonnull(j->last_error);
	len = strlen(j->last_error);
	ck_assert_uint_gt(len, 0);
	ck_assert_uint_le(len, max_len);
	ck_assert_uint_eq(len % unit, 0);
	for (size_t i = 0; i < len; i += unit)
		ck_assert_msg(memcmp(j->last_error + i, want, unit) == 0,
		              "byte %zu of the recorded message is not a whole '%s'", i, want);
	ck_assert_uint_eq(j->n_errors, 1);
	ck_assert_str_eq(j->errors[0].message, j->last_error);
}

/*
 * A handler's message too long for an error message is cut between
 * characters, and one that is not UTF-8 keeps its well-formed start: either
 * way the failure is recorded (a database refuses broken UTF-8, and the job
 * would wait for its lease instead).
 */
START_TEST(failure_message_is_whole_utf8)
{
	fx f;
	char euros[601] = "", *cut = "cut\xff\xfe here", *id, *bad;
	const char *kind_long, *kind_bad;
	kbp_job *j;

	for (int i = 0; i < 200; i++)
		strcat(euros, "\xe2\x82\xac");
	fx_open(&f);
	kind_long = fx_kind(&f, "euros");
	kind_bad = fx_kind(&f, "notutf8");
	CK_OK(kbp_job_register(f.p, kind_long, h_fail_with, euros));
	CK_OK(kbp_job_register(f.p, kind_bad, h_fail_with, cut));
	id = enqueue(&f, kind_long, NULL, NULL);
	bad = enqueue(&f, kind_bad, NULL, NULL);
	ck_assert_int_eq(run_once(&f, FX_WORKER), 2);
	j = fx_job_get(&f, id);
	assert_recorded(j, "\xe2\x82\xac", 600);
	kbp_job_free(j);
	j = fx_job_get(&f, bad);
	assert_recorded(j, "cut", 3);
	kbp_job_free(j);
	free(id);
	free(bad);
	fx_close(&f);
}
END_TEST

START_TEST(cancel_rules)
{
	fx f;
	const char *kind;
	counter c = { 0 };
	kbp_enqueue_options eo = KBP_ENQUEUE_OPTIONS_INIT;
	char *avail, *done, *dead;
	kbp_job *j;

	fx_open(&f);
	kind = fx_kind(&f, "cancel");
	c.fail_first = 1;
	CK_OK(kbp_job_register(f.p, kind, h_count, &c));
	eo.max_attempts = 1;
	dead = enqueue(&f, kind, "{\"n\":\"dead\"}", &eo);
	run_once(&f, FX_WORKER);
	done = enqueue(&f, kind, "{\"n\":\"done\"}", NULL);
	run_once(&f, FX_WORKER);
	eo.max_attempts = 0;
	eo.run_at = fx_now(&f) + 1000;
	avail = enqueue(&f, kind, "{\"n\":\"avail\"}", &eo);

	CK_OK(kbp_job_cancel(f.p, avail));
	j = fx_job_get(&f, avail);
	ck_assert_int_eq(j->state, KBP_JOB_CANCELED);
	kbp_job_free(j);
	CK_RC(kbp_job_cancel(f.p, avail), KBP_ESTATE);
	CK_OK(kbp_job_cancel(f.p, dead));
	j = fx_job_get(&f, dead);
	ck_assert_int_eq(j->state, KBP_JOB_CANCELED);
	kbp_job_free(j);
	CK_RC(kbp_job_cancel(f.p, done), KBP_ESTATE);
	ck_state_message(done, "completed", "only available or failed jobs are canceled");
	j = fx_job_get(&f, done);
	ck_assert_int_eq(j->state, KBP_JOB_COMPLETED);
	kbp_job_free(j);
	CK_RC(kbp_job_cancel(f.p, fx_id(&f, "job_none")), KBP_ENOTFOUND);
	CK_RC(kbp_job_cancel(f.p, ""), KBP_EINVAL);
	CK_RC(kbp_job_cancel(NULL, avail), KBP_EINVAL);

	fx_advance(&f, 2000);
	run_once(&f, FX_WORKER);
	ck_assert_int_eq(atomic_load(&c.calls), 2);       /* the canceled job never ran */

	CK_OK(kbp_job_retry(f.p, avail));                  /* canceled -> available */
	run_once(&f, FX_WORKER);
	ck_assert_int_eq(atomic_load(&c.calls), 3);
	ck_assert_str_eq(c.seen[2], "avail");
	free(avail);
	free(done);
	free(dead);
	fx_close(&f);
}
END_TEST

/*
 * A worker takes a job and hangs (its handler blocks on a condition
 * variable). Once the lease passes, the job is rescued - by
 * kbp_jobs_rescue (loop 0), by kbp_maintenance_run (loop 1) or by
 * kbp_jobs_rescue's former name, kbp_jobs_requeue_stale (loop 2) - with
 * the attempt counted; another worker finishes it; the hung worker's late
 * failure must not undo that.
 */
START_TEST(lapsed_lease_is_rescued)
{
	fx f;
	const char *kind;
	blocker b;
	runner r;
	char *id;
	kbp_job *j;
	kbp_metrics m0, m1;
	int64_t acquired;

	open_jobs(&f, 0, 0, 0, 0, 1000);
	kind = fx_kind(&f, "hang");
	blocker_init(&b, 1);
	CK_OK(kbp_job_register(f.p, kind, h_block, &b));
	fx_drain(&f);       /* on a shared store, let no stray due job reach the runner */
	id = enqueue(&f, kind, NULL, NULL);
	fx_metrics(&f, &m0);
	acquired = fx_now(&f);
	runner_start(&r, &f, "crashy");
	blocker_wait_started(&b, 1);

	j = fx_job_get(&f, id);
	ck_assert_int_eq(j->state, KBP_JOB_RUNNING);
	ck_assert_int_eq(j->attempts, 1);
	ck_assert_str_eq(j->locked_by, "crashy");
	ck_assert_int_eq(j->lease_until, acquired + 1000);
	kbp_job_free(j);
	CK_RC(kbp_job_cancel(f.p, id), KBP_ESTATE);       /* running */
	CK_RC(kbp_job_retry(f.p, id), KBP_ESTATE);

	/* Within the lease nothing is stale. */
	fx_advance(&f, 1000);
	CK_OK(kbp_jobs_rescue(NULL, f.p));
	j = fx_job_get(&f, id);
	ck_assert_int_eq(j->state, KBP_JOB_RUNNING);
	kbp_job_free(j);

	fx_advance(&f, 1);
	fx_metrics(&f, &m1);
	ck_assert_int_eq(m1.jobs_stuck - m0.jobs_stuck, 1);
	if (_i != 1) {
		int64_t n = -1;
		CK_OK(_i == 0 ? kbp_jobs_rescue(&n, f.p) : kbp_jobs_requeue_stale(&n, f.p));
		ck_assert_int_ge(n, 1);
	} else {
		kbp_maintenance_result res;
		CK_OK(kbp_maintenance_run(&res, f.p));
		ck_assert_int_eq(res.ran, 1);
		ck_assert_int_ge(res.jobs_rescued, 1);
	}
	j = fx_job_get(&f, id);
	ck_assert_int_eq(j->state, KBP_JOB_AVAILABLE);
	ck_assert_int_eq(j->attempts, 1);
	ck_assert_int_le(j->run_at, fx_now(&f));
	kbp_job_free(j);
	fx_metrics(&f, &m1);
	ck_assert_int_eq(m1.jobs_stuck, m0.jobs_stuck);
	ck_assert_int_eq(m1.jobs_rescued_last_hour - m0.jobs_rescued_last_hour, 1);

	run_once(&f, "rescuer");
	ck_assert_int_eq(atomic_load(&b.calls), 2);
	j = fx_job_get(&f, id);
	ck_assert_int_eq(j->state, KBP_JOB_COMPLETED);
	ck_assert_int_eq(j->attempts, 2);
	kbp_job_free(j);

	blocker_release(&b);
	runner_join(&r);
	j = fx_job_get(&f, id);
	ck_assert_int_eq(j->state, KBP_JOB_COMPLETED);
	ck_assert_int_eq(j->attempts, 2);
	kbp_job_free(j);
	ck_assert_int_eq(atomic_load(&b.calls), 2);
	free(id);
	fx_close(&f);
}
END_TEST

START_TEST(lapsed_lease_with_no_attempts_left_is_dead)
{
	fx f;
	const char *kind;
	blocker b;
	runner r;
	char *id;
	kbp_job *j;
	kbp_enqueue_options eo = KBP_ENQUEUE_OPTIONS_INIT;

	open_jobs(&f, 0, 0, 0, 0, 1000);
	kind = fx_kind(&f, "hang1");
	blocker_init(&b, 1);
	CK_OK(kbp_job_register(f.p, kind, h_block, &b));
	fx_drain(&f);
	eo.max_attempts = 1;
	id = enqueue(&f, kind, NULL, &eo);
	runner_start(&r, &f, "crashy");
	blocker_wait_started(&b, 1);
	fx_advance(&f, 1001);
	CK_OK(kbp_jobs_rescue(NULL, f.p));
	j = fx_job_get(&f, id);
	ck_assert_int_eq(j->state, KBP_JOB_FAILED);
	ck_assert_int_eq(j->attempts, 1);
	kbp_job_free(j);
	blocker_release(&b);
	runner_join(&r);
	run_once(&f, FX_WORKER);
	j = fx_job_get(&f, id);
	ck_assert_int_eq(j->state, KBP_JOB_FAILED);
	kbp_job_free(j);
	ck_assert_int_eq(atomic_load(&b.calls), 1);
	free(id);
	fx_close(&f);
}
END_TEST

START_TEST(jobs_list_filters_and_pages)
{
	fx f;
	const char *a, *b;
	char *ids[5];
	counter c = { 0 };
	kbp_job_filter flt = KBP_JOB_FILTER_INIT;
	kbp_job_list *l = NULL;
	kbp_enqueue_options later = KBP_ENQUEUE_OPTIONS_INIT;
	char *cursor = NULL;
	int seen = 0;

	fx_open(&f);
	a = fx_kind(&f, "list-a");
	b = fx_kind(&f, "list-b");
	CK_OK(kbp_job_register(f.p, b, h_count, &c));
	later.run_at = fx_now(&f) + INT64_C(86400000);
	for (int i = 0; i < 5; i++) {
		ids[i] = enqueue(&f, a, NULL, &later);
		fx_advance(&f, 1);
	}
	free(enqueue(&f, b, NULL, NULL));
	fx_advance(&f, 1);
	free(enqueue(&f, b, NULL, NULL));
	run_once(&f, FX_WORKER);
	ck_assert_int_eq(atomic_load(&c.calls), 2);

	flt.kind = a;
	CK_OK(kbp_jobs_list(&l, f.p, &flt));
	ck_assert_uint_eq(l->n, 5);
	for (int i = 0; i < 5; i++)
		ck_assert_str_eq(l->jobs[i].id, ids[4 - i]);   /* newest first */
	ck_assert_ptr_null(l->next_after);
	kbp_job_list_free(l);

	flt.limit = 2;
	for (int page = 0; page < 5; page++) {
		flt.after = cursor;
		CK_OK(kbp_jobs_list(&l, f.p, &flt));
		ck_assert_uint_le(l->n, 2);
		for (size_t i = 0; i < l->n; i++, seen++)
			ck_assert_str_eq(l->jobs[i].id, ids[4 - seen]);
		free(cursor);
		cursor = l->next_after ? strdup(l->next_after) : NULL;
		kbp_job_list_free(l);
		if (!cursor)
			break;
	}
	ck_assert_int_eq(seen, 5);
	ck_assert_ptr_null(cursor);

	flt.after = NULL;
	flt.limit = 0;
	flt.state = KBP_JOB_AVAILABLE;
	CK_OK(kbp_jobs_list(&l, f.p, &flt));
	ck_assert_uint_eq(l->n, 5);
	kbp_job_list_free(l);
	flt.state = KBP_JOB_COMPLETED;
	CK_OK(kbp_jobs_list(&l, f.p, &flt));
	ck_assert_uint_eq(l->n, 0);
	kbp_job_list_free(l);
	flt.kind = b;
	CK_OK(kbp_jobs_list(&l, f.p, &flt));
	ck_assert_uint_eq(l->n, 2);
	ck_assert_int_eq(l->jobs[0].state, KBP_JOB_COMPLETED);
	kbp_job_list_free(l);
	flt.state = KBP_JOB_AVAILABLE;
	CK_OK(kbp_jobs_list(&l, f.p, &flt));
	ck_assert_uint_eq(l->n, 0);
	kbp_job_list_free(l);

	flt.state = -1;
	flt.kind = a;
	flt.since = f.start + 3;
	CK_OK(kbp_jobs_list(&l, f.p, &flt));
	ck_assert_uint_eq(l->n, 2);
	ck_assert_str_eq(l->jobs[0].id, ids[4]);
	ck_assert_str_eq(l->jobs[1].id, ids[3]);
	kbp_job_list_free(l);
	for (int i = 0; i < 5; i++)
		free(ids[i]);
	fx_close(&f);
}
END_TEST

START_TEST(jobs_list_and_get_bad_input)
{
	fx f;
	kbp_job_filter good = KBP_JOB_FILTER_INIT, flt;
	kbp_job_list *l = (kbp_job_list *)&l;
	kbp_job *j = (kbp_job *)&j;

	fx_open(&f);
	CK_RC(kbp_jobs_list(&l, NULL, &good), KBP_EINVAL);
	ck_assert_ptr_null(l);
	CK_RC(kbp_jobs_list(NULL, f.p, &good), KBP_EINVAL);
	flt = good; flt.version = 3;
	CK_RC(kbp_jobs_list(&l, f.p, &flt), KBP_EVERSION);
	flt = good; flt.limit = KBP_JOB_LIST_MAX + 1;
	CK_RC(kbp_jobs_list(&l, f.p, &flt), KBP_EINVAL);
	flt = good; flt.state = KBP_JOB_STATE_COUNT;
	CK_RC(kbp_jobs_list(&l, f.p, &flt), KBP_EINVAL);
	flt = good; flt.state = -2;
	CK_RC(kbp_jobs_list(&l, f.p, &flt), KBP_EINVAL);
	flt = good; flt.kind = "Not A Kind";
	CK_RC(kbp_jobs_list(&l, f.p, &flt), KBP_EINVAL);
	flt = good; flt.limit = KBP_JOB_LIST_MAX;
	CK_OK(kbp_jobs_list(&l, f.p, &flt));
	kbp_job_list_free(l);

	CK_RC(kbp_job_get(&j, f.p, fx_id(&f, "job_none")), KBP_ENOTFOUND);
	ck_assert_ptr_null(j);
	CK_RC(kbp_job_get(&j, f.p, "job none"), KBP_EINVAL);
	CK_RC(kbp_job_get(&j, f.p, NULL), KBP_EINVAL);
	CK_RC(kbp_job_get(NULL, f.p, "job_x"), KBP_EINVAL);
	CK_RC(kbp_job_get(&j, NULL, "job_x"), KBP_EINVAL);
	CK_RC(kbp_jobs_rescue(NULL, NULL), KBP_EINVAL);
	CK_RC(kbp_jobs_requeue_stale(NULL, NULL), KBP_EINVAL);
	fx_close(&f);
}
END_TEST

START_TEST(worker_bad_input)
{
	fx f;
	kbp_worker *w = (kbp_worker *)&w;
	kbp_worker_options good = KBP_WORKER_OPTIONS_INIT, o;
	int ran = -5;

	fx_open(&f);
	CK_RC(kbp_worker_run_once(&ran, f.p, FX_WORKER, 0), KBP_EINVAL);
	CK_RC(kbp_worker_run_once(&ran, f.p, FX_WORKER, -1), KBP_EINVAL);
	CK_RC(kbp_worker_run_once(&ran, f.p, FX_WORKER, 1001), KBP_EINVAL);
	CK_RC(kbp_worker_run_once(&ran, f.p, NULL, 1), KBP_EINVAL);
	CK_RC(kbp_worker_run_once(&ran, f.p, "worker 1", 1), KBP_EINVAL);
	CK_RC(kbp_worker_run_once(&ran, NULL, FX_WORKER, 1), KBP_EINVAL);
	CK_OK(kbp_worker_run_once(NULL, f.p, FX_WORKER, 1000));

	CK_RC(kbp_worker_start(&w, NULL, &good), KBP_EINVAL);
	ck_assert_ptr_null(w);
	CK_RC(kbp_worker_start(NULL, f.p, &good), KBP_EINVAL);
#define BAD(field, value, code) do { o = good; o.field = value; w = (kbp_worker *)&w; CK_RC(kbp_worker_start(&w, f.p, &o), code); ck_assert_ptr_null(w); } while (0)
	BAD(version, 2, KBP_EVERSION);
	BAD(threads, -1, KBP_EINVAL);
	BAD(threads, 65, KBP_EINVAL);
	BAD(batch, -1, KBP_EINVAL);
	BAD(batch, 1001, KBP_EINVAL);
	BAD(poll_ms, -1, KBP_EINVAL);
	BAD(name, "bad name", KBP_EINVAL);
#undef BAD
	o = good;
	o.threads = 2;
	o.poll_ms = 10;
	CK_OK(kbp_worker_start(&w, f.p, &o));
	ck_assert_ptr_nonnull(w);
	kbp_worker_stop(w);
	kbp_worker_stop(NULL);
	fx_close(&f);
}
END_TEST

/*
 * A payload is a JSON object, not a byte string: every backend refuses what
 * one of them could not store as given (NUL in a string, a key twice, a
 * number beyond a double), and hands back an equal object.
 */
START_TEST(payload_is_a_json_object_on_every_backend)
{
	static const char *const refused[][2] = {
		{ "{\"a\":\"x\\u0000y\"}", "NUL" },
		{ "{\"k\\u0000\":1}", "NUL" },
		{ "{\"a\":[1,{\"b\":\"\\u0000\"}]}", "NUL" },
		{ "{\"a\":1,\"a\":2}", "\"a\" twice" },
		{ "{\"a\":1,\"b\":2,\"a\":1}", "\"a\" twice" },
		{ "{\"o\":[{\"x\":{\"b\":true,\"c\":null,\"b\":false}}]}", "\"b\" twice" },
		{ "{\"n\":1e400}", "too large" },
		{ "{\"n\":[-1e400]}", "too large" },
	};
	static const char *const kept[] = {
		"{\"a\":\"\\\\u0000\"}",            /* a backslash, then the text u0000 */
		"{\"a\":{\"a\":1},\"b\":[{\"a\":2},{\"a\":3}]}",
		"{\"z\":1,\"y\":{\"x\":\"\\u00e9\\\"\"},\"n\":1e300}",
	};
	fx f;
	const char *kind;
	char *id = (char *)&id;

	fx_open(&f);
	kind = fx_kind(&f, "payload");
	for (size_t i = 0; i < sizeof refused / sizeof refused[0]; i++) {
		CK_RC(kbp_job_enqueue(&id, f.p, kind, refused[i][0], NULL), KBP_EINVAL);
		ck_assert_ptr_null(id);
		ck_assert_msg(strstr(fx_last_message(), refused[i][1]) != NULL,
		              "%s: \"%s\" does not say \"%s\"", refused[i][0], fx_last_message(),
		              refused[i][1]);
	}
	ck_assert_uint_eq(count_kind(&f, kind), 0);
	for (size_t i = 0; i < sizeof kept / sizeof kept[0]; i++) {
		kbp_job *j;
		cJSON *want = cJSON_Parse(kept[i]), *got;

		id = enqueue(&f, kind, kept[i], NULL);
		j = fx_job_get(&f, id);
		got = cJSON_Parse(j->payload);
		ck_assert_msg(cJSON_Compare(want, got, 1), "%s came back as %s", kept[i], j->payload);
		cJSON_Delete(want);
		cJSON_Delete(got);
		kbp_job_free(j);
		free(id);
	}
	ck_assert_uint_eq(count_kind(&f, kind), sizeof kept / sizeof kept[0]);
	fx_close(&f);
}
END_TEST

#define MESSAGE_HAS(part) \
	ck_assert_msg(strstr(fx_last_message(), (part)) != NULL, "\"%s\" lacks \"%s\"", \
	              fx_last_message(), (part))

static kbp_job_spec job_spec(const char *kind, const char *payload, const char *unique_key)
{
	kbp_job_spec spec = KBP_JOB_SPEC_INIT;

	spec.kind = kind;
	spec.payload_json = payload;
	spec.options.unique_key = unique_key;
	return spec;
}

static void free_ids(char **ids, size_t n)
{
	for (size_t i = 0; i < n; i++)
		kbp_free(ids[i]);
	kbp_free(ids);
}

/* Ids come back in the batch's order, each for a job that runs with its own payload and options. */
START_TEST(batch_enqueue_returns_ids_in_order_and_jobs_run)
{
	kbp_job_spec specs[5];
	counter c = { 0 };
	char payload[5][32];
	char **ids = NULL;
	size_t created = 99;
	const char *kind;
	fx f;

	fx_open(&f);
	kind = fx_kind(&f, "batch");
	CK_OK(kbp_job_register(f.p, kind, h_count, &c));
	for (int i = 0; i < 5; i++) {
		snprintf(payload[i], sizeof(payload[i]), "{\"n\":\"%d\"}", i);
		specs[i] = job_spec(kind, payload[i], NULL);
		specs[i].options.priority = 10;
	}
	specs[3].options.priority = 0;
	specs[4].options.max_attempts = 7;
	CK_OK(kbp_jobs_enqueue(&ids, &created, f.p, specs, 5));
	ck_assert_uint_eq(created, 5);
	for (int i = 0; i < 5; i++) {
		kbp_job *j = fx_job_get(&f, ids[i]);
		ck_assert_str_eq(j->kind, kind);
		ck_assert_ptr_nonnull(strstr(j->payload, payload[i] + 6));
		ck_assert_int_eq(j->state, KBP_JOB_AVAILABLE);
		ck_assert_int_eq(j->priority, i == 3 ? 0 : 10);
		ck_assert_int_eq(j->run_at, fx_now(&f));
		if (i == 4)
			ck_assert_int_eq(j->max_attempts, 7);
		kbp_job_free(j);
	}
	ck_assert_uint_eq(count_kind(&f, kind), 5);
	ck_assert_int_eq(run_once(&f, FX_WORKER), 5);
	ck_assert_int_eq(atomic_load(&c.calls), 5);
	ck_assert_int_eq(c.n_seen, 5);
	ck_assert_str_eq(c.seen[0], "3");             /* priority 0 first, then enqueue order */
	ck_assert_str_eq(c.seen[1], "0");
	ck_assert_str_eq(c.seen[4], "4");
	free_ids(ids, 5);
	fx_close(&f);
}
END_TEST

/*
 * The unique_key rule of kbp_job_enqueue, per job: a key held by a live job,
 * or by a job earlier in the same batch, answers with that job's id.
 */
START_TEST(batch_enqueue_keeps_unique_keys)
{
	kbp_job_spec specs[5];
	char *held, *k1, *k2, **ids = NULL;
	size_t created = 0;
	const char *kind;
	fx f;

	fx_open(&f);
	kind = fx_kind(&f, "batchuniq");
	k1 = strdup(fx_id(&f, "k1"));
	k2 = strdup(fx_id(&f, "k2"));
	specs[0] = job_spec(kind, NULL, NULL);
	specs[0].options.unique_key = k1;
	held = enqueue(&f, kind, NULL, &specs[0].options);
	specs[0] = job_spec(kind, "{\"n\":\"a\"}", k1);     /* held before the batch */
	specs[1] = job_spec(kind, "{\"n\":\"b\"}", k2);     /* new */
	specs[2] = job_spec(kind, "{\"n\":\"c\"}", NULL);   /* no key */
	specs[3] = job_spec(kind, "{\"n\":\"d\"}", k2);     /* held by specs[1] */
	specs[4] = job_spec(kind, "{\"n\":\"e\"}", k1);
	CK_OK(kbp_jobs_enqueue(&ids, &created, f.p, specs, 5));
	ck_assert_uint_eq(created, 2);
	ck_assert_str_eq(ids[0], held);
	ck_assert_str_ne(ids[1], held);
	ck_assert_str_ne(ids[2], ids[1]);
	ck_assert_str_eq(ids[3], ids[1]);
	ck_assert_str_eq(ids[4], held);
	ck_assert_uint_eq(count_kind(&f, kind), 3);
	free_ids(ids, 5);

	/* Once the holder is no longer live, the key is free again. */
	CK_OK(kbp_job_cancel(f.p, held));
	CK_OK(kbp_jobs_enqueue(&ids, &created, f.p, specs, 1));
	ck_assert_uint_eq(created, 1);
	ck_assert_str_ne(ids[0], held);
	ck_assert_uint_eq(count_kind(&f, kind), 4);
	free_ids(ids, 1);
	free(held);
	free(k1);
	free(k2);
	fx_close(&f);
}
END_TEST

/* One bad job refuses the batch, names its index and writes nothing. */
START_TEST(batch_enqueue_bad_input_writes_nothing)
{
	kbp_job_spec specs[3], *many;
	char **ids = (char **)&ids;
	size_t created = 99;
	const char *kind;
	fx f;

	fx_open(&f);
	kind = fx_kind(&f, "batchbad");
	for (int i = 0; i < 3; i++)
		specs[i] = job_spec(kind, NULL, NULL);

	specs[2].options.priority = KBP_JOB_PRIORITY_MAX + 1;
	CK_RC(kbp_jobs_enqueue(&ids, &created, f.p, specs, 3), KBP_EINVAL);
	ck_assert_ptr_null(ids);
	ck_assert_uint_eq(created, 0);
	MESSAGE_HAS("jobs[2]: ");
	MESSAGE_HAS("priority");
	specs[2].options.priority = 0;
	specs[1].payload_json = "[1]";
	CK_RC(kbp_jobs_enqueue(&ids, NULL, f.p, specs, 3), KBP_EPARSE);
	MESSAGE_HAS("jobs[1]: ");
	specs[1].payload_json = NULL;
	specs[0].kind = "Upper";
	CK_RC(kbp_jobs_enqueue(&ids, NULL, f.p, specs, 3), KBP_EINVAL);
	MESSAGE_HAS("jobs[0]: ");
	specs[0].kind = kind;
	specs[1].version = 99;
	CK_RC(kbp_jobs_enqueue(&ids, NULL, f.p, specs, 3), KBP_EVERSION);
	MESSAGE_HAS("jobs[1]: ");
	specs[1].version = KBP_JOB_SPEC_VERSION;
	specs[2].options.unique_key = KBP_JOB_KEY_PREFIX "reconcile_payment:pi_x";
	CK_RC(kbp_jobs_enqueue(&ids, NULL, f.p, specs, 3), KBP_EINVAL);
	MESSAGE_HAS("jobs[2]: ");
	MESSAGE_HAS("library's own");
	specs[2].options.unique_key = NULL;

	CK_RC(kbp_jobs_enqueue(&ids, NULL, NULL, specs, 3), KBP_EINVAL);
	CK_RC(kbp_jobs_enqueue(&ids, NULL, f.p, NULL, 3), KBP_EINVAL);
	ck_assert_ptr_null(ids);
	many = calloc(KBP_JOBS_ENQUEUE_MAX + 1, sizeof(*many));
	ck_assert_ptr_nonnull(many);
	for (size_t i = 0; i <= KBP_JOBS_ENQUEUE_MAX; i++)
		many[i] = job_spec(kind, NULL, NULL);
	CK_RC(kbp_jobs_enqueue(&ids, NULL, f.p, many, KBP_JOBS_ENQUEUE_MAX + 1), KBP_ETOOBIG);
	MESSAGE_HAS("10000");
	free(many);
	ck_assert_uint_eq(count_kind(&f, kind), 0);

	/* Empty: nothing to do, and an array to free all the same. */
	CK_OK(kbp_jobs_enqueue(&ids, &created, f.p, NULL, 0));
	ck_assert_ptr_nonnull(ids);
	ck_assert_uint_eq(created, 0);
	kbp_free(ids);
	CK_OK(kbp_jobs_enqueue(NULL, NULL, f.p, specs, 3));
	ck_assert_uint_eq(count_kind(&f, kind), 3);
	fx_close(&f);
}
END_TEST

void add_jobs_tests(Suite *s)
{
	TCase *tc = fx_tcase("jobs");
	tcase_add_test(tc, enqueue_and_get);
	tcase_add_test(tc, enqueue_bad_input_writes_nothing);
	tcase_add_test(tc, unique_key_allows_one_live_job);
	tcase_add_test(tc, register_rules);
	tcase_add_test(tc, handler_runs_and_job_completes);
	tcase_add_test(tc, priority_then_run_at_then_enqueue_order);
	tcase_add_test(tc, future_job_waits_for_its_time);
	tcase_add_test(tc, retry_backoff_under_test_clock);
	tcase_add_test(tc, backoff_exact_without_jitter_and_capped);
	tcase_add_test(tc, backoff_is_jittered);
	tcase_add_test(tc, dead_job_and_manual_retry);
	tcase_add_test(tc, retry_waits_for_its_unique_key);
	tcase_add_test(tc, no_handler_is_a_failed_attempt);
	tcase_add_test(tc, failure_message_is_whole_utf8);
	tcase_add_test(tc, cancel_rules);
	tcase_add_loop_test(tc, lapsed_lease_is_rescued, 0, 3);
	tcase_add_test(tc, lapsed_lease_with_no_attempts_left_is_dead);
	tcase_add_test(tc, jobs_list_filters_and_pages);
	tcase_add_test(tc, jobs_list_and_get_bad_input);
	tcase_add_test(tc, worker_bad_input);
	tcase_add_test(tc, payload_is_a_json_object_on_every_backend);
	tcase_add_test(tc, batch_enqueue_returns_ids_in_order_and_jobs_run);
	tcase_add_test(tc, batch_enqueue_keeps_unique_keys);
	tcase_add_test(tc, batch_enqueue_bad_input_writes_nothing);
	suite_add_tcase(s, tc);
}
