/* SPDX-License-Identifier: MIT */
#include "core/rules.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/objects.h"
#include "core/records.h"
#include "util/strings.h"

const kbp_product *kbp__facts_product(const kbp_facts *f, const char *sku)
{
	for (size_t i = 0; i < f->n_products; i++)
		if (strcmp(f->products[i].id, sku) == 0)
			return &f->products[i];
	return NULL;
}

static int check_product(const kbp_product *p, const char *sku)
{
	if (!p)
		return kbp_error_set(KBP_ENOTFOUND, "product '%s' does not exist", sku);
	if (!p->active)
		return kbp_error_set(KBP_EINACTIVE, "product '%s' is not active", sku);
	return 0;
}

static kbp_cart *cart_start(const kbp_cart *cart, const char *cart_id, const char *customer_id)
{
	kbp_cart *c;

	if (cart)
		return kbp__cart_dup(cart);
	if (!(c = calloc(1, sizeof(*c))))
		return NULL;
	c->id = strdup(cart_id);
	c->customer_id = strdup(customer_id);
	if (!c->id || !c->customer_id) {
		kbp_cart_free(c);
		return NULL;
	}
	return c;
}

static kbp_cart_item *find_line(kbp_cart *c, const char *sku)
{
	for (size_t i = 0; i < c->n_items; i++)
		if (strcmp(c->items[i].sku, sku) == 0)
			return &c->items[i];
	return NULL;
}

static int set_line(kbp_cart *c, const char *sku, int64_t qty)
{
	kbp_cart_item *line = find_line(c, sku), *items;
	size_t at;

	if (qty == 0) {
		if (!line)
			return kbp_error_set(KBP_ENOTFOUND, "'%s' is not in cart '%s'", sku, c->id);
		at = (size_t)(line - c->items);
		free(line->sku);
		memmove(line, line + 1, (c->n_items - at - 1) * sizeof(*line));
		c->n_items--;
		return 0;
	}
	if (line) {
		line->qty = qty;
		return 0;
	}
	if (c->n_items == KBP_CART_LINES_MAX)
		return kbp_error_set(KBP_ETOOBIG, "a cart holds at most %d lines", KBP_CART_LINES_MAX);
	if (!(items = realloc(c->items, (c->n_items + 1) * sizeof(*items))))
		return kbp_error_set(KBP_ENOMEM, "out of memory");
	c->items = items;
	if (!(items[c->n_items].sku = strdup(sku)))
		return kbp_error_set(KBP_ENOMEM, "out of memory");
	items[c->n_items++].qty = qty;
	return 0;
}

int kbp__rule_cart_change(kbp_cart **out, const kbp_cart *cart, const kbp_product *product,
                          const char *cart_id, const char *customer_id, const char *sku,
                          int64_t qty)
{
	kbp_cart *c;
	int rc;

	*out = NULL;
	/* The product comes first, so a refused first line leaves no cart. */
	if (qty && (rc = check_product(product, sku)))
		return rc;
	if (cart && strcmp(cart->customer_id, customer_id) != 0)
		return kbp_error_set(KBP_ECONFLICT, "cart '%s' belongs to another customer", cart_id);
	if (!cart && qty == 0)
		return kbp_error_set(KBP_ENOTFOUND, "cart '%s' does not exist", cart_id);
	if (!(c = cart_start(cart, cart_id, customer_id)))
		return kbp_error_set(KBP_ENOMEM, "out of memory");
	if ((rc = set_line(c, sku, qty))) {
		kbp_cart_free(c);
		return rc;
	}
	c->version++;
	*out = c;
	return 0;
}

int kbp__rule_same_request(const kbp_intent_record *in, const kbp_intent_draft *d)
{
	if (strcmp(in->intent.cart_id, d->cart_id) != 0 || strcmp(in->intent.gateway, d->gateway) != 0 ||
	    !kbp_str_eq(in->success_url, d->success_url) || !kbp_str_eq(in->failure_url, d->failure_url))
		return kbp_error_set(KBP_ECONFLICT, "idempotency key was used with different parameters");
	return kbp_error_set(KBP_EEXISTS, "intent %s already exists for this key", in->intent.id);
}

