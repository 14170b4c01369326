// SPDX-License-Identifier: GPL-2.0 OR BSD-2-Clause
/*
 * loadgen: open and close short loopback TCP connections as fast as the
 * machine allows, to drive the tracer in benchmarks and tests.
 *
 * One process holds both ends. Server threads each run an epoll loop over
 * all listeners (one per server port, EPOLLEXCLUSIVE) and the sockets they
 * accepted; client threads run a blocking socket/connect/close loop. Connections rotate over K server ports and
 * (IPv4) S source addresses 127.0.0.1..127.0.0.S, so the 4-tuple space does
 * not run out when TIME_WAIT piles up (tcp_tw_reuse only reuses a TIME_WAIT
 * tuple once its last timestamp is a second old).
 *
 * The run is bounded: it stops at --duration (and at --count connections if
 * given), every blocking call has a timeout, and failures (EADDRNOTAVAIL,
 * ECONNREFUSED, timeouts, ...) are counted, never fatal. The result is one
 * line on stdout:
 *
 *   connections=123456 seconds=5.00 rate=24691.2/s errors=0
 *
 * connections counts every one that succeeded; seconds and rate, those
 * that completed before the clock stopped (the ones in flight then end
 * after it, a SYN retransmission taking a second).
 * with a per-errno breakdown on stderr when errors is not 0.
 */
#include <errno.h>
#include <getopt.h>
#include <limits.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <arpa/inet.h>
#include <pthread.h>
#include <signal.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#define MAX_THREADS 64
#define MAX_PORTS 64
#define MAX_SRCS 64
#define IO_TIMEOUT_S 2		/* bound on any blocking connect/read */
#define COUNT_ONLY_LIMIT_S 300	/* bound when only --count is given */
/*
 * A server thread that falls behind would otherwise drain whole accept
 * queues (4096 per listener) and run out of descriptors: accept a few per
 * wakeup, and none while too many accepted sockets await the client's FIN.
 */
#define ACCEPT_BATCH 32
#define MAX_OPEN_PER_SERVER 1024

struct options {
	double duration_s;
	bool duration_set;
	int threads;
	int server_threads;
	int family;
	const char *addr;
	int port;
	bool close_server;
	uint64_t count;
	bool linger_rst;
	int nports;
	int nsrcs;
};

/* Per client thread; padded so counters do not share cache lines. */
struct client {
	pthread_t thread;
	int id;
	uint64_t ok;
	uint64_t err_addrnotavail;
	uint64_t err_refused;
	uint64_t err_timeout;
	uint64_t err_reset;	/* connect or read failed with ECONNRESET */
	uint64_t err_other;
	int first_errno;
} __attribute__((aligned(64)));

struct server {
	pthread_t thread;
	int epfd;
	uint64_t accepted;
	uint64_t errors;
	int open;	/* accepted, not yet closed */
	int first_errno;
} __attribute__((aligned(64)));

static struct options opt = {
	.duration_s = 5.0,
	.threads = 2,
	.server_threads = 0,	/* as many as client threads */
	.family = AF_INET,
	.addr = "127.0.0.1",
	.nports = 8,
	.nsrcs = 1,
};

static struct sockaddr_storage dst[MAX_PORTS];
static struct sockaddr_in src[MAX_SRCS];
static socklen_t dst_len;

static atomic_bool stop_clients;
static atomic_bool stop_servers;
static volatile sig_atomic_t got_signal;
/*
 * --count: a connection is attempted only with a claimed ticket, and a
 * client keeps its ticket until a connection on it succeeds (a failure
 * retries): no more than --count succeed, and the run ends when that many
 * have, not when the last ticket is claimed.
 */
static atomic_uint_fast64_t tickets;
static atomic_uint_fast64_t succeeded;
static pthread_barrier_t start_barrier;

static void on_signal(int sig)
{
	got_signal = sig;
}

static double now_s(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return ts.tv_sec + ts.tv_nsec / 1e9;
}

static void set_linger_rst(int fd)
{
	struct linger lg = { .l_onoff = 1, .l_linger = 0 };

	setsockopt(fd, SOL_SOCKET, SO_LINGER, &lg, sizeof(lg));
}

static void count_error(struct client *c, int err)
{
	switch (err) {
	case EADDRNOTAVAIL:
		c->err_addrnotavail++;
		break;
	case ECONNREFUSED:
		c->err_refused++;
		break;
	case EAGAIN:
	case EINPROGRESS:
	case ETIMEDOUT:
		c->err_timeout++;
		break;
	case ECONNRESET:
		c->err_reset++;
		break;
	default:
		c->err_other++;
		break;
	}
	if (!c->first_errno)
		c->first_errno = err;
}

