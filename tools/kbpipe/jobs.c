/* SPDX-License-Identifier: MIT */
/* kbpipe jobs: list, show, retry, cancel and requeue-stale (kbp_jobs_list(3) and friends). */
#include "kbpipe.h"

#include <ctype.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <cjson/cJSON.h>

void kbpipe_jobs_usage(FILE *f)
{
	fputs("usage: kbpipe [GLOBAL OPTIONS] jobs list [--state S] [--kind K] [--since TIME]\n"
	      "                                     [--limit N] [--after CURSOR] [--json]\n"
	      "       kbpipe [GLOBAL OPTIONS] jobs show ID [--json]\n"
	      "       kbpipe [GLOBAL OPTIONS] jobs retry ID | --all-failed [--kind K]\n"
	      "       kbpipe [GLOBAL OPTIONS] jobs cancel ID\n"
	      "       kbpipe [GLOBAL OPTIONS] jobs requeue-stale\n"
	      "\n"
	      "  list            jobs, newest first, one page at a time\n"
	      "    --state S     available, running, completed, failed or canceled\n"
	      "    --kind K      only jobs of this kind, e.g. finalize_order\n"
	      "    --since TIME  created at or after TIME: ISO 8601 (2024-05-01,\n"
	      "                  2024-05-01T10:00:00Z, …+05:45), epoch milliseconds, or an\n"
	      "                  age such as 90s, 15m, 2h, 7d\n"
	      "    --limit N     jobs per page, 1..1000 (default 100)\n"
	      "    --after C     the page after cursor C, printed at the end of a full page\n"
	      "    --json        one JSON object: {\"jobs\": […], \"next_after\": C or null}\n"
	      "  show ID         one job with its payload and error history\n"
	      "  retry ID        a failed or canceled job becomes available now\n"
	      "    --all-failed  retry every failed job (of kind K with --kind)\n"
	      "  cancel ID       an available or failed job becomes canceled\n"
	      "  requeue-stale   running jobs whose lease has passed become available\n"
	      "\n"
	      "Job ids look like job_…. Exit status: 0 success, 1 failure (no such job, a state\n"
	      "that does not allow the change, storage error), 64 usage error.\n", f);
}

/* "cancelled" was the state's name before it took the intent's spelling; scripts
 * that still pass it keep working. */
static int parse_state(const char *s)
{
	for (int i = 0; i < KBP_JOB_STATE_COUNT; i++)
		if (strcmp(s, kbp_job_state_name((kbp_job_state)i)) == 0)
			return i;
	if (strcmp(s, "cancelled") == 0)
		return KBP_JOB_CANCELED;
	return -1;
}

static int digits(const char **s, int n, int *out)
{
	int v = 0;

	for (int i = 0; i < n; i++) {
		if (!isdigit((unsigned char)**s))
			return -1;
		v = v * 10 + (**s - '0');
		++*s;
	}
	*out = v;
	return 0;
}

