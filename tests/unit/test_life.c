// SPDX-License-Identifier: GPL-2.0 OR BSD-2-Clause
/*
 * tcpfsm life's lines for connections the engine finished. life.c is
 * compiled in here (its functions are static); its command entry point is
 * renamed so that it does not clash with the library's.
 */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <cmocka.h>

#define cmd_life life_cmd_under_test
#include "life.c"

#define MS 1000000ull
#define S 1000000000ull

static struct conn closed;
static int nclosed;

static void keep_closed(void *ctx, const struct conn *c)
{
	(void)ctx;
	closed = *c;
	nclosed++;
}

/* life's line for `closed`, with the table's formatting. */
static char *line_of(bool json)
{
	struct pipe_opts o;
	struct pipe *p;
	bool listeners = false;
	char *buf = NULL;
	size_t len = 0;
	FILE *out = open_memstream(&buf, &len);

	assert_non_null(out);
	pipe_opts_init(&o, "life");
	o.priv = &listeners;
	o.json = json;
	o.ts_mode = TS_MONO;
	p = pipe_new(&o, NULL, out);
	assert_non_null(p);
	on_closed(p, &closed);
	fclose(out);
	pipe_free(p);
	return buf;
}

/*
 * An orphaned FIN_WAIT2 minisocket read by the dump at 100 ms expires at 30 s:
 * both its FIN_WAIT2 time and its time as an orphan count from the dump, so
 * both are lower bounds.
 */
static void test_seeded_orphan_is_lower_bound(void **state)
{
	struct engine_config cfg;
	struct engine_cb cb = { .closed = keep_closed };
	struct engine *eng;
	struct tcpfsm_event e;
	struct owner none = { 0 };
	struct tuple t = { .family = 2, .sport = 40000, .dport = 8080 };
	char *line;

	engine_config_default(&cfg);
	eng = engine_new(&cfg, &cb);
	assert_non_null(eng);
	assert_int_equal(engine_seed(eng, 7, TCPFSM_ST_FIN_WAIT2, &t, &none, 100 * MS,
				     ENGINE_SEED_MINISOCK, 0), 0);
	engine_seed_done(eng, 200 * MS);
	memset(&e, 0, sizeof(e));
	e.cookie = 7;
	e.family = 2;
	e.sport = 40000;
	e.dport = 8080;
	e.newstate = TCPFSM_ST_FIN_WAIT2;
	e.kind = TCPFSM_EV_TW_EXPIRE;
	e.ts_ns = 30 * S;
	engine_event(eng, &e);
	assert_int_equal(nclosed, 1);
	line = line_of(false);
	assert_non_null(strstr(line, "FIN_WAIT2 >29900.000 (orphan >29900.000)"));
	free(line);
	engine_free(eng);
}

/*
 * An RST in FIN_WAIT2: the table's CLOSE column says reset and how the FIN
 * exchange had begun; JSON has them apart, "closing" null when it had not.
 */
static void test_reset_after_active_close(void **state)
{
	struct engine_config cfg;
	struct engine_cb cb = { .closed = keep_closed };
	struct engine *eng;
	struct tcpfsm_event e;
	static const uint8_t path[][2] = {
		{ TCPFSM_ST_CLOSE, TCPFSM_ST_SYN_SENT },
		{ TCPFSM_ST_SYN_SENT, TCPFSM_ST_ESTABLISHED },
		{ TCPFSM_ST_ESTABLISHED, TCPFSM_ST_FIN_WAIT1 },
		{ TCPFSM_ST_FIN_WAIT1, TCPFSM_ST_FIN_WAIT2 },
		{ TCPFSM_ST_FIN_WAIT2, TCPFSM_ST_CLOSE },
	};
	char *line;
	size_t i;

	engine_config_default(&cfg);
	eng = engine_new(&cfg, &cb);
	assert_non_null(eng);
	nclosed = 0;
	memset(&e, 0, sizeof(e));
	e.cookie = 7;
	e.family = 2;
	e.sport = 40000;
	e.dport = 8080;
	e.kind = TCPFSM_EV_STATE;
	for (i = 0; i < 5; i++) {
		e.ts_ns = (i + 1) * MS;
		e.oldstate = path[i][0];
		e.newstate = path[i][1];
		if (i == 4)
			e.flags |= TCPFSM_F_RESET;
		engine_event(eng, &e);
	}
	assert_int_equal(nclosed, 1);
	line = line_of(false);
	assert_non_null(strstr(line, " active  reset/active "));
	free(line);
	line = line_of(true);
	assert_non_null(strstr(line, "\"close\":\"reset\",\"closing\":\"active\""));
	free(line);
	/* an RST in ESTABLISHED: no FIN had been sent */
	closed.closing_kind = CLOSE_NONE;
	line = line_of(false);
	assert_non_null(strstr(line, " active  reset "));
	free(line);
	line = line_of(true);
	assert_non_null(strstr(line, "\"close\":\"reset\",\"closing\":null"));
	free(line);
	engine_free(eng);
}

