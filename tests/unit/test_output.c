// SPDX-License-Identifier: GPL-2.0 OR BSD-2-Clause
/* Output: JSON escaping of hostile bytes, table escaping, addresses. */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <arpa/inet.h>
#include <cmocka.h>
#include "event.h"
#include "fmt.h"
#include "json.h"
#include "pipeline.h"

static char *capture(void (*fn)(FILE *, const void *), const void *arg)
{
	static char buf[4096];
	FILE *f = fmemopen(buf, sizeof(buf), "w");

	fn(f, arg);
	fclose(f);
	return buf;
}

static void write_comm(FILE *f, const void *arg)
{
	json_write_string(f, arg, strnlen(arg, TCPFSM_COMM_LEN));
}

static void test_json_escapes_hostile_comm(void **state)
{
	/* quote, backslash, newline, control, DEL, invalid UTF-8, valid UTF-8 */
	char comm[TCPFSM_COMM_LEN] = "a\"b\\c\n\x01\x7f\xff\xc3\xa9";

	assert_string_equal(capture(write_comm, comm),
			    "\"a\\\"b\\\\c\\n\\u0001\\u007f\\u00ff\xc3\xa9\"");
}

static void test_json_truncated_utf8_and_overlong(void **state)
{
	char a[TCPFSM_COMM_LEN] = "x\xe2\x82";	/* cut inside a 3-byte char */
	char b[TCPFSM_COMM_LEN] = "\xc0\xaf";	/* overlong '/' */
	char c[TCPFSM_COMM_LEN] = "\xed\xa0\x80"; /* surrogate */

	assert_string_equal(capture(write_comm, a), "\"x\\u00e2\\u0082\"");
	assert_string_equal(capture(write_comm, b), "\"\\u00c0\\u00af\"");
	assert_string_equal(capture(write_comm, c), "\"\\u00ed\\u00a0\\u0080\"");
}

static void write_object(FILE *f, const void *arg)
{
	struct json j;

	(void)arg;
	json_init(&j, f);
	json_begin_object(&j);
	json_str(&j, "a", "x");
	json_null(&j, "n");
	json_begin_object_key(&j, "task");
	json_u64(&j, "pid", 1);
	json_bool(&j, "in_task", false);
	json_end_object(&j);
	json_begin_array(&j, "path");
	json_begin_object(&j);
	json_str(&j, "state", "SYN_SENT");
	json_u64(&j, "ns", 5);
	json_end_object(&j);
	json_begin_object(&j);
	json_str(&j, "state", "ESTABLISHED");
	json_null(&j, "ns");
	json_end_object(&j);
	json_end_array(&j);
	json_i64(&j, "neg", -3);
	json_end_object(&j);
	json_end_line(&j);
}

static void test_json_structure(void **state)
{
	assert_string_equal(capture(write_object, NULL),
		"{\"a\":\"x\",\"n\":null,\"task\":{\"pid\":1,\"in_task\":false},"
		"\"path\":[{\"state\":\"SYN_SENT\",\"ns\":5},"
		"{\"state\":\"ESTABLISHED\",\"ns\":null}],\"neg\":-3}\n");
}

static void test_table_escape(void **state)
{
	char out[COMM_SAFE_LEN];
	char full[TCPFSM_COMM_LEN];

	comm_escape(out, "a\tb\\\xff");
	assert_string_equal(out, "a\\x09b\\x5c\\xff");
	memset(full, 0x01, sizeof(full)); /* no NUL at all: stop at 16 */
	comm_escape(out, full);
	assert_int_equal(strlen(out), 4 * TCPFSM_COMM_LEN);
}

static void write_path(FILE *f, const void *arg)
{
	fput_escaped(f, arg);
	fputc(' ', f);
	fput_escaped(f, NULL);
}

/* A cgroup path, any length, escaped as a process name is; NULL is "-". */
static void test_table_escape_path(void **state)
{
	assert_string_equal(capture(write_path, "/a b/new\nline\\\xc3\xa9"),
			    "/a b/new\\x0aline\\x5c\\xc3\\xa9 -");
}

