/* SPDX-License-Identifier: MIT */
#ifndef KBP_UTIL_STRINGS_H
#define KBP_UTIL_STRINGS_H

#include <stdbool.h>
#include <stddef.h>

/* strdup that accepts NULL (and returns NULL for it). */
char *kbp_strdup0(const char *s);
/* 1 when the bytes are well-formed UTF-8 (no overlongs, surrogates or code points past U+10FFFF). */
bool kbp_utf8_valid(const char *s, size_t len);
/* The length of the longest well-formed UTF-8 prefix of s[0..len). */
size_t kbp_utf8_valid_prefix(const char *s, size_t len);
/*
 * len, or less when s[0..len) ends inside a multi-byte character: where to
 * cut text that was truncated at a byte count.
 */
size_t kbp_utf8_boundary(const char *s, size_t len);
/* 1 when token is one of the items of a comma-separated list. */
bool kbp_list_has(const char *list, const char *token);
/* NULL-safe equality. */
bool kbp_str_eq(const char *a, const char *b);

#endif
