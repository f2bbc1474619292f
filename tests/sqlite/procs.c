/* SPDX-License-Identifier: MIT */
/*
 * kbp-sqlite-procs TEST: several processes on one SQLite file, run by
 * with-sqlite.sh (KBP_TEST_SQLITE_DIR names a fresh directory).
 *   two   a worker process finalizes what this process pays; kbp_order_wait
 *         here wakes on the other process's commits, and both see every order
 *   kill  a worker process is SIGKILLed while it finalizes a backlog; after its
 *         leases are rescued every paid intent has exactly one order, and no
 *         order seen before the kill is lost
 *   txn   a process killed inside a write transaction holding the write lock:
 *         what it wrote is gone, what was committed stays, and the next writer
 *         gets the lock
 * Every process opens its own pipeline after fork(): no connection crosses it.
 */
#include <errno.h>
#include <signal.h>
#include <sqlite3.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include <kbpipeline.h>

#define SECRET "sqlite-procs-sandbox-secret"
#define N_TWO 12
#define N_KILL 40
#define LEASE_MS 1000

static char path[4000], uri[4096];

static void fail(const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	fprintf(stderr, "[pid %d] FAIL: ", (int)getpid());
	vfprintf(stderr, fmt, ap);
	fprintf(stderr, " (last error: %s)\n", kbp_error_last()->message);
	va_end(ap);
	exit(1);
}

