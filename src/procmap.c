// SPDX-License-Identifier: GPL-2.0 OR BSD-2-Clause
/* Socket inode -> owning process, one /proc scan per call. See procmap.h. */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include "procmap.h"

static size_t slot_of(uint32_t inode, size_t nslots)
{
	return (size_t)((inode * 2654435761u) & (nslots - 1));
}

static int grow(struct procmap *pm)
{
	size_t n = pm->nslots ? pm->nslots * 2 : 1024, i;
	struct procmap_owner *slots = calloc(n, sizeof(*slots));

	if (!slots)
		return -ENOMEM;
	for (i = 0; i < pm->nslots; i++) {
		const struct procmap_owner *o = &pm->slots[i];
		size_t j;

		if (!o->inode)
			continue;
		for (j = slot_of(o->inode, n); slots[j].inode;)
			j = (j + 1) & (n - 1);
		slots[j] = *o;
	}
	free(pm->slots);
	pm->slots = slots;
	pm->nslots = n;
	return 0;
}

static int add(struct procmap *pm, uint32_t inode, uint32_t pid,
	       const char *comm)
{
	struct procmap_owner *o;
	size_t i;

	if (2 * (pm->nused + 1) > pm->nslots) {
		int ret = grow(pm);

		if (ret)
			return ret;
	}
	for (i = slot_of(inode, pm->nslots); pm->slots[i].inode;
	     i = (i + 1) & (pm->nslots - 1)) {
		o = &pm->slots[i];
		if (o->inode != inode)
			continue;
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
	o = &pm->slots[i];
	o->inode = inode;
	o->pid = pid;
	o->nprocs = 1;
	memcpy(o->comm, comm, sizeof(o->comm));
	pm->nused++;
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

	if (pm->slots)
		memset(pm->slots, 0, pm->nslots * sizeof(*pm->slots));
	else
		memset(pm, 0, sizeof(*pm));
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
	size_t i;

	if (!inode || !pm->nslots)
		return NULL;
	for (i = slot_of(inode, pm->nslots); pm->slots[i].inode;
	     i = (i + 1) & (pm->nslots - 1))
		if (pm->slots[i].inode == inode)
			return &pm->slots[i];
	return NULL;
}

void procmap_free(struct procmap *pm)
{
	free(pm->slots);
	memset(pm, 0, sizeof(*pm));
}
