// SPDX-License-Identifier: GPL-2.0 OR BSD-2-Clause
/*
 * Time passing: removals settled, --stuck alerts, the end of the stream,
 * losses and reconciling with a dump, what is open at exit, seeding.
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include "array.h"
#include "engine.h"
#include "engine_impl.h"
#include "tcpstate.h"

/*
 * A timewait minisock removed early, not by connect() (that one says so,
 * TCPFSM_F_REUSED): was it a SYN for the same tuple arriving at a listener
 * (tcp_timewait_state_process()'s TCP_TW_SYN), whose request follows?
 */
bool eng_reused(struct engine *e, const struct conn *c)
{
	struct conn *r = eng_get(e, tuple_hash(&c->t) | REQ_KEY_BIT);

	return r && tuple_eq(&r->t, &c->t);
}

static void settle(struct engine *e, struct conn *c)
{
	uint64_t ts = c->pending_ns;

	switch (c->pending_kind) {
	case TCPFSM_EV_TW_CANCEL:
		/* a FIN_WAIT2 -> TIME_WAIT left open at the removal */
		eng_silent_time_wait(e, c, NULL, ts, c->tw_substate);
		eng_finish_conn(e, c, NULL, ts, eng_reused(e, c) ? END_REUSED : END_KILLED);
		break;
	case TCPFSM_EV_REQ_CANCEL:
		eng_finish_conn(e, c, NULL, ts, END_REQ_DROPPED);
		break;
	case TCPFSM_EV_REQ_EXPIRE:
		eng_finish_conn(e, c, NULL, ts, END_SYNACK_TIMEOUT);
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
		c = eng_get(e, q.key);
		if (!c || !(c->flags & CONN_F_PENDING))
			continue; /* joined, re-armed or ended meanwhile */
		if (!all && now < c->pending_ns + e->cfg.pending_ns) {
			/*
			 * Removed again since it was queued: wait from then.
			 * Never fails: the entry just taken off left room.
			 */
			if (eng_queue_pending(e, c))
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
		struct conn *c = eng_slot_conn(s);
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
		struct conn *c = eng_slot_conn(s);

		if (!ended_unseen(e, c, alive, netns_read, t0))
			continue;
		if (ARRAY_GROW(ended, n, cap, 64)) {
			free(ended);
			return -ENOMEM;
		}
		ended[n++] = c;
	}
	for (i = 0; i < n; i++)
		eng_finish_conn(e, ended[i], NULL, e->now, END_GONE);
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
		struct conn *c = eng_slot_conn(s);

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
		copy.closing_kind = eng_classify_closing(&copy);
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
	if (eng_get(e, key))
		return -EEXIST;
	c = eng_conn_new(e, key, t);
	if (!c)
		return -ENOMEM;
	c->cookie = key == cookie ? cookie : 0;
	c->flags |= CONN_F_SEEDED;
	if (o)
		c->owner = *o;
	if (key != cookie)
		eng_set_request(e, c, 0);
	if ((flags & ENGINE_SEED_MINISOCK) || state == TCPFSM_ST_TIME_WAIT) {
		/* its substate: TIME_WAIT, or FIN_WAIT2 as an orphan */
		if (state != TCPFSM_ST_FIN_WAIT2)
			state = TCPFSM_ST_TIME_WAIT;
		eng_set_minisock(c, state, now_ns);
		c->tw_deadline_ns = tw_deadline_ns;
		c->fin_watched = state == TCPFSM_ST_FIN_WAIT2 &&
				 (flags & ENGINE_SEED_WATCHED);
	} else if ((flags & ENGINE_SEED_ORPHAN) && state == TCPFSM_ST_FIN_WAIT2) {
		/* the full socket holds it (see TCPFSM_F_DEAD) */
		eng_became_orphan(c, now_ns);
	}
	if (state == TCPFSM_ST_LISTEN)
		eng_add_listener(e, c);
	eng_path_push(c, state, now_ns);
	return 0;
}

void engine_seed_done(struct engine *e, uint64_t end_ns)
{
	e->seed_end = end_ns;
}
