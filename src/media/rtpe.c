/*
 * rtpe.c - the rtpengine ng protocol: bencode both ways (the decoder takes
 * replies from the network, so it is strict, bounded and allocates
 * nothing), the flags that turn a plain SIP side into a WebRTC one and
 * back, and one blocking request/reply exchange over UDP with
 * retransmission under a deadline.
 */
#include "media/rtpe.h"

#include <errno.h>
#include <netinet/in.h>
#include <poll.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "base/addr.h"
#include "base/crypto.h"
#include "base/id.h"
#include "base/time.h"

#define COOKIE_BYTES 12 /* random bytes, sent as 24 hex digits */
#define REASON_MAX 200	/* bytes of rtpengine's error-reason kept */

/* ---- encoder ---- */

void media_benc_init(struct media_benc *b, char *buf, size_t cap)
{
	b->p = buf;
	b->cap = cap;
	b->len = 0;
	b->err = 0;
	b->depth = 0;
}

void media_benc_raw(struct media_benc *b, const void *s, size_t n)
{
	if (b->err)
		return;
	if (n > b->cap - b->len) {
		b->err = EMSGSIZE;
		return;
	}
	if (n)
		memcpy(b->p + b->len, s, n);
	b->len += n;
}

void media_benc_str(struct media_benc *b, const void *s, size_t n)
{
	char head[24];
	int k = snprintf(head, sizeof(head), "%zu:", n);

	media_benc_raw(b, head, (size_t)k);
	media_benc_raw(b, s, n);
}

void media_benc_cstr(struct media_benc *b, const char *s)
{
	media_benc_str(b, s, strlen(s));
}

void media_benc_int(struct media_benc *b, int64_t v)
{
	char buf[24];
	int k = snprintf(buf, sizeof(buf), "i%llde", (long long)v);

	media_benc_raw(b, buf, (size_t)k);
}

static void open_(struct media_benc *b, char c)
{
	if (!b->err && b->depth >= MEDIA_BENC_DEPTH_MAX) {
		b->err = EINVAL;
		return;
	}
	media_benc_raw(b, &c, 1);
	if (!b->err)
		b->depth++;
}

void media_benc_dict(struct media_benc *b)
{
	open_(b, 'd');
}

void media_benc_list(struct media_benc *b)
{
	open_(b, 'l');
}

void media_benc_end(struct media_benc *b)
{
	if (!b->err && b->depth == 0) {
		b->err = EINVAL;
		return;
	}
	media_benc_raw(b, "e", 1);
	if (!b->err)
		b->depth--;
}

int media_benc_finish(const struct media_benc *b, size_t *len)
{
	if (b->err)
		return b->err;
	if (b->depth)
		return EINVAL;
	*len = b->len;
	return 0;
}

/* ---- decoder ---- */

static bool is_digit(char c)
{
	return c >= '0' && c <= '9';
}

/*
 * Reads the decimal digits at s[*pos] up to the byte stop: at least one,
 * no leading zero, value at most max. Moves *pos past stop.
 */
static int number(const char *s, size_t n, size_t *pos, char stop, uint64_t max,
		  uint64_t *out)
{
	size_t p = *pos, start = p;
	uint64_t v = 0;

	while (p < n && is_digit(s[p])) {
		unsigned d = (unsigned)(s[p] - '0');
		if (v > (max - d) / 10)
			return EBADMSG;
		v = v * 10 + d;
		p++;
	}
	if (p == start || p >= n || s[p] != stop)
		return EBADMSG;
	if (s[start] == '0' && p - start > 1)
		return EBADMSG; /* a leading zero: two spellings of one value */
	*pos = p + 1;
	*out = v;
	return 0;
}

