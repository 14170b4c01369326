// SPDX-License-Identifier: GPL-2.0 OR BSD-2-Clause
#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include "prom.h"
#include "serve_cgroup.h"
#include "tcpfsm.h"

int serve_cg_init(struct serve_cg *c, const char *root, const char *prefix, size_t max)
{
	int ret;

	memset(c, 0, sizeof(*c));
	c->max = max;
	c->v = calloc(max ? max : 1, sizeof(*c->v));
	if (!c->v)
		return -ENOMEM;
	ret = u64map_init(&c->idx, 16, max ? max : 1);
	if (ret)
		goto fail;
	if (root)
		ret = cgpath_init(&c->cg, root, prefix, NULL);
	else
		ret = cgpath_init_mounted(&c->cg, "/proc/self/mountinfo");
	if (!ret)
		c->have_cg = true;
	else if (ret == -ENOENT && !root)
		ret = 0; /* cgroup v1 only: ids for labels */
	if (ret)
		goto fail;
	return 0;
fail:
	serve_cg_free(c);
	return ret;
}

void serve_cg_free(struct serve_cg *c)
{
	size_t i;

	if (c->have_cg)
		cgpath_free(&c->cg);
	for (i = 0; i < c->n; i++)
		free(c->v[i]);
	free(c->v);
	u64map_free(&c->idx);
	memset(c, 0, sizeof(*c));
}

static struct serve_cg_entry *entry(struct serve_cg *c, uint32_t key)
{
	uint64_t *i = u64map_get(&c->idx, (uint64_t)key + 1);
	struct serve_cg_entry *e;

	if (i)
		return c->v[*i - 1];
	if (c->n >= c->max)
		return NULL;
	e = calloc(1, sizeof(*e) + SERVE_CG_LABEL_MAX);
	if (!e)
		return NULL;
	if (u64map_put(&c->idx, (uint64_t)key + 1, c->n + 1)) {
		free(e);
		return NULL;
	}
	e->id = key & 0x7fffffffu;
	snprintf(e->label, SERVE_CG_LABEL_MAX, "id:%" PRIu64, e->id);
	c->v[c->n++] = e;
	return e;
}

void serve_cg_note(struct serve_cg *c, uint32_t key, uint64_t id)
{
	struct serve_cg_entry *e;

	if (!id || tcpfsm_serve_cgroup_key(id) != key || !(e = entry(c, key)) ||
	    e->resolved || e->id == id)
		return;
	e->id = id;
	snprintf(e->label, SERVE_CG_LABEL_MAX, "id:%" PRIu64, id);
}

const char *serve_cg_label(struct serve_cg *c, uint32_t key, uint64_t now_ns)
{
	struct serve_cg_entry *e;
	const char *path;

	if (key == TCPFSM_SERVE_GROUP_OTHER)
		return "other";
	if (key == TCPFSM_SERVE_GROUP_EPHEMERAL)
		return "unknown";
	e = entry(c, key);
	if (!e) {
		snprintf(c->buf, sizeof(c->buf), "id:%" PRIu32, key & 0x7fffffffu);
		return c->buf;
	}
	if (e->resolved || !c->have_cg)
		return e->label;
	path = cgpath_lookup(&c->cg, e->id, now_ns);
	if (path) {
		/* too long to be a label: the id, for good */
		if (prom_label_escape(e->label, SERVE_CG_LABEL_MAX, path))
			snprintf(e->label, SERVE_CG_LABEL_MAX, "id:%" PRIu64, e->id);
		e->resolved = true;
	}
	return e->label;
}
