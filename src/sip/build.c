/* build.c - SIP requests and responses into capped buffers (see build.h). */
#include "sip/build.h"

#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>
#include <strings.h>

#include "base/id.h"

void sip_buf_init(struct sip_buf *b, char *mem, size_t cap)
{
	b->p = mem;
	b->cap = cap;
	b->len = 0;
	b->err = 0;
}

void sip_buf_printf(struct sip_buf *b, const char *fmt, ...)
{
	va_list ap;
	int n;

	if (b->err)
		return;
	va_start(ap, fmt);
	n = vsnprintf(b->p + b->len, b->cap - b->len, fmt, ap);
	va_end(ap);
	if (n < 0 || (size_t)n >= b->cap - b->len)
		b->err = E2BIG;
	else
		b->len += (size_t)n;
}

void sip_buf_put(struct sip_buf *b, struct sip_str s)
{
	if (b->err || !s.n)
		return;
	if (s.n >= b->cap - b->len) {
		b->err = E2BIG;
		return;
	}
	memcpy(b->p + b->len, s.p, s.n);
	b->len += s.n;
	b->p[b->len] = '\0';
}

void sip_buf_puts(struct sip_buf *b, const char *s)
{
	sip_buf_put(b, (struct sip_str){s, strlen(s)});
}

void sip_buf_putu(struct sip_buf *b, unsigned long long v)
{
	char d[24];
	size_t i = sizeof(d);

	do {
		d[--i] = (char)('0' + v % 10);
		v /= 10;
	} while (v);
	sip_buf_put(b, (struct sip_str){d + i, sizeof(d) - i});
}

bool sip_build_value_ok(const char *s, size_t n)
{
	for (size_t i = 0; i < n; i++)
		if (s[i] == '\r' || s[i] == '\n' || s[i] == '\0')
			return false;
	return true;
}

/* A NUL-terminated value: present (when required) and one line. */
static bool ok(const char *s, bool required)
{
	if (!s)
		return !required;
	return (*s || !required) && sip_build_value_ok(s, strlen(s));
}

static bool token_ok(const char *s)
{
	if (!s || !*s)
		return false;
	for (; *s; s++)
		if (!((*s >= 'a' && *s <= 'z') || (*s >= 'A' && *s <= 'Z') ||
		      (*s >= '0' && *s <= '9') || strchr("-.!%*_+`'~", *s)))
			return false;
	return true;
}

/* Header lines: each non-empty and ending CRLF, no bare CR or LF. */
static bool lines_ok(const char *h)
{
	const char *p = h;

	if (!h)
		return true;
	while (*p) {
		const char *crlf = strstr(p, "\r\n");

		if (!crlf || crlf == p || !sip_build_value_ok(p, crlf - p) ||
		    !strchr(p, ':') || strchr(p, ':') > crlf)
			return false;
		p = crlf + 2;
	}
	return true;
}

static int rand_chars(char *out, size_t n, const char *alphabet, size_t na)
{
	unsigned char rnd[32];

	if (n > sizeof(rnd) || base_rand_fill(rnd, n))
		return EIO;
	for (size_t i = 0; i < n; i++)
		out[i] = alphabet[rnd[i] % na];
	out[n] = '\0';
	return 0;
}

int sip_build_branch(char *out, size_t cap)
{
	static const char an[] = "abcdefghijklmnopqrstuvwxyz"
				 "ABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789";

	if (cap <= SIP_BRANCH_LEN)
		return ERANGE;
	memcpy(out, "z9hG4bK", 7);
	return rand_chars(out + 7, SIP_BRANCH_LEN - 7, an, sizeof(an) - 1);
}

int sip_build_tag(char *out, size_t cap)
{
	if (cap <= SIP_TAG_LEN)
		return ERANGE;
	return rand_chars(out, SIP_TAG_LEN, "0123456789abcdef", 16);
}

