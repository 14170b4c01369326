/* SPDX-License-Identifier: GPL-2.0 OR BSD-2-Clause */
/*
 * The network namespaces of the host, for reading each one's sockets.
 *
 * A namespace is found through a process in it (/proc/<pid>/ns/net) or a
 * bind mount of it (/run/netns/<name>, what `ip netns add` makes: a
 * namespace with no process). Its identity is its nsfs inode, the `netns`
 * of the BPF records; many processes share one, so the walk visits each
 * inode once.
 *
 * Two layers:
 *  - netns_set_*(): pure, which inodes to visit (our own is read apart,
 *    a --netns filter keeps one, each is visited once);
 *  - netns_walk(): the I/O, stat and open the candidates, hand each
 *    namespace to a callback as an open descriptor (for setns()).
 */
#ifndef TCPFSM_NETNS_H
#define TCPFSM_NETNS_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <dirent.h>
#include "u64map.h"

/* Which namespaces to visit, and those visited already. */
struct netns_set {
	uint64_t dev;		/* the nsfs device: other files are not namespaces */
	uint32_t self;		/* never visited: the caller reads it in place */
	uint32_t only;		/* non-zero: visit this inode alone */
	struct u64map seen;
};

enum netns_verdict {
	NETNS_VISIT = 0,
	NETNS_SELF,		/* our own namespace */
	NETNS_FILTERED,		/* not the one asked for */
	NETNS_SEEN,		/* visited already */
	NETNS_NOT_NS,		/* not on nsfs (a stale /run/netns file) */
};

/*
 * dev and self: of our own namespace's file, stat of /proc/thread-self/ns/net
 * (the calling thread's: setns() moves only it, so /proc/self, the thread
 * group leader's, may name another).
 */
int netns_set_init(struct netns_set *s, uint64_t dev, uint32_t self,
		   uint32_t only);
void netns_set_free(struct netns_set *s);
/* Should the file with this (st_dev, st_ino) be visited? */
enum netns_verdict netns_set_judge(const struct netns_set *s, uint64_t dev,
				   uint64_t ino);
/* Remember a visited inode. Returns 0 or -ENOMEM. */
int netns_set_mark(struct netns_set *s, uint32_t ino);
/* The --netns namespace has been visited: nothing more to find. */
bool netns_set_complete(const struct netns_set *s);

struct netns_walk_stats {
	unsigned int visited;	/* handed to the callback, which succeeded */
	unsigned int failed;	/* could not be opened, or the callback failed */
	uint32_t first_failed;	/* the inode of the first failure */
	int first_err;		/* and its -errno */
};

/* Returned by a netns_visit_cb to end the walk at once. */
#define NETNS_WALK_STOP 1

/*
 * Called with a descriptor of the namespace (O_RDONLY, closed after the
 * call). Returns 0, -errno for a failure in this namespace (counted, the
 * walk goes on), or NETNS_WALK_STOP.
 */
typedef int (*netns_visit_cb)(void *ctx, uint32_t inode, int fd);

/*
 * Visit every network namespace reachable as proc_root/<pid>/ns/net or
 * netns_dir/<name> (NULL: none), each once, except our own (self_path,
 * e.g. "/proc/thread-self/ns/net") and, if only is non-zero, every namespace
 * but that one. A process or a mount that vanishes between the look and
 * the open is skipped; another may still lead to its namespace.
 *
 * Returns 0, NETNS_WALK_STOP if the callback stopped the walk, or -errno
 * if self_path or proc_root cannot be read (-ENOMEM: out of memory).
 * st (zeroed here) says what was found, visited and failed.
 */
int netns_walk(const char *proc_root, const char *netns_dir,
	       const char *self_path, uint32_t only, netns_visit_cb cb,
	       void *ctx, struct netns_walk_stats *st);

/*
 * The same walk as an iterator, for a caller with work to do between two
 * namespaces: init (0 or -errno), then next until it returns 0 (the end)
 * or -errno (proc_root cannot be read, -ENOMEM); each 1 hands over a
 * namespace's inode and descriptor, which the caller closes, and whose
 * outcome it reports with netns_iter_result (0 or -errno, counted in
 * it->st). free in any case.
 */
struct netns_iter {
	struct netns_set s;
	struct netns_walk_stats st;
	const char *proc_root, *netns_dir;
	DIR *d;			/* the directory being read */
	int phase;		/* proc_root, netns_dir, done */
	bool inited;
};

int netns_iter_init(struct netns_iter *it, const char *proc_root,
		    const char *netns_dir, const char *self_path, uint32_t only);
int netns_iter_next(struct netns_iter *it, uint32_t *ino, int *fd);
void netns_iter_result(struct netns_iter *it, uint32_t ino, int err);
void netns_iter_free(struct netns_iter *it);

/*
 * Does a namespace hold TCP sockets? A sock_diag dump walks the kernel's
 * whole socket table (namespaces share it unless tcp_child_ehash_entries
 * is set), whatever the namespace holds, so an empty namespace is worth
 * telling apart first. From the text of its /proc/net/sockstat ("TCP:
 * inuse N orphan O tw T ...": hashed sockets and timewait minisockets) and
 * sockstat6 ("TCP6: inuse M"; NULL when IPv6 is off): 0 when N, T and M
 * are all 0 (nothing to dump), 1 when some are not, -1 when the text does
 * not say (dump to know). On kernels where tw counts the whole host it is
 * never 0 there: no harm, the dump is made.
 */
int netns_tcp_in_use(const char *sockstat, const char *sockstat6);
/* The same for the namespace the calling thread is in, read from /proc. */
int netns_tcp_in_use_here(void);

/*
 * What a --netns argument names, the same in every command: a name under
 * /run/netns (what `ip netns add` makes, ss -N's NAME), a path (with a
 * '/'), a pid (a number up to PID_MAX_LIMIT: its /proc/PID/ns/net) or a
 * namespace inode (nsfs inodes: init_net 0xEFFFFFF9, others from 0xF0000000).
 */
enum netns_spec_kind {
	NETNS_SPEC_NAME,
	NETNS_SPEC_PATH,
	NETNS_SPEC_PID,
	NETNS_SPEC_INODE,
};
#define NETNS_PID_MAX 4194304u		/* PID_MAX_LIMIT */
#define NETNS_INODE_MIN 0xEFFFFF00u	/* below PROC_NET_INIT_INO, 0xEFFFFFF9 */

/*
 * Pure: classify spec. *num gets the pid or the inode. Returns 0, or
 * -EINVAL (empty, ".", "..", a number that is neither pid nor inode).
 */
int netns_spec_parse(const char *spec, enum netns_spec_kind *kind,
		     uint64_t *num);
/*
 * The file that a NAME, PATH or PID spec names ("/run/netns/NAME",
 * "/proc/PID/ns/net", the path itself), in buf; -EINVAL for an inode or a
 * bad spec, -ENAMETOOLONG.
 */
int netns_spec_path(const char *spec, char *buf, size_t len);
/*
 * The inode of the namespace spec names (an inode as given; a file is
 * stat'ed, and must be a network namespace). Returns 0, -EINVAL (bad
 * spec), -ENOTTY (the file is no network namespace) or the -errno of
 * open/stat (-ENOENT: no such name, path or process).
 */
int netns_spec_inode(const char *spec, uint32_t *inode);

#endif
