/*
 * doc.c - application documents: libxml2 parses, this file checks the tree
 * against calls-contract.md and builds struct app_doc. Choices where the
 * contract is silent (also listed in docs/calls.md, "Application
 * documents"):
 * - element and attribute names are case-sensitive, as Plivo writes them;
 * - an attribute the verb does not take (a typo, or a Plivo attribute not
 *   supported yet such as dialMusic or sendDigits) makes the document
 *   invalid, as an unknown element does;
 * - attribute values and element text lose leading and trailing XML
 *   whitespace; numbers are plain decimal digits, booleans "true"/"false"
 *   and methods "GET"/"POST" in any case;
 * - a DOCTYPE, an entity reference, a processing instruction or an element
 *   in a namespace makes the document invalid; comments are ignored;
 * - verbs after a Hangup are still checked (the document is valid or not
 *   as a whole) though never run.
 */
#include <errno.h>
#include <pthread.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include <libxml/parser.h>
#include <libxml/tree.h>

#include "app/doc.h"
#include "base/text.h"
#include "model/model.h"

/* The verbs that need media: refused by name until media is supported. */
static const char *const media_verbs[] = {
    "Speak",  "Play",	   "GetDigits",	 "GetInput", "Gather",
    "Record", "PreAnswer", "Conference", "DTMF",     "Stream",
};

/* Where a check failed: the sentence goes to err, its line before it. */
struct ctx {
	char *err;
	size_t cap;
};

__attribute__((format(printf, 3, 4))) static int
fail(struct ctx *c, const xmlNode *n, const char *fmt, ...)
{
	va_list ap;
	int off = 0;

	if (!c->cap)
		return EBADMSG;
	if (n && xmlGetLineNo(n) > 0)
		off = snprintf(c->err, c->cap, "line %ld: ", xmlGetLineNo(n));
	if (off < 0 || (size_t)off >= c->cap)
		off = 0;
	va_start(ap, fmt);
	vsnprintf(c->err + off, c->cap - (size_t)off, fmt, ap);
	va_end(ap);
	return EBADMSG;
}

static bool is_ws(char ch)
{
	return ch == ' ' || ch == '\t' || ch == '\n' || ch == '\r';
}

/* Copies s without surrounding XML whitespace into out (cap bytes). */
static size_t trim(const char *s, char *out, size_t cap, bool *fits)
{
	size_t n;

	while (is_ws(*s))
		s++;
	n = strlen(s);
	while (n && is_ws(s[n - 1]))
		n--;
	*fits = n < cap;
	if (!*fits)
		n = cap - 1;
	memcpy(out, s, n);
	out[n] = '\0';
	return n;
}

static bool blank(const char *s)
{
	for (; *s; s++)
		if (!is_ws(*s))
			return false;
	return true;
}

/* An attribute's value (libxml2 has already replaced &amp; and friends). */
static int attr_value(struct ctx *c, const xmlNode *el, const xmlAttr *a,
		      char *out, size_t cap, size_t *len)
{
	xmlChar *v = xmlNodeListGetString(el->doc, a->children, 1);
	bool fits;

	if (!v)
		v = xmlStrdup((const xmlChar *)"");
	if (!v)
		return ENOMEM;
	*len = trim((const char *)v, out, cap, &fits);
	xmlFree(v);
	if (!fits)
		return fail(c, el, "%s: %s is longer than %zu bytes",
			    (const char *)el->name, (const char *)a->name,
			    cap - 1);
	return 0;
}

/* The text of an element that holds text only (User, Number, Redirect). */
static int text_only(struct ctx *c, const xmlNode *el, char *out, size_t cap,
		     size_t *len)
{
	char *buf;
	size_t used = 0;
	bool fits;

	buf = malloc(cap);
	if (!buf)
		return ENOMEM;
	buf[0] = '\0';
	for (const xmlNode *k = el->children; k; k = k->next) {
		size_t n;

		if (k->type == XML_COMMENT_NODE)
			continue;
		if (k->type != XML_TEXT_NODE &&
		    k->type != XML_CDATA_SECTION_NODE) {
			free(buf);
			return fail(c, k, "%s may hold only text",
				    (const char *)el->name);
		}
		n = strlen((const char *)k->content);
		if (used + n >= cap) {
			free(buf);
			return fail(c, el, "%s is longer than %zu bytes",
				    (const char *)el->name, cap - 1);
		}
		memcpy(buf + used, k->content, n);
		used += n;
		buf[used] = '\0';
	}
	*len = trim(buf, out, cap, &fits);
	free(buf);
	return 0;
}

