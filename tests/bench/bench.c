/* SPDX-License-Identifier: MIT */
/*
 * kbp-bench: drives the whole pipeline and the job queue and prints one JSON
 * document (DESIGN.md §11).
 *
 *   kbp-bench [--orders N] [--jobs N] [--latency-samples N] [--worker-threads N] [STORAGE_URI]
 *
 * Pipeline scenarios: C concurrent shoppers (C = 1, 2), each looping
 * cart_set_item -> intent_create -> sandbox_pay + payment_verify -> confirmed
 * order, either with a running worker (kbp_worker_start) finalizing the
 * orders, or "inline": each shopper runs kbp_worker_run_once itself after
 * verify, which shows the raw cost of the pipeline without worker wakeups.
 * --orders is the total over the four scenarios.
 *
 * Job queue alone: enqueue N no-op jobs, then drain them with
 * kbp_worker_run_once(max_jobs 64); and the delay from an enqueue to the
 * start of its handler on an idle running worker.
 *
 * Absolute numbers drift on shared machines, so every throughput is also
 * given as a ratio to a baseline measured in the same process: HMAC-SHA256
 * of a 200-byte message plus a malloc/free.
 */
#include <errno.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include <cjson/cJSON.h>
#include <kbpipeline.h>
#include <sodium.h>

#define DEFAULT_ORDERS 200000L
#define DEFAULT_JOBS 200000L
#define DEFAULT_LATENCY_SAMPLES 2000L
#define N_SKUS 64
#define STOCK INT64_C(1000000000)   /* never runs out: the bench measures, it does not sell out */
#define PRICE_MINOR 150000          /* NPR 1,500.00 */
#define WAIT_MS 10000
#define JOB_BATCH 64
#define BASELINE_SECONDS 0.3
#define LATENCY_BUDGET_NS INT64_C(10000000000)
#define NOOP_KIND "bench.noop"
#define PROBE_KIND "bench.probe"

enum { ST_CART, ST_INTENT, ST_PAY_VERIFY, ST_CONFIRM, ST_TOTAL, N_STAGES };

static const char *const stage_names[N_STAGES] = {
	"cart", "intent", "pay_verify", "verified_to_confirmed", "end_to_end",
};

static int64_t now_ns(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (int64_t)ts.tv_sec * 1000000000 + ts.tv_nsec;
}

static double seconds_between(int64_t a, int64_t b)
{
	return (double)(b - a) / 1e9;
}

/* Rounds for printing: cJSON prints every significant digit of a double. */
static double round_to(double v, double unit)
{
	double r = v / unit;

	return (double)(int64_t)(r + (r < 0 ? -0.5 : 0.5)) * unit;
}

static void *xcalloc(size_t n, size_t size)
{
	void *p = calloc(n ? n : 1, size);

	if (!p) {
		fputs("kbp-bench: out of memory\n", stderr);
		exit(1);
	}
	return p;
}

static int cmp_i64(const void *a, const void *b)
{
	int64_t x = *(const int64_t *)a, y = *(const int64_t *)b;

	return (x > y) - (x < y);
}

/* Nearest-rank percentile of sorted nanoseconds, in microseconds. */
static double pct_us(const int64_t *sorted, size_t n, double q)
{
	size_t rank;

	if (n == 0)
		return 0;
	rank = (size_t)(q * (double)n + 0.999999);
	if (rank < 1)
		rank = 1;
	if (rank > n)
		rank = n;
	return (double)sorted[rank - 1] / 1e3;
}

static cJSON *latency_json(int64_t *ns, size_t n)
{
	cJSON *o = cJSON_CreateObject();

	qsort(ns, n, sizeof *ns, cmp_i64);
	cJSON_AddNumberToObject(o, "p50", round_to(pct_us(ns, n, 0.50), 0.1));
	cJSON_AddNumberToObject(o, "p95", round_to(pct_us(ns, n, 0.95), 0.1));
	cJSON_AddNumberToObject(o, "p99", round_to(pct_us(ns, n, 0.99), 0.1));
	cJSON_AddNumberToObject(o, "max", round_to(n ? (double)ns[n - 1] / 1e3 : 0, 0.1));
	return o;
}

/* ---- errors ------------------------------------------------------------ */

static atomic_int errors;
static pthread_mutex_t first_error_lock = PTHREAD_MUTEX_INITIALIZER;
static char first_error[512];