#define OK(call)                                                                     \
	do {                                                                         \
		int rc_ = (call);                                                    \
		if (rc_ != 0)                                                        \
			fail("%s:%d: %s returned %d", __FILE__, __LINE__, #call, rc_); \
	} while (0)
#define CHECK(cond, ...)                                                             \
	do {                                                                         \
		if (!(cond))                                                         \
			fail(__VA_ARGS__);                                           \
	} while (0)

static void sleep_ms(int64_t ms)
{
	struct timespec t = { (time_t)(ms / 1000), (long)(ms % 1000) * 1000000L };

	while (nanosleep(&t, &t) != 0 && errno == EINTR) {
	}
}

static int64_t mono_ms(void)
{
	struct timespec t;

	clock_gettime(CLOCK_MONOTONIC, &t);
	return (int64_t)t.tv_sec * 1000 + t.tv_nsec / 1000000;
}

static kbp_pipeline *open_pipeline(void)
{
	kbp_options o = KBP_OPTIONS_INIT;
	kbp_sandbox_options so = KBP_SANDBOX_OPTIONS_INIT;
	kbp_pipeline *p = NULL;

	o.storage = uri;
	o.job_lease_ms = LEASE_MS;
	o.log_level = KBP_LOG_ERROR;
	OK(kbp_pipeline_open(&p, &o));
	CHECK(strcmp(kbp_pipeline_storage_name(p), "sqlite") == 0, "storage is %s",
	      kbp_pipeline_storage_name(p));
	so.secret = SECRET;
	so.secret_len = strlen(SECRET);
	OK(kbp_gateway_add_sandbox(p, &so));
	return p;
}

/* What the processes share: the ids of the paid intents. */
typedef struct shared {
	int n_paid;
	char intent[N_KILL][KBP_ID_MAX + 1];
} shared;

static shared *shared_new(void)
{
	shared *sh = mmap(NULL, sizeof(*sh), PROT_READ | PROT_WRITE, MAP_SHARED | MAP_ANONYMOUS, -1, 0);

	CHECK(sh != MAP_FAILED, "mmap: %s", strerror(errno));
	memset(sh, 0, sizeof(*sh));
	return sh;
}

static void catalog(kbp_pipeline *p, int64_t on_hand)
{
	kbp_product_spec spec = KBP_PRODUCT_SPEC_INIT;

	OK(kbp_vendor_put(p, "procs-vendor", "Processes"));
	spec.id = "procs-sku";
	spec.vendor_id = "procs-vendor";
	spec.name = "Shared between processes";
	spec.price_minor = 1500;
	spec.on_hand = on_hand;
	OK(kbp_product_put(p, &spec));
}

/* Cart i, its intent, paid and verified: its finalize_order job is queued. */
static void pay_one(kbp_pipeline *p, shared *sh, int i)
{
	kbp_intent_request req = KBP_INTENT_REQUEST_INIT;
	kbp_verification *v = NULL;
	kbp_intent *in = NULL;
	char cart[64], customer[64], *cb = NULL;

	snprintf(cart, sizeof cart, "procs-cart-%d", i);
	snprintf(customer, sizeof customer, "procs-customer-%d", i);
	OK(kbp_cart_set_item(NULL, p, cart, customer, "procs-sku", 1));
	req.cart_id = cart;
	req.gateway = "sandbox";
	OK(kbp_intent_create(&in, p, &req));
	OK(kbp_sandbox_pay(&cb, p, "sandbox", in->id, KBP_SANDBOX_COMPLETED, -1));
	OK(kbp_payment_verify(&v, p, "sandbox", cb, strlen(cb)));
	snprintf(sh->intent[i], sizeof sh->intent[i], "%s", in->id);
	__atomic_store_n(&sh->n_paid, i + 1, __ATOMIC_RELEASE);
	kbp_verification_free(v);
	kbp_free(cb);
	kbp_intent_free(in);
}

static int64_t orders_in_store(kbp_pipeline *p)
{
	kbp_metrics m;

	OK(kbp_metrics_get(&m, p));
	return m.orders;
}

static void expect_one_order_each(kbp_pipeline *p, shared *sh, int n)
{
	kbp_metrics m;

	for (int i = 0; i < n; i++) {
		kbp_order *o = NULL;
		OK(kbp_order_get_by_intent(&o, p, sh->intent[i]));
		CHECK(o->n_items == 1 && o->items[0].qty == 1, "order of %s has %zu lines",
		      sh->intent[i], o->n_items);
		kbp_order_free(o);
	}
	OK(kbp_metrics_get(&m, p));
	CHECK(m.orders == n, "%lld orders for %d paid intents", (long long)m.orders, n);
	CHECK(m.paid_intents_without_order == 0, "%lld paid intents without an order",
	      (long long)m.paid_intents_without_order);
	CHECK(m.jobs[KBP_JOB_COMPLETED] == n, "%lld finalize jobs completed of %d",
	      (long long)m.jobs[KBP_JOB_COMPLETED], n);
}

static void expect_healthy(kbp_pipeline *p, int64_t sold)
{
	kbp_doctor_report *r = NULL;
	kbp_product *pr = NULL;

	OK(kbp_doctor_run(&r, p));
	CHECK(r->problems == 0, "doctor found %lld problems", (long long)r->problems);
	kbp_doctor_report_free(r);
	OK(kbp_product_get(&pr, p, "procs-sku"));
	CHECK(pr->reserved == 0, "%lld units still reserved", (long long)pr->reserved);
	CHECK(pr->on_hand == 1000 - sold, "on_hand %lld after selling %lld", (long long)pr->on_hand,
	      (long long)sold);
	kbp_product_free(pr);
}

static pid_t worker_process(shared *sh, int n, int threads, int until_all)
{
	kbp_worker_options wo = KBP_WORKER_OPTIONS_INIT;
	kbp_worker *w = NULL;
	kbp_pipeline *p;
	pid_t pid;

	fflush(NULL);
	if ((pid = fork()) != 0) {
		CHECK(pid > 0, "fork: %s", strerror(errno));
		return pid;
	}
	p = open_pipeline();
	wo.threads = threads;
	wo.name = "procs-worker";
	OK(kbp_worker_start(&w, p, &wo));
	/* The kill test ends this process from outside; two waits for every order. */
	while (!until_all || __atomic_load_n(&sh->n_paid, __ATOMIC_ACQUIRE) < n ||
	       orders_in_store(p) < n)
		sleep_ms(20);
	kbp_worker_stop(w);
	expect_one_order_each(p, sh, n);
	kbp_pipeline_close(p);
	exit(0);
}

static void reap(pid_t pid, int want_signal)
{
	int status = 0;

	CHECK(waitpid(pid, &status, 0) == pid, "waitpid: %s", strerror(errno));
	if (want_signal)
		CHECK(WIFSIGNALED(status) && WTERMSIG(status) == want_signal, "child status %d", status);
	else
		CHECK(WIFEXITED(status) && WEXITSTATUS(status) == 0, "child status %d", status);
}

static int test_two(void)
{
	shared *sh = shared_new();
	kbp_pipeline *p;
	int64_t waited;
	pid_t worker;

	p = open_pipeline();
	catalog(p, 1000);
	kbp_pipeline_close(p);
	worker = worker_process(sh, N_TWO, 2, 1);
	p = open_pipeline();
	for (int i = 0; i < N_TWO; i++)
		pay_one(p, sh, i);
	waited = mono_ms();
	for (int i = 0; i < N_TWO; i++) {
		kbp_order_status *st = NULL;
		OK(kbp_order_wait(&st, p, sh->intent[i], 20000));
		CHECK(st->stage == KBP_STAGE_CONFIRMED, "intent %s is %s", sh->intent[i],
		      kbp_order_stage_name(st->stage));
		kbp_order_status_free(st);
	}
	/* The other process's commits wake this one's waits, not their timeouts. */
	waited = mono_ms() - waited;
	CHECK(waited < 5000, "the orders took %lld ms to be seen", (long long)waited);
	reap(worker, 0);
	expect_one_order_each(p, sh, N_TWO);
	expect_healthy(p, N_TWO);
	kbp_pipeline_close(p);
	return 0;
}

/* This process finishes what the killed worker left: rescue, then run the rest. */
static void finish_backlog(kbp_pipeline *p)
{
	int64_t rescued = 0;
	int ran = 1;

	sleep_ms(LEASE_MS + 200);
	OK(kbp_jobs_rescue(&rescued, p));
	while (ran > 0)
		OK(kbp_worker_run_once(&ran, p, "procs-finisher", 16));
}

static int test_kill(void)
{
	shared *sh = shared_new();
	int64_t seen_before_kill;
	kbp_pipeline *p;
	pid_t worker;

	p = open_pipeline();
	catalog(p, 1000);
	for (int i = 0; i < N_KILL; i++)
		pay_one(p, sh, i);
	kbp_pipeline_close(p);
	worker = worker_process(sh, N_KILL, 4, 0);
	p = open_pipeline();
	/* Killed as soon as its first orders land: the rest are mid-flight. */
	while ((seen_before_kill = orders_in_store(p)) < 3)
		sleep_ms(1);
	kill(worker, SIGKILL);
	reap(worker, SIGKILL);
	CHECK(orders_in_store(p) >= seen_before_kill, "orders went from %lld to %lld",
	      (long long)seen_before_kill, (long long)orders_in_store(p));
	finish_backlog(p);
	expect_one_order_each(p, sh, N_KILL);
	expect_healthy(p, N_KILL);
	printf("kill: %lld orders committed before the SIGKILL, %d after rescue\n",
	       (long long)seen_before_kill, N_KILL);
	kbp_pipeline_close(p);
	return 0;
}

/* The child's half of txn: writes inside a transaction, says so, and waits for its end. */
static void txn_child(int ready_fd)
{
	sqlite3 *db;

	CHECK(sqlite3_open(path, &db) == SQLITE_OK, "sqlite3_open");
	CHECK(sqlite3_exec(db,
	                   "BEGIN IMMEDIATE; INSERT INTO vendors (id, name, created_at, updated_at) "
	                   "VALUES ('uncommitted', 'Never committed', 0, 0)",
	                   NULL, NULL, NULL) == SQLITE_OK,
	      "child write: %s", sqlite3_errmsg(db));
	CHECK(write(ready_fd, "x", 1) == 1, "pipe");
	for (;;)
		pause();
}

static int test_txn(void)
{
	kbp_vendor *v = NULL;
	kbp_pipeline *p;
	int fds[2];
	char c;
	pid_t pid;

	p = open_pipeline();
	OK(kbp_vendor_put(p, "committed", "Committed before"));
	kbp_pipeline_close(p);
	CHECK(pipe(fds) == 0, "pipe");
	fflush(NULL);
	if ((pid = fork()) == 0)
		txn_child(fds[1]);
	CHECK(pid > 0, "fork");
	CHECK(read(fds[0], &c, 1) == 1, "the child did not write");
	kill(pid, SIGKILL);
	reap(pid, SIGKILL);
	p = open_pipeline();
	OK(kbp_vendor_get(&v, p, "committed"));
	kbp_vendor_free(v);
	v = NULL;
	CHECK(kbp_vendor_get(&v, p, "uncommitted") == KBP_ENOTFOUND,
	      "the killed transaction's vendor exists");
	/* The lock died with its holder: this write does not wait for the busy timeout. */
	OK(kbp_vendor_put(p, "after", "Written after the kill"));
	OK(kbp_vendor_get(&v, p, "after"));
	kbp_vendor_free(v);
	kbp_pipeline_close(p);
	return 0;
}

int main(int argc, char **argv)
{
	const char *dir = getenv("KBP_TEST_SQLITE_DIR");

	if (argc != 2 || !dir) {
		fprintf(stderr, "usage: with-sqlite.sh %s two|kill|txn\n", argv[0]);
		return 2;
	}
	snprintf(path, sizeof path, "%s/%s.db", dir, argv[1]);
	snprintf(uri, sizeof uri, "sqlite:%s", path);
	if (strcmp(argv[1], "two") == 0)
		return test_two();
	if (strcmp(argv[1], "kill") == 0)
		return test_kill();
	if (strcmp(argv[1], "txn") == 0)
		return test_txn();
	fprintf(stderr, "unknown test '%s'\n", argv[1]);
	return 2;
}
