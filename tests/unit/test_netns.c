// SPDX-License-Identifier: GPL-2.0 OR BSD-2-Clause
/*
 * Which network namespaces seeding visits: the pure choice, then the walk
 * over a fake /proc and /run/netns (files stand in for nsfs inodes: all on
 * one device, like nsfs), and over the real /proc; and the sockstat
 * check that spares an empty namespace its dump.
 */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include "netns.h"
#include "fsfixture.h"

/* the fake namespaces' inodes */
static uint32_t ino_self, ino_a, ino_b, ino_c;

static uint32_t mkfile(const char *rel)
{
	const char *path = at(rel);
	struct stat st;
	FILE *f;

	f = fopen(path, "w");
	assert_non_null(f);
	fclose(f);
	assert_int_equal(stat(path, &st), 0);
	return (uint32_t)st.st_ino;
}

/* rel -> root/target, an absolute link as /proc's magic links (a target
 * starting with / is taken as it is) */
static void mknslink(const char *target, const char *rel)
{
	mklink(target[0] == '/' ? target : at(target), rel);
}

static void mkproc(const char *pid, const char *target)
{
	char rel[64];

	snprintf(rel, sizeof(rel), "proc/%s", pid);
	mkdirs(rel);
	snprintf(rel, sizeof(rel), "proc/%s/ns", pid);
	mkdirs(rel);
	if (!target)
		return;		/* a process whose ns/net cannot be read */
	snprintf(rel, sizeof(rel), "proc/%s/ns/net", pid);
	mknslink(target, rel);
}

static int setup(void **state)
{
	if (fs_make_root("netns"))
		return -1;
	ino_self = mkfile("self-net");
	ino_a = mkfile("ns-a");
	ino_b = mkfile("ns-b");
	ino_c = mkfile("ns-c");
	mkdirs("proc");
	mkproc("1", "self-net");	/* our own: read in place, not visited */
	mkproc("100", "ns-a");
	mkproc("101", "ns-a");		/* a second process in a */
	mkproc("102", "ns-b");
	mkproc("103", NULL);		/* a zombie: no ns/net */
	mkproc("104", "ns-gone");	/* dangling: exited */
	mkproc("self", "ns-c");		/* not a pid */
	mkproc("12ab", "ns-c");		/* not a pid */
	mkdirs("run");
	mknslink("ns-c", "run/c");	/* a namespace with no process */
	mknslink("ns-b", "run/b");	/* also reachable through pid 102 */
	mknslink("self-net", "run/self");
	mknslink("/dev/null", "run/stale"); /* another device: not a namespace */
	mknslink("ns-a", "run/.hidden");
	return 0;
}

static int teardown(void **state)
{
	return fs_remove_root();
}

static void test_judge(void **state)
{
	struct netns_set s;
	uint32_t i;

	assert_int_equal(netns_set_init(&s, 5, 100, 0), 0);
	assert_int_equal(netns_set_judge(&s, 5, 100), NETNS_SELF);
	assert_int_equal(netns_set_judge(&s, 6, 200), NETNS_NOT_NS);
	assert_int_equal(netns_set_judge(&s, 6, 100), NETNS_NOT_NS);
	assert_int_equal(netns_set_judge(&s, 5, 0), NETNS_NOT_NS);
	assert_int_equal(netns_set_judge(&s, 5, 1ull << 32), NETNS_NOT_NS);
	assert_int_equal(netns_set_judge(&s, 5, 200), NETNS_VISIT);
	assert_int_equal(netns_set_mark(&s, 200), 0);
	assert_int_equal(netns_set_judge(&s, 5, 200), NETNS_SEEN);
	assert_int_equal(netns_set_judge(&s, 5, 201), NETNS_VISIT);
	assert_false(netns_set_complete(&s));	/* no --netns: never done early */
	for (i = 1000; i < 6000; i++)		/* past the initial table */
		assert_int_equal(netns_set_mark(&s, i), 0);
	for (i = 1000; i < 6000; i++)
		assert_int_equal(netns_set_judge(&s, 5, i), NETNS_SEEN);
	assert_int_equal(netns_set_judge(&s, 5, 6000), NETNS_VISIT);
	netns_set_free(&s);

	/* --netns 300: that one alone, then done */
	assert_int_equal(netns_set_init(&s, 5, 100, 300), 0);
	assert_int_equal(netns_set_judge(&s, 5, 200), NETNS_FILTERED);
	assert_int_equal(netns_set_judge(&s, 5, 100), NETNS_SELF);
	assert_int_equal(netns_set_judge(&s, 5, 300), NETNS_VISIT);
	assert_false(netns_set_complete(&s));
	assert_int_equal(netns_set_mark(&s, 300), 0);
	assert_true(netns_set_complete(&s));
	assert_int_equal(netns_set_judge(&s, 5, 300), NETNS_SEEN);
	netns_set_free(&s);

	/* --netns of our own: nothing to visit */
	assert_int_equal(netns_set_init(&s, 5, 100, 100), 0);
	assert_int_equal(netns_set_judge(&s, 5, 100), NETNS_SELF);
	assert_int_equal(netns_set_judge(&s, 5, 200), NETNS_FILTERED);
	netns_set_free(&s);
}

