/*
 * api.c - the request pipeline of api-contract.md, in the contract's order
 * of checks: authentication (401/403, 429 when throttled), method (405), the
 * resource (404, in the handlers), the body (415/413/400), conflicts (409).
 */
#include "api/api.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include <openssl/evp.h>

#include "api/internal.h"
#include "base/crypto.h"
#include "base/id.h"
#include "base/log.h"
#include "base/metrics.h"
#include "base/text.h"
#include "base/time.h"

#define TOKEN_MAX 256

int api_new(struct api **out, struct svc *svc, const struct cfg *cfg)
{
	struct api *a = calloc(1, sizeof(*a));
	int err;

	if (!a)
		return ENOMEM;
	a->svc = svc;
	a->cfg = cfg;
	err = base_throttle_new(&a->throttle, cfg->auth_fail_max,
				cfg->auth_fail_window, cfg->auth_fail_penalty);
	if (!err)
		err = base_throttle_new(
		    &a->throttle_addr, cfg->auth_fail_addr_max,
		    cfg->auth_fail_window, cfg->auth_fail_penalty);
	if (err) {
		api_free(a);
		return err;
	}
	*out = a;
	return 0;
}

void api_free(struct api *a)
{
	if (!a)
		return;
	base_throttle_free(a->throttle);
	base_throttle_free(a->throttle_addr);
	free(a);
}

/* ---- replies ---- */

/* Makes room for n more bytes and the NUL; false when out of memory. */
static bool jroom(struct api_jw *b, size_t n)
{
	size_t cap = b->cap ? b->cap : 4096;
	char *np;

	if (b->failed)
		return false;
	if (b->len + n + 1 <= b->cap)
		return true;
	while (cap < b->len + n + 1)
		cap *= 2;
	np = realloc(b->p, cap);
	if (!np) {
		b->failed = true;
		return false;
	}
	b->p = np;
	b->cap = cap;
	return true;
}

static void jput(struct api_jw *b, const char *s, size_t n)
{
	if (!jroom(b, n))
		return;
	memcpy(b->p + b->len, s, n);
	b->len += n;
	b->p[b->len] = '\0';
}

/* Whether s (n bytes) needs no escape in a JSON string. */
static bool jplain(const char *s, size_t n)
{
	for (size_t i = 0; i < n; i++) {
		unsigned char c = (unsigned char)s[i];
		if (c < 0x20 || c == '"' || c == '\\')
			return false;
	}
	return true;
}

/* Writes pre, s (n bytes, nothing to escape), post: one copy. */
static void jput3(struct api_jw *b, char pre, const char *s, size_t n,
		  const char *post, size_t np)
{
	char *p;

	if (!jroom(b, 1 + n + np))
		return;
	p = b->p + b->len;
	*p++ = pre;
	memcpy(p, s, n);
	memcpy(p + n, post, np);
	b->len += 1 + n + np;
	b->p[b->len] = '\0';
}

/*
 * Writes s (valid UTF-8: jansson's strings are; the writer's are checked
 * first) as a JSON string, escaped as jansson escapes it.
 */
static void jstr(struct api_jw *b, const char *s, size_t n)
{
	static const char hex[] = "0123456789ABCDEF";
	size_t run = 0;

	if (jplain(s, n)) {
		jput3(b, '"', s, n, "\"", 1);
		return;
	}
	jput(b, "\"", 1);
	for (size_t i = 0; i < n; i++) {
		unsigned char c = (unsigned char)s[i];
		char esc[6] = {'\\', 'u', '0', '0', 0, 0};
		const char *shortcut = NULL;

		if (c >= 0x20 && c != '"' && c != '\\')
			continue;
		jput(b, s + run, i - run);
		run = i + 1;
		switch (c) {
		case '"':
			shortcut = "\\\"";
			break;
		case '\\':
			shortcut = "\\\\";
			break;
		case '\b':
			shortcut = "\\b";
			break;
		case '\f':
			shortcut = "\\f";
			break;
		case '\n':
			shortcut = "\\n";
			break;
		case '\r':
			shortcut = "\\r";
			break;
		case '\t':
			shortcut = "\\t";
			break;
		}
		if (shortcut) {
			jput(b, shortcut, 2);
		} else {
			esc[4] = hex[c >> 4];
			esc[5] = hex[c & 15];
			jput(b, esc, 6);
		}
	}
	jput(b, s + run, n - run);
	jput(b, "\"", 1);
}

static void jint(struct api_jw *b, long long v)
{
	char num[32];
	int n = snprintf(num, sizeof(num), "%lld", v);

	jput(b, num, (size_t)n);
}

