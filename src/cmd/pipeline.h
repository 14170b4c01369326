/* SPDX-License-Identifier: GPL-2.0 OR BSD-2-Clause */
/*
 * What trace, life and stats share: the common options, the event source
 * (the kernel, or a recorded file), the reorder buffer, the lifecycle
 * engine, the loop, signals, the closing summary. A command supplies the
 * engine callbacks and its own formatting.
 */
#ifndef TCPFSM_PIPELINE_H
#define TCPFSM_PIPELINE_H

#include <getopt.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include "engine.h"
#include "evsource.h"
#include "filter.h"
#include "json.h"

/* TS_ISO: wall time as ISO 8601 with date and UTC offset */
enum ts_mode { TS_WALL = 0, TS_MONO, TS_REL, TS_ISO };

struct pipe;

/* pipe_conn_cols_header()'s longest text, its NUL included */
#define PIPE_CONN_COLS_HDR_MAX 200

struct pipe_opts {
	const char *cmd;
	struct filter filter;
	bool json;
	enum ts_mode ts_mode;
	uint64_t duration_ns;
	uint64_t count;
	const char *record_path;
	bool force;		/* --force: --record may replace a file */
	const char *replay_path;
	bool no_minisocks;
	bool no_seed;
	uint64_t ringbuf_bytes;
	uint64_t max_conns;
	uint64_t stuck_ns[TCPFSM_ST_MAX];
	bool has_stuck;
	bool wide;		/* -w: full addresses, hex cookie in full, NETNS */
	/*
	 * Where records come from without --replay (evsource.h): the kernel's
	 * ring buffer, as main() hands it; NULL: recordings only.
	 */
	const struct evsource_ops *source;
	enum filter_by states_by; /* what --state judges a transition by */
	/* printed once tracing has started (table headers) */
	void (*header)(struct pipe *p);
	/* called after each batch, and once more (final) at the end, until
	 * --count is reached */
	void (*tick)(struct pipe *p, uint64_t now_ns, bool final);
	/* a command's own short options, appended to the common ones */
	const char *extra_short;
	/* a command's own state, for its option parser and callbacks */
	void *priv;
};

/* Common long options; a command appends its own. */
enum {
	OPT_LPORT = 0x100, OPT_RPORT, OPT_ADDR, OPT_PID, OPT_COMM, OPT_STATE,
	OPT_NETNS, OPT_JSON, OPT_TIMESTAMP, OPT_DURATION, OPT_COUNT,
	OPT_RECORD, OPT_REPLAY, OPT_STUCK, OPT_MAX_CONNS, OPT_NO_MINISOCKS,
	OPT_RINGBUF, OPT_NO_SEED, OPT_PORT, OPT_FORCE, OPT_CMD_BASE = 0x200,
};

/* as tcpstates: -T -4 -6 -w -L -D -v; as ss: -N */
#define PIPE_SHORT_OPTS "46hvVwT:d:c:L:D:N:"
#define PIPE_LONG_OPTS                                                        \
	{ "ipv4", no_argument, NULL, '4' },                                   \
	{ "ipv6", no_argument, NULL, '6' },                                   \
	{ "help", no_argument, NULL, 'h' },                                   \
	{ "version", no_argument, NULL, 'V' },                                \
	{ "verbose", no_argument, NULL, 'v' },                                \
	{ "lport", required_argument, NULL, 'L' },                            \
	{ "rport", required_argument, NULL, 'D' },                            \
	{ "port", required_argument, NULL, OPT_PORT },                        \
	{ "wide", no_argument, NULL, 'w' },                                   \
	{ "addr", required_argument, NULL, OPT_ADDR },                        \
	{ "pid", required_argument, NULL, OPT_PID },                          \
	{ "comm", required_argument, NULL, OPT_COMM },                        \
	{ "state", required_argument, NULL, OPT_STATE },                      \
	{ "netns", required_argument, NULL, 'N' },                            \
	{ "json", no_argument, NULL, OPT_JSON },                              \
	{ "timestamp", required_argument, NULL, 'T' },                        \
	{ "duration", required_argument, NULL, 'd' },                         \
	{ "count", required_argument, NULL, 'c' },                            \
	{ "record", required_argument, NULL, OPT_RECORD },                    \
	{ "replay", required_argument, NULL, OPT_REPLAY },                    \
	{ "stuck", required_argument, NULL, OPT_STUCK },                      \
	{ "max-conns", required_argument, NULL, OPT_MAX_CONNS },              \
	{ "no-minisocks", no_argument, NULL, OPT_NO_MINISOCKS },              \
	{ "ringbuf-size", required_argument, NULL, OPT_RINGBUF },             \
	{ "no-seed", no_argument, NULL, OPT_NO_SEED },                        \
	{ "force", no_argument, NULL, OPT_FORCE }

