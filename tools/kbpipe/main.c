/* SPDX-License-Identifier: MIT */
/*
 * kbpipe: the command-line tool of libkbpipeline.
 *
 *   kbpipe [--storage URI] COMMAND [ARGS…]
 *
 * Global options come before the command; each command parses its own.
 * Exit status: 0 success, 1 failure, 2 usage error.
 */
#include "kbpipe.h"

#include <stdlib.h>
#include <string.h>

#ifndef KBPIPE_VERSION
#define KBPIPE_VERSION "unknown"
#endif

static int cmd_help(const kbpipe_ctx *ctx, int argc, char **argv);
static void help_usage(FILE *f);

static const kbpipe_command commands[] = {
	{ "demo", "run a shop of concurrent shoppers and check the pipeline's invariants",
	  kbpipe_demo, kbpipe_demo_usage },
	{ "migrate", "create or upgrade the storage's schema", kbpipe_migrate, kbpipe_migrate_usage },
	{ "help", "show the help of kbpipe or of one command", cmd_help, help_usage },
};

#define N_COMMANDS (sizeof commands / sizeof commands[0])

static const kbpipe_command *find_command(const char *name)
{
	for (size_t i = 0; i < N_COMMANDS; i++)
		if (strcmp(commands[i].name, name) == 0)
			return &commands[i];
	return NULL;
}

static void usage(FILE *f)
{
	fputs("usage: kbpipe [--storage URI] COMMAND [ARGS…]\n"
	      "       kbpipe --help | --version\n"
	      "\n"
	      "Global options:\n"
	      "  --storage URI   storage backend: memory: (default) or a PostgreSQL URI;\n"
	      "                  defaults to $KBP_STORAGE when set\n"
	      "  -h, --help      show this help and exit\n"
	      "  -V, --version   show the version and exit\n"
	      "\n"
	      "Commands:\n", f);
	for (size_t i = 0; i < N_COMMANDS; i++)
		fprintf(f, "  %-14s  %s\n", commands[i].name, commands[i].summary);
	fputs("\nRun 'kbpipe COMMAND --help' for the options of a command.\n", f);
}

static void help_usage(FILE *f)
{
	fputs("usage: kbpipe help [COMMAND]\n", f);
}

static int cmd_help(const kbpipe_ctx *ctx, int argc, char **argv)
{
	const kbpipe_command *c;

	(void)ctx;
	if (argc > 2)
		return kbpipe_usage_error("help: unexpected argument '%s'", argv[2]);
	if (argc == 1) {
		usage(stdout);
		return KBPIPE_EXIT_OK;
	}
	if (strcmp(argv[1], "--help") == 0 || strcmp(argv[1], "-h") == 0) {
		help_usage(stdout);
		return KBPIPE_EXIT_OK;
	}
	c = find_command(argv[1]);
	if (!c)
		return kbpipe_usage_error("unknown command '%s' (see 'kbpipe --help')", argv[1]);
	c->usage(stdout);
	return KBPIPE_EXIT_OK;
}

int main(int argc, char **argv)
{
	kbpipe_ctx ctx;
	const kbpipe_command *c;
	const char *env = getenv("KBP_STORAGE");
	int i;

	ctx.storage = (env && *env) ? env : "memory:";
	for (i = 1; i < argc && argv[i][0] == '-'; i++) {
		const char *arg = argv[i], *value;
		int m;

		if (strcmp(arg, "--") == 0) {
			i++;
			break;
		}
		if (strcmp(arg, "-h") == 0 || strcmp(arg, "--help") == 0) {
			usage(stdout);
			return KBPIPE_EXIT_OK;
		}
		if (strcmp(arg, "-V") == 0 || strcmp(arg, "--version") == 0) {
			printf("kbpipe %s\n", KBPIPE_VERSION);
			return KBPIPE_EXIT_OK;
		}
		m = kbpipe_opt_value(argc, argv, &i, "--storage", &value);
		if (m < 0)
			return kbpipe_usage_error("option '--storage' needs a URI");
		if (m == 0)
			return kbpipe_usage_error("unknown option '%s' (see 'kbpipe --help')", arg);
		if (!*value)
			return kbpipe_usage_error("option '--storage' needs a non-empty URI");
		ctx.storage = value;
	}
	if (i >= argc)
		return kbpipe_usage_error("no command given (see 'kbpipe --help')");
	c = find_command(argv[i]);
	if (!c)
		return kbpipe_usage_error("unknown command '%s' (see 'kbpipe --help')", argv[i]);
	return c->run(&ctx, argc - i, argv + i);
}
