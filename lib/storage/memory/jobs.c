/* SPDX-License-Identifier: MIT */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/objects.h"
#include "storage/memory/memory_internal.h"
#include "util/strings.h"

void mem_job_free(mem_job *j)
{
	if (!j)
		return;
	kbp__job_clear(&j->pub);
	free(j);
}

/* Puts an available job in the heap its run_at calls for; stale entries are skipped on pop. */
static int queue_push(mem_store *m, mem_job *j, int64_t now)
{
	mem_qentry e = { j->pub.priority, j->pub.run_at, j->seq, ++j->gen, j };

	return mem_heap_push(j->pub.run_at <= now ? &m->ready : &m->scheduled, e);
}

static int entry_valid(const mem_qentry *e)
{
	return e->gen == e->job->gen && e->job->pub.state == KBP_JOB_AVAILABLE;
}

static void release_unique(mem_store *m, mem_job *j)
{
	if (j->pub.unique_key && kbp_hmap_get(&m->live_unique, j->pub.unique_key) == j)
		kbp_hmap_del(&m->live_unique, j->pub.unique_key);
}

static mem_job *job_new(const kbp_job_draft *d, int64_t now)
{
	mem_job *j = calloc(1, sizeof(*j));

	if (!j)
		return NULL;
	j->pub.id = strdup(d->id);
	j->pub.kind = strdup(d->kind);
	j->pub.payload = strdup(d->payload);
	j->pub.unique_key = kbp_strdup0(d->unique_key);
	j->pub.state = KBP_JOB_AVAILABLE;
	j->pub.priority = d->priority;
	j->pub.max_attempts = d->max_attempts;
	j->pub.run_at = d->run_at;
	j->pub.created_at = j->pub.updated_at = now;
	if (!j->pub.id || !j->pub.kind || !j->pub.payload || (d->unique_key && !j->pub.unique_key)) {
		mem_job_free(j);
		return NULL;
	}
	return j;
}

int mem_job_insert(mem_store *m, const kbp_job_draft *d, int64_t now, mem_job **out_job)
{
	mem_job *j = job_new(d, now);

	if (!j || kbp_hmap_put(&m->jobs, j->pub.id, j) != 0) {
		mem_job_free(j);
		return kbp_error_set(KBP_ENOMEM, "out of memory");
	}
	if ((j->pub.unique_key && kbp_hmap_put(&m->live_unique, j->pub.unique_key, j) != 0) ||
	    (j->seq = ++m->job_seq, queue_push(m, j, now) != 0)) {
		release_unique(m, j);
		kbp_hmap_del(&m->jobs, j->pub.id);
		mem_job_free(j);
		return kbp_error_set(KBP_ENOMEM, "out of memory");
	}
	*out_job = j;
	mem_bump(m, KBP_TOPIC_JOBS);
	return 0;
}

int mem_job_enqueue(kbp_storage *s, const kbp_job_draft *d, int64_t now, char **out_id)
{
	mem_store *m = mem_of(s);
	mem_job *j = NULL;
	int rc;

	pthread_mutex_lock(&m->lock);
	if (d->unique_key && (j = kbp_hmap_get(&m->live_unique, d->unique_key)))
		rc = kbp_error_set(KBP_EEXISTS, "job %s already holds unique key '%s'", j->pub.id,
		                   d->unique_key);
	else
		rc = mem_job_insert(m, d, now, &j);
	if ((rc == 0 || rc == KBP_EEXISTS) && !(*out_id = strdup(j->pub.id)) && rc == 0)
		rc = kbp_error_set(KBP_ENOMEM, "out of memory");
	pthread_mutex_unlock(&m->lock);
	return rc;
}

/* Room for extra more entries, so that pushing them cannot fail half way through a batch. */
static int heap_reserve(mem_heap *h, size_t extra)
{
	mem_qentry *v;

	if (h->cap - h->n >= extra)
		return 0;
	if (!(v = realloc(h->v, (h->n + extra) * sizeof(*v))))
		return -1;
	h->v = v;
	h->cap = h->n + extra;
	return 0;
}

