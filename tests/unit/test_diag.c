// SPDX-License-Identifier: GPL-2.0 OR BSD-2-Clause
/*
 * The sock_diag parser on replies recorded on a real kernel
 * (tests/data/diag/NAME.bin, with NAME.expect written from `ss -tanie` at
 * the same moment; see tests/integration/test_snapshot.py to re-record),
 * on hand-made malformed replies, and the bytecode compiler checked both
 * op by op and by running its output through a model of the kernel's
 * inet_diag_bc_audit()/inet_diag_bc_run().
 */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include <arpa/inet.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <linux/inet_diag.h>
#include <linux/netlink.h>
#include <linux/sock_diag.h>
#include "diag.h"
#include "tcpstate.h"

#ifndef TEST_DATA_DIR
#define TEST_DATA_DIR "tests/data/diag"
#endif

/* ------------------------------------------------------------- helpers */

static uint8_t *read_file(const char *name, size_t *len)
{
	char path[512];
	uint8_t *buf;
	FILE *f;
	long n;

	snprintf(path, sizeof(path), "%s/%s", TEST_DATA_DIR, name);
	f = fopen(path, "rb");
	if (!f) {
		/* run from build/tests or the source tree */
		snprintf(path, sizeof(path), "../../%s/%s", TEST_DATA_DIR, name);
		f = fopen(path, "rb");
	}
	assert_non_null(f);
	fseek(f, 0, SEEK_END);
	n = ftell(f);
	fseek(f, 0, SEEK_SET);
	buf = malloc((size_t)n + 1);
	assert_non_null(buf);
	assert_int_equal(fread(buf, 1, (size_t)n, f), (size_t)n);
	buf[n] = 0;
	fclose(f);
	*len = (size_t)n;
	return buf;
}

struct collected {
	struct diag_sock *v;
	size_t n, cap;
	size_t stop_after;	/* 0: never */
};

static int collect(void *ctx, const struct diag_sock *s)
{
	struct collected *c = ctx;

	if (c->n == c->cap) {
		c->cap = c->cap ? 2 * c->cap : 64;
		c->v = realloc(c->v, c->cap * sizeof(*c->v));
		assert_non_null(c->v);
	}
	c->v[c->n++] = *s;
	if (c->stop_after && c->n == c->stop_after)
		return -ECANCELED;
	return 0;
}

/*
 * Parse a whole recorded file: several dumps (IPv4, IPv6), each to DONE,
 * as snapshot --from-raw does.
 */
static int parse_all(const uint8_t *buf, size_t len, struct collected *c,
		     int *ndumps)
{
	struct diag_dump_info info;
	int ret = diag_parse_dumps(buf, len, collect, c, &info);

	*ndumps = (int)info.dumps;
	return ret;
}

static bool addr_is_zero(const uint8_t *a)
{
	static const uint8_t z[16];

	return !memcmp(a, z, 16);
}

/* The .expect line's address vs ours; "*", 0.0.0.0 and :: are one. */
static bool same_addr(const char *want, const struct diag_sock *s,
		      const uint8_t *addr)
{
	char buf[ADDR_STRLEN];

	if (!strcmp(want, "*") || !strcmp(want, "0.0.0.0") ||
	    !strcmp(want, "::"))
		return addr_is_zero(addr);
	format_addr(buf, s->family, addr);
	return !strcmp(buf, want);
}

static void check_fixture(const char *name, size_t min_socks, int want_dumps,
			  uint16_t want_type)
{
	char bin[64], exp[64], *line, *save = NULL;
	struct collected c = { 0 };
	size_t len, elen, nexpect = 0, i;
	uint8_t *buf;
	char *text;
	int ndumps;

	snprintf(bin, sizeof(bin), "%s.bin", name);
	snprintf(exp, sizeof(exp), "%s.expect", name);
	buf = read_file(bin, &len);
	text = (char *)read_file(exp, &elen);
	assert_int_equal(parse_all(buf, len, &c, &ndumps), 0);
	assert_int_equal(ndumps, want_dumps);
	assert_true(c.n >= min_socks);
	{
		struct nlmsghdr h;

		memcpy(&h, buf, sizeof(h));
		assert_int_equal(h.nlmsg_type, want_type);
	}

	for (line = strtok_r(text, "\n", &save); line;
	     line = strtok_r(NULL, "\n", &save)) {
		char state[32], local[64], remote[64];
		unsigned int lport, rport, rq, wq, inode;
		unsigned long long cookie;
		const struct diag_sock *s = NULL;

		if (line[0] == '#')
			continue;
		assert_int_equal(sscanf(line, "%31s %63s %u %63s %u %llx %u %u %u",
					state, local, &lport, remote, &rport,
					&cookie, &rq, &wq, &inode),
				 9);
		nexpect++;
		for (i = 0; i < c.n; i++)
			if (c.v[i].cookie == cookie)
				s = &c.v[i];
		if (!s)
			fail_msg("cookie %llx (%s) not parsed", cookie, line);
		assert_string_equal(tcp_state_name(s->state), state);
		assert_int_equal(s->sport, lport);
		assert_int_equal(s->dport, rport);
		assert_int_equal(s->rqueue, rq);
		assert_int_equal(s->wqueue, wq);
		assert_int_equal(s->inode, inode);
		if (!same_addr(local, s, s->saddr) ||
		    !same_addr(remote, s, s->daddr))
			fail_msg("addresses differ: %s", line);
		if (s->state == TCPFSM_ST_TIME_WAIT) {
			assert_int_equal(s->timer, DIAG_TIMER_TIMEWAIT);
			assert_true(s->expires_ms <= 60000);
		}
	}
	assert_int_equal(nexpect, c.n);
	free(c.v);
	free(text);
	free(buf);
}

/* ------------------------------------------------------ recorded tests */

/* one SOCK_DIAG_BY_FAMILY dump per family (snapshot -4, then -6) */
static void test_fixture_small(void **state)
{
	check_fixture("small", 20, 2, SOCK_DIAG_BY_FAMILY);
}

static void test_fixture_tw1000(void **state)
{
	check_fixture("tw1000", 1000, 2, SOCK_DIAG_BY_FAMILY);
}

/* one TCPDIAG_GETSOCK dump of both families (the default) */
static void test_fixture_small_both(void **state)
{
	check_fixture("small-both", 20, 1, TCPDIAG_GETSOCK);
}

static void test_fixture_tw1000_both(void **state)
{
	check_fixture("tw1000-both", 1000, 1, TCPDIAG_GETSOCK);
}

/*
 * The small fixtures' IPv4-mapped socket (the server side of an IPv4
 * connection to a dual-stack listener, 127.0.0.1 at both ends) is shown as
 * IPv4: the address in the first 4 bytes, the other 12 zero, both ends.
 */
static void test_fixture_v4mapped(void **state)
{
	static const char *const files[] = { "small.bin", "small-both.bin" };
	static const uint8_t zero12[12];
	size_t f;

	for (f = 0; f < sizeof(files) / sizeof(files[0]); f++) {
		struct collected c = { 0 };
		size_t len, i, mapped = 0;
		uint8_t *buf = read_file(files[f], &len);
		int ndumps;

		assert_int_equal(parse_all(buf, len, &c, &ndumps), 0);
		for (i = 0; i < c.n; i++) {
			const struct diag_sock *s = &c.v[i];

			if (!(s->flags & DIAG_SF_V4MAPPED))
				continue;
			mapped++;
			assert_int_equal(s->family, AF_INET);
			assert_memory_equal(s->saddr, "\x7f\0\0\x01", 4);
			assert_memory_equal(s->saddr + 4, zero12, 12);
			assert_memory_equal(s->daddr, "\x7f\0\0\x01", 4);
			assert_memory_equal(s->daddr + 4, zero12, 12);
		}
		assert_int_equal(mapped, 1);
		free(c.v);
		free(buf);
	}
}

/* Fed in message-sized pieces (as separate recv()s would), state carried. */
static void test_split_buffers(void **state)
{
	struct collected whole = { 0 }, parts = { 0 };
	struct diag_parse_state st = { 0 };
	size_t len, off = 0, piece = 0;
	uint8_t *buf = read_file(*state ? *state : "tw1000.bin", &len);
	int ndumps;

	assert_int_equal(parse_all(buf, len, &whole, &ndumps), 0);
	while (off < len) {
		struct nlmsghdr h;
		size_t end = off, k = 0;

		/* 1, 2, 3 ... messages per piece */
		piece = piece % 7 + 1;
		while (end < len && k < piece) {
			memcpy(&h, buf + end, sizeof(h));
			end += NLMSG_ALIGN(h.nlmsg_len);
			k++;
		}
		if (end > len)
			end = len;
		assert_int_equal(diag_parse(buf + off, end - off, collect,
					    &parts, &st), 0);
		if (st.done) {
			assert_int_equal(st.consumed, end - off);
			memset(&st, 0, sizeof(st));
		}
		off = end;
	}
	assert_int_equal(parts.n, whole.n);
	assert_memory_equal(parts.v, whole.v, whole.n * sizeof(*whole.v));
	free(whole.v);
	free(parts.v);
	free(buf);
}

/* Every prefix of a real reply: 0 or -EBADMSG, never a read past the end. */
static void test_every_truncation(void **state)
{
	size_t len, cut;
	uint8_t *buf = read_file(*state ? *state : "small.bin", &len);

	for (cut = 0; cut <= len; cut++) {
		uint8_t *copy = malloc(cut ? cut : 1);
		struct diag_parse_state st = { 0 };
		int ret;

		memcpy(copy, buf, cut);
		ret = diag_parse(copy, cut, NULL, NULL, &st);
		assert_true(ret == 0 || ret == -EBADMSG);
		free(copy);
	}
	free(buf);
}