static void jvalue(struct api_jw *b, const json_t *v, int depth)
{
	const char *key;
	size_t i;
	json_t *item;
	bool first = true;

	if (depth > 32) {
		b->failed = true;
		return;
	}
	switch (json_typeof(v)) {
	case JSON_OBJECT:
		jput(b, "{", 1);
		json_object_foreach((json_t *)v, key, item)
		{
			if (!first)
				jput(b, ",", 1);
			first = false;
			jstr(b, key, strlen(key));
			jput(b, ":", 1);
			jvalue(b, item, depth + 1);
		}
		jput(b, "}", 1);
		break;
	case JSON_ARRAY:
		jput(b, "[", 1);
		json_array_foreach(v, i, item)
		{
			if (i)
				jput(b, ",", 1);
			jvalue(b, item, depth + 1);
		}
		jput(b, "]", 1);
		break;
	case JSON_STRING:
		jstr(b, json_string_value(v), json_string_length(v));
		break;
	case JSON_INTEGER:
		jint(b, (long long)json_integer_value(v));
		break;
	case JSON_TRUE:
		jput(b, "true", 4);
		break;
	case JSON_FALSE:
		jput(b, "false", 5);
		break;
	default: /* null; reals are never produced */
		jput(b, "null", 4);
	}
}

char *api_json_dump(const json_t *v, size_t *len)
{
	struct api_jw b = {0};

	jvalue(&b, v, 0);
	if (b.failed || !b.p) {
		free(b.p);
		return NULL;
	}
	*len = b.len;
	return b.p;
}

/* ---- the writer: JSON straight into a buffer ---- */

/* The separator before a value, and its key when in an object. */
static void jkey(struct api_jw *w, const char *key)
{
	size_t n;

	if (w->comma)
		jput(w, ",", 1);
	w->comma = true;
	if (!key)
		return;
	n = strlen(key);
	if (jplain(key, n)) {
		jput3(w, '"', key, n, "\":", 2);
	} else {
		jstr(w, key, n);
		jput(w, ":", 1);
	}
}

void api_jw_open(struct api_jw *w, const char *key, char open)
{
	jkey(w, key);
	jput(w, &open, 1);
	w->comma = false;
}

void api_jw_close(struct api_jw *w, char close)
{
	jput(w, &close, 1);
	w->comma = true;
}

void api_jw_str(struct api_jw *w, const char *key, const char *s)
{
	size_t n, count;
	bool printable;

	if (!s) {
		api_jw_null(w, key);
		return;
	}
	n = strlen(s);
	jkey(w, key);
	/* what jansson refuses (json_string() is NULL) is written as null */
	for (size_t i = 0; i < n; i++) {
		if ((unsigned char)s[i] >= 0x80) {
			if (base_text_scan(s, n, &count, &printable)) {
				jput(w, "null", 4);
				return;
			}
			break;
		}
	}
	jstr(w, s, n);
}

void api_jw_null(struct api_jw *w, const char *key)
{
	jkey(w, key);
	jput(w, "null", 4);
}

void api_jw_bool(struct api_jw *w, const char *key, bool v)
{
	jkey(w, key);
	jput(w, v ? "true" : "false", v ? 4 : 5);
}

void api_jw_int(struct api_jw *w, const char *key, long long v)
{
	jkey(w, key);
	jint(w, v);
}

void api_jw_time(struct api_jw *w, const char *key, int64_t ms)
{
	char buf[32];

	api_jw_str(w, key, base_time_iso(ms, buf, sizeof(buf)));
}

void api_jw_value(struct api_jw *w, const char *key, const json_t *v)
{
	jkey(w, key);
	jvalue(w, v, 1);
}

void api_jw_raw(struct api_jw *w, const char *s, size_t n)
{
	jput(w, s, n);
}

void api_jw_free(struct api_jw *w)
{
	free(w->p);
	memset(w, 0, sizeof(*w));
}

void api_reply_jw(struct api_ctx *c, int status, struct api_jw *w)
{
	c->resp->status = status;
	if (w->failed || !w->p) {
		api_jw_free(w);
		api_reply_error(c, 500, "internal error", "Out of memory",
				NULL);
		return;
	}
	c->resp->body = w->p;
	c->resp->body_len = w->len;
	memset(w, 0, sizeof(*w));
}

static void set_body(struct api_ctx *c, int status, json_t *obj)
{
	c->resp->status = status;
	c->resp->body = obj ? api_json_dump(obj, &c->resp->body_len) : NULL;
	if (!c->resp->body)
		c->resp->status = 500;
	json_decref(obj);
}

