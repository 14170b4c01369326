/* SPDX-License-Identifier: GPL-2.0 OR BSD-2-Clause */
/*
 * Inside tcpfsm snapshot (snapshot.c and snapshot_out.c): its options,
 * its state, what its files share.
 */
#ifndef TCPFSM_SNAPSHOT_IMPL_H
#define TCPFSM_SNAPSHOT_IMPL_H

#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include "agesrv.h"
#include "cgpath.h"
#include "diag.h"
#include "filter.h"
#include "json.h"
#include "netns.h"
#include "procmap.h"
#include "u64map.h"
#include "tcpfsm.h"

#define CMD "snapshot"
#define TW_LEN_MS (TCPFSM_TIMEWAIT_LEN_NS / 1000000u) /* TCP_TIMEWAIT_LEN */
#define DEFAULT_TOP 5
#define MAX_TOP 1000

struct opts {
	uint8_t family;
	uint32_t states;
	struct diag_filter filter;
	struct filter sel;	/* the same, as every command judges it */
	const char *netns;	/* -N NAME, PATH or PID */
	uint32_t netns_ino;	/* -N INODE */
	const char *dump_raw;	/* hidden: record the raw replies */
	bool force;		/* --dump-raw may replace an existing file */
	const char *from_raw;	/* hidden: replay recorded replies */
	bool processes;
	bool summary;
	bool json;
	bool no_age;
	enum diag_group by;
	int top;
	uint64_t watch_ns;
};

/* Ages from the tracer, by cookie. */
struct age_table {
	struct age_record *recs;
	size_t n, cap;
	struct u64map index;	/* cookie -> index in recs */
};

enum age_source { AGE_UNKNOWN, AGE_TRACER, AGE_SERVE, AGE_TIMER };

/* Table columns sized by their widest row (at least their header). */
struct widths {
	int local, peer, cookie;
};

/* A table row: the socket, and its endpoints' text in snap.text. */
struct row {
	struct diag_sock s;
	uint64_t serve_since_ns; /* snap_serve_since(), taken while s.storage
				    was valid */
	uint32_t text;		/* offset of the local endpoint; the peer's follows */
	uint8_t local_len, peer_len;
};

struct snap {
	const struct opts *o;
	FILE *out;
	struct json j;
	struct procmap pm;
	bool have_pm;
	struct age_table ages;
	bool have_ages;
	struct cgpath cg;	/* cgroup id -> path, for JSON */
	bool have_cg;
	int age_err;		/* why there are no ages */
	uint32_t age_flags;	/* AGE_HF_* of the answer */
	int said_err;		/* the last age_err and flags told on stderr */
	uint32_t said_flags;
	bool said;
	/* a running tcpfsm serve's socket storage (serve_bpf_find_sk_map) */
	int serve_fd;		/* this round's, or -errno why none */
	uint32_t serve_map_id;
	unsigned int nserves;	/* how many run */
	int said_serve;		/* what was told of it: map id, or -errno */
	unsigned int said_nserves;
	bool said_both;
	uint64_t now_ns;	/* CLOCK_MONOTONIC just before the dump */
	struct diag_tally tally;
	/* table mode: the rows, kept for the column widths */
	struct row *v;
	size_t n, cap;
	char *text;		/* the rows' endpoints, formatted as they came */
	size_t text_len, text_cap;
	struct widths w;	/* of the rows so far */
	uint64_t rows;		/* JSON lines: a gone reader is looked for every 1024 */
};

/* snapshot_out.c */
int snap_age_table_add(void *ctx, const struct age_record *r);
void snap_age_table_clear(struct age_table *t);
void snap_age_table_free(struct age_table *t);
void snap_rows_clear(struct snap *sn);
uint64_t snap_serve_since(const struct diag_sock *s);
int snap_collect(void *ctx, const struct diag_sock *s);
int snap_table_print(struct snap *sn);
int snap_json_row(void *ctx, const struct diag_sock *s);
int snap_tally_row(void *ctx, const struct diag_sock *s);
int snap_summary_print(struct snap *sn);

#endif
