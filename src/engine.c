// SPDX-License-Identifier: GPL-2.0 OR BSD-2-Clause
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include "array.h"
#include "engine.h"
#include "tcpstate.h"

#define REQ_KEY_BIT (1ull << 63)	/* request socks: keyed by 4-tuple */
#define TW_KEY_BIT (1ull << 62)		/* timewait socks with no cookie */
/*
 * Children born without their identity (anon_birth), kept by local port
 * until their next change: it follows within microseconds, in the same
 * softirq, so a few slots and a second's patience are plenty.
 */
#define BIRTH_SLOTS 64
#define BIRTH_MAX_NS 1000000000ull

struct engine {
	struct engine_config cfg;
	struct engine_cb cb;
	struct u64map map;	/* key -> struct conn * */
	/*
	 * Connections with CONN_F_PENDING set, in the order their removals
	 * came (so by due time): entries [phead, npending) are live. An entry
	 * whose connection moved its pending time on is queued again.
	 */
	struct pending {
		uint64_t key;
		uint64_t due;	/* pending_ns + grace, when queued */
	} *pending;
	size_t phead, npending, cap_pending;
	struct conn **listeners; /* conns in LISTEN (CONN_F_LISTED) */
	size_t nlisteners, cap_listeners;
	/* children born before they had a cookie: see anon_birth() */
	struct tcpfsm_event births[BIRTH_SLOTS];
	uint64_t now;
	uint64_t seed_end;	/* the seeding dump ended */
	uint64_t last_scan;
	uint32_t loss_epoch;
	uint64_t loss_ts;	/* records from before this may be missing */
	uint64_t ev_ts;		/* the record being handled */
	bool any_stuck;
	struct engine_stats st;
};

void engine_config_default(struct engine_config *cfg)
{
	memset(cfg, 0, sizeof(*cfg));
	cfg->max_conns = ENGINE_DEFAULT_MAX_CONNS;
	cfg->pending_ns = ENGINE_DEFAULT_PENDING_NS;
	cfg->stuck_scan_ns = 1000000000ull;
}

struct engine *engine_new(const struct engine_config *cfg,
			  const struct engine_cb *cb)
{
	struct engine *e = calloc(1, sizeof(*e));
	int i;

	if (!e)
		return NULL;
	e->cfg = *cfg;
	if (!e->cfg.max_conns)
		e->cfg.max_conns = ENGINE_DEFAULT_MAX_CONNS;
	if (!e->cfg.stuck_scan_ns)
		e->cfg.stuck_scan_ns = 1000000000ull;
	e->cb = *cb;
	for (i = 0; i < TCPFSM_ST_MAX; i++)
		if (cfg->stuck_ns[i])
			e->any_stuck = true;
	if (u64map_init(&e->map, 1024, e->cfg.max_conns)) {
		free(e);
		return NULL;
	}
	return e;
}

static void free_conn_cb(void *ctx, const struct conn *c)
{
	(void)ctx;
	free((void *)c);
}

void engine_free(struct engine *e)
{
	if (!e)
		return;
	engine_foreach(e, free_conn_cb, NULL);
	u64map_free(&e->map);
	free(e->pending);
	free(e->listeners);
	free(e);
}

const struct engine_stats *engine_stats(const struct engine *e)
{
	return &e->st;
}

static struct conn *slot_conn(const struct u64map_slot *s)
{
	return (struct conn *)(uintptr_t)s->val;
}

void engine_foreach(struct engine *e,
		    void (*fn)(void *ctx, const struct conn *c), void *ctx)
{
	u64map_foreach(&e->map, s)
		fn(ctx, slot_conn(s));
}

size_t engine_foreach_some(struct engine *e, size_t from, size_t max,
			   void (*fn)(void *ctx, const struct conn *c), void *ctx)
{
	struct u64map_slot *s = u64map_from(&e->map, from);

	for (; s && max; max--) {
		fn(ctx, slot_conn(s));
		s = u64map_from(&e->map, (size_t)(s - e->map.slots) + 1);
	}
	return s ? (size_t)(s - e->map.slots) : ENGINE_WALK_DONE;
}

static struct conn *get(const struct engine *e, uint64_t key)
{
	uint64_t *v = u64map_get(&e->map, key);

	return v ? (struct conn *)(uintptr_t)*v : NULL;
}

bool conn_incomplete(const struct conn *c)
{
	return (c->flags & CONN_F_INCOMPLETE) ||
	       !(c->flags & (CONN_F_BORN | CONN_F_SEEDED));
}

uint64_t conn_since(const struct conn *c)
{
	return c->npath ? c->path_since[c->npath - 1] : 0;
}

static void evict_one(struct engine *e, uint64_t key);

/* A record of c is being handled (records come in time order, nearly). */
static void touch(const struct engine *e, struct conn *c)
{
	if (e->ev_ts > c->last_ns)
		c->last_ns = e->ev_ts;
}

static struct conn *conn_new(struct engine *e, uint64_t key,
			     const struct tuple *t)
{
	struct conn *c = calloc(1, sizeof(*c));
	int err;

	if (!c)
		return NULL;
	c->key = key;
	c->t = *t;
	c->last_ns = e->ev_ts;
	c->loss_epoch = e->loss_epoch;
	/*
	 * First seen after a loss was noticed, from a record older than the
	 * notice (records wait in the reorder buffer; the notice does not):
	 * its earlier records may be among those lost.
	 */
	if (e->ev_ts < e->loss_ts)
		c->loss_epoch--;
	err = u64map_put(&e->map, key, (uintptr_t)c);
	if (err == -ENOSPC) {
		evict_one(e, key);
		err = u64map_put(&e->map, key, (uintptr_t)c);
	}
	if (err) {
		free(c);
		return NULL;
	}
	if (++e->st.conns > e->st.peak_conns)
		e->st.peak_conns = e->st.conns;
	return c;
}

static void conn_remove(struct engine *e, struct conn *c)
{
	size_t i;

	if (c->flags & CONN_F_LISTED)
		for (i = 0; i < e->nlisteners; i++)
			if (e->listeners[i] == c) {
				e->listeners[i] = e->listeners[--e->nlisteners];
				break;
			}
	u64map_del(&e->map, c->key);
	free(c);
	e->st.conns--;
}

/*
 * Make room by dropping the least recently changed of a few neighbours.
 * Never a listener: it is the oldest socket of all, and every connection it
 * will accept takes its owner from it.
 */
