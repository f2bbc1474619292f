/* SPDX-License-Identifier: MIT */
/* Metrics (as deltas: the store may be shared), health thresholds, Prometheus text. */
#include <ctype.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include "jobs_util.h"

START_TEST(metrics_follow_the_pipeline)
{
	fx f;
	const char *sku;
	kbp_intent *in, *gone;
	kbp_metrics m0, m1, m2, m3;

	fx_open(&f);
	sku = fx_product(&f, "a", 100, 10);
	fx_metrics(&f, &m0);
	in = fx_intent(&f, fx_cart(&f, sku, 1));
	gone = fx_intent(&f, fx_cart(&f, sku, 1));
	fx_metrics(&f, &m1);
	ck_assert_int_eq(m1.intents[KBP_INTENT_PENDING] - m0.intents[KBP_INTENT_PENDING], 2);

	CK_OK(kbp_intent_cancel(f.p, gone->id));
	fx_pay_ok(&f, in->id);
	fx_metrics(&f, &m2);
	ck_assert_int_eq(m2.intents[KBP_INTENT_PENDING], m0.intents[KBP_INTENT_PENDING]);
	ck_assert_int_eq(m2.intents[KBP_INTENT_SUCCEEDED] - m0.intents[KBP_INTENT_SUCCEEDED], 1);
	ck_assert_int_eq(m2.intents[KBP_INTENT_CANCELED] - m0.intents[KBP_INTENT_CANCELED], 1);
	ck_assert_int_eq(m2.paid_intents_without_order - m0.paid_intents_without_order, 1);
	ck_assert_int_eq(m2.jobs[KBP_JOB_AVAILABLE] - m0.jobs[KBP_JOB_AVAILABLE], 1);
	ck_assert_int_eq(m2.orders, m0.orders);

	fx_advance(&f, 1500);
	fx_drain(&f);
	fx_metrics(&f, &m3);
	ck_assert_int_eq(m3.orders - m0.orders, 1);
	ck_assert_int_eq(m3.paid_intents_without_order, m0.paid_intents_without_order);
	ck_assert_int_eq(m3.jobs[KBP_JOB_COMPLETED] - m0.jobs[KBP_JOB_COMPLETED], 1);
	ck_assert_int_eq(m3.jobs[KBP_JOB_AVAILABLE], m0.jobs[KBP_JOB_AVAILABLE]);
	ck_assert_int_eq(m3.orders_without_items, m0.orders_without_items);
	ck_assert_int_eq(m3.needs_refund, m0.needs_refund);
	ck_assert_int_ge(m3.finalize_p50_ms, 0);
	ck_assert_int_ge(m3.finalize_p95_ms, m3.finalize_p50_ms);
	ck_assert_int_ge(m3.finalize_p99_ms, m3.finalize_p95_ms);
	kbp_intent_free(in);
	kbp_intent_free(gone);
	fx_close(&f);
}
END_TEST

START_TEST(metrics_of_the_queue)
{
	fx f;
	const char *kind;
	counter c = { 0 };
	kbp_enqueue_options eo = KBP_ENQUEUE_OPTIONS_INIT;
	kbp_metrics m0, m1;

	fx_open(&f);
	kind = fx_kind(&f, "m");
	c.fail_first = -1;
	CK_OK(kbp_job_register(f.p, kind, h_count, &c));
	fx_metrics(&f, &m0);
	eo.max_attempts = 1;
	free(enqueue(&f, kind, NULL, &eo));
	free(enqueue(&f, kind, NULL, &eo));
	eo.run_at = fx_now(&f) + 3600000;
	free(enqueue(&f, kind, NULL, &eo));
	fx_advance(&f, 5000);
	fx_metrics(&f, &m1);
	ck_assert_int_eq(m1.jobs[KBP_JOB_AVAILABLE] - m0.jobs[KBP_JOB_AVAILABLE], 3);
	ck_assert_int_ge(m1.oldest_available_age_ms, 5000);

	fx_drain(&f);
	fx_metrics(&f, &m1);
	ck_assert_int_eq(m1.jobs[KBP_JOB_FAILED] - m0.jobs[KBP_JOB_FAILED], 2);
	ck_assert_int_eq(m1.jobs[KBP_JOB_AVAILABLE] - m0.jobs[KBP_JOB_AVAILABLE], 1);
	ck_assert_int_eq(m1.jobs_failed_last_hour - m0.jobs_failed_last_hour, 2);

	/* "Last hour" is measured on the pipeline's clock. */
	fx_advance(&f, 3600000 + 1000);
	fx_metrics(&f, &m1);
	ck_assert_int_le(m1.jobs_failed_last_hour, m0.jobs_failed_last_hour);
	fx_close(&f);
}
END_TEST

