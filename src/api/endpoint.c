/* endpoint.c - the Endpoint resource: JSON <-> model, list paging/filters. */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "api/internal.h"
#include "base/crypto.h"
#include "base/time.h"

static void app_ref_write(struct api_jw *w, const struct model_endpoint *ep)
{
	if (!ep->app_ref || !ep->app.app_id[0]) {
		api_jw_null(w, "application");
		return;
	}
	api_jw_open(w, "application", '{');
	api_jw_str(w, "app_id", ep->app.app_id);
	api_jw_str(w, "app_name", ep->app.app_name);
	api_jw_str(w, "answer_url", ep->app.answer_url);
	api_jw_str(w, "answer_method", ep->app.answer_method);
	api_jw_close(w, '}');
}

/* Writes the sip_* fields from the endpoint's live bindings. */
static void registrations_write(struct api_jw *w, const struct svc_bindings *bs)
{
	const struct model_binding *newest = NULL;

	for (unsigned i = 0; bs && i < bs->n; i++)
		if (!newest || bs->b[i].updated_ms >= newest->updated_ms)
			newest = &bs->b[i];
	api_jw_str(w, "sip_registered", newest ? "true" : "false");
	api_jw_str(w, "sip_contact", newest ? newest->contact : NULL);
	if (newest)
		api_jw_time(w, "sip_expires", newest->expires_ms);
	else
		api_jw_null(w, "sip_expires");
	api_jw_str(w, "sip_user_agent", newest ? newest->user_agent : NULL);
	api_jw_open(w, "sip_registrations", '[');
	for (unsigned i = 0; bs && i < bs->n; i++) {
		const struct model_binding *b = &bs->b[i];
		api_jw_open(w, NULL, '{');
		api_jw_str(w, "contact", b->contact);
		api_jw_time(w, "expires", b->expires_ms);
		api_jw_str(w, "user_agent", b->user_agent);
		api_jw_str(w, "received", b->received);
		api_jw_str(w, "transport", b->transport);
		api_jw_close(w, '}');
	}
	api_jw_close(w, ']');
}

/* The endpoint object of api-contract.md; api_id when with_api_id. */
static void endpoint_write(struct api_jw *w, struct api_ctx *c,
			   const struct model_endpoint *ep,
			   const struct svc_bindings *bs, bool with_api_id)
{
	char buf[MODEL_USERNAME_MAX + MODEL_DOMAIN_MAX + 64];

	api_jw_open(w, NULL, '{');
	if (with_api_id)
		api_jw_str(w, "api_id", c->api_id);
	api_jw_str(w, "endpoint_id", ep->endpoint_id);
	api_jw_str(w, "username", ep->username);
	api_jw_str(w, "alias", ep->alias);
	api_jw_str(w, "domain", ep->domain);
	snprintf(buf, sizeof(buf), "sip:%s@%s", ep->username, ep->domain);
	api_jw_str(w, "sip_uri", buf);
	app_ref_write(w, ep);
	for (int i = 0; i < MODEL_ALLOW_COUNT; i++)
		api_jw_bool(w, model_endpoint_fields[MODEL_EP_ALLOW(i)].name,
			    ep->allow[i]);
	registrations_write(w, bs);
	api_jw_null(w, "sub_account");
	snprintf(buf, sizeof(buf), "/v1/Account/%s/Endpoint/%s/",
		 c->acct.auth_id, ep->endpoint_id);
	api_jw_str(w, "resource_uri", buf);
	api_jw_time(w, "created_at", ep->created_ms);
	api_jw_time(w, "updated_at", ep->updated_ms);
	api_jw_close(w, '}');
}

/* Decodes the body of a create (create) or an update into in. */
static void decode_endpoint(struct api_ctx *c, json_t *body, bool create,
			    struct svc_endpoint_input *in,
			    struct model_errors *errs)
{
	svc_endpoint_input_init(in);
	api_fields_decode(body, model_endpoint_fields, MODEL_EP_FIELDS, create,
			  c->acct.auth_id, in->v, errs);
}

