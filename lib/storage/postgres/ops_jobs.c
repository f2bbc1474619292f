/* SPDX-License-Identifier: MIT */
/* The job queue, maintenance and metrics: each operation is one SQL function call. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/objects.h"
#include "storage/postgres/pg_internal.h"

int pg_job_enqueue(kbp_storage *s, const kbp_job_draft *d, int64_t now, char **out_id)
{
	pg_num prio = pg_i64(d->priority), run_at = pg_i64(d->run_at),
	       attempts = pg_i64(d->max_attempts), n = pg_i64(now);
	const char *p[] = { d->id, d->kind, d->payload, d->unique_key, prio.s, run_at.s,
		            attempts.s, n.s };
	const cJSON *id;
	cJSON *data;
	int rc = pg_call(pg_of(s), ST_JOB_ENQUEUE, p, 8, &data);

	id = cJSON_GetObjectItemCaseSensitive(data, "id");
	if ((rc == 0 || rc == KBP_EEXISTS) && cJSON_IsString(id) && !(*out_id = strdup(id->valuestring)))
		rc = pg_oom();
	cJSON_Delete(data);
	return rc;
}

int pg_jobs_acquire(kbp_storage *s, const char *worker, int max, int64_t lease_ms, int64_t now,
                    kbp_job_list **out)
{
	pg_num m = pg_i64(max), lease = pg_i64(lease_ms), n = pg_i64(now);
	const char *p[] = { worker, m.s, lease.s, n.s };
	cJSON *data;
	int rc = pg_call(pg_of(s), ST_JOBS_ACQUIRE, p, 4, &data);

	if (rc == 0 && !(*out = js_job_list(data, NULL)))
		rc = pg_oom();
	cJSON_Delete(data);
	return rc;
}

int pg_job_complete(kbp_storage *s, const char *job_id, const char *worker, int64_t now)
{
	pg_num n = pg_i64(now);
	const char *p[] = { job_id, worker, n.s };

	return pg_call(pg_of(s), ST_JOB_COMPLETE, p, 3, NULL);
}

int pg_job_get(kbp_storage *s, const char *job_id, kbp_job **out)
{
	const char *p[] = { job_id };
	cJSON *data;
	int rc = pg_call(pg_of(s), ST_JOB_GET, p, 1, &data);

	if (rc == 0 && !(*out = js_job(data)))
		rc = pg_oom();
	cJSON_Delete(data);
	return rc;
}

int pg_jobs_list(kbp_storage *s, const kbp_job_filter *f, kbp_job_list **out)
{
	pg_num state = pg_i64(f->state), since = pg_i64(f->since), limit = pg_i64((int64_t)f->limit);
	const char *p[] = { state.s, f->kind, since.s, limit.s, f->after };
	cJSON *data;
	int rc = pg_call(pg_of(s), ST_JOBS_LIST, p, 5, &data);

	if (rc == 0 && !(*out = js_job_list(cJSON_GetObjectItemCaseSensitive(data, "jobs"),
	                                    cJSON_GetObjectItemCaseSensitive(data, "next_after"))))
		rc = pg_oom();
	cJSON_Delete(data);
	return rc;
}

int pg_maintenance(kbp_storage *s, const kbp_maintenance_params *params,
                   kbp_maintenance_result *out)
{
	pg_num n = pg_i64(params->now), before = pg_i64(params->prune_before);
	const char *p[] = { n.s, before.s };
	cJSON *data;
	int rc = pg_call(pg_of(s), ST_MAINTENANCE, p, 2, &data);

	memset(out, 0, sizeof(*out));
	if (rc == 0) {
		out->ran = js_bool(data, "ran");
		out->intents_expired = js_i64(data, "intents_expired");
		out->jobs_rescued = js_i64(data, "jobs_rescued");
		out->jobs_pruned = js_i64(data, "jobs_pruned");
	}
	cJSON_Delete(data);
	return rc;
}

int pg_metrics(kbp_storage *s, int64_t now, kbp_metrics *out)
{
	pg_num n = pg_i64(now);
	const char *p[] = { n.s };
	cJSON *data;
	int rc = pg_call(pg_of(s), ST_METRICS, p, 1, &data);

	if (rc == 0)
		js_metrics(out, data);
	cJSON_Delete(data);
	return rc;
}

char *pg_id_array(const char *const *ids, size_t n)
{
	size_t len = 3;
	char *out, *w;

	for (size_t i = 0; i < n; i++)
		len += strlen(ids[i]) + 1;
	if (!(out = w = malloc(len)))
		return NULL;
	*w++ = '{';
	for (size_t i = 0; i < n; i++)
		w += sprintf(w, "%s%s", i ? "," : "", ids[i]);
	strcpy(w, "}");
	return out;
}

/*
 * Calls st with a text[] of job ids at params[ids_at] and returns the
 * result's "count": the steps that act on a batch of jobs at once.
 */