/* ISO 8601 (date, or date and time with an optional zone: UTC when none), epoch ms, or an age. */
static int parse_since(const char *s, int64_t now, int64_t *out)
{
	struct tm tm;
	int y, mo, d, h = 0, mi = 0, sec = 0, ms = 0, off = 0;
	const char *p = s;
	size_t n = strlen(s);
	time_t t;

	if (n == 0)
		return -1;
	if (strspn(s, "0123456789") == n) {
		long v;
		if (n > 15 || kbpipe_parse_long(s, 0, 999999999999999L, &v))
			return -1;
		*out = v;
		return 0;
	}
	if (n >= 2 && strspn(s, "0123456789") == n - 1 && strchr("smhd", s[n - 1])) {
		long v;
		char num[16];
		int64_t unit = s[n - 1] == 's' ? 1000 : s[n - 1] == 'm' ? 60000
		               : s[n - 1] == 'h' ? 3600000 : 86400000;
		if (n - 1 >= sizeof num)
			return -1;
		memcpy(num, s, n - 1);
		num[n - 1] = '\0';
		if (kbpipe_parse_long(num, 0, 36500L * 86400L, &v))
			return -1;
		*out = now - (int64_t)v * unit;
		if (*out < 0)
			*out = 0;
		return 0;
	}
	if (digits(&p, 4, &y) || *p++ != '-' || digits(&p, 2, &mo) || *p++ != '-' ||
	    digits(&p, 2, &d))
		return -1;
	if (*p == 'T' || *p == 't' || *p == ' ') {
		p++;
		if (digits(&p, 2, &h) || *p++ != ':' || digits(&p, 2, &mi))
			return -1;
		if (*p == ':') {
			p++;
			if (digits(&p, 2, &sec))
				return -1;
			if (*p == '.' || *p == ',') {
				int scale = 100;
				p++;
				if (!isdigit((unsigned char)*p))
					return -1;
				while (isdigit((unsigned char)*p)) {
					ms += (*p - '0') * scale;
					scale /= 10;
					p++;
				}
			}
		}
		if (*p == 'Z' || *p == 'z') {
			p++;
		} else if (*p == '+' || *p == '-') {
			int sign = *p++ == '-' ? -1 : 1, oh, om = 0;
			if (digits(&p, 2, &oh))
				return -1;
			if (*p == ':')
				p++;
			if (*p && digits(&p, 2, &om))
				return -1;
			if (oh > 23 || om > 59)
				return -1;
			off = sign * (oh * 60 + om);
		}
	}
	if (*p || mo < 1 || mo > 12 || d < 1 || d > 31 || h > 23 || mi > 59 || sec > 60 || y < 1970)
		return -1;
	memset(&tm, 0, sizeof tm);
	tm.tm_year = y - 1900;
	tm.tm_mon = mo - 1;
	tm.tm_mday = d;
	tm.tm_hour = h;
	tm.tm_min = mi;
	tm.tm_sec = sec;
	t = timegm(&tm);
	if (t == (time_t)-1)
		return -1;
	/* Reject 2024-02-31 and the like, which timegm would carry into March. */
	{
		struct tm back;
		gmtime_r(&t, &back);
		if (back.tm_mday != d || back.tm_mon != mo - 1)
			return -1;
	}
	*out = ((int64_t)t - (int64_t)off * 60) * 1000 + ms;
	return *out < 0 ? -1 : 0;
}

/* ---- output ------------------------------------------------------------- */

/* A listed job leaves out its payload and error history; jobs show has them. */
static cJSON *job_json(const kbp_job *j, int full)
{
	cJSON *o = kbpipe_json_job(j);

	if (o && !full) {
		cJSON_DeleteItemFromObjectCaseSensitive(o, "payload");
		cJSON_DeleteItemFromObjectCaseSensitive(o, "errors");
	}
	return o;
}

/* The first line of s in at most max bytes (max < len), "..." marking a cut. */
static void cell(char *out, size_t len, const char *s, size_t max)
{
	size_t n = 0;

	if (!s)
		s = "";
	if (max >= len)
		max = len - 1;
	while (s[n] && s[n] != '\n' && n < max)
		n++;
	memcpy(out, s, n);
	out[n] = '\0';
	if (s[n] && max > 3)
		memcpy(out + (n > max - 3 ? max - 3 : n), "...", 4);
}

/* ---- list --------------------------------------------------------------- */

