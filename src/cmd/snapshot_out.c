// SPDX-License-Identifier: GPL-2.0 OR BSD-2-Clause
/*
 * tcpfsm snapshot's output: ages from the tracer by cookie, each
 * socket's details, the table, JSON and the --summary tally.
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
#include "snapshot_impl.h"

/* ------------------------------------------------------------ age table */

int snap_age_table_add(void *ctx, const struct age_record *r)
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

void snap_age_table_clear(struct age_table *t)
{
	if (t->index.slots)
		u64map_clear(&t->index);
	t->n = 0;
}

void snap_age_table_free(struct age_table *t)
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

/*
 * When s entered its state, as a running tcpfsm serve keeps it in the
 * socket's storage (asked with the dump, valid only in the callback):
 * CLOCK_MONOTONIC ns, or 0 when it has none for this state (a socket older
 * than serve, another namespace than serve's, no serve).
 */
uint64_t snap_serve_since(const struct diag_sock *s)
{
	struct tcpfsm_serve_sk v;

	if (!s->storage || s->storage_len < sizeof(v))
		return 0;
	memcpy(&v, s->storage, sizeof(v));
	return v.state == s->state ? v.since_ns : 0;
}

/*
 * The age by preference: the tracer's (which also knows the owner), a
 * running serve's (serve_since, snap_serve_since()), TIME_WAIT's timer;
 * but serve's exact age before a tracer's lower bound (a socket older than
 * the tracer that changed state while serve ran), the owner still the
 * tracer's.
 */
static void view_of(const struct snap *sn, const struct diag_sock *s,
		    uint64_t serve_since, struct sock_view *v)
{
	const struct age_record *r = NULL;

	memset(v, 0, sizeof(*v));
	if (sn->have_ages)
		r = age_table_get(&sn->ages, s->cookie);
	if (r && same_state(r->state, s->state) &&
	    !(serve_since && (r->flags & AGE_F_LOWER_BOUND))) {
		v->age_src = AGE_TRACER;
		v->age_ns = sn->now_ns > r->since_ns ? sn->now_ns - r->since_ns : 0;
		v->age_lower_bound = r->flags & AGE_F_LOWER_BOUND;
	} else if (serve_since) {
		v->age_src = AGE_SERVE;
		v->age_ns = sn->now_ns > serve_since ? sn->now_ns - serve_since : 0;
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
	case AGE_SERVE:
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

	view_of(sn, s, r->serve_since_ns, &v);
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

void snap_rows_clear(struct snap *sn)
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
int snap_collect(void *ctx, const struct diag_sock *s)
{
	struct snap *sn = ctx;
	struct row *r;
	char *t, *e;

	if (!s) {		/* an interrupted dump is repeated */
		snap_rows_clear(sn);
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
	r->serve_since_ns = snap_serve_since(s);
	r->s.storage = NULL;	/* inside the reply, gone after this call */
	r->s.storage_len = 0;
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

int snap_table_print(struct snap *sn)
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

int snap_json_row(void *ctx, const struct diag_sock *s)
{
	static const char *const srcs[] = {
		[AGE_UNKNOWN] = "unknown",
		[AGE_TRACER] = "tracer",
		[AGE_SERVE] = "serve",
		[AGE_TIMER] = "timer",
	};
	struct snap *sn = ctx;
	struct json *j = &sn->j;
	struct sock_view v;

	if (!s)
		return 1;	/* printed already: keep, and flag it */
	view_of(sn, s, snap_serve_since(s), &v);
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

int snap_tally_row(void *ctx, const struct diag_sock *s)
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

		view_of(sn, s, 0, &v);
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

int snap_summary_print(struct snap *sn)
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
