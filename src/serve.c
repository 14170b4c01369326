// SPDX-License-Identifier: GPL-2.0 OR BSD-2-Clause
/*
 * tcpfsm serve: TCP state metrics for Prometheus, aggregated in the kernel.
 *
 * One thread, one ppoll() loop: the metrics endpoint (a few clients at a
 * time, each with a bounded request and a deadline), the periodic
 * reconciliation against sock_diag and the textfile. Tracing itself runs in
 * the kernel and never waits for this loop.
 */
#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <netinet/in.h>
#include <poll.h>
#include <pthread.h>
#include <sched.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>
#include <bpf/libbpf.h>
#include "cli.h"
#include "clock.h"
#include "commands.h"
#include "diag.h"
#include "http.h"
#include "netns.h"
#include "prom.h"
#include "serve_bpf.h"
#include "tcpstate.h"
#include "u64map.h"

#define MAX_CLIENTS 4
#define CLIENT_TIMEOUT_NS (5ull * 1000000000ull)
#define DEFAULT_PORT 9466
#define DEFAULT_MAX_SERIES 50
#define MAX_MAX_SERIES 1000

/* --by lport: one group's view in user space */
struct ugroup {
	uint32_t key;		/* port, or TCPFSM_SERVE_GROUP_* */
	bool in_kernel;		/* the kernel has counted in it */
	int64_t offset[16];	/* sock_diag minus the kernel's count */
	int64_t kg[16];		/* the kernel's gauges, last read */
	int64_t k1[16];		/* ... before the reconciliation's dump */
	uint64_t diagc[16];	/* the dump's count */
	struct tcpfsm_serve_hist hist[16];
};

struct client {
	int fd;
	uint64_t deadline;
	size_t inlen;
	char in[HTTP_MAX_REQUEST];
	char *out;		/* head + body, once answered */
	size_t outlen, outoff;
	bool draining;		/* answered: read to EOF before closing, so
				   unread bytes do not turn close into RST */
};

struct serve {
	struct serve_bpf *bpf;
	/*
	 * Reconciliation runs in a thread of its own (a dump of a million
	 * sockets takes seconds): lock guards what it writes and render
	 * reads, and the refresh program's results.
	 */
	pthread_mutex_t lock;
	pthread_mutex_t tlock;	/* with tcond: the thread's sleep */
	pthread_cond_t tcond;
	pthread_t thread;
	bool thread_started, stopping;
	uint32_t netns;		/* the namespace counted */
	int own_ns_fd, target_ns_fd; /* -1 when counting our own */
	uint64_t stuck_ns[16];
	bool has_stuck;

	/* reconciliation */
	uint64_t reconcile_ns;
	bool baselined;
	int64_t offset[16];	/* sock_diag minus the kernel's count */
	int64_t last_diff[16];
	uint64_t diag_count[16];
	uint64_t untracked[16];	/* full sockets with no storage (older) */
	uint64_t oldest_full[16]; /* since_ns of the oldest full socket */
	uint64_t stuck_full[16];
	uint64_t reconciliations, reconcile_errors;
	unsigned int netns_failed;	/* --by netns: not dumped at the last one */
	double reconcile_unix, reconcile_secs;
	uint64_t last_stuck[16]; /* as last reported on stderr */

	/* textfile */
	const char *textfile;
	uint64_t interval_ns, next_textfile;
	uint64_t textfile_errors;

	/* --by */
	int by;				/* TCPFSM_SERVE_BY_* */
	uint32_t max_series;
	uint8_t listened[65536 / 8];	/* ports that have had a listener */
	struct ugroup *ug;
	size_t nug;
	struct u64map ugidx;		/* key + 1 -> index + 1 */

	uint64_t scrapes, http_errors;
	struct client clients[MAX_CLIENTS];
};

/* node_exporter's node_tcp_connection_states spelling, in kernel order. */
static const char *const state_label[16] = {
	[TCPFSM_ST_ESTABLISHED] = "established", [TCPFSM_ST_SYN_SENT] = "syn_sent",
	[TCPFSM_ST_SYN_RECV] = "syn_recv",	 [TCPFSM_ST_FIN_WAIT1] = "fin_wait1",
	[TCPFSM_ST_FIN_WAIT2] = "fin_wait2",	 [TCPFSM_ST_TIME_WAIT] = "time_wait",
	[TCPFSM_ST_CLOSE] = "close",		 [TCPFSM_ST_CLOSE_WAIT] = "close_wait",
	[TCPFSM_ST_LAST_ACK] = "last_ack",	 [TCPFSM_ST_LISTEN] = "listen",
	[TCPFSM_ST_CLOSING] = "closing",
};
static const char *const open_label[TCPFSM_OPEN_MAX] = { "unknown", "active", "passive" };
static const char *const close_label[TCPFSM_CLOSE_MAX] = { "active", "passive", "abort" };
static const char *const tw_end_label[TCPFSM_TW_END_MAX] = { "expired", "early" };
static const char *const req_end_label[TCPFSM_REQ_END_MAX] = { "established", "timeout",
								"removed" };
static const char *const lost_label[TCPFSM_SLOST_MAX] = { "socket_storage", "time_wait_table_full",
							  "syn_recv_table_full", "group_table_full" };

static bool real_state(int s)
{
	return s >= 1 && s <= TCPFSM_ST_CLOSING;
}

static double unix_now(void)
{
	return clock_ns(CLOCK_REALTIME) / 1e9;
}

/* ---- --by lport groups ---- */

/*
 * The group of key, made if new; past the cap, "other". The kernel decides
 * which groups fit (it makes them too): one found here first is made there
 * as well, so that both count a socket in the same group.
 */
