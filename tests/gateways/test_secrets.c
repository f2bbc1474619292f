/* SPDX-License-Identifier: MIT */
/* The merchant secrets never reach a log line, an error message or the audit. */
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

Suite *secrets_suite(void)
{
	Suite *s = suite_create("secrets");
	TCase *tc = tcase_create("secrets");

	tcase_set_timeout(tc, 120);
	tcase_add_test(tc, secrets_never_leak);
	suite_add_tcase(s, tc);
	return s;
}
