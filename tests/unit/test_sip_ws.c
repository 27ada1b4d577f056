/* test_sip_ws.c - WebSocket handshake, frame decoder and encoder (RFC 6455,
 * RFC 7118), with the RFC's worked examples. */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "sip/ws.h"

static const unsigned char mask[4] = {0x37, 0xfa, 0x21, 0x3d};

static struct sip_str S(const char *s) {
	return (struct sip_str){s, strlen(s)};
}

/* Writes a masked client frame (b0 = FIN|RSV|opcode), minimal length. */
static size_t
cframe(unsigned char *out, unsigned b0, const void *data, size_t len)
{
	size_t h = 2;

	out[0] = (unsigned char)b0;
	if (len < 126) {
		out[1] = (unsigned char)(0x80 | len);
	} else if (len <= 0xffff) {
		out[1] = 0x80 | 126;
		out[2] = (unsigned char)(len >> 8);
		out[3] = (unsigned char)len;
		h = 4;
	} else {
		uint64_t l = len;
		out[1] = 0x80 | 127;
		for (int i = 9; i >= 2; i--, l >>= 8)
			out[i] = (unsigned char)l;
		h = 10;
	}
	memcpy(out + h, mask, 4);
	h += 4;
	for (size_t i = 0; i < len; i++)
		out[h + i] = ((const unsigned char *)data)[i] ^ mask[i & 3];
	return h + len;
}

/* ---- handshake ---- */

#define REQ_HEAD                                          \
	"GET /ws HTTP/1.1\r\n"                            \
	"Host: sip.example.com\r\n"                       \
	"Upgrade: websocket\r\n"                          \
	"Connection: Upgrade\r\n"                         \
	"Origin: https://www.example.com\r\n"             \
	"Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\n" \
	"Sec-WebSocket-Version: 13\r\n"

static const char req_ok[] = REQ_HEAD "Sec-WebSocket-Protocol: sip\r\n\r\n";

static int parse(const char *req, struct sip_ws_handshake *hs)
{
	return sip_ws_handshake_parse(req, strlen(req), hs);
}

static void test_accept_rfc(void **state)
{
	char acc[SIP_WS_ACCEPT_LEN + 1];

	(void)state;
	/* RFC 6455 1.3 and 4.2.2 */
	assert_int_equal(sip_ws_accept(S("dGhlIHNhbXBsZSBub25jZQ=="), acc), 0);
	assert_string_equal(acc, "s3pPLMBiTxaQ9kYGzzhZRbK+xOo=");
	assert_int_equal(sip_ws_accept(S(""), acc), EINVAL);
}

static void test_handshake_ok(void **state)
{
	struct sip_ws_handshake hs;
	char out[SIP_WS_REPLY_MAX];
	size_t n;

	(void)state;
	assert_int_equal(parse(req_ok, &hs), 0);
	assert_int_equal(hs.used, strlen(req_ok));
	assert_true(sip_str_eq(hs.target, "/ws"));
	assert_true(sip_str_eq(hs.host, "sip.example.com"));
	assert_true(sip_str_eq(hs.origin, "https://www.example.com"));
	assert_true(sip_str_eq(hs.key, "dGhlIHNhbXBsZSBub25jZQ=="));
	assert_null(hs.why);
	assert_int_equal(sip_ws_handshake_reply(0, &hs, out, sizeof(out), &n),
			 0);
	out[n] = '\0';
	assert_string_equal(out, "HTTP/1.1 101 Switching Protocols\r\n"
				 "Upgrade: websocket\r\n"
				 "Connection: Upgrade\r\n"
				 "Sec-WebSocket-Accept: "
				 "s3pPLMBiTxaQ9kYGzzhZRbK+xOo=\r\n"
				 "Sec-WebSocket-Protocol: sip\r\n\r\n");
	/* too small an output */
	assert_int_equal(sip_ws_handshake_reply(0, &hs, out, 20, &n), ERANGE);
}

