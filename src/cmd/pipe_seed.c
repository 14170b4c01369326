// SPDX-License-Identifier: GPL-2.0 OR BSD-2-Clause
/*
 * Live runs read the sockets of every network namespace through sock_diag:
 * at start (seeding: owners and lower bounds for what existed before), and
 * after lost records (reconcile: which connections ended meanwhile).
 */
#include <errno.h>
#include <fcntl.h>
#include <sched.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include "cli.h"
#include "clock.h"
#include "diag.h"
#include "netns.h"
#include "pipeline.h"
#include "pipe_impl.h"
#include "procmap.h"
#include "record.h"

/* ---- sockets that existed before tracing began ---- */

struct seed_ctx {
	struct pipe *p;
	struct procmap pm;	/* socket inodes are global: one scan for all */
	uint64_t now;
	uint32_t netns;		/* the namespace being read */
	int home_fd;		/* ours, to return to */
	int stranded;		/* -errno: could not return to ours */
	int list_err;		/* -errno: the others could not be listed */
	unsigned int nns;	/* namespaces read */
	unsigned int failed;	/* namespaces not read */
	uint32_t fail_ns;	/* the first of them */
	int fail_err;		/* and why */
	diag_sock_cb each;	/* per socket: seed_one, or alive_one */
	bool restartable;	/* each takes a repeated dump (diag_sock_cb) */
	struct u64map *netns_read; /* non-NULL: namespaces read whole go here */
	bool only_unreached;	/* --netns: no process or /run/netns led to it */
};

static int seed_one(void *ctx, const struct diag_sock *s)
{
	struct seed_ctx *sc = ctx;
	const struct procmap_owner *po = procmap_lookup(&sc->pm, s->inode);
	struct owner o = { 0 };
	struct tuple t = { 0 };
	uint64_t deadline = 0;
	unsigned int flags = 0;
	bool minisock;

	t.family = s->family;
	t.sport = s->sport;
	t.dport = s->dport;
	memcpy(t.saddr, s->saddr, 16);
	memcpy(t.daddr, s->daddr, 16);
	t.netns = sc->netns;
	if (po) {
		o.pid = po->pid;
		memcpy(o.comm, po->comm, TCPFSM_COMM_LEN);
	}
	if (!pipe_wants_seed(sc->p, s->state, &t, &o))
		return 0;
	o.cgroup_id = s->cgroup_id;
	/*
	 * A timewait minisocket comes with its substate (an orphaned FIN_WAIT2
	 * too). Its deadline, for an orphan to place the FIN's re-arm: read
	 * the clock now, just after the kernel read the timer (sc->now is when
	 * seeding began).
	 */
	minisock = s->timer == DIAG_TIMER_TIMEWAIT;
	if (minisock && s->state == TCPFSM_ST_FIN_WAIT2)
		deadline = clock_ns(CLOCK_MONOTONIC) + (uint64_t)s->expires_ms * 1000000;
	if (minisock)
		flags |= ENGINE_SEED_MINISOCK;
	else if (!s->inode)
		flags |= ENGINE_SEED_ORPHAN;
	/* its FIN, whenever it comes, is seen as for one whose start was */
	if (minisock && s->state == TCPFSM_ST_FIN_WAIT2 && sc->p->src->ops->watch_orphan &&
	    !sc->p->src->ops->watch_orphan(sc->p->src, s->cookie, &t))
		flags |= ENGINE_SEED_WATCHED;
	if (!engine_seed(sc->p->eng, s->cookie, s->state, &t, &o, sc->now,
			 flags, deadline))
		sc->p->seeded++;
	if (sc->p->rec && !sc->p->rec_err) {
		/* the replay seeds it too: owners and lower bounds as live */
		struct tcpfsm_event e = {
			.kind = RECORD_EV_SEED, .ts_ns = sc->now, .cookie = s->cookie,
			.cgroup_id = o.cgroup_id, .aux = deadline, .pid = o.pid,
			.netns = t.netns, .sport = t.sport, .dport = t.dport,
			.newstate = s->state, .family = t.family, .flags = (uint8_t)flags,
		};

		memcpy(e.saddr, t.saddr, 16);
		memcpy(e.daddr, t.daddr, 16);
		memcpy(e.comm, o.comm, TCPFSM_COMM_LEN);
		sc->p->rec_err = record_write(sc->p->rec, &e, 1);
	}
	return 0;
}

static void seed_failed(struct seed_ctx *sc, unsigned int n, uint32_t ns, int err)
{
	if (!sc->failed) {
		sc->fail_ns = ns;
		sc->fail_err = err;
	}
	sc->failed += n;
}

