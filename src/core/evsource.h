/* SPDX-License-Identifier: GPL-2.0 OR BSD-2-Clause */
/*
 * Where a run's records come from, behind one interface: the kernel's ring
 * buffer (loader.c's tracer_evsource, the only part that needs the BPF
 * skeleton and libbpf) or a recording (replay_source.c's replay_evsource).
 * The pipeline runs one loop over a struct evsource, whichever it is:
 * poll, deliver records to the sink, release them to the engine where the
 * source says every earlier one has been read. Only the binary's main()
 * hands over the live source: what replays alone (the unit tests, the
 * fuzzers) links neither the skeleton nor libbpf.
 *
 * A loss is a record in the stream either way: the live source delivers a
 * TCPFSM_EV_LOST record (record.h's RECORD_LOST_F_KINDS layout) when the
 * kernel's count has grown, as a recording holds the live run's.
 */
#ifndef TCPFSM_EVSOURCE_H
#define TCPFSM_EVSOURCE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include "event.h"
#include "filter.h"
#include "tcpfsm.h"

/* An open source: each implementation's own struct begins with it. */
struct evsource {
	const struct evsource_ops *ops;
};

/* Where a source delivers what it reads (the pipeline's hooks). */
struct evsource_sink {
	/* a record of a kind the kernel writes, or a TCPFSM_EV_LOST record */
	void (*record)(void *ctx, const struct tcpfsm_event *e);
	/*
	 * A recording's record of tcpfsm's own (record.h: RECORD_EV_SEED,
	 * _SEED_DONE, _GONE, _RECONCILE, _FLUSH): what the live run did at
	 * this point of the stream. NULL: ignored. A live source has none;
	 * RECORD_EV_STEP comes as a turn's step, RECORD_EV_END as the
	 * source's end and skipped counts.
	 */
	void (*mark)(void *ctx, const struct tcpfsm_event *e);
	void *ctx;
};

struct evsource_opts {
	struct evsource_sink sink;
	/*
	 * How far behind the newest record one can still arrive from another
	 * CPU: a step's watermark trails the source's clock by it.
	 */
	uint64_t slack_ns;
	/* the kernel's ring buffer */
	const struct filter *filter;	/* judged in the kernel */
	bool no_minisocks;	/* do not attach the timer programs */
	bool verbose;		/* libbpf's own messages on stderr */
	size_t ringbuf_bytes;	/* power of two; 0: default (16 MiB) */
	/* a recording */
	const char *path;	/* "-": stdin */
};

/* What an open source says of its run. */
struct evsource_info {
	uint64_t start_mono_ns;	/* when tracing (or the recording) began */
	int64_t wall_offset_ns;	/* CLOCK_REALTIME - CLOCK_MONOTONIC then */
	/*
	 * The records are this host's, now: the pipeline seeds from and
	 * reconciles with sock_diag, publishes ages, and stops when its
	 * reader hangs up, none of which a recording's replay does.
	 */
	bool live;
	bool this_boot;		/* its cgroup ids name this boot's cgroups */
	bool minisocks;		/* TIME_WAIT and SYN_RECV timers traced */
	/* the filters the records were selected by (a recording's); or NULL */
	const struct filter *filter;
};

/* What a poll found, besides the records it delivered. */
struct evsource_turn {
	/* every record stamped before watermark has been delivered */
	bool step;
	uint64_t watermark;
	bool end;		/* a recording's end: nothing more will come */
};

struct evsource_ops {
	/*
	 * Open: *out and *info set, 0; or -errno with a one-line reason in
	 * err (no trailing newline). *warn gets a one-line warning when the
	 * source runs degraded (e.g. minisocket hooks unavailable), or "".
	 */
	int (*open)(struct evsource **out, const struct evsource_opts *o,
		    struct evsource_info *info, char *err, size_t errlen,
		    char *warn, size_t warnlen);
	/*
	 * Wait up to timeout_ms (a live source; a recording does not wait)
	 * and deliver what there is to the sink: a ring buffer's every record
	 * and then a loss, a recording's next record. Returns the records
	 * delivered or -errno (-EINTR: a signal came; error() says what else
	 * went wrong). turn may be NULL (a live source read in between).
	 */
	int (*poll)(struct evsource *s, int timeout_ms, struct evsource_turn *turn);
	/* After a poll failed other than -EINTR: why, one line. */
	const char *(*error)(const struct evsource *s);
	/*
	 * How far the source's clock has come, for --duration: live,
	 * CLOCK_MONOTONIC now; a recording, its latest record's stamp.
	 */
	uint64_t (*now)(const struct evsource *s);
	/*
	 * When the stream ended, once read to its end (or stopped): live, now;
	 * a recording, when the live run ended (its end record) if that came
	 * later than its last record.
	 */
	uint64_t (*end)(const struct evsource *s);
	/*
	 * Runs the kernel skipped (loader.h, tracer_skipped): state changes
	 * and timer events. False when not known (a recording without them).
	 */
	bool (*skipped)(const struct evsource *s, uint64_t *state, uint64_t *timers);
	/* Records that arrived malformed; NULL: none can. */
	uint64_t (*bad)(const struct evsource *s);
	void (*close)(struct evsource *s);
	/* ---- a live source's only (NULL in others) ---- */
	/*
	 * Let poll also wake when fd turns readable (level-triggered);
	 * take_watched() then says so once. Returns 0 or -errno.
	 */
	int (*watch_fd)(struct evsource *s, int fd);
	bool (*take_watched)(struct evsource *s);
	/* An orphaned FIN_WAIT2 found at start: watch it (tracer_watch_orphan). */
	int (*watch_orphan)(struct evsource *s, uint64_t cookie,
			    const struct tuple *tu);
	/* Stop new records; what is in flight can then be read (tracer_detach). */
	void (*detach)(struct evsource *s);
	/*
	 * For --version: the BPF library's version and the kernel features
	 * found, one line each ("libbpf v1.1\nfeatures: ..."); 0 or -errno.
	 */
	int (*describe)(char *buf, size_t len);
};

#endif
