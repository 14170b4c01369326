// SPDX-License-Identifier: GPL-2.0 OR BSD-2-Clause
/*
 * tcpfsm serve, kernel side: aggregate where the data is. No record per
 * transition: each socket's "in this state since" lives here (socket-local
 * storage for full sockets, hash maps for timewait and request
 * minisockets), and the programs add to per-CPU counters and histograms
 * that user space reads when scraped. User space reads the per-socket
 * state for ages through sock_diag (socket-local storage comes with each
 * socket) and the minisocket maps: no iterator programs, which some
 * hosts refuse as they refuse fentry.
 *
 * Loads on Linux 6.1: BPF_CORE_READ for every untrusted pointer (no
 * bpf_rdonly_cast), no kconfig externs (HZ comes from the loader).
 */
#include "vmlinux.h"
#include <bpf/bpf_helpers.h>
#include <bpf/bpf_tracing.h>
#include <bpf/bpf_core_read.h>
#include <bpf/bpf_endian.h>
#include "tcpfsm.h"

#define AF_INET 2
#define AF_INET6 10
#define IPPROTO_TCP 6
#include "finwatch.h"

const volatile __u32 filt_netns = 0;	/* 0: every namespace */
const volatile __u64 tw_timer_fn = 0;	/* &tw_timer_handler */
const volatile __u64 req_timer_fn = 0;	/* &reqsk_timer_handler */
const volatile __u32 hz = 0;		/* CONFIG_HZ; 0: unknown */
/* --by: TCPFSM_SERVE_BY_* */
const volatile __u8 by_mode = 0;
/* [lo, hi): the code of tcp_v4_rcv and tcp_v6_rcv, from /proc/kallsyms */
const volatile __u64 v4_rcv_lo = 0, v4_rcv_hi = 0;
const volatile __u64 v6_rcv_lo = 0, v6_rcv_hi = 0;
/* false: the FIN found by 4-tuple, as before 6.11 (tests both ways) */
const volatile bool use_rx_sk = true;

/*
 * serve_refresh's inputs (set by user space before each run) and outputs:
 * the minisockets' ages, found in the kernel.
 */
__u64 stuck_ns[16] = {};		/* per state; 0: no threshold */
__u64 grace_ns = 1000000000;		/* request marks older than this end */
/*
 * A timewait minisocket rescheduled is cancelled and started again in one
 * call, microseconds apart: a mark older than this is an early end.
 */
__u64 tw_grace_ns = 20000000;
struct tcpfsm_serve_ages mini_ages = {};

struct {
	__uint(type, BPF_MAP_TYPE_PERCPU_ARRAY);
	__uint(max_entries, 1);
	__type(key, __u32);
	__type(value, struct tcpfsm_serve_counters);
} counters SEC(".maps");


struct {
	__uint(type, BPF_MAP_TYPE_SK_STORAGE);
	__uint(map_flags, BPF_F_NO_PREALLOC);
	__type(key, int);
	__type(value, struct tcpfsm_serve_sk);
} sk_state SEC(".maps");

/*
 * Keyed by tw_key(): the socket cookie the minisocket took over from its
 * full socket (serve gives every closing socket one), so the full socket's
 * handover finds its minisocket with one lookup; a minisocket without a
 * cookie by its address (kernel addresses and cookies never meet).
 * Resized by the loader (--max-time-wait). Preallocated: an insert without
 * allocation cost a quarter less per timer_start call (bpf_stats).
 *
 * serve_refresh walks it whole for the entries it must look at (orphaned
 * FIN_WAIT2 ones, which may turn TIME_WAIT unseen, and those removed
 * early, to be ended), when there may be any (see tw_pending): a set of
 * those kept on the side cost an insert and a delete per closing
 * connection, about 850 ns, on the hot path; the walk costs a scrape
 * about 80 ns an entry.
 */
struct {
	__uint(type, BPF_MAP_TYPE_HASH);
	__uint(max_entries, 1 << 18);
	__type(key, __u64);
	__type(value, struct tcpfsm_serve_mini);
} tw_state SEC(".maps");

/*
 * Before Linux 6.11 (no rx_sk in skb:kfree_skb): orphaned FIN_WAIT2
 * minisockets by 4-tuple (their tw_state key as value), from their timer's
 * start until their FIN or their end, for serve_kfree_skb to find them.
 * Marked in the entry's TW_TUPLED flag while there.
 */
struct {
	__uint(type, BPF_MAP_TYPE_HASH);
	__uint(map_flags, BPF_F_NO_PREALLOC);
	__uint(max_entries, 1 << 18);
	__type(key, struct tcpfsm_orphan_key);
	__type(value, __u64);
} tw_tuple SEC(".maps");

/*
 * Per CPU: the timewait minisocket whose timer this CPU last removed, not
 * at its expiry. A reschedule removes and re-arms the timer in one
 * __mod_timer() call, under the timer base's lock with interrupts off: if
 * the next timewait timer event on this CPU is not that minisocket's
 * start, it was removed for good, and ends there (serve_refresh ends those
 * whose CPU had no timewait event since).
 *
 * And a count of the entries made here that serve_refresh must look at
 * (orphaned FIN_WAIT2, removed early): user space sums it before each
 * refresh, and skips the walk of tw_state when no such entry was made
 * since the last walk and that walk left none. A count read before it
 * grew is read grown at the next refresh: an entry is looked at one
 * scrape late at worst, never missed.
 */
