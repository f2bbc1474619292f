/* SPDX-License-Identifier: MIT */
#include "core/pipeline_internal.h"
#include "core/validate.h"

static int check_filter(const kbp_job_filter *f)
{
	int rc;

	if ((rc = kbp__check_version(f->version, KBP_JOB_FILTER_VERSION, "kbp_job_filter")) ||
	    (rc = kbp__check_range(f->state, -1, KBP_JOB_STATE_COUNT - 1, "state")) ||
	    (rc = kbp__check_range(f->since, 0, INT64_MAX, "since")) ||
	    (rc = kbp__check_range((int64_t)f->limit, 0, KBP_JOB_LIST_MAX, "limit")) ||
	    (rc = kbp__check_optional_id(f->after, "paging cursor")))
		return rc;
	if (f->kind && (rc = kbp__check_job_kind(f->kind)))
		return rc;
	return 0;
}

int kbp_jobs_list(kbp_job_list **out, kbp_pipeline *p, const kbp_job_filter *filter)
{
	kbp_job_filter f = KBP_JOB_FILTER_INIT;
	int rc;

	KBP_CHECK_OUT(out);
	*out = NULL;
	KBP_CHECK_PIPELINE(p);
	if (filter)
		f = *filter;
	if ((rc = check_filter(&f)))
		return rc;
	if (f.limit == 0)
		f.limit = 100;
	return p->storage->jobs_list(p->storage, &f, out);
}

int kbp_job_get(kbp_job **out, kbp_pipeline *p, const char *job_id)
{
	int rc;

	KBP_CHECK_OUT(out);
	*out = NULL;
	KBP_CHECK_PIPELINE(p);
	if ((rc = kbp__check_id(job_id, "job id")))
		return rc;
	return p->storage->job_get(p->storage, job_id, out);
}

int kbp_job_retry(kbp_pipeline *p, const char *job_id)
{
	int rc;

	KBP_CHECK_PIPELINE(p);
	if ((rc = kbp__check_id(job_id, "job id")))
		return rc;
	return p->storage->job_retry(p->storage, job_id, kbp_pipeline_now(p));
}

int kbp_job_cancel(kbp_pipeline *p, const char *job_id)
{
	int rc;

	KBP_CHECK_PIPELINE(p);
	if ((rc = kbp__check_id(job_id, "job id")))
		return rc;
	return p->storage->job_cancel(p->storage, job_id, kbp_pipeline_now(p));
}

int kbp_jobs_rescue(int64_t *out_count, kbp_pipeline *p)
{
	int64_t count = 0;
	int rc;

	if (out_count)
		*out_count = 0;
	KBP_CHECK_PIPELINE(p);
	rc = p->storage->jobs_rescue(p->storage, kbp_pipeline_now(p), &count);
	if (rc == 0 && out_count)
		*out_count = count;
	return rc;
}

/* The former name: a real symbol, so programs linked against it keep running. */
int kbp_jobs_requeue_stale(int64_t *out_count, kbp_pipeline *p)
{
	return kbp_jobs_rescue(out_count, p);
}