static void note_error(const char *where, int rc, const char *what)
{
	const kbp_error *e = kbp_error_last();

	if (atomic_fetch_add(&errors, 1) > 0)
		return;
	pthread_mutex_lock(&first_error_lock);
	snprintf(first_error, sizeof first_error, "%s: %s (%d): %s", where,
	         what ? what : kbp_strerror(rc), rc,
	         !what && e->code == rc && e->message ? e->message : "");
	pthread_mutex_unlock(&first_error_lock);
}

/* ---- baseline ------------------------------------------------------------ */

static volatile unsigned char baseline_sink;

/* A fixed small unit of real work on this machine right now: ops per second. */
static double baseline_ops(void)
{
	unsigned char key[crypto_auth_hmacsha256_KEYBYTES], msg[200], mac[crypto_auth_hmacsha256_BYTES];
	int64_t t0 = now_ns(), t;
	long ops = 0;

	randombytes_buf(key, sizeof key);
	randombytes_buf(msg, sizeof msg);
	do {
		for (int k = 0; k < 1024; k++) {
			unsigned char *m = malloc(sizeof msg);

			if (!m)
				exit(1);
			memcpy(m, msg, sizeof msg);
			crypto_auth_hmacsha256(mac, m, sizeof msg, key);
			free(m);
			baseline_sink ^= mac[0];
		}
		ops += 1024;
		t = now_ns();
	} while (seconds_between(t0, t) < BASELINE_SECONDS);
	return (double)ops / seconds_between(t0, t);
}

/* ---- the pipeline -------------------------------------------------------- */

typedef struct bench_cfg {
	const char *storage;
	long orders;
	long jobs;
	long latency_samples;
	int worker_threads;
} bench_cfg;

static int open_pipeline(kbp_pipeline **out, const bench_cfg *cfg)
{
	kbp_options opts = KBP_OPTIONS_INIT;
	int rc;

	opts.storage = cfg->storage;
	rc = kbp_pipeline_open(out, &opts);
	if (rc)
		note_error("pipeline_open", rc, NULL);
	return rc;
}

static int seed_catalog(kbp_pipeline *p)
{
	int rc = kbp_vendor_put(p, "bench-vendor", "Bench Vendor");

	if (rc) {
		note_error("vendor_put", rc, NULL);
		return rc;
	}
	for (int i = 0; i < N_SKUS; i++) {
		kbp_product_spec spec = KBP_PRODUCT_SPEC_INIT;
		char id[32];

		snprintf(id, sizeof id, "bench-sku-%02d", i);
		spec.id = id;
		spec.vendor_id = "bench-vendor";
		spec.name = "Bench product";
		spec.price_minor = PRICE_MINOR + i;
		spec.on_hand = STOCK;
		rc = kbp_product_put(p, &spec);
		if (rc) {
			note_error("product_put", rc, NULL);
			return rc;
		}
	}
	return 0;
}

typedef struct scenario {
	const char *mode;           /* "worker" or "inline" */
	int inline_worker;
	int shoppers;
	int worker_threads;         /* 0 in inline mode */
	long orders;
	kbp_pipeline *p;
	pthread_barrier_t start;
	int64_t *lat[N_STAGES];     /* orders entries each, shopper s writes its own slice */
	int64_t t_start;
	int64_t t_end;
	long confirmed;
	kbp_metrics metrics;
} scenario;

typedef struct shopper {
	scenario *sc;
	int idx;
	long first;                 /* its slice of the latency arrays */
	long count;
	atomic_long *confirmed;
} shopper;

