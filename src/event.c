// SPDX-License-Identifier: GPL-2.0 OR BSD-2-Clause
#include <arpa/inet.h>
#include <stdio.h>
#include <string.h>
#include "event.h"
#include "fmt.h"

void tuple_from_event(struct tuple *t, const struct tcpfsm_event *e)
{
	memset(t, 0, sizeof(*t));
	t->family = e->family;
	t->netns = e->netns;
	t->sport = e->sport;
	t->dport = e->dport;
	memcpy(t->saddr, e->saddr, 16);
	memcpy(t->daddr, e->daddr, 16);
}

bool tuple_eq(const struct tuple *a, const struct tuple *b)
{
	return a->family == b->family && a->netns == b->netns &&
	       a->sport == b->sport && a->dport == b->dport &&
	       !memcmp(a->saddr, b->saddr, 16) && !memcmp(a->daddr, b->daddr, 16);
}

uint64_t tuple_hash(const struct tuple *t)
{
	/* FNV-1a over the fields that matter */
	const uint8_t *p = (const uint8_t *)t;
	uint64_t h = 0xcbf29ce484222325ull;
	size_t i;

	for (i = 0; i < sizeof(*t); i++) {
		h ^= p[i];
		h *= 0x100000001b3ull;
	}
	return h ? h : 1;
}

void format_addr(char *buf, size_t len, uint8_t family, const uint8_t *addr)
{
	if (family == 2 && len >= 16) {
		*fmt_ipv4(buf, addr) = '\0';
		return;
	}
	if ((family != 2 && family != 10) ||
	    !inet_ntop(family == 2 ? AF_INET : AF_INET6, addr, buf, len))
		snprintf(buf, len, "?");
}

void comm_escape(char *out, const char *comm)
{
	static const char hex[] = "0123456789abcdef";
	size_t i;

	for (i = 0; i < TCPFSM_COMM_LEN && comm[i]; i++) {
		unsigned char c = comm[i];

		if (c < 0x20 || c >= 0x7f || c == '\\') {
			*out++ = '\\';
			*out++ = 'x';
			*out++ = hex[c >> 4];
			*out++ = hex[c & 15];
		} else {
			*out++ = c;
		}
	}
	*out = '\0';
}
