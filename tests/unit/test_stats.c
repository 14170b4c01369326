// SPDX-License-Identifier: GPL-2.0 OR BSD-2-Clause
/*
 * tcpfsm stats' accounting and printing, fed synthetic transitions. stats.c
 * is compiled in here (its functions are static); its command entry point is
 * renamed so that it does not clash with the library's.
 */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <cmocka.h>

#define cmd_stats stats_cmd_under_test
#include "stats.c"

#define MS 1000000ull

struct fixture {
	struct stats S;
	struct pipe *p;
	FILE *out;
	struct conn c;
	char *buf;
	size_t len;
};

static void setup(struct fixture *f, enum group_by by, bool json)
{
	struct pipe_opts o;

	memset(f, 0, sizeof(*f));
	assert_int_equal(u64map_init(&f->S.index, 64, MAX_GROUPS + 1), 0);
	f->S.by = by;
	pipe_opts_init(&o, "stats");
	o.priv = &f->S;
	o.json = json;
	o.ts_mode = TS_MONO;
	f->out = open_memstream(&f->buf, &f->len);
	assert_non_null(f->out);
	f->p = pipe_new(&o, NULL, f->out);
	assert_non_null(f->p);
	f->c.cookie = 9;
	f->c.t.family = 2;
	f->c.t.sport = 8080;
	f->c.t.dport = 40000;
}

static void teardown(struct fixture *f)
{
	reset(&f->S);
	free(f->S.groups);
	u64map_free(&f->S.index);
	pipe_free(f->p);
	fclose(f->out);
	free(f->buf);
}

static void add(struct fixture *f, uint8_t old, uint64_t ns, uint8_t known)
{
	struct transition t = {
		.ts_ns = 10 * MS,
		.prev_ns = ns,
		.conn = &f->c,
		.oldstate = old,
		.newstate = TCPFSM_ST_CLOSE,
		.prev_known = known,
	};

	on_transition(f->p, &t);
}

static const char *print(struct fixture *f)
{
	print_all(f->p, 20 * MS);
	fflush(f->out);
	return f->buf;
}

/* A state seen only as lower bounds still shows its lower_bound_only count. */
static void test_json_lower_bound_only_state(void **state)
{
	struct fixture f;
	const char *out;

	setup(&f, BY_NONE, true);
	add(&f, TCPFSM_ST_CLOSE_WAIT, 5 * MS, DUR_LOWER_BOUND);
	add(&f, TCPFSM_ST_CLOSE_WAIT, 6 * MS, DUR_LOWER_BOUND);
	add(&f, TCPFSM_ST_ESTABLISHED, 7 * MS, DUR_EXACT);
	out = print(&f);
	assert_non_null(strstr(out, "\"state\":\"ESTABLISHED\",\"lower_bound_only\":0,"
				    "\"hist\":{\"count\":1,"));
	assert_non_null(strstr(out, "\"state\":\"CLOSE_WAIT\",\"lower_bound_only\":2,"
				    "\"hist\":{\"count\":0,\"min_ns\":null"));
	teardown(&f);
}

/* In a table, lower bounds alone make no (empty) table under a header. */
static void test_text_lower_bound_only_group(void **state)
{
	struct fixture f;
	const char *out;

	setup(&f, BY_LPORT, false);
	add(&f, TCPFSM_ST_CLOSE_WAIT, 5 * MS, DUR_LOWER_BOUND);
	out = print(&f);
	assert_null(strstr(out, "lport 8080:"));
	assert_null(strstr(out, "STATE"));
	assert_non_null(strstr(out, "(no completed states yet)"));
	teardown(&f);

	/* a group with a sample beside one with lower bounds only */
	setup(&f, BY_LPORT, false);
	add(&f, TCPFSM_ST_CLOSE_WAIT, 5 * MS, DUR_LOWER_BOUND);
	f.c.t.sport = 8081;
	add(&f, TCPFSM_ST_ESTABLISHED, 7 * MS, DUR_EXACT);
	out = print(&f);
	assert_null(strstr(out, "lport 8080:"));
	assert_non_null(strstr(out, "lport 8081:"));
	assert_non_null(strstr(out, "ESTABLISHED"));
	assert_null(strstr(out, "(no completed states yet)"));
	teardown(&f);
}

/*
 * --interval's next print is the first boundary after now, however far the
 * recording's clock jumps: to the end of time too, where walking one
 * interval at a time ran for hours, then forever once it wrapped. (SIGALRM
 * ends the test if it does.)
 */
static void test_interval_after_a_clock_jump(void **state)
{
	struct fixture f;

	setup(&f, BY_NONE, false);
	f.S.interval_ns = 100 * MS;
	pipe_set_clock(f.p, 1000 * MS, 0);
	alarm(10);
	tick(f.p, 2000 * MS, false);	/* prints */
	assert_int_equal(f.S.next_print_ns, 2100 * MS);
	tick(f.p, 2050 * MS, false);	/* before the boundary: nothing */
	assert_int_equal(f.S.next_print_ns, 2100 * MS);
	tick(f.p, 5050 * MS, false);	/* 29 boundaries passed */
	assert_int_equal(f.S.next_print_ns, 5100 * MS);
	assert_int_equal(f.S.period_start_ns, 5050 * MS);
	tick(f.p, 5100 * MS, false);	/* on one: the next */
	assert_int_equal(f.S.next_print_ns, 5200 * MS);
	/* centuries on, then to the end of time: no boundary fits after it */
	tick(f.p, (UINT64_MAX >> 1) + 7, false);
	assert_true(f.S.next_print_ns > (UINT64_MAX >> 1) + 7);
	assert_true(f.S.next_print_ns - ((UINT64_MAX >> 1) + 7) <= 100 * MS);
	assert_int_equal(f.S.next_print_ns % (100 * MS), 5200 * MS % (100 * MS));
	tick(f.p, UINT64_MAX - 5, false);
	assert_int_equal(f.S.next_print_ns, UINT64_MAX);
	tick(f.p, UINT64_MAX, false);
	assert_int_equal(f.S.next_print_ns, UINT64_MAX);
	alarm(0);
	teardown(&f);
	(void)state;
}

/* A recording that starts at the end of time: the first boundary saturates. */
static void test_interval_from_the_end_of_time(void **state)
{
	struct fixture f;

	setup(&f, BY_NONE, false);
	f.S.interval_ns = 100 * MS;
	pipe_set_clock(f.p, UINT64_MAX - 1, 0);
	tick(f.p, 0, false);
	assert_int_equal(f.S.next_print_ns, UINT64_MAX);
	fflush(f.out);
	assert_int_equal(f.len, 0);	/* nothing printed yet */
	teardown(&f);
	(void)state;
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_json_lower_bound_only_state),
		cmocka_unit_test(test_text_lower_bound_only_group),
		cmocka_unit_test(test_interval_after_a_clock_jump),
		cmocka_unit_test(test_interval_from_the_end_of_time),
	};

	return cmocka_run_group_tests_name("stats", tests, NULL, NULL);
}
