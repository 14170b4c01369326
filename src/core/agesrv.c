// SPDX-License-Identifier: GPL-2.0 OR BSD-2-Clause
/* Age publication over a unix stream socket. See agesrv.h. */
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
#include "agesrv_impl.h"
#include "clock.h"

const char *agesrv_default_path(void)
{
	const char *p = getenv(AGESRV_PATH_ENV);

	return p && *p ? p : AGESRV_DEFAULT_PATH;
}

/* -------------------------------------------------------------- server */

#define AGESRV_CLIENT_TIMEOUT_MS 5000	/* more than a client waits (4 s) */
/* an answer built up to this long before a client connected serves it at once */
#define AGESRV_FRESH_NS 250000000ull
/* a client still waiting this long before its limit gets the newest there is */
#define AGESRV_LAST_CHANCE_NS 1000000000ull
#define AGESRV_BUILD_CHUNK 4096
/* a turn's part of an answer: chunks until this long (the ring waits meanwhile) */
#define AGESRV_PART_NS 5000000ull
#define AGESRV_MAX_CLIENTS 64
#define AGESRV_MIN_INTERVAL_NS 50000000ull	/* 50 ms */
/* building an answer takes at most 1/AGESRV_BUILD_SHARE of the tracer */
#define AGESRV_BUILD_SHARE 10
#define AGESRV_BACKLOG 64

/* One built answer (header, records, trailer), sent to every client that waited for it. */
struct age_snap {
	uint8_t *buf;
	size_t len, cap;
	uint64_t built_ns;	/* its header's now_ns */
	unsigned int refs;	/* clients sending it, and the server's newest (thread only) */
};

struct agesrv_writer {
	struct age_snap *snap;
	uint64_t nrecords;
	int err;
};

struct age_client {
	int fd;
	uint64_t since_ns;	/* accepted at: gets an answer built after */
	uint64_t deadline_ns;
	struct age_snap *snap;	/* NULL: waits for one */
	size_t off;
};

struct agesrv {
	int fd;			/* listening, non-blocking */
	int want_fd;		/* eventfd, server -> tracer: build one */
	int wake_fd;		/* eventfd, tracer -> server: one built, or stop */
	struct agesrv_opts o;
	char path[108];
	pthread_t thread;
	bool started;
	pthread_mutex_t lock;
	/* under lock */
	struct age_snap *published;	/* built, not yet taken by the thread */
	bool stop;
	struct agesrv_stats st;
	/* the tracer's thread only */
	bool pending;		/* a client waits: build when allowed */
	uint64_t next_build_ns;
	struct agesrv_writer *bw; /* the answer being built, NULL: none */
	size_t cursor;		/* the filler's, between parts */
	uint64_t build_start_ns, build_spent_ns;
	/* the server thread only */
	struct age_snap *newest;
	bool asked;		/* want_fd signalled, no answer built since */
	struct age_client *clients;
	unsigned int nclients;
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

/*
 * A stream socket connected to path within timeout_ms, or -errno. A unix
 * socket's connect() waits for room in a full backlog for as long as the
 * socket's send timeout (then -EAGAIN): so it is bounded too.
 */
int agesrv_unix_connect(const char *path, unsigned int timeout_ms)
{
	struct timeval tv = { .tv_sec = timeout_ms / 1000,
			      .tv_usec = timeout_ms % 1000 * 1000 };
	struct sockaddr_un sun;
	int fd, ret;

	ret = set_unix_path(&sun, path);
	if (ret)
		return ret;
	fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC | (timeout_ms ? 0 : SOCK_NONBLOCK), 0);
	if (fd < 0)
		return -errno;
	if (timeout_ms)
		setsockopt(fd, SOL_SOCKET, SO_SNDTIMEO, &tv, sizeof(tv));
	while (connect(fd, (struct sockaddr *)&sun, sizeof(sun))) {
		if (errno == EINTR)
			continue;
		ret = errno == EAGAIN || errno == EINPROGRESS ? -ETIMEDOUT : -errno;
		close(fd);
		return ret;
	}
	return fd;
}