static int buy_one(shopper *s, long i, const char *cart, const char *customer, const char *wid)
{
	kbp_pipeline *p = s->sc->p;
	kbp_intent_request req = KBP_INTENT_REQUEST_INIT;
	kbp_intent *in = NULL;
	kbp_verification *v = NULL;
	kbp_order_status *st = NULL;
	char *cb = NULL, sku[32];
	int64_t t0, t1, t2, t3, t4;
	long slot = s->first + i;
	int rc, ran;

	snprintf(sku, sizeof sku, "bench-sku-%02ld", (i * s->sc->shoppers + s->idx) % N_SKUS);
	req.cart_id = cart;
	req.gateway = "sandbox";

	t0 = now_ns();
	rc = kbp_cart_set_item(NULL, p, cart, customer, sku, 1);
	if (rc) {
		note_error("cart_set_item", rc, NULL);
		return rc;
	}
	t1 = now_ns();
	rc = kbp_intent_create(&in, p, &req);
	if (rc) {
		note_error("intent_create", rc, NULL);
		return rc;
	}
	t2 = now_ns();
	rc = kbp_sandbox_pay(&cb, p, "sandbox", in->id, KBP_SANDBOX_COMPLETED, -1);
	if (rc) {
		note_error("sandbox_pay", rc, NULL);
		goto out;
	}
	rc = kbp_payment_verify(&v, p, "sandbox", cb, strlen(cb));
	if (rc) {
		note_error("payment_verify", rc, NULL);
		goto out;
	}
	t3 = now_ns();
	if (s->sc->inline_worker) {
		rc = kbp_worker_run_once(&ran, p, wid, JOB_BATCH);
		if (rc) {
			note_error("worker_run_once", rc, NULL);
			goto out;
		}
	}
	rc = kbp_order_wait(&st, p, in->id, WAIT_MS);
	if (rc) {
		note_error("order_wait", rc, NULL);
		goto out;
	}
	if (st->stage != KBP_STAGE_CONFIRMED) {
		rc = -1;
		note_error("order_wait", rc, kbp_order_stage_name(st->stage));
		goto out;
	}
	t4 = now_ns();
	s->sc->lat[ST_CART][slot] = t1 - t0;
	s->sc->lat[ST_INTENT][slot] = t2 - t1;
	s->sc->lat[ST_PAY_VERIFY][slot] = t3 - t2;
	s->sc->lat[ST_CONFIRM][slot] = t4 - t3;
	s->sc->lat[ST_TOTAL][slot] = t4 - t0;
	atomic_fetch_add(s->confirmed, 1);
out:
	kbp_order_status_free(st);
	kbp_verification_free(v);
	kbp_free(cb);
	kbp_intent_free(in);
	return rc;
}

static void *shopper_main(void *arg)
{
	shopper *s = arg;
	char cart[48], customer[48], wid[48];

	snprintf(cart, sizeof cart, "bench-cart-%d", s->idx);
	snprintf(customer, sizeof customer, "bench-customer-%d", s->idx);
	snprintf(wid, sizeof wid, "bench-shopper-%d", s->idx);
	pthread_barrier_wait(&s->sc->start);
	for (long i = 0; i < s->count; i++)
		if (buy_one(s, i, cart, customer, wid) != 0)
			break;
	return NULL;
}

static int run_scenario(scenario *sc, const bench_cfg *cfg)
{
	kbp_worker_options wopts = KBP_WORKER_OPTIONS_INIT;
	kbp_worker *worker = NULL;
	pthread_t threads[2];
	shopper shoppers[2];
	atomic_long confirmed = 0;
	long per = sc->orders / sc->shoppers > 0 ? sc->orders / sc->shoppers : 1;
	int rc, started = 0;

	sc->orders = per * sc->shoppers;
	for (int k = 0; k < N_STAGES; k++)
		sc->lat[k] = xcalloc((size_t)sc->orders, sizeof(int64_t));
	rc = open_pipeline(&sc->p, cfg);
	if (rc)
		return rc;
	rc = kbp_gateway_add_sandbox(sc->p, NULL);
	if (rc) {
		note_error("gateway_add_sandbox", rc, NULL);
		goto out;
	}
	rc = seed_catalog(sc->p);
	if (rc)
		goto out;
	if (!sc->inline_worker) {
		wopts.threads = sc->worker_threads;
		wopts.name = "bench-worker";
		rc = kbp_worker_start(&worker, sc->p, &wopts);
		if (rc) {
			note_error("worker_start", rc, NULL);
			goto out;
		}
	}
	pthread_barrier_init(&sc->start, NULL, (unsigned)sc->shoppers + 1);
	for (int i = 0; i < sc->shoppers; i++) {
		shoppers[i] = (shopper){ sc, i, per * i, per, &confirmed };
		if (pthread_create(&threads[i], NULL, shopper_main, &shoppers[i]) != 0) {
			fputs("kbp-bench: cannot start a shopper thread\n", stderr);
			exit(1);
		}
		started++;
	}
	pthread_barrier_wait(&sc->start);
	sc->t_start = now_ns();
	for (int i = 0; i < started; i++)
		pthread_join(threads[i], NULL);
	sc->t_end = now_ns();
	pthread_barrier_destroy(&sc->start);
	if (worker)
		kbp_worker_stop(worker);
	sc->confirmed = atomic_load(&confirmed);
	rc = kbp_metrics_get(&sc->metrics, sc->p);
	if (rc)
		note_error("metrics_get", rc, NULL);
	else if (sc->metrics.orders != sc->confirmed || sc->metrics.orders_without_items != 0 ||
	         sc->metrics.paid_intents_without_order != 0)
		note_error("metrics_get", 0, "the store's order counts disagree with the shoppers'");
out:
	kbp_pipeline_close(sc->p);
	sc->p = NULL;
	return rc;
}

