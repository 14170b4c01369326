// SPDX-License-Identifier: GPL-2.0 OR BSD-2-Clause
#include <ctype.h>
#include <errno.h>
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include "cli.h"
#include "filter.h"
#include "fmt.h"
#include "netns.h"
#include "tcpstate.h"

volatile sig_atomic_t cli_stop;
bool cli_verbose;
const struct evsource_ops *cli_live;

static void on_signal(int sig)
{
	cli_stop = sig;
}

void cli_install_signals(void)
{
	struct sigaction sa = { .sa_handler = on_signal };

	sigemptyset(&sa.sa_mask);
	sigaction(SIGINT, &sa, NULL);
	sigaction(SIGTERM, &sa, NULL);
	/*
	 * A closed terminal must not lose a recording or the summary: SIGHUP
	 * ends the run as Ctrl-C does.
	 */
	sigaction(SIGHUP, &sa, NULL);
	signal(SIGPIPE, SIG_IGN);
}

int cli_usage_error(const char *cmd, const char *fmt, ...)
{
	va_list ap;

	fprintf(stderr, "tcpfsm %s: ", cmd);
	va_start(ap, fmt);
	vfprintf(stderr, fmt, ap);
	va_end(ap);
	fprintf(stderr, "\nTry 'tcpfsm %s --help'.\n", cmd);
	return EXIT_USAGE;
}

int cli_error(const char *fmt, ...)
{
	va_list ap;

	fputs("tcpfsm: ", stderr);
	va_start(ap, fmt);
	vfprintf(stderr, fmt, ap);
	va_end(ap);
	fputc('\n', stderr);
	return EXIT_FAIL;
}

int cli_flush(FILE *out)
{
	if (fflush(out) == 0 && !ferror(out))
		return 0;
	return errno == EPIPE ? -EPIPE : -(errno ? errno : EIO);
}

int parse_u64(const char *s, uint64_t min, uint64_t max, uint64_t *out)
{
	unsigned long long v;
	char *end;

	if (!s || !isdigit((unsigned char)*s))
		return -EINVAL;
	errno = 0;
	v = strtoull(s, &end, 10);
	if (errno || *end || v < min || v > max)
		return -EINVAL;
	*out = v;
	return 0;
}

int parse_duration_ns(const char *s, uint64_t *ns)
{
	static const struct {
		const char *unit;
		double mul;
	} units[] = {
		{ "ns", 1 }, { "us", 1e3 }, { "ms", 1e6 }, { "s", 1e9 },
		{ "m", 60e9 }, { "h", 3600e9 }, { "d", 86400e9 },
	};
	double total = 0;
	const char *p = s;

	if (!s || !*s)
		return -EINVAL;
	while (*p) {
		char *end;
		double v;
		size_t i, ulen;

		if (!isdigit((unsigned char)*p) && *p != '.')
			return -EINVAL;
		errno = 0;
		v = strtod(p, &end);
		if (errno || end == p || v < 0)
			return -EINVAL;
		p = end;
		ulen = 0;
		while (isalpha((unsigned char)p[ulen]))
			ulen++;
		if (ulen == 0) {
			if (*p || p != end || total != 0)
				return -EINVAL;
			total += v * 1e9; /* bare number: seconds */
			break;
		}
		for (i = 0; i < sizeof(units) / sizeof(units[0]); i++)
			if (strlen(units[i].unit) == ulen &&
			    !strncmp(p, units[i].unit, ulen))
				break;
		if (i == sizeof(units) / sizeof(units[0]))
			return -EINVAL;
		total += v * units[i].mul;
		p += ulen;
	}
	if (total > 1.8e19)
		return -ERANGE;
	*ns = (uint64_t)total;
	return 0;
}

int cli_getopt(const char *cmd, int argc, char **argv, const char *shortopts,
	       const struct option *longopts)
{
	int before = optind, opt;
	const char *arg;

	opterr = 0;
	opt = getopt_long(argc, argv, shortopts, longopts, NULL);
	if (opt != '?' && opt != ':')
		return opt;
	/*
	 * Which argument was it? A long option is always used up (optind
	 * moves past it); a letter inside a cluster leaves optind on the
	 * cluster until its last letter. So only when optind moved is
	 * argv[optind - 1] the culprit, and only then can it be a long
	 * option; otherwise optopt is a letter of argv[optind].
	 */
	arg = optind > before && optind - 1 < argc ? argv[optind - 1] : NULL;
	if (arg && arg[0] == '-' && arg[1] == '-')
		cli_usage_error(cmd, opt == ':' ? "option '%s' needs a value" :
				"unknown option '%s'", arg);
	else if (optopt > 0 && optopt < 0x100)
		cli_usage_error(cmd, opt == ':' ? "option '-%c' needs a value" :
				"unknown option '-%c'", optopt);
	else
		cli_usage_error(cmd, "unknown option '%s'", arg ? arg : "?");
	return CLI_GETOPT_ERROR;
}

int cli_opt_family(const char *cmd, int opt, uint8_t *family)
{
	uint8_t want = opt == '4' ? AF_INET : AF_INET6;

	if (*family && *family != want)
		return cli_usage_error(cmd, "-4 and -6 exclude each other");
	*family = want;
	return 0;
}

