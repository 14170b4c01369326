// SPDX-License-Identifier: GPL-2.0 OR BSD-2-Clause
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <sched.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include "agesrv.h"
#include "cli.h"
#include "clock.h"
#include "diag.h"
#include "evsource.h"
#include "fmt.h"
#include "netns.h"
#include "outfile.h"
#include "pipeline.h"
#include "procmap.h"
#include "record.h"
#include "replay_source.h"
#include "tcpstate.h"
#include "pipe_impl.h"

static bool filter_conn(const struct filter *f, const struct conn *c)
{
	if (!filter_tuple(f, &c->t))
		return false;
	if ((f->has_pid || f->has_comm) &&
	    !filter_owner(f, c->owner.pid, c->owner.comm))
		return false;
	return true;
}

bool pipe_wants_conn(const struct pipe *p, const struct conn *c)
{
	/* a replay shows no more than the live run did */
	if (p->has_rec_filter && !filter_conn(&p->rec_filter, c))
		return false;
	return filter_conn(&p->o.filter, c);
}

/*
 * A record of a connection the filters may select (filter_event), by the
 * options' filters and, in a replay, the recording's: the engine sees no
 * other.
 */
static bool wants_event(const struct pipe *p, const struct tcpfsm_event *e)
{
	return (!p->has_rec_filter || filter_event(&p->rec_filter, e)) &&
	       filter_event(&p->o.filter, e);
}

/* A socket read at start, with its owner from /proc (pid 0: none) */
bool pipe_wants_seed(const struct pipe *p, uint8_t state, const struct tuple *t,
		     const struct owner *o)
{
	/* an owner known and not selected (a listener's children need it) */
	if (o->pid && state != TCPFSM_ST_LISTEN &&
	    ((filter_has_owner(&p->o.filter) &&
	      !filter_owner(&p->o.filter, o->pid, o->comm)) ||
	     (p->has_rec_filter && filter_has_owner(&p->rec_filter) &&
	      !filter_owner(&p->rec_filter, o->pid, o->comm))))
		return false;
	return (!p->has_rec_filter || filter_seed(&p->rec_filter, state, t)) &&
	       filter_seed(&p->o.filter, state, t);
}

/*
 * A connection whose owner is known and not selected: forgotten once the
 * engine call that told it returns (never a listener: its children take
 * their owner from it).
 */
static void note_owner(struct pipe *p, const struct conn *c)
{
	if (!c->owner.pid || !c->cookie || c->open_kind == OPEN_LISTEN ||
	    p->nforget == sizeof(p->forget) / sizeof(p->forget[0]))
		return;	/* a full list: forgotten at its next record */
	if ((filter_has_owner(&p->o.filter) &&
	     !filter_owner(&p->o.filter, c->owner.pid, c->owner.comm)) ||
	    (p->has_rec_filter && filter_has_owner(&p->rec_filter) &&
	     !filter_owner(&p->rec_filter, c->owner.pid, c->owner.comm)))
		p->forget[p->nforget++] = c->cookie;
}

static void forget_rejected(struct pipe *p)
{
	unsigned int i;

	for (i = 0; i < p->nforget; i++)
		if (engine_forget(p->eng, p->forget[i]))
			(void)filter_reject(&p->rejects, p->forget[i]);
	p->nforget = 0;
}

/*
 * A finished connection the filters select: pipe_wants_conn(), and with
 * --state, one that went through one of those states.
 */
bool pipe_wants_closed(const struct pipe *p, const struct conn *c)
{
	uint32_t states = p->o.filter.state_mask;

	return pipe_wants_conn(p, c) && (!states || (states & conn_path_states(c)));
}

/* ---- the loop ---- */

/*
 * Into the recording, what the replay must do at this point to give the
 * same output (record.h, RECORD_EV_*). A write error stops the run as a
 * record's does.
 */
void pipe_rec_mark(struct pipe *p, uint8_t kind, uint64_t ts_ns, uint64_t cookie)
{
	struct tcpfsm_event e = { .kind = kind, .ts_ns = ts_ns, .cookie = cookie };

	if (!p->rec || p->rec_err)
		return;
	p->rec_err = record_write(p->rec, &e, 1);
	if (p->rec_err)
		p->done = true;
}

