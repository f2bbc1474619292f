/* SPDX-License-Identifier: MIT */
/*
 * The merchant secrets and the storage's password never reach a log line,
 * an error message or the audit.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "gw.h"

static int contains(const char *hay, size_t n, const char *needle)
{
	return hay && memmem(hay, n, needle, strlen(needle)) != NULL;
}

static char *write_secret_file(const char *content)
{
	char *path = strdup("/tmp/kbp-gw-secret.XXXXXX");
	int fd = mkstemp(path);

	ck_assert_int_ge(fd, 0);
	ck_assert_int_eq(write(fd, content, strlen(content)), (ssize_t)strlen(content));
	close(fd);
	return path;
}

/* Collects a failing call's message. */
#define SAW(g, expr)                                              \
	do {                                                      \
		if ((expr) != 0)                                  \
			gw_saw((g), kbp_error_last()->message);  \
	} while (0)

START_TEST(secrets_never_leak)
{
	gw g;
	kbp_intent *e, *k, *in = NULL;
	kbp_khalti_options ko = KBP_KHALTI_OPTIONS_INIT;
	kbp_esewa_options eo = KBP_ESEWA_OPTIONS_INIT;
	char base[128], *cb, *ret, *wrong = write_secret_file("the_wrong_khalti_key_77\n");
	char *bad = write_secret_file("line1\nline2-" KHALTI_SECRET "\n");
	char *good = write_secret_file(KHALTI_SECRET "\n");
	kbp_verification_list *l = NULL;
	cb_fields f;

	gw_open(&g);
	/* Every path: prepare, verify, each answer, forged input, wrong keys, bad config. */
	e = gw_intent(&g, "esewa", 1500, 2);
	k = gw_intent(&g, "khalti", 1500, 2);
	gw_saw(&g, e->redirect);
	gw_saw(&g, k->redirect);
	f = (cb_fields){ "000AWEO", "COMPLETE", "\"30.0\"", e->gateway_ref, PRODUCT_CODE, NULL, NULL };
	cb = esewa_callback(&f);
	ret = NULL;
	ck_assert_int_gt(asprintf(&ret, "pidx=%s&status=Completed", k->gateway_ref), 0);
	for (int a = 0; a < FAKE_ANSWER_COUNT; a++) {
		if (a == FAKE_SLOW)
			continue;   /* covered elsewhere; it only costs time here */
		fake_set_answer(g.fake, e->gateway_ref, (fake_answer)a);
		fake_set_answer(g.fake, k->gateway_ref, (fake_answer)a);
		gw_verify(&g, "esewa", cb, strlen(cb), NULL);
		gw_verify(&g, "khalti", ret, strlen(ret), NULL);
	}
	f.secret = "forged";
	free(cb);
	cb = esewa_callback(&f);
	gw_verify(&g, "esewa", cb, strlen(cb), NULL);

	/* A Khalti configured with the wrong key: 401 on initiate. */
	snprintf(base, sizeof(base), "%s/khalti/api/v2/", fake_url(g.fake));
	ko.name = "khalti-wrong";
	ko.secret_file = wrong;
	ko.base_url = base;
	ko.return_url = "https://shop.example/r";
	ko.timeout_ms = GW_TIMEOUT_MS;
	CK_OK(kbp_gateway_add_khalti(g.p, &ko));
	CK_RC(gw_create(&in, &g, "khalti-wrong", 1500, 2), KBP_EINVAL);
	/* A secret from a file works. */
	ko.name = "khalti-file";
	ko.secret_file = good;
	CK_OK(kbp_gateway_add_khalti(g.p, &ko));
	CK_OK(gw_create(&in, &g, "khalti-file", 1500, 2));
	kbp_intent_free(in);
	/* Secrets that are refused are not quoted in the refusal. */
	ko.name = "khalti-bad";
	ko.secret_file = bad;
	SAW(&g, kbp_gateway_add_khalti(g.p, &ko));
	ck_assert_int_eq(kbp_error_last()->code, KBP_EINVAL);
	ck_assert_int_eq(setenv("KBP_TEST_BAD_SECRET", ESEWA_SECRET "\x01", 1), 0);
	eo.name = "esewa-bad";
	eo.secret_env = "KBP_TEST_BAD_SECRET";
	SAW(&g, kbp_gateway_add_esewa(g.p, &eo));
	ck_assert_int_eq(kbp_error_last()->code, KBP_EINVAL);

	/* The audit rows' reasons. */
	CK_OK(kbp_verification_list_get(&l, g.p, e->id));
	for (size_t i = 0; i < l->n; i++)
		if (l->items[i].reason)
			gw_saw(&g, l->items[i].reason);
	kbp_verification_list_free(l);
	CK_OK(kbp_verification_list_get(&l, g.p, k->id));
	for (size_t i = 0; i < l->n; i++)
		if (l->items[i].reason)
			gw_saw(&g, l->items[i].reason);
	kbp_verification_list_free(l);

	/* The search can fail: it finds a secret planted on purpose. */
	ck_assert_int_gt((int)g.seen_len, 1000);
	ck_assert(!contains(g.seen, g.seen_len, ESEWA_SECRET));
	ck_assert(!contains(g.seen, g.seen_len, KHALTI_SECRET));
	ck_assert(!contains(g.seen, g.seen_len, "the_wrong_khalti_key_77"));
	ck_assert(!contains(g.seen, g.seen_len, "line2-"));
	gw_saw(&g, "planted " KHALTI_SECRET);
	ck_assert(contains(g.seen, g.seen_len, KHALTI_SECRET));

	unlink(wrong);
	unlink(bad);
	unlink(good);
	free(wrong);
	free(bad);
	free(good);
	free(cb);
	free(ret);
	kbp_intent_free(e);
	kbp_intent_free(k);
	gw_close(&g);
}
END_TEST

