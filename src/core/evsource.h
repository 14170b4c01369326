/* SPDX-License-Identifier: GPL-2.0 OR BSD-2-Clause */
/*
 * Where a run's records come from, behind one interface: the kernel's ring
 * buffer (loader.c's tracer_evsource, the only part that needs the BPF
 * skeleton and libbpf), or a recording (record.h's reader, for --replay).
 * The pipeline reaches the live source only through these operations, and
 * only the binary's main() hands it one: what replays alone (the unit
 * tests, the fuzzers) links neither the skeleton nor libbpf.
 */
#ifndef TCPFSM_EVSOURCE_H
#define TCPFSM_EVSOURCE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include "event.h"
#include "filter.h"
#include "tcpfsm.h"

/* A live source's handle (loader.c: the skeleton and its ring buffer). */
struct tracer;

typedef void (*tracer_event_fn)(void *ctx, const struct tcpfsm_event *e);

struct tracer_opts {
	const struct filter *filter;
	bool no_minisocks;	/* do not attach the timer programs */
	bool verbose;		/* libbpf's own messages on stderr */
	size_t ringbuf_bytes;	/* power of two; 0: default (16 MiB) */
	tracer_event_fn on_event;
	void *ctx;
};

/* The operations of a live source; loader.h documents each (tracer_*). */
struct evsource_ops {
	int (*open)(struct tracer **out, const struct tracer_opts *o,
		    char *err, size_t errlen, char *warn, size_t warnlen);
	int (*poll)(struct tracer *t, int timeout_ms, uint64_t *read_at);
	int (*watch_fd)(struct tracer *t, int fd);
	bool (*take_watched)(struct tracer *t);
	uint64_t (*lost)(const struct tracer *t,
			 uint64_t by_kind[TCPFSM_LOST_SLOTS]);
	uint64_t (*skipped)(const struct tracer *t, uint64_t *timers);
	uint64_t (*bad)(const struct tracer *t);
	bool (*has_minisocks)(const struct tracer *t);
	int (*watch_orphan)(struct tracer *t, uint64_t cookie,
			    const struct tuple *tu);
	void (*detach)(struct tracer *t);
	void (*close)(struct tracer *t);
	/*
	 * For --version: the BPF library's version and the kernel features
	 * found, one line each ("libbpf v1.1\nfeatures: ..."); 0 or -errno.
	 */
	int (*describe)(char *buf, size_t len);
};

#endif
