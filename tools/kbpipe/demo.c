/* SPDX-License-Identifier: MIT */
/*
 * kbpipe demo: a small shop run end to end through the real pipeline.
 *
 * Shoppers run concurrently against one pipeline with a running worker:
 * ordinary buyers, two shoppers racing for a one-seat time slot, one whose
 * payment callback arrives twice and one whose payment is declined. The demo
 * then checks the invariants the library promises and exits 0 only if every
 * one held, so it doubles as a smoke test of a build or of a storage URI.
 */
#include "demo.h"

#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#define DEMO_MONITOR_SLEEP_NS 200000

typedef struct seed_vendor {
	const char *id;
	const char *name;
} seed_vendor;

static const seed_vendor vendors[] = {
	{ "himalayan-tea-house", "Himalayan Tea House" },
	{ "patan-crafts", "Patan Crafts Cooperative" },
};

const seed_product demo_products[N_PRODUCTS] = {
	{ "ilam-tea-250g", "himalayan-tea-house", "Ilam first-flush tea, 250 g", 45000, 40, 4 },
	{ "wild-honey-500g", "himalayan-tea-house", "Wild cliff honey, 500 g", 120000, 20, 2 },
	{ "singing-bowl", "patan-crafts", "Hand-beaten singing bowl", 350000, 5, 0 },
	{ "pottery-class-sat-1000", "patan-crafts", "Pottery class, Saturday 10:00 (one seat)",
	  250000, 1, 0 },
};

const char *const demo_role_names[] = { "buyer", "racer", "duplicate-callback", "declined" };

void kbpipe_demo_usage(FILE *f)
{
	fprintf(f,
	        "usage: kbpipe [GLOBAL OPTIONS] demo [--shoppers N] [--json]\n"
	        "\n"
	        "Seeds two vendors, a few products and a one-seat time slot, starts a worker with\n"
	        "%d threads and runs N concurrent shoppers (default %d, %d..%d): buyers, two racing\n"
	        "for the slot, one whose callback arrives twice and one whose payment is declined.\n"
	        "Then checks the pipeline's invariants.\n"
	        "\n"
	        "  --shoppers N   number of concurrent shoppers\n"
	        "  --json         print the summary as JSON\n"
	        "  -h, --help     show this help\n"
	        "\n"
	        "Exit status: 0 every invariant held, 1 one did not (it is named), 64 usage error.\n",
	        DEMO_WORKER_THREADS, DEMO_SHOPPERS_DEFAULT, DEMO_SHOPPERS_MIN, DEMO_SHOPPERS_MAX);
}

static void log_to_stderr(void *ctx, kbp_log_level level, const char *message)
{
	static const char *const names[] = { "debug", "info", "warn", "error" };

	(void)ctx;
	fprintf(stderr, "kbpipe: [%s] %s\n", level <= KBP_LOG_ERROR ? names[level] : "?", message);
}

static int64_t seed_on_hand(const demo *d, int i)
{
	int64_t grown = demo_products[i].on_hand_per_shopper * d->n;

	return grown > demo_products[i].on_hand ? grown : demo_products[i].on_hand;
}

/* ---- the run ---------------------------------------------------------- */

static int seed(demo *d)
{
	int rc;

	for (size_t i = 0; i < sizeof vendors / sizeof vendors[0]; i++) {
		rc = kbp_vendor_put(d->p, vendors[i].id, vendors[i].name);
		if (rc)
			return kbpipe_lib_error("vendor_put", rc);
	}
	for (int i = 0; i < N_PRODUCTS; i++) {
		kbp_product_spec spec = KBP_PRODUCT_SPEC_INIT;

		spec.id = demo_products[i].id;
		spec.vendor_id = demo_products[i].vendor_id;
		spec.name = demo_products[i].name;
		spec.price_minor = demo_products[i].price_minor;
		spec.currency = "NPR";
		spec.on_hand = seed_on_hand(d, i);
		rc = kbp_product_put(d->p, &spec);
		if (rc)
			return kbpipe_lib_error("product_put", rc);
		rc = kbp_product_get(&d->before[i], d->p, demo_products[i].id);
		if (rc)
			return kbpipe_lib_error("product_get", rc);
	}
	return 0;
}