/* Fails when el has any child element or non-blank text. */
static int no_content(struct ctx *c, const xmlNode *el)
{
	for (const xmlNode *k = el->children; k; k = k->next) {
		if (k->type == XML_COMMENT_NODE)
			continue;
		if ((k->type == XML_TEXT_NODE ||
		     k->type == XML_CDATA_SECTION_NODE) &&
		    blank((const char *)k->content))
			continue;
		return fail(c, k, "%s takes no %s", (const char *)el->name,
			    k->type == XML_ELEMENT_NODE ? "child elements"
							: "text");
	}
	return 0;
}

/* A decimal integer lo..hi: digits only. */
static int number(struct ctx *c, const xmlNode *el, const char *attr,
		  const char *v, unsigned lo, unsigned hi, unsigned *out)
{
	unsigned long x = 0;

	if (!*v || strlen(v) > 9 || strspn(v, "0123456789") != strlen(v))
		goto bad;
	x = strtoul(v, NULL, 10);
	if (x < lo || x > hi)
		goto bad;
	*out = (unsigned)x;
	return 0;
bad:
	return fail(c, el, "%s: %s must be an integer from %u to %u",
		    (const char *)el->name, attr, lo, hi);
}

static int boolean(struct ctx *c, const xmlNode *el, const char *attr,
		   const char *v, bool *out)
{
	if (strcasecmp(v, "true") == 0)
		*out = true;
	else if (strcasecmp(v, "false") == 0)
		*out = false;
	else
		return fail(c, el, "%s: %s must be true or false",
			    (const char *)el->name, attr);
	return 0;
}

static int method(struct ctx *c, const xmlNode *el, const char *v, char *out)
{
	if (strcasecmp(v, "GET") == 0)
		strcpy(out, "GET");
	else if (strcasecmp(v, "POST") == 0)
		strcpy(out, "POST");
	else
		return fail(c, el, "%s: method must be GET or POST",
			    (const char *)el->name);
	return 0;
}

static int url(struct ctx *c, const xmlNode *el, const char *what,
	       const char *v, size_t len)
{
	struct model_errors errs = {0};
	int rc = model_url_check(v, len, what, &errs);

	model_errors_free(&errs);
	if (rc)
		return fail(c, el,
			    "%s: %s must be an absolute http or https URL of "
			    "at most %d bytes",
			    (const char *)el->name, what, MODEL_URL_MAX);
	return 0;
}

static bool in_set(char ch, const char *set)
{
	return (ch >= 'a' && ch <= 'z') || (ch >= 'A' && ch <= 'Z') ||
	       (ch >= '0' && ch <= '9') || (ch && strchr(set, ch));
}

/*
 * "sip:user@host[:port]": user of RFC 3261's unreserved, escaped and
 * user-unreserved characters, host of letters, digits, '-' and '.'. No
 * parameters, no display name: the engine resolves it to an endpoint.
 */
static bool sip_uri_ok(const char *s)
{
	const char *at, *h, *colon;

	if (strncasecmp(s, "sip:", 4) != 0)
		return false;
	s += 4;
	at = strchr(s, '@');
	if (!at || at == s || at - s > MODEL_USERNAME_MAX)
		return false;
	for (const char *p = s; p < at; p++) {
		if (*p == '%') {
			if (!in_set(p[1], "") || !in_set(p[2], ""))
				return false;
			p += 2;
		} else if (!in_set(*p, "-_.!~*'()&=+$,;?/")) {
			return false;
		}
	}
	h = at + 1;
	colon = strchr(h, ':');
	if (colon) {
		size_t d = strlen(colon + 1);

		if (!d || d > 5 || strspn(colon + 1, "0123456789") != d)
			return false;
	}
	if (h == colon || !*h ||
	    (size_t)((colon ? colon : h + strlen(h)) - h) >= MODEL_DOMAIN_MAX)
		return false;
	for (const char *p = h; *p && p != colon; p++)
		if (!in_set(*p, "-."))
			return false;
	return true;
}

