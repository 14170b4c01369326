// SPDX-License-Identifier: GPL-2.0 OR BSD-2-Clause
/*
 * tcpfsm kernel side: one record per TCP state change, plus the timers of
 * the two minisockets the state tracepoint never reports (timewait socks
 * and request socks). Filter early, fill the record, submit, count what
 * could not be submitted. Every decision that can be made in user space is.
 */
#include "vmlinux.h"
#include <bpf/bpf_helpers.h>
#include <bpf/bpf_tracing.h>
#include <bpf/bpf_core_read.h>
#include <bpf/bpf_endian.h>
#include "tcpfsm.h"

#define AF_INET 2
#define AF_INET6 10
#include "finwatch.h"
#define IPPROTO_TCP 6
#define EPIPE 32
#define ECONNABORTED 103
#define ECONNRESET 104

/* Tunables, set by the loader before load; the verifier prunes on them. */
const volatile __u8 filt_family = 0;	 /* 0: any */
const volatile __u32 filt_pid = 0;	 /* 0: any (see below) */
const volatile __u32 filt_netns = 0;	 /* 0: any */
const volatile __u32 n_lports = 0;
const volatile __u32 n_rports = 0;
const volatile __u16 lports[TCPFSM_MAX_PORTS] = {};
const volatile __u16 rports[TCPFSM_MAX_PORTS] = {};
const volatile __u32 n_ports = 0;	 /* --port: either end's */
const volatile __u16 ports[TCPFSM_MAX_PORTS] = {};
const volatile __u32 n_cidrs = 0;	 /* --addr: either end in one */
const volatile struct tcpfsm_cidr cidrs[TCPFSM_MAX_CIDRS] = {};
const volatile __u64 tw_timer_fn = 0;	 /* &tw_timer_handler */
const volatile __u64 req_timer_fn = 0;	 /* &reqsk_timer_handler */
const volatile __u64 wakeup_bytes = 0;	 /* wake the reader past this */
/*
 * Nanoseconds per jiffy (TICK_NSEC), measured by the loader as the
 * resolution of CLOCK_MONOTONIC_COARSE: no CONFIG_HZ kconfig extern, which
 * libbpf can only resolve from /boot/config-* or /proc/config.gz. 0: the
 * deadline is not reported.
 */
const volatile __u64 tick_ns = 0;
/*
 * With the request-sock hooks on, a child's LISTEN -> SYN_RECV is already
 * known from its request (stamped at the SYN); user space joins the child
 * by 4-tuple at its next change. Skipping it saves one record in 13.
 */
const volatile bool skip_child_birth = false;

/*
 * Linux 6.2+: a typed, read-only view of a kernel pointer, so a
 * minisocket's fields are plain (fault-safe) loads instead of one
 * bpf_probe_read_kernel each. Weak, and used only by the handle_timer_*
 * programs; the loader loads their handle_timer_*_read twins (the same
 * code over BPF_CORE_READ) instead where the kernel lacks it, so no loaded
 * program calls an unresolved kfunc. (bpf_ksym_exists() cannot tell: it
 * needs libbpf 1.2 and, for a kfunc, Linux 6.4.)
 */
extern void *bpf_rdonly_cast(void *obj, __u32 btf_id) __ksym __weak;

/* Records that could not be reserved, by kind: never lost silently. */
__u64 lost[TCPFSM_LOST_SLOTS] = {};

struct {
	__uint(type, BPF_MAP_TYPE_RINGBUF);
	__uint(max_entries, 8 << 20); /* resized by the loader */
} events SEC(".maps");

static __always_inline bool port_in(__u16 port, const volatile __u16 *set,
				    __u32 n)
{
	for (int i = 0; i < TCPFSM_MAX_PORTS; i++) {
		if (i >= n)
			break;
		if (set[i] == port)
			return true;
	}
	return false;
}

/*
 * Port filters, as user space's filter_event(): a local port of 0
 * (connect() or listen() has not picked it yet) passes, user space judges
 * it once the port is known. listener: only the local port is judged (a
 * listener's remote end is unset, and its children, of either end's port,
 * take their owner from it).
 */
static __always_inline bool ports_wanted(__u16 sport, __u16 dport, bool listener)
{
	if (n_lports && sport && !port_in(sport, lports, n_lports))
		return false;
	if (listener)
		return true;
	if (n_rports && !port_in(dport, rports, n_rports))
		return false;
	if (n_ports && sport && !port_in(sport, ports, n_ports) &&
	    !port_in(dport, ports, n_ports))
		return false;
	return true;
}

static __always_inline bool v4_mapped(const __u8 *a)
{
	const __u32 *w = (const __u32 *)a;

	return w[0] == 0 && w[1] == 0 && w[2] == bpf_htonl(0x0000ffff);
}

