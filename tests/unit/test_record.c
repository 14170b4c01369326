// SPDX-License-Identifier: GPL-2.0 OR BSD-2-Clause
/* Record/replay format: round trip and every way a file can be wrong. */
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <cmocka.h>
#include "record.h"

static char tmpdir[] = "/tmp/test_record.XXXXXX";

static const char *tmp_path(const char *name)
{
	static char path[256];

	snprintf(path, sizeof(path), "%s/%s", tmpdir, name);
	return path;
}

static void make_event(struct tcpfsm_event *e, unsigned int i)
{
	memset(e, 0, sizeof(*e));
	e->ts_ns = 1000000000ull * i + 0x0102030405060708ull;
	e->cookie = 0xdeadbeef00000000ull + i;
	e->cgroup_id = 77;
	e->aux = ~0ull - i;
	e->aux2 = i;
	e->pid = 4242 + i;
	e->tid = 4243 + i;
	e->netns = 4026531840u;
	e->sport = 40000 + i;
	e->dport = 443;
	e->kind = 1 + i % (TCPFSM_EV_KIND_MAX - 1);
	e->oldstate = i % TCPFSM_ST_MAX;
	e->newstate = (i + 1) % TCPFSM_ST_MAX;
	e->family = i % 2 ? 10 : 2;
	e->flags = i & 7;
	e->retrans = i % 5;
	e->saddr[0] = 127;
	e->saddr[3] = 1;
	e->daddr[15] = i;
	snprintf(e->comm, sizeof(e->comm), "comm-%u", i);
}

static void write_bytes(const char *path, const void *buf, size_t n)
{
	FILE *f = fopen(path, "wb");

	assert_non_null(f);
	assert_int_equal(fwrite(buf, 1, n, f), n);
	assert_int_equal(fclose(f), 0);
}

/* A valid header plus n records, as bytes. */
static size_t build_file(unsigned char *buf, unsigned int n)
{
	struct record_header hdr;
	struct tcpfsm_event e;
	unsigned int i;

	record_header_now(&hdr, RECORD_F_MINISOCKS);
	record_encode_header(buf, &hdr);
	for (i = 0; i < n; i++) {
		make_event(&e, i);
		record_encode(buf + RECORD_HDR_SIZE + i * RECORD_SIZE, &e);
	}
	return RECORD_HDR_SIZE + n * RECORD_SIZE;
}

static int open_err(const char *path, const char *want_substr)
{
	struct record_reader *r;
	struct record_header hdr;
	int ret;

	ret = record_open_read(path, &r, &hdr);
	assert_non_null(r);
	if (want_substr && !strstr(record_error(r), want_substr))
		fail_msg("error '%s' lacks '%s'", record_error(r), want_substr);
	record_close_read(r);
	return ret;
}

