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
