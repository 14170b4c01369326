/* SPDX-License-Identifier: GPL-2.0 OR BSD-2-Clause */
/* Decoding helpers for struct tcpfsm_event: tuples, addresses, names. */
#ifndef TCPFSM_EVENT_H
#define TCPFSM_EVENT_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include "tcpfsm.h"

struct tuple {
	uint8_t family;
	uint8_t __pad[3];
	uint32_t netns;
	uint16_t sport;	/* local, host order */
	uint16_t dport;	/* remote, host order */
	uint8_t saddr[16];
	uint8_t daddr[16];
};

void tuple_from_event(struct tuple *t, const struct tcpfsm_event *e);
bool tuple_eq(const struct tuple *a, const struct tuple *b);
/* Never 0. */
uint64_t tuple_hash(const struct tuple *t);

/* Longest format_addr() output, NUL included. */
#define ADDR_STRLEN 46

/*
 * Numeric address text, as inet_ntop gives it (dotted quad; RFC 5952 for
 * IPv6), "?" for an unknown family. buf holds ADDR_STRLEN bytes; returns
 * the length without the NUL.
 */
int format_addr(char *buf, uint8_t family, const uint8_t *addr);

/*
 * A process name is untrusted bytes: copy it (up to TCPFSM_COMM_LEN bytes
 * or a NUL) for a whitespace-separated table column, with every control
 * byte, space, backslash and non-ASCII byte written as \xNN. out must hold
 * 4 * TCPFSM_COMM_LEN + 1 bytes; returns the length written (NUL excluded).
 */
#define COMM_SAFE_LEN (4 * TCPFSM_COMM_LEN + 1)
size_t comm_escape(char *out, const char *comm);
/* An IPv6 address of the ::ffff:a.b.c.d form. */
bool is_v4mapped(const uint8_t *a);
/*
 * The family rule, one for every command and source (the BPF side's
 * v4_pair, sock_diag's replies, recordings): an IPv6 socket speaking IPv4,
 * one end IPv4-mapped and the other mapped or unspecified (a listener's
 * remote end), is IPv4. A [::] listener is IPv6.
 */
bool is_v4_pair(const uint8_t *saddr, const uint8_t *daddr);
/*
 * One byte of untrusted text: \xNN for control bytes, bytes past ASCII and
 * the backslash, and the space if space (comm_escape's columns); returns
 * the end (at most 4 bytes on).
 */
char *put_escaped_byte(char *out, unsigned char c, bool space);
/*
 * Write s (any length) escaped as comm_escape does, but spaces kept (a
 * cgroup path, the last field of a line); "-" for NULL.
 */
void fput_escaped(FILE *out, const char *s);

#endif
