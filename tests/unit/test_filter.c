// SPDX-License-Identifier: GPL-2.0 OR BSD-2-Clause
/* Filters, option values and state names. */
#include <errno.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <stdio.h>
#include <string.h>
#include <arpa/inet.h>
#include <cmocka.h>
#include "cli.h"
#include "event.h"
#include "filter.h"
#include "fmt.h"
#include "pipeline.h"
#include "tcpstate.h"

static struct tuple tup(const char *s, uint16_t sp, const char *d, uint16_t dp)
{
	struct tuple t;

	memset(&t, 0, sizeof(t));
	t.family = strchr(s, ':') ? AF_INET6 : AF_INET;
	inet_pton(t.family, s, t.saddr);
	inet_pton(t.family, d, t.daddr);
	t.sport = sp;
	t.dport = dp;
	return t;
}

static void test_cidr(void **state)
{
	struct cidr c;
	struct tuple t = tup("10.1.2.3", 1, "192.168.7.9", 2);

	assert_int_equal(cidr_parse("10.0.0.0/8", &c), 0);
	assert_int_equal(c.family, AF_INET);
	assert_int_equal(c.prefix, 8);
	assert_true(cidr_match(&c, AF_INET, t.saddr));
	assert_false(cidr_match(&c, AF_INET, t.daddr));
	assert_int_equal(cidr_parse("192.168.7.8/31", &c), 0);
	assert_true(cidr_match(&c, AF_INET, t.daddr));
	assert_int_equal(cidr_parse("192.168.7.8/32", &c), 0);
	assert_false(cidr_match(&c, AF_INET, t.daddr));
	assert_int_equal(cidr_parse("::1", &c), 0);
	assert_int_equal(c.family, AF_INET6);
	assert_int_equal(c.prefix, 128);
	assert_int_equal(cidr_parse("fd00::/7", &c), 0);
	/* no prefix: the whole address; /0: everything */
	assert_int_equal(cidr_parse("1.2.3.4", &c), 0);
	assert_int_equal(c.prefix, 32);
	assert_int_equal(cidr_parse("1.2.3.4/0", &c), 0);
	assert_int_equal(c.prefix, 0);
	assert_int_equal(cidr_parse("10.0.0.0/33", &c), -EINVAL);
	assert_int_equal(cidr_parse("::/129", &c), -EINVAL);
	assert_int_equal(cidr_parse("10.0.0.0/", &c), -EINVAL);
	assert_int_equal(cidr_parse("1.2.3.4/x", &c), -EINVAL);
	assert_int_equal(cidr_parse("1.2.3.4/0008", &c), -EINVAL);
	assert_int_equal(cidr_parse("nonsense", &c), -EINVAL);
	assert_int_equal(cidr_parse("/8", &c), -EINVAL);
	assert_int_equal(cidr_parse("", &c), -EINVAL);
}

static void test_filter_tuple(void **state)
{
	struct filter f;
	struct tuple t = tup("127.0.0.1", 40000, "127.0.0.1", 8080);
	struct tuple t6 = tup("::1", 40000, "::1", 8080);

	memset(&f, 0, sizeof(f));
	assert_true(filter_tuple(&f, &t));
	assert_false(filter_active(&f));
	f.family = AF_INET6;
	assert_false(filter_tuple(&f, &t));
	assert_true(filter_tuple(&f, &t6));
	memset(&f, 0, sizeof(f));
	f.n_rports = 2;
	f.rports[0] = 80;
	f.rports[1] = 8080;
	assert_true(filter_tuple(&f, &t));
	f.n_lports = 1;
	f.lports[0] = 40001;
	assert_false(filter_tuple(&f, &t));
	t.sport = 0; /* unknown local port cannot be shown to match */
	assert_false(filter_tuple(&f, &t));
	memset(&f, 0, sizeof(f));
	f.n_addrs = 1;
	cidr_parse("127.0.0.0/8", &f.addrs[0]);
	assert_true(filter_tuple(&f, &t));
	assert_false(filter_tuple(&f, &t6));
	f.has_netns = true;
	f.netns = 5;
	assert_false(filter_tuple(&f, &t));
	assert_true(filter_active(&f));
}

