/*
 * parse.c - strict HTTP/1.1 request parsing (RFC 9112): the head, chunked
 * bodies and percent-decoding. Lines end in CRLF only: a bare LF or bare CR,
 * a NUL, obs-fold or whitespace before a header's colon is refused (400).
 */
#include "http/parse.h"

#include <errno.h>
#include <string.h>
#include <strings.h>

#include "base/text.h"

/* RFC 9110 tchar. */
static bool tchar(unsigned char c)
{
	static const char extra[] = "!#$%&'*+-.^_`|~";

	if ((c >= '0' && c <= '9') || (c >= 'a' && c <= 'z') ||
	    (c >= 'A' && c <= 'Z'))
		return true;
	return c && strchr(extra, c) != NULL;
}

static int fail(struct http_head *h, int status, const char *msg)
{
	h->status = status;
	h->msg = msg;
	return EBADMSG;
}

size_t http_unescape(char *s, bool plus)
{
	char *r = s, *w = s;

	while (*r) {
		int hi, lo;
		if (r[0] == '%' && (hi = base_hex_digit(r[1])) >= 0 &&
		    (lo = base_hex_digit(r[2])) >= 0 && (hi || lo)) {
			*w++ = (char)(hi << 4 | lo);
			r += 3;
		} else if (plus && *r == '+') {
			*w++ = ' ';
			r++;
		} else {
			*w++ = *r++;
		}
	}
	*w = '\0';
	return (size_t)(w - s);
}

/* True when the comma-separated list v holds token t (any case). */
static bool has_token(const char *v, const char *t)
{
	size_t n = strlen(t);

	while (*v) {
		const char *e;
		while (*v == ' ' || *v == '\t' || *v == ',')
			v++;
		e = v;
		while (*e && *e != ',')
			e++;
		size_t l = (size_t)(e - v);
		while (l && (v[l - 1] == ' ' || v[l - 1] == '\t'))
			l--;
		if (l == n && strncasecmp(v, t, n) == 0)
			return true;
		v = e;
	}
	return false;
}

/* Parses "METHOD SP target SP HTTP/1.x" in buf[0..end) (end at the CR). */
static int request_line(char *buf, size_t end, struct http_head *h)
{
	size_t i = 0, t0, t1;
	char *t;

	while (i < end && tchar((unsigned char)buf[i]))
		i++;
	if (i == 0 || i >= end || buf[i] != ' ')
		return fail(h, 400, "The request line is malformed");
	buf[i] = '\0';
	h->method = buf;
	t0 = ++i;
	while (i < end && buf[i] != ' ') {
		unsigned char c = (unsigned char)buf[i];
		if (c <= 0x20 || c == 0x7f)
			return fail(h, 400, "The request target is malformed");
		i++;
	}
	t1 = i;
	if (t1 == t0 || i >= end)
		return fail(h, 400, "The request line is malformed");
	if (end - i - 1 != 8 || memcmp(buf + i + 1, "HTTP/", 5) != 0 ||
	    buf[i + 6] < '0' || buf[i + 6] > '9' || buf[i + 7] != '.' ||
	    buf[i + 8] < '0' || buf[i + 8] > '9')
		return fail(h, 400, "The request line is malformed");
	if (buf[i + 6] != '1')
		return fail(h, 505, "Only HTTP/1.0 and HTTP/1.1 are supported");
	h->minor = buf[i + 8] == '0' ? 0 : 1;
	if (t1 - t0 > HTTP_TARGET_MAX)
		return fail(h, 414,
			    "The request target is longer than 8192 bytes");
	buf[t1] = '\0';
	t = buf + t0;
	if (strncasecmp(t, "http://", 7) == 0 ||
	    strncasecmp(t, "https://", 8) == 0) {
		/* absolute-form: keep the path and query */
		char *a = t + (t[4] == ':' ? 7 : 8);
		char *p = a + strcspn(a, "/?");
		if (p == a)
			return fail(h, 400, "The request target is malformed");
		if (*p == '/') {
			t = p;
		} else {
			/* no path: "/" replaces the scheme */
			char *q = *p == '?' ? p + 1 : NULL;
			t[0] = '/';
			t[1] = '\0';
			h->query = q;
			h->path = t;
			return 0;
		}
	} else if (strcmp(t, "*") == 0) {
		if (strcmp(h->method, "OPTIONS") != 0)
			return fail(h, 400, "The request target is malformed");
		h->path = t;
		return 0;
	} else if (t[0] != '/') {
		return fail(h, 400, "The request target is malformed");
	}
	h->path = t;
	t = strchr(t, '?');
	if (t) {
		*t = '\0';
		h->query = t + 1;
	}
	http_unescape(h->path, false);
	return 0;
}

static int content_length(const char *v, uint64_t *out)
{
	uint64_t n = 0;
	size_t i;

	for (i = 0; v[i]; i++) {
		if (v[i] < '0' || v[i] > '9' || i >= 18)
			return EINVAL;
		n = n * 10 + (uint64_t)(v[i] - '0');
	}
	if (i == 0)
		return EINVAL;
	*out = n;
	return 0;
}