static __always_inline bool v6_zero(const __u8 *a)
{
	const __u32 *w = (const __u32 *)a;

	return !(w[0] | w[1] | w[2] | w[3]);
}

/*
 * An IPv6 socket that speaks IPv4: one end mapped, the other mapped or not
 * yet set (a listener's remote end). The same rule as sock_diag parsing in
 * user space (diag.c unmap_v4), so a socket has one family in both.
 */
static __always_inline bool v4_pair(const __u8 *s, const __u8 *d)
{
	bool sm = v4_mapped(s), dm = v4_mapped(d);

	return (sm || dm) && (sm || v6_zero(s)) && (dm || v6_zero(d));
}

/*
 * What a record takes from a sock_common, read once and before the record
 * is reserved: the filters look at all of it (the family only once both
 * addresses are read: an IPv4-mapped pair is IPv4), so a record filtered
 * out costs no reservation. An IPv4 address, native or mapped, is word 3
 * of saddr/daddr, where a mapped one already is. Zero-initialised: a word
 * one path leaves unset could reach the verifier as an uninitialised
 * register. 8-byte aligned: the copies are 8-byte moves.
 */
struct tuple {
	__u32 netns;
	__u16 sport;	/* host order */
	__u16 dport;	/* host order */
	__u16 family;	/* AF_INET for an IPv4-mapped pair */
	__u32 saddr[4] __attribute__((aligned(8)));
	__u32 daddr[4] __attribute__((aligned(8)));
};

/*
 * --addr: either end in one of the CIDRs, an IPv4-mapped pair as IPv4 (its
 * family is AF_INET, the address in word 3; the CIDR's mask ignores words
 * 0-2). Called only with n_cidrs set, and not for a listener's records
 * (its children take their owner from it).
 */
static __noinline bool addrs_wanted(const struct tuple *t)
{
	for (int i = 0; i < TCPFSM_MAX_CIDRS; i++) {
		if (i >= n_cidrs)
			break;
		if (cidrs[i].family != t->family)
			continue;
		if (TCPFSM_CIDR_HAS(&cidrs[i], t->saddr) ||
		    TCPFSM_CIDR_HAS(&cidrs[i], t->daddr))
			return true;
	}
	return false;
}

/*
 * Read the addresses into t, by t->family; an IPv4-mapped pair becomes
 * IPv4 (v4_pair). RD reads one field: a direct load from the tracepoint's
 * trusted sock, or RD_MINI for a minisocket.
 */
#define READ_ADDRS(t, skc, RD)                                                \
	do {                                                                  \
		if ((t)->family == AF_INET) {                                 \
			(t)->saddr[3] = RD(skc, skc_rcv_saddr);               \
			(t)->daddr[3] = RD(skc, skc_daddr);                   \
		} else {                                                      \
			struct in6_addr s6 = RD(skc, skc_v6_rcv_saddr);       \
			struct in6_addr d6 = RD(skc, skc_v6_daddr);           \
			__builtin_memcpy((t)->saddr, &s6, 16);                \
			__builtin_memcpy((t)->daddr, &d6, 16);                \
			if (v4_pair((const __u8 *)(t)->saddr,                 \
				    (const __u8 *)(t)->daddr))                \
				(t)->family = AF_INET;                        \
		}                                                             \
	} while (0)

/* Into a zeroed record: an IPv4 address takes the first 4 bytes. */
static __always_inline void put_tuple(struct tcpfsm_event *e,
				      const struct tuple *t)
{
	e->netns = t->netns;
	e->sport = t->sport;
	e->dport = t->dport;
	e->family = t->family;
	if (t->family == AF_INET) {
		__builtin_memcpy(e->saddr, &t->saddr[3], 4);
		__builtin_memcpy(e->daddr, &t->daddr[3], 4);
	} else {
		__builtin_memcpy(e->saddr, t->saddr, 16);
		__builtin_memcpy(e->daddr, t->daddr, 16);
	}
}

/*
 * A record of kind for tuple t, reserved, zeroed and stamped; NULL when the
 * ring buffer is full, which is counted (never lost silently). Every
 * filter runs before: a record reserved to be discarded costs as much.
 */
static __always_inline struct tcpfsm_event *new_record(__u8 kind,
							const struct tuple *t)
{
	struct tcpfsm_event *e = bpf_ringbuf_reserve(&events, sizeof(*e), 0);

	if (!e) {
		__sync_fetch_and_add(&lost[kind & (TCPFSM_LOST_SLOTS - 1)], 1);
		return NULL;
	}
	__builtin_memset(e, 0, sizeof(*e));
	put_tuple(e, t);
	e->ts_ns = bpf_ktime_get_ns();
	e->kind = kind;
	return e;
}

