/* SPDX-License-Identifier: MIT */
#include <stdlib.h>
#include <string.h>

#include "core/objects.h"
#include "core/records.h"
#include "storage/sqlite/sq_internal.h"

int sq_txn_begin(kbp_storage *s, unsigned int flags, kbp_txn **out)
{
	sq_store *q = sq_of(s);
	kbp_txn *t = calloc(1, sizeof(*t));
	int rc;

	*out = NULL;
	if (!t)
		return kbp_error_set(KBP_ENOMEM, "out of memory");
	t->write = !(flags & KBP_TXN_READ);
	if ((rc = sq_acquire(q, &t->c))) {
		free(t);
		return rc;
	}
	if ((rc = sq_begin_in(q, t->c, t->write))) {
		sq_release(q, t->c);
		free(t);
		return rc;
	}
	*out = t;
	return 0;
}

static void txn_end(sq_store *q, kbp_txn *t)
{
	sq_release(q, t->c);
	for (size_t i = 0; i < t->n_changed; i++)
		free(t->changed[i]);
	free(t->changed);
	free(t);
}

/* On commit the waiters of this intent's order wake. */
static int changed_add(kbp_txn *t, const char *intent_id)
{
	char **grown;

	for (size_t i = 0; i < t->n_changed; i++)
		if (strcmp(t->changed[i], intent_id) == 0)
			return 0;
	if (!(grown = realloc(t->changed, (t->n_changed + 1) * sizeof(*grown))) ||
	    !(grown[t->n_changed] = strdup(intent_id))) {
		if (grown)
			t->changed = grown;
		return kbp_error_set(KBP_ENOMEM, "out of memory");
	}
	t->changed = grown;
	t->n_changed++;
	return 0;
}

int sq_txn_commit(kbp_storage *s, kbp_txn *t)
{
	sq_store *q = sq_of(s);
	int rc = sq_commit(t->c);

	sq_end(q, t->write);
	if (rc == 0 && t->wake_jobs)
		sq_bump(q, KBP_TOPIC_JOBS);
	if (rc == 0 && t->wake_orders)
		sq_bump(q, KBP_TOPIC_ORDERS);
	for (size_t i = 0; rc == 0 && i < t->n_changed; i++)
		kbp_topics_bump_key(&q->topics, KBP_TOPIC_ORDERS, t->changed[i]);
	txn_end(q, t);
	return rc;
}

void sq_txn_rollback(kbp_storage *s, kbp_txn *t)
{
	if (!t)
		return;
	sq_rollback(t->c);
	sq_end(sq_of(s), t->write);
	txn_end(sq_of(s), t);
}

static sqlite3_stmt *intent_lookup(sq_conn *c, const kbp_facts_query *q)
{
	if (q->intent_id)
		return sq_stmt(c, "SELECT " SQ_INTENT_COLS " FROM intents WHERE id = ?", "t",
		               q->intent_id);
	if (q->idempotency_key)
		return sq_stmt(c, "SELECT " SQ_INTENT_COLS " FROM intents WHERE idempotency_key = ?",
		               "t", q->idempotency_key);
	return sq_stmt(c, "SELECT " SQ_INTENT_COLS " FROM intents WHERE gateway = ? AND gateway_ref = ?",
	               "tt", q->gateway, q->gateway_ref);
}

static int intent_read(sq_conn *c, const kbp_facts_query *q, kbp_facts *f)
{
	sqlite3_stmt *st;
	int rc;

	if (!q->intent_id && !q->idempotency_key && !(q->gateway && q->gateway_ref))
		return 0;
	if (!(st = intent_lookup(c, q)))
		return kbp_error_last()->code;
	if ((rc = sq_next(c, st)) != 1)
		return rc;
	rc = sq_intent_read(c, st, &f->intent);
	sqlite3_reset(st);
	return rc;
}

/* On failure *out is cleared again, so that the caller frees nothing twice. */
int sq_facts_read(kbp_storage *s, kbp_txn *t, const kbp_facts_query *q, kbp_facts *out)
{
	int rc;

	(void)s;
	if ((rc = intent_read(t->c, q, out)) || (rc = sq_facts_more(t->c, q, out)))
		kbp__facts_clear(out);
	return rc;
}

