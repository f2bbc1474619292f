/* SPDX-License-Identifier: MIT */
/*
 * The library's structs as JSON, expanded from their field lists
 * (lib/core/fields.h): one key per member, named as the member; NULL strings
 * are null, enums their names, a job's payload the JSON it holds.
 */
#include "kbpipe.h"

#include <stdlib.h>

#include <cjson/cJSON.h>

#include "core/fields.h"

#define JSON_FIELD(kind, ...) JSON_##kind(__VA_ARGS__)
#define JSON_STR(f)                                              \
	if (v->f)                                                \
		cJSON_AddStringToObject(o, #f, v->f);            \
	else                                                     \
		cJSON_AddNullToObject(o, #f);
#define JSON_JSON(f) cJSON_AddItemToObject(o, #f, json_text(v->f));
#define JSON_I64(f) cJSON_AddNumberToObject(o, #f, (double)v->f);
#define JSON_INT(f) JSON_I64(f)
#define JSON_BOOL(f) cJSON_AddBoolToObject(o, #f, v->f);
#define JSON_ENUM(f, name_fn) cJSON_AddStringToObject(o, #f, name_fn(v->f));
#define JSON_CUR(f) cJSON_AddStringToObject(o, #f, v->f);
#define JSON_COUNTS(f, n, name_fn, etype)                                                    \
	{                                                                                    \
		cJSON *counts = cJSON_AddObjectToObject(o, #f);                              \
		for (int i = 0; counts && i < (n); i++)                                      \
			cJSON_AddNumberToObject(counts, name_fn((etype)i), (double)v->f[i]); \
	}
#define JSON_ARRAY(f, n, name)                                                    \
	{                                                                         \
		cJSON *a = cJSON_AddArrayToObject(o, #f);                         \
		for (size_t i = 0; a && i < v->n; i++)                            \
			cJSON_AddItemToArray(a, kbpipe_json_##name(&v->f[i]));    \
	}
#define JSON_STRS(f, n)                                                           \
	{                                                                         \
		cJSON *a = cJSON_AddArrayToObject(o, #f);                         \
		for (size_t i = 0; a && i < v->n; i++)                            \
			cJSON_AddItemToArray(a, cJSON_CreateString(v->f[i]));     \
	}
#define JSON_STRUCT(f, name) cJSON_AddItemToObject(o, #f, kbpipe_json_##name(&v->f));

/* JSON text as the value it holds; text that does not parse as itself, a string. */
static cJSON *json_text(const char *text)
{
	cJSON *v;

	if (!text)
		return cJSON_CreateNull();
	v = cJSON_Parse(text);
	return v ? v : cJSON_CreateString(text);
}

#define DEFINE_JSON(name)                                       \
	cJSON *kbpipe_json_##name(const kbp_##name *v)          \
	{                                                       \
		cJSON *o = cJSON_CreateObject();                \
                                                                \
		if (!o)                                         \
			return NULL;                            \
		KBP_FIELDS_##name(JSON_FIELD)                   \
		return o;                                       \
	}

KBPIPE_JSON_STRUCTS(DEFINE_JSON)
