/* SPDX-License-Identifier: MIT */
/*
 * kbpipe worker: kbp_worker_start(3) threads, plus maintenance on a schedule
 * of its own, until SIGTERM or SIGINT.
 *
 * Signals: SIGTERM, SIGINT and SIGUSR1 are blocked in every thread before
 * the pipeline or a worker thread exists, and the main thread takes them
 * synchronously with sigtimedwait(), which is also its maintenance timer. No
 * handler runs asynchronously, so nothing here has to be async-signal-safe.
 * On a stop signal a helper thread calls kbp_worker_stop(), which lets every
 * thread finish the jobs it holds; it raises SIGUSR1 at the main thread when
 * done. If that takes longer than --grace, or a second stop signal comes,
 * the process exits with 75 at once: the jobs still held stay "running"
 * until their lease passes, and the next maintenance pass (of any worker
 * process) makes them available again.
 */
#include "kbpipe.h"

#include <errno.h>
#include <pthread.h>
#include <signal.h>
#include <stdatomic.h>
#include <stddef.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include <cjson/cJSON.h>

#define THREADS_MAX 256
#define BATCH_MAX 1000
#define EVERY_MAX 604800L           /* a week */
#define GRACE_MAX 86400L
#define LEASE_MS_MIN 100L
#define LEASE_MS_MAX 86400000L

enum { T_EXPIRE, T_RESCUE, T_RECONCILE, T_PRUNE, N_TASKS };

static const char *const task_names[N_TASKS] = { "expire", "rescue", "reconcile", "prune" };

typedef struct settings {
	long threads;
	long batch;
	const char *name;
	long every[N_TASKS];            /* seconds; 0: this interval never triggers a pass */
	long grace;
	kbpipe_log_format log;
	kbp_log_level level;
	long lease_ms;                  /* 0: the library's default */
} settings;

void kbpipe_worker_usage(FILE *f)
{
	fputs("usage: kbpipe [GLOBAL OPTIONS] worker [--threads N] [--batch N] [--name NAME]\n"
	      "           [--expire-every S] [--rescue-every S] [--reconcile-every S]\n"
	      "           [--prune-every S] [--grace S] [--lease-ms MS]\n"
	      "           [--log text|json] [--log-level debug|info|warn|error]\n"
	      "\n"
	      "Runs jobs on N threads, woken by new jobs, and maintenance passes on a\n"
	      "schedule, until SIGTERM or SIGINT. A maintenance pass (kbp_maintenance_run)\n"
	      "expires intents, rescues lapsed leases, prunes old jobs and schedules\n"
	      "reconciliations, all at once; it runs at start and whenever one of the\n"
	      "intervals has passed since the last pass. Passes are elected: with many\n"
	      "workers, one process does each pass.\n"
	      "\n"
	      "  --threads N           worker threads, 1..256 (default 1)\n"
	      "  --batch N             jobs a thread acquires at once, 1..1000 (default 16)\n"
	      "  --name NAME           worker id prefix, shown as a job's locked_by\n"
	      "                        (default kbpipe-HOST-PID)\n"
	      "  --expire-every S      expire intents every S seconds (default 60)\n"
	      "  --rescue-every S      rescue lapsed leases every S seconds (default 300)\n"
	      "  --reconcile-every S   schedule reconciliations every S seconds (default 60)\n"
	      "  --prune-every S       prune old jobs every S seconds (default 3600)\n"
	      "                        (0 for an interval: it never triggers a pass)\n"
	      "  --grace S             on SIGTERM/SIGINT wait up to S seconds for the jobs\n"
	      "                        in hand (default 30); then exit 75, leaving them to\n"
	      "                        be rescued when their lease passes\n"
	      "  --lease-ms MS         job lease, 100..86400000 (default the library's,\n"
	      "                        300000)\n"
	      "  --log text|json       log line format on stderr (default text)\n"
	      "  --log-level LEVEL     least level logged (default info)\n"
	      "\n"
	      "Defaults come from the config file's \"worker\" object, then these flags.\n"
	      "Exit status: 0 stopped by a signal with every job finished, 1 could not\n"
	      "start, 64 usage error, 75 stopped with jobs unfinished (grace ran out or a\n"
	      "second signal), 78 config error (including its gateways).\n", f);
}

/* ---- settings: defaults < config "worker" < flags ------------------------ */

typedef struct num_spec {
	const char *flag;
	const char *key;
	long min, max;
	size_t off;
} num_spec;

