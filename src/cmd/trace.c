// SPDX-License-Identifier: GPL-2.0 OR BSD-2-Clause
/* tcpfsm trace: one line per TCP state transition, live. */
#include <string.h>
#include "cli.h"
#include "commands.h"
#include "fmt.h"
#include "pipeline.h"
#include "tcpstate.h"

static const char *source_name(const struct transition *t)
{
	if (!t->ev && t->end == END_GONE)
		return "dump";	/* absent from a sock_diag dump after a loss */
	if (!t->ev || t->ev->kind == TCPFSM_EV_STATE)
		return t->ev ? "state" : "timer";
	return t->ev->kind <= TCPFSM_EV_TW_EXPIRE ? "timewait" : "request";
}

static void print_header(struct pipe *p)
{
	fprintf(pipe_out(p), "%s%-11s    %-11s %s\n", pipe_conn_cols_header(p),
		"OLDSTATE", "NEWSTATE", "MS");
}

static void json_transition(struct pipe *p, const struct transition *t)
{
	struct json *j = pipe_json(p);
	const struct conn *c = t->conn;

	json_begin_object(j);
	json_str(j, "type", "transition");
	json_u64(j, "ts", pipe_ts_value(p, t->ts_ns));
	json_u64(j, "mono_ns", t->ts_ns);
	pipe_json_conn(p, c);
	json_str(j, "oldstate", tcp_state_name(t->oldstate));
	json_str(j, "newstate", tcp_state_name(t->newstate));
	if (t->prev_known == DUR_UNKNOWN)
		json_null(j, "prev_ns");
	else
		json_u64(j, "prev_ns", t->prev_ns);
	json_bool(j, "prev_lower_bound", t->prev_known == DUR_LOWER_BOUND);
	if (t->end)
		json_str(j, "end", conn_end_name(t->end));
	json_str(j, "source", source_name(t));
	if (t->inferred)
		json_bool(j, "inferred", true);
	if (t->orphan) {
		json_bool(j, "orphan", true);
		json_u64(j, "orphan_ns", t->orphan_ns);
	}
	if (c->flags & CONN_F_REQ)
		json_u64(j, "retrans", c->retrans);
	if (t->illegal)
		json_bool(j, "illegal", true);
	if (t->ev && t->ev->kind == TCPFSM_EV_STATE) {
		/* who was on the CPU: the owner only in process context */
		json_begin_object_key(j, "task");
		json_u64(j, "pid", t->ev->pid);
		json_u64(j, "tid", t->ev->tid);
		json_strn(j, "comm", t->ev->comm, TCPFSM_COMM_LEN);
		json_bool(j, "in_task", t->ev->flags & TCPFSM_F_IN_TASK);
		json_end_object(j);
	}
	json_bool(j, "incomplete", conn_incomplete(c));
	json_end_object(j);
	json_end_line(j);
}

static void on_transition(void *ctx, const struct transition *t)
{
	struct pipe *p = ctx;
	const struct conn *c = t->conn;

	if (pipe_options(p)->json) {
		json_transition(p, t);
	} else {
		/* built by hand: printf would cost more than the whole pipeline */
		char line[512], *e;
		const char *name;

		e = pipe_fmt_conn_cols(p, line, t->ts_ns, c);
		name = tcp_state_name(t->oldstate);
		e = fmt_col(e, name, strlen(name), 11);
		e = fmt_str(e, "-> ");
		name = tcp_state_name(t->newstate);
		e = fmt_col(e, name, strlen(name), 11);
		e = pipe_fmt_ms(e, t->prev_ns, t->prev_known);
		if (t->end) {
			*e++ = ' ';
			e = fmt_str(e, conn_end_name(t->end));
		}
		if (t->orphan)
			e = fmt_str(e, " orphan");
		if (t->inferred)
			e = fmt_str(e, " (time from timer deadline)");
		if (t->illegal)
			e = fmt_str(e, " ILLEGAL");
		*e++ = '\n';
		fwrite_unlocked(line, 1, e - line, pipe_out(p));
	}
	pipe_emitted(p);
}

static void usage(FILE *out)
{
	fprintf(out,
		"Usage: tcpfsm trace [OPTIONS]\n\n"
		"Print every TCP state transition on the host as it happens, with the\n"
		"time the connection spent in the state it left (MS; '-' when tcpfsm\n"
		"did not see it enter that state, '>' for a lower bound).\n\n%s",
		PIPE_OPTS_HELP);
}

int cmd_trace(int argc, char **argv)
{
	static const struct option longopts[] = { PIPE_LONG_OPTS, { 0 } };
	struct pipe_opts o;
	struct engine_cb cb = {
		.transition = on_transition,
	};
	int ret;

	pipe_opts_init(&o, "trace");
	ret = pipe_parse_args(&o, argc, argv, longopts, NULL, usage);
	if (ret >= 0)
		return ret;
	o.header = print_header;
	return pipe_run(&o, &cb);
}
