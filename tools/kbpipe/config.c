/* SPDX-License-Identifier: MIT */
/*
 * The config file (kbpipe(1), CONFIGURATION): one JSON object
 *
 *   { "storage": "postgresql://…", "schema": "kbp",
 *     "gateways": { …as kbp_gateways_load(3)… } or "path/to/gateways.json",
 *     "worker": { "threads": 4, "expire_every": 60, … } }
 *
 * Every member is optional; unknown members and wrong types are refused, so
 * a typo cannot silently fall back to a default.
 */
#include "kbpipe.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <cjson/cJSON.h>

#define CONFIG_MAX (1024 * 1024)

typedef enum key_type { K_STRING, K_INT, K_OBJECT, K_OBJECT_OR_STRING } key_type;

typedef struct key_spec {
	const char *name;
	key_type type;
} key_spec;

static const key_spec top_keys[] = {
	{ "storage", K_STRING },
	{ "schema", K_STRING },
	{ "gateways", K_OBJECT_OR_STRING },
	{ "worker", K_OBJECT },
	{ NULL, K_STRING },
};

static const key_spec worker_keys[] = {
	{ "threads", K_INT },
	{ "batch", K_INT },
	{ "name", K_STRING },
	{ "expire_every", K_INT },
	{ "rescue_every", K_INT },
	{ "reconcile_every", K_INT },
	{ "prune_every", K_INT },
	{ "grace", K_INT },
	{ "log", K_STRING },
	{ "log_level", K_STRING },
	{ "lease_ms", K_INT },
	{ NULL, K_STRING },
};

static const char *type_name(key_type t)
{
	switch (t) {
	case K_STRING: return "a string";
	case K_INT: return "an integer";
	case K_OBJECT: return "an object";
	default: return "an object or a file name";
	}
}

static int type_ok(const cJSON *v, key_type t)
{
	switch (t) {
	case K_STRING:
		return cJSON_IsString(v);
	case K_INT:
		return cJSON_IsNumber(v) && v->valuedouble == (double)(long long)v->valuedouble &&
		       v->valuedouble >= -1e15 && v->valuedouble <= 1e15;
	case K_OBJECT:
		return cJSON_IsObject(v);
	default:
		return cJSON_IsObject(v) || cJSON_IsString(v);
	}
}

static int check_keys(const char *path, const cJSON *obj, const key_spec *keys, const char *where)
{
	for (const cJSON *m = obj->child; m; m = m->next) {
		const key_spec *k = keys;

		while (k->name && strcmp(k->name, m->string) != 0)
			k++;
		if (!k->name)
			return kbpipe_config_error("config file '%s': unknown key '%s%s'", path, where,
			                           m->string);
		if (!type_ok(m, k->type))
			return kbpipe_config_error("config file '%s': '%s%s' must be %s", path, where,
			                           m->string, type_name(k->type));
		for (const cJSON *n = m->next; n; n = n->next)
			if (strcmp(n->string, m->string) == 0)
				return kbpipe_config_error("config file '%s': key '%s%s' appears twice", path,
				                           where, m->string);
	}
	return 0;
}

static void error_position(const char *text, const char *at, int *line, int *col)
{
	*line = 1;
	*col = 1;
	for (const char *c = text; at && c < at && *c; c++) {
		if (*c == '\n') {
			++*line;
			*col = 1;
		} else {
			++*col;
		}
	}
}

int kbpipe_config_load(kbpipe_ctx *ctx, const char *path)
{
	FILE *f;
	char *text;
	size_t n;
	cJSON *root;
	const cJSON *v;
	int rc;

	if (!*path)
		return kbpipe_config_error("config file name is empty");
	f = fopen(path, "rb");
	if (!f)
		return kbpipe_config_error("config file '%s': cannot open: %s", path, strerror(errno));
	text = malloc(CONFIG_MAX + 1);
	if (!text) {
		fclose(f);
		return kbpipe_fail("out of memory");
	}
	n = fread(text, 1, CONFIG_MAX + 1, f);
	if (ferror(f)) {
		int e = errno;
		free(text);
		fclose(f);
		return kbpipe_config_error("config file '%s': cannot read: %s", path, strerror(e));
	}
	fclose(f);
	if (n > CONFIG_MAX) {
		free(text);
		return kbpipe_config_error("config file '%s': larger than %d bytes", path, CONFIG_MAX);
	}
	text[n] = '\0';
	if (memchr(text, '\0', n)) {
		free(text);
		return kbpipe_config_error("config file '%s': invalid JSON: contains a NUL byte", path);
	}
	root = cJSON_ParseWithOpts(text, NULL, 1);
	if (!root) {
		int line, col;

		error_position(text, cJSON_GetErrorPtr(), &line, &col);
		free(text);
		return kbpipe_config_error("config file '%s': invalid JSON at line %d, column %d", path,
		                           line, col);
	}
	free(text);
	if (!cJSON_IsObject(root)) {
		cJSON_Delete(root);
		return kbpipe_config_error("config file '%s': must hold a JSON object", path);
	}
	if ((rc = check_keys(path, root, top_keys, "")) ||
	    ((v = cJSON_GetObjectItemCaseSensitive(root, "worker")) &&
	     (rc = check_keys(path, v, worker_keys, "worker.")))) {
		cJSON_Delete(root);
		return rc;
	}
	v = cJSON_GetObjectItemCaseSensitive(root, "storage");
	if (v && !*v->valuestring) {
		cJSON_Delete(root);
		return kbpipe_config_error("config file '%s': 'storage' must not be empty", path);
	}
	ctx->config = root;
	ctx->config_path = path;
	return 0;
}

