/* internal.h - what the API's handler files share. Not for other layers. */
#ifndef API_INTERNAL_H
#define API_INTERNAL_H

#include <jansson.h>
#include <stdbool.h>

#include "base/throttle.h"
#include "cfg/cfg.h"
#include "http/server.h"
#include "model/cdr.h"
#include "model/field.h"
#include "model/model.h"
#include "svc/svc.h"

struct api {
	struct svc *svc;
	const struct cfg *cfg;
	/* Wrong credentials per (address, auth_id), and per address. */
	struct base_throttle *throttle, *throttle_addr;
	/* the SIP WebSocket ports, once bound (console/config.json) */
	_Atomic unsigned ws_port, wss_port;
};

/* One request in flight. */
struct api_ctx {
	struct api *api;
	const struct http_req *req;
	struct http_resp *resp;
	struct model_account acct;
	const char *prefix; /* "/v1" or "/api/v1", as the client used */
	const char *id;	    /* the item id in the path, or NULL */
	char api_id[40];
	char log_ctx[48]; /* "api_id=...", on the lines the request causes */
	int64_t t0_ms;	  /* base_time_now_ms() at the start, for the log */
	uint64_t t0_us;	  /* metric_now_us() at the start, for the metrics */
	unsigned route;	  /* enum api_route: the metrics' route template */
	/* answered later, from another thread (api_defer) */
	bool deferred;
};

/* Whether path is the web console's (/console, /console/...). */
bool api_console_path(const char *path);
/* Answers a request for the console (console.c): a file, config.json. */
void api_console(struct api_ctx *c);

/* Most writes queued at once for the writer thread (then 503). */
#define API_QUEUE_MAX 1024

/*
 * For a handler that answers c later (a write queued for the writer
 * thread): from now on c->resp is filled by api_deferred_done, once.
 */
void api_defer(struct api_ctx *c);
/* Logs the request, as every answer is, and sends c's answer (any thread;
 * c may be freed after). */
void api_deferred_done(struct api_ctx *c);

/* Error phrases ("error" in the body). */
#define API_E_PARAMS "invalid request parameters"
#define API_E_BODY "invalid request body"

/* Replies status with an error body; details may be NULL. */
void api_reply_error(struct api_ctx *c, int status, const char *error,
		     const char *message, const struct model_errors *details);

/* Replies to a failed svc call: maps err (an errno) to its HTTP status. */
void api_reply_errno(struct api_ctx *c, int err, const char *what,
		     const struct model_errors *details);

/* Replies status with obj as the body (takes ownership; may add api_id). */
void api_reply_json(struct api_ctx *c, int status, json_t *obj);

/* Forgets the reply set so far (to answer something else). */
void api_reply_reset(struct api_ctx *c);

/* Replies status with no body. */
void api_reply_empty(struct api_ctx *c, int status);

/*
 * Decodes the request body as a JSON object into *out. When the request has
 * no body: *out = NULL, or 400 when `required`. On any other problem
 * replies (415, 413 or 400) and returns EINVAL.
 */
int api_body_object(struct api_ctx *c, bool required, json_t **out);

/*
 * For a GET that carries a body anyway: checks its content type, size and
 * form like any body (415/413/400) and ignores it. Returns 0 or EINVAL
 * after replying.
 */
int api_body_unused(struct api_ctx *c);

/*
 * Writes v as compact JSON, objects in insertion order, into a new buffer
 * (*len bytes, NUL-terminated). jansson's own json_dumps costs a quarter of
 * a retrieve (it formats a pointer per container to detect loops).
 * Returns NULL on ENOMEM.
 */
char *api_json_dump(const json_t *v, size_t *len);

/*
 * A JSON writer straight into a growing buffer, for the answers served
 * most (an endpoint, a page of them): no jansson tree to build and free.
 * Values in an object take their key; in an array (or at the top) key is
 * NULL. Output is byte for byte what api_json_dump writes for the same
 * tree. A string that is not valid UTF-8 is written as null (jansson
 * would refuse it). Out of memory: failed, and the reply is a 500.
 */
struct api_jw {
	char *p;
	size_t len, cap;
	bool failed;
	bool comma; /* a value precedes: the next one needs a ',' */
};

