/* SPDX-License-Identifier: GPL-2.0 OR BSD-2-Clause */
/*
 * Age publication: how long each socket has been in its state.
 *
 * The running tracer knows when every connection entered its current
 * state; `tcpfsm snapshot` wants it. The tracer listens on a unix stream
 * socket (default AGESRV_DEFAULT_PATH, overridden by $TCPFSM_AGE_SOCK) and
 * answers each client with one message, then closes:
 *
 *	struct age_header			(magic, version, sizes, now)
 *	struct age_record * N			(one per known socket)
 *	struct age_record with cookie 0 and AGE_F_END, since_ns = N
 *
 * All in host byte order (the peer is on the same host); since_ns and
 * now_ns are CLOCK_MONOTONIC, the clock of bpf_ktime_get_ns(). A reader
 * accepts any header.record_size >= sizeof(struct age_record) and ignores
 * the extra bytes, so records may grow at the end without a new version.
 *
 * Nothing here runs on the tracer's hot path: the table is read only when
 * a client waits, and clients are served by a thread of their own.
 */
#ifndef TCPFSM_AGESRV_H
#define TCPFSM_AGESRV_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include "tcpfsm.h"

#define AGESRV_DEFAULT_PATH "/run/tcpfsm/age.sock"
#define AGESRV_PATH_ENV "TCPFSM_AGE_SOCK"

#define AGE_MAGIC 0x45474154u	/* "TAGE" in little endian */
#define AGE_VERSION 1
#define AGE_MAX_RECORD 256	/* largest record_size a reader accepts */

/* age_record.flags */
#define AGE_F_LOWER_BOUND 0x01	/* since_ns is only a lower bound (e.g. the
				   socket existed before the tracer started) */
#define AGE_F_END 0x80		/* trailer: the list is complete */

struct age_header {
	uint32_t magic;		/* AGE_MAGIC */
	uint16_t version;	/* AGE_VERSION */
	uint16_t record_size;	/* bytes per record that follows */
	uint64_t now_ns;	/* server's CLOCK_MONOTONIC when it answered */
	uint32_t flags;		/* AGE_HF_*; unknown bits are ignored */
	uint32_t __reserved;
};

/*
 * age_header.flags: the tracer runs with filters, so a socket it does not
 * select has no record (its age is not known, rather than unknowable).
 */
#define AGE_HF_FILTERED 0x1

struct age_record {
	uint64_t cookie;	/* socket cookie (sock_diag idiag_cookie) */
	uint64_t since_ns;	/* CLOCK_MONOTONIC: entered state at */
	uint64_t cgroup_id;	/* owner's cgroup v2 id, 0 if unknown */
	uint32_t pid;		/* owner (learned in process context), 0 if unknown */
	uint8_t state;		/* enum tcpfsm_state it is in since since_ns */
	uint8_t flags;		/* AGE_F_* */
	uint8_t __pad[2];
	char comm[TCPFSM_COMM_LEN]; /* owner's comm; need not be NUL-terminated */
};

_Static_assert(sizeof(struct age_header) == 24, "age_header is a wire format");
_Static_assert(sizeof(struct age_record) == 48, "age_record is a wire format");

/* $TCPFSM_AGE_SOCK if set and non-empty, else AGESRV_DEFAULT_PATH. */
const char *agesrv_default_path(void);

/* ---- encoding (pure) ---- */

/* Fill a header for records of this version. */
void age_header_init(struct age_header *h, uint64_t now_ns);

/* Called per record; a non-zero return stops the decoding and is returned. */
typedef int (*age_cb)(void *ctx, const struct age_record *r);

/* Incremental reader of one answer; feed it the bytes as they arrive. */
struct age_decoder {
	struct age_header hdr;
	bool have_hdr;
	bool ended;		/* trailer seen */
	size_t part_len;	/* bytes of a header or record split by reads */
	uint64_t nrecords;
	uint8_t part[AGE_MAX_RECORD];
};

void age_decoder_init(struct age_decoder *d);
/*
 * Decode len bytes, calling cb for each record (never for the trailer).
 * Returns 0, -EPROTO for a bad header, bytes after the trailer or a
 * trailer whose count disagrees, or cb's non-zero return.
 */
int age_decode(struct age_decoder *d, const void *buf, size_t len, age_cb cb,
	       void *ctx);
/* At end of stream: 0 if the answer was complete, else -EPROTO. */
int age_decode_finish(const struct age_decoder *d);

/* ---- server (the tracer) ---- */

