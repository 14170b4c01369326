// SPDX-License-Identifier: GPL-2.0 OR BSD-2-Clause
/* Age publication over a unix stream socket. See agesrv.h. */
#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include "agesrv.h"
#include "clock.h"

#define AGESRV_SEND_TIMEOUT_MS 500
#define AGESRV_RECV_TIMEOUT_MS 2000
#define AGESRV_WBUF (64 * 1024)

const char *agesrv_default_path(void)
{
	const char *p = getenv(AGESRV_PATH_ENV);

	return p && *p ? p : AGESRV_DEFAULT_PATH;
}

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

/* -------------------------------------------------------------- server */

struct agesrv_writer {
	int fd;
	int err;
	uint64_t deadline_ns;
	uint64_t nrecords;
	size_t len;
	uint8_t buf[AGESRV_WBUF];
};

static int set_unix_path(struct sockaddr_un *sun, const char *path)
{
	size_t n = strlen(path);

	if (n == 0 || n >= sizeof(sun->sun_path))
		return -ENAMETOOLONG;
	memset(sun, 0, sizeof(*sun));
	sun->sun_family = AF_UNIX;
	memcpy(sun->sun_path, path, n);
	return 0;
}

static int mkdir_parents(const char *path)
{
	char dir[108];
	char *p;

	if (strlen(path) >= sizeof(dir))
		return -ENAMETOOLONG;
	strcpy(dir, path);
	p = strrchr(dir, '/');
	if (!p || p == dir)
		return 0;
	*p = '\0';
	for (p = dir + 1; *p; p++) {
		if (*p != '/')
			continue;
		*p = '\0';
		if (mkdir(dir, 0755) && errno != EEXIST)
			return -errno;
		*p = '/';
	}
	if (mkdir(dir, 0755) && errno != EEXIST)
		return -errno;
	return 0;
}

/* A connected stream socket to path, or -errno. */
static int unix_connect(const char *path)
{
	struct sockaddr_un sun;
	int fd, ret;

	ret = set_unix_path(&sun, path);
	if (ret)
		return ret;
	fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
	if (fd < 0)
		return -errno;
	if (connect(fd, (struct sockaddr *)&sun, sizeof(sun))) {
		ret = -errno;
		close(fd);
		return ret;
	}
	return fd;
}

/* A socket file at path: is anyone listening there? */
static int probe_existing(const char *path)
{
	struct stat stt;
	int fd;

	if (lstat(path, &stt))
		return errno == ENOENT ? 0 : -errno;
	if (!S_ISSOCK(stt.st_mode))
		return -EEXIST;
	fd = unix_connect(path);
	if (fd >= 0) {
		close(fd);
		return -EADDRINUSE;
	}
	if (fd == -ENAMETOOLONG)
		return fd;
	if (unlink(path) && errno != ENOENT)
		return -errno;
	return 0;
}

