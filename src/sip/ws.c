/* ws.c - SIP over WebSocket: handshake, frames, keep-alives (see ws.h). */
#include <errno.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include <openssl/evp.h>

#include "base/text.h"
#include "sip/ws.h"

#define WS_GUID "258EAFA5-E914-47DA-95CA-C5AB0DC85B11"
#define WS_KEY_MAX 64	/* a valid key has 24 characters */
#define WS_MSG_MIN 4096 /* first size of a reassembly buffer */
#define WS_KEY_B64 24	/* base64 of 16 bytes */

/* ---- the handshake ---- */

static bool is_tchar(char c)
{
	return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') ||
	       (c >= '0' && c <= '9') ||
	       (c && strchr("!#$%&'*+-.^_`|~", c) != NULL);
}

static bool is_ows(char c)
{
	return c == ' ' || c == '\t';
}

static bool is_b64(char c)
{
	return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') ||
	       (c >= '0' && c <= '9') || c == '+' || c == '/';
}

/* Where "\r\n\r\n" starts in buf[0, n), or n. */
static size_t head_end(const char *buf, size_t n)
{
	for (size_t i = 0; i + 4 <= n; i++)
		if (buf[i] == '\r' && buf[i + 1] == '\n' &&
		    buf[i + 2] == '\r' && buf[i + 3] == '\n')
			return i;
	return n;
}

/* True when the comma list v holds token tok (any case). */
static bool list_has(struct sip_str v, const char *tok)
{
	const char *p = v.p, *e = v.p + v.n;
	size_t tl = strlen(tok);

	while (p < e) {
		const char *s, *t;

		while (p < e && (is_ows(*p) || *p == ','))
			p++;
		s = p;
		while (p < e && *p != ',')
			p++;
		t = p;
		while (t > s && is_ows(t[-1]))
			t--;
		if ((size_t)(t - s) == tl && strncasecmp(s, tok, tl) == 0)
			return true;
	}
	return false;
}

static bool name_is(struct sip_str n, const char *lit)
{
	return sip_str_ieq(n, lit);
}

/* Checks a Sec-WebSocket-Key: base64 of 16 bytes (22 characters, "=="). */
static bool key_ok(struct sip_str k)
{
	if (k.n != WS_KEY_B64 || k.p[22] != '=' || k.p[23] != '=')
		return false;
	for (size_t i = 0; i < 22; i++)
		if (!is_b64(k.p[i]))
			return false;
	return true;
}

/* Parses the request line "GET target HTTP/1.1" (s to e, no CRLF). */
static int request_line(const char *s, const char *e,
			struct sip_ws_handshake *hs)
{
	const char *p = s, *t;

	while (p < e && is_tchar(*p))
		p++;
	if (p == s || p == e || *p != ' ') {
		hs->why = "not an HTTP request line";
		return EBADMSG;
	}
	if (p - s != 3 || memcmp(s, "GET", 3) != 0) {
		hs->why = "the method must be GET";
		return EBADMSG;
	}
	t = ++p;
	while (p < e && (unsigned char)*p > ' ' && *p != 0x7f)
		p++;
	if (p == t || p == e || *p != ' ') {
		hs->why = "not an HTTP request line";
		return EBADMSG;
	}
	hs->target = (struct sip_str){t, (size_t)(p - t)};
	p++;
	if (e - p != 8 || memcmp(p, "HTTP/1.1", 8) != 0) {
		hs->why = "the version must be HTTP/1.1";
		return EBADMSG;
	}
	return 0;
}

/* The flags that the header lines set, as they are read. */
struct seen {
	unsigned nhost, nkey, nversion;
	bool upgrade, connection, sip;
};

/* Takes one header line (s to e, no CRLF) into hs and sn. */
static int header_line(const char *s, const char *e,
		       struct sip_ws_handshake *hs, struct seen *sn)
{
	const char *p = s, *v, *ve;
	struct sip_str name, val;