static void test_filter_states_and_owner(void **state)
{
	struct filter f;
	uint32_t mask;
	const char *bad;

	memset(&f, 0, sizeof(f));
	assert_int_equal(tcp_state_mask_parse("time-wait,CLOSE_WAIT", &mask, &bad), 0);
	f.state_mask = mask;
	assert_true(filter_states(&f, TCPFSM_ST_FIN_WAIT2, TCPFSM_ST_TIME_WAIT));
	assert_true(filter_states(&f, TCPFSM_ST_CLOSE_WAIT, TCPFSM_ST_LAST_ACK));
	assert_false(filter_states(&f, TCPFSM_ST_SYN_SENT, TCPFSM_ST_ESTABLISHED));
	assert_int_equal(tcp_state_mask_parse("ESTABLISHED,BOGUS", &mask, &bad), -EINVAL);
	assert_string_equal(bad, "BOGUS");
	assert_int_equal(tcp_state_mask_parse("ESTABLISHED,", &mask, &bad), -EINVAL);
	assert_int_equal(tcp_state_mask_parse("", &mask, &bad), -EINVAL);
	f.has_pid = true;
	f.pid = 42;
	assert_true(filter_owner(&f, 42, "x"));
	assert_false(filter_owner(&f, 0, "x")); /* unknown owner never matches */
	f.has_comm = true;
	strcpy(f.comm, "nginx");
	assert_false(filter_owner(&f, 42, "nginy"));
	assert_true(filter_owner(&f, 42, "nginx"));
}

/*
 * The offending name is reported where it is, in the caller's string: two
 * parses (two threads, or --state for two commands) cannot overwrite each
 * other's answer, and nothing is cut short.
 */
static void test_state_mask_bad_name_is_reentrant(void **state)
{
	const char *one = "ESTABLISHED,BOGUS1,LISTEN", *two = "NOPE2";
	const char *bad1 = NULL, *bad2 = NULL;
	uint32_t mask;

	assert_int_equal(tcp_state_mask_parse(one, &mask, &bad1), -EINVAL);
	assert_int_equal(tcp_state_mask_parse(two, &mask, &bad2), -EINVAL);
	assert_ptr_equal(bad1, one + strlen("ESTABLISHED,"));
	assert_int_equal(strcspn(bad1, ","), strlen("BOGUS1"));
	assert_memory_equal(bad1, "BOGUS1", 6);
	assert_ptr_equal(bad2, two);
	assert_string_equal(bad2, "NOPE2");
}

/* A name longer than any state says so, whole, instead of being cut to fit. */
static void test_state_mask_overlong_name(void **state)
{
	char list[300], msg[96];
	const char *bad = NULL;
	uint32_t mask;

	strcpy(list, "LISTEN,");
	memset(list + 7, 'A', 200);
	strcpy(list + 207, ",CLOSE_WAIT");
	assert_int_equal(tcp_state_mask_parse(list, &mask, &bad), -ENAMETOOLONG);
	assert_ptr_equal(bad, list + 7);
	assert_int_equal(strcspn(bad, ","), 200);
	tcp_state_mask_error(msg, sizeof(msg), -ENAMETOOLONG, bad);
	assert_string_equal(msg, "'AAAAAAAAAAAAAAAA...' (200 bytes) is too long "
			    "for a state name");
	/* the longest real name still parses; one byte more is too long */
	assert_int_equal(tcp_state_mask_parse("new-syn-recv", &mask, &bad), 0);
	assert_int_equal(mask, 1u << TCPFSM_ST_NEW_SYN_RECV);
	assert_int_equal(tcp_state_mask_parse("NEW_SYN_RECVX", &mask, &bad),
			 -ENAMETOOLONG);
	assert_int_equal(tcp_state_mask_parse("NEW_SYN_RECX", &mask, &bad), -EINVAL);
	tcp_state_mask_error(msg, sizeof(msg), -EINVAL, bad);
	assert_string_equal(msg, "unknown state 'NEW_SYN_RECX'");
	assert_int_equal(tcp_state_mask_parse("LISTEN,CLOSE_WAIT_XYZ,CLOSE", &mask, &bad),
			 -ENAMETOOLONG);
	tcp_state_mask_error(msg, sizeof(msg), -ENAMETOOLONG, bad);
	assert_string_equal(msg, "'CLOSE_WAIT_XYZ' (14 bytes) is too long for a state name");
	assert_int_equal(tcp_state_mask_parse("LISTEN,,CLOSE", &mask, &bad), -EINVAL);
	tcp_state_mask_error(msg, sizeof(msg), -EINVAL, bad);
	assert_string_equal(msg, "empty state name (a stray ',')");
}

static void test_state_names(void **state)
{
	assert_string_equal(tcp_state_name(TCPFSM_ST_TIME_WAIT), "TIME_WAIT");
	assert_string_equal(tcp_state_name(TCPFSM_ST_NEW_SYN_RECV), "NEW_SYN_RECV");
	assert_string_equal(tcp_state_name(200), "UNKNOWN");
	assert_int_equal(tcp_state_parse("syn-recv"), TCPFSM_ST_SYN_RECV);
	assert_int_equal(tcp_state_parse("FIN_WAIT1"), TCPFSM_ST_FIN_WAIT1);
	assert_int_equal(tcp_state_parse("FIN_WAIT"), -1);
	assert_int_equal(tcp_state_parse(""), -1);
	/* TCP_STATE_NAME_MAX is the longest name */
	{
		size_t longest = 0;
		unsigned int i;

		for (i = 0; i < TCPFSM_ST_MAX; i++)
			if (strlen(tcp_state_name(i)) > longest)
				longest = strlen(tcp_state_name(i));
		assert_int_equal(longest, TCP_STATE_NAME_MAX);
	}
}

