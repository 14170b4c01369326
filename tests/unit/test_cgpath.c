// SPDX-License-Identifier: GPL-2.0 OR BSD-2-Clause
/* cgroup id -> path over a fake tree: a directory's inode number is its id. */
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
#include <sys/stat.h>
#include "cgpath.h"
#include "fsfixture.h"

#define SEC 1000000000ull

static uint64_t id_of(const char *rel)
{
	struct stat st;

	assert_int_equal(stat(at(rel), &st), 0);
	return st.st_ino;
}

static void touch(const char *rel)
{
	int fd = open(at(rel), O_CREAT | O_WRONLY, 0644);

	assert_true(fd >= 0);
	close(fd);
}

static void rm_rf(const char *rel)
{
	char cmd[600];

	snprintf(cmd, sizeof(cmd), "rm -rf '%s'", at(rel));
	assert_int_equal(system(cmd), 0);
}

static int setup(void **state)
{
	if (fs_make_root("cgpath"))
		return -1;
	mkdirs("/system.slice");
	mkdirs("/system.slice/ssh.service");
	touch("/system.slice/ssh.service/cgroup.procs");
	mkdirs("/user.slice");
	touch("/cgroup.procs");
	/* files and links are not cgroups */
	mklink("system.slice", "/link");
	return 0;
}

static int teardown(void **state)
{
	return fs_remove_root();
}

/*
 * The cgroups setup() made, resolved by a cgpath over root whose mount
 * shows the hierarchy at prefix (cgpath_init's; NULL or "/": the whole of
 * it), named as in the hierarchy: shown ("" for the whole) in front. The
 * cgpath is left open for more checks.
 */
static void check_tree(struct cgpath *cg, const char *prefix, const char *shown)
{
	static const char *const dirs[] = { "/system.slice/ssh.service",
					    "/system.slice", "/user.slice" };
	char want[256];
	size_t i;

	assert_int_equal(cgpath_init(cg, root, prefix, NULL), 0);
	assert_string_equal(cgpath_lookup(cg, id_of(""), 0), *shown ? shown : "/");
	for (i = 0; i < sizeof(dirs) / sizeof(dirs[0]); i++) {
		snprintf(want, sizeof(want), "%s%s", shown, dirs[i]);
		assert_string_equal(cgpath_lookup(cg, id_of(dirs[i]), 0), want);
	}
}

static void test_resolves(void **state)
{
	struct cgpath cg;

	check_tree(&cg, NULL, "");
	/* neither a file nor a symlink to a directory is a cgroup */
	assert_null(cgpath_lookup(&cg, id_of("/cgroup.procs"), 5 * SEC));
	assert_null(cgpath_lookup(&cg, 0, 10 * SEC));
	assert_int_equal(cg.st.dirs, 4);
	assert_false(cg.st.incomplete);
	cgpath_free(&cg);
}

/* Each id is resolved once: later lookups need no walk, even of a tree gone. */
static void test_caches(void **state)
{
	struct cgpath cg;
	uint64_t id;

	mkdirs("/gone");
	id = id_of("/gone");
	assert_int_equal(cgpath_init(&cg, root, NULL, NULL), 0);
	assert_int_equal(cg.st.scans, 0);	/* nothing read before a lookup */
	assert_string_equal(cgpath_lookup(&cg, id, 0), "/gone");
	assert_int_equal(cg.st.scans, 1);
	assert_int_equal(rmdir(at("/gone")), 0);
	assert_string_equal(cgpath_lookup(&cg, id, 10 * SEC), "/gone");
	assert_string_equal(cgpath_lookup(&cg, id_of("/user.slice"), 20 * SEC),
			    "/user.slice");
	assert_int_equal(cg.st.scans, 1);
	cgpath_free(&cg);
}

/* A cgroup made after the first walk is found by a later one, rate-limited. */
static void test_rescans_on_miss(void **state)
{
	struct cgpath cg;
	uint64_t id;

	assert_int_equal(cgpath_init(&cg, root, NULL, NULL), 0);
	assert_non_null(cgpath_lookup(&cg, id_of("/user.slice"), 100 * SEC));
	mkdirs("/user.slice/user-1000.slice");
	id = id_of("/user.slice/user-1000.slice");
	/* within a second of the last walk: no walk, not yet */
	assert_null(cgpath_lookup(&cg, id, 100 * SEC + SEC / 2));
	assert_null(cgpath_lookup(&cg, id, 100 * SEC + SEC - 1));
	assert_int_equal(cg.st.scans, 1);
	assert_string_equal(cgpath_lookup(&cg, id, 101 * SEC),
			    "/user.slice/user-1000.slice");
	assert_int_equal(cg.st.scans, 2);
	cgpath_free(&cg);
	assert_int_equal(rmdir(at("/user.slice/user-1000.slice")), 0);
}