/* The contract's phone-number rule: ^\+?[0-9]{3,20}$. */
static bool number_ok(const char *s)
{
	size_t n;

	if (*s == '+')
		s++;
	n = strlen(s);
	return n >= 3 && n <= 20 && strspn(s, "0123456789") == n;
}

/* "a=1,b=2": names give X-PH-name headers; see doc.h for the limits. */
static int sip_headers(struct ctx *c, const xmlNode *el, const char *v,
		       struct app_dial *d)
{
	const char *p = v;

	while (*p) {
		const char *end = p + strcspn(p, ","), *eq;
		size_t nl, vl;

		eq = memchr(p, '=', (size_t)(end - p));
		if (d->nheaders == APP_DIAL_HEADERS_MAX)
			return fail(c, el,
				    "Dial: sipHeaders has more than %d "
				    "pairs",
				    APP_DIAL_HEADERS_MAX);
		if (!eq)
			goto bad;
		nl = (size_t)(eq - p);
		vl = (size_t)(end - eq - 1);
		if (!nl || nl + 5 > APP_HEADER_NAME_MAX || !vl ||
		    vl > APP_HEADER_VALUE_MAX)
			goto bad;
		for (const char *q = p; q < eq; q++)
			if (!in_set(*q, "-"))
				goto bad;
		for (const char *q = eq + 1; q < end; q++)
			if (!in_set(*q, "%-_.~+*:@/"))
				goto bad;
		snprintf(d->headers[d->nheaders].name, APP_HEADER_NAME_MAX + 1,
			 "X-PH-%.*s", (int)nl, p);
		snprintf(d->headers[d->nheaders].value,
			 APP_HEADER_VALUE_MAX + 1, "%.*s", (int)vl, eq + 1);
		d->nheaders++;
		p = *end ? end + 1 : end;
		if (*p == '\0' && end[0] == ',')
			goto bad;
	}
	return 0;
bad:
	return fail(
	    c, el,
	    "Dial: sipHeaders must be name=value pairs separated by "
	    "commas, names of at most %d letters, digits or '-', values "
	    "of 1 to %d letters, digits or %%-_.~+*:@/",
	    APP_HEADER_NAME_MAX - 5, APP_HEADER_VALUE_MAX);
}

static int no_attrs(struct ctx *c, const xmlNode *el)
{
	if (el->properties)
		return fail(c, el, "%s: attribute \"%s\" is not supported",
			    (const char *)el->name,
			    (const char *)el->properties->name);
	return 0;
}

static int dial_target(struct ctx *c, const xmlNode *k, struct app_dial *d)
{
	struct app_dial_target *t;
	size_t len;
	int rc;

	if (d->ntargets == APP_DIAL_TARGETS_MAX)
		return fail(c, k,
			    "Dial has more than %d User and Number "
			    "elements",
			    APP_DIAL_TARGETS_MAX);
	t = &d->targets[d->ntargets];
	t->user = strcmp((const char *)k->name, "User") == 0;
	rc = no_attrs(c, k);
	if (!rc)
		rc = text_only(c, k, t->text, sizeof(t->text), &len);
	if (rc)
		return rc;
	if (t->user && !sip_uri_ok(t->text))
		return fail(c, k, "User must be a SIP URI sip:user@host");
	if (!t->user && !number_ok(t->text))
		return fail(c, k,
			    "Number must be 3 to 20 digits, with an "
			    "optional leading +");
	d->ntargets++;
	return 0;
}