static int call_on_ids(kbp_storage *s, pg_stmt st, const char **params, int n, int ids_at,
                       const char *const *job_ids, size_t n_ids, int64_t *out_count)
{
	cJSON *data;
	int rc;

	if (!(params[ids_at] = pg_id_array(job_ids, n_ids)))
		return pg_oom();
	rc = pg_call(pg_of(s), st, params, n, &data);
	free((char *)params[ids_at]);
	if (rc == 0)
		*out_count = js_i64(data, "count");
	cJSON_Delete(data);
	return rc;
}

int pg_jobs_complete(kbp_storage *s, const char *const *job_ids, size_t n, const char *worker,
                     int64_t now, int64_t *out_done)
{
	pg_num t = pg_i64(now);
	const char *p[] = { NULL, worker, t.s };

	return call_on_ids(s, ST_JOBS_COMPLETE, p, 3, 0, job_ids, n, out_done);
}

int pg_jobs_extend(kbp_storage *s, const char *const *job_ids, size_t n, const char *worker,
                   int64_t lease_until, int64_t now, int64_t *out_count)
{
	pg_num until = pg_i64(lease_until), t = pg_i64(now);
	const char *p[] = { NULL, worker, until.s, t.s };

	return call_on_ids(s, ST_JOBS_EXTEND, p, 4, 0, job_ids, n, out_count);
}

static char *drafts_json(const kbp_job_draft *drafts, size_t n)
{
	cJSON *arr = pg_json_drafts(drafts, n);
	char *text = arr ? cJSON_PrintUnformatted(arr) : NULL;

	cJSON_Delete(arr);
	return text;
}

/*
 * A NULL id is a job whose key's holder committed after the statement's
 * snapshot: job_enqueue settles it (the holder's id, or the job if the
 * holder has finished since).
 */
static int take_ids(kbp_storage *s, const kbp_job_draft *drafts, const cJSON *ids, size_t n,
                    int64_t now, char **out_ids, size_t *out_created)
{
	for (size_t i = 0; i < n; i++) {
		const cJSON *id = cJSON_GetArrayItem(ids, (int)i);
		int rc;

		if (cJSON_IsString(id)) {
			if (!(out_ids[i] = strdup(id->valuestring)))
				return pg_oom();
			continue;
		}
		rc = pg_job_enqueue(s, &drafts[i], now, &out_ids[i]);
		if (rc == 0)
			(*out_created)++;
		else if (rc != KBP_EEXISTS)
			return rc;
	}
	return 0;
}

int pg_jobs_insert(kbp_storage *s, const kbp_job_draft *drafts, size_t n, int64_t now,
                   char **out_ids, size_t *out_created)
{
	pg_num t = pg_i64(now);
	char *json = drafts_json(drafts, n);
	const char *p[] = { json, t.s };
	cJSON *data = NULL;
	const cJSON *ids, *created;
	int rc;

	*out_created = 0;
	if (!json)
		return pg_oom();
	rc = pg_call(pg_of(s), ST_JOBS_INSERT, p, 2, &data);
	free(json);
	ids = cJSON_GetObjectItemCaseSensitive(data, "ids");
	created = cJSON_GetObjectItemCaseSensitive(data, "created");
	if (rc == 0 && (cJSON_GetArraySize(ids) != (int)n || !cJSON_IsNumber(created)))
		rc = kbp_error_set(KBP_ESTORAGE, "jobs_insert answered %d ids for %zu jobs",
		                   cJSON_GetArraySize(ids), n);
	if (rc == 0) {
		*out_created = (size_t)created->valuedouble;
		rc = take_ids(s, drafts, ids, n, now, out_ids, out_created);
	}
	if (rc) {
		*out_created = 0;
		for (size_t i = 0; i < n; i++) {
			free(out_ids[i]);
			out_ids[i] = NULL;
		}
	}
	cJSON_Delete(data);
	return rc;
}
