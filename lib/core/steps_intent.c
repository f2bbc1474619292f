/* SPDX-License-Identifier: MIT */
#include <stdlib.h>
#include <string.h>

#include "core/objects.h"
#include "core/records.h"
#include "core/rules.h"
#include "util/strings.h"

/* The intent a step read, taken from the facts to be changed and written back. */
typedef struct intent_step {
	kbp_step step;
	const kbp_intent_draft *draft;
	const char *intent_id;
	const char *gateway_ref, *redirect, *reason;
	const kbp__intent_prepare *prepare;
	int64_t now;
	kbp_intent_record *intent;
	kbp_intent_write write;
	kbp_stock_delta *stock;
} intent_step;

static void intent_step_reset(kbp_step *st)
{
	intent_step *is = (intent_step *)st;

	kbp__intent_record_free(is->intent);
	free(is->stock);
	is->intent = NULL;
	is->stock = NULL;
}

static void intent_step_init(intent_step *is, int (*decide)(kbp_step *, kbp_facts *, kbp_changes *),
                             unsigned int flags, const char *intent_id, int64_t now)
{
	memset(is, 0, sizeof(*is));
	is->step.decide = decide;
	is->step.reset = intent_step_reset;
	is->step.flags = flags;
	is->step.query.intent_id = intent_id;
	is->intent_id = intent_id;
	is->now = now;
}


/* Writes the step's intent back, and with it the stock it moves. */
static int write_intent(intent_step *is, kbp_changes *c, int is_new, kbp_stock_move move,
                        int moves_stock)
{
	kbp_intent *in = &is->intent->intent;

	is->write = (kbp_intent_write){ is->intent, is_new };
	c->intents = &is->write;
	c->n_intents = 1;
	if (!moves_stock || in->n_items == 0)
		return 0;
	if (!(is->stock = calloc(in->n_items, sizeof(*is->stock))))
		return kbp_error_set(KBP_ENOMEM, "out of memory");
	kbp__rule_stock(is->stock, in, move);
	c->stock = is->stock;
	c->n_stock = in->n_items;
	return 0;
}

static int out_intent(kbp_intent **out, const intent_step *is)
{
	if (!(*out = kbp__intent_dup(&is->intent->intent)))
		return kbp_error_set(KBP_ENOMEM, "out of memory");
	return 0;
}

static int decide_create(kbp_step *st, kbp_facts *f, kbp_changes *c)
{
	intent_step *is = (intent_step *)st;
	int rc;

	if (f->intent) {
		is->intent = f->intent;
		f->intent = NULL;
		return kbp__rule_same_request(is->intent, is->draft);
	}
	if ((rc = kbp__rule_intent_new(&is->intent, is->draft, f->cart, f, is->now)))
		return rc;
	if (is->prepare && (rc = is->prepare->fn(is->prepare->ctx, &is->intent->intent)))
		return rc;
	return write_intent(is, c, 1, KBP_STOCK_RESERVE, 1);
}

int kbp__rec_intent_create_prepared(kbp_storage *s, const kbp_intent_draft *d, int64_t now,
                                    const kbp__intent_prepare *prepare, kbp_intent **out)
{
	intent_step is;
	int rc;

	*out = NULL;
	intent_step_init(&is, decide_create, KBP_TXN_WRITE, NULL, now);
	is.prepare = prepare;
	is.draft = d;
	is.step.query.idempotency_key = d->idempotency_key;
	is.step.query.cart_id = d->cart_id;
	is.step.query.want = KBP_FACTS_PRODUCTS;
	rc = kbp__step_run(s, &is.step);
	if ((rc == 0 || rc == KBP_EEXISTS) && is.intent && out_intent(out, &is) != 0)
		rc = KBP_ENOMEM;
	intent_step_reset(&is.step);
	return rc;
}

int kbp__rec_intent_create(kbp_storage *s, const kbp_intent_draft *d, int64_t now,
                           kbp_intent **out)
{
	return kbp__rec_intent_create_prepared(s, d, now, NULL, out);
}

static int decide_attach(kbp_step *st, kbp_facts *f, kbp_changes *c)
{
	intent_step *is = (intent_step *)st;
	kbp_intent *in;
	int rc;

	if ((rc = kbp__rule_attach(f->intent, is->intent_id)))
		return rc;
	is->intent = f->intent;
	f->intent = NULL;
	in = &is->intent->intent;
	in->gateway_ref = strdup(is->gateway_ref);
	in->redirect = kbp_strdup0(is->redirect);
	in->updated_at = is->now;
	if (!in->gateway_ref || (is->redirect && !in->redirect))
		return kbp_error_set(KBP_ENOMEM, "out of memory");
	return write_intent(is, c, 0, KBP_STOCK_RESERVE, 0);
}

int kbp__rec_intent_attach(kbp_storage *s, const char *intent_id, const char *gateway_ref,
                           const char *redirect, int64_t now)
{
	intent_step is;
	int rc;

	intent_step_init(&is, decide_attach, KBP_TXN_WRITE, intent_id, now);
	is.gateway_ref = gateway_ref;
	is.redirect = redirect;
	is.step.conflict = "gateway reference is already in use";
	rc = kbp__step_run(s, &is.step);
	intent_step_reset(&is.step);
	return rc;
}

static int decide_get(kbp_step *st, kbp_facts *f, kbp_changes *c)
{
	intent_step *is = (intent_step *)st;

	(void)c;
	if (!f->intent)
		return kbp_error_set(KBP_ENOTFOUND, "intent '%s' does not exist", is->intent_id);
	is->intent = f->intent;
	f->intent = NULL;
	return 0;
}

int kbp__rec_intent_get(kbp_storage *s, const char *intent_id, kbp_intent **out)
{
	intent_step is;
	int rc;

	intent_step_init(&is, decide_get, KBP_TXN_READ, intent_id, 0);
	if ((rc = kbp__step_run(s, &is.step)) == 0)
		rc = out_intent(out, &is);
	intent_step_reset(&is.step);
	return rc;
}

static int decide_cancel(kbp_step *st, kbp_facts *f, kbp_changes *c)
{
	intent_step *is = (intent_step *)st;
	int rc;

	if ((rc = kbp__rule_cancel(f->intent, is->intent_id)))
		return rc;
	is->intent = f->intent;
	f->intent = NULL;
	if ((rc = kbp__rule_intent_move(is->intent, KBP_INTENT_CANCELED, is->reason, is->now)))
		return rc;
	return write_intent(is, c, 0, KBP_STOCK_RELEASE, 1);
}

int kbp__rec_intent_cancel(kbp_storage *s, const char *intent_id, const char *reason,
                           int64_t now)
{
	intent_step is;
	int rc;

	intent_step_init(&is, decide_cancel, KBP_TXN_WRITE, intent_id, now);
	is.reason = reason;
	rc = kbp__step_run(s, &is.step);
	intent_step_reset(&is.step);
	return rc;
}