static void test_callback_stops(void **state)
{
	struct collected c = { .stop_after = 3 };
	struct diag_parse_state st = { 0 };
	size_t len;
	uint8_t *buf = read_file("small.bin", &len);

	assert_int_equal(diag_parse(buf, len, collect, &c, &st), -ECANCELED);
	assert_int_equal(c.n, 3);
	assert_false(st.done);
	free(c.v);
	free(buf);
}

static void test_dump_intr_flagged(void **state)
{
	struct collected c = { 0 };
	struct diag_parse_state st = { 0 };
	struct nlmsghdr h;
	size_t len;
	uint8_t *buf = read_file("small.bin", &len);

	/* the second message of the IPv4 dump says "interrupted" */
	memcpy(&h, buf, sizeof(h));
	memcpy(&h, buf + NLMSG_ALIGN(h.nlmsg_len), sizeof(h));
	h.nlmsg_flags |= NLM_F_DUMP_INTR;
	memcpy(buf + NLMSG_ALIGN(((struct nlmsghdr *)buf)->nlmsg_len), &h,
	       sizeof(h));
	assert_int_equal(diag_parse(buf, len, collect, &c, &st), 0);
	assert_true(st.intr);
	assert_true(st.done);
	assert_true(c.n > 0);
	free(c.v);
	free(buf);
}

/* ----------------------------------------------------- hand-made bytes */

struct msgbuf {
	uint8_t b[4096];
	size_t len;
};

static void put_nlmsg(struct msgbuf *m, uint16_t type, uint16_t flags,
		      uint32_t seq, const void *payload, size_t plen)
{
	struct nlmsghdr h = {
		.nlmsg_len = (uint32_t)(NLMSG_HDRLEN + plen),
		.nlmsg_type = type,
		.nlmsg_flags = flags,
		.nlmsg_seq = seq,
	};

	memset(m->b + m->len, 0, NLMSG_ALIGN(h.nlmsg_len));
	memcpy(m->b + m->len, &h, sizeof(h));
	memcpy(m->b + m->len + NLMSG_HDRLEN, payload, plen);
	m->len += NLMSG_ALIGN(h.nlmsg_len);
}

/* An inet_diag_msg plus attributes, as the payload of one message. */
struct payload {
	uint8_t b[1024];
	size_t len;
};

static void make_sock(struct payload *p, uint8_t family, uint8_t state,
		      uint16_t sport, uint16_t dport, uint64_t cookie)
{
	struct inet_diag_msg m = { 0 };

	m.idiag_family = family;
	m.idiag_state = state;
	m.idiag_timer = DIAG_TIMER_TIMEWAIT;
	m.idiag_retrans = 2;
	m.idiag_expires = 12345;
	m.idiag_rqueue = 7;
	m.idiag_wqueue = 9;
	m.idiag_uid = 1000;
	m.idiag_inode = 4242;
	m.id.idiag_sport = htons(sport);
	m.id.idiag_dport = htons(dport);
	m.id.idiag_if = 3;
	m.id.idiag_cookie[0] = (uint32_t)cookie;
	m.id.idiag_cookie[1] = (uint32_t)(cookie >> 32);
	if (family == AF_INET) {
		m.id.idiag_src[0] = htonl(0x0a000001);
		m.id.idiag_dst[0] = htonl(0xc0a80102);
	} else {
		m.id.idiag_src[3] = htonl(1);
		m.id.idiag_dst[0] = htonl(0x20010db8);
		m.id.idiag_dst[3] = htonl(2);
	}
	memcpy(p->b, &m, sizeof(m));
	p->len = NLMSG_ALIGN(sizeof(m));
}

static void add_attr(struct payload *p, uint16_t type, const void *data,
		     size_t len, uint16_t len_override)
{
	struct nlattr a = {
		.nla_len = len_override ? len_override :
					  (uint16_t)(NLA_HDRLEN + len),
		.nla_type = type,
	};

	memset(p->b + p->len, 0, NLA_ALIGN(NLA_HDRLEN + len));
	memcpy(p->b + p->len, &a, sizeof(a));
	memcpy(p->b + p->len + NLA_HDRLEN, data, len);
	p->len += NLA_ALIGN(NLA_HDRLEN + len);
}

static void put_done(struct msgbuf *m, uint32_t seq, int err)
{
	put_nlmsg(m, NLMSG_DONE, NLM_F_MULTI, seq, &err, sizeof(err));
}

static int parse_one(const struct msgbuf *m, struct collected *c,
		     struct diag_parse_state *st)
{
	memset(st, 0, sizeof(*st));
	return diag_parse(m->b, m->len, collect, c, st);
}

static void test_fields_and_attrs(void **state)
{
	struct msgbuf m = { .len = 0 };
	struct payload p;
	struct collected c = { 0 };
	struct diag_parse_state st;
	uint64_t cg = 0x1122334455667788ull;
	uint8_t shut = 3, big[40] = { 0 };

	make_sock(&p, AF_INET, TCPFSM_ST_TIME_WAIT, 80, 40000,
		  0xabcdef0012345678ull);
	add_attr(&p, INET_DIAG_SHUTDOWN, &shut, 1, 0);
	add_attr(&p, 250, big, sizeof(big), 0);	/* unknown: skipped */
	add_attr(&p, INET_DIAG_CGROUP_ID | NLA_F_NESTED, &cg, sizeof(cg), 0);
	put_nlmsg(&m, SOCK_DIAG_BY_FAMILY, NLM_F_MULTI, 0, p.b, p.len);
	make_sock(&p, AF_INET6, TCPFSM_ST_ESTABLISHED, 443, 50000, 7);
	put_nlmsg(&m, SOCK_DIAG_BY_FAMILY, NLM_F_MULTI, 0, p.b, p.len);
	put_nlmsg(&m, 77, 0, 0, "junk", 4);	/* unknown type: skipped */
	put_done(&m, 0, 0);

	assert_int_equal(parse_one(&m, &c, &st), 0);
	assert_true(st.done);
	assert_false(st.intr);
	assert_int_equal(st.consumed, m.len);
	assert_int_equal(st.skipped, 1);
	assert_int_equal(c.n, 2);
	assert_int_equal(c.v[0].family, AF_INET);
	assert_int_equal(c.v[0].state, TCPFSM_ST_TIME_WAIT);
	assert_int_equal(c.v[0].sport, 80);
	assert_int_equal(c.v[0].dport, 40000);
	assert_true(c.v[0].cookie == 0xabcdef0012345678ull);
	assert_true(c.v[0].cgroup_id == cg);
	assert_int_equal(c.v[0].timer, DIAG_TIMER_TIMEWAIT);
	assert_int_equal(c.v[0].retrans, 2);
	assert_int_equal(c.v[0].expires_ms, 12345);
	assert_int_equal(c.v[0].rqueue, 7);
	assert_int_equal(c.v[0].wqueue, 9);
	assert_int_equal(c.v[0].uid, 1000);
	assert_int_equal(c.v[0].inode, 4242);
	assert_int_equal(c.v[0].ifindex, 3);
	assert_memory_equal(c.v[0].saddr, "\x0a\0\0\x01", 4);
	assert_memory_equal(c.v[0].daddr, "\xc0\xa8\x01\x02", 4);
	assert_int_equal(c.v[1].family, AF_INET6);
	assert_int_equal(c.v[1].saddr[15], 1);
	assert_int_equal(c.v[1].daddr[0], 0x20);
	assert_int_equal(c.v[1].cgroup_id, 0);
	free(c.v);
}

static void test_last_attr_unpadded(void **state)
{
	struct msgbuf m = { .len = 0 };
	struct payload p;
	struct collected c = { 0 };
	struct diag_parse_state st;
	uint8_t shut = 1;

	make_sock(&p, AF_INET, 1, 1, 2, 3);
	add_attr(&p, INET_DIAG_SHUTDOWN, &shut, 1, 0);
	p.len -= 3;	/* the message ends right after the 5-byte attribute */
	put_nlmsg(&m, SOCK_DIAG_BY_FAMILY, 0, 0, p.b, p.len);
	assert_int_equal(parse_one(&m, &c, &st), 0);
	assert_int_equal(c.n, 1);
	free(c.v);
}

static void test_truncated_attrs(void **state)
{
	struct collected c = { 0 };
	struct diag_parse_state st;
	uint8_t data[8] = { 0 };
	struct {
		uint16_t type;
		size_t len;
		uint16_t nla_len;
	} cases[] = {
		{ INET_DIAG_SHUTDOWN, 1, 200 },	/* runs past the message */
		{ INET_DIAG_SHUTDOWN, 1, 2 },	/* shorter than its header */
		{ INET_DIAG_CGROUP_ID, 4, 0 },	/* known, too short */
	};
	size_t i;

	for (i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		struct msgbuf m = { .len = 0 };
		struct payload p;

		make_sock(&p, AF_INET, 1, 1, 2, 3);
		add_attr(&p, cases[i].type, data, cases[i].len,
			 cases[i].nla_len);
		put_nlmsg(&m, SOCK_DIAG_BY_FAMILY, 0, 0, p.b, p.len);
		assert_int_equal(parse_one(&m, &c, &st), -EBADMSG);
	}
	/* three stray bytes after the last attribute */
	{
		struct msgbuf m = { .len = 0 };
		struct payload p;

		make_sock(&p, AF_INET, 1, 1, 2, 3);
		p.len += 3;
		put_nlmsg(&m, SOCK_DIAG_BY_FAMILY, 0, 0, p.b, p.len);
		assert_int_equal(parse_one(&m, &c, &st), -EBADMSG);
	}
	assert_int_equal(c.n, 0);
	free(c.v);
}