#define RD_SEL(_1, _2, NAME, ...) NAME
/* trusted (tp_btf argument): pointer chains are direct loads */
#define RD_DIRECT_1(p, a) ((p)->a)
#define RD_DIRECT_2(p, a, b) ((p)->a->b)
#define RD_DIRECT(p, ...) \
	RD_SEL(__VA_ARGS__, RD_DIRECT_2, RD_DIRECT_1)(p, __VA_ARGS__)
/*
 * untrusted (a minisocket reached by container_of from its timer): with
 * bpf_rdonly_cast each pointer hop is cast again and fields are plain
 * loads; without it (fast is false: a constant in each program, so only
 * one branch is compiled in) one bpf_probe_read_kernel per field.
 */
#define RD_CAST(ptr) \
	((typeof(ptr))bpf_rdonly_cast((void *)(ptr), \
				      bpf_core_type_id_kernel(typeof(*(ptr)))))
#define RD_CAST_2(p, a, b) (RD_CAST((p)->a)->b)
#define RD_FAST(p, ...) \
	RD_SEL(__VA_ARGS__, RD_CAST_2, RD_DIRECT_1)(p, __VA_ARGS__)
#define RD_MINI(p, ...) \
	(fast ? RD_FAST(p, __VA_ARGS__) : BPF_CORE_READ(p, __VA_ARGS__))

/*
 * The socket's network namespace. Without CONFIG_NET_NS possible_net_t is
 * empty and every socket is in init_net, whose inode no /proc/PID/ns/net
 * shows (there is none): 0, and the netns filter cannot be asked for.
 */
#define SKC_NETNS(skc, RD)                                                   \
	(bpf_core_field_exists((skc)->skc_net.net) ?                         \
		 (__u32)RD(skc, skc_net.net, ns.inum) : 0)

/* Records per CPU between two looks at the buffer's fill level. */
#define WAKEUP_CHECK_EVERY 8

/* Records submitted on each CPU: paces the fill-level check below. */
struct {
	__uint(type, BPF_MAP_TYPE_PERCPU_ARRAY);
	__uint(max_entries, 1);
	__type(key, __u32);
	__type(value, __u32);
} nsubmit SEC(".maps");

static __always_inline void submit(struct tcpfsm_event *e)
{
	__u64 flags = BPF_RB_NO_WAKEUP;
	__u32 zero = 0, *n = bpf_map_lookup_elem(&nsubmit, &zero);

	/*
	 * Waking the reader per record costs about a third of the connection
	 * rate; the reader polls on a short timeout and is only woken when
	 * the buffer fills past wakeup_bytes. Looking at the fill level cost
	 * ~40 ns a record (bpf_stats), so each CPU looks at every 8th: the
	 * wakeup comes at most 8 records per CPU late.
	 */
	if (n && !((*n)++ & (WAKEUP_CHECK_EVERY - 1)) &&
	    bpf_ringbuf_query(&events, BPF_RB_AVAIL_DATA) >= wakeup_bytes)
		flags = BPF_RB_FORCE_WAKEUP;
	bpf_ringbuf_submit(e, flags);
}

/*
 * in_task: the change runs under lock_sock(), i.e. in a system call of a
 * task using the socket (connect, listen, close, shutdown) or in its
 * release_sock() backlog processing. Changes driven by arriving packets
 * and timers run in softirq with the lock not owned, where "current" is
 * whoever was on the CPU. (Per-CPU preempt_count is not reachable here:
 * this kernel's kallsyms has no per-CPU data symbols.)
 */
static __always_inline void fill_task(struct tcpfsm_event *e, __u64 id,
				      bool in_task)
{
	e->pid = id >> 32;
	e->tid = (__u32)id;
	e->flags |= TCPFSM_F_CTX_KNOWN;
	if (!in_task)
		return; /* an unrelated task: its name and cgroup say nothing */
	e->flags |= TCPFSM_F_IN_TASK;
	e->cgroup_id = bpf_get_current_cgroup_id();
	bpf_get_current_comm(e->comm, sizeof(e->comm));
}

/*
 * Connects that passed the local-port filters with their port not picked
 * yet (CLOSE -> SYN_SENT, port 0): the record that leaves SYN_SENT has the
 * port, and is sent even when the port filters drop it, so that user space
 * learns the connect's port and forgets the connection (filter_event)
 * instead of tracking a SYN_SENT that never ends. Allocated as used: empty
 * without --lport/--port. A full map: the connection is tracked, unended,
 * as without it.
 */
