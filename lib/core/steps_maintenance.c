/* SPDX-License-Identifier: MIT */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/objects.h"
#include "core/records.h"
#include "core/rules.h"
#include "kbpipeline/jobs.h"

/* Intents expired per transaction: a pass takes as many as it needs. */
#define EXPIRE_BATCH 256

/* The intents a maintenance step scanned and writes back. */
typedef struct scan_step {
	kbp_step step;
	int64_t now;
	const kbp_reconcile_params *params;
	kbp_intent_record *scanned;
	size_t n_scanned;
	kbp_intent_write *writes;
	size_t n_writes;
	kbp_stock_delta *stock;
	kbp_job_draft *jobs;
	kbp_intent_job_text *texts;
} scan_step;

static int take_scan(scan_step *ss, kbp_facts *f)
{
	size_t lines = 0;

	ss->scanned = f->scanned;
	ss->n_scanned = f->n_scanned;
	f->scanned = NULL;
	f->n_scanned = 0;
	for (size_t i = 0; i < ss->n_scanned; i++)
		lines += ss->scanned[i].intent.n_items;
	ss->writes = calloc(ss->n_scanned + 1, sizeof(*ss->writes));
	ss->stock = calloc(lines + 1, sizeof(*ss->stock));
	ss->jobs = calloc(ss->n_scanned + 1, sizeof(*ss->jobs));
	ss->texts = calloc(ss->n_scanned + 1, sizeof(*ss->texts));
	if (!ss->writes || !ss->stock || !ss->jobs || !ss->texts)
		return kbp_error_set(KBP_ENOMEM, "out of memory");
	return 0;
}

static int decide_expire(kbp_step *st, kbp_facts *f, kbp_changes *c)
{
	scan_step *ss = (scan_step *)st;
	size_t lines = 0;
	int rc;

	if ((rc = take_scan(ss, f)))
		return rc;
	for (size_t i = 0; i < ss->n_scanned; i++) {
		kbp_intent_record *r = &ss->scanned[i];
		if (r->intent.status != KBP_INTENT_PENDING || r->intent.expires_at > ss->now)
			continue;
		if ((rc = kbp__rule_intent_move(r, KBP_INTENT_EXPIRED, "expired", ss->now)))
			return rc;
		kbp__rule_stock(ss->stock + lines, &r->intent, KBP_STOCK_RELEASE);
		lines += r->intent.n_items;
		ss->writes[ss->n_writes++] = (kbp_intent_write){ r, 0 };
	}
	c->intents = ss->writes;
	c->n_intents = ss->n_writes;
	c->stock = ss->stock;
	c->n_stock = lines;
	return 0;
}

static void scan_step_reset(kbp_step *st)
{
	scan_step *ss = (scan_step *)st;

	for (size_t i = 0; i < ss->n_scanned; i++)
		kbp__intent_record_clear(&ss->scanned[i]);
	free(ss->scanned);
	free(ss->writes);
	free(ss->stock);
	free(ss->jobs);
	free(ss->texts);
	ss->scanned = NULL;
	ss->n_scanned = ss->n_writes = 0;
	ss->writes = NULL;
	ss->stock = NULL;
	ss->jobs = NULL;
	ss->texts = NULL;
}

static int run_scan(kbp_storage *s, scan_step *ss, int64_t *out_count)
{
	int rc;

	ss->step.reset = scan_step_reset;
	rc = kbp__step_run(s, &ss->step);

	*out_count = rc == 0 ? (int64_t)ss->n_writes : 0;
	scan_step_reset(&ss->step);
	return rc;
}

int kbp__rec_intents_expire(kbp_storage *s, int64_t now, int64_t *out_count)
{
	int64_t n;
	int rc;

	*out_count = 0;
	do {
		scan_step ss;
		memset(&ss, 0, sizeof(ss));
		ss.step.decide = decide_expire;
		ss.step.query.scan = KBP_SCAN_EXPIRING;
		ss.step.query.scan_before = now;
		ss.step.query.scan_max = EXPIRE_BATCH;
		ss.now = now;
		if ((rc = run_scan(s, &ss, &n)))
			return rc;
		*out_count += n;
	} while (n == EXPIRE_BATCH);
	return 0;
}

static void reconcile_job(scan_step *ss, const kbp_intent_record *r, size_t i)
{
	const kbp_reconcile_params *p = ss->params;

	kbp__rule_intent_job(&ss->texts[i], KBP_JOB_RECONCILE_PAYMENT, r->intent.id);
	ss->jobs[i] = (kbp_job_draft){ p->job_ids[i], KBP_JOB_RECONCILE_PAYMENT, ss->texts[i].payload,
		                       ss->texts[i].unique_key, 0, p->now, p->max_attempts };
}

static int decide_reconcile(kbp_step *st, kbp_facts *f, kbp_changes *c)
{
	scan_step *ss = (scan_step *)st;
	int rc;

	if ((rc = take_scan(ss, f)))
		return rc;
	for (size_t i = 0; i < ss->n_scanned && ss->n_writes < ss->params->n_ids; i++) {
		kbp_intent_record *r = &ss->scanned[i];
		if (!kbp__rule_needs_reconcile(r, ss->params->created_before))
			continue;
		r->reconcile_marked = 1;
		reconcile_job(ss, r, ss->n_writes);
		ss->writes[ss->n_writes++] = (kbp_intent_write){ r, 0 };
	}
	c->intents = ss->writes;
	c->n_intents = ss->n_writes;
	c->jobs = ss->jobs;
	c->n_jobs = ss->n_writes;
	c->now = ss->now;
	return 0;
}

int kbp__rec_reconcile_schedule(kbp_storage *s, const kbp_reconcile_params *params,
                                int64_t *out_count)
{
	scan_step ss;

	memset(&ss, 0, sizeof(ss));
	ss.step.decide = decide_reconcile;
	ss.step.query.scan = KBP_SCAN_UNSETTLED;
	ss.step.query.scan_before = params->created_before;
	ss.step.query.scan_max = params->n_ids;
	ss.now = params->now;
	ss.params = params;
	return run_scan(s, &ss, out_count);
}