static const num_spec nums[] = {
	{ "--threads", "threads", 1, THREADS_MAX, offsetof(settings, threads) },
	{ "--batch", "batch", 1, BATCH_MAX, offsetof(settings, batch) },
	{ "--expire-every", "expire_every", 0, EVERY_MAX, offsetof(settings, every[T_EXPIRE]) },
	{ "--rescue-every", "rescue_every", 0, EVERY_MAX, offsetof(settings, every[T_RESCUE]) },
	{ "--reconcile-every", "reconcile_every", 0, EVERY_MAX,
	  offsetof(settings, every[T_RECONCILE]) },
	{ "--prune-every", "prune_every", 0, EVERY_MAX, offsetof(settings, every[T_PRUNE]) },
	{ "--grace", "grace", 0, GRACE_MAX, offsetof(settings, grace) },
	{ "--lease-ms", "lease_ms", LEASE_MS_MIN, LEASE_MS_MAX, offsetof(settings, lease_ms) },
};

#define N_NUMS (sizeof nums / sizeof nums[0])

static long *num_field(settings *s, size_t k)
{
	return (long *)(void *)((char *)s + nums[k].off);
}

static int parse_log(const char *v, kbpipe_log_format *out)
{
	if (strcmp(v, "text") == 0)
		*out = KBPIPE_LOG_TEXT;
	else if (strcmp(v, "json") == 0)
		*out = KBPIPE_LOG_JSON;
	else
		return -1;
	return 0;
}

static int name_ok(const char *v)
{
	return strlen(v) <= 64 && kbpipe_check_id(v, "") == 0;
}

static int apply_config(settings *s, const kbpipe_ctx *ctx)
{
	const cJSON *w = kbpipe_config_section(ctx, "worker"), *v;

	if (!w)
		return 0;
	for (size_t k = 0; k < N_NUMS; k++) {
		v = cJSON_GetObjectItemCaseSensitive(w, nums[k].key);
		if (!v)
			continue;
		if (v->valuedouble < (double)nums[k].min || v->valuedouble > (double)nums[k].max)
			return kbpipe_config_error("config file '%s': worker.%s must be from %ld to %ld",
			                           ctx->config_path, nums[k].key, nums[k].min, nums[k].max);
		*num_field(s, k) = (long)v->valuedouble;
	}
	if ((v = cJSON_GetObjectItemCaseSensitive(w, "name"))) {
		if (!name_ok(v->valuestring))
			return kbpipe_config_error("config file '%s': worker.name must be 1 to 64 letters, "
			                           "digits or ._:@-", ctx->config_path);
		s->name = v->valuestring;
	}
	if ((v = cJSON_GetObjectItemCaseSensitive(w, "log")) && parse_log(v->valuestring, &s->log))
		return kbpipe_config_error("config file '%s': worker.log must be \"text\" or \"json\"",
		                           ctx->config_path);
	if ((v = cJSON_GetObjectItemCaseSensitive(w, "log_level")) &&
	    kbpipe_log_level_parse(v->valuestring, &s->level))
		return kbpipe_config_error("config file '%s': worker.log_level must be debug, info, "
		                           "warn or error", ctx->config_path);
	return 0;
}

/* Returns 0, -1 after --help, or an exit status. */
static int apply_flags(settings *s, int argc, char **argv)
{
	for (int i = 1; i < argc; i++) {
		const char *v;
		int m, matched = 0;

		if (kbpipe_is_help(argv[i])) {
			kbpipe_worker_usage(stdout);
			return -1;
		}
		for (size_t k = 0; k < N_NUMS && !matched; k++) {
			long n;

			m = kbpipe_opt_value(argc, argv, &i, nums[k].flag, &v);
			if (m == 0)
				continue;
			if (m < 0 || kbpipe_parse_long(v, nums[k].min, nums[k].max, &n))
				return kbpipe_usage_error("worker: %s needs a number from %ld to %ld",
				                          nums[k].flag, nums[k].min, nums[k].max);
			*num_field(s, k) = n;
			matched = 1;
		}
		if (matched)
			continue;
		if ((m = kbpipe_opt_value(argc, argv, &i, "--name", &v)) != 0) {
			if (m < 0 || !name_ok(v))
				return kbpipe_usage_error("worker: --name needs 1 to 64 letters, digits or ._:@-");
			s->name = v;
			continue;
		}
		if ((m = kbpipe_opt_value(argc, argv, &i, "--log", &v)) != 0) {
			if (m < 0 || parse_log(v, &s->log))
				return kbpipe_usage_error("worker: --log must be text or json");
			continue;
		}
		if ((m = kbpipe_opt_value(argc, argv, &i, "--log-level", &v)) != 0) {
			if (m < 0 || kbpipe_log_level_parse(v, &s->level))
				return kbpipe_usage_error("worker: --log-level must be debug, info, warn or error");
			continue;
		}
		return kbpipe_bad_arg("worker", argv[i]);
	}
	return 0;
}