/* sc->netns was read; whole unless the kernel marked the dump interrupted. */
static void ns_read(struct seed_ctx *sc, bool whole)
{
	sc->nns++;
	/* not put (no memory): its connections are left as they are */
	if (sc->netns_read && whole)
		(void)u64map_put(sc->netns_read, sc->netns, 1);
}

/* The sockets of the namespace this thread is in, as sc->netns. */
static void seed_here(struct seed_ctx *sc)
{
	struct diag_query q = { 0 };	/* both families, every state */
	struct diag_dump_info info = { 0 };
	int err;

	q.restartable = sc->restartable;
	err = diag_dump(&q, sc->each, sc, &info);
	if (err)
		seed_failed(sc, 1, sc->netns, err);
	else
		ns_read(sc, !info.intr);
}

/*
 * One other namespace: enter it (this thread only), dump there (the
 * netlink socket belongs to the namespace it is made in), come back.
 * Returns 0, -errno (not read: counted), or NETNS_WALK_STOP when this
 * thread could not come back (sc->stranded).
 */
static int seed_netns(struct seed_ctx *sc, uint32_t inode, int fd)
{
	if (setns(fd, CLONE_NEWNET))
		return -errno;	/* counted by the walk */
	sc->netns = inode;
	/* a dump walks the host's whole table: not for an empty namespace */
	if (netns_tcp_in_use_here())
		seed_here(sc);
	else
		ns_read(sc, true);	/* no TCP socket at all */
	if (setns(sc->home_fd, CLONE_NEWNET)) {
		sc->stranded = -errno;
		return NETNS_WALK_STOP;
	}
	return 0;
}

/*
 * Every namespace but ours (or the --netns one alone, only), each once;
 * sc->list_err is set if they could not be listed. Between two of them,
 * the ring buffer is read: many namespaces take a while, and it must not
 * fill. Records wait in the reorder buffer; the engine gets them after
 * every seed, as it would have.
 */
static void seed_others(struct seed_ctx *sc, uint32_t only)
{
	struct netns_iter it;
	uint32_t ino;
	int err, fd;

	sc->home_fd = open("/proc/thread-self/ns/net", O_RDONLY | O_CLOEXEC);
	if (sc->home_fd < 0) {
		sc->list_err = -errno;
		return;
	}
	err = netns_iter_init(&it, "/proc", "/run/netns", "/proc/thread-self/ns/net",
			      only);
	while (!err && (err = netns_iter_next(&it, &ino, &fd)) == 1) {
		err = seed_netns(sc, ino, fd);
		close(fd);
		if (err == NETNS_WALK_STOP)
			break;
		netns_iter_result(&it, ino, err);
		err = 0;
		sc->p->src->ops->poll(sc->p->src, 0, NULL);
		if (cli_stop)
			err = NETNS_WALK_STOP;
	}
	netns_iter_free(&it);
	close(sc->home_fd);
	if (it.st.failed)
		seed_failed(sc, it.st.failed, it.st.first_failed, it.st.first_err);
	sc->only_unreached = only && !err && !it.st.visited && !it.st.failed;
	if (err < 0)
		sc->list_err = err;
}

/*
 * Every namespace through sc->each, filters or not: ours in place, then
 * each other one (only the --netns one, if given); what failed is in sc.
 * Returns 0, or EXIT_FAIL (printed) when this thread could not return to
 * its own namespace.
 */
static int walk_namespaces(struct pipe *p, struct seed_ctx *sc)
{
	const struct filter *f = &p->o.filter;

	if (!f->has_netns || f->netns == p->netns_self) {
		sc->netns = p->netns_self;
		seed_here(sc);
	}
	if (!f->has_netns || f->netns != p->netns_self)
		seed_others(sc, f->has_netns ? f->netns : 0);
	if (sc->stranded)
		return cli_error("cannot return to our own network namespace after "
				 "reading another's sockets: %s", strerror(-sc->stranded));
	return 0;
}

/*
 * Read the sockets of every network namespace (what ss shows in each) so
 * that their later transitions have an owner and their ages a lower bound:
 * ours in place, then each other one a process or /run/netns leads to
 * (only the --netns one, if given). Done after attaching, so nothing falls
 * between the dump and the first record. Failures make one warning line;
 * only failing to come back to our own namespace is an error.
 */
