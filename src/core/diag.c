// SPDX-License-Identifier: GPL-2.0 OR BSD-2-Clause
/*
 * sock_diag client: request and bytecode builders, the reply parser and
 * recorded dumps (the dump loop is in diag_dump.c, the summary tally in
 * diag_tally.c). See diag.h. (Addresses are formatted
 * by event.c's format_addr.)
 */
#include <arpa/inet.h>
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <sys/socket.h>
#include <linux/inet_diag.h>
#include <linux/netlink.h>
#include <linux/sock_diag.h>
#include "diag.h"
#include "diag_impl.h"
#include "event.h"
#include "u64map.h"

_Static_assert(sizeof(struct diag_sock) == 96, "struct diag_sock layout");

const char *diag_timer_name(unsigned int timer)
{
	static const char *const names[] = {
		[DIAG_TIMER_NONE] = "off",
		[DIAG_TIMER_ON] = "on",
		[DIAG_TIMER_KEEPALIVE] = "keepalive",
		[DIAG_TIMER_TIMEWAIT] = "timewait",
		[DIAG_TIMER_PROBE] = "persist",
	};

	return timer < sizeof(names) / sizeof(names[0]) ? names[timer] :
							  "unknown";
}

/* ------------------------------------------------------------ bytecode */

/*
 * The kernel runs the ops from the start: a true test continues with the
 * next op (offset + yes, yes is the op's own length), a false one jumps
 * forward by no. Running off the end exactly accepts the socket; jumping
 * to end + 4 rejects it. JMP is always "false". So "t1 or t2 or t3" is
 *	t1 (no: t2)  JMP (to group end)  t2 (no: t3)  JMP (to end)  t3 (no: reject)
 * and "A and B" is A followed by B, every reject pointing at end + 4.
 */

struct bc_test {
	uint8_t code;		/* INET_DIAG_BC_S_EQ, _D_EQ, _S_COND, _D_COND */
	uint16_t port;
	const struct cidr *cidr;
};

static size_t bc_test_len(const struct bc_test *t)
{
	if (t->code == INET_DIAG_BC_S_EQ || t->code == INET_DIAG_BC_D_EQ)
		return 2 * sizeof(struct inet_diag_bc_op);
	return sizeof(struct inet_diag_bc_op) +
	       sizeof(struct inet_diag_hostcond) +
	       (t->cidr->family == AF_INET6 ? 16 : 4);
}

static size_t bc_group_len(const struct bc_test *t, int n)
{
	size_t len = 0;
	int i;

	for (i = 0; i < n; i++)
		len += bc_test_len(&t[i]);
	return n ? len + 4 * (size_t)(n - 1) : 0;
}

static void bc_put_op(uint8_t *p, uint8_t code, uint8_t yes, uint16_t no)
{
	struct inet_diag_bc_op op = { .code = code, .yes = yes, .no = no };

	memcpy(p, &op, sizeof(op));
}

/* Emit one disjunction at off; total is the whole program's length. */
static size_t bc_emit_group(uint8_t *buf, size_t off, const struct bc_test *t,
			    int n, size_t total)
{
	size_t end = off + bc_group_len(t, n);
	int i;

	for (i = 0; i < n; i++) {
		size_t len = bc_test_len(&t[i]);
		bool last = i == n - 1;
		uint16_t no = (uint16_t)(last ? total + 4 - off : len + 4);

		bc_put_op(buf + off, t[i].code, (uint8_t)len, no);
		if (t[i].code == INET_DIAG_BC_S_EQ ||
		    t[i].code == INET_DIAG_BC_D_EQ) {
			bc_put_op(buf + off + 4, 0, 0, t[i].port);
		} else {
			struct inet_diag_hostcond hc = {
				.family = t[i].cidr->family,
				.prefix_len = t[i].cidr->prefix,
				.port = -1,
			};

			memcpy(buf + off + 4, &hc, sizeof(hc));
			memcpy(buf + off + 4 + sizeof(hc), t[i].cidr->addr,
			       len - 4 - sizeof(hc));
		}
		off += len;
		if (!last) {
			bc_put_op(buf + off, INET_DIAG_BC_JMP, 4,
				  (uint16_t)(end - off));
			off += 4;
		}
	}
	return off;
}

