/* SPDX-License-Identifier: MIT */
#include "fake_gateway.h"

#include <arpa/inet.h>
#include <cjson/cJSON.h>
#include <errno.h>
#include <netinet/in.h>
#include <poll.h>
#include <pthread.h>
#include <sodium.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#define MAX_REFS 1024
#define REQUEST_MAX 70000

typedef struct ref_entry {
	char ref[96];
	fake_answer answer;
	long long amount;           /* Khalti: paisa from initiate */
} ref_entry;

struct fake_gateway {
	int listen_fd, stop_pipe[2], port;
	uint32_t tag; /* in every pidx: ports repeat across the test cases that share a schema */
	char url[64];
	char key[256];
	pthread_t thread;
	pthread_mutex_t lock;
	ref_entry refs[MAX_REFS];
	size_t n_refs;
	fake_answer initiate;
	int n_status, n_initiate, n_lookup, n_pidx;
	char last_auth[512];
	char last_body[4096];
};

static const char *const names[FAKE_ANSWER_COUNT] = {
	"pending", "completed", "ambiguous", "expired", "canceled", "refunded", "partial_refund",
	"initiated", "not_found", "outage", "5xx", "slow", "malformed", "unauthorized",
	"wrong_amount", "other_ref", "huge", "unnamed", "no_product", "no_txn_id",
};

const char *fake_answer_name(fake_answer a)
{
	return a < FAKE_ANSWER_COUNT ? names[a] : "?";
}

int fake_answer_parse(const char *name, fake_answer *out)
{
	for (int i = 0; i < FAKE_ANSWER_COUNT; i++)
		if (strcmp(name, names[i]) == 0) {
			*out = (fake_answer)i;
			return 0;
		}
	return -1;
}

/* Called with the lock held. */
static ref_entry *entry(fake_gateway *f, const char *ref, int create)
{
	for (size_t i = 0; i < f->n_refs; i++)
		if (strcmp(f->refs[i].ref, ref) == 0)
			return &f->refs[i];
	if (!create || f->n_refs == MAX_REFS || strlen(ref) >= sizeof(f->refs[0].ref))
		return NULL;
	snprintf(f->refs[f->n_refs].ref, sizeof(f->refs[0].ref), "%s", ref);
	f->refs[f->n_refs].answer = FAKE_PENDING;
	f->refs[f->n_refs].amount = 0;
	return &f->refs[f->n_refs++];
}

void fake_set_answer(fake_gateway *f, const char *ref, fake_answer answer)
{
	ref_entry *e;

	pthread_mutex_lock(&f->lock);
	if ((e = entry(f, ref, 1)))
		e->answer = answer;
	pthread_mutex_unlock(&f->lock);
}

void fake_set_initiate(fake_gateway *f, fake_answer answer)
{
	pthread_mutex_lock(&f->lock);
	f->initiate = answer;
	pthread_mutex_unlock(&f->lock);
}

int fake_count(fake_gateway *f, const char *route)
{
	int n;

	pthread_mutex_lock(&f->lock);
	n = strcmp(route, "status") == 0     ? f->n_status
	    : strcmp(route, "initiate") == 0 ? f->n_initiate
	                                     : f->n_lookup;
	pthread_mutex_unlock(&f->lock);
	return n;
}

void fake_last_initiate(fake_gateway *f, char *auth, size_t auth_size, char *body, size_t body_size)
{
	pthread_mutex_lock(&f->lock);
	snprintf(auth, auth_size, "%s", f->last_auth);
	snprintf(body, body_size, "%s", f->last_body);
	pthread_mutex_unlock(&f->lock);
}

int fake_port(const fake_gateway *f)
{
	return f->port;
}

const char *fake_url(const fake_gateway *f)
{
	return f->url;
}

/* ---- HTTP ---- */

typedef struct request {
	char method[8];
	char target[2048];
	char auth[512];
	char *body;
	size_t body_len;
} request;

