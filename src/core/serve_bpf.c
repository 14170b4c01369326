// SPDX-License-Identifier: GPL-2.0 OR BSD-2-Clause
#include <errno.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <bpf/bpf.h>
#include <bpf/libbpf.h>
#include "loader.h"
#include "serve_bpf.h"
#include "serve.skel.h"

struct serve_bpf {
	struct serve_kern *skel;
	int ncpu;
	bool minisocks;
	unsigned int hz;
	void *gpercpu;		/* --by: one group per possible CPU */
	int by;			/* TCPFSM_SERVE_BY_* */
	struct tcpfsm_serve_twcpu *twcpu;	/* one per possible CPU */
	uint64_t tw_gen;	/* the timewait entries' count at the last walk */
	uint64_t tw_left;	/* entries that walk left to look at again */
};

/* -v: libbpf's own messages on stderr (its print callback has no context) */
static bool verbose;

static int libbpf_print(enum libbpf_print_level level, const char *fmt,
			va_list ap)
{
	if (!verbose)
		return 0;
	return vfprintf(stderr, fmt, ap);
}

/*
 * A group inserted from user space. The table is not preallocated; its
 * allocator hands each CPU one element of this size up front and refills
 * from an irq_work (Linux 6.1): a second insert right after the first can
 * find the CPU's cache empty (ENOMEM, seen in a QEMU guest) until that
 * runs. So ENOMEM is retried, 100 times at most, 1 ms apart.
 */
static int add_group(int fd, uint32_t key, const void *zeroes)
{
	int i;

	for (i = 0;; i++) {
		if (!bpf_map_update_elem(fd, &key, zeroes, BPF_NOEXIST))
			return 0;
		if (errno != ENOMEM || i == 100)
			return -errno;
		usleep(1000);
	}
}

