/* SPDX-License-Identifier: MIT */
#include "http/gwutil.h"

#include <errno.h>
#include <fcntl.h>
#include <sodium.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "core/validate.h"
#include "kbpipeline.h"
#include "util/strings.h"

static int hex_value(char c)
{
	if (c >= '0' && c <= '9')
		return c - '0';
	if (c >= 'a' && c <= 'f')
		return c - 'a' + 10;
	if (c >= 'A' && c <= 'F')
		return c - 'A' + 10;
	return -1;
}

/* Percent-decodes s[0..n) into a new string; NULL on a bad escape, a NUL or bad UTF-8. */
static char *decode(const char *s, size_t n, int plus_is_space)
{
	char *out = malloc(n + 1);
	size_t o = 0;

	if (!out)
		return NULL;
	for (size_t i = 0; i < n; i++) {
		char c = s[i];
		if (c == '%') {
			int hi, lo;
			if (n - i < 3) {
				free(out);
				return NULL;
			}
			hi = hex_value(s[i + 1]);
			lo = hex_value(s[i + 2]);
			if (hi < 0 || lo < 0) {
				free(out);
				return NULL;
			}
			c = (char)(hi * 16 + lo);
			i += 2;
		} else if (c == '+' && plus_is_space) {
			c = ' ';
		}
		if (c == '\0') {
			free(out);
			return NULL;
		}
		out[o++] = c;
	}
	out[o] = '\0';
	if (!kbp_utf8_valid(out, o)) {
		free(out);
		return NULL;
	}
	return out;
}

void kbp__query_clear(kbp__query *q)
{
	for (size_t i = 0; i < q->n; i++) {
		free(q->params[i].name);
		free(q->params[i].value);
	}
	free(q->params);
	q->params = NULL;
	q->n = 0;
}

const char *kbp__query_get(const kbp__query *q, const char *name)
{
	for (size_t i = 0; i < q->n; i++)
		if (strcmp(q->params[i].name, name) == 0)
			return q->params[i].value;
	return NULL;
}

int kbp__query_parse(kbp__query *out, const char *raw, size_t len, int plus_is_space,
                     size_t max_params)
{
	size_t pos = 0;

	out->n = 0;
	out->params = NULL;
	if (len > 0 && raw[0] == '?')
		pos = 1;
	while (pos < len) {
		const char *amp = memchr(raw + pos, '&', len - pos);
		size_t end = amp ? (size_t)(amp - raw) : len;
		const char *eq = memchr(raw + pos, '=', end - pos);
		size_t name_end = eq ? (size_t)(eq - raw) : end;
		kbp__query_param *grown;
		char *name, *value;
		if (end == pos) {   /* "a=1&&b=2": an empty pair is skipped, as browsers do */
			pos = end + 1;
			continue;
		}
		if (out->n == max_params) {
			kbp__query_clear(out);
			return -2;
		}
		name = decode(raw + pos, name_end - pos, plus_is_space);
		value = eq ? decode(eq + 1, end - name_end - 1, plus_is_space) : strdup("");
		grown = name && value && !kbp__query_get(out, name)
		                ? realloc(out->params, (out->n + 1) * sizeof(*grown))
		                : NULL;
		if (!grown) {
			free(name);
			free(value);
			kbp__query_clear(out);
			return -1;
		}
		out->params = grown;
		out->params[out->n].name = name;
		out->params[out->n].value = value;
		out->n++;
		pos = end + 1;
	}
	return 0;
}

/* ---- secrets ---- */

static int secret_from(kbp__secret *out, const unsigned char *bytes, size_t len, const char *what,
                       const char *source)
{
	if (len > 0 && bytes[len - 1] == '\n')
		len--;
	if (len > 0 && bytes[len - 1] == '\r')
		len--;
	if (len == 0)
		return kbp_error_set(KBP_EINVAL, "%s secret from %s is empty", what, source);
	if (len > KBP_SECRET_MAX)
		return kbp_error_set(KBP_ETOOBIG, "%s secret from %s exceeds %d bytes", what, source,
		                     KBP_SECRET_MAX);
	for (size_t i = 0; i < len; i++)
		if (bytes[i] < 0x20 || bytes[i] == 0x7f)
			return kbp_error_set(KBP_EINVAL, "%s secret from %s contains a control byte",
			                     what, source);
	if (!(out->bytes = sodium_malloc(len)))
		return kbp_error_set(KBP_ENOMEM, "out of memory");
	memcpy(out->bytes, bytes, len);
	out->len = len;
	return 0;
}

