// SPDX-License-Identifier: GPL-2.0 OR BSD-2-Clause
/* Log-linear histograms: layout, percentiles against exact ones, views. */
#include <math.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <cmocka.h>
#include "hist.h"
#include "json.h"

#define DAY_NS (86400ull * 1000000000ull)

static struct hist h, h2;

static int cmp_u64(const void *a, const void *b)
{
	uint64_t x = *(const uint64_t *)a, y = *(const uint64_t *)b;

	return x < y ? -1 : x > y;
}

/* Exact nearest-rank percentile of sorted v[n]. */
static uint64_t exact_pct(const uint64_t *v, size_t n, double q)
{
	size_t rank = (size_t)ceil(q * n);

	if (rank < 1)
		rank = 1;
	return v[rank - 1];
}

/* xorshift64*: reproducible on every libc */
static uint64_t rng_state = 88172645463325252ull;

static uint64_t rng(void)
{
	rng_state ^= rng_state >> 12;
	rng_state ^= rng_state << 25;
	rng_state ^= rng_state >> 27;
	return rng_state * 2685821657736338717ull;
}

static double rng_unit(void)	/* (0, 1) */
{
	return ((rng() >> 11) + 0.5) / 9007199254740992.0;
}

/*
 * Fill h with v[n], then check p50/p90/p99/p99.9 against the exact ones:
 * relative error at most max_rel (absolute 63 ns below 1 us).
 */
static void check_pcts(uint64_t *v, size_t n, double max_rel)
{
	static const double qs[] = { 0.01, 0.5, 0.9, 0.99, 0.999 };
	double err, tol;
	uint64_t want, got;
	size_t i;

	hist_init(&h);
	for (i = 0; i < n; i++)
		hist_add(&h, v[i]);
	qsort(v, n, sizeof(v[0]), cmp_u64);
	assert_true(h.count == n);
	assert_true(h.min_ns == v[0]);
	assert_true(h.max_ns == v[n - 1]);
	for (i = 0; i < sizeof(qs) / sizeof(qs[0]); i++) {
		want = exact_pct(v, n, qs[i]);
		got = hist_percentile(&h, qs[i]);
		err = fabs((double)got - (double)want);
		tol = want < 1000 ? 63 : max_rel * (double)want;
		if (err > tol)
			fail_msg("q=%g: got %llu, exact %llu (error %.3f%%, allowed %.3f%%)",
				 qs[i], (unsigned long long)got,
				 (unsigned long long)want,
				 want ? 100 * err / want : 0.0,
				 100 * max_rel);
	}
}

static void test_empty(void **state)
{
	uint64_t slots[HIST_LOG2_SLOTS];
	char *buf = NULL;
	size_t len = 0;
	FILE *f;

	hist_init(&h);
	assert_true(h.count == 0);
	assert_true(hist_percentile(&h, 0.5) == 0);
	assert_true(hist_percentile(&h, 0) == 0);
	assert_true(hist_percentile(&h, 1) == 0);
	assert_true(hist_min(&h) == 0);
	assert_true(hist_mean(&h) == 0);
	assert_int_equal(hist_log2(&h, 1000, slots), 0);
	f = open_memstream(&buf, &len);
	hist_print_log2(f, &h, "usecs");
	fclose(f);
	assert_string_equal(buf, "");	/* bcc prints nothing either */
	free(buf);
}

static void test_single_value(void **state)
{
	uint64_t v = 123456789;	/* 123.456789 ms */

	hist_init(&h);
	hist_add(&h, v);
	assert_true(h.count == 1);
	assert_true(hist_min(&h) == v);
	assert_true(h.max_ns == v);
	assert_true(hist_mean(&h) == v);
	/* one value: every percentile is it, exactly (clamped to min/max) */
	assert_true(hist_percentile(&h, 0.0) == v);
	assert_true(hist_percentile(&h, 0.5) == v);
	assert_true(hist_percentile(&h, 0.99) == v);
	assert_true(hist_percentile(&h, 1.0) == v);
}

static void test_zero(void **state)
{
	uint64_t slots[HIST_LOG2_SLOTS];

	hist_init(&h);
	hist_add(&h, 0);
	hist_add(&h, 0);
	assert_true(h.count == 2);
	assert_true(hist_min(&h) == 0);
	assert_true(h.max_ns == 0);
	assert_true(hist_percentile(&h, 0.5) == 0);
	assert_true(hist_percentile(&h, 0.99) == 0);
	assert_int_equal(hist_log2(&h, 1000, slots), 1);
	assert_true(slots[0] == 2);
}

static void test_uniform(void **state)
{
	enum { N = 100000 };
	static uint64_t v[N];
	size_t i;

	/* 1 us .. 10 s, uniform: interpolation makes it close to exact */
	for (i = 0; i < N; i++)
		v[i] = 1000 + rng() % 10000000000ull;
	check_pcts(v, N, 0.01);
	/* the integers 1..1000 (ns): buckets of 62.5 ns, 63 ns allowed */
	for (i = 0; i < 1000; i++)
		v[i] = i + 1;
	check_pcts(v, 1000, 0);
	/* every value distinct, 0..N-1 ns, all in the linear range first */
	for (i = 0; i < N; i++)
		v[i] = i;
	check_pcts(v, N, 0.01);
}

