// SPDX-License-Identifier: GPL-2.0 OR BSD-2-Clause
/*
 * tcpfsm snapshot: the TCP sockets of a network namespace, now, over
 * sock_diag (no iproute2), with how long each has been in its state when
 * a tracer publishes ages (agesrv.h) or a tcpfsm serve keeps them in
 * socket-local storage (serve_bpf_find_sk_map).
 */
#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <sched.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>
#include <arpa/inet.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include "array.h"
#include "agesrv.h"
#include "outfile.h"
#include "cgpath.h"
#include "clock.h"
#include "cli.h"
#include "commands.h"
#include "diag.h"
#include "fmt.h"
#include "json.h"
#include "netns.h"
#include "procmap.h"
#include "serve_bpf.h"
#include "u64map.h"
#include "tcpstate.h"
#include "snapshot_impl.h"


static void usage(FILE *out)
{
	fprintf(out,
"Usage: tcpfsm snapshot [OPTIONS]\n"
"\n"
"List the TCP sockets of a network namespace now, over sock_diag, with how\n"
"long each has been in its current state (when 'tcpfsm trace' or 'tcpfsm\n"
"serve' is running).\n"
"\n"
"Selection (done by the kernel):\n"
"  -4, -6                 IPv4 or IPv6 sockets only\n"
"      --state LIST       states, e.g. ESTABLISHED,CLOSE_WAIT (kernel names;\n"
"                         TIME-WAIT, SYN_RECV and NEW_SYN_RECV accepted)\n"
"  -l, --listening        listening sockets (as ss -l; adds LISTEN to --state)\n"
"      --lport PORTS      local port(s), comma-separated, up to %d in all\n"
"      --rport PORTS      remote port(s), the same\n"
"      --port PORTS       either end's port(s), the same\n"
"      --addr CIDR[,..]   either address in one of these prefixes (up to\n"
"                         %d in all); repeated flags and list items add up\n"
"                         (options combine with AND, list items with OR)\n"
"  -N, --netns NS         another network namespace: a name under /run/netns,\n"
"                         a path, a pid, or a namespace inode\n"
"\n"
"Output:\n"
"  -p, --processes        owner pid/comm, from one scan of /proc\n"
"  -s, --summary          counts per state (as ss -s)\n"
"      --by KEY           with the summary: top endpoints per state, KEY is\n"
"                         lport, rport, raddr or comm (implies --summary)\n"
"      --top N            how many per state with --by (default %d)\n"
"  -j, --json             one JSON object per line\n"
"      --watch SECONDS    refresh every SECONDS (or 500ms, 2s, ...)\n"
"  -D, --dump-raw FILE    also write the sock_diag replies to FILE (as ss -D)\n"
"      --force            let --dump-raw replace an existing FILE\n"
"      --from-raw FILE    list the replies in FILE instead of the kernel's\n"
"      --no-age           do not ask a running tracer or serve for ages\n"
"      --verbose          dump statistics on stderr\n"
"  -h, --help             this text\n"
"  -V, -v, --version      the version (as ss -v)\n"
"\n"
"ss's letters mean what they mean in ss: -t, -a, -n, -e, -o and -O ask for\n"
"what snapshot always does (TCP, every socket, numbers, the cookie, timers,\n"
"one line) and are accepted; the others (-u, -i, -m, -r, -K, ...) are\n"
"refused with a hint. So 'tcpfsm snapshot -tanp' works as 'ss -tanp'.\n"
"\n"
"AGE is the time in the current state: from the tracer's records (socket\n"
"$%s, default %s); '>=' when the\n"
"tracer only knows a lower bound; else from a running 'tcpfsm serve' (its\n"
"socket storage, root only); '~' for TIME_WAIT derived from its timer (60s\n"
"minus the time left) when neither knows it; '-' when unknown.\n",
		CLI_MAX_PORTS, CLI_MAX_ADDRS, DEFAULT_TOP, AGESRV_PATH_ENV,
		AGESRV_DEFAULT_PATH);
}

