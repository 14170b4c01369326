// SPDX-License-Identifier: GPL-2.0 OR BSD-2-Clause
/*
 * tcpfsm snapshot: the TCP sockets of a network namespace, now, over
 * sock_diag (no iproute2), with how long each has been in its state when
 * a tracer publishes ages (agesrv.h).
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
#include "u64map.h"
#include "tcpstate.h"

#define CMD "snapshot"
#define TW_LEN_MS (TCPFSM_TIMEWAIT_LEN_NS / 1000000u) /* TCP_TIMEWAIT_LEN */
#define DEFAULT_TOP 5
#define MAX_TOP 1000

struct opts {
	uint8_t family;
	uint32_t states;
	struct diag_filter filter;
	struct filter sel;	/* the same, as every command judges it */
	const char *netns;	/* -N NAME, PATH or PID */
	uint32_t netns_ino;	/* -N INODE */
	const char *dump_raw;	/* hidden: record the raw replies */
	bool force;		/* --dump-raw may replace an existing file */
	const char *from_raw;	/* hidden: replay recorded replies */
	bool processes;
	bool summary;
	bool json;
	bool no_age;
	enum diag_group by;
	int top;
	uint64_t watch_ns;
};

/* Ages from the tracer, by cookie. */
struct age_table {
	struct age_record *recs;
	size_t n, cap;
	struct u64map index;	/* cookie -> index in recs */
};

enum age_source { AGE_UNKNOWN, AGE_TRACER, AGE_TIMER };

/* Table columns sized by their widest row (at least their header). */
struct widths {
	int local, peer, cookie;
};

/* A table row: the socket, and its endpoints' text in snap.text. */
struct row {
	struct diag_sock s;
	uint32_t text;		/* offset of the local endpoint; the peer's follows */
	uint8_t local_len, peer_len;
};

struct snap {
	const struct opts *o;
	FILE *out;
	struct json j;
	struct procmap pm;
	bool have_pm;
	struct age_table ages;
	bool have_ages;
	struct cgpath cg;	/* cgroup id -> path, for JSON */
	bool have_cg;
	int age_err;		/* why there are no ages */
	uint32_t age_flags;	/* AGE_HF_* of the answer */
	int said_err;		/* the last age_err and flags told on stderr */
	uint32_t said_flags;
	bool said;
	uint64_t now_ns;	/* CLOCK_MONOTONIC just before the dump */
	struct diag_tally tally;
	/* table mode: the rows, kept for the column widths */
	struct row *v;
	size_t n, cap;
	char *text;		/* the rows' endpoints, formatted as they came */
	size_t text_len, text_cap;
	struct widths w;	/* of the rows so far */
	uint64_t rows;		/* JSON lines: a gone reader is looked for every 1024 */
};

static void usage(FILE *out)
{
	fprintf(out,
"Usage: tcpfsm snapshot [OPTIONS]\n"
"\n"
"List the TCP sockets of a network namespace now, over sock_diag, with how\n"
"long each has been in its current state (when 'tcpfsm trace' is running).\n"
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
"      --from-raw FILE    list the replies in FILE instead of the kernel's\n"
"      --no-age           do not ask a running tracer for ages\n"
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
"tracer only knows a lower bound; '~' for TIME_WAIT derived from its timer\n"
"(60s minus the time left) when no tracer knows it; '-' when unknown.\n",
		CLI_MAX_PORTS, CLI_MAX_ADDRS, DEFAULT_TOP, AGESRV_PATH_ENV,
		AGESRV_DEFAULT_PATH);
}

/* ------------------------------------------------------------ age table */

static int age_table_add(void *ctx, const struct age_record *r)
{
	struct age_table *t = ctx;
	uint64_t *idx;

	if (!r->cookie)
		return 0;
	if (!t->index.slots && u64map_init(&t->index, 1024, SIZE_MAX))
		return -ENOMEM;
	idx = u64map_get(&t->index, r->cookie);
	if (idx) {
		t->recs[*idx] = *r;
		return 0;
	}
	if (ARRAY_GROW(t->recs, t->n, t->cap, 1024))
		return -ENOMEM;
	if (u64map_put(&t->index, r->cookie, t->n))
		return -ENOMEM;
	t->recs[t->n++] = *r;
	return 0;
}