/* Undoes batch_add() for new[0..n): they are not in a heap yet. */
static void batch_drop(mem_store *m, mem_job **new, size_t n)
{
	for (size_t i = 0; i < n; i++) {
		release_unique(m, new[i]);
		kbp_hmap_del(&m->jobs, new[i]->pub.id);
		mem_job_free(new[i]);
	}
}

/* Inserts the job, or finds the live holder of its key; *out_new is NULL for a holder. */
static int batch_add(mem_store *m, const kbp_job_draft *d, int64_t now, mem_job **out,
                     mem_job **out_new)
{
	mem_job *j;

	*out_new = NULL;
	if (d->unique_key && (*out = kbp_hmap_get(&m->live_unique, d->unique_key)))
		return 0;
	if (!(j = job_new(d, now)) || kbp_hmap_put(&m->jobs, j->pub.id, j) != 0) {
		mem_job_free(j);
		return -1;
	}
	if (j->pub.unique_key && kbp_hmap_put(&m->live_unique, j->pub.unique_key, j) != 0) {
		kbp_hmap_del(&m->jobs, j->pub.id);
		mem_job_free(j);
		return -1;
	}
	*out = *out_new = j;
	return 0;
}

/* The jobs are in the maps; queueing them cannot fail once the heaps have room. */
static int batch_insert_locked(mem_store *m, const kbp_job_draft *drafts, size_t n, int64_t now,
                               char **out_ids, mem_job **new, size_t *n_new)
{
	mem_job *j;

	*n_new = 0;
	if (heap_reserve(&m->ready, n) != 0 || heap_reserve(&m->scheduled, n) != 0)
		return -1;
	for (size_t i = 0; i < n; i++) {
		if (batch_add(m, &drafts[i], now, &j, &new[*n_new]) != 0)
			return -1;
		if (new[*n_new])
			(*n_new)++;
		if (!(out_ids[i] = strdup(j->pub.id)))
			return -1;
	}
	for (size_t i = 0; i < *n_new; i++) {
		new[i]->seq = ++m->job_seq;
		(void)queue_push(m, new[i], now);
	}
	return 0;
}

int mem_jobs_insert(kbp_storage *s, const kbp_job_draft *drafts, size_t n, int64_t now,
                    char **out_ids, size_t *out_created)
{
	mem_store *m = mem_of(s);
	mem_job **new = calloc(n ? n : 1, sizeof(*new));
	size_t n_new = 0;
	int rc = 0;

	*out_created = 0;
	if (!new)
		return kbp_error_set(KBP_ENOMEM, "out of memory");
	pthread_mutex_lock(&m->lock);
	if (batch_insert_locked(m, drafts, n, now, out_ids, new, &n_new) != 0) {
		batch_drop(m, new, n_new);
		for (size_t i = 0; i < n; i++) {
			free(out_ids[i]);
			out_ids[i] = NULL;
		}
		rc = kbp_error_set(KBP_ENOMEM, "out of memory");
	} else if ((*out_created = n_new)) {
		mem_bump(m, KBP_TOPIC_JOBS);
	}
	pthread_mutex_unlock(&m->lock);
	free(new);
	return rc;
}

static void promote_due(mem_store *m, int64_t now)
{
	const mem_qentry *top;
	mem_qentry e;

	while ((top = mem_heap_peek(&m->scheduled)) && top->run_at <= now) {
		mem_heap_pop(&m->scheduled, &e);
		/* The entry moves between heaps unchanged; on failure it is retried next round. */
		if (entry_valid(&e) && mem_heap_push(&m->ready, e) != 0) {
			mem_heap_push(&m->scheduled, e);
			return;
		}
	}
}

static int take(mem_job *j, const char *worker, int64_t lease_ms, int64_t now)
{
	char *owner = strdup(worker);

	if (!owner)
		return -1;
	free(j->pub.locked_by);
	j->pub.locked_by = owner;
	j->pub.state = KBP_JOB_RUNNING;
	j->pub.attempts++;
	j->pub.lease_until = now + lease_ms;
	j->pub.updated_at = now;
	return 0;
}