struct {
	__uint(type, BPF_MAP_TYPE_PERCPU_ARRAY);
	__uint(max_entries, 1);
	__type(key, __u32);
	__type(value, struct tcpfsm_serve_twcpu);
} tw_pending SEC(".maps");

/* serve_refresh: walk tw_state (set by user space); what the walk left */
bool walk_tw = true;
__u64 tw_left = 0;

/* kernel-side only: the entry is in tw_tuple */
#define TW_TUPLED 0x01

struct {
	__uint(type, BPF_MAP_TYPE_HASH);
	__uint(map_flags, BPF_F_NO_PREALLOC);
	__uint(max_entries, 1 << 18);
	__type(key, struct tcpfsm_serve_reqkey);
	__type(value, struct tcpfsm_serve_mini);
} req_state SEC(".maps");

/* --by lport: ports that have had a listener, and the groups */
struct {
	__uint(type, BPF_MAP_TYPE_HASH);
	__uint(max_entries, 65536);
	__type(key, __u32);
	__type(value, __u32);
} listen_ports SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_PERCPU_HASH);
	__uint(map_flags, BPF_F_NO_PREALLOC);	/* ~8.5 KiB a group a CPU */
	__uint(max_entries, 1);	/* the series cap, set by the loader */
	__type(key, __u32);
	__type(value, struct tcpfsm_serve_group);
} groups SEC(".maps");

/* zeroes to insert a group from (too big for the stack) */
struct {
	__uint(type, BPF_MAP_TYPE_ARRAY);
	__uint(max_entries, 1);
	__type(key, __u32);
	__type(value, struct tcpfsm_serve_group);
} group_zero SEC(".maps");

static __always_inline struct tcpfsm_serve_counters *ctrs(void)
{
	__u32 zero = 0;

	return bpf_map_lookup_elem(&counters, &zero);
}

/* Histograms live in the counters' element: one lookup per program run. */
static __always_inline void observe(struct tcpfsm_serve_counters *c, __u32 idx,
				    __u64 ns)
{
	__u32 s = tcpfsm_serve_hist_slot(ns);

	/* kept for 6.1's verifier, which loses bounds the compiler folds */
	barrier_var(idx);
	if (idx >= TCPFSM_SERVE_NHIST)
		return;
	/* s is below SLOTS already; the mask (kept by the barrier) says so to
	 * 6.1's verifier, which loses the bound the compiler folds away */
	barrier_var(s);
	c->hist[idx].slot[s & (TCPFSM_SERVE_HIST_SLOTS - 1)]++;
	c->hist[idx].sum_ns += ns;
}

/*
 * The group of a socket: --by netns, its namespace; --by lport, its local
 * port if something listens on it, else ephemeral.
 */
static __always_inline __u32 group_of(__u16 sport, __u32 netns)
{
	__u32 p = sport;

	if (by_mode == TCPFSM_SERVE_BY_NETNS)
		return netns;
	if (by_mode != TCPFSM_SERVE_BY_LPORT)
		return 0;
	if (sport && bpf_map_lookup_elem(&listen_ports, &p))
		return p;
	return TCPFSM_SERVE_GROUP_EPHEMERAL;
}

/* Before 5.15 the v2 cgroup shared a word with net_cls/net_prio's data. */
struct sock_cgroup_data___pre515 {
	__u64 val;
} __attribute__((preserve_access_index));
struct sock___pre515 {
	struct sock_cgroup_data___pre515 sk_cgrp_data;
} __attribute__((preserve_access_index));

/*
 * --by cgroup: the socket's own cgroup v2 (set when it was made, a
 * child's copied from its listener), never "current", which in softirq
 * is whoever was on the CPU.
 */
static __always_inline __u32 cgroup_group(const struct sock *sk)
{
	struct cgroup *cg = NULL;

	if (bpf_core_field_exists(struct sock_cgroup_data, cgroup)) {
		cg = BPF_CORE_READ(sk, sk_cgrp_data.cgroup);
	} else if (bpf_core_field_exists(struct sock_cgroup_data___pre515, val)) {
		__u64 v = BPF_CORE_READ((const struct sock___pre515 *)sk, sk_cgrp_data.val);

		/* bit 0 (is_data) set: net_cls/net_prio data, no pointer */
		if (!(v & 1))
			cg = (struct cgroup *)v;
	}
	if (!cg)
		return TCPFSM_SERVE_GROUP_EPHEMERAL;
	return tcpfsm_serve_cgroup_key(BPF_CORE_READ(cg, kn, id));
}

/* Its counters; a new group if there is room, else "other". */
static __always_inline struct tcpfsm_serve_group *
grp(struct tcpfsm_serve_counters *c, __u32 key)
{
	struct tcpfsm_serve_group *g = bpf_map_lookup_elem(&groups, &key);
	__u32 zero = 0;
	void *z;

	if (g)
		return g;
	z = bpf_map_lookup_elem(&group_zero, &zero);
	if (!z)
		return NULL;
	if (bpf_map_update_elem(&groups, &key, z, BPF_NOEXIST) &&
	    key != TCPFSM_SERVE_GROUP_OTHER) {
		g = bpf_map_lookup_elem(&groups, &key); /* raced: there now */
		if (g)
			return g;
		c->lost[TCPFSM_SLOST_GROUP_FULL]++;
		key = TCPFSM_SERVE_GROUP_OTHER;
	}
	return bpf_map_lookup_elem(&groups, &key);
}