#define PIPE_OPTS_HELP                                                              \
	"Filters:\n"                                                                \
	"  -4, --ipv4               IPv4 only (IPv4-mapped IPv6 counts as IPv4)\n"  \
	"  -6, --ipv6               IPv6 only\n"                                    \
	"  -L, --lport PORT[,...]   local port (up to 8; judged in the kernel)\n"   \
	"  -D, --rport PORT[,...]   remote port (up to 8; judged in the kernel)\n"  \
	"      --port PORT[,...]    either end's port (up to 8; judged in the kernel)\n" \
	"      --addr CIDR[,...]    either end in one of them (up to 16; in the kernel)\n" \
	"      --pid PID            sockets owned by PID\n"                         \
	"      --comm NAME          sockets owned by a process named NAME\n"        \
	"      --state STATE[,...]  transitions into or out of these states\n"     \
	"  -N, --netns NS           one network namespace: a name under /run/netns,\n" \
	"                           a path, a pid or an inode (ls -L -i /proc/PID/ns/net)\n" \
	"Output and run:\n"                                                         \
	"      --json               one JSON object per line\n"                     \
	"  -T, --timestamp MODE     wall (default), iso (ISO 8601, with date), mono,\n" \
	"                           or rel\n"                                       \
	"  -w, --wide               whole addresses and cookies, a NETNS column\n" \
	"  -d, --duration SECONDS   stop after this long (e.g. 30, 5m)\n"           \
	"  -c, --count N            stop after N records (--stuck alerts included)\n" \
	"      --stuck STATE=DUR[,...]  alert when a connection stays in STATE\n"  \
	"                           longer than DUR (e.g. CLOSE_WAIT=30s)\n"        \
	"      --record FILE        also write the raw event stream to FILE (a new\n" \
	"                           file, mode 0600)\n"                             \
	"      --force              let --record replace an existing FILE\n"     \
	"      --replay FILE        read events from FILE instead of the kernel\n"  \
	"      --max-conns N        connections tracked at once (default 2097152)\n" \
	"      --no-minisocks       do not trace TIME_WAIT/half-open SYN_RECV timers\n" \
	"      --no-seed            do not read existing sockets at start\n"        \
	"      --ringbuf-size MIB   ring buffer size in MiB, power of two (default 16)\n" \
	"  -v, --verbose            show libbpf's messages\n"                       \
	"  -V, --version            print the version\n"                           \
	"  -h, --help               this help\n"

void pipe_opts_init(struct pipe_opts *o, const char *cmd);
/*
 * Handle one common option. Returns 0 if handled, 1 if not a common
 * option, or EXIT_USAGE after printing the error (its line and the Try
 * line, as cli_usage_error does).
 */
int pipe_parse_opt(struct pipe_opts *o, int opt, const char *arg);
/*
 * Parse argv with getopt_long: common options here, the rest through
 * cmd_opt (returns 0, EXIT_USAGE after printing, or 1 if unknown). Returns
 * -1 to go on, or an exit status (--help: 0; errors: 2, the error and the
 * Try line printed).
 */
int pipe_parse_args(struct pipe_opts *o, int argc, char **argv,
		    const struct option *longopts,
		    int (*cmd_opt)(struct pipe_opts *o, int opt, const char *arg),
		    void (*usage)(FILE *out));

/*
 * Run the pipeline to its end; returns the exit status. The callbacks get
 * p as their ctx and only what the filters select: cb->transition the
 * transitions of selected connections (with --state, as o->states_by
 * says), cb->closed the selected connections (with --state, those that
 * went through one of its states), cb->stuck the selected connections;
 * cb->stuck defaults to pipe_stuck_cb; o->header is used only for tables.
 */
int pipe_run(const struct pipe_opts *o, const struct engine_cb *cb);