void diag_filter_selection(const struct diag_filter *f, uint8_t family,
			   struct filter *out)
{
	int i;

	memset(out, 0, sizeof(*out));
	out->family = family;
	out->n_lports = f->n_lports < TCPFSM_MAX_PORTS ? f->n_lports : TCPFSM_MAX_PORTS;
	out->n_rports = f->n_rports < TCPFSM_MAX_PORTS ? f->n_rports : TCPFSM_MAX_PORTS;
	out->n_ports = f->n_ports < TCPFSM_MAX_PORTS ? f->n_ports : TCPFSM_MAX_PORTS;
	out->n_addrs = f->n_cidrs < FILTER_MAX_ADDRS ? f->n_cidrs : FILTER_MAX_ADDRS;
	for (i = 0; i < out->n_lports; i++)
		out->lports[i] = f->lports[i];
	for (i = 0; i < out->n_rports; i++)
		out->rports[i] = f->rports[i];
	for (i = 0; i < out->n_ports; i++)
		out->ports[i] = f->ports[i];
	for (i = 0; i < out->n_addrs; i++)
		out->addrs[i] = f->cidrs[i];
}

int diag_bc_compile(const struct diag_filter *f, void *out, size_t outlen)
{
	struct bc_test lp[DIAG_MAX_PORTS], rp[DIAG_MAX_PORTS];
	struct bc_test ep[2 * DIAG_MAX_PORTS];
	struct bc_test ad[2 * DIAG_MAX_CIDRS];
	size_t total, off = 0;
	int i, na = 0;

	if (!f)
		return 0;
	if (f->n_lports < 0 || f->n_lports > DIAG_MAX_PORTS ||
	    f->n_rports < 0 || f->n_rports > DIAG_MAX_PORTS ||
	    f->n_ports < 0 || f->n_ports > DIAG_MAX_PORTS ||
	    f->n_cidrs < 0 || f->n_cidrs > DIAG_MAX_CIDRS)
		return -EINVAL;
	for (i = 0; i < f->n_ports; i++) {	/* either end: one disjunction */
		ep[2 * i] = (struct bc_test){ INET_DIAG_BC_S_EQ, f->ports[i], NULL };
		ep[2 * i + 1] = (struct bc_test){ INET_DIAG_BC_D_EQ, f->ports[i], NULL };
	}
	for (i = 0; i < f->n_lports; i++)
		lp[i] = (struct bc_test){ INET_DIAG_BC_S_EQ, f->lports[i], NULL };
	for (i = 0; i < f->n_rports; i++)
		rp[i] = (struct bc_test){ INET_DIAG_BC_D_EQ, f->rports[i], NULL };
	for (i = 0; i < f->n_cidrs; i++) {
		const struct cidr *c = &f->cidrs[i];

		if ((c->family != AF_INET && c->family != AF_INET6) ||
		    c->prefix > (c->family == AF_INET ? 32 : 128))
			return -EINVAL;
		ad[na++] = (struct bc_test){ INET_DIAG_BC_S_COND, 0, c };
		ad[na++] = (struct bc_test){ INET_DIAG_BC_D_COND, 0, c };
	}
	total = bc_group_len(lp, f->n_lports) + bc_group_len(rp, f->n_rports) +
		bc_group_len(ep, 2 * f->n_ports) + bc_group_len(ad, na);
	if (total == 0)
		return 0;
	if (total > outlen || total + 4 > UINT16_MAX)
		return -ENOSPC;
	off = bc_emit_group(out, off, lp, f->n_lports, total);
	off = bc_emit_group(out, off, rp, f->n_rports, total);
	off = bc_emit_group(out, off, ep, 2 * f->n_ports, total);
	off = bc_emit_group(out, off, ad, na, total);
	return (int)off;
}

/* ------------------------------------------------------------- request */


static void put_storage_req(uint8_t *p, int map_fd)
{
	struct nlattr nest = {
		.nla_len = STORAGE_REQ_LEN,
		.nla_type = INET_DIAG_REQ_SK_BPF_STORAGES | NLA_F_NESTED,
	};
	struct nlattr fd = {
		.nla_len = NLA_HDRLEN + sizeof(uint32_t),
		.nla_type = SK_DIAG_BPF_STORAGE_REQ_MAP_FD,
	};
	uint32_t v = (uint32_t)map_fd;

	memcpy(p, &nest, sizeof(nest));
	memcpy(p + NLA_HDRLEN, &fd, sizeof(fd));
	memcpy(p + 2 * NLA_HDRLEN, &v, sizeof(v));
}

