// SPDX-License-Identifier: GPL-2.0 OR BSD-2-Clause
/*
 * Age publication: the wire encoding decoded in any split, its error
 * cases, and a real server/client pair over a unix socket in a temporary
 * directory (no root needed).
 */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include "agesrv.h"

struct got {
	struct age_record r[64];
	int n;
	int stop_at;	/* return -ECANCELED at this record (1-based); 0 never */
};

static int on_record(void *ctx, const struct age_record *r)
{
	struct got *g = ctx;

	if (g->n < 64)
		g->r[g->n] = *r;
	g->n++;
	return g->stop_at && g->n == g->stop_at ? -ECANCELED : 0;
}

static struct age_record rec(uint64_t cookie)
{
	struct age_record r = {
		.cookie = cookie,
		.since_ns = cookie * 1000,
		.cgroup_id = 77,
		.pid = (uint32_t)cookie + 100,
		.state = 8,
		.flags = cookie % 2 ? AGE_F_LOWER_BOUND : 0,
	};

	snprintf(r.comm, sizeof(r.comm), "proc%u", (unsigned int)(cookie % 1000000000));
	return r;
}

/* header, n records, trailer; record_size may be larger than ours */
static size_t encode(uint8_t *buf, int n, uint16_t record_size)
{
	struct age_header h;
	struct age_record end = { .flags = AGE_F_END, .since_ns = (uint64_t)n };
	size_t off = sizeof(h);
	int i;

	age_header_init(&h, 123456789);
	h.record_size = record_size;
	memcpy(buf, &h, sizeof(h));
	for (i = 0; i < n; i++) {
		struct age_record r = rec((uint64_t)i + 1);

		memset(buf + off, 0xee, record_size);
		memcpy(buf + off, &r, sizeof(r));
		off += record_size;
	}
	memset(buf + off, 0, record_size);
	memcpy(buf + off, &end, sizeof(end));
	return off + record_size;
}

static void test_decode_any_split(void **state)
{
	uint8_t buf[8192];
	uint16_t sizes[] = { sizeof(struct age_record), 64 };
	size_t s;

	for (s = 0; s < 2; s++) {
		size_t len = encode(buf, 10, sizes[s]), chunk;

		for (chunk = 1; chunk <= len; chunk++) {
			struct age_decoder d;
			struct got g = { .n = 0 };
			size_t off;
			int i;

			age_decoder_init(&d);
			for (off = 0; off < len; off += chunk) {
				size_t n = len - off < chunk ? len - off : chunk;

				assert_int_equal(age_decode(&d, buf + off, n,
							    on_record, &g),
						 0);
			}
			assert_int_equal(age_decode_finish(&d), 0);
			assert_int_equal(g.n, 10);
			assert_true(d.hdr.now_ns == 123456789);
			for (i = 0; i < 10; i++) {
				struct age_record want = rec((uint64_t)i + 1);

				assert_memory_equal(&g.r[i], &want,
						    sizeof(want));
			}
		}
	}
}

static void test_decode_errors(void **state)
{
	uint8_t buf[8192], bad[8192];
	size_t len = encode(buf, 3, sizeof(struct age_record));
	struct age_decoder d;
	struct got g = { .n = 0 };
	struct age_header h;

	/* truncated anywhere: incomplete */
	age_decoder_init(&d);
	assert_int_equal(age_decode(&d, buf, len - 1, on_record, &g), 0);
	assert_int_equal(age_decode_finish(&d), -EPROTO);
	age_decoder_init(&d);
	assert_int_equal(age_decode_finish(&d), -EPROTO);
	/* bad magic, version, record size */
	memcpy(&h, buf, sizeof(h));
	h.magic ^= 1;
	memcpy(bad, &h, sizeof(h));
	age_decoder_init(&d);
	assert_int_equal(age_decode(&d, bad, sizeof(h), on_record, &g), -EPROTO);
	age_header_init(&h, 0);
	h.version = 2;
	memcpy(bad, &h, sizeof(h));
	age_decoder_init(&d);
	assert_int_equal(age_decode(&d, bad, sizeof(h), on_record, &g), -EPROTO);
	age_header_init(&h, 0);
	h.record_size = 40;
	memcpy(bad, &h, sizeof(h));
	age_decoder_init(&d);
	assert_int_equal(age_decode(&d, bad, sizeof(h), on_record, &g), -EPROTO);
	h.record_size = AGE_MAX_RECORD + 8;
	memcpy(bad, &h, sizeof(h));
	age_decoder_init(&d);
	assert_int_equal(age_decode(&d, bad, sizeof(h), on_record, &g), -EPROTO);
	/* bytes after the trailer */
	memcpy(bad, buf, len);
	memcpy(bad + len, buf + sizeof(h), sizeof(struct age_record));
	age_decoder_init(&d);
	assert_int_equal(age_decode(&d, bad,
				    len + sizeof(struct age_record), on_record,
				    &g),
			 -EPROTO);
	/* a trailer whose count disagrees */
	memcpy(bad, buf, len);
	bad[len - sizeof(struct age_record) + 8] = 7;	/* since_ns = count */
	age_decoder_init(&d);
	assert_int_equal(age_decode(&d, bad, len, on_record, &g), -EPROTO);
	/* the callback stops it */
	g.n = 0;
	g.stop_at = 2;
	age_decoder_init(&d);
	assert_int_equal(age_decode(&d, buf, len, on_record, &g), -ECANCELED);
	assert_int_equal(g.n, 2);
}