/* An integer or a string at s[*pos]; moves *pos past it. */
static int scalar(const char *s, size_t n, size_t *pos, struct media_bval *v)
{
	size_t p = *pos;
	uint64_t u;
	bool neg = false;

	if (s[p] == 'i') {
		p++;
		if (p < n && s[p] == '-') {
			neg = true;
			p++;
			if (p < n && s[p] == '0')
				return EBADMSG; /* "-0", and "-01" */
		}
		if (number(s, n, &p, 'e',
			   neg ? (uint64_t)INT64_MAX + 1 : (uint64_t)INT64_MAX,
			   &u))
			return EBADMSG;
		v->kind = MEDIA_B_INT;
		v->p = s + *pos;
		v->n = p - *pos;
		v->i = neg ? (int64_t)(0 - u) : (int64_t)u;
		*pos = p;
		return 0;
	}
	if (!is_digit(s[p]) || number(s, n, &p, ':', n, &u) || u > n - p)
		return EBADMSG;
	v->kind = MEDIA_B_STR;
	v->p = s + p;
	v->n = (size_t)u;
	v->i = 0;
	*pos = p + (size_t)u;
	return 0;
}

/*
 * One whole value at s[*pos], walked without recursion: st[] holds, per
 * open container, 'l' (a list), 'd' (a dictionary wanting a key or its
 * end) or 'v' (a dictionary wanting the value of the key just read).
 */
static int value(const char *s, size_t n, size_t *pos, struct media_bval *v)
{
	char st[MEDIA_BENC_DEPTH_MAX];
	unsigned depth = 0;
	size_t p = *pos;
	struct media_bval t;

	for (;;) {
		char c;
		if (p >= n)
			return EBADMSG;
		c = s[p];
		if (depth && c == 'e' && st[depth - 1] != 'v') {
			p++;
			if (--depth == 0)
				break;
			continue;
		}
		if (depth && st[depth - 1] == 'd') {
			if (!is_digit(c) || scalar(s, n, &p, &t))
				return EBADMSG; /* a key is a string */
			st[depth - 1] = 'v';
			continue;
		}
		if (depth && st[depth - 1] == 'v')
			st[depth - 1] = 'd';
		if (c == 'l' || c == 'd') {
			if (depth >= MEDIA_BENC_DEPTH_MAX)
				return EBADMSG;
			st[depth++] = c;
			p++;
			continue;
		}
		if (c != 'i' && !is_digit(c))
			return EBADMSG;
		if (scalar(s, n, &p, &t))
			return EBADMSG;
		if (depth == 0) {
			*v = t;
			*pos = p;
			return 0;
		}
	}
	v->kind = s[*pos] == 'l' ? MEDIA_B_LIST : MEDIA_B_DICT;
	v->p = s + *pos;
	v->n = p - *pos;
	v->i = 0;
	*pos = p;
	return 0;
}

int media_bdecode(const char *s, size_t n, struct media_bval *v)
{
	struct media_bval t;
	size_t pos = 0;

	if (!s || n == 0 || n > MEDIA_BENC_LEN_MAX)
		return EBADMSG;
	if (value(s, n, &pos, &t) || pos != n)
		return EBADMSG; /* unparsable, or bytes after the value */
	*v = t;
	return 0;
}

int media_bnext(const struct media_bval *c, size_t *pos,
		struct media_bval *item)
{
	size_t p = *pos ? *pos : 1;

	if ((c->kind != MEDIA_B_LIST && c->kind != MEDIA_B_DICT) || c->n < 2 ||
	    p >= c->n)
		return EBADMSG;
	if (p == c->n - 1)
		return ENOENT; /* the final 'e' */
	if (value(c->p, c->n - 1, &p, item))
		return EBADMSG;
	*pos = p;
	return 0;
}

int media_bdict_parse(const char *s, size_t n, struct media_bdict *d)
{
	struct media_bval top;
	size_t pos = 1, end;
	unsigned k = 0;

	if (media_bdecode(s, n, &top) || top.kind != MEDIA_B_DICT)
		return EBADMSG;
	end = top.n - 1; /* the final 'e' */
	while (pos < end) {
		struct media_bval key, val;
		if (k == MEDIA_BENC_DICT_MAX)
			return EBADMSG;
		/* Checked whole already: these cannot fail. */
		if (scalar(s, end, &pos, &key) || value(s, end, &pos, &val))
			return EBADMSG;
		for (unsigned j = 0; j < k; j++)
			if (d->e[j].key.n == key.n &&
			    memcmp(d->e[j].key.p, key.p, key.n) == 0)
				return EBADMSG; /* a key twice */
		d->e[k].key = key;
		d->e[k].val = val;
		k++;
	}
	d->n = k;
	return 0;
}