/*
 * One dump request: header, the request struct, the bytecode attribute,
 * the storage request (map_fd >= 0).
 */
static int put_request(void *buf, size_t len, uint16_t type, const void *req,
		       size_t req_len, const void *bc, size_t bc_len,
		       int map_fd, uint32_t seq)
{
	struct nlmsghdr nlh = { 0 };
	size_t body = NLMSG_SPACE(req_len), need = body, stg;

	if (bc_len)
		need += NLA_ALIGN(NLA_HDRLEN + bc_len);
	stg = need;
	if (map_fd >= 0)
		need += NLA_ALIGN(STORAGE_REQ_LEN);
	if (need > len || NLA_HDRLEN + bc_len > UINT16_MAX)
		return -ENOSPC;
	memset(buf, 0, need);
	nlh.nlmsg_len = (uint32_t)need;
	nlh.nlmsg_type = type;
	nlh.nlmsg_flags = NLM_F_REQUEST | NLM_F_DUMP;
	nlh.nlmsg_seq = seq;
	memcpy(buf, &nlh, sizeof(nlh));
	memcpy((uint8_t *)buf + NLMSG_HDRLEN, req, req_len);
	if (bc_len) {
		struct nlattr nla = {
			.nla_len = (uint16_t)(NLA_HDRLEN + bc_len),
			.nla_type = INET_DIAG_REQ_BYTECODE,
		};
		uint8_t *p = (uint8_t *)buf + body;

		memcpy(p, &nla, sizeof(nla));
		memcpy(p + NLA_HDRLEN, bc, bc_len);
	}
	if (map_fd >= 0)
		put_storage_req((uint8_t *)buf + stg, map_fd);
	return (int)need;
}

int diag_build_request(void *buf, size_t len, uint8_t family, uint32_t states,
		       const void *bc, size_t bc_len, uint32_t seq)
{
	return diag_build_request_map(buf, len, family, states, bc, bc_len, -1,
				      seq);
}

int diag_build_request_map(void *buf, size_t len, uint8_t family,
			   uint32_t states, const void *bc, size_t bc_len,
			   int map_fd, uint32_t seq)
{
	/*
	 * Both families in one request: the original TCPDIAG_GETSOCK message
	 * with struct inet_diag_req, which the kernel still serves (ss uses it
	 * too). It dumps with family AF_UNSPEC, so the socket tables are walked
	 * once rather than once per family, and the walk, not the copying, is
	 * most of the kernel's cost when most sockets are of one family.
	 */
	if (family == AF_UNSPEC) {
		struct inet_diag_req req = { 0 };

		req.idiag_family = AF_INET;	/* not used by dumps */
		req.idiag_states = states;
		req.id.idiag_cookie[0] = INET_DIAG_NOCOOKIE;
		req.id.idiag_cookie[1] = INET_DIAG_NOCOOKIE;
		return put_request(buf, len, TCPDIAG_GETSOCK, &req, sizeof(req),
				   bc, bc_len, map_fd, seq);
	}
	if (family == AF_INET || family == AF_INET6) {
		struct inet_diag_req_v2 req = { 0 };

		req.sdiag_family = family;
		req.sdiag_protocol = IPPROTO_TCP;
		req.idiag_states = states;
		req.id.idiag_cookie[0] = INET_DIAG_NOCOOKIE;
		req.id.idiag_cookie[1] = INET_DIAG_NOCOOKIE;
		return put_request(buf, len, SOCK_DIAG_BY_FAMILY, &req, sizeof(req),
				   bc, bc_len, map_fd, seq);
	}
	return -EINVAL;
}

/* -------------------------------------------------------------- parser */

/* An AF_INET6 socket whose addresses are IPv4-mapped (or unspecified). */
void diag_unmap_v4(struct diag_sock *s)
{
	if (!is_v4_pair(s->saddr, s->daddr))
		return;
	memmove(s->saddr, s->saddr + 12, 4);
	memset(s->saddr + 4, 0, 12);
	memmove(s->daddr, s->daddr + 12, 4);
	memset(s->daddr + 4, 0, 12);
	s->family = AF_INET;
	s->flags |= DIAG_SF_V4MAPPED;
}

