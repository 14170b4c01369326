// SPDX-License-Identifier: GPL-2.0 OR BSD-2-Clause
/* Record/replay file format: see record.h for the layout. */
#include <endian.h>
#include <errno.h>
#include <fcntl.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/utsname.h>
#include <time.h>
#include <unistd.h>
#include "clock.h"
#include "outfile.h"
#include "record.h"

#define IO_BUF_SIZE (64 * 1024)
#define ERR_LEN 160

struct record_writer {
	int fd;
	bool own_fd;		/* not stdout */
	int err;		/* first error, sticky */
	size_t used;
	unsigned char buf[IO_BUF_SIZE];
};

struct record_reader {
	int fd;
	bool own_fd;		/* not stdin */
	bool eof;
	int err;		/* sticky error, 0 if none */
	uint64_t offset;	/* file offset of buf[pos] */
	size_t pos, len;
	char msg[ERR_LEN];
	unsigned char buf[IO_BUF_SIZE];
};

/* ---- little-endian field access, alignment-free ---- */

static void put16(unsigned char *p, uint16_t v)
{
	v = htole16(v);
	memcpy(p, &v, sizeof(v));
}

static void put32(unsigned char *p, uint32_t v)
{
	v = htole32(v);
	memcpy(p, &v, sizeof(v));
}

static void put64(unsigned char *p, uint64_t v)
{
	v = htole64(v);
	memcpy(p, &v, sizeof(v));
}

static uint16_t get16(const unsigned char *p)
{
	uint16_t v;

	memcpy(&v, p, sizeof(v));
	return le16toh(v);
}

static uint32_t get32(const unsigned char *p)
{
	uint32_t v;

	memcpy(&v, p, sizeof(v));
	return le32toh(v);
}

static uint64_t get64(const unsigned char *p)
{
	uint64_t v;

	memcpy(&v, p, sizeof(v));
	return le64toh(v);
}

/* ---- pure functions ---- */

int record_check_msg(const struct tcpfsm_event *ev, char *buf, size_t len)
{
	char dummy[1];

	if (!buf) {
		buf = dummy;
		len = sizeof(dummy);
	}
	bool marker = ev->kind == TCPFSM_EV_LOST ||
		      (ev->kind >= RECORD_EV_SEED && ev->kind < RECORD_EV_MAX &&
		       ev->kind != RECORD_EV_SEED);

	if ((ev->kind < TCPFSM_EV_STATE || ev->kind >= TCPFSM_EV_KIND_MAX) &&
	    (ev->kind < RECORD_EV_SEED || ev->kind >= RECORD_EV_MAX)) {
		snprintf(buf, len, "kind %u out of range", ev->kind);
		return -EINVAL;
	}
	if (ev->oldstate >= TCPFSM_ST_MAX) {
		snprintf(buf, len, "oldstate %u out of range", ev->oldstate);
		return -EINVAL;
	}
	if (ev->newstate >= TCPFSM_ST_MAX) {
		snprintf(buf, len, "newstate %u out of range", ev->newstate);
		return -EINVAL;
	}
	/* a marker (written by tcpfsm: a loss, a step, ...) has no socket */
	if (!marker && ev->family != 2 && ev->family != 10) {
		snprintf(buf, len, "family %u is neither AF_INET nor AF_INET6",
			 ev->family);
		return -EINVAL;
	}
	if (len)
		buf[0] = '\0';
	return 0;
}

int record_check(const struct tcpfsm_event *ev)
{
	return record_check_msg(ev, NULL, 0);
}

