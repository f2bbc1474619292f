/* SPDX-License-Identifier: MIT */
#ifndef KBP_CORE_PIPELINE_INTERNAL_H
#define KBP_CORE_PIPELINE_INTERNAL_H

#include <pthread.h>
#include <stdarg.h>

#include "kbpipeline.h"
#include "kbpipeline/sys/gateway.h"
#include "kbpipeline/sys/storage.h"

#define KBP_GATEWAYS_MAX 16
#define KBP_HANDLERS_MAX 64

typedef struct kbp_handler_entry {
	char kind[KBP_JOB_KIND_MAX + 1];
	kbp_job_handler fn;
	void *ctx;
} kbp_handler_entry;

struct kbp_pipeline {
	kbp_storage *storage;
	kbp_clock_fn clock;
	void *clock_ctx;
	kbp_log_fn log;
	void *log_ctx;
	kbp_log_level log_level;
	int64_t intent_ttl_ms;
	int64_t job_lease_ms;
	int max_attempts;
	int64_t backoff_unit_ms;
	int64_t backoff_max_ms;
	int backoff_jitter_pct;
	int64_t job_retention_ms;
	int64_t reconcile_after_ms;

	/* Registration is rare and lookups are per job, so a mutex over small arrays suffices. */
	pthread_mutex_t registry_lock;
	kbp_gateway *gateways[KBP_GATEWAYS_MAX];
	size_t n_gateways;
	kbp_handler_entry handlers[KBP_HANDLERS_MAX];
	size_t n_handlers;
};

#define KBP_CHECK_PIPELINE(p)                                                   \
	do {                                                                     \
		if (!(p))                                                        \
			return kbp_error_set(KBP_EINVAL, "pipeline is NULL");   \
	} while (0)

#define KBP_CHECK_OUT(out)                                                      \
	do {                                                                     \
		if (!(out))                                                      \
			return kbp_error_set(KBP_EINVAL, "out pointer is NULL");\
	} while (0)

kbp_gateway *kbp__gateway_find(kbp_pipeline *p, const char *name);
int kbp__handler_find(kbp_pipeline *p, const char *kind, kbp_handler_entry *out);

#if defined(__GNUC__)
__attribute__((format(printf, 3, 4)))
#endif
void kbp__log(kbp_pipeline *p, kbp_log_level level, const char *fmt, ...);

/* Built-in job handlers, registered by kbp_pipeline_open. */
int kbp__finalize_order_handler(void *ctx, kbp_pipeline *p, const kbp_job *job);
int kbp__reconcile_payment_handler(void *ctx, kbp_pipeline *p, const kbp_job *job);

/*
 * Records what the gateway says about a payment (truth) and applies it to
 * the intent its reference names, as one storage step; raw is what the
 * audit keeps as the evidence.
 */
int kbp__payment_settle(kbp_pipeline *p, kbp_gateway *g, const kbp_callback_claim *claim,
                        const kbp_lookup_result *truth, const char *raw, size_t len,
                        kbp_verification **row);

int kbp__oom(void);

#endif