static void create(struct api_ctx *c)
{
	struct svc_endpoint_input in;
	struct model_errors errs = {0};
	struct model_endpoint *ep = NULL;
	char buf[MODEL_USERNAME_MAX + MODEL_DOMAIN_MAX + 64];
	json_t *body, *o;
	int err;

	if (api_body_object(c, true, &body))
		return;
	ep = calloc(1, sizeof(*ep));
	if (!ep) {
		api_reply_errno(c, ENOMEM, "Endpoint", NULL);
		goto out;
	}
	decode_endpoint(c, body, true, &in, &errs);
	err = svc_endpoint_create(c->api->svc, &c->acct, &in, &errs, ep);
	if (err == EEXIST) {
		snprintf(buf, sizeof(buf),
			 "Username '%s' is already taken in domain %s",
			 in.v[MODEL_EP_USERNAME].text, c->acct.domain);
		api_reply_error(c, 409, "conflict", buf, NULL);
		goto out;
	}
	if (err) {
		api_reply_errno(c, err, "Endpoint", &errs);
		goto out;
	}
	o = json_object();
	json_object_set_new(o, "api_id", json_string(c->api_id));
	json_object_set_new(o, "message", json_string("created"));
	json_object_set_new(o, "endpoint_id", json_string(ep->endpoint_id));
	json_object_set_new(o, "username", json_string(ep->username));
	json_object_set_new(o, "alias", json_string(ep->alias));
	snprintf(buf, sizeof(buf), "sip:%s@%s", ep->username, ep->domain);
	json_object_set_new(o, "sip_uri", json_string(buf));
	snprintf(buf, sizeof(buf), "/v1/Account/%s/Endpoint/%s/",
		 c->acct.auth_id, ep->endpoint_id);
	json_object_set_new(o, "resource_uri", json_string(buf));
	api_reply_json(c, 201, o);
out:
	if (ep) { /* the HA1 values are its only secret */
		base_wipe(ep->ha1_md5, sizeof(ep->ha1_md5));
		base_wipe(ep->ha1_sha256, sizeof(ep->ha1_sha256));
	}
	free(ep);
	api_json_wipe(body);
	json_decref(body);
	model_errors_free(&errs);
}

/* ---- list ---- */

struct list_q {
	struct api_page page;
	struct svc_endpoint_filter f;
	unsigned seen; /* bit i: filters[i] given, in either spelling */
};

/* Filter names, each also accepted with a single underscore. */
static const struct {
	const char *name;
	const char *alt;
	size_t off; /* in struct svc_endpoint_filter, or -1 */
} filters[] = {
    {"username__exact", "username_exact",
     offsetof(struct svc_endpoint_filter, username_exact)},
    {"username__contains", "username_contains",
     offsetof(struct svc_endpoint_filter, username_contains)},
    {"username__startswith", "username_startswith",
     offsetof(struct svc_endpoint_filter, username_startswith)},
    {"alias__exact", "alias_exact",
     offsetof(struct svc_endpoint_filter, alias_exact)},
    {"alias__contains", "alias_contains",
     offsetof(struct svc_endpoint_filter, alias_contains)},
    {"application_id__exact", "application_id_exact",
     offsetof(struct svc_endpoint_filter, app_id_exact)},
    {"application_id__isnull", "application_id_isnull", (size_t)-1},
    {"sub_account", NULL, (size_t)-2},
    /* sipward's own: with (true) or without (false) a live registration */
    {"sip_registered", NULL, (size_t)-3},
};

