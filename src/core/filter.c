// SPDX-License-Identifier: GPL-2.0 OR BSD-2-Clause
#include <arpa/inet.h>
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include "filter.h"
#include "event.h"

int cidr_parse(const char *s, struct cidr *c)
{
	char buf[64];
	const char *slash = strchr(s, '/');
	size_t n = slash ? (size_t)(slash - s) : strlen(s);
	int max;

	if (n == 0 || n >= sizeof(buf))
		return -EINVAL;
	memcpy(buf, s, n);
	buf[n] = '\0';
	memset(c, 0, sizeof(*c));
	if (inet_pton(AF_INET, buf, c->addr) == 1) {
		c->family = AF_INET;
		max = 32;
	} else if (inet_pton(AF_INET6, buf, c->addr) == 1) {
		c->family = AF_INET6;
		max = 128;
	} else {
		return -EINVAL;
	}
	c->prefix = max;
	if (slash) {
		const char *p = slash + 1;
		int v = 0;

		/* digits only, at most 3: no sign, space or "0008" */
		if (!*p || strlen(p) > 3)
			return -EINVAL;
		for (; *p; p++) {
			if (*p < '0' || *p > '9')
				return -EINVAL;
			v = v * 10 + (*p - '0');
		}
		if (v > max)
			return -EINVAL;
		c->prefix = (uint8_t)v;
	}
	/* ::ffff:a.b.c.d/96+ is the IPv4 CIDR a.b.c.d/(prefix - 96) */
	if (c->family == AF_INET6 && c->prefix >= 96 && is_v4mapped(c->addr)) {
		memmove(c->addr, c->addr + 12, 4);
		memset(c->addr + 4, 0, 12);
		c->family = AF_INET;
		c->prefix -= 96;
	}
	return 0;
}

void filter_cidr_bpf(const struct cidr *c, struct tcpfsm_cidr *out)
{
	/* an IPv4 CIDR in word 3, where the BPF side keeps IPv4 addresses */
	int first = c->family == AF_INET ? 3 : 0, bits = c->prefix, w;

	memset(out, 0, sizeof(*out));
	out->family = c->family;
	for (w = first; w < 4 && bits > 0; w++, bits -= 32) {
		uint32_t mask = bits >= 32 ? 0xffffffffu : ~(0xffffffffu >> bits);

		out->mask[w] = htonl(mask);
		memcpy(&out->addr[w], c->addr + 4 * (w - first), 4);
		out->addr[w] &= out->mask[w];
	}
}

bool cidr_match(const struct cidr *c, uint8_t family, const uint8_t *addr)
{
	int full = c->prefix / 8, rest = c->prefix % 8;

	/* as the kernel's inet_diag bytecode: IPv4 matches IPv4-mapped IPv6 */
	if (c->family == AF_INET && family == AF_INET6 &&
	    is_v4mapped(addr))
		addr += 12;
	else if (c->family != family)
		return false;
	if (memcmp(c->addr, addr, full))
		return false;
	if (rest) {
		uint8_t mask = (uint8_t)(0xff << (8 - rest));

		if ((c->addr[full] & mask) != (addr[full] & mask))
			return false;
	}
	return true;
}

bool filter_active(const struct filter *f)
{
	return f->family || f->n_lports || f->n_rports || f->n_ports || f->n_addrs ||
	       f->has_pid || f->has_comm || f->has_netns || f->state_mask;
}

static bool port_in(uint16_t port, const uint16_t *set, int n)
{
	int i;

	for (i = 0; i < n; i++)
		if (set[i] == port)
			return true;
	return false;
}

static bool addrs_in(const struct filter *f, const struct tuple *t)
{
	int i;

	for (i = 0; i < f->n_addrs; i++)
		if (cidr_match(&f->addrs[i], t->family, t->saddr) ||
		    cidr_match(&f->addrs[i], t->family, t->daddr))
			return true;
	return false;
}

bool filter_tuple(const struct filter *f, const struct tuple *t)
{
	if (f->family && t->family != f->family)
		return false;
	if (f->has_netns && t->netns != f->netns)
		return false;
	/* an unknown local port (0) cannot be shown to match */
	if (f->n_lports && !port_in(t->sport, f->lports, f->n_lports))
		return false;
	if (f->n_rports && !port_in(t->dport, f->rports, f->n_rports))
		return false;
	if (f->n_ports && !port_in(t->sport, f->ports, f->n_ports) &&
	    !port_in(t->dport, f->ports, f->n_ports))
		return false;
	return !f->n_addrs || addrs_in(f, t);
}

