/*
 * test_call_outcome.c - what the XML runner and the B2BUA make of the
 * answers of a call's legs and of its application's verbs (calls
 * contract, "Applications", "Hangup causes"; RFC 3261 16.7).
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <string.h>

#include <cmocka.h>

#include "app/doc.h"
#include "call/outcome.h"

static unsigned best(bool cancelled, unsigned n, ...)
{
	unsigned f[16];
	va_list ap;

	va_start(ap, n);
	for (unsigned i = 0; i < n; i++)
		f[i] = va_arg(ap, unsigned);
	va_end(ap);
	return call_outcome_best(f, n, cancelled);
}

/* RFC 3261 16.7: a 6xx wins, else the lowest class, the first of it. */
static void best_final(void **state)
{
	(void)state;
	assert_int_equal(best(false, 0), 480);	     /* nobody answered */
	assert_int_equal(best(false, 2, 0, 0), 480); /* still ringing */
	assert_int_equal(best(false, 3, 486, 404, 500), 486);
	assert_int_equal(best(false, 3, 500, 404, 486), 404);
	assert_int_equal(best(false, 3, 486, 603, 404), 603);
	assert_int_equal(best(false, 2, 600, 486), 600);
	/* 503 is never passed on as such. */
	assert_int_equal(best(false, 1, 503), 500);
	assert_int_equal(best(false, 2, 503, 504), 500);
	/* 487 only when the caller cancelled. */
	assert_int_equal(best(false, 1, 487), 480);
	assert_int_equal(best(true, 1, 487), 487);
	assert_int_equal(best(true, 2, 487, 486), 487);
}

static void causes(void **state)
{
	(void)state;
	assert_int_equal(call_outcome_cause(486), MODEL_CAUSE_USER_BUSY);
	assert_int_equal(call_outcome_cause(600), MODEL_CAUSE_USER_BUSY);
	assert_int_equal(call_outcome_cause(603), MODEL_CAUSE_CALL_REJECTED);
	assert_int_equal(call_outcome_cause(480), MODEL_CAUSE_NO_ANSWER);
	assert_int_equal(call_outcome_cause(408), MODEL_CAUSE_NO_ANSWER);
	assert_int_equal(call_outcome_cause(487),
			 MODEL_CAUSE_ORIGINATOR_CANCEL);
	assert_int_equal(call_outcome_cause(404),
			 MODEL_CAUSE_UNALLOCATED_NUMBER);
	assert_int_equal(call_outcome_cause(403), MODEL_CAUSE_FORBIDDEN);
	assert_int_equal(call_outcome_cause(500),
			 MODEL_CAUSE_NORMAL_TEMPORARY_FAILURE);
	assert_int_equal(call_outcome_cause(415),
			 MODEL_CAUSE_NORMAL_TEMPORARY_FAILURE);
}

/* DialStatus: busy, no-answer (timeout) or failed; and its cause. */
static void dial_outcomes(void **state)
{
	(void)state;
	assert_string_equal(call_outcome_dial_status(486, false), "busy");
	assert_string_equal(call_outcome_dial_status(600, false), "busy");
	assert_string_equal(call_outcome_dial_status(0, true), "no-answer");
	assert_string_equal(call_outcome_dial_status(486, true), "no-answer");
	assert_string_equal(call_outcome_dial_status(408, false), "no-answer");
	assert_string_equal(call_outcome_dial_status(603, false), "failed");
	assert_string_equal(call_outcome_dial_status(404, false), "failed");
	assert_string_equal(call_outcome_dial_status(500, false), "failed");
	assert_int_equal(call_outcome_dial_cause(0, true),
			 MODEL_CAUSE_NO_ANSWER);
	/* A <User> with no live binding. */
	assert_int_equal(call_outcome_dial_cause(480, false),
			 MODEL_CAUSE_USER_NOT_REGISTERED);
	assert_int_equal(call_outcome_dial_cause(486, false),
			 MODEL_CAUSE_USER_BUSY);
	assert_int_equal(call_outcome_dial_cause(603, false),
			 MODEL_CAUSE_CALL_REJECTED);
	assert_int_equal(call_outcome_dial_cause(403, false),
			 MODEL_CAUSE_FORBIDDEN);
}

/* A document as an application sends it, through the parser, to the
 * answer the runner gives for its Hangup. */
static unsigned hangup_of(const char *xml, enum model_cause *cause)
{
	struct app_doc *d = NULL;
	unsigned code;

	assert_int_equal(app_doc_parse(xml, strlen(xml), &d, NULL, 0), 0);
	assert_int_equal(d->n, 1);
	assert_int_equal(d->verbs[0].kind, APP_VERB_HANGUP);
	code = call_outcome_hangup_code(d->verbs[0].u.hangup);
	*cause = call_outcome_hangup_cause(d->verbs[0].u.hangup);
	app_doc_free(d);
	return code;
}

static void hangups(void **state)
{
	enum model_cause k;

	(void)state;
	assert_int_equal(
	    hangup_of("<Response><Hangup reason=\"busy\"/></Response>", &k),
	    486);
	assert_int_equal(k, MODEL_CAUSE_USER_BUSY);
	assert_int_equal(
	    hangup_of("<Response><Hangup reason=\"rejected\"/></Response>", &k),
	    603);
	assert_int_equal(k, MODEL_CAUSE_CALL_REJECTED);
	assert_int_equal(hangup_of("<Response><Hangup/></Response>", &k), 603);
	assert_int_equal(k, MODEL_CAUSE_CALL_REJECTED);
}

/* The end of the document, the caller unanswered: 480 but for the last
 * Dial's error, which the caller gets (487 excepted). */
static void end_of_xml(void **state)
{
	(void)state;
	assert_int_equal(call_outcome_end_of_xml(0), 480);
	assert_int_equal(call_outcome_end_of_xml(486), 486);
	assert_int_equal(call_outcome_end_of_xml(603), 603);
	assert_int_equal(call_outcome_end_of_xml(404), 404);
	assert_int_equal(call_outcome_end_of_xml(487), 480);
	assert_int_equal(call_outcome_end_of_xml(200), 480);
	assert_int_equal(call_outcome_end_of_xml(180), 480);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(best_final),    cmocka_unit_test(causes),
	    cmocka_unit_test(dial_outcomes), cmocka_unit_test(hangups),
	    cmocka_unit_test(end_of_xml),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