/* Found in every form of the storage password below, and nowhere else. */
#define PG_PW "S3cr3t-Pw-xyzzy"
#define PG_PW_MARK1 "S3cr3t"
#define PG_PW_MARK2 "xyzzy"

/*
 * Storage URIs with a password: ones libpq cannot parse (and quotes back),
 * ones it parses but cannot reach, with special characters raw and escaped.
 */
static const char *const uris_with_password[] = {
	"postgresql://shop:" PG_PW "@[::1/db",
	"postgresql://shop:" PG_PW "@[]/db",
	"postgresql://shop:" PG_PW "%zz@127.0.0.1:1/db",
	"postgresql://shop:" PG_PW "@127.0.0.1:1/db?x=%zz",
	"postgresql://shop:" PG_PW "@127.0.0.1:1/db",
	"postgres://shop:" PG_PW "@127.0.0.1:1/db?sslmode=bogus",
	"postgresql://shop@127.0.0.1:1/db?password=" PG_PW "&bogus=1",
	"postgresql://shop:S3cr3t/Pw@xyzzy@127.0.0.1:1/db",
	"postgresql://shop:S3cr3t%2FPw%40xyzzy@[::1/db",
	"postgresql://shop:S3cr3t:Pw?xyzzy@127.0.0.1:1/db",
	"host=127.0.0.1 port=1 password=" PG_PW,
	"host=127.0.0.1 port=1 bogus=1 password=" PG_PW,
	"host=127.0.0.1 port=1 password=S3cr3t Pw-xyzzy",
	"host=127.0.0.1 port=1 password='S3cr3t \\'Pw\\' xyzzy' bogus",
	"dbname=postgresql://shop:" PG_PW "@[::1/db",
};

static void saw_log(void *ctx, kbp_log_level level, const char *message)
{
	(void)level;
	gw_saw(ctx, message);
}

