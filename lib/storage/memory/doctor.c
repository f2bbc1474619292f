/* SPDX-License-Identifier: MIT */
#include <stdlib.h>

#include "core/doctor.h"
#include "storage/memory/memory_internal.h"

/* Reservations are held by pending intents and by paid ones whose order is not made yet. */
static int holds_reservation(const mem_intent *in)
{
	return in->rec.intent.status == KBP_INTENT_PENDING ||
	       (in->rec.intent.status == KBP_INTENT_SUCCEEDED && !in->order);
}

static int check_intents(mem_store *m, int64_t now, kbp_doctor_report *r, kbp_hmap *held,
                         int64_t *sums, size_t n_sums)
{
	void *value;
	size_t used = 0;

	for (size_t pos = 0; kbp_hmap_next(&m->intents, &pos, NULL, &value);) {
		const mem_intent *in = value;
		if (in->order && in->order->n_items == 0 &&
		    kbp__doctor_add(r, KBP__DOCTOR_ORDERS_WITHOUT_ITEMS, in->order->order_number))
			return -1;
		if (in->rec.intent.status == KBP_INTENT_SUCCEEDED && !in->order &&
		    in->rec.paid_at < now - KBP_DOCTOR_PAID_GRACE_MS &&
		    kbp__doctor_add(r, KBP__DOCTOR_PAID_WITHOUT_ORDER, in->rec.intent.id))
			return -1;
		if (in->rec.intent.needs_refund && kbp__doctor_add(r, KBP__DOCTOR_NEEDS_REFUND, in->rec.intent.id))
			return -1;
		if (!holds_reservation(in))
			continue;
		for (size_t i = 0; i < in->rec.intent.n_items; i++) {
			int64_t *sum = kbp_hmap_get(held, in->rec.intent.items[i].sku);
			if (!sum) {
				if (used == n_sums)
					return -1;
				sum = &sums[used++];
				if (kbp_hmap_put(held, in->rec.intent.items[i].sku, sum) != 0)
					return -1;
			}
			*sum += in->rec.intent.items[i].qty;
		}
	}
	return 0;
}

static int check_products(mem_store *m, kbp_doctor_report *r, kbp_hmap *held)
{
	void *value;

	for (size_t pos = 0; kbp_hmap_next(&m->products, &pos, NULL, &value);) {
		const kbp_product *p = value;
		const int64_t *sum = kbp_hmap_get(held, p->id);
		if (p->reserved != (sum ? *sum : 0) &&
		    kbp__doctor_add(r, KBP__DOCTOR_UNBALANCED_RESERVATIONS, p->id))
			return -1;
		if (!kbp_hmap_get(&m->vendors, p->vendor_id) &&
		    kbp__doctor_add(r, KBP__DOCTOR_PRODUCTS_WITHOUT_VENDOR, p->id))
			return -1;
	}
	return 0;
}

int mem_doctor(kbp_storage *s, int64_t now, kbp_doctor_report **out)
{
	mem_store *m = mem_of(s);
	kbp_doctor_report *r = kbp__doctor_report_new();
	int64_t *sums;
	kbp_hmap held;
	int rc;

	if (!r)
		return kbp_error_set(KBP_ENOMEM, "out of memory");
	kbp_hmap_init(&held);
	pthread_mutex_lock(&m->lock);
	sums = calloc(m->products.used + 1, sizeof(*sums));
	rc = !sums || check_intents(m, now, r, &held, sums, m->products.used) != 0 ||
	     check_products(m, r, &held) != 0;
	pthread_mutex_unlock(&m->lock);
	kbp_hmap_clear(&held);
	free(sums);
	if (rc) {
		kbp_doctor_report_free(r);
		return kbp_error_set(KBP_ENOMEM, "out of memory");
	}
	*out = r;
	return 0;
}
