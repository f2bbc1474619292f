/* SPDX-License-Identifier: MIT */
#include <errno.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "core/backoff.h"
#include "core/lease.h"
#include "core/pipeline_internal.h"
#include "core/validate.h"
#include "util/clock.h"
#include "util/ids.h"
#include "util/strings.h"

/*
 * Pauses between attempts to write an outcome: doubling, and short enough
 * that a server back from an outage is seen soon.
 */
#define WRITE_PAUSE_FIRST_MS 50
#define WRITE_PAUSE_MAX_MS 1000

/* The leases of the batch a worker thread holds, and whether it should give them up. */
typedef struct holding {
	kbp_lease_slot *slot;       /* renewed by the keeper thread, or NULL */
	int64_t until;              /* without a slot: the lease's end as last written */
	const atomic_int *stopping; /* NULL for kbp_worker_run_once */
} holding;

static int64_t holding_until(const holding *h)
{
	return h->slot ? kbp__lease_slot_until(h->slot) : h->until;
}

static void pause_ms(int64_t ms)
{
	struct timespec t = { (time_t)(ms / 1000), (long)(ms % 1000) * 1000000L };

	while (nanosleep(&t, &t) != 0 && errno == EINTR) {
	}
}

/* The job is no longer this worker's: whatever it writes now would not count. */
static int lease_lost(int rc)
{
	return rc == KBP_ESTATE || rc == KBP_ENOTFOUND;
}

/*
 * Writes a job's outcome, trying again with a growing pause while the storage
 * fails and the worker still holds the lease: an outcome lost in an outage
 * would leave the job running until its lease passes, and run it again. The
 * lease is measured on the pipeline's clock and, since a test clock may stand
 * still, on the monotonic clock as well.
 */
static int write_outcome(kbp_pipeline *p, const holding *h, int (*write_fn)(kbp_pipeline *, void *),
                         void *ctx)
{
	int64_t pause = WRITE_PAUSE_FIRST_MS;
	int64_t end = kbp_clock_monotonic_ms() + (holding_until(h) - kbp_pipeline_now(p));
	int rc;

	while ((rc = write_fn(p, ctx)) != 0 && !lease_lost(rc)) {
		int64_t left = holding_until(h) - kbp_pipeline_now(p);
		int64_t real_left = end - kbp_clock_monotonic_ms();
		if (real_left < left)
			left = real_left;
		if (left <= 0 || (h->stopping && atomic_load(h->stopping)))
			break;
		pause_ms(pause < left ? pause : left);
		pause = pause * 2 < WRITE_PAUSE_MAX_MS ? pause * 2 : WRITE_PAUSE_MAX_MS;
	}
	return rc;
}

typedef struct failure {
	const kbp_job *job;
	const char *worker;
	int code;
	int64_t retry_at;
	char message[600];
} failure;

static int write_failure(kbp_pipeline *p, void *ctx)
{
	const failure *f = ctx;
	char fallback[200];
	int rc = p->storage->job_fail(p->storage, f->job->id, f->worker, f->message, f->retry_at,
	                              kbp_pipeline_now(p));

	/*
	 * Only a refused message is replaced: an outage is retried with the
	 * handler's own words, which the storage takes once it is back.
	 */
	if (rc != KBP_EINVAL)
		return rc;
	snprintf(fallback, sizeof(fallback), "%s (the handler's message could not be recorded)",
	         kbp_strerror(f->code));
	return p->storage->job_fail(p->storage, f->job->id, f->worker, fallback, f->retry_at,
	                            kbp_pipeline_now(p));
}

static void settle_failure(kbp_pipeline *p, const kbp_job *job, const char *worker, int rc,
                           const holding *h)
{
	failure f = { job, worker, rc, -1, "" };
	const kbp_error *e = kbp_error_last();

	/*
	 * The handler's own words when it gave any: operators read them in the
	 * job's history. Only their well-formed UTF-8 start: a database refuses
	 * anything else, and the failure would go unrecorded.
	 */
	snprintf(f.message, sizeof(f.message), "%s", e->code == rc ? e->message : "");
	f.message[kbp_utf8_valid_prefix(f.message, strlen(f.message))] = '\0';
	if (!f.message[0])
		snprintf(f.message, sizeof(f.message), "%s", kbp_strerror(rc));
	if (job->attempts < job->max_attempts)
		f.retry_at = kbp_pipeline_now(p) +
		             kbp__backoff_delay_ms(job->attempts, p->backoff_unit_ms, p->backoff_max_ms,
		                                   p->backoff_jitter_pct);
	kbp__log(p, KBP_LOG_WARN, "job %s (%s) attempt %d failed: %s", job->id, job->kind,
	         job->attempts, f.message);
	if (write_outcome(p, h, write_failure, &f) != 0)
		kbp__log(p, KBP_LOG_WARN, "job %s: failure not recorded: %s", job->id,
		         kbp_error_last()->message);
}

