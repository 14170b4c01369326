// SPDX-License-Identifier: GPL-2.0 OR BSD-2-Clause
/* The host's network namespaces, each visited once. See netns.h. */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <sched.h>
#include <sys/ioctl.h>
#include <sys/stat.h>
#include <linux/nsfs.h>
#include "netns.h"

/* Namespaces on a host: a few, or thousands of containers; grows past it. */
#define NETNS_SET_INITIAL 64

int netns_set_init(struct netns_set *s, uint64_t dev, uint32_t self,
		   uint32_t only)
{
	memset(s, 0, sizeof(*s));
	s->dev = dev;
	s->self = self;
	s->only = only;
	return u64map_init(&s->seen, NETNS_SET_INITIAL, SIZE_MAX);
}

void netns_set_free(struct netns_set *s)
{
	u64map_free(&s->seen);
}

enum netns_verdict netns_set_judge(const struct netns_set *s, uint64_t dev,
				   uint64_t ino)
{
	/* nsfs inodes are 32-bit (ns_common.inum), as the records carry them */
	if (dev != s->dev || !ino || ino > UINT32_MAX)
		return NETNS_NOT_NS;
	if (ino == s->self)
		return NETNS_SELF;
	if (s->only && ino != s->only)
		return NETNS_FILTERED;
	if (u64map_get(&s->seen, ino))
		return NETNS_SEEN;
	return NETNS_VISIT;
}

int netns_set_mark(struct netns_set *s, uint32_t ino)
{
	return u64map_put(&s->seen, ino, 1);
}

bool netns_set_complete(const struct netns_set *s)
{
	return s->only && u64map_get(&s->seen, s->only);
}

static void note_failure(struct netns_walk_stats *st, uint32_t ino, int err)
{
	if (!st->failed++) {
		st->first_failed = ino;
		st->first_err = err;
	}
}

/*
 * One candidate file: dirfd/name. Returns 1 with *ino and *fd (the
 * namespace opened, marked visited), 0 (skipped, or failed: see st), or
 * -ENOMEM.
 */
static int open_candidate(struct netns_set *s, int dirfd, const char *name,
			  struct netns_walk_stats *st, uint32_t *ino, int *fd)
{
	struct stat before, now;
	int ret;

	/* stat first: the common case, a namespace seen already, opens nothing */
	if (fstatat(dirfd, name, &before, 0))
		return 0;	/* gone, a zombie, or not ours to look at */
	if (netns_set_judge(s, before.st_dev, before.st_ino) != NETNS_VISIT)
		return 0;
	*ino = (uint32_t)before.st_ino;
	*fd = openat(dirfd, name, O_RDONLY | O_CLOEXEC);
	if (*fd < 0) {
		ret = -errno;
		if (ret == -ENOENT || ret == -ESRCH)
			return 0;	/* exited since: another may lead there */
		note_failure(st, *ino, ret);
		return netns_set_mark(s, *ino);
	}
	/* the pid may have been reused in between: trust what is open */
	if (fstat(*fd, &now) || now.st_dev != before.st_dev ||
	    now.st_ino != before.st_ino) {
		close(*fd);
		return 0;
	}
	ret = netns_set_mark(s, *ino);
	if (ret) {
		close(*fd);
		return ret;
	}
	return 1;
}

enum { PHASE_PROC, PHASE_DIR, PHASE_DONE };

int netns_iter_init(struct netns_iter *it, const char *proc_root,
		    const char *netns_dir, const char *self_path, uint32_t only)
{
	struct stat self;
	int ret;

	memset(it, 0, sizeof(*it));
	it->proc_root = proc_root;
	it->netns_dir = netns_dir;
	if (stat(self_path, &self))
		return -errno;
	ret = netns_set_init(&it->s, self.st_dev, (uint32_t)self.st_ino, only);
	if (ret)
		return ret;
	it->inited = true;
	/* the caller reads its own */
	it->phase = only == (uint32_t)self.st_ino ? PHASE_DONE : PHASE_PROC;
	return 0;
}

