/* SPDX-License-Identifier: MIT */
/* Carts: versions, ownership, line rules, bad input. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include "fixture.h"

static kbp_cart *cart_get(fx *f, const char *id)
{
	kbp_cart *c = NULL;
	CK_OK(kbp_cart_get(&c, f->p, id));
	ck_assert_ptr_nonnull(c);
	return c;
}

static void assert_no_cart(fx *f, const char *id)
{
	kbp_cart *c = (kbp_cart *)&c;
	CK_RC(kbp_cart_get(&c, f->p, id), KBP_ENOTFOUND);
	ck_assert_ptr_null(c);
}

START_TEST(set_item_creates_sets_and_versions)
{
	fx f;
	const char *a, *b, *cart, *cust;
	int64_t v = 0;
	kbp_cart *c;

	fx_open(&f);
	a = fx_product(&f, "a", 100, 50);
	b = fx_product(&f, "b", 200, 50);
	cart = fx_id(&f, "cart");
	cust = fx_id(&f, "cust");

	CK_OK(kbp_cart_set_item(&v, f.p, cart, cust, b, 5));
	ck_assert_int_eq(v, 1);
	CK_OK(kbp_cart_set_item(&v, f.p, cart, cust, a, 1));
	ck_assert_int_eq(v, 2);
	CK_OK(kbp_cart_set_item(&v, f.p, cart, cust, b, 2)); /* sets, does not add */
	ck_assert_int_eq(v, 3);
	CK_OK(kbp_cart_set_item(NULL, f.p, cart, cust, a, 4));

	c = cart_get(&f, cart);
	ck_assert_str_eq(c->id, cart);
	ck_assert_str_eq(c->customer_id, cust);
	ck_assert_int_eq(c->version, 4);
	ck_assert_uint_eq(c->n_items, 2);
	ck_assert_str_eq(c->items[0].sku, b);   /* insertion order */
	ck_assert_int_eq(c->items[0].qty, 2);
	ck_assert_str_eq(c->items[1].sku, a);
	ck_assert_int_eq(c->items[1].qty, 4);
	kbp_cart_free(c);

	/* A cart does not reserve stock. */
	ck_assert_int_eq(fx_reserved(&f, a), 0);
	fx_close(&f);
}
END_TEST

START_TEST(cart_belongs_to_its_customer)
{
	fx f;
	const char *sku, *cart;
	kbp_cart *c;

	fx_open(&f);
	sku = fx_product(&f, "a", 100, 5);
	cart = fx_cart(&f, sku, 1);
	CK_RC(kbp_cart_set_item(NULL, f.p, cart, fx_id(&f, "intruder"), sku, 3), KBP_ECONFLICT);
	c = cart_get(&f, cart);
	ck_assert_int_eq(c->version, 1);
	ck_assert_uint_eq(c->n_items, 1);
	ck_assert_int_eq(c->items[0].qty, 1);
	ck_assert_str_eq(c->customer_id, fx_customer_of(&f, cart));
	kbp_cart_free(c);
	fx_close(&f);
}
END_TEST

START_TEST(unknown_or_inactive_sku_refused)
{
	fx f;
	const char *sku, *off, *cart, *fresh;
	kbp_cart *c;

	fx_open(&f);
	sku = fx_product(&f, "a", 100, 5);
	off = fx_product(&f, "off", 100, 5);
	CK_OK(kbp_product_set_active(f.p, off, 0));
	cart = fx_cart(&f, sku, 1);
	fresh = fx_id(&f, "fresh-cart");

	CK_RC(kbp_cart_set_item(NULL, f.p, cart, fx_customer_of(&f, cart), fx_id(&f, "ghost"), 1),
	      KBP_ENOTFOUND);
	CK_RC(kbp_cart_set_item(NULL, f.p, cart, fx_customer_of(&f, cart), off, 1), KBP_EINACTIVE);
	c = cart_get(&f, cart);
	ck_assert_int_eq(c->version, 1);
	ck_assert_uint_eq(c->n_items, 1);
	kbp_cart_free(c);

	/* A failed first line does not leave an empty cart behind. */
	CK_RC(kbp_cart_set_item(NULL, f.p, fresh, fx_id(&f, "c"), fx_id(&f, "ghost"), 1), KBP_ENOTFOUND);
	CK_RC(kbp_cart_set_item(NULL, f.p, fresh, fx_id(&f, "c"), off, 1), KBP_EINACTIVE);
	assert_no_cart(&f, fresh);
	fx_close(&f);
}
END_TEST

