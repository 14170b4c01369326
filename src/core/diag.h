/* SPDX-License-Identifier: GPL-2.0 OR BSD-2-Clause */
/*
 * The sock_diag client: TCP sockets of the current network namespace,
 * dumped over NETLINK_SOCK_DIAG with inet_diag_req_v2 requests.
 *
 * Three layers, usable on their own:
 *  - diag_bc_compile()/diag_build_request(): pure builders for the request
 *    and the kernel-side filter (inet_diag bytecode);
 *  - diag_parse(): a pure parser over the bytes of netlink replies (one
 *    recv() buffer, or several concatenated), tested and fuzzed without
 *    root;
 *  - diag_dump(): the I/O, one call per snapshot.
 * And a pure tally for summaries (diag_tally_*).
 *
 * Every function returns 0 (or a count/length) or -errno; nothing prints.
 */
#ifndef TCPFSM_DIAG_H
#define TCPFSM_DIAG_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include "filter.h"
#include "tcpfsm.h"

/* One socket as sock_diag reports it. */
struct diag_sock {
	uint64_t cookie;	/* idiag_cookie[0] | idiag_cookie[1] << 32 */
	uint64_t cgroup_id;	/* INET_DIAG_CGROUP_ID; 0 if not reported */
	uint32_t uid;
	uint32_t inode;		/* 0 for TIME_WAIT and request socks */
	uint32_t ifindex;	/* bound device, 0 if none */
	uint32_t expires_ms;	/* timer: remaining time */
	uint32_t rqueue;	/* LISTEN: accept queue; else unread bytes */
	uint32_t wqueue;	/* LISTEN: backlog; else unacked bytes */
	uint16_t sport;		/* local port, host order */
	uint16_t dport;		/* remote port, host order */
	uint8_t family;		/* AF_INET or AF_INET6 (of the addresses) */
	uint8_t state;		/* enum tcpfsm_state, as the kernel reports */
	uint8_t timer;		/* enum diag_timer */
	uint8_t retrans;	/* timer: retransmits / probes */
	uint8_t flags;		/* DIAG_SF_* */
	uint8_t __pad[3];
	uint8_t saddr[16];	/* local address; IPv4 in the first 4 bytes */
	uint8_t daddr[16];	/* remote address */
	/*
	 * The socket's value in the BPF socket-storage map asked for
	 * (diag_query.map_id, diag_parse_state.map_id): storage_len bytes at
	 * storage, inside the reply, so valid only during the callback (copy
	 * it out). NULL and 0 if not asked, if the socket has none (request
	 * and TIME_WAIT socks never have) or if only other maps' are reported.
	 */
	uint32_t storage_len;
	const void *storage;
};

/* diag_sock.flags */
#define DIAG_SF_V4MAPPED 0x01	/* an AF_INET6 socket with IPv4-mapped addresses */

/* idiag_timer values */
enum diag_timer {
	DIAG_TIMER_NONE = 0,
	DIAG_TIMER_ON = 1,	/* retransmit (or SYN-ACK) timer */
	DIAG_TIMER_KEEPALIVE = 2,
	DIAG_TIMER_TIMEWAIT = 3,
	DIAG_TIMER_PROBE = 4,	/* zero window probe */
};

/* "on", "keepalive", "timewait", "persist", "unknown" (as ss spells them). */
const char *diag_timer_name(unsigned int timer);

/*
 * Called per socket; a non-zero return stops the parse (or dump) and is
 * returned. Only if diag_query.restartable is set, diag_dump() also calls
 * it with s == NULL when a dump came back marked NLM_F_DUMP_INTR
 * (inconsistent) and it would repeat it: return 0 after forgetting every
 * socket delivered since diag_dump() began, or non-zero to keep them (no
 * repeat; info->intr is set). diag_parse() and diag_parse_dumps() never
 * pass NULL.
 */
typedef int (*diag_sock_cb)(void *ctx, const struct diag_sock *s);

