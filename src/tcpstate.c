// SPDX-License-Identifier: GPL-2.0 OR BSD-2-Clause
#include <errno.h>
#include <string.h>
#include <strings.h>
#include "tcpstate.h"

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

const char *tcp_state_name(unsigned int state)
{
	return state < TCPFSM_ST_MAX ? names[state] : "UNKNOWN";
}

int tcp_state_parse(const char *name)
{
	char buf[32];
	size_t i, n = strlen(name);

	if (n == 0 || n >= sizeof(buf))
		return -1;
	for (i = 0; i < n; i++)
		buf[i] = name[i] == '-' ? '_' : name[i];
	buf[n] = '\0';
	for (i = 1; i < TCPFSM_ST_MAX; i++)
		if (!strcasecmp(buf, names[i]))
			return (int)i;
	return -1;
}

int tcp_state_mask_parse(const char *list, uint32_t *mask, const char **bad)
{
	static char tok[64];
	const char *p = list;

	*mask = 0;
	if (!*p)
		goto fail;
	while (*p) {
		size_t n = strcspn(p, ",");
		int st;

		if (n == 0 || n >= sizeof(tok))
			goto fail_tok;
		memcpy(tok, p, n);
		tok[n] = '\0';
		st = tcp_state_parse(tok);
		if (st < 0)
			goto fail_tok;
		*mask |= 1u << st;
		p += n;
		if (*p == ',' && !*++p)
			goto fail;
	}
	return 0;
fail_tok:
	if (bad) {
		size_t n = strcspn(p, ",");

		if (n >= sizeof(tok))
			n = sizeof(tok) - 1;
		memcpy(tok, p, n);
		tok[n] = '\0';
		*bad = tok;
	}
	return -EINVAL;
fail:
	if (bad)
		*bad = list;
	return -EINVAL;
}
