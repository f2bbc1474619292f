/* SPDX-License-Identifier: MIT */
/*
 * A scanner over the top level of a JSON object that reports each member's
 * value as the text that was sent. eSewa signs "total_amount=133.0" whatever
 * a JSON library would print for the number 133.0, so a signature can only
 * be checked against the literal text.
 */
#include <cjson/cJSON.h>
#include <stdlib.h>
#include <string.h>

#include "http/gwutil.h"
#include "util/strings.h"

typedef struct cursor {
	const char *s;
	size_t len, pos;
} cursor;

static void skip_ws(cursor *c)
{
	while (c->pos < c->len &&
	       (c->s[c->pos] == ' ' || c->s[c->pos] == '\t' || c->s[c->pos] == '\n' ||
	        c->s[c->pos] == '\r'))
		c->pos++;
}

/* At an opening quote: moves past the closing one; the contents in *text, *n. */
static int scan_string(cursor *c, const char **text, size_t *n, int *escaped)
{
	size_t start;

	if (c->pos >= c->len || c->s[c->pos] != '"')
		return -1;
	start = ++c->pos;
	*escaped = 0;
	while (c->pos < c->len && c->s[c->pos] != '"') {
		if (c->s[c->pos] == '\\') {
			*escaped = 1;
			c->pos++;
		}
		c->pos++;
	}
	if (c->pos >= c->len)
		return -1;
	*text = c->s + start;
	*n = c->pos - start;
	c->pos++;
	return 0;
}

static int scan_nested(cursor *c)
{
	size_t depth = 0;

	do {
		char ch;
		if (c->pos >= c->len)
			return -1;
		ch = c->s[c->pos];
		if (ch == '"') {
			const char *t;
			size_t n;
			int e;
			if (scan_string(c, &t, &n, &e) != 0)
				return -1;
			continue;
		}
		if (ch == '{' || ch == '[')
			depth++;
		else if (ch == '}' || ch == ']')
			depth--;
		c->pos++;
	} while (depth > 0);
	return 0;
}

static int scan_value(cursor *c, kbp__json_raw *v)
{
	size_t start = c->pos;

	if (c->pos >= c->len)
		return -1;
	v->escaped = 0;
	switch (c->s[c->pos]) {
	case '"':
		v->kind = KBP_JSON_STRING;
		return scan_string(c, &v->text, &v->len, &v->escaped);
	case '{':
	case '[':
		if (scan_nested(c) != 0)
			return -1;
		v->kind = KBP_JSON_OTHER;
		break;
	default:
		while (c->pos < c->len && strchr("+-.0123456789eEtruefalsn", c->s[c->pos]) &&
		       c->s[c->pos] != '\0')
			c->pos++;
		if (c->pos == start)
			return -1;
		v->kind = (c->s[start] == '-' || (c->s[start] >= '0' && c->s[start] <= '9'))
		                  ? KBP_JSON_NUMBER
		                  : KBP_JSON_OTHER;
		break;
	}
	v->text = c->s + start;
	v->len = c->pos - start;
	return 0;
}

/*
 * Walks the members; for each calls visit(name, name_len, value, ctx), which
 * returns non-zero to stop. Returns -1 on a malformed object or an escaped
 * name, else what the last visit returned (0 when the walk completed).
 */
typedef int (*visit_fn)(const char *name, size_t n, const kbp__json_raw *v, void *ctx);

static int walk(const char *json, size_t len, visit_fn visit, void *ctx)
{
	cursor c = { json, len, 0 };

	skip_ws(&c);
	if (c.pos >= c.len || c.s[c.pos] != '{')
		return -1;
	c.pos++;
	skip_ws(&c);
	if (c.pos < c.len && c.s[c.pos] == '}')
		return 0;
	for (;;) {
		const char *name;
		size_t n;
		int escaped, rc;
		kbp__json_raw v;
		skip_ws(&c);
		if (scan_string(&c, &name, &n, &escaped) != 0 || escaped)
			return -1;
		skip_ws(&c);
		if (c.pos >= c.len || c.s[c.pos] != ':')
			return -1;
		c.pos++;
		skip_ws(&c);
		if (scan_value(&c, &v) != 0)
			return -1;
		if ((rc = visit(name, n, &v, ctx)) != 0)
			return rc;
		skip_ws(&c);
		if (c.pos >= c.len)
			return -1;
		if (c.s[c.pos] == '}')
			return 0;
		if (c.s[c.pos] != ',')
			return -1;
		c.pos++;
	}
}