/* Returns 0 or -errno; fd is always closed. */
static int one_connection(unsigned int idx)
{
	static const struct timeval tmo = { .tv_sec = IO_TIMEOUT_S };
	const struct sockaddr *to;
	int fd, one = 1, err = 0;
	char buf[64];
	ssize_t n;

	fd = socket(opt.family, SOCK_STREAM | SOCK_CLOEXEC, 0);
	if (fd < 0)
		return -errno;
	setsockopt(fd, SOL_SOCKET, SO_SNDTIMEO, &tmo, sizeof(tmo));
	if (opt.linger_rst && !opt.close_server)
		set_linger_rst(fd);
	if (opt.nsrcs > 1) {
		/* choose the port at connect(), knowing the whole 4-tuple */
		setsockopt(fd, IPPROTO_IP, IP_BIND_ADDRESS_NO_PORT, &one,
			   sizeof(one));
		if (bind(fd, (struct sockaddr *)&src[(idx / opt.nports) %
						     opt.nsrcs],
			 sizeof(src[0])) < 0) {
			err = -errno;
			goto out;
		}
	}
	to = (const struct sockaddr *)&dst[idx % opt.nports];
	if (connect(fd, to, dst_len) < 0) {
		/*
		 * With --close server --linger-rst the server's RST can beat
		 * this thread back from connect(): the connection was
		 * established and accepted, so it counts.
		 */
		if (!(errno == ECONNRESET && opt.close_server &&
		      opt.linger_rst))
			err = -errno;
		goto out;
	}
	if (opt.close_server) {
		/* the server closes first: wait for its FIN (or RST) */
		setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tmo, sizeof(tmo));
		do {
			n = read(fd, buf, sizeof(buf));
		} while (n > 0 || (n < 0 && errno == EINTR));
		/* an RST is how --linger-rst ends it: not an error */
		if (n < 0 && !(errno == ECONNRESET && opt.linger_rst))
			err = -errno;
	}
out:
	close(fd);
	return err;
}

static bool claim_ticket(void)
{
	if (!opt.count)
		return true;
	if (atomic_fetch_add(&tickets, 1) < opt.count)
		return true;
	atomic_fetch_sub(&tickets, 1);
	return false;
}

static void *client_main(void *arg)
{
	struct client *c = arg;
	unsigned int idx = c->id;
	bool ticket = false;
	int err;

	pthread_barrier_wait(&start_barrier);
	while (!atomic_load_explicit(&stop_clients, memory_order_relaxed)) {
		if (!ticket && !claim_ticket())
			break;	/* all claimed: their holders finish them */
		ticket = true;
		err = one_connection(idx++);
		if (!err) {
			/* read by main at the deadline */
			__atomic_store_n(&c->ok, c->ok + 1, __ATOMIC_RELAXED);
			ticket = false;
			if (opt.count)
				atomic_fetch_add(&succeeded, 1);
			continue;
		}
		count_error(c, -err);	/* keep the ticket: try again */
		/* out of tuples or fds: let TIME_WAIT age instead of spinning */
		if (err == -EADDRNOTAVAIL || err == -EMFILE || err == -ENFILE ||
		    err == -ENOBUFS)
			usleep(1000);
	}
	return NULL;
}

static void server_accept(struct server *s, int lfd)
{
	struct epoll_event ev = { .events = EPOLLIN | EPOLLRDHUP };
	int fd, i;

	for (i = 0; i < ACCEPT_BATCH && s->open < MAX_OPEN_PER_SERVER; i++) {
		fd = accept4(lfd, NULL, NULL, SOCK_NONBLOCK | SOCK_CLOEXEC);
		if (fd < 0) {
			if (errno == EAGAIN || errno == EINTR)
				return;
			/* the peer gave up already: not the server's fault */
			if (errno == ECONNABORTED)
				continue;
			s->errors++;
			if (!s->first_errno)
				s->first_errno = errno;
			if (errno == EMFILE || errno == ENFILE)
				usleep(1000);
			return;
		}
		s->accepted++;
		if (opt.close_server) {
			if (opt.linger_rst)
				set_linger_rst(fd);
			close(fd);
			continue;
		}
		/* the client closes first: close when its FIN (or RST) comes */
		ev.data.u64 = (uint64_t)fd << 1 | 1;
		if (epoll_ctl(s->epfd, EPOLL_CTL_ADD, fd, &ev) < 0)
			close(fd);
		else
			s->open++;
	}
}