	while (p < e && is_tchar(*p))
		p++;
	if (p == s || p == e || *p != ':') {
		/* also a line starting with whitespace (obsolete folding) or
		 * whitespace before the colon (RFC 9112 5.1) */
		hs->why = "a header line is not \"name: value\"";
		return EBADMSG;
	}
	name = (struct sip_str){s, (size_t)(p - s)};
	for (v = p + 1; v < e && is_ows(*v); v++)
		;
	for (ve = e; ve > v && is_ows(ve[-1]); ve--)
		;
	for (p = v; p < ve; p++) {
		unsigned char c = (unsigned char)*p;
		if ((c < ' ' && c != '\t') || c == 0x7f) {
			hs->why = "a control character in a header value";
			return EBADMSG;
		}
	}
	val = (struct sip_str){v, (size_t)(ve - v)};
	if (name_is(name, "Host")) {
		hs->host = val;
		sn->nhost++;
	} else if (name_is(name, "Origin")) {
		if (!hs->origin.p)
			hs->origin = val;
	} else if (name_is(name, "Upgrade")) {
		sn->upgrade |= list_has(val, "websocket");
	} else if (name_is(name, "Connection")) {
		sn->connection |= list_has(val, "Upgrade");
	} else if (name_is(name, "Sec-WebSocket-Key")) {
		hs->key = val;
		sn->nkey++;
	} else if (name_is(name, "Sec-WebSocket-Version")) {
		hs->version = val;
		sn->nversion++;
	} else if (name_is(name, "Sec-WebSocket-Protocol")) {
		sn->sip |= list_has(val, "sip");
	}
	return 0;
}

int sip_ws_handshake_parse(const char *buf, size_t len,
			   struct sip_ws_handshake *hs)
{
	size_t lim = len < SIP_WS_HANDSHAKE_MAX ? len : SIP_WS_HANDSHAKE_MAX;
	size_t end = head_end(buf, lim);
	const char *p, *e, *le;
	struct seen sn = {0};
	int err;

	if (end == lim)
		return len >= SIP_WS_HANDSHAKE_MAX ? E2BIG : EAGAIN;
	memset(hs, 0, sizeof(*hs));
	hs->used = end + 4;
	/* Lines end with CRLF; a CR or LF anywhere else is an error. */
	e = buf + end + 2;
	for (p = buf, le = NULL; p < e; p = le + 2) {
		le = p;
		while (*le != '\r' && *le != '\n')
			le++;
		if (*le != '\r' || le[1] != '\n') {
			hs->why = "a bare CR or LF in the request head";
			return EBADMSG;
		}
		err = p == buf ? request_line(p, le, hs)
			       : header_line(p, le, hs, &sn);
		if (err)
			return err;
	}
	if (sn.nhost != 1) {
		hs->why = "one Host header is required";
		return EBADMSG;
	}
	if (!sn.upgrade || !sn.connection) {
		hs->why = "not a WebSocket upgrade (Upgrade: websocket, "
			  "Connection: Upgrade)";
		return EBADMSG;
	}
	if (sn.nversion != 1 || !sip_str_eq(hs->version, "13")) {
		hs->why = "only WebSocket version 13 is supported";
		return EPROTONOSUPPORT;
	}
	if (sn.nkey != 1 || !key_ok(hs->key)) {
		hs->why = "Sec-WebSocket-Key must be base64 of 16 bytes";
		return EBADMSG;
	}
	if (!sn.sip) {
		hs->why = "the WebSocket subprotocol must be sip (RFC 7118)";
		return ENOPROTOOPT;
	}
	hs->why = NULL;
	return 0;
}

int sip_ws_accept(struct sip_str key, char out[SIP_WS_ACCEPT_LEN + 1])
{
	char in[WS_KEY_MAX + sizeof(WS_GUID)];
	unsigned char md[EVP_MAX_MD_SIZE];
	unsigned mdlen = 0;

	if (!key.p || !key.n || key.n > WS_KEY_MAX)
		return EINVAL;
	memcpy(in, key.p, key.n);
	memcpy(in + key.n, WS_GUID, sizeof(WS_GUID) - 1);
	if (!EVP_Digest(in, key.n + sizeof(WS_GUID) - 1, md, &mdlen, EVP_sha1(),
			NULL) ||
	    mdlen != 20)
		return EIO;
	if (EVP_EncodeBlock((unsigned char *)out, md, 20) != SIP_WS_ACCEPT_LEN)
		return EIO;
	return 0;
}