int sip_build_call_id(char *out, size_t cap, const char *host)
{
	size_t hl = host ? strlen(host) + 1 : 0;
	int err;

	if (cap <= SIP_CALL_ID_LEN + hl || (host && !ok(host, true)))
		return ERANGE;
	err = rand_chars(out, SIP_CALL_ID_LEN, "0123456789abcdef", 16);
	if (!err && host)
		snprintf(out + SIP_CALL_ID_LEN, cap - SIP_CALL_ID_LEN, "@%s",
			 host);
	return err;
}

static bool req_ok(const struct sip_req *r)
{
	return token_ok(r->method) &&
	       (!r->cseq_method || token_ok(r->cseq_method)) &&
	       ok(r->ruri, true) && ok(r->via_host, true) &&
	       (!r->transport || token_ok(r->transport)) &&
	       ok(r->branch, false) && ok(r->from, true) &&
	       ok(r->from_tag, false) && ok(r->to, true) &&
	       ok(r->to_tag, false) && ok(r->call_id, true) &&
	       ok(r->contact, false) && lines_ok(r->headers) &&
	       ok(r->content_type, false) && r->max_forwards <= 255 &&
	       r->via_port <= 65535 && r->cseq <= INT32_MAX &&
	       (r->nroute == 0 || r->route);
}

int sip_build_request(struct sip_buf *b, const struct sip_req *r)
{
	char branch[SIP_BRANCH_LEN + 1];
	const char *br = r->branch;
	bool v6;

	b->len = 0;
	b->err = 0;
	if (!req_ok(r))
		return b->err = EINVAL;
	for (unsigned i = 0; i < r->nroute; i++)
		if (!ok(r->route[i], true))
			return b->err = EINVAL;
	if (!br) {
		if (sip_build_branch(branch, sizeof(branch)))
			return b->err = EIO;
		br = branch;
		if (r->branch_out)
			memcpy(r->branch_out, branch, sizeof(branch));
	}
	v6 = strchr(r->via_host, ':') != NULL;
	sip_buf_printf(b, "%s %s SIP/2.0\r\n", r->method, r->ruri);
	sip_buf_printf(b, "Via: SIP/2.0/%s %s%s%s",
		       r->transport ? r->transport : "UDP", v6 ? "[" : "",
		       r->via_host, v6 ? "]" : "");
	if (r->via_port)
		sip_buf_printf(b, ":%u", r->via_port);
	sip_buf_printf(b, ";branch=%s;rport\r\n", br);
	sip_buf_printf(b, "Max-Forwards: %d\r\n",
		       r->max_forwards < 0 ? SIP_MAX_FORWARDS
					   : r->max_forwards);
	for (unsigned i = 0; i < r->nroute; i++)
		sip_buf_printf(b, "Route: %s\r\n", r->route[i]);
	sip_buf_printf(b, "From: %s", r->from);
	if (r->from_tag)
		sip_buf_printf(b, ";tag=%s", r->from_tag);
	sip_buf_printf(b, "\r\nTo: %s", r->to);
	if (r->to_tag)
		sip_buf_printf(b, ";tag=%s", r->to_tag);
	sip_buf_printf(b, "\r\nCall-ID: %s\r\nCSeq: %u %s\r\n", r->call_id,
		       r->cseq, r->cseq_method ? r->cseq_method : r->method);
	if (r->contact)
		sip_buf_printf(b, "Contact: %s\r\n", r->contact);
	if (r->headers)
		sip_buf_puts(b, r->headers);
	return sip_build_end(b, r->content_type, r->body);
}

/* The header name of the line at p (up to ':'), trimmed. */
static bool hdr_is(const char *p, const char *e, const char *full,
		   const char *compact)
{
	const char *c = memchr(p, ':', (size_t)(e - p)), *ne;

	if (!c)
		return false;
	for (ne = c; ne > p && (ne[-1] == ' ' || ne[-1] == '\t'); ne--)
		;
	return sip_str_ieq((struct sip_str){p, (size_t)(ne - p)}, full) ||
	       (compact &&
		sip_str_ieq((struct sip_str){p, (size_t)(ne - p)}, compact));
}