void api_reply_json(struct api_ctx *c, int status, json_t *obj)
{
	set_body(c, status, obj);
}

void api_reply_reset(struct api_ctx *c)
{
	free(c->resp->body);
	c->resp->body = NULL;
	c->resp->body_len = 0;
	c->resp->nheaders = 0;
	c->resp->status = 0;
}

void api_reply_empty(struct api_ctx *c, int status)
{
	c->resp->status = status;
	c->resp->body = NULL;
}

void api_reply_error(struct api_ctx *c, int status, const char *error,
		     const char *message, const struct model_errors *details)
{
	json_t *o = json_object();
	char msg[200];

	if (!o) {
		c->resp->status = 500;
		return;
	}
	if (details && details->n > 0 && !message) {
		if (details->n == 1)
			snprintf(msg, sizeof(msg), "%s", details->e[0].msg);
		else
			snprintf(msg, sizeof(msg),
				 "%u fields are invalid: see details",
				 details->n);
		message = msg;
	}
	json_object_set_new(o, "api_id", json_string(c->api_id));
	json_object_set_new(o, "error", json_string(error));
	json_object_set_new(o, "message",
			    json_string(message ? message : error));
	if (details && details->n > 0) {
		json_t *d = json_object();
		for (unsigned i = 0; d && i < details->n; i++)
			json_object_set_new(d, model_errors_field(details, i),
					    json_string(details->e[i].msg));
		json_object_set_new(o, "details", d);
	}
	set_body(c, status, o);
}

/* The one table from errno to HTTP status, phrase and message. */
static const struct {
	int err;
	int status;
	const char *error;
	const char
	    *message; /* after the resource name when it starts with ' ' */
} errno_map[] = {
    {ENOENT, 404, "not found", " not found"},
    {EINVAL, 400, API_E_PARAMS, "Invalid request parameters"},
    {ERANGE, 400, API_E_PARAMS, "A value is out of range"},
    {EBADMSG, 400, API_E_BODY, "The request body could not be parsed"},
    {EEXIST, 409, "conflict", " already exists"},
    {EACCES, 401, "unauthorized", "Authentication failed"},
    {EPERM, 403, "forbidden", "Not allowed"},
    {EBUSY, 503, "service unavailable", "The store is busy; retry the request"},
    {EIO, 503, "service unavailable",
     "The store is unavailable; retry the request"},
    {ETIMEDOUT, 503, "service unavailable",
     "The store did not answer in time; nothing was changed, retry the "
     "request"},
    {ENOMEM, 500, "internal error", "Out of memory"},
};

void api_reply_errno(struct api_ctx *c, int err, const char *what,
		     const struct model_errors *details)
{
	char msg[160];

	for (size_t i = 0; i < sizeof(errno_map) / sizeof(errno_map[0]); i++) {
		if (errno_map[i].err != err)
			continue;
		snprintf(msg, sizeof(msg), "%s%s",
			 errno_map[i].message[0] == ' ' ? what : "",
			 errno_map[i].message);
		if (err == EINVAL && details && details->n)
			api_reply_error(c, 400, API_E_PARAMS, NULL, details);
		else
			api_reply_error(c, errno_map[i].status,
					errno_map[i].error, msg, NULL);
		if (errno_map[i].status >= 500)
			http_resp_header(c->resp, "Retry-After", "1");
		return;
	}
	api_reply_error(c, 500, "internal error", "Internal error", NULL);
}

/* ---- small helpers ---- */

int api_parse_int(const char *s, long long lo, long long hi, long long *out)
{
	long long v = 0;

	if (!*s || strlen(s) > 15)
		return EINVAL;
	for (const char *p = s; *p; p++) {
		if (*p < '0' || *p > '9')
			return EINVAL;
		v = v * 10 + (*p - '0');
	}
	if (v < lo || v > hi)
		return EINVAL;
	*out = v;
	return 0;
}

json_t *api_json_time(int64_t ms)
{
	char buf[32];

	return json_string(base_time_iso(ms, buf, sizeof(buf)));
}

const char *api_json_text(const json_t *v)
{
	const char *s = json_string_value(v);

	if (!s || strlen(s) != json_string_length(v))
		return NULL;
	return s;
}

json_t *api_json_str_or_null(const char *s)
{
	return s && *s ? json_string(s) : json_null();
}

