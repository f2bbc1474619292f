/* SPDX-License-Identifier: MIT */
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/pipeline_internal.h"
#include "core/validate.h"

typedef struct findings {
	kbp_health *h;
	size_t cap;
	int failed;
} findings;

#if defined(__GNUC__)
__attribute__((format(printf, 4, 5)))
#endif
static void add(findings *fs, kbp_health_level level, const char *check, const char *fmt, ...)
{
	kbp_health *h = fs->h;
	char message[256];
	va_list ap;

	if (fs->failed)
		return;
	if (h->n_findings == fs->cap) {
		size_t cap = fs->cap ? fs->cap * 2 : 8;
		kbp_health_finding *grown = realloc(h->findings, cap * sizeof(*grown));
		if (!grown) {
			fs->failed = 1;
			return;
		}
		h->findings = grown;
		fs->cap = cap;
	}
	va_start(ap, fmt);
	vsnprintf(message, sizeof(message), fmt, ap);
	va_end(ap);
	h->findings[h->n_findings].level = level;
	h->findings[h->n_findings].check = strdup(check);
	h->findings[h->n_findings].message = strdup(message);
	if (!h->findings[h->n_findings].check || !h->findings[h->n_findings].message)
		fs->failed = 1;
	h->n_findings++;
	if (level > h->level)
		h->level = level;
}

static void evaluate(findings *fs, const kbp_metrics *m, const kbp_health_thresholds *t)
{
	if (m->jobs_stuck > t->stuck_critical)
		add(fs, KBP_HEALTH_CRITICAL, "jobs_stuck", "%lld jobs are stuck past their lease (limit %lld)",
		    (long long)m->jobs_stuck, (long long)t->stuck_critical);
	if (m->orders_without_items > 0)
		add(fs, KBP_HEALTH_CRITICAL, "orders_without_items", "%lld orders have no items",
		    (long long)m->orders_without_items);
	if (m->jobs_failed_last_hour > t->failed_hour_warning)
		add(fs, KBP_HEALTH_WARNING, "jobs_failed_last_hour",
		    "%lld jobs failed in the last hour (limit %lld)",
		    (long long)m->jobs_failed_last_hour, (long long)t->failed_hour_warning);
	if (m->finalize_p95_ms > t->finalize_p95_warning_ms)
		add(fs, KBP_HEALTH_WARNING, "finalize_latency",
		    "order creation p95 is %lld ms (limit %lld ms)",
		    (long long)m->finalize_p95_ms, (long long)t->finalize_p95_warning_ms);
	if (m->paid_intents_without_order_late > 0)
		add(fs,
		    m->paid_without_order_oldest_ms > t->paid_without_order_critical_ms
		            ? KBP_HEALTH_CRITICAL
		            : KBP_HEALTH_WARNING,
		    "paid_intents_without_order",
		    "%lld paid intents have had no order for over %lld s; the oldest was paid %lld s "
		    "ago (critical after %lld s)",
		    (long long)m->paid_intents_without_order_late,
		    (long long)(KBP_DOCTOR_PAID_GRACE_MS / 1000),
		    (long long)(m->paid_without_order_oldest_ms / 1000),
		    (long long)(t->paid_without_order_critical_ms / 1000));
	if (m->needs_refund > 0)
		add(fs, KBP_HEALTH_WARNING, "needs_refund", "%lld paid intents need a refund",
		    (long long)m->needs_refund);
	if (m->jobs_rescued_last_hour > 0)
		add(fs, KBP_HEALTH_INFO, "jobs_rescued",
		    "%lld jobs were rescued from lapsed leases in the last hour",
		    (long long)m->jobs_rescued_last_hour);
}

/*
 * The caller's thresholds over the defaults. A version 1 struct ends before
 * the version 2 fields, so only its own fields are read.
 */
static int read_thresholds(kbp_health_thresholds *t, const kbp_health_thresholds *in)
{
	int rc;

	if ((rc = kbp__check_versions(in->version, 1, KBP_HEALTH_THRESHOLDS_VERSION,
	                              "kbp_health_thresholds")))
		return rc;
	if (in->version == 1)
		memcpy(t, in, offsetof(kbp_health_thresholds, paid_without_order_critical_ms));
	else
		*t = *in;
	t->version = KBP_HEALTH_THRESHOLDS_VERSION;
	if ((rc = kbp__check_range(t->stuck_critical, 0, INT64_MAX, "stuck_critical")) ||
	    (rc = kbp__check_range(t->failed_hour_warning, 0, INT64_MAX, "failed_hour_warning")) ||
	    (rc = kbp__check_range(t->finalize_p95_warning_ms, 0, INT64_MAX,
	                           "finalize_p95_warning_ms")) ||
	    (rc = kbp__check_range(t->paid_without_order_critical_ms, KBP_DOCTOR_PAID_GRACE_MS,
	                           INT64_MAX, "paid_without_order_critical_ms")))
		return rc;
	return 0;
}

int kbp_health_check(kbp_health **out, kbp_pipeline *p, const kbp_health_thresholds *thresholds)
{
	kbp_health_thresholds t = KBP_HEALTH_THRESHOLDS_INIT;
	findings fs = { NULL, 0, 0 };
	int rc;

	KBP_CHECK_OUT(out);
	*out = NULL;
	KBP_CHECK_PIPELINE(p);
	if (thresholds && (rc = read_thresholds(&t, thresholds)))
		return rc;
	fs.h = calloc(1, sizeof(*fs.h));
	if (!fs.h)
		return kbp__oom();
	if ((rc = kbp_metrics_get(&fs.h->metrics, p))) {
		kbp_health_free(fs.h);
		return rc;
	}
	evaluate(&fs, &fs.h->metrics, &t);
	if (fs.failed) {
		kbp_health_free(fs.h);
		return kbp__oom();
	}
	*out = fs.h;
	return 0;
}
