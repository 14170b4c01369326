/* SPDX-License-Identifier: GPL-2.0 OR BSD-2-Clause */
/*
 * One record as the BPF program writes it, for the unit tests that feed the
 * engine, the reorder buffer or the pipeline (test_engine, test_pipeline,
 * test_reorder): IPv4 loopback, 127.0.0.1:sport -> 127.0.0.1:dport, in the
 * initial network namespace; everything else zero.
 */
#ifndef TCPFSM_TESTS_EVFIXTURE_H
#define TCPFSM_TESTS_EVFIXTURE_H

#include <string.h>
#include "tcpfsm.h"

static inline struct tcpfsm_event loopback_event(uint8_t kind, uint64_t cookie,
						 uint64_t ts, uint8_t old,
						 uint8_t new, uint16_t sport,
						 uint16_t dport)
{
	struct tcpfsm_event e;

	memset(&e, 0, sizeof(e));
	e.kind = kind;
	e.cookie = cookie;
	e.ts_ns = ts;
	e.oldstate = old;
	e.newstate = new;
	e.family = 2;
	e.netns = 4026531840u;
	e.saddr[0] = e.daddr[0] = 127;
	e.saddr[3] = e.daddr[3] = 1;
	e.sport = sport;
	e.dport = dport;
	return e;
}

#endif
