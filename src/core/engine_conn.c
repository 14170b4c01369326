// SPDX-License-Identifier: GPL-2.0 OR BSD-2-Clause
/*
 * A connection as the engine keeps it: its path of states, their times
 * and how well they are known, its names for how it opened and ended.
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include "array.h"
#include "engine.h"
#include "engine_impl.h"
#include "tcpstate.h"

bool conn_incomplete(const struct conn *c)
{
	return (c->flags & CONN_F_INCOMPLETE) ||
	       !(c->flags & (CONN_F_BORN | CONN_F_SEEDED));
}

uint64_t conn_since(const struct conn *c)
{
	return c->npath ? c->path_since[c->npath - 1] : 0;
}

/* The path entry that stands for the folded middle of a long path. */
#define PATH_FOLD 1
_Static_assert(TCPFSM_ST_MAX <= 16, "folded_states holds 16 states");

void eng_path_push(struct conn *c, uint8_t state, uint64_t since)
{
	if (c->npath == CONN_MAX_PATH) {
		/*
		 * Keep the first and the latest states; fold the middle into
		 * one entry that keeps its own start, so that no entry's time
		 * runs on over the folded states (the first's would).
		 */
		if (!c->nfolded) {
			c->folded_states = 1u << c->path_state[PATH_FOLD];
			c->path_state[PATH_FOLD] = TCPFSM_ST_UNKNOWN;
			c->nfolded = 1;
		}
		c->folded_states |= 1u << c->path_state[PATH_FOLD + 1];
		if (c->nfolded < UINT8_MAX)
			c->nfolded++;
		memmove(&c->path_state[PATH_FOLD + 1], &c->path_state[PATH_FOLD + 2],
			CONN_MAX_PATH - PATH_FOLD - 2);
		memmove(&c->path_since[PATH_FOLD + 1], &c->path_since[PATH_FOLD + 2],
			(CONN_MAX_PATH - PATH_FOLD - 2) * sizeof(c->path_since[0]));
		c->npath--;
	}
	c->path_state[c->npath] = state;
	c->path_since[c->npath] = since;
	c->npath++;
	c->state = state;
	c->stuck_at_ns = 0;
}

unsigned int conn_path_folded(const struct conn *c, int i)
{
	return i == PATH_FOLD ? c->nfolded : 0;
}

uint32_t conn_path_states(const struct conn *c)
{
	uint32_t mask = c->folded_states;
	int i;

	for (i = 0; i < c->npath; i++)
		if (!conn_path_folded(c, i))
			mask |= 1u << c->path_state[i];
	return mask;
}

/* When path entry i ended (the next began, or the connection did); 0: unknown. */
static uint64_t path_end(const struct conn *c, int i)
{
	if (i + 1 < c->npath)
		return c->path_since[i + 1];
	return conn_end_known(c) ? c->end_ns : 0;
}

uint64_t conn_path_ns(const struct conn *c, int i, uint8_t *known)
{
	uint64_t from = c->path_since[i], to = path_end(c, i);

	*known = DUR_UNKNOWN;
	if (!from || !to || to < from)
		return 0;
	*known = conn_until_known(c, i);
	return to - from;
}

/*
 * c's FIN_WAIT2 became an orphan at `at` (0: not known yet): the application
 * released the socket, the kernel alone holds it. The first time learned
 * stands: later records (the hand-over after the TIME_WAIT timer's start, a
 * re-armed timer) only confirm it. The one place orphan_ns is set.
 */
void eng_became_orphan(struct conn *c, uint64_t at)
{
	if (!c->orphan_ns)
		c->orphan_ns = at;
}

/*
 * Of a FIN_WAIT2 that ended at `to`, the time it was an orphan. When it ended
 * is unknown (to 0: it ended unseen, or before a state whose start is not
 * known), so is that time: none is given.
 */
bool eng_orphan_until(const struct conn *c, uint8_t state, uint64_t to,
			 uint64_t *ns)
{
	*ns = 0;
	if (state != TCPFSM_ST_FIN_WAIT2 || !c->orphan_ns || !to)
		return false;
	if (to >= c->orphan_ns)
		*ns = to - c->orphan_ns;
	return true;
}

bool conn_path_orphan(const struct conn *c, int i, uint64_t *ns)
{
	return eng_orphan_until(c, c->path_state[i], path_end(c, i), ns);
}

const char *conn_open_name(unsigned int open)
{
	static const char *const n[] = { "unknown", "active", "passive", "listen" };

	return open < sizeof(n) / sizeof(n[0]) ? n[open] : "unknown";
}

const char *conn_close_name(unsigned int close)
{
	static const char *const n[] = {
		"none", "active", "passive", "simultaneous", "reset",
		"failed", "half-open", "listener", "unknown",
	};

	return close < sizeof(n) / sizeof(n[0]) ? n[close] : "unknown";
}

const char *conn_end_name(unsigned int end)
{
	static const char *const n[] = {
		"", "expired", "reused", "killed", "synack-timeout", "dropped",
		"gone", "at-exit",
	};

	return end < sizeof(n) / sizeof(n[0]) ? n[end] : "";
}
