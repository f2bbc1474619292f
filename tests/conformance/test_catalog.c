/* SPDX-License-Identifier: MIT */
/* Vendors and products: round trips, the vendor rule, stock rules, bad input. */
#include <stdlib.h>
#include <string.h>
#include "fixture.h"

static void assert_no_vendor(fx *f, const char *id)
{
	kbp_vendor *v = (kbp_vendor *)&v;
	CK_RC(kbp_vendor_get(&v, f->p, id), KBP_ENOTFOUND);
	ck_assert_ptr_null(v);
}

static void assert_no_product(fx *f, const char *id)
{
	kbp_product *pr = (kbp_product *)&pr;
	CK_RC(kbp_product_get(&pr, f->p, id), KBP_ENOTFOUND);
	ck_assert_ptr_null(pr);
}

START_TEST(vendor_put_get_and_rename)
{
	fx f;
	kbp_vendor *v = NULL;
	const char *id;

	fx_open(&f);
	id = fx_id(&f, "v");
	CK_OK(kbp_vendor_put(f.p, id, "Kathmandu Crafts"));
	CK_OK(kbp_vendor_get(&v, f.p, id));
	ck_assert_str_eq(v->id, id);
	ck_assert_str_eq(v->name, "Kathmandu Crafts");
	kbp_vendor_free(v);

	CK_OK(kbp_vendor_put(f.p, id, "Pokhara Crafts"));
	CK_OK(kbp_vendor_get(&v, f.p, id));
	ck_assert_str_eq(v->name, "Pokhara Crafts");
	kbp_vendor_free(v);
	assert_no_vendor(&f, fx_id(&f, "never-created"));
	fx_close(&f);
}
END_TEST

START_TEST(vendor_bad_input_writes_nothing)
{
	fx f;
	char *long_id, *max_id, *long_name;
	const char *ok_id;

	fx_open(&f);
	ok_id = fx_id(&f, "v");
	long_id = fx_repeat('a', KBP_ID_MAX + 1);
	max_id = fx_repeat('b', KBP_ID_MAX);
	memcpy(max_id, f.prefix, strlen(f.prefix));
	long_name = fx_repeat('n', KBP_NAME_MAX + 1);

	CK_RC(kbp_vendor_put(NULL, ok_id, "x"), KBP_EINVAL);
	CK_RC(kbp_vendor_put(f.p, NULL, "x"), KBP_EINVAL);
	CK_RC(kbp_vendor_put(f.p, "", "x"), KBP_EINVAL);
	CK_RC(kbp_vendor_put(f.p, "has space", "x"), KBP_EINVAL);
	CK_RC(kbp_vendor_put(f.p, "semi;colon", "x"), KBP_EINVAL);
	CK_RC(kbp_vendor_put(f.p, "x'); DROP TABLE vendors;--", "x"), KBP_EINVAL);
	CK_RC(kbp_vendor_put(f.p, "caf\xc3\xa9", "x"), KBP_EINVAL);
	CK_RC(kbp_vendor_put(f.p, long_id, "x"), KBP_ETOOBIG);

	CK_RC(kbp_vendor_put(f.p, ok_id, NULL), KBP_EINVAL);
	CK_RC(kbp_vendor_put(f.p, ok_id, ""), KBP_EINVAL);
	CK_RC(kbp_vendor_put(f.p, ok_id, "bad \xff utf-8"), KBP_EPARSE);
	CK_RC(kbp_vendor_put(f.p, ok_id, "overlong \xc0\xaf"), KBP_EPARSE);
	CK_RC(kbp_vendor_put(f.p, ok_id, "truncated \xe0\xa4"), KBP_EPARSE);
	CK_RC(kbp_vendor_put(f.p, ok_id, long_name), KBP_ETOOBIG);
	CK_RC(kbp_vendor_put(f.p, ok_id, "line\nbreak"), KBP_EINVAL);
	assert_no_vendor(&f, ok_id);

	/* The boundaries themselves are accepted. */
	long_name[KBP_NAME_MAX] = '\0';
	CK_OK(kbp_vendor_put(f.p, max_id, long_name));
	CK_OK(kbp_vendor_put(f.p, ok_id, "Nep\xc4\x81l \xe0\xa4\xa8\xe0\xa5\x87"));

	free(long_id);
	free(max_id);
	free(long_name);
	fx_close(&f);
}
END_TEST

