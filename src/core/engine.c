// SPDX-License-Identifier: GPL-2.0 OR BSD-2-Clause
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include "array.h"
#include "engine.h"
#include "engine_impl.h"
#include "tcpstate.h"


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

struct conn *eng_slot_conn(const struct u64map_slot *s)
{
	return (struct conn *)(uintptr_t)s->val;
}

void engine_foreach(struct engine *e,
		    void (*fn)(void *ctx, const struct conn *c), void *ctx)
{
	u64map_foreach(&e->map, s)
		fn(ctx, eng_slot_conn(s));
}

size_t engine_foreach_some(struct engine *e, size_t from, size_t max,
			   void (*fn)(void *ctx, const struct conn *c), void *ctx)
{
	struct u64map_slot *s = u64map_from(&e->map, from);

	for (; s && max; max--) {
		fn(ctx, eng_slot_conn(s));
		s = u64map_from(&e->map, u64map_index(&e->map, s) + 1);
	}
	return s ? u64map_index(&e->map, s) : ENGINE_WALK_DONE;
}

struct conn *eng_get(const struct engine *e, uint64_t key)
{
	uint64_t *v = u64map_get(&e->map, key);

	return v ? (struct conn *)(uintptr_t)*v : NULL;
}

static void evict_one(struct engine *e, uint64_t key);

/* A record of c is being handled (records come in time order, nearly). */
void eng_touch(const struct engine *e, struct conn *c)
{
	if (e->ev_ts > c->last_ns)
		c->last_ns = e->ev_ts;
}

struct conn *eng_conn_new(struct engine *e, uint64_t key,
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
	size_t start = hash_bytes(&key, sizeof(key)), n, best = 0;
	size_t cap = u64map_capacity(&e->map);
	uint64_t best_since = UINT64_MAX;
	const struct u64map_slot *s;
	bool found = false;
	struct conn *c;

	for (n = 0; n < 64 || !found; n++) {
		if (n >= cap)
			return; /* nothing but listeners: the insert fails */
		s = u64map_at(&e->map, start + n);
		if (!s)
			continue;
		c = eng_slot_conn(s);
		if (c->open_kind != OPEN_LISTEN && conn_since(c) < best_since) {
			best_since = conn_since(c);
			best = start + n;
			found = true;
		}
	}
	conn_remove(e, eng_slot_conn(u64map_at(&e->map, best)));
	e->st.evicted++;
}


void eng_emit_full(struct engine *e, const struct conn *c,
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

	t.orphan = eng_orphan_until(c, oldstate, to, &t.orphan_ns);
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
	eng_emit_full(e, c, ev, ts, oldstate, newstate, since, end, 0);
}

/* Move c to newstate at ts, reporting the transition. */
void eng_move(struct engine *e, struct conn *c, const struct tcpfsm_event *ev,
		 uint64_t ts, uint8_t newstate)
{
	uint8_t old = c->state;

	emit(e, c, ev, ts, old, newstate, conn_since(c), END_NONE);
	eng_path_push(c, newstate, ts);
}

/*
 * Who sent the first FIN, if either had, as the path shows it: CLOSE_ACTIVE,
 * CLOSE_PASSIVE, CLOSE_SIMULTANEOUS, or CLOSE_NONE.
 */
uint8_t eng_classify_closing(const struct conn *c)
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
	uint8_t closing = eng_classify_closing(c);

	if (c->open_kind == OPEN_LISTEN || last == TCPFSM_ST_LISTEN)
		return CLOSE_LISTENER;
	return closing != CLOSE_NONE ? closing : CLOSE_UNKNOWN;
}

/*
 * The connection is over at ts: report its lifecycle and forget it. END_GONE:
 * it ended unseen, ts is when that was learned, the last state's time is
 * unknown.
 */
