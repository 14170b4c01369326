// SPDX-License-Identifier: GPL-2.0 OR BSD-2-Clause
/*
 * tcpfsm serve: TCP state metrics for Prometheus, aggregated in the kernel.
 *
 * One thread, one ppoll() loop: the metrics endpoint (a few clients at a
 * time, each with a bounded request and a deadline), the periodic
 * reconciliation against sock_diag and the textfile. Tracing itself runs in
 * the kernel and never waits for this loop.
 */
#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <netinet/in.h>
#include <poll.h>
#include <pthread.h>
#include <sched.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>
#include "cli.h"
#include "clock.h"
#include "commands.h"
#include "diag.h"
#include "http.h"
#include "netns.h"
#include "prom.h"
#include "serve_bpf.h"
#include "serve_impl.h"
#include "tcpstate.h"
#include "u64map.h"


static bool real_state(int s)
{
	return s >= 1 && s <= TCPFSM_ST_CLOSING;
}

double srv_unix_now(void)
{
	return clock_ns(CLOCK_REALTIME) / 1e9;
}

/* ---- options ---- */

static void usage(FILE *out)
{
	fprintf(out,
		"Usage: tcpfsm serve [OPTIONS]\n\n"
		"Serve TCP state metrics for Prometheus at GET /metrics, counted in the\n"
		"kernel (no record per transition).\n\n"
		"  -l, --listen ADDR:PORT  where to serve (default 127.0.0.1:%d; [::1]:PORT\n"
		"                          for IPv6); beyond loopback is your choice\n"
		"      --textfile PATH     also write the metrics to PATH every interval,\n"
		"                          atomically (node_exporter's textfile collector)\n"
		"  -i, --interval DUR      textfile interval (default 15s)\n"
		"      --reconcile DUR     recount against sock_diag every DUR (default 15s)\n"
		"      --stuck STATE=DUR[,STATE=DUR...]  count (and report on stderr as\n"
		"                          JSON lines) sockets longer than DUR in STATE\n"
		"      --netns PATH        count the sockets of this network namespace\n"
		"                          (/run/netns/NAME, /proc/PID/ns/net; default ours)\n"
		"      --by lport|netns|cgroup  a label on tcpfsm_sockets and\n"
		"                          tcpfsm_state_duration_seconds: lport, the local\n"
		"                          port for ports with a listener, else \"ephemeral\";\n"
		"                          netns, the namespace inode (every namespace is\n"
		"                          counted; reconciling them needs CAP_SYS_ADMIN);\n"
		"                          cgroup, the socket's cgroup v2 path\n"
		"      --max-series N      --by: at most N groups, the rest in \"other\"\n"
		"                          (default %d, at most %d)\n"
		"      --max-time-wait N   timewait minisockets kept (default 262144, about\n"
		"                          80 bytes of kernel memory each); more are counted\n"
		"                          only at reconciliation and in tcpfsm_events_lost_total\n"
		"      --no-minisocks      no timer hooks: TIME_WAIT and half-open SYN_RECV\n"
		"                          are counted only at reconciliation\n"
		"  -v, --verbose           libbpf's messages\n"
		"  -h, --help\n", DEFAULT_PORT, DEFAULT_MAX_SERIES, MAX_MAX_SERIES);
}

static int parse_stuck(struct serve *S, const char *arg)
{
	char *copy = strdup(arg), *save = NULL, *item;
	int ret = 0;

	if (!copy)
		return cli_error("out of memory");
	for (item = strtok_r(copy, ",", &save); item; item = strtok_r(NULL, ",", &save)) {
		char *eq = strchr(item, '=');
		uint64_t ns;
		int st;

		if (!eq) {
			ret = cli_usage_error("serve", "--stuck wants STATE=DURATION, not '%s'",
					      item);
			break;
		}
		*eq = '\0';
		st = tcp_state_parse(item);
		if (st < 0 || !real_state(st) || st == TCPFSM_ST_CLOSE) {
			ret = cli_usage_error("serve", "--stuck: unknown state '%s'", item);
			break;
		}
		if (parse_duration_ns(eq + 1, &ns) || !ns) {
			ret = cli_usage_error("serve", "--stuck: bad duration '%s'", eq + 1);
			break;
		}
		S->stuck_ns[st] = ns;
		S->has_stuck = true;
	}
	free(copy);
	return ret;
}