int agesrv_open(const char *path, struct agesrv *srv)
{
	struct sockaddr_un sun;
	int fd, ret;

	memset(srv, 0, sizeof(*srv));
	srv->fd = -1;
	if (!path)
		path = agesrv_default_path();
	ret = set_unix_path(&sun, path);
	if (ret)
		return ret;
	ret = mkdir_parents(path);
	if (ret)
		return ret;
	ret = probe_existing(path);
	if (ret)
		return ret;
	fd = socket(AF_UNIX, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
	if (fd < 0)
		return -errno;
	if (bind(fd, (struct sockaddr *)&sun, sizeof(sun)))
		goto fail;
	if (chmod(path, 0600) || listen(fd, 64))
		goto fail_unlink;
	srv->fd = fd;
	strcpy(srv->path, path);
	return 0;
fail_unlink:
	ret = -errno;
	unlink(path);
	close(fd);
	return ret;
fail:
	ret = -errno;
	close(fd);
	return ret;
}

static int writer_flush(struct agesrv_writer *w)
{
	size_t off = 0;

	while (!w->err && off < w->len) {
		ssize_t n = send(w->fd, w->buf + off, w->len - off,
				 MSG_NOSIGNAL);

		if (n < 0) {
			if (errno == EINTR)
				continue;
			w->err = errno == EAGAIN || errno == EWOULDBLOCK ?
					 -ETIMEDOUT : -errno;
			break;
		}
		off += (size_t)n;
		if (off < w->len && clock_ns(CLOCK_MONOTONIC) > w->deadline_ns)
			w->err = -ETIMEDOUT;
	}
	w->len = 0;
	return w->err;
}

static int writer_put(struct agesrv_writer *w, const void *p, size_t n)
{
	if (w->err)
		return w->err;
	if (w->len + n > sizeof(w->buf) && writer_flush(w))
		return w->err;
	memcpy(w->buf + w->len, p, n);
	w->len += n;
	return 0;
}

int agesrv_put(struct agesrv_writer *w, const struct age_record *r)
{
	int ret = writer_put(w, r, sizeof(*r));

	if (!ret)
		w->nrecords++;
	return ret;
}

static int answer(struct agesrv *srv, struct agesrv_writer *w, int cfd,
		  agesrv_fill_fn fill, void *ctx)
{
	unsigned int ms = srv->send_timeout_ms ? srv->send_timeout_ms :
						  AGESRV_SEND_TIMEOUT_MS;
	struct timeval tv = { .tv_sec = ms / 1000,
			      .tv_usec = (ms % 1000) * 1000 };
	int sndbuf = 1 << 20;
	struct age_header h;
	struct age_record end = { .flags = AGE_F_END };
	uint64_t now = clock_ns(CLOCK_MONOTONIC);
	int ret;

	setsockopt(cfd, SOL_SOCKET, SO_SNDTIMEO, &tv, sizeof(tv));
	setsockopt(cfd, SOL_SOCKET, SO_SNDBUF, &sndbuf, sizeof(sndbuf));
	w->fd = cfd;
	w->err = 0;
	w->len = 0;
	w->nrecords = 0;
	w->deadline_ns = now + (uint64_t)ms * 1000000ull;
	age_header_init(&h, now);
	ret = writer_put(w, &h, sizeof(h));
	if (!ret && fill)
		ret = fill(ctx, w);
	if (!ret && !w->err) {
		end.since_ns = w->nrecords;
		ret = writer_put(w, &end, sizeof(end));
	}
	if (!ret)
		ret = writer_flush(w);
	return ret ? ret : w->err;
}

int agesrv_serve(struct agesrv *srv, agesrv_fill_fn fill, void *ctx)
{
	struct agesrv_writer *w = NULL;
	int served = 0;

	for (;;) {
		int cfd = accept4(srv->fd, NULL, NULL, SOCK_CLOEXEC);

		if (cfd < 0) {
			if (errno == EINTR || errno == ECONNABORTED)
				continue;
			if (errno == EAGAIN || errno == EWOULDBLOCK)
				break;
			free(w);
			return served ? served : -errno;
		}
		if (!w)
			w = malloc(sizeof(*w));
		if (w && answer(srv, w, cfd, fill, ctx) == 0)
			served++;
		close(cfd);
	}
	free(w);
	return served;
}

void agesrv_close(struct agesrv *srv)
{
	if (srv->fd >= 0) {
		close(srv->fd);
		unlink(srv->path);
	}
	srv->fd = -1;
}

/* -------------------------------------------------------------- client */

int agesrv_query(const char *path, age_cb cb, void *ctx,
		 uint64_t *server_now_ns)
{
	struct timeval tv = { .tv_sec = AGESRV_RECV_TIMEOUT_MS / 1000,
			      .tv_usec = AGESRV_RECV_TIMEOUT_MS % 1000 * 1000 };
	struct age_decoder d;
	uint8_t *buf;
	int fd, ret;

	if (!path)
		path = agesrv_default_path();
	fd = unix_connect(path);
	if (fd < 0)
		return fd;
	setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof(tv));
	buf = malloc(AGESRV_WBUF);
	if (!buf) {
		ret = -ENOMEM;
		goto out_close;
	}
	age_decoder_init(&d);
	for (;;) {
		ssize_t n = recv(fd, buf, AGESRV_WBUF, 0);

		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0) {
			ret = errno == EWOULDBLOCK ? -EAGAIN : -errno;
			break;
		}
		if (n == 0) {
			ret = age_decode_finish(&d);
			break;
		}
		ret = age_decode(&d, buf, (size_t)n, cb, ctx);
		if (ret)
			break;
	}
	if (server_now_ns)
		*server_now_ns = d.have_hdr ? d.hdr.now_ns : 0;
	free(buf);
out_close:
	close(fd);
	return ret;
}
