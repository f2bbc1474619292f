/* SPDX-License-Identifier: MIT */
/*
 * The library's structs as the JSON the schema's functions read, expanded
 * from their field lists (lib/core/fields.h): one key per member, named as
 * the member; enums are their numbers, as the tables store them.
 */
#include <cjson/cJSON.h>

#include "core/fields.h"
#include "storage/postgres/pg_internal.h"

#define W_FIELD(kind, ...) W_##kind(__VA_ARGS__)
#define W_STR(f) ok &= (v->f ? cJSON_AddStringToObject(o, #f, v->f) : cJSON_AddNullToObject(o, #f)) != NULL;
#define W_JSON(f) W_STR(f)
#define W_I64(f) ok &= cJSON_AddNumberToObject(o, #f, (double)v->f) != NULL;
#define W_INT(f) W_I64(f)
#define W_BOOL(f) ok &= cJSON_AddBoolToObject(o, #f, v->f) != NULL;
#define W_ENUM(f, name_fn) ok &= cJSON_AddNumberToObject(o, #f, (double)v->f) != NULL;
#define W_CUR(f) ok &= cJSON_AddStringToObject(o, #f, v->f) != NULL;
#define W_ARRAY(f, n, name)                                                          \
	{                                                                            \
		cJSON *a = cJSON_AddArrayToObject(o, #f);                            \
		ok &= a != NULL;                                                     \
		for (size_t i = 0; ok && i < v->n; i++) {                            \
			cJSON *item = pg_json_##name(&v->f[i]);                      \
			ok &= item && cJSON_AddItemToArray(a, item);                 \
		}                                                                    \
	}

#define DEFINE_WRITE(name)                                      \
	cJSON *pg_json_##name(const kbp_##name *v)              \
	{                                                       \
		cJSON *o = cJSON_CreateObject();                \
		int ok = o != NULL;                             \
                                                                \
		if (ok) {                                       \
			KBP_FIELDS_##name(W_FIELD)              \
		}                                               \
		if (!ok) {                                      \
			cJSON_Delete(o);                        \
			return NULL;                            \
		}                                               \
		return o;                                       \
	}

PG_JSON_STRUCTS(DEFINE_WRITE)

cJSON *pg_json_intent_record(const kbp_intent_record *r)
{
	cJSON *o = pg_json_intent(&r->intent);
	const kbp_intent_record *v = r;
	int ok = o != NULL;

	if (ok) {
		W_STR(success_url)
		W_STR(failure_url)
		W_I64(paid_at)
		W_STR(finalize_job_id)
		W_BOOL(reconcile_marked)
	}
	if (!ok) {
		cJSON_Delete(o);
		return NULL;
	}
	return o;
}

cJSON *pg_json_drafts(const kbp_job_draft *drafts, size_t n)
{
	cJSON *arr = cJSON_CreateArray();
	int ok = arr != NULL;

	for (size_t i = 0; ok && i < n; i++) {
		const kbp_job_draft *v = &drafts[i];
		cJSON *o = cJSON_CreateObject();
		ok = o && cJSON_AddItemToArray(arr, o);
		if (ok) {
			W_STR(id)
			W_STR(kind)
			W_STR(payload)
			W_STR(unique_key)
			W_INT(priority)
			W_I64(run_at)
			W_INT(max_attempts)
		}
	}
	if (!ok) {
		cJSON_Delete(arr);
		return NULL;
	}
	return arr;
}