/* ---- kernel-side filter: inet_diag bytecode ---- */

#define DIAG_MAX_PORTS 16
#define DIAG_MAX_CIDRS 16
/* Enough for the largest filter diag_bc_compile() can produce. */
#define DIAG_BC_MAX 2048

/*
 * Sockets whose local port is one of lports (if any), AND whose remote port
 * is one of rports (if any), AND one of whose two addresses is in one of
 * cidrs (if any). An IPv4 CIDR also matches IPv4-mapped IPv6 addresses.
 */
struct diag_filter {
	uint16_t lports[DIAG_MAX_PORTS];
	uint16_t rports[DIAG_MAX_PORTS];
	struct cidr cidrs[DIAG_MAX_CIDRS];
	uint16_t ports[DIAG_MAX_PORTS];	/* either end's */
	int n_lports;
	int n_rports;
	int n_cidrs;
	int n_ports;
};

/* Addresses are parsed and matched by filter.h: cidr_parse, cidr_match. */

/*
 * Compile the filter to INET_DIAG_BC_* ops into buf. Returns the length in
 * bytes, 0 when the filter is empty (send no bytecode), -EINVAL for a bad
 * filter, -ENOSPC if len is too small (DIAG_BC_MAX always suffices).
 */
int diag_bc_compile(const struct diag_filter *f, void *buf, size_t len);
/*
 * f (and -4/-6's family, 0: any) as the struct filter every command judges
 * a socket by (filter_tuple): the bytecode only narrows what the kernel
 * sends, filter_tuple decides, live and for --from-raw alike. At most
 * TCPFSM_MAX_PORTS ports of each kind and FILTER_MAX_ADDRS CIDRs are
 * taken (the options allow no more).
 */
void diag_filter_selection(const struct diag_filter *f, uint8_t family,
			   struct filter *out);

/* ---- request ---- */

/* Every state, TIME_WAIT and NEW_SYN_RECV (request socks) included. */
#define DIAG_STATES_ALL ((1u << TCPFSM_ST_MAX) - 1)

/*
 * Build one TCP dump request (NLM_F_REQUEST | NLM_F_DUMP) in buf: for
 * AF_INET or AF_INET6 a SOCK_DIAG_BY_FAMILY message with inet_diag_req_v2,
 * for AF_UNSPEC (both families at once) the legacy TCPDIAG_GETSOCK message
 * with inet_diag_req, whose replies are TCPDIAG_GETSOCK messages. The state
 * mask as given (bit n = state n; the kernel reports request socks, bit
 * 12, as SYN_RECV), no extensions, and the bytecode as
 * INET_DIAG_REQ_BYTECODE if bc_len > 0. Returns the message length, or
 * -ENOSPC / -EINVAL.
 */
int diag_build_request(void *buf, size_t len, uint8_t family, uint32_t states,
		       const void *bc, size_t bc_len, uint32_t seq);

/*
 * The same, also asking (if map_fd >= 0) for every socket's value in the
 * BPF socket-storage map open as map_fd: INET_DIAG_REQ_SK_BPF_STORAGES
 * { SK_DIAG_BPF_STORAGE_REQ_MAP_FD }, after the bytecode, as
 * `ss --bpf-maps` asks. With map_fd < 0 the bytes of diag_build_request().
 */
int diag_build_request_map(void *buf, size_t len, uint8_t family,
			   uint32_t states, const void *bc, size_t bc_len,
			   int map_fd, uint32_t seq);

/* ---- reply parser (pure) ---- */

struct diag_parse_state {
	uint32_t seq;		/* in: only messages with this seq (0: any) */
	uint32_t map_id;	/* in: take the socket storage of this map
				   (INET_DIAG_SK_BPF_STORAGES) into
				   diag_sock.storage; 0: none, skipped */
	bool done;		/* out: NLMSG_DONE (or an error) seen */
	bool intr;		/* out: NLM_F_DUMP_INTR seen: dump inconsistent */
	int error;		/* out: the kernel's -errno from NLMSG_ERROR/DONE */
	size_t consumed;	/* out: bytes used, up to and including DONE */
	uint64_t nsocks;	/* out: sockets passed to the callback */
	uint64_t skipped;	/* out: messages skipped (other seq or type) */
};