/* The finding whose check name contains check_part ('|' separates alternatives). */
static const kbp_health_finding *finding(const kbp_health *h, const char *check_part)
{
	char parts[128], *save = NULL;

	snprintf(parts, sizeof parts, "%s", check_part);
	for (char *part = strtok_r(parts, "|", &save); part; part = strtok_r(NULL, "|", &save))
		for (size_t i = 0; i < h->n_findings; i++)
			if (h->findings[i].check && strstr(h->findings[i].check, part))
				return &h->findings[i];
	return NULL;
}

static kbp_health *health(fx *f, const kbp_health_thresholds *t)
{
	kbp_health *h = NULL;
	kbp_health_level worst = KBP_HEALTH_OK;

	CK_OK(kbp_health_check(&h, f->p, t));
	ck_assert_ptr_nonnull(h);
	for (size_t i = 0; i < h->n_findings; i++) {
		ck_assert_ptr_nonnull(h->findings[i].check);
		ck_assert_ptr_nonnull(h->findings[i].message);
		if (h->findings[i].level > worst)
			worst = h->findings[i].level;
	}
	ck_assert_int_eq(h->level, worst);
	return h;
}

START_TEST(health_flags_stuck_jobs_critical)
{
	fx f;
	kbp_options o;
	const char *kind;
	blocker b;
	runner r[3];
	kbp_health_thresholds t = KBP_HEALTH_THRESHOLDS_INIT;
	kbp_health *h;
	const kbp_health_finding *fd;
	kbp_metrics m0;

	fx_default_options(&f, &o);
	o.job_lease_ms = 1000;
	fx_open_with(&f, &o);
	kind = fx_kind(&f, "stuck");
	blocker_init(&b, 3);
	CK_OK(kbp_job_register(f.p, kind, h_block, &b));
	fx_drain(&f);       /* on a shared store, let no stray due job reach the runners */
	fx_metrics(&f, &m0);
	for (int i = 0; i < 3; i++) {
		char w[16];
		free(enqueue(&f, kind, NULL, NULL));
		snprintf(w, sizeof w, "hung-%d", i);
		runner_start(&r[i], &f, w);
	}
	blocker_wait_started(&b, 3);
	fx_advance(&f, 1001);

	t.stuck_critical = m0.jobs_stuck + 2;          /* 3 more stuck: over */
	h = health(&f, &t);
	ck_assert_int_eq(h->metrics.jobs_stuck - m0.jobs_stuck, 3);
	ck_assert_int_eq(h->level, KBP_HEALTH_CRITICAL);
	fd = finding(h, "stuck");
	ck_assert_ptr_nonnull(fd);
	ck_assert_int_eq(fd->level, KBP_HEALTH_CRITICAL);
	kbp_health_free(h);

	t.stuck_critical = m0.jobs_stuck + 3;          /* exactly at the threshold: fine */
	h = health(&f, &t);
	fd = finding(h, "stuck");
	ck_assert(fd == NULL || fd->level < KBP_HEALTH_CRITICAL);
	kbp_health_free(h);

	blocker_release(&b);
	for (int i = 0; i < 3; i++)
		runner_join(&r[i]);
	fx_close(&f);
}
END_TEST

