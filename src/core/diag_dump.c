// SPDX-License-Identifier: GPL-2.0 OR BSD-2-Clause
/*
 * sock_diag dumps from the kernel: the netlink socket, the request per
 * family, the replies through the parser, an interrupted dump retried.
 */
#include <arpa/inet.h>
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <sys/socket.h>
#include <linux/inet_diag.h>
#include <linux/netlink.h>
#include <linux/sock_diag.h>
#include "diag.h"
#include "event.h"
#include "u64map.h"
#include "diag_impl.h"

/* ---------------------------------------------------------------- dump */

#define DIAG_RCVBUF (4u << 20)
#define DIAG_RECV_BUF (1u << 20)	/* the kernel fills ~32 KiB per recv */
#define DIAG_INTR_RETRIES 3

static int send_request(int fd, const struct diag_query *q, uint8_t family,
			const void *bc, int bc_len, uint32_t seq)
{
	struct sockaddr_nl nl = { .nl_family = AF_NETLINK };
	uint8_t req[NLMSG_SPACE(sizeof(struct inet_diag_req_v2)) +
		    NLA_HDRLEN + DIAG_BC_MAX + NLA_ALIGN(STORAGE_REQ_LEN)];
	uint32_t states = q->states ? q->states : DIAG_STATES_ALL;
	int len = diag_build_request_map(req, sizeof(req), family, states, bc,
					 (size_t)bc_len,
					 q->map_id ? q->map_fd : -1, seq);

	if (len < 0)
		return len;
	for (;;) {
		ssize_t n = sendto(fd, req, (size_t)len, 0,
				   (struct sockaddr *)&nl, sizeof(nl));

		if (n == len)
			return 0;
		if (n < 0 && errno == EINTR)
			continue;
		return n < 0 ? -errno : -EIO;
	}
}

struct dump_ctx {
	int fd;
	const struct diag_query *q;
	const void *bc;
	int bc_len;
	uint32_t seq;
	uint8_t *buf;
	diag_sock_cb cb;
	void *ctx;
	struct diag_dump_info *info;
	bool intr;		/* this attempt saw NLM_F_DUMP_INTR */
};

/*
 * The family rule (diag_unmap_v4): an AF_INET6 socket speaking IPv4 is IPv4. The
 * kernel selects by the socket's own family, so IPv4 is asked of both and
 * IPv6 of AF_INET6, and each socket is judged here by its addresses'.
 */
static int family_cb(void *ctx, const struct diag_sock *s)
{
	const struct dump_ctx *d = ctx;

	if (s && s->family != d->q->family)
		return 0;
	return d->cb(d->ctx, s);
}

/* One request (family AF_UNSPEC: both), its replies parsed as they come. */
static int dump_one(struct dump_ctx *d, uint8_t family)
{
	struct diag_parse_state st = { .seq = ++d->seq, .map_id = d->q->map_id };
	int ret = send_request(d->fd, d->q, family, d->bc, d->bc_len, d->seq);

	while (!ret && !st.done) {
		struct sockaddr_nl from;
		struct iovec iov = { .iov_base = d->buf, .iov_len = DIAG_RECV_BUF };
		struct msghdr msg = {
			.msg_name = &from,
			.msg_namelen = sizeof(from),
			.msg_iov = &iov,
			.msg_iovlen = 1,
		};
		ssize_t n = recvmsg(d->fd, &msg, 0);

		if (n < 0) {
			if (errno == EINTR)
				continue;
			ret = -errno;
			break;
		}
		if (n == 0) {
			ret = -EPIPE;
			break;
		}
		if (msg.msg_flags & MSG_TRUNC) {
			ret = -EMSGSIZE;
			break;
		}
		d->info->recvs++;
		if (from.nl_pid != 0)	/* not from the kernel */
			continue;
		d->info->reply_bytes += (uint64_t)n;
		if (d->q->raw &&
		    fwrite(d->buf, 1, (size_t)n, d->q->raw) != (size_t)n) {
			ret = -EIO;
			break;
		}
		ret = d->q->family && d->cb ?
			      diag_parse(d->buf, (size_t)n, family_cb, d, &st) :
			      diag_parse(d->buf, (size_t)n, d->cb, d->ctx, &st);
	}
	d->info->nsocks += st.nsocks;
	if (st.done && !st.error)
		d->info->dumps++;
	d->intr |= st.intr;
	return ret;
}

/* Both families: one legacy request, or one per family on old kernels. */
static int dump_all(struct dump_ctx *d)
{
	static const uint8_t families[] = { AF_INET, AF_INET6 };
	size_t i;
	int ret;

	if (d->q->family == AF_INET6)
		return dump_one(d, AF_INET6);
	ret = dump_one(d, AF_UNSPEC);
	if (diag_refused_both(ret, d->info->nsocks))
		for (i = 0, ret = 0; !ret && i < sizeof(families); i++)
			ret = dump_one(d, families[i]);
	return ret;
}

int diag_dump(const struct diag_query *q, diag_sock_cb cb, void *ctx,
	      struct diag_dump_info *info)
{
	struct sockaddr_nl local = { .nl_family = AF_NETLINK };
	struct diag_dump_info dummy;
	uint8_t bc[DIAG_BC_MAX];
	struct dump_ctx d = { .q = q, .bc = bc, .cb = cb, .ctx = ctx };
	int retries = q->intr_retries == 0 ? DIAG_INTR_RETRIES :
		      q->intr_retries < 0 ? 0 : q->intr_retries;
	int bufsz = DIAG_RCVBUF;
	int ret;

	if (!info)
		info = &dummy;
	memset(info, 0, sizeof(*info));
	d.info = info;
	if (q->family != 0 && q->family != AF_INET && q->family != AF_INET6)
		return -EINVAL;
	d.bc_len = diag_bc_compile(q->filter, bc, sizeof(bc));
	if (d.bc_len < 0)
		return d.bc_len;
	d.buf = malloc(DIAG_RECV_BUF);
	if (!d.buf)
		return -ENOMEM;
	d.fd = socket(AF_NETLINK, SOCK_RAW | SOCK_CLOEXEC, NETLINK_SOCK_DIAG);
	if (d.fd < 0) {
		ret = -errno;
		goto out_free;
	}
	/* A bigger receive buffer, beyond rmem_max when we may. */
	if (setsockopt(d.fd, SOL_SOCKET, SO_RCVBUFFORCE, &bufsz, sizeof(bufsz)))
		setsockopt(d.fd, SOL_SOCKET, SO_RCVBUF, &bufsz, sizeof(bufsz));
	if (bind(d.fd, (struct sockaddr *)&local, sizeof(local))) {
		ret = -errno;
		goto out_close;
	}
	for (;;) {
		d.intr = false;
		ret = dump_all(&d);
		if (ret || !d.intr)
			break;
		/* inconsistent: repeat it if the caller can forget this one */
		if (!q->restartable || (int)info->intr_retries >= retries ||
		    (cb && cb(ctx, NULL)))
			break;
		info->intr_retries++;
		info->nsocks = 0;
		info->dumps = 0;
	}
	info->intr = d.intr;
out_close:
	close(d.fd);
out_free:
	free(d.buf);
	return ret;
}
