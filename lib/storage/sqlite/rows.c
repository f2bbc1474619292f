/* SPDX-License-Identifier: MIT */
#include <cjson/cJSON.h>
#include <stdlib.h>
#include <string.h>

#include "core/objects.h"
#include "core/records.h"
#include "storage/sqlite/sq_internal.h"

static int oom(void)
{
	return kbp_error_set(KBP_ENOMEM, "out of memory");
}

/* Lines of an intent or an order, in their order. */
static int items_load(sq_conn *c, const char *sql, const char *owner, kbp_intent_item **items,
                      size_t *n)
{
	sqlite3_stmt *st = sq_stmt(c, sql, "t", owner);
	size_t cap = 0;
	int rc, ok = 1;

	if (!st)
		return kbp_error_last()->code;
	while ((rc = sq_next(c, st)) == 1) {
		if (*n == cap) {
			kbp_intent_item *grown = realloc(*items, (cap ? cap * 2 : 4) * sizeof(*grown));
			if (!grown) {
				sqlite3_reset(st);
				return oom();
			}
			*items = grown;
			cap = cap ? cap * 2 : 4;
		}
		(*items)[*n] = (kbp_intent_item){ sq_dup(st, 0, &ok), sq_dup(st, 1, &ok),
			                          sqlite3_column_int64(st, 2),
			                          sqlite3_column_int64(st, 3) };
		(*n)++;
	}
	return rc ? rc : ok ? 0 : oom();
}

static void intent_columns(sqlite3_stmt *st, kbp_intent_record *r, int *ok)
{
	kbp_intent *in = &r->intent;

	in->id = sq_dup(st, 0, ok);
	in->cart_id = sq_dup(st, 1, ok);
	in->customer_id = sq_dup(st, 2, ok);
	in->cart_version = sqlite3_column_int64(st, 3);
	in->amount_minor = sqlite3_column_int64(st, 4);
	sq_currency(in->currency, st, 5);
	in->gateway = sq_dup(st, 6, ok);
	in->gateway_ref = sq_dup(st, 7, ok);
	in->redirect = sq_dup(st, 8, ok);
	in->idempotency_key = sq_dup(st, 9, ok);
	in->status = (kbp_intent_status)sqlite3_column_int(st, 10);
	in->status_reason = sq_dup(st, 11, ok);
	in->needs_refund = sqlite3_column_int(st, 12);
	in->created_at = sqlite3_column_int64(st, 13);
	in->expires_at = sqlite3_column_int64(st, 14);
	in->updated_at = sqlite3_column_int64(st, 15);
	r->success_url = sq_dup(st, 16, ok);
	r->failure_url = sq_dup(st, 17, ok);
	r->paid_at = sqlite3_column_int64(st, 18);
	r->finalize_job_id = sq_dup(st, 19, ok);
	r->reconcile_marked = sqlite3_column_int(st, 20);
}

int sq_intent_fill(sq_conn *c, sqlite3_stmt *st, kbp_intent_record *r)
{
	int ok = 1, rc;

	intent_columns(st, r, &ok);
	if (!ok)
		return oom();
	rc = items_load(c,
	                "SELECT sku, vendor_id, qty, unit_price_minor FROM intent_items "
	                "WHERE intent_id = ? ORDER BY pos",
	                r->intent.id, &r->intent.items, &r->intent.n_items);
	return rc;
}

int sq_intent_read(sq_conn *c, sqlite3_stmt *st, kbp_intent_record **out)
{
	kbp_intent_record *r = calloc(1, sizeof(*r));
	int rc;

	if (!r)
		return oom();
	if ((rc = sq_intent_fill(c, st, r))) {
		kbp__intent_record_free(r);
		return rc;
	}
	*out = r;
	return 0;
}

static const char *const order_by_number =
	"SELECT id, order_number, intent_id, customer_id, total_minor, currency, status, "
	"fulfillment_status, created_at FROM orders WHERE order_number = ?";
static const char *const order_by_intent =
	"SELECT id, order_number, intent_id, customer_id, total_minor, currency, status, "
	"fulfillment_status, created_at FROM orders WHERE intent_id = ?";

