/* SPDX-License-Identifier: MIT */
/* Verification, orders and order facts: each operation is one SQL function call. */
#include <stdlib.h>
#include <string.h>

#include "core/doctor.h"
#include "core/objects.h"
#include "storage/postgres/pg_internal.h"

/* Keeps the function's error while a result is converted. */
static int with_object(int rc, void *converted, void **out)
{
	kbp_error saved = *kbp_error_last();

	if (!converted)
		return pg_oom();
	*out = converted;
	if (rc != 0)
		kbp_error_set(saved.code, "%s", saved.message);
	return rc;
}

int pg_payment_apply(kbp_storage *s, const kbp_payment_draft *d, int64_t now,
                     kbp_verification **out)
{
	pg_num amount = pg_i64(d->amount_minor), status = pg_i64(d->status),
	       code = pg_i64(d->reject_code), attempts = pg_i64(d->finalize_job.max_attempts),
	       n = pg_i64(now);
	const char *p[] = { d->verification_id, d->gateway, d->gateway_ref, d->external_txn_id,
		            amount.s, d->currency, status.s, d->reject_reason, code.s,
		            d->raw, d->finalize_job.id, attempts.s, n.s };
	int lengths[13] = { 0 };
	cJSON *data;
	int rc;

	lengths[9] = (int)d->raw_len;
	rc = pg_call_raw(pg_of(s), ST_PAYMENT_APPLY, p, lengths, 13, &data);
	if (data)
		rc = with_object(rc, js_verification(data), (void **)out);
	cJSON_Delete(data);
	return rc;
}

int pg_verifications_list(kbp_storage *s, const char *intent_id, kbp_verification_list **out)
{
	const char *p[] = { intent_id };
	kbp_verification_list *list;
	const cJSON *item;
	cJSON *data;
	int rc = pg_call(pg_of(s), ST_VERIFICATIONS_LIST, p, 1, &data);

	if (rc != 0)
		return rc;
	if (!(list = calloc(1, sizeof(*list))) ||
	    (cJSON_GetArraySize(data) > 0 &&
	     !(list->items = calloc((size_t)cJSON_GetArraySize(data), sizeof(*list->items))))) {
		free(list);
		cJSON_Delete(data);
		return pg_oom();
	}
	cJSON_ArrayForEach(item, data) {
		if (js_verification_fill(&list->items[list->n++], item) != 0)
			rc = pg_oom();
	}
	cJSON_Delete(data);
	if (rc != 0) {
		kbp_verification_list_free(list);
		return rc;
	}
	*out = list;
	return 0;
}

int pg_order_finalize(kbp_storage *s, const char *intent_id, const char *order_id,
                      const char *order_number, int64_t now, kbp_order **out)
{
	pg_num n = pg_i64(now);
	const char *p[] = { intent_id, order_id, order_number, n.s };
	cJSON *data;
	int rc = pg_call(pg_of(s), ST_ORDER_FINALIZE, p, 4, &data);

	if ((rc == 0 || rc == KBP_EEXISTS) && data)
		rc = with_object(rc, js_order(data), (void **)out);
	cJSON_Delete(data);
	return rc;
}

int pg_order_get(kbp_storage *s, const char *order_number, const char *intent_id,
                 kbp_order **out)
{
	const char *p[] = { order_number, intent_id };
	cJSON *data;
	int rc = pg_call(pg_of(s), ST_ORDER_GET, p, 2, &data);

	if (rc == 0 && !(*out = js_order(data)))
		rc = pg_oom();
	cJSON_Delete(data);
	return rc;
}

int pg_order_facts(kbp_storage *s, const char *intent_id, kbp_order_facts *out)
{
	const char *p[] = { intent_id };
	cJSON *data;
	int rc = pg_call(pg_of(s), ST_ORDER_FACTS, p, 1, &data);

	if (rc == 0 && js_order_facts(out, data) != 0)
		rc = pg_oom();
	cJSON_Delete(data);
	return rc;
}

/* The checks arrive in the report's order; each brings its count and some ids. */
static int doctor_fill(kbp_doctor_report *r, const cJSON *checks)
{
	const cJSON *c;
	size_t i = 0;

	cJSON_ArrayForEach(c, checks) {
		const cJSON *id;
		if (i == r->n_checks)
			break;
		cJSON_ArrayForEach(id, cJSON_GetObjectItemCaseSensitive(c, "ids"))
			if (cJSON_IsString(id) && kbp__doctor_add(r, (int)i, id->valuestring) != 0)
				return -1;
		r->checks[i++].count = js_i64(c, "count");
	}
	return 0;
}

int pg_doctor(kbp_storage *s, int64_t now, kbp_doctor_report **out)
{
	pg_num n = pg_i64(now), grace = pg_i64(KBP_DOCTOR_PAID_GRACE_MS),
	       max = pg_i64(KBP_DOCTOR_IDS_MAX);
	const char *p[] = { n.s, grace.s, max.s };
	kbp_doctor_report *r;
	cJSON *data;
	int rc = pg_call(pg_of(s), ST_DOCTOR, p, 3, &data);

	if (rc != 0)
		return rc;
	r = kbp__doctor_report_new();
	if (!r || doctor_fill(r, cJSON_GetObjectItemCaseSensitive(data, "checks")) != 0) {
		kbp_doctor_report_free(r);
		cJSON_Delete(data);
		return pg_oom();
	}
	cJSON_Delete(data);
	*out = r;
	return 0;
}