void api_query_append(char *buf, size_t cap, const char *key, const char *value)
{
	static const char hex[] = "0123456789ABCDEF";
	size_t n = strlen(buf);
	const char *parts[2] = {key, value};

	for (int k = 0; k < 2; k++) {
		if (n + 2 >= cap)
			return;
		buf[n++] = k == 0 ? '&' : '=';
		for (const unsigned char *p = (const unsigned char *)parts[k];
		     *p && n + 4 < cap; p++) {
			if ((*p >= 'a' && *p <= 'z') ||
			    (*p >= 'A' && *p <= 'Z') ||
			    (*p >= '0' && *p <= '9') || *p == '_' ||
			    *p == '-' || *p == '.' || *p == '~') {
				buf[n++] = (char)*p;
			} else {
				buf[n++] = '%';
				buf[n++] = hex[*p >> 4];
				buf[n++] = hex[*p & 15];
			}
		}
		buf[n] = '\0';
	}
}

void api_json_wipe(json_t *obj)
{
	const char *key;
	json_t *v;
	size_t i;

	if (json_is_object(obj)) {
		json_object_foreach(obj, key, v) api_json_wipe(v);
	} else if (json_is_array(obj)) {
		json_array_foreach(obj, i, v) api_json_wipe(v);
	} else if (json_is_string(obj)) {
		base_wipe((char *)json_string_value(obj),
			  json_string_length(obj));
	}
}

/* ---- body ---- */

/* True for "application/json" with at most a UTF-8 charset parameter. */
static int content_type_ok(const char *ct)
{
	const char *p;

	if (!ct)
		return 0;
	while (*ct == ' ')
		ct++;
	if (strncasecmp(ct, "application/json", 16) != 0)
		return 0;
	p = ct + 16;
	while (*p == ' ' || *p == '\t')
		p++;
	if (*p == '\0')
		return 1;
	if (*p != ';')
		return 0;
	p++;
	while (*p == ' ' || *p == '\t')
		p++;
	if (*p == '\0')
		return 1;
	if (strncasecmp(p, "charset=", 8) != 0)
		return 0;
	p += 8;
	if (*p == '"')
		p++;
	if (strncasecmp(p, "utf-8", 5) != 0 && strncasecmp(p, "utf8", 4) != 0)
		return 0;
	p += strncasecmp(p, "utf-8", 5) == 0 ? 5 : 4;
	if (*p == '"')
		p++;
	while (*p == ' ' || *p == '\t')
		p++;
	return *p == '\0';
}

int api_body_object(struct api_ctx *c, bool required, json_t **out)
{
	const struct http_req *r = c->req;
	json_error_t jerr;
	json_t *root;
	char msg[160];

	*out = NULL;
	if (!r->has_body || (!r->body_too_large && r->body_len == 0)) {
		if (!required)
			return 0;
		api_reply_error(c, 400, API_E_BODY,
				"The request body is empty; send a JSON object",
				NULL);
		return EINVAL;
	}
	if (!content_type_ok(http_req_header(r, "Content-Type"))) {
		api_reply_error(c, 415, "unsupported media type",
				"Content-Type must be application/json "
				"(charset UTF-8)",
				NULL);
		return EINVAL;
	}
	if (r->body_too_large) {
		snprintf(msg, sizeof(msg),
			 "The request body is larger than %ld bytes",
			 c->api->cfg->body_max);
		api_reply_error(c, 413, "request entity too large", msg, NULL);
		return EINVAL;
	}
	root = json_loadb(r->body, r->body_len,
			  JSON_REJECT_DUPLICATES | JSON_ALLOW_NUL, &jerr);
	if (!root) {
		/* jerr.text may quote the input: never echo it. */
		switch (json_error_code(&jerr)) {
		case json_error_duplicate_key:
			snprintf(msg, sizeof(msg),
				 "The request body has a duplicate key "
				 "(line %d, column %d)",
				 jerr.line, jerr.column);
			break;
		case json_error_invalid_utf8:
			snprintf(msg, sizeof(msg),
				 "The request body is not valid UTF-8");
			break;
		default:
			snprintf(msg, sizeof(msg),
				 "The request body is not valid JSON "
				 "(line %d, column %d)",
				 jerr.line, jerr.column);
		}
		api_reply_error(c, 400, API_E_BODY, msg, NULL);
		return EINVAL;
	}
	if (!json_is_object(root)) {
		api_json_wipe(root);
		json_decref(root);
		api_reply_error(c, 400, API_E_BODY,
				"The request body must be a JSON object", NULL);
		return EINVAL;
	}
	*out = root;
	return 0;
}

