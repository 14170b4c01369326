// SPDX-License-Identifier: GPL-2.0 OR BSD-2-Clause
#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>
#include <linux/capability.h>
#include <linux/membarrier.h>
#include <sys/epoll.h>
#include <sys/socket.h>
#include <sys/syscall.h>
#include <bpf/bpf.h>
#include <bpf/btf.h>
#include <bpf/libbpf.h>
#include "clock.h"
#include "loader.h"
#include "record.h"
#include "tcpfsm.skel.h"

#define DEFAULT_RINGBUF (16u << 20)

struct tracer {
	struct evsource src;	/* first: the pipeline's handle (evsource.h) */
	struct tcpfsm_bpf *skel;
	struct ring_buffer *rb;
	struct evsource_sink sink;
	uint64_t slack_ns;
	uint64_t lost_seen;	/* the lost count last delivered as a record */
	char msg[96];		/* why the last poll failed */
	uint64_t bad;
	bool minisocks;
	bool watched_ready;	/* live_watch_fd's fd polled readable */
};

/* Our tag for a watched fd in libbpf's epoll set (its rings use 0..n-1). */
#define WATCH_TAG UINT64_MAX

/* -v: libbpf's own messages on stderr (its print callback has no context) */
static bool verbose;

static int libbpf_print(enum libbpf_print_level level, const char *fmt,
			va_list ap)
{
	static const char log_fmt[] = "-- BEGIN PROG LOAD LOG --\n%s";
	char msg[1024];
	va_list copy;

	if (level == LIBBPF_WARN) {
		va_copy(copy, ap);
		/* libbpf 1.x's form: the program's name, then the log */
		if (strstr(fmt, log_fmt) && strstr(fmt, "%s") < strstr(fmt, log_fmt) &&
		    !strstr(strstr(fmt, log_fmt) + sizeof(log_fmt) - 1, "%")) {
			/*
			 * "prog '%s': -- BEGIN PROG LOAD LOG --\n%s-- END ...":
			 * the log can be megabytes and its last line is the
			 * reason: keep the log's tail, not the message's head.
			 */
			const char *log, *tail;

			(void)va_arg(copy, const char *); /* the program */
			log = va_arg(copy, const char *);
			tail = log + strlen(log);
			tail = tail - log > 512 ? tail - 512 : log;
			snprintf(msg, sizeof(msg),
				 "-- BEGIN PROG LOAD LOG --\n%s-- END PROG LOAD LOG --\n",
				 tail);
		} else {
			vsnprintf(msg, sizeof(msg), fmt, copy);
		}
		va_end(copy);
		tracer_note_libbpf(msg);
	}
	/* without -v our own checks say what failed, in one line */
	if (!verbose)
		return 0;
	return vfprintf(stderr, fmt, ap);
}

/*
 * Addresses of n kernel symbols from /proc/kallsyms, in one pass over its
 * ~100k lines; addrs[i] is 0 when names[i] is not there or its address is
 * hidden. Returns how many have an address: each name counts once (the
 * first match; kallsyms repeats some names), and a listed address of 0
 * is not one. kallsyms hides every address from a reader or none
 * (kptr_restrict), so the first 0 ends the search. ends (if not NULL)
 * gets where each found symbol's code ends: the next listed address above
 * it (kallsyms lists the kernel's text in address order), 0 if none.
 */
int kallsyms_lookup(const char *path, const char *const *names,
		    uint64_t *addrs, uint64_t *ends, int n)
{
	char line[512];
	int found = 0, open_ends = 0, i;
	FILE *f = fopen(path, "r");

	for (i = 0; i < n; i++) {
		addrs[i] = 0;
		if (ends)
			ends[i] = 0;
	}
	if (!f)
		return 0;
	/* "ffffffff81234567 t name [module]": one pass for every name */
	while ((found < n || open_ends) && fgets(line, sizeof(line), f)) {
		char *sym = strchr(line, ' '), *end;
		uint64_t addr;

		if (!sym || !sym[1] || sym[2] != ' ')
			continue;
		sym += 3;
		end = sym + strcspn(sym, " \t\n");
		addr = strtoull(line, NULL, 16);
		for (i = 0; ends && open_ends && i < n; i++)
			if (addrs[i] && !ends[i] && addr > addrs[i]) {
				ends[i] = addr;
				open_ends--;
			}
		for (i = 0; i < n; i++) {
			if (addrs[i] || strncmp(sym, names[i], end - sym) ||
			    names[i][end - sym])
				continue;
			if (!addr)
				goto out; /* hidden: so is every other */
			addrs[i] = addr;
			found++;
			if (ends)
				open_ends++;
		}
	}
out:
	fclose(f);
	return found;
}

