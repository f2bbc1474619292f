/* SPDX-License-Identifier: MIT */
/*
 * Gateways from a JSON file: {"sandbox": {…}, "esewa": {…}, "khalti": {…}},
 * each object holding the fields of its options struct. Unknown keys are
 * errors, so a typo is never silently a default, and a key that looks like
 * a secret is refused: secrets come from the environment or a file only.
 */
#include <cjson/cJSON.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/pipeline_internal.h"
#include "core/validate.h"
#include "util/strings.h"

#define CONFIG_MAX (64 * 1024)

typedef enum field_type { F_STRING, F_BOOL, F_INT } field_type;

typedef struct field {
	const char *key;
	field_type type;
	size_t offset;              /* in the options struct */
} field;

#define S(type, member) { #member, F_STRING, offsetof(type, member) }
#define B(type, member) { #member, F_BOOL, offsetof(type, member) }
#define I(type, member) { #member, F_INT, offsetof(type, member) }

static const field sandbox_fields[] = {
	S(kbp_sandbox_options, name), S(kbp_sandbox_options, base_url), { NULL, F_INT, 0 },
};

static const field esewa_fields[] = {
	S(kbp_esewa_options, name),        S(kbp_esewa_options, product_code),
	S(kbp_esewa_options, secret_env),  S(kbp_esewa_options, secret_file),
	B(kbp_esewa_options, production),  S(kbp_esewa_options, form_url),
	S(kbp_esewa_options, status_url),  S(kbp_esewa_options, success_url),
	S(kbp_esewa_options, failure_url), I(kbp_esewa_options, timeout_ms),
	{ NULL, F_INT, 0 },
};

static const field khalti_fields[] = {
	S(kbp_khalti_options, name),         S(kbp_khalti_options, secret_env),
	S(kbp_khalti_options, secret_file),  B(kbp_khalti_options, production),
	S(kbp_khalti_options, base_url),     S(kbp_khalti_options, return_url),
	S(kbp_khalti_options, website_url),  S(kbp_khalti_options, purchase_order_name),
	I(kbp_khalti_options, timeout_ms),   { NULL, F_INT, 0 },
};

static int looks_secret(const char *key)
{
	static const char *const words[] = { "secret", "password", "key", "token" };

	if (strcmp(key, "secret_env") == 0 || strcmp(key, "secret_file") == 0)
		return 0;
	for (size_t i = 0; i < sizeof(words) / sizeof(words[0]); i++)
		if (strstr(key, words[i]))
			return 1;
	return 0;
}

/* Copies one JSON member into the options struct; strings stay owned by the document. */
static int set_field(void *opts, const field *f, const cJSON *v, const char *section)
{
	char *at = (char *)opts + f->offset;

	switch (f->type) {
	case F_STRING:
		if (!cJSON_IsString(v))
			return kbp_error_set(KBP_EINVAL, "gateway config: %s.%s must be a string", section, f->key);
		*(const char **)(void *)at = v->valuestring;
		return 0;
	case F_BOOL:
		if (!cJSON_IsBool(v))
			return kbp_error_set(KBP_EINVAL, "gateway config: %s.%s must be true or false", section, f->key);
		*(int *)(void *)at = cJSON_IsTrue(v);
		return 0;
	case F_INT:
		if (!cJSON_IsNumber(v) || v->valuedouble < 0 || v->valuedouble > 3600000 ||
		    v->valuedouble != (double)(int64_t)v->valuedouble)
			return kbp_error_set(KBP_EINVAL, "gateway config: %s.%s must be a whole number of ms up to 3600000",
			                     section, f->key);
		*(int64_t *)(void *)at = (int64_t)v->valuedouble;
		return 0;
	}
	return kbp_error_set(KBP_EINVAL, "gateway config: %s.%s has an unknown type", section, f->key);
}

static int fill(void *opts, const field *fields, const cJSON *obj, const char *section)
{
	const cJSON *member;

	if (!cJSON_IsObject(obj))
		return kbp_error_set(KBP_EINVAL, "gateway config: \"%s\" must be an object", section);
	cJSON_ArrayForEach(member, obj) {
		const field *f = fields;
		int rc;
		if (looks_secret(member->string))
			return kbp_error_set(KBP_EINVAL,
			                     "gateway config: %s.%s: secrets are not read from the config "
			                     "file; name them with secret_env or secret_file",
			                     section, member->string);
		while (f->key && strcmp(f->key, member->string) != 0)
			f++;
		if (!f->key)
			return kbp_error_set(KBP_EINVAL, "gateway config: unknown key %s.%s", section,
			                     member->string);
		if ((rc = set_field(opts, f, member, section)))
			return rc;
	}
	return 0;
}

static int add_section(kbp_pipeline *p, const cJSON *member)
{
	const char *name = member->string;
	int rc;

	if (strcmp(name, "sandbox") == 0) {
		kbp_sandbox_options o = KBP_SANDBOX_OPTIONS_INIT;
		return (rc = fill(&o, sandbox_fields, member, name)) ? rc : kbp_gateway_add_sandbox(p, &o);
	}
	if (strcmp(name, "esewa") == 0) {
		kbp_esewa_options o = KBP_ESEWA_OPTIONS_INIT;
		return (rc = fill(&o, esewa_fields, member, name)) ? rc : kbp_gateway_add_esewa(p, &o);
	}
	if (strcmp(name, "khalti") == 0) {
		kbp_khalti_options o = KBP_KHALTI_OPTIONS_INIT;
		return (rc = fill(&o, khalti_fields, member, name)) ? rc : kbp_gateway_add_khalti(p, &o);
	}
	return kbp_error_set(KBP_EINVAL, "gateway config: unknown gateway \"%s\" (sandbox, esewa, khalti)",
	                     name);
}

static int read_file(const char *path, char **out, size_t *len)
{
	FILE *f = fopen(path, "rb");
	char *buf;
	size_t n;

	if (!f)
		return kbp_error_set(KBP_ENOTFOUND, "gateway config: cannot open %s", path);
	buf = malloc(CONFIG_MAX + 1);
	if (!buf) {
		fclose(f);
		return kbp__oom();
	}
	n = fread(buf, 1, CONFIG_MAX + 1, f);
	fclose(f);
	if (n > CONFIG_MAX) {
		free(buf);
		return kbp_error_set(KBP_ETOOBIG, "gateway config: %s is larger than %d bytes", path, CONFIG_MAX);
	}
	buf[n] = '\0';
	*out = buf;
	*len = n;
	return 0;
}

int kbp_gateways_load(kbp_pipeline *p, const char *path)
{
	cJSON *doc, *member;
	char *text = NULL;
	size_t len = 0;
	int rc;

	KBP_CHECK_PIPELINE(p);
	if (!path || !*path)
		return kbp_error_set(KBP_EINVAL, "gateway config path is missing");
	if ((rc = read_file(path, &text, &len)))
		return rc;
	doc = kbp_utf8_valid(text, len) ? cJSON_ParseWithLengthOpts(text, len + 1, NULL, 1) : NULL;
	free(text);
	if (!cJSON_IsObject(doc)) {
		cJSON_Delete(doc);
		return kbp_error_set(KBP_EPARSE, "gateway config: %s is not a JSON object", path);
	}
	cJSON_ArrayForEach(member, doc) {
		if ((rc = add_section(p, member)))
			break;
	}
	cJSON_Delete(doc);
	return rc;
}
