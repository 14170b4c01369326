/* SPDX-License-Identifier: GPL-2.0 OR BSD-2-Clause */
/*
 * What the user asked to see. The parts the kernel can judge (family,
 * ports, netns, in-task pid) are also handed to the BPF program; user
 * space re-checks everything, so the result does not depend on which side
 * filtered.
 */
#ifndef TCPFSM_FILTER_H
#define TCPFSM_FILTER_H

#include <stdbool.h>
#include <stdint.h>
#include "event.h"

#define FILTER_MAX_ADDRS 16

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

/* "10.0.0.0/8", "::1", "192.168.1.5" (host prefix). 0 or -EINVAL. */
int cidr_parse(const char *s, struct cidr *c);
bool cidr_match(const struct cidr *c, uint8_t family, const uint8_t *addr);

/* Family, ports, addresses, netns. */
bool filter_tuple(const struct filter *f, const struct tuple *t);
bool filter_states(const struct filter *f, unsigned int oldstate,
		   unsigned int newstate);
/* pid/comm of the socket's owner; an unknown owner (pid 0) never matches. */
bool filter_owner(const struct filter *f, uint32_t pid, const char *comm);

#endif
