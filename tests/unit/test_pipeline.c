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

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_step_does_not_settle_past_a_held_connect),
	};

	return cmocka_run_group_tests_name("pipeline", tests, NULL, NULL);
}
