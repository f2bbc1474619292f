/* SPDX-License-Identifier: MIT */
/*
 * The storage registry seen from outside the library: unknown schemes,
 * registration arguments, schemes registered once, versions and slots the
 * library refuses, and the counting backend's counters, which move only if
 * a pipeline's calls go through the backend its URI names.
 */
#include <pthread.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "../conformance/fixture.h"
#include "counting.h"
#include "registry_tests.h"

static int64_t mono_ms(void)
{
	struct timespec t;

	clock_gettime(CLOCK_MONOTONIC, &t);
	return (int64_t)t.tv_sec * 1000 + t.tv_nsec / 1000000;
}

static int open_rc(const char *uri)
{
	kbp_options o = KBP_OPTIONS_INIT;
	kbp_pipeline *p = (kbp_pipeline *)&o;
	int rc;

	o.storage = uri;
	rc = kbp_pipeline_open(&p, &o);
	if (rc == 0)
		kbp_pipeline_close(p);
	else
		ck_assert_ptr_null(p);
	return rc;
}

/* The fixture takes its storage from KBP_TEST_STORAGE. */
static void open_on(fx *f, const char *uri)
{
	const char *prev = getenv("KBP_TEST_STORAGE");
	char *keep = prev ? strdup(prev) : NULL;

	ck_assert_int_eq(setenv("KBP_TEST_STORAGE", uri, 1), 0);
	fx_open(f);
	if (keep)
		setenv("KBP_TEST_STORAGE", keep, 1);
	else
		unsetenv("KBP_TEST_STORAGE");
	free(keep);
}

#define CK_MESSAGE_HAS(needle) \
	ck_assert_msg(strstr(fx_last_message(), (needle)), "message \"%s\" lacks \"%s\"", \
	              fx_last_message(), (needle))
#define CK_MESSAGE_LACKS(needle) \
	ck_assert_msg(!strstr(fx_last_message(), (needle)), "message \"%s\" has \"%s\"", \
	              fx_last_message(), (needle))

static const char *storage_name_of(const char *uri)
{
	static char name[32];
	kbp_options o = KBP_OPTIONS_INIT;
	kbp_pipeline *p = NULL;

	o.storage = uri;
	CK_OK(kbp_pipeline_open(&p, &o));
	snprintf(name, sizeof(name), "%s", kbp_pipeline_storage_name(p));
	kbp_pipeline_close(p);
	return name;
}

/* Whether this build registered "sqlite" (its backend is a build option). */
static int sqlite_built(void)
{
	open_rc("sqlite:");
	return strstr(kbp_error_last()->message, "no storage backend") == NULL;
}

START_TEST(unknown_scheme_named_not_the_uri)
{
	const char *uri = "mysql://shop:hunter2@db/shop";
	int sqlite = sqlite_built();

	CK_RC(open_rc(uri), KBP_EINVAL);
	CK_MESSAGE_HAS("\"mysql\"");
	CK_MESSAGE_HAS(sqlite ? "(registered: memory, sqlite, postgresql, postgres, counting, broken)"
	                      : "(registered: memory, postgresql, postgres, counting, broken)");
	CK_MESSAGE_LACKS("hunter2");
	CK_RC(kbp_migrate(NULL, uri, NULL), KBP_EINVAL);
	CK_MESSAGE_HAS("\"mysql\"");
	CK_MESSAGE_LACKS("hunter2");

	/* Schemes are matched exactly, as registered. */
	CK_RC(open_rc("MEMORY:"), KBP_EINVAL);
	CK_MESSAGE_HAS("\"MEMORY\"");
	CK_RC(open_rc("hunter2 at db"), KBP_EINVAL);
	CK_MESSAGE_HAS("has no scheme");
	CK_MESSAGE_LACKS("hunter2");

	ck_assert_str_eq(storage_name_of(NULL), "memory");
	ck_assert_str_eq(storage_name_of(""), "memory");
	ck_assert_str_eq(storage_name_of("memory:"), "memory");
	ck_assert_str_eq(storage_name_of("counting:"), "counting");
}
END_TEST

static int memory_too(kbp_storage **out, const char *uri, const kbp_storage_open_options *opts)
{
	(void)uri;
	ck_assert_uint_eq(opts->version, KBP_STORAGE_OPEN_OPTIONS_VERSION);
	return kbp_storage_memory_open(out, NULL);
}