int netns_iter_next(struct netns_iter *it, uint32_t *ino, int *fd)
{
	struct dirent *de;
	int ret;

	for (;;) {
		if (it->phase == PHASE_DONE)
			return 0;
		if (!it->d) {
			const char *dir = it->phase == PHASE_PROC ? it->proc_root :
					  it->netns_dir;

			if (!dir) {
				it->phase = PHASE_DONE;
				continue;
			}
			it->d = opendir(dir); /* O_CLOEXEC, as glibc opens it */
			if (!it->d) {
				ret = -errno;
				it->phase = PHASE_DONE;
				/* no `ip netns` namespaces: not an error */
				return dir == it->proc_root ? ret : 0;
			}
		}
		if (netns_set_complete(&it->s) || !(de = readdir(it->d))) {
			closedir(it->d);
			it->d = NULL;
			it->phase = netns_set_complete(&it->s) ? PHASE_DONE : it->phase + 1;
			continue;
		}
		if (it->phase == PHASE_PROC) {
			char name[sizeof(de->d_name) + sizeof("/ns/net")];
			const char *c = de->d_name;

			while (*c >= '0' && *c <= '9')
				c++;
			if (*c || c == de->d_name)
				continue;	/* not a pid */
			snprintf(name, sizeof(name), "%s/ns/net", de->d_name);
			ret = open_candidate(&it->s, dirfd(it->d), name, &it->st, ino, fd);
		} else {
			if (de->d_name[0] == '.')
				continue;
			ret = open_candidate(&it->s, dirfd(it->d), de->d_name, &it->st,
					     ino, fd);
		}
		if (ret)
			return ret;
	}
}

void netns_iter_result(struct netns_iter *it, uint32_t ino, int err)
{
	if (err)
		note_failure(&it->st, ino, err);
	else
		it->st.visited++;
}

void netns_iter_free(struct netns_iter *it)
{
	if (it->d)
		closedir(it->d);
	it->d = NULL;
	if (it->inited)
		netns_set_free(&it->s);
	it->inited = false;
}

int netns_walk(const char *proc_root, const char *netns_dir,
	       const char *self_path, uint32_t only, netns_visit_cb cb,
	       void *ctx, struct netns_walk_stats *st)
{
	struct netns_iter it;
	uint32_t ino;
	int ret, fd;

	ret = netns_iter_init(&it, proc_root, netns_dir, self_path, only);
	while (!ret && (ret = netns_iter_next(&it, &ino, &fd)) == 1) {
		ret = cb(ctx, ino, fd);
		close(fd);
		if (ret == NETNS_WALK_STOP)
			break;
		netns_iter_result(&it, ino, ret);
		ret = 0;
	}
	*st = it.st;
	netns_iter_free(&it);
	return ret;
}

/* The unsigned value after " key " in the line starting with prefix. */
static bool stat_field(const char *text, const char *prefix, const char *key,
		       unsigned long long *v)
{
	size_t plen = strlen(prefix), klen = strlen(key);
	const char *line = text, *p;
	char *end;

	while (line && strncmp(line, prefix, plen)) {
		line = strchr(line, '\n');
		if (line)
			line++;
	}
	if (!line)
		return false;
	for (p = line + plen; *p && *p != '\n'; p++) {
		if (p[-1] != ' ' || strncmp(p, key, klen) || p[klen] != ' ')
			continue;
		if (p[klen + 1] < '0' || p[klen + 1] > '9')
			return false;
		errno = 0;
		*v = strtoull(p + klen + 1, &end, 10);
		return !errno && (*end == ' ' || *end == '\n' || !*end);
	}
	return false;
}

int netns_tcp_in_use(const char *sockstat, const char *sockstat6)
{
	unsigned long long inuse, tw, inuse6 = 0;

	if (!stat_field(sockstat, "TCP: ", "inuse", &inuse) ||
	    !stat_field(sockstat, "TCP: ", "tw", &tw))
		return -1;
	if (sockstat6 && !stat_field(sockstat6, "TCP6: ", "inuse", &inuse6))
		return -1;
	return inuse || tw || inuse6;
}