static void test_durations(void **state)
{
	/* format_duration's texts, every example cli.h gives among them */
	static const struct {
		uint64_t ns;
		const char *text;
	} durations[] = {
		{ 850000, "850us" },
		{ 61550000000ull, "1m01s" },
		{ 11520000000000ull, "3h12m" },
		{ 12345678, "12.3ms" },
		{ 59850000000ull, "59.8s" },
		{ 185000000000ull, "3m05s" },
		{ 187200000000000ull, "2d04h" },
	};
	uint64_t ns;
	char buf[32];
	size_t i;

	assert_int_equal(parse_duration_ns("30s", &ns), 0);
	assert_int_equal(ns, 30000000000ull);
	assert_int_equal(parse_duration_ns("1h30m", &ns), 0);
	assert_int_equal(ns, 5400000000000ull);
	assert_int_equal(parse_duration_ns("250ms", &ns), 0);
	assert_int_equal(ns, 250000000ull);
	assert_int_equal(parse_duration_ns("1.5", &ns), 0);
	assert_int_equal(ns, 1500000000ull);
	assert_int_equal(parse_duration_ns("10x", &ns), -EINVAL);
	assert_int_equal(parse_duration_ns("", &ns), -EINVAL);
	assert_int_equal(parse_duration_ns("s", &ns), -EINVAL);
	assert_int_equal(parse_duration_ns("-1s", &ns), -EINVAL);
	assert_int_equal(parse_duration_ns("5 s", &ns), -EINVAL);
	for (i = 0; i < sizeof(durations) / sizeof(durations[0]); i++) {
		format_duration(buf, sizeof(buf), durations[i].ns);
		assert_string_equal(buf, durations[i].text);
	}
	format_duration(buf, sizeof(buf), UINT64_MAX);
	assert_true(strlen(buf) <= FMT_DURATION_MAX);
}

static void test_ports_and_numbers(void **state)
{
	uint16_t p[TCPFSM_MAX_PORTS];
	uint64_t v;

	assert_int_equal(parse_port_list("80,443,8080", p, TCPFSM_MAX_PORTS), 3);
	assert_int_equal(p[2], 8080);
	assert_int_equal(parse_port_list("0", p, TCPFSM_MAX_PORTS), -EINVAL);
	assert_int_equal(parse_port_list("65536", p, TCPFSM_MAX_PORTS), -EINVAL);
	assert_int_equal(parse_port_list("80,,81", p, TCPFSM_MAX_PORTS), -EINVAL);
	assert_int_equal(parse_port_list("80,", p, TCPFSM_MAX_PORTS), -EINVAL);
	assert_int_equal(parse_port_list("1,2,3,4,5,6,7,8,9", p, TCPFSM_MAX_PORTS), -EINVAL);
	assert_int_equal(parse_u64("12", 1, 100, &v), 0);
	assert_int_equal(parse_u64("0", 1, 100, &v), -EINVAL);
	assert_int_equal(parse_u64("-1", 0, 100, &v), -EINVAL);
	assert_int_equal(parse_u64("12a", 0, 100, &v), -EINVAL);
	assert_int_equal(parse_u64("99999999999999999999999", 0, UINT64_MAX, &v), -EINVAL);
}

/* --lport/--rport given twice add up, as --addr does and snapshot's do. */
static void test_repeated_port_options_add_up(void **state)
{
	struct pipe_opts o;

	(void)state;
	pipe_opts_init(&o, "trace");
	assert_int_equal(pipe_parse_opt(&o, OPT_LPORT, "80"), 0);
	assert_int_equal(pipe_parse_opt(&o, OPT_LPORT, "443,8080"), 0);
	assert_int_equal(o.filter.n_lports, 3);
	assert_int_equal(o.filter.lports[0], 80);
	assert_int_equal(o.filter.lports[2], 8080);
	/* the bound is on all of them */
	assert_int_equal(pipe_parse_opt(&o, OPT_LPORT, "1,2,3,4,5,6"), 2);
	assert_int_equal(o.filter.n_lports, 3);
}