static void test_round_trip(void **state)
{
	enum { N = 2000 };	/* several writer and reader buffers */
	static struct tcpfsm_event in[N];
	struct record_writer *w;
	struct record_reader *r;
	struct record_header hdr, got;
	struct tcpfsm_event out;
	unsigned int i;

	for (i = 0; i < N; i++)
		make_event(&in[i], i);
	record_header_now(&hdr, RECORD_F_MINISOCKS | RECORD_F_FILTERED | RECORD_F_FILTER);
	strcpy(hdr.hostname, "host-a");
	/* every field of the filter, at its limits */
	hdr.filter.family = 10;
	hdr.filter.n_lports = hdr.filter.n_rports = TCPFSM_MAX_PORTS;
	for (i = 0; i < TCPFSM_MAX_PORTS; i++) {
		hdr.filter.lports[i] = 1000 + i;
		hdr.filter.rports[i] = 65535 - i;
	}
	hdr.filter.n_addrs = FILTER_MAX_ADDRS;
	for (i = 0; i < FILTER_MAX_ADDRS; i++) {
		char a[32];

		snprintf(a, sizeof(a), i % 2 ? "10.%u.0.0/16" : "fd00::%x/%u", i, 64 + i);
		if (i % 2)
			snprintf(a, sizeof(a), "10.%u.0.0/16", i);
		assert_int_equal(cidr_parse(a, &hdr.filter.addrs[i]), 0);
	}
	hdr.filter.has_pid = hdr.filter.has_comm = hdr.filter.has_netns = true;
	hdr.filter.pid = 4242;
	hdr.filter.netns = 4026531840u;
	strcpy(hdr.filter.comm, "nginx");
	hdr.filter.state_mask = 1u << TCPFSM_ST_CLOSE_WAIT;
	assert_int_equal(record_open_write_hdr(tmp_path("rt"), &hdr, false, &w), 0);
	assert_int_equal(record_write(w, in, 1), 0);
	assert_int_equal(record_write(w, in + 1, N - 1), 0);
	assert_int_equal(record_close(w), 0);

	assert_int_equal(record_open_read(tmp_path("rt"), &r, &got), 0);
	assert_int_equal(got.version, RECORD_VERSION);
	assert_int_equal(got.header_size, RECORD_HDR_SIZE);
	assert_memory_equal(&got.filter, &hdr.filter, sizeof(got.filter));
	assert_int_equal(got.record_size, sizeof(struct tcpfsm_event));
	assert_true(got.start_mono_ns == hdr.start_mono_ns);
	assert_true(got.start_real_ns == hdr.start_real_ns);
	assert_int_equal(got.flags, RECORD_F_MINISOCKS | RECORD_F_FILTERED | RECORD_F_FILTER);
	assert_string_equal(got.hostname, "host-a");
	assert_string_equal(got.release, hdr.release);
	for (i = 0; i < N; i++) {
		assert_int_equal(record_next(r, &out), 1);
		assert_memory_equal(&out, &in[i], sizeof(out));
	}
	assert_int_equal(record_next(r, &out), 0);
	assert_int_equal(record_next(r, &out), 0);
	assert_string_equal(record_error(r), "");
	assert_true(record_offset(r) == RECORD_HDR_SIZE + N * RECORD_SIZE);
	record_close_read(r);
}

/* The bytes on disk are little-endian at the documented offsets. */
static void test_layout(void **state)
{
	unsigned char buf[RECORD_SIZE];
	struct tcpfsm_event e;

	memset(&e, 0, sizeof(e));
	e.ts_ns = 0x1122334455667788ull;
	e.sport = 0xa1b2;
	e.kind = 3;
	e.comm[0] = 'x';
	record_encode(buf, &e);
	assert_int_equal(buf[0], 0x88);
	assert_int_equal(buf[7], 0x11);
	assert_int_equal(buf[52], 0xb2);
	assert_int_equal(buf[53], 0xa1);
	assert_int_equal(buf[56], 3);
	assert_int_equal(buf[96], 'x');
}

static void test_empty_file(void **state)
{
	write_bytes(tmp_path("empty"), "", 0);
	assert_int_equal(open_err(tmp_path("empty"), "empty file"), -EBADMSG);
}

