// SPDX-License-Identifier: GPL-2.0 OR BSD-2-Clause
/*
 * snapshot --summary's tally: sockets counted by state and a key (a
 * port, an address, a process), and the top entries.
 */
#include <arpa/inet.h>
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <sys/socket.h>
#include <linux/inet_diag.h>
#include <linux/netlink.h>
#include <linux/sock_diag.h>
#include "diag.h"
#include "event.h"
#include "u64map.h"
#include "diag_impl.h"

/* ------------------------------------------------------------- summary */

static const char *const group_names[] = {
	[DIAG_BY_NONE] = "",
	[DIAG_BY_LPORT] = "lport",
	[DIAG_BY_RPORT] = "rport",
	[DIAG_BY_RADDR] = "raddr",
	[DIAG_BY_COMM] = "comm",
};

const char *diag_group_name(enum diag_group by)
{
	return (size_t)by < sizeof(group_names) / sizeof(group_names[0]) ?
		       group_names[by] : "";
}

int diag_group_parse(const char *s)
{
	size_t i;

	for (i = 1; i < sizeof(group_names) / sizeof(group_names[0]); i++)
		if (!strcmp(s, group_names[i]))
			return (int)i;
	return -1;
}

void diag_tally_init(struct diag_tally *t, enum diag_group by)
{
	memset(t, 0, sizeof(*t));
	t->by = by;
}

void diag_tally_free(struct diag_tally *t)
{
	free(t->slots);
	t->slots = NULL;
	t->nslots = t->nused = 0;
}

/* The key of an entry: everything but count. */
static void tally_key(const struct diag_tally *t, const struct diag_sock *s,
		      const char *comm, struct diag_tally_entry *k)
{
	memset(k, 0, sizeof(*k));
	k->state = s->state;
	switch (t->by) {
	case DIAG_BY_LPORT:
		k->port = s->sport;
		break;
	case DIAG_BY_RPORT:
		k->port = s->dport;
		break;
	case DIAG_BY_RADDR:
		k->family = s->family;
		memcpy(k->addr, s->daddr, s->family == AF_INET ? 4 : 16);
		break;
	case DIAG_BY_COMM:
		strncpy(k->comm, comm && *comm ? comm : "-",
			sizeof(k->comm) - 1);
		break;
	default:
		break;
	}
}

#define TALLY_KEY_OFF offsetof(struct diag_tally_entry, state)
#define TALLY_KEY_LEN (sizeof(struct diag_tally_entry) - TALLY_KEY_OFF)

static uint64_t tally_hash(const struct diag_tally_entry *k)
{
	return hash_bytes((const uint8_t *)k + TALLY_KEY_OFF, TALLY_KEY_LEN);
}

static bool tally_key_eq(const struct diag_tally_entry *a,
			 const struct diag_tally_entry *b)
{
	return !memcmp((const uint8_t *)a + TALLY_KEY_OFF,
		       (const uint8_t *)b + TALLY_KEY_OFF, TALLY_KEY_LEN);
}

static struct diag_tally_entry *tally_slot(struct diag_tally_entry *slots,
					   size_t nslots,
					   const struct diag_tally_entry *k)
{
	size_t i = (size_t)tally_hash(k) & (nslots - 1);

	while (slots[i].count && !tally_key_eq(&slots[i], k))
		i = (i + 1) & (nslots - 1);
	return &slots[i];
}

static int tally_grow(struct diag_tally *t)
{
	size_t n = t->nslots ? t->nslots * 2 : 256, i;
	struct diag_tally_entry *slots = calloc(n, sizeof(*slots));

	if (!slots)
		return -ENOMEM;
	for (i = 0; i < t->nslots; i++)
		if (t->slots[i].count)
			*tally_slot(slots, n, &t->slots[i]) = t->slots[i];
	free(t->slots);
	t->slots = slots;
	t->nslots = n;
	return 0;
}

int diag_tally_add(struct diag_tally *t, const struct diag_sock *s,
		   const char *comm)
{
	struct diag_tally_entry k, *e;

	t->count[s->state < TCPFSM_ST_MAX ? s->state : TCPFSM_ST_MAX]++;
	t->total++;
	if (t->by == DIAG_BY_NONE)
		return 0;
	if (2 * (t->nused + 1) > t->nslots && tally_grow(t))
		return -ENOMEM;
	tally_key(t, s, comm, &k);
	e = tally_slot(t->slots, t->nslots, &k);
	if (!e->count) {
		*e = k;
		t->nused++;
	}
	e->count++;
	return 0;
}

/* Does a rank before b? More sockets first, then the smaller key. */
static bool tally_before(const struct diag_tally_entry *a,
			 const struct diag_tally_entry *b)
{
	int c;

	if (a->count != b->count)
		return a->count > b->count;
	if (a->port != b->port)
		return a->port < b->port;
	if (a->family != b->family)
		return a->family < b->family;
	c = memcmp(a->addr, b->addr, sizeof(a->addr));
	if (c)
		return c < 0;
	return strncmp(a->comm, b->comm, sizeof(a->comm)) < 0;
}

int diag_tally_tops(const struct diag_tally *t, struct diag_tally_entry *out,
		    int *nout, int n)
{
	size_t i;

	memset(nout, 0, (TCPFSM_ST_MAX + 1) * sizeof(*nout));
	if (n <= 0)
		return 0;
	for (i = 0; i < t->nslots; i++) {
		const struct diag_tally_entry *e = &t->slots[i];
		unsigned int st = e->state < TCPFSM_ST_MAX ? e->state :
							    TCPFSM_ST_MAX;
		struct diag_tally_entry *top = out + (size_t)st * (size_t)n;
		int *k = &nout[st], j;

		if (!e->count)
			continue;
		if (*k == n && !tally_before(e, &top[n - 1]))
			continue;
		/* insertion into this state's sorted top-n */
		j = *k < n ? (*k)++ : n - 1;
		while (j > 0 && tally_before(e, &top[j - 1])) {
			top[j] = top[j - 1];
			j--;
		}
		top[j] = *e;
	}
	return 0;
}