/* Unknown after a complete walk: unresolvable for good, never walked again. */
static void test_unknown_id(void **state)
{
	const uint64_t unknown = 0xfffffffffffffff0ull;
	struct cgpath cg;
	int i;

	assert_int_equal(cgpath_init(&cg, root, NULL, NULL), 0);
	assert_null(cgpath_lookup(&cg, unknown, 0));
	assert_int_equal(cg.st.scans, 1);
	for (i = 1; i <= 5; i++)
		assert_null(cgpath_lookup(&cg, unknown, i * 10 * SEC));
	assert_int_equal(cg.st.scans, 1);
	/* a different unknown id costs one more walk, once */
	assert_null(cgpath_lookup(&cg, unknown + 1, 100 * SEC));
	assert_null(cgpath_lookup(&cg, unknown + 1, 200 * SEC));
	assert_int_equal(cg.st.scans, 2);
	/* ids the walks found still resolve */
	assert_string_equal(cgpath_lookup(&cg, id_of("/system.slice"), 300 * SEC),
			    "/system.slice");
	cgpath_free(&cg);
}

/* The walk stopped at max_dirs: a miss is not final, and says so. */
static void test_max_dirs(void **state)
{
	struct cgpath_limits lim;
	struct cgpath cg;
	uint64_t id = id_of("/user.slice");

	cgpath_limits_default(&lim);
	lim.max_dirs = 2;
	assert_int_equal(cgpath_init(&cg, root, NULL, &lim), 0);
	assert_int_equal(cgpath_scan(&cg), -E2BIG);
	assert_true(cg.st.incomplete);
	assert_int_equal(cg.st.dirs, 2);
	cgpath_free(&cg);
	/* with room, the same tree is complete */
	lim.max_dirs = 4;
	assert_int_equal(cgpath_init(&cg, root, NULL, &lim), 0);
	assert_int_equal(cgpath_scan(&cg), 0);
	assert_string_equal(cgpath_lookup(&cg, id, 0), "/user.slice");
	cgpath_free(&cg);
}

static void test_deep_paths(void **state)
{
	struct cgpath_limits lim;
	char rel[256] = "";
	uint64_t ids[12];
	struct cgpath cg;
	int i;

	for (i = 0; i < 12; i++) {
		snprintf(rel + strlen(rel), sizeof(rel) - strlen(rel), "/d%d", i + 1);
		mkdirs(rel);
		ids[i] = id_of(rel);
	}
	assert_int_equal(cgpath_init(&cg, root, NULL, NULL), 0);
	assert_string_equal(cgpath_lookup(&cg, ids[11], 0),
			    "/d1/d2/d3/d4/d5/d6/d7/d8/d9/d10/d11/d12");
	assert_string_equal(cgpath_lookup(&cg, ids[2], 0), "/d1/d2/d3");
	cgpath_free(&cg);

	/* levels below max_depth are not walked: counted, and not resolved */
	cgpath_limits_default(&lim);
	lim.max_depth = 5;
	assert_int_equal(cgpath_init(&cg, root, NULL, &lim), 0);
	assert_string_equal(cgpath_lookup(&cg, ids[4], 0), "/d1/d2/d3/d4/d5");
	assert_false(cg.st.incomplete);
	assert_int_equal(cg.st.too_deep, 1);
	assert_null(cgpath_lookup(&cg, ids[5], 5 * SEC));
	cgpath_free(&cg);
	rm_rf("/d1");
}