static int acquire_locked(mem_store *m, const char *worker, int max, int64_t lease_ms,
                          int64_t now, kbp_job_list *list)
{
	mem_qentry e;

	promote_due(m, now);
	while ((int)list->n < max && mem_heap_pop(&m->ready, &e)) {
		if (!entry_valid(&e))
			continue;
		if (take(e.job, worker, lease_ms, now) != 0 ||
		    kbp__job_copy(&list->jobs[list->n], &e.job->pub) != 0) {
			kbp__job_clear(&list->jobs[list->n]);
			/* Back to the queue: the job was not handed out. */
			e.job->pub.state = KBP_JOB_AVAILABLE;
			e.job->pub.attempts--;
			mem_heap_push(&m->ready, e);
			return kbp_error_set(KBP_ENOMEM, "out of memory");
		}
		list->n++;
	}
	return 0;
}

int mem_jobs_acquire(kbp_storage *s, const char *worker, int max, int64_t lease_ms, int64_t now,
                     kbp_job_list **out)
{
	mem_store *m = mem_of(s);
	kbp_job_list *list = calloc(1, sizeof(*list));
	int rc;

	if (!list || !(list->jobs = calloc((size_t)max, sizeof(*list->jobs)))) {
		free(list);
		return kbp_error_set(KBP_ENOMEM, "out of memory");
	}
	pthread_mutex_lock(&m->lock);
	rc = acquire_locked(m, worker, max, lease_ms, now, list);
	pthread_mutex_unlock(&m->lock);
	*out = list;
	return rc;
}

/* Running under worker's lease: only then may worker settle or renew the job. */
static int held_by(const mem_job *j, const char *worker)
{
	return j->pub.state == KBP_JOB_RUNNING && kbp_str_eq(j->pub.locked_by, worker);
}

static mem_job *owned_job(mem_store *m, const char *job_id, const char *worker)
{
	mem_job *j = kbp_hmap_get(&m->jobs, job_id);

	if (!j) {
		kbp_error_set(KBP_ENOTFOUND, "job '%s' does not exist", job_id);
		return NULL;
	}
	if (!held_by(j, worker)) {
		kbp_error_set(KBP_ESTATE, "job '%s' is no longer held by %s", job_id, worker);
		return NULL;
	}
	return j;
}

static void finish(mem_store *m, mem_job *j, kbp_job_state state, int64_t now)
{
	j->pub.state = state;
	j->pub.finished_at = now;
	j->pub.updated_at = now;
	j->pub.lease_until = 0;
	release_unique(m, j);
}

int mem_job_complete(kbp_storage *s, const char *job_id, const char *worker, int64_t now)
{
	mem_store *m = mem_of(s);
	mem_job *j;
	int rc = 0;

	pthread_mutex_lock(&m->lock);
	if ((j = owned_job(m, job_id, worker)))
		finish(m, j, KBP_JOB_COMPLETED, now);
	else
		rc = kbp_error_last()->code;
	pthread_mutex_unlock(&m->lock);
	return rc;
}

int mem_jobs_complete(kbp_storage *s, const char *const *job_ids, size_t n, const char *worker,
                      int64_t now, int64_t *out_done)
{
	mem_store *m = mem_of(s);
	int64_t done = 0;

	pthread_mutex_lock(&m->lock);
	for (size_t i = 0; i < n; i++) {
		mem_job *j = kbp_hmap_get(&m->jobs, job_ids[i]);
		if (j && held_by(j, worker)) {
			finish(m, j, KBP_JOB_COMPLETED, now);
			done++;
		}
	}
	pthread_mutex_unlock(&m->lock);
	*out_done = done;
	return 0;
}

int mem_jobs_extend(kbp_storage *s, const char *const *job_ids, size_t n, const char *worker,
                    int64_t lease_until, int64_t now, int64_t *out_count)
{
	mem_store *m = mem_of(s);
	int64_t count = 0;

	pthread_mutex_lock(&m->lock);
	for (size_t i = 0; i < n; i++) {
		mem_job *j = kbp_hmap_get(&m->jobs, job_ids[i]);
		if (j && held_by(j, worker)) {
			j->pub.lease_until = lease_until;
			j->pub.updated_at = now;
			count++;
		}
	}
	pthread_mutex_unlock(&m->lock);
	*out_count = count;
	return 0;
}

