// SPDX-License-Identifier: GPL-2.0 OR BSD-2-Clause
/* cgroup v2 id -> path, by walking the cgroup2 mount. See cgpath.h. */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <sys/stat.h>
#include "array.h"
#include "cgpath.h"

/* The value of an id known to be unresolvable. */
#define CGPATH_NONE UINT64_MAX

void cgpath_limits_default(struct cgpath_limits *lim)
{
	lim->rescan_ns = CGPATH_RESCAN_NS;
	lim->max_dirs = CGPATH_MAX_DIRS;
	lim->max_depth = CGPATH_MAX_DEPTH;
	lim->max_entries = CGPATH_MAX_ENTRIES;
	lim->path_max = CGPATH_PATH_MAX;
}

int cgpath_init(struct cgpath *cg, const char *root, const char *prefix,
		const struct cgpath_limits *lim)
{
	memset(cg, 0, sizeof(*cg));
	if (lim)
		cg->lim = *lim;
	else
		cgpath_limits_default(&cg->lim);
	if (!prefix || !strcmp(prefix, "/"))
		prefix = "";
	/* the root's own path, and room for at least one more level */
	if (strlen(prefix) + 2 >= cg->lim.path_max)
		return -ENAMETOOLONG;
	cg->root = strdup(root);
	cg->prefix = strdup(prefix);
	if (!cg->root || !cg->prefix ||
	    u64map_init(&cg->ids, 64, cg->lim.max_entries)) {
		cgpath_free(cg);
		return -ENOMEM;
	}
	return 0;
}

void cgpath_free(struct cgpath *cg)
{
	size_t i;

	for (i = 0; i < cg->npaths; i++)
		free(cg->paths[i]);
	free(cg->paths);
	free(cg->root);
	free(cg->prefix);
	u64map_free(&cg->ids);
	memset(cg, 0, sizeof(*cg));
}

/* ---- the cgroup2 mount ---- */

/* Copy a mountinfo field, undoing its \ooo escapes; false if too long. */
static bool unescape(char *dst, size_t len, const char *src, size_t n)
{
	size_t i, o = 0;

	for (i = 0; i < n; i++) {
		char c = src[i];

		if (c == '\\' && i + 3 < n &&
		    src[i + 1] >= '0' && src[i + 1] <= '3' &&
		    src[i + 2] >= '0' && src[i + 2] <= '7' &&
		    src[i + 3] >= '0' && src[i + 3] <= '7') {
			c = (char)((src[i + 1] - '0') * 64 + (src[i + 2] - '0') * 8 +
				   (src[i + 3] - '0'));
			i += 3;
		}
		if (o + 1 >= len)
			return false;
		dst[o++] = c;
	}
	dst[o] = '\0';
	return true;
}

/*
 * "36 25 0:38 / /sys/fs/cgroup/unified rw,relatime shared:9 - cgroup2 cgroup2 rw":
 * the root (field 4) and mount point (field 5), if the type after "-" is
 * cgroup2. Returns 1 for a cgroup2 line, 0 for another, -ENAMETOOLONG.
 */
static int parse_mountinfo_line(const char *line, char *dir, size_t dirlen,
				char *prefix, size_t prefixlen)
{
	const char *f[5], *sep, *type, *p = line;
	size_t flen[5];
	int i;

	for (i = 0; i < 5; i++) {
		while (*p == ' ')
			p++;
		if (!*p || *p == '\n')
			return 0;
		f[i] = p;
		while (*p && *p != ' ' && *p != '\n')
			p++;
		flen[i] = p - f[i];
	}
	sep = strstr(p, " - ");
	if (!sep)
		return 0;
	type = sep + 3;
	if (strncmp(type, "cgroup2 ", 8))
		return 0;
	if (!unescape(dir, dirlen, f[4], flen[4]) ||
	    !unescape(prefix, prefixlen, f[3], flen[3]))
		return -ENAMETOOLONG;
	if (!strcmp(prefix, "/"))
		prefix[0] = '\0';
	return 1;
}

int cgpath_find_mount(const char *mountinfo, char *dir, size_t dirlen,
		      char *prefix, size_t prefixlen)
{
	FILE *f = fopen(mountinfo, "re");
	char *line = NULL;
	size_t cap = 0;
	int ret = -ENOENT;

	if (!f)
		return -errno;
	while (getline(&line, &cap, f) > 0) {
		int r = parse_mountinfo_line(line, dir, dirlen, prefix, prefixlen);

		if (r) {
			ret = r < 0 ? r : 0;
			break;
		}
	}
	free(line);
	fclose(f);
	return ret;
}

int cgpath_init_mounted(struct cgpath *cg, const char *mountinfo)
{
	char dir[CGPATH_PATH_MAX], prefix[CGPATH_PATH_MAX];
	int ret;

	memset(cg, 0, sizeof(*cg));
	ret = cgpath_find_mount(mountinfo, dir, sizeof(dir), prefix, sizeof(prefix));
	if (ret)
		return ret;
	return cgpath_init(cg, dir, prefix, NULL);
}

/* ---- the walk ---- */

