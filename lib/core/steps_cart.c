/* SPDX-License-Identifier: MIT */
#include <stddef.h>

#include "core/objects.h"
#include "core/records.h"
#include "core/rules.h"

typedef struct cart_step {
	kbp_step step;
	const char *cart_id, *customer_id, *sku;
	int64_t qty;
	kbp_cart *cart;             /* what is written */
} cart_step;

static void reset(kbp_step *st)
{
	cart_step *cs = (cart_step *)st;

	kbp_cart_free(cs->cart);
	cs->cart = NULL;
}

static int decide(kbp_step *st, kbp_facts *f, kbp_changes *c)
{
	cart_step *cs = (cart_step *)st;
	int rc = kbp__rule_cart_change(&cs->cart, f->cart, kbp__facts_product(f, cs->sku),
	                               cs->cart_id, cs->customer_id, cs->sku, cs->qty);

	c->cart = cs->cart;
	return rc;
}

int kbp__rec_cart_set_item(kbp_storage *s, const char *cart_id, const char *customer_id,
                           const char *sku, int64_t qty, int64_t now, int64_t *out_version)
{
	cart_step cs = { { { 0 }, KBP_TXN_WRITE, decide, reset, 0, "", NULL }, cart_id, customer_id,
		         sku, qty, NULL };
	int rc;

	(void)now;
	cs.step.query.cart_id = cart_id;
	cs.step.query.sku = sku;
	rc = kbp__step_run(s, &cs.step);
	if (rc == 0 && out_version)
		*out_version = cs.cart->version;
	kbp_cart_free(cs.cart);
	return rc;
}
