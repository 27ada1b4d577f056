/* field.c - the field tables of endpoints and applications, and their use. */
#include "model/field.h"

#include <errno.h>
#include <stdio.h>
#include <string.h>

/* Where a member of struct model_endpoint / model_app is, and its size. */
#define EP_AT(m)                                   \
	.off = offsetof(struct model_endpoint, m), \
	.size = sizeof(((struct model_endpoint *)0)->m)
#define APP_AT(m)                             \
	.off = offsetof(struct model_app, m), \
	.size = sizeof(((struct model_app *)0)->m)

/* An allow_* flag: a boolean with its default, locked or not. */
#define ALLOW(flag, nm, dflt, lock)                        \
	[MODEL_EP_ALLOW(flag)] = {.name = nm,              \
				  .type = MODEL_TYPE_BOOL, \
				  .label = nm,             \
				  .locked = lock,          \
				  .def = MODEL_DEF_VALUE,  \
				  .def_bool = dflt,        \
				  EP_AT(allow[flag])}

_Static_assert(MODEL_EP_FIELDS <= MODEL_FIELDS_MAX, "table too large");
_Static_assert(MODEL_APP_FIELDS <= MODEL_FIELDS_MAX, "table too large");
_Static_assert(MODEL_EP_ALLOW(MODEL_ALLOW_APPS) == MODEL_EP_ALLOW_APPS &&
		   MODEL_ALLOW_COUNT == 7,
	       "the allow_* fields follow enum model_allow");

/* api-contract.md, "Endpoint object", "Create endpoint", "Update endpoint". */
const struct model_field model_endpoint_fields[MODEL_EP_FIELDS] = {
    [MODEL_EP_USERNAME] = {.name = "username",
			   .type = MODEL_TYPE_TEXT,
			   .check = model_username_check,
			   .label = "Username",
			   .required = true,
			   .locked = true,
			   EP_AT(username)},
    /* Never kept: svc stores its HA1 values and ends registrations. */
    [MODEL_EP_PASSWORD] = {.name = "password",
			   .type = MODEL_TYPE_TEXT,
			   .check = model_password_check,
			   .label = "Password",
			   .required = true},
    [MODEL_EP_ALIAS] = {.name = "alias",
			.type = MODEL_TYPE_TEXT,
			.check = model_alias_check,
			.label = "Alias",
			.def = MODEL_DEF_USERNAME,
			EP_AT(alias)},
    /* svc resolves it in the account's applications (400 if unknown). */
    [MODEL_EP_APPLICATION] = {.name = "application",
			      .synonym = "app_id",
			      .type = MODEL_TYPE_APP_REF,
			      .label = "application",
			      .def = MODEL_DEF_ACCOUNT_APP},
    ALLOW(MODEL_ALLOW_VOICE, "allow_voice", true, false),
    ALLOW(MODEL_ALLOW_MESSAGE, "allow_message", true, false),
    ALLOW(MODEL_ALLOW_VIDEO, "allow_video", false, false),
    ALLOW(MODEL_ALLOW_SAME_DOMAIN, "allow_same_domain", true, true),
    ALLOW(MODEL_ALLOW_OTHER_DOMAINS, "allow_other_domains", false, true),
    ALLOW(MODEL_ALLOW_PHONES, "allow_phones", true, true),
    ALLOW(MODEL_ALLOW_APPS, "allow_apps", true, true),
    /* Until sub-accounts exist: null or the caller's own auth_id. */
    [MODEL_EP_SUB_ACCOUNT] = {.name = "sub_account",
			      .type = MODEL_TYPE_ACCOUNT_REF,
			      .label = "sub_account",
			      .locked = true},
    [MODEL_EP_ENDPOINT_ID] = {.name = "endpoint_id",
			      .type = MODEL_TYPE_ASSIGNED,
			      .label = "endpoint_id",
			      .locked = true,
			      .def = MODEL_DEF_RANDOM_ID},
    [MODEL_EP_DOMAIN] = {.name = "domain",
			 .type = MODEL_TYPE_ASSIGNED,
			 .label = "domain",
			 .locked = true,
			 .def = MODEL_DEF_ACCOUNT_DOMAIN},
};

/* An application's URL (member url) and its method (default POST). */
#define URL_PAIR(u, m, url, method, req)  \
	[u] = {.name = #url,              \
	       .type = MODEL_TYPE_URL,    \
	       .check = model_url_check,  \
	       .label = #url,             \
	       .required = req,           \
	       APP_AT(url)},              \
	[m] = {.name = #method,           \
	       .type = MODEL_TYPE_METHOD, \
	       .label = #method,          \
	       .def = MODEL_DEF_VALUE,    \
	       .def_text = "POST",        \
	       APP_AT(method)}

