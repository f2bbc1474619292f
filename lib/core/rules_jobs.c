/* SPDX-License-Identifier: MIT */
#include <stdio.h>
#include <string.h>

#include "core/rules.h"
#include "kbpipeline/errors.h"
#include "kbpipeline/jobs.h"

/*
 * The job queue's rules (DESIGN §3, §7): which states an operator may retry
 * or cancel, when a failed attempt is the last, what a lapsed lease does.
 * Acquiring, completing and renewing leases stay storage primitives: they
 * decide nothing but "still held by this worker".
 */

static int job_exists(const kbp_job *job, const char *job_id)
{
	return job ? 0 : kbp_error_set(KBP_ENOTFOUND, "job '%s' does not exist", job_id);
}

static void write_state(kbp_job_write *w, const kbp_job *job, kbp_job_state state, int64_t run_at)
{
	*w = (kbp_job_write){ job->id, state, run_at, job->max_attempts, NULL, 0 };
}

int kbp__rule_job_retry(kbp_job_write *w, const kbp_job *job, const kbp_job *holder,
                        const char *job_id, int64_t now)
{
	int rc;

	if ((rc = job_exists(job, job_id)))
		return rc;
	if (job->state != KBP_JOB_FAILED && job->state != KBP_JOB_CANCELED)
		return kbp_error_set(KBP_ESTATE, "job '%s' is %s; only failed or canceled jobs are retried",
		                     job->id, kbp_job_state_name(job->state));
	if (holder)
		return kbp_error_set(KBP_ECONFLICT, "job %s already holds unique key '%s'", holder->id,
		                     job->unique_key);
	write_state(w, job, KBP_JOB_AVAILABLE, now);
	/* An operator's retry is one more attempt, even for a job that used up its own. */
	if (w->max_attempts <= job->attempts)
		w->max_attempts = job->attempts + 1;
	return 0;
}

int kbp__rule_job_cancel(kbp_job_write *w, const kbp_job *job, const char *job_id)
{
	int rc;

	if ((rc = job_exists(job, job_id)))
		return rc;
	if (job->state != KBP_JOB_AVAILABLE && job->state != KBP_JOB_FAILED)
		return kbp_error_set(KBP_ESTATE, "job '%s' is %s; only available or failed jobs are canceled",
		                     job->id, kbp_job_state_name(job->state));
	write_state(w, job, KBP_JOB_CANCELED, job->run_at);
	return 0;
}

/* The attempt that just ended was the last one. */
static int attempts_used(const kbp_job *job)
{
	return job->attempts >= job->max_attempts;
}

int kbp__rule_job_fail(kbp_job_write *w, const kbp_job *job, const char *job_id,
                       const char *worker, const char *error, int64_t retry_at)
{
	int rc;

	if ((rc = job_exists(job, job_id)))
		return rc;
	if (job->state != KBP_JOB_RUNNING || !job->locked_by || strcmp(job->locked_by, worker) != 0)
		return kbp_error_set(KBP_ESTATE, "job '%s' is no longer held by %s", job_id, worker);
	if (retry_at < 0 || attempts_used(job))
		write_state(w, job, KBP_JOB_FAILED, job->run_at);
	else
		write_state(w, job, KBP_JOB_AVAILABLE, retry_at);
	w->error = error;
	return 0;
}

int kbp__rule_job_rescue(kbp_job_write *w, const kbp_job *job, int64_t now, char *message,
                         size_t size)
{
	if (job->state != KBP_JOB_RUNNING || job->lease_until >= now)
		return 0;
	snprintf(message, size, "lease expired while held by %s",
	         job->locked_by ? job->locked_by : "unknown");
	/* The attempt the lapsed lease held counts, as if its worker had failed it. */
	if (attempts_used(job))
		write_state(w, job, KBP_JOB_FAILED, job->run_at);
	else
		write_state(w, job, KBP_JOB_AVAILABLE, now);
	w->error = message;
	w->rescued = 1;
	return 1;
}