void record_encode(void *out, const struct tcpfsm_event *ev)
{
	unsigned char *p = out;

	put64(p + 0, ev->ts_ns);
	put64(p + 8, ev->cookie);
	put64(p + 16, ev->cgroup_id);
	put64(p + 24, ev->aux);
	put64(p + 32, ev->aux2);
	put32(p + 40, ev->pid);
	put32(p + 44, ev->tid);
	put32(p + 48, ev->netns);
	put16(p + 52, ev->sport);
	put16(p + 54, ev->dport);
	p[56] = ev->kind;
	p[57] = ev->oldstate;
	p[58] = ev->newstate;
	p[59] = ev->family;
	p[60] = ev->flags;
	p[61] = ev->retrans;
	p[62] = 0;
	p[63] = 0;
	memcpy(p + 64, ev->saddr, 16);
	memcpy(p + 80, ev->daddr, 16);
	memcpy(p + 96, ev->comm, TCPFSM_COMM_LEN);
}

void record_decode(struct tcpfsm_event *ev, const void *in)
{
	const unsigned char *p = in;

	ev->ts_ns = get64(p + 0);
	ev->cookie = get64(p + 8);
	ev->cgroup_id = get64(p + 16);
	ev->aux = get64(p + 24);
	ev->aux2 = get64(p + 32);
	ev->pid = get32(p + 40);
	ev->tid = get32(p + 44);
	ev->netns = get32(p + 48);
	ev->sport = get16(p + 52);
	ev->dport = get16(p + 54);
	ev->kind = p[56];
	ev->oldstate = p[57];
	ev->newstate = p[58];
	ev->family = p[59];
	ev->flags = p[60];
	ev->retrans = p[61];
	ev->__pad[0] = p[62];
	ev->__pad[1] = p[63];
	memcpy(ev->saddr, p + 64, 16);
	memcpy(ev->daddr, p + 80, 16);
	memcpy(ev->comm, p + 96, TCPFSM_COMM_LEN);
}

/* A NUL-padded fixed field from a string (truncated if longer). */
static void put_str(unsigned char *p, const char *s)
{
	size_t n = strnlen(s, RECORD_STR_LEN);

	memset(p, 0, RECORD_STR_LEN);
	memcpy(p, s, n);
}

static void get_str(char *dst, const unsigned char *p)
{
	size_t n = strnlen((const char *)p, RECORD_STR_LEN);

	memcpy(dst, p, n);
	dst[n] = '\0';
}

/* The filter's 392 bytes at p (see record.h). */
static void put_filter(unsigned char *p, const struct filter *f)
{
	int i;

	p[0] = f->family;
	p[1] = (uint8_t)f->n_lports;
	p[2] = (uint8_t)f->n_rports;
	p[3] = (uint8_t)f->n_addrs;
	p[4] = f->has_pid;
	p[5] = f->has_comm;
	p[6] = f->has_netns;
	put32(p + 8, f->pid);
	put32(p + 12, f->netns);
	put32(p + 16, f->state_mask);
	for (i = 0; i < TCPFSM_MAX_PORTS; i++) {
		put16(p + 24 + 2 * i, f->lports[i]);
		put16(p + 40 + 2 * i, f->rports[i]);
	}
	memcpy(p + 56, f->comm, TCPFSM_COMM_LEN);
	for (i = 0; i < FILTER_MAX_ADDRS; i++) {
		unsigned char *a = p + 72 + 20 * i;

		a[0] = f->addrs[i].family;
		a[1] = f->addrs[i].prefix;
		memcpy(a + 2, f->addrs[i].addr, 16);
	}
}

static bool family_ok(uint8_t family, bool any)
{
	return family == 2 || family == 10 || (any && family == 0);
}

