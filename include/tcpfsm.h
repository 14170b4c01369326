/* SPDX-License-Identifier: GPL-2.0 OR BSD-2-Clause */
/*
 * The one record definition shared by the BPF program and user space.
 *
 * Everything here is fixed-width, explicitly padded and size-checked, so
 * the layout the kernel writes into the ring buffer is the layout user space
 * reads, and the layout a recorded file stores (see src/record.h).
 */
#ifndef TCPFSM_H
#define TCPFSM_H

#ifdef __bpf__
/* vmlinux.h provides __u8 ... __u64 on the BPF side */
#else
#include <linux/types.h>
#endif

#define TCPFSM_COMM_LEN 16

/* TCP states, numbered as in the kernel's include/net/tcp_states.h. */
enum tcpfsm_state {
	TCPFSM_ST_UNKNOWN = 0,
	TCPFSM_ST_ESTABLISHED = 1,
	TCPFSM_ST_SYN_SENT = 2,
	TCPFSM_ST_SYN_RECV = 3,
	TCPFSM_ST_FIN_WAIT1 = 4,
	TCPFSM_ST_FIN_WAIT2 = 5,
	TCPFSM_ST_TIME_WAIT = 6,
	TCPFSM_ST_CLOSE = 7,
	TCPFSM_ST_CLOSE_WAIT = 8,
	TCPFSM_ST_LAST_ACK = 9,
	TCPFSM_ST_LISTEN = 10,
	TCPFSM_ST_CLOSING = 11,
	TCPFSM_ST_NEW_SYN_RECV = 12,
	TCPFSM_ST_MAX = 13,
};

/* What produced a record. */
enum tcpfsm_kind {
	/* sock:inet_sock_set_state on a full socket: oldstate -> newstate */
	TCPFSM_EV_STATE = 1,
	/*
	 * The timer of an inet_timewait_sock: armed (TIME_WAIT or orphaned
	 * FIN_WAIT2 begins or is rescheduled), removed, fired. newstate holds
	 * tw_substate; with TCPFSM_F_DEADLINE, aux = ns until the timer fires.
	 */
	TCPFSM_EV_TW_START = 2,
	TCPFSM_EV_TW_CANCEL = 3,
	TCPFSM_EV_TW_EXPIRE = 4,
	/*
	 * The timer of a request_sock (half-open SYN_RECV): armed when the SYN
	 * arrives and re-armed on each SYN-ACK retransmission, removed when the
	 * handshake completes or the request is dropped, fired on each SYN-ACK
	 * timeout. cookie is 0 (request socks have none); aux is the
	 * listener's cookie; retrans is num_retrans.
	 */
	TCPFSM_EV_REQ_START = 5,
	TCPFSM_EV_REQ_CANCEL = 6,
	TCPFSM_EV_REQ_EXPIRE = 7,
	/*
	 * Written by user space only, into recordings: the kernel reported
	 * lost records up to here. aux = total lost so far. So a replay knows
	 * what a live run knew.
	 */
	TCPFSM_EV_LOST = 8,
	TCPFSM_EV_KIND_MAX = 9,
};

/* Lost-record counters in the BPF program, indexed by kind (1..7). */
#define TCPFSM_LOST_SLOTS 8

/* flags */
/* ran in a task holding the socket (lock_sock): its syscall or backlog */
#define TCPFSM_F_IN_TASK 0x01
/*
 * TCPFSM_F_IN_TASK was judged: set on every state record, on no other, so
 * it says what kind == TCPFSM_EV_STATE says. Nothing in tcpfsm reads it;
 * the kernel keeps setting it as part of the record ABI (recorded files
 * carry it; the unit tests use it).
 */
#define TCPFSM_F_CTX_KNOWN 0x02
#define TCPFSM_F_BYTES 0x04	/* aux/aux2 hold bytes_acked/bytes_received */
#define TCPFSM_F_DEADLINE 0x08	/* timewait: aux holds ns until the timer fires */
/*
 * State records into FIN_WAIT2 only: the socket is an orphan (SOCK_DEAD),
 * its application has closed it. Usually it hands over to a timewait
 * minisocket at once; when the peer's ACK of our FIN was processed from
 * the socket's backlog (close() still held the lock) or tcp_fin_timeout
 * exceeds 60 s, the orphaned full socket itself waits in FIN_WAIT2.
 */