/* Which of the capabilities BPF tracing needs are missing; "" if none. */
static const char *missing_caps(void)
{
	struct __user_cap_header_struct hdr = { _LINUX_CAPABILITY_VERSION_3, 0 };
	struct __user_cap_data_struct data[2];
	uint64_t eff;

	if (syscall(SYS_capget, &hdr, data))
		return geteuid() ? "root" : "";
	eff = data[0].effective | ((uint64_t)data[1].effective << 32);
	if (eff & (1ull << CAP_SYS_ADMIN))
		return "";
#ifndef CAP_BPF
#define CAP_PERFMON 38
#define CAP_BPF 39
#endif
	if ((eff & (1ull << CAP_BPF)) && (eff & (1ull << CAP_PERFMON)))
		return "";
	if (eff & (1ull << CAP_BPF))
		return "CAP_PERFMON";
	if (eff & (1ull << CAP_PERFMON))
		return "CAP_BPF";
	return "CAP_BPF and CAP_PERFMON (or root)";
}

/*
 * What can be checked without cost before the load: privileges, and that
 * the kernel has BTF at all. Whether it has the tracepoint is asked of its
 * BTF only when the load fails (explain_load_failure): parsing the vmlinux
 * BTF cost ~4 ms of a ~65 ms start, and libbpf parses it for the load.
 */
static int check_kernel(char *err, size_t errlen)
{
	const char *caps = missing_caps();

	if (*caps) {
		snprintf(err, errlen,
			 "tracing needs %s: run as root or grant the capabilities",
			 caps);
		return -EPERM;
	}
	if (access("/sys/kernel/btf/vmlinux", R_OK)) {
		snprintf(err, errlen,
			 "this kernel has no BTF (/sys/kernel/btf/vmlinux is missing): "
			 "tcpfsm needs CONFIG_DEBUG_INFO_BTF=y");
		return -ENOENT;
	}
	return 0;
}

/* The load failed with ret: say why in one line, as precisely as known. */
int tracer_explain_load_failure(int ret, char *err, size_t errlen)
{
	struct btf *btf;
	int id;

	if (tracer_explain_notes(ret, err, errlen))
		return ret;
	btf = btf__load_vmlinux_btf();
	if (!btf) {
		ret = -errno;
		snprintf(err, errlen, "cannot read the kernel's BTF: %s",
			 strerror(-ret));
		return ret;
	}
	id = btf__find_by_name_kind(btf, "btf_trace_inet_sock_set_state",
				    BTF_KIND_TYPEDEF);
	btf__free(btf);
	if (id < 0) {
		snprintf(err, errlen,
			 "tracepoint sock:inet_sock_set_state is missing from this "
			 "kernel's BTF (tcpfsm needs Linux 5.12 or later)");
		return -ENOENT;
	}
	snprintf(err, errlen,
		 "cannot load the BPF object: %s (run with -v for libbpf's "
		 "messages)", strerror(-ret));
	return ret;
}

/*
 * With the minisocket hooks: Fast Open children (their retransmit timer,
 * tcp_write_timer) and the FIN that turns an orphaned FIN_WAIT2 minisocket
 * TIME_WAIT (skb:kfree_skb inside tcp_v4_rcv or tcp_v6_rcv: their code's
 * bounds). addr/ends: tw_timer_handler, reqsk_timer_handler,
 * tcp_write_timer, tcp_v4_rcv, tcp_v6_rcv. Without tcp_v4_rcv's bounds the
 * FIN is not watched, and TIME_WAIT's start falls back to the timers.
 */
