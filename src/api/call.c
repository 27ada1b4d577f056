/*
 * call.c - the Call resource (calls-contract.md "Calls in the REST API"):
 * call detail records (list with filters, retrieve), calls in progress
 * (?status=live: list, retrieve) and the hangup of a live call (DELETE),
 * which the node carrying the call carries out.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "api/internal.h"

/* The most call_uuids a live list shows. */
#define LIVE_LIST_MAX 4096

/* A call time as Plivo writes it, or null for 0 when nullable. */
static json_t *call_time(int64_t ms, bool nullable)
{
	char buf[MODEL_TIME_MAX];

	if (nullable && ms == 0)
		return json_null();
	return json_string(model_time_format(ms, buf, sizeof(buf)));
}

/* The CDR object of calls-contract.md; api_id when with_api_id. */
static json_t *cdr_json(struct api_ctx *c, const struct model_cdr *r,
			bool with_api_id)
{
	char buf[128];
	json_t *o = json_object();

	if (!o)
		return NULL;
	if (with_api_id)
		json_object_set_new(o, "api_id", json_string(c->api_id));
	json_object_set_new(o, "call_uuid", json_string(r->call_uuid));
	json_object_set_new(o, "parent_call_uuid",
			    api_json_str_or_null(r->parent_call_uuid));
	json_object_set_new(o, "from_number", json_string(r->from_number));
	json_object_set_new(o, "to_number", json_string(r->to_number));
	json_object_set_new(o, "caller_name", json_string(r->caller_name));
	json_object_set_new(o, "call_direction",
			    json_string(r->call_direction));
	json_object_set_new(o, "call_duration", json_integer(r->call_duration));
	json_object_set_new(o, "bill_duration", json_integer(r->bill_duration));
	json_object_set_new(o, "initiation_time",
			    call_time(r->initiation_ms, false));
	json_object_set_new(o, "answer_time", call_time(r->answer_ms, true));
	json_object_set_new(o, "end_time", call_time(r->end_ms, false));
	json_object_set_new(o, "hangup_cause_name",
			    json_string(r->hangup_cause_name));
	json_object_set_new(o, "hangup_cause_code",
			    json_integer(r->hangup_cause_code));
	json_object_set_new(o, "hangup_source", json_string(r->hangup_source));
	json_object_set_new(o, "endpoint_id",
			    api_json_str_or_null(r->endpoint_id));
	snprintf(buf, sizeof(buf), "/v1/Account/%s/Call/%s/", c->acct.auth_id,
		 r->call_uuid);
	json_object_set_new(o, "resource_uri", json_string(buf));
	return o;
}

/* ---- query parameters ---- */

enum param {
	P_DIRECTION,
	P_FROM,
	P_TO,
	P_CAUSE,
	P_END_GT,
	P_END_GTE,
	P_END_LT,
	P_END_LTE,
	P_STATUS,
};

/* The list's parameters; end_time__* also with a single underscore. */
static const struct {
	const char *name, *alt;
} params[] = {
    [P_DIRECTION] = {"call_direction", NULL},
    [P_FROM] = {"from_number", NULL},
    [P_TO] = {"to_number", NULL},
    [P_CAUSE] = {"hangup_cause_code", NULL},
    [P_END_GT] = {"end_time__gt", "end_time_gt"},
    [P_END_GTE] = {"end_time__gte", "end_time_gte"},
    [P_END_LT] = {"end_time__lt", "end_time_lt"},
    [P_END_LTE] = {"end_time__lte", "end_time_lte"},
    [P_STATUS] = {"status", NULL},
};
#define NPARAMS (sizeof(params) / sizeof(params[0]))

struct list_q {
	struct api_page page;
	struct svc_cdr_filter f;
	unsigned seen; /* bit i: params[i] given, in either spelling */
	bool live;     /* status=live */
};

/*
 * An end_time bound: the second it names covers its 1000 ms, so that a
 * filter agrees with the end_time shown (whole seconds): __gt is after
 * its last millisecond, __lte up to it.
 */
static int end_bound(const char *value, enum param p, int64_t *out)
{
	int64_t s;

	if (model_time_parse(value, &s))
		return EINVAL;
	*out = s * 1000 + (p == P_END_GT || p == P_END_LTE ? 999 : 0);
	return 0;
}