/* Decode and check the filter at p; 0 or -EBADMSG with why in err. */
static int get_filter(const unsigned char *p, struct filter *f, char *err,
		      size_t errlen)
{
	int i;

	memset(f, 0, sizeof(*f));
	f->family = p[0];
	f->n_lports = p[1];
	f->n_rports = p[2];
	f->n_addrs = p[3];
	f->has_pid = p[4];
	f->has_comm = p[5];
	f->has_netns = p[6];
	f->pid = get32(p + 8);
	f->netns = get32(p + 12);
	f->state_mask = get32(p + 16);
	for (i = 0; i < TCPFSM_MAX_PORTS; i++) {
		f->lports[i] = get16(p + 24 + 2 * i);
		f->rports[i] = get16(p + 40 + 2 * i);
	}
	memcpy(f->comm, p + 56, TCPFSM_COMM_LEN);
	f->comm[TCPFSM_COMM_LEN - 1] = '\0';
	if (!family_ok(f->family, true) || f->n_lports > TCPFSM_MAX_PORTS ||
	    f->n_rports > TCPFSM_MAX_PORTS || f->n_addrs > FILTER_MAX_ADDRS ||
	    p[4] > 1 || p[5] > 1 || p[6] > 1)
		goto bad;
	for (i = 0; i < f->n_addrs; i++) {
		const unsigned char *a = p + 72 + 20 * i;

		f->addrs[i].family = a[0];
		f->addrs[i].prefix = a[1];
		memcpy(f->addrs[i].addr, a + 2, 16);
		if (!family_ok(a[0], false) || a[1] > (a[0] == 2 ? 32 : 128))
			goto bad;
	}
	return 0;
bad:
	snprintf(err, errlen, "bad filter in the header");
	return -EBADMSG;
}

void record_encode_header(void *out, const struct record_header *hdr)
{
	unsigned char *p = out;

	memset(p, 0, RECORD_HDR_SIZE);
	memcpy(p, RECORD_MAGIC, RECORD_MAGIC_LEN);
	put16(p + 8, RECORD_VERSION);
	put16(p + 10, RECORD_HDR_SIZE);
	put32(p + 12, RECORD_SIZE);
	put64(p + 16, hdr->start_mono_ns);
	put64(p + 24, hdr->start_real_ns);
	put32(p + 32, hdr->flags);
	put32(p + 36, 0);
	put_str(p + 40, hdr->hostname);
	put_str(p + 104, hdr->release);
	memcpy(p + 168, hdr->boot_id, RECORD_BOOT_ID_LEN);
	put_filter(p + RECORD_HDR_SIZE_BOOT, &hdr->filter);
}

int record_parse_header(const void *in, size_t len, struct record_header *hdr,
			char *err, size_t errlen)
{
	const unsigned char *p = in;
	size_t n = len < RECORD_MAGIC_LEN ? len : RECORD_MAGIC_LEN;

	/* judge what is there, in file order, before asking for more */
	if (memcmp(p, RECORD_MAGIC, n)) {
		snprintf(err, errlen, "bad magic: not a tcpfsm recording");
		return -EBADMSG;
	}
	if (len >= 10) {
		hdr->version = get16(p + 8);
		if (hdr->version < RECORD_VERSION_MIN || hdr->version > RECORD_VERSION) {
			snprintf(err, errlen,
				 "unsupported version %u (this build reads versions %u to %u)",
				 hdr->version, RECORD_VERSION_MIN, RECORD_VERSION);
			return -EBADMSG;
		}
	}
	if (len >= 12) {
		hdr->header_size = get16(p + 10);
		if (hdr->header_size < RECORD_HDR_SIZE_V1 ||
		    hdr->header_size % 8) {
			snprintf(err, errlen,
				 "bad header size %u (at least %u, a multiple of 8)",
				 hdr->header_size, RECORD_HDR_SIZE_V1);
			return -EBADMSG;
		}
	}
	if (len >= 16) {
		hdr->record_size = get32(p + 12);
		if (hdr->record_size != RECORD_SIZE) {
			snprintf(err, errlen, "record size %u does not match %u",
				 hdr->record_size, RECORD_SIZE);
			return -EBADMSG;
		}
	}
	if (len < RECORD_HDR_SIZE_V1) {
		snprintf(err, errlen, "truncated header (need %u bytes, have %zu)",
			 RECORD_HDR_SIZE_V1, len);
		return -EAGAIN;
	}
	hdr->start_mono_ns = get64(p + 16);
	hdr->start_real_ns = get64(p + 24);
	hdr->flags = get32(p + 32);
	hdr->reserved = get32(p + 36);
	get_str(hdr->hostname, p + 40);
	get_str(hdr->release, p + 104);
	memset(hdr->boot_id, 0, RECORD_BOOT_ID_LEN);
	memset(&hdr->filter, 0, sizeof(hdr->filter));
	if (hdr->header_size >= RECORD_HDR_SIZE_BOOT) {
		if (len < RECORD_HDR_SIZE_BOOT) {
			snprintf(err, errlen, "truncated header (need %u bytes, have %zu)",
				 RECORD_HDR_SIZE_BOOT, len);
			return -EAGAIN;
		}
		memcpy(hdr->boot_id, p + 168, RECORD_BOOT_ID_LEN);
	}
	/* the filter: version 2 only (a version-1 header's extra bytes are not it) */
	if (hdr->version >= 2 && hdr->header_size >= RECORD_HDR_SIZE) {
		if (len < RECORD_HDR_SIZE) {
			snprintf(err, errlen, "truncated header (need %u bytes, have %zu)",
				 RECORD_HDR_SIZE, len);
			return -EAGAIN;
		}
		if (get_filter(p + RECORD_HDR_SIZE_BOOT, &hdr->filter, err, errlen))
			return -EBADMSG;
	} else {
		hdr->flags &= ~RECORD_F_FILTER;
	}
	if (errlen)
		err[0] = '\0';
	return 0;
}