static cJSON *scenario_json(scenario *sc, double baseline)
{
	cJSON *o = cJSON_CreateObject(), *lat;
	double secs = seconds_between(sc->t_start, sc->t_end);
	double ops = secs > 0 ? (double)sc->confirmed / secs : 0;

	cJSON_AddStringToObject(o, "mode", sc->mode);
	cJSON_AddNumberToObject(o, "shoppers", sc->shoppers);
	cJSON_AddNumberToObject(o, "worker_threads", sc->worker_threads);
	cJSON_AddNumberToObject(o, "orders", (double)sc->confirmed);
	cJSON_AddNumberToObject(o, "seconds", round_to(secs, 0.0001));
	cJSON_AddNumberToObject(o, "orders_per_s", round_to(ops, 1));
	cJSON_AddNumberToObject(o, "ratio_to_baseline", round_to(ops / baseline, 0.0001));
	lat = cJSON_AddObjectToObject(o, "latency_us");
	for (int k = 0; k < N_STAGES; k++)
		cJSON_AddItemToObject(lat, stage_names[k], latency_json(sc->lat[k], (size_t)sc->confirmed));
	return o;
}

/* ---- the job queue alone --------------------------------------------------- */

static int noop_handler(void *ctx, kbp_pipeline *p, const kbp_job *job)
{
	(void)ctx;
	(void)p;
	(void)job;
	return 0;
}

typedef struct queue_result {
	long jobs;
	double enqueue_s;
	double drain_s;
	int64_t *batch_ns;          /* per run_once call that ran jobs */
	size_t n_batches;
} queue_result;

static int bench_queue(queue_result *r, const bench_cfg *cfg)
{
	kbp_enqueue_options eo = KBP_ENQUEUE_OPTIONS_INIT;
	kbp_pipeline *p;
	long ran_total = 0;
	int64_t t0, t1;
	int rc, ran;

	r->batch_ns = xcalloc((size_t)(cfg->jobs / JOB_BATCH + 2), sizeof(int64_t));
	rc = open_pipeline(&p, cfg);
	if (rc)
		return rc;
	rc = kbp_job_register(p, NOOP_KIND, noop_handler, NULL);
	if (rc) {
		note_error("job_register", rc, NULL);
		goto out;
	}
	t0 = now_ns();
	for (long i = 0; i < cfg->jobs; i++) {
		rc = kbp_job_enqueue(NULL, p, NOOP_KIND, NULL, &eo);
		if (rc) {
			note_error("job_enqueue", rc, NULL);
			goto out;
		}
	}
	t1 = now_ns();
	r->enqueue_s = seconds_between(t0, t1);
	for (;;) {
		int64_t b0 = now_ns();

		rc = kbp_worker_run_once(&ran, p, "bench-queue", JOB_BATCH);
		if (rc) {
			note_error("worker_run_once", rc, NULL);
			goto out;
		}
		if (ran == 0)
			break;
		if (r->n_batches < (size_t)(cfg->jobs / JOB_BATCH + 2))
			r->batch_ns[r->n_batches++] = now_ns() - b0;
		ran_total += ran;
	}
	r->drain_s = seconds_between(t1, now_ns());
	r->jobs = ran_total;
	if (ran_total != cfg->jobs) {
		rc = -1;
		note_error("worker_run_once", rc, "drained a different number of jobs than enqueued");
	}
out:
	kbp_pipeline_close(p);
	return rc;
}

