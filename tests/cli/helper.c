/* SPDX-License-Identifier: MIT */
/*
 * kbp-cli-helper: what the kbpipe tests (tests/cli/memory.sh, postgres.sh) need besides kbpipe,
 * through the public API only.
 *
 *   seed STORAGE SCHEMA N FILE [THREADS]
 *       N paid intents, each with its finalize_order job still available (no
 *       worker runs here); their ids go to FILE, one a line.
 *   fail STORAGE SCHEMA N
 *       N jobs of kind cli_fail that failed for good (max_attempts 1).
 *   stuck STORAGE SCHEMA N LEASE_MS
 *       N jobs of kind cli_stuck acquired by a worker that then died: they stay
 *       running until their lease (LEASE_MS) passes.
 *   check STORAGE SCHEMA FILE
 *       every intent in FILE has an order, and there are exactly as many
 *       orders as intents: each intent has exactly one. Prints "N orders".
 *   refund STORAGE SCHEMA
 *       one intent canceled and then paid anyway: it needs a refund. Prints its id.
 *   json PATH
 *       reads JSON on stdin and prints the value at PATH (a.b.0.c; "#" for
 *       the length of an array or object); exit 1 when invalid or absent.
 *
 * Exit status: 0 success, 1 failure, 2 usage.
 */
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <cjson/cJSON.h>
#include <kbpipeline.h>

static int die(const char *what, int rc)
{
	const kbp_error *e = kbp_error_last();

	fprintf(stderr, "kbp-cli-helper: %s: %d: %s\n", what, rc,
	        e->code == rc && e->message ? e->message : kbp_strerror(rc));
	return 1;
}

static int open_pipeline(kbp_pipeline **p, const char *storage, const char *schema,
                         int64_t lease_ms)
{
	kbp_options o = KBP_OPTIONS_INIT;
	int rc;

	o.storage = storage;
	o.storage_schema = *schema ? schema : NULL;
	o.job_lease_ms = lease_ms;
	o.storage_pool_size = 16;
	if ((rc = kbp_pipeline_open(p, &o)))
		return die("pipeline_open", rc);
	return 0;
}

/* ---- seed --------------------------------------------------------------- */

typedef struct seeder {
	kbp_pipeline *p;
	int n;
	atomic_int next;
	atomic_int failed;
	char **ids;
	char tag[40];
} seeder;

static void *seed_thread(void *arg)
{
	seeder *s = arg;
	int i;

	while ((i = atomic_fetch_add(&s->next, 1)) < s->n) {
		kbp_intent_request req = KBP_INTENT_REQUEST_INIT;
		kbp_intent *in = NULL;
		kbp_verification *v = NULL;
		char cart[96], customer[96], *cb = NULL;
		int rc;

		snprintf(cart, sizeof cart, "cart-%s-%d", s->tag, i);
		snprintf(customer, sizeof customer, "cust-%s-%d", s->tag, i);
		if ((rc = kbp_cart_set_item(NULL, s->p, cart, customer, "cli-tea", 1))) {
			die("cart_set_item", rc);
			goto fail;
		}
		req.cart_id = cart;
		req.gateway = "sandbox";
		if ((rc = kbp_intent_create(&in, s->p, &req))) {
			die("intent_create", rc);
			goto fail;
		}
		if ((rc = kbp_sandbox_pay(&cb, s->p, "sandbox", in->id, KBP_SANDBOX_COMPLETED, -1))) {
			die("sandbox_pay", rc);
			goto fail;
		}
		if ((rc = kbp_payment_verify(&v, s->p, "sandbox", cb, strlen(cb)))) {
			die("payment_verify", rc);
			goto fail;
		}
		s->ids[i] = strdup(in->id);
		kbp_verification_free(v);
		kbp_free(cb);
		kbp_intent_free(in);
		continue;
fail:
		kbp_free(cb);
		kbp_intent_free(in);
		atomic_fetch_add(&s->failed, 1);
		return NULL;
	}
	return NULL;
}