const struct media_bval *media_bdict_get(const struct media_bdict *d,
					 const char *key)
{
	size_t n = strlen(key);

	for (unsigned i = 0; i < d->n; i++)
		if (d->e[i].key.n == n && memcmp(d->e[i].key.p, key, n) == 0)
			return &d->e[i].val;
	return NULL;
}

/* ---- flags ---- */

/*
 * The keys that make rtpengine's SDP right for the side that receives it,
 * all in one place. Evidence: research calls-webrtc.md 4.7 (Kamailio's
 * IMS P-CSCF WebRTC<->RTP recipe, rtpengine's README) and 9 (a JsSIP call
 * in Chromium through rtpengine 10.5 on this machine), and what rtpengine
 * 10.5.3.5 returned here (tests/unit/test_media_rtpe.c checks each).
 *
 * Towards a browser:
 * - ICE=force: browsers need ICE (ufrag, pwd, candidates) to send at all.
 * - transport-protocol UDP/TLS/RTP/SAVPF: DTLS-SRTP with RTCP feedback, the
 *   only profile a browser accepts; rtpengine then adds a fingerprint.
 * - rtcp-mux [offer, require]: browsers require RTP and RTCP on one port
 *   (rtcp-mux-policy "require"); "offer" adds it to an offer that lacked
 *   it, "require" keeps rtpengine from falling back to two ports.
 * - SDES [off]: without it rtpengine adds a dozen a=crypto lines, which a
 *   browser ignores next to a fingerprint; they only make the SDP long.
 * - DTLS=active in an answer (rtpengine answering the browser's offer): with
 *   passive, ICE connected but the DTLS handshake never finished on this
 *   machine (section 9); active worked. An offer to a browser keeps
 *   rtpengine's default actpass (RFC 8842: an offerer says actpass).
 * - flag "generate mid": browsers key media sections on a=mid; a phone's
 *   offer has none. A mid already present (the browser's own) is kept.
 * Towards a phone:
 * - ICE=remove, transport-protocol RTP/AVP: plain RTP, no crypto lines.
 * - rtcp-mux [demux]: RTCP back on its own port, as RFC 3550 phones expect.
 * Both:
 * - replace [origin, session-connection]: the o= and session c= lines name
 *   rtpengine, not the other side.
 * Not sent: "trust address" (the default since rtpengine 3.8: the SDP's
 * addresses are used, not the SIP source), "strict source" (would drop
 * media from a browser whose candidate changes after latching).
 */
static void put_side(struct media_benc *b, enum media_kind kind, bool answer)
{
	if (kind == MEDIA_WEBRTC) {
		media_benc_cstr(b, "ICE");
		media_benc_cstr(b, "force");
		media_benc_cstr(b, "transport-protocol");
		media_benc_cstr(b, "UDP/TLS/RTP/SAVPF");
		media_benc_cstr(b, "rtcp-mux");
		media_benc_list(b);
		media_benc_cstr(b, "offer");
		media_benc_cstr(b, "require");
		media_benc_end(b);
		media_benc_cstr(b, "SDES");
		media_benc_list(b);
		media_benc_cstr(b, "off");
		media_benc_end(b);
		if (answer) {
			media_benc_cstr(b, "DTLS");
			media_benc_cstr(b, "active");
		}
		media_benc_cstr(b, "flags");
		media_benc_list(b);
		media_benc_cstr(b, "generate mid");
		media_benc_end(b);
	} else {
		media_benc_cstr(b, "ICE");
		media_benc_cstr(b, "remove");
		media_benc_cstr(b, "transport-protocol");
		media_benc_cstr(b, "RTP/AVP");
		media_benc_cstr(b, "rtcp-mux");
		media_benc_list(b);
		media_benc_cstr(b, "demux");
		media_benc_end(b);
	}
	media_benc_cstr(b, "replace");
	media_benc_list(b);
	media_benc_cstr(b, "origin");
	media_benc_cstr(b, "session-connection");
	media_benc_end(b);
}