/* Samples 0 <= reserved <= on_hand while the shoppers run. */
static void monitor(demo *d)
{
	const struct timespec pause = { 0, DEMO_MONITOR_SLEEP_NS };

	for (;;) {
		int last = atomic_load(&d->finished) == d->n;

		for (int i = 0; i < N_PRODUCTS; i++) {
			kbp_product *pr;
			int rc = kbp_product_get(&pr, d->p, demo_products[i].id);

			d->samples++;
			if (rc) {
				if (d->bound_violations++ == 0)
					snprintf(d->first_violation, sizeof d->first_violation,
					         "product_get %s: %s", demo_products[i].id, kbpipe_code_name(rc));
				continue;
			}
			if (pr->reserved < 0 || pr->reserved > pr->on_hand) {
				if (d->bound_violations++ == 0)
					snprintf(d->first_violation, sizeof d->first_violation,
					         "%s had reserved %lld, on_hand %lld", pr->id,
					         (long long)pr->reserved, (long long)pr->on_hand);
			}
			kbp_product_free(pr);
		}
		if (last)
			return;
		nanosleep(&pause, NULL);
	}
}

static int run_shoppers(demo *d)
{
	pthread_t *threads = calloc((size_t)d->n, sizeof *threads);
	int started = 0;

	if (!threads)
		return kbpipe_fail("out of memory");
	for (int i = 0; i < d->n; i++) {
		if (pthread_create(&threads[i], NULL, demo_shopper_main, &d->shoppers[i]) != 0)
			break;
		started++;
	}
	if (started < d->n) {
		/* Nobody passes the start barrier short of its count: report and stop here. */
		kbpipe_fail("demo: could not start %d shopper threads", d->n);
		exit(KBPIPE_EXIT_FAIL);
	}
	monitor(d);
	for (int i = 0; i < d->n; i++)
		pthread_join(threads[i], NULL);
	free(threads);
	return 0;
}

static int gather(demo *d)
{
	int rc;

	d->orders = calloc((size_t)d->n, sizeof *d->orders);
	d->intents = calloc((size_t)d->n, sizeof *d->intents);
	if (!d->orders || !d->intents)
		return kbpipe_fail("out of memory");
	for (int i = 0; i < N_PRODUCTS; i++) {
		rc = kbp_product_get(&d->after[i], d->p, demo_products[i].id);
		if (rc)
			return kbpipe_lib_error("product_get", rc);
	}
	for (int i = 0; i < d->n; i++) {
		shopper *s = &d->shoppers[i];

		if (!s->intent_id)
			continue;
		rc = kbp_intent_get(&d->intents[i], d->p, s->intent_id);
		if (rc)
			return kbpipe_lib_error("intent_get", rc);
		rc = kbp_order_get_by_intent(&d->orders[i], d->p, s->intent_id);
		if (rc && rc != KBP_ENOTFOUND)
			return kbpipe_lib_error("order_get_by_intent", rc);
		if (!d->orders[i])
			continue;
		for (size_t k = 0; k < d->orders[i]->n_items; k++)
			for (int j = 0; j < N_PRODUCTS; j++)
				if (strcmp(d->orders[i]->items[k].sku, demo_products[j].id) == 0)
					d->sold[j] += d->orders[i]->items[k].qty;
	}
	rc = kbp_metrics_get(&d->m_after, d->p);
	if (rc)
		return kbpipe_lib_error("metrics_get", rc);
	rc = kbp_health_check(&d->health, d->p, NULL);
	if (rc)
		return kbpipe_lib_error("health_check", rc);
	return 0;
}
/* ---- the command ---------------------------------------------------------- */

static void demo_free(demo *d)
{
	for (int i = 0; i < N_PRODUCTS; i++) {
		kbp_product_free(d->before[i]);
		kbp_product_free(d->after[i]);
	}
	for (int i = 0; d->shoppers && i < d->n; i++) {
		shopper *s = &d->shoppers[i];

		free(s->intent_id);
		free(s->race_message);
		free(s->verification_id);
		free(s->final_reason);
		free(s->order_number);
		free(s->error_message);
		if (d->orders)
			kbp_order_free(d->orders[i]);
		if (d->intents)
			kbp_intent_free(d->intents[i]);
	}
	free(d->shoppers);
	free(d->orders);
	free(d->intents);
	kbp_health_free(d->health);
	kbp_pipeline_close(d->p);
}