static int dial(struct ctx *c, const xmlNode *el, struct app_dial *d)
{
	char v[MODEL_URL_MAX + 1];
	size_t len;
	int rc = 0;

	d->time_limit = APP_DIAL_TIME_LIMIT_DEFAULT;
	strcpy(d->method, "POST");
	d->redirect = true;
	for (const xmlAttr *a = el->properties; a && !rc; a = a->next) {
		const char *name = (const char *)a->name;

		if (a->ns)
			return fail(c, el,
				    "Dial: attribute \"%s\" is not "
				    "supported",
				    name);
		rc = attr_value(c, el, a, v, sizeof(v), &len);
		if (rc)
			return rc;
		if (strcmp(name, "timeout") == 0) {
			rc = number(c, el, name, v, 1, APP_DIAL_TIMEOUT_MAX,
				    &d->timeout);
		} else if (strcmp(name, "timeLimit") == 0) {
			rc = number(c, el, name, v, 1, APP_DIAL_TIME_LIMIT_MAX,
				    &d->time_limit);
		} else if (strcmp(name, "callerId") == 0) {
			if (!len || len > APP_CALLER_ID_MAX)
				goto bad_id;
			for (size_t i = 0; i < len; i++)
				if (!in_set(v[i], "+-_."))
					goto bad_id;
			memcpy(d->caller_id, v, len + 1);
		} else if (strcmp(name, "callerName") == 0) {
			if (len && base_text_check(v, len, 1, MODEL_ALIAS_MAX))
				return fail(c, el,
					    "Dial: callerName must be at most "
					    "%d printable characters",
					    MODEL_ALIAS_MAX);
			memcpy(d->caller_name, v, len + 1);
			d->has_caller_name = true;
		} else if (strcmp(name, "action") == 0) {
			rc = url(c, el, name, v, len);
			if (!rc)
				memcpy(d->action, v, len + 1);
		} else if (strcmp(name, "method") == 0) {
			rc = method(c, el, v, d->method);
		} else if (strcmp(name, "redirect") == 0) {
			rc = boolean(c, el, name, v, &d->redirect);
		} else if (strcmp(name, "sipHeaders") == 0) {
			rc = sip_headers(c, el, v, d);
		} else {
			return fail(c, el,
				    "Dial: attribute \"%s\" is not supported",
				    name);
		}
	}
	if (rc)
		return rc;
	for (const xmlNode *k = el->children; k; k = k->next) {
		if (k->type == XML_ELEMENT_NODE && !k->ns &&
		    (strcmp((const char *)k->name, "User") == 0 ||
		     strcmp((const char *)k->name, "Number") == 0)) {
			rc = dial_target(c, k, d);
			if (rc)
				return rc;
		} else if (k->type == XML_ELEMENT_NODE) {
			return fail(c, k,
				    "Dial may hold only User and Number, not "
				    "%s",
				    (const char *)k->name);
		} else if (k->type == XML_COMMENT_NODE ||
			   ((k->type == XML_TEXT_NODE ||
			     k->type == XML_CDATA_SECTION_NODE) &&
			    blank((const char *)k->content))) {
			continue;
		} else {
			return fail(c, k,
				    "Dial takes no text, only User and "
				    "Number elements");
		}
	}
	if (!d->ntargets)
		return fail(c, el, "Dial needs at least one User or Number");
	return 0;
bad_id:
	return fail(c, el,
		    "Dial: callerId must be 1 to %d letters, digits or +-_.",
		    APP_CALLER_ID_MAX);
}

static int hangup(struct ctx *c, const xmlNode *el, enum app_hangup_reason *out)
{
	char v[32];
	size_t len;
	int rc;

	*out = APP_HANGUP_NONE;
	for (const xmlAttr *a = el->properties; a; a = a->next) {
		if (a->ns || strcmp((const char *)a->name, "reason") != 0)
			return fail(c, el,
				    "Hangup: attribute \"%s\" is not supported",
				    (const char *)a->name);
		rc = attr_value(c, el, a, v, sizeof(v), &len);
		if (rc)
			return rc;
		if (strcmp(v, "busy") == 0)
			*out = APP_HANGUP_BUSY;
		else if (strcmp(v, "rejected") == 0)
			*out = APP_HANGUP_REJECTED;
		else
			return fail(c, el,
				    "Hangup: reason must be busy or rejected");
	}
	return no_content(c, el);
}