/* --stuck STATE=DURATION[,...]: an empty item is an error, as in the other lists. */
static void test_stuck_option(void **state)
{
	static const char *const bad[] = {
		"", ",", "CLOSE_WAIT=30s,", ",CLOSE_WAIT=30s", "CLOSE_WAIT=30s,,LAST_ACK=1s",
		"CLOSE_WAIT", "CLOSE_WAIT=", "CLOSE=1s", "NOPE=1s", "CLOSE_WAIT=0",
		"CLOSE_WAIT=30000000000000000000000000000000000000000000000000000s",
	};
	struct pipe_opts o;
	char many[400] = "";
	size_t i;

	(void)state;
	pipe_opts_init(&o, "trace");
	assert_int_equal(pipe_parse_opt(&o, OPT_STUCK, "CLOSE_WAIT=30s,FIN_WAIT2=1m"), 0);
	assert_true(o.has_stuck);
	assert_int_equal(o.stuck_ns[TCPFSM_ST_CLOSE_WAIT], 30000000000ull);
	assert_int_equal(o.stuck_ns[TCPFSM_ST_FIN_WAIT2], 60000000000ull);
	/* no bound on the whole list, only on each item */
	for (i = 0; i < 20; i++)
		strcat(many, i ? ",LAST_ACK=1500ms" : "LAST_ACK=1500ms");
	assert_true(strlen(many) > 256);
	assert_int_equal(pipe_parse_opt(&o, OPT_STUCK, many), 0);
	assert_int_equal(o.stuck_ns[TCPFSM_ST_LAST_ACK], 1500000000ull);
	for (i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		pipe_opts_init(&o, "trace");
		if (pipe_parse_opt(&o, OPT_STUCK, bad[i]) != 2)
			fail_msg("--stuck '%s' accepted", bad[i]);
	}
}

/*
 * The option helpers trace and snapshot share: one behaviour for both
 * (they print a usage line on error; only the status is checked here).
 */
static void test_shared_option_helpers(void **state)
{
	struct cidr c[CLI_MAX_ADDRS + 1];
	uint16_t p[CLI_MAX_PORTS];
	uint8_t fam = 0;
	uint32_t mask = 0;
	char list[512];
	int n = 0, i;

	(void)state;
	/* -4 -4 is fine, -4 -6 is not */
	assert_int_equal(cli_opt_family("t", '4', &fam), 0);
	assert_int_equal(cli_opt_family("t", '4', &fam), 0);
	assert_int_equal(fam, AF_INET);
	assert_int_equal(cli_opt_family("t", '6', &fam), EXIT_USAGE);
	/* ports: lists and repeats add up to CLI_MAX_PORTS, the BPF limit */
	assert_int_equal(CLI_MAX_PORTS, TCPFSM_MAX_PORTS);
	assert_int_equal(cli_opt_ports("t", "lport", "1,2,3", p, &n), 0);
	assert_int_equal(cli_opt_ports("t", "lport", "4,5,6,7,8", p, &n), 0);
	assert_int_equal(n, 8);
	assert_int_equal(p[7], 8);
	assert_int_equal(cli_opt_ports("t", "lport", "9", p, &n), EXIT_USAGE);
	assert_int_equal(n, 8);
	/* addresses: a comma list, and repeats, up to CLI_MAX_ADDRS */
	n = 0;
	assert_int_equal(cli_opt_addrs("t", "10.0.0.0/8,::1", c, &n), 0);
	assert_int_equal(n, 2);
	assert_int_equal(c[0].family, AF_INET);
	assert_int_equal(c[0].prefix, 8);
	assert_int_equal(c[1].family, AF_INET6);
	assert_int_equal(c[1].prefix, 128);
	assert_int_equal(cli_opt_addrs("t", "192.168.0.1", c, &n), 0);
	assert_int_equal(n, 3);
	for (list[0] = '\0', i = 3; i < CLI_MAX_ADDRS; i++)
		snprintf(list + strlen(list), sizeof(list) - strlen(list),
			 "%s10.1.%d.0/24", i > 3 ? "," : "", i);
	assert_int_equal(cli_opt_addrs("t", list, c, &n), 0);
	assert_int_equal(n, CLI_MAX_ADDRS);
	assert_int_equal(cli_opt_addrs("t", "10.2.0.1", c, &n), EXIT_USAGE);
	n = 0;
	assert_int_equal(cli_opt_addrs("t", "10.0.0.1,", c, &n), EXIT_USAGE);
	assert_int_equal(cli_opt_addrs("t", "", c, &n), EXIT_USAGE);
	assert_int_equal(cli_opt_addrs("t", "10.0.0.1,,::1", c, &n), EXIT_USAGE);
	assert_int_equal(cli_opt_addrs("t", "10.0.0.1/33", c, &n), EXIT_USAGE);
	/* states: repeats add up */
	assert_int_equal(cli_opt_states("t", "ESTABLISHED", &mask), 0);
	assert_int_equal(cli_opt_states("t", "close-wait,LISTEN", &mask), 0);
	assert_int_equal(mask, 1u << TCPFSM_ST_ESTABLISHED |
			       1u << TCPFSM_ST_CLOSE_WAIT | 1u << TCPFSM_ST_LISTEN);
	assert_int_equal(cli_opt_states("t", "NOPE", &mask), EXIT_USAGE);
}