int api_body_unused(struct api_ctx *c)
{
	json_t *body;

	if (api_body_object(c, false, &body))
		return EINVAL;
	json_decref(body);
	return 0;
}

/* ---- authentication ---- */

static bool auth_id_form(const char *s)
{
	if (strlen(s) != BASE_AUTH_ID_LEN || strncmp(s, "MA_", 3) != 0)
		return false;
	for (int i = 3; i < BASE_AUTH_ID_LEN; i++)
		if (!((s[i] >= 'A' && s[i] <= 'Z') ||
		      (s[i] >= '0' && s[i] <= '9')))
			return false;
	return true;
}

/*
 * Finds the credentials: the X-Auth pair, else HTTP Basic. Writes them into
 * id and token. Returns 0 or EACCES.
 */
static int credentials(const struct http_req *r, char *id, size_t idcap,
		       char *token, size_t tcap)
{
	const char *xid = http_req_header(r, "X-Auth-ID");
	const char *xtok = http_req_header(r, "X-Auth-Token");
	const char *authz = http_req_header(r, "Authorization");
	unsigned char dec[3 * 128 / 4 + 4];
	char *colon;
	size_t n;
	int len;

	if (xid || xtok) {
		if (!xid || !xtok || strlen(xid) >= idcap ||
		    strlen(xtok) >= tcap)
			return EACCES;
		memcpy(id, xid, strlen(xid) + 1);
		memcpy(token, xtok, strlen(xtok) + 1);
		return 0;
	}
	if (!authz || strncasecmp(authz, "Basic ", 6) != 0)
		return EACCES;
	authz += 6;
	while (*authz == ' ')
		authz++;
	n = strlen(authz);
	if (n == 0 || n % 4 != 0 || n > 128)
		return EACCES;
	len = EVP_DecodeBlock(dec, (const unsigned char *)authz, (int)n);
	if (len < 0)
		return EACCES;
	if (authz[n - 1] == '=')
		len--;
	if (authz[n - 2] == '=')
		len--;
	dec[len] = '\0';
	colon = memchr(dec, ':', (size_t)len);
	if (!colon || memchr(dec, '\0', (size_t)len) ||
	    (size_t)(colon - (char *)dec) >= idcap ||
	    strlen(colon + 1) >= tcap) {
		base_wipe(dec, sizeof(dec));
		return EACCES;
	}
	*colon = '\0';
	memcpy(id, dec, strlen((char *)dec) + 1);
	memcpy(token, colon + 1, strlen(colon + 1) + 1);
	base_wipe(dec, sizeof(dec));
	return 0;
}

/*
 * The throttle key of a pair: "auth_id|address" (at most 11 + 1 + 45
 * characters, within the throttle's 63).
 */
static void pair_key(const struct api_ctx *c, const char *id, char *key,
		     size_t cap)
{
	snprintf(key, cap, "%s|%s", id, c->req->client);
}

/*
 * Answers 429 when the pair (address, id) or the whole address is in a
 * penalty for wrong credentials; returns EAGAIN then.
 */
static int throttled(struct api_ctx *c, const char *id)
{
	int64_t now = base_time_mono_s();
	char key[80];
	long wait;

	pair_key(c, id, key, sizeof(key));
	wait = base_throttle_check(c->api->throttle, key, now);
	if (!wait)
		wait = base_throttle_check(c->api->throttle_addr,
					   c->req->client, now);
	if (!wait)
		return 0;
	api_reply_error(c, 429, "too many requests",
			"Too many failed authentications; retry later", NULL);
	http_resp_header(c->resp, "Retry-After", "%ld", wait);
	return EAGAIN;
}

/*
 * Authenticates the caller into c->acct; replies 401 (or 429) and returns
 * on failure. Only wrong credentials count towards the throttle: a request
 * without any is a plain 401, so that it costs nobody anything.
 */
static int authenticate(struct api_ctx *c)
{
	char id[32], token[TOKEN_MAX], key[80], q[80];
	int err;

	err = credentials(c->req, id, sizeof(id), token, sizeof(token));
	if (!err && !auth_id_form(id))
		id[0] = '\0'; /* counted per address only */
	if (!err && throttled(c, id)) {
		base_wipe(token, sizeof(token));
		return EAGAIN;
	}
	if (!err) {
		err = id[0] ? svc_account_auth(c->api->svc, id, token, &c->acct)
			    : EACCES;
		if (err == EACCES) {
			int64_t now = base_time_mono_s();
			pair_key(c, id, key, sizeof(key));
			base_throttle_fail(c->api->throttle, key, now);
			base_throttle_fail(c->api->throttle_addr,
					   c->req->client, now);
			LOG_WARN("api_auth_failed", "src=%s",
				 base_log_quote(c->req->client, q, sizeof(q)));
		}
	}
	base_wipe(token, sizeof(token));
	if (err == EACCES) {
		api_reply_error(c, 401, "unauthorized",
				"Missing or invalid credentials: send "
				"X-Auth-ID and X-Auth-Token",
				NULL);
		http_resp_header(c->resp, "WWW-Authenticate",
				 "Basic realm=\"sipward\"");
	} else if (err) {
		api_reply_errno(c, err, "Account", NULL);
	}
	return err;
}