/*
 * A socket file at path: does anyone answer there? Asked without waiting:
 * a server whose backlog is full is alive (-EADDRINUSE all the same).
 */
static int probe_existing(const char *path)
{
	struct stat stt;
	int fd;

	if (lstat(path, &stt))
		return errno == ENOENT ? 0 : -errno;
	if (!S_ISSOCK(stt.st_mode))
		return -EEXIST;
	fd = agesrv_unix_connect(path, 0);
	if (fd >= 0) {
		close(fd);
		return -EADDRINUSE;
	}
	if (fd == -ETIMEDOUT)
		return -EADDRINUSE;
	if (fd != -ECONNREFUSED)
		return fd;
	/* stale: left by a tracer that could not remove it (SIGKILL) */
	if (unlink(path) && errno != ENOENT)
		return -errno;
	return 0;
}

static void snap_unref(struct age_snap *s)
{
	if (s && !--s->refs) {
		free(s->buf);
		free(s);
	}
}

static void snap_free(struct age_snap *s)
{
	if (s) {
		free(s->buf);
		free(s);
	}
}

static void eventfd_signal(int fd)
{
	uint64_t one = 1;

	(void)!write(fd, &one, sizeof(one));
}

static bool eventfd_take(int fd)
{
	uint64_t v;

	return read(fd, &v, sizeof(v)) == sizeof(v);
}

static void client_close(struct agesrv *srv, unsigned int i, bool answered)
{
	struct age_client *c = &srv->clients[i];

	close(c->fd);
	snap_unref(c->snap);
	pthread_mutex_lock(&srv->lock);
	if (answered)
		srv->st.answered++;
	else
		srv->st.cut_off++;
	pthread_mutex_unlock(&srv->lock);
	srv->clients[i] = srv->clients[--srv->nclients];
}

/* Send what the socket takes now: 1 when the whole answer is out, 0 not yet, -1 gone. */
static int client_send(struct age_client *c)
{
	while (c->off < c->snap->len) {
		ssize_t n = send(c->fd, c->snap->buf + c->off, c->snap->len - c->off,
				 MSG_DONTWAIT | MSG_NOSIGNAL);

		if (n < 0) {
			if (errno == EINTR)
				continue;
			return errno == EAGAIN || errno == EWOULDBLOCK ? 0 : -1;
		}
		c->off += (size_t)n;
	}
	return 1;
}

static void accept_clients(struct agesrv *srv, uint64_t now)
{
	uint64_t limit = (uint64_t)srv->o.client_timeout_ms * 1000000ull;

	while (srv->nclients < srv->o.max_clients) {
		int fd = accept4(srv->fd, NULL, NULL, SOCK_CLOEXEC | SOCK_NONBLOCK);
		struct age_client *c;

		if (fd < 0) {
			if (errno == EINTR || errno == ECONNABORTED)
				continue;
			return;	/* EAGAIN, or out of descriptors: retried later */
		}
		c = &srv->clients[srv->nclients++];
		memset(c, 0, sizeof(*c));
		c->fd = fd;
		c->since_ns = now;
		c->deadline_ns = now + limit;
	}
}

/* Take what the tracer built; hand it to every client waiting for it. */
static void take_published(struct agesrv *srv)
{
	struct age_snap *s;

	pthread_mutex_lock(&srv->lock);
	s = srv->published;
	srv->published = NULL;
	pthread_mutex_unlock(&srv->lock);
	if (!s)
		return;
	snap_unref(srv->newest);
	s->refs = 1;
	srv->newest = s;
	srv->asked = false;
}

/*
 * Which answer a waiting client gets: one built after it connected, or
 * shortly before (AGESRV_FRESH_NS: ages are absolute times, a socket that
 * changed state since shows no age rather than a wrong one); near its
 * limit, the newest there is rather than none.
 */
