/* SPDX-License-Identifier: MIT */
/*
 * Writes a step's changes under the store's lock. Every unique record and
 * every allocation is checked before the first record changes, so that a
 * step is written whole or not at all.
 */
#include <stdlib.h>
#include <string.h>

#include "core/objects.h"
#include "core/records.h"
#include "storage/memory/memory_internal.h"
#include "util/strings.h"

static int conflict(const char *what)
{
	return kbp_error_set(KBP_ECONFLICT, "%s is already in use", what);
}

static int ref_taken(mem_store *m, const kbp_intent_record *r, const mem_intent *self)
{
	const kbp_intent *in = &r->intent;
	mem_intent *holder;
	char *key;

	if (!in->gateway_ref)
		return 0;
	if (!(key = mem_pair_key(in->gateway, in->gateway_ref)))
		return -1;
	holder = kbp_hmap_get(&m->intents_by_ref, key);
	free(key);
	return holder && holder != self;
}

static int check_intents(mem_store *m, const kbp_changes *c)
{
	for (size_t i = 0; i < c->n_intents; i++) {
		const kbp_intent_write *w = &c->intents[i];
		mem_intent *self = kbp_hmap_get(&m->intents, w->record->intent.id);
		if (w->is_new && (self || kbp_hmap_get(&m->intents_by_key, w->record->intent.idempotency_key)))
			return conflict("the intent's id or idempotency key");
		if (!w->is_new && !self)
			return kbp_error_set(KBP_ENOTFOUND, "intent '%s' does not exist",
			                     w->record->intent.id);
		if (ref_taken(m, w->record, self))
			return conflict("the gateway reference");
	}
	return 0;
}

static int check(mem_store *m, const kbp_changes *c)
{
	int rc = check_intents(m, c);

	if (rc)
		return rc;
	if (c->order && kbp_hmap_get(&m->orders, c->order->order_number))
		return conflict("the order number");
	if (c->order && !kbp_hmap_get(&m->intents, c->order->intent_id))
		return kbp_error_set(KBP_ENOTFOUND, "intent '%s' does not exist", c->order->intent_id);
	for (size_t i = 0; i < c->n_stock; i++)
		if (!kbp_hmap_get(&m->products, c->stock[i].sku))
			return kbp_error_set(KBP_ENOTFOUND, "product '%s' does not exist", c->stock[i].sku);
	for (size_t i = 0; i < c->n_job_writes; i++)
		if ((rc = mem_job_write_check(m, &c->job_writes[i])))
			return rc;
	return 0;
}

static int index_ref(mem_store *m, mem_intent *in)
{
	const kbp_intent *pub = &in->rec.intent;

	if (!pub->gateway_ref || in->ref_key)
		return 0;
	if (!(in->ref_key = mem_pair_key(pub->gateway, pub->gateway_ref)))
		return -1;
	return kbp_hmap_put(&m->intents_by_ref, in->ref_key, in);
}

static int insert_intent(mem_store *m, const kbp_intent_record *r)
{
	mem_intent *in = calloc(1, sizeof(*in));

	if (!in || kbp__intent_record_copy(&in->rec, r) != 0) {
		free(in);
		return -1;
	}
	if (kbp_hmap_put(&m->intents, in->rec.intent.id, in) != 0) {
		mem_intent_free(in);
		return -1;
	}
	if (kbp_hmap_put(&m->intents_by_key, in->rec.intent.idempotency_key, in) != 0) {
		kbp_hmap_del(&m->intents, in->rec.intent.id);
		mem_intent_free(in);
		return -1;
	}
	return index_ref(m, in);
}

static void swap_str(char **dst, char **src)
{
	char *old = *dst;

	*dst = *src;
	*src = old;
}

