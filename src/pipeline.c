// SPDX-License-Identifier: GPL-2.0 OR BSD-2-Clause
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <sched.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include "agesrv.h"
#include "cli.h"
#include "clock.h"
#include "diag.h"
#include "loader.h"
#include "fmt.h"
#include "netns.h"
#include "outfile.h"
#include "pipeline.h"
#include "procmap.h"
#include "record.h"
#include "tcpstate.h"

/* How far behind "now" records can still arrive from another CPU. */
#define REORDER_SLACK_NS 10000000ull	/* 10 ms */
/* How long a connect's record waits for its local port. */
#define PORT_HOLD_NS 200000000ull	/* 200 ms */
#define POLL_MS 100

void pipe_opts_init(struct pipe_opts *o, const char *cmd)
{
	memset(o, 0, sizeof(*o));
	o->cmd = cmd;
	o->max_conns = ENGINE_DEFAULT_MAX_CONNS;
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

static bool filter_conn(const struct filter *f, const struct conn *c)
{
	if (!filter_tuple(f, &c->t))
		return false;
	if ((f->has_pid || f->has_comm) &&
	    !filter_owner(f, c->owner.pid, c->owner.comm))
		return false;
	return true;
}

bool pipe_wants_conn(const struct pipe *p, const struct conn *c)
{
	/* a replay shows no more than the live run did */
	if (p->has_rec_filter && !filter_conn(&p->rec_filter, c))
		return false;
	return filter_conn(&p->o.filter, c);
}

/*
 * A record of a connection the filters may select (filter_event), by the
 * options' filters and, in a replay, the recording's: the engine sees no
 * other.
 */
static bool wants_event(const struct pipe *p, const struct tcpfsm_event *e)
{
	return (!p->has_rec_filter || filter_event(&p->rec_filter, e)) &&
	       filter_event(&p->o.filter, e);
}

/* A socket read at start, with its owner from /proc (pid 0: none) */
static bool wants_seed(const struct pipe *p, uint8_t state, const struct tuple *t,
		       const struct owner *o)
{
	/* an owner known and not selected (a listener's children need it) */
	if (o->pid && state != TCPFSM_ST_LISTEN &&
	    ((filter_has_owner(&p->o.filter) &&
	      !filter_owner(&p->o.filter, o->pid, o->comm)) ||
	     (p->has_rec_filter && filter_has_owner(&p->rec_filter) &&
	      !filter_owner(&p->rec_filter, o->pid, o->comm))))
		return false;
	return (!p->has_rec_filter || filter_seed(&p->rec_filter, state, t)) &&
	       filter_seed(&p->o.filter, state, t);
}

/*
 * A connection whose owner is known and not selected: forgotten once the
 * engine call that told it returns (never a listener: its children take
 * their owner from it).
 */
static void note_owner(struct pipe *p, const struct conn *c)
{
	if (!c->owner.pid || !c->cookie || c->open_kind == OPEN_LISTEN ||
	    p->nforget == sizeof(p->forget) / sizeof(p->forget[0]))
		return;	/* a full list: forgotten at its next record */
	if ((filter_has_owner(&p->o.filter) &&
	     !filter_owner(&p->o.filter, c->owner.pid, c->owner.comm)) ||
	    (p->has_rec_filter && filter_has_owner(&p->rec_filter) &&
	     !filter_owner(&p->rec_filter, c->owner.pid, c->owner.comm)))
		p->forget[p->nforget++] = c->cookie;
}

static void forget_rejected(struct pipe *p)
{
	unsigned int i;

	for (i = 0; i < p->nforget; i++)
		if (engine_forget(p->eng, p->forget[i]))
			(void)filter_reject(&p->rejects, p->forget[i]);
	p->nforget = 0;
}

/*
 * A finished connection the filters select: pipe_wants_conn(), and with
 * --state, one that went through one of those states.
 */
static bool wants_closed(const struct pipe *p, const struct conn *c)
{
	uint32_t states = p->o.filter.state_mask;

	return pipe_wants_conn(p, c) && (!states || (states & conn_path_states(c)));
}

void pipe_emitted(struct pipe *p)
{
	p->emitted++;
	if (p->o.count && p->emitted >= p->o.count)
		p->done = true;
}

uint64_t pipe_ts_value(const struct pipe *p, uint64_t mono_ns)
{
	switch (p->o.ts_mode) {
	case TS_MONO:
		return mono_ns;
	case TS_REL:
		return mono_ns >= p->start_mono ? mono_ns - p->start_mono : 0;
	default: {
		uint64_t v;

		/*
		 * A recording's timestamps and clocks can be anything: the
		 * sum (computed exactly) is clamped to [0, UINT64_MAX].
		 */
		if (__builtin_add_overflow(mono_ns, p->wall_offset, &v))
			return p->wall_offset < 0 ? 0 : UINT64_MAX;
		return v;
	}
	}
}

size_t pipe_format_ts(struct pipe *p, char *buf, uint64_t mono_ns)
{
	uint64_t v = pipe_ts_value(p, mono_ns);
	uint64_t sec = v / 1000000000ull;
	bool iso = p->o.ts_mode == TS_ISO;
	char *e = buf;

	if (p->o.ts_mode == TS_WALL || iso) {
		/* localtime_r costs more than the rest of a line: once a second */
		if (sec != p->ts_sec || !p->ts_sec_len) {
			time_t secs = (time_t)sec;
			struct tm tm;
			char z[8];

			localtime_r(&secs, &tm);
			p->ts_sec_len = strftime(p->ts_sec_str, sizeof(p->ts_sec_str),
						 iso ? "%Y-%m-%dT%H:%M:%S" : "%H:%M:%S",
						 &tm);
			/* "+0100" as ISO 8601's "+01:00" */
			if (iso && strftime(z, sizeof(z), "%z", &tm) == 5)
				snprintf(p->ts_zone, sizeof(p->ts_zone), "%.3s:%.2s",
					 z, z + 3);
			else
				p->ts_zone[0] = '\0';
			p->ts_sec = sec;
		}
		memcpy(e, p->ts_sec_str, p->ts_sec_len);
		e += p->ts_sec_len;
	} else {
		e = fmt_u64(e, sec);
	}
	*e++ = '.';
	e = fmt_u64_fixed(e, v % 1000000000ull / 1000, 6);
	if (iso)
		e = fmt_str(e, p->ts_zone);
	*e = '\0';
	return e - buf;
}

char *pipe_fmt_ms(char *e, uint64_t ns, uint8_t known)
{
	if (known == DUR_UNKNOWN) {
		*e++ = '-';
		return e;
	}
	if (known == DUR_LOWER_BOUND)
		*e++ = '>';
	e = fmt_u64(e, ns / 1000000);
	*e++ = '.';
	return fmt_u64_fixed(e, ns % 1000000 / 1000, 3);
}

/*
 * The widths of pipe_fmt_conn_cols' columns; the time's, the cookie's and
 * the addresses' depend on the options (pipe_cols_init), the rest are fixed.
 */
enum { W_TIME = 15, W_COOKIE = 10, W_PID = 7, W_COMM = 15, W_ADDR = 15, W_PORT = 5 };
enum { W_TIME_ISO = 32, W_COOKIE_WIDE = 16, W_ADDR_WIDE = 39, W_NETNS = 10 };
_Static_assert(sizeof(PIPE_CONN_COLS_HEADER) - 1 ==
	       W_TIME + W_COOKIE + W_PID + W_COMM + 2 * (W_ADDR + W_PORT) + 8,
	       "PIPE_CONN_COLS_HEADER and the column widths disagree");

/* A column's bytes at most: its longest text, padded to its width, a space. */
#define COL_MAX(len, width) (((len) > (width) ? (len) : (width)) + 1)
/* after the time: a hex cookie, a u32 pid, an escaped comm, addresses cut
 * to their width, ports, a netns inode */
#define COLS_TEXT_MAX                                                          \
	(COL_MAX(16, W_COOKIE_WIDE) + COL_MAX(10, W_PID) +                     \
	 COL_MAX(COMM_SAFE_LEN - 1, W_COMM) + 2 * (W_ADDR_WIDE + 1) +          \
	 2 * COL_MAX(5, W_PORT) + COL_MAX(10, W_NETNS))
/* the time: ISO 8601, or up to 11 digits of seconds and 7 more */
_Static_assert(COL_MAX(PIPE_TS_MAX, W_TIME_ISO) + COLS_TEXT_MAX <= PIPE_CONN_COLS_MAX,
	       "PIPE_CONN_COLS_MAX is too small");

/*
 * A column of text that may not fit (an IPv6 address): longer than width,
 * it keeps its head and tail around a '~', so columns never shift and the
 * same address always looks the same.
 */
static char *fmt_col_fit(char *e, const char *s, size_t len, size_t width)
{
	size_t head, tail;

	if (len <= width)
		return fmt_col(e, s, len, width);
	head = (width - 1) / 3;
	tail = width - 1 - head;
	memcpy(e, s, head);
	e[head] = '~';
	memcpy(e + head + 1, s + len - tail, tail);
	e[width] = ' ';
	return e + width + 1;
}

/* The columns after the time, from what identifies a connection. */
static char *fmt_conn_id_cols(const struct pipe *p, char *e, const struct conn *c)
{
	char buf[ADDR_STRLEN], num[24];
	size_t n;

	/* hex, as ss's sk: and snapshot's Cookie */
	e = fmt_col(e, num, fmt_hex(num, c->cookie) - num, p->w_cookie);
	if (c->owner.pid) {
		char comm[COMM_SAFE_LEN];

		e = fmt_col(e, num, fmt_u64(num, c->owner.pid) - num, W_PID);
		n = comm_escape(comm, c->owner.comm);
		e = fmt_col(e, comm, n, W_COMM);
	} else {
		e = fmt_col(e, "-", 1, W_PID);
		e = fmt_col(e, "-", 1, W_COMM);
	}
	n = format_addr(buf, c->t.family, c->t.saddr);
	e = fmt_col_fit(e, buf, n, p->w_addr);
	e = fmt_col(e, num, fmt_u64(num, c->t.sport) - num, W_PORT);
	n = format_addr(buf, c->t.family, c->t.daddr);
	e = fmt_col_fit(e, buf, n, p->w_addr);
	e = fmt_col(e, num, fmt_u64(num, c->t.dport) - num, W_PORT);
	if (p->o.wide)
		e = fmt_col(e, num, fmt_u64(num, c->t.netns) - num, W_NETNS);
	return e;
}

/*
 * A connection prints about ten lines within microseconds, all with the same
 * columns: the last text made for each of a few cookies is kept, keyed by
 * everything it was made from, so a changed owner or port makes it anew.
 */
#define COLS_CACHE 64	/* a power of two */

struct cols_entry {
	uint64_t cookie;
	uint32_t pid;
	uint32_t len;
	char comm[TCPFSM_COMM_LEN];
	struct tuple t;
	char text[COLS_TEXT_MAX];
};

static bool cols_match(const struct cols_entry *ce, const struct conn *c)
{
	return ce->len && ce->cookie == c->cookie && ce->pid == c->owner.pid &&
	       !memcmp(ce->comm, c->owner.comm, sizeof(ce->comm)) &&
	       !memcmp(&ce->t, &c->t, sizeof(ce->t));
}

char *pipe_fmt_conn_cols(struct pipe *p, char *e, uint64_t ts_ns,
			 const struct conn *c)
{
	struct cols_entry *ce = &p->cols[(c->cookie ^ c->t.sport) & (COLS_CACHE - 1)];
	char buf[PIPE_TS_MAX];
	char *start;

	e = fmt_col(e, buf, pipe_format_ts(p, buf, ts_ns), p->w_time);
	if (cols_match(ce, c)) {
		memcpy(e, ce->text, ce->len);
		return e + ce->len;
	}
	start = e;
	e = fmt_conn_id_cols(p, e, c);	/* at most COLS_TEXT_MAX bytes */
	ce->cookie = c->cookie;
	ce->pid = c->owner.pid;
	memcpy(ce->comm, c->owner.comm, sizeof(ce->comm));
	ce->t = c->t;
	ce->len = (uint32_t)(e - start);
	memcpy(ce->text, start, ce->len);
	return e;
}

const char *pipe_conn_cols_header(const struct pipe *p)
{
	return p->cols_header;
}

int pipe_cols_init(struct pipe *p)
{
	bool iso = p->o.ts_mode == TS_ISO;

	p->w_time = iso ? W_TIME_ISO : W_TIME;
	p->w_cookie = p->o.wide ? W_COOKIE_WIDE : W_COOKIE;
	p->w_addr = p->o.wide ? W_ADDR_WIDE : W_ADDR;
	snprintf(p->cols_header, sizeof(p->cols_header),
		 "%-*s %-*s %-*s %-*s %-*s %-*s %-*s %-*s %s",
		 p->w_time, "TIME", p->w_cookie, "COOKIE", W_PID, "PID",
		 W_COMM, "COMM", p->w_addr, "LADDR", W_PORT, "LPORT",
		 p->w_addr, "RADDR", W_PORT, "RPORT",
		 p->o.wide ? "NETNS      " : "");
	p->cols = calloc(COLS_CACHE, sizeof(*p->cols));
	return p->cols ? 0 : -ENOMEM;
}

const char *pipe_cgroup_path(struct pipe *p, uint64_t cgroup_id)
{
	if (!p->have_cg)
		return NULL;
	return cgpath_lookup(&p->cg, cgroup_id, p->now_ns);
}

void pipe_json_conn(struct pipe *p, const struct conn *c)
{
	struct json *j = &p->j;
	const char *cgroup = NULL;
	char addr[64];

	json_u64(j, "cookie", c->cookie);
	if (c->owner.pid) {
		json_u64(j, "pid", c->owner.pid);
		json_strn(j, "comm", c->owner.comm, TCPFSM_COMM_LEN);
		json_u64(j, "cgroup_id", c->owner.cgroup_id);
		cgroup = pipe_cgroup_path(p, c->owner.cgroup_id);
	} else {
		json_null(j, "pid");
		json_null(j, "comm");
		json_null(j, "cgroup_id");
	}
	if (cgroup)
		json_str(j, "cgroup", cgroup);
	else
		json_null(j, "cgroup");
	json_u64(j, "netns", c->t.netns);
	json_str(j, "family", c->t.family == AF_INET6 ? "ipv6" : "ipv4");
	format_addr(addr, c->t.family, c->t.saddr);
	json_str(j, "saddr", addr);
	json_u64(j, "sport", c->t.sport);
	format_addr(addr, c->t.family, c->t.daddr);
	json_str(j, "daddr", addr);
	json_u64(j, "dport", c->t.dport);
}

/* ---- the loop ---- */

/*
 * Into the recording, what the replay must do at this point to give the
 * same output (record.h, RECORD_EV_*). A write error stops the run as a
 * record's does.
 */
static void rec_mark(struct pipe *p, uint8_t kind, uint64_t ts_ns, uint64_t cookie)
{
	struct tcpfsm_event e = { .kind = kind, .ts_ns = ts_ns, .cookie = cookie };

	if (!p->rec || p->rec_err)
		return;
	p->rec_err = record_write(p->rec, &e, 1);
	if (p->rec_err)
		p->done = true;
}

/*
 * Runs the kernel skipped (see tracer_skipped): live, the tracer's count;
 * replayed, the count its end record carries. False when not known.
 */
static bool skipped_runs(const struct pipe *p, uint64_t *state, uint64_t *timers)
{
	if (p->tr) {
		*state = tracer_skipped(p->tr, timers);
		return true;
	}
	*state = p->rp_skipped_state;
	*timers = p->rp_skipped_timers;
	return p->rp_skipped_known;
}

/* The end of the run, with what the summary needs that only the kernel knew. */
static void rec_end(struct pipe *p, uint64_t ts_ns)
{
	struct tcpfsm_event e = { .kind = RECORD_EV_END, .ts_ns = ts_ns };
	uint64_t state, timers;

	if (!p->rec || p->rec_err)
		return;
	if (skipped_runs(p, &state, &timers)) {
		e.flags |= RECORD_END_F_SKIPPED;
		e.aux = state;
		e.aux2 = timers;
	}
	p->rec_err = record_write(p->rec, &e, 1);
	if (p->rec_err)
		p->done = true;
}

/*
 * Every finished connection: the filters select here, once, what the
 * command's closed callback gets and the summary counts. The engine sees
 * them all, filtered out or not; with kernel-side filters a filtered-out
 * connection shows only its records that had no local port yet, which look
 * like a connection with gaps. The summary counts as incomplete what life
 * marks so (including a start not seen), and no listener: it is no
 * connection (life shows one only with --listeners).
 */
static void on_closed(void *ctx, const struct conn *c)
{
	struct pipe *p = ctx;

	/* found gone after a loss: the replay ends it at the same point */
	if (c->end == END_GONE)
		rec_mark(p, RECORD_EV_GONE, 0, c->cookie);
	if (!wants_closed(p, c))
		return;
	if (c->open_kind != OPEN_LISTEN) {
		p->closed++;
		if (conn_incomplete(c))
			p->incomplete++;
		if (c->end == END_GONE)
			p->gone++;
	}
	if (p->cb.closed && !p->done)
		p->cb.closed(ctx, c);
}

/*
 * The command's callbacks are called through these, and nothing is
 * printed once p->done is set (--count reached, the reader gone, output or
 * recording failed): not a transition, a lifecycle, a --stuck alert (the
 * at-exit ones included) nor a final stats print.
 */
static void on_transition(void *ctx, const struct transition *t)
{
	struct pipe *p = ctx;

	note_owner(p, t->conn);
	/* the filters select here, once, what a command sees */
	if (!p->done && p->cb.transition && pipe_wants_conn(p, t->conn) &&
	    filter_transition(&p->o.filter, t->oldstate, t->newstate,
			      p->o.states_by))
		p->cb.transition(ctx, t);
}

static void on_stuck(void *ctx, const struct conn *c, uint64_t now_ns,
		     uint64_t threshold_ns, bool at_exit)
{
	struct pipe *p = ctx;

	if (!p->done && pipe_wants_conn(p, c))
		p->cb.stuck(ctx, c, now_ns, threshold_ns, at_exit);
}

/*
 * A connection still open at the end (a copy, END_AT_EXIT): counted as the
 * ended ones are, and given to the command's closed callback.
 */
static void on_open_at_exit(void *ctx, const struct conn *c)
{
	struct pipe *p = ctx;

	if (!wants_closed(p, c))
		return;
	if (c->open_kind != OPEN_LISTEN)
		p->open_at_exit++;
	if (p->cb.closed && !p->done)
		p->cb.closed(ctx, c);
}

/* The stream ended at now_ns: settle it, report what is still open. */
static void finish(struct pipe *p, uint64_t now_ns)
{
	engine_finish(p->eng, now_ns);
	/* out of memory: none reported, and the summary says none */
	(void)engine_foreach_open(p->eng, now_ns, on_open_at_exit, p);
}

static void tick(struct pipe *p, uint64_t now_ns, bool final)
{
	if (p->o.tick && !p->done)
		p->o.tick(p, now_ns, final);
}

#define OUT_BUF_BYTES (1u << 20)

/* The lost-record counters' kinds, as the summary and "lost" records group them. */
enum { LOST_STATE, LOST_TIMEWAIT, LOST_REQUEST, LOST_GROUPS };
static const char *const lost_group_names[LOST_GROUPS] = {
	"state", "timewait", "request",
};

static void lost_groups(const uint64_t by_kind[TCPFSM_LOST_SLOTS],
			uint64_t g[LOST_GROUPS])
{
	g[LOST_STATE] = by_kind[TCPFSM_EV_STATE];
	g[LOST_TIMEWAIT] = by_kind[TCPFSM_EV_TW_START] + by_kind[TCPFSM_EV_TW_CANCEL] +
			   by_kind[TCPFSM_EV_TW_EXPIRE];
	g[LOST_REQUEST] = by_kind[TCPFSM_EV_REQ_START] + by_kind[TCPFSM_EV_REQ_CANCEL] +
			  by_kind[TCPFSM_EV_REQ_EXPIRE];
}

/*
 * A loss, where it happened in the stream (its marker went through the
 * reorder buffer with the records): in JSON, a "lost" record with what was
 * lost since the previous one, so that their counts add up to the total.
 */
static void emit_lost(struct pipe *p, const struct tcpfsm_event *e)
{
	struct json *j = &p->j;
	bool kinds = e->flags & RECORD_LOST_F_KINDS;
	uint64_t g[LOST_GROUPS] = { e->aux2, e->cookie, e->cgroup_id };
	int i;

	if (e->aux <= p->lost_out)
		return;
	if (!p->o.json && !p->done) {
		/* in a table too: a line where it happened, as STUCK's */
		char ts[PIPE_TS_MAX];

		pipe_format_ts(p, ts, e->ts_ns);
		fprintf(p->out, "LOST %llu records at %s", (unsigned long long)(e->aux - p->lost_out), ts);
		if (kinds)
			fprintf(p->out, " (state %llu, timewait %llu, request %llu)",
				(unsigned long long)(g[0] - p->lost_kind_out[0]),
				(unsigned long long)(g[1] - p->lost_kind_out[1]),
				(unsigned long long)(g[2] - p->lost_kind_out[2]));
		fprintf(p->out, ", %llu in all: connections alive then are incomplete\n",
			(unsigned long long)e->aux);
	}
	if (p->o.json && !p->done) {
		json_begin_object(j);
		json_str(j, "type", "lost");
		json_u64(j, "ts", pipe_ts_value(p, e->ts_ns));
		json_u64(j, "mono_ns", e->ts_ns);
		json_u64(j, "count", e->aux - p->lost_out);
		json_u64(j, "total", e->aux);
		if (kinds) {
			json_begin_object_key(j, "kinds");
			for (i = 0; i < LOST_GROUPS; i++)
				json_u64(j, lost_group_names[i],
					 g[i] > p->lost_kind_out[i] ? g[i] - p->lost_kind_out[i] : 0);
			json_end_object(j);
		} else {
			json_null(j, "kinds");	/* a recording from before kinds */
		}
		json_end_object(j);
		json_end_line(j);
	}
	p->lost_out = e->aux;
	if (kinds)
		memcpy(p->lost_kind_out, g, sizeof(g));
}

static void deliver(void *ctx, const struct tcpfsm_event *e)
{
	struct pipe *p = ctx;

	if (e->kind == TCPFSM_EV_LOST) {
		emit_lost(p, e);
		return;
	}
	if (!wants_event(p, e) || filter_rejected(&p->rejects, e)) {
		/* tracked before its port (or owner) was known: now it is */
		if (e->kind == TCPFSM_EV_STATE)
			engine_forget(p->eng, e->cookie);
		p->filtered++;
		return;
	}
	engine_event(p->eng, e);
	forget_rejected(p);
}

/*
 * Records from before at were lost: the engine marks what they may have
 * touched; live, a dump will say which connections ended meanwhile.
 */
static void note_loss(struct pipe *p, uint64_t at)
{
	engine_note_lost(p->eng, at);
	if (!p->replaying && at > p->rc_loss)
		p->rc_loss = at;
}

static void on_raw(void *ctx, const struct tcpfsm_event *e)
{
	struct pipe *p = ctx;

	if (e->kind == TCPFSM_EV_LOST) {
		/* from a recording: the live run's loss, at this point */
		if (e->aux > p->lost_seen) {
			p->lost_seen = e->aux;
			if (e->flags & RECORD_LOST_F_KINDS) {
				p->lost_kind[LOST_STATE] = e->aux2;
				p->lost_kind[LOST_TIMEWAIT] = e->cookie;
				p->lost_kind[LOST_REQUEST] = e->cgroup_id;
			} else {
				p->lost_kind_unknown = true;
			}
			note_loss(p, e->ts_ns);
			/* in the stream where it happened: see emit_lost */
			(void)reorder_push(&p->ro, e);
		}
		return;
	}
	p->raw_events++;
	if (p->rec && !p->rec_err) {
		p->rec_err = record_write(p->rec, e, 1);
		if (p->rec_err)
			p->done = true;
	}
	if (reorder_push(&p->ro, e)) {
		/* out of memory: do not pretend, count it apart */
		p->dropped++;
		note_loss(p, e->ts_ns + 1);
	}
}

/*
 * Release what the watermark allows, settle the engine, flush output. The
 * engine and the tick see time only as far as the released stream is
 * complete: a connect held for its port holds back the records behind it,
 * and a timer removal must not be settled without them.
 */
void pipe_step(struct pipe *p, uint64_t watermark)
{
	uint64_t upto;
	int err;

	p->now_ns = clock_ns(CLOCK_MONOTONIC);
	reorder_release(&p->ro, watermark, deliver, p, &upto);
	p->released = upto;
	engine_advance(p->eng, upto);
	forget_rejected(p);
	tick(p, upto, false);
	err = cli_flush(p->out);
	/* a hung-up terminal is a reader gone, as a closed pipe's */
	if (err == -EPIPE || (err == -EIO && cli_stop == SIGHUP)) {
		p->epipe = true;
		p->done = true;
	} else if (err && !p->out_err) {
		p->out_err = err;
		p->done = true;
	}
	/* every poll: a recorder killed later loses at most this turn's */
	if (p->rec && !p->rec_err) {
		p->rec_err = record_flush(p->rec);
		if (p->rec_err)
			p->done = true;
	}
}

/*
 * Has the reader of our output gone (the other end of a pipe or socket
 * closed, a terminal hung up)? poll() says so with nothing to write, so a
 * quiet host does not keep `tcpfsm | head -1` running.
 */
static bool out_hung_up(FILE *out)
{
	struct pollfd pfd = { .fd = fileno(out) };

	return poll(&pfd, 1, 0) == 1 && (pfd.revents & (POLLERR | POLLHUP));
}

static void check_lost(struct pipe *p)
{
	uint64_t by_kind[TCPFSM_LOST_SLOTS];
	uint64_t now = clock_ns(CLOCK_MONOTONIC);
	uint64_t lost = tracer_lost(p->tr, by_kind);
	struct tcpfsm_event e = { .kind = TCPFSM_EV_LOST, .aux = lost,
				  .flags = RECORD_LOST_F_KINDS };

	if (lost <= p->lost_seen)
		return;
	note_loss(p, now);
	lost_groups(by_kind, p->lost_kind);
	e.ts_ns = now;
	e.aux2 = p->lost_kind[LOST_STATE];
	e.cookie = p->lost_kind[LOST_TIMEWAIT];
	e.cgroup_id = p->lost_kind[LOST_REQUEST];
	if (p->rec && !p->rec_err)
		p->rec_err = record_write(p->rec, &e, 1);
	/*
	 * In the stream after every record read so far: whatever is released
	 * before it was read before the loss was seen. No memory for it: the
	 * summary still counts the loss.
	 */
	(void)reorder_push(&p->ro, &e);
	if (now - p->lost_warned_ns >= 1000000000ull) {
		fprintf(stderr,
			"tcpfsm: warning: %llu records lost so far (ring buffer full); "
			"connections alive then are marked incomplete\n",
			(unsigned long long)lost);
		p->lost_warned_ns = now;
	}
	p->lost_seen = lost;
}

/* ---- sockets that existed before tracing began ---- */

struct seed_ctx {
	struct pipe *p;
	struct procmap pm;	/* socket inodes are global: one scan for all */
	uint64_t now;
	uint32_t netns;		/* the namespace being read */
	int home_fd;		/* ours, to return to */
	int stranded;		/* -errno: could not return to ours */
	int list_err;		/* -errno: the others could not be listed */
	unsigned int nns;	/* namespaces read */
	unsigned int failed;	/* namespaces not read */
	uint32_t fail_ns;	/* the first of them */
	int fail_err;		/* and why */
	diag_sock_cb each;	/* per socket: seed_one, or alive_one */
	bool restartable;	/* each takes a repeated dump (diag_sock_cb) */
	struct u64map *netns_read; /* non-NULL: namespaces read whole go here */
	bool only_unreached;	/* --netns: no process or /run/netns led to it */
};

static int seed_one(void *ctx, const struct diag_sock *s)
{
	struct seed_ctx *sc = ctx;
	const struct procmap_owner *po = procmap_lookup(&sc->pm, s->inode);
	struct owner o = { 0 };
	struct tuple t = { 0 };
	uint64_t deadline = 0;
	unsigned int flags = 0;
	bool minisock;

	t.family = s->family;
	t.sport = s->sport;
	t.dport = s->dport;
	memcpy(t.saddr, s->saddr, 16);
	memcpy(t.daddr, s->daddr, 16);
	t.netns = sc->netns;
	if (po) {
		o.pid = po->pid;
		memcpy(o.comm, po->comm, TCPFSM_COMM_LEN);
	}
	if (!wants_seed(sc->p, s->state, &t, &o))
		return 0;
	o.cgroup_id = s->cgroup_id;
	/*
	 * A timewait minisocket comes with its substate (an orphaned FIN_WAIT2
	 * too). Its deadline, for an orphan to place the FIN's re-arm: read
	 * the clock now, just after the kernel read the timer (sc->now is when
	 * seeding began).
	 */
	minisock = s->timer == DIAG_TIMER_TIMEWAIT;
	if (minisock && s->state == TCPFSM_ST_FIN_WAIT2)
		deadline = clock_ns(CLOCK_MONOTONIC) + (uint64_t)s->expires_ms * 1000000;
	if (minisock)
		flags |= ENGINE_SEED_MINISOCK;
	else if (!s->inode)
		flags |= ENGINE_SEED_ORPHAN;
	/* its FIN, whenever it comes, is seen as for one whose start was */
	if (minisock && s->state == TCPFSM_ST_FIN_WAIT2 && sc->p->tr &&
	    !tracer_watch_orphan(sc->p->tr, s->cookie, &t))
		flags |= ENGINE_SEED_WATCHED;
	if (!engine_seed(sc->p->eng, s->cookie, s->state, &t, &o, sc->now,
			 flags, deadline))
		sc->p->seeded++;
	if (sc->p->rec && !sc->p->rec_err) {
		/* the replay seeds it too: owners and lower bounds as live */
		struct tcpfsm_event e = {
			.kind = RECORD_EV_SEED, .ts_ns = sc->now, .cookie = s->cookie,
			.cgroup_id = o.cgroup_id, .aux = deadline, .pid = o.pid,
			.netns = t.netns, .sport = t.sport, .dport = t.dport,
			.newstate = s->state, .family = t.family, .flags = (uint8_t)flags,
		};

		memcpy(e.saddr, t.saddr, 16);
		memcpy(e.daddr, t.daddr, 16);
		memcpy(e.comm, o.comm, TCPFSM_COMM_LEN);
		sc->p->rec_err = record_write(sc->p->rec, &e, 1);
	}
	return 0;
}

static void seed_failed(struct seed_ctx *sc, unsigned int n, uint32_t ns, int err)
{
	if (!sc->failed) {
		sc->fail_ns = ns;
		sc->fail_err = err;
	}
	sc->failed += n;
}

/* sc->netns was read; whole unless the kernel marked the dump interrupted. */
static void ns_read(struct seed_ctx *sc, bool whole)
{
	sc->nns++;
	/* not put (no memory): its connections are left as they are */
	if (sc->netns_read && whole)
		(void)u64map_put(sc->netns_read, sc->netns, 1);
}

/* The sockets of the namespace this thread is in, as sc->netns. */
static void seed_here(struct seed_ctx *sc)
{
	struct diag_query q = { 0 };	/* both families, every state */
	struct diag_dump_info info = { 0 };
	int err;

	q.restartable = sc->restartable;
	err = diag_dump(&q, sc->each, sc, &info);
	if (err)
		seed_failed(sc, 1, sc->netns, err);
	else
		ns_read(sc, !info.intr);
}

/*
 * One other namespace: enter it (this thread only), dump there (the
 * netlink socket belongs to the namespace it is made in), come back.
 */
static int seed_netns(void *ctx, uint32_t inode, int fd)
{
	struct seed_ctx *sc = ctx;

	if (setns(fd, CLONE_NEWNET))
		return -errno;	/* counted by the walk */
	sc->netns = inode;
	/* a dump walks the host's whole table: not for an empty namespace */
	if (netns_tcp_in_use_here())
		seed_here(sc);
	else
		ns_read(sc, true);	/* no TCP socket at all */
	if (setns(sc->home_fd, CLONE_NEWNET)) {
		sc->stranded = -errno;
		return NETNS_WALK_STOP;
	}
	/*
	 * Many namespaces take a while: keep the ring buffer from filling.
	 * Records wait in the reorder buffer; the engine gets them after
	 * every seed, as it would have.
	 */
	tracer_poll(sc->p->tr, 0, NULL);
	return cli_stop ? NETNS_WALK_STOP : 0;
}

/*
 * Every namespace but ours (or the --netns one alone, only), each once;
 * sc->list_err is set if they could not be listed.
 */
static void seed_others(struct seed_ctx *sc, uint32_t only)
{
	struct netns_walk_stats ws;
	int err;

	sc->home_fd = open("/proc/thread-self/ns/net", O_RDONLY | O_CLOEXEC);
	if (sc->home_fd < 0) {
		sc->list_err = -errno;
		return;
	}
	err = netns_walk("/proc", "/run/netns", "/proc/thread-self/ns/net", only,
			 seed_netns, sc, &ws);
	close(sc->home_fd);
	if (ws.failed)
		seed_failed(sc, ws.failed, ws.first_failed, ws.first_err);
	sc->only_unreached = only && !err && !ws.visited && !ws.failed;
	if (err < 0)
		sc->list_err = err;
}

/*
 * Every namespace through sc->each, filters or not: ours in place, then
 * each other one (only the --netns one, if given); what failed is in sc.
 * Returns 0, or EXIT_FAIL (printed) when this thread could not return to
 * its own namespace.
 */
static int walk_namespaces(struct pipe *p, struct seed_ctx *sc)
{
	const struct filter *f = &p->o.filter;

	if (!f->has_netns || f->netns == p->netns_self) {
		sc->netns = p->netns_self;
		seed_here(sc);
	}
	if (!f->has_netns || f->netns != p->netns_self)
		seed_others(sc, f->has_netns ? f->netns : 0);
	if (sc->stranded)
		return cli_error("cannot return to our own network namespace after "
				 "reading another's sockets: %s", strerror(-sc->stranded));
	return 0;
}

/*
 * Read the sockets of every network namespace (what ss shows in each) so
 * that their later transitions have an owner and their ages a lower bound:
 * ours in place, then each other one a process or /run/netns leads to
 * (only the --netns one, if given). Done after attaching, so nothing falls
 * between the dump and the first record. Failures make one warning line;
 * only failing to come back to our own namespace is an error.
 */
static int seed(struct pipe *p)
{
	struct seed_ctx sc = { .p = p, .home_fd = -1, .each = seed_one };
	uint64_t now;
	int ret;

	/* on failure what was found is kept: owners are a best effort */
	(void)procmap_scan(&sc.pm, "/proc");
	sc.now = clock_ns(CLOCK_MONOTONIC);
	ret = walk_namespaces(p, &sc);
	now = clock_ns(CLOCK_MONOTONIC);
	engine_seed_done(p->eng, now);
	rec_mark(p, RECORD_EV_SEED_DONE, now, 0);
	procmap_free(&sc.pm);
	if (ret)
		return ret;
	if (sc.list_err)
		fprintf(stderr, "tcpfsm: warning: cannot list network namespaces (%s): "
			"existing sockets read in %u, %u failed; connections older "
			"than this run elsewhere have no owner\n",
			strerror(-sc.list_err), sc.nns, sc.failed);
	else if (sc.failed)
		fprintf(stderr, "tcpfsm: warning: cannot read existing sockets in %u "
			"of %u network namespaces (netns %u: %s): connections older "
			"than this run there have no owner\n", sc.failed,
			sc.failed + sc.nns, sc.fail_ns, strerror(-sc.fail_err));
	if (sc.only_unreached)
		fprintf(stderr, "tcpfsm: warning: --netns %u: no process or "
			"/run/netns entry is in that namespace: its existing "
			"sockets are not read\n", p->o.filter.netns);
	return 0;
}

/* ---- after lost records: which connections ended meanwhile ---- */

/* At most one dump a second while losses go on: each walks every table. */
#define RECONCILE_EVERY_NS 1000000000ull
/* More sockets than any host holds: a full set would leave its namespace be. */
#define RECONCILE_MAX_SOCKS (1ull << 30)

static int alive_one(void *ctx, const struct diag_sock *s)
{
	struct seed_ctx *sc = ctx;

	if (!s)
		return 0;	/* a repeat: what it saw stays, a superset is safe */
	/* an error stops this namespace's dump: it is then not read whole */
	return s->cookie ? u64map_put(&sc->p->rc_alive, s->cookie, 1) : 0;
}

/* Forget the dump (none waits to be decided); a no-op when there is none. */
static void reconcile_forget(struct pipe *p)
{
	u64map_free(&p->rc_alive);
	u64map_free(&p->rc_netns);
	p->rc_t1 = 0;
}

/* End what the dump shows ended while records were lost, and forget it. */
static void reconcile_decide(struct pipe *p)
{
	/* out of memory: nothing ended, a later loss dumps again */
	(void)engine_reconcile(p->eng, &p->rc_alive, &p->rc_netns, p->rc_t0);
	/* the ones it ended were recorded (on_closed): the replay ends them here */
	rec_mark(p, RECORD_EV_RECONCILE, p->rc_t0, 0);
	reconcile_forget(p);
}

/*
 * Live, after lost records: a connection whose closing records were lost
 * would never end. Once every record from before the loss is delivered, dump
 * the sockets of every namespace (as seeding does, filters or not; with
 * --netns that one), from t0 to t1; once every record up to t1 is delivered
 * too (so each end recorded during the dump has been followed), the engine
 * ends the connections the dump did not see (engine_reconcile). Request
 * socks are not looked for: the engine keys them by tuple, and their timers
 * end them. Returns 0, or EXIT_FAIL (printed) when this thread could not
 * return to its own namespace.
 */
static int reconcile(struct pipe *p)
{
	/* alive_one keeps what a repeated dump saw: a superset is safe */
	struct seed_ctx sc = { .p = p, .home_fd = -1, .each = alive_one,
			       .restartable = true, .netns_read = &p->rc_netns };
	uint64_t now;
	int ret;

	if (p->rc_t1) {
		if (p->released >= p->rc_t1)
			reconcile_decide(p);
		return 0;
	}
	if (!p->rc_loss || p->released < p->rc_loss)
		return 0;
	now = clock_ns(CLOCK_MONOTONIC);
	if (p->rc_last && now - p->rc_last < RECONCILE_EVERY_NS)
		return 0;
	p->rc_last = now;
	if (u64map_init(&p->rc_alive, 1024, RECONCILE_MAX_SOCKS))
		return 0;
	if (u64map_init(&p->rc_netns, 16, RECONCILE_MAX_SOCKS)) {
		u64map_free(&p->rc_alive);
		return 0;
	}
	/* a loss noticed from here on needs a dump of its own */
	p->rc_loss = 0;
	p->rc_t0 = now;
	ret = walk_namespaces(p, &sc);
	if (ret) {
		reconcile_forget(p);
		return ret;
	}
	p->rc_t1 = clock_ns(CLOCK_MONOTONIC);
	if ((sc.list_err || sc.failed) && !p->rc_warned) {
		fprintf(stderr, "tcpfsm: warning: after lost records, cannot reread "
			"the sockets of %s: connections there whose end was lost "
			"do not end\n", sc.list_err ? "other network namespaces" :
			"some network namespaces");
		p->rc_warned = true;
	}
	return 0;
}

/* ---- ages for `tcpfsm snapshot` ---- */

static void age_one(void *ctx, const struct conn *c)
{
	struct agesrv_writer *w = ctx;
	struct age_record r = { 0 };

	if (!c->cookie || !conn_since(c))
		return;
	r.cookie = c->cookie;
	r.since_ns = conn_since(c);
	r.state = c->state;
	if (conn_since_known(c, c->npath - 1) == DUR_LOWER_BOUND)
		r.flags |= AGE_F_LOWER_BOUND;
	r.pid = c->owner.pid;
	r.cgroup_id = c->owner.cgroup_id;
	memcpy(r.comm, c->owner.comm, TCPFSM_COMM_LEN);
	agesrv_put(w, &r);
}

/* A part of the answer at a time: the ring buffer is read in between. */
static int age_fill(void *ctx, struct agesrv_writer *w, size_t *cursor, size_t budget)
{
	struct pipe *p = ctx;
	size_t next;

	/* one allocation for the whole answer, as a rule */
	if (!*cursor && agesrv_reserve(w, engine_stats(p->eng)->conns + 1024))
		return -ENOMEM;
	next = engine_foreach_some(p->eng, *cursor, budget, age_one, w);
	if (next == ENGINE_WALK_DONE)
		return 1;
	*cursor = next;
	return 0;
}

static void open_agesrv(struct pipe *p)
{
	/* what it does not select has no age: snapshot says so */
	struct agesrv_opts ao = {
		.hdr_flags = filter_active(&p->o.filter) ? AGE_HF_FILTERED : 0,
	};
	int err = agesrv_open(NULL, &ao, &p->age);

	if (!err) {
		/* the ring's wait wakes when a client waits for an answer */
		err = tracer_watch_fd(p->tr, agesrv_want_fd(p->age));
		if (!err)
			return;
		agesrv_close(p->age);
		p->age = NULL;
	}
	fprintf(stderr, "tcpfsm: warning: not publishing state ages at %s (%s)%s\n",
		agesrv_default_path(), strerror(-err),
		err == -EADDRINUSE ? ": another tcpfsm already does" : "");
}

static int run_live(struct pipe *p)
{
	struct tracer_opts to = {
		.filter = &p->o.filter,
		.no_minisocks = p->o.no_minisocks,
		.ringbuf_bytes = p->o.ringbuf_bytes,
		.on_event = on_raw,
		.ctx = p,
	};
	char err[256], warn[256];
	uint64_t deadline = 0, now;
	struct stat st;
	bool failed = false, age_busy = false;
	int ret, rec_fd = -1;

	/* refused before anything is loaded: a name in the way is a usage matter */
	if (p->o.record_path) {
		rec_fd = outfile_create(p->o.record_path, p->o.force);
		if (rec_fd < 0)
			return cli_error("--record %s: %s%s", p->o.record_path,
					 strerror(-rec_fd), rec_fd == -EEXIST ?
					 " (--force replaces it)" : "");
	}
	p->start_mono = clock_ns(CLOCK_MONOTONIC);
	p->wall_offset = (int64_t)(clock_ns(CLOCK_REALTIME) - p->start_mono);
	/* no cgroup2 mount (a cgroup v1 only host): ids without paths */
	p->have_cg = !cgpath_init_mounted(&p->cg, "/proc/self/mountinfo");
	ret = tracer_open(&p->tr, &to, err, sizeof(err), warn, sizeof(warn));
	if (ret) {
		if (rec_fd >= 0) {
			close(rec_fd);
			unlink(p->o.record_path);	/* ours, and empty */
		}
		return cli_error("%s", err);
	}
	if (*warn)
		fprintf(stderr, "tcpfsm: warning: %s\n", warn);
	if (p->o.duration_ns)
		deadline = p->start_mono + p->o.duration_ns;
	/* before seeding, which may read records already (see seed_netns) */
	if (p->o.record_path) {
		struct record_header hdr;

		record_header_now(&hdr, (tracer_has_minisocks(p->tr) ? RECORD_F_MINISOCKS : 0) |
				  (filter_active(&p->o.filter) ? RECORD_F_FILTERED : 0) |
				  RECORD_F_STEPS | RECORD_F_FILTER);
		hdr.filter = p->o.filter;
		hdr.start_mono_ns = p->start_mono;
		hdr.start_real_ns = (uint64_t)((int64_t)p->start_mono + p->wall_offset);
		ret = record_open_fd(rec_fd, true, &hdr, &p->rec);
		if (ret)
			return cli_error("--record %s: %s", p->o.record_path, strerror(-ret));
	}
	/* the thread's own: setns() moves only the calling thread */
	if (!stat("/proc/thread-self/ns/net", &st))
		p->netns_self = (uint32_t)st.st_ino;
	if (!p->o.no_seed) {
		ret = seed(p);
		if (ret)
			return ret;
	}
	open_agesrv(p);
	/* announced once seeded: everything from here on is traced */
	fprintf(stderr, "tcpfsm: %s: tracing TCP state transitions%s. Ctrl-C to stop.\n",
		p->o.cmd, tracer_has_minisocks(p->tr) ? " (with TIME_WAIT and SYN_RECV minisockets)" : "");
	if (p->o.header)
		p->o.header(p);

	while (!cli_stop && !p->done) {
		int timeout = age_busy ? 0 : POLL_MS;

		now = clock_ns(CLOCK_MONOTONIC);
		if (deadline) {
			if (now >= deadline)
				break;
			if (deadline - now < POLL_MS * 1000000ull)
				timeout = (int)((deadline - now) / 1000000) + 1;
		}
		ret = tracer_poll(p->tr, timeout, &now);
		if (ret < 0) {
			if (ret == -EINTR)
				continue;
			cli_error("reading the ring buffer: %s", strerror(-ret));
			break;
		}
		check_lost(p);
		/* the replay releases records where this run did */
		rec_mark(p, RECORD_EV_STEP, now - REORDER_SLACK_NS, 0);
		pipe_step(p, now - REORDER_SLACK_NS);
		if (!p->done && out_hung_up(p->out)) {
			p->epipe = true;	/* as a write would find: quietly */
			p->done = true;
		}
		if (reconcile(p)) {
			failed = true;
			break;
		}
		/*
		 * A part of an answer per turn, the ring read in between (no
		 * wait while one is being built). Out of memory: the clients
		 * wait on, and are cut off in time.
		 */
		if (p->age)
			age_busy = agesrv_update(p->age, tracer_take_watched(p->tr), age_fill,
						 p, clock_ns(CLOCK_MONOTONIC)) == AGESRV_BUILDING;
	}
	agesrv_close(p->age);
	p->age = NULL;
	/* detach first, then read what is left: nothing in flight is dropped */
	tracer_detach(p->tr);
	tracer_poll(p->tr, 0, NULL);
	check_lost(p);
	now = clock_ns(CLOCK_MONOTONIC);
	if (!p->epipe) {
		rec_mark(p, RECORD_EV_FLUSH, now, 0);
		reorder_flush(&p->ro, deliver, p);
		/* every record is in: a dump waiting for them can be decided */
		if (p->rc_t1)
			reconcile_decide(p);
		rec_end(p, now);
		finish(p, now);
		tick(p, now, true);
	}
	reconcile_forget(p);	/* a dump left undecided (a reader gone) */
	return failed || (ret < 0 && ret != -EINTR) ? EXIT_FAIL : EXIT_OK;
}

/* A replay's reconcile: end the connections the live run found gone. */
struct gone_ctx {
	struct pipe *p;
	struct u64map alive;
	int err;
};

static void keep_alive(void *ctx, const struct conn *c)
{
	struct gone_ctx *g = ctx;

	if (c->cookie && !g->err && !u64map_get(&g->p->rp_gone, c->cookie))
		g->err = u64map_put(&g->alive, c->cookie, 1);
}

static void replay_reconcile(struct pipe *p, uint64_t t0)
{
	struct gone_ctx g = { .p = p };

	/* alive: everything tracked but those (the engine judges the rest) */
	if (p->rp_gone.slots && !u64map_init(&g.alive, 1024, RECONCILE_MAX_SOCKS)) {
		engine_foreach(p->eng, keep_alive, &g);
		if (!g.err)
			(void)engine_reconcile(p->eng, &g.alive, NULL, t0);
		u64map_free(&g.alive);
	}
	u64map_free(&p->rp_gone);
}

/*
 * A record of tcpfsm's own (RECORD_EV_*): do what the live run did there.
 * Records of kinds the kernel writes go through on_raw.
 */
static void replay_mark(struct pipe *p, const struct tcpfsm_event *e)
{
	switch (e->kind) {
	case RECORD_EV_SEED: {
		struct owner o = { .pid = e->pid, .cgroup_id = e->cgroup_id };
		struct tuple t;

		tuple_from_event(&t, e);
		memcpy(o.comm, e->comm, TCPFSM_COMM_LEN);
		if (!wants_seed(p, e->newstate, &t, &o))
			break;
		if (!engine_seed(p->eng, e->cookie, e->newstate, &t, &o, e->ts_ns,
				 e->flags, e->aux))
			p->seeded++;
		break;
	}
	case RECORD_EV_SEED_DONE:
		engine_seed_done(p->eng, e->ts_ns);
		break;
	case RECORD_EV_STEP:
		pipe_step(p, e->ts_ns);
		break;
	case RECORD_EV_GONE:
		/* no memory: it does not end, as a live run's failed dump */
		if (p->rp_gone.slots || !u64map_init(&p->rp_gone, 64, RECONCILE_MAX_SOCKS))
			(void)u64map_put(&p->rp_gone, e->cookie, 1);
		break;
	case RECORD_EV_RECONCILE:
		replay_reconcile(p, e->ts_ns);
		break;
	case RECORD_EV_FLUSH:
		reorder_flush(&p->ro, deliver, p);
		break;
	case RECORD_EV_END:
		p->rp_end = true;
		p->rp_end_ns = e->ts_ns;
		if (e->flags & RECORD_END_F_SKIPPED) {
			p->rp_skipped_known = true;
			p->rp_skipped_state = e->aux;
			p->rp_skipped_timers = e->aux2;
		}
		break;
	}
}

/*
 * The recording's filters apply too: a replay shows what the live run
 * showed, and the options can only narrow it. --state lists intersect
 * (none in common: nothing); the rest is judged on its own.
 */
static void apply_recorded_filter(struct pipe *p, const struct filter *f)
{
	uint32_t *mine = &p->o.filter.state_mask;

	p->rec_filter = *f;
	p->rec_filter.state_mask = 0;
	p->has_rec_filter = filter_active(&p->rec_filter);
	if (f->state_mask && *mine)
		*mine = (*mine & f->state_mask) ? *mine & f->state_mask : 1u << 31;
	else if (f->state_mask)
		*mine = f->state_mask;
}

static int run_replay(struct pipe *p)
{
	struct record_header hdr;
	struct record_reader *r = NULL;
	struct tcpfsm_event e;
	uint64_t last_ts = 0, stepped = 0, n = 0;
	int ret;

	ret = record_open_read(p->o.replay_path, &r, &hdr);
	if (ret) {
		if (r && *record_error(r))
			cli_error("--replay %s: %s", p->o.replay_path, record_error(r));
		else
			cli_error("--replay %s: %s", p->o.replay_path, strerror(-ret));
		record_close_read(r);
		return EXIT_FAIL;
	}
	p->replaying = true;
	/*
	 * cgroup ids are only unique within a boot: resolve them here only
	 * for a recording of this boot, when they still name the same cgroups.
	 */
	if (record_same_boot(&hdr))
		p->have_cg = !cgpath_init_mounted(&p->cg, "/proc/self/mountinfo");
	p->start_mono = hdr.start_mono_ns;
	p->wall_offset = (int64_t)(hdr.start_real_ns - hdr.start_mono_ns);
	if (hdr.flags & RECORD_F_FILTER)
		apply_recorded_filter(p, &hdr.filter);
	p->rp_steps = hdr.flags & RECORD_F_STEPS;
	if (p->o.header)
		p->o.header(p);
	while (!cli_stop && !p->done && (ret = record_next(r, &e)) == 1) {
		if (e.kind >= RECORD_EV_SEED) {
			replay_mark(p, &e);
			continue;
		}
		on_raw(p, &e);
		if (e.ts_ns > last_ts)
			last_ts = e.ts_ns;
		/*
		 * The file is in arrival order: release and settle as a live
		 * run would, by event time (every slack's worth of it, so
		 * --interval and --stuck see time pass), at least every 1024.
		 */
		if (!p->rp_steps &&
		    (++n % 1024 == 0 || last_ts >= stepped + REORDER_SLACK_NS) &&
		    last_ts > REORDER_SLACK_NS) {
			pipe_step(p, last_ts - REORDER_SLACK_NS);
			stepped = last_ts;
		}
		/* as a difference: a start near 2^64 must not wrap the end */
		if (p->o.duration_ns && last_ts >= p->start_mono &&
		    last_ts - p->start_mono >= p->o.duration_ns)
			break;
	}
	if (!p->epipe) {
		/* at the live run's end, as it ended; else at the last record */
		uint64_t end = p->rp_end && p->rp_end_ns > last_ts ? p->rp_end_ns : last_ts;

		reorder_flush(&p->ro, deliver, p);
		finish(p, end);
		tick(p, end, true);
	}
	u64map_free(&p->rp_gone);
	if (ret < 0) {
		/* what came before the damage has been reported; now the damage */
		cli_flush(p->out);
		cli_error("--replay %s: %s", p->o.replay_path, record_error(r));
		record_close_read(r);
		return EXIT_FAIL;
	}
	record_close_read(r);
	return EXIT_OK;
}

/*
 * The closing summary: on stderr, and in JSON also as the stream's last
 * record ("type":"summary"), so a consumer of JSON alone sees every loss.
 */
static void summary(struct pipe *p)
{
	const struct engine_stats *st = engine_stats(p->eng);
	uint64_t lost = p->lost_seen;
	uint64_t bad = p->tr ? tracer_bad(p->tr) : 0;
	bool kinds = lost && !p->lost_kind_unknown;
	uint64_t skipped, timers;
	int i;

	if (p->o.json && !p->epipe && !p->out_err) {
		struct json *j = &p->j;

		json_begin_object(j);
		json_str(j, "type", "summary");
		json_u64(j, "events", p->raw_events);
		json_u64(j, "lost", lost);
		if (kinds || !lost) {
			json_begin_object_key(j, "lost_kinds");
			for (i = 0; i < LOST_GROUPS; i++)
				json_u64(j, lost_group_names[i], p->lost_kind[i]);
			json_end_object(j);
		} else {
			json_null(j, "lost_kinds");
		}
		json_u64(j, "malformed", bad);
		json_u64(j, "dropped", p->dropped);
		json_u64(j, "filtered", p->filtered);
		json_u64(j, "peak_tracked", st->peak_conns);
		json_u64(j, "connections_ended", p->closed);
		json_u64(j, "incomplete", p->incomplete);
		json_u64(j, "gone", p->gone);
		json_u64(j, "evicted", st->evicted);
		json_u64(j, "open_at_exit", p->open_at_exit);
		json_u64(j, "illegal", st->illegal);
		if (skipped_runs(p, &skipped, &timers)) {
			json_u64(j, "skipped_state_changes", skipped);
			json_u64(j, "skipped_timer_events", timers);
		}
		json_u64(j, "seeded", p->seeded);
		json_bool(j, "replay", p->replaying);
		json_end_object(j);
		json_end_line(j);
		cli_flush(p->out);
	}
	/* a reader that went away wants silence, unless something was lost */
	if (p->epipe && !lost && !bad && !p->dropped)
		return;
	fprintf(stderr, "tcpfsm: %llu events, %llu lost",
		(unsigned long long)p->raw_events, (unsigned long long)lost);
	if (kinds)
		fprintf(stderr, " (state %llu, timewait %llu, request %llu)",
			(unsigned long long)p->lost_kind[LOST_STATE],
			(unsigned long long)p->lost_kind[LOST_TIMEWAIT],
			(unsigned long long)p->lost_kind[LOST_REQUEST]);
	/* any connection's, selected or not (see tracer_skipped) */
	if (skipped_runs(p, &skipped, &timers) && (skipped || timers))
		fprintf(stderr, ", %llu state changes and %llu timer events "
			"skipped by the kernel",
			(unsigned long long)skipped, (unsigned long long)timers);
	if (bad)
		fprintf(stderr, ", %llu malformed", (unsigned long long)bad);
	if (p->dropped)
		fprintf(stderr, ", %llu dropped by tcpfsm (out of memory)",
			(unsigned long long)p->dropped);
	fprintf(stderr, "; %llu connections ended, %llu incomplete",
		(unsigned long long)p->closed, (unsigned long long)p->incomplete);
	if (p->gone)
		fprintf(stderr, " (%llu gone while records were lost)",
			(unsigned long long)p->gone);
	fprintf(stderr, ", %llu evicted", (unsigned long long)st->evicted);
	fprintf(stderr, ", %llu open at exit", (unsigned long long)p->open_at_exit);
	if (st->illegal)	/* of every transition seen, filters or not */
		fprintf(stderr, ", %llu illegal transitions",
			(unsigned long long)st->illegal);
	if (p->seeded)
		fprintf(stderr, ", %llu seeded at start", (unsigned long long)p->seeded);
	fputc('\n', stderr);
}

int pipe_run(struct pipe *p, const struct pipe_opts *o, const struct engine_cb *cb)
{
	struct engine_cb c = *cb;
	struct engine_config cfg;
	int ret, i;

	memset(p, 0, sizeof(*p));
	p->o = *o;
	p->out = stdout;
	p->now_ns = clock_ns(CLOCK_MONOTONIC);
	/*
	 * Output is flushed at every step (each poll) anyway; in between, a
	 * large buffer turns a busy host's tens of MB/s into few big writes
	 * (a 4 KiB stdio buffer made writing cost as much as all the rest).
	 */
	if (!isatty(fileno(stdout))) {
		/* glibc ignores the size unless it is given the buffer */
		static char obuf[OUT_BUF_BYTES];

		setvbuf(stdout, obuf, _IOFBF, sizeof(obuf));
	}
	json_init(&p->j, p->out);
	if (o->json)
		p->o.header = NULL;	/* headers are for tables */
	/* the callbacks get the pipe; every command reports --stuck alike */
	p->cb = *cb;
	if (!p->cb.stuck)
		p->cb.stuck = pipe_stuck_cb;
	c.ctx = p;
	/* with --pid/--comm, every transition tells an owner (note_owner) */
	c.transition = cb->transition || filter_has_owner(&o->filter) ||
		       o->replay_path ? on_transition : NULL;
	c.closed = on_closed;
	c.stuck = on_stuck;
	engine_config_default(&cfg);
	cfg.max_conns = o->max_conns;
	for (i = 0; i < TCPFSM_ST_MAX; i++)
		cfg.stuck_ns[i] = o->stuck_ns[i];
	p->eng = engine_new(&cfg, &c);
	if (!p->eng || pipe_cols_init(p) || reorder_init(&p->ro, PORT_HOLD_NS)) {
		engine_free(p->eng);
		free(p->cols);
		return cli_error("out of memory");
	}
	cli_install_signals();
	ret = o->replay_path ? run_replay(p) : run_live(p);
	cli_flush(p->out);
	if (p->tr || p->replaying)
		summary(p);
	tracer_close(p->tr);
	if (p->rec) {
		int err = record_close(p->rec);

		if (!p->rec_err)
			p->rec_err = err;
		if (p->rec_err && ret == EXIT_OK)
			ret = cli_error("--record %s: %s", o->record_path,
					strerror(-p->rec_err));
	}
	reorder_free(&p->ro);
	engine_free(p->eng);
	filter_rejects_free(&p->rejects);
	free(p->cols);
	if (p->have_cg)
		cgpath_free(&p->cg);
	if (p->out_err && ret == EXIT_OK)
		ret = cli_error("writing output: %s", strerror(-p->out_err));
	return ret;
}

/* "addr:port", "[addr]:port" for IPv6; buf: ADDR_STRLEN + 8 bytes */
static void format_endpoint(char *buf, uint8_t family, const uint8_t *addr,
			    uint16_t port)
{
	char *e = buf;

	if (family == AF_INET6)
		*e++ = '[';
	e += format_addr(e, family, addr);
	if (family == AF_INET6)
		*e++ = ']';
	*e++ = ':';
	*fmt_u64(e, port) = '\0';
}

void pipe_stuck_cb(void *ctx, const struct conn *c, uint64_t now_ns,
		   uint64_t threshold_ns, bool at_exit)
{
	struct pipe *p = ctx;
	char pid[16];
	uint64_t since = conn_since(c), dur = now_ns - since;
	char saddr[64], daddr[64], d[32], thr[32], comm[COMM_SAFE_LEN];
	char ts[PIPE_TS_MAX];
	bool lower = conn_since_known(c, c->npath - 1) == DUR_LOWER_BOUND;
	bool orphan = c->state == TCPFSM_ST_FIN_WAIT2 && c->orphan_ns;

	if (p->o.json) {
		struct json *j = &p->j;

		json_begin_object(j);
		json_str(j, "type", "stuck");
		json_u64(j, "ts", pipe_ts_value(p, now_ns));
		pipe_json_conn(p, c);
		json_str(j, "state", tcp_state_name(c->state));
		json_bool(j, "orphan", orphan);
		json_u64(j, "in_state_ns", dur);
		json_bool(j, "lower_bound", lower);
		json_u64(j, "threshold_ns", threshold_ns);
		json_bool(j, "at_exit", at_exit);
		json_end_object(j);
		json_end_line(j);
		pipe_emitted(p);
		return;
	}
	pipe_format_ts(p, ts, now_ns);
	format_endpoint(saddr, c->t.family, c->t.saddr, c->t.sport);
	format_endpoint(daddr, c->t.family, c->t.daddr, c->t.dport);
	format_duration(d, sizeof(d), dur);
	format_duration(thr, sizeof(thr), threshold_ns);
	/* an unknown owner is "-", as in the tables */
	if (c->owner.pid)
		*fmt_u64(pid, c->owner.pid) = '\0';
	else
		strcpy(pid, "-");
	comm_escape(comm, c->owner.pid ? c->owner.comm : "-");
	fprintf(p->out,
		"%s STUCK%s %s%s for %s%s (> %s): pid %s comm %s %s -> %s cookie %llx cgroup ",
		ts, at_exit ? " (at exit)" : "", tcp_state_name(c->state),
		orphan ? " (orphan)" : "", lower ? ">" : "", d, thr, pid, comm,
		saddr, daddr, (unsigned long long)c->cookie);
	fput_escaped(p->out, c->owner.pid ?
		     pipe_cgroup_path(p, c->owner.cgroup_id) : NULL);
	fputc('\n', p->out);
	pipe_emitted(p);
}