/* Every check of DESIGN §4.1b, before anything is reserved. */
static int price_lines(const kbp_cart *c, const kbp_facts *f, int64_t *amount, char currency[4])
{
	int64_t total = 0;
	int rc;

	if (c->n_items == 0)
		return kbp_error_set(KBP_EEMPTY, "cart '%s' is empty", c->id);
	for (size_t i = 0; i < c->n_items; i++) {
		const kbp_cart_item *line = &c->items[i];
		const kbp_product *p = kbp__facts_product(f, line->sku);
		int64_t cost;
		if ((rc = check_product(p, line->sku)))
			return rc;
		if (i == 0)
			memcpy(currency, p->currency, 4);
		else if (strcmp(currency, p->currency) != 0)
			return kbp_error_set(KBP_EINVAL, "cart mixes currencies %s and %s", currency,
			                     p->currency);
		if (__builtin_mul_overflow(line->qty, p->price_minor, &cost) ||
		    __builtin_add_overflow(total, cost, &total) || total > KBP_AMOUNT_MAX)
			return kbp_error_set(KBP_EOVERFLOW, "cart total exceeds %lld minor units",
			                     (long long)KBP_AMOUNT_MAX);
		if (p->on_hand - p->reserved < line->qty)
			return kbp_error_set(KBP_EOUTOFSTOCK, "'%s' is out of stock: %lld available, %lld wanted",
			                     line->sku, (long long)(p->on_hand - p->reserved),
			                     (long long)line->qty);
	}
	if (total <= 0)
		return kbp_error_set(KBP_EINVAL, "cart total must be positive");
	*amount = total;
	return 0;
}

static int snapshot(kbp_intent *in, const kbp_cart *c, const kbp_facts *f)
{
	if (!(in->items = calloc(c->n_items, sizeof(*in->items))))
		return -1;
	in->n_items = c->n_items;
	for (size_t i = 0; i < c->n_items; i++) {
		const kbp_product *p = kbp__facts_product(f, c->items[i].sku);
		kbp_intent_item *it = &in->items[i];
		it->sku = strdup(c->items[i].sku);
		it->vendor_id = strdup(p->vendor_id);
		it->qty = c->items[i].qty;
		it->unit_price_minor = p->price_minor;
		if (!it->sku || !it->vendor_id)
			return -1;
	}
	return 0;
}

static int fill_intent(kbp_intent_record *r, const kbp_intent_draft *d, const kbp_cart *c,
                       const kbp_facts *f, int64_t now)
{
	kbp_intent *in = &r->intent;

	in->id = strdup(d->id);
	in->cart_id = strdup(d->cart_id);
	in->customer_id = strdup(c->customer_id);
	in->gateway = strdup(d->gateway);
	in->idempotency_key = strdup(d->idempotency_key);
	r->success_url = kbp_strdup0(d->success_url);
	r->failure_url = kbp_strdup0(d->failure_url);
	in->cart_version = c->version;
	in->status = KBP_INTENT_PENDING;
	in->created_at = in->updated_at = now;
	in->expires_at = d->expires_at;
	return in->id && in->cart_id && in->customer_id && in->gateway && in->idempotency_key &&
	               (!d->success_url || r->success_url) && (!d->failure_url || r->failure_url) &&
	               snapshot(in, c, f) == 0
	           ? 0
	           : -1;
}

int kbp__rule_intent_new(kbp_intent_record **out, const kbp_intent_draft *d, const kbp_cart *cart,
                         const kbp_facts *f, int64_t now)
{
	kbp_intent_record *r;
	char currency[4] = "";
	int64_t amount = 0;
	int rc;

	*out = NULL;
	if (!cart)
		return kbp_error_set(KBP_ENOTFOUND, "cart '%s' does not exist", d->cart_id);
	if ((rc = price_lines(cart, f, &amount, currency)))
		return rc;
	if (!(r = calloc(1, sizeof(*r))) || fill_intent(r, d, cart, f, now) != 0) {
		kbp__intent_record_free(r);
		return kbp_error_set(KBP_ENOMEM, "out of memory");
	}
	r->intent.amount_minor = amount;
	memcpy(r->intent.currency, currency, 4);
	*out = r;
	return 0;
}