static void respond(int fd, int status, const char *body)
{
	char head[256];
	size_t len = strlen(body);
	int n = snprintf(head, sizeof(head),
	                 "HTTP/1.1 %d Fake\r\nContent-Type: application/json\r\nContent-Length: %zu\r\n"
	                 "Connection: close\r\n\r\n",
	                 status, len);

	/* The client may have given up (a slow answer): MSG_NOSIGNAL keeps SIGPIPE away. */
	if (send(fd, head, (size_t)n, MSG_NOSIGNAL) == n)
		for (size_t off = 0; off < len;) {
			ssize_t w = send(fd, body + off, len - off, MSG_NOSIGNAL);
			if (w <= 0)
				break;
			off += (size_t)w;
		}
}

static void sleep_ms(long ms)
{
	struct timespec ts = { ms / 1000, (ms % 1000) * 1000000L };

	while (nanosleep(&ts, &ts) != 0 && errno == EINTR)
		;
}

static int read_request(int fd, request *r, char *buf)
{
	size_t len = 0, content_length = 0;
	char *end = NULL, *line;

	while (!end) {
		ssize_t n;
		if (len == REQUEST_MAX)
			return -1;
		n = recv(fd, buf + len, REQUEST_MAX - len, 0);
		if (n <= 0)
			return -1;
		len += (size_t)n;
		buf[len] = '\0';
		end = strstr(buf, "\r\n\r\n");
	}
	*end = '\0';
	if (sscanf(buf, "%7s %2047s", r->method, r->target) != 2)
		return -1;
	r->auth[0] = '\0';
	for (line = strstr(buf, "\r\n"); line; line = strstr(line + 2, "\r\n")) {
		const char *h = line + 2;
		if (strncasecmp(h, "Content-Length:", 15) == 0)
			content_length = strtoul(h + 15, NULL, 10);
		else if (strncasecmp(h, "Authorization:", 14) == 0) {
			const char *v = h + 14;
			size_t vn;
			while (*v == ' ')
				v++;
			vn = strcspn(v, "\r\n");
			if (vn >= sizeof(r->auth))
				vn = sizeof(r->auth) - 1;
			memcpy(r->auth, v, vn);
			r->auth[vn] = '\0';
		}
	}
	r->body = end + 4;
	r->body_len = len - (size_t)(r->body - buf);
	if (content_length > REQUEST_MAX - (size_t)(r->body - buf))
		return -1;
	while (r->body_len < content_length) {
		ssize_t n = recv(fd, r->body + r->body_len, content_length - r->body_len, 0);
		if (n <= 0)
			return -1;
		r->body_len += (size_t)n;
	}
	r->body[r->body_len] = '\0';
	return 0;
}

static const char *query_get(const char *target, const char *name, char *out, size_t size)
{
	const char *q = strchr(target, '?');
	size_t n = strlen(name);

	for (const char *p = q; p; p = strchr(p + 1, '&')) {
		if (strncmp(p + 1, name, n) == 0 && p[1 + n] == '=') {
			size_t vn = strcspn(p + 2 + n, "&");
			if (vn >= size)
				vn = size - 1;
			memcpy(out, p + 2 + n, vn);
			out[vn] = '\0';
			return out;
		}
	}
	return NULL;
}

static char *huge_body(void)
{
	char *s = malloc(70001);

	memset(s, ' ', 70000);
	memcpy(s, "{\"status\":", 10);
	s[69998] = '1';
	s[69999] = '}';
	s[70000] = '\0';
	return s;
}

static const char *esewa_status_text(fake_answer a)
{
	switch (a) {
	case FAKE_COMPLETED: case FAKE_SLOW: case FAKE_WRONG_AMOUNT: case FAKE_OTHER_REF:
	case FAKE_UNNAMED: case FAKE_NO_PRODUCT: case FAKE_NO_TXN_ID:
		return "COMPLETE";
	case FAKE_AMBIGUOUS: return "AMBIGUOUS";
	case FAKE_CANCELED: return "CANCELED";
	case FAKE_REFUNDED: return "FULL_REFUND";
	case FAKE_PARTIAL_REFUND: return "PARTIAL_REFUND";
	case FAKE_EXPIRED: case FAKE_NOT_FOUND: return "NOT_FOUND";
	default: return "PENDING";
	}
}

