/* SPDX-License-Identifier: MIT */
/*
 * Multi-process reliability tests on PostgreSQL (DESIGN.md §10, issue 3):
 *
 *   kbp-reliability stock       8 processes x 5 buyers race for a SKU with 10 on hand
 *   kbp-reliability callbacks   8 processes deliver one sandbox callback; 4 processes
 *                               then race to work the queue: one acceptance, one order
 *   kbp-reliability restart     a worker process finalizes a stream of paid intents
 *                               while PostgreSQL is restarted twice: every paid intent
 *                               ends with exactly one order
 *   kbp-reliability reconnect   the first call after an immediate restart succeeds
 *   kbp-reliability outage      job outcomes reached while the server is down are
 *                               written when it is back, before the leases pass
 *   kbp-reliability wait        kbp_order_wait sees a confirmation while LISTEN is down
 *
 * stock and callbacks run on the server named by KBP_TEST_STORAGE (tests/pg/with-pg.sh
 * sets it from KBP_TEST_PG_URI), each in a database of its own that it creates and
 * drops: their workers must not run the jobs of the conformance suite, which may be
 * running on the same server at the same time; so does wait. restart, reconnect and
 * outage start a server of their own with tests/pg/pg-harness.sh
 * ($KBP_TEST_PG_HARNESS), since restarting or stopping the shared one would break
 * whatever else is running on it.
 *
 * Every process opens its own pipeline after fork(): a libpq connection must never
 * be shared between processes. A failed check prints why and exits non-zero; in
 * the parent it first kills the children and stops a server it started.
 */
#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <signal.h>
#include <stdarg.h>
#include <stdatomic.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/random.h>
#include <sys/stat.h>
#include <sys/types.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include <libpq-fe.h>
#include <kbpipeline.h>

#define SECRET "reliability secret shared by every process"
#define GATEWAY "sandbox"
#define RETRY_MS 60000          /* how long an operation is retried through a restart */

/* ---------------------------------------------------------------- failure */

static int is_child;
static pid_t children[64];
static int n_children;
static char *own_server_dir;    /* restart: the server to stop on failure */
static char *fresh_db_uri_base; /* a database to drop on success, and its name */
static char fresh_db_name[64];

static void stop_own_server(void);

static void cleanup_parent(void)
{
	for (int i = 0; i < n_children; i++)
		if (children[i] > 0)
			kill(children[i], SIGKILL);
	for (int i = 0; i < n_children; i++)
		if (children[i] > 0)
			waitpid(children[i], NULL, 0);
	n_children = 0;
	stop_own_server();
}

static void fail_at(const char *file, int line, const char *fmt, ...)
#if defined(__GNUC__)
	__attribute__((format(printf, 3, 4), noreturn))
#endif
	;

static void fail_at(const char *file, int line, const char *fmt, ...)
{
	static atomic_int failing;
	va_list ap;

	/* One failure reports and cleans up; another thread failing meanwhile waits for the exit. */
	if (atomic_exchange(&failing, 1))
		for (;;)
			pause();
	fprintf(stderr, "%s:%d: FAIL%s: ", file, line, is_child ? " (child process)" : "");
	va_start(ap, fmt);
	vfprintf(stderr, fmt, ap);
	va_end(ap);
	fputc('\n', stderr);
	fflush(stderr);
	if (is_child)
		_exit(3);
	cleanup_parent();
	exit(1);
}

