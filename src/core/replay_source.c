// SPDX-License-Identifier: GPL-2.0 OR BSD-2-Clause
/*
 * A recording read back as an event source: what the live run read, in its
 * order, with what it did at each point (record.h, RECORD_EV_*).
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include "record.h"
#include "replay_source.h"

/* Without the live run's steps, release at least every this many records. */
#define STEP_EVERY 1024

struct replay_source {
	struct evsource src;	/* first: the pipeline's handle */
	struct record_reader *r;
	struct record_header hdr;
	struct evsource_sink sink;
	uint64_t slack_ns;
	bool steps;		/* RECORD_F_STEPS: release where the live run did */
	uint64_t last_ts;	/* the latest stamp of a kernel's record */
	uint64_t stepped;	/* last_ts at the last paced step */
	uint64_t n;		/* kernel's records read */
	bool ended;		/* its end record was read: at end_ns */
	uint64_t end_ns;
	/* the live run's runs skipped by the kernel, from its end record */
	bool skipped_known;
	uint64_t skipped_state, skipped_timers;
};

static struct replay_source *replay_of(const struct evsource *s)
{
	return (struct replay_source *)s;
}

static int replay_open(struct evsource **out, const struct evsource_opts *o,
		       struct evsource_info *info, char *err, size_t errlen,
		       char *warn, size_t warnlen)
{
	struct replay_source *rs = calloc(1, sizeof(*rs));
	int ret;

	*warn = '\0';
	if (!rs) {
		snprintf(err, errlen, "%s", strerror(ENOMEM));
		return -ENOMEM;
	}
	ret = record_open_read(o->path, &rs->r, &rs->hdr);
	if (ret) {
		snprintf(err, errlen, "%s", rs->r && *record_error(rs->r) ?
			 record_error(rs->r) : strerror(-ret));
		record_close_read(rs->r);
		free(rs);
		return ret;
	}
	rs->src.ops = &replay_evsource;
	rs->sink = o->sink;
	rs->slack_ns = o->slack_ns;
	rs->steps = rs->hdr.flags & RECORD_F_STEPS;
	memset(info, 0, sizeof(*info));
	info->start_mono_ns = rs->hdr.start_mono_ns;
	info->wall_offset_ns = (int64_t)(rs->hdr.start_real_ns - rs->hdr.start_mono_ns);
	/* cgroup ids are only unique within a boot */
	info->this_boot = record_same_boot(&rs->hdr);
	info->minisocks = rs->hdr.flags & RECORD_F_MINISOCKS;
	if (rs->hdr.flags & RECORD_F_FILTER)
		info->filter = &rs->hdr.filter;
	*out = &rs->src;
	return 0;
}

/* A record of tcpfsm's own: the steps and the end are the source's. */
static void replay_mark(struct replay_source *rs, const struct tcpfsm_event *e,
			struct evsource_turn *turn)
{
	switch (e->kind) {
	case RECORD_EV_STEP:
		turn->step = true;
		turn->watermark = e->ts_ns;
		break;
	case RECORD_EV_END:
		rs->ended = true;
		rs->end_ns = e->ts_ns;
		if (e->flags & RECORD_END_F_SKIPPED) {
			rs->skipped_known = true;
			rs->skipped_state = e->aux;
			rs->skipped_timers = e->aux2;
		}
		break;
	default:
		if (rs->sink.mark)
			rs->sink.mark(rs->sink.ctx, e);
		break;
	}
}

/*
 * One record a poll: the pipeline judges between any two (--count, a
 * signal, --duration by the recording's clock).
 */
static int replay_poll(struct evsource *s, int timeout_ms, struct evsource_turn *turn)
{
	struct replay_source *rs = replay_of(s);
	struct evsource_turn none;
	struct tcpfsm_event e;
	int ret;

	if (!turn)
		turn = &none;
	memset(turn, 0, sizeof(*turn));
	ret = record_next(rs->r, &e);
	if (ret <= 0) {
		turn->end = !ret;
		return ret;
	}
	if (e.kind >= RECORD_EV_SEED) {
		replay_mark(rs, &e, turn);
		return 1;
	}
	rs->sink.record(rs->sink.ctx, &e);
	if (e.ts_ns > rs->last_ts)
		rs->last_ts = e.ts_ns;
	/*
	 * The file is in arrival order: without the live run's steps, release
	 * by event time as a live run would (every slack's worth of it, so
	 * --interval and --stuck see time pass), at least every STEP_EVERY.
	 */
	if (!rs->steps &&
	    (++rs->n % STEP_EVERY == 0 || rs->last_ts >= rs->stepped + rs->slack_ns) &&
	    rs->last_ts > rs->slack_ns) {
		turn->step = true;
		turn->watermark = rs->last_ts - rs->slack_ns;
		rs->stepped = rs->last_ts;
	}
	return 1;
}

static const char *replay_error(const struct evsource *s)
{
	return record_error(replay_of(s)->r);
}

static uint64_t replay_now(const struct evsource *s)
{
	return replay_of(s)->last_ts;
}

/* At the live run's end, as it ended; else at the last record. */
static uint64_t replay_end(const struct evsource *s)
{
	const struct replay_source *rs = replay_of(s);

	return rs->ended && rs->end_ns > rs->last_ts ? rs->end_ns : rs->last_ts;
}

static bool replay_skipped(const struct evsource *s, uint64_t *state, uint64_t *timers)
{
	const struct replay_source *rs = replay_of(s);

	*state = rs->skipped_state;
	*timers = rs->skipped_timers;
	return rs->skipped_known;
}

static void replay_close(struct evsource *s)
{
	struct replay_source *rs = replay_of(s);

	if (!rs)
		return;
	record_close_read(rs->r);
	free(rs);
}

const struct evsource_ops replay_evsource = {
	.open = replay_open,
	.poll = replay_poll,
	.error = replay_error,
	.now = replay_now,
	.end = replay_end,
	.skipped = replay_skipped,
	.close = replay_close,
};
