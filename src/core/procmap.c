// SPDX-License-Identifier: GPL-2.0 OR BSD-2-Clause
/* Socket inode -> owning process, one /proc scan per call. See procmap.h. */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include "array.h"
#include "procmap.h"

static int add(struct procmap *pm, uint32_t inode, uint32_t pid,
	       const char *comm)
{
	uint64_t *idx = u64map_get(&pm->index, inode);
	struct procmap_owner *o;
	int ret;

	if (idx) {
		o = &pm->owners[*idx];
		/* the same socket in several fds of one process counts once */
		if (o->pid != pid) {
			o->nprocs++;
			if (pid < o->pid) {
				o->pid = pid;
				memcpy(o->comm, comm, sizeof(o->comm));
			}
		}
		return 0;
	}
	if (ARRAY_GROW(pm->owners, pm->nused, pm->cap, 1024))
		return -ENOMEM;
	ret = u64map_put(&pm->index, inode, pm->nused);
	if (ret)
		return ret;
	o = &pm->owners[pm->nused++];
	o->inode = inode;
	o->pid = pid;
	o->nprocs = 1;
	memcpy(o->comm, comm, sizeof(o->comm));
	return 0;
}

static bool parse_pid(const char *s, uint32_t *pid)
{
	uint64_t v = 0;

	if (!*s)
		return false;
	for (; *s; s++) {
		if (*s < '0' || *s > '9')
			return false;
		v = v * 10 + (uint64_t)(*s - '0');
		if (v > UINT32_MAX)
			return false;
	}
	*pid = (uint32_t)v;
	return true;
}

/* "socket:[12345]" -> 12345 */
static bool parse_socket_link(const char *s, size_t n, uint32_t *inode)
{
	uint64_t v = 0;
	size_t i;

	if (n < 10 || memcmp(s, "socket:[", 8) || s[n - 1] != ']')
		return false;
	for (i = 8; i < n - 1; i++) {
		if (s[i] < '0' || s[i] > '9')
			return false;
		v = v * 10 + (uint64_t)(s[i] - '0');
		if (v > UINT32_MAX)
			return false;
	}
	*inode = (uint32_t)v;
	return v != 0;
}

static void read_comm(int pidfd, char comm[TCPFSM_COMM_LEN])
{
	int fd = openat(pidfd, "comm", O_RDONLY | O_CLOEXEC);
	ssize_t n = -1;

	memset(comm, 0, TCPFSM_COMM_LEN);
	if (fd >= 0) {
		n = read(fd, comm, TCPFSM_COMM_LEN - 1);
		close(fd);
	}
	if (n <= 0) {
		strcpy(comm, "?");
		return;
	}
	comm[n] = '\0';
	if (comm[n - 1] == '\n')
		comm[n - 1] = '\0';
}

static int scan_pid(struct procmap *pm, int rootfd, const char *name,
		    uint32_t pid)
{
	char comm[TCPFSM_COMM_LEN];
	bool have_comm = false;
	struct dirent *de;
	int pidfd, fdfd, ret = 0;
	DIR *d;

	pidfd = openat(rootfd, name, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	if (pidfd < 0)
		return 0;	/* gone */
	fdfd = openat(pidfd, "fd", O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	if (fdfd < 0) {
		if (errno == EACCES || errno == EPERM)
			pm->nprocs_denied++;
		goto out_pid;
	}
	d = fdopendir(fdfd);
	if (!d) {
		close(fdfd);
		goto out_pid;
	}
	pm->nprocs_scanned++;
	while ((de = readdir(d))) {
		char link[64];
		uint32_t inode;
		ssize_t n;

		if (de->d_name[0] == '.')
			continue;
		n = readlinkat(fdfd, de->d_name, link, sizeof(link));
		if (n <= 0 || n == (ssize_t)sizeof(link) ||
		    !parse_socket_link(link, (size_t)n, &inode))
			continue;
		if (!have_comm) {
			read_comm(pidfd, comm);
			have_comm = true;
		}
		ret = add(pm, inode, pid, comm);
		if (ret)
			break;
	}
	closedir(d);
out_pid:
	close(pidfd);
	return ret;
}

int procmap_scan(struct procmap *pm, const char *proc_root)
{
	struct dirent *de;
	int rootfd, ret = 0;
	DIR *d;

	if (pm->index.slots) {
		u64map_clear(&pm->index);
	} else {
		memset(pm, 0, sizeof(*pm));
		if (u64map_init(&pm->index, 1024, SIZE_MAX))
			return -ENOMEM;
	}
	pm->nused = 0;
	pm->nprocs_scanned = pm->nprocs_denied = 0;

	d = opendir(proc_root); /* O_CLOEXEC, as glibc opens it */
	if (!d)
		return -errno;
	rootfd = dirfd(d);
	while ((de = readdir(d))) {
		uint32_t pid;

		if (!parse_pid(de->d_name, &pid))
			continue;
		ret = scan_pid(pm, rootfd, de->d_name, pid);
		if (ret)
			break;
	}
	closedir(d);
	return ret;
}

const struct procmap_owner *procmap_lookup(const struct procmap *pm,
					   uint32_t inode)
{
	const uint64_t *idx;

	if (!pm->nused)
		return NULL;
	idx = u64map_get(&pm->index, inode);
	return idx ? &pm->owners[*idx] : NULL;
}

void procmap_free(struct procmap *pm)
{
	free(pm->owners);
	u64map_free(&pm->index);
	memset(pm, 0, sizeof(*pm));
}
