// SPDX-License-Identifier: GPL-2.0 OR BSD-2-Clause
/*
 * A recorded stream of real loopback traffic (tests/data/replay/loopback.bin,
 * made by tests/data/replay/record.py) through the record reader, the
 * reorder buffer and the lifecycle engine: the lifecycles the kernel
 * produced, with durations the recording's driver controlled.
 */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <string.h>
#include <cmocka.h>
#include "engine.h"
#include "record.h"
#include "reorder.h"

#define FIXTURE "tests/data/replay/loopback.bin"
#define MS 1000000ull

static struct conn lives[16];
static int nlives;
static struct engine *eng;

static void on_closed(void *ctx, const struct conn *c)
{
	(void)ctx;
	assert_true(nlives < 16);
	lives[nlives++] = *c;
}

static void deliver(void *ctx, const struct tcpfsm_event *e)
{
	(void)ctx;
	engine_event(eng, e);
}

static const struct conn *find(uint16_t sport, uint16_t dport, int open)
{
	for (int i = 0; i < nlives; i++)
		if (lives[i].t.sport == sport && lives[i].t.dport == dport &&
		    lives[i].open_kind == open)
			return &lives[i];
	return NULL;
}

static void expect_path(const struct conn *c, const uint8_t *states, int n)
{
	assert_non_null(c);
	assert_int_equal(c->npath, n);
	for (int i = 0; i < n; i++)
		assert_int_equal(c->path_state[i], states[i]);
}

static void test_recorded_loopback(void **state)
{
	struct engine_config cfg;
	struct engine_cb cb = { .closed = on_closed };
	struct record_reader *r = NULL;
	struct record_header hdr;
	struct tcpfsm_event e;
	struct reorder ro;
	uint64_t last = 0;
	uint8_t known;
	int ret;

	engine_config_default(&cfg);
	eng = engine_new(&cfg, &cb);
	assert_non_null(eng);
	assert_int_equal(reorder_init(&ro, 200 * MS), 0);
	assert_int_equal(record_open_read(FIXTURE, &r, &hdr), 0);
	assert_int_equal(hdr.record_size, sizeof(struct tcpfsm_event));
	while ((ret = record_next(r, &e)) == 1) {
		reorder_push(&ro, &e);
		last = e.ts_ns > last ? e.ts_ns : last;
	}
	assert_int_equal(ret, 0);
	record_close_read(r);
	reorder_flush(&ro, deliver, NULL);
	engine_finish(eng, last + 1000 * MS);

	/* IPv4: the client closed first; its TIME_WAIT was killed (ss -K) */
	{
		static const uint8_t cli[] = { TCPFSM_ST_SYN_SENT, TCPFSM_ST_ESTABLISHED,
					       TCPFSM_ST_FIN_WAIT1, TCPFSM_ST_FIN_WAIT2,
					       TCPFSM_ST_TIME_WAIT };
		static const uint8_t srv[] = { TCPFSM_ST_SYN_RECV, TCPFSM_ST_ESTABLISHED,
					       TCPFSM_ST_CLOSE_WAIT, TCPFSM_ST_LAST_ACK };
		const struct conn *s = NULL, *c = NULL;

		for (int i = 0; i < nlives; i++)
			if (lives[i].t.sport == 18080 && lives[i].open_kind == OPEN_PASSIVE)
				s = &lives[i];
		assert_non_null(s);
		c = find(s->t.dport, 18080, OPEN_ACTIVE);
		expect_path(c, cli, 5);
		expect_path(s, srv, 4);
		assert_int_equal(c->close_kind, CLOSE_ACTIVE);
		assert_int_equal(c->end, END_KILLED);
		assert_int_equal(s->close_kind, CLOSE_PASSIVE);
		/* the driver held CLOSE_WAIT for 200 ms */
		assert_true(conn_path_ns(s, 2, &known) >= 200 * MS);
		assert_true(conn_path_ns(s, 2, &known) < 260 * MS);
		assert_int_equal(known, DUR_EXACT);
		/* one owner, the driver, for both ends, softirq or not */
		assert_int_not_equal(c->owner.pid, 0);
		assert_int_equal(c->owner.pid, s->owner.pid);
		assert_false(c->flags & CONN_F_INCOMPLETE);
		assert_true(c->flags & CONN_F_BYTES);
		/* the kernel counts sequence space: SYN + "hello" + FIN */
		assert_int_equal(c->bytes_acked, 7);
	}
	/* IPv6 server side */
	{
		static const uint8_t srv[] = { TCPFSM_ST_SYN_RECV, TCPFSM_ST_ESTABLISHED,
					       TCPFSM_ST_CLOSE_WAIT, TCPFSM_ST_LAST_ACK };
		const struct conn *s = NULL;

		for (int i = 0; i < nlives; i++)
			if (lives[i].t.sport == 18081 && lives[i].open_kind == OPEN_PASSIVE)
				s = &lives[i];
		expect_path(s, srv, 4);
		assert_int_equal(s->t.family, 10);
	}
	/* the refused connect */
	{
		const struct conn *f = NULL;

		for (int i = 0; i < nlives; i++)
			if (lives[i].t.dport == 18082)
				f = &lives[i];
		assert_non_null(f);
		assert_int_equal(f->close_kind, CLOSE_FAILED);
		assert_int_equal(f->npath, 1);
		assert_int_equal(f->path_state[0], TCPFSM_ST_SYN_SENT);
	}
	reorder_free(&ro);
	engine_free(eng);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_recorded_loopback),
	};

	return cmocka_run_group_tests_name("replay", tests, NULL, NULL);
}