static int parse_args(demo *d, int argc, char **argv)
{
	for (int i = 1; i < argc; i++) {
		const char *value;
		long n;
		int m;

		if (strcmp(argv[i], "-h") == 0 || strcmp(argv[i], "--help") == 0) {
			kbpipe_demo_usage(stdout);
			return -1;
		}
		if (strcmp(argv[i], "--json") == 0) {
			d->json = 1;
			continue;
		}
		m = kbpipe_opt_value(argc, argv, &i, "--shoppers", &value);
		if (m < 0)
			return kbpipe_usage_error("demo: option '--shoppers' needs a number");
		if (m == 0) {
			if (argv[i][0] == '-')
				return kbpipe_usage_error("demo: unknown option '%s' (see 'kbpipe demo --help')",
				                          argv[i]);
			return kbpipe_usage_error("demo: unexpected argument '%s'", argv[i]);
		}
		if (kbpipe_parse_long(value, DEMO_SHOPPERS_MIN, DEMO_SHOPPERS_MAX, &n) != 0)
			return kbpipe_usage_error("demo: --shoppers must be a number from %d to %d, not '%s'",
			                          DEMO_SHOPPERS_MIN, DEMO_SHOPPERS_MAX, value);
		d->n = (int)n;
	}
	return 0;
}

int kbpipe_demo(const kbpipe_ctx *ctx, int argc, char **argv)
{
	kbp_options opts = KBP_OPTIONS_INIT;
	kbp_worker_options wopts = KBP_WORKER_OPTIONS_INIT;
	kbp_worker *worker = NULL;
	demo d;
	char tag[32];
	int rc, failed;

	memset(&d, 0, sizeof d);
	d.n = DEMO_SHOPPERS_DEFAULT;
	rc = parse_args(&d, argc, argv);
	if (rc)
		return rc < 0 ? KBPIPE_EXIT_OK : rc;

	opts.storage = ctx->storage;
	opts.storage_schema = ctx->schema;
	opts.log = log_to_stderr;
	opts.log_level = KBP_LOG_ERROR;
	rc = kbp_pipeline_open(&d.p, &opts);
	if (rc)
		return kbpipe_lib_error("pipeline_open", rc);
	rc = kbp_gateway_add_sandbox(d.p, NULL);
	if (rc) {
		kbpipe_lib_error("gateway_add_sandbox", rc);
		goto fail;
	}
	if (seed(&d))
		goto fail;
	rc = kbp_metrics_get(&d.m_before, d.p);
	if (rc) {
		kbpipe_lib_error("metrics_get", rc);
		goto fail;
	}

	/* Carts and customers are named per run, so a durable store can run the demo again. */
	snprintf(tag, sizeof tag, "%llx-%ld", (unsigned long long)kbp_pipeline_now(d.p), (long)getpid());
	d.shoppers = calloc((size_t)d.n, sizeof *d.shoppers);
	if (!d.shoppers) {
		kbpipe_fail("out of memory");
		goto fail;
	}
	for (int i = 0; i < d.n; i++)
		demo_plan_shopper(&d, &d.shoppers[i], i + 1, tag);
	pthread_barrier_init(&d.start, NULL, (unsigned)d.n);
	pthread_barrier_init(&d.race, NULL, 2);

	wopts.threads = DEMO_WORKER_THREADS;
	wopts.name = "kbpipe-demo";
	rc = kbp_worker_start(&worker, d.p, &wopts);
	if (rc) {
		kbpipe_lib_error("worker_start", rc);
		goto fail_barriers;
	}
	rc = run_shoppers(&d);
	kbp_worker_stop(worker);
	pthread_barrier_destroy(&d.race);
	pthread_barrier_destroy(&d.start);

	if (rc || gather(&d))
		goto fail;
	failed = demo_run_checks(&d);
	if (d.json)
		demo_print_json(&d, failed);
	else
		demo_print_text(&d, failed);
	fflush(stdout);
	for (int i = 0; i < d.n_checks; i++)
		if (!d.checks[i].ok)
			fprintf(stderr, "kbpipe: demo: invariant failed: %s: %s\n", d.checks[i].name,
			        d.checks[i].detail);
	demo_free(&d);
	return failed ? KBPIPE_EXIT_FAIL : KBPIPE_EXIT_OK;

fail_barriers:
	pthread_barrier_destroy(&d.race);
	pthread_barrier_destroy(&d.start);
fail:
	demo_free(&d);
	return KBPIPE_EXIT_FAIL;
}
