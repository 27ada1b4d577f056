/* application.c - the Application resource: JSON <-> model, delete rules. */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "api/internal.h"

static json_t *app_json(struct api_ctx *c, const struct model_app *a,
			bool with_api_id)
{
	char buf[128];
	json_t *o = json_object();

	if (!o)
		return NULL;
	if (with_api_id)
		json_object_set_new(o, "api_id", json_string(c->api_id));
	json_object_set_new(o, "app_id", json_string(a->app_id));
	json_object_set_new(o, "app_name", json_string(a->app_name));
	json_object_set_new(o, "answer_url", json_string(a->answer_url));
	json_object_set_new(o, "answer_method", json_string(a->answer_method));
	json_object_set_new(o, "hangup_url",
			    api_json_str_or_null(a->hangup_url));
	json_object_set_new(o, "hangup_method", json_string(a->hangup_method));
	json_object_set_new(o, "fallback_answer_url",
			    api_json_str_or_null(a->fallback_answer_url));
	json_object_set_new(o, "fallback_method",
			    json_string(a->fallback_method));
	json_object_set_new(o, "message_url",
			    api_json_str_or_null(a->message_url));
	json_object_set_new(o, "message_method",
			    json_string(a->message_method));
	json_object_set_new(o, "default_endpoint_app",
			    json_boolean(a->default_endpoint_app));
	json_object_set_new(o, "sub_account", json_null());
	snprintf(buf, sizeof(buf), "/v1/Account/%s/Application/%s/",
		 c->acct.auth_id, a->app_id);
	json_object_set_new(o, "resource_uri", json_string(buf));
	json_object_set_new(o, "created_at", api_json_time(a->created_ms));
	json_object_set_new(o, "updated_at", api_json_time(a->updated_ms));
	return o;
}

static void create(struct api_ctx *c)
{
	struct svc_app_input in;
	struct model_errors errs = {0};
	struct model_app *a;
	json_t *body;
	int err;

	if (api_body_object(c, true, &body))
		return;
	a = calloc(1, sizeof(*a));
	if (!a) {
		api_reply_errno(c, ENOMEM, "Application", NULL);
		goto out;
	}
	svc_app_input_init(&in);
	api_fields_decode(body, model_app_fields, MODEL_APP_FIELDS, true,
			  c->acct.auth_id, in.v, &errs);
	err = svc_app_create(c->api->svc, &c->acct, &in, &errs, a);
	if (err)
		api_reply_errno(c, err, "Application", &errs);
	else
		api_reply_json(c, 201,
			       json_pack("{s:s, s:s, s:s}", "api_id", c->api_id,
					 "app_id", a->app_id, "message",
					 "created"));
	free(a);
out:
	json_decref(body);
	model_errors_free(&errs);
}

static int list_one(void *ctx, const struct model_app *a)
{
	struct api_page *p = ctx;
	json_t *o = app_json(p->c, a, false);

	if (!o || json_array_append_new(p->objects, o))
		return ENOMEM;
	return 0;
}

static int list_param(void *ctx, const char *key, const char *value)
{
	struct api_page *p = ctx;

	if (!api_page_param(p, key, value))
		model_errors_add(&p->errs, key, "Unknown query parameter");
	return 0;
}

static void list(struct api_ctx *c)
{
	struct api_page *p = calloc(1, sizeof(*p));
	int64_t total = 0;
	int err;

	if (!p) {
		api_reply_errno(c, ENOMEM, "Application", NULL);
		return;
	}
	api_page_init(p, c);
	http_req_query_each(c->req, list_param, p);
	if (p->errs.n) {
		api_reply_error(c, 400, API_E_PARAMS, NULL, &p->errs);
		goto out;
	}
	err = svc_app_list(c->api->svc, &c->acct, p->limit, p->offset, list_one,
			   p, &total);
	if (err)
		api_reply_errno(c, err, "Application", NULL);
	else
		api_page_reply(p, "Application", total);
out:
	api_page_fini(p);
	free(p);
}

void api_app_collection(struct api_ctx *c)
{
	if (strcmp(c->req->method, "GET") == 0) {
		if (!api_body_unused(c))
			list(c);
	} else
		create(c);
}

