/* SPDX-License-Identifier: MIT */
#include <stdlib.h>
#include <string.h>

#include "core/objects.h"
#include "storage/postgres/pg_internal.h"

char *js_str(const cJSON *o, const char *name, int *ok)
{
	const cJSON *v = cJSON_GetObjectItemCaseSensitive(o, name);
	char *copy;

	if (!cJSON_IsString(v))
		return NULL;
	if (!(copy = strdup(v->valuestring)))
		*ok = 0;
	return copy;
}

int64_t js_i64(const cJSON *o, const char *name)
{
	const cJSON *v = cJSON_GetObjectItemCaseSensitive(o, name);

	/* JSON numbers are doubles: exact for every value below 2^53, which ids, money and ms are. */
	return cJSON_IsNumber(v) ? (int64_t)v->valuedouble : 0;
}

int js_bool(const cJSON *o, const char *name)
{
	return cJSON_IsTrue(cJSON_GetObjectItemCaseSensitive(o, name));
}

static void js_currency(char out[4], const cJSON *o, const char *name)
{
	const cJSON *v = cJSON_GetObjectItemCaseSensitive(o, name);

	memset(out, 0, 4);
	if (cJSON_IsString(v))
		strncpy(out, v->valuestring, 3);
}

kbp_vendor *js_vendor(const cJSON *o)
{
	kbp_vendor *v = calloc(1, sizeof(*v));
	int ok = 1;

	if (!v)
		return NULL;
	v->id = js_str(o, "id", &ok);
	v->name = js_str(o, "name", &ok);
	if (!ok) {
		kbp_vendor_free(v);
		return NULL;
	}
	return v;
}

kbp_product *js_product(const cJSON *o)
{
	kbp_product *p = calloc(1, sizeof(*p));
	int ok = 1;

	if (!p)
		return NULL;
	p->id = js_str(o, "id", &ok);
	p->vendor_id = js_str(o, "vendor_id", &ok);
	p->name = js_str(o, "name", &ok);
	p->price_minor = js_i64(o, "price_minor");
	js_currency(p->currency, o, "currency");
	p->on_hand = js_i64(o, "on_hand");
	p->reserved = js_i64(o, "reserved");
	p->available = p->on_hand - p->reserved;
	p->active = js_bool(o, "active");
	if (!ok) {
		kbp_product_free(p);
		return NULL;
	}
	return p;
}

/* Allocates an array for a JSON array's elements; *n is its length. */
static void *js_array(const cJSON *o, const char *name, size_t size, size_t *n, int *ok)
{
	const cJSON *a = cJSON_GetObjectItemCaseSensitive(o, name);
	void *items;

	*n = 0;
	if (!cJSON_IsArray(a) || cJSON_GetArraySize(a) == 0)
		return NULL;
	if (!(items = calloc((size_t)cJSON_GetArraySize(a), size))) {
		*ok = 0;
		return NULL;
	}
	*n = (size_t)cJSON_GetArraySize(a);
	return items;
}

kbp_cart *js_cart(const cJSON *o)
{
	kbp_cart *c = calloc(1, sizeof(*c));
	const cJSON *item;
	size_t i = 0;
	int ok = 1;

	if (!c)
		return NULL;
	c->id = js_str(o, "id", &ok);
	c->customer_id = js_str(o, "customer_id", &ok);
	c->version = js_i64(o, "version");
	c->items = js_array(o, "items", sizeof(*c->items), &c->n_items, &ok);
	cJSON_ArrayForEach(item, cJSON_GetObjectItemCaseSensitive(o, "items")) {
		if (i == c->n_items)
			break;
		c->items[i].sku = js_str(item, "sku", &ok);
		c->items[i++].qty = js_i64(item, "qty");
	}
	if (!ok) {
		kbp_cart_free(c);
		return NULL;
	}
	return c;
}

