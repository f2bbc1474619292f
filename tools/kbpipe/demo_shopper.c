/* SPDX-License-Identifier: MIT */
/* One shopper of kbpipe demo: cart, intent, payment, callback, order. */
#include "demo.h"

#include <stdlib.h>
#include <string.h>
#include <time.h>

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
		rc = kbp_cart_set_item(NULL, p, s->cart, s->customer, demo_products[s->lines[i].product].id,
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

	rc = kbp_order_wait(&st, p, s->intent_id, DEMO_WAIT_MS);
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

void *demo_shopper_main(void *arg)
{
	shopper *s = arg;

	pthread_barrier_wait(&s->d->start);
	shop(s);
	atomic_fetch_add(&s->d->finished, 1);
	return NULL;
}

void demo_plan_shopper(demo *d, shopper *s, int no, const char *tag)
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