int serve_bpf_open(struct serve_bpf **out, const struct serve_bpf_opts *o,
		   char *err, size_t errlen, char *warn, size_t warnlen)
{
	struct serve_bpf *b = calloc(1, sizeof(*b));
	uint64_t tw_fn = 0, req_fn = 0;
	int ret;

	*warn = '\0';
	if (!b) {
		snprintf(err, errlen, "out of memory");
		return -ENOMEM;
	}
	verbose = o->verbose;
	libbpf_set_print(libbpf_print);
	b->ncpu = libbpf_num_possible_cpus();
	if (b->ncpu <= 0) {
		ret = b->ncpu ? b->ncpu : -EINVAL;
		snprintf(err, errlen, "cannot count the CPUs: %s", strerror(-ret));
		goto fail;
	}
	b->twcpu = calloc(b->ncpu, sizeof(*b->twcpu));
	if (!b->twcpu) {
		ret = -ENOMEM;
		snprintf(err, errlen, "%s", strerror(ENOMEM));
		goto fail;
	}
	b->skel = serve_kern__open();
	if (!b->skel) {
		ret = -errno;
		snprintf(err, errlen, "cannot open the BPF object: %s", strerror(-ret));
		goto fail;
	}
	b->skel->rodata->filt_netns = o->netns;
	{
		uint64_t tick = jiffy_ns();

		/* HZ, rounded: 1e9 / TICK_NSEC */
		b->hz = tick ? (unsigned int)((1000000000u + tick / 2) / tick) : 0;
	}
	b->skel->rodata->hz = b->hz;
	if (!o->no_minisocks) {
		static const char *const names[] = { "tw_timer_handler",
						     "reqsk_timer_handler",
						     "tcp_v4_rcv", "tcp_v6_rcv" };
		uint64_t addr[4], ends[4];

		kallsyms_lookup("/proc/kallsyms", names, addr, ends, 4);
		tw_fn = addr[0];
		req_fn = addr[1];
		/* an orphaned FIN_WAIT2 minisocket's FIN, freed in these */
		if (addr[2] && ends[2]) {
			b->skel->rodata->v4_rcv_lo = addr[2];
			b->skel->rodata->v4_rcv_hi = ends[2];
			if (addr[3] && ends[3]) {
				b->skel->rodata->v6_rcv_lo = addr[3];
				b->skel->rodata->v6_rcv_hi = ends[3];
			}
		}
		if (!tw_fn || !req_fn)
			snprintf(warn, warnlen,
				 "tw_timer_handler/reqsk_timer_handler not in "
				 "/proc/kallsyms (needs CAP_SYSLOG, or kptr_restrict "
				 "hides them): TIME_WAIT and half-open SYN_RECV are "
				 "counted only at reconciliation");
	}
	if (tw_fn && req_fn) {
		b->skel->rodata->tw_timer_fn = tw_fn;
		b->skel->rodata->req_timer_fn = req_fn;
		b->minisocks = true;
	} else {
		bpf_program__set_autoload(b->skel->progs.serve_timer_start, false);
		bpf_program__set_autoload(b->skel->progs.serve_timer_cancel, false);
	}
	if (!b->minisocks || !b->skel->rodata->v4_rcv_lo) {
		b->skel->rodata->v4_rcv_lo = 0;
		bpf_program__set_autoload(b->skel->progs.serve_kfree_skb, false);
	}
	/* for the tests: the FIN found by 4-tuple, as before 6.11, on any kernel */
	if (getenv("TCPFSM_TEST_NO_RX_SK"))
		b->skel->rodata->use_rx_sk = false;
	b->by = o->by;
	b->skel->rodata->by_mode = o->by;
	if (o->by) {
		bpf_map__set_max_entries(b->skel->maps.groups, o->max_groups + 2);
		b->gpercpu = calloc(b->ncpu, sizeof(struct tcpfsm_serve_group));
		if (!b->gpercpu) {
			ret = -ENOMEM;
			snprintf(err, errlen, "out of memory");
			goto fail;
		}
	}
	if (o->by != TCPFSM_SERVE_BY_LPORT)
		bpf_map__set_max_entries(b->skel->maps.listen_ports, 1);
	if (o->max_tw) {
		bpf_map__set_max_entries(b->skel->maps.tw_state, o->max_tw);
		bpf_map__set_max_entries(b->skel->maps.tw_tuple, o->max_tw);
	}
	if (o->max_req)
		bpf_map__set_max_entries(b->skel->maps.req_state, o->max_req);
	ret = serve_kern__load(b->skel);
	if (ret) {
		snprintf(err, errlen,
			 "the kernel refused the BPF program: %s (run with -v "
			 "for the verifier's log; needs BTF, CAP_BPF and "
			 "CAP_PERFMON, Linux 5.12 or later)", strerror(-ret));
		goto fail;
	}
	if (o->by) {
		/* other always exists, to take the overflow; so does lport's
		 * ephemeral (cgroup's unknown: minisockets start there) */
		uint32_t keys[2] = { TCPFSM_SERVE_GROUP_OTHER, TCPFSM_SERVE_GROUP_EPHEMERAL };
		int k;

		memset(b->gpercpu, 0, b->ncpu * sizeof(struct tcpfsm_serve_group));
		for (k = 0; k < (o->by == TCPFSM_SERVE_BY_NETNS ? 1 : 2); k++) {
			ret = add_group(bpf_map__fd(b->skel->maps.groups), keys[k],
					b->gpercpu);
			if (ret) {
				snprintf(err, errlen, "cannot make the group table: %s",
					 strerror(-ret));
				goto fail;
			}
		}
	}
	ret = serve_kern__attach(b->skel);
	if (ret) {
		snprintf(err, errlen, "cannot attach to the tracepoints: %s",
			 strerror(-ret));
		goto fail;
	}
	*out = b;
	return 0;
fail:
	serve_bpf_close(b);
	return ret;
}

void serve_bpf_close(struct serve_bpf *b)
{
	if (!b)
		return;
	serve_kern__destroy(b->skel);
	free(b->gpercpu);
	free(b->twcpu);
	free(b);
}

bool serve_bpf_has_minisocks(const struct serve_bpf *b)
{
	return b->minisocks;
}

unsigned int serve_bpf_hz(const struct serve_bpf *b)
{
	return b->hz;
}

int serve_bpf_sk_map(const struct serve_bpf *b, uint32_t *id)
{
	struct bpf_map_info info = { 0 };
	uint32_t len = sizeof(info);
	int fd = bpf_map__fd(b->skel->maps.sk_state);

	if (bpf_obj_get_info_by_fd(fd, &info, &len))
		return -errno;
	*id = info.id;
	return fd;
}

