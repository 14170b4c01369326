/* SPDX-License-Identifier: GPL-2.0 OR BSD-2-Clause */
/*
 * Puts events from all CPUs back in timestamp order, and fills in what the
 * kernel did not know yet when it wrote a record.
 *
 * The ring buffer delivers records in reservation order, which differs from
 * timestamp order by at most the time between a reservation and the
 * bpf_ktime_get_ns() that follows it on another CPU. Events are held until
 * the watermark (a time before which every event is known to have been
 * read) passes them. They are nearly sorted: each goes in from the back of
 * a sorted array. One more than REORDER_STRAGGLE places out of order (a
 * recording can hold anything) goes to a heap instead, and release takes
 * the older of the two fronts (the array's on a tie): a push costs at most
 * REORDER_STRAGGLE moves or a heap's log n, never a walk of everything
 * pending.
 *
 * At CLOSE -> SYN_SENT the local port is still 0: connect() picks it just
 * after. The connection's next event carries it, so a SYN_SENT record is
 * held (at most hold_ns) until that event is pushed, and patched. A socket
 * that connects again (after a refused connect) while its previous connect
 * is still held gets each connect its own port.
 */
#ifndef TCPFSM_REORDER_H
#define TCPFSM_REORDER_H

#include <stddef.h>
#include <stdint.h>
#include "tcpfsm.h"
#include "u64map.h"

typedef void (*reorder_fn)(void *ctx, const struct tcpfsm_event *e);

#define REORDER_STRAGGLE 64

struct reorder {
	struct tcpfsm_event *ev;
	size_t head, tail, cap; /* pending: ev[head..tail), sorted by ts */
	struct tcpfsm_event *late;	/* pending too: a min-heap by ts */
	size_t nlate, late_cap;
	uint64_t hold_ns;
	struct u64map ports;	/* cookie -> waiting connect, its port */
	uint64_t patched, unpatched;
	uint64_t moved;		/* events moved by insertions (a bound, tested) */
};

int reorder_init(struct reorder *r, uint64_t hold_ns);
void reorder_free(struct reorder *r);
int reorder_push(struct reorder *r, const struct tcpfsm_event *e);
/*
 * Release, in order, every event with ts <= watermark; returns the count.
 * It stops early at a connect that still waits for its port, keeping
 * order: *upto (if not NULL) gets how far the stream is complete, watermark
 * or just before that connect. Whatever settles on the absence of records
 * (engine_advance) must not go further: the records held behind the
 * connect may be the ones it waits for.
 */
size_t reorder_release(struct reorder *r, uint64_t watermark, reorder_fn fn,
		       void *ctx, uint64_t *upto);
/* Release everything (end of stream). */
size_t reorder_flush(struct reorder *r, reorder_fn fn, void *ctx);
size_t reorder_pending(const struct reorder *r);

#endif
