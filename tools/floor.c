// SPDX-License-Identifier: GPL-2.0 OR BSD-2-Clause
/*
 * floor: attach tools/floor.bpf.c at one level and wait for SIGINT or
 * SIGTERM; for tools/bench-serve.sh (modes floor0, floor1, floor2).
 *
 *   floor LEVEL      0: hooks only; 1: count; 2: count and time per socket
 *
 * Says "attached" on stderr once the programs are in place, and on exit the
 * transitions and timer events it counted (a run that counted nothing did
 * not measure the work it claims to).
 */
#include <errno.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <linux/types.h>
#include <bpf/libbpf.h>
#include <bpf/bpf.h>
#include "floor.h"
#include "floor.skel.h"

static volatile sig_atomic_t stop;

static void on_signal(int sig)
{
	(void)sig;
	stop = 1;
}

/* a kernel function's address, from /proc/kallsyms; 0 if not there */
static unsigned long long ksym(const char *name)
{
	char line[256], sym[128];
	unsigned long long addr;
	FILE *f = fopen("/proc/kallsyms", "r");

	if (!f)
		return 0;
	while (fgets(line, sizeof(line), f)) {
		if (sscanf(line, "%llx %*c %127s", &addr, sym) == 2 && !strcmp(sym, name)) {
			fclose(f);
			return addr;
		}
	}
	fclose(f);
	return 0;
}

int main(int argc, char **argv)
{
	struct sigaction sa = { .sa_handler = on_signal };
	struct floor_counts *per_cpu;
	unsigned long long trans = 0, timers = 0;
	struct floor_bpf *skel;
	int level, ncpu, cpu, i, j, err;
	__u32 zero = 0;

	if (argc != 2 || !argv[1][0] || argv[1][1] || argv[1][0] < '0' || argv[1][0] > '2') {
		fprintf(stderr, "usage: floor 0|1|2\n");
		return 2;
	}
	level = argv[1][0] - '0';
	skel = floor_bpf__open();
	if (!skel) {
		fprintf(stderr, "floor: open: %s\n", strerror(errno));
		return 1;
	}
	skel->rodata->level = level;
	skel->rodata->tw_timer_fn = ksym("tw_timer_handler");
	skel->rodata->req_timer_fn = ksym("reqsk_timer_handler");
	err = floor_bpf__load(skel);
	if (!err)
		err = floor_bpf__attach(skel);
	if (err) {
		fprintf(stderr, "floor: load: %s\n", strerror(-err));
		floor_bpf__destroy(skel);
		return 1;
	}
	sigaction(SIGINT, &sa, NULL);
	sigaction(SIGTERM, &sa, NULL);
	fprintf(stderr, "floor: level %d attached\n", level);
	while (!stop)
		pause();

	ncpu = libbpf_num_possible_cpus();
	per_cpu = ncpu > 0 ? calloc(ncpu, sizeof(*per_cpu)) : NULL;
	if (per_cpu && !bpf_map_lookup_elem(bpf_map__fd(skel->maps.counts), &zero, per_cpu)) {
		for (cpu = 0; cpu < ncpu; cpu++) {
			for (i = 0; i < 16; i++)
				for (j = 0; j < 16; j++)
					trans += per_cpu[cpu].transitions[i][j];
			timers += per_cpu[cpu].timers;
		}
	}
	fprintf(stderr, "floor: %llu transitions, %llu minisocket timer events\n",
		trans, timers);
	free(per_cpu);
	floor_bpf__destroy(skel);
	return 0;
}
