/* SPDX-License-Identifier: MIT */
#include <errno.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "storage/postgres/pg_internal.h"

/* How long the listener waits before reconnecting after the server went away. */
#define RECONNECT_MS 250
/* How often an order waiter looks for itself while no notification can arrive. */
#define UNHEARD_POLL_MS 250

/* A job wakes one worker: a pool of sleeping workers must not stampede the queue. */
void pg_bump_jobs(pg_store *s)
{
	kbp_topics_bump_one(&s->topics, KBP_TOPIC_JOBS);
}

void pg_bump_order(pg_store *s, const char *intent_id)
{
	if (intent_id && intent_id[0])
		kbp_topics_bump_key(&s->topics, KBP_TOPIC_ORDERS, intent_id);
	else
		kbp_topics_bump(&s->topics, KBP_TOPIC_ORDERS);
}

/*
 * While the listener is not listening (the server restarted, its connection
 * was killed), a change of the order sends no wakeup: the waiter returns
 * early to read the order itself.
 */
int pg_wait_order(kbp_storage *st, const char *intent_id, uint64_t *seen, int64_t timeout_ms)
{
	pg_store *s = pg_of(st);

	if (!atomic_load(&s->listening) && timeout_ms > UNHEARD_POLL_MS)
		timeout_ms = UNHEARD_POLL_MS;
	return kbp_topics_wait_key(&s->topics, KBP_TOPIC_ORDERS, intent_id, seen, timeout_ms);
}

int pg_wait(kbp_storage *st, kbp_topic topic, uint64_t *seen, int64_t timeout_ms)
{
	return kbp_topics_wait(&pg_of(st)->topics, (int)topic, seen, timeout_ms);
}

void pg_notify(kbp_storage *st, kbp_topic topic)
{
	kbp_topics_bump(&pg_of(st)->topics, (int)topic);
}

static const char *const channel_suffix[2] = { ".jobs", ".orders" };

static int listen_all(pg_store *s, PGconn *conn)
{
	for (int t = 0; t < 2; t++) {
		char channel[PG_SCHEMA_MAX + 16];
		char *quoted, sql[PG_SCHEMA_MAX * 2 + 40];
		PGresult *res;
		int ok;

		snprintf(channel, sizeof(channel), "%s%s", s->schema, channel_suffix[t]);
		if (!(quoted = PQescapeIdentifier(conn, channel, strlen(channel))))
			return -1;
		snprintf(sql, sizeof(sql), "LISTEN %s", quoted);
		PQfreemem(quoted);
		res = PQexec(conn, sql);
		ok = PQresultStatus(res) == PGRES_COMMAND_OK;
		PQclear(res);
		if (!ok)
			return -1;
	}
	return 0;
}

static void dispatch(pg_store *s, PGconn *conn)
{
	PGnotify *n;

	while ((n = PQnotifies(conn))) {
		size_t len = strlen(s->schema);
		for (int t = 0; t < 2; t++) {
			if (strncmp(n->relname, s->schema, len) != 0 ||
			    strcmp(n->relname + len, channel_suffix[t]) != 0)
				continue;
			/* An order's notification names its intent (migration 007). */
			if (t == KBP_TOPIC_ORDERS)
				pg_bump_order(s, n->extra);
			else
				pg_bump_jobs(s);
		}
		PQfreemem(n);
	}
}

/* Returns 1 when asked to stop, 0 when the connection broke. */
static int listen_until_broken(pg_store *s, PGconn *conn)
{
	struct pollfd fds[2] = { { PQsocket(conn), POLLIN, 0 }, { s->stop_pipe[0], POLLIN, 0 } };

	for (;;) {
		if (poll(fds, 2, -1) < 0 && errno != EINTR)
			return 0;
		if (fds[1].revents)
			return 1;
		if (fds[0].revents) {
			if (!PQconsumeInput(conn))
				return 0;
			dispatch(s, conn);
		}
	}
}

static int stop_requested(pg_store *s, int timeout_ms)
{
	struct pollfd fd = { s->stop_pipe[0], POLLIN, 0 };

	return poll(&fd, 1, timeout_ms) > 0;
}

static void *listener_main(void *arg)
{
	pg_store *s = arg;

	for (;;) {
		PGconn *conn = pg_connect(s->conninfo, s->schema);
		if (conn && listen_all(s, conn) == 0) {
			int stop;
			atomic_store(&s->listening, 1);
			/* Notifications may have been missed while disconnected: let waiters look. */
			kbp_topics_bump(&s->topics, KBP_TOPIC_JOBS);
			kbp_topics_bump(&s->topics, KBP_TOPIC_ORDERS);
			stop = listen_until_broken(s, conn);
			atomic_store(&s->listening, 0);
			if (stop) {
				PQfinish(conn);
				return NULL;
			}
		}
		PQfinish(conn);
		if (stop_requested(s, RECONNECT_MS))
			return NULL;
	}
}

int pg_listener_start(pg_store *s)
{
	if (pipe(s->stop_pipe) != 0)
		return kbp_error_set(KBP_ESTORAGE, "cannot create the listener's pipe");
	if (pthread_create(&s->listener, NULL, listener_main, s) != 0) {
		close(s->stop_pipe[0]);
		close(s->stop_pipe[1]);
		return kbp_error_set(KBP_ESTORAGE, "cannot start the listener thread");
	}
	s->listener_started = 1;
	return 0;
}

void pg_listener_stop(pg_store *s)
{
	if (!s->listener_started)
		return;
	if (write(s->stop_pipe[1], "x", 1) != 1)
		return;
	pthread_join(s->listener, NULL);
	close(s->stop_pipe[0]);
	close(s->stop_pipe[1]);
	s->listener_started = 0;
}
