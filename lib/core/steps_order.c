/* SPDX-License-Identifier: MIT */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/objects.h"
#include "core/records.h"
#include "core/rules.h"

typedef struct order_step {
	kbp_step step;
	const char *intent_id, *order_id, *order_number;
	int64_t now;
	kbp_order *order;           /* the new order, or the one that exists */
	kbp_cart *cart;
	kbp_stock_delta *stock;
	char conflict[128];
} order_step;

static void order_step_reset(kbp_step *st)
{
	order_step *os = (order_step *)st;

	kbp_order_free(os->order);
	kbp_cart_free(os->cart);
	free(os->stock);
	os->order = NULL;
	os->cart = NULL;
	os->stock = NULL;
}

static int decide_finalize(kbp_step *st, kbp_facts *f, kbp_changes *c)
{
	order_step *os = (order_step *)st;
	const kbp_intent *in;
	int rc = kbp__rule_finalize(f->intent, f->order, os->intent_id);

	if (rc == KBP_EEXISTS) {
		os->order = f->order;
		f->order = NULL;
	}
	if (rc)
		return rc;
	in = &f->intent->intent;
	if ((rc = kbp__rule_order_new(&os->order, in, os->order_id, os->order_number, os->now)))
		return rc;
	if (f->cart && (rc = kbp__rule_cart_after_purchase(&os->cart, f->cart, in)))
		return rc;
	if (!(os->stock = calloc(in->n_items, sizeof(*os->stock))))
		return kbp_error_set(KBP_ENOMEM, "out of memory");
	kbp__rule_stock(os->stock, in, KBP_STOCK_SELL);
	c->order = os->order;
	c->cart = os->cart;
	c->stock = os->stock;
	c->n_stock = in->n_items;
	return 0;
}

int kbp__rec_order_finalize(kbp_storage *s, const char *intent_id, const char *order_id,
                            const char *order_number, int64_t now, kbp_order **out)
{
	order_step os;
	int rc;

	memset(&os, 0, sizeof(os));
	os.step.decide = decide_finalize;
	os.step.reset = order_step_reset;
	os.step.query.intent_id = intent_id;
	os.step.query.want = KBP_FACTS_ORDER | KBP_FACTS_INTENT_CART;
	os.intent_id = intent_id;
	os.order_id = order_id;
	os.order_number = order_number;
	os.now = now;
	snprintf(os.conflict, sizeof(os.conflict), "order number %s is taken", order_number);
	os.step.conflict = os.conflict;
	rc = kbp__step_run(s, &os.step);
	if ((rc == 0 || rc == KBP_EEXISTS) && os.order) {
		*out = os.order;
		os.order = NULL;
	}
	order_step_reset(&os.step);
	return rc;
}

typedef struct facts_step {
	kbp_step step;
	kbp_order_facts *out;
} facts_step;

static int take(char **dst, const char *src)
{
	if (src && !(*dst = strdup(src)))
		return kbp_error_set(KBP_ENOMEM, "out of memory");
	return 0;
}

static void facts_reset(kbp_step *st)
{
	kbp_order_facts *o = ((facts_step *)st)->out;

	kbp__order_facts_clear(o);
	memset(o, 0, sizeof(*o));
}

static int decide_facts(kbp_step *st, kbp_facts *f, kbp_changes *c)
{
	kbp_order_facts *o = ((facts_step *)st)->out;
	int rc;

	(void)c;
	if (!f->intent)
		return kbp_error_set(KBP_ENOTFOUND, "intent '%s' does not exist", st->query.intent_id);
	o->intent_status = f->intent->intent.status;
	o->needs_refund = f->intent->intent.needs_refund;
	o->job_state = f->job ? (int)f->job->state : -1;
	if ((rc = take(&o->intent_reason, f->intent->intent.status_reason)))
		return rc;
	if (f->order && ((rc = take(&o->order_id, f->order->id)) ||
	                 (rc = take(&o->order_number, f->order->order_number))))
		return rc;
	return f->job ? take(&o->job_error, f->job->last_error) : 0;
}

int kbp__rec_order_facts(kbp_storage *s, const char *intent_id, kbp_order_facts *out)
{
	facts_step fs;

	memset(&fs, 0, sizeof(fs));
	fs.step.decide = decide_facts;
	fs.step.reset = facts_reset;
	fs.step.flags = KBP_TXN_READ;
	fs.step.query.intent_id = intent_id;
	fs.step.query.want = KBP_FACTS_ORDER | KBP_FACTS_JOB | KBP_FACTS_NO_ITEMS;
	fs.out = out;
	return kbp__step_run(s, &fs.step);
}
