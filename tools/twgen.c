// SPDX-License-Identifier: GPL-2.0 OR BSD-2-Clause
/*
 * twgen: make many TIME_WAIT sockets on loopback, fast, for benchmarks.
 *
 *	twgen [-n COUNT] [-s SOURCES] [-p PORTS] [-t THREADS]
 *
 * Listens on 127.0.0.1:20000.. (PORTS listeners); THREADS clients connect
 * from 127.0.0.2.. (SOURCES addresses, IP_BIND_ADDRESS_NO_PORT so the
 * ephemeral range is per destination) and close first; the server closes
 * after reading EOF, so each connection leaves one TIME_WAIT socket on the
 * client side. Run it in a scratch network namespace with
 * net.ipv4.tcp_max_tw_buckets above COUNT.
 */
#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <time.h>
#include <sys/socket.h>

#define BASE_PORT 20000
/* main gives up when the servers have closed nothing for this long */
#define STALL_TIMEOUT_S 30

static long count = 120000;
static int nsrc = 16, nports = 4, nthreads = 4;
static int *listeners;
static atomic_long next_conn, closed_by_server, failures;

static void *acceptor(void *arg)
{
	int lfd = *(int *)arg;
	useconds_t backoff = 0;
	char buf[16];

	for (;;) {
		int fd = accept(lfd, NULL, NULL);

		if (fd < 0) {
			if (errno == EINTR || errno == ECONNABORTED)
				continue;
			/*
			 * Out of descriptors (the client threads hold many) or
			 * buffers: the connection stays queued; wait for some
			 * to be closed, 1 ms doubling to 100 ms, and go on.
			 */
			if (errno == EMFILE || errno == ENFILE ||
			    errno == ENOBUFS || errno == ENOMEM) {
				backoff = backoff ? backoff * 2 : 1000;
				if (backoff > 100000)
					backoff = 100000;
				usleep(backoff);
				continue;
			}
			perror("twgen: accept");
			break;	/* main sees no progress and says so */
		}
		backoff = 0;
		while (recv(fd, buf, sizeof(buf), 0) > 0)
			;
		close(fd);
		atomic_fetch_add(&closed_by_server, 1);
	}
	return NULL;
}

static void *client(void *arg)
{
	int one = 1;

	(void)arg;
	for (;;) {
		long i = atomic_fetch_add(&next_conn, 1);
		struct sockaddr_in src = { .sin_family = AF_INET };
		struct sockaddr_in dst = { .sin_family = AF_INET };
		int fd;

		if (i >= count)
			break;
		src.sin_addr.s_addr = htonl(0x7f000002u + (uint32_t)(i % nsrc));
		dst.sin_addr.s_addr = htonl(0x7f000001u);
		dst.sin_port = htons((uint16_t)(BASE_PORT + (i / nsrc) % nports));
		fd = socket(AF_INET, SOCK_STREAM, 0);
		if (fd < 0) {
			perror("twgen: socket");
			exit(1);
		}
		setsockopt(fd, IPPROTO_IP, IP_BIND_ADDRESS_NO_PORT, &one,
			   sizeof(one));
		if (bind(fd, (struct sockaddr *)&src, sizeof(src)) ||
		    connect(fd, (struct sockaddr *)&dst, sizeof(dst))) {
			atomic_fetch_add(&failures, 1);
			atomic_fetch_add(&closed_by_server, 1); /* none to wait for */
		}
		close(fd);
	}
	return NULL;
}

/*
 * Until the servers have closed every connection. An acceptor that stopped
 * would leave this waiting forever: false, said why, once nothing has been
 * closed for STALL_TIMEOUT_S.
 */
static bool wait_server_closes(void)
{
	long last = -1, closed;
	struct timespec now, since = { 0 };

	while ((closed = atomic_load(&closed_by_server)) < count) {
		clock_gettime(CLOCK_MONOTONIC, &now);
		if (closed != last) {
			last = closed;
			since = now;
		} else if (now.tv_sec - since.tv_sec >= STALL_TIMEOUT_S) {
			fprintf(stderr, "twgen: only %ld of %ld connections closed "
				"by the server, none in the last %d s (an acceptor "
				"thread stopped?)\n", closed, count, STALL_TIMEOUT_S);
			return false;
		}
		usleep(1000);
	}
	return true;
}

int main(int argc, char **argv)
{
	pthread_t *th;
	int c, i;

	while ((c = getopt(argc, argv, "n:s:p:t:")) != -1) {
		switch (c) {
		case 'n': count = atol(optarg); break;
		case 's': nsrc = atoi(optarg); break;
		case 'p': nports = atoi(optarg); break;
		case 't': nthreads = atoi(optarg); break;
		default:
			fprintf(stderr, "usage: twgen [-n COUNT] [-s SOURCES] "
				"[-p PORTS] [-t THREADS]\n");
			return 2;
		}
	}
	if (count <= 0 || nsrc <= 0 || nsrc > 250 || nports <= 0 ||
	    nports > 1000 || nthreads <= 0 || nthreads > 64) {
		fprintf(stderr, "twgen: bad arguments\n");
		return 2;
	}
	listeners = calloc((size_t)nports, sizeof(*listeners));
	th = calloc((size_t)(nports + nthreads), sizeof(*th));
	for (i = 0; i < nports; i++) {
		struct sockaddr_in a = { .sin_family = AF_INET,
					 .sin_port = htons((uint16_t)(BASE_PORT + i)),
					 .sin_addr.s_addr = htonl(0x7f000001u) };
		int one = 1;

		listeners[i] = socket(AF_INET, SOCK_STREAM, 0);
		setsockopt(listeners[i], SOL_SOCKET, SO_REUSEADDR, &one,
			   sizeof(one));
		if (bind(listeners[i], (struct sockaddr *)&a, sizeof(a)) ||
		    listen(listeners[i], 4096)) {
			perror("twgen: listen");
			return 1;
		}
		pthread_create(&th[i], NULL, acceptor, &listeners[i]);
	}
	for (i = 0; i < nthreads; i++)
		pthread_create(&th[nports + i], NULL, client, NULL);
	for (i = 0; i < nthreads; i++)
		pthread_join(th[nports + i], NULL);
	/* every connection closed by the server too: TIME_WAIT reached */
	if (!wait_server_closes())
		return 1;
	fprintf(stderr, "twgen: %ld connections, %ld failed\n", count,
		atomic_load(&failures));
	return atomic_load(&failures) ? 1 : 0;
}