/* trace's (and life's, stats') parser: as snapshot's, through the helpers. */
static void test_pipe_options_as_snapshot(void **state)
{
	struct pipe_opts o;

	(void)state;
	pipe_opts_init(&o, "trace");
	assert_int_equal(pipe_parse_opt(&o, '6', NULL), 0);
	assert_int_equal(pipe_parse_opt(&o, '6', NULL), 0);
	assert_int_equal(pipe_parse_opt(&o, OPT_ADDR, "fd00::/8,127.0.0.1"), 0);
	assert_int_equal(pipe_parse_opt(&o, OPT_ADDR, "10.0.0.0/8"), 0);
	assert_int_equal(o.filter.n_addrs, 3);
	assert_int_equal(pipe_parse_opt(&o, OPT_STATE, "SYN_SENT"), 0);
	assert_int_equal(pipe_parse_opt(&o, OPT_STATE, "TIME_WAIT"), 0);
	assert_int_equal(o.filter.state_mask, 1u << TCPFSM_ST_SYN_SENT |
						  1u << TCPFSM_ST_TIME_WAIT);
}

/*
 * The tcpstates letters (-L, -D, -w) and ss's -N mean what they mean there;
 * --port takes either end; -T iso.
 */
static void test_pipe_options_as_tcpstates(void **state)
{
	struct pipe_opts o;
	struct tuple t = { .family = AF_INET, .sport = 5000, .dport = 80 };

	(void)state;
	pipe_opts_init(&o, "trace");
	assert_int_equal(pipe_parse_opt(&o, 'L', "5000"), 0);
	assert_int_equal(pipe_parse_opt(&o, 'D', "80,81"), 0);
	assert_int_equal(o.filter.n_lports, 1);
	assert_int_equal(o.filter.n_rports, 2);
	assert_int_equal(pipe_parse_opt(&o, 'w', NULL), 0);
	assert_true(o.wide);
	assert_int_equal(pipe_parse_opt(&o, 'T', "iso"), 0);
	assert_int_equal(o.ts_mode, TS_ISO);
	assert_int_equal(pipe_parse_opt(&o, 'T', "ISO"), EXIT_USAGE);
	assert_int_equal(pipe_parse_opt(&o, 'N', "4026531840"), 0);
	assert_true(o.filter.has_netns);
	assert_int_equal(o.filter.netns, 4026531840u);
	assert_int_equal(pipe_parse_opt(&o, 'N', "5000000"), EXIT_USAGE);
	assert_int_equal(pipe_parse_opt(&o, 'N', "/dev/null"), EXIT_USAGE);
	assert_int_equal(pipe_parse_opt(&o, 'N', "no-such-ns-here"), EXIT_USAGE);

	/* --port: either end, lists and repeats add up */
	pipe_opts_init(&o, "trace");
	assert_int_equal(pipe_parse_opt(&o, OPT_PORT, "80"), 0);
	assert_int_equal(pipe_parse_opt(&o, OPT_PORT, "443,8080"), 0);
	assert_int_equal(o.filter.n_ports, 3);
	assert_true(filter_active(&o.filter));
	assert_true(filter_tuple(&o.filter, &t));	/* remote 80 */
	t.sport = 443;
	t.dport = 40000;
	assert_true(filter_tuple(&o.filter, &t));	/* local 443 */
	t.sport = 444;
	assert_false(filter_tuple(&o.filter, &t));
	assert_int_equal(pipe_parse_opt(&o, OPT_PORT, "1,2,3,4,5,6"), EXIT_USAGE);
}

/* An IPv4-mapped IPv6 CIDR is the IPv4 one: IPv4-mapped counts as IPv4. */
static void test_cidr_v4mapped_is_v4(void **state)
{
	struct cidr c;
	struct tuple t = tup("10.1.2.3", 1, "127.0.0.1", 2);

	(void)state;
	assert_int_equal(cidr_parse("::ffff:10.0.0.0/104", &c), 0);
	assert_int_equal(c.family, AF_INET);
	assert_int_equal(c.prefix, 8);
	assert_true(cidr_match(&c, AF_INET, t.saddr));
	assert_int_equal(cidr_parse("::ffff:127.0.0.1", &c), 0);
	assert_int_equal(c.family, AF_INET);
	assert_int_equal(c.prefix, 32);
	assert_true(cidr_match(&c, AF_INET, t.daddr));
	/* shorter than the mapped prefix: an IPv6 CIDR as it was */
	assert_int_equal(cidr_parse("::ffff:0.0.0.0/80", &c), 0);
	assert_int_equal(c.family, AF_INET6);
	assert_int_equal(c.prefix, 80);
}