/*
 * Runs the kernel skipped (see tracer_skipped): live, the tracer's count;
 * replayed, the count its end record carries. False when not known.
 */
static bool skipped_runs(const struct pipe *p, uint64_t *state, uint64_t *timers)
{
	return p->src && p->src->ops->skipped &&
	       p->src->ops->skipped(p->src, state, timers);
}

/* The end of the run, with what the summary needs that only the kernel knew. */
static void rec_end(struct pipe *p, uint64_t ts_ns)
{
	struct tcpfsm_event e = { .kind = RECORD_EV_END, .ts_ns = ts_ns };
	uint64_t state, timers;

	if (!p->rec || p->rec_err)
		return;
	if (skipped_runs(p, &state, &timers)) {
		e.flags |= RECORD_END_F_SKIPPED;
		e.aux = state;
		e.aux2 = timers;
	}
	p->rec_err = record_write(p->rec, &e, 1);
	if (p->rec_err)
		p->done = true;
}

/*
 * Every finished connection: the filters select here, once, what the
 * command's closed callback gets and the summary counts. The engine sees
 * them all, filtered out or not; with kernel-side filters a filtered-out
 * connection shows only its records that had no local port yet, which look
 * like a connection with gaps. The summary counts as incomplete what life
 * marks so (including a start not seen), and no listener: it is no
 * connection (life shows one only with --listeners).
 */
static void on_closed(void *ctx, const struct conn *c)
{
	struct pipe *p = ctx;

	/* found gone after a loss: the replay ends it at the same point */
	if (c->end == END_GONE)
		pipe_rec_mark(p, RECORD_EV_GONE, 0, c->cookie);
	if (!pipe_wants_closed(p, c))
		return;
	if (c->open_kind != OPEN_LISTEN) {
		p->closed++;
		if (conn_incomplete(c))
			p->incomplete++;
		if (c->end == END_GONE)
			p->gone++;
	}
	if (p->cb.closed && !p->done)
		p->cb.closed(ctx, c);
}

/*
 * The command's callbacks are called through these, and nothing is
 * printed once p->done is set (--count reached, the reader gone, output or
 * recording failed): not a transition, a lifecycle, a --stuck alert (the
 * at-exit ones included) nor a final stats print.
 */
static void on_transition(void *ctx, const struct transition *t)
{
	struct pipe *p = ctx;

	note_owner(p, t->conn);
	/* the filters select here, once, what a command sees */
	if (!p->done && p->cb.transition && pipe_wants_conn(p, t->conn) &&
	    filter_transition(&p->o.filter, t->oldstate, t->newstate,
			      p->o.states_by))
		p->cb.transition(ctx, t);
}

static void on_stuck(void *ctx, const struct conn *c, uint64_t now_ns,
		     uint64_t threshold_ns, bool at_exit)
{
	struct pipe *p = ctx;

	if (!p->done && pipe_wants_conn(p, c))
		p->cb.stuck(ctx, c, now_ns, threshold_ns, at_exit);
}

/*
 * A connection still open at the end (a copy, END_AT_EXIT): counted as the
 * ended ones are, and given to the command's closed callback.
 */
static void on_open_at_exit(void *ctx, const struct conn *c)
{
	struct pipe *p = ctx;

	if (!pipe_wants_closed(p, c))
		return;
	if (c->open_kind != OPEN_LISTEN)
		p->open_at_exit++;
	if (p->cb.closed && !p->done)
		p->cb.closed(ctx, c);
}

/* The stream ended at now_ns: settle it, report what is still open. */
void pipe_finish(struct pipe *p, uint64_t now_ns)
{
	engine_finish(p->eng, now_ns);
	/* out of memory: none reported, and the summary says none */
	(void)engine_foreach_open(p->eng, now_ns, on_open_at_exit, p);
}

void pipe_tick(struct pipe *p, uint64_t now_ns, bool final)
{
	if (p->o.tick && !p->done)
		p->o.tick(p, now_ns, final);
}