struct visits {
	uint32_t ino[16];
	int n;
	uint32_t fail_ino;	/* the callback fails for this one */
	int fail_err;
	int stop_after;		/* NETNS_WALK_STOP after this many (0: never) */
};

static int record_visit(void *ctx, uint32_t inode, int fd)
{
	struct visits *v = ctx;
	struct stat st;

	/* the descriptor is the namespace named */
	assert_int_equal(fstat(fd, &st), 0);
	assert_int_equal((uint32_t)st.st_ino, inode);
	assert_true(v->n < 16);
	v->ino[v->n++] = inode;
	if (v->stop_after && v->n >= v->stop_after)
		return NETNS_WALK_STOP;
	return inode == v->fail_ino ? v->fail_err : 0;
}

static int count_of(const struct visits *v, uint32_t ino)
{
	int i, n = 0;

	for (i = 0; i < v->n; i++)
		n += v->ino[i] == ino;
	return n;
}

static int walk(uint32_t only, struct visits *v, struct netns_walk_stats *st)
{
	return netns_walk(at("proc"), at("run"), at("self-net"), only,
			  record_visit, v, st);
}

static void test_walk_each_once(void **state)
{
	struct netns_walk_stats st;
	struct visits v = { 0 };

	assert_int_equal(walk(0, &v, &st), 0);
	assert_int_equal(v.n, 3);
	assert_int_equal(count_of(&v, ino_a), 1);
	assert_int_equal(count_of(&v, ino_b), 1);
	assert_int_equal(count_of(&v, ino_c), 1);	/* from /run/netns alone */
	assert_int_equal(count_of(&v, ino_self), 0);
	assert_int_equal(st.visited, 3);
	assert_int_equal(st.failed, 0);
}

static void test_walk_only(void **state)
{
	struct netns_walk_stats st;
	struct visits v = { 0 };

	assert_int_equal(walk(ino_b, &v, &st), 0);
	assert_int_equal(v.n, 1);
	assert_int_equal(v.ino[0], ino_b);
	assert_int_equal(st.visited, 1);

	memset(&v, 0, sizeof(v));
	assert_int_equal(walk(ino_c, &v, &st), 0);	/* only in /run/netns */
	assert_int_equal(v.n, 1);
	assert_int_equal(v.ino[0], ino_c);

	memset(&v, 0, sizeof(v));
	assert_int_equal(walk(ino_self, &v, &st), 0);	/* the caller's own */
	assert_int_equal(v.n, 0);

	memset(&v, 0, sizeof(v));
	assert_int_equal(walk(4026999999u, &v, &st), 0); /* nowhere */
	assert_int_equal(v.n, 0);
	assert_int_equal(st.visited + st.failed, 0);
}

