/* SPDX-License-Identifier: MIT */
#include "core/pipeline_internal.h"
#include "core/validate.h"

int kbp_cart_set_item(int64_t *out_version, kbp_pipeline *p, const char *cart_id,
                      const char *customer_id, const char *sku, int64_t qty)
{
	int rc;

	KBP_CHECK_PIPELINE(p);
	if ((rc = kbp__check_id(cart_id, "cart id")) ||
	    (rc = kbp__check_id(customer_id, "customer id")) || (rc = kbp__check_id(sku, "sku")) ||
	    (rc = kbp__check_qty(qty)))
		return rc;
	return p->storage->cart_set_item(p->storage, cart_id, customer_id, sku, qty,
	                                 kbp_pipeline_now(p), out_version);
}

int kbp_cart_remove_item(int64_t *out_version, kbp_pipeline *p, const char *cart_id,
                         const char *customer_id, const char *sku)
{
	int rc;

	KBP_CHECK_PIPELINE(p);
	if ((rc = kbp__check_id(cart_id, "cart id")) ||
	    (rc = kbp__check_id(customer_id, "customer id")) || (rc = kbp__check_id(sku, "sku")))
		return rc;
	return p->storage->cart_set_item(p->storage, cart_id, customer_id, sku, 0,
	                                 kbp_pipeline_now(p), out_version);
}

int kbp_cart_get(kbp_cart **out, kbp_pipeline *p, const char *cart_id)
{
	int rc;

	KBP_CHECK_OUT(out);
	*out = NULL;
	KBP_CHECK_PIPELINE(p);
	if ((rc = kbp__check_id(cart_id, "cart id")))
		return rc;
	return p->storage->cart_get(p->storage, cart_id, out);
}