static int order_columns(sqlite3_stmt *st, kbp_order *o)
{
	int ok = 1;

	o->id = sq_dup(st, 0, &ok);
	o->order_number = sq_dup(st, 1, &ok);
	o->intent_id = sq_dup(st, 2, &ok);
	o->customer_id = sq_dup(st, 3, &ok);
	o->total_minor = sqlite3_column_int64(st, 4);
	sq_currency(o->currency, st, 5);
	o->status = sq_dup(st, 6, &ok);
	o->fulfillment_status = sq_dup(st, 7, &ok);
	o->created_at = sqlite3_column_int64(st, 8);
	sqlite3_reset(st);
	return ok ? 0 : oom();
}

/* *out stays NULL when there is no such order. */
int sq_order_load(sq_conn *c, const char *by_number, const char *by_intent, kbp_order **out)
{
	sqlite3_stmt *st = by_number ? sq_stmt(c, order_by_number, "t", by_number)
	                             : sq_stmt(c, order_by_intent, "t", by_intent);
	kbp_order *o;
	int rc;

	*out = NULL;
	if (!st)
		return kbp_error_last()->code;
	if ((rc = sq_next(c, st)) != 1)
		return rc;
	if (!(o = calloc(1, sizeof(*o)))) {
		sqlite3_reset(st);
		return oom();
	}
	if ((rc = order_columns(st, o)) == 0)
		rc = items_load(c,
		                "SELECT sku, vendor_id, qty, unit_price_minor FROM order_items "
		                "WHERE order_id = ? ORDER BY pos",
		                o->id, &o->items, &o->n_items);
	if (rc) {
		kbp_order_free(o);
		return rc;
	}
	*out = o;
	return 0;
}

static int cart_lines(sq_conn *c, kbp_cart *cart)
{
	sqlite3_stmt *st = sq_stmt(c, "SELECT sku, qty FROM cart_items WHERE cart_id = ? ORDER BY pos",
	                           "t", cart->id);
	size_t cap = 0;
	int rc, ok = 1;

	if (!st)
		return kbp_error_last()->code;
	while ((rc = sq_next(c, st)) == 1) {
		if (cart->n_items == cap) {
			kbp_cart_item *grown = realloc(cart->items, (cap ? cap * 2 : 8) * sizeof(*grown));
			if (!grown) {
				sqlite3_reset(st);
				return oom();
			}
			cart->items = grown;
			cap = cap ? cap * 2 : 8;
		}
		cart->items[cart->n_items].sku = sq_dup(st, 0, &ok);
		cart->items[cart->n_items++].qty = sqlite3_column_int64(st, 1);
	}
	return rc ? rc : ok ? 0 : oom();
}

/* *out stays NULL when there is no such cart. */
int sq_cart_load(sq_conn *c, const char *cart_id, kbp_cart **out)
{
	sqlite3_stmt *st = sq_stmt(c, "SELECT id, customer_id, version FROM carts WHERE id = ?", "t",
	                           cart_id);
	kbp_cart *cart;
	int rc, ok = 1;

	*out = NULL;
	if (!st)
		return kbp_error_last()->code;
	if ((rc = sq_next(c, st)) != 1)
		return rc;
	if (!(cart = calloc(1, sizeof(*cart)))) {
		sqlite3_reset(st);
		return oom();
	}
	cart->id = sq_dup(st, 0, &ok);
	cart->customer_id = sq_dup(st, 1, &ok);
	cart->version = sqlite3_column_int64(st, 2);
	sqlite3_reset(st);
	rc = ok ? cart_lines(c, cart) : oom();
	if (rc) {
		kbp_cart_free(cart);
		return rc;
	}
	*out = cart;
	return 0;
}

