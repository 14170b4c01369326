/* SPDX-License-Identifier: GPL-2.0 OR BSD-2-Clause */
/*
 * Inside tcpfsm serve (serve.c and its parts serve_*.c): its state, and
 * what its files share.
 */
#ifndef TCPFSM_SERVE_IMPL_H
#define TCPFSM_SERVE_IMPL_H

#include <pthread.h>
#include <stdbool.h>
#include <stdint.h>
#include "http.h"
#include "serve_bpf.h"
#include "serve_cgroup.h"
#include "tcpfsm.h"
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
	struct serve_cg cg;		/* --by cgroup: key -> path */

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

/* serve.c */
double srv_unix_now(void);

/* serve_agg.c */
struct ugroup *srv_ug_get(struct serve *S, uint32_t key, bool in_kernel);
int srv_on_kernel_group(void *ctx, uint32_t key,
			const struct tcpfsm_serve_group *kgp);
int srv_reconcile(struct serve *S);
int srv_start_reconciler(struct serve *S);
void srv_stop_reconciler(struct serve *S);
void srv_report_stuck(struct serve *S, const struct tcpfsm_serve_ages *ages,
		      uint64_t now);

/* serve_http.c */
int srv_render(struct serve *S, struct prom *p, bool process);
int srv_write_textfile(struct serve *S);
void srv_client_close(struct client *c);
void srv_client_io(struct serve *S, struct client *c, short revents);
int srv_listen_on(const char *spec, char *shown, size_t shownlen);

#endif