/*
 * Parse the netlink messages in buf (len bytes), calling cb for every
 * socket. Stops after NLMSG_DONE (st->done, st->consumed says where). Never
 * reads outside buf. Unknown message types, foreign sequence numbers and
 * unknown attributes are skipped; NLM_F_DUMP_INTR sets st->intr. With
 * st->map_id set, the storages a socket reports are checked as the rest
 * (malformed: -EBADMSG) and the value of that map is given in s->storage.
 * Returns 0, -EBADMSG for truncated or malformed bytes, the kernel's
 * -errno from NLMSG_ERROR (also in st->error), or cb's non-zero return.
 * st is initialised by the caller (zero it, optionally set seq) and
 * carries over between the buffers of one dump.
 */
int diag_parse(const void *buf, size_t len, diag_sock_cb cb, void *ctx,
	       struct diag_parse_state *st);

/* ---- dump (I/O) ---- */

struct diag_query {
	/*
	 * AF_INET, AF_INET6, or 0 for both: of the addresses, as
	 * diag_sock.family (an AF_INET6 socket speaking IPv4 is AF_INET)
	 */
	uint8_t family;
	uint32_t states;	/* state bit mask; 0 means DIAG_STATES_ALL */
	const struct diag_filter *filter; /* NULL: no kernel-side filter */
	bool restartable;	/* cb understands s == NULL (see diag_sock_cb) */
	int intr_retries;	/* repeats on NLM_F_DUMP_INTR; 0: 3, <0: none */
	FILE *raw;		/* non-NULL: also write every reply here, as
				   received (fixtures; see --dump-raw) */
	/*
	 * Socket-local storage: with map_id non-zero, ask for the values of
	 * the BPF_MAP_TYPE_SK_STORAGE map open as map_fd, whose id is map_id
	 * (the kernel reports maps by id), and give each full socket's in
	 * diag_sock.storage. Needs CAP_BPF (else the dump fails -EPERM).
	 * map_id 0: not asked, map_fd unused.
	 */
	int map_fd;
	uint32_t map_id;
};

struct diag_dump_info {
	uint64_t nsocks;	/* sockets delivered (since the last restart) */
	unsigned int dumps;	/* complete dumps delivered (since then too) */
	uint64_t reply_bytes;	/* netlink bytes received, all attempts */
	unsigned int recvs;	/* recv() calls */
	unsigned int intr_retries; /* dumps repeated because of DUMP_INTR */
	bool intr;		/* what was delivered is marked DUMP_INTR */
};

/*
 * Dump the TCP sockets of the caller's network namespace (the namespace
 * the calling thread is in when this opens its socket: setns() first to
 * read another one). With family 0, one request returns both families (the
 * kernel's tables are walked once; kernels without that request get one
 * request per family, IPv4 first). Replies are parsed as they arrive and
 * each socket goes to cb at once, from the caller's thread; nothing is
 * allocated per socket. A dump the kernel marks NLM_F_DUMP_INTR is
 * repeated, up to intr_retries times, if q->restartable and cb accepts the
 * restart (see diag_sock_cb); otherwise info->intr tells the caller.
 *
 * Returns 0 or -errno: -EPERM/-EACCES without the privileges, -ENOENT or
 * -EPROTONOSUPPORT without sock_diag for TCP, the kernel's error for a
 * rejected request, -EBADMSG for a malformed reply, or cb's non-zero
 * return. info may be NULL.
 *
 * For the tracer: seeding existing connections is
 *	struct diag_query q = { 0 };	// both families, all states
 *	diag_dump(&q, seed_cb, ctx, NULL);
 * where seed_cb reads s->cookie, s->state, the tuple and s->inode (0 for
 * TIME_WAIT and request socks); check info->intr (NULL info: not told).
 */
