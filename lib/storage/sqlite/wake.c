/* SPDX-License-Identifier: MIT */
#include "storage/sqlite/sq_internal.h"

/*
 * Wake-ups. A commit in this process bumps its topics at once; a commit in
 * another process changes the file's data_version, which waiters read every
 * SQ_WATCH_MS on a connection of their own (the version only moves for
 * other connections' commits) and turn into a bump of every topic.
 */

void sq_bump(sq_store *q, kbp_topic topic)
{
	/* A job is work for one worker; an order change is news for every waiter. */
	if (topic == KBP_TOPIC_JOBS)
		kbp_topics_bump_one(&q->topics, (int)topic);
	else
		kbp_topics_bump(&q->topics, (int)topic);
}

/* 1 when the file changed since the last look (or the look failed: look again). */
static int file_changed(sq_store *q)
{
	int64_t version = -1;
	int changed;

	pthread_mutex_lock(&q->watch_lock);
	if (!q->watch)
		sq_conn_open(&q->watch, q->path, 0);
	if (q->watch)
		sq_scalar(q->watch, &version, "PRAGMA data_version", "");
	changed = version < 0 || version != q->data_version;
	q->data_version = version;
	pthread_mutex_unlock(&q->watch_lock);
	return changed;
}

static void look_at_file(sq_store *q)
{
	if (file_changed(q)) {
		kbp_topics_bump(&q->topics, KBP_TOPIC_JOBS);
		kbp_topics_bump(&q->topics, KBP_TOPIC_ORDERS);
	}
}

/* key NULL: any change of the topic; else the changes of that intent's order. */
static int wait_watching(sq_store *q, kbp_topic topic, const char *key, uint64_t *seen,
                         int64_t timeout_ms)
{
	int64_t left = timeout_ms;
	int rc;

	for (;;) {
		int64_t slice = left < SQ_WATCH_MS ? left : SQ_WATCH_MS;
		rc = key ? kbp_topics_wait_key(&q->topics, (int)topic, key, seen, slice)
		         : kbp_topics_wait(&q->topics, (int)topic, seen, slice);
		if (rc != KBP_ETIMEOUT || left <= 0)
			return rc;
		left -= slice;
		look_at_file(q);
	}
}

int sq_wait(kbp_storage *s, kbp_topic topic, uint64_t *seen, int64_t timeout_ms)
{
	return wait_watching(sq_of(s), topic, NULL, seen, timeout_ms);
}

int sq_wait_order(kbp_storage *s, const char *intent_id, uint64_t *seen, int64_t timeout_ms)
{
	return wait_watching(sq_of(s), KBP_TOPIC_ORDERS, intent_id, seen, timeout_ms);
}

void sq_notify(kbp_storage *s, kbp_topic topic)
{
	kbp_topics_bump(&sq_of(s)->topics, (int)topic);
}