struct {
	__uint(type, BPF_MAP_TYPE_HASH);
	__uint(max_entries, 16384);
	__uint(map_flags, BPF_F_NO_PREALLOC);
	__type(key, __u64);
	__type(value, __u8);
} connecting SEC(".maps");

/* Was sk a connect passed with its port unknown? Forgets it. */
static __noinline bool connect_unjudged(struct sock *sk)
{
	__u64 cookie;

	if (!n_lports && !n_ports)
		return false;
	cookie = bpf_get_socket_cookie(sk);
	return !bpf_map_delete_elem(&connecting, &cookie);
}

static __always_inline int set_state(struct sock *sk, int oldstate, int newstate)
{
	const struct sock_common *skc = &sk->__sk_common;
	struct tcp_sock *tp = NULL;
	struct tcpfsm_event *e;
	struct tuple t = {};
	bool owned, listener;
	__u64 id;

	if (sk->sk_protocol != IPPROTO_TCP)
		return 0;
	if (skip_child_birth && oldstate == TCPFSM_ST_LISTEN &&
	    newstate == TCPFSM_ST_SYN_RECV)
		return 0;
	t.family = skc->skc_family;
	t.sport = skc->skc_num;
	t.dport = bpf_ntohs(skc->skc_dport);
	/*
	 * Into CLOSE, one typed view of the tcp_sock serves inet_sport and the
	 * byte counts: bpf_skc_to_tcp_sock() (5.9), whose checks (a full TCP
	 * socket) cannot fail here, rather than bpf_rdonly_cast (6.2), which
	 * would need a second set of programs for 6.1; the difference was
	 * within the noise of bpf_stats, once per socket.
	 */
	if (newstate == TCPFSM_ST_CLOSE)
		tp = bpf_skc_to_tcp_sock(sk);
	/*
	 * Into CLOSE, tcp_set_state() has already released an automatically
	 * picked port (inet_put_port() zeroes skc_num) when the tracepoint
	 * fires: a refused connect() would never show its port. inet_sport
	 * keeps it. Only into CLOSE: at CLOSE -> SYN_SENT of a socket
	 * connected before, inet_sport still holds the old connection's port.
	 * One more load, once per socket whose picked port was released (its
	 * last change); never on the other changes, whose skc_num is set.
	 */
	if (!t.sport && tp)
		t.sport = bpf_ntohs(tp->inet_conn.icsk_inet.inet_sport);
	/*
	 * A listener's own records (listen(), its close) pass the family and
	 * remote-port filters: its children take their owner from it, and a
	 * dual-stack listener ([::]) is IPv6 while its IPv4 children are IPv4;
	 * its remote port is 0. User space shows only what the filters select.
	 */
	listener = newstate == TCPFSM_ST_LISTEN ||
		   (oldstate == TCPFSM_ST_LISTEN && newstate == TCPFSM_ST_CLOSE);
	/* the IPv4-mapped case is settled with the addresses, below */
	if (filt_family == AF_INET6 && t.family != AF_INET6)
		return 0;
	if (!ports_wanted(t.sport, t.dport, listener) &&
	    !(oldstate == TCPFSM_ST_SYN_SENT && connect_unjudged(sk)))
		return 0;
	t.netns = SKC_NETNS(skc, RD_DIRECT);
	if (filt_netns && t.netns != filt_netns)
		return 0;
	owned = sk->sk_lock.owned;
	/*
	 * Only changes made by a task using the socket say who "current" is;
	 * the rest (softirq) pass and are judged by owner in user space. A
	 * connect() or a listener's own change passes whoever makes it: user
	 * space learns the owner there, and forgets a connection it does not
	 * select instead of tracking its softirq changes with no owner.
	 */
	id = bpf_get_current_pid_tgid();
	if (filt_pid && owned && (id >> 32) != filt_pid && !listener &&
	    !(oldstate == TCPFSM_ST_CLOSE && newstate == TCPFSM_ST_SYN_SENT))
		return 0;
	READ_ADDRS(&t, skc, RD_DIRECT);
	if (filt_family && t.family != filt_family && !listener)
		return 0;
	if (n_cidrs && !listener && !addrs_wanted(&t))
		return 0;

	e = new_record(TCPFSM_EV_STATE, &t);
	if (!e)
		return 0;
	e->cookie = bpf_get_socket_cookie(sk);
	if (n_lports || n_ports) {
		/* a key on the stack: 6.1 takes no ring buffer memory as one */
		__u64 cookie = e->cookie;
		__u8 one = 1;

		if (!t.sport && newstate == TCPFSM_ST_SYN_SENT)
			bpf_map_update_elem(&connecting, &cookie, &one, BPF_ANY);
		else if (oldstate == TCPFSM_ST_SYN_SENT)
			bpf_map_delete_elem(&connecting, &cookie);
	}
	e->oldstate = oldstate;
	e->newstate = newstate;
	fill_task(e, id, owned);
	if (tp) {
		e->aux = tp->bytes_acked;
		e->aux2 = tp->bytes_received;
		e->flags |= TCPFSM_F_BYTES;
	}
	if (newstate == TCPFSM_ST_FIN_WAIT2 &&
	    (skc->skc_flags & (1UL << bpf_core_enum_value(enum sock_flags, SOCK_DEAD))))
		e->flags |= TCPFSM_F_DEAD;
	/*
	 * Into CLOSE: the FIN exchange did not end it. tcp_reset() and
	 * tcp_abort() set sk_err before tcp_done(); something of ours (data,
	 * our FIN) still unacknowledged is never a finished exchange (an
	 * abort, an RST, a timeout); close() with SO_LINGER 0 aborts in the
	 * owner's call before it orphans the socket (a close that finishes
	 * the exchange from the backlog of a close() runs after the orphaning).
	 */
	if (tp && (sk->sk_err == ECONNRESET || sk->sk_err == EPIPE ||
		   sk->sk_err == ECONNABORTED || tp->snd_una != tp->write_seq ||
		   (owned &&
		    !(skc->skc_flags & (1UL << bpf_core_enum_value(enum sock_flags, SOCK_DEAD))) &&
		    (skc->skc_flags & (1UL << bpf_core_enum_value(enum sock_flags, SOCK_LINGER))) &&
		    !sk->sk_lingertime)))
		e->flags |= TCPFSM_F_RESET;
	submit(e);
	return 0;
}