static void test_truncated_headers(void **state)
{
	struct collected c = { 0 };
	struct diag_parse_state st;
	struct msgbuf m = { .len = 0 };
	struct payload p;
	struct nlmsghdr h;

	/* fewer bytes than a header */
	memset(&m, 0, sizeof(m));
	m.len = 10;
	assert_int_equal(parse_one(&m, &c, &st), -EBADMSG);
	/* nlmsg_len smaller than the header */
	h = (struct nlmsghdr){ .nlmsg_len = 8, .nlmsg_type = NLMSG_DONE };
	memcpy(m.b, &h, sizeof(h));
	m.len = 16;
	assert_int_equal(parse_one(&m, &c, &st), -EBADMSG);
	/* nlmsg_len beyond the buffer */
	h.nlmsg_len = 400;
	memcpy(m.b, &h, sizeof(h));
	m.len = 20;
	assert_int_equal(parse_one(&m, &c, &st), -EBADMSG);
	/* a diag message shorter than inet_diag_msg */
	m.len = 0;
	make_sock(&p, AF_INET, 1, 1, 2, 3);
	put_nlmsg(&m, SOCK_DIAG_BY_FAMILY, 0, 0, p.b, 40);
	assert_int_equal(parse_one(&m, &c, &st), -EBADMSG);
	/* an NLMSG_ERROR without its error code */
	m.len = 0;
	put_nlmsg(&m, NLMSG_ERROR, 0, 0, "", 0);
	assert_int_equal(parse_one(&m, &c, &st), -EBADMSG);
	/* zero bytes: nothing, not done */
	m.len = 0;
	assert_int_equal(parse_one(&m, &c, &st), 0);
	assert_false(st.done);
	assert_int_equal(c.n, 0);
	free(c.v);
}

/* ------------------------------------------- recorded files, replayed */

/* One dump: a socket per cookie, then DONE; flags on every message. */
static void put_dump(struct msgbuf *m, uint32_t seq, uint16_t flags,
		     const uint64_t *cookies, int n)
{
	struct payload p;
	int i, zero = 0;

	for (i = 0; i < n; i++) {
		make_sock(&p, AF_INET, TCPFSM_ST_ESTABLISHED, 80, 1000, cookies[i]);
		put_nlmsg(m, SOCK_DIAG_BY_FAMILY, NLM_F_MULTI | flags, seq, p.b,
			  p.len);
	}
	put_nlmsg(m, NLMSG_DONE, NLM_F_MULTI | flags, seq, &zero, sizeof(zero));
}

/* The kernel's answer to a request it does not serve. */
static void put_refusal(struct msgbuf *m, uint32_t seq, int err)
{
	struct nlmsgerr e = { .error = err };

	put_nlmsg(m, NLMSG_ERROR, 0, seq, &e, sizeof(e));
}

/* What diag_parse_dumps delivers: the cookies, in order. */
static int replayed(const struct msgbuf *m, uint64_t *cookies, size_t max,
		    struct diag_dump_info *info, int *ret)
{
	struct collected c = { 0 };
	size_t i;

	*ret = diag_parse_dumps(m->b, m->len, collect, &c, info);
	assert_true(c.n <= max);
	for (i = 0; i < c.n; i++)
		cookies[i] = c.v[i].cookie;
	free(c.v);
	return (int)c.n;
}

/*
 * As live dumping does: an attempt marked NLM_F_DUMP_INTR that was repeated
 * is forgotten, the repeat kept; the last attempt is kept even if marked;
 * every run (a snapshot: sequence numbers from 1 up) is kept.
 */
static void test_parse_dumps_keeps_what_live_kept(void **state)
{
	static const uint64_t ab[] = { 1, 2 }, ac[] = { 1, 3 }, d[] = { 4 };
	struct diag_dump_info info;
	struct msgbuf m = { .len = 0 };
	uint64_t got[16];
	int ret;

	/* interrupted, then repeated cleanly: the repeat only */
	put_dump(&m, 1, NLM_F_DUMP_INTR, ab, 2);
	put_dump(&m, 2, 0, ac, 2);
	assert_int_equal(replayed(&m, got, 16, &info, &ret), 2);
	assert_int_equal(ret, 0);
	assert_true(got[0] == 1 && got[1] == 3);
	assert_int_equal(info.intr_retries, 1);
	assert_false(info.intr);
	assert_int_equal(info.dumps, 1);
	assert_int_equal(info.nsocks, 2);
	assert_int_equal(info.reply_bytes, m.len);

	/* out of retries: the last attempt, marked */
	m.len = 0;
	put_dump(&m, 1, NLM_F_DUMP_INTR, ab, 2);
	put_dump(&m, 2, NLM_F_DUMP_INTR, d, 1);
	assert_int_equal(replayed(&m, got, 16, &info, &ret), 1);
	assert_true(got[0] == 4);
	assert_true(info.intr);
	assert_int_equal(info.intr_retries, 1);

	/* two snapshots appended (seq back to 1): both, even if marked */
	m.len = 0;
	put_dump(&m, 1, NLM_F_DUMP_INTR, ab, 2);
	put_dump(&m, 2, 0, ac, 2);
	put_dump(&m, 1, NLM_F_DUMP_INTR, d, 1);
	assert_int_equal(replayed(&m, got, 16, &info, &ret), 3);
	assert_true(got[0] == 1 && got[1] == 3 && got[2] == 4);
	assert_true(info.intr);
	assert_int_equal(info.dumps, 2);

	/* one dump per family in one snapshot, nothing marked: both */
	m.len = 0;
	put_dump(&m, 1, 0, ab, 2);
	put_dump(&m, 2, 0, d, 1);
	assert_int_equal(replayed(&m, got, 16, &info, &ret), 3);
	assert_int_equal(info.dumps, 2);
	assert_int_equal(info.intr_retries, 0);

	/* both families refused, asked per family; the first try marked */
	m.len = 0;
	put_refusal(&m, 1, -EOPNOTSUPP);
	put_dump(&m, 2, NLM_F_DUMP_INTR, ab, 2);
	put_dump(&m, 3, 0, d, 1);
	put_refusal(&m, 4, -EOPNOTSUPP);
	put_dump(&m, 5, 0, ac, 2);
	put_dump(&m, 6, 0, d, 1);
	assert_int_equal(replayed(&m, got, 16, &info, &ret), 3);
	assert_int_equal(ret, 0);
	assert_true(got[0] == 1 && got[1] == 3 && got[2] == 4);
	assert_int_equal(info.intr_retries, 1);
	assert_int_equal(info.dumps, 2);
	(void)state;
}

/* An error the kernel ended with is the replay's, before any socket. */
static void test_parse_dumps_errors(void **state)
{
	static const uint64_t ab[] = { 1, 2 };
	struct diag_dump_info info;
	struct msgbuf m = { .len = 0 };
	uint64_t got[16];
	int ret;

	put_refusal(&m, 1, -EOPNOTSUPP);	/* and nothing after it */
	assert_int_equal(replayed(&m, got, 16, &info, &ret), 0);
	assert_int_equal(ret, -EOPNOTSUPP);
	m.len = 0;
	put_dump(&m, 1, 0, ab, 2);
	put_refusal(&m, 2, -EPERM);
	assert_int_equal(replayed(&m, got, 16, &info, &ret), 0);
	assert_int_equal(ret, -EPERM);
	m.len = 0;
	assert_int_equal(replayed(&m, got, 16, &info, &ret), 0);
	assert_int_equal(ret, -ENODATA);	/* empty: no dump at all */
	(void)state;
}

/*
 * A recording cut anywhere but between dumps is an error (no NLMSG_DONE at
 * its end: -ENODATA; inside a message: -EBADMSG), and not one socket is
 * delivered from it.
 */
static void test_parse_dumps_cut_short(void **state)
{
	struct diag_parse_state st = { 0 };
	size_t len, cut, first;
	uint8_t *buf = read_file("small.bin", &len);

	/* where the first dump ends */
	assert_int_equal(diag_parse(buf, len, NULL, NULL, &st), 0);
	first = st.consumed;
	assert_true(first < len);
	for (cut = 0; cut <= len; cut++) {
		struct collected c = { 0 };
		uint8_t *copy = malloc(cut ? cut : 1);
		int ret;

		memcpy(copy, buf, cut);
		ret = diag_parse_dumps(copy, cut, collect, &c, NULL);
		if (cut == first || cut == len) {
			assert_int_equal(ret, 0);
			assert_true(c.n > 0);
		} else {
			assert_true(ret == -ENODATA || ret == -EBADMSG);
			assert_int_equal(c.n, 0);
		}
		free(c.v);
		free(copy);
	}
	free(buf);
	(void)state;
}

