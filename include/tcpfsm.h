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

/* Maximum ports in a BPF-side port filter (--lport/--rport). */
#define TCPFSM_MAX_PORTS 8

#endif /* TCPFSM_H */