static void test_addresses_and_ms(void **state)
{
	uint8_t a[16] = { 0 };
	char buf[64];

	inet_pton(AF_INET6, "fd00::1", a);
	format_addr(buf, 10, a);
	assert_string_equal(buf, "fd00::1");
	inet_pton(AF_INET, "10.2.3.4", a);
	format_addr(buf, 2, a);
	assert_string_equal(buf, "10.2.3.4");
	format_addr(buf, 7, a);
	assert_string_equal(buf, "?");
	*pipe_fmt_ms(buf, 61550123456ull, DUR_EXACT) = '\0';
	assert_string_equal(buf, "61550.123");
	*pipe_fmt_ms(buf, 1500, DUR_EXACT) = '\0';
	assert_string_equal(buf, "0.001");
	*pipe_fmt_ms(buf, 0, DUR_UNKNOWN) = '\0';
	assert_string_equal(buf, "-");
	*pipe_fmt_ms(buf, 2000000, DUR_LOWER_BOUND) = '\0';
	assert_string_equal(buf, ">2.000");
}

/* A pipe with these options, its output on stdout. */
static struct pipe *mkpipe(enum ts_mode mode, bool wide)
{
	struct pipe_opts o;
	struct pipe *p;

	pipe_opts_init(&o, "test");
	o.ts_mode = mode;
	o.wide = wide;
	p = pipe_new(&o, NULL, stdout);
	assert_non_null(p);
	return p;
}

/* A pipe with its column cache, mono time; an IPv4 connection, cookie. */
static void cols_setup(struct pipe **p, struct conn *c, uint64_t cookie)
{
	*p = mkpipe(TS_MONO, false);
	memset(c, 0, sizeof(*c));
	c->cookie = cookie;
	c->t.family = 2;
}

static const char *conn_cols(struct pipe *p, const struct conn *c)
{
	static char line[512];
	char *e = pipe_fmt_conn_cols(p, line, 1500000000ull, c);

	*e = '\0';
	return line;
}

/*
 * Line columns are remembered per cookie: whatever they were made from
 * changing (owner found, port known, same cookie on another tuple) must
 * show, and two cookies sharing a cache slot must not mix.
 */
static void test_conn_cols_follow_changes(void **state)
{
	struct pipe *p;
	struct conn c;

	cols_setup(&p, &c, 4097);
	inet_pton(AF_INET, "10.0.0.1", c.t.saddr);
	inet_pton(AF_INET, "10.0.0.2", c.t.daddr);
	c.t.dport = 80;
	assert_string_equal(conn_cols(p, &c),
		"1.500000        1001       -       -               10.0.0.1        0     10.0.0.2        80    ");
	c.t.sport = 40000;
	c.owner.pid = 77;
	memcpy(c.owner.comm, "curl", 5);
	assert_string_equal(conn_cols(p, &c),
		"1.500000        1001       77      curl            10.0.0.1        40000 10.0.0.2        80    ");
	memcpy(c.owner.comm, "wget", 5);
	assert_non_null(strstr(conn_cols(p, &c), " wget "));
	c.owner.pid = 78;
	assert_non_null(strstr(conn_cols(p, &c), " 78 "));
	inet_pton(AF_INET, "10.0.0.9", c.t.daddr);
	assert_non_null(strstr(conn_cols(p, &c), " 10.0.0.9 "));
	/* a cookie that lands in the same slot (64 apart) */
	c.cookie = 4097 + 64;
	assert_non_null(strstr(conn_cols(p, &c), " 1041 "));
	c.cookie = 4097;
	assert_non_null(strstr(conn_cols(p, &c), " 1001 "));
	pipe_free(p);
	(void)state;
}

/* Where each of the text's words starts, up to 16 of them; returns how many. */
static int word_starts(const char *s, size_t *at)
{
	int n = 0;

	for (size_t i = 0; s[i] && n < 16; i++)
		if (s[i] != ' ' && (i == 0 || s[i - 1] == ' '))
			at[n++] = i;
	return n;
}

