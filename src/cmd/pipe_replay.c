// SPDX-License-Identifier: GPL-2.0 OR BSD-2-Clause
/*
 * --replay FILE: a recording read back through the same pipeline, doing
 * at each of tcpfsm's own records what the live run did there.
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include "cli.h"
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
 * A record of tcpfsm's own (RECORD_EV_*): do what the live run did there.
 * Records of kinds the kernel writes go through on_raw.
 */
static void replay_mark(struct pipe *p, const struct tcpfsm_event *e)
{
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
	case RECORD_EV_STEP:
		pipe_step(p, e->ts_ns);
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
	case RECORD_EV_END:
		p->rp_end = true;
		p->rp_end_ns = e->ts_ns;
		if (e->flags & RECORD_END_F_SKIPPED) {
			p->rp_skipped_known = true;
			p->rp_skipped_state = e->aux;
			p->rp_skipped_timers = e->aux2;
		}
		break;
	}
}

/*
 * The recording's filters apply too: a replay shows what the live run
 * showed, and the options can only narrow it. --state lists intersect
 * (none in common: nothing); the rest is judged on its own.
 */
static void apply_recorded_filter(struct pipe *p, const struct filter *f)
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

int pipe_run_replay(struct pipe *p)
{
	struct record_header hdr;
	struct record_reader *r = NULL;
	struct tcpfsm_event e;
	uint64_t last_ts = 0, stepped = 0, n = 0;
	int ret;

	ret = record_open_read(p->o.replay_path, &r, &hdr);
	if (ret) {
		if (r && *record_error(r))
			cli_error("--replay %s: %s", p->o.replay_path, record_error(r));
		else
			cli_error("--replay %s: %s", p->o.replay_path, strerror(-ret));
		record_close_read(r);
		return EXIT_FAIL;
	}
	p->replaying = true;
	/*
	 * cgroup ids are only unique within a boot: resolve them here only
	 * for a recording of this boot, when they still name the same cgroups.
	 */
	if (record_same_boot(&hdr))
		p->have_cg = !cgpath_init_mounted(&p->cg, "/proc/self/mountinfo");
	p->start_mono = hdr.start_mono_ns;
	p->wall_offset = (int64_t)(hdr.start_real_ns - hdr.start_mono_ns);
	if (hdr.flags & RECORD_F_FILTER)
		apply_recorded_filter(p, &hdr.filter);
	p->rp_steps = hdr.flags & RECORD_F_STEPS;
	if (p->o.header)
		p->o.header(p);
	while (!cli_stop && !p->done && (ret = record_next(r, &e)) == 1) {
		if (e.kind >= RECORD_EV_SEED) {
			replay_mark(p, &e);
			continue;
		}
		pipe_on_raw(p, &e);
		if (e.ts_ns > last_ts)
			last_ts = e.ts_ns;
		/*
		 * The file is in arrival order: release and settle as a live
		 * run would, by event time (every slack's worth of it, so
		 * --interval and --stuck see time pass), at least every 1024.
		 */
		if (!p->rp_steps &&
		    (++n % 1024 == 0 || last_ts >= stepped + REORDER_SLACK_NS) &&
		    last_ts > REORDER_SLACK_NS) {
			pipe_step(p, last_ts - REORDER_SLACK_NS);
			stepped = last_ts;
		}
		/* as a difference: a start near 2^64 must not wrap the end */
		if (p->o.duration_ns && last_ts >= p->start_mono &&
		    last_ts - p->start_mono >= p->o.duration_ns)
			break;
	}
	if (!p->epipe) {
		/* at the live run's end, as it ended; else at the last record */
		uint64_t end = p->rp_end && p->rp_end_ns > last_ts ? p->rp_end_ns : last_ts;

		reorder_flush(&p->ro, pipe_deliver, p);
		pipe_finish(p, end);
		pipe_tick(p, end, true);
	}
	u64map_free(&p->rp_gone);
	if (ret < 0) {
		/* what came before the damage has been reported; now the damage */
		cli_flush(p->out);
		cli_error("--replay %s: %s", p->o.replay_path, record_error(r));
		record_close_read(r);
		return EXIT_FAIL;
	}
	record_close_read(r);
	return EXIT_OK;
}