static void test_walk_failures_go_on(void **state)
{
	struct netns_walk_stats st;
	struct visits v = { .fail_ino = ino_a, .fail_err = -EPERM };

	assert_int_equal(walk(0, &v, &st), 0);
	assert_int_equal(v.n, 3);
	assert_int_equal(count_of(&v, ino_a), 1);	/* failed once, not per process */
	assert_int_equal(st.visited, 2);
	assert_int_equal(st.failed, 1);
	assert_int_equal(st.first_failed, ino_a);
	assert_int_equal(st.first_err, -EPERM);

	memset(&v, 0, sizeof(v));
	v.stop_after = 1;
	assert_int_equal(walk(0, &v, &st), NETNS_WALK_STOP);
	assert_int_equal(v.n, 1);
}

/*
 * The iterator hands each namespace to its caller, who does its own work
 * in between (seeding reads the ring buffer there), and reports back.
 */
static void test_iter(void **state)
{
	struct netns_iter it;
	struct visits v = { 0 };
	uint32_t ino;
	int ret, fd;

	assert_int_equal(netns_iter_init(&it, at("proc"), at("run"), at("self-net"), 0), 0);
	while ((ret = netns_iter_next(&it, &ino, &fd)) == 1) {
		assert_int_equal(record_visit(&v, ino, fd), 0);
		close(fd);
		netns_iter_result(&it, ino, ino == ino_b ? -EPERM : 0);
	}
	assert_int_equal(ret, 0);
	assert_int_equal(v.n, 3);
	assert_int_equal(count_of(&v, ino_a) + count_of(&v, ino_b) + count_of(&v, ino_c), 3);
	assert_int_equal(it.st.visited, 2);
	assert_int_equal(it.st.failed, 1);
	assert_int_equal(it.st.first_failed, ino_b);
	assert_int_equal(netns_iter_next(&it, &ino, &fd), 0);	/* stays at the end */
	netns_iter_free(&it);

	/* a caller may stop early; free closes what is open */
	assert_int_equal(netns_iter_init(&it, at("proc"), at("run"), at("self-net"), 0), 0);
	assert_int_equal(netns_iter_next(&it, &ino, &fd), 1);
	close(fd);
	netns_iter_free(&it);

	/* the --netns namespace alone, and our own: nothing */
	assert_int_equal(netns_iter_init(&it, at("proc"), at("run"), at("self-net"), ino_c), 0);
	assert_int_equal(netns_iter_next(&it, &ino, &fd), 1);
	assert_int_equal(ino, ino_c);
	close(fd);
	netns_iter_result(&it, ino, 0);
	assert_int_equal(netns_iter_next(&it, &ino, &fd), 0);
	netns_iter_free(&it);
	assert_int_equal(netns_iter_init(&it, at("proc"), at("run"), at("self-net"), ino_self), 0);
	assert_int_equal(netns_iter_next(&it, &ino, &fd), 0);
	netns_iter_free(&it);

	/* proc unreadable: an error, as the walk's */
	assert_int_equal(netns_iter_init(&it, "/nonexistent/proc", NULL, at("self-net"), 0), 0);
	assert_true(netns_iter_next(&it, &ino, &fd) < 0);
	netns_iter_free(&it);
	(void)state;
}

static void test_walk_errors(void **state)
{
	const char *proc = at("proc"), *self = at("self-net");
	struct netns_walk_stats st;
	struct visits v = { 0 };

	assert_int_equal(netns_walk(proc, NULL, "/nonexistent/net", 0,
				    record_visit, &v, &st), -ENOENT);
	assert_int_equal(netns_walk("/nonexistent/proc", NULL, self, 0,
				    record_visit, &v, &st), -ENOENT);
	/* no /run/netns is the usual case, not an error */
	assert_int_equal(netns_walk(proc, "/nonexistent/run", self, 0,
				    record_visit, &v, &st), 0);
	assert_int_equal(v.n, 2);
	assert_int_equal(v.n, (int)st.visited);
}

static int never_self(void *ctx, uint32_t inode, int fd)
{
	struct stat st;

	assert_int_equal(stat("/proc/self/ns/net", &st), 0);
	assert_int_not_equal(inode, (uint32_t)st.st_ino);
	(*(int *)ctx)++;
	return 0;
}

struct find {
	uint32_t want;
	int n, found;
};

static int find_inode(void *ctx, uint32_t inode, int fd)
{
	struct find *f = ctx;

	f->n++;
	f->found += inode == f->want;
	return 0;
}

