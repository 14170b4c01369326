// SPDX-License-Identifier: GPL-2.0 OR BSD-2-Clause
/* outfile_create: never through a symlink, never into an existing file. */
#include <errno.h>
#include <fcntl.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <sys/stat.h>
#include <cmocka.h>
#include "outfile.h"

static char tmpdir[] = "/tmp/test_outfile.XXXXXX";

static const char *tmp_path(const char *name)
{
	static char path[2][256];
	static int i;

	i ^= 1;
	snprintf(path[i], sizeof(path[i]), "%s/%s", tmpdir, name);
	return path[i];
}

static void put(const char *path, const char *text)
{
	FILE *f = fopen(path, "w");

	assert_non_null(f);
	fputs(text, f);
	assert_int_equal(fclose(f), 0);
}

static void expect(const char *path, const char *text)
{
	char buf[64] = "";
	FILE *f = fopen(path, "r");

	assert_non_null(f);
	if (!fgets(buf, sizeof(buf), f))
		buf[0] = '\0';
	fclose(f);
	assert_string_equal(buf, text);
}

static void test_new_file_is_0600(void **state)
{
	struct stat st;
	mode_t old = umask(0);
	int fd = outfile_create(tmp_path("new"), false);

	umask(old);
	assert_true(fd >= 0);
	assert_int_equal(fstat(fd, &st), 0);
	assert_int_equal(st.st_mode & 07777, 0600);
	close(fd);
}

static void test_existing_file_refused(void **state)
{
	put(tmp_path("old"), "theirs");
	assert_int_equal(outfile_create(tmp_path("old"), false), -EEXIST);
	expect(tmp_path("old"), "theirs");
}

static void test_symlink_never_followed(void **state)
{
	put(tmp_path("target"), "secret");
	assert_int_equal(symlink(tmp_path("target"), tmp_path("link")), 0);
	assert_int_equal(outfile_create(tmp_path("link"), false), -EEXIST);
	/* a dangling one would be created through: refused too */
	assert_int_equal(symlink(tmp_path("nowhere"), tmp_path("dangling")), 0);
	assert_int_equal(outfile_create(tmp_path("dangling"), false), -EEXIST);
	assert_int_equal(access(tmp_path("nowhere"), F_OK), -1);
	expect(tmp_path("target"), "secret");
}

static void test_force_replaces_the_name_only(void **state)
{
	struct stat st;
	int fd;

	put(tmp_path("ftarget"), "secret");
	assert_int_equal(symlink(tmp_path("ftarget"), tmp_path("flink")), 0);
	fd = outfile_create(tmp_path("flink"), true);
	assert_true(fd >= 0);
	assert_int_equal(write(fd, "ours", 4), 4);
	close(fd);
	expect(tmp_path("ftarget"), "secret");	/* the target untouched */
	assert_int_equal(lstat(tmp_path("flink"), &st), 0);
	assert_true(S_ISREG(st.st_mode));	/* the link replaced by a file */
	assert_int_equal(st.st_mode & 0077, 0);
	expect(tmp_path("flink"), "ours");

	put(tmp_path("fold"), "theirs");
	assert_int_equal(chmod(tmp_path("fold"), 0666), 0);
	fd = outfile_create(tmp_path("fold"), true);
	assert_true(fd >= 0);
	assert_int_equal(fstat(fd, &st), 0);
	assert_int_equal(st.st_mode & 0077, 0);
	close(fd);
	expect(tmp_path("fold"), "");
}

static void test_force_into_missing_dir(void **state)
{
	assert_int_equal(outfile_create(tmp_path("no/such"), true), -ENOENT);
	assert_int_equal(outfile_create(tmp_path("no/such"), false), -ENOENT);
	assert_int_equal(outfile_create("", false), -ENOENT);
}

static int setup(void **state)
{
	return mkdtemp(tmpdir) ? 0 : -1;
}

static int teardown(void **state)
{
	char cmd[300];

	snprintf(cmd, sizeof(cmd), "rm -rf '%s'", tmpdir);
	return system(cmd) ? -1 : 0;
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_new_file_is_0600),
		cmocka_unit_test(test_existing_file_refused),
		cmocka_unit_test(test_symlink_never_followed),
		cmocka_unit_test(test_force_replaces_the_name_only),
		cmocka_unit_test(test_force_into_missing_dir),
	};

	return cmocka_run_group_tests(tests, setup, teardown);
}