void eng_finish_conn(struct engine *e, struct conn *c,
			const struct tcpfsm_event *ev, uint64_t ts, uint8_t end)
{
	uint8_t old = c->state;
	bool gone = end == END_GONE;

	eng_emit_full(e, c, ev, ts, old, TCPFSM_ST_CLOSE, conn_since(c), end,
		  gone ? EMIT_END_UNKNOWN : 0);
	c->end_ns = ts;
	c->end = end;
	c->close_kind = gone ? classify_gone(c) : classify_close(c, ev);
	c->closing_kind = eng_classify_closing(c);
	if (c->loss_epoch != e->loss_epoch || gone)
		c->flags |= CONN_F_INCOMPLETE;
	if (conn_incomplete(c))
		e->st.incomplete++;
	e->st.closed++;
	if (e->cb.closed)
		e->cb.closed(e->cb.ctx, c);
	conn_remove(e, c);
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
void eng_set_minisock(struct conn *c, uint8_t sub, uint64_t orphan_at)
{
	c->flags |= CONN_F_MINISOCK;
	c->tw_substate = sub;
	if (sub == TCPFSM_ST_FIN_WAIT2)
		eng_became_orphan(c, orphan_at);
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
 * (eng_learn_owner), and a FIN_WAIT2 is an orphan's from here on (SOCK_DEAD is
 * set later in the same close(), so the record does not carry it).
 */
void eng_same_state(struct engine *e, struct conn *c,
		       const struct tcpfsm_event *ev)
{
	e->st.repeats++;
	if (ev->newstate == TCPFSM_ST_FIN_WAIT2)
		eng_became_orphan(c, ev->ts_ns);
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
	c = eng_get(e, ev->cookie);
	if (!c && ev->oldstate == TCPFSM_ST_SYN_RECV) {
		struct tcpfsm_event birth;

		if (take_birth(e, ev, &birth)) {
			handle_state(e, &birth);
			c = eng_get(e, ev->cookie);
		}
	}
	if (c)
		eng_touch(e, c);
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
			req = eng_get(e, tuple_hash(&t) | REQ_KEY_BIT);
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
			c = eng_rekey(e, req, ev->cookie);
			eng_touch(e, c);
			if (seeded.pid)
				c->owner = seeded;
			eng_learn_owner(c, ev);
			if (birth)
				return;
			/* and now the change it was first seen with */
		} else {
			if (!c) {
				c = eng_conn_new(e, ev->cookie, &t);
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
				eng_passive_birth(e, c);
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
				eng_passive_birth(e, c);
				eng_path_push(c, TCPFSM_ST_SYN_RECV, 0);
			} else if (ev->oldstate == TCPFSM_ST_CLOSE) {
				c->flags |= CONN_F_BORN;
				c->state = TCPFSM_ST_CLOSE;
			} else {
				/* first seen mid-life: the time so far is unknown */
				eng_path_push(c, ev->oldstate, 0);
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
		eng_learn_owner(c, ev);
		return;
	} else if ((c->flags & CONN_F_MINISOCK) &&
		   ev->newstate == TCPFSM_ST_CLOSE) {
		/*
		 * The full socket hands over to its timewait minisocket. In
		 * FIN_WAIT2 that makes an orphan: the application's socket is
		 * gone, the kernel alone waits for the peer's FIN.
		 */
		if (c->state == TCPFSM_ST_FIN_WAIT2)
			eng_became_orphan(c, ev->ts_ns);
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
		eng_path_push(c, ev->oldstate, 0);
	}
	if (ev->ts_ns < conn_since(c)) {
		e->st.out_of_order++;
		c->flags |= CONN_F_INCOMPLETE;
	}
	eng_learn_owner(c, ev);
	if (ev->oldstate == ev->newstate && ev->newstate != TCPFSM_ST_CLOSE) {
		eng_same_state(e, c, ev);
		return;
	}
	if (ev->newstate == TCPFSM_ST_SYN_SENT)
		c->open_kind = OPEN_ACTIVE;
	if (ev->newstate == TCPFSM_ST_CLOSE) {
		take_bytes(c, ev);
		eng_finish_conn(e, c, ev, ev->ts_ns, END_NONE);
		return;
	}
	if (ev->newstate == TCPFSM_ST_LISTEN && c->open_kind != OPEN_LISTEN)
		eng_add_listener(e, c);
	/*
	 * The local port arrives after connect() (and recordings made before
	 * the kernel side read inet_sport have it 0 again into CLOSE): keep
	 * the last tuple that had one.
	 */
	if (t.sport)
		c->t = t;
	eng_move(e, c, ev, ev->ts_ns, ev->newstate);
	/*
	 * Into FIN_WAIT2 already orphaned: the whole of it is the kernel's,
	 * whether a minisocket or (ACK taken from the backlog, or a
	 * tcp_fin_timeout over 60 s) the full socket itself holds it.
	 */
	if ((ev->flags & TCPFSM_F_DEAD) && ev->newstate == TCPFSM_ST_FIN_WAIT2)
		eng_became_orphan(c, ev->ts_ns);
}

bool engine_forget(struct engine *e, uint64_t cookie)
{
	struct conn *c = cookie ? eng_get(e, cookie) : NULL;

	if (!c || c->open_kind == OPEN_LISTEN)
		return false;
	conn_remove(e, c);
	e->st.forgotten++;
	return true;
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
		eng_handle_tw(e, ev);
		break;
	case TCPFSM_EV_REQ_START:
	case TCPFSM_EV_REQ_CANCEL:
	case TCPFSM_EV_REQ_EXPIRE:
		eng_handle_req(e, ev);
		break;
	}
}