/* Generic failures shared by both gateways; 1 when answered. */
static int answer_failure(int fd, fake_answer a)
{
	char *big;

	switch (a) {
	case FAKE_5XX:
		respond(fd, 503, "{\"detail\":\"Service Unavailable\"}");
		return 1;
	case FAKE_MALFORMED:
		respond(fd, 200, "{\"status\": COMPLETE, oops");
		return 1;
	case FAKE_UNAUTHORIZED:
		respond(fd, 401, "{\"detail\":\"Invalid token.\",\"status_code\":401}");
		return 1;
	case FAKE_HUGE:
		big = huge_body();
		respond(fd, 200, big);
		free(big);
		return 1;
	case FAKE_SLOW:
		sleep_ms(FAKE_SLOW_MS);
		return 0;
	default:
		return 0;
	}
}

/* The status API's JSON answer; the members that name the payment are left out when told. */
static void esewa_body(char *body, size_t size, fake_answer a, const char *pc, const char *uuid,
                       const char *amount_json)
{
	char ref[160] = "null", product[160] = "", txn_uuid[160] = "";
	int paid = strcmp(esewa_status_text(a), "COMPLETE") == 0 || a == FAKE_REFUNDED ||
	           a == FAKE_PARTIAL_REFUND;

	if (paid && a != FAKE_NO_TXN_ID)
		snprintf(ref, sizeof(ref), "\"ref-%s\"", uuid);
	if (a != FAKE_NO_PRODUCT)
		snprintf(product, sizeof(product), "\"product_code\":\"%s\",", pc);
	if (a != FAKE_UNNAMED)
		snprintf(txn_uuid, sizeof(txn_uuid), "\"transaction_uuid\":\"%s\",",
		         a == FAKE_OTHER_REF ? "someone-else" : uuid);
	snprintf(body, size, "{%s%s\"total_amount\":%s,\"status\":\"%s\",\"ref_id\":%s}", product,
	         txn_uuid, amount_json, esewa_status_text(a), ref);
}

static void serve_esewa(fake_gateway *f, int fd, const request *r)
{
	char pc[128], amount[64], uuid[128], body[1024], amount_json[80];
	fake_answer a;
	ref_entry *e;

	pthread_mutex_lock(&f->lock);
	f->n_status++;
	e = query_get(r->target, "transaction_uuid", uuid, sizeof(uuid)) ? entry(f, uuid, 0) : NULL;
	a = e ? e->answer : FAKE_NOT_FOUND;
	pthread_mutex_unlock(&f->lock);
	if (!query_get(r->target, "product_code", pc, sizeof(pc)) ||
	    !query_get(r->target, "total_amount", amount, sizeof(amount)) || !e) {
		respond(fd, 200, "{\"code\":0,\"error_message\":\"Invalid payload signature.\"}");
		return;
	}
	if (answer_failure(fd, a))
		return;
	if (a == FAKE_OUTAGE) {
		respond(fd, 200, "{\"code\":0,\"error_message\":\"Service is currently unavailable\"}");
		return;
	}
	if (a == FAKE_WRONG_AMOUNT)
		snprintf(amount_json, sizeof(amount_json), "%.1f", atof(amount) + 1);
	else
		snprintf(amount_json, sizeof(amount_json), "%s%s", amount, strchr(amount, '.') ? "" : ".0");
	esewa_body(body, sizeof(body), a, pc, uuid, amount_json);
	respond(fd, 200, body);
}

static int authorized(fake_gateway *f, int fd, const request *r)
{
	char expected[300];

	snprintf(expected, sizeof(expected), "Key %s", f->key);
	if (strcmp(r->auth, expected) == 0)
		return 1;
	respond(fd, 401, "{\"detail\":\"Invalid token.\",\"status_code\":401}");
	return 0;
}

