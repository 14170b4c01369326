/* SPDX-License-Identifier: GPL-2.0 OR BSD-2-Clause */
/*
 * Inside the pipeline (pipeline.c and its parts pipe_*.c), not for the
 * commands: what its files share.
 */
#ifndef TCPFSM_PIPE_IMPL_H
#define TCPFSM_PIPE_IMPL_H

#include <stdbool.h>
#include <stdint.h>
#include "pipeline.h"

/* How far behind "now" records can still arrive from another CPU. */
#define REORDER_SLACK_NS 10000000ull	/* 10 ms */
/* How long a connect's record waits for its local port. */
#define PORT_HOLD_NS 200000000ull	/* 200 ms */
#define POLL_MS 100
/* More sockets than any host holds: a full set would leave its namespace be. */
#define RECONCILE_MAX_SOCKS (1ull << 30)

/* pipeline.c: the loop */
bool pipe_wants_closed(const struct pipe *p, const struct conn *c);
void pipe_rec_mark(struct pipe *p, uint8_t kind, uint64_t ts_ns, uint64_t cookie);
void pipe_deliver(void *ctx, const struct tcpfsm_event *e);
void pipe_on_raw(void *ctx, const struct tcpfsm_event *e);
void pipe_finish(struct pipe *p, uint64_t now_ns);
void pipe_tick(struct pipe *p, uint64_t now_ns, bool final);

/* pipe_seed.c: sockets that existed before tracing began, and reconcile */
int pipe_seed(struct pipe *p);
int pipe_reconcile(struct pipe *p);
void pipe_reconcile_decide(struct pipe *p);
void pipe_reconcile_forget(struct pipe *p);

/* pipe_replay.c */
int pipe_run_replay(struct pipe *p);

#endif
