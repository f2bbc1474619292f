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
#include "kbpipe.h"

#include <pthread.h>
#include <stdarg.h>
#include <stdatomic.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include <cjson/cJSON.h>
#include <kbpipeline.h>

#define SHOPPERS_DEFAULT 6
#define SHOPPERS_MIN 5              /* a buyer, two racers, a duplicate callback, a decline */
#define SHOPPERS_MAX 500
#define WORKER_THREADS 2
#define WAIT_MS 10000
#define MONITOR_SLEEP_NS 200000
#define MAX_CHECKS 16

typedef struct seed_vendor {
	const char *id;
	const char *name;
} seed_vendor;

typedef struct seed_product {
	const char *id;
	const char *vendor_id;
	const char *name;
	int64_t price_minor;        /* paisa */
	int64_t on_hand;            /* grown with the number of shoppers so only the slot is scarce */
	int64_t on_hand_per_shopper;
} seed_product;

static const seed_vendor vendors[] = {
	{ "himalayan-tea-house", "Himalayan Tea House" },
	{ "patan-crafts", "Patan Crafts Cooperative" },
};

enum { P_TEA, P_HONEY, P_BOWL, P_SLOT, N_PRODUCTS };

static const seed_product products[N_PRODUCTS] = {
	{ "ilam-tea-250g", "himalayan-tea-house", "Ilam first-flush tea, 250 g", 45000, 40, 4 },
	{ "wild-honey-500g", "himalayan-tea-house", "Wild cliff honey, 500 g", 120000, 20, 2 },
	{ "singing-bowl", "patan-crafts", "Hand-beaten singing bowl", 350000, 5, 0 },
	{ "pottery-class-sat-1000", "patan-crafts", "Pottery class, Saturday 10:00 (one seat)",
	  250000, 1, 0 },
};

typedef enum role {
	ROLE_BUYER,
	ROLE_RACER,                 /* two of them want the slot at the same instant */
	ROLE_DUPLICATE,             /* the gateway's callback is delivered twice */
	ROLE_DECLINED               /* the sandbox answers FAILED */
} role;

static const char *const role_names[] = { "buyer", "racer", "duplicate-callback", "declined" };

typedef struct line {
	int product;
	int64_t qty;
} line;

struct demo;

typedef struct shopper {
	struct demo *d;
	int no;
	role role;
	char customer[64];
	char cart[64];
	line lines[2];
	size_t n_lines;

	char *intent_id;
	int64_t amount_minor;
	int lost_race;
	char *race_message;
	kbp_order_stage seen[3];    /* right after create, after verify, final */
	int n_seen;
	int verify_rc;
	int dup_rc;
	int dup_flag;
	int dup_same_id;
	char *verification_id;
	char *final_reason;
	char *order_number;
	double verify_to_final_ms;

	const char *failed_step;    /* set when something unexpected happened */
	int error_rc;
	char *error_message;
} shopper;

typedef struct check {
	const char *name;
	int ok;
	char detail[320];
} check;

typedef struct demo {
	kbp_pipeline *p;
	int n;
	int json;
	pthread_barrier_t start;
	pthread_barrier_t race;
	atomic_int finished;
	shopper *shoppers;

	kbp_product *before[N_PRODUCTS];
	kbp_product *after[N_PRODUCTS];
	int64_t sold[N_PRODUCTS];
	long samples;
	long bound_violations;
	char first_violation[200];

	kbp_order **orders;         /* per shopper, NULL when it has none */
	kbp_intent **intents;       /* per shopper, NULL when it made none */
	kbp_metrics m_before;
	kbp_metrics m_after;
	kbp_health *health;

	check checks[MAX_CHECKS];
	int n_checks;
} demo;

void kbpipe_demo_usage(FILE *f)
{
	fprintf(f,
	        "usage: kbpipe [--storage URI] demo [--shoppers N] [--json]\n"
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
	        "Exit status: 0 every invariant held, 1 one did not (it is named), 2 usage error.\n",
	        WORKER_THREADS, SHOPPERS_DEFAULT, SHOPPERS_MIN, SHOPPERS_MAX);
}

static double now_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec * 1e3 + (double)ts.tv_nsec / 1e6;
}

