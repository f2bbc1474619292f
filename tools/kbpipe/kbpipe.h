/* SPDX-License-Identifier: MIT */
#ifndef KBPIPE_H
#define KBPIPE_H

#include <stdint.h>
#include <stdio.h>

/* Exit statuses shared by every command. */
#define KBPIPE_EXIT_OK 0
#define KBPIPE_EXIT_FAIL 1
#define KBPIPE_EXIT_USAGE 2

typedef struct kbpipe_ctx {
	const char *storage;        /* storage URI: --storage, else $KBP_STORAGE, else "memory:" */
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
/* One line naming a failed library call, its code and the thread's error message; returns KBPIPE_EXIT_FAIL. */
int kbpipe_lib_error(const char *what, int rc);
/* "KBP_EOUTOFSTOCK" for a KBP_E… code. */
const char *kbpipe_code_name(int code);
/* "NPR 1,020.50" from minor units (paisa); returns buf. */
char *kbpipe_money(char *buf, size_t len, int64_t minor, const char *currency);

/*
 * Matches argv[*i] against a long option taking a value, as "--name VALUE"
 * or "--name=VALUE". Returns 1 and sets *value (advancing *i past a separate
 * value), 0 when argv[*i] is another option, -1 when the value is missing.
 */
int kbpipe_opt_value(int argc, char **argv, int *i, const char *name, const char **value);
/* A decimal integer in [min, max]; returns 0 or -1. */
int kbpipe_parse_long(const char *s, long min, long max, long *out);

#endif