static int jobs_list(const kbpipe_ctx *ctx, int argc, char **argv)
{
	kbp_job_filter filter = KBP_JOB_FILTER_INIT;
	kbp_options opts = KBP_OPTIONS_INIT;
	kbp_pipeline *p = NULL;
	kbp_job_list *list = NULL;
	const char *since = NULL;
	int json = 0, rc;

	for (int i = 1; i < argc; i++) {
		const char *v;
		long n;
		int m;

		if (kbpipe_is_help(argv[i])) {
			kbpipe_jobs_usage(stdout);
			return KBPIPE_EXIT_OK;
		}
		if (strcmp(argv[i], "--json") == 0) {
			json = 1;
			continue;
		}
		if ((m = kbpipe_opt_value(argc, argv, &i, "--state", &v)) != 0) {
			if (m < 0 || (filter.state = parse_state(v)) < 0)
				return kbpipe_usage_error("jobs list: --state must be available, running, "
				                          "completed, failed or canceled");
			continue;
		}
		if ((m = kbpipe_opt_value(argc, argv, &i, "--kind", &v)) != 0) {
			if (m < 0 || !*v || strlen(v) > KBP_JOB_KIND_MAX)
				return kbpipe_usage_error("jobs list: --kind needs a job kind of 1 to %d bytes",
				                          KBP_JOB_KIND_MAX);
			filter.kind = v;
			continue;
		}
		if ((m = kbpipe_opt_value(argc, argv, &i, "--since", &v)) != 0) {
			if (m < 0)
				return kbpipe_usage_error("jobs list: --since needs a time");
			since = v;
			continue;
		}
		if ((m = kbpipe_opt_value(argc, argv, &i, "--limit", &v)) != 0) {
			if (m < 0 || kbpipe_parse_long(v, 1, KBP_JOB_LIST_MAX, &n))
				return kbpipe_usage_error("jobs list: --limit must be a number from 1 to %d",
				                          KBP_JOB_LIST_MAX);
			filter.limit = (size_t)n;
			continue;
		}
		if ((m = kbpipe_opt_value(argc, argv, &i, "--after", &v)) != 0) {
			if (m < 0 || kbpipe_check_id(v, "") != 0)
				return kbpipe_usage_error("jobs list: --after needs a cursor printed by a "
				                          "previous page");
			filter.after = v;
			continue;
		}
		return kbpipe_bad_arg("jobs list", argv[i]);
	}
	if ((rc = kbpipe_open(&p, ctx, &opts)))
		return rc;
	if (since && parse_since(since, kbp_pipeline_now(p), &filter.since)) {
		kbp_pipeline_close(p);
		return kbpipe_usage_error("jobs list: --since '%s' is not an ISO 8601 time, epoch "
		                          "milliseconds or an age such as 2h", since);
	}
	rc = kbp_jobs_list(&list, p, &filter);
	kbp_pipeline_close(p);
	if ((rc == KBP_EINVAL || rc == KBP_ENOTFOUND) && filter.after)
		return kbpipe_usage_error("jobs list: --after '%s' is not a valid cursor", filter.after);
	if (rc)
		return kbpipe_lib_error("jobs list", rc);
	if (json) {
		cJSON *o = cJSON_CreateObject(), *arr = cJSON_AddArrayToObject(o, "jobs");
		for (size_t i = 0; arr && i < list->n; i++)
			cJSON_AddItemToArray(arr, job_json(&list->jobs[i], 0));
		if (list->next_after)
			cJSON_AddStringToObject(o, "next_after", list->next_after);
		else
			cJSON_AddNullToObject(o, "next_after");
		kbp_job_list_free(list);
		return kbpipe_print_json(o);
	}
	if (list->n == 0) {
		puts("no jobs");
	} else {
		printf("%-24s  %-18s  %-9s  %-8s  %-24s  %s\n", "ID", "KIND", "STATE", "ATTEMPTS",
		       "CREATED", "LAST ERROR");
		for (size_t i = 0; i < list->n; i++) {
			const kbp_job *j = &list->jobs[i];
			char when[40], att[24], err[72];

			snprintf(att, sizeof att, "%d/%d", j->attempts, j->max_attempts);
			cell(err, sizeof err, j->last_error, 60);
			printf("%-24s  %-18s  %-9s  %-8s  %-24s  %s\n", j->id, j->kind,
			       kbp_job_state_name(j->state), att, kbpipe_time(when, sizeof when, j->created_at),
			       err[0] ? err : "-");
		}
	}
	if (list->next_after)
		printf("more: --after %s\n", list->next_after);
	kbp_job_list_free(list);
	return KBPIPE_EXIT_OK;
}

/* ---- show --------------------------------------------------------------- */

/* Parses "SUB ID [--json]" style arguments; returns 0 or an exit status. */
static int one_id(const char *cmd, int argc, char **argv, int allow_json, const char **id, int *json)
{
	*id = NULL;
	if (json)
		*json = 0;
	for (int i = 1; i < argc; i++) {
		if (kbpipe_is_help(argv[i])) {
			kbpipe_jobs_usage(stdout);
			return -1;
		}
		if (allow_json && strcmp(argv[i], "--json") == 0) {
			*json = 1;
			continue;
		}
		if (argv[i][0] == '-' || *id)
			return kbpipe_bad_arg(cmd, argv[i]);
		*id = argv[i];
	}
	if (!*id)
		return kbpipe_usage_error("%s: needs a job id (see 'kbpipe help jobs')", cmd);
	if (kbpipe_check_id(*id, "job_"))
		return kbpipe_usage_error("%s: '%s' is not a job id (job_…)", cmd, *id);
	return 0;
}

