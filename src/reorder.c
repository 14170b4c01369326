// SPDX-License-Identifier: GPL-2.0 OR BSD-2-Clause
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include "reorder.h"

int reorder_init(struct reorder *r, uint64_t hold_ns)
{
	memset(r, 0, sizeof(*r));
	r->hold_ns = hold_ns;
	r->cap = 4096;
	r->ev = malloc(r->cap * sizeof(*r->ev));
	if (!r->ev)
		return -ENOMEM;
	return u64map_init(&r->ports, 64, SIZE_MAX / 4);
}

void reorder_free(struct reorder *r)
{
	free(r->ev);
	r->ev = NULL;
	u64map_free(&r->ports);
}

size_t reorder_pending(const struct reorder *r)
{
	return r->tail - r->head;
}

static bool is_unbound_connect(const struct tcpfsm_event *e)
{
	return e->kind == TCPFSM_EV_STATE && e->newstate == TCPFSM_ST_SYN_SENT &&
	       e->sport == 0 && e->cookie;
}

int reorder_push(struct reorder *r, const struct tcpfsm_event *e)
{
	size_t i;

	if (r->tail == r->cap) {
		if (r->head > r->cap / 2) {
			memmove(r->ev, r->ev + r->head,
				(r->tail - r->head) * sizeof(*r->ev));
			r->tail -= r->head;
			r->head = 0;
		} else {
			struct tcpfsm_event *n;

			n = realloc(r->ev, r->cap * 2 * sizeof(*r->ev));
			if (!n)
				return -ENOMEM;
			r->ev = n;
			r->cap *= 2;
		}
	}
	/* insertion from the back: records arrive almost sorted */
	i = r->tail;
	while (i > r->head && r->ev[i - 1].ts_ns > e->ts_ns) {
		r->ev[i] = r->ev[i - 1];
		i--;
	}
	r->ev[i] = *e;
	r->tail++;
	/*
	 * An unbound connect waits for its port (0 until known); the record
	 * leaving SYN_SENT brings it. The ring holds one socket's records in
	 * the order they happened, so the connect is always pushed first.
	 */
	if (is_unbound_connect(e)) {
		if (u64map_put(&r->ports, e->cookie, 0))
			r->unpatched++; /* no room to wait: released as it is */
	} else if (e->kind == TCPFSM_EV_STATE &&
		   e->oldstate == TCPFSM_ST_SYN_SENT && e->sport && e->cookie) {
		uint64_t *port = u64map_get(&r->ports, e->cookie);

		if (port && !*port)
			*port = e->sport;
	}
	return 0;
}

static size_t release(struct reorder *r, uint64_t watermark, bool all,
		      reorder_fn fn, void *ctx)
{
	size_t n = 0;

	while (r->head < r->tail) {
		struct tcpfsm_event *e = &r->ev[r->head];

		if (!all && e->ts_ns > watermark)
			break;
		if (is_unbound_connect(e)) {
			uint64_t *port = u64map_get(&r->ports, e->cookie);

			if (port && *port) {
				e->sport = (uint16_t)*port;
				r->patched++;
			} else if (port && !all && watermark < e->ts_ns + r->hold_ns) {
				break; /* wait for the port, keep order */
			} else if (port) {
				r->unpatched++;
			}
			if (port)
				u64map_del(&r->ports, e->cookie);
		}
		fn(ctx, e);
		r->head++;
		n++;
	}
	if (r->head == r->tail)
		r->head = r->tail = 0;
	return n;
}

size_t reorder_release(struct reorder *r, uint64_t watermark, reorder_fn fn,
		       void *ctx)
{
	return release(r, watermark, false, fn, ctx);
}

size_t reorder_flush(struct reorder *r, reorder_fn fn, void *ctx)
{
	return release(r, 0, true, fn, ctx);
}