static void serve_initiate(fake_gateway *f, int fd, const request *r)
{
	cJSON *doc = cJSON_Parse(r->body);
	const cJSON *amount = cJSON_GetObjectItemCaseSensitive(doc, "amount");
	const cJSON *order = cJSON_GetObjectItemCaseSensitive(doc, "purchase_order_id");
	char pidx[64], body[512];
	fake_answer a;
	ref_entry *e;

	pthread_mutex_lock(&f->lock);
	f->n_initiate++;
	snprintf(f->last_auth, sizeof(f->last_auth), "%s", r->auth);
	snprintf(f->last_body, sizeof(f->last_body), "%s", r->body);
	a = f->initiate;
	snprintf(pidx, sizeof(pidx), "Fake%08xPidx%d", (unsigned)f->tag, ++f->n_pidx);
	pthread_mutex_unlock(&f->lock);
	if (!authorized(f, fd, r) || answer_failure(fd, a))
		goto out;
	if (!cJSON_IsNumber(amount) || !cJSON_IsString(order) || amount->valuedouble < 1000) {
		respond(fd, 400, "{\"amount\":[\"Amount should be greater than Rs. 10, that is 1000 "
		                 "paisa.\"],\"error_key\":\"validation_error\"}");
		goto out;
	}
	pthread_mutex_lock(&f->lock);
	if ((e = entry(f, pidx, 1))) {
		e->answer = FAKE_INITIATED;
		e->amount = (long long)amount->valuedouble;
	}
	pthread_mutex_unlock(&f->lock);
	snprintf(body, sizeof(body),
	         "{\"pidx\":\"%s\",\"payment_url\":\"https://test-pay.khalti.com/?pidx=%s\","
	         "\"expires_at\":\"2023-05-25T16:26:16.471649+05:45\",\"expires_in\":1800}",
	         pidx, pidx);
	respond(fd, 200, body);
out:
	cJSON_Delete(doc);
}

/* The lookup's JSON answer; the members that name the payment are left out when told. */
static void khalti_body(char *body, size_t size, fake_answer a, const char *pidx,
                        long long amount, const char *status)
{
	char txn[128] = "null", named[128] = "";

	if ((strcmp(status, "Completed") == 0 && a != FAKE_NO_TXN_ID) || a == FAKE_REFUNDED ||
	    a == FAKE_PARTIAL_REFUND)
		snprintf(txn, sizeof(txn), "\"Txn%s\"", pidx);
	if (a != FAKE_UNNAMED)
		snprintf(named, sizeof(named), "\"pidx\":\"%s\",",
		         a == FAKE_OTHER_REF ? "SomeoneElse" : pidx);
	snprintf(body, size,
	         "{%s\"total_amount\":%lld,\"status\":\"%s\",\"transaction_id\":%s,\"fee\":0,"
	         "\"refunded\":%s}",
	         named, amount, status, txn, a == FAKE_REFUNDED ? "true" : "false");
}

static void serve_lookup(fake_gateway *f, int fd, const request *r)
{
	cJSON *doc = cJSON_Parse(r->body);
	const cJSON *pidx = cJSON_GetObjectItemCaseSensitive(doc, "pidx");
	const char *status = "Pending";
	char body[1024];
	long long amount = 0;
	fake_answer a = FAKE_NOT_FOUND;
	ref_entry *e = NULL;
	int http = 200;

	pthread_mutex_lock(&f->lock);
	f->n_lookup++;
	if (cJSON_IsString(pidx) && (e = entry(f, pidx->valuestring, 0))) {
		a = e->answer;
		amount = e->amount;
	}
	pthread_mutex_unlock(&f->lock);
	if (!authorized(f, fd, r) || answer_failure(fd, a))
		goto out;
	switch (a) {
	case FAKE_NOT_FOUND:
		respond(fd, 404, "{\"detail\":\"Not found.\",\"error_key\":\"validation_error\"}");
		goto out;
	case FAKE_OUTAGE:
		respond(fd, 200, "{\"detail\":\"Something went wrong\",\"error_key\":\"server_error\"}");
		goto out;
	case FAKE_COMPLETED: case FAKE_SLOW: case FAKE_OTHER_REF: case FAKE_WRONG_AMOUNT:
	case FAKE_UNNAMED: case FAKE_NO_TXN_ID:
		status = "Completed";
		break;
	case FAKE_INITIATED: status = "Initiated"; break;
	case FAKE_EXPIRED: status = "Expired"; http = 400; break;
	case FAKE_CANCELED: status = "User canceled"; http = 400; break;
	case FAKE_REFUNDED: status = "Refunded"; break;
	case FAKE_PARTIAL_REFUND: status = "Partially refunded"; break;
	default: break;
	}
	if (a == FAKE_WRONG_AMOUNT)
		amount += 100;
	khalti_body(body, sizeof(body), a, pidx->valuestring, amount, status);
	respond(fd, http, body);
out:
	cJSON_Delete(doc);
}

