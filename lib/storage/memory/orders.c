/* SPDX-License-Identifier: MIT */
#include <stdlib.h>
#include <string.h>

#include "core/objects.h"
#include "storage/memory/memory_internal.h"

static kbp_order *order_build(const mem_intent *in, const char *order_id,
                              const char *order_number, int64_t now)
{
	kbp_order *o = calloc(1, sizeof(*o));
	int ok;

	if (!o)
		return NULL;
	o->id = strdup(order_id);
	o->order_number = strdup(order_number);
	o->intent_id = strdup(in->pub.id);
	o->customer_id = strdup(in->pub.customer_id);
	o->status = strdup("confirmed");
	o->fulfillment_status = strdup("pending");
	o->total_minor = in->pub.amount_minor;
	memcpy(o->currency, in->pub.currency, 4);
	o->created_at = now;
	o->items = calloc(in->pub.n_items, sizeof(*o->items));
	ok = o->id && o->order_number && o->intent_id && o->customer_id && o->status &&
	     o->fulfillment_status && o->items;
	if (o->items)
		o->n_items = in->pub.n_items;
	for (size_t i = 0; ok && i < in->pub.n_items; i++) {
		const kbp_intent_item *it = &in->pub.items[i];
		o->items[i] = (kbp_order_item){ strdup(it->sku), strdup(it->vendor_id), it->qty,
			                        it->unit_price_minor };
		ok = o->items[i].sku && o->items[i].vendor_id;
	}
	if (!ok) {
		kbp_order_free(o);
		return NULL;
	}
	return o;
}

/* The cart keeps what the shopper added after paying; the purchased units leave it. */
static void clear_purchased(mem_store *m, const mem_intent *in)
{
	mem_cart *c = kbp_hmap_get(&m->carts, in->pub.cart_id);
	size_t kept = 0;

	if (!c)
		return;
	for (size_t i = 0; i < c->pub.n_items; i++) {
		kbp_cart_item *line = &c->pub.items[i];
		if (c->pub.version != in->pub.cart_version) {
			for (size_t k = 0; k < in->pub.n_items; k++)
				if (strcmp(in->pub.items[k].sku, line->sku) == 0)
					line->qty -= in->pub.items[k].qty;
		} else {
			line->qty = 0;
		}
		if (line->qty > 0)
			c->pub.items[kept++] = *line;
		else
			free(line->sku);
	}
	c->pub.n_items = kept;
	c->pub.version++;
}

static void commit_sale(mem_store *m, const mem_intent *in)
{
	for (size_t i = 0; i < in->pub.n_items; i++) {
		kbp_product *p = kbp_hmap_get(&m->products, in->pub.items[i].sku);
		p->on_hand -= in->pub.items[i].qty;
		p->reserved -= in->pub.items[i].qty;
	}
}

static int finalize_locked(mem_store *m, const char *intent_id, const char *order_id,
                           const char *order_number, int64_t now, kbp_order **out)
{
	mem_intent *in = kbp_hmap_get(&m->intents, intent_id);
	kbp_order *o;

	if (!in)
		return kbp_error_set(KBP_ENOTFOUND, "intent '%s' does not exist", intent_id);
	if (in->order) {
		if (!(*out = kbp__order_dup(in->order)))
			return kbp_error_set(KBP_ENOMEM, "out of memory");
		return kbp_error_set(KBP_EEXISTS, "intent '%s' already has order %s", intent_id,
		                     in->order->order_number);
	}
	if (in->pub.status != KBP_INTENT_SUCCEEDED)
		return kbp_error_set(KBP_ESTATE, "intent '%s' is %s, not succeeded", intent_id,
		                     kbp_intent_status_name(in->pub.status));
	if (in->pub.n_items == 0)
		return kbp_error_set(KBP_EEMPTY, "intent '%s' has no items: no order is created",
		                     intent_id);
	if (kbp_hmap_get(&m->orders, order_number))
		return kbp_error_set(KBP_ECONFLICT, "order number %s is taken", order_number);
	o = order_build(in, order_id, order_number, now);
	if (!o || kbp_hmap_put(&m->orders, o->order_number, o) != 0 || !(*out = kbp__order_dup(o))) {
		if (o)
			kbp_hmap_del(&m->orders, o->order_number);
		kbp_order_free(o);
		return kbp_error_set(KBP_ENOMEM, "out of memory");
	}
	in->order = o;
	commit_sale(m, in);
	clear_purchased(m, in);
	mem_ring_push(&m->finalize_latency, now - in->paid_at);
	mem_bump_order(m, in->pub.id);
	return 0;
}

int mem_order_finalize(kbp_storage *s, const char *intent_id, const char *order_id,
                       const char *order_number, int64_t now, kbp_order **out)
{
	mem_store *m = mem_of(s);
	int rc;

	pthread_mutex_lock(&m->lock);
	rc = finalize_locked(m, intent_id, order_id, order_number, now, out);
	pthread_mutex_unlock(&m->lock);
	return rc;
}

int mem_order_get(kbp_storage *s, const char *order_number, const char *intent_id,
                  kbp_order **out)
{
	mem_store *m = mem_of(s);
	kbp_order *o = NULL;
	mem_intent *in;
	int rc = 0;

	pthread_mutex_lock(&m->lock);
	if (order_number) {
		o = kbp_hmap_get(&m->orders, order_number);
	} else if ((in = kbp_hmap_get(&m->intents, intent_id))) {
		o = in->order;
	}
	if (!o)
		rc = kbp_error_set(KBP_ENOTFOUND, "no order %s '%s'", order_number ? "numbered" : "for intent",
		                   order_number ? order_number : intent_id);
	else if (!(*out = kbp__order_dup(o)))
		rc = kbp_error_set(KBP_ENOMEM, "out of memory");
	pthread_mutex_unlock(&m->lock);
	return rc;
}

static int facts_locked(mem_store *m, const char *intent_id, kbp_order_facts *f)
{
	mem_intent *in = kbp_hmap_get(&m->intents, intent_id);
	mem_job *j;
	int ok = 1;

	if (!in)
		return kbp_error_set(KBP_ENOTFOUND, "intent '%s' does not exist", intent_id);
	f->intent_status = in->pub.status;
	f->needs_refund = in->pub.needs_refund;
	f->job_state = -1;
	if (in->pub.status_reason)
		ok &= (f->intent_reason = strdup(in->pub.status_reason)) != NULL;
	if (in->order) {
		ok &= (f->order_id = strdup(in->order->id)) != NULL;
		ok &= (f->order_number = strdup(in->order->order_number)) != NULL;
	}
	j = in->finalize_job_id ? kbp_hmap_get(&m->jobs, in->finalize_job_id) : NULL;
	if (j) {
		f->job_state = (int)j->pub.state;
		if (j->pub.last_error)
			ok &= (f->job_error = strdup(j->pub.last_error)) != NULL;
	}
	return ok ? 0 : kbp_error_set(KBP_ENOMEM, "out of memory");
}

int mem_order_facts(kbp_storage *s, const char *intent_id, kbp_order_facts *out)
{
	mem_store *m = mem_of(s);
	int rc;

	pthread_mutex_lock(&m->lock);
	rc = facts_locked(m, intent_id, out);
	pthread_mutex_unlock(&m->lock);
	return rc;
}
