/* SPDX-License-Identifier: MIT */
#ifndef KBPIPELINE_PIPELINE_H
#define KBPIPELINE_PIPELINE_H

#include <stdint.h>
#include "errors.h"

#ifdef __cplusplus
extern "C" {
#endif

typedef struct kbp_pipeline kbp_pipeline;

/* Milliseconds since the Unix epoch. Injectable so tests control expiry and backoff. */
typedef int64_t (*kbp_clock_fn)(void *ctx);

typedef enum kbp_log_level {
	KBP_LOG_DEBUG = 0,
	KBP_LOG_INFO = 1,
	KBP_LOG_WARN = 2,
	KBP_LOG_ERROR = 3
} kbp_log_level;

typedef void (*kbp_log_fn)(void *ctx, kbp_log_level level, const char *message);

#define KBP_OPTIONS_VERSION 1

/*
 * Zero in a numeric field selects its default; see kbp_pipeline_open(3).
 */
typedef struct kbp_options {
	unsigned int version;
	const char *storage;        /* storage URI; NULL or "memory:" selects the memory backend */
	kbp_clock_fn clock;         /* NULL: the system clock */
	void *clock_ctx;
	kbp_log_fn log;             /* NULL: no logging */
	void *log_ctx;
	kbp_log_level log_level;    /* messages below this level are not formatted */
	int64_t intent_ttl_ms;      /* default 3,600,000 (1 h) */
	int64_t job_lease_ms;       /* default 300,000 (5 min) */
	int max_attempts;           /* default 20 */
	int64_t backoff_unit_ms;    /* delay = attempt^4 units, default 1,000 */
	int64_t backoff_max_ms;     /* cap, default 3,600,000 (1 h) */
	int backoff_jitter_pct;     /* +/- percent, default 10; negative disables jitter */
	int64_t job_retention_ms;   /* completed jobs older than this are pruned, default 86,400,000 */
	const char *storage_schema; /* PostgreSQL schema, NULL: "kbp" */
	int storage_pool_size;      /* PostgreSQL connections, 0: 8 */
	int64_t reconcile_after_ms; /* ask the gateway about intents pending this long, default 300,000 */
} kbp_options;

#define KBP_OPTIONS_INIT \
	{ KBP_OPTIONS_VERSION, NULL, NULL, NULL, NULL, NULL, KBP_LOG_INFO, 0, 0, 0, 0, 0, 0, 0, NULL, 0, 0 }

KBP_EXTERN int kbp_pipeline_open(kbp_pipeline **out, const kbp_options *opts);
KBP_EXTERN void kbp_pipeline_close(kbp_pipeline *p);
/* The pipeline's clock: what every operation of this handle takes as "now". */
KBP_EXTERN int64_t kbp_pipeline_now(kbp_pipeline *p);
/* The storage backend's name: "memory", "postgres". */
KBP_EXTERN const char *kbp_pipeline_storage_name(kbp_pipeline *p);

/*
 * Creates or upgrades the storage's schema to this library's version (a
 * no-op for "memory:"). Safe to run twice and from several processes at
 * once. schema NULL means "kbp". out_version may be NULL.
 */
KBP_EXTERN int kbp_migrate(int *out_version, const char *storage_uri, const char *schema);

#ifdef __cplusplus
}
#endif
#endif
