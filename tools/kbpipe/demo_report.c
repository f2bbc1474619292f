/* SPDX-License-Identifier: MIT */
/* kbpipe demo's summary, as text or as JSON (cJSON). */
#include "demo.h"

#include <stdio.h>

#include <cjson/cJSON.h>

static void stages_text(char *buf, size_t len, const shopper *s)
{
	size_t o = 0;

	buf[0] = '\0';
	for (int i = 0; i < s->n_seen && o < len; i++) {
		if (i > 0 && s->seen[i] == s->seen[i - 1])
			continue;
		o += (size_t)snprintf(buf + o, len - o, "%s%s", o ? " → " : "",
		                      kbp_order_stage_name(s->seen[i]));
	}
}

static void print_shopper(const shopper *s)
{
	char stages[128], money[48];

	if (s->lost_race) {
		printf("shopper %-3d —  lost the race for %s (KBP_EOUTOFSTOCK: %s)\n", s->no,
		       demo_products[P_SLOT].id, s->race_message);
		return;
	}
	if (!s->intent_id) {
		printf("shopper %-3d —  ERROR at %s: %s: %s\n", s->no, s->failed_step,
		       kbpipe_code_name(s->error_rc), s->error_message);
		return;
	}
	stages_text(stages, sizeof stages, s);
	printf("shopper %-3d %s  %s", s->no, s->intent_id, stages);
	if (s->final_reason)
		printf(" (%s)", s->final_reason);
	if (s->order_number)
		printf("  %s  %s", s->order_number,
		       kbpipe_money(money, sizeof money, s->amount_minor, "NPR"));
	switch (s->role) {
	case ROLE_RACER:
		printf("  won the slot");
		break;
	case ROLE_DUPLICATE:
		printf("  callback delivered twice: %s", s->dup_rc == 0 && s->dup_flag
		       ? "second was a duplicate" : "SECOND WAS NOT A DUPLICATE");
		break;
	case ROLE_DECLINED:
		printf("  payment declined: no order, stock released");
		break;
	case ROLE_BUYER:
		break;
	}
	if (s->n_seen == 3)
		printf("  (%.1f ms)", s->verify_to_final_ms);
	if (s->failed_step)
		printf("  ERROR at %s: %s: %s", s->failed_step, kbpipe_code_name(s->error_rc),
		       s->error_message);
	putchar('\n');
}

static void totals(const demo *d, int *orders, size_t *items, int64_t *units, int64_t *amount)
{
	*orders = 0;
	*items = 0;
	*units = 0;
	*amount = 0;
	for (int i = 0; i < d->n; i++) {
		const kbp_order *o = d->orders[i];

		if (!o)
			continue;
		++*orders;
		*items += o->n_items;
		*amount += o->total_minor;
		for (size_t k = 0; k < o->n_items; k++)
			*units += o->items[k].qty;
	}
}

void demo_print_text(const demo *d, int failed)
{
	static const char *const intent_names[] = { "pending", "succeeded", "failed", "expired",
	                                            "canceled" };
	char money[48];
	int orders;
	size_t items;
	int64_t units, amount;

	printf("kbpipe demo: %d shoppers, %s storage, sandbox gateway, worker with %d threads\n\n",
	       d->n, kbp_pipeline_storage_name(d->p), DEMO_WORKER_THREADS);
	for (int i = 0; i < d->n; i++)
		print_shopper(&d->shoppers[i]);

	totals(d, &orders, &items, &units, &amount);
	printf("\norders: %d (%zu items, %lld units, %s)\n", orders, items, (long long)units,
	       kbpipe_money(money, sizeof money, amount, "NPR"));
	printf("%-24s %8s %8s %6s %9s\n", "stock", "before", "after", "sold", "reserved");
	for (int i = 0; i < N_PRODUCTS; i++)
		printf("%-24s %8lld %8lld %6lld %9lld\n", demo_products[i].id,
		       (long long)d->before[i]->on_hand, (long long)d->after[i]->on_hand,
		       (long long)d->sold[i], (long long)d->after[i]->reserved);
	printf("jobs:");
	for (int i = 0; i < KBP_JOB_STATE_COUNT; i++)
		printf(" %s %lld", kbp_job_state_name((kbp_job_state)i), (long long)d->m_after.jobs[i]);
	printf("\nintents:");
	for (int i = 0; i < 5; i++)
		printf(" %s %lld", intent_names[i], (long long)d->m_after.intents[i]);
	printf("\nhealth: %s", kbp_health_level_name(d->health->level));
	for (size_t i = 0; i < d->health->n_findings; i++)
		printf("%s %s: %s", i ? ";" : " —", d->health->findings[i].check,
		       d->health->findings[i].message);
	printf("\n\nchecks:\n");
	for (int i = 0; i < d->n_checks; i++)
		printf("  %-6s %s: %s\n", d->checks[i].ok ? "ok" : "FAILED", d->checks[i].name,
		       d->checks[i].detail);
	if (failed)
		printf("\n%d of %d invariants did not hold\n", failed, d->n_checks);
	else
		printf("\nall %d invariants held\n", d->n_checks);
}