int pipe_seed(struct pipe *p)
{
	struct seed_ctx sc = { .p = p, .home_fd = -1, .each = seed_one };
	uint64_t now;
	int ret;

	/* on failure what was found is kept: owners are a best effort */
	(void)procmap_scan(&sc.pm, "/proc");
	sc.now = clock_ns(CLOCK_MONOTONIC);
	ret = walk_namespaces(p, &sc);
	now = clock_ns(CLOCK_MONOTONIC);
	engine_seed_done(p->eng, now);
	pipe_rec_mark(p, RECORD_EV_SEED_DONE, now, 0);
	procmap_free(&sc.pm);
	if (ret)
		return ret;
	if (sc.list_err)
		fprintf(stderr, "tcpfsm: warning: cannot list network namespaces (%s): "
			"existing sockets read in %u, %u failed; connections older "
			"than this run elsewhere have no owner\n",
			strerror(-sc.list_err), sc.nns, sc.failed);
	else if (sc.failed)
		fprintf(stderr, "tcpfsm: warning: cannot read existing sockets in %u "
			"of %u network namespaces (netns %u: %s): connections older "
			"than this run there have no owner\n", sc.failed,
			sc.failed + sc.nns, sc.fail_ns, strerror(-sc.fail_err));
	if (sc.only_unreached)
		fprintf(stderr, "tcpfsm: warning: --netns %u: no process or "
			"/run/netns entry is in that namespace: its existing "
			"sockets are not read\n", p->o.filter.netns);
	return 0;
}

/* ---- after lost records: which connections ended meanwhile ---- */

/* At most one dump a second while losses go on: each walks every table. */
#define RECONCILE_EVERY_NS 1000000000ull

static int alive_one(void *ctx, const struct diag_sock *s)
{
	struct seed_ctx *sc = ctx;

	if (!s)
		return 0;	/* a repeat: what it saw stays, a superset is safe */
	/* an error stops this namespace's dump: it is then not read whole */
	return s->cookie ? u64map_put(&sc->p->rc_alive, s->cookie, 1) : 0;
}

/* Forget the dump (none waits to be decided); a no-op when there is none. */
void pipe_reconcile_forget(struct pipe *p)
{
	u64map_free(&p->rc_alive);
	u64map_free(&p->rc_netns);
	p->rc_t1 = 0;
}

/* End what the dump shows ended while records were lost, and forget it. */
void pipe_reconcile_decide(struct pipe *p)
{
	/* out of memory: nothing ended, a later loss dumps again */
	(void)engine_reconcile(p->eng, &p->rc_alive, &p->rc_netns, p->rc_t0);
	/* the ones it ended were recorded (on_closed): the replay ends them here */
	pipe_rec_mark(p, RECORD_EV_RECONCILE, p->rc_t0, 0);
	pipe_reconcile_forget(p);
}

/*
 * Live, after lost records: a connection whose closing records were lost
 * would never end. Once every record from before the loss is delivered, dump
 * the sockets of every namespace (as seeding does, filters or not; with
 * --netns that one), from t0 to t1; once every record up to t1 is delivered
 * too (so each end recorded during the dump has been followed), the engine
 * ends the connections the dump did not see (engine_reconcile). Request
 * socks are not looked for: the engine keys them by tuple, and their timers
 * end them. Returns 0, or EXIT_FAIL (printed) when this thread could not
 * return to its own namespace.
 */
int pipe_reconcile(struct pipe *p)
{
	/* alive_one keeps what a repeated dump saw: a superset is safe */
	struct seed_ctx sc = { .p = p, .home_fd = -1, .each = alive_one,
			       .restartable = true, .netns_read = &p->rc_netns };
	uint64_t now;
	int ret;

	if (p->rc_t1) {
		if (p->released >= p->rc_t1)
			pipe_reconcile_decide(p);
		return 0;
	}
	if (!p->rc_loss || p->released < p->rc_loss)
		return 0;
	now = clock_ns(CLOCK_MONOTONIC);
	if (p->rc_last && now - p->rc_last < RECONCILE_EVERY_NS)
		return 0;
	p->rc_last = now;
	if (u64map_init(&p->rc_alive, 1024, RECONCILE_MAX_SOCKS))
		return 0;
	if (u64map_init(&p->rc_netns, 16, RECONCILE_MAX_SOCKS)) {
		u64map_free(&p->rc_alive);
		return 0;
	}
	/* a loss noticed from here on needs a dump of its own */
	p->rc_loss = 0;
	p->rc_t0 = now;
	ret = walk_namespaces(p, &sc);
	if (ret) {
		pipe_reconcile_forget(p);
		return ret;
	}
	p->rc_t1 = clock_ns(CLOCK_MONOTONIC);
	if ((sc.list_err || sc.failed) && !p->rc_warned) {
		fprintf(stderr, "tcpfsm: warning: after lost records, cannot reread "
			"the sockets of %s: connections there whose end was lost "
			"do not end\n", sc.list_err ? "other network namespaces" :
			"some network namespaces");
		p->rc_warned = true;
	}
	return 0;
}