static void test_handshake_incomplete(void **state)
{
	struct sip_ws_handshake hs;
	char *big;
	size_t len = strlen(req_ok);

	(void)state;
	/* every prefix is EAGAIN */
	for (size_t i = 0; i < len; i++)
		assert_int_equal(sip_ws_handshake_parse(req_ok, i, &hs),
				 EAGAIN);
	/* a head over the cap */
	big = malloc(SIP_WS_HANDSHAKE_MAX + 100);
	assert_non_null(big);
	memset(big, 'a', SIP_WS_HANDSHAKE_MAX + 100);
	assert_int_equal(
	    sip_ws_handshake_parse(big, SIP_WS_HANDSHAKE_MAX - 1, &hs), EAGAIN);
	assert_int_equal(sip_ws_handshake_parse(big, SIP_WS_HANDSHAKE_MAX, &hs),
			 E2BIG);
	assert_int_equal(
	    sip_ws_handshake_parse(big, SIP_WS_HANDSHAKE_MAX + 100, &hs),
	    E2BIG);
	/* the blank line just past the cap */
	memcpy(big + SIP_WS_HANDSHAKE_MAX - 3, "\r\n\r\n", 4);
	assert_int_equal(
	    sip_ws_handshake_parse(big, SIP_WS_HANDSHAKE_MAX + 1, &hs), E2BIG);
	free(big);
}

static void test_handshake_variants(void **state)
{
	struct sip_ws_handshake hs;

	(void)state;
	/* Firefox: Connection is a list; header names and tokens any case;
	 * several subprotocols; Sec-WebSocket-Protocol on two lines */
	assert_int_equal(
	    parse("GET / HTTP/1.1\r\n"
		  "host: h\r\n"
		  "UPGRADE: WebSocket\r\n"
		  "connection: keep-alive, Upgrade\r\n"
		  "sec-websocket-key: dGhlIHNhbXBsZSBub25jZQ==\r\n"
		  "SEC-WEBSOCKET-VERSION:13\r\n"
		  "Sec-WebSocket-Protocol: chat\r\n"
		  "Sec-WebSocket-Protocol: foo,  SIP \r\n"
		  "Sec-WebSocket-Extensions: permessage-deflate\r\n"
		  "\r\n",
		  &hs),
	    0);
	assert_true(sip_str_eq(hs.target, "/"));
	assert_true(sip_str_eq(hs.host, "h"));
	assert_null(hs.origin.p);
	/* Connection on two lines */
	assert_int_equal(parse("GET /x?y=1 HTTP/1.1\r\n"
			       "Host: h\r\n"
			       "Upgrade: websocket\r\n"
			       "Connection: keep-alive\r\n"
			       "Connection: upgrade\r\n"
			       "Sec-WebSocket-Key: AAAAAAAAAAAAAAAAAAAAAA==\r\n"
			       "Sec-WebSocket-Version: 13\r\n"
			       "Sec-WebSocket-Protocol: sip\r\n\r\n",
			       &hs),
			 0);
	assert_true(sip_str_eq(hs.target, "/x?y=1"));
}

/* Expects err for req, and a reply starting with status. */
static void refused(const char *req, int err, const char *status)
{
	struct sip_ws_handshake hs;
	char out[SIP_WS_REPLY_MAX + 1];
	size_t n;

	assert_int_equal(parse(req, &hs), err);
	assert_int_equal(hs.used, strlen(req));
	assert_non_null(hs.why);
	assert_int_equal(
	    sip_ws_handshake_reply(err, &hs, out, SIP_WS_REPLY_MAX, &n), 0);
	out[n] = '\0';
	assert_int_equal(strncmp(out, status, strlen(status)), 0);
	assert_non_null(strstr(out, "Connection: close\r\n"));
	assert_non_null(strstr(out, hs.why));
}