#define TCPFSM_F_DEAD 0x10
/*
 * The flag bits from 0x20 up mean different things by record kind (one
 * byte holds them all): read each only together with the kind it names.
 *
 * State records into CLOSE only: the FIN exchange did not end it. An RST
 * arrived (sk_err ECONNRESET, or EPIPE in CLOSE_WAIT), sock_diag destroyed
 * it (ECONNABORTED), data or a FIN of ours was still unacknowledged (an
 * abort, an RST, a retransmission timeout), or its owner's close() with
 * SO_LINGER 0 aborted it (an RST is sent where TCP sends one). Recordings
 * from before it lack it.
 */
#define TCPFSM_F_RESET 0x20
/*
 * Timewait records (TCPFSM_EV_TW_START) only: not the timer, the peer's FIN
 * reaching an orphaned FIN_WAIT2 minisocket, which made it TIME_WAIT (seen
 * at skb:kfree_skb of that FIN in tcp_v4_rcv/tcp_v6_rcv). The re-armed
 * timer often stays in its timer-wheel bucket and fires no tracepoint.
 */
#define TCPFSM_F_FIN 0x20
/*
 * Timewait removals (TCPFSM_EV_TW_CANCEL) only: the minisocket had already
 * left the established hash table when its timer was removed, which only
 * connect() taking its 4-tuple does (tcp_tw_reuse, the kernel's
 * TcpExtTWRecycled); an RST, a purge or an expiry unhash it afterwards.
 */
#define TCPFSM_F_REUSED 0x40
/*
 * Timewait starts in FIN_WAIT2 only: the kernel side watches this orphan
 * for the peer's FIN (TCPFSM_F_FIN), so while no such record comes, it is
 * still in FIN_WAIT2.
 */
#define TCPFSM_F_WATCHED 0x80
/*
 * Request starts (TCPFSM_EV_REQ_START) only: not a request sock's timer but
 * the retransmit timer a TCP Fast Open child arms at the SYN (it is a full
 * socket in SYN_RECV from the SYN on; no request timer is armed for it).
 */
#define TCPFSM_F_FASTOPEN 0x20

/*
 * Orphaned FIN_WAIT2 minisockets the kernel side watches for the FIN at
 * once; one that begins past that is not watched (no TCPFSM_F_WATCHED).
 */
#define TCPFSM_MAX_ORPHANS 16384

/*
 * The watch's key: the minisocket's 4-tuple as its own (local first), an
 * IPv4 pair (native or IPv4-mapped) in word 3 alone, the rest zero. User
 * space adds the orphans that existed before tracing (seeding), with tw 0.
 */
struct tcpfsm_orphan_key {
	__u32 netns;
	__u16 sport;	   /* host order */
	__u16 dport;	   /* host order */
	__u16 family;	   /* AF_INET for an IPv4-mapped pair */
	__u16 __pad[3];
	__u32 saddr[4];
	__u32 daddr[4];
};

struct tcpfsm_orphan {
	__u64 tw;	   /* the inet_timewait_sock; 0: added by user space */
	__u64 cookie;
};

_Static_assert(sizeof(struct tcpfsm_orphan_key) == 48,
	       "struct tcpfsm_orphan_key is a map key shared with user space");

/* The kernel's TCP_TIMEWAIT_LEN: how long TIME_WAIT is armed for. */
#define TCPFSM_TIMEWAIT_LEN_NS 60000000000ull

