/* SPDX-License-Identifier: MIT */
#include "core/storage_open.h"

#include <pthread.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define SCHEME_MAX 32
#define SCHEMES_MAX 32

typedef int (*migrate_fn)(int *out_version, const char *uri, const char *schema);

typedef struct scheme_entry {
	char scheme[SCHEME_MAX + 1];
	kbp_storage_open_fn open;
	migrate_fn migrate;         /* NULL: the store has no schema to migrate */
} scheme_entry;

static pthread_once_t builtins_once = PTHREAD_ONCE_INIT;
static pthread_mutex_t registry_lock = PTHREAD_MUTEX_INITIALIZER;
static scheme_entry registry[SCHEMES_MAX];
static size_t n_registered;

/*
 * RFC 3986's scheme characters, lower case only where a backend registers:
 * lookups are exact, so an upper-case URI is refused with its scheme named.
 */
static int scheme_valid(const char *s, size_t len, int upper_ok)
{
	if (len == 0 || len > SCHEME_MAX)
		return 0;
	for (size_t i = 0; i < len; i++) {
		char c = s[i];
		int letter = (c >= 'a' && c <= 'z') || (upper_ok && c >= 'A' && c <= 'Z');
		if (!letter && (i == 0 || !((c >= '0' && c <= '9') || c == '+' || c == '-' || c == '.')))
			return 0;
	}
	return 1;
}

static scheme_entry *find_locked(const char *scheme)
{
	for (size_t i = 0; i < n_registered; i++)
		if (strcmp(registry[i].scheme, scheme) == 0)
			return &registry[i];
	return NULL;
}

/* kbp_storage_register() after the built-ins' once, which registers them through here. */
static int add(const char *scheme, kbp_storage_open_fn open_fn, migrate_fn migrate)
{
	scheme_entry *e;
	int rc = 0;

	if (!scheme)
		return kbp_error_set(KBP_EINVAL, "storage scheme is NULL");
	if (!scheme_valid(scheme, strnlen(scheme, SCHEME_MAX + 1), 0))
		return kbp_error_set(KBP_EINVAL,
		                     "storage scheme must be a lower-case letter followed by at most %d "
		                     "lower-case letters, digits, '+', '-' or '.' (without the colon)",
		                     SCHEME_MAX - 1);
	if (!open_fn)
		return kbp_error_set(KBP_EINVAL, "storage scheme \"%s\" has no open function", scheme);
	pthread_mutex_lock(&registry_lock);
	if ((e = find_locked(scheme))) {
		if (e->open != open_fn)
			rc = kbp_error_set(KBP_EEXISTS, "storage scheme \"%s\" is already registered",
			                   scheme);
	} else if (n_registered == SCHEMES_MAX) {
		rc = kbp_error_set(KBP_ETOOBIG, "no more than %d storage schemes can be registered",
		                   SCHEMES_MAX);
	} else {
		e = &registry[n_registered++];
		strcpy(e->scheme, scheme);
		e->open = open_fn;
		e->migrate = migrate;
	}
	pthread_mutex_unlock(&registry_lock);
	return rc;
}

#ifdef KBP_HAVE_POSTGRES
#define POSTGRES_OPEN kbp__storage_postgres_open_fn
#define POSTGRES_MIGRATE kbp_storage_postgres_migrate
#else
/* The schemes stay taken, so that a PostgreSQL URI gets this answer rather than "unknown". */
static int no_postgres(void)
{
	return kbp_error_set(KBP_EINVAL, "this build has no PostgreSQL support");
}

static int no_postgres_open(kbp_storage **out, const char *uri,
                            const kbp_storage_open_options *opts)
{
	(void)out;
	(void)uri;
	(void)opts;
	return no_postgres();
}

static int no_postgres_migrate(int *out_version, const char *uri, const char *schema)
{
	(void)out_version;
	(void)uri;
	(void)schema;
	return no_postgres();
}
#define POSTGRES_OPEN no_postgres_open
#define POSTGRES_MIGRATE no_postgres_migrate
#endif

#ifdef KBP_HAVE_SQLITE
int kbp__storage_sqlite_open_fn(kbp_storage **out, const char *uri,
                                const kbp_storage_open_options *opts);
int kbp__storage_sqlite_migrate(int *out_version, const char *uri, const char *schema);
#endif