/* ---- the exchange ---- */

/* One sentence into why; "%.*s" arguments are the caller's to sanitise. */
__attribute__((format(printf, 3, 4))) static void say(char *why, size_t cap,
						      const char *fmt, ...)
{
	va_list ap;

	if (!why || cap == 0)
		return;
	va_start(ap, fmt);
	vsnprintf(why, cap, fmt, ap);
	va_end(ap);
}

/* Copies s (n bytes, from the network) into out keeping printable ASCII. */
static void printable(const char *s, size_t n, char *out, size_t cap)
{
	size_t k = 0;

	for (size_t i = 0; i < n && k + 1 < cap; i++)
		if (s[i] >= 0x20 && s[i] < 0x7f)
			out[k++] = s[i];
	out[k] = '\0';
}

/* A request being built or a reply being read: one datagram each. */
struct xchg {
	const char *addr;
	char cookie[2 * COOKIE_BYTES + 1];
	size_t cookie_len;
	struct media_benc b;
	char *req, *rep;
	size_t rep_len; /* of the dictionary after the cookie */
	struct media_bdict d;
};

static int xchg_start(struct xchg *x, const char *addr, const char *command)
{
	unsigned char rnd[COOKIE_BYTES];

	memset(x, 0, sizeof(*x));
	x->addr = addr;
	x->req = malloc(MEDIA_RTPE_MSG_MAX);
	x->rep = malloc(MEDIA_RTPE_MSG_MAX + 1);
	if (!x->req || !x->rep)
		return ENOMEM;
	if (base_rand_fill(rnd, sizeof(rnd)) ||
	    base_hex_encode(rnd, sizeof(rnd), x->cookie, sizeof(x->cookie)))
		return EIO;
	x->cookie_len = strlen(x->cookie);
	media_benc_init(&x->b, x->req, MEDIA_RTPE_MSG_MAX);
	media_benc_raw(&x->b, x->cookie, x->cookie_len);
	media_benc_raw(&x->b, " ", 1);
	media_benc_dict(&x->b);
	media_benc_cstr(&x->b, "command");
	media_benc_cstr(&x->b, command);
	return 0;
}

static void xchg_end(struct xchg *x)
{
	free(x->req);
	free(x->rep);
}

/*
 * Sends the request until the reply with its cookie comes or timeout_ms
 * passes, and indexes the reply's dictionary. A refused send (ICMP port
 * unreachable: nothing listens yet, or rtpengine restarts) is retried like
 * a lost one.
 */
