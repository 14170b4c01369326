// SPDX-License-Identifier: GPL-2.0 OR BSD-2-Clause
/*
 * Why a BPF load failed, from libbpf's messages (loader.c's print callback
 * notes each one here): plain text work, apart from libbpf so that the
 * unit tests check it without linking libbpf.
 */
#include <stdbool.h>
#include <stdio.h>
#include <string.h>
#include "loader.h"

/*
 * What libbpf said about the last failed load, kept to explain it in one
 * line: its first extern or CO-RE relocation failure (found before
 * anything reaches the kernel), the program the kernel refused, and the
 * last line of that program's verifier log.
 */
static struct {
	char first[160];	/* extern / relocation failure */
	char prog[64];		/* program the kernel refused */
	char vlast[160];	/* last line of its verifier log */
} why;

void tracer_reset_libbpf_notes(void)
{
	memset(&why, 0, sizeof(why));
}

/* The last non-empty line of [p, end), into dst. */
static void last_line(char *dst, size_t len, const char *p, const char *end)
{
	const char *start;

	while (end > p && (end[-1] == '\n' || end[-1] == ' '))
		end--;
	for (start = end; start > p && start[-1] != '\n'; start--)
		;
	if (end > start)
		snprintf(dst, len, "%.*s", (int)(end - start), start);
}

void tracer_note_libbpf(const char *msg)
{
	static const char begin[] = "-- BEGIN PROG LOAD LOG --\n";
	const char *log, *end, *p;

	if (!strncmp(msg, "libbpf: ", 8))
		msg += 8;
	/* "prog 'X': -- BEGIN PROG LOAD LOG --\nLOG-- END PROG LOAD LOG --" */
	log = strstr(msg, begin);
	if (log) {
		log += sizeof(begin) - 1;
		end = strstr(log, "-- END PROG LOAD LOG --");
		last_line(why.vlast, sizeof(why.vlast), log,
			  end ? end : log + strlen(log));
		return;
	}
	if (!*why.first && (!strncmp(msg, "extern ", 7) ||
			    strstr(msg, "system Kconfig") ||
			    strstr(msg, "failed to resolve CO-RE") ||
			    strstr(msg, "failed to relocate"))) {
		last_line(why.first, sizeof(why.first), msg, msg + strcspn(msg, "\n"));
		return;
	}
	if (!*why.prog && !strncmp(msg, "prog '", 6) &&
	    strstr(msg, "BPF program load failed") && (p = strchr(msg + 6, '\'')))
		snprintf(why.prog, sizeof(why.prog), "%.*s", (int)(p - msg - 6),
			 msg + 6);
}

bool tracer_explain_notes(int ret, char *err, size_t errlen)
{
	/*
	 * libbpf resolves externs and CO-RE relocations against the kernel's
	 * BTF before the kernel sees anything: no verifier, no log. Say what
	 * the object needs and this kernel lacks.
	 */
	if (*why.first) {
		snprintf(err, errlen,
			 "this kernel lacks what the BPF object needs (libbpf: %s)",
			 why.first);
		return true;
	}
	if (*why.prog) {
		snprintf(err, errlen,
			 "the kernel's verifier refused program %s: %s (run with "
			 "-v for its log; tcpfsm needs Linux 5.12 or later)",
			 why.prog, *why.vlast ? why.vlast : strerror(-ret));
		return true;
	}
	return false;
}