static void *server_main(void *arg)
{
	struct server *s = arg;
	struct epoll_event evs[256];
	char buf[256];
	int i, n, fd;
	ssize_t r;

	pthread_barrier_wait(&start_barrier);
	while (!atomic_load_explicit(&stop_servers, memory_order_relaxed)) {
		n = epoll_wait(s->epfd, evs, 256, 100);
		for (i = 0; i < n; i++) {
			fd = evs[i].data.u64 >> 1;
			if (!(evs[i].data.u64 & 1)) {
				server_accept(s, fd);
				continue;
			}
			r = read(fd, buf, sizeof(buf));
			if (r > 0 || (r < 0 && errno == EAGAIN))
				continue;
			close(fd);	/* EOF or reset: also leaves epoll */
			s->open--;
		}
	}
	return NULL;
}

static int make_listener(const struct sockaddr_storage *ss, socklen_t len)
{
	int fd, one = 1;

	fd = socket(opt.family, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
	if (fd < 0)
		return -errno;
	setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one));
	if (bind(fd, (const struct sockaddr *)ss, len) < 0 ||
	    listen(fd, 4096) < 0) {
		int err = -errno;

		close(fd);
		return err;
	}
	return fd;
}

static void set_port(struct sockaddr_storage *ss, int port)
{
	if (ss->ss_family == AF_INET)
		((struct sockaddr_in *)ss)->sin_port = htons(port);
	else
		((struct sockaddr_in6 *)ss)->sin6_port = htons(port);
}

static int get_port(int fd)
{
	struct sockaddr_storage ss;
	socklen_t len = sizeof(ss);

	if (getsockname(fd, (struct sockaddr *)&ss, &len) < 0)
		return -errno;
	if (ss.ss_family == AF_INET)
		return ntohs(((struct sockaddr_in *)&ss)->sin_port);
	return ntohs(((struct sockaddr_in6 *)&ss)->sin6_port);
}

/* Listeners for every port in every server thread; fills dst[]. */
static int setup_servers(struct server *srv)
{
	/* every server thread waits on every listener; one wakes per SYN */
	struct epoll_event ev = { .events = EPOLLIN | EPOLLEXCLUSIVE };
	int p, t, fd, port, err;

	for (t = 0; t < opt.server_threads; t++) {
		srv[t].epfd = epoll_create1(EPOLL_CLOEXEC);
		if (srv[t].epfd < 0)
			goto fail;
	}
	for (p = 0; p < opt.nports; p++) {
		port = opt.port ? opt.port + p : 0;
		set_port(&dst[p], port);
		fd = make_listener(&dst[p], dst_len);
		if (fd < 0) {
			fprintf(stderr, "loadgen: listen on %s port %d: %s\n",
				opt.addr, port, strerror(-fd));
			return fd;
		}
		set_port(&dst[p], get_port(fd));
		ev.data.u64 = (uint64_t)fd << 1;
		for (t = 0; t < opt.server_threads; t++)
			if (epoll_ctl(srv[t].epfd, EPOLL_CTL_ADD, fd, &ev) < 0)
				goto fail;
	}
	return 0;
fail:
	err = -errno;
	fprintf(stderr, "loadgen: epoll: %s\n", strerror(-err));
	return err;
}

static int parse_addr(void)
{
	struct sockaddr_in *sin = (struct sockaddr_in *)&dst[0];
	struct sockaddr_in6 *sin6 = (struct sockaddr_in6 *)&dst[0];
	int i;

	memset(dst, 0, sizeof(dst));
	if (inet_pton(AF_INET, opt.addr, &sin->sin_addr) == 1) {
		sin->sin_family = AF_INET;
		dst_len = sizeof(*sin);
	} else if (inet_pton(AF_INET6, opt.addr, &sin6->sin6_addr) == 1) {
		sin6->sin6_family = AF_INET6;
		dst_len = sizeof(*sin6);
	} else {
		return -EINVAL;
	}
	opt.family = dst[0].ss_family;
	for (i = 1; i < MAX_PORTS; i++)
		dst[i] = dst[0];
	for (i = 0; i < MAX_SRCS; i++) {
		src[i].sin_family = AF_INET;
		src[i].sin_addr.s_addr = htonl(0x7f000001 + i);
	}
	return 0;
}

