// SPDX-License-Identifier: GPL-2.0 OR BSD-2-Clause
/*
 * The age service's wire format (the header, records, the decoder) and
 * its client, agesrv_query(), as snapshot asks a tracer. See agesrv.h.
 */
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <pthread.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>
#include <sys/eventfd.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include "agesrv.h"
#include "clock.h"
#include "agesrv_impl.h"

#define AGESRV_RBUF (64 * 1024)

/* ------------------------------------------------------------ encoding */

void age_header_init(struct age_header *h, uint64_t now_ns)
{
	memset(h, 0, sizeof(*h));
	h->magic = AGE_MAGIC;
	h->version = AGE_VERSION;
	h->record_size = sizeof(struct age_record);
	h->now_ns = now_ns;
}

void age_decoder_init(struct age_decoder *d)
{
	memset(d, 0, sizeof(*d));
}

static int check_header(const struct age_header *h)
{
	if (h->magic != AGE_MAGIC || h->version != AGE_VERSION ||
	    h->record_size < sizeof(struct age_record) ||
	    h->record_size > AGE_MAX_RECORD)
		return -EPROTO;
	return 0;
}

/* One complete record (rec_size bytes at p). */
static int decode_record(struct age_decoder *d, const uint8_t *p, age_cb cb,
			 void *ctx)
{
	struct age_record r;

	if (d->ended)
		return -EPROTO;	/* bytes after the trailer */
	memcpy(&r, p, sizeof(r));
	if (r.cookie == 0 && (r.flags & AGE_F_END)) {
		if (r.since_ns != d->nrecords)
			return -EPROTO;
		d->ended = true;
		return 0;
	}
	d->nrecords++;
	return cb ? cb(ctx, &r) : 0;
}

/* A whole header, or a whole record once the header is known, at p. */
static int consume(struct age_decoder *d, const uint8_t *p, age_cb cb, void *ctx)
{
	int ret;

	if (d->have_hdr)
		return decode_record(d, p, cb, ctx);
	memcpy(&d->hdr, p, sizeof(d->hdr));
	ret = check_header(&d->hdr);
	if (!ret)
		d->have_hdr = true;
	return ret;
}

int age_decode(struct age_decoder *d, const void *buf, size_t len, age_cb cb,
	       void *ctx)
{
	const uint8_t *p = buf;
	int ret;

	while (len > 0) {
		size_t want = d->have_hdr ? d->hdr.record_size :
					    sizeof(struct age_header);
		const uint8_t *whole = NULL;
		size_t n;

		if (d->part_len == 0 && len >= want) {
			whole = p;	/* whole in buf: no copy */
			n = want;
		} else {
			/* split by reads: gathered in part */
			n = want - d->part_len;
			if (n > len)
				n = len;
			memcpy(d->part + d->part_len, p, n);
			d->part_len += n;
			if (d->part_len == want) {
				whole = d->part;
				d->part_len = 0;
			}
		}
		p += n;
		len -= n;
		if (!whole)
			break;
		ret = consume(d, whole, cb, ctx);
		if (ret)
			return ret;
	}
	return 0;
}

int age_decode_finish(const struct age_decoder *d)
{
	return d->ended && d->part_len == 0 ? 0 : -EPROTO;
}

/* -------------------------------------------------------------- client */

int agesrv_query(const char *path, unsigned int timeout_ms, age_cb cb, void *ctx,
		 struct age_answer *ans)
{
	struct age_decoder d;
	uint64_t deadline;
	uint8_t *buf;
	int fd, ret;

	if (!timeout_ms)
		timeout_ms = AGESRV_QUERY_TIMEOUT_MS;
	deadline = clock_ns(CLOCK_MONOTONIC) + (uint64_t)timeout_ms * 1000000ull;
	if (ans)
		memset(ans, 0, sizeof(*ans));
	if (!path)
		path = agesrv_default_path();
	age_decoder_init(&d);
	fd = agesrv_unix_connect(path, timeout_ms);
	if (fd < 0)
		return fd;
	buf = malloc(AGESRV_RBUF);
	if (!buf) {
		ret = -ENOMEM;
		goto out_close;
	}
	for (;;) {
		struct pollfd pfd = { .fd = fd, .events = POLLIN };
		uint64_t now = clock_ns(CLOCK_MONOTONIC);
		ssize_t n;

		if (now >= deadline) {
			ret = -ETIMEDOUT;
			break;
		}
		n = poll(&pfd, 1, (int)((deadline - now) / 1000000) + 1);
		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0) {
			ret = -errno;
			break;
		}
		if (n == 0)
			continue;	/* the deadline decides */
		n = recv(fd, buf, AGESRV_RBUF, MSG_DONTWAIT);
		if (n < 0 && (errno == EINTR || errno == EAGAIN))
			continue;
		if (n < 0) {
			ret = -errno;
			break;
		}
		if (n == 0) {
			/* closed before a header: cut off by a busy server, not a bad answer */
			ret = d.have_hdr || d.part_len ? age_decode_finish(&d) : -ECONNRESET;
			break;
		}
		ret = age_decode(&d, buf, (size_t)n, cb, ctx);
		if (ret)
			break;
	}
	if (ans && d.have_hdr) {
		ans->now_ns = d.hdr.now_ns;
		ans->flags = d.hdr.flags;
	}
	free(buf);
out_close:
	close(fd);
	return ret;
}
