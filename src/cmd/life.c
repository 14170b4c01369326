// SPDX-License-Identifier: GPL-2.0 OR BSD-2-Clause
/* tcpfsm life: one record per finished connection, its whole lifecycle. */
#include <string.h>
#include "cli.h"
#include "commands.h"
#include "fmt.h"
#include "pipeline.h"
#include "tcpstate.h"

static void print_header(struct pipe *p)
{
	fprintf(pipe_out(p), "%s%-7s %-12s %12s %s\n", pipe_conn_cols_header(p),
		"OPEN", "CLOSE", "LIFETIME_MS", "PATH (ms in each state)");
}

static uint64_t lifetime(const struct conn *c, uint8_t *known)
{
	uint64_t first = c->npath ? c->path_since[0] : 0;

	*known = DUR_UNKNOWN;
	if (!first || !conn_end_known(c) || c->end_ns < first)
		return 0;
	/* still open at exit: the time so far */
	*known = c->end == END_AT_EXIT ? DUR_LOWER_BOUND : conn_since_known(c, 0);
	return c->end_ns - first;
}

static void json_life(struct pipe *p, const struct conn *c)
{
	struct json *j = pipe_json(p);
	bool at_exit = c->end == END_AT_EXIT;
	unsigned int folded;
	uint8_t known;
	uint64_t ns;
	int i;

	json_begin_object(j);
	json_str(j, "type", "life");
	json_u64(j, "ts", pipe_ts_value(p, c->end_ns));
	pipe_json_conn(p, c);
	json_str(j, "open", conn_open_name(c->open_kind));
	if (at_exit)
		json_null(j, "close");
	else
		json_str(j, "close", conn_close_name(c->close_kind));
	if (c->closing_kind)
		json_str(j, "closing", conn_close_name(c->closing_kind));
	else
		json_null(j, "closing");
	if (c->end && !at_exit)
		json_str(j, "end", conn_end_name(c->end));
	json_begin_array(j, "path");
	for (i = 0; i < c->npath; i++) {
		ns = conn_path_ns(c, i, &known);
		folded = conn_path_folded(c, i);
		json_begin_object(j);
		json_str(j, "state", folded ? "..." : tcp_state_name(c->path_state[i]));
		if (known == DUR_UNKNOWN)
			json_null(j, "ns");
		else
			json_u64(j, "ns", ns);
		if (folded)
			json_u64(j, "folded", folded);
		if (known == DUR_LOWER_BOUND)
			json_bool(j, "lower_bound", true);
		if (conn_path_orphan(c, i, &ns))
			json_u64(j, "orphan_ns", ns);
		json_end_object(j);
	}
	json_end_array(j);
	json_u64(j, "folded", c->nfolded);
	ns = lifetime(c, &known);
	if (known == DUR_UNKNOWN)
		json_null(j, "lifetime_ns");
	else
		json_u64(j, "lifetime_ns", ns);
	if (c->flags & CONN_F_BYTES) {
		json_u64(j, "bytes_acked", c->bytes_acked);
		json_u64(j, "bytes_received", c->bytes_received);
	} else {
		json_null(j, "bytes_acked");
		json_null(j, "bytes_received");
	}
	if (c->open_kind == OPEN_PASSIVE)
		json_u64(j, "synack_retrans", c->retrans);
	json_bool(j, "seeded", c->flags & CONN_F_SEEDED);
	json_bool(j, "incomplete", conn_incomplete(c));
	json_bool(j, "at_exit", at_exit);
	json_end_object(j);
	json_end_line(j);
}

