/* SPDX-License-Identifier: MIT */
/*
 * What only a file has: opening creates and migrates it, kbp_migrate() is
 * idempotent, the data outlives the handle, and a bad URI or file is refused
 * with a clear error and leaves nothing behind. Run by with-sqlite.sh, which
 * names a fresh directory in KBP_TEST_SQLITE_DIR.
 */
#include <check.h>
#include <sodium.h>
#include <sqlite3.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <kbpipeline.h>

static char path[4000], uri[4096];

static void fresh_file(const char *name)
{
	const char *dir = getenv("KBP_TEST_SQLITE_DIR");

	ck_assert_msg(dir && *dir, "KBP_TEST_SQLITE_DIR is not set: run through with-sqlite.sh");
	snprintf(path, sizeof path, "%s/%s", dir, name);
	snprintf(uri, sizeof uri, "sqlite:%s", path);
	unlink(path);
}

static int open_on(kbp_pipeline **p, const char *u)
{
	kbp_options o = KBP_OPTIONS_INIT;

	o.storage = u;
	*p = NULL;
	return kbp_pipeline_open(p, &o);
}

static void refused(const char *u, int code, const char *words)
{
	kbp_pipeline *p = (kbp_pipeline *)1;
	int rc = open_on(&p, u);

	ck_assert_msg(rc == code, "%s: %d (%s), expected %d", u, rc, kbp_error_last()->message, code);
	ck_assert_ptr_null(p);
	ck_assert_msg(strstr(kbp_error_last()->message, words), "%s: message '%s' lacks '%s'", u,
	              kbp_error_last()->message, words);
}

START_TEST(open_creates_and_data_outlives_the_handle)
{
	kbp_pipeline *p;
	kbp_vendor *v = NULL;

	fresh_file("keep.db");
	ck_assert_int_eq(open_on(&p, uri), 0);
	ck_assert_str_eq(kbp_pipeline_storage_name(p), "sqlite");
	ck_assert_int_eq(kbp_vendor_put(p, "v1", "Kept Vendor"), 0);
	kbp_pipeline_close(p);
	ck_assert_int_eq(access(path, F_OK), 0);

	ck_assert_int_eq(open_on(&p, uri), 0);
	ck_assert_int_eq(kbp_vendor_get(&v, p, "v1"), 0);
	ck_assert_str_eq(v->name, "Kept Vendor");
	kbp_vendor_free(v);
	kbp_pipeline_close(p);
}
END_TEST

START_TEST(migrate_twice_is_idempotent)
{
	int first = -1, second = -1;
	kbp_pipeline *p;

	fresh_file("migrate.db");
	ck_assert_int_eq(kbp_migrate(&first, uri, NULL), 0);
	ck_assert_int_ge(first, 1);
	ck_assert_int_eq(kbp_migrate(&second, uri, NULL), 0);
	ck_assert_int_eq(second, first);
	ck_assert_int_eq(open_on(&p, uri), 0);
	kbp_pipeline_close(p);
}
END_TEST

START_TEST(absolute_uri_form_is_the_same_file)
{
	char triple[4096 + 16];
	kbp_pipeline *p;
	kbp_vendor *v = NULL;

	fresh_file("slashes.db");
	ck_assert_int_eq(open_on(&p, uri), 0);
	ck_assert_int_eq(kbp_vendor_put(p, "v2", "Same File"), 0);
	kbp_pipeline_close(p);
	snprintf(triple, sizeof triple, "sqlite://%s", path);
	ck_assert_int_eq(open_on(&p, triple), 0);
	ck_assert_int_eq(kbp_vendor_get(&v, p, "v2"), 0);
	kbp_vendor_free(v);
	kbp_pipeline_close(p);
}
END_TEST

START_TEST(uri_without_a_path_is_refused)
{
	refused("sqlite:", KBP_EINVAL, "names no file");
	refused("sqlite://", KBP_EINVAL, "names no file");
	refused("sqlite::memory:", KBP_EINVAL, "must name a file");
}
END_TEST

START_TEST(directory_is_refused)
{
	const char *dir = getenv("KBP_TEST_SQLITE_DIR");
	char u[4096 + 8];

	ck_assert_ptr_nonnull(dir);
	snprintf(u, sizeof u, "sqlite:%s", dir);
	refused(u, KBP_EINVAL, "is a directory");
}
END_TEST