/*
 * Walk the attributes in p (len bytes), strictly: each one whole, the last
 * one maybe without its padding. Calls fn for each; its non-zero return
 * stops the walk and is returned. Returns 0 or -EBADMSG.
 */
static int walk_attrs(const uint8_t *p, size_t len,
		      int (*fn)(void *ctx, uint16_t type, const uint8_t *data,
				size_t alen),
		      void *ctx)
{
	while (len > 0) {
		struct nlattr nla;
		int ret;

		if (len < NLA_HDRLEN)
			return -EBADMSG;
		memcpy(&nla, p, sizeof(nla));
		if (nla.nla_len < NLA_HDRLEN || nla.nla_len > len)
			return -EBADMSG;
		ret = fn(ctx, nla.nla_type & NLA_TYPE_MASK, p + NLA_HDRLEN,
			 nla.nla_len - NLA_HDRLEN);
		if (ret)
			return ret;
		/* the last attribute may come without its padding */
		if ((size_t)NLA_ALIGN(nla.nla_len) >= len)
			break;
		p += NLA_ALIGN(nla.nla_len);
		len -= (size_t)NLA_ALIGN(nla.nla_len);
	}
	return 0;
}

/* One SK_DIAG_BPF_STORAGE: { MAP_ID, MAP_VALUE } */
struct storage_one {
	bool has_id;
	uint32_t id;
	const uint8_t *value;
	size_t value_len;
};

static int storage_field(void *ctx, uint16_t type, const uint8_t *data,
			 size_t alen)
{
	struct storage_one *o = ctx;

	switch (type) {
	case SK_DIAG_BPF_STORAGE_MAP_ID:
		if (alen < sizeof(o->id))
			return -EBADMSG;
		memcpy(&o->id, data, sizeof(o->id));
		o->has_id = true;
		break;
	case SK_DIAG_BPF_STORAGE_MAP_VALUE:
		o->value = data;
		o->value_len = alen;
		break;
	default:
		break;
	}
	return 0;
}

struct storage_pick {
	uint32_t map_id;
	struct diag_sock *s;
};

/* INET_DIAG_SK_BPF_STORAGES: { SK_DIAG_BPF_STORAGE ... }, one per map */
static int storage_of_map(void *ctx, uint16_t type, const uint8_t *data,
			  size_t alen)
{
	struct storage_pick *pick = ctx;
	struct storage_one o = { 0 };
	int ret;

	if (type != SK_DIAG_BPF_STORAGE)
		return 0;
	ret = walk_attrs(data, alen, storage_field, &o);
	if (ret)
		return ret;
	if (o.has_id && o.id == pick->map_id && o.value &&
	    o.value_len <= UINT32_MAX) {
		pick->s->storage = o.value;
		pick->s->storage_len = (uint32_t)o.value_len;
	}
	return 0;
}

static int parse_attrs(const uint8_t *p, size_t len, uint32_t map_id,
		       struct diag_sock *s)
{
	/* inline rather than walk_attrs(): this runs for every socket */
	while (len > 0) {
		struct nlattr nla;
		size_t alen;

		if (len < NLA_HDRLEN)
			return -EBADMSG;
		memcpy(&nla, p, sizeof(nla));
		if (nla.nla_len < NLA_HDRLEN || nla.nla_len > len)
			return -EBADMSG;
		alen = nla.nla_len - NLA_HDRLEN;
		switch (nla.nla_type & NLA_TYPE_MASK) {
		case INET_DIAG_CGROUP_ID:
			if (alen < sizeof(uint64_t))
				return -EBADMSG;
			memcpy(&s->cgroup_id, p + NLA_HDRLEN,
			       sizeof(s->cgroup_id));
			break;
		case INET_DIAG_SK_BPF_STORAGES:
			if (map_id) {
				struct storage_pick pick = { map_id, s };
				int ret = walk_attrs(p + NLA_HDRLEN, alen,
						     storage_of_map, &pick);

				if (ret)
					return ret;
			}
			break;
		default:	/* not asked for, or newer than us: skip */
			break;
		}
		/* the last attribute may come without its padding */
		if ((size_t)NLA_ALIGN(nla.nla_len) >= len)
			break;
		p += NLA_ALIGN(nla.nla_len);
		len -= (size_t)NLA_ALIGN(nla.nla_len);
	}
	return 0;
}

