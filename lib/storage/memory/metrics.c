/* SPDX-License-Identifier: MIT */
#include <stdlib.h>
#include <string.h>

#include "storage/memory/memory_internal.h"

#define HOUR_MS INT64_C(3600000)

static void job_metrics(mem_store *m, int64_t now, kbp_metrics *out)
{
	void *value;

	for (size_t pos = 0; kbp_hmap_next(&m->jobs, &pos, NULL, &value);) {
		const kbp_job *j = &((mem_job *)value)->pub;
		out->jobs[j->state]++;
		if (j->state == KBP_JOB_RUNNING && j->lease_until < now)
			out->jobs_stuck++;
		if (j->state == KBP_JOB_FAILED && j->finished_at >= now - HOUR_MS)
			out->jobs_failed_last_hour++;
		if (j->state == KBP_JOB_AVAILABLE && j->run_at <= now &&
		    now - j->run_at > out->oldest_available_age_ms)
			out->oldest_available_age_ms = now - j->run_at;
	}
	for (size_t i = 0; i < m->rescues.n; i++)
		if (m->rescues.v[i] >= now - HOUR_MS)
			out->jobs_rescued_last_hour++;
}

static void paid_without_order(const mem_intent *in, int64_t now, kbp_metrics *out)
{
	int64_t age = now - in->rec.paid_at;

	out->paid_intents_without_order++;
	if (age > KBP_DOCTOR_PAID_GRACE_MS)
		out->paid_intents_without_order_late++;
	if (age > out->paid_without_order_oldest_ms)
		out->paid_without_order_oldest_ms = age;
}

static void intent_metrics(mem_store *m, int64_t now, kbp_metrics *out)
{
	void *value;

	for (size_t pos = 0; kbp_hmap_next(&m->intents, &pos, NULL, &value);) {
		const mem_intent *in = value;
		out->intents[in->rec.intent.status]++;
		if (in->rec.intent.needs_refund)
			out->needs_refund++;
		if (in->order) {
			out->orders++;
			if (in->order->n_items == 0)
				out->orders_without_items++;
		} else if (in->rec.intent.status == KBP_INTENT_SUCCEEDED) {
			paid_without_order(in, now, out);
		}
	}
}

static int compare_i64(const void *a, const void *b)
{
	int64_t x = *(const int64_t *)a, y = *(const int64_t *)b;

	return (x > y) - (x < y);
}

static int64_t percentile(const int64_t *sorted, size_t n, int pct)
{
	size_t i = (n * (size_t)pct + 99) / 100;

	return n ? sorted[i ? i - 1 : 0] : 0;
}

static void latency_metrics(mem_store *m, kbp_metrics *out)
{
	int64_t sorted[MEM_RING];
	size_t n = m->finalize_latency.n;

	memcpy(sorted, m->finalize_latency.v, n * sizeof(*sorted));
	qsort(sorted, n, sizeof(*sorted), compare_i64);
	out->finalize_p50_ms = percentile(sorted, n, 50);
	out->finalize_p95_ms = percentile(sorted, n, 95);
	out->finalize_p99_ms = percentile(sorted, n, 99);
}

int mem_metrics(kbp_storage *s, int64_t now, kbp_metrics *out)
{
	mem_store *m = mem_of(s);

	memset(out, 0, sizeof(*out));
	pthread_mutex_lock(&m->lock);
	job_metrics(m, now, out);
	intent_metrics(m, now, out);
	out->verifications_rejected = m->rejected_rows;
	latency_metrics(m, out);
	pthread_mutex_unlock(&m->lock);
	return 0;
}
