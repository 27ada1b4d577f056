/*
 * cdr.h - calls as data: the call detail record (CDR) written when a leg
 * ends, the row of a call in progress, the one table of hangup causes and
 * sources (calls-contract.md "Hangup causes"), and the checks and time
 * formats they share. No I/O.
 */
#ifndef MODEL_CDR_H
#define MODEL_CDR_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "model/model.h"

#define MODEL_UUID_LEN 36     /* 8-4-4-4-12 hex digits */
#define MODEL_UUID_MAX 37     /* with the NUL */
#define MODEL_NODE_ID_MAX 65  /* a node's id: 1-64 bytes */
#define MODEL_PARTY_MAX 257   /* from/to: digits or a SIP URI, <= 256 bytes */
#define MODEL_DIRECTION_MAX 9 /* "inbound", "outbound" */
#define MODEL_CALL_STATUS_MAX 12 /* "ringing", "in-progress" */
#define MODEL_CAUSE_NAME_MAX 32
#define MODEL_SOURCE_MAX 16
/* "YYYY-MM-DD HH:MM:SS" and its NUL. */
#define MODEL_TIME_MAX 20

/*
 * The hangup causes of the contract. Each maps to its name and its Plivo
 * code (model_cause_name, model_cause_code); the table is in cdr.c and in
 * docs/api.md ("Hangup causes").
 */
enum model_cause {
	MODEL_CAUSE_NORMAL_CLEARING,
	MODEL_CAUSE_ORIGINATOR_CANCEL,
	MODEL_CAUSE_USER_BUSY,
	MODEL_CAUSE_NO_ANSWER,
	MODEL_CAUSE_CALL_REJECTED,
	MODEL_CAUSE_USER_NOT_REGISTERED,
	MODEL_CAUSE_UNALLOCATED_NUMBER,
	MODEL_CAUSE_NORMAL_TEMPORARY_FAILURE,
	MODEL_CAUSE_ALLOTTED_TIMEOUT,
	MODEL_CAUSE_END_OF_XML,
	MODEL_CAUSE_ANSWER_URL_FAILURE,
	MODEL_CAUSE_FORBIDDEN,
	MODEL_CAUSE_COUNT
};

/* Who ended a leg: hangup_source. */
enum model_source {
	MODEL_SOURCE_CALLER,
	MODEL_SOURCE_CALLEE,
	MODEL_SOURCE_API,
	MODEL_SOURCE_XML,
	MODEL_SOURCE_ERROR,
	MODEL_SOURCE_COUNT
};

/* "NORMAL_CLEARING", ...; NULL for a value outside the enum. */
const char *model_cause_name(enum model_cause c);
/* 4000, ...; 0 (Plivo's "Unknown") for a value outside the enum. */
int model_cause_code(enum model_cause c);
/* Plivo's wording of the code ("Normal Hangup"); NULL outside the enum. */
const char *model_cause_label(enum model_cause c);
/* "Caller", "Callee", "API Request", "Answer XML", "Error"; NULL outside. */
const char *model_source_name(enum model_source s);

/* One leg's call detail record, written once when the leg ends. */
struct model_cdr {
	int64_t id; /* the store's row id; set when read */
	int64_t account_id;
	char call_uuid[MODEL_UUID_MAX];
	char parent_call_uuid[MODEL_UUID_MAX]; /* "" for an A leg */
	/*
	 * The endpoint (the caller's for an A leg, the callee's for a B leg
	 * to an endpoint): its internal id, 0 for none, and its public id
	 * ("" for none), kept as text so the CDR outlives the endpoint.
	 */
	int64_t endpoint_ref;
	char endpoint_id[MODEL_ID_MAX];
	char from_number[MODEL_PARTY_MAX]; /* digits, or a sip: URI */
	char to_number[MODEL_PARTY_MAX];
	char caller_name[MODEL_TEXT_BYTES];
	char call_direction[MODEL_DIRECTION_MAX]; /* "inbound": A leg */
	int64_t initiation_ms;
	int64_t answer_ms; /* 0: never answered */
	int64_t end_ms;
	int64_t call_duration; /* whole seconds */
	int64_t bill_duration;
	char hangup_cause_name[MODEL_CAUSE_NAME_MAX];
	int hangup_cause_code;
	char hangup_source[MODEL_SOURCE_MAX];
};

/* Sets a CDR's hangup_cause_name, hangup_cause_code and hangup_source. */
void model_cdr_set_cause(struct model_cdr *c, enum model_cause cause,
			 enum model_source source);

/* A call in progress, as the node carrying it reports it. */
struct model_live_call {
	char call_uuid[MODEL_UUID_MAX]; /* the A leg's: names the call */
	int64_t account_id;
	char node_id[MODEL_NODE_ID_MAX]; /* the node carrying it */
	char direction[MODEL_DIRECTION_MAX];
	char from[MODEL_PARTY_MAX];
	char to[MODEL_PARTY_MAX];
	char caller_name[MODEL_TEXT_BYTES];
	char call_status[MODEL_CALL_STATUS_MAX]; /* "ringing", "in-progress" */
	int64_t session_start_ms;
	int64_t updated_ms;    /* refreshed by the node; old rows are stale */
	bool hangup_requested; /* set by DELETE Call/{uuid}/; read only */
};

/* A UUID in its text form: 8-4-4-4-12 hex digits (either case). */
bool model_uuid_check(const char *s);

/*
 * Checks what a CDR must hold before it is stored: an account, a call_uuid
 * that is a UUID, a parent that is empty or a UUID, a direction of
 * "inbound" or "outbound", every text NUL-terminated within its field,
 * times and durations not negative. Returns 0 or EINVAL.
 */
int model_cdr_check(const struct model_cdr *c);

/*
 * The same for a live call: account, call_uuid, a node_id of 1-64 bytes,
 * direction, call_status "ringing" or "in-progress". Returns 0 or EINVAL.
 */
int model_live_check(const struct model_live_call *l);

/*
 * Writes ms (since the epoch) as "YYYY-MM-DD HH:MM:SS" in UTC, Plivo's
 * form of call times, into out (cap >= MODEL_TIME_MAX). Returns out, or
 * "" when ms is out of range.
 */
char *model_time_format(int64_t ms, char *out, size_t cap);

/*
 * Parses "YYYY-MM-DD HH:MM" or "YYYY-MM-DD HH:MM:SS" (UTC, years 1970 to
 * 9999, a real date and time, nothing more) into seconds since the epoch.
 * Returns 0 or EINVAL.
 */
int model_time_parse(const char *s, int64_t *out_s);

#endif