/* Parses header lines in buf[from..end), end just after the empty line. */
static int header_lines(char *buf, size_t from, size_t end, struct http_head *h)
{
	unsigned te = 0, host = 0;
	bool te_chunked = false;
	size_t l = from;

	while (l + 2 < end) {
		size_t e = l, n, v, ve;
		while (buf[e] != '\r')
			e++;
		if (buf[l] == ' ' || buf[l] == '\t')
			return fail(h, 400,
				    "A header line is folded (obs-fold)");
		for (n = l; n < e && tchar((unsigned char)buf[n]); n++)
			;
		if (n == l || n >= e || buf[n] != ':')
			return fail(h, 400, "A header line is malformed");
		if (h->nhdr >= HTTP_HDR_MAX)
			return fail(h, 431, "The request has too many headers");
		for (v = n + 1; v < e && (buf[v] == ' ' || buf[v] == '\t'); v++)
			;
		for (ve = e;
		     ve > v && (buf[ve - 1] == ' ' || buf[ve - 1] == '\t');
		     ve--)
			;
		buf[n] = '\0';
		buf[ve] = '\0';
		h->hdr[h->nhdr].name = buf + l;
		h->hdr[h->nhdr].value = buf + v;
		h->nhdr++;
		if (strcasecmp(buf + l, "Content-Length") == 0) {
			if (h->has_length)
				return fail(h, 400,
					    "Send one Content-Length header");
			if (content_length(buf + v, &h->length))
				return fail(h, 400,
					    "The Content-Length is not a "
					    "number of bytes");
			h->has_length = true;
		} else if (strcasecmp(buf + l, "Transfer-Encoding") == 0) {
			te_chunked =
			    ++te == 1 && strcasecmp(buf + v, "chunked") == 0;
		} else if (strcasecmp(buf + l, "Host") == 0) {
			host++;
		} else if (strcasecmp(buf + l, "Connection") == 0) {
			if (has_token(buf + v, "close"))
				h->close = true;
		} else if (strcasecmp(buf + l, "Expect") == 0) {
			if (strcasecmp(buf + v, "100-continue") == 0)
				h->expect_continue = true;
		}
		l = e + 2;
	}
	if (te && h->has_length)
		return fail(h, 400,
			    "Send either Content-Length or Transfer-Encoding, "
			    "not both");
	if (te && !te_chunked)
		return fail(h, 501,
			    "The only Transfer-Encoding supported is chunked");
	if (te && h->minor == 0)
		return fail(h, 400, "HTTP/1.0 requests cannot be chunked");
	if ((h->minor >= 1 && host == 0) || host > 1)
		return fail(h, 400, "Send one Host header");
	h->chunked = te_chunked;
	if (h->minor == 0)
		h->close = true;
	return 0;
}

int http_head_parse(char *buf, size_t len, size_t *scanned, struct http_head *h)
{
	size_t start = 0, i, end = 0, line;
	bool lf, sp;

	/* RFC 9112 2.2: empty lines before the request line are ignored */
	while (start + 1 < len && buf[start] == '\r' && buf[start + 1] == '\n')
		start += 2;
	if (start == len || (start + 1 == len && buf[start] == '\r'))
		return EAGAIN;
	/*
	 * Byte by byte, so that the verdict never depends on how the bytes
	 * arrived: the first fault in byte order decides it.
	 */
	i = *scanned > start ? *scanned : start;
	lf = memchr(buf + start, '\n', i - start) != NULL;
	sp = lf || memchr(buf + start, ' ', i - start) != NULL;
	for (; i < len; i++) {
		char c = buf[i];
		if (i - start >= HTTP_HEAD_MAX)
			return fail(h, 431, "The request head is too large");
		if (!lf && i - start >= HTTP_TARGET_MAX + 32)
			return fail(h, 414,
				    "The request target is longer than 8192 "
				    "bytes");
		if (!sp && c != ' ' && !tchar((unsigned char)c))
			return fail(h, 400, "The request line is malformed");
		sp = sp || c == ' ';
		if (c == '\0')
			return fail(h, 400,
				    "The request head holds a NUL byte");
		if (i > start && buf[i - 1] == '\r' && c != '\n')
			return fail(h, 400,
				    "A line of the request head ends in a bare "
				    "CR");
		if (c != '\n')
			continue;
		lf = true;
		if (i == start || buf[i - 1] != '\r')
			return fail(h, 400,
				    "A line of the request head ends in a bare "
				    "LF");
		if (i >= start + 3 && buf[i - 2] == '\n') {
			end = i + 1;
			break;
		}
	}
	if (!end) {
		*scanned = len;
		return EAGAIN;
	}
	line = (size_t)((char *)memchr(buf + start, '\n', end - start) - buf);
	if (request_line(buf + start, line - 1 - start, h))
		return EBADMSG;
	if (header_lines(buf, line + 1, end, h))
		return EBADMSG;
	h->head_len = end;
	return 0;
}