#define OUT_BUF_BYTES (1u << 20)

/* The lost-record counters' kinds, as the summary and "lost" records group them. */
enum { LOST_STATE, LOST_TIMEWAIT, LOST_REQUEST, LOST_GROUPS };
static const char *const lost_group_names[LOST_GROUPS] = {
	"state", "timewait", "request",
};

/*
 * A loss, where it happened in the stream (its marker went through the
 * reorder buffer with the records): in JSON, a "lost" record with what was
 * lost since the previous one, so that their counts add up to the total.
 */
static void emit_lost(struct pipe *p, const struct tcpfsm_event *e)
{
	struct json *j = &p->j;
	bool kinds = e->flags & RECORD_LOST_F_KINDS;
	uint64_t g[LOST_GROUPS] = { e->aux2, e->cookie, e->cgroup_id };
	int i;

	if (e->aux <= p->lost_out)
		return;
	if (!p->o.json && !p->done) {
		/* in a table too: a line where it happened, as STUCK's */
		char ts[PIPE_TS_MAX];

		pipe_format_ts(p, ts, e->ts_ns);
		fprintf(p->out, "LOST %llu records at %s", (unsigned long long)(e->aux - p->lost_out), ts);
		if (kinds)
			fprintf(p->out, " (state %llu, timewait %llu, request %llu)",
				(unsigned long long)(g[0] - p->lost_kind_out[0]),
				(unsigned long long)(g[1] - p->lost_kind_out[1]),
				(unsigned long long)(g[2] - p->lost_kind_out[2]));
		fprintf(p->out, ", %llu in all: connections alive then are incomplete\n",
			(unsigned long long)e->aux);
	}
	if (p->o.json && !p->done) {
		json_begin_object(j);
		json_str(j, "type", "lost");
		json_u64(j, "ts", pipe_ts_value(p, e->ts_ns));
		json_u64(j, "mono_ns", e->ts_ns);
		json_u64(j, "count", e->aux - p->lost_out);
		json_u64(j, "total", e->aux);
		if (kinds) {
			json_begin_object_key(j, "kinds");
			for (i = 0; i < LOST_GROUPS; i++)
				json_u64(j, lost_group_names[i],
					 g[i] > p->lost_kind_out[i] ? g[i] - p->lost_kind_out[i] : 0);
			json_end_object(j);
		} else {
			json_null(j, "kinds");	/* a recording from before kinds */
		}
		json_end_object(j);
		json_end_line(j);
	}
	p->lost_out = e->aux;
	if (kinds)
		memcpy(p->lost_kind_out, g, sizeof(g));
}

void pipe_deliver(void *ctx, const struct tcpfsm_event *e)
{
	struct pipe *p = ctx;

	if (e->kind == TCPFSM_EV_LOST) {
		emit_lost(p, e);
		return;
	}
	if (!wants_event(p, e) || filter_rejected(&p->rejects, e)) {
		/* tracked before its port (or owner) was known: now it is */
		if (e->kind == TCPFSM_EV_STATE)
			engine_forget(p->eng, e->cookie);
		p->filtered++;
		return;
	}
	engine_event(p->eng, e);
	forget_rejected(p);
}

/*
 * Records from before at were lost: the engine marks what they may have
 * touched; live, a dump will say which connections ended meanwhile.
 */
static void note_loss(struct pipe *p, uint64_t at)
{
	engine_note_lost(p->eng, at);
	if (p->live && at > p->rc_loss)
		p->rc_loss = at;
}

/*
 * Records were lost up to e->ts_ns (a TCPFSM_EV_LOST record, whose count
 * grew). No memory for its marker: the summary still counts the loss.
 */