START_TEST(register_refuses_bad_arguments)
{
	static const char *const bad[] = {
		"", "Memory2", "mem2:", "9lives", "a b", "a_b", "abcdefghijklmnopqrstuvwxyzabcdefg",
	};

	CK_RC(kbp_storage_register(NULL, memory_too), KBP_EINVAL);
	CK_MESSAGE_HAS("scheme is NULL");
	CK_RC(kbp_storage_register("nofn", NULL), KBP_EINVAL);
	CK_MESSAGE_HAS("\"nofn\" has no open function");
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		CK_RC(kbp_storage_register(bad[i], memory_too), KBP_EINVAL);
		CK_MESSAGE_HAS("lower-case letter");
	}
	CK_RC(open_rc("nofn:"), KBP_EINVAL);

	/* 32 characters, every kind the grammar allows. */
	CK_OK(kbp_storage_register("m0+-.abcdefghijklmnopqrstuvwxyza", memory_too));
	ck_assert_str_eq(storage_name_of("m0+-.abcdefghijklmnopqrstuvwxyza:x"), "memory");
}
END_TEST

START_TEST(scheme_registered_once)
{
	CK_RC(kbp_storage_register("memory", memory_too), KBP_EEXISTS);
	CK_MESSAGE_HAS("\"memory\" is already registered");
	CK_RC(kbp_storage_register("postgresql", memory_too), KBP_EEXISTS);
	CK_RC(kbp_storage_register("postgres", memory_too), KBP_EEXISTS);
	CK_RC(kbp_storage_register("counting", memory_too), KBP_EEXISTS);
	/* The same function again changes nothing. */
	CK_OK(counting_register());
	ck_assert_str_eq(storage_name_of("memory:"), "memory");
	ck_assert_str_eq(storage_name_of("counting:"), "counting");
}
END_TEST

/* Registers two schemes of its own and opens a pipeline on each; NULL when all went well. */
static void *register_and_open(void *arg)
{
	for (int k = 0; k < 2; k++) {
		kbp_options o = KBP_OPTIONS_INIT;
		kbp_pipeline *p = NULL;
		char uri[32];
		int ok;

		snprintf(uri, sizeof(uri), "thread%ld-%d", (long)(intptr_t)arg, k);
		if (kbp_storage_register(uri, memory_too) != 0)
			return "register";
		strcat(uri, ":");
		o.storage = uri;
		if (kbp_pipeline_open(&p, &o) != 0)
			return "open";
		ok = strcmp(kbp_pipeline_storage_name(p), "memory") == 0;
		kbp_pipeline_close(p);
		if (!ok)
			return "storage name";
	}
	return NULL;
}

START_TEST(registry_is_thread_safe)
{
	pthread_t t[8];
	void *failed;

	for (long i = 0; i < 8; i++)
		ck_assert_int_eq(pthread_create(&t[i], NULL, register_and_open, (void *)(intptr_t)i), 0);
	for (int i = 0; i < 8; i++) {
		ck_assert_int_eq(pthread_join(t[i], &failed), 0);
		ck_assert_msg(!failed, "thread %d: %s failed", i, (const char *)failed);
	}
	ck_assert_str_eq(storage_name_of("thread7-1:"), "memory");
}
END_TEST

/* The registry holds 32 schemes, the built-in ones included. */
START_TEST(registry_is_bounded)
{
	char scheme[16];
	int n = 0, rc;

	for (;;) {
		snprintf(scheme, sizeof(scheme), "full%d", n);
		if ((rc = kbp_storage_register(scheme, memory_too)) != 0)
			break;
		n++;
	}
	CK_RC(rc, KBP_ETOOBIG);
	CK_MESSAGE_HAS("no more than 32 storage schemes");
	/* memory, sqlite (when built), postgresql, postgres, counting and broken came first. */
	ck_assert_int_eq(n, 32 - 5 - sqlite_built());
	ck_assert_str_eq(storage_name_of("full0:"), "memory");
	ck_assert_str_eq(storage_name_of("counting:"), "counting");
}
END_TEST