/* stats judges --state by the state left (its time), trace by either. */
static void test_filter_transition(void **state)
{
	struct filter f = { .state_mask = 1u << TCPFSM_ST_CLOSE_WAIT };

	(void)state;
	assert_true(filter_transition(&f, TCPFSM_ST_ESTABLISHED, TCPFSM_ST_CLOSE_WAIT,
				      FILTER_BY_EITHER));
	assert_false(filter_transition(&f, TCPFSM_ST_ESTABLISHED, TCPFSM_ST_CLOSE_WAIT,
				       FILTER_BY_LEFT));
	assert_true(filter_transition(&f, TCPFSM_ST_CLOSE_WAIT, TCPFSM_ST_LAST_ACK,
				      FILTER_BY_LEFT));
	f.state_mask = 0;
	assert_true(filter_transition(&f, 1, 2, FILTER_BY_LEFT));
}

static uint32_t rnd_state = 12345;

static uint32_t rnd(void)
{
	rnd_state = rnd_state * 1103515245u + 12345u;
	return rnd_state >> 8;
}

static const char *const cidr_pool[] = {
	"10.0.0.0/8", "10.1.2.3", "127.0.0.0/8", "0.0.0.0/0", "::1",
	"2001:db8::/32", "fe80::/10", "::ffff:10.1.0.0/112", "::/0", "10.1.2.2/31",
};
static const uint16_t port_pool[] = { 22, 80, 443, 5000, 8080 };

static void random_filter(struct filter *f)
{
	int i;

	memset(f, 0, sizeof(*f));
	f->family = rnd() % 3 == 0 ? (rnd() % 2 ? AF_INET : AF_INET6) : 0;
	f->n_lports = (int)(rnd() % 3 == 0);
	f->n_rports = (int)(rnd() % 3 == 0);
	f->n_ports = (int)(rnd() % 3);
	f->n_addrs = (int)(rnd() % 3);
	for (i = 0; i < f->n_lports; i++)
		f->lports[i] = port_pool[rnd() % 5];
	for (i = 0; i < f->n_rports; i++)
		f->rports[i] = port_pool[rnd() % 5];
	for (i = 0; i < f->n_ports; i++)
		f->ports[i] = port_pool[rnd() % 5];
	for (i = 0; i < f->n_addrs; i++)
		assert_int_equal(cidr_parse(cidr_pool[rnd() % 10], &f->addrs[i]), 0);
	if (rnd() % 4 == 0) {
		f->has_netns = true;
		f->netns = 4026531840u + rnd() % 2;
	}
}

/* A record as the kernel writes it: IPv4 in 4 bytes, or IPv6 (mapped or not). */
static void random_event(struct tcpfsm_event *e)
{
	static const uint8_t v4[][4] = {
		{ 10, 1, 2, 3 }, { 127, 0, 0, 1 }, { 8, 8, 8, 8 }, { 10, 1, 2, 2 } };
	static const uint8_t v6[][16] = {
		{ [15] = 1 }, { 0x20, 0x01, 0x0d, 0xb8, [15] = 5 },
		{ 0xfe, 0x80, [15] = 9 }, { 0x20, 0x01, 0x0d, 0xb9, [15] = 5 } };
	int kind = (int)(rnd() % 3);

	memset(e, 0, sizeof(*e));
	e->kind = (uint8_t)(TCPFSM_EV_STATE + rnd() % 7);
	e->oldstate = TCPFSM_ST_SYN_SENT;
	e->newstate = TCPFSM_ST_ESTABLISHED;
	e->netns = 4026531840u + rnd() % 2;
	e->sport = port_pool[rnd() % 5];
	e->dport = port_pool[rnd() % 5];
	if (kind == 0) {
		e->family = AF_INET;
		memcpy(e->saddr, v4[rnd() % 4], 4);
		memcpy(e->daddr, v4[rnd() % 4], 4);
	} else if (kind == 1) {	/* an IPv4-mapped pair: recordings from before unmapping */
		e->family = AF_INET6;
		e->saddr[10] = e->saddr[11] = e->daddr[10] = e->daddr[11] = 0xff;
		memcpy(e->saddr + 12, v4[rnd() % 4], 4);
		memcpy(e->daddr + 12, v4[rnd() % 4], 4);
	} else {
		e->family = AF_INET6;
		memcpy(e->saddr, v6[rnd() % 4], 16);
		memcpy(e->daddr, v6[rnd() % 4], 16);
	}
}