static void keep_open(void *ctx, const struct conn *c)
{
	keep_closed(ctx, c);
}

/*
 * Still in TIME_WAIT when the stream ends: a line marked [open at exit], no
 * close kind, the last state's time and the lifetime so far (lower bounds).
 */
static void test_open_at_exit_line(void **state)
{
	struct engine_config cfg;
	struct engine_cb cb = { .closed = keep_closed };
	struct engine *eng;
	struct tcpfsm_event e;
	static const uint8_t path[][2] = {
		{ TCPFSM_ST_CLOSE, TCPFSM_ST_SYN_SENT },
		{ TCPFSM_ST_SYN_SENT, TCPFSM_ST_ESTABLISHED },
		{ TCPFSM_ST_ESTABLISHED, TCPFSM_ST_FIN_WAIT1 },
		{ TCPFSM_ST_FIN_WAIT1, TCPFSM_ST_FIN_WAIT2 },
	};
	char *line;
	size_t i;

	engine_config_default(&cfg);
	eng = engine_new(&cfg, &cb);
	assert_non_null(eng);
	nclosed = 0;
	memset(&e, 0, sizeof(e));
	e.cookie = 7;
	e.family = 2;
	e.sport = 40000;
	e.dport = 8080;
	e.kind = TCPFSM_EV_STATE;
	for (i = 0; i < 4; i++) {
		e.ts_ns = (i + 1) * MS;
		e.oldstate = path[i][0];
		e.newstate = path[i][1];
		engine_event(eng, &e);
	}
	e.kind = TCPFSM_EV_TW_START;
	e.newstate = TCPFSM_ST_TIME_WAIT;
	e.ts_ns = 5 * MS;
	engine_event(eng, &e);
	engine_finish(eng, 2 * S);
	assert_int_equal(nclosed, 0);
	assert_int_equal(engine_foreach_open(eng, 2 * S, keep_open, NULL), 1);
	assert_int_equal(nclosed, 1);
	line = line_of(false);
	assert_non_null(strstr(line, " active  -       "));
	assert_non_null(strstr(line, " >1999.000 SYN_SENT 1.000 > "));
	assert_non_null(strstr(line, "> TIME_WAIT >1995.000 [open at exit]\n"));
	free(line);
	line = line_of(true);
	assert_non_null(strstr(line, "\"close\":null,\"closing\":\"active\",\"path\":"));
	assert_non_null(strstr(line, "{\"state\":\"TIME_WAIT\",\"ns\":1995000000,\"lower_bound\":true}]"));
	assert_non_null(strstr(line, "\"lifetime_ns\":1999000000,"));
	assert_non_null(strstr(line, "\"at_exit\":true}"));
	assert_null(strstr(line, "\"end\""));
	free(line);
	engine_free(eng);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_seeded_orphan_is_lower_bound),
		cmocka_unit_test(test_reset_after_active_close),
		cmocka_unit_test(test_open_at_exit_line),
	};

	return cmocka_run_group_tests_name("life", tests, NULL, NULL);
}