int sip_ws_handshake_reply(int err, const struct sip_ws_handshake *hs,
			   char *out, size_t cap, size_t *outlen)
{
	char acc[SIP_WS_ACCEPT_LEN + 1];
	const char *status, *extra = "", *why = hs ? hs->why : NULL;
	int n, rc;

	if (!err) {
		if (!hs)
			return EINVAL;
		rc = sip_ws_accept(hs->key, acc);
		if (rc)
			return rc;
		n = snprintf(out, cap,
			     "HTTP/1.1 101 Switching Protocols\r\n"
			     "Upgrade: websocket\r\n"
			     "Connection: Upgrade\r\n"
			     "Sec-WebSocket-Accept: %s\r\n"
			     "Sec-WebSocket-Protocol: sip\r\n"
			     "\r\n",
			     acc);
		goto out;
	}
	if (err == EPROTONOSUPPORT) {
		status = "426 Upgrade Required";
		extra = "Sec-WebSocket-Version: 13\r\n";
	} else if (err == E2BIG) {
		status = "431 Request Header Fields Too Large";
		why = "the request head is too large";
	} else {
		status = "400 Bad Request";
	}
	if (!why)
		why = "bad WebSocket handshake";
	n = snprintf(out, cap,
		     "HTTP/1.1 %s\r\n"
		     "%s"
		     "Content-Type: text/plain\r\n"
		     "Content-Length: %zu\r\n"
		     "Connection: close\r\n"
		     "\r\n"
		     "%s\n",
		     status, extra, strlen(why) + 1, why);
out:
	if (n < 0 || (size_t)n >= cap)
		return ERANGE;
	*outlen = (size_t)n;
	return 0;
}

/* ---- frames from a client ---- */

void sip_ws_rx_init(struct sip_ws_rx *rx, size_t frame_max, size_t msg_max)
{
	memset(rx, 0, sizeof(*rx));
	rx->frame_max = frame_max;
	rx->msg_max = msg_max;
}

void sip_ws_rx_free(struct sip_ws_rx *rx)
{
	free(rx->msg);
	rx->msg = NULL;
	rx->len = rx->cap = 0;
	rx->op = 0;
}

unsigned sip_ws_close_code(int err)
{
	switch (err) {
	case 0:
	case EAGAIN:
	case EPIPE:
		return 0;
	case EBADMSG:
		return SIP_WS_CLOSE_PROTOCOL;
	case EILSEQ:
		return SIP_WS_CLOSE_BAD_DATA;
	case E2BIG:
		return SIP_WS_CLOSE_TOO_BIG;
	default:
		return SIP_WS_CLOSE_INTERNAL;
	}
}

/* Whether a peer may send code in a close frame (RFC 6455 7.4). */
static bool code_ok(unsigned code)
{
	return (code >= 1000 && code <= 1003) ||
	       (code >= 1007 && code <= 1014) || (code >= 3000 && code <= 4999);
}

static bool utf8_ok(const char *s, size_t n)
{
	size_t count;
	bool printable;

	return base_text_scan(s, n, &count, &printable) == 0;
}

/* Appends n bytes to rx's message, growing it up to msg_max. */
static int msg_append(struct sip_ws_rx *rx, const char *p, size_t n)
{
	if (n > rx->msg_max - rx->len)
		return E2BIG;
	if (rx->len + n > rx->cap) {
		size_t cap = rx->cap ? rx->cap : WS_MSG_MIN;
		char *m;

		while (cap < rx->len + n)
			cap = cap > SIZE_MAX / 2 ? SIZE_MAX : 2 * cap;
		if (cap > rx->msg_max)
			cap = rx->msg_max;
		m = realloc(rx->msg, cap);
		if (!m)
			return ENOMEM;
		rx->msg = m;
		rx->cap = cap;
	}
	if (n)
		memcpy(rx->msg + rx->len, p, n);
	rx->len += n;
	return 0;
}

/*
 * Reads the header of the frame at b (n bytes): *hl its length, *pl the
 * payload's. Returns 0, EAGAIN (incomplete header) or EBADMSG / E2BIG for
 * what the header alone shows.
 */
