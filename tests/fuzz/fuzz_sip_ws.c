/*
 * fuzz_sip_ws.c - libFuzzer harness for the WebSocket module: the input as
 * a handshake request (sip_ws_handshake_parse and its reply), then what
 * follows the request (or the whole input) as client frames, decoded once
 * from one buffer and once fed in small pieces. Traps on broken
 * invariants: slices and event data lie inside the buffers they belong
 * to, lengths stay within the caps, every reply fits SIP_WS_REPLY_MAX, and
 * both feedings give the same events and the same final result.
 */
#include <errno.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "sip/ws.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

#define CHECK(cond)                                                         \
	do {                                                                \
		if (!(cond)) {                                              \
			fprintf(stderr, "invariant failed: %s (line %d)\n", \
				#cond, __LINE__);                           \
			__builtin_trap();                                   \
		}                                                           \
	} while (0)

#define EVENTS_MAX 10000

static bool inside(struct sip_str s, const char *p, size_t n)
{
	return !s.p || (s.p >= p && s.p + s.n <= p + n);
}

static bool within(const char *d, size_t len, const char *p, size_t n)
{
	return p && d >= p && d + len <= p + n;
}

static void handshake(const char *in, size_t size, size_t *used)
{
	struct sip_ws_handshake hs;
	char out[SIP_WS_REPLY_MAX];
	size_t n = 0;
	int rc = sip_ws_handshake_parse(in, size, &hs);

	*used = 0;
	CHECK(rc == 0 || rc == EAGAIN || rc == E2BIG || rc == EBADMSG ||
	      rc == EPROTONOSUPPORT || rc == ENOPROTOOPT);
	if (rc == EAGAIN) {
		CHECK(size < SIP_WS_HANDSHAKE_MAX);
		return;
	}
	if (rc == E2BIG) {
		CHECK(size >= SIP_WS_HANDSHAKE_MAX);
		CHECK(sip_ws_handshake_reply(rc, NULL, out, sizeof(out), &n) ==
		      0);
		return;
	}
	CHECK(hs.used >= 4 && hs.used <= size &&
	      hs.used <= SIP_WS_HANDSHAKE_MAX);
	CHECK(memcmp(in + hs.used - 4, "\r\n\r\n", 4) == 0);
	CHECK(inside(hs.target, in, hs.used) && inside(hs.host, in, hs.used) &&
	      inside(hs.origin, in, hs.used) && inside(hs.key, in, hs.used) &&
	      inside(hs.version, in, hs.used));
	CHECK((rc == 0) == (hs.why == NULL));
	CHECK(sip_ws_handshake_reply(rc, &hs, out, sizeof(out), &n) == 0);
	CHECK(n > 12 && n < sizeof(out));
	CHECK(memcmp(out, rc ? "HTTP/1.1 4" : "HTTP/1.1 101 ", rc ? 10 : 13) ==
	      0);
	if (rc == 0) {
		CHECK(hs.key.n == 24);
		*used = hs.used;
	}
}

/* What a run of the decoder saw. */
struct trace {
	size_t nev;
	uint64_t hash;
	int rc;
};

static void mix(uint64_t *h, const void *p, size_t n)
{
	const unsigned char *b = p;

	for (size_t i = 0; i < n; i++)
		*h = (*h ^ b[i]) * 0x100000001b3ULL;
}

/* Checks one event and adds it to t. */
static void event(struct trace *t, const struct sip_ws_rx *rx,
		  const struct sip_ws_event *ev, const char *buf, size_t used)
{
	unsigned v[3] = {ev->type, ev->binary, ev->code};

	CHECK(!ev->len || within(ev->data, ev->len, buf, used) ||
	      within(ev->data, ev->len, rx->msg, rx->len));
	switch (ev->type) {
	case SIP_WS_EV_MESSAGE:
		CHECK(ev->len <= rx->msg_max);
		break;
	case SIP_WS_EV_PING:
		CHECK(ev->len <= SIP_WS_CTRL_MAX);
		break;
	case SIP_WS_EV_CLOSE:
		CHECK(ev->len <= SIP_WS_CTRL_MAX - 2);
		CHECK(ev->code >= 1000 && ev->code <= 4999);
		break;
	default:
		CHECK(0);
	}
	CHECK(rx->cap <= rx->msg_max && rx->len <= rx->cap);
	mix(&t->hash, v, sizeof(v));
	mix(&t->hash, &ev->len, sizeof(ev->len));
	if (ev->len)
		mix(&t->hash, ev->data, ev->len);
	t->nev++;
}

/*
 * Decodes in (n bytes) with the caps, fed step bytes at a time (n for all
 * at once), until an error or the end of the input.
 */
static void decode(const char *in, size_t n, size_t fmax, size_t mmax,
		   size_t step, struct trace *t)
{
	struct sip_ws_rx rx;
	char *buf = malloc(n ? n : 1);
	size_t have = 0, fed = 0;

	memset(t, 0, sizeof(*t));
	t->hash = 0xcbf29ce484222325ULL;
	if (!buf)
		abort();
	sip_ws_rx_init(&rx, fmax, mmax);
	while (t->nev < EVENTS_MAX) {
		struct sip_ws_event ev;
		size_t used = (size_t)-1;
		int rc = sip_ws_decode(&rx, buf, have, &used, &ev);

		CHECK(used <= have);
		if (rc == EAGAIN && fed < n) {
			size_t k = step < n - fed ? step : n - fed;

			memmove(buf, buf + used, have - used);
			have -= used;
			memcpy(buf + have, in + fed, k);
			have += k;
			fed += k;
			continue;
		}
		if (rc) {
			CHECK(rc == EAGAIN || rc == EBADMSG || rc == EILSEQ ||
			      rc == E2BIG || rc == EPIPE);
			CHECK(rc != EAGAIN || fed == n);
			t->rc = rc;
			break;
		}
		event(t, &rx, &ev, buf, used);
		memmove(buf, buf + used, have - used);
		have -= used;
		if (ev.type == SIP_WS_EV_CLOSE) {
			/* nothing more is decoded */
			CHECK(sip_ws_decode(&rx, buf, have, &used, &ev) ==
			      EPIPE);
			CHECK(used == have);
			t->rc = EPIPE;
			break;
		}
	}
	sip_ws_rx_free(&rx);
	free(buf);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	const char *in = (const char *)data;
	size_t start, fmax, mmax, step;
	unsigned char c = size ? data[0] : 0;
	struct trace a, b;

	handshake(in, size, &start);
	/* caps and piece size from the first byte: small, to reach them */
	fmax = (size_t)64 << (c & 3);
	mmax = fmax * (1 + (c >> 2 & 3));
	step = 1 + (size_t)(c >> 4) % 7;
	decode(in + start, size - start, fmax, mmax, size - start + 1, &a);
	decode(in + start, size - start, fmax, mmax, step, &b);
	CHECK(a.nev == b.nev && a.hash == b.hash && a.rc == b.rc);
	return 0;
}
