/* SPDX-License-Identifier: MIT */
/* The audit, orders and the doctor: each operation is one SQL function call. */
#include <stdlib.h>
#include <string.h>

#include "core/doctor.h"
#include "core/objects.h"
#include "storage/postgres/pg_internal.h"

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
