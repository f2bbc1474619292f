/* SPDX-License-Identifier: MIT */
/* kbp_gateways_load: gateways from a JSON file, and every way such a file can be wrong. */
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "unit.h"

static char path[64];

static const char *write_config(const char *json)
{
	FILE *f;

	snprintf(path, sizeof(path), "/tmp/kbp-config-XXXXXX");
	{
		int fd = mkstemp(path);
		ck_assert_int_ge(fd, 0);
		f = fdopen(fd, "w");
	}
	ck_assert_ptr_nonnull(f);
	fputs(json, f);
	fclose(f);
	return path;
}

static int load(const char *json)
{
	kbp_pipeline *p;
	int rc;

	ck_assert_int_eq(kbp_pipeline_open(&p, NULL), 0);
	rc = kbp_gateways_load(p, write_config(json));
	unlink(path);
	kbp_pipeline_close(p);
	return rc;
}

START_TEST(config_registers_the_gateways_it_names)
{
	kbp_pipeline *p;

	setenv("KBP_UNIT_ESEWA_SECRET", "unit-test-secret-value", 1);
	ck_assert_int_eq(kbp_pipeline_open(&p, NULL), 0);
	ck_assert_int_eq(kbp_gateways_load(p, write_config(
		"{\"sandbox\": {\"name\": \"shop-sandbox\"},"
		" \"esewa\": {\"product_code\": \"EPAYTEST\", \"secret_env\": \"KBP_UNIT_ESEWA_SECRET\","
		"   \"success_url\": \"https://shop.example/ok\", \"failure_url\": \"https://shop.example/no\","
		"   \"production\": false, \"timeout_ms\": 5000}}")), 0);
	unlink(path);
	/* Registered: the same names are now taken. */
	{
		kbp_sandbox_options so = KBP_SANDBOX_OPTIONS_INIT;
		kbp_esewa_options eo = KBP_ESEWA_OPTIONS_INIT;
		so.name = "shop-sandbox";
		ck_assert_int_eq(kbp_gateway_add_sandbox(p, &so), KBP_EEXISTS);
		eo.secret_env = "KBP_UNIT_ESEWA_SECRET";
		eo.success_url = "https://shop.example/ok";
		eo.failure_url = "https://shop.example/no";
		ck_assert_int_eq(kbp_gateway_add_esewa(p, &eo), KBP_EEXISTS);
	}
	kbp_pipeline_close(p);
}
END_TEST

START_TEST(config_errors_are_specific)
{
	kbp_pipeline *p;

	ck_assert_int_eq(kbp_pipeline_open(&p, NULL), 0);
	ck_assert_int_eq(kbp_gateways_load(p, "/nonexistent/kbp.json"), KBP_ENOTFOUND);
	ck_assert_int_eq(kbp_gateways_load(p, NULL), KBP_EINVAL);
	ck_assert_int_eq(kbp_gateways_load(p, ""), KBP_EINVAL);
	ck_assert_int_eq(kbp_gateways_load(NULL, "/tmp/x"), KBP_EINVAL);
	kbp_pipeline_close(p);

	ck_assert_int_eq(load("{\"sandbox\": {"), KBP_EPARSE);
	ck_assert_int_eq(load("[1, 2]"), KBP_EPARSE);
	ck_assert_int_eq(load("{\"sandbox\": {\"name\": \"bad\xff\"}}"), KBP_EPARSE);
	ck_assert_int_eq(load("{\"paypal\": {}}"), KBP_EINVAL);
	ck_assert_int_eq(load("{\"sandbox\": []}"), KBP_EINVAL);
	ck_assert_int_eq(load("{\"sandbox\": {\"nmae\": \"typo\"}}"), KBP_EINVAL);
	ck_assert_ptr_nonnull(strstr(kbp_error_last()->message, "nmae"));
	ck_assert_int_eq(load("{\"sandbox\": {\"name\": 7}}"), KBP_EINVAL);
	ck_assert_int_eq(load("{\"esewa\": {\"production\": \"yes\"}}"), KBP_EINVAL);
	ck_assert_int_eq(load("{\"esewa\": {\"timeout_ms\": -1}}"), KBP_EINVAL);
	ck_assert_int_eq(load("{\"esewa\": {\"timeout_ms\": 1.5}}"), KBP_EINVAL);
	ck_assert_int_eq(load("{\"sandbox\": {\"name\": \"bad name\"}}"), KBP_EINVAL);
}
END_TEST

/* A secret written into the file is refused, and its value is never repeated. */
START_TEST(config_refuses_secrets)
{
	static const char *const keys[] = { "secret", "secret_key", "password", "api_key", "token" };

	for (size_t i = 0; i < sizeof(keys) / sizeof(keys[0]); i++) {
		char json[160];
		snprintf(json, sizeof(json), "{\"khalti\": {\"%s\": \"live_secret_key_Zq81x\"}}", keys[i]);
		ck_assert_int_eq(load(json), KBP_EINVAL);
		ck_assert_ptr_nonnull(strstr(kbp_error_last()->message, "secret_env"));
		ck_assert_ptr_null(strstr(kbp_error_last()->message, "Zq81x"));
	}
}
END_TEST

START_TEST(config_over_64k_is_refused)
{
	size_t n = 70 * 1024;
	char *json = malloc(n + 1);

	ck_assert_ptr_nonnull(json);
	memset(json, ' ', n);
	json[0] = '{';
	json[n - 1] = '}';
	json[n] = '\0';
	ck_assert_int_eq(load(json), KBP_ETOOBIG);
	free(json);
}
END_TEST

void add_config_tests(Suite *s)
{
	TCase *tc = tcase_create("config");

	tcase_add_test(tc, config_registers_the_gateways_it_names);
	tcase_add_test(tc, config_errors_are_specific);
	tcase_add_test(tc, config_refuses_secrets);
	tcase_add_test(tc, config_over_64k_is_refused);
	suite_add_tcase(s, tc);
}