static void evict_one(struct engine *e, uint64_t key)
{
	/* a scattered start: neighbours by hash slot are neighbours by cookie */
	size_t i = hash_bytes(&key, sizeof(key)) & e->map.mask, n, best = SIZE_MAX;
	uint64_t best_since = UINT64_MAX;
	struct conn *c;

	for (n = 0; n < 64 || best == SIZE_MAX; n++, i = (i + 1) & e->map.mask) {
		if (n > e->map.mask)
			return; /* nothing but listeners: the insert fails */
		if (!e->map.slots[i].key)
			continue;
		c = slot_conn(&e->map.slots[i]);
		if (c->open_kind != OPEN_LISTEN && conn_since(c) < best_since) {
			best_since = conn_since(c);
			best = i;
		}
	}
	conn_remove(e, slot_conn(&e->map.slots[best]));
	e->st.evicted++;
}

/* The path entry that stands for the folded middle of a long path. */
#define PATH_FOLD 1
_Static_assert(TCPFSM_ST_MAX <= 16, "folded_states holds 16 states");

static void path_push(struct conn *c, uint8_t state, uint64_t since)
{
	if (c->npath == CONN_MAX_PATH) {
		/*
		 * Keep the first and the latest states; fold the middle into
		 * one entry that keeps its own start, so that no entry's time
		 * runs on over the folded states (the first's would).
		 */
		if (!c->nfolded) {
			c->folded_states = 1u << c->path_state[PATH_FOLD];
			c->path_state[PATH_FOLD] = TCPFSM_ST_UNKNOWN;
			c->nfolded = 1;
		}
		c->folded_states |= 1u << c->path_state[PATH_FOLD + 1];
		if (c->nfolded < UINT8_MAX)
			c->nfolded++;
		memmove(&c->path_state[PATH_FOLD + 1], &c->path_state[PATH_FOLD + 2],
			CONN_MAX_PATH - PATH_FOLD - 2);
		memmove(&c->path_since[PATH_FOLD + 1], &c->path_since[PATH_FOLD + 2],
			(CONN_MAX_PATH - PATH_FOLD - 2) * sizeof(c->path_since[0]));
		c->npath--;
	}
	c->path_state[c->npath] = state;
	c->path_since[c->npath] = since;
	c->npath++;
	c->state = state;
	c->stuck_at_ns = 0;
}

unsigned int conn_path_folded(const struct conn *c, int i)
{
	return i == PATH_FOLD ? c->nfolded : 0;
}

uint32_t conn_path_states(const struct conn *c)
{
	uint32_t mask = c->folded_states;
	int i;

	for (i = 0; i < c->npath; i++)
		if (!conn_path_folded(c, i))
			mask |= 1u << c->path_state[i];
	return mask;
}

/* When path entry i ended (the next began, or the connection did); 0: unknown. */
static uint64_t path_end(const struct conn *c, int i)
{
	if (i + 1 < c->npath)
		return c->path_since[i + 1];
	return conn_end_known(c) ? c->end_ns : 0;
}

uint64_t conn_path_ns(const struct conn *c, int i, uint8_t *known)
{
	uint64_t from = c->path_since[i], to = path_end(c, i);

	*known = DUR_UNKNOWN;
	if (!from || !to || to < from)
		return 0;
	*known = conn_until_known(c, i);
	return to - from;
}

/*
 * c's FIN_WAIT2 became an orphan at `at` (0: not known yet): the application
 * released the socket, the kernel alone holds it. The first time learned
 * stands: later records (the hand-over after the TIME_WAIT timer's start, a
 * re-armed timer) only confirm it. The one place orphan_ns is set.
 */
static void became_orphan(struct conn *c, uint64_t at)
{
	if (!c->orphan_ns)
		c->orphan_ns = at;
}

/*
 * Of a FIN_WAIT2 that ended at `to`, the time it was an orphan. When it ended
 * is unknown (to 0: it ended unseen, or before a state whose start is not
 * known), so is that time: none is given.
 */
static bool orphan_until(const struct conn *c, uint8_t state, uint64_t to,
			 uint64_t *ns)
{
	*ns = 0;
	if (state != TCPFSM_ST_FIN_WAIT2 || !c->orphan_ns || !to)
		return false;
	if (to >= c->orphan_ns)
		*ns = to - c->orphan_ns;
	return true;
}

bool conn_path_orphan(const struct conn *c, int i, uint64_t *ns)
{
	return orphan_until(c, c->path_state[i], path_end(c, i), ns);
}

#define EMIT_INFERRED 0x1	/* ts inferred from the timer's deadline */
#define EMIT_END_UNKNOWN 0x2	/* oldstate ended at some unknown time before ts */

static void emit_full(struct engine *e, const struct conn *c,
		      const struct tcpfsm_event *ev, uint64_t ts,
		      uint8_t oldstate, uint8_t newstate, uint64_t since,
		      uint8_t end, unsigned int how)
{
	uint64_t to = how & EMIT_END_UNKNOWN ? 0 : ts;
	struct transition t = {
		.ts_ns = ts,
		.conn = c,
		.ev = ev,
		.oldstate = oldstate,
		.newstate = newstate,
		.end = end,
		.synth = ev ? ev->kind != TCPFSM_EV_STATE : 1,
		.inferred = !!(how & EMIT_INFERRED),
	};

	t.orphan = orphan_until(c, oldstate, to, &t.orphan_ns);
	if (!tcp_transition_legal(oldstate, newstate)) {
		t.illegal = 1;
		e->st.illegal++;
	}
	if (since && to >= since) {
		t.prev_ns = to - since;
		t.prev_known = conn_since_known(c, c->npath - 1);
	}
	if (e->cb.transition)
		e->cb.transition(e->cb.ctx, &t);
}

static void emit(struct engine *e, const struct conn *c,
		 const struct tcpfsm_event *ev, uint64_t ts, uint8_t oldstate,
		 uint8_t newstate, uint64_t since, uint8_t end)
{
	emit_full(e, c, ev, ts, oldstate, newstate, since, end, 0);
}

/* Move c to newstate at ts, reporting the transition. */
static void move(struct engine *e, struct conn *c, const struct tcpfsm_event *ev,
		 uint64_t ts, uint8_t newstate)
{
	uint8_t old = c->state;

	emit(e, c, ev, ts, old, newstate, conn_since(c), END_NONE);
	path_push(c, newstate, ts);
}

/*
 * Who sent the first FIN, if either had, as the path shows it: CLOSE_ACTIVE,
 * CLOSE_PASSIVE, CLOSE_SIMULTANEOUS, or CLOSE_NONE.
 */
