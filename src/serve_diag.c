// SPDX-License-Identifier: GPL-2.0 OR BSD-2-Clause
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <sys/socket.h>
#include <linux/inet_diag.h>
#include <linux/netlink.h>
#include <linux/rtnetlink.h>
#include <linux/sock_diag.h>
#include <netinet/in.h>
#include "serve_diag.h"

int serve_diag_request(void *buf, size_t len, uint8_t family, uint32_t states,
		       int map_fd, uint32_t seq)
{
	struct nlmsghdr *nlh = buf;
	struct inet_diag_req_v2 *req;
	size_t need = NLMSG_LENGTH(sizeof(*req));
	struct nlattr *nest, *fd;

	if (map_fd >= 0)
		need = NLMSG_ALIGN(need) + NLA_HDRLEN + NLA_HDRLEN + sizeof(uint32_t);
	if (len < need)
		return -ENOSPC;
	memset(buf, 0, need);
	nlh->nlmsg_len = NLMSG_LENGTH(sizeof(*req));
	nlh->nlmsg_type = SOCK_DIAG_BY_FAMILY;
	nlh->nlmsg_flags = NLM_F_REQUEST | NLM_F_DUMP;
	nlh->nlmsg_seq = seq;
	req = NLMSG_DATA(nlh);
	req->sdiag_family = family;
	req->sdiag_protocol = IPPROTO_TCP;
	req->idiag_states = states;
	if (map_fd >= 0) {
		nest = (struct nlattr *)((char *)buf + NLMSG_ALIGN(nlh->nlmsg_len));
		nest->nla_type = INET_DIAG_REQ_SK_BPF_STORAGES | NLA_F_NESTED;
		nest->nla_len = NLA_HDRLEN + NLA_HDRLEN + sizeof(uint32_t);
		fd = (struct nlattr *)((char *)nest + NLA_HDRLEN);
		fd->nla_type = SK_DIAG_BPF_STORAGE_REQ_MAP_FD;
		fd->nla_len = NLA_HDRLEN + sizeof(uint32_t);
		memcpy((char *)fd + NLA_HDRLEN, &(uint32_t){ (uint32_t)map_fd }, 4);
		nlh->nlmsg_len = NLMSG_ALIGN(nlh->nlmsg_len) + nest->nla_len;
	}
	return nlh->nlmsg_len;
}

/* Our value among the storages of one socket. */
static void find_storage(const char *p, size_t len, uint32_t map_id,
			 struct serve_diag_sock *s)
{
	const struct nlattr *a;

	/* nested: SK_DIAG_BPF_STORAGE { MAP_ID, MAP_VALUE } ... */
	while (len >= NLA_HDRLEN) {
		a = (const void *)p;
		if (a->nla_len < NLA_HDRLEN || a->nla_len > len)
			return;
		if ((a->nla_type & NLA_TYPE_MASK) == SK_DIAG_BPF_STORAGE) {
			const char *q = p + NLA_HDRLEN;
			size_t ql = a->nla_len - NLA_HDRLEN;
			uint32_t id = 0;
			const void *val = NULL;
			size_t vlen = 0;

			while (ql >= NLA_HDRLEN) {
				const struct nlattr *b = (const void *)q;

				if (b->nla_len < NLA_HDRLEN || b->nla_len > ql)
					break;
				if ((b->nla_type & NLA_TYPE_MASK) == SK_DIAG_BPF_STORAGE_MAP_ID &&
				    b->nla_len >= NLA_HDRLEN + 4)
					memcpy(&id, q + NLA_HDRLEN, 4);
				else if ((b->nla_type & NLA_TYPE_MASK) ==
					 SK_DIAG_BPF_STORAGE_MAP_VALUE) {
					val = q + NLA_HDRLEN;
					vlen = b->nla_len - NLA_HDRLEN;
				}
				if ((size_t)NLA_ALIGN(b->nla_len) >= ql)
					break;
				ql -= NLA_ALIGN(b->nla_len);
				q += NLA_ALIGN(b->nla_len);
			}
			if (id == map_id && val && vlen >= sizeof(s->value)) {
				memcpy(&s->value, val, sizeof(s->value));
				s->has_storage = true;
			}
		}
		if ((size_t)NLA_ALIGN(a->nla_len) >= len)
			return;
		len -= NLA_ALIGN(a->nla_len);
		p += NLA_ALIGN(a->nla_len);
	}
}