/*
 * Is the program open as fd a running serve's set_state hook, watching
 * namespace netns (its --netns, or all)? Then its socket-local storage
 * map, checked for what serve keeps there: its fd (and id); -ENOENT if
 * not.
 */
#define RO_NETNS_END (offsetof(struct serve_kern__rodata, filt_netns) + sizeof(uint32_t))

static int sk_map_of_prog(int prog_fd, uint32_t netns, uint32_t *id)
{
	struct bpf_prog_info pi = { 0 };
	uint32_t len = sizeof(pi), ids[64], n, i, sk_id = 0;
	uint32_t filt_netns = 0;
	/* the section's size, not the skeleton struct's (padded at its end) */
	char ro[sizeof(struct serve_kern__rodata)] __attribute__((aligned(8)));
	bool have_ro = false;
	int sk_fd = -1;

	if (bpf_obj_get_info_by_fd(prog_fd, &pi, &len))
		return -errno;
	if (strcmp(pi.name, "serve_set_state") || pi.type != BPF_PROG_TYPE_TRACING)
		return -ENOENT;
	n = pi.nr_map_ids < 64 ? pi.nr_map_ids : 64;
	memset(&pi, 0, sizeof(pi));
	pi.nr_map_ids = n;
	pi.map_ids = (uint64_t)(uintptr_t)ids;
	len = sizeof(pi);
	if (bpf_obj_get_info_by_fd(prog_fd, &pi, &len))
		return -errno;
	for (i = 0; i < n && i < pi.nr_map_ids; i++) {
		struct bpf_map_info mi = { 0 };
		uint32_t mlen = sizeof(mi);
		int fd = bpf_map_get_fd_by_id(ids[i]);

		if (fd < 0)
			continue;
		if (bpf_obj_get_info_by_fd(fd, &mi, &mlen)) {
			close(fd);
			continue;
		}
		/* its constants: the namespace it watches (0: every one) */
		if (mi.type == BPF_MAP_TYPE_ARRAY && !strcmp(mi.name, "serve_ke.rodata") &&
		    mi.value_size >= RO_NETNS_END && mi.value_size <= sizeof(ro)) {
			uint32_t key = 0;

			if (!bpf_map_lookup_elem(fd, &key, ro)) {
				memcpy(&filt_netns, ro + offsetof(struct serve_kern__rodata,
								  filt_netns),
				       sizeof(filt_netns));
				have_ro = true;
			}
		} else if (mi.type == BPF_MAP_TYPE_SK_STORAGE &&
			   !strcmp(mi.name, "sk_state") &&
			   mi.value_size == sizeof(struct tcpfsm_serve_sk) && sk_fd < 0) {
			sk_fd = fd;
			sk_id = mi.id;
			continue;
		}
		close(fd);
	}
	if (sk_fd >= 0 && have_ro && (!filt_netns || !netns || filt_netns == netns)) {
		*id = sk_id;
		return sk_fd;
	}
	if (sk_fd >= 0)
		close(sk_fd);
	return -ENOENT;
}

int serve_bpf_find_sk_map(uint32_t netns, uint32_t *id, unsigned int *nfound)
{
	uint32_t prog_id = 0;
	int best = -ENOENT;

	*nfound = 0;
	/* ids rise with loading: the first found is the oldest serve */
	for (;;) {
		uint32_t map_id;
		int pfd, fd;

		if (bpf_prog_get_next_id(prog_id, &prog_id)) {
			if (errno == ENOENT)
				break;
			if (best < 0)
				best = -errno;
			break;
		}
		pfd = bpf_prog_get_fd_by_id(prog_id);
		if (pfd < 0)
			continue;	/* unloaded meanwhile */
		fd = sk_map_of_prog(pfd, netns, &map_id);
		close(pfd);
		if (fd < 0)
			continue;
		++*nfound;
		if (best >= 0) {
			close(fd);
			continue;
		}
		best = fd;
		*id = map_id;
	}
	return best;
}