static uint8_t classify_closing(const struct conn *c)
{
	uint32_t seen = conn_path_states(c);

	if (seen & (1u << TCPFSM_ST_CLOSING))
		return CLOSE_SIMULTANEOUS;
	if (seen & (1u << TCPFSM_ST_FIN_WAIT1 | 1u << TCPFSM_ST_FIN_WAIT2 |
		    1u << TCPFSM_ST_TIME_WAIT))
		return CLOSE_ACTIVE;
	if (seen & (1u << TCPFSM_ST_CLOSE_WAIT | 1u << TCPFSM_ST_LAST_ACK))
		return CLOSE_PASSIVE;
	return CLOSE_NONE;
}

/* How it closed; ev: the full socket's record into CLOSE, if that ended it. */
static uint8_t classify_close(const struct conn *c, const struct tcpfsm_event *ev)
{
	uint8_t last = c->npath ? c->path_state[c->npath - 1] : 0;
	uint32_t seen = conn_path_states(c);
	bool fw1 = seen & (1u << TCPFSM_ST_FIN_WAIT1);
	bool cw = seen & (1u << TCPFSM_ST_CLOSE_WAIT);
	bool closing = seen & (1u << TCPFSM_ST_CLOSING);
	bool tw = seen & (1u << TCPFSM_ST_TIME_WAIT);

	if (c->flags & CONN_F_REQ)
		return CLOSE_HALF_OPEN;
	if (c->open_kind == OPEN_LISTEN || last == TCPFSM_ST_LISTEN)
		return CLOSE_LISTENER;
	if (last == TCPFSM_ST_SYN_SENT)
		return CLOSE_FAILED;
	/* an RST or an abort, in whatever state: the kernel says so */
	if (ev && ev->kind == TCPFSM_EV_STATE && (ev->flags & TCPFSM_F_RESET))
		return CLOSE_RESET;
	if (closing)
		return CLOSE_SIMULTANEOUS;
	/* straight to CLOSE without the FIN exchange finishing */
	if (last == TCPFSM_ST_ESTABLISHED || last == TCPFSM_ST_SYN_RECV ||
	    last == TCPFSM_ST_CLOSE_WAIT ||
	    (last == TCPFSM_ST_FIN_WAIT1 && !(c->flags & CONN_F_MINISOCK)))
		return CLOSE_RESET;
	if (fw1 || tw || last == TCPFSM_ST_FIN_WAIT2)
		return CLOSE_ACTIVE;
	if (cw || last == TCPFSM_ST_LAST_ACK)
		return CLOSE_PASSIVE;
	return CLOSE_UNKNOWN;
}

/*
 * Of a connection that ended unseen, what its path shows of how it closed:
 * who sent the first FIN, if either had. Not the rest of classify_close():
 * its "straight to CLOSE" cases (reset, failed) read the last state as the
 * one the connection closed from, which here is not known.
 */
static uint8_t classify_gone(const struct conn *c)
{
	uint8_t last = c->npath ? c->path_state[c->npath - 1] : 0;
	uint8_t closing = classify_closing(c);

	if (c->open_kind == OPEN_LISTEN || last == TCPFSM_ST_LISTEN)
		return CLOSE_LISTENER;
	return closing != CLOSE_NONE ? closing : CLOSE_UNKNOWN;
}

/*
 * The connection is over at ts: report its lifecycle and forget it. END_GONE:
 * it ended unseen, ts is when that was learned, the last state's time is
 * unknown.
 */
static void finish_conn(struct engine *e, struct conn *c,
			const struct tcpfsm_event *ev, uint64_t ts, uint8_t end)
{
	uint8_t old = c->state;
	bool gone = end == END_GONE;

	emit_full(e, c, ev, ts, old, TCPFSM_ST_CLOSE, conn_since(c), end,
		  gone ? EMIT_END_UNKNOWN : 0);
	c->end_ns = ts;
	c->end = end;
	c->close_kind = gone ? classify_gone(c) : classify_close(c, ev);
	c->closing_kind = classify_closing(c);
	if (c->loss_epoch != e->loss_epoch || gone)
		c->flags |= CONN_F_INCOMPLETE;
	if (conn_incomplete(c))
		e->st.incomplete++;
	e->st.closed++;
	if (e->cb.closed)
		e->cb.closed(e->cb.ctx, c);
	conn_remove(e, c);
}

static void set_owner_from_event(struct conn *c, const struct tcpfsm_event *ev)
{
	c->owner.pid = ev->pid;
	c->owner.cgroup_id = ev->cgroup_id;
	memcpy(c->owner.comm, ev->comm, TCPFSM_COMM_LEN);
}

/*
 * Transitions that only the owner's own system calls make: connect(),
 * listen(), close()/shutdown().
 */
static bool syscall_transition(const struct tcpfsm_event *ev)
{
	/* a state set again: only close() does that (see same_state) */
	if (ev->oldstate == ev->newstate)
		return ev->newstate != TCPFSM_ST_CLOSE;
	switch (ev->newstate) {
	case TCPFSM_ST_SYN_SENT:
	case TCPFSM_ST_LISTEN:
		return ev->oldstate == TCPFSM_ST_CLOSE;
	case TCPFSM_ST_FIN_WAIT1:
	case TCPFSM_ST_LAST_ACK:
		return true;
	default:
		return false;
	}
}

static void learn_owner(struct conn *c, const struct tcpfsm_event *ev)
{
	if (!(ev->flags & TCPFSM_F_IN_TASK))
		return;
	if (!c->owner.pid || syscall_transition(ev))
		set_owner_from_event(c, ev);
}

static void add_listener(struct engine *e, struct conn *c)
{
	c->open_kind = OPEN_LISTEN;
	if (c->flags & CONN_F_LISTED)
		return;
	if (ARRAY_GROW(e->listeners, e->nlisteners, e->cap_listeners, 16))
		return; /* its children fall back to no owner */
	e->listeners[e->nlisteners++] = c;
	c->flags |= CONN_F_LISTED;
}

static struct conn *find_listener(struct engine *e, const struct tuple *t)
{
	struct conn *any = NULL;
	size_t i;

	for (i = 0; i < e->nlisteners; i++) {
		struct conn *l = e->listeners[i];

		if (l->t.sport != t->sport || l->t.netns != t->netns)
			continue;
		if (l->t.family == t->family &&
		    !memcmp(l->t.saddr, t->saddr, 16))
			return l;
		any = l; /* a wildcard or dual-stack listener */
	}
	return any;
}

