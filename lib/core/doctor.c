/* SPDX-License-Identifier: MIT */
#include <stdlib.h>
#include <string.h>

#include "core/doctor.h"
#include "core/pipeline_internal.h"

int kbp_doctor_run(kbp_doctor_report **out, kbp_pipeline *p)
{
	int rc;

	KBP_CHECK_OUT(out);
	*out = NULL;
	KBP_CHECK_PIPELINE(p);
	if ((rc = p->storage->doctor(p->storage, kbp_pipeline_now(p), out)) != 0)
		return rc;
	(*out)->problems = 0;
	for (size_t i = 0; i < (*out)->n_checks; i++)
		(*out)->problems += (*out)->checks[i].count;
	return 0;
}

const char *const kbp__doctor_checks[KBP__DOCTOR_CHECKS][2] = {
	{ "orders_without_items", "orders that have no items" },
	{ "paid_intents_without_order", "intents paid more than a minute ago that have no order" },
	{ "unbalanced_reservations", "products whose reserved units are not held by live intents" },
	{ "products_without_vendor", "products whose vendor does not exist" },
	{ "intents_needing_refund", "intents whose payment must be refunded" },
};

kbp_doctor_report *kbp__doctor_report_new(void)
{
	kbp_doctor_report *r = calloc(1, sizeof(*r));

	if (!r || !(r->checks = calloc(KBP__DOCTOR_CHECKS, sizeof(*r->checks)))) {
		free(r);
		return NULL;
	}
	r->n_checks = KBP__DOCTOR_CHECKS;
	for (size_t i = 0; i < KBP__DOCTOR_CHECKS; i++) {
		r->checks[i].name = strdup(kbp__doctor_checks[i][0]);
		r->checks[i].description = strdup(kbp__doctor_checks[i][1]);
		if (!(r->checks[i].ids = calloc(KBP_DOCTOR_IDS_MAX, sizeof(char *))) ||
		    !r->checks[i].name || !r->checks[i].description) {
			kbp_doctor_report_free(r);
			return NULL;
		}
	}
	return r;
}

int kbp__doctor_add(kbp_doctor_report *r, int check, const char *id)
{
	kbp_doctor_check *c = &r->checks[check];

	c->count++;
	if (c->n_ids == KBP_DOCTOR_IDS_MAX)
		return 0;
	if (!(c->ids[c->n_ids] = strdup(id)))
		return -1;
	c->n_ids++;
	return 0;
}
