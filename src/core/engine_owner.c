// SPDX-License-Identifier: GPL-2.0 OR BSD-2-Clause
/*
 * Who a connection belongs to: owners from records, listeners and the
 * children they accept, requests, and removals waiting to be judged.
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include "array.h"
#include "engine.h"
#include "engine_impl.h"
#include "tcpstate.h"

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
	/* a state set again: only close() does that (see eng_same_state) */
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

void eng_learn_owner(struct conn *c, const struct tcpfsm_event *ev)
{
	if (!(ev->flags & TCPFSM_F_IN_TASK))
		return;
	if (!c->owner.pid || syscall_transition(ev))
		set_owner_from_event(c, ev);
}

void eng_add_listener(struct engine *e, struct conn *c)
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
	struct conn *l = lcookie ? eng_get(e, lcookie) : NULL;

	if (!l)
		l = find_listener(e, &c->t);
	if (l) {
		c->listener = l->cookie;
		if (!c->owner.pid)
			c->owner = l->owner;
	}
}

/* A server's child, first seen from its birth. */
void eng_passive_birth(struct engine *e, struct conn *c)
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
void eng_set_request(struct engine *e, struct conn *c, uint64_t lcookie)
{
	c->flags |= CONN_F_REQ;
	c->open_kind = OPEN_PASSIVE;
	inherit_listener(e, c, lcookie);
	if (lcookie)
		c->listener = lcookie;
}

/* Queue c to be settled at its pending time plus the grace. */
int eng_queue_pending(struct engine *e, const struct conn *c)
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

void eng_add_pending(struct engine *e, struct conn *c, uint8_t kind,
			uint64_t ts)
{
	c->pending_kind = kind;
	c->pending_ns = ts;
	if (c->flags & CONN_F_PENDING)
		return;
	if (eng_queue_pending(e, c)) {
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
struct conn *eng_rekey(struct engine *e, struct conn *req, uint64_t cookie)
{
	u64map_del(&e->map, req->key);
	/* a pending removal (the handshake's timer cancel) ends here */
	req->flags &= ~(CONN_F_REQ | CONN_F_PENDING);
	req->key = req->cookie = cookie;
	(void)u64map_put(&e->map, cookie, (uintptr_t)req);
	return req;
}