int sip_build_ack_cancel(struct sip_buf *b, const char *req, size_t len,
			 const char *method, uint32_t cseq, struct sip_str to,
			 const char *extra)
{
	const char *p = req, *e = req + len, *sp, *nl;
	bool via = false;

	b->len = 0;
	b->err = 0;
	if (!lines_ok(extra) || (to.p && !sip_build_value_ok(to.p, to.n)))
		return b->err = EINVAL;

	nl = memchr(p, '\n', (size_t)(e - p));
	sp = memchr(p, ' ', (size_t)(e - p));
	if (!nl || !sp || sp > nl)
		return EINVAL;
	sip_buf_printf(b, "%s", method);
	sip_buf_put(b, (struct sip_str){sp, (size_t)(nl + 1 - sp)});
	for (p = nl + 1; p < e && (nl = memchr(p, '\n', (size_t)(e - p)));
	     p = nl + 1) {
		struct sip_str line = {p, (size_t)(nl + 1 - p)};

		if (nl - p <= 1)
			break; /* the empty line */
		if (hdr_is(p, nl, "Via", "v")) {
			if (!via)
				sip_buf_put(b, line);
			via = true;
		} else if (hdr_is(p, nl, "To", "t") && to.p) {
			sip_buf_puts(b, "To: ");
			sip_buf_put(b, to);
			sip_buf_puts(b, "\r\n");
		} else if (hdr_is(p, nl, "CSeq", NULL)) {
			sip_buf_printf(b, "CSeq: %u %s\r\n", cseq, method);
		} else if (hdr_is(p, nl, "Max-Forwards", NULL) ||
			   hdr_is(p, nl, "Route", NULL) ||
			   hdr_is(p, nl, "From", "f") ||
			   hdr_is(p, nl, "Call-ID", "i") ||
			   hdr_is(p, nl, "To", "t")) {
			sip_buf_put(b, line);
		}
	}
	if (extra)
		sip_buf_puts(b, extra);
	return sip_build_end(b, NULL, (struct sip_str){0});
}

/* Writes the top Via with received= and rport= (RFC 3261 18.2.1, 3581). */
static void top_via(struct sip_buf *b, const struct sip_via *v,
		    const char *src_ip, unsigned src_port)
{
	const char *p = v->raw.p, *end = v->raw.p + v->raw.n;
	bool first = true;

	sip_buf_puts(b, "Via: ");
	if (!src_ip) {
		sip_buf_put(b, v->raw);
		sip_buf_puts(b, "\r\n");
		return;
	}
	while (p < end) {
		const char *semi = memchr(p, ';', (size_t)(end - p));
		const char *e = semi ? semi : end;
		const char *name = p;
		size_t nl;

		while (name < e && (*name == ' ' || *name == '\t'))
			name++;
		nl = strcspn(name, "=; \t");
		if (nl > (size_t)(e - name))
			nl = (size_t)(e - name);
		if (first ||
		    !((nl == 5 && strncasecmp(name, "rport", 5) == 0) ||
		      (nl == 8 && strncasecmp(name, "received", 8) == 0))) {
			if (!first)
				sip_buf_puts(b, ";");
			sip_buf_put(b, (struct sip_str){p, (size_t)(e - p)});
		}
		first = false;
		p = semi ? semi + 1 : end;
	}
	sip_buf_puts(b, ";received=");
	sip_buf_puts(b, src_ip);
	if (v->rport) {
		sip_buf_puts(b, ";rport=");
		sip_buf_putu(b, src_port);
	}
	sip_buf_puts(b, "\r\n");
}

void sip_build_via_received(struct sip_buf *b, const struct sip_via *v,
			    const char *src_ip, unsigned src_port)
{
	top_via(b, v, src_ip, src_port);
}

