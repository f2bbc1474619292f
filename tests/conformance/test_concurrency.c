/* SPDX-License-Identifier: MIT */
/* Many threads on one pipeline handle: scarce stock, duplicate callbacks, a worker pool. */
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include "fixture.h"

typedef struct race {
	fx *f;
	pthread_barrier_t go;
	const char *sku;
	const char *carts[64];
	int rc[64];
	char *intent_ids[64];
	atomic_int done;
	/* the watcher's findings */
	int64_t samples, max_reserved, min_reserved, min_available, on_hand_seen;
	int watcher_error;
} race;

typedef struct slot {
	race *r;
	int i;
} slot;

static void *buyer(void *arg)
{
	slot *s = arg;
	kbp_intent_request req = KBP_INTENT_REQUEST_INIT;
	kbp_intent *in = NULL;

	req.cart_id = s->r->carts[s->i];
	req.gateway = FX_GATEWAY;
	pthread_barrier_wait(&s->r->go);
	s->r->rc[s->i] = kbp_intent_create(&in, s->r->f->p, &req);
	if (in)
		s->r->intent_ids[s->i] = strdup(in->id);
	kbp_intent_free(in);
	atomic_fetch_add(&s->r->done, 1);
	return NULL;
}

/* Samples the product while the buyers race: the invariant must hold at every instant. */
static void *watcher(void *arg)
{
	race *r = arg;
	r->max_reserved = INT64_MIN;
	r->min_reserved = INT64_MAX;
	r->min_available = INT64_MAX;
	while (atomic_load(&r->done) < 64 || r->samples < 10) {
		kbp_product *pr = NULL;
		if (kbp_product_get(&pr, r->f->p, r->sku) != KBP_OK || !pr) {
			r->watcher_error = 1;
			break;
		}
		r->samples++;
		if (pr->reserved > r->max_reserved)
			r->max_reserved = pr->reserved;
		if (pr->reserved < r->min_reserved)
			r->min_reserved = pr->reserved;
		if (pr->available < r->min_available)
			r->min_available = pr->available;
		if (pr->available != pr->on_hand - pr->reserved)
			r->watcher_error = 2;
		r->on_hand_seen = pr->on_hand;
		kbp_product_free(pr);
	}
	return NULL;
}

static void run_race(race *r, int buyers)
{
	pthread_t th[64], w;
	slot slots[64];

	ck_assert_int_eq(pthread_barrier_init(&r->go, NULL, (unsigned)buyers), 0);
	atomic_init(&r->done, 64 - buyers);
	ck_assert_int_eq(pthread_create(&w, NULL, watcher, r), 0);
	for (int i = 0; i < buyers; i++) {
		slots[i].r = r;
		slots[i].i = i;
		ck_assert_int_eq(pthread_create(&th[i], NULL, buyer, &slots[i]), 0);
	}
	for (int i = 0; i < buyers; i++)
		pthread_join(th[i], NULL);
	pthread_join(w, NULL);
	pthread_barrier_destroy(&r->go);
}

START_TEST(scarce_stock_sells_exactly_once)
{
	fx f;
	race *r = calloc(1, sizeof *r);
	int ok = 0, short_ = 0;

	fx_open(&f);
	r->f = &f;
	r->sku = fx_product(&f, "scarce", 2500, 10);
	for (int i = 0; i < 64; i++)
		r->carts[i] = fx_cart(&f, r->sku, 1);
	run_race(r, 64);

	for (int i = 0; i < 64; i++) {
		if (r->rc[i] == KBP_OK) {
			ok++;
			ck_assert_ptr_nonnull(r->intent_ids[i]);
		} else {
			ck_assert_msg(r->rc[i] == KBP_EOUTOFSTOCK, "buyer %d: %d (%s)", i, r->rc[i],
			              fx_strerror(r->rc[i]));
			ck_assert_ptr_null(r->intent_ids[i]);
			short_++;
		}
	}
	ck_assert_int_eq(ok, 10);
	ck_assert_int_eq(short_, 54);
	ck_assert_int_eq(fx_reserved(&f, r->sku), 10);
	ck_assert_int_eq(fx_on_hand(&f, r->sku), 10);
	ck_assert_int_eq(r->watcher_error, 0);
	ck_assert_int_ge(r->samples, 10);
	ck_assert_int_le(r->max_reserved, 10);
	ck_assert_int_ge(r->min_reserved, 0);
	ck_assert_int_ge(r->min_available, 0);
	for (int i = 0; i < 64; i++)
		free(r->intent_ids[i]);
	free(r);
	fx_close(&f);
}
END_TEST

