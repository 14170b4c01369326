// SPDX-License-Identifier: GPL-2.0 OR BSD-2-Clause
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include "array.h"
#include "reorder.h"

#define FIRST_CAP 4096	/* events; the buffer is made on the first push */

int reorder_init(struct reorder *r, uint64_t hold_ns)
{
	memset(r, 0, sizeof(*r));
	r->hold_ns = hold_ns;
	return u64map_init(&r->ports, 64, SIZE_MAX / 4);
}

void reorder_free(struct reorder *r)
{
	free(r->ev);
	r->ev = NULL;
	free(r->late);
	r->late = NULL;
	u64map_free(&r->ports);
}

size_t reorder_pending(const struct reorder *r)
{
	return r->tail - r->head + r->nlate;
}

/* ---- the heap of events far out of order: the oldest at late[0] ---- */

static int late_push(struct reorder *r, const struct tcpfsm_event *e)
{
	size_t i, up;

	if (ARRAY_GROW(r->late, r->nlate, r->late_cap, 64))
		return -ENOMEM;
	i = r->nlate++;
	/* (equal times among these come out in no set order) */
	while (i > 0 && r->late[up = (i - 1) / 2].ts_ns > e->ts_ns) {
		r->late[i] = r->late[up];
		i = up;
	}
	r->late[i] = *e;
	return 0;
}

static void late_pop(struct reorder *r)
{
	struct tcpfsm_event last = r->late[--r->nlate];
	size_t i = 0, n = r->nlate, c;

	while ((c = 2 * i + 1) < n) {
		if (c + 1 < n && r->late[c + 1].ts_ns < r->late[c].ts_ns)
			c++;
		if (r->late[c].ts_ns >= last.ts_ns)
			break;
		r->late[i] = r->late[c];
		i = c;
	}
	if (n)
		r->late[i] = last;
}

static bool is_connect(const struct tcpfsm_event *e)
{
	return e->kind == TCPFSM_EV_STATE && e->newstate == TCPFSM_ST_SYN_SENT;
}

static bool is_unbound_connect(const struct tcpfsm_event *e)
{
	return is_connect(e) && e->sport == 0 && e->cookie;
}

/*
 * A waiting connect's entry, cookie -> which connect (the low 48 bits of its
 * timestamp: two connects of one socket waiting at once are never 2^48 ns,
 * 3 days, apart) and the port learned for it (0 until known).
 */
#define WAIT_TS_MASK ((1ull << 48) - 1)

static uint64_t wait_val(const struct tcpfsm_event *e, uint16_t port)
{
	return (e->ts_ns & WAIT_TS_MASK) << 16 | port;
}

static uint16_t wait_port(uint64_t w)
{
	return (uint16_t)w;
}

static uint64_t wait_val_port(uint64_t w, uint16_t port)
{
	return (w & ~0xffffull) | port;
}

static bool wait_is(uint64_t w, const struct tcpfsm_event *e)
{
	return w >> 16 == (e->ts_ns & WAIT_TS_MASK);
}

/*
 * The socket connects again while its previous unbound connect still
 * waits in the buffer (connect() again after a refused one): that connect
 * takes what was learned for it now, so the entry can follow the new one.
 * Rare, so a scan from the back is fine.
 */
static bool settle_one(struct reorder *r, struct tcpfsm_event *p,
		       uint64_t cookie, uint64_t w)
{
	if (p->cookie != cookie || !is_unbound_connect(p) || !wait_is(w, p))
		return false;
	p->sport = wait_port(w);
	if (p->sport)
		r->patched++;
	else
		r->unpatched++;
	return true;
}

static void settle_earlier(struct reorder *r, uint64_t cookie, uint64_t w)
{
	size_t i = r->tail;

	while (i > r->head)
		if (settle_one(r, &r->ev[--i], cookie, w))
			return;
	for (i = 0; i < r->nlate; i++)
		if (settle_one(r, &r->late[i], cookie, w))
			return;
}