/* Interprets a parameter of params[p] into q. */
static void list_value(struct list_q *q, enum param p, const char *key,
		       const char *value)
{
	struct model_errors *errs = &q->page.errs;
	struct svc_cdr_filter *f = &q->f;
	int64_t *bound[] = {[P_END_GT] = &f->end_gt,
			    [P_END_GTE] = &f->end_gte,
			    [P_END_LT] = &f->end_lt,
			    [P_END_LTE] = &f->end_lte};
	long long v;

	switch (p) {
	case P_DIRECTION:
		if (strcmp(value, "inbound") && strcmp(value, "outbound"))
			model_errors_add(errs, key,
					 "Must be inbound or outbound");
		f->call_direction = value;
		break;
	case P_FROM:
		f->from_number = value;
		break;
	case P_TO:
		f->to_number = value;
		break;
	case P_CAUSE:
		if (api_parse_int(value, 0, 99999, &v))
			model_errors_add(errs, key,
					 "Must be an integer from 0 to 99999");
		else
			f->hangup_cause_code = v;
		break;
	case P_END_GT:
	case P_END_GTE:
	case P_END_LT:
	case P_END_LTE:
		if (end_bound(value, p, bound[p]))
			model_errors_add(errs, key,
					 "Must be a UTC time as YYYY-MM-DD "
					 "HH:MM or YYYY-MM-DD HH:MM:SS");
		break;
	case P_STATUS:
		if (strcmp(value, "live"))
			model_errors_add(errs, key, "Must be live");
		q->live = true;
		break;
	}
}

static int list_param(void *ctx, const char *key, const char *value)
{
	struct list_q *q = ctx;

	if (api_page_param(&q->page, key, value))
		return 0;
	for (unsigned i = 0; i < NPARAMS; i++) {
		bool alt = params[i].alt && strcmp(key, params[i].alt) == 0;
		if (!alt && strcmp(key, params[i].name) != 0)
			continue;
		if (q->seen & 1u << i) {
			/* The other spelling came first: never last-wins. */
			model_errors_add(&q->page.errs, key,
					 "Given also as %s; send one spelling",
					 alt ? params[i].name : params[i].alt);
			return 0;
		}
		q->seen |= 1u << i;
		list_value(q, (enum param)i, key, value);
		return 0;
	}
	model_errors_add(&q->page.errs, key, "Unknown query parameter");
	return 0;
}

/* ---- lists ---- */

static void cdr_list(struct api_ctx *c, struct list_q *q)
{
	struct model_cdr *rows;
	int64_t total = 0;
	unsigned n = 0;
	int err;

	rows = malloc((size_t)q->page.limit * sizeof(*rows));
	if (!rows) {
		api_reply_errno(c, ENOMEM, "Call", NULL);
		return;
	}
	err = svc_cdr_list(c->api->svc, &c->acct, &q->f, q->page.limit,
			   q->page.offset, rows, &n, &total);
	for (unsigned i = 0; !err && i < n; i++) {
		json_t *o = cdr_json(c, &rows[i], false);
		if (!o || json_array_append_new(q->page.objects, o))
			err = ENOMEM;
	}
	if (err)
		api_reply_errno(c, err, "Call", NULL);
	else
		api_page_reply(&q->page, "Call", total);
	free(rows);
}

static void live_list(struct api_ctx *c)
{
	char(*ids)[MODEL_UUID_MAX] = malloc(LIVE_LIST_MAX * sizeof(*ids));
	json_t *calls = json_array(), *o;
	unsigned n = 0;
	int err = ids && calls ? 0 : ENOMEM;

	if (!err)
		err = svc_live_list(c->api->svc, &c->acct, ids, LIVE_LIST_MAX,
				    &n);
	for (unsigned i = 0; !err && i < n; i++)
		if (json_array_append_new(calls, json_string(ids[i])))
			err = ENOMEM;
	free(ids);
	if (err) {
		json_decref(calls);
		api_reply_errno(c, err, "Call", NULL);
		return;
	}
	o = json_object();
	json_object_set_new(o, "api_id", json_string(c->api_id));
	json_object_set_new(o, "calls", calls);
	api_reply_json(c, 200, o);
}

