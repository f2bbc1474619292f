/* SPDX-License-Identifier: MIT */
/* kbpipe stats, health and doctor: kbp_metrics_get(3), kbp_health_check(3), kbp_doctor_run(3). */
#include "kbpipe.h"

#include <stddef.h>
#include <stdlib.h>
#include <string.h>

#include <cjson/cJSON.h>

/* ---- stats -------------------------------------------------------------- */

void kbpipe_stats_usage(FILE *f)
{
	fputs("usage: kbpipe [GLOBAL OPTIONS] stats [--json | --prometheus]\n"
	      "\n"
	      "Prints the pipeline's metrics: jobs by state, stuck jobs, failures and\n"
	      "rescues in the last hour, the age of the oldest due job, intents by status,\n"
	      "orders, integrity counters and the finalize latency percentiles.\n"
	      "\n"
	      "  --json         one JSON object\n"
	      "  --prometheus   Prometheus text exposition format\n"
	      "\n"
	      "Exit status: 0 success, 1 failure, 64 usage error.\n", f);
}

/* The members, and the finalize latency again as one object (finalize_ms.p50 …). */
static cJSON *metrics_json(const kbp_metrics *m)
{
	cJSON *o = kbpipe_json_metrics(m), *fin;

	if (!o)
		return NULL;
	fin = cJSON_AddObjectToObject(o, "finalize_ms");
	if (fin) {
		cJSON_AddNumberToObject(fin, "p50", (double)m->finalize_p50_ms);
		cJSON_AddNumberToObject(fin, "p95", (double)m->finalize_p95_ms);
		cJSON_AddNumberToObject(fin, "p99", (double)m->finalize_p99_ms);
	}
	return o;
}

static void metrics_text(const kbp_metrics *m)
{
	char name[64];

	for (int i = 0; i < KBP_JOB_STATE_COUNT; i++) {
		snprintf(name, sizeof name, "jobs_%s", kbp_job_state_name((kbp_job_state)i));
		printf("%-28s %lld\n", name, (long long)m->jobs[i]);
	}
	printf("%-28s %lld\n", "jobs_stuck", (long long)m->jobs_stuck);
	printf("%-28s %lld\n", "jobs_failed_last_hour", (long long)m->jobs_failed_last_hour);
	printf("%-28s %lld\n", "jobs_rescued_last_hour", (long long)m->jobs_rescued_last_hour);
	printf("%-28s %lld\n", "oldest_available_age_ms", (long long)m->oldest_available_age_ms);
	for (int i = 0; i < KBP_INTENT_STATUS_COUNT; i++) {
		snprintf(name, sizeof name, "intents_%s", kbp_intent_status_name((kbp_intent_status)i));
		printf("%-28s %lld\n", name, (long long)m->intents[i]);
	}
	printf("%-28s %lld\n", "orders", (long long)m->orders);
	printf("%-28s %lld\n", "orders_without_items", (long long)m->orders_without_items);
	printf("%-28s %lld\n", "paid_intents_without_order", (long long)m->paid_intents_without_order);
	printf("%-28s %lld\n", "paid_intents_without_order_late",
	       (long long)m->paid_intents_without_order_late);
	printf("%-28s %lld\n", "paid_without_order_oldest_ms",
	       (long long)m->paid_without_order_oldest_ms);
	printf("%-28s %lld\n", "needs_refund", (long long)m->needs_refund);
	printf("%-28s %lld\n", "verifications_rejected", (long long)m->verifications_rejected);
	printf("%-28s %lld\n", "finalize_p50_ms", (long long)m->finalize_p50_ms);
	printf("%-28s %lld\n", "finalize_p95_ms", (long long)m->finalize_p95_ms);
	printf("%-28s %lld\n", "finalize_p99_ms", (long long)m->finalize_p99_ms);
}