void record_header_now(struct record_header *hdr, uint32_t flags)
{
	struct utsname u;

	memset(hdr, 0, sizeof(*hdr));
	hdr->version = RECORD_VERSION;
	hdr->header_size = RECORD_HDR_SIZE;
	hdr->record_size = RECORD_SIZE;
	hdr->start_mono_ns = clock_ns(CLOCK_MONOTONIC);
	hdr->start_real_ns = clock_ns(CLOCK_REALTIME);
	hdr->flags = flags;
	if (gethostname(hdr->hostname, RECORD_STR_LEN))
		hdr->hostname[0] = '\0';
	hdr->hostname[RECORD_STR_LEN] = '\0';
	if (!uname(&u))
		snprintf(hdr->release, sizeof(hdr->release), "%s", u.release);
	record_boot_id(hdr->boot_id);
}

static int hex_digit(char c)
{
	if (c >= '0' && c <= '9')
		return c - '0';
	if (c >= 'a' && c <= 'f')
		return c - 'a' + 10;
	if (c >= 'A' && c <= 'F')
		return c - 'A' + 10;
	return -1;
}

int record_boot_id(uint8_t id[RECORD_BOOT_ID_LEN])
{
	char text[64];
	ssize_t n;
	int fd, i = 0, hi, lo;
	const char *p = text;

	memset(id, 0, RECORD_BOOT_ID_LEN);
	fd = open("/proc/sys/kernel/random/boot_id", O_RDONLY | O_CLOEXEC);
	if (fd < 0)
		return -errno;
	n = read(fd, text, sizeof(text) - 1);
	close(fd);
	if (n < 0)
		return -errno;
	text[n] = '\0';
	/* "2e651b27-72de-4fda-94f5-1f1c0ac3b64a\n" */
	while (i < RECORD_BOOT_ID_LEN && *p) {
		if (*p == '-') {
			p++;
			continue;
		}
		hi = hex_digit(p[0]);
		lo = hi < 0 ? -1 : hex_digit(p[1]);
		if (lo < 0)
			break;
		id[i++] = (uint8_t)(hi << 4 | lo);
		p += 2;
	}
	if (i < RECORD_BOOT_ID_LEN) {
		memset(id, 0, RECORD_BOOT_ID_LEN);
		return -EINVAL;
	}
	return 0;
}

bool record_same_boot(const struct record_header *hdr)
{
	static const uint8_t zero[RECORD_BOOT_ID_LEN];
	uint8_t now[RECORD_BOOT_ID_LEN];

	if (!memcmp(hdr->boot_id, zero, sizeof(zero)) || record_boot_id(now))
		return false;
	return !memcmp(hdr->boot_id, now, sizeof(now));
}

/* ---- writer ---- */

