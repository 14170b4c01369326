// SPDX-License-Identifier: GPL-2.0 OR BSD-2-Clause
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include "u64map.h"

/*
 * Keys that count up (socket cookies, inode numbers) keep their low bits:
 * 16 consecutive keys share one 256-byte block of slots (four cache lines)
 * and the blocks are scattered by a mix of the high bits. The engine looks
 * up the connections of the last few microseconds over and over; with
 * their cookies in a few blocks those lookups hit the cache instead of
 * missing on a random slot of a table of many megabytes. Random keys
 * (tuple hashes) stay random.
 */
#define BLOCK_BITS 4

static inline size_t hash(uint64_t key, size_t mask)
{
	uint64_t b = key >> BLOCK_BITS;

	b ^= b >> 33;
	b *= 0xff51afd7ed558ccdull;
	b ^= b >> 33;
	return (size_t)(b << BLOCK_BITS | (key & ((1u << BLOCK_BITS) - 1))) & mask;
}

uint64_t hash_bytes(const void *p, size_t n)
{
	const uint8_t *b = p;
	uint64_t h = 0x9e3779b97f4a7c15ull, w;
	size_t i;

	for (i = 0; i < n; i += 8) {
		w = 0;
		memcpy(&w, b + i, n - i < 8 ? n - i : 8);
		h = (h ^ w) * 0xff51afd7ed558ccdull;
		h ^= h >> 32;
	}
	h ^= h >> 29;
	h *= 0xc4ceb9fe1a85ec53ull;
	h ^= h >> 32;
	return h;
}

int u64map_init(struct u64map *m, size_t initial, size_t max_count)
{
	size_t cap = 16;

	while (cap < initial * 2)
		cap <<= 1;
	m->slots = calloc(cap, sizeof(*m->slots));
	if (!m->slots)
		return -ENOMEM;
	m->mask = cap - 1;
	m->count = 0;
	m->max_count = max_count;
	return 0;
}

void u64map_free(struct u64map *m)
{
	free(m->slots);
	m->slots = NULL;
	m->count = 0;
}

void u64map_clear(struct u64map *m)
{
	memset(m->slots, 0, (m->mask + 1) * sizeof(*m->slots));
	m->count = 0;
}

/* The slot holding key, or the empty slot where it would go. */
static size_t probe(const struct u64map *m, uint64_t key)
{
	size_t i = hash(key, m->mask);

	while (m->slots[i].key && m->slots[i].key != key)
		i = (i + 1) & m->mask;
	return i;
}

uint64_t *u64map_get(const struct u64map *m, uint64_t key)
{
	size_t i;

	if (!key)
		return NULL;
	i = probe(m, key);
	return m->slots[i].key ? &m->slots[i].val : NULL;
}

static void insert_slot(struct u64map_slot *slots, size_t mask, uint64_t key,
			uint64_t val)
{
	size_t i = hash(key, mask);

	while (slots[i].key)
		i = (i + 1) & mask;
	slots[i].key = key;
	slots[i].val = val;
}

static int grow(struct u64map *m)
{
	size_t cap = (m->mask + 1) * 2, i;
	struct u64map_slot *n = calloc(cap, sizeof(*n));

	if (!n)
		return -ENOMEM;
	for (i = 0; i <= m->mask; i++)
		if (m->slots[i].key)
			insert_slot(n, cap - 1, m->slots[i].key, m->slots[i].val);
	free(m->slots);
	m->slots = n;
	m->mask = cap - 1;
	return 0;
}

int u64map_put(struct u64map *m, uint64_t key, uint64_t val)
{
	size_t i;
	int err;

	if (!key)
		return -EINVAL;
	i = probe(m, key);
	if (m->slots[i].key) {
		m->slots[i].val = val;
		return 0;
	}
	if (m->count >= m->max_count)
		return -ENOSPC;
	/* keep the load factor at or under 1/2 */
	if ((m->count + 1) * 2 > m->mask + 1) {
		err = grow(m);
		if (err)
			return err;
		i = probe(m, key);
	}
	m->slots[i].key = key;
	m->slots[i].val = val;
	m->count++;
	return 0;
}

bool u64map_del(struct u64map *m, uint64_t key)
{
	size_t i = hash(key, m->mask), j;

	if (!key)
		return false;
	while (m->slots[i].key != key) {
		if (!m->slots[i].key)
			return false;
		i = (i + 1) & m->mask;
	}
	/* backward shift: pull later members of the cluster into the hole */
	j = i;
	for (;;) {
		size_t home;

		j = (j + 1) & m->mask;
		if (!m->slots[j].key)
			break;
		home = hash(m->slots[j].key, m->mask);
		/* can slot j move to i? only if home is not in (i, j] */
		if ((j > i && (home <= i || home > j)) ||
		    (j < i && (home <= i && home > j))) {
			m->slots[i] = m->slots[j];
			i = j;
		}
	}
	m->slots[i].key = 0;
	m->slots[i].val = 0;
	m->count--;
	return true;
}
