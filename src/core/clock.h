/* SPDX-License-Identifier: GPL-2.0 OR BSD-2-Clause */
#ifndef TCPFSM_CLOCK_H
#define TCPFSM_CLOCK_H

#include <stdint.h>
#include <time.h>

/* ns on clock id; CLOCK_MONOTONIC is bpf_ktime_get_ns()'s clock. */
static inline uint64_t clock_ns(clockid_t id)
{
	struct timespec ts;

	clock_gettime(id, &ts);
	return (uint64_t)ts.tv_sec * 1000000000ull + (uint64_t)ts.tv_nsec;
}

#endif