static cJSON *json_shopper(const shopper *s)
{
	cJSON *o = cJSON_CreateObject(), *stages = cJSON_AddArrayToObject(o, "stages");

	cJSON_AddNumberToObject(o, "shopper", s->no);
	cJSON_AddStringToObject(o, "role", demo_role_names[s->role]);
	if (s->intent_id)
		cJSON_AddStringToObject(o, "intent", s->intent_id);
	else
		cJSON_AddNullToObject(o, "intent");
	for (int i = 0; i < s->n_seen; i++)
		cJSON_AddItemToArray(stages, cJSON_CreateString(kbp_order_stage_name(s->seen[i])));
	if (s->lost_race)
		cJSON_AddStringToObject(o, "result", "lost the race");
	else if (s->order_number)
		cJSON_AddStringToObject(o, "result", "confirmed");
	else
		cJSON_AddStringToObject(o, "result", s->failed_step ? "error" : "no order");
	if (s->order_number)
		cJSON_AddStringToObject(o, "order_number", s->order_number);
	if (s->final_reason)
		cJSON_AddStringToObject(o, "reason", s->final_reason);
	if (s->intent_id)
		cJSON_AddNumberToObject(o, "amount_minor", (double)s->amount_minor);
	if (s->role == ROLE_DUPLICATE)
		cJSON_AddBoolToObject(o, "second_callback_duplicate", s->dup_rc == 0 && s->dup_flag);
	if (s->n_seen == 3)
		cJSON_AddNumberToObject(o, "verify_to_final_ms",
		                        (double)(int64_t)(s->verify_to_final_ms * 1000) / 1000);
	if (s->failed_step) {
		cJSON *e = cJSON_AddObjectToObject(o, "error");

		cJSON_AddStringToObject(e, "step", s->failed_step);
		cJSON_AddStringToObject(e, "code", kbpipe_code_name(s->error_rc));
		cJSON_AddStringToObject(e, "message", s->error_message);
	}
	return o;
}

int demo_print_json(const demo *d, int failed)
{
	cJSON *root = cJSON_CreateObject(), *a, *o;
	int orders;
	size_t items;
	int64_t units, amount;
	char *text;

	if (!root)
		return kbpipe_fail("out of memory");
	cJSON_AddStringToObject(root, "storage", kbp_pipeline_storage_name(d->p));
	cJSON_AddNumberToObject(root, "worker_threads", DEMO_WORKER_THREADS);
	a = cJSON_AddArrayToObject(root, "shoppers");
	for (int i = 0; i < d->n; i++)
		cJSON_AddItemToArray(a, json_shopper(&d->shoppers[i]));
	totals(d, &orders, &items, &units, &amount);
	cJSON_AddNumberToObject(root, "orders", orders);
	cJSON_AddNumberToObject(root, "order_items", (double)items);
	cJSON_AddNumberToObject(root, "units_sold", (double)units);
	cJSON_AddNumberToObject(root, "amount_minor", (double)amount);
	cJSON_AddStringToObject(root, "currency", "NPR");
	a = cJSON_AddArrayToObject(root, "stock");
	for (int i = 0; i < N_PRODUCTS; i++) {
		o = cJSON_CreateObject();
		cJSON_AddStringToObject(o, "sku", demo_products[i].id);
		cJSON_AddNumberToObject(o, "on_hand_before", (double)d->before[i]->on_hand);
		cJSON_AddNumberToObject(o, "on_hand_after", (double)d->after[i]->on_hand);
		cJSON_AddNumberToObject(o, "sold", (double)d->sold[i]);
		cJSON_AddNumberToObject(o, "reserved_after", (double)d->after[i]->reserved);
		cJSON_AddItemToArray(a, o);
	}
	o = cJSON_AddObjectToObject(root, "jobs");
	for (int i = 0; i < KBP_JOB_STATE_COUNT; i++)
		cJSON_AddNumberToObject(o, kbp_job_state_name((kbp_job_state)i), (double)d->m_after.jobs[i]);
	o = cJSON_AddObjectToObject(root, "health");
	cJSON_AddStringToObject(o, "level", kbp_health_level_name(d->health->level));
	a = cJSON_AddArrayToObject(o, "findings");
	for (size_t i = 0; i < d->health->n_findings; i++) {
		cJSON *f = cJSON_CreateObject();

		cJSON_AddStringToObject(f, "level", kbp_health_level_name(d->health->findings[i].level));
		cJSON_AddStringToObject(f, "check", d->health->findings[i].check);
		cJSON_AddStringToObject(f, "message", d->health->findings[i].message);
		cJSON_AddItemToArray(a, f);
	}
	a = cJSON_AddArrayToObject(root, "checks");
	for (int i = 0; i < d->n_checks; i++) {
		o = cJSON_CreateObject();
		cJSON_AddStringToObject(o, "name", d->checks[i].name);
		cJSON_AddBoolToObject(o, "ok", d->checks[i].ok);
		cJSON_AddStringToObject(o, "detail", d->checks[i].detail);
		cJSON_AddItemToArray(a, o);
	}
	cJSON_AddBoolToObject(root, "ok", failed == 0);
	text = cJSON_Print(root);
	cJSON_Delete(root);
	if (!text)
		return kbpipe_fail("out of memory");
	puts(text);
	cJSON_free(text);
	return 0;
}