static void update(struct api_ctx *c)
{
	struct svc_app_input in;
	struct model_errors errs = {0};
	json_t *body;
	int err;

	if (api_body_object(c, true, &body))
		return;
	svc_app_input_init(&in);
	api_fields_decode(body, model_app_fields, MODEL_APP_FIELDS, false,
			  c->acct.auth_id, in.v, &errs);
	err = svc_app_update(c->api->svc, &c->acct, c->id, &in, &errs);
	if (err)
		api_reply_errno(c, err, "Application", &errs);
	else
		api_reply_json(c, 202,
			       json_pack("{s:s, s:s}", "api_id", c->api_id,
					 "message", "changed"));
	json_decref(body);
	model_errors_free(&errs);
}

/* Parses the DELETE body: new_endpoint_application and cascade. */
static void decode_delete(json_t *body, char *move_to, size_t cap,
			  bool *cascade, struct model_errors *errs)
{
	const char *key;
	json_t *v;

	json_object_foreach(body, key, v)
	{
		if (strcmp(key, "new_endpoint_application") == 0) {
			if (json_is_integer(v) && json_integer_value(v) >= 0)
				snprintf(move_to, cap, "%lld",
					 (long long)json_integer_value(v));
			else if (api_json_text(v) &&
				 json_string_length(v) < cap &&
				 model_id_check(api_json_text(v)) == 0)
				snprintf(move_to, cap, "%s", api_json_text(v));
			else
				model_errors_add(errs, key,
						 "Must be an application id");
		} else if (strcmp(key, "cascade") == 0) {
			if (json_is_boolean(v))
				*cascade = json_is_true(v);
			else if (json_is_string(v) &&
				 (strcmp(api_json_text(v), "true") == 0 ||
				  strcmp(api_json_text(v), "false") == 0))
				*cascade =
				    strcmp(api_json_text(v), "true") == 0;
			else
				model_errors_add(
				    errs, key, "Must be \"true\" or \"false\"");
		} else {
			model_errors_add(errs, key, "Unknown field");
		}
	}
	if (*move_to && *cascade)
		model_errors_add(errs, "cascade",
				 "Send either cascade or "
				 "new_endpoint_application, not both");
}

static void destroy(struct api_ctx *c)
{
	struct model_errors errs = {0};
	char move_to[MODEL_ID_MAX] = "", msg[160];
	bool cascade = false;
	int64_t in_use = 0;
	json_t *body;
	int err;

	if (api_body_object(c, false, &body))
		return;
	if (body)
		decode_delete(body, move_to, sizeof(move_to), &cascade, &errs);
	json_decref(body);
	if (errs.n) {
		api_reply_error(c, 400, API_E_PARAMS, NULL, &errs);
		model_errors_free(&errs);
		return;
	}
	err = svc_app_delete(c->api->svc, &c->acct, c->id,
			     move_to[0] ? move_to : NULL, cascade, &errs,
			     &in_use);
	if (err == EEXIST) {
		snprintf(msg, sizeof(msg),
			 "The application is used by %lld endpoint%s: send "
			 "new_endpoint_application or cascade to delete it",
			 (long long)in_use, in_use == 1 ? "" : "s");
		api_reply_error(c, 409, "conflict", msg, NULL);
	} else if (err) {
		api_reply_errno(c, err, "Application", &errs);
	} else {
		api_reply_empty(c, 204);
	}
	model_errors_free(&errs);
}

void api_app_item(struct api_ctx *c)
{
	struct model_app *a = calloc(1, sizeof(*a));
	int err;

	if (!a) {
		api_reply_errno(c, ENOMEM, "Application", NULL);
		return;
	}
	/* The resource (404) is checked before the body (415/413/400). */
	err = svc_app_get(c->api->svc, &c->acct, c->id, a);
	if (err)
		api_reply_errno(c, err, "Application", NULL);
	else if (strcmp(c->req->method, "POST") == 0)
		update(c);
	else if (strcmp(c->req->method, "DELETE") == 0)
		destroy(c);
	else if (!api_body_unused(c))
		api_reply_json(c, 200, app_json(c, a, true));
	free(a);
}
