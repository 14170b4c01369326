// SPDX-License-Identifier: GPL-2.0 OR BSD-2-Clause
/* The Prometheus exposition writer: both formats, histograms, escaping. */
#include <errno.h>
#include <math.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <cmocka.h>
#include "prom.h"
#include "serve_bpf.h"

static void test_counter_family_names(void **state)
{
	struct prom p;

	prom_init(&p, false);
	prom_family(&p, "x_events", "counter", NULL, "Events.");
	prom_sample_u64(&p, "x_events", "_total", "a=\"b\"", 3);
	prom_end(&p);
	assert_int_equal(p.err, 0);
	assert_string_equal(p.buf, "# HELP x_events_total Events.\n"
				   "# TYPE x_events_total counter\n"
				   "x_events_total{a=\"b\"} 3\n");
	prom_free(&p);

	/* OpenMetrics: family without _total, units, # EOF */
	prom_init(&p, true);
	prom_family(&p, "x_events", "counter", NULL, "Events.");
	prom_sample_u64(&p, "x_events", "_total", NULL, 3);
	prom_family(&p, "x_age_seconds", "gauge", "seconds", "Age.");
	prom_sample_f(&p, "x_age_seconds", "", "", 1.5);
	prom_end(&p);
	assert_string_equal(p.buf, "# HELP x_events Events.\n"
				   "# TYPE x_events counter\n"
				   "x_events_total 3\n"
				   "# HELP x_age_seconds Age.\n"
				   "# TYPE x_age_seconds gauge\n"
				   "# UNIT x_age_seconds seconds\n"
				   "x_age_seconds 1.5\n"
				   "# EOF\n");
	prom_free(&p);
}

static void test_histogram_cumulative(void **state)
{
	static const double le[3] = { 0.001, 0.01, 0.1 };
	static const uint64_t slot[3] = { 2, 0, 5 };
	struct prom p;

	prom_init(&p, false);
	prom_histogram(&p, "h", "state=\"listen\"", le, slot, 3, 1, 0.25);
	assert_string_equal(p.buf,
			    "h_bucket{state=\"listen\",le=\"0.001\"} 2\n"
			    "h_bucket{state=\"listen\",le=\"0.01\"} 2\n"
			    "h_bucket{state=\"listen\",le=\"0.1\"} 7\n"
			    "h_bucket{state=\"listen\",le=\"+Inf\"} 8\n"
			    "h_sum{state=\"listen\"} 0.25\n"
			    "h_count{state=\"listen\"} 8\n");
	prom_free(&p);
	prom_init(&p, false);
	prom_histogram(&p, "h", NULL, le, slot, 1, 0, 0);
	assert_string_equal(p.buf, "h_bucket{le=\"0.001\"} 2\n"
				   "h_bucket{le=\"+Inf\"} 2\n"
				   "h_sum 0\nh_count 2\n");
	prom_free(&p);
}

static void test_special_values_and_growth(void **state)
{
	struct prom p;
	int i;

	prom_init(&p, false);
	prom_sample_f(&p, "a", "", NULL, INFINITY);
	prom_sample_f(&p, "b", "", NULL, -INFINITY);
	prom_sample_f(&p, "c", "", NULL, NAN);
	prom_sample_i64(&p, "d", "", NULL, -4);
	assert_string_equal(p.buf, "a +Inf\nb -Inf\nc NaN\nd -4\n");
	/* far past the first allocation */
	for (i = 0; i < 10000; i++)
		prom_sample_u64(&p, "some_long_metric_name", "_total", "k=\"v\"", i);
	assert_int_equal(p.err, 0);
	assert_true(p.len > 100000);
	assert_int_equal(strlen(p.buf), p.len);
	prom_free(&p);
}

static void test_label_escape(void **state)
{
	char out[32];

	assert_int_equal(prom_label_escape(out, sizeof(out), "a\\b\"c\nd"), 0);
	assert_string_equal(out, "a\\\\b\\\"c\\nd");
	assert_int_equal(prom_label_escape(out, sizeof(out), ""), 0);
	assert_string_equal(out, "");
	assert_int_equal(prom_label_escape(out, 4, "abcd"), -ENOSPC);
	assert_string_equal(out, "");
	assert_int_equal(prom_label_escape(out, 5, "abcd"), 0);
	assert_int_equal(prom_label_escape(out, 5, "ab\"d"), -ENOSPC);
}

/* The bounds the BPF side's slots stand for (bpf/serve.bpf.c hist_slot). */
static void test_serve_hist_bounds(void **state)
{
	unsigned int i;

	assert_true(fabs(serve_hist_le(0) - 1.5 * 8192e-9) < 1e-15);
	assert_true(fabs(serve_hist_le(1) - 16384e-9) < 1e-15);
	assert_true(fabs(serve_hist_le(2) - 1.5 * 16384e-9) < 1e-15);
	for (i = 1; i < TCPFSM_SERVE_HIST_FINITE; i++)
		assert_true(serve_hist_le(i) > serve_hist_le(i - 1));
	/* tens of microseconds to hours */
	assert_true(serve_hist_le(0) < 20e-6);
	assert_true(serve_hist_le(TCPFSM_SERVE_HIST_FINITE - 1) > 6 * 3600);
	/* the kernel's slot of a value is the first bound above it */
	for (i = 0; i < TCPFSM_SERVE_HIST_FINITE; i++) {
		uint64_t b = (uint64_t)(serve_hist_le(i) * 1e9 + 0.5);

		assert_int_equal(tcpfsm_serve_hist_slot(b - 1), i);
		assert_int_equal(tcpfsm_serve_hist_slot(b), i + 1);
	}
	assert_int_equal(tcpfsm_serve_hist_slot(0), 0);
	assert_int_equal(tcpfsm_serve_hist_slot(UINT64_MAX), TCPFSM_SERVE_HIST_FINITE);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_counter_family_names),
		cmocka_unit_test(test_histogram_cumulative),
		cmocka_unit_test(test_special_values_and_growth),
		cmocka_unit_test(test_label_escape),
		cmocka_unit_test(test_serve_hist_bounds),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