/* ------------------------------------------------------------- the run */

/*
 * Would a dump with these options list s? The state as the kernel judges
 * it; the rest (the bytecode's ports and addresses, the family) as every
 * command does (filter_tuple), live and for --from-raw alike.
 */
static bool selected(const struct opts *o, const struct diag_sock *s)
{
	struct tuple t = {
		.family = s->family, .sport = s->sport, .dport = s->dport,
	};

	if (o->states && (s->state >= 32 || !(o->states & 1u << s->state)))
		return false;
	memcpy(t.saddr, s->saddr, 16);
	memcpy(t.daddr, s->daddr, 16);
	return filter_tuple(&o->sel, &t);
}

struct replay {
	struct snap *sn;
	diag_sock_cb cb;
};

static int replay_row(void *ctx, const struct diag_sock *s)
{
	struct replay *r = ctx;

	return selected(r->sn->o, s) ? r->cb(r->sn, s) : 0;
}

/*
 * Replay a file of recorded replies (--from-raw): what a live dump
 * delivered (diag_parse_dumps), selected by the same options.
 */
static int replay_raw(struct snap *sn, diag_sock_cb cb,
		      struct diag_dump_info *info)
{
	struct replay r = { .sn = sn, .cb = cb };
	size_t len = 0, cap = 1 << 20;
	char *buf = malloc(cap);
	FILE *f = fopen(sn->o->from_raw, "rb");
	int ret;

	memset(info, 0, sizeof(*info));
	if (!f || !buf) {
		ret = f ? -ENOMEM : -errno;
		goto out;
	}
	for (;;) {
		size_t n = fread(buf + len, 1, cap - len, f);

		len += n;
		if (len < cap)
			break;
		char *grown = realloc(buf, cap * 2);

		if (!grown) {
			ret = -ENOMEM;
			goto out;
		}
		buf = grown;
		cap *= 2;
	}
	ret = ferror(f) ? -EIO : diag_parse_dumps(buf, len, replay_row, &r, info);
out:
	if (f)
		fclose(f);
	free(buf);
	return ret;
}

/*
 * Why ages are missing or partial, once (again when it changes, with
 * --watch): no tracer at all (ENOENT) is the usual case and says nothing.
 */
static void tell_ages(struct snap *sn)
{
	const char *path = agesrv_default_path();
	int err = sn->age_err;

	if (sn->said && err == sn->said_err && sn->age_flags == sn->said_flags)
		return;
	sn->said = true;
	sn->said_err = err;
	sn->said_flags = sn->age_flags;
	if (err == -ECONNREFUSED)
		fprintf(stderr, "tcpfsm snapshot: no ages: nothing answers at %s "
			"(a socket left by a tracer that was killed)\n", path);
	else if (err == -ETIMEDOUT)
		fprintf(stderr, "tcpfsm snapshot: ages unavailable: the tracer at %s "
			"did not answer within %.1f s (%zu ages received)\n", path,
			AGESRV_QUERY_TIMEOUT_MS / 1000.0, sn->ages.n);
	else if (err == -ECONNRESET)
		fprintf(stderr, "tcpfsm snapshot: ages unavailable: the tracer at %s "
			"gave up on this query (too many clients)\n", path);
	else if (err == -EPROTO)
		fprintf(stderr, "tcpfsm snapshot: ages unavailable: a malformed "
			"answer from %s (%zu ages received)\n", path, sn->ages.n);
	else if (err && err != -ENOENT)
		fprintf(stderr, "tcpfsm snapshot: ages unavailable: %s: %s\n", path,
			strerror(-err));
	if (!err && (sn->age_flags & AGE_HF_FILTERED))
		fprintf(stderr, "tcpfsm snapshot: note: the tracer at %s runs with "
			"filters: sockets it does not select have no age (-)\n", path);
}

