/* SPDX-License-Identifier: MIT */
#include <stdlib.h>
#include <string.h>

#include "core/objects.h"
#include "core/fields.h"
#include "storage/postgres/pg_internal.h"

char *js_str(const cJSON *o, const char *name, int *ok)
{
	const cJSON *v = cJSON_GetObjectItemCaseSensitive(o, name);
	char *copy;

	if (!cJSON_IsString(v))
		return NULL;
	if (!(copy = strdup(v->valuestring)))
		*ok = 0;
	return copy;
}

int64_t js_i64(const cJSON *o, const char *name)
{
	const cJSON *v = cJSON_GetObjectItemCaseSensitive(o, name);

	/* JSON numbers are doubles: exact for every value below 2^53, which ids, money and ms are. */
	return cJSON_IsNumber(v) ? (int64_t)v->valuedouble : 0;
}

int js_bool(const cJSON *o, const char *name)
{
	return cJSON_IsTrue(cJSON_GetObjectItemCaseSensitive(o, name));
}

static void js_currency(char out[4], const cJSON *o, const char *name)
{
	const cJSON *v = cJSON_GetObjectItemCaseSensitive(o, name);

	memset(out, 0, 4);
	if (cJSON_IsString(v))
		strncpy(out, v->valuestring, 3);
}

/* An array for the elements of the JSON array a (NULL for none, or with *ok 0 when memory runs out). */
static void *js_array_of(const cJSON *a, size_t size, int *ok)
{
	void *items;

	if (!cJSON_IsArray(a) || cJSON_GetArraySize(a) == 0)
		return NULL;
	if (!(items = calloc((size_t)cJSON_GetArraySize(a), size)))
		*ok = 0;
	return items;
}

/* Allocates an array for a JSON array's elements; *n is its length. */
static void *js_array(const cJSON *o, const char *name, size_t size, size_t *n, int *ok)
{
	const cJSON *a = cJSON_GetObjectItemCaseSensitive(o, name);
	void *items = js_array_of(a, size, ok);

	*n = items ? (size_t)cJSON_GetArraySize(a) : 0;
	return items;
}

/* JSON text stored as jsonb (a job's payload): it may arrive as an object or as its text. */
static char *js_json_text(const cJSON *o, const char *name, int *ok)
{
	const cJSON *v = cJSON_GetObjectItemCaseSensitive(o, name);
	char *text;

	if (cJSON_IsString(v))
		return js_str(o, name, ok);
	if (!v || !(text = cJSON_PrintUnformatted(v))) {
		*ok = 0;
		return NULL;
	}
	return text;
}

static void js_counts(int64_t *out, int n, const cJSON *o, const char *name)
{
	const cJSON *item;
	int i = 0;

	cJSON_ArrayForEach(item, cJSON_GetObjectItemCaseSensitive(o, name)) {
		if (i < n && cJSON_IsNumber(item))
			out[i] = (int64_t)item->valuedouble;
		i++;
	}
}

/*
 * The functions' rows are JSON objects whose keys are the members' names
 * (core/fields.h): kbp_name is read by fill_name, each member by its kind.
 * A string that cannot be copied leaves *ok 0 and the member NULL.
 */
