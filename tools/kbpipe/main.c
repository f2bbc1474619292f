/* SPDX-License-Identifier: MIT */
/*
 * kbpipe: the command-line tool of libkbpipeline.
 *
 *   kbpipe [--storage URI] [--schema NAME] [--config FILE] COMMAND [ARGS…]
 *
 * Global options come before the command; each command parses its own.
 * Settings: flags > environment (KBP_STORAGE, KBP_SCHEMA, KBP_CONFIG) >
 * config file > defaults. Exit status: 0 success, 1 failure, 64 usage
 * error, 78 config file error; health, doctor, worker and order-status add
 * codes of their own (kbpipe.h, kbpipe(1)).
 */
#include "kbpipe.h"

#include <stdlib.h>
#include <string.h>

#include <cjson/cJSON.h>

#ifndef KBPIPE_VERSION
#define KBPIPE_VERSION "unknown"
#endif

static int cmd_help(const kbpipe_ctx *ctx, int argc, char **argv);
static void help_usage(FILE *f);

static const kbpipe_command commands[] = {
	{ "demo", "run a shop of concurrent shoppers and check the pipeline's invariants",
	  kbpipe_demo, kbpipe_demo_usage },
	{ "migrate", "create or upgrade the storage's schema", kbpipe_migrate, kbpipe_migrate_usage },
	{ "worker", "run jobs and scheduled maintenance until SIGTERM or SIGINT", kbpipe_worker,
	  kbpipe_worker_usage },
	{ "jobs", "list, show, retry and cancel jobs; requeue stale ones", kbpipe_jobs,
	  kbpipe_jobs_usage },
	{ "stats", "print the pipeline's metrics (text, JSON or Prometheus)", kbpipe_stats,
	  kbpipe_stats_usage },
	{ "health", "check the metrics against thresholds; exit 0 ok, 1 warning, 2 critical",
	  kbpipe_health, kbpipe_health_usage },
	{ "doctor", "run the integrity checks and list what they find", kbpipe_doctor,
	  kbpipe_doctor_usage },
	{ "order-status", "print an intent's order stage and order number", kbpipe_order_status,
	  kbpipe_order_status_usage },
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
	fputs("usage: kbpipe [--storage URI] [--schema NAME] [--config FILE] COMMAND [ARGS…]\n"
	      "       kbpipe --help | --version\n"
	      "\n"
	      "Global options:\n"
	      "  --storage URI   storage backend: memory: (default), sqlite:PATH or a\n"
	      "                  PostgreSQL URI; else $KBP_STORAGE, else the config file's\n"
	      "                  \"storage\"\n"
	      "  --schema NAME   PostgreSQL schema (default kbp); else $KBP_SCHEMA, else the\n"
	      "                  config file's \"schema\"\n"
	      "  --config FILE   JSON config file (storage, schema, gateways, worker); else\n"
	      "                  $KBP_CONFIG\n"
	      "  -h, --help      show this help and exit\n"
	      "  -V, --version   show the version and exit\n"
	      "\n"
	      "Commands:\n", f);
	for (size_t i = 0; i < N_COMMANDS; i++)
		fprintf(f, "  %-14s  %s\n", commands[i].name, commands[i].summary);
	fputs("\nRun 'kbpipe help COMMAND' or 'kbpipe COMMAND --help' for the options of a command.\n"
	      "Exit status: 0 success, 1 failure, 64 usage error, 78 config file error;\n"
	      "health, doctor, worker and order-status add their own (see kbpipe(1)).\n", f);
}

static void help_usage(FILE *f)
{
	fputs("usage: kbpipe help [COMMAND [SUBCOMMAND]]\n"
	      "\n"
	      "Prints the usage of kbpipe, or of COMMAND, on standard output.\n", f);
}

static int cmd_help(const kbpipe_ctx *ctx, int argc, char **argv)
{
	const kbpipe_command *c;

	(void)ctx;
	/* "help jobs list" shows the usage of jobs, which covers its subcommands. */
	if (argc > 3 || (argc == 3 && strcmp(argv[1], "jobs") != 0))
		return kbpipe_usage_error("help: unexpected argument '%s'", argv[argc - 1]);
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

static int wants_help(int argc, char **argv)
{
	for (int i = 1; i < argc; i++)
		if (kbpipe_is_help(argv[i]))
			return 1;
	return 0;
}

static int global_value(int argc, char **argv, int *i, const char *name, const char *what,
                        const char **out, int *m)
{
	const char *value;

	*m = kbpipe_opt_value(argc, argv, i, name, &value);
	if (*m < 0)
		return kbpipe_usage_error("option '%s' needs %s", name, what);
	if (*m > 0) {
		if (!*value)
			return kbpipe_usage_error("option '%s' needs a non-empty %s", name, what + 2);
		*out = value;
	}
	return 0;
}

int main(int argc, char **argv)
{
	kbpipe_ctx ctx;
	const kbpipe_command *c;
	const char *storage = NULL, *schema = NULL, *config = NULL, *env;
	const cJSON *v;
	int i, rc;

	memset(&ctx, 0, sizeof ctx);
	for (i = 1; i < argc && argv[i][0] == '-'; i++) {
		const char *arg = argv[i];
		int m;

		if (strcmp(arg, "--") == 0) {
			i++;
			break;
		}
		if (kbpipe_is_help(arg)) {
			usage(stdout);
			return KBPIPE_EXIT_OK;
		}
		if (strcmp(arg, "-V") == 0 || strcmp(arg, "--version") == 0) {
			printf("kbpipe %s\n", KBPIPE_VERSION);
			return KBPIPE_EXIT_OK;
		}
		if ((rc = global_value(argc, argv, &i, "--storage", "a URI", &storage, &m)))
			return rc;
		if (m)
			continue;
		if ((rc = global_value(argc, argv, &i, "--schema", "a name", &schema, &m)))
			return rc;
		if (m)
			continue;
		if ((rc = global_value(argc, argv, &i, "--config", "a file", &config, &m)))
			return rc;
		if (m)
			continue;
		return kbpipe_usage_error("unknown option '%s' (see 'kbpipe --help')", arg);
	}
	if (i >= argc)
		return kbpipe_usage_error("no command given (see 'kbpipe --help')");
	c = find_command(argv[i]);
	if (!c)
		return kbpipe_usage_error("unknown command '%s' (see 'kbpipe --help')", argv[i]);

	/* Help needs no configuration, so a broken config file cannot hide it. */
	if (c->run != cmd_help && !wants_help(argc - i, argv + i)) {
		if (!config && (env = getenv("KBP_CONFIG")) && *env)
			config = env;
		if (config && (rc = kbpipe_config_load(&ctx, config)))
			return rc;
	}
	if (!storage && (env = getenv("KBP_STORAGE")) && *env)
		storage = env;
	if (!storage && (v = kbpipe_config_section(&ctx, "storage")))
		storage = v->valuestring;
	if (!schema && (env = getenv("KBP_SCHEMA")) && *env)
		schema = env;
	if (!schema && (v = kbpipe_config_section(&ctx, "schema")))
		schema = v->valuestring;
	ctx.storage = storage ? storage : "memory:";
	ctx.schema = schema;
	rc = c->run(&ctx, argc - i, argv + i);
	cJSON_Delete(ctx.config);
	return rc;
}