/* The error history keeps every attempt's message; last_error repeats the newest. */
static int append_error(mem_job *j, const char *message, int64_t now)
{
	char *copy = strdup(message), *last = strdup(message);

	if (copy && last && j->pub.n_errors == j->errors_cap) {
		size_t cap = j->errors_cap ? j->errors_cap * 2 : 4;
		kbp_job_error *errors = realloc(j->pub.errors, cap * sizeof(*errors));
		if (errors) {
			j->pub.errors = errors;
			j->errors_cap = cap;
		}
	}
	if (!copy || !last || j->pub.n_errors == j->errors_cap) {
		free(copy);
		free(last);
		return -1;
	}
	j->pub.errors[j->pub.n_errors++] = (kbp_job_error){ j->pub.attempts, now, copy };
	free(j->pub.last_error);
	j->pub.last_error = last;
	return 0;
}

int mem_job_get(kbp_storage *s, const char *job_id, kbp_job **out)
{
	mem_store *m = mem_of(s);
	mem_job *j;
	int rc = 0;

	pthread_mutex_lock(&m->lock);
	j = kbp_hmap_get(&m->jobs, job_id);
	if (!j)
		rc = kbp_error_set(KBP_ENOTFOUND, "job '%s' does not exist", job_id);
	else if (!(*out = kbp__job_dup(&j->pub)))
		rc = kbp_error_set(KBP_ENOMEM, "out of memory");
	pthread_mutex_unlock(&m->lock);
	return rc;
}

/* Newest first; the id breaks ties so paging is stable. */
static int newest_first(const void *a, const void *b)
{
	const mem_job *x = *(mem_job *const *)a, *y = *(mem_job *const *)b;

	if (x->pub.created_at != y->pub.created_at)
		return x->pub.created_at > y->pub.created_at ? -1 : 1;
	if (x->seq != y->seq)
		return x->seq > y->seq ? -1 : 1;
	return 0;
}

static int matches(const mem_job *j, const kbp_job_filter *f)
{
	return (f->state < 0 || (int)j->pub.state == f->state) &&
	       (!f->kind || strcmp(j->pub.kind, f->kind) == 0) && j->pub.created_at >= f->since;
}

static int collect(mem_store *m, const kbp_job_filter *f, mem_job ***out, size_t *n)
{
	mem_job **all = malloc((m->jobs.used + 1) * sizeof(*all));
	void *value;

	if (!all)
		return -1;
	*n = 0;
	for (size_t pos = 0; kbp_hmap_next(&m->jobs, &pos, NULL, &value);)
		if (matches(value, f))
			all[(*n)++] = value;
	qsort(all, *n, sizeof(*all), newest_first);
	*out = all;
	return 0;
}

static int page(mem_store *m, const kbp_job_filter *f, mem_job **all, size_t n,
                kbp_job_list *list)
{
	size_t start = 0, end;

	if (f->after) {
		mem_job *cursor = kbp_hmap_get(&m->jobs, f->after);
		if (!cursor)
			return kbp_error_set(KBP_EINVAL, "paging cursor '%s' is not a job", f->after);
		while (start < n && newest_first(&all[start], &cursor) <= 0)
			start++;
	}
	end = start + f->limit < n ? start + f->limit : n;
	if (end > start && !(list->jobs = calloc(end - start, sizeof(*list->jobs))))
		return kbp_error_set(KBP_ENOMEM, "out of memory");
	for (size_t i = start; i < end; i++, list->n++)
		if (kbp__job_copy(&list->jobs[list->n], &all[i]->pub) != 0) {
			kbp__job_clear(&list->jobs[list->n]);
			return kbp_error_set(KBP_ENOMEM, "out of memory");
		}
	if (end < n && end > start && !(list->next_after = strdup(all[end - 1]->pub.id)))
		return kbp_error_set(KBP_ENOMEM, "out of memory");
	return 0;
}

