/* SPDX-License-Identifier: GPL-2.0 OR BSD-2-Clause */
/*
 * Inside the lifecycle engine (engine.c and its parts engine_*.c), not
 * for its users: the engine's state and what its files share.
 */
#ifndef TCPFSM_ENGINE_IMPL_H
#define TCPFSM_ENGINE_IMPL_H

#include <stdbool.h>
#include <stdint.h>
#include "engine.h"

#define REQ_KEY_BIT (1ull << 63)	/* request socks: keyed by 4-tuple */
#define TW_KEY_BIT (1ull << 62)		/* timewait socks with no cookie */
/*
 * Children born without their identity (anon_birth), kept by local port
 * until their next change: it follows within microseconds, in the same
 * softirq, so a few slots and a second's patience are plenty.
 */
#define BIRTH_SLOTS 64
#define BIRTH_MAX_NS 1000000000ull

struct engine {
	struct engine_config cfg;
	struct engine_cb cb;
	struct u64map map;	/* key -> struct conn * */
	/*
	 * Connections with CONN_F_PENDING set, in the order their removals
	 * came (so by due time): entries [phead, npending) are live. An entry
	 * whose connection moved its pending time on is queued again.
	 */
	struct pending {
		uint64_t key;
		uint64_t due;	/* pending_ns + grace, when queued */
	} *pending;
	size_t phead, npending, cap_pending;
	struct conn **listeners; /* conns in LISTEN (CONN_F_LISTED) */
	size_t nlisteners, cap_listeners;
	/* children born before they had a cookie: see anon_birth() */
	struct tcpfsm_event births[BIRTH_SLOTS];
	uint64_t now;
	uint64_t seed_end;	/* the seeding dump ended */
	uint64_t last_scan;
	uint32_t loss_epoch;
	uint64_t loss_ts;	/* records from before this may be missing */
	uint64_t ev_ts;		/* the record being handled */
	bool any_stuck;
	struct engine_stats st;
};

#define EMIT_INFERRED 0x1	/* ts inferred from the timer's deadline */
#define EMIT_END_UNKNOWN 0x2	/* oldstate ended at some unknown time before ts */

/* engine.c */
void eng_move(struct engine *e, struct conn *c, const struct tcpfsm_event *ev,
	      uint64_t ts, uint8_t newstate);
struct conn *eng_slot_conn(const struct u64map_slot *s);
struct conn *eng_get(const struct engine *e, uint64_t key);
void eng_touch(const struct engine *e, struct conn *c);
struct conn *eng_conn_new(struct engine *e, uint64_t key,
			  const struct tuple *t);
void eng_emit_full(struct engine *e, const struct conn *c,
		   const struct tcpfsm_event *ev, uint64_t ts, uint8_t oldstate,
		   uint8_t newstate, uint64_t since, uint8_t end,
		   unsigned int how);
uint8_t eng_classify_closing(const struct conn *c);
void eng_finish_conn(struct engine *e, struct conn *c,
		     const struct tcpfsm_event *ev, uint64_t ts, uint8_t end);
void eng_set_minisock(struct conn *c, uint8_t sub, uint64_t orphan_at);
void eng_same_state(struct engine *e, struct conn *c,
		    const struct tcpfsm_event *ev);

/* engine_conn.c */
void eng_path_push(struct conn *c, uint8_t state, uint64_t since);
void eng_became_orphan(struct conn *c, uint64_t at);
bool eng_orphan_until(const struct conn *c, uint8_t state, uint64_t to,
		      uint64_t *ns);

/* engine_mini.c */
void eng_silent_time_wait(struct engine *e, struct conn *c,
			  const struct tcpfsm_event *ev, uint64_t now,
			  uint8_t sub);
void eng_handle_tw(struct engine *e, const struct tcpfsm_event *ev);
void eng_handle_req(struct engine *e, const struct tcpfsm_event *ev);

/* engine_owner.c */
void eng_learn_owner(struct conn *c, const struct tcpfsm_event *ev);
void eng_add_listener(struct engine *e, struct conn *c);
void eng_passive_birth(struct engine *e, struct conn *c);
void eng_set_request(struct engine *e, struct conn *c, uint64_t lcookie);
int eng_queue_pending(struct engine *e, const struct conn *c);
void eng_add_pending(struct engine *e, struct conn *c, uint8_t kind,
		     uint64_t ts);
struct conn *eng_rekey(struct engine *e, struct conn *req, uint64_t cookie);

/* engine_time.c */
bool eng_reused(struct engine *e, const struct conn *c);

#endif
