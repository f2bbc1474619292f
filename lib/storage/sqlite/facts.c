/* SPDX-License-Identifier: MIT */
#include <stdlib.h>
#include <string.h>

#include "core/objects.h"
#include "storage/sqlite/sq_internal.h"

static int oom(void)
{
	return kbp_error_set(KBP_ENOMEM, "out of memory");
}

static int has_product(const kbp_facts *f, const char *sku)
{
	for (size_t i = 0; i < f->n_products; i++)
		if (strcmp(f->products[i].id, sku) == 0)
			return 1;
	return 0;
}

/* The product, once, when it exists; products has room for every sku asked. */
static int product_add(sq_conn *c, kbp_facts *f, const char *sku)
{
	sqlite3_stmt *st;
	int rc;

	if (!sku || has_product(f, sku))
		return 0;
	if (!(st = sq_stmt(c, "SELECT " SQ_PRODUCT_COLS " FROM products WHERE id = ?", "t", sku)))
		return kbp_error_last()->code;
	if ((rc = sq_next(c, st)) != 1)
		return rc;
	rc = sq_product_read(st, &f->products[f->n_products++]);
	sqlite3_reset(st);
	return rc;
}

static int products_read(sq_conn *c, const kbp_facts_query *q, kbp_facts *f)
{
	size_t cart_lines = f->cart ? f->cart->n_items : 0;
	size_t intent_lines = f->intent ? f->intent->intent.n_items : 0;
	int rc = 0;

	if (!(q->want & KBP_FACTS_PRODUCTS))
		cart_lines = intent_lines = 0;
	if (!(f->products = calloc(cart_lines + intent_lines + 1, sizeof(*f->products))))
		return oom();
	for (size_t i = 0; rc == 0 && i < cart_lines; i++)
		rc = product_add(c, f, f->cart->items[i].sku);
	for (size_t i = 0; rc == 0 && i < intent_lines; i++)
		rc = product_add(c, f, f->intent->intent.items[i].sku);
	return rc ? rc : product_add(c, f, q->sku);
}

static int accepted_read(sq_conn *c, const kbp_facts_query *q, kbp_facts *f)
{
	sqlite3_stmt *st = sq_stmt(c, "SELECT " SQ_VERIFICATION_COLS " FROM verifications "
	                              "WHERE gateway = ? AND external_txn_id = ? AND outcome = " SQ_ACCEPTED,
	                           "tt", q->gateway, q->accepted_txn);
	int rc;

	if (!st)
		return kbp_error_last()->code;
	if ((rc = sq_next(c, st)) != 1)
		return rc;
	if (!(f->accepted = calloc(1, sizeof(*f->accepted)))) {
		sqlite3_reset(st);
		return oom();
	}
	rc = sq_verification_read(st, f->accepted);
	sqlite3_reset(st);
	return rc;
}

static const char *const scan_sql[] = {
	[KBP_SCAN_EXPIRING] = "SELECT " SQ_INTENT_COLS " FROM intents WHERE status = " SQ_INTENT_PENDING " "
	                      "AND expires_at <= ? ORDER BY created_at, id LIMIT ?",
	[KBP_SCAN_UNSETTLED] = "SELECT " SQ_INTENT_COLS " FROM intents WHERE gateway_ref IS NOT NULL "
	                       "AND needs_refund = 0 AND reconcile_marked = 0 "
	                       "AND ((status = " SQ_INTENT_PENDING " AND created_at < ?) OR status = " SQ_INTENT_EXPIRED ") "
	                       "ORDER BY created_at, id LIMIT ?",
};

static int scan_grow(kbp_facts *f, size_t *cap)
{
	size_t want = *cap ? *cap * 2 : 16;
	kbp_intent_record *grown = realloc(f->scanned, want * sizeof(*grown));

	if (!grown)
		return oom();
	f->scanned = grown;
	*cap = want;
	return 0;
}

static int scan_read(sq_conn *c, const kbp_facts_query *q, kbp_facts *f)
{
	int64_t max = q->scan_max > INT64_MAX ? INT64_MAX : (int64_t)q->scan_max;
	sqlite3_stmt *st = sq_stmt(c, scan_sql[q->scan], "ll", q->scan_before, max);
	size_t cap = 0;
	int rc;

	if (!st)
		return kbp_error_last()->code;
	while ((rc = sq_next(c, st)) == 1) {
		if (f->n_scanned == cap && (rc = scan_grow(f, &cap)) != 0)
			break;
		memset(&f->scanned[f->n_scanned], 0, sizeof(*f->scanned));
		if ((rc = sq_intent_fill(c, st, &f->scanned[f->n_scanned++])))
			break;
	}
	sqlite3_reset(st);
	return rc;
}

int sq_facts_more(sq_conn *c, const kbp_facts_query *q, kbp_facts *f)
{
	const char *cart_id = q->cart_id;
	int rc = 0;

	if (!cart_id && (q->want & KBP_FACTS_INTENT_CART) && f->intent)
		cart_id = f->intent->intent.cart_id;
	if (cart_id && (rc = sq_cart_load(c, cart_id, &f->cart)))
		return rc;
	if (((q->want & KBP_FACTS_PRODUCTS) || q->sku) && (rc = products_read(c, q, f)))
		return rc;
	if ((q->want & KBP_FACTS_ORDER) && f->intent &&
	    (rc = sq_order_load(c, NULL, f->intent->intent.id, &f->order)))
		return rc;
	if (q->accepted_txn && q->gateway && (rc = accepted_read(c, q, f)))
		return rc;
	if ((q->want & KBP_FACTS_JOB) && (rc = sq_job_facts(c, q, f)))
		return rc;
	if (q->scan == KBP_SCAN_NONE)
		return 0;
	if (q->scan == KBP_SCAN_LAPSED_LEASES)
		return sq_jobs_lapsed(c, q, f);
	if (q->scan != KBP_SCAN_EXPIRING && q->scan != KBP_SCAN_UNSETTLED)
		return kbp_error_set(KBP_EINVAL, "unknown scan %d", (int)q->scan);
	return scan_read(c, q, f);
}