/* A list's offset past which its GET runs on a read worker (api_inline). */
#define API_INLINE_OFFSET 10000

/* ---- metrics ---- */

/*
 * Route templates, the label of the HTTP metrics: a method and a path
 * with its ids as {placeholders}, so that no request creates a series.
 */
enum api_route {
	AR_OTHER, /* refused, unknown path, wrong method */
	AR_HEALTH,
	AR_EP_LIST,
	AR_EP_CREATE,
	AR_EP_GET,
	AR_EP_UPDATE,
	AR_EP_DELETE,
	AR_APP_LIST,
	AR_APP_CREATE,
	AR_APP_GET,
	AR_APP_UPDATE,
	AR_APP_DELETE,
	AR_CALL_LIST,
	AR_CALL_GET,
	AR_CALL_HANGUP,
	AR_CONSOLE,
	AR__N
};

#define AR_ACCT "/v1/Account/{auth_id}/"
static const char *const ROUTES[AR__N] = {
    "other",
    "GET /health",
    "GET " AR_ACCT "Endpoint/",
    "POST " AR_ACCT "Endpoint/",
    "GET " AR_ACCT "Endpoint/{endpoint_id}/",
    "POST " AR_ACCT "Endpoint/{endpoint_id}/",
    "DELETE " AR_ACCT "Endpoint/{endpoint_id}/",
    "GET " AR_ACCT "Application/",
    "POST " AR_ACCT "Application/",
    "GET " AR_ACCT "Application/{app_id}/",
    "POST " AR_ACCT "Application/{app_id}/",
    "DELETE " AR_ACCT "Application/{app_id}/",
    "GET " AR_ACCT "Call/",
    "GET " AR_ACCT "Call/{call_uuid}/",
    "DELETE " AR_ACCT "Call/{call_uuid}/",
    "GET /console/{file}",
};

static _Atomic uint64_t http_req_v[AR__N * 5];
static struct metric_family http_requests = {
    .name = "sipward_http_requests_total",
    .help = "API requests answered, by route template and status class "
	    "(HEAD counted as GET).",
    .kind = METRIC_COUNTER,
    .label = {"route", "code"},
    .values = {ROUTES, METRIC_STATUS_CLASS},
    .nvalues = {AR__N, 5}, /* 1xx-5xx */
    .v = http_req_v};
METRIC_REGISTER(http_requests)

static _Atomic uint64_t http_lat_v[METRIC_HCELLS(AR__N, 14)];
static struct metric_family http_latency = {
    .name = "sipward_http_request_duration_seconds",
    .help = "API requests from the handler's start to the answer, by route "
	    "template.",
    .kind = METRIC_HISTOGRAM,
    .label = {"route"},
    .values = {ROUTES},
    .nvalues = {AR__N},
    METRIC_LATENCY,
    .v = http_lat_v};
METRIC_REGISTER(http_latency)

/* The route template of a request to resource res (see ROUTES). */
static unsigned route_of(const char *m, unsigned res, bool item)
{
	/* rows: endpoint, application, call; columns: GET, POST, DELETE */
	static const unsigned t[3][2][3] = {
	    {{AR_EP_LIST, AR_EP_CREATE, AR_OTHER},
	     {AR_EP_GET, AR_EP_UPDATE, AR_EP_DELETE}},
	    {{AR_APP_LIST, AR_APP_CREATE, AR_OTHER},
	     {AR_APP_GET, AR_APP_UPDATE, AR_APP_DELETE}},
	    {{AR_CALL_LIST, AR_OTHER, AR_OTHER},
	     {AR_CALL_GET, AR_OTHER, AR_CALL_HANGUP}},
	};
	unsigned k = m[0] == 'G' ? 0 : m[0] == 'P' ? 1 : 2;

	return res >= 1 && res <= 3 ? t[res - 1][item][k] : AR_OTHER;
}

/* ---- routing ---- */

enum resource { R_NONE, R_ENDPOINT, R_APPLICATION, R_CALL };