static void test_nlmsg_error(void **state)
{
	struct collected c = { 0 };
	struct diag_parse_state st;
	struct msgbuf m = { .len = 0 };
	struct nlmsgerr e = { .error = -EPERM };
	struct nlmsgerr ack = { .error = 0 };
	struct payload p;

	put_nlmsg(&m, NLMSG_ERROR, 0, 0, &ack, sizeof(ack));	/* ACK: go on */
	make_sock(&p, AF_INET, 1, 1, 2, 3);
	put_nlmsg(&m, SOCK_DIAG_BY_FAMILY, 0, 0, p.b, p.len);
	put_nlmsg(&m, NLMSG_ERROR, 0, 0, &e, sizeof(e));
	make_sock(&p, AF_INET, 1, 4, 5, 6);	/* never reached */
	put_nlmsg(&m, SOCK_DIAG_BY_FAMILY, 0, 0, p.b, p.len);
	assert_int_equal(parse_one(&m, &c, &st), -EPERM);
	assert_int_equal(st.error, -EPERM);
	assert_true(st.done);
	assert_int_equal(c.n, 1);

	/* an error carried by NLMSG_DONE */
	m.len = 0;
	put_done(&m, 0, -ENOBUFS);
	assert_int_equal(parse_one(&m, &c, &st), -ENOBUFS);
	/* nonsense error codes are malformed, not errnos */
	m.len = 0;
	e.error = 5;
	put_nlmsg(&m, NLMSG_ERROR, 0, 0, &e, sizeof(e));
	assert_int_equal(parse_one(&m, &c, &st), -EBADMSG);
	free(c.v);
}

static void test_seq_filter_and_noop(void **state)
{
	struct collected c = { 0 };
	struct diag_parse_state st = { .seq = 5 };
	struct msgbuf m = { .len = 0 };
	struct payload p;

	make_sock(&p, AF_INET, 1, 1, 2, 3);
	put_nlmsg(&m, SOCK_DIAG_BY_FAMILY, 0, 4, p.b, p.len);	/* stale */
	put_nlmsg(&m, NLMSG_NOOP, 0, 5, "", 0);
	put_nlmsg(&m, SOCK_DIAG_BY_FAMILY, NLM_F_DUMP_INTR, 5, p.b, p.len);
	put_done(&m, 4, 0);	/* someone else's DONE */
	put_done(&m, 5, 0);
	assert_int_equal(diag_parse(m.b, m.len, collect, &c, &st), 0);
	assert_true(st.done);
	assert_true(st.intr);
	assert_int_equal(st.skipped, 2);
	assert_int_equal(st.nsocks, 1);
	assert_int_equal(c.n, 1);
	free(c.v);
}

static void test_unknown_family_skipped(void **state)
{
	struct collected c = { 0 };
	struct diag_parse_state st;
	struct msgbuf m = { .len = 0 };
	struct payload p;

	make_sock(&p, AF_UNIX, 1, 1, 2, 3);
	put_nlmsg(&m, SOCK_DIAG_BY_FAMILY, 0, 0, p.b, p.len);
	assert_int_equal(parse_one(&m, &c, &st), 0);
	assert_int_equal(c.n, 0);
	assert_int_equal(st.skipped, 1);
	free(c.v);
}

/* ------------------------------------------------------------ request */

static void test_build_request(void **state)
{
	uint8_t buf[256], bc[8] = { 1, 2, 3, 4, 5, 6, 7, 8 };
	struct inet_diag_req_v2 req;
	struct nlmsghdr h;
	struct nlattr a;
	int len;

	len = diag_build_request(buf, sizeof(buf), AF_INET6, 0x1234, NULL, 0, 9);
	assert_int_equal(len, NLMSG_SPACE(sizeof(req)));
	memcpy(&h, buf, sizeof(h));
	memcpy(&req, buf + NLMSG_HDRLEN, sizeof(req));
	assert_int_equal(h.nlmsg_len, (uint32_t)len);
	assert_int_equal(h.nlmsg_type, SOCK_DIAG_BY_FAMILY);
	assert_int_equal(h.nlmsg_flags, NLM_F_REQUEST | NLM_F_DUMP);
	assert_int_equal(h.nlmsg_seq, 9);
	assert_int_equal(req.sdiag_family, AF_INET6);
	assert_int_equal(req.sdiag_protocol, IPPROTO_TCP);
	assert_int_equal(req.idiag_ext, 0);
	assert_int_equal(req.idiag_states, 0x1234);

	len = diag_build_request(buf, sizeof(buf), AF_INET, DIAG_STATES_ALL, bc,
				 sizeof(bc), 1);
	assert_int_equal(len, NLMSG_SPACE(sizeof(req)) + NLA_HDRLEN + 8);
	memcpy(&a, buf + NLMSG_SPACE(sizeof(req)), sizeof(a));
	assert_int_equal(a.nla_type, INET_DIAG_REQ_BYTECODE);
	assert_int_equal(a.nla_len, NLA_HDRLEN + 8);
	assert_memory_equal(buf + NLMSG_SPACE(sizeof(req)) + NLA_HDRLEN, bc, 8);
	memcpy(&req, buf + NLMSG_HDRLEN, sizeof(req));
	assert_int_equal(req.idiag_states, 0x1fff);

	/* both families: the legacy request */
	{
		struct inet_diag_req old;

		len = diag_build_request(buf, sizeof(buf), AF_UNSPEC, 0x440, bc,
					 sizeof(bc), 3);
		assert_int_equal(len, NLMSG_SPACE(sizeof(old)) + NLA_HDRLEN + 8);
		memcpy(&h, buf, sizeof(h));
		memcpy(&old, buf + NLMSG_HDRLEN, sizeof(old));
		assert_int_equal(h.nlmsg_type, TCPDIAG_GETSOCK);
		assert_int_equal(h.nlmsg_flags, NLM_F_REQUEST | NLM_F_DUMP);
		assert_int_equal(old.idiag_states, 0x440);
		assert_int_equal(old.idiag_ext, 0);
		memcpy(&a, buf + NLMSG_SPACE(sizeof(old)), sizeof(a));
		assert_int_equal(a.nla_type, INET_DIAG_REQ_BYTECODE);
		assert_memory_equal(buf + NLMSG_SPACE(sizeof(old)) + NLA_HDRLEN,
				    bc, 8);
	}
	assert_int_equal(diag_build_request(buf, 20, AF_INET, 1, NULL, 0, 1),
			 -ENOSPC);
	assert_int_equal(diag_build_request(buf, sizeof(buf), AF_UNIX, 1, NULL,
					    0, 1),
			 -EINVAL);
}

/* ----------------------------------------------------------- bytecode */

/* A model of the kernel's inet_diag_bc_audit() (net/ipv4/inet_diag.c). */
static bool model_valid_cc(const uint8_t *bc, int len, int cc)
{
	while (len >= 0) {
		struct inet_diag_bc_op op;

		if (cc > len)
			return false;
		if (cc == len)
			return true;
		memcpy(&op, bc, sizeof(op));
		if (op.yes < 4 || op.yes & 3)
			return false;
		len -= op.yes;
		bc += op.yes;
	}
	return false;
}

static int model_audit(const uint8_t *bytecode, int bytecode_len)
{
	const uint8_t *bc = bytecode;
	int len = bytecode_len;

	while (len > 0) {
		int min_len = sizeof(struct inet_diag_bc_op);
		struct inet_diag_bc_op op;

		memcpy(&op, bc, sizeof(op));
		switch (op.code) {
		case INET_DIAG_BC_S_COND:
		case INET_DIAG_BC_D_COND: {
			struct inet_diag_hostcond hc;
			int alen;

			min_len += sizeof(hc);
			if (len < min_len)
				return -EINVAL;
			memcpy(&hc, bc + 4, sizeof(hc));
			alen = hc.family == AF_INET ? 4 :
			       hc.family == AF_INET6 ? 16 :
			       hc.family == AF_UNSPEC ? 0 : -1;
			if (alen < 0)
				return -EINVAL;
			min_len += alen;
			if (len < min_len || hc.prefix_len > 8 * alen)
				return -EINVAL;
			break;
		}
		case INET_DIAG_BC_S_EQ:
		case INET_DIAG_BC_D_EQ:
		case INET_DIAG_BC_S_GE:
		case INET_DIAG_BC_S_LE:
		case INET_DIAG_BC_D_GE:
		case INET_DIAG_BC_D_LE:
			min_len += sizeof(struct inet_diag_bc_op);
			if (len < min_len)
				return -EINVAL;
			break;
		case INET_DIAG_BC_JMP:
		case INET_DIAG_BC_NOP:
			break;
		default:
			return -EINVAL;
		}
		if (op.code != INET_DIAG_BC_NOP) {
			if (op.no < min_len || op.no > len + 4 || op.no & 3)
				return -EINVAL;
			if (op.no < len &&
			    !model_valid_cc(bytecode, bytecode_len, len - op.no))
				return -EINVAL;
		}
		if (op.yes < min_len || op.yes > len + 4 || op.yes & 3)
			return -EINVAL;
		bc += op.yes;
		len -= op.yes;
	}
	return len == 0 ? 0 : -EINVAL;
}

static bool model_bits(const uint8_t *a, const uint8_t *b, int bits)
{
	int bytes = bits / 8, rem = bits % 8;

	if (memcmp(a, b, (size_t)bytes))
		return false;
	return !rem || !((a[bytes] ^ b[bytes]) & (0xff << (8 - rem)));
}