int kbpipe_stats(const kbpipe_ctx *ctx, int argc, char **argv)
{
	kbp_options opts = KBP_OPTIONS_INIT;
	kbp_pipeline *p;
	kbp_metrics m;
	int json = 0, prom = 0, rc;

	for (int i = 1; i < argc; i++) {
		if (kbpipe_is_help(argv[i])) {
			kbpipe_stats_usage(stdout);
			return KBPIPE_EXIT_OK;
		}
		if (strcmp(argv[i], "--json") == 0)
			json = 1;
		else if (strcmp(argv[i], "--prometheus") == 0)
			prom = 1;
		else
			return kbpipe_bad_arg("stats", argv[i]);
	}
	if (json && prom)
		return kbpipe_usage_error("stats: choose one of --json and --prometheus");
	if ((rc = kbpipe_open(&p, ctx, &opts)))
		return rc;
	if (prom) {
		char *text = NULL;

		rc = kbp_metrics_prometheus(&text, p);
		kbp_pipeline_close(p);
		if (rc)
			return kbpipe_lib_error("stats", rc);
		fputs(text, stdout);
		kbp_free(text);
		return KBPIPE_EXIT_OK;
	}
	rc = kbp_metrics_get(&m, p);
	kbp_pipeline_close(p);
	if (rc)
		return kbpipe_lib_error("stats", rc);
	if (json)
		return kbpipe_print_json(metrics_json(&m));
	metrics_text(&m);
	return KBPIPE_EXIT_OK;
}

/* ---- health ------------------------------------------------------------- */

void kbpipe_health_usage(FILE *f)
{
	fputs("usage: kbpipe [GLOBAL OPTIONS] health [--stuck-critical N] [--failed-hour-warning N]\n"
	      "                                       [--finalize-p95-warning-ms N]\n"
	      "                                       [--paid-without-order-critical-ms N] [--json]\n"
	      "\n"
	      "Checks the metrics against thresholds and prints the level and the findings.\n"
	      "\n"
	      "  --stuck-critical N            critical above N stuck jobs (default 5)\n"
	      "  --failed-hour-warning N       warning above N jobs failed in the last hour\n"
	      "                                (default 10)\n"
	      "  --finalize-p95-warning-ms N   warning when the p95 time from payment to order\n"
	      "                                exceeds N ms (default 10000)\n"
	      "  --paid-without-order-critical-ms N\n"
	      "                                critical when an intent paid more than N ms ago\n"
	      "                                (at least 60000) has no order (default 600000);\n"
	      "                                after 60000 ms it is a warning\n"
	      "  --json                        one JSON object: level, findings, metrics\n"
	      "\n"
	      "Exit status: 0 ok or info, 1 warning, 2 critical, 3 the health could not be\n"
	      "determined (e.g. the storage cannot be reached), 64 usage error, 78 config error.\n",
	      f);
}

static int health_exit(kbp_health_level level)
{
	switch (level) {
	case KBP_HEALTH_CRITICAL: return KBPIPE_EXIT_HEALTH_CRITICAL;
	case KBP_HEALTH_WARNING: return KBPIPE_EXIT_HEALTH_WARNING;
	default: return KBPIPE_EXIT_OK;
	}
}

int kbpipe_health(const kbpipe_ctx *ctx, int argc, char **argv)
{
	kbp_health_thresholds th = KBP_HEALTH_THRESHOLDS_INIT;
	kbp_options opts = KBP_OPTIONS_INIT;
	kbp_pipeline *p;
	kbp_health *h = NULL;
	int json = 0, rc;

	for (int i = 1; i < argc; i++) {
		static const struct {
			const char *name;
			size_t off;
		} nums[] = {
			{ "--stuck-critical", offsetof(kbp_health_thresholds, stuck_critical) },
			{ "--failed-hour-warning", offsetof(kbp_health_thresholds, failed_hour_warning) },
			{ "--finalize-p95-warning-ms", offsetof(kbp_health_thresholds, finalize_p95_warning_ms) },
			{ "--paid-without-order-critical-ms",
			  offsetof(kbp_health_thresholds, paid_without_order_critical_ms) },
		};
		int matched = 0;

		if (kbpipe_is_help(argv[i])) {
			kbpipe_health_usage(stdout);
			return KBPIPE_EXIT_OK;
		}
		if (strcmp(argv[i], "--json") == 0) {
			json = 1;
			continue;
		}
		for (size_t k = 0; k < sizeof nums / sizeof nums[0] && !matched; k++) {
			const char *v;
			long n;
			int m = kbpipe_opt_value(argc, argv, &i, nums[k].name, &v);

			if (m == 0)
				continue;
			if (m < 0 || kbpipe_parse_long(v, 0, 1000000000000L, &n))
				return kbpipe_usage_error("health: %s needs a number from 0 to 10^12",
				                          nums[k].name);
			*(int64_t *)(void *)((char *)&th + nums[k].off) = n;
			matched = 1;
		}
		if (!matched)
			return kbpipe_bad_arg("health", argv[i]);
	}
	if ((rc = kbpipe_open(&p, ctx, &opts)))
		return KBPIPE_EXIT_HEALTH_UNKNOWN;
	rc = kbp_health_check(&h, p, &th);
	kbp_pipeline_close(p);
	if (rc) {
		kbpipe_lib_error("health", rc);
		return KBPIPE_EXIT_HEALTH_UNKNOWN;
	}
	rc = health_exit(h->level);
	if (json) {
		cJSON *o = kbpipe_json_health(h), *t;

		if (!o) {
			kbp_health_free(h);
			return KBPIPE_EXIT_HEALTH_UNKNOWN;
		}
		cJSON_ReplaceItemInObjectCaseSensitive(o, "metrics", metrics_json(&h->metrics));
		cJSON_AddNumberToObject(o, "exit_status", rc);
		t = cJSON_AddObjectToObject(o, "thresholds");
		if (t) {
			cJSON_AddNumberToObject(t, "stuck_critical", (double)th.stuck_critical);
			cJSON_AddNumberToObject(t, "failed_hour_warning", (double)th.failed_hour_warning);
			cJSON_AddNumberToObject(t, "finalize_p95_warning_ms",
			                        (double)th.finalize_p95_warning_ms);
			cJSON_AddNumberToObject(t, "paid_without_order_critical_ms",
			                        (double)th.paid_without_order_critical_ms);
		}
		kbp_health_free(h);
		if (kbpipe_print_json(o) != KBPIPE_EXIT_OK)
			return KBPIPE_EXIT_HEALTH_UNKNOWN;
		return rc;
	}
	printf("health: %s\n", kbp_health_level_name(h->level));
	for (size_t i = 0; i < h->n_findings; i++)
		printf("%-8s %-28s %s\n", kbp_health_level_name(h->findings[i].level),
		       h->findings[i].check, h->findings[i].message);
	kbp_health_free(h);
	return rc;
}

