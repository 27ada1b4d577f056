/*
 * test_model_cdr.c - unit tests for src/model/cdr.c: the hangup-cause table
 * of calls-contract.md, the checks of CDRs and live calls, and the call
 * times ("YYYY-MM-DD HH:MM:SS", UTC).
 */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>

#include <cmocka.h>

#include "model/cdr.h"

/* The contract's causes with the codes it fixes, and the others'. */
static void test_causes(void **state)
{
	static const struct {
		enum model_cause c;
		const char *name;
		int code;
	} want[] = {
	    {MODEL_CAUSE_NORMAL_CLEARING, "NORMAL_CLEARING", 4000},
	    {MODEL_CAUSE_ORIGINATOR_CANCEL, "ORIGINATOR_CANCEL", 1000},
	    {MODEL_CAUSE_USER_BUSY, "USER_BUSY", 3010},
	    {MODEL_CAUSE_NO_ANSWER, "NO_ANSWER", 3000},
	    {MODEL_CAUSE_CALL_REJECTED, "CALL_REJECTED", 3020},
	    {MODEL_CAUSE_USER_NOT_REGISTERED, "USER_NOT_REGISTERED", 2020},
	    {MODEL_CAUSE_UNALLOCATED_NUMBER, "UNALLOCATED_NUMBER", 2000},
	    {MODEL_CAUSE_NORMAL_TEMPORARY_FAILURE, "NORMAL_TEMPORARY_FAILURE",
	     2010},
	    {MODEL_CAUSE_ALLOTTED_TIMEOUT, "ALLOTTED_TIMEOUT", 4040},
	    {MODEL_CAUSE_END_OF_XML, "END_OF_XML", 4010},
	    {MODEL_CAUSE_ANSWER_URL_FAILURE, "ANSWER_URL_FAILURE", 7000},
	    {MODEL_CAUSE_FORBIDDEN, "FORBIDDEN", 2040},
	};

	(void)state;
	assert_int_equal(sizeof(want) / sizeof(want[0]), MODEL_CAUSE_COUNT);
	for (size_t i = 0; i < sizeof(want) / sizeof(want[0]); i++) {
		assert_string_equal(model_cause_name(want[i].c), want[i].name);
		assert_int_equal(model_cause_code(want[i].c), want[i].code);
		assert_non_null(model_cause_label(want[i].c));
		/* Codes are unique: one code, one cause. */
		for (size_t j = 0; j < i; j++)
			assert_int_not_equal(model_cause_code(want[j].c),
					     want[i].code);
	}
	assert_string_equal(model_cause_label(MODEL_CAUSE_NORMAL_CLEARING),
			    "Normal Hangup");
	assert_string_equal(model_cause_label(MODEL_CAUSE_END_OF_XML),
			    "End Of XML Instructions");
	assert_null(model_cause_name(MODEL_CAUSE_COUNT));
	assert_null(model_cause_name((enum model_cause) - 1));
	assert_int_equal(model_cause_code(MODEL_CAUSE_COUNT), 0);
	assert_null(model_cause_label(MODEL_CAUSE_COUNT));
}

static void test_sources(void **state)
{
	struct model_cdr c;

	(void)state;
	assert_string_equal(model_source_name(MODEL_SOURCE_CALLER), "Caller");
	assert_string_equal(model_source_name(MODEL_SOURCE_CALLEE), "Callee");
	assert_string_equal(model_source_name(MODEL_SOURCE_API), "API Request");
	assert_string_equal(model_source_name(MODEL_SOURCE_XML), "Answer XML");
	assert_string_equal(model_source_name(MODEL_SOURCE_ERROR), "Error");
	assert_null(model_source_name(MODEL_SOURCE_COUNT));

	memset(&c, 0, sizeof(c));
	model_cdr_set_cause(&c, MODEL_CAUSE_NORMAL_CLEARING, MODEL_SOURCE_API);
	assert_string_equal(c.hangup_cause_name, "NORMAL_CLEARING");
	assert_int_equal(c.hangup_cause_code, 4000);
	assert_string_equal(c.hangup_source, "API Request");
	model_cdr_set_cause(&c, MODEL_CAUSE_COUNT, MODEL_SOURCE_COUNT);
	assert_string_equal(c.hangup_cause_name, "");
	assert_int_equal(c.hangup_cause_code, 0);
	assert_string_equal(c.hangup_source, "");
}