struct tcpfsm_event {
	__u64 ts_ns;	   /* CLOCK_MONOTONIC (bpf_ktime_get_ns) */
	__u64 cookie;	   /* socket cookie, as sock_diag's idiag_cookie */
	__u64 cgroup_id;   /* with TCPFSM_F_IN_TASK: cgroup v2 id of the
			      current task; else 0 */
	__u64 aux;	   /* per kind, see enum tcpfsm_kind */
	__u64 aux2;	   /* per kind */
	/*
	 * State records: tgid and thread id of the current task, which is the
	 * socket's user only with TCPFSM_F_IN_TASK (in softirq it is whoever
	 * was on the CPU). Timer records: 0 (no task).
	 */
	__u32 pid;
	__u32 tid;
	__u32 netns;	   /* network namespace inode */
	__u16 sport;	   /* local port, host order */
	__u16 dport;	   /* remote port, host order */
	__u8 kind;	   /* enum tcpfsm_kind */
	__u8 oldstate;	   /* enum tcpfsm_state */
	__u8 newstate;	   /* enum tcpfsm_state */
	__u8 family;	   /* AF_INET (2) or AF_INET6 (10) */
	__u8 flags;	   /* TCPFSM_F_* */
	__u8 retrans;	   /* request sock: SYN-ACK retransmissions */
	__u8 __pad[2];
	__u8 saddr[16];	   /* local address; IPv4 in the first 4 bytes */
	__u8 daddr[16];	   /* remote address */
	/* with TCPFSM_F_IN_TASK: the current task's name, untrusted bytes;
	 * else empty */
	char comm[TCPFSM_COMM_LEN];
};

_Static_assert(sizeof(struct tcpfsm_event) == 112,
	       "struct tcpfsm_event is part of the ring buffer and file ABI");

/* Maximum ports in a BPF-side port filter (--lport/--rport/--port). */
#define TCPFSM_MAX_PORTS 8

/* Maximum CIDRs in the BPF-side address filter (--addr). */
#define TCPFSM_MAX_CIDRS 16

/*
 * One --addr CIDR as the BPF side matches it: an address matches when
 * (address ^ addr) & mask is zero in all four words (network order). An
 * IPv4 CIDR (an IPv4-mapped IPv6 one is made IPv4) in word 3, words 0-2
 * zero, as the BPF side keeps an IPv4 address (native or mapped); family
 * must equal the socket's (IPv4 for an IPv4-mapped pair).
 */
struct tcpfsm_cidr {
	__u32 addr[4];
	__u32 mask[4];
	__u32 family;
	__u32 __pad;
};

_Static_assert(sizeof(struct tcpfsm_cidr) == 40, "struct tcpfsm_cidr layout");

/* Is the address a (four __u32 words, as the BPF side keeps it) in CIDR c? */
#define TCPFSM_CIDR_HAS(c, a)                                                 \
	(!((((a)[0] ^ (c)->addr[0]) & (c)->mask[0]) |                          \
	   (((a)[1] ^ (c)->addr[1]) & (c)->mask[1]) |                          \
	   (((a)[2] ^ (c)->addr[2]) & (c)->mask[2]) |                          \
	   (((a)[3] ^ (c)->addr[3]) & (c)->mask[3])))

/*
 * ---- tcpfsm serve: aggregation in the kernel (bpf/serve.bpf.c) ----
 * No record per transition: the programs keep each socket's "in this state
 * since" (socket-local storage for full sockets, a hash map for timewait
 * and request minisockets) and add to per-CPU counters and histograms that
 * user space reads when scraped.
 */

/*
 * Histogram slots. Slot i < TCPFSM_SERVE_HIST_FINITE counts durations below
 * its upper bound: with m = TCPFSM_SERVE_HIST_MIN_LOG2 + i / 2, 1.5 * 2^m ns
 * for even i and 2^(m+1) ns for odd i (two slots per power of two, from
 * 12.3 us to 7.3 h); the last slot counts the rest (+Inf).
 */
#define TCPFSM_SERVE_HIST_SLOTS 64	/* a power of two: indexes are masked */
#define TCPFSM_SERVE_HIST_FINITE (TCPFSM_SERVE_HIST_SLOTS - 1)
#define TCPFSM_SERVE_HIST_MIN_LOG2 13

/* The slot of a duration: shared by the BPF side and the unit tests. */
static inline __u32 tcpfsm_serve_hist_slot(__u64 ns)
{
	__u64 v = ns;
	__u32 m = 0, i;

	if (ns < (3ull << (TCPFSM_SERVE_HIST_MIN_LOG2 - 1)))
		return 0;
	/* floor(log2(ns)), in steps the verifier follows */
	if (v >> 32) { v >>= 32; m += 32; }
	if (v >> 16) { v >>= 16; m += 16; }
	if (v >> 8) { v >>= 8; m += 8; }
	if (v >> 4) { v >>= 4; m += 4; }
	if (v >> 2) { v >>= 2; m += 2; }
	if (v >> 1) m += 1;
	i = 2 * (m - TCPFSM_SERVE_HIST_MIN_LOG2) + ((ns >> (m - 1)) & 1);
	return i < TCPFSM_SERVE_HIST_FINITE ? i : TCPFSM_SERVE_HIST_FINITE;
}

