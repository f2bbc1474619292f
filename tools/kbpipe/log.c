/* SPDX-License-Identifier: MIT */
/*
 * Log lines on stderr, as text or as JSON lines, from the library (through
 * kbp_options.log) and from kbpipe itself. A line is never split: the sink
 * writes each under a lock with one fputs. Messages are scrubbed of the
 * storage URI, which may carry a password, in case anything ever repeats it.
 */
#include "kbpipe.h"

#include <pthread.h>
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>
#include <sys/time.h>
#include <unistd.h>

#include <cjson/cJSON.h>

static pthread_mutex_t log_lock = PTHREAD_MUTEX_INITIALIZER;
static kbpipe_log_format log_format = KBPIPE_LOG_TEXT;
static kbp_log_level log_level = KBP_LOG_INFO;
static const char *log_redact;

static const char *const level_names[] = { "debug", "info", "warn", "error" };

void kbpipe_log_setup(kbpipe_log_format format, kbp_log_level level, const char *redact)
{
	pthread_mutex_lock(&log_lock);
	log_format = format;
	log_level = level;
	/* "memory:" and other short strings are no secret, and would mangle ordinary words. */
	log_redact = (redact && strlen(redact) >= 12) ? redact : NULL;
	pthread_mutex_unlock(&log_lock);
}

int kbpipe_log_level_parse(const char *s, kbp_log_level *out)
{
	for (int i = 0; i <= KBP_LOG_ERROR; i++)
		if (strcmp(s, level_names[i]) == 0) {
			*out = (kbp_log_level)i;
			return 0;
		}
	if (strcmp(s, "warning") == 0) {
		*out = KBP_LOG_WARN;
		return 0;
	}
	return -1;
}

/* One line: newlines become spaces, and the storage URI "[storage]". */
static void clean(char *out, size_t len, const char *message)
{
	size_t o = 0, rlen = log_redact ? strlen(log_redact) : 0;

	for (const char *m = message; *m && o + 1 < len;) {
		if (rlen && strncmp(m, log_redact, rlen) == 0) {
			const char *r = "[storage]";
			while (*r && o + 1 < len)
				out[o++] = *r++;
			m += rlen;
			continue;
		}
		out[o++] = (*m == '\n' || *m == '\r') ? ' ' : *m;
		m++;
	}
	out[o] = '\0';
}

void kbpipe_log_sink(void *ctx, kbp_log_level level, const char *message)
{
	char text[1024], when[40];
	struct timeval tv;
	const char *name = level <= KBP_LOG_ERROR ? level_names[level] : "?";

	(void)ctx;
	gettimeofday(&tv, NULL);
	kbpipe_time(when, sizeof when, (int64_t)tv.tv_sec * 1000 + tv.tv_usec / 1000);
	pthread_mutex_lock(&log_lock);
	if (level < log_level) {
		pthread_mutex_unlock(&log_lock);
		return;
	}
	clean(text, sizeof text, message ? message : "");
	if (log_format == KBPIPE_LOG_JSON) {
		cJSON *o = cJSON_CreateObject();
		char *line = NULL;

		if (o && cJSON_AddStringToObject(o, "time", when) &&
		    cJSON_AddStringToObject(o, "level", name) &&
		    cJSON_AddNumberToObject(o, "pid", (double)getpid()) &&
		    cJSON_AddStringToObject(o, "message", text))
			line = cJSON_PrintUnformatted(o);
		if (line) {
			fputs(line, stderr);
			fputc('\n', stderr);
		}
		free(line);
		cJSON_Delete(o);
	} else {
		fprintf(stderr, "%s %s %s\n", when, name, text);
	}
	fflush(stderr);
	pthread_mutex_unlock(&log_lock);
}

void kbpipe_log(kbp_log_level level, const char *fmt, ...)
{
	char message[768];
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(message, sizeof message, fmt, ap);
	va_end(ap);
	kbpipe_log_sink(NULL, level, message);
}
