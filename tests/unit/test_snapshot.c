// SPDX-License-Identifier: GPL-2.0 OR BSD-2-Clause
/*
 * snapshot's ages from a running tcpfsm serve: a socket's storage value
 * (struct tcpfsm_serve_sk, as sock_diag returns it) gives its age only
 * for the state the kernel reports now.
 */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <string.h>
#include <cmocka.h>
#include "snapshot_impl.h"

static void test_serve_since(void **state)
{
	struct tcpfsm_serve_sk v = { .since_ns = 123456789, .state = TCPFSM_ST_CLOSE_WAIT };
	struct diag_sock s = { .state = TCPFSM_ST_CLOSE_WAIT };

	(void)state;
	assert_int_equal(snap_serve_since(&s), 0);	/* none asked, or none */
	s.storage = &v;
	s.storage_len = sizeof(v);
	assert_int_equal(snap_serve_since(&s), 123456789);
	/* storage from a state the socket has left (changed during the dump) */
	s.state = TCPFSM_ST_LAST_ACK;
	assert_int_equal(snap_serve_since(&s), 0);
	/* cleared at CLOSE (a socket connected again starts afresh) */
	memset(&v, 0, sizeof(v));
	s.state = TCPFSM_ST_CLOSE;
	assert_int_equal(snap_serve_since(&s), 0);
	/* a shorter value is not serve's */
	v = (struct tcpfsm_serve_sk){ .since_ns = 5, .state = TCPFSM_ST_LISTEN };
	s.state = TCPFSM_ST_LISTEN;
	s.storage_len = sizeof(v) - 1;
	assert_int_equal(snap_serve_since(&s), 0);
	s.storage_len = sizeof(v) + 8;	/* a longer one: its start is */
	assert_int_equal(snap_serve_since(&s), 5);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_serve_since),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