static void on_closed(void *ctx, const struct conn *c)
{
	struct pipe *p = ctx;
	const bool *listeners = pipe_options(p)->priv;
	/*
	 * the columns (PIPE_CONN_COLS_MAX) + open/close/lifetime (45) + a full
	 * path (8 * 62) + its end and " [incomplete]" (31)
	 */
	char line[1024], ms[32], *e;
	const char *name;
	unsigned int folded;
	uint8_t known;
	uint64_t ns;
	size_t n;
	int i;

	if (c->open_kind == OPEN_LISTEN && !*listeners)
		return;
	if (pipe_options(p)->json) {
		json_life(p, c);
		pipe_emitted(p);
		return;
	}
	/* a line per connection, built by hand as trace's lines are */
	e = pipe_fmt_conn_cols(p, line, c->end_ns, c);
	name = conn_open_name(c->open_kind);
	e = fmt_col(e, name, strlen(name), 7);
	name = c->end == END_AT_EXIT ? "-" : conn_close_name(c->close_kind);
	if (c->close_kind == CLOSE_RESET && c->closing_kind) {
		/* reset/active: how the FIN exchange had begun, before the RST */
		char kind[32], *k = fmt_str(kind, name);

		*k++ = '/';
		k = fmt_str(k, conn_close_name(c->closing_kind));
		e = fmt_col(e, kind, (size_t)(k - kind), 12);
	} else {
		e = fmt_col(e, name, strlen(name), 12);
	}
	ns = lifetime(c, &known);
	n = (size_t)(pipe_fmt_ms(ms, ns, known) - ms);
	if (n < 12) {	/* right-aligned */
		memset(e, ' ', 12 - n);
		e += 12 - n;
	}
	memcpy(e, ms, n);
	e += n;
	*e++ = ' ';
	for (i = 0; i < c->npath; i++) {
		if (i)
			e = fmt_str(e, " > ");
		folded = conn_path_folded(c, i);
		e = fmt_str(e, folded ? "..." : tcp_state_name(c->path_state[i]));
		*e++ = ' ';
		ns = conn_path_ns(c, i, &known);
		e = pipe_fmt_ms(e, ns, known);
		if (folded) {
			/* the states folded out of a long path, their time together */
			e = fmt_str(e, " (");
			e = fmt_u64(e, folded);
			e = fmt_str(e, " states)");
		}
		if (conn_path_orphan(c, i, &ns)) {
			/* a seeded orphan's time counts from the dump, as its state's */
			e = fmt_str(e, " (orphan ");
			e = pipe_fmt_ms(e, ns, conn_until_known(c, i));
			*e++ = ')';
		}
	}
	if (c->end && c->end != END_AT_EXIT) {
		e = fmt_str(e, " (");
		e = fmt_str(e, conn_end_name(c->end));
		*e++ = ')';
	}
	if (conn_incomplete(c))
		e = fmt_str(e, " [incomplete]");
	if (c->end == END_AT_EXIT)
		e = fmt_str(e, " [open at exit]");
	*e++ = '\n';
	fwrite_unlocked(line, 1, (size_t)(e - line), pipe_out(p));
	pipe_emitted(p);
}

static void usage(FILE *out)
{
	fprintf(out,
		"Usage: tcpfsm life [OPTIONS]\n\n"
		"Print one record per finished connection: owner, 4-tuple, how it\n"
		"opened and closed, every state it went through with the time spent\n"
		"there (TIME_WAIT included) and its lifetime; --json adds the bytes\n"
		"acknowledged and received. At exit, one record per connection still\n"
		"open, marked [open at exit] (\"at_exit\": true), with the time so far.\n\n"
		"      --listeners          also report listening sockets that close\n%s",
		PIPE_OPTS_HELP);
}

#define OPT_LISTENERS OPT_CMD_BASE

static int life_opt(struct pipe_opts *o, int opt, const char *arg)
{
	if (opt != OPT_LISTENERS)
		return 1;
	*(bool *)o->priv = true;
	return 0;
}

int cmd_life(int argc, char **argv)
{
	static const struct option longopts[] = {
		PIPE_LONG_OPTS,
		{ "listeners", no_argument, NULL, OPT_LISTENERS },
		{ 0 },
	};
	struct pipe_opts o;
	bool listeners = false;
	struct engine_cb cb = {
		.closed = on_closed,
	};
	int ret;

	pipe_opts_init(&o, "life");
	o.priv = &listeners;
	ret = pipe_parse_args(&o, argc, argv, longopts, life_opt, usage);
	if (ret >= 0)
		return ret;
	o.header = print_header;
	return pipe_run(&o, &cb);
}
