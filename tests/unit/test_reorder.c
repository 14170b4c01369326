// SPDX-License-Identifier: GPL-2.0 OR BSD-2-Clause
/* The reorder buffer: timestamp order across CPUs, connect ports filled in. */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <string.h>
#include <cmocka.h>
#include "evfixture.h"
#include "reorder.h"

static struct tcpfsm_event out[64];
static int nout;

static void collect(void *ctx, const struct tcpfsm_event *e)
{
	(void)ctx;
	assert_true(nout < 64);
	out[nout++] = *e;
}

static void count_only(void *ctx, const struct tcpfsm_event *e)
{
	(void)e;
	(*(size_t *)ctx)++;
}

static struct tcpfsm_event ev(uint64_t ts, uint64_t cookie, uint8_t old,
			      uint8_t new, uint16_t sport)
{
	return loopback_event(TCPFSM_EV_STATE, cookie, ts, old, new, sport, 0);
}

static void test_sorts_and_holds_until_watermark(void **state)
{
	struct reorder r;
	uint64_t ts[] = { 30, 10, 20, 50, 40 };
	int i;

	assert_int_equal(reorder_init(&r, 1000), 0);
	nout = 0;
	for (i = 0; i < 5; i++) {
		struct tcpfsm_event e = ev(ts[i], 100 + i, 1, 4, 1);

		reorder_push(&r, &e);
	}
	assert_int_equal(reorder_release(&r, 35, collect, NULL, NULL), 3);
	assert_int_equal(out[0].ts_ns, 10);
	assert_int_equal(out[1].ts_ns, 20);
	assert_int_equal(out[2].ts_ns, 30);
	assert_int_equal(reorder_pending(&r), 2);
	/* a late record older than what is pending still sorts in */
	{
		struct tcpfsm_event e = ev(36, 200, 1, 4, 1);

		reorder_push(&r, &e);
	}
	assert_int_equal(reorder_flush(&r, collect, NULL), 3);
	assert_int_equal(out[3].ts_ns, 36);
	assert_int_equal(out[4].ts_ns, 40);
	assert_int_equal(out[5].ts_ns, 50);
	reorder_free(&r);
}

static void test_connect_port_is_patched(void **state)
{
	struct reorder r;
	struct tcpfsm_event syn = ev(10, 7, TCPFSM_ST_CLOSE, TCPFSM_ST_SYN_SENT, 0);
	struct tcpfsm_event other = ev(15, 8, 1, 4, 99);
	struct tcpfsm_event est = ev(20, 7, TCPFSM_ST_SYN_SENT, TCPFSM_ST_ESTABLISHED, 40000);

	assert_int_equal(reorder_init(&r, 1000), 0);
	nout = 0;
	reorder_push(&r, &syn);
	reorder_push(&r, &other);
	/* the connect waits for its port, and holds back what follows it */
	assert_int_equal(reorder_release(&r, 16, collect, NULL, NULL), 0);
	reorder_push(&r, &est);
	assert_int_equal(reorder_release(&r, 16, collect, NULL, NULL), 2);
	assert_int_equal(out[0].sport, 40000);
	assert_int_equal(out[0].newstate, TCPFSM_ST_SYN_SENT);
	assert_int_equal(out[1].cookie, 8);
	assert_int_equal(r.patched, 1);
	reorder_free(&r);
}

static void test_connect_without_port_released_after_hold(void **state)
{
	struct reorder r;
	struct tcpfsm_event syn = ev(10, 7, TCPFSM_ST_CLOSE, TCPFSM_ST_SYN_SENT, 0);

	assert_int_equal(reorder_init(&r, 1000), 0);
	nout = 0;
	reorder_push(&r, &syn);
	assert_int_equal(reorder_release(&r, 500, collect, NULL, NULL), 0);
	assert_int_equal(reorder_release(&r, 1010, collect, NULL, NULL), 1);
	assert_int_equal(out[0].sport, 0);
	assert_int_equal(r.unpatched, 1);
	reorder_free(&r);
}

