/* SPDX-License-Identifier: MIT */
#ifndef KBPIPE_H
#define KBPIPE_H

#include <stdint.h>
#include <stdio.h>

#include <kbpipeline.h>

/*
 * Exit statuses shared by every command (kbpipe(1), EXIT STATUS). Usage and
 * configuration errors have codes of their own (sysexits.h's EX_USAGE and
 * EX_CONFIG) so that they never collide with the small codes that health,
 * doctor and worker give a meaning of their own.
 */
#define KBPIPE_EXIT_OK 0
#define KBPIPE_EXIT_FAIL 1
#define KBPIPE_EXIT_USAGE 64        /* EX_USAGE: a bad command line */
#define KBPIPE_EXIT_CONFIG 78       /* EX_CONFIG: a missing, unreadable or invalid config file */
#define KBPIPE_EXIT_TIMEOUT 75      /* EX_TEMPFAIL: worker --grace or order-status --wait ran out */

/* health: 0 ok or info, 1 warning, 2 critical, 3 the health could not be determined. */
#define KBPIPE_EXIT_HEALTH_WARNING 1
#define KBPIPE_EXIT_HEALTH_CRITICAL 2
#define KBPIPE_EXIT_HEALTH_UNKNOWN 3
/* doctor: 2 when a check found a problem. */
#define KBPIPE_EXIT_PROBLEMS 2

struct cJSON;

typedef struct kbpipe_ctx {
	const char *storage;        /* --storage, else $KBP_STORAGE, else config "storage", else "memory:" */
	const char *schema;         /* --schema, else $KBP_SCHEMA, else config "schema", else NULL ("kbp") */
	const char *config_path;    /* --config, else $KBP_CONFIG; NULL when there is no config file */
	struct cJSON *config;       /* the parsed, validated config file, or NULL */
} kbpipe_ctx;

typedef struct kbpipe_command {
	const char *name;
	const char *summary;
	int (*run)(const kbpipe_ctx *ctx, int argc, char **argv);  /* argv[0] is the command name */
	void (*usage)(FILE *f);
} kbpipe_command;

int kbpipe_demo(const kbpipe_ctx *ctx, int argc, char **argv);
void kbpipe_demo_usage(FILE *f);
int kbpipe_migrate(const kbpipe_ctx *ctx, int argc, char **argv);
void kbpipe_migrate_usage(FILE *f);
int kbpipe_worker(const kbpipe_ctx *ctx, int argc, char **argv);
void kbpipe_worker_usage(FILE *f);
int kbpipe_jobs(const kbpipe_ctx *ctx, int argc, char **argv);
void kbpipe_jobs_usage(FILE *f);
int kbpipe_stats(const kbpipe_ctx *ctx, int argc, char **argv);
void kbpipe_stats_usage(FILE *f);
int kbpipe_health(const kbpipe_ctx *ctx, int argc, char **argv);
void kbpipe_health_usage(FILE *f);
int kbpipe_doctor(const kbpipe_ctx *ctx, int argc, char **argv);
void kbpipe_doctor_usage(FILE *f);
int kbpipe_order_status(const kbpipe_ctx *ctx, int argc, char **argv);
void kbpipe_order_status_usage(FILE *f);

/* out.c: messages, errors and option parsing shared by the commands. */
#if defined(__GNUC__)
#define KBPIPE_PRINTF(a, b) __attribute__((format(printf, a, b)))
#else
#define KBPIPE_PRINTF(a, b)
#endif