static void set_minisock_extras(struct tcpfsm_bpf *skel, const uint64_t *addr,
				const uint64_t *ends)
{
	skel->rodata->write_timer_fn = addr[2];
	if (!addr[3] || !ends[3])
		return;
	skel->rodata->v4_rcv_lo = addr[3];
	skel->rodata->v4_rcv_hi = ends[3];
	if (addr[4] && ends[4]) {
		skel->rodata->v6_rcv_lo = addr[4];
		skel->rodata->v6_rcv_hi = ends[4];
	}
	skel->rodata->fin_watch = true;
	/* for the tests: the pre-6.11 way (4-tuple alone) on any kernel */
	if (getenv("TCPFSM_TEST_NO_RX_SK"))
		skel->rodata->use_rx_sk = false;
}

/*
 * Nanoseconds per jiffy: the coarse clocks tick with jiffies, and the
 * kernel reports their resolution as TICK_NSEC (1e9 / CONFIG_HZ, rounded)
 * on every kernel since 2.6.32, unprivileged and without the kernel's
 * config file. 0 if the answer is not a plausible tick (HZ 24..10000).
 */
uint64_t jiffy_ns(void)
{
	struct timespec res;
	uint64_t ns;

	if (clock_getres(CLOCK_MONOTONIC_COARSE, &res))
		return 0;
	ns = (uint64_t)res.tv_sec * 1000000000u + res.tv_nsec;
	return ns >= 100000 && ns <= 41666667 ? ns : 0;
}

static int on_sample(void *ctx, void *data, size_t size)
{
	struct tracer *t = ctx;

	if (size < sizeof(struct tcpfsm_event)) {
		t->bad++;
		return 0;
	}
	t->sink.record(t->sink.ctx, data);
	return 0;
}

static int set_filters(struct tcpfsm_bpf *skel, const struct filter *f)
{
	int i;

	if (!f)
		return 0;
	skel->rodata->filt_family = f->family;
	skel->rodata->filt_netns = f->has_netns ? f->netns : 0;
	skel->rodata->filt_pid = f->has_pid ? f->pid : 0;
	skel->rodata->n_lports = f->n_lports;
	skel->rodata->n_rports = f->n_rports;
	for (i = 0; i < f->n_lports; i++)
		skel->rodata->lports[i] = f->lports[i];
	for (i = 0; i < f->n_rports; i++)
		skel->rodata->rports[i] = f->rports[i];
	skel->rodata->n_ports = f->n_ports;
	for (i = 0; i < f->n_ports; i++)
		skel->rodata->ports[i] = f->ports[i];
	skel->rodata->n_cidrs = f->n_addrs;
	for (i = 0; i < f->n_addrs; i++) {
		struct tcpfsm_cidr c;

		filter_cidr_bpf(&f->addrs[i], &c);
		memcpy((void *)&skel->rodata->cidrs[i], &c, sizeof(c));
	}
	return 0;
}

/*
 * Open the skeleton, hand it the filters and, with tw_fn and req_fn, the
 * minisocket timer programs; load. Returns 0 or -errno with err set.
 */
/* Programs of the minisocket timers: [0] with bpf_rdonly_cast, [1] without. */
static void timer_progs(struct tcpfsm_bpf *skel, struct bpf_program *p[2][3])
{
	p[0][0] = skel->progs.handle_timer_start;
	p[0][1] = skel->progs.handle_timer_cancel;
	p[0][2] = skel->progs.handle_timer_expire;
	p[1][0] = skel->progs.handle_timer_start_read;
	p[1][1] = skel->progs.handle_timer_cancel_read;
	p[1][2] = skel->progs.handle_timer_expire_read;
}

enum timers {
	TIMERS_OFF,
	TIMERS_CAST,	/* bpf_rdonly_cast: Linux 6.2+ */
	TIMERS_READ,	/* bpf_probe_read_kernel per field */
};