static void give_answer(struct agesrv *srv, struct age_client *c, uint64_t now)
{
	struct age_snap *s = srv->newest;

	if (c->snap || !s)
		return;
	if (c->since_ns <= s->built_ns + AGESRV_FRESH_NS ||
	    now + AGESRV_LAST_CHANCE_NS >= c->deadline_ns) {
		c->snap = s;
		s->refs++;
	}
}

static void *serve_thread(void *arg)
{
	struct agesrv *srv = arg;
	struct pollfd *pfd;
	unsigned int max = srv->o.max_clients;

	pfd = calloc(max + 2, sizeof(*pfd));
	if (!pfd)
		return NULL;
	for (;;) {
		uint64_t now = clock_ns(CLOCK_MONOTONIC), next = 0;
		unsigned int i, n = 0, base;
		bool waiting = false;
		int timeout = -1;

		pthread_mutex_lock(&srv->lock);
		if (srv->stop) {
			pthread_mutex_unlock(&srv->lock);
			break;
		}
		pthread_mutex_unlock(&srv->lock);
		take_published(srv);
		accept_clients(srv, now);
		for (i = 0; i < srv->nclients;) {
			struct age_client *c = &srv->clients[i];
			int sent;

			give_answer(srv, c, now);
			sent = c->snap ? client_send(c) : 0;

			if (sent) {
				client_close(srv, i, sent > 0);
				continue;
			}
			if (now >= c->deadline_ns) {
				client_close(srv, i, false);
				continue;
			}
			if (!c->snap) {
				uint64_t last = c->deadline_ns - AGESRV_LAST_CHANCE_NS;

				waiting = true;
				if (last > now && (!next || last < next))
					next = last;
			}
			if (!next || c->deadline_ns < next)
				next = c->deadline_ns;
			i++;
		}
		if (waiting && !srv->asked) {
			eventfd_signal(srv->want_fd);
			srv->asked = true;
		}
		pfd[n++] = (struct pollfd){ .fd = srv->wake_fd, .events = POLLIN };
		if (srv->nclients < max)
			pfd[n++] = (struct pollfd){ .fd = srv->fd, .events = POLLIN };
		base = n;
		/* what a client sends is never read: no POLLIN, garbage costs nothing */
		for (i = 0; i < srv->nclients; i++)
			pfd[n++] = (struct pollfd){ .fd = srv->clients[i].fd,
						    .events = srv->clients[i].snap ? POLLOUT : 0 };
		if (next) {
			now = clock_ns(CLOCK_MONOTONIC);
			timeout = next > now ? (int)((next - now) / 1000000) + 1 : 0;
		}
		if (poll(pfd, n, timeout) <= 0)
			continue;
		if (pfd[0].revents & POLLIN)
			eventfd_take(srv->wake_fd);
		/* a client that hung up before its answer: gone (backwards: closing moves the last) */
		for (i = srv->nclients; i-- > 0;)
			if (pfd[base + i].revents & (POLLERR | POLLHUP) &&
			    !(pfd[base + i].revents & POLLOUT))
				client_close(srv, i, false);
	}
	while (srv->nclients)
		client_close(srv, 0, false);
	snap_unref(srv->newest);
	srv->newest = NULL;
	free(pfd);
	return NULL;
}

