// SPDX-License-Identifier: GPL-2.0 OR BSD-2-Clause
#include "cli.h"
#include "commands.h"

int cmd_trace(int argc, char **argv)
{
	return cli_error("trace: not implemented yet");
}

int cmd_life(int argc, char **argv)
{
	return cli_error("life: not implemented yet");
}

int cmd_stats(int argc, char **argv)
{
	return cli_error("stats: not implemented yet");
}