void kbp__rule_stock(kbp_stock_delta *deltas, const kbp_intent *in, kbp_stock_move move)
{
	for (size_t i = 0; i < in->n_items; i++) {
		int64_t q = in->items[i].qty;
		deltas[i].sku = in->items[i].sku;
		deltas[i].on_hand = move == KBP_STOCK_SELL ? -q : 0;
		deltas[i].reserved = move == KBP_STOCK_SELL ? -q : (int64_t)move * q;
	}
}

int kbp__rule_can_reserve(const kbp_intent *in, const kbp_facts *f)
{
	for (size_t i = 0; i < in->n_items; i++) {
		const kbp_product *p = kbp__facts_product(f, in->items[i].sku);
		if (!p || !p->active || p->on_hand - p->reserved < in->items[i].qty)
			return 0;
	}
	return 1;
}

int kbp__rule_intent_move(kbp_intent_record *in, kbp_intent_status status, const char *reason,
                          int64_t now)
{
	char *copy = kbp_strdup0(reason);

	if (reason && !copy)
		return kbp_error_set(KBP_ENOMEM, "out of memory");
	free(in->intent.status_reason);
	in->intent.status_reason = copy;
	in->intent.status = status;
	in->intent.updated_at = now;
	return 0;
}

static int exists(const kbp_intent_record *in, const char *intent_id)
{
	return in ? 0 : kbp_error_set(KBP_ENOTFOUND, "intent '%s' does not exist", intent_id);
}

int kbp__rule_attach(const kbp_intent_record *in, const char *intent_id)
{
	int rc = exists(in, intent_id);

	if (rc == 0 && (in->intent.gateway_ref || in->intent.status != KBP_INTENT_PENDING))
		rc = kbp_error_set(KBP_ESTATE, "intent '%s' is already prepared", intent_id);
	return rc;
}

int kbp__rule_cancel(const kbp_intent_record *in, const char *intent_id)
{
	int rc = exists(in, intent_id);

	if (rc == 0 && in->intent.status != KBP_INTENT_PENDING)
		rc = kbp_error_set(KBP_ESTATE, "intent '%s' is %s, not pending", intent_id,
		                   kbp_intent_status_name(in->intent.status));
	return rc;
}

#define VERDICT(v, c, o, ...)                                            \
	do {                                                             \
		(v)->code = (c);                                         \
		(v)->outcome = (o);                                      \
		snprintf((v)->reason, sizeof((v)->reason), __VA_ARGS__); \
	} while (0)

static void move_to(kbp_verdict *v, kbp_intent_status status, const char *reason, int stock)
{
	v->moves = v->touched = 1;
	v->status = status;
	v->status_reason = reason;
	v->stock = stock;
}

/* A genuine, completed payment for the right amount: DESIGN §3's intent rules. */
static void accept_paid(kbp_verdict *v, const kbp_intent_record *in, const kbp_facts *f)
{
	kbp_intent_status st = in->intent.status;

	VERDICT(v, 0, KBP_VERIFICATION_ACCEPTED, "%s", "");
	if (st == KBP_INTENT_EXPIRED && !kbp__rule_can_reserve(&in->intent, f)) {
		v->needs_refund = 1;
		move_to(v, KBP_INTENT_EXPIRED, "paid_after_expiry", 0);
		VERDICT(v, 0, KBP_VERIFICATION_ACCEPTED, "paid_after_expiry");
		return;
	}
	if (st == KBP_INTENT_PENDING || st == KBP_INTENT_EXPIRED) {
		move_to(v, KBP_INTENT_SUCCEEDED, st == KBP_INTENT_EXPIRED ? "paid_after_expiry" : NULL,
		        st == KBP_INTENT_EXPIRED ? KBP_STOCK_RESERVE : 0);
		v->finalize = 1;
		return;
	}
	/* failed, canceled, or already paid by another transaction: money without an order. */
	v->needs_refund = v->touched = 1;
	VERDICT(v, 0, KBP_VERIFICATION_ACCEPTED, "paid_after_%s",
	        st == KBP_INTENT_SUCCEEDED ? "success" : kbp_intent_status_name(st));
}