/* A model of inet_diag_bc_run(). addr are 16 bytes, IPv4 in the first 4. */
static bool model_run(const uint8_t *bc, int len, const struct diag_sock *s,
		      uint8_t sock_family, const uint8_t *saddr,
		      const uint8_t *daddr)
{
	while (len > 0) {
		struct inet_diag_bc_op op, arg;
		bool yes = true;

		memcpy(&op, bc, sizeof(op));
		memcpy(&arg, bc + 4, sizeof(arg));
		switch (op.code) {
		case INET_DIAG_BC_JMP:
			yes = false;
			break;
		case INET_DIAG_BC_S_EQ:
			yes = s->sport == arg.no;
			break;
		case INET_DIAG_BC_D_EQ:
			yes = s->dport == arg.no;
			break;
		case INET_DIAG_BC_S_COND:
		case INET_DIAG_BC_D_COND: {
			struct inet_diag_hostcond hc;
			const uint8_t *addr = op.code == INET_DIAG_BC_S_COND ?
						      saddr : daddr;
			const uint8_t *caddr = bc + 4 + sizeof(hc);

			memcpy(&hc, bc + 4, sizeof(hc));
			if (hc.port != -1) {
				yes = false;
				break;
			}
			if (hc.family != sock_family) {
				static const uint8_t mapped[12] = {
					[10] = 0xff, [11] = 0xff
				};

				yes = sock_family == AF_INET6 &&
				      hc.family == AF_INET &&
				      !memcmp(addr, mapped, 12) &&
				      model_bits(addr + 12, caddr, hc.prefix_len);
				break;
			}
			yes = model_bits(addr, caddr, hc.prefix_len);
			break;
		}
		default:
			fail_msg("unexpected op %u", op.code);
		}
		bc += yes ? op.yes : op.no;
		len -= yes ? op.yes : op.no;
	}
	return len == 0;
}

static void test_bc_ports_ops(void **state)
{
	struct diag_filter f = { .lports = { 80, 443 }, .n_lports = 2,
				 .rports = { 5000 }, .n_rports = 1 };
	struct inet_diag_bc_op ops[8];
	uint8_t bc[DIAG_BC_MAX];
	int len = diag_bc_compile(&f, bc, sizeof(bc));
	/*
	 *  0: S_EQ 80    yes 8 no 12 (-> 12)
	 *  8: JMP        yes 4 no 12 (-> 20, the rport group)
	 * 12: S_EQ 443   yes 8 no 20 (-> 32 = end + 4: reject)
	 * 20: D_EQ 5000  yes 8 no 12 (-> 32: reject)
	 * 28: end (accept)
	 */
	static const struct inet_diag_bc_op want[] = {
		{ INET_DIAG_BC_S_EQ, 8, 12 }, { 0, 0, 80 },
		{ INET_DIAG_BC_JMP, 4, 12 },
		{ INET_DIAG_BC_S_EQ, 8, 20 }, { 0, 0, 443 },
		{ INET_DIAG_BC_D_EQ, 8, 12 }, { 0, 0, 5000 },
	};

	assert_int_equal(len, (int)sizeof(want));
	memcpy(ops, bc, sizeof(want));
	assert_memory_equal(ops, want, sizeof(want));
	assert_int_equal(model_audit(bc, len), 0);
}

static void test_bc_cidr_ops(void **state)
{
	struct diag_filter f = { 0 };
	struct inet_diag_hostcond hc;
	struct inet_diag_bc_op op;
	uint8_t bc[DIAG_BC_MAX];
	int len;

	assert_int_equal(cidr_parse("10.0.0.0/8", &f.cidrs[0]), 0);
	f.n_cidrs = 1;
	len = diag_bc_compile(&f, bc, sizeof(bc));
	/* S_COND (16) JMP (4) D_COND (16) */
	assert_int_equal(len, 36);
	memcpy(&op, bc, sizeof(op));
	assert_int_equal(op.code, INET_DIAG_BC_S_COND);
	assert_int_equal(op.yes, 16);
	assert_int_equal(op.no, 20);
	memcpy(&hc, bc + 4, sizeof(hc));
	assert_int_equal(hc.family, AF_INET);
	assert_int_equal(hc.prefix_len, 8);
	assert_int_equal(hc.port, -1);
	assert_memory_equal(bc + 12, "\x0a\0\0\0", 4);
	memcpy(&op, bc + 16, sizeof(op));
	assert_int_equal(op.code, INET_DIAG_BC_JMP);
	assert_int_equal(op.no, 20);	/* -> 36: the end, accept */
	memcpy(&op, bc + 20, sizeof(op));
	assert_int_equal(op.code, INET_DIAG_BC_D_COND);
	assert_int_equal(op.no, 20);	/* -> 40 = end + 4: reject */
	assert_int_equal(model_audit(bc, len), 0);
}

static void test_bc_empty_and_limits(void **state)
{
	struct diag_filter f = { 0 };
	uint8_t bc[DIAG_BC_MAX];
	int i;

	assert_int_equal(diag_bc_compile(NULL, bc, sizeof(bc)), 0);
	assert_int_equal(diag_bc_compile(&f, bc, sizeof(bc)), 0);
	/* the largest filter fits DIAG_BC_MAX and passes the audit */
	for (i = 0; i < DIAG_MAX_PORTS; i++) {
		f.lports[i] = (uint16_t)(i + 1);
		f.rports[i] = (uint16_t)(i + 100);
	}
	for (i = 0; i < DIAG_MAX_CIDRS; i++) {
		char s[64];

		snprintf(s, sizeof(s), "2001:db8:%x::/48", i);
		assert_int_equal(cidr_parse(s, &f.cidrs[i]), 0);
	}
	f.n_lports = f.n_rports = DIAG_MAX_PORTS;
	f.n_cidrs = DIAG_MAX_CIDRS;
	i = diag_bc_compile(&f, bc, sizeof(bc));
	assert_true(i > 0 && i <= DIAG_BC_MAX);
	assert_int_equal(model_audit(bc, i), 0);
	assert_int_equal(diag_bc_compile(&f, bc, 100), -ENOSPC);
	f.n_lports = DIAG_MAX_PORTS + 1;
	assert_int_equal(diag_bc_compile(&f, bc, sizeof(bc)), -EINVAL);
}

static uint32_t rng_state = 12345;

static uint32_t rnd(void)
{
	rng_state ^= rng_state << 13;
	rng_state ^= rng_state >> 17;
	rng_state ^= rng_state << 5;
	return rng_state;
}

/* The compiled program, run by the kernel model, equals the filter's meaning. */
static void test_bc_semantics_random(void **state)
{
	static const char *const pool[] = {
		"10.0.0.0/8", "10.1.2.3", "192.168.0.0/16", "0.0.0.0/0",
		"::1", "2001:db8::/32", "fe80::/10", "127.0.0.0/8",
	};
	static const uint16_t ports[] = { 22, 80, 443, 5000, 8080 };
	int iter;

	for (iter = 0; iter < 2000; iter++) {
		struct diag_filter f = { 0 };
		uint8_t bc[DIAG_BC_MAX];
		int i, len, k;

		f.n_lports = (int)(rnd() % 3);
		f.n_rports = (int)(rnd() % 3);
		f.n_cidrs = (int)(rnd() % 3);
		for (i = 0; i < f.n_lports; i++)
			f.lports[i] = ports[rnd() % 5];
		for (i = 0; i < f.n_rports; i++)
			f.rports[i] = ports[rnd() % 5];
		for (i = 0; i < f.n_cidrs; i++)
			assert_int_equal(cidr_parse(pool[rnd() % 8],
							 &f.cidrs[i]),
					 0);
		len = diag_bc_compile(&f, bc, sizeof(bc));
		assert_true(len >= 0);
		if (len)
			assert_int_equal(model_audit(bc, len), 0);

		for (k = 0; k < 50; k++) {
			struct diag_sock s = { 0 };
			uint8_t fam = rnd() % 2 ? AF_INET : AF_INET6;
			uint8_t sa[16] = { 0 }, da[16] = { 0 };
			bool want = true, any;
			int kind = (int)(rnd() % 3);

			s.sport = ports[rnd() % 5];
			s.dport = ports[rnd() % 5];
			/* kernel view: sa/da; user view: s (mapped -> v4) */
			if (fam == AF_INET || kind == 2) {
				static const uint8_t v4s[][4] = {
					{ 10, 1, 2, 3 }, { 192, 168, 9, 9 },
					{ 127, 0, 0, 1 }, { 8, 8, 8, 8 } };
				const uint8_t *a = v4s[rnd() % 4];
				const uint8_t *b = v4s[rnd() % 4];

				if (fam == AF_INET) {
					memcpy(sa, a, 4);
					memcpy(da, b, 4);
				} else {	/* IPv4-mapped */
					sa[10] = sa[11] = da[10] = da[11] = 0xff;
					memcpy(sa + 12, a, 4);
					memcpy(da + 12, b, 4);
				}
				s.family = AF_INET;
				memcpy(s.saddr, a, 4);
				memcpy(s.daddr, b, 4);
			} else {
				static const uint8_t v6s[][16] = {
					{ [15] = 1 },
					{ 0x20, 0x01, 0x0d, 0xb8, [15] = 5 },
					{ 0xfe, 0x80, [15] = 9 },
					{ 0x20, 0x01, 0x0d, 0xb9, [15] = 5 } };

				memcpy(sa, v6s[rnd() % 4], 16);
				memcpy(da, v6s[rnd() % 4], 16);
				s.family = AF_INET6;
				memcpy(s.saddr, sa, 16);
				memcpy(s.daddr, da, 16);
			}
			for (any = !f.n_lports, i = 0; i < f.n_lports; i++)
				any |= s.sport == f.lports[i];
			want &= any;
			for (any = !f.n_rports, i = 0; i < f.n_rports; i++)
				any |= s.dport == f.rports[i];
			want &= any;
			for (any = !f.n_cidrs, i = 0; i < f.n_cidrs; i++)
				any |= cidr_match(&f.cidrs[i], fam, sa) ||
				       cidr_match(&f.cidrs[i], fam, da);
			want &= any;
			if (len == 0)
				assert_true(want);
			else if (model_run(bc, len, &s, fam, sa, da) != want)
				fail_msg("iteration %d: bytecode disagrees", iter);
		}
	}
}