START_TEST(health_warns_on_failures_and_refunds)
{
	fx f;
	const char *kind, *sku;
	counter c = { 0 };
	kbp_enqueue_options eo = KBP_ENQUEUE_OPTIONS_INIT;
	kbp_health_thresholds t = KBP_HEALTH_THRESHOLDS_INIT;
	kbp_health *h;
	const kbp_health_finding *fd;
	kbp_metrics m0;
	kbp_intent *in;
	kbp_verification *v = NULL;
	char *cb;

	fx_open(&f);
	kind = fx_kind(&f, "fails");
	c.fail_first = -1;
	CK_OK(kbp_job_register(f.p, kind, h_count, &c));
	fx_metrics(&f, &m0);
	t.failed_hour_warning = m0.jobs_failed_last_hour;
	t.stuck_critical = INT64_MAX / 2;
	t.finalize_p95_warning_ms = INT64_MAX / 2;
	h = health(&f, &t);
	fd = finding(h, "fail");
	ck_assert(fd == NULL || fd->level < KBP_HEALTH_WARNING);
	kbp_health_free(h);

	eo.max_attempts = 1;
	free(enqueue(&f, kind, NULL, &eo));
	fx_drain(&f);
	h = health(&f, &t);
	ck_assert_int_ge(h->level, KBP_HEALTH_WARNING);
	fd = finding(h, "fail");
	ck_assert_ptr_nonnull(fd);
	ck_assert_int_eq(fd->level, KBP_HEALTH_WARNING);
	kbp_health_free(h);

	/* Money taken without an order is never silent. */
	sku = fx_product(&f, "a", 100, 5);
	in = fx_intent(&f, fx_cart(&f, sku, 1));
	CK_OK(kbp_intent_cancel(f.p, in->id));
	cb = fx_pay(&f, in->id, KBP_SANDBOX_COMPLETED, -1);
	CK_OK(fx_verify(&v, &f, cb));
	ck_assert_int_eq(v->needs_refund, 1);
	h = health(&f, &t);
	ck_assert_int_ge(h->metrics.needs_refund, 1);
	fd = finding(h, "refund");
	ck_assert_ptr_nonnull(fd);
	ck_assert_int_ge(fd->level, KBP_HEALTH_WARNING);
	kbp_health_free(h);
	kbp_verification_free(v);
	kbp_free(cb);
	kbp_intent_free(in);
	fx_close(&f);
}
END_TEST

START_TEST(health_warns_on_slow_order_creation)
{
	fx f;
	const char *sku;
	kbp_intent *in;
	kbp_health_thresholds t = KBP_HEALTH_THRESHOLDS_INIT;
	kbp_health *h;
	const kbp_health_finding *fd;
	kbp_metrics m;

	fx_open(&f);
	sku = fx_product(&f, "a", 100, 50);
	/* Enough slow orders to dominate the recent window even on a shared store. */
	for (int i = 0; i < 20; i++) {
		kbp_intent_free(fx_paid_intent(&f, sku, 1));
		fx_advance(&f, 20000);
		fx_drain(&f);
	}
	in = fx_paid_intent(&f, sku, 1);
	fx_advance(&f, 20000);
	fx_drain(&f);
	fx_metrics(&f, &m);
	ck_assert_int_ge(m.finalize_p95_ms, 10000);
	t.stuck_critical = INT64_MAX / 2;
	t.failed_hour_warning = INT64_MAX / 2;
	t.finalize_p95_warning_ms = m.finalize_p95_ms - 1;
	h = health(&f, &t);
	fd = finding(h, "finalize|latency|creation");
	ck_assert_ptr_nonnull(fd);
	ck_assert_int_eq(fd->level, KBP_HEALTH_WARNING);
	kbp_health_free(h);
	t.finalize_p95_warning_ms = m.finalize_p95_ms;
	h = health(&f, &t);
	ck_assert_ptr_null(finding(h, "finalize|latency|creation"));
	kbp_health_free(h);
	kbp_intent_free(in);
	fx_close(&f);
}
END_TEST

START_TEST(health_reports_rescues_as_info)
{
	fx f;
	kbp_options o;
	const char *kind;
	blocker b;
	runner r;
	kbp_health *h;
	kbp_metrics m0;
	int has_info = 0;

	fx_default_options(&f, &o);
	o.job_lease_ms = 1000;
	fx_open_with(&f, &o);
	kind = fx_kind(&f, "rescue");
	blocker_init(&b, 1);
	CK_OK(kbp_job_register(f.p, kind, h_block, &b));
	fx_drain(&f);
	fx_metrics(&f, &m0);
	free(enqueue(&f, kind, NULL, NULL));
	runner_start(&r, &f, "hung");
	blocker_wait_started(&b, 1);
	fx_advance(&f, 1001);
	CK_OK(kbp_jobs_rescue(NULL, f.p));
	h = health(&f, NULL);
	ck_assert_int_eq(h->metrics.jobs_rescued_last_hour - m0.jobs_rescued_last_hour, 1);
	for (size_t i = 0; i < h->n_findings; i++)
		has_info |= h->findings[i].level == KBP_HEALTH_INFO;
	ck_assert_msg(has_info, "a rescue in the last hour is an INFO finding");
	ck_assert_int_ge(h->level, KBP_HEALTH_INFO);
	kbp_health_free(h);
	blocker_release(&b);
	runner_join(&r);
	fx_close(&f);
}
END_TEST