/* The boot id round-trips; a header from before it existed has none. */
static void test_boot_id(void **state)
{
	static const uint8_t zero[RECORD_BOOT_ID_LEN];
	unsigned char buf[RECORD_HDR_SIZE + RECORD_SIZE];
	struct record_reader *r;
	struct record_header hdr, got;
	struct tcpfsm_event e, want;
	uint8_t now[RECORD_BOOT_ID_LEN];

	if (record_boot_id(now))
		skip();	/* no /proc/sys/kernel/random/boot_id */
	assert_memory_not_equal(now, zero, sizeof(zero));
	record_header_now(&hdr, 0);
	assert_memory_equal(hdr.boot_id, now, sizeof(now));
	assert_true(record_same_boot(&hdr));
	record_encode_header(buf, &hdr);
	assert_int_equal(record_parse_header(buf, sizeof(buf), &got, NULL, 0), 0);
	assert_memory_equal(got.boot_id, now, sizeof(now));
	/* another boot, or none recorded: not the same boot */
	got.boot_id[5] ^= 1;
	assert_false(record_same_boot(&got));
	memset(got.boot_id, 0, sizeof(got.boot_id));
	assert_false(record_same_boot(&got));

	/* version 1 with the boot id: 184 bytes, no filter */
	buf[8] = 1;
	buf[10] = RECORD_HDR_SIZE_BOOT;
	buf[11] = 0;
	buf[32] |= RECORD_F_FILTER;	/* a v1 header cannot hold one: cleared */
	make_event(&want, 2);
	record_encode(buf + RECORD_HDR_SIZE_BOOT, &want);
	write_bytes(tmp_path("v1hdr"), buf, RECORD_HDR_SIZE_BOOT + RECORD_SIZE);
	assert_int_equal(record_open_read(tmp_path("v1hdr"), &r, &got), 0);
	assert_int_equal(got.version, 1);
	assert_memory_equal(got.boot_id, now, sizeof(now));
	assert_int_equal(got.flags & RECORD_F_FILTER, 0);
	assert_int_equal(record_next(r, &e), 1);
	assert_memory_equal(&e, &want, sizeof(e));
	record_close_read(r);

	/* version 1 as first written: 168 bytes, records right after */
	buf[10] = RECORD_HDR_SIZE_V1;
	make_event(&want, 3);
	record_encode(buf + RECORD_HDR_SIZE_V1, &want);
	write_bytes(tmp_path("oldhdr"), buf, RECORD_HDR_SIZE_V1 + RECORD_SIZE);
	assert_int_equal(record_open_read(tmp_path("oldhdr"), &r, &got), 0);
	assert_int_equal(got.header_size, RECORD_HDR_SIZE_V1);
	assert_memory_equal(got.boot_id, zero, sizeof(zero));
	assert_false(record_same_boot(&got));
	assert_int_equal(record_next(r, &e), 1);
	assert_memory_equal(&e, &want, sizeof(e));
	assert_int_equal(record_next(r, &e), 0);
	record_close_read(r);
}

static void test_header_only(void **state)
{
	unsigned char buf[RECORD_HDR_SIZE];
	struct record_reader *r;
	struct record_header hdr;
	struct tcpfsm_event e;

	write_bytes(tmp_path("hdronly"), buf, build_file(buf, 0));
	assert_int_equal(record_open_read(tmp_path("hdronly"), &r, &hdr), 0);
	assert_int_equal(record_next(r, &e), 0);
	record_close_read(r);
}

static void test_truncated_header(void **state)
{
	unsigned char buf[RECORD_HDR_SIZE];
	size_t cut[] = { 1, 8, 12, 16, 100, RECORD_HDR_SIZE_V1 - 1,
			 RECORD_HDR_SIZE_V1, RECORD_HDR_SIZE_BOOT - 1,
			 RECORD_HDR_SIZE_BOOT, RECORD_HDR_SIZE - 1 };
	char want[64];
	size_t i;

	build_file(buf, 0);
	for (i = 0; i < sizeof(cut) / sizeof(cut[0]); i++) {
		write_bytes(tmp_path("trunchdr"), buf, cut[i]);
		/* the version-1 minimum first, then the boot id, the filter */
		snprintf(want, sizeof(want), "truncated header (need %u bytes, have %zu)",
			 cut[i] < RECORD_HDR_SIZE_V1 ? RECORD_HDR_SIZE_V1 :
			 cut[i] < RECORD_HDR_SIZE_BOOT ? RECORD_HDR_SIZE_BOOT :
			 RECORD_HDR_SIZE, cut[i]);
		assert_int_equal(open_err(tmp_path("trunchdr"), want), -EBADMSG);
	}
}

static void test_truncated_record(void **state)
{
	unsigned char buf[RECORD_HDR_SIZE + 3 * RECORD_SIZE];
	struct record_reader *r;
	struct record_header hdr;
	struct tcpfsm_event e;
	char want[80];
	size_t n = build_file(buf, 3) - (RECORD_SIZE - 40);

	write_bytes(tmp_path("truncrec"), buf, n);
	assert_int_equal(record_open_read(tmp_path("truncrec"), &r, &hdr), 0);
	assert_int_equal(record_next(r, &e), 1);
	assert_int_equal(record_next(r, &e), 1);
	assert_int_equal(record_next(r, &e), -EBADMSG);
	snprintf(want, sizeof(want), "truncated record at offset %u (need 112 bytes, have 40)",
		 RECORD_HDR_SIZE + 2 * RECORD_SIZE);
	assert_string_equal(record_error(r), want);
	/* sticky, and never a crash */
	assert_int_equal(record_next(r, &e), -EBADMSG);
	record_close_read(r);
}