/* Per-CPU values of one element, summed as __u64 words. */
static int read_sum(struct serve_bpf *b, int fd, uint32_t key, void *out,
		    size_t size)
{
	size_t stride = (size + 7) & ~7ul, words = size / 8, i;
	uint64_t *sum = out;
	char *buf = malloc(stride * b->ncpu); /* callers run in two threads */
	int cpu;

	if (!buf)
		return -ENOMEM;
	if (bpf_map_lookup_elem(fd, &key, buf)) {
		free(buf);
		return -errno;
	}
	memset(out, 0, size);
	for (cpu = 0; cpu < b->ncpu; cpu++) {
		const uint64_t *v = (const uint64_t *)(buf + cpu * stride);

		for (i = 0; i < words; i++)
			sum[i] += v[i]; /* the signed gauges add up as well */
	}
	free(buf);
	return 0;
}

int serve_bpf_read(struct serve_bpf *b, struct serve_totals *t)
{
	return read_sum(b, bpf_map__fd(b->skel->maps.counters), 0, &t->c,
			sizeof(t->c));
}

int serve_bpf_read_groups(struct serve_bpf *b, serve_group_cb cb, void *ctx)
{
	int fd = bpf_map__fd(b->skel->maps.groups), ret, cpu;
	uint32_t key, next, *prev = NULL;
	struct tcpfsm_serve_group sum;

	if (!b->by)
		return 0;
	while (!bpf_map_get_next_key(fd, prev, &next)) {
		key = next;
		prev = &key;
		if (bpf_map_lookup_elem(fd, &key, b->gpercpu))
			continue;
		memset(&sum, 0, sizeof(sum));
		for (cpu = 0; cpu < b->ncpu; cpu++) {
			const uint64_t *v = (const uint64_t *)((char *)b->gpercpu +
							       cpu * sizeof(sum));
			uint64_t *o = (uint64_t *)&sum;
			size_t i;

			for (i = 0; i < sizeof(sum) / 8; i++)
				o[i] += v[i];
		}
		ret = cb(ctx, key, &sum);
		if (ret)
			return ret;
	}
	return errno == ENOENT ? 0 : -errno;
}

int serve_bpf_add_group(struct serve_bpf *b, uint32_t key)
{
	memset(b->gpercpu, 0, b->ncpu * sizeof(struct tcpfsm_serve_group));
	if (bpf_map_update_elem(bpf_map__fd(b->skel->maps.groups), &key, b->gpercpu,
				BPF_NOEXIST) && errno != EEXIST)
		return -errno;
	return 0;
}

int serve_bpf_add_listen_port(struct serve_bpf *b, uint16_t port)
{
	uint32_t key = port, one = 1;

	if (b->by != TCPFSM_SERVE_BY_LPORT || !port)
		return 0;
	if (bpf_map_update_elem(bpf_map__fd(b->skel->maps.listen_ports), &key, &one,
				BPF_NOEXIST) && errno != EEXIST)
		return -errno;
	return 0;
}

int serve_bpf_refresh(struct serve_bpf *b, const uint64_t stuck_ns[16],
		      struct tcpfsm_serve_ages *ages)
{
	LIBBPF_OPTS(bpf_test_run_opts, opts);
	int i;

	uint32_t zero = 0;
	uint64_t gen = 0;
	bool walk = true;

	for (i = 0; i < 16; i++)
		b->skel->bss->stuck_ns[i] = stuck_ns[i];
	/* walk the timewait table only when it may hold entries to look at */
	if (!bpf_map_lookup_elem(bpf_map__fd(b->skel->maps.tw_pending), &zero,
				 b->twcpu)) {
		for (i = 0; i < b->ncpu; i++)
			gen += b->twcpu[i].gen;
		walk = gen != b->tw_gen || b->tw_left;
	}
	b->skel->data->walk_tw = walk;
	if (bpf_prog_test_run_opts(bpf_program__fd(b->skel->progs.serve_refresh),
				   &opts))
		return -errno;
	if (walk) {
		b->tw_gen = gen;
		b->tw_left = b->skel->bss->tw_left;
	}
	memcpy(ages, (const void *)&b->skel->bss->mini_ages, sizeof(*ages));
	return 0;
}

const char *serve_bpf_lib_version(void)
{
	return libbpf_version_string();
}