/* ---------------------------------------------------- server + client */

static char tmpdir[64];

static int setup_dir(void **state)
{
	strcpy(tmpdir, "/tmp/tcpfsm-agesrv-XXXXXX");
	return mkdtemp(tmpdir) ? 0 : -1;
}

static int teardown_dir(void **state)
{
	char cmd[128];

	snprintf(cmd, sizeof(cmd), "rm -rf '%s'", tmpdir);
	return system(cmd) == 0 ? 0 : -1;
}

struct fill_ctx {
	int n;
	int put_err;
	int calls;
};

/* records 1..n, budget at a time */
static int fill(void *ctx, struct agesrv_writer *w, size_t *cursor, size_t budget)
{
	struct fill_ctx *f = ctx;
	size_t i;
	int ret;

	f->calls++;
	for (i = *cursor; i < (size_t)f->n && budget; i++, budget--) {
		struct age_record r = rec((uint64_t)i + 1);

		ret = agesrv_put(w, &r);
		if (ret) {
			f->put_err = ret;
			return ret;
		}
	}
	*cursor = i;
	return i == (size_t)f->n;
}

struct client {
	const char *path;
	unsigned int timeout_ms;
	struct got g;
	int ret;
	struct age_answer ans;
	int done;	/* set by the client thread: __atomic */
};

static void *client_thread(void *arg)
{
	struct client *c = arg;

	c->ret = agesrv_query(c->path, c->timeout_ms, on_record, &c->g, &c->ans);
	__atomic_store_n(&c->done, 1, __ATOMIC_RELEASE);
	return NULL;
}

static uint64_t now_ns(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000000000ull + (uint64_t)ts.tv_nsec;
}

/* The tracer's side of the loop: wait on want_fd, build when due. */
static void tracer_turn(struct agesrv *srv, struct fill_ctx *f, int wait_ms)
{
	struct pollfd p = { .fd = agesrv_want_fd(srv), .events = POLLIN };
	int woken = poll(&p, 1, wait_ms) > 0;

	assert_true(agesrv_update(srv, woken, fill, f, now_ns()) >= 0);
}

static void serve_until_done(struct agesrv *srv, struct fill_ctx *f,
			     struct client *c, int n)
{
	int tries, i, all;

	for (tries = 0; tries < 500; tries++) {
		for (all = 1, i = 0; i < n; i++)
			all &= __atomic_load_n(&c[i].done, __ATOMIC_ACQUIRE);
		if (all)
			return;
		tracer_turn(srv, f, 10);
	}
	fail_msg("the clients were not answered");
}