static void test_uuid(void **state)
{
	(void)state;
	assert_true(model_uuid_check("0b6c1c5e-8f6e-4a53-9a8e-2f1d9c1f6a10"));
	assert_true(model_uuid_check("0B6C1C5E-8F6E-4A53-9A8E-2F1D9C1F6A10"));
	assert_false(model_uuid_check(""));
	assert_false(model_uuid_check("0b6c1c5e-8f6e-4a53-9a8e-2f1d9c1f6a1"));
	assert_false(model_uuid_check("0b6c1c5e-8f6e-4a53-9a8e-2f1d9c1f6a100"));
	assert_false(model_uuid_check("0b6c1c5e8f6e-4a53-9a8e-2f1d9c1f6a10-"));
	assert_false(model_uuid_check("0b6c1c5g-8f6e-4a53-9a8e-2f1d9c1f6a10"));
	assert_false(model_uuid_check("{b6c1c5e-8f6e-4a53-9a8e-2f1d9c1f6a1}"));
}

static void good_cdr(struct model_cdr *c)
{
	memset(c, 0, sizeof(*c));
	c->account_id = 1;
	snprintf(c->call_uuid, sizeof(c->call_uuid),
		 "0b6c1c5e-8f6e-4a53-9a8e-2f1d9c1f6a10");
	snprintf(c->call_direction, sizeof(c->call_direction), "inbound");
	c->end_ms = 1000;
}

static void test_cdr_check(void **state)
{
	struct model_cdr c;

	(void)state;
	good_cdr(&c);
	assert_int_equal(model_cdr_check(&c), 0);
	snprintf(c.parent_call_uuid, sizeof(c.parent_call_uuid),
		 "1b6c1c5e-8f6e-4a53-9a8e-2f1d9c1f6a10");
	snprintf(c.call_direction, sizeof(c.call_direction), "outbound");
	assert_int_equal(model_cdr_check(&c), 0);

	good_cdr(&c);
	c.account_id = 0;
	assert_int_equal(model_cdr_check(&c), EINVAL);
	good_cdr(&c);
	c.call_uuid[3] = 'x';
	assert_int_equal(model_cdr_check(&c), EINVAL);
	good_cdr(&c);
	snprintf(c.parent_call_uuid, sizeof(c.parent_call_uuid), "abc");
	assert_int_equal(model_cdr_check(&c), EINVAL);
	good_cdr(&c);
	snprintf(c.call_direction, sizeof(c.call_direction), "in");
	assert_int_equal(model_cdr_check(&c), EINVAL);
	good_cdr(&c);
	c.answer_ms = -1;
	assert_int_equal(model_cdr_check(&c), EINVAL);
	good_cdr(&c);
	c.call_duration = -1;
	assert_int_equal(model_cdr_check(&c), EINVAL);
	good_cdr(&c);
	memset(c.from_number, 'a', sizeof(c.from_number)); /* no NUL */
	assert_int_equal(model_cdr_check(&c), EINVAL);
}

static void good_live(struct model_live_call *l)
{
	memset(l, 0, sizeof(*l));
	l->account_id = 1;
	snprintf(l->call_uuid, sizeof(l->call_uuid),
		 "0b6c1c5e-8f6e-4a53-9a8e-2f1d9c1f6a10");
	snprintf(l->node_id, sizeof(l->node_id), "node-1");
	snprintf(l->direction, sizeof(l->direction), "inbound");
	snprintf(l->call_status, sizeof(l->call_status), "ringing");
}