/* An intent's identity and snapshot never change; its state does. */
static int update_intent(mem_store *m, const kbp_intent_record *r)
{
	mem_intent *in = kbp_hmap_get(&m->intents, r->intent.id);
	kbp_intent_record copy;

	if (kbp__intent_record_copy(&copy, r) != 0)
		return -1;
	swap_str(&in->rec.intent.gateway_ref, &copy.intent.gateway_ref);
	swap_str(&in->rec.intent.redirect, &copy.intent.redirect);
	swap_str(&in->rec.intent.status_reason, &copy.intent.status_reason);
	swap_str(&in->rec.finalize_job_id, &copy.finalize_job_id);
	in->rec.intent.status = r->intent.status;
	in->rec.intent.needs_refund = r->intent.needs_refund;
	in->rec.intent.updated_at = r->intent.updated_at;
	in->rec.paid_at = r->paid_at;
	in->rec.reconcile_marked = r->reconcile_marked;
	kbp__intent_record_clear(&copy);
	return index_ref(m, in);
}

static int write_intents(mem_store *m, const kbp_changes *c)
{
	for (size_t i = 0; i < c->n_intents; i++) {
		const kbp_intent_write *w = &c->intents[i];
		if ((w->is_new ? insert_intent(m, w->record) : update_intent(m, w->record)) != 0)
			return -1;
		mem_bump_order(m, w->record->intent.id);
	}
	return 0;
}

static void write_stock(mem_store *m, const kbp_changes *c)
{
	for (size_t i = 0; i < c->n_stock; i++) {
		kbp_product *p = kbp_hmap_get(&m->products, c->stock[i].sku);
		p->on_hand += c->stock[i].on_hand;
		p->reserved += c->stock[i].reserved;
	}
}

static int write_cart(mem_store *m, const kbp_cart *src)
{
	mem_cart *c = kbp_hmap_get(&m->carts, src->id);
	kbp_cart *copy = kbp__cart_dup(src);

	if (!copy)
		return -1;
	if (!c) {
		if (!(c = calloc(1, sizeof(*c))) || (c->pub = *copy, kbp_hmap_put(&m->carts, c->pub.id, c)) != 0) {
			kbp_cart_free(copy);
			free(c);
			return -1;
		}
		c->cap = c->pub.n_items;
		free(copy);
		return 0;
	}
	/* The map's key is the cart's own id string: it stays, the lines change. */
	for (size_t i = 0; i < c->pub.n_items; i++)
		free(c->pub.items[i].sku);
	free(c->pub.items);
	c->pub.items = copy->items;
	c->pub.n_items = copy->n_items;
	c->cap = copy->n_items;
	c->pub.version = copy->version;
	copy->items = NULL;
	copy->n_items = 0;
	kbp_cart_free(copy);
	return 0;
}

static int write_order(mem_store *m, const kbp_order *src)
{
	mem_intent *in = kbp_hmap_get(&m->intents, src->intent_id);
	kbp_order *o = kbp__order_dup(src);

	if (!o || kbp_hmap_put(&m->orders, o->order_number, o) != 0) {
		kbp_order_free(o);
		return -1;
	}
	in->order = o;
	mem_ring_push(&m->finalize_latency, o->created_at - in->rec.paid_at);
	mem_bump_order(m, in->rec.intent.id);
	return 0;
}

static int write_jobs(mem_store *m, const kbp_changes *c)
{
	mem_job *j;

	for (size_t i = 0; i < c->n_jobs; i++) {
		const kbp_job_draft *d = &c->jobs[i];
		if (d->unique_key && kbp_hmap_get(&m->live_unique, d->unique_key))
			continue;
		if (mem_job_insert(m, d, c->now, &j) != 0)
			return -1;
	}
	for (size_t i = 0; i < c->n_job_writes; i++)
		if (mem_job_write(m, &c->job_writes[i], c->now) != 0)
			return -1;
	return 0;
}

int mem_changes_apply(kbp_storage *s, kbp_txn *t, const kbp_changes *c)
{
	mem_store *m = mem_of(s);
	int rc = check(m, c);

	(void)t;
	if (rc)
		return rc;
	if (write_intents(m, c) != 0 || (c->cart && write_cart(m, c->cart) != 0) ||
	    (c->order && write_order(m, c->order) != 0) || write_jobs(m, c) != 0 ||
	    (c->verification && mem_verification_append(m, c->verification) != 0))
		return kbp_error_set(KBP_ENOMEM, "out of memory");
	write_stock(m, c);
	return 0;
}