#define READ_FIELD(kind, ...) READ_##kind(__VA_ARGS__)
#define READ_STR(f) v->f = js_str(o, #f, &ok);
#define READ_JSON(f) v->f = js_json_text(o, #f, &ok);
#define READ_I64(f) v->f = js_i64(o, #f);
#define READ_INT(f) v->f = (int)js_i64(o, #f);
#define READ_BOOL(f) v->f = js_bool(o, #f);
#define READ_ENUM(f, name_fn) v->f = (int)js_i64(o, #f);
#define READ_CUR(f) js_currency(v->f, o, #f);
#define READ_COUNTS(f, n, name_fn, etype) js_counts(v->f, n, o, #f);
#define READ_ARRAY(f, n, name)                                                    \
	{                                                                         \
		const cJSON *item;                                                \
		size_t i = 0;                                                     \
                                                                                  \
		v->f = js_array(o, #f, sizeof(*v->f), &v->n, &ok);                \
		cJSON_ArrayForEach(item, cJSON_GetObjectItemCaseSensitive(o, #f)) { \
			if (i == v->n)                                            \
				break;                                            \
			if (fill_##name(&v->f[i++], item) != 0)                   \
				ok = 0;                                           \
		}                                                                 \
	}

#define DEFINE_FILL(name)                                              \
	static int fill_##name(kbp_##name *v, const cJSON *o)          \
	{                                                              \
		int ok = 1;                                            \
                                                                       \
		KBP_FIELDS_##name(READ_FIELD)                          \
		return ok ? 0 : -1;                                    \
	}

/* What the PostgreSQL functions return, elements before the structs that hold them. */
DEFINE_FILL(vendor)
DEFINE_FILL(product)
DEFINE_FILL(cart_item)
DEFINE_FILL(cart)
DEFINE_FILL(intent_item)
DEFINE_FILL(intent)
DEFINE_FILL(verification)
DEFINE_FILL(job_error)
DEFINE_FILL(job)
DEFINE_FILL(order)
DEFINE_FILL(metrics)

/* available is not stored: it is what is on hand and not reserved. */
static int fill_product_available(kbp_product *p, const cJSON *o)
{
	int rc = fill_product(p, o);

	p->available = p->on_hand - p->reserved;
	return rc;
}

int js_verification_fill(kbp_verification *v, const cJSON *o)
{
	return fill_verification(v, o);
}

int js_job_fill(kbp_job *j, const cJSON *o)
{
	return fill_job(j, o);
}

/* A new kbp_name read from o by fill; NULL when memory runs out. */
#define DEFINE_READ(name, fill)                                        \
	kbp_##name *js_##name(const cJSON *o)                          \
	{                                                              \
		kbp_##name *v = calloc(1, sizeof(*v));                 \
                                                                       \
		if (v && fill(v, o) != 0) {                            \
			kbp_##name##_free(v);                          \
			return NULL;                                   \
		}                                                      \
		return v;                                              \
	}

DEFINE_READ(vendor, fill_vendor)
DEFINE_READ(product, fill_product_available)
DEFINE_READ(cart, fill_cart)
DEFINE_READ(intent, fill_intent)
DEFINE_READ(verification, fill_verification)
DEFINE_READ(order, fill_order)
DEFINE_READ(job, fill_job)

kbp_job_list *js_job_list(const cJSON *array, const cJSON *next_after)
{
	kbp_job_list *list = calloc(1, sizeof(*list));
	const cJSON *item;

	if (!list)
		return NULL;
	if (cJSON_GetArraySize(array) > 0 &&
	    !(list->jobs = calloc((size_t)cJSON_GetArraySize(array), sizeof(*list->jobs)))) {
		free(list);
		return NULL;
	}
	cJSON_ArrayForEach(item, array) {
		if (js_job_fill(&list->jobs[list->n++], item) != 0) {
			kbp_job_list_free(list);
			return NULL;
		}
	}
	if (cJSON_IsString(next_after) && !(list->next_after = strdup(next_after->valuestring))) {
		kbp_job_list_free(list);
		return NULL;
	}
	return list;
}

/* No finalize job yet: its state is -1, not available. */
void js_metrics(kbp_metrics *m, const cJSON *o)
{
	memset(m, 0, sizeof(*m));
	fill_metrics(m, o);
}

static int record_fill(kbp_intent_record *r, const cJSON *o)
{
	kbp_intent *in = js_intent(o);
	int ok = in != NULL;

	if (!in)
		return -1;
	r->intent = *in;
	free(in);
	r->success_url = js_str(o, "success_url", &ok);
	r->failure_url = js_str(o, "failure_url", &ok);
	r->finalize_job_id = js_str(o, "finalize_job_id", &ok);
	r->paid_at = js_i64(o, "paid_at");
	r->reconcile_marked = js_bool(o, "reconcile_marked");
	return ok ? 0 : -1;
}

static int products_fill(kbp_facts *f, const cJSON *a)
{
	const cJSON *item;
	int ok = 1;

	if (!(f->products = js_array_of(a, sizeof(*f->products), &ok)))
		return ok ? 0 : -1;
	cJSON_ArrayForEach(item, a) {
		kbp_product *p = js_product(item);
		if (!p)
			return -1;
		f->products[f->n_products++] = *p;
		free(p);
	}
	return 0;
}

static int scanned_fill(kbp_facts *f, const cJSON *a)
{
	const cJSON *item;
	int ok = 1;

	if (!(f->scanned = js_array_of(a, sizeof(*f->scanned), &ok)))
		return ok ? 0 : -1;
	cJSON_ArrayForEach(item, a) {
		if (record_fill(&f->scanned[f->n_scanned], item) != 0)
			return -1;
		f->n_scanned++;
	}
	return 0;
}

/* A member of the facts, absent when missing or null (the status statement's order and job). */
static const cJSON *member(const cJSON *doc, const char *name)
{
	const cJSON *v = cJSON_GetObjectItemCaseSensitive(doc, name);

	return cJSON_IsNull(v) ? NULL : v;
}

int pg_facts_parse(kbp_facts *f, const cJSON *doc)
{
	const cJSON *v;
	int ok = 1;

	if ((v = member(doc, "intent")))
		ok = (f->intent = calloc(1, sizeof(*f->intent))) && record_fill(f->intent, v) == 0;
	if (ok && (v = member(doc, "cart")))
		ok = (f->cart = js_cart(v)) != NULL;
	if (ok && (v = member(doc, "products")))
		ok = products_fill(f, v) == 0;
	if (ok && (v = member(doc, "order")))
		ok = (f->order = js_order(v)) != NULL;
	if (ok && (v = member(doc, "accepted")))
		ok = (f->accepted = js_verification(v)) != NULL;
	if (ok && (v = member(doc, "job")))
		ok = (f->job = js_job(v)) != NULL;
	if (ok && (v = member(doc, "holder")))
		ok = (f->holder = js_job(v)) != NULL;
	if (ok && (v = member(doc, "scanned")))
		ok = scanned_fill(f, v) == 0;
	if (ok && (v = member(doc, "jobs")))
		ok = (f->jobs = js_job_list(v, NULL)) != NULL;
	return ok ? 0 : pg_oom();
}
