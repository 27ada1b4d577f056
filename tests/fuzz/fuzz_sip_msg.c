/*
 * fuzz_sip_msg.c - libFuzzer harness for the SIP parser: sip_msg_parse on
 * the input as a datagram, sip_msg_frame with several caps and then a parse
 * of each framed message, with every returned slice read (so ASan checks its
 * bounds) and checked to lie inside the buffer. Traps on broken invariants.
 */
#include <errno.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "sip/msg.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

#define CHECK(cond)                                                         \
	do {                                                                \
		if (!(cond)) {                                              \
			fprintf(stderr, "invariant failed: %s (line %d)\n", \
				#cond, __LINE__);                           \
			__builtin_trap();                                   \
		}                                                           \
	} while (0)

static const char *lo, *hi;
static volatile unsigned sink;

/* Reads every byte of s, which must lie inside [lo, hi). When line is set,
 * the slice must be one header line: no CR or LF (it may be echoed). */
static void touch(struct sip_str s, bool line)
{
	unsigned sum = 0;

	if (!s.p) {
		CHECK(s.n == 0);
		return;
	}
	CHECK(s.p >= lo && s.p <= hi && s.n <= (size_t)(hi - s.p));
	for (size_t i = 0; i < s.n; i++) {
		sum += (unsigned char)s.p[i];
		if (line)
			CHECK(s.p[i] != '\r' && s.p[i] != '\n');
	}
	sink += sum;
}

static void touch_uri(const struct sip_uri *u)
{
	touch(u->scheme, true);
	touch(u->user, true);
	touch(u->host, true);
	touch(u->params, true);
	CHECK(u->port <= 65535);
}

static void touch_digest(const struct sip_digest *d)
{
	touch(d->username, true);
	touch(d->realm, true);
	touch(d->nonce, true);
	touch(d->uri, true);
	touch(d->response, true);
	touch(d->algorithm, true);
	touch(d->cnonce, true);
	touch(d->opaque, true);
	touch(d->qop, true);
	touch(d->nc, true);
}

/* The first value of the header named s (a token: no NUL) by
 * sip_msg_header; p NULL when absent or too long a name to copy here. */
static struct sip_str lookup(const struct sip_msg *m, struct sip_str s)
{
	static char b[8192];

	if (s.n >= sizeof(b))
		return (struct sip_str){0};
	memcpy(b, s.p, s.n);
	b[s.n] = '\0';
	return sip_msg_header(m, b, NULL);
}

static void check_msg(const struct sip_msg *m, int rc)
{
	CHECK(rc == 0 || rc == EBADMSG || rc == E2BIG);
	CHECK(m->nvia <= SIP_VIA_MAX && m->nvia_lines <= SIP_VIA_MAX);
	CHECK(m->nvia_lines <= m->nvia);
	CHECK(m->ncontact <= SIP_CONTACT_MAX && m->nauth <= SIP_AUTH_MAX);
	CHECK(m->nhdrs <= SIP_HEADERS_MAX);
	CHECK(m->max_forwards >= -1 && m->max_forwards <= 255);
	CHECK(m->cseq <= INT32_MAX);

	touch(m->method, true);
	touch(m->ruri_raw, true);
	touch_uri(&m->ruri);
	touch(m->reason, true);
	for (unsigned i = 0; i < m->nvia; i++) {
		const struct sip_via *v = &m->via[i];

		touch(v->transport, true);
		touch(v->host, true);
		touch(v->branch, true);
		touch(v->received, true);
		touch(v->raw, true);
		CHECK(v->port <= 65535 && v->rport_value <= 65535);
		CHECK(v->rport || v->rport_value == 0);
	}
	for (unsigned i = 0; i < m->nvia_lines; i++)
		touch(m->via_lines[i], true);
	touch(m->from.raw, true);
	touch(m->from.uri_raw, true);
	touch_uri(&m->from.uri);
	touch(m->from.tag, true);
	touch(m->to.raw, true);
	touch(m->to.uri_raw, true);
	touch_uri(&m->to.uri);
	touch(m->to.tag, true);
	touch(m->call_id, true);
	touch(m->cseq_method, true);
	for (unsigned i = 0; i < m->ncontact; i++) {
		const struct sip_contact *c = &m->contact[i];

		touch(c->raw, true);
		touch(c->uri_raw, true);
		touch_uri(&c->uri);
		touch(c->q, true);
		touch(c->instance, true);
		touch(c->reg_id, true);
		CHECK(c->has_expires || c->expires == 0);
	}
	CHECK(!(m->contact_star && m->ncontact));
	touch(m->user_agent, true);
	for (unsigned i = 0; i < m->nauth; i++)
		touch_digest(&m->auth[i]);
	CHECK(m->npauth <= SIP_AUTH_MAX);
	CHECK(m->pauth_err == 0 || m->pauth_err == EBADMSG ||
	      m->pauth_err == E2BIG);
	for (unsigned i = 0; i < m->npauth; i++)
		touch_digest(&m->pauth[i]);
	for (unsigned i = 0; i < m->nhdrs; i++) {
		struct sip_str v;

		CHECK(m->hdrs[i].name.p && m->hdrs[i].name.n > 0 &&
		      m->hdrs[i].value.p);
		touch(m->hdrs[i].name, true);
		touch(m->hdrs[i].value, true);
		/* The lookup finds this field or an earlier one of its name. */
		v = lookup(m, m->hdrs[i].name);
		CHECK(!v.p || v.p <= m->hdrs[i].value.p);
		CHECK(v.p || m->hdrs[i].name.n >= 8192);
	}
	/* Names are tokens: never empty, never with a space. */
	CHECK(!sip_msg_header(m, "", NULL).p);
	CHECK(!sip_msg_header(m, "X Y", NULL).p);
	touch(m->supported, true);
	touch(m->require, true);
	CHECK(m->nrroute <= SIP_ROUTE_MAX);
	for (unsigned i = 0; i < m->nrroute; i++)
		touch(m->rroute[i], true);
	touch(m->content_type, true);
	touch(m->body, false);

	if (rc != 0)
		return;
	/* What a successful parse promises. */
	CHECK(m->nvia >= 1 && m->from.raw.p && m->to.raw.p && m->call_id.p &&
	      m->cseq_method.p);
	CHECK(m->from.uri_raw.p && m->from.uri.host.p && m->to.uri.host.p);
	for (unsigned i = 0; i < m->ncontact; i++)
		CHECK(m->contact[i].uri.host.p && m->contact[i].raw.p);
	if (m->is_request) {
		CHECK(m->method.n > 0 && m->ruri.host.p);
		CHECK(sip_str_eq(m->cseq_method, "") == false);
		CHECK(m->cseq_method.n == m->method.n &&
		      memcmp(m->cseq_method.p, m->method.p, m->method.n) == 0);
	} else {
		CHECK(m->status >= 100 && m->status <= 699);
	}
	if (m->has_content_length)
		CHECK(m->body.n == m->content_length);
	/* Without Content-Length the body is the rest; with it, bytes past
	 * it (datagram padding, RFC 3261 18.3) are discarded. */
	if (m->body.p)
		CHECK(m->has_content_length ? m->body.p + m->body.n <= hi
					    : m->body.p + m->body.n == hi);
}

/* Parses a copy of exactly len bytes; returns the result. */
static int parse_copy(const uint8_t *data, size_t len, struct sip_msg *m)
{
	char *buf = malloc(len ? len : 1);
	int rc;

	if (!buf)
		return ENOMEM;
	if (len)
		memcpy(buf, data, len);
	lo = buf;
	hi = buf + len;
	rc = sip_msg_parse(m, buf, len);
	check_msg(m, rc);
	free(buf);
	return rc;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static const size_t maxes[] = {0, 16, 200, 1024, 65536};
	static struct sip_msg m;
	char *buf;

	/* As a datagram. When that has a Content-Length, the stream framer
	 * must agree on where the message ends (two scanners, one rule);
	 * a datagram may carry bytes beyond it, which are discarded. */
	if (parse_copy(data, size, &m) == 0 && m.has_content_length &&
	    size <= 65536) {
		size_t skip, len;

		CHECK(sip_msg_frame((const char *)data, size, 65536, &skip,
				    &len) == 0);
		CHECK(skip + len <= size);
	}

	/* As a stream, with several caps. */
	buf = malloc(size ? size : 1);
	if (!buf)
		return 0;
	if (size)
		memcpy(buf, data, size);
	for (size_t i = 0; i < sizeof(maxes) / sizeof(maxes[0]); i++) {
		size_t off = 0;

		/* Frame messages one after another, as a transport would. */
		for (int k = 0; k < 8 && off <= size; k++) {
			size_t skip = (size_t)-1, len = (size_t)-1;
			int rc = sip_msg_frame(buf + off, size - off, maxes[i],
					       &skip, &len);

			CHECK(rc == 0 || rc == EAGAIN || rc == EBADMSG);
			CHECK(skip <= size - off);
			if (rc != 0) {
				CHECK(len == (size_t)-1);
				break;
			}
			CHECK(len > 0 && len <= maxes[i]);
			CHECK(len <= size - off - skip);
			off += skip;
			if (parse_copy(data + off, len, &m) == 0)
				CHECK(m.has_content_length);
			off += len;
		}
	}
	free(buf);
	return 0;
}
