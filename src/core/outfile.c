// SPDX-License-Identifier: GPL-2.0 OR BSD-2-Clause
/* Safe creation of the files tcpfsm writes. See outfile.h. */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include "outfile.h"

#define OUTFILE_MODE 0600

int outfile_create(const char *path, bool force)
{
	size_t n = strlen(path);
	char *tmp;
	int fd, err;

	if (!n)
		return -ENOENT;
	if (!force) {
		/* O_EXCL fails on any existing name, a dangling symlink too */
		fd = open(path, O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC,
			  OUTFILE_MODE);
		return fd < 0 ? -errno : fd;
	}
	/* a new file of our own beside it, then renamed over the name */
	tmp = malloc(n + sizeof(".XXXXXX"));
	if (!tmp)
		return -ENOMEM;
	memcpy(tmp, path, n);
	memcpy(tmp + n, ".XXXXXX", sizeof(".XXXXXX"));
	fd = mkostemp(tmp, O_CLOEXEC);	/* O_EXCL, mode 0600 */
	if (fd < 0) {
		err = -errno;
		free(tmp);
		return err;
	}
	if (rename(tmp, path)) {
		err = -errno;
		unlink(tmp);
		close(fd);
		free(tmp);
		return err;
	}
	free(tmp);
	return fd;
}