/*
 * A pipe as pipe_run sets one up, without a run: for a command's
 * formatting and the unit tests. out gets what it prints; cb may be NULL.
 * NULL when out of memory. pipe_free() frees it (not out).
 */
struct pipe *pipe_new(const struct pipe_opts *o, const struct engine_cb *cb,
		      FILE *out);
void pipe_free(struct pipe *p);
/* A record into the reorder buffer (0 or -ENOMEM), as read from a source. */
int pipe_push(struct pipe *p, const struct tcpfsm_event *e);
/* Records waiting in the reorder buffer. */
size_t pipe_pending(const struct pipe *p);
/* Every record waiting, to the engine, as at the end of a run. */
void pipe_flush(struct pipe *p);
/*
 * The run's clock: when it (or the recording) began, and CLOCK_REALTIME -
 * CLOCK_MONOTONIC then (wall times). A pipe_new() pipe has 0 and 0.
 */
void pipe_set_clock(struct pipe *p, uint64_t start_mono, int64_t wall_offset);

/* What a command's callbacks use of the pipe. */
FILE *pipe_out(const struct pipe *p);
struct json *pipe_json(struct pipe *p);
const struct pipe_opts *pipe_options(const struct pipe *p);
uint64_t pipe_start_ns(const struct pipe *p);
/* The engine's counts so far; records the filters dropped before it. */
const struct engine_stats *pipe_engine_stats(const struct pipe *p);
uint64_t pipe_filtered(const struct pipe *p);

/*
 * One turn of the loop: release the records up to watermark (every one
 * stamped before it has been read), let the engine and o->tick see time
 * pass as far as what was released is complete, flush the output.
 */
void pipe_step(struct pipe *p, uint64_t watermark);

/*
 * Is this connection wanted by the filters on its tuple and owner? The
 * pipeline judges every callback with it (and --state as o->states_by
 * says) before a command sees the connection: commands need not.
 */
bool pipe_wants_conn(const struct pipe *p, const struct conn *c);
/*
 * Count one record printed (a transition, a lifecycle, a stats print, a
 * --stuck alert); at --count the run stops and prints nothing more.
 */
void pipe_emitted(struct pipe *p);
/* Timestamp text per --timestamp (buf: PIPE_TS_MAX bytes); returns its length. */
#define PIPE_TS_MAX 48
size_t pipe_format_ts(struct pipe *p, char *buf, uint64_t mono_ns);
/* The same, as ns for JSON. */
uint64_t pipe_ts_value(const struct pipe *p, uint64_t mono_ns);

/* Shared JSON members: cookie, owner (with its cgroup's path), tuple. */
void pipe_json_conn(struct pipe *p, const struct conn *c);
/* The path of cgroup id, or NULL (unknown, or not resolvable here). */
const char *pipe_cgroup_path(struct pipe *p, uint64_t cgroup_id);
/*
 * "1.234" ms with µs precision, "-" when unknown, ">" for a lower bound;
 * written at p, unterminated; returns the end.
 */
char *pipe_fmt_ms(char *p, uint64_t ns, uint8_t known);
/*
 * The columns every per-connection table line starts with: TIME COOKIE PID
 * COMM LADDR LPORT RADDR RPORT, each followed by a space; returns the end
 * (at most PIPE_CONN_COLS_MAX bytes on). PIPE_CONN_COLS_HEADER is their
 * header, which a command's own columns follow. The text of the last few
 * connections is kept in p->cols: see pipe_cols_init().
 */
#define PIPE_CONN_COLS_HEADER \
	"TIME            COOKIE     PID     COMM            LADDR           LPORT RADDR           RPORT "
#define PIPE_CONN_COLS_MAX 320
/*
 * The header of pipe_fmt_conn_cols' columns as p's options lay them out
 * (PIPE_CONN_COLS_HEADER by default; wider with -w or -T iso). The cookie
 * is hex, as ss's sk:; an address too long for its column keeps its head
 * and tail around a '~'.
 */
const char *pipe_conn_cols_header(const struct pipe *p);
char *pipe_fmt_conn_cols(struct pipe *p, char *e, uint64_t ts_ns,
			 const struct conn *c);

/* The --stuck alert line (or JSON object), shared by every command:
 * an engine_cb.stuck with the struct pipe as ctx. */
void pipe_stuck_cb(void *ctx, const struct conn *c, uint64_t now_ns,
		   uint64_t threshold_ns, bool at_exit);
#endif