/* The one header of the shared columns heads them: same starts, same length. */
static void test_conn_cols_header_fits(void **state)
{
	size_t h[16], l[16];
	const char *line;
	struct pipe *p;
	struct conn c;
	int n;

	cols_setup(&p, &c, 12345678);
	c.owner.pid = 1234567;
	memcpy(c.owner.comm, "fifteen-bytes-x", 15);
	inet_pton(AF_INET, "100.100.100.100", c.t.saddr);
	inet_pton(AF_INET, "200.200.200.200", c.t.daddr);
	c.t.sport = 40000;
	c.t.dport = 65535;
	line = conn_cols(p, &c);
	n = word_starts(PIPE_CONN_COLS_HEADER, h);
	assert_int_equal(n, 8);
	assert_int_equal(word_starts(line, l), 8);
	for (int i = 0; i < n; i++)
		assert_int_equal(h[i], l[i]);
	assert_int_equal(strlen(line), strlen(PIPE_CONN_COLS_HEADER));
	/* long texts (escaped comm, full IPv6 addresses) stay in the bound */
	c.cookie = UINT64_MAX;
	c.owner.pid = UINT32_MAX;
	memset(c.owner.comm, 0xff, sizeof(c.owner.comm));
	c.t.family = 10;
	memset(c.t.saddr, 0xff, 16);
	memset(c.t.daddr, 0xff, 16);
	assert_true(strlen(conn_cols(p, &c)) <= PIPE_CONN_COLS_MAX);
	pipe_free(p);
	(void)state;
}

/* Header and line agree, column for column, in every layout. */
static void assert_header_fits(struct pipe *p, const struct conn *c, int words)
{
	size_t h[16], l[16];
	const char *line = conn_cols(p, c);
	int n = word_starts(pipe_conn_cols_header(p), h);

	assert_int_equal(n, words);
	assert_int_equal(word_starts(line, l), words);
	for (int i = 0; i < n; i++)
		assert_int_equal(h[i], l[i]);
	assert_int_equal(strlen(line), strlen(pipe_conn_cols_header(p)));
}

/*
 * The cookie is hex, as ss's sk: prints it; a long IPv6 address keeps the
 * columns (cut around a '~' in the default layout, whole with -w, which
 * adds NETNS); -T iso widens the time column to a date and a UTC offset.
 */
static void test_conn_cols_layouts(void **state)
{
	struct pipe *p;
	struct conn c;
	const char *line;
	char buf[PIPE_TS_MAX];

	cols_setup(&p, &c, 0x33fe92);
	assert_string_equal(pipe_conn_cols_header(p), PIPE_CONN_COLS_HEADER);
	c.t.family = AF_INET6;
	inet_pton(AF_INET6, "2001:db8:aaaa:bbbb:cccc:dddd:eeee:1", c.t.saddr);
	inet_pton(AF_INET6, "fe80::1", c.t.daddr);
	c.t.sport = 443;
	c.t.dport = 50000;
	c.t.netns = 4026531840u;
	line = conn_cols(p, &c);
	assert_non_null(strstr(line, " 33fe92 "));
	/* 35 bytes in 15: its head and tail, the same each time */
	assert_non_null(strstr(line, " 2001~ddd:eeee:1 443 "));
	assert_null(strstr(line, "4026531840"));
	assert_header_fits(p, &c, 8);
	pipe_free(p);

	p = mkpipe(TS_MONO, true);
	line = conn_cols(p, &c);
	assert_non_null(strstr(line, " 2001:db8:aaaa:bbbb:cccc:dddd:eeee:1 "));
	assert_non_null(strstr(line, " 4026531840 "));
	assert_non_null(strstr(pipe_conn_cols_header(p), " NETNS "));
	assert_header_fits(p, &c, 9);
	/* the widest address there is stays in its column too */
	memset(c.t.saddr, 0xff, 16);
	assert_header_fits(p, &c, 9);
	pipe_free(p);

	p = mkpipe(TS_ISO, false);
	pipe_set_clock(p, 0, 1795240404331939372ll);
	setenv("TZ", "UTC", 1);
	tzset();
	assert_int_equal(pipe_format_ts(p, buf, 0), 32);
	assert_string_equal(buf, "2026-11-21T05:53:24.331939+00:00");
	pipe_set_clock(p, 0, 1795240404331939372ll); /* made anew in another zone */
	setenv("TZ", "XST-5:30", 1);
	tzset();
	pipe_format_ts(p, buf, 0);
	assert_string_equal(buf, "2026-11-21T11:23:24.331939+05:30");
	assert_header_fits(p, &c, 8);
	pipe_free(p);
	(void)state;
}