/* Remember id -> path (a new path replaces an old one: a renamed cgroup). */
static int remember(struct cgpath *cg, uint64_t id, const char *path)
{
	uint64_t *v = u64map_get(&cg->ids, id);
	char *copy;
	int ret;

	if (v && *v != CGPATH_NONE && !strcmp(cg->paths[*v - 1], path))
		return 0;
	copy = strdup(path);
	if (!copy)
		return -ENOMEM;
	if (v && *v != CGPATH_NONE) {
		free(cg->paths[*v - 1]);
		cg->paths[*v - 1] = copy;
		return 0;
	}
	if (ARRAY_GROW(cg->paths, cg->npaths, cg->cap, 64)) {
		free(copy);
		return -ENOMEM;
	}
	ret = u64map_put(&cg->ids, id, cg->npaths + 1);
	if (ret) {
		free(copy);
		return ret;
	}
	cg->paths[cg->npaths++] = copy;
	return 0;
}

/* Forget everything: the cache is full. */
static void clear(struct cgpath *cg)
{
	size_t i;

	for (i = 0; i < cg->npaths; i++)
		free(cg->paths[i]);
	cg->npaths = 0;
	u64map_clear(&cg->ids);
}

struct frame {
	DIR *d;
	size_t len;	/* length of the path of this directory */
};

int cgpath_scan(struct cgpath *cg)
{
	const struct cgpath_limits *lim = &cg->lim;
	struct frame *stack = NULL;
	size_t depth = 0, plen = strlen(cg->prefix);
	char *path = NULL;
	struct stat st;
	int fd, err, ret = 0;

	cg->st.scans++;
	cg->st.dirs = cg->st.too_long = cg->st.too_deep = 0;
	cg->st.incomplete = true;
	/* keep memory bounded: a full cache starts over (ids are never reused) */
	if (cg->ids.count + lim->max_dirs + 1 > lim->max_entries)
		clear(cg);
	path = malloc(lim->path_max);
	stack = calloc(lim->max_depth + 1, sizeof(*stack));
	if (!path || !stack) {
		ret = -ENOMEM;
		goto out;
	}
	fd = open(cg->root, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	if (fd < 0 || fstat(fd, &st)) {
		ret = -errno;
		if (fd >= 0)
			close(fd);
		goto out;
	}
	memcpy(path, cg->prefix, plen + 1);
	ret = remember(cg, st.st_ino, plen ? path : "/");
	stack[0].d = ret ? NULL : fdopendir(fd);
	if (!stack[0].d) {
		ret = ret ? ret : -errno;
		close(fd);
		goto out;
	}
	stack[0].len = plen;
	cg->st.dirs = 1;
	depth = 1;
	while (depth) {
		struct frame *top = &stack[depth - 1];
		struct dirent *de;
		size_t nlen;
		uint64_t ino;

		errno = 0;
		de = readdir(top->d);
		if (!de) {
			if (errno && !ret)
				ret = -errno;
			closedir(top->d);
			depth--;
			continue;
		}
		if (de->d_type != DT_DIR && de->d_type != DT_UNKNOWN)
			continue;	/* cgroup.procs, memory.max, ... */
		if (!strcmp(de->d_name, ".") || !strcmp(de->d_name, ".."))
			continue;
		nlen = strlen(de->d_name);
		if (top->len + 1 + nlen >= lim->path_max) {
			cg->st.too_long++;	/* and so is everything below */
			continue;
		}
		if (depth > lim->max_depth) {
			cg->st.too_deep++;	/* the level below max_depth */
			continue;
		}
		if (cg->st.dirs >= lim->max_dirs) {
			ret = -E2BIG;
			break;
		}
		fd = openat(dirfd(top->d), de->d_name,
			    O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
		if (fd < 0) {
			/* removed meanwhile, or not a directory: nothing lost */
			if (errno != ENOENT && errno != ENOTDIR && errno != ELOOP &&
			    !ret)
				ret = -errno;
			continue;
		}
		/* readdir already has the inode (the cgroup id); fstat if not */
		ino = de->d_ino;
		if (!ino) {
			if (fstat(fd, &st)) {
				if (!ret)
					ret = -errno;
				close(fd);
				continue;
			}
			ino = st.st_ino;
		}
		path[top->len] = '/';
		memcpy(path + top->len + 1, de->d_name, nlen + 1);
		cg->st.dirs++;
		err = remember(cg, ino, path);
		if (err) {
			ret = err;	/* out of memory, or the cache is full */
			close(fd);
			break;
		}
		stack[depth].d = fdopendir(fd);
		if (!stack[depth].d) {
			if (!ret)
				ret = -errno;
			close(fd);
			continue;
		}
		stack[depth].len = top->len + 1 + nlen;
		depth++;
	}
	while (depth)
		closedir(stack[--depth].d);
	/* a tree cut at max_depth or path_max was seen as far as it can be */
	cg->st.incomplete = ret != 0;
out:
	free(stack);
	free(path);
	return ret;
}

const char *cgpath_lookup(struct cgpath *cg, uint64_t id, uint64_t now_ns)
{
	uint64_t *v;
	int ret;

	if (!id)
		return NULL;
	v = u64map_get(&cg->ids, id);
	if (v)
		return *v == CGPATH_NONE ? NULL : cg->paths[*v - 1];
	if (cg->scanned && now_ns - cg->last_scan_ns < cg->lim.rescan_ns)
		return NULL;	/* too soon: maybe on a later call */
	cg->scanned = true;
	cg->last_scan_ns = now_ns;
	ret = cgpath_scan(cg);
	v = u64map_get(&cg->ids, id);
	if (v)
		return cg->paths[*v - 1];
	/* the whole tree, walked after the id existed, lacks it: for good */
	if (!ret)
		u64map_put(&cg->ids, id, CGPATH_NONE);
	return NULL;
}