const char *http_head_header(const struct http_head *h, const char *name)
{
	for (unsigned i = 0; i < h->nhdr; i++)
		if (strcasecmp(h->hdr[i].name, name) == 0)
			return h->hdr[i].value;
	return NULL;
}

/* ---- chunked bodies ---- */

enum {
	C_SIZE,
	C_EXT,
	C_SIZE_LF,
	C_DATA,
	C_DATA_CR,
	C_DATA_LF,
	C_TRAILER,
	C_TRAILER_LF,
	C_END_LF,
};

/* chunk-ext sub-states (RFC 9112 7.1.1) */
enum {
	E_PRE,	 /* before ';' (BWS) */
	E_NAME0, /* after ';', before the name */
	E_NAME,
	E_AFTER, /* after the name (BWS) */
	E_VAL0,	 /* after '=' */
	E_TOKEN,
	E_QUOTED,
	E_QESC,
};

#define CHUNK_LINE_MAX 4096

/* Steps the chunk-ext state on c (not CR). Returns false if malformed. */
static bool ext_step(int *s, unsigned char c)
{
	bool ws = c == ' ' || c == '\t';

	switch (*s) {
	case E_PRE:
		if (c == ';')
			*s = E_NAME0;
		return ws || c == ';';
	case E_NAME0:
		if (tchar(c))
			*s = E_NAME;
		return ws || tchar(c);
	case E_NAME:
	case E_AFTER:
		if (c == '=')
			*s = E_VAL0;
		else if (c == ';')
			*s = E_NAME0;
		else if (ws)
			*s = E_AFTER;
		else if (*s == E_AFTER || !tchar(c))
			return false;
		return true;
	case E_VAL0:
		if (c == '"')
			*s = E_QUOTED;
		else if (tchar(c))
			*s = E_TOKEN;
		return ws || c == '"' || tchar(c);
	case E_TOKEN:
		if (ws)
			*s = E_PRE;
		else if (c == ';')
			*s = E_NAME0;
		else if (!tchar(c))
			return false;
		return true;
	case E_QUOTED:
		if (c == '"')
			*s = E_PRE;
		else if (c == '\\')
			*s = E_QESC;
		else if (!(ws || (c >= 0x21 && c != 0x7f)))
			return false;
		return true;
	case E_QESC:
		*s = E_QUOTED;
		return ws || (c >= 0x21 && c != 0x7f);
	}
	return false;
}

int http_chunked_decode(struct http_chunked *st, char *buf, size_t len,
			size_t *used, size_t *out)
{
	size_t i = 0, o = 0;
	int rc = 0;

	while (i < len) {
		unsigned char c = (unsigned char)buf[i];
		int v;

		if (st->state == C_DATA) {
			size_t n = len - i;
			if (n > st->left)
				n = (size_t)st->left;
			memmove(buf + o, buf + i, n);
			o += n;
			i += n;
			st->left -= n;
			if (!st->left)
				st->state = C_DATA_CR;
			continue;
		}
		i++;
		switch (st->state) {
		case C_SIZE:
			v = base_hex_digit((char)c);
			if (v >= 0) {
				if (++st->digits > 15)
					goto bad;
				st->left = st->left * 16 + (uint64_t)v;
			} else if (c == '\r' && st->digits) {
				st->state = C_SIZE_LF;
			} else if ((c == ';' || c == ' ' || c == '\t') &&
				   st->digits) {
				st->state = C_EXT;
				st->ext = E_PRE;
				if (!ext_step(&st->ext, c))
					goto bad;
			} else {
				goto bad;
			}
			break;
		case C_EXT:
			if (++st->line > CHUNK_LINE_MAX)
				goto bad;
			if (c == '\r') {
				if (st->ext != E_PRE && st->ext != E_NAME &&
				    st->ext != E_AFTER && st->ext != E_TOKEN)
					goto bad;
				st->state = C_SIZE_LF;
			} else if (!ext_step(&st->ext, c)) {
				goto bad;
			}
			break;
		case C_SIZE_LF:
			if (c != '\n')
				goto bad;
			st->line = 0;
			st->state = st->left ? C_DATA : C_TRAILER;
			break;
		case C_DATA_CR:
			if (c != '\r')
				goto bad;
			st->state = C_DATA_LF;
			break;
		case C_DATA_LF:
			if (c != '\n')
				goto bad;
			st->state = C_SIZE;
			st->digits = 0;
			st->left = 0;
			st->line = 0;
			break;
		case C_TRAILER:
			if (c == '\r') {
				st->state = st->line ? C_TRAILER_LF : C_END_LF;
				break;
			}
			if (c == '\0' || c == '\n' ||
			    (st->line == 0 && !tchar(c)) ||
			    ++st->trailers > HTTP_TRAILER_MAX)
				goto bad;
			st->line++;
			break;
		case C_TRAILER_LF:
			if (c != '\n')
				goto bad;
			st->line = 0;
			st->state = C_TRAILER;
			break;
		case C_END_LF:
			if (c != '\n')
				goto bad;
			rc = 1;
			goto out;
		}
	}
out:
	*used = i;
	*out = o;
	return rc;
bad:
	*used = i;
	*out = o;
	return EBADMSG;
}
