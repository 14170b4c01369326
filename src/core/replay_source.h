/* SPDX-License-Identifier: GPL-2.0 OR BSD-2-Clause */
/*
 * A recording (record.h) as an event source (evsource.h), for --replay:
 * its records one per poll, with the live run's steps, or paced by their
 * own stamps when it has none.
 */
#ifndef TCPFSM_REPLAY_SOURCE_H
#define TCPFSM_REPLAY_SOURCE_H

#include "evsource.h"

/*
 * Opens evsource_opts.path ("-": stdin). Its info: the recording's clocks,
 * whether it is of this boot, its filters; not live. Its marks of tcpfsm's
 * own go to the sink's mark(); a damaged file makes a poll fail with
 * -EBADMSG (or a read error), after every whole record before the damage.
 */
extern const struct evsource_ops replay_evsource;

#endif