/* Two-line carts over two scarce SKUs: all or nothing must hold under contention. */
START_TEST(multi_line_reservations_are_all_or_nothing)
{
	fx f;
	race *r = calloc(1, sizeof *r);
	const char *a;
	int ok = 0;

	fx_open(&f);
	a = fx_product(&f, "plenty", 100, 10);
	r->f = &f;
	r->sku = fx_product(&f, "few", 100, 5);
	for (int i = 0; i < 32; i++) {
		/* Half the carts list the scarce SKU first, half last. */
		if (i % 2) {
			r->carts[i] = fx_cart(&f, a, 1);
			fx_cart_set(&f, r->carts[i], r->sku, 1);
		} else {
			r->carts[i] = fx_cart(&f, r->sku, 1);
			fx_cart_set(&f, r->carts[i], a, 1);
		}
	}
	run_race(r, 32);
	for (int i = 0; i < 32; i++) {
		ck_assert(r->rc[i] == KBP_OK || r->rc[i] == KBP_EOUTOFSTOCK);
		ok += r->rc[i] == KBP_OK;
		free(r->intent_ids[i]);
	}
	ck_assert_int_eq(ok, 5);
	ck_assert_int_eq(fx_reserved(&f, r->sku), 5);
	ck_assert_int_eq(fx_reserved(&f, a), 5);
	ck_assert_int_le(r->max_reserved, 5);
	free(r);
	fx_close(&f);
}
END_TEST

typedef struct dup_race {
	fx *f;
	pthread_barrier_t go;
	const char *cb;
	int rc[32];
	int duplicate[32];
	char *vid[32];
} dup_race;

typedef struct dup_slot {
	dup_race *d;
	int i;
} dup_slot;

static void *deliver(void *arg)
{
	dup_slot *s = arg;
	kbp_verification *v = NULL;
	pthread_barrier_wait(&s->d->go);
	s->d->rc[s->i] = kbp_payment_verify(&v, s->d->f->p, FX_GATEWAY, s->d->cb, strlen(s->d->cb));
	if (v) {
		s->d->duplicate[s->i] = v->duplicate;
		s->d->vid[s->i] = strdup(v->id);
	}
	kbp_verification_free(v);
	return NULL;
}

START_TEST(duplicate_callbacks_in_parallel_make_one_order)
{
	fx f;
	dup_race d;
	dup_slot slots[32];
	pthread_t th[32];
	kbp_intent *in;
	kbp_verification_list *l = NULL;
	kbp_metrics m0, m1;
	kbp_order *o;
	char *cb;
	const char *sku;
	int fresh = 0;
	size_t n_jobs = 0;

	fx_open(&f);
	sku = fx_product(&f, "a", 1200, 5);
	in = fx_intent(&f, fx_cart(&f, sku, 2));
	cb = fx_pay(&f, in->id, KBP_SANDBOX_COMPLETED, -1);
	memset(&d, 0, sizeof d);
	d.f = &f;
	d.cb = cb;
	fx_metrics(&f, &m0);
	ck_assert_int_eq(pthread_barrier_init(&d.go, NULL, 32), 0);
	for (int i = 0; i < 32; i++) {
		slots[i].d = &d;
		slots[i].i = i;
		ck_assert_int_eq(pthread_create(&th[i], NULL, deliver, &slots[i]), 0);
	}
	for (int i = 0; i < 32; i++)
		pthread_join(th[i], NULL);
	pthread_barrier_destroy(&d.go);

	for (int i = 0; i < 32; i++) {
		ck_assert_msg(d.rc[i] == KBP_OK, "delivery %d: %d (%s)", i, d.rc[i], fx_strerror(d.rc[i]));
		ck_assert_ptr_nonnull(d.vid[i]);
		ck_assert_str_eq(d.vid[i], d.vid[0]);
		fresh += !d.duplicate[i];
	}
	for (int i = 0; i < 32; i++)
		free(d.vid[i]);
	ck_assert_int_eq(fresh, 1);
	CK_OK(kbp_verification_list_get(&l, f.p, in->id));
	ck_assert_uint_eq(l->n, 1);
	ck_assert_int_eq(l->items[0].outcome, KBP_VERIFICATION_ACCEPTED);
	kbp_verification_list_free(l);
	free(fx_finalize_job(&f, in->id, &n_jobs));
	ck_assert_uint_eq(n_jobs, 1);

	fx_drain(&f);
	fx_metrics(&f, &m1);
	ck_assert_int_eq(m1.orders - m0.orders, 1);
	o = fx_order_of(&f, in->id);
	ck_assert_ptr_nonnull(o);
	ck_assert_int_eq(fx_on_hand(&f, sku), 3);
	ck_assert_int_eq(fx_reserved(&f, sku), 0);
	kbp_order_free(o);
	kbp_free(cb);
	kbp_intent_free(in);
	fx_close(&f);
}
END_TEST

