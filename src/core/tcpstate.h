/* SPDX-License-Identifier: GPL-2.0 OR BSD-2-Clause */
#ifndef TCPFSM_TCPSTATE_H
#define TCPFSM_TCPSTATE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include "tcpfsm.h"

/* Kernel spelling: "ESTABLISHED", "SYN_SENT", ... "UNKNOWN" if out of range. */
const char *tcp_state_name(unsigned int state);

/* Case-insensitive name (also "TIME-WAIT", "SYN-RECV") to state; -1 if unknown. */
int tcp_state_parse(const char *name);

/* The longest state name: "NEW_SYN_RECV". */
#define TCP_STATE_NAME_MAX 12

/*
 * Parse "STATE[,STATE...]" into a bit mask (bit n = state n). Returns 0,
 * -EINVAL for an unknown name, or -ENAMETOOLONG for a name longer than
 * TCP_STATE_NAME_MAX. On error *bad points into list at the offending name,
 * which ends at the next ',' or the end (empty for an empty list or a
 * stray comma). Reentrant: nothing is copied out.
 */
int tcp_state_mask_parse(const char *list, uint32_t *mask, const char **bad);
/* The message for tcp_state_mask_parse's error err and its *bad, in buf. */
void tcp_state_mask_error(char *buf, size_t len, int err, const char *bad);

/*
 * Is old -> new a transition of TCP's state machine: RFC 9293's (section
 * 3.3.2, CLOSED spelled CLOSE as the kernel does) plus what Linux adds:
 * simultaneous open (SYN_SENT -> SYN_RECV), Fast Open's SYN_RECV ->
 * CLOSE_WAIT (a FIN before the handshake's ACK), and CLOSE from every other
 * state (RST, abort, a timewait hand-over, tcp_disconnect()), and close()
 * re-asserting FIN_WAIT1, FIN_WAIT2, CLOSING, LAST_ACK or CLOSE (X -> X,
 * tcp_close_state(): e.g. close() after shutdown()). An unknown
 * state (UNKNOWN, out of range, NEW_SYN_RECV) is never judged illegal.
 */
bool tcp_transition_legal(unsigned int oldstate, unsigned int newstate);

#endif