/* One line "kbpipe: …" on stderr; returns KBPIPE_EXIT_USAGE. */
KBPIPE_PRINTF(1, 2) int kbpipe_usage_error(const char *fmt, ...);
/* One line "kbpipe: …" on stderr; returns KBPIPE_EXIT_FAIL. */
KBPIPE_PRINTF(1, 2) int kbpipe_fail(const char *fmt, ...);
/* One line "kbpipe: …" on stderr; returns KBPIPE_EXIT_CONFIG. */
KBPIPE_PRINTF(1, 2) int kbpipe_config_error(const char *fmt, ...);
/* One line naming a failed library call, its code and the thread's error message; returns KBPIPE_EXIT_FAIL. */
int kbpipe_lib_error(const char *what, int rc);
/* "KBP_EOUTOFSTOCK" for a KBP_E… code. */
const char *kbpipe_code_name(int code);
/* "NPR 1,020.50" from minor units (paisa); returns buf. */
char *kbpipe_money(char *buf, size_t len, int64_t minor, const char *currency);
/* "2024-05-01T10:00:00.123Z" for epoch milliseconds, "-" for 0; returns buf (>= 32 bytes). */
char *kbpipe_time(char *buf, size_t len, int64_t ms);

/*
 * Matches argv[*i] against a long option taking a value, as "--name VALUE"
 * or "--name=VALUE". Returns 1 and sets *value (advancing *i past a separate
 * value), 0 when argv[*i] is another option, -1 when the value is missing.
 */
int kbpipe_opt_value(int argc, char **argv, int *i, const char *name, const char **value);
/* Prints a JSON document (and frees it); KBPIPE_EXIT_OK, or a failure when o is NULL. */
int kbpipe_print_json(struct cJSON *o);

/* A struct as one JSON object, a key per member (json_fields.c); NULL when memory runs out. */
#define KBPIPE_JSON_STRUCTS(X) \
	X(job_error) X(job) X(order_status) X(metrics) X(doctor_check) X(doctor_report) \
	X(health_finding) X(health)
#define KBPIPE_JSON_DECLARE(name) struct cJSON *kbpipe_json_##name(const kbp_##name *v);
KBPIPE_JSON_STRUCTS(KBPIPE_JSON_DECLARE)
#undef KBPIPE_JSON_DECLARE
/* A decimal integer in [min, max]; returns 0 or -1. */
int kbpipe_parse_long(const char *s, long min, long max, long *out);
/* 1 when arg is -h or --help. */
int kbpipe_is_help(const char *arg);
/* The error for an argument no option matched: unknown option or unexpected argument. */
int kbpipe_bad_arg(const char *cmd, const char *arg);
/*
 * An id the library generates: prefix followed by 1 to KBP_ID_MAX - strlen(prefix)
 * letters, digits and ._:@- (the library's id alphabet). Returns 0 or -1.
 */
int kbpipe_check_id(const char *id, const char *prefix);

/* config.c: the config file, and opening a pipeline from the context. */
/* Loads and validates path into ctx->config; returns 0 or KBPIPE_EXIT_CONFIG (message printed). */
int kbpipe_config_load(kbpipe_ctx *ctx, const char *path);
/* The "worker" section of the config file, or NULL. */
const struct cJSON *kbpipe_config_section(const kbpipe_ctx *ctx, const char *name);
/*
 * Fills the storage fields of opts from ctx and opens the pipeline. On
 * failure prints one line naming the problem and returns KBPIPE_EXIT_FAIL.
 */
int kbpipe_open(kbp_pipeline **out, const kbpipe_ctx *ctx, kbp_options *opts);
/*
 * Registers the gateways of the config file's "gateways" section (an object,
 * or the path of a kbp_gateways_load(3) file). Returns 0, or
 * KBPIPE_EXIT_CONFIG with one line printed.
 */
int kbpipe_load_gateways(kbp_pipeline *p, const kbpipe_ctx *ctx);

/* log.c: the library's and the worker's log lines, text or JSON, on stderr. */
typedef enum kbpipe_log_format { KBPIPE_LOG_TEXT, KBPIPE_LOG_JSON } kbpipe_log_format;

void kbpipe_log_setup(kbpipe_log_format format, kbp_log_level level, const char *redact);
/* A kbp_log_fn: writes one line on stderr; ctx is unused. */
void kbpipe_log_sink(void *ctx, kbp_log_level level, const char *message);
KBPIPE_PRINTF(2, 3) void kbpipe_log(kbp_log_level level, const char *fmt, ...);
/* "debug", "info", "warn", "error" -> level; returns 0 or -1. */
int kbpipe_log_level_parse(const char *s, kbp_log_level *out);

#endif
