/* SPDX-License-Identifier: GPL-2.0 OR BSD-2-Clause */
/*
 * Open-addressing hash map from a non-zero u64 key to a u64 value: linear
 * probing, backward-shift deletion (no tombstones, so a long run with churn
 * does not degrade), grows by doubling up to a bound. Keys that count up
 * (cookies) stay neighbours in the table: see hash() in u64map.c.
 */
#ifndef TCPFSM_U64MAP_H
#define TCPFSM_U64MAP_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

struct u64map_slot {
	uint64_t key; /* 0: empty */
	uint64_t val;
};

struct u64map {
	struct u64map_slot *slots;
	size_t mask;	/* capacity - 1 */
	size_t count;
	size_t max_count; /* growth stops here: inserts then fail */
};

/*
 * A 64-bit hash of n bytes, a word at a time: for keys made of several
 * fields (zero their padding), to key a u64map or an open-addressing table.
 */
uint64_t hash_bytes(const void *p, size_t n);

int u64map_init(struct u64map *m, size_t initial, size_t max_count);
void u64map_free(struct u64map *m);
/* Pointer to the value, or NULL. */
uint64_t *u64map_get(const struct u64map *m, uint64_t key);
/* Insert or overwrite; -ENOSPC when at max_count, -ENOMEM, -EINVAL (key 0). */
int u64map_put(struct u64map *m, uint64_t key, uint64_t val);
/* Returns true if the key was present. */
bool u64map_del(struct u64map *m, uint64_t key);
/* Remove every entry, keeping the table. */
void u64map_clear(struct u64map *m);

/* The first entry at or after slot i, or NULL. */
static inline struct u64map_slot *u64map_from(const struct u64map *m, size_t i)
{
	for (; i <= m->mask; i++)
		if (m->slots[i].key)
			return &m->slots[i];
	return NULL;
}

/* Slots in the table: an index wraps around at it. */
static inline size_t u64map_capacity(const struct u64map *m)
{
	return m->slots ? m->mask + 1 : 0;
}

/* The entry in slot i (modulo the capacity), or NULL when it is empty. */
static inline struct u64map_slot *u64map_at(const struct u64map *m, size_t i)
{
	struct u64map_slot *s;

	if (!m->slots)
		return NULL;
	s = &m->slots[i & m->mask];
	return s->key ? s : NULL;
}

/* The slot an entry is in, for u64map_from() to go on after it. */
static inline size_t u64map_index(const struct u64map *m,
				  const struct u64map_slot *s)
{
	return (size_t)(s - m->slots);
}

/*
 * Every entry, in slot order, as struct u64map_slot *s. The map must not
 * change during the walk (a delete shifts entries back).
 */
#define u64map_foreach(m, s)                                                  \
	for (struct u64map_slot *s = u64map_from((m), 0); s;                  \
	     s = u64map_from((m), u64map_index((m), s) + 1))

#endif