kbp_intent *js_intent(const cJSON *o)
{
	kbp_intent *in = calloc(1, sizeof(*in));
	const cJSON *item;
	size_t i = 0;
	int ok = 1;

	if (!in)
		return NULL;
	in->id = js_str(o, "id", &ok);
	in->cart_id = js_str(o, "cart_id", &ok);
	in->customer_id = js_str(o, "customer_id", &ok);
	in->cart_version = js_i64(o, "cart_version");
	in->items = js_array(o, "items", sizeof(*in->items), &in->n_items, &ok);
	cJSON_ArrayForEach(item, cJSON_GetObjectItemCaseSensitive(o, "items")) {
		if (i == in->n_items)
			break;
		in->items[i].sku = js_str(item, "sku", &ok);
		in->items[i].vendor_id = js_str(item, "vendor_id", &ok);
		in->items[i].qty = js_i64(item, "qty");
		in->items[i++].unit_price_minor = js_i64(item, "unit_price_minor");
	}
	in->amount_minor = js_i64(o, "amount_minor");
	js_currency(in->currency, o, "currency");
	in->gateway = js_str(o, "gateway", &ok);
	in->gateway_ref = js_str(o, "gateway_ref", &ok);
	in->redirect = js_str(o, "redirect", &ok);
	in->idempotency_key = js_str(o, "idempotency_key", &ok);
	in->status = (kbp_intent_status)js_i64(o, "status");
	in->status_reason = js_str(o, "status_reason", &ok);
	in->needs_refund = js_bool(o, "needs_refund");
	in->created_at = js_i64(o, "created_at");
	in->expires_at = js_i64(o, "expires_at");
	in->updated_at = js_i64(o, "updated_at");
	if (!ok) {
		kbp_intent_free(in);
		return NULL;
	}
	return in;
}

int js_verification_fill(kbp_verification *v, const cJSON *o)
{
	int ok = 1;

	v->id = js_str(o, "id", &ok);
	v->gateway = js_str(o, "gateway", &ok);
	v->gateway_ref = js_str(o, "gateway_ref", &ok);
	v->external_txn_id = js_str(o, "external_txn_id", &ok);
	v->intent_id = js_str(o, "intent_id", &ok);
	v->amount_minor = js_i64(o, "amount_minor");
	v->outcome = (kbp_verification_outcome)js_i64(o, "outcome");
	v->reason = js_str(o, "reason", &ok);
	v->duplicate = js_bool(o, "duplicate");
	v->intent_status = (kbp_intent_status)js_i64(o, "intent_status");
	v->needs_refund = js_bool(o, "needs_refund");
	v->at = js_i64(o, "at");
	return ok ? 0 : -1;
}

kbp_verification *js_verification(const cJSON *o)
{
	kbp_verification *v = calloc(1, sizeof(*v));

	if (v && js_verification_fill(v, o) != 0) {
		kbp_verification_free(v);
		return NULL;
	}
	return v;
}

kbp_order *js_order(const cJSON *o)
{
	kbp_order *ord = calloc(1, sizeof(*ord));
	const cJSON *item;
	size_t i = 0;
	int ok = 1;

	if (!ord)
		return NULL;
	ord->id = js_str(o, "id", &ok);
	ord->order_number = js_str(o, "order_number", &ok);
	ord->intent_id = js_str(o, "intent_id", &ok);
	ord->customer_id = js_str(o, "customer_id", &ok);
	ord->total_minor = js_i64(o, "total_minor");
	js_currency(ord->currency, o, "currency");
	ord->status = js_str(o, "status", &ok);
	ord->fulfillment_status = js_str(o, "fulfillment_status", &ok);
	ord->created_at = js_i64(o, "created_at");
	ord->items = js_array(o, "items", sizeof(*ord->items), &ord->n_items, &ok);
	cJSON_ArrayForEach(item, cJSON_GetObjectItemCaseSensitive(o, "items")) {
		if (i == ord->n_items)
			break;
		ord->items[i].sku = js_str(item, "sku", &ok);
		ord->items[i].vendor_id = js_str(item, "vendor_id", &ok);
		ord->items[i].qty = js_i64(item, "qty");
		ord->items[i++].unit_price_minor = js_i64(item, "unit_price_minor");
	}
	if (!ok) {
		kbp_order_free(ord);
		return NULL;
	}
	return ord;
}

/* The payload is stored as jsonb; it may arrive as an object or as its text. */
static char *js_payload(const cJSON *o, int *ok)
{
	const cJSON *v = cJSON_GetObjectItemCaseSensitive(o, "payload");
	char *text;

	if (cJSON_IsString(v))
		return js_str(o, "payload", ok);
	if (!v || !(text = cJSON_PrintUnformatted(v))) {
		*ok = 0;
		return NULL;
	}
	return text;
}