/*
 * The kernel does not run a program on a CPU where it is running already:
 * a state change that a softirq makes while handle_set_state runs for a
 * task's connect() or close() (softirqs run on irq exit, preemption off or
 * not) is skipped, about 1 run in 5,000 under loopback load. So a second
 * program on the same tracepoint records the change then, and only then:
 * `busy` says handle_set_state is mid-run on this CPU. The kernel counts
 * the skipped runs (recursion_misses); nested_runs those taken over, so user
 * space counts the difference as lost.
 */
struct {
	__uint(type, BPF_MAP_TYPE_PERCPU_ARRAY);
	__uint(max_entries, 1);
	__type(key, __u32);
	__type(value, __u32);
} busy SEC(".maps");

__u64 nested_runs = 0;

SEC("tp_btf/inet_sock_set_state")
int BPF_PROG(handle_set_state, struct sock *sk, int oldstate, int newstate)
{
	__u32 zero = 0, *b = bpf_map_lookup_elem(&busy, &zero);

	if (b)
		*b = 1;
	set_state(sk, oldstate, newstate);
	if (b)
		*b = 0;
	return 0;
}

SEC("tp_btf/inet_sock_set_state")
int BPF_PROG(handle_set_state_nested, struct sock *sk, int oldstate, int newstate)
{
	__u32 zero = 0, *b = bpf_map_lookup_elem(&busy, &zero);

	if (!b || !*b)
		return 0;
	__sync_fetch_and_add(&nested_runs, 1);
	return set_state(sk, oldstate, newstate);
}

/* ---- twkernel: orphaned FIN_WAIT2 minisockets watched for the FIN ----
 *
 * An orphaned FIN_WAIT2 minisocket that gets the peer's FIN turns TIME_WAIT
 * with its timer re-armed, and when the new expiry stays in the same
 * timer-wheel bucket no timer tracepoint fires. What always fires is
 * skb:kfree_skb for that FIN, at tcp_v4_rcv/tcp_v6_rcv's discard
 * (handle_kfree_skb below). On kernels before 6.11 that tracepoint does not
 * say which socket the skb reached, so the orphans are kept here by 4-tuple
 * from their timer's start until their timer's removal or their FIN.
 */
const volatile bool fin_watch = false;	 /* handle_kfree_skb is attached */

/*
 * Not an LRU map: a full one evicts silently, and an orphan dropped from
 * the watch would look watched. Every entry goes at its orphan's timer
 * removal or its FIN; past TCPFSM_MAX_ORPHANS at once, an orphan's start
 * goes without TCPFSM_F_WATCHED, and user space knows not to rely on it.
 */
struct {
	__uint(type, BPF_MAP_TYPE_HASH);
	__uint(max_entries, TCPFSM_MAX_ORPHANS);
	__type(key, struct tcpfsm_orphan_key);
	__type(value, struct tcpfsm_orphan);
} orphans SEC(".maps");

/*
 * t as a map key: padding zeroed, an IPv4 pair (native or mapped) in word 3
 * alone, so that a minisocket and the packet headers give the same key.
 */