/* state's gauge += delta, in total and (--by) in group */
static __always_inline void gadd(struct tcpfsm_serve_counters *c, __u32 group,
				 int state, int delta)
{
	struct tcpfsm_serve_group *g;

	if (state == TCPFSM_ST_CLOSE || state < 0 || state >= 16)
		return;
	c->gauge[state & 15] += delta;
	if (by_mode && (g = grp(c, group))) {
		barrier_var(state);	/* as in sobserve */
		g->gauge[state & 15] += delta;
	}
}

/* a duration in state, in total and (--by) in group */
static __always_inline void sobserve(struct tcpfsm_serve_counters *c,
				     __u32 group, int state, __u64 ns)
{
	struct tcpfsm_serve_group *g;
	__u32 s;

	if (state < 0 || state >= 16)
		return;
	observe(c, TCPFSM_SERVE_H_STATE(state), ns);
	if (!by_mode || !(g = grp(c, group)))
		return;
	s = tcpfsm_serve_hist_slot(ns);
	barrier_var(s);
	/* masked behind a barrier: 6.1's verifier loses the bound checked
	 * above when the compiler spills it */
	barrier_var(state);
	g->hist[state & 15].slot[s & (TCPFSM_SERVE_HIST_SLOTS - 1)]++;
	g->hist[state & 15].sum_ns += ns;
}

static __always_inline void move_gauge(struct tcpfsm_serve_counters *c,
				       __u32 gfrom, int from, __u32 gto, int to)
{
	gadd(c, gfrom, from, -1);
	gadd(c, gto, to, 1);
}

/* A request sock and its child share this key (see tcpfsm_serve_reqkey). */
static __always_inline void key_v6(struct tcpfsm_serve_reqkey *k,
				   const struct in6_addr *s,
				   const struct in6_addr *d)
{
	__builtin_memcpy(k->saddr, s, 16);
	__builtin_memcpy(k->daddr, d, 16);
	if (k->saddr[0] == 0 && k->saddr[1] == 0 &&
	    k->saddr[2] == bpf_htonl(0xffff)) {
		k->saddr[2] = 0;
		k->daddr[0] = k->daddr[1] = k->daddr[2] = 0;
	}
}

/*
 * A socket's or minisocket's 4-tuple as tw_tuple's key (the one
 * finwatch_skb_key gives its FIN): an IPv4-mapped pair as AF_INET.
 */
static __always_inline void tuple_key(struct tcpfsm_orphan_key *k,
				      const struct sock_common *skc)
{
	__builtin_memset(k, 0, sizeof(*k));
	k->netns = BPF_CORE_READ(skc, skc_net.net, ns.inum);
	k->sport = BPF_CORE_READ(skc, skc_num);
	k->dport = bpf_ntohs(BPF_CORE_READ(skc, skc_dport));
	if (BPF_CORE_READ(skc, skc_family) == AF_INET) {
		k->family = AF_INET;
		k->saddr[3] = BPF_CORE_READ(skc, skc_rcv_saddr);
		k->daddr[3] = BPF_CORE_READ(skc, skc_daddr);
	} else {
		struct in6_addr s6 = BPF_CORE_READ(skc, skc_v6_rcv_saddr);
		struct in6_addr d6 = BPF_CORE_READ(skc, skc_v6_daddr);

		k->family = AF_INET6;
		__builtin_memcpy(k->saddr, &s6, 16);
		__builtin_memcpy(k->daddr, &d6, 16);
		if (k->saddr[0] == 0 && k->saddr[1] == 0 &&
		    k->saddr[2] == bpf_htonl(0xffff)) {
			k->family = AF_INET;
			k->saddr[2] = 0;
			k->daddr[0] = k->daddr[1] = k->daddr[2] = 0;
		}
	}
}

/* Linux 6.11+: skb:kfree_skb names the socket the skb reached */
static __always_inline bool fin_rx_sk(void)
{
	return use_rx_sk && bpf_core_field_exists(struct trace_event_raw_kfree_skb, rx_sk);
}

/*
 * A full socket in FIN_WAIT2 or CLOSING closing as tcp_time_wait() hands
 * it over to the timewait minisocket it just armed (which took its cookie):
 * the connection goes on there, and ends with it. Its period in oldstate
 * goes on too (the minisocket takes its start), or ends if the minisocket
 * is in another state (the FIN came: TIME_WAIT). true if it was a handover.
 */
static __always_inline bool handover(struct tcpfsm_serve_counters *c,
				     struct sock *sk, struct tcpfsm_serve_sk *st,
				     __u32 gold, int oldstate, __u64 now)
{
	__u64 key = sk->__sk_common.skc_cookie.counter;
	struct tcpfsm_serve_mini *e;

	if (!key)
		return false;
	e = bpf_map_lookup_elem(&tw_state, &key);
	if (!e || e->mark || e->life)
		return false;
	/*
	 * Its group is the socket's (--by cgroup: a timewait minisocket has no
	 * cgroup of its own, and started in the unknown group).
	 */
	if (by_mode && e->group != gold) {
		gadd(c, e->group, e->state, -1);
		gadd(c, gold, e->state, 1);
		e->group = gold;
	}
	if (e->state == oldstate) {
		if (st && st->since_ns && st->state == oldstate)
			e->since_ns = st->since_ns;
	} else {
		c->transitions[oldstate & 15][e->state & 15]++;
		if (st && st->since_ns && st->state == oldstate)
			sobserve(c, gold, oldstate, now - st->since_ns);
	}
	if (st) {
		__u8 o = st->open < TCPFSM_OPEN_MAX ? st->open : 0;
		__u8 cl = st->close_known && st->close < TCPFSM_CLOSE_MAX ?
				  st->close : TCPFSM_CLOSE_ABORT;

		e->life = TCPFSM_MINI_LIFE | o << 4 | cl;
		e->born_ns = st->born_ns;
	} else {
		e->life = TCPFSM_MINI_LIFE | TCPFSM_CLOSE_ACTIVE; /* open unknown */
	}
	return true;
}

