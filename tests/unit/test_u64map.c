// SPDX-License-Identifier: GPL-2.0 OR BSD-2-Clause
/* The u64map walk: every entry once, none that was deleted. */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <string.h>
#include <cmocka.h>
#include "u64map.h"

static void test_foreach_sees_each_entry_once(void **state)
{
	static uint8_t seen[2001];
	struct u64map m;
	uint64_t k;
	int n = 0;

	assert_int_equal(u64map_init(&m, 4, 4096), 0);
	u64map_foreach(&m, s)
		fail(); /* empty */
	for (k = 1; k <= 2000; k++)
		assert_int_equal(u64map_put(&m, k, k * 3), 0);
	for (k = 1; k <= 2000; k += 3)
		assert_true(u64map_del(&m, k));
	memset(seen, 0, sizeof(seen));
	u64map_foreach(&m, s) {
		assert_true(s->key >= 1 && s->key <= 2000);
		assert_int_equal(s->val, s->key * 3);
		seen[s->key]++;
		n++;
	}
	assert_int_equal(n, (int)m.count);
	for (k = 1; k <= 2000; k++)
		assert_int_equal(seen[k], (k - 1) % 3 ? 1 : 0);
	u64map_free(&m);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_foreach_sees_each_entry_once),
	};

	return cmocka_run_group_tests_name("u64map", tests, NULL, NULL);
}
