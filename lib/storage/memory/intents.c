/* SPDX-License-Identifier: MIT */
#include <stdlib.h>
#include <string.h>

#include "core/objects.h"
#include "storage/memory/memory_internal.h"
#include "util/strings.h"

void mem_intent_free(mem_intent *in)
{
	if (!in)
		return;
	kbp__intent_clear(&in->pub);
	free(in->success_url);
	free(in->failure_url);
	free(in->ref_key);
	free(in->finalize_job_id);
	kbp_order_free(in->order);
	free(in);
}

static int same_request(const mem_intent *in, const kbp_intent_draft *d)
{
	return strcmp(in->pub.cart_id, d->cart_id) == 0 && strcmp(in->pub.gateway, d->gateway) == 0 &&
	       kbp_str_eq(in->success_url, d->success_url) &&
	       kbp_str_eq(in->failure_url, d->failure_url);
}

/* Every check of DESIGN §4.1b, before anything is reserved. */
static int check_lines(mem_store *m, const mem_cart *c, int64_t *amount, char currency[4])
{
	int64_t total = 0;

	if (c->pub.n_items == 0)
		return kbp_error_set(KBP_EEMPTY, "cart '%s' is empty", c->pub.id);
	for (size_t i = 0; i < c->pub.n_items; i++) {
		const kbp_cart_item *line = &c->pub.items[i];
		kbp_product *p = kbp_hmap_get(&m->products, line->sku);
		int64_t cost;
		if (!p)
			return kbp_error_set(KBP_ENOTFOUND, "product '%s' does not exist", line->sku);
		if (!p->active)
			return kbp_error_set(KBP_EINACTIVE, "product '%s' is not active", line->sku);
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

static int snapshot_items(mem_store *m, const mem_cart *c, kbp_intent *in)
{
	in->items = calloc(c->pub.n_items, sizeof(*in->items));
	if (!in->items)
		return -1;
	in->n_items = c->pub.n_items;
	for (size_t i = 0; i < c->pub.n_items; i++) {
		const kbp_cart_item *line = &c->pub.items[i];
		kbp_product *p = kbp_hmap_get(&m->products, line->sku);
		kbp_intent_item *it = &in->items[i];
		it->sku = strdup(line->sku);
		it->vendor_id = strdup(p->vendor_id);
		it->qty = line->qty;
		it->unit_price_minor = p->price_minor;
		if (!it->sku || !it->vendor_id)
			return -1;
	}
	return 0;
}

static mem_intent *intent_build(mem_store *m, const kbp_intent_draft *d, const mem_cart *c,
                                int64_t amount, const char currency[4], int64_t now)
{
	mem_intent *in = calloc(1, sizeof(*in));
	kbp_intent *pub;

	if (!in)
		return NULL;
	pub = &in->pub;
	pub->id = strdup(d->id);
	pub->cart_id = strdup(d->cart_id);
	pub->customer_id = strdup(c->pub.customer_id);
	pub->gateway = strdup(d->gateway);
	pub->idempotency_key = strdup(d->idempotency_key);
	in->success_url = kbp_strdup0(d->success_url);
	in->failure_url = kbp_strdup0(d->failure_url);
	pub->cart_version = c->pub.version;
	pub->amount_minor = amount;
	memcpy(pub->currency, currency, 4);
	pub->status = KBP_INTENT_PENDING;
	pub->created_at = pub->updated_at = now;
	pub->expires_at = d->expires_at;
	if (!pub->id || !pub->cart_id || !pub->customer_id || !pub->gateway ||
	    !pub->idempotency_key || (d->success_url && !in->success_url) ||
	    (d->failure_url && !in->failure_url) || snapshot_items(m, c, pub) != 0) {
		mem_intent_free(in);
		return NULL;
	}
	return in;
}

static void reserve(mem_store *m, mem_intent *in, int sign)
{
	for (size_t i = 0; i < in->pub.n_items; i++) {
		kbp_product *p = kbp_hmap_get(&m->products, in->pub.items[i].sku);
		p->reserved += sign * in->pub.items[i].qty;
	}
}

void mem_intent_release(mem_store *m, mem_intent *in)
{
	reserve(m, in, -1);
}

int mem_intent_try_reserve(mem_store *m, mem_intent *in)
{
	for (size_t i = 0; i < in->pub.n_items; i++) {
		kbp_product *p = kbp_hmap_get(&m->products, in->pub.items[i].sku);
		if (!p->active || p->on_hand - p->reserved < in->pub.items[i].qty)
			return 0;
	}
	reserve(m, in, 1);
	return 1;
}

static int intent_insert(mem_store *m, mem_intent *in)
{
	if (kbp_hmap_put(&m->intents, in->pub.id, in) != 0)
		return -1;
	if (kbp_hmap_put(&m->intents_by_key, in->pub.idempotency_key, in) != 0) {
		kbp_hmap_del(&m->intents, in->pub.id);
		return -1;
	}
	return 0;
}

static int create_locked(mem_store *m, const kbp_intent_draft *d, int64_t now, kbp_intent **out)
{
	mem_intent *in = kbp_hmap_get(&m->intents_by_key, d->idempotency_key);
	char currency[4] = "";
	int64_t amount = 0;
	mem_cart *c;
	int rc;

	if (in) {
		if (!same_request(in, d))
			return kbp_error_set(KBP_ECONFLICT,
			                     "idempotency key was used with different parameters");
		if (!(*out = kbp__intent_dup(&in->pub)))
			return kbp_error_set(KBP_ENOMEM, "out of memory");
		return kbp_error_set(KBP_EEXISTS, "intent %s already exists for this key", in->pub.id);
	}
	if (!(c = kbp_hmap_get(&m->carts, d->cart_id)))
		return kbp_error_set(KBP_ENOTFOUND, "cart '%s' does not exist", d->cart_id);
	if ((rc = check_lines(m, c, &amount, currency)))
		return rc;
	in = intent_build(m, d, c, amount, currency, now);
	if (!in || intent_insert(m, in) != 0) {
		mem_intent_free(in);
		return kbp_error_set(KBP_ENOMEM, "out of memory");
	}
	if (!(*out = kbp__intent_dup(&in->pub))) {
		kbp_hmap_del(&m->intents, in->pub.id);
		kbp_hmap_del(&m->intents_by_key, in->pub.idempotency_key);
		mem_intent_free(in);
		return kbp_error_set(KBP_ENOMEM, "out of memory");
	}
	reserve(m, in, 1);
	return 0;
}

int mem_intent_create(kbp_storage *s, const kbp_intent_draft *d, int64_t now, kbp_intent **out)
{
	mem_store *m = mem_of(s);
	int rc;

	pthread_mutex_lock(&m->lock);
	rc = create_locked(m, d, now, out);
	pthread_mutex_unlock(&m->lock);
	return rc;
}

int mem_intent_attach(kbp_storage *s, const char *intent_id, const char *gateway_ref,
                      const char *redirect, int64_t now)
{
	mem_store *m = mem_of(s);
	char *key, *ref = strdup(gateway_ref), *redir = kbp_strdup0(redirect);
	mem_intent *in;
	int rc = 0;

	pthread_mutex_lock(&m->lock);
	in = kbp_hmap_get(&m->intents, intent_id);
	key = in ? mem_pair_key(in->pub.gateway, gateway_ref) : NULL;
	if (!in)
		rc = kbp_error_set(KBP_ENOTFOUND, "intent '%s' does not exist", intent_id);
	else if (in->pub.gateway_ref || in->pub.status != KBP_INTENT_PENDING)
		rc = kbp_error_set(KBP_ESTATE, "intent '%s' is already prepared", intent_id);
	else if (!key || !ref || (redirect && !redir))
		rc = kbp_error_set(KBP_ENOMEM, "out of memory");
	else if (kbp_hmap_get(&m->intents_by_ref, key))
		rc = kbp_error_set(KBP_ECONFLICT, "gateway reference is already in use");
	else if (kbp_hmap_put(&m->intents_by_ref, key, in) != 0)
		rc = kbp_error_set(KBP_ENOMEM, "out of memory");
	if (rc == 0) {
		in->pub.gateway_ref = ref;
		in->pub.redirect = redir;
		in->ref_key = key;
		in->pub.updated_at = now;
		ref = redir = key = NULL;
	}
	pthread_mutex_unlock(&m->lock);
	free(key);
	free(ref);
	free(redir);
	return rc;
}

int mem_intent_get(kbp_storage *s, const char *intent_id, kbp_intent **out)
{
	mem_store *m = mem_of(s);
	mem_intent *in;
	int rc = 0;

	pthread_mutex_lock(&m->lock);
	in = kbp_hmap_get(&m->intents, intent_id);
	if (!in)
		rc = kbp_error_set(KBP_ENOTFOUND, "intent '%s' does not exist", intent_id);
	else if (!(*out = kbp__intent_dup(&in->pub)))
		rc = kbp_error_set(KBP_ENOMEM, "out of memory");
	pthread_mutex_unlock(&m->lock);
	return rc;
}

void mem_intent_finish(mem_store *m, mem_intent *in, kbp_intent_status status,
                       const char *reason, int64_t now)
{
	char *copy = kbp_strdup0(reason);

	/* A lost reason string must not stop the state change that releases stock. */
	free(in->pub.status_reason);
	in->pub.status_reason = copy;
	in->pub.status = status;
	in->pub.updated_at = now;
	mem_bump_order(m, in->pub.id);
}

int mem_intent_cancel(kbp_storage *s, const char *intent_id, const char *reason, int64_t now)
{
	mem_store *m = mem_of(s);
	mem_intent *in;
	int rc = 0;

	pthread_mutex_lock(&m->lock);
	in = kbp_hmap_get(&m->intents, intent_id);
	if (!in)
		rc = kbp_error_set(KBP_ENOTFOUND, "intent '%s' does not exist", intent_id);
	else if (in->pub.status != KBP_INTENT_PENDING)
		rc = kbp_error_set(KBP_ESTATE, "intent '%s' is %s, not pending", intent_id,
		                   kbp_intent_status_name(in->pub.status));
	if (rc == 0) {
		mem_intent_release(m, in);
		mem_intent_finish(m, in, KBP_INTENT_CANCELED, reason, now);
	}
	pthread_mutex_unlock(&m->lock);
	return rc;
}

int64_t mem_intents_expire(mem_store *m, int64_t now)
{
	const char *key;
	void *value;
	int64_t n = 0;

	for (size_t pos = 0; kbp_hmap_next(&m->intents, &pos, &key, &value);) {
		mem_intent *in = value;
		if (in->pub.status == KBP_INTENT_PENDING && in->pub.expires_at <= now) {
			mem_intent_release(m, in);
			mem_intent_finish(m, in, KBP_INTENT_EXPIRED, "expired", now);
			n++;
		}
	}
	return n;
}