static void test_live_check(void **state)
{
	struct model_live_call l;

	(void)state;
	good_live(&l);
	assert_int_equal(model_live_check(&l), 0);
	snprintf(l.call_status, sizeof(l.call_status), "in-progress");
	assert_int_equal(model_live_check(&l), 0);
	memset(l.node_id, 'n', MODEL_NODE_ID_MAX - 1); /* 64 bytes */
	assert_int_equal(model_live_check(&l), 0);
	memset(l.node_id, 'n', MODEL_NODE_ID_MAX); /* 65: no NUL */
	assert_int_equal(model_live_check(&l), EINVAL);

	good_live(&l);
	snprintf(l.call_status, sizeof(l.call_status), "completed");
	assert_int_equal(model_live_check(&l), EINVAL);
	good_live(&l);
	l.node_id[0] = '\0';
	assert_int_equal(model_live_check(&l), EINVAL);
	good_live(&l);
	snprintf(l.direction, sizeof(l.direction), "x");
	assert_int_equal(model_live_check(&l), EINVAL);
	good_live(&l);
	snprintf(l.call_uuid, sizeof(l.call_uuid), "nope");
	assert_int_equal(model_live_check(&l), EINVAL);
	good_live(&l);
	l.account_id = -1;
	assert_int_equal(model_live_check(&l), EINVAL);
}

static void test_time_format(void **state)
{
	char buf[MODEL_TIME_MAX];

	(void)state;
	assert_string_equal(model_time_format(0, buf, sizeof(buf)),
			    "1970-01-01 00:00:00");
	/* Milliseconds are dropped, not rounded. */
	assert_string_equal(model_time_format(1709251199999, buf, sizeof(buf)),
			    "2024-02-29 23:59:59");
	assert_string_equal(
	    model_time_format(253402300799000LL, buf, sizeof(buf)),
	    "9999-12-31 23:59:59");
	assert_string_equal(model_time_format(-1, buf, sizeof(buf)), "");
	assert_string_equal(
	    model_time_format(253402300800000LL, buf, sizeof(buf)), "");
	assert_string_equal(model_time_format(0, buf, MODEL_TIME_MAX - 1), "");
}

static void test_time_parse(void **state)
{
	static const char *const bad[] = {
	    "",
	    "2024-01-01",
	    "2024-01-01 10",
	    "2024-01-01 10:0",
	    "2024-01-01T10:00:00",
	    "2024-01-01 10:00:00Z",
	    "2024-01-01 10:00:00.5",
	    "2024-01-01  10:00",
	    " 2024-01-01 10:00",
	    "2024-1-01 10:00:00",
	    "2024-13-01 10:00",
	    "2024-00-01 10:00",
	    "2024-01-00 10:00",
	    "2023-02-29 10:00",
	    "1900-02-29 10:00",
	    "2024-04-31 10:00",
	    "2024-01-01 24:00",
	    "2024-01-01 23:60",
	    "2024-01-01 23:59:60",
	    "1969-12-31 23:59:59",
	    "+024-01-01 10:00",
	    "2024-01-01 1a:00",
	};
	char buf[MODEL_TIME_MAX];
	int64_t s = -5;

	(void)state;
	assert_int_equal(model_time_parse("1970-01-01 00:00", &s), 0);
	assert_int_equal(s, 0);
	assert_int_equal(model_time_parse("2024-02-29 23:59:59", &s), 0);
	assert_int_equal(s, 1709251199);
	assert_int_equal(model_time_parse("2000-02-29 12:30", &s), 0);
	assert_int_equal(s, 951827400);
	assert_int_equal(model_time_parse("9999-12-31 23:59:59", &s), 0);
	assert_int_equal(s, 253402300799LL);
	/* Round trip. */
	assert_int_equal(model_time_parse("2031-07-04 05:06:07", &s), 0);
	assert_string_equal(model_time_format(s * 1000, buf, sizeof(buf)),
			    "2031-07-04 05:06:07");
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		s = -5;
		if (model_time_parse(bad[i], &s) != EINVAL)
			fail_msg("'%s' parsed", bad[i]);
		assert_int_equal(s, -5); /* untouched */
	}
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_causes),
	    cmocka_unit_test(test_sources),
	    cmocka_unit_test(test_uuid),
	    cmocka_unit_test(test_cdr_check),
	    cmocka_unit_test(test_live_check),
	    cmocka_unit_test(test_time_format),
	    cmocka_unit_test(test_time_parse),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