static void test_server_client(void **state)
{
	char path[128];
	struct agesrv *srv;
	/* 20 records, 7 a turn: built in three parts */
	struct agesrv_opts o = { .hdr_flags = AGE_HF_FILTERED, .build_chunk = 7 };
	struct fill_ctx f = { .n = 20 };
	struct client c = { .path = path };
	struct stat st;
	pthread_t t;
	int i;

	snprintf(path, sizeof(path), "%s/sub/dir/age.sock", tmpdir);
	assert_int_equal(agesrv_query(path, 0, NULL, NULL, NULL), -ENOENT);
	umask(0);	/* the mode does not depend on it */
	assert_int_equal(agesrv_open(path, &o, &srv), 0);	/* mkdir -p */
	umask(022);
	assert_int_equal(stat(path, &st), 0);
	assert_true(S_ISSOCK(st.st_mode));
	assert_int_equal(st.st_mode & 0777, 0600);
	/* nobody waiting: nothing built, no blocking */
	assert_int_equal(agesrv_update(srv, false, fill, &f, now_ns()), 0);
	assert_int_equal(f.calls, 0);

	for (i = 0; i < 2; i++) {
		memset(&c.g, 0, sizeof(c.g));
		c.done = 0;
		assert_int_equal(pthread_create(&t, NULL, client_thread, &c), 0);
		serve_until_done(srv, &f, &c, 1);
		pthread_join(t, NULL);
		assert_int_equal(c.ret, 0);
		assert_int_equal(c.g.n, 20);
		assert_true(c.ans.now_ns > 0);
		assert_int_equal(c.ans.flags, AGE_HF_FILTERED);
		assert_true(c.g.r[19].cookie == 20);
		assert_string_equal(c.g.r[19].comm, "proc20");
		assert_true(f.calls >= 3);	/* the second may be served the first's answer */
	}
	/* a second server on the same path is refused */
	{
		struct agesrv *other;

		assert_int_equal(agesrv_open(path, NULL, &other), -EADDRINUSE);
	}
	agesrv_close(srv);
	assert_int_equal(stat(path, &st), -1);
	assert_int_equal(agesrv_query(path, 0, NULL, NULL, NULL), -ENOENT);
}

static void test_stale_socket_and_not_a_socket(void **state)
{
	char path[128], link[140];
	struct sockaddr_un sun = { .sun_family = AF_UNIX };
	struct agesrv *srv;
	int fd;

	/* a socket file nobody listens on: stale (a killed tracer's) */
	snprintf(path, sizeof(path), "%s/stale.sock", tmpdir);
	strcpy(sun.sun_path, path);
	fd = socket(AF_UNIX, SOCK_STREAM, 0);
	assert_int_equal(bind(fd, (struct sockaddr *)&sun, sizeof(sun)), 0);
	close(fd);
	assert_int_equal(agesrv_query(path, 0, NULL, NULL, NULL), -ECONNREFUSED);
	assert_int_equal(agesrv_open(path, NULL, &srv), 0);
	agesrv_close(srv);

	/* a regular file is never removed, nor a symlink followed */
	snprintf(path, sizeof(path), "%s/file", tmpdir);
	fd = open(path, O_CREAT | O_WRONLY, 0644);
	close(fd);
	assert_int_equal(agesrv_open(path, NULL, &srv), -EEXIST);
	assert_int_equal(access(path, F_OK), 0);
	snprintf(link, sizeof(link), "%s/link.sock", tmpdir);
	assert_int_equal(symlink(path, link), 0);
	assert_int_equal(agesrv_open(link, NULL, &srv), -EEXIST);
	{
		struct stat st;

		assert_int_equal(stat(path, &st), 0);
		assert_int_equal(st.st_mode & 0777, 0644);
	}
}

/*
 * Clients that connect and never read, or send garbage, cost the tracer's
 * thread nothing but a build per rate-limit interval: updates never block,
 * the slow clients are cut off at their time limit, and a good client
 * among them is answered.
 */