static void test_handshake_refusals(void **state)
{
	struct sip_ws_handshake hs;
	char out[SIP_WS_REPLY_MAX + 1];
	size_t n;

	(void)state;
	/* no subprotocol, or not sip */
	refused(REQ_HEAD "\r\n", ENOPROTOOPT, "HTTP/1.1 400 ");
	refused(REQ_HEAD "Sec-WebSocket-Protocol: sips, sip2\r\n\r\n",
		ENOPROTOOPT, "HTTP/1.1 400 ");
	/* version 8, missing, twice */
	refused("GET /ws HTTP/1.1\r\nHost: h\r\nUpgrade: websocket\r\n"
		"Connection: Upgrade\r\n"
		"Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\n"
		"Sec-WebSocket-Version: 8\r\n"
		"Sec-WebSocket-Protocol: sip\r\n\r\n",
		EPROTONOSUPPORT, "HTTP/1.1 426 ");
	assert_int_equal(parse("GET /ws HTTP/1.1\r\nHost: h\r\n"
			       "Upgrade: websocket\r\nConnection: Upgrade\r\n"
			       "Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\n"
			       "Sec-WebSocket-Protocol: sip\r\n\r\n",
			       &hs),
			 EPROTONOSUPPORT);
	assert_int_equal(
	    sip_ws_handshake_reply(EPROTONOSUPPORT, &hs, out, sizeof(out), &n),
	    0);
	out[n] = '\0';
	assert_non_null(strstr(out, "\r\nSec-WebSocket-Version: 13\r\n"));
	refused(REQ_HEAD "Sec-WebSocket-Version: 13\r\n"
			 "Sec-WebSocket-Protocol: sip\r\n\r\n",
		EPROTONOSUPPORT, "HTTP/1.1 426 ");
	/* missing, short, repeated, bad key */
	refused("GET /ws HTTP/1.1\r\nHost: h\r\nUpgrade: websocket\r\n"
		"Connection: Upgrade\r\nSec-WebSocket-Version: 13\r\n"
		"Sec-WebSocket-Protocol: sip\r\n\r\n",
		EBADMSG, "HTTP/1.1 400 ");
	refused("GET /ws HTTP/1.1\r\nHost: h\r\nUpgrade: websocket\r\n"
		"Connection: Upgrade\r\nSec-WebSocket-Version: 13\r\n"
		"Sec-WebSocket-Key: dGhlIHNhbXBsZQ==\r\n"
		"Sec-WebSocket-Protocol: sip\r\n\r\n",
		EBADMSG, "HTTP/1.1 400 ");
	refused(REQ_HEAD "Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\n"
			 "Sec-WebSocket-Protocol: sip\r\n\r\n",
		EBADMSG, "HTTP/1.1 400 ");
	refused("GET /ws HTTP/1.1\r\nHost: h\r\nUpgrade: websocket\r\n"
		"Connection: Upgrade\r\nSec-WebSocket-Version: 13\r\n"
		"Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZ!==\r\n"
		"Sec-WebSocket-Protocol: sip\r\n\r\n",
		EBADMSG, "HTTP/1.1 400 ");
	/* not an upgrade: no Upgrade, Connection without the token */
	refused("GET / HTTP/1.1\r\nHost: h\r\n\r\n", EBADMSG, "HTTP/1.1 400 ");
	refused("GET /ws HTTP/1.1\r\nHost: h\r\nUpgrade: websocket\r\n"
		"Connection: keep-alive, Upgraded\r\n"
		"Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\n"
		"Sec-WebSocket-Version: 13\r\n"
		"Sec-WebSocket-Protocol: sip\r\n\r\n",
		EBADMSG, "HTTP/1.1 400 ");
	/* method, version, Host */
	refused("POST /ws HTTP/1.1\r\nHost: h\r\n\r\n", EBADMSG,
		"HTTP/1.1 400 ");
	refused("GET /ws HTTP/1.0\r\nHost: h\r\n\r\n", EBADMSG,
		"HTTP/1.1 400 ");
	refused("GET /ws HTTP/1.1\r\nUpgrade: websocket\r\n"
		"Connection: Upgrade\r\n"
		"Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\n"
		"Sec-WebSocket-Version: 13\r\n"
		"Sec-WebSocket-Protocol: sip\r\n\r\n",
		EBADMSG, "HTTP/1.1 400 ");
	refused(REQ_HEAD "Host: i\r\nSec-WebSocket-Protocol: sip\r\n\r\n",
		EBADMSG, "HTTP/1.1 400 ");
	/* syntax: folding, space before the colon, bare LF, control */
	refused("GET /ws HTTP/1.1\r\nHost: h\r\n folded\r\n\r\n", EBADMSG,
		"HTTP/1.1 400 ");
	refused("GET /ws HTTP/1.1\r\nHost : h\r\n\r\n", EBADMSG,
		"HTTP/1.1 400 ");
	refused("GET /ws HTTP/1.1\r\nHost: h\nX: y\r\n\r\n", EBADMSG,
		"HTTP/1.1 400 ");
	refused("GET /ws HTTP/1.1\r\nHost: h\x01\r\n\r\n", EBADMSG,
		"HTTP/1.1 400 ");
	refused("GET  /ws HTTP/1.1\r\nHost: h\r\n\r\n", EBADMSG,
		"HTTP/1.1 400 ");
	refused("\r\n\r\n", EBADMSG, "HTTP/1.1 400 ");
	/* the 431 for E2BIG */
	assert_int_equal(
	    sip_ws_handshake_reply(E2BIG, NULL, out, sizeof(out), &n), 0);
	assert_int_equal(strncmp(out, "HTTP/1.1 431 ", 13), 0);
}

/* ---- the decoder ---- */