/* ---- the run ------------------------------------------------------------ */

typedef struct stopper {
	kbp_worker *worker;
	pthread_t main_thread;
	atomic_int done;
} stopper;

static void *stop_worker(void *arg)
{
	stopper *st = arg;

	kbp_worker_stop(st->worker);
	atomic_store(&st->done, 1);
	pthread_kill(st->main_thread, SIGUSR1);
	return NULL;
}

static double mono_s(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

static struct timespec span(double s)
{
	struct timespec ts;

	if (s < 0)
		s = 0;
	ts.tv_sec = (time_t)s;
	ts.tv_nsec = (long)((s - (double)ts.tv_sec) * 1e9);
	if (ts.tv_nsec >= 1000000000L)
		ts.tv_nsec = 999999999L;
	return ts;
}

static void maintenance(kbp_pipeline *p, const settings *s, double due[N_TASKS], double now)
{
	kbp_maintenance_result r;
	char why[64] = "";
	int rc;

	for (int t = 0; t < N_TASKS; t++)
		if (s->every[t] > 0 && due[t] <= now) {
			if (*why)
				strcat(why, ",");
			strcat(why, task_names[t]);
		}
	rc = kbp_maintenance_run(&r, p);
	if (rc) {
		const kbp_error *e = kbp_error_last();
		kbpipe_log(KBP_LOG_WARN, "maintenance (%s) failed: %s: %s", why, kbpipe_code_name(rc),
		           e->code == rc && e->message ? e->message : kbp_strerror(rc));
	} else if (!r.ran) {
		kbpipe_log(KBP_LOG_DEBUG, "maintenance (%s): another process holds the maintenance lock",
		           why);
	}
	/* A pass does every task, so each interval counts from this pass. */
	for (int t = 0; t < N_TASKS; t++)
		due[t] = now + (double)s->every[t];
}

static double next_due(const settings *s, const double due[N_TASKS])
{
	double next = -1;

	for (int t = 0; t < N_TASKS; t++)
		if (s->every[t] > 0 && (next < 0 || due[t] < next))
			next = due[t];
	return next;
}

int kbpipe_worker(const kbpipe_ctx *ctx, int argc, char **argv)
{
	settings s = { 1, 16, NULL, { 60, 300, 60, 3600 }, 30, KBPIPE_LOG_TEXT, KBP_LOG_INFO, 0 };
	kbp_options opts = KBP_OPTIONS_INIT;
	kbp_worker_options wopts = KBP_WORKER_OPTIONS_INIT;
	kbp_pipeline *p = NULL;
	kbp_worker *w = NULL;
	stopper st;
	pthread_t stop_thread;
	sigset_t set;
	char default_name[96], host[48], where[96];
	double due[N_TASKS], deadline, now;
	int rc, sig = 0;

	if ((rc = apply_config(&s, ctx)))
		return rc;
	if ((rc = apply_flags(&s, argc, argv)))
		return rc < 0 ? KBPIPE_EXIT_OK : rc;
	if (!s.name) {
		if (gethostname(host, sizeof host) != 0)
			strcpy(host, "host");
		host[sizeof host - 1] = '\0';
		for (char *c = host; *c; c++)
			if (!((*c >= 'a' && *c <= 'z') || (*c >= 'A' && *c <= 'Z') ||
			      (*c >= '0' && *c <= '9') || *c == '.' || *c == '-'))
				*c = '-';
		snprintf(default_name, sizeof default_name, "kbpipe-%s-%ld", host, (long)getpid());
		s.name = default_name;
	}

	/* Before any thread exists, so that every thread inherits the mask. */
	sigemptyset(&set);
	sigaddset(&set, SIGTERM);
	sigaddset(&set, SIGINT);
	sigaddset(&set, SIGUSR1);
	pthread_sigmask(SIG_BLOCK, &set, NULL);

	kbpipe_log_setup(s.log, s.level, ctx->storage);
	opts.log = kbpipe_log_sink;
	opts.log_level = s.level;
	opts.job_lease_ms = s.lease_ms;
	if ((rc = kbpipe_open(&p, ctx, &opts)))
		return rc;
	if ((rc = kbpipe_load_gateways(p, ctx))) {
		kbp_pipeline_close(p);
		return rc;
	}
	wopts.threads = (int)s.threads;
	wopts.batch = (int)s.batch;
	wopts.name = s.name;
	if ((rc = kbp_worker_start(&w, p, &wopts))) {
		rc = kbpipe_lib_error("worker: cannot start", rc);
		kbp_pipeline_close(p);
		return rc;
	}
	/* The backend's name and the schema only: never the URI, which may carry a password. */
	snprintf(where, sizeof where, "%s%s%s", kbp_pipeline_storage_name(p),
	         strcmp(kbp_pipeline_storage_name(p), "memory") == 0 ? "" : ", schema ",
	         strcmp(kbp_pipeline_storage_name(p), "memory") == 0 ? ""
	         : ctx->schema ? ctx->schema : "kbp");
	kbpipe_log(KBP_LOG_INFO,
	           "worker %s started: storage %s, %ld thread%s, batch %ld, lease %ld ms, "
	           "maintenance every %ld/%ld/%ld/%ld s (expire/rescue/reconcile/prune), grace %ld s",
	           s.name, where, s.threads,
	           s.threads == 1 ? "" : "s", s.batch, s.lease_ms ? s.lease_ms : 300000L,
	           s.every[T_EXPIRE], s.every[T_RESCUE], s.every[T_RECONCILE], s.every[T_PRUNE],
	           s.grace);
	if (!kbpipe_config_section(ctx, "gateways"))
		kbpipe_log(KBP_LOG_DEBUG, "no gateways configured: reconcile_payment jobs cannot reach "
		                          "a gateway");

	/* The first pass at once: it rescues what a crashed predecessor left running. */
	now = mono_s();
	for (int t = 0; t < N_TASKS; t++)
		due[t] = now;
	for (;;) {
		struct timespec ts;
		double next;

		now = mono_s();
		next = next_due(&s, due);
		if (next >= 0 && next <= now) {
			maintenance(p, &s, due, now);
			continue;
		}
		ts = span(next < 0 ? 3600.0 : next - now);
		sig = sigtimedwait(&set, NULL, &ts);
		if (sig == SIGTERM || sig == SIGINT)
			break;
		/* EAGAIN: a timer ran out; EINTR or a stray SIGUSR1: look again. */
	}

	kbpipe_log(KBP_LOG_INFO, "%s: stopping, waiting up to %ld s for the jobs in hand",
	           sig == SIGTERM ? "SIGTERM" : "SIGINT", s.grace);
	st.worker = w;
	st.main_thread = pthread_self();
	atomic_init(&st.done, 0);
	if (pthread_create(&stop_thread, NULL, stop_worker, &st) != 0) {
		kbpipe_log(KBP_LOG_ERROR, "cannot start the stopping thread; exiting now");
		fflush(NULL);
		_exit(KBPIPE_EXIT_TIMEOUT);
	}
	deadline = mono_s() + (double)s.grace;
	while (!atomic_load(&st.done)) {
		struct timespec ts;

		now = mono_s();
		if (now >= deadline && !atomic_load(&st.done)) {
			kbpipe_log(KBP_LOG_ERROR,
			           "grace of %ld s passed with jobs unfinished; exiting, their leases will "
			           "be rescued", s.grace);
			fflush(NULL);
			_exit(KBPIPE_EXIT_TIMEOUT);
		}
		ts = span(deadline - now);
		sig = sigtimedwait(&set, NULL, &ts);
		if ((sig == SIGTERM || sig == SIGINT) && !atomic_load(&st.done)) {
			kbpipe_log(KBP_LOG_ERROR, "%s again: exiting now, unfinished jobs will be rescued "
			                          "when their leases pass",
			           sig == SIGTERM ? "SIGTERM" : "SIGINT");
			fflush(NULL);
			_exit(KBPIPE_EXIT_TIMEOUT);
		}
	}
	pthread_join(stop_thread, NULL);
	kbp_pipeline_close(p);
	kbpipe_log(KBP_LOG_INFO, "worker %s stopped", s.name);
	return KBPIPE_EXIT_OK;
}
