/* test_api.c - unit tests for the api helpers of src/api/internal.h. */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "api/internal.h"

#define API_ID "11111111-2222-4333-8444-555555555555"

struct fixture {
	struct api_ctx c;
	struct http_resp resp;
	struct http_req req;
};

static int setup(void **state)
{
	struct fixture *f = calloc(1, sizeof(*f));

	if (!f)
		return -1;
	f->req.method = "GET";
	f->req.path = "/v1/Account/MA_ABCDEFGH/Endpoint/";
	f->c.req = &f->req;
	f->c.resp = &f->resp;
	f->c.prefix = "/v1";
	snprintf(f->c.api_id, sizeof(f->c.api_id), "%s", API_ID);
	snprintf(f->c.acct.auth_id, sizeof(f->c.acct.auth_id), "MA_ABCDEFGH");
	*state = f;
	return 0;
}

static int teardown(void **state)
{
	struct fixture *f = *state;

	free(f->resp.body);
	free(f);
	return 0;
}

/* Parses the reply body (must be a JSON object). Caller decrefs. */
static json_t *body_of(struct fixture *f)
{
	json_error_t jerr;
	json_t *o;

	assert_non_null(f->resp.body);
	assert_int_equal(f->resp.body_len, strlen(f->resp.body));
	o = json_loads(f->resp.body, JSON_REJECT_DUPLICATES, &jerr);
	assert_non_null(o);
	assert_true(json_is_object(o));
	return o;
}

static const char *str_of(json_t *o, const char *key)
{
	json_t *v = json_object_get(o, key);

	assert_non_null(v);
	assert_true(json_is_string(v));
	return json_string_value(v);
}

static const char *header_of(struct fixture *f, const char *name)
{
	for (unsigned i = 0; i < f->resp.nheaders; i++)
		if (strcmp(f->resp.headers[i].name, name) == 0)
			return f->resp.headers[i].value;
	return NULL;
}

static void reset(struct fixture *f)
{
	free(f->resp.body);
	memset(&f->resp, 0, sizeof(f->resp));
}

/* ---- api_parse_int ---- */

static void test_parse_int(void **state)
{
	long long v;

	(void)state;
	assert_int_equal(api_parse_int("0", 0, 10, &v), 0);
	assert_int_equal(v, 0);
	assert_int_equal(api_parse_int("20", 1, 100, &v), 0);
	assert_int_equal(v, 20);
	assert_int_equal(api_parse_int("1", 1, 100, &v), 0);
	assert_int_equal(api_parse_int("100", 1, 100, &v), 0);
	assert_int_equal(v, 100);
	assert_int_equal(api_parse_int("007", 1, 100, &v), 0);
	assert_int_equal(v, 7);
	assert_int_equal(api_parse_int("1000000000000", 0, 1000000000000LL, &v),
			 0);
	assert_int_equal(v, 1000000000000LL);
	assert_int_equal(
	    api_parse_int("999999999999999", 0, 999999999999999LL, &v), 0);

	v = -42;
	static const char *const bad[] = {
	    "",
	    "0",
	    "101",
	    "-1",
	    "+1",
	    " 1",
	    "1 ",
	    "1a",
	    "a1",
	    "1.0",
	    "1e2",
	    "0x1",
	    "\xd9\xa1",
	    "10\n",
	    "9999999999999999", /* 16 digits */
	    "99999999999999999999999999999999",
	};
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		print_message("'%s'\n", bad[i]);
		assert_int_equal(api_parse_int(bad[i], 1, 100, &v), EINVAL);
		assert_int_equal(v, -42); /* not written on failure */
	}
	assert_int_equal(api_parse_int("1000000000001", 0, 1000000000000LL, &v),
			 EINVAL);
}

/* ---- api_query_append ---- */

static void test_query_append(void **state)
{
	char buf[256] = "";

	(void)state;
	api_query_append(buf, sizeof(buf), "username__exact", "alice");
	assert_string_equal(buf, "&username__exact=alice");
	api_query_append(buf, sizeof(buf), "alias__contains", "a b&c=d/e?f#g");
	assert_string_equal(buf, "&username__exact=alice"
				 "&alias__contains=a%20b%26c%3Dd%2Fe%3Ff%23g");

	strcpy(buf, "x");
	api_query_append(buf, sizeof(buf), "k", "-._~AZaz09");
	assert_string_equal(buf, "x&k=-._~AZaz09");

	strcpy(buf, "");
	api_query_append(buf, sizeof(buf), "k", "caf\xc3\xa9+%\"'<>\\\n");
	assert_string_equal(buf, "&k=caf%C3%A9%2B%25%22%27%3C%3E%5C%0A");

	strcpy(buf, "");
	api_query_append(buf, sizeof(buf), "k", "");
	assert_string_equal(buf, "&k=");

	strcpy(buf, "");
	api_query_append(buf, sizeof(buf), "a b", "1");
	assert_string_equal(buf, "&a%20b=1");
}