static void on_lost(struct pipe *p, const struct tcpfsm_event *e)
{
	p->lost_seen = e->aux;
	if (e->flags & RECORD_LOST_F_KINDS) {
		p->lost_kind[LOST_STATE] = e->aux2;
		p->lost_kind[LOST_TIMEWAIT] = e->cookie;
		p->lost_kind[LOST_REQUEST] = e->cgroup_id;
	} else {
		p->lost_kind_unknown = true;
	}
	note_loss(p, e->ts_ns);
	if (p->rec && !p->rec_err)
		p->rec_err = record_write(p->rec, e, 1);
	/*
	 * In the stream where it happened (see emit_lost): live, after every
	 * record read so far, so whatever is released before it was read
	 * before the loss was seen.
	 */
	(void)reorder_push(&p->ro, e);
	if (p->live && e->ts_ns - p->lost_warned_ns >= 1000000000ull) {
		fprintf(stderr,
			"tcpfsm: warning: %llu records lost so far (ring buffer full); "
			"connections alive then are marked incomplete\n",
			(unsigned long long)e->aux);
		p->lost_warned_ns = e->ts_ns;
	}
}

void pipe_on_raw(void *ctx, const struct tcpfsm_event *e)
{
	struct pipe *p = ctx;

	if (e->kind == TCPFSM_EV_LOST) {
		/* the kernel's count grew (live), or the live run's did (replay) */
		if (e->aux > p->lost_seen)
			on_lost(p, e);
		return;
	}
	p->raw_events++;
	if (p->rec && !p->rec_err) {
		p->rec_err = record_write(p->rec, e, 1);
		if (p->rec_err)
			p->done = true;
	}
	if (reorder_push(&p->ro, e)) {
		/* out of memory: do not pretend, count it apart */
		p->dropped++;
		note_loss(p, e->ts_ns + 1);
	}
}

/*
 * Release what the watermark allows, settle the engine, flush output. The
 * engine and the tick see time only as far as the released stream is
 * complete: a connect held for its port holds back the records behind it,
 * and a timer removal must not be settled without them.
 */
void pipe_step(struct pipe *p, uint64_t watermark)
{
	uint64_t upto;
	int err;

	p->now_ns = clock_ns(CLOCK_MONOTONIC);
	reorder_release(&p->ro, watermark, pipe_deliver, p, &upto);
	p->released = upto;
	engine_advance(p->eng, upto);
	forget_rejected(p);
	pipe_tick(p, upto, false);
	err = cli_flush(p->out);
	/* a hung-up terminal is a reader gone, as a closed pipe's */
	if (err == -EPIPE || (err == -EIO && cli_stop == SIGHUP)) {
		p->epipe = true;
		p->done = true;
	} else if (err && !p->out_err) {
		p->out_err = err;
		p->done = true;
	}
	/* every poll: a recorder killed later loses at most this turn's */
	if (p->rec && !p->rec_err) {
		p->rec_err = record_flush(p->rec);
		if (p->rec_err)
			p->done = true;
	}
}

/* A failure of the source, named as the options name it. */
static int source_error(const struct pipe *p, const char *why)
{
	if (p->o.replay_path)
		return cli_error("--replay %s: %s", p->o.replay_path, why);
	return cli_error("%s", why);
}

/*
 * --record: the header, before seeding (which may read records already,
 * see seed_netns), with the filters a replay must apply.
 */
static int open_recording(struct pipe *p, int fd)
{
	struct record_header hdr;
	int ret;

	record_header_now(&hdr, (p->minisocks ? RECORD_F_MINISOCKS : 0) |
			  (filter_active(&p->o.filter) ? RECORD_F_FILTERED : 0) |
			  RECORD_F_STEPS | RECORD_F_FILTER);
	hdr.filter = p->o.filter;
	hdr.start_mono_ns = p->start_mono;
	hdr.start_real_ns = (uint64_t)((int64_t)p->start_mono + p->wall_offset);
	ret = record_open_fd(fd, true, &hdr, &p->rec);
	if (ret)
		return cli_error("--record %s: %s", p->o.record_path, strerror(-ret));
	return 0;
}