/* The socket file, 0600 from its creation: fchmod before bind, no path race. */
static int listen_at(const char *path)
{
	struct sockaddr_un sun;
	int fd, ret;

	ret = set_unix_path(&sun, path);
	if (ret)
		return ret;
	fd = socket(AF_UNIX, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
	if (fd < 0)
		return -errno;
	/* bind() creates the file with the socket inode's mode (less umask) */
	if (fchmod(fd, 0600) || bind(fd, (struct sockaddr *)&sun, sizeof(sun)))
		goto fail;
	if (listen(fd, AGESRV_BACKLOG)) {
		ret = -errno;
		unlink(path);
		close(fd);
		return ret;
	}
	return fd;
fail:
	ret = -errno;
	close(fd);
	return ret;
}

int agesrv_open(const char *path, const struct agesrv_opts *o,
		struct agesrv **out)
{
	struct agesrv *srv;
	sigset_t all, old;
	int ret;

	*out = NULL;
	if (!path)
		path = agesrv_default_path();
	if (strlen(path) >= sizeof(srv->path))
		return -ENAMETOOLONG;
	ret = mkdir_parents(path);
	if (ret)
		return ret;
	ret = probe_existing(path);
	if (ret)
		return ret;
	srv = calloc(1, sizeof(*srv));
	if (!srv)
		return -ENOMEM;
	srv->fd = srv->want_fd = srv->wake_fd = -1;
	if (o)
		srv->o = *o;
	if (!srv->o.client_timeout_ms)
		srv->o.client_timeout_ms = AGESRV_CLIENT_TIMEOUT_MS;
	if (!srv->o.max_clients)
		srv->o.max_clients = AGESRV_MAX_CLIENTS;
	if (!srv->o.min_interval_ns)
		srv->o.min_interval_ns = AGESRV_MIN_INTERVAL_NS;
	if (!srv->o.build_chunk)
		srv->o.build_chunk = AGESRV_BUILD_CHUNK;
	strcpy(srv->path, path);
	pthread_mutex_init(&srv->lock, NULL);
	srv->clients = calloc(srv->o.max_clients, sizeof(*srv->clients));
	srv->want_fd = eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC);
	srv->wake_fd = eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC);
	if (!srv->clients || srv->want_fd < 0 || srv->wake_fd < 0) {
		ret = srv->clients ? -errno : -ENOMEM;
		goto fail;
	}
	ret = listen_at(path);
	if (ret < 0)
		goto fail;
	srv->fd = ret;
	/* signals stay the tracer's: its wait is the one they must interrupt */
	sigfillset(&all);
	pthread_sigmask(SIG_SETMASK, &all, &old);
	ret = -pthread_create(&srv->thread, NULL, serve_thread, srv);
	pthread_sigmask(SIG_SETMASK, &old, NULL);
	if (ret) {
		unlink(path);
		goto fail;
	}
	srv->started = true;
	*out = srv;
	return 0;
fail:
	agesrv_close(srv);
	return ret;
}

int agesrv_want_fd(const struct agesrv *srv)
{
	return srv->want_fd;
}

static int snap_grow(struct agesrv_writer *w, size_t n)
{
	struct age_snap *s = w->snap;

	if (w->err)
		return w->err;
	if (s->len + n > s->cap) {
		size_t cap = s->cap ? s->cap * 2 : 64 * 1024;
		uint8_t *b;

		if (cap < s->len + n)
			cap = s->len + n;
		b = realloc(s->buf, cap);
		if (!b)
			return w->err = -ENOMEM;
		s->buf = b;
		s->cap = cap;
	}
	return 0;
}

int agesrv_reserve(struct agesrv_writer *w, size_t n)
{
	return snap_grow(w, n * sizeof(struct age_record));
}

static int snap_append(struct agesrv_writer *w, const void *p, size_t n)
{
	int ret = snap_grow(w, n);

	if (ret)
		return ret;
	memcpy(w->snap->buf + w->snap->len, p, n);
	w->snap->len += n;
	return 0;
}

int agesrv_put(struct agesrv_writer *w, const struct age_record *r)
{
	int ret = snap_append(w, r, sizeof(*r));

	if (!ret)
		w->nrecords++;
	return ret;
}

static void build_free(struct agesrv *srv)
{
	if (srv->bw) {
		snap_free(srv->bw->snap);
		free(srv->bw);
		srv->bw = NULL;
	}
}