START_TEST(worker_pool_finishes_200_orders)
{
	enum { N = 200 };
	fx f;
	const char *sku;
	char *ids[N];
	kbp_worker *w = NULL;
	kbp_worker_options wo = KBP_WORKER_OPTIONS_INIT;
	kbp_metrics m0, m1;

	fx_open(&f);
	sku = fx_product(&f, "bulk", 300, N);
	fx_drain(&f);
	fx_metrics(&f, &m0);
	wo.threads = 4;
	wo.poll_ms = 50;
	wo.name = fx_id(&f, "pool");
	CK_OK(kbp_worker_start(&w, f.p, &wo));
	for (int i = 0; i < N; i++) {
		kbp_intent *in = fx_paid_intent(&f, sku, 1);
		ids[i] = strdup(in->id);
		kbp_intent_free(in);
	}
	for (int i = 0; i < N; i++) {
		kbp_order_status *st = NULL;
		int rc = kbp_order_wait(&st, f.p, ids[i], 60000);
		ck_assert_msg(rc == KBP_OK, "order %d: %d (%s)", i, rc, fx_strerror(rc));
		ck_assert_int_eq(st->stage, KBP_STAGE_CONFIRMED);
		kbp_order_status_free(st);
	}
	kbp_worker_stop(w);
	fx_metrics(&f, &m1);
	ck_assert_int_eq(m1.orders - m0.orders, N);
	ck_assert_int_eq(m1.orders_without_items, m0.orders_without_items);
	ck_assert_int_eq(fx_on_hand(&f, sku), 0);
	ck_assert_int_eq(fx_reserved(&f, sku), 0);
	for (int i = 0; i < N; i++) {
		size_t n_jobs = 0;
		char *job = fx_finalize_job(&f, ids[i], &n_jobs);
		kbp_job *j;
		ck_assert_uint_eq(n_jobs, 1);
		j = fx_job_get(&f, job);
		ck_assert_int_eq(j->state, KBP_JOB_COMPLETED);
		kbp_job_free(j);
		free(job);
		free(ids[i]);
	}
	fx_close(&f);
}
END_TEST

START_TEST(worker_pool_stops_cleanly_with_work_left)
{
	fx f;
	const char *sku;
	kbp_worker *w = NULL;
	kbp_worker_options wo = KBP_WORKER_OPTIONS_INIT;
	kbp_intent *ins[50];
	int confirmed = 0, processing = 0;

	fx_open(&f);
	sku = fx_product(&f, "bulk", 300, 50);
	for (int i = 0; i < 50; i++)
		ins[i] = fx_paid_intent(&f, sku, 1);
	wo.threads = 4;
	wo.batch = 2;
	CK_OK(kbp_worker_start(&w, f.p, &wo));
	kbp_worker_stop(w);        /* at once: whatever was in hand is finished or released */
	for (int i = 0; i < 50; i++) {
		kbp_order_status *st = fx_status(&f, ins[i]->id);
		confirmed += st->stage == KBP_STAGE_CONFIRMED;
		processing += st->stage == KBP_STAGE_PROCESSING;
		kbp_order_status_free(st);
	}
	ck_assert_int_eq(confirmed + processing, 50);
	/* Nothing is left running: the rest is picked up by the next worker. */
	fx_drain(&f);
	for (int i = 0; i < 50; i++) {
		kbp_order_status *st = fx_status(&f, ins[i]->id);
		ck_assert_int_eq(st->stage, KBP_STAGE_CONFIRMED);
		kbp_order_status_free(st);
		kbp_intent_free(ins[i]);
	}
	ck_assert_int_eq(fx_on_hand(&f, sku), 0);
	fx_close(&f);
}
END_TEST

