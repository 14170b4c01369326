// SPDX-License-Identifier: GPL-2.0 OR BSD-2-Clause
/*
 * tcpfsm serve's numbers: --by groups, and the reconciliation of the
 * kernel's gauges against sock_diag (in a thread of its own).
 */
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <poll.h>
#include <pthread.h>
#include <sched.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>
#include "cli.h"
#include "clock.h"
#include "diag.h"
#include "http.h"
#include "netns.h"
#include "prom.h"
#include "serve_bpf.h"
#include "serve_impl.h"
#include "tcpstate.h"
#include "u64map.h"

/* ---- --by lport groups ---- */

/*
 * The group of key, made if new; past the cap, "other". The kernel decides
 * which groups fit (it makes them too): one found here first is made there
 * as well, so that both count a socket in the same group.
 */
struct ugroup *srv_ug_get(struct serve *S, uint32_t key, bool in_kernel)
{
	uint64_t *idx = u64map_get(&S->ugidx, (uint64_t)key + 1);
	struct ugroup *g;

	if (idx)
		return &S->ug[*idx - 1];
	if (S->nug >= S->max_series + 2 ||
	    (!in_kernel && serve_bpf_add_group(S->bpf, key))) {
		if (key == TCPFSM_SERVE_GROUP_OTHER)
			return NULL;
		return srv_ug_get(S, TCPFSM_SERVE_GROUP_OTHER, true);
	}
	if (u64map_put(&S->ugidx, (uint64_t)key + 1, S->nug + 1))
		return NULL;
	g = &S->ug[S->nug++];
	memset(g, 0, sizeof(*g));
	g->key = key;
	return g;
}

static uint32_t group_key(const struct serve *S, uint16_t sport)
{
	if (sport && (S->listened[sport / 8] & (1u << (sport % 8))))
		return sport;
	return TCPFSM_SERVE_GROUP_EPHEMERAL;
}

int srv_on_kernel_group(void *ctx, uint32_t key, const struct tcpfsm_serve_group *kgp)
{
	struct serve *S = ctx;
	struct ugroup *g = srv_ug_get(S, key, true);
	int i;

	if (!g || g->key != key)
		return 0; /* cannot be: the kernel holds no more than we do */
	g->in_kernel = true;
	for (i = 0; i < 16; i++)
		g->kg[i] = kgp->gauge[i];
	memcpy(g->hist, kgp->hist, sizeof(g->hist));
	return 0;
}

static int on_listener(void *ctx, const struct diag_sock *s)
{
	struct serve *S = ctx;

	if (s->state == TCPFSM_ST_LISTEN && s->sport) {
		S->listened[s->sport / 8] |= 1u << (s->sport % 8);
		serve_bpf_add_listen_port(S->bpf, s->sport);
	}
	return 0;
}

/* ---- reconciliation against sock_diag ---- */

/* --by: one group's count in a dump, kept apart from the scrapes' view */
struct diag_gcount {
	uint32_t key;
	uint64_t cgroup_id;	/* --by cgroup: the full id sock_diag gave */
	uint64_t count[16];
};

struct diag_acc {
	struct serve *S;
	uint32_t ns_inode;	/* of the namespace being dumped */
	uint64_t now;
	uint64_t count[16], untracked[16], oldest[16], stuck[16];
	struct diag_query q;	/* every state, our storage */
	/* --by: groups seen, at most ngc_max (then "other", entry 0) */
	struct diag_gcount *gc;
	size_t ngc, ngc_max;
	struct u64map gidx;	/* key + 1 -> index + 1 */
};

/*
 * --by: the dump counts its groups here, without the lock (a dump of a
 * million sockets takes seconds, and a scrape must not wait for it);
 * gcount_apply hands them to the groups under the lock after it.
 */
static int gcount_init(struct diag_acc *a, size_t max)
{
	a->gc = calloc(max, sizeof(*a->gc));
	if (!a->gc || u64map_init(&a->gidx, 64, max))
		return -ENOMEM;
	a->ngc_max = max;
	a->gc[0].key = TCPFSM_SERVE_GROUP_OTHER;
	a->ngc = 1;
	return u64map_put(&a->gidx, (uint64_t)TCPFSM_SERVE_GROUP_OTHER + 1, 1);
}

static void gcount_free(struct diag_acc *a)
{
	free(a->gc);
	u64map_free(&a->gidx);
}

