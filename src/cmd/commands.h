/* SPDX-License-Identifier: GPL-2.0 OR BSD-2-Clause */
#ifndef TCPFSM_COMMANDS_H
#define TCPFSM_COMMANDS_H

/* Each subcommand: argv[0] is the command name; returns the exit status. */
int cmd_trace(int argc, char **argv);
int cmd_life(int argc, char **argv);
int cmd_stats(int argc, char **argv);
int cmd_snapshot(int argc, char **argv);
int cmd_serve(int argc, char **argv);

#endif