static void load_ages(struct snap *sn)
{
	struct age_answer ans;

	snap_age_table_clear(&sn->ages);
	sn->have_ages = false;
	sn->age_err = agesrv_query(NULL, 0, snap_age_table_add, &sn->ages, &ans);
	sn->age_flags = ans.flags;
	/* a truncated answer still holds true ages */
	sn->have_ages = sn->ages.n > 0 || sn->age_err == 0;
	tell_ages(sn);
}

/*
 * Where ages come from, when it is not obvious, once (again when it
 * changes, with --watch): a tracer and serve both (the tracer's first),
 * several serves (the oldest's), or serve's that could not be had. No
 * serve at all (ENOENT), or no right to look for one (EPERM: unprivileged,
 * who cannot ask sock_diag for socket storage either), says nothing.
 */
static void tell_serve(struct snap *sn)
{
	int what = sn->serve_fd >= 0 ? (int)sn->serve_map_id : sn->serve_fd;
	bool both = sn->serve_fd >= 0 && sn->have_ages;

	if (sn->said_serve == what && sn->said_nserves == sn->nserves &&
	    sn->said_both == both)
		return;
	sn->said_serve = what;
	sn->said_nserves = sn->nserves;
	sn->said_both = both;
	if (sn->serve_fd >= 0 && sn->nserves > 1)
		fprintf(stderr, "tcpfsm snapshot: note: %u tcpfsm serve watch this "
			"namespace: ages from the oldest's socket storage (BPF "
			"map %u)%s\n",
			sn->nserves, sn->serve_map_id,
			both ? ", where the tracer has none" : "");
	else if (both)
		fprintf(stderr, "tcpfsm snapshot: note: ages from the tracer at "
			"%s, else from tcpfsm serve's socket storage (BPF map "
			"%u)\n", agesrv_default_path(), sn->serve_map_id);
	else if (sn->serve_fd < 0 && sn->serve_fd != -ENOENT &&
		 sn->serve_fd != -EPERM)
		fprintf(stderr, "tcpfsm snapshot: no ages from tcpfsm serve: "
			"%s\n", strerror(-sn->serve_fd));
}

/* A running serve's socket storage, for this round's dump. */
static void find_serve(struct snap *sn)
{
	struct stat ns;

	/* the namespace dumped: ours, entered already (-N) */
	if (stat("/proc/thread-self/ns/net", &ns)) {
		sn->serve_fd = -errno;
		return;
	}
	sn->nserves = 0;
	sn->serve_fd = serve_bpf_find_sk_map((uint32_t)ns.st_ino, &sn->serve_map_id,
					     &sn->nserves);
}

/*
 * Are the tracer's ages queried? Not for a recorded dump (another moment),
 * and not for a summary, which has no AGE column: there ages only name
 * owners, for --by comm.
 */
static bool wants_ages(const struct opts *o)
{
	return !o->no_age && !o->from_raw &&
	       (!o->summary || o->by == DIAG_BY_COMM);
}