static const struct age_record *age_table_get(const struct age_table *t,
					      uint64_t cookie)
{
	const uint64_t *idx;

	if (!t->n)
		return NULL;
	idx = u64map_get(&t->index, cookie);
	return idx ? &t->recs[*idx] : NULL;
}

static void age_table_clear(struct age_table *t)
{
	if (t->index.slots)
		u64map_clear(&t->index);
	t->n = 0;
}

static void age_table_free(struct age_table *t)
{
	free(t->recs);
	u64map_free(&t->index);
}

/* -------------------------------------------------- per-socket details */

struct sock_view {
	enum age_source age_src;
	bool age_lower_bound;
	uint64_t age_ns;
	uint32_t pid;		/* 0: unknown */
	const char *comm;	/* NULL: unknown */
	size_t comm_len;
};

static bool same_state(unsigned int traced, unsigned int dumped)
{
	/* sock_diag reports request socks (NEW_SYN_RECV) as SYN_RECV */
	if (traced == TCPFSM_ST_NEW_SYN_RECV)
		traced = TCPFSM_ST_SYN_RECV;
	return traced == dumped;
}

static void view_of(const struct snap *sn, const struct diag_sock *s,
		    struct sock_view *v)
{
	const struct age_record *r = NULL;

	memset(v, 0, sizeof(*v));
	if (sn->have_ages)
		r = age_table_get(&sn->ages, s->cookie);
	if (r && same_state(r->state, s->state)) {
		v->age_src = AGE_TRACER;
		v->age_ns = sn->now_ns > r->since_ns ? sn->now_ns - r->since_ns : 0;
		v->age_lower_bound = r->flags & AGE_F_LOWER_BOUND;
	} else if (s->state == TCPFSM_ST_TIME_WAIT &&
		   s->timer == DIAG_TIMER_TIMEWAIT && s->expires_ms <= TW_LEN_MS) {
		v->age_src = AGE_TIMER;
		v->age_ns = (uint64_t)(TW_LEN_MS - s->expires_ms) * 1000000ull;
	}
	if (sn->have_pm) {
		const struct procmap_owner *o = procmap_lookup(&sn->pm, s->inode);

		if (o) {
			v->pid = o->pid;
			v->comm = o->comm;
			v->comm_len = strnlen(o->comm, sizeof(o->comm));
			return;
		}
	}
	if (r && r->pid) {
		v->pid = r->pid;
		v->comm = r->comm;
		v->comm_len = strnlen(r->comm, sizeof(r->comm));
	}
}

/* ------------------------------------------------------ fast formatting */

static int hex_len(uint64_t v)
{
	int n = 1;

	while (v >>= 4)
		n++;
	return n;
}

/* The longest put_endpoint(): "[" ADDR "]:" PORT. */
#define ENDPOINT_MAX (ADDR_STRLEN + 8)

/* "1.2.3.4:80", "[::1]:80"; a remote port 0 (listeners) is "*". */
static char *put_endpoint(char *p, uint8_t family, const uint8_t *addr,
			  uint16_t port, bool peer)
{
	if (family == AF_INET6)
		*p++ = '[';
	p += format_addr(p, family, addr);
	if (family == AF_INET6)
		*p++ = ']';
	*p++ = ':';
	if (peer && port == 0)
		*p++ = '*';
	else
		p = fmt_u64(p, port);
	return p;
}

/* Pad the field that started at start to width, with at least one space. */
static char *pad_to(char *p, const char *start, int width)
{
	do
		*p++ = ' ';
	while (p - start < width + 1);
	return p;
}

static char *put_age(char *p, const struct sock_view *v)
{
	switch (v->age_src) {
	case AGE_TRACER:
		if (v->age_lower_bound)
			p = fmt_str(p, ">=");
		return fmt_duration(p, v->age_ns);
	case AGE_TIMER:
		*p++ = '~';
		return fmt_duration(p, v->age_ns);
	default:
		*p++ = '-';
		return p;
	}
}

static char *put_timer(char *p, const struct diag_sock *s)
{
	if (s->timer == DIAG_TIMER_NONE) {
		*p++ = '-';
		return p;
	}
	p = fmt_str(p, diag_timer_name(s->timer));
	*p++ = ',';
	p = fmt_duration(p, (uint64_t)s->expires_ms * 1000000ull);
	*p++ = ',';
	return fmt_u64(p, s->retrans);
}

