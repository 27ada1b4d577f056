/* page.c - limit/offset paging and the list envelope, for every resource. */
#include <stdio.h>
#include <string.h>

#include "api/internal.h"

void api_page_init(struct api_page *p, struct api_ctx *c)
{
	memset(p, 0, sizeof(*p));
	p->c = c;
	p->limit = 20;
	p->objects = json_array();
}

void api_page_fini(struct api_page *p)
{
	json_decref(p->objects);
	p->objects = NULL;
	api_jw_free(&p->objs);
	model_errors_free(&p->errs);
}

bool api_page_param(struct api_page *p, const char *key, const char *value)
{
	if (!value) {
		model_errors_add(&p->errs, key,
				 "Must not contain NUL characters");
		return true;
	}

	for (unsigned i = 0; i < p->n; i++) {
		if (strcmp(p->keys[i], key) == 0) {
			model_errors_add(&p->errs, key, "Given more than once");
			return true;
		}
	}
	if (p->n >= API_PAGE_PARAMS_MAX) {
		model_errors_add(&p->errs, key, "Too many query parameters");
		return true;
	}
	p->keys[p->n] = key;
	p->vals[p->n++] = value;
	if (strcmp(key, "limit") == 0) {
		if (api_parse_int(value, 1, 100, &p->limit))
			model_errors_add(&p->errs, key,
					 "limit must be an integer from 1 to "
					 "100");
		return true;
	}
	if (strcmp(key, "offset") == 0) {
		if (api_parse_int(value, 0, 1000000000000LL, &p->offset))
			model_errors_add(&p->errs, key,
					 "offset must be an integer >= 0");
		return true;
	}
	if (p->keyset && strcmp(key, "after") == 0) {
		if (model_id_check(value))
			model_errors_add(&p->errs, key,
					 "after must be an id from meta.next");
		p->after = value;
		return true;
	}
	return false;
}

/* Whether a parameter is the page's own (not carried as a filter). */
static bool paging_key(const char *key)
{
	return strcmp(key, "limit") == 0 || strcmp(key, "offset") == 0 ||
	       strcmp(key, "after") == 0;
}

/*
 * A relative page URL keeping the request's prefix and filters; after (or
 * NULL) is the object the page comes after.
 */
static void page_url(struct api_page *p, const char *res, long long offset,
		     const char *after, char *buf, size_t cap)
{
	snprintf(buf, cap, "%s/Account/%s/%s/?limit=%lld&offset=%lld",
		 p->c->prefix, p->c->acct.auth_id, res, p->limit, offset);
	for (unsigned i = 0; i < p->n; i++)
		if (!paging_key(p->keys[i]))
			api_query_append(buf, cap, p->keys[i], p->vals[i]);
	if (after)
		api_query_append(buf, cap, "after", after);
}

struct api_jw *api_page_writer(struct api_page *p)
{
	p->direct = true;
	return &p->objs;
}

void api_page_reply(struct api_page *p, const char *resource, int64_t total)
{
	struct api_jw w = {0};
	long long prev = p->offset - p->limit < 0 ? 0 : p->offset - p->limit;
	char buf[4096];

	api_jw_open(&w, NULL, '{');
	api_jw_str(&w, "api_id", p->c->api_id);
	api_jw_open(&w, "meta", '{');
	api_jw_int(&w, "limit", p->limit);
	api_jw_int(&w, "offset", p->offset);
	api_jw_int(&w, "total_count", total);
	if (p->keyset ? p->more : p->offset + p->limit < total) {
		page_url(p, resource, p->offset + p->limit,
			 p->keyset ? p->last : NULL, buf, sizeof(buf));
		api_jw_str(&w, "next", buf);
	} else {
		api_jw_null(&w, "next");
	}
	if (p->offset > 0) {
		page_url(p, resource, prev, NULL, buf, sizeof(buf));
		api_jw_str(&w, "previous", buf);
	} else {
		api_jw_null(&w, "previous");
	}
	api_jw_close(&w, '}');
	if (p->direct) {
		api_jw_open(&w, "objects", '[');
		api_jw_raw(&w, p->objs.p ? p->objs.p : "", p->objs.len);
		w.failed |= p->objs.failed;
		api_jw_close(&w, ']');
	} else if (p->objects) {
		api_jw_value(&w, "objects", p->objects);
	} else {
		w.failed = true; /* json_array() failed: 500 */
	}
	api_jw_close(&w, '}');
	api_reply_jw(p->c, 200, &w);
}