static int one_snapshot(struct snap *sn, FILE *raw)
{
	const struct opts *o = sn->o;
	struct diag_query q = {
		.family = o->family,
		.states = o->states,
		.filter = &o->filter,
		.raw = raw,
		.restartable = true,
	};
	struct diag_dump_info info;
	diag_sock_cb cb = o->summary ? snap_tally_row : o->json ? snap_json_row : snap_collect;
	uint64_t t0, t1, t2;
	int ret;

	t0 = clock_ns(CLOCK_MONOTONIC);
	if (o->processes) {
		ret = procmap_scan(&sn->pm, "/proc");
		if (ret)
			return ret;
		sn->have_pm = true;
	}
	if (wants_ages(o))
		load_ages(sn);
	/* serve knows no owners: not for a summary (--by comm) */
	sn->serve_fd = -ENOENT;
	if (wants_ages(o) && !o->summary) {
		find_serve(sn);
		tell_serve(sn);
	}
	if (sn->serve_fd >= 0) {
		q.map_fd = sn->serve_fd;
		q.map_id = sn->serve_map_id;
	}
	snap_rows_clear(sn);
	sn->rows = 0;
	if (o->summary)
		diag_tally_init(&sn->tally, o->by);
	t1 = sn->now_ns = clock_ns(CLOCK_MONOTONIC);
	if (o->from_raw)
		ret = replay_raw(sn, cb, &info);
	else
		ret = diag_dump(&q, replay_row, &(struct replay){ sn, cb }, &info);
	if (sn->serve_fd >= 0)
		close(sn->serve_fd);	/* found again next round */
	t2 = clock_ns(CLOCK_MONOTONIC);
	if (!ret && o->summary)
		ret = snap_summary_print(sn);
	else if (!ret && !o->json)
		ret = snap_table_print(sn);
	if (o->summary)
		diag_tally_free(&sn->tally);
	if (cli_verbose) {
		fprintf(stderr,
			"tcpfsm snapshot: %llu sockets, %u recvs, %llu bytes, "
			"%u DUMP_INTR retries%s; /proc+ages %.1f ms, dump %.1f "
			"ms, output %.1f ms\n",
			(unsigned long long)info.nsocks, info.recvs,
			(unsigned long long)info.reply_bytes,
			info.intr_retries, info.intr ? " (still interrupted)" : "",
			(t1 - t0) / 1e6, (t2 - t1) / 1e6, (clock_ns(CLOCK_MONOTONIC) - t2) / 1e6);
		if (o->processes)
			fprintf(stderr, "tcpfsm snapshot: /proc: %u processes, "
				"%u denied, %zu sockets owned\n",
				sn->pm.nprocs_scanned, sn->pm.nprocs_denied,
				sn->pm.nused);
		if (wants_ages(o))
			fprintf(stderr, "tcpfsm snapshot: ages: %zu from %s%s%s\n",
				sn->ages.n, agesrv_default_path(),
				sn->age_err ? ": " : "",
				sn->age_err ? strerror(-sn->age_err) : "");
		if (wants_ages(o) && !o->summary && sn->serve_fd >= 0)
			fprintf(stderr, "tcpfsm snapshot: serve's socket "
				"storage: BPF map %u (%u serve watching this "
				"namespace)\n",
				sn->serve_map_id, sn->nserves);
		else if (wants_ages(o) && !o->summary)
			fprintf(stderr, "tcpfsm snapshot: serve's socket "
				"storage: %s\n", sn->serve_fd == -ENOENT ?
				"no serve watches this namespace" :
				strerror(-sn->serve_fd));
	}
	if (!ret && info.intr)
		fprintf(stderr, "tcpfsm snapshot: the kernel marked the dump "
			"interrupted (NLM_F_DUMP_INTR) %u times; the listing may "
			"miss or repeat sockets\n", info.intr_retries + 1);
	return ret;
}

static int enter_netns(const char *spec)
{
	char path[4096];
	int fd, ret = 0;

	ret = netns_spec_path(spec, path, sizeof(path));
	if (ret)
		return ret;
	fd = open(path, O_RDONLY | O_CLOEXEC);
	if (fd < 0)
		return -errno;
	if (setns(fd, CLONE_NEWNET))
		ret = -errno;
	close(fd);
	return ret;
}

static int enter_fd(void *ctx, uint32_t inode, int fd)
{
	int *err = ctx;

	(void)inode;
	*err = setns(fd, CLONE_NEWNET) ? -errno : 0;
	return NETNS_WALK_STOP;
}

/*
 * The namespace with this inode, found as seeding finds namespaces (a
 * process in it, or /run/netns); our own needs no entering.
 */