static int job_errors(const char *json, kbp_job *j)
{
	cJSON *arr = cJSON_Parse(json ? json : "[]"), *e;
	int n, ok = 1;

	if (!arr)
		return -1;
	n = cJSON_GetArraySize(arr);
	if (n > 0 && !(j->errors = calloc((size_t)n, sizeof(*j->errors))))
		ok = 0;
	cJSON_ArrayForEach(e, arr)
	{
		const char *msg;
		if (!ok)
			break;
		msg = cJSON_GetStringValue(cJSON_GetObjectItem(e, "message"));
		j->errors[j->n_errors].attempt = (int)cJSON_GetNumberValue(cJSON_GetObjectItem(e, "attempt"));
		j->errors[j->n_errors].at = (int64_t)cJSON_GetNumberValue(cJSON_GetObjectItem(e, "at"));
		ok = (j->errors[j->n_errors++].message = strdup(msg ? msg : "")) != NULL;
	}
	cJSON_Delete(arr);
	return ok ? 0 : -1;
}

int sq_job_read(sqlite3_stmt *st, kbp_job *j)
{
	int ok = 1;

	j->id = sq_dup(st, 0, &ok);
	j->kind = sq_dup(st, 1, &ok);
	j->payload = sq_dup(st, 2, &ok);
	j->state = (kbp_job_state)sqlite3_column_int(st, 3);
	j->priority = sqlite3_column_int(st, 4);
	j->attempts = sqlite3_column_int(st, 5);
	j->max_attempts = sqlite3_column_int(st, 6);
	j->run_at = sqlite3_column_int64(st, 7);
	j->lease_until = sqlite3_column_int64(st, 8);
	j->locked_by = sq_dup(st, 9, &ok);
	j->unique_key = sq_dup(st, 10, &ok);
	j->last_error = sq_dup(st, 11, &ok);
	if (ok && job_errors((const char *)sqlite3_column_text(st, 12), j) != 0)
		ok = 0;
	j->created_at = sqlite3_column_int64(st, 13);
	j->updated_at = sqlite3_column_int64(st, 14);
	j->finished_at = sqlite3_column_int64(st, 15);
	return ok ? 0 : oom();
}

/* *out stays NULL when there is no such job. */
int sq_job_load(sq_conn *c, const char *job_id, kbp_job **out)
{
	sqlite3_stmt *st;
	kbp_job *j;
	int rc;

	*out = NULL;
	if (!(st = sq_stmt(c, "SELECT " SQ_JOB_COLS " FROM jobs WHERE id = ?", "t", job_id)))
		return kbp_error_last()->code;
	if ((rc = sq_next(c, st)) != 1)
		return rc;
	if (!(j = calloc(1, sizeof(*j)))) {
		sqlite3_reset(st);
		return oom();
	}
	rc = sq_job_read(st, j);
	sqlite3_reset(st);
	if (rc) {
		kbp_job_free(j);
		return rc;
	}
	*out = j;
	return 0;
}

int sq_verification_read(sqlite3_stmt *st, kbp_verification *v)
{
	int ok = 1;

	v->id = sq_dup(st, 0, &ok);
	v->gateway = sq_dup(st, 1, &ok);
	v->gateway_ref = sq_dup(st, 2, &ok);
	v->external_txn_id = sq_dup(st, 3, &ok);
	v->intent_id = sq_dup(st, 4, &ok);
	v->amount_minor = sqlite3_column_int64(st, 5);
	v->outcome = (kbp_verification_outcome)sqlite3_column_int(st, 6);
	v->reason = sq_dup(st, 7, &ok);
	v->duplicate = sqlite3_column_int(st, 8);
	v->intent_status = (kbp_intent_status)sqlite3_column_int(st, 9);
	v->needs_refund = sqlite3_column_int(st, 10);
	v->at = sqlite3_column_int64(st, 11);
	return ok ? 0 : oom();
}

int sq_product_read(sqlite3_stmt *st, kbp_product *p)
{
	int ok = 1;

	p->id = sq_dup(st, 0, &ok);
	p->vendor_id = sq_dup(st, 1, &ok);
	p->name = sq_dup(st, 2, &ok);
	p->price_minor = sqlite3_column_int64(st, 3);
	sq_currency(p->currency, st, 4);
	p->on_hand = sqlite3_column_int64(st, 5);
	p->reserved = sqlite3_column_int64(st, 6);
	p->available = p->on_hand - p->reserved;
	p->active = sqlite3_column_int(st, 7);
	return ok ? 0 : oom();
}
