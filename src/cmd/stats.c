// SPDX-License-Identifier: GPL-2.0 OR BSD-2-Clause
/* tcpfsm stats: time-in-state distributions, per state, optionally grouped. */
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include "array.h"
#include "cli.h"
#include "commands.h"
#include "hist.h"
#include "pipeline.h"
#include "tcpstate.h"
#include "u64map.h"

enum group_by { BY_NONE = 0, BY_LPORT, BY_RPORT, BY_RADDR, BY_COMM, BY_PID, BY_CGROUP };

static const char *const by_names[] = { "", "lport", "rport", "raddr", "comm", "pid",
					"cgroup" };

#define MAX_GROUPS 4096	/* beyond this, one "other" group */

struct group {
	char label[80];		/* --by cgroup: "" while the path is to be looked up */
	uint64_t cgroup_id;	/* --by cgroup: 0 when the owner is unknown */
	struct hist *h[TCPFSM_ST_MAX];	/* allocated on first use */
	uint64_t lower_bound[TCPFSM_ST_MAX]; /* durations that were only bounds */
};

struct stats {
	enum group_by by;
	uint64_t interval_ns;
	uint64_t next_print_ns;
	uint64_t period_start_ns;
	struct u64map index;	/* group key -> index + 1 */
	struct group *groups;
	size_t ngroups, cap;
};


/* The group of a connection, as a u64map key (never 0). */
static uint64_t group_key(const struct stats *S, const struct conn *c)
{
	switch (S->by) {
	case BY_LPORT:
		return c->t.sport + 1;
	case BY_RPORT:
		return c->t.dport + 1;
	case BY_PID:
		return (uint64_t)c->owner.pid + 1;
	case BY_CGROUP:
		return c->owner.pid && c->owner.cgroup_id ? c->owner.cgroup_id + 1 : 1;
	case BY_RADDR:
		return (hash_bytes(c->t.daddr, 16) ^ c->t.family) | 1;
	case BY_COMM:
		if (!c->owner.pid)
			return 1;
		return hash_bytes(c->owner.comm, strnlen(c->owner.comm,
							 TCPFSM_COMM_LEN)) | 2;
	default:
		return 1;
	}
}

/* Its printed name, made once, when the group is created. */
static void group_label(const struct stats *S, const struct conn *c,
			char *label, size_t len)
{
	char safe[COMM_SAFE_LEN];

	switch (S->by) {
	case BY_LPORT:
		snprintf(label, len, "%u", c->t.sport);
		break;
	case BY_RPORT:
		snprintf(label, len, "%u", c->t.dport);
		break;
	case BY_PID:
		snprintf(label, len, "%u", c->owner.pid);
		break;
	case BY_CGROUP:
		/* the path is looked up when printed: it may be found by then */
		snprintf(label, len, "%s",
			 c->owner.pid && c->owner.cgroup_id ? "" : "-");
		break;
	case BY_RADDR:
		format_addr(label, c->t.family, c->t.daddr);
		break;
	case BY_COMM:
		comm_escape(safe, c->owner.pid ? c->owner.comm : "-");
		snprintf(label, len, "%s", safe);
		break;
	default:
		label[0] = '\0';
	}
}

static struct group *find_group(struct stats *S, const struct conn *c)
{
	char label[80];
	uint64_t key = group_key(S, c), *idx;
	struct group *g;

	idx = u64map_get(&S->index, key);
	if (idx)
		return &S->groups[*idx - 1];
	if (S->ngroups >= MAX_GROUPS) {
		/* keep memory bounded: the rest share one group */
		key = UINT64_MAX;
		idx = u64map_get(&S->index, key);
		if (idx)
			return &S->groups[*idx - 1];
		strcpy(label, "(other)");
	} else {
		group_label(S, c, label, sizeof(label));
	}
	if (ARRAY_GROW(S->groups, S->ngroups, S->cap, 16))
		return NULL;
	if (u64map_put(&S->index, key, S->ngroups + 1))
		return NULL;
	g = &S->groups[S->ngroups++];
	memset(g, 0, sizeof(*g));
	snprintf(g->label, sizeof(g->label), "%s", label);
	if (S->by == BY_CGROUP && !label[0])
		g->cgroup_id = c->owner.cgroup_id;
	return g;
}

static void on_transition(void *ctx, const struct transition *t)
{
	struct pipe *p = ctx;
	struct stats *S = pipe_options(p)->priv;
	struct group *g;
	uint8_t st = t->oldstate;

	if (t->prev_known == DUR_UNKNOWN || st >= TCPFSM_ST_MAX ||
	    st == TCPFSM_ST_CLOSE)
		return;
	g = find_group(S, t->conn);
	if (!g)
		return;
	if (t->prev_known == DUR_LOWER_BOUND) {
		/* began before tracing: not a sample of the distribution */
		g->lower_bound[st]++;
		return;
	}
	if (!g->h[st]) {
		g->h[st] = malloc(sizeof(*g->h[st]));
		if (!g->h[st])
			return;
		hist_init(g->h[st]);
	}
	hist_add(g->h[st], t->prev_ns);
}