static void usage(FILE *out)
{
	fprintf(out,
		"Usage: loadgen [OPTIONS]\n"
		"Open and close short loopback TCP connections as fast as possible.\n\n"
		"  -d, --duration SECONDS  stop after this long (default 5; with only\n"
		"                          --count, a %d s safety limit)\n"
		"  -t, --threads N         client threads (default 2)\n"
		"  -S, --server-threads N  server threads, epoll each (default: as many\n"
		"                          as client threads; fewer fall behind, the\n"
		"                          accept queues overflow and a client waits a\n"
		"                          second for its SYN's retransmission)\n"
		"  -a, --addr ADDR         127.0.0.1 (default) or ::1\n"
		"  -p, --port P            first server port; 0 = kernel picks (default)\n"
		"  -c, --close WHO         client|server: who closes first (default client;\n"
		"                          the first closer keeps the TIME_WAIT)\n"
		"  -n, --count N           stop after N successful connections\n"
		"  -r, --linger-rst        SO_LINGER 0: end with RST, no TIME_WAIT\n"
		"  -k, --ports K           spread over K server ports P..P+K-1 (default 8)\n"
		"  -s, --srcs S            IPv4: spread over source addresses\n"
		"                          127.0.0.1..127.0.0.S (default 1)\n"
		"  -h, --help\n\n"
		"Prints one line: connections=N seconds=S rate=R/s errors=E\n",
		COUNT_ONLY_LIMIT_S);
}

static int parse_int(const char *s, long min, long max, long *out)
{
	char *end;
	long v;

	errno = 0;
	v = strtol(s, &end, 10);
	if (errno || end == s || *end || v < min || v > max)
		return -EINVAL;
	*out = v;
	return 0;
}

static int parse_options(int argc, char **argv)
{
	static const struct option longopts[] = {
		{ "duration", required_argument, NULL, 'd' },
		{ "threads", required_argument, NULL, 't' },
		{ "server-threads", required_argument, NULL, 'S' },
		{ "addr", required_argument, NULL, 'a' },
		{ "port", required_argument, NULL, 'p' },
		{ "close", required_argument, NULL, 'c' },
		{ "count", required_argument, NULL, 'n' },
		{ "linger-rst", no_argument, NULL, 'r' },
		{ "ports", required_argument, NULL, 'k' },
		{ "srcs", required_argument, NULL, 's' },
		{ "help", no_argument, NULL, 'h' },
		{},
	};
	char *end;
	long v;
	int c;

	while ((c = getopt_long(argc, argv, "d:t:S:a:p:c:n:rk:s:h", longopts,
				NULL)) != -1) {
		switch (c) {
		case 'd':
			opt.duration_s = strtod(optarg, &end);
			if (end == optarg || *end || !(opt.duration_s > 0) ||
			    opt.duration_s > 86400)
				goto bad;
			opt.duration_set = true;
			break;
		case 't':
			if (parse_int(optarg, 1, MAX_THREADS, &v))
				goto bad;
			opt.threads = v;
			break;
		case 'S':
			if (parse_int(optarg, 1, MAX_THREADS, &v))
				goto bad;
			opt.server_threads = v;
			break;
		case 'a':
			opt.addr = optarg;
			break;
		case 'p':
			if (parse_int(optarg, 0, 65535, &v))
				goto bad;
			opt.port = v;
			break;
		case 'c':
			if (!strcmp(optarg, "client"))
				opt.close_server = false;
			else if (!strcmp(optarg, "server"))
				opt.close_server = true;
			else
				goto bad;
			break;
		case 'n':
			if (parse_int(optarg, 1, LONG_MAX, &v))
				goto bad;
			opt.count = v;
			break;
		case 'r':
			opt.linger_rst = true;
			break;
		case 'k':
			if (parse_int(optarg, 1, MAX_PORTS, &v))
				goto bad;
			opt.nports = v;
			break;
		case 's':
			if (parse_int(optarg, 1, MAX_SRCS, &v))
				goto bad;
			opt.nsrcs = v;
			break;
		case 'h':
			usage(stdout);
			exit(0);
		default:
			goto usage;
		}
	}
	if (optind < argc) {
		fprintf(stderr, "loadgen: unexpected argument '%s'\n",
			argv[optind]);
		goto usage;
	}
	if (parse_addr()) {
		fprintf(stderr, "loadgen: bad address '%s'\n", opt.addr);
		goto usage;
	}
	if (opt.nsrcs > 1 && opt.family != AF_INET) {
		fprintf(stderr, "loadgen: --srcs needs an IPv4 --addr\n");
		goto usage;
	}
	if (opt.port && opt.port + opt.nports - 1 > 65535) {
		fprintf(stderr, "loadgen: --port + --ports beyond 65535\n");
		goto usage;
	}
	if (opt.count && !opt.duration_set)
		opt.duration_s = COUNT_ONLY_LIMIT_S;
	if (!opt.server_threads)
		opt.server_threads = opt.threads;
	return 0;
bad:
	fprintf(stderr, "loadgen: bad value '%s' for -%c\n", optarg, c);
usage:
	fprintf(stderr, "Try 'loadgen --help'.\n");
	return -EINVAL;
}