static int enter_netns_inode(uint32_t ino)
{
	struct netns_walk_stats st;
	struct stat self;
	int err = -ENOENT, ret;

	if (!stat("/proc/thread-self/ns/net", &self) && self.st_ino == ino)
		return 0;
	ret = netns_walk("/proc", "/run/netns", "/proc/thread-self/ns/net", ino,
			 enter_fd, &err, &st);
	if (ret < 0)
		return ret;
	return ret == NETNS_WALK_STOP ? err : (st.failed ? st.first_err : -ENOENT);
}

/* Sleep until deadline; false if interrupted by SIGINT/SIGTERM. */
static bool sleep_until(uint64_t deadline_ns)
{
	while (!cli_stop) {
		uint64_t now = clock_ns(CLOCK_MONOTONIC);
		struct timespec ts;

		if (now >= deadline_ns)
			return true;
		ts.tv_sec = (time_t)((deadline_ns - now) / 1000000000ull);
		ts.tv_nsec = (long)((deadline_ns - now) % 1000000000ull);
		nanosleep(&ts, NULL);
	}
	return false;
}

/* The shared option helpers fill struct diag_filter up to their limits. */
_Static_assert(DIAG_MAX_PORTS >= CLI_MAX_PORTS, "diag_filter ports");
_Static_assert(DIAG_MAX_CIDRS >= CLI_MAX_ADDRS, "diag_filter cidrs");

enum {
	OPT_FROM_RAW = 0x100,
	OPT_NO_AGE,
	OPT_STATE,
	OPT_LPORT,
	OPT_RPORT,
	OPT_PORT,
	OPT_ADDR,
	OPT_BY,
	OPT_TOP,
	OPT_WATCH,
	OPT_VERBOSE,
	OPT_FORCE,
};