int cmd_serve(int argc, char **argv)
{
	static const struct option longopts[] = {
		{ "listen", required_argument, NULL, 'l' },
		{ "textfile", required_argument, NULL, 'T' },
		{ "interval", required_argument, NULL, 'i' },
		{ "reconcile", required_argument, NULL, 'R' },
		{ "stuck", required_argument, NULL, 'S' },
		{ "netns", required_argument, NULL, 'N' },
		{ "no-minisocks", no_argument, NULL, 'M' },
		{ "by", required_argument, NULL, 'B' },
		{ "max-series", required_argument, NULL, 'X' },
		{ "max-time-wait", required_argument, NULL, 'W' },
		{ "verbose", no_argument, NULL, 'v' },
		{ "help", no_argument, NULL, 'h' },
		{ 0 },
	};
	static struct serve S_;	/* large (client buffers): not on the stack */
	struct serve *S = &S_;
	struct serve_bpf_opts bo = { 0 };
	const char *listen_spec = "127.0.0.1:9466", *netns_path = NULL;
	char err[256], warn[256], shown[128];
	sigset_t block, orig;
	struct stat st;
	int lfd = -1, opt, ret, i, status = EXIT_FAIL;

	memset(S, 0, sizeof(*S));
	pthread_mutex_init(&S->lock, NULL);
	pthread_mutex_init(&S->tlock, NULL);
	S->own_ns_fd = S->target_ns_fd = -1;
	S->interval_ns = S->reconcile_ns = 15ull * 1000000000ull;
	S->max_series = DEFAULT_MAX_SERIES;
	for (i = 0; i < MAX_CLIENTS; i++)
		S->clients[i].fd = -1;
	while ((opt = cli_getopt("serve", argc, argv, ":l:i:vh", longopts)) != -1) {
		switch (opt) {
		case 'l':
			listen_spec = optarg;
			break;
		case 'T':
			if (!*optarg)
				return cli_usage_error("serve", "--textfile wants a path");
			S->textfile = optarg;
			break;
		case 'i':
		case 'R':
			if (parse_duration_ns(optarg, opt == 'i' ? &S->interval_ns :
								   &S->reconcile_ns) ||
			    (opt == 'i' ? S->interval_ns : S->reconcile_ns) < 100000000ull)
				return cli_usage_error("serve",
						       "bad %s '%s' (at least 100ms)",
						       opt == 'i' ? "--interval" : "--reconcile",
						       optarg);
			break;
		case 'S':
			if (parse_stuck(S, optarg))
				return EXIT_USAGE;
			break;
		case 'N':
			netns_path = optarg;
			break;
		case 'M':
			bo.no_minisocks = true;
			break;
		case 'B':
			if (!strcmp(optarg, "lport"))
				S->by = TCPFSM_SERVE_BY_LPORT;
			else if (!strcmp(optarg, "netns"))
				S->by = TCPFSM_SERVE_BY_NETNS;
			else if (!strcmp(optarg, "cgroup"))
				S->by = TCPFSM_SERVE_BY_CGROUP;
			else
				return cli_usage_error("serve", "--by wants lport, netns or "
							"cgroup, not '%s'", optarg);
			break;
		case 'W': {
			uint64_t v;

			if (parse_u64(optarg, 1024, 1u << 26, &v))
				return cli_usage_error("serve", "--max-time-wait wants 1024..%u, "
							"not '%s'", 1u << 26, optarg);
			bo.max_tw = v;
			break;
		}
		case 'X': {
			uint64_t v;

			if (parse_u64(optarg, 1, MAX_MAX_SERIES, &v))
				return cli_usage_error("serve", "--max-series wants 1..%d, not '%s'",
						       MAX_MAX_SERIES, optarg);
			S->max_series = v;
			break;
		}
		case 'v':
			cli_verbose = true;
			break;
		case 'h':
			usage(stdout);
			return EXIT_OK;
		case CLI_GETOPT_ERROR:
			return EXIT_USAGE;
		}
	}
	if (optind < argc)
		return cli_usage_error("serve", "unexpected argument '%s'", argv[optind]);

	lfd = srv_listen_on(listen_spec, shown, sizeof(shown));
	if (lfd == -EINVAL)
		return cli_usage_error("serve", "bad --listen '%s' (ADDR:PORT, [ADDR6]:PORT)",
				       listen_spec);
	if (lfd < 0)
		return cli_error("cannot listen on %s: %s", listen_spec, strerror(-lfd));

	if (stat("/proc/thread-self/ns/net", &st)) {
		cli_error("cannot read our network namespace: %s", strerror(errno));
		goto out;
	}
	S->netns = st.st_ino;
	if (netns_path) {
		struct stat ts;

		S->target_ns_fd = open(netns_path, O_RDONLY | O_CLOEXEC);
		if (S->target_ns_fd < 0 || fstat(S->target_ns_fd, &ts)) {
			cli_error("cannot open network namespace %s: %s", netns_path,
				  strerror(errno));
			goto out;
		}
		if (ts.st_ino == st.st_ino) {
			close(S->target_ns_fd);
			S->target_ns_fd = -1;
		} else {
			S->netns = ts.st_ino;
			S->own_ns_fd = open("/proc/thread-self/ns/net", O_RDONLY | O_CLOEXEC);
			if (S->own_ns_fd < 0) {
				cli_error("cannot open our network namespace: %s",
					  strerror(errno));
				goto out;
			}
		}
	}
	bo.netns = S->netns;
	bo.by = S->by;
	if (S->by == TCPFSM_SERVE_BY_NETNS) {
		if (netns_path) {
			cli_usage_error("serve", "--by netns counts every namespace: no --netns");
			status = EXIT_USAGE;
			goto out;
		}
		S->own_ns_fd = open("/proc/thread-self/ns/net", O_RDONLY | O_CLOEXEC);
		if (S->own_ns_fd < 0) {
			cli_error("cannot open our network namespace: %s", strerror(errno));
			goto out;
		}
	}
	bo.max_groups = S->max_series;
	/* every namespace, each its own group */
	if (S->by == TCPFSM_SERVE_BY_NETNS)
		bo.netns = 0;
	if (S->by) {
		S->ug = calloc(S->max_series + 2, sizeof(*S->ug));
		if (!S->ug || u64map_init(&S->ugidx, 64, S->max_series + 2)) {
			cli_error("out of memory");
			goto out;
		}
	}
	bo.verbose = cli_verbose;
	if (S->by == TCPFSM_SERVE_BY_CGROUP) {
		ret = serve_cg_init(&S->cg, NULL, NULL, S->max_series + 2);
		if (ret) {
			cli_error("cgroup2 mount: %s", strerror(-ret));
			goto out;
		}
	}
	ret = serve_bpf_open(&S->bpf, &bo, err, sizeof(err), warn, sizeof(warn));
	if (ret) {
		cli_error("%s", err);
		goto out;
	}
	if (*warn)
		fprintf(stderr, "tcpfsm serve: warning: %s\n", warn);
	if (S->by) {
		/* made in the kernel by the loader */
		srv_ug_get(S, TCPFSM_SERVE_GROUP_OTHER, true);
		if (S->by == TCPFSM_SERVE_BY_LPORT || S->by == TCPFSM_SERVE_BY_CGROUP)
			srv_ug_get(S, TCPFSM_SERVE_GROUP_EPHEMERAL, true);
	}
	ret = srv_reconcile(S);
	if (ret) {
		cli_error("sock_diag: %s", strerror(-ret));
		goto out;
	}

	cli_install_signals();
	signal(SIGHUP, SIG_IGN);
	sigemptyset(&block);
	sigaddset(&block, SIGINT);
	sigaddset(&block, SIGTERM);
	sigprocmask(SIG_BLOCK, &block, &orig);
	sigdelset(&orig, SIGINT);
	sigdelset(&orig, SIGTERM);

	fprintf(stderr, "tcpfsm serve: serving http://%s/metrics (netns %u)\n", shown,
		S->netns);
	fflush(stderr);
	ret = srv_start_reconciler(S);
	if (ret) {
		cli_error("cannot start the reconciliation thread: %s", strerror(-ret));
		goto out;
	}
	S->next_textfile = clock_ns(CLOCK_MONOTONIC);

	while (!cli_stop) {
		struct pollfd pfd[MAX_CLIENTS + 1];
		struct client *who[MAX_CLIENTS + 1];
		uint64_t now = clock_ns(CLOCK_MONOTONIC), wake;
		struct timespec ts;
		int n = 0, nfree = 0;

		if (S->textfile && now >= S->next_textfile) {
			ret = srv_write_textfile(S);
			if (ret) {
				S->textfile_errors++;
				cli_error("cannot write %s: %s", S->textfile, strerror(-ret));
			}
			S->next_textfile = now + S->interval_ns;
		}
		wake = now + 1000000000ull;
		if (S->textfile && S->next_textfile < wake)
			wake = S->next_textfile;
		for (i = 0; i < MAX_CLIENTS; i++) {
			struct client *c = &S->clients[i];

			if (c->fd < 0) {
				nfree++;
				continue;
			}
			if (now >= c->deadline) {
				srv_client_close(c); /* slow or silent: no answer */
				nfree++;
				continue;
			}
			if (c->deadline < wake)
				wake = c->deadline;
			pfd[n].fd = c->fd;
			pfd[n].events = c->out && !c->draining ? POLLOUT : POLLIN;
			who[n++] = c;
		}
		/* beyond MAX_CLIENTS, new ones wait in the listen backlog */
		if (nfree) {
			pfd[n].fd = lfd;
			pfd[n].events = POLLIN;
			who[n++] = NULL;
		}
		wake = wake > now ? wake - now : 0;
		ts.tv_sec = wake / 1000000000ull;
		ts.tv_nsec = wake % 1000000000ull;
		ret = ppoll(pfd, n, &ts, &orig);
		if (ret < 0) {
			if (errno == EINTR)
				continue;
			cli_error("poll: %s", strerror(errno));
			goto out;
		}
		for (i = 0; i < n; i++) {
			if (!pfd[i].revents)
				continue;
			if (who[i]) {
				srv_client_io(S, who[i], pfd[i].revents);
				continue;
			}
			for (int k = 0; k < MAX_CLIENTS; k++) {
				struct client *c = &S->clients[k];
				int cfd;

				if (c->fd >= 0)
					continue;
				cfd = accept4(lfd, NULL, NULL, SOCK_NONBLOCK | SOCK_CLOEXEC);
				if (cfd < 0)
					break;
				c->fd = cfd;
				c->deadline = clock_ns(CLOCK_MONOTONIC) + CLIENT_TIMEOUT_NS;
			}
		}
	}
	status = EXIT_OK;
out:
	srv_stop_reconciler(S);
	for (i = 0; i < MAX_CLIENTS; i++)
		if (S->clients[i].fd >= 0)
			srv_client_close(&S->clients[i]);
	if (lfd >= 0)
		close(lfd);
	if (S->own_ns_fd >= 0)
		close(S->own_ns_fd);
	if (S->target_ns_fd >= 0)
		close(S->target_ns_fd);
	serve_bpf_close(S->bpf);
	if (S->ug) {
		u64map_free(&S->ugidx);
		free(S->ug);
	}
	if (S->by == TCPFSM_SERVE_BY_CGROUP)
		serve_cg_free(&S->cg);
	return status;
}