static int parse_sock(const uint8_t *p, size_t len, uint32_t map_id,
		      struct diag_sock *s)
{
	struct inet_diag_msg m;

	if (len < sizeof(m))
		return -EBADMSG;
	memcpy(&m, p, sizeof(m));
	memset(s, 0, sizeof(*s));
	s->family = m.idiag_family;
	s->state = m.idiag_state;
	s->timer = m.idiag_timer;
	s->retrans = m.idiag_retrans;
	s->sport = ntohs(m.id.idiag_sport);
	s->dport = ntohs(m.id.idiag_dport);
	s->ifindex = m.id.idiag_if;
	s->cookie = (uint64_t)m.id.idiag_cookie[0] |
		    (uint64_t)m.id.idiag_cookie[1] << 32;
	s->expires_ms = m.idiag_expires;
	s->rqueue = m.idiag_rqueue;
	s->wqueue = m.idiag_wqueue;
	s->uid = m.idiag_uid;
	s->inode = m.idiag_inode;
	if (s->family == AF_INET) {
		memcpy(s->saddr, m.id.idiag_src, 4);
		memcpy(s->daddr, m.id.idiag_dst, 4);
	} else {
		memcpy(s->saddr, m.id.idiag_src, 16);
		memcpy(s->daddr, m.id.idiag_dst, 16);
		diag_unmap_v4(s);
	}
	return parse_attrs(p + NLMSG_ALIGN(sizeof(m)),
			   len > NLMSG_ALIGN(sizeof(m)) ?
				   len - NLMSG_ALIGN(sizeof(m)) : 0,
			   map_id, s);
}

/* NLMSG_ERROR carries struct nlmsgerr; NLMSG_DONE of a dump may carry an int. */
static int kernel_error(int err)
{
	if (err > 0 || err < -4095)
		return -EBADMSG;
	return err;
}

int diag_parse(const void *buf, size_t len, diag_sock_cb cb, void *ctx,
	       struct diag_parse_state *st)
{
	const uint8_t *p = buf;
	size_t off = 0;

	while (off < len) {
		struct nlmsghdr h;
		const uint8_t *pl;
		size_t plen, next;
		int err;

		if (len - off < sizeof(h))
			return -EBADMSG;
		memcpy(&h, p + off, sizeof(h));
		if (h.nlmsg_len < NLMSG_HDRLEN || h.nlmsg_len > len - off)
			return -EBADMSG;
		pl = p + off + NLMSG_HDRLEN;
		plen = h.nlmsg_len - NLMSG_HDRLEN;
		next = NLMSG_ALIGN(h.nlmsg_len);
		off = next < len - off ? off + next : len;

		if (st->seq && h.nlmsg_seq != st->seq) {
			st->skipped++;
			continue;
		}
		if (h.nlmsg_flags & NLM_F_DUMP_INTR)
			st->intr = true;
		switch (h.nlmsg_type) {
		case NLMSG_NOOP:
			continue;
		case NLMSG_DONE:
			st->done = true;
			st->consumed = off;
			if (plen >= sizeof(int)) {
				memcpy(&err, pl, sizeof(err));
				if (err < 0) {
					st->error = kernel_error(err);
					return st->error;
				}
			}
			return 0;
		case NLMSG_ERROR: {
			struct nlmsgerr e;

			if (plen < sizeof(e.error))
				return -EBADMSG;
			memcpy(&e.error, pl, sizeof(e.error));
			if (e.error == 0)	/* an ACK */
				continue;
			st->done = true;
			st->consumed = off;
			st->error = kernel_error(e.error);
			return st->error;
		}
		case SOCK_DIAG_BY_FAMILY:
		case TCPDIAG_GETSOCK: {	/* the answer to a both-families dump */
			struct diag_sock s;
			int ret = parse_sock(pl, plen, st->map_id, &s);

			if (ret)
				return ret;
			if (s.family != AF_INET && s.family != AF_INET6) {
				st->skipped++;
				continue;
			}
			st->nsocks++;
			if (cb) {
				ret = cb(ctx, &s);
				if (ret) {
					st->consumed = off;
					return ret;
				}
			}
			continue;
		}
		default:
			st->skipped++;
			continue;
		}
	}
	st->consumed = off;
	return 0;
}

