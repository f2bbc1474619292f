/* SPDX-License-Identifier: MIT */
#ifndef KBP_UTIL_HMAP_H
#define KBP_UTIL_HMAP_H

#include <stddef.h>
#include <stdint.h>

/*
 * A string-keyed hash map of borrowed keys (each key must live as long as its
 * entry, typically inside the value). Keys are hashed with SipHash under a
 * random per-map key, so outside input cannot force collisions.
 */
typedef struct kbp_hmap_slot {
	const char *key;            /* NULL: empty; KBP_HMAP_TOMBSTONE: deleted */
	void *value;
	uint64_t hash;
} kbp_hmap_slot;

typedef struct kbp_hmap {
	kbp_hmap_slot *slots;
	size_t cap;                 /* a power of two, or 0 */
	size_t used;                /* live entries */
	size_t filled;              /* live entries plus tombstones */
	unsigned char sip_key[16];
} kbp_hmap;

void kbp_hmap_init(kbp_hmap *m);
void kbp_hmap_clear(kbp_hmap *m);
void *kbp_hmap_get(const kbp_hmap *m, const char *key);
/* Inserts or replaces; -1 when memory runs out (the map is unchanged). */
int kbp_hmap_put(kbp_hmap *m, const char *key, void *value);
/* Removes and returns the value, or NULL. */
void *kbp_hmap_del(kbp_hmap *m, const char *key);

/* Iteration: for (size_t i = 0; kbp_hmap_next(m, &i, &k, &v);) */
int kbp_hmap_next(const kbp_hmap *m, size_t *pos, const char **key, void **value);

#endif
