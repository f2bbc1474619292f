/* SPDX-License-Identifier: MIT */
#include "kbpipe.h"

#include <errno.h>
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <cjson/cJSON.h>
#include <kbpipeline.h>

KBPIPE_PRINTF(1, 0) static void vmessage(const char *fmt, va_list ap)
{
	fputs("kbpipe: ", stderr);
	vfprintf(stderr, fmt, ap);
	fputc('\n', stderr);
}

int kbpipe_usage_error(const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	vmessage(fmt, ap);
	va_end(ap);
	return KBPIPE_EXIT_USAGE;
}

int kbpipe_fail(const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	vmessage(fmt, ap);
	va_end(ap);
	return KBPIPE_EXIT_FAIL;
}

int kbpipe_config_error(const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	vmessage(fmt, ap);
	va_end(ap);
	return KBPIPE_EXIT_CONFIG;
}

int kbpipe_lib_error(const char *what, int rc)
{
	const kbp_error *e = kbp_error_last();
	const char *msg = (e->code == rc && e->message && *e->message) ? e->message : kbp_strerror(rc);

	fprintf(stderr, "kbpipe: %s: %s: %s\n", what, kbpipe_code_name(rc), msg);
	return KBPIPE_EXIT_FAIL;
}

const char *kbpipe_code_name(int code)
{
	static const char *const names[] = {
		"KBP_OK", "KBP_EINVAL", "KBP_ENOMEM", "KBP_ENOTFOUND", "KBP_ECONFLICT",
		"KBP_EOUTOFSTOCK", "KBP_EINACTIVE", "KBP_EEMPTY", "KBP_ESTATE", "KBP_ESIGNATURE",
		"KBP_EAMOUNT", "KBP_ETOOBIG", "KBP_EPARSE", "KBP_EOVERFLOW", "KBP_ETIMEOUT",
		"KBP_ESTORAGE", "KBP_EGATEWAY", "KBP_EVERSION", "KBP_EEXISTS", "KBP_EPENDING",
		"KBP_EDECLINED", "KBP_ENOHANDLER",
	};

	if (code > 0 || -code >= (int)(sizeof names / sizeof names[0]))
		return "KBP_E?";
	return names[-code];
}

char *kbpipe_money(char *buf, size_t len, int64_t minor, const char *currency)
{
	char digits[32], grouped[48];
	uint64_t mag = minor < 0 ? (uint64_t)0 - (uint64_t)minor : (uint64_t)minor;
	size_t n, o = 0;

	n = (size_t)snprintf(digits, sizeof digits, "%llu", (unsigned long long)(mag / 100));
	for (size_t k = 0; k < n; k++) {
		if (k > 0 && (n - k) % 3 == 0)
			grouped[o++] = ',';
		grouped[o++] = digits[k];
	}
	grouped[o] = '\0';
	snprintf(buf, len, "%s %s%s.%02u", currency ? currency : "NPR", minor < 0 ? "-" : "",
	         grouped, (unsigned)(mag % 100));
	return buf;
}

int kbpipe_opt_value(int argc, char **argv, int *i, const char *name, const char **value)
{
	const char *arg = argv[*i];
	size_t n = strlen(name);

	if (strncmp(arg, name, n) != 0)
		return 0;
	if (arg[n] == '=') {
		*value = arg + n + 1;
		return 1;
	}
	if (arg[n] != '\0')
		return 0;
	if (*i + 1 >= argc)
		return -1;
	*value = argv[++*i];
	return 1;
}

int kbpipe_parse_long(const char *s, long min, long max, long *out)
{
	char *end;
	long v;

	if (!s || !*s)
		return -1;
	errno = 0;
	v = strtol(s, &end, 10);
	if (errno || *end || v < min || v > max)
		return -1;
	*out = v;
	return 0;
}

char *kbpipe_time(char *buf, size_t len, int64_t ms)
{
	struct tm tm;
	time_t secs;

	if (ms <= 0) {
		snprintf(buf, len, "-");
		return buf;
	}
	secs = (time_t)(ms / 1000);
	gmtime_r(&secs, &tm);
	snprintf(buf, len, "%04d-%02d-%02dT%02d:%02d:%02d.%03dZ", tm.tm_year + 1900, tm.tm_mon + 1,
	         tm.tm_mday, tm.tm_hour, tm.tm_min, tm.tm_sec, (int)(ms % 1000));
	return buf;
}

int kbpipe_is_help(const char *arg)
{
	return strcmp(arg, "-h") == 0 || strcmp(arg, "--help") == 0;
}

int kbpipe_bad_arg(const char *cmd, const char *arg)
{
	if (arg[0] == '-' && arg[1] != '\0')
		return kbpipe_usage_error("%s: unknown option '%s' (see 'kbpipe help %s')", cmd, arg, cmd);
	return kbpipe_usage_error("%s: unexpected argument '%s'", cmd, arg);
}

int kbpipe_check_id(const char *id, const char *prefix)
{
	size_t plen = strlen(prefix), n = strlen(id);

	if (strncmp(id, prefix, plen) != 0 || n <= plen || n > KBP_ID_MAX)
		return -1;
	for (size_t i = plen; i < n; i++) {
		char c = id[i];
		if (!((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
		      c == '.' || c == '_' || c == ':' || c == '@' || c == '-'))
			return -1;
	}
	return 0;
}

int kbpipe_print_json(cJSON *o)
{
	char *s = o ? cJSON_Print(o) : NULL;

	cJSON_Delete(o);
	if (!s)
		return kbpipe_fail("out of memory");
	puts(s);
	free(s);
	return KBPIPE_EXIT_OK;
}