static struct ugroup *ug_get(struct serve *S, uint32_t key, bool in_kernel)
{
	uint64_t *idx = u64map_get(&S->ugidx, (uint64_t)key + 1);
	struct ugroup *g;

	if (idx)
		return &S->ug[*idx - 1];
	if (S->nug >= S->max_series + 2 ||
	    (!in_kernel && serve_bpf_add_group(S->bpf, key))) {
		if (key == TCPFSM_SERVE_GROUP_OTHER)
			return NULL;
		return ug_get(S, TCPFSM_SERVE_GROUP_OTHER, true);
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

static int on_kernel_group(void *ctx, uint32_t key, const struct tcpfsm_serve_group *kgp)
{
	struct serve *S = ctx;
	struct ugroup *g = ug_get(S, key, true);
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

struct diag_acc {
	struct serve *S;
	uint32_t ns_inode;	/* of the namespace being dumped */
	uint64_t now;
	uint64_t count[16], untracked[16], oldest[16], stuck[16];
	struct diag_query q;	/* every state, our storage */
};

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
		struct ugroup *g = ug_get(a->S, key, false);

		if (g)
			g->diagc[st]++;
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

static int reconcile(struct serve *S)
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

	/* minisockets first: requests that ended unseen leave the gauge */
	pthread_mutex_lock(&S->lock);
	serve_bpf_refresh(S->bpf, S->stuck_ns, &ages);
	/* --by: the groups are walked during the dump, under the lock */
	if (!S->by)
		pthread_mutex_unlock(&S->lock);
	map_fd = serve_bpf_sk_map(S->bpf, &map_id);
	if (S->target_ns_fd >= 0 && setns(S->target_ns_fd, CLONE_NEWNET))
		ret = -errno;
	/* --by lport: the listeners first, so that each socket finds its group */
	if (!ret && S->by == TCPFSM_SERVE_BY_LPORT)
		ret = diag_dump(&listeners, on_listener, S, NULL);
	kernel_gauges(S, k1);
	if (S->by) {
		size_t g;

		serve_bpf_read_groups(S->bpf, on_kernel_group, S);
		for (g = 0; g < S->nug; g++) {
			memcpy(S->ug[g].k1, S->ug[g].kg, sizeof(S->ug[g].k1));
			memset(S->ug[g].diagc, 0, sizeof(S->ug[g].diagc));
		}
	}
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
	if (!S->by)
		pthread_mutex_lock(&S->lock);
	if (ret) {
		S->reconcile_errors++;
		pthread_mutex_unlock(&S->lock);
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

		serve_bpf_read_groups(S->bpf, on_kernel_group, S);
		for (g = 0; g < S->nug; g++)
			for (i = 0; i < 16; i++)
				S->ug[g].offset[i] += settle(S->ug[g].k1[i], S->ug[g].kg[i],
							     S->ug[g].offset[i],
							     S->ug[g].diagc[i], &unused, true);
	}
	S->baselined = true;
	S->reconciliations++;
	S->reconcile_unix = unix_now();
	S->reconcile_secs = (clock_ns(CLOCK_MONOTONIC) - t0) / 1e9;
	pthread_mutex_unlock(&S->lock);
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
		ret = reconcile(S);
		if (ret)
			cli_error("sock_diag: %s", strerror(-ret));
		pthread_mutex_lock(&S->tlock);
	}
	pthread_mutex_unlock(&S->tlock);
	return NULL;
}

static int start_reconciler(struct serve *S)
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

static void stop_reconciler(struct serve *S)
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
static void report_stuck(struct serve *S, const struct tcpfsm_serve_ages *ages,
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

/* ---- exposition ---- */

/* state="...",lport="..." (or netns="...") */
static void group_labels(const struct serve *S, char *lb, size_t len, int state,
			 uint32_t key)
{
	bool netns = S->by == TCPFSM_SERVE_BY_NETNS;
	char v[16];

	if (key == TCPFSM_SERVE_GROUP_OTHER)
		strcpy(v, "other");
	else if (key == TCPFSM_SERVE_GROUP_EPHEMERAL && !netns)
		strcpy(v, "ephemeral");
	else
		snprintf(v, sizeof(v), "%u", key);
	snprintf(lb, len, "state=\"%s\",%s=\"%s\"", state_label[state],
		 netns ? "netns" : "lport", v);
}

static void process_metrics(struct prom *p)
{
	struct rusage ru;
	long pages = 0, rss = 0;
	FILE *f;

	if (!getrusage(RUSAGE_SELF, &ru)) {
		prom_family(p, "process_cpu_seconds", "counter", "seconds",
			    "Total user and system CPU time spent in seconds.");
		prom_sample_f(p, "process_cpu_seconds", "_total", NULL,
			      ru.ru_utime.tv_sec + ru.ru_utime.tv_usec / 1e6 +
				      ru.ru_stime.tv_sec + ru.ru_stime.tv_usec / 1e6);
	}
	f = fopen("/proc/self/statm", "r");
	if (f) {
		if (fscanf(f, "%ld %ld", &pages, &rss) == 2) {
			prom_family(p, "process_resident_memory_bytes", "gauge", "bytes",
				    "Resident memory size in bytes.");
			prom_sample_u64(p, "process_resident_memory_bytes", "", NULL,
					(uint64_t)rss * sysconf(_SC_PAGESIZE));
		}
		fclose(f);
	}
}

static void hist_out(struct prom *p, const char *name, const char *labels,
		     const struct tcpfsm_serve_hist *h)
{
	double le[TCPFSM_SERVE_HIST_FINITE];
	unsigned int i;

	for (i = 0; i < TCPFSM_SERVE_HIST_FINITE; i++)
		le[i] = serve_hist_le(i);
	prom_histogram(p, name, labels, le, (const uint64_t *)h->slot, TCPFSM_SERVE_HIST_FINITE,
		       h->slot[TCPFSM_SERVE_HIST_FINITE], h->sum_ns / 1e9);
}

/* The whole exposition; process metrics unless for the textfile. */
static int render(struct serve *S, struct prom *p, bool process)
{
	struct serve_totals *t = calloc(1, sizeof(*t));
	struct tcpfsm_serve_ages ages;
	uint64_t now, total;
	char lb[128];
	int i, j, ret;

	if (!t)
		return -ENOMEM;
	pthread_mutex_lock(&S->lock);
	ret = serve_bpf_refresh(S->bpf, S->stuck_ns, &ages);
	if (!ret)
		ret = serve_bpf_read(S->bpf, t);
	if (ret) {
		pthread_mutex_unlock(&S->lock);
		free(t);
		return ret;
	}
	now = clock_ns(CLOCK_MONOTONIC);
	S->scrapes++;

	prom_family(p, "tcpfsm_sockets", "gauge", NULL,
		    "TCP sockets in each state (TIME_WAIT and half-open SYN_RECV included), "
		    "counted in the kernel, reconciled with sock_diag.");
	if (S->by)
		serve_bpf_read_groups(S->bpf, on_kernel_group, S);
	for (i = 1; i < 16; i++) {
		int64_t v;
		size_t g;

		if (!state_label[i])
			continue;
		if (!S->by) {
			if (i == TCPFSM_ST_CLOSE)
				v = S->diag_count[i];
			else
				v = t->c.gauge[i] + S->offset[i];
			snprintf(lb, sizeof(lb), "state=\"%s\"", state_label[i]);
			prom_sample_i64(p, "tcpfsm_sockets", "", lb, v < 0 ? 0 : v);
			continue;
		}
		for (g = 0; g < S->nug; g++) {
			const struct ugroup *u = &S->ug[g];

			if (i == TCPFSM_ST_CLOSE)
				v = u->diagc[i];
			else
				v = u->kg[i] + u->offset[i];
			group_labels(S, lb, sizeof(lb), i, u->key);
			prom_sample_i64(p, "tcpfsm_sockets", "", lb, v < 0 ? 0 : v);
		}
	}

	prom_family(p, "tcpfsm_state_oldest_age_seconds", "gauge", "seconds",
		    "Age in its state of the oldest socket in each state (full sockets as of "
		    "the last reconciliation, minisockets now; sockets older than tcpfsm "
		    "count from when it first saw them change).");
	for (i = 1; i < 16; i++) {
		uint64_t oldest = S->oldest_full[i];

		if (!state_label[i])
			continue;
		if (ages.oldest_since_ns[i] && (!oldest || ages.oldest_since_ns[i] < oldest))
			oldest = ages.oldest_since_ns[i];
		if (!oldest)
			continue;
		snprintf(lb, sizeof(lb), "state=\"%s\"", state_label[i]);
		prom_sample_f(p, "tcpfsm_state_oldest_age_seconds", "", lb,
			      now > oldest ? (now - oldest) / 1e9 : 0);
	}

	if (S->has_stuck) {
		prom_family(p, "tcpfsm_sockets_stuck", "gauge", NULL,
			    "Sockets in a state for longer than its --stuck threshold.");
		for (i = 1; i < 16; i++) {
			if (!S->stuck_ns[i] || !state_label[i])
				continue;
			snprintf(lb, sizeof(lb), "state=\"%s\"", state_label[i]);
			prom_sample_u64(p, "tcpfsm_sockets_stuck", "", lb,
					S->stuck_full[i] + ages.stuck[i]);
		}
		report_stuck(S, &ages, now);
	}

	prom_family(p, "tcpfsm_state_duration_seconds", "histogram", "seconds",
		    "Time sockets spent in a state, observed when they leave it.");
	for (i = 1; i < 16; i++) {
		size_t g;

		if (!state_label[i] || i == TCPFSM_ST_CLOSE)
			continue;
		if (!S->by) {
			snprintf(lb, sizeof(lb), "state=\"%s\"", state_label[i]);
			hist_out(p, "tcpfsm_state_duration_seconds", lb,
				 &t->c.hist[TCPFSM_SERVE_H_STATE(i)]);
			continue;
		}
		for (g = 0; g < S->nug; g++) {
			group_labels(S, lb, sizeof(lb), i, S->ug[g].key);
			hist_out(p, "tcpfsm_state_duration_seconds", lb, &S->ug[g].hist[i]);
		}
	}

	prom_family(p, "tcpfsm_connection_lifetime_seconds", "histogram", "seconds",
		    "Connection lifetime from connect() or the SYN to CLOSE or to the end of "
		    "its TIME_WAIT, by who opened and who closed it.");
	for (i = 1; i < TCPFSM_OPEN_MAX; i++)
		for (j = 0; j < TCPFSM_CLOSE_MAX; j++) {
			snprintf(lb, sizeof(lb), "open=\"%s\",close=\"%s\"", open_label[i],
				 close_label[j]);
			hist_out(p, "tcpfsm_connection_lifetime_seconds", lb,
				 &t->c.hist[TCPFSM_SERVE_H_LIFE(i, j)]);
		}

	prom_family(p, "tcpfsm_transitions", "counter", NULL,
		    "TCP state changes of full sockets as the kernel reports them, and of "
		    "timewait minisockets (fin_wait2 to time_wait).");
	for (i = 0; i < 16; i++)
		for (j = 0; j < 16; j++) {
			if (!t->c.transitions[i][j] || !state_label[i] || !state_label[j])
				continue;
			snprintf(lb, sizeof(lb), "from=\"%s\",to=\"%s\"", state_label[i],
				 state_label[j]);
			prom_sample_u64(p, "tcpfsm_transitions", "_total", lb,
					t->c.transitions[i][j]);
		}

	prom_family(p, "tcpfsm_connections_closed", "counter", NULL,
		    "Connections that reached CLOSE or the end of their TIME_WAIT, by who "
		    "opened them (unknown: before tcpfsm started) and who closed them (abort: "
		    "no FIN exchange).");
	for (i = 0; i < TCPFSM_OPEN_MAX; i++)
		for (j = 0; j < TCPFSM_CLOSE_MAX; j++) {
			snprintf(lb, sizeof(lb), "open=\"%s\",close=\"%s\"", open_label[i],
				 close_label[j]);
			prom_sample_u64(p, "tcpfsm_connections_closed", "_total", lb,
					t->c.closed[i][j]);
		}

	prom_family(p, "tcpfsm_time_wait_ends", "counter", NULL,
		    "Timewait minisockets ended: expired (timer ran out) or early (reused, "
		    "reset, purged).");
	for (i = 0; i < TCPFSM_TW_END_MAX; i++) {
		snprintf(lb, sizeof(lb), "end=\"%s\"", tw_end_label[i]);
		prom_sample_u64(p, "tcpfsm_time_wait_ends", "_total", lb, t->c.tw_ends[i]);
	}
	prom_family(p, "tcpfsm_syn_recv_ends", "counter", NULL,
		    "Half-open connections (request socks) ended: established (final ACK), "
		    "timeout (SYN-ACK retries exhausted), removed (reset, listener gone).");
	for (i = 0; i < TCPFSM_REQ_END_MAX; i++) {
		snprintf(lb, sizeof(lb), "end=\"%s\"", req_end_label[i]);
		prom_sample_u64(p, "tcpfsm_syn_recv_ends", "_total", lb, t->c.req_ends[i]);
	}
	prom_family(p, "tcpfsm_synack_retransmits", "counter", NULL,
		    "SYN-ACK retransmissions (tcp:tcp_retransmit_synack).");
	prom_sample_u64(p, "tcpfsm_synack_retransmits", "_total", NULL, t->c.synack_retrans);

	prom_family(p, "tcpfsm_events_lost", "counter", NULL,
		    "State changes the kernel side could not account for, by reason.");
	total = 0;
	for (i = 0; i < TCPFSM_SLOST_MAX; i++) {
		if (i == TCPFSM_SLOST_GROUP_FULL)
			continue; /* not lost: counted in "other" */
		snprintf(lb, sizeof(lb), "reason=\"%s\"", lost_label[i]);
		prom_sample_u64(p, "tcpfsm_events_lost", "_total", lb, t->c.lost[i]);
		total += t->c.lost[i];
	}
	(void)total;

	prom_family(p, "tcpfsm_sockets_untracked", "gauge", NULL,
		    "Full sockets sock_diag showed at the last reconciliation with no "
		    "state kept for them (older than tcpfsm, or storage failed): their "
		    "ages are not known.");
	for (i = 1; i < 16; i++) {
		if (!state_label[i] || i == TCPFSM_ST_TIME_WAIT)
			continue;
		snprintf(lb, sizeof(lb), "state=\"%s\"", state_label[i]);
		prom_sample_u64(p, "tcpfsm_sockets_untracked", "", lb, S->untracked[i]);
	}

	prom_family(p, "tcpfsm_sockets_reconcile_difference", "gauge", NULL,
		    "sock_diag's count minus tcpfsm's at the last reconciliation, beyond what "
		    "changed during the dump (then corrected).");
	for (i = 1; i < 16; i++) {
		if (!state_label[i] || i == TCPFSM_ST_CLOSE)
			continue;
		snprintf(lb, sizeof(lb), "state=\"%s\"", state_label[i]);
		prom_sample_i64(p, "tcpfsm_sockets_reconcile_difference", "", lb,
				S->last_diff[i]);
	}
	prom_family(p, "tcpfsm_reconciliations", "counter", NULL,
		    "Reconciliations with sock_diag done.");
	prom_sample_u64(p, "tcpfsm_reconciliations", "_total", NULL, S->reconciliations);
	prom_family(p, "tcpfsm_reconcile_errors", "counter", NULL,
		    "Reconciliations that failed.");
	prom_sample_u64(p, "tcpfsm_reconcile_errors", "_total", NULL, S->reconcile_errors);
	prom_family(p, "tcpfsm_reconcile_timestamp_seconds", "gauge", "seconds",
		    "When the last reconciliation finished (Unix time).");
	prom_sample_f(p, "tcpfsm_reconcile_timestamp_seconds", "", NULL, S->reconcile_unix);
	prom_family(p, "tcpfsm_reconcile_duration_seconds", "gauge", "seconds",
		    "How long the last reconciliation took.");
	prom_sample_f(p, "tcpfsm_reconcile_duration_seconds", "", NULL, S->reconcile_secs);
	if (S->by == TCPFSM_SERVE_BY_NETNS) {
		prom_family(p, "tcpfsm_reconcile_netns_failed", "gauge", NULL,
			    "--by netns: namespaces the last reconciliation could not "
			    "enter (setns needs CAP_SYS_ADMIN) or dump.");
		prom_sample_u64(p, "tcpfsm_reconcile_netns_failed", "", NULL,
				S->netns_failed);
	}
	prom_family(p, "tcpfsm_time_wait_late_transitions", "counter", NULL,
		    "Orphaned FIN_WAIT2 minisockets seen to have turned TIME_WAIT after the "
		    "fact (their FIN unseen); dated from their deadline.");
	prom_sample_u64(p, "tcpfsm_time_wait_late_transitions", "_total", NULL,
			t->c.tw_fw2_to_tw);
	prom_family(p, "tcpfsm_series_dropped", "counter", NULL,
		    "--by: changes counted in the \"other\" group because the "
		    "series cap (--max-series) was reached (0 without --by).");
	prom_sample_u64(p, "tcpfsm_series_dropped", "_total", NULL,
			t->c.lost[TCPFSM_SLOST_GROUP_FULL]);

	prom_family(p, "tcpfsm_build_info", "gauge", NULL,
		    "tcpfsm's version, libbpf's, and what it traces.");
	snprintf(lb, sizeof(lb),
		 "version=\"%s\",libbpf=\"%s\",minisocks=\"%s\",netns=\"%u\"",
		 cli_version_string(), libbpf_version_string(),
		 serve_bpf_has_minisocks(S->bpf) ? "yes" : "no",
		 S->by == TCPFSM_SERVE_BY_NETNS ? 0 : S->netns);
	prom_sample_u64(p, "tcpfsm_build_info", "", lb, 1);
	pthread_mutex_unlock(&S->lock);
	if (process)
		process_metrics(p);
	prom_end(p);
	free(t);
	return p->err;
}

/* ---- textfile ---- */

static int write_textfile(struct serve *S)
{
	struct prom p;
	char tmp[4096];
	int fd, ret;
	ssize_t n;
	size_t off = 0;

	if (snprintf(tmp, sizeof(tmp), "%s.tmp.%d", S->textfile, (int)getpid()) >=
	    (int)sizeof(tmp))
		return -ENAMETOOLONG;
	prom_init(&p, false);
	ret = render(S, &p, false);
	if (ret)
		goto out;
	fd = open(tmp, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
	if (fd < 0) {
		ret = -errno;
		goto out;
	}
	while (off < p.len) {
		n = write(fd, p.buf + off, p.len - off);
		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0) {
			ret = -errno;
			break;
		}
		off += n;
	}
	if (close(fd) && !ret)
		ret = -errno;
	if (!ret && rename(tmp, S->textfile))
		ret = -errno;
	if (ret)
		unlink(tmp);
out:
	prom_free(&p);
	return ret;
}

/* ---- HTTP ---- */

static void client_close(struct client *c)
{
	close(c->fd);
	free(c->out);
	c->fd = -1;
	c->out = NULL;
	c->inlen = c->outlen = c->outoff = 0;
	c->draining = false;
}

static int respond(struct client *c, int status, const char *ctype,
		   const char *body, size_t blen, bool head_only)
{
	char head[512];
	int hl = http_response_head(head, sizeof(head), status, ctype, blen);

	if (hl < 0)
		return hl;
	c->out = malloc(hl + (head_only ? 0 : blen));
	if (!c->out)
		return -ENOMEM;
	memcpy(c->out, head, hl);
	if (!head_only)
		memcpy(c->out + hl, body, blen);
	c->outlen = hl + (head_only ? 0 : blen);
	c->outoff = 0;
	return 0;
}

static void handle_request(struct serve *S, struct client *c)
{
	static const char index_body[] =
		"tcpfsm serve: TCP state metrics at /metrics\n";
	struct http_req r;
	int ret = http_parse_request(c->in, c->inlen, &r);
	char msg[64];

	if (ret == -EAGAIN)
		return;
	if (ret) {
		int status = ret == -EMSGSIZE ? 431 : 400;

		S->http_errors++;
		snprintf(msg, sizeof(msg), "%s\n", http_reason(status));
		respond(c, status, "text/plain; charset=utf-8", msg, strlen(msg), false);
		return;
	}
	if (r.method == HTTP_OTHER) {
		snprintf(msg, sizeof(msg), "%s\n", http_reason(405));
		respond(c, 405, "text/plain; charset=utf-8", msg, strlen(msg), false);
		return;
	}
	if (!strcmp(r.path, "/metrics")) {
		struct prom p;

		prom_init(&p, r.openmetrics);
		if (render(S, &p, true)) {
			snprintf(msg, sizeof(msg), "%s\n", http_reason(500));
			respond(c, 500, "text/plain; charset=utf-8", msg, strlen(msg),
				false);
		} else {
			respond(c, 200, r.openmetrics ? PROM_CT_OPENMETRICS : PROM_CT_TEXT,
				p.buf, p.len, r.method == HTTP_HEAD);
		}
		prom_free(&p);
		return;
	}
	if (!strcmp(r.path, "/")) {
		respond(c, 200, "text/plain; charset=utf-8", index_body,
			sizeof(index_body) - 1, r.method == HTTP_HEAD);
		return;
	}
	snprintf(msg, sizeof(msg), "%s\n", http_reason(404));
	respond(c, 404, "text/plain; charset=utf-8", msg, strlen(msg), false);
}

static void client_io(struct serve *S, struct client *c, short revents)
{
	ssize_t n;

	if (c->draining) {
		char sink[4096];

		n = recv(c->fd, sink, sizeof(sink), MSG_DONTWAIT);
		if (n == 0 || (n < 0 && errno != EAGAIN && errno != EINTR))
			client_close(c);
		return;
	}
	if (!c->out && (revents & (POLLIN | POLLHUP | POLLERR))) {
		n = recv(c->fd, c->in + c->inlen, sizeof(c->in) - c->inlen, 0);
		if (n <= 0) {
			if (n < 0 && (errno == EAGAIN || errno == EINTR))
				return;
			client_close(c);
			return;
		}
		c->inlen += n;
		handle_request(S, c);
		if (!c->out && c->inlen == sizeof(c->in)) {
			c->inlen = sizeof(c->in);
			handle_request(S, c); /* full: -EMSGSIZE */
		}
		if (!c->out)
			return;
	}
	if (c->out) {
		n = send(c->fd, c->out + c->outoff, c->outlen - c->outoff,
			 MSG_NOSIGNAL | MSG_DONTWAIT);
		if (n < 0) {
			if (errno == EAGAIN || errno == EINTR)
				return;
			client_close(c);
			return;
		}
		c->outoff += n;
		if (c->outoff == c->outlen) {
			uint64_t soon = clock_ns(CLOCK_MONOTONIC) + 1000000000ull;

			shutdown(c->fd, SHUT_WR);
			c->draining = true;
			if (soon < c->deadline)
				c->deadline = soon;
		}
	}
}

static int listen_on(const char *spec, char *shown, size_t shownlen)
{
	struct sockaddr_storage ss = { 0 };
	struct sockaddr_in *in4 = (struct sockaddr_in *)&ss;
	struct sockaddr_in6 *in6 = (struct sockaddr_in6 *)&ss;
	char host[INET6_ADDRSTRLEN + 2];
	const char *colon = strrchr(spec, ':');
	uint64_t port;
	size_t hl;
	int fd, one = 1;

	if (!colon || parse_u64(colon + 1, 0, 65535, &port))
		return -EINVAL;
	hl = colon - spec;
	if (hl >= sizeof(host))
		return -EINVAL;
	memcpy(host, spec, hl);
	host[hl] = '\0';
	if (hl >= 2 && host[0] == '[' && host[hl - 1] == ']') {
		host[hl - 1] = '\0';
		if (inet_pton(AF_INET6, host + 1, &in6->sin6_addr) != 1)
			return -EINVAL;
		in6->sin6_family = AF_INET6;
		in6->sin6_port = htons(port);
	} else {
		if (!hl)
			strcpy(host, "0.0.0.0");
		if (inet_pton(AF_INET, host, &in4->sin_addr) != 1)
			return -EINVAL;
		in4->sin_family = AF_INET;
		in4->sin_port = htons(port);
	}
	fd = socket(ss.ss_family, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
	if (fd < 0)
		return -errno;
	setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one));
	if (bind(fd, (struct sockaddr *)&ss,
		 ss.ss_family == AF_INET ? sizeof(*in4) : sizeof(*in6)) ||
	    listen(fd, 16)) {
		int err = -errno;

		close(fd);
		return err;
	}
	snprintf(shown, shownlen, "%s", spec[0] == ':' ? "0.0.0.0" : "");
	strncat(shown, spec, shownlen - strlen(shown) - 1);
	return fd;
}

/* ---- options ---- */

static void usage(FILE *out)
{
	fprintf(out,
		"Usage: tcpfsm serve [OPTIONS]\n\n"
		"Serve TCP state metrics for Prometheus at GET /metrics, counted in the\n"
		"kernel (no record per transition).\n\n"
		"  -l, --listen ADDR:PORT  where to serve (default 127.0.0.1:%d; [::1]:PORT\n"
		"                          for IPv6); beyond loopback is your choice\n"
		"      --textfile PATH     also write the metrics to PATH every interval,\n"
		"                          atomically (node_exporter's textfile collector)\n"
		"  -i, --interval DUR      textfile interval (default 15s)\n"
		"      --reconcile DUR     recount against sock_diag every DUR (default 15s)\n"
		"      --stuck STATE=DUR[,STATE=DUR...]  count (and report on stderr as\n"
		"                          JSON lines) sockets longer than DUR in STATE\n"
		"      --netns PATH        count the sockets of this network namespace\n"
		"                          (/run/netns/NAME, /proc/PID/ns/net; default ours)\n"
		"      --by lport|netns    a label on tcpfsm_sockets and\n"
		"                          tcpfsm_state_duration_seconds: lport, the local\n"
		"                          port for ports with a listener, else \"ephemeral\";\n"
		"                          netns, the namespace inode (every namespace is\n"
		"                          counted; reconciling them needs CAP_SYS_ADMIN)\n"
		"      --max-series N      --by: at most N groups, the rest in \"other\"\n"
		"                          (default %d, at most %d)\n"
		"      --max-time-wait N   timewait minisockets kept (default 262144, about\n"
		"                          80 bytes of kernel memory each); more are counted\n"
		"                          only at reconciliation and in tcpfsm_events_lost_total\n"
		"      --no-minisocks      no timer hooks: TIME_WAIT and half-open SYN_RECV\n"
		"                          are counted only at reconciliation\n"
		"  -v, --verbose           libbpf's messages\n"
		"  -h, --help\n", DEFAULT_PORT, DEFAULT_MAX_SERIES, MAX_MAX_SERIES);
}

static int parse_stuck(struct serve *S, const char *arg)
{
	char *copy = strdup(arg), *save = NULL, *item;
	int ret = 0;

	if (!copy)
		return cli_error("out of memory");
	for (item = strtok_r(copy, ",", &save); item; item = strtok_r(NULL, ",", &save)) {
		char *eq = strchr(item, '=');
		uint64_t ns;
		int st;

		if (!eq) {
			ret = cli_usage_error("serve", "--stuck wants STATE=DURATION, not '%s'",
					      item);
			break;
		}
		*eq = '\0';
		st = tcp_state_parse(item);
		if (st < 0 || !real_state(st) || st == TCPFSM_ST_CLOSE) {
			ret = cli_usage_error("serve", "--stuck: unknown state '%s'", item);
			break;
		}
		if (parse_duration_ns(eq + 1, &ns) || !ns) {
			ret = cli_usage_error("serve", "--stuck: bad duration '%s'", eq + 1);
			break;
		}
		S->stuck_ns[st] = ns;
		S->has_stuck = true;
	}
	free(copy);
	return ret;
}

int cmd_serve(int argc, char **argv)
{
	static const struct option longopts[] = {
		{ "listen", required_argument, NULL, 'l' },
		{ "textfile", required_argument, NULL, 'T' },
		{ "interval", required_argument, NULL, 'i' },
		{ "reconcile", required_argument, NULL, 'R' },
		{ "stuck", required_argument, NULL, 'S' },
		{ "netns", required_argument, NULL, 'N' },
		{ "no-minisocks", no_argument, NULL, 'M' },
		{ "by", required_argument, NULL, 'B' },
		{ "max-series", required_argument, NULL, 'X' },
		{ "max-time-wait", required_argument, NULL, 'W' },
		{ "verbose", no_argument, NULL, 'v' },
		{ "help", no_argument, NULL, 'h' },
		{ 0 },
	};
	static struct serve S_;	/* large (client buffers): not on the stack */
	struct serve *S = &S_;
	struct serve_bpf_opts bo = { 0 };
	const char *listen_spec = "127.0.0.1:9466", *netns_path = NULL;
	char err[256], warn[256], shown[128];
	sigset_t block, orig;
	struct stat st;
	int lfd = -1, opt, ret, i, status = EXIT_FAIL;

	memset(S, 0, sizeof(*S));
	pthread_mutex_init(&S->lock, NULL);
	pthread_mutex_init(&S->tlock, NULL);
	S->own_ns_fd = S->target_ns_fd = -1;
	S->interval_ns = S->reconcile_ns = 15ull * 1000000000ull;
	S->max_series = DEFAULT_MAX_SERIES;
	for (i = 0; i < MAX_CLIENTS; i++)
		S->clients[i].fd = -1;
	while ((opt = cli_getopt("serve", argc, argv, ":l:i:vh", longopts)) != -1) {
		switch (opt) {
		case 'l':
			listen_spec = optarg;
			break;
		case 'T':
			if (!*optarg)
				return cli_usage_error("serve", "--textfile wants a path");
			S->textfile = optarg;
			break;
		case 'i':
		case 'R':
			if (parse_duration_ns(optarg, opt == 'i' ? &S->interval_ns :
								   &S->reconcile_ns) ||
			    (opt == 'i' ? S->interval_ns : S->reconcile_ns) < 100000000ull)
				return cli_usage_error("serve",
						       "bad %s '%s' (at least 100ms)",
						       opt == 'i' ? "--interval" : "--reconcile",
						       optarg);
			break;
		case 'S':
			if (parse_stuck(S, optarg))
				return EXIT_USAGE;
			break;
		case 'N':
			netns_path = optarg;
			break;
		case 'M':
			bo.no_minisocks = true;
			break;
		case 'B':
			if (!strcmp(optarg, "lport"))
				S->by = TCPFSM_SERVE_BY_LPORT;
			else if (!strcmp(optarg, "netns"))
				S->by = TCPFSM_SERVE_BY_NETNS;
			else if (!strcmp(optarg, "cgroup"))
				return cli_usage_error("serve", "--by cgroup is not implemented "
							"yet (lport and netns are)");
			else
				return cli_usage_error("serve", "--by wants lport or netns, "
							"not '%s'", optarg);
			break;
		case 'W': {
			uint64_t v;

			if (parse_u64(optarg, 1024, 1u << 26, &v))
				return cli_usage_error("serve", "--max-time-wait wants 1024..%u, "
							"not '%s'", 1u << 26, optarg);
			bo.max_tw = v;
			break;
		}
		case 'X': {
			uint64_t v;

			if (parse_u64(optarg, 1, MAX_MAX_SERIES, &v))
				return cli_usage_error("serve", "--max-series wants 1..%d, not '%s'",
						       MAX_MAX_SERIES, optarg);
			S->max_series = v;
			break;
		}
		case 'v':
			cli_verbose = true;
			break;
		case 'h':
			usage(stdout);
			return EXIT_OK;
		case CLI_GETOPT_ERROR:
			return EXIT_USAGE;
		}
	}
	if (optind < argc)
		return cli_usage_error("serve", "unexpected argument '%s'", argv[optind]);

	lfd = listen_on(listen_spec, shown, sizeof(shown));
	if (lfd == -EINVAL)
		return cli_usage_error("serve", "bad --listen '%s' (ADDR:PORT, [ADDR6]:PORT)",
				       listen_spec);
	if (lfd < 0)
		return cli_error("cannot listen on %s: %s", listen_spec, strerror(-lfd));

	if (stat("/proc/thread-self/ns/net", &st)) {
		cli_error("cannot read our network namespace: %s", strerror(errno));
		goto out;
	}
	S->netns = st.st_ino;
	if (netns_path) {
		struct stat ts;

		S->target_ns_fd = open(netns_path, O_RDONLY | O_CLOEXEC);
		if (S->target_ns_fd < 0 || fstat(S->target_ns_fd, &ts)) {
			cli_error("cannot open network namespace %s: %s", netns_path,
				  strerror(errno));
			goto out;
		}
		if (ts.st_ino == st.st_ino) {
			close(S->target_ns_fd);
			S->target_ns_fd = -1;
		} else {
			S->netns = ts.st_ino;
			S->own_ns_fd = open("/proc/thread-self/ns/net", O_RDONLY | O_CLOEXEC);
			if (S->own_ns_fd < 0) {
				cli_error("cannot open our network namespace: %s",
					  strerror(errno));
				goto out;
			}
		}
	}
	bo.netns = S->netns;
	bo.by = S->by;
	if (S->by == TCPFSM_SERVE_BY_NETNS) {
		if (netns_path) {
			cli_usage_error("serve", "--by netns counts every namespace: no --netns");
			status = EXIT_USAGE;
			goto out;
		}
		S->own_ns_fd = open("/proc/thread-self/ns/net", O_RDONLY | O_CLOEXEC);
		if (S->own_ns_fd < 0) {
			cli_error("cannot open our network namespace: %s", strerror(errno));
			goto out;
		}
	}
	bo.max_groups = S->max_series;
	/* every namespace, each its own group */
	if (S->by == TCPFSM_SERVE_BY_NETNS)
		bo.netns = 0;
	if (S->by) {
		S->ug = calloc(S->max_series + 2, sizeof(*S->ug));
		if (!S->ug || u64map_init(&S->ugidx, 64, S->max_series + 2)) {
			cli_error("out of memory");
			goto out;
		}
	}
	ret = serve_bpf_open(&S->bpf, &bo, err, sizeof(err), warn, sizeof(warn));
	if (ret) {
		cli_error("%s", err);
		goto out;
	}
	if (*warn)
		fprintf(stderr, "tcpfsm serve: warning: %s\n", warn);
	if (S->by) {
		/* made in the kernel by the loader */
		ug_get(S, TCPFSM_SERVE_GROUP_OTHER, true);
		if (S->by == TCPFSM_SERVE_BY_LPORT)
			ug_get(S, TCPFSM_SERVE_GROUP_EPHEMERAL, true);
	}
	ret = reconcile(S);
	if (ret) {
		cli_error("sock_diag: %s", strerror(-ret));
		goto out;
	}

	cli_install_signals();
	signal(SIGHUP, SIG_IGN);
	sigemptyset(&block);
	sigaddset(&block, SIGINT);
	sigaddset(&block, SIGTERM);
	sigprocmask(SIG_BLOCK, &block, &orig);
	sigdelset(&orig, SIGINT);
	sigdelset(&orig, SIGTERM);

	fprintf(stderr, "tcpfsm serve: serving http://%s/metrics (netns %u)\n", shown,
		S->netns);
	fflush(stderr);
	ret = start_reconciler(S);
	if (ret) {
		cli_error("cannot start the reconciliation thread: %s", strerror(-ret));
		goto out;
	}
	S->next_textfile = clock_ns(CLOCK_MONOTONIC);

	while (!cli_stop) {
		struct pollfd pfd[MAX_CLIENTS + 1];
		struct client *who[MAX_CLIENTS + 1];
		uint64_t now = clock_ns(CLOCK_MONOTONIC), wake;
		struct timespec ts;
		int n = 0, nfree = 0;

		if (S->textfile && now >= S->next_textfile) {
			ret = write_textfile(S);
			if (ret) {
				S->textfile_errors++;
				cli_error("cannot write %s: %s", S->textfile, strerror(-ret));
			}
			S->next_textfile = now + S->interval_ns;
		}
		wake = now + 1000000000ull;
		if (S->textfile && S->next_textfile < wake)
			wake = S->next_textfile;
		for (i = 0; i < MAX_CLIENTS; i++) {
			struct client *c = &S->clients[i];

			if (c->fd < 0) {
				nfree++;
				continue;
			}
			if (now >= c->deadline) {
				client_close(c); /* slow or silent: no answer */
				nfree++;
				continue;
			}
			if (c->deadline < wake)
				wake = c->deadline;
			pfd[n].fd = c->fd;
			pfd[n].events = c->out && !c->draining ? POLLOUT : POLLIN;
			who[n++] = c;
		}
		/* beyond MAX_CLIENTS, new ones wait in the listen backlog */
		if (nfree) {
			pfd[n].fd = lfd;
			pfd[n].events = POLLIN;
			who[n++] = NULL;
		}
		wake = wake > now ? wake - now : 0;
		ts.tv_sec = wake / 1000000000ull;
		ts.tv_nsec = wake % 1000000000ull;
		ret = ppoll(pfd, n, &ts, &orig);
		if (ret < 0) {
			if (errno == EINTR)
				continue;
			cli_error("poll: %s", strerror(errno));
			goto out;
		}
		for (i = 0; i < n; i++) {
			if (!pfd[i].revents)
				continue;
			if (who[i]) {
				client_io(S, who[i], pfd[i].revents);
				continue;
			}
			for (int k = 0; k < MAX_CLIENTS; k++) {
				struct client *c = &S->clients[k];
				int cfd;

				if (c->fd >= 0)
					continue;
				cfd = accept4(lfd, NULL, NULL, SOCK_NONBLOCK | SOCK_CLOEXEC);
				if (cfd < 0)
					break;
				c->fd = cfd;
				c->deadline = clock_ns(CLOCK_MONOTONIC) + CLIENT_TIMEOUT_NS;
			}
		}
	}
	status = EXIT_OK;
out:
	stop_reconciler(S);
	for (i = 0; i < MAX_CLIENTS; i++)
		if (S->clients[i].fd >= 0)
			client_close(&S->clients[i]);
	if (lfd >= 0)
		close(lfd);
	if (S->own_ns_fd >= 0)
		close(S->own_ns_fd);
	if (S->target_ns_fd >= 0)
		close(S->target_ns_fd);
	serve_bpf_close(S->bpf);
	if (S->ug) {
		u64map_free(&S->ugidx);
		free(S->ug);
	}
	return status;
}