/*
 * The gateway took another amount than the intent's: that money must go back,
 * and a pending intent will not be fulfilled by it (kbp_payment_verify(3)).
 */
static void refuse_amount(kbp_verdict *v, const kbp_payment_draft *d, const kbp_intent_record *in)
{
	VERDICT(v, KBP_EAMOUNT, KBP_VERIFICATION_REJECTED,
	        "amount mismatch: gateway reports %lld %s, intent is %lld %s",
	        (long long)d->amount_minor, d->currency ? d->currency : in->intent.currency,
	        (long long)in->intent.amount_minor, in->intent.currency);
	v->needs_refund = v->touched = 1;
	if (in->intent.status == KBP_INTENT_PENDING)
		move_to(v, KBP_INTENT_FAILED, "amount_mismatch", KBP_STOCK_RELEASE);
}

static void judge_completed(kbp_verdict *v, const kbp_payment_draft *d,
                            const kbp_intent_record *in, const kbp_facts *f)
{
	/* Without the gateway's transaction id a later replay could not be told from a payment. */
	if (!d->external_txn_id)
		VERDICT(v, KBP_EGATEWAY, KBP_VERIFICATION_REJECTED,
		        "gateway reports the payment completed without a transaction id");
	else if (d->amount_minor != in->intent.amount_minor ||
	         (d->currency && strcmp(d->currency, in->intent.currency) != 0))
		refuse_amount(v, d, in);
	else
		accept_paid(v, in, f);
}

static const char *declined_word(kbp_gateway_status s)
{
	return s == KBP_GATEWAY_FAILED ? "failed" : s == KBP_GATEWAY_CANCELED ? "canceled" : "expired";
}

static void judge_status(kbp_verdict *v, const kbp_payment_draft *d, const kbp_intent_record *in,
                         const kbp_facts *f)
{
	switch (d->status) {
	case KBP_GATEWAY_COMPLETED:
		judge_completed(v, d, in, f);
		return;
	case KBP_GATEWAY_PENDING:
	case KBP_GATEWAY_AMBIGUOUS:
		VERDICT(v, KBP_EPENDING, KBP_VERIFICATION_PENDING, "gateway reports the payment %s",
		        d->status == KBP_GATEWAY_PENDING ? "pending" : "ambiguous");
		return;
	case KBP_GATEWAY_FAILED:
	case KBP_GATEWAY_CANCELED:
	case KBP_GATEWAY_EXPIRED:
		if (in->intent.status == KBP_INTENT_PENDING)
			move_to(v, KBP_INTENT_FAILED, "declined", KBP_STOCK_RELEASE);
		VERDICT(v, KBP_EDECLINED, KBP_VERIFICATION_DECLINED, "gateway reports the payment %s",
		        declined_word(d->status));
		return;
	case KBP_GATEWAY_NOT_FOUND:
		VERDICT(v, KBP_ENOTFOUND, KBP_VERIFICATION_REJECTED,
		        "gateway has no record of this payment");
		return;
	case KBP_GATEWAY_REFUNDED:
	case KBP_GATEWAY_PARTIALLY_REFUNDED:
		VERDICT(v, KBP_EDECLINED, KBP_VERIFICATION_REJECTED, "gateway reports the payment refunded");
		return;
	}
	VERDICT(v, KBP_EGATEWAY, KBP_VERIFICATION_REJECTED, "gateway status is unknown");
}

int kbp__rule_judge(kbp_verdict *v, const kbp_payment_draft *d, const kbp_intent_record *in,
                    const kbp_verification *first, const kbp_facts *f)
{
	memset(v, 0, sizeof(*v));
	v->outcome = KBP_VERIFICATION_REJECTED;
	v->keep_reason = 1;
	if (first && in && kbp_str_eq(first->intent_id, in->intent.id))
		return 1;
	if (d->reject_reason)
		VERDICT(v, d->reject_code, KBP_VERIFICATION_REJECTED, "%s", d->reject_reason);
	else if (first)
		VERDICT(v, KBP_ECONFLICT, KBP_VERIFICATION_REJECTED,
		        "gateway transaction is already accepted for another intent");
	else if (!in)
		VERDICT(v, KBP_ENOTFOUND, KBP_VERIFICATION_REJECTED,
		        "no intent matches this gateway reference");
	else
		judge_status(v, d, in, f);
	if (v->moves)
		v->keep_reason = 0;
	return 0;
}

