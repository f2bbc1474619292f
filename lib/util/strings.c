/* SPDX-License-Identifier: MIT */
#include "util/strings.h"

#include <stdint.h>
#include <stdlib.h>
#include <string.h>

char *kbp_strdup0(const char *s)
{
	return s ? strdup(s) : NULL;
}

bool kbp_list_has(const char *list, const char *token)
{
	size_t n = strlen(token);

	for (const char *p = list; (p = strstr(p, token)); p += n)
		if ((p == list || p[-1] == ',') && (p[n] == ',' || p[n] == '\0'))
			return true;
	return false;
}

bool kbp_str_eq(const char *a, const char *b)
{
	if (!a || !b)
		return a == b;
	return strcmp(a, b) == 0;
}

static size_t utf8_sequence_length(unsigned char lead)
{
	if (lead < 0x80)
		return 1;
	if (lead >= 0xC2 && lead <= 0xDF)
		return 2;
	if (lead >= 0xE0 && lead <= 0xEF)
		return 3;
	if (lead >= 0xF0 && lead <= 0xF4)
		return 4;
	return 0;
}

/* The length of the well-formed character at p[0..len), or 0. */
static size_t utf8_char(const unsigned char *p, size_t len)
{
	size_t n = utf8_sequence_length(p[0]);

	if (n == 0 || n > len)
		return 0;
	for (size_t k = 1; k < n; k++)
		if ((p[k] & 0xC0) != 0x80)
			return 0;
	/* The lead byte alone cannot rule out overlongs, surrogates and > U+10FFFF. */
	if ((p[0] == 0xE0 && p[1] < 0xA0) || (p[0] == 0xED && p[1] > 0x9F) ||
	    (p[0] == 0xF0 && p[1] < 0x90) || (p[0] == 0xF4 && p[1] > 0x8F))
		return 0;
	return n;
}

size_t kbp_utf8_valid_prefix(const char *s, size_t len)
{
	const unsigned char *p = (const unsigned char *)s;
	size_t i = 0, n;

	while (i < len && (n = utf8_char(p + i, len - i)) != 0)
		i += n;
	return i;
}

bool kbp_utf8_valid(const char *s, size_t len)
{
	return kbp_utf8_valid_prefix(s, len) == len;
}

size_t kbp_utf8_boundary(const char *s, size_t len)
{
	const unsigned char *p = (const unsigned char *)s;
	size_t lead = len;

	/* A character is at most 4 bytes: at most 3 continuation bytes follow its lead. */
	while (lead > 0 && len - lead < 3 && (p[lead - 1] & 0xC0) == 0x80)
		lead--;
	if (lead == 0 || (p[lead - 1] & 0xC0) != 0xC0)
		return len;
	lead--;
	return lead + utf8_sequence_length(p[lead]) > len ? lead : len;
}