static void gcount_add(struct diag_acc *a, uint32_t key, uint64_t cgroup_id,
		       unsigned int state)
{
	uint64_t *i = u64map_get(&a->gidx, (uint64_t)key + 1);
	struct diag_gcount *g = &a->gc[0];

	if (i)
		g = &a->gc[*i - 1];
	else if (a->ngc < a->ngc_max &&
		 !u64map_put(&a->gidx, (uint64_t)key + 1, a->ngc + 1)) {
		g = &a->gc[a->ngc++];
		g->key = key;
	}
	if (g->key == key && cgroup_id)
		g->cgroup_id = cgroup_id;
	g->count[state]++;
}

static void gcount_apply(struct serve *S, const struct diag_acc *a)
{
	size_t g, j;
	int i;

	for (g = 0; g < S->nug; g++)
		memset(S->ug[g].diagc, 0, sizeof(S->ug[g].diagc));
	for (j = 0; j < a->ngc; j++) {
		const struct diag_gcount *c = &a->gc[j];
		struct ugroup *u = srv_ug_get(S, c->key, false);

		if (!u)
			continue;
		for (i = 0; i < 16; i++)
			u->diagc[i] += c->count[i];
		if (u->key == c->key && S->by == TCPFSM_SERVE_BY_CGROUP)
			serve_cg_note(&S->cg, c->key, c->cgroup_id);
	}
}

/* A full socket's value in our socket-local storage; false if none. */
static bool serve_sk_of(const struct diag_sock *s, struct tcpfsm_serve_sk *v)
{
	if (!s->storage || s->storage_len < sizeof(*v))
		return false;
	memcpy(v, s->storage, sizeof(*v));
	return true;
}

static int on_diag(void *ctx, const struct diag_sock *s)
{
	struct diag_acc *a = ctx;
	unsigned int st = s->state & 15;
	struct tcpfsm_serve_sk v;

	a->count[st]++;
	if (a->S->by) {
		uint32_t key = a->S->by == TCPFSM_SERVE_BY_NETNS ? a->ns_inode :
								    group_key(a->S, s->sport);

		if (a->S->by == TCPFSM_SERVE_BY_CGROUP)
			key = tcpfsm_serve_cgroup_key(s->cgroup_id);
		gcount_add(a, key, s->cgroup_id, st);
	}
	/*
	 * A TIME_WAIT socket's age is its timer's: TCP_TIMEWAIT_LEN less the
	 * time left (from its FIN, however it became TIME_WAIT).
	 */
	if (st == TCPFSM_ST_TIME_WAIT && s->timer == 3) {
		uint64_t left = (uint64_t)s->expires_ms * 1000000ull, age, since;

		age = left < TCPFSM_TIMEWAIT_LEN_NS ? TCPFSM_TIMEWAIT_LEN_NS - left : 0;
		since = a->now - age;
		if (!a->oldest[st] || since < a->oldest[st])
			a->oldest[st] = since;
		if (a->S->stuck_ns[st] && age >= a->S->stuck_ns[st])
			a->stuck[st]++;
		return 0;
	}
	/* other minisockets have no storage: their maps know them */
	if (st == TCPFSM_ST_TIME_WAIT || !s->inode)
		return 0;
	if (!serve_sk_of(s, &v) || v.state != st || !v.since_ns) {
		a->untracked[st]++;
		return 0;
	}
	if (!a->oldest[st] || v.since_ns < a->oldest[st])
		a->oldest[st] = v.since_ns;
	if (a->S->stuck_ns[st] && a->now > v.since_ns &&
	    a->now - v.since_ns >= a->S->stuck_ns[st])
		a->stuck[st]++;
	return 0;
}

/* --by netns: one more namespace, from netns_walk */
static int dump_other_ns(void *ctx, uint32_t inode, int fd)
{
	struct diag_acc *a = ctx;
	int ret;

	if (setns(fd, CLONE_NEWNET))
		return -errno;
	a->ns_inode = inode;
	ret = diag_dump(&a->q, on_diag, a, NULL);
	if (setns(a->S->own_ns_fd, CLONE_NEWNET))
		return NETNS_WALK_STOP; /* cannot be back: stop here */
	return ret;
}

static void kernel_gauges(struct serve *S, int64_t g[16])
{
	struct serve_totals *t = calloc(1, sizeof(*t));
	int i;

	memset(g, 0, 16 * sizeof(*g));
	if (!t)
		return;
	if (!serve_bpf_read(S->bpf, t))
		for (i = 0; i < 16; i++)
			g[i] = t->c.gauge[i];
	free(t);
}

