// SPDX-License-Identifier: GPL-2.0 OR BSD-2-Clause
/*
 * libFuzzer target for recorded files, the other untrusted input tcpfsm
 * reads: any bytes, as the FILE of `tcpfsm trace|life|stats --replay FILE`.
 *
 * Each input is written to a memfd and replayed three times, through the
 * commands' own entry points (cmd_trace, cmd_life, cmd_stats: option
 * parsing, pipe_run, the recording's event source and its record reader,
 * the reorder buffer, the lifecycle engine and each command's formatter),
 * exactly as the CLI runs
 * them; nothing is copied or stubbed. What they print goes to /dev/null
 * (stdout is redirected once, at start; libFuzzer's -close_fd_mask=2 does
 * stderr).
 *
 * The options come from the header's reserved word (offset 36, 4 bytes,
 * little-endian), which the reader ignores, so the input is still just a
 * recording and the seeds stay valid ones; 0 (or a file too short to hold
 * it) is the plain commands. See the O_* bits below.
 *
 * Checks: no crash, leak, hang (run with -timeout), ASan or UBSan report;
 * each command exits 0 or 1, never 2 (the harness's options are valid);
 * and, unless --count or --duration may stop it early, exits 0 exactly
 * when the reader takes the whole file (a damaged file is never a silent
 * success, a sound one never a failure). Built and run by tools/fuzz.sh.
 */
#include <fcntl.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>
#include "commands.h"
#include "record.h"

int LLVMFuzzerInitialize(int *argc, char ***argv);
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

/* option bits, from the header's reserved word */
#define O_JSON		(1u << 0)
#define O_TS_SHIFT	1		/* 2 bits: 0 wall, 1 mono, 2 rel, 3 iso */
#define O_STUCK		(1u << 3)	/* --stuck, every state, 1 ms */
#define O_MAX_CONNS	(1u << 4)	/* --max-conns 16: eviction */
#define O_COUNT		(1u << 5)	/* -c 3 */
#define O_DURATION	(1u << 6)	/* -d 1s */
#define O_STATE		(1u << 7)	/* --state CLOSE_WAIT,TIME_WAIT */
#define O_FAM_SHIFT	8		/* 2 bits: 1 -4, 2 -6, 3 --addr */
#define O_PORTS		(1u << 10)	/* --lport, --rport */
#define O_PID		(1u << 11)	/* --pid 1 */
#define O_COMM		(1u << 12)	/* --comm python3 */
#define O_NETNS		(1u << 13)	/* --netns 4026531840 */
#define O_BY_SHIFT	14		/* 3 bits: stats --by, 0 and 7 none */
#define O_INTERVAL	(1u << 17)	/* stats --interval 100ms */
#define O_LISTENERS	(1u << 18)	/* life --listeners */
#define O_WIDE		(1u << 19)	/* -w: NETNS column, whole addresses */

#define RESERVED_OFF 36
#define MAX_ARGS 40

static int memfd = -1;
static char path[64];

int LLVMFuzzerInitialize(int *argc, char ***argv)
{
	int null;

	(void)argc;
	(void)argv;
	memfd = memfd_create("fuzz_replay", MFD_CLOEXEC);
	null = open("/dev/null", O_WRONLY | O_CLOEXEC);
	if (memfd < 0 || null < 0 || dup2(null, STDOUT_FILENO) < 0)
		abort();
	close(null);
	/* the replay opens it by name, as it would a file */
	snprintf(path, sizeof(path), "/proc/self/fd/%d", memfd);
	return 0;
}

static uint32_t get_le32(const uint8_t *p)
{
	return (uint32_t)p[0] | (uint32_t)p[1] << 8 | (uint32_t)p[2] << 16 |
	       (uint32_t)p[3] << 24;
}

/* Does the reader take the whole file, header and every record? */
static bool file_is_sound(void)
{
	struct record_reader *r = NULL;
	struct record_header hdr;
	struct tcpfsm_event e;
	int ret = record_open_read(path, &r, &hdr);

	while (!ret && (ret = record_next(r, &e)) == 1)
		ret = 0;
	record_close_read(r);
	return ret == 0;
}

