/* SPDX-License-Identifier: GPL-2.0 OR BSD-2-Clause */
/*
 * A scratch directory tree standing in for /proc, /run/netns or a cgroup2
 * mount, shared by the unit tests that walk one (test_cgpath, test_netns,
 * test_procmap). fs_make_root() makes /tmp/tcpfsm-NAME-XXXXXX (in root);
 * paths are relative to it, with or without a leading '/'; fs_remove_root()
 * deletes it. Include after <cmocka.h>: failures are cmocka assertions.
 */
#ifndef TCPFSM_TESTS_FSFIXTURE_H
#define TCPFSM_TESTS_FSFIXTURE_H

#include <stdio.h>
#include <stdlib.h>
#include <unistd.h>
#include <sys/stat.h>

static char root[64];

/* root/rel, in one of four buffers used in turn: up to four live at once */
static inline char *at(const char *rel)
{
	static char path[4][512];
	static int n;
	char *p = path[n++ % 4];

	snprintf(p, sizeof(path[0]), "%s%s%s", root, rel[0] == '/' ? "" : "/",
		 rel);
	return p;
}

static inline int fs_make_root(const char *name)
{
	snprintf(root, sizeof(root), "/tmp/tcpfsm-%s-XXXXXX", name);
	return mkdtemp(root) ? 0 : -1;
}

static inline int fs_remove_root(void)
{
	char cmd[128];

	snprintf(cmd, sizeof(cmd), "rm -rf '%s'", root);
	return system(cmd) == 0 ? 0 : -1;
}

/* one directory (its parent must exist) */
static inline void mkdirs(const char *rel)
{
	assert_int_equal(mkdir(at(rel), 0755), 0);
}

/* rel -> target, target as given (not made relative to root) */
static inline void mklink(const char *target, const char *rel)
{
	assert_int_equal(symlink(target, at(rel)), 0);
}

#endif