static int jobs_show(const kbpipe_ctx *ctx, int argc, char **argv)
{
	kbp_options opts = KBP_OPTIONS_INIT;
	kbp_pipeline *p;
	kbp_job *j = NULL;
	const char *id;
	char t1[40];
	int json, rc;

	if ((rc = one_id("jobs show", argc, argv, 1, &id, &json)))
		return rc < 0 ? KBPIPE_EXIT_OK : rc;
	if ((rc = kbpipe_open(&p, ctx, &opts)))
		return rc;
	rc = kbp_job_get(&j, p, id);
	kbp_pipeline_close(p);
	if (rc)
		return kbpipe_lib_error("jobs show", rc);
	if (json) {
		rc = kbpipe_print_json(job_json(j, 1));
		kbp_job_free(j);
		return rc;
	}
	printf("id            %s\n", j->id);
	printf("kind          %s\n", j->kind);
	printf("state         %s\n", kbp_job_state_name(j->state));
	printf("priority      %d\n", j->priority);
	printf("attempts      %d of %d\n", j->attempts, j->max_attempts);
	printf("run_at        %s\n", kbpipe_time(t1, sizeof t1, j->run_at));
	if (j->state == KBP_JOB_RUNNING) {
		printf("lease_until   %s\n", kbpipe_time(t1, sizeof t1, j->lease_until));
		printf("locked_by     %s\n", j->locked_by ? j->locked_by : "-");
	}
	printf("unique_key    %s\n", j->unique_key ? j->unique_key : "-");
	printf("created_at    %s\n", kbpipe_time(t1, sizeof t1, j->created_at));
	printf("updated_at    %s\n", kbpipe_time(t1, sizeof t1, j->updated_at));
	printf("finished_at   %s\n", kbpipe_time(t1, sizeof t1, j->finished_at));
	printf("payload       %s\n", j->payload ? j->payload : "-");
	printf("last_error    %s\n", j->last_error ? j->last_error : "-");
	if (j->n_errors) {
		puts("errors");
		for (size_t i = 0; i < j->n_errors; i++)
			printf("  attempt %d at %s: %s\n", j->errors[i].attempt,
			       kbpipe_time(t1, sizeof t1, j->errors[i].at),
			       j->errors[i].message ? j->errors[i].message : "");
	}
	kbp_job_free(j);
	return KBPIPE_EXIT_OK;
}

/* ---- retry, cancel, requeue-stale ---------------------------------------- */

static int retry_all_failed(kbp_pipeline *p, const char *kind)
{
	kbp_job_filter f = KBP_JOB_FILTER_INIT;
	char **ids = NULL, *cursor = NULL;
	size_t n = 0, cap = 0, retried = 0, failed = 0;
	int rc = 0;

	/* Collect first, then retry: retrying takes jobs out of the listing being paged. */
	f.state = KBP_JOB_FAILED;
	f.kind = kind;
	f.limit = KBP_JOB_LIST_MAX;
	for (;;) {
		kbp_job_list *list = NULL;

		f.after = cursor;
		rc = kbp_jobs_list(&list, p, &f);
		if (rc)
			break;
		for (size_t i = 0; i < list->n; i++) {
			if (n == cap) {
				size_t ncap = cap ? cap * 2 : 64;
				char **g = realloc(ids, ncap * sizeof *ids);
				if (!g) {
					rc = KBP_ENOMEM;
					break;
				}
				ids = g;
				cap = ncap;
			}
			if (!(ids[n] = strdup(list->jobs[i].id))) {
				rc = KBP_ENOMEM;
				break;
			}
			n++;
		}
		free(cursor);
		cursor = list->next_after ? strdup(list->next_after) : NULL;
		kbp_job_list_free(list);
		if (rc || !cursor)
			break;
	}
	free(cursor);
	if (rc) {
		for (size_t i = 0; i < n; i++)
			free(ids[i]);
		free(ids);
		return rc == KBP_ENOMEM ? kbpipe_fail("out of memory") : kbpipe_lib_error("jobs retry", rc);
	}
	for (size_t i = 0; i < n; i++) {
		int r = kbp_job_retry(p, ids[i]);
		if (r == 0) {
			retried++;
		} else {
			const kbp_error *e = kbp_error_last();
			/* Another operator or worker may have got there first: say so, go on. */
			fprintf(stderr, "kbpipe: jobs retry: %s: %s: %s\n", ids[i], kbpipe_code_name(r),
			        e->code == r && e->message ? e->message : kbp_strerror(r));
			failed++;
		}
		free(ids[i]);
	}
	free(ids);
	printf("retried %zu failed job%s%s%s\n", retried, retried == 1 ? "" : "s",
	       kind ? " of kind " : "", kind ? kind : "");
	if (failed)
		return kbpipe_fail("jobs retry: %zu job%s could not be retried", failed,
		                   failed == 1 ? "" : "s");
	return KBPIPE_EXIT_OK;
}