/*
 * How far sock_diag's count d is from the kernel's (k1 before the dump, k2
 * after, plus offset), beyond what changed during the dump: the correction
 * to add to offset. *diff reports it (0 for the first, which only finds the
 * sockets older than us).
 */
static int64_t settle(int64_t k1, int64_t k2, int64_t offset, uint64_t d,
		      int64_t *diff, bool baselined)
{
	int64_t lo = (k1 < k2 ? k1 : k2) + offset, hi = (k1 < k2 ? k2 : k1) + offset;
	int64_t c = 0;

	if ((int64_t)d < lo)
		c = (int64_t)d - lo;
	else if ((int64_t)d > hi)
		c = (int64_t)d - hi;
	*diff = baselined ? c : 0;
	return c;
}

/*
 * --by cgroup: sock_diag names no cgroup for minisockets (TIME_WAIT,
 * orphaned FIN_WAIT2, half-open SYN_RECV), which the kernel side counts in
 * their socket's or listener's cgroup. Those states are reconciled in
 * total, and what the kernel side did not count (minisockets older than
 * serve) goes to the unknown group.
 */
static bool cg_unattributed(const struct serve *S, int state)
{
	return S->by == TCPFSM_SERVE_BY_CGROUP &&
	       (state == TCPFSM_ST_TIME_WAIT || state == TCPFSM_ST_FIN_WAIT2 ||
		state == TCPFSM_ST_SYN_RECV);
}

static void settle_unattributed(struct serve *S, const uint64_t count[16])
{
	struct ugroup *u0 = srv_ug_get(S, TCPFSM_SERVE_GROUP_EPHEMERAL, true);
	int i;

	for (i = 0; u0 && i < 16; i++) {
		int64_t k1 = 0, k2 = 0, off = 0, unused;
		size_t g;

		if (!cg_unattributed(S, i))
			continue;
		for (g = 0; g < S->nug; g++) {
			k1 += S->ug[g].k1[i];
			k2 += S->ug[g].kg[i];
			off += S->ug[g].offset[i];
		}
		u0->offset[i] += settle(k1, k2, off, count[i], &unused, true);
	}
}

int srv_reconcile(struct serve *S)
{
	static const struct diag_query listeners = {
		.states = 1u << TCPFSM_ST_LISTEN,
	};
	struct diag_acc a = { .S = S };
	struct tcpfsm_serve_ages ages;
	int64_t k1[16], k2[16];
	uint32_t map_id = 0;
	uint64_t t0 = clock_ns(CLOCK_MONOTONIC);
	int map_fd, ret = 0, i;

	if (S->by && gcount_init(&a, 2 * ((size_t)S->max_series + 2))) {
		gcount_free(&a);
		return -ENOMEM;
	}
	/* minisockets first: requests that ended unseen leave the gauge */
	pthread_mutex_lock(&S->lock);
	serve_bpf_refresh(S->bpf, S->stuck_ns, &ages);
	/* --by: the groups' counts before the dump */
	if (S->by) {
		size_t g;

		serve_bpf_read_groups(S->bpf, srv_on_kernel_group, S);
		for (g = 0; g < S->nug; g++)
			memcpy(S->ug[g].k1, S->ug[g].kg, sizeof(S->ug[g].k1));
	}
	/* the dump runs unlocked: scrapes go on meanwhile */
	pthread_mutex_unlock(&S->lock);
	map_fd = serve_bpf_sk_map(S->bpf, &map_id);
	if (S->target_ns_fd >= 0 && setns(S->target_ns_fd, CLONE_NEWNET))
		ret = -errno;
	/* --by lport: the listeners first, so that each socket finds its group */
	if (!ret && S->by == TCPFSM_SERVE_BY_LPORT)
		ret = diag_dump(&listeners, on_listener, S, NULL);
	kernel_gauges(S, k1);
	a.now = clock_ns(CLOCK_MONOTONIC);
	a.ns_inode = S->netns;
	a.q.map_fd = map_fd;
	a.q.map_id = map_fd >= 0 ? map_id : 0;
	if (!ret)
		ret = diag_dump(&a.q, on_diag, &a, NULL);
	/* --by netns: every namespace (setns: CAP_SYS_ADMIN) */
	if (!ret && S->by == TCPFSM_SERVE_BY_NETNS) {
		struct netns_walk_stats ws;

		ret = netns_walk("/proc", "/run/netns", "/proc/thread-self/ns/net", 0,
				 dump_other_ns, &a, &ws);
		if (ret > 0)
			ret = 0;
		S->netns_failed = ws.failed;
	}
	if (S->target_ns_fd >= 0 && setns(S->own_ns_fd, CLONE_NEWNET) && !ret)
		ret = -errno;
	kernel_gauges(S, k2);
	pthread_mutex_lock(&S->lock);
	if (ret) {
		S->reconcile_errors++;
		pthread_mutex_unlock(&S->lock);
		gcount_free(&a);
		return ret;
	}
	for (i = 0; i < 16; i++) {
		S->offset[i] += settle(k1[i], k2[i], S->offset[i], a.count[i],
				       &S->last_diff[i], S->baselined);
		S->diag_count[i] = a.count[i];
		S->untracked[i] = a.untracked[i];
		S->oldest_full[i] = a.oldest[i];
		S->stuck_full[i] = a.stuck[i];
	}
	if (S->by) {
		size_t g;
		int64_t unused;

		gcount_apply(S, &a);
		serve_bpf_read_groups(S->bpf, srv_on_kernel_group, S);
		for (g = 0; g < S->nug; g++)
			for (i = 0; i < 16; i++)
				if (!cg_unattributed(S, i))
					S->ug[g].offset[i] += settle(S->ug[g].k1[i], S->ug[g].kg[i],
								     S->ug[g].offset[i],
								     S->ug[g].diagc[i], &unused, true);
		if (S->by == TCPFSM_SERVE_BY_CGROUP)
			settle_unattributed(S, a.count);
	}
	S->baselined = true;
	S->reconciliations++;
	S->reconcile_unix = srv_unix_now();
	S->reconcile_secs = (clock_ns(CLOCK_MONOTONIC) - t0) / 1e9;
	pthread_mutex_unlock(&S->lock);
	gcount_free(&a);
	return 0;
}

