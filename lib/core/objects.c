/* SPDX-License-Identifier: MIT */
#include "core/objects.h"

#include <stdlib.h>
#include <string.h>


/* Copies a string member, remembering a failed allocation in *ok. */
static char *dup_str(const char *s, int *ok)
{
	char *d;

	if (!s)
		return NULL;
	d = strdup(s);
	if (!d)
		*ok = 0;
	return d;
}

static void *dup_array(const void *src, size_t n, size_t size, int *ok)
{
	void *d;

	if (n == 0)
		return NULL;
	d = malloc(n * size);
	if (!d) {
		*ok = 0;
		return NULL;
	}
	memcpy(d, src, n * size);
	return d;
}

#define DEFINE_DUP(type, copy_fn, clear_fn)                   \
	type *copy_fn##_dup(const type *src)                  \
	{                                                     \
		type *d = calloc(1, sizeof(*d));              \
		if (!d)                                       \
			return NULL;                          \
		if (copy_fn##_copy(d, src) != 0) {            \
			clear_fn(d);                          \
			free(d);                              \
			return NULL;                          \
		}                                             \
		return d;                                     \
	}

static int kbp__vendor_copy(kbp_vendor *d, const kbp_vendor *s)
{
	int ok = 1;

	d->id = dup_str(s->id, &ok);
	d->name = dup_str(s->name, &ok);
	return ok ? 0 : -1;
}

static int kbp__product_copy(kbp_product *d, const kbp_product *s)
{
	int ok = 1;

	*d = *s;
	d->id = dup_str(s->id, &ok);
	d->vendor_id = dup_str(s->vendor_id, &ok);
	d->name = dup_str(s->name, &ok);
	return ok ? 0 : -1;
}

static int kbp__cart_copy(kbp_cart *d, const kbp_cart *s)
{
	int ok = 1;

	*d = *s;
	d->id = dup_str(s->id, &ok);
	d->customer_id = dup_str(s->customer_id, &ok);
	d->items = dup_array(s->items, s->n_items, sizeof(*s->items), &ok);
	if (!d->items)
		d->n_items = 0;
	for (size_t i = 0; i < d->n_items; i++)
		d->items[i].sku = dup_str(s->items[i].sku, &ok);
	return ok ? 0 : -1;
}

static int kbp__intent_copy(kbp_intent *d, const kbp_intent *s)
{
	int ok = 1;

	*d = *s;
	d->id = dup_str(s->id, &ok);
	d->cart_id = dup_str(s->cart_id, &ok);
	d->customer_id = dup_str(s->customer_id, &ok);
	d->gateway = dup_str(s->gateway, &ok);
	d->gateway_ref = dup_str(s->gateway_ref, &ok);
	d->redirect = dup_str(s->redirect, &ok);
	d->idempotency_key = dup_str(s->idempotency_key, &ok);
	d->status_reason = dup_str(s->status_reason, &ok);
	d->items = dup_array(s->items, s->n_items, sizeof(*s->items), &ok);
	if (!d->items)
		d->n_items = 0;
	for (size_t i = 0; i < d->n_items; i++) {
		d->items[i].sku = dup_str(s->items[i].sku, &ok);
		d->items[i].vendor_id = dup_str(s->items[i].vendor_id, &ok);
	}
	return ok ? 0 : -1;
}

int kbp__job_copy(kbp_job *d, const kbp_job *s)
{
	int ok = 1;

	*d = *s;
	d->id = dup_str(s->id, &ok);
	d->kind = dup_str(s->kind, &ok);
	d->payload = dup_str(s->payload, &ok);
	d->locked_by = dup_str(s->locked_by, &ok);
	d->unique_key = dup_str(s->unique_key, &ok);
	d->last_error = dup_str(s->last_error, &ok);
	d->errors = dup_array(s->errors, s->n_errors, sizeof(*s->errors), &ok);
	if (!d->errors)
		d->n_errors = 0;
	for (size_t i = 0; i < d->n_errors; i++)
		d->errors[i].message = dup_str(s->errors[i].message, &ok);
	return ok ? 0 : -1;
}

static int kbp__order_copy(kbp_order *d, const kbp_order *s)
{
	int ok = 1;

	*d = *s;
	d->id = dup_str(s->id, &ok);
	d->order_number = dup_str(s->order_number, &ok);
	d->intent_id = dup_str(s->intent_id, &ok);
	d->customer_id = dup_str(s->customer_id, &ok);
	d->status = dup_str(s->status, &ok);
	d->fulfillment_status = dup_str(s->fulfillment_status, &ok);
	d->items = dup_array(s->items, s->n_items, sizeof(*s->items), &ok);
	if (!d->items)
		d->n_items = 0;
	for (size_t i = 0; i < d->n_items; i++) {
		d->items[i].sku = dup_str(s->items[i].sku, &ok);
		d->items[i].vendor_id = dup_str(s->items[i].vendor_id, &ok);
	}
	return ok ? 0 : -1;
}

