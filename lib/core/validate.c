/* SPDX-License-Identifier: MIT */
#include "core/validate.h"

#include <cjson/cJSON.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "kbpipeline.h"
#include "util/strings.h"

/* Letters, digits and ._:@- keep ids safe in URLs, logs, gateway fields and SQL text. */
static int id_char(unsigned char c)
{
	return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
	       c == '.' || c == '_' || c == ':' || c == '@' || c == '-';
}

int kbp__check_id(const char *id, const char *what)
{
	size_t len;

	if (!id || !*id)
		return kbp_error_set(KBP_EINVAL, "%s is missing", what);
	len = strnlen(id, KBP_ID_MAX + 1);
	if (len > KBP_ID_MAX)
		return kbp_error_set(KBP_ETOOBIG, "%s is longer than %d bytes", what, KBP_ID_MAX);
	for (size_t i = 0; i < len; i++)
		if (!id_char((unsigned char)id[i]))
			return kbp_error_set(KBP_EINVAL,
			                     "%s may contain only letters, digits and ._:@-", what);
	return 0;
}

int kbp__check_optional_id(const char *id, const char *what)
{
	return id ? kbp__check_id(id, what) : 0;
}

int kbp__check_name(const char *name, const char *what)
{
	size_t len;

	if (!name || !*name)
		return kbp_error_set(KBP_EINVAL, "%s is missing", what);
	len = strnlen(name, KBP_NAME_MAX + 1);
	if (len > KBP_NAME_MAX)
		return kbp_error_set(KBP_ETOOBIG, "%s is longer than %d bytes", what, KBP_NAME_MAX);
	if (!kbp_utf8_valid(name, len))
		return kbp_error_set(KBP_EPARSE, "%s is not valid UTF-8", what);
	for (size_t i = 0; i < len; i++)
		if ((unsigned char)name[i] < 0x20 || name[i] == 0x7f)
			return kbp_error_set(KBP_EINVAL, "%s contains a control character", what);
	return 0;
}

int kbp__check_currency(const char *currency)
{
	if (!currency)
		return 0;
	for (int i = 0; i < 3; i++)
		if (currency[i] < 'A' || currency[i] > 'Z')
			return kbp_error_set(KBP_EINVAL, "currency must be three upper-case letters");
	if (currency[3] != '\0')
		return kbp_error_set(KBP_EINVAL, "currency must be three upper-case letters");
	return 0;
}

int kbp__check_qty(int64_t qty)
{
	return kbp__check_range(qty, 1, KBP_QTY_MAX, "quantity");
}

int kbp__check_url(const char *url, const char *what)
{
	size_t len;

	if (!url)
		return 0;
	len = strnlen(url, KBP_URL_MAX + 1);
	if (len > KBP_URL_MAX)
		return kbp_error_set(KBP_ETOOBIG, "%s is longer than %d bytes", what, KBP_URL_MAX);
	if (strncmp(url, "https://", 8) != 0 && strncmp(url, "http://", 7) != 0)
		return kbp_error_set(KBP_EINVAL, "%s must be an http:// or https:// URL", what);
	for (size_t i = 0; i < len; i++)
		if ((unsigned char)url[i] <= 0x20 || (unsigned char)url[i] >= 0x7f)
			return kbp_error_set(KBP_EINVAL, "%s contains a space or a non-ASCII byte", what);
	return 0;
}

