// SPDX-License-Identifier: GPL-2.0 OR BSD-2-Clause
/*
 * estgen: hold many ESTABLISHED connections on loopback, for benchmarks.
 *
 *	estgen [-n PAIRS] [-s SOURCES] [-p PORTS]
 *
 * Listens on 127.0.0.1:21000.. (PORTS listeners) and connects PAIRS times
 * from 127.0.0.2.. (SOURCES addresses, IP_BIND_ADDRESS_NO_PORT), accepting
 * as it goes: 2 * PAIRS sockets, both ends held open. A process holds
 * at most RLIMIT_NOFILE's hard limit of descriptors (raising it needs
 * CAP_SYS_RESOURCE): one child process per chunk that fits, made one after
 * the other. Says "estgen: N pairs" on stdout when they are all there,
 * then holds them until stdin closes. Run it in a scratch network
 * namespace.
 */
#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <sys/wait.h>

#define BASE_PORT 21000
#define BATCH 1024	/* connects between accept rounds (backlog 4096) */

static int nsrc = 16, nports = 4, *lfd;

/* pairs [from, to): connect and accept them */
static int make_pairs(long from, long to)
{
	long i, accepted = 0;
	int c, one = 1;

	for (i = from; i < to || accepted < to - from; i++) {
		if (i < to) {
			struct sockaddr_in src = { .sin_family = AF_INET };
			struct sockaddr_in dst = { .sin_family = AF_INET };
			int fd = socket(AF_INET, SOCK_STREAM, 0);

			src.sin_addr.s_addr = htonl(0x7f000002u + (uint32_t)(i % nsrc));
			dst.sin_addr.s_addr = htonl(0x7f000001u);
			dst.sin_port = htons((uint16_t)(BASE_PORT + (i / nsrc) % nports));
			if (fd < 0) {
				perror("estgen: socket");
				return 1;
			}
			setsockopt(fd, IPPROTO_IP, IP_BIND_ADDRESS_NO_PORT, &one, sizeof(one));
			if (bind(fd, (struct sockaddr *)&src, sizeof(src)) ||
			    connect(fd, (struct sockaddr *)&dst, sizeof(dst))) {
				fprintf(stderr, "estgen: connection %ld: %s\n", i, strerror(errno));
				return 1;
			}
		}
		if (i % BATCH == BATCH - 1 || i >= to - 1) {
			for (c = 0; c < nports; c++) {
				int fd;

				while ((fd = accept(lfd[c], NULL, NULL)) >= 0)
					accepted++;
				if (errno != EAGAIN && errno != EWOULDBLOCK) {
					perror("estgen: accept");
					return 1;
				}
			}
		}
	}
	return 0;
}

int main(int argc, char **argv)
{
	long pairs = 100000, chunk, from;
	int c, one = 1, status, failed = 0;
	struct rlimit rl;
	char buf[1];

	while ((c = getopt(argc, argv, "n:s:p:")) != -1) {
		switch (c) {
		case 'n': pairs = atol(optarg); break;
		case 's': nsrc = atoi(optarg); break;
		case 'p': nports = atoi(optarg); break;
		default:
			fprintf(stderr, "usage: estgen [-n PAIRS] [-s SOURCES] [-p PORTS]\n");
			return 2;
		}
	}
	if (pairs <= 0 || nsrc <= 0 || nsrc > 250 || nports <= 0 || nports > 1000) {
		fprintf(stderr, "estgen: bad arguments\n");
		return 2;
	}
	/* every descriptor the hard limit allows */
	if (getrlimit(RLIMIT_NOFILE, &rl))
		return 1;
	rl.rlim_cur = rl.rlim_max;
	setrlimit(RLIMIT_NOFILE, &rl);
	chunk = ((long)rl.rlim_cur - nports - 64) / 2;
	if (chunk <= 0) {
		fprintf(stderr, "estgen: RLIMIT_NOFILE too small\n");
		return 1;
	}
	lfd = calloc((size_t)nports, sizeof(*lfd));
	if (!lfd)
		return 1;
	for (c = 0; c < nports; c++) {
		struct sockaddr_in a = { .sin_family = AF_INET,
					 .sin_port = htons((uint16_t)(BASE_PORT + c)),
					 .sin_addr.s_addr = htonl(0x7f000001u) };

		lfd[c] = socket(AF_INET, SOCK_STREAM | SOCK_NONBLOCK, 0);
		setsockopt(lfd[c], SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one));
		if (lfd[c] < 0 || bind(lfd[c], (struct sockaddr *)&a, sizeof(a)) ||
		    listen(lfd[c], 4096)) {
			perror("estgen: listen");
			return 1;
		}
	}
	/* one chunk per child, in turn: a listener's queue holds its own */
	for (from = 0; from < pairs; from += chunk) {
		long to = from + chunk < pairs ? from + chunk : pairs;
		int ready[2];
		pid_t child;

		if (pipe(ready))
			return 1;
		child = fork();
		if (child < 0) {
			perror("estgen: fork");
			return 1;
		}
		if (!child) {
			close(ready[0]);
			if (make_pairs(from, to))
				_exit(1);
			if (write(ready[1], "", 1) != 1)
				_exit(1);
			close(ready[1]);
			while (read(0, buf, 1) > 0)
				;
			_exit(0);
		}
		close(ready[1]);
		if (read(ready[0], buf, 1) != 1) {
			fprintf(stderr, "estgen: pairs %ld to %ld failed\n", from, to);
			return 1;
		}
		close(ready[0]);
	}
	printf("estgen: %ld pairs\n", pairs);
	fflush(stdout);
	while (read(0, buf, 1) > 0)
		;
	while (wait(&status) > 0)
		failed |= !WIFEXITED(status) || WEXITSTATUS(status);
	return failed;
}
