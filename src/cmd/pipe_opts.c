// SPDX-License-Identifier: GPL-2.0 OR BSD-2-Clause
/*
 * The pipeline's options, common to trace, life and stats: parsed once,
 * into struct pipe_opts (pipeline.h).
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include "cli.h"
#include "netns.h"
#include "pipeline.h"
#include "pipe_impl.h"
#include "tcpstate.h"

void pipe_opts_init(struct pipe_opts *o, const char *cmd)
{
	memset(o, 0, sizeof(*o));
	o->cmd = cmd;
	o->max_conns = ENGINE_DEFAULT_MAX_CONNS;
	o->source = cli_live;
}

/*
 * STATE=DURATION[,...], split as the other lists are: an empty item (a
 * stray ',') is an error, not skipped.
 */
static int parse_stuck(struct pipe_opts *o, const char *arg)
{
	const char *p = arg;

	if (!*arg)
		return cli_usage_error(o->cmd,
			"--stuck: nothing given (STATE=DURATION, e.g. CLOSE_WAIT=30s)");
	do {
		char item[64], *eq;
		size_t n = strcspn(p, ",");
		uint64_t ns;
		int st;

		if (n == 0)
			return cli_usage_error(o->cmd,
				"--stuck: empty item in '%s' (a stray ',')", arg);
		if (n >= sizeof(item))
			return cli_usage_error(o->cmd,
				"--stuck: '%.16s...' (%zu bytes) is too long for STATE=DURATION",
				p, n);
		memcpy(item, p, n);
		item[n] = '\0';
		eq = strchr(item, '=');
		if (!eq)
			return cli_usage_error(o->cmd,
				"--stuck: '%s' is not STATE=DURATION (e.g. CLOSE_WAIT=30s)", item);
		*eq = '\0';
		st = tcp_state_parse(item);
		if (st < 0 || st == TCPFSM_ST_CLOSE || st == TCPFSM_ST_NEW_SYN_RECV)
			return cli_usage_error(o->cmd, "--stuck: unknown state '%s'", item);
		if (parse_duration_ns(eq + 1, &ns) || ns == 0)
			return cli_usage_error(o->cmd,
				"--stuck: bad duration '%s' (e.g. 30s, 500ms, 2m)", eq + 1);
		o->stuck_ns[st] = ns;
		o->has_stuck = true;
		p += n;
	} while (*p++ == ',');
	return 0;
}

/* The shared option helpers fill struct filter up to their limits. */
_Static_assert(TCPFSM_MAX_PORTS >= CLI_MAX_PORTS, "struct filter ports");
_Static_assert(FILTER_MAX_ADDRS >= CLI_MAX_ADDRS, "struct filter addrs");

