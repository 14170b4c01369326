/* SPDX-License-Identifier: GPL-2.0 OR BSD-2-Clause */
/*
 * Record and replay of the raw event stream.
 *
 * FILE FORMAT, version 2 (version 1 files are still read). Every integer is
 * little-endian, whatever the host.
 *
 * Header, at offset 0 (at least RECORD_HDR_SIZE_V1 = 168 bytes):
 *
 *	off size field
 *	  0    8 magic		"TCPFSM\0R" (54 43 50 46 53 4d 00 52)
 *	  8    2 version	2, or 1 for a file without the records of
 *				kinds RECORD_EV_* (a version-1 reader refuses
 *				a version-2 file up front, rather than at its
 *				first record of a kind it does not know)
 *	 10    2 header_size	bytes from the start of the file to the first
 *				record: >= 168, a multiple of 8. A reader skips
 *				bytes beyond the fields it knows, so fields may be
 *				appended to the header without a new version.
 *	 12    4 record_size	bytes per record: 112 = sizeof(struct
 *				tcpfsm_event). Must match exactly.
 *	 16    8 start_mono_ns	CLOCK_MONOTONIC at recording start; records'
 *				ts_ns are on this clock
 *	 24    8 start_real_ns	CLOCK_REALTIME at the same instant, so
 *				wall time = ts_ns - start_mono_ns + start_real_ns
 *	 32    4 flags		RECORD_F_*; unknown bits are ignored
 *	 36    4 reserved	0
 *	 40   64 hostname	NUL-padded, may be empty
 *	104   64 release	kernel release (uname -r), NUL-padded, may be empty
 *
 * Appended since (present when header_size >= 184):
 *
 *	168   16 boot_id	/proc/sys/kernel/random/boot_id of the recording
 *				boot, as 16 bytes; all zero when unknown. Ids
 *				that only mean something within one boot (cgroup
 *				ids) are interpreted only when it matches.
 *
 * Version 2 (present when header_size >= 576; this build writes 576): the
 * filters of the recording run (struct filter), which a replay applies:
 *
 *	184    1 family		0: any, 2, 10
 *	185    1 n_lports	0..8
 *	186    1 n_rports	0..8
 *	187    1 n_addrs	0..16
 *	188    1 has_pid, has_comm, has_netns (3 bytes, 0 or 1), then 1 zero byte
 *	192    4 pid
 *	196    4 netns
 *	200    4 state_mask	bit n: state n
 *	204    4 zero
 *	208   16 lports[8]	u16 each
 *	224   16 rports[8]
 *	240   16 comm		NUL-padded
 *	256  320 addrs[16]	each 20 bytes: family, prefix, addr[16], 2 zero
 *
 * Then records, back to back, each record_size bytes, until end of file.
 * A record is struct tcpfsm_event (include/tcpfsm.h) with its fields in
 * declaration order at their natural offsets, each integer little-endian:
 *
 *	  0 u64 ts_ns		  8 u64 cookie		 16 u64 cgroup_id
 *	 24 u64 aux		 32 u64 aux2		 40 u32 pid
 *	 44 u32 tid		 48 u32 netns		 52 u16 sport
 *	 54 u16 dport		 56 u8  kind		 57 u8  oldstate
 *	 58 u8  newstate	 59 u8  family		 60 u8  flags
 *	 61 u8  retrans		 62 u8  pad[2]		 64 u8  saddr[16]
 *	 80 u8  daddr[16]	 96 char comm[16]
 *
 * Besides the kernel's records (kinds 1..7) and TCPFSM_EV_LOST (8, see
 * RECORD_LOST_F_KINDS), a version-2 file holds what made the live run's
 * output, so that a replay gives the same (RECORD_EV_*, written by tcpfsm,
 * kinds from 64): the sockets seeded at start, where the run released
 * records to its engine, which connections it found gone after a loss,
 * and its end. With RECORD_F_STEPS in the header, a replay releases
 * records only where the live run did.
 *
 * A file that ends inside a record is truncated (a recorder killed mid-
 * write): the reader reports it, with the byte offset, after returning
 * every whole record before it. A recorder writes whole records at least
 * every poll (100 ms).
 */
