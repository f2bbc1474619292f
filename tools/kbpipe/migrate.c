/* SPDX-License-Identifier: MIT */
/* kbpipe migrate: create or upgrade the storage's schema. */
#include "kbpipe.h"

#include <string.h>

#include <kbpipeline.h>

void kbpipe_migrate_usage(FILE *f)
{
	fputs("usage: kbpipe [GLOBAL OPTIONS] migrate [--schema NAME]\n"
	      "\n"
	      "Creates or upgrades the schema to this library's version. Safe to run\n"
	      "twice and from several hosts at once; a no-op for memory:.\n"
	      "\n"
	      "  --schema NAME   PostgreSQL schema; default the global --schema, $KBP_SCHEMA,\n"
	      "                  the config file's \"schema\", else kbp\n"
	      "\n"
	      "Exit status: 0 the schema is at the library's version, 1 failure, 64 usage error.\n", f);
}

int kbpipe_migrate(const kbpipe_ctx *ctx, int argc, char **argv)
{
	const char *schema = ctx->schema;
	int version = 0, rc;

	for (int i = 1; i < argc; i++) {
		int m;
		if (strcmp(argv[i], "-h") == 0 || strcmp(argv[i], "--help") == 0) {
			kbpipe_migrate_usage(stdout);
			return KBPIPE_EXIT_OK;
		}
		m = kbpipe_opt_value(argc, argv, &i, "--schema", &schema);
		if (m < 0 || (m > 0 && !*schema))
			return kbpipe_usage_error("migrate: option '--schema' needs a name");
		if (m == 0)
			return kbpipe_bad_arg("migrate", argv[i]);
	}
	if ((rc = kbp_migrate(&version, ctx->storage, schema)))
		return kbpipe_lib_error("migrate", rc);
	printf("schema %s is at version %d\n", schema ? schema : "kbp", version);
	return KBPIPE_EXIT_OK;
}
