// SPDX-License-Identifier: GPL-2.0 OR BSD-2-Clause
/* Log-linear time-in-state histograms; see hist.h for the layout. */
#include <string.h>
#include "hist.h"
#include "json.h"

#define NS_PER_US 1000

typedef unsigned __int128 u128;

static unsigned int bucket_of(uint64_t ns)
{
	uint64_t us = ns / NS_PER_US;
	unsigned int e;

	if (!us)
		return ns * HIST_SUB / NS_PER_US;
	e = 63 - __builtin_clzll(us);
	/* ns >> e is in [1000, 2000): the position inside the group */
	return (e + 1) * HIST_SUB +
	       ((ns >> e) - NS_PER_US) * HIST_SUB / NS_PER_US;
}

/* Smallest ns in bucket idx (idx may be HIST_BUCKETS: one past the end). */
static u128 bucket_lo(unsigned int idx)
{
	unsigned int g = idx / HIST_SUB, j = idx % HIST_SUB;
	uint64_t off = (j * NS_PER_US + HIST_SUB - 1) / HIST_SUB; /* ceil */

	if (!g)
		return off;
	return (u128)(NS_PER_US + off) << (g - 1);
}

/* Largest ns in bucket idx. */
static uint64_t bucket_hi(unsigned int idx)
{
	u128 next = bucket_lo(idx + 1);

	return next > UINT64_MAX ? UINT64_MAX : (uint64_t)(next - 1);
}

void hist_init(struct hist *h)
{
	memset(h, 0, sizeof(*h));
	h->min_ns = UINT64_MAX;
}

void hist_add(struct hist *h, uint64_t ns)
{
	h->buckets[bucket_of(ns)]++;
	h->count++;
	h->sum_ns += ns;
	if (ns < h->min_ns)
		h->min_ns = ns;
	if (ns > h->max_ns)
		h->max_ns = ns;
}

void hist_merge(struct hist *dst, const struct hist *src)
{
	unsigned int i;

	if (!src->count)
		return;
	for (i = 0; i < HIST_BUCKETS; i++)
		dst->buckets[i] += src->buckets[i];
	dst->count += src->count;
	dst->sum_ns += src->sum_ns;
	if (src->min_ns < dst->min_ns)
		dst->min_ns = src->min_ns;
	if (src->max_ns > dst->max_ns)
		dst->max_ns = src->max_ns;
}

uint64_t hist_min(const struct hist *h)
{
	return h->count ? h->min_ns : 0;
}

uint64_t hist_mean(const struct hist *h)
{
	return h->count ? (uint64_t)(h->sum_ns / h->count) : 0;
}

uint64_t hist_percentile(const struct hist *h, double q)
{
	uint64_t rank, seen = 0, lo, hi, est;
	unsigned int i;
	double pos;

	if (!h->count)
		return 0;
	if (!(q > 0))	/* also NaN */
		return h->min_ns;
	if (q >= 1)
		return h->max_ns;
	/* nearest rank, 1-based: ceil(q * count), computed without drift */
	pos = q * (double)h->count;
	rank = (uint64_t)pos;
	if ((double)rank < pos)
		rank++;
	if (rank < 1)
		rank = 1;
	if (rank > h->count)
		rank = h->count;
	for (i = 0; i < HIST_BUCKETS; i++) {
		if (seen + h->buckets[i] >= rank)
			break;
		seen += h->buckets[i];
	}
	if (i == HIST_BUCKETS)	/* counts inconsistent: cannot happen */
		return h->max_ns;
	/* the exact value is in this bucket; and within [min, max] */
	lo = (uint64_t)bucket_lo(i);
	hi = bucket_hi(i);
	if (lo < h->min_ns)
		lo = h->min_ns;
	if (hi > h->max_ns)
		hi = h->max_ns;
	if (hi <= lo)
		return lo;
	/* the (rank - seen)-th of n values spread evenly over [lo, hi] */
	est = lo + (uint64_t)(((double)(rank - seen) - 0.5) /
			      (double)h->buckets[i] * (double)(hi - lo));
	return est > hi ? hi : est;
}

static int log2_slot(uint64_t v)
{
	return v < 2 ? 0 : 63 - __builtin_clzll(v);
}