static void test_bad_magic(void **state)
{
	unsigned char buf[RECORD_HDR_SIZE + RECORD_SIZE];
	size_t n = build_file(buf, 1);

	buf[0] = 'X';
	write_bytes(tmp_path("magic"), buf, n);
	assert_int_equal(open_err(tmp_path("magic"), "bad magic"), -EBADMSG);
	/* too short to hold the magic, and not a prefix of it */
	write_bytes(tmp_path("magic"), "TCPX", 4);
	assert_int_equal(open_err(tmp_path("magic"), "bad magic"), -EBADMSG);
	/* text, as if a table output was replayed */
	write_bytes(tmp_path("magic"), "TIME  PID COMM\n", 15);
	assert_int_equal(open_err(tmp_path("magic"), "bad magic"), -EBADMSG);
}

static void test_bad_version(void **state)
{
	unsigned char buf[RECORD_HDR_SIZE + RECORD_SIZE];
	size_t n = build_file(buf, 1);

	buf[8] = 3;
	write_bytes(tmp_path("version"), buf, n);
	assert_int_equal(open_err(tmp_path("version"), "unsupported version 3"),
			 -EBADMSG);
	/* the version is judged even in a header cut short */
	write_bytes(tmp_path("version"), buf, 20);
	assert_int_equal(open_err(tmp_path("version"), "unsupported version 3"),
			 -EBADMSG);
}

static void test_bad_record_size(void **state)
{
	unsigned char buf[RECORD_HDR_SIZE + RECORD_SIZE];
	size_t n = build_file(buf, 1);

	buf[12] = 96;
	write_bytes(tmp_path("recsize"), buf, n);
	assert_int_equal(open_err(tmp_path("recsize"),
				  "record size 96 does not match 112"),
			 -EBADMSG);
}

static void test_bad_header_size(void **state)
{
	unsigned char buf[RECORD_HDR_SIZE + RECORD_SIZE];
	size_t n = build_file(buf, 1);

	buf[10] = 100;
	buf[11] = 0;
	write_bytes(tmp_path("hdrsize"), buf, n);
	assert_int_equal(open_err(tmp_path("hdrsize"), "bad header size 100"),
			 -EBADMSG);
}

/* A longer header (a later revision's extra fields) is skipped. */
static void test_longer_header(void **state)
{
	unsigned char buf[RECORD_HDR_SIZE + 16 + RECORD_SIZE];
	struct tcpfsm_event e, want;
	struct record_reader *r;
	struct record_header hdr;

	build_file(buf, 0);
	buf[10] = (RECORD_HDR_SIZE + 16) & 0xff;
	buf[11] = (RECORD_HDR_SIZE + 16) >> 8;
	memset(buf + RECORD_HDR_SIZE, 0xee, 16);
	make_event(&want, 5);
	record_encode(buf + RECORD_HDR_SIZE + 16, &want);
	write_bytes(tmp_path("longhdr"), buf, sizeof(buf));
	assert_int_equal(record_open_read(tmp_path("longhdr"), &r, &hdr), 0);
	assert_int_equal(hdr.header_size, RECORD_HDR_SIZE + 16);
	assert_int_equal(record_next(r, &e), 1);
	assert_memory_equal(&e, &want, sizeof(e));
	assert_int_equal(record_next(r, &e), 0);
	record_close_read(r);

	/* ... but a header promising more than the file holds is truncated */
	write_bytes(tmp_path("longhdr"), buf, RECORD_HDR_SIZE + 8);
	assert_int_equal(open_err(tmp_path("longhdr"), "truncated header"),
			 -EBADMSG);
}

