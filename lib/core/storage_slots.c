/* SPDX-License-Identifier: MIT */
#include "core/storage_open.h"

#include <errno.h>
#include <stdio.h>
#include <time.h>

#include "core/records.h"
#include "core/validate.h"

static const char *missing_slot(const kbp_storage *s)
{
#define MISSING(slot)          \
	if (!s->slot)          \
		return #slot;
	KBP_STORAGE_REQUIRED_SLOTS(MISSING)
#define PRESENT(slot) +(s->version >= 3 && s->slot != NULL)
	if (s->version >= 3 && (0 KBP_STORAGE_RECORDS_SLOTS(PRESENT)) % 5 != 0)
		return "part of the records slots (it has some of txn_begin, txn_commit, "
		       "txn_rollback, facts_read and changes_apply, not all)";
#undef PRESENT
	if (!kbp__storage_has_records(s)) {
		KBP_STORAGE_STANDING_IN_SLOTS(MISSING)
	}
#undef MISSING
	if (!s->job_complete && !s->jobs_complete)
		return "job_complete (or jobs_complete)";
	if (!s->wait != !s->notify)
		return s->wait ? "notify (it has wait)" : "wait (it has notify)";
	return NULL;
}

/*
 * Without wake-ups of its own, a backend's waiters look again every
 * KBP_STORAGE_POLL_MS. A look that does not wait cannot tell a change from
 * none, so it too answers "look again": an order watch then has its hosts
 * re-read every watched order at each poll rather than never.
 */
static int poll_wait(kbp_storage *s, kbp_topic topic, uint64_t *seen, int64_t timeout_ms)
{
	int64_t ms = timeout_ms < KBP_STORAGE_POLL_MS ? timeout_ms : KBP_STORAGE_POLL_MS;
	struct timespec t;

	(void)s;
	(void)topic;
	(void)seen;
	if (ms <= 0)
		return 0;
	t.tv_sec = (time_t)(ms / 1000);
	t.tv_nsec = (long)(ms % 1000) * 1000000L;
	while (nanosleep(&t, &t) != 0 && errno == EINTR) {
	}
	return ms < timeout_ms ? 0 : KBP_ETIMEOUT;
}

static void no_notify(kbp_storage *s, kbp_topic topic)
{
	(void)s;
	(void)topic;
}

static int wait_any_order(kbp_storage *s, const char *intent_id, uint64_t *seen,
                          int64_t timeout_ms)
{
	(void)intent_id;
	return s->wait(s, KBP_TOPIC_ORDERS, seen, timeout_ms);
}

static int complete_one(kbp_storage *s, const char *job_id, const char *worker, int64_t now)
{
	int64_t done = 0;
	int rc = s->jobs_complete(s, &job_id, 1, worker, now, &done);

	if (rc || done)
		return rc;
	return kbp_error_set(KBP_ESTATE, "job '%s' is no longer held by %s", job_id, worker);
}

/* As a batch does, a job that is no longer this worker's is skipped. */
static int complete_each(kbp_storage *s, const char *const *job_ids, size_t n,
                         const char *worker, int64_t now, int64_t *out_done)
{
	*out_done = 0;
	for (size_t i = 0; i < n; i++) {
		int rc = s->job_complete(s, job_ids[i], worker, now);
		if (rc == 0)
			(*out_done)++;
		else if (rc != KBP_ESTATE && rc != KBP_ENOTFOUND)
			return rc;
	}
	return 0;
}

static void free_ids(char **ids, size_t n)
{
	for (size_t i = 0; i < n; i++) {
		kbp_free(ids[i]);
		ids[i] = NULL;
	}
}

/* job_enqueue's duplicate (KBP_EEXISTS with the holder's id) is a batch's answer, not a failure. */
static int insert_each(kbp_storage *s, const kbp_job_draft *drafts, size_t n, int64_t now,
                       char **out_ids, size_t *out_created)
{
	*out_created = 0;
	for (size_t i = 0; i < n; i++) {
		int rc = s->job_enqueue(s, &drafts[i], now, &out_ids[i]);
		if (rc == 0) {
			(*out_created)++;
		} else if (rc != KBP_EEXISTS || !out_ids[i]) {
			free_ids(out_ids, i + 1);
			*out_created = 0;
			return rc ? rc : kbp_error_set(KBP_ESTORAGE, "the backend's job_enqueue gave no id");
		}
	}
	return 0;
}

int kbp__storage_jobs_insert(kbp_storage *s, const kbp_job_draft *drafts, size_t n, int64_t now,
                             char **out_ids, size_t *out_created)
{
	/* A version-1 backend's struct ends before the slot: it must not be read. */
	if (s->version < 2)
		return insert_each(s, drafts, n, now, out_ids, out_created);
	return s->jobs_insert(s, drafts, n, now, out_ids, out_created);
}

static void fill_fallbacks(kbp_storage *s)
{
	if (kbp__storage_has_records(s))
		kbp__records_fill(s);
	if (!s->job_complete)
		s->job_complete = complete_one;
	if (!s->jobs_complete)
		s->jobs_complete = complete_each;
	if (!s->wait) {
		s->wait = poll_wait;
		s->notify = no_notify;
	}
	if (!s->wait_order)
		s->wait_order = wait_any_order;
	if (s->version >= 2 && !s->jobs_insert)
		s->jobs_insert = insert_each;
}

int kbp__storage_check(kbp_storage *s, const char *scheme)
{
	char what[64];
	const char *missing;
	int rc;

	snprintf(what, sizeof(what), "the \"%s\" storage backend's interface", scheme);
	if ((rc = kbp__check_versions(s->version, 1, KBP_STORAGE_VERSION, what)))
		return rc;
	if (!s->name || !*s->name)
		return kbp_error_set(KBP_EINVAL, "the \"%s\" storage backend has no name", scheme);
	if ((missing = missing_slot(s)))
		return kbp_error_set(KBP_EINVAL, "the \"%s\" storage backend lacks %s", scheme, missing);
	fill_fallbacks(s);
	return 0;
}
