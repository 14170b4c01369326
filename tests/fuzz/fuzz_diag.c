// SPDX-License-Identifier: GPL-2.0 OR BSD-2-Clause
/*
 * libFuzzer target for the sock_diag reply parser: any bytes, replayed as a
 * recorded file is (diag_parse_dumps, what snapshot --from-raw runs). It
 * must return 0, -ENODATA, -EBADMSG, -ENOMEM or a kernel errno, deliver
 * sockets only from a buffer it accepts, and never read outside the input
 * (ASan) or overflow (UBSan). The same bytes are then parsed once as a
 * reply that asked for socket storage (tcpfsm serve's dumps, map id 7),
 * every stored byte read. Built and run by tools/fuzz.sh.
 */
#include <errno.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include "diag.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

struct seen {
	uint64_t sum;
	uint64_t n;
};

static int touch(void *ctx, const struct diag_sock *s)
{
	char buf[ADDR_STRLEN];
	struct seen *seen = ctx;

	/* use every field, and format both addresses */
	seen->sum += s->cookie + s->sport + s->dport + s->state + s->inode +
		     s->expires_ms + s->cgroup_id;
	seen->sum += (uint64_t)format_addr(buf, s->family, s->saddr);
	seen->sum += (uint64_t)format_addr(buf, s->family, s->daddr);
	seen->n++;
	if (s->family != 2 && s->family != 10)
		abort();
	return 0;
}

/* A socket's stored value must lie inside the input; read all of it. */
struct stored {
	const uint8_t *buf;
	size_t size;
	uint64_t sum;
};

static int touch_storage(void *ctx, const struct diag_sock *s)
{
	struct stored *st = ctx;
	const uint8_t *v = s->storage;
	uint32_t i;

	if (!v) {
		if (s->storage_len)
			abort();
		return 0;
	}
	if (v < st->buf || v + s->storage_len > st->buf + st->size)
		abort();
	for (i = 0; i < s->storage_len; i++)
		st->sum += v[i];
	return 0;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	/* a private copy: exactly size bytes, so ASan sees any overread */
	uint8_t *buf = malloc(size ? size : 1);
	struct diag_dump_info info;
	struct seen seen = { 0 };
	int ret;

	memcpy(buf, data, size);
	ret = diag_parse_dumps(buf, size, touch, &seen, &info);
	if (ret > 0 || ret < -4095)
		abort();
	/* every socket counted, and none from a buffer it refused */
	if (seen.n != info.nsocks || (ret && seen.n))
		abort();
	if (info.reply_bytes != size)
		abort();
	{
		struct diag_parse_state st = { .map_id = 7 };
		struct stored stored = { buf, size, 0 };

		ret = diag_parse(buf, size, touch_storage, &stored, &st);
		if (ret > 0 || ret < -4095 || st.consumed > size)
			abort();
	}
	free(buf);
	return 0;
}
