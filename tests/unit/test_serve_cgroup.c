// SPDX-License-Identifier: GPL-2.0 OR BSD-2-Clause
/* serve --by cgroup's labels over a fake tree: a directory's inode is its id. */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include <errno.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include "serve_cgroup.h"
#include "tcpfsm.h"
#include "fsfixture.h"

#define SEC 1000000000ull

static uint64_t id_of(const char *rel)
{
	struct stat st;

	assert_int_equal(stat(at(rel), &st), 0);
	return st.st_ino;
}

static int setup(void **state)
{
	(void)state;
	if (fs_make_root("servecg"))
		return -1;
	mkdirs("/system.slice");
	mkdirs("/system.slice/a\"b\\c");
	return 0;
}

static int teardown(void **state)
{
	(void)state;
	return fs_remove_root();
}

/* the key keeps 31 bits, stays apart from the fixed groups */
static void test_key(void **state)
{
	(void)state;
	assert_int_equal(tcpfsm_serve_cgroup_key(0), TCPFSM_SERVE_GROUP_EPHEMERAL);
	assert_int_equal(tcpfsm_serve_cgroup_key(1), 0x80000001u);
	assert_int_equal(tcpfsm_serve_cgroup_key(0x10000), 0x80010000u);
	assert_int_equal(tcpfsm_serve_cgroup_key((1ull << 32) | 5), 0x80000005u);
	assert_int_not_equal(tcpfsm_serve_cgroup_key(TCPFSM_SERVE_GROUP_OTHER),
			     TCPFSM_SERVE_GROUP_OTHER);
}

static void test_labels(void **state)
{
	struct serve_cg c;
	uint64_t id = id_of("/system.slice/a\"b\\c");
	uint32_t key = tcpfsm_serve_cgroup_key(id);

	(void)state;
	assert_int_equal(serve_cg_init(&c, root, "/sys", 4), 0);
	assert_string_equal(serve_cg_label(&c, TCPFSM_SERVE_GROUP_OTHER, 0), "other");
	assert_string_equal(serve_cg_label(&c, TCPFSM_SERVE_GROUP_EPHEMERAL, 0), "unknown");
	/* the full id from sock_diag finds the directory; escaped */
	serve_cg_note(&c, key, id);
	assert_string_equal(serve_cg_label(&c, key, 0), "/sys/system.slice/a\\\"b\\\\c");
	/* resolved for good: a later note changes nothing */
	serve_cg_note(&c, key, id | (1ull << 32));
	assert_string_equal(serve_cg_label(&c, key, 10 * SEC), "/sys/system.slice/a\\\"b\\\\c");
	/* a note whose key is another's is ignored */
	serve_cg_note(&c, tcpfsm_serve_cgroup_key(id + 1), id);
	serve_cg_free(&c);
}

/* an id no directory has is "id:N" until it appears */
static void test_unresolved_then_found(void **state)
{
	struct serve_cg c;
	uint64_t id;
	uint32_t key;
	char want[64];

	(void)state;
	assert_int_equal(serve_cg_init(&c, root, "", 4), 0);
	mkdirs("/late");
	id = id_of("/late");
	key = tcpfsm_serve_cgroup_key(id);
	serve_cg_note(&c, key, id);
	/* the first lookup walks the tree: found at once */
	assert_string_equal(serve_cg_label(&c, key, 0), "/late");
	/* unknown id: its number */
	key = tcpfsm_serve_cgroup_key(id + 1000003);
	serve_cg_note(&c, key, id + 1000003);
	snprintf(want, sizeof(want), "id:%llu", (unsigned long long)(id + 1000003));
	assert_string_equal(serve_cg_label(&c, key, 1), want);
	serve_cg_free(&c);
}

/* at most max keys remembered; the rest still get a label */
static void test_bounded(void **state)
{
	struct serve_cg c;
	uint32_t k;

	(void)state;
	assert_int_equal(serve_cg_init(&c, root, "", 2), 0);
	for (k = 1; k <= 5; k++)
		assert_non_null(serve_cg_label(&c, 0x80000000u | (k * 7777777u & 0x7fffffffu), 0));
	assert_int_equal(c.n, 2);
	assert_string_equal(serve_cg_label(&c, 0x80000000u | 12345, 0), "id:12345");
	serve_cg_free(&c);
}

/* a path too long for a label is the id */
static void test_long_path(void **state)
{
	struct serve_cg c;
	char rel[420] = "", name[200], want[64];
	uint64_t id;
	int i;

	(void)state;
	memset(name, 'x', 199);
	name[199] = '\0';
	for (i = 0; i < 2; i++) {
		strcat(rel, "/");
		strcat(rel, name);
		mkdirs(rel);
	}
	id = id_of(rel);
	/* prefix makes it longer than SERVE_CG_LABEL_MAX */
	{
		char prefix[SERVE_CG_LABEL_MAX];

		memset(prefix, 'p', sizeof(prefix) - 1);
		prefix[0] = '/';
		prefix[sizeof(prefix) - 1] = '\0';
		assert_int_equal(serve_cg_init(&c, root, prefix, 4), 0);
	}
	serve_cg_note(&c, tcpfsm_serve_cgroup_key(id), id);
	snprintf(want, sizeof(want), "id:%llu", (unsigned long long)id);
	assert_string_equal(serve_cg_label(&c, tcpfsm_serve_cgroup_key(id), 0), want);
	serve_cg_free(&c);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_key),
		cmocka_unit_test(test_labels),
		cmocka_unit_test(test_unresolved_then_found),
		cmocka_unit_test(test_bounded),
		cmocka_unit_test(test_long_path),
	};

	return cmocka_run_group_tests(tests, setup, teardown);
}