static void test_walk_real_proc(void **state)
{
	struct netns_walk_stats st;
	struct stat me;
	struct find f = { 0 };
	int n = 0;

	/* whatever the host has: our own never comes up, nothing breaks (a
	 * host with no other namespace has nothing to visit: n may be 0) */
	assert_int_equal(netns_walk("/proc", "/run/netns", "/proc/self/ns/net",
				    0, never_self, &n, &st), 0);
	assert_int_equal((unsigned int)n, st.visited);

	/*
	 * So that something must be visited: another nsfs file (our user
	 * namespace's) stands in for "self". Our network namespace is then
	 * one to visit, and the real /proc has it (this process): found, once.
	 */
	assert_int_equal(stat("/proc/self/ns/net", &me), 0);
	f.want = (uint32_t)me.st_ino;
	assert_int_equal(netns_walk("/proc", "/run/netns", "/proc/self/ns/user",
				    0, find_inode, &f, &st), 0);
	assert_int_equal(f.found, 1);
	assert_true(st.visited >= 1);
	assert_int_equal((unsigned int)f.n, st.visited);
}

static void test_tcp_in_use(void **state)
{
	static const char empty[] =
		"sockets: used 0\n"
		"TCP: inuse 0 orphan 3 tw 0 alloc 2 mem 254\n"
		"UDP: inuse 0 mem 0\n";
	static const char tw_only[] =
		"sockets: used 0\nTCP: inuse 0 orphan 0 tw 1 alloc 2 mem 254\n";
	static const char listener[] =
		"sockets: used 1\nTCP: inuse 12 orphan 0 tw 0 alloc 2 mem 254\n";
	static const char v6_empty[] = "TCP6: inuse 0\nUDP6: inuse 0\n";
	static const char v6_one[] = "TCP6: inuse 1\nUDP6: inuse 0\n";

	assert_int_equal(netns_tcp_in_use(empty, NULL), 0);
	assert_int_equal(netns_tcp_in_use(empty, v6_empty), 0);
	assert_int_equal(netns_tcp_in_use(empty, v6_one), 1);	/* IPv6 alone */
	assert_int_equal(netns_tcp_in_use(tw_only, v6_empty), 1);
	assert_int_equal(netns_tcp_in_use(listener, NULL), 1);
	/* whatever does not say for sure: dump */
	assert_int_equal(netns_tcp_in_use("", NULL), -1);
	assert_int_equal(netns_tcp_in_use("TCP: inuse 0 orphan 0\n", NULL), -1);
	assert_int_equal(netns_tcp_in_use("TCP: inuse x tw 0\n", NULL), -1);
	assert_int_equal(netns_tcp_in_use("TCP: inuse 0 tw 0x1\n", NULL), -1);
	assert_int_equal(netns_tcp_in_use("TCP6: inuse 0\n", NULL), -1);
	assert_int_equal(netns_tcp_in_use("UDP: inuse 0\nTCP: tw 0 inuse 0", NULL), 0);
	assert_int_equal(netns_tcp_in_use(empty, "UDP6: inuse 0\n"), -1);
	assert_int_equal(netns_tcp_in_use("TCP: inuse 99999999999999999999999 tw 0\n",
					  NULL), -1);
	/* the line is "TCP: ", not "TCP6: " */
	assert_int_equal(netns_tcp_in_use("TCP6: inuse 0 tw 0\n", NULL), -1);
}

static void test_tcp_in_use_here(void **state)
{
	/* our own namespace: readable, and one listener makes it 1 */
	int fd = socket(AF_INET, SOCK_STREAM, 0);

	assert_true(fd >= 0);
	assert_int_equal(listen(fd, 1), 0);
	assert_int_equal(netns_tcp_in_use_here(), 1);
	close(fd);
}

