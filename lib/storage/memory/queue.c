/* SPDX-License-Identifier: MIT */
#include <stdlib.h>

#include "storage/memory/memory_internal.h"

static int before(const mem_heap *h, const mem_qentry *a, const mem_qentry *b)
{
	if (!h->by_time && a->priority != b->priority)
		return a->priority < b->priority;
	if (a->run_at != b->run_at)
		return a->run_at < b->run_at;
	return a->seq < b->seq;
}

static void swap(mem_qentry *a, mem_qentry *b)
{
	mem_qentry t = *a;
	*a = *b;
	*b = t;
}

static void sift_up(mem_heap *h, size_t i)
{
	while (i > 0) {
		size_t parent = (i - 1) / 2;
		if (!before(h, &h->v[i], &h->v[parent]))
			break;
		swap(&h->v[i], &h->v[parent]);
		i = parent;
	}
}

static void sift_down(mem_heap *h, size_t i)
{
	for (;;) {
		size_t l = 2 * i + 1, r = l + 1, best = i;
		if (l < h->n && before(h, &h->v[l], &h->v[best]))
			best = l;
		if (r < h->n && before(h, &h->v[r], &h->v[best]))
			best = r;
		if (best == i)
			return;
		swap(&h->v[i], &h->v[best]);
		i = best;
	}
}

int mem_heap_push(mem_heap *h, mem_qentry e)
{
	if (h->n == h->cap) {
		size_t cap = h->cap ? h->cap * 2 : 64;
		mem_qentry *v = realloc(h->v, cap * sizeof(*v));
		if (!v)
			return -1;
		h->v = v;
		h->cap = cap;
	}
	h->v[h->n] = e;
	sift_up(h, h->n++);
	return 0;
}

int mem_heap_pop(mem_heap *h, mem_qentry *out)
{
	if (h->n == 0)
		return 0;
	*out = h->v[0];
	h->v[0] = h->v[--h->n];
	sift_down(h, 0);
	return 1;
}

const mem_qentry *mem_heap_peek(const mem_heap *h)
{
	return h->n ? &h->v[0] : NULL;
}

void mem_heap_drop_pruned(mem_heap *h)
{
	size_t kept = 0;

	for (size_t i = 0; i < h->n; i++)
		if (!h->v[i].job->pruned)
			h->v[kept++] = h->v[i];
	h->n = kept;
	for (size_t i = h->n / 2; i-- > 0;)
		sift_down(h, i);
}