SEC("tp_btf/inet_sock_set_state")
int BPF_PROG(serve_set_state, struct sock *sk, int oldstate, int newstate)
{
	struct tcpfsm_serve_counters *c;
	struct tcpfsm_serve_sk *st;
	__u32 group = 0, gold;
	__u64 now;

	if (sk->sk_protocol != IPPROTO_TCP)
		return 0;
	if (filt_netns && sk->__sk_common.skc_net.net->ns.inum != filt_netns)
		return 0;
	c = ctrs();
	if (!c)
		return 0;
	now = bpf_ktime_get_ns();
	st = bpf_sk_storage_get(&sk_state, sk, NULL, BPF_SK_STORAGE_GET_F_CREATE);
	if (!st)
		c->lost[TCPFSM_SLOST_STORAGE]++;
	if (by_mode) {
		__u32 port = sk->__sk_common.skc_num, one = 1;

		/*
		 * A listener makes its port a group, which stays one when it
		 * closes (its connections may outlive it; the cap bounds them).
		 */
		if (by_mode == TCPFSM_SERVE_BY_LPORT && newstate == TCPFSM_ST_LISTEN && port)
			bpf_map_update_elem(&listen_ports, &port, &one, BPF_NOEXIST);
		/* the child's port is not set yet at its birth on 6.1: judged
		 * again at each change */
		group = by_mode == TCPFSM_SERVE_BY_CGROUP ?
				cgroup_group(sk) :
				group_of(port, sk->__sk_common.skc_net.net->ns.inum);
	}
	gold = st && st->since_ns ? st->group : group;
	/*
	 * A socket closing actively may hand over to a timewait minisocket,
	 * which takes its cookie when it is made: give it one now.
	 */
	if (tw_timer_fn && (newstate == TCPFSM_ST_FIN_WAIT1 ||
			    newstate == TCPFSM_ST_FIN_WAIT2 || newstate == TCPFSM_ST_CLOSING))
		bpf_get_socket_cookie(sk);
	if (newstate == TCPFSM_ST_CLOSE && tw_timer_fn &&
	    (oldstate == TCPFSM_ST_FIN_WAIT2 || oldstate == TCPFSM_ST_CLOSING) &&
	    handover(c, sk, st, gold, oldstate, now)) {
		/* the gauge moves to the minisocket, counted at its start;
		 * the connection's close, at the minisocket's end */
		gadd(c, gold, oldstate, -1);
		if (st)
			__builtin_memset(st, 0, sizeof(*st));
		return 0;
	}
	c->transitions[oldstate & 15][newstate & 15]++;

	/* A child is born: LISTEN is its listener's, not its own state. */
	if (oldstate == TCPFSM_ST_LISTEN && newstate == TCPFSM_ST_SYN_RECV) {
		gadd(c, group, TCPFSM_ST_SYN_RECV, 1);
		if (st) {
			st->since_ns = now;
			st->born_ns = now;
			st->state = newstate;
			st->open = TCPFSM_OPEN_PASSIVE;
			st->group = group;
		}
		return 0;
	}
	move_gauge(c, gold, oldstate, group, newstate);
	if (!st)
		return 0;

	if (st->since_ns && st->state == oldstate) {
		__u64 since = st->since_ns;

		/*
		 * The handshake's half-open time is its request sock's: join
		 * it by 4-tuple (set by now on every kernel) and end it.
		 */
		if (oldstate == TCPFSM_ST_SYN_RECV && st->open == TCPFSM_OPEN_PASSIVE &&
		    req_timer_fn) {
			const struct sock_common *skc = &sk->__sk_common;
			struct tcpfsm_serve_reqkey k = {};
			struct tcpfsm_serve_mini *r;

			k.netns = skc->skc_net.net->ns.inum;
			k.sport = skc->skc_num;
			k.dport = bpf_ntohs(skc->skc_dport);
			if (skc->skc_family == AF_INET) {
				k.saddr[3] = skc->skc_rcv_saddr;
				k.daddr[3] = skc->skc_daddr;
			} else {
				struct in6_addr s6 = skc->skc_v6_rcv_saddr;
				struct in6_addr d6 = skc->skc_v6_daddr;

				key_v6(&k, &s6, &d6);
			}
			r = bpf_map_lookup_elem(&req_state, &k);
			if (r) {
				if (r->since_ns && r->since_ns < since) {
					since = r->since_ns;
					st->born_ns = since;
				}
				/* a request not yet marked removed still counts */
				if (r->mark != TCPFSM_MINI_CANCELLED)
					gadd(c, r->group, TCPFSM_ST_SYN_RECV, -1);
				c->req_ends[TCPFSM_REQ_END_ESTABLISHED]++;
				bpf_map_delete_elem(&req_state, &k);
			}
		}
		sobserve(c, gold, oldstate, now - since);
	} else if (!st->since_ns && oldstate == TCPFSM_ST_CLOSE) {
		/* a new socket: connect() or listen() */
		st->born_ns = now;
		if (newstate == TCPFSM_ST_SYN_SENT)
			st->open = TCPFSM_OPEN_ACTIVE;
	}

	if (!st->close_known) {
		if (newstate == TCPFSM_ST_FIN_WAIT1) {
			st->close = TCPFSM_CLOSE_ACTIVE;
			st->close_known = 1;
		} else if (newstate == TCPFSM_ST_CLOSE_WAIT) {
			st->close = TCPFSM_CLOSE_PASSIVE;
			st->close_known = 1;
		}
	}
	if (newstate == TCPFSM_ST_CLOSE) {
		__u8 o = st->open < TCPFSM_OPEN_MAX ? st->open : 0;
		__u8 cl = st->close_known && st->close < TCPFSM_CLOSE_MAX ?
				  st->close : TCPFSM_CLOSE_ABORT;

		/* a listener closing is no connection */
		if (oldstate != TCPFSM_ST_LISTEN) {
			c->closed[o][cl]++;
			if (st->born_ns)
				observe(c, TCPFSM_SERVE_H_LIFE(o, cl), now - st->born_ns);
		}
		/*
		 * A socket may be connected again: it starts afresh. Cleared,
		 * not deleted: the kernel frees the storage with the socket,
		 * and a delete here would only add its own cost.
		 */
		__builtin_memset(st, 0, sizeof(*st));
		return 0;
	}
	st->state = newstate;
	st->since_ns = now;
	st->group = group;
	return 0;
}