void api_call_collection(struct api_ctx *c)
{
	struct list_q *q;

	if (api_body_unused(c))
		return;
	q = calloc(1, sizeof(*q));
	if (!q) {
		api_reply_errno(c, ENOMEM, "Call", NULL);
		return;
	}
	api_page_init(&q->page, c);
	svc_cdr_filter_init(&q->f);
	http_req_query_each(c->req, list_param, q);
	if (q->live) /* the live list takes no other parameter */
		for (unsigned i = 0; i < q->page.n; i++)
			if (strcmp(q->page.keys[i], "status") != 0)
				model_errors_add(
				    &q->page.errs, q->page.keys[i],
				    "Not accepted with status=live");
	if (q->page.errs.n)
		api_reply_error(c, 400, API_E_PARAMS, NULL, &q->page.errs);
	else if (q->live)
		live_list(c);
	else
		cdr_list(c, q);
	api_page_fini(&q->page);
	free(q);
}

/* ---- one call ---- */

/* The query of an item: only status=live, and only on GET. */
struct item_q {
	struct model_errors errs;
	bool get, live, seen;
};

static int item_param(void *ctx, const char *key, const char *value)
{
	struct item_q *q = ctx;

	if (!q->get || strcmp(key, "status") != 0)
		model_errors_add(&q->errs, key, "Unknown query parameter");
	else if (q->seen)
		model_errors_add(&q->errs, key, "Given more than once");
	else if (!value || strcmp(value, "live") != 0)
		model_errors_add(&q->errs, key, "Must be live");
	else
		q->live = true;
	q->seen |= strcmp(key, "status") == 0;
	return 0;
}

static json_t *live_json(struct api_ctx *c, const struct model_live_call *l)
{
	json_t *o = json_object();

	if (!o)
		return NULL;
	json_object_set_new(o, "api_id", json_string(c->api_id));
	json_object_set_new(o, "call_uuid", json_string(l->call_uuid));
	json_object_set_new(o, "direction", json_string(l->direction));
	json_object_set_new(o, "from", json_string(l->from));
	json_object_set_new(o, "to", json_string(l->to));
	json_object_set_new(o, "caller_name", json_string(l->caller_name));
	json_object_set_new(o, "call_status", json_string(l->call_status));
	json_object_set_new(o, "session_start",
			    call_time(l->session_start_ms, false));
	return o;
}

/* DELETE: a live call's hangup, carried out by the node carrying it. */
static void hangup(struct api_ctx *c, struct model_live_call *l)
{
	struct model_errors errs = {0};
	const char *key;
	json_t *body, *v;
	int err;

	/* The resource (404) is checked before the body (415/413/400). */
	err = svc_live_get(c->api->svc, &c->acct, c->id, l);
	if (err) {
		api_reply_errno(c, err, "Live call", NULL);
		return;
	}
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
	err = svc_live_hangup(c->api->svc, &c->acct, c->id);
	if (err)
		api_reply_errno(c, err, "Live call", NULL);
	else
		api_reply_empty(c, 204); /* asked; the node hangs up */
}

void api_call_item(struct api_ctx *c)
{
	struct item_q q = {.get = strcmp(c->req->method, "GET") == 0};
	struct model_live_call *l = NULL;
	struct model_cdr *r = NULL;
	int err;

	/* Not a UUID: no such call, whatever else the request says. */
	if (!model_uuid_check(c->id)) {
		api_reply_errno(c, ENOENT, "Call", NULL);
		return;
	}
	http_req_query_each(c->req, item_param, &q);
	if (q.errs.n) {
		api_reply_error(c, 400, API_E_PARAMS, NULL, &q.errs);
		goto out;
	}
	l = malloc(sizeof(*l));
	r = malloc(sizeof(*r));
	if (!l || !r) {
		api_reply_errno(c, ENOMEM, "Call", NULL);
		goto out;
	}
	if (!q.get) {
		hangup(c, l);
	} else if (q.live) {
		err = svc_live_get(c->api->svc, &c->acct, c->id, l);
		if (err)
			api_reply_errno(c, err, "Live call", NULL);
		else if (!api_body_unused(c))
			api_reply_json(c, 200, live_json(c, l));
	} else {
		err = svc_cdr_get(c->api->svc, &c->acct, c->id, r);
		if (err)
			api_reply_errno(c, err, "Call", NULL);
		else if (!api_body_unused(c))
			api_reply_json(c, 200, cdr_json(c, r, true));
	}
out:
	model_errors_free(&q.errs);
	free(l);
	free(r);
}