/* Open the source (a recording with --replay), and take its run's clock. */
static int open_source(struct pipe *p, const struct evsource_ops *ops, int rec_fd)
{
	struct evsource_opts so = {
		.sink = { .record = pipe_on_raw, .mark = pipe_on_mark, .ctx = p },
		.slack_ns = REORDER_SLACK_NS,
		.filter = &p->o.filter,
		.no_minisocks = p->o.no_minisocks,
		.verbose = cli_verbose,
		.ringbuf_bytes = p->o.ringbuf_bytes,
		.path = p->o.replay_path,
	};
	struct evsource_info info;
	char err[256], warn[256];
	int ret = ops->open(&p->src, &so, &info, err, sizeof(err), warn, sizeof(warn));

	if (ret) {
		p->src = NULL;
		if (rec_fd >= 0) {
			close(rec_fd);
			unlink(p->o.record_path);	/* ours, and empty */
		}
		return source_error(p, err);
	}
	if (*warn)
		fprintf(stderr, "tcpfsm: warning: %s\n", warn);
	p->live = info.live;
	p->minisocks = info.minisocks;
	p->start_mono = info.start_mono_ns;
	p->wall_offset = info.wall_offset_ns;
	/*
	 * cgroup ids are only unique within a boot: resolved only for this
	 * boot's, when they still name the same cgroups. No cgroup2 mount (a
	 * cgroup v1 only host): ids without paths.
	 */
	if (info.this_boot)
		p->have_cg = !cgpath_init_mounted(&p->cg, "/proc/self/mountinfo");
	if (info.filter)
		pipe_apply_recorded_filter(p, info.filter);
	return rec_fd >= 0 ? open_recording(p, rec_fd) : 0;
}

/*
 * Has the source's clock run --duration? A difference, not an end: a
 * recording's start near 2^64 must not wrap. *timeout_ms is shortened
 * to wake at the end.
 */
static bool run_out(const struct pipe *p, int *timeout_ms)
{
	uint64_t now = p->src->ops->now(p->src), ran, left;

	if (now < p->start_mono)
		return false;
	ran = now - p->start_mono;
	if (ran >= p->o.duration_ns)
		return true;
	left = p->o.duration_ns - ran;
	if (left < POLL_MS * 1000000ull)
		*timeout_ms = (int)(left / 1000000) + 1;
	return false;
}

/*
 * The run, whichever the source: read, release where the source says
 * every earlier record has been read, stop at the end of a recording, at
 * --duration or --count, a signal, or a reader gone; then settle what is
 * left and report what is still open.
 */
static int run(struct pipe *p)
{
	const struct evsource_ops *ops = p->o.replay_path ? &replay_evsource : p->o.source;
	struct evsource_turn turn;
	bool failed = false;
	int ret = 0, rec_fd = -1;
	uint64_t end;

	if (!ops)
		return cli_error("this build reads recordings only (--replay FILE)");
	/* refused before anything is loaded: a name in the way is a usage matter */
	if (p->o.record_path) {
		rec_fd = outfile_create(p->o.record_path, p->o.force);
		if (rec_fd < 0)
			return cli_error("--record %s: %s%s", p->o.record_path,
					 strerror(-rec_fd), rec_fd == -EEXIST ?
					 " (--force replaces it)" : "");
	}
	ret = open_source(p, ops, rec_fd);
	if (!ret && p->live)
		ret = pipe_live_begin(p);
	if (ret)
		return ret;
	if (p->o.header)
		p->o.header(p);

	while (!cli_stop && !p->done) {
		int timeout = p->age_busy ? 0 : POLL_MS;

		if (p->o.duration_ns && run_out(p, &timeout))
			break;
		ret = ops->poll(p->src, timeout, &turn);
		if (ret == -EINTR)
			continue;
		if (ret < 0 || turn.end)
			break;
		if (!turn.step)
			continue;
		/* a replay of this run's recording releases records here too */
		pipe_rec_mark(p, RECORD_EV_STEP, turn.watermark, 0);
		pipe_step(p, turn.watermark);
		if (p->live && pipe_live_turn(p)) {
			failed = true;
			break;
		}
	}
	if (p->live)
		pipe_live_end(p);
	end = ops->end(p->src);
	if (!p->epipe) {
		pipe_rec_mark(p, RECORD_EV_FLUSH, end, 0);
		reorder_flush(&p->ro, pipe_deliver, p);
		/* every record is in: a dump waiting for them can be decided */
		if (p->rc_t1)
			pipe_reconcile_decide(p);
		rec_end(p, end);
		pipe_finish(p, end);
		pipe_tick(p, end, true);
	}
	pipe_reconcile_forget(p);	/* a dump left undecided (a reader gone) */
	u64map_free(&p->rp_gone);
	if (ret < 0 && ret != -EINTR) {
		/* what came before the failure has been reported; now the failure */
		cli_flush(p->out);
		source_error(p, ops->error(p->src));
		return EXIT_FAIL;
	}
	return failed ? EXIT_FAIL : EXIT_OK;
}