static __always_inline bool expiring(struct timer_list *timer)
{
	/* detached by the timer wheel running it: due already */
	return (long)(bpf_jiffies64() - BPF_CORE_READ(timer, expires)) >= 0;
}

/* tw_state's key of a timewait minisocket (see tw_state) */
static __always_inline __u64 tw_key(struct inet_timewait_sock *tw)
{
	__u64 cookie = BPF_CORE_READ(tw, __tw_common.skc_cookie.counter);

	return cookie ? cookie : (__u64)tw;
}

/* FIN_WAIT2 -> TIME_WAIT of a timewait minisocket's entry, since since */
static __always_inline void to_time_wait(struct tcpfsm_serve_counters *c,
					 struct tcpfsm_serve_mini *e, __u64 since)
{
	c->transitions[TCPFSM_ST_FIN_WAIT2][TCPFSM_ST_TIME_WAIT]++;
	if (e->since_ns && since > e->since_ns)
		sobserve(c, e->group, TCPFSM_ST_FIN_WAIT2, since - e->since_ns);
	move_gauge(c, e->group, TCPFSM_ST_FIN_WAIT2, e->group, TCPFSM_ST_TIME_WAIT);
	e->state = TCPFSM_ST_TIME_WAIT;
	e->since_ns = since;
}

/*
 * A timewait minisocket whose FIN came unseen (its new deadline fell in the
 * old one's timer-wheel slot, and the FIN watch missed it or is off) is
 * TIME_WAIT now: move it there, dating the change TCP_TIMEWAIT_LEN before
 * the deadline it holds (now, without HZ). Only where that deadline is the
 * FIN's: not in the cancel of the FIN's own reschedule (the old one).
 */
static __always_inline void late_time_wait(struct tcpfsm_serve_counters *c,
					   struct tcpfsm_serve_mini *e,
					   struct timer_list *timer, __u64 now)
{
	__u64 since = now;

	if (hz) {
		__u64 j = bpf_jiffies64(), exp = BPF_CORE_READ(timer, expires);
		__u64 began = exp - (TCPFSM_TIMEWAIT_LEN_NS / 1000000000ull) * hz;

		if ((long)(j - began) >= 0 &&
		    (j - began) * (1000000000ull / hz) < now - e->since_ns)
			since = now - (j - began) * (1000000000ull / hz);
	}
	c->tw_fw2_to_tw++;
	to_time_wait(c, e, since);
}

/* The connection a timewait minisocket continued ends with it, at end_ns. */
static __always_inline void life_end(struct tcpfsm_serve_counters *c,
				     const struct tcpfsm_serve_mini *e, __u64 end_ns)
{
	__u32 o = (e->life >> 4) & 3, cl = e->life & 3;

	if (!(e->life & TCPFSM_MINI_LIFE) || o >= TCPFSM_OPEN_MAX || cl >= TCPFSM_CLOSE_MAX)
		return;
	c->closed[o][cl]++;
	if (e->born_ns && end_ns > e->born_ns)
		observe(c, TCPFSM_SERVE_H_LIFE(o, cl), end_ns - e->born_ns);
}

/* the minisocket leaves tw_tuple (its memory still its own) */
static __always_inline void untuple(struct inet_timewait_sock *tw,
				    struct tcpfsm_serve_mini *e, __u64 key)
{
	struct tcpfsm_orphan_key k;
	__u64 *v;

	if (!(e->flags & TW_TUPLED))
		return;
	e->flags &= ~TW_TUPLED;
	tuple_key(&k, &tw->__tw_common);
	v = bpf_map_lookup_elem(&tw_tuple, &k);
	if (v && *v == key)
		bpf_map_delete_elem(&tw_tuple, &k);
}

/* before 6.11: an orphaned FIN_WAIT2 minisocket, for its FIN to find */
static __always_inline void tuple(struct inet_timewait_sock *tw, __u64 key)
{
	struct tcpfsm_orphan_key k;
	struct tcpfsm_serve_mini *e;

	tuple_key(&k, &tw->__tw_common);
	if (bpf_map_update_elem(&tw_tuple, &k, &key, BPF_ANY))
		return;
	e = bpf_map_lookup_elem(&tw_state, &key);
	if (e)
		e->flags |= TW_TUPLED;
}

/*
 * A timewait minisocket removed early ends: once, whoever deletes its entry
 * (serve_refresh may try as well).
 */
