/* page.c - limit/offset paging and the list envelope, for every resource. */
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
static json_t *page_url(struct api_page *p, const char *res, long long offset,
			const char *after)
{
	char buf[4096];

	snprintf(buf, sizeof(buf), "%s/Account/%s/%s/?limit=%lld&offset=%lld",
		 p->c->prefix, p->c->acct.auth_id, res, p->limit, offset);
	for (unsigned i = 0; i < p->n; i++)
		if (!paging_key(p->keys[i]))
			api_query_append(buf, sizeof(buf), p->keys[i],
					 p->vals[i]);
	if (after)
		api_query_append(buf, sizeof(buf), "after", after);
	return json_string(buf);
}

json_t *api_page_envelope(struct api_page *p, const char *resource,
			  int64_t total)
{
	json_t *meta, *o;
	long long prev = p->offset - p->limit < 0 ? 0 : p->offset - p->limit;

	meta = json_object();
	json_object_set_new(meta, "limit", json_integer(p->limit));
	json_object_set_new(meta, "offset", json_integer(p->offset));
	json_object_set_new(meta, "total_count", json_integer(total));
	json_object_set_new(meta, "next",
			    (p->keyset ? p->more : p->offset + p->limit < total)
				? page_url(p, resource, p->offset + p->limit,
					   p->keyset ? p->last : NULL)
				: json_null());
	json_object_set_new(meta, "previous",
			    p->offset > 0 ? page_url(p, resource, prev, NULL)
					  : json_null());
	o = json_object();
	json_object_set_new(o, "api_id", json_string(p->c->api_id));
	json_object_set_new(o, "meta", meta);
	json_object_set_new(o, "objects", p->objects);
	p->objects = NULL;
	return o;
}