int sip_build_response_start(struct sip_buf *b, const struct sip_msg *m,
			     const char *src_ip, unsigned src_port,
			     unsigned code, const char *reason,
			     const char *to_tag)
{
	b->len = 0;
	b->err = 0;
	if (code < 100 || code > 699 || !m->nvia || !ok(reason, false) ||
	    !ok(to_tag, false) || !ok(src_ip, false))
		return b->err = EINVAL;
	sip_buf_puts(b, "SIP/2.0 ");
	sip_buf_putu(b, code);
	sip_buf_puts(b, " ");
	sip_buf_puts(b, reason ? reason : sip_build_reason(code));
	sip_buf_puts(b, "\r\n");
	top_via(b, &m->via[0], src_ip, src_port);
	for (unsigned i = 1; i < m->nvia; i++) {
		sip_buf_puts(b, "Via: ");
		sip_buf_put(b, m->via[i].raw);
		sip_buf_puts(b, "\r\n");
	}
	sip_buf_puts(b, "From: ");
	sip_buf_put(b, m->from.raw);
	sip_buf_puts(b, "\r\nTo: ");
	sip_buf_put(b, m->to.raw);
	if (!m->to.tag.p && code > 100 && to_tag && *to_tag) {
		sip_buf_puts(b, ";tag=");
		sip_buf_puts(b, to_tag);
	}
	sip_buf_puts(b, "\r\nCall-ID: ");
	sip_buf_put(b, m->call_id);
	sip_buf_puts(b, "\r\nCSeq: ");
	sip_buf_putu(b, m->cseq);
	sip_buf_puts(b, " ");
	sip_buf_put(b, m->cseq_method);
	sip_buf_puts(b, "\r\n");
	return b->err;
}

int sip_build_end(struct sip_buf *b, const char *content_type,
		  struct sip_str body)
{
	if (body.n && (!content_type || !*content_type ||
		       !sip_build_value_ok(content_type, strlen(content_type))))
		return b->err ? b->err : (b->err = EINVAL);
	if (body.n)
		sip_buf_printf(b, "Content-Type: %s\r\n", content_type);
	sip_buf_puts(b, "Content-Length: ");
	sip_buf_putu(b, body.n);
	sip_buf_puts(b, "\r\n\r\n");
	sip_buf_put(b, body);
	return b->err;
}

int sip_build_response(struct sip_buf *b, const struct sip_msg *m,
		       const char *src_ip, unsigned src_port,
		       const struct sip_resp *r)
{
	int err;

	if (!ok(r->contact, false) || !lines_ok(r->headers))
		return b->err = EINVAL;
	err = sip_build_response_start(b, m, src_ip, src_port, r->code,
				       r->reason, r->to_tag);
	if (err)
		return err;
	if (r->contact)
		sip_buf_printf(b, "Contact: %s\r\n", r->contact);
	if (r->headers)
		sip_buf_puts(b, r->headers);
	return sip_build_end(b, r->content_type, r->body);
}

const char *sip_build_reason(unsigned code)
{
	static const struct {
		unsigned code;
		const char *text;
	} t[] = {
	    {100, "Trying"},
	    {180, "Ringing"},
	    {181, "Call Is Being Forwarded"},
	    {182, "Queued"},
	    {183, "Session Progress"},
	    {200, "OK"},
	    {202, "Accepted"},
	    {400, "Bad Request"},
	    {401, "Unauthorized"},
	    {403, "Forbidden"},
	    {404, "Not Found"},
	    {405, "Method Not Allowed"},
	    {407, "Proxy Authentication Required"},
	    {408, "Request Timeout"},
	    {413, "Request Entity Too Large"},
	    {415, "Unsupported Media Type"},
	    {420, "Bad Extension"},
	    {423, "Interval Too Brief"},
	    {480, "Temporarily Unavailable"},
	    {481, "Call/Transaction Does Not Exist"},
	    {482, "Loop Detected"},
	    {483, "Too Many Hops"},
	    {486, "Busy Here"},
	    {487, "Request Terminated"},
	    {488, "Not Acceptable Here"},
	    {491, "Request Pending"},
	    {500, "Server Internal Error"},
	    {501, "Not Implemented"},
	    {503, "Service Unavailable"},
	    {504, "Server Time-out"},
	    {600, "Busy Everywhere"},
	    {603, "Decline"},
	};

	for (size_t i = 0; i < sizeof(t) / sizeof(t[0]); i++)
		if (t[i].code == code)
			return t[i].text;
	return "Unknown";
}
