/* SPDX-License-Identifier: MIT */
#ifndef KBPIPELINE_OPS_H
#define KBPIPELINE_OPS_H

#include <stddef.h>
#include <stdint.h>
#include "pipeline.h"
#include "intent.h"
#include "jobs.h"

#ifdef __cplusplus
extern "C" {
#endif

typedef struct kbp_maintenance_result {
	int ran;                    /* 0: another process holds the maintenance lock */
	int64_t intents_expired;
	int64_t jobs_rescued;
	int64_t jobs_pruned;
	int64_t reconcile_scheduled;    /* reconcile_payment jobs enqueued */
} kbp_maintenance_result;

/*
 * One maintenance pass: expire intents, rescue lapsed leases, prune old jobs,
 * and ask the gateway about payments whose callback never came (a
 * reconcile_payment job for each pending intent older than
 * kbp_options.reconcile_after_ms, and one last one for each expired intent).
 */
KBP_EXTERN int kbp_maintenance_run(kbp_maintenance_result *out, kbp_pipeline *p);

typedef struct kbp_metrics {
	int64_t jobs[KBP_JOB_STATE_COUNT];  /* by kbp_job_state */
	int64_t jobs_stuck;                 /* running with the lease passed */
	int64_t jobs_failed_last_hour;
	int64_t oldest_available_age_ms;    /* among due available jobs, 0 if none */
	int64_t jobs_rescued_last_hour;
	int64_t intents[KBP_INTENT_STATUS_COUNT]; /* by kbp_intent_status */
	int64_t orders;
	int64_t orders_without_items;
	int64_t paid_intents_without_order; /* succeeded intents with no order */
	int64_t needs_refund;
	int64_t verifications_rejected;
	int64_t finalize_p50_ms;            /* payment accepted -> order created, recent orders */
	int64_t finalize_p95_ms;
	int64_t finalize_p99_ms;
	/* Of paid_intents_without_order: those paid more than KBP_DOCTOR_PAID_GRACE_MS ago. */
	int64_t paid_intents_without_order_late;
	int64_t paid_without_order_oldest_ms; /* since the oldest of them was paid, 0 if none */
} kbp_metrics;

KBP_EXTERN int kbp_metrics_get(kbp_metrics *out, kbp_pipeline *p);
/* The metrics in Prometheus text exposition format. */
KBP_EXTERN int kbp_metrics_prometheus(char **out, kbp_pipeline *p);

/* Integrity checks: what should never happen, with the ids to look at. */
#define KBP_DOCTOR_IDS_MAX 100
#define KBP_DOCTOR_PAID_GRACE_MS 60000  /* a paid intent gets this long to become an order */

typedef struct kbp_doctor_check {
	char *name;                 /* e.g. "orders_without_items" */
	char *description;
	int64_t count;              /* 0 when healthy */
	size_t n_ids;               /* at most KBP_DOCTOR_IDS_MAX of the offending ids */
	char **ids;
} kbp_doctor_check;

typedef struct kbp_doctor_report {
	size_t n_checks;
	kbp_doctor_check *checks;
	int64_t problems;           /* the sum of the counts */
} kbp_doctor_report;

/*
 * Runs every integrity check: orders without items, intents paid longer ago
 * than KBP_DOCTOR_PAID_GRACE_MS without an order, products whose reserved
 * units are not held by live intents, products whose vendor is missing, and
 * intents whose payment must be refunded.
 */
KBP_EXTERN int kbp_doctor_run(kbp_doctor_report **out, kbp_pipeline *p);
KBP_EXTERN void kbp_doctor_report_free(kbp_doctor_report *report);

typedef enum kbp_health_level {
	KBP_HEALTH_OK = 0,
	KBP_HEALTH_INFO = 1,
	KBP_HEALTH_WARNING = 2,
	KBP_HEALTH_CRITICAL = 3
} kbp_health_level;

/* Version 1 (without the fields marked version 2) is still accepted. */
#define KBP_HEALTH_THRESHOLDS_VERSION 2

typedef struct kbp_health_thresholds {
	unsigned int version;
	int64_t stuck_critical;             /* more stuck jobs than this: critical, default 5 */
	int64_t failed_hour_warning;        /* more failed in an hour: warning, default 10 */
	int64_t finalize_p95_warning_ms;    /* slower order creation: warning, default 10,000 */
	/*
	 * Version 2. A paid intent without an order is a warning once paid more
	 * than KBP_DOCTOR_PAID_GRACE_MS ago, and critical once paid more than
	 * this long ago (at least KBP_DOCTOR_PAID_GRACE_MS), default 600,000.
	 */
	int64_t paid_without_order_critical_ms;
} kbp_health_thresholds;

#define KBP_HEALTH_THRESHOLDS_INIT { KBP_HEALTH_THRESHOLDS_VERSION, 5, 10, 10000, 600000 }

typedef struct kbp_health_finding {
	kbp_health_level level;
	char *check;                /* e.g. "jobs_stuck" */
	char *message;
} kbp_health_finding;

typedef struct kbp_health {
	kbp_health_level level;     /* the worst finding, OK when none */
	kbp_metrics metrics;
	size_t n_findings;
	kbp_health_finding *findings;
} kbp_health;

/* thresholds NULL: the defaults. */
KBP_EXTERN int kbp_health_check(kbp_health **out, kbp_pipeline *p,
                                const kbp_health_thresholds *thresholds);
KBP_EXTERN void kbp_health_free(kbp_health *health);
KBP_EXTERN const char *kbp_health_level_name(kbp_health_level level);

#ifdef __cplusplus
}
#endif
#endif