static void test_query_append_cap(void **state)
{
	char buf[64];

	(void)state;
	/* Never past cap, always NUL-terminated, no cut %XX escape. */
	for (size_t cap = 1; cap <= 40; cap++) {
		size_t n;

		memset(buf, '#', sizeof(buf));
		buf[0] = '\0';
		api_query_append(buf, cap, "key_name", "\xff\xff value \xff");
		n = strlen(buf);
		assert_true(n < cap);
		for (size_t i = cap; i < sizeof(buf); i++)
			assert_int_equal(buf[i], '#');
		for (size_t i = 0; i < n; i++)
			if (buf[i] == '%')
				assert_true(i + 2 < n);
	}
}

/* ---- api_reply_errno: the one errno table ---- */

static void test_reply_errno_table(void **state)
{
	static const struct {
		int err;
		int status;
		const char *error;
		const char *message;
		bool retry_after;
	} want[] = {
	    {ENOENT, 404, "not found", "Endpoint not found", false},
	    {EINVAL, 400, "invalid request parameters", NULL, false},
	    {ERANGE, 400, "invalid request parameters", NULL, false},
	    {EBADMSG, 400, "invalid request body", NULL, false},
	    {EEXIST, 409, "conflict", "Endpoint already exists", false},
	    {EACCES, 401, "unauthorized", NULL, false},
	    {EPERM, 403, "forbidden", NULL, false},
	    {EBUSY, 503, NULL, NULL, true},
	    {EIO, 503, NULL, NULL, true},
	    {ENOMEM, 500, NULL, NULL, true},
	    {EPROTO, 500, NULL, NULL, false}, /* not in the table */
	    {12345, 500, NULL, NULL, false},
	};
	struct fixture *f = *state;

	for (size_t i = 0; i < sizeof(want) / sizeof(want[0]); i++) {
		json_t *o;

		print_message("errno %d\n", want[i].err);
		reset(f);
		api_reply_errno(&f->c, want[i].err, "Endpoint", NULL);
		assert_int_equal(f->resp.status, want[i].status);
		o = body_of(f);
		assert_string_equal(str_of(o, "api_id"), API_ID);
		assert_true(strlen(str_of(o, "error")) > 0);
		assert_true(strlen(str_of(o, "message")) > 0);
		if (want[i].error)
			assert_string_equal(str_of(o, "error"), want[i].error);
		if (want[i].message)
			assert_string_equal(str_of(o, "message"),
					    want[i].message);
		assert_null(json_object_get(o, "details"));
		if (want[i].retry_after)
			assert_non_null(header_of(f, "Retry-After"));
		else
			assert_null(header_of(f, "Retry-After"));
		json_decref(o);
	}
}

static void test_reply_errno_client_errors_not_5xx(void **state)
{
	/* The errnos that mean "the client is wrong" never give a 5xx. */
	static const int client[] = {ENOENT, EINVAL, ERANGE, EBADMSG,
				     EEXIST, EACCES, EPERM};
	struct fixture *f = *state;

	for (size_t i = 0; i < sizeof(client) / sizeof(client[0]); i++) {
		reset(f);
		api_reply_errno(&f->c, client[i], "Application", NULL);
		assert_true(f->resp.status >= 400 && f->resp.status < 500);
	}
}

