/* SPDX-License-Identifier: GPL-2.0 OR BSD-2-Clause */
/*
 * Time-in-state histograms: one fixed-size log-linear layout from which
 * both bcc's log2 view (print_log2_hist, in usecs) and percentiles derive.
 *
 * Layout. Values are nanoseconds. Let us = ns / 1000.
 *   group 0 (us == 0, ns < 1000): 16 linear buckets of 62.5 ns;
 *   group g >= 1 (2^(g-1) <= us < 2^g): 16 linear sub-buckets, each 1/16 of
 *   the group's lower bound wide.
 * The groups are exactly bcc's log2 slots in microseconds, so the log2
 * usecs view is exact (slot 0 = 0..1 us = groups 0 and 1; slot k = group
 * k + 1). Groups run to 2^54 us, past UINT64_MAX ns (584 years).
 *
 * Accuracy. A percentile is estimated inside the sub-bucket that holds the
 * exact (nearest-rank) value, interpolating by rank and clamping to
 * [min, max]. So its error is below one sub-bucket: under 1/16 (6.25%) of
 * the value from 1 us up, under 62.5 ns below; for smooth distributions it
 * is usually well under 1%. count, min, max and sum are exact.
 *
 * Cost. hist_add is a few instructions (two multiplications by constants,
 * a clz, adds); no allocation, no locks: one hist per thread, merge later.
 */
#ifndef TCPFSM_HIST_H
#define TCPFSM_HIST_H

#include <stdint.h>
#include <stdio.h>

#define HIST_SUB_BITS 4
#define HIST_SUB (1 << HIST_SUB_BITS)	/* linear sub-buckets per group */
#define HIST_GROUPS 56
#define HIST_BUCKETS (HIST_GROUPS * HIST_SUB)
#define HIST_LOG2_SLOTS (HIST_GROUPS - 1)	/* bcc slots 0..54 */

struct hist {
	uint64_t count;
	uint64_t min_ns;	/* UINT64_MAX when empty */
	uint64_t max_ns;
	unsigned __int128 sum_ns;	/* exact: cannot overflow in practice */
	uint64_t buckets[HIST_BUCKETS];
};

struct json;

/* Empty (also to reuse one). */
void hist_init(struct hist *h);
void hist_add(struct hist *h, uint64_t ns);
/* dst += src */
void hist_merge(struct hist *dst, const struct hist *src);

/*
 * The q-quantile (0 <= q <= 1), nearest rank: the smallest value with at
 * least q * count values at or below it. q <= 0 gives min, q >= 1 max.
 * 0 for an empty histogram.
 */
uint64_t hist_percentile(const struct hist *h, double q);
/* min, or 0 when empty. */
uint64_t hist_min(const struct hist *h);
/* Mean, rounded down; 0 when empty. */
uint64_t hist_mean(const struct hist *h);

/*
 * bcc-style log2 slots in units of unit_ns: slot 0 counts values 0..1,
 * slot k >= 1 values 2^k..2^(k+1)-1 (in units). Exact for unit_ns 1000;
 * for other units a sub-bucket that straddles a slot edge is counted in
 * the slot holding its midpoint. Returns the number of slots in use
 * (highest non-empty slot + 1), 0 when empty.
 */
int hist_log2(const struct hist *h, uint64_t unit_ns,
	      uint64_t slots[HIST_LOG2_SLOTS]);

/*
 * Print like bcc's print_log2_hist: a "unit : count distribution" header
 * and one line per slot up to the highest non-empty one, with star bars.
 * unit_label picks the unit: "nsecs", "usecs" (exact), "msecs" or "secs";
 * any other label prints usecs under that label. Prints nothing when
 * empty.
 */
void hist_print_log2(FILE *out, const struct hist *h, const char *unit_label);

/*
 * "key": {"count":N,"min_ns":..,"p50_ns":..,"p90_ns":..,"p99_ns":..,
 * "max_ns":..,"mean_ns":..,"buckets":[{"low_us":L,"high_us":H,"count":C},...]}
 * with only non-empty log2 usecs slots in buckets; the statistics are null
 * when count is 0. key NULL inside arrays.
 */
void hist_json(struct json *j, const char *key, const struct hist *h);

#endif