struct route {
	const char *prefix;
	char auth_id[32];
	enum resource res;
	char id[64];
	bool has_id;
	bool known; /* the path is under /Account/{auth_id}/ */
};

/*
 * Splits [/api]/v1/Account/{auth_id}/{Resource}/[{id}/] (trailing slashes
 * optional). Sets known when the Account prefix matched.
 */
static void route_parse(const char *path, struct route *rt)
{
	const char *p, *seg[4];
	size_t len[4];
	int n = 0;

	memset(rt, 0, sizeof(*rt));
	if (strncmp(path, "/api/v1/Account/", 16) == 0) {
		rt->prefix = "/api/v1";
		p = path + 16;
	} else if (strncmp(path, "/v1/Account/", 12) == 0) {
		rt->prefix = "/v1";
		p = path + 12;
	} else {
		return;
	}
	while (*p && n < 4) {
		const char *e = strchr(p, '/');
		size_t l = e ? (size_t)(e - p) : strlen(p);
		if (l == 0)
			return; /* "//" */
		seg[n] = p;
		len[n++] = l;
		p = e ? e + 1 : p + l;
	}
	if (*p || n == 0 || len[0] >= sizeof(rt->auth_id))
		return;
	rt->known = true;
	memcpy(rt->auth_id, seg[0], len[0]);
	if (n < 2 || n > 3)
		return;
	if (len[1] == 8 && strncmp(seg[1], "Endpoint", 8) == 0)
		rt->res = R_ENDPOINT;
	else if (len[1] == 11 && strncmp(seg[1], "Application", 11) == 0)
		rt->res = R_APPLICATION;
	else if (len[1] == 4 && strncmp(seg[1], "Call", 4) == 0)
		rt->res = R_CALL;
	if (n == 3) {
		if (len[2] >= sizeof(rt->id)) {
			rt->res = R_NONE;
			return;
		}
		memcpy(rt->id, seg[2], len[2]);
		rt->has_id = true;
	}
}

/*
 * GET everywhere; POST (create, update) on endpoints and applications;
 * DELETE on items. Calls are read and hung up, never created or changed.
 */
static bool method_allowed(const char *m, enum resource res, bool item)
{
	return strcmp(m, "GET") == 0 ||
	       (res != R_CALL && strcmp(m, "POST") == 0) ||
	       (item && strcmp(m, "DELETE") == 0);
}

/* Replies 405 with the methods the resource takes. */
static void reply_405(struct api_ctx *c, enum resource res, bool item)
{
	static const struct {
		const char *msg, *allow;
	} v[2][2] = {
	    {{"Use GET (list) or POST (create)", "GET, HEAD, POST"},
	     {"Use GET, POST (update) or DELETE", "GET, HEAD, POST, DELETE"}},
	    {{"Use GET (list)", "GET, HEAD"},
	     {"Use GET or DELETE (hang up)", "GET, HEAD, DELETE"}},
	};
	int call = res == R_CALL;

	api_reply_error(c, 405, "method not allowed", v[call][item].msg, NULL);
	http_resp_header(c->resp, "Allow", "%s", v[call][item].allow);
}

/* The `error` word of a status the HTTP server raises itself. */
static const char *server_error_name(int status)
{
	switch (status) {
	case 408:
		return "request timeout";
	case 413:
		return "request entity too large";
	case 414:
		return "uri too long";
	case 431:
		return "request header fields too large";
	case 501:
		return "not implemented";
	case 505:
		return "http version not supported";
	}
	return "invalid request";
}

