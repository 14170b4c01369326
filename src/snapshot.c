// SPDX-License-Identifier: GPL-2.0 OR BSD-2-Clause
#include "cli.h"
#include "commands.h"

int cmd_snapshot(int argc, char **argv)
{
	return cli_error("snapshot: not implemented yet");
}
