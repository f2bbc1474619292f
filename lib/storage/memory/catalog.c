/* SPDX-License-Identifier: MIT */
#include <stdlib.h>
#include <string.h>

#include "core/objects.h"
#include "storage/memory/memory_internal.h"

int mem_vendor_put(kbp_storage *s, const char *id, const char *name, int64_t now)
{
	mem_store *m = mem_of(s);
	kbp_vendor *v;
	char *copy = strdup(name);
	int rc = 0;

	(void)now;
	if (!copy)
		return kbp_error_set(KBP_ENOMEM, "out of memory");
	pthread_mutex_lock(&m->lock);
	v = kbp_hmap_get(&m->vendors, id);
	if (v) {
		free(v->name);
		v->name = copy;
	} else if (!(v = calloc(1, sizeof(*v))) || !(v->id = strdup(id)) ||
	           kbp_hmap_put(&m->vendors, v->id, v) != 0) {
		if (v)
			free(v->id);
		free(v);
		free(copy);
		rc = kbp_error_set(KBP_ENOMEM, "out of memory");
	} else {
		v->name = copy;
	}
	pthread_mutex_unlock(&m->lock);
	return rc;
}

int mem_vendor_get(kbp_storage *s, const char *id, kbp_vendor **out)
{
	mem_store *m = mem_of(s);
	kbp_vendor *v;
	int rc = 0;

	pthread_mutex_lock(&m->lock);
	v = kbp_hmap_get(&m->vendors, id);
	if (!v)
		rc = kbp_error_set(KBP_ENOTFOUND, "vendor '%s' does not exist", id);
	else if (!(*out = kbp__vendor_dup(v)))
		rc = kbp_error_set(KBP_ENOMEM, "out of memory");
	pthread_mutex_unlock(&m->lock);
	return rc;
}

static kbp_product *product_new(const kbp_product_spec *spec)
{
	kbp_product *p = calloc(1, sizeof(*p));

	if (!p)
		return NULL;
	p->id = strdup(spec->id);
	if (!p->id) {
		free(p);
		return NULL;
	}
	return p;
}

static void product_apply(kbp_product *p, const kbp_product_spec *spec, char *vendor_id,
                          char *name)
{
	free(p->vendor_id);
	free(p->name);
	p->vendor_id = vendor_id;
	p->name = name;
	p->price_minor = spec->price_minor;
	memcpy(p->currency, spec->currency, 4);
	p->on_hand = spec->on_hand;
	p->active = spec->active;
}

int mem_product_put(kbp_storage *s, const kbp_product_spec *spec, int64_t now)
{
	mem_store *m = mem_of(s);
	kbp_product *p, *fresh = product_new(spec);
	char *vendor_id = strdup(spec->vendor_id), *name = strdup(spec->name);
	int rc = 0;

	(void)now;
	if (!fresh || !vendor_id || !name) {
		kbp_product_free(fresh);
		free(vendor_id);
		free(name);
		return kbp_error_set(KBP_ENOMEM, "out of memory");
	}
	pthread_mutex_lock(&m->lock);
	p = kbp_hmap_get(&m->products, spec->id);
	if (!kbp_hmap_get(&m->vendors, spec->vendor_id))
		rc = kbp_error_set(KBP_ENOTFOUND, "vendor '%s' does not exist", spec->vendor_id);
	else if (p && spec->on_hand < p->reserved)
		rc = kbp_error_set(KBP_ECONFLICT,
		                   "on_hand %lld is below the %lld units reserved for '%s'",
		                   (long long)spec->on_hand, (long long)p->reserved, spec->id);
	else if (!p && kbp_hmap_put(&m->products, fresh->id, fresh) != 0)
		rc = kbp_error_set(KBP_ENOMEM, "out of memory");
	if (rc == 0) {
		if (!p) {
			p = fresh;
			fresh = NULL;
		}
		product_apply(p, spec, vendor_id, name);
		vendor_id = name = NULL;
	}
	pthread_mutex_unlock(&m->lock);
	kbp_product_free(fresh);
	free(vendor_id);
	free(name);
	return rc;
}

int mem_product_get(kbp_storage *s, const char *id, kbp_product **out)
{
	mem_store *m = mem_of(s);
	kbp_product *p;
	int rc = 0;

	pthread_mutex_lock(&m->lock);
	p = kbp_hmap_get(&m->products, id);
	if (!p)
		rc = kbp_error_set(KBP_ENOTFOUND, "product '%s' does not exist", id);
	else if (!(*out = kbp__product_dup(p)))
		rc = kbp_error_set(KBP_ENOMEM, "out of memory");
	else
		(*out)->available = p->on_hand - p->reserved;
	pthread_mutex_unlock(&m->lock);
	return rc;
}

int mem_product_set_active(kbp_storage *s, const char *id, int active, int64_t now)
{
	mem_store *m = mem_of(s);
	kbp_product *p;
	int rc = 0;

	(void)now;
	pthread_mutex_lock(&m->lock);
	p = kbp_hmap_get(&m->products, id);
	if (!p)
		rc = kbp_error_set(KBP_ENOTFOUND, "product '%s' does not exist", id);
	else
		p->active = active;
	pthread_mutex_unlock(&m->lock);
	return rc;
}