/*
 * A passive connection's listener, and its owner unless one is known already
 * (a seeded child's, from the process holding it).
 */
static void inherit_listener(struct engine *e, struct conn *c, uint64_t lcookie)
{
	struct conn *l = lcookie ? get(e, lcookie) : NULL;

	if (!l)
		l = find_listener(e, &c->t);
	if (l) {
		c->listener = l->cookie;
		if (!c->owner.pid)
			c->owner = l->owner;
	}
}

/* A server's child, first seen from its birth. */
static void passive_birth(struct engine *e, struct conn *c)
{
	c->flags |= CONN_F_BORN;
	c->open_kind = OPEN_PASSIVE;
	inherit_listener(e, c, 0);
}

/*
 * A request sock: half-open, passive, from its listener (lcookie, or found by
 * tuple when 0), whose owner it takes. Whether its SYN was seen or the dump
 * read it.
 */
static void set_request(struct engine *e, struct conn *c, uint64_t lcookie)
{
	c->flags |= CONN_F_REQ;
	c->open_kind = OPEN_PASSIVE;
	inherit_listener(e, c, lcookie);
	if (lcookie)
		c->listener = lcookie;
}

/* Queue c to be settled at its pending time plus the grace. */
static int queue_pending(struct engine *e, const struct conn *c)
{
	if (e->npending == e->cap_pending && e->phead) {
		/* reuse the room of the entries already taken off the front */
		memmove(e->pending, e->pending + e->phead,
			(e->npending - e->phead) * sizeof(*e->pending));
		e->npending -= e->phead;
		e->phead = 0;
	}
	if (ARRAY_GROW(e->pending, e->npending, e->cap_pending, 64))
		return -ENOMEM;
	e->pending[e->npending].key = c->key;
	e->pending[e->npending].due = c->pending_ns + e->cfg.pending_ns;
	e->npending++;
	return 0;
}

static void add_pending(struct engine *e, struct conn *c, uint8_t kind,
			uint64_t ts)
{
	c->pending_kind = kind;
	c->pending_ns = ts;
	if (c->flags & CONN_F_PENDING)
		return;
	if (queue_pending(e, c)) {
		/* out of memory: its end cannot be settled, say so */
		c->flags |= CONN_F_INCOMPLETE;
		return;
	}
	c->flags |= CONN_F_PENDING;
}

/*
 * A request sock's entry, moved to its child's cookie (not in the map): the
 * half-open part of the path, listener, owner and retransmissions come along,
 * with no new allocation. The put cannot fail: the delete just made room for
 * one key (the table needs neither to grow nor to pass its bound), and the
 * cookie is not 0.
 */
static struct conn *rekey(struct engine *e, struct conn *req, uint64_t cookie)
{
	u64map_del(&e->map, req->key);
	/* a pending removal (the handshake's timer cancel) ends here */
	req->flags &= ~(CONN_F_REQ | CONN_F_PENDING);
	req->key = req->cookie = cookie;
	(void)u64map_put(&e->map, cookie, (uintptr_t)req);
	return req;
}

/* The byte counts a full socket's last record carries, if it does. */
static void take_bytes(struct conn *c, const struct tcpfsm_event *ev)
{
	if (ev->flags & TCPFSM_F_BYTES) {
		c->bytes_acked = ev->aux;
		c->bytes_received = ev->aux2;
		c->flags |= CONN_F_BYTES;
	}
}

/*
 * c lives on in a timewait minisocket, in substate sub: TIME_WAIT, or FIN_WAIT2
 * as an orphan (since orphan_at, if not known already; 0: not yet known).
 */
static void set_minisock(struct conn *c, uint8_t sub, uint64_t orphan_at)
{
	c->flags |= CONN_F_MINISOCK;
	c->tw_substate = sub;
	if (sub == TCPFSM_ST_FIN_WAIT2)
		became_orphan(c, orphan_at);
}

/*
 * A seeded socket's record from before the dump ended (tracing was attached
 * before the /proc scan and the dump), leading neither into nor out of its
 * seeded state: the change happened before the dump read the socket (a
 * connection that moved on meanwhile), not a missed record.
 */
static bool read_later(const struct engine *e, const struct conn *c,
		       const struct tcpfsm_event *ev)
{
	return (c->flags & CONN_F_SEEDED) && c->npath == 1 &&
	       ev->ts_ns <= e->seed_end &&
	       ev->oldstate != c->state && ev->newstate != c->state;
}

/*
 * A record that sets the state the socket is already in: close() after
 * shutdown() (FIN_WAIT1, FIN_WAIT2, LAST_ACK, CLOSING: tcp_close_state()
 * sets the state it finds). One state period is one period: no transition,
 * no path entry. What it says is kept: the owner closed the socket here
 * (learn_owner), and a FIN_WAIT2 is an orphan's from here on (SOCK_DEAD is
 * set later in the same close(), so the record does not carry it).
 */
static void same_state(struct engine *e, struct conn *c,
		       const struct tcpfsm_event *ev)
{
	e->st.repeats++;
	if (ev->newstate == TCPFSM_ST_FIN_WAIT2)
		became_orphan(c, ev->ts_ns);
}

/*
 * Up to 6.12 (seen on 6.1 and 6.12; 6.18 no longer) the kernel reports a
 * passive child's LISTEN -> SYN_RECV before the child has its own cookie
 * and 4-tuple: the record carries its listener's cookie, the listener's
 * local end and no remote end (port 0, which no connection has). It is
 * kept, by local port, until the child's next change names the child.
 */
static bool anon_birth(const struct tcpfsm_event *ev)
{
	return ev->oldstate == TCPFSM_ST_LISTEN &&
	       ev->newstate == TCPFSM_ST_SYN_RECV && !ev->dport;
}

static size_t birth_slot(uint32_t netns, uint16_t sport)
{
	return (netns * 31u + sport) & (BIRTH_SLOTS - 1);
}

/*
 * A child first seen leaving SYN_RECV: the birth kept for its local port
 * (in the second before), now with the child's identity, as a newer kernel
 * would have recorded it. Returns false when there is none.
 */
static bool take_birth(struct engine *e, const struct tcpfsm_event *ev,
		       struct tcpfsm_event *birth)
{
	struct tcpfsm_event *b = &e->births[birth_slot(ev->netns, ev->sport)];