/*
 * snapshot: the kernel's bytecode sends every socket the selection
 * (filter_tuple, as trace's) takes, so judging what a live dump sent
 * selects what judging a whole recorded dump (--from-raw) selects.
 */
static void test_bc_sends_what_the_selection_takes(void **state)
{
	static const char *const pool[] = {
		"10.0.0.0/8", "10.1.2.3", "192.168.0.0/16", "0.0.0.0/0",
		"::1", "2001:db8::/32", "::ffff:10.1.0.0/112", "::/0",
	};
	static const uint16_t ports[] = { 22, 80, 443, 5000, 8080 };
	int iter, taken = 0;

	(void)state;
	for (iter = 0; iter < 2000; iter++) {
		struct diag_filter f = { 0 };
		struct filter sel;
		uint8_t bc[DIAG_BC_MAX];
		uint8_t family = rnd() % 3 ? 0 : (rnd() % 2 ? AF_INET : AF_INET6);
		int i, len, k;

		f.n_lports = (int)(rnd() % 2);
		f.n_rports = (int)(rnd() % 2);
		f.n_ports = (int)(rnd() % 3);
		f.n_cidrs = (int)(rnd() % 3);
		for (i = 0; i < f.n_lports; i++)
			f.lports[i] = ports[rnd() % 5];
		for (i = 0; i < f.n_rports; i++)
			f.rports[i] = ports[rnd() % 5];
		for (i = 0; i < f.n_ports; i++)
			f.ports[i] = ports[rnd() % 5];
		for (i = 0; i < f.n_cidrs; i++)
			assert_int_equal(cidr_parse(pool[rnd() % 8], &f.cidrs[i]), 0);
		len = diag_bc_compile(&f, bc, sizeof(bc));
		assert_true(len >= 0);
		diag_filter_selection(&f, family, &sel);
		for (k = 0; k < 50; k++) {
			static const uint8_t v4s[][4] = {
				{ 10, 1, 2, 3 }, { 192, 168, 9, 9 },
				{ 127, 0, 0, 1 }, { 8, 8, 8, 8 } };
			static const uint8_t v6s[][16] = {
				{ [15] = 1 }, { 0x20, 0x01, 0x0d, 0xb8, [15] = 5 },
				{ 0xfe, 0x80, [15] = 9 } };
			struct diag_sock s = { 0 };
			struct tuple t = { 0 };
			uint8_t sa[16] = { 0 }, da[16] = { 0 }, fam;
			int kind = (int)(rnd() % 3);

			s.sport = ports[rnd() % 5];
			s.dport = ports[rnd() % 5];
			if (kind < 2) {	/* IPv4: native, or mapped (kernel view) */
				const uint8_t *a = v4s[rnd() % 4], *b = v4s[rnd() % 4];

				fam = kind ? AF_INET6 : AF_INET;
				if (kind) {
					sa[10] = sa[11] = da[10] = da[11] = 0xff;
					memcpy(sa + 12, a, 4);
					memcpy(da + 12, b, 4);
				} else {
					memcpy(sa, a, 4);
					memcpy(da, b, 4);
				}
				s.family = AF_INET;
				memcpy(s.saddr, a, 4);
				memcpy(s.daddr, b, 4);
			} else {
				fam = AF_INET6;
				memcpy(sa, v6s[rnd() % 3], 16);
				memcpy(da, v6s[rnd() % 3], 16);
				s.family = AF_INET6;
				memcpy(s.saddr, sa, 16);
				memcpy(s.daddr, da, 16);
			}
			t.family = s.family;
			t.sport = s.sport;
			t.dport = s.dport;
			memcpy(t.saddr, s.saddr, 16);
			memcpy(t.daddr, s.daddr, 16);
			if (!filter_tuple(&sel, &t))
				continue;
			taken++;
			if (len && !model_run(bc, len, &s, fam, sa, da))
				fail_msg("iteration %d: the kernel would not send a selected socket",
					 iter);
		}
	}
	assert_true(taken > 1000);	/* the test tested something */
}

/* --------------------------------------------------------- formatting */

static void test_format_addr_vs_inet_ntop(void **state)
{
	static const char *const fixed[] = {
		"::", "::1", "1::", "1::1", "2001:db8::1", "fe80::1:0:0:1",
		"1:0:0:1:0:0:0:1", "1:0:1:0:1:0:1:0", "::ffff:1.2.3.4",
		"::1.2.3.4", "1:2:3:4:5:6:7:8", "0:1:0:0:1:0:0:0", "::2:3",
	};
	char want[INET6_ADDRSTRLEN], got[ADDR_STRLEN];
	uint8_t a[16];
	size_t i;
	int iter, j;

	for (i = 0; i < sizeof(fixed) / sizeof(fixed[0]); i++) {
		assert_int_equal(inet_pton(AF_INET6, fixed[i], a), 1);
		inet_ntop(AF_INET6, a, want, sizeof(want));
		assert_int_equal(format_addr(got, AF_INET6, a),
				 (int)strlen(want));
		assert_string_equal(got, want);
	}
	for (iter = 0; iter < 100000; iter++) {
		uint8_t fam = iter % 4 ? AF_INET6 : AF_INET;

		/* words of 0 and small values make runs of zeros likely */
		for (j = 0; j < 16; j += 2) {
			uint32_t r = rnd();

			a[j] = r % 3 ? 0 : (uint8_t)(r >> 8);
			a[j + 1] = r % 5 ? 0 : (uint8_t)(r >> 16);
		}
		inet_ntop(fam, a, want, sizeof(want));
		assert_int_equal(format_addr(got, fam, a),
				 (int)strlen(want));
		assert_string_equal(got, want);
	}
}

/* ------------------------------------------------------------ summary */

static struct diag_sock mk(uint8_t state, uint16_t sport, uint16_t dport,
			   uint8_t last_octet)
{
	struct diag_sock s = { .family = AF_INET, .state = state,
			       .sport = sport, .dport = dport };

	s.daddr[0] = 10;
	s.daddr[3] = last_octet;
	return s;
}

/* One state's top n, out of diag_tally_tops (which does every state). */
static int diag_tally_top(const struct diag_tally *t, unsigned int st,
			  struct diag_tally_entry *out, int n)
{
	struct diag_tally_entry *all = calloc((size_t)(TCPFSM_ST_MAX + 1) *
					      (size_t)n, sizeof(*all));
	int nout[TCPFSM_ST_MAX + 1];

	assert_non_null(all);
	assert_int_equal(diag_tally_tops(t, all, nout, n), 0);
	memcpy(out, all + (size_t)st * (size_t)n, (size_t)nout[st] * sizeof(*out));
	free(all);
	return nout[st];
}

static void test_tally(void **state)
{
	struct diag_tally t;
	struct diag_tally_entry top[3];
	struct diag_sock s;
	int i, n;

	diag_tally_init(&t, DIAG_BY_LPORT);
	for (i = 0; i < 5000; i++) {
		s = mk(TCPFSM_ST_TIME_WAIT, (uint16_t)(1000 + i % 10),
		       (uint16_t)i, 1);
		assert_int_equal(diag_tally_add(&t, &s, NULL), 0);
	}
	/* port 1003 gets 20 more, 1007 gets 10 more */
	for (i = 0; i < 20; i++) {
		s = mk(TCPFSM_ST_TIME_WAIT, 1003, 1, 1);
		diag_tally_add(&t, &s, NULL);
	}
	for (i = 0; i < 10; i++) {
		s = mk(TCPFSM_ST_TIME_WAIT, 1007, 1, 1);
		diag_tally_add(&t, &s, NULL);
	}
	s = mk(TCPFSM_ST_LISTEN, 22, 0, 0);
	diag_tally_add(&t, &s, NULL);
	s = mk(99, 1, 1, 1);	/* out of range: counted apart */
	diag_tally_add(&t, &s, NULL);

	assert_int_equal(t.count[TCPFSM_ST_TIME_WAIT], 5030);
	assert_int_equal(t.count[TCPFSM_ST_LISTEN], 1);
	assert_int_equal(t.count[TCPFSM_ST_MAX], 1);
	assert_int_equal(t.total, 5032);
	n = diag_tally_top(&t, TCPFSM_ST_TIME_WAIT, top, 3);
	assert_int_equal(n, 3);
	assert_int_equal(top[0].port, 1003);
	assert_int_equal(top[0].count, 520);
	assert_int_equal(top[1].port, 1007);
	assert_int_equal(top[1].count, 510);
	assert_int_equal(top[2].port, 1000);	/* ties: smaller port first */
	assert_int_equal(top[2].count, 500);
	n = diag_tally_top(&t, TCPFSM_ST_LISTEN, top, 3);
	assert_int_equal(n, 1);
	assert_int_equal(top[0].port, 22);
	assert_int_equal(diag_tally_top(&t, TCPFSM_ST_CLOSE_WAIT, top, 3), 0);
	diag_tally_free(&t);

	diag_tally_init(&t, DIAG_BY_RADDR);
	for (i = 0; i < 30; i++) {
		s = mk(TCPFSM_ST_ESTABLISHED, 1, 2, (uint8_t)(i % 3 ? 7 : 9));
		diag_tally_add(&t, &s, NULL);
	}
	n = diag_tally_top(&t, TCPFSM_ST_ESTABLISHED, top, 3);
	assert_int_equal(n, 2);
	assert_int_equal(top[0].count, 20);
	assert_int_equal(top[0].addr[3], 7);
	assert_int_equal(top[0].family, AF_INET);
	diag_tally_free(&t);

	diag_tally_init(&t, DIAG_BY_COMM);
	s = mk(TCPFSM_ST_ESTABLISHED, 1, 2, 3);
	diag_tally_add(&t, &s, "nginx");
	diag_tally_add(&t, &s, "nginx");
	diag_tally_add(&t, &s, NULL);
	diag_tally_add(&t, &s, "a-very-long-comm-name-here");
	n = diag_tally_top(&t, TCPFSM_ST_ESTABLISHED, top, 3);
	assert_int_equal(n, 3);
	assert_string_equal(top[0].comm, "nginx");
	assert_string_equal(top[1].comm, "-");
	assert_string_equal(top[2].comm, "a-very-long-com");
	diag_tally_free(&t);
	assert_int_equal(diag_group_parse("lport"), DIAG_BY_LPORT);
	assert_int_equal(diag_group_parse("comm"), DIAG_BY_COMM);
	assert_int_equal(diag_group_parse("pid"), -1);
	/* the names snapshot prints are the ones it parses */
	for (i = DIAG_BY_LPORT; i <= DIAG_BY_COMM; i++)
		assert_int_equal(diag_group_parse(diag_group_name(i)), i);
	assert_string_equal(diag_group_name(DIAG_BY_NONE), "");
}