START_TEST(unwritable_path_is_refused)
{
	refused("sqlite:/nonexistent-kbp-dir/kbp.db", KBP_ESTORAGE, "cannot open the SQLite database");
	/* procfs takes no new file, even from root. */
	refused("sqlite:/proc/kbp-test.db", KBP_ESTORAGE, "cannot open the SQLite database");
	ck_assert_int_ne(access("/proc/kbp-test.db", F_OK), 0);
}
END_TEST

START_TEST(file_that_is_not_sqlite_is_refused_untouched)
{
	const char text[] = "this is a text file, not a database\n";
	char back[sizeof text] = { 0 };
	FILE *f;

	fresh_file("text.db");
	f = fopen(path, "w");
	ck_assert_ptr_nonnull(f);
	for (int i = 0; i < 200; i++)
		fputs(text, f);
	fclose(f);
	refused(uri, KBP_ESTORAGE, "not a SQLite database");
	f = fopen(path, "r");
	ck_assert_ptr_nonnull(f);
	ck_assert_uint_eq(fread(back, 1, sizeof text - 1, f), sizeof text - 1);
	fclose(f);
	ck_assert_str_eq(back, text);
}
END_TEST

START_TEST(newer_schema_is_refused)
{
	sqlite3 *db;

	fresh_file("newer.db");
	ck_assert_int_eq(kbp_migrate(NULL, uri, NULL), 0);
	ck_assert_int_eq(sqlite3_open(path, &db), SQLITE_OK);
	ck_assert_int_eq(sqlite3_exec(db, "INSERT INTO kbp_schema_version (version) VALUES (999)",
	                              NULL, NULL, NULL),
	                 SQLITE_OK);
	sqlite3_close(db);
	refused(uri, KBP_EVERSION, "newer than this library");
	ck_assert_int_eq(kbp_migrate(NULL, uri, NULL), KBP_EVERSION);
}
END_TEST

START_TEST(schema_names_a_file_beside)
{
	kbp_options o = KBP_OPTIONS_INIT;
	char beside[4096 + 16];
	kbp_pipeline *p;
	kbp_vendor *v = NULL;

	fresh_file("base.db");
	o.storage = uri;
	o.storage_schema = "shop2";
	ck_assert_int_eq(kbp_pipeline_open(&p, &o), 0);
	ck_assert_int_eq(kbp_vendor_put(p, "v3", "In shop2"), 0);
	kbp_pipeline_close(p);
	snprintf(beside, sizeof beside, "%s.shop2", path);
	ck_assert_int_eq(access(beside, F_OK), 0);
	ck_assert_int_eq(open_on(&p, uri), 0);
	ck_assert_int_eq(kbp_vendor_get(&v, p, "v3"), KBP_ENOTFOUND);
	kbp_pipeline_close(p);
	o.storage_schema = "bad/name";
	ck_assert_int_eq(kbp_pipeline_open(&p, &o), KBP_EINVAL);
	unlink(beside);
}
END_TEST

static int64_t sql_int(const char *sql, const char *text)
{
	sqlite3_stmt *st = NULL;
	sqlite3 *db;
	int64_t v = -1;

	ck_assert_int_eq(sqlite3_open(path, &db), SQLITE_OK);
	ck_assert_int_eq(sqlite3_prepare_v2(db, sql, -1, &st, NULL), SQLITE_OK);
	sqlite3_bind_text(st, 1, text, -1, SQLITE_STATIC);
	if (sqlite3_step(st) == SQLITE_ROW)
		v = sqlite3_column_int64(st, 0);
	sqlite3_finalize(st);
	sqlite3_close(db);
	return v;
}

/*
 * The audit keeps what the library hands it: a refused callback's SHA-256
 * and its first 256 bytes, under no intent.
 */
START_TEST(rejected_callback_audit_keeps_the_evidence_given)
{
	enum { LEN = 60000 };
	char hex[crypto_hash_sha256_BYTES * 2 + 1];
	unsigned char digest[crypto_hash_sha256_BYTES];
	kbp_verification *v = NULL;
	kbp_pipeline *p;
	char *cb = malloc(LEN);

	ck_assert_ptr_nonnull(cb);
	ck_assert_int_ge(sodium_init(), 0);
	memset(cb, 'A', LEN);
	memcpy(cb, "data=", 5);
	fresh_file("audit.db");
	ck_assert_int_eq(open_on(&p, uri), 0);
	ck_assert_int_eq(kbp_gateway_add_sandbox(p, NULL), 0);
	ck_assert_int_eq(kbp_payment_verify(&v, p, "sandbox", cb, LEN), KBP_EPARSE);
	kbp_verification_free(v);
	kbp_pipeline_close(p);
	crypto_hash_sha256(digest, (const unsigned char *)cb, LEN);
	sodium_bin2hex(hex, sizeof(hex), digest, sizeof(digest));
	ck_assert_int_eq(sql_int("SELECT length(raw) FROM verifications WHERE raw_sha256 = ? "
	                         "AND outcome = 1 AND intent_id IS NULL",
	                         hex),
	                 256);
	free(cb);
}
END_TEST