struct tcpfsm_serve_hist {
	__u64 slot[TCPFSM_SERVE_HIST_SLOTS];
	__u64 sum_ns;
};

/* How a connection began and ended, for the lifetime histogram. */
enum tcpfsm_serve_open {
	TCPFSM_OPEN_UNKNOWN = 0,	/* began before serve started */
	TCPFSM_OPEN_ACTIVE = 1,		/* connect(): CLOSE -> SYN_SENT */
	TCPFSM_OPEN_PASSIVE = 2,	/* accepted: LISTEN -> SYN_RECV */
	TCPFSM_OPEN_MAX = 3,
};

enum tcpfsm_serve_close {
	TCPFSM_CLOSE_ACTIVE = 0,	/* we sent FIN first (FIN_WAIT1) */
	TCPFSM_CLOSE_PASSIVE = 1,	/* the peer did (CLOSE_WAIT) */
	TCPFSM_CLOSE_ABORT = 2,		/* to CLOSE with no FIN exchange
					   (reset, refused, timed out) */
	TCPFSM_CLOSE_MAX = 3,
};

/* Histogram indices: one per state left, then one per (open, close). */
#define TCPFSM_SERVE_H_STATE(st) (st)
#define TCPFSM_SERVE_H_LIFE(o, c) (16 + (o) * TCPFSM_CLOSE_MAX + (c))
#define TCPFSM_SERVE_NHIST (16 + TCPFSM_OPEN_MAX * TCPFSM_CLOSE_MAX)

/* How a TIME_WAIT (or orphaned FIN_WAIT2) minisocket ended. */
enum tcpfsm_serve_tw_end {
	TCPFSM_TW_END_EXPIRED = 0,	/* its timer ran out */
	TCPFSM_TW_END_EARLY = 1,	/* removed before: reuse, RST, purge */
	TCPFSM_TW_END_MAX = 2,
};

/* How a half-open SYN_RECV (request sock) ended. */
enum tcpfsm_serve_req_end {
	TCPFSM_REQ_END_ESTABLISHED = 0, /* the final ACK came: a child */
	TCPFSM_REQ_END_TIMEOUT = 1,	/* dropped after its SYN-ACK retries */
	TCPFSM_REQ_END_REMOVED = 2,	/* removed otherwise (RST, listener
					   closed, child refused) */
	TCPFSM_REQ_END_MAX = 3,
};

/* What the kernel side could not account for. */
enum tcpfsm_serve_lost {
	TCPFSM_SLOST_STORAGE = 0,	/* bpf_sk_storage_get failed */
	TCPFSM_SLOST_TW_FULL = 1,	/* timewait map full */
	TCPFSM_SLOST_REQ_FULL = 2,	/* request map full */
	TCPFSM_SLOST_GROUP_FULL = 3,	/* group table full (counted in other) */
	TCPFSM_SLOST_MAX = 4,
};

/* Per-CPU counters, one array element. gauge[] are signed deltas:
 * +1 entering a state, -1 leaving it (CLOSE not counted). */
struct tcpfsm_serve_counters {
	__u64 transitions[16][16];	/* [from][to], kernel state numbers */
	__s64 gauge[16];
	__u64 tw_ends[TCPFSM_TW_END_MAX];
	__u64 req_ends[TCPFSM_REQ_END_MAX];
	__u64 synack_retrans;
	__u64 closed[TCPFSM_OPEN_MAX][TCPFSM_CLOSE_MAX];
	__u64 lost[TCPFSM_SLOST_MAX];
	__u64 tw_fw2_to_tw;		/* orphaned FIN_WAIT2 minisocks turned
					   TIME_WAIT (seen at their end) */
	struct tcpfsm_serve_hist hist[TCPFSM_SERVE_NHIST];
};

/* A full socket's socket-local storage. */
struct tcpfsm_serve_sk {
	__u64 since_ns;			/* in state since (bpf_ktime_get_ns) */
	__u64 born_ns;			/* first change seen; 0: before start */
	__u8 state;
	__u8 open;			/* enum tcpfsm_serve_open */
	__u8 close;			/* enum tcpfsm_serve_close, once known */
	__u8 close_known;
	__u32 group;			/* --by: where its state is counted */
};

