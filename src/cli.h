/* SPDX-License-Identifier: GPL-2.0 OR BSD-2-Clause */
/*
 * Conventions shared by every command: library functions return 0 or
 * -errno; only commands print errors and choose the exit status.
 */
#ifndef TCPFSM_CLI_H
#define TCPFSM_CLI_H

#include <signal.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>

#define EXIT_OK 0
#define EXIT_FAIL 1
#define EXIT_USAGE 2

/* Set by SIGINT/SIGTERM; loops poll it. */
extern volatile sig_atomic_t cli_stop;
/* Set by -v: libbpf's own messages are shown. */
extern bool cli_verbose;

/* Install SIGINT/SIGTERM handlers (setting cli_stop); ignore SIGPIPE. */
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