/* --netns: a name, a path, a pid or an inode, told apart the same way everywhere. */
static void test_spec_parse(void **state)
{
	enum netns_spec_kind k;
	uint64_t n;
	char buf[64];

	assert_int_equal(netns_spec_parse("blue", &k, &n), 0);
	assert_int_equal(k, NETNS_SPEC_NAME);
	assert_int_equal(netns_spec_parse("/run/netns/blue", &k, &n), 0);
	assert_int_equal(k, NETNS_SPEC_PATH);
	assert_int_equal(netns_spec_parse("./x", &k, &n), 0);
	assert_int_equal(k, NETNS_SPEC_PATH);
	assert_int_equal(netns_spec_parse("1234", &k, &n), 0);
	assert_int_equal(k, NETNS_SPEC_PID);
	assert_int_equal(n, 1234);
	assert_int_equal(netns_spec_parse("4194304", &k, &n), 0);
	assert_int_equal(k, NETNS_SPEC_PID);
	assert_int_equal(netns_spec_parse("4026531840", &k, &n), 0);
	assert_int_equal(k, NETNS_SPEC_INODE);
	assert_int_equal(n, 4026531840u);
	/* init_net's fixed inode, PROC_NET_INIT_INO */
	assert_int_equal(netns_spec_parse("4026531833", &k, &n), 0);
	assert_int_equal(k, NETNS_SPEC_INODE);
	assert_int_equal(netns_spec_parse("4294967295", &k, &n), 0);
	assert_int_equal(k, NETNS_SPEC_INODE);
	/* "12ab" is a name */
	assert_int_equal(netns_spec_parse("12ab", &k, &n), 0);
	assert_int_equal(k, NETNS_SPEC_NAME);
	/* neither pid nor inode, too big, nothing */
	assert_int_equal(netns_spec_parse("0", &k, &n), -EINVAL);
	assert_int_equal(netns_spec_parse("5000000", &k, &n), -EINVAL);
	assert_int_equal(netns_spec_parse("4294967296", &k, &n), -EINVAL);
	assert_int_equal(netns_spec_parse("", &k, &n), -EINVAL);
	assert_int_equal(netns_spec_parse("..", &k, &n), -EINVAL);
	/* the files they name */
	assert_int_equal(netns_spec_path("blue", buf, sizeof(buf)), 0);
	assert_string_equal(buf, "/run/netns/blue");
	assert_int_equal(netns_spec_path("42", buf, sizeof(buf)), 0);
	assert_string_equal(buf, "/proc/42/ns/net");
	assert_int_equal(netns_spec_path("/x/y", buf, sizeof(buf)), 0);
	assert_string_equal(buf, "/x/y");
	assert_int_equal(netns_spec_path("4026531840", buf, sizeof(buf)), -EINVAL);
	assert_int_equal(netns_spec_path("blue", buf, 8), -ENAMETOOLONG);
	(void)state;
}

/* A file that is no network namespace is refused; our own is its inode. */
static void test_spec_inode(void **state)
{
	struct stat st;
	uint32_t ino = 0;
	char pid[16];

	assert_int_equal(netns_spec_inode("/dev/null", &ino), -ENOTTY);
	assert_int_equal(netns_spec_inode("no-such-ns-here", &ino), -ENOENT);
	assert_int_equal(netns_spec_inode("4026531999", &ino), 0);
	assert_int_equal(ino, 4026531999u);
	if (stat("/proc/self/ns/net", &st))
		skip();
	snprintf(pid, sizeof(pid), "%d", (int)getpid());
	assert_int_equal(netns_spec_inode(pid, &ino), 0);
	assert_int_equal(ino, (uint32_t)st.st_ino);
	assert_int_equal(netns_spec_inode("/proc/self/ns/net", &ino), 0);
	assert_int_equal(ino, (uint32_t)st.st_ino);
	(void)state;
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_judge),
		cmocka_unit_test(test_spec_parse),
		cmocka_unit_test(test_spec_inode),
		cmocka_unit_test(test_walk_each_once),
		cmocka_unit_test(test_iter),
		cmocka_unit_test(test_walk_only),
		cmocka_unit_test(test_walk_failures_go_on),
		cmocka_unit_test(test_walk_errors),
		cmocka_unit_test(test_walk_real_proc),
		cmocka_unit_test(test_tcp_in_use),
		cmocka_unit_test(test_tcp_in_use_here),
	};

	return cmocka_run_group_tests_name("netns", tests, setup, teardown);
}