static const char *const intent_insert =
	"INSERT INTO intents (id, cart_id, customer_id, cart_version, amount_minor, currency, gateway, "
	"gateway_ref, redirect, idempotency_key, status, status_reason, needs_refund, created_at, "
	"expires_at, updated_at, success_url, failure_url, paid_at, finalize_job_id, reconcile_marked) "
	"VALUES "
	"(?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)";
static const char *const intent_update =
	"UPDATE intents SET id = ?1, cart_id = ?2, customer_id = ?3, cart_version = ?4, "
	"amount_minor = ?5, currency = ?6, gateway = ?7, gateway_ref = ?8, redirect = ?9, "
	"idempotency_key = ?10, status = ?11, status_reason = ?12, needs_refund = ?13, "
	"created_at = ?14, expires_at = ?15, updated_at = ?16, success_url = ?17, "
	"failure_url = ?18, paid_at = ?19, finalize_job_id = ?20, reconcile_marked = ?21 "
	"WHERE id = ?1";

static int items_insert(sq_conn *c, const char *sql, const char *owner, const kbp_intent_item *items,
                        size_t n)
{
	int rc = 0;

	for (size_t i = 0; rc == 0 && i < n; i++)
		rc = sq_run(c, NULL, sql, "tlttll", owner, (int64_t)i, items[i].sku, items[i].vendor_id,
		            items[i].qty, items[i].unit_price_minor);
	return rc;
}

static int intent_write(sq_conn *c, const kbp_intent_write *w)
{
	const kbp_intent_record *r = w->record;
	const kbp_intent *in = &r->intent;
	int64_t changed = 0;
	int rc;

	rc = sq_run(c, &changed, w->is_new ? intent_insert : intent_update, "tttlltttttdtdlllttltd",
	            in->id, in->cart_id, in->customer_id, in->cart_version, in->amount_minor,
	            in->currency, in->gateway, in->gateway_ref, in->redirect, in->idempotency_key,
	            (int)in->status, in->status_reason, in->needs_refund ? 1 : 0, in->created_at,
	            in->expires_at, in->updated_at, r->success_url, r->failure_url, r->paid_at,
	            r->finalize_job_id, r->reconcile_marked ? 1 : 0);
	if (rc)
		return rc;
	if (!changed)
		return kbp_error_set(KBP_ENOTFOUND, "intent '%s' does not exist", in->id);
	/* The snapshot is written once: what the shopper pays for never changes. */
	if (!w->is_new)
		return 0;
	return items_insert(c,
	                    "INSERT INTO intent_items (intent_id, pos, sku, vendor_id, qty, "
	                    "unit_price_minor) VALUES (?, ?, ?, ?, ?, ?)",
	                    in->id, in->items, in->n_items);
}

static int stock_write(sq_conn *c, const kbp_stock_delta *d)
{
	int64_t changed = 0;
	int rc = sq_run(c, &changed,
	                "UPDATE products SET on_hand = on_hand + ?, reserved = reserved + ? WHERE id = ?",
	                "llt", d->on_hand, d->reserved, d->sku);

	if (rc == KBP_ESTORAGE && sqlite3_extended_errcode(c->db) == SQLITE_CONSTRAINT_CHECK)
		return kbp_error_set(KBP_ESTORAGE,
		                     "the stock of '%s' would go below zero or below its reservations",
		                     d->sku);
	if (rc == 0 && !changed)
		return kbp_error_set(KBP_ENOTFOUND, "product '%s' does not exist", d->sku);
	return rc;
}

static int cart_write(sq_conn *c, const kbp_cart *cart)
{
	int rc;

	if ((rc = sq_run(c, NULL,
	                 "INSERT INTO carts (id, customer_id, version) VALUES (?, ?, ?) ON CONFLICT (id) "
	                 "DO UPDATE SET customer_id = excluded.customer_id, version = excluded.version",
	                 "ttl", cart->id, cart->customer_id, cart->version)) ||
	    (rc = sq_run(c, NULL, "DELETE FROM cart_items WHERE cart_id = ?", "t", cart->id)))
		return rc;
	for (size_t i = 0; rc == 0 && i < cart->n_items; i++)
		rc = sq_run(c, NULL, "INSERT INTO cart_items (cart_id, pos, sku, qty) VALUES (?, ?, ?, ?)",
		            "tltl", cart->id, (int64_t)i, cart->items[i].sku, cart->items[i].qty);
	return rc;
}