static void register_builtins(void)
{
	add("memory", kbp__storage_memory_open_fn, NULL);
#ifdef KBP_HAVE_SQLITE
	add("sqlite", kbp__storage_sqlite_open_fn, kbp__storage_sqlite_migrate);
#endif
	add("postgresql", POSTGRES_OPEN, POSTGRES_MIGRATE);
	add("postgres", POSTGRES_OPEN, POSTGRES_MIGRATE);
}

int kbp_storage_register(const char *scheme, kbp_storage_open_fn open_fn)
{
	pthread_once(&builtins_once, register_builtins);
	return add(scheme, open_fn, NULL);
}

/*
 * The URI's scheme: NULL and "" are memory's, and a libpq key=value string,
 * which has none, is postgresql's. The URI itself is never repeated in a
 * message: it may carry a password.
 */
static int uri_scheme(char *scheme, const char *uri)
{
	size_t len;

	if (!uri || !*uri) {
		strcpy(scheme, "memory");
		return 0;
	}
	len = strcspn(uri, ":");
	if (uri[len] == ':' && scheme_valid(uri, len, 1)) {
		memcpy(scheme, uri, len);
		scheme[len] = '\0';
		return 0;
	}
	if (strchr(uri, '=')) {
		strcpy(scheme, "postgresql");
		return 0;
	}
	return kbp_error_set(KBP_EINVAL,
	                     "storage URI has no scheme (such as \"memory:\" or \"postgresql://\")");
}

static int unknown_scheme(const char *scheme)
{
	char known[SCHEMES_MAX * (SCHEME_MAX + 2)];
	size_t used = 0;

	pthread_mutex_lock(&registry_lock);
	for (size_t i = 0; i < n_registered; i++)
		used += (size_t)snprintf(known + used, sizeof(known) - used, "%s%s", i ? ", " : "",
		                         registry[i].scheme);
	pthread_mutex_unlock(&registry_lock);
	return kbp_error_set(KBP_EINVAL,
	                     "no storage backend is registered for the scheme \"%s\" (registered: %s)",
	                     scheme, known);
}

static int lookup(scheme_entry *out, const char *uri)
{
	scheme_entry *e;
	int rc;

	pthread_once(&builtins_once, register_builtins);
	if ((rc = uri_scheme(out->scheme, uri)))
		return rc;
	pthread_mutex_lock(&registry_lock);
	if ((e = find_locked(out->scheme)))
		*out = *e;
	pthread_mutex_unlock(&registry_lock);
	return e ? 0 : unknown_scheme(out->scheme);
}

int kbp__storage_open(kbp_storage **out, const kbp_options *opts)
{
	kbp_storage_open_options open_opts = KBP_STORAGE_OPEN_OPTIONS_INIT;
	kbp_storage *s = NULL;
	scheme_entry e;
	int rc;

	*out = NULL;
	if ((rc = lookup(&e, opts->storage)))
		return rc;
	open_opts.schema = opts->storage_schema;
	open_opts.pool_size = opts->storage_pool_size;
	if ((rc = e.open(&s, opts->storage, &open_opts)))
		return rc;
	if (!s)
		return kbp_error_set(KBP_ESTORAGE, "the \"%s\" storage backend opened no storage",
		                     e.scheme);
	if ((rc = kbp__storage_check(s, e.scheme))) {
		if (s->free)
			s->free(s);
		return rc;
	}
	*out = s;
	return 0;
}

int kbp_migrate(int *out_version, const char *storage_uri, const char *schema)
{
	scheme_entry e;
	int rc;

	if (out_version)
		*out_version = 0;
	if ((rc = lookup(&e, storage_uri)))
		return rc;
	/* memory: and registered backends have no schema here: their open prepares the store. */
	return e.migrate ? e.migrate(out_version, storage_uri, schema) : 0;
}

void *kbp_storage_calloc(size_t n, size_t size)
{
	void *p = NULL;

	/* At least one byte, so that NULL always means failure. */
	if (!size || n <= SIZE_MAX / size)
		p = calloc(n ? n : 1, size ? size : 1);
	if (!p)
		kbp_error_set(KBP_ENOMEM, "out of memory");
	return p;
}

char *kbp_storage_strdup(const char *s)
{
	char *d;

	if (!s)
		return NULL;
	if (!(d = strdup(s)))
		kbp_error_set(KBP_ENOMEM, "out of memory");
	return d;
}