static __always_inline void tw_end_early(struct tcpfsm_serve_counters *c, __u64 key)
{
	struct tcpfsm_serve_mini *e = bpf_map_lookup_elem(&tw_state, &key), m;

	if (!e || e->mark != TCPFSM_MINI_CANCELLED)
		return;
	m = *e;
	if (bpf_map_delete_elem(&tw_state, &key))
		return;
	c->tw_ends[TCPFSM_TW_END_EARLY]++;
	if (m.since_ns && m.mark_ns > m.since_ns)
		sobserve(c, m.group, m.state, m.mark_ns - m.since_ns);
	life_end(c, &m, m.mark_ns);
}

static __always_inline int tw_event(struct timer_list *timer, bool start)
{
	struct inet_timewait_sock *tw = (void *)timer -
		bpf_core_field_offset(struct inet_timewait_sock, tw_timer);
	struct tcpfsm_serve_counters *c;
	struct tcpfsm_serve_mini *e;
	struct tcpfsm_serve_twcpu *pc;
	__u64 key, now;
	__u32 group = 0, zero = 0;
	bool orphan;	/* its entry is an orphaned FIN_WAIT2 one */
	__u8 state;

	if (filt_netns &&
	    BPF_CORE_READ(tw, __tw_common.skc_net.net, ns.inum) != filt_netns)
		return 0;
	c = ctrs();
	if (!c)
		return 0;
	now = bpf_ktime_get_ns();
	key = tw_key(tw);
	pc = bpf_map_lookup_elem(&tw_pending, &zero);
	if (!pc)
		return 0;
	/* the last removal on this CPU was an end unless this re-arms it */
	if (pc->pending) {
		if (!(start && pc->pending == key))
			tw_end_early(c, pc->pending);
		pc->pending = 0;
	}
	if (!start && !expiring(timer))
		pc->pending = key;
	state = BPF_CORE_READ(tw, tw_substate) & 15;
	if (by_mode)
		group = group_of(BPF_CORE_READ(tw, __tw_common.skc_num),
				 BPF_CORE_READ(tw, __tw_common.skc_net.net, ns.inum));
	if (start) {
		struct tcpfsm_serve_mini n = { .since_ns = now, .state = state,
					       .group = group, .addr = (__u64)tw };
		int err;

		/*
		 * Mostly a new one: insert first, look up only if there. (int):
		 * before 6.4, map ops returned an int that reached the program
		 * zero-extended (-EEXIST as 0xffffffef).
		 */
		err = bpf_map_update_elem(&tw_state, &key, &n, BPF_NOEXIST);
		if (!err) {
			gadd(c, group, state, 1);
			if (state == TCPFSM_ST_FIN_WAIT2) {
				pc->gen++;
				if (v4_rcv_lo && !fin_rx_sk())
					tuple(tw, key);
			}
			return 0;
		}
		e = err == -17 /* EEXIST */ ? bpf_map_lookup_elem(&tw_state, &key) : NULL;
		if (!e) {
			/* counted, and ended when it ends; its times unknown */
			c->lost[TCPFSM_SLOST_TW_FULL]++;
			gadd(c, group, state, 1);
			return 0;
		}
		if (e->mark) {
			/* rescheduled (cancel, then start): still there */
			e->mark = 0;
			gadd(c, e->group, e->state, 1);
		}
		/* orphaned FIN_WAIT2 got its FIN (this is its reschedule) */
		if (e->state == TCPFSM_ST_FIN_WAIT2 && state == TCPFSM_ST_TIME_WAIT)
			to_time_wait(c, e, now);
		return 0;
	}
	e = bpf_map_lookup_elem(&tw_state, &key);
	if (!e) {
		/* older than serve, or its table was full */
		if (expiring(timer)) {
			c->tw_ends[TCPFSM_TW_END_EXPIRED]++;
			gadd(c, group, state, -1);
			return 0;
		}
		/*
		 * An end, or a reschedule whose start follows at once: an
		 * entry (times unknown) marked as removed tells them apart.
		 */
		{
			struct tcpfsm_serve_mini n = { .state = state, .group = group,
						       .mark = TCPFSM_MINI_CANCELLED,
						       .mark_ns = now, .addr = (__u64)tw };

			gadd(c, group, state, -1);
			if (bpf_map_update_elem(&tw_state, &key, &n, BPF_NOEXIST))
				c->tw_ends[TCPFSM_TW_END_EARLY]++;
			else
				pc->gen++;
		}
		return 0;
	}
	if (e->mark)
		return 0;
	orphan = e->state == TCPFSM_ST_FIN_WAIT2;
	if (expiring(timer)) {
		untuple(tw, e, key);
		if (orphan && state == TCPFSM_ST_TIME_WAIT)
			late_time_wait(c, e, timer, now);
		gadd(c, e->group, e->state, -1);
		c->tw_ends[TCPFSM_TW_END_EXPIRED]++;
		if (e->since_ns)
			sobserve(c, e->group, e->state, now - e->since_ns);
		life_end(c, e, now);
		bpf_map_delete_elem(&tw_state, &key);
		return 0;
	}
	/*
	 * Removed early (reuse, RST, kill), or rescheduled: a timer_start
	 * follows at once then. serve_refresh ends it after tw_grace_ns. An
	 * orphaned FIN_WAIT2 one already TIME_WAIT is in its FIN's reschedule
	 * when the FIN watch looks out for it (its start counts the change at
	 * once; the deadline is still the old one); else its FIN came unseen.
	 */
	if (orphan && state == TCPFSM_ST_TIME_WAIT &&
	    !(v4_rcv_lo && (fin_rx_sk() || (e->flags & TW_TUPLED))))
		late_time_wait(c, e, timer, now);
	untuple(tw, e, key);
	gadd(c, e->group, e->state, -1);
	e->mark = TCPFSM_MINI_CANCELLED;
	e->mark_ns = now;
	pc->gen++;
	return 0;
}