static void test_reply_errno_details(void **state)
{
	struct fixture *f = *state;
	struct model_errors errs = {0};
	json_t *o, *d;

	model_password_check("short", 5, "password", &errs);
	api_reply_errno(&f->c, EINVAL, "Endpoint", &errs);
	assert_int_equal(f->resp.status, 400);
	o = body_of(f);
	assert_string_equal(str_of(o, "error"), "invalid request parameters");
	assert_string_equal(str_of(o, "message"),
			    "Password must be at least 8 characters");
	d = json_object_get(o, "details");
	assert_true(json_is_object(d));
	assert_int_equal(json_object_size(d), 1);
	assert_string_equal(str_of(d, "password"),
			    "Password must be at least 8 characters");
	json_decref(o);

	/* Every bad field is named at once. */
	reset(f);
	model_username_check("a b", 3, "username", &errs);
	model_alias_check("", 0, "alias", &errs);
	api_reply_errno(&f->c, EINVAL, "Endpoint", &errs);
	assert_int_equal(f->resp.status, 400);
	o = body_of(f);
	d = json_object_get(o, "details");
	assert_int_equal(json_object_size(d), 3);
	assert_non_null(json_object_get(d, "password"));
	assert_non_null(json_object_get(d, "username"));
	assert_non_null(json_object_get(d, "alias"));
	assert_non_null(strstr(str_of(o, "message"), "3"));
	json_decref(o);

	/* Details ride only on EINVAL. */
	reset(f);
	api_reply_errno(&f->c, ENOENT, "Endpoint", &errs);
	assert_int_equal(f->resp.status, 404);
	o = body_of(f);
	assert_null(json_object_get(o, "details"));
	json_decref(o);
}

static void test_reply_error(void **state)
{
	struct fixture *f = *state;
	json_t *o;

	api_reply_error(&f->c, 415, "unsupported media type", "Use JSON", NULL);
	assert_int_equal(f->resp.status, 415);
	o = body_of(f);
	assert_int_equal(json_object_size(o), 3);
	assert_string_equal(str_of(o, "api_id"), API_ID);
	assert_string_equal(str_of(o, "error"), "unsupported media type");
	assert_string_equal(str_of(o, "message"), "Use JSON");
	json_decref(o);

	/* No message: the error phrase stands in. */
	reset(f);
	api_reply_error(&f->c, 400, API_E_BODY, NULL, NULL);
	o = body_of(f);
	assert_string_equal(str_of(o, "message"), API_E_BODY);
	json_decref(o);
}

static void test_reply_json_and_empty(void **state)
{
	struct fixture *f = *state;
	json_t *o;

	api_reply_json(&f->c, 201, json_pack("{s:s}", "message", "created"));
	assert_int_equal(f->resp.status, 201);
	o = body_of(f);
	assert_string_equal(str_of(o, "message"), "created");
	json_decref(o);

	reset(f);
	api_reply_empty(&f->c, 204);
	assert_int_equal(f->resp.status, 204);
	assert_null(f->resp.body);
}

/* ---- small JSON helpers ---- */

static void test_json_helpers(void **state)
{
	json_t *v;

	(void)state;
	v = api_json_str_or_null(NULL);
	assert_true(json_is_null(v));
	json_decref(v);
	v = api_json_str_or_null("");
	assert_true(json_is_null(v));
	json_decref(v);
	v = api_json_str_or_null("http://x");
	assert_string_equal(json_string_value(v), "http://x");
	json_decref(v);
	v = api_json_time(1700000000123LL);
	assert_string_equal(json_string_value(v), "2023-11-14T22:13:20.123Z");
	json_decref(v);
}

static void test_json_text(void **state)
{
	json_t *v;

	(void)state;
	v = json_string("alice");
	assert_string_equal(api_json_text(v), "alice");
	json_decref(v);
	v = json_string("");
	assert_string_equal(api_json_text(v), "");
	json_decref(v);
	/* An embedded NUL ("\u0000" in the body) is refused. */
	v = json_stringn("ali\0ce", 6);
	assert_non_null(v);
	assert_null(api_json_text(v));
	json_decref(v);
	v = json_stringn("\0", 1);
	assert_null(api_json_text(v));
	json_decref(v);
	v = json_integer(5);
	assert_null(api_json_text(v));
	json_decref(v);
	v = json_null();
	assert_null(api_json_text(v));
	json_decref(v);
}

static void test_json_wipe(void **state)
{
	json_t *o =
	    json_pack("{s:s, s:[s, {s:s}], s:i}", "password", "hunter22",
		      "list", "secret", "k", "deep", "n", 5);
	const char *p;

	(void)state;
	assert_non_null(o);
	api_json_wipe(o);
	p = json_string_value(json_object_get(o, "password"));
	for (int i = 0; i < 8; i++)
		assert_int_equal(p[i], 0);
	p = json_string_value(json_array_get(json_object_get(o, "list"), 0));
	assert_int_equal(p[0], 0);
	p = json_string_value(json_object_get(
	    json_array_get(json_object_get(o, "list"), 1), "k"));
	assert_int_equal(p[0], 0);
	json_decref(o);
}

