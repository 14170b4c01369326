/* SPDX-License-Identifier: GPL-2.0 OR BSD-2-Clause */
/*
 * tcpfsm serve --by cgroup: a group key (tcpfsm_serve_cgroup_key, the low
 * 31 bits of a cgroup v2 id) -> its `cgroup` label value: the cgroup's
 * path as /proc/PID/cgroup's "0::" line shows it, escaped for the
 * exposition. A key's label, once resolved, never changes (Prometheus
 * series stay put); one not resolved yet is "id:N" and is tried again at
 * the next call (cgpath bounds the rescans). "unknown" for key 0 (no
 * cgroup known: minisockets older than serve), "other" for the overflow.
 * At most max keys are remembered: serve's series cap.
 */
#ifndef TCPFSM_SERVE_CGROUP_H
#define TCPFSM_SERVE_CGROUP_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include "cgpath.h"
#include "u64map.h"

#define SERVE_CG_LABEL_MAX 1024	/* escaped path; a longer one is "id:N" */

struct serve_cg_entry {
	uint64_t id;		/* the full cgroup id, or the key's 31 bits */
	bool resolved;
	char label[];		/* escaped, NUL-terminated */
};

struct serve_cg {
	struct cgpath cg;
	bool have_cg;		/* a cgroup2 mount to resolve ids in */
	struct u64map idx;	/* key + 1 -> index + 1 */
	struct serve_cg_entry **v;
	size_t n, max;
	char buf[32];		/* labels of keys not remembered */
};

/*
 * Resolve below root (the cgroup2 mount, prefix its root in the hierarchy,
 * "" for "/"); root NULL: the first cgroup2 mount in /proc/self/mountinfo,
 * none is no error (labels are then ids). Returns 0 or -errno.
 */
int serve_cg_init(struct serve_cg *c, const char *root, const char *prefix, size_t max);
void serve_cg_free(struct serve_cg *c);

/* The full id behind key, as sock_diag gave it (an id past 2^31 needs it). */
void serve_cg_note(struct serve_cg *c, uint32_t key, uint64_t id);

/*
 * Key's label value, escaped; valid until the next call. now_ns is any
 * monotonic clock (cgpath's rescan limit).
 */
const char *serve_cg_label(struct serve_cg *c, uint32_t key, uint64_t now_ns);

#endif