static int secret_from_file(kbp__secret *out, const char *path, const char *what)
{
	/* Room for the largest secret, its line ending, and one byte to detect more. */
	enum { CAP = KBP_SECRET_MAX + 3 };
	unsigned char *buf = sodium_malloc(CAP);
	size_t len = 0;
	int fd, rc;

	if (!buf)
		return kbp_error_set(KBP_ENOMEM, "out of memory");
	if ((fd = open(path, O_RDONLY | O_CLOEXEC)) < 0) {
		int err = errno;
		sodium_free(buf);
		return kbp_error_set(KBP_EINVAL, "%s secret file '%s' cannot be opened: %s", what, path,
		                     strerror(err));
	}
	for (;;) {
		ssize_t n = read(fd, buf + len, CAP - len);
		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0) {
			int err = errno;
			close(fd);
			sodium_free(buf);
			return kbp_error_set(KBP_EINVAL, "%s secret file '%s' cannot be read: %s", what,
			                     path, strerror(err));
		}
		if (n == 0 || (len += (size_t)n) == CAP)
			break;
	}
	close(fd);
	if (len == CAP)
		rc = kbp_error_set(KBP_ETOOBIG, "%s secret file '%s' exceeds %d bytes", what, path,
		                   KBP_SECRET_MAX);
	else
		rc = secret_from(out, buf, len, what, "its file");
	sodium_free(buf);
	return rc;
}

int kbp__secret_load(kbp__secret *out, const char *env_name, const char *file_path,
                     const char *what)
{
	out->bytes = NULL;
	out->len = 0;
	if (sodium_init() < 0)
		return kbp_error_set(KBP_ENOMEM, "libsodium cannot be initialised");
	if ((env_name != NULL) == (file_path != NULL))
		return kbp_error_set(KBP_EINVAL,
		                     "%s options must name exactly one of secret_env and secret_file",
		                     what);
	if (env_name) {
		const char *v;
		if (!*env_name || strchr(env_name, '='))
			return kbp_error_set(KBP_EINVAL, "%s secret_env is not a variable name", what);
		if (!(v = getenv(env_name)))
			return kbp_error_set(KBP_EINVAL, "%s secret: environment variable %s is not set",
			                     what, env_name);
		return secret_from(out, (const unsigned char *)v, strlen(v), what,
		                   "the environment");
	}
	if (!*file_path)
		return kbp_error_set(KBP_EINVAL, "%s secret_file is empty", what);
	return secret_from_file(out, file_path, what);
}

void kbp__secret_free(kbp__secret *s)
{
	sodium_free(s->bytes);
	s->bytes = NULL;
	s->len = 0;
}

/* ---- URLs ---- */

/* The authority of a URL: what follows "://" up to the path, query or fragment. */
static size_t authority(const char *url, const char **start)
{
	const char *a = strstr(url, "://");

	*start = a ? a + 3 : url;
	return strcspn(*start, "/?#");
}

/* Exactly a loopback host, then nothing or a numeric port: no userinfo, no lookalikes. */
static int loopback_http(const char *url)
{
	static const char *hosts[] = { "127.0.0.1", "localhost", "[::1]" };
	const char *a;
	size_t len;

	if (strncmp(url, "http://", 7) != 0)
		return 0;
	len = authority(url, &a);
	for (size_t i = 0; i < sizeof(hosts) / sizeof(hosts[0]); i++) {
		size_t n = strlen(hosts[i]);
		if (len < n || strncmp(a, hosts[i], n) != 0)
			continue;
		if (n == len)
			return 1;
		if (a[n] == ':' && len > n + 1 && strspn(a + n + 1, "0123456789") == len - n - 1)
			return 1;
	}
	return 0;
}

int kbp__check_gateway_url(const char *url, const char *what)
{
	int rc;

	if (!url)
		return kbp_error_set(KBP_EINVAL, "%s is missing", what);
	if ((rc = kbp__check_url(url, what)))
		return rc;
	{
		/* Credentials in a URL would travel to whichever host follows the '@'. */
		const char *a;
		size_t len = authority(url, &a);
		if (memchr(a, '@', len))
			return kbp_error_set(KBP_EINVAL, "%s must not contain user information", what);
	}
	if (strncmp(url, "https://", 8) != 0 && !loopback_http(url))
		return kbp_error_set(KBP_EINVAL, "%s must be https:// (http:// only to a loopback host)",
		                     what);
	if (strchr(url, '#'))
		return kbp_error_set(KBP_EINVAL, "%s must not have a fragment", what);
	return 0;
}
