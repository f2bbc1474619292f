/* SPDX-License-Identifier: MIT */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/pipeline_internal.h"

int kbp_metrics_get(kbp_metrics *out, kbp_pipeline *p)
{
	KBP_CHECK_OUT(out);
	memset(out, 0, sizeof(*out));
	KBP_CHECK_PIPELINE(p);
	return p->storage->metrics(p->storage, kbp_pipeline_now(p), out);
}

static void gauge(FILE *f, const char *name, const char *help, int64_t value)
{
	fprintf(f, "# HELP kbp_%s %s\n# TYPE kbp_%s gauge\nkbp_%s %lld\n", name, help, name, name,
	        (long long)value);
}

static void labelled(FILE *f, const char *name, const char *help, const char *label,
                     const char *(*label_name)(int), const int64_t *values, int n)
{
	fprintf(f, "# HELP kbp_%s %s\n# TYPE kbp_%s gauge\n", name, help, name);
	for (int i = 0; i < n; i++)
		fprintf(f, "kbp_%s{%s=\"%s\"} %lld\n", name, label, label_name(i), (long long)values[i]);
}

static const char *job_state_label(int i)
{
	return kbp_job_state_name((kbp_job_state)i);
}

static const char *intent_status_label(int i)
{
	return kbp_intent_status_name((kbp_intent_status)i);
}

static void write_exposition(FILE *f, const kbp_metrics *m)
{
	labelled(f, "jobs", "Jobs by state.", "state", job_state_label, m->jobs, KBP_JOB_STATE_COUNT);
	gauge(f, "jobs_stuck", "Running jobs whose lease has passed.", m->jobs_stuck);
	gauge(f, "jobs_failed_last_hour", "Jobs that failed for good in the last hour.",
	      m->jobs_failed_last_hour);
	gauge(f, "jobs_oldest_available_age_ms", "Age of the oldest due available job.",
	      m->oldest_available_age_ms);
	gauge(f, "jobs_rescued_last_hour", "Jobs rescued from lapsed leases in the last hour.",
	      m->jobs_rescued_last_hour);
	labelled(f, "intents", "Payment intents by status.", "status", intent_status_label,
	         m->intents, KBP_INTENT_STATUS_COUNT);
	gauge(f, "orders", "Orders created.", m->orders);
	gauge(f, "orders_without_items", "Orders with no items (must be 0).", m->orders_without_items);
	gauge(f, "paid_intents_without_order", "Succeeded intents with no order yet.",
	      m->paid_intents_without_order);
	gauge(f, "paid_intents_without_order_late",
	      "Succeeded intents paid over a minute ago with no order yet.",
	      m->paid_intents_without_order_late);
	gauge(f, "paid_without_order_oldest_ms",
	      "Since the oldest succeeded intent with no order yet was paid.",
	      m->paid_without_order_oldest_ms);
	gauge(f, "needs_refund", "Intents whose payment must be refunded.", m->needs_refund);
	gauge(f, "verifications_rejected", "Callbacks rejected.", m->verifications_rejected);
	fprintf(f, "# HELP kbp_finalize_latency_ms Payment accepted to order created, recent orders.\n"
	           "# TYPE kbp_finalize_latency_ms summary\n"
	           "kbp_finalize_latency_ms{quantile=\"0.5\"} %lld\n"
	           "kbp_finalize_latency_ms{quantile=\"0.95\"} %lld\n"
	           "kbp_finalize_latency_ms{quantile=\"0.99\"} %lld\n",
	        (long long)m->finalize_p50_ms, (long long)m->finalize_p95_ms,
	        (long long)m->finalize_p99_ms);
}

int kbp_metrics_prometheus(char **out, kbp_pipeline *p)
{
	kbp_metrics m;
	size_t size = 0;
	char *text = NULL;
	FILE *f;
	int rc;

	KBP_CHECK_OUT(out);
	*out = NULL;
	if ((rc = kbp_metrics_get(&m, p)))
		return rc;
	f = open_memstream(&text, &size);
	if (!f)
		return kbp__oom();
	write_exposition(f, &m);
	if (fclose(f) != 0) {
		free(text);
		return kbp__oom();
	}
	*out = text;
	return 0;
}
