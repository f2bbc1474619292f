/* SPDX-License-Identifier: MIT */
/* Catalog, carts and intents: each operation is one SQL function call. */
#include <stdlib.h>
#include <string.h>

#include "core/objects.h"
#include "storage/postgres/pg_internal.h"

int pg_vendor_put(kbp_storage *s, const char *id, const char *name, int64_t now)
{
	pg_num n = pg_i64(now);
	const char *p[] = { id, name, n.s };

	return pg_call(pg_of(s), ST_VENDOR_PUT, p, 3, NULL);
}

int pg_vendor_get(kbp_storage *s, const char *id, kbp_vendor **out)
{
	const char *p[] = { id };
	cJSON *data;
	int rc = pg_call(pg_of(s), ST_VENDOR_GET, p, 1, &data);

	if (rc == 0 && !(*out = js_vendor(data)))
		rc = pg_oom();
	cJSON_Delete(data);
	return rc;
}

int pg_product_put(kbp_storage *s, const kbp_product_spec *spec, int64_t now)
{
	pg_num price = pg_i64(spec->price_minor), on_hand = pg_i64(spec->on_hand), n = pg_i64(now);
	const char *p[] = { spec->id, spec->vendor_id, spec->name, price.s, spec->currency,
		            on_hand.s, spec->active ? "true" : "false", n.s };

	return pg_call(pg_of(s), ST_PRODUCT_PUT, p, 8, NULL);
}

int pg_product_get(kbp_storage *s, const char *id, kbp_product **out)
{
	const char *p[] = { id };
	cJSON *data;
	int rc = pg_call(pg_of(s), ST_PRODUCT_GET, p, 1, &data);

	if (rc == 0 && !(*out = js_product(data)))
		rc = pg_oom();
	cJSON_Delete(data);
	return rc;
}

int pg_product_set_active(kbp_storage *s, const char *id, int active, int64_t now)
{
	pg_num n = pg_i64(now);
	const char *p[] = { id, active ? "true" : "false", n.s };

	return pg_call(pg_of(s), ST_PRODUCT_SET_ACTIVE, p, 3, NULL);
}

int pg_cart_set_item(kbp_storage *s, const char *cart_id, const char *customer_id,
                     const char *sku, int64_t qty, int64_t now, int64_t *out_version)
{
	pg_num q = pg_i64(qty), n = pg_i64(now);
	const char *p[] = { cart_id, customer_id, sku, q.s, n.s };
	cJSON *data;
	int rc = pg_call(pg_of(s), ST_CART_SET_ITEM, p, 5, &data);

	if (rc == 0 && out_version)
		*out_version = js_i64(data, "version");
	cJSON_Delete(data);
	return rc;
}

int pg_cart_get(kbp_storage *s, const char *cart_id, kbp_cart **out)
{
	const char *p[] = { cart_id };
	cJSON *data;
	int rc = pg_call(pg_of(s), ST_CART_GET, p, 1, &data);

	if (rc == 0 && !(*out = js_cart(data)))
		rc = pg_oom();
	cJSON_Delete(data);
	return rc;
}

/* Intents come back on success and, for an idempotent replay, with KBP_EEXISTS. */
static int intent_answer(int rc, cJSON *data, kbp_intent **out)
{
	if ((rc == 0 || rc == KBP_EEXISTS) && data) {
		kbp_error saved = *kbp_error_last();
		if (!(*out = js_intent(data)))
			rc = pg_oom();
		else if (rc != 0)
			kbp_error_set(saved.code, "%s", saved.message);
	}
	cJSON_Delete(data);
	return rc;
}

int pg_intent_create(kbp_storage *s, const kbp_intent_draft *d, int64_t now, kbp_intent **out)
{
	pg_num exp = pg_i64(d->expires_at), n = pg_i64(now);
	const char *p[] = { d->id, d->cart_id, d->gateway, d->idempotency_key,
		            d->success_url, d->failure_url, exp.s, n.s };
	cJSON *data;
	int rc = pg_call(pg_of(s), ST_INTENT_CREATE, p, 8, &data);

	return intent_answer(rc, data, out);
}

int pg_intent_attach(kbp_storage *s, const char *intent_id, const char *gateway_ref,
                     const char *redirect, int64_t now)
{
	pg_num n = pg_i64(now);
	const char *p[] = { intent_id, gateway_ref, redirect, n.s };

	return pg_call(pg_of(s), ST_INTENT_ATTACH, p, 4, NULL);
}

int pg_intent_get(kbp_storage *s, const char *intent_id, kbp_intent **out)
{
	const char *p[] = { intent_id };
	cJSON *data;
	int rc = pg_call(pg_of(s), ST_INTENT_GET, p, 1, &data);

	return intent_answer(rc, data, out);
}

int pg_intent_cancel(kbp_storage *s, const char *intent_id, const char *reason, int64_t now)
{
	pg_num n = pg_i64(now);
	const char *p[] = { intent_id, reason, n.s };

	return pg_call(pg_of(s), ST_INTENT_CANCEL, p, 3, NULL);
}