typedef struct same_key {
	fx *f;
	pthread_barrier_t go;
	const char *cart, *key;
	int rc[16];
	char *ids[16];
} same_key;

typedef struct key_slot {
	same_key *k;
	int i;
} key_slot;

static void *double_click(void *arg)
{
	key_slot *s = arg;
	kbp_intent_request req = KBP_INTENT_REQUEST_INIT;
	kbp_intent *in = NULL;

	req.cart_id = s->k->cart;
	req.gateway = FX_GATEWAY;
	req.idempotency_key = s->k->key;
	pthread_barrier_wait(&s->k->go);
	s->k->rc[s->i] = kbp_intent_create(&in, s->k->f->p, &req);
	s->k->ids[s->i] = in ? strdup(in->id) : NULL;
	kbp_intent_free(in);
	return NULL;
}

/* A shopper double-clicks "pay": one key, sixteen requests at once, one intent. */
START_TEST(same_idempotency_key_in_parallel_is_one_intent)
{
	fx f;
	same_key k;
	key_slot slots[16];
	pthread_t th[16];
	const char *sku;

	fx_open(&f);
	sku = fx_product(&f, "a", 100, 10);
	memset(&k, 0, sizeof k);
	k.f = &f;
	k.cart = fx_cart(&f, sku, 3);
	k.key = fx_id(&f, "click");
	ck_assert_int_eq(pthread_barrier_init(&k.go, NULL, 16), 0);
	for (int i = 0; i < 16; i++) {
		slots[i].k = &k;
		slots[i].i = i;
		ck_assert_int_eq(pthread_create(&th[i], NULL, double_click, &slots[i]), 0);
	}
	for (int i = 0; i < 16; i++)
		pthread_join(th[i], NULL);
	pthread_barrier_destroy(&k.go);
	for (int i = 0; i < 16; i++) {
		ck_assert_msg(k.rc[i] == KBP_OK, "request %d: %d (%s)", i, k.rc[i], fx_strerror(k.rc[i]));
		ck_assert_str_eq(k.ids[i], k.ids[0]);
	}
	for (int i = 0; i < 16; i++)
		free(k.ids[i]);
	ck_assert_int_eq(fx_reserved(&f, sku), 3);
	fx_close(&f);
}
END_TEST

typedef struct cart_edit {
	fx *f;
	pthread_barrier_t go;
	const char *cart, *cust;
	const char *skus[16];
	int rc[16];
	int64_t version[16];
} cart_edit;

typedef struct edit_slot {
	cart_edit *e;
	int i;
} edit_slot;

static void *edit(void *arg)
{
	edit_slot *s = arg;
	pthread_barrier_wait(&s->e->go);
	s->e->rc[s->i] = kbp_cart_set_item(&s->e->version[s->i], s->e->f->p, s->e->cart, s->e->cust,
	                                   s->e->skus[s->i], 1);
	return NULL;
}

/* Concurrent edits of one cart: every change gets its own version, none is lost. */
START_TEST(concurrent_cart_edits_each_get_a_version)
{
	fx f;
	cart_edit e;
	edit_slot slots[16];
	pthread_t th[16];
	kbp_cart *c = NULL;
	int seen[18] = { 0 };

	fx_open(&f);
	memset(&e, 0, sizeof e);
	e.f = &f;
	e.cart = fx_cart(&f, fx_product(&f, "first", 100, 10), 1);
	e.cust = fx_customer_of(&f, e.cart);
	for (int i = 0; i < 16; i++) {
		char name[16];
		snprintf(name, sizeof name, "p%d", i);
		e.skus[i] = fx_product(&f, name, 100, 10);
	}
	ck_assert_int_eq(pthread_barrier_init(&e.go, NULL, 16), 0);
	for (int i = 0; i < 16; i++) {
		slots[i].e = &e;
		slots[i].i = i;
		ck_assert_int_eq(pthread_create(&th[i], NULL, edit, &slots[i]), 0);
	}
	for (int i = 0; i < 16; i++)
		pthread_join(th[i], NULL);
	pthread_barrier_destroy(&e.go);
	for (int i = 0; i < 16; i++) {
		ck_assert_int_eq(e.rc[i], KBP_OK);
		ck_assert(e.version[i] >= 2 && e.version[i] <= 17);
		ck_assert_msg(!seen[e.version[i]], "version %lld handed out twice", (long long)e.version[i]);
		seen[e.version[i]] = 1;
	}
	CK_OK(kbp_cart_get(&c, f.p, e.cart));
	ck_assert_int_eq(c->version, 17);
	ck_assert_uint_eq(c->n_items, 17);
	kbp_cart_free(c);
	fx_close(&f);
}
END_TEST