/* ---------------------------------------------------------------- table */

#define W_STATE 12
#define W_QUEUE 6
#define W_AGE 9
#define W_TIMER 20

static void table_header(FILE *out, const struct widths *w)
{
	fprintf(out, "%-*s %-*s %-*s %-*s %-*s %-*s %-*s %-*s %s\n", W_STATE,
		"State", W_QUEUE, "Recv-Q", W_QUEUE, "Send-Q", w->local,
		"Local Address:Port", w->peer, "Peer Address:Port", w->cookie,
		"Cookie", W_AGE, "Age", W_TIMER, "Timer", "Process");
}

static void table_row(struct snap *sn, const struct row *r,
		      const struct widths *w)
{
	const struct diag_sock *s = &r->s;
	const char *text = sn->text + r->text;
	char line[512], *p = line, *f;
	struct sock_view v;

	view_of(sn, s, &v);
	f = p;
	p = fmt_str(p, tcp_state_name(s->state));
	p = pad_to(p, f, W_STATE);
	f = p;
	p = fmt_u64(p, s->rqueue);
	p = pad_to(p, f, W_QUEUE);
	f = p;
	p = fmt_u64(p, s->wqueue);
	p = pad_to(p, f, W_QUEUE);
	p = fmt_col(p, text, r->local_len, (size_t)w->local);
	p = fmt_col(p, text + r->local_len, r->peer_len, (size_t)w->peer);
	f = p;
	p = fmt_hex(p, s->cookie);
	p = pad_to(p, f, w->cookie);
	f = p;
	p = put_age(p, &v);
	p = pad_to(p, f, W_AGE);
	f = p;
	p = put_timer(p, s);
	p = pad_to(p, f, W_TIMER);
	if (v.comm) {
		p = fmt_u64(p, v.pid);
		*p++ = '/';
		p += comm_escape(p, v.comm);
	} else {
		*p++ = '-';
	}
	*p++ = '\n';
	fwrite_unlocked(line, 1, (size_t)(p - line), sn->out);
}

static void rows_clear(struct snap *sn)
{
	sn->n = 0;
	sn->text_len = 0;
	sn->w = (struct widths){ .local = 18, .peer = 17, .cookie = 6 };
}

static void widen(int *width, int n)
{
	if (n > *width)
		*width = n;
}

/* Keep a row, its endpoints formatted once, here, and the widths updated. */
static int collect(void *ctx, const struct diag_sock *s)
{
	struct snap *sn = ctx;
	struct row *r;
	char *t, *e;

	if (!s) {		/* an interrupted dump is repeated */
		rows_clear(sn);
		return 0;
	}
	if (ARRAY_GROW(sn->v, sn->n, sn->cap, 4096))
		return -ENOMEM;
	if (sn->text_cap - sn->text_len < 2 * ENDPOINT_MAX) {
		size_t cap = sn->text_cap ? 2 * sn->text_cap : 1 << 18;
		char *grown = cap <= UINT32_MAX ? realloc(sn->text, cap) : NULL;

		if (!grown)
			return -ENOMEM;
		sn->text = grown;
		sn->text_cap = cap;
	}
	r = &sn->v[sn->n++];
	r->s = *s;
	r->text = (uint32_t)sn->text_len;
	t = sn->text + sn->text_len;
	e = put_endpoint(t, s->family, s->saddr, s->sport, false);
	r->local_len = (uint8_t)(e - t);
	t = e;
	e = put_endpoint(t, s->family, s->daddr, s->dport, true);
	r->peer_len = (uint8_t)(e - t);
	sn->text_len = (size_t)(e - sn->text);
	widen(&sn->w.local, r->local_len);
	widen(&sn->w.peer, r->peer_len);
	widen(&sn->w.cookie, hex_len(s->cookie));
	return 0;
}

static int table_print(struct snap *sn)
{
	size_t i;

	table_header(sn->out, &sn->w);
	for (i = 0; i < sn->n; i++) {
		table_row(sn, &sn->v[i], &sn->w);
		/* the reader went away (| head): stop early */
		if ((i & 1023) == 1023 && ferror(sn->out))
			return -EPIPE;
	}
	return 0;
}