static __always_inline int req_event(struct timer_list *timer, bool start)
{
	struct request_sock *req = (void *)timer -
		bpf_core_field_offset(struct request_sock, rsk_timer);
	const struct sock_common *skc = &req->__req_common;
	struct tcpfsm_serve_reqkey k = {};
	struct tcpfsm_serve_counters *c;
	struct tcpfsm_serve_mini *e;
	__u64 now;

	k.netns = BPF_CORE_READ(skc, skc_net.net, ns.inum);
	if (filt_netns && k.netns != filt_netns)
		return 0;
	c = ctrs();
	if (!c)
		return 0;
	k.sport = BPF_CORE_READ(skc, skc_num);
	k.dport = bpf_ntohs(BPF_CORE_READ(skc, skc_dport));
	if (BPF_CORE_READ(skc, skc_family) == AF_INET) {
		k.saddr[3] = BPF_CORE_READ(skc, skc_rcv_saddr);
		k.daddr[3] = BPF_CORE_READ(skc, skc_daddr);
	} else {
		struct in6_addr s6 = BPF_CORE_READ(skc, skc_v6_rcv_saddr);
		struct in6_addr d6 = BPF_CORE_READ(skc, skc_v6_daddr);

		key_v6(&k, &s6, &d6);
	}
	now = bpf_ktime_get_ns();
	e = bpf_map_lookup_elem(&req_state, &k);
	if (start) {
		struct tcpfsm_serve_mini n = { .since_ns = now,
					       .state = TCPFSM_ST_SYN_RECV,
					       .group = group_of(k.sport, k.netns) };

		/* --by cgroup: a request's is its listener's */
		if (by_mode == TCPFSM_SERVE_BY_CGROUP)
			n.group = cgroup_group(BPF_CORE_READ(req, __req_common.skc_listener));

		if (e && e->mark != TCPFSM_MINI_CANCELLED) {
			e->mark = 0; /* re-armed after a SYN-ACK timeout */
			return 0;
		}
		/* a new request (over a removed one with the same tuple) */
		if (bpf_map_update_elem(&req_state, &k, &n, BPF_ANY)) {
			c->lost[TCPFSM_SLOST_REQ_FULL]++;
			return 0;
		}
		gadd(c, n.group, TCPFSM_ST_SYN_RECV, 1);
		return 0;
	}
	if (expiring(timer)) {
		/* re-armed at once (timer_start) or dropped: user space tells */
		if (e) {
			e->mark = TCPFSM_MINI_EXPIRED;
			e->mark_ns = now;
		}
		return 0;
	}
	/* removed: the handshake completed (the child joins it), or not */
	gadd(c, e ? e->group : group_of(k.sport, k.netns), TCPFSM_ST_SYN_RECV, -1);
	if (e) {
		e->mark = TCPFSM_MINI_CANCELLED;
		e->mark_ns = now;
	}
	return 0;
}

/*
 * The timer tracepoints fire for every timer_list on the host: the first
 * thing is one load of timer->function and two compares against constants.
 * Only start and cancel are hooked: a timer's expiry detaches it first
 * (cancel, with its deadline passed), which tells expiry from removal.
 */
SEC("tp_btf/timer_start")
int BPF_PROG(serve_timer_start, struct timer_list *timer)
{
	__u64 fn = (__u64)timer->function;

	if (fn == tw_timer_fn)
		return tw_event(timer, true);
	if (fn == req_timer_fn)
		return req_event(timer, true);
	return 0;
}

SEC("tp_btf/timer_cancel")
int BPF_PROG(serve_timer_cancel, struct timer_list *timer)
{
	__u64 fn = (__u64)timer->function;

	if (fn == tw_timer_fn)
		return tw_event(timer, false);
	if (fn == req_timer_fn)
		return req_event(timer, false);
	return 0;
}

SEC("tp_btf/tcp_retransmit_synack")
int BPF_PROG(serve_synack, const struct sock *sk, const struct request_sock *req)
{
	struct tcpfsm_serve_counters *c;

	if (filt_netns && sk->__sk_common.skc_net.net->ns.inum != filt_netns)
		return 0;
	c = ctrs();
	if (c)
		c->synack_retrans++;
	return 0;
}

/*
 * An orphaned FIN_WAIT2 minisocket that gets the peer's FIN turns
 * TIME_WAIT, its timer re-armed; when the new deadline falls in the same
 * timer-wheel bucket no timer event fires. The FIN is freed at
 * tcp_v4_rcv/tcp_v6_rcv's discard after tcp_timewait_state_process()
 * handled it: the change is counted here, when it happens (when the
 * deadline moved, the timer's reschedule counted it first). Linux 6.11+
 * names the minisocket (rx_sk); before, its FIN's 4-tuple finds it in
 * tw_tuple. A FIN with data, an RST or a SYN kills the minisocket instead
 * (its timer removal marks it first); an out-of-window FIN leaves it in
 * FIN_WAIT2. skb:kfree_skb fires for every dropped skb on the host: the
 * first thing is where it was freed, up to four compares.
 */