/* ---- paging ---- */

static void test_page_params(void **state)
{
	struct fixture *f = *state;
	struct api_page p;

	api_page_init(&p, &f->c);
	assert_int_equal(p.limit, 20);
	assert_int_equal(p.offset, 0);
	assert_true(json_is_array(p.objects));
	assert_true(api_page_param(&p, "limit", "100"));
	assert_true(api_page_param(&p, "offset", "40"));
	assert_false(api_page_param(&p, "username__exact", "bob"));
	assert_int_equal(p.errs.n, 0);
	assert_int_equal(p.limit, 100);
	assert_int_equal(p.offset, 40);
	/* Given twice. */
	assert_true(api_page_param(&p, "limit", "10"));
	assert_int_equal(p.errs.n, 1);
	assert_string_equal(model_errors_field(&p.errs, 0), "limit");
	api_page_fini(&p);

	static const struct {
		const char *k, *v;
	} bad[] = {
	    {"limit", "0"},  {"limit", "101"}, {"limit", "-1"}, {"limit", ""},
	    {"limit", "1x"}, {"offset", "-1"}, {"offset", "a"}, {"offset", ""},
	};
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		api_page_init(&p, &f->c);
		assert_true(api_page_param(&p, bad[i].k, bad[i].v));
		assert_int_equal(p.errs.n, 1);
		assert_string_equal(model_errors_field(&p.errs, 0), bad[i].k);
		api_page_fini(&p);
	}
}

static void test_page_too_many(void **state)
{
	struct fixture *f = *state;
	struct api_page p;
	char keys[API_PAGE_PARAMS_MAX + 2][8];

	api_page_init(&p, &f->c);
	for (int i = 0; i < API_PAGE_PARAMS_MAX + 2; i++) {
		snprintf(keys[i], sizeof(keys[i]), "k%d", i);
		api_page_param(&p, keys[i], "v");
	}
	assert_true(p.errs.n > 0);
	assert_int_equal(p.n, API_PAGE_PARAMS_MAX);
	api_page_fini(&p);
}

/* The page's reply, parsed back; the body is freed. */
static json_t *page_reply(struct fixture *f, struct api_page *p,
			  const char *res, int64_t total)
{
	json_t *o;

	api_page_reply(p, res, total);
	assert_int_equal(f->resp.status, 200);
	assert_non_null(f->resp.body);
	o = json_loadb(f->resp.body, f->resp.body_len, 0, NULL);
	free(f->resp.body);
	f->resp.body = NULL;
	return o;
}

static void test_page_envelope(void **state)
{
	struct fixture *f = *state;
	struct api_page p;
	json_t *o, *meta;

	f->c.prefix = "/api/v1";
	api_page_init(&p, &f->c);
	api_page_param(&p, "limit", "10");
	api_page_param(&p, "offset", "10");
	api_page_param(&p, "username__contains", "a b");
	json_array_append_new(p.objects, json_string("x"));
	o = page_reply(f, &p, "Endpoint", 25);
	api_page_fini(&p);
	assert_non_null(o);
	assert_string_equal(str_of(o, "api_id"), API_ID);
	assert_int_equal(json_array_size(json_object_get(o, "objects")), 1);
	meta = json_object_get(o, "meta");
	assert_int_equal(json_integer_value(json_object_get(meta, "limit")),
			 10);
	assert_int_equal(json_integer_value(json_object_get(meta, "offset")),
			 10);
	assert_int_equal(
	    json_integer_value(json_object_get(meta, "total_count")), 25);
	assert_string_equal(str_of(meta, "next"),
			    "/api/v1/Account/MA_ABCDEFGH/Endpoint/"
			    "?limit=10&offset=20&username__contains=a%20b");
	assert_string_equal(str_of(meta, "previous"),
			    "/api/v1/Account/MA_ABCDEFGH/Endpoint/"
			    "?limit=10&offset=0&username__contains=a%20b");
	json_decref(o);

	/* First and last page: null links. */
	f->c.prefix = "/v1";
	api_page_init(&p, &f->c);
	o = page_reply(f, &p, "Application", 20);
	api_page_fini(&p);
	meta = json_object_get(o, "meta");
	assert_true(json_is_null(json_object_get(meta, "next")));
	assert_true(json_is_null(json_object_get(meta, "previous")));
	json_decref(o);

	/* An offset inside the first page: previous goes to 0. */
	api_page_init(&p, &f->c);
	api_page_param(&p, "offset", "5");
	o = page_reply(f, &p, "Application", 21);
	api_page_fini(&p);
	meta = json_object_get(o, "meta");
	assert_true(json_is_null(json_object_get(meta, "next")));
	assert_string_equal(str_of(meta, "previous"),
			    "/v1/Account/MA_ABCDEFGH/Application/"
			    "?limit=20&offset=0");
	json_decref(o);
}

