/* SPDX-License-Identifier: GPL-2.0 OR BSD-2-Clause */
/*
 * tcpfsm serve's kernel side: load bpf/serve.bpf.c, read its per-CPU
 * counters and histograms (summed over CPUs), walk its minisocket maps.
 */
#ifndef TCPFSM_SERVE_BPF_H
#define TCPFSM_SERVE_BPF_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include "tcpfsm.h"

struct serve_bpf;

struct serve_bpf_opts {
	uint32_t netns;		/* count this namespace's sockets; 0: all */
	bool no_minisocks;	/* no timer hooks: no TIME_WAIT, no half-open */
	uint32_t max_tw;	/* timewait map entries (0: 256k) */
	uint32_t max_req;	/* request map entries (0: 256k) */
	int by;			/* TCPFSM_SERVE_BY_* */
	uint32_t max_groups;	/* --by: the series cap (ephemeral and other
				   come on top) */
	bool verbose;		/* libbpf's own messages on stderr */
};

/* Everything the kernel side has added up, over every CPU. */
struct serve_totals {
	struct tcpfsm_serve_counters c;	/* histograms included */
};

int serve_bpf_open(struct serve_bpf **out, const struct serve_bpf_opts *o,
		   char *err, size_t errlen, char *warn, size_t warnlen);
void serve_bpf_close(struct serve_bpf *b);
int serve_bpf_read(struct serve_bpf *b, struct serve_totals *t);
bool serve_bpf_has_minisocks(const struct serve_bpf *b);
unsigned int serve_bpf_hz(const struct serve_bpf *b);
/* The socket-local storage map, for sock_diag: its fd and id. */
int serve_bpf_sk_map(const struct serve_bpf *b, uint32_t *id);

/*
 * A running tcpfsm serve's socket-local storage map (values struct
 * tcpfsm_serve_sk), found from its loaded set_state program, for another
 * process (snapshot's ages): of a serve that watches network namespace
 * netns (inode; 0: any), all namespaces or that one. An fd the caller
 * closes, its id in *id, and in *nfound how many such serves run (the
 * oldest's map is given: it has seen the most). -ENOENT if none runs,
 * -EPERM without CAP_SYS_ADMIN (walking BPF ids needs it).
 */
int serve_bpf_find_sk_map(uint32_t netns, uint32_t *id, unsigned int *nfound);

/*
 * Run the kernel side's refresh: timewait minisockets that turned
 * TIME_WAIT without a timer event are moved there, requests that ended
 * without one are ended, and the minisockets' ages (stuck: older than
 * stuck_ns[state], 0 for none) come back in ages. Returns 0 or -errno.
 */
int serve_bpf_refresh(struct serve_bpf *b, const uint64_t stuck_ns[16],
		      struct tcpfsm_serve_ages *ages);

/* --by: a group's key, then its counters summed over CPUs. */
typedef int (*serve_group_cb)(void *ctx, uint32_t key,
			      const struct tcpfsm_serve_group *g);
int serve_bpf_read_groups(struct serve_bpf *b, serve_group_cb cb, void *ctx);
/* --by: make a group in the kernel (-E2BIG when the cap is reached). */
int serve_bpf_add_group(struct serve_bpf *b, uint32_t key);
/* --by lport: mark port as listened on (also before serve started). */
int serve_bpf_add_listen_port(struct serve_bpf *b, uint16_t port);

/* The BPF library's version ("1.1"), for serve's build info. */
const char *serve_bpf_lib_version(void);

/* Upper bound of finite histogram slot i, in seconds. */
static inline double serve_hist_le(unsigned int i)
{
	unsigned int m = TCPFSM_SERVE_HIST_MIN_LOG2 + i / 2;
	double p = (double)(1ull << m);

	return (i % 2 ? 2 * p : 1.5 * p) / 1e9;
}

#endif
