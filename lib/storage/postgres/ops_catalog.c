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
