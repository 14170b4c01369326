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
#include "cgpath.h"
#include "engine.h"
#include "filter.h"
#include "json.h"
#include "reorder.h"
#include "agesrv.h"

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

struct pipe {
	struct pipe_opts o;
	FILE *out;
	struct json j;
	struct reorder ro;
	struct engine *eng;
	struct tracer *tr;
	struct record_writer *rec;
	int rec_err;
	struct agesrv *age;	/* NULL: not publishing ages */
	bool replaying;
	uint64_t ts_sec;	/* the second ts_sec_str was made for */
	size_t ts_sec_len;
	char ts_sec_str[32];
	char ts_zone[8];	/* TS_ISO: "+01:00", of ts_sec */
	/* pipe_fmt_conn_cols' widths (pipe_cols_init) and their header */
	uint8_t w_time, w_cookie, w_addr;
	char cols_header[PIPE_CONN_COLS_HDR_MAX];
	uint32_t netns_self;
	uint64_t start_mono;	/* when tracing (or the recording) began */
	int64_t wall_offset;	/* CLOCK_REALTIME - CLOCK_MONOTONIC */
	uint64_t emitted;	/* what counts for --count */
	uint64_t raw_events;
	uint64_t lost_seen;	/* the kernel's lost count, last seen */
	/* of it, by kind: state, timewait, request (PIPE_LOST_*) */
	uint64_t lost_kind[3];
	bool lost_kind_unknown;	/* a recording's loss record without kinds */
	uint64_t lost_out, lost_kind_out[3]; /* how much "lost" records said */
	uint64_t dropped;	/* records tcpfsm itself had no memory for */
	uint64_t filtered;	/* records the filters dropped before the engine */
	/* connections whose owner the filters reject: forgotten, and their
	 * records dropped (filter.h); forget[]: to forget after the engine call */
	struct filter_rejects rejects;
	uint64_t forget[16];
	unsigned int nforget;
	uint64_t lost_warned_ns;	/* rate limit of the lost-records warning */
	uint64_t seeded;
	/*
	 * the summary's: connections the filters select that ended, of them
	 * incomplete, and gone (ended while their records were lost)
	 */
	uint64_t closed, incomplete, gone;
	uint64_t open_at_exit;	/* connections the filters select, still open */
	uint64_t released;	/* how far the engine has every record (pipe_step) */
	/* live only: the sock_diag dump after lost records (see reconcile()) */
	uint64_t rc_loss;	/* records lost up to here, no dump since; 0: none */
	uint64_t rc_last;	/* the last dump began: at most one a second */
	uint64_t rc_t0, rc_t1;	/* the dump to decide on began, ended; rc_t1 0: none */
	struct u64map rc_alive;	/* its cookies */
	struct u64map rc_netns;	/* the namespaces it read whole */
	bool rc_warned;
	/* the command's callbacks (stuck: pipe_stuck_cb by default) */
	struct engine_cb cb;
	/* replay: the recording's filters, applied besides the options' */
	struct filter rec_filter;
	bool has_rec_filter;
	/* replay of a recording that holds the live run's steps (record.h) */
	bool rp_steps;
	bool rp_end;		/* its end record was read: at rp_end_ns */
	uint64_t rp_end_ns;
	/* the live run's runs skipped by the kernel, from its end record */
	bool rp_skipped_known;
	uint64_t rp_skipped_state, rp_skipped_timers;
	struct u64map rp_gone;	/* found gone, to be ended at the next reconcile */
	struct cgpath cg;	/* cgroup id -> path */
	bool have_cg;		/* live, or a replay of this boot's recording */
	uint64_t now_ns;	/* CLOCK_MONOTONIC at the last step: cgpath's rate limit */
	struct cols_entry *cols; /* pipe_fmt_conn_cols' recent texts */
	bool done;		/* --count reached, or the reader went away */
	bool epipe;
	int out_err;
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
int pipe_run(struct pipe *p, const struct pipe_opts *o,
	     const struct engine_cb *cb);

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
/* Allocate p->cols (pipe_run does); returns 0 or -ENOMEM. */
int pipe_cols_init(struct pipe *p);

/* The --stuck alert line (or JSON object), shared by every command:
 * an engine_cb.stuck with the struct pipe as ctx. */
void pipe_stuck_cb(void *ctx, const struct conn *c, uint64_t now_ns,
		   uint64_t threshold_ns, bool at_exit);
#endif