static int seed(const char *storage, const char *schema, int n, const char *file, int threads)
{
	kbp_product_spec spec = KBP_PRODUCT_SPEC_INIT;
	pthread_t th[64];
	seeder s;
	FILE *f;
	int rc;

	memset(&s, 0, sizeof s);
	if (open_pipeline(&s.p, storage, schema, 0))
		return 1;
	if ((rc = kbp_gateway_add_sandbox(s.p, NULL)))
		return die("gateway_add_sandbox", rc);
	if ((rc = kbp_vendor_put(s.p, "cli-vendor", "CLI test vendor")))
		return die("vendor_put", rc);
	spec.id = "cli-tea";
	spec.vendor_id = "cli-vendor";
	spec.name = "Tea";
	spec.price_minor = 45000;
	spec.on_hand = 1000000;
	if ((rc = kbp_product_put(s.p, &spec)))
		return die("product_put", rc);
	s.n = n;
	s.ids = calloc((size_t)n, sizeof *s.ids);
	snprintf(s.tag, sizeof s.tag, "%llx-%ld", (unsigned long long)kbp_pipeline_now(s.p),
	         (long)getpid());
	if (threads < 1)
		threads = 1;
	if (threads > 64)
		threads = 64;
	for (int t = 0; t < threads; t++)
		pthread_create(&th[t], NULL, seed_thread, &s);
	for (int t = 0; t < threads; t++)
		pthread_join(th[t], NULL);
	kbp_pipeline_close(s.p);
	if (atomic_load(&s.failed))
		return 1;
	f = fopen(file, "w");
	if (!f) {
		perror(file);
		return 1;
	}
	for (int i = 0; i < n; i++) {
		fprintf(f, "%s\n", s.ids[i]);
		free(s.ids[i]);
	}
	free(s.ids);
	return fclose(f) == 0 ? 0 : 1;
}

/* ---- fail, stuck -------------------------------------------------------- */

static int fail_handler(void *ctx, kbp_pipeline *p, const kbp_job *job)
{
	(void)ctx;
	(void)p;
	return kbp_error_set(KBP_EINVAL, "cli test job %s fails on purpose", job->id);
}

static int die_handler(void *ctx, kbp_pipeline *p, const kbp_job *job)
{
	(void)ctx;
	(void)p;
	(void)job;
	_exit(0);
}

static int enqueue_and_run(const char *storage, const char *schema, int n, int stuck,
                           int64_t lease_ms)
{
	kbp_enqueue_options eo = KBP_ENQUEUE_OPTIONS_INIT;
	const char *kind = stuck ? "cli_stuck" : "cli_fail";
	kbp_pipeline *p;
	int rc, ran, total = 0;

	if (open_pipeline(&p, storage, schema, lease_ms))
		return 1;
	if ((rc = kbp_job_register(p, kind, stuck ? die_handler : fail_handler, NULL)))
		return die("job_register", rc);
	eo.max_attempts = 1;
	for (int i = 0; i < n; i++)
		if ((rc = kbp_job_enqueue(NULL, p, kind, "{\"test\":true}", &eo)))
			return die("job_enqueue", rc);
	/* This runs whatever is due, so the tests call it before seeding any other job. */
	while (total < n) {
		if ((rc = kbp_worker_run_once(&ran, p, "cli-helper", stuck ? n : 16)))
			return die("worker_run_once", rc);
		if (ran == 0)
			break;
		total += ran;
	}
	kbp_pipeline_close(p);
	return 0;
}

/* ---- refund ------------------------------------------------------------- */

static int refund(const char *storage, const char *schema)
{
	kbp_product_spec spec = KBP_PRODUCT_SPEC_INIT;
	kbp_intent_request req = KBP_INTENT_REQUEST_INIT;
	kbp_intent *in = NULL;
	kbp_verification *v = NULL;
	kbp_pipeline *p;
	char cart[64], *cb = NULL;
	int rc;

	if (open_pipeline(&p, storage, schema, 0))
		return 1;
	spec.id = "cli-tea";
	spec.vendor_id = "cli-vendor";
	spec.name = "Tea";
	spec.price_minor = 45000;
	spec.on_hand = 1000000;
	snprintf(cart, sizeof cart, "cart-refund-%ld", (long)getpid());
	if ((rc = kbp_gateway_add_sandbox(p, NULL)) || (rc = kbp_vendor_put(p, "cli-vendor", "V")) ||
	    (rc = kbp_product_put(p, &spec)) ||
	    (rc = kbp_cart_set_item(NULL, p, cart, "cust-refund", "cli-tea", 1)))
		return die("setup", rc);
	req.cart_id = cart;
	req.gateway = "sandbox";
	if ((rc = kbp_intent_create(&in, p, &req)))
		return die("intent_create", rc);
	if ((rc = kbp_intent_cancel(p, in->id)))
		return die("intent_cancel", rc);
	if ((rc = kbp_sandbox_pay(&cb, p, "sandbox", in->id, KBP_SANDBOX_COMPLETED, -1)))
		return die("sandbox_pay", rc);
	rc = kbp_payment_verify(&v, p, "sandbox", cb, strlen(cb));
	if (rc && rc != KBP_ESTATE)
		return die("payment_verify", rc);
	puts(in->id);
	kbp_verification_free(v);
	kbp_free(cb);
	kbp_intent_free(in);
	kbp_pipeline_close(p);
	return 0;
}