static void test_path_length_limit(void **state)
{
	struct cgpath_limits lim;
	struct cgpath cg;

	mkdirs("/lim");
	mkdirs("/lim/aaaa");
	mkdirs("/lim/aaaa/bbbbbbbb");		/* 14 bytes + NUL */
	mkdirs("/lim/aaaa/bbbbbbbb/c");		/* 16 + NUL: too long */
	mkdirs("/lim/aaaa/bbbbbbbbb");		/* 15 + NUL: just fits in 16 */
	mkdirs("/lim/aaaa/bbbbbbbbbb");		/* 16 + NUL: too long */
	cgpath_limits_default(&lim);
	lim.path_max = 16;
	assert_int_equal(cgpath_init(&cg, at("/lim"), NULL, &lim), 0);
	assert_string_equal(cgpath_lookup(&cg, id_of("/lim/aaaa/bbbbbbbb"), 0),
			    "/aaaa/bbbbbbbb");
	assert_string_equal(cgpath_lookup(&cg, id_of("/lim/aaaa/bbbbbbbbb"), 0),
			    "/aaaa/bbbbbbbbb");
	assert_int_equal(cg.st.too_long, 2);
	assert_null(cgpath_lookup(&cg, id_of("/lim/aaaa/bbbbbbbb/c"), 5 * SEC));
	assert_null(cgpath_lookup(&cg, id_of("/lim/aaaa/bbbbbbbbbb"), 10 * SEC));
	cgpath_free(&cg);
	/* a prefix that leaves no room is refused; one that does, is used */
	assert_int_equal(cgpath_init(&cg, at("/lim"), "/fifteen-bytes/", &lim),
			 -ENAMETOOLONG);
	assert_int_equal(cgpath_init(&cg, at("/lim"), "/thirteen-byt", &lim), 0);
	assert_string_equal(cgpath_lookup(&cg, id_of("/lim"), 0), "/thirteen-byt");
	assert_int_equal(cg.st.too_long, 1);	/* "/aaaa" does not fit after it */
	cgpath_free(&cg);
	rm_rf("/lim");
}

/*
 * Past PATH_MAX: the walk opens each level relative to its parent, so a
 * tree deeper than any absolute path still resolves up to CGPATH_PATH_MAX.
 */
static void test_longer_than_path_max(void **state)
{
	char name[201], want[CGPATH_PATH_MAX + 256];
	uint64_t ids[24];
	struct cgpath cg;
	struct stat st;
	int fd, next, i;

	memset(name, 'n', 200);
	name[200] = '\0';
	mkdirs("/long");
	fd = open(at("/long"), O_RDONLY | O_DIRECTORY);
	assert_true(fd >= 0);
	for (i = 0; i < 24; i++) {
		assert_int_equal(mkdirat(fd, name, 0755), 0);
		next = openat(fd, name, O_RDONLY | O_DIRECTORY);
		assert_true(next >= 0);
		assert_int_equal(fstat(next, &st), 0);
		ids[i] = st.st_ino;
		close(fd);
		fd = next;
	}
	close(fd);
	assert_int_equal(cgpath_init(&cg, root, NULL, NULL), 0);
	/* "/long" + 19 x "/nnn...": 5 + 19 * 201 = 3824 bytes */
	strcpy(want, "/long");
	for (i = 0; i < 19; i++)
		snprintf(want + strlen(want), sizeof(want) - strlen(want), "/%s", name);
	assert_string_equal(cgpath_lookup(&cg, ids[18], 0), want);
	/* the 20th would be 4025 + NUL: fits; the 21st, 4226, does not */
	assert_non_null(cgpath_lookup(&cg, ids[19], 0));
	assert_int_equal(strlen(cgpath_lookup(&cg, ids[19], 0)), 4025);
	assert_null(cgpath_lookup(&cg, ids[20], 5 * SEC));
	assert_int_equal(cg.st.too_long, 1);
	cgpath_free(&cg);
	rm_rf("/long");
}

/* The mount shows a subtree: paths are the hierarchy's, as /proc/PID/cgroup. */
static void test_prefix(void **state)
{
	struct cgpath cg;

	check_tree(&cg, "/kubepods/pod1", "/kubepods/pod1");
	cgpath_free(&cg);
	check_tree(&cg, "/", "");
	cgpath_free(&cg);
}

/* A rename is picked up by the next walk. */
static void test_rename(void **state)
{
	struct cgpath cg;
	uint64_t id;

	mkdirs("/old");
	id = id_of("/old");
	assert_int_equal(cgpath_init(&cg, root, NULL, NULL), 0);
	assert_string_equal(cgpath_lookup(&cg, id, 0), "/old");
	assert_int_equal(rename(at("/old"), at("/new")), 0);
	assert_string_equal(cgpath_lookup(&cg, id, 0), "/old");	/* cached */
	assert_int_equal(cgpath_scan(&cg), 0);
	assert_string_equal(cgpath_lookup(&cg, id, 0), "/new");
	cgpath_free(&cg);
	assert_int_equal(rmdir(at("/new")), 0);
}