int pipe_parse_opt(struct pipe_opts *o, int opt, const char *arg)
{
	struct filter *f = &o->filter;
	uint64_t v;

	switch (opt) {
	case '4':
	case '6':
		return cli_opt_family(o->cmd, opt, &f->family);
	case 'v':
		cli_verbose = true;
		return 0;
	case 'L':
	case OPT_LPORT:
		return cli_opt_ports(o->cmd, "lport", arg, f->lports, &f->n_lports);
	case 'D':
	case OPT_RPORT:
		return cli_opt_ports(o->cmd, "rport", arg, f->rports, &f->n_rports);
	case OPT_PORT:
		return cli_opt_ports(o->cmd, "port", arg, f->ports, &f->n_ports);
	case 'w':
		o->wide = true;
		return 0;
	case OPT_ADDR:
		return cli_opt_addrs(o->cmd, arg, f->addrs, &f->n_addrs);
	case OPT_PID:
		if (parse_u64(arg, 1, UINT32_MAX, &v))
			return cli_usage_error(o->cmd, "--pid: bad pid '%s'", arg);
		f->has_pid = true;
		f->pid = (uint32_t)v;
		return 0;
	case OPT_COMM:
		if (!*arg || strlen(arg) >= TCPFSM_COMM_LEN)
			return cli_usage_error(o->cmd,
				"--comm: a name of 1 to %d bytes, as in /proc/PID/comm",
				TCPFSM_COMM_LEN - 1);
		f->has_comm = true;
		strncpy(f->comm, arg, TCPFSM_COMM_LEN - 1);
		return 0;
	case OPT_STATE:
		return cli_opt_states(o->cmd, arg, &f->state_mask);
	case 'N':
	case OPT_NETNS:
		if (cli_opt_netns(o->cmd, arg, &f->netns))
			return EXIT_USAGE;
		f->has_netns = true;
		return 0;
	case OPT_JSON:
		o->json = true;
		return 0;
	case 'T':
		if (!strcmp(arg, "wall"))
			o->ts_mode = TS_WALL;
		else if (!strcmp(arg, "mono"))
			o->ts_mode = TS_MONO;
		else if (!strcmp(arg, "rel"))
			o->ts_mode = TS_REL;
		else if (!strcmp(arg, "iso"))
			o->ts_mode = TS_ISO;
		else
			return cli_usage_error(o->cmd,
				"--timestamp: '%s' is not wall, iso, mono or rel", arg);
		return 0;
	case 'd':
		if (parse_duration_ns(arg, &o->duration_ns) || !o->duration_ns)
			return cli_usage_error(o->cmd, "--duration: bad duration '%s'", arg);
		return 0;
	case 'c':
		if (parse_u64(arg, 1, UINT64_MAX, &o->count))
			return cli_usage_error(o->cmd, "--count: bad count '%s'", arg);
		return 0;
	case OPT_RECORD:
		if (!strcmp(arg, "-"))
			return cli_usage_error(o->cmd,
				"--record: '-' would mix the recording into the text on stdout; give a file");
		o->record_path = arg;
		return 0;
	case OPT_REPLAY:
		o->replay_path = arg;
		return 0;
	case OPT_STUCK:
		return parse_stuck(o, arg);
	case OPT_MAX_CONNS:
		if (parse_u64(arg, 16, 1ull << 30, &o->max_conns))
			return cli_usage_error(o->cmd,
				"--max-conns: bad number '%s' (16 to 2^30)", arg);
		return 0;
	case OPT_NO_MINISOCKS:
		o->no_minisocks = true;
		return 0;
	case OPT_NO_SEED:
		o->no_seed = true;
		return 0;
	case OPT_FORCE:
		o->force = true;
		return 0;
	case OPT_RINGBUF:
		if (parse_u64(arg, 1, 1024, &v) || (v & (v - 1)))
			return cli_usage_error(o->cmd,
				"--ringbuf-size: '%s' is not a power of two from 1 to 1024 (MiB)",
				arg);
		o->ringbuf_bytes = v << 20;
		return 0;
	}
	return 1;
}

int pipe_parse_args(struct pipe_opts *o, int argc, char **argv,
		    const struct option *longopts,
		    int (*cmd_opt)(struct pipe_opts *o, int opt, const char *arg),
		    void (*usage)(FILE *out))
{
	char shortopts[64];
	int opt, ret;

	optind = 1;
	snprintf(shortopts, sizeof(shortopts), ":%s%s", PIPE_SHORT_OPTS,
		 o->extra_short ? o->extra_short : "");
	while ((opt = cli_getopt(o->cmd, argc, argv, shortopts, longopts)) != -1) {
		if (opt == CLI_GETOPT_ERROR)
			return EXIT_USAGE;
		if (opt == 'h') {
			usage(stdout);
			return EXIT_OK;
		}
		if (opt == 'V') {
			cli_print_version(stdout);
			return EXIT_OK;
		}
		ret = pipe_parse_opt(o, opt, optarg);
		if (ret == 1 && cmd_opt)
			ret = cmd_opt(o, opt, optarg);
		if (ret == 1)
			return cli_usage_error(o->cmd, "unknown option '%s'",
					       argv[optind - 1]);
		if (ret)
			return ret;
	}
	if (optind < argc)
		return cli_usage_error(o->cmd, "unexpected argument '%s'",
				       argv[optind]);
	if (o->record_path && o->replay_path)
		return cli_usage_error(o->cmd, "--record and --replay exclude each other");
	return -1;
}
