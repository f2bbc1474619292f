/* SPDX-License-Identifier: MIT */
#ifndef KBPIPELINE_CART_H
#define KBPIPELINE_CART_H

#include <stddef.h>
#include <stdint.h>
#include "pipeline.h"

#ifdef __cplusplus
extern "C" {
#endif

#define KBP_CART_LINES_MAX 100

typedef struct kbp_cart_item {
	char *sku;
	int64_t qty;
} kbp_cart_item;

typedef struct kbp_cart {
	char *id;
	char *customer_id;
	int64_t version;            /* incremented by every change */
	size_t n_items;
	kbp_cart_item *items;
} kbp_cart;

/*
 * Sets the quantity of one line, creating the cart on first use. The cart
 * belongs to the customer who created it. out_version may be NULL.
 */
KBP_EXTERN int kbp_cart_set_item(int64_t *out_version, kbp_pipeline *p, const char *cart_id,
                                 const char *customer_id, const char *sku, int64_t qty);
/* Removes one line; only the customer who owns the cart may. */
KBP_EXTERN int kbp_cart_remove_item(int64_t *out_version, kbp_pipeline *p, const char *cart_id,
                                    const char *customer_id, const char *sku);
KBP_EXTERN int kbp_cart_get(kbp_cart **out, kbp_pipeline *p, const char *cart_id);
KBP_EXTERN void kbp_cart_free(kbp_cart *cart);

#ifdef __cplusplus
}
#endif
#endif