SEC("tp_btf/kfree_skb")
int BPF_PROG(serve_kfree_skb, struct sk_buff *skb, void *location)
{
	__u64 loc = (__u64)location, twkey, *v = NULL;
	struct tcpfsm_serve_counters *c;
	struct inet_timewait_sock *tw;
	struct tcpfsm_serve_mini *e;
	struct tcpfsm_orphan_key k;

	if (!((loc >= v4_rcv_lo && loc < v4_rcv_hi) ||
	      (loc >= v6_rcv_lo && loc < v6_rcv_hi)))
		return 0;
	if (fin_rx_sk()) {
		struct sock *rx_sk = (void *)ctx[3];

		if (!rx_sk || rx_sk->__sk_common.skc_state != TCPFSM_ST_TIME_WAIT)
			return 0;
		twkey = rx_sk->__sk_common.skc_cookie.counter;
		if (!twkey)
			twkey = (__u64)rx_sk;
	} else {
		if (finwatch_skb_key(skb, &k))
			return 0;
		v = bpf_map_lookup_elem(&tw_tuple, &k);
		if (!v)
			return 0;
		twkey = *v;
	}
	e = bpf_map_lookup_elem(&tw_state, &twkey);
	if (!e) {
		if (v)
			bpf_map_delete_elem(&tw_tuple, &k);
		return 0;
	}
	/* being removed or rescheduled (the timer tells), or TIME_WAIT */
	if (e->mark || e->state != TCPFSM_ST_FIN_WAIT2)
		return 0;
	tw = (void *)e->addr;
	if ((BPF_CORE_READ(tw, tw_substate) & 15) != TCPFSM_ST_TIME_WAIT)
		return 0; /* out of window: still FIN_WAIT2 */
	c = ctrs();
	if (!c)
		return 0;
	to_time_wait(c, e, bpf_ktime_get_ns());
	if (v) {
		e->flags &= ~TW_TUPLED;
		bpf_map_delete_elem(&tw_tuple, &k);
	}
	return 0;
}

/* ---- serve_refresh: run by user space (BPF_PROG_RUN) before it reads ---- */

struct refresh_ctx {
	struct tcpfsm_serve_counters *c;
	__u64 now;
};

static __always_inline void account(__u8 state, __u64 since, __u64 now)
{
	__u32 s = state & 15;

	mini_ages.count[s]++;
	if (!since || since > now)
		return;
	if (!mini_ages.oldest_since_ns[s] || since < mini_ages.oldest_since_ns[s])
		mini_ages.oldest_since_ns[s] = since;
	if (stuck_ns[s] && now - since >= stuck_ns[s])
		mini_ages.stuck[s]++;
}

/*
 * Every timewait entry: orphaned FIN_WAIT2 ones brought up to date and
 * counted for their ages, those removed early ended. TIME_WAIT ones are
 * left alone: their ages come from sock_diag's timers at reconciliation.
 */
static long refresh_tw(struct bpf_map *map, __u64 *key,
		       struct tcpfsm_serve_mini *e, struct refresh_ctx *rc)
{
	struct inet_timewait_sock *tw;

	if (e->mark) {
		/* its memory may be another's by now: not read */
		if (rc->now - e->mark_ns >= tw_grace_ns)
			tw_end_early(rc->c, *key);
		else
			tw_left++;
		return 0;
	}
	if (e->state != TCPFSM_ST_FIN_WAIT2)
		return 0;
	tw = (void *)e->addr;
	if ((BPF_CORE_READ(tw, tw_substate) & 15) == TCPFSM_ST_TIME_WAIT) {
		late_time_wait(rc->c, e, &tw->tw_timer, rc->now);
		return 0;
	}
	account(e->state, e->since_ns, rc->now);
	tw_left++;
	return 0;
}

/* Requests that expired and were not re-armed were dropped; removed ones
 * no child joined were reset. */
static long refresh_req(struct bpf_map *map, struct tcpfsm_serve_reqkey *key,
			struct tcpfsm_serve_mini *e, struct refresh_ctx *rc)
{
	struct tcpfsm_serve_counters *c = rc->c;

	if (e->mark && rc->now - e->mark_ns >= grace_ns) {
		if (e->mark == TCPFSM_MINI_EXPIRED) {
			c->req_ends[TCPFSM_REQ_END_TIMEOUT]++;
			gadd(c, e->group, TCPFSM_ST_SYN_RECV, -1);
		} else {
			c->req_ends[TCPFSM_REQ_END_REMOVED]++;
		}
		if (e->mark_ns > e->since_ns)
			sobserve(c, e->group, TCPFSM_ST_SYN_RECV,
				 e->mark_ns - e->since_ns);
		bpf_map_delete_elem(map, key);
		return 0;
	}
	if (e->mark != TCPFSM_MINI_CANCELLED)
		account(TCPFSM_ST_SYN_RECV, e->since_ns, rc->now);
	return 0;
}

SEC("syscall")
int serve_refresh(void *ctx)
{
	struct refresh_ctx rc = { .c = ctrs(), .now = bpf_ktime_get_ns() };

	if (!rc.c)
		return 0;
	__builtin_memset(&mini_ages, 0, sizeof(mini_ages));
	if (tw_timer_fn && walk_tw) {
		tw_left = 0;
		bpf_for_each_map_elem(&tw_state, refresh_tw, &rc, 0);
	}
	if (req_timer_fn)
		bpf_for_each_map_elem(&req_state, refresh_req, &rc, 0);
	return 0;
}

char LICENSE[] SEC("license") = "Dual BSD/GPL";
