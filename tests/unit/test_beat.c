/* test_beat.c - loop heartbeats and the stale check the watchdog uses. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include "base/beat.h"

static void test_stale_loop_named(void **state)
{
	struct base_beat *a, *b;

	(void)state;
	a = base_beat_add("loop_a");
	b = base_beat_add("loop_b");
	assert_non_null(a);
	assert_non_null(b);
	base_beat(a, 1000);
	base_beat(b, 1000);
	assert_null(base_beat_stale(1500, 1000));
	base_beat(a, 2400);
	/* b last turned at 1000: 1500 ms ago at 2500 */
	assert_string_equal(base_beat_stale(2500, 1000), "loop_b");
	base_beat(b, 2450);
	assert_null(base_beat_stale(2500, 1000));
	/* a loop that ended is not watched */
	base_beat_del(b);
	assert_null(base_beat_stale(3300, 1000));
	assert_string_equal(base_beat_stale(3500, 1000), "loop_a");
	base_beat_del(a);
	assert_null(base_beat_stale(99999, 1000));
}

static void test_table_full(void **state)
{
	struct base_beat *v[BASE_BEAT_MAX];

	(void)state;
	for (int i = 0; i < BASE_BEAT_MAX; i++) {
		v[i] = base_beat_add("many");
		assert_non_null(v[i]);
	}
	assert_null(base_beat_add("one too many"));
	base_beat(NULL, 5); /* a loop not watched: no-op */
	base_beat_del(NULL);
	base_beat_del(v[3]);
	v[3] = base_beat_add("again");
	assert_non_null(v[3]);
	for (int i = 0; i < BASE_BEAT_MAX; i++)
		base_beat_del(v[i]);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_stale_loop_named),
	    cmocka_unit_test(test_table_full),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