START_TEST(vendor_get_bad_input)
{
	fx f;
	kbp_vendor *v = (kbp_vendor *)&v;

	fx_open(&f);
	CK_RC(kbp_vendor_get(&v, NULL, "x"), KBP_EINVAL);
	ck_assert_ptr_null(v);
	CK_RC(kbp_vendor_get(NULL, f.p, "x"), KBP_EINVAL);
	CK_RC(kbp_vendor_get(&v, f.p, NULL), KBP_EINVAL);
	CK_RC(kbp_vendor_get(&v, f.p, "bad id"), KBP_EINVAL);
	fx_close(&f);
}
END_TEST

START_TEST(product_round_trip)
{
	fx f;
	kbp_product_spec spec = KBP_PRODUCT_SPEC_INIT;
	kbp_product *pr;
	const char *vendor;

	fx_open(&f);
	vendor = fx_id(&f, "v");
	CK_OK(kbp_vendor_put(f.p, vendor, "V"));
	spec.id = fx_id(&f, "sku");
	spec.vendor_id = vendor;
	spec.name = "Robert'); DROP TABLE products;--";
	spec.price_minor = 12345;
	spec.on_hand = 7;
	CK_OK(kbp_product_put(f.p, &spec));

	pr = fx_product_get(&f, spec.id);
	ck_assert_str_eq(pr->id, spec.id);
	ck_assert_str_eq(pr->vendor_id, vendor);
	ck_assert_str_eq(pr->name, spec.name);
	ck_assert_int_eq(pr->price_minor, 12345);
	ck_assert_str_eq(pr->currency, "NPR");
	ck_assert_int_eq(pr->on_hand, 7);
	ck_assert_int_eq(pr->reserved, 0);
	ck_assert_int_eq(pr->available, 7);
	ck_assert_int_eq(pr->active, 1);
	kbp_product_free(pr);

	spec.currency = "USD";
	spec.price_minor = KBP_PRICE_MAX;
	spec.on_hand = INT64_C(1000000000000);
	spec.active = 0;
	CK_OK(kbp_product_put(f.p, &spec));
	pr = fx_product_get(&f, spec.id);
	ck_assert_str_eq(pr->currency, "USD");
	ck_assert_int_eq(pr->price_minor, KBP_PRICE_MAX);
	ck_assert_int_eq(pr->on_hand, INT64_C(1000000000000));
	ck_assert_int_eq(pr->active, 0);
	kbp_product_free(pr);
	fx_close(&f);
}
END_TEST

/* Text reaches the store and comes back byte for byte, whatever it looks like. */
START_TEST(names_round_trip_unchanged)
{
	static const char *const names[] = {
		"O'Brien's \"quoted\" tea",
		"back\\slash \\x00 \\n not an escape",
		"'; DELETE FROM vendors; --",
		"$1 $$ %s %n {\"json\": true}",
		"\xe0\xa4\x9a\xe0\xa4\xbe\xe0\xa4\xaf \xe2\x80\x94 \xf0\x9f\x8d\xb5 caf\xc3\xa9",
	};
	fx f;

	fx_open(&f);
	for (size_t i = 0; i < sizeof(names) / sizeof(names[0]); i++) {
		const char *vendor = fx_id(&f, "v%zu", i);
		kbp_product_spec spec = KBP_PRODUCT_SPEC_INIT;
		kbp_vendor *v;
		kbp_product *pr;

		CK_OK(kbp_vendor_put(f.p, vendor, names[i]));
		CK_OK(kbp_vendor_get(&v, f.p, vendor));
		ck_assert_str_eq(v->name, names[i]);
		kbp_vendor_free(v);
		spec.id = fx_id(&f, "sku%zu", i);
		spec.vendor_id = vendor;
		spec.name = names[i];
		spec.on_hand = 1;
		CK_OK(kbp_product_put(f.p, &spec));
		pr = fx_product_get(&f, spec.id);
		ck_assert_str_eq(pr->name, names[i]);
		kbp_product_free(pr);
	}
	fx_close(&f);
}
END_TEST