	if (!b->ts_ns || b->netns != ev->netns || b->sport != ev->sport ||
	    b->ts_ns > ev->ts_ns ||
	    ev->ts_ns - b->ts_ns > BIRTH_MAX_NS)
		return false;
	*birth = *b;
	b->ts_ns = 0;
	birth->cookie = ev->cookie;
	birth->family = ev->family; /* a dual-stack listener's is AF_INET6 */
	birth->dport = ev->dport;
	memcpy(birth->saddr, ev->saddr, sizeof(birth->saddr));
	memcpy(birth->daddr, ev->daddr, sizeof(birth->daddr));
	return true;
}

static void handle_state(struct engine *e, const struct tcpfsm_event *ev)
{
	struct tuple t;
	struct conn *c;
	bool fresh = false;

	if (anon_birth(ev)) {
		e->births[birth_slot(ev->netns, ev->sport)] = *ev;
		return;
	}
	tuple_from_event(&t, ev);
	if (!ev->cookie) {
		e->st.untracked++;
		return;
	}
	c = get(e, ev->cookie);
	if (!c && ev->oldstate == TCPFSM_ST_SYN_RECV) {
		struct tcpfsm_event birth;

		if (take_birth(e, ev, &birth)) {
			handle_state(e, &birth);
			c = get(e, ev->cookie);
		}
	}
	if (c)
		touch(e, c);
	/*
	 * CLOSE set again: of a socket not known, or known only as closed
	 * (never connected), nothing to follow; of one known in another
	 * state, its end (a gap) as any "-> CLOSE".
	 */
	if (ev->oldstate == TCPFSM_ST_CLOSE && ev->newstate == TCPFSM_ST_CLOSE &&
	    (!c || (c->state == TCPFSM_ST_CLOSE && !c->npath))) {
		e->st.repeats++;
		return;
	}
	if (c && read_later(e, c, ev)) {
		/* follow the records from here, keeping the dump's owner */
		c->npath = 0;
		c->flags &= ~CONN_F_SEEDED;
		fresh = true;
	}
	if (!c || fresh) {
		bool birth = ev->oldstate == TCPFSM_ST_LISTEN &&
			     ev->newstate == TCPFSM_ST_SYN_RECV;
		struct conn *req = NULL;

		if (birth || ev->oldstate == TCPFSM_ST_SYN_RECV) {
			/*
			 * A child: join its request sock by 4-tuple. Its own
			 * LISTEN -> SYN_RECV may not be recorded at all when
			 * the request was (see skip_child_birth in the BPF).
			 */
			req = get(e, tuple_hash(&t) | REQ_KEY_BIT);
			if (req && !tuple_eq(&req->t, &t))
				req = NULL;
		}
		if (req) {
			/*
			 * The request becomes the connection: LISTEN ->
			 * SYN_RECV was reported at the SYN, its owner is the
			 * listener's (or the dump's, if this one was seeded).
			 */
			struct owner seeded = c ? c->owner : (struct owner){ 0 };

			if (c)
				conn_remove(e, c);
			c = rekey(e, req, ev->cookie);
			touch(e, c);
			if (seeded.pid)
				c->owner = seeded;
			learn_owner(c, ev);
			if (birth)
				return;
			/* and now the change it was first seen with */
		} else {
			if (!c) {
				c = conn_new(e, ev->cookie, &t);
				if (!c) {
					e->st.untracked++;
					return;
				}
				c->cookie = ev->cookie;
			}
			if (birth) {
				/*
				 * No request seen: the minisocket hooks are
				 * off, or the request's records were lost.
				 */
				passive_birth(e, c);
				c->state = TCPFSM_ST_LISTEN;
			} else if (ev->oldstate == TCPFSM_ST_SYN_RECV) {
				/*
				 * A child that never had a request timer: a
				 * SYN cookie's (no request sock is kept) or a
				 * TCP Fast Open one's (made at the SYN). With
				 * the hooks on its LISTEN -> SYN_RECV is not
				 * recorded (skip_child_birth): it is born
				 * here, from a SYN_RECV whose start is unknown.
				 */
				passive_birth(e, c);
				path_push(c, TCPFSM_ST_SYN_RECV, 0);
			} else if (ev->oldstate == TCPFSM_ST_CLOSE) {
				c->flags |= CONN_F_BORN;
				c->state = TCPFSM_ST_CLOSE;
			} else {
				/* first seen mid-life: the time so far is unknown */
				path_push(c, ev->oldstate, 0);
			}
		}
	} else if ((c->flags & CONN_F_SEEDED) && c->npath == 1 &&
		   ev->newstate == c->state && ev->oldstate != c->state) {
		/*
		 * The change that put it in its seeded state, made while the
		 * dump ran: now its age in that state is exact.
		 */
		c->path_since[0] = ev->ts_ns;
		c->flags &= ~CONN_F_SEEDED;
		learn_owner(c, ev);
		return;
	} else if ((c->flags & CONN_F_MINISOCK) &&
		   ev->newstate == TCPFSM_ST_CLOSE) {
		/*
		 * The full socket hands over to its timewait minisocket. In
		 * FIN_WAIT2 that makes an orphan: the application's socket is
		 * gone, the kernel alone waits for the peer's FIN.
		 */
		if (c->state == TCPFSM_ST_FIN_WAIT2)
			became_orphan(c, ev->ts_ns);
		take_bytes(c, ev);
		return;
	} else if (ev->oldstate != c->state) {
		if (ev->newstate == c->state && ev->ts_ns == conn_since(c)) {
			e->st.duplicates++;
			return;
		}
		/*
		 * A missed transition: say so, follow the kernel. When the
		 * missed state began is unknown, and so is when the last known
		 * one ended: as for a connection first seen mid-life.
		 */
		e->st.gaps++;
		c->flags |= CONN_F_INCOMPLETE;
		path_push(c, ev->oldstate, 0);
	}
	if (ev->ts_ns < conn_since(c)) {
		e->st.out_of_order++;
		c->flags |= CONN_F_INCOMPLETE;
	}
	learn_owner(c, ev);
	if (ev->oldstate == ev->newstate && ev->newstate != TCPFSM_ST_CLOSE) {
		same_state(e, c, ev);
		return;
	}
	if (ev->newstate == TCPFSM_ST_SYN_SENT)
		c->open_kind = OPEN_ACTIVE;
	if (ev->newstate == TCPFSM_ST_CLOSE) {
		take_bytes(c, ev);
		finish_conn(e, c, ev, ev->ts_ns, END_NONE);
		return;
	}
	if (ev->newstate == TCPFSM_ST_LISTEN && c->open_kind != OPEN_LISTEN)
		add_listener(e, c);
	/*
	 * The local port arrives after connect() (and recordings made before
	 * the kernel side read inet_sport have it 0 again into CLOSE): keep
	 * the last tuple that had one.
	 */
	if (t.sport)
		c->t = t;
	move(e, c, ev, ev->ts_ns, ev->newstate);
	/*
	 * Into FIN_WAIT2 already orphaned: the whole of it is the kernel's,
	 * whether a minisocket or (ACK taken from the backlog, or a
	 * tcp_fin_timeout over 60 s) the full socket itself holds it.
	 */
	if ((ev->flags & TCPFSM_F_DEAD) && ev->newstate == TCPFSM_ST_FIN_WAIT2)
		became_orphan(c, ev->ts_ns);
}