/*
 * The closing summary: on stderr, and in JSON also as the stream's last
 * record ("type":"summary"), so a consumer of JSON alone sees every loss.
 */
static void summary(struct pipe *p)
{
	const struct engine_stats *st = engine_stats(p->eng);
	uint64_t lost = p->lost_seen;
	uint64_t bad = p->src->ops->bad ? p->src->ops->bad(p->src) : 0;
	bool kinds = lost && !p->lost_kind_unknown;
	uint64_t skipped, timers;
	int i;

	if (p->o.json && !p->epipe && !p->out_err) {
		struct json *j = &p->j;

		json_begin_object(j);
		json_str(j, "type", "summary");
		json_u64(j, "events", p->raw_events);
		json_u64(j, "lost", lost);
		if (kinds || !lost) {
			json_begin_object_key(j, "lost_kinds");
			for (i = 0; i < LOST_GROUPS; i++)
				json_u64(j, lost_group_names[i], p->lost_kind[i]);
			json_end_object(j);
		} else {
			json_null(j, "lost_kinds");
		}
		json_u64(j, "malformed", bad);
		json_u64(j, "dropped", p->dropped);
		json_u64(j, "filtered", p->filtered);
		json_u64(j, "peak_tracked", st->peak_conns);
		json_u64(j, "connections_ended", p->closed);
		json_u64(j, "incomplete", p->incomplete);
		json_u64(j, "gone", p->gone);
		json_u64(j, "evicted", st->evicted);
		json_u64(j, "open_at_exit", p->open_at_exit);
		json_u64(j, "illegal", st->illegal);
		json_u64(j, "untracked", st->untracked);
		if (skipped_runs(p, &skipped, &timers)) {
			json_u64(j, "skipped_state_changes", skipped);
			json_u64(j, "skipped_timer_events", timers);
		}
		json_u64(j, "seeded", p->seeded);
		json_bool(j, "replay", !p->live);
		json_end_object(j);
		json_end_line(j);
		cli_flush(p->out);
	}
	/* a reader that went away wants silence, unless something was lost */
	if (p->epipe && !lost && !bad && !p->dropped)
		return;
	fprintf(stderr, "tcpfsm: %llu events, %llu lost",
		(unsigned long long)p->raw_events, (unsigned long long)lost);
	if (kinds)
		fprintf(stderr, " (state %llu, timewait %llu, request %llu)",
			(unsigned long long)p->lost_kind[LOST_STATE],
			(unsigned long long)p->lost_kind[LOST_TIMEWAIT],
			(unsigned long long)p->lost_kind[LOST_REQUEST]);
	/* any connection's, selected or not (see tracer_skipped) */
	if (skipped_runs(p, &skipped, &timers) && (skipped || timers))
		fprintf(stderr, ", %llu state changes and %llu timer events "
			"skipped by the kernel",
			(unsigned long long)skipped, (unsigned long long)timers);
	if (bad)
		fprintf(stderr, ", %llu malformed", (unsigned long long)bad);
	if (p->dropped)
		fprintf(stderr, ", %llu dropped by tcpfsm (out of memory)",
			(unsigned long long)p->dropped);
	fprintf(stderr, "; %llu connections ended, %llu incomplete",
		(unsigned long long)p->closed, (unsigned long long)p->incomplete);
	if (p->gone)
		fprintf(stderr, " (%llu gone while records were lost)",
			(unsigned long long)p->gone);
	fprintf(stderr, ", %llu evicted", (unsigned long long)st->evicted);
	fprintf(stderr, ", %llu open at exit", (unsigned long long)p->open_at_exit);
	if (st->illegal)	/* of every transition seen, filters or not */
		fprintf(stderr, ", %llu illegal transitions",
			(unsigned long long)st->illegal);
	if (st->untracked)
		fprintf(stderr, ", %llu records no connection took",
			(unsigned long long)st->untracked);
	if (p->seeded)
		fprintf(stderr, ", %llu seeded at start", (unsigned long long)p->seeded);
	fputc('\n', stderr);
}