static void serve_control(fake_gateway *f, int fd, const request *r)
{
	char ref[96], answer[32];
	fake_answer a;

	if (!query_get(r->target, "ref", ref, sizeof(ref)) ||
	    !query_get(r->target, "answer", answer, sizeof(answer)) ||
	    fake_answer_parse(answer, &a) != 0) {
		respond(fd, 400, "{\"error\":\"ref and answer\"}");
		return;
	}
	fake_set_answer(f, ref, a);
	respond(fd, 200, "{}");
}

static void serve(fake_gateway *f, int fd)
{
	char *buf = malloc(REQUEST_MAX + 1);
	request r;

	if (buf && read_request(fd, &r, buf) == 0) {
		if (strcmp(r.method, "GET") == 0 && strncmp(r.target, "/esewa/status/", 14) == 0)
			serve_esewa(f, fd, &r);
		else if (strcmp(r.method, "POST") == 0 &&
		         strcmp(r.target, "/khalti/api/v2/epayment/initiate/") == 0)
			serve_initiate(f, fd, &r);
		else if (strcmp(r.method, "POST") == 0 &&
		         strcmp(r.target, "/khalti/api/v2/epayment/lookup/") == 0)
			serve_lookup(f, fd, &r);
		else if (strcmp(r.method, "GET") == 0 && strncmp(r.target, "/control?", 9) == 0)
			serve_control(f, fd, &r);
		else
			respond(fd, 404, "{\"detail\":\"Not found.\"}");
	}
	free(buf);
}

static void *run(void *arg)
{
	fake_gateway *f = arg;
	struct pollfd fds[2] = { { f->listen_fd, POLLIN, 0 }, { f->stop_pipe[0], POLLIN, 0 } };

	for (;;) {
		int fd;
		struct timeval tv = { 2, 0 };
		if (poll(fds, 2, -1) < 0) {
			if (errno == EINTR)
				continue;
			break;
		}
		if (fds[1].revents)
			break;
		if ((fd = accept(f->listen_fd, NULL, NULL)) < 0)
			continue;
		setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof(tv));
		serve(f, fd);
		close(fd);
	}
	return NULL;
}

fake_gateway *fake_start(const char *khalti_key)
{
	fake_gateway *f = calloc(1, sizeof(*f));
	struct sockaddr_in addr;
	socklen_t addr_len = sizeof(addr);
	int one = 1;

	if (!f)
		return NULL;
	snprintf(f->key, sizeof(f->key), "%s", khalti_key);
	f->tag = randombytes_random();
	f->initiate = FAKE_COMPLETED;
	pthread_mutex_init(&f->lock, NULL);
	memset(&addr, 0, sizeof(addr));
	addr.sin_family = AF_INET;
	addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	addr.sin_port = 0;   /* the kernel picks a free port */
	if ((f->listen_fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0)) < 0 ||
	    setsockopt(f->listen_fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one)) != 0 ||
	    bind(f->listen_fd, (struct sockaddr *)&addr, sizeof(addr)) != 0 ||
	    listen(f->listen_fd, 64) != 0 ||
	    getsockname(f->listen_fd, (struct sockaddr *)&addr, &addr_len) != 0 ||
	    pipe(f->stop_pipe) != 0) {
		if (f->listen_fd >= 0)
			close(f->listen_fd);
		free(f);
		return NULL;
	}
	f->port = ntohs(addr.sin_port);
	snprintf(f->url, sizeof(f->url), "http://127.0.0.1:%d", f->port);
	if (pthread_create(&f->thread, NULL, run, f) != 0) {
		close(f->listen_fd);
		close(f->stop_pipe[0]);
		close(f->stop_pipe[1]);
		free(f);
		return NULL;
	}
	return f;
}

void fake_stop(fake_gateway *f)
{
	if (!f)
		return;
	if (write(f->stop_pipe[1], "x", 1) != 1)
		perror("fake_stop");
	pthread_join(f->thread, NULL);
	close(f->listen_fd);
	close(f->stop_pipe[0]);
	close(f->stop_pipe[1]);
	pthread_mutex_destroy(&f->lock);
	free(f);
}