typedef struct settle_race {
	fx *f;
	pthread_barrier_t go;
	kbp_intent *ins[20];
	char *cbs[20];
	int verify_rc[20];
	int other_rc[20];
	int use_cancel;
} settle_race;

static void *pay_thread(void *arg)
{
	settle_race *r = arg;
	pthread_barrier_wait(&r->go);
	for (int i = 0; i < 20; i++) {
		kbp_verification *v = NULL;
		r->verify_rc[i] = kbp_payment_verify(&v, r->f->p, FX_GATEWAY, r->cbs[i], strlen(r->cbs[i]));
		kbp_verification_free(v);
	}
	return NULL;
}

static void *settle_thread(void *arg)
{
	settle_race *r = arg;
	pthread_barrier_wait(&r->go);
	for (int i = 19; i >= 0; i--) {
		if (r->use_cancel) {
			r->other_rc[i] = kbp_intent_cancel(r->f->p, r->ins[i]->id);
		} else {
			kbp_maintenance_result res;
			r->other_rc[i] = kbp_maintenance_run(&res, r->f->p);
		}
	}
	return NULL;
}

/*
 * Money arrives while the intent is being expired (loop 0) or canceled
 * (loop 1). Whatever order the two take, stock must add up: every unit is
 * either sold by exactly one order or back on the shelf, and nothing stays
 * reserved.
 */
START_TEST(payment_racing_expiry_or_cancel_keeps_stock_consistent)
{
	fx f;
	settle_race *r = calloc(1, sizeof *r);
	pthread_t a, b;
	const char *sku;
	int orders = 0, refunds = 0;
	kbp_metrics m0, m1;

	fx_open(&f);
	sku = fx_product(&f, "a", 100, 20);
	r->f = &f;
	r->use_cancel = _i;
	for (int i = 0; i < 20; i++) {
		r->ins[i] = fx_intent(&f, fx_cart(&f, sku, 1));
		r->cbs[i] = fx_pay(&f, r->ins[i]->id, KBP_SANDBOX_COMPLETED, -1);
	}
	fx_metrics(&f, &m0);
	if (!_i)
		fx_set_now(&f, r->ins[19]->expires_at);
	ck_assert_int_eq(pthread_barrier_init(&r->go, NULL, 2), 0);
	ck_assert_int_eq(pthread_create(&a, NULL, pay_thread, r), 0);
	ck_assert_int_eq(pthread_create(&b, NULL, settle_thread, r), 0);
	pthread_join(a, NULL);
	pthread_join(b, NULL);
	pthread_barrier_destroy(&r->go);
	fx_drain(&f);

	for (int i = 0; i < 20; i++) {
		kbp_intent *in = fx_intent_get(&f, r->ins[i]->id);
		kbp_order *o = fx_order_of(&f, in->id);
		ck_assert_msg(r->verify_rc[i] == KBP_OK, "verify %d: %d", i, r->verify_rc[i]);
		if (o) {
			ck_assert_int_eq(in->status, KBP_INTENT_SUCCEEDED);
			ck_assert_int_eq(in->needs_refund, 0);
			orders++;
		} else {
			ck_assert_int_eq(in->needs_refund, 1);
			ck_assert_int_ne(in->status, KBP_INTENT_SUCCEEDED);
			refunds++;
		}
		kbp_order_free(o);
		kbp_intent_free(in);
	}
	fx_metrics(&f, &m1);
	ck_assert_int_eq(orders + refunds, 20);
	ck_assert_int_eq(m1.orders - m0.orders, orders);
	ck_assert_int_eq(m1.needs_refund - m0.needs_refund, refunds);
	ck_assert_int_eq(fx_reserved(&f, sku), 0);
	ck_assert_int_eq(fx_on_hand(&f, sku), 20 - orders);
	if (!_i)
		ck_assert_int_eq(orders, 20);      /* expired stock was free to re-reserve */
	for (int i = 0; i < 20; i++) {
		kbp_free(r->cbs[i]);
		kbp_intent_free(r->ins[i]);
	}
	free(r);
	fx_close(&f);
}
END_TEST

