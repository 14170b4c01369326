// SPDX-License-Identifier: GPL-2.0 OR BSD-2-Clause
/* --version, as bpftool's: tcpfsm's own, libbpf's, the kernel's features. */
#include <stdio.h>
#include <bpf/libbpf.h>
#include "cli.h"
#include "loader.h"
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
	fprintf(out, "libbpf v%u.%u\n", libbpf_major_version(),
		libbpf_minor_version());
	{
		char f[256];

		if (!tracer_features(f, sizeof(f)))
			fprintf(out, "%s\n", f);
	}
}