/* api_json_dump writes what jansson's json_dumps would (compact, insertion
 * order), escapes included. */
static void test_json_dump_matches_jansson(void **state)
{
	json_t *o =
	    json_pack("{s:s, s:i, s:b, s:b, s:n, s:[s, {s:s}], s:{}}",
		      "z first", "quote \" back \\ ctl \x01\x1f é", "n", -42,
		      "t", 1, "f", 0, "nul", "arr", "x", "k", "\n\t", "empty");
	char *ours, *theirs;
	size_t len = 0;

	(void)state;
	assert_non_null(o);
	ours = api_json_dump(o, &len);
	theirs = json_dumps(o, JSON_COMPACT | JSON_PRESERVE_ORDER);
	assert_non_null(ours);
	assert_string_equal(ours, theirs);
	assert_int_equal(len, strlen(theirs));
	free(ours);
	free(theirs);
	json_decref(o);
}

/* The writer writes byte for byte what api_json_dump writes for the same
 * tree; a string that is not UTF-8 becomes null; objects written straight
 * into a page come out as its objects. */
static void test_json_writer_matches_dump(void **state)
{
	struct fixture *f = *state;
	struct api_jw w = {0};
	struct api_page p;
	json_t *o = json_pack("{s:s, s:i, s:b, s:n, s:[s, {s:s}], s:{}, s:[]}",
			      "k \"q\"", "ctl \x01\x1f é \\", "n", -42, "t", 1,
			      "nul", "arr", "x", "k", "\n\t", "eo", "ea");
	json_t *page, *objs;
	char *dump;
	size_t len;

	assert_non_null(o);
	api_jw_open(&w, NULL, '{');
	api_jw_str(&w, "k \"q\"", "ctl \x01\x1f é \\");
	api_jw_int(&w, "n", -42);
	api_jw_bool(&w, "t", true);
	api_jw_str(&w, "nul", NULL);
	api_jw_open(&w, "arr", '[');
	api_jw_str(&w, NULL, "x");
	api_jw_open(&w, NULL, '{');
	api_jw_str(&w, "k", "\n\t");
	api_jw_close(&w, '}');
	api_jw_close(&w, ']');
	api_jw_open(&w, "eo", '{');
	api_jw_close(&w, '}');
	api_jw_value(&w, "ea", json_object_get(o, "ea"));
	api_jw_close(&w, '}');
	dump = api_json_dump(o, &len);
	assert_false(w.failed);
	assert_string_equal(w.p, dump);
	assert_int_equal(w.len, len);
	free(dump);
	api_jw_free(&w);
	json_decref(o);

	api_jw_open(&w, NULL, '[');
	api_jw_str(&w, NULL, "bad \xc3\x28 utf-8");
	api_jw_str(&w, NULL, "ok \xc3\xa9");
	api_jw_close(&w, ']');
	assert_string_equal(w.p, "[null,\"ok \xc3\xa9\"]");
	api_jw_free(&w);

	api_page_init(&p, &f->c);
	for (int i = 0; i < 2; i++) {
		api_jw_open(api_page_writer(&p), NULL, '{');
		api_jw_int(api_page_writer(&p), "i", i);
		api_jw_close(api_page_writer(&p), '}');
	}
	page = page_reply(f, &p, "Endpoint", 2);
	api_page_fini(&p);
	objs = json_object_get(page, "objects");
	assert_int_equal(json_array_size(objs), 2);
	assert_int_equal(
	    json_integer_value(json_object_get(json_array_get(objs, 1), "i")),
	    1);
	json_decref(page);
}

/* ---- api_fields_decode ---- */