/* Workers racing for one queue: every job runs once, and every job completes. */
enum { RACE_JOBS = 400, RACE_WORKERS = 4 };

typedef struct job_race {
	fx *f;
	pthread_barrier_t go;
	atomic_int runs[RACE_JOBS];
	atomic_int ran;
	int rc[RACE_WORKERS];
} job_race;

typedef struct racer {
	job_race *r;
	int i;
} racer;

static int h_tally(void *ctx, kbp_pipeline *p, const kbp_job *job)
{
	job_race *r = ctx;
	const char *colon = strchr(job->payload, ':');
	int n = colon ? atoi(colon + 1) : -1;

	(void)p;
	if (n < 0 || n >= RACE_JOBS)
		return KBP_EINVAL;
	atomic_fetch_add(&r->runs[n], 1);
	atomic_fetch_add(&r->ran, 1);
	return 0;
}

static void *racing_worker(void *arg)
{
	racer *w = arg;
	char id[32];
	int idle = 0;

	snprintf(id, sizeof(id), "racer-%d", w->i);
	pthread_barrier_wait(&w->r->go);
	while (atomic_load(&w->r->ran) < RACE_JOBS && idle < 1000) {
		int ran = 0;
		if ((w->r->rc[w->i] = kbp_worker_run_once(&ran, w->r->f->p, id, 16)) != KBP_OK)
			break;
		idle = ran ? 0 : idle + 1;
	}
	return NULL;
}

START_TEST(racing_workers_run_each_job_once)
{
	fx f;
	job_race *r = calloc(1, sizeof(*r));
	racer ws[RACE_WORKERS];
	pthread_t th[RACE_WORKERS];
	const char *kind;
	char *ids[RACE_JOBS];

	ck_assert_ptr_nonnull(r);
	fx_open(&f);
	r->f = &f;
	kind = fx_kind(&f, "race");
	CK_OK(kbp_job_register(f.p, kind, h_tally, r));
	for (int i = 0; i < RACE_JOBS; i++) {
		char payload[32];
		snprintf(payload, sizeof(payload), "{\"n\":%d}", i);
		CK_OK(kbp_job_enqueue(&ids[i], f.p, kind, payload, NULL));
	}
	ck_assert_int_eq(pthread_barrier_init(&r->go, NULL, RACE_WORKERS), 0);
	for (int i = 0; i < RACE_WORKERS; i++) {
		ws[i].r = r;
		ws[i].i = i;
		ck_assert_int_eq(pthread_create(&th[i], NULL, racing_worker, &ws[i]), 0);
	}
	for (int i = 0; i < RACE_WORKERS; i++)
		pthread_join(th[i], NULL);
	pthread_barrier_destroy(&r->go);
	for (int i = 0; i < RACE_WORKERS; i++)
		ck_assert_msg(r->rc[i] == KBP_OK, "worker %d: %s", i, fx_strerror(r->rc[i]));
	for (int i = 0; i < RACE_JOBS; i++) {
		kbp_job *j;
		ck_assert_msg(atomic_load(&r->runs[i]) == 1, "job %d ran %d times", i,
		              atomic_load(&r->runs[i]));
		j = fx_job_get(&f, ids[i]);
		ck_assert_int_eq(j->state, KBP_JOB_COMPLETED);
		ck_assert_int_eq(j->attempts, 1);
		kbp_job_free(j);
		kbp_free(ids[i]);
	}
	free(r);
	fx_close(&f);
}
END_TEST

void add_concurrency_tests(Suite *s)
{
	TCase *tc = fx_tcase("concurrency");
	tcase_set_timeout(tc, 240);
	tcase_add_test(tc, scarce_stock_sells_exactly_once);
	tcase_add_test(tc, multi_line_reservations_are_all_or_nothing);
	tcase_add_test(tc, duplicate_callbacks_in_parallel_make_one_order);
	tcase_add_test(tc, worker_pool_finishes_200_orders);
	tcase_add_test(tc, racing_workers_run_each_job_once);
	tcase_add_test(tc, worker_pool_stops_cleanly_with_work_left);
	tcase_add_test(tc, same_idempotency_key_in_parallel_is_one_intent);
	tcase_add_test(tc, concurrent_cart_edits_each_get_a_version);
	tcase_add_loop_test(tc, payment_racing_expiry_or_cancel_keeps_stock_consistent, 0, 2);
	suite_add_tcase(s, tc);
}