struct pipe *pipe_new(const struct pipe_opts *o, const struct engine_cb *cb,
		      FILE *out)
{
	static const struct engine_cb none;
	struct engine_cb c;
	struct engine_config cfg;
	struct pipe *p;
	int i;

	if (!cb)
		cb = &none;
	c = *cb;
	p = calloc(1, sizeof(*p));
	if (!p)
		return NULL;
	p->o = *o;
	p->out = out;
	p->now_ns = clock_ns(CLOCK_MONOTONIC);
	json_init(&p->j, p->out);
	if (o->json)
		p->o.header = NULL;	/* headers are for tables */
	/* the callbacks get the pipe; every command reports --stuck alike */
	p->cb = *cb;
	if (!p->cb.stuck)
		p->cb.stuck = pipe_stuck_cb;
	c.ctx = p;
	/* with --pid/--comm, every transition tells an owner (note_owner) */
	c.transition = cb->transition || filter_has_owner(&o->filter) ||
		       o->replay_path ? on_transition : NULL;
	c.closed = on_closed;
	c.stuck = on_stuck;
	engine_config_default(&cfg);
	cfg.max_conns = o->max_conns;
	for (i = 0; i < TCPFSM_ST_MAX; i++)
		cfg.stuck_ns[i] = o->stuck_ns[i];
	p->eng = engine_new(&cfg, &c);
	if (!p->eng || pipe_cols_init(p) || reorder_init(&p->ro, PORT_HOLD_NS)) {
		pipe_free(p);
		return NULL;
	}
	return p;
}

void pipe_free(struct pipe *p)
{
	if (!p)
		return;
	reorder_free(&p->ro);
	engine_free(p->eng);
	filter_rejects_free(&p->rejects);
	free(p->cols);
	if (p->have_cg)
		cgpath_free(&p->cg);
	free(p);
}

int pipe_push(struct pipe *p, const struct tcpfsm_event *e)
{
	return reorder_push(&p->ro, e);
}

size_t pipe_pending(const struct pipe *p)
{
	return reorder_pending(&p->ro);
}

void pipe_flush(struct pipe *p)
{
	reorder_flush(&p->ro, pipe_deliver, p);
}

int pipe_run(const struct pipe_opts *o, const struct engine_cb *cb)
{
	struct pipe *p;
	int ret;

	/*
	 * Output is flushed at every step (each poll) anyway; in between, a
	 * large buffer turns a busy host's tens of MB/s into few big writes
	 * (a 4 KiB stdio buffer made writing cost as much as all the rest).
	 */
	if (!isatty(fileno(stdout))) {
		/* glibc ignores the size unless it is given the buffer */
		static char obuf[OUT_BUF_BYTES];

		setvbuf(stdout, obuf, _IOFBF, sizeof(obuf));
	}
	p = pipe_new(o, cb, stdout);
	if (!p)
		return cli_error("out of memory");
	cli_install_signals();
	ret = run(p);
	cli_flush(p->out);
	/* once a source is open: a failure after that has its summary too */
	if (p->src) {
		summary(p);
		p->src->ops->close(p->src);
	}
	if (p->rec) {
		int err = record_close(p->rec);

		if (!p->rec_err)
			p->rec_err = err;
		if (p->rec_err && ret == EXIT_OK)
			ret = cli_error("--record %s: %s", o->record_path,
					strerror(-p->rec_err));
	}
	if (p->out_err && ret == EXIT_OK)
		ret = cli_error("writing output: %s", strerror(-p->out_err));
	pipe_free(p);
	return ret;
}
