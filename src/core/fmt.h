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

/* Lowercase hex without leading zeros, as printf's "%llx"; at most 16 bytes. */
static inline char *fmt_hex(char *p, uint64_t v)
{
	char tmp[16];
	int n = 0;

	do {
		tmp[n++] = "0123456789abcdef"[v & 0xf];
		v >>= 4;
	} while (v);
	while (n)
		*p++ = tmp[--n];
	return p;
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

/*
 * Human duration, in integer arithmetic: "850us" "12.3ms" "59.8s" "3m05s"
 * "3h12m" "2d04h" (tenths truncated). At most FMT_DURATION_MAX bytes.
 */
#define FMT_DURATION_MAX 24
static inline char *fmt_duration(char *p, uint64_t ns)
{
	uint64_t s = ns / 1000000000ull;

	if (ns < 1000000ull)
		return fmt_str(fmt_u64(p, ns / 1000), "us");
	if (ns < 1000000000ull) {
		p = fmt_u64(p, ns / 1000000);
		*p++ = '.';
		*p++ = (char)('0' + ns / 100000 % 10);
		return fmt_str(p, "ms");
	}
	if (s < 60) {
		p = fmt_u64(p, s);
		*p++ = '.';
		*p++ = (char)('0' + ns / 100000000ull % 10);
		*p++ = 's';
		return p;
	}
	if (s < 3600) {
		p = fmt_u64(p, s / 60);
		*p++ = 'm';
		p = fmt_u64_fixed(p, s % 60, 2);
		*p++ = 's';
		return p;
	}
	if (s < 86400) {
		p = fmt_u64(p, s / 3600);
		*p++ = 'h';
		p = fmt_u64_fixed(p, s % 3600 / 60, 2);
		*p++ = 'm';
		return p;
	}
	p = fmt_u64(p, s / 86400);
	*p++ = 'd';
	p = fmt_u64_fixed(p, s % 86400 / 3600, 2);
	*p++ = 'h';
	return p;
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
