/* SPDX-License-Identifier: MIT */
/*
 * A step's changes as the statements that write them: one prepared
 * statement (statements.c) per record, with its fields as parameters or, for
 * the records with many, as JSON. records.c sends them with the COMMIT in
 * one round trip.
 */
#include <stdlib.h>
#include <string.h>

#include "storage/postgres/pg_internal.h"

/* The next statement, with the time as its parameter at index `now` (or none: -1). */
static pg_batch_item *next(pg_batch *b, pg_stmt st, int now)
{
	pg_batch_item *it = &b->items[b->n];

	if (now >= 0)
		it->params[now] = b->now.s;
	b->q[b->n++] = (pg_send){ .st = st, .n = pg_stmts[st].n_params, .params = it->params,
		                  .lengths = it->lengths, .formats = it->formats };
	return it;
}

/* A statement whose first parameter is doc (consumed) as JSON text; 0 when memory ran out. */
static int add_json(pg_batch *b, pg_stmt st, cJSON *doc, int now)
{
	char *text = doc ? cJSON_PrintUnformatted(doc) : NULL;
	pg_batch_item *it;

	cJSON_Delete(doc);
	if (!text)
		return 0;
	it = next(b, st, now);
	it->doc = text;
	it->params[0] = text;
	return 1;
}

static int by_sku(const void *a, const void *b)
{
	return strcmp(((const kbp_stock_delta *)a)->sku, ((const kbp_stock_delta *)b)->sku);
}

/*
 * One statement per product, its deltas summed, in sku order: the order
 * every step takes products' locks in, so two steps never wait for each
 * other in a cycle.
 */
static int add_stock(pg_batch *b, const kbp_changes *c)
{
	kbp_stock_delta *d = malloc(c->n_stock * sizeof(*d));

	if (!d)
		return 0;
	memcpy(d, c->stock, c->n_stock * sizeof(*d));
	qsort(d, c->n_stock, sizeof(*d), by_sku);
	for (size_t i = 0; i < c->n_stock;) {
		pg_batch_item *it = next(b, ST_APPLY_STOCK, -1);
		int64_t on_hand = 0, reserved = 0;
		size_t j = i;

		for (; j < c->n_stock && strcmp(d[j].sku, d[i].sku) == 0; j++) {
			on_hand += d[j].on_hand;
			reserved += d[j].reserved;
		}
		it->params[0] = d[i].sku;
		it->num[0] = pg_i64(on_hand);
		it->num[1] = pg_i64(reserved);
		it->params[1] = it->num[0].s;
		it->params[2] = it->num[1].s;
		i = j;
	}
	free(d); /* the skus point into the changes, not into the copy */
	return 1;
}

static int add_intent(pg_batch *b, const kbp_intent_write *w)
{
	return add_json(b, w->is_new ? ST_APPLY_INTENT_NEW : ST_APPLY_INTENT,
	                pg_json_intent_record(w->record), -1);
}

static int add_verification(pg_batch *b, const kbp_changes *c)
{
	cJSON *v = pg_json_verification(c->verification);
	pg_batch_item *it;

	if (c->raw_sha256 && v && !cJSON_AddStringToObject(v, "raw_sha256", c->raw_sha256)) {
		cJSON_Delete(v);
		return 0;
	}
	if (!add_json(b, ST_APPLY_VERIFICATION, v, -1))
		return 0;
	it = &b->items[b->n - 1];
	it->params[1] = c->raw;
	it->lengths[1] = (int)c->raw_len;
	it->formats[1] = 1;
	return 1;
}

static void add_job_write(pg_batch *b, const kbp_job_write *w)
{
	pg_batch_item *it = next(b, ST_APPLY_JOB_WRITE, 5);
	int finished = w->state == KBP_JOB_FAILED || w->state == KBP_JOB_CANCELED;

	it->num[0] = pg_i64(w->state);
	it->num[1] = pg_i64(w->run_at);
	it->num[2] = pg_i64(w->max_attempts);
	it->params[0] = w->id;
	it->params[1] = it->num[0].s;
	it->params[2] = it->num[1].s;
	it->params[3] = it->num[2].s;
	it->params[4] = w->error;
	it->params[6] = finished ? "t" : "f";
	it->params[7] = w->state == KBP_JOB_AVAILABLE ? "t" : "f";
}

static void add_rescues(pg_batch *b, const kbp_changes *c)
{
	int64_t rescued = 0;
	pg_batch_item *it;

	for (size_t i = 0; i < c->n_job_writes; i++)
		rescued += c->job_writes[i].rescued != 0;
	if (rescued == 0)
		return;
	it = next(b, ST_APPLY_RESCUES, 1);
	it->num[0] = pg_i64(rescued);
	it->params[0] = it->num[0].s;
}

static int add_all(pg_batch *b, const kbp_changes *c)
{
	int ok = 1;

	for (size_t i = 0; ok && i < c->n_intents; i++)
		ok = add_intent(b, &c->intents[i]);
	ok = ok && (!c->n_stock || add_stock(b, c));
	if (ok && c->cart && (ok = add_json(b, ST_APPLY_CART, pg_json_cart(c->cart), 1))) {
		pg_batch_item *items = next(b, ST_APPLY_CART_ITEMS, -1);
		items->params[0] = b->items[b->n - 2].doc;
	}
	ok = ok && (!c->order || add_json(b, ST_APPLY_ORDER, pg_json_order(c->order), -1));
	ok = ok && (!c->verification || add_verification(b, c));
	ok = ok && (!c->n_jobs || add_json(b, ST_APPLY_JOBS, pg_json_drafts(c->jobs, c->n_jobs), 1));
	for (size_t i = 0; ok && i < c->n_job_writes; i++)
		add_job_write(b, &c->job_writes[i]);
	if (ok)
		add_rescues(b, c);
	return ok;
}

int pg_batch_build(pg_batch *b, const kbp_changes *c)
{
	/* At most: each intent, each delta, the cart and its lines, order, verification, jobs, rescues. */
	size_t most = c->n_intents + c->n_stock + 6 + c->n_job_writes;

	*b = (pg_batch){ .now = pg_i64(c->now) };
	b->q = calloc(most + 1, sizeof(*b->q)); /* and one for the caller's COMMIT */
	b->items = calloc(most, sizeof(*b->items));
	if (!b->q || !b->items || !add_all(b, c)) {
		pg_batch_free(b);
		return pg_oom();
	}
	return 0;
}

void pg_batch_free(pg_batch *b)
{
	for (int i = 0; b->items && i < b->n; i++)
		free(b->items[i].doc);
	free(b->items);
	free(b->q);
	*b = (pg_batch){ 0 };
}
