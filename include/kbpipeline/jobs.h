/* SPDX-License-Identifier: MIT */
#ifndef KBPIPELINE_JOBS_H
#define KBPIPELINE_JOBS_H

#include <stddef.h>
#include <stdint.h>
#include "pipeline.h"

#ifdef __cplusplus
extern "C" {
#endif

#define KBP_JOB_KIND_MAX 64
#define KBP_JOB_PAYLOAD_MAX 65536
#define KBP_JOB_PRIORITY_MAX 100    /* 0 runs first */
#define KBP_JOB_FINALIZE_ORDER "finalize_order"
#define KBP_JOB_RECONCILE_PAYMENT "reconcile_payment"
/*
 * The unique keys of the library's own jobs begin with this ("kbp:<kind>:<intent
 * id>"); a caller's key may not, so no caller's job can hold one of them.
 */
#define KBP_JOB_KEY_PREFIX "kbp:"

typedef enum kbp_job_state {
	KBP_JOB_AVAILABLE = 0,
	KBP_JOB_RUNNING = 1,
	KBP_JOB_COMPLETED = 2,
	KBP_JOB_FAILED = 3,         /* attempts exhausted: dead, kept for inspection and retry */
	KBP_JOB_CANCELED = 4
} kbp_job_state;

/* Deprecated: the old British spelling, kept so that code written against it
 * still compiles. The state is spelled "canceled" like KBP_INTENT_CANCELED. */
#define KBP_JOB_CANCELLED KBP_JOB_CANCELED

#define KBP_JOB_STATE_COUNT 5

typedef struct kbp_job_error {
	int attempt;
	int64_t at;
	char *message;
} kbp_job_error;

typedef struct kbp_job {
	char *id;                   /* "job_…" */
	char *kind;
	char *payload;              /* a JSON object */
	kbp_job_state state;
	int priority;
	int attempts;               /* started attempts, including the running one */
	int max_attempts;
	int64_t run_at;
	int64_t lease_until;        /* running jobs: rescued when this passes */
	char *locked_by;
	char *unique_key;
	char *last_error;
	size_t n_errors;
	kbp_job_error *errors;      /* history, oldest first */
	int64_t created_at;
	int64_t updated_at;
	int64_t finished_at;        /* 0 while live */
} kbp_job;

#define KBP_ENQUEUE_OPTIONS_VERSION 1

typedef struct kbp_enqueue_options {
	unsigned int version;
	const char *unique_key;     /* at most one live job per key; not KBP_JOB_KEY_PREFIX… */
	int priority;               /* 0 ..= KBP_JOB_PRIORITY_MAX */
	int64_t run_at;             /* 0: now */
	int max_attempts;           /* 0: the pipeline's default */
} kbp_enqueue_options;

#define KBP_ENQUEUE_OPTIONS_INIT { KBP_ENQUEUE_OPTIONS_VERSION, NULL, 0, 0, 0 }

/*
 * Enqueues a job and wakes workers. With a unique key already held by a live
 * (available or running) job, returns KBP_EEXISTS and that job's id.
 * out_id may be NULL.
 */
KBP_EXTERN int kbp_job_enqueue(char **out_id, kbp_pipeline *p, const char *kind,
                               const char *payload_json, const kbp_enqueue_options *opts);

#define KBP_JOB_SPEC_VERSION 1
#define KBP_JOBS_ENQUEUE_MAX 10000  /* jobs per kbp_jobs_enqueue() call */

/* One job of a kbp_jobs_enqueue() batch: kbp_job_enqueue()'s arguments. */
typedef struct kbp_job_spec {
	unsigned int version;
	const char *kind;
	const char *payload_json;   /* a JSON object, NULL: {} */
	kbp_enqueue_options options;
} kbp_job_spec;

#define KBP_JOB_SPEC_INIT { KBP_JOB_SPEC_VERSION, NULL, NULL, KBP_ENQUEUE_OPTIONS_INIT }

/*
 * Enqueues n jobs in one storage step and wakes workers once. Every job is
 * validated first: one bad job (KBP_EINVAL naming its index) enqueues none.
 * (*out_ids)[i] is job i's id or, when a live job holds its unique key (one
 * earlier in the same batch included), that job's id, as kbp_job_enqueue()
 * reports with KBP_EEXISTS. *out_created counts the jobs that are new. Free
 * each id and the array with kbp_free(). out_ids and out_created may be NULL.
 */
KBP_EXTERN int kbp_jobs_enqueue(char ***out_ids, size_t *out_created, kbp_pipeline *p,
                                const kbp_job_spec *jobs, size_t n);

/*
 * A handler returns 0 when the job is done; any negative code fails this
 * attempt (retried with backoff until max_attempts), with kbp_error_last()'s
 * message recorded in the job's history.
 */
typedef int (*kbp_job_handler)(void *ctx, kbp_pipeline *p, const kbp_job *job);

KBP_EXTERN int kbp_job_register(kbp_pipeline *p, const char *kind, kbp_job_handler handler,
                                void *ctx);

/* Acquires and runs up to max_jobs due jobs on the calling thread. out_ran may be NULL. */
KBP_EXTERN int kbp_worker_run_once(int *out_ran, kbp_pipeline *p, const char *worker_id,
                                   int max_jobs);

typedef struct kbp_worker kbp_worker;

#define KBP_WORKER_OPTIONS_VERSION 1

typedef struct kbp_worker_options {
	unsigned int version;
	int threads;                /* default 1 */
	const char *name;           /* worker id prefix, NULL: "worker" */
	int batch;                  /* jobs acquired per round, default 16 */
	int64_t poll_ms;            /* longest sleep without a wakeup, default 1,000 */
} kbp_worker_options;

#define KBP_WORKER_OPTIONS_INIT { KBP_WORKER_OPTIONS_VERSION, 0, NULL, 0, 0 }

KBP_EXTERN int kbp_worker_start(kbp_worker **out, kbp_pipeline *p, const kbp_worker_options *opts);
/*
 * Stops taking jobs, lets every thread finish the jobs it has already
 * acquired (at most one batch), joins the threads and frees the worker.
 */
KBP_EXTERN void kbp_worker_stop(kbp_worker *worker);

/* Job administration: what an operator sees of the queue and does to it. */
#define KBP_JOB_FILTER_VERSION 1
#define KBP_JOB_LIST_MAX 1000

typedef struct kbp_job_filter {
	unsigned int version;
	int state;                  /* a kbp_job_state, or -1 for any */
	const char *kind;           /* NULL: any */
	int64_t since;              /* created at or after, 0: any */
	size_t limit;               /* 1 ..= KBP_JOB_LIST_MAX, 0: 100 */
	const char *after;          /* paging cursor: the next_after of the previous page */
} kbp_job_filter;

#define KBP_JOB_FILTER_INIT { KBP_JOB_FILTER_VERSION, -1, NULL, 0, 0, NULL }

typedef struct kbp_job_list {
	size_t n;
	kbp_job *jobs;              /* newest first */
	char *next_after;           /* NULL on the last page */
} kbp_job_list;

KBP_EXTERN int kbp_jobs_list(kbp_job_list **out, kbp_pipeline *p, const kbp_job_filter *filter);
KBP_EXTERN void kbp_job_list_free(kbp_job_list *list);
KBP_EXTERN int kbp_job_get(kbp_job **out, kbp_pipeline *p, const char *job_id);
/* failed or canceled -> available now, with at least one attempt left. */
KBP_EXTERN int kbp_job_retry(kbp_pipeline *p, const char *job_id);
/* available or failed -> canceled. */
KBP_EXTERN int kbp_job_cancel(kbp_pipeline *p, const char *job_id);
/* Running jobs whose lease passed -> available (the attempt counts). out_count may be NULL. */
KBP_EXTERN int kbp_jobs_rescue(int64_t *out_count, kbp_pipeline *p);
/* Deprecated: the former name of kbp_jobs_rescue(), which it calls. */
KBP_EXTERN int kbp_jobs_requeue_stale(int64_t *out_count, kbp_pipeline *p);

KBP_EXTERN void kbp_job_free(kbp_job *job);
KBP_EXTERN const char *kbp_job_state_name(kbp_job_state state);

#ifdef __cplusplus
}
#endif
#endif