static void *reconcile_thread(void *arg)
{
	struct serve *S = arg;
	int ret;

	pthread_mutex_lock(&S->tlock);
	while (!S->stopping) {
		uint64_t at = clock_ns(CLOCK_MONOTONIC) + S->reconcile_ns;
		struct timespec ts = { at / 1000000000ull, at % 1000000000ull };

		pthread_cond_timedwait(&S->tcond, &S->tlock, &ts);
		if (S->stopping)
			break;
		pthread_mutex_unlock(&S->tlock);
		ret = srv_reconcile(S);
		if (ret)
			cli_error("sock_diag: %s", strerror(-ret));
		pthread_mutex_lock(&S->tlock);
	}
	pthread_mutex_unlock(&S->tlock);
	return NULL;
}

int srv_start_reconciler(struct serve *S)
{
	pthread_condattr_t ca;
	int ret;

	pthread_condattr_init(&ca);
	pthread_condattr_setclock(&ca, CLOCK_MONOTONIC);
	ret = pthread_cond_init(&S->tcond, &ca);
	pthread_condattr_destroy(&ca);
	if (ret)
		return -ret;
	ret = pthread_create(&S->thread, NULL, reconcile_thread, S);
	if (ret)
		return -ret;
	S->thread_started = true;
	return 0;
}

void srv_stop_reconciler(struct serve *S)
{
	if (!S->thread_started)
		return;
	pthread_mutex_lock(&S->tlock);
	S->stopping = true;
	pthread_cond_signal(&S->tcond);
	pthread_mutex_unlock(&S->tlock);
	pthread_join(S->thread, NULL);
	S->thread_started = false;
}

/* --stuck: one JSON line on stderr when a state's stuck count changes. */
void srv_report_stuck(struct serve *S, const struct tcpfsm_serve_ages *ages,
			 uint64_t now)
{
	int i;

	for (i = 1; i < 16; i++) {
		uint64_t n, oldest;

		if (!S->stuck_ns[i] || !state_label[i])
			continue;
		n = S->stuck_full[i] + ages->stuck[i];
		if (n == S->last_stuck[i])
			continue;
		oldest = S->oldest_full[i];
		if (ages->oldest_since_ns[i] &&
		    (!oldest || ages->oldest_since_ns[i] < oldest))
			oldest = ages->oldest_since_ns[i];
		fprintf(stderr,
			"{\"event\":\"%s\",\"state\":\"%s\",\"sockets\":%" PRIu64
			",\"threshold_seconds\":%.3f,\"oldest_age_seconds\":%.3f,"
			"\"netns\":%u}\n",
			n ? "stuck" : "resolved", state_label[i], n,
			S->stuck_ns[i] / 1e9,
			oldest && now > oldest ? (now - oldest) / 1e9 : 0.0, S->netns);
		S->last_stuck[i] = n;
	}
	fflush(stderr);
}
