/* SPDX-License-Identifier: GPL-2.0 OR BSD-2-Clause */
/*
 * sock_diag for tcpfsm serve: every TCP socket of the caller's network
 * namespace with, for full sockets, the value serve's BPF side keeps in
 * socket-local storage (INET_DIAG_REQ_SK_BPF_STORAGES, as `ss --bpf-maps`
 * asks). The request builder and the parser are pure; serve_diag_dump() is
 * the I/O.
 */
#ifndef TCPFSM_SERVE_DIAG_H
#define TCPFSM_SERVE_DIAG_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include "tcpfsm.h"

struct serve_diag_sock {
	uint8_t state;		/* as sock_diag reports (request socks: SYN_RECV) */
	uint8_t family;
	uint8_t timer;		/* idiag_timer */
	bool has_storage;	/* value below is ours */
	uint16_t sport;
	uint32_t expires_ms;
	uint32_t inode;
	struct tcpfsm_serve_sk value;
};

typedef int (*serve_diag_cb)(void *ctx, const struct serve_diag_sock *s);

/*
 * One SOCK_DIAG_BY_FAMILY dump request for family (AF_INET or AF_INET6),
 * the states in mask states (bit n = state n), asking for the storage of map_fd (< 0: none). Returns the
 * length or -ENOSPC.
 */
int serve_diag_request(void *buf, size_t len, uint8_t family, uint32_t states,
		       int map_fd, uint32_t seq);

/*
 * Parse replies in buf; map_id picks our storage among those reported.
 * Sets *done at NLMSG_DONE. Returns 0, -EBADMSG, the kernel's -errno, or
 * cb's non-zero return.
 */
int serve_diag_parse(const void *buf, size_t len, uint32_t map_id,
		     serve_diag_cb cb, void *ctx, bool *done);

/* Dump both families of the caller's namespace. Returns 0 or -errno. */
int serve_diag_dump(uint32_t states, int map_fd, uint32_t map_id,
		    serve_diag_cb cb, void *ctx);

#endif