#define FRAME_MAX 70000
#define MSG_MAX 100000

static void test_rfc_examples(void **state)
{
	/* RFC 6455 5.7: a single-frame masked text message "Hello" */
	unsigned char hello[] = {0x81, 0x85, 0x37, 0xfa, 0x21, 0x3d,
				 0x7f, 0x9f, 0x4d, 0x51, 0x58};
	/* a masked pong "Hello" (taken silently), then a masked ping */
	unsigned char pp[] = {0x8a, 0x85, 0x37, 0xfa, 0x21, 0x3d, 0x7f, 0x9f,
			      0x4d, 0x51, 0x58, 0x89, 0x85, 0x37, 0xfa, 0x21,
			      0x3d, 0x7f, 0x9f, 0x4d, 0x51, 0x58};
	unsigned char buf[80000], payload[65536];
	struct sip_ws_rx rx;
	struct sip_ws_event ev;
	size_t used, n;

	(void)state;
	sip_ws_rx_init(&rx, FRAME_MAX, MSG_MAX);
	assert_int_equal(
	    sip_ws_decode(&rx, (char *)hello, sizeof(hello), &used, &ev), 0);
	assert_int_equal(used, sizeof(hello));
	assert_int_equal(ev.type, SIP_WS_EV_MESSAGE);
	assert_false(ev.binary);
	assert_int_equal(ev.len, 5);
	assert_memory_equal(ev.data, "Hello", 5);
	assert_ptr_equal(ev.data, (char *)hello + 6); /* unmasked in place */

	assert_int_equal(sip_ws_decode(&rx, (char *)pp, sizeof(pp), &used, &ev),
			 0);
	assert_int_equal(used, sizeof(pp));
	assert_int_equal(ev.type, SIP_WS_EV_PING);
	assert_int_equal(ev.len, 5);
	assert_memory_equal(ev.data, "Hello", 5);

	/* fragmented "Hel" + "lo" (the RFC's frames, masked) */
	n = cframe(buf, 0x01, "Hel", 3);
	n += cframe(buf + n, 0x80, "lo", 2);
	assert_int_equal(sip_ws_decode(&rx, (char *)buf, n, &used, &ev), 0);
	assert_int_equal(used, n);
	assert_int_equal(ev.type, SIP_WS_EV_MESSAGE);
	assert_int_equal(ev.len, 5);
	assert_memory_equal(ev.data, "Hello", 5);

	/* 256 bytes and 64 KiB binary: 16- and 64-bit lengths */
	for (size_t i = 0; i < sizeof(payload); i++)
		payload[i] = (unsigned char)(i * 7);
	n = cframe(buf, 0x82, payload, 256);
	assert_memory_equal(buf, "\x82\xfe\x01\x00", 4);
	assert_int_equal(sip_ws_decode(&rx, (char *)buf, n, &used, &ev), 0);
	assert_int_equal(used, 256 + 8);
	assert_true(ev.binary);
	assert_int_equal(ev.len, 256);
	assert_memory_equal(ev.data, payload, 256);
	n = cframe(buf, 0x82, payload, 65536);
	assert_memory_equal(buf, "\x82\xff\x00\x00\x00\x00\x00\x01\x00\x00",
			    10);
	assert_int_equal(sip_ws_decode(&rx, (char *)buf, n, &used, &ev), 0);
	assert_int_equal(used, 65536 + 14);
	assert_int_equal(ev.len, 65536);
	assert_memory_equal(ev.data, payload, 65536);
	/* nothing: EAGAIN, nothing taken */
	assert_int_equal(sip_ws_decode(&rx, (char *)buf, 0, &used, &ev),
			 EAGAIN);
	assert_int_equal(used, 0);
	sip_ws_rx_free(&rx);
}

/* One event, flattened for comparisons. */
struct rec {
	int rc;
	enum sip_ws_ev type;
	bool binary;
	unsigned code;
	char data[300];
	size_t len;
};

/*
 * Decodes in (n bytes) fed in pieces: the first `split` bytes, then the
 * rest (split 0: all at once; split 1 with step 1: byte by byte). Records
 * up to max events (and the final error) in r; returns their number.
 */
static size_t run(const unsigned char *in, size_t n, size_t split, size_t step,
		  struct rec *r, size_t max)
{
	struct sip_ws_rx rx;
	unsigned char *buf = malloc(n + 1);
	size_t have = 0, fed = 0, nr = 0;

