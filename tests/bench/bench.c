/* SPDX-License-Identifier: MIT */
/*
 * kbp-bench: drives the whole pipeline and the job queue and prints one JSON
 * document (DESIGN.md §11).
 *
 *   kbp-bench [options] [STORAGE_URI]
 *
 * On the memory backend ("memory:", the default), and on a file
 * ("sqlite:PATH", each pipeline scenario in a store of its own beside PATH):
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
 *
 * On PostgreSQL (a postgresql:// or postgres:// URI, or a key=value libpq
 * connection string), every scenario runs in a fresh schema
 * (bench_<random>_<scenario>, created with kbp_migrate() and dropped at the
 * end unless --keep-schemas), and the JSON document has a "postgres" section:
 *
 *  - baseline: pgbench with a one-insert transaction
 *    (INSERT INTO bench_baseline(v) VALUES (1);) at 1, 4 and 16 clients on
 *    the same server, at the start and at the end of the run;
 *  - pipeline: 1, 4 and 16 concurrent shoppers with a running worker
 *    (kbp_worker_start, --worker-threads, default 2) on a pipeline handle of
 *    its own, as a separate worker process would have, so wakeups travel by
 *    LISTEN/NOTIFY; shoppers wait with kbp_order_wait. --orders per scenario;
 *  - job queue alone: enqueue N no-op jobs, then drain them with
 *    kbp_worker_run_once at max_jobs 1 (one at a time) and 64 (batched), on
 *    one thread and on 4 threads; and once more (batch_enqueue) with the
 *    jobs enqueued 1,000 per kbp_jobs_enqueue call, then drained batched;
 *  - job acquisition latency: each kbp_worker_run_once(max_jobs 1) call of
 *    the one-at-a-time drain, minus its handler;
 *  - job start latency: enqueue on one thread, a running worker records when
 *    the handler starts; enqueued through a second pipeline handle (the
 *    worker wakes by LISTEN/NOTIFY) and through the worker's own handle.
 *
 * Every PostgreSQL throughput is given with its ratio to the pgbench tps at
 * the matching client count, and every latency with its ratio to the mean
 * pgbench transaction time at the matching client count (clients / tps).
 */
#include <errno.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include <cjson/cJSON.h>
#include <kbpipeline.h>
#include <sodium.h>

#ifdef KBP_BENCH_POSTGRES
#include <libpq-fe.h>
#endif

#define DEFAULT_ORDERS 200000L
#define DEFAULT_JOBS 200000L
#define DEFAULT_LATENCY_SAMPLES 2000L
#define DEFAULT_PG_ORDERS 2000L     /* per scenario */
#define DEFAULT_PG_JOBS 2000L       /* per queue variant */
#define DEFAULT_PG_LATENCY_SAMPLES 1000L
#define DEFAULT_PG_SECONDS 10.0     /* cap of one PostgreSQL scenario */
#define DEFAULT_PGBENCH_SECONDS 2L
#define DEFAULT_PGBENCH "/usr/lib/postgresql/15/bin/pgbench"
#define N_SKUS 64                   /* the round-robin catalog */
#define N_ZIPF_SKUS 500             /* the realistic catalog */
#define STOCK INT64_C(1000000000)   /* never runs out: the bench measures, it does not sell out */
#define PRICE_MINOR 150000          /* NPR 1,500.00 */
#define WAIT_MS 10000
#define JOB_BATCH 64
#define BASELINE_SECONDS 0.3
#define LATENCY_BUDGET_NS INT64_C(10000000000)
#define NOOP_KIND "bench.noop"
#define PROBE_KIND "bench.probe"
#define MAX_SHOPPERS 64

enum { ST_CART, ST_INTENT, ST_PAY_VERIFY, ST_CONFIRM, ST_TOTAL, N_STAGES };

static const char *const stage_names[N_STAGES] = {
	"cart", "intent", "pay_verify", "verified_to_confirmed", "end_to_end",
};

/*
 * Which SKU each order buys. Round robin spreads the orders evenly over 64
 * SKUs; a shop's sales are not even, so "zipf" draws from 500 SKUs with
 * Zipf's law (s = 1: the best seller takes about 15 % of the orders, the top
 * ten about 43 %), and "flash_sale" sends every order to one SKU, the worst
 * case of contention on one product's stock row.
 */
enum { MIX_ROUND_ROBIN, MIX_ZIPF, MIX_FLASH_SALE, N_MIXES };

static const struct {
	const char *name;
	int skus;
} sku_mixes[N_MIXES] = {
	{ "round_robin", N_SKUS },
	{ "zipf", N_ZIPF_SKUS },
	{ "flash_sale", 1 },
};

/* zipf_cdf[k]: the share of orders that buy one of the k + 1 best sellers. */
static double zipf_cdf[N_ZIPF_SKUS];

static void zipf_init(void)
{
	double sum = 0, acc = 0;

	for (int k = 0; k < N_ZIPF_SKUS; k++)
		sum += 1.0 / (k + 1);
	for (int k = 0; k < N_ZIPF_SKUS; k++) {
		acc += 1.0 / (k + 1) / sum;
		zipf_cdf[k] = acc;
	}
	zipf_cdf[N_ZIPF_SKUS - 1] = 1.0;
}

/* xorshift64*: a fixed, cheap sequence per shopper, so runs buy the same SKUs. */
static double next_unit(uint64_t *state)
{
	uint64_t x = *state;

	x ^= x >> 12;
	x ^= x << 25;
	x ^= x >> 27;
	*state = x;
	return (double)((x * UINT64_C(2685821657736338717)) >> 11) / 9007199254740992.0;
}

static int zipf_draw(uint64_t *state)
{
	double u = next_unit(state);
	int lo = 0, hi = N_ZIPF_SKUS - 1;

	while (lo < hi) {
		int mid = (lo + hi) / 2;

		if (zipf_cdf[mid] < u)
			lo = mid + 1;
		else
			hi = mid;
	}
	return lo;
}

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

/*
 * p50/p95/p99/max in microseconds of ns (sorted in place). With ref_us > 0,
 * also p50 and p99 as multiples of ref_us (the baseline's mean transaction time).
 */
static cJSON *latency_json_ref(int64_t *ns, size_t n, double ref_us)
{
	cJSON *o = cJSON_CreateObject();

	qsort(ns, n, sizeof *ns, cmp_i64);
	cJSON_AddNumberToObject(o, "p50", round_to(pct_us(ns, n, 0.50), 0.1));
	cJSON_AddNumberToObject(o, "p95", round_to(pct_us(ns, n, 0.95), 0.1));
	cJSON_AddNumberToObject(o, "p99", round_to(pct_us(ns, n, 0.99), 0.1));
	cJSON_AddNumberToObject(o, "max", round_to(n ? (double)ns[n - 1] / 1e3 : 0, 0.1));
	if (ref_us > 0 && n > 0) {
		cJSON_AddNumberToObject(o, "p50_ratio_to_baseline_txn",
		                        round_to(pct_us(ns, n, 0.50) / ref_us, 0.01));
		cJSON_AddNumberToObject(o, "p99_ratio_to_baseline_txn",
		                        round_to(pct_us(ns, n, 0.99) / ref_us, 0.01));
	}
	return o;
}

static cJSON *latency_json(int64_t *ns, size_t n)
{
	return latency_json_ref(ns, n, 0);
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
	int is_pg;
	long orders;                /* 0: the backend's default */
	long jobs;
	long latency_samples;
	int worker_threads;         /* 0: 1 on memory, 2 on PostgreSQL */
	int worker_batch;           /* kbp_worker_options.batch, 0: the library's default */
	int pool;                   /* PostgreSQL pool size, 0: enough for each scenario */
	double scenario_seconds;
	long pgbench_seconds;
	const char *pgbench;
	int keep_schemas;
	const char *only;           /* PostgreSQL: run only the scenario of this schema suffix */
} bench_cfg;

/* schema NULL: the backend's default; pool 0: the library's default. */
static int open_pipeline_in(kbp_pipeline **out, const bench_cfg *cfg, const char *schema, int pool)
{
	kbp_options opts = KBP_OPTIONS_INIT;
	int rc;

	opts.storage = cfg->storage;
	opts.storage_schema = schema;
	opts.storage_pool_size = pool;
	rc = kbp_pipeline_open(out, &opts);
	if (rc)
		note_error("pipeline_open", rc, NULL);
	return rc;
}