/*
 * The record-level selection (before the engine) and the connection-level
 * one (before the commands, and snapshot's) agree on every record whose
 * port is known; one whose local port is not yet known passes exactly when
 * some local port would let it.
 */
static void test_filter_event_agrees_with_tuple(void **state)
{
	int iter, k, i;

	(void)state;
	for (iter = 0; iter < 3000; iter++) {
		struct filter f;

		random_filter(&f);
		for (k = 0; k < 40; k++) {
			struct tcpfsm_event e;
			struct tuple t;
			bool some = false;

			random_event(&e);
			tuple_from_event(&t, &e);
			if (filter_event(&f, &e) != filter_tuple(&f, &t))
				fail_msg("iteration %d: filter_event and filter_tuple disagree", iter);
			e.sport = 0;
			t.sport = 0;
			for (i = 0; i < 5 && !some; i++) {
				t.sport = port_pool[i];
				some = filter_tuple(&f, &t);
			}
			/* never dropped if some port could select it */
			if (some && !filter_event(&f, &e))
				fail_msg("iteration %d: a connect without its port", iter);
		}
	}
}

/*
 * The BPF side's decision, written as bpf/tcpfsm.bpf.c makes it (the tuple
 * as it keeps it: u32 words, an IPv4 address in word 3; ports_wanted,
 * addrs_wanted) over the CIDRs as the loader hands them (filter_cidr_bpf).
 */
static bool bpf_port_in(uint16_t port, const uint16_t *set, int n)
{
	for (int i = 0; i < n; i++)
		if (set[i] == port)
			return true;
	return false;
}

static bool bpf_model(const struct filter *f, const struct tcpfsm_event *e)
{
	struct tcpfsm_cidr c[FILTER_MAX_ADDRS];
	uint32_t sa[4] = { 0 }, da[4] = { 0 };
	uint16_t family = e->family;
	int i;

	for (i = 0; i < f->n_addrs; i++)
		filter_cidr_bpf(&f->addrs[i], &c[i]);
	if (f->family == AF_INET6 && family != AF_INET6)
		return false;
	if (f->n_lports && e->sport && !bpf_port_in(e->sport, f->lports, f->n_lports))
		return false;
	if (f->n_rports && !bpf_port_in(e->dport, f->rports, f->n_rports))
		return false;
	if (f->n_ports && e->sport && !bpf_port_in(e->sport, f->ports, f->n_ports) &&
	    !bpf_port_in(e->dport, f->ports, f->n_ports))
		return false;
	if (f->has_netns && e->netns != f->netns)
		return false;
	if (family == AF_INET) {
		memcpy(&sa[3], e->saddr, 4);
		memcpy(&da[3], e->daddr, 4);
	} else {
		memcpy(sa, e->saddr, 16);
		memcpy(da, e->daddr, 16);
		if (is_v4_pair(e->saddr, e->daddr))
			family = AF_INET;
	}
	if (f->family && family != f->family)
		return false;
	if (!f->n_addrs)
		return true;
	for (i = 0; i < f->n_addrs; i++) {
		if (c[i].family != family)
			continue;
		if (TCPFSM_CIDR_HAS(&c[i], sa) || TCPFSM_CIDR_HAS(&c[i], da))
			return true;
	}
	return false;
}

static void test_bpf_side_agrees(void **state)
{
	int iter, k;

	(void)state;
	for (iter = 0; iter < 3000; iter++) {
		struct filter f;

		random_filter(&f);
		for (k = 0; k < 40; k++) {
			struct tcpfsm_event e;

			random_event(&e);
			if (bpf_model(&f, &e) != filter_event(&f, &e))
				fail_msg("iteration %d: the BPF side would disagree", iter);
			e.sport = 0;	/* a connect: unknown port passes both */
			if (bpf_model(&f, &e) != filter_event(&f, &e))
				fail_msg("iteration %d: a connect, the BPF side would disagree", iter);
		}
	}
}

