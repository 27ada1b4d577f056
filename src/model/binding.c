/* binding.c - RFC 3261 section 10.3 steps 6 to 8, without I/O. */
#include "model/binding.h"

#include <errno.h>
#include <stdio.h>
#include <string.h>
#include <strings.h>

/* Copies src into a fixed field, refusing what does not fit. */
static int copy(char *dst, size_t cap, const char *src)
{
	size_t n = strlen(src);

	if (n >= cap)
		return EINVAL;
	memcpy(dst, src, n + 1);
	return 0;
}

/*
 * Contact URI equality, after RFC 3261 19.1.4 in the parts that matter
 * for bindings: the scheme, host, port and parameters compare without
 * regard to case, the user part exactly ("sip:Bob@Host" and "SIP:Bob@host"
 * are one contact, "sip:bob@host" another).
 */
bool model_contact_eq(const char *a, const char *b)
{
	const char *at_a = strchr(a, '@'), *at_b = strchr(b, '@');
	const char *colon_a = strchr(a, ':'), *colon_b = strchr(b, ':');
	size_t ua, ub;

	if (!colon_a || !colon_b || (!at_a) != (!at_b))
		return strcmp(a, b) == 0;
	if (colon_a - a != colon_b - b ||
	    strncasecmp(a, b, (size_t)(colon_a - a)) != 0)
		return false;
	if (at_a) {
		ua = (size_t)(at_a - colon_a);
		ub = (size_t)(at_b - colon_b);
		if (ua != ub || strncmp(colon_a, colon_b, ua) != 0)
			return false;
		return strcasecmp(at_a, at_b) == 0;
	}
	return strcasecmp(colon_a, colon_b) == 0;
}

static int find(const struct model_binding *b, unsigned n, const char *uri)
{
	for (unsigned i = 0; i < n; i++)
		if (model_contact_eq(b[i].contact, uri))
			return (int)i;
	return -1;
}

/* Whether req may change binding b (RFC 3261 10.3 step 7). */
static bool in_order(const struct model_binding *b,
		     const struct model_reg_request *req)
{
	return strcmp(b->call_id, req->call_id) != 0 || req->cseq > b->cseq;
}

static void drop(struct model_binding *b, unsigned *n, unsigned i)
{
	memmove(&b[i], &b[i + 1], (*n - i - 1) * sizeof(*b));
	(*n)--;
}

/* The expiry asked for: the contact's parameter, else the header, else the
 * default. */
static int64_t requested(const struct model_reg_contact *c,
			 const struct model_reg_request *req,
			 const struct model_reg_limits *lim)
{
	return c->expires >= 0	   ? c->expires
	       : req->expires >= 0 ? req->expires
				   : lim->default_expires;
}

/* The expiry granted: the one asked for, clamped to the maximum. */
static int64_t expiry(const struct model_reg_contact *c,
		      const struct model_reg_request *req,
		      const struct model_reg_limits *lim)
{
	int64_t e = requested(c, req, lim);

	return e > lim->max_expires ? lim->max_expires : e;
}

/* Sets binding b from contact c of req, expiring in e seconds. */
static int set_binding(struct model_binding *b,
		       const struct model_reg_contact *c, int64_t e,
		       const struct model_reg_request *req)
{
	b->expires_ms = req->now_ms + e * 1000;
	b->cseq = req->cseq;
	b->updated_ms = req->now_ms;
	snprintf(b->user_agent, sizeof(b->user_agent), "%s", req->user_agent);
	return copy(b->q, sizeof(b->q), c->q) ||
	       copy(b->call_id, sizeof(b->call_id), req->call_id) ||
	       copy(b->received, sizeof(b->received), req->received) ||
	       copy(b->transport, sizeof(b->transport), req->transport) ||
	       copy(b->path, sizeof(b->path), req->path ? req->path : "");
}

int model_register_apply(const struct model_binding *cur, unsigned ncur,
			 const struct model_reg_request *req,
			 const struct model_reg_limits *lim,
			 struct model_binding *next, unsigned *nnext)
{
	unsigned n = ncur;

	if (ncur > MODEL_BINDINGS_MAX)
		return EINVAL;
	memcpy(next, cur, ncur * sizeof(*cur));
	if (req->star) {
		/* Step 6: "*" only alone and with Expires: 0. */
		if (req->ncontacts || req->expires != 0)
			return EINVAL;
		for (unsigned i = 0; i < n; i++)
			if (!in_order(&next[i], req))
				return EALREADY;
		*nnext = 0;
		return 0;
	}
	/* Step 7 first pass: the request is refused whole or applied whole. */
	for (unsigned k = 0; k < req->ncontacts; k++) {
		const struct model_reg_contact *c = &req->contacts[k];
		int64_t e = requested(c, req, lim);
		int i;

		if (strlen(c->uri) > MODEL_CONTACT_URI_MAX ||
		    strlen(c->q) >= MODEL_Q_MAX)
			return EINVAL;
		if (e > 0 && e < lim->min_expires)
			return ERANGE;
		i = find(next, n, c->uri);
		if (i >= 0 && !in_order(&next[i], req))
			return EALREADY;
	}
	/*
	 * Removals first, then updates and additions, so that the contact cap
	 * applies to the final set whatever the order of the Contact values.
	 */
	for (int pass = 0; pass < 2; pass++) {
		for (unsigned k = 0; k < req->ncontacts; k++) {
			const struct model_reg_contact *c = &req->contacts[k];
			int64_t e = expiry(c, req, lim);
			int i = find(next, n, c->uri);

			if (pass == 0 && e == 0 && i >= 0)
				drop(next, &n, (unsigned)i);
			if (pass == 0 || e == 0)
				continue;
			if (i < 0) {
				if (n >= lim->max_contacts ||
				    n >= MODEL_BINDINGS_MAX)
					return E2BIG;
				i = (int)n++;
				memset(&next[i], 0, sizeof(next[i]));
				copy(next[i].contact, sizeof(next[i].contact),
				     c->uri);
			}
			if (set_binding(&next[i], c, e, req))
				return EINVAL;
		}
	}
	*nnext = n;
	return 0;
}
