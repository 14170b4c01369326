// SPDX-License-Identifier: GPL-2.0 OR BSD-2-Clause
/*
 * What a live run does besides the pipeline's loop (pipeline.c), which a
 * recording's replay does not: seed from sock_diag at start, publish state
 * ages for `tcpfsm snapshot`, stop when the reader of the output hangs up,
 * reconcile after a loss (pipe_seed.c), detach and drain at the end.
 */
#include <errno.h>
#include <poll.h>
#include <string.h>
#include <sys/stat.h>
#include "agesrv.h"
#include "cli.h"
#include "clock.h"
#include "evsource.h"
#include "pipeline.h"
#include "pipe_impl.h"

/* ---- ages for `tcpfsm snapshot` ---- */

static void age_one(void *ctx, const struct conn *c)
{
	struct agesrv_writer *w = ctx;
	struct age_record r = { 0 };

	if (!c->cookie || !conn_since(c))
		return;
	r.cookie = c->cookie;
	r.since_ns = conn_since(c);
	r.state = c->state;
	if (conn_since_known(c, c->npath - 1) == DUR_LOWER_BOUND)
		r.flags |= AGE_F_LOWER_BOUND;
	r.pid = c->owner.pid;
	r.cgroup_id = c->owner.cgroup_id;
	memcpy(r.comm, c->owner.comm, TCPFSM_COMM_LEN);
	agesrv_put(w, &r);
}

/* A part of the answer at a time: the ring buffer is read in between. */
static int age_fill(void *ctx, struct agesrv_writer *w, size_t *cursor, size_t budget)
{
	struct pipe *p = ctx;
	size_t next;

	/* one allocation for the whole answer, as a rule */
	if (!*cursor && agesrv_reserve(w, engine_stats(p->eng)->conns + 1024))
		return -ENOMEM;
	next = engine_foreach_some(p->eng, *cursor, budget, age_one, w);
	if (next == ENGINE_WALK_DONE)
		return 1;
	*cursor = next;
	return 0;
}

static void open_agesrv(struct pipe *p)
{
	/* what it does not select has no age: snapshot says so */
	struct agesrv_opts ao = {
		.hdr_flags = filter_active(&p->o.filter) ? AGE_HF_FILTERED : 0,
	};
	int err = agesrv_open(NULL, &ao, &p->age);

	if (!err) {
		/* the ring's wait wakes when a client waits for an answer */
		err = p->src->ops->watch_fd(p->src, agesrv_want_fd(p->age));
		if (!err)
			return;
		agesrv_close(p->age);
		p->age = NULL;
	}
	fprintf(stderr, "tcpfsm: warning: not publishing state ages at %s (%s)%s\n",
		agesrv_default_path(), strerror(-err),
		err == -EADDRINUSE ? ": another tcpfsm already does" : "");
}

int pipe_live_begin(struct pipe *p)
{
	struct stat st;
	int ret;

	/* the thread's own: setns() moves only the calling thread */
	if (!stat("/proc/thread-self/ns/net", &st))
		p->netns_self = (uint32_t)st.st_ino;
	if (!p->o.no_seed) {
		ret = pipe_seed(p);
		if (ret)
			return ret;
	}
	open_agesrv(p);
	/* announced once seeded: everything from here on is traced */
	fprintf(stderr, "tcpfsm: %s: tracing TCP state transitions%s. Ctrl-C to stop.\n",
		p->o.cmd, p->minisocks ? " (with TIME_WAIT and SYN_RECV minisockets)" : "");
	return 0;
}

/*
 * Has the reader of our output gone (the other end of a pipe or socket
 * closed, a terminal hung up)? poll() says so with nothing to write, so a
 * quiet host does not keep `tcpfsm | head -1` running.
 */
static bool out_hung_up(FILE *out)
{
	struct pollfd pfd = { .fd = fileno(out) };

	return poll(&pfd, 1, 0) == 1 && (pfd.revents & (POLLERR | POLLHUP));
}

int pipe_live_turn(struct pipe *p)
{
	int ret;

	if (!p->done && out_hung_up(p->out)) {
		p->epipe = true;	/* as a write would find: quietly */
		p->done = true;
	}
	ret = pipe_reconcile(p);
	if (ret)
		return ret;
	/*
	 * A part of an answer per turn, the ring read in between (no wait
	 * while one is being built). Out of memory: the clients wait on, and
	 * are cut off in time.
	 */
	if (p->age)
		p->age_busy = agesrv_update(p->age, p->src->ops->take_watched(p->src),
					    age_fill, p, clock_ns(CLOCK_MONOTONIC)) ==
			      AGESRV_BUILDING;
	return 0;
}

void pipe_live_end(struct pipe *p)
{
	agesrv_close(p->age);
	p->age = NULL;
	/* detach first, then read what is left: nothing in flight is dropped */
	p->src->ops->detach(p->src);
	p->src->ops->poll(p->src, 0, NULL);
}