const cJSON *kbpipe_config_section(const kbpipe_ctx *ctx, const char *name)
{
	return ctx->config ? cJSON_GetObjectItemCaseSensitive(ctx->config, name) : NULL;
}

int kbpipe_open(kbp_pipeline **out, const kbpipe_ctx *ctx, kbp_options *opts)
{
	int rc;

	*out = NULL;
	opts->storage = ctx->storage;
	opts->storage_schema = ctx->schema;
	if (!opts->log) {
		kbpipe_log_setup(KBPIPE_LOG_TEXT, KBP_LOG_ERROR, ctx->storage);
		opts->log = kbpipe_log_sink;
		opts->log_level = KBP_LOG_ERROR;
	}
	rc = kbp_pipeline_open(out, opts);
	if (rc)
		return kbpipe_lib_error("cannot open the storage", rc);
	return 0;
}

/* A relative "gateways" file name is taken relative to the config file's directory. */
static char *relative_to_config(const char *config_path, const char *name)
{
	const char *slash = strrchr(config_path, '/');
	size_t dlen;
	char *r;

	if (name[0] == '/' || !slash)
		return strdup(name);
	dlen = (size_t)(slash - config_path) + 1;
	r = malloc(dlen + strlen(name) + 1);
	if (r) {
		memcpy(r, config_path, dlen);
		strcpy(r + dlen, name);
	}
	return r;
}

int kbpipe_load_gateways(kbp_pipeline *p, const kbpipe_ctx *ctx)
{
	const cJSON *g = kbpipe_config_section(ctx, "gateways");
	char tmpl[4096], *file = NULL, *text = NULL;
	const char *dir = getenv("TMPDIR");
	int fd = -1, rc, ok;

	if (!g)
		return 0;
	if (cJSON_IsString(g)) {
		file = relative_to_config(ctx->config_path, g->valuestring);
		if (!file)
			return kbpipe_fail("out of memory");
		rc = kbp_gateways_load(p, file);
		if (rc) {
			const kbp_error *e = kbp_error_last();
			kbpipe_config_error("config file '%s': gateways file '%s': %s: %s", ctx->config_path,
			                    file, kbpipe_code_name(rc),
			                    e->code == rc && e->message ? e->message : kbp_strerror(rc));
		}
		free(file);
		return rc ? KBPIPE_EXIT_CONFIG : 0;
	}
	/* kbp_gateways_load reads a file: hand it the section through a private temporary one. */
	snprintf(tmpl, sizeof tmpl, "%s/kbpipe-gateways-XXXXXX", dir && *dir ? dir : "/tmp");
	text = cJSON_PrintUnformatted(g);
	if (!text)
		return kbpipe_fail("out of memory");
	fd = mkstemp(tmpl);
	if (fd < 0) {
		int e = errno;
		free(text);
		return kbpipe_fail("cannot create a temporary file for the gateways: %s", strerror(e));
	}
	ok = write(fd, text, strlen(text)) == (ssize_t)strlen(text);
	close(fd);
	free(text);
	if (!ok) {
		unlink(tmpl);
		return kbpipe_fail("cannot write a temporary file for the gateways");
	}
	rc = kbp_gateways_load(p, tmpl);
	unlink(tmpl);
	if (rc) {
		const kbp_error *e = kbp_error_last();
		return kbpipe_config_error("config file '%s': gateways: %s: %s", ctx->config_path,
		                           kbpipe_code_name(rc),
		                           e->code == rc && e->message ? e->message : kbp_strerror(rc));
	}
	return 0;
}