/* Skewed distributions: within one sub-bucket (1/16), usually much less. */
static void test_known_distributions(void **state)
{
	enum { N = 200000 };
	static uint64_t v[N];
	size_t i;

	/* exponential, mean 5 ms */
	for (i = 0; i < N; i++)
		v[i] = (uint64_t)(-log(rng_unit()) * 5e6);
	check_pcts(v, N, 0.02);
	/* log-normal around 100 us, sigma 2 (spans ns .. s) */
	for (i = 0; i < N; i++)
		v[i] = (uint64_t)(1e5 * exp(2 * sqrt(-2 * log(rng_unit())) *
					    cos(2 * M_PI * rng_unit())));
	check_pcts(v, N, 0.0625);
	/* bimodal: 90% ~50 us handshakes, 10% ~61 s TIME_WAIT */
	for (i = 0; i < N; i++)
		v[i] = i % 10 ? 40000 + rng() % 20000 :
				61000000000ull + rng() % 1000000000ull;
	check_pcts(v, N, 0.0625);
	/* a point mass: exact, thanks to the clamp to min/max */
	for (i = 0; i < N; i++)
		v[i] = 61550000000ull;
	check_pcts(v, N, 0);
}

/* The bound itself: worst case over adversarial placements in a bucket. */
static void test_error_bound(void **state)
{
	uint64_t lo, got;
	int e;

	for (e = 0; e < 50; e++) {
		lo = 1000ull << e;
		hist_init(&h);
		/* many values at a bucket's bottom, one far above: p50 is lo */
		hist_add(&h, lo);
		hist_add(&h, lo);
		hist_add(&h, lo + (lo >> 4) - 1);
		hist_add(&h, lo * 100);
		got = hist_percentile(&h, 0.5);
		assert_true(got >= lo);
		assert_true((double)(got - lo) < lo / 16.0);
	}
}

static void test_percentile_edges(void **state)
{
	hist_init(&h);
	hist_add(&h, 5000);
	hist_add(&h, 7000000);
	assert_true(hist_percentile(&h, -1) == 5000);
	assert_true(hist_percentile(&h, NAN) == 5000);
	/* within the sub-bucket of the exact value */
	assert_true(hist_percentile(&h, 0.5) >= 5000);
	assert_true(hist_percentile(&h, 0.5) < 5000 + 5000 / 16);
	assert_true(hist_percentile(&h, 0.51) <= 7000000);
	assert_true(hist_percentile(&h, 0.51) > 7000000 - 7000000 / 16);
	assert_true(hist_percentile(&h, 2) == 7000000);
}

static void test_merge(void **state)
{
	enum { N = 50000 };
	static uint64_t v[N];
	static struct hist all;
	size_t i;

	hist_init(&h);
	hist_init(&h2);
	hist_init(&all);
	for (i = 0; i < N; i++) {
		v[i] = rng() % 1000000000ull;
		hist_add(i % 3 ? &h : &h2, v[i]);
		hist_add(&all, v[i]);
	}
	hist_merge(&h, &h2);
	assert_memory_equal(&h, &all, sizeof(h));
	/* merging an empty one changes nothing (min stays) */
	hist_init(&h2);
	hist_merge(&h, &h2);
	assert_memory_equal(&h, &all, sizeof(h));
	/* into an empty one: a copy */
	hist_init(&h2);
	hist_merge(&h2, &all);
	assert_memory_equal(&h2, &all, sizeof(h2));
	(void)v;
}

static void test_huge_values(void **state)
{
	uint64_t slots[HIST_LOG2_SLOTS], got;
	int used;

	hist_init(&h);
	hist_add(&h, 3 * DAY_NS);
	hist_add(&h, 3 * DAY_NS + 1);
	hist_add(&h, 40 * DAY_NS);
	hist_add(&h, UINT64_MAX);
	hist_add(&h, UINT64_MAX);
	assert_true(h.count == 5);
	assert_true(h.max_ns == UINT64_MAX);
	assert_true(hist_percentile(&h, 1) == UINT64_MAX);
	got = hist_percentile(&h, 0.2);
	assert_true(got >= 3 * DAY_NS && got - 3 * DAY_NS < 3 * DAY_NS / 16);
	got = hist_percentile(&h, 0.6);
	assert_true(got >= 40 * DAY_NS - 40 * DAY_NS / 16 &&
		    got <= 40 * DAY_NS + 40 * DAY_NS / 16);
	got = hist_percentile(&h, 0.99);
	assert_true(got > UINT64_MAX - UINT64_MAX / 16);
	/* the sum does not wrap */
	assert_true(h.sum_ns == (unsigned __int128)UINT64_MAX * 2 +
				     46 * DAY_NS + 1);
	/* 3 days = 2.6e11 us: slot 37; UINT64_MAX ns = 1.8e16 us: slot 54 */
	used = hist_log2(&h, 1000, slots);
	assert_int_equal(used, HIST_LOG2_SLOTS);
	assert_true(slots[37] == 2);
	assert_true(slots[41] == 1);	/* 40 days = 3.5e12 us */
	assert_true(slots[54] == 2);
}

