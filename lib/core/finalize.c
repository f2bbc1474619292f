/* SPDX-License-Identifier: MIT */
#include <cjson/cJSON.h>

#include "core/pipeline_internal.h"
#include "util/ids.h"

/*
 * finalize_order: creates the order of a paid intent. Idempotent, so a job
 * rescued after a crash between the order's commit and the job's completion
 * simply finds the order.
 */
int kbp__finalize_order_handler(void *ctx, kbp_pipeline *p, const kbp_job *job)
{
	char order_id[KBP_GEN_ID_SIZE], number[KBP_GEN_ID_SIZE];
	cJSON *payload = cJSON_Parse(job->payload);
	const cJSON *intent_id = cJSON_GetObjectItemCaseSensitive(payload, "intent_id");
	kbp_order *order = NULL;
	int rc;

	(void)ctx;
	if (!cJSON_IsString(intent_id)) {
		cJSON_Delete(payload);
		return kbp_error_set(KBP_EPARSE, "finalize_order payload has no intent_id");
	}
	kbp_id_generate(order_id, "ord_");
	kbp_order_number_generate(number);
	rc = p->storage->order_finalize(p->storage, intent_id->valuestring, order_id, number,
	                                kbp_pipeline_now(p), &order);
	if (rc == 0)
		kbp__log(p, KBP_LOG_INFO, "order %s created for intent %s", order->order_number,
		         order->intent_id);
	if (rc == KBP_EEXISTS)
		rc = 0;
	kbp_order_free(order);
	cJSON_Delete(payload);
	return rc;
}