/* Opens an object ('{') or array ('['); api_jw_close with '}' or ']'. */
void api_jw_open(struct api_jw *w, const char *key, char open);
void api_jw_close(struct api_jw *w, char close);
/* A string, or null when s is NULL. */
void api_jw_str(struct api_jw *w, const char *key, const char *s);
void api_jw_null(struct api_jw *w, const char *key);
void api_jw_bool(struct api_jw *w, const char *key, bool v);
void api_jw_int(struct api_jw *w, const char *key, long long v);
/* A time as api_json_time writes it. */
void api_jw_time(struct api_jw *w, const char *key, int64_t ms);
/* A jansson value. */
void api_jw_value(struct api_jw *w, const char *key, const json_t *v);
/* n bytes of JSON written elsewhere, as they are. */
void api_jw_raw(struct api_jw *w, const char *s, size_t n);
void api_jw_free(struct api_jw *w);
/* Replies status with what w holds (taken; w is left empty). */
void api_reply_jw(struct api_ctx *c, int status, struct api_jw *w);

/* Overwrites every string value of obj (recursively) before it is freed. */
void api_json_wipe(json_t *obj);

/* Strict decimal parse of a query value into lo..hi; returns 0 or EINVAL. */
int api_parse_int(const char *s, long long lo, long long hi, long long *out);

/* Writes "YYYY-..Z" for ms into a new JSON string. */
json_t *api_json_time(int64_t ms);

/* Appends "&key=value" (URL-encoded) to buf (cap bytes). */
void api_query_append(char *buf, size_t cap, const char *key,
		      const char *value);

/*
 * The value of a JSON string without embedded NUL characters, else NULL.
 * Bodies are decoded with JSON_ALLOW_NUL so that "\u0000" in a field is
 * reported against that field; every string must be read through here.
 */
const char *api_json_text(const json_t *v);

/*
 * Decodes the JSON object body by the field table t[0..n) into vals
 * (indexed like t) for a create (create) or an update: every key must
 * name a field (or its synonym), a locked field cannot be sent to an
 * update, each value must have its field's JSON type, and a field's two
 * spellings must agree. Each wrong key gets its sentence in errs; its
 * value stays absent. auth_id is the caller's, for sub_account. String
 * values point into body.
 */
void api_fields_decode(json_t *body, const struct model_field *t, unsigned n,
		       bool create, const char *auth_id,
		       struct model_value *vals, struct model_errors *errs);

/* A JSON string, or null when s is NULL or "". */
json_t *api_json_str_or_null(const char *s);

/* Paging state of a list request. */
#define API_PAGE_PARAMS_MAX 16
struct api_page {
	struct api_ctx *c;
	long long limit, offset;
	/* Keyset paging (set keyset before the parameters): `after` names
	 * the last object of the page before; meta.next carries the page's
	 * last object (last, set by the lister) as its after. */
	bool keyset;
	const char *after;
	char last[MODEL_ID_MAX];
	bool more; /* keyset: whether an object follows the page */
	unsigned n;
	const char *keys[API_PAGE_PARAMS_MAX];
	const char *vals[API_PAGE_PARAMS_MAX];
	struct model_errors errs;
	json_t *objects;
	/* or the objects written straight (api_page_writer) */
	struct api_jw objs;
	bool direct;
};

/* Sets the defaults (limit 20, offset 0) and an empty objects array. */
void api_page_init(struct api_page *p, struct api_ctx *c);
void api_page_fini(struct api_page *p);

/*
 * Records a query parameter (a repeated one, or a value that is NULL for
 * holding a NUL byte, is an error) and parses limit, offset and (for a
 * keyset page) after. Returns true when the parameter was one of them, or
 * was refused; false when the caller must interpret it.

 */
bool api_page_param(struct api_page *p, const char *key, const char *value);

/*
 * The writer that the page's objects go to instead, one api_jw_open(w,
 * NULL, '{') .. api_jw_close per object.
 */
struct api_jw *api_page_writer(struct api_page *p);

/* Replies 200 {"api_id", "meta": {...}, "objects": [...]}. */
void api_page_reply(struct api_page *p, const char *resource, int64_t total);

/* Handlers. */
void api_endpoint_collection(struct api_ctx *c);
void api_endpoint_item(struct api_ctx *c);
void api_app_collection(struct api_ctx *c);
void api_app_item(struct api_ctx *c);
void api_call_collection(struct api_ctx *c);
void api_call_item(struct api_ctx *c);

#endif