static int parse_opts(int argc, char **argv, struct opts *o)
{
	static const struct option longopts[] = {
		{ "help", no_argument, NULL, 'h' },
		{ "version", no_argument, NULL, 'V' },
		{ "state", required_argument, NULL, OPT_STATE },
		{ "listening", no_argument, NULL, 'l' },
		{ "lport", required_argument, NULL, OPT_LPORT },
		{ "rport", required_argument, NULL, OPT_RPORT },
		{ "port", required_argument, NULL, OPT_PORT },
		{ "addr", required_argument, NULL, OPT_ADDR },
		{ "netns", required_argument, NULL, 'N' },
		{ "processes", no_argument, NULL, 'p' },
		{ "summary", no_argument, NULL, 's' },
		{ "by", required_argument, NULL, OPT_BY },
		{ "top", required_argument, NULL, OPT_TOP },
		{ "json", no_argument, NULL, 'j' },
		{ "watch", required_argument, NULL, OPT_WATCH },
		{ "verbose", no_argument, NULL, OPT_VERBOSE },
		{ "dump-raw", required_argument, NULL, 'D' },
		{ "from-raw", required_argument, NULL, OPT_FROM_RAW },
		{ "no-age", no_argument, NULL, OPT_NO_AGE },
		{ "force", no_argument, NULL, OPT_FORCE },
		{ 0 },
	};
	bool top_set = false;
	const char *msg;
	uint64_t v;
	int c;

	memset(o, 0, sizeof(*o));
	o->top = DEFAULT_TOP;
	optind = 1;
	/* the letters are ss's, meaning what they mean there (cli_ss_letter) */
	while ((c = cli_getopt(CMD, argc, argv, ":46hVvlpsjN:D:" CLI_SS_LETTERS,
			       longopts)) != -1) {
		switch (c) {
		case CLI_GETOPT_ERROR:
			return EXIT_USAGE;
		case 'h':
			usage(stdout);
			return 1;
		case 'v':	/* ss -v: the version */
		case 'V':
			cli_print_version(stdout);
			return 1;
		case '4':
		case '6':
			if (cli_opt_family(CMD, c, &o->family))
				return EXIT_USAGE;
			break;
		case OPT_STATE:
			if (cli_opt_states(CMD, optarg, &o->states))
				return EXIT_USAGE;
			break;
		case 'l':	/* ss -l: listening sockets */
			o->states |= 1u << TCPFSM_ST_LISTEN;
			break;
		case OPT_LPORT:
		case OPT_RPORT:
			if (cli_opt_ports(CMD, c == OPT_LPORT ? "lport" : "rport", optarg,
					  c == OPT_LPORT ? o->filter.lports :
							   o->filter.rports,
					  c == OPT_LPORT ? &o->filter.n_lports :
							   &o->filter.n_rports))
				return EXIT_USAGE;
			break;
		case OPT_PORT:
			if (cli_opt_ports(CMD, "port", optarg, o->filter.ports,
					  &o->filter.n_ports))
				return EXIT_USAGE;
			break;
		case OPT_ADDR:
			if (cli_opt_addrs(CMD, optarg, o->filter.cidrs,
					  &o->filter.n_cidrs))
				return EXIT_USAGE;
			break;
		case 'N': {
			enum netns_spec_kind kind;
			uint32_t ino;

			/* checked now, as every command does; entered later */
			if (cli_opt_netns(CMD, optarg, &ino))
				return EXIT_USAGE;
			(void)netns_spec_parse(optarg, &kind, &v);
			o->netns = kind == NETNS_SPEC_INODE ? NULL : optarg;
			o->netns_ino = kind == NETNS_SPEC_INODE ? ino : 0;
			break;
		}
		case 'p':
			o->processes = true;
			break;
		case 's':	/* ss -s: the summary */
			o->summary = true;
			break;
		case OPT_BY: {
			int by = diag_group_parse(optarg);

			if (by < 0)
				return cli_usage_error(CMD, "bad --by '%s' (lport, "
						       "rport, raddr or comm)",
						       optarg);
			o->by = by;
			o->summary = true;
			break;
		}
		case OPT_TOP:
			if (parse_u64(optarg, 1, MAX_TOP, &v))
				return cli_usage_error(CMD, "bad --top '%s' "
						       "(1..%d)", optarg, MAX_TOP);
			o->top = (int)v;
			top_set = true;
			break;
		case 'j':
			o->json = true;
			break;
		case OPT_WATCH:
			if (parse_duration_ns(optarg, &v) || v < 100000000ull)
				return cli_usage_error(CMD, "bad --watch '%s' "
						       "(seconds, at least "
						       "100ms)", optarg);
			o->watch_ns = v;
			break;
		case OPT_VERBOSE:
			cli_verbose = true;
			break;
		case 'D':	/* ss -D FILE: the raw replies, to FILE */
			o->dump_raw = optarg;
			break;
		case OPT_FORCE:
			o->force = true;
			break;
		case OPT_FROM_RAW:
			o->from_raw = optarg;
			break;
		case OPT_NO_AGE:
			o->no_age = true;
			break;
		default:
			if (c > 0 && c < 0x100 && (msg = cli_ss_letter(c))) {
				if (!*msg)
					break;	/* what snapshot always does */
				return cli_usage_error(CMD, "-%c %s", c, msg);
			}
			return cli_usage_error(CMD, "unknown option '%s'",
					       argv[optind - 1]);
		}
	}
	if (optind < argc)
		return cli_usage_error(CMD, "unexpected argument '%s'",
				       argv[optind]);
	if (top_set && !o->by)
		return cli_usage_error(CMD, "--top needs --by");
	/* request socks are NEW_SYN_RECV in the kernel's tables and reported
	 * as SYN_RECV: ask for both */
	if (o->states & (1u << TCPFSM_ST_SYN_RECV | 1u << TCPFSM_ST_NEW_SYN_RECV))
		o->states |= 1u << TCPFSM_ST_SYN_RECV |
			     1u << TCPFSM_ST_NEW_SYN_RECV;
	if (o->by == DIAG_BY_COMM)
		o->processes = true;
	diag_filter_selection(&o->filter, o->family, &o->sel);
	return 0;
}