int serve_diag_parse(const void *buf, size_t len, uint32_t map_id,
		     serve_diag_cb cb, void *ctx, bool *done)
{
	const char *p = buf;

	while (len >= sizeof(struct nlmsghdr)) {
		const struct nlmsghdr *h = (const void *)p;
		size_t mlen = h->nlmsg_len;

		if (mlen < sizeof(*h) || mlen > len)
			return -EBADMSG;
		if (h->nlmsg_type == NLMSG_DONE) {
			*done = true;
			return 0;
		}
		if (h->nlmsg_type == NLMSG_ERROR) {
			const struct nlmsgerr *e = NLMSG_DATA(h);

			*done = true;
			if (mlen < NLMSG_LENGTH(sizeof(*e)))
				return -EBADMSG;
			return e->error ? e->error : -EBADMSG;
		}
		if (h->nlmsg_type == SOCK_DIAG_BY_FAMILY &&
		    mlen >= NLMSG_LENGTH(sizeof(struct inet_diag_msg))) {
			const struct inet_diag_msg *m = NLMSG_DATA(h);
			struct serve_diag_sock s = { 0 };
			size_t off = NLMSG_LENGTH(sizeof(*m));
			int ret;

			s.state = m->idiag_state;
			s.family = m->idiag_family;
			s.timer = m->idiag_timer;
			s.sport = ntohs(m->id.idiag_sport);
			s.expires_ms = m->idiag_expires;
			s.inode = m->idiag_inode;
			off = NLMSG_ALIGN(off);
			while (off + NLA_HDRLEN <= mlen) {
				const struct nlattr *a = (const void *)(p + off);

				if (a->nla_len < NLA_HDRLEN || off + a->nla_len > mlen)
					break;
				if ((a->nla_type & NLA_TYPE_MASK) == INET_DIAG_SK_BPF_STORAGES)
					find_storage(p + off + NLA_HDRLEN,
						     a->nla_len - NLA_HDRLEN, map_id, &s);
				off += NLA_ALIGN(a->nla_len);
			}
			ret = cb(ctx, &s);
			if (ret)
				return ret;
		}
		if (NLMSG_ALIGN(mlen) >= len)
			break;
		len -= NLMSG_ALIGN(mlen);
		p += NLMSG_ALIGN(mlen);
	}
	return 0;
}

static int dump_family(int fd, uint8_t family, uint32_t states, int map_fd,
		       uint32_t map_id, serve_diag_cb cb, void *ctx, uint32_t seq)
{
	struct sockaddr_nl sa = { .nl_family = AF_NETLINK };
	char req[128];
	size_t cap = 64 << 10;
	char *buf = malloc(cap);
	bool done = false;
	int len, ret = 0;

	if (!buf)
		return -ENOMEM;
	len = serve_diag_request(req, sizeof(req), family, states, map_fd, seq);
	if (len < 0)
		goto out_len;
	if (sendto(fd, req, len, 0, (struct sockaddr *)&sa, sizeof(sa)) < 0) {
		ret = -errno;
		goto out;
	}
	while (!done) {
		ssize_t n = recv(fd, buf, cap, 0);

		if (n < 0) {
			if (errno == EINTR)
				continue;
			ret = -errno;
			break;
		}
		if (n == 0) {
			ret = -EBADMSG;
			break;
		}
		ret = serve_diag_parse(buf, n, map_id, cb, ctx, &done);
		if (ret)
			break;
	}
out:
	free(buf);
	return ret;
out_len:
	free(buf);
	return len;
}

int serve_diag_dump(uint32_t states, int map_fd, uint32_t map_id,
		    serve_diag_cb cb, void *ctx)
{
	int fd = socket(AF_NETLINK, SOCK_RAW | SOCK_CLOEXEC, NETLINK_SOCK_DIAG);
	int ret;

	if (fd < 0)
		return -errno;
	ret = dump_family(fd, AF_INET, states, map_fd, map_id, cb, ctx, 1);
	if (!ret)
		ret = dump_family(fd, AF_INET6, states, map_fd, map_id, cb, ctx, 2);
	close(fd);
	return ret;
}