/* api-contract.md, "Applications". */
const struct model_field model_app_fields[MODEL_APP_FIELDS] = {
    [MODEL_APP_NAME] = {.name = "app_name",
			.type = MODEL_TYPE_TEXT,
			.check = model_app_name_check,
			.label = "app_name",
			.required = true,
			APP_AT(app_name)},
    URL_PAIR(MODEL_APP_ANSWER_URL, MODEL_APP_ANSWER_METHOD, answer_url,
	     answer_method, true),
    URL_PAIR(MODEL_APP_HANGUP_URL, MODEL_APP_HANGUP_METHOD, hangup_url,
	     hangup_method, false),
    URL_PAIR(MODEL_APP_FALLBACK_ANSWER_URL, MODEL_APP_FALLBACK_METHOD,
	     fallback_answer_url, fallback_method, false),
    URL_PAIR(MODEL_APP_MESSAGE_URL, MODEL_APP_MESSAGE_METHOD, message_url,
	     message_method, false),
    /* At most one per account: svc clears it on the others. */
    [MODEL_APP_DEFAULT_ENDPOINT_APP] = {.name = "default_endpoint_app",
					.type = MODEL_TYPE_BOOL,
					.label = "default_endpoint_app",
					.def = MODEL_DEF_VALUE,
					.def_bool = false,
					APP_AT(default_endpoint_app)},
};

int model_field_find(const struct model_field *t, unsigned n, const char *key,
		     bool *syn)
{
	for (unsigned i = 0; i < n; i++) {
		if (strcmp(key, t[i].name) == 0) {
			*syn = false;
			return (int)i;
		}
		if (t[i].synonym && strcmp(key, t[i].synonym) == 0) {
			*syn = true;
			return (int)i;
		}
	}
	return -1;
}

int model_field_apply(const struct model_field *f, const struct model_value *v,
		      void *obj, struct model_errors *errs)
{
	char *dst = (char *)obj + f->off;
	const char *s = v->text ? v->text : "";

	switch (f->type) {
	case MODEL_TYPE_URL:
		if ((v->state == MODEL_NULL || !*s) && !f->required) {
			if (f->size)
				dst[0] = '\0';
			return 0;
		}
		/* fall through */
	case MODEL_TYPE_TEXT:
		if (f->check(s, strlen(s), f->name, errs))
			return EINVAL;
		if (f->size)
			snprintf(dst, f->size, "%s", s);
		return 0;
	case MODEL_TYPE_METHOD:
		return model_method_check(s, f->name, dst, f->size, errs);
	case MODEL_TYPE_BOOL:
		if (f->size)
			*(bool *)dst = v->flag;
		return 0;
	case MODEL_TYPE_APP_REF:
		if (v->state == MODEL_SET && model_id_check(v->id)) {
			model_errors_add(errs, f->name,
					 "Application must be an application "
					 "id");
			return EINVAL;
		}
		return 0;
	case MODEL_TYPE_ACCOUNT_REF:
	case MODEL_TYPE_ASSIGNED:
		break;
	}
	return 0;
}

void model_field_default(const struct model_field *f, void *obj)
{
	char *dst = (char *)obj + f->off;

	if (!f->size)
		return;
	switch (f->def) {
	case MODEL_DEF_VALUE:
		if (f->type == MODEL_TYPE_BOOL)
			*(bool *)dst = f->def_bool;
		else
			snprintf(dst, f->size, "%s", f->def_text);
		break;
	case MODEL_DEF_NONE:
		if (f->type == MODEL_TYPE_BOOL)
			*(bool *)dst = false;
		else
			dst[0] = '\0';
		break;
	case MODEL_DEF_USERNAME:
		snprintf(dst, f->size, "%s",
			 ((const struct model_endpoint *)obj)->username);
		break;
	case MODEL_DEF_ACCOUNT_APP:
	case MODEL_DEF_ACCOUNT_DOMAIN:
	case MODEL_DEF_RANDOM_ID:
		break;
	}
}

void model_fields_apply(const struct model_field *t, unsigned n,
			const struct model_value *vals, bool create, void *obj,
			struct model_errors *errs)
{
	for (unsigned i = 0; i < n; i++) {
		if (vals[i].state != MODEL_ABSENT) {
			if (create || !t[i].locked)
				model_field_apply(&t[i], &vals[i], obj, errs);
		} else if (create && t[i].required) {
			model_errors_add(errs, t[i].name, "%s is required",
					 t[i].name);
		} else if (create) {
			model_field_default(&t[i], obj);
		}
	}
}