	assert_non_null(buf);
	sip_ws_rx_init(&rx, 1000, 1000);
	while (nr < max) {
		struct sip_ws_event ev;
		size_t used;
		int rc;

		rc = sip_ws_decode(&rx, (char *)buf, have, &used, &ev);
		assert_true(used <= have);
		if (rc == EAGAIN && fed < n) {
			size_t k = fed == 0 && split ? split : step;
			if (k > n - fed)
				k = n - fed;
			memmove(buf, buf + used, have - used);
			have -= used;
			memcpy(buf + have, in + fed, k);
			have += k;
			fed += k;
			continue;
		}
		memset(&r[nr], 0, sizeof(r[nr]));
		r[nr].rc = rc;
		if (rc == 0) {
			r[nr].type = ev.type;
			r[nr].binary = ev.binary;
			r[nr].code = ev.code;
			assert_true(ev.len <= sizeof(r[nr].data));
			memcpy(r[nr].data, ev.data, ev.len);
			r[nr].len = ev.len;
		}
		nr++;
		memmove(buf, buf + used, have - used);
		have -= used;
		if (rc != 0)
			break;
	}
	sip_ws_rx_free(&rx);
	free(buf);
	return nr;
}

static void test_every_split(void **state)
{
	unsigned char in[2000];
	char big[200];
	struct rec a[16], b[16];
	size_t n = 0, na, nb;

	(void)state;
	memset(big, 'x', sizeof(big));
	n += cframe(in + n, 0x81, "REGISTER", 8);
	n += cframe(in + n, 0x8a, "pong", 4);
	n += cframe(in + n, 0x02, "\x00\x01", 2); /* binary, fragmented */
	n += cframe(in + n, 0x89, "ping!", 5);	  /* between fragments */
	n += cframe(in + n, 0x00, "", 0);
	n += cframe(in + n, 0x80, big, sizeof(big)); /* 16-bit length */
	n += cframe(in + n, 0x81, "\r\n\r\n", 4);
	n += cframe(in + n, 0x01, "\xc3", 1); /* UTF-8 split across frames */
	n += cframe(in + n, 0x80, "\xa9t\xc3\xa9", 4);
	n += cframe(in + n, 0x81, "", 0);
	n += cframe(in + n, 0x88,
		    "\x03\xe8"
		    "bye",
		    5);
	n += cframe(in + n, 0x81, "after close", 11);

	na = run(in, n, 0, n, a, 16);
	assert_int_equal(na, 8);
	assert_int_equal(a[0].type, SIP_WS_EV_MESSAGE);
	assert_int_equal(a[0].len, 8);
	assert_int_equal(a[1].type, SIP_WS_EV_PING);
	assert_memory_equal(a[1].data, "ping!", 5);
	assert_int_equal(a[2].type, SIP_WS_EV_MESSAGE);
	assert_true(a[2].binary);
	assert_int_equal(a[2].len, 2 + sizeof(big));
	assert_int_equal(sip_ws_keepalive(a[3].data, a[3].len), SIP_WS_KA_PING);
	assert_int_equal(a[4].len, 5);
	assert_memory_equal(a[4].data, "\xc3\xa9t\xc3\xa9", 5);
	assert_int_equal(a[5].len, 0);
	assert_int_equal(a[6].type, SIP_WS_EV_CLOSE);
	assert_int_equal(a[6].code, 1000);
	assert_memory_equal(a[6].data, "bye", 3);
	assert_int_equal(a[7].rc, EPIPE); /* nothing after a close */
	/* every split point, and byte by byte, give the same events */
	for (size_t s = 1; s <= n; s++) {
		nb = run(in, n, s, n, b, 16);
		assert_int_equal(nb, na);
		assert_memory_equal(a, b, na * sizeof(a[0]));
	}
	for (size_t step = 1; step < 8; step++) {
		nb = run(in, n, 0, step, b, 16);
		assert_int_equal(nb, na);
		assert_memory_equal(a, b, na * sizeof(a[0]));
	}
}

/* Decodes the frame(s) in buf with fresh caps; returns the result. */
static int one(const void *frames, size_t n, size_t fmax, size_t mmax,
	       struct sip_ws_event *ev)
{
	struct sip_ws_rx rx;
	unsigned char buf[4096];
	size_t used;
	int rc;

	assert_true(n <= sizeof(buf));
	memcpy(buf, frames, n);
	sip_ws_rx_init(&rx, fmax, mmax);
	rc = sip_ws_decode(&rx, (char *)buf, n, &used, ev);
	if (rc == 0)
		ev->data = NULL; /* buf is gone */
	sip_ws_rx_free(&rx);
	return rc;
}

