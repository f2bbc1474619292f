/* SPDX-License-Identifier: MIT */
/* The invariants kbpipe demo checks after its shoppers are done. */
#include "demo.h"

#include <stdarg.h>
#include <stdio.h>
#include <string.h>

KBPIPE_PRINTF(4, 5)
static void add_check(demo *d, const char *name, int ok, const char *fmt, ...)
{
	check *c = &d->checks[d->n_checks++];
	va_list ap;

	c->name = name;
	c->ok = ok;
	va_start(ap, fmt);
	vsnprintf(c->detail, sizeof c->detail, fmt, ap);
	va_end(ap);
}

static shopper *find_role(demo *d, role r, int nth)
{
	for (int i = 0; i < d->n; i++)
		if (d->shoppers[i].role == r && nth-- == 0)
			return &d->shoppers[i];
	return NULL;
}

static void check_flows(demo *d)
{
	for (int i = 0; i < d->n; i++) {
		shopper *s = &d->shoppers[i];

		if (s->failed_step) {
			add_check(d, "every shopper's flow completed", 0,
			          "shopper %d at %s: %s: %s", s->no, s->failed_step,
			          kbpipe_code_name(s->error_rc), s->error_message);
			return;
		}
	}
	add_check(d, "every shopper's flow completed", 1, "%d shoppers, no unexpected error", d->n);
}

static void check_stock(demo *d)
{
	int ok_bounds = d->bound_violations == 0, ok_stock = 1, ok_reserved = 1;
	char bad[200] = "", bad_reserved[200] = "";
	long long units = 0;

	for (int i = 0; i < N_PRODUCTS; i++)
		units += d->sold[i];

	if (ok_bounds)
		add_check(d, "0 <= reserved <= on_hand throughout", 1,
		          "%ld samples of %d products while the shoppers ran", d->samples, N_PRODUCTS);
	else
		add_check(d, "0 <= reserved <= on_hand throughout", 0, "%ld of %ld samples broke it: %s",
		          d->bound_violations, d->samples, d->first_violation);
	for (int i = 0; i < N_PRODUCTS; i++) {
		const kbp_product *b = d->before[i], *a = d->after[i];

		if (a->on_hand != b->on_hand - d->sold[i] && ok_stock) {
			ok_stock = 0;
			snprintf(bad, sizeof bad, "%s: on_hand %lld -> %lld but %lld sold in orders", a->id,
			         (long long)b->on_hand, (long long)a->on_hand, (long long)d->sold[i]);
		}
		if (a->reserved != 0 || a->on_hand < 0) {
			if (ok_reserved)
				snprintf(bad_reserved, sizeof bad_reserved, "%s: reserved %lld of on_hand %lld",
				         a->id, (long long)a->reserved, (long long)a->on_hand);
			ok_reserved = 0;
		}
	}
	if (ok_stock)
		add_check(d, "on_hand_after = on_hand_before - units sold", 1,
		          "%d products, %lld units sold in orders", N_PRODUCTS, (long long)units);
	else
		add_check(d, "on_hand_after = on_hand_before - units sold", 0, "%s", bad);
	add_check(d, "reserved == 0 at the end", ok_reserved, "%s",
	          ok_reserved ? "every reservation was committed or released" : bad_reserved);
}

static void check_orders(demo *d)
{
	int succeeded = 0, orders = 0, ok = 1, items_ok = 1;
	char bad[200] = "", bad_items[200] = "";

	for (int i = 0; i < d->n; i++) {
		const kbp_intent *in = d->intents[i];
		const kbp_order *o = d->orders[i];

		if (!in)
			continue;
		if (in->status == KBP_INTENT_SUCCEEDED)
			succeeded++;
		if (o)
			orders++;
		if ((in->status == KBP_INTENT_SUCCEEDED) != (o != NULL) ||
		    (o && strcmp(o->intent_id, in->id) != 0)) {
			if (ok)
				snprintf(bad, sizeof bad, "intent %s is %s with%s an order", in->id,
				         kbp_intent_status_name(in->status), o ? "" : "out");
			ok = 0;
		}
		for (int j = 0; o && j < i; j++)
			if (d->orders[j] && strcmp(d->orders[j]->order_number, o->order_number) == 0) {
				ok = 0;
				snprintf(bad, sizeof bad, "order number %s given twice", o->order_number);
			}
		if (o) {
			int64_t total = 0;

			for (size_t k = 0; k < o->n_items; k++)
				total += o->items[k].qty * o->items[k].unit_price_minor;
			if ((o->n_items < 1 || total != o->total_minor) && items_ok) {
				items_ok = 0;
				snprintf(bad_items, sizeof bad_items, "%s has %zu items totalling %lld of %lld",
				         o->order_number, o->n_items, (long long)total,
				         (long long)o->total_minor);
			}
		}
	}
	if (ok && d->m_after.orders - d->m_before.orders != orders) {
		ok = 0;
		snprintf(bad, sizeof bad, "the store gained %lld orders for %d paid intents",
		         (long long)(d->m_after.orders - d->m_before.orders), orders);
	}
	if (ok)
		add_check(d, "one order per successful intent", 1,
		          "%d succeeded intents, %d orders, %lld new orders in the store", succeeded,
		          orders, (long long)(d->m_after.orders - d->m_before.orders));
	else
		add_check(d, "one order per successful intent", 0, "%s", bad);
	if (items_ok && d->m_after.orders_without_items != 0) {
		items_ok = 0;
		snprintf(bad_items, sizeof bad_items, "the store reports %lld orders without items",
		         (long long)d->m_after.orders_without_items);
	}
	add_check(d, "every order has >= 1 item", items_ok, "%s",
	          items_ok ? "and its total is the sum of its lines" : bad_items);
}