int reorder_push(struct reorder *r, const struct tcpfsm_event *e)
{
	size_t i, lo;

	/* insertion from the back: records arrive almost sorted */
	i = r->tail;
	lo = r->tail - r->head > REORDER_STRAGGLE ? r->tail - REORDER_STRAGGLE : r->head;
	while (i > lo && r->ev[i - 1].ts_ns > e->ts_ns)
		i--;
	if (i == lo && i > r->head && r->ev[i - 1].ts_ns > e->ts_ns) {
		/* far out of order */
		if (late_push(r, e))
			return -ENOMEM;
	} else {
		/* full: move the pending back to the start if that frees half, else grow */
		if (r->tail == r->cap && r->head > r->cap / 2) {
			memmove(r->ev, r->ev + r->head, (r->tail - r->head) * sizeof(*r->ev));
			i -= r->head;
			r->tail -= r->head;
			r->head = 0;
		}
		if (ARRAY_GROW(r->ev, r->tail, r->cap, FIRST_CAP))
			return -ENOMEM;
		memmove(r->ev + i + 1, r->ev + i, (r->tail - i) * sizeof(*r->ev));
		r->moved += r->tail - i;
		r->ev[i] = *e;
		r->tail++;
	}
	/*
	 * An unbound connect waits for its port; the record leaving SYN_SENT
	 * brings it. The ring holds one socket's records in the order they
	 * happened, so the connect is always pushed first, and the entry is
	 * the socket's latest connect.
	 */
	if (is_connect(e) && e->cookie) {
		uint64_t *w = u64map_get(&r->ports, e->cookie);

		/* the socket connects again before its last connect left */
		if (w)
			settle_earlier(r, e->cookie, *w);
		if (e->sport) {
			if (w)
				u64map_del(&r->ports, e->cookie);
		} else if (w) {
			*w = wait_val(e, 0);
		} else if (u64map_put(&r->ports, e->cookie, wait_val(e, 0))) {
			r->unpatched++; /* no room to wait: released as it is */
		}
	} else if (e->kind == TCPFSM_EV_STATE &&
		   e->oldstate == TCPFSM_ST_SYN_SENT && e->sport && e->cookie) {
		uint64_t *w = u64map_get(&r->ports, e->cookie);

		if (w && !wait_port(*w))
			*w = wait_val_port(*w, e->sport);
	}
	return 0;
}

static size_t release(struct reorder *r, uint64_t watermark, bool all,
		      reorder_fn fn, void *ctx, uint64_t *upto)
{
	size_t n = 0;

	if (upto)
		*upto = watermark;

	for (;;) {
		struct tcpfsm_event *e = r->head < r->tail ? &r->ev[r->head] : NULL;
		bool late = r->nlate && (!e || r->late[0].ts_ns < e->ts_ns);

		if (late)
			e = &r->late[0];
		if (!e)
			break;
		if (!all && e->ts_ns > watermark)
			break;
		if (is_unbound_connect(e)) {
			uint64_t *w = u64map_get(&r->ports, e->cookie);

			/* no entry, or a later connect's: settled already */
			if (w && !wait_is(*w, e))
				w = NULL;
			if (w && wait_port(*w)) {
				e->sport = wait_port(*w);
				r->patched++;
			} else if (w && !all && watermark < e->ts_ns + r->hold_ns) {
				/* wait for the port, keep order */
				if (upto)
					*upto = e->ts_ns ? e->ts_ns - 1 : 0;
				break;
			} else if (w) {
				r->unpatched++;
			}
			if (w)
				u64map_del(&r->ports, e->cookie);
		}
		fn(ctx, e);
		if (late)
			late_pop(r);
		else
			r->head++;
		n++;
	}
	if (r->head == r->tail)
		r->head = r->tail = 0;
	return n;
}

size_t reorder_release(struct reorder *r, uint64_t watermark, reorder_fn fn,
		       void *ctx, uint64_t *upto)
{
	return release(r, watermark, false, fn, ctx, upto);
}

size_t reorder_flush(struct reorder *r, reorder_fn fn, void *ctx)
{
	return release(r, 0, true, fn, ctx, NULL);
}