/* The log2 usecs view is exact at every slot edge. */
static void test_log2_edges(void **state)
{
	uint64_t slots[HIST_LOG2_SLOTS], us;
	int k;

	for (k = 1; k < 54; k++) {
		us = 1ull << k;
		hist_init(&h);
		hist_add(&h, us * 1000 - 1);	/* last ns of slot k-1 */
		hist_add(&h, us * 1000);	/* first ns of slot k */
		hist_add(&h, (2 * us) * 1000 - 1);	/* last ns of slot k */
		hist_log2(&h, 1000, slots);
		assert_true(slots[k - 1] == 1);
		assert_true(slots[k] == 2);
	}
	/* slot 0 is 0..1 us: 0 ns to 1999 ns */
	hist_init(&h);
	hist_add(&h, 0);
	hist_add(&h, 999);
	hist_add(&h, 1999);
	hist_add(&h, 2000);
	hist_log2(&h, 1000, slots);
	assert_true(slots[0] == 3);
	assert_true(slots[1] == 1);
}

static void test_print_log2(void **state)
{
	static const char want[] =
		"     usecs               : count    distribution\n"
		"         0 -> 1          : 1        |**********                              |\n"
		"         2 -> 3          : 0        |                                        |\n"
		"         4 -> 7          : 4        |****************************************|\n"
		"         8 -> 15         : 2        |********************                    |\n"
		"        16 -> 31         : 0        |                                        |\n"
		"        32 -> 63         : 1        |**********                              |\n";
	char *buf = NULL;
	size_t len = 0;
	FILE *f;

	hist_init(&h);
	hist_add(&h, 500);		/* 0 us */
	hist_add(&h, 4000);		/* 4 us */
	hist_add(&h, 5500);
	hist_add(&h, 6000);
	hist_add(&h, 7999);		/* still 7 us */
	hist_add(&h, 8000);		/* 8 us */
	hist_add(&h, 15999);
	hist_add(&h, 63999);		/* 63 us */
	f = open_memstream(&buf, &len);
	hist_print_log2(f, &h, "usecs");
	fclose(f);
	assert_string_equal(buf, want);
	free(buf);
}

static void test_print_log2_msecs(void **state)
{
	static const char want[] =
		"     msecs               : count    distribution\n"
		"         0 -> 1          : 2        |****************************************|\n"
		"         2 -> 3          : 1        |********************                    |\n";
	char *buf = NULL;
	size_t len = 0;
	FILE *f;

	hist_init(&h);
	hist_add(&h, 10000);		/* 0.01 ms */
	hist_add(&h, 1000000);		/* 1 ms */
	hist_add(&h, 3000000);		/* 3 ms */
	f = open_memstream(&buf, &len);
	hist_print_log2(f, &h, "msecs");
	fclose(f);
	assert_string_equal(buf, want);
	free(buf);
}

static void test_json(void **state)
{
	struct json j;
	char *buf = NULL;
	size_t len = 0;
	FILE *f;

	hist_init(&h);
	hist_add(&h, 1500);
	hist_add(&h, 1500);
	hist_add(&h, 5000);
	hist_init(&h2);
	f = open_memstream(&buf, &len);
	json_init(&j, f);
	json_begin_object(&j);
	json_str(&j, "state", "SYN_SENT");
	hist_json(&j, "time", &h);
	hist_json(&j, "empty", &h2);
	json_end_object(&j);
	json_end_line(&j);
	fclose(f);
	assert_string_equal(buf,
		"{\"state\":\"SYN_SENT\",\"time\":{\"count\":3,\"min_ns\":1500,"
		"\"p50_ns\":1546,\"p90_ns\":5000,\"p99_ns\":5000,\"max_ns\":5000,"
		"\"mean_ns\":2666,\"buckets\":[{\"low_us\":0,\"high_us\":1,\"count\":2},"
		"{\"low_us\":4,\"high_us\":7,\"count\":1}]},"
		"\"empty\":{\"count\":0,\"min_ns\":null,\"p50_ns\":null,"
		"\"p90_ns\":null,\"p99_ns\":null,\"max_ns\":null,\"mean_ns\":null,"
		"\"buckets\":[]}}\n");
	free(buf);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_empty),
		cmocka_unit_test(test_single_value),
		cmocka_unit_test(test_zero),
		cmocka_unit_test(test_uniform),
		cmocka_unit_test(test_known_distributions),
		cmocka_unit_test(test_error_bound),
		cmocka_unit_test(test_percentile_edges),
		cmocka_unit_test(test_merge),
		cmocka_unit_test(test_huge_values),
		cmocka_unit_test(test_log2_edges),
		cmocka_unit_test(test_print_log2),
		cmocka_unit_test(test_print_log2_msecs),
		cmocka_unit_test(test_json),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
