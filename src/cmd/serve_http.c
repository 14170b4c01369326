// SPDX-License-Identifier: GPL-2.0 OR BSD-2-Clause
/*
 * tcpfsm serve's output: the Prometheus exposition, the textfile, the
 * HTTP endpoint.
 */
#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <netinet/in.h>
#include <poll.h>
#include <pthread.h>
#include <sched.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
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

/* ---- exposition ---- */

/* state="...",lport="..." (or netns="...", cgroup="...") */
static void group_labels(struct serve *S, char *lb, size_t len, int state,
			 uint32_t key)
{
	bool netns = S->by == TCPFSM_SERVE_BY_NETNS;
	char v[16];

	if (S->by == TCPFSM_SERVE_BY_CGROUP) {
		snprintf(lb, len, "state=\"%s\",cgroup=\"%s\"", state_label[state],
			 serve_cg_label(&S->cg, key, clock_ns(CLOCK_MONOTONIC)));
		return;
	}
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
static bool hist_empty(const struct tcpfsm_serve_hist *h)
{
	unsigned int i;

	for (i = 0; i < TCPFSM_SERVE_HIST_SLOTS; i++)
		if (h->slot[i])
			return false;
	return true;
}

int srv_render(struct serve *S, struct prom *p, bool process)
{
	struct serve_totals *t = calloc(1, sizeof(*t));
	struct tcpfsm_serve_ages ages;
	uint64_t now, total;
	char lb[SERVE_CG_LABEL_MAX + 128];
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
		serve_bpf_read_groups(S->bpf, srv_on_kernel_group, S);
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
		srv_report_stuck(S, &ages, now);
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
			/*
			 * A group's state nothing has left yet has no series:
			 * 64 lines each, 1000 groups' would be ~55 MB
			 */
			if (hist_empty(&S->ug[g].hist[i]))
				continue;
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
		 cli_version_string(), serve_bpf_lib_version(),
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

int srv_write_textfile(struct serve *S)
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
	ret = srv_render(S, &p, false);
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

void srv_client_close(struct client *c)
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

/*
 * 200 with the exposition: its buffer becomes the answer, the head moved
 * in front, so that a large exposition is not held twice.
 */
static int respond_prom(struct client *c, const char *ctype, struct prom *p,
			bool head_only)
{
	char head[512];
	int hl = http_response_head(head, sizeof(head), 200, ctype, p->len);
	char *out;

	if (hl < 0 || head_only)
		return respond(c, 200, ctype, p->buf, p->len, head_only);
	out = realloc(p->buf, hl + p->len);
	if (!out)
		return -ENOMEM;
	memmove(out + hl, out, p->len);
	memcpy(out, head, hl);
	c->out = out;
	c->outlen = hl + p->len;
	c->outoff = 0;
	p->buf = NULL;
	p->len = p->cap = 0;
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
		if (srv_render(S, &p, true)) {
			snprintf(msg, sizeof(msg), "%s\n", http_reason(500));
			respond(c, 500, "text/plain; charset=utf-8", msg, strlen(msg),
				false);
		} else {
			respond_prom(c, r.openmetrics ? PROM_CT_OPENMETRICS : PROM_CT_TEXT,
				     &p, r.method == HTTP_HEAD);
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

void srv_client_io(struct serve *S, struct client *c, short revents)
{
	ssize_t n;

	if (c->draining) {
		char sink[4096];

		n = recv(c->fd, sink, sizeof(sink), MSG_DONTWAIT);
		if (n == 0 || (n < 0 && errno != EAGAIN && errno != EINTR))
			srv_client_close(c);
		return;
	}
	if (!c->out && (revents & (POLLIN | POLLHUP | POLLERR))) {
		n = recv(c->fd, c->in + c->inlen, sizeof(c->in) - c->inlen, 0);
		if (n <= 0) {
			if (n < 0 && (errno == EAGAIN || errno == EINTR))
				return;
			srv_client_close(c);
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
			srv_client_close(c);
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

int srv_listen_on(const char *spec, char *shown, size_t shownlen)
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
