// SPDX-License-Identifier: GPL-2.0 OR BSD-2-Clause
/*
 * --replay FILE: a recording read back through the same pipeline (its
 * source: replay_source.c), doing at each of tcpfsm's own records what the
 * live run did there.
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include "pipeline.h"
#include "pipe_impl.h"
#include "record.h"

/* A replay's reconcile: end the connections the live run found gone. */
struct gone_ctx {
	struct pipe *p;
	struct u64map alive;
	int err;
};

static void keep_alive(void *ctx, const struct conn *c)
{
	struct gone_ctx *g = ctx;

	if (c->cookie && !g->err && !u64map_get(&g->p->rp_gone, c->cookie))
		g->err = u64map_put(&g->alive, c->cookie, 1);
}

static void replay_reconcile(struct pipe *p, uint64_t t0)
{
	struct gone_ctx g = { .p = p };

	/* alive: everything tracked but those (the engine judges the rest) */
	if (p->rp_gone.slots && !u64map_init(&g.alive, 1024, RECONCILE_MAX_SOCKS)) {
		engine_foreach(p->eng, keep_alive, &g);
		if (!g.err)
			(void)engine_reconcile(p->eng, &g.alive, NULL, t0);
		u64map_free(&g.alive);
	}
	u64map_free(&p->rp_gone);
}

/*
 * A record of tcpfsm's own (RECORD_EV_*; the source keeps the steps and
 * the end): do what the live run did there. Records of kinds the kernel
 * writes go through pipe_on_raw.
 */
void pipe_on_mark(void *ctx, const struct tcpfsm_event *e)
{
	struct pipe *p = ctx;

	switch (e->kind) {
	case RECORD_EV_SEED: {
		struct owner o = { .pid = e->pid, .cgroup_id = e->cgroup_id };
		struct tuple t;

		tuple_from_event(&t, e);
		memcpy(o.comm, e->comm, TCPFSM_COMM_LEN);
		if (!pipe_wants_seed(p, e->newstate, &t, &o))
			break;
		if (!engine_seed(p->eng, e->cookie, e->newstate, &t, &o, e->ts_ns,
				 e->flags, e->aux))
			p->seeded++;
		break;
	}
	case RECORD_EV_SEED_DONE:
		engine_seed_done(p->eng, e->ts_ns);
		break;
	case RECORD_EV_GONE:
		/* no memory: it does not end, as a live run's failed dump */
		if (p->rp_gone.slots || !u64map_init(&p->rp_gone, 64, RECONCILE_MAX_SOCKS))
			(void)u64map_put(&p->rp_gone, e->cookie, 1);
		break;
	case RECORD_EV_RECONCILE:
		replay_reconcile(p, e->ts_ns);
		break;
	case RECORD_EV_FLUSH:
		reorder_flush(&p->ro, pipe_deliver, p);
		break;
	}
}

/*
 * The recording's filters apply too: a replay shows what the live run
 * showed, and the options can only narrow it. --state lists intersect
 * (none in common: nothing); the rest is judged on its own.
 */
void pipe_apply_recorded_filter(struct pipe *p, const struct filter *f)
{
	uint32_t *mine = &p->o.filter.state_mask;

	p->rec_filter = *f;
	p->rec_filter.state_mask = 0;
	p->has_rec_filter = filter_active(&p->rec_filter);
	if (f->state_mask && *mine)
		*mine = (*mine & f->state_mask) ? *mine & f->state_mask : 1u << 31;
	else if (f->state_mask)
		*mine = f->state_mask;
}
