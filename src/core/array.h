/* SPDX-License-Identifier: GPL-2.0 OR BSD-2-Clause */
/* Growable arrays: room for one more element, capacity doubled. */
#ifndef TCPFSM_ARRAY_H
#define TCPFSM_ARRAY_H

#include <errno.h>
#include <stdlib.h>

/*
 * Make room in arr (n used of cap) for one more element, doubling cap (from
 * first). Evaluates to 0, or -ENOMEM with arr and cap unchanged.
 */
#define ARRAY_GROW(arr, n, cap, first)                                        \
	({                                                                    \
		int _err = 0;                                                 \
		if ((n) >= (cap)) {                                           \
			size_t _cap = (cap) ? (cap) * 2 : (first);            \
			__typeof__(arr) _p = realloc((arr), _cap * sizeof(*(arr))); \
			if (_p) {                                             \
				(arr) = _p;                                   \
				(cap) = _cap;                                 \
			} else {                                              \
				_err = -ENOMEM;                               \
			}                                                     \
		}                                                             \
		_err;                                                         \
	})

#endif