/* ---- doctor ------------------------------------------------------------- */

void kbpipe_doctor_usage(FILE *f)
{
	fputs("usage: kbpipe [GLOBAL OPTIONS] doctor [--json]\n"
	      "\n"
	      "Runs the integrity checks: orders without items, intents paid over a minute\n"
	      "ago without an order, products whose reserved units are not held by live\n"
	      "intents, products whose vendor is missing, and intents whose payment must be\n"
	      "refunded. Prints each check's count and up to 100 of the offending ids.\n"
	      "\n"
	      "  --json   one JSON object: problems, checks[name, description, count, ids]\n"
	      "\n"
	      "Exit status: 0 no problem found, 1 failure, 2 a check found a problem,\n"
	      "64 usage error.\n", f);
}

int kbpipe_doctor(const kbpipe_ctx *ctx, int argc, char **argv)
{
	kbp_options opts = KBP_OPTIONS_INIT;
	kbp_pipeline *p;
	kbp_doctor_report *r = NULL;
	int json = 0, rc;

	for (int i = 1; i < argc; i++) {
		if (kbpipe_is_help(argv[i])) {
			kbpipe_doctor_usage(stdout);
			return KBPIPE_EXIT_OK;
		}
		if (strcmp(argv[i], "--json") == 0)
			json = 1;
		else
			return kbpipe_bad_arg("doctor", argv[i]);
	}
	if ((rc = kbpipe_open(&p, ctx, &opts)))
		return rc;
	rc = kbp_doctor_run(&r, p);
	kbp_pipeline_close(p);
	if (rc)
		return kbpipe_lib_error("doctor", rc);
	rc = r->problems ? KBPIPE_EXIT_PROBLEMS : KBPIPE_EXIT_OK;
	if (json) {
		cJSON *o = kbpipe_json_doctor_report(r);

		kbp_doctor_report_free(r);
		if (kbpipe_print_json(o) != KBPIPE_EXIT_OK)
			return KBPIPE_EXIT_FAIL;
		return rc;
	}
	for (size_t i = 0; i < r->n_checks; i++) {
		const kbp_doctor_check *c = &r->checks[i];

		printf("%-28s %6lld  %s\n", c->name, (long long)c->count, c->description);
		for (size_t k = 0; k < c->n_ids; k++)
			printf("    %s\n", c->ids[k]);
		if ((int64_t)c->n_ids < c->count)
			printf("    … and %lld more\n", (long long)(c->count - (int64_t)c->n_ids));
	}
	printf("problems: %lld\n", (long long)r->problems);
	kbp_doctor_report_free(r);
	return rc;
}
