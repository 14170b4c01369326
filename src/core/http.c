// SPDX-License-Identifier: GPL-2.0 OR BSD-2-Clause
#include <ctype.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include "http.h"

/* Where the head ends (past its empty line), or 0 if not in buf yet. */
static size_t head_end(const char *buf, size_t len)
{
	size_t i;

	for (i = 0; i < len; i++) {
		if (buf[i] != '\n')
			continue;
		if (i + 1 < len && buf[i + 1] == '\n')
			return i + 2;
		if (i + 2 < len && buf[i + 1] == '\r' && buf[i + 2] == '\n')
			return i + 3;
	}
	return 0;
}

static bool q_positive(const char *p, const char *end)
{
	/* parameters: ;k=v;... ; only q matters */
	while (p < end) {
		while (p < end && (*p == ';' || *p == ' ' || *p == '\t'))
			p++;
		if (end - p >= 2 && (p[0] == 'q' || p[0] == 'Q') && p[1] == '=') {
			char num[16];
			size_t n = 0;

			p += 2;
			while (p < end && n < sizeof(num) - 1 && *p != ';')
				num[n++] = *p++;
			num[n] = '\0';
			return strtod(num, NULL) > 0;
		}
		while (p < end && *p != ';')
			p++;
	}
	return true;
}

bool http_accepts_openmetrics(const char *value, size_t len)
{
	static const char mt[] = "application/openmetrics-text";
	const char *p = value, *end = value + len;

	while (p < end) {
		const char *item = p, *item_end = memchr(p, ',', end - p);

		if (!item_end)
			item_end = end;
		while (item < item_end && (*item == ' ' || *item == '\t'))
			item++;
		if ((size_t)(item_end - item) >= sizeof(mt) - 1 &&
		    !strncasecmp(item, mt, sizeof(mt) - 1)) {
			const char *rest = item + sizeof(mt) - 1;

			while (rest < item_end && (*rest == ' ' || *rest == '\t'))
				rest++;
			if ((rest == item_end || *rest == ';') &&
			    q_positive(rest, item_end))
				return true;
		}
		p = item_end + 1;
	}
	return false;
}

int http_parse_request(const char *buf, size_t len, struct http_req *r)
{
	size_t end = head_end(buf, len < HTTP_MAX_REQUEST ? len : HTTP_MAX_REQUEST);
	const char *p, *line_end, *sp1, *sp2, *q;
	size_t i, plen;

	memset(r, 0, sizeof(*r));
	if (!end)
		return len >= HTTP_MAX_REQUEST ? -EMSGSIZE : -EAGAIN;
	for (i = 0; i < end; i++) {
		unsigned char ch = buf[i];

		if ((ch < 0x20 && ch != '\r' && ch != '\n' && ch != '\t') || ch == 0x7f)
			return -EINVAL;
	}
	/* request line: METHOD SP TARGET SP HTTP/1.x */
	line_end = memchr(buf, '\n', end);
	sp1 = memchr(buf, ' ', line_end - buf);
	if (!sp1 || sp1 == buf)
		return -EINVAL;
	sp2 = memchr(sp1 + 1, ' ', line_end - sp1 - 1);
	if (!sp2 || sp2 == sp1 + 1)
		return -EINVAL;
	if (line_end - sp2 - 1 < 8 || strncmp(sp2 + 1, "HTTP/1.", 7))
		return -EINVAL;
	if (sp1 - buf == 3 && !memcmp(buf, "GET", 3))
		r->method = HTTP_GET;
	else if (sp1 - buf == 4 && !memcmp(buf, "HEAD", 4))
		r->method = HTTP_HEAD;
	q = memchr(sp1 + 1, '?', sp2 - sp1 - 1);
	plen = (q ? q : sp2) - (sp1 + 1);
	if (plen >= sizeof(r->path))
		plen = sizeof(r->path) - 1; /* no such path: a 404 */
	memcpy(r->path, sp1 + 1, plen);
	r->path[plen] = '\0';
	/* headers: only Accept matters */
	for (p = line_end + 1; p < buf + end; p = line_end + 1) {
		const char *colon, *v;

		line_end = memchr(p, '\n', buf + end - p);
		if (!line_end)
			break;
		colon = memchr(p, ':', line_end - p);
		if (!colon)
			continue; /* the empty line, or junk: ignored */
		if (colon - p != 6 || strncasecmp(p, "accept", 6))
			continue;
		v = colon + 1;
		if (http_accepts_openmetrics(v, line_end - v -
						    (line_end[-1] == '\r')))
			r->openmetrics = true;
	}
	return 0;
}

const char *http_reason(int status)
{
	switch (status) {
	case 200: return "OK";
	case 400: return "Bad Request";
	case 404: return "Not Found";
	case 405: return "Method Not Allowed";
	case 408: return "Request Timeout";
	case 431: return "Request Header Fields Too Large";
	case 500: return "Internal Server Error";
	case 503: return "Service Unavailable";
	default: return "Unknown";
	}
}

int http_response_head(char *out, size_t len, int status,
		       const char *content_type, size_t body_len)
{
	int n = snprintf(out, len,
			 "HTTP/1.1 %d %s\r\n"
			 "Content-Type: %s\r\n"
			 "Content-Length: %zu\r\n"
			 "%s"
			 "Connection: close\r\n\r\n",
			 status, http_reason(status), content_type, body_len,
			 status == 405 ? "Allow: GET, HEAD\r\n" : "");

	if (n < 0 || (size_t)n >= len)
		return -ENOSPC;
	return n;
}
