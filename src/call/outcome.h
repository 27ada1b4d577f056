/*
 * outcome.h - what the answers of a call's legs and its application's
 * verbs become (calls contract, "Applications" and "Hangup causes"): the
 * answer the caller gets, the Dial's DialStatus and DialHangupCause, and
 * the hangup causes. Pure functions, no I/O: the XML runner (app.c) and
 * the B2BUA (call.c) decide with them.
 */
#ifndef CALL_OUTCOME_H
#define CALL_OUTCOME_H

#include <stdbool.h>
#include <stddef.h>

#include "app/doc.h"
#include "model/cdr.h"

/*
 * The best of the final answers of the legs that were rung together
 * (RFC 3261 16.7; 0 for a leg with none yet): a 6xx, else the lowest
 * class, the first of it; none at all: 480; 503 becomes 500 (the caller
 * must not take it as sipward's own overload); 487 only when the caller
 * cancelled, else 480.
 */
unsigned call_outcome_best(const unsigned *finals, size_t n,
			   bool caller_cancelled);

/* The hangup cause of a call whose callee answered code (>= 300). */
enum model_cause call_outcome_cause(unsigned code);

/*
 * A Dial that did not connect, from the best final answer of its legs
 * (timeout: its ring time ran out): its DialStatus ("busy", "no-answer"
 * or "failed") and its DialHangupCause.
 */
const char *call_outcome_dial_status(unsigned code, bool timeout);
enum model_cause call_outcome_dial_cause(unsigned code, bool timeout);

/* <Hangup reason>: the answer before the call is answered, the cause. */
unsigned call_outcome_hangup_code(enum app_hangup_reason reason);
enum model_cause call_outcome_hangup_cause(enum app_hangup_reason reason);

/*
 * The end of the document with the caller still unanswered: the answer
 * it gets, from the last Dial's best final answer (0: no Dial ran): that
 * answer when it is an error other than 487, else 480.
 */
unsigned call_outcome_end_of_xml(unsigned last_dial);

#endif