static void check_slot(demo *d)
{
	shopper *r1 = find_role(d, ROLE_RACER, 0), *r2 = find_role(d, ROLE_RACER, 1);
	const shopper *winner = NULL, *loser = NULL;
	const kbp_product *slot = d->after[P_SLOT];
	int ok;

	if (r1 && r2) {
		winner = r1->lost_race ? r2 : r1;
		loser = r1->lost_race ? r1 : r2;
	}
	ok = winner && loser && loser->lost_race && !winner->lost_race && winner->order_number &&
	     d->sold[P_SLOT] == 1 && slot->on_hand == 0 && slot->reserved == 0;
	if (ok)
		add_check(d, "slot sold exactly once", 1,
		          "shopper %d got %s (%s), shopper %d lost the race with KBP_EOUTOFSTOCK",
		          winner->no, slot->id, winner->order_number, loser->no);
	else
		add_check(d, "slot sold exactly once", 0,
		          "%lld units of %s sold, on_hand %lld; racers lost: %d and %d",
		          (long long)d->sold[P_SLOT], slot->id, (long long)slot->on_hand,
		          r1 ? r1->lost_race : -1, r2 ? r2->lost_race : -1);
}

static void check_duplicate(demo *d)
{
	const shopper *s = find_role(d, ROLE_DUPLICATE, 0);
	int idx = s ? s->no - 1 : 0;
	int ok = s && s->dup_rc == 0 && s->dup_flag && s->dup_same_id && d->orders[idx];

	if (ok)
		add_check(d, "duplicate callback made no second order", 1,
		          "shopper %d: second delivery returned duplicate=1 with verification %s; "
		          "one order %s", s->no, s->verification_id, d->orders[idx]->order_number);
	else
		add_check(d, "duplicate callback made no second order", 0,
		          "second delivery: %s, duplicate=%d, same verification=%d, order=%s",
		          s ? kbpipe_code_name(s->dup_rc) : "?", s ? s->dup_flag : 0,
		          s ? s->dup_same_id : 0,
		          s && d->orders[idx] ? d->orders[idx]->order_number : "none");
}

static void check_declined(demo *d)
{
	const shopper *s = find_role(d, ROLE_DECLINED, 0);
	int idx = s ? s->no - 1 : 0;
	const kbp_intent *in = s ? d->intents[idx] : NULL;
	int ok = s && s->verify_rc == KBP_EDECLINED && in && in->status == KBP_INTENT_FAILED &&
	         !d->orders[idx] && s->n_seen > 0 && s->seen[s->n_seen - 1] == KBP_STAGE_FAILED;

	add_check(d, "declined shopper has no order", ok,
	          "shopper %d: verify %s, intent %s (%s), final stage %s, %s", s ? s->no : 0,
	          s ? kbpipe_code_name(s->verify_rc) : "?",
	          in ? kbp_intent_status_name(in->status) : "missing",
	          in && in->status_reason ? in->status_reason : "-",
	          s && s->n_seen ? kbp_order_stage_name(s->seen[s->n_seen - 1]) : "none",
	          s && d->orders[idx] ? "HAS AN ORDER" : "no order");
}

static void check_stages(demo *d)
{
	for (int i = 0; i < d->n; i++) {
		const shopper *s = &d->shoppers[i];
		kbp_order_stage want = s->role == ROLE_DECLINED ? KBP_STAGE_FAILED : KBP_STAGE_CONFIRMED;

		if (s->lost_race || s->failed_step)
			continue;
		if (s->n_seen != 3 || s->seen[0] != KBP_STAGE_VERIFYING || s->seen[2] != want ||
		    s->seen[1] == KBP_STAGE_VERIFYING || s->seen[1] > s->seen[2] || (s->seen[2] == KBP_STAGE_CONFIRMED && !s->order_number)) {
			add_check(d, "stages move verifying -> processing -> confirmed/failed", 0,
			          "shopper %d saw %s, %s, %s", s->no,
			          kbp_order_stage_name(s->seen[0]),
			          s->n_seen > 1 ? kbp_order_stage_name(s->seen[1]) : "-",
			          s->n_seen > 2 ? kbp_order_stage_name(s->seen[2]) : "-");
			return;
		}
	}
	add_check(d, "stages move verifying -> processing -> confirmed/failed", 1,
	          "every paying shopper saw verifying first and ended confirmed, the declined one failed");
}

static void check_health(demo *d)
{
	add_check(d, "health not critical", d->health->level < KBP_HEALTH_CRITICAL, "level %s, %zu findings",
	          kbp_health_level_name(d->health->level), d->health->n_findings);
}

int demo_run_checks(demo *d)
{
	int failed = 0;

	check_flows(d);
	check_stock(d);
	check_orders(d);
	check_slot(d);
	check_duplicate(d);
	check_declined(d);
	check_stages(d);
	check_health(d);
	for (int i = 0; i < d->n_checks; i++)
		failed += !d->checks[i].ok;
	return failed;
}
