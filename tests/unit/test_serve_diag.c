// SPDX-License-Identifier: GPL-2.0 OR BSD-2-Clause
/* serve's sock_diag: the request asks for our storage; the parser finds it. */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <cmocka.h>
#include <arpa/inet.h>
#include <linux/inet_diag.h>
#include <linux/netlink.h>
#include <linux/sock_diag.h>
#include "serve_diag.h"

static char buf[4096];
static size_t len;

static void *put(const void *p, size_t n)
{
	void *at = buf + len;

	memcpy(at, p, n);
	len += NLMSG_ALIGN(n);
	return at;
}

static struct nlattr *attr_begin(uint16_t type)
{
	struct nlattr a = { .nla_type = type };

	return put(&a, NLA_HDRLEN);
}

static void attr_end(struct nlattr *a)
{
	a->nla_len = (char *)buf + len - (char *)a;
}

static void attr(uint16_t type, const void *p, size_t n)
{
	struct nlattr *a = attr_begin(type);

	put(p, n);
	a->nla_len = NLA_HDRLEN + n;
}

/* one socket message; storages: (map id, value) pairs */
static void sock_msg(uint8_t state, uint16_t sport, int n, const uint32_t *ids,
		     const struct tcpfsm_serve_sk *vals)
{
	struct nlmsghdr h = { .nlmsg_type = SOCK_DIAG_BY_FAMILY }, *hp;
	struct inet_diag_msg m = { .idiag_family = 2, .idiag_state = state,
				   .idiag_inode = 42 };
	struct nlattr *all, *one;
	int i;

	m.id.idiag_sport = htons(sport);
	hp = put(&h, sizeof(h));
	put(&m, sizeof(m));
	if (n) {
		all = attr_begin(INET_DIAG_SK_BPF_STORAGES | NLA_F_NESTED);
		for (i = 0; i < n; i++) {
			one = attr_begin(SK_DIAG_BPF_STORAGE | NLA_F_NESTED);
			attr(SK_DIAG_BPF_STORAGE_MAP_ID, &ids[i], 4);
			attr(SK_DIAG_BPF_STORAGE_MAP_VALUE, &vals[i], sizeof(vals[i]));
			attr_end(one);
		}
		attr_end(all);
	}
	hp->nlmsg_len = (char *)buf + len - (char *)hp;
}

static void done_msg(void)
{
	struct nlmsghdr h = { .nlmsg_len = NLMSG_LENGTH(4), .nlmsg_type = NLMSG_DONE };
	int zero = 0;

	put(&h, sizeof(h));
	put(&zero, 4);
}

static struct serve_diag_sock got[8];
static int ngot;

static int cb(void *ctx, const struct serve_diag_sock *s)
{
	if (ngot < 8)
		got[ngot] = *s;
	ngot++;
	return 0;
}

static void test_finds_our_storage(void **state)
{
	struct tcpfsm_serve_sk v[2] = { { .since_ns = 111, .state = 8 },
					{ .since_ns = 222, .state = 1 } };
	uint32_t ids[2] = { 9, 7 };
	bool done = false;

	len = 0;
	ngot = 0;
	sock_msg(8, 7001, 2, ids, v);	/* another map's first, then ours */
	sock_msg(6, 7002, 0, NULL, NULL);
	done_msg();
	assert_int_equal(serve_diag_parse(buf, len, 7, cb, NULL, &done), 0);
	assert_true(done);
	assert_int_equal(ngot, 2);
	assert_true(got[0].has_storage);
	assert_int_equal(got[0].value.since_ns, 222);
	assert_int_equal(got[0].sport, 7001);
	assert_int_equal(got[0].state, 8);
	assert_false(got[1].has_storage);
	assert_int_equal(got[1].state, 6);
	/* no map of ours: nothing taken */
	ngot = 0;
	done = false;
	assert_int_equal(serve_diag_parse(buf, len, 5, cb, NULL, &done), 0);
	assert_false(got[0].has_storage);
}

static void test_truncated_and_errors(void **state)
{
	struct tcpfsm_serve_sk v = { .since_ns = 1 };
	uint32_t id = 7;
	bool done = false;
	size_t full, cut;
	struct {
		struct nlmsghdr h;
		struct nlmsgerr e;
	} err = { { sizeof(err), NLMSG_ERROR, 0, 0, 0 }, { -EPERM, { 0 } } };

	len = 0;
	sock_msg(1, 80, 1, &id, &v);
	full = len;
	/* every cut inside the message: an error or fewer bytes read, never
	 * a read past the end (ASan) */
	for (cut = 1; cut < full; cut++) {
		char *copy = malloc(cut);

		memcpy(copy, buf, cut);
		ngot = 0;
		int ret = serve_diag_parse(copy, cut, 7, cb, NULL, &done);

		assert_true(ret == 0 || ret == -EBADMSG);
		free(copy);
	}
	/* an attribute claiming more than its message */
	((struct nlattr *)(buf + NLMSG_LENGTH(sizeof(struct inet_diag_msg))))->nla_len = 4000;
	ngot = 0;
	assert_int_equal(serve_diag_parse(buf, full, 7, cb, NULL, &done), 0);
	assert_int_equal(ngot, 1);
	assert_false(got[0].has_storage);
	done = false;
	assert_int_equal(serve_diag_parse(&err, sizeof(err), 7, cb, NULL, &done), -EPERM);
	assert_true(done);
}

static void test_request(void **state)
{
	char req[128];
	const struct nlmsghdr *h = (const void *)req;
	const struct inet_diag_req_v2 *r = NLMSG_DATA(h);
	const struct nlattr *a;
	int n = serve_diag_request(req, sizeof(req), 10, 1u << 10, 5, 3);

	assert_true(n > 0);
	assert_int_equal(h->nlmsg_len, n);
	assert_int_equal(r->sdiag_family, 10);
	assert_int_equal(r->idiag_states, 1u << 10);
	assert_int_equal(h->nlmsg_seq, 3);
	a = (const void *)(req + NLMSG_ALIGN(NLMSG_LENGTH(sizeof(*r))));
	assert_int_equal(a->nla_type & NLA_TYPE_MASK, INET_DIAG_REQ_SK_BPF_STORAGES);
	a++;
	assert_int_equal(a->nla_type, SK_DIAG_BPF_STORAGE_REQ_MAP_FD);
	assert_int_equal(*(const uint32_t *)(a + 1), 5);
	/* no map: no attribute */
	n = serve_diag_request(req, sizeof(req), 2, 1, -1, 1);
	assert_int_equal(n, NLMSG_LENGTH(sizeof(*r)));
	assert_int_equal(serve_diag_request(req, 10, 2, 1, 5, 1), -ENOSPC);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_finds_our_storage),
		cmocka_unit_test(test_truncated_and_errors),
		cmocka_unit_test(test_request),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