/* Unknown ids cannot fill the cache for good: a full one starts over. */
static void test_bounded_cache(void **state)
{
	struct cgpath_limits lim;
	struct cgpath cg;
	uint64_t i;

	cgpath_limits_default(&lim);
	lim.max_dirs = 8;
	lim.max_entries = 16;
	assert_int_equal(cgpath_init(&cg, root, NULL, &lim), 0);
	for (i = 1; i <= 100; i++) {
		assert_null(cgpath_lookup(&cg, 0xff00000000000000ull + i, i * SEC));
		assert_true(cg.ids.count <= lim.max_entries);
	}
	assert_int_equal(cg.st.scans, 100);
	/* there is still room for a cgroup made now */
	mkdirs("/late");
	assert_string_equal(cgpath_lookup(&cg, id_of("/late"), 1000 * SEC), "/late");
	assert_string_equal(cgpath_lookup(&cg, id_of("/system.slice"), 1000 * SEC),
			    "/system.slice");
	cgpath_free(&cg);
	rm_rf("/late");
}

static const char *write_mountinfo(const char *text)
{
	FILE *f = fopen(at("/mountinfo"), "w");

	assert_non_null(f);
	fputs(text, f);
	fclose(f);
	return at("/mountinfo");
}

static void test_find_mount(void **state)
{
	char dir[64], prefix[64];
	const char *mi;

	/* a hybrid host: v1 controllers, cgroup2 at .../unified */
	mi = write_mountinfo(
		"22 27 0:21 / /proc rw,relatime - proc proc rw\n"
		"31 23 0:28 / /sys/fs/cgroup rw,relatime - tmpfs tmpfs rw,mode=755\n"
		"32 31 0:29 / /sys/fs/cgroup/cpu rw,relatime - cgroup cgroup rw,cpu\n"
		"41 31 0:38 / /sys/fs/cgroup/unified rw,relatime shared:9 - cgroup2 cgroup2 rw\n"
		"42 31 0:38 / /elsewhere rw,relatime - cgroup2 cgroup2 rw\n");
	assert_int_equal(cgpath_find_mount(mi, dir, sizeof(dir), prefix, sizeof(prefix)), 0);
	assert_string_equal(dir, "/sys/fs/cgroup/unified");
	assert_string_equal(prefix, "");
	/* a container's view of its own subtree, a space in the mount point */
	mi = write_mountinfo(
		"1 0 0:1 / / rw - overlay overlay rw\n"
		"9 1 0:30 /kube\\040pods/pod1 /sys/fs/my\\040cgroup ro,nosuid - cgroup2 cgroup rw\n");
	assert_int_equal(cgpath_find_mount(mi, dir, sizeof(dir), prefix, sizeof(prefix)), 0);
	assert_string_equal(dir, "/sys/fs/my cgroup");
	assert_string_equal(prefix, "/kube pods/pod1");
	/* only cgroup v1, or a type that merely starts with cgroup2 */
	mi = write_mountinfo(
		"32 31 0:29 / /sys/fs/cgroup/cpu rw,relatime - cgroup cgroup rw,cpu\n"
		"33 31 0:29 / /x rw,relatime - cgroup2x cgroup2 rw\n"
		"truncated line\n");
	assert_int_equal(cgpath_find_mount(mi, dir, sizeof(dir), prefix, sizeof(prefix)),
			 -ENOENT);
	/* a mount point longer than the caller's buffer */
	mi = write_mountinfo("41 31 0:38 / /a/very/long/mount/point/that/is/indeed/more/than/sixty-four/bytes - cgroup2 cgroup2 rw\n");
	assert_int_equal(cgpath_find_mount(mi, dir, sizeof(dir), prefix, sizeof(prefix)),
			 -ENAMETOOLONG);
	assert_int_equal(cgpath_find_mount(at("/nonexistent"), dir, sizeof(dir),
					   prefix, sizeof(prefix)), -ENOENT);
	unlink(at("/mountinfo"));
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_resolves),
		cmocka_unit_test(test_caches),
		cmocka_unit_test(test_rescans_on_miss),
		cmocka_unit_test(test_unknown_id),
		cmocka_unit_test(test_max_dirs),
		cmocka_unit_test(test_deep_paths),
		cmocka_unit_test(test_path_length_limit),
		cmocka_unit_test(test_longer_than_path_max),
		cmocka_unit_test(test_prefix),
		cmocka_unit_test(test_rename),
		cmocka_unit_test(test_bounded_cache),
		cmocka_unit_test(test_find_mount),
	};

	return cmocka_run_group_tests(tests, setup, teardown);
}
