// SPDX-License-Identifier: GPL-2.0 OR BSD-2-Clause
/*
 * The pipeline over an event source that is neither the kernel's ring
 * buffer nor a recording: a fake one, in memory (evsource.h). No file, no
 * BPF: what pipe_run needs of a source is the interface alone.
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
#include "evfixture.h"
#include "evsource.h"
#include "pipeline.h"
#include "tcpstate.h"

#define MS 1000000ull
#define PER_POLL 2

/* The fake: its records, handed over PER_POLL at a time. */
static struct fake {
	struct evsource src;
	struct evsource_sink sink;
	uint64_t slack_ns;
	struct tcpfsm_event ev[16];
	size_t n, next;
	uint64_t last_ts;
	int opened, closed, polls;
} fake;

static const struct evsource_ops fake_ops;

static int fake_open(struct evsource **out, const struct evsource_opts *o,
		     struct evsource_info *info, char *err, size_t errlen,
		     char *warn, size_t warnlen)
{
	fake.src.ops = &fake_ops;
	fake.sink = o->sink;
	fake.slack_ns = o->slack_ns;
	fake.opened++;
	memset(info, 0, sizeof(*info));
	info->start_mono_ns = 1 * MS;
	*warn = '\0';
	*out = &fake.src;
	return 0;
}

static int fake_poll(struct evsource *s, int timeout_ms, struct evsource_turn *turn)
{
	int k;

	assert_ptr_equal(s, &fake.src);
	memset(turn, 0, sizeof(*turn));
	fake.polls++;
	if (fake.next == fake.n) {
		turn->end = true;
		return 0;
	}
	for (k = 0; k < PER_POLL && fake.next < fake.n; k++) {
		const struct tcpfsm_event *e = &fake.ev[fake.next++];

		fake.sink.record(fake.sink.ctx, e);
		if (e->ts_ns > fake.last_ts)
			fake.last_ts = e->ts_ns;
	}
	if (fake.last_ts > fake.slack_ns) {
		turn->step = true;
		turn->watermark = fake.last_ts - fake.slack_ns;
	}
	return k;
}

static const char *fake_error(const struct evsource *s)
{
	return "no error";
}

static uint64_t fake_now(const struct evsource *s)
{
	return fake.last_ts;
}

static void fake_close(struct evsource *s)
{
	fake.closed++;
}

static const struct evsource_ops fake_ops = {
	.open = fake_open,
	.poll = fake_poll,
	.error = fake_error,
	.now = fake_now,
	.end = fake_now,
	.close = fake_close,
};

static void add(struct tcpfsm_event e)
{
	assert_true(fake.n < sizeof(fake.ev) / sizeof(fake.ev[0]));
	fake.ev[fake.n++] = e;
}

/* A client's connection, 41000 -> 8080, from at on, a record every 100 ms. */
static void connection(uint64_t cookie, uint64_t at)
{
	static const uint8_t path[] = {
		TCPFSM_ST_CLOSE, TCPFSM_ST_SYN_SENT, TCPFSM_ST_ESTABLISHED,
		TCPFSM_ST_FIN_WAIT1, TCPFSM_ST_FIN_WAIT2, TCPFSM_ST_CLOSE,
	};
	size_t i;

	for (i = 1; i < sizeof(path); i++)
		add(loopback_event(TCPFSM_EV_STATE, cookie, at + i * 100 * MS, path[i - 1], path[i],
		       i == 1 ? 0 : 41000, 8080));
}

static uint8_t seen_new[16];
static int ntrans, nclosed;
static struct conn closed;

static void on_transition(void *ctx, const struct transition *t)
{
	if (ntrans < 16)
		seen_new[ntrans] = t->newstate;
	ntrans++;
}

static void on_closed(void *ctx, const struct conn *c)
{
	closed = *c;
	nclosed++;
}

static int run(uint64_t duration_ns)
{
	struct engine_cb cb = { .transition = on_transition, .closed = on_closed };
	struct pipe_opts o;

	pipe_opts_init(&o, "test");
	o.source = &fake_ops;
	o.json = true;
	o.duration_ns = duration_ns;
	ntrans = nclosed = 0;
	return pipe_run(&o, &cb);
}

static void reset(void)
{
	memset(&fake, 0, sizeof(fake));
}