static int run(struct snap *sn, const struct opts *o)
{
	FILE *raw = NULL;
	bool tty = isatty(fileno(sn->out));
	unsigned int round;
	int ret = 0;

	if (o->dump_raw) {
		/* a new file, 0600, no symlink followed (outfile.h) */
		int fd = outfile_create(o->dump_raw, o->force);

		raw = fd >= 0 ? fdopen(fd, "wb") : NULL;
		if (!raw) {
			int err = fd < 0 ? -fd : errno;

			if (fd >= 0)
				close(fd);
			return cli_error("snapshot: cannot write '%s': %s%s",
					 o->dump_raw, strerror(err),
					 err == EEXIST ? " (--force replaces it)" : "");
		}
	}
	for (round = 0; !cli_stop; round++) {
		uint64_t start = clock_ns(CLOCK_MONOTONIC);

		if (o->watch_ns && !o->json) {
			if (tty)
				fputs("\033[H\033[2J", sn->out);
			else if (round)
				fputc('\n', sn->out);
		}
		ret = one_snapshot(sn, raw);
		if (!ret)
			ret = cli_flush(sn->out);
		if (ret || !o->watch_ns || !sleep_until(start + o->watch_ns))
			break;
	}
	if (raw && fclose(raw) && !ret)
		ret = -errno;
	if (ret == -EPIPE)
		return EXIT_OK;	/* the reader went away: quietly */
	if (ret && o->from_raw)
		return cli_error("snapshot: --from-raw '%s': %s", o->from_raw,
				 ret == -ENODATA ? "no complete dump at its end "
				 "(empty, or cut short before NLMSG_DONE)" :
				 ret == -EBADMSG ? "malformed netlink messages (or "
				 "cut short inside one)" :
				 strerror(-ret));
	if (ret == -EPERM || ret == -EACCES)
		return cli_error("snapshot: sock_diag: %s (run as root, or "
				 "with CAP_NET_ADMIN)", strerror(-ret));
	if (ret == -EPROTONOSUPPORT || ret == -ENOENT)
		return cli_error("snapshot: sock_diag for TCP is not available "
				 "(kernel without CONFIG_INET_DIAG?): %s",
				 strerror(-ret));
	if (ret)
		return cli_error("snapshot: %s", strerror(-ret));
	return EXIT_OK;
}

int cmd_snapshot(int argc, char **argv)
{
	static char obuf[1 << 20];
	struct snap sn = { 0 };
	struct opts o;
	int ret;

	ret = parse_opts(argc, argv, &o);
	if (ret)
		return ret == 1 ? EXIT_OK : ret;
	if (o.netns || o.netns_ino) {
		ret = o.netns ? enter_netns(o.netns) : enter_netns_inode(o.netns_ino);
		if (ret == -ENOENT && o.netns_ino)
			return cli_error("snapshot: no process or /run/netns entry "
					 "is in network namespace %u", o.netns_ino);
		if (ret)
			return cli_error("snapshot: cannot enter network "
					 "namespace '%s': %s", o.netns ? o.netns : "",
					 strerror(-ret));
	}
	cli_install_signals();
	setvbuf(stdout, obuf, _IOFBF, sizeof(obuf));
	sn.o = &o;
	sn.out = stdout;
	sn.said_serve = -ENOENT;
	json_init(&sn.j, stdout);
	/* a recorded dump's ids may be another boot's: no paths for them */
	if (o.json && !o.summary && !o.from_raw)
		sn.have_cg = !cgpath_init_mounted(&sn.cg, "/proc/self/mountinfo");
	ret = run(&sn, &o);
	if (sn.have_cg)
		cgpath_free(&sn.cg);
	free(sn.v);
	free(sn.text);
	snap_age_table_free(&sn.ages);
	procmap_free(&sn.pm);
	return ret;
}