/*
 * A minisocket's entry: the timewait map's, keyed by the socket cookie the
 * minisocket took over from its full socket (its address when it has none),
 * and the request map's, keyed by 4-tuple.
 */
struct tcpfsm_serve_mini {
	__u64 since_ns;			/* in state since; 0: unknown */
	__u64 mark_ns;			/* cancelled or expired at */
	__u64 born_ns;			/* timewait: its connection's start (0:
					   unknown), from the handover */
	__u64 addr;			/* timewait: the inet_timewait_sock */
	__u8 state;			/* the state it is counted in */
	__u8 mark;			/* TCPFSM_MINI_* */
	/*
	 * timewait: TCPFSM_MINI_LIFE | open << 4 | close of the connection
	 * it continues (handed over by its full socket), counted closed when
	 * the minisocket ends; 0: no handover seen.
	 */
	__u8 life;
	__u8 flags;			/* kernel side only */
	__u32 group;			/* --by: where it is counted */
};

#define TCPFSM_MINI_EXPIRED 1		/* timer ran out, not re-armed yet */
#define TCPFSM_MINI_CANCELLED 2		/* removed, child not joined yet */
#define TCPFSM_MINI_LIFE 0x80		/* life: a handover was seen */

/* The request map's key: a request sock and its child share it. IPv4
 * (native or mapped) in word 3 of the addresses, the rest zero. */
struct tcpfsm_serve_reqkey {
	__u32 netns;
	__u16 sport;
	__u16 dport;
	__u32 saddr[4];
	__u32 daddr[4];
};

_Static_assert(sizeof(struct tcpfsm_serve_reqkey) == 40, "reqkey layout");
_Static_assert(sizeof(struct tcpfsm_serve_mini) == 40, "mini layout");

/*
 * --by: per group, the state gauges and durations. A group is a network
 * namespace's inode (--by netns), or a local port with a listener and
 * TCPFSM_SERVE_GROUP_EPHEMERAL for the rest (--by lport); or
 * TCPFSM_SERVE_GROUP_OTHER once the group table is full.
 */
#define TCPFSM_SERVE_GROUP_EPHEMERAL 0
#define TCPFSM_SERVE_GROUP_OTHER 0x10000	/* no netns inode is this small */

/* What --by groups by. */
#define TCPFSM_SERVE_BY_NONE 0
#define TCPFSM_SERVE_BY_LPORT 1
#define TCPFSM_SERVE_BY_NETNS 2
#define TCPFSM_SERVE_BY_CGROUP 3

/*
 * --by cgroup: the group of a socket's cgroup v2 id (the kernfs node id of
 * its directory; the socket's own, set when it was made, or its
 * listener's). On a 64-bit kernel the id is the directory's inode number,
 * below 2^31 until 2^31 kernfs nodes have been made (the upper half then
 * counts wraps), and its low 31 bits are unique among live cgroups. Bit 31
 * set keeps the key apart from TCPFSM_SERVE_GROUP_EPHEMERAL (0: cgroup not
 * known, as for a minisocket before its socket hands over) and from
 * TCPFSM_SERVE_GROUP_OTHER.
 */
static inline __u32 tcpfsm_serve_cgroup_key(__u64 id)
{
	return id ? (__u32)(id & 0x7fffffffu) | 0x80000000u : 0;
}

struct tcpfsm_serve_group {
	__s64 gauge[16];
	struct tcpfsm_serve_hist hist[16];
};

/* Minisockets' ages, found by serve_refresh (BPF_PROG_RUN). */
/*
 * Per CPU, serve's timewait bookkeeping: the minisocket whose timer this
 * CPU last removed (not at its expiry), and how many entries the scrape's
 * walk must look at (orphaned FIN_WAIT2 or removed early) were made here.
 */
struct tcpfsm_serve_twcpu {
	__u64 pending;			/* its tw_state key; 0: none */
	__u64 gen;			/* only grows */
};

struct tcpfsm_serve_ages {
	__u64 oldest_since_ns[16];	/* 0: none in that state */
	__u64 count[16];
	__u64 stuck[16];
};

#endif /* TCPFSM_H */
