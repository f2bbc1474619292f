/* SPDX-License-Identifier: MIT */
/*
 * The field lists (lib/core/fields.h) against their structs and their
 * consumers: each list entry is the struct's member of that kind, in order,
 * with nothing between two entries but padding; and a struct with every
 * member set to a distinct value comes back the same from a deep copy and,
 * with PostgreSQL built in, from the backend's JSON reader; kbpipe's JSON
 * has a key for each member. (That no member
 * is missing from a list by name is fields_names.py's check.)
 */
#include <check.h>
#include <stdalign.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cjson/cJSON.h>

#include "core/fields.h"
#include "core/objects.h"
#include "kbpipe.h"
#ifdef KBP_HAVE_POSTGRES
#include "storage/postgres/pg_internal.h"
#endif

/* ---- layout -------------------------------------------------------------- */

typedef struct member {
	const char *name;
	size_t offset, size, align;
	int kind_ok;                /* the member's type is what its kind says */
} member;

#define TYPE_OF(T, f) __typeof__(((T *)0)->f)
#define MEMBER(T, f, ok) { #f, offsetof(T, f), sizeof(TYPE_OF(T, f)), alignof(TYPE_OF(T, f)), (ok) },
#define IS(T, f, type) _Generic(((T *)0)->f, type: 1, default: 0)

#define LAYOUT(kind, ...) LAYOUT_##kind(__VA_ARGS__)
#define LAYOUT_STR(f) MEMBER(T, f, IS(T, f, char *))
#define LAYOUT_JSON(f) MEMBER(T, f, IS(T, f, char *))
#define LAYOUT_I64(f) MEMBER(T, f, IS(T, f, int64_t))
#define LAYOUT_INT(f) MEMBER(T, f, IS(T, f, int))
#define LAYOUT_BOOL(f) MEMBER(T, f, IS(T, f, int))
#define LAYOUT_ENUM(f, name_fn) MEMBER(T, f, sizeof(((T *)0)->f) == sizeof(int) && !IS(T, f, int))
#define LAYOUT_CUR(f) MEMBER(T, f, sizeof(((T *)0)->f) == 4 && IS(T, f, char *))
#define LAYOUT_COUNTS(f, n, name_fn, etype) MEMBER(T, f, sizeof(((T *)0)->f) == (n) * sizeof(int64_t))
#define LAYOUT_ARRAY(f, n, name) MEMBER(T, n, IS(T, n, size_t)) MEMBER(T, f, IS(T, f, kbp_##name *))
#define LAYOUT_STRS(f, n) MEMBER(T, n, IS(T, n, size_t)) MEMBER(T, f, IS(T, f, char **))
#define LAYOUT_STRUCT(f, name) MEMBER(T, f, IS(T, f, kbp_##name))

static size_t align_up(size_t n, size_t a)
{
	return (n + a - 1) / a * a;
}

static void check_layout(const char *type, const member *m, size_t n, size_t size, size_t align)
{
	size_t end = 0;

	for (size_t i = 0; i < n; i++) {
		ck_assert_msg(m[i].kind_ok, "%s.%s: the type is not the list's kind", type, m[i].name);
		ck_assert_msg(m[i].offset == align_up(end, m[i].align),
		              "%s.%s: at offset %zu, but the list's previous member ends at %zu: a member "
		              "is missing from the list or out of order", type, m[i].name, m[i].offset, end);
		end = m[i].offset + m[i].size;
	}
	ck_assert_msg(align_up(end, align) == size, "%s: the list ends at %zu of %zu bytes", type, end,
	              size);
}

