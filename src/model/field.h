/*
 * field.h - the field rules of api-contract.md, one table per resource:
 * each field's name and synonym, JSON type and check, whether it is
 * required at creation, its default, and whether it may change afterwards.
 * api/ decodes bodies with these tables and svc/ applies them. No I/O.
 */
#ifndef MODEL_FIELD_H
#define MODEL_FIELD_H

#include <stdbool.h>
#include <stddef.h>

#include "model/model.h"

/* What a field's value is in JSON, and the rule that checks it. */
enum model_type {
	MODEL_TYPE_TEXT,	/* a string, checked by the field's check */
	MODEL_TYPE_URL,		/* a string, model_url_check; an optional URL is
				   cleared by null or "" */
	MODEL_TYPE_METHOD,	/* "GET" or "POST", any case; kept upper-case */
	MODEL_TYPE_BOOL,	/* true or false */
	MODEL_TYPE_APP_REF,	/* an app_id: an integer, the same as a decimal
				   string, or null for none */
	MODEL_TYPE_ACCOUNT_REF, /* sub_account: null or the caller's auth_id */
	MODEL_TYPE_ASSIGNED,	/* set by the server: an unknown field at
				   creation, locked after it */
};

/* Where a field's value comes from at creation when it is not sent. */
enum model_default {
	MODEL_DEF_NONE,		  /* none: null (an optional URL: "") */
	MODEL_DEF_VALUE,	  /* def_text (text, method) or def_bool */
	MODEL_DEF_USERNAME,	  /* the endpoint's username */
	MODEL_DEF_ACCOUNT_APP,	  /* the account's default_endpoint_app
				     application if one is set, else none
				     (svc: needs the store) */
	MODEL_DEF_ACCOUNT_DOMAIN, /* the account's SIP domain (svc) */
	MODEL_DEF_RANDOM_ID,	  /* a new random decimal id (svc) */
};

/* A rule for a string value, as model_username_check. */
typedef int (*model_check_fn)(const char *s, size_t len, const char *field,
			      struct model_errors *errs);

struct model_field {
	const char *name;
	const char *synonym; /* also accepted ("app_id"), or NULL */
	enum model_type type;
	model_check_fn check; /* the value's rule (TEXT, URL), or NULL */
	const char *label;    /* names the field in type errors */
	bool required;	      /* at creation */
	bool locked;	      /* "cannot be changed after creation" */
	enum model_default def;
	const char *def_text; /* MODEL_DEF_VALUE of a TEXT or METHOD */
	bool def_bool;	      /* MODEL_DEF_VALUE of a BOOL */
	size_t off, size;     /* where the value is kept in its model
				 struct; size 0: not kept as sent (svc) */
};

/* The fields of an endpoint, indexing model_endpoint_fields. */
enum model_ep_field {
	MODEL_EP_USERNAME,
	MODEL_EP_PASSWORD,
	MODEL_EP_ALIAS,
	MODEL_EP_APPLICATION,
	MODEL_EP_ALLOW_VOICE, /* the allow_* flags, in enum model_allow order */
	MODEL_EP_ALLOW_MESSAGE,
	MODEL_EP_ALLOW_VIDEO,
	MODEL_EP_ALLOW_SAME_DOMAIN,
	MODEL_EP_ALLOW_OTHER_DOMAINS,
	MODEL_EP_ALLOW_PHONES,
	MODEL_EP_ALLOW_APPS,
	MODEL_EP_SUB_ACCOUNT,
	MODEL_EP_ENDPOINT_ID,
	MODEL_EP_DOMAIN,
	MODEL_EP_FIELDS
};

/* The field of allow flag i (enum model_allow). */
#define MODEL_EP_ALLOW(i) (MODEL_EP_ALLOW_VOICE + (i))

/* The fields of an application, indexing model_app_fields. */
enum model_app_field {
	MODEL_APP_NAME,
	MODEL_APP_ANSWER_URL,
	MODEL_APP_ANSWER_METHOD,
	MODEL_APP_HANGUP_URL,
	MODEL_APP_HANGUP_METHOD,
	MODEL_APP_FALLBACK_ANSWER_URL,
	MODEL_APP_FALLBACK_METHOD,
	MODEL_APP_MESSAGE_URL,
	MODEL_APP_MESSAGE_METHOD,
	MODEL_APP_DEFAULT_ENDPOINT_APP,
	MODEL_APP_FIELDS
};

/* Tables are indexed by their enum; the largest has this many rows. */
#define MODEL_FIELDS_MAX 32

/* Every field a client may name on an endpoint (over struct model_endpoint). */
extern const struct model_field model_endpoint_fields[MODEL_EP_FIELDS];
/* Every field a client may send on an application (over struct model_app). */
extern const struct model_field model_app_fields[MODEL_APP_FIELDS];

/* Whether a field was sent, and how. */
enum model_state {
	MODEL_ABSENT, /* not sent, or sent with a wrong type (reported) */
	MODEL_NULL,   /* sent as null */
	MODEL_SET,    /* sent with a value */
};

/* One decoded field of a request body. */
struct model_value {
	enum model_state state;
	const char *text;      /* TEXT, URL, METHOD, ACCOUNT_REF (borrowed) */
	bool flag;	       /* BOOL */
	char id[MODEL_ID_MAX]; /* APP_REF: the decimal app_id */
};

/*
 * The index of the field called key in t[0..n), by its name or (then *syn
 * is true) its synonym; -1 when there is none.
 */
int model_field_find(const struct model_field *t, unsigned n, const char *key,
		     bool *syn);

/*
 * Checks the sent value v (MODEL_SET or MODEL_NULL) of field f and, when
 * f keeps it (size > 0) and it is valid, writes it into obj, the model
 * struct of f's table. Returns 0 or EINVAL with the reason in errs.
 */
int model_field_apply(const struct model_field *f, const struct model_value *v,
		      void *obj, struct model_errors *errs);

/*
 * Writes f's default into obj: MODEL_DEF_VALUE, MODEL_DEF_NONE ("" or
 * false) and MODEL_DEF_USERNAME (an endpoint's username, applied before).
 * The defaults that need the store or the account are left to svc.
 */
void model_field_default(const struct model_field *f, void *obj);

/*
 * Applies vals (indexed like t) to obj, in table order. At creation
 * (create) a field not sent is reported when required ("x is required")
 * and otherwise takes its default; after creation only the fields sent
 * and not locked are applied. Errors go to errs.
 */
void model_fields_apply(const struct model_field *t, unsigned n,
			const struct model_value *vals, bool create, void *obj,
			struct model_errors *errs);

#endif
