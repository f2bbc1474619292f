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

bool kbp_utf8_valid(const char *s, size_t len)
{
	const unsigned char *p = (const unsigned char *)s;
	size_t i = 0;

	while (i < len) {
		size_t n = utf8_sequence_length(p[i]);
		if (n == 0 || i + n > len)
			return false;
		for (size_t k = 1; k < n; k++)
			if ((p[i + k] & 0xC0) != 0x80)
				return false;
		/* The lead byte alone cannot rule out overlongs, surrogates and > U+10FFFF. */
		if ((p[i] == 0xE0 && p[i + 1] < 0xA0) || (p[i] == 0xED && p[i + 1] > 0x9F) ||
		    (p[i] == 0xF0 && p[i + 1] < 0x90) || (p[i] == 0xF4 && p[i + 1] > 0x8F))
			return false;
		i += n;
	}
	return true;
}
