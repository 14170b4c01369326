// SPDX-License-Identifier: GPL-2.0 OR BSD-2-Clause
/* Inode -> owner: on a fake /proc tree, and on the real one for our own socket. */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include "procmap.h"
#include "fsfixture.h"

static void mkfile(const char *rel, const char *text)
{
	FILE *f;

	f = fopen(at(rel), "w");
	assert_non_null(f);
	fputs(text, f);
	fclose(f);
}

static int setup(void **state)
{
	if (fs_make_root("procmap"))
		return -1;
	mkdirs("300");
	mkfile("300/comm", "nginx\n");
	mkdirs("300/fd");
	mklink("socket:[1234]", "300/fd/3");
	mklink("socket:[1234]", "300/fd/9");	/* same socket twice */
	mklink("/dev/null", "300/fd/4");
	mklink("socket:[99999]", "300/fd/5");
	mklink("pipe:[55]", "300/fd/6");
	mklink("socket:[]", "300/fd/7");
	mklink("socket:[12x]", "300/fd/8");
	mkdirs("200");
	mkfile("200/comm", "a-very-long-name-cut\n");
	mkdirs("200/fd");
	mklink("socket:[1234]", "200/fd/0");	/* shared after fork */
	mkdirs("400");				/* no fd dir: skipped */
	mkfile("400/comm", "kthread\n");
	mkdirs("self");				/* not a pid */
	mkdirs("self/fd");
	mklink("socket:[777]", "self/fd/1");
	mkfile("uptime", "1 1\n");
	return 0;
}

static int teardown(void **state)
{
	return fs_remove_root();
}

static void test_fake_proc(void **state)
{
	struct procmap pm = { 0 };
	const struct procmap_owner *o;
	int i;

	for (i = 0; i < 2; i++) {	/* a rescan reuses the table */
		assert_int_equal(procmap_scan(&pm, root), 0);
		assert_int_equal(pm.nused, 2);
		o = procmap_lookup(&pm, 1234);
		assert_non_null(o);
		assert_int_equal(o->pid, 200);	/* the lowest pid */
		assert_int_equal(o->nprocs, 2);
		assert_string_equal(o->comm, "a-very-long-nam");
		o = procmap_lookup(&pm, 99999);
		assert_non_null(o);
		assert_int_equal(o->pid, 300);
		assert_int_equal(o->nprocs, 1);
		assert_string_equal(o->comm, "nginx");
		assert_null(procmap_lookup(&pm, 777));
		assert_null(procmap_lookup(&pm, 0));
		assert_null(procmap_lookup(&pm, 55));
	}
	procmap_free(&pm);
	assert_null(procmap_lookup(&pm, 1234));
	assert_int_equal(procmap_scan(&pm, "/nonexistent/proc"), -ENOENT);
	procmap_free(&pm);
}

static void test_real_proc_finds_our_socket(void **state)
{
	struct procmap pm = { 0 };
	const struct procmap_owner *o;
	struct stat st;
	int fds[200], i;

	for (i = 0; i < 200; i++) {	/* enough to grow the table */
		fds[i] = socket(AF_INET, SOCK_STREAM, 0);
		assert_true(fds[i] >= 0);
	}
	assert_int_equal(procmap_scan(&pm, "/proc"), 0);
	for (i = 0; i < 200; i++) {
		assert_int_equal(fstat(fds[i], &st), 0);
		o = procmap_lookup(&pm, (uint32_t)st.st_ino);
		assert_non_null(o);
		assert_int_equal(o->pid, (uint32_t)getpid());
		assert_string_equal(o->comm, "test_procmap");
		close(fds[i]);
	}
	procmap_free(&pm);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_fake_proc),
		cmocka_unit_test(test_real_proc_finds_our_socket),
	};

	return cmocka_run_group_tests(tests, setup, teardown);
}
