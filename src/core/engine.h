/* SPDX-License-Identifier: GPL-2.0 OR BSD-2-Clause */
/*
 * The lifecycle engine: turns the stream of records (full-socket state
 * changes and minisocket timer events) into connections with a whole
 * lifecycle, an owner and the time spent in every state.
 *
 * Pure: no clocks, no I/O, no globals. Time only moves when the caller says
 * so (engine_advance with a watermark: every event at or before it has
 * been delivered), which is what lets the tests drive it with synthetic
 * arrays and the replay drive it from a file.
 *
 * What it decides (see README, "How it works"):
 * - FIN_WAIT2/CLOSING -> TIME_WAIT comes from the timewait timer's start; the
 *   full socket's own "-> CLOSE" at that moment is its hand-over to the
 *   minisocket and is not a transition of the connection.
 * - A timewait timer removed and fired is a natural expiry; removed alone
 *   (after a short grace, pending_ns) it was killed early: reused when a new
 *   connection with the same 4-tuple is being made, otherwise killed (RST,
 *   purge or netns exit, which the kernel does not let us tell apart).
 * - LISTEN -> SYN_RECV is stamped when the request sock's timer first
 *   starts (the SYN's arrival); the child joins it by 4-tuple. A child with
 *   no request (SYN cookie, Fast Open) is born leaving SYN_RECV, its time
 *   there unknown.
 * - The owner is learned only from process-context transitions, or for a
 *   passive child from its listener; softirq's "current" is never taken.
 */
#ifndef TCPFSM_ENGINE_H
#define TCPFSM_ENGINE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include "event.h"
#include "tcpfsm.h"
#include "u64map.h"

#define CONN_MAX_PATH 8

enum conn_open {
	OPEN_UNKNOWN = 0,
	OPEN_ACTIVE,	/* connect() */
	OPEN_PASSIVE,	/* accepted from a listener */
	OPEN_LISTEN,	/* a listener itself */
};

enum conn_close {
	CLOSE_NONE = 0,
	CLOSE_ACTIVE,	/* we sent FIN first (FIN_WAIT1) */
	CLOSE_PASSIVE,	/* the peer sent FIN first (CLOSE_WAIT) */
	CLOSE_SIMULTANEOUS, /* both at once (CLOSING) */
	CLOSE_RESET,	/* an RST (sent or received) or an abort ended it, in any
			   state (TCPFSM_F_RESET), or it ended without the FIN
			   exchange (ESTABLISHED, CLOSE_WAIT, ... -> CLOSE) */
	CLOSE_FAILED,	/* connect() failed: SYN_SENT -> CLOSE */
	CLOSE_HALF_OPEN, /* a request that never completed the handshake */
	CLOSE_LISTENER,	/* a listener closed */
	CLOSE_UNKNOWN,
};

/* How the last state ended, where the kernel says. */
enum conn_end {
	END_NONE = 0,
	END_EXPIRED,	/* the minisocket's timer ran out */
	END_REUSED,	/* TIME_WAIT taken over by a new connection, same 4-tuple */
	END_KILLED,	/* minisocket removed early: RST, purge or netns exit */
	END_SYNACK_TIMEOUT, /* request dropped after its SYN-ACK retransmissions */
	END_REQ_DROPPED, /* request removed without a child (RST, listener gone) */
	END_GONE,	/* absent from a dump after lost records: when, unknown */
	END_AT_EXIT,	/* still in progress when the stream ended (see
			   engine_foreach_open): end_ns is then, a lower bound */
};

#define CONN_F_BORN 0x01	/* first state seen from its start */
#define CONN_F_INCOMPLETE 0x02	/* events missed: durations are not exact */
#define CONN_F_SEEDED 0x04	/* existed at start: first age is a lower bound */
#define CONN_F_MINISOCK 0x08	/* lives on in a timewait minisocket */
#define CONN_F_REQ 0x10		/* a request sock (half-open), no cookie yet */
#define CONN_F_PENDING 0x20	/* a timer was removed: end to be confirmed */
#define CONN_F_BYTES 0x40	/* bytes_acked/bytes_received are known */
#define CONN_F_LISTED 0x80	/* in the engine's listener list */