static void test_grows(void **state)
{
	struct reorder r;
	size_t n = 0;
	int i;

	assert_int_equal(reorder_init(&r, 1000), 0);
	for (i = 0; i < 10000; i++) {
		struct tcpfsm_event e = ev(i / 2 * 2 + (i & 1 ? 0 : 1), 1, 1, 4, 1);

		assert_int_equal(reorder_push(&r, &e), 0);
	}
	assert_int_equal(reorder_pending(&r), 10000);
	assert_int_equal(r.nlate, 0);	/* pairs swapped: one move each */
	assert_int_equal(r.moved, 5000);
	assert_int_equal(r.ev[r.head].ts_ns, 0);
	assert_int_equal(r.ev[r.tail - 1].ts_ns, 9999);
	assert_int_equal(reorder_flush(&r, count_only, &n), 10000);
	reorder_free(&r);
}

static uint64_t last_ts;
static size_t nsorted, nunsorted;

static void check_order(void *ctx, const struct tcpfsm_event *e)
{
	(void)ctx;
	if (e->ts_ns >= last_ts)
		nsorted++;
	else
		nunsorted++;
	last_ts = e->ts_ns;
}

/*
 * A recording can hold anything: 200,000 records in reverse order (each
 * older than all before it) sort in with a bounded number of moves, not a
 * walk of everything pending each (2e10 moves), and come out sorted, also
 * when released in steps and mixed with records in order.
 */
static void test_far_out_of_order_is_not_quadratic(void **state)
{
	const int n = 200000;
	struct reorder r;
	int i;

	assert_int_equal(reorder_init(&r, 1000), 0);
	for (i = 0; i < n; i++) {
		/* every third in order (from 10^9 up), the rest in reverse */
		uint64_t ts = i % 3 ? (uint64_t)(n - i) * 1000 : 1000000000ull + i;
		struct tcpfsm_event e = ev(ts, 1, 1, 4, 1);

		assert_int_equal(reorder_push(&r, &e), 0);
	}
	assert_true(r.moved <= (uint64_t)n * REORDER_STRAGGLE);
	assert_int_equal(reorder_pending(&r), n);
	last_ts = 0;
	nsorted = nunsorted = 0;
	reorder_release(&r, (uint64_t)n / 2 * 1000, check_order, NULL, NULL);
	reorder_release(&r, 1000000000ull + n / 2, check_order, NULL, NULL);
	reorder_flush(&r, check_order, NULL);
	assert_int_equal(nsorted, n);
	assert_int_equal(nunsorted, 0);
	assert_int_equal(reorder_pending(&r), 0);
	reorder_free(&r);
}

/*
 * Connects bound before connect() (their port known all along) must leave
 * nothing behind that could crowd out the port an unbound one waits for.
 */
static void test_bound_connects_do_not_crowd_out_a_port(void **state)
{
	struct reorder r;
	size_t n = 0;
	struct tcpfsm_event syn = ev(10000, 7, TCPFSM_ST_CLOSE, TCPFSM_ST_SYN_SENT, 0);
	struct tcpfsm_event est = ev(10001, 7, TCPFSM_ST_SYN_SENT,
				     TCPFSM_ST_ESTABLISHED, 4242);
	uint64_t i;

	assert_int_equal(reorder_init(&r, 1000), 0);
	reorder_push(&r, &syn);
	for (i = 1; i <= 4500; i++) {
		struct tcpfsm_event b = ev(i, 100 + i, TCPFSM_ST_SYN_SENT,
					   TCPFSM_ST_ESTABLISHED, 20000);

		reorder_push(&r, &b);
	}
	reorder_push(&r, &est);
	/* the 4500 others sort before the connect and go */
	assert_int_equal(reorder_release(&r, 9000, count_only, &n, NULL), 4500);
	assert_int_equal(n, 4500);
	assert_int_equal(r.ports.count, 1); /* only the connect waits */
	nout = 0;
	assert_int_equal(reorder_release(&r, 10000 + 1000 + 1, collect, NULL, NULL), 2);
	assert_int_equal(out[0].cookie, 7);
	assert_int_equal(out[0].sport, 4242);
	assert_int_equal(r.patched, 1);
	assert_int_equal(r.ports.count, 0); /* and nothing lingers */
	reorder_free(&r);
}

/*
 * One socket connecting again (connect() after a refused one) before its
 * first connect is released: each connect gets the port its own attempt
 * picked, not the next attempt's, nor 0.
 */