static int redirect(struct ctx *c, const xmlNode *el, struct app_redirect *r)
{
	char v[16];
	size_t len;
	int rc;

	strcpy(r->method, "POST");
	for (const xmlAttr *a = el->properties; a; a = a->next) {
		if (a->ns || strcmp((const char *)a->name, "method") != 0)
			return fail(c, el,
				    "Redirect: attribute \"%s\" is not "
				    "supported",
				    (const char *)a->name);
		rc = attr_value(c, el, a, v, sizeof(v), &len);
		if (!rc)
			rc = method(c, el, v, r->method);
		if (rc)
			return rc;
	}
	rc = text_only(c, el, r->url, sizeof(r->url), &len);
	if (rc)
		return rc;
	if (!len)
		return fail(c, el, "Redirect needs a URL as its text");
	return url(c, el, "its URL", r->url, len);
}

static int wait(struct ctx *c, const xmlNode *el, unsigned *out)
{
	char v[16];
	size_t len;
	int rc;

	*out = 1;
	for (const xmlAttr *a = el->properties; a; a = a->next) {
		if (a->ns || strcmp((const char *)a->name, "length") != 0)
			return fail(c, el,
				    "Wait: attribute \"%s\" is not supported",
				    (const char *)a->name);
		rc = attr_value(c, el, a, v, sizeof(v), &len);
		if (!rc)
			rc = number(c, el, "length", v, 1, APP_WAIT_LENGTH_MAX,
				    out);
		if (rc)
			return rc;
	}
	return no_content(c, el);
}

static int verb(struct ctx *c, const xmlNode *el, struct app_verb *v)
{
	const char *name = (const char *)el->name;

	v->line = xmlGetLineNo(el) > 0 ? (unsigned)xmlGetLineNo(el) : 0;
	if (el->ns)
		return fail(c, el, "%s is in a namespace; verbs take none",
			    name);
	for (size_t i = 0; i < sizeof(media_verbs) / sizeof(media_verbs[0]);
	     i++)
		if (strcmp(name, media_verbs[i]) == 0)
			return fail(c, el,
				    "%s needs media, which sipward does not "
				    "run yet",
				    name);
	if (strcmp(name, "Dial") == 0) {
		v->kind = APP_VERB_DIAL;
		return dial(c, el, &v->u.dial);
	}
	if (strcmp(name, "Hangup") == 0) {
		v->kind = APP_VERB_HANGUP;
		return hangup(c, el, &v->u.hangup);
	}
	if (strcmp(name, "Redirect") == 0) {
		v->kind = APP_VERB_REDIRECT;
		return redirect(c, el, &v->u.redirect);
	}
	if (strcmp(name, "Wait") == 0) {
		v->kind = APP_VERB_WAIT;
		return wait(c, el, &v->u.wait);
	}
	return fail(c, el, "%s is not a verb sipward knows", name);
}

static int response(struct ctx *c, xmlDoc *xd, struct app_doc **out)
{
	const xmlNode *root = xmlDocGetRootElement(xd);
	struct app_doc *doc = NULL;
	unsigned n = 0;
	int rc;

	if (xd->intSubset || xd->extSubset)
		return fail(c, NULL, "a DOCTYPE is not allowed");
	for (const xmlNode *k = xd->children; k; k = k->next)
		if (k->type == XML_PI_NODE)
			return fail(c, k,
				    "processing instructions are not "
				    "allowed");
	if (!root || root->ns || strcmp((const char *)root->name, "Response"))
		return fail(c, root, "the root element must be Response");
	if (root->properties)
		return fail(c, root, "Response takes no attributes");
	for (const xmlNode *k = root->children; k; k = k->next) {
		if (k->type == XML_ELEMENT_NODE) {
			if (++n > APP_DOC_VERBS_MAX)
				return fail(c, k,
					    "Response has more than %d "
					    "verbs",
					    APP_DOC_VERBS_MAX);
		} else if (k->type == XML_COMMENT_NODE) {
			continue;
		} else if ((k->type == XML_TEXT_NODE ||
			    k->type == XML_CDATA_SECTION_NODE) &&
			   blank((const char *)k->content)) {
			continue;
		} else if (k->type == XML_ENTITY_REF_NODE) {
			return fail(c, k, "entity references are not allowed");
		} else if (k->type == XML_PI_NODE) {
			return fail(c, k,
				    "processing instructions are not "
				    "allowed");
		} else {
			return fail(c, k, "Response takes no text, only verbs");
		}
	}
	doc = calloc(1, sizeof(*doc));
	if (!doc)
		return ENOMEM;
	if (n) {
		doc->verbs = calloc(n, sizeof(*doc->verbs));
		if (!doc->verbs) {
			free(doc);
			return ENOMEM;
		}
	}
	for (const xmlNode *k = root->children; k; k = k->next) {
		if (k->type != XML_ELEMENT_NODE)
			continue;
		rc = verb(c, k, &doc->verbs[doc->n]);
		if (rc) {
			app_doc_free(doc);
			return rc;
		}
		doc->n++;
	}
	*out = doc;
	return 0;
}