static void dispatch(struct api_ctx *c)
{
	const struct http_req *r = c->req;
	struct route rt;

	if (r->error) {
		/* refused by the HTTP server itself (framing, size, time) */
		api_reply_error(c, r->error, server_error_name(r->error),
				r->error_msg, NULL);
		return;
	}
	if (r->overloaded) {
		/* on the event loop: answer without touching the store */
		api_reply_error(c, 503, "service unavailable",
				"The server is busy; retry the request", NULL);
		http_resp_header(c->resp, "Retry-After", "1");
		return;
	}
	if (strcmp(r->path, "/health") == 0) {
		json_t *o = json_pack("{s:s}", "status", "ok");
		c->route = AR_HEALTH;
		api_reply_json(c, 200, o);
		return;
	}
	if (api_console_path(r->path)) {
		c->route = AR_CONSOLE;
		api_console(c);
		return;
	}
	route_parse(r->path, &rt);
	if (!rt.known) {
		api_reply_error(c, 404, "not found", "No such resource", NULL);
		return;
	}
	if (authenticate(c))
		return;
	if (strcmp(rt.auth_id, c->acct.auth_id) != 0) {
		api_reply_error(c, 403, "forbidden",
				"The account in the path is not the "
				"authenticated account",
				NULL);
		return;
	}
	if (rt.res == R_NONE) {
		api_reply_error(c, 404, "not found", "No such resource", NULL);
		return;
	}
	if (!method_allowed(r->method, rt.res, rt.has_id)) {
		reply_405(c, rt.res, rt.has_id);
		return;
	}
	c->prefix = rt.prefix;
	c->id = rt.has_id ? rt.id : NULL;
	c->route = route_of(r->method, rt.res, rt.has_id);
	if (rt.res == R_CALL && rt.has_id)
		api_call_item(c);
	else if (rt.res == R_CALL)
		api_call_collection(c);
	else if (rt.res == R_ENDPOINT && rt.has_id)
		api_endpoint_item(c);
	else if (rt.res == R_ENDPOINT)
		api_endpoint_collection(c);
	else if (rt.has_id)
		api_app_item(c);
	else
		api_app_collection(c);
}

/* The access line and the metrics of every request. */
static void log_request(const struct api_ctx *c)
{
	char q[300];

	metric_add(&http_requests, c->route,
		   metric_status_class((unsigned)c->resp->status), 1);
	metric_observe(&http_latency, c->route, 0, metric_now_us() - c->t0_us);
	LOG_INFO("http_request",
		 "api_id=%s method=%s path=%s status=%d ms=%lld", c->api_id,
		 c->req->method, base_log_quote(c->req->path, q, sizeof(q)),
		 c->resp->status, (long long)(base_time_now_ms() - c->t0_ms));
}

void api_defer(struct api_ctx *c)
{
	c->deferred = true;
	http_req_defer(c->req);
}

void api_deferred_done(struct api_ctx *c)
{
	const struct http_req *req = c->req;

	log_request(c);
	http_req_done(req);
}

/* Sets *deep when the query asks for an offset past API_INLINE_OFFSET. */
static int deep_offset(void *ctx, const char *key, const char *value)
{
	bool *deep = ctx;

	if (strcmp(key, "offset") == 0 && value &&
	    strtoll(value, NULL, 10) > API_INLINE_OFFSET)
		*deep = true;
	return 0;
}

bool api_inline(void *ctx, const struct http_req *req)
{
	struct api *a = ctx;
	struct route rt;
	bool deep = false;

	/* Reads that never wait, and the update that is queued (SQLite). */
	if (!svc_writes_queue(a->svc))
		return false;
	if (strcmp(req->method, "GET") == 0) {
		/* A list page far down by offset walks the index up to it
		 * (0.5 s at 1,000,000 endpoints): on a read worker, not on
		 * the loop that the other connections share. */
		route_parse(req->path, &rt);
		if (rt.known && !rt.has_id)
			http_req_query_each(req, deep_offset, &deep);
		return !deep;
	}
	if (strcmp(req->method, "POST") != 0)
		return false;
	route_parse(req->path, &rt);
	return rt.known && rt.res == R_ENDPOINT && rt.has_id;
}

void api_handle(void *ctx, const struct http_req *req, struct http_resp *resp)
{
	struct api_ctx c = {.api = ctx, .req = req, .resp = resp};

	if (base_id_uuid(c.api_id, sizeof(c.api_id)) != 0) {
		resp->status = 500;
		return;
	}
	c.t0_ms = base_time_now_ms();
	c.t0_us = metric_now_us();
	_Static_assert(sizeof(resp->request_id) == sizeof(c.api_id),
		       "the request id is the api_id");
	memcpy(resp->request_id, c.api_id, sizeof(resp->request_id));
	/* The store may take this long for the request, then 503. */
	base_deadline_set((req->t0_ms ? req->t0_ms : base_time_mono_ms()) +
			  c.api->cfg->store_timeout * 1000);
	/* Every line this request causes here names it; its access line
	 * has the id already. */
	memcpy(c.log_ctx, "api_id=", 7);
	memcpy(c.log_ctx + 7, c.api_id, sizeof(c.api_id));
	base_log_context(c.log_ctx);
	/* Authentication and the reads before any write share one store
	 * transaction (a write ends it first). */
	svc_read_begin(c.api->svc);
	dispatch(&c);
	svc_read_end(c.api->svc);
	base_log_context(NULL);
	base_deadline_set(0);
	if (!c.deferred) /* else resp is another thread's now */
		log_request(&c);
}