static int xchg_run(struct xchg *x, unsigned timeout_ms, char *why,
		    size_t why_cap)
{
	struct sockaddr_storage ss;
	socklen_t sl;
	size_t req_len;
	int64_t now = base_time_mono_ms(), deadline, next;
	unsigned gap = MEDIA_RTPE_FIRST_RTX_MS;
	int fd = -1, err, last = 0;

	media_benc_end(&x->b);
	err = media_benc_finish(&x->b, &req_len);
	if (err) {
		say(why, why_cap, "the request to rtpengine is too large");
		goto out;
	}
	if (!x->addr || base_addr_parse(x->addr, &ss, &sl) ||
	    ((struct sockaddr_in *)&ss)->sin_port == 0 || timeout_ms == 0) {
		err = EINVAL;
		say(why, why_cap, "no valid rtpengine address or timeout");
		goto out;
	}
	fd = socket(ss.ss_family, SOCK_DGRAM | SOCK_CLOEXEC, 0);
	if (fd < 0 || connect(fd, (struct sockaddr *)&ss, sl)) {
		err = errno;
		say(why, why_cap, "cannot open a socket to rtpengine at %s: %s",
		    x->addr, strerror(err));
		goto out;
	}
	deadline = now + timeout_ms;
	next = now;
	for (;;) {
		struct pollfd pfd = {.fd = fd, .events = POLLIN};
		int64_t wake;
		ssize_t r;

		now = base_time_mono_ms();
		if (now >= deadline)
			break;
		if (now >= next) {
			if (send(fd, x->req, req_len, 0) < 0) {
				if (errno != ECONNREFUSED && errno != EINTR &&
				    errno != EAGAIN && errno != ENOBUFS) {
					err = errno;
					say(why, why_cap,
					    "cannot send to rtpengine at %s: "
					    "%s",
					    x->addr, strerror(err));
					goto out;
				}
				last = errno;
			}
			next = now + gap;
			gap = gap > 8000 ? 16000 : gap * 2;
		}
		wake = next < deadline ? next : deadline;
		if (poll(&pfd, 1, (int)(wake - now)) <= 0)
			continue; /* the time is checked above; EINTR too */
		r = recv(fd, x->rep, MEDIA_RTPE_MSG_MAX + 1, MSG_TRUNC);
		if (r < 0) {
			last = errno; /* ECONNREFUSED: an ICMP error */
			continue;
		}
		if ((size_t)r > MEDIA_RTPE_MSG_MAX ||
		    (size_t)r <= x->cookie_len + 1 ||
		    memcmp(x->rep, x->cookie, x->cookie_len) != 0 ||
		    x->rep[x->cookie_len] != ' ')
			continue; /* not the reply to this request */
		x->rep_len = (size_t)r - x->cookie_len - 1;
		if (media_bdict_parse(x->rep + x->cookie_len + 1, x->rep_len,
				      &x->d)) {
			err = EBADMSG;
			say(why, why_cap,
			    "rtpengine at %s sent a reply that is not bencode",
			    x->addr);
			goto out;
		}
		err = 0;
		goto out;
	}
	err = ETIMEDOUT;
	say(why, why_cap, "no reply from rtpengine at %s within %u ms%s%s",
	    x->addr, timeout_ms, last ? ": " : "", last ? strerror(last) : "");
out:
	if (fd >= 0)
		close(fd);
	return err;
}

/* Whether the reply's key holds the string want. */
static bool str_is(const struct xchg *x, const char *key, const char *want)
{
	const struct media_bval *v = media_bdict_get(&x->d, key);

	return v && v->kind == MEDIA_B_STR && v->n == strlen(want) &&
	       memcmp(v->p, want, v->n) == 0;
}

/* Copies the reply's string under key into out, printable only; "". */
static void reply_text(const struct xchg *x, const char *key, char *out,
		       size_t cap)
{
	const struct media_bval *v = media_bdict_get(&x->d, key);

	if (v && v->kind == MEDIA_B_STR)
		printable(v->p, v->n, out, cap);
	else
		out[0] = '\0';
}

/* 0 for result ok; EPROTO with rtpengine's reason; EBADMSG otherwise. */
static int result_ok(const struct xchg *x, char *why, size_t why_cap)
{
	char reason[REASON_MAX + 1];

	if (str_is(x, "result", "ok"))
		return 0;
	if (str_is(x, "result", "error")) {
		reply_text(x, "error-reason", reason, sizeof(reason));
		say(why, why_cap, "rtpengine at %s refused: %s", x->addr,
		    reason[0] ? reason : "no reason given");
		return EPROTO;
	}
	say(why, why_cap, "rtpengine at %s sent a reply without a result",
	    x->addr);
	return EBADMSG;
}

static bool text_ok(const char *s)
{
	return s && s[0];
}

