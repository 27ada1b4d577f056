/* fields.c - a JSON body decoded by a model field table (model/field.h). */
#include <stdint.h>
#include <stdio.h>
#include <string.h>

#include "api/internal.h"

/* A string field: its value, null (an optional URL), or a type error. */
static void decode_string(const struct model_field *f, const char *key,
			  json_t *v, struct model_value *out,
			  struct model_errors *errs)
{
	if (api_json_text(v)) {
		out->state = MODEL_SET;
		out->text = api_json_text(v);
	} else if (json_is_string(v)) {
		model_errors_add(errs, key,
				 "%s must not contain control characters",
				 f->label);
	} else if (json_is_null(v) && f->type == MODEL_TYPE_URL &&
		   !f->required) {
		out->state = MODEL_NULL;
	} else {
		model_errors_add(errs, key, "%s must be a string", f->label);
	}
}

/* An application id: an integer, the same as a decimal string, or null. */
static void decode_app_ref(const char *key, json_t *v, struct model_value *out,
			   struct model_errors *errs)
{
	if (json_is_null(v)) {
		out->state = MODEL_NULL;
	} else if (json_is_integer(v) && json_integer_value(v) >= 0) {
		out->state = MODEL_SET;
		snprintf(out->id, sizeof(out->id), "%lld",
			 (long long)json_integer_value(v));
	} else if (api_json_text(v) && json_string_length(v) < MODEL_ID_MAX &&
		   model_id_check(api_json_text(v)) == 0) {
		out->state = MODEL_SET;
		snprintf(out->id, sizeof(out->id), "%s", api_json_text(v));
	} else {
		model_errors_add(errs, key,
				 "Must be an application id (integer or "
				 "decimal string) or null");
	}
}

/* Decodes v, sent as key, for field f into out; a wrong type stays absent. */
static void decode_value(const struct model_field *f, const char *key,
			 json_t *v, const char *auth_id,
			 struct model_value *out, struct model_errors *errs)
{
	memset(out, 0, sizeof(*out));
	switch (f->type) {
	case MODEL_TYPE_TEXT:
	case MODEL_TYPE_URL:
	case MODEL_TYPE_METHOD:
		decode_string(f, key, v, out, errs);
		break;
	case MODEL_TYPE_BOOL:
		if (json_is_boolean(v)) {
			out->state = MODEL_SET;
			out->flag = json_is_true(v);
		} else {
			model_errors_add(errs, key, "%s must be true or false",
					 f->label);
		}
		break;
	case MODEL_TYPE_APP_REF:
		decode_app_ref(key, v, out, errs);
		break;
	case MODEL_TYPE_ACCOUNT_REF:
		if (json_is_null(v)) {
			out->state = MODEL_NULL;
		} else if (api_json_text(v) &&
			   strcmp(api_json_text(v), auth_id) == 0) {
			out->state = MODEL_SET;
			out->text = api_json_text(v);
		} else {
			model_errors_add(errs, key, "Unknown sub-account");
		}
		break;
	case MODEL_TYPE_ASSIGNED:
		break;
	}
}

/* Whether two spellings of one field were sent with different values. */
static bool values_differ(const struct model_value *a,
			  const struct model_value *b)
{
	return (a->state == MODEL_NULL) != (b->state == MODEL_NULL) ||
	       strcmp(a->text ? a->text : "", b->text ? b->text : "") != 0 ||
	       a->flag != b->flag || strcmp(a->id, b->id) != 0;
}

void api_fields_decode(json_t *body, const struct model_field *t, unsigned n,
		       bool create, const char *auth_id,
		       struct model_value *vals, struct model_errors *errs)
{
	struct model_value syn[MODEL_FIELDS_MAX];
	uint32_t sent = 0, sent_syn = 0;
	const char *key;
	json_t *v;

	memset(vals, 0, n * sizeof(*vals));
	json_object_foreach(body, key, v)
	{
		bool by_syn;
		int i = model_field_find(t, n, key, &by_syn);

		if (i < 0 || (create && t[i].type == MODEL_TYPE_ASSIGNED)) {
			model_errors_add(errs, key, "Unknown field");
		} else if (!create && t[i].locked) {
			model_errors_add(errs, key,
					 "%s cannot be changed after creation",
					 key);
		} else if (by_syn) {
			decode_value(&t[i], key, v, auth_id, &syn[i], errs);
			sent_syn |= UINT32_C(1) << i;
		} else {
			decode_value(&t[i], key, v, auth_id, &vals[i], errs);
			sent |= UINT32_C(1) << i;
		}
	}
	/* Both spellings must agree; the synonym's value is the one kept. */
	for (unsigned i = 0; i < n; i++) {
		if (!(sent_syn & UINT32_C(1) << i))
			continue;
		if (sent & UINT32_C(1) << i && values_differ(&vals[i], &syn[i]))
			model_errors_add(errs, t[i].synonym,
					 "%s and %s differ; send one",
					 t[i].synonym, t[i].name);
		vals[i] = syn[i];
	}
}
