/* SPDX-License-Identifier: GPL-2.0 OR BSD-2-Clause */
/*
 * Formatting for the per-record output path, without printf: a transition
 * line is built in a buffer and written once. Each helper writes at p and
 * returns the new end; the caller sizes the buffer.
 */
#ifndef TCPFSM_FMT_H
#define TCPFSM_FMT_H

#include <stdint.h>
#include <string.h>

/* Decimal; at most 20 bytes. */
static inline char *fmt_u64(char *p, uint64_t v)
{
	char tmp[20];
	int n = 0;

	do {
		tmp[n++] = (char)('0' + v % 10);
		v /= 10;
	} while (v);
	while (n)
		*p++ = tmp[--n];
	return p;
}

/* Exactly `digits` decimal digits, zero-padded (v < 10^digits). */
static inline char *fmt_u64_fixed(char *p, uint64_t v, int digits)
{
	for (int i = digits - 1; i >= 0; i--) {
		p[i] = (char)('0' + v % 10);
		v /= 10;
	}
	return p + digits;
}

/* As printf's "%-*s ": s, spaces up to width, then one space. */
static inline char *fmt_col(char *p, const char *s, size_t len, size_t width)
{
	memcpy(p, s, len);
	p += len;
	for (; len < width; len++)
		*p++ = ' ';
	*p++ = ' ';
	return p;
}

static inline char *fmt_str(char *p, const char *s)
{
	size_t n = strlen(s);

	memcpy(p, s, n);
	return p + n;
}

/* Dotted quad; at most 15 bytes. */
static inline char *fmt_ipv4(char *p, const uint8_t *a)
{
	for (int i = 0; i < 4; i++) {
		if (i)
			*p++ = '.';
		p = fmt_u64(p, a[i]);
	}
	return p;
}

#endif
