// SPDX-License-Identifier: GPL-2.0 OR BSD-2-Clause
/*
 * What every command prints the same way: timestamps, the columns each
 * per-connection line starts with (and their cache), the shared JSON
 * members, the --stuck alert.
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <sys/socket.h>
#include "cli.h"
#include "fmt.h"
#include "pipeline.h"
#include "pipe_impl.h"
#include "tcpstate.h"

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

FILE *pipe_out(const struct pipe *p)
{
	return p->out;
}

struct json *pipe_json(struct pipe *p)
{
	return &p->j;
}

const struct pipe_opts *pipe_options(const struct pipe *p)
{
	return &p->o;
}

uint64_t pipe_start_ns(const struct pipe *p)
{
	return p->start_mono;
}

const struct engine_stats *pipe_engine_stats(const struct pipe *p)
{
	return engine_stats(p->eng);
}

uint64_t pipe_filtered(const struct pipe *p)
{
	return p->filtered;
}

void pipe_set_clock(struct pipe *p, uint64_t start_mono, int64_t wall_offset)
{
	p->start_mono = start_mono;
	p->wall_offset = wall_offset;
	p->ts_sec_len = 0;	/* the second's text is made anew */
}
