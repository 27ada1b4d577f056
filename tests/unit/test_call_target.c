/* test_call_target.c - the classification of what a caller dialled. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <string.h>

#include <cmocka.h>

#include "call/target.h"

static bool num(const char *s)
{
	return call_target_is_number(s, strlen(s));
}

static void numbers(void **state)
{
	(void)state;
	assert_true(num("123"));
	assert_true(num("+14155550100"));
	assert_true(num("12345678901234567890"));
	assert_true(num("+12345678901234567890"));
	assert_false(num("12"));
	assert_false(num("+12"));
	assert_false(num("123456789012345678901"));
	assert_false(num("12a4"));
	assert_false(num("+"));
	assert_false(num(""));
	assert_false(num("++123"));
	assert_false(num("1 23"));
}

static enum call_target cls(bool ours, bool app, bool ep, const char *u)
{
	return call_target_classify(ours, app, ep, u, strlen(u));
}

static void order(void **state)
{
	(void)state;
	/* Not ours: another domain, whatever the user part. */
	assert_int_equal(cls(false, true, true, "1001"),
			 CALL_TARGET_OTHER_DOMAIN);
	/* Applications first, then endpoints, then numbers. */
	assert_int_equal(cls(true, true, true, "1001"), CALL_TARGET_APP);
	assert_int_equal(cls(true, false, true, "1001"), CALL_TARGET_ENDPOINT);
	assert_int_equal(cls(true, false, false, "1001"), CALL_TARGET_PHONE);
	assert_int_equal(cls(true, false, false, "alice"), CALL_TARGET_NONE);
	assert_int_equal(cls(true, false, true, "alice"), CALL_TARGET_ENDPOINT);
}

static void flags(void **state)
{
	(void)state;
	assert_int_equal(call_target_flag(CALL_TARGET_APP), MODEL_ALLOW_APPS);
	assert_int_equal(call_target_flag(CALL_TARGET_ENDPOINT),
			 MODEL_ALLOW_SAME_DOMAIN);
	assert_int_equal(call_target_flag(CALL_TARGET_PHONE),
			 MODEL_ALLOW_PHONES);
	assert_int_equal(call_target_flag(CALL_TARGET_OTHER_DOMAIN),
			 MODEL_ALLOW_OTHER_DOMAINS);
	assert_int_equal(call_target_flag(CALL_TARGET_NONE), MODEL_ALLOW_COUNT);
	assert_string_equal(call_target_flag_name(MODEL_ALLOW_PHONES),
			    "allow_phones");
	assert_string_equal(call_target_flag_name(MODEL_ALLOW_SAME_DOMAIN),
			    "allow_same_domain");
	assert_string_equal(call_target_flag_name(MODEL_ALLOW_VOICE),
			    "allow_voice");
	assert_string_equal(call_target_flag_name(MODEL_ALLOW_COUNT), "");
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(numbers),
	    cmocka_unit_test(order),
	    cmocka_unit_test(flags),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