#define CHECK(cond, ...)                                                     \
	do {                                                                     \
		if (!(cond))                                                         \
			fail_at(__FILE__, __LINE__, "(" #cond ") " __VA_ARGS__);        \
	} while (0)

static const char *last_message(void)
{
	const kbp_error *e = kbp_error_last();
	return e && e->message ? e->message : "(no message)";
}

/* Asserts that expr returns KBP_OK, showing the library's message otherwise. */
#define OK(expr)                                                             \
	do {                                                                     \
		int ok_rc_ = (expr);                                                 \
		if (ok_rc_ != KBP_OK)                                                \
			fail_at(__FILE__, __LINE__, "%s returned %d (%s): %s", #expr,    \
			        ok_rc_, kbp_strerror(ok_rc_), last_message());           \
	} while (0)

/* ---------------------------------------------------------------- helpers */

static int64_t mono_ms(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

static void sleep_ms(int64_t ms)
{
	struct timespec ts = { (time_t)(ms / 1000), (long)(ms % 1000) * 1000000L };
	while (nanosleep(&ts, &ts) != 0 && errno == EINTR) {
	}
}

/* A random lowercase hex tag, e.g. for ids and database names. */
static void random_tag(char *out, size_t bytes)
{
	unsigned char b[16];
	CHECK(bytes <= sizeof b);
	CHECK(getrandom(b, bytes, 0) == (ssize_t)bytes, "getrandom: %s", strerror(errno));
	for (size_t i = 0; i < bytes; i++)
		sprintf(out + 2 * i, "%02x", b[i]);
}

static void log_to_stderr(void *ctx, kbp_log_level level, const char *message)
{
	fprintf(stderr, "[%s pid %d] %s: %s\n", (const char *)ctx, (int)getpid(),
	        level >= KBP_LOG_ERROR ? "error" : level >= KBP_LOG_WARN ? "warn" : "info", message);
}

/* Opens a pipeline on uri with the system clock and the shared-secret sandbox. */
static kbp_pipeline *open_pipeline(const char *uri, const char *role, int64_t lease_ms,
                                   int64_t backoff_unit_ms)
{
	kbp_options o = KBP_OPTIONS_INIT;
	kbp_sandbox_options so = KBP_SANDBOX_OPTIONS_INIT;
	kbp_pipeline *p = NULL;

	o.storage = uri;
	o.log = log_to_stderr;
	o.log_ctx = (void *)role;
	o.log_level = KBP_LOG_WARN;
	o.job_lease_ms = lease_ms;
	o.backoff_unit_ms = backoff_unit_ms;
	OK(kbp_pipeline_open(&p, &o));
	CHECK(p != NULL);
	CHECK(strcmp(kbp_pipeline_storage_name(p), "postgres") == 0,
	      "storage is '%s', not postgres: KBP_TEST_STORAGE must name a PostgreSQL database",
	      kbp_pipeline_storage_name(p));
	so.secret = SECRET;
	so.secret_len = strlen(SECRET);
	OK(kbp_gateway_add_sandbox(p, &so));
	return p;
}

static void *shared_alloc(size_t size)
{
	void *m = mmap(NULL, size, PROT_READ | PROT_WRITE, MAP_SHARED | MAP_ANONYMOUS, -1, 0);
	CHECK(m != MAP_FAILED, "mmap: %s", strerror(errno));
	memset(m, 0, size);
	return m;
}

static pid_t spawn(void)
{
	pid_t pid;

	CHECK(n_children < (int)(sizeof children / sizeof children[0]));
	fflush(stdout);
	fflush(stderr);
	pid = fork();
	CHECK(pid >= 0, "fork: %s", strerror(errno));
	if (pid == 0) {
		is_child = 1;
		n_children = 0;
		return 0;
	}
	children[n_children++] = pid;
	return pid;
}

/* Waits for every child; each must exit 0 within timeout_ms. */
static void reap_children(const char *what, int64_t timeout_ms)
{
	int64_t until = mono_ms() + timeout_ms;

	for (int i = 0; i < n_children; i++) {
		int status = 0;
		pid_t r;
		while ((r = waitpid(children[i], &status, WNOHANG)) == 0) {
			CHECK(mono_ms() < until, "%s process %d did not finish within %lld ms", what,
			      (int)children[i], (long long)timeout_ms);
			sleep_ms(20);
		}
		CHECK(r == children[i], "waitpid: %s", strerror(errno));
		children[i] = -1;
		CHECK(WIFEXITED(status) && WEXITSTATUS(status) == 0,
		      "%s process %d ended with %s %d", what, (int)r,
		      WIFEXITED(status) ? "exit status" : "signal",
		      WIFEXITED(status) ? WEXITSTATUS(status) : WTERMSIG(status));
	}
	n_children = 0;
}

/*
 * A start gate across processes: children announce they are ready (one byte
 * each), then all block until the parent opens the gate (closes the write end).
 */
typedef struct gate {
	int ready[2];
	int go[2];
} gate;

static void gate_init(gate *g)
{
	CHECK(pipe2(g->ready, O_CLOEXEC) == 0 && pipe2(g->go, O_CLOEXEC) == 0, "pipe: %s",
	      strerror(errno));
}

/* In a child: announce readiness and wait for the gate to open. */
static void gate_child_wait(gate *g)
{
	char c = 'r', x;
	ssize_t n;

	close(g->ready[0]);
	close(g->go[1]);
	CHECK(write(g->ready[1], &c, 1) == 1);
	close(g->ready[1]);
	do
		n = read(g->go[0], &x, 1);
	while (n < 0 && errno == EINTR);
	CHECK(n == 0, "the start gate sent data");
	close(g->go[0]);
}

/* In the parent: wait for n children to be ready, then open the gate. */
static void gate_parent_open(gate *g, int n)
{
	int got = 0;

	close(g->ready[1]);
	close(g->go[0]);
	while (got < n) {
		char buf[64];
		ssize_t r = read(g->ready[0], buf, sizeof buf);
		if (r < 0 && errno == EINTR)
			continue;
		CHECK(r > 0, "only %d of %d processes became ready (the others failed; see above)",
		      got, n);
		got += (int)r;
	}
	close(g->ready[0]);
	close(g->go[1]);
}

/* ------------------------------------------------- a database of one's own */

/* Appends "key=value" to a URI query, percent-encoding the value. */
static void uri_append(char *uri, size_t cap, const char *key, const char *val)
{
	size_t len = strlen(uri);
	len += (size_t)snprintf(uri + len, cap - len, "%s%s=", strchr(uri, '?') ? "&" : "?", key);
	for (const unsigned char *c = (const unsigned char *)val; *c && len + 4 < cap; c++) {
		if ((*c >= 'A' && *c <= 'Z') || (*c >= 'a' && *c <= 'z') || (*c >= '0' && *c <= '9') ||
		    strchr("/._~-", *c))
			uri[len++] = (char)*c;
		else
			len += (size_t)snprintf(uri + len, cap - len, "%%%02X", *c);
	}
	uri[len] = '\0';
	CHECK(len + 4 < cap, "URI too long");
}

static void exec_sql(const char *conninfo, const char *sql)
{
	PGconn *c = PQconnectdb(conninfo);
	PGresult *r;

	CHECK(PQstatus(c) == CONNECTION_OK, "connecting to the test server: %s", PQerrorMessage(c));
	r = PQexec(c, sql);
	CHECK(PQresultStatus(r) == PGRES_COMMAND_OK, "%s: %s", sql, PQerrorMessage(c));
	PQclear(r);
	PQfinish(c);
}

/*
 * Creates database kbp_rel_<tag>_<random> on the server of base_uri and returns
 * a URI for it with the same connection parameters; migrates it.
 */
static char *fresh_database(const char *base_uri, const char *tag)
{
	static char uri[4096];
	char rnd[13], sql[128], *err = NULL;
	PQconninfoOption *opts = PQconninfoParse(base_uri, &err);
	int version = 0;

	CHECK(opts != NULL, "cannot parse the storage URI: %s", err ? err : "?");
	random_tag(rnd, 6);
	snprintf(fresh_db_name, sizeof fresh_db_name, "kbp_rel_%s_%s", tag, rnd);
	snprintf(sql, sizeof sql, "CREATE DATABASE %s", fresh_db_name);
	exec_sql(base_uri, sql);
	fresh_db_uri_base = strdup(base_uri);

	snprintf(uri, sizeof uri, "postgresql:///%s", fresh_db_name);
	for (PQconninfoOption *o = opts; o->keyword; o++)
		if (o->val && *o->val && strcmp(o->keyword, "dbname") != 0)
			uri_append(uri, sizeof uri, o->keyword, o->val);
	PQconninfoFree(opts);
	OK(kbp_migrate(&version, uri, NULL));
	CHECK(version > 0, "kbp_migrate reported schema version %d", version);
	fprintf(stderr, "database %s at schema version %d\n", fresh_db_name, version);
	return uri;
}

static void drop_fresh_database(void)
{
	char sql[128];

	if (!fresh_db_uri_base)
		return;
	snprintf(sql, sizeof sql, "DROP DATABASE %s WITH (FORCE)", fresh_db_name);
	exec_sql(fresh_db_uri_base, sql);
	free(fresh_db_uri_base);
	fresh_db_uri_base = NULL;
}

static const char *storage_uri(void)
{
	const char *uri = getenv("KBP_TEST_STORAGE");
	CHECK(uri && *uri, "KBP_TEST_STORAGE is not set: run through tests/pg/with-pg.sh with "
	                   "KBP_TEST_PG_URI set (./dev.sh test does)");
	CHECK(strcmp(uri, "memory:") != 0, "KBP_TEST_STORAGE is memory:; these tests need PostgreSQL");
	return uri;
}

/* A vendor and one product; returns the SKU (static). */
static const char *make_product(kbp_pipeline *p, const char *run, int64_t price, int64_t on_hand)
{
	static char vendor[80], sku[80];
	kbp_product_spec spec = KBP_PRODUCT_SPEC_INIT;

	snprintf(vendor, sizeof vendor, "%s-vendor", run);
	snprintf(sku, sizeof sku, "%s-sku", run);
	OK(kbp_vendor_put(p, vendor, "Reliability Vendor"));
	spec.id = sku;
	spec.vendor_id = vendor;
	spec.name = "Reliability 'quoted' \\ product";
	spec.price_minor = price;
	spec.on_hand = on_hand;
	OK(kbp_product_put(p, &spec));
	return sku;
}

static void product_counts(kbp_pipeline *p, const char *sku, int64_t *on_hand, int64_t *reserved)
{
	kbp_product *pr = NULL;
	OK(kbp_product_get(&pr, p, sku));
	CHECK(pr->available == pr->on_hand - pr->reserved);
	*on_hand = pr->on_hand;
	*reserved = pr->reserved;
	kbp_product_free(pr);
}

/*
 * A product of price, a cart of qty of it and a pending sandbox intent for
 * that cart; the gateway's signed callback paying it in full in *out_cb
 * (kbp_free). The SKU is static.
 */
static kbp_intent *pending_intent(kbp_pipeline *p, const char *run, int64_t price, int64_t qty,
                                  char **out_cb, const char **out_sku)
{
	static char cart[80], cust[80];
	kbp_intent_request req = KBP_INTENT_REQUEST_INIT;
	kbp_intent *in = NULL;

	*out_sku = make_product(p, run, price, 5);
	snprintf(cart, sizeof cart, "%s-cart", run);
	snprintf(cust, sizeof cust, "%s-cust", run);
	OK(kbp_cart_set_item(NULL, p, cart, cust, *out_sku, qty));
	req.cart_id = cart;
	req.gateway = GATEWAY;
	OK(kbp_intent_create(&in, p, &req));
	OK(kbp_sandbox_pay(out_cb, p, GATEWAY, in->id, KBP_SANDBOX_COMPLETED, -1));
	CHECK(*out_cb && strncmp(*out_cb, "data=", 5) == 0);
	return in;
}

/* ------------------------------------------------------------- (a) stock */

enum { STOCK = 10, STOCK_PROCS = 8, STOCK_PER_PROC = 5, STOCK_BUYERS = STOCK_PROCS * STOCK_PER_PROC };

typedef struct stock_shared {
	char carts[STOCK_BUYERS][80];
	int rc[STOCK_BUYERS];
	char intent[STOCK_BUYERS][KBP_ID_MAX + 1];
	char message[STOCK_BUYERS][160];
	atomic_int done;
	/* the watcher process */
	int64_t samples, max_reserved, min_reserved, min_available;
	int watcher_error;
	char watcher_message[200];
} stock_shared;

typedef struct stock_buyer {
	kbp_pipeline *p;
	stock_shared *sh;
	pthread_barrier_t *go;
	int i;
} stock_buyer;

static void *stock_buy(void *arg)
{
	stock_buyer *b = arg;
	kbp_intent_request req = KBP_INTENT_REQUEST_INIT;
	kbp_intent *in = NULL;
	int rc;

	req.cart_id = b->sh->carts[b->i];
	req.gateway = GATEWAY;
	pthread_barrier_wait(b->go);
	rc = kbp_intent_create(&in, b->p, &req);
	b->sh->rc[b->i] = rc;
	if (rc != KBP_OK)
		snprintf(b->sh->message[b->i], sizeof b->sh->message[b->i], "%s", last_message());
	if (in)
		snprintf(b->sh->intent[b->i], sizeof b->sh->intent[b->i], "%s", in->id);
	kbp_intent_free(in);
	atomic_fetch_add(&b->sh->done, 1);
	return NULL;
}

static void stock_child(const char *uri, stock_shared *sh, gate *g, int k)
{
	kbp_pipeline *p = open_pipeline(uri, "buyer", 0, 0);
	pthread_barrier_t go;
	pthread_t th[STOCK_PER_PROC];
	stock_buyer b[STOCK_PER_PROC];

	CHECK(pthread_barrier_init(&go, NULL, STOCK_PER_PROC) == 0);
	gate_child_wait(g);
	for (int t = 0; t < STOCK_PER_PROC; t++) {
		b[t].p = p;
		b[t].sh = sh;
		b[t].go = &go;
		b[t].i = k + t * STOCK_PROCS;
		CHECK(pthread_create(&th[t], NULL, stock_buy, &b[t]) == 0);
	}
	for (int t = 0; t < STOCK_PER_PROC; t++)
		pthread_join(th[t], NULL);
	pthread_barrier_destroy(&go);
	kbp_pipeline_close(p);
	_exit(0);
}

/* Samples the product while the buyers race: the invariant must hold at every instant. */
static void stock_watcher(const char *uri, const char *sku, stock_shared *sh, gate *g)
{
	kbp_pipeline *p = open_pipeline(uri, "watcher", 0, 0);

	sh->max_reserved = INT64_MIN;
	sh->min_reserved = INT64_MAX;
	sh->min_available = INT64_MAX;
	gate_child_wait(g);
	while (atomic_load(&sh->done) < STOCK_BUYERS || sh->samples < 20) {
		kbp_product *pr = NULL;
		int rc = kbp_product_get(&pr, p, sku);
		if (rc != KBP_OK || !pr) {
			sh->watcher_error = 1;
			snprintf(sh->watcher_message, sizeof sh->watcher_message, "%d (%s): %s", rc,
			         kbp_strerror(rc), last_message());
			break;
		}
		sh->samples++;
		if (pr->reserved > sh->max_reserved)
			sh->max_reserved = pr->reserved;
		if (pr->reserved < sh->min_reserved)
			sh->min_reserved = pr->reserved;
		if (pr->available < sh->min_available)
			sh->min_available = pr->available;
		if (pr->available != pr->on_hand - pr->reserved || pr->on_hand != STOCK) {
			sh->watcher_error = 2;
			snprintf(sh->watcher_message, sizeof sh->watcher_message,
			         "on_hand %lld reserved %lld available %lld", (long long)pr->on_hand,
			         (long long)pr->reserved, (long long)pr->available);
		}
		kbp_product_free(pr);
	}
	kbp_pipeline_close(p);
	_exit(0);
}

static int test_stock(void)
{
	char run[16];
	const char *uri = fresh_database(storage_uri(), "stock");
	stock_shared *sh = shared_alloc(sizeof *sh);
	kbp_pipeline *p;
	const char *sku;
	char sku_copy[80];
	gate g;
	int ok = 0, out = 0;
	int64_t on_hand, reserved;
	kbp_metrics m;

	random_tag(run, 5);
	p = open_pipeline(uri, "parent", 0, 0);
	sku = make_product(p, run, 2500, STOCK);
	snprintf(sku_copy, sizeof sku_copy, "%s", sku);
	for (int i = 0; i < STOCK_BUYERS; i++) {
		char cust[80];
		int64_t version = 0;
		snprintf(sh->carts[i], sizeof sh->carts[i], "%s-cart%d", run, i);
		snprintf(cust, sizeof cust, "%s-cust%d", run, i);
		OK(kbp_cart_set_item(&version, p, sh->carts[i], cust, sku, 1));
		CHECK(version == 1);
	}
	/* No pipeline (and so no connection or thread) crosses a fork. */
	kbp_pipeline_close(p);

	gate_init(&g);
	for (int k = 0; k < STOCK_PROCS; k++)
		if (spawn() == 0)
			stock_child(uri, sh, &g, k);
	if (spawn() == 0)
		stock_watcher(uri, sku_copy, sh, &g);
	gate_parent_open(&g, STOCK_PROCS + 1);
	reap_children("buyer", 120000);

	for (int i = 0; i < STOCK_BUYERS; i++) {
		if (sh->rc[i] == KBP_OK) {
			ok++;
			CHECK(sh->intent[i][0], "buyer %d succeeded without an intent id", i);
			for (int j = 0; j < i; j++)
				CHECK(strcmp(sh->intent[i], sh->intent[j]) != 0, "buyers %d and %d got one intent", i, j);
		} else {
			CHECK(sh->rc[i] == KBP_EOUTOFSTOCK, "buyer %d: %d (%s): %s", i, sh->rc[i],
			      kbp_strerror(sh->rc[i]), sh->message[i]);
			CHECK(!sh->intent[i][0], "buyer %d failed but got an intent", i);
			out++;
		}
	}
	fprintf(stderr, "stock: %d intents succeeded, %d out of stock; watcher: %lld samples, "
	        "reserved %lld..%lld, min available %lld\n", ok, out, (long long)sh->samples,
	        (long long)sh->min_reserved, (long long)sh->max_reserved, (long long)sh->min_available);
	CHECK(ok == STOCK, "%d intents succeeded, expected exactly %d", ok, STOCK);
	CHECK(out == STOCK_BUYERS - STOCK);
	CHECK(sh->watcher_error == 0, "watcher: %s", sh->watcher_message);
	CHECK(sh->samples >= 20);
	CHECK(sh->max_reserved <= STOCK, "reserved reached %lld > on_hand %d",
	      (long long)sh->max_reserved, STOCK);
	CHECK(sh->min_reserved >= 0);
	CHECK(sh->min_available >= 0);

	p = open_pipeline(uri, "parent", 0, 0);
	product_counts(p, sku_copy, &on_hand, &reserved);
	CHECK(on_hand == STOCK, "on_hand %lld", (long long)on_hand);
	CHECK(reserved == STOCK, "reserved %lld, expected %d", (long long)reserved, STOCK);
	for (int i = 0; i < STOCK_BUYERS; i++) {
		kbp_intent *in = NULL;
		if (sh->rc[i] != KBP_OK)
			continue;
		OK(kbp_intent_get(&in, p, sh->intent[i]));
		CHECK(in->status == KBP_INTENT_PENDING);
		CHECK(strcmp(in->cart_id, sh->carts[i]) == 0);
		CHECK(in->amount_minor == 2500 && in->n_items == 1 && in->items[0].qty == 1);
		kbp_intent_free(in);
	}
	OK(kbp_metrics_get(&m, p));
	CHECK(m.intents[KBP_INTENT_PENDING] == STOCK, "%lld pending intents in the database",
	      (long long)m.intents[KBP_INTENT_PENDING]);
	kbp_pipeline_close(p);
	munmap(sh, sizeof *sh);
	drop_fresh_database();
	printf("stock: PASS (%d processes, %d buyers, %d sold of %d)\n", STOCK_PROCS, STOCK_BUYERS,
	       ok, STOCK);
	return 0;
}

/* --------------------------------------------------------- (b) callbacks */

enum { CB_PROCS = 8, CB_PER_PROC = 2, CB_DELIVERIES = CB_PROCS * CB_PER_PROC, CB_WORKERS = 4 };

typedef struct cb_shared {
	int rc[CB_DELIVERIES];
	int outcome[CB_DELIVERIES];
	int duplicate[CB_DELIVERIES];
	int intent_status[CB_DELIVERIES];
	int needs_refund[CB_DELIVERIES];
	char vid[CB_DELIVERIES][KBP_ID_MAX + 1];
	char message[CB_DELIVERIES][160];
	int ran[CB_WORKERS];
	int worker_rc[CB_WORKERS];
	char worker_message[CB_WORKERS][160];
} cb_shared;

typedef struct cb_delivery {
	kbp_pipeline *p;
	cb_shared *sh;
	const char *cb;
	pthread_barrier_t *go;
	int i;
} cb_delivery;

static void *cb_deliver(void *arg)
{
	cb_delivery *d = arg;
	kbp_verification *v = NULL;
	int rc;

	pthread_barrier_wait(d->go);
	rc = kbp_payment_verify(&v, d->p, GATEWAY, d->cb, strlen(d->cb));
	d->sh->rc[d->i] = rc;
	if (rc != KBP_OK)
		snprintf(d->sh->message[d->i], sizeof d->sh->message[d->i], "%s", last_message());
	if (v) {
		d->sh->outcome[d->i] = (int)v->outcome;
		d->sh->duplicate[d->i] = v->duplicate;
		d->sh->intent_status[d->i] = (int)v->intent_status;
		d->sh->needs_refund[d->i] = v->needs_refund;
		snprintf(d->sh->vid[d->i], sizeof d->sh->vid[d->i], "%s", v->id);
		if (v->reason)
			snprintf(d->sh->message[d->i], sizeof d->sh->message[d->i], "%s", v->reason);
	}
	kbp_verification_free(v);
	return NULL;
}

static void cb_child(const char *uri, const char *cb, cb_shared *sh, gate *g, int k)
{
	kbp_pipeline *p = open_pipeline(uri, "deliverer", 0, 0);
	pthread_barrier_t go;
	pthread_t th[CB_PER_PROC];
	cb_delivery d[CB_PER_PROC];

	CHECK(pthread_barrier_init(&go, NULL, CB_PER_PROC) == 0);
	gate_child_wait(g);
	for (int t = 0; t < CB_PER_PROC; t++) {
		d[t].p = p;
		d[t].sh = sh;
		d[t].cb = cb;
		d[t].go = &go;
		d[t].i = k * CB_PER_PROC + t;
		CHECK(pthread_create(&th[t], NULL, cb_deliver, &d[t]) == 0);
	}
	for (int t = 0; t < CB_PER_PROC; t++)
		pthread_join(th[t], NULL);
	pthread_barrier_destroy(&go);
	kbp_pipeline_close(p);
	_exit(0);
}

/* Works the queue until it has found nothing three times in a row. */
static void cb_worker(const char *uri, cb_shared *sh, gate *g, int k)
{
	kbp_pipeline *p = open_pipeline(uri, "worker", 0, 0);
	char id[32];
	int idle = 0;

	snprintf(id, sizeof id, "rel-worker-%d", k);
	gate_child_wait(g);
	while (idle < 3) {
		int ran = 0;
		int rc = kbp_worker_run_once(&ran, p, id, 10);
		if (rc != KBP_OK) {
			sh->worker_rc[k] = rc;
			snprintf(sh->worker_message[k], sizeof sh->worker_message[k], "%s", last_message());
			break;
		}
		sh->ran[k] += ran;
		idle = ran ? 0 : idle + 1;
		if (!ran)
			sleep_ms(20);
	}
	kbp_pipeline_close(p);
	_exit(0);
}

/* How many finalize_order jobs exist for an intent; the first one's id in *job. */
static size_t finalize_jobs(kbp_pipeline *p, const char *intent_id, kbp_job **job)
{
	kbp_job_filter flt = KBP_JOB_FILTER_INIT;
	kbp_job_list *l = NULL;
	size_t n = 0;
	char key[256];

	/* The key the library gives an intent's finalize job (kbpipeline/jobs.h). */
	snprintf(key, sizeof key, KBP_JOB_KEY_PREFIX KBP_JOB_FINALIZE_ORDER ":%s", intent_id);
	flt.kind = KBP_JOB_FINALIZE_ORDER;
	flt.limit = KBP_JOB_LIST_MAX;
	OK(kbp_jobs_list(&l, p, &flt));
	CHECK(l->next_after == NULL, "more than %d finalize jobs in a fresh database", KBP_JOB_LIST_MAX);
	for (size_t i = 0; i < l->n; i++) {
		if (!l->jobs[i].unique_key || strcmp(l->jobs[i].unique_key, key) != 0)
			continue;
		if (!n && job)
			OK(kbp_job_get(job, p, l->jobs[i].id));
		n++;
	}
	kbp_job_list_free(l);
	return n;
}

static int test_callbacks(void)
{
	char run[16];
	const char *uri = fresh_database(storage_uri(), "callbacks");
	cb_shared *sh = shared_alloc(sizeof *sh);
	kbp_intent *in;
	kbp_pipeline *p;
	kbp_verification_list *l = NULL;
	kbp_verification *v = NULL;
	kbp_order *o = NULL;
	kbp_order_status *st = NULL;
	kbp_job *job = NULL;
	kbp_metrics m;
	char *cb = NULL, *intent_id;
	const char *sku;
	int fresh = 0, ran = 0;
	int64_t on_hand, reserved;
	gate g;

	random_tag(run, 5);
	p = open_pipeline(uri, "parent", 0, 0);
	/* The shopper pays at the sandbox; every process gets the same signed callback. */
	in = pending_intent(p, run, 1200, 2, &cb, &sku);
	intent_id = strdup(in->id);
	kbp_intent_free(in);
	kbp_pipeline_close(p);

	gate_init(&g);
	for (int k = 0; k < CB_PROCS; k++)
		if (spawn() == 0)
			cb_child(uri, cb, sh, &g, k);
	gate_parent_open(&g, CB_PROCS);
	reap_children("deliverer", 120000);

	for (int i = 0; i < CB_DELIVERIES; i++) {
		CHECK(sh->rc[i] == KBP_OK, "delivery %d: %d (%s): %s", i, sh->rc[i],
		      kbp_strerror(sh->rc[i]), sh->message[i]);
		CHECK(sh->outcome[i] == KBP_VERIFICATION_ACCEPTED, "delivery %d: outcome %s: %s", i,
		      kbp_verification_outcome_name((kbp_verification_outcome)sh->outcome[i]),
		      sh->message[i]);
		CHECK(sh->intent_status[i] == KBP_INTENT_SUCCEEDED, "delivery %d: intent %s", i,
		      kbp_intent_status_name((kbp_intent_status)sh->intent_status[i]));
		CHECK(sh->needs_refund[i] == 0);
		CHECK(strcmp(sh->vid[i], sh->vid[0]) == 0, "deliveries 0 and %d name different "
		      "verifications (%s, %s)", i, sh->vid[0], sh->vid[i]);
		fresh += !sh->duplicate[i];
	}
	fprintf(stderr, "callbacks: %d deliveries from %d processes, %d not duplicate\n",
	        CB_DELIVERIES, CB_PROCS, fresh);
	CHECK(fresh == 1, "%d deliveries were accepted as new, expected exactly 1", fresh);

	p = open_pipeline(uri, "parent", 0, 0);
	OK(kbp_verification_list_get(&l, p, intent_id));
	CHECK(l->n == 1, "%zu audit rows for the intent, expected 1", l->n);
	CHECK(l->items[0].outcome == KBP_VERIFICATION_ACCEPTED);
	CHECK(strcmp(l->items[0].id, sh->vid[0]) == 0);
	kbp_verification_list_free(l);
	CHECK(finalize_jobs(p, intent_id, NULL) == 1, "expected one finalize_order job");
	OK(kbp_order_status_get(&st, p, intent_id));
	CHECK(st->stage == KBP_STAGE_PROCESSING, "stage %s before any worker ran",
	      kbp_order_stage_name(st->stage));
	kbp_order_status_free(st);
	st = NULL;
	kbp_pipeline_close(p);

	/* Several worker processes race to acquire the one job. */
	gate_init(&g);
	for (int k = 0; k < CB_WORKERS; k++)
		if (spawn() == 0)
			cb_worker(uri, sh, &g, k);
	gate_parent_open(&g, CB_WORKERS);
	reap_children("worker", 120000);
	for (int k = 0; k < CB_WORKERS; k++) {
		CHECK(sh->worker_rc[k] == KBP_OK, "worker %d: %d (%s): %s", k, sh->worker_rc[k],
		      kbp_strerror(sh->worker_rc[k]), sh->worker_message[k]);
		ran += sh->ran[k];
	}
	CHECK(ran >= 1, "the workers ran no job");

	p = open_pipeline(uri, "parent", 0, 0);
	OK(kbp_order_status_get(&st, p, intent_id));
	CHECK(st->stage == KBP_STAGE_CONFIRMED, "stage %s after the workers ran",
	      kbp_order_stage_name(st->stage));
	kbp_order_status_free(st);
	OK(kbp_order_get_by_intent(&o, p, intent_id));
	CHECK(strcmp(o->intent_id, intent_id) == 0);
	CHECK(o->total_minor == 2400, "order total %lld", (long long)o->total_minor);
	CHECK(o->n_items == 1 && o->items[0].qty == 2);
	kbp_order_free(o);
	CHECK(finalize_jobs(p, intent_id, &job) == 1);
	CHECK(job->state == KBP_JOB_COMPLETED, "job %s", kbp_job_state_name(job->state));
	CHECK(job->attempts == 1, "the finalize job took %d attempts", job->attempts);
	kbp_job_free(job);
	product_counts(p, sku, &on_hand, &reserved);
	CHECK(on_hand == 3 && reserved == 0, "on_hand %lld reserved %lld", (long long)on_hand,
	      (long long)reserved);

	/* A late duplicate changes nothing. */
	OK(kbp_payment_verify(&v, p, GATEWAY, cb, strlen(cb)));
	CHECK(v->outcome == KBP_VERIFICATION_ACCEPTED && v->duplicate == 1);
	kbp_verification_free(v);
	OK(kbp_worker_run_once(NULL, p, "rel-late", 10));
	CHECK(finalize_jobs(p, intent_id, NULL) == 1, "a late duplicate callback made another job");

	OK(kbp_metrics_get(&m, p));
	CHECK(m.orders == 1, "%lld orders, expected 1", (long long)m.orders);
	CHECK(m.paid_intents_without_order == 0);
	CHECK(m.intents[KBP_INTENT_SUCCEEDED] == 1);
	CHECK(m.needs_refund == 0);
	kbp_pipeline_close(p);
	kbp_free(cb);
	free(intent_id);
	munmap(sh, sizeof *sh);
	drop_fresh_database();
	printf("callbacks: PASS (%d deliveries from %d processes, one acceptance, %d workers, "
	       "one order)\n", CB_DELIVERIES, CB_PROCS, CB_WORKERS);
	return 0;
}

/* ----------------------------------------------------------- (c) restart */

enum { RS_PRODUCERS = 4, RS_PER_PRODUCER = 40, RS_TOTAL = RS_PRODUCERS * RS_PER_PRODUCER,
       RS_RESTARTS = 2 };
#define RS_LEASE_MS 5000

static const char *harness_path(void)
{
	const char *h = getenv("KBP_TEST_PG_HARNESS");
	CHECK(h && *h, "KBP_TEST_PG_HARNESS (the path of tests/pg/pg-harness.sh) is not set");
	CHECK(access(h, X_OK) == 0, "%s is not executable", h);
	return h;
}

/* Runs `pg-harness.sh VERB DIR [MODE]`; its exit status. */
static int harness(const char *verb, const char *dir, const char *mode)
{
	char cmd[4096];
	int status;

	snprintf(cmd, sizeof cmd, "'%s' %s '%s' %s >/dev/null", harness_path(), verb, dir,
	         mode ? mode : "");
	fflush(stdout);
	fflush(stderr);
	status = system(cmd);
	return WIFEXITED(status) ? WEXITSTATUS(status) : 128;
}

/*
 * Killed (a meson timeout, ^C) while its own server runs: stop the server
 * (fork and exec are async-signal-safe), then die of the signal.
 */
static char signal_harness[4096], signal_dir[4096];

static void on_signal(int sig)
{
	if (!is_child && signal_dir[0]) {
		pid_t pid = fork();
		if (pid == 0) {
			execl(signal_harness, signal_harness, "stop", signal_dir, (char *)NULL);
			_exit(127);
		}
		if (pid > 0)
			waitpid(pid, NULL, 0);
	}
	signal(sig, SIG_DFL);
	raise(sig);
}

/* Prints every thread's stack of a stuck process (when gdb is there), for the log. */
static void dump_stacks(pid_t pid)
{
	char cmd[256];

	snprintf(cmd, sizeof cmd, "command -v gdb >/dev/null && gdb -p %d -batch -nx "
	         "-ex 'thread apply all bt' </dev/null 2>/dev/null | grep -E '^(Thread|#)' >&2",
	         (int)pid);
	fflush(stderr);
	if (system(cmd) != 0)
		fprintf(stderr, "(no stacks of process %d: gdb missing or not allowed to attach)\n",
		        (int)pid);
}

static void stop_own_server(void)
{
	char cmd[4200];

	if (!own_server_dir)
		return;
	if (harness("stop", own_server_dir, NULL) != 0)
		fprintf(stderr, "stopping the server in %s failed\n", own_server_dir);
	snprintf(cmd, sizeof cmd, "rm -rf '%s'", own_server_dir);
	if (system(cmd) != 0)
		fprintf(stderr, "could not remove %s\n", own_server_dir);
	free(own_server_dir);
	own_server_dir = NULL;
	signal_dir[0] = '\0';
}

/*
 * Starts a server of this test's own with the harness, migrates it and puts
 * its URI in uri. It lives under the shared server's directory when there is
 * one, so that stopping that (dev.sh does on exit) also stops this one if the
 * test was killed.
 */
static void start_own_server(char *uri, size_t cap)
{
	const char *base = getenv("KBP_TEST_PG_DIR");
	char tmpl[512], path[4200];
	int version = 0, rc;
	FILE *f;

	harness_path();
	if (base && *base && strlen(base) < 200 && access(base, W_OK) == 0)
		snprintf(tmpl, sizeof tmpl, "%s/rel.XXXXXX", base);
	else
		snprintf(tmpl, sizeof tmpl, "/tmp/kbp-rel.XXXXXX");
	CHECK(mkdtemp(tmpl) != NULL, "mkdtemp %s: %s", tmpl, strerror(errno));
	own_server_dir = strdup(tmpl);
	snprintf(signal_harness, sizeof signal_harness, "%s", harness_path());
	snprintf(signal_dir, sizeof signal_dir, "%s", own_server_dir);
	signal(SIGTERM, on_signal);
	signal(SIGINT, on_signal);
	signal(SIGHUP, on_signal);
	rc = harness("start", own_server_dir, NULL);
	CHECK(rc == 0, "pg-harness.sh start %s failed (%d); its output is above", own_server_dir, rc);
	snprintf(path, sizeof path, "%s/uri", own_server_dir);
	f = fopen(path, "r");
	CHECK(f != NULL, "%s: %s", path, strerror(errno));
	CHECK(fgets(uri, (int)cap, f) != NULL);
	fclose(f);
	uri[strcspn(uri, "\n")] = '\0';
	OK(kbp_migrate(&version, uri, NULL));
	CHECK(version > 0);
}

typedef struct rs_state {
	kbp_pipeline *p;
	const char *sku;
	const char *run;
	char intent[RS_TOTAL][KBP_ID_MAX + 1];
	atomic_int paid;
	atomic_int retries;
	atomic_int unprepared;          /* intent_create retries that returned an unpayable intent */
	char unprepared_id[KBP_ID_MAX + 1];
	atomic_int stop_maintenance;
	atomic_int restarts;
	int64_t restart_ms[RS_RESTARTS];
	int paid_at_restart[RS_RESTARTS];
} rs_state;

/*
 * rc says whether to try again: a storage error (the server is restarting) is
 * retried until the deadline; anything else is final.
 */
static int retry(rs_state *s, int rc, int64_t deadline)
{
	if (rc != KBP_ESTORAGE || mono_ms() >= deadline)
		return 0;
	atomic_fetch_add(&s->retries, 1);
	sleep_ms(50);
	return 1;
}

typedef struct rs_producer {
	rs_state *s;
	int k;
} rs_producer;

/* Makes paid, verified intents, retrying each step through a restart. */
static void *rs_produce(void *arg)
{
	rs_producer *pr = arg;
	rs_state *s = pr->s;

	for (int n = 0; n < RS_PER_PRODUCER; n++) {
		int i = pr->k * RS_PER_PRODUCER + n, rc;
		char cart[80], cust[80], idem[80];
		kbp_intent_request req = KBP_INTENT_REQUEST_INIT;
		kbp_intent *in = NULL;
		kbp_verification *v = NULL;
		char *cb = NULL;
		int64_t dl;

		snprintf(cart, sizeof cart, "%s-cart%d", s->run, i);
		snprintf(cust, sizeof cust, "%s-cust%d", s->run, i);
		dl = mono_ms() + RETRY_MS;
		while (retry(s, rc = kbp_cart_set_item(NULL, s->p, cart, cust, s->sku, 1), dl)) {
		}
		OK(rc);
		req.cart_id = cart;
		req.gateway = GATEWAY;
		req.idempotency_key = idem;  /* a retry after a lost reply returns the same intent */
		for (int attempt = 0;; attempt++) {
			snprintf(idem, sizeof idem, "%s-idem%d-%d", s->run, i, attempt);
			dl = mono_ms() + RETRY_MS;
			while (retry(s, rc = kbp_intent_create(&in, s->p, &req), dl)) {
			}
			if (rc == KBP_ESTATE) {
				/* The first call's gateway step failed and canceled the intent: the key is spent. */
				CHECK(attempt < 5, "intent_create keeps failing to prepare payments");
				if (atomic_fetch_add(&s->unprepared, 1) == 0)
					snprintf(s->unprepared_id, sizeof s->unprepared_id, "%s",
					         kbp_error_last()->message);
				continue;
			}
			OK(rc);
			if (in->status == KBP_INTENT_PENDING && in->gateway_ref)
				break;
			/*
			 * The storage step committed but the gateway's reference was never
			 * attached (the server went away in between), and the retry handed
			 * back that intent as it is: it cannot be paid. The shopper cancels
			 * it and starts over with a new key.
			 */
			CHECK(attempt < 5, "intent_create keeps returning unprepared intents");
			if (atomic_fetch_add(&s->unprepared, 1) == 0)
				snprintf(s->unprepared_id, sizeof s->unprepared_id, "%s (status %s)", in->id,
				         kbp_intent_status_name(in->status));
			if (in->status == KBP_INTENT_PENDING) {
				dl = mono_ms() + RETRY_MS;
				while (retry(s, rc = kbp_intent_cancel(s->p, in->id), dl)) {
				}
				OK(rc);
			}
			kbp_intent_free(in);
			in = NULL;
		}
		snprintf(s->intent[i], sizeof s->intent[i], "%s", in->id);
		dl = mono_ms() + RETRY_MS;
		while (retry(s, rc = kbp_sandbox_pay(&cb, s->p, GATEWAY, in->id, KBP_SANDBOX_COMPLETED,
		                                     -1), dl)) {
		}
		OK(rc);
		dl = mono_ms() + RETRY_MS;
		while (retry(s, rc = kbp_payment_verify(&v, s->p, GATEWAY, cb, strlen(cb)), dl)) {
		}
		OK(rc);
		/* A retry of a verification that did commit is a duplicate; either way it is paid. */
		CHECK(v->outcome == KBP_VERIFICATION_ACCEPTED && v->intent_status == KBP_INTENT_SUCCEEDED,
		      "intent %s: verification %s (%s)", in->id,
		      kbp_verification_outcome_name(v->outcome), v->reason ? v->reason : "");
		kbp_verification_free(v);
		kbp_free(cb);
		kbp_intent_free(in);
		atomic_fetch_add(&s->paid, 1);
	}
	return NULL;
}

/* Restarts the server when a third and when two thirds of the intents are paid. */
static void *rs_restarter(void *arg)
{
	rs_state *s = arg;

	for (int r = 0; r < RS_RESTARTS; r++) {
		int at = RS_TOTAL * (r + 1) / (RS_RESTARTS + 1);
		int64_t t0;
		int rc;
		while (atomic_load(&s->paid) < at)
			sleep_ms(5);
		s->paid_at_restart[r] = atomic_load(&s->paid);
		t0 = mono_ms();
		rc = harness("restart", own_server_dir, NULL);
		CHECK(rc == 0, "pg-harness.sh restart failed (%d)", rc);
		s->restart_ms[r] = mono_ms() - t0;
		atomic_fetch_add(&s->restarts, 1);
	}
	return NULL;
}

/* Rescues jobs whose worker lost its lease in the restart, as a deployment's cron would. */
static void *rs_maintenance(void *arg)
{
	rs_state *s = arg;

	while (!atomic_load(&s->stop_maintenance)) {
		kbp_maintenance_result res;
		(void)kbp_maintenance_run(&res, s->p);
		sleep_ms(500);
	}
	return NULL;
}

/*
 * Diagnosis when the test's own handle keeps failing after the restarts: does
 * a newly opened pipeline work, and what does it see?
 */
static void fresh_handle_view(const char *uri, const char *intent_id)
{
	kbp_options o = KBP_OPTIONS_INIT;
	kbp_pipeline *p = NULL;
	kbp_order_status *st = NULL;
	kbp_metrics m;
	int rc;

	o.storage = uri;
	if ((rc = kbp_pipeline_open(&p, &o)) != KBP_OK) {
		fprintf(stderr, "diagnosis: a new pipeline does not open either: %s\n", last_message());
		return;
	}
	if ((rc = kbp_order_status_get(&st, p, intent_id)) == KBP_OK)
		fprintf(stderr, "diagnosis: a new pipeline works and sees intent %s at stage %s\n",
		        intent_id, kbp_order_stage_name(st->stage));
	else
		fprintf(stderr, "diagnosis: a new pipeline fails too: %d (%s): %s\n", rc,
		        kbp_strerror(rc), last_message());
	if (kbp_metrics_get(&m, p) == KBP_OK)
		fprintf(stderr, "diagnosis: %lld orders, %lld paid intents without order, %lld jobs "
		        "running, %lld available\n", (long long)m.orders,
		        (long long)m.paid_intents_without_order, (long long)m.jobs[KBP_JOB_RUNNING],
		        (long long)m.jobs[KBP_JOB_AVAILABLE]);
	kbp_order_status_free(st);
	kbp_pipeline_close(p);
}

/* The worker process: works the queue until the parent closes stop_fd. */
static void rs_worker(const char *uri, int ready_fd, int stop_fd)
{
	/*
	 * A short lease and backoff unit: a job whose worker lost its connection is
	 * rescued within seconds, and an attempt that failed during the outage is
	 * retried in milliseconds rather than after the default attempt^4 seconds.
	 */
	kbp_pipeline *p = open_pipeline(uri, "worker", RS_LEASE_MS, 50);
	kbp_worker_options wo = KBP_WORKER_OPTIONS_INIT;
	kbp_worker *w = NULL;
	char c = 'r';
	ssize_t n;

	wo.threads = 2;
	wo.poll_ms = 200;
	wo.name = "rel-restart";
	OK(kbp_worker_start(&w, p, &wo));
	CHECK(write(ready_fd, &c, 1) == 1);
	close(ready_fd);
	do
		n = read(stop_fd, &c, 1);
	while (n < 0 && errno == EINTR);
	kbp_worker_stop(w);
	kbp_pipeline_close(p);
	_exit(0);
}

static int test_restart(void)
{
	char uri[4096], run[16];
	rs_state *s = calloc(1, sizeof *s);
	rs_producer prod[RS_PRODUCERS];
	pthread_t th[RS_PRODUCERS], restarter, maint;
	int ready[2], stop[2], rc, status = 0;
	pid_t worker;
	char c;
	kbp_metrics m;
	int64_t t0, wait_ms;
	char **orders = calloc(RS_TOTAL, sizeof *orders);

	CHECK(s && orders);
	start_own_server(uri, sizeof uri);
	random_tag(run, 5);

	/* The worker process is forked before this process has any thread or connection. */
	/* CLOEXEC: the server that the harness (re)starts must not inherit the stop pipe. */
	CHECK(pipe2(ready, O_CLOEXEC) == 0 && pipe2(stop, O_CLOEXEC) == 0, "pipe: %s",
	      strerror(errno));
	if ((worker = spawn()) == 0) {
		close(ready[0]);
		close(stop[1]);
		rs_worker(uri, ready[1], stop[0]);
	}
	close(ready[1]);
	close(stop[0]);
	CHECK(read(ready[0], &c, 1) == 1, "the worker process did not start (see above)");
	close(ready[0]);

	s->p = open_pipeline(uri, "parent", RS_LEASE_MS, 50);
	s->sku = make_product(s->p, run, 300, RS_TOTAL);
	s->run = run;
	t0 = mono_ms();
	CHECK(pthread_create(&maint, NULL, rs_maintenance, s) == 0);
	CHECK(pthread_create(&restarter, NULL, rs_restarter, s) == 0);
	for (int k = 0; k < RS_PRODUCERS; k++) {
		prod[k].s = s;
		prod[k].k = k;
		CHECK(pthread_create(&th[k], NULL, rs_produce, &prod[k]) == 0);
	}
	for (int k = 0; k < RS_PRODUCERS; k++)
		pthread_join(th[k], NULL);
	pthread_join(restarter, NULL);
	CHECK(atomic_load(&s->paid) == RS_TOTAL);
	CHECK(atomic_load(&s->restarts) == RS_RESTARTS);
	CHECK(waitpid(worker, &status, WNOHANG) == 0, "the worker process died during the restarts");

	/* Every paid intent ends with exactly one order, made by the worker process. */
	for (int i = 0; i < RS_TOTAL; i++) {
		kbp_order_status *st = NULL;
		kbp_order *o = NULL;
		int64_t dl = mono_ms() + RETRY_MS;
		while (retry(s, rc = kbp_order_wait(&st, s->p, s->intent[i], 120000), dl)) {
			kbp_order_status_free(st);
			st = NULL;
		}
		if (rc != KBP_OK)
			fresh_handle_view(uri, s->intent[i]);
		CHECK(rc == KBP_OK, "intent %d (%s): kbp_order_wait returned %d (%s) for %d s after "
		      "the restarts: %s; stage %s", i, s->intent[i], rc, kbp_strerror(rc),
		      RETRY_MS / 1000, last_message(), st ? kbp_order_stage_name(st->stage) : "?");
		CHECK(st->stage == KBP_STAGE_CONFIRMED, "intent %s: stage %s (%s)", s->intent[i],
		      kbp_order_stage_name(st->stage), st->reason ? st->reason : "");
		kbp_order_status_free(st);
		while (retry(s, rc = kbp_order_get_by_intent(&o, s->p, s->intent[i]), dl)) {
		}
		OK(rc);
		CHECK(strcmp(o->intent_id, s->intent[i]) == 0);
		orders[i] = strdup(o->id);
		kbp_order_free(o);
		for (int j = 0; j < i; j++)
			CHECK(strcmp(orders[i], orders[j]) != 0, "intents %d and %d share an order", i, j);
	}
	wait_ms = mono_ms() - t0;
	atomic_store(&s->stop_maintenance, 1);
	pthread_join(maint, NULL);

	OK(kbp_metrics_get(&m, s->p));
	fprintf(stderr, "restart: %d paid intents, restarts after %d and %d paid (%lld ms, %lld ms), "
	        "%d retried calls, all orders in %lld ms; metrics: %lld orders, %lld paid without "
	        "order, %lld jobs failed, %lld rescued in the last hour\n",
	        RS_TOTAL, s->paid_at_restart[0], s->paid_at_restart[1], (long long)s->restart_ms[0],
	        (long long)s->restart_ms[1], atomic_load(&s->retries), (long long)wait_ms,
	        (long long)m.orders, (long long)m.paid_intents_without_order,
	        (long long)m.jobs[KBP_JOB_FAILED], (long long)m.jobs_rescued_last_hour);
	/* The server is this test's own: every figure counts this run's intents alone. */
	CHECK(m.paid_intents_without_order == 0, "%lld paid intents without an order",
	      (long long)m.paid_intents_without_order);
	CHECK(m.orders == RS_TOTAL, "%lld orders for %d paid intents", (long long)m.orders, RS_TOTAL);
	CHECK(m.intents[KBP_INTENT_SUCCEEDED] == RS_TOTAL);
	CHECK(m.intents[KBP_INTENT_PENDING] == 0 && m.intents[KBP_INTENT_FAILED] == 0 &&
	      m.intents[KBP_INTENT_EXPIRED] == 0, "pending %lld failed %lld expired %lld",
	      (long long)m.intents[KBP_INTENT_PENDING], (long long)m.intents[KBP_INTENT_FAILED],
	      (long long)m.intents[KBP_INTENT_EXPIRED]);
	CHECK(m.intents[KBP_INTENT_CANCELED] == atomic_load(&s->unprepared),
	      "%lld canceled intents, but the shoppers started over %d times",
	      (long long)m.intents[KBP_INTENT_CANCELED], atomic_load(&s->unprepared));
	CHECK(m.orders_without_items == 0);
	CHECK(m.needs_refund == 0);
	CHECK(m.jobs[KBP_JOB_FAILED] == 0, "%lld finalize jobs died", (long long)m.jobs[KBP_JOB_FAILED]);
	{
		int64_t on_hand, reserved;
		product_counts(s->p, s->sku, &on_hand, &reserved);
		CHECK(on_hand == 0 && reserved == 0, "on_hand %lld reserved %lld after every unit sold",
		      (long long)on_hand, (long long)reserved);
	}

	/*
	 * Not a failure: kbp_intent_create(3) documents that a retry with the same
	 * key returns the existing intent in its current state, and one that the
	 * outage left without its gateway reference cannot be paid; the shopper
	 * canceled it (the stock check above shows it was released) and started over.
	 */
	if (atomic_load(&s->unprepared))
		fprintf(stderr, "note: %d kbp_intent_create retries returned an intent the outage left "
		        "without a gateway reference (first: %s); canceled and recreated\n",
		        atomic_load(&s->unprepared), s->unprepared_id);

	/* The worker survived the restarts and stops cleanly. */
	close(stop[1]);
	{
		int64_t until = mono_ms() + 30000;
		pid_t r;
		while ((r = waitpid(worker, &status, WNOHANG)) == 0 && mono_ms() < until)
			sleep_ms(20);
		if (r == 0) {
			dump_stacks(worker);
			CHECK(r == worker, "kbp_worker_stop did not return within 30 s of the stop request "
			      "(the worker process's threads are above)");
		}
		CHECK(r == worker, "waitpid: %s", strerror(errno));
		children[0] = -1;
		n_children = 0;
		CHECK(WIFEXITED(status) && WEXITSTATUS(status) == 0, "the worker process ended with %s %d",
		      WIFEXITED(status) ? "exit status" : "signal",
		      WIFEXITED(status) ? WEXITSTATUS(status) : WTERMSIG(status));
	}
	kbp_pipeline_close(s->p);
	for (int i = 0; i < RS_TOTAL; i++)
		free(orders[i]);
	free(orders);
	free(s);
	stop_own_server();
	printf("restart: PASS (%d paid intents, %d restarts under load, one order each)\n",
	       RS_TOTAL, RS_RESTARTS);
	return 0;
}

/* ------------------------------------------- (d) reconnect after a crash */

static void restart_immediately(void)
{
	int rc = harness("restart", own_server_dir, "immediate");
	CHECK(rc == 0, "pg-harness.sh restart -m immediate failed (%d)", rc);
}

/*
 * An immediate restart kills every backend at once: the pipeline's idle
 * pooled connection is dead, though libpq cannot know it before it uses it.
 * The first call after each restart must succeed, without a retry by the
 * caller: a read, and a write that never reached the server.
 */
static int test_reconnect(void)
{
	char uri[4096], run[16], cart[80], cust[80];
	kbp_pipeline *p;
	const char *sku;
	kbp_product *pr = NULL;
	kbp_cart *ct = NULL;
	kbp_metrics m;

	start_own_server(uri, sizeof uri);
	random_tag(run, 5);
	p = open_pipeline(uri, "reconnect", 0, 0);
	sku = make_product(p, run, 500, 10);
	snprintf(cart, sizeof cart, "%s-cart", run);
	snprintf(cust, sizeof cust, "%s-cust", run);
	OK(kbp_cart_set_item(NULL, p, cart, cust, sku, 1));

	restart_immediately();
	OK(kbp_product_get(&pr, p, sku));
	CHECK(pr->on_hand == 10, "on_hand %lld", (long long)pr->on_hand);
	kbp_product_free(pr);

	restart_immediately();
	OK(kbp_cart_set_item(NULL, p, cart, cust, sku, 3));
	OK(kbp_cart_get(&ct, p, cart));
	CHECK(ct->n_items == 1 && ct->items[0].qty == 3, "%zu lines, the first of %lld", ct->n_items,
	      ct->n_items ? (long long)ct->items[0].qty : 0LL);
	kbp_cart_free(ct);

	restart_immediately();
	OK(kbp_metrics_get(&m, p));
	kbp_pipeline_close(p);
	stop_own_server();
	printf("reconnect: PASS (the first read and write after each immediate restart succeed)\n");
	return 0;
}

/* ----------------------------------- (e) job outcomes written after an outage */

/* Long enough that a job left running until its lease passes cannot pass the test. */
#define OC_LEASE_MS 120000
#define OC_OUTAGE_MS 2000
#define OC_SETTLE_MS 15000

typedef struct oc_gate {
	atomic_int inside;
	atomic_int go;
} oc_gate;

/* Holds its job until the server is down; jobs of the kind "…-fail" then fail. */
static int oc_handler(void *ctx, kbp_pipeline *p, const kbp_job *job)
{
	oc_gate *g = ctx;

	(void)p;
	atomic_fetch_add(&g->inside, 1);
	while (!atomic_load(&g->go))
		sleep_ms(10);
	if (strstr(job->kind, "-fail"))
		return kbp_error_set(KBP_EGATEWAY, "the courier was unreachable");
	return 0;
}

/* The job's state once it left running, retrying reads while the server comes back. */
static kbp_job *oc_settled(kbp_pipeline *p, const char *id, int64_t deadline)
{
	for (;;) {
		kbp_job *j = NULL;
		int rc = kbp_job_get(&j, p, id);
		CHECK(rc == KBP_OK || rc == KBP_ESTORAGE, "kbp_job_get: %d (%s): %s", rc,
		      kbp_strerror(rc), last_message());
		if (rc == KBP_OK && j->state != KBP_JOB_RUNNING)
			return j;
		CHECK(mono_ms() < deadline, "job %s is still %s %d ms after the server came back: %s",
		      id, rc == KBP_OK ? "running" : "unreadable", OC_SETTLE_MS,
		      rc == KBP_OK ? "its outcome was not written" : last_message());
		kbp_job_free(j);
		sleep_ms(50);
	}
}

/*
 * Two handlers finish while the server is down: one succeeds, one fails. The
 * worker keeps trying to write both outcomes while it holds the leases, so
 * both are recorded soon after the server is back, long before the leases pass.
 */
static int test_outage(void)
{
	char uri[4096], run[16], ok_kind[40], fail_kind[40];
	kbp_enqueue_options once = KBP_ENQUEUE_OPTIONS_INIT;
	kbp_worker_options wo = KBP_WORKER_OPTIONS_INIT;
	oc_gate g = { 0, 0 };
	kbp_worker *w = NULL;
	char *ok_id = NULL, *fail_id = NULL;
	kbp_job *j;
	kbp_pipeline *p;
	int64_t back, until;
	int rc;

	start_own_server(uri, sizeof uri);
	random_tag(run, 5);
	p = open_pipeline(uri, "outage", OC_LEASE_MS, 50);
	snprintf(ok_kind, sizeof ok_kind, "rel-%s-ok", run);
	snprintf(fail_kind, sizeof fail_kind, "rel-%s-fail", run);
	OK(kbp_job_register(p, ok_kind, oc_handler, &g));
	OK(kbp_job_register(p, fail_kind, oc_handler, &g));
	once.max_attempts = 1;
	OK(kbp_job_enqueue(&ok_id, p, ok_kind, NULL, NULL));
	OK(kbp_job_enqueue(&fail_id, p, fail_kind, NULL, &once));
	wo.threads = 2;
	wo.batch = 1;
	wo.poll_ms = 100;
	OK(kbp_worker_start(&w, p, &wo));
	until = mono_ms() + 10000;
	while (atomic_load(&g.inside) < 2) {
		CHECK(mono_ms() < until, "the worker did not start both jobs");
		sleep_ms(10);
	}

	rc = harness("halt", own_server_dir, NULL);
	CHECK(rc == 0, "pg-harness.sh halt failed (%d)", rc);
	atomic_store(&g.go, 1);
	sleep_ms(OC_OUTAGE_MS);
	rc = harness("resume", own_server_dir, NULL);
	CHECK(rc == 0, "pg-harness.sh resume failed (%d)", rc);
	back = mono_ms();

	j = oc_settled(p, ok_id, back + OC_SETTLE_MS);
	CHECK(j->state == KBP_JOB_COMPLETED, "the successful job is %s", kbp_job_state_name(j->state));
	kbp_job_free(j);
	j = oc_settled(p, fail_id, back + OC_SETTLE_MS);
	CHECK(j->state == KBP_JOB_FAILED && j->attempts == 1, "the failing job is %s after %d attempts",
	      kbp_job_state_name(j->state), j->attempts);
	CHECK(j->last_error && strcmp(j->last_error, "the courier was unreachable") == 0,
	      "last_error '%s'", j->last_error ? j->last_error : "(none)");
	kbp_job_free(j);
	fprintf(stderr, "outage: both outcomes recorded %lld ms after the server came back\n",
	        (long long)(mono_ms() - back));
	kbp_worker_stop(w);
	kbp_pipeline_close(p);
	free(ok_id);
	free(fail_id);
	stop_own_server();
	printf("outage: PASS (outcomes written after the outage, before the leases passed)\n");
	return 0;
}

/* ---------------------------------------- (f) order_wait without LISTEN */

#define WF_TIMEOUT_MS 20000
#define WF_CONFIRM_AFTER_MS 1000
#define WF_LATE_MS 1500

/* A query's single number, e.g. a count. */
static long long sql_number(const char *conninfo, const char *sql)
{
	PGconn *c = PQconnectdb(conninfo);
	PGresult *r;
	long long n;

	CHECK(PQstatus(c) == CONNECTION_OK, "connecting to the test server: %s", PQerrorMessage(c));
	r = PQexec(c, sql);
	CHECK(PQresultStatus(r) == PGRES_TUPLES_OK && PQntuples(r) == 1, "%s: %s", sql,
	      PQerrorMessage(c));
	n = atoll(PQgetvalue(r, 0, 0));
	PQclear(r);
	PQfinish(c);
	return n;
}

typedef struct wf_waiter {
	kbp_pipeline *p;
	const char *intent_id;
	int rc;
	kbp_order_stage stage;
	char message[200];
	int64_t returned;
} wf_waiter;

static void *wf_wait(void *arg)
{
	wf_waiter *w = arg;
	kbp_order_status *st = NULL;

	w->rc = kbp_order_wait(&st, w->p, w->intent_id, WF_TIMEOUT_MS);
	w->returned = mono_ms();
	snprintf(w->message, sizeof w->message, "%s", w->rc == KBP_OK ? "" : last_message());
	w->stage = st ? st->stage : KBP_STAGE_VERIFYING;
	kbp_order_status_free(st);
	return NULL;
}

/*
 * The LISTEN connections are killed and cannot come back (the database stops
 * taking connections; the pools keep theirs). A waiter whose order is
 * confirmed meanwhile must still see it promptly, not at its timeout.
 */
static int test_wait_fallback(void)
{
	const char *base = storage_uri();
	char *uri = fresh_database(base, "wait");
	char run[16], sql[256], *cb = NULL;
	kbp_pipeline *waiting, *confirming;
	kbp_intent *in;
	kbp_order_status *st = NULL;
	kbp_verification *v = NULL;
	wf_waiter wt = { 0 };
	pthread_t th;
	int64_t confirmed;
	int ran = 0;
	const char *sku;

	random_tag(run, 5);
	waiting = open_pipeline(uri, "waiter", 0, 0);
	confirming = open_pipeline(uri, "confirmer", 0, 0);
	in = pending_intent(confirming, run, 700, 1, &cb, &sku);
	OK(kbp_order_status_get(&st, waiting, in->id));
	kbp_order_status_free(st);

	snprintf(sql, sizeof sql, "ALTER DATABASE %s ALLOW_CONNECTIONS false", fresh_db_name);
	exec_sql(base, sql);
	snprintf(sql, sizeof sql, "SELECT count(pg_terminate_backend(pid)) FROM pg_stat_activity "
	         "WHERE datname = '%s' AND query LIKE 'LISTEN%%'", fresh_db_name);
	CHECK(sql_number(base, sql) == 2, "the two pipelines' LISTEN connections were not found");
	sleep_ms(500);
	CHECK(sql_number(base, sql) == 0, "a LISTEN connection came back");

	wt.p = waiting;
	wt.intent_id = in->id;
	CHECK(pthread_create(&th, NULL, wf_wait, &wt) == 0);
	sleep_ms(WF_CONFIRM_AFTER_MS);
	OK(kbp_payment_verify(&v, confirming, GATEWAY, cb, strlen(cb)));
	CHECK(v->outcome == KBP_VERIFICATION_ACCEPTED, "verification %s",
	      kbp_verification_outcome_name(v->outcome));
	OK(kbp_worker_run_once(&ran, confirming, "rel-wait", 1));
	CHECK(ran == 1, "the worker ran %d jobs", ran);
	confirmed = mono_ms();
	pthread_join(th, NULL);

	snprintf(sql, sizeof sql, "ALTER DATABASE %s ALLOW_CONNECTIONS true", fresh_db_name);
	exec_sql(base, sql);
	CHECK(wt.rc == KBP_OK, "kbp_order_wait returned %d (%s): %s", wt.rc, kbp_strerror(wt.rc),
	      wt.message);
	CHECK(wt.stage == KBP_STAGE_CONFIRMED, "stage %s", kbp_order_stage_name(wt.stage));
	CHECK(wt.returned - confirmed < WF_LATE_MS, "kbp_order_wait returned %lld ms after the order "
	      "was confirmed", (long long)(wt.returned - confirmed));
	fprintf(stderr, "wait: returned %lld ms after the confirmation\n",
	        (long long)(wt.returned - confirmed));
	kbp_verification_free(v);
	kbp_free(cb);
	kbp_intent_free(in);
	kbp_pipeline_close(waiting);
	kbp_pipeline_close(confirming);
	drop_fresh_database();
	printf("wait: PASS (a waiter without LISTEN sees its order confirmed)\n");
	return 0;
}

static const struct {
	const char *name;
	int (*run)(void);
} tests[] = {
	{ "stock", test_stock },
	{ "callbacks", test_callbacks },
	{ "restart", test_restart },
	{ "reconnect", test_reconnect },
	{ "outage", test_outage },
	{ "wait", test_wait_fallback },
};

int main(int argc, char **argv)
{
	setvbuf(stdout, NULL, _IOLBF, 0);
	signal(SIGPIPE, SIG_IGN);
	for (size_t i = 0; argc == 2 && i < sizeof tests / sizeof tests[0]; i++)
		if (strcmp(argv[1], tests[i].name) == 0)
			return tests[i].run();
	fprintf(stderr, "usage: %s stock|callbacks|restart|reconnect|outage|wait\n", argv[0]);
	return 2;
}