START_TEST(health_and_metrics_bad_input)
{
	fx f;
	kbp_health *h = (kbp_health *)&h;
	kbp_health_thresholds t = KBP_HEALTH_THRESHOLDS_INIT;
	kbp_metrics m;
	char *text = (char *)&text;

	fx_open(&f);
	CK_RC(kbp_health_check(&h, NULL, NULL), KBP_EINVAL);
	ck_assert_ptr_null(h);
	CK_RC(kbp_health_check(NULL, f.p, NULL), KBP_EINVAL);
	t.version = 9;
	CK_RC(kbp_health_check(&h, f.p, &t), KBP_EVERSION);
	ck_assert_ptr_null(h);
	CK_RC(kbp_metrics_get(NULL, f.p), KBP_EINVAL);
	CK_RC(kbp_metrics_get(&m, NULL), KBP_EINVAL);
	CK_RC(kbp_metrics_prometheus(&text, NULL), KBP_EINVAL);
	ck_assert_ptr_null(text);
	CK_RC(kbp_metrics_prometheus(NULL, f.p), KBP_EINVAL);
	kbp_health_free(NULL);
	fx_close(&f);
}
END_TEST

static int valid_metric_line(const char *line, size_t len)
{
	size_t i = 0;
	if (len == 0 || !(isalpha((unsigned char)line[0]) || line[0] == '_' || line[0] == ':'))
		return 0;
	while (i < len && (isalnum((unsigned char)line[i]) || line[i] == '_' || line[i] == ':'))
		i++;
	if (i < len && line[i] == '{') {
		while (i < len && line[i] != '}')
			i++;
		if (i == len)
			return 0;
		i++;
	}
	if (i >= len || line[i] != ' ')
		return 0;
	{
		char buf[64], *end;
		size_t n = len - i - 1;
		if (n == 0 || n >= sizeof buf)
			return 0;
		memcpy(buf, line + i + 1, n);
		buf[n] = '\0';
		strtod(buf, &end);
		return *end == '\0' || *end == ' ';
	}
}

START_TEST(prometheus_text_is_well_formed)
{
	fx f;
	char *text = NULL;
	int samples = 0, types = 0;

	fx_open(&f);
	kbp_intent_free(fx_paid_intent(&f, fx_product(&f, "a", 100, 5), 1));
	fx_drain(&f);
	CK_OK(kbp_metrics_prometheus(&text, f.p));
	ck_assert_ptr_nonnull(text);
	for (const char *line = text; *line;) {
		const char *nl = strchr(line, '\n');
		size_t len = nl ? (size_t)(nl - line) : strlen(line);
		if (len > 0 && line[0] == '#') {
			types += strncmp(line, "# TYPE ", 7) == 0;
		} else if (len > 0) {
			ck_assert_msg(valid_metric_line(line, len), "bad exposition line: %.*s", (int)len, line);
			samples++;
		}
		line += len + (nl ? 1 : 0);
	}
	ck_assert_int_gt(types, 0);
	ck_assert_int_ge(samples, 10);
	ck_assert_msg(text[strlen(text) - 1] == '\n', "exposition must end with a newline");
	kbp_free(text);
	fx_close(&f);
}
END_TEST

/* The doctor names what should never happen; a healthy store has nothing but what the test made. */
static const kbp_doctor_check *doctor_check(const kbp_doctor_report *r, const char *name)
{
	for (size_t i = 0; i < r->n_checks; i++)
		if (strcmp(r->checks[i].name, name) == 0)
			return &r->checks[i];
	ck_abort_msg("doctor has no check %s", name);
	return NULL;
}