static int load_skel(struct tracer *t, const struct evsource_opts *o,
		     uint64_t tw_fn, uint64_t req_fn, const uint64_t *addr,
		     const uint64_t *ends, enum timers timers,
		     size_t rb_bytes, char *err, size_t errlen)
{
	struct bpf_program *progs[2][3];
	int ret, i, j;

	t->skel = tcpfsm_bpf__open();
	if (!t->skel) {
		ret = -errno;
		snprintf(err, errlen, "cannot open the BPF object: %s",
			 strerror(-ret));
		return ret;
	}
	set_filters(t->skel, o->filter);
	t->minisocks = timers != TIMERS_OFF;
	if (t->minisocks) {
		t->skel->rodata->tw_timer_fn = tw_fn;
		t->skel->rodata->req_timer_fn = req_fn;
		t->skel->rodata->skip_child_birth = true;
		t->skel->rodata->tick_ns = jiffy_ns();
		set_minisock_extras(t->skel, addr, ends);
	}
	if (!t->skel->rodata->fin_watch)
		bpf_program__set_autoload(t->skel->progs.handle_kfree_skb, false);
	/* one twin of each timer program, or none */
	timer_progs(t->skel, progs);
	for (i = 0; i < 2; i++)
		for (j = 0; j < 3; j++)
			bpf_program__set_autoload(progs[i][j],
						  timers == (enum timers)(TIMERS_CAST + i));
	/* wake the reader when a quarter of the buffer is waiting */
	t->skel->rodata->wakeup_bytes = rb_bytes / 4;
	ret = bpf_map__set_max_entries(t->skel->maps.events, rb_bytes);
	if (ret) {
		snprintf(err, errlen, "bad ring buffer size %zu: %s", rb_bytes,
			 strerror(-ret));
		return ret;
	}
	tracer_reset_libbpf_notes();
	ret = tcpfsm_bpf__load(t->skel);
	if (ret)
		return tracer_explain_load_failure(ret, err, errlen);
	return 0;
}

int tracer_open(struct tracer **out, const struct evsource_opts *o, char *err,
		size_t errlen, char *warn, size_t warnlen)
{
	struct tracer *t;
	uint64_t tw_fn = 0, req_fn = 0;
	/* kallsyms: see set_minisock_extras() and the names below */
	uint64_t addr[6] = { 0 }, ends[6] = { 0 };
	enum timers timers = TIMERS_OFF;
	size_t rb_bytes = o->ringbuf_bytes ? o->ringbuf_bytes : DEFAULT_RINGBUF;
	int ret;

	*warn = '\0';
	verbose = o->verbose;
	libbpf_set_print(libbpf_print);
	ret = check_kernel(err, errlen);
	if (ret)
		return ret;
	t = calloc(1, sizeof(*t));
	if (!t) {
		snprintf(err, errlen, "out of memory");
		return -ENOMEM;
	}
	t->src.ops = &tracer_evsource;
	t->sink = o->sink;
	t->slack_ns = o->slack_ns;

	if (!o->no_minisocks) {
		static const char *const names[] = {
			"tw_timer_handler", "reqsk_timer_handler",
			"tcp_write_timer", "tcp_v4_rcv", "tcp_v6_rcv",
			"bpf_rdonly_cast",
		};

		kallsyms_lookup("/proc/kallsyms", names, addr, ends, 6);
		if (addr[0] && addr[1]) {
			tw_fn = addr[0];
			req_fn = addr[1];
			timers = addr[5] ? TIMERS_CAST : TIMERS_READ;
		} else {
			snprintf(warn, warnlen,
				 "tw_timer_handler/reqsk_timer_handler not in "
				 "/proc/kallsyms (kptr_restrict?): TIME_WAIT and "
				 "half-open SYN_RECV are not traced");
		}
	}
	/*
	 * The timer programs are the part a kernel is likeliest to lack: if
	 * they do not load, the twins without bpf_rdonly_cast; if those do
	 * not either, say why in the warning and trace full sockets.
	 */
	for (;;) {
		ret = load_skel(t, o, tw_fn, req_fn, addr, ends, timers,
				rb_bytes, err, errlen);
		if (!ret || timers == TIMERS_OFF)
			break;
		tcpfsm_bpf__destroy(t->skel);
		t->skel = NULL;
		if (timers == TIMERS_CAST) {
			timers = TIMERS_READ;
			continue;
		}
		snprintf(warn, warnlen,
			 "TIME_WAIT and half-open SYN_RECV are not traced: %s",
			 err);
		timers = TIMERS_OFF;
	}
	if (ret)
		goto fail;
	ret = tcpfsm_bpf__attach(t->skel);
	if (ret) {
		snprintf(err, errlen, "cannot attach to the tracepoints: %s",
			 strerror(-ret));
		goto fail;
	}
	t->rb = ring_buffer__new(bpf_map__fd(t->skel->maps.events), on_sample,
				 t, NULL);
	if (!t->rb) {
		ret = -errno;
		snprintf(err, errlen, "cannot map the ring buffer: %s",
			 strerror(-ret));
		goto fail;
	}
	*out = t;
	return 0;
fail:
	tracer_close(t);
	return ret;
}