/*
 * A process name with a space ("Web Content" is a real one) must not add a
 * column: the table is whitespace-separated, so the space is \x20 there, in
 * every command's table (trace/life/stats and snapshot alike).
 */
static void test_comm_space_keeps_columns(void **state)
{
	char out[COMM_SAFE_LEN];
	struct pipe *p;
	struct conn c;
	const char *line;
	size_t at[16];

	comm_escape(out, "Web Content");
	assert_string_equal(out, "Web\\x20Content");

	cols_setup(&p, &c, 5);
	c.owner.pid = 77;
	memcpy(c.owner.comm, "Web Content", 12);
	line = conn_cols(p, &c);
	/* TIME COOKIE PID COMM LADDR LPORT RADDR RPORT */
	assert_int_equal(word_starts(line, at), 8);
	assert_non_null(strstr(line, " Web\\x20Content "));
	pipe_free(p);
	(void)state;
}

/* fmt_hex is printf's %llx: lowercase, no leading zeros, 0 is "0". */
static void test_fmt_hex(void **state)
{
	static const uint64_t v[] = { 0, 1, 0xf, 0x10, 0xabc, 0x33fe92,
				      0x8000000000000000ull, UINT64_MAX };
	char got[24], want[24];
	size_t i;

	for (i = 0; i < sizeof(v) / sizeof(v[0]); i++) {
		*fmt_hex(got, v[i]) = '\0';
		snprintf(want, sizeof(want), "%llx", (unsigned long long)v[i]);
		assert_string_equal(got, want);
	}
	(void)state;
}

/*
 * Wall time is a record's timestamp plus the recording's clock offset, both
 * from the file: clamped to [0, UINT64_MAX], not overflowed (signed overflow
 * was undefined; wrapped, the end of time printed as 1970 and a time before
 * 1970 as the year 2554).
 */
static void test_wall_time_clamped(void **state)
{
	struct pipe *p;
	char buf[32];

	p = mkpipe(TS_WALL, false);
	pipe_set_clock(p, 0, 1700000000000000000ll);
	assert_true(pipe_ts_value(p, 5) == 1700000000000000005ull);
	/* what fuzz_replay found: past INT64_MAX, still below UINT64_MAX */
	assert_true(pipe_ts_value(p, 8243666496583132096ull) ==
		    8243666496583132096ull + 1700000000000000000ull);
	assert_true(pipe_ts_value(p, UINT64_MAX - 10) == UINT64_MAX);
	pipe_set_clock(p, 0, INT64_MAX);
	assert_true(pipe_ts_value(p, UINT64_MAX) == UINT64_MAX);
	pipe_set_clock(p, 0, -100);
	assert_true(pipe_ts_value(p, 150) == 50);
	assert_true(pipe_ts_value(p, 100) == 0);
	assert_true(pipe_ts_value(p, 5) == 0);
	assert_true(pipe_ts_value(p, UINT64_MAX) == UINT64_MAX - 100);
	pipe_set_clock(p, 0, INT64_MIN);
	assert_true(pipe_ts_value(p, 5) == 0);
	assert_true(pipe_ts_value(p, UINT64_MAX) == UINT64_MAX - (1ull << 63));
	/* and the text of the end of time: 11 digits of seconds */
	pipe_free(p);
	p = mkpipe(TS_MONO, false);
	pipe_set_clock(p, 0, 1);
	assert_int_equal(pipe_format_ts(p, buf, UINT64_MAX), 18);
	assert_string_equal(buf, "18446744073.709551");
	pipe_free(p);
	(void)state;
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_json_escapes_hostile_comm),
		cmocka_unit_test(test_json_truncated_utf8_and_overlong),
		cmocka_unit_test(test_json_structure),
		cmocka_unit_test(test_table_escape),
		cmocka_unit_test(test_table_escape_path),
		cmocka_unit_test(test_addresses_and_ms),
		cmocka_unit_test(test_conn_cols_follow_changes),
		cmocka_unit_test(test_conn_cols_header_fits),
		cmocka_unit_test(test_conn_cols_layouts),
		cmocka_unit_test(test_comm_space_keeps_columns),
		cmocka_unit_test(test_fmt_hex),
		cmocka_unit_test(test_wall_time_clamped),
	};

	return cmocka_run_group_tests_name("output", tests, NULL, NULL);
}
