/* SPDX-License-Identifier: GPL-2.0 OR BSD-2-Clause */
/*
 * Inside the pipeline (pipeline.c and its parts pipe_*.c), not for the
 * commands: what its files share.
 */
#ifndef TCPFSM_PIPE_IMPL_H
#define TCPFSM_PIPE_IMPL_H

#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include "agesrv.h"
#include "cgpath.h"
#include "engine.h"
#include "json.h"
#include "pipeline.h"
#include "reorder.h"
#include "u64map.h"

/* How far behind "now" records can still arrive from another CPU. */
#define REORDER_SLACK_NS 10000000ull	/* 10 ms */
/* How long a connect's record waits for its local port. */
#define PORT_HOLD_NS 200000000ull	/* 200 ms */
#define POLL_MS 100
/* More sockets than any host holds: a full set would leave its namespace be. */
#define RECONCILE_MAX_SOCKS (1ull << 30)

/* A run: its options, its source, the engine, what it has counted. */
struct pipe {
	struct pipe_opts o;
	FILE *out;
	struct json j;
	struct reorder ro;
	struct engine *eng;
	struct evsource *src;	/* where records come from (evsource.h) */
	bool live;		/* this host's, now: its info said so */
	bool minisocks;		/* the source traces TIME_WAIT and SYN_RECV */
	struct record_writer *rec;
	int rec_err;
	struct agesrv *age;	/* NULL: not publishing ages */
	bool age_busy;		/* an answer being built: poll without waiting */
	uint64_t ts_sec;	/* the second ts_sec_str was made for */
	size_t ts_sec_len;
	char ts_sec_str[32];
	char ts_zone[8];	/* TS_ISO: "+01:00", of ts_sec */
	/* pipe_fmt_conn_cols' widths (pipe_cols_init) and their header */
	uint8_t w_time, w_cookie, w_addr;
	char cols_header[PIPE_CONN_COLS_HDR_MAX];
	uint32_t netns_self;
	uint64_t start_mono;	/* when tracing (or the recording) began */
	int64_t wall_offset;	/* CLOCK_REALTIME - CLOCK_MONOTONIC */
	uint64_t emitted;	/* what counts for --count */
	uint64_t raw_events;
	uint64_t lost_seen;	/* the kernel's lost count, last seen */
	/* of it, by kind: state, timewait, request (PIPE_LOST_*) */
	uint64_t lost_kind[3];
	bool lost_kind_unknown;	/* a recording's loss record without kinds */
	uint64_t lost_out, lost_kind_out[3]; /* how much "lost" records said */
	uint64_t dropped;	/* records tcpfsm itself had no memory for */
	uint64_t filtered;	/* records the filters dropped before the engine */
	/* connections whose owner the filters reject: forgotten, and their
	 * records dropped (filter.h); forget[]: to forget after the engine call */
	struct filter_rejects rejects;
	uint64_t forget[16];
	unsigned int nforget;
	uint64_t lost_warned_ns;	/* rate limit of the lost-records warning */
	uint64_t seeded;
	/*
	 * the summary's: connections the filters select that ended, of them
	 * incomplete, and gone (ended while their records were lost)
	 */
	uint64_t closed, incomplete, gone;
	uint64_t open_at_exit;	/* connections the filters select, still open */
	uint64_t released;	/* how far the engine has every record (pipe_step) */
	/* live only: the sock_diag dump after lost records (see reconcile()) */
	uint64_t rc_loss;	/* records lost up to here, no dump since; 0: none */
	uint64_t rc_last;	/* the last dump began: at most one a second */
	uint64_t rc_t0, rc_t1;	/* the dump to decide on began, ended; rc_t1 0: none */
	struct u64map rc_alive;	/* its cookies */
	struct u64map rc_netns;	/* the namespaces it read whole */
	bool rc_warned;
	/* the command's callbacks (stuck: pipe_stuck_cb by default) */
	struct engine_cb cb;
	/* replay: the recording's filters, applied besides the options' */
	struct filter rec_filter;
	bool has_rec_filter;
	struct u64map rp_gone;	/* found gone, to be ended at the next reconcile */
	struct cgpath cg;	/* cgroup id -> path */
	bool have_cg;		/* live, or a replay of this boot's recording */
	uint64_t now_ns;	/* CLOCK_MONOTONIC at the last step: cgpath's rate limit */
	struct cols_entry *cols; /* pipe_fmt_conn_cols' recent texts */
	bool done;		/* --count reached, or the reader went away */
	bool epipe;
	int out_err;
};

/* Allocate p->cols (pipe_new does); returns 0 or -ENOMEM. */
int pipe_cols_init(struct pipe *p);

/* pipeline.c: the loop */
bool pipe_wants_closed(const struct pipe *p, const struct conn *c);
void pipe_rec_mark(struct pipe *p, uint8_t kind, uint64_t ts_ns, uint64_t cookie);
void pipe_deliver(void *ctx, const struct tcpfsm_event *e);
/* A socket read at start (or a replay's seed), with its owner from /proc
 * (pid 0: none): do the filters (the recording's too) select it? */
bool pipe_wants_seed(const struct pipe *p, uint8_t state, const struct tuple *t,
		     const struct owner *o);
void pipe_on_raw(void *ctx, const struct tcpfsm_event *e);
void pipe_finish(struct pipe *p, uint64_t now_ns);
void pipe_tick(struct pipe *p, uint64_t now_ns, bool final);

/* pipe_seed.c: sockets that existed before tracing began, and reconcile */
int pipe_seed(struct pipe *p);
int pipe_reconcile(struct pipe *p);
void pipe_reconcile_decide(struct pipe *p);
void pipe_reconcile_forget(struct pipe *p);

/*
 * pipe_live.c: what a live source's run does besides the loop (a
 * recording's replay does none of it). Each returns 0 or an exit status
 * (printed).
 */
/* Once open: seed, publish ages, say that tracing runs. */
int pipe_live_begin(struct pipe *p);
/* After each step: the reader still there? a dump after a loss? ages? */
int pipe_live_turn(struct pipe *p);
/* At the end: no more ages; detach, and read what was in flight. */
void pipe_live_end(struct pipe *p);

/* pipe_replay.c: what a recording holds besides records */
/* The sink's mark(): do what the live run did at this point. */
void pipe_on_mark(void *ctx, const struct tcpfsm_event *e);
/* The filters the recording's records were selected by apply too. */
void pipe_apply_recorded_filter(struct pipe *p, const struct filter *f);

#endif