/*
 * Serving never delays the tracer: a thread of its own accepts clients and
 * sends them their answer, non-blocking, each within its time limit, at
 * most max_clients at once (the others wait in the listen backlog). The
 * tracer's thread only builds answers, when the server asks (want_fd turns
 * readable) and at most as often as the rate limit allows: one answer
 * serves every client that connected before it was built (or shortly
 * before), building takes at most a tenth of the tracer's time, and it is
 * done a part at a time (at most 5 ms a turn), so that the tracer reads
 * its ring buffer in between.
 */
struct agesrv;
struct agesrv_writer;

struct agesrv_opts {
	unsigned int client_timeout_ms; /* per client, its whole answer; 0: 5000 */
	unsigned int max_clients;	/* served at once; 0: 64 */
	uint64_t min_interval_ns;	/* between builds; 0: 50 ms */
	unsigned int build_chunk;	/* records per fill() call, as many calls
					   a turn as fit in 5 ms; 0: 4096 */
	uint32_t hdr_flags;		/* AGE_HF_* in every answer's header */
};

/*
 * Fills an answer a part at a time: put about budget records from where
 * the last call stopped (*cursor: 0 at first, then what the filler left
 * there); return 1 when every record is in, 0 when more remain, -errno.
 */
typedef int (*agesrv_fill_fn)(void *ctx, struct agesrv_writer *w, size_t *cursor,
			      size_t budget);

/*
 * Listen at path (NULL: agesrv_default_path()), start serving. Creates the
 * directory (mode 0755), replaces a stale socket (one nobody answers at,
 * such as a killed tracer leaves), refuses with -EADDRINUSE if another
 * server answers there (or its backlog is full) and -EEXIST if path is
 * not a socket. The socket is mode 0600 from its creation (no chmod after
 * bind): ages and owners are for root, like ss -p. o may be NULL.
 */
int agesrv_open(const char *path, const struct agesrv_opts *o,
		struct agesrv **srv);
/* Readable (level-triggered) while a client waits for an answer to be built. */
int agesrv_want_fd(const struct agesrv *srv);
/*
 * On the tracer's thread, each turn of its loop (woken: want_fd was seen
 * readable): when a client waits and the rate limit allows, build an
 * answer with fill(), a part per call, and hand it to the server thread
 * once whole. now_ns is CLOCK_MONOTONIC. Returns AGESRV_PUBLISHED,
 * AGESRV_BUILDING (call again soon: a part remains), 0 if nothing was
 * due, or -errno.
 */
#define AGESRV_PUBLISHED 1
#define AGESRV_BUILDING 2
int agesrv_update(struct agesrv *srv, bool woken, agesrv_fill_fn fill, void *ctx,
		  uint64_t now_ns);
/*
 * Queue one record for the answer being built. Returns 0 or -ENOMEM (the
 * filler should stop).
 */
int agesrv_put(struct agesrv_writer *w, const struct age_record *r);
/* Room for n more records at once (an estimate): 0 or -ENOMEM. */
int agesrv_reserve(struct agesrv_writer *w, size_t n);

struct agesrv_stats {
	uint64_t answered;	/* clients sent a whole answer */
	uint64_t cut_off;	/* clients closed at their time limit */
	uint64_t builds;	/* answers built */
};
void agesrv_get_stats(struct agesrv *srv, struct agesrv_stats *st);

/* Stop serving, remove the socket file, free. NULL is a no-op. */
void agesrv_close(struct agesrv *srv);

/* ---- client (snapshot) ---- */

#define AGESRV_QUERY_TIMEOUT_MS 4000

/* What the answer said besides its records. */
struct age_answer {
	uint64_t now_ns;	/* the server's CLOCK_MONOTONIC when it built it */
	uint32_t flags;		/* AGE_HF_* */
};

/*
 * Ask the server at path (NULL: agesrv_default_path()) for every record,
 * within timeout_ms in all (0: AGESRV_QUERY_TIMEOUT_MS), connect included
 * (a full backlog is waited for only that long). Returns 0; -ENOENT when
 * no socket is there, -ECONNREFUSED when nobody answers at it (a stale
 * socket: no tracer); -ECONNRESET when the server closed before answering
 * (too busy: it gives up on a client at its limit); -ETIMEDOUT if no
 * whole answer came in time (records
 * before then were passed to cb, and are true); -EPROTO for a bad answer
 * (the same); cb's non-zero return; other -errno (-EACCES: not allowed).
 * ans (may be NULL) gets the header's fields, zero when none came.
 */
int agesrv_query(const char *path, unsigned int timeout_ms, age_cb cb, void *ctx,
		 struct age_answer *ans);

#endif