int kbp__check_job_kind(const char *kind)
{
	size_t len;

	if (!kind || !*kind)
		return kbp_error_set(KBP_EINVAL, "job kind is missing");
	len = strnlen(kind, KBP_JOB_KIND_MAX + 1);
	if (len > KBP_JOB_KIND_MAX)
		return kbp_error_set(KBP_EINVAL, "job kind is longer than %d bytes", KBP_JOB_KIND_MAX);
	for (size_t i = 0; i < len; i++) {
		char c = kind[i];
		if (!((c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '_' || c == '.' ||
		      c == '-'))
			return kbp_error_set(KBP_EINVAL, "job kind may contain only a-z, 0-9 and _.-");
	}
	return 0;
}

/* Whether valid JSON text has a \u0000 escape, which decodes to NUL, in one of its strings. */
static int has_nul_escape(const char *json, size_t len)
{
	int in_string = 0;

	for (size_t i = 0; i < len; i++) {
		if (json[i] == '"') {
			in_string = !in_string;
		} else if (in_string && json[i] == '\\') {
			if (len - i > 5 && memcmp(json + i + 1, "u0000", 5) == 0)
				return 1;
			i++;    /* the escaped character, which may be a quote */
		}
	}
	return 0;
}

static int compare_keys(const void *a, const void *b)
{
	return strcmp(*(const char *const *)a, *(const char *const *)b);
}

/* An object's keys, sorted, meet their duplicates. */
static int check_object_keys(const cJSON *object, const char *what)
{
	const cJSON *c;
	const char **keys;
	size_t n = 0;
	int rc = 0;

	cJSON_ArrayForEach(c, object)
		n++;
	if (n < 2)
		return 0;
	if (!(keys = malloc(n * sizeof(*keys))))
		return kbp_error_set(KBP_ENOMEM, "out of memory");
	n = 0;
	cJSON_ArrayForEach(c, object)
		keys[n++] = c->string;
	qsort(keys, n, sizeof(*keys), compare_keys);
	for (size_t i = 1; i < n && !rc; i++)
		if (strcmp(keys[i - 1], keys[i]) == 0)
			rc = kbp_error_set(KBP_EINVAL, "%s has the key \"%.64s\" twice in one object",
			                   what, keys[i]);
	free(keys);
	return rc;
}

/*
 * What a JSON text may hold but a stored JSON value cannot keep: keys given
 * twice (one of them would be lost) and numbers beyond a double's range.
 */
static int check_values(const cJSON *item, const char *what)
{
	const cJSON *c;
	int rc;

	if (cJSON_IsNumber(item) && !isfinite(item->valuedouble))
		return kbp_error_set(KBP_EINVAL, "%s has a number too large to store", what);
	if (cJSON_IsObject(item) && (rc = check_object_keys(item, what)))
		return rc;
	cJSON_ArrayForEach(c, item)
		if ((rc = check_values(c, what)))
			return rc;
	return 0;
}

int kbp__check_json_object(const char *json, size_t max, const char *what)
{
	size_t len;
	cJSON *doc;
	int rc;

	if (!json)
		return 0;
	len = strnlen(json, max + 1);
	if (len > max)
		return kbp_error_set(KBP_ETOOBIG, "%s is larger than %zu bytes", what, max);
	if (!kbp_utf8_valid(json, len))
		return kbp_error_set(KBP_EPARSE, "%s is not valid UTF-8", what);
	doc = cJSON_ParseWithLengthOpts(json, len + 1, NULL, 1);
	if (!doc)
		return kbp_error_set(KBP_EPARSE, "%s is not valid JSON", what);
	if (!cJSON_IsObject(doc))
		rc = kbp_error_set(KBP_EPARSE, "%s must be a JSON object", what);
	else if (has_nul_escape(json, len))
		rc = kbp_error_set(KBP_EINVAL, "%s has a NUL character (\\u0000) in a string", what);
	else
		rc = check_values(doc, what);
	cJSON_Delete(doc);
	return rc;
}

int kbp__check_version(unsigned int version, unsigned int expected, const char *what)
{
	return kbp__check_versions(version, expected, expected, what);
}

int kbp__check_versions(unsigned int version, unsigned int oldest, unsigned int newest,
                        const char *what)
{
	if (version >= oldest && version <= newest)
		return 0;
	if (oldest == newest)
		return kbp_error_set(KBP_EVERSION, "%s version %u is not supported (expected %u)",
		                     what, version, newest);
	return kbp_error_set(KBP_EVERSION, "%s version %u is not supported (expected %u to %u)",
	                     what, version, oldest, newest);
}

int kbp__check_range(int64_t v, int64_t lo, int64_t hi, const char *what)
{
	if (v < lo || v > hi)
		return kbp_error_set(KBP_EINVAL, "%s must be between %lld and %lld", what,
		                     (long long)lo, (long long)hi);
	return 0;
}