/*
 * Every state's top n from the one walk equals sorting that state's keys
 * on their own (count down, then key up), for random tallies.
 */
static void test_tally_tops_random(void **state)
{
	enum { N = 4 };
	struct diag_tally_entry tops[(TCPFSM_ST_MAX + 1) * N];
	int nout[TCPFSM_ST_MAX + 1], iter;

	for (iter = 0; iter < 200; iter++) {
		struct diag_tally t;
		unsigned int st;
		int i, socks = (int)(rnd() % 400);

		diag_tally_init(&t, DIAG_BY_LPORT);
		for (i = 0; i < socks; i++) {
			uint32_t r = rnd();
			/* every state, and one out of range (counted apart) */
			unsigned int rs = r % (TCPFSM_ST_MAX + 1);
			struct diag_sock s = mk((uint8_t)(rs == TCPFSM_ST_MAX ?
							  200 : rs),
						(uint16_t)(1 + (r >> 8) % 9), 1, 1);

			assert_int_equal(diag_tally_add(&t, &s, NULL), 0);
		}
		assert_int_equal(diag_tally_tops(&t, tops, nout, N), 0);
		for (st = 0; st <= TCPFSM_ST_MAX; st++) {
			uint64_t cnt[10] = { 0 }, prev_cnt = UINT64_MAX;
			int want = 0, j, prev_port = 0;
			size_t k;

			/* the brute force: this state's count per port */
			for (k = 0; k < t.nslots; k++) {
				const struct diag_tally_entry *e = &t.slots[k];
				unsigned int es = e->state < TCPFSM_ST_MAX ?
					e->state : TCPFSM_ST_MAX;

				if (e->count && es == st)
					cnt[e->port] += e->count;
			}
			for (j = 1; j < 10; j++)
				want += cnt[j] != 0;
			assert_int_equal(nout[st], want < N ? want : N);
			for (j = 0; j < nout[st]; j++) {
				const struct diag_tally_entry *e = &tops[st * N + j];
				int q;

				assert_true(e->count == cnt[e->port]);
				assert_true(e->count < prev_cnt ||
					    (e->count == prev_cnt &&
					     e->port > prev_port));
				/* nothing left out ranks before it */
				for (q = 1; q < 10; q++) {
					int m;
					bool listed = false;

					for (m = 0; m < nout[st]; m++)
						listed |= tops[st * N + m].port == q;
					if (!listed)
						assert_true(cnt[q] < e->count ||
							    (cnt[q] == e->count &&
							     q > e->port));
				}
				prev_cnt = e->count;
				prev_port = e->port;
			}
		}
		diag_tally_free(&t);
	}
	(void)state;
}

/* ------------------------------------- socket-local storage (serve's) */

/*
 * tcpfsm serve asks for its socket-storage map's values (as `ss --bpf-maps`
 * does): the request carries the map fd, the parser picks the value of
 * the map id asked for among those a socket reports.
 */
static char stg_buf[4096];
static size_t stg_len;

static void *stg_put(const void *p, size_t n)
{
	void *at = stg_buf + stg_len;

	memcpy(at, p, n);
	stg_len += NLMSG_ALIGN(n);
	return at;
}

static struct nlattr *stg_attr_begin(uint16_t type)
{
	struct nlattr a = { .nla_type = type };

	return stg_put(&a, NLA_HDRLEN);
}

static void stg_attr_end(struct nlattr *a)
{
	a->nla_len = (uint16_t)(stg_buf + stg_len - (char *)a);
}

static void stg_attr(uint16_t type, const void *p, size_t n)
{
	struct nlattr *a = stg_attr_begin(type);

	stg_put(p, n);
	a->nla_len = (uint16_t)(NLA_HDRLEN + n);
}

/*
 * One socket message; storages: (map id, value) pairs; a NULL vals[i]
 * sends that map's id without a value.
 */
static void stg_sock_msg(uint8_t state, uint16_t sport, int n,
			 const uint32_t *ids,
			 const struct tcpfsm_serve_sk *const *vals)
{
	struct nlmsghdr h = { .nlmsg_type = SOCK_DIAG_BY_FAMILY }, *hp;
	struct inet_diag_msg m = { .idiag_family = AF_INET,
				   .idiag_state = state, .idiag_inode = 42 };
	struct nlattr *all, *one;
	int i;

	m.id.idiag_sport = htons(sport);
	hp = stg_put(&h, sizeof(h));
	stg_put(&m, sizeof(m));
	if (n) {
		all = stg_attr_begin(INET_DIAG_SK_BPF_STORAGES | NLA_F_NESTED);
		for (i = 0; i < n; i++) {
			one = stg_attr_begin(SK_DIAG_BPF_STORAGE | NLA_F_NESTED);
			stg_attr(SK_DIAG_BPF_STORAGE_MAP_ID, &ids[i], 4);
			if (vals[i])
				stg_attr(SK_DIAG_BPF_STORAGE_MAP_VALUE, vals[i],
					 sizeof(*vals[i]));
			stg_attr_end(one);
		}
		stg_attr_end(all);
	}
	hp->nlmsg_len = (uint32_t)(stg_buf + stg_len - (char *)hp);
}

static void stg_done_msg(void)
{
	struct nlmsghdr h = { .nlmsg_len = NLMSG_LENGTH(4),
			      .nlmsg_type = NLMSG_DONE };
	int zero = 0;

	stg_put(&h, sizeof(h));
	stg_put(&zero, 4);
}

static struct diag_sock stg_got[8];
static int stg_ngot;

static int stg_cb(void *ctx, const struct diag_sock *s)
{
	(void)ctx;
	if (stg_ngot < 8)
		stg_got[stg_ngot] = *s;
	stg_ngot++;
	return 0;
}

/* Parse stg_buf[0..n) for map_id, from a fresh state. */
static int stg_parse(const void *buf, size_t n, uint32_t map_id, bool *done)
{
	struct diag_parse_state st = { .map_id = map_id };
	int ret;

	stg_ngot = 0;
	memset(stg_got, 0, sizeof(stg_got));
	ret = diag_parse(buf, n, stg_cb, NULL, &st);
	*done = st.done;
	return ret;
}

/* The value of got[i], which must be there. */
static struct tcpfsm_serve_sk stg_value(int i)
{
	struct tcpfsm_serve_sk v;

	assert_non_null(stg_got[i].storage);
	assert_int_equal(stg_got[i].storage_len, sizeof(v));
	memcpy(&v, stg_got[i].storage, sizeof(v));
	return v;
}

static void test_storage_finds_ours(void **state)
{
	struct tcpfsm_serve_sk v[2] = { { .since_ns = 111, .state = 8 },
					{ .since_ns = 222, .state = 1 } };
	const struct tcpfsm_serve_sk *vals[2] = { &v[0], &v[1] };
	const struct tcpfsm_serve_sk *no_value[1] = { NULL };
	uint32_t ids[2] = { 9, 7 };
	bool done = false;

	(void)state;
	stg_len = 0;
	stg_sock_msg(8, 7001, 2, ids, vals); /* another map's first, then ours */
	stg_sock_msg(6, 7002, 0, NULL, NULL); /* none reported */
	stg_sock_msg(1, 7003, 1, &ids[1], no_value); /* our id, no value */
	stg_done_msg();
	assert_int_equal(stg_parse(stg_buf, stg_len, 7, &done), 0);
	assert_true(done);
	assert_int_equal(stg_ngot, 3);
	assert_int_equal(stg_value(0).since_ns, 222);
	assert_int_equal(stg_value(0).state, 1);
	assert_int_equal(stg_got[0].sport, 7001);
	assert_int_equal(stg_got[0].state, 8);
	assert_int_equal(stg_got[0].inode, 42);
	assert_null(stg_got[1].storage);
	assert_int_equal(stg_got[1].storage_len, 0);
	assert_int_equal(stg_got[1].state, 6);
	assert_null(stg_got[2].storage);
	/* the other map, asked for */
	assert_int_equal(stg_parse(stg_buf, stg_len, 9, &done), 0);
	assert_int_equal(stg_value(0).since_ns, 111);
	/* no map of ours: nothing taken */
	done = false;
	assert_int_equal(stg_parse(stg_buf, stg_len, 5, &done), 0);
	assert_true(done);
	assert_int_equal(stg_ngot, 3);
	assert_null(stg_got[0].storage);
	assert_int_equal(stg_got[0].storage_len, 0);
	/* not asked (map_id 0, every other caller): skipped as before */
	assert_int_equal(stg_parse(stg_buf, stg_len, 0, &done), 0);
	assert_int_equal(stg_ngot, 3);
	assert_null(stg_got[0].storage);
	assert_int_equal(stg_got[0].sport, 7001);
}