static int open_pipeline(kbp_pipeline **out, const bench_cfg *cfg)
{
	return open_pipeline_in(out, cfg, NULL, 0);
}

/*
 * A pool for `concurrency` threads: the library's default (8) unless more
 * threads than that share the handle. --pool overrides.
 */
static int pool_for(const bench_cfg *cfg, int concurrency)
{
	if (!cfg->is_pg)
		return 0;
	if (cfg->pool)
		return cfg->pool;
	return concurrency > 8 ? (concurrency > 64 ? 64 : concurrency) : 0;
}

static int seed_catalog(kbp_pipeline *p, int skus)
{
	int rc = kbp_vendor_put(p, "bench-vendor", "Bench Vendor");

	if (rc) {
		note_error("vendor_put", rc, NULL);
		return rc;
	}
	for (int i = 0; i < skus; i++) {
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
	int mix;                    /* MIX_*: which SKUs the orders buy */
	int worker_threads;         /* 0 in inline mode */
	long orders;
	const char *schema;         /* PostgreSQL: a fresh, migrated schema */
	int separate_worker;        /* the worker gets a pipeline handle of its own */
	int pool;                   /* the shoppers' handle's pool size (0: default) */
	int64_t budget_ns;          /* 0: none; else shoppers stop starting orders after it */
	int warmup;                 /* each shopper first buys one untimed order */
	kbp_pipeline *p;            /* the shoppers' handle */
	pthread_barrier_t start;
	int64_t *lat[N_STAGES];     /* orders entries each, shopper s writes its own slice */
	int64_t t_start;
	int64_t t_end;
	long confirmed;
	kbp_metrics metrics;
	int ran;
} scenario;

typedef struct shopper {
	scenario *sc;
	int idx;
	long first;                 /* its slice of the latency arrays */
	long count;
	long done;
	long warmed;                /* untimed warm-up orders */
	uint64_t rng;               /* MIX_ZIPF's draws */
	atomic_long *confirmed;
} shopper;

static int pick_sku(shopper *s, long i)
{
	switch (s->sc->mix) {
	case MIX_ZIPF:
		return zipf_draw(&s->rng);
	case MIX_FLASH_SALE:
		return 0;
	default:
		return (int)((i * s->sc->shoppers + s->idx) % N_SKUS);
	}
}

static int buy_one(shopper *s, long i, const char *cart, const char *customer, const char *wid,
                   int record)
{
	kbp_pipeline *p = s->sc->p;
	kbp_intent_request req = KBP_INTENT_REQUEST_INIT;
	kbp_intent *in = NULL;
	kbp_verification *v = NULL;
	kbp_order_status *st = NULL;
	char *cb = NULL, sku[32];
	int64_t t0, t1, t2, t3, t4;
	long slot = s->first + s->done;
	int rc, ran;

	snprintf(sku, sizeof sku, "bench-sku-%02d", pick_sku(s, i));
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
	if (!record) {
		s->warmed++;
		goto out;
	}
	s->sc->lat[ST_CART][slot] = t1 - t0;
	s->sc->lat[ST_INTENT][slot] = t2 - t1;
	s->sc->lat[ST_PAY_VERIFY][slot] = t3 - t2;
	s->sc->lat[ST_CONFIRM][slot] = t4 - t3;
	s->sc->lat[ST_TOTAL][slot] = t4 - t0;
	s->done++;
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
	int64_t deadline;

	snprintf(cart, sizeof cart, "bench-cart-%d", s->idx);
	snprintf(customer, sizeof customer, "bench-customer-%d", s->idx);
	snprintf(wid, sizeof wid, "bench-shopper-%d", s->idx);
	/*
	 * The warm-up opens this shopper's pool connection and prepares its
	 * statements (and the worker's), which a long-running server has done long ago.
	 */
	if (s->sc->warmup)
		buy_one(s, s->count, cart, customer, wid, 0);
	pthread_barrier_wait(&s->sc->start);
	deadline = s->sc->budget_ns ? now_ns() + s->sc->budget_ns : 0;
	for (long i = 0; i < s->count; i++) {
		if (deadline && now_ns() > deadline)
			break;
		if (buy_one(s, i, cart, customer, wid, 1) != 0)
			break;
	}
	return NULL;
}

/* Moves each shopper's filled slice to the front, so the arrays hold `confirmed` samples. */
static void compact_latencies(scenario *sc, const shopper *sh, int n)
{
	long to = 0;

	for (int i = 0; i < n; i++) {
		for (int k = 0; k < N_STAGES; k++)
			memmove(&sc->lat[k][to], &sc->lat[k][sh[i].first],
			        (size_t)sh[i].done * sizeof(int64_t));
		to += sh[i].done;
	}
}

static int run_scenario(scenario *sc, const bench_cfg *cfg)
{
	kbp_worker_options wopts = KBP_WORKER_OPTIONS_INIT;
	kbp_worker *worker = NULL;
	kbp_pipeline *wp = NULL;
	pthread_t threads[MAX_SHOPPERS];
	shopper shoppers[MAX_SHOPPERS];
	atomic_long confirmed = 0;
	long warmed = 0, per = sc->orders / sc->shoppers > 0 ? sc->orders / sc->shoppers : 1;
	int rc, started = 0;

	sc->ran = 1;
	sc->orders = per * sc->shoppers;
	for (int k = 0; k < N_STAGES; k++)
		sc->lat[k] = xcalloc((size_t)sc->orders, sizeof(int64_t));
	rc = open_pipeline_in(&sc->p, cfg, sc->schema, sc->pool);
	if (rc)
		return rc;
	rc = kbp_gateway_add_sandbox(sc->p, NULL);
	if (rc) {
		note_error("gateway_add_sandbox", rc, NULL);
		goto out;
	}
	rc = seed_catalog(sc->p, sku_mixes[sc->mix].skus);
	if (rc)
		goto out;
	if (!sc->inline_worker) {
		wp = sc->p;
		if (sc->separate_worker &&
		    (rc = open_pipeline_in(&wp, cfg, sc->schema, pool_for(cfg, sc->worker_threads))) != 0) {
			wp = NULL;
			goto out;
		}
		wopts.threads = sc->worker_threads;
		wopts.batch = cfg->worker_batch;
		wopts.name = "bench-worker";
		rc = kbp_worker_start(&worker, wp, &wopts);
		if (rc) {
			note_error("worker_start", rc, NULL);
			goto out;
		}
	}
	pthread_barrier_init(&sc->start, NULL, (unsigned)sc->shoppers + 1);
	for (int i = 0; i < sc->shoppers; i++) {
		shoppers[i] = (shopper){ .sc = sc, .idx = i, .first = per * i, .count = per,
			                 .rng = UINT64_C(0x9E3779B97F4A7C15) * (uint64_t)(i + 1),
			                 .confirmed = &confirmed };
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
	for (int i = 0; i < started; i++)
		warmed += shoppers[i].warmed;
	compact_latencies(sc, shoppers, started);
	rc = kbp_metrics_get(&sc->metrics, sc->p);
	if (rc)
		note_error("metrics_get", rc, NULL);
	else if (sc->metrics.orders != sc->confirmed + warmed || sc->metrics.orders_without_items != 0 ||
	         sc->metrics.paid_intents_without_order != 0)
		note_error("metrics_get", 0, "the store's order counts disagree with the shoppers'");
out:
	if (wp && wp != sc->p)
		kbp_pipeline_close(wp);
	kbp_pipeline_close(sc->p);
	sc->p = NULL;
	return rc;
}

static double scenario_ops(const scenario *sc)
{
	double secs = seconds_between(sc->t_start, sc->t_end);

	return secs > 0 ? (double)sc->confirmed / secs : 0;
}

static cJSON *scenario_json(scenario *sc, double baseline)
{
	cJSON *o = cJSON_CreateObject(), *lat;
	double secs = seconds_between(sc->t_start, sc->t_end);
	double ops = scenario_ops(sc);

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

/*
 * Enqueue -> handler start on an idle running worker, one job at a time:
 * call[i] is taken before kbp_job_enqueue, ret[i] after it returns, at[i]
 * when the handler starts.
 */
typedef struct probe {
	pthread_mutex_t lock;
	pthread_cond_t cond;
	long handled;
	long cap;
	int64_t *call;
	int64_t *ret;
	int64_t *at;
} probe;

static int probe_handler(void *ctx, kbp_pipeline *p, const kbp_job *job)
{
	probe *pr = ctx;
	int64_t t = now_ns();

	(void)p;
	(void)job;
	pthread_mutex_lock(&pr->lock);
	if (pr->handled < pr->cap)
		pr->at[pr->handled] = t;
	pr->handled++;
	pthread_cond_signal(&pr->cond);
	pthread_mutex_unlock(&pr->lock);
	return 0;
}

static long probe_samples(const probe *pr)
{
	return pr->handled < pr->cap ? pr->handled : pr->cap;
}

/* Nanoseconds from call (from_return: from the return of the enqueue) to handler start. */
static int64_t *probe_delays(const probe *pr, int from_return)
{
	long n = probe_samples(pr);
	int64_t *ns = xcalloc((size_t)n, sizeof(int64_t));

	for (long i = 0; i < n; i++) {
		int64_t d = pr->at[i] - (from_return ? pr->ret[i] : pr->call[i]);

		/* A woken worker may start the job before the enqueue call has returned. */
		ns[i] = d > 0 ? d : 0;
	}
	return ns;
}

/*
 * schema/separate: PostgreSQL only. With separate, the jobs are enqueued
 * through a second pipeline handle, so only LISTEN/NOTIFY can wake the worker.
 */
static int bench_start_latency(probe *pr, const bench_cfg *cfg, const char *schema, int separate,
                               int threads, long samples)
{
	kbp_enqueue_options eo = KBP_ENQUEUE_OPTIONS_INIT;
	kbp_worker_options wopts = KBP_WORKER_OPTIONS_INIT;
	kbp_worker *worker = NULL;
	kbp_pipeline *p, *ep = NULL;
	int64_t budget_end = now_ns() + LATENCY_BUDGET_NS;
	int rc;

	pr->cap = samples;
	pr->call = xcalloc((size_t)pr->cap, sizeof(int64_t));
	pr->ret = xcalloc((size_t)pr->cap, sizeof(int64_t));
	pr->at = xcalloc((size_t)pr->cap, sizeof(int64_t));
	rc = open_pipeline_in(&p, cfg, schema, pool_for(cfg, threads));
	if (rc)
		return rc;
	ep = p;
	if (separate && (rc = open_pipeline_in(&ep, cfg, schema, 0)) != 0) {
		ep = NULL;
		goto out;
	}
	rc = kbp_job_register(p, PROBE_KIND, probe_handler, pr);
	if (rc) {
		note_error("job_register", rc, NULL);
		goto out;
	}
	wopts.threads = threads;
	wopts.batch = cfg->worker_batch;
	wopts.name = "bench-probe";
	rc = kbp_worker_start(&worker, p, &wopts);
	if (rc) {
		note_error("worker_start", rc, NULL);
		goto out;
	}
	for (long i = 0; i < pr->cap && now_ns() < budget_end; i++) {
		struct timespec until;

		pr->call[i] = now_ns();
		rc = kbp_job_enqueue(NULL, ep, PROBE_KIND, NULL, &eo);
		pr->ret[i] = now_ns();
		if (rc) {
			note_error("job_enqueue", rc, NULL);
			break;
		}
		clock_gettime(CLOCK_REALTIME, &until);
		until.tv_sec += WAIT_MS / 1000;
		pthread_mutex_lock(&pr->lock);
		while (pr->handled <= i && rc == 0)
			if (pthread_cond_timedwait(&pr->cond, &pr->lock, &until) == ETIMEDOUT)
				rc = -1;
		pthread_mutex_unlock(&pr->lock);
		if (rc) {
			note_error("job_start_latency", rc, "the worker did not start a probe job within 10 s");
			break;
		}
	}
	kbp_worker_stop(worker);
out:
	if (ep && ep != p)
		kbp_pipeline_close(ep);
	kbp_pipeline_close(p);
	return rc;
}

/* ---- output ---------------------------------------------------------------- */

/* A target's figure before its scenario ran: with --only, most targets are not measured. */
#define NOT_MEASURED (-1.0)

static void add_target(cJSON *targets, const char *name, const char *unit, double target,
                       double measured, int higher_is_better)
{
	cJSON *t = cJSON_CreateObject();

	cJSON_AddStringToObject(t, "name", name);
	cJSON_AddStringToObject(t, "unit", unit);
	cJSON_AddNumberToObject(t, "target", target);
	if (measured == NOT_MEASURED) {
		cJSON_AddNullToObject(t, "measured");
		cJSON_AddNullToObject(t, "met");
	} else {
		cJSON_AddNumberToObject(t, "measured", round_to(measured, 0.1));
		cJSON_AddBoolToObject(t, "met",
		                      higher_is_better ? measured >= target : measured < target);
	}
	cJSON_AddItemToArray(targets, t);
}

static void print_and_free(cJSON *root)
{
	char *text = cJSON_Print(root);

	if (text) {
		puts(text);
		cJSON_free(text);
	}
	cJSON_Delete(root);
}

/* ---- PostgreSQL ------------------------------------------------------------ */

static void free_probe(probe *pr)
{
	free(pr->call);
	free(pr->ret);
	free(pr->at);
}

#ifdef KBP_BENCH_POSTGRES

#define PG_CLIENTS 3
static const int pg_clients[PG_CLIENTS] = { 1, 4, 16 };
#define PG_MIXED 2                  /* MIX_ZIPF and MIX_FLASH_SALE */
#define PG_MIXED_SHOPPERS 16
#define PG_MAX_SCHEMAS 16
#define QUEUE_VARIANTS 5
/* Jobs per kbp_jobs_enqueue call in the batch_enqueue variant. */
#define BENCH_ENQUEUE_BATCH 1000

typedef struct pg_run {
	const bench_cfg *cfg;
	char tag[16];
	PGconn *admin;
	char schemas[PG_MAX_SCHEMAS][64];
	int n_schemas;
	char script[64];            /* the pgbench script file */
	/* pgbench tps per client count; 0 when unmeasured */
	double tps_start[PG_CLIENTS], tps_end[PG_CLIENTS], tps[PG_CLIENTS];
	double lat_ms_start[PG_CLIENTS];
} pg_run;

static int client_index(int clients)
{
	for (int i = 0; i < PG_CLIENTS; i++)
		if (pg_clients[i] == clients)
			return i;
	return -1;
}

/* The baseline tps at that client count (0 if unmeasured). */
static double base_tps(const pg_run *r, int clients)
{
	int i = client_index(clients);

	return i < 0 ? 0 : r->tps[i];
}

/* The baseline's mean transaction time at that client count, in microseconds. */
static double base_txn_us(const pg_run *r, int clients)
{
	double t = base_tps(r, clients);

	return t > 0 ? (double)clients * 1e6 / t : 0;
}

static void add_ratio(cJSON *o, const char *name, double v, double base)
{
	if (base > 0)
		cJSON_AddNumberToObject(o, name, round_to(v / base, 0.0001));
	else
		cJSON_AddNullToObject(o, name);
}

static int admin_exec(pg_run *r, const char *sql)
{
	PGresult *res = PQexec(r->admin, sql);
	int ok = PQresultStatus(res) == PGRES_COMMAND_OK || PQresultStatus(res) == PGRES_TUPLES_OK;

	if (!ok) {
		char msg[300];

		snprintf(msg, sizeof msg, "%s", PQresultErrorMessage(res));
		msg[strcspn(msg, "\n")] = '\0';
		note_error("postgres", -1, msg);
	}
	PQclear(res);
	return ok ? 0 : -1;
}

/* One value of a one-row query, or "?". */
static void admin_value(pg_run *r, const char *sql, char *out, size_t len)
{
	PGresult *res = PQexec(r->admin, sql);

	snprintf(out, len, "%s",
	         PQresultStatus(res) == PGRES_TUPLES_OK && PQntuples(res) == 1 ? PQgetvalue(res, 0, 0)
	                                                                        : "?");
	PQclear(res);
}

/* A fresh schema bench_<tag>_<suffix>; migrated for the library unless plain. */
static const char *new_schema(pg_run *r, const char *suffix, int plain)
{
	char *name, sql[160];
	int rc;

	if (r->n_schemas >= PG_MAX_SCHEMAS)
		return NULL;
	if (!plain && r->cfg->only && strcmp(suffix, r->cfg->only) != 0)
		return NULL;
	name = r->schemas[r->n_schemas];
	snprintf(name, sizeof r->schemas[0], "bench_%s_%s", r->tag, suffix);
	if (plain) {
		snprintf(sql, sizeof sql, "CREATE SCHEMA %s", name);
		if (!r->admin || admin_exec(r, sql) != 0)
			return NULL;
	} else if ((rc = kbp_migrate(NULL, r->cfg->storage, name)) != 0) {
		note_error("migrate", rc, NULL);
		return NULL;
	}
	r->n_schemas++;
	return name;
}

static void drop_schemas(pg_run *r)
{
	if (!r->admin || r->cfg->keep_schemas)
		return;
	for (int i = 0; i < r->n_schemas; i++) {
		char sql[160];

		snprintf(sql, sizeof sql, "DROP SCHEMA IF EXISTS %s CASCADE", r->schemas[i]);
		admin_exec(r, sql);
	}
}

/*
 * Runs pgbench with the one-insert script at `clients` clients for `seconds`;
 * tps excludes connection time. Returns 0 and sets *tps and *lat_ms; 1 when
 * pgbench ran no transaction at all and this is not the last try; or -1 (noted).
 */
static int pgbench_for(pg_run *r, const char *schema, int clients, long seconds, int last,
                       double *tps, double *lat_ms)
{
	char c_arg[16], j_arg[16], t_arg[32], out[65536], pgoptions[200], msg[400];
	const char *old = getenv("PGOPTIONS");
	char *saved = old ? strdup(old) : NULL;
	long ncpu = sysconf(_SC_NPROCESSORS_ONLN);
	int fds[2], status = 0;
	size_t len = 0;
	ssize_t n;
	pid_t pid;
	const char *s;

	*tps = 0;
	*lat_ms = 0;
	snprintf(c_arg, sizeof c_arg, "%d", clients);
	snprintf(j_arg, sizeof j_arg, "%ld", clients < ncpu ? (long)clients : (ncpu > 0 ? ncpu : 1));
	snprintf(t_arg, sizeof t_arg, "%ld", seconds);
	/* The table lives in the run's own schema; pgbench finds it through search_path. */
	snprintf(pgoptions, sizeof pgoptions, "%s%s-c search_path=%s", old ? old : "", old ? " " : "",
	         schema);
	if (pipe(fds) != 0) {
		free(saved);
		note_error("pgbench", -1, "cannot create a pipe");
		return -1;
	}
	setenv("PGOPTIONS", pgoptions, 1);
	fflush(NULL);
	pid = fork();
	if (pid == 0) {
		char *argv[] = { (char *)r->cfg->pgbench, (char *)"-n", (char *)"-M", (char *)"prepared",
			         (char *)"-f", r->script, (char *)"-c", c_arg, (char *)"-j", j_arg,
			         (char *)"-T", t_arg, (char *)r->cfg->storage, NULL };

		dup2(fds[1], 1);
		dup2(fds[1], 2);
		close(fds[0]);
		close(fds[1]);
		execvp(argv[0], argv);
		fprintf(stderr, "cannot run %s: %s\n", argv[0], strerror(errno));
		_exit(127);
	}
	if (saved)
		setenv("PGOPTIONS", saved, 1);
	else
		unsetenv("PGOPTIONS");
	free(saved);
	close(fds[1]);
	if (pid < 0) {
		close(fds[0]);
		note_error("pgbench", -1, "cannot fork");
		return -1;
	}
	while ((n = read(fds[0], out + len, sizeof out - 1 - len)) > 0 ||
	       (n < 0 && errno == EINTR))
		if (n > 0)
			len += (size_t)n;
	out[len] = '\0';
	close(fds[0]);
	while (waitpid(pid, &status, 0) < 0 && errno == EINTR)
		;
	/* PostgreSQL 15: "tps = 10964.123864 (without initial connection time)" */
	s = strstr(out, "tps = ");
	if (s && strstr(s, "without initial connection time"))
		*tps = strtod(s + 6, NULL);
	if ((s = strstr(out, "latency average = ")))
		*lat_ms = strtod(s + 18, NULL);
	if (!WIFEXITED(status) || WEXITSTATUS(status) != 0 || *tps <= 0) {
		if (!last && WIFEXITED(status) && WEXITSTATUS(status) == 0 &&
		    strstr(out, "actually processed: 0\n"))
			return 1;
		/* pgbench's last line says why. */
		while (len > 0 && out[len - 1] == '\n')
			out[--len] = '\0';
		s = strrchr(out, '\n');
		snprintf(msg, sizeof msg, "pgbench at %d clients failed: %.300s", clients,
		         s ? s + 1 : out);
		note_error("pgbench", -1, msg);
		*tps = 0;
		return -1;
	}
	return 0;
}

/*
 * pgbench's -T clock runs while its clients connect: on a loaded machine, 16
 * connections can take all of a short run, which then has no transaction.
 * Such a run is taken again, twice as long, up to four times the asked time.
 */
static int run_pgbench(pg_run *r, const char *schema, int clients, double *tps, double *lat_ms)
{
	long seconds = r->cfg->pgbench_seconds, most = 4 * seconds;
	int rc;

	while ((rc = pgbench_for(r, schema, clients, seconds, 2 * seconds > most, tps, lat_ms)) == 1)
		seconds *= 2;
	return rc;
}

static void baseline_round(pg_run *r, const char *schema, double *tps, double *lat_ms)
{
	for (int i = 0; i < PG_CLIENTS; i++)
		run_pgbench(r, schema, pg_clients[i], &tps[i], lat_ms ? &lat_ms[i] : &(double){ 0 });
}

/* ---- the PostgreSQL job queue ---- */

typedef struct qtiming {
	int64_t first_start;        /* the first handler's start in this run_once call */
	int64_t last_end;
	int64_t handler_ns;         /* time spent in handlers */
} qtiming;

static _Thread_local qtiming tl_q;

static int timed_noop_handler(void *ctx, kbp_pipeline *p, const kbp_job *job)
{
	int64_t t = now_ns(), e;

	(void)ctx;
	(void)p;
	(void)job;
	if (!tl_q.first_start)
		tl_q.first_start = t;
	e = now_ns();
	tl_q.handler_ns += e - t;
	tl_q.last_end = e;
	return 0;
}

typedef struct qvariant {
	const char *name;
	int max_jobs;
	int threads;
	int enqueue_batch;          /* jobs per kbp_jobs_enqueue call, 0: kbp_job_enqueue */
	long target;
	const bench_cfg *cfg;
	const char *schema;
	kbp_pipeline *p;
	pthread_barrier_t bar;
	int64_t enqueue_deadline;
	atomic_long enqueued;
	atomic_long ran;
	int64_t t0, t1, t2;
	/* per run_once call that ran jobs */
	atomic_long n_calls;
	long cap;
	int64_t *call_ns;           /* whole call */
	int64_t *acq_ns;            /* whole call minus handlers */
	int64_t *acq_only_ns;       /* call start -> first handler start */
	int64_t *complete_ns;       /* last handler end -> call return */
	int ok;
} qvariant;

typedef struct qthread {
	qvariant *v;
	int idx;
	long count;
	pthread_t thread;
} qthread;

/* The thread's count of jobs, one per call or enqueue_batch per call, until the deadline. */
static void queue_enqueue(qvariant *v, long count)
{
	kbp_enqueue_options eo = KBP_ENQUEUE_OPTIONS_INIT;
	int per_call = v->enqueue_batch > 0 ? v->enqueue_batch : 1;
	kbp_job_spec *specs = xcalloc((size_t)per_call, sizeof(*specs));
	int rc;

	for (int i = 0; i < per_call; i++) {
		specs[i] = (kbp_job_spec)KBP_JOB_SPEC_INIT;
		specs[i].kind = NOOP_KIND;
	}
	for (long done = 0; done < count && now_ns() < v->enqueue_deadline;) {
		long n = count - done < per_call ? count - done : per_call;

		if (v->enqueue_batch > 0)
			rc = kbp_jobs_enqueue(NULL, NULL, v->p, specs, (size_t)n);
		else
			rc = kbp_job_enqueue(NULL, v->p, NOOP_KIND, NULL, &eo);
		if (rc) {
			note_error(v->enqueue_batch > 0 ? "jobs_enqueue" : "job_enqueue", rc, NULL);
			break;
		}
		atomic_fetch_add(&v->enqueued, n);
		done += n;
	}
	free(specs);
}

static void *queue_thread(void *arg)
{
	qthread *t = arg;
	qvariant *v = t->v;
	char wid[48];
	int rc, ran;

	snprintf(wid, sizeof wid, "bench-q-%d", t->idx);
	pthread_barrier_wait(&v->bar);
	queue_enqueue(v, t->count);
	pthread_barrier_wait(&v->bar);
	for (;;) {
		int64_t c0, c1;
		long k;

		tl_q = (qtiming){ 0, 0, 0 };
		c0 = now_ns();
		rc = kbp_worker_run_once(&ran, v->p, wid, v->max_jobs);
		c1 = now_ns();
		if (rc) {
			note_error("worker_run_once", rc, NULL);
			break;
		}
		if (ran == 0)
			break;
		atomic_fetch_add(&v->ran, ran);
		k = atomic_fetch_add(&v->n_calls, 1);
		if (k < v->cap) {
			v->call_ns[k] = c1 - c0;
			v->acq_ns[k] = c1 - c0 - tl_q.handler_ns;
			v->acq_only_ns[k] = tl_q.first_start - c0;
			v->complete_ns[k] = c1 - tl_q.last_end;
		}
	}
	return NULL;
}

static void bench_queue_pg(qvariant *v, pg_run *r, double budget_s)
{
	qthread th[16];
	int rc;

	v->cap = v->target + 64;
	v->call_ns = xcalloc((size_t)v->cap, sizeof(int64_t));
	v->acq_ns = xcalloc((size_t)v->cap, sizeof(int64_t));
	v->acq_only_ns = xcalloc((size_t)v->cap, sizeof(int64_t));
	v->complete_ns = xcalloc((size_t)v->cap, sizeof(int64_t));
	if (!(v->schema = new_schema(r, v->name, 0)))
		return;
	if (open_pipeline_in(&v->p, v->cfg, v->schema, pool_for(v->cfg, v->threads)) != 0)
		return;
	rc = kbp_job_register(v->p, NOOP_KIND, timed_noop_handler, NULL);
	if (rc) {
		note_error("job_register", rc, NULL);
		goto out;
	}
	pthread_barrier_init(&v->bar, NULL, (unsigned)v->threads + 1);
	for (int i = 0; i < v->threads; i++) {
		th[i] = (qthread){ v, i, v->target / v->threads + (i < v->target % v->threads), 0 };
		if (pthread_create(&th[i].thread, NULL, queue_thread, &th[i]) != 0) {
			fputs("kbp-bench: cannot start a queue thread\n", stderr);
			exit(1);
		}
	}
	v->enqueue_deadline = now_ns() + (int64_t)(budget_s * 1e9);
	pthread_barrier_wait(&v->bar);
	v->t0 = now_ns();
	pthread_barrier_wait(&v->bar);
	v->t1 = now_ns();
	for (int i = 0; i < v->threads; i++)
		pthread_join(th[i].thread, NULL);
	v->t2 = now_ns();
	pthread_barrier_destroy(&v->bar);
	v->ok = atomic_load(&v->ran) == atomic_load(&v->enqueued);
	if (!v->ok)
		note_error("worker_run_once", -1, "drained a different number of jobs than enqueued");
out:
	kbp_pipeline_close(v->p);
	v->p = NULL;
}

static cJSON *queue_json(qvariant *v, const pg_run *r)
{
	cJSON *o = cJSON_CreateObject();
	long jobs = atomic_load(&v->ran), calls = atomic_load(&v->n_calls);
	double enq = seconds_between(v->t0, v->t1), drain = seconds_between(v->t1, v->t2);
	double ops = enq + drain > 0 ? (double)jobs / (enq + drain) : 0;
	double base = base_tps(r, v->threads);

	if (calls > v->cap)
		calls = v->cap;
	cJSON_AddStringToObject(o, "name", v->name);
	cJSON_AddNumberToObject(o, "max_jobs", v->max_jobs);
	cJSON_AddNumberToObject(o, "threads", v->threads);
	cJSON_AddNumberToObject(o, "enqueue_batch", v->enqueue_batch);
	cJSON_AddNumberToObject(o, "jobs", (double)jobs);
	cJSON_AddNumberToObject(o, "enqueue_seconds", round_to(enq, 0.0001));
	cJSON_AddNumberToObject(o, "drain_seconds", round_to(drain, 0.0001));
	cJSON_AddNumberToObject(o, "enqueue_per_s", round_to(enq > 0 ? (double)jobs / enq : 0, 1));
	cJSON_AddNumberToObject(o, "run_per_s", round_to(drain > 0 ? (double)jobs / drain : 0, 1));
	cJSON_AddNumberToObject(o, "jobs_per_s", round_to(ops, 1));
	cJSON_AddNumberToObject(o, "baseline_clients", v->threads);
	cJSON_AddNumberToObject(o, "baseline_tps", round_to(base, 1));
	add_ratio(o, "ratio_to_baseline", ops, base);
	cJSON_AddNumberToObject(o, "run_once_calls", (double)calls);
	cJSON_AddItemToObject(o, "run_once_call_us",
	                      latency_json_ref(v->call_ns, (size_t)calls, base_txn_us(r, v->threads)));
	return o;
}

static void free_queue(qvariant *v)
{
	free(v->call_ns);
	free(v->acq_ns);
	free(v->acq_only_ns);
	free(v->complete_ns);
}

static cJSON *start_latency_json(probe *pr, const pg_run *r, const char *how)
{
	cJSON *o = cJSON_CreateObject();
	long n = probe_samples(pr);
	int64_t *a = probe_delays(pr, 0), *b = probe_delays(pr, 1);
	double ref = base_txn_us(r, 1);

	cJSON_AddStringToObject(o, "enqueue", how);
	cJSON_AddNumberToObject(o, "samples", (double)n);
	cJSON_AddItemToObject(o, "from_enqueue_call_us", latency_json_ref(a, (size_t)n, ref));
	cJSON_AddItemToObject(o, "from_enqueue_return_us", latency_json_ref(b, (size_t)n, ref));
	free(a);
	free(b);
	return o;
}

static int write_script(pg_run *r)
{
	static const char line[] = "INSERT INTO bench_baseline(v) VALUES (1);\n";
	int fd;

	snprintf(r->script, sizeof r->script, "/tmp/kbp-bench-pgbench-XXXXXX");
	fd = mkstemp(r->script);
	if (fd < 0) {
		r->script[0] = '\0';
		return -1;
	}
	if (write(fd, line, sizeof line - 1) != (ssize_t)(sizeof line - 1)) {
		close(fd);
		return -1;
	}
	/* pgbench may run as another user than the one that owns the file. */
	fchmod(fd, 0644);
	close(fd);
	return 0;
}

/* The settings that decide what a commit costs and how many clients fit, as SHOW prints them. */
static const char *const server_settings[] = {
	"server_version", "fsync", "synchronous_commit", "full_page_writes", "shared_buffers",
	"max_connections",
};
#define N_SERVER_SETTINGS (sizeof server_settings / sizeof server_settings[0])

static void read_server_settings(pg_run *r, char values[][64])
{
	for (size_t i = 0; i < N_SERVER_SETTINGS; i++) {
		char sql[64];

		snprintf(sql, sizeof sql, "SHOW %s", server_settings[i]);
		admin_value(r, sql, values[i], 64);
	}
}

static void add_server_json(cJSON *pg, char values[][64])
{
	cJSON *o = cJSON_AddObjectToObject(pg, "server");

	for (size_t i = 0; i < N_SERVER_SETTINGS; i++)
		cJSON_AddStringToObject(o, i == 0 ? "version" : server_settings[i], values[i]);
}

/* One pipeline scenario's row: throughput and per-stage latency beside the baseline. */
static cJSON *pg_scenario_json(scenario *sc, const pg_run *r)
{
	double ops = scenario_ops(sc), base = base_tps(r, sc->shoppers);
	double ref = base_txn_us(r, sc->shoppers);
	cJSON *o = cJSON_CreateObject(), *lat;

	cJSON_AddStringToObject(o, "sku_mix", sku_mixes[sc->mix].name);
	cJSON_AddNumberToObject(o, "skus", sku_mixes[sc->mix].skus);
	cJSON_AddNumberToObject(o, "shoppers", sc->shoppers);
	cJSON_AddNumberToObject(o, "worker_threads", sc->worker_threads);
	cJSON_AddNumberToObject(o, "worker_batch", r->cfg->worker_batch ? r->cfg->worker_batch : 16);
	cJSON_AddStringToObject(o, "worker_handle", "separate (LISTEN/NOTIFY wakeups)");
	cJSON_AddNumberToObject(o, "pool_size", sc->pool ? sc->pool : 8);
	cJSON_AddNumberToObject(o, "orders", (double)sc->confirmed);
	cJSON_AddNumberToObject(o, "seconds", round_to(seconds_between(sc->t_start, sc->t_end), 0.0001));
	cJSON_AddNumberToObject(o, "orders_per_s", round_to(ops, 1));
	cJSON_AddNumberToObject(o, "baseline_clients", sc->shoppers);
	cJSON_AddNumberToObject(o, "baseline_tps", round_to(base, 1));
	add_ratio(o, "ratio_to_baseline", ops, base);
	lat = cJSON_AddObjectToObject(o, "latency_us");
	for (int k = 0; k < N_STAGES; k++)
		cJSON_AddItemToObject(lat, stage_names[k],
		                      latency_json_ref(sc->lat[k], (size_t)sc->confirmed, ref));
	return o;
}

/* A scenario of `shoppers` shoppers and a running worker on a separate handle, in a fresh schema. */
static void run_pg_scenario(scenario *sc, pg_run *r, int shoppers, int mix, int worker_threads,
                            long orders)
{
	const bench_cfg *cfg = r->cfg;
	char suffix[32];

	*sc = (scenario){ .mode = "worker", .shoppers = shoppers, .mix = mix,
		          .worker_threads = worker_threads, .orders = orders, .separate_worker = 1,
		          .warmup = 1, .pool = pool_for(cfg, shoppers),
		          .budget_ns = (int64_t)(cfg->scenario_seconds * 1e9) };
	snprintf(suffix, sizeof suffix, mix == MIX_ROUND_ROBIN ? "o%d" : "o%d_%.4s", shoppers,
	         sku_mixes[mix].name);
	if ((sc->schema = new_schema(r, suffix, 0)))
		run_scenario(sc, cfg);
}

static int main_postgres(bench_cfg *cfg, int64_t t_run)
{
	pg_run r = { .cfg = cfg };
	scenario sc[PG_CLIENTS], mixed[PG_MIXED];
	qvariant qv[QUEUE_VARIANTS] = {
		{ .name = "q1", .max_jobs = 1, .threads = 1 },
		{ .name = "q64", .max_jobs = JOB_BATCH, .threads = 1 },
		{ .name = "q1x4", .max_jobs = 1, .threads = 4 },
		{ .name = "q64x4", .max_jobs = JOB_BATCH, .threads = 4 },
		{ .name = "qb", .max_jobs = JOB_BATCH, .threads = 1, .enqueue_batch = BENCH_ENQUEUE_BATCH },
	};
	static const char *const qv_label[QUEUE_VARIANTS] = {
		"one_at_a_time", "batched", "one_at_a_time_4_threads", "batched_4_threads",
		"batch_enqueue",
	};
	probe pr_notify = { .lock = PTHREAD_MUTEX_INITIALIZER, .cond = PTHREAD_COND_INITIALIZER };
	probe pr_same = { .lock = PTHREAD_MUTEX_INITIALIZER, .cond = PTHREAD_COND_INITIALIZER };
	cJSON *root, *pg, *o, *arr, *targets;
	const char *base_schema = NULL, *s;
	char settings[N_SERVER_SETTINGS][64];
	unsigned char rnd[4];
	double best_ops = NOT_MEASURED, worst_confirm_p99 = NOT_MEASURED, best_queue = NOT_MEASURED,
	       acq_p99 = NOT_MEASURED, start_p99 = NOT_MEASURED;
	int best_shoppers = 0, failed, worker_threads = cfg->worker_threads ? cfg->worker_threads : 2;
	const char *best_queue_name = "";
	long orders = cfg->orders ? cfg->orders : DEFAULT_PG_ORDERS;
	long jobs = cfg->jobs ? cfg->jobs : DEFAULT_PG_JOBS;
	long samples = cfg->latency_samples ? cfg->latency_samples : DEFAULT_PG_LATENCY_SAMPLES;

	for (size_t i = 0; i < N_SERVER_SETTINGS; i++)
		strcpy(settings[i], "?");
	randombytes_buf(rnd, sizeof rnd);
	snprintf(r.tag, sizeof r.tag, "%02x%02x%02x%02x", rnd[0], rnd[1], rnd[2], rnd[3]);

	/* The admin connection: the baseline table, server facts, dropping the schemas. */
	r.admin = PQconnectdb(cfg->storage);
	if (PQstatus(r.admin) != CONNECTION_OK) {
		char msg[300];

		snprintf(msg, sizeof msg, "cannot connect: %s", PQerrorMessage(r.admin));
		msg[strcspn(msg, "\n")] = '\0';
		note_error("postgres", -1, msg);
		PQfinish(r.admin);
		r.admin = NULL;
	} else {
		admin_exec(&r, "SET client_min_messages = warning");
		read_server_settings(&r, settings);
		if ((base_schema = new_schema(&r, "base", 1))) {
			char sql[200];

			snprintf(sql, sizeof sql,
			         "CREATE TABLE %s.bench_baseline (id bigint GENERATED ALWAYS AS IDENTITY "
			         "PRIMARY KEY, v integer NOT NULL)", base_schema);
			if (admin_exec(&r, sql) != 0)
				base_schema = NULL;
		}
	}

	/* Baseline at the start. */
	if (base_schema && write_script(&r) == 0)
		baseline_round(&r, base_schema, r.tps_start, r.lat_ms_start);
	else if (base_schema)
		note_error("pgbench", -1, "cannot write the pgbench script file");

	/* The pipeline: 1, 4, 16 shoppers with a running worker. */
	for (int i = 0; i < PG_CLIENTS; i++)
		run_pg_scenario(&sc[i], &r, pg_clients[i], MIX_ROUND_ROBIN, worker_threads, orders);
	/* The same at 16 shoppers with a shop's uneven sales, and with a flash sale. */
	for (int i = 0; i < PG_MIXED; i++)
		run_pg_scenario(&mixed[i], &r, PG_MIXED_SHOPPERS, MIX_ZIPF + i, worker_threads, orders);

	/* The job queue alone. */
	for (int i = 0; i < QUEUE_VARIANTS; i++) {
		qv[i].cfg = cfg;
		qv[i].target = jobs;
		bench_queue_pg(&qv[i], &r, cfg->scenario_seconds);
	}

	/* Job start latency, through LISTEN/NOTIFY and through the worker's own handle. */
	if ((s = new_schema(&r, "start", 0)))
		bench_start_latency(&pr_notify, cfg, s, 1, worker_threads, samples);
	if ((s = new_schema(&r, "start_same", 0)))
		bench_start_latency(&pr_same, cfg, s, 0, worker_threads, samples);

	/* Baseline at the end. */
	if (base_schema && r.script[0])
		baseline_round(&r, base_schema, r.tps_end, NULL);
	for (int i = 0; i < PG_CLIENTS; i++) {
		int n = (r.tps_start[i] > 0) + (r.tps_end[i] > 0);

		r.tps[i] = n ? (r.tps_start[i] + r.tps_end[i]) / n : 0;
	}
	if (r.script[0])
		unlink(r.script);

	/* ---- JSON ---- */
	root = cJSON_CreateObject();
	cJSON_AddStringToObject(root, "benchmark", "kbpipeline");
	cJSON_AddStringToObject(root, "storage", "postgres");
	cJSON_AddNumberToObject(root, "cpus", (double)sysconf(_SC_NPROCESSORS_ONLN));
	pg = cJSON_AddObjectToObject(root, "postgres");
	add_server_json(pg, settings);
	cJSON_AddNumberToObject(pg, "orders_per_scenario", (double)orders);
	cJSON_AddNumberToObject(pg, "jobs_per_queue_variant", (double)jobs);
	cJSON_AddNumberToObject(pg, "latency_samples", (double)samples);
	cJSON_AddStringToObject(pg, "schemas", cfg->keep_schemas ? "kept" : "dropped");
	cJSON_AddStringToObject(pg, "schema_prefix", r.n_schemas ? r.schemas[0] : "");
	cJSON_AddStringToObject(pg, "ratios",
	                        "throughput / pgbench tps at the matching client count "
	                        "(shoppers or queue threads); latency / pgbench mean transaction "
	                        "time at that client count (clients / tps)");

	o = cJSON_AddObjectToObject(pg, "baseline");
	cJSON_AddStringToObject(o, "tool", "pgbench -n -M prepared");
	cJSON_AddStringToObject(o, "script", "INSERT INTO bench_baseline(v) VALUES (1);");
	cJSON_AddStringToObject(o, "table",
	                        "bench_baseline (id bigint identity primary key, v integer not null)");
	cJSON_AddNumberToObject(o, "seconds_each", (double)cfg->pgbench_seconds);
	arr = cJSON_AddArrayToObject(o, "runs");
	for (int i = 0; i < PG_CLIENTS; i++) {
		cJSON *b = cJSON_CreateObject();

		cJSON_AddNumberToObject(b, "clients", pg_clients[i]);
		cJSON_AddNumberToObject(b, "tps", round_to(r.tps[i], 1));
		cJSON_AddNumberToObject(b, "tps_at_start", round_to(r.tps_start[i], 1));
		cJSON_AddNumberToObject(b, "tps_at_end", round_to(r.tps_end[i], 1));
		cJSON_AddNumberToObject(b, "mean_txn_us", round_to(base_txn_us(&r, pg_clients[i]), 0.1));
		cJSON_AddItemToArray(arr, b);
	}

	arr = cJSON_AddArrayToObject(pg, "pipeline");
	for (int i = 0; i < PG_CLIENTS; i++) {
		double ops = scenario_ops(&sc[i]);

		if (!sc[i].ran)
			continue;
		cJSON_AddItemToArray(arr, pg_scenario_json(&sc[i], &r));
		if (ops > best_ops) {
			best_ops = ops;
			best_shoppers = sc[i].shoppers;
		}
		if (sc[i].confirmed > 0) {
			double p99 = pct_us(sc[i].lat[ST_CONFIRM], (size_t)sc[i].confirmed, 0.99);

			if (p99 > worst_confirm_p99)
				worst_confirm_p99 = p99;
		}
	}

	/* Apart from the targets: contention on hot SKUs is measured, not judged. */
	arr = cJSON_AddArrayToObject(pg, "pipeline_sku_mix");
	for (int i = 0; i < PG_MIXED; i++)
		if (mixed[i].ran)
			cJSON_AddItemToArray(arr, pg_scenario_json(&mixed[i], &r));

	arr = cJSON_AddArrayToObject(pg, "job_queue");
	for (int i = 0; i < QUEUE_VARIANTS; i++) {
		double jobs_s, enq, drain;

		if (!qv[i].schema)
			continue;
		o = queue_json(&qv[i], &r);
		cJSON_ReplaceItemInObject(o, "name", cJSON_CreateString(qv_label[i]));
		cJSON_AddItemToArray(arr, o);
		enq = seconds_between(qv[i].t0, qv[i].t1);
		drain = seconds_between(qv[i].t1, qv[i].t2);
		jobs_s = enq + drain > 0 ? (double)atomic_load(&qv[i].ran) / (enq + drain) : 0;
		if (qv[i].max_jobs > 1 && jobs_s > best_queue) {
			best_queue = jobs_s;
			best_queue_name = qv_label[i];
		}
	}

	/* Acquisition: the one-at-a-time drain on one thread. */
	o = cJSON_AddObjectToObject(pg, "job_acquisition_latency");
	cJSON_AddStringToObject(o, "measured",
	                        "kbp_worker_run_once(max_jobs 1) calls that ran one no-op job, one "
	                        "thread, a queue of pending jobs");
	if (qv[0].schema) {
		long n = atomic_load(&qv[0].n_calls);
		double ref = base_txn_us(&r, 1);

		if (n > qv[0].cap)
			n = qv[0].cap;
		cJSON_AddNumberToObject(o, "samples", (double)n);
		cJSON_AddItemToObject(o, "call_minus_handler_us",
		                      latency_json_ref(qv[0].acq_ns, (size_t)n, ref));
		if (n > 0)
			acq_p99 = pct_us(qv[0].acq_ns, (size_t)n, 0.99);
		cJSON_AddItemToObject(o, "acquire_only_us",
		                      latency_json_ref(qv[0].acq_only_ns, (size_t)n, ref));
		cJSON_AddItemToObject(o, "complete_only_us",
		                      latency_json_ref(qv[0].complete_ns, (size_t)n, ref));
	}

	o = cJSON_AddObjectToObject(pg, "job_start_latency");
	cJSON_AddNumberToObject(o, "worker_threads", worker_threads);
	if (pr_notify.cap) {
		cJSON_AddItemToObject(o, "via_notify",
		                      start_latency_json(&pr_notify, &r, "a second pipeline handle"));
		if (probe_samples(&pr_notify) > 0) {
			int64_t *d = probe_delays(&pr_notify, 0);

			qsort(d, (size_t)probe_samples(&pr_notify), sizeof *d, cmp_i64);
			start_p99 = pct_us(d, (size_t)probe_samples(&pr_notify), 0.99);
			free(d);
		}
	}
	if (pr_same.cap)
		cJSON_AddItemToObject(o, "same_handle",
		                      start_latency_json(&pr_same, &r, "the worker's own handle"));

	/* DESIGN.md §11; reported, not enforced: these machines are shared. */
	targets = cJSON_AddArrayToObject(root, "targets");
	add_target(targets, "job acquisition p99 (run_once of one job minus the handler)", "us",
	           1000, acq_p99, 0);
	add_target(targets, "verified_to_confirmed p99 with a running worker (worst of 1/4/16 shoppers)",
	           "us", 20000, worst_confirm_p99, 0);
	{
		char name[96];

		snprintf(name, sizeof name, "orders_per_s end to end (best: %d shoppers)", best_shoppers);
		add_target(targets, name, "orders/s", 1000, best_ops, 1);
		snprintf(name, sizeof name, "job queue alone, batched (best: %s)", best_queue_name);
		add_target(targets, name, "jobs/s", 18000, best_queue, 1);
	}
	add_target(targets, "job start after enqueue p99 (via LISTEN/NOTIFY, from the enqueue call)",
	           "us", 5000, start_p99, 0);

	drop_schemas(&r);
	PQfinish(r.admin);

	failed = atomic_load(&errors);
	cJSON_AddNumberToObject(root, "errors", failed);
	if (failed)
		cJSON_AddStringToObject(root, "first_error", first_error);
	cJSON_AddNumberToObject(root, "wall_seconds", round_to(seconds_between(t_run, now_ns()), 0.01));
	print_and_free(root);

	for (int i = 0; i < PG_CLIENTS; i++)
		for (int k = 0; k < N_STAGES; k++)
			free(sc[i].lat[k]);
	for (int i = 0; i < PG_MIXED; i++)
		for (int k = 0; k < N_STAGES; k++)
			free(mixed[i].lat[k]);
	for (int i = 0; i < QUEUE_VARIANTS; i++)
		free_queue(&qv[i]);
	free_probe(&pr_notify);
	free_probe(&pr_same);
	if (failed)
		fprintf(stderr, "kbp-bench: %d errors, first: %s\n", failed, first_error);
	return failed ? 1 : 0;
}

#endif /* KBP_BENCH_POSTGRES */

/* ---- arguments --------------------------------------------------------------- */

static void usage(FILE *f)
{
	fprintf(f,
	        "usage: kbp-bench [--orders N] [--jobs N] [--latency-samples N] [--worker-threads N]\n"
	        "                 [--worker-batch N] [--pool N] [--seconds S] [--pgbench PATH] [--pgbench-seconds N]\n"
	        "                 [--keep-schemas] [--only SCENARIO] [STORAGE_URI]\n"
	        "  --orders N           memory: orders over all four pipeline scenarios (default %ld);\n"
	        "                       PostgreSQL: orders per scenario (default %ld)\n"
	        "  --jobs N             no-op jobs for the job queue alone (default %ld; PostgreSQL:\n"
	        "                       per variant, default %ld)\n"
	        "  --latency-samples N  enqueue-to-start samples on a running worker (default %ld;\n"
	        "                       PostgreSQL %ld)\n"
	        "  --worker-threads N   threads of the running worker (default 1; PostgreSQL 2)\n"
	        "  --worker-batch N     jobs the running worker acquires per round (default: the\n"
	        "                       library's, 16)\n"
	        "  --pool N             PostgreSQL: connection pool size of every pipeline handle\n"
	        "                       (default: the library's 8, or the thread count if larger)\n"
	        "  --seconds S          PostgreSQL: cap of each scenario (default %.0f)\n"
	        "  --pgbench PATH       the baseline tool (default %s)\n"
	        "  --pgbench-seconds N  each pgbench run, at the start and at the end (default %ld)\n"
	        "  --keep-schemas       PostgreSQL: keep the bench_<tag>_* schemas for inspection\n"
	        "  --only SCENARIO      PostgreSQL: run one scenario, named by its schema's suffix\n"
	        "                       (o1, o4, o16, o16_zipf, o16_flas, q1, q64, q1x4, q64x4, qb,\n"
	        "                       start, start_same), for profiling\n"
	        "  STORAGE_URI          default memory:; sqlite:PATH runs the memory bench on a file;\n"
	        "                       postgresql://… runs the PostgreSQL bench\n",
	        DEFAULT_ORDERS, DEFAULT_PG_ORDERS, DEFAULT_JOBS, DEFAULT_PG_JOBS,
	        DEFAULT_LATENCY_SAMPLES, DEFAULT_PG_LATENCY_SAMPLES, DEFAULT_PG_SECONDS,
	        DEFAULT_PGBENCH, DEFAULT_PGBENCH_SECONDS);
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

/* Mirrors the library's rule (lib/core/storage_open.c). */
static int storage_is_postgres(const char *uri)
{
	return strncmp(uri, "postgresql://", 13) == 0 || strncmp(uri, "postgres://", 11) == 0 ||
	       strchr(uri, '=') != NULL;
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
		} else if (strcmp(a, "--worker-batch") == 0) {
			if (parse_count(a, i + 1 < argc ? argv[++i] : NULL, 1, 1000, &v))
				return -1;
			cfg->worker_batch = (int)v;
		} else if (strcmp(a, "--pool") == 0) {
			if (parse_count(a, i + 1 < argc ? argv[++i] : NULL, 1, 64, &v))
				return -1;
			cfg->pool = (int)v;
		} else if (strcmp(a, "--seconds") == 0) {
			if (parse_count(a, i + 1 < argc ? argv[++i] : NULL, 1, 3600, &v))
				return -1;
			cfg->scenario_seconds = (double)v;
		} else if (strcmp(a, "--pgbench-seconds") == 0) {
			if (parse_count(a, i + 1 < argc ? argv[++i] : NULL, 1, 600, &cfg->pgbench_seconds))
				return -1;
		} else if (strcmp(a, "--pgbench") == 0) {
			if (i + 1 >= argc) {
				fputs("kbp-bench: --pgbench needs a path\n", stderr);
				return -1;
			}
			cfg->pgbench = argv[++i];
		} else if (strcmp(a, "--only") == 0) {
			if (i + 1 >= argc) {
				fputs("kbp-bench: --only needs a scenario (o1, o16_zipf, q64, start, ...)\n", stderr);
				return -1;
			}
			cfg->only = argv[++i];
		} else if (strcmp(a, "--keep-schemas") == 0) {
			cfg->keep_schemas = 1;
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
	cfg->is_pg = storage_is_postgres(cfg->storage);
	if (!cfg->is_pg) {
		if (!cfg->orders)
			cfg->orders = DEFAULT_ORDERS;
		if (!cfg->jobs)
			cfg->jobs = DEFAULT_JOBS;
		if (!cfg->latency_samples)
			cfg->latency_samples = DEFAULT_LATENCY_SAMPLES;
		if (!cfg->worker_threads)
			cfg->worker_threads = 1;
	}
	return 0;
}

/* ---- the memory backend -------------------------------------------------------- */

static int main_memory(bench_cfg *cfg, int64_t t_run)
{
	scenario sc[4] = {
		{ .mode = "worker", .inline_worker = 0, .shoppers = 1 },
		{ .mode = "worker", .inline_worker = 0, .shoppers = 2 },
		{ .mode = "inline", .inline_worker = 1, .shoppers = 1 },
		{ .mode = "inline", .inline_worker = 1, .shoppers = 2 },
	};
	queue_result qr = { 0 };
	probe pr = { .lock = PTHREAD_MUTEX_INITIALIZER, .cond = PTHREAD_COND_INITIALIZER };
	cJSON *root, *arr, *o, *targets;
	double base0, base1, base, best_ops = NOT_MEASURED, worst_confirm_p99 = NOT_MEASURED, queue_ops,
	       start_p99 = NOT_MEASURED;
	const char *best_name = "";
	char storage_name[32] = "?";
	kbp_pipeline *probe_p;
	int failed;

	if (open_pipeline(&probe_p, cfg) == 0) {
		snprintf(storage_name, sizeof storage_name, "%s", kbp_pipeline_storage_name(probe_p));
		kbp_pipeline_close(probe_p);
	}

	base0 = baseline_ops();
	for (int i = 0; i < 4 && atomic_load(&errors) == 0; i++) {
		/* A store that outlives its handle (sqlite:) gives each scenario its own. */
		if (strcmp(cfg->storage, "memory:") != 0)
			sc[i].schema = (const char *[]){ "scenario1", "scenario2", "scenario3",
				                         "scenario4" }[i];
		sc[i].orders = cfg->orders / 4;
		sc[i].worker_threads = sc[i].inline_worker ? 0 : cfg->worker_threads;
		run_scenario(&sc[i], cfg);
	}
	if (atomic_load(&errors) == 0)
		bench_queue(&qr, cfg);
	if (atomic_load(&errors) == 0)
		bench_start_latency(&pr, cfg, NULL, 0, 1, cfg->latency_samples);
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
		double ops = scenario_ops(&sc[i]);

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
	cJSON_AddNumberToObject(o, "samples", (double)probe_samples(&pr));
	cJSON_AddNumberToObject(o, "worker_threads", 1);
	if (pr.cap) {
		int64_t *d = probe_delays(&pr, 0);
		size_t n = (size_t)probe_samples(&pr);

		cJSON_AddItemToObject(o, "latency_us", latency_json(d, n));
		if (n > 0)
			start_p99 = pct_us(d, n, 0.99);
		free(d);
	}

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
	print_and_free(root);

	for (int i = 0; i < 4; i++)
		for (int k = 0; k < N_STAGES; k++)
			free(sc[i].lat[k]);
	free(qr.batch_ns);
	free_probe(&pr);
	if (failed)
		fprintf(stderr, "kbp-bench: %d errors, first: %s\n", failed, first_error);
	return failed ? 1 : 0;
}

int main(int argc, char **argv)
{
	bench_cfg cfg = { .scenario_seconds = DEFAULT_PG_SECONDS,
		          .pgbench_seconds = DEFAULT_PGBENCH_SECONDS,
		          .pgbench = DEFAULT_PGBENCH };
	int64_t t_run = now_ns();

	if (parse_args(&cfg, argc, argv))
		return 2;
	zipf_init();
	if (sodium_init() < 0) {
		fputs("kbp-bench: libsodium failed to initialise\n", stderr);
		return 1;
	}
	if (cfg.is_pg) {
#ifdef KBP_BENCH_POSTGRES
		return main_postgres(&cfg, t_run);
#else
		fputs("kbp-bench: built without libpq: no PostgreSQL benchmark\n", stderr);
		return 1;
#endif
	}
	return main_memory(&cfg, t_run);
}
