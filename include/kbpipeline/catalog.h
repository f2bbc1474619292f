/* SPDX-License-Identifier: MIT */
#ifndef KBPIPELINE_CATALOG_H
#define KBPIPELINE_CATALOG_H

#include <stdint.h>
#include "pipeline.h"

#ifdef __cplusplus
extern "C" {
#endif

#define KBP_ID_MAX 128          /* bytes in any identifier */
#define KBP_NAME_MAX 256        /* bytes in a display name */
#define KBP_QTY_MAX 1000000     /* units in one cart line */
#define KBP_STOCK_MAX INT64_C(1000000000000)   /* units a product can have on hand */
#define KBP_PRICE_MAX INT64_C(100000000000000) /* minor units */

typedef struct kbp_vendor {
	char *id;
	char *name;
} kbp_vendor;

#define KBP_PRODUCT_SPEC_VERSION 1

typedef struct kbp_product_spec {
	unsigned int version;
	const char *id;             /* the SKU */
	const char *vendor_id;      /* must name an existing vendor */
	const char *name;
	int64_t price_minor;        /* 0 ..= KBP_PRICE_MAX */
	const char *currency;       /* ISO 4217, NULL: "NPR" */
	int64_t on_hand;            /* 0 ..= KBP_STOCK_MAX, and >= the units reserved */
	int active;
} kbp_product_spec;

#define KBP_PRODUCT_SPEC_INIT { KBP_PRODUCT_SPEC_VERSION, NULL, NULL, NULL, 0, NULL, 0, 1 }

typedef struct kbp_product {
	char *id;
	char *vendor_id;
	char *name;
	int64_t price_minor;
	char currency[4];
	int64_t on_hand;
	int64_t reserved;
	int64_t available;          /* on_hand - reserved */
	int active;
} kbp_product;

KBP_EXTERN int kbp_vendor_put(kbp_pipeline *p, const char *id, const char *name);
KBP_EXTERN int kbp_vendor_get(kbp_vendor **out, kbp_pipeline *p, const char *id);
KBP_EXTERN void kbp_vendor_free(kbp_vendor *v);

/* Creates or replaces a product; the reserved count is kept. */
KBP_EXTERN int kbp_product_put(kbp_pipeline *p, const kbp_product_spec *spec);
KBP_EXTERN int kbp_product_get(kbp_product **out, kbp_pipeline *p, const char *id);
KBP_EXTERN int kbp_product_set_active(kbp_pipeline *p, const char *id, int active);
KBP_EXTERN void kbp_product_free(kbp_product *product);

#ifdef __cplusplus
}
#endif
#endif
