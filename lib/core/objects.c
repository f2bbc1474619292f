/* SPDX-License-Identifier: MIT */
#include "core/objects.h"

#include <stdlib.h>
#include <string.h>


/* Copies a string member, remembering a failed allocation in *ok. */
static char *dup_str(const char *s, int *ok)
{
	char *d;

	if (!s)
		return NULL;
	d = strdup(s);
	if (!d)
		*ok = 0;
	return d;
}

static void *dup_array(const void *src, size_t n, size_t size, int *ok)
{
	void *d;

	if (n == 0)
		return NULL;
	d = malloc(n * size);
	if (!d) {
		*ok = 0;
		return NULL;
	}
	memcpy(d, src, n * size);
	return d;
}

/*
 * A copy starts as the source's bytes (every value member is then right) and
 * replaces each owned pointer with its own copy; where an allocation fails
 * the pointer is NULL and an array's count 0, so that clear frees only what
 * the copy owns.
 */
#define COPY_FIELD(kind, ...) COPY_##kind(__VA_ARGS__)
#define COPY_STR(f) d->f = dup_str(s->f, &ok);
#define COPY_JSON(f) COPY_STR(f)
#define COPY_I64(f)
#define COPY_INT(f)
#define COPY_BOOL(f)
#define COPY_ENUM(f, name_fn)
#define COPY_CUR(f)
#define COPY_COUNTS(f, n, name_fn, etype)
#define COPY_STRUCT(f, name)                            \
	if (kbp__##name##_copy(&d->f, &s->f) != 0)      \
		ok = 0;
#define COPY_ARRAY(f, n, name)                                         \
	d->f = dup_array(s->f, s->n, sizeof(*s->f), &ok);              \
	if (!d->f)                                                     \
		d->n = 0;                                              \
	for (size_t i = 0; i < d->n; i++)                              \
		if (kbp__##name##_copy(&d->f[i], &s->f[i]) != 0)       \
			ok = 0;
#define COPY_STRS(f, n)                                                \
	d->f = dup_array(s->f, s->n, sizeof(*s->f), &ok);              \
	if (!d->f)                                                     \
		d->n = 0;                                              \
	for (size_t i = 0; i < d->n; i++)                              \
		d->f[i] = dup_str(s->f[i], &ok);

#define CLEAR_FIELD(kind, ...) CLEAR_##kind(__VA_ARGS__)
#define CLEAR_STR(f) free(v->f);
#define CLEAR_JSON(f) CLEAR_STR(f)
#define CLEAR_I64(f)
#define CLEAR_INT(f)
#define CLEAR_BOOL(f)
#define CLEAR_ENUM(f, name_fn)
#define CLEAR_CUR(f)
#define CLEAR_COUNTS(f, n, name_fn, etype)
#define CLEAR_STRUCT(f, name) kbp__##name##_clear(&v->f);
#define CLEAR_ARRAY(f, n, name)                         \
	for (size_t i = 0; i < v->n; i++)               \
		kbp__##name##_clear(&v->f[i]);          \
	free(v->f);
#define CLEAR_STRS(f, n)                                \
	for (size_t i = 0; i < v->n; i++)               \
		free(v->f[i]);                          \
	free(v->f);

#define DEFINE_OBJECT(name)                                                   \
	int kbp__##name##_copy(kbp_##name *d, const kbp_##name *s)            \
	{                                                                     \
		int ok = 1;                                                   \
                                                                              \
		*d = *s;                                                      \
		KBP_FIELDS_##name(COPY_FIELD)                                 \
		return ok ? 0 : -1;                                           \
	}                                                                     \
                                                                              \
	kbp_##name *kbp__##name##_dup(const kbp_##name *src)                  \
	{                                                                     \
		kbp_##name *d = calloc(1, sizeof(*d));                        \
                                                                              \
		if (d && kbp__##name##_copy(d, src) != 0) {                   \
			kbp__##name##_clear(d);                               \
			free(d);                                              \
			return NULL;                                          \
		}                                                             \
		return d;                                                     \
	}                                                                     \
                                                                              \
	void kbp__##name##_clear(kbp_##name *v)                               \
	{                                                                     \
		KBP_FIELDS_##name(CLEAR_FIELD)                                \
	}

KBP_FIELDS_STRUCTS(DEFINE_OBJECT)

#define DEFINE_FREE(name)                       \
	void kbp_##name##_free(kbp_##name *obj) \
	{                                       \
		if (!obj)                       \
			return;                 \
		kbp__##name##_clear(obj);       \
		free(obj);                      \
	}

DEFINE_FREE(vendor)
DEFINE_FREE(product)
DEFINE_FREE(cart)
DEFINE_FREE(intent)
DEFINE_FREE(job)
DEFINE_FREE(order)
DEFINE_FREE(verification)
DEFINE_FREE(order_status)
DEFINE_FREE(health)
DEFINE_FREE(doctor_report)

void kbp_verification_list_free(kbp_verification_list *list)
{
	if (!list)
		return;
	for (size_t i = 0; i < list->n; i++)
		kbp__verification_clear(&list->items[i]);
	free(list->items);
	free(list);
}

void kbp_job_list_free(kbp_job_list *list)
{
	if (!list)
		return;
	for (size_t i = 0; i < list->n; i++)
		kbp__job_clear(&list->jobs[i]);
	free(list->jobs);
	free(list->next_after);
	free(list);
}
