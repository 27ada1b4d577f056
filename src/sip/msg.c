/* msg.c - in-place SIP message parser and TCP stream framer (see msg.h). */
#include "sip/msg.h"

#include <errno.h>
#include <stdint.h>
#include <stddef.h>
#include <string.h>
#include <strings.h>

/* Which single-valued headers were seen, to refuse repeats. */
struct seen {
	bool from, to, call_id, cseq, expires, max_forwards, clen;
};

/* ---- characters ---- */

static bool is_lws(char c)
{
	return c == ' ' || c == '\t';
}

static bool is_digit(char c)
{
	return c >= '0' && c <= '9';
}

static bool is_alnum(char c)
{
	return is_digit(c) || (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z');
}

static bool is_hex(char c)
{
	return is_digit(c) || (c >= 'a' && c <= 'f') || (c >= 'A' && c <= 'F');
}

static bool in_set(char c, const char *set)
{
	return c != '\0' && strchr(set, c) != NULL;
}

/* RFC 3261 token. */
static bool is_token(char c)
{
	return is_alnum(c) || in_set(c, "-.!%*_+`'~");
}

/* A generic-param value that is not quoted: token / host, liberally. */
static bool is_pvalue(char c)
{
	unsigned char u = (unsigned char)c;

	return u > 0x20 && u != 0x7f && !in_set(c, ";,\"");
}

/* Characters of hostnames and IPv4 addresses (plus '_', seen in the wild). */
static bool is_hostc(char c)
{
	return is_alnum(c) || c == '-' || c == '.' || c == '_';
}

/* URI parameters and headers: visible ASCII but the delimiters of
 * name-addr and quoted strings. */
static bool is_uric(char c)
{
	unsigned char u = (unsigned char)c;

	return u > 0x20 && u < 0x7f && !in_set(c, "<>\"\\");
}

static const char *skip_lws(const char *p, const char *e)
{
	while (p < e && is_lws(*p))
		p++;
	return p;
}

static const char *trim_end(const char *s, const char *e)
{
	while (e > s && is_lws(e[-1]))
		e--;
	return e;
}

static struct sip_str str(const char *s, const char *e)
{
	return (struct sip_str){s, (size_t)(e - s)};
}

bool sip_str_ieq(struct sip_str s, const char *lit)
{
	size_t n = strlen(lit);

	if (s.n != n)
		return false;
	return n == 0 || (s.p && strncasecmp(s.p, lit, n) == 0);
}

bool sip_str_eq(struct sip_str s, const char *lit)
{
	size_t n = strlen(lit);

	if (s.n != n)
		return false;
	return n == 0 || (s.p && memcmp(s.p, lit, n) == 0);
}

/*
 * Parses 1*DIGIT filling [s, e) exactly. Above max: saturates at max when
 * sat, else fails. Returns 0 or EBADMSG.
 */
static int num_parse(const char *s, const char *e, uint64_t max, bool sat,
		     uint64_t *out)
{
	uint64_t v = 0;

	if (s == e)
		return EBADMSG;
	for (const char *p = s; p < e; p++) {
		unsigned d;

		if (!is_digit(*p))
			return EBADMSG;
		d = (unsigned)(*p - '0');
		if (v > (max - d) / 10) {
			if (!sat)
				return EBADMSG;
			v = max;
		} else {
			v = v * 10 + d;
		}
	}
	*out = v;
	return 0;
}

/* p at '"': returns the byte after the closing quote, or NULL. */
static const char *skip_quoted(const char *p, const char *e)
{
	for (p++; p < e; p++) {
		if (*p == '\\') {
			if (++p == e)
				return NULL;
		} else if (*p == '"') {
			return p + 1;
		}
	}
	return NULL;
}

/*
 * The next element of a comma-separated list in [*pp, e), trimmed, into
 * [*s, *se). Quoted strings and <...> protect their commas. *more says
 * whether a comma followed (so another, maybe empty, element comes).
 */
static int list_next(const char **pp, const char *e, const char **s,
		     const char **se, bool *more)
{
	const char *p = skip_lws(*pp, e), *start = p;

	while (p < e && *p != ',') {
		if (*p == '"') {
			p = skip_quoted(p, e);
			if (!p)
				return EBADMSG;
		} else if (*p == '<') {
			p = memchr(p, '>', (size_t)(e - p));
			if (!p)
				return EBADMSG;
			p++;
		} else {
			p++;
		}
	}
	*s = start;
	*se = trim_end(start, p);
	*more = p < e;
	*pp = p < e ? p + 1 : e;
	return 0;
}

struct param {
	struct sip_str name;
	struct sip_str val; /* inside the quotes when quoted; p NULL if none */
	bool quoted;
};

/*
 * The next ";name[=value]" at *pp (whitespace allowed around ';' and '=').
 * Sets *got false at the end of [*pp, e). Returns 0 or EBADMSG.
 */
static int param_next(const char **pp, const char *e, struct param *pa,
		      bool *got)
{
	const char *p = skip_lws(*pp, e), *s;

	*got = false;
	if (p == e) {
		*pp = p;
		return 0;
	}
	if (*p != ';')
		return EBADMSG;
	p = skip_lws(p + 1, e);
	s = p;
	while (p < e && is_token(*p))
		p++;
	if (p == s)
		return EBADMSG;
	memset(pa, 0, sizeof(*pa));
	pa->name = str(s, p);
	p = skip_lws(p, e);
	if (p < e && *p == '=') {
		p = skip_lws(p + 1, e);
		if (p < e && *p == '"') {
			const char *q = skip_quoted(p, e);

			if (!q)
				return EBADMSG;
			pa->val = str(p + 1, q - 1);
			pa->quoted = true;
			p = q;
		} else {
			s = p;
			while (p < e && is_pvalue(*p))
				p++;
			if (p == s)
				return EBADMSG;
			pa->val = str(s, p);
		}
	}
	*pp = p;
	*got = true;
	return 0;
}

/* ---- URIs ---- */

/* Checks [s, e) against a URI character set, with %HH escapes. */
static bool uri_chars_ok(const char *s, const char *e, const char *extra)
{
	for (const char *p = s; p < e; p++) {
		if (*p == '%') {
			if (e - p < 3 || !is_hex(p[1]) || !is_hex(p[2]))
				return false;
			p += 2;
		} else if (!is_alnum(*p) && !in_set(*p, "-_.!~*'()") &&
			   !in_set(*p, extra)) {
			return false;
		}
	}
	return true;
}

int sip_uri_parse(struct sip_str text, struct sip_uri *out)
{
	struct sip_uri u;
	const char *p = text.p, *e, *c, *at, *s;

	if (!p || text.n == 0)
		return EBADMSG;
	e = p + text.n;
	memset(&u, 0, sizeof(u));
	c = memchr(p, ':', text.n);
	if (!c || !((c - p == 3 && strncasecmp(p, "sip", 3) == 0) ||
		    (c - p == 4 && strncasecmp(p, "sips", 4) == 0)))
		return EBADMSG;
	u.scheme = str(p, c);
	p = c + 1;

	at = memchr(p, '@', (size_t)(e - p));
	if (at) {
		const char *pw = memchr(p, ':', (size_t)(at - p));
		const char *ue = pw ? pw : at;

		if (ue == p || !uri_chars_ok(p, ue, "&=+$,;?/"))
			return EBADMSG;
		if (pw && !uri_chars_ok(pw + 1, at, "&=+$,"))
			return EBADMSG;
		u.user = str(p, ue);
		p = at + 1;
	}

	if (p < e && *p == '[') {
		s = ++p;
		while (p < e && (is_hex(*p) || *p == ':' || *p == '.'))
			p++;
		if (p == s || p == e || *p != ']')
			return EBADMSG;
		u.host = str(s, p);
		p++;
	} else {
		s = p;
		while (p < e && is_hostc(*p))
			p++;
		if (p == s)
			return EBADMSG;
		u.host = str(s, p);
	}

	if (p < e && *p == ':') {
		uint64_t port;

		s = ++p;
		while (p < e && is_digit(*p))
			p++;
		if (num_parse(s, p, 65535, false, &port) || port == 0)
			return EBADMSG;
		u.port = (unsigned)port;
	}
	if (p < e && *p == ';') {
		s = p;
		while (p < e && *p != '?') {
			if (!is_uric(*p))
				return EBADMSG;
			p++;
		}
		u.params = str(s, p);
	}
	if (p < e && *p == '?') {
		for (p++; p < e; p++)
			if (!is_uric(*p))
				return EBADMSG;
	}
	if (p != e)
		return EBADMSG;
	*out = u;
	return 0;
}

/*
 * Splits a name-addr or addr-spec in [s, e): sets the URI text and where
 * the header parameters start. In an addr-spec, ";..." belongs to the
 * header (RFC 3261 20.10).
 */
static int nameaddr_split(const char *s, const char *e, struct sip_str *uri,
			  const char **rest)
{
	const char *p = s, *us, *ue;
	bool angle = false;

	if (p < e && *p == '"') {
		p = skip_quoted(p, e);
		if (!p)
			return EBADMSG;
		p = skip_lws(p, e);
		if (p == e || *p != '<')
			return EBADMSG;
		angle = true;
	} else {
		/* An unquoted display name: tokens (or UTF-8) and spaces. */
		while (p < e && (is_token(*p) || is_lws(*p) ||
				 (unsigned char)*p >= 0x80))
			p++;
		angle = p < e && *p == '<';
	}
	if (angle) {
		const char *gt = memchr(p, '>', (size_t)(e - p));

		if (!gt)
			return EBADMSG;
		us = skip_lws(p + 1, gt);
		ue = trim_end(us, gt);
		*rest = gt + 1;
	} else {
		us = s;
		ue = s;
		while (ue < e && *ue != ';' && !is_lws(*ue))
			ue++;
		*rest = ue;
	}
	if (us == ue)
		return EBADMSG;
	*uri = str(us, ue);
	return 0;
}

/* ---- header values ---- */

static int via_parse(const char *s, const char *e, struct sip_via *out)
{
	struct sip_via v;
	const char *p = s, *t;
	struct param pa;
	bool got;
	uint64_t n;
	int err;

	memset(&v, 0, sizeof(v));
	/* sent-protocol: SIP / 2.0 / transport, with SWS around '/' */
	for (int i = 0; i < 3; i++) {
		if (i > 0) {
			p = skip_lws(p, e);
			if (p == e || *p != '/')
				return EBADMSG;
			p = skip_lws(p + 1, e);
		}
		t = p;
		while (p < e && is_token(*p))
			p++;
		if (i == 0 && !sip_str_ieq(str(t, p), "SIP"))
			return EBADMSG;
		if (i == 1 && !sip_str_eq(str(t, p), "2.0"))
			return EBADMSG;
		if (p == t)
			return EBADMSG;
		v.transport = str(t, p);
	}
	if (p == e || !is_lws(*p))
		return EBADMSG;
	p = skip_lws(p, e);

	/* sent-by */
	if (p < e && *p == '[') {
		t = ++p;
		while (p < e && (is_hex(*p) || *p == ':' || *p == '.'))
			p++;
		if (p == t || p == e || *p != ']')
			return EBADMSG;
		v.host = str(t, p);
		p++;
	} else {
		t = p;
		while (p < e && is_hostc(*p))
			p++;
		if (p == t)
			return EBADMSG;
		v.host = str(t, p);
	}
	t = skip_lws(p, e);
	if (t < e && *t == ':') {
		t = skip_lws(t + 1, e);
		p = t;
		while (p < e && is_digit(*p))
			p++;
		if (num_parse(t, p, 65535, false, &n) || n == 0)
			return EBADMSG;
		v.port = (unsigned)n;
	}

	for (;;) {
		err = param_next(&p, e, &pa, &got);
		if (err)
			return err;
		if (!got)
			break;
		if (sip_str_ieq(pa.name, "branch") && !v.branch.p) {
			if (!pa.val.p)
				return EBADMSG;
			v.branch = pa.val;
		} else if (sip_str_ieq(pa.name, "received") && !v.received.p) {
			if (!pa.val.p)
				return EBADMSG;
			v.received = pa.val;
		} else if (sip_str_ieq(pa.name, "rport") && !v.rport) {
			v.rport = true;
			if (pa.val.p) {
				if (num_parse(pa.val.p, pa.val.p + pa.val.n,
					      65535, false, &n) ||
				    n == 0)
					return EBADMSG;
				v.rport_value = (unsigned)n;
			}
		}
	}
	v.raw = str(s, e);
	*out = v;
	return 0;
}

static int via_hdr(struct sip_msg *m, const char *s, const char *e)
{
	const char *p = s, *es, *ee;
	unsigned n = m->nvia;
	bool more = true;
	int err;

	if (m->nvia_lines >= SIP_VIA_MAX)
		return E2BIG;
	while (more) {
		err = list_next(&p, e, &es, &ee, &more);
		if (err)
			return err;
		if (es == ee)
			return EBADMSG;
		if (n >= SIP_VIA_MAX)
			return E2BIG;
		err = via_parse(es, ee, &m->via[n]);
		if (err)
			return err;
		n++;
	}
	/* Only a whole line counts, so via[] and via_lines[] agree. */
	m->nvia = n;
	m->via_lines[m->nvia_lines++] = str(s, e);
	return 0;
}

static int nameaddr_hdr(struct sip_nameaddr *out, const char *s, const char *e)
{
	struct sip_nameaddr na;
	struct param pa;
	const char *p;
	bool got;
	int err;

	memset(&na, 0, sizeof(na));
	err = nameaddr_split(s, e, &na.uri_raw, &p);
	if (err)
		return err;
	err = sip_uri_parse(na.uri_raw, &na.uri);
	if (err)
		return err;
	for (;;) {
		err = param_next(&p, e, &pa, &got);
		if (err)
			return err;
		if (!got)
			break;
		if (sip_str_ieq(pa.name, "tag")) {
			if (na.tag.p || !pa.val.p || pa.quoted || !pa.val.n)
				return EBADMSG;
			na.tag = pa.val;
		}
	}
	na.raw = str(s, e);
	*out = na;
	return 0;
}

/* qvalue = ( "0" [ "." 0*3DIGIT ] ) / ( "1" [ "." 0*3("0") ] ) */
static bool qvalue_ok(struct sip_str v)
{
	if (v.n == 0 || v.n > 5 || (v.p[0] != '0' && v.p[0] != '1'))
		return false;
	if (v.n == 1)
		return true;
	if (v.p[1] != '.')
		return false;
	for (size_t i = 2; i < v.n; i++)
		if (!is_digit(v.p[i]) || (v.p[0] == '1' && v.p[i] != '0'))
			return false;
	return true;
}

static int contact_parse(const char *s, const char *e, struct sip_contact *out)
{
	struct sip_contact c;
	struct param pa;
	const char *p;
	uint64_t n;
	bool got;
	int err;

	memset(&c, 0, sizeof(c));
	err = nameaddr_split(s, e, &c.uri_raw, &p);
	if (err)
		return err;
	err = sip_uri_parse(c.uri_raw, &c.uri);
	if (err)
		return err;
	for (;;) {
		err = param_next(&p, e, &pa, &got);
		if (err)
			return err;
		if (!got)
			break;
		if (sip_str_ieq(pa.name, "expires")) {
			if (c.has_expires || !pa.val.p ||
			    num_parse(pa.val.p, pa.val.p + pa.val.n, UINT32_MAX,
				      true, &n))
				return EBADMSG;
			c.has_expires = true;
			c.expires = (uint32_t)n;
		} else if (sip_str_ieq(pa.name, "q")) {
			if (c.q.p || !pa.val.p || !qvalue_ok(pa.val))
				return EBADMSG;
			c.q = pa.val;
		} else if (sip_str_ieq(pa.name, "+sip.instance")) {
			if (c.instance.p || !pa.val.p || !pa.val.n)
				return EBADMSG;
			/* Kept as written so raw stays intact: no URN has a
			 * backslash, so an escaped value is just ignored. */
			if (!memchr(pa.val.p, '\\', pa.val.n))
				c.instance = pa.val;
		} else if (sip_str_ieq(pa.name, "reg-id")) {
			if (c.reg_id.p || !pa.val.p ||
			    num_parse(pa.val.p, pa.val.p + pa.val.n, INT32_MAX,
				      false, &n) ||
			    n == 0)
				return EBADMSG;
			c.reg_id = pa.val;
		}
	}
	c.raw = str(s, e);
	*out = c;
	return 0;
}

static int contact_hdr(struct sip_msg *m, const char *s, const char *e)
{
	const char *p = s, *es, *ee;
	unsigned n = m->ncontact;
	bool more = true, star = false;
	int err;

	while (more) {
		err = list_next(&p, e, &es, &ee, &more);
		if (err)
			return err;
		if (ee - es == 1 && *es == '*') {
			/* Contact: * stands alone (RFC 3261 10.2.2). */
			if (n > 0 || star || m->contact_star)
				return EBADMSG;
			star = true;
			continue;
		}
		if (es == ee || star || m->contact_star)
			return EBADMSG;
		if (n >= SIP_CONTACT_MAX)
			return E2BIG;
		err = contact_parse(es, ee, &m->contact[n]);
		if (err)
			return err;
		n++;
	}
	m->ncontact = n;
	if (star)
		m->contact_star = true;
	return 0;
}

/* Record-Route: one or more name-addrs, all of a line or none kept. */
static int rroute_hdr(struct sip_msg *m, const char *s, const char *e)
{
	const char *p = s, *es, *ee, *rest;
	unsigned n = m->nrroute;
	struct sip_str uri;
	struct sip_uri u;
	bool more = true;
	int err;

	while (more) {
		err = list_next(&p, e, &es, &ee, &more);
		if (err)
			return err;
		if (es == ee || !memchr(es, '<', (size_t)(ee - es)))
			return EBADMSG; /* rec-route = name-addr */
		err = nameaddr_split(es, ee, &uri, &rest);
		if (!err)
			err = sip_uri_parse(uri, &u);
		if (err)
			return err;
		if (n >= SIP_ROUTE_MAX)
			return E2BIG;
		m->rroute[n++] = str(es, ee);
	}
	m->nrroute = n;
	return 0;
}

static int cseq_hdr(struct sip_msg *m, const char *s, const char *e)
{
	const char *p = s, *t;
	uint64_t n;

	while (p < e && is_digit(*p))
		p++;
	/* RFC 3261 8.1.1.5: less than 2^31 */
	if (num_parse(s, p, INT32_MAX, false, &n))
		return EBADMSG;
	if (p == e || !is_lws(*p))
		return EBADMSG;
	t = p = skip_lws(p, e);
	while (p < e && is_token(*p))
		p++;
	if (p == t || p != e)
		return EBADMSG;
	m->cseq = (uint32_t)n;
	m->cseq_method = str(t, p);
	return 0;
}

/* Unescapes the quoted string at *pp in place; sets out to its content. */
static int unquote(char **pp, char *e, struct sip_str *out)
{
	char *r = *pp + 1, *w = r, *s = r;

	while (r < e && *r != '"') {
		if (*r == '\\' && ++r == e)
			return EBADMSG;
		*w++ = *r++;
	}
	if (r == e)
		return EBADMSG;
	*out = str(s, w);
	*pp = r + 1;
	return 0;
}

static struct sip_str *digest_field(struct sip_digest *d, struct sip_str name)
{
	static const struct {
		const char *name;
		size_t off;
	} f[] = {
	    {"username", offsetof(struct sip_digest, username)},
	    {"realm", offsetof(struct sip_digest, realm)},
	    {"nonce", offsetof(struct sip_digest, nonce)},
	    {"uri", offsetof(struct sip_digest, uri)},
	    {"response", offsetof(struct sip_digest, response)},
	    {"algorithm", offsetof(struct sip_digest, algorithm)},
	    {"cnonce", offsetof(struct sip_digest, cnonce)},
	    {"opaque", offsetof(struct sip_digest, opaque)},
	    {"qop", offsetof(struct sip_digest, qop)},
	    {"nc", offsetof(struct sip_digest, nc)},
	};

	for (size_t i = 0; i < sizeof(f) / sizeof(f[0]); i++)
		if (sip_str_ieq(name, f[i].name))
			return (struct sip_str *)((char *)d + f[i].off);
	return NULL;
}

/*
 * Authorization or Proxy-Authorization: Digest k=v, k="v", ... (RFC 3261
 * 25.1, RFC 7616), appended to the n digests in arr (SIP_AUTH_MAX).
 */
static int auth_hdr(struct sip_digest *arr, unsigned *n, char *s, char *e)
{
	struct sip_digest d;
	bool userhash_seen = false;
	char *p = s, *t;

	while (p < e && is_token(*p))
		p++;
	if (!sip_str_ieq(str(s, p), "Digest"))
		return 0; /* another scheme: not ours */
	if (p == e || !is_lws(*p))
		return EBADMSG;
	if (*n >= SIP_AUTH_MAX)
		return E2BIG;
	memset(&d, 0, sizeof(d));
	for (;;) {
		struct sip_str name, val, *f;

		while (p < e && (is_lws(*p) || *p == ','))
			p++;
		if (p == e)
			break;
		t = p;
		while (p < e && is_token(*p))
			p++;
		if (p == t)
			return EBADMSG;
		name = str(t, p);
		p = (char *)skip_lws(p, e);
		if (p == e || *p != '=')
			return EBADMSG;
		p = (char *)skip_lws(p + 1, e);
		if (p < e && *p == '"') {
			if (unquote(&p, e, &val))
				return EBADMSG;
		} else {
			t = p;
			while (p < e && !is_lws(*p) && *p != ',' && *p != '"')
				p++;
			if (p == t)
				return EBADMSG;
			val = str(t, p);
		}
		p = (char *)skip_lws(p, e);
		if (p < e && *p != ',')
			return EBADMSG;
		f = digest_field(&d, name);
		if (f) {
			if (f->p)
				return EBADMSG; /* a repeated parameter */
			*f = val;
		} else if (sip_str_ieq(name, "userhash")) {
			if (userhash_seen)
				return EBADMSG;
			userhash_seen = true;
			d.userhash = sip_str_ieq(val, "true");
		}
	}
	arr[(*n)++] = d;
	return 0;
}

/* A header field name: the full form, or its compact letter. */
static bool name_is(struct sip_str n, const char *full, const char *compact)
{
	return sip_str_ieq(n, full) || (compact && sip_str_ieq(n, compact));
}

static int once(bool *flag)
{
	if (*flag)
		return EBADMSG;
	*flag = true;
	return 0;
}

/* One header field in [s, e), already unfolded. */
static int header(struct sip_msg *m, struct seen *seen, char *s, char *e)
{
	char *p = s, *vs, *ve;
	struct sip_str name;
	uint64_t n;
	int err;

	while (p < e && is_token(*p))
		p++;
	if (p == s)
		return EBADMSG;
	name = str(s, p);
	p = (char *)skip_lws(p, e);
	if (p == e || *p != ':')
		return EBADMSG;
	vs = (char *)skip_lws(p + 1, e);
	ve = (char *)trim_end(vs, e);
	/* sip_msg_parse caps the fields at SIP_HEADERS_MAX. */
	m->hdrs[m->nhdrs].name = name;
	m->hdrs[m->nhdrs].value = str(vs, ve);
	m->nhdrs++;

	if (name_is(name, "Via", "v"))
		return via_hdr(m, vs, ve);
	if (name_is(name, "Contact", "m"))
		return contact_hdr(m, vs, ve);
	if (name_is(name, "From", "f")) {
		if ((err = once(&seen->from)))
			return err;
		return nameaddr_hdr(&m->from, vs, ve);
	}
	if (name_is(name, "To", "t")) {
		if ((err = once(&seen->to)))
			return err;
		return nameaddr_hdr(&m->to, vs, ve);
	}
	if (name_is(name, "Call-ID", "i")) {
		if ((err = once(&seen->call_id)))
			return err;
		if (vs == ve)
			return EBADMSG;
		for (p = vs; p < ve; p++)
			if ((unsigned char)*p <= 0x20 || *p == 0x7f)
				return EBADMSG;
		m->call_id = str(vs, ve);
		return 0;
	}
	if (name_is(name, "CSeq", NULL)) {
		if ((err = once(&seen->cseq)))
			return err;
		return cseq_hdr(m, vs, ve);
	}
	if (name_is(name, "Expires", NULL)) {
		if ((err = once(&seen->expires)))
			return err;
		if (num_parse(vs, ve, UINT32_MAX, true, &n))
			return EBADMSG;
		m->has_expires = true;
		m->expires = (uint32_t)n;
		return 0;
	}
	if (name_is(name, "Max-Forwards", NULL)) {
		if ((err = once(&seen->max_forwards)))
			return err;
		if (num_parse(vs, ve, 255, false, &n))
			return EBADMSG;
		m->max_forwards = (int)n;
		return 0;
	}
	if (name_is(name, "Content-Length", "l")) {
		if ((err = once(&seen->clen)))
			return err;
		if (num_parse(vs, ve, SIZE_MAX, false, &n))
			return EBADMSG;
		m->has_content_length = true;
		m->content_length = (size_t)n;
		return 0;
	}
	if (name_is(name, "User-Agent", NULL)) {
		if (!m->user_agent.p)
			m->user_agent = str(vs, ve);
		return 0;
	}
	if (name_is(name, "Supported", "k")) {
		if (!m->supported.p)
			m->supported = str(vs, ve);
		return 0;
	}
	if (name_is(name, "Require", NULL)) {
		if (!m->require.p)
			m->require = str(vs, ve);
		return 0;
	}
	if (name_is(name, "Record-Route", NULL))
		return rroute_hdr(m, vs, ve);
	if (name_is(name, "Content-Type", "c")) {
		if (!m->content_type.p)
			m->content_type = str(vs, ve);
		return 0;
	}
	if (name_is(name, "Authorization", NULL))
		return auth_hdr(m->auth, &m->nauth, vs, ve);
	if (name_is(name, "Proxy-Authorization", NULL)) {
		/* Not fatal (see msg.h): the registrar never read it. */
		err = auth_hdr(m->pauth, &m->npauth, vs, ve);
		if (err && !m->pauth_err)
			m->pauth_err = err;
		return 0;
	}
	return 0;
}

struct sip_str sip_msg_header(const struct sip_msg *m, const char *name,
			      const char *compact)
{
	for (unsigned i = 0; i < m->nhdrs; i++)
		if (name_is(m->hdrs[i].name, name, compact))
			return m->hdrs[i].value;
	return (struct sip_str){0};
}

/* ---- start line ---- */

static bool version_ok(const char *s, const char *e)
{
	return sip_str_ieq(str(s, e), "SIP/2.0");
}

static int start_line(struct sip_msg *m, const char *s, const char *e)
{
	const char *p = s, *t;

	if (e - s >= 8 && strncasecmp(s, "SIP/2.0 ", 8) == 0) {
		p = s + 8;
		t = p;
		while (p < e && is_digit(*p))
			p++;
		if (p - t != 3 || *t == '0')
			return EBADMSG;
		if (p < e && *p != ' ')
			return EBADMSG;
		m->status = (unsigned)((t[0] - '0') * 100 + (t[1] - '0') * 10 +
				       (t[2] - '0'));
		if (m->status < 100 || m->status > 699)
			return EBADMSG;
		m->reason = p < e ? str(p + 1, e) : str(p, p);
		return 0;
	}
	while (p < e && is_token(*p))
		p++;
	if (p == s || p == e || *p != ' ')
		return EBADMSG;
	m->is_request = true;
	m->method = str(s, p);
	t = ++p;
	while (p < e && *p != ' ')
		p++;
	if (p == t || p == e || !version_ok(p + 1, e))
		return EBADMSG;
	m->ruri_raw = str(t, p);
	return sip_uri_parse(m->ruri_raw, &m->ruri);
}

/* ---- framing ---- */

/* Skips leading CRLF / LF keep-alives; returns the index after them. */
static size_t skip_pings(const char *buf, size_t len)
{
	size_t i = 0;

	while (i < len) {
		if (buf[i] == '\n')
			i++;
		else if (buf[i] == '\r' && i + 1 < len && buf[i + 1] == '\n')
			i += 2;
		else
			break;
	}
	return i;
}

/*
 * Finds the empty line that ends the headers in buf[start, lim): *hend is
 * the index after the last header's LF, *body the index after the empty
 * line. Returns false when there is none.
 */
static bool headers_end(const char *buf, size_t start, size_t lim, size_t *hend,
			size_t *body)
{
	size_t i = start;

	while (i < lim) {
		const char *nl = memchr(buf + i, '\n', lim - i);

		if (!nl)
			return false;
		i = (size_t)(nl - buf);
		if (i + 1 < lim && buf[i + 1] == '\n') {
			*hend = i + 1;
			*body = i + 2;
			return true;
		}
		if (i + 2 < lim && buf[i + 1] == '\r' && buf[i + 2] == '\n') {
			*hend = i + 1;
			*body = i + 3;
			return true;
		}
		i++;
	}
	return false;
}

/* The index of the LF that ends the field starting at i (folding aware). */
static size_t field_end(const char *buf, size_t i, size_t hend)
{
	for (;;) {
		const char *nl = memchr(buf + i, '\n', hend - i);

		if (!nl)
			return hend; /* not reached: buf[hend - 1] is LF */
		i = (size_t)(nl - buf);
		if (i + 1 < hend && is_lws(buf[i + 1])) {
			i++;
			continue;
		}
		return i;
	}
}

int sip_msg_frame(const char *buf, size_t len, size_t max, size_t *skip,
		  size_t *msglen)
{
	size_t start, lim, hend, body, ls, hl;
	uint64_t cl = 0;
	bool have = false;

	start = skip_pings(buf, len);
	*skip = start;
	lim = len - start > max ? start + max : len;
	if (!headers_end(buf, start, lim, &hend, &body))
		return len - start >= max ? EBADMSG : EAGAIN;

	/* The first line is the start line; then one field at a time. */
	ls = field_end(buf, start, hend) + 1;
	while (ls < hend) {
		size_t fe = field_end(buf, ls, hend);
		const char *p = buf + ls, *e = buf + fe, *v;

		while (p < e && is_token(*p))
			p++;
		if (name_is(str(buf + ls, p), "Content-Length", "l")) {
			p = skip_lws(p, e);
			if (p == e || *p != ':' || have)
				return EBADMSG;
			/* Whitespace here may include folding line ends. */
			for (p++;
			     p < e && (is_lws(*p) || *p == '\r' || *p == '\n');
			     p++)
				;
			v = p;
			while (p < e && is_digit(*p))
				p++;
			if (num_parse(v, p, SIZE_MAX, false, &cl))
				return EBADMSG;
			while (p < e &&
			       (is_lws(*p) || *p == '\r' || *p == '\n'))
				p++;
			if (p != e)
				return EBADMSG;
			have = true;
		}
		ls = fe + 1;
	}
	if (!have)
		return EBADMSG;
	hl = body - start;
	if (cl > max - hl)
		return EBADMSG;
	if (len - start < hl + cl)
		return EAGAIN;
	*msglen = hl + (size_t)cl;
	return 0;
}

/* ---- the message ---- */

/* Zeroes the part of m from field a up to field b. */
#define ZERO_SPAN(m, a, b)                                   \
	memset((char *)(m) + offsetof(struct sip_msg, a), 0, \
	       offsetof(struct sip_msg, b) - offsetof(struct sip_msg, a))

/*
 * Zeroes m but its arrays (8 KB of the 8.5), whose entries are written
 * whole as their counts grow and never read past them: a parse per
 * message, about fifteen per call, made the memset a tenth of a call's
 * instructions.
 */
static void msg_reset(struct sip_msg *m)
{
	ZERO_SPAN(m, is_request, via);
	ZERO_SPAN(m, nvia, via_lines);
	ZERO_SPAN(m, nvia_lines, contact);
	ZERO_SPAN(m, ncontact, auth);
	ZERO_SPAN(m, nauth, pauth);
	ZERO_SPAN(m, npauth, rroute);
	ZERO_SPAN(m, nrroute, hdrs);
	m->nhdrs = 0;
}

int sip_msg_parse(struct sip_msg *m, char *buf, size_t len)
{
	struct seen seen = {0};
	size_t start, hend, body, ls, fe;
	unsigned nfields = 0; /* known or not, well-formed or not */
	int err = 0, e;

	msg_reset(m);
	m->max_forwards = -1;
	if (!buf)
		return EBADMSG;
	start = skip_pings(buf, len);
	if (!headers_end(buf, start, len, &hend, &body))
		return EBADMSG;
	if (memchr(buf + start, '\0', hend - start))
		return EBADMSG;
	/* A CR that does not end a line could split an echoed header. */
	for (const char *cr = buf + start;
	     (cr = memchr(cr, '\r', (size_t)(buf + hend - cr))); cr++)
		if (cr[1] != '\n')
			return EBADMSG;

	fe = (size_t)((char *)memchr(buf + start, '\n', hend - start) - buf);
	if (fe + 1 < hend && is_lws(buf[fe + 1]))
		return EBADMSG; /* folding is not for the start line */
	e = start_line(m, buf + start,
		       buf + (fe > start && buf[fe - 1] == '\r' ? fe - 1 : fe));
	if (e)
		return e;

	for (ls = fe + 1; ls < hend; ls = fe + 1) {
		size_t ve;

		fe = field_end(buf, ls, hend);
		ve = fe > ls && buf[fe - 1] == '\r' ? fe - 1 : fe;
		if (++nfields > SIP_HEADERS_MAX)
			return err ? err : E2BIG;
		/* Unfold: each line end inside the field becomes a space. */
		for (size_t k = ls; k < ve; k++)
			if (buf[k] == '\r' || buf[k] == '\n')
				buf[k] = ' ';
		/* Keep going after a bad field, so a 400 can still be built
		 * from the others; the first error is returned. */
		e = header(m, &seen, buf + ls, buf + ve);
		if (e && !err)
			err = e;
	}
	if (err)
		return err;
	if (m->nvia == 0 || !m->from.raw.p || !m->to.raw.p || !m->call_id.p ||
	    !m->cseq_method.p)
		return EBADMSG;
	if (m->is_request &&
	    (m->cseq_method.n != m->method.n ||
	     memcmp(m->cseq_method.p, m->method.p, m->method.n) != 0))
		return EBADMSG;
	/*
	 * RFC 3261 18.3: a body shorter than Content-Length is an error; bytes
	 * beyond it (datagram padding) are discarded.
	 */
	if (m->has_content_length) {
		if (m->content_length > len - body)
			return EBADMSG;
		len = body + m->content_length;
	}
	if (len > body)
		m->body = str(buf + body, buf + len);
	return 0;
}

const char *const SIP_METHOD_NAMES[SIP_METHODS_N] = {
    "REGISTER",	 "INVITE",  "ACK",   "BYE",	"CANCEL",
    "OPTIONS",	 "MESSAGE", "INFO",  "UPDATE",	"PRACK",
    "SUBSCRIBE", "NOTIFY",  "REFER", "PUBLISH", "other"};

unsigned sip_method_index(const char *msg, size_t len)
{
	size_t n = 0;

	while (n < len && n < 10 && msg[n] != ' ')
		n++;
	for (unsigned i = 0; i < SIP_METHOD_OTHER; i++)
		if (strlen(SIP_METHOD_NAMES[i]) == n &&
		    memcmp(SIP_METHOD_NAMES[i], msg, n) == 0)
			return i;
	return SIP_METHOD_OTHER;
}