/* A listener is kept by all but netns and local port: children need it. */
static void test_filter_event_listener_and_seed(void **state)
{
	struct filter f = { 0 };
	struct tcpfsm_event e = { .kind = TCPFSM_EV_STATE, .family = AF_INET6,
				  .oldstate = TCPFSM_ST_CLOSE,
				  .newstate = TCPFSM_ST_LISTEN, .sport = 80 };
	struct tuple t = { .family = AF_INET6, .sport = 80 };

	(void)state;
	f.family = AF_INET;
	f.n_ports = 1;
	f.ports[0] = 5555;
	assert_int_equal(cidr_parse("10.0.0.0/8", &f.addrs[0]), 0);
	f.n_addrs = 1;
	assert_true(filter_event(&f, &e));
	assert_true(filter_seed(&f, TCPFSM_ST_LISTEN, &t));
	assert_false(filter_seed(&f, TCPFSM_ST_ESTABLISHED, &t));
	e.oldstate = TCPFSM_ST_LISTEN;
	e.newstate = TCPFSM_ST_CLOSE;
	assert_true(filter_event(&f, &e));
	e.oldstate = TCPFSM_ST_SYN_SENT;	/* no listener's: judged */
	assert_false(filter_event(&f, &e));
	f.n_lports = 1;
	f.lports[0] = 81;
	e.oldstate = TCPFSM_ST_LISTEN;
	assert_false(filter_event(&f, &e));
	assert_false(filter_seed(&f, TCPFSM_ST_LISTEN, &t));
	/* records of no connection pass */
	e.kind = TCPFSM_EV_LOST;
	assert_true(filter_event(&f, &e));
}

/*
 * snapshot's ss letters: each one either asks for what snapshot does anyway
 * or is refused with what ss means by it; none is left without an answer.
 */
static void test_ss_letters(void **state)
{
	const char *p;

	(void)state;
	for (p = CLI_SS_LETTERS; *p; p++)
		assert_non_null(cli_ss_letter(*p));
	assert_string_equal(cli_ss_letter('t'), "");
	assert_string_equal(cli_ss_letter('a'), "");
	assert_string_equal(cli_ss_letter('n'), "");
	assert_non_null(strstr(cli_ss_letter('u'), "UDP"));
	assert_non_null(strstr(cli_ss_letter('S'), "-s"));
	assert_non_null(strstr(cli_ss_letter('w'), "--watch"));
	/* snapshot's own letters are not in the list */
	assert_null(strpbrk(CLI_SS_LETTERS, "46hvVlpsjND"));
	assert_null(cli_ss_letter('p'));
	assert_null(cli_ss_letter('Y'));
}

/* getopt's errors name the option as the user typed it. */
static void test_cli_getopt_errors(void **state)
{
	static const struct option longopts[] = {
		{ "json", no_argument, NULL, 'j' },
		{ "state", required_argument, NULL, 's' },
		{ 0 },
	};
	char a0[] = "x", a1[] = "--json=1", a2[] = "--json", a3[] = "-vZ",
	     a4[] = "-s";
	char *argv1[] = { a0, a1, NULL }, *argv2[] = { a0, a2, a3, NULL },
	     *argv3[] = { a0, a2, a4, NULL };

	(void)state;
	optind = 1;
	assert_int_equal(cli_getopt("t", 2, argv1, ":js:v", longopts),
			 CLI_GETOPT_ERROR);
	optind = 1;
	assert_int_equal(cli_getopt("t", 3, argv2, ":js:v", longopts), 'j');
	assert_int_equal(cli_getopt("t", 3, argv2, ":js:v", longopts), 'v');
	assert_int_equal(cli_getopt("t", 3, argv2, ":js:v", longopts),
			 CLI_GETOPT_ERROR);
	assert_int_equal(optopt, 'Z');
	optind = 1;
	assert_int_equal(cli_getopt("t", 3, argv3, ":js:v", longopts), 'j');
	assert_int_equal(cli_getopt("t", 3, argv3, ":js:v", longopts),
			 CLI_GETOPT_ERROR);
	optind = 1;
	assert_int_equal(cli_getopt("t", 2, argv1, ":js:v", longopts),
			 CLI_GETOPT_ERROR);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_cidr),
		cmocka_unit_test(test_cidr_v4mapped_is_v4),
		cmocka_unit_test(test_filter_transition),
		cmocka_unit_test(test_filter_event_agrees_with_tuple),
		cmocka_unit_test(test_bpf_side_agrees),
		cmocka_unit_test(test_filter_event_listener_and_seed),
		cmocka_unit_test(test_ss_letters),
		cmocka_unit_test(test_pipe_options_as_tcpstates),
		cmocka_unit_test(test_filter_tuple),
		cmocka_unit_test(test_filter_states_and_owner),
		cmocka_unit_test(test_state_mask_bad_name_is_reentrant),
		cmocka_unit_test(test_state_mask_overlong_name),
		cmocka_unit_test(test_state_names),
		cmocka_unit_test(test_durations),
		cmocka_unit_test(test_ports_and_numbers),
		cmocka_unit_test(test_repeated_port_options_add_up),
		cmocka_unit_test(test_stuck_option),
		cmocka_unit_test(test_shared_option_helpers),
		cmocka_unit_test(test_pipe_options_as_snapshot),
		cmocka_unit_test(test_cli_getopt_errors),
	};

	return cmocka_run_group_tests_name("filter", tests, NULL, NULL);
}