/* Decodes the JSON text by the endpoint table into v; returns errs. */
static void decode_ep(const char *text, bool create, json_t **body,
		      struct model_value *v, struct model_errors *errs)
{
	json_error_t jerr;

	*body =
	    json_loads(text, JSON_REJECT_DUPLICATES | JSON_ALLOW_NUL, &jerr);
	assert_non_null(*body);
	memset(errs, 0, sizeof(*errs));
	api_fields_decode(*body, model_endpoint_fields, MODEL_EP_FIELDS, create,
			  "MA_ABCDEFGH", v, errs);
}

static const char *err_of(const struct model_errors *errs, const char *field)
{
	for (unsigned i = 0; i < errs->n; i++)
		if (strcmp(model_errors_field(errs, i), field) == 0)
			return errs->e[i].msg;
	return NULL;
}

/* Types, unknown fields, and the fields the server assigns. */
static void test_fields_decode_create(void **state)
{
	struct model_value v[MODEL_EP_FIELDS];
	struct model_errors errs;
	json_t *body;

	(void)state;
	decode_ep("{\"username\": \"alice\", \"application\": 12, "
		  "\"allow_video\": true, \"sub_account\": \"MA_ABCDEFGH\"}",
		  true, &body, v, &errs);
	assert_int_equal(errs.n, 0);
	assert_int_equal(v[MODEL_EP_USERNAME].state, MODEL_SET);
	assert_string_equal(v[MODEL_EP_USERNAME].text, "alice");
	assert_int_equal(v[MODEL_EP_APPLICATION].state, MODEL_SET);
	assert_string_equal(v[MODEL_EP_APPLICATION].id, "12");
	assert_true(v[MODEL_EP_ALLOW_VIDEO].flag);
	assert_int_equal(v[MODEL_EP_PASSWORD].state, MODEL_ABSENT);
	json_decref(body);

	decode_ep("{\"username\": 5, \"password\": \"a\\u0000b\", "
		  "\"allow_voice\": \"yes\", \"application\": \"x\", "
		  "\"sub_account\": \"MA_OTHER000\", \"endpoint_id\": \"1\", "
		  "\"domain\": \"d\", \"colour\": 1}",
		  true, &body, v, &errs);
	assert_int_equal(errs.n, 8);
	assert_string_equal(err_of(&errs, "username"),
			    "Username must be a string");
	assert_string_equal(err_of(&errs, "password"),
			    "Password must not contain control characters");
	assert_string_equal(err_of(&errs, "allow_voice"),
			    "allow_voice must be true or false");
	assert_string_equal(err_of(&errs, "application"),
			    "Must be an application id (integer or decimal "
			    "string) or null");
	assert_string_equal(err_of(&errs, "sub_account"),
			    "Unknown sub-account");
	/* At creation the server's own fields are unknown, not locked. */
	assert_string_equal(err_of(&errs, "endpoint_id"), "Unknown field");
	assert_string_equal(err_of(&errs, "domain"), "Unknown field");
	assert_string_equal(err_of(&errs, "colour"), "Unknown field");
	/* A value of the wrong type is absent, never half-decoded. */
	for (unsigned i = 0; i < MODEL_EP_FIELDS; i++)
		assert_int_equal(v[i].state, MODEL_ABSENT);
	json_decref(body);
	model_errors_free(&errs);
}

/* Locked fields in an update, named each. */
static void test_fields_decode_locked(void **state)
{
	struct model_value v[MODEL_EP_FIELDS];
	struct model_errors errs;
	json_t *body;

	(void)state;
	decode_ep("{\"username\": \"x\", \"endpoint_id\": 1, \"domain\": 1, "
		  "\"allow_same_domain\": \"not even a bool\", "
		  "\"allow_other_domains\": true, \"allow_phones\": true, "
		  "\"allow_apps\": false, \"sub_account\": null, "
		  "\"allow_voice\": false, \"alias\": \"A\"}",
		  false, &body, v, &errs);
	assert_int_equal(errs.n, 8);
	assert_string_equal(err_of(&errs, "username"),
			    "username cannot be changed after creation");
	assert_string_equal(err_of(&errs, "allow_same_domain"),
			    "allow_same_domain cannot be changed after "
			    "creation");
	assert_non_null(err_of(&errs, "endpoint_id"));
	assert_non_null(err_of(&errs, "domain"));
	assert_non_null(err_of(&errs, "allow_other_domains"));
	assert_non_null(err_of(&errs, "allow_phones"));
	assert_non_null(err_of(&errs, "allow_apps"));
	assert_non_null(err_of(&errs, "sub_account"));
	assert_int_equal(v[MODEL_EP_ALLOW_VOICE].state, MODEL_SET);
	assert_false(v[MODEL_EP_ALLOW_VOICE].flag);
	assert_string_equal(v[MODEL_EP_ALIAS].text, "A");
	json_decref(body);
	model_errors_free(&errs);
}