/* broken:<how>: a counting store with one thing wrong, or an open that goes wrong. */
static int broken_open(kbp_storage **out, const char *uri, const kbp_storage_open_options *opts)
{
	const char *how = uri + strlen("broken:");
	kbp_storage *s;
	int rc;

	if (strcmp(how, "fail") == 0)
		return kbp_error_set(KBP_ESTORAGE, "the broken store is down");
	if (strcmp(how, "nothing") == 0)
		return 0;
	if ((rc = counting_open(&s, strncmp(how, "version=", 8) == 0 ? "counting:v1" : "counting:",
	                        opts)))
		return rc;
	if (strncmp(how, "version=", 8) == 0)
		s->version = (unsigned int)atoi(how + 8);
	else if (strcmp(how, "noname") == 0)
		s->name = NULL;
	else if (strcmp(how, "lacks=metrics") == 0)
		s->metrics = NULL;
	else if (strcmp(how, "lacks=completes") == 0) {
		s->job_complete = NULL;
		s->jobs_complete = NULL;
	}
	else if (strcmp(how, "lacks=txn_commit") == 0)
		s->txn_commit = NULL;
	else if (strcmp(how, "lacks=steps") == 0) {
		s->txn_begin = NULL;
		s->txn_commit = NULL;
		s->txn_rollback = NULL;
		s->facts_read = NULL;
		s->changes_apply = NULL;
	}
	else if (strcmp(how, "lacks=notify") == 0)
		s->notify = NULL;
	else if (strcmp(how, "lacks=wait") == 0)
		s->wait = NULL;
	*out = s;
	return 0;
}

int broken_register(void)
{
	return kbp_storage_register("broken", broken_open);
}

/* The library refuses the store with code and message, and frees it. */
static void refused(const char *uri, int code, const char *message)
{
	unsigned long freed = counting_calls(COUNTING_free);

	CK_RC(open_rc(uri), code);
	CK_MESSAGE_HAS(message);
	ck_assert_uint_eq(counting_calls(COUNTING_free), freed + 1);
}

START_TEST(version_checked)
{
	char newer[32];

	refused("broken:version=0", KBP_EVERSION,
	        "the \"broken\" storage backend's interface version 0 is not supported");
	snprintf(newer, sizeof(newer), "broken:version=%u", KBP_STORAGE_VERSION + 1);
	refused(newer, KBP_EVERSION, "is not supported");
	ck_assert_str_eq(storage_name_of("broken:version=1"), "counting");
}
END_TEST

START_TEST(required_slots_checked)
{
	refused("broken:noname", KBP_EINVAL, "the \"broken\" storage backend has no name");
	refused("broken:lacks=metrics", KBP_EINVAL, "the \"broken\" storage backend lacks metrics");
	refused("broken:lacks=completes", KBP_EINVAL, "lacks job_complete (or jobs_complete)");
	refused("broken:lacks=txn_commit", KBP_EINVAL,
	        "lacks part of the records slots (it has some of txn_begin, txn_commit, "
	        "txn_rollback, facts_read and changes_apply, not all)");
	/* Without records, the pipeline's steps are the backend's own to provide. */
	refused("broken:lacks=steps", KBP_EINVAL, "lacks cart_set_item");
	refused("broken:lacks=notify", KBP_EINVAL, "lacks notify (it has wait)");
	refused("broken:lacks=wait", KBP_EINVAL, "lacks wait (it has notify)");
	CK_RC(open_rc("broken:nothing"), KBP_ESTORAGE);
	CK_MESSAGE_HAS("the \"broken\" storage backend opened no storage");
	CK_RC(open_rc("broken:fail"), KBP_ESTORAGE);
	CK_MESSAGE_HAS("the broken store is down");
}
END_TEST

typedef struct snapshot {
	unsigned long n[COUNTING_N];
} snapshot;

static snapshot take(void)
{
	snapshot s;

	for (int i = 0; i < COUNTING_N; i++)
		s.n[i] = counting_calls((counting_slot)i);
	return s;
}

#define MOVED(before, slot) (counting_calls(COUNTING_##slot) - (before).n[COUNTING_##slot])

START_TEST(calls_go_through_the_backend)
{
	snapshot before = take();
	kbp_intent *in;
	kbp_order *o;
	fx f;

	open_on(&f, "counting:");
	ck_assert_str_eq(kbp_pipeline_storage_name(f.p), "counting");
	in = fx_paid_intent(&f, fx_product(&f, "tea", 25000, 3), 2);
	ck_assert_int_eq(fx_drain(&f), 1);
	o = fx_order_of(&f, in->id);
	ck_assert_ptr_nonnull(o);
	ck_assert_int_eq(fx_on_hand(&f, o->items[0].sku), 1);

	ck_assert_uint_eq(MOVED(before, vendor_put), 1);
	ck_assert_uint_eq(MOVED(before, product_put), 1);
	/* The steps are the library's, on the store's records: create, attach, pay, finalize. */
	ck_assert_uint_eq(MOVED(before, intent_create), 0);
	ck_assert_uint_eq(MOVED(before, payment_apply), 0);
	ck_assert_uint_ge(MOVED(before, changes_apply), 4);
	ck_assert_uint_ge(MOVED(before, facts_read), MOVED(before, changes_apply));
	ck_assert_uint_eq(MOVED(before, txn_begin),
	                  MOVED(before, txn_commit) + MOVED(before, txn_rollback));
	ck_assert_uint_ge(MOVED(before, jobs_acquire), 1);
	ck_assert_uint_eq(MOVED(before, jobs_complete), 1);
	ck_assert_uint_eq(MOVED(before, job_complete), 0);
	ck_assert_uint_eq(MOVED(before, free), 0);
	kbp_order_free(o);
	kbp_intent_free(in);
	fx_close(&f);
	ck_assert_uint_eq(MOVED(before, free), 1);
}
END_TEST

