/*
 * outcome.c - the answers, Dial statuses and hangup causes of calls (see
 * outcome.h).
 */
#include "call/outcome.h"

unsigned call_outcome_best(const unsigned *finals, size_t n,
			   bool caller_cancelled)
{
	unsigned best = 0;

	for (size_t i = 0; i < n; i++) {
		unsigned s = finals[i];

		if (s >= 600)
			return s;
		if (s && (!best || s / 100 < best / 100))
			best = s;
	}
	if (!best)
		best = 480;
	if (best == 503)
		best = 500;
	if (best == 487 && !caller_cancelled)
		best = 480;
	return best;
}

enum model_cause call_outcome_cause(unsigned code)
{
	switch (code) {
	case 486:
	case 600:
		return MODEL_CAUSE_USER_BUSY;
	case 603:
		return MODEL_CAUSE_CALL_REJECTED;
	case 480:
	case 408:
		return MODEL_CAUSE_NO_ANSWER;
	case 487:
		return MODEL_CAUSE_ORIGINATOR_CANCEL;
	case 404:
		return MODEL_CAUSE_UNALLOCATED_NUMBER;
	case 403:
		return MODEL_CAUSE_FORBIDDEN;
	default:
		return MODEL_CAUSE_NORMAL_TEMPORARY_FAILURE;
	}
}

const char *call_outcome_dial_status(unsigned code, bool timeout)
{
	if (timeout || code == 480 || code == 408)
		return "no-answer";
	if (code == 486 || code == 600)
		return "busy";
	return "failed";
}

enum model_cause call_outcome_dial_cause(unsigned code, bool timeout)
{
	if (timeout)
		return MODEL_CAUSE_NO_ANSWER;
	/* A <User> with no live binding: its leg "failed" with 480. */
	if (code == 480)
		return MODEL_CAUSE_USER_NOT_REGISTERED;
	return call_outcome_cause(code);
}

unsigned call_outcome_hangup_code(enum app_hangup_reason reason)
{
	return reason == APP_HANGUP_BUSY ? 486 : 603;
}

enum model_cause call_outcome_hangup_cause(enum app_hangup_reason reason)
{
	return reason == APP_HANGUP_BUSY ? MODEL_CAUSE_USER_BUSY
					 : MODEL_CAUSE_CALL_REJECTED;
}

unsigned call_outcome_end_of_xml(unsigned last_dial)
{
	return last_dial >= 400 && last_dial != 487 ? last_dial : 480;
}