int mem_jobs_list(kbp_storage *s, const kbp_job_filter *f, kbp_job_list **out)
{
	mem_store *m = mem_of(s);
	kbp_job_list *list = calloc(1, sizeof(*list));
	mem_job **all = NULL;
	size_t n = 0;
	int rc;

	if (!list)
		return kbp_error_set(KBP_ENOMEM, "out of memory");
	pthread_mutex_lock(&m->lock);
	rc = collect(m, f, &all, &n) != 0 ? kbp_error_set(KBP_ENOMEM, "out of memory")
	                                  : page(m, f, all, n, list);
	pthread_mutex_unlock(&m->lock);
	free(all);
	if (rc != 0) {
		kbp_job_list_free(list);
		return rc;
	}
	*out = list;
	return 0;
}

/* Another live job holding j's unique key, or NULL. */
static mem_job *unique_holder(mem_store *m, const mem_job *j)
{
	mem_job *holder = j->pub.unique_key ? kbp_hmap_get(&m->live_unique, j->pub.unique_key) : NULL;

	return holder != j ? holder : NULL;
}

int mem_job_write_check(mem_store *m, const kbp_job_write *w)
{
	mem_job *j = kbp_hmap_get(&m->jobs, w->id), *holder;

	if (!j)
		return kbp_error_set(KBP_ENOTFOUND, "job '%s' does not exist", w->id);
	if (w->state == KBP_JOB_AVAILABLE && (holder = unique_holder(m, j)))
		return kbp_error_set(KBP_ECONFLICT, "job %s already holds unique key '%s'", holder->pub.id,
		                     j->pub.unique_key);
	return 0;
}

static int make_available(mem_store *m, mem_job *j, int64_t now)
{
	if (j->pub.unique_key && kbp_hmap_put(&m->live_unique, j->pub.unique_key, j) != 0)
		return -1;
	j->pub.state = KBP_JOB_AVAILABLE;
	j->pub.lease_until = 0;
	j->pub.finished_at = 0;
	j->pub.updated_at = now;
	if (queue_push(m, j, now) != 0) {
		finish(m, j, KBP_JOB_FAILED, now);
		return -1;
	}
	mem_bump(m, KBP_TOPIC_JOBS);
	return 0;
}

int mem_job_write(mem_store *m, const kbp_job_write *w, int64_t now)
{
	mem_job *j = kbp_hmap_get(&m->jobs, w->id);

	/* Losing the message must not lose the state change. */
	if (w->error)
		(void)append_error(j, w->error, now);
	if (w->rescued)
		mem_ring_push(&m->rescues, now);
	j->pub.max_attempts = w->max_attempts;
	j->pub.run_at = w->run_at;
	mem_bump(m, KBP_TOPIC_ORDERS);
	if (w->state == KBP_JOB_AVAILABLE)
		return make_available(m, j, now);
	finish(m, j, w->state, now);
	return 0;
}

int64_t mem_jobs_prune(mem_store *m, int64_t before)
{
	mem_job **doomed = malloc((m->jobs.used + 1) * sizeof(*doomed));
	void *value;
	size_t n = 0;

	if (!doomed)
		return 0;
	for (size_t pos = 0; kbp_hmap_next(&m->jobs, &pos, NULL, &value);) {
		mem_job *j = value;
		if ((j->pub.state == KBP_JOB_COMPLETED || j->pub.state == KBP_JOB_CANCELED) &&
		    j->pub.finished_at < before) {
			j->pruned = 1;
			doomed[n++] = j;
		}
	}
	/* Heaps may still point at these jobs through stale entries: drop those first. */
	mem_heap_drop_pruned(&m->ready);
	mem_heap_drop_pruned(&m->scheduled);
	for (size_t i = 0; i < n; i++) {
		kbp_hmap_del(&m->jobs, doomed[i]->pub.id);
		mem_job_free(doomed[i]);
	}
	free(doomed);
	return (int64_t)n;
}