/*
 * What this kernel offers tcpfsm, for --version: "features: btf tp_btf
 * ringbuf minisocks(timer tracepoints, kallsyms) fin-watch rdonly_cast
 * hz=250", a
 * missing one as "no-NAME". Probes the kernel's BTF and /proc/kallsyms; the ring
 * buffer probe needs the privileges a load needs ("ringbuf?" without).
 */
int tracer_features(char *buf, size_t len)
{
	static const char *const names[] = { "tw_timer_handler",
					     "reqsk_timer_handler",
					     "bpf_rdonly_cast", "tcp_v4_rcv" };
	static const char *const timer_tps[] = { "btf_trace_timer_start",
						 "btf_trace_timer_cancel",
						 "btf_trace_timer_expire_entry" };
	bool tp = false, timers = false, syms;
	const char *rb = "no-ringbuf";
	uint64_t addr[4], tick = jiffy_ns();
	struct btf *btf = NULL;
	size_t i;
	int ret;

	libbpf_set_print(libbpf_print);
	if (!access("/sys/kernel/btf/vmlinux", R_OK))
		btf = btf__load_vmlinux_btf();
	if (btf) {
		tp = btf__find_by_name_kind(btf, "btf_trace_inet_sock_set_state",
					    BTF_KIND_TYPEDEF) > 0;
		timers = true;
		for (i = 0; i < sizeof(timer_tps) / sizeof(timer_tps[0]); i++)
			if (btf__find_by_name_kind(btf, timer_tps[i],
						   BTF_KIND_TYPEDEF) <= 0)
				timers = false;
		btf__free(btf);
	}
	kallsyms_lookup("/proc/kallsyms", names, addr, NULL, 4);
	syms = addr[0] && addr[1];
	ret = libbpf_probe_bpf_map_type(BPF_MAP_TYPE_RINGBUF, NULL);
	if (ret > 0)
		rb = "ringbuf";
	else if (ret < 0)
		rb = "ringbuf?";
	ret = snprintf(buf, len, "features: %s %s %s %sminisocks(%stimer tracepoints, %skallsyms) %sfin-watch %s hz=%llu",
		       btf ? "btf" : "no-btf", tp ? "tp_btf" : "no-tp_btf", rb,
		       timers && syms ? "" : "no-", timers ? "" : "no ",
		       syms ? "" : "no ", timers && syms && addr[3] ? "" : "no-",
		       addr[2] ? "rdonly_cast" : "no-rdonly_cast(6.2)",
		       tick ? (unsigned long long)(1000000000u + tick / 2) / tick : 0ull);
	return ret < 0 ? -EINVAL : (size_t)ret >= len ? -ENOSPC : 0;
}

int tracer_poll(struct tracer *t, int timeout_ms, uint64_t *read_at)
{
	struct epoll_event ev[2];
	int n, i;

	/* records are mostly submitted without a wakeup: read them anyway */
	n = epoll_wait(ring_buffer__epoll_fd(t->rb), ev, 2, timeout_ms);
	if (n < 0)
		return -errno;
	for (i = 0; i < n; i++)
		if (ev[i].data.u64 == WATCH_TAG)
			t->watched_ready = true;
	/*
	 * Read the clock before the records: every record stamped earlier
	 * than this (less the submit slack) is in what follows. Read after,
	 * a preemption between the two would let the caller's watermark
	 * pass records still in the buffer.
	 */
	if (read_at)
		*read_at = clock_ns(CLOCK_MONOTONIC);
	return ring_buffer__consume(t->rb);
}

/*
 * Runs of prog the kernel skipped: a program is not run on a CPU where it is
 * running already, so a state change made by a softirq that interrupted
 * handle_set_state in a task's connect() or close() (on irq exit) is not
 * recorded by it (handle_set_state_nested takes those over); the kernel
 * counts them (bpf_prog_info.recursion_misses, Linux 5.12 and later; 0
 * before). Measured: about 1 run in 5,000 under loopback load, with no full
 * ring buffer. A program not loaded has no count.
 */