#ifndef TCPFSM_RECORD_H
#define TCPFSM_RECORD_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include "filter.h"
#include "tcpfsm.h"

#define RECORD_MAGIC "TCPFSM\0R"
#define RECORD_MAGIC_LEN 8
#define RECORD_VERSION 2
#define RECORD_VERSION_MIN 1	/* the oldest this build reads */
#define RECORD_HDR_SIZE_V1 168
#define RECORD_HDR_SIZE_BOOT 184	/* with boot_id */
#define RECORD_HDR_SIZE 576	/* what this build writes: with the filter */
#define RECORD_BOOT_ID_LEN 16
#define RECORD_SIZE 112
#define RECORD_STR_LEN 64

_Static_assert(sizeof(struct tcpfsm_event) == RECORD_SIZE,
	       "the record file stores struct tcpfsm_event");

/* header flags */
#define RECORD_F_MINISOCKS 0x1	/* timer (TIME_WAIT/SYN_RECV) events enabled */
#define RECORD_F_FILTERED 0x2	/* a filter was active: not every socket */
#define RECORD_F_STEPS 0x4	/* RECORD_EV_STEP marks where records were released */
#define RECORD_F_FILTER 0x8	/* the header holds the filter (version 2) */

/*
 * Records tcpfsm writes into a recording (never the kernel), so that a
 * replay does what the live run did, at the same point of the stream:
 *
 * RECORD_EV_SEED	a socket read at start (sock_diag): ts_ns when the
 *			dump began, cookie, tuple (family, ports, addresses,
 *			netns), newstate its state, the owner found in /proc
 *			(pid, comm; 0 if none) and cgroup_id, flags the
 *			ENGINE_SEED_* flags, aux the timewait timer's deadline
 *			(CLOCK_MONOTONIC ns, 0 if unknown)
 * RECORD_EV_SEED_DONE	seeding ended at ts_ns
 * RECORD_EV_STEP	records up to ts_ns were released to the engine
 * RECORD_EV_GONE	after lost records, the connection cookie was found
 *			ended (absent from a sock_diag dump)
 * RECORD_EV_RECONCILE	those found since the last one end here; ts_ns is
 *			when the dump began
 * RECORD_EV_FLUSH	end of the stream: every record held was released
 * RECORD_EV_END	the run ended at ts_ns (the last record); with
 *			RECORD_END_F_SKIPPED in flags, aux and aux2 are the
 *			state changes and timer events the kernel skipped
 */
#define RECORD_EV_SEED 64
#define RECORD_EV_SEED_DONE 65
#define RECORD_EV_STEP 66
#define RECORD_EV_GONE 67
#define RECORD_EV_RECONCILE 68
#define RECORD_EV_FLUSH 69
#define RECORD_EV_END 70
#define RECORD_EV_MAX 71
#define RECORD_END_F_SKIPPED 0x01

/*
 * A TCPFSM_EV_LOST record (written by tcpfsm: the kernel reported lost
 * records up to its ts_ns): aux = lost so far in all; with
 * RECORD_LOST_F_KINDS in flags, of them aux2 of state records, cookie of
 * timewait timer records and cgroup_id of request timer records (older
 * files have no kinds).
 */
#define RECORD_LOST_F_KINDS 0x1

/* The header as decoded (host byte order). */
struct record_header {
	uint16_t version;
	uint16_t header_size;
	uint32_t record_size;
	uint64_t start_mono_ns;
	uint64_t start_real_ns;
	uint32_t flags;
	uint32_t reserved;
	char hostname[RECORD_STR_LEN + 1];	/* always NUL-terminated */
	char release[RECORD_STR_LEN + 1];
	uint8_t boot_id[RECORD_BOOT_ID_LEN];	/* all zero: unknown */
	struct filter filter;	/* with RECORD_F_FILTER: the run's filters */
};

struct record_writer;
struct record_reader;

/* ---- pure functions: no I/O, usable by fuzzers and other decoders ---- */

/*
 * Validate one event: kind, oldstate, newstate and family in range (no
 * family for a TCPFSM_EV_LOST marker: it has no socket).
 * Returns 0 or -EINVAL. record_check_msg also says why ("kind 9 out of
 * range") in buf when it is not valid.
 */
