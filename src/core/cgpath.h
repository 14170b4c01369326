/* SPDX-License-Identifier: GPL-2.0 OR BSD-2-Clause */
/*
 * cgroup v2 id -> path, as the "0::" line of /proc/PID/cgroup shows it
 * ("/system.slice/ssh.service").
 *
 * On cgroup v2 a cgroup's id (bpf_get_current_cgroup_id(), sock_diag's
 * INET_DIAG_CGROUP_ID) is the kernfs node id of its directory, which on a
 * 64-bit kernel is also the directory's inode number (and the 8-byte
 * FILEID_KERNFS handle name_to_handle_at() returns). Resolving an id is
 * finding the directory under the cgroup2 mount whose inode is that id.
 *
 * A hit is one hash lookup. A miss walks the tree again, at most once per
 * rescan_ns and visiting at most max_dirs directories, so a lookup never
 * costs more than one bounded walk. An id still missing after a complete
 * walk that began after it was asked about is remembered as unresolvable:
 * cgroup ids are not reused within a boot, so it was removed, or lives
 * outside the mounted subtree.
 *
 * No clock and no fixed paths: the caller passes the time and the root
 * directory, so tests drive the rescan limit over a fake tree (whose
 * directories' inode numbers are then the ids).
 */
#ifndef TCPFSM_CGPATH_H
#define TCPFSM_CGPATH_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include "u64map.h"

#define CGPATH_RESCAN_NS 1000000000ull	/* a miss rescans at most this often */
#define CGPATH_MAX_DIRS 16384		/* directories per walk */
#define CGPATH_MAX_DEPTH 32		/* levels below the root */
#define CGPATH_MAX_ENTRIES 65536	/* cached ids, resolved or not */
#define CGPATH_PATH_MAX 4096		/* longest path, NUL included */

struct cgpath_limits {
	uint64_t rescan_ns;
	size_t max_dirs;
	size_t max_depth;
	size_t max_entries;
	size_t path_max;
};

struct cgpath_stats {
	uint64_t scans;		/* walks done */
	size_t dirs;		/* directories the last walk found */
	size_t too_long;	/* skipped by the last walk: path over path_max */
	size_t too_deep;	/* not descended into by the last walk: max_depth */
	bool incomplete;	/* the last walk stopped early (max_dirs, errors) */
};

struct cgpath {
	char *root;		/* directory to walk: the cgroup2 mount point */
	char *prefix;		/* the mount's root in the hierarchy; "" for "/" */
	struct cgpath_limits lim;
	struct u64map ids;	/* id -> index + 1 into paths, or CGPATH_NONE */
	char **paths;
	size_t npaths, cap;
	uint64_t last_scan_ns;
	bool scanned;
	struct cgpath_stats st;
};

/* Fill lim with the CGPATH_* defaults. */
void cgpath_limits_default(struct cgpath_limits *lim);

/*
 * Resolve ids below root. prefix ("" or NULL when the mount shows the
 * whole hierarchy) is the mount's own path in the hierarchy, put in front
 * of every path. lim NULL: defaults. Nothing is read until the first
 * lookup. Returns 0 or -errno (-ENAMETOOLONG, -ENOMEM).
 */
int cgpath_init(struct cgpath *cg, const char *root, const char *prefix,
		const struct cgpath_limits *lim);

/*
 * The first cgroup2 mount in a mountinfo file ("/proc/self/mountinfo"):
 * its mount point into dir and its root within the hierarchy into prefix
 * ("" for "/"), octal escapes undone. Returns 0, -ENOENT when there is no
 * cgroup2 mount (a cgroup v1 only host), -ENAMETOOLONG, or -errno.
 */
int cgpath_find_mount(const char *mountinfo, char *dir, size_t dirlen,
		      char *prefix, size_t prefixlen);

/* cgpath_init on the cgroup2 mount found in mountinfo. */
int cgpath_init_mounted(struct cgpath *cg, const char *mountinfo);

/*
 * The path of cgroup id, or NULL when it cannot be resolved (now: a later
 * call may succeed once the rate limit allows a rescan). now_ns is any
 * monotonic clock. The string lives until the next cgpath_lookup (a
 * rescan may free it). Id 0 is NULL.
 */
const char *cgpath_lookup(struct cgpath *cg, uint64_t id, uint64_t now_ns);

/*
 * Walk the tree now and cache every directory found. Returns 0 when the
 * walk was complete, -E2BIG when it stopped at max_dirs, or the first
 * -errno that left part of the tree unseen.
 */
int cgpath_scan(struct cgpath *cg);

void cgpath_free(struct cgpath *cg);

#endif