static void test_storage_truncated_and_errors(void **state)
{
	struct tcpfsm_serve_sk v = { .since_ns = 1 };
	const struct tcpfsm_serve_sk *vals[1] = { &v };
	uint32_t id = 7;
	bool done = false;
	size_t full, cut;
	struct nlattr *outer, *inner;
	struct {
		struct nlmsghdr h;
		struct nlmsgerr e;
	} err = { { sizeof(err), NLMSG_ERROR, 0, 0, 0 }, { -EPERM, { 0 } } };

	(void)state;
	stg_len = 0;
	stg_sock_msg(1, 80, 1, &id, vals);
	full = stg_len;
	/* every cut inside the message: an error or fewer bytes read, never
	 * a read past the end (ASan) */
	for (cut = 1; cut < full; cut++) {
		char *copy = malloc(cut);
		int ret;

		assert_non_null(copy);
		memcpy(copy, stg_buf, cut);
		ret = stg_parse(copy, cut, 7, &done);
		assert_true(ret == 0 || ret == -EBADMSG);
		free(copy);
	}
	outer = (struct nlattr *)(stg_buf +
				  NLMSG_LENGTH(sizeof(struct inet_diag_msg)));
	inner = outer + 1;
	/* a storage claiming more than its nest: malformed, as any attribute */
	inner->nla_len = 4000;
	assert_int_equal(stg_parse(stg_buf, full, 7, &done), -EBADMSG);
	assert_int_equal(stg_ngot, 0);
	/* ... but not looked into when not asked for */
	assert_int_equal(stg_parse(stg_buf, full, 0, &done), 0);
	assert_int_equal(stg_ngot, 1);
	assert_null(stg_got[0].storage);
	/* an attribute claiming more than its message: -EBADMSG, no socket
	 * (serve's own parser took the socket without its storage) */
	outer->nla_len = 4000;
	assert_int_equal(stg_parse(stg_buf, full, 7, &done), -EBADMSG);
	assert_int_equal(stg_ngot, 0);
	done = false;
	assert_int_equal(stg_parse(&err, sizeof(err), 7, &done), -EPERM);
	assert_true(done);
}

static void test_storage_request(void **state)
{
	char req[256];
	const struct nlmsghdr *h = (const void *)req;
	const struct inet_diag_req_v2 *r = NLMSG_DATA(h);
	const struct nlattr *a;
	uint8_t bc[8] = { 1, 2, 3, 4, 5, 6, 7, 8 };
	char plain[256];
	int n;

	(void)state;
	n = diag_build_request_map(req, sizeof(req), AF_INET6, 1u << 10, NULL, 0,
				   5, 3);
	assert_true(n > 0);
	assert_int_equal(h->nlmsg_len, n);
	assert_int_equal(r->sdiag_family, AF_INET6);
	assert_int_equal(r->idiag_states, 1u << 10);
	assert_int_equal(h->nlmsg_seq, 3);
	a = (const void *)(req + NLMSG_ALIGN(NLMSG_LENGTH(sizeof(*r))));
	assert_int_equal(a->nla_type & NLA_TYPE_MASK,
			 INET_DIAG_REQ_SK_BPF_STORAGES);
	assert_true(a->nla_type & NLA_F_NESTED);
	assert_int_equal(a->nla_len, 2 * NLA_HDRLEN + 4);
	a++;
	assert_int_equal(a->nla_type, SK_DIAG_BPF_STORAGE_REQ_MAP_FD);
	assert_int_equal(a->nla_len, NLA_HDRLEN + 4);
	assert_int_equal(*(const uint32_t *)(a + 1), 5);
	assert_int_equal(n, NLMSG_SPACE(sizeof(*r)) + 2 * NLA_HDRLEN + 4);
	/* no map: no attribute, the bytes of diag_build_request() */
	n = diag_build_request_map(req, sizeof(req), AF_INET, 1, NULL, 0, -1, 1);
	assert_int_equal(n, NLMSG_LENGTH(sizeof(*r)));
	assert_int_equal(diag_build_request(plain, sizeof(plain), AF_INET, 1,
					    NULL, 0, 1), n);
	assert_memory_equal(req, plain, (size_t)n);
	assert_int_equal(diag_build_request_map(req, 10, AF_INET, 1, NULL, 0, 5,
						1),
			 -ENOSPC);
	/* room for the bytecode but not the storage request */
	assert_int_equal(diag_build_request_map(req, NLMSG_SPACE(sizeof(*r)) +
						NLA_HDRLEN + 8, AF_INET, 1, bc,
						sizeof(bc), 5, 1),
			 -ENOSPC);
	/* both families, with bytecode: the storage request after it */
	{
		struct inet_diag_req old;
		size_t at = NLMSG_SPACE(sizeof(old)) + NLA_HDRLEN + 8;

		n = diag_build_request_map(req, sizeof(req), AF_UNSPEC, 0x440,
					   bc, sizeof(bc), 6, 2);
		assert_int_equal(n, at + 2 * NLA_HDRLEN + 4);
		assert_int_equal(h->nlmsg_type, TCPDIAG_GETSOCK);
		a = (const void *)(req + NLMSG_SPACE(sizeof(old)));
		assert_int_equal(a->nla_type, INET_DIAG_REQ_BYTECODE);
		assert_memory_equal(a + 1, bc, sizeof(bc));
		a = (const void *)(req + at);
		assert_int_equal(a->nla_type & NLA_TYPE_MASK,
				 INET_DIAG_REQ_SK_BPF_STORAGES);
		assert_int_equal(*(const uint32_t *)((const char *)a +
						     2 * NLA_HDRLEN), 6);
	}
}

/* Asking for storage changes nothing else: the fixtures parse the same. */
static void test_storage_fixture_unchanged(void **state)
{
	struct collected a = { 0 }, b = { 0 };
	struct diag_parse_state sa = { 0 }, sb = { .map_id = 7 };
	size_t len, i;
	uint8_t *buf = read_file("small.bin", &len);

	(void)state;
	diag_parse(buf, len, collect, &a, &sa);
	diag_parse(buf, len, collect, &b, &sb);
	assert_int_equal(sa.nsocks, sb.nsocks);
	assert_int_equal(sa.consumed, sb.consumed);
	assert_int_equal(a.n, b.n);
	assert_true(a.n > 0);
	for (i = 0; i < a.n; i++) {
		assert_null(b.v[i].storage);
		assert_memory_equal(&a.v[i], &b.v[i], sizeof(a.v[i]));
	}
	free(a.v);
	free(b.v);
	free(buf);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_fixture_small),
		cmocka_unit_test(test_fixture_tw1000),
		cmocka_unit_test(test_fixture_small_both),
		cmocka_unit_test(test_fixture_tw1000_both),
		cmocka_unit_test(test_fixture_v4mapped),
		cmocka_unit_test(test_split_buffers),
		cmocka_unit_test_prestate(test_split_buffers, "tw1000-both.bin"),
		cmocka_unit_test(test_every_truncation),
		cmocka_unit_test_prestate(test_every_truncation, "small-both.bin"),
		cmocka_unit_test(test_callback_stops),
		cmocka_unit_test(test_dump_intr_flagged),
		cmocka_unit_test(test_fields_and_attrs),
		cmocka_unit_test(test_last_attr_unpadded),
		cmocka_unit_test(test_truncated_attrs),
		cmocka_unit_test(test_truncated_headers),
		cmocka_unit_test(test_nlmsg_error),
		cmocka_unit_test(test_parse_dumps_keeps_what_live_kept),
		cmocka_unit_test(test_parse_dumps_errors),
		cmocka_unit_test(test_parse_dumps_cut_short),
		cmocka_unit_test(test_seq_filter_and_noop),
		cmocka_unit_test(test_unknown_family_skipped),
		cmocka_unit_test(test_build_request),
		cmocka_unit_test(test_bc_ports_ops),
		cmocka_unit_test(test_bc_cidr_ops),
		cmocka_unit_test(test_bc_empty_and_limits),
		cmocka_unit_test(test_bc_semantics_random),
		cmocka_unit_test(test_bc_sends_what_the_selection_takes),
		cmocka_unit_test(test_format_addr_vs_inet_ntop),
		cmocka_unit_test(test_tally),
		cmocka_unit_test(test_tally_tops_random),
		cmocka_unit_test(test_storage_finds_ours),
		cmocka_unit_test(test_storage_truncated_and_errors),
		cmocka_unit_test(test_storage_request),
		cmocka_unit_test(test_storage_fixture_unchanged),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