/* A build without PostgreSQL refuses every such URI, for that reason alone. */
static int have_postgres(void)
{
	kbp_options o = KBP_OPTIONS_INIT;
	kbp_pipeline *p = NULL;
	int rc;

	o.storage = "host=/nonexistent";
	rc = kbp_pipeline_open(&p, &o);
	kbp_pipeline_close(p);
	return rc != KBP_EINVAL;
}

/* Migrates and opens through uri (both fail, or neither), remembering what is said. */
static void migrate_and_open(gw *g, const char *uri, int fails)
{
	kbp_options o = KBP_OPTIONS_INIT;
	kbp_pipeline *p = NULL;
	int version;

	kbp_error_clear();
	SAW(g, kbp_migrate(&version, uri, NULL));
	ck_assert_msg((kbp_error_last()->code != 0) == fails, "%s: %s", uri, kbp_error_last()->message);
	o.storage = uri;
	o.log = saw_log;
	o.log_ctx = g;
	o.log_level = KBP_LOG_DEBUG;
	kbp_error_clear();
	SAW(g, kbp_pipeline_open(&p, &o));
	ck_assert_msg((kbp_error_last()->code != 0) == fails, "%s: %s", uri, kbp_error_last()->message);
	kbp_pipeline_close(p);
}

static void assert_no_password(const gw *g)
{
	ck_assert_msg(!contains(g->seen, g->seen_len, PG_PW_MARK1) &&
	              !contains(g->seen, g->seen_len, PG_PW_MARK2), "the password leaked:\n%s", g->seen);
}

START_TEST(storage_password_never_leaks)
{
	int postgres = have_postgres();
	gw g = { 0 };

	pthread_mutex_init(&g.lock, NULL);
	for (size_t i = 0; i < sizeof(uris_with_password) / sizeof(uris_with_password[0]); i++) {
		migrate_and_open(&g, uris_with_password[i], 1);
		ck_assert_int_eq(kbp_error_last()->code, postgres ? KBP_ESTORAGE : KBP_EINVAL);
	}
	assert_no_password(&g);
	/* The messages still say what is wrong, and where. */
	ck_assert(!postgres || contains(g.seen, g.seen_len, "IPv6 host address may not be empty in URI: "
	                                       "\"postgresql://shop:***@[]/db\""));
	ck_assert(!postgres || contains(g.seen, g.seen_len, "invalid percent-encoded token: \"%zz\""));
	ck_assert(!postgres || contains(g.seen, g.seen_len, "invalid connection option \"bogus\""));
	ck_assert(!postgres || contains(g.seen, g.seen_len, "port 1 failed"));
	/* The search can fail: it finds a password planted on purpose. */
	gw_saw(&g, "planted " PG_PW);
	ck_assert(contains(g.seen, g.seen_len, PG_PW));
	free(g.seen);
	pthread_mutex_destroy(&g.lock);
}
END_TEST

/* The test server's URI with something appended to its query; the caller frees it. */
static char *pg_uri_with(const char *uri, const char *query)
{
	char *r = NULL;

	ck_assert_int_gt(asprintf(&r, "%s%s%s", uri, strchr(uri, '?') ? "&" : "?", query), 0);
	return r;
}

/* The percent-decoded value of a query parameter of uri (static buffer), "" when absent. */
static const char *query_param(const char *uri, const char *name)
{
	static char value[256];
	const char *q = strchr(uri, '?');
	size_t n = 0, len = strlen(name);

	value[0] = '\0';
	for (const char *p = q; p && *p; p = strchr(p + 1, '&')) {
		if (strncmp(p + 1, name, len) != 0 || p[len + 1] != '=')
			continue;
		for (p += len + 2; *p && *p != '&' && n + 1 < sizeof(value); p++) {
			unsigned int c = (unsigned char)*p;
			if (c == '%' && sscanf(p + 1, "%2x", &c) == 1)
				p += 2;
			value[n++] = (char)c;
		}
		value[n] = '\0';
		break;
	}
	return value;
}

