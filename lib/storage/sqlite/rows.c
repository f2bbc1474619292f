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

/* Reads the members of *o from the row's columns, rowid skipped (SQ_COLS). */
#define SQ_READ(kind, member, ...) SQ_READ_##kind(member)
#define SQ_READ_STR(m) o->m = sq_dup(st, col++, &ok);
#define SQ_READ_JSON(m) o->m = sq_dup(st, col++, &ok);
#define SQ_READ_I64(m) o->m = sqlite3_column_int64(st, col++);
#define SQ_READ_INT(m) o->m = sqlite3_column_int(st, col++);
#define SQ_READ_BOOL(m) o->m = sqlite3_column_int(st, col++);
#define SQ_READ_ENUM(m) o->m = sqlite3_column_int(st, col++);
#define SQ_READ_CUR(m) sq_currency(o->m, st, col++);
#define SQ_READ_ARRAY(m)
#define SQ_READER(name)                                                       \
	static int name##_columns(sqlite3_stmt *st, kbp_##name *o)           \
	{                                                                     \
		int col = 1, ok = 1;                                          \
		KBP_FIELDS_##name(SQ_READ) return ok ? 0 : oom();             \
	}
SQ_READER(intent)
SQ_READER(order)
SQ_READER(job)
SQ_READER(verification)
SQ_READER(product)

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

/* The record's own columns follow the intent's members (SQ_INTENT_COLS). */
static int record_columns(sqlite3_stmt *st, kbp_intent_record *r)
{
	int col = 1 + SQ_NCOLS(intent), ok = 1;
	int rc = intent_columns(st, &r->intent);

	r->success_url = sq_dup(st, col++, &ok);
	r->failure_url = sq_dup(st, col++, &ok);
	r->paid_at = sqlite3_column_int64(st, col++);
	r->finalize_job_id = sq_dup(st, col++, &ok);
	r->reconcile_marked = sqlite3_column_int(st, col);
	return rc ? rc : ok ? 0 : oom();
}

int sq_intent_fill(sq_conn *c, sqlite3_stmt *st, kbp_intent_record *r)
{
	int rc = record_columns(st, r);

	if (rc)
		return rc;
	return items_load(c,
	                "SELECT sku, vendor_id, qty, unit_price_minor FROM intent_items "
	                "WHERE intent_id = ? ORDER BY pos",
	                r->intent.id, &r->intent.items, &r->intent.n_items);
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
	"SELECT " SQ_ORDER_COLS " FROM orders WHERE order_number = ?";
static const char *const order_by_intent = "SELECT " SQ_ORDER_COLS " FROM orders WHERE intent_id = ?";

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
	rc = order_columns(st, o);
	sqlite3_reset(st);
	if (rc == 0)
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
	int rc = job_columns(st, j);

	if (rc == 0 && job_errors((const char *)sqlite3_column_text(st, 1 + SQ_NCOLS(job)), j) != 0)
		rc = oom();
	return rc;
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
	return verification_columns(st, v);
}

int sq_product_read(sqlite3_stmt *st, kbp_product *p)
{
	return product_columns(st, p);
}