static int list_param(void *ctx, const char *key, const char *value)
{
	struct list_q *q = ctx;
	struct model_errors *errs = &q->page.errs;

	if (api_page_param(&q->page, key, value))
		return 0;
	for (size_t i = 0; i < sizeof(filters) / sizeof(filters[0]); i++) {
		if (strcmp(key, filters[i].name) != 0 &&
		    !(filters[i].alt && strcmp(key, filters[i].alt) == 0))
			continue;
		if (q->seen & 1u << i) {
			/* The other spelling came first: never last-wins. */
			model_errors_add(errs, key,
					 "Given also as %s; send one spelling",
					 strcmp(key, filters[i].name) == 0
					     ? filters[i].alt
					     : filters[i].name);
			return 0;
		}
		q->seen |= 1u << i;
		if (filters[i].off == (size_t)-1 ||
		    filters[i].off == (size_t)-3) {
			int *v = filters[i].off == (size_t)-1
				     ? &q->f.app_isnull
				     : &q->f.registered;
			if (strcmp(value, "true") == 0)
				*v = 1;
			else if (strcmp(value, "false") == 0)
				*v = 0;
			else
				model_errors_add(errs, key,
						 "Must be true or false");
		} else if (filters[i].off == (size_t)-2) {
			if (strcmp(value, q->page.c->acct.auth_id) != 0)
				model_errors_add(errs, key,
						 "Unknown sub-account");
		} else {
			if (filters[i].off ==
				offsetof(struct svc_endpoint_filter,
					 app_id_exact) &&
			    model_id_check(value))
				model_errors_add(errs, key,
						 "Must be an application id");
			*(const char **)((char *)&q->f + filters[i].off) =
			    value;
		}
		return 0;
	}
	model_errors_add(errs, key, "Unknown query parameter");
	return 0;
}

static int list_one(void *ctx, const struct model_endpoint *ep,
		    const struct svc_bindings *bs)
{
	struct list_q *q = ctx;
	struct api_jw *w = api_page_writer(&q->page);

	endpoint_write(w, q->page.c, ep, bs, false);
	if (w->failed)
		return ENOMEM;
	memcpy(q->page.last, ep->endpoint_id, sizeof(q->page.last));
	return 0;
}

static void list(struct api_ctx *c)
{
	struct list_q *q;
	int64_t total = 0;
	int err;

	q = calloc(1, sizeof(*q));
	if (!q) {
		api_reply_errno(c, ENOMEM, "Endpoint", NULL);
		return;
	}
	api_page_init(&q->page, c);
	q->page.keyset = true;
	q->f.app_isnull = -1;
	q->f.registered = -1;
	http_req_query_each(c->req, list_param, q);
	if (q->page.errs.n) {
		api_reply_error(c, 400, API_E_PARAMS, NULL, &q->page.errs);
		goto out;
	}
	err = svc_endpoint_list(c->api->svc, &c->acct, &q->f, q->page.limit,
				q->page.offset, q->page.after, list_one, q,
				&total, &q->page.more);
	if (err) {
		api_reply_errno(c, err, "Endpoint", NULL);
		goto out;
	}
	api_page_reply(&q->page, "Endpoint", total);
out:
	api_page_fini(&q->page);
	free(q);
}

void api_endpoint_collection(struct api_ctx *c)
{
	if (strcmp(c->req->method, "GET") == 0) {
		if (!api_body_unused(c))
			list(c);
	} else
		create(c);
}

/* An update queued for the writer thread, and what its answer needs. */
struct queued_update {
	struct api_ctx c;
	char id[MODEL_ID_MAX];
	json_t *body;
	struct svc_endpoint_input in;
	struct model_errors errs;
};

/* Once the update is durable, or failed (the writer's thread). */
static void update_done(void *arg, int err)
{
	struct queued_update *u = arg;

	if (err)
		api_reply_errno(&u->c, err, "Endpoint", &u->errs);
	else
		api_reply_empty(&u->c, 202);
	api_json_wipe(u->body);
	json_decref(u->body);
	model_errors_free(&u->errs);
	api_deferred_done(&u->c);
	free(u);
}

/*
 * The update of a store whose writes queue: the body is checked here, the
 * endpoint read and written by the writer thread (404 then), and the answer
 * goes out once durable. A bad body of an endpoint that does not exist is
 * still a 404 (the resource is checked before the body).
 */
