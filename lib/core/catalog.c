/* SPDX-License-Identifier: MIT */
#include "core/pipeline_internal.h"
#include "core/validate.h"

int kbp_vendor_put(kbp_pipeline *p, const char *id, const char *name)
{
	int rc;

	KBP_CHECK_PIPELINE(p);
	if ((rc = kbp__check_id(id, "vendor id")) || (rc = kbp__check_name(name, "vendor name")))
		return rc;
	return p->storage->vendor_put(p->storage, id, name, kbp_pipeline_now(p));
}

int kbp_vendor_get(kbp_vendor **out, kbp_pipeline *p, const char *id)
{
	int rc;

	KBP_CHECK_OUT(out);
	*out = NULL;
	KBP_CHECK_PIPELINE(p);
	if ((rc = kbp__check_id(id, "vendor id")))
		return rc;
	return p->storage->vendor_get(p->storage, id, out);
}

int kbp_product_put(kbp_pipeline *p, const kbp_product_spec *spec)
{
	kbp_product_spec s;
	int rc;

	KBP_CHECK_PIPELINE(p);
	if (!spec)
		return kbp_error_set(KBP_EINVAL, "product spec is NULL");
	if ((rc = kbp__check_version(spec->version, KBP_PRODUCT_SPEC_VERSION, "kbp_product_spec")) ||
	    (rc = kbp__check_id(spec->id, "sku")) ||
	    (rc = kbp__check_id(spec->vendor_id, "vendor id")) ||
	    (rc = kbp__check_name(spec->name, "product name")) ||
	    (rc = kbp__check_range(spec->price_minor, 0, KBP_PRICE_MAX, "price_minor")) ||
	    (rc = kbp__check_currency(spec->currency)) ||
	    (rc = kbp__check_range(spec->on_hand, 0, KBP_STOCK_MAX, "on_hand")))
		return rc;
	s = *spec;
	if (!s.currency)
		s.currency = "NPR";
	s.active = s.active != 0;
	return p->storage->product_put(p->storage, &s, kbp_pipeline_now(p));
}

int kbp_product_get(kbp_product **out, kbp_pipeline *p, const char *id)
{
	int rc;

	KBP_CHECK_OUT(out);
	*out = NULL;
	KBP_CHECK_PIPELINE(p);
	if ((rc = kbp__check_id(id, "sku")))
		return rc;
	return p->storage->product_get(p->storage, id, out);
}

int kbp_product_set_active(kbp_pipeline *p, const char *id, int active)
{
	int rc;

	KBP_CHECK_PIPELINE(p);
	if ((rc = kbp__check_id(id, "sku")))
		return rc;
	return p->storage->product_set_active(p->storage, id, active != 0, kbp_pipeline_now(p));
}
