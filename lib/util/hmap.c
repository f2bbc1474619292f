/* SPDX-License-Identifier: MIT */
#include "util/hmap.h"

#include <sodium.h>
#include <stdlib.h>
#include <string.h>

static const char tombstone_mark;
#define TOMBSTONE (&tombstone_mark)

static uint64_t hash_key(const kbp_hmap *m, const char *key)
{
	uint64_t h;

	crypto_shorthash((unsigned char *)&h, (const unsigned char *)key, strlen(key), m->sip_key);
	return h;
}

void kbp_hmap_init(kbp_hmap *m)
{
	memset(m, 0, sizeof(*m));
	crypto_shorthash_keygen(m->sip_key);
}

void kbp_hmap_clear(kbp_hmap *m)
{
	free(m->slots);
	m->slots = NULL;
	m->cap = m->used = m->filled = 0;
}

static kbp_hmap_slot *find(const kbp_hmap *m, const char *key, uint64_t h)
{
	if (m->cap == 0)
		return NULL;
	for (size_t i = h & (m->cap - 1);; i = (i + 1) & (m->cap - 1)) {
		kbp_hmap_slot *s = &m->slots[i];
		if (!s->key)
			return NULL;
		if (s->key != TOMBSTONE && s->hash == h && strcmp(s->key, key) == 0)
			return s;
	}
}

static void place(kbp_hmap_slot *slots, size_t cap, const char *key, void *value, uint64_t h)
{
	size_t i = h & (cap - 1);

	while (slots[i].key)
		i = (i + 1) & (cap - 1);
	slots[i] = (kbp_hmap_slot){ key, value, h };
}

static int grow(kbp_hmap *m)
{
	size_t cap = m->cap ? m->cap : 16;
	kbp_hmap_slot *slots;

	/* Rehash in place of tombstones when they, not live entries, filled the table. */
	while (m->used * 2 >= cap)
		cap *= 2;
	slots = calloc(cap, sizeof(*slots));
	if (!slots)
		return -1;
	for (size_t i = 0; i < m->cap; i++) {
		kbp_hmap_slot *s = &m->slots[i];
		if (s->key && s->key != TOMBSTONE)
			place(slots, cap, s->key, s->value, s->hash);
	}
	free(m->slots);
	m->slots = slots;
	m->cap = cap;
	m->filled = m->used;
	return 0;
}

void *kbp_hmap_get(const kbp_hmap *m, const char *key)
{
	kbp_hmap_slot *s = find(m, key, hash_key(m, key));

	return s ? s->value : NULL;
}

int kbp_hmap_put(kbp_hmap *m, const char *key, void *value)
{
	uint64_t h = hash_key(m, key);
	kbp_hmap_slot *s = find(m, key, h);

	if (s) {
		s->key = key;
		s->value = value;
		return 0;
	}
	if ((m->filled + 1) * 4 >= m->cap * 3 && grow(m) != 0)
		return -1;
	for (size_t i = h & (m->cap - 1);; i = (i + 1) & (m->cap - 1)) {
		s = &m->slots[i];
		if (!s->key || s->key == TOMBSTONE) {
			if (!s->key)
				m->filled++;
			*s = (kbp_hmap_slot){ key, value, h };
			m->used++;
			return 0;
		}
	}
}

void *kbp_hmap_del(kbp_hmap *m, const char *key)
{
	kbp_hmap_slot *s = find(m, key, hash_key(m, key));
	void *value;

	if (!s)
		return NULL;
	value = s->value;
	s->key = TOMBSTONE;
	s->value = NULL;
	m->used--;
	return value;
}

int kbp_hmap_next(const kbp_hmap *m, size_t *pos, const char **key, void **value)
{
	for (; *pos < m->cap; (*pos)++) {
		kbp_hmap_slot *s = &m->slots[*pos];
		if (s->key && s->key != TOMBSTONE) {
			if (key)
				*key = s->key;
			if (value)
				*value = s->value;
			(*pos)++;
			return 1;
		}
	}
	return 0;
}