/* ---- check -------------------------------------------------------------- */

static int check(const char *storage, const char *schema, const char *file)
{
	kbp_pipeline *p;
	kbp_metrics m;
	FILE *f = fopen(file, "r");
	char line[256];
	int n = 0, missing = 0, rc;

	if (!f) {
		perror(file);
		return 1;
	}
	if (open_pipeline(&p, storage, schema, 0))
		return 1;
	while (fgets(line, sizeof line, f)) {
		kbp_order *o = NULL;

		line[strcspn(line, "\n")] = '\0';
		if (!*line)
			continue;
		n++;
		rc = kbp_order_get_by_intent(&o, p, line);
		if (rc) {
			if (missing++ < 5)
				fprintf(stderr, "kbp-cli-helper: intent %s has no order (%d)\n", line, rc);
			continue;
		}
		kbp_order_free(o);
	}
	fclose(f);
	if ((rc = kbp_metrics_get(&m, p)))
		return die("metrics_get", rc);
	kbp_pipeline_close(p);
	if (missing) {
		fprintf(stderr, "kbp-cli-helper: %d of %d intents have no order\n", missing, n);
		return 1;
	}
	if (m.orders != n) {
		fprintf(stderr, "kbp-cli-helper: %lld orders for %d intents\n", (long long)m.orders, n);
		return 1;
	}
	printf("%d orders\n", n);
	return 0;
}

/* ---- json --------------------------------------------------------------- */

static int json_get(const char *path)
{
	static char buf[1 << 22];
	size_t n = fread(buf, 1, sizeof buf - 1, stdin);
	cJSON *root, *v;
	char *copy, *tok, *save = NULL;

	buf[n] = '\0';
	root = cJSON_Parse(buf);
	if (!root) {
		fprintf(stderr, "kbp-cli-helper: json: invalid JSON on stdin\n");
		return 1;
	}
	v = root;
	copy = strdup(path);
	for (tok = strtok_r(copy, ".", &save); tok && v; tok = strtok_r(NULL, ".", &save)) {
		if (strcmp(tok, "#") == 0) {
			printf("%d\n", cJSON_GetArraySize(v));
			free(copy);
			cJSON_Delete(root);
			return 0;
		}
		if (cJSON_IsArray(v))
			v = cJSON_GetArrayItem(v, atoi(tok));
		else
			v = cJSON_GetObjectItemCaseSensitive(v, tok);
	}
	free(copy);
	if (!v) {
		fprintf(stderr, "kbp-cli-helper: json: no value at %s\n", path);
		cJSON_Delete(root);
		return 1;
	}
	if (cJSON_IsString(v)) {
		puts(v->valuestring);
	} else if (cJSON_IsNumber(v)) {
		printf("%lld\n", (long long)v->valuedouble);
	} else {
		char *s = cJSON_PrintUnformatted(v);
		puts(s);
		free(s);
	}
	cJSON_Delete(root);
	return 0;
}

int main(int argc, char **argv)
{
	if (argc >= 3 && strcmp(argv[1], "json") == 0)
		return json_get(argv[2]);
	if (argc >= 6 && strcmp(argv[1], "seed") == 0)
		return seed(argv[2], argv[3], atoi(argv[4]), argv[5], argc > 6 ? atoi(argv[6]) : 1);
	if (argc == 5 && strcmp(argv[1], "fail") == 0)
		return enqueue_and_run(argv[2], argv[3], atoi(argv[4]), 0, 0);
	if (argc == 6 && strcmp(argv[1], "stuck") == 0)
		return enqueue_and_run(argv[2], argv[3], atoi(argv[4]), 1, atoll(argv[5]));
	if (argc == 4 && strcmp(argv[1], "refund") == 0)
		return refund(argv[2], argv[3]);
	if (argc == 5 && strcmp(argv[1], "check") == 0)
		return check(argv[2], argv[3], argv[4]);
	fprintf(stderr, "usage: kbp-cli-helper seed|fail|stuck|check|json …\n");
	return 2;
}