static uint64_t skipped_runs(const struct bpf_program *prog)
{
	struct bpf_prog_info info;
	__u32 len = sizeof(info);
	int fd = bpf_program__fd(prog);

	if (fd < 0)
		return 0;
	memset(&info, 0, sizeof(info));
	if (bpf_obj_get_info_by_fd(fd, &info, &len))
		return 0;
	return info.recursion_misses;
}

uint64_t tracer_lost(const struct tracer *t, uint64_t by_kind[TCPFSM_LOST_SLOTS])
{
	uint64_t total = 0;
	int i;

	for (i = 0; i < TCPFSM_LOST_SLOTS; i++) {
		uint64_t v = __atomic_load_n(&t->skel->bss->lost[i], __ATOMIC_RELAXED);

		if (by_kind)
			by_kind[i] = v;
		total += v;
	}
	return total;
}

uint64_t tracer_skipped(const struct tracer *t, uint64_t *timers)
{
	/* read second: the difference is never too small */
	uint64_t skipped = skipped_runs(t->skel->progs.handle_set_state);
	uint64_t taken = __atomic_load_n(&t->skel->bss->nested_runs, __ATOMIC_RELAXED);

	*timers = skipped_runs(t->skel->progs.handle_timer_start) +
		  skipped_runs(t->skel->progs.handle_timer_cancel) +
		  skipped_runs(t->skel->progs.handle_timer_expire);
	return skipped > taken ? skipped - taken : 0;
}

int tracer_watch_orphan(struct tracer *t, uint64_t cookie, const struct tuple *tu)
{
	struct tcpfsm_orphan_key k;
	struct tcpfsm_orphan o = { .tw = 0, .cookie = cookie };

	if (!t->minisocks || !t->skel->rodata->fin_watch)
		return -EOPNOTSUPP;
	memset(&k, 0, sizeof(k));
	k.netns = tu->netns;
	k.sport = tu->sport;
	k.dport = tu->dport;
	k.family = tu->family;
	if (tu->family == AF_INET) {
		memcpy(&k.saddr[3], tu->saddr, 4);
		memcpy(&k.daddr[3], tu->daddr, 4);
	} else {
		memcpy(k.saddr, tu->saddr, 16);
		memcpy(k.daddr, tu->daddr, 16);
	}
	/* one the kernel side added meanwhile (with its minisocket) stays */
	if (bpf_map__update_elem(t->skel->maps.orphans, &k, sizeof(k), &o,
				 sizeof(o), BPF_NOEXIST) && errno != EEXIST)
		return -errno;
	return 0;
}

void tracer_detach(struct tracer *t)
{
	if (!t || !t->skel)
		return;
	tcpfsm_bpf__detach(t->skel);
	/*
	 * Detaching does not wait for runs already under way on other CPUs:
	 * a record one of them has reserved and not yet submitted stops the
	 * reader at it, and every record behind it (a busy host's last
	 * thousands) would never be read, and never be counted. Programs run
	 * inside RCU read-side sections (tracepoints disable preemption);
	 * membarrier's global command waits for a grace period
	 * (synchronize_rcu), after which every record is submitted. Without
	 * it (ENOSYS, a seccomp filter) fall back to a pause much longer
	 * than a run.
	 */
	if (syscall(__NR_membarrier, MEMBARRIER_CMD_GLOBAL, 0, 0))
		usleep(20000);
}

void tracer_close(struct tracer *t)
{
	if (!t)
		return;
	ring_buffer__free(t->rb);
	tcpfsm_bpf__destroy(t->skel);
	free(t);
}

/* --version's lines: libbpf's version, then the features (if found). */
static int describe(char *buf, size_t len)
{
	int n = snprintf(buf, len, "libbpf v%u.%u\n", libbpf_major_version(),
			 libbpf_minor_version());

	if (n < 0 || (size_t)n >= len)
		return -ENOSPC;
	if (tracer_features(buf + n, len - n))
		buf[n - 1] = '\0';	/* the version alone */
	return 0;
}

/* ---- the live source (evsource.h): the functions above, adapted ---- */

static struct tracer *tracer_of(const struct evsource *s)
{
	return (struct tracer *)s;
}