/* Runs one job's handler; 1 when it succeeded and the job awaits completion. */
static int run_job(kbp_pipeline *p, const kbp_job *job, const char *worker, const holding *h)
{
	kbp_handler_entry entry;
	int rc;

	kbp_error_clear();
	if (!kbp__handler_find(p, job->kind, &entry))
		rc = kbp_error_set(KBP_ENOHANDLER, "no handler registered for job kind '%s'", job->kind);
	else
		rc = entry.fn(entry.ctx, p, job);
	if (rc < 0) {
		settle_failure(p, job, worker, rc, h);
		return 0;
	}
	return 1;
}

typedef struct completion {
	const char *const *ids;
	size_t n;
	const char *worker;
	int64_t done;
} completion;

static int write_completion(kbp_pipeline *p, void *ctx)
{
	completion *c = ctx;

	return p->storage->jobs_complete(p->storage, c->ids, c->n, c->worker, kbp_pipeline_now(p),
	                                 &c->done);
}

/*
 * The batch's successes complete together, in one storage step. Handlers
 * run at least once: a worker that dies before this point leaves its jobs
 * to be rescued when their lease passes, and they run again.
 */
static void complete_batch(kbp_pipeline *p, const char *const *ids, size_t n, const char *worker,
                           const holding *h)
{
	completion c = { ids, n, worker, 0 };

	if (n == 0)
		return;
	if (write_outcome(p, h, write_completion, &c) != 0)
		kbp__log(p, KBP_LOG_WARN, "%zu jobs: completion not recorded: %s", n,
		         kbp_error_last()->message);
	else if ((size_t)c.done < n)
		/* A lost lease means another worker owns the job now; its outcome stands. */
		kbp__log(p, KBP_LOG_WARN, "%zu of %zu jobs were no longer held by %s", n - (size_t)c.done,
		         n, worker);
}

/*
 * Acquires and runs one batch. The batch's leases are renewed while its
 * handlers run: by the worker's keeper thread when slot is given, else here,
 * between jobs, once half the lease has passed.
 */
static int run_batch(int *out_ran, kbp_pipeline *p, const char *worker_id, int max_jobs,
                     kbp_lease_slot *slot, const atomic_int *stopping)
{
	kbp_job_list *jobs = NULL;
	const char *done[1000];
	size_t n_done = 0;
	int64_t renewed = kbp_pipeline_now(p);
	holding h = { slot, renewed + p->job_lease_ms, stopping };
	int rc;

	rc = p->storage->jobs_acquire(p->storage, worker_id, max_jobs, p->job_lease_ms, renewed, &jobs);
	if (rc != 0)
		return rc;
	if (slot)
		kbp__lease_slot_hold(slot, jobs, h.until);
	for (size_t i = 0; i < jobs->n; i++) {
		if (!slot && kbp_pipeline_now(p) - renewed >= p->job_lease_ms / 2) {
			int64_t until = kbp__lease_extend(p, jobs, worker_id);
			if (until >= 0)
				h.until = until;
			renewed = kbp_pipeline_now(p);
		}
		if (run_job(p, &jobs->jobs[i], worker_id, &h))
			done[n_done++] = jobs->jobs[i].id;
	}
	complete_batch(p, done, n_done, worker_id, &h);
	if (slot)
		kbp__lease_slot_hold(slot, NULL, 0);
	*out_ran = (int)jobs->n;
	kbp_job_list_free(jobs);
	return 0;
}

int kbp_worker_run_once(int *out_ran, kbp_pipeline *p, const char *worker_id, int max_jobs)
{
	int ran = 0, rc;

	if (out_ran)
		*out_ran = 0;
	KBP_CHECK_PIPELINE(p);
	if ((rc = kbp__check_id(worker_id, "worker id")) ||
	    (rc = kbp__check_range(max_jobs, 1, 1000, "max_jobs")))
		return rc;
	rc = run_batch(&ran, p, worker_id, max_jobs, NULL, NULL);
	if (rc == 0 && out_ran)
		*out_ran = ran;
	return rc;
}

typedef struct worker_thread {
	struct kbp_worker *worker;
	pthread_t thread;
	char id[KBP_ID_MAX + 1];
	kbp_lease_slot *lease;
	int started;
} worker_thread;

struct kbp_worker {
	kbp_pipeline *p;
	int batch;
	int64_t poll_ms;
	atomic_int stopping;
	int n_threads;
	worker_thread *threads;
	kbp_lease_slot *leases;     /* one per thread, renewed by keeper */
	kbp_lease_keeper *keeper;
};