START_TEST(product_needs_existing_vendor)
{
	fx f;
	kbp_product_spec spec = KBP_PRODUCT_SPEC_INIT;

	fx_open(&f);
	spec.id = fx_id(&f, "orphan");
	spec.vendor_id = fx_id(&f, "ghost-vendor");
	spec.name = "Orphan";
	spec.price_minor = 100;
	spec.on_hand = 1;
	CK_RC(kbp_product_put(f.p, &spec), KBP_ENOTFOUND);
	ck_assert_ptr_nonnull(strstr(fx_last_message(), spec.vendor_id));
	assert_no_product(&f, spec.id);
	fx_close(&f);
}
END_TEST

START_TEST(product_bad_input_writes_nothing)
{
	fx f;
	kbp_product_spec good = KBP_PRODUCT_SPEC_INIT, s;
	char *long_id, *long_name;

	fx_open(&f);
	fx_product(&f, "seed", 1, 1); /* creates the test vendor */
	long_id = fx_repeat('s', KBP_ID_MAX + 1);
	long_name = fx_repeat('n', KBP_NAME_MAX + 1);
	good.id = fx_id(&f, "bad-input");
	good.vendor_id = f.vendor;
	good.name = "Thangka";
	good.price_minor = 500;
	good.on_hand = 3;

	CK_RC(kbp_product_put(NULL, &good), KBP_EINVAL);
	CK_RC(kbp_product_put(f.p, NULL), KBP_EINVAL);
#define BAD(field, value, code) do { s = good; s.field = value; CK_RC(kbp_product_put(f.p, &s), code); } while (0)
	BAD(version, 999, KBP_EVERSION);
	BAD(version, 0, KBP_EVERSION);
	BAD(id, NULL, KBP_EINVAL);
	BAD(id, "", KBP_EINVAL);
	BAD(id, "sku with space", KBP_EINVAL);
	BAD(id, "sku'--", KBP_EINVAL);
	BAD(id, long_id, KBP_ETOOBIG);
	BAD(vendor_id, NULL, KBP_EINVAL);
	BAD(vendor_id, "bad/vendor", KBP_EINVAL);
	BAD(name, NULL, KBP_EINVAL);
	BAD(name, "", KBP_EINVAL);
	BAD(name, "\xfe\xff", KBP_EPARSE);
	BAD(name, long_name, KBP_ETOOBIG);
	BAD(price_minor, -1, KBP_EINVAL);
	BAD(price_minor, KBP_PRICE_MAX + 1, KBP_EINVAL);
	BAD(price_minor, INT64_MIN, KBP_EINVAL);
	BAD(price_minor, INT64_MAX, KBP_EINVAL);
	BAD(on_hand, -1, KBP_EINVAL);
	BAD(on_hand, INT64_C(1000000000001), KBP_EINVAL);
	BAD(on_hand, INT64_MAX, KBP_EINVAL);
	BAD(currency, "npr", KBP_EINVAL);
	BAD(currency, "NP", KBP_EINVAL);
	BAD(currency, "NPRS", KBP_EINVAL);
	BAD(currency, "N1R", KBP_EINVAL);
	BAD(currency, "", KBP_EINVAL);
#undef BAD
	assert_no_product(&f, good.id);

	CK_OK(kbp_product_put(f.p, &good));
	free(long_id);
	free(long_name);
	fx_close(&f);
}
END_TEST