static int live_open(struct evsource **out, const struct evsource_opts *o,
		     struct evsource_info *info, char *err, size_t errlen,
		     char *warn, size_t warnlen)
{
	struct tracer *t;
	int ret;

	memset(info, 0, sizeof(*info));
	/* before loading, which takes a while: everything from here is traced */
	info->start_mono_ns = clock_ns(CLOCK_MONOTONIC);
	info->wall_offset_ns = (int64_t)(clock_ns(CLOCK_REALTIME) - info->start_mono_ns);
	ret = tracer_open(&t, o, err, errlen, warn, warnlen);
	if (ret)
		return ret;
	info->live = true;
	info->this_boot = true;
	info->minisocks = t->minisocks;
	*out = &t->src;
	return 0;
}

/*
 * The kernel's lost count grew: a TCPFSM_EV_LOST record (record.h's
 * layout, with kinds) after the records read, as a recording holds it.
 */
static void deliver_lost(struct tracer *t)
{
	uint64_t by_kind[TCPFSM_LOST_SLOTS];
	uint64_t now = clock_ns(CLOCK_MONOTONIC);
	uint64_t lost = tracer_lost(t, by_kind);
	struct tcpfsm_event e = { .kind = TCPFSM_EV_LOST, .ts_ns = now, .aux = lost,
				  .flags = RECORD_LOST_F_KINDS };

	if (lost <= t->lost_seen)
		return;
	t->lost_seen = lost;
	e.aux2 = by_kind[TCPFSM_EV_STATE];
	e.cookie = by_kind[TCPFSM_EV_TW_START] + by_kind[TCPFSM_EV_TW_CANCEL] +
		   by_kind[TCPFSM_EV_TW_EXPIRE];
	e.cgroup_id = by_kind[TCPFSM_EV_REQ_START] + by_kind[TCPFSM_EV_REQ_CANCEL] +
		      by_kind[TCPFSM_EV_REQ_EXPIRE];
	t->sink.record(t->sink.ctx, &e);
}

static int live_poll(struct evsource *s, int timeout_ms, struct evsource_turn *turn)
{
	struct tracer *t = tracer_of(s);
	uint64_t read_at;
	int ret = tracer_poll(t, timeout_ms, &read_at);

	if (turn)
		memset(turn, 0, sizeof(*turn));
	if (ret < 0) {
		snprintf(t->msg, sizeof(t->msg), "reading the ring buffer: %s",
			 strerror(-ret));
		return ret;
	}
	deliver_lost(t);
	/* every record stamped before read_at, less the slack, was read */
	if (turn) {
		turn->step = true;
		turn->watermark = read_at - t->slack_ns;
	}
	return ret;
}

static const char *live_error(const struct evsource *s)
{
	return tracer_of(s)->msg;
}

static uint64_t live_now(const struct evsource *s)
{
	return clock_ns(CLOCK_MONOTONIC);
}

static bool live_skipped(const struct evsource *s, uint64_t *state, uint64_t *timers)
{
	*state = tracer_skipped(tracer_of(s), timers);
	return true;
}

/* records shorter than one (on_sample) */
static uint64_t live_bad(const struct evsource *s)
{
	return tracer_of(s)->bad;
}

static void live_close(struct evsource *s)
{
	tracer_close(tracer_of(s));
}

static int live_watch_fd(struct evsource *s, int fd)
{
	struct epoll_event ev = { .events = EPOLLIN, .data.u64 = WATCH_TAG };

	/* we wait on libbpf's epoll set ourselves, so it can carry one more */
	if (epoll_ctl(ring_buffer__epoll_fd(tracer_of(s)->rb), EPOLL_CTL_ADD, fd, &ev))
		return -errno;
	return 0;
}

static bool live_take_watched(struct evsource *s)
{
	struct tracer *t = tracer_of(s);
	bool ready = t->watched_ready;

	t->watched_ready = false;
	return ready;
}


static int live_watch_orphan(struct evsource *s, uint64_t cookie,
			     const struct tuple *tu)
{
	return tracer_watch_orphan(tracer_of(s), cookie, tu);
}

static void live_detach(struct evsource *s)
{
	tracer_detach(tracer_of(s));
}

const struct evsource_ops tracer_evsource = {
	.open = live_open,
	.poll = live_poll,
	.error = live_error,
	.now = live_now,
	.end = live_now,
	.skipped = live_skipped,
	.bad = live_bad,
	.close = live_close,
	.watch_fd = live_watch_fd,
	.take_watched = live_take_watched,
	.watch_orphan = live_watch_orphan,
	.detach = live_detach,
	.describe = describe,
};