/* ------------------------------------------------------ recorded dumps */

/* One dump in a recorded buffer, as the first pass finds it. */
struct dump_span {
	size_t off, len;
	uint32_t seq;
	int error;		/* the kernel's, from NLMSG_ERROR/DONE */
	bool intr;
	bool keep;
	uint64_t nsocks;
};

/*
 * The kernel refused the both-families request (a dump that ended with
 * err, having delivered nsocks): diag_dump() then asks per family, and
 * diag_parse_dumps() finds the per-family dumps after the refusal.
 */
bool diag_refused_both(int err, uint64_t nsocks)
{
	return (err == -EOPNOTSUPP || err == -EINVAL) && !nsocks;
}

/*
 * Mark which dumps of the run d[0..n) a live diag_dump() kept: the
 * attempts it did not repeat. Returns 0 or the kernel's error that ended
 * the run.
 */
static int pick_attempts(struct dump_span *d, size_t n,
			 struct diag_dump_info *info)
{
	size_t a, end, k;

	for (a = 0; a < n; a = end) {
		bool per_family = diag_refused_both(d[a].error, d[a].nsocks) &&
				  a + 1 < n;
		bool intr = false;

		end = a + 1;
		if (per_family)	/* the refusal, then the per-family dumps */
			while (end < n &&
			       !diag_refused_both(d[end].error, d[end].nsocks))
				end++;
		for (k = per_family ? a + 1 : a; k < end; k++) {
			if (d[k].error)
				return d[k].error;
			intr |= d[k].intr;
		}
		if (intr && end < n) {	/* inconsistent, and repeated */
			info->intr_retries++;
			continue;
		}
		info->intr |= intr;
		for (k = per_family ? a + 1 : a; k < end; k++)
			d[k].keep = true;
	}
	return 0;
}

int diag_parse_dumps(const void *buf, size_t len, diag_sock_cb cb, void *ctx,
		     struct diag_dump_info *info)
{
	const uint8_t *p = buf;
	struct diag_dump_info dummy;
	struct dump_span *d = NULL;
	size_t n = 0, cap = 0, off = 0, i, run;
	int ret = 0;

	if (!info)
		info = &dummy;
	memset(info, 0, sizeof(*info));
	info->reply_bytes = len;
	/* first, where each dump ends: nothing is delivered from bad bytes */
	while (off < len) {
		struct diag_parse_state st = { 0 };
		struct nlmsghdr h;

		ret = diag_parse(p + off, len - off, NULL, NULL, &st);
		if (!st.done) {
			ret = ret ? ret : -ENODATA;	/* cut short */
			goto out;
		}
		if (n == cap) {
			size_t c = cap ? 2 * cap : 16;
			struct dump_span *g = realloc(d, c * sizeof(*d));

			if (!g) {
				ret = -ENOMEM;
				goto out;
			}
			d = g;
			cap = c;
		}
		memcpy(&h, p + off, sizeof(h));	/* one message at least */
		d[n++] = (struct dump_span){
			.off = off, .len = st.consumed, .seq = h.nlmsg_seq,
			.error = st.error, .intr = st.intr, .nsocks = st.nsocks,
		};
		off += st.consumed;
	}
	if (!n) {
		ret = -ENODATA;
		goto out;
	}
	/* then which to keep: a run of rising seqs is one diag_dump() call */
	for (i = 0; i < n; i = run) {
		for (run = i + 1; run < n && d[run].seq > d[run - 1].seq; run++)
			;
		ret = pick_attempts(d + i, run - i, info);
		if (ret)
			goto out;
	}
	for (i = 0; i < n; i++) {
		struct diag_parse_state st = { 0 };

		if (!d[i].keep)
			continue;
		ret = diag_parse(p + d[i].off, d[i].len, cb, ctx, &st);
		info->nsocks += st.nsocks;
		if (ret)
			goto out;
		info->dumps++;
	}
out:
	free(d);
	return ret;
}

