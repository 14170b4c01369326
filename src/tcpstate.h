/* SPDX-License-Identifier: GPL-2.0 OR BSD-2-Clause */
#ifndef TCPFSM_TCPSTATE_H
#define TCPFSM_TCPSTATE_H

#include <stdint.h>
#include "tcpfsm.h"

/* Kernel spelling: "ESTABLISHED", "SYN_SENT", ... "UNKNOWN" if out of range. */
const char *tcp_state_name(unsigned int state);

/* Case-insensitive name (also "TIME-WAIT", "SYN-RECV") to state; -1 if unknown. */
int tcp_state_parse(const char *name);

/*
 * Parse "STATE[,STATE...]" into a bit mask (bit n = state n).
 * Returns 0, or -EINVAL with *bad pointing at the offending name.
 */
int tcp_state_mask_parse(const char *list, uint32_t *mask, const char **bad);

#endif
