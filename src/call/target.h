/*
 * target.h - what a caller dialled (calls contract, "What was dialled"): the
 * classification of a Request-URI sip:U@H once the store has said whether
 * U is an application of the caller's account or an endpoint of its domain,
 * and the allow_* flag each kind needs. Pure functions, no I/O.
 */
#ifndef CALL_TARGET_H
#define CALL_TARGET_H

#include <stdbool.h>
#include <stddef.h>

#include "model/model.h"

enum call_target {
	CALL_TARGET_APP,	  /* an app_id of the caller's account */
	CALL_TARGET_ENDPOINT,	  /* an endpoint username in the domain */
	CALL_TARGET_PHONE,	  /* ^\+?[0-9]{3,20}$ */
	CALL_TARGET_OTHER_DOMAIN, /* H is not ours */
	CALL_TARGET_NONE,	  /* 404 */
};

/* Whether user (n bytes) is a phone number: ^\+?[0-9]{3,20}$. */
bool call_target_is_number(const char *user, size_t n);

/*
 * Classifies, in the contract's order: application, endpoint, phone
 * number, other domain, nothing. host_ours: H is the caller's domain or an
 * address sipward listens on.
 */
enum call_target call_target_classify(bool host_ours, bool is_app,
				      bool is_endpoint, const char *user,
				      size_t n);

/* The allow_* flag a kind needs (MODEL_ALLOW_COUNT for NONE). */
enum model_allow call_target_flag(enum call_target k);

/* The flag's name as the API writes it ("allow_phones"), for 403s. */
const char *call_target_flag_name(enum model_allow f);

#endif