static void test_bad_kind(void **state)
{
	unsigned char buf[RECORD_HDR_SIZE + 3 * RECORD_SIZE];
	size_t n = build_file(buf, 3);
	struct record_reader *r;
	struct record_header hdr;
	struct tcpfsm_event e;

	char want[80];

	/* between the kernel's kinds and tcpfsm's own (RECORD_EV_*) */
	buf[RECORD_HDR_SIZE + RECORD_SIZE + 56] = RECORD_EV_SEED - 1;	/* second record */
	write_bytes(tmp_path("kind"), buf, n);
	assert_int_equal(record_open_read(tmp_path("kind"), &r, &hdr), 0);
	assert_int_equal(record_next(r, &e), 1);
	assert_int_equal(record_next(r, &e), -EBADMSG);
	snprintf(want, sizeof(want), "record at offset %u: kind %u out of range",
		 RECORD_HDR_SIZE + RECORD_SIZE, RECORD_EV_SEED - 1);
	assert_string_equal(record_error(r), want);
	/* the bad record was consumed: the reader may skip it */
	assert_int_equal(record_next(r, &e), 1);
	assert_int_equal(e.sport, 40002);
	assert_string_equal(record_error(r), "");
	assert_int_equal(record_next(r, &e), 0);
	record_close_read(r);
}

/* A version-2 header's filter is checked: nothing out of range reaches a replay. */
static void test_bad_filter(void **state)
{
	static const size_t off[] = { 184, 185, 186, 187, 188, 256, 257 };
	static const uint8_t val[] = { 7, 9, 9, 17, 2, 3, 200 };
	unsigned char buf[RECORD_HDR_SIZE];
	struct record_header hdr;
	char err[96];
	size_t i;

	for (i = 0; i < sizeof(off) / sizeof(off[0]); i++) {
		build_file(buf, 0);
		buf[187] = 1;	/* one address, so that its family and prefix count */
		buf[256] = 2;
		buf[257] = 24;
		assert_int_equal(record_parse_header(buf, sizeof(buf), &hdr, err,
						     sizeof(err)), 0);
		buf[off[i]] = val[i];
		assert_int_equal(record_parse_header(buf, sizeof(buf), &hdr, err,
						     sizeof(err)), -EBADMSG);
		assert_string_equal(err, "bad filter in the header");
	}
}

static void test_check(void **state)
{
	struct tcpfsm_event e;
	char why[96];

	make_event(&e, 0);
	assert_int_equal(record_check(&e), 0);
	assert_int_equal(record_check_msg(&e, why, sizeof(why)), 0);
	assert_string_equal(why, "");

	e.kind = 0;
	assert_int_equal(record_check_msg(&e, why, sizeof(why)), -EINVAL);
	assert_string_equal(why, "kind 0 out of range");
	e.kind = TCPFSM_EV_KIND_MAX;
	assert_int_equal(record_check(&e), -EINVAL);
	e.kind = TCPFSM_EV_STATE;

	e.oldstate = TCPFSM_ST_MAX;
	assert_int_equal(record_check_msg(&e, why, sizeof(why)), -EINVAL);
	assert_string_equal(why, "oldstate 13 out of range");
	e.oldstate = TCPFSM_ST_LISTEN;
	e.newstate = 200;
	assert_int_equal(record_check_msg(&e, why, sizeof(why)), -EINVAL);
	assert_string_equal(why, "newstate 200 out of range");
	e.newstate = TCPFSM_ST_CLOSE;

	e.family = 1;
	assert_int_equal(record_check_msg(&e, why, sizeof(why)), -EINVAL);
	assert_string_equal(why, "family 1 is neither AF_INET nor AF_INET6");
	e.family = 10;
	assert_int_equal(record_check(&e), 0);
	/* a tiny buffer is safe */
	e.kind = 99;
	assert_int_equal(record_check_msg(&e, why, 4), -EINVAL);
	assert_string_equal(why, "kin");
}

static void test_missing_file(void **state)
{
	assert_int_equal(open_err(tmp_path("does-not-exist"), "No such file"),
			 -ENOENT);
}

