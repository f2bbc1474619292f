/* SPDX-License-Identifier: MIT */
/*
 * Records (storage version 3): a transaction is the store's lock, a read
 * copies records out of the maps. The rules that decide what to write are the
 * library's (lib/core/rules.c).
 */
#include <stdlib.h>
#include <string.h>

#include "core/objects.h"
#include "core/records.h"
#include "core/rules.h"
#include "storage/memory/memory_internal.h"

int mem_txn_begin(kbp_storage *s, unsigned int flags, kbp_txn **out)
{
	mem_store *m = mem_of(s);

	(void)flags;
	pthread_mutex_lock(&m->lock);
	*out = (kbp_txn *)m;
	return 0;
}

int mem_txn_commit(kbp_storage *s, kbp_txn *t)
{
	(void)t;
	pthread_mutex_unlock(&mem_of(s)->lock);
	return 0;
}

void mem_txn_rollback(kbp_storage *s, kbp_txn *t)
{
	(void)t;
	pthread_mutex_unlock(&mem_of(s)->lock);
}

static mem_intent *find_intent(mem_store *m, const kbp_facts_query *q)
{
	mem_intent *in = NULL;
	char *key;

	if (q->intent_id)
		return kbp_hmap_get(&m->intents, q->intent_id);
	if (q->idempotency_key)
		return kbp_hmap_get(&m->intents_by_key, q->idempotency_key);
	if (q->gateway && q->gateway_ref && (key = mem_pair_key(q->gateway, q->gateway_ref))) {
		in = kbp_hmap_get(&m->intents_by_ref, key);
		free(key);
	}
	return in;
}

static int has_product(const kbp_facts *f, const char *sku)
{
	for (size_t i = 0; i < f->n_products; i++)
		if (strcmp(f->products[i].id, sku) == 0)
			return 1;
	return 0;
}

static int add_product(mem_store *m, kbp_facts *f, const char *sku, size_t cap)
{
	kbp_product *p = kbp_hmap_get(&m->products, sku), *copy;

	if (!p || has_product(f, sku) || f->n_products == cap)
		return 0;
	if (!(copy = kbp__product_dup(p)))
		return -1;
	f->products[f->n_products++] = *copy;
	free(copy);
	return 0;
}

static int read_products(mem_store *m, const kbp_facts_query *q, const mem_cart *c,
                         const mem_intent *in, kbp_facts *f)
{
	int all = (q->want & KBP_FACTS_PRODUCTS) != 0;
	size_t cap = (q->sku ? 1 : 0) + (all && c ? c->pub.n_items : 0) +
	             (all && in ? in->rec.intent.n_items : 0);
	int rc = 0;

	if (cap == 0)
		return 0;
	if (!(f->products = calloc(cap, sizeof(*f->products))))
		return -1;
	if (q->sku)
		rc |= add_product(m, f, q->sku, cap);
	for (size_t i = 0; all && c && i < c->pub.n_items; i++)
		rc |= add_product(m, f, c->pub.items[i].sku, cap);
	for (size_t i = 0; all && in && i < in->rec.intent.n_items; i++)
		rc |= add_product(m, f, in->rec.intent.items[i].sku, cap);
	return rc;
}

static int read_accepted(mem_store *m, const kbp_facts_query *q, kbp_facts *f)
{
	kbp_verification *row;
	char *key;

	if (!q->accepted_txn || !q->gateway)
		return 0;
	if (!(key = mem_pair_key(q->gateway, q->accepted_txn)))
		return -1;
	row = kbp_hmap_get(&m->accepted, key);
	free(key);
	return row && !(f->accepted = kbp__verification_dup(row)) ? -1 : 0;
}

static int read_intent(const kbp_facts_query *q, const mem_intent *in, kbp_facts *f)
{
	if (!in)
		return 0;
	if (!(f->intent = kbp__intent_record_dup(&in->rec)))
		return -1;
	if ((q->want & KBP_FACTS_ORDER) && in->order && !(f->order = kbp__order_dup(in->order)))
		return -1;
	return 0;
}