static void *worker_main(void *arg)
{
	worker_thread *t = arg;
	kbp_worker *w = t->worker;
	kbp_storage *s = w->p->storage;
	uint64_t seen = 0;

	while (!atomic_load(&w->stopping)) {
		int ran = 0;
		if (run_batch(&ran, w->p, t->id, w->batch, t->lease, &w->stopping) != 0) {
			kbp__log(w->p, KBP_LOG_ERROR, "worker %s: %s", t->id, kbp_error_last()->message);
			ran = 0;
		}
		/* A short round drained the queue: sleep until an enqueue wakes us (or the poll). */
		if (ran < w->batch && !atomic_load(&w->stopping))
			s->wait(s, KBP_TOPIC_JOBS, &seen, w->poll_ms);
	}
	return NULL;
}

static int check_worker_options(const kbp_worker_options *o)
{
	int rc;

	if ((rc = kbp__check_version(o->version, KBP_WORKER_OPTIONS_VERSION, "kbp_worker_options")) ||
	    (rc = kbp__check_range(o->threads, 0, 64, "threads")) ||
	    (rc = kbp__check_range(o->batch, 0, 1000, "batch")) ||
	    (rc = kbp__check_range(o->poll_ms, 0, 3600000, "poll_ms")))
		return rc;
	/* The name becomes part of each thread's worker id, so it must fit with the suffix. */
	if (o->name && (rc = kbp__check_id(o->name, "worker name")))
		return rc;
	if (o->name && strlen(o->name) > KBP_ID_MAX - 40)
		return kbp_error_set(KBP_ETOOBIG, "worker name is longer than %d bytes", KBP_ID_MAX - 40);
	return 0;
}

int kbp_worker_start(kbp_worker **out, kbp_pipeline *p, const kbp_worker_options *opts)
{
	kbp_worker_options defaults = KBP_WORKER_OPTIONS_INIT;
	char tag[KBP_GEN_ID_SIZE];
	kbp_worker *w;
	int rc;

	KBP_CHECK_OUT(out);
	*out = NULL;
	KBP_CHECK_PIPELINE(p);
	if (!opts)
		opts = &defaults;
	if ((rc = check_worker_options(opts)))
		return rc;
	w = calloc(1, sizeof(*w));
	if (!w)
		return kbp__oom();
	w->p = p;
	w->batch = opts->batch ? opts->batch : 16;
	w->poll_ms = opts->poll_ms ? opts->poll_ms : 1000;
	w->n_threads = opts->threads ? opts->threads : 1;
	w->threads = calloc((size_t)w->n_threads, sizeof(*w->threads));
	w->leases = calloc((size_t)w->n_threads, sizeof(*w->leases));
	if (!w->threads || !w->leases) {
		free(w->threads);
		free(w->leases);
		free(w);
		return kbp__oom();
	}
	/* A random tag keeps worker ids unique across processes and restarts. */
	kbp_id_generate(tag, "");
	for (int i = 0; i < w->n_threads; i++) {
		worker_thread *t = &w->threads[i];
		t->worker = w;
		snprintf(t->id, sizeof(t->id), "%s-%.8s-%d", opts->name ? opts->name : "worker", tag, i);
		t->lease = &w->leases[i];
		kbp__lease_slot_init(t->lease, t->id);
	}
	if ((rc = kbp__lease_keeper_start(&w->keeper, p, w->leases, (size_t)w->n_threads))) {
		kbp_worker_stop(w);
		return rc;
	}
	for (int i = 0; i < w->n_threads; i++) {
		worker_thread *t = &w->threads[i];
		if (pthread_create(&t->thread, NULL, worker_main, t) != 0) {
			kbp_worker_stop(w);
			return kbp_error_set(KBP_ENOMEM, "could not start worker thread %d", i);
		}
		t->started = 1;
	}
	*out = w;
	return 0;
}

void kbp_worker_stop(kbp_worker *w)
{
	if (!w)
		return;
	atomic_store(&w->stopping, 1);
	w->p->storage->notify(w->p->storage, KBP_TOPIC_JOBS);
	for (int i = 0; i < w->n_threads; i++)
		if (w->threads[i].started)
			pthread_join(w->threads[i].thread, NULL);
	/* Only now: the threads renewed what they held until they finished it. */
	kbp__lease_keeper_stop(w->keeper);
	for (int i = 0; i < w->n_threads; i++)
		kbp__lease_slot_destroy(&w->leases[i]);
	free(w->leases);
	free(w->threads);
	free(w);
}