/* Writing to a full device reports the error at close, not silently. */
static void test_write_error(void **state)
{
	struct record_writer *w;
	struct record_header hdr;
	struct tcpfsm_event e;
	int i, ret = 0, fds[2];

	if (access("/dev/full", W_OK))
		skip();
	make_event(&e, 1);
	record_header_now(&hdr, 0);
	/* the header is written at once: the first write fails already */
	assert_int_equal(record_open_fd(open("/dev/full", O_WRONLY | O_CLOEXEC),
					true, &hdr, &w), -ENOSPC);
	assert_null(w);
	/* a writer that got its header out, then fails */
	signal(SIGPIPE, SIG_IGN);
	assert_int_equal(pipe(fds), 0);
	assert_int_equal(record_open_fd(fds[1], true, &hdr, &w), 0);
	close(fds[0]);
	for (i = 0; i < 1000 && !ret; i++)
		ret = record_write(w, &e, 1);
	assert_int_equal(ret, -EPIPE);
	assert_int_equal(record_write(w, &e, 1), -EPIPE);
	assert_int_equal(record_close(w), -EPIPE);
}

/* Every prefix of a valid file and random corruption: no crash, sane codes. */
static void test_every_prefix_and_noise(void **state)
{
	unsigned char buf[RECORD_HDR_SIZE + 4 * RECORD_SIZE];
	size_t n = build_file(buf, 4), cut;
	struct record_reader *r;
	struct record_header hdr;
	struct tcpfsm_event e;
	int ret, got, i, j;

	for (cut = 0; cut <= n; cut += 7) {
		write_bytes(tmp_path("prefix"), buf, cut);
		ret = record_open_read(tmp_path("prefix"), &r, &hdr);
		assert_int_equal(ret, cut < RECORD_HDR_SIZE ? -EBADMSG : 0);
		assert_int_equal(record_error(r)[0] != '\0', ret != 0);
		for (i = 0; !ret && i < 10; i++) {
			ret = record_next(r, &e);
			if (ret <= 0)
				break;
			ret = 0;
		}
		if (cut >= RECORD_HDR_SIZE)
			assert_int_equal(ret, (cut - RECORD_HDR_SIZE) %
						      RECORD_SIZE ? -EBADMSG : 0);
		record_close_read(r);
	}
	/* only the documented codes, and a message exactly with an error */
	srand(1);
	for (i = 0; i < 200; i++) {
		build_file(buf, 4);
		for (j = 0; j < 8; j++)
			buf[rand() % n] = rand();
		write_bytes(tmp_path("noise"), buf, n - rand() % 50);
		ret = record_open_read(tmp_path("noise"), &r, &hdr);
		assert_true(ret == 0 || ret == -EBADMSG);
		assert_int_equal(record_error(r)[0] != '\0', ret != 0);
		/* read on past bad records, as far as 10, until the end */
		for (j = 0; !ret && j < 10; j++) {
			got = record_next(r, &e);
			assert_true(got == 1 || got == 0 || got == -EBADMSG);
			assert_int_equal(record_error(r)[0] != '\0', got < 0);
			if (!got)
				break;
		}
		record_close_read(r);
	}
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
		cmocka_unit_test(test_round_trip),
		cmocka_unit_test(test_layout),
		cmocka_unit_test(test_empty_file),
		cmocka_unit_test(test_boot_id),
		cmocka_unit_test(test_header_only),
		cmocka_unit_test(test_truncated_header),
		cmocka_unit_test(test_truncated_record),
		cmocka_unit_test(test_bad_magic),
		cmocka_unit_test(test_bad_version),
		cmocka_unit_test(test_bad_record_size),
		cmocka_unit_test(test_bad_header_size),
		cmocka_unit_test(test_longer_header),
		cmocka_unit_test(test_bad_kind),
		cmocka_unit_test(test_bad_filter),
		cmocka_unit_test(test_check),
		cmocka_unit_test(test_missing_file),
		cmocka_unit_test(test_write_error),
		cmocka_unit_test(test_every_prefix_and_noise),
	};

	return cmocka_run_group_tests(tests, setup, teardown);
}