static int doctor_lists(const kbp_doctor_check *c, const char *id)
{
	for (size_t i = 0; i < c->n_ids; i++)
		if (strcmp(c->ids[i], id) == 0)
			return 1;
	return 0;
}

START_TEST(doctor_reports_paid_without_order_and_refunds)
{
	fx f;
	const char *sku;
	kbp_intent *paid, *canceled;
	kbp_doctor_report *r;
	kbp_verification *v;
	char *cb;

	fx_open(&f);
	sku = fx_product(&f, "a", 1500, 5);
	paid = fx_paid_intent(&f, sku, 1);
	canceled = fx_intent(&f, fx_cart(&f, sku, 1));
	cb = fx_pay(&f, canceled->id, KBP_SANDBOX_COMPLETED, -1);
	CK_OK(kbp_intent_cancel(f.p, canceled->id));
	CK_OK(fx_verify(&v, &f, cb));              /* money for a canceled intent */
	ck_assert_int_eq(v->needs_refund, 1);
	kbp_verification_free(v);

	CK_OK(kbp_doctor_run(&r, f.p));
	ck_assert_uint_eq(r->n_checks, 5);
	ck_assert_int_eq(doctor_check(r, "paid_intents_without_order")->count, 0);  /* still in grace */
	ck_assert(doctor_lists(doctor_check(r, "intents_needing_refund"), canceled->id));
	ck_assert_int_eq(doctor_check(r, "unbalanced_reservations")->count, 0);
	ck_assert_int_eq(doctor_check(r, "orders_without_items")->count, 0);
	ck_assert_int_eq(doctor_check(r, "products_without_vendor")->count, 0);
	ck_assert_int_ge(r->problems, 1);
	kbp_doctor_report_free(r);

	fx_advance(&f, KBP_DOCTOR_PAID_GRACE_MS + 1);
	CK_OK(kbp_doctor_run(&r, f.p));
	ck_assert(doctor_lists(doctor_check(r, "paid_intents_without_order"), paid->id));
	ck_assert_int_eq(doctor_check(r, "unbalanced_reservations")->count, 0);
	kbp_doctor_report_free(r);

	fx_drain(&f);
	CK_OK(kbp_doctor_run(&r, f.p));
	ck_assert(!doctor_lists(doctor_check(r, "paid_intents_without_order"), paid->id));
	ck_assert_int_eq(doctor_check(r, "unbalanced_reservations")->count, 0);
	kbp_doctor_report_free(r);

	r = (kbp_doctor_report *)&r;
	CK_RC(kbp_doctor_run(&r, NULL), KBP_EINVAL);
	ck_assert_ptr_null(r);
	CK_RC(kbp_doctor_run(NULL, f.p), KBP_EINVAL);
	kbp_doctor_report_free(NULL);

	kbp_free(cb);
	kbp_intent_free(paid);
	kbp_intent_free(canceled);
	fx_close(&f);
}
END_TEST

/* The paid_intents_without_order finding: its level, and that its message names the count. */
static void expect_unfinalized(fx *f, const kbp_health_thresholds *t, kbp_health_level level,
                               const char *count)
{
	kbp_health *h = health(f, t);
	const kbp_health_finding *fd = finding(h, "paid_intents_without_order");

	ck_assert_msg(h->level == level, "health is %s, expected %s (first finding: %s)",
	              kbp_health_level_name(h->level), kbp_health_level_name(level),
	              h->n_findings ? h->findings[0].message : "none");
	if (level == KBP_HEALTH_OK) {
		ck_assert_ptr_null(fd);
	} else {
		ck_assert_ptr_nonnull(fd);
		ck_assert_int_eq(fd->level, level);
		ck_assert_msg(strncmp(fd->message, count, strlen(count)) == 0,
		              "\"%s\" does not begin with the count \"%s\"", fd->message, count);
	}
	kbp_health_free(h);
}

