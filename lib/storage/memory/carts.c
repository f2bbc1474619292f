/* SPDX-License-Identifier: MIT */
#include <stdlib.h>
#include <string.h>

#include "core/objects.h"
#include "storage/memory/memory_internal.h"

void mem_cart_free(mem_cart *c)
{
	if (!c)
		return;
	kbp__cart_clear(&c->pub);
	free(c);
}

static mem_cart *cart_new(const char *id, const char *customer_id)
{
	mem_cart *c = calloc(1, sizeof(*c));

	if (!c)
		return NULL;
	c->pub.id = strdup(id);
	c->pub.customer_id = strdup(customer_id);
	if (!c->pub.id || !c->pub.customer_id) {
		mem_cart_free(c);
		return NULL;
	}
	return c;
}

static kbp_cart_item *find_line(mem_cart *c, const char *sku)
{
	for (size_t i = 0; i < c->pub.n_items; i++)
		if (strcmp(c->pub.items[i].sku, sku) == 0)
			return &c->pub.items[i];
	return NULL;
}

static void remove_line(mem_cart *c, kbp_cart_item *line)
{
	size_t i = (size_t)(line - c->pub.items);

	free(line->sku);
	memmove(line, line + 1, (c->pub.n_items - i - 1) * sizeof(*line));
	c->pub.n_items--;
}

static int add_line(mem_cart *c, const char *sku, int64_t qty)
{
	char *copy;

	if (c->pub.n_items == KBP_CART_LINES_MAX)
		return kbp_error_set(KBP_ETOOBIG, "a cart holds at most %d lines", KBP_CART_LINES_MAX);
	if (c->pub.n_items == c->cap) {
		size_t cap = c->cap ? c->cap * 2 : 4;
		kbp_cart_item *items = realloc(c->pub.items, cap * sizeof(*items));
		if (!items)
			return kbp_error_set(KBP_ENOMEM, "out of memory");
		c->pub.items = items;
		c->cap = cap;
	}
	if (!(copy = strdup(sku)))
		return kbp_error_set(KBP_ENOMEM, "out of memory");
	c->pub.items[c->pub.n_items++] = (kbp_cart_item){ copy, qty };
	return 0;
}

static int check_sku(mem_store *m, const char *sku)
{
	kbp_product *p = kbp_hmap_get(&m->products, sku);

	if (!p)
		return kbp_error_set(KBP_ENOTFOUND, "product '%s' does not exist", sku);
	if (!p->active)
		return kbp_error_set(KBP_EINACTIVE, "product '%s' is not active", sku);
	return 0;
}

/* With the lock held: the customer's cart to change, created when adding to a new one. */
static int cart_for_change(mem_store *m, const char *cart_id, const char *customer_id,
                           int64_t qty, mem_cart **out)
{
	mem_cart *c = kbp_hmap_get(&m->carts, cart_id);

	if (c) {
		if (strcmp(c->pub.customer_id, customer_id) != 0)
			return kbp_error_set(KBP_ECONFLICT, "cart '%s' belongs to another customer",
			                     cart_id);
		*out = c;
		return 0;
	}
	if (qty == 0)
		return kbp_error_set(KBP_ENOTFOUND, "cart '%s' does not exist", cart_id);
	c = cart_new(cart_id, customer_id);
	if (!c || kbp_hmap_put(&m->carts, c->pub.id, c) != 0) {
		mem_cart_free(c);
		return kbp_error_set(KBP_ENOMEM, "out of memory");
	}
	*out = c;
	return 0;
}

static int apply_change(mem_store *m, mem_cart *c, const char *sku, int64_t qty)
{
	kbp_cart_item *line = find_line(c, sku);
	int rc;

	if (qty == 0) {
		if (!line)
			return kbp_error_set(KBP_ENOTFOUND, "'%s' is not in cart '%s'", sku, c->pub.id);
		remove_line(c, line);
		return 0;
	}
	if ((rc = check_sku(m, sku)))
		return rc;
	if (line) {
		line->qty = qty;
		return 0;
	}
	return add_line(c, sku, qty);
}

int mem_cart_set_item(kbp_storage *s, const char *cart_id, const char *customer_id,
                      const char *sku, int64_t qty, int64_t now, int64_t *out_version)
{
	mem_store *m = mem_of(s);
	mem_cart *c = NULL;
	int rc;

	(void)now;
	pthread_mutex_lock(&m->lock);
	/* Check the product before creating a cart, so a refused first line leaves no cart. */
	rc = qty ? check_sku(m, sku) : 0;
	if (rc == 0)
		rc = cart_for_change(m, cart_id, customer_id, qty, &c);
	if (rc == 0)
		rc = apply_change(m, c, sku, qty);
	if (rc == 0) {
		c->pub.version++;
		if (out_version)
			*out_version = c->pub.version;
	}
	pthread_mutex_unlock(&m->lock);
	return rc;
}

int mem_cart_get(kbp_storage *s, const char *cart_id, kbp_cart **out)
{
	mem_store *m = mem_of(s);
	mem_cart *c;
	int rc = 0;

	pthread_mutex_lock(&m->lock);
	c = kbp_hmap_get(&m->carts, cart_id);
	if (!c)
		rc = kbp_error_set(KBP_ENOTFOUND, "cart '%s' does not exist", cart_id);
	else if (!(*out = kbp__cart_dup(&c->pub)))
		rc = kbp_error_set(KBP_ENOMEM, "out of memory");
	pthread_mutex_unlock(&m->lock);
	return rc;
}