struct owner {
	uint32_t pid;	/* 0: unknown */
	uint32_t __pad;
	uint64_t cgroup_id;
	char comm[TCPFSM_COMM_LEN];
};

struct conn {
	uint64_t key;		/* cookie, or a tuple key for request socks */
	uint64_t cookie;
	uint64_t listener;	/* passive: the listener's cookie */
	uint64_t bytes_acked;
	uint64_t bytes_received;
	uint64_t pending_ns;	/* when the pending timer removal happened */
	uint64_t end_ns;	/* set when the connection ends */
	uint64_t stuck_at_ns;	/* threshold already reported (stuck) */
	uint64_t tw_deadline_ns; /* when the timewait timer will fire */
	uint64_t orphan_ns;	/* FIN_WAIT2 left to a minisocket at; 0: not */
	uint64_t last_ns;	/* its latest record (or seeding) */
	struct tuple t;
	struct owner owner;
	uint32_t loss_epoch;
	uint8_t state;
	uint8_t flags;
	uint8_t open_kind;	/* enum conn_open */
	uint8_t close_kind;	/* enum conn_close */
	uint8_t end;		/* enum conn_end */
	uint8_t retrans;	/* SYN-ACK retransmissions of its request */
	uint8_t npath;
	uint8_t pending_kind;	/* TCPFSM_EV_* that made it pending */
	uint8_t tw_substate;
	uint8_t path_state[CONN_MAX_PATH];
	/*
	 * A path longer than CONN_MAX_PATH keeps its first state and its
	 * latest; entry 1 then stands for the states folded out between
	 * them (how many, saturating, and which), with their time together.
	 * Both fit in what was padding.
	 */
	uint8_t nfolded;
	/*
	 * Set when it ends: how the FIN exchange had begun (CLOSE_ACTIVE,
	 * CLOSE_PASSIVE, CLOSE_SIMULTANEOUS; CLOSE_NONE: it had not), whatever
	 * ended it (close_kind CLOSE_RESET: an RST, after that beginning).
	 */
	uint8_t closing_kind;
	uint16_t folded_states;	/* 1 << state, of each folded state */
	/*
	 * Its orphaned FIN_WAIT2 minisocket is watched for the FIN by the
	 * kernel side (TCPFSM_F_WATCHED; ENGINE_SEED_WATCHED): a FIN record
	 * will say when TIME_WAIT began. In what was padding.
	 */
	uint8_t fin_watched;
	uint64_t path_since[CONN_MAX_PATH]; /* entry time; 0: unknown */
};

/* How much is known of a duration. */
enum dur_known {
	DUR_UNKNOWN = 0,
	DUR_EXACT,
	DUR_LOWER_BOUND, /* state began before tracing started */
};

/*
 * How much is known of a time measured from when path entry i began (its
 * current state: i = npath - 1): a seeded connection's first state began
 * before tracing did, so from its seeded start only a lower bound. The one
 * place that rule is written.
 */
static inline uint8_t conn_since_known(const struct conn *c, int i)
{
	return i <= 0 && (c->flags & CONN_F_SEEDED) ? DUR_LOWER_BOUND : DUR_EXACT;
}

/*
 * How much is known of the time of path entry i up to the end: as from its
 * start (conn_since_known), but only a lower bound for the state it was
 * still in at exit (END_AT_EXIT). The one place that rule is written.
 */
static inline uint8_t conn_until_known(const struct conn *c, int i)
{
	return c->end == END_AT_EXIT && i == c->npath - 1 ? DUR_LOWER_BOUND :
							     conn_since_known(c, i);
}

/*
 * When it ended is known: not for one found gone (END_GONE), whose end is
 * stamped when tcpfsm learned of it. The one place that rule is written.
 */
static inline bool conn_end_known(const struct conn *c)
{
	return c->end != END_GONE;
}

