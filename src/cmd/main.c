// SPDX-License-Identifier: GPL-2.0 OR BSD-2-Clause
/* tcpfsm: one binary, subcommands dispatched from a table. */
#include <stdio.h>
#include <string.h>
#include "cli.h"
#include "commands.h"
#include "loader.h"

static const struct command {
	const char *name;
	int (*fn)(int argc, char **argv);
	const char *help;
} commands[] = {
	{ "trace", cmd_trace, "stream every TCP state transition (default)" },
	{ "life", cmd_life, "one record per finished connection: its whole lifecycle" },
	{ "stats", cmd_stats, "time-in-state distributions per state" },
	{ "snapshot", cmd_snapshot, "current sockets via sock_diag, with state ages" },
	{ "serve", cmd_serve, "Prometheus metrics, aggregated in the kernel" },
};

static void usage(FILE *out)
{
	size_t i;

	fprintf(out, "Usage: tcpfsm [COMMAND] [OPTIONS]\n\n"
		     "Linux TCP state-machine tracer.\n\nCommands:\n");
	for (i = 0; i < sizeof(commands) / sizeof(commands[0]); i++)
		fprintf(out, "  %-10s %s\n", commands[i].name, commands[i].help);
	fprintf(out, "\nRun 'tcpfsm COMMAND --help' for a command's options.\n"
		     "With no command, or an option first, 'trace' runs.\n");
}

int main(int argc, char **argv)
{
	size_t i;

	cli_live = &tracer_evsource;
	if (argc < 2 || argv[1][0] == '-') {
		if (argc >= 2 && (!strcmp(argv[1], "--version") ||
				  !strcmp(argv[1], "-V"))) {
			cli_print_version(stdout);
			return EXIT_OK;
		}
		if (argc >= 2 && (!strcmp(argv[1], "--help") ||
				  !strcmp(argv[1], "-h"))) {
			usage(stdout);
			return EXIT_OK;
		}
		argv[0] = "trace";
		return cmd_trace(argc, argv);
	}
	if (!strcmp(argv[1], "help")) {
		usage(stdout);
		return EXIT_OK;
	}
	for (i = 0; i < sizeof(commands) / sizeof(commands[0]); i++)
		if (!strcmp(argv[1], commands[i].name))
			return commands[i].fn(argc - 1, argv + 1);
	fprintf(stderr, "tcpfsm: unknown command '%s'\nTry 'tcpfsm --help'.\n",
		argv[1]);
	return EXIT_USAGE;
}
