// SPDX-License-Identifier: GPL-2.0 OR BSD-2-Clause
/*
 * Minisockets: TIME_WAIT (and orphaned FIN_WAIT2) timewait socks and
 * SYN_RECV request socks, known from their timers' records.
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include "array.h"
#include "engine.h"
#include "engine_impl.h"
#include "tcpstate.h"

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
void eng_silent_time_wait(struct engine *e, struct conn *c,
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
		eng_emit_full(e, c, ev, now, c->state, sub, conn_since(c), END_NONE,
			  EMIT_END_UNKNOWN);
		eng_path_push(c, sub, 0);
		c->flags |= CONN_F_INCOMPLETE;
	} else {
		eng_emit_full(e, c, ev, at, c->state, sub, conn_since(c), END_NONE,
			  EMIT_INFERRED);
		eng_path_push(c, sub, at);
	}
	c->tw_substate = sub;
}

/*
 * A timewait minisocket's removal or expiry for a connection last seen as a
 * full socket closing (FIN_WAIT1, FIN_WAIT2, CLOSING), its hand-over never
 * seen: measured on 6.18 under CPU contention (perf on
 * sock:inet_sock_set_state agrees, 0 records lost, 0 runs skipped), an
 * orphan in FIN_WAIT1 that gets the peer's FIN and ACK together was in
 * TIME_WAIT with no state record and no timer start. The minisocket is
 * this connection's (its cookie): it went into sub at an unknown time.
 */
static bool entered_unseen(struct engine *e, struct conn *c,
			   const struct tcpfsm_event *ev, uint8_t sub)
{
	if (c->state != TCPFSM_ST_FIN_WAIT1 && c->state != TCPFSM_ST_FIN_WAIT2 &&
	    c->state != TCPFSM_ST_CLOSING)
		return false;
	eng_emit_full(e, c, ev, ev->ts_ns, c->state, sub, conn_since(c), END_NONE,
		      EMIT_END_UNKNOWN);
	eng_path_push(c, sub, 0);
	c->flags |= CONN_F_INCOMPLETE;
	eng_set_minisock(c, sub, 0);
	return true;
}

void eng_handle_tw(struct engine *e, const struct tcpfsm_event *ev)
{
	uint8_t sub = ev->newstate;
	uint64_t prev_deadline = 0;
	struct tuple t;
	uint64_t key;
	struct conn *c;

	tuple_from_event(&t, ev);
	key = ev->cookie ? ev->cookie : (tuple_hash(&t) & ~REQ_KEY_BIT) | TW_KEY_BIT;
	c = eng_get(e, key);
	if (sub != TCPFSM_ST_TIME_WAIT && sub != TCPFSM_ST_FIN_WAIT2)
		sub = TCPFSM_ST_TIME_WAIT;

	if (c) {
		eng_touch(e, c);
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
			c = eng_conn_new(e, key, &t);
			if (!c) {
				e->st.untracked++;
				return;
			}
			c->cookie = ev->cookie;
			c->state = TCPFSM_ST_UNKNOWN;
			c->fin_watched = !!(ev->flags & TCPFSM_F_WATCHED);
			eng_set_minisock(c, sub, ev->ts_ns);
			eng_move(e, c, ev, ev->ts_ns, sub);
			return;
		}
		if (c->flags & CONN_F_MINISOCK) {
			/* re-armed: a removal just before was not an end */
			c->flags &= ~CONN_F_PENDING;
			if (c->state != sub && sub == TCPFSM_ST_TIME_WAIT)
				eng_move(e, c, ev, ev->ts_ns, sub);
			c->tw_substate = sub;
			return;
		}
		/* an orphan from the full socket's hand-over record, next */
		eng_set_minisock(c, sub, 0);
		if (c->state != sub)
			eng_move(e, c, ev, ev->ts_ns, sub);
		return;
	case TCPFSM_EV_TW_CANCEL:
		if (!c || (!(c->flags & CONN_F_MINISOCK) && !entered_unseen(e, c, ev, sub)))
			return;
		if (ev->flags & TCPFSM_F_REUSED) {
			/*
			 * connect() took its tuple and had already unhashed it:
			 * this removal is its end, nothing re-arms it.
			 */
			eng_silent_time_wait(e, c, ev, ev->ts_ns, sub);
			eng_finish_conn(e, c, ev, ev->ts_ns, END_REUSED);
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
			eng_silent_time_wait(e, c, ev, ev->ts_ns, sub);
		}
		eng_add_pending(e, c, ev->kind, ev->ts_ns);
		return;
	case TCPFSM_EV_TW_EXPIRE: {
		uint64_t end;

		if (!c || (!(c->flags & CONN_F_MINISOCK) && !entered_unseen(e, c, ev, sub)))
			return;
		/* it ended at the removal before the expiry, if there was one */
		end = (c->flags & CONN_F_PENDING) ? c->pending_ns : ev->ts_ns;
		eng_silent_time_wait(e, c, ev, end, sub);
		eng_finish_conn(e, c, ev, end, END_EXPIRED);
		return;
	}
	}
}

void eng_handle_req(struct engine *e, const struct tcpfsm_event *ev)
{
	struct tuple t;
	uint64_t key;
	struct conn *c;

	tuple_from_event(&t, ev);
	key = tuple_hash(&t) | REQ_KEY_BIT;
	c = eng_get(e, key);
	if (c && !tuple_eq(&c->t, &t))
		return; /* a 64-bit hash collision: ignore rather than mis-join */
	if (c)
		eng_touch(e, c);

	switch (ev->kind) {
	case TCPFSM_EV_REQ_START:
		if (c) {
			/* re-armed for a SYN-ACK retransmission */
			c->flags &= ~CONN_F_PENDING;
			c->retrans = ev->retrans;
			return;
		}
		c = eng_conn_new(e, key, &t);
		if (!c) {
			e->st.untracked++;
			return;
		}
		c->flags |= CONN_F_BORN;
		c->state = TCPFSM_ST_LISTEN;
		c->retrans = ev->retrans;
		eng_set_request(e, c, ev->aux);
		eng_move(e, c, ev, ev->ts_ns, TCPFSM_ST_SYN_RECV);
		return;
	case TCPFSM_EV_REQ_CANCEL:
	case TCPFSM_EV_REQ_EXPIRE:
		if (!c)
			return;
		if (ev->kind == TCPFSM_EV_REQ_EXPIRE)
			c->retrans = ev->retrans;
		eng_add_pending(e, c, ev->kind, ev->ts_ns);
		return;
	}
}