bool filter_states(const struct filter *f, unsigned int oldstate,
		   unsigned int newstate)
{
	if (!f->state_mask)
		return true;
	return (oldstate < 32 && (f->state_mask & (1u << oldstate))) ||
	       (newstate < 32 && (f->state_mask & (1u << newstate)));
}

bool filter_transition(const struct filter *f, unsigned int oldstate,
		       unsigned int newstate, enum filter_by by)
{
	if (by == FILTER_BY_LEFT)
		newstate = oldstate;
	return filter_states(f, oldstate, newstate);
}

bool filter_event(const struct filter *f, const struct tcpfsm_event *e)
{
	struct tuple t;
	bool listener;

	if (e->kind < TCPFSM_EV_STATE || e->kind > TCPFSM_EV_REQ_EXPIRE)
		return true;
	if (f->has_netns && e->netns != f->netns)
		return false;
	if (f->n_lports && e->sport && !port_in(e->sport, f->lports, f->n_lports))
		return false;
	listener = e->kind == TCPFSM_EV_STATE &&
		   (e->newstate == TCPFSM_ST_LISTEN ||
		    (e->oldstate == TCPFSM_ST_LISTEN &&
		     e->newstate == TCPFSM_ST_CLOSE));
	if (listener)
		return true;
	if (f->n_rports && !port_in(e->dport, f->rports, f->n_rports))
		return false;
	if (f->n_ports && e->sport && !port_in(e->sport, f->ports, f->n_ports) &&
	    !port_in(e->dport, f->ports, f->n_ports))
		return false;
	if (!f->family && !f->n_addrs)
		return true;
	tuple_from_event(&t, e);	/* the family of an IPv4-mapped pair */
	if (f->family && t.family != f->family)
		return false;
	return !f->n_addrs || addrs_in(f, &t);
}

bool filter_owner(const struct filter *f, uint32_t pid, const char *comm)
{
	if (f->has_pid && pid != f->pid)
		return false;
	if (f->has_comm && strncmp(comm, f->comm, TCPFSM_COMM_LEN))
		return false;
	return true;
}

bool filter_seed(const struct filter *f, uint8_t state, const struct tuple *t)
{
	if (state != TCPFSM_ST_LISTEN)
		return filter_tuple(f, t);
	if (f->has_netns && t->netns != f->netns)
		return false;
	return !f->n_lports || port_in(t->sport, f->lports, f->n_lports);
}

int filter_reject(struct filter_rejects *r, uint64_t cookie)
{
	int err;

	if (!cookie)
		return 0;
	if (!r->cookies.slots &&
	    u64map_init(&r->cookies, 64, FILTER_REJECTS_MAX))
		return -ENOMEM;
	err = u64map_put(&r->cookies, cookie, 1);
	if (err == -ENOSPC) {
		/* ends never seen (records lost, filtered in the kernel) */
		u64map_clear(&r->cookies);
		err = u64map_put(&r->cookies, cookie, 1);
	}
	return err;
}

bool filter_rejected(struct filter_rejects *r, const struct tcpfsm_event *e)
{
	if (!r->cookies.count || !e->cookie ||
	    e->kind < TCPFSM_EV_STATE || e->kind > TCPFSM_EV_TW_EXPIRE ||
	    !u64map_get(&r->cookies, e->cookie))
		return false;
	/* its end: no record of that cookie comes after it */
	if (e->kind == TCPFSM_EV_TW_CANCEL || e->kind == TCPFSM_EV_TW_EXPIRE ||
	    (e->kind == TCPFSM_EV_STATE && e->newstate == TCPFSM_ST_CLOSE &&
	     e->oldstate != TCPFSM_ST_FIN_WAIT1 &&	/* may hand over to */
	     e->oldstate != TCPFSM_ST_FIN_WAIT2 &&	/* a timewait */
	     e->oldstate != TCPFSM_ST_CLOSING))	/* minisocket */
		u64map_del(&r->cookies, e->cookie);
	return true;
}

void filter_rejects_free(struct filter_rejects *r)
{
	if (r->cookies.slots)
		u64map_free(&r->cookies);
	memset(r, 0, sizeof(*r));
}
