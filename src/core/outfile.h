/* SPDX-License-Identifier: GPL-2.0 OR BSD-2-Clause */
/*
 * Files tcpfsm writes on request (--record, snapshot --dump-raw) hold every
 * host, port, pid and command on the machine, and tcpfsm usually runs as
 * root, often in a shared directory such as /tmp: a name there may be a
 * symlink planted by another user, or a file they created to receive the
 * data. So a file is created new (O_EXCL: a symlink is never followed, an
 * existing file never written into), mode 0600; with force, an existing
 * name is replaced by a new file (renamed over it), never opened.
 */
#ifndef TCPFSM_OUTFILE_H
#define TCPFSM_OUTFILE_H

#include <stdbool.h>

/*
 * Create path for writing, mode 0600 (less the umask). Without force an
 * existing name (file, symlink, anything) fails with -EEXIST; with force
 * a new file is made beside it and renamed over it, so what was there
 * (a symlink's target included) is never written to. Returns the open
 * descriptor (O_CLOEXEC) or -errno.
 */
int outfile_create(const char *path, bool force);

#endif
