// SPDX-License-Identifier: GPL-2.0 OR BSD-2-Clause
/* The pipeline's loop step: the reorder buffer and the engine together. */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <stdio.h>
#include <string.h>
#include <cmocka.h>
#include "evfixture.h"
#include "engine.h"
#include "pipeline.h"
#include "tcpstate.h"

#define MS 1000000ull

static struct conn closed[8];
static int nclosed;

static void on_closed(void *ctx, const struct conn *c)
{
	(void)ctx;
	assert_true(nclosed < 8);
	closed[nclosed++] = *c;
}

/* 127.0.0.1:sport -> 127.0.0.1:dport */
#define ev loopback_event

static void push(struct pipe *p, struct tcpfsm_event e)
{
	assert_int_equal(pipe_push(p, &e), 0);
}

/*
 * A request's timer is removed (its child is being made), then another
 * socket's connect waits in the reorder buffer for its port, holding back
 * the child's record behind it. A step past the removal's grace must not
 * settle the request as dropped while the record that joins it is held:
 * the child is the request's, passive and whole.
 */
static void test_step_does_not_settle_past_a_held_connect(void **state)
{
	struct engine_cb cb = { .closed = on_closed };
	struct tcpfsm_event req;
	struct pipe_opts o;
	struct pipe *p;

	pipe_opts_init(&o, "test");
	nclosed = 0;
	p = pipe_new(&o, &cb, stdout);
	assert_non_null(p);

	push(p, ev(TCPFSM_EV_STATE, 5, 1 * MS, TCPFSM_ST_CLOSE, TCPFSM_ST_LISTEN, 8080, 0));
	req = ev(TCPFSM_EV_REQ_START, 0, 10 * MS, 0, TCPFSM_ST_SYN_RECV, 8080, 40000);
	req.aux = 5;	/* the listener's cookie */
	push(p, req);
	push(p, ev(TCPFSM_EV_REQ_CANCEL, 0, 12 * MS, 0, TCPFSM_ST_SYN_RECV, 8080, 40000));
	/* another socket's connect(), its port not known yet */
	push(p, ev(TCPFSM_EV_STATE, 7, 12 * MS + 500000, TCPFSM_ST_CLOSE,
		    TCPFSM_ST_SYN_SENT, 0, 9999));
	push(p, ev(TCPFSM_EV_STATE, 9, 13 * MS, TCPFSM_ST_SYN_RECV,
		    TCPFSM_ST_ESTABLISHED, 8080, 40000));
	/* 28 ms after the removal: past its 20 ms grace */
	pipe_step(p, 40 * MS);
	assert_int_equal(pipe_pending(p), 2);
	assert_int_equal(nclosed, 0);
	/* the connect's next record brings its port (a far peer: 100 ms) */
	push(p, ev(TCPFSM_EV_STATE, 7, 100 * MS, TCPFSM_ST_SYN_SENT,
		    TCPFSM_ST_ESTABLISHED, 41000, 9999));
	pipe_step(p, 120 * MS);
	assert_int_equal(pipe_pending(p), 0);
	push(p, ev(TCPFSM_EV_STATE, 9, 150 * MS, TCPFSM_ST_ESTABLISHED,
		    TCPFSM_ST_CLOSE, 8080, 40000));
	pipe_step(p, 300 * MS);
	pipe_flush(p);

	assert_int_equal(nclosed, 1);
	assert_int_equal(closed[0].cookie, 9);
	assert_int_equal(closed[0].open_kind, OPEN_PASSIVE);
	assert_int_equal(closed[0].path_state[0], TCPFSM_ST_SYN_RECV);
	assert_int_equal(closed[0].path_since[0], 10 * MS);	/* the SYN */
	assert_false(conn_incomplete(&closed[0]));
	pipe_free(p);
	(void)state;
}

/*
 * --lport: a connect is recorded before its port is picked, and passes;
 * the record that shows its port (the BPF side sends it even when the
 * filter drops it) makes the pipeline drop both, or forget the connection
 * when the connect had already gone to the engine: nothing the filters do
 * not select stays tracked.
 */
