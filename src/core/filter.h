/* SPDX-License-Identifier: GPL-2.0 OR BSD-2-Clause */
/*
 * What the user asked to see, decided here and nowhere else. The parts the
 * kernel can judge (family, ports of either kind, addresses, netns, in-task
 * pid) are also handed to the BPF program, which applies filter_event()'s
 * rules; the pipeline applies filter_event() again to every record before
 * the engine sees it (live and in replay alike), so the engine tracks no
 * connection the filters drop, and judges connections (filter_tuple,
 * filter_owner) and transitions (filter_transition) before a command sees
 * them. snapshot judges its sockets, live and --from-raw, with
 * filter_tuple: one selection everywhere.
 */
#ifndef TCPFSM_FILTER_H
#define TCPFSM_FILTER_H

#include <stdbool.h>
#include <stdint.h>
#include "event.h"
#include "u64map.h"

#define FILTER_MAX_ADDRS TCPFSM_MAX_CIDRS

struct cidr {
	uint8_t family;
	uint8_t prefix;
	uint8_t addr[16];
};

struct filter {
	uint8_t family; /* 0: any */
	int n_lports, n_rports, n_addrs;
	uint16_t lports[TCPFSM_MAX_PORTS];
	uint16_t rports[TCPFSM_MAX_PORTS];
	int n_ports;	/* --port: either end's (judged in user space) */
	uint16_t ports[TCPFSM_MAX_PORTS];
	struct cidr addrs[FILTER_MAX_ADDRS]; /* either end */
	bool has_pid, has_comm, has_netns;
	uint32_t pid;
	uint32_t netns;
	char comm[TCPFSM_COMM_LEN];
	uint32_t state_mask; /* transitions into or out of; 0: any */
};

/* Is anything filtered at all? */
bool filter_active(const struct filter *f);

/*
 * "10.0.0.0/8", "::1", "192.168.1.5" (host prefix). 0 or -EINVAL. An
 * IPv4-mapped IPv6 CIDR (::ffff:10.0.0.0/104) is made the IPv4 one it
 * stands for: IPv4-mapped IPv6 counts as IPv4, addresses and CIDRs alike.
 */
int cidr_parse(const char *s, struct cidr *c);
/* addr (of family) in c; an IPv4 CIDR matches an IPv4-mapped IPv6 address. */
bool cidr_match(const struct cidr *c, uint8_t family, const uint8_t *addr);
/* c as the BPF side matches it (include/tcpfsm.h, TCPFSM_CIDR_HAS). */
void filter_cidr_bpf(const struct cidr *c, struct tcpfsm_cidr *out);

/*
 * The selection of a socket by its tuple: family, netns, ports, addresses
 * (IPv4-mapped pairs are IPv4: t as tuple_from_event and sock_diag parsing
 * give it). An unknown local port (0) never matches a port filter.
 */
bool filter_tuple(const struct filter *f, const struct tuple *t);
/* pid/comm of the socket's owner; an unknown owner (pid 0) never matches. */
bool filter_owner(const struct filter *f, uint32_t pid, const char *comm);

/* --state: what a transition is judged by. */
enum filter_by {
	FILTER_BY_EITHER = 0,	/* into or out of one of the states (trace) */
	FILTER_BY_LEFT,		/* the state left, whose time it ends (stats) */
};
bool filter_transition(const struct filter *f, unsigned int oldstate,
		       unsigned int newstate, enum filter_by by);
/* Either of the two states in --state (or no --state). */
bool filter_states(const struct filter *f, unsigned int oldstate,
		   unsigned int newstate);

/*
 * What one record says by itself, before the engine sees it; false: the
 * connection it belongs to is not selected, drop the record. The BPF
 * program applies the same rules (bpf/tcpfsm.bpf.c: ports_wanted,
 * addrs_wanted), so what it passes this passes, but for a connect whose
 * port was not known yet and whose next record showed it failing:
 * - a listener's own records (into LISTEN, LISTEN -> CLOSE) are judged by
 *   netns and local port only: its children, of any address, family or
 *   remote port, take their owner from it;
 * - a local port of 0 (a connect before its port is picked) is unknown and
 *   passes the port filters: the engine tracks the connect until a record
 *   with the port says (then the pipeline forgets it: engine_forget);
 * - the owner (--pid, --comm) is not judged: a record rarely says it.
 * Records of no connection (kinds past TCPFSM_EV_REQ_EXPIRE) pass.
 */
bool filter_event(const struct filter *f, const struct tcpfsm_event *e);
/*
 * A socket that existed before tracing (seeding), in state: as
 * filter_event() judges its records, a listener by netns and local port.
 */
bool filter_seed(const struct filter *f, uint8_t state, const struct tuple *t);

/* Is the owner judged (--pid, --comm)? */
static inline bool filter_has_owner(const struct filter *f)
{
	return f->has_pid || f->has_comm;
}

/*
 * Connections the owner filters rejected once their owner was known: the
 * pipeline has the engine forget them, and drops their later records before
 * it (filter_rejected) until the record that ends them: a full socket's
 * close that is no hand-over to a timewait minisocket, or that
 * minisocket's end. An owner that changes afterwards (a socket handed to a
 * selected process) is not seen. At most FILTER_REJECTS_MAX at once
 * (cookies whose end was never seen are forgotten all together then: their
 * records reach the engine again, as a connection first seen mid-life).
 */
#define FILTER_REJECTS_MAX (1u << 20)

struct filter_rejects {
	struct u64map cookies;	/* slots NULL until the first */
};

/* Reject cookie's connection from now on; 0 or -ENOMEM (then not). */
int filter_reject(struct filter_rejects *r, uint64_t cookie);
/* Is e a record of a rejected connection? Its end ends the rejection. */
bool filter_rejected(struct filter_rejects *r, const struct tcpfsm_event *e);
void filter_rejects_free(struct filter_rejects *r);

#endif