static int order_write(sq_conn *c, const kbp_order *o)
{
	/* The latency runs from the payment the intent recorded to the order's creation. */
	int rc = sq_run(c, NULL,
	                "INSERT INTO orders (id, order_number, intent_id, customer_id, total_minor, "
	                "currency, status, fulfillment_status, created_at, finalize_ms) "
	                "SELECT ?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, coalesce((SELECT CASE WHEN "
	                "paid_at > 0 THEN max(?9 - paid_at, 0) ELSE 0 END FROM intents WHERE id = ?3), 0)",
	                "ttttltttl", o->id, o->order_number, o->intent_id, o->customer_id,
	                o->total_minor, o->currency, o->status, o->fulfillment_status, o->created_at);

	if (rc)
		return rc;
	return items_insert(c,
	                    "INSERT INTO order_items (order_id, pos, sku, vendor_id, qty, "
	                    "unit_price_minor) VALUES (?, ?, ?, ?, ?, ?)",
	                    o->id, o->items, o->n_items);
}

static int verification_write(sq_conn *c, const kbp_changes *ch)
{
	const kbp_verification *v = ch->verification;

	return sq_run(c, NULL,
	              "INSERT INTO verifications (id, gateway, gateway_ref, external_txn_id, intent_id, "
	              "amount_minor, outcome, reason, duplicate, intent_status, needs_refund, at, raw, "
	              "raw_sha256) "
	              "VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
	              "tttttldtdddlbt", v->id, v->gateway, v->gateway_ref, v->external_txn_id,
	              v->intent_id, v->amount_minor, (int)v->outcome, v->reason,
	              v->duplicate ? 1 : 0, (int)v->intent_status, v->needs_refund ? 1 : 0, v->at,
	              (const void *)ch->raw, ch->raw_len, ch->raw_sha256);
}

static int jobs_write(sq_conn *c, kbp_txn *t, const kbp_job_draft *jobs, size_t n, int64_t now)
{
	char **ids = calloc(n, sizeof(*ids));
	size_t created = 0;
	int rc;

	if (!ids)
		return kbp_error_set(KBP_ENOMEM, "out of memory");
	rc = sq_jobs_insert_in(c, jobs, n, now, ids, &created);
	for (size_t i = 0; i < n; i++)
		free(ids[i]);
	free(ids);
	if (rc == 0 && created)
		t->wake_jobs = 1;
	return rc;
}

static int changes_write(sq_conn *c, kbp_txn *t, const kbp_changes *ch)
{
	int rc = 0;

	for (size_t i = 0; rc == 0 && i < ch->n_intents; i++)
		if ((rc = intent_write(c, &ch->intents[i])) == 0)
			rc = changed_add(t, ch->intents[i].record->intent.id);
	for (size_t i = 0; rc == 0 && i < ch->n_stock; i++)
		rc = stock_write(c, &ch->stock[i]);
	if (rc == 0 && ch->cart)
		rc = cart_write(c, ch->cart);
	if (rc == 0 && ch->order && (rc = order_write(c, ch->order)) == 0)
		rc = changed_add(t, ch->order->intent_id);
	if (rc == 0 && ch->verification)
		rc = verification_write(c, ch);
	if (rc == 0 && ch->n_jobs)
		rc = jobs_write(c, t, ch->jobs, ch->n_jobs, ch->now);
	for (size_t i = 0; rc == 0 && i < ch->n_job_writes; i++) {
		rc = sq_job_write(c, &ch->job_writes[i], ch->now);
		t->wake_jobs |= ch->job_writes[i].state == KBP_JOB_AVAILABLE;
		t->wake_orders = 1;
	}
	return rc;
}

int sq_changes_apply(kbp_storage *s, kbp_txn *t, const kbp_changes *ch)
{
	(void)s;
	if (!t->write)
		return kbp_error_set(KBP_EINVAL, "changes were applied in a read transaction");
	return changes_write(t->c, t, ch);
}