/*
 * Without wait, notify, wait_order and jobs_complete: a worker that would
 * sleep 10 s between looks without the polling fallback confirms the order
 * and stops at once, and jobs complete one by one.
 */
START_TEST(optional_slots_fall_back)
{
	kbp_worker_options wo = KBP_WORKER_OPTIONS_INIT;
	snapshot before = take();
	kbp_order_status *st = NULL;
	kbp_worker *w = NULL;
	kbp_intent *in;
	int64_t t0;
	fx f;

	open_on(&f, "counting:minimal");
	ck_assert_ptr_nonnull(counting_last()->wait);
	ck_assert_ptr_nonnull(counting_last()->notify);
	ck_assert_ptr_nonnull(counting_last()->wait_order);
	ck_assert_ptr_nonnull(counting_last()->jobs_complete);
	wo.poll_ms = 10000;
	CK_OK(kbp_worker_start(&w, f.p, &wo));
	in = fx_paid_intent(&f, fx_product(&f, "tea", 25000, 3), 1);
	t0 = mono_ms();
	CK_OK(kbp_order_wait(&st, f.p, in->id, 8000));
	ck_assert_int_eq(st->stage, KBP_STAGE_CONFIRMED);
	ck_assert_int_lt(mono_ms() - t0, 5000);
	t0 = mono_ms();
	kbp_worker_stop(w);
	ck_assert_int_lt(mono_ms() - t0, 3000);

	ck_assert_uint_eq(MOVED(before, job_complete), 1);
	ck_assert_uint_eq(MOVED(before, jobs_complete), 0);
	ck_assert_uint_eq(MOVED(before, wait), 0);
	ck_assert_uint_eq(MOVED(before, wait_order), 0);
	ck_assert_uint_eq(MOVED(before, notify), 0);
	kbp_order_status_free(st);
	kbp_intent_free(in);
	fx_close(&f);
}
END_TEST

/* Without job_complete, a batch of one stands in, with the same ESTATE afterwards. */
START_TEST(job_complete_falls_back)
{
	snapshot before = take();
	kbp_job_list *l = NULL;
	kbp_storage *s;
	kbp_job *j;
	char *id = NULL;
	fx f;

	open_on(&f, "counting:batch");
	s = counting_last();
	ck_assert_ptr_nonnull(s->job_complete);
	CK_OK(kbp_job_enqueue(&id, f.p, fx_kind(&f, "one"), "{}", NULL));
	CK_OK(s->jobs_acquire(s, "w1", 1, 60000, fx_now(&f), &l));
	ck_assert_uint_eq(l->n, 1);
	ck_assert_str_eq(l->jobs[0].id, id);
	CK_OK(s->job_complete(s, id, "w1", fx_now(&f)));
	ck_assert_uint_eq(MOVED(before, jobs_complete), 1);
	j = fx_job_get(&f, id);
	ck_assert_int_eq(j->state, KBP_JOB_COMPLETED);
	CK_RC(s->job_complete(s, id, "w1", fx_now(&f)), KBP_ESTATE);
	CK_MESSAGE_HAS("is no longer held by w1");
	kbp_job_free(j);
	kbp_job_list_free(l);
	kbp_free(id);
	fx_close(&f);
}
END_TEST

/* What a backend builds with the library's allocator, the kbp_*_free functions release. */
START_TEST(allocator_pairs_with_the_free_functions)
{
	kbp_intent *in = kbp_storage_calloc(1, sizeof(*in));
	kbp_job_list *l = kbp_storage_calloc(1, sizeof(*l));
	unsigned char *zero = kbp_storage_calloc(0, 0);

	ck_assert_ptr_nonnull(zero);
	kbp_free(zero);
	ck_assert_ptr_null(kbp_storage_calloc(SIZE_MAX / 2, 4));
	ck_assert_int_eq(kbp_error_last()->code, KBP_ENOMEM);
	ck_assert_ptr_null(kbp_storage_strdup(NULL));

	ck_assert_ptr_nonnull(in);
	ck_assert_ptr_null(in->id);
	in->id = kbp_storage_strdup("pi_1");
	ck_assert_str_eq(in->id, "pi_1");
	in->items = kbp_storage_calloc(2, sizeof(*in->items));
	in->n_items = 2;
	in->items[0].sku = kbp_storage_strdup("tea");
	in->items[1].vendor_id = kbp_storage_strdup("v1");
	kbp_intent_free(in);

	l->jobs = kbp_storage_calloc(3, sizeof(*l->jobs));
	l->n = 3;
	l->jobs[2].id = kbp_storage_strdup("job_3");
	l->next_after = kbp_storage_strdup("job_3");
	kbp_job_list_free(l);
}
END_TEST

