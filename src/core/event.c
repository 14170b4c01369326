// SPDX-License-Identifier: GPL-2.0 OR BSD-2-Clause
#include <sys/socket.h>
#include <stdio.h>
#include <string.h>
#include "event.h"
#include "fmt.h"
#include "u64map.h"

void tuple_from_event(struct tuple *t, const struct tcpfsm_event *e)
{
	memset(t, 0, sizeof(*t));
	t->family = e->family;
	t->netns = e->netns;
	t->sport = e->sport;
	t->dport = e->dport;
	/* the kernel side unmaps already; recordings made before it did not */
	if (e->family == AF_INET6 && is_v4_pair(e->saddr, e->daddr)) {
		t->family = AF_INET;
		memcpy(t->saddr, e->saddr + 12, 4);
		memcpy(t->daddr, e->daddr + 12, 4);
		return;
	}
	memcpy(t->saddr, e->saddr, 16);
	memcpy(t->daddr, e->daddr, 16);
}

bool tuple_eq(const struct tuple *a, const struct tuple *b)
{
	return a->family == b->family && a->netns == b->netns &&
	       a->sport == b->sport && a->dport == b->dport &&
	       !memcmp(a->saddr, b->saddr, 16) && !memcmp(a->daddr, b->daddr, 16);
}

uint64_t tuple_hash(const struct tuple *t)
{
	uint64_t h = hash_bytes(t, sizeof(*t)); /* padding is zeroed */

	return h ? h : 1;
}

/* RFC 5952 text without inet_ntop (it is on the per-line output path). */
int format_addr(char *buf, uint8_t family, const uint8_t *a)
{
	int best = -1, best_len = 0, run = -1, i;
	uint16_t w[8];
	char *p = buf;

	if (family != AF_INET && family != AF_INET6) {
		*p++ = '?';
		*p = '\0';
		return 1;
	}
	if (family == AF_INET) {
		p = fmt_ipv4(p, a);
		*p = '\0';
		return (int)(p - buf);
	}
	for (i = 0; i < 8; i++)
		w[i] = (uint16_t)(a[2 * i] << 8 | a[2 * i + 1]);
	/* RFC 5952: the longest run of two or more zero words becomes "::" */
	for (i = 0; i <= 8; i++) {
		if (i < 8 && w[i] == 0) {
			if (run < 0)
				run = i;
			continue;
		}
		if (run >= 0 && i - run > best_len && i - run >= 2) {
			best = run;
			best_len = i - run;
		}
		run = -1;
	}
	for (i = 0; i < 8; i++) {
		if (i == best) {
			*p++ = ':';
			if (i == 0)
				*p++ = ':';
			i += best_len - 1;
			continue;
		}
		if (i == 6 && best == 0 &&
		    (best_len == 6 || (best_len == 5 && w[5] == 0xffff))) {
			p = fmt_ipv4(p, a + 12);	/* ::a.b.c.d, ::ffff:a.b.c.d */
			break;
		}
		p = fmt_hex(p, w[i]);
		if (i < 7)
			*p++ = ':';
	}
	*p = '\0';
	return (int)(p - buf);
}

bool is_v4mapped(const uint8_t *a)
{
	static const uint8_t prefix[12] = { 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0xff, 0xff };

	return !memcmp(a, prefix, sizeof(prefix));
}

bool is_v4_pair(const uint8_t *s, const uint8_t *d)
{
	static const uint8_t zero[16];
	bool sm = is_v4mapped(s), dm = is_v4mapped(d);

	return (sm || dm) && (sm || !memcmp(s, zero, 16)) &&
	       (dm || !memcmp(d, zero, 16));
}

char *put_escaped_byte(char *out, unsigned char c, bool space)
{
	if (c < 0x20 || c >= 0x7f || c == '\\' || (space && c == ' ')) {
		*out++ = '\\';
		*out++ = 'x';
		if (c < 0x10)
			*out++ = '0';
		return fmt_hex(out, c);
	}
	*out++ = (char)c;
	return out;
}

size_t comm_escape(char *out, const char *comm)
{
	char *p = out;
	size_t i;

	/* a space would split the name over two whitespace-separated columns */
	for (i = 0; i < TCPFSM_COMM_LEN && comm[i]; i++)
		p = put_escaped_byte(p, (unsigned char)comm[i], true);
	*p = '\0';
	return (size_t)(p - out);
}

void fput_escaped(FILE *out, const char *s)
{
	char buf[4];

	if (!s) {
		fputc('-', out);
		return;
	}
	for (; *s; s++)
		fwrite(buf, 1, put_escaped_byte(buf, (unsigned char)*s, false) - buf,
		       out);
}