int kbp__rule_finalize(const kbp_intent_record *in, const kbp_order *existing,
                       const char *intent_id)
{
	int rc = exists(in, intent_id);

	if (rc)
		return rc;
	if (existing)
		return kbp_error_set(KBP_EEXISTS, "intent '%s' already has order %s", intent_id,
		                     existing->order_number);
	if (in->intent.status != KBP_INTENT_SUCCEEDED)
		return kbp_error_set(KBP_ESTATE, "intent '%s' is %s, not succeeded", intent_id,
		                     kbp_intent_status_name(in->intent.status));
	if (in->intent.n_items == 0)
		return kbp_error_set(KBP_EEMPTY, "intent '%s' has no items: no order is created",
		                     intent_id);
	return 0;
}

int kbp__rule_order_new(kbp_order **out, const kbp_intent *in, const char *order_id,
                        const char *order_number, int64_t now)
{
	kbp_order *o = calloc(1, sizeof(*o));
	int ok;

	*out = NULL;
	if (!o)
		return kbp_error_set(KBP_ENOMEM, "out of memory");
	o->id = strdup(order_id);
	o->order_number = strdup(order_number);
	o->intent_id = strdup(in->id);
	o->customer_id = strdup(in->customer_id);
	o->status = strdup("confirmed");
	o->fulfillment_status = strdup("pending");
	o->total_minor = in->amount_minor;
	memcpy(o->currency, in->currency, 4);
	o->created_at = now;
	o->items = calloc(in->n_items, sizeof(*o->items));
	ok = o->id && o->order_number && o->intent_id && o->customer_id && o->status &&
	     o->fulfillment_status && o->items;
	if (o->items)
		o->n_items = in->n_items;
	for (size_t i = 0; ok && i < in->n_items; i++) {
		const kbp_intent_item *it = &in->items[i];
		o->items[i] = (kbp_order_item){ strdup(it->sku), strdup(it->vendor_id), it->qty,
			                        it->unit_price_minor };
		ok = o->items[i].sku && o->items[i].vendor_id;
	}
	if (!ok) {
		kbp_order_free(o);
		return kbp_error_set(KBP_ENOMEM, "out of memory");
	}
	*out = o;
	return 0;
}

int kbp__rule_cart_after_purchase(kbp_cart **out, const kbp_cart *cart, const kbp_intent *in)
{
	kbp_cart *c = kbp__cart_dup(cart);
	size_t kept = 0;

	*out = NULL;
	if (!c)
		return kbp_error_set(KBP_ENOMEM, "out of memory");
	for (size_t i = 0; i < c->n_items; i++) {
		kbp_cart_item *line = &c->items[i];
		if (c->version != in->cart_version) {
			for (size_t k = 0; k < in->n_items; k++)
				if (strcmp(in->items[k].sku, line->sku) == 0)
					line->qty -= in->items[k].qty;
		} else {
			line->qty = 0;
		}
		if (line->qty > 0)
			c->items[kept++] = *line;
		else
			free(line->sku);
	}
	c->n_items = kept;
	c->version++;
	*out = c;
	return 0;
}

void kbp__rule_intent_job(kbp_intent_job_text *t, const char *kind, const char *intent_id)
{
	snprintf(t->payload, sizeof(t->payload), "{\"intent_id\":\"%s\"}", intent_id);
	snprintf(t->unique_key, sizeof(t->unique_key), KBP_JOB_KEY_PREFIX "%s:%s", kind, intent_id);
}

int kbp__rule_needs_reconcile(const kbp_intent_record *in, int64_t created_before)
{
	if (in->reconcile_marked || !in->intent.gateway_ref || in->intent.needs_refund)
		return 0;
	return (in->intent.status == KBP_INTENT_PENDING && in->intent.created_at < created_before) ||
	       in->intent.status == KBP_INTENT_EXPIRED;
}
