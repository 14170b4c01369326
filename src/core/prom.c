// SPDX-License-Identifier: GPL-2.0 OR BSD-2-Clause
#include <errno.h>
#include <inttypes.h>
#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include "prom.h"

void prom_init(struct prom *p, bool openmetrics)
{
	memset(p, 0, sizeof(*p));
	p->om = openmetrics;
}

void prom_free(struct prom *p)
{
	free(p->buf);
	memset(p, 0, sizeof(*p));
}

void prom_printf(struct prom *p, const char *fmt, ...)
{
	va_list ap;
	int n;

	if (p->err)
		return;
	for (;;) {
		size_t room = p->cap - p->len;

		va_start(ap, fmt);
		n = vsnprintf(p->buf ? p->buf + p->len : NULL, room, fmt, ap);
		va_end(ap);
		if (n < 0) {
			p->err = -EINVAL;
			return;
		}
		if ((size_t)n < room) {
			p->len += n;
			return;
		}
		size_t cap = p->cap ? p->cap * 2 : 4096;
		char *nb;

		while (cap - p->len <= (size_t)n)
			cap *= 2;
		nb = realloc(p->buf, cap);
		if (!nb) {
			p->err = -ENOMEM;
			return;
		}
		p->buf = nb;
		p->cap = cap;
	}
}

void prom_family(struct prom *p, const char *name, const char *type,
		 const char *unit, const char *help)
{
	const char *suffix = !p->om && !strcmp(type, "counter") ? "_total" : "";
	const char *t = !p->om && !strcmp(type, "info") ? "gauge" : type;

	/* HELP text: escape backslash and newline (help is ours: none) */
	prom_printf(p, "# HELP %s%s %s\n", name, suffix, help);
	prom_printf(p, "# TYPE %s%s %s\n", name, suffix, t);
	if (p->om && unit)
		prom_printf(p, "# UNIT %s %s\n", name, unit);
}

static void head(struct prom *p, const char *name, const char *suffix,
		 const char *labels)
{
	if (labels && *labels)
		prom_printf(p, "%s%s{%s} ", name, suffix, labels);
	else
		prom_printf(p, "%s%s ", name, suffix);
}

void prom_sample_u64(struct prom *p, const char *name, const char *suffix,
		     const char *labels, uint64_t v)
{
	head(p, name, suffix, labels);
	prom_printf(p, "%" PRIu64 "\n", v);
}

void prom_sample_i64(struct prom *p, const char *name, const char *suffix,
		     const char *labels, int64_t v)
{
	head(p, name, suffix, labels);
	prom_printf(p, "%" PRId64 "\n", v);
}

static void put_double(struct prom *p, double v)
{
	if (isnan(v))
		prom_printf(p, "NaN");
	else if (isinf(v))
		prom_printf(p, v > 0 ? "+Inf" : "-Inf");
	else
		prom_printf(p, "%.17g", v);
}

void prom_sample_f(struct prom *p, const char *name, const char *suffix,
		   const char *labels, double v)
{
	head(p, name, suffix, labels);
	put_double(p, v);
	prom_printf(p, "\n");
}

void prom_histogram(struct prom *p, const char *name, const char *labels,
		    const double *le, const uint64_t *slot, size_t n,
		    uint64_t overflow, double sum)
{
	const char *sep = labels && *labels ? "," : "";
	uint64_t cum = 0;
	size_t i;

	for (i = 0; i < n; i++) {
		cum += slot[i];
		prom_printf(p, "%s_bucket{%s%sle=\"%.9g\"} %" PRIu64 "\n", name,
			    labels ? labels : "", sep, le[i], cum);
	}
	cum += overflow;
	prom_printf(p, "%s_bucket{%s%sle=\"+Inf\"} %" PRIu64 "\n", name,
		    labels ? labels : "", sep, cum);
	prom_sample_f(p, name, "_sum", labels, sum);
	prom_sample_u64(p, name, "_count", labels, cum);
}

void prom_end(struct prom *p)
{
	if (p->om)
		prom_printf(p, "# EOF\n");
}

int prom_label_escape(char *out, size_t len, const char *in)
{
	size_t o = 0;

	for (; *in; in++) {
		const char *rep = NULL;
		char one[2] = { *in, 0 };

		if (*in == '\\')
			rep = "\\\\";
		else if (*in == '"')
			rep = "\\\"";
		else if (*in == '\n')
			rep = "\\n";
		else
			rep = one;
		if (o + strlen(rep) >= len) {
			if (len)
				out[0] = '\0';
			return -ENOSPC;
		}
		memcpy(out + o, rep, strlen(rep));
		o += strlen(rep);
	}
	if (o >= len)
		return -ENOSPC;
	out[o] = '\0';
	return 0;
}