static void test_protocol_errors(void **state)
{
	unsigned char f[600], p[200];
	struct sip_ws_event ev;
	size_t n;

	(void)state;
	/* unmasked (the RFC's unmasked "Hello" from a client) */
	assert_int_equal(one("\x81\x05Hello", 7, 100, 100, &ev), EBADMSG);
	assert_int_equal(sip_ws_close_code(EBADMSG), 1002);
	/* reserved bits, reserved opcodes */
	for (unsigned b0 = 0x90; b0 <= 0xf0; b0 += 0x10) {
		n = cframe(f, b0 | 1, "x", 1);
		assert_int_equal(one(f, n, 100, 100, &ev), EBADMSG);
	}
	for (unsigned op = 3; op < 16; op++) {
		if (op >= 8 && op <= 10)
			continue;
		n = cframe(f, 0x80 | op, "x", 1);
		assert_int_equal(one(f, n, 100, 100, &ev), EBADMSG);
	}
	/* control frames: 126 bytes, fragmented */
	memset(p, 'p', 126);
	n = cframe(f, 0x89, p, 126);
	assert_int_equal(one(f, n, 1000, 1000, &ev), EBADMSG);
	n = cframe(f, 0x89, p, 125);
	assert_int_equal(one(f, n, 10, 10, &ev), 0); /* caps: data only */
	assert_int_equal(ev.len, 125);
	n = cframe(f, 0x09, "x", 1);
	assert_int_equal(one(f, n, 100, 100, &ev), EBADMSG);
	/* a continuation with nothing started; a new message inside one */
	n = cframe(f, 0x80, "x", 1);
	assert_int_equal(one(f, n, 100, 100, &ev), EBADMSG);
	n = cframe(f, 0x01, "x", 1);
	n += cframe(f + n, 0x81, "y", 1);
	assert_int_equal(one(f, n, 100, 100, &ev), EBADMSG);
	/* non-minimal lengths: 5 in 16 bits, 200 in 64 bits; top bit */
	assert_int_equal(one("\x81\xfe\x00\x05", 4, 100, 100, &ev), EBADMSG);
	assert_int_equal(one("\x82\xff\x00\x00\x00\x00\x00\x00\x00\xc8", 10,
			     1000, 1000, &ev),
			 EBADMSG);
	assert_int_equal(one("\x82\xff\x80\x00\x00\x00\x00\x00\x00\x00", 10,
			     1000, 1000, &ev),
			 EBADMSG);
	/* an incomplete 64-bit length is EAGAIN */
	assert_int_equal(one("\x82\xff\x00\x00", 4, 1000, 1000, &ev), EAGAIN);
	/* close: 1 byte, codes that may not be sent */
	n = cframe(f, 0x88, "\x03", 1);
	assert_int_equal(one(f, n, 100, 100, &ev), EBADMSG);
	n = cframe(f, 0x88, "\x03\xed", 2); /* 1005 */
	assert_int_equal(one(f, n, 100, 100, &ev), EBADMSG);
	n = cframe(f, 0x88, "\x03\xe7", 2); /* 999 */
	assert_int_equal(one(f, n, 100, 100, &ev), EBADMSG);
	n = cframe(f, 0x88, "\x13\x88", 2); /* 5000 */
	assert_int_equal(one(f, n, 100, 100, &ev), EBADMSG);
	n = cframe(f, 0x88, "\x0f\xa0", 2); /* 4000: ok */
	assert_int_equal(one(f, n, 100, 100, &ev), 0);
	assert_int_equal(ev.code, 4000);
	n = cframe(f, 0x88, "", 0); /* no code */
	assert_int_equal(one(f, n, 100, 100, &ev), 0);
	assert_int_equal(ev.type, SIP_WS_EV_CLOSE);
	assert_int_equal(ev.code, SIP_WS_CLOSE_NO_STATUS);
	assert_int_equal(ev.len, 0);
}

