/*
 * doc.h - application documents (calls-contract.md "The XML that runs"):
 * XML parsed with libxml2 (no network, no DTD, no entities, size-capped)
 * and checked into a small program of verbs for the call engine to run.
 */
#ifndef APP_DOC_H
#define APP_DOC_H

#include <stdbool.h>
#include <stddef.h>

#include "model/model.h"

#define APP_DOC_MAX (100 * 1024)	  /* bytes of XML */
#define APP_DOC_VERBS_MAX 100		  /* verbs in one Response */
#define APP_DIAL_TARGETS_MAX 10		  /* User + Number children of a Dial */
#define APP_DIAL_HEADERS_MAX 10		  /* pairs in sipHeaders */
#define APP_DIAL_TIMEOUT_MAX 3600	  /* seconds, timeout */
#define APP_DIAL_TIME_LIMIT_DEFAULT 14400 /* seconds, timeLimit */
#define APP_DIAL_TIME_LIMIT_MAX 86400
#define APP_WAIT_LENGTH_MAX 3600 /* seconds */
#define APP_TARGET_MAX 320	 /* bytes of a User URI or Number */
#define APP_CALLER_ID_MAX 64	 /* bytes of callerId */
#define APP_HEADER_NAME_MAX 24	 /* of "X-PH-name", prefix included */
#define APP_HEADER_VALUE_MAX 120 /* bytes */
#define APP_DOC_ERR_MAX 200	 /* bytes of an error sentence */

enum app_verb_kind {
	APP_VERB_DIAL,
	APP_VERB_HANGUP,
	APP_VERB_REDIRECT,
	APP_VERB_WAIT,
};

/* One party a Dial rings. */
struct app_dial_target {
	bool user;		       /* <User> (a SIP URI), else <Number> */
	char text[APP_TARGET_MAX + 1]; /* "sip:u@host" or the digits */
};

/* One sipHeaders pair: sent as "X-PH-name: value" on the B legs. */
struct app_dial_header {
	char name[APP_HEADER_NAME_MAX + 1]; /* "X-PH-name" */
	char value[APP_HEADER_VALUE_MAX + 1];
};

struct app_dial {
	unsigned timeout;    /* ring seconds; 0: the ring_timeout option */
	unsigned time_limit; /* seconds after answer */
	char caller_id[APP_CALLER_ID_MAX + 1]; /* "": the caller's user */
	char caller_name[MODEL_TEXT_BYTES];    /* "": the caller's alias */
	char action[MODEL_URL_MAX + 1];	       /* "": none */
	char method[MODEL_METHOD_MAX];	       /* of action: "GET"/"POST" */
	bool redirect;			       /* run action's document */
	bool has_caller_name;		       /* callerName="" given */
	unsigned ntargets;
	struct app_dial_target targets[APP_DIAL_TARGETS_MAX];
	unsigned nheaders;
	struct app_dial_header headers[APP_DIAL_HEADERS_MAX];
};

enum app_hangup_reason {
	APP_HANGUP_NONE, /* no reason: 603 before answer */
	APP_HANGUP_BUSY, /* 486 before answer */
	APP_HANGUP_REJECTED,
};

struct app_redirect {
	char url[MODEL_URL_MAX + 1];
	char method[MODEL_METHOD_MAX];
};

struct app_verb {
	enum app_verb_kind kind;
	unsigned line; /* in the document, for logs */
	union {
		struct app_dial dial;
		enum app_hangup_reason hangup;
		struct app_redirect redirect;
		unsigned wait; /* seconds */
	} u;
};

/* A checked document: its verbs in order. */
struct app_doc {
	unsigned n;
	struct app_verb *verbs;
};

/*
 * Parses and checks the XML document xml (len bytes, need not be
 * NUL-terminated) into a malloc'd *out (free with app_doc_free). Returns
 * 0, EBADMSG when it is not a valid document (err, cap bytes, then holds
 * one sentence naming what is wrong, starting with its line when known),
 * or ENOMEM. Safe to call from any thread.
 */
int app_doc_parse(const char *xml, size_t len, struct app_doc **out, char *err,
		  size_t cap);

/* Frees a document from app_doc_parse; NULL is a no-op. */
void app_doc_free(struct app_doc *doc);

/* The verb's element name ("Dial", ...). */
const char *app_verb_name(enum app_verb_kind kind);

#endif