START_TEST(bad_quantities_and_ids_write_nothing)
{
	fx f;
	const char *sku, *cart, *cust, *fresh;
	char *long_id;
	int64_t v = -7;
	kbp_cart *c;
	const int64_t bad_qty[] = { 0, -1, -1000, KBP_QTY_MAX + 1, INT64_MAX, INT64_MIN };

	fx_open(&f);
	sku = fx_product(&f, "a", 100, KBP_QTY_MAX);
	cart = fx_cart(&f, sku, 1);
	cust = fx_customer_of(&f, cart);
	fresh = fx_id(&f, "fresh");
	long_id = fx_repeat('c', KBP_ID_MAX + 1);

	for (size_t i = 0; i < sizeof bad_qty / sizeof bad_qty[0]; i++) {
		CK_RC(kbp_cart_set_item(&v, f.p, cart, cust, sku, bad_qty[i]), KBP_EINVAL);
		CK_RC(kbp_cart_set_item(NULL, f.p, fresh, cust, sku, bad_qty[i]), KBP_EINVAL);
	}
	CK_RC(kbp_cart_set_item(NULL, NULL, cart, cust, sku, 1), KBP_EINVAL);
	CK_RC(kbp_cart_set_item(NULL, f.p, NULL, cust, sku, 1), KBP_EINVAL);
	CK_RC(kbp_cart_set_item(NULL, f.p, "", cust, sku, 1), KBP_EINVAL);
	CK_RC(kbp_cart_set_item(NULL, f.p, "cart#1", cust, sku, 1), KBP_EINVAL);
	CK_RC(kbp_cart_set_item(NULL, f.p, long_id, cust, sku, 1), KBP_ETOOBIG);
	CK_RC(kbp_cart_set_item(NULL, f.p, cart, NULL, sku, 1), KBP_EINVAL);
	CK_RC(kbp_cart_set_item(NULL, f.p, cart, "cust 1", sku, 1), KBP_EINVAL);
	CK_RC(kbp_cart_set_item(NULL, f.p, cart, long_id, sku, 1), KBP_ETOOBIG);
	CK_RC(kbp_cart_set_item(NULL, f.p, cart, cust, NULL, 1), KBP_EINVAL);
	CK_RC(kbp_cart_set_item(NULL, f.p, cart, cust, "sku\t1", 1), KBP_EINVAL);
	CK_RC(kbp_cart_set_item(NULL, f.p, cart, cust, long_id, 1), KBP_ETOOBIG);

	c = cart_get(&f, cart);
	ck_assert_int_eq(c->version, 1);
	ck_assert_uint_eq(c->n_items, 1);
	ck_assert_int_eq(c->items[0].qty, 1);
	kbp_cart_free(c);
	assert_no_cart(&f, fresh);

	CK_OK(kbp_cart_set_item(&v, f.p, cart, cust, sku, KBP_QTY_MAX));
	ck_assert_int_eq(v, 2);
	free(long_id);
	fx_close(&f);
}
END_TEST