static void test_filtered_connect_is_not_tracked(void **state)
{
	struct engine_cb cb = { .closed = on_closed };
	struct pipe_opts o;
	struct pipe *p;

	pipe_opts_init(&o, "test");
	o.filter.n_lports = 1;
	o.filter.lports[0] = 8080;
	nclosed = 0;
	p = pipe_new(&o, &cb, stdout);
	assert_non_null(p);

	/* its port comes while the connect is held: both dropped */
	push(p, ev(TCPFSM_EV_STATE, 7, 1 * MS, TCPFSM_ST_CLOSE, TCPFSM_ST_SYN_SENT, 0, 9999));
	push(p, ev(TCPFSM_EV_STATE, 7, 2 * MS, TCPFSM_ST_SYN_SENT,
		    TCPFSM_ST_ESTABLISHED, 41000, 9999));
	pipe_step(p, 10 * MS);
	assert_int_equal(pipe_engine_stats(p)->events, 0);
	assert_int_equal(pipe_engine_stats(p)->conns, 0);
	assert_int_equal(pipe_filtered(p), 2);

	/* a far peer: the connect leaves the hold unpatched, and is tracked */
	push(p, ev(TCPFSM_EV_STATE, 8, 20 * MS, TCPFSM_ST_CLOSE, TCPFSM_ST_SYN_SENT, 0, 9999));
	pipe_step(p, 500 * MS);
	assert_int_equal(pipe_engine_stats(p)->conns, 1);
	/* until its port shows: forgotten, and nothing said of it */
	push(p, ev(TCPFSM_EV_STATE, 8, 600 * MS, TCPFSM_ST_SYN_SENT,
		    TCPFSM_ST_ESTABLISHED, 41001, 9999));
	pipe_step(p, 700 * MS);
	assert_int_equal(pipe_engine_stats(p)->conns, 0);
	assert_int_equal(pipe_engine_stats(p)->forgotten, 1);
	assert_int_equal(pipe_filtered(p), 3);

	/* one it selects is tracked whole */
	push(p, ev(TCPFSM_EV_STATE, 9, 800 * MS, TCPFSM_ST_CLOSE, TCPFSM_ST_SYN_SENT, 0, 9999));
	push(p, ev(TCPFSM_EV_STATE, 9, 801 * MS, TCPFSM_ST_SYN_SENT,
		    TCPFSM_ST_ESTABLISHED, 8080, 9999));
	push(p, ev(TCPFSM_EV_STATE, 9, 802 * MS, TCPFSM_ST_ESTABLISHED,
		    TCPFSM_ST_CLOSE, 8080, 9999));
	pipe_step(p, 900 * MS);
	pipe_flush(p);
	assert_int_equal(nclosed, 1);
	assert_int_equal(closed[0].cookie, 9);
	assert_int_equal(closed[0].path_state[0], TCPFSM_ST_SYN_SENT);
	assert_false(conn_incomplete(&closed[0]));
	assert_int_equal(pipe_filtered(p), 3);
	pipe_free(p);
	(void)state;
}

/* A recording replayed with --port: what the commands get, and the engine. */
#define FIXTURE "tests/data/replay/loopback.bin"

static uint16_t want_port;
static int ntrans, nother;
static uint64_t peak;

static void count_transition(void *ctx, const struct transition *t)
{
	struct pipe *p = ctx;
	uint64_t n = pipe_engine_stats(p)->peak_conns;

	if (n > peak)
		peak = n;
	if (t->conn->t.sport == want_port || t->conn->t.dport == want_port)
		ntrans++;
	else
		nother++;
}

static struct engine_stats final_stats;

static void keep_stats(struct pipe *p, uint64_t now_ns, bool final)
{
	(void)now_ns;
	if (final)
		final_stats = *pipe_engine_stats(p);
}

static void replay_opt(int opt, const char *arg, int *mine, int *others,
		       uint64_t *peak_conns)
{
	struct engine_cb cb = { .transition = count_transition };
	struct pipe_opts o;

	pipe_opts_init(&o, "trace");
	o.replay_path = FIXTURE;
	o.json = true;
	o.tick = keep_stats;
	if (arg)
		assert_int_equal(pipe_parse_opt(&o, opt, arg), 0);
	ntrans = nother = 0;
	peak = 0;
	memset(&final_stats, 0, sizeof(final_stats));
	assert_int_equal(pipe_run(&o, &cb), 0);
	*mine = ntrans;
	*others = nother;
	*peak_conns = peak;
}

static void replay_with(const char *port, int *mine, int *others, uint64_t *peak_conns)
{
	replay_opt(OPT_PORT, port, mine, others, peak_conns);
}

static void test_replay_selects_once_before_the_engine(void **state)
{
	int all_mine, all_others, mine, others;
	uint64_t all_peak, filtered_peak;

	(void)state;
	want_port = 18081;	/* the IPv6 connection of the recording */
	replay_with(NULL, &all_mine, &all_others, &all_peak);
	replay_with("18081", &mine, &others, &filtered_peak);
	assert_true(all_mine > 0 && all_others > 0);
	assert_int_equal(others, 0);		/* nothing else */
	assert_int_equal(mine, all_mine);	/* nothing lost */
	assert_true(filtered_peak < all_peak);	/* the rest never tracked */
}

/*
 * --comm: a connection is forgotten as soon as its owner is known and not
 * selected, and its later records never reach the engine; one whose owner
 * is selected is tracked and shown whole.
 */
static void test_owner_rejected_is_forgotten(void **state)
{
	int all_mine, all_others, mine, others;
	uint64_t all_peak, rejected_peak;
	struct engine_stats all;

	(void)state;
	want_port = 18081;
	replay_opt(0, NULL, &all_mine, &all_others, &all_peak);
	all = final_stats;
	assert_int_equal(all.forgotten, 0);
	/* the recording's driver */
	replay_opt(OPT_COMM, "python3", &mine, &others, &rejected_peak);
	assert_int_equal(mine, all_mine);
	assert_int_equal(others, all_others);
	assert_int_equal(final_stats.forgotten, 0);
	replay_opt(OPT_COMM, "nosuchcomm", &mine, &others, &rejected_peak);
	assert_int_equal(mine + others, 0);
	/* every connection but the listeners, once its owner showed */
	assert_true(final_stats.forgotten > 0);
	assert_true(final_stats.events < all.events);
	assert_true(final_stats.conns <= 2);	/* the listeners */
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_step_does_not_settle_past_a_held_connect),
		cmocka_unit_test(test_filtered_connect_is_not_tracked),
		cmocka_unit_test(test_replay_selects_once_before_the_engine),
		cmocka_unit_test(test_owner_rejected_is_forgotten),
	};

	return cmocka_run_group_tests_name("pipeline", tests, NULL, NULL);
}
