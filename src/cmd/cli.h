/* SPDX-License-Identifier: GPL-2.0 OR BSD-2-Clause */
/*
 * Conventions shared by every command: library functions return 0 or
 * -errno; only commands print errors and choose the exit status.
 */
#ifndef TCPFSM_CLI_H
#define TCPFSM_CLI_H

#include <getopt.h>
#include <signal.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include "tcpfsm.h"

#define EXIT_OK 0
#define EXIT_FAIL 1
#define EXIT_USAGE 2

/* Set by SIGINT/SIGTERM/SIGHUP, to the signal's number; loops poll it. */
extern volatile sig_atomic_t cli_stop;
/* Set by -v: libbpf's own messages are shown. */
extern bool cli_verbose;
struct evsource_ops;
/*
 * The live event source (the kernel's ring buffer): set by main() alone,
 * NULL where only recordings are read (the unit tests, the fuzzers).
 */
extern const struct evsource_ops *cli_live;

/* tcpfsm's version: from git when built from a clone (tools/version.sh). */
const char *cli_version_string(void);
/* --version: tcpfsm's version, libbpf's, and the kernel features found. */
void cli_print_version(FILE *out);

/* Install SIGINT/SIGTERM/SIGHUP handlers (setting cli_stop); ignore SIGPIPE. */
void cli_install_signals(void);

/* "tcpfsm CMD: MESSAGE" + "Try 'tcpfsm CMD --help'." on stderr; returns 2. */
int cli_usage_error(const char *cmd, const char *fmt, ...)
	__attribute__((format(printf, 2, 3)));
/* "tcpfsm: MESSAGE" on stderr; returns 1. */
int cli_error(const char *fmt, ...) __attribute__((format(printf, 1, 2)));

/*
 * Flush out; returns 0, or -EPIPE when the reader went away (the caller
 * then exits quietly), or another -errno.
 */
int cli_flush(FILE *out);

/*
 * The options every command that filters sockets shares (trace, life,
 * stats and snapshot), parsed one way: comma lists and repeated flags add
 * up, to one limit each. Each helper prints the one-line usage error and
 * returns EXIT_USAGE, or returns 0.
 */

/* --lport/--rport: trace's BPF port filter holds TCPFSM_MAX_PORTS. */
#define CLI_MAX_PORTS TCPFSM_MAX_PORTS
/* --addr: judged in user space (trace) or in inet_diag bytecode (snapshot). */
#define CLI_MAX_ADDRS 16

/* getopt_long's answer when cli_getopt has printed a usage error. */
#define CLI_GETOPT_ERROR (-2)
/*
 * getopt_long(argc, argv, shortopts, longopts, NULL) with getopt's own
 * messages off (shortopts must begin with ':'): the next option, -1 at the
 * end, or CLI_GETOPT_ERROR after printing "unknown option 'X'" or "option
 * 'X' needs a value", X as given ("-Z" for a letter, also inside a cluster
 * such as -vZ; "--json=1" for a long option).
 */
int cli_getopt(const char *cmd, int argc, char **argv, const char *shortopts,
	       const struct option *longopts);
/* -4 / -6 (opt): the same one again is fine, the other one is an error. */
int cli_opt_family(const char *cmd, int opt, uint8_t *family);
/* --NAME PORT[,PORT...]: appended to ports[*n], CLI_MAX_PORTS in all. */
int cli_opt_ports(const char *cmd, const char *name, const char *arg,
		  uint16_t *ports, int *n);
struct cidr;
/* --addr CIDR[,CIDR...]: appended to cidrs[*n], CLI_MAX_ADDRS in all. */
int cli_opt_addrs(const char *cmd, const char *arg, struct cidr *cidrs,
		  int *n);
/* -N/--netns NAME|PATH|PID|INODE (netns.h): the namespace's inode. */
int cli_opt_netns(const char *cmd, const char *arg, uint32_t *inode);
/*
 * ss's letters that snapshot takes as ss means them but has no use for, or
 * refuses with a hint: for getopt's optstring (none takes a value here;
 * -f, -A and -F are refused before theirs would matter).
 */
#define CLI_SS_LETTERS "tanreoOimudwxSM0bEKzZfFAHQTB"
/*
 * For an ss letter in CLI_SS_LETTERS: "" when it asks for what snapshot
 * always does (-t TCP, -a all sockets, -n numeric, -e cookie, -o timers,
 * -O one line), else why it is refused and what to do instead (the text
 * after "-X "). NULL for any other letter.
 */
const char *cli_ss_letter(int c);
/* --state STATE[,STATE...]: added to *mask (bit n = state n). */
int cli_opt_states(const char *cmd, const char *arg, uint32_t *mask);

/* "30s", "500ms", "250us", "2m", "1h", "1h30m", "1.5s", "100ns"; bare number = seconds. */
int parse_duration_ns(const char *s, uint64_t *ns);
/* Decimal unsigned in [min, max]. */
int parse_u64(const char *s, uint64_t min, uint64_t max, uint64_t *out);
/* "80,443,8080": up to max ports, each 1..65535. Returns count or -EINVAL. */
int parse_port_list(const char *s, uint16_t *ports, int max);
/*
 * Human duration, fmt_duration's text: "850us", "12.3ms", "59.8s", "3m05s",
 * "3h12m", "2d04h". len must exceed FMT_DURATION_MAX (else buf gets "").
 */
void format_duration(char *buf, size_t len, uint64_t ns);

#endif