int js_job_fill(kbp_job *j, const cJSON *o)
{
	const cJSON *item;
	size_t i = 0;
	int ok = 1;

	j->id = js_str(o, "id", &ok);
	j->kind = js_str(o, "kind", &ok);
	j->payload = js_payload(o, &ok);
	j->state = (kbp_job_state)js_i64(o, "state");
	j->priority = (int)js_i64(o, "priority");
	j->attempts = (int)js_i64(o, "attempts");
	j->max_attempts = (int)js_i64(o, "max_attempts");
	j->run_at = js_i64(o, "run_at");
	j->lease_until = js_i64(o, "lease_until");
	j->locked_by = js_str(o, "locked_by", &ok);
	j->unique_key = js_str(o, "unique_key", &ok);
	j->last_error = js_str(o, "last_error", &ok);
	j->errors = js_array(o, "errors", sizeof(*j->errors), &j->n_errors, &ok);
	cJSON_ArrayForEach(item, cJSON_GetObjectItemCaseSensitive(o, "errors")) {
		if (i == j->n_errors)
			break;
		j->errors[i].attempt = (int)js_i64(item, "attempt");
		j->errors[i].at = js_i64(item, "at");
		j->errors[i++].message = js_str(item, "message", &ok);
	}
	j->created_at = js_i64(o, "created_at");
	j->updated_at = js_i64(o, "updated_at");
	j->finished_at = js_i64(o, "finished_at");
	return ok ? 0 : -1;
}

kbp_job *js_job(const cJSON *o)
{
	kbp_job *j = calloc(1, sizeof(*j));

	if (j && js_job_fill(j, o) != 0) {
		kbp_job_free(j);
		return NULL;
	}
	return j;
}

kbp_job_list *js_job_list(const cJSON *array, const cJSON *next_after)
{
	kbp_job_list *list = calloc(1, sizeof(*list));
	const cJSON *item;

	if (!list)
		return NULL;
	if (cJSON_GetArraySize(array) > 0 &&
	    !(list->jobs = calloc((size_t)cJSON_GetArraySize(array), sizeof(*list->jobs)))) {
		free(list);
		return NULL;
	}
	cJSON_ArrayForEach(item, array) {
		if (js_job_fill(&list->jobs[list->n++], item) != 0) {
			kbp_job_list_free(list);
			return NULL;
		}
	}
	if (cJSON_IsString(next_after) && !(list->next_after = strdup(next_after->valuestring))) {
		kbp_job_list_free(list);
		return NULL;
	}
	return list;
}

int js_order_facts(kbp_order_facts *f, const cJSON *o)
{
	int ok = 1;

	f->intent_status = (kbp_intent_status)js_i64(o, "intent_status");
	f->intent_reason = js_str(o, "intent_reason", &ok);
	f->needs_refund = js_bool(o, "needs_refund");
	f->order_id = js_str(o, "order_id", &ok);
	f->order_number = js_str(o, "order_number", &ok);
	f->job_state = cJSON_IsNumber(cJSON_GetObjectItemCaseSensitive(o, "job_state"))
	                       ? (int)js_i64(o, "job_state")
	                       : -1;
	f->job_error = js_str(o, "job_error", &ok);
	return ok ? 0 : -1;
}

static void js_counts(int64_t *out, int n, const cJSON *o, const char *name)
{
	const cJSON *item;
	int i = 0;

	cJSON_ArrayForEach(item, cJSON_GetObjectItemCaseSensitive(o, name)) {
		if (i < n && cJSON_IsNumber(item))
			out[i] = (int64_t)item->valuedouble;
		i++;
	}
}

void js_metrics(kbp_metrics *m, const cJSON *o)
{
	memset(m, 0, sizeof(*m));
	js_counts(m->jobs, KBP_JOB_STATE_COUNT, o, "jobs");
	js_counts(m->intents, KBP_INTENT_STATUS_COUNT, o, "intents");
	m->jobs_stuck = js_i64(o, "jobs_stuck");
	m->jobs_failed_last_hour = js_i64(o, "jobs_failed_last_hour");
	m->oldest_available_age_ms = js_i64(o, "oldest_available_age_ms");
	m->jobs_rescued_last_hour = js_i64(o, "jobs_rescued_last_hour");
	m->orders = js_i64(o, "orders");
	m->orders_without_items = js_i64(o, "orders_without_items");
	m->paid_intents_without_order = js_i64(o, "paid_intents_without_order");
	m->needs_refund = js_i64(o, "needs_refund");
	m->verifications_rejected = js_i64(o, "verifications_rejected");
	m->finalize_p50_ms = js_i64(o, "finalize_p50_ms");
	m->finalize_p95_ms = js_i64(o, "finalize_p95_ms");
	m->finalize_p99_ms = js_i64(o, "finalize_p99_ms");
	m->paid_intents_without_order_late = js_i64(o, "paid_intents_without_order_late");
	m->paid_without_order_oldest_ms = js_i64(o, "paid_without_order_oldest_ms");
}
