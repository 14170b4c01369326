/* SPDX-License-Identifier: GPL-2.0 OR BSD-2-Clause */
/*
 * Inside the age service (agesrv.c, agesrv_client.c): what its files
 * share.
 */
#ifndef TCPFSM_AGESRV_IMPL_H
#define TCPFSM_AGESRV_IMPL_H

#include "agesrv.h"

/* agesrv.c */
int agesrv_unix_connect(const char *path, unsigned int timeout_ms);

#endif
