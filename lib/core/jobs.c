/* SPDX-License-Identifier: MIT */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/pipeline_internal.h"
#include "core/storage_open.h"
#include "core/validate.h"
#include "util/ids.h"

/* The library's jobs hold keys under KBP_JOB_KEY_PREFIX, so a caller's job can never stand in for one. */
static int check_unique_key(const char *key)
{
	int rc;

	if (!key)
		return 0;
	if ((rc = kbp__check_id(key, "unique_key")))
		return rc;
	if (strncmp(key, KBP_JOB_KEY_PREFIX, strlen(KBP_JOB_KEY_PREFIX)) == 0)
		return kbp_error_set(KBP_EINVAL, "unique_key may not begin with '%s': those are the library's own",
		                     KBP_JOB_KEY_PREFIX);
	return 0;
}

static int check_enqueue_options(const kbp_enqueue_options *o)
{
	int rc;

	if ((rc = kbp__check_version(o->version, KBP_ENQUEUE_OPTIONS_VERSION, "kbp_enqueue_options")) ||
	    (rc = check_unique_key(o->unique_key)) ||
	    (rc = kbp__check_range(o->priority, 0, KBP_JOB_PRIORITY_MAX, "priority")) ||
	    (rc = kbp__check_range(o->run_at, 0, INT64_MAX, "run_at")) ||
	    (rc = kbp__check_range(o->max_attempts, 0, 1000, "max_attempts")))
		return rc;
	return 0;
}

static kbp_job_draft make_draft(const kbp_pipeline *p, const char *id, const char *kind,
                                const char *payload_json, const kbp_enqueue_options *opts,
                                int64_t now)
{
	return (kbp_job_draft){ id,
		                kind,
		                payload_json ? payload_json : "{}",
		                opts->unique_key,
		                opts->priority,
		                opts->run_at ? opts->run_at : now,
		                opts->max_attempts ? opts->max_attempts : p->max_attempts };
}

static int check_job(const char *kind, const char *payload_json, const kbp_enqueue_options *opts)
{
	int rc;

	if ((rc = kbp__check_job_kind(kind)) ||
	    (rc = kbp__check_json_object(payload_json, KBP_JOB_PAYLOAD_MAX, "job payload")) ||
	    (rc = check_enqueue_options(opts)))
		return rc;
	return 0;
}

int kbp_job_enqueue(char **out_id, kbp_pipeline *p, const char *kind, const char *payload_json,
                    const kbp_enqueue_options *opts)
{
	kbp_enqueue_options defaults = KBP_ENQUEUE_OPTIONS_INIT;
	char id[KBP_GEN_ID_SIZE];
	char *stored_id = NULL;
	kbp_job_draft draft;
	int64_t now;
	int rc;

	if (out_id)
		*out_id = NULL;
	KBP_CHECK_PIPELINE(p);
	if (!opts)
		opts = &defaults;
	if ((rc = check_job(kind, payload_json, opts)))
		return rc;
	now = kbp_pipeline_now(p);
	kbp_id_generate(id, "job_");
	draft = make_draft(p, id, kind, payload_json, opts, now);
	rc = p->storage->job_enqueue(p->storage, &draft, now, &stored_id);
	if (out_id)
		*out_id = stored_id;
	else
		kbp_free(stored_id);
	return rc;
}

/* The batch's error names the job, so that the caller can find it among thousands. */
static int check_spec(const kbp_job_spec *spec, size_t i)
{
	char message[256];
	int rc;

	if (!(rc = kbp__check_version(spec->version, KBP_JOB_SPEC_VERSION, "kbp_job_spec")))
		rc = check_job(spec->kind, spec->payload_json, &spec->options);
	if (!rc)
		return 0;
	snprintf(message, sizeof(message), "%s", kbp_error_last()->message);
	return kbp_error_set(rc, "jobs[%zu]: %s", i, message);
}

static int check_batch(const kbp_job_spec *jobs, size_t n)
{
	int rc;

	if (n > KBP_JOBS_ENQUEUE_MAX)
		return kbp_error_set(KBP_ETOOBIG, "%zu jobs exceed the batch limit of %d", n,
		                     KBP_JOBS_ENQUEUE_MAX);
	if (n && !jobs)
		return kbp_error_set(KBP_EINVAL, "jobs is NULL with n = %zu", n);
	for (size_t i = 0; i < n; i++)
		if ((rc = check_spec(&jobs[i], i)))
			return rc;
	return 0;
}

/* The drafts point into ids (one KBP_GEN_ID_SIZE slot per job) and into the caller's specs. */
static int insert_batch(char **ids, size_t *created, kbp_pipeline *p, const kbp_job_spec *jobs,
                        size_t n)
{
	char (*gen)[KBP_GEN_ID_SIZE] = calloc(n, sizeof(*gen));
	kbp_job_draft *drafts = calloc(n, sizeof(*drafts));
	int64_t now = kbp_pipeline_now(p);
	int rc;

	if (!gen || !drafts) {
		free(gen);
		free(drafts);
		return kbp_error_set(KBP_ENOMEM, "out of memory");
	}
	for (size_t i = 0; i < n; i++) {
		kbp_id_generate(gen[i], "job_");
		drafts[i] = make_draft(p, gen[i], jobs[i].kind, jobs[i].payload_json,
		                       &jobs[i].options, now);
	}
	rc = kbp__storage_jobs_insert(p->storage, drafts, n, now, ids, created);
	free(gen);
	free(drafts);
	return rc;
}

static void free_ids(char **ids, size_t n)
{
	for (size_t i = 0; i < n; i++)
		kbp_free(ids[i]);
	kbp_free(ids);
}

int kbp_jobs_enqueue(char ***out_ids, size_t *out_created, kbp_pipeline *p,
                     const kbp_job_spec *jobs, size_t n)
{
	size_t created = 0;
	char **ids;
	int rc;

	if (out_ids)
		*out_ids = NULL;
	if (out_created)
		*out_created = 0;
	KBP_CHECK_PIPELINE(p);
	if ((rc = check_batch(jobs, n)))
		return rc;
	/* One more slot so that an empty batch still returns an array to free. */
	if (!(ids = calloc(n + 1, sizeof(*ids))))
		return kbp_error_set(KBP_ENOMEM, "out of memory");
	if (n && (rc = insert_batch(ids, &created, p, jobs, n))) {
		free(ids);
		return rc;
	}
	if (out_created)
		*out_created = created;
	if (out_ids)
		*out_ids = ids;
	else
		free_ids(ids, n);
	return 0;
}