/* Read a small /proc file whole; false if it cannot be read. */
static bool read_text(const char *path, char *buf, size_t len, bool *missing)
{
	int fd = open(path, O_RDONLY | O_CLOEXEC);
	size_t got = 0;
	ssize_t n;

	*missing = fd < 0 && errno == ENOENT;
	if (fd < 0)
		return false;
	while (got < len - 1 && (n = read(fd, buf + got, len - 1 - got)) > 0)
		got += (size_t)n;
	close(fd);
	buf[got] = '\0';
	return got > 0;
}

int netns_tcp_in_use_here(void)
{
	char v4[1024], v6[512];
	bool missing, have6;

	/* thread-self: the calling thread's namespace, not the process's */
	if (!read_text("/proc/thread-self/net/sockstat", v4, sizeof(v4), &missing))
		return -1;
	have6 = read_text("/proc/thread-self/net/sockstat6", v6, sizeof(v6), &missing);
	if (!have6 && !missing)
		return -1;
	return netns_tcp_in_use(v4, have6 ? v6 : NULL);
}

int netns_spec_parse(const char *spec, enum netns_spec_kind *kind,
		     uint64_t *num)
{
	const char *p = spec;
	uint64_t v = 0;

	*num = 0;
	if (!spec || !*spec || !strcmp(spec, ".") || !strcmp(spec, ".."))
		return -EINVAL;
	if (strchr(spec, '/')) {
		*kind = NETNS_SPEC_PATH;
		return 0;
	}
	for (; *p >= '0' && *p <= '9'; p++) {
		v = v * 10 + (uint64_t)(*p - '0');
		if (v > UINT32_MAX)
			return -EINVAL;
	}
	if (*p || p == spec) {
		*kind = NETNS_SPEC_NAME;
		return 0;
	}
	if (v >= 1 && v <= NETNS_PID_MAX)
		*kind = NETNS_SPEC_PID;
	else if (v >= NETNS_INODE_MIN)
		*kind = NETNS_SPEC_INODE;
	else
		return -EINVAL;
	*num = v;
	return 0;
}

int netns_spec_path(const char *spec, char *buf, size_t len)
{
	enum netns_spec_kind kind;
	uint64_t num;
	int n;

	if (netns_spec_parse(spec, &kind, &num))
		return -EINVAL;
	switch (kind) {
	case NETNS_SPEC_NAME:
		n = snprintf(buf, len, "/run/netns/%s", spec);
		break;
	case NETNS_SPEC_PATH:
		n = snprintf(buf, len, "%s", spec);
		break;
	case NETNS_SPEC_PID:
		n = snprintf(buf, len, "/proc/%llu/ns/net", (unsigned long long)num);
		break;
	default:
		return -EINVAL;
	}
	return n < 0 || (size_t)n >= len ? -ENAMETOOLONG : 0;
}

int netns_spec_inode(const char *spec, uint32_t *inode)
{
	enum netns_spec_kind kind;
	char path[4096];
	struct stat st;
	uint64_t num;
	int fd, err = 0;

	if (netns_spec_parse(spec, &kind, &num))
		return -EINVAL;
	if (kind == NETNS_SPEC_INODE) {
		*inode = (uint32_t)num;
		return 0;
	}
	err = netns_spec_path(spec, path, sizeof(path));
	if (err)
		return err;
	fd = open(path, O_RDONLY | O_CLOEXEC);
	if (fd < 0)
		return -errno;
	if (ioctl(fd, NS_GET_NSTYPE) != CLONE_NEWNET)
		err = -ENOTTY;
	else if (fstat(fd, &st))
		err = -errno;
	else
		*inode = (uint32_t)st.st_ino;
	close(fd);
	return err;
}