/*
 * A batch is one jobs_insert call and one wake; without the slot (a
 * version-1 backend, or one that leaves it NULL) job_enqueue runs per job,
 * with the same ids and the same unique-key answers.
 */
static void enqueue_batch_on(const char *uri, unsigned long want_inserts,
                             unsigned long want_enqueues)
{
	kbp_job_spec specs[4] = { KBP_JOB_SPEC_INIT, KBP_JOB_SPEC_INIT, KBP_JOB_SPEC_INIT,
		                  KBP_JOB_SPEC_INIT };
	snapshot before;
	size_t created = 0;
	char **ids = NULL;
	fx f;

	open_on(&f, uri);
	for (int i = 0; i < 4; i++)
		specs[i].kind = fx_kind(&f, "batch");
	specs[1].options.unique_key = "same";
	specs[3].options.unique_key = "same";
	before = take();
	CK_OK(kbp_jobs_enqueue(&ids, &created, f.p, specs, 4));
	ck_assert_uint_eq(created, 3);
	ck_assert_str_eq(ids[3], ids[1]);
	ck_assert_str_ne(ids[0], ids[2]);
	ck_assert_uint_eq(MOVED(before, jobs_insert), want_inserts);
	ck_assert_uint_eq(MOVED(before, job_enqueue), want_enqueues);
	for (int i = 0; i < 4; i++)
		kbp_free(ids[i]);
	kbp_free(ids);
	fx_close(&f);
}

/* A backend without records (here one of version 1) keeps the pipeline's steps for itself. */
START_TEST(steps_stay_with_a_backend_without_records)
{
	snapshot before = take();
	const char *sku;
	kbp_intent *in;
	fx f;

	open_on(&f, "counting:v1");
	sku = fx_product(&f, "tea", 25000, 3);
	in = fx_paid_intent(&f, sku, 2);
	ck_assert_int_eq(fx_drain(&f), 1);
	ck_assert_int_eq(fx_on_hand(&f, sku), 1);
	ck_assert_uint_eq(MOVED(before, intent_create), 1);
	ck_assert_uint_eq(MOVED(before, payment_apply), 1);
	ck_assert_uint_eq(MOVED(before, order_finalize), 1);
	ck_assert_uint_eq(MOVED(before, txn_begin), 0);
	ck_assert_uint_eq(MOVED(before, changes_apply), 0);
	kbp_intent_free(in);
	fx_close(&f);
}
END_TEST

START_TEST(batch_enqueue_is_one_storage_call)
{
	enqueue_batch_on("counting:", 1, 0);
}
END_TEST

START_TEST(batch_enqueue_falls_back_to_one_call_per_job)
{
	enqueue_batch_on("counting:minimal", 0, 4);
	enqueue_batch_on("counting:v1", 0, 4);
}
END_TEST

Suite *registry_suite(void)
{
	Suite *s = suite_create("registry");
	TCase *tc = fx_tcase("registry");

	tcase_add_test(tc, unknown_scheme_named_not_the_uri);
	tcase_add_test(tc, register_refuses_bad_arguments);
	tcase_add_test(tc, scheme_registered_once);
	tcase_add_test(tc, version_checked);
	tcase_add_test(tc, required_slots_checked);
	tcase_add_test(tc, calls_go_through_the_backend);
	tcase_add_test(tc, steps_stay_with_a_backend_without_records);
	tcase_add_test(tc, optional_slots_fall_back);
	tcase_add_test(tc, job_complete_falls_back);
	tcase_add_test(tc, batch_enqueue_is_one_storage_call);
	tcase_add_test(tc, batch_enqueue_falls_back_to_one_call_per_job);
	tcase_add_test(tc, allocator_pairs_with_the_free_functions);
	tcase_add_test(tc, registry_is_thread_safe);
	tcase_add_test(tc, registry_is_bounded);
	suite_add_tcase(s, tc);
	return s;
}