static int write_all(int fd, const unsigned char *p, size_t n)
{
	ssize_t done;

	while (n) {
		done = write(fd, p, n);
		if (done < 0) {
			if (errno == EINTR)
				continue;
			return -errno;
		}
		p += done;
		n -= done;
	}
	return 0;
}

int record_flush(struct record_writer *w)
{
	int ret;

	if (w->err)
		return w->err;
	ret = write_all(w->fd, w->buf, w->used);
	w->used = 0;
	if (ret)
		w->err = ret;
	return ret;
}

int record_open_fd(int fd, bool own_fd, const struct record_header *hdr,
		   struct record_writer **wp)
{
	struct record_writer *w;
	int ret;

	*wp = NULL;
	w = calloc(1, sizeof(*w));
	if (!w) {
		if (own_fd)
			close(fd);
		return -ENOMEM;
	}
	w->fd = fd;
	w->own_fd = own_fd;
	/* on disk at once: a recorder killed later leaves a readable file */
	record_encode_header(w->buf, hdr);
	w->used = RECORD_HDR_SIZE;
	ret = record_flush(w);
	if (ret) {
		if (own_fd)
			close(fd);
		free(w);
		return ret;
	}
	*wp = w;
	return 0;
}

int record_open_write_hdr(const char *path, const struct record_header *hdr,
			  bool force, struct record_writer **wp)
{
	int fd;

	*wp = NULL;
	if (!strcmp(path, "-"))
		return record_open_fd(STDOUT_FILENO, false, hdr, wp);
	fd = outfile_create(path, force);
	if (fd < 0)
		return fd;
	return record_open_fd(fd, true, hdr, wp);
}

int record_open_write(const char *path, struct record_writer **w)
{
	struct record_header hdr;

	record_header_now(&hdr, 0);
	return record_open_write_hdr(path, &hdr, false, w);
}

int record_write(struct record_writer *w, const struct tcpfsm_event *ev,
		 size_t n)
{
	size_t i;
	int ret;

	if (w->err)
		return w->err;
	for (i = 0; i < n; i++) {
		if (w->used + RECORD_SIZE > sizeof(w->buf)) {
			ret = record_flush(w);
			if (ret)
				return ret;
		}
		record_encode(w->buf + w->used, &ev[i]);
		w->used += RECORD_SIZE;
	}
	return 0;
}

int record_close(struct record_writer *w)
{
	int ret;

	if (!w)
		return 0;
	ret = record_flush(w);
	if (w->own_fd && close(w->fd) && !ret)
		ret = -errno;
	free(w);
	return ret;
}

/* ---- reader ---- */

static int fail(struct record_reader *r, int err, const char *fmt, ...)
	__attribute__((format(printf, 3, 4)));

static int fail(struct record_reader *r, int err, const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(r->msg, sizeof(r->msg), fmt, ap);
	va_end(ap);
	return err;
}

/*
 * Make at least want bytes available at buf[pos] unless the file ends
 * first. Returns the bytes available (maybe < want at EOF) or -errno.
 */
static ssize_t fill(struct record_reader *r, size_t want)
{
	ssize_t n;

	if (r->len - r->pos >= want || r->eof)
		return r->len - r->pos;
	memmove(r->buf, r->buf + r->pos, r->len - r->pos);
	r->len -= r->pos;
	r->pos = 0;
	while (r->len < want) {
		n = read(r->fd, r->buf + r->len, sizeof(r->buf) - r->len);
		if (n < 0) {
			if (errno == EINTR)
				continue;
			return -errno;
		}
		if (n == 0) {
			r->eof = true;
			break;
		}
		r->len += n;
	}
	return r->len;
}

static void consume(struct record_reader *r, size_t n)
{
	r->pos += n;
	r->offset += n;
}