struct transition {
	uint64_t ts_ns;
	uint64_t prev_ns;	/* time spent in oldstate */
	const struct conn *conn;
	const struct tcpfsm_event *ev; /* NULL when synthesized */
	uint8_t oldstate;
	uint8_t newstate;
	uint8_t prev_known;	/* enum dur_known */
	uint8_t end;		/* enum conn_end, for "-> CLOSE" from a minisocket */
	uint8_t synth;		/* derived from a minisocket timer */
	uint8_t inferred;	/* time inferred from the timer's deadline */
	uint8_t orphan;		/* oldstate FIN_WAIT2 ended as an orphan */
	uint8_t illegal;	/* not a move of TCP's state machine (tcpstate.h) */
	uint64_t orphan_ns;	/* of prev_ns, the time as an orphan */
};

struct engine_cb {
	void (*transition)(void *ctx, const struct transition *t);
	/* a connection ended: its whole lifecycle (conn->end_ns is set) */
	void (*closed)(void *ctx, const struct conn *c);
	/* in its state for at least threshold_ns; at_exit: reported at finish */
	void (*stuck)(void *ctx, const struct conn *c, uint64_t now_ns,
		      uint64_t threshold_ns, bool at_exit);
	void *ctx;
};

struct engine_config {
	size_t max_conns;	/* bound on tracked connections */
	uint64_t pending_ns;	/* grace to confirm a timer removal */
	uint64_t stuck_ns[TCPFSM_ST_MAX]; /* 0: no alert for that state */
	uint64_t stuck_scan_ns;	/* how often to look for stuck connections */
};

struct engine_stats {
	uint64_t events;
	uint64_t conns;		/* currently tracked */
	uint64_t peak_conns;
	uint64_t closed;
	uint64_t evicted;	/* dropped to stay under max_conns */
	uint64_t gaps;		/* oldstate did not match what we knew */
	uint64_t duplicates;
	uint64_t repeats;	/* records setting the state it was in (folded) */
	uint64_t out_of_order;
	uint64_t untracked;	/* records no connection took: cookie 0, no memory */
	uint64_t lost_epochs;	/* times the kernel reported lost records */
	uint64_t incomplete;	/* finished connections conn_incomplete() */
	uint64_t gone;		/* ended by engine_reconcile() */
	uint64_t illegal;	/* transitions TCP's state machine does not have */
	uint64_t forgotten;	/* dropped by engine_forget() */
};

struct engine;

#define ENGINE_DEFAULT_MAX_CONNS (1u << 21)
#define ENGINE_DEFAULT_PENDING_NS 20000000ull /* 20 ms */

void engine_config_default(struct engine_config *cfg);
struct engine *engine_new(const struct engine_config *cfg,
			  const struct engine_cb *cb);
void engine_free(struct engine *e);

void engine_event(struct engine *e, const struct tcpfsm_event *ev);
/*
 * The filters dropped the connection whose cookie this is (a record of it
 * showed what its earlier ones did not, its connect's port): stop tracking
 * it, saying nothing. Never a listener (its children take their owner from
 * it). Returns whether it was tracked.
 */
bool engine_forget(struct engine *e, uint64_t cookie);
/* Every event up to now_ns has been delivered: settle what waited on it. */
void engine_advance(struct engine *e, uint64_t now_ns);
/* End of the stream: settle everything, report what is still stuck. */
void engine_finish(struct engine *e, uint64_t now_ns);
/*
 * Records from before at_ns were lost (the kernel's ring buffer was full,
 * or tcpfsm had no memory): every live connection becomes incomplete, and
 * so does one first seen later from a record older than at_ns.
 */
void engine_note_lost(struct engine *e, uint64_t at_ns);

/*
 * After lost records: end every connection whose end was among them. alive
 * holds the cookies a sock_diag dump that began at t0 saw (any value);
 * netns_read the inodes of the namespaces it read whole (NULL: all of
 * them). A connection ends here, END_GONE, when all of these hold:
 * - it was tracked when a loss was noted, or first seen from a record older
 *   than one (engine_note_lost): records of its may be among those lost;
 * - it has a cookie (not a request sock: those are keyed by tuple, and
 *   stay; nor a minisocket known only by tuple);
 * - no timer removal of its waits to be settled (that end is known);
 * - its latest record is older than t0: nothing of it since the dump began;
 * - its namespace was read whole, and its cookie is not in alive.
 * The caller has delivered every record up to the dump's end first, so
 * that one whose end was recorded has ended already. Its last state's
 * time is unknown (it ended unseen, some time before the dump read it);
 * the end is stamped at the engine's now, when tcpfsm learned it; it is
 * incomplete; a listener leaves the listener list. Returns how many
 * ended, or -ENOMEM (then none did).
 */
