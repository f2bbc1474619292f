/* SPDX-License-Identifier: MIT */
#ifndef KBP_UTIL_IDS_H
#define KBP_UTIL_IDS_H

#include <stddef.h>

/* Room for the longest generated identifier and its NUL. */
#define KBP_GEN_ID_SIZE 40

/* prefix followed by 20 Crockford base32 characters (100 random bits). */
void kbp_id_generate(char out[KBP_GEN_ID_SIZE], const char *prefix);
/* "ORD-" followed by 12 upper-case Crockford base32 characters (60 random bits). */
void kbp_order_number_generate(char out[KBP_GEN_ID_SIZE]);

#endif