static int rewrite(const char *addr, unsigned timeout_ms,
		   const struct media_rtpe_req *q, bool answer, char *out,
		   size_t cap, size_t *out_len, char *why, size_t why_cap)
{
	struct xchg x;
	const struct media_bval *sdp;
	int err;

	err = xchg_start(&x, addr, answer ? "answer" : "offer");
	if (err) {
		say(why, why_cap, "out of memory or randomness");
		goto out;
	}
	if (!q || !text_ok(q->call_id) || !text_ok(q->from_tag) ||
	    (answer && !text_ok(q->to_tag)) || !q->sdp || q->sdp_len == 0 ||
	    (q->kind != MEDIA_PLAIN && q->kind != MEDIA_WEBRTC) || !out ||
	    cap == 0 || !out_len) {
		err = EINVAL;
		say(why, why_cap, "an incomplete request for rtpengine");
		goto out;
	}
	media_benc_cstr(&x.b, "call-id");
	media_benc_cstr(&x.b, q->call_id);
	media_benc_cstr(&x.b, "from-tag");
	media_benc_cstr(&x.b, q->from_tag);
	if (text_ok(q->to_tag)) {
		media_benc_cstr(&x.b, "to-tag");
		media_benc_cstr(&x.b, q->to_tag);
	}
	put_side(&x.b, q->kind, answer);
	media_benc_cstr(&x.b, "sdp");
	media_benc_str(&x.b, q->sdp, q->sdp_len);
	err = xchg_run(&x, timeout_ms, why, why_cap);
	if (err)
		goto out;
	err = result_ok(&x, why, why_cap);
	if (err)
		goto out;
	sdp = media_bdict_get(&x.d, "sdp");
	if (!sdp || sdp->kind != MEDIA_B_STR || sdp->n == 0 ||
	    memchr(sdp->p, '\0', sdp->n)) {
		err = EBADMSG;
		say(why, why_cap, "rtpengine at %s returned no usable SDP",
		    addr);
		goto out;
	}
	if (sdp->n >= cap) {
		err = EMSGSIZE;
		say(why, why_cap,
		    "the SDP from rtpengine (%zu bytes) exceeds %zu bytes",
		    sdp->n, cap - 1);
		goto out;
	}
	memcpy(out, sdp->p, sdp->n);
	out[sdp->n] = '\0';
	*out_len = sdp->n;
out:
	xchg_end(&x);
	return err;
}

int media_rtpe_offer(const char *addr, unsigned timeout_ms,
		     const struct media_rtpe_req *q, char *out, size_t cap,
		     size_t *out_len, char *why, size_t why_cap)
{
	return rewrite(addr, timeout_ms, q, false, out, cap, out_len, why,
		       why_cap);
}

int media_rtpe_answer(const char *addr, unsigned timeout_ms,
		      const struct media_rtpe_req *q, char *out, size_t cap,
		      size_t *out_len, char *why, size_t why_cap)
{
	return rewrite(addr, timeout_ms, q, true, out, cap, out_len, why,
		       why_cap);
}

int media_rtpe_delete(const char *addr, unsigned timeout_ms,
		      const char *call_id, const char *from_tag, char *why,
		      size_t why_cap)
{
	struct xchg x;
	char warning[REASON_MAX + 1];
	int err;

	err = xchg_start(&x, addr, "delete");
	if (err) {
		say(why, why_cap, "out of memory or randomness");
		goto out;
	}
	if (!text_ok(call_id) || !text_ok(from_tag)) {
		err = EINVAL;
		say(why, why_cap, "an incomplete request for rtpengine");
		goto out;
	}
	media_benc_cstr(&x.b, "call-id");
	media_benc_cstr(&x.b, call_id);
	media_benc_cstr(&x.b, "from-tag");
	media_benc_cstr(&x.b, from_tag);
	err = xchg_run(&x, timeout_ms, why, why_cap);
	if (err)
		goto out;
	err = result_ok(&x, why, why_cap);
	if (err)
		goto out;
	/* Without the "fatal" flag an unknown call is "ok" plus a warning. */
	reply_text(&x, "warning", warning, sizeof(warning));
	if (warning[0]) {
		err = ENOENT;
		say(why, why_cap, "rtpengine at %s: %s", addr, warning);
	}
out:
	xchg_end(&x);
	return err;
}

int media_rtpe_ping(const char *addr, unsigned timeout_ms)
{
	struct xchg x;
	int err;

	err = xchg_start(&x, addr, "ping");
	if (err)
		goto out;
	err = xchg_run(&x, timeout_ms, NULL, 0);
	if (err)
		goto out;
	if (!str_is(&x, "result", "pong"))
		err = EBADMSG;
out:
	xchg_end(&x);
	return err;
}