static void test_slow_and_garbage_clients(void **state)
{
	enum { SLOW = 40, GARBAGE = 40 };
	char path[128];
	struct sockaddr_un sun = { .sun_family = AF_UNIX };
	struct agesrv_opts o = { .client_timeout_ms = 1000 };
	struct agesrv *srv;
	struct agesrv_stats st;
	struct fill_ctx f = { .n = 50000 };	/* 2.4 MB: more than socket buffers */
	struct client good = { .path = NULL, .timeout_ms = 5000 };
	uint64_t t0, t_open, worst = 0;
	int fds[SLOW + GARBAGE], i;
	pthread_t t;

	snprintf(path, sizeof(path), "%s/slow.sock", tmpdir);
	t_open = now_ns();
	assert_int_equal(agesrv_open(path, &o, &srv), 0);
	strcpy(sun.sun_path, path);
	for (i = 0; i < SLOW + GARBAGE; i++) {
		fds[i] = socket(AF_UNIX, SOCK_STREAM, 0);
		assert_int_equal(connect(fds[i], (struct sockaddr *)&sun, sizeof(sun)), 0);
		if (i >= SLOW)
			assert_int_equal(send(fds[i], "GET / HTTP/1.0\r\n\r\n", 18, 0), 18);
	}
	good.path = path;
	assert_int_equal(pthread_create(&t, NULL, client_thread, &good), 0);
	t0 = now_ns();
	while (!__atomic_load_n(&good.done, __ATOMIC_ACQUIRE) &&
	       now_ns() - t0 < 5000000000ull) {
		uint64_t a, b;
		struct pollfd p = { .fd = agesrv_want_fd(srv), .events = POLLIN };
		int woken = poll(&p, 1, 10) > 0;

		a = now_ns();
		assert_true(agesrv_update(srv, woken, fill, &f, a) >= 0);
		b = now_ns();
		if (b - a > worst)
			worst = b - a;
	}
	pthread_join(t, NULL);
	assert_int_equal(good.ret, 0);
	assert_int_equal(good.g.n, 50000);
	/* building is the only work here: no client is waited for */
	assert_true(worst < 500000000ull);
	/*
	 * None of the others reads its 2.4 MB: each is cut off at its limit,
	 * 64 at once, the rest from the backlog after them
	 */
	do {
		tracer_turn(srv, &f, 10);
		agesrv_get_stats(srv, &st);
	} while (st.cut_off < SLOW + GARBAGE && now_ns() - t_open < 5000000000ull);
	assert_int_equal(st.cut_off, SLOW + GARBAGE);
	assert_int_equal(st.answered, 1);
	/* one build serves every client waiting: at most one per interval */
	assert_true(st.builds <= 1 + (now_ns() - t_open) / 50000000ull);
	for (i = 0; i < SLOW + GARBAGE; i++)
		close(fds[i]);
	agesrv_close(srv);
}

/* snapshot never waits longer than its timeout: not for an answer, not in connect(). */
static void test_query_deadline(void **state)
{
	char path[128];
	struct sockaddr_un sun = { .sun_family = AF_UNIX };
	int lfd, fd, i;
	uint64_t t0;

	/* a server that accepts nothing and never answers */
	snprintf(path, sizeof(path), "%s/mute.sock", tmpdir);
	strcpy(sun.sun_path, path);
	lfd = socket(AF_UNIX, SOCK_STREAM, 0);
	assert_int_equal(bind(lfd, (struct sockaddr *)&sun, sizeof(sun)), 0);
	assert_int_equal(listen(lfd, 1), 0);
	t0 = now_ns();
	assert_int_equal(agesrv_query(path, 300, NULL, NULL, NULL), -ETIMEDOUT);
	assert_true(now_ns() - t0 >= 290000000ull && now_ns() - t0 < 1000000000ull);
	/* its backlog full: connect() itself would wait forever */
	for (i = 0; i < 64; i++) {
		fd = socket(AF_UNIX, SOCK_STREAM | SOCK_NONBLOCK, 0);
		if (connect(fd, (struct sockaddr *)&sun, sizeof(sun))) {
			assert_int_equal(errno, EAGAIN);
			close(fd);
			break;
		}
	}
	assert_true(i < 64);
	t0 = now_ns();
	assert_int_equal(agesrv_query(path, 300, NULL, NULL, NULL), -ETIMEDOUT);
	assert_true(now_ns() - t0 < 1000000000ull);
	close(lfd);	/* the connected ones leak into the test's end */
}

static void test_default_path(void **state)
{
	unsetenv(AGESRV_PATH_ENV);
	assert_string_equal(agesrv_default_path(), AGESRV_DEFAULT_PATH);
	setenv(AGESRV_PATH_ENV, "/tmp/x.sock", 1);
	assert_string_equal(agesrv_default_path(), "/tmp/x.sock");
	setenv(AGESRV_PATH_ENV, "", 1);
	assert_string_equal(agesrv_default_path(), AGESRV_DEFAULT_PATH);
	unsetenv(AGESRV_PATH_ENV);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_decode_any_split),
		cmocka_unit_test(test_decode_errors),
		cmocka_unit_test(test_server_client),
		cmocka_unit_test(test_stale_socket_and_not_a_socket),
		cmocka_unit_test(test_slow_and_garbage_clients),
		cmocka_unit_test(test_query_deadline),
		cmocka_unit_test(test_default_path),
	};

	return cmocka_run_group_tests(tests, setup_dir, teardown_dir);
}