/* Entity and PI nodes below the verbs' level, which the walk above skips. */
static int scan(struct ctx *c, const xmlNode *n, int depth)
{
	for (; n; n = n->next) {
		if (n->type == XML_ENTITY_REF_NODE)
			return fail(c, n, "entity references are not allowed");
		if (n->type == XML_PI_NODE)
			return fail(c, n,
				    "processing instructions are not "
				    "allowed");
		if (n->type == XML_ELEMENT_NODE && depth < 8) {
			int rc = scan(c, n->children, depth + 1);

			if (rc)
				return rc;
		}
	}
	return 0;
}

static pthread_once_t once = PTHREAD_ONCE_INIT;

static void init(void)
{
	xmlInitParser();
}

/* libxml2 reports some errors (encodings, I/O) outside the context. */
static void quiet(void *ctx, const char *fmt, ...)
{
	(void)ctx;
	(void)fmt;
}

int app_doc_parse(const char *xml, size_t len, struct app_doc **out, char *err,
		  size_t cap)
{
	struct ctx c = {err, cap};
	xmlParserCtxt *pc = NULL;
	xmlDoc *xd = NULL;
	int rc;

	if (cap)
		err[0] = '\0';
	if (len > APP_DOC_MAX)
		return fail(&c, NULL, "the document is larger than %d bytes",
			    APP_DOC_MAX);
	pthread_once(&once, init);
	xmlSetGenericErrorFunc(NULL, quiet); /* this thread's handler */
	pc = xmlNewParserCtxt();
	if (!pc)
		return ENOMEM;
	/*
	 * No XML_PARSE_NOENT (entities stay references, refused above), no
	 * DTDLOAD/DTDATTR/DTDVALID, no HUGE (libxml2's depth and size limits
	 * hold), NONET in any case; errors go to the context, not stderr.
	 */
	xd = xmlCtxtReadMemory(pc, xml, (int)len, "answer.xml", NULL,
			       XML_PARSE_NONET | XML_PARSE_NOERROR |
				   XML_PARSE_NOWARNING | XML_PARSE_NOCDATA);
	if (!xd) {
		const xmlError *e = xmlCtxtGetLastError(pc);
		char msg[120] = "not well-formed XML";
		size_t n;

		if (e && e->message) {
			snprintf(msg, sizeof(msg), "%s", e->message);
			n = strlen(msg);
			while (n && (msg[n - 1] == '\n' || msg[n - 1] == ' '))
				msg[--n] = '\0';
		}
		if (e && e->line > 0)
			snprintf(err, cap, "line %d: not well-formed XML: %s",
				 e->line, msg);
		else
			snprintf(err, cap, "not well-formed XML: %s", msg);
		rc = EBADMSG;
		goto out;
	}
	rc = scan(&c, xd->children, 0);
	if (!rc)
		rc = response(&c, xd, out);
out:
	if (xd)
		xmlFreeDoc(xd);
	xmlFreeParserCtxt(pc);
	return rc;
}

void app_doc_free(struct app_doc *doc)
{
	if (!doc)
		return;
	free(doc->verbs);
	free(doc);
}

const char *app_verb_name(enum app_verb_kind kind)
{
	switch (kind) {
	case APP_VERB_DIAL:
		return "Dial";
	case APP_VERB_HANGUP:
		return "Hangup";
	case APP_VERB_REDIRECT:
		return "Redirect";
	case APP_VERB_WAIT:
		return "Wait";
	}
	return "?";
}