static void test_reconnect_of_one_socket_keeps_each_port(void **state)
{
	struct reorder r;
	struct tcpfsm_event evs[] = {
		ev(10, 7, TCPFSM_ST_CLOSE, TCPFSM_ST_SYN_SENT, 0),
		ev(20, 7, TCPFSM_ST_SYN_SENT, TCPFSM_ST_CLOSE, 40000),
		ev(30, 7, TCPFSM_ST_CLOSE, TCPFSM_ST_SYN_SENT, 0),
		ev(40, 7, TCPFSM_ST_SYN_SENT, TCPFSM_ST_CLOSE, 40001),
		/* a third attempt that never learns its port */
		ev(50, 7, TCPFSM_ST_CLOSE, TCPFSM_ST_SYN_SENT, 0),
		ev(60, 7, TCPFSM_ST_SYN_SENT, TCPFSM_ST_CLOSE, 0),
		ev(70, 7, TCPFSM_ST_CLOSE, TCPFSM_ST_SYN_SENT, 0),
		ev(80, 7, TCPFSM_ST_SYN_SENT, TCPFSM_ST_ESTABLISHED, 40003),
	};
	size_t i;

	assert_int_equal(reorder_init(&r, 1000), 0);
	nout = 0;
	for (i = 0; i < sizeof(evs) / sizeof(evs[0]); i++)
		assert_int_equal(reorder_push(&r, &evs[i]), 0);
	/* nothing waits in vain: all is known before the hold runs out */
	assert_int_equal(reorder_release(&r, 100, collect, NULL, NULL), 8);
	assert_int_equal(out[0].sport, 40000);
	assert_int_equal(out[2].sport, 40001);
	assert_int_equal(out[4].sport, 0);
	assert_int_equal(out[6].sport, 40003);
	assert_int_equal(r.patched, 3);
	assert_int_equal(r.unpatched, 1);
	assert_int_equal(r.ports.count, 0);
	reorder_free(&r);
}

/*
 * How far the released stream is complete: the watermark, or just before
 * a connect held for its port (what follows it is held too).
 */
static void test_release_says_how_far_the_stream_is_complete(void **state)
{
	struct reorder r;
	struct tcpfsm_event a = ev(10, 8, 1, 4, 99);
	struct tcpfsm_event syn = ev(20, 7, TCPFSM_ST_CLOSE, TCPFSM_ST_SYN_SENT, 0);
	struct tcpfsm_event b = ev(30, 9, 1, 4, 98);
	struct tcpfsm_event est = ev(60, 7, TCPFSM_ST_SYN_SENT, TCPFSM_ST_ESTABLISHED, 40000);
	uint64_t upto = 0;

	assert_int_equal(reorder_init(&r, 1000), 0);
	nout = 0;
	assert_int_equal(reorder_release(&r, 5, collect, NULL, &upto), 0);
	assert_int_equal(upto, 5);	/* nothing pending: all up to the watermark */
	reorder_push(&r, &a);
	reorder_push(&r, &syn);
	reorder_push(&r, &b);
	assert_int_equal(reorder_release(&r, 50, collect, NULL, &upto), 1);
	assert_int_equal(upto, 19);	/* held at the connect */
	reorder_push(&r, &est);
	assert_int_equal(reorder_release(&r, 50, collect, NULL, &upto), 2);
	assert_int_equal(upto, 50);
	assert_int_equal(out[1].sport, 40000);
	/* a connect whose port never comes: held until its hold runs out */
	syn.ts_ns = 100;
	syn.cookie = 11;
	reorder_push(&r, &syn);
	assert_int_equal(reorder_release(&r, 1099, collect, NULL, &upto), 1); /* est */
	assert_int_equal(upto, 99);
	assert_int_equal(reorder_release(&r, 1100, collect, NULL, &upto), 1);
	assert_int_equal(upto, 1100);
	reorder_free(&r);
	(void)state;
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_sorts_and_holds_until_watermark),
		cmocka_unit_test(test_connect_port_is_patched),
		cmocka_unit_test(test_connect_without_port_released_after_hold),
		cmocka_unit_test(test_grows),
		cmocka_unit_test(test_far_out_of_order_is_not_quadratic),
		cmocka_unit_test(test_bound_connects_do_not_crowd_out_a_port),
		cmocka_unit_test(test_reconnect_of_one_socket_keeps_each_port),
		cmocka_unit_test(test_release_says_how_far_the_stream_is_complete),
	};

	return cmocka_run_group_tests_name("reorder", tests, NULL, NULL);
}