static int read_job(mem_store *m, const kbp_facts_query *q, const mem_intent *in, kbp_facts *f)
{
	const char *id = q->job_id ? q->job_id : in ? in->rec.finalize_job_id : NULL;
	mem_job *job, *holder;

	if (!(q->want & KBP_FACTS_JOB) || !id || !(job = kbp_hmap_get(&m->jobs, id)))
		return 0;
	if (!(f->job = kbp__job_dup(&job->pub)))
		return -1;
	if (!(q->want & KBP_FACTS_JOB_HOLDER) || !job->pub.unique_key)
		return 0;
	holder = kbp_hmap_get(&m->live_unique, job->pub.unique_key);
	return holder && holder != job && !(f->holder = kbp__job_dup(&holder->pub)) ? -1 : 0;
}

static int read_lapsed(mem_store *m, const kbp_facts_query *q, kbp_facts *f)
{
	kbp_job_list *list;
	void *value;

	if (!(list = calloc(1, sizeof(*list))) || !(list->jobs = calloc(q->scan_max, sizeof(*list->jobs)))) {
		free(list);
		return -1;
	}
	f->jobs = list;
	for (size_t pos = 0; list->n < q->scan_max && kbp_hmap_next(&m->jobs, &pos, NULL, &value);) {
		const mem_job *j = value;
		kbp_job *copy;
		if (j->pub.state != KBP_JOB_RUNNING || j->pub.lease_until >= q->scan_before)
			continue;
		if (!(copy = kbp__job_dup(&j->pub)))
			return -1;
		list->jobs[list->n++] = *copy;
		free(copy);
	}
	return 0;
}

static int scanned(const mem_intent *in, const kbp_facts_query *q)
{
	if (q->scan == KBP_SCAN_EXPIRING)
		return in->rec.intent.status == KBP_INTENT_PENDING &&
		       in->rec.intent.expires_at <= q->scan_before;
	return kbp__rule_needs_reconcile(&in->rec, q->scan_before);
}

static int read_scan(mem_store *m, const kbp_facts_query *q, kbp_facts *f)
{
	void *value;

	if (q->scan == KBP_SCAN_NONE || q->scan_max == 0)
		return 0;
	if (q->scan == KBP_SCAN_LAPSED_LEASES)
		return read_lapsed(m, q, f);
	if (!(f->scanned = calloc(q->scan_max, sizeof(*f->scanned))))
		return -1;
	for (size_t pos = 0; f->n_scanned < q->scan_max && kbp_hmap_next(&m->intents, &pos, NULL, &value);) {
		const mem_intent *in = value;
		if (!scanned(in, q))
			continue;
		if (kbp__intent_record_copy(&f->scanned[f->n_scanned], &in->rec) != 0)
			return -1;
		f->n_scanned++;
	}
	return 0;
}

int mem_facts_read(kbp_storage *s, kbp_txn *t, const kbp_facts_query *q, kbp_facts *f)
{
	mem_store *m = mem_of(s);
	const mem_intent *in = find_intent(m, q);
	const char *cart_id = q->cart_id;
	const mem_cart *c;

	(void)t;
	if (!cart_id && in && (q->want & KBP_FACTS_INTENT_CART))
		cart_id = in->rec.intent.cart_id;
	c = cart_id ? kbp_hmap_get(&m->carts, cart_id) : NULL;
	if (read_intent(q, in, f) != 0 || read_job(m, q, in, f) != 0 ||
	    (c && !(f->cart = kbp__cart_dup(&c->pub))) ||
	    read_products(m, q, c, in, f) != 0 || read_accepted(m, q, f) != 0 ||
	    read_scan(m, q, f) != 0)
		return kbp_error_set(KBP_ENOMEM, "out of memory");
	return 0;
}