int record_check(const struct tcpfsm_event *ev);
int record_check_msg(const struct tcpfsm_event *ev, char *buf, size_t len);

/* struct <-> RECORD_SIZE bytes of file layout. */
void record_encode(void *buf, const struct tcpfsm_event *ev);
void record_decode(struct tcpfsm_event *ev, const void *buf);

/* Header <-> RECORD_HDR_SIZE bytes; encode takes hdr->flags, clocks,
 * strings, boot id and filter, and always writes version 2, sizes 576 and
 * 112. */
void record_encode_header(void *buf, const struct record_header *hdr);
/*
 * Decode and validate len bytes from the start of a file. Returns 0,
 * -EBADMSG with a reason in err (bad magic, unsupported version, record
 * size mismatch, truncated header), or -EAGAIN if len is too short to
 * know yet (the reason in err says how many bytes are needed). A header
 * of 168 bytes (written before boot_id existed) leaves boot_id zero; one
 * without the filter (version 1) clears RECORD_F_FILTER.
 */
int record_parse_header(const void *buf, size_t len, struct record_header *hdr,
			char *err, size_t errlen);

/* Fill a header for a recording starting now: both clocks, hostname,
 * uname -r, boot id. */
void record_header_now(struct record_header *hdr, uint32_t flags);
/*
 * This boot's id (/proc/sys/kernel/random/boot_id) as 16 bytes. Returns 0,
 * or -errno / -EINVAL with id zeroed.
 */
int record_boot_id(uint8_t id[RECORD_BOOT_ID_LEN]);
/* Was the recording made in this very boot? False when either is unknown. */
bool record_same_boot(const struct record_header *hdr);

/* ---- writer ---- */

/*
 * Create path as a new file (outfile_create: mode 0600, no symlink
 * followed, an existing name refused with -EEXIST unless force, then
 * replaced), "-" for stdout, and write a header from record_header_now().
 * The header is written at once: a recording cut short later still has
 * it. Returns 0 or -errno.
 */
int record_open_write(const char *path, struct record_writer **w);
/* Same with the caller's header (clocks, flags, strings), and force. */
int record_open_write_hdr(const char *path, const struct record_header *hdr,
			  bool force, struct record_writer **w);
/* Same on an open descriptor (closed by record_close if own_fd). */
int record_open_fd(int fd, bool own_fd, const struct record_header *hdr,
		   struct record_writer **w);
/*
 * Append n events (buffered). Returns 0 or -errno; after a failure every
 * later call fails with the same error.
 */
int record_write(struct record_writer *w, const struct tcpfsm_event *ev,
		 size_t n);
/*
 * Write out the buffer: whole records only, so a recorder killed after
 * this leaves a file that replays up to here. Returns 0 or the first write
 * error (-errno).
 */
int record_flush(struct record_writer *w);
/*
 * Flush, close (not stdout) and free. Returns 0 or the first error of any
 * write, flush or close (-EPIPE, -ENOSPC, ...). NULL is a no-op.
 */
int record_close(struct record_writer *w);

/* ---- reader ---- */

/*
 * Open path ("-" for stdin) and read and validate the header into *hdr.
 * Returns 0 or -errno (-EBADMSG for a malformed file). On failure *r is
 * still set, unless memory ran out (then NULL): record_error(*r) says why,
 * and record_close_read(*r) frees it.
 */
int record_open_read(const char *path, struct record_reader **r,
		     struct record_header *hdr);
/*
 * Next event into *out. Returns 1, 0 at a clean end of file, or -errno:
 * -EBADMSG for a truncated record (sticky: later calls return it again) or
 * for a record that fails record_check (consumed: the next call reads on,
 * so a caller may skip it), -EIO etc. for read errors (sticky).
 */
int record_next(struct record_reader *r, struct tcpfsm_event *out);
/*
 * Why the last call failed, with the byte offset where that applies:
 * "truncated record at offset 4208 (need 112 bytes, have 40)",
 * "record at offset 280: kind 9 out of range". "" when nothing failed.
 */
const char *record_error(const struct record_reader *r);
/* Byte offset of the next record to read. */
uint64_t record_offset(const struct record_reader *r);
/* Close (not stdin) and free. NULL is a no-op. */
void record_close_read(struct record_reader *r);

#endif
