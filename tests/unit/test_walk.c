// SPDX-License-Identifier: GPL-2.0 OR BSD-2-Clause
/*
 * engine_foreach_some: the engine's table walked a part at a time (the age
 * server builds its answers so, between ring-buffer reads).
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <cmocka.h>
#include "engine.h"

static void count(void *ctx, const struct conn *c)
{
	uint8_t *seen = ctx;

	seen[c->cookie]++;
}

static void test_parts_cover_the_table_once(void **state)
{
	enum { N = 1000 };
	static uint8_t seen[N + 1];
	struct engine_config cfg;
	struct engine_cb cb = { 0 };
	struct owner none = { 0 };
	struct engine *e;
	size_t at = 0, parts = 0;
	uint64_t i;

	engine_config_default(&cfg);
	e = engine_new(&cfg, &cb);
	assert_non_null(e);
	for (i = 1; i <= N; i++) {
		struct tuple t = { .family = 2, .sport = (uint16_t)(1000 + i), .dport = 80 };

		assert_int_equal(engine_seed(e, i, TCPFSM_ST_ESTABLISHED, &t, &none,
					     1000, 0, 0), 0);
	}
	engine_seed_done(e, 2000);
	do {
		at = engine_foreach_some(e, at, 64, count, seen);
		parts++;
	} while (at != ENGINE_WALK_DONE);
	assert_int_equal(parts, (N + 63) / 64);
	for (i = 1; i <= N; i++)
		assert_int_equal(seen[i], 1);
	/* an empty part: none left */
	assert_int_equal(engine_foreach_some(e, 0, 0, count, seen) != ENGINE_WALK_DONE, 1);
	engine_free(e);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_parts_cover_the_table_once),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