static char *xstrdup(const char *s)
{
	char *r;

	if (!s)
		return NULL;
	r = strdup(s);
	if (!r)
		exit(kbpipe_fail("out of memory"));
	return r;
}

static void log_to_stderr(void *ctx, kbp_log_level level, const char *message)
{
	static const char *const names[] = { "debug", "info", "warn", "error" };

	(void)ctx;
	fprintf(stderr, "kbpipe: [%s] %s\n", level <= KBP_LOG_ERROR ? names[level] : "?", message);
}

static int64_t seed_on_hand(const demo *d, int i)
{
	int64_t grown = products[i].on_hand_per_shopper * d->n;

	return grown > products[i].on_hand ? grown : products[i].on_hand;
}

/* ---- one shopper ------------------------------------------------------ */

static const char *error_text(int rc)
{
	const kbp_error *e = kbp_error_last();

	return (e->code == rc && e->message && *e->message) ? e->message : kbp_strerror(rc);
}

static int fail(shopper *s, const char *step, int rc, const char *message)
{
	if (s->failed_step)
		return -1;
	s->failed_step = step;
	s->error_rc = rc;
	s->error_message = xstrdup(message ? message : error_text(rc));
	return -1;
}

static int observe(shopper *s, const char *step)
{
	kbp_order_status *st;
	int rc = kbp_order_status_get(&st, s->d->p, s->intent_id);

	if (rc)
		return fail(s, step, rc, NULL);
	s->seen[s->n_seen++] = st->stage;
	kbp_order_status_free(st);
	return 0;
}

static void shop(shopper *s)
{
	kbp_pipeline *p = s->d->p;
	kbp_intent_request req = KBP_INTENT_REQUEST_INIT;
	kbp_intent *in = NULL;
	kbp_verification *v = NULL, *v2 = NULL;
	kbp_order_status *st = NULL;
	char *cb = NULL;
	double t0;
	int rc;

	for (size_t i = 0; i < s->n_lines; i++) {
		rc = kbp_cart_set_item(NULL, p, s->cart, s->customer, products[s->lines[i].product].id,
		                       s->lines[i].qty);
		if (rc) {
			fail(s, "cart_set_item", rc, NULL);
			return;
		}
	}
	if (s->role == ROLE_RACER)
		pthread_barrier_wait(&s->d->race);

	req.cart_id = s->cart;
	req.gateway = "sandbox";
	rc = kbp_intent_create(&in, p, &req);
	if (rc == KBP_EOUTOFSTOCK && s->role == ROLE_RACER) {
		s->lost_race = 1;
		s->race_message = xstrdup(error_text(rc));
		return;
	}
	if (rc) {
		fail(s, "intent_create", rc, NULL);
		return;
	}
	s->intent_id = xstrdup(in->id);
	s->amount_minor = in->amount_minor;
	if (observe(s, "order_status_get after intent_create"))
		goto out;

	rc = kbp_sandbox_pay(&cb, p, "sandbox", in->id,
	                     s->role == ROLE_DECLINED ? KBP_SANDBOX_FAILED : KBP_SANDBOX_COMPLETED, -1);
	if (rc) {
		fail(s, "sandbox_pay", rc, NULL);
		goto out;
	}
	t0 = now_ms();
	s->verify_rc = kbp_payment_verify(&v, p, "sandbox", cb, strlen(cb));
	if (s->role == ROLE_DECLINED) {
		if (s->verify_rc != KBP_EDECLINED)
			fail(s, "payment_verify", s->verify_rc,
			     "a declined payment was not answered with KBP_EDECLINED");
	} else if (s->verify_rc) {
		fail(s, "payment_verify", s->verify_rc, NULL);
	} else if (v->outcome != KBP_VERIFICATION_ACCEPTED || v->duplicate) {
		fail(s, "payment_verify", 0, "the first callback was not a clean acceptance");
	}
	if (s->failed_step)
		goto out;
	if (v)
		s->verification_id = xstrdup(v->id);
	if (observe(s, "order_status_get after payment_verify"))
		goto out;

	if (s->role == ROLE_DUPLICATE) {
		s->dup_rc = kbp_payment_verify(&v2, p, "sandbox", cb, strlen(cb));
		if (s->dup_rc == 0) {
			s->dup_flag = v2->duplicate;
			s->dup_same_id = strcmp(v->id, v2->id) == 0;
		}
	}

	rc = kbp_order_wait(&st, p, s->intent_id, WAIT_MS);
	s->verify_to_final_ms = now_ms() - t0;
	if (rc && rc != KBP_ETIMEOUT) {
		fail(s, "order_wait", rc, NULL);
		goto out;
	}
	s->seen[s->n_seen++] = st->stage;
	s->order_number = xstrdup(st->order_number);
	s->final_reason = xstrdup(st->reason);
	if (rc == KBP_ETIMEOUT)
		fail(s, "order_wait", rc, "no final stage within the wait");
out:
	kbp_order_status_free(st);
	kbp_verification_free(v2);
	kbp_verification_free(v);
	kbp_free(cb);
	kbp_intent_free(in);
}