int diag_dump(const struct diag_query *q, diag_sock_cb cb, void *ctx,
	      struct diag_dump_info *info);

/* ---- recorded dumps (pure) ---- */

/*
 * Replay what diag_dump() wrote to q->raw (snapshot --dump-raw; several
 * recordings may be appended): deliver to cb the sockets live dumping
 * delivered, and nothing else.
 *  - A run of dumps with rising sequence numbers is one diag_dump() call;
 *    a number not above the last starts another (each call, like each
 *    --watch round, begins at 1). The sockets of every run are delivered.
 *  - In a run, an attempt is one dump, or a refusal of the both-families
 *    request (-EOPNOTSUPP/-EINVAL, no sockets) and the per-family dumps
 *    after it. An attempt marked NLM_F_DUMP_INTR that the run repeats is
 *    skipped (info->intr_retries counts them), as live dumping forgets it;
 *    the last one is kept even if marked (info->intr).
 * The whole buffer is checked before cb sees a socket. Returns 0, -EBADMSG
 * for malformed bytes, -ENODATA for a buffer that is empty or does not end
 * with NLMSG_DONE (cut short), the kernel's -errno a dump ended with, -ENOMEM,
 * or cb's non-zero return. info (may be NULL): nsocks and dumps delivered,
 * reply_bytes = len, intr, intr_retries; recvs 0.
 */
int diag_parse_dumps(const void *buf, size_t len, diag_sock_cb cb, void *ctx,
		     struct diag_dump_info *info);

/* ---- summary: counts per state and per (state, key) ---- */

enum diag_group {
	DIAG_BY_NONE = 0,
	DIAG_BY_LPORT,
	DIAG_BY_RPORT,
	DIAG_BY_RADDR,
	DIAG_BY_COMM,
};

/* "lport", "rport", "raddr", "comm" -> enum; -1 if unknown. */
int diag_group_parse(const char *s);
/* The other way: the name diag_group_parse() takes; "" for DIAG_BY_NONE. */
const char *diag_group_name(enum diag_group by);

struct diag_tally_entry {
	uint64_t count;
	uint8_t state;
	uint8_t family;		/* DIAG_BY_RADDR */
	uint16_t port;		/* DIAG_BY_LPORT / DIAG_BY_RPORT */
	uint8_t addr[16];	/* DIAG_BY_RADDR */
	char comm[TCPFSM_COMM_LEN]; /* DIAG_BY_COMM, NUL-padded */
};

struct diag_tally {
	enum diag_group by;
	uint64_t count[TCPFSM_ST_MAX + 1]; /* last slot: states out of range */
	uint64_t total;
	struct diag_tally_entry *slots;	/* open addressing; count 0 = empty */
	size_t nslots;			/* power of two */
	size_t nused;
};

void diag_tally_init(struct diag_tally *t, enum diag_group by);
/*
 * Count one socket. comm is its owner (DIAG_BY_COMM; NULL or "" counts as
 * "-"). Returns 0 or -ENOMEM (the per-state count is kept regardless).
 */
int diag_tally_add(struct diag_tally *t, const struct diag_sock *s,
		   const char *comm);
/*
 * For every state, in one walk of the tally: the up to n keys holding most
 * sockets in it, most first (ties: the smaller key first), at
 * out[state * n], their number in nout[state]. out holds
 * (TCPFSM_ST_MAX + 1) * n entries and nout TCPFSM_ST_MAX + 1 counts; the
 * last state slot gathers states out of range, as count[] does. Returns 0.
 */
int diag_tally_tops(const struct diag_tally *t, struct diag_tally_entry *out,
		    int *nout, int n);
void diag_tally_free(struct diag_tally *t);

#endif