static int jobs_retry(const kbpipe_ctx *ctx, int argc, char **argv)
{
	kbp_options opts = KBP_OPTIONS_INIT;
	kbp_pipeline *p;
	const char *id = NULL, *kind = NULL;
	int all = 0, rc;

	for (int i = 1; i < argc; i++) {
		const char *v;
		int m;

		if (kbpipe_is_help(argv[i])) {
			kbpipe_jobs_usage(stdout);
			return KBPIPE_EXIT_OK;
		}
		if (strcmp(argv[i], "--all-failed") == 0) {
			all = 1;
			continue;
		}
		if ((m = kbpipe_opt_value(argc, argv, &i, "--kind", &v)) != 0) {
			if (m < 0 || !*v || strlen(v) > KBP_JOB_KIND_MAX)
				return kbpipe_usage_error("jobs retry: --kind needs a job kind of 1 to %d bytes",
				                          KBP_JOB_KIND_MAX);
			kind = v;
			continue;
		}
		if (argv[i][0] == '-' || id)
			return kbpipe_bad_arg("jobs retry", argv[i]);
		id = argv[i];
	}
	if (all && id)
		return kbpipe_usage_error("jobs retry: give a job id or --all-failed, not both");
	if (!all && !id)
		return kbpipe_usage_error("jobs retry: needs a job id or --all-failed");
	if (kind && !all)
		return kbpipe_usage_error("jobs retry: --kind goes with --all-failed");
	if (id && kbpipe_check_id(id, "job_"))
		return kbpipe_usage_error("jobs retry: '%s' is not a job id (job_…)", id);
	if ((rc = kbpipe_open(&p, ctx, &opts)))
		return rc;
	if (all) {
		rc = retry_all_failed(p, kind);
	} else if ((rc = kbp_job_retry(p, id)) != 0) {
		rc = kbpipe_lib_error("jobs retry", rc);
	} else {
		printf("job %s is available again\n", id);
	}
	kbp_pipeline_close(p);
	return rc;
}

static int jobs_cancel(const kbpipe_ctx *ctx, int argc, char **argv)
{
	kbp_options opts = KBP_OPTIONS_INIT;
	kbp_pipeline *p;
	const char *id;
	int rc;

	if ((rc = one_id("jobs cancel", argc, argv, 0, &id, NULL)))
		return rc < 0 ? KBPIPE_EXIT_OK : rc;
	if ((rc = kbpipe_open(&p, ctx, &opts)))
		return rc;
	rc = kbp_job_cancel(p, id);
	kbp_pipeline_close(p);
	if (rc)
		return kbpipe_lib_error("jobs cancel", rc);
	printf("job %s is canceled\n", id);
	return KBPIPE_EXIT_OK;
}

static int jobs_rescue_stale(const kbpipe_ctx *ctx, int argc, char **argv)
{
	kbp_options opts = KBP_OPTIONS_INIT;
	kbp_pipeline *p;
	int64_t n = 0;
	int rc;

	for (int i = 1; i < argc; i++) {
		if (kbpipe_is_help(argv[i])) {
			kbpipe_jobs_usage(stdout);
			return KBPIPE_EXIT_OK;
		}
		return kbpipe_bad_arg("jobs requeue-stale", argv[i]);
	}
	if ((rc = kbpipe_open(&p, ctx, &opts)))
		return rc;
	rc = kbp_jobs_rescue(&n, p);
	kbp_pipeline_close(p);
	if (rc)
		return kbpipe_lib_error("jobs requeue-stale", rc);
	printf("requeued %lld stale job%s\n", (long long)n, n == 1 ? "" : "s");
	return KBPIPE_EXIT_OK;
}

int kbpipe_jobs(const kbpipe_ctx *ctx, int argc, char **argv)
{
	static const struct {
		const char *name;
		int (*run)(const kbpipe_ctx *, int, char **);
	} subs[] = {
		{ "list", jobs_list },
		{ "show", jobs_show },
		{ "retry", jobs_retry },
		{ "cancel", jobs_cancel },
		{ "requeue-stale", jobs_rescue_stale },
	};

	if (argc < 2)
		return kbpipe_usage_error("jobs: needs a subcommand: list, show, retry, cancel or "
		                          "requeue-stale (see 'kbpipe help jobs')");
	if (kbpipe_is_help(argv[1])) {
		kbpipe_jobs_usage(stdout);
		return KBPIPE_EXIT_OK;
	}
	for (size_t i = 0; i < sizeof subs / sizeof subs[0]; i++)
		if (strcmp(argv[1], subs[i].name) == 0)
			return subs[i].run(ctx, argc - 1, argv + 1);
	return kbpipe_usage_error("jobs: unknown subcommand '%s' (see 'kbpipe help jobs')", argv[1]);
}