static void print_table(struct pipe *p, const struct group *g)
{
	char v[5][32];	/* min, p50, p90, p99, max */
	int st;

	fprintf(pipe_out(p), "%-12s %10s %10s %10s %10s %10s %10s\n", "STATE", "COUNT",
		"MIN", "P50", "P90", "P99", "MAX");
	for (st = 1; st < TCPFSM_ST_MAX; st++) {
		const struct hist *h = g->h[st];

		if (!h || !h->count)
			continue;
		format_duration(v[0], sizeof(v[0]), hist_min(h));
		format_duration(v[1], sizeof(v[1]), hist_percentile(h, 0.50));
		format_duration(v[2], sizeof(v[2]), hist_percentile(h, 0.90));
		format_duration(v[3], sizeof(v[3]), hist_percentile(h, 0.99));
		format_duration(v[4], sizeof(v[4]), h->max_ns);
		fprintf(pipe_out(p), "%-12s %10llu %10s %10s %10s %10s %10s\n",
			tcp_state_name(st), (unsigned long long)h->count, v[0],
			v[1], v[2], v[3], v[4]);
	}
	for (st = 1; st < TCPFSM_ST_MAX; st++) {
		if (!g->h[st] || !g->h[st]->count)
			continue;
		fprintf(pipe_out(p), "\n%s:\n", tcp_state_name(st));
		hist_print_log2(pipe_out(p), g->h[st], "usecs");
	}
}

/* Has the group an exact sample, something for a table? */
static bool has_samples(const struct group *g)
{
	int st;

	for (st = 1; st < TCPFSM_ST_MAX; st++)
		if (g->h[st] && g->h[st]->count)
			return true;
	return false;
}

static void print_json(struct pipe *p, const struct group *g, uint64_t now)
{
	static const struct hist empty = { .min_ns = UINT64_MAX };
	struct stats *S = pipe_options(p)->priv;
	struct json *j = pipe_json(p);
	int st;

	for (st = 1; st < TCPFSM_ST_MAX; st++) {
		const struct hist *h = g->h[st] ? g->h[st] : &empty;

		/* a state seen only as lower bounds: its count, an empty hist */
		if (!h->count && !g->lower_bound[st])
			continue;
		json_begin_object(j);
		json_str(j, "type", "stats");
		json_u64(j, "ts", pipe_ts_value(p, now));
		/* records older than a recording's start: no period, not a wrap */
		json_u64(j, "period_ns", now > S->period_start_ns ?
						 now - S->period_start_ns : 0);
		if (S->by == BY_CGROUP) {
			/* the path; the label for "-" and "(other)"; null: no path */
			const char *path = g->cgroup_id ?
				pipe_cgroup_path(p, g->cgroup_id) : g->label;

			json_str(j, "by", by_names[S->by]);
			if (path)
				json_str(j, "key", path);
			else
				json_null(j, "key");
			if (g->cgroup_id)
				json_u64(j, "cgroup_id", g->cgroup_id);
			else
				json_null(j, "cgroup_id");
		} else if (S->by) {
			json_str(j, "by", by_names[S->by]);
			json_str(j, "key", g->label);
		}
		json_str(j, "state", tcp_state_name(st));
		json_u64(j, "lower_bound_only", g->lower_bound[st]);
		hist_json(j, "hist", h);
		json_end_object(j);
		json_end_line(j);
	}
}

/* "cgroup /system.slice/ssh.service:", its id when there is no path. */
static void print_cgroup_label(struct pipe *p, const struct group *g)
{
	const char *path;

	if (!g->cgroup_id) {	/* "-" (owner unknown) or "(other)" */
		fprintf(pipe_out(p), "\ncgroup %s:\n", g->label);
		return;
	}
	path = pipe_cgroup_path(p, g->cgroup_id);
	if (!path) {
		fprintf(pipe_out(p), "\ncgroup id %llu:\n", (unsigned long long)g->cgroup_id);
		return;
	}
	fputs("\ncgroup ", pipe_out(p));
	fput_escaped(pipe_out(p), path);
	fputs(":\n", pipe_out(p));
}

