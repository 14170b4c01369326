/* SPDX-License-Identifier: GPL-2.0 OR BSD-2-Clause */
/*
 * Socket inode -> owning process, from one scan of /proc/<pid>/fd.
 *
 * A socket's inode (sock_diag's idiag_inode) is what readlink() of a
 * descriptor shows as "socket:[N]". Socket inodes are global (sockfs), so
 * one map serves sockets of every network namespace.
 */
#ifndef TCPFSM_PROCMAP_H
#define TCPFSM_PROCMAP_H

#include <stddef.h>
#include <stdint.h>
#include "tcpfsm.h"
#include "u64map.h"

struct procmap_owner {
	uint32_t inode;
	uint32_t pid;		/* lowest pid holding the socket */
	uint32_t nprocs;	/* processes holding it (after fork, ...) */
	char comm[TCPFSM_COMM_LEN]; /* NUL-terminated; untrusted bytes */
};

struct procmap {
	struct procmap_owner *owners;	/* nused of cap, in scan order */
	size_t nused, cap;
	struct u64map index;		/* inode -> index in owners */
	uint32_t nprocs_scanned;
	uint32_t nprocs_denied;		/* fd directories we could not read */
};

/*
 * Scan proc_root ("/proc", or a test tree of <pid>/comm and <pid>/fd/
 * symlinks) once and fill pm, which starts zeroed ({ 0 }) and may be
 * scanned again (earlier contents are dropped, the table is kept). Processes that vanish or deny access during the scan are
 * skipped. Returns 0, or -errno if proc_root cannot be read.
 */
int procmap_scan(struct procmap *pm, const char *proc_root);

/* The owner of a socket inode, or NULL if none was seen (or inode 0). */
const struct procmap_owner *procmap_lookup(const struct procmap *pm,
					   uint32_t inode);

void procmap_free(struct procmap *pm);

#endif
