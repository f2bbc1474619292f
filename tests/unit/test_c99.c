/* SPDX-License-Identifier: MIT */
/*
 * The public headers must compile as C99 with -pedantic (DESIGN §8); this
 * file is built that way. It also checks that the _INIT macros fill the
 * version fields, which every versioned call depends on. The headers split
 * out of others come first, so that each is seen to stand alone.
 */
#include <kbpipeline/gateways.h>
#include <kbpipeline/jobs.h>
#include <kbpipeline.h>
#include <kbpipeline/sys/storage.h>
#include <kbpipeline/sys/gateway.h>
#include <stdio.h>

#define EXPECT(cond) do { if (!(cond)) { fprintf(stderr, "failed: %s\n", #cond); failures++; } } while (0)

int main(void)
{
	int failures = 0;
	kbp_options o = KBP_OPTIONS_INIT;
	kbp_product_spec ps = KBP_PRODUCT_SPEC_INIT;
	kbp_intent_request ir = KBP_INTENT_REQUEST_INIT;
	kbp_sandbox_options so = KBP_SANDBOX_OPTIONS_INIT;
	kbp_esewa_options eso = KBP_ESEWA_OPTIONS_INIT;
	kbp_khalti_options ko = KBP_KHALTI_OPTIONS_INIT;
	kbp_enqueue_options eo = KBP_ENQUEUE_OPTIONS_INIT;
	kbp_worker_options wo = KBP_WORKER_OPTIONS_INIT;
	kbp_job_filter jf = KBP_JOB_FILTER_INIT;
	kbp_health_thresholds ht = KBP_HEALTH_THRESHOLDS_INIT;
	kbp_intent_item line = { NULL, NULL, 2, 150 };
	kbp_intent intent = { 0 };
	kbp_order order = { 0 };

	EXPECT(o.version == KBP_OPTIONS_VERSION && o.storage == NULL && o.intent_ttl_ms == 0);
	EXPECT(ps.version == KBP_PRODUCT_SPEC_VERSION && ps.active == 1);
	EXPECT(ir.version == KBP_INTENT_REQUEST_VERSION && ir.idempotency_key == NULL);
	EXPECT(so.version == KBP_SANDBOX_OPTIONS_VERSION && so.secret == NULL);
	EXPECT(eso.version == KBP_ESEWA_OPTIONS_VERSION && eso.secret_env == NULL &&
	       eso.transport == NULL);
	EXPECT(ko.version == KBP_KHALTI_OPTIONS_VERSION && ko.secret_env == NULL &&
	       ko.transport == NULL);
	EXPECT(eo.version == KBP_ENQUEUE_OPTIONS_VERSION && eo.unique_key == NULL);
	EXPECT(wo.version == KBP_WORKER_OPTIONS_VERSION && wo.threads == 0);
	EXPECT(jf.version == KBP_JOB_FILTER_VERSION && jf.state == -1 && jf.limit == 0);
	EXPECT(ht.version == KBP_HEALTH_THRESHOLDS_VERSION && ht.stuck_critical == 5 &&
	       ht.failed_hour_warning == 10 && ht.finalize_p95_warning_ms == 10000);
	/* An order's items are its intent's: one type, assignable without a cast. */
	intent.items = &line;
	order.items = intent.items;
	EXPECT(order.items[0].qty == 2 && order.items[0].unit_price_minor == 150);
	EXPECT(sizeof(kbp_order_item) == sizeof(kbp_intent_item));
	EXPECT(kbp_strerror(KBP_EINVAL) != NULL);
	return failures == 0 ? 0 : 1;
}