static __always_inline void orphan_key(struct tcpfsm_orphan_key *k,
				       const struct tuple *t)
{
	__builtin_memset(k, 0, sizeof(*k));
	k->netns = t->netns;
	k->sport = t->sport;
	k->dport = t->dport;
	k->family = t->family;
	if (t->family == AF_INET) {
		k->saddr[3] = t->saddr[3];
		k->daddr[3] = t->daddr[3];
	} else {
		__builtin_memcpy(k->saddr, t->saddr, 16);
		__builtin_memcpy(k->daddr, t->daddr, 16);
	}
}

/*
 * Flags for a timewait record of kind, tw_substate sub: an orphan starting
 * is watched for its FIN (TCPFSM_F_WATCHED when it is); a removal ends the
 * watch, and says whether connect() had taken the tuple (TCPFSM_F_REUSED:
 * __inet_check_established() unhashes the minisocket before it removes
 * the timer; every other end removes the timer first).
 */
static __always_inline __u8 tw_watch(struct timer_list *timer, __u8 kind,
				     const struct tuple *t, __u64 cookie,
				     __u8 sub)
{
	struct inet_timewait_sock *tw = (void *)timer -
		bpf_core_field_offset(struct inet_timewait_sock, tw_timer);
	struct tcpfsm_orphan o = { .tw = (__u64)tw, .cookie = cookie };
	struct tcpfsm_orphan_key k;
	__u8 flags = 0;

	if (kind == TCPFSM_EV_TW_CANCEL &&
	    !BPF_CORE_READ(tw, __tw_common.skc_nulls_node.pprev))
		flags |= TCPFSM_F_REUSED;
	if (!fin_watch || sub != TCPFSM_ST_FIN_WAIT2 || kind == TCPFSM_EV_TW_EXPIRE)
		return flags;
	orphan_key(&k, t);
	if (kind == TCPFSM_EV_TW_START) {
		if (!bpf_map_update_elem(&orphans, &k, &o, BPF_ANY))
			flags |= TCPFSM_F_WATCHED;
	} else {
		bpf_map_delete_elem(&orphans, &k);
	}
	return flags;
}
/* ---- end twkernel block ---- */

static __always_inline int minisock_event(struct timer_list *timer, __u8 kind,
					  const bool fast)
{
	struct inet_timewait_sock *tw = NULL;
	struct request_sock *req = NULL;
	const struct sock_common *skc;
	struct tcpfsm_event *e;
	struct tuple t = {};

	/* kind is a constant: each caller keeps one branch */
	if (kind <= TCPFSM_EV_TW_EXPIRE) {
		tw = (void *)timer -
		     bpf_core_field_offset(struct inet_timewait_sock, tw_timer);
		if (fast)
			tw = bpf_rdonly_cast(tw, bpf_core_type_id_kernel(struct inet_timewait_sock));
		skc = &tw->__tw_common;
	} else {
		req = (void *)timer -
		      bpf_core_field_offset(struct request_sock, rsk_timer);
		if (fast)
			req = bpf_rdonly_cast(req, bpf_core_type_id_kernel(struct request_sock));
		skc = &req->__req_common;
	}

	/*
	 * Filters first: a record reserved to be discarded costs as much, and
	 * nothing that only goes into the record is read or computed before.
	 */
	t.family = RD_MINI(skc, skc_family);
	if (filt_family == AF_INET6 && t.family != AF_INET6)
		return 0;
	t.sport = RD_MINI(skc, skc_num);
	t.dport = bpf_ntohs(RD_MINI(skc, skc_dport));
	if (!ports_wanted(t.sport, t.dport, false))
		return 0;
	t.netns = SKC_NETNS(skc, RD_MINI);
	if (filt_netns && t.netns != filt_netns)
		return 0;
	READ_ADDRS(&t, skc, RD_MINI);
	if (filt_family && t.family != filt_family)
		return 0;
	if (n_cidrs && !addrs_wanted(&t))
		return 0;

	e = new_record(kind, &t);
	if (!e)
		return 0;
	/* flags: no task, timers run in softirq, for no one */
	if (kind <= TCPFSM_EV_TW_EXPIRE) {
		__u64 expires = timer->expires, jiffies = bpf_jiffies64();

		e->cookie = RD_MINI(tw, __tw_common.skc_cookie.counter);
		e->newstate = RD_MINI(tw, tw_substate);
		/*
		 * Time left until the timer fires. A FIN reaching an orphaned
		 * FIN_WAIT2 minisocket re-arms the timer for TIME_WAIT, and when
		 * the new expiry falls in the same timer-wheel bucket no timer
		 * tracepoint fires: only the deadline moves. User space infers
		 * when TIME_WAIT began from it (deadline - TCP_TIMEWAIT_LEN).
		 */
		if (tick_ns && (long)(expires - jiffies) >= 0) {
			e->aux = (expires - jiffies) * tick_ns;
			e->flags = TCPFSM_F_DEADLINE;
		}
		e->flags |= tw_watch(timer, kind, &t, e->cookie, e->newstate);
	} else {
		e->newstate = TCPFSM_ST_SYN_RECV;
		e->retrans = RD_MINI(req, num_retrans);
		/* the listener's cookie: the owner of the future child */
		e->aux = RD_MINI(req, __req_common.skc_listener,
				      __sk_common.skc_cookie.counter);
	}
	submit(e);
	return 0;
}

