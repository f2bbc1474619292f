/* SPDX-License-Identifier: MIT */
#include <stdlib.h>
#include <string.h>

#include "core/objects.h"
#include "storage/sqlite/sq_internal.h"

int sq_vendor_put(kbp_storage *s, const char *id, const char *name, int64_t now)
{
	sq_store *q = sq_of(s);
	sq_conn *c;
	int rc;

	if ((rc = sq_acquire(q, &c)))
		return rc;
	rc = sq_run(c, NULL,
	            "INSERT INTO vendors (id, name, created_at, updated_at) VALUES (?1, ?2, ?3, ?3) "
	            "ON CONFLICT (id) DO UPDATE SET name = excluded.name, updated_at = excluded.updated_at",
	            "ttl", id, name, now);
	sq_release(q, c);
	return rc;
}

int sq_vendor_get(kbp_storage *s, const char *id, kbp_vendor **out)
{
	sq_store *q = sq_of(s);
	sqlite3_stmt *st;
	kbp_vendor *v;
	sq_conn *c;
	int rc, ok = 1;

	if ((rc = sq_acquire(q, &c)))
		return rc;
	if (!(st = sq_stmt(c, "SELECT id, name FROM vendors WHERE id = ?", "t", id)))
		rc = kbp_error_last()->code;
	else if ((rc = sq_next(c, st)) == 0)
		rc = kbp_error_set(KBP_ENOTFOUND, "vendor '%s' does not exist", id);
	else if (rc == 1 && !(v = calloc(1, sizeof(*v))))
		rc = kbp_error_set(KBP_ENOMEM, "out of memory");
	else if (rc == 1) {
		v->id = sq_dup(st, 0, &ok);
		v->name = sq_dup(st, 1, &ok);
		rc = ok ? 0 : kbp_error_set(KBP_ENOMEM, "out of memory");
		if (rc)
			kbp_vendor_free(v);
		else
			*out = v;
	}
	sq_release(q, c);
	return rc;
}

typedef struct product_put_ctx {
	const kbp_product_spec *spec;
	int64_t now;
} product_put_ctx;

static int product_put_in(sq_conn *c, void *ctx)
{
	const kbp_product_spec *spec = ((product_put_ctx *)ctx)->spec;
	int64_t now = ((product_put_ctx *)ctx)->now, vendors = 0, reserved = 0;
	int rc;

	if ((rc = sq_scalar(c, &vendors, "SELECT count(*) FROM vendors WHERE id = ?", "t",
	                    spec->vendor_id)) ||
	    (rc = sq_scalar(c, &reserved, "SELECT reserved FROM products WHERE id = ?", "t", spec->id)))
		return rc;
	if (!vendors)
		return kbp_error_set(KBP_ENOTFOUND, "vendor '%s' does not exist", spec->vendor_id);
	if (spec->on_hand < reserved)
		return kbp_error_set(KBP_ECONFLICT, "on_hand %lld is below the %lld units reserved for '%s'",
		                     (long long)spec->on_hand, (long long)reserved, spec->id);
	return sq_run(c, NULL,
	              "INSERT INTO products (id, vendor_id, name, price_minor, currency, on_hand, "
	              "reserved, active, created_at, updated_at) VALUES (?1, ?2, ?3, ?4, ?5, ?6, 0, ?7, ?8, ?8) "
	              "ON CONFLICT (id) DO UPDATE SET vendor_id = excluded.vendor_id, name = excluded.name, "
	              "price_minor = excluded.price_minor, currency = excluded.currency, "
	              "on_hand = excluded.on_hand, active = excluded.active, updated_at = excluded.updated_at",
	              "tttltldl", spec->id, spec->vendor_id, spec->name, spec->price_minor, spec->currency,
	              spec->on_hand, spec->active ? 1 : 0, now);
}

int sq_product_put(kbp_storage *s, const kbp_product_spec *spec, int64_t now)
{
	product_put_ctx ctx = { spec, now };

	return sq_write(sq_of(s), product_put_in, &ctx);
}