typedef struct find_ctx {
	const char *name;
	size_t n;
	kbp__json_raw *out;
} find_ctx;

static int visit_find(const char *name, size_t n, const kbp__json_raw *v, void *ctx)
{
	find_ctx *f = ctx;

	if (n != f->n || memcmp(name, f->name, n) != 0)
		return 0;
	*f->out = *v;
	return 1;
}

int kbp__json_raw_get(const char *json, size_t len, const char *name, kbp__json_raw *out)
{
	find_ctx f = { name, strlen(name), out };

	return walk(json, len, visit_find, &f) == 1 ? 1 : 0;
}

/* Gateway answers have a dozen members; the bound keeps the uniqueness check cheap. */
#define KBP_JSON_MEMBERS_MAX 64

typedef struct count_ctx {
	const char *name;
	size_t n, hits;
} count_ctx;

static int visit_count(const char *name, size_t n, const kbp__json_raw *v, void *ctx)
{
	count_ctx *k = ctx;

	(void)v;
	if (n == k->n && memcmp(name, k->name, n) == 0)
		k->hits++;
	return 0;
}

typedef struct unique_ctx {
	const char *json;
	size_t len;
} unique_ctx;

/* Quadratic, but callbacks are small and bounded: no allocation needed. */
static int visit_unique(const char *name, size_t n, const kbp__json_raw *v, void *ctx)
{
	unique_ctx *u = ctx;
	count_ctx k = { name, n, 0 };

	(void)v;
	if (walk(u->json, u->len, visit_count, &k) != 0 || k.hits != 1)
		return 2;
	return 0;
}

static int visit_total(const char *name, size_t n, const kbp__json_raw *v, void *ctx)
{
	size_t *total = ctx;

	(void)name;
	(void)n;
	(void)v;
	return ++*total > KBP_JSON_MEMBERS_MAX ? 2 : 0;
}

int kbp__json_members_check(const char *json, size_t len)
{
	unique_ctx u = { json, len };
	size_t total = 0;
	cursor c;

	if (walk(json, len, visit_total, &total) != 0 || walk(json, len, visit_unique, &u) != 0)
		return -1;
	/* Nothing but whitespace may follow the object. */
	c = (cursor){ json, len, 0 };
	skip_ws(&c);
	if (scan_value(&c, &(kbp__json_raw){ 0 }) != 0)
		return -1;
	skip_ws(&c);
	return c.pos == c.len ? 0 : -1;
}

int kbp__json_raw_int(const kbp__json_raw *v, int64_t *out)
{
	int64_t x = 0;

	if (v->kind != KBP_JSON_NUMBER || v->len == 0 || v->len > 15)
		return -1;
	for (size_t i = 0; i < v->len; i++) {
		if (v->text[i] < '0' || v->text[i] > '9')
			return -1;
		x = x * 10 + (v->text[i] - '0');
	}
	if (v->len > 1 && v->text[0] == '0')
		return -1;
	*out = x;
	return 0;
}

void kbp__json_doc_clear(kbp__json_doc *d)
{
	cJSON_Delete(d->root);
	free(d->text);
	d->root = NULL;
	d->text = NULL;
}

int kbp__json_doc_parse(kbp__json_doc *d, const char *bytes, size_t len)
{
	d->root = NULL;
	d->len = len;
	if (!(d->text = malloc(len + 1)))
		return -2;
	memcpy(d->text, bytes, len);
	d->text[len] = '\0';
	if (memchr(d->text, '\0', len) || !kbp_utf8_valid(d->text, len))
		return -1;
	d->root = cJSON_ParseWithLengthOpts(d->text, len + 1, NULL, 1);
	if (!cJSON_IsObject(d->root) || kbp__json_members_check(d->text, len) != 0)
		return -1;
	return 0;
}