static int read_header(struct record_reader *r, struct record_header *hdr)
{
	ssize_t have;
	size_t skip, known;
	int ret;

	have = fill(r, RECORD_HDR_SIZE_V1);
	if (have < 0)
		return fail(r, have, "reading the header: %s", strerror(-have));
	if (have == 0)
		return fail(r, -EBADMSG, "empty file: no header");
	ret = record_parse_header(r->buf + r->pos, have, hdr, r->msg,
				  sizeof(r->msg));
	/* the header says it holds more (boot id, filter): read that far */
	while (ret == -EAGAIN && have >= RECORD_HDR_SIZE_V1 && !r->eof) {
		have = fill(r, have < RECORD_HDR_SIZE_BOOT ? RECORD_HDR_SIZE_BOOT :
				RECORD_HDR_SIZE);
		if (have < 0)
			return fail(r, have, "reading the header: %s", strerror(-have));
		ret = record_parse_header(r->buf + r->pos, have, hdr, r->msg,
					  sizeof(r->msg));
	}
	if (ret == -EAGAIN)	/* consistent so far, but the file ended */
		return -EBADMSG;
	if (ret)
		return ret;
	known = hdr->header_size < RECORD_HDR_SIZE_BOOT ? RECORD_HDR_SIZE_V1 :
		hdr->header_size < RECORD_HDR_SIZE || hdr->version < 2 ?
		RECORD_HDR_SIZE_BOOT : RECORD_HDR_SIZE;
	consume(r, known);
	/* header fields from a later minor revision: skip them */
	for (skip = hdr->header_size - known; skip;) {
		size_t chunk = skip < sizeof(r->buf) ? skip : sizeof(r->buf);

		have = fill(r, chunk);
		if (have < 0)
			return fail(r, have, "reading the header: %s",
				    strerror(-have));
		if ((size_t)have < chunk)
			return fail(r, -EBADMSG,
				    "truncated header (need %u bytes, have %llu)",
				    hdr->header_size,
				    (unsigned long long)(r->offset + have));
		consume(r, chunk);
		skip -= chunk;
	}
	return 0;
}

int record_open_read(const char *path, struct record_reader **rp,
		     struct record_header *hdr)
{
	struct record_reader *r;
	int ret;

	*rp = r = calloc(1, sizeof(*r));
	if (!r)
		return -ENOMEM;
	memset(hdr, 0, sizeof(*hdr));
	if (!strcmp(path, "-")) {
		r->fd = STDIN_FILENO;
	} else {
		r->fd = open(path, O_RDONLY | O_CLOEXEC);
		if (r->fd < 0) {
			ret = -errno;
			r->err = ret;
			return fail(r, ret, "%s", strerror(-ret));
		}
		r->own_fd = true;
	}
	ret = read_header(r, hdr);
	if (ret)
		r->err = ret;
	return ret;
}

int record_next(struct record_reader *r, struct tcpfsm_event *out)
{
	char why[96];
	uint64_t at;
	ssize_t have;

	if (r->err)
		return r->err;
	r->msg[0] = '\0';
	have = fill(r, RECORD_SIZE);
	if (have < 0) {
		r->err = have;
		return fail(r, have, "read error at offset %llu: %s",
			    (unsigned long long)r->offset, strerror(-have));
	}
	if (have == 0)
		return 0;
	if (have < RECORD_SIZE) {
		r->err = -EBADMSG;
		return fail(r, -EBADMSG,
			    "truncated record at offset %llu (need %u bytes, have %zd)",
			    (unsigned long long)r->offset, RECORD_SIZE, have);
	}
	at = r->offset;
	record_decode(out, r->buf + r->pos);
	consume(r, RECORD_SIZE);
	if (record_check_msg(out, why, sizeof(why)))
		return fail(r, -EBADMSG, "record at offset %llu: %s",
			    (unsigned long long)at, why);
	return 1;
}

const char *record_error(const struct record_reader *r)
{
	return r ? r->msg : "out of memory";
}

uint64_t record_offset(const struct record_reader *r)
{
	return r->offset;
}

void record_close_read(struct record_reader *r)
{
	if (!r)
		return;
	if (r->own_fd && r->fd >= 0)
		close(r->fd);
	free(r);
}