static void test_pipeline_runs_a_fake_source(void **state)
{
	(void)state;
	reset();
	connection(7, 0);
	assert_int_equal(run(0), 0);
	assert_int_equal(fake.opened, 1);
	assert_int_equal(fake.closed, 1);
	assert_int_equal(fake.next, fake.n);	/* read to its end */
	assert_int_equal(fake.polls, 4);	/* 5 records, 2 a poll, the end */
	assert_int_equal(ntrans, 5);
	assert_int_equal(seen_new[0], TCPFSM_ST_SYN_SENT);
	assert_int_equal(seen_new[4], TCPFSM_ST_CLOSE);
	assert_int_equal(nclosed, 1);
	assert_int_equal(closed.cookie, 7);
	assert_int_equal(closed.t.sport, 41000);	/* the connect's port, patched */
	assert_int_equal(closed.open_kind, OPEN_ACTIVE);
	assert_false(conn_incomplete(&closed));
}

/* --duration by the source's own clock (now), from the start its info gave. */
static void test_duration_by_the_source_clock(void **state)
{
	(void)state;
	reset();
	connection(7, 0);
	/* started at 1 ms; after the second poll its clock says 400 ms: done */
	assert_int_equal(run(250 * MS), 0);
	assert_int_equal(fake.next, 4);
	assert_int_equal(fake.closed, 1);
	assert_int_equal(ntrans, 4);		/* what was read is settled */
	assert_int_equal(nclosed, 1);		/* open at the end */
	assert_int_equal(closed.end, END_AT_EXIT);
}

/* A loss is a record in the stream: what was alive then is incomplete. */
static void test_loss_in_the_stream(void **state)
{
	struct tcpfsm_event lost = { .kind = TCPFSM_EV_LOST, .ts_ns = 150 * MS, .aux = 3 };

	(void)state;
	reset();
	connection(7, 0);
	/* after SYN_SENT and ESTABLISHED, before FIN_WAIT1 */
	memmove(&fake.ev[3], &fake.ev[2], 3 * sizeof(fake.ev[0]));
	fake.ev[2] = lost;
	fake.n++;
	assert_int_equal(run(0), 0);
	assert_int_equal(nclosed, 1);
	assert_true(conn_incomplete(&closed));
}

/* stdout and stderr of run(), into two strings (caller frees) */
static int run_captured(char **out, char **err)
{
	FILE *fo = tmpfile(), *fe = tmpfile();
	int so, se, ret;
	long n;

	assert_non_null(fo);
	assert_non_null(fe);
	fflush(stdout);
	fflush(stderr);
	so = dup(1);
	se = dup(2);
	dup2(fileno(fo), 1);
	dup2(fileno(fe), 2);
	ret = run(0);
	fflush(stdout);
	fflush(stderr);
	dup2(so, 1);
	dup2(se, 2);
	close(so);
	close(se);
	for (int i = 0; i < 2; i++) {
		FILE *f = i ? fe : fo;
		char **s = i ? err : out;

		n = ftell(f);
		assert_true(n >= 0);
		*s = calloc(1, n + 1);
		assert_non_null(*s);
		rewind(f);
		assert_int_equal(fread(*s, 1, n, f), (size_t)n);
		fclose(f);
	}
	return ret;
}

/*
 * A record no connection takes (no cookie) is counted where the user reads:
 * the summary's "untracked" and the closing line.
 */
static void test_untracked_is_shown(void **state)
{
	char *out, *err;

	(void)state;
	reset();
	connection(7, 0);
	add(loopback_event(TCPFSM_EV_STATE, 0, 50 * MS, TCPFSM_ST_ESTABLISHED,
			   TCPFSM_ST_FIN_WAIT1, 41001, 8080));
	assert_int_equal(run_captured(&out, &err), 0);
	assert_non_null(strstr(out, "\"untracked\":1"));
	assert_non_null(strstr(err, ", 1 records no connection took"));
	free(out);
	free(err);
	/* and nothing when there is none */
	reset();
	connection(7, 0);
	assert_int_equal(run_captured(&out, &err), 0);
	assert_non_null(strstr(out, "\"untracked\":0"));
	assert_null(strstr(err, "no connection took"));
	free(out);
	free(err);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_pipeline_runs_a_fake_source),
		cmocka_unit_test(test_duration_by_the_source_clock),
		cmocka_unit_test(test_loss_in_the_stream),
		cmocka_unit_test(test_untracked_is_shown),
	};

	return cmocka_run_group_tests_name("evsource", tests, NULL, NULL);
}