/* application and its synonym app_id: one value, or a 400 if they differ. */
static void test_fields_decode_synonym(void **state)
{
	struct model_value v[MODEL_EP_FIELDS];
	struct model_errors errs;
	json_t *body;

	(void)state;
	decode_ep("{\"app_id\": \"77\"}", false, &body, v, &errs);
	assert_int_equal(errs.n, 0);
	assert_int_equal(v[MODEL_EP_APPLICATION].state, MODEL_SET);
	assert_string_equal(v[MODEL_EP_APPLICATION].id, "77");
	json_decref(body);

	decode_ep("{\"application\": 77, \"app_id\": \"77\"}", false, &body, v,
		  &errs);
	assert_int_equal(errs.n, 0);
	assert_string_equal(v[MODEL_EP_APPLICATION].id, "77");
	json_decref(body);

	decode_ep("{\"app_id\": null}", true, &body, v, &errs);
	assert_int_equal(errs.n, 0);
	assert_int_equal(v[MODEL_EP_APPLICATION].state, MODEL_NULL);
	json_decref(body);

	decode_ep("{\"application\": null, \"app_id\": \"77\"}", true, &body, v,
		  &errs);
	assert_int_equal(errs.n, 1);
	assert_string_equal(err_of(&errs, "app_id"),
			    "app_id and application differ; send one");
	json_decref(body);
}

/* Application bodies: an optional URL may be null, a required one not. */
static void test_fields_decode_app(void **state)
{
	struct model_value v[MODEL_APP_FIELDS];
	struct model_errors errs = {0};
	json_error_t jerr;
	json_t *body =
	    json_loads("{\"hangup_url\": null, \"answer_url\": null, "
		       "\"default_endpoint_app\": 1, \"app_id\": "
		       "\"1\", \"answer_method\": \"get\"}",
		       0, &jerr);

	(void)state;
	assert_non_null(body);
	api_fields_decode(body, model_app_fields, MODEL_APP_FIELDS, false,
			  "MA_ABCDEFGH", v, &errs);
	assert_int_equal(errs.n, 3);
	assert_int_equal(v[MODEL_APP_HANGUP_URL].state, MODEL_NULL);
	assert_string_equal(err_of(&errs, "answer_url"),
			    "answer_url must be a string");
	assert_string_equal(err_of(&errs, "default_endpoint_app"),
			    "default_endpoint_app must be true or false");
	assert_string_equal(err_of(&errs, "app_id"), "Unknown field");
	assert_string_equal(v[MODEL_APP_ANSWER_METHOD].text, "get");
	json_decref(body);
	model_errors_free(&errs);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_json_dump_matches_jansson),
	    cmocka_unit_test_setup_teardown(test_json_writer_matches_dump,
					    setup, teardown),
	    cmocka_unit_test(test_fields_decode_create),
	    cmocka_unit_test(test_fields_decode_locked),
	    cmocka_unit_test(test_fields_decode_synonym),
	    cmocka_unit_test(test_fields_decode_app),
	    cmocka_unit_test(test_parse_int),
	    cmocka_unit_test(test_query_append),
	    cmocka_unit_test(test_query_append_cap),
	    cmocka_unit_test_setup_teardown(test_reply_errno_table, setup,
					    teardown),
	    cmocka_unit_test_setup_teardown(
		test_reply_errno_client_errors_not_5xx, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_reply_errno_details, setup,
					    teardown),
	    cmocka_unit_test_setup_teardown(test_reply_error, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_reply_json_and_empty, setup,
					    teardown),
	    cmocka_unit_test(test_json_helpers),
	    cmocka_unit_test(test_json_text),
	    cmocka_unit_test(test_json_wipe),
	    cmocka_unit_test_setup_teardown(test_page_params, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_page_too_many, setup,
					    teardown),
	    cmocka_unit_test_setup_teardown(test_page_envelope, setup,
					    teardown),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