/*
 * Deadlines are read in jiffies: two readings of one deadline differ by less
 * than a jiffy (10 ms at HZ=100, the coarsest in use).
 */
#define TW_DEADLINE_SLACK_NS 10000000ull

/* Does a timer removal carry the deadline the timer was last armed with? */
static bool deadline_kept(const struct tcpfsm_event *ev,
			  uint64_t prev_deadline)
{
	uint64_t now_deadline = ev->ts_ns + ev->aux;

	if (!(ev->flags & TCPFSM_F_DEADLINE) || !prev_deadline)
		return false;
	return now_deadline > prev_deadline ?
		       now_deadline - prev_deadline <= TW_DEADLINE_SLACK_NS :
		       prev_deadline - now_deadline <= TW_DEADLINE_SLACK_NS;
}

/*
 * An orphaned FIN_WAIT2 minisocket that got the peer's FIN became TIME_WAIT
 * without a timer tracepoint when its re-armed expiry stayed in the same
 * timer-wheel bucket; the deadline it was re-armed to says when.
 */
static void silent_time_wait(struct engine *e, struct conn *c,
			     const struct tcpfsm_event *ev, uint64_t now,
			     uint8_t sub)
{
	uint64_t at;

	if (sub != TCPFSM_ST_TIME_WAIT || c->state != TCPFSM_ST_FIN_WAIT2)
		return;
	at = c->tw_deadline_ns > TCPFSM_TIMEWAIT_LEN_NS ?
		     c->tw_deadline_ns - TCPFSM_TIMEWAIT_LEN_NS : 0;
	/* within a jiffy of either end: the deadline's rounding, not news */
	if (at && at < conn_since(c) && conn_since(c) - at <= TW_DEADLINE_SLACK_NS)
		at = conn_since(c);
	if (at > now && at - now <= TW_DEADLINE_SLACK_NS)
		at = now;
	if (!c->tw_deadline_ns || at < conn_since(c) || at > now) {
		/* cannot place it: the split between the two is unknown */
		emit_full(e, c, ev, now, c->state, sub, conn_since(c), END_NONE,
			  EMIT_END_UNKNOWN);
		path_push(c, sub, 0);
		c->flags |= CONN_F_INCOMPLETE;
	} else {
		emit_full(e, c, ev, at, c->state, sub, conn_since(c), END_NONE,
			  EMIT_INFERRED);
		path_push(c, sub, at);
	}
	c->tw_substate = sub;
}

static void handle_tw(struct engine *e, const struct tcpfsm_event *ev)
{
	uint8_t sub = ev->newstate;
	uint64_t prev_deadline = 0;
	struct tuple t;
	uint64_t key;
	struct conn *c;

	tuple_from_event(&t, ev);
	key = ev->cookie ? ev->cookie : (tuple_hash(&t) & ~REQ_KEY_BIT) | TW_KEY_BIT;
	c = get(e, key);
	if (sub != TCPFSM_ST_TIME_WAIT && sub != TCPFSM_ST_FIN_WAIT2)
		sub = TCPFSM_ST_TIME_WAIT;

	if (c) {
		touch(e, c);
		prev_deadline = c->tw_deadline_ns;
	}
	if (c && (ev->flags & TCPFSM_F_DEADLINE))
		c->tw_deadline_ns = ev->ts_ns + ev->aux;
	if (c && ev->kind == TCPFSM_EV_TW_START)
		c->fin_watched = !!(ev->flags & TCPFSM_F_WATCHED);

	switch (ev->kind) {
	case TCPFSM_EV_TW_START:
		if (!c) {
			/* never saw it as a full socket: only this is known */
			c = conn_new(e, key, &t);
			if (!c) {
				e->st.untracked++;
				return;
			}
			c->cookie = ev->cookie;
			c->state = TCPFSM_ST_UNKNOWN;
			c->fin_watched = !!(ev->flags & TCPFSM_F_WATCHED);
			set_minisock(c, sub, ev->ts_ns);
			move(e, c, ev, ev->ts_ns, sub);
			return;
		}
		if (c->flags & CONN_F_MINISOCK) {
			/* re-armed: a removal just before was not an end */
			c->flags &= ~CONN_F_PENDING;
			if (c->state != sub && sub == TCPFSM_ST_TIME_WAIT)
				move(e, c, ev, ev->ts_ns, sub);
			c->tw_substate = sub;
			return;
		}
		/* an orphan from the full socket's hand-over record, next */
		set_minisock(c, sub, 0);
		if (c->state != sub)
			move(e, c, ev, ev->ts_ns, sub);
		return;
	case TCPFSM_EV_TW_CANCEL:
		if (!c || !(c->flags & CONN_F_MINISOCK))
			return;
		if (ev->flags & TCPFSM_F_REUSED) {
			/*
			 * connect() took its tuple and had already unhashed it:
			 * this removal is its end, nothing re-arms it.
			 */
			silent_time_wait(e, c, ev, ev->ts_ns, sub);
			finish_conn(e, c, ev, ev->ts_ns, END_REUSED);
			return;
		}
		if (sub == TCPFSM_ST_TIME_WAIT && c->state == TCPFSM_ST_FIN_WAIT2 &&
		    (deadline_kept(ev, prev_deadline) || c->fin_watched)) {
			/*
			 * TIME_WAIT now, but the timer still has the deadline
			 * FIN_WAIT2 armed (or the FIN is watched, so no FIN
			 * went unseen): no silent re-arm happened, so the
			 * FIN is being handled right now and this removal is
			 * its re-arm moving to another timer-wheel bucket (a
			 * start follows, then the FIN's own record), or an
			 * expiry (FIN right after FIN_WAIT2 began). The next
			 * event, or none, says which; until then this is
			 * still FIN_WAIT2.
			 */
			c->tw_substate = sub;
		} else {
			silent_time_wait(e, c, ev, ev->ts_ns, sub);
		}
		add_pending(e, c, ev->kind, ev->ts_ns);
		return;
	case TCPFSM_EV_TW_EXPIRE: {
		uint64_t end;

		if (!c || !(c->flags & CONN_F_MINISOCK))
			return;
		/* it ended at the removal before the expiry, if there was one */
		end = (c->flags & CONN_F_PENDING) ? c->pending_ns : ev->ts_ns;
		silent_time_wait(e, c, ev, end, sub);
		finish_conn(e, c, ev, end, END_EXPIRED);
		return;
	}
	}
}