static void update_queued(struct api_ctx *c)
{
	struct queued_update *u;
	struct model_endpoint ep;
	json_t *body;
	int err;

	if (api_body_object(c, true, &body)) {
		err = svc_endpoint_get(c->api->svc, &c->acct, c->id, &ep, NULL);
		base_wipe(ep.ha1_md5, sizeof(ep.ha1_md5));
		base_wipe(ep.ha1_sha256, sizeof(ep.ha1_sha256));
		if (err == ENOENT) {
			api_reply_reset(c);
			api_reply_errno(c, ENOENT, "Endpoint", NULL);
		}
		return;
	}
	u = calloc(1, sizeof(*u));
	if (!u) {
		api_json_wipe(body);
		json_decref(body);
		api_reply_errno(c, ENOMEM, "Endpoint", NULL);
		return;
	}
	u->c = *c;
	snprintf(u->id, sizeof(u->id), "%s", c->id);
	u->c.id = u->id;
	u->body = body;
	decode_endpoint(&u->c, body, false, &u->in, &u->errs);
	api_defer(c);
	u->c.deferred = true;
	err = svc_endpoint_update_async(c->api->svc, &u->c.acct, u->id, &u->in,
					&u->errs, update_done, u,
					base_deadline_get(), API_QUEUE_MAX);
	if (err) /* not queued: answered now (503 for a full queue) */
		update_done(u, err == EAGAIN ? EBUSY : err);
}

static void update(struct api_ctx *c)
{
	struct svc_endpoint_input in;
	struct model_errors errs = {0};
	json_t *body;
	int err;

	if (api_body_object(c, true, &body))
		return;
	decode_endpoint(c, body, false, &in, &errs);
	err = svc_endpoint_update(c->api->svc, &c->acct, c->id, &in, &errs);
	if (err)
		api_reply_errno(c, err, "Endpoint", &errs);
	else
		api_reply_empty(c, 202);
	api_json_wipe(body);
	json_decref(body);
	model_errors_free(&errs);
}

static void destroy(struct api_ctx *c)
{
	struct model_errors errs = {0};
	const char *key;
	json_t *body, *v;
	int err;

	if (api_body_object(c, false, &body))
		return;
	json_object_foreach(body, key, v)
	    model_errors_add(&errs, key, "Unknown field");
	json_decref(body);
	if (errs.n) {
		api_reply_error(c, 400, API_E_PARAMS, NULL, &errs);
		model_errors_free(&errs);
		return;
	}
	err = svc_endpoint_delete(c->api->svc, &c->acct, c->id);
	if (err)
		api_reply_errno(c, err, "Endpoint", NULL);
	else
		api_reply_empty(c, 204);
}

void api_endpoint_item(struct api_ctx *c)
{
	struct model_endpoint *ep;
	struct svc_bindings *bs;
	bool get = strcmp(c->req->method, "GET") == 0;
	int err;

	if (strcmp(c->req->method, "POST") == 0 &&
	    svc_writes_queue(c->api->svc)) {
		update_queued(c); /* the writer reads the endpoint itself */
		return;
	}
	/* Filled by svc_endpoint_get: no need to zero them (38 KiB). */
	ep = malloc(sizeof(*ep));
	bs = malloc(sizeof(*bs));
	if (!ep || !bs) {
		api_reply_errno(c, ENOMEM, "Endpoint", NULL);
		goto out;
	}
	/* The resource (404) is checked before the body (415/413/400). */
	err =
	    svc_endpoint_get(c->api->svc, &c->acct, c->id, ep, get ? bs : NULL);
	if (err)
		api_reply_errno(c, err, "Endpoint", NULL);
	else if (strcmp(c->req->method, "POST") == 0)
		update(c);
	else if (strcmp(c->req->method, "DELETE") == 0)
		destroy(c);
	else if (!api_body_unused(c)) {
		struct api_jw w = {0};
		endpoint_write(&w, c, ep, bs, true);
		api_reply_jw(c, 200, &w);
	}
	/* the HA1 values are its only secret */
	base_wipe(ep->ha1_md5, sizeof(ep->ha1_md5));
	base_wipe(ep->ha1_sha256, sizeof(ep->ha1_sha256));
out:
	free(bs);
	free(ep);
}
