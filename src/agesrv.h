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
 * a client connects.
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
	uint64_t __reserved;
};

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

struct agesrv {
	int fd;			/* listening socket, non-blocking */
	unsigned int send_timeout_ms; /* per client, whole answer; 0: 500 */
	char path[108];
};

struct agesrv_writer;

/* Called once per client: put every record, return 0 or -errno. */
typedef int (*agesrv_fill_fn)(void *ctx, struct agesrv_writer *w);

/*
 * Listen at path (NULL: agesrv_default_path()). Creates the directory
 * (mode 0755), replaces a stale socket, refuses with -EADDRINUSE if
 * another server answers there and -EEXIST if path is not a socket. The
 * socket is mode 0600: ages and owners are for root, like ss -p.
 */
int agesrv_open(const char *path, struct agesrv *srv);

/*
 * Answer every pending client (without blocking for new ones): header,
 * fill()'s records, trailer, close. A client that does not read gets cut
 * off after send_timeout_ms. Returns the number of clients answered
 * completely, or -errno if accept() failed. A client waits until the next
 * call: srv->fd polls readable (POLLIN) while one does.
 */
int agesrv_serve(struct agesrv *srv, agesrv_fill_fn fill, void *ctx);

/*
 * Queue one record for the client. Returns 0, or -errno once the client
 * is gone or too slow (the filler should stop; later calls fail too).
 */
int agesrv_put(struct agesrv_writer *w, const struct age_record *r);

/* Stop listening and remove the socket file. */
void agesrv_close(struct agesrv *srv);

/* ---- client (snapshot) ---- */

/*
 * Ask the server at path (NULL: agesrv_default_path()) for every record.
 * Returns 0; -ENOENT or -ECONNREFUSED when no tracer is running; -EPROTO
 * for a bad or incomplete answer (records before the fault were already
 * passed to cb, and are true); -EAGAIN if the server did not answer in
 * time; cb's non-zero return. server_now_ns (may be NULL) gets the
 * header's now_ns.
 */
int agesrv_query(const char *path, age_cb cb, void *ctx,
		 uint64_t *server_now_ns);

#endif