START_TEST(product_get_bad_input)
{
	fx f;
	kbp_product *pr = (kbp_product *)&pr;

	fx_open(&f);
	CK_RC(kbp_product_get(&pr, NULL, "x"), KBP_EINVAL);
	ck_assert_ptr_null(pr);
	CK_RC(kbp_product_get(NULL, f.p, "x"), KBP_EINVAL);
	CK_RC(kbp_product_get(&pr, f.p, NULL), KBP_EINVAL);
	CK_RC(kbp_product_get(&pr, f.p, ""), KBP_EINVAL);
	assert_no_product(&f, fx_id(&f, "missing"));
	fx_close(&f);
}
END_TEST

START_TEST(replace_keeps_reserved_and_refuses_to_undercut_it)
{
	fx f;
	kbp_product_spec spec = KBP_PRODUCT_SPEC_INIT;
	kbp_product *pr;
	kbp_intent *in;
	const char *sku;

	fx_open(&f);
	sku = fx_product(&f, "lamp", 2500, 10);
	in = fx_intent(&f, fx_cart(&f, sku, 3));
	ck_assert_int_eq(fx_reserved(&f, sku), 3);

	spec.id = sku;
	spec.vendor_id = f.vendor;
	spec.name = "Brass lamp";
	spec.price_minor = 2600;
	spec.on_hand = 5;
	CK_OK(kbp_product_put(f.p, &spec));
	pr = fx_product_get(&f, sku);
	ck_assert_int_eq(pr->on_hand, 5);
	ck_assert_int_eq(pr->reserved, 3);
	ck_assert_int_eq(pr->available, 2);
	ck_assert_str_eq(pr->name, "Brass lamp");
	kbp_product_free(pr);

	spec.on_hand = 2;
	spec.name = "Should not stick";
	CK_RC(kbp_product_put(f.p, &spec), KBP_ECONFLICT);
	pr = fx_product_get(&f, sku);
	ck_assert_int_eq(pr->on_hand, 5);
	ck_assert_int_eq(pr->reserved, 3);
	ck_assert_str_eq(pr->name, "Brass lamp");
	kbp_product_free(pr);

	spec.on_hand = 3;               /* exactly the reserved units is allowed */
	CK_OK(kbp_product_put(f.p, &spec));
	ck_assert_int_eq(fx_on_hand(&f, sku), 3);
	kbp_intent_free(in);
	fx_close(&f);
}
END_TEST

START_TEST(set_active)
{
	fx f;
	const char *sku;
	kbp_product *pr;

	fx_open(&f);
	sku = fx_product(&f, "bowl", 900, 4);
	CK_OK(kbp_product_set_active(f.p, sku, 0));
	pr = fx_product_get(&f, sku);
	ck_assert_int_eq(pr->active, 0);
	ck_assert_int_eq(pr->on_hand, 4);
	kbp_product_free(pr);
	CK_OK(kbp_product_set_active(f.p, sku, 1));
	pr = fx_product_get(&f, sku);
	ck_assert_int_eq(pr->active, 1);
	kbp_product_free(pr);

	CK_RC(kbp_product_set_active(f.p, fx_id(&f, "missing"), 0), KBP_ENOTFOUND);
	CK_RC(kbp_product_set_active(NULL, sku, 0), KBP_EINVAL);
	CK_RC(kbp_product_set_active(f.p, NULL, 0), KBP_EINVAL);
	CK_RC(kbp_product_set_active(f.p, "bad id", 0), KBP_EINVAL);
	fx_close(&f);
}
END_TEST

void add_catalog_tests(Suite *s)
{
	TCase *tc = fx_tcase("catalog");
	tcase_add_test(tc, vendor_put_get_and_rename);
	tcase_add_test(tc, vendor_bad_input_writes_nothing);
	tcase_add_test(tc, vendor_get_bad_input);
	tcase_add_test(tc, product_round_trip);
	tcase_add_test(tc, names_round_trip_unchanged);
	tcase_add_test(tc, product_needs_existing_vendor);
	tcase_add_test(tc, product_bad_input_writes_nothing);
	tcase_add_test(tc, product_get_bad_input);
	tcase_add_test(tc, replace_keeps_reserved_and_refuses_to_undercut_it);
	tcase_add_test(tc, set_active);
	suite_add_tcase(s, tc);
}