static void handle_req(struct engine *e, const struct tcpfsm_event *ev)
{
	struct tuple t;
	uint64_t key;
	struct conn *c;

	tuple_from_event(&t, ev);
	key = tuple_hash(&t) | REQ_KEY_BIT;
	c = get(e, key);
	if (c && !tuple_eq(&c->t, &t))
		return; /* a 64-bit hash collision: ignore rather than mis-join */
	if (c)
		touch(e, c);

	switch (ev->kind) {
	case TCPFSM_EV_REQ_START:
		if (c) {
			/* re-armed for a SYN-ACK retransmission */
			c->flags &= ~CONN_F_PENDING;
			c->retrans = ev->retrans;
			return;
		}
		c = conn_new(e, key, &t);
		if (!c) {
			e->st.untracked++;
			return;
		}
		c->flags |= CONN_F_BORN;
		c->state = TCPFSM_ST_LISTEN;
		c->retrans = ev->retrans;
		set_request(e, c, ev->aux);
		move(e, c, ev, ev->ts_ns, TCPFSM_ST_SYN_RECV);
		return;
	case TCPFSM_EV_REQ_CANCEL:
	case TCPFSM_EV_REQ_EXPIRE:
		if (!c)
			return;
		if (ev->kind == TCPFSM_EV_REQ_EXPIRE)
			c->retrans = ev->retrans;
		add_pending(e, c, ev->kind, ev->ts_ns);
		return;
	}
}

void engine_event(struct engine *e, const struct tcpfsm_event *ev)
{
	e->st.events++;
	e->ev_ts = ev->ts_ns;
	if (ev->ts_ns > e->now)
		e->now = ev->ts_ns;
	switch (ev->kind) {
	case TCPFSM_EV_STATE:
		handle_state(e, ev);
		break;
	case TCPFSM_EV_TW_START:
	case TCPFSM_EV_TW_CANCEL:
	case TCPFSM_EV_TW_EXPIRE:
		handle_tw(e, ev);
		break;
	case TCPFSM_EV_REQ_START:
	case TCPFSM_EV_REQ_CANCEL:
	case TCPFSM_EV_REQ_EXPIRE:
		handle_req(e, ev);
		break;
	}
}

bool engine_forget(struct engine *e, uint64_t cookie)
{
	struct conn *c = cookie ? get(e, cookie) : NULL;

	if (!c || c->open_kind == OPEN_LISTEN)
		return false;
	conn_remove(e, c);
	e->st.forgotten++;
	return true;
}

/*
 * A timewait minisock removed early, not by connect() (that one says so,
 * TCPFSM_F_REUSED): was it a SYN for the same tuple arriving at a listener
 * (tcp_timewait_state_process()'s TCP_TW_SYN), whose request follows?
 */
static bool reused(struct engine *e, const struct conn *c)
{
	struct conn *r = get(e, tuple_hash(&c->t) | REQ_KEY_BIT);

	return r && tuple_eq(&r->t, &c->t);
}

static void settle(struct engine *e, struct conn *c)
{
	uint64_t ts = c->pending_ns;

	switch (c->pending_kind) {
	case TCPFSM_EV_TW_CANCEL:
		/* a FIN_WAIT2 -> TIME_WAIT left open at the removal */
		silent_time_wait(e, c, NULL, ts, c->tw_substate);
		finish_conn(e, c, NULL, ts, reused(e, c) ? END_REUSED : END_KILLED);
		break;
	case TCPFSM_EV_REQ_CANCEL:
		finish_conn(e, c, NULL, ts, END_REQ_DROPPED);
		break;
	case TCPFSM_EV_REQ_EXPIRE:
		finish_conn(e, c, NULL, ts, END_SYNACK_TIMEOUT);
		break;
	default:
		c->flags &= ~CONN_F_PENDING;
	}
}

/* Settle what is due at now (all: everything), oldest first. */
static void settle_pending(struct engine *e, uint64_t now, bool all)
{
	while (e->phead < e->npending) {
		struct pending q = e->pending[e->phead];
		struct conn *c;

		if (!all && now < q.due)
			break; /* the rest came later */
		e->phead++;
		c = get(e, q.key);
		if (!c || !(c->flags & CONN_F_PENDING))
			continue; /* joined, re-armed or ended meanwhile */
		if (!all && now < c->pending_ns + e->cfg.pending_ns) {
			/*
			 * Removed again since it was queued: wait from then.
			 * Never fails: the entry just taken off left room.
			 */
			if (queue_pending(e, c))
				settle(e, c);
			continue;
		}
		settle(e, c);
	}
	if (e->phead == e->npending)
		e->phead = e->npending = 0;
}

static void scan_stuck(struct engine *e, uint64_t now, bool at_exit)
{
	u64map_foreach(&e->map, s) {
		struct conn *c = slot_conn(s);
		uint64_t thr, since, dur;

		thr = c->state < TCPFSM_ST_MAX ? e->cfg.stuck_ns[c->state] : 0;
		since = conn_since(c);
		if (!thr || !since || now < since)
			continue;
		dur = now - since;
		if (dur < thr)
			continue;
		if (at_exit) {
			e->cb.stuck(e->cb.ctx, c, now, thr, true);
			continue;
		}
		/*
		 * once per threshold, then again at each doubling; dur / 2,
		 * not stuck_at_ns * 2: a recording's clock may run to the end
		 * of time, where the doubling wrapped (to 0: forever)
		 */
		if (!c->stuck_at_ns) {
			c->stuck_at_ns = thr;
		} else if (c->stuck_at_ns <= dur / 2) {
			while (c->stuck_at_ns <= dur / 2)
				c->stuck_at_ns *= 2;
		} else {
			continue;
		}
		e->cb.stuck(e->cb.ctx, c, now, c->stuck_at_ns, false);
	}
}