struct args {
	int argc;
	char *argv[MAX_ARGS + 1];
};

static void add(struct args *a, const char *s)
{
	if (a->argc >= MAX_ARGS)
		abort();
	a->argv[a->argc++] = (char *)s;	/* getopt permutes argv, not strings */
	a->argv[a->argc] = NULL;
}

/* the options one bit turns on, each with its value */
static const struct {
	uint32_t bit;
	const char *opt, *val;
} valued[] = {
	{ O_STUCK, "--stuck", "ESTABLISHED=1ms,SYN_SENT=1ms,SYN_RECV=1ms,FIN_WAIT1=1ms,"
			      "FIN_WAIT2=1ms,TIME_WAIT=1ms,CLOSE_WAIT=1ms,LAST_ACK=1ms,"
			      "LISTEN=1ms,CLOSING=1ms" },
	{ O_MAX_CONNS, "--max-conns", "16" },
	{ O_COUNT, "-c", "3" },
	{ O_DURATION, "-d", "1s" },
	{ O_STATE, "--state", "CLOSE_WAIT,TIME_WAIT" },
	{ O_PORTS, "--lport", "18080,18081" },
	{ O_PORTS, "--rport", "18080,18082" },
	{ O_PID, "--pid", "1" },
	{ O_COMM, "--comm", "python3" },
	{ O_NETNS, "--netns", "4026531840" },
};

static void common_args(struct args *a, const char *cmd, uint32_t o)
{
	static const char *const ts[] = { "wall", "mono", "rel", "iso" };
	unsigned int fam = (o >> O_FAM_SHIFT) & 3;
	size_t i;

	a->argc = 0;
	add(a, cmd);
	add(a, "--replay");
	add(a, path);
	if (o & O_JSON)
		add(a, "--json");
	if (o & O_WIDE)
		add(a, "-w");
	add(a, "-T");
	add(a, ts[(o >> O_TS_SHIFT) & 3]);
	for (i = 0; i < sizeof(valued) / sizeof(valued[0]); i++) {
		if (o & valued[i].bit) {
			add(a, valued[i].opt);
			add(a, valued[i].val);
		}
	}
	if (fam == 1)
		add(a, "-4");
	else if (fam == 2)
		add(a, "-6");
	else if (fam == 3) {
		add(a, "--addr");
		add(a, "127.0.0.0/8,::1");
	}
}

static void check(int ret, uint32_t o, bool sound)
{
	/* 2 would be a usage error: the harness's own mistake */
	if (ret != 0 && ret != 1)
		abort();
	/* stopped early, it may not have read the damage */
	if (o & (O_COUNT | O_DURATION))
		return;
	if ((ret == 0) != sound)
		abort();
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static const char *const by[] = { NULL, "lport", "rport", "raddr",
					  "comm", "pid", "cgroup", NULL };
	uint32_t o = size >= RESERVED_OFF + 4 ? get_le32(data + RESERVED_OFF) : 0;
	const char *by_key = by[(o >> O_BY_SHIFT) & 7];
	struct args a;
	bool sound;

	if (ftruncate(memfd, 0) || pwrite(memfd, data, size, 0) != (ssize_t)size)
		abort();
	sound = file_is_sound();

	common_args(&a, "trace", o);
	check(cmd_trace(a.argc, a.argv), o, sound);

	common_args(&a, "life", o);
	if (o & O_LISTENERS)
		add(&a, "--listeners");
	check(cmd_life(a.argc, a.argv), o, sound);

	common_args(&a, "stats", o);
	if (by_key) {
		add(&a, "--by");
		add(&a, by_key);
	}
	if (o & O_INTERVAL) {
		add(&a, "--interval");
		add(&a, "100ms");
	}
	check(cmd_stats(a.argc, a.argv), o, sound);
	return 0;
}