/* Start an answer: its header. */
static int build_start(struct agesrv *srv, uint64_t now_ns)
{
	struct age_header h;

	srv->bw = calloc(1, sizeof(*srv->bw));
	if (!srv->bw)
		return -ENOMEM;
	srv->bw->snap = calloc(1, sizeof(*srv->bw->snap));
	if (!srv->bw->snap) {
		build_free(srv);
		return -ENOMEM;
	}
	age_header_init(&h, now_ns);
	h.flags = srv->o.hdr_flags;
	srv->bw->snap->built_ns = now_ns;
	srv->cursor = 0;
	srv->build_start_ns = now_ns;
	srv->build_spent_ns = 0;
	return snap_append(srv->bw, &h, sizeof(h));
}

int agesrv_update(struct agesrv *srv, bool woken, agesrv_fill_fn fill, void *ctx,
		  uint64_t now_ns)
{
	struct age_record end = { .flags = AGE_F_END };
	struct agesrv_writer *w;
	uint64_t t0, t1;
	int ret;

	if (woken && eventfd_take(srv->want_fd))
		srv->pending = true;
	if (!srv->bw) {
		if (!srv->pending || now_ns < srv->next_build_ns)
			return 0;
		srv->pending = false;
		ret = build_start(srv, now_ns);
		if (ret)
			goto fail;
	}
	w = srv->bw;
	t0 = t1 = clock_ns(CLOCK_MONOTONIC);
	do {
		ret = fill ? fill(ctx, w, &srv->cursor, srv->o.build_chunk) : 1;
		t1 = clock_ns(CLOCK_MONOTONIC);
	} while (ret == 0 && t1 - t0 < AGESRV_PART_NS);
	if (ret > 0) {
		end.since_ns = w->nrecords;
		ret = snap_append(w, &end, sizeof(end)) ?: 1;
	}
	srv->build_spent_ns += t1 - t0;
	if (ret == 0)
		return AGESRV_BUILDING;
	/* building takes at most 1/AGESRV_BUILD_SHARE of the tracer's time */
	srv->next_build_ns = t1 + srv->build_spent_ns * (AGESRV_BUILD_SHARE - 1);
	if (srv->next_build_ns < srv->build_start_ns + srv->o.min_interval_ns)
		srv->next_build_ns = srv->build_start_ns + srv->o.min_interval_ns;
	if (ret < 0)
		goto fail;
	srv->bw = NULL;
	pthread_mutex_lock(&srv->lock);
	snap_free(srv->published);	/* never taken: this one is newer */
	srv->published = w->snap;
	srv->st.builds++;
	pthread_mutex_unlock(&srv->lock);
	free(w);
	eventfd_signal(srv->wake_fd);
	return AGESRV_PUBLISHED;
fail:
	build_free(srv);
	/* the clients wait on: asked again at the next turn allowed */
	srv->pending = true;
	return ret;
}

void agesrv_get_stats(struct agesrv *srv, struct agesrv_stats *st)
{
	pthread_mutex_lock(&srv->lock);
	*st = srv->st;
	pthread_mutex_unlock(&srv->lock);
}

void agesrv_close(struct agesrv *srv)
{
	if (!srv)
		return;
	if (srv->started) {
		pthread_mutex_lock(&srv->lock);
		srv->stop = true;
		pthread_mutex_unlock(&srv->lock);
		eventfd_signal(srv->wake_fd);
		pthread_join(srv->thread, NULL);
	}
	if (srv->fd >= 0) {
		close(srv->fd);
		unlink(srv->path);
	}
	if (srv->want_fd >= 0)
		close(srv->want_fd);
	if (srv->wake_fd >= 0)
		close(srv->wake_fd);
	snap_free(srv->published);
	build_free(srv);
	free(srv->clients);
	pthread_mutex_destroy(&srv->lock);
	free(srv);
}