static void test_utf8_and_caps(void **state)
{
	unsigned char f[3000], big[2100];
	struct sip_ws_event ev;
	size_t n;

	(void)state;
	/* bad UTF-8: in one frame, across fragments, in a close reason;
	 * the same bytes as binary are fine */
	n = cframe(f, 0x81, "\xc3\x28", 2);
	assert_int_equal(one(f, n, 100, 100, &ev), EILSEQ);
	assert_int_equal(sip_ws_close_code(EILSEQ), 1007);
	n = cframe(f, 0x81, "\xed\xa0\x80", 3); /* a surrogate */
	assert_int_equal(one(f, n, 100, 100, &ev), EILSEQ);
	n = cframe(f, 0x01, "ok", 2);
	n += cframe(f + n, 0x80, "\xc3", 1); /* ends mid-sequence */
	assert_int_equal(one(f, n, 100, 100, &ev), EILSEQ);
	n = cframe(f, 0x88, "\x03\xe8\xff", 3);
	assert_int_equal(one(f, n, 100, 100, &ev), EILSEQ);
	n = cframe(f, 0x82, "\xc3\x28", 2);
	assert_int_equal(one(f, n, 100, 100, &ev), 0);
	assert_true(ev.binary);

	/* caps: known from the header alone (only 4 bytes given) */
	memset(big, 'a', sizeof(big));
	n = cframe(f, 0x81, big, 101);
	assert_int_equal(one(f, 4, 100, 1000, &ev), E2BIG);
	assert_int_equal(one(f, n, 100, 1000, &ev), E2BIG);
	assert_int_equal(sip_ws_close_code(E2BIG), 1009);
	assert_int_equal(one(f, n, 1000, 100, &ev), E2BIG);
	n = cframe(f, 0x81, big, 100);
	assert_int_equal(one(f, n, 100, 100, &ev), 0);
	/* fragments that together pass the message cap */
	n = cframe(f, 0x01, big, 60);
	n += cframe(f + n, 0x80, big, 41);
	assert_int_equal(one(f, n, 100, 100, &ev), E2BIG);
	n = cframe(f, 0x01, big, 60);
	n += cframe(f + n, 0x80, big, 40);
	assert_int_equal(one(f, n, 100, 100, &ev), 0);
	assert_int_equal(ev.len, 100);
	/* a reassembly buffer that grows past its first size */
	{
		struct sip_ws_rx rx;
		unsigned char *b = malloc(8200);
		size_t used, m;

		assert_non_null(b);
		m = cframe(b, 0x02, big, 2050);
		m += cframe(b + m, 0x00, big, 2050);
		m += cframe(b + m, 0x80, big, 2050);
		sip_ws_rx_init(&rx, 3000, 7000);
		assert_int_equal(sip_ws_decode(&rx, (char *)b, m, &used, &ev),
				 0);
		assert_int_equal(used, m);
		assert_int_equal(ev.len, 3 * 2050);
		assert_true(rx.cap > 4096 && rx.cap <= 7000);
		/* the next call frees a buffer grown past 4 KiB */
		assert_int_equal(sip_ws_decode(&rx, (char *)b, 0, &used, &ev),
				 EAGAIN);
		assert_int_equal(rx.cap, 0);
		assert_null(rx.msg);
		/* errors end the connection: later calls are EPIPE */
		m = cframe(b, 0x81, "\xff", 1);
		assert_int_equal(sip_ws_decode(&rx, (char *)b, m, &used, &ev),
				 EILSEQ);
		assert_int_equal(used, m); /* a bad payload's frame is taken */
		assert_int_equal(sip_ws_decode(&rx, (char *)b, m, &used, &ev),
				 EPIPE);
		assert_int_equal(used, m);
		assert_int_equal(sip_ws_close_code(EPIPE), 0);
		sip_ws_rx_free(&rx);
		free(b);
	}
}

static void test_pipelined(void **state)
{
	char buf[1000];
	struct sip_ws_handshake hs;
	struct sip_ws_rx rx;
	struct sip_ws_event ev;
	size_t n = strlen(req_ok), used;
	const char *sip = "OPTIONS sip:a@b SIP/2.0\r\n\r\n";

	(void)state;
	memcpy(buf, req_ok, n);
	n += cframe((unsigned char *)buf + n, 0x81, sip, strlen(sip));
	assert_int_equal(sip_ws_handshake_parse(buf, n, &hs), 0);
	assert_int_equal(hs.used, strlen(req_ok));
	sip_ws_rx_init(&rx, 100, 100);
	assert_int_equal(
	    sip_ws_decode(&rx, buf + hs.used, n - hs.used, &used, &ev), 0);
	assert_int_equal(used, n - hs.used);
	assert_int_equal(ev.len, strlen(sip));
	assert_memory_equal(ev.data, sip, strlen(sip));
	assert_int_equal(sip_ws_keepalive(ev.data, ev.len), SIP_WS_KA_NONE);
	sip_ws_rx_free(&rx);
}

