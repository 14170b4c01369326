/* SPDX-License-Identifier: GPL-2.0 OR BSD-2-Clause */
/*
 * The little HTTP that a metrics endpoint needs: parse one request's head,
 * build one response's head. Pure: no I/O. One request per connection
 * (Connection: close); bodies of requests are not read.
 */
#ifndef TCPFSM_HTTP_H
#define TCPFSM_HTTP_H

#include <stdbool.h>
#include <stddef.h>

/* The most a request head may take; more is refused (431). */
#define HTTP_MAX_REQUEST 8192

enum http_method { HTTP_OTHER = 0, HTTP_GET, HTTP_HEAD };

struct http_req {
	enum http_method method;
	char path[256];		/* without the query string */
	bool openmetrics;	/* Accept asks for application/openmetrics-text */
};

/*
 * Parse the request head in buf[0..len) (it ends at an empty line, CRLF or
 * LF). Returns 0 when complete (r filled), -EAGAIN when more bytes are
 * needed, -EMSGSIZE when the head exceeds HTTP_MAX_REQUEST, -EINVAL when
 * malformed (bad request line, control bytes, not HTTP/1.x).
 */
int http_parse_request(const char *buf, size_t len, struct http_req *r);

/*
 * Does this Accept header value ask for OpenMetrics (a media range
 * application/openmetrics-text with a q above 0)?
 */
bool http_accepts_openmetrics(const char *value, size_t len);

/*
 * The response head for status (200, 400, 404, 405, 408, 431, 500, 503)
 * with a body of body_len bytes of content_type, Connection: close, into
 * out. Returns its length, or -ENOSPC.
 */
int http_response_head(char *out, size_t len, int status,
		       const char *content_type, size_t body_len);
const char *http_reason(int status);

#endif