/* ---- twkernel: Fast Open children ---- */
const volatile __u64 write_timer_fn = 0; /* &tcp_write_timer; 0: off */

/*
 * A TCP Fast Open child is made at the SYN, a full socket in SYN_RECV, and
 * no request timer is armed for it: its birth would only be its
 * LISTEN -> SYN_RECV state record, which skip_child_birth drops (and which
 * before 6.13 or so carries the listener's cookie and tuple, not its own).
 * tcp_fastopen_create_child() arms its retransmit timer (tcp_write_timer)
 * right then, so that start stands for its request's: a TCPFSM_EV_REQ_START
 * record by 4-tuple, joined to the child by user space as a request is.
 * Only a socket in SYN_RECV with fastopen_rsk set is one (a simultaneous
 * open's SYN_RECV has none); the state is read first.
 */
static __always_inline int fastopen_child(struct timer_list *timer)
{
	struct sock *sk = (void *)timer -
		bpf_core_field_offset(struct inet_connection_sock, icsk_retransmit_timer);
	const struct sock_common *skc = &sk->__sk_common;
	struct request_sock *req;
	struct tcpfsm_event *e;
	struct tuple t = {};

	if (BPF_CORE_READ(skc, skc_state) != TCPFSM_ST_SYN_RECV)
		return 0;
	req = BPF_CORE_READ((struct tcp_sock *)sk, fastopen_rsk);
	if (!req)
		return 0;
	t.family = BPF_CORE_READ(skc, skc_family);
	if (filt_family == AF_INET6 && t.family != AF_INET6)
		return 0;
	t.sport = BPF_CORE_READ(skc, skc_num);
	t.dport = bpf_ntohs(BPF_CORE_READ(skc, skc_dport));
	if (!ports_wanted(t.sport, t.dport, false))
		return 0;
	t.netns = BPF_CORE_READ(skc, skc_net.net, ns.inum);
	if (filt_netns && t.netns != filt_netns)
		return 0;
	READ_ADDRS(&t, skc, BPF_CORE_READ);
	if (filt_family && t.family != filt_family)
		return 0;
	if (n_cidrs && !addrs_wanted(&t))
		return 0;

	e = new_record(TCPFSM_EV_REQ_START, &t);
	if (!e)
		return 0;
	e->flags = TCPFSM_F_FASTOPEN;
	e->newstate = TCPFSM_ST_SYN_RECV;
	e->retrans = BPF_CORE_READ(req, num_retrans);
	e->aux = BPF_CORE_READ(req, __req_common.skc_listener,
			       __sk_common.skc_cookie.counter);
	submit(e);
	return 0;
}
/* ---- end twkernel block ---- */

/*
 * The timer tracepoints fire for every timer_list on the host: the first
 * thing is one load of timer->function and two compares against constants.
 */
static __always_inline int timer_event(struct timer_list *timer, __u8 tw_kind,
				       __u8 req_kind, const bool fast)
{
	__u64 fn = (__u64)timer->function;

	if (fn == tw_timer_fn)
		return minisock_event(timer, tw_kind, fast);
	if (fn == req_timer_fn)
		return minisock_event(timer, req_kind, fast);
	/* a Fast Open child's SYN: its retransmit timer, armed at the SYN */
	if (tw_kind == TCPFSM_EV_TW_START && write_timer_fn && fn == write_timer_fn)
		return fastopen_child(timer);
	return 0;
}

/*
 * Each timer program twice: NAME with bpf_rdonly_cast, NAME_read without.
 * Only the timer is declared: the arguments after it differ between
 * kernels (timer_start has one more, flags, on 6.1), and a tp_btf program
 * may read fewer arguments than the tracepoint passes.
 */