int cli_opt_ports(const char *cmd, const char *name, const char *arg,
		  uint16_t *ports, int *n)
{
	int got = parse_port_list(arg, ports + *n, CLI_MAX_PORTS - *n);

	if (got < 0)
		return cli_usage_error(cmd, "--%s: bad port list '%s' (1-65535, "
				       "up to %d in all, comma-separated)",
				       name, arg, CLI_MAX_PORTS);
	*n += got;
	return 0;
}

int cli_opt_addrs(const char *cmd, const char *arg, struct cidr *cidrs, int *n)
{
	const char *p = arg;

	do {
		size_t len = strcspn(p, ",");
		char buf[64];

		if (len == 0)
			return cli_usage_error(cmd, "--addr: empty item in '%s' "
					       "(a stray ',')", arg);
		if (*n >= CLI_MAX_ADDRS)
			return cli_usage_error(cmd, "--addr: more than %d "
					       "addresses in all", CLI_MAX_ADDRS);
		if (len >= sizeof(buf))
			len = sizeof(buf) - 1;	/* too long to be one: fails */
		memcpy(buf, p, len);
		buf[len] = '\0';
		if (cidr_parse(buf, &cidrs[*n]))
			return cli_usage_error(cmd, "--addr: bad address or "
					       "CIDR '%.*s'", (int)strcspn(p, ","),
					       p);
		(*n)++;
		p += strcspn(p, ",");
	} while (*p++ == ',');
	return 0;
}

int cli_opt_netns(const char *cmd, const char *arg, uint32_t *inode)
{
	int err = netns_spec_inode(arg, inode);

	if (err == -EINVAL)
		return cli_usage_error(cmd, "--netns: bad namespace '%s' (a name "
				       "under /run/netns, a path, a pid, or an "
				       "inode from %u up)", arg, NETNS_INODE_MIN);
	if (err == -ENOTTY)
		return cli_usage_error(cmd, "--netns: '%s' is not a network "
				       "namespace", arg);
	if (err)
		return cli_usage_error(cmd, "--netns: cannot read namespace "
				       "'%s': %s", arg, strerror(-err));
	return 0;
}

const char *cli_ss_letter(int c)
{
	switch (c) {
	case 't': case 'a': case 'n': case 'e': case 'o': case 'O':
		return "";
	case 'u': return "(UDP in ss): snapshot lists TCP sockets only";
	case 'd': return "(DCCP in ss): snapshot lists TCP sockets only";
	case 'w': return "(raw sockets in ss): snapshot lists TCP sockets only; "
			 "to refresh, use --watch";
	case 'x': return "(unix sockets in ss): snapshot lists TCP sockets only";
	case 'S': return "(SCTP in ss): snapshot lists TCP sockets only; the "
			 "summary is -s";
	case 'M': return "(MPTCP in ss): snapshot lists TCP sockets only";
	case '0': return "(packet sockets in ss): snapshot lists TCP sockets only";
	case 'r': return "(resolve names, as in ss): tcpfsm prints addresses "
			 "and ports as numbers only";
	case 'i': return "(TCP internals, as in ss): not shown by tcpfsm; "
			 "use 'ss -ti'";
	case 'm': return "(socket memory, as in ss): not shown by tcpfsm; "
			 "use 'ss -tm'";
	case 'b': return "(BPF filters, as in ss): not shown; to group, use --by";
	case 'E': return "(socket events, as in ss): use 'tcpfsm trace'";
	case 'K': return "(kill sockets, as in ss): tcpfsm only reads; use 'ss -K'";
	case 'z': case 'Z':
		return "(security contexts, as in ss): not shown by tcpfsm";
	case 'f': case 'A':
		return "(socket family or kind, as in ss): use -4 or -6";
	case 'F': return "(filter file, as in ss): use --state, --lport, --rport, "
			 "--port, --addr";
	case 'H': return "(no header, as in ss): not supported; use --json";
	case 'Q': return "(no queues, as in ss): not supported; use --json";
	case 'T': return "(threads, as in ss): not supported; use -p";
	case 'B': return "(bound-inactive sockets, as in ss): not listed by "
			 "sock_diag's TCP dump";
	}
	return NULL;
}

int cli_opt_states(const char *cmd, const char *arg, uint32_t *mask)
{
	const char *bad = arg;
	uint32_t m;
	char msg[96];
	int err = tcp_state_mask_parse(arg, &m, &bad);

	if (err) {
		tcp_state_mask_error(msg, sizeof(msg), err, bad);
		return cli_usage_error(cmd, "--state: %s", msg);
	}
	*mask |= m;
	return 0;
}

int parse_port_list(const char *s, uint16_t *ports, int max)
{
	int n = 0;
	const char *p = s;

	if (!s || !*s)
		return -EINVAL;
	while (*p) {
		char buf[8];
		size_t len = strcspn(p, ",");
		uint64_t v;

		if (len == 0 || len >= sizeof(buf) || n >= max)
			return -EINVAL;
		memcpy(buf, p, len);
		buf[len] = '\0';
		if (parse_u64(buf, 1, 65535, &v))
			return -EINVAL;
		ports[n++] = (uint16_t)v;
		p += len;
		if (*p == ',' && !*++p)
			return -EINVAL;
	}
	return n;
}

void format_duration(char *buf, size_t len, uint64_t ns)
{
	if (len > FMT_DURATION_MAX)
		*fmt_duration(buf, ns) = '\0';
	else if (len)
		*buf = '\0';
}