/* Enqueue -> handler start on an idle running worker, one job at a time. */
typedef struct probe {
	pthread_mutex_t lock;
	pthread_cond_t cond;
	atomic_llong t_enqueue;
	long handled;
	int64_t *ns;
	long cap;
} probe;

static int probe_handler(void *ctx, kbp_pipeline *p, const kbp_job *job)
{
	probe *pr = ctx;
	int64_t t = now_ns();

	(void)p;
	(void)job;
	pthread_mutex_lock(&pr->lock);
	if (pr->handled < pr->cap)
		pr->ns[pr->handled] = t - (int64_t)atomic_load(&pr->t_enqueue);
	pr->handled++;
	pthread_cond_signal(&pr->cond);
	pthread_mutex_unlock(&pr->lock);
	return 0;
}

static int bench_start_latency(probe *pr, const bench_cfg *cfg)
{
	kbp_enqueue_options eo = KBP_ENQUEUE_OPTIONS_INIT;
	kbp_worker_options wopts = KBP_WORKER_OPTIONS_INIT;
	kbp_worker *worker = NULL;
	kbp_pipeline *p;
	int64_t budget_end = now_ns() + LATENCY_BUDGET_NS;
	int rc;

	pr->cap = cfg->latency_samples;
	pr->ns = xcalloc((size_t)pr->cap, sizeof(int64_t));
	rc = open_pipeline(&p, cfg);
	if (rc)
		return rc;
	rc = kbp_job_register(p, PROBE_KIND, probe_handler, pr);
	if (rc) {
		note_error("job_register", rc, NULL);
		goto out;
	}
	wopts.threads = 1;
	wopts.name = "bench-probe";
	rc = kbp_worker_start(&worker, p, &wopts);
	if (rc) {
		note_error("worker_start", rc, NULL);
		goto out;
	}
	for (long i = 0; i < pr->cap && now_ns() < budget_end; i++) {
		/* Measured from before the call: a woken worker may start the job before enqueue returns. */
		atomic_store(&pr->t_enqueue, now_ns());
		rc = kbp_job_enqueue(NULL, p, PROBE_KIND, NULL, &eo);
		if (rc) {
			note_error("job_enqueue", rc, NULL);
			break;
		}
		pthread_mutex_lock(&pr->lock);
		while (pr->handled <= i)
			pthread_cond_wait(&pr->cond, &pr->lock);
		pthread_mutex_unlock(&pr->lock);
	}
	kbp_worker_stop(worker);
out:
	kbp_pipeline_close(p);
	return rc;
}

/* ---- output ---------------------------------------------------------------- */

static void add_target(cJSON *targets, const char *name, const char *unit, double target,
                       double measured, int higher_is_better)
{
	cJSON *t = cJSON_CreateObject();

	cJSON_AddStringToObject(t, "name", name);
	cJSON_AddStringToObject(t, "unit", unit);
	cJSON_AddNumberToObject(t, "target", target);
	cJSON_AddNumberToObject(t, "measured", round_to(measured, 0.1));
	cJSON_AddBoolToObject(t, "met", higher_is_better ? measured >= target : measured < target);
	cJSON_AddItemToArray(targets, t);
}

static void usage(FILE *f)
{
	fprintf(f,
	        "usage: kbp-bench [--orders N] [--jobs N] [--latency-samples N] [--worker-threads N]\n"
	        "                 [STORAGE_URI]\n"
	        "  --orders N           orders over all four pipeline scenarios (default %ld)\n"
	        "  --jobs N             no-op jobs for the job queue alone (default %ld)\n"
	        "  --latency-samples N  enqueue-to-start samples on a running worker (default %ld)\n"
	        "  --worker-threads N   threads of the running worker (default 1)\n"
	        "  STORAGE_URI          default memory:\n",
	        DEFAULT_ORDERS, DEFAULT_JOBS, DEFAULT_LATENCY_SAMPLES);
}

static int parse_count(const char *opt, const char *s, long min, long max, long *out)
{
	char *end;
	long v;

	errno = 0;
	v = s ? strtol(s, &end, 10) : 0;
	if (!s || !*s || errno || *end || v < min || v > max) {
		fprintf(stderr, "kbp-bench: %s needs a number from %ld to %ld\n", opt, min, max);
		return -1;
	}
	*out = v;
	return 0;
}