/* ----------------------------------------------------------------- JSON */

static void json_addr(struct json *j, const char *key, uint8_t family,
		      const uint8_t *addr)
{
	char buf[ADDR_STRLEN];

	format_addr(buf, family, addr);
	json_str(j, key, buf);
}

static int json_row(void *ctx, const struct diag_sock *s)
{
	static const char *const srcs[] = {
		[AGE_UNKNOWN] = "unknown",
		[AGE_TRACER] = "tracer",
		[AGE_TIMER] = "timer",
	};
	struct snap *sn = ctx;
	struct json *j = &sn->j;
	struct sock_view v;

	if (!s)
		return 1;	/* printed already: keep, and flag it */
	view_of(sn, s, &v);
	json_begin_object(j);
	json_str(j, "state", tcp_state_name(s->state));
	json_str(j, "family", s->family == AF_INET6 ? "ipv6" : "ipv4");
	json_addr(j, "local", s->family, s->saddr);
	json_u64(j, "lport", s->sport);
	json_addr(j, "remote", s->family, s->daddr);
	json_u64(j, "rport", s->dport);
	if (s->flags & DIAG_SF_V4MAPPED)
		json_bool(j, "v4mapped", true);
	json_u64(j, "cookie", s->cookie);
	json_u64(j, "uid", s->uid);
	json_u64(j, "inode", s->inode);
	if (s->ifindex)
		json_u64(j, "ifindex", s->ifindex);
	json_u64(j, "rqueue", s->rqueue);
	json_u64(j, "wqueue", s->wqueue);
	json_str(j, "timer", diag_timer_name(s->timer));
	json_u64(j, "expires_ms", s->expires_ms);
	json_u64(j, "retrans", s->retrans);
	if (s->cgroup_id) {
		const char *path = sn->have_cg ?
			cgpath_lookup(&sn->cg, s->cgroup_id, sn->now_ns) : NULL;

		json_u64(j, "cgroup_id", s->cgroup_id);
		if (path)
			json_str(j, "cgroup", path);
		else
			json_null(j, "cgroup");
	}
	if (v.age_src == AGE_UNKNOWN)
		json_null(j, "age_ns");
	else
		json_u64(j, "age_ns", v.age_ns);
	json_str(j, "age_source", srcs[v.age_src]);
	if (v.age_lower_bound)
		json_bool(j, "age_lower_bound", true);
	if (v.comm) {
		json_u64(j, "pid", v.pid);
		json_strn(j, "comm", v.comm, v.comm_len);
	}
	json_end_object(j);
	json_end_line(j);
	sn->rows++;
	if ((sn->rows & 1023) == 0 && ferror(sn->out))
		return -EPIPE;
	return 0;
}

/* -------------------------------------------------------------- summary */

static int tally_row(void *ctx, const struct diag_sock *s)
{
	struct snap *sn = ctx;
	const char *comm = NULL;

	if (!s) {		/* an interrupted dump is repeated */
		diag_tally_free(&sn->tally);
		diag_tally_init(&sn->tally, sn->o->by);
		return 0;
	}
	if (sn->o->by == DIAG_BY_COMM) {
		struct sock_view v;

		view_of(sn, s, &v);
		comm = v.comm;
	}
	return diag_tally_add(&sn->tally, s, comm);
}

static void key_text(const struct opts *o, const struct diag_tally_entry *e,
		     char *buf)
{
	char *p = buf;

	switch (o->by) {
	case DIAG_BY_LPORT:
	case DIAG_BY_RPORT:
		p = fmt_u64(p, e->port);
		break;
	case DIAG_BY_RADDR:
		p += format_addr(p, e->family, e->addr);
		break;
	case DIAG_BY_COMM:
		p += comm_escape(p, e->comm);
		break;
	default:
		break;
	}
	*p = '\0';
}