void engine_advance(struct engine *e, uint64_t now)
{
	if (now > e->now)
		e->now = now;
	if (e->phead < e->npending)
		settle_pending(e, now, false);
	if (e->any_stuck && e->cb.stuck &&
	    now >= e->last_scan + e->cfg.stuck_scan_ns) {
		e->last_scan = now;
		scan_stuck(e, now, false);
	}
}

void engine_finish(struct engine *e, uint64_t now)
{
	if (now < e->now)
		now = e->now;
	settle_pending(e, now, true);
	if (e->any_stuck && e->cb.stuck)
		scan_stuck(e, now, true);
}

void engine_note_lost(struct engine *e, uint64_t at_ns)
{
	if (at_ns > e->loss_ts)
		e->loss_ts = at_ns;
	e->loss_epoch++;
	e->st.lost_epochs++;
}

/* See engine.h: ended unseen, while records were lost? */
static bool ended_unseen(const struct engine *e, const struct conn *c,
			 const struct u64map *alive,
			 const struct u64map *netns_read, uint64_t t0)
{
	return c->cookie && !(c->flags & (CONN_F_REQ | CONN_F_PENDING)) &&
	       c->loss_epoch != e->loss_epoch && c->last_ns < t0 &&
	       (!netns_read || u64map_get(netns_read, c->t.netns)) &&
	       !u64map_get(alive, c->cookie);
}

int engine_reconcile(struct engine *e, const struct u64map *alive,
		     const struct u64map *netns_read, uint64_t t0)
{
	struct conn **ended = NULL;
	size_t n = 0, cap = 0, i;

	/* found first, ended after: the map must not change during the walk */
	u64map_foreach(&e->map, s) {
		struct conn *c = slot_conn(s);

		if (!ended_unseen(e, c, alive, netns_read, t0))
			continue;
		if (ARRAY_GROW(ended, n, cap, 64)) {
			free(ended);
			return -ENOMEM;
		}
		ended[n++] = c;
	}
	for (i = 0; i < n; i++)
		finish_conn(e, ended[i], NULL, e->now, END_GONE);
	e->st.gone += n;
	free(ended);
	return (int)(n > INT32_MAX ? INT32_MAX : n);
}

/* Oldest first: by the start of its path, then by key. */
static int cmp_open(const void *a, const void *b)
{
	const struct conn *x = *(const struct conn *const *)a;
	const struct conn *y = *(const struct conn *const *)b;
	uint64_t fx = x->npath ? x->path_since[0] : 0;
	uint64_t fy = y->npath ? y->path_since[0] : 0;

	if (fx != fy)
		return fx < fy ? -1 : 1;
	return x->key < y->key ? -1 : x->key > y->key;
}

int engine_foreach_open(struct engine *e, uint64_t now_ns,
			void (*fn)(void *ctx, const struct conn *c), void *ctx)
{
	struct conn **open = NULL;
	size_t n = 0, cap = 0, i;

	u64map_foreach(&e->map, s) {
		struct conn *c = slot_conn(s);

		if (!c->npath)
			continue; /* never left the CLOSE it was first seen in */
		if (ARRAY_GROW(open, n, cap, 64)) {
			free(open);
			return -ENOMEM;
		}
		open[n++] = c;
	}
	if (n)
		qsort(open, n, sizeof(*open), cmp_open);
	for (i = 0; i < n; i++) {
		struct conn copy = *open[i];

		copy.end = END_AT_EXIT;
		copy.end_ns = now_ns > conn_since(&copy) ? now_ns : conn_since(&copy);
		copy.close_kind = CLOSE_NONE;
		copy.closing_kind = classify_closing(&copy);
		if (copy.loss_epoch != e->loss_epoch)
			copy.flags |= CONN_F_INCOMPLETE;
		fn(ctx, &copy);
	}
	free(open);
	return (int)(n > INT32_MAX ? INT32_MAX : n);
}

int engine_seed(struct engine *e, uint64_t cookie, uint8_t state,
		const struct tuple *t, const struct owner *o, uint64_t now_ns,
		unsigned int flags, uint64_t tw_deadline_ns)
{
	struct conn *c;
	uint64_t key = cookie;

	e->ev_ts = now_ns;
	if (state == TCPFSM_ST_NEW_SYN_RECV) {
		key = tuple_hash(t) | REQ_KEY_BIT;
		state = TCPFSM_ST_SYN_RECV;
	} else if (!cookie) {
		return -EINVAL;
	}
	if (get(e, key))
		return -EEXIST;
	c = conn_new(e, key, t);
	if (!c)
		return -ENOMEM;
	c->cookie = key == cookie ? cookie : 0;
	c->flags |= CONN_F_SEEDED;
	if (o)
		c->owner = *o;
	if (key != cookie)
		set_request(e, c, 0);
	if ((flags & ENGINE_SEED_MINISOCK) || state == TCPFSM_ST_TIME_WAIT) {
		/* its substate: TIME_WAIT, or FIN_WAIT2 as an orphan */
		if (state != TCPFSM_ST_FIN_WAIT2)
			state = TCPFSM_ST_TIME_WAIT;
		set_minisock(c, state, now_ns);
		c->tw_deadline_ns = tw_deadline_ns;
		c->fin_watched = state == TCPFSM_ST_FIN_WAIT2 &&
				 (flags & ENGINE_SEED_WATCHED);
	} else if ((flags & ENGINE_SEED_ORPHAN) && state == TCPFSM_ST_FIN_WAIT2) {
		/* the full socket holds it (see TCPFSM_F_DEAD) */
		became_orphan(c, now_ns);
	}
	if (state == TCPFSM_ST_LISTEN)
		add_listener(e, c);
	path_push(c, state, now_ns);
	return 0;
}

void engine_seed_done(struct engine *e, uint64_t end_ns)
{
	e->seed_end = end_ns;
}

const char *conn_open_name(unsigned int open)
{
	static const char *const n[] = { "unknown", "active", "passive", "listen" };

	return open < sizeof(n) / sizeof(n[0]) ? n[open] : "unknown";
}

const char *conn_close_name(unsigned int close)
{
	static const char *const n[] = {
		"none", "active", "passive", "simultaneous", "reset",
		"failed", "half-open", "listener", "unknown",
	};

	return close < sizeof(n) / sizeof(n[0]) ? n[close] : "unknown";
}

const char *conn_end_name(unsigned int end)
{
	static const char *const n[] = {
		"", "expired", "reused", "killed", "synack-timeout", "dropped",
		"gone", "at-exit",
	};

	return end < sizeof(n) / sizeof(n[0]) ? n[end] : "";
}