static int frame_header(const struct sip_ws_rx *rx, const unsigned char *b,
			size_t n, size_t *hl, uint64_t *pl)
{
	unsigned op = b[0] & 0x0f;
	bool fin = b[0] & 0x80, ctrl = op & 0x08;
	uint64_t l = b[1] & 0x7f;
	size_t h = 2;

	if (b[0] & 0x70)
		return EBADMSG; /* RSV1-3: no extension was negotiated */
	if (op != SIP_WS_OP_CONT && op != SIP_WS_OP_TEXT &&
	    op != SIP_WS_OP_BINARY && op != SIP_WS_OP_CLOSE &&
	    op != SIP_WS_OP_PING && op != SIP_WS_OP_PONG)
		return EBADMSG;
	if (!(b[1] & 0x80))
		return EBADMSG; /* a client's frames are masked (5.1) */
	if (ctrl && (!fin || l > SIP_WS_CTRL_MAX))
		return EBADMSG;
	if (op == SIP_WS_OP_CONT && !rx->op)
		return EBADMSG;
	if ((op == SIP_WS_OP_TEXT || op == SIP_WS_OP_BINARY) && rx->op)
		return EBADMSG;
	if (l == 126) {
		if (n < 4)
			return EAGAIN;
		l = (uint64_t)b[2] << 8 | b[3];
		if (l < 126)
			return EBADMSG; /* not minimal */
		h = 4;
	} else if (l == 127) {
		if (n < 10)
			return EAGAIN;
		l = 0;
		for (int i = 2; i < 10; i++)
			l = l << 8 | b[i];
		if (l >> 63 || l <= 0xffff)
			return EBADMSG; /* top bit set, or not minimal */
		h = 10;
	}
	if (!ctrl && l > rx->frame_max)
		return E2BIG;
	if (!ctrl && l > rx->msg_max - (op == SIP_WS_OP_CONT ? rx->len : 0))
		return E2BIG;
	*hl = h + 4;
	*pl = l;
	return 0;
}

int sip_ws_decode(struct sip_ws_rx *rx, char *buf, size_t len, size_t *used,
		  struct sip_ws_event *ev)
{
	size_t off = 0;
	int err = 0;

	if (rx->done) {
		*used = len;
		return EPIPE;
	}
	if (!rx->op) {
		/* A message reported last time is gone; a buffer grown for a
		 * large one is not kept on an idle connection. */
		rx->len = 0;
		if (rx->cap > WS_MSG_MIN)
			sip_ws_rx_free(rx);
	}
	for (;;) {
		unsigned char *b = (unsigned char *)buf + off;
		size_t n = len - off, hl;
		uint64_t pl;
		unsigned op;
		bool fin;
		char *pay;

		if (n < 2) {
			err = EAGAIN;
			goto out;
		}
		err = frame_header(rx, b, n, &hl, &pl);
		if (err)
			goto out;
		if (n < hl || n - hl < pl) {
			err = EAGAIN;
			goto out;
		}
		op = b[0] & 0x0f;
		fin = b[0] & 0x80;
		pay = (char *)b + hl;
		for (size_t i = 0; i < pl; i++)
			pay[i] ^= (char)b[hl - 4 + (i & 3)];
		off += hl + (size_t)pl;

		switch (op) {
		case SIP_WS_OP_PONG:
			continue;
		case SIP_WS_OP_PING:
			*ev = (struct sip_ws_event){
			    .type = SIP_WS_EV_PING, .data = pay, .len = pl};
			goto out;
		case SIP_WS_OP_CLOSE: {
			unsigned code = SIP_WS_CLOSE_NO_STATUS;

			if (pl == 1) {
				err = EBADMSG;
				goto out;
			}
			if (pl >= 2) {
				code = (unsigned)(unsigned char)pay[0] << 8 |
				       (unsigned char)pay[1];
				if (!code_ok(code)) {
					err = EBADMSG;
					goto out;
				}
				if (!utf8_ok(pay + 2, pl - 2)) {
					err = EILSEQ;
					goto out;
				}
			}
			*ev = (struct sip_ws_event){
			    .type = SIP_WS_EV_CLOSE,
			    .code = code,
			    .data = pl >= 2 ? pay + 2 : pay,
			    .len = pl >= 2 ? pl - 2 : 0};
			rx->done = true;
			goto out;
		}
		case SIP_WS_OP_TEXT:
		case SIP_WS_OP_BINARY:
			if (fin) {
				if (op == SIP_WS_OP_TEXT && !utf8_ok(pay, pl)) {
					err = EILSEQ;
					goto out;
				}
				*ev = (struct sip_ws_event){
				    .type = SIP_WS_EV_MESSAGE,
				    .binary = op == SIP_WS_OP_BINARY,
				    .data = pay,
				    .len = pl};
				goto out;
			}
			rx->op = op;
			rx->len = 0;
			/* fall through */
		default: /* SIP_WS_OP_CONT, or the first fragment */
			err = msg_append(rx, pay, pl);
			if (err)
				goto out;
			if (!fin)
				continue;
			op = rx->op;
			rx->op = 0;
			if (op == SIP_WS_OP_TEXT &&
			    !utf8_ok(rx->msg, rx->len)) {
				err = EILSEQ;
				goto out;
			}
			*ev = (struct sip_ws_event){
			    .type = SIP_WS_EV_MESSAGE,
			    .binary = op == SIP_WS_OP_BINARY,
			    .data = rx->msg ? rx->msg : pay,
			    .len = rx->len};
			goto out;
		}
	}
out:
	if (err && err != EAGAIN)
		rx->done = true;
	*used = off;
	return err;
}

