// SPDX-License-Identifier: GPL-2.0 OR BSD-2-Clause
/*
 * libFuzzer target for the sock_diag reply parser: any bytes, parsed as
 * a sequence of dumps the way a recorded file is replayed. The parser must
 * return 0, -EBADMSG or a kernel errno, and never read outside the input
 * (ASan) or overflow (UBSan). Built and run by tools/fuzz.sh.
 */
#include <errno.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include "diag.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static int touch(void *ctx, const struct diag_sock *s)
{
	char buf[ADDR_STRLEN];
	uint64_t *sum = ctx;

	/* use every field, and format both addresses */
	*sum += s->cookie + s->sport + s->dport + s->state + s->inode +
		s->expires_ms + s->cgroup_id;
	*sum += (uint64_t)format_addr(buf, s->family, s->saddr);
	*sum += (uint64_t)format_addr(buf, s->family, s->daddr);
	if (s->family != 2 && s->family != 10)
		abort();
	return 0;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	/* a private copy: exactly size bytes, so ASan sees any overread */
	uint8_t *buf = malloc(size ? size : 1);
	size_t off = 0;
	uint64_t sum = 0;

	memcpy(buf, data, size);
	while (off < size) {
		struct diag_parse_state st = { 0 };
		int ret = diag_parse(buf + off, size - off, touch, &sum, &st);

		if (ret > 0 || ret < -4095)
			abort();
		if (st.consumed > size - off)
			abort();
		if (ret || !st.done || st.consumed == 0)
			break;
		off += st.consumed;
	}
	free(buf);
	return 0;
}