int sq_product_get(kbp_storage *s, const char *id, kbp_product **out)
{
	sq_store *q = sq_of(s);
	sqlite3_stmt *st;
	kbp_product *p = NULL;
	sq_conn *c;
	int rc;

	if ((rc = sq_acquire(q, &c)))
		return rc;
	if (!(st = sq_stmt(c, "SELECT " SQ_PRODUCT_COLS " FROM products WHERE id = ?", "t", id)))
		rc = kbp_error_last()->code;
	else if ((rc = sq_next(c, st)) == 0)
		rc = kbp_error_set(KBP_ENOTFOUND, "product '%s' does not exist", id);
	else if (rc == 1 && !(p = calloc(1, sizeof(*p))))
		rc = kbp_error_set(KBP_ENOMEM, "out of memory");
	else if (rc == 1)
		rc = sq_product_read(st, p);
	sq_release(q, c);
	if (rc) {
		kbp_product_free(p);
		return rc;
	}
	*out = p;
	return 0;
}

int sq_product_set_active(kbp_storage *s, const char *id, int active, int64_t now)
{
	sq_store *q = sq_of(s);
	int64_t changed = 0;
	sq_conn *c;
	int rc;

	if ((rc = sq_acquire(q, &c)))
		return rc;
	rc = sq_run(c, &changed, "UPDATE products SET active = ?, updated_at = ? WHERE id = ?", "dlt",
	            active ? 1 : 0, now, id);
	sq_release(q, c);
	if (rc == 0 && !changed)
		rc = kbp_error_set(KBP_ENOTFOUND, "product '%s' does not exist", id);
	return rc;
}

int sq_cart_get(kbp_storage *s, const char *cart_id, kbp_cart **out)
{
	sq_store *q = sq_of(s);
	sq_conn *c;
	int rc;

	if ((rc = sq_acquire(q, &c)))
		return rc;
	rc = sq_cart_load(c, cart_id, out);
	sq_release(q, c);
	if (rc == 0 && !*out)
		rc = kbp_error_set(KBP_ENOTFOUND, "cart '%s' does not exist", cart_id);
	return rc;
}

static int list_rows(sq_conn *c, sqlite3_stmt *st, kbp_verification_list *list)
{
	size_t cap = 0;
	int rc;

	while ((rc = sq_next(c, st)) == 1) {
		if (list->n == cap) {
			kbp_verification *grown =
				realloc(list->items, (cap ? cap * 2 : 8) * sizeof(*grown));
			if (!grown) {
				sqlite3_reset(st);
				return kbp_error_set(KBP_ENOMEM, "out of memory");
			}
			list->items = grown;
			cap = cap ? cap * 2 : 8;
		}
		memset(&list->items[list->n], 0, sizeof(*list->items));
		if ((rc = sq_verification_read(st, &list->items[list->n++]))) {
			sqlite3_reset(st);
			return rc;
		}
	}
	return rc;
}

int sq_verifications_list(kbp_storage *s, const char *intent_id, kbp_verification_list **out)
{
	sq_store *q = sq_of(s);
	kbp_verification_list *list = calloc(1, sizeof(*list));
	sqlite3_stmt *st;
	sq_conn *c;
	int rc;

	if (!list)
		return kbp_error_set(KBP_ENOMEM, "out of memory");
	if ((rc = sq_acquire(q, &c))) {
		free(list);
		return rc;
	}
	/* IS matches NULL to NULL: the rows that matched no intent. */
	st = sq_stmt(c, "SELECT " SQ_VERIFICATION_COLS " FROM verifications WHERE intent_id IS ? "
	             "ORDER BY rowid", "t", intent_id);
	rc = st ? list_rows(c, st, list) : kbp_error_last()->code;
	sq_release(q, c);
	if (rc) {
		kbp_verification_list_free(list);
		return rc;
	}
	*out = list;
	return 0;
}

int sq_order_get(kbp_storage *s, const char *order_number, const char *intent_id,
                 kbp_order **out)
{
	sq_store *q = sq_of(s);
	sq_conn *c;
	int rc;

	if ((rc = sq_acquire(q, &c)))
		return rc;
	rc = sq_order_load(c, order_number, order_number ? NULL : intent_id, out);
	sq_release(q, c);
	if (rc == 0 && !*out)
		rc = kbp_error_set(KBP_ENOTFOUND, "no order %s '%s'",
		                   order_number ? "numbered" : "for intent",
		                   order_number ? order_number : intent_id);
	return rc;
}