static int parse_args(bench_cfg *cfg, int argc, char **argv)
{
	for (int i = 1; i < argc; i++) {
		const char *a = argv[i];
		long v;

		if (strcmp(a, "-h") == 0 || strcmp(a, "--help") == 0) {
			usage(stdout);
			exit(0);
		} else if (strcmp(a, "--orders") == 0) {
			if (parse_count(a, i + 1 < argc ? argv[++i] : NULL, 4, 100000000, &cfg->orders))
				return -1;
		} else if (strcmp(a, "--jobs") == 0) {
			if (parse_count(a, i + 1 < argc ? argv[++i] : NULL, 1, 100000000, &cfg->jobs))
				return -1;
		} else if (strcmp(a, "--latency-samples") == 0) {
			if (parse_count(a, i + 1 < argc ? argv[++i] : NULL, 1, 10000000, &cfg->latency_samples))
				return -1;
		} else if (strcmp(a, "--worker-threads") == 0) {
			if (parse_count(a, i + 1 < argc ? argv[++i] : NULL, 1, 64, &v))
				return -1;
			cfg->worker_threads = (int)v;
		} else if (a[0] == '-') {
			fprintf(stderr, "kbp-bench: unknown option '%s'\n", a);
			return -1;
		} else if (cfg->storage) {
			fprintf(stderr, "kbp-bench: unexpected argument '%s'\n", a);
			return -1;
		} else {
			cfg->storage = a;
		}
	}
	if (!cfg->storage)
		cfg->storage = "memory:";
	return 0;
}