static void print_all(struct pipe *p, uint64_t now)
{
	struct stats *S = pipe_options(p)->priv;
	size_t i, tables = 0;
	char ts[PIPE_TS_MAX];

	if (!pipe_options(p)->json) {
		pipe_format_ts(p, ts, now);
		fprintf(pipe_out(p), "\n%s time in state%s%s\n", ts,
			S->by ? ", by " : "", S->by ? by_names[S->by] : "");
	}
	for (i = 0; i < S->ngroups; i++) {
		if (pipe_options(p)->json) {
			print_json(p, &S->groups[i], now);
			continue;
		}
		/* lower bounds alone are no table (they are counted in JSON) */
		if (!has_samples(&S->groups[i]))
			continue;
		if (S->by == BY_CGROUP)
			print_cgroup_label(p, &S->groups[i]);
		else if (S->by)
			fprintf(pipe_out(p), "\n%s %s:\n", by_names[S->by], S->groups[i].label);
		print_table(p, &S->groups[i]);
		tables++;
	}
	if (!tables && !pipe_options(p)->json)
		fprintf(pipe_out(p), "(no completed states yet)\n");
	pipe_emitted(p);
}

static void reset(struct stats *S)
{
	size_t i;
	int st;

	for (i = 0; i < S->ngroups; i++)
		for (st = 0; st < TCPFSM_ST_MAX; st++)
			free(S->groups[i].h[st]);
	S->ngroups = 0;		/* the table and the array stay for the next */
	u64map_clear(&S->index);
}

/* from + n * interval, or UINT64_MAX (the end of time) past it */
static uint64_t after_intervals(uint64_t from, uint64_t interval, uint64_t n)
{
	if (n > (UINT64_MAX - from) / interval)
		return UINT64_MAX;
	return from + n * interval;
}

static void tick(struct pipe *p, uint64_t now, bool final)
{
	struct stats *S = pipe_options(p)->priv;
	if (!S->period_start_ns)
		S->period_start_ns = pipe_start_ns(p);
	if (final) {
		print_all(p, now);
		return;
	}
	if (!S->interval_ns)
		return;
	if (!S->next_print_ns)
		S->next_print_ns = after_intervals(pipe_start_ns(p), S->interval_ns, 1);
	if (now < S->next_print_ns)
		return;
	print_all(p, now);
	reset(S);
	S->period_start_ns = now;
	/*
	 * The first boundary after now, in one step: a recording's clock may
	 * jump by years (or to the end of time), which one interval at a
	 * time would take hours to walk, or forever once it wrapped.
	 */
	S->next_print_ns = after_intervals(S->next_print_ns, S->interval_ns,
					   (now - S->next_print_ns) / S->interval_ns + 1);
}

static void usage(FILE *out)
{
	fprintf(out,
		"Usage: tcpfsm stats [OPTIONS]\n\n"
		"Time spent in each TCP state: count, min, p50, p90, p99, max and a\n"
		"log2 histogram per state, at exit (or every --interval).\n"
		"Only exact durations count: a state entered before tracing began\n"
		"is counted apart as lower_bound_only.\n\n"
		"      --by KEY             group by lport, rport, raddr, comm, pid or cgroup\n"
		"  -i, --interval SECONDS   print and reset every SECONDS\n%s",
		PIPE_OPTS_HELP);
}

#define OPT_BY OPT_CMD_BASE
#define OPT_INTERVAL (OPT_CMD_BASE + 1)

static int stats_opt(struct pipe_opts *o, int opt, const char *arg)
{
	struct stats *S = o->priv;
	size_t i;

	switch (opt) {
	case OPT_BY:
		for (i = 1; i < sizeof(by_names) / sizeof(by_names[0]); i++)
			if (!strcmp(arg, by_names[i])) {
				S->by = (enum group_by)i;
				return 0;
			}
		return cli_usage_error(o->cmd,
			"--by: '%s' is not lport, rport, raddr, comm, pid or cgroup", arg);
	case 'i':
	case OPT_INTERVAL:
		if (parse_duration_ns(arg, &S->interval_ns) ||
		    S->interval_ns < 100000000ull)
			return cli_usage_error(o->cmd,
				"--interval: bad interval '%s' (at least 0.1 s)", arg);
		return 0;
	}
	return 1;
}

int cmd_stats(int argc, char **argv)
{
	static const struct option longopts[] = {
		PIPE_LONG_OPTS,
		{ "by", required_argument, NULL, OPT_BY },
		{ "interval", required_argument, NULL, OPT_INTERVAL },
		{ 0 },
	};
	struct pipe_opts o;
	struct engine_cb cb = {
		.transition = on_transition,
	};
	struct stats st = { 0 }, *S = &st;
	int ret;

	if (u64map_init(&S->index, 64, MAX_GROUPS + 1))
		return cli_error("out of memory");
	pipe_opts_init(&o, "stats");
	o.priv = S;
	o.extra_short = "i:";
	o.states_by = FILTER_BY_LEFT;	/* the time of the state left */
	ret = pipe_parse_args(&o, argc, argv, longopts, stats_opt, usage);
	if (ret >= 0)
		goto out;
	o.tick = tick;
	ret = pipe_run(&o, &cb);
out:
	reset(S);
	free(S->groups);
	u64map_free(&S->index);
	return ret;
}
