/* SPDX-License-Identifier: GPL-2.0 OR BSD-2-Clause */
/* What tools/floor.bpf.c counts, for it and its loader (__u64 from either
 * vmlinux.h or <linux/types.h>). */
#ifndef FLOOR_H
#define FLOOR_H

struct floor_counts {
	__u64 transitions[16][16];
	__u64 timers;
	__u64 drops;
	__u64 sum_ns;
};

#endif
