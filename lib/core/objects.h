/* SPDX-License-Identifier: MIT */
#ifndef KBP_CORE_OBJECTS_H
#define KBP_CORE_OBJECTS_H

/*
 * Deep copies and member release of the public structs. Backends return
 * copies of what they hold; the public kbp_…_free() functions release them.
 * A _dup returns NULL when memory runs out; a _clear frees the members only.
 */

#include "kbpipeline.h"
#include "kbpipeline/sys/gateway.h"

kbp_vendor *kbp__vendor_dup(const kbp_vendor *src);
kbp_product *kbp__product_dup(const kbp_product *src);
kbp_cart *kbp__cart_dup(const kbp_cart *src);
kbp_intent *kbp__intent_dup(const kbp_intent *src);
kbp_job *kbp__job_dup(const kbp_job *src);
kbp_order *kbp__order_dup(const kbp_order *src);
kbp_verification *kbp__verification_dup(const kbp_verification *src);

int kbp__job_copy(kbp_job *dst, const kbp_job *src);
int kbp__verification_copy(kbp_verification *dst, const kbp_verification *src);

void kbp__vendor_clear(kbp_vendor *v);
void kbp__product_clear(kbp_product *p);
void kbp__cart_clear(kbp_cart *c);
void kbp__intent_clear(kbp_intent *in);
void kbp__job_clear(kbp_job *j);
void kbp__order_clear(kbp_order *o);
void kbp__verification_clear(kbp_verification *v);
void kbp__order_facts_clear(kbp_order_facts *f);
void kbp__prepared_clear(kbp_prepared *p);
void kbp__claim_clear(kbp_callback_claim *c);
void kbp__lookup_clear(kbp_lookup_result *r);

#endif