int main(int argc, char **argv)
{
	bench_cfg cfg = { NULL, DEFAULT_ORDERS, DEFAULT_JOBS, DEFAULT_LATENCY_SAMPLES, 1 };
	scenario sc[4] = {
		{ .mode = "worker", .inline_worker = 0, .shoppers = 1 },
		{ .mode = "worker", .inline_worker = 0, .shoppers = 2 },
		{ .mode = "inline", .inline_worker = 1, .shoppers = 1 },
		{ .mode = "inline", .inline_worker = 1, .shoppers = 2 },
	};
	queue_result qr = { 0 };
	probe pr = { .lock = PTHREAD_MUTEX_INITIALIZER, .cond = PTHREAD_COND_INITIALIZER };
	cJSON *root, *arr, *o, *targets;
	double base0, base1, base, best_ops = 0, worst_confirm_p99 = 0, queue_ops, start_p99 = 0;
	const char *best_name = "";
	char storage_name[32] = "?", *text;
	int64_t t_run = now_ns();
	kbp_pipeline *probe_p;
	int failed;

	if (parse_args(&cfg, argc, argv))
		return 2;
	if (sodium_init() < 0) {
		fputs("kbp-bench: libsodium failed to initialise\n", stderr);
		return 1;
	}
	if (open_pipeline(&probe_p, &cfg) == 0) {
		snprintf(storage_name, sizeof storage_name, "%s", kbp_pipeline_storage_name(probe_p));
		kbp_pipeline_close(probe_p);
	}

	base0 = baseline_ops();
	for (int i = 0; i < 4 && atomic_load(&errors) == 0; i++) {
		sc[i].orders = cfg.orders / 4;
		sc[i].worker_threads = sc[i].inline_worker ? 0 : cfg.worker_threads;
		run_scenario(&sc[i], &cfg);
	}
	if (atomic_load(&errors) == 0)
		bench_queue(&qr, &cfg);
	if (atomic_load(&errors) == 0)
		bench_start_latency(&pr, &cfg);
	base1 = baseline_ops();
	base = (base0 + base1) / 2;

	root = cJSON_CreateObject();
	cJSON_AddStringToObject(root, "benchmark", "kbpipeline");
	cJSON_AddStringToObject(root, "storage", storage_name);
	cJSON_AddNumberToObject(root, "cpus", (double)sysconf(_SC_NPROCESSORS_ONLN));
	o = cJSON_AddObjectToObject(root, "baseline");
	cJSON_AddStringToObject(o, "operation", "HMAC-SHA256 of 200 bytes (libsodium) + malloc/free");
	cJSON_AddNumberToObject(o, "ops_per_s", round_to(base, 1));
	cJSON_AddNumberToObject(o, "ops_per_s_at_start", round_to(base0, 1));
	cJSON_AddNumberToObject(o, "ops_per_s_at_end", round_to(base1, 1));

	arr = cJSON_AddArrayToObject(root, "pipeline");
	for (int i = 0; i < 4; i++) {
		double secs = seconds_between(sc[i].t_start, sc[i].t_end);
		double ops = secs > 0 ? (double)sc[i].confirmed / secs : 0;

		if (!sc[i].lat[0])
			continue;
		cJSON_AddItemToArray(arr, scenario_json(&sc[i], base));
		if (ops > best_ops) {
			best_ops = ops;
			best_name = i < 2 ? (i == 0 ? "worker, 1 shopper" : "worker, 2 shoppers")
			                  : (i == 2 ? "inline, 1 shopper" : "inline, 2 shoppers");
		}
		if (!sc[i].inline_worker && sc[i].confirmed > 0) {
			/* scenario_json sorted the arrays */
			double p99 = pct_us(sc[i].lat[ST_CONFIRM], (size_t)sc[i].confirmed, 0.99);

			if (p99 > worst_confirm_p99)
				worst_confirm_p99 = p99;
		}
	}

	queue_ops = qr.enqueue_s + qr.drain_s > 0 ? (double)qr.jobs / (qr.enqueue_s + qr.drain_s) : 0;
	o = cJSON_AddObjectToObject(root, "job_queue");
	cJSON_AddNumberToObject(o, "jobs", (double)qr.jobs);
	cJSON_AddNumberToObject(o, "batch", JOB_BATCH);
	cJSON_AddNumberToObject(o, "enqueue_per_s",
	                        round_to(qr.enqueue_s > 0 ? (double)qr.jobs / qr.enqueue_s : 0, 1));
	cJSON_AddNumberToObject(o, "run_per_s",
	                        round_to(qr.drain_s > 0 ? (double)qr.jobs / qr.drain_s : 0, 1));
	cJSON_AddNumberToObject(o, "jobs_per_s", round_to(queue_ops, 1));
	cJSON_AddNumberToObject(o, "ratio_to_baseline", round_to(queue_ops / base, 0.0001));
	cJSON_AddItemToObject(o, "run_once_batch_latency_us",
	                      latency_json(qr.batch_ns, qr.n_batches));

	o = cJSON_AddObjectToObject(root, "job_start_latency");
	cJSON_AddNumberToObject(o, "samples", (double)(pr.handled < pr.cap ? pr.handled : pr.cap));
	cJSON_AddNumberToObject(o, "worker_threads", 1);
	cJSON_AddItemToObject(o, "latency_us",
	                      latency_json(pr.ns, (size_t)(pr.handled < pr.cap ? pr.handled : pr.cap)));
	if (pr.handled > 0)
		start_p99 = pct_us(pr.ns, (size_t)(pr.handled < pr.cap ? pr.handled : pr.cap), 0.99);

	/* DESIGN.md §11; reported, not enforced: these machines are shared. */
	targets = cJSON_AddArrayToObject(root, "targets");
	add_target(targets, strcmp(storage_name, "memory") == 0 ? "orders_per_s (memory, best scenario)"
	                                                        : "orders_per_s (best scenario)",
	           "orders/s", strcmp(storage_name, "memory") == 0 ? 100000 : 1000, best_ops, 1);
	add_target(targets, "verified_to_confirmed p99 with a running worker", "us", 20000,
	           worst_confirm_p99, 0);
	add_target(targets, "job queue alone, batched", "jobs/s", 18000, queue_ops, 1);
	add_target(targets, "job start after enqueue p99", "us", 5000, start_p99, 0);
	cJSON_AddStringToObject(root, "best_pipeline_scenario", best_name);

	failed = atomic_load(&errors);
	cJSON_AddNumberToObject(root, "errors", failed);
	if (failed)
		cJSON_AddStringToObject(root, "first_error", first_error);
	cJSON_AddNumberToObject(root, "wall_seconds", round_to(seconds_between(t_run, now_ns()), 0.01));

	text = cJSON_Print(root);
	if (text) {
		puts(text);
		cJSON_free(text);
	}
	cJSON_Delete(root);
	for (int i = 0; i < 4; i++)
		for (int k = 0; k < N_STAGES; k++)
			free(sc[i].lat[k]);
	free(qr.batch_ns);
	free(pr.ns);
	if (failed)
		fprintf(stderr, "kbp-bench: %d errors, first: %s\n", failed, first_error);
	return failed ? 1 : 0;
}