static int summary_print(struct snap *sn)
{
	const struct opts *o = sn->o;
	struct diag_tally_entry *tops = NULL;
	int ntop[TCPFSM_ST_MAX + 1] = { 0 };
	unsigned int st;

	if (o->by) {
		tops = calloc((size_t)(TCPFSM_ST_MAX + 1) * (size_t)o->top,
			      sizeof(*tops));
		if (!tops)
			return -ENOMEM;
		diag_tally_tops(&sn->tally, tops, ntop, o->top);
	}
	if (!o->json)
		fprintf(sn->out, "%-27s %10s\n", "State", "Count");
	for (st = 0; st <= TCPFSM_ST_MAX; st++) {
		const struct diag_tally_entry *top = tops ?
			tops + (size_t)st * (size_t)o->top : NULL;
		uint64_t count = sn->tally.count[st];
		int i, n = ntop[st];

		if (!count)
			continue;
		if (o->json) {
			json_begin_object(&sn->j);
			json_str(&sn->j, "state", tcp_state_name(st));
			json_u64(&sn->j, "count", count);
			if (o->by) {
				json_str(&sn->j, "by", diag_group_name(o->by));
				json_begin_array(&sn->j, "top");
			}
		} else {
			fprintf(sn->out, "%-27s %10llu\n", tcp_state_name(st),
				(unsigned long long)count);
		}
		for (i = 0; i < n; i++) {
			char key[COMM_SAFE_LEN > ADDR_STRLEN ? COMM_SAFE_LEN :
				 ADDR_STRLEN];

			if (o->json) {
				json_begin_object(&sn->j);
				if (o->by == DIAG_BY_LPORT ||
				    o->by == DIAG_BY_RPORT)
					json_u64(&sn->j, diag_group_name(o->by),
						 top[i].port);
				else if (o->by == DIAG_BY_RADDR)
					json_addr(&sn->j, "raddr",
						  top[i].family, top[i].addr);
				else
					json_strn(&sn->j, "comm", top[i].comm,
						  strnlen(top[i].comm,
							  sizeof(top[i].comm)));
				json_u64(&sn->j, "count", top[i].count);
				json_end_object(&sn->j);
				continue;
			}
			key_text(o, &top[i], key);
			fprintf(sn->out, "  %-5s %-20s %10llu\n",
				diag_group_name(o->by), key,
				(unsigned long long)top[i].count);
		}
		if (o->json) {
			if (o->by)
				json_end_array(&sn->j);
			json_end_object(&sn->j);
			json_end_line(&sn->j);
		}
	}
	if (o->json) {
		json_begin_object(&sn->j);
		json_str(&sn->j, "state", "TOTAL");
		json_u64(&sn->j, "count", sn->tally.total);
		json_end_object(&sn->j);
		json_end_line(&sn->j);
	} else {
		fprintf(sn->out, "%-27s %10llu\n", "TOTAL",
			(unsigned long long)sn->tally.total);
	}
	free(tops);
	return 0;
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

	age_table_clear(&sn->ages);
	sn->have_ages = false;
	sn->age_err = agesrv_query(NULL, 0, age_table_add, &sn->ages, &ans);
	sn->age_flags = ans.flags;
	/* a truncated answer still holds true ages */
	sn->have_ages = sn->ages.n > 0 || sn->age_err == 0;
	tell_ages(sn);
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
	diag_sock_cb cb = o->summary ? tally_row : o->json ? json_row : collect;
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
	rows_clear(sn);
	sn->rows = 0;
	if (o->summary)
		diag_tally_init(&sn->tally, o->by);
	t1 = sn->now_ns = clock_ns(CLOCK_MONOTONIC);
	if (o->from_raw)
		ret = replay_raw(sn, cb, &info);
	else
		ret = diag_dump(&q, replay_row, &(struct replay){ sn, cb }, &info);
	t2 = clock_ns(CLOCK_MONOTONIC);
	if (!ret && o->summary)
		ret = summary_print(sn);
	else if (!ret && !o->json)
		ret = table_print(sn);
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
	json_init(&sn.j, stdout);
	/* a recorded dump's ids may be another boot's: no paths for them */
	if (o.json && !o.summary && !o.from_raw)
		sn.have_cg = !cgpath_init_mounted(&sn.cg, "/proc/self/mountinfo");
	ret = run(&sn, &o);
	if (sn.have_cg)
		cgpath_free(&sn.cg);
	free(sn.v);
	free(sn.text);
	age_table_free(&sn.ages);
	procmap_free(&sn.pm);
	return ret;
}