#define LIVE_KEY_ENTRIES \
	"SELECT coalesce(sum(ncell), 0) FROM dbstat WHERE name = 'jobs_live_unique' AND pagetype = 'leaf'"

/*
 * A file of schema 1 is brought to 2 as it is opened, its jobs kept: the
 * unique index then holds only the live jobs that have a key, and a key
 * still admits one live job.
 */
START_TEST(schema_1_file_is_upgraded_with_its_jobs)
{
	kbp_enqueue_options keyed = KBP_ENQUEUE_OPTIONS_INIT;
	kbp_pipeline *p;
	sqlite3 *db;
	char *first = NULL, *again = NULL;

	fresh_file("upgrade.db");
	keyed.unique_key = "k";
	ck_assert_int_eq(open_on(&p, uri), 0);
	ck_assert_int_eq(kbp_job_enqueue(NULL, p, "plain", "{}", NULL), 0);
	ck_assert_int_eq(kbp_job_enqueue(&first, p, "keyed", "{}", &keyed), 0);
	kbp_pipeline_close(p);
	/* Back to schema 1's job indexes. */
	ck_assert_int_eq(sqlite3_open(path, &db), SQLITE_OK);
	ck_assert_int_eq(sqlite3_exec(db,
	                              "DROP INDEX jobs_failed;"
	                              "CREATE INDEX jobs_finished ON jobs (finished_at) WHERE state >= 2;"
	                              "DROP INDEX jobs_live_unique;"
	                              "CREATE UNIQUE INDEX jobs_live_unique ON jobs (unique_key)"
	                              " WHERE state IN (0, 1);"
	                              "DELETE FROM kbp_schema_version WHERE version > 1;",
	                              NULL, NULL, NULL),
	                 SQLITE_OK);
	sqlite3_close(db);
	ck_assert_int_eq(sql_int(LIVE_KEY_ENTRIES, NULL), 2);

	ck_assert_int_eq(open_on(&p, uri), 0);
	ck_assert_int_eq(kbp_job_enqueue(&again, p, "keyed", "{}", &keyed), KBP_EEXISTS);
	ck_assert_str_eq(again, first);
	kbp_pipeline_close(p);
	ck_assert_int_eq(sql_int("SELECT max(version) FROM kbp_schema_version", NULL), 2);
	ck_assert_int_eq(sql_int("SELECT count(*) FROM jobs", NULL), 2);
	ck_assert_int_eq(sql_int("SELECT count(*) FROM sqlite_master WHERE name = ?", "jobs_finished"),
	                 0);
	ck_assert_int_eq(sql_int(LIVE_KEY_ENTRIES, NULL), 1);
	kbp_free(first);
	kbp_free(again);
}
END_TEST

int main(void)
{
	const TTest *const tests[] = {
		open_creates_and_data_outlives_the_handle, migrate_twice_is_idempotent,
		absolute_uri_form_is_the_same_file,        uri_without_a_path_is_refused,
		directory_is_refused,                      unwritable_path_is_refused,
		file_that_is_not_sqlite_is_refused_untouched, newer_schema_is_refused,
		schema_names_a_file_beside,                rejected_callback_audit_keeps_the_evidence_given,
		schema_1_file_is_upgraded_with_its_jobs,
	};
	Suite *s = suite_create("sqlite");
	TCase *tc = tcase_create("open");
	SRunner *sr;
	int failed;

	tcase_set_timeout(tc, 60);
	for (size_t i = 0; i < sizeof(tests) / sizeof(*tests); i++)
		tcase_add_test(tc, tests[i]);
	suite_add_tcase(s, tc);
	sr = srunner_create(s);
	srunner_run_all(sr, CK_NORMAL);
	failed = srunner_ntests_failed(sr);
	srunner_free(sr);
	return failed ? EXIT_FAILURE : EXIT_SUCCESS;
}
