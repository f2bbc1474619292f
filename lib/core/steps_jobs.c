/* SPDX-License-Identifier: MIT */
#include <stdlib.h>
#include <string.h>

#include "core/records.h"
#include "core/rules.h"

/* Lapsed leases rescued per transaction: a pass takes as many as it needs. */
#define RESCUE_BATCH 256

/* An operator's or a worker's change to one job. */
typedef struct job_step {
	kbp_step step;
	const char *job_id;
	const char *worker;
	const char *error;
	int64_t retry_at;
	int64_t now;
	kbp_job_write write;
} job_step;

static void job_step_init(job_step *js, int (*decide)(kbp_step *, kbp_facts *, kbp_changes *),
                          const char *job_id, int64_t now)
{
	memset(js, 0, sizeof(*js));
	js->step.decide = decide;
	js->step.query.job_id = job_id;
	js->step.query.want = KBP_FACTS_JOB;
	js->job_id = job_id;
	js->now = now;
}

/* The write points into the facts, which live until the changes are applied. */
static int write_job(job_step *js, kbp_changes *c)
{
	c->job_writes = &js->write;
	c->n_job_writes = 1;
	c->now = js->now;
	return 0;
}

static int decide_retry(kbp_step *st, kbp_facts *f, kbp_changes *c)
{
	job_step *js = (job_step *)st;
	int rc = kbp__rule_job_retry(&js->write, f->job, f->holder, js->job_id, js->now);

	return rc ? rc : write_job(js, c);
}

static int decide_cancel(kbp_step *st, kbp_facts *f, kbp_changes *c)
{
	job_step *js = (job_step *)st;
	int rc = kbp__rule_job_cancel(&js->write, f->job, js->job_id);

	return rc ? rc : write_job(js, c);
}

static int decide_fail(kbp_step *st, kbp_facts *f, kbp_changes *c)
{
	job_step *js = (job_step *)st;
	int rc = kbp__rule_job_fail(&js->write, f->job, js->job_id, js->worker, js->error,
	                            js->retry_at);

	return rc ? rc : write_job(js, c);
}

int kbp__rec_job_retry(kbp_storage *s, const char *job_id, int64_t now)
{
	job_step js;

	job_step_init(&js, decide_retry, job_id, now);
	js.step.query.want |= KBP_FACTS_JOB_HOLDER;
	return kbp__step_run(s, &js.step);
}

int kbp__rec_job_cancel(kbp_storage *s, const char *job_id, int64_t now)
{
	job_step js;

	job_step_init(&js, decide_cancel, job_id, now);
	return kbp__step_run(s, &js.step);
}

int kbp__rec_job_fail(kbp_storage *s, const char *job_id, const char *worker, const char *error,
                      int64_t retry_at, int64_t now)
{
	job_step js;

	job_step_init(&js, decide_fail, job_id, now);
	js.worker = worker;
	js.error = error;
	js.retry_at = retry_at;
	return kbp__step_run(s, &js.step);
}

/* One batch of lapsed leases. */
typedef struct rescue_step {
	kbp_step step;
	int64_t now;
	kbp_job_write *writes;
	char (*messages)[KBP_ID_MAX + 64];
	size_t n_writes;
} rescue_step;

static void rescue_step_reset(kbp_step *st)
{
	rescue_step *rs = (rescue_step *)st;

	free(rs->writes);
	free(rs->messages);
	rs->writes = NULL;
	rs->messages = NULL;
	rs->n_writes = 0;
}

static int decide_rescue(kbp_step *st, kbp_facts *f, kbp_changes *c)
{
	rescue_step *rs = (rescue_step *)st;
	size_t n = f->jobs ? f->jobs->n : 0;

	rs->writes = calloc(n + 1, sizeof(*rs->writes));
	rs->messages = calloc(n + 1, sizeof(*rs->messages));
	if (!rs->writes || !rs->messages)
		return kbp_error_set(KBP_ENOMEM, "out of memory");
	for (size_t i = 0; i < n; i++)
		rs->n_writes += (size_t)kbp__rule_job_rescue(&rs->writes[rs->n_writes], &f->jobs->jobs[i],
		                                             rs->now, rs->messages[rs->n_writes],
		                                             sizeof(rs->messages[0]));
	c->job_writes = rs->writes;
	c->n_job_writes = rs->n_writes;
	c->now = rs->now;
	return 0;
}

int kbp__rec_jobs_rescue(kbp_storage *s, int64_t now, int64_t *out_count)
{
	size_t written;
	int rc;

	*out_count = 0;
	do {
		rescue_step rs;
		memset(&rs, 0, sizeof(rs));
		rs.step.decide = decide_rescue;
		rs.step.reset = rescue_step_reset;
		rs.step.query.scan = KBP_SCAN_LAPSED_LEASES;
		rs.step.query.scan_before = now;
		rs.step.query.scan_max = RESCUE_BATCH;
		rs.now = now;
		rc = kbp__step_run(s, &rs.step);
		*out_count += rc == 0 ? (int64_t)rs.n_writes : 0;
		written = rs.n_writes;
		rescue_step_reset(&rs.step);
	} while (rc == 0 && written == RESCUE_BATCH);
	return rc;
}
