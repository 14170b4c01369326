// SPDX-License-Identifier: GPL-2.0 OR BSD-2-Clause
#include <errno.h>
#include <stdio.h>
#include <string.h>
#include "tcpstate.h"

_Static_assert(TCPFSM_ST_MAX <= 16, "legal_next holds 16 states");

static const char *const names[TCPFSM_ST_MAX] = {
	[TCPFSM_ST_UNKNOWN] = "UNKNOWN",
	[TCPFSM_ST_ESTABLISHED] = "ESTABLISHED",
	[TCPFSM_ST_SYN_SENT] = "SYN_SENT",
	[TCPFSM_ST_SYN_RECV] = "SYN_RECV",
	[TCPFSM_ST_FIN_WAIT1] = "FIN_WAIT1",
	[TCPFSM_ST_FIN_WAIT2] = "FIN_WAIT2",
	[TCPFSM_ST_TIME_WAIT] = "TIME_WAIT",
	[TCPFSM_ST_CLOSE] = "CLOSE",
	[TCPFSM_ST_CLOSE_WAIT] = "CLOSE_WAIT",
	[TCPFSM_ST_LAST_ACK] = "LAST_ACK",
	[TCPFSM_ST_LISTEN] = "LISTEN",
	[TCPFSM_ST_CLOSING] = "CLOSING",
	[TCPFSM_ST_NEW_SYN_RECV] = "NEW_SYN_RECV",
};

#define B(st) (1u << TCPFSM_ST_##st)
/*
 * For each state, the states it may move to. Linux's close() re-asserts a
 * closing state (tcp_close_state() maps FIN_WAIT1, FIN_WAIT2, CLOSING,
 * LAST_ACK and CLOSE to themselves, e.g. a close() after shutdown()); the
 * tracepoint reports that as X -> X, which the engine folds into the period
 * it continues before anything is judged: no state moves to itself here.
 */
static const uint16_t legal_next[TCPFSM_ST_MAX] = {
	[TCPFSM_ST_CLOSE] = B(LISTEN) | B(SYN_SENT),
	/* RFC 9293: LISTEN -> SYN_SENT on a SEND; Linux never does it */
	[TCPFSM_ST_LISTEN] = B(SYN_RECV) | B(SYN_SENT) | B(CLOSE),
	/* SYN_RECV: simultaneous open */
	[TCPFSM_ST_SYN_SENT] = B(ESTABLISHED) | B(SYN_RECV) | B(CLOSE),
	/* LISTEN: RFC 9293's RST to a passive open (not Linux); CLOSE_WAIT:
	 * Fast Open, a FIN before the handshake's ACK (tcp_fin()) */
	[TCPFSM_ST_SYN_RECV] = B(ESTABLISHED) | B(FIN_WAIT1) | B(CLOSE) |
			       B(LISTEN) | B(CLOSE_WAIT),
	[TCPFSM_ST_ESTABLISHED] = B(FIN_WAIT1) | B(CLOSE_WAIT) | B(CLOSE),
	/* TIME_WAIT: a FIN that also acknowledges ours */
	[TCPFSM_ST_FIN_WAIT1] = B(FIN_WAIT2) | B(CLOSING) | B(TIME_WAIT) |
				B(CLOSE),
	[TCPFSM_ST_FIN_WAIT2] = B(TIME_WAIT) | B(CLOSE),
	[TCPFSM_ST_CLOSING] = B(TIME_WAIT) | B(CLOSE),
	[TCPFSM_ST_CLOSE_WAIT] = B(LAST_ACK) | B(CLOSE),
	[TCPFSM_ST_LAST_ACK] = B(CLOSE),
	[TCPFSM_ST_TIME_WAIT] = B(CLOSE),
};
#undef B

bool tcp_transition_legal(unsigned int oldstate, unsigned int newstate)
{
	if (oldstate == TCPFSM_ST_UNKNOWN || oldstate >= TCPFSM_ST_MAX ||
	    oldstate == TCPFSM_ST_NEW_SYN_RECV ||
	    newstate == TCPFSM_ST_UNKNOWN || newstate >= TCPFSM_ST_MAX ||
	    newstate == TCPFSM_ST_NEW_SYN_RECV)
		return true;	/* not known: not judged */
	return legal_next[oldstate] & (1u << newstate);
}

const char *tcp_state_name(unsigned int state)
{
	return state < TCPFSM_ST_MAX ? names[state] : "UNKNOWN";
}

static char fold(char c)
{
	if (c == '-')
		return '_';
	return c >= 'a' && c <= 'z' ? (char)(c - 'a' + 'A') : c;
}

/* The n bytes at name as a state name; -1 if none. Nothing is copied. */
static int parse_n(const char *name, size_t n)
{
	size_t k;
	int i;

	for (i = 1; i < TCPFSM_ST_MAX; i++) {
		if (strlen(names[i]) != n)
			continue;
		for (k = 0; k < n && fold(name[k]) == names[i][k]; k++)
			;
		if (k == n)
			return i;
	}
	return -1;
}

int tcp_state_parse(const char *name)
{
	return parse_n(name, strlen(name));
}

int tcp_state_mask_parse(const char *list, uint32_t *mask, const char **bad)
{
	const char *p = list;
	int err = -EINVAL;

	*mask = 0;
	do {
		size_t n = strcspn(p, ",");
		int st;

		if (n == 0)
			goto fail; /* "", ",X", "X,,Y", "X," */
		if (n > TCP_STATE_NAME_MAX) {
			err = -ENAMETOOLONG;
			goto fail;
		}
		st = parse_n(p, n);
		if (st < 0)
			goto fail;
		*mask |= 1u << st;
		p += n;
	} while (*p++ == ',');
	return 0;
fail:
	if (bad)
		*bad = p;
	return err;
}

void tcp_state_mask_error(char *buf, size_t len, int err, const char *bad)
{
	size_t n = strcspn(bad, ",");

	if (err == -ENAMETOOLONG)
		snprintf(buf, len, "'%.*s%s' (%zu bytes) is too long for a "
			 "state name", (int)(n > 16 ? 16 : n), bad,
			 n > 16 ? "..." : "", n);
	else if (n == 0)
		snprintf(buf, len, "empty state name (a stray ',')");
	else
		snprintf(buf, len, "unknown state '%.*s'", (int)n, bad);
}