static void *shopper_main(void *arg)
{
	shopper *s = arg;

	pthread_barrier_wait(&s->d->start);
	shop(s);
	atomic_fetch_add(&s->d->finished, 1);
	return NULL;
}

static void plan_shopper(demo *d, shopper *s, int no, const char *tag)
{
	s->d = d;
	s->no = no;
	switch (no) {
	case 2: case 3: s->role = ROLE_RACER; break;
	case 4: s->role = ROLE_DUPLICATE; break;
	case 5: s->role = ROLE_DECLINED; break;
	default: s->role = ROLE_BUYER; break;
	}
	snprintf(s->customer, sizeof s->customer, "customer-%s-%d", tag, no);
	snprintf(s->cart, sizeof s->cart, "cart-%s-%d", tag, no);
	switch (s->role) {
	case ROLE_BUYER:
		s->lines[0] = (line){ P_TEA, 1 + no % 3 };
		s->lines[1] = (line){ P_HONEY, 1 };
		s->n_lines = 2;
		break;
	case ROLE_RACER:
		s->lines[0] = (line){ P_SLOT, 1 };
		s->lines[1] = (line){ P_TEA, 1 };
		s->n_lines = 2;
		break;
	case ROLE_DUPLICATE:
		s->lines[0] = (line){ P_BOWL, 1 };
		s->lines[1] = (line){ P_TEA, 1 };
		s->n_lines = 2;
		break;
	case ROLE_DECLINED:
		s->lines[0] = (line){ P_HONEY, 2 };
		s->n_lines = 1;
		break;
	}
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

		spec.id = products[i].id;
		spec.vendor_id = products[i].vendor_id;
		spec.name = products[i].name;
		spec.price_minor = products[i].price_minor;
		spec.currency = "NPR";
		spec.on_hand = seed_on_hand(d, i);
		rc = kbp_product_put(d->p, &spec);
		if (rc)
			return kbpipe_lib_error("product_put", rc);
		rc = kbp_product_get(&d->before[i], d->p, products[i].id);
		if (rc)
			return kbpipe_lib_error("product_get", rc);
	}
	return 0;
}