/* ---- frames to a client ---- */

int sip_ws_encode_header(enum sip_ws_op op, size_t len,
			 unsigned char out[SIP_WS_SRV_HDR_MAX], size_t *outlen)
{
	switch (op) {
	case SIP_WS_OP_TEXT:
	case SIP_WS_OP_BINARY:
		break;
	case SIP_WS_OP_CLOSE:
	case SIP_WS_OP_PING:
	case SIP_WS_OP_PONG:
		if (len > SIP_WS_CTRL_MAX)
			return EINVAL;
		break;
	default:
		return EINVAL;
	}
	out[0] = (unsigned char)(0x80 | op);
	if (len < 126) {
		out[1] = (unsigned char)len;
		*outlen = 2;
	} else if (len <= 0xffff) {
		out[1] = 126;
		out[2] = (unsigned char)(len >> 8);
		out[3] = (unsigned char)len;
		*outlen = 4;
	} else {
		uint64_t l = len;

		out[1] = 127;
		for (int i = 9; i >= 2; i--, l >>= 8)
			out[i] = (unsigned char)l;
		*outlen = 10;
	}
	return 0;
}

int sip_ws_encode(enum sip_ws_op op, const void *data, size_t len, char *out,
		  size_t cap, size_t *outlen)
{
	unsigned char h[SIP_WS_SRV_HDR_MAX];
	size_t hl;
	int err = sip_ws_encode_header(op, len, h, &hl);

	if (err)
		return err;
	if (cap < hl || cap - hl < len)
		return ERANGE;
	memcpy(out, h, hl);
	if (len)
		memcpy(out + hl, data, len);
	*outlen = hl + len;
	return 0;
}

int sip_ws_encode_close(unsigned code, char *out, size_t cap, size_t *outlen)
{
	unsigned char c[2] = {(unsigned char)(code >> 8), (unsigned char)code};

	if (code == 0 || code == SIP_WS_CLOSE_NO_STATUS)
		return sip_ws_encode(SIP_WS_OP_CLOSE, NULL, 0, out, cap,
				     outlen);
	if (!code_ok(code))
		return EINVAL;
	return sip_ws_encode(SIP_WS_OP_CLOSE, c, 2, out, cap, outlen);
}

/* ---- keep-alives ---- */

enum sip_ws_keepalive sip_ws_keepalive(const char *data, size_t len)
{
	if (len < 2 || len % 2)
		return SIP_WS_KA_NONE;
	for (size_t i = 0; i < len; i += 2)
		if (data[i] != '\r' || data[i + 1] != '\n')
			return SIP_WS_KA_NONE;
	return len == 2 ? SIP_WS_KA_PONG : SIP_WS_KA_PING;
}