int kbp__verification_copy(kbp_verification *d, const kbp_verification *s)
{
	int ok = 1;

	*d = *s;
	d->id = dup_str(s->id, &ok);
	d->gateway = dup_str(s->gateway, &ok);
	d->gateway_ref = dup_str(s->gateway_ref, &ok);
	d->external_txn_id = dup_str(s->external_txn_id, &ok);
	d->intent_id = dup_str(s->intent_id, &ok);
	d->reason = dup_str(s->reason, &ok);
	return ok ? 0 : -1;
}

DEFINE_DUP(kbp_vendor, kbp__vendor, kbp__vendor_clear)
DEFINE_DUP(kbp_product, kbp__product, kbp__product_clear)
DEFINE_DUP(kbp_cart, kbp__cart, kbp__cart_clear)
DEFINE_DUP(kbp_intent, kbp__intent, kbp__intent_clear)
DEFINE_DUP(kbp_job, kbp__job, kbp__job_clear)
DEFINE_DUP(kbp_order, kbp__order, kbp__order_clear)
DEFINE_DUP(kbp_verification, kbp__verification, kbp__verification_clear)

void kbp__vendor_clear(kbp_vendor *v)
{
	free(v->id);
	free(v->name);
}

void kbp__product_clear(kbp_product *p)
{
	free(p->id);
	free(p->vendor_id);
	free(p->name);
}

void kbp__cart_clear(kbp_cart *c)
{
	for (size_t i = 0; i < c->n_items; i++)
		free(c->items[i].sku);
	free(c->items);
	free(c->id);
	free(c->customer_id);
}

void kbp__intent_clear(kbp_intent *in)
{
	for (size_t i = 0; i < in->n_items; i++) {
		free(in->items[i].sku);
		free(in->items[i].vendor_id);
	}
	free(in->items);
	free(in->id);
	free(in->cart_id);
	free(in->customer_id);
	free(in->gateway);
	free(in->gateway_ref);
	free(in->redirect);
	free(in->idempotency_key);
	free(in->status_reason);
}

void kbp__job_clear(kbp_job *j)
{
	for (size_t i = 0; i < j->n_errors; i++)
		free(j->errors[i].message);
	free(j->errors);
	free(j->id);
	free(j->kind);
	free(j->payload);
	free(j->locked_by);
	free(j->unique_key);
	free(j->last_error);
}

void kbp__order_clear(kbp_order *o)
{
	for (size_t i = 0; i < o->n_items; i++) {
		free(o->items[i].sku);
		free(o->items[i].vendor_id);
	}
	free(o->items);
	free(o->id);
	free(o->order_number);
	free(o->intent_id);
	free(o->customer_id);
	free(o->status);
	free(o->fulfillment_status);
}

void kbp__verification_clear(kbp_verification *v)
{
	free(v->id);
	free(v->gateway);
	free(v->gateway_ref);
	free(v->external_txn_id);
	free(v->intent_id);
	free(v->reason);
}

void kbp__order_facts_clear(kbp_order_facts *f)
{
	free(f->intent_reason);
	free(f->order_id);
	free(f->order_number);
	free(f->job_error);
}

void kbp__prepared_clear(kbp_prepared *p)
{
	free(p->gateway_ref);
	free(p->redirect);
}

void kbp__claim_clear(kbp_callback_claim *c)
{
	free(c->gateway_ref);
	free(c->external_txn_id);
}

void kbp__lookup_clear(kbp_lookup_result *r)
{
	free(r->external_txn_id);
}

#define DEFINE_FREE(name, type, clear_fn) \
	void name(type *obj)              \
	{                                 \
		if (!obj)                 \
			return;           \
		clear_fn(obj);            \
		free(obj);                \
	}

DEFINE_FREE(kbp_vendor_free, kbp_vendor, kbp__vendor_clear)
DEFINE_FREE(kbp_product_free, kbp_product, kbp__product_clear)
DEFINE_FREE(kbp_cart_free, kbp_cart, kbp__cart_clear)
DEFINE_FREE(kbp_intent_free, kbp_intent, kbp__intent_clear)
DEFINE_FREE(kbp_job_free, kbp_job, kbp__job_clear)
DEFINE_FREE(kbp_order_free, kbp_order, kbp__order_clear)
DEFINE_FREE(kbp_verification_free, kbp_verification, kbp__verification_clear)

void kbp_order_status_free(kbp_order_status *s)
{
	if (!s)
		return;
	free(s->intent_id);
	free(s->order_id);
	free(s->order_number);
	free(s->reason);
	free(s);
}

void kbp_verification_list_free(kbp_verification_list *list)
{
	if (!list)
		return;
	for (size_t i = 0; i < list->n; i++)
		kbp__verification_clear(&list->items[i]);
	free(list->items);
	free(list);
}

void kbp_job_list_free(kbp_job_list *list)
{
	if (!list)
		return;
	for (size_t i = 0; i < list->n; i++)
		kbp__job_clear(&list->jobs[i]);
	free(list->jobs);
	free(list->next_after);
	free(list);
}

void kbp_health_free(kbp_health *h)
{
	if (!h)
		return;
	for (size_t i = 0; i < h->n_findings; i++) {
		free(h->findings[i].check);
		free(h->findings[i].message);
	}
	free(h->findings);
	free(h);
}