#define TEST_LAYOUT(name)                                                                   \
	{                                                                                   \
		typedef kbp_##name T;                                                       \
		static const member m[] = { KBP_FIELDS_##name(LAYOUT) };                    \
		check_layout("kbp_" #name, m, sizeof(m) / sizeof(m[0]), sizeof(T), alignof(T)); \
	}

START_TEST(lists_match_struct_layouts)
{
	KBP_FIELDS_STRUCTS(TEST_LAYOUT)
}
END_TEST

/* ---- distinct values ------------------------------------------------------ */

static char *text(int seed)
{
	char buf[32];

	snprintf(buf, sizeof buf, "v%d", seed);
	return strdup(buf);
}

/* Every enum of the lists has 1 (and 0): a valid value that is not the zero a lost member has. */
#define FILL(kind, ...) FILL_##kind(__VA_ARGS__)
#define FILL_STR(f) v->f = text(seed++);
#define FILL_JSON(f)                                                      \
	v->f = malloc(32);                                                \
	snprintf(v->f, 32, "{\"n\":%d}", seed++);
#define FILL_I64(f) v->f = (int64_t)(seed++) * 4294967311LL;
#define FILL_INT(f) v->f = seed++;
#define FILL_BOOL(f) v->f = 1;
#define FILL_ENUM(f, name_fn) v->f = 1;
#define FILL_CUR(f)                                  \
	v->f[0] = 'C';                               \
	v->f[1] = (char)('0' + seed / 10 % 10);      \
	v->f[2] = (char)('0' + seed++ % 10);         \
	v->f[3] = '\0';
#define FILL_COUNTS(f, n, name_fn, etype)       \
	for (int i = 0; i < (n); i++)    \
		v->f[i] = seed++;
#define FILL_ARRAY(f, n, name)                                     \
	v->n = 2;                                                  \
	v->f = calloc(2, sizeof(*v->f));                           \
	for (size_t i = 0; i < v->n; i++)                          \
		seed = fill_##name(&v->f[i], seed);
#define FILL_STRS(f, n)                                            \
	v->n = 2;                                                  \
	v->f = calloc(2, sizeof(*v->f));                           \
	for (size_t i = 0; i < v->n; i++)                          \
		v->f[i] = text(seed++);
#define FILL_STRUCT(f, name) seed = fill_##name(&v->f, seed);

/* a and b hold the same values in memory of their own. */
#define SAME(kind, ...) SAME_##kind(__VA_ARGS__)
#define SAME_STRING(f, what)                                                              \
	ck_assert_msg(a->f && b->f && a->f != b->f && strcmp(a->f, b->f) == 0, "%s.%s", what, #f);
#define SAME_STR(f) SAME_STRING(f, type)
#define SAME_JSON(f) SAME_STRING(f, type)
#define SAME_VALUE(f) ck_assert_msg(a->f == b->f, "%s.%s", type, #f);
#define SAME_I64(f) SAME_VALUE(f)
#define SAME_INT(f) SAME_VALUE(f)
#define SAME_BOOL(f) SAME_VALUE(f)
#define SAME_ENUM(f, name_fn) SAME_VALUE(f)
#define SAME_CUR(f) ck_assert_msg(memcmp(a->f, b->f, sizeof a->f) == 0, "%s.%s", type, #f);
#define SAME_COUNTS(f, n, name_fn, etype) ck_assert_msg(memcmp(a->f, b->f, sizeof a->f) == 0, "%s.%s", type, #f);
#define SAME_ARRAY(f, n, name)                                                          \
	ck_assert_msg(a->n == b->n && a->f != b->f, "%s.%s", type, #f);                 \
	for (size_t i = 0; i < a->n; i++)                                               \
		same_##name(&a->f[i], &b->f[i]);
#define SAME_STRS(f, n)                                                                 \
	ck_assert_msg(a->n == b->n && a->f != b->f, "%s.%s", type, #f);                 \
	for (size_t i = 0; i < a->n; i++)                                               \
		ck_assert_msg(a->f[i] != b->f[i] && strcmp(a->f[i], b->f[i]) == 0, "%s.%s", type, #f);
#define SAME_STRUCT(f, name) same_##name(&a->f, &b->f);

#define DEFINE_VALUES(name)                                                    \
	static int fill_##name(kbp_##name *v, int seed)                        \
	{                                                                      \
		KBP_FIELDS_##name(FILL)                                        \
		return seed;                                                   \
	}                                                                      \
                                                                               \
	static void same_##name(const kbp_##name *a, const kbp_##name *b)      \
	{                                                                      \
		const char *type = "kbp_" #name;                               \
                                                                               \
		(void)type;                                                    \
		KBP_FIELDS_##name(SAME)                                        \
	}

KBP_FIELDS_STRUCTS(DEFINE_VALUES)

#define TEST_DUP(name)                                                                \
	{                                                                             \
		kbp_##name src, *copy;                                                \
                                                                                      \
		memset(&src, 0, sizeof src);                                          \
		fill_##name(&src, 1);                                                 \
		copy = kbp__##name##_dup(&src);                                       \
		ck_assert_ptr_nonnull(copy);                                          \
		same_##name(&src, copy);                                              \
		kbp__##name##_clear(copy);                                            \
		free(copy);                                                           \
		kbp__##name##_clear(&src);                                            \
	}

/* Under ASan a member that clear forgets is also a leak. */
START_TEST(every_member_survives_dup)
{
	KBP_FIELDS_STRUCTS(TEST_DUP)
}
END_TEST

/* ---- the PostgreSQL backend's reader ------------------------------------- */

#ifdef KBP_HAVE_POSTGRES
/* A row as the SQL functions write it: the members' names as keys, enums as numbers. */
#define WRITE(kind, ...) WRITE_##kind(__VA_ARGS__)
#define WRITE_STR(f) cJSON_AddStringToObject(o, #f, v->f);
#define WRITE_JSON(f) cJSON_AddItemToObject(o, #f, cJSON_Parse(v->f));
#define WRITE_I64(f) cJSON_AddNumberToObject(o, #f, (double)v->f);
#define WRITE_INT(f) WRITE_I64(f)
#define WRITE_BOOL(f) cJSON_AddBoolToObject(o, #f, v->f);
#define WRITE_ENUM(f, name_fn) WRITE_I64(f)
#define WRITE_CUR(f) cJSON_AddStringToObject(o, #f, v->f);
#define WRITE_COUNTS(f, n, name_fn, etype)                                               \
	{                                                                         \
		cJSON *a = cJSON_AddArrayToObject(o, #f);                         \
		for (int i = 0; i < (n); i++)                                     \
			cJSON_AddItemToArray(a, cJSON_CreateNumber((double)v->f[i])); \
	}
#define WRITE_ARRAY(f, n, name)                                                   \
	{                                                                         \
		cJSON *a = cJSON_AddArrayToObject(o, #f);                         \
		for (size_t i = 0; i < v->n; i++)                                 \
			cJSON_AddItemToArray(a, write_##name(&v->f[i]));          \
	}

#define DEFINE_WRITE(name)                                          \
	static cJSON *write_##name(const kbp_##name *v)             \
	{                                                           \
		cJSON *o = cJSON_CreateObject();                    \
                                                                    \
		KBP_FIELDS_##name(WRITE)                            \
		return o;                                           \
	}

DEFINE_WRITE(vendor)
DEFINE_WRITE(product)
DEFINE_WRITE(cart_item)
DEFINE_WRITE(cart)
DEFINE_WRITE(intent_item)
DEFINE_WRITE(intent)
DEFINE_WRITE(verification)
DEFINE_WRITE(job_error)
DEFINE_WRITE(job)
DEFINE_WRITE(order)
DEFINE_WRITE(metrics)

/* The payload comes back as the backend prints it: compare it as JSON. */
static void canonical_payload(kbp_job *j)
{
	cJSON *parsed = cJSON_Parse(j->payload);

	free(j->payload);
	j->payload = cJSON_PrintUnformatted(parsed);
	cJSON_Delete(parsed);
}

/* src through writer, then back through the PostgreSQL reader. */
#define ROUND_TRIP(name, fixup, writer)                                            \
	{                                                                          \
		kbp_##name src, *back;                                             \
		cJSON *row;                                                        \
                                                                                   \
		memset(&src, 0, sizeof src);                                       \
		fill_##name(&src, 1);                                              \
		fixup;                                                             \
		row = writer(&src);                                                \
		ck_assert_ptr_nonnull(row);                                        \
		back = js_##name(row);                                             \
		cJSON_Delete(row);                                                 \
		ck_assert_ptr_nonnull(back);                                       \
		same_##name(&src, back);                                           \
		kbp_##name##_free(back);                                           \
		kbp__##name##_clear(&src);                                         \
	}
/* What the schema's functions answer reads back whole. */
#define TEST_READ(name, fixup) ROUND_TRIP(name, fixup, write_##name)
/* What the backend writes (records' changes) reads back whole. */
#define TEST_WRITE(name) ROUND_TRIP(name, (void)0, pg_json_##name)

START_TEST(every_member_survives_the_postgres_reader)
{
	TEST_READ(vendor, (void)0)
	TEST_READ(product, src.available = src.on_hand - src.reserved)
	TEST_READ(cart, (void)0)
	TEST_READ(intent, (void)0)
	TEST_READ(verification, (void)0)
	TEST_READ(job, canonical_payload(&src))
	TEST_READ(order, (void)0)
}
END_TEST

START_TEST(every_member_survives_the_postgres_writer)
{
	TEST_WRITE(cart)
	TEST_WRITE(intent)
	TEST_WRITE(verification)
	TEST_WRITE(order)
}
END_TEST

/* Read into the caller's struct rather than a new one. */
START_TEST(every_member_survives_the_postgres_reader_in_place)
{
	cJSON *row;
	kbp_metrics metrics, metrics_back;

	memset(&metrics, 0, sizeof metrics);
	fill_metrics(&metrics, 1);
	row = write_metrics(&metrics);
	js_metrics(&metrics_back, row);
	cJSON_Delete(row);
	same_metrics(&metrics, &metrics_back);
}
END_TEST
#endif

/* ---- kbpipe's JSON --------------------------------------------------------- */

#define KEY(kind, ...) KEY_##kind(__VA_ARGS__)
#define KEY_NAMED(f)                                                                       \
	ck_assert_msg(cJSON_HasObjectItem(o, #f), "kbpipe's JSON of kbp_%s has no %s", type, #f); \
	n++;
#define KEY_STR(f) KEY_NAMED(f)
#define KEY_JSON(f) KEY_NAMED(f)
#define KEY_I64(f) KEY_NAMED(f)
#define KEY_INT(f) KEY_NAMED(f)
#define KEY_BOOL(f) KEY_NAMED(f)
#define KEY_ENUM(f, name_fn) KEY_NAMED(f)
#define KEY_CUR(f) KEY_NAMED(f)
#define KEY_COUNTS(f, n_, name_fn, etype) KEY_NAMED(f)
#define KEY_ARRAY(f, n_, name) KEY_NAMED(f)
#define KEY_STRS(f, n_) KEY_NAMED(f)
#define KEY_STRUCT(f, name) KEY_NAMED(f)

#define TEST_KBPIPE_JSON(name)                                                         \
	{                                                                              \
		const char *type = #name;                                              \
		kbp_##name src;                                                        \
		cJSON *o;                                                              \
		int n = 0;                                                             \
                                                                                       \
		memset(&src, 0, sizeof src);                                           \
		fill_##name(&src, 1);                                                  \
		o = kbpipe_json_##name(&src);                                          \
		ck_assert_ptr_nonnull(o);                                              \
		KBP_FIELDS_##name(KEY)                                                 \
		ck_assert_int_eq(cJSON_GetArraySize(o), n);                            \
		cJSON_Delete(o);                                                       \
		kbp__##name##_clear(&src);                                             \
	}

START_TEST(kbpipe_json_has_every_member)
{
	KBPIPE_JSON_STRUCTS(TEST_KBPIPE_JSON)
}
END_TEST

static Suite *fields_suite(void)
{
	Suite *s = suite_create("fields");
	TCase *tc = tcase_create("fields");

	tcase_add_test(tc, lists_match_struct_layouts);
	tcase_add_test(tc, every_member_survives_dup);
	tcase_add_test(tc, kbpipe_json_has_every_member);
#ifdef KBP_HAVE_POSTGRES
	tcase_add_test(tc, every_member_survives_the_postgres_reader);
	tcase_add_test(tc, every_member_survives_the_postgres_reader_in_place);
	tcase_add_test(tc, every_member_survives_the_postgres_writer);
#endif
	suite_add_tcase(s, tc);
	return s;
}

int main(void)
{
	SRunner *sr = srunner_create(fields_suite());
	int failed;

	srunner_run_all(sr, CK_NORMAL);
	failed = srunner_ntests_failed(sr);
	srunner_free(sr);
	return failed ? EXIT_FAILURE : EXIT_SUCCESS;
}
