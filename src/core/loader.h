/* SPDX-License-Identifier: GPL-2.0 OR BSD-2-Clause */
/*
 * The kernel side's lifetime: check what the kernel offers, open the
 * skeleton, hand it the filters, load, attach, read the ring buffer, read
 * the lost-record counters, detach.
 */
#ifndef TCPFSM_LOADER_H
#define TCPFSM_LOADER_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include "evsource.h"
#include "tcpfsm.h"

/* The skeleton and its ring buffer. */
struct tracer;

/*
 * The live source, the kernel's ring buffer: the functions below, behind
 * evsource.h's interface (its polls also deliver a loss as a record).
 */
extern const struct evsource_ops tracer_evsource;

/*
 * Open with o's filter, minisocket choice, verbosity and ring buffer size;
 * records go to o->sink. Returns 0, or -errno with a one-line reason in err (no trailing newline).
 * *warn gets a one-line warning when tracing runs degraded (e.g. minisocket
 * hooks unavailable), or "" otherwise.
 */
int tracer_open(struct tracer **out, const struct evsource_opts *o, char *err,
		size_t errlen, char *warn, size_t warnlen);
/*
 * The kernel features tcpfsm uses, as one line ("features: btf tp_btf
 * ringbuf minisocks(...) hz=250"); 0 or -errno.
 */
int tracer_features(char *buf, size_t len);
/*
 * Kernel facts every BPF side needs, shared with serve: the addresses of
 * names (n of them) in path (/proc/kallsyms), 0 where absent or hidden, and
 * where each one's code ends (ends may be NULL); returns how many found.
 */
int kallsyms_lookup(const char *path, const char *const *names,
		    uint64_t *addrs, uint64_t *ends, int n);
/*
 * Nanoseconds per jiffy, from CLOCK_MONOTONIC_COARSE's resolution (the
 * kernel's TICK_NSEC): no config file needed. 0 if implausible.
 */
uint64_t jiffy_ns(void);
/*
 * Why a load failed, from what libbpf said (its warnings, as its print
 * callback gets them): reset before a load, note each message, then one
 * line into err. Returns ret, or -ENOENT when the kernel lacks the state
 * tracepoint. tracer_open() does all three; apart for the unit tests,
 * which use tracer_explain_notes (loadmsg.c: no libbpf), the part that
 * explains from the notes alone: true when they did (err written).
 */
void tracer_reset_libbpf_notes(void);
void tracer_note_libbpf(const char *msg);
bool tracer_explain_notes(int ret, char *err, size_t errlen);
int tracer_explain_load_failure(int ret, char *err, size_t errlen);
/*
 * Wait up to timeout_ms for records, then read all there are; *read_at (if
 * not NULL) gets the CLOCK_MONOTONIC time taken just before reading. Returns
 * the number of records read or -errno (-EINTR when a signal arrived).
 */
int tracer_poll(struct tracer *t, int timeout_ms, uint64_t *read_at);
/*
 * Besides (as the live source's operations only): watch_fd, take_watched,
 * bad (records shorter than a record: never silent either).
 */
/* Records the kernel could not hand over, in total and by kind. */
uint64_t tracer_lost(const struct tracer *t, uint64_t by_kind[TCPFSM_LOST_SLOTS]);
/*
 * Runs of the programs the kernel skipped (a program is not run on a CPU
 * where it is running already): state changes neither handle_set_state nor
 * handle_set_state_nested recorded (returned), and the timer programs'
 * skipped runs (*timers). The kernel skips a run before any filter, so
 * which connection's record, if a selected one's at all, is not known:
 * they are counted and reported, not taken as a loss of every connection.
 */
uint64_t tracer_skipped(const struct tracer *t, uint64_t *timers);
/*
 * An orphaned FIN_WAIT2 minisocket found at start (seeding): watch it for
 * the peer's FIN as the kernel side does the ones it sees begin. Returns 0,
 * -EOPNOTSUPP when the FIN is not watched (no minisocket hooks, or
 * tcp_v4_rcv's bounds unknown), or -errno from the map update.
 */
int tracer_watch_orphan(struct tracer *t, uint64_t cookie, const struct tuple *tu);
/*
 * Stop new records, and wait until runs under way have submitted theirs:
 * every record is then in the buffer, to be read.
 */
void tracer_detach(struct tracer *t);
void tracer_close(struct tracer *t);

#endif
