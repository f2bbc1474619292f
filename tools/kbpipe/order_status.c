/* SPDX-License-Identifier: MIT */
/* kbpipe order-status: kbp_order_status_get(3) and kbp_order_wait(3). */
#include "kbpipe.h"

#include <stdlib.h>
#include <string.h>

#include <cjson/cJSON.h>

#define WAIT_MAX_S 86400

void kbpipe_order_status_usage(FILE *f)
{
	fputs("usage: kbpipe [GLOBAL OPTIONS] order-status INTENT_ID [--wait SECONDS] [--json]\n"
	      "\n"
	      "Prints the stage of the intent's order (verifying, processing, confirmed or\n"
	      "failed), the intent's status and, once confirmed, the order number.\n"
	      "\n"
	      "  --wait SECONDS   wait up to SECONDS (0..86400) for a final stage\n"
	      "                   (confirmed or failed)\n"
	      "  --json           one JSON object\n"
	      "\n"
	      "Intent ids look like pi_…. Exit status: 0 the status was printed (with --wait:\n"
	      "the stage is final), 1 failure (e.g. no such intent), 64 usage error, 75 --wait\n"
	      "ran out before a final stage (the latest status is printed).\n", f);
}

int kbpipe_order_status(const kbpipe_ctx *ctx, int argc, char **argv)
{
	kbp_options opts = KBP_OPTIONS_INIT;
	kbp_pipeline *p;
	kbp_order_status *st = NULL;
	const char *id = NULL;
	long wait_s = -1;
	int json = 0, rc, timed_out = 0;

	for (int i = 1; i < argc; i++) {
		const char *v;
		int m;

		if (kbpipe_is_help(argv[i])) {
			kbpipe_order_status_usage(stdout);
			return KBPIPE_EXIT_OK;
		}
		if (strcmp(argv[i], "--json") == 0) {
			json = 1;
			continue;
		}
		if ((m = kbpipe_opt_value(argc, argv, &i, "--wait", &v)) != 0) {
			if (m < 0 || kbpipe_parse_long(v, 0, WAIT_MAX_S, &wait_s))
				return kbpipe_usage_error("order-status: --wait needs a number of seconds from "
				                          "0 to %d", WAIT_MAX_S);
			continue;
		}
		if (argv[i][0] == '-' || id)
			return kbpipe_bad_arg("order-status", argv[i]);
		id = argv[i];
	}
	if (!id)
		return kbpipe_usage_error("order-status: needs an intent id (see 'kbpipe help "
		                          "order-status')");
	if (kbpipe_check_id(id, "pi_"))
		return kbpipe_usage_error("order-status: '%s' is not an intent id (pi_…)", id);
	if ((rc = kbpipe_open(&p, ctx, &opts)))
		return rc;
	if (wait_s >= 0) {
		rc = kbp_order_wait(&st, p, id, (int64_t)wait_s * 1000);
		if (rc == KBP_ETIMEOUT && st) {
			timed_out = 1;
			rc = 0;
		}
	} else {
		rc = kbp_order_status_get(&st, p, id);
	}
	kbp_pipeline_close(p);
	if (rc) {
		kbp_order_status_free(st);
		return kbpipe_lib_error("order-status", rc);
	}
	if (json) {
		cJSON *o = kbpipe_json_order_status(st);
		char *s;

		if (o && !st->intent_id)
			cJSON_ReplaceItemInObjectCaseSensitive(o, "intent_id", cJSON_CreateString(id));
		if (wait_s >= 0)
			cJSON_AddBoolToObject(o, "timed_out", timed_out);
		s = cJSON_Print(o);
		cJSON_Delete(o);
		if (s)
			puts(s);
		free(s);
	} else {
		printf("intent        %s\n", st->intent_id ? st->intent_id : id);
		printf("stage         %s\n", kbp_order_stage_name(st->stage));
		printf("intent_status %s\n", kbp_intent_status_name(st->intent_status));
		printf("order_number  %s\n", st->order_number ? st->order_number : "-");
		printf("order_id      %s\n", st->order_id ? st->order_id : "-");
		if (st->reason)
			printf("reason        %s\n", st->reason);
		if (st->needs_refund)
			printf("needs_refund  yes\n");
	}
	fflush(stdout);
	if (timed_out) {
		kbpipe_fail("order-status: still %s after waiting %ld s", kbp_order_stage_name(st->stage),
		            wait_s);
		kbp_order_status_free(st);
		return KBPIPE_EXIT_TIMEOUT;
	}
	kbp_order_status_free(st);
	return KBPIPE_EXIT_OK;
}
