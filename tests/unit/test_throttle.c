/* test_throttle.c - failed-authentication throttling per client address. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

#include <cmocka.h>

#include "base/throttle.h"

static void test_penalty_after_max_failures(void **state)
{
	struct base_throttle *t;

	(void)state;
	assert_int_equal(base_throttle_new(&t, 3, 60, 30), 0);
	base_throttle_fail(t, "192.0.2.1", 100);
	base_throttle_fail(t, "192.0.2.1", 101);
	assert_int_equal(base_throttle_check(t, "192.0.2.1", 101), 0);
	base_throttle_fail(t, "192.0.2.1", 102);
	assert_int_equal(base_throttle_check(t, "192.0.2.1", 102), 30);
	assert_int_equal(base_throttle_check(t, "192.0.2.1", 120), 12);
	assert_int_equal(base_throttle_check(t, "192.0.2.2", 120), 0);
	assert_int_equal(base_throttle_check(t, "192.0.2.1", 132), 0);
	base_throttle_free(t);
}

static void test_window_resets(void **state)
{
	struct base_throttle *t;

	(void)state;
	assert_int_equal(base_throttle_new(&t, 3, 10, 30), 0);
	base_throttle_fail(t, "192.0.2.1", 100);
	base_throttle_fail(t, "192.0.2.1", 101);
	base_throttle_fail(t, "192.0.2.1", 120); /* a new window */
	assert_int_equal(base_throttle_check(t, "192.0.2.1", 120), 0);
	base_throttle_free(t);
}

/* A flood of new addresses cannot evict one that is in its penalty. */
static void test_flood_does_not_free_a_penalty(void **state)
{
	struct base_throttle *t;
	char addr[64];

	(void)state;
	assert_int_equal(base_throttle_new(&t, 2, 60, 60), 0);
	base_throttle_fail(t, "2001:db8::1", 100);
	base_throttle_fail(t, "2001:db8::1", 100);
	assert_true(base_throttle_check(t, "2001:db8::1", 100) > 0);
	for (int i = 0; i < 100000; i++) {
		snprintf(addr, sizeof(addr), "2001:db8::%x:%x", i >> 16,
			 i & 0xffff);
		base_throttle_fail(t, addr, 101);
	}
	assert_true(base_throttle_check(t, "2001:db8::1", 101) > 0);
	base_throttle_free(t);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_penalty_after_max_failures),
	    cmocka_unit_test(test_window_resets),
	    cmocka_unit_test(test_flood_does_not_free_a_penalty),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
