// SPDX-License-Identifier: GPL-2.0 OR BSD-2-Clause
/* The metrics endpoint's HTTP: request heads, Accept, response heads. */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <cmocka.h>
#include "http.h"

static int parse(const char *s, struct http_req *r)
{
	return http_parse_request(s, strlen(s), r);
}

static void test_get_metrics(void **state)
{
	struct http_req r;

	assert_int_equal(parse("GET /metrics HTTP/1.1\r\nHost: x\r\n\r\n", &r), 0);
	assert_int_equal(r.method, HTTP_GET);
	assert_string_equal(r.path, "/metrics");
	assert_false(r.openmetrics);
	/* bare LF, a query string, HEAD, HTTP/1.0 */
	assert_int_equal(parse("HEAD /metrics?x=1 HTTP/1.0\n\n", &r), 0);
	assert_int_equal(r.method, HTTP_HEAD);
	assert_string_equal(r.path, "/metrics");
	assert_int_equal(parse("POST /metrics HTTP/1.1\r\n\r\n", &r), 0);
	assert_int_equal(r.method, HTTP_OTHER);
}

static void test_incomplete_and_too_big(void **state)
{
	struct http_req r;
	char *big;

	assert_int_equal(parse("", &r), -EAGAIN);
	assert_int_equal(parse("GET /metrics HTTP/1.1\r\n", &r), -EAGAIN);
	assert_int_equal(parse("GET /metrics HTTP/1.1\r\nAccept: x\r\n\r", &r), -EAGAIN);
	big = malloc(HTTP_MAX_REQUEST + 10);
	memset(big, 'a', HTTP_MAX_REQUEST + 10);
	memcpy(big, "GET / HTTP/1.1\r\nX: ", 19);
	assert_int_equal(http_parse_request(big, HTTP_MAX_REQUEST, &r), -EMSGSIZE);
	assert_int_equal(http_parse_request(big, HTTP_MAX_REQUEST - 1, &r), -EAGAIN);
	/* a head that ends just inside the limit is fine */
	memcpy(big + HTTP_MAX_REQUEST - 4, "\r\n\r\n", 4);
	assert_int_equal(http_parse_request(big, HTTP_MAX_REQUEST, &r), 0);
	free(big);
}

static void test_malformed(void **state)
{
	static const char *const bad[] = {
		"garbage\r\n\r\n",
		"GET\r\n\r\n",
		"GET /metrics\r\n\r\n",
		"GET /metrics FTP/1.1\r\n\r\n",
		" /metrics HTTP/1.1\r\n\r\n",
		"GET  HTTP/1.1\r\n\r\n",
		"GET /me\x01trics HTTP/1.1\r\n\r\n",
		"GET /metrics HTTP/1.1\r\nX: a\x7f\r\n\r\n",
	};
	struct http_req r;
	size_t i;

	for (i = 0; i < sizeof(bad) / sizeof(bad[0]); i++)
		assert_int_equal(parse(bad[i], &r), -EINVAL);
	/* a NUL byte inside the head */
	assert_int_equal(http_parse_request("GET /\0 HTTP/1.1\r\n\r\n", 20, &r), -EINVAL);
}

static void test_long_path_is_cut(void **state)
{
	char req[600];
	struct http_req r;

	snprintf(req, sizeof(req), "GET /%0500d HTTP/1.1\r\n\r\n", 0);
	assert_int_equal(parse(req, &r), 0);
	assert_int_equal(strlen(r.path), sizeof(r.path) - 1);
}

static void test_accept_openmetrics(void **state)
{
	struct http_req r;
	/* what Prometheus 2.42 sends */
	const char *prom = "application/openmetrics-text;version=1.0.0,"
			   "application/openmetrics-text;version=0.0.1;q=0.75,"
			   "text/plain;version=0.0.4;q=0.5,*/*;q=0.1";

	assert_true(http_accepts_openmetrics(prom, strlen(prom)));
	assert_true(http_accepts_openmetrics("Application/OpenMetrics-Text",
					     28));
	assert_false(http_accepts_openmetrics("text/plain", 10));
	assert_false(http_accepts_openmetrics("application/openmetrics-text;q=0", 32));
	assert_false(http_accepts_openmetrics("application/openmetrics-textual", 31));
	assert_int_equal(parse("GET /metrics HTTP/1.1\r\naccept:  application/openmetrics-text; "
			       "version=1.0.0\r\n\r\n", &r), 0);
	assert_true(r.openmetrics);
	assert_int_equal(parse("GET /metrics HTTP/1.1\r\nX-Accept: application/openmetrics-text"
			       "\r\n\r\n", &r), 0);
	assert_false(r.openmetrics);
}

static void test_response_head(void **state)
{
	char buf[256];
	int n = http_response_head(buf, sizeof(buf), 200, "text/plain", 12);

	assert_true(n > 0);
	assert_string_equal(buf, "HTTP/1.1 200 OK\r\nContent-Type: text/plain\r\n"
				 "Content-Length: 12\r\nConnection: close\r\n\r\n");
	n = http_response_head(buf, sizeof(buf), 405, "text/plain", 0);
	assert_non_null(strstr(buf, "Allow: GET, HEAD\r\n"));
	assert_int_equal(http_response_head(buf, 10, 200, "text/plain", 1), -ENOSPC);
	assert_string_equal(http_reason(431), "Request Header Fields Too Large");
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_get_metrics),
		cmocka_unit_test(test_incomplete_and_too_big),
		cmocka_unit_test(test_malformed),
		cmocka_unit_test(test_long_path_is_cut),
		cmocka_unit_test(test_accept_openmetrics),
		cmocka_unit_test(test_response_head),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