START_TEST(health_flags_paid_intents_without_order)
{
	fx f;
	const char *sku;
	kbp_intent *first, *second;
	kbp_health_thresholds t = KBP_HEALTH_THRESHOLDS_INIT;
	kbp_health *h = (kbp_health *)&h;
	kbp_metrics m;

	fx_open(&f);
	sku = fx_product(&f, "a", 100, 5);
	first = fx_paid_intent(&f, sku, 1);        /* its finalize_order job never runs */
	expect_unfinalized(&f, NULL, KBP_HEALTH_OK, "");
	fx_advance(&f, KBP_DOCTOR_PAID_GRACE_MS);
	expect_unfinalized(&f, NULL, KBP_HEALTH_OK, "");
	fx_metrics(&f, &m);
	ck_assert_int_eq(m.paid_intents_without_order, 1);
	ck_assert_int_eq(m.paid_intents_without_order_late, 0);
	ck_assert_int_eq(m.paid_without_order_oldest_ms, KBP_DOCTOR_PAID_GRACE_MS);

	fx_advance(&f, 1);
	expect_unfinalized(&f, NULL, KBP_HEALTH_WARNING, "1 paid intents");
	fx_metrics(&f, &m);
	ck_assert_int_eq(m.paid_intents_without_order_late, 1);

	second = fx_paid_intent(&f, sku, 1);
	fx_advance(&f, 600000 - KBP_DOCTOR_PAID_GRACE_MS - 1);   /* the first was paid 600 s ago */
	expect_unfinalized(&f, NULL, KBP_HEALTH_WARNING, "2 paid intents");
	fx_advance(&f, 1);
	expect_unfinalized(&f, NULL, KBP_HEALTH_CRITICAL, "2 paid intents");
	fx_metrics(&f, &m);
	ck_assert_int_eq(m.paid_intents_without_order, 2);
	ck_assert_int_eq(m.paid_intents_without_order_late, 2);
	ck_assert_int_eq(m.paid_without_order_oldest_ms, 600001);

	/* The critical age is a threshold; a version 1 struct keeps its default. */
	t.paid_without_order_critical_ms = 600001;
	expect_unfinalized(&f, &t, KBP_HEALTH_WARNING, "2 paid intents");
	t.version = 1;
	expect_unfinalized(&f, &t, KBP_HEALTH_CRITICAL, "2 paid intents");
	t.version = KBP_HEALTH_THRESHOLDS_VERSION;
	t.paid_without_order_critical_ms = KBP_DOCTOR_PAID_GRACE_MS - 1;
	CK_RC(kbp_health_check(&h, f.p, &t), KBP_EINVAL);
	ck_assert_ptr_null(h);
	ck_assert_ptr_nonnull(strstr(fx_last_message(), "paid_without_order_critical_ms"));
	t.version = KBP_HEALTH_THRESHOLDS_VERSION + 1;
	h = (kbp_health *)&h;
	CK_RC(kbp_health_check(&h, f.p, &t), KBP_EVERSION);
	ck_assert_ptr_null(h);

	ck_assert_int_eq(fx_drain(&f), 2);
	t = (kbp_health_thresholds)KBP_HEALTH_THRESHOLDS_INIT;
	t.finalize_p95_warning_ms = INT64_MAX / 2;     /* these orders took 10 minutes */
	expect_unfinalized(&f, &t, KBP_HEALTH_OK, "");
	fx_metrics(&f, &m);
	ck_assert_int_eq(m.paid_intents_without_order, 0);
	ck_assert_int_eq(m.paid_intents_without_order_late, 0);
	ck_assert_int_eq(m.paid_without_order_oldest_ms, 0);
	kbp_intent_free(first);
	kbp_intent_free(second);
	fx_close(&f);
}
END_TEST

void add_admin_tests(Suite *s)
{
	TCase *tc = fx_tcase("admin");
	tcase_add_test(tc, metrics_follow_the_pipeline);
	tcase_add_test(tc, metrics_of_the_queue);
	tcase_add_test(tc, health_flags_stuck_jobs_critical);
	tcase_add_test(tc, health_warns_on_failures_and_refunds);
	tcase_add_test(tc, health_warns_on_slow_order_creation);
	tcase_add_test(tc, health_reports_rescues_as_info);
	tcase_add_test(tc, health_and_metrics_bad_input);
	tcase_add_test(tc, prometheus_text_is_well_formed);
	tcase_add_test(tc, doctor_reports_paid_without_order_and_refunds);
	tcase_add_test(tc, health_flags_paid_intents_without_order);
	suite_add_tcase(s, tc);
}