#define TIMER_PROG(NAME, TP, TW_KIND, REQ_KIND)                              \
	SEC("tp_btf/" TP)                                                     \
	int BPF_PROG(NAME, struct timer_list *timer)                          \
	{                                                                     \
		return timer_event(timer, TW_KIND, REQ_KIND, true);           \
	}                                                                     \
	SEC("tp_btf/" TP)                                                     \
	int BPF_PROG(NAME##_read, struct timer_list *timer)                   \
	{                                                                     \
		return timer_event(timer, TW_KIND, REQ_KIND, false);          \
	}

TIMER_PROG(handle_timer_start, "timer_start", TCPFSM_EV_TW_START,
	   TCPFSM_EV_REQ_START)
TIMER_PROG(handle_timer_cancel, "timer_cancel", TCPFSM_EV_TW_CANCEL,
	   TCPFSM_EV_REQ_CANCEL)
TIMER_PROG(handle_timer_expire, "timer_expire_entry", TCPFSM_EV_TW_EXPIRE,
	   TCPFSM_EV_REQ_EXPIRE)

/* ---- twkernel: FIN into orphans ---- */
/* [lo, hi): the code of tcp_v4_rcv and tcp_v6_rcv, from /proc/kallsyms */
const volatile __u64 v4_rcv_lo = 0, v4_rcv_hi = 0;
const volatile __u64 v6_rcv_lo = 0, v6_rcv_hi = 0;
/* false: as on kernels before 6.11 (the tests try both ways on one kernel) */
const volatile bool use_rx_sk = true;

/*
 * skb:kfree_skb fires for every dropped skb on the host: the first thing is
 * where it was freed, two loads and up to four compares. A FIN that reached
 * a timewait minisocket is freed at tcp_v4_rcv/tcp_v6_rcv's discard after
 * tcp_timewait_state_process() handled it; of those, only a FIN whose
 * 4-tuple is a watched orphan that is now TIME_WAIT makes a record: a
 * TCPFSM_EV_TW_START with TCPFSM_F_FIN, stamped after the change. A FIN
 * with data, an RST or a SYN kills the orphan instead (its timer removal
 * ends the watch before the skb is freed); an out-of-window FIN leaves it
 * in FIN_WAIT2.
 */
SEC("tp_btf/kfree_skb")
int BPF_PROG(handle_kfree_skb, struct sk_buff *skb, void *location)
{
	__u64 loc = (__u64)location, tw;
	struct inet_timewait_sock *rx_tw = NULL;
	struct tcpfsm_orphan_key k;
	struct tcpfsm_orphan *o;
	struct tcpfsm_event *e;
	struct tuple t = {};
	__u64 cookie;

	if (!((loc >= v4_rcv_lo && loc < v4_rcv_hi) ||
	      (loc >= v6_rcv_lo && loc < v6_rcv_hi)))
		return 0;
	/* Linux 6.11+: the socket the skb reached, if any */
	if (use_rx_sk && bpf_core_field_exists(struct trace_event_raw_kfree_skb, rx_sk)) {
		struct sock *rx_sk = (void *)ctx[3];

		if (!rx_sk || rx_sk->__sk_common.skc_state != TCPFSM_ST_TIME_WAIT)
			return 0;
		rx_tw = (void *)rx_sk;
	}
	if (finwatch_skb_key(skb, &k))
		return 0;
	o = bpf_map_lookup_elem(&orphans, &k);
	if (!o)
		return 0;
	tw = rx_tw ? (__u64)rx_tw : o->tw;
	cookie = o->cookie;
	/*
	 * An orphan seeded by user space (tw 0) on a kernel without rx_sk:
	 * its substate cannot be read; an in-window FIN (all but a stray
	 * one) made it TIME_WAIT.
	 */
	if (tw) {
		struct inet_timewait_sock *tws = (void *)tw;

		/* an entry left by an orphan that ended unseen (seeding's race) */
		if (BPF_CORE_READ(tws, __tw_common.skc_cookie.counter) != cookie) {
			bpf_map_delete_elem(&orphans, &k);
			return 0;
		}
		if (BPF_CORE_READ(tws, tw_substate) != TCPFSM_ST_TIME_WAIT)
			return 0; /* out of window: still FIN_WAIT2 */
	}
	bpf_map_delete_elem(&orphans, &k);
	t.netns = k.netns;
	t.sport = k.sport;
	t.dport = k.dport;
	t.family = k.family;
	__builtin_memcpy(t.saddr, k.saddr, 16);
	__builtin_memcpy(t.daddr, k.daddr, 16);

	e = new_record(TCPFSM_EV_TW_START, &t);
	if (!e)
		return 0;
	e->flags = TCPFSM_F_FIN;
	e->newstate = TCPFSM_ST_TIME_WAIT;
	e->cookie = cookie;
	submit(e);
	return 0;
}
/* ---- end twkernel block ---- */

char LICENSE[] SEC("license") = "Dual BSD/GPL";