/* ---- the encoder and keep-alives ---- */

static void test_encode(void **state)
{
	char out[70000], payload[65536];
	unsigned char h[SIP_WS_SRV_HDR_MAX];
	size_t n;

	(void)state;
	/* RFC 6455 5.7: unmasked text "Hello", ping "Hello" */
	assert_int_equal(
	    sip_ws_encode(SIP_WS_OP_TEXT, "Hello", 5, out, sizeof(out), &n), 0);
	assert_int_equal(n, 7);
	assert_memory_equal(out, "\x81\x05Hello", 7);
	assert_int_equal(
	    sip_ws_encode(SIP_WS_OP_PONG, "Hello", 5, out, sizeof(out), &n), 0);
	assert_memory_equal(out, "\x8a\x05Hello", 7);
	/* 256 bytes and 64 KiB binary in a single unmasked frame */
	memset(payload, 'z', sizeof(payload));
	assert_int_equal(
	    sip_ws_encode(SIP_WS_OP_BINARY, payload, 256, out, sizeof(out), &n),
	    0);
	assert_int_equal(n, 260);
	assert_memory_equal(out, "\x82\x7e\x01\x00", 4);
	assert_int_equal(sip_ws_encode(SIP_WS_OP_BINARY, payload, 65536, out,
				       sizeof(out), &n),
			 0);
	assert_int_equal(n, 65546);
	assert_memory_equal(out, "\x82\x7f\x00\x00\x00\x00\x00\x01\x00\x00",
			    10);
	assert_int_equal(sip_ws_encode_header(SIP_WS_OP_TEXT, 125, h, &n), 0);
	assert_int_equal(n, 2);
	assert_int_equal(sip_ws_encode_header(SIP_WS_OP_TEXT, 65535, h, &n), 0);
	assert_int_equal(n, 4);
	/* limits */
	assert_int_equal(sip_ws_encode(SIP_WS_OP_TEXT, "Hello", 5, out, 6, &n),
			 ERANGE);
	assert_int_equal(
	    sip_ws_encode(SIP_WS_OP_PING, payload, 126, out, sizeof(out), &n),
	    EINVAL);
	assert_int_equal(
	    sip_ws_encode(SIP_WS_OP_CONT, "x", 1, out, sizeof(out), &n),
	    EINVAL);
	/* close frames: with a code, without, not sendable */
	assert_int_equal(sip_ws_encode_close(1002, out, 4, &n), 0);
	assert_int_equal(n, 4);
	assert_memory_equal(out, "\x88\x02\x03\xea", 4);
	assert_int_equal(
	    sip_ws_encode_close(SIP_WS_CLOSE_NO_STATUS, out, 4, &n), 0);
	assert_memory_equal(out, "\x88\x00", 2);
	assert_int_equal(sip_ws_encode_close(1006, out, 4, &n), EINVAL);
	assert_int_equal(sip_ws_encode_close(1000, out, 3, &n), ERANGE);
}

static void test_keepalive(void **state)
{
	(void)state;
	assert_int_equal(sip_ws_keepalive("\r\n\r\n", 4), SIP_WS_KA_PING);
	assert_int_equal(sip_ws_keepalive("\r\n\r\n\r\n", 6), SIP_WS_KA_PING);
	assert_int_equal(sip_ws_keepalive("\r\n", 2), SIP_WS_KA_PONG);
	assert_int_equal(sip_ws_keepalive("", 0), SIP_WS_KA_NONE);
	assert_int_equal(sip_ws_keepalive("\n\n", 2), SIP_WS_KA_NONE);
	assert_int_equal(sip_ws_keepalive("\r\n\r", 3), SIP_WS_KA_NONE);
	assert_int_equal(sip_ws_keepalive("\r\nX", 3), SIP_WS_KA_NONE);
	assert_int_equal(sip_ws_keepalive("OPTIONS", 7), SIP_WS_KA_NONE);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_accept_rfc),
	    cmocka_unit_test(test_handshake_ok),
	    cmocka_unit_test(test_handshake_incomplete),
	    cmocka_unit_test(test_handshake_variants),
	    cmocka_unit_test(test_handshake_refusals),
	    cmocka_unit_test(test_rfc_examples),
	    cmocka_unit_test(test_every_split),
	    cmocka_unit_test(test_protocol_errors),
	    cmocka_unit_test(test_utf8_and_caps),
	    cmocka_unit_test(test_pipelined),
	    cmocka_unit_test(test_encode),
	    cmocka_unit_test(test_keepalive),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