static void raise_nofile(void)
{
	struct rlimit rl;

	if (!getrlimit(RLIMIT_NOFILE, &rl) && rl.rlim_cur < rl.rlim_max) {
		rl.rlim_cur = rl.rlim_max;
		setrlimit(RLIMIT_NOFILE, &rl);
	}
}

int main(int argc, char **argv)
{
	static struct client cli[MAX_THREADS];
	static struct server srv[MAX_THREADS];
	struct sigaction sa = { .sa_handler = on_signal };
	uint64_t ok = 0, addrnotavail = 0, refused = 0, timeout = 0, reset = 0;
	uint64_t other = 0, srv_err = 0, errors;
	double start, deadline, elapsed;
	uint64_t on_clock = 0;
	int i, err, first_errno = 0;

	if (parse_options(argc, argv))
		return 2;
	raise_nofile();
	sigaction(SIGINT, &sa, NULL);
	sigaction(SIGTERM, &sa, NULL);
	signal(SIGPIPE, SIG_IGN);

	err = setup_servers(srv);
	if (err)
		return 1;
	pthread_barrier_init(&start_barrier, NULL,
			     opt.threads + opt.server_threads + 1);
	for (i = 0; i < opt.server_threads; i++) {
		err = pthread_create(&srv[i].thread, NULL, server_main, &srv[i]);
		if (err) {
			fprintf(stderr, "loadgen: pthread_create: %s\n",
				strerror(err));
			return 1;
		}
	}
	for (i = 0; i < opt.threads; i++) {
		cli[i].id = i;
		err = pthread_create(&cli[i].thread, NULL, client_main, &cli[i]);
		if (err) {
			fprintf(stderr, "loadgen: pthread_create: %s\n",
				strerror(err));
			return 1;
		}
	}

	pthread_barrier_wait(&start_barrier);
	start = now_s();
	deadline = start + opt.duration_s;
	while (!got_signal && now_s() < deadline &&
	       !(opt.count && atomic_load(&succeeded) >= opt.count))
		usleep(2000);
	/*
	 * The rate counts what completed on the clock: a connection still in
	 * a SYN retransmission at the deadline may take a second more to end,
	 * and timing the joins would count that second as a slow run.
	 */
	elapsed = now_s() - start;
	for (i = 0; i < opt.threads; i++)
		on_clock += __atomic_load_n(&cli[i].ok, __ATOMIC_RELAXED);
	atomic_store(&stop_clients, true);
	for (i = 0; i < opt.threads; i++)
		pthread_join(cli[i].thread, NULL);
	atomic_store(&stop_servers, true);
	for (i = 0; i < opt.server_threads; i++)
		pthread_join(srv[i].thread, NULL);

	for (i = 0; i < opt.threads; i++) {
		ok += cli[i].ok;
		addrnotavail += cli[i].err_addrnotavail;
		refused += cli[i].err_refused;
		timeout += cli[i].err_timeout;
		reset += cli[i].err_reset;
		other += cli[i].err_other;
		if (!first_errno)
			first_errno = cli[i].first_errno;
	}
	for (i = 0; i < opt.server_threads; i++) {
		srv_err += srv[i].errors;
		if (!first_errno)
			first_errno = srv[i].first_errno;
	}
	errors = addrnotavail + refused + timeout + reset + other + srv_err;
	if (errors)
		fprintf(stderr,
			"loadgen: errors: eaddrnotavail=%llu econnrefused=%llu "
			"timeout=%llu econnreset=%llu other=%llu server=%llu "
			"(first: %s)\n",
			(unsigned long long)addrnotavail,
			(unsigned long long)refused,
			(unsigned long long)timeout, (unsigned long long)reset,
			(unsigned long long)other, (unsigned long long)srv_err,
			strerror(first_errno));
	printf("connections=%llu seconds=%.2f rate=%.1f/s errors=%llu\n",
	       (unsigned long long)ok, elapsed, elapsed > 0 ? on_clock / elapsed : 0,
	       (unsigned long long)errors);
	return 0;
}
