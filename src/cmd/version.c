// SPDX-License-Identifier: GPL-2.0 OR BSD-2-Clause
/* --version, as bpftool's: tcpfsm's own, libbpf's, the kernel's features. */
#include <stdio.h>
#include "cli.h"
#include "evsource.h"
#ifndef TCPFSM_VERSION
#include "version.h"	/* made by make from git (tools/version.sh) */
#endif

const char *cli_version_string(void)
{
	return TCPFSM_VERSION;
}

void cli_print_version(FILE *out)
{
	fprintf(out, "tcpfsm %s\n", TCPFSM_VERSION);
	/* the live source's library and the kernel's features, if linked */
	if (cli_live) {
		char f[512];

		if (!cli_live->describe(f, sizeof(f)))
			fprintf(out, "%s\n", f);
	} else {
		fprintf(out, "libbpf: not linked (replay only)\n");
	}
}