int engine_reconcile(struct engine *e, const struct u64map *alive,
		     const struct u64map *netns_read, uint64_t t0);

/*
 * A socket that existed before tracing began, from a sock_diag dump that
 * began at now_ns. engine_seed_done(): the dump ended at end_ns. A dump reads
 * each socket at some moment in between, and tracing began before the dump
 * did, so a seeded socket's records from up to end_ns may precede its seeded
 * state: they are followed instead.
 * ENGINE_SEED_MINISOCK: a timewait minisocket (sock_diag's timer 3), whose
 * state is its substate, TIME_WAIT or an orphaned FIN_WAIT2; tw_deadline_ns:
 * when its timer fires, 0 if not known. ENGINE_SEED_ORPHAN: a full socket no
 * file refers to any more (sock_diag's inode 0): in FIN_WAIT2, an orphan's.
 */
#define ENGINE_SEED_MINISOCK 0x1u
#define ENGINE_SEED_ORPHAN 0x2u
/* with ENGINE_SEED_MINISOCK in FIN_WAIT2: the kernel side watches its FIN */
#define ENGINE_SEED_WATCHED 0x4u
int engine_seed(struct engine *e, uint64_t cookie, uint8_t state,
		const struct tuple *t, const struct owner *o, uint64_t now_ns,
		unsigned int flags, uint64_t tw_deadline_ns);
void engine_seed_done(struct engine *e, uint64_t end_ns);

void engine_foreach(struct engine *e,
		    void (*fn)(void *ctx, const struct conn *c), void *ctx);
/*
 * At the end of the stream (after engine_finish): each connection still in
 * progress, oldest first, as the lifecycle it has so far: a copy with
 * end = END_AT_EXIT and end_ns = now_ns, so that its last state's time
 * (and its lifetime) is the time so far, a lower bound; close_kind
 * CLOSE_NONE, closing_kind who had sent a FIN. The engine is not changed.
 * Returns how many, or -ENOMEM (then none was passed).
 */
int engine_foreach_open(struct engine *e, uint64_t now_ns,
			void (*fn)(void *ctx, const struct conn *c), void *ctx);
/*
 * The same a part at a time: at most max connections, from where the last
 * call stopped (from: 0 at first, then what it returned) until it returns
 * ENGINE_WALK_DONE. The table may change between calls: a connection may
 * then be seen twice, or not at all.
 */
#define ENGINE_WALK_DONE ((size_t)-1)
size_t engine_foreach_some(struct engine *e, size_t from, size_t max,
			   void (*fn)(void *ctx, const struct conn *c), void *ctx);
const struct engine_stats *engine_stats(const struct engine *e);

/*
 * Duration of path entry i (0 if unknown, *known says which). For the
 * folded entry, the time of all the states it stands for.
 */
uint64_t conn_path_ns(const struct conn *c, int i, uint8_t *known);
/* How many states path entry i stands for when folded; 0: one state, its own. */
unsigned int conn_path_folded(const struct conn *c, int i);
/* Every state the path went through, folded ones included: 1 << state. */
uint32_t conn_path_states(const struct conn *c);
uint64_t conn_since(const struct conn *c);
/* Events were missed, or its start was never seen: durations not exact. */
bool conn_incomplete(const struct conn *c);
/*
 * Of path state i, the time it spent as an orphan: a FIN_WAIT2 whose
 * application socket was released, held by a timewait minisocket. false when
 * it was none (or its end is not known yet).
 */
bool conn_path_orphan(const struct conn *c, int i, uint64_t *ns);
const char *conn_open_name(unsigned int open);
const char *conn_close_name(unsigned int close);
const char *conn_end_name(unsigned int end);

#endif