/* Samples 0 <= reserved <= on_hand while the shoppers run. */
static void monitor(demo *d)
{
	const struct timespec pause = { 0, MONITOR_SLEEP_NS };

	for (;;) {
		int last = atomic_load(&d->finished) == d->n;

		for (int i = 0; i < N_PRODUCTS; i++) {
			kbp_product *pr;

			if (kbp_product_get(&pr, d->p, products[i].id) != 0)
				continue;
			d->samples++;
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
		if (pthread_create(&threads[i], NULL, shopper_main, &d->shoppers[i]) != 0)
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
		rc = kbp_product_get(&d->after[i], d->p, products[i].id);
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
				if (strcmp(d->orders[i]->items[k].sku, products[j].id) == 0)
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

/* ---- invariants -------------------------------------------------------- */

KBPIPE_PRINTF(4, 5)
static void add_check(demo *d, const char *name, int ok, const char *fmt, ...)
{
	check *c = &d->checks[d->n_checks++];
	va_list ap;

	c->name = name;
	c->ok = ok;
	va_start(ap, fmt);
	vsnprintf(c->detail, sizeof c->detail, fmt, ap);
	va_end(ap);
}

static shopper *find_role(demo *d, role r, int nth)
{
	for (int i = 0; i < d->n; i++)
		if (d->shoppers[i].role == r && nth-- == 0)
			return &d->shoppers[i];
	return NULL;
}

static void check_flows(demo *d)
{
	for (int i = 0; i < d->n; i++) {
		shopper *s = &d->shoppers[i];

		if (s->failed_step) {
			add_check(d, "every shopper's flow completed", 0,
			          "shopper %d at %s: %s: %s", s->no, s->failed_step,
			          kbpipe_code_name(s->error_rc), s->error_message);
			return;
		}
	}
	add_check(d, "every shopper's flow completed", 1, "%d shoppers, no unexpected error", d->n);
}

static void check_stock(demo *d)
{
	int ok_bounds = d->bound_violations == 0, ok_stock = 1, ok_reserved = 1;
	char bad[200] = "", bad_reserved[200] = "";
	long long units = 0;

	for (int i = 0; i < N_PRODUCTS; i++)
		units += d->sold[i];

	if (ok_bounds)
		add_check(d, "0 <= reserved <= on_hand throughout", 1,
		          "%ld samples of %d products while the shoppers ran", d->samples, N_PRODUCTS);
	else
		add_check(d, "0 <= reserved <= on_hand throughout", 0, "%ld of %ld samples broke it: %s",
		          d->bound_violations, d->samples, d->first_violation);
	for (int i = 0; i < N_PRODUCTS; i++) {
		const kbp_product *b = d->before[i], *a = d->after[i];

		if (a->on_hand != b->on_hand - d->sold[i] && ok_stock) {
			ok_stock = 0;
			snprintf(bad, sizeof bad, "%s: on_hand %lld -> %lld but %lld sold in orders", a->id,
			         (long long)b->on_hand, (long long)a->on_hand, (long long)d->sold[i]);
		}
		if (a->reserved != 0 || a->on_hand < 0) {
			if (ok_reserved)
				snprintf(bad_reserved, sizeof bad_reserved, "%s: reserved %lld of on_hand %lld",
				         a->id, (long long)a->reserved, (long long)a->on_hand);
			ok_reserved = 0;
		}
	}
	if (ok_stock)
		add_check(d, "on_hand_after = on_hand_before - units sold", 1,
		          "%d products, %lld units sold in orders", N_PRODUCTS, (long long)units);
	else
		add_check(d, "on_hand_after = on_hand_before - units sold", 0, "%s", bad);
	add_check(d, "reserved == 0 at the end", ok_reserved, "%s",
	          ok_reserved ? "every reservation was committed or released" : bad_reserved);
}

static void check_orders(demo *d)
{
	int succeeded = 0, orders = 0, ok = 1, items_ok = 1;
	char bad[200] = "", bad_items[200] = "";

	for (int i = 0; i < d->n; i++) {
		const kbp_intent *in = d->intents[i];
		const kbp_order *o = d->orders[i];

		if (!in)
			continue;
		if (in->status == KBP_INTENT_SUCCEEDED)
			succeeded++;
		if (o)
			orders++;
		if ((in->status == KBP_INTENT_SUCCEEDED) != (o != NULL) ||
		    (o && strcmp(o->intent_id, in->id) != 0)) {
			if (ok)
				snprintf(bad, sizeof bad, "intent %s is %s with%s an order", in->id,
				         kbp_intent_status_name(in->status), o ? "" : "out");
			ok = 0;
		}
		for (int j = 0; o && j < i; j++)
			if (d->orders[j] && strcmp(d->orders[j]->order_number, o->order_number) == 0) {
				ok = 0;
				snprintf(bad, sizeof bad, "order number %s given twice", o->order_number);
			}
		if (o) {
			int64_t total = 0;

			for (size_t k = 0; k < o->n_items; k++)
				total += o->items[k].qty * o->items[k].unit_price_minor;
			if ((o->n_items < 1 || total != o->total_minor) && items_ok) {
				items_ok = 0;
				snprintf(bad_items, sizeof bad_items, "%s has %zu items totalling %lld of %lld",
				         o->order_number, o->n_items, (long long)total,
				         (long long)o->total_minor);
			}
		}
	}
	if (ok && d->m_after.orders - d->m_before.orders != orders) {
		ok = 0;
		snprintf(bad, sizeof bad, "the store gained %lld orders for %d paid intents",
		         (long long)(d->m_after.orders - d->m_before.orders), orders);
	}
	if (ok)
		add_check(d, "one order per successful intent", 1,
		          "%d succeeded intents, %d orders, %lld new orders in the store", succeeded,
		          orders, (long long)(d->m_after.orders - d->m_before.orders));
	else
		add_check(d, "one order per successful intent", 0, "%s", bad);
	if (items_ok && d->m_after.orders_without_items != 0) {
		items_ok = 0;
		snprintf(bad_items, sizeof bad_items, "the store reports %lld orders without items",
		         (long long)d->m_after.orders_without_items);
	}
	add_check(d, "every order has >= 1 item", items_ok, "%s",
	          items_ok ? "and its total is the sum of its lines" : bad_items);
}

static void check_slot(demo *d)
{
	shopper *r1 = find_role(d, ROLE_RACER, 0), *r2 = find_role(d, ROLE_RACER, 1);
	const shopper *winner = NULL, *loser = NULL;
	const kbp_product *slot = d->after[P_SLOT];
	int ok;

	if (r1 && r2) {
		winner = r1->lost_race ? r2 : r1;
		loser = r1->lost_race ? r1 : r2;
	}
	ok = winner && loser && loser->lost_race && !winner->lost_race && winner->order_number &&
	     d->sold[P_SLOT] == 1 && slot->on_hand == 0 && slot->reserved == 0;
	if (ok)
		add_check(d, "slot sold exactly once", 1,
		          "shopper %d got %s (%s), shopper %d lost the race with KBP_EOUTOFSTOCK",
		          winner->no, slot->id, winner->order_number, loser->no);
	else
		add_check(d, "slot sold exactly once", 0,
		          "%lld units of %s sold, on_hand %lld; racers lost: %d and %d",
		          (long long)d->sold[P_SLOT], slot->id, (long long)slot->on_hand,
		          r1 ? r1->lost_race : -1, r2 ? r2->lost_race : -1);
}

static void check_duplicate(demo *d)
{
	const shopper *s = find_role(d, ROLE_DUPLICATE, 0);
	int idx = s ? s->no - 1 : 0;
	int ok = s && s->dup_rc == 0 && s->dup_flag && s->dup_same_id && d->orders[idx];

	if (ok)
		add_check(d, "duplicate callback made no second order", 1,
		          "shopper %d: second delivery returned duplicate=1 with verification %s; "
		          "one order %s", s->no, s->verification_id, d->orders[idx]->order_number);
	else
		add_check(d, "duplicate callback made no second order", 0,
		          "second delivery: %s, duplicate=%d, same verification=%d, order=%s",
		          s ? kbpipe_code_name(s->dup_rc) : "?", s ? s->dup_flag : 0,
		          s ? s->dup_same_id : 0,
		          s && d->orders[idx] ? d->orders[idx]->order_number : "none");
}

static void check_declined(demo *d)
{
	const shopper *s = find_role(d, ROLE_DECLINED, 0);
	int idx = s ? s->no - 1 : 0;
	const kbp_intent *in = s ? d->intents[idx] : NULL;
	int ok = s && s->verify_rc == KBP_EDECLINED && in && in->status == KBP_INTENT_FAILED &&
	         !d->orders[idx] && s->n_seen > 0 && s->seen[s->n_seen - 1] == KBP_STAGE_FAILED;

	add_check(d, "declined shopper has no order", ok,
	          "shopper %d: verify %s, intent %s (%s), final stage %s, %s", s ? s->no : 0,
	          s ? kbpipe_code_name(s->verify_rc) : "?",
	          in ? kbp_intent_status_name(in->status) : "missing",
	          in && in->status_reason ? in->status_reason : "-",
	          s && s->n_seen ? kbp_order_stage_name(s->seen[s->n_seen - 1]) : "none",
	          s && d->orders[idx] ? "HAS AN ORDER" : "no order");
}

static void check_stages(demo *d)
{
	for (int i = 0; i < d->n; i++) {
		const shopper *s = &d->shoppers[i];
		kbp_order_stage want = s->role == ROLE_DECLINED ? KBP_STAGE_FAILED : KBP_STAGE_CONFIRMED;

		if (s->lost_race || s->failed_step)
			continue;
		if (s->n_seen != 3 || s->seen[0] != KBP_STAGE_VERIFYING || s->seen[2] != want ||
		    s->seen[1] == KBP_STAGE_VERIFYING || s->seen[1] > s->seen[2] || (s->seen[2] == KBP_STAGE_CONFIRMED && !s->order_number)) {
			add_check(d, "stages move verifying -> processing -> confirmed/failed", 0,
			          "shopper %d saw %s, %s, %s", s->no,
			          kbp_order_stage_name(s->seen[0]),
			          s->n_seen > 1 ? kbp_order_stage_name(s->seen[1]) : "-",
			          s->n_seen > 2 ? kbp_order_stage_name(s->seen[2]) : "-");
			return;
		}
	}
	add_check(d, "stages move verifying -> processing -> confirmed/failed", 1,
	          "every paying shopper saw verifying first and ended confirmed, the declined one failed");
}

static void check_health(demo *d)
{
	add_check(d, "health not critical", d->health->level < KBP_HEALTH_CRITICAL, "level %s, %zu findings",
	          kbp_health_level_name(d->health->level), d->health->n_findings);
}

static int run_checks(demo *d)
{
	int failed = 0;

	check_flows(d);
	check_stock(d);
	check_orders(d);
	check_slot(d);
	check_duplicate(d);
	check_declined(d);
	check_stages(d);
	check_health(d);
	for (int i = 0; i < d->n_checks; i++)
		failed += !d->checks[i].ok;
	return failed;
}

/* ---- output -------------------------------------------------------------- */

static void stages_text(char *buf, size_t len, const shopper *s)
{
	size_t o = 0;

	buf[0] = '\0';
	for (int i = 0; i < s->n_seen && o < len; i++) {
		if (i > 0 && s->seen[i] == s->seen[i - 1])
			continue;
		o += (size_t)snprintf(buf + o, len - o, "%s%s", o ? " → " : "",
		                      kbp_order_stage_name(s->seen[i]));
	}
}

static void print_shopper(const shopper *s)
{
	char stages[128], money[48];

	if (s->lost_race) {
		printf("shopper %-3d —  lost the race for %s (KBP_EOUTOFSTOCK: %s)\n", s->no,
		       products[P_SLOT].id, s->race_message);
		return;
	}
	if (!s->intent_id) {
		printf("shopper %-3d —  ERROR at %s: %s: %s\n", s->no, s->failed_step,
		       kbpipe_code_name(s->error_rc), s->error_message);
		return;
	}
	stages_text(stages, sizeof stages, s);
	printf("shopper %-3d %s  %s", s->no, s->intent_id, stages);
	if (s->final_reason)
		printf(" (%s)", s->final_reason);
	if (s->order_number)
		printf("  %s  %s", s->order_number,
		       kbpipe_money(money, sizeof money, s->amount_minor, "NPR"));
	switch (s->role) {
	case ROLE_RACER:
		printf("  won the slot");
		break;
	case ROLE_DUPLICATE:
		printf("  callback delivered twice: %s", s->dup_rc == 0 && s->dup_flag
		       ? "second was a duplicate" : "SECOND WAS NOT A DUPLICATE");
		break;
	case ROLE_DECLINED:
		printf("  payment declined: no order, stock released");
		break;
	case ROLE_BUYER:
		break;
	}
	if (s->n_seen == 3)
		printf("  (%.1f ms)", s->verify_to_final_ms);
	if (s->failed_step)
		printf("  ERROR at %s: %s: %s", s->failed_step, kbpipe_code_name(s->error_rc),
		       s->error_message);
	putchar('\n');
}

static void totals(const demo *d, int *orders, size_t *items, int64_t *units, int64_t *amount)
{
	*orders = 0;
	*items = 0;
	*units = 0;
	*amount = 0;
	for (int i = 0; i < d->n; i++) {
		const kbp_order *o = d->orders[i];

		if (!o)
			continue;
		++*orders;
		*items += o->n_items;
		*amount += o->total_minor;
		for (size_t k = 0; k < o->n_items; k++)
			*units += o->items[k].qty;
	}
}

static void print_text(const demo *d, int failed)
{
	static const char *const intent_names[] = { "pending", "succeeded", "failed", "expired",
	                                            "canceled" };
	char money[48];
	int orders;
	size_t items;
	int64_t units, amount;

	printf("kbpipe demo: %d shoppers, %s storage, sandbox gateway, worker with %d threads\n\n",
	       d->n, kbp_pipeline_storage_name(d->p), WORKER_THREADS);
	for (int i = 0; i < d->n; i++)
		print_shopper(&d->shoppers[i]);

	totals(d, &orders, &items, &units, &amount);
	printf("\norders: %d (%zu items, %lld units, %s)\n", orders, items, (long long)units,
	       kbpipe_money(money, sizeof money, amount, "NPR"));
	printf("%-24s %8s %8s %6s %9s\n", "stock", "before", "after", "sold", "reserved");
	for (int i = 0; i < N_PRODUCTS; i++)
		printf("%-24s %8lld %8lld %6lld %9lld\n", products[i].id,
		       (long long)d->before[i]->on_hand, (long long)d->after[i]->on_hand,
		       (long long)d->sold[i], (long long)d->after[i]->reserved);
	printf("jobs:");
	for (int i = 0; i < KBP_JOB_STATE_COUNT; i++)
		printf(" %s %lld", kbp_job_state_name((kbp_job_state)i), (long long)d->m_after.jobs[i]);
	printf("\nintents:");
	for (int i = 0; i < 5; i++)
		printf(" %s %lld", intent_names[i], (long long)d->m_after.intents[i]);
	printf("\nhealth: %s", kbp_health_level_name(d->health->level));
	for (size_t i = 0; i < d->health->n_findings; i++)
		printf("%s %s: %s", i ? ";" : " —", d->health->findings[i].check,
		       d->health->findings[i].message);
	printf("\n\nchecks:\n");
	for (int i = 0; i < d->n_checks; i++)
		printf("  %-6s %s: %s\n", d->checks[i].ok ? "ok" : "FAILED", d->checks[i].name,
		       d->checks[i].detail);
	if (failed)
		printf("\n%d of %d invariants did not hold\n", failed, d->n_checks);
	else
		printf("\nall %d invariants held\n", d->n_checks);
}

static cJSON *json_shopper(const shopper *s)
{
	cJSON *o = cJSON_CreateObject(), *stages = cJSON_AddArrayToObject(o, "stages");

	cJSON_AddNumberToObject(o, "shopper", s->no);
	cJSON_AddStringToObject(o, "role", role_names[s->role]);
	if (s->intent_id)
		cJSON_AddStringToObject(o, "intent", s->intent_id);
	else
		cJSON_AddNullToObject(o, "intent");
	for (int i = 0; i < s->n_seen; i++)
		cJSON_AddItemToArray(stages, cJSON_CreateString(kbp_order_stage_name(s->seen[i])));
	if (s->lost_race)
		cJSON_AddStringToObject(o, "result", "lost the race");
	else if (s->order_number)
		cJSON_AddStringToObject(o, "result", "confirmed");
	else
		cJSON_AddStringToObject(o, "result", s->failed_step ? "error" : "no order");
	if (s->order_number)
		cJSON_AddStringToObject(o, "order_number", s->order_number);
	if (s->final_reason)
		cJSON_AddStringToObject(o, "reason", s->final_reason);
	if (s->intent_id)
		cJSON_AddNumberToObject(o, "amount_minor", (double)s->amount_minor);
	if (s->role == ROLE_DUPLICATE)
		cJSON_AddBoolToObject(o, "second_callback_duplicate", s->dup_rc == 0 && s->dup_flag);
	if (s->n_seen == 3)
		cJSON_AddNumberToObject(o, "verify_to_final_ms",
		                        (double)(int64_t)(s->verify_to_final_ms * 1000) / 1000);
	if (s->failed_step) {
		cJSON *e = cJSON_AddObjectToObject(o, "error");

		cJSON_AddStringToObject(e, "step", s->failed_step);
		cJSON_AddStringToObject(e, "code", kbpipe_code_name(s->error_rc));
		cJSON_AddStringToObject(e, "message", s->error_message);
	}
	return o;
}

static int print_json(const demo *d, int failed)
{
	cJSON *root = cJSON_CreateObject(), *a, *o;
	int orders;
	size_t items;
	int64_t units, amount;
	char *text;

	if (!root)
		return kbpipe_fail("out of memory");
	cJSON_AddStringToObject(root, "storage", kbp_pipeline_storage_name(d->p));
	cJSON_AddNumberToObject(root, "worker_threads", WORKER_THREADS);
	a = cJSON_AddArrayToObject(root, "shoppers");
	for (int i = 0; i < d->n; i++)
		cJSON_AddItemToArray(a, json_shopper(&d->shoppers[i]));
	totals(d, &orders, &items, &units, &amount);
	cJSON_AddNumberToObject(root, "orders", orders);
	cJSON_AddNumberToObject(root, "order_items", (double)items);
	cJSON_AddNumberToObject(root, "units_sold", (double)units);
	cJSON_AddNumberToObject(root, "amount_minor", (double)amount);
	cJSON_AddStringToObject(root, "currency", "NPR");
	a = cJSON_AddArrayToObject(root, "stock");
	for (int i = 0; i < N_PRODUCTS; i++) {
		o = cJSON_CreateObject();
		cJSON_AddStringToObject(o, "sku", products[i].id);
		cJSON_AddNumberToObject(o, "on_hand_before", (double)d->before[i]->on_hand);
		cJSON_AddNumberToObject(o, "on_hand_after", (double)d->after[i]->on_hand);
		cJSON_AddNumberToObject(o, "sold", (double)d->sold[i]);
		cJSON_AddNumberToObject(o, "reserved_after", (double)d->after[i]->reserved);
		cJSON_AddItemToArray(a, o);
	}
	o = cJSON_AddObjectToObject(root, "jobs");
	for (int i = 0; i < KBP_JOB_STATE_COUNT; i++)
		cJSON_AddNumberToObject(o, kbp_job_state_name((kbp_job_state)i), (double)d->m_after.jobs[i]);
	o = cJSON_AddObjectToObject(root, "health");
	cJSON_AddStringToObject(o, "level", kbp_health_level_name(d->health->level));
	a = cJSON_AddArrayToObject(o, "findings");
	for (size_t i = 0; i < d->health->n_findings; i++) {
		cJSON *f = cJSON_CreateObject();

		cJSON_AddStringToObject(f, "level", kbp_health_level_name(d->health->findings[i].level));
		cJSON_AddStringToObject(f, "check", d->health->findings[i].check);
		cJSON_AddStringToObject(f, "message", d->health->findings[i].message);
		cJSON_AddItemToArray(a, f);
	}
	a = cJSON_AddArrayToObject(root, "checks");
	for (int i = 0; i < d->n_checks; i++) {
		o = cJSON_CreateObject();
		cJSON_AddStringToObject(o, "name", d->checks[i].name);
		cJSON_AddBoolToObject(o, "ok", d->checks[i].ok);
		cJSON_AddStringToObject(o, "detail", d->checks[i].detail);
		cJSON_AddItemToArray(a, o);
	}
	cJSON_AddBoolToObject(root, "ok", failed == 0);
	text = cJSON_Print(root);
	cJSON_Delete(root);
	if (!text)
		return kbpipe_fail("out of memory");
	puts(text);
	cJSON_free(text);
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
		if (kbpipe_parse_long(value, SHOPPERS_MIN, SHOPPERS_MAX, &n) != 0)
			return kbpipe_usage_error("demo: --shoppers must be a number from %d to %d, not '%s'",
			                          SHOPPERS_MIN, SHOPPERS_MAX, value);
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
	d.n = SHOPPERS_DEFAULT;
	rc = parse_args(&d, argc, argv);
	if (rc)
		return rc < 0 ? KBPIPE_EXIT_OK : rc;

	opts.storage = ctx->storage;
	opts.log = log_to_stderr;
	opts.log_level = KBP_LOG_WARN;
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
		plan_shopper(&d, &d.shoppers[i], i + 1, tag);
	pthread_barrier_init(&d.start, NULL, (unsigned)d.n);
	pthread_barrier_init(&d.race, NULL, 2);

	wopts.threads = WORKER_THREADS;
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
	failed = run_checks(&d);
	if (d.json)
		print_json(&d, failed);
	else
		print_text(&d, failed);
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
