/* SPDX-License-Identifier: GPL-2.0 OR BSD-2-Clause */
/*
 * Inside the sock_diag client (diag.c, diag_dump.c, diag_tally.c): what
 * its files share.
 */
#ifndef TCPFSM_DIAG_IMPL_H
#define TCPFSM_DIAG_IMPL_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <linux/netlink.h>
#include "diag.h"

/* The storage request: one map, nested (the kernel takes several). */
#define STORAGE_REQ_LEN (NLA_HDRLEN + NLA_HDRLEN + sizeof(uint32_t))

/* diag.c */
void diag_unmap_v4(struct diag_sock *s);
bool diag_refused_both(int err, uint64_t nsocks);

#endif