int hist_log2(const struct hist *h, uint64_t unit_ns,
	      uint64_t slots[HIST_LOG2_SLOTS])
{
	int used = 0, s, s_hi;
	unsigned int i;
	uint64_t lo, hi;

	memset(slots, 0, HIST_LOG2_SLOTS * sizeof(slots[0]));
	if (!unit_ns)
		unit_ns = NS_PER_US;
	for (i = 0; i < HIST_BUCKETS; i++) {
		if (!h->buckets[i])
			continue;
		lo = (uint64_t)bucket_lo(i);
		hi = bucket_hi(i);
		s = log2_slot(lo / unit_ns);
		s_hi = log2_slot(hi / unit_ns);
		if (s != s_hi)	/* straddles an edge (unit_ns not 1000) */
			s = log2_slot((lo / 2 + hi / 2) / unit_ns);
		if (s >= HIST_LOG2_SLOTS)
			s = HIST_LOG2_SLOTS - 1;
		slots[s] += h->buckets[i];
		if (s + 1 > used)
			used = s + 1;
	}
	return used;
}

static uint64_t unit_of(const char *label)
{
	if (!strcmp(label, "nsecs"))
		return 1;
	if (!strcmp(label, "msecs"))
		return 1000000;
	if (!strcmp(label, "secs"))
		return 1000000000;
	return NS_PER_US;
}

static void print_stars(FILE *out, uint64_t val, uint64_t val_max, int width)
{
	int stars, i;

	stars = (int)((u128)(val < val_max ? val : val_max) * width / val_max);
	for (i = 0; i < stars; i++)
		fputc('*', out);
	for (; i < width; i++)
		fputc(' ', out);
	if (val > val_max)
		fputc('+', out);
}

/* The layout and arithmetic of bcc libbpf-tools' print_log2_hist. */
void hist_print_log2(FILE *out, const struct hist *h, const char *unit_label)
{
	uint64_t slots[HIST_LOG2_SLOTS], val_max = 0, low, high;
	int used, idx_max, stars, width, i;

	used = hist_log2(h, unit_of(unit_label), slots);
	if (!used)
		return;
	idx_max = used - 1;
	for (i = 0; i <= idx_max; i++)
		if (slots[i] > val_max)
			val_max = slots[i];
	fprintf(out, "%*s%-*s : count    distribution\n",
		idx_max <= 32 ? 5 : 15, "", idx_max <= 32 ? 19 : 29,
		unit_label);
	stars = idx_max <= 32 ? 40 : 20;
	width = idx_max <= 32 ? 10 : 20;
	for (i = 0; i <= idx_max; i++) {
		low = (1ULL << (i + 1)) >> 1;
		high = (1ULL << (i + 1)) - 1;
		if (low == high)
			low -= 1;
		fprintf(out, "%*llu -> %-*llu : %-8llu |", width,
			(unsigned long long)low, width,
			(unsigned long long)high,
			(unsigned long long)slots[i]);
		print_stars(out, slots[i], val_max, stars);
		fputs("|\n", out);
	}
}

void hist_json(struct json *j, const char *key, const struct hist *h)
{
	static const struct {
		const char *key;
		double q;
	} pct[] = { { "p50_ns", 0.50 }, { "p90_ns", 0.90 }, { "p99_ns", 0.99 } };
	uint64_t slots[HIST_LOG2_SLOTS];
	int used, i;
	size_t k;

	json_begin_object_key(j, key);

	json_u64(j, "count", h->count);
	if (h->count) {
		json_u64(j, "min_ns", h->min_ns);
		for (k = 0; k < sizeof(pct) / sizeof(pct[0]); k++)
			json_u64(j, pct[k].key, hist_percentile(h, pct[k].q));
		json_u64(j, "max_ns", h->max_ns);
		json_u64(j, "mean_ns", hist_mean(h));
	} else {
		json_null(j, "min_ns");
		for (k = 0; k < sizeof(pct) / sizeof(pct[0]); k++)
			json_null(j, pct[k].key);
		json_null(j, "max_ns");
		json_null(j, "mean_ns");
	}
	json_begin_array(j, "buckets");
	used = hist_log2(h, NS_PER_US, slots);
	for (i = 0; i < used; i++) {
		if (!slots[i])
			continue;
		json_begin_object(j);
		json_u64(j, "low_us", i ? 1ULL << i : 0);
		json_u64(j, "high_us", (1ULL << (i + 1)) - 1);
		json_u64(j, "count", slots[i]);
		json_end_object(j);
	}
	json_end_array(j);
	json_end_object(j);
}