/* The test server's URI as key=value pairs, then password_part; the caller frees it. */
static char *pg_keywords(const char *uri, const char *password_part)
{
	const char *db = strstr(uri, ":///") ? strstr(uri, ":///") + 4 : "";
	char host[256], port[16], *r = NULL;

	snprintf(host, sizeof(host), "%s", query_param(uri, "host"));
	snprintf(port, sizeof(port), "%s", query_param(uri, "port"));
	ck_assert_int_gt(asprintf(&r, "host='%s' port='%s' user='%s' dbname='%.*s' %s", host, port,
	                          query_param(uri, "user"), (int)strcspn(db, "?"), db, password_part),
	                 0);
	return r;
}

/* On PostgreSQL, a working pipeline's URI carries a password too (the test server trusts all). */
START_TEST(storage_password_never_leaks_postgres)
{
	const char *base = getenv("KBP_TEST_PG_URI");
	char *with_pw, *bad_option, *no_db, *kv_good, *kv_spaced, *prometheus = NULL;
	kbp_options o = KBP_OPTIONS_INIT;
	kbp_maintenance_result mr;
	kbp_doctor_report *doctor = NULL;
	kbp_pipeline *p = NULL;
	gw g = { 0 };

	if (!base || !*base) {
		ck_assert_msg(!getenv("KBP_REQUIRE_PG") || strcmp(getenv("KBP_REQUIRE_PG"), "1") != 0,
		              "KBP_REQUIRE_PG=1 requires KBP_TEST_PG_URI");
		return;
	}
	pthread_mutex_init(&g.lock, NULL);
	with_pw = pg_uri_with(base, "password=" PG_PW);
	bad_option = pg_uri_with(base, "password=" PG_PW "&sslmode=bogus");
	no_db = pg_uri_with(base, "password=" PG_PW "&dbname=no_such_db");
	kv_good = pg_keywords(base, "password='" PG_PW "'");
	kv_spaced = pg_keywords(base, "password=S3cr3t Pw-xyzzy");
	migrate_and_open(&g, with_pw, 0);
	migrate_and_open(&g, kv_good, 0);
	migrate_and_open(&g, bad_option, 1);
	migrate_and_open(&g, no_db, 1);
	migrate_and_open(&g, kv_spaced, 1);
	assert_no_password(&g);
	ck_assert(contains(g.seen, g.seen_len, "database \"no_such_db\" does not exist"));
	ck_assert(contains(g.seen, g.seen_len, "missing \"=\" after \"***\""));

	o.storage = with_pw;
	o.log = saw_log;
	o.log_ctx = &g;
	o.log_level = KBP_LOG_DEBUG;
	CK_OK(kbp_pipeline_open(&p, &o));
	CK_OK(kbp_maintenance_run(&mr, p));
	CK_OK(kbp_doctor_run(&doctor, p));
	CK_OK(kbp_metrics_prometheus(&prometheus, p));
	gw_saw(&g, prometheus);
	assert_no_password(&g);
	free(prometheus);
	kbp_doctor_report_free(doctor);
	kbp_pipeline_close(p);
	free(with_pw);
	free(bad_option);
	free(no_db);
	free(kv_good);
	free(kv_spaced);
	free(g.seen);
	pthread_mutex_destroy(&g.lock);
}
END_TEST

Suite *secrets_suite(void)
{
	Suite *s = suite_create("secrets");
	TCase *tc = tcase_create("secrets");

	tcase_set_timeout(tc, 120);
	tcase_add_test(tc, secrets_never_leak);
	suite_add_tcase(s, tc);
	tc = tcase_create("storage");
	tcase_set_timeout(tc, 120);
	tcase_add_test(tc, storage_password_never_leaks);
	tcase_add_test(tc, storage_password_never_leaks_postgres);
	suite_add_tcase(s, tc);
	return s;
}
