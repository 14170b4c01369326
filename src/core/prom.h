/* SPDX-License-Identifier: GPL-2.0 OR BSD-2-Clause */
/*
 * Prometheus exposition, text format 0.0.4 or OpenMetrics 1.0, into a
 * growing buffer. Pure: no I/O. A failed allocation is sticky (p->err);
 * check it once at the end.
 */
#ifndef TCPFSM_PROM_H
#define TCPFSM_PROM_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define PROM_CT_TEXT "text/plain; version=0.0.4; charset=utf-8"
#define PROM_CT_OPENMETRICS "application/openmetrics-text; version=1.0.0; charset=utf-8"

struct prom {
	char *buf;
	size_t len, cap;
	bool om;	/* OpenMetrics */
	int err;	/* 0 or -ENOMEM */
};

void prom_init(struct prom *p, bool openmetrics);
void prom_free(struct prom *p);
void prom_printf(struct prom *p, const char *fmt, ...)
	__attribute__((format(printf, 2, 3)));

/*
 * # HELP / # TYPE lines of a family (and # UNIT in OpenMetrics when unit is
 * not NULL). type is "counter", "gauge", "histogram" or "info". For a
 * counter, name is without "_total": the text format's family is
 * NAME_total, OpenMetrics' is NAME; samples are NAME_total in both.
 */
void prom_family(struct prom *p, const char *name, const char *type,
		 const char *unit, const char *help);
/*
 * One sample: name + suffix (may be ""), labels as preformatted
 * `k="v",k2="v2"` (NULL or "" for none; values escaped by the caller with
 * prom_label_escape).
 */
void prom_sample_u64(struct prom *p, const char *name, const char *suffix,
		     const char *labels, uint64_t v);
void prom_sample_i64(struct prom *p, const char *name, const char *suffix,
		     const char *labels, int64_t v);
void prom_sample_f(struct prom *p, const char *name, const char *suffix,
		   const char *labels, double v);
/*
 * A histogram's samples: n finite buckets with upper bounds le[] (seconds)
 * and per-bucket (not cumulative) counts slot[], then overflow above the
 * last bound; _bucket (cumulative, +Inf last), _sum (sum), _count.
 */
void prom_histogram(struct prom *p, const char *name, const char *labels,
		    const double *le, const uint64_t *slot, size_t n,
		    uint64_t overflow, double sum);
/* OpenMetrics' "# EOF"; nothing in the text format. */
void prom_end(struct prom *p);

/*
 * A label value escaped (backslash, double quote, newline) into out (len
 * bytes, NUL-terminated). Returns 0, or -ENOSPC (out then holds "").
 */
int prom_label_escape(char *out, size_t len, const char *in);

#endif