START_TEST(too_many_lines)
{
	fx f;
	const char *cart = NULL, *cust = NULL, *extra;
	kbp_cart *c;

	fx_open(&f);
	for (int i = 0; i < KBP_CART_LINES_MAX; i++) {
		char name[16];
		const char *sku;
		snprintf(name, sizeof name, "p%d", i);
		sku = fx_product(&f, name, 10, 10);
		if (!cart) {
			cart = fx_cart(&f, sku, 1);
			cust = fx_customer_of(&f, cart);
		} else {
			CK_OK(kbp_cart_set_item(NULL, f.p, cart, cust, sku, 1));
		}
	}
	extra = fx_product(&f, "extra", 10, 10);
	CK_RC(kbp_cart_set_item(NULL, f.p, cart, cust, extra, 1), KBP_ETOOBIG);
	c = cart_get(&f, cart);
	ck_assert_uint_eq(c->n_items, KBP_CART_LINES_MAX);
	ck_assert_int_eq(c->version, KBP_CART_LINES_MAX);
	kbp_cart_free(c);
	/* Changing an existing line is still fine. */
	CK_OK(kbp_cart_set_item(NULL, f.p, cart, cust, fx_id(&f, "sku-p0"), 2));
	fx_close(&f);
}
END_TEST

START_TEST(remove_item)
{
	fx f;
	const char *a, *b, *cart, *cust;
	int64_t v = 0;
	kbp_cart *c;

	fx_open(&f);
	a = fx_product(&f, "a", 100, 5);
	b = fx_product(&f, "b", 100, 5);
	cart = fx_cart(&f, a, 1);
	fx_cart_set(&f, cart, b, 2);
	cust = fx_customer_of(&f, cart);

	CK_OK(kbp_cart_remove_item(&v, f.p, cart, cust, a));
	ck_assert_int_eq(v, 3);
	c = cart_get(&f, cart);
	ck_assert_uint_eq(c->n_items, 1);
	ck_assert_str_eq(c->items[0].sku, b);
	kbp_cart_free(c);

	CK_RC(kbp_cart_remove_item(&v, f.p, cart, cust, a), KBP_ENOTFOUND);
	CK_RC(kbp_cart_remove_item(NULL, f.p, fx_id(&f, "nocart"), cust, a), KBP_ENOTFOUND);
	CK_RC(kbp_cart_remove_item(NULL, NULL, cart, cust, b), KBP_EINVAL);
	CK_RC(kbp_cart_remove_item(NULL, f.p, NULL, cust, b), KBP_EINVAL);
	CK_RC(kbp_cart_remove_item(NULL, f.p, cart, cust, "bad sku"), KBP_EINVAL);
	CK_RC(kbp_cart_remove_item(NULL, f.p, cart, NULL, b), KBP_EINVAL);
	CK_RC(kbp_cart_remove_item(NULL, f.p, cart, fx_id(&f, "someone-else"), b), KBP_ECONFLICT);
	c = cart_get(&f, cart);
	ck_assert_int_eq(c->version, 3);
	ck_assert_uint_eq(c->n_items, 1);
	kbp_cart_free(c);

	CK_OK(kbp_cart_remove_item(NULL, f.p, cart, cust, b));
	c = cart_get(&f, cart);
	ck_assert_uint_eq(c->n_items, 0);
	ck_assert_int_eq(c->version, 4);
	kbp_cart_free(c);
	fx_close(&f);
}
END_TEST

START_TEST(cart_get_bad_input)
{
	fx f;
	kbp_cart *c = (kbp_cart *)&c;

	fx_open(&f);
	assert_no_cart(&f, fx_id(&f, "none"));
	CK_RC(kbp_cart_get(&c, NULL, "x"), KBP_EINVAL);
	ck_assert_ptr_null(c);
	CK_RC(kbp_cart_get(NULL, f.p, "x"), KBP_EINVAL);
	CK_RC(kbp_cart_get(&c, f.p, NULL), KBP_EINVAL);
	CK_RC(kbp_cart_get(&c, f.p, "a b"), KBP_EINVAL);
	fx_close(&f);
}
END_TEST

void add_cart_tests(Suite *s)
{
	TCase *tc = fx_tcase("cart");
	tcase_add_test(tc, set_item_creates_sets_and_versions);
	tcase_add_test(tc, cart_belongs_to_its_customer);
	tcase_add_test(tc, unknown_or_inactive_sku_refused);
	tcase_add_test(tc, bad_quantities_and_ids_write_nothing);
	tcase_add_test(tc, too_many_lines);
	tcase_add_test(tc, remove_item);
	tcase_add_test(tc, cart_get_bad_input);
	suite_add_tcase(s, tc);
}
