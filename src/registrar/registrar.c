/*
 * registrar.c - one SIP request in, one response out. REGISTER: challenge
 * (401 with a signed nonce per configured algorithm), verify the digest
 * against the stored HA1, apply the bindings through svc, answer 200 with
 * every live contact. Failures are logged on one stable line, without
 * secrets: auth_failed user=.. src=.. reason=..
 */
#include "registrar/registrar.h"

#include <ctype.h>
#include <netinet/in.h>
#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "base/addr.h"
#include "base/id.h"
#include "base/log.h"
#include "base/throttle.h"
#include "base/time.h"
#include "sip/digest.h"
#include "sip/msg.h"
#include "sip/txn.h"

#ifndef SIPWARD_VERSION
#define SIPWARD_VERSION "0"
#endif

#define RESP_MAX 8192
#define TXN_SLOTS 8192
#define NC_SETS 16384 /* x 8 nonces, 40 bytes each: 5 MiB */
#define SWEEP_BATCH 1000

struct registrar {
	struct svc *svc;
	struct registrar_opts o;
	unsigned char secret[64];
	struct sip_txn_table *txns;
	struct sip_nc_cache *ncs;
	struct base_throttle *fails; /* failed digest checks per address */
	char dummy_ha1[2][MODEL_HASH_MAX]; /* for unknown users */
	int64_t last_sweep_s;
};

/* A response under construction. */
struct out {
	char buf[RESP_MAX];
	size_t len;
	bool overflow;
};

__attribute__((format(printf, 2, 3))) static void outf(struct out *o,
						       const char *fmt, ...)
{
	va_list ap;
	int n;

	if (o->overflow)
		return;
	va_start(ap, fmt);
	n = vsnprintf(o->buf + o->len, sizeof(o->buf) - o->len, fmt, ap);
	va_end(ap);
	if (n < 0 || (size_t)n >= sizeof(o->buf) - o->len)
		o->overflow = true;
	else
		o->len += (size_t)n;
}

static void outs(struct out *o, struct sip_str s)
{
	if (o->overflow || s.n >= sizeof(o->buf) - o->len) {
		o->overflow = true;
		return;
	}
	memcpy(o->buf + o->len, s.p, s.n);
	o->len += s.n;
}

/* One request being answered. */
struct req {
	struct registrar *r;
	struct sip_transport *t;
	const struct sip_peer *from;
	struct sip_msg *m;
	char src_ip[64];
	unsigned src_port;
	char src[80]; /* "ip:port", "[ip6]:port" */
};

int registrar_algs_parse(const char *text, enum base_digest_alg *algs,
			 unsigned *n)
{
	char buf[64];
	char *save = NULL, *tok;

	if (strlen(text) >= sizeof(buf))
		return EINVAL;
	memcpy(buf, text, strlen(text) + 1);
	*n = 0;
	for (tok = strtok_r(buf, ", ", &save); tok;
	     tok = strtok_r(NULL, ", ", &save)) {
		enum base_digest_alg a;
		if (*n >= 2 ||
		    sip_digest_alg_parse((struct sip_str){tok, strlen(tok)},
					 &a) ||
		    (*n == 1 && algs[0] == a))
			return EINVAL;
		algs[(*n)++] = a;
	}
	return *n ? 0 : EINVAL;
}

int registrar_new(struct registrar **out, struct svc *svc,
		  const struct registrar_opts *o)
{
	struct registrar *r = calloc(1, sizeof(*r));
	unsigned char rnd[32];
	int err;

	if (!r)
		return ENOMEM;
	if (o->secret_len == 0 || o->secret_len > sizeof(r->secret) ||
	    o->nalgs == 0 || o->nalgs > 2) {
		free(r);
		return EINVAL;
	}
	r->svc = svc;
	r->o = *o;
	memcpy(r->secret, o->secret, o->secret_len);
	r->o.secret = r->secret;
	err = sip_txn_table_new(&r->txns, TXN_SLOTS);
	if (!err)
		err = sip_nc_cache_new(&r->ncs, NC_SETS);
	if (!err)
		err = base_throttle_new(&r->fails, o->fail_max,
					o->fail_window_s, o->fail_penalty_s);
	if (!err)
		err = base_rand_fill(rnd, sizeof(rnd));
	if (!err)
		err = base_digest_hex(BASE_DIGEST_MD5, rnd, sizeof(rnd),
				      r->dummy_ha1[0], sizeof(r->dummy_ha1[0]));
	if (!err)
		err = base_digest_hex(BASE_DIGEST_SHA256, rnd, sizeof(rnd),
				      r->dummy_ha1[1], sizeof(r->dummy_ha1[1]));
	if (err) {
		registrar_free(r);
		return err;
	}
	r->last_sweep_s = base_time_mono_s();
	*out = r;
	return 0;
}

void registrar_free(struct registrar *r)
{
	if (!r)
		return;
	sip_txn_table_free(r->txns);
	sip_nc_cache_free(r->ncs);
	base_throttle_free(r->fails);
	base_wipe(r->secret, sizeof(r->secret));
	free(r);
}

/* ---- responses ---- */

/* Writes the top Via with received= and rport= (RFC 3261 18.2.1, 3581). */
static void top_via(struct out *o, const struct req *q)
{
	const struct sip_via *v = &q->m->via[0];
	const char *p = v->raw.p, *end = v->raw.p + v->raw.n;
	bool first = true;

	outf(o, "Via: ");
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
				outf(o, ";");
			outs(o, (struct sip_str){p, (size_t)(e - p)});
		}
		first = false;
		p = semi ? semi + 1 : end;
	}
	outf(o, ";received=%s", q->src_ip);
	if (v->rport)
		outf(o, ";rport=%u", q->src_port);
	outf(o, "\r\n");
}

/* Starts a response: status line and the headers copied from the request. */
static void begin(struct out *o, const struct req *q, unsigned code,
		  const char *reason)
{
	const struct sip_msg *m = q->m;
	char tag[17];
	unsigned char rnd[8];

	o->len = 0;
	o->overflow = false;
	outf(o, "SIP/2.0 %u %s\r\n", code, reason);
	top_via(o, q);
	for (unsigned i = 1; i < m->nvia; i++) {
		outf(o, "Via: ");
		outs(o, m->via[i].raw);
		outf(o, "\r\n");
	}
	outf(o, "From: ");
	outs(o, m->from.raw);
	outf(o, "\r\nTo: ");
	outs(o, m->to.raw);
	if (!m->to.tag.p && code > 100) {
		if (base_rand_fill(rnd, sizeof(rnd)) == 0) {
			for (int i = 0; i < 8; i++)
				snprintf(tag + 2 * i, 3, "%02x", rnd[i]);
			outf(o, ";tag=%s", tag);
		}
	}
	outf(o, "\r\nCall-ID: ");
	outs(o, m->call_id);
	outf(o, "\r\nCSeq: %u ", m->cseq);
	outs(o, m->cseq_method);
	outf(o, "\r\n");
}

/* Ends the response, sends it and remembers it for retransmissions. */
static void finish(struct out *o, struct req *q, const char *key, size_t keylen)
{
	outf(o, "Server: sipward/%s\r\nContent-Length: 0\r\n\r\n",
	     SIPWARD_VERSION);
	if (o->overflow) {
		LOG_WARN("sip_response_too_large", "src=%s", q->src);
		return;
	}
	if (keylen)
		sip_txn_store(q->r->txns, key, keylen, o->buf, o->len,
			      base_time_mono_s());
	sip_transport_send(q->t, q->from, o->buf, o->len);
}

/* Answers with a status and no extra headers (extra may be NULL). */
static void reply(struct req *q, const char *key, size_t keylen, unsigned code,
		  const char *reason, const char *extra)
{
	struct out *o = malloc(sizeof(*o));

	if (!o)
		return;
	begin(o, q, code, reason);
	if (extra)
		outf(o, "%s", extra);
	finish(o, q, key, keylen);
	free(o);
}

/* ---- digest ---- */

static void log_auth_failed(const struct req *q, struct sip_str user,
			    const char *reason)
{
	char u[160], name[128];

	snprintf(name, sizeof(name), "%.*s", (int)(user.n < 120 ? user.n : 120),
		 user.p ? user.p : "");
	LOG_WARN("auth_failed", "user=%s src=%s reason=%s",
		 base_log_quote(name, u, sizeof(u)), q->src, reason);
	/* Password guessing: too many failures and the address is ignored. */
	base_throttle_fail(q->r->fails, q->src_ip, base_time_mono_s());
	if (base_throttle_check(q->r->fails, q->src_ip, base_time_mono_s()))
		LOG_WARN("sip_source_ignored", "src=%s seconds=%ld", q->src_ip,
			 q->r->o.fail_penalty_s);
}

/* Sends 401 with one challenge per configured algorithm. */
static void challenge(struct req *q, const char *key, size_t keylen,
		      const char *realm, bool stale)
{
	char nonce[SIP_NONCE_LEN + 1];
	struct out *o;

	if (sip_nonce_make(q->r->secret, q->r->o.secret_len, base_time_now_ms(),
			   nonce, sizeof(nonce)))
		return;
	o = malloc(sizeof(*o));
	if (!o)
		return;
	begin(o, q, 401, "Unauthorized");
	for (unsigned i = 0; i < q->r->o.nalgs; i++)
		outf(o,
		     "WWW-Authenticate: Digest realm=\"%s\", nonce=\"%s\", "
		     "algorithm=%s, qop=\"auth\"%s\r\n",
		     realm, nonce, sip_digest_alg_name(q->r->o.algs[i]),
		     stale ? ", stale=true" : "");
	finish(o, q, key, keylen);
	free(o);
}

enum verdict { V_OK, V_FAIL, V_STALE, V_ERROR };

/* Whether alg is one of the challenges this registrar offers. */
static bool offered(const struct registrar *r, enum base_digest_alg alg)
{
	for (unsigned i = 0; i < r->o.nalgs; i++)
		if (r->o.algs[i] == alg)
			return true;
	return false;
}

/*
 * Verifies the credentials d for user@realm. Returns V_OK (and the
 * endpoint in *cred), V_STALE (right digest, old nonce), V_FAIL or
 * V_ERROR (storage).
 */
static enum verdict verify(struct req *q, const struct sip_digest *d,
			   const char *user, const char *realm,
			   struct svc_sip_cred *cred)
{
	struct registrar *r = q->r;
	enum base_digest_alg alg;
	char expected[SIP_DIGEST_HEX_MAX];
	const char *ha1;
	int64_t issued;
	int nerr, err;
	bool known;

	if (sip_digest_alg_parse(d->algorithm, &alg) || !offered(r, alg)) {
		log_auth_failed(q, d->username, "bad_algorithm");
		return V_FAIL;
	}
	/* qop=auth is required: without nc, a response could be replayed. */
	if (!d->nonce.p || !d->response.p || !d->uri.p || d->userhash ||
	    !d->qop.p || !sip_str_ieq(d->qop, "auth") || !d->nc.p ||
	    !d->cnonce.p) {
		log_auth_failed(q, d->username, "bad_parameters");
		return V_FAIL;
	}
	if (d->uri.n != q->m->ruri_raw.n ||
	    memcmp(d->uri.p, q->m->ruri_raw.p, d->uri.n) != 0) {
		log_auth_failed(q, d->username, "uri_mismatch");
		return V_FAIL;
	}
	nerr = sip_nonce_check(r->secret, r->o.secret_len, d->nonce,
			       base_time_now_ms(), r->o.nonce_ttl_s * 1000,
			       &issued);
	if (nerr == EINVAL) {
		log_auth_failed(q, d->username, "bad_nonce");
		return V_FAIL;
	}
	err = svc_sip_credentials(r->svc, user, realm, cred);
	if (err && err != ENOENT)
		return V_ERROR;
	known = !err;
	ha1 = alg == BASE_DIGEST_MD5
		  ? (known ? cred->ha1_md5 : r->dummy_ha1[0])
		  : (known ? cred->ha1_sha256 : r->dummy_ha1[1]);
	err = sip_digest_expected(alg, ha1, q->m->method, d, expected,
				  sizeof(expected));
	if (err)
		return V_ERROR;
	if (d->response.n != strlen(expected) ||
	    !base_secure_eq(d->response.p, expected, d->response.n) || !known) {
		log_auth_failed(q, d->username,
				known ? "bad_response" : "unknown_user");
		return V_FAIL;
	}
	if (nerr == ESTALE)
		return V_STALE;
	switch (sip_nc_cache_use(r->ncs, d->nonce, issued, d->nc)) {
	case 0:
		return V_OK;
	case ESTALE:
		return V_STALE; /* forgotten under load: a fresh nonce */
	default:
		log_auth_failed(q, d->username, "nonce_count_replay");
		return V_FAIL;
	}
}

/* ---- REGISTER ---- */

/* Copies an ASCII token without spaces or controls; false otherwise. */
static bool copy_token(struct sip_str s, char *out, size_t cap)
{
	if (!s.p || s.n == 0 || s.n >= cap)
		return false;
	for (size_t i = 0; i < s.n; i++)
		if ((unsigned char)s.p[i] <= 0x20 ||
		    (unsigned char)s.p[i] >= 0x7f)
			return false;
	memcpy(out, s.p, s.n);
	out[s.n] = '\0';
	return true;
}

/* Copies printable ASCII, replacing anything else with '?'. */
static void copy_printable(struct sip_str s, char *out, size_t cap)
{
	size_t n = s.p ? (s.n < cap - 1 ? s.n : cap - 1) : 0;

	for (size_t i = 0; i < n; i++) {
		unsigned char c = (unsigned char)s.p[i];
		out[i] = c >= 0x20 && c < 0x7f ? (char)c : '?';
	}
	out[n] = '\0';
}

/* The one table from a binding error (errno) to the SIP answer. */
static const struct {
	int err;
	unsigned code;
	const char *reason;
} errno_map[] = {
    {EINVAL, 400, "Invalid Contact or Expires"},
    {EALREADY, 400, "CSeq Out Of Order"},
    {E2BIG, 403, "Too Many Contacts"},
    {ENOENT, 404, "Not Found"},
};

/* Answers a failed svc call; anything unlisted (storage) is 503. */
static void reply_errno(struct req *q, const char *key, size_t keylen, int err)
{
	for (size_t i = 0; i < sizeof(errno_map) / sizeof(errno_map[0]); i++) {
		if (errno_map[i].err == err) {
			reply(q, key, keylen, errno_map[i].code,
			      errno_map[i].reason, NULL);
			return;
		}
	}
	reply(q, key, keylen, 503, "Service Unavailable", "Retry-After: 5\r\n");
}

/* The Contact values of the 200 OK: every live binding, its time left. */
static void contacts_out(struct out *o, const struct svc_bindings *bs)
{
	int64_t now = base_time_now_ms();

	for (unsigned i = 0; i < bs->n; i++) {
		int64_t left = (bs->b[i].expires_ms - now + 999) / 1000;
		outf(o, "Contact: <%s>;expires=%lld", bs->b[i].contact,
		     (long long)(left > 0 ? left : 0));
		if (bs->b[i].q[0])
			outf(o, ";q=%s", bs->b[i].q);
		outf(o, "\r\n");
	}
}

struct reg_work {
	struct model_reg_contact contacts[SIP_CONTACT_MAX];
	char uris[SIP_CONTACT_MAX][MODEL_CONTACT_URI_MAX + 1];
	char qs[SIP_CONTACT_MAX][MODEL_Q_MAX];
	char call_id[MODEL_CALL_ID_MAX + 1];
	char ua[MODEL_UA_MAX + 1];
	struct svc_bindings bs;
	struct out o;
};

static void do_bindings(struct req *q, const char *key, size_t keylen,
			const char *user, const char *realm,
			const struct svc_sip_cred *cred)
{
	const struct sip_msg *m = q->m;
	struct model_reg_request rq = {0};
	/* Not zeroed (80 KiB): every field used is set below or by svc. */
	struct reg_work *w = malloc(sizeof(*w));
	char extra[64];
	int err;

	if (!w)
		return;
	if (!copy_token(m->call_id, w->call_id, sizeof(w->call_id))) {
		reply(q, key, keylen, 400, "Bad Call-ID", NULL);
		goto out;
	}
	for (unsigned i = 0; i < m->ncontact; i++) {
		const struct sip_contact *c = &m->contact[i];
		if (!copy_token(c->uri_raw, w->uris[i], sizeof(w->uris[i])) ||
		    (c->q.p && !copy_token(c->q, w->qs[i], sizeof(w->qs[i])))) {
			reply(q, key, keylen, 400, "Bad Contact", NULL);
			goto out;
		}
		if (!c->q.p)
			w->qs[i][0] = '\0';
		w->contacts[i].uri = w->uris[i];
		w->contacts[i].q = w->qs[i];
		w->contacts[i].expires =
		    c->has_expires ? (int64_t)c->expires : -1;
	}
	copy_printable(m->user_agent, w->ua, sizeof(w->ua));
	rq.call_id = w->call_id;
	rq.cseq = m->cseq;
	rq.star = m->contact_star;
	rq.expires = m->has_expires ? (int64_t)m->expires : -1;
	rq.contacts = w->contacts;
	rq.ncontacts = m->ncontact;
	rq.user_agent = w->ua;
	rq.received = q->src;
	rq.transport = q->from->proto == SIP_UDP ? "UDP" : "TCP";
	rq.now_ms = base_time_now_ms();
	err = svc_register(q->r->svc, user, realm, cred, &rq, &q->r->o.limits,
			   &w->bs);
	if (err == 0) {
		begin(&w->o, q, 200, "OK");
		contacts_out(&w->o, &w->bs);
		finish(&w->o, q, key, keylen);
	} else if (err == EACCES) {
		log_auth_failed(q, (struct sip_str){user, strlen(user)},
				"password_changed");
		challenge(q, key, keylen, realm, false);
	} else if (err == ERANGE) {
		snprintf(extra, sizeof(extra), "Min-Expires: %u\r\n",
			 q->r->o.limits.min_expires);
		reply(q, key, keylen, 423, "Interval Too Brief", extra);
	} else {
		reply_errno(q, key, keylen, err);
	}
out:
	free(w);
}

/* A realm we can quote: lower-case letters, digits, '-' and '.'. */
static bool realm_of(struct sip_str host, char *out, size_t cap)
{
	if (!host.p || host.n == 0 || host.n >= cap)
		return false;
	for (size_t i = 0; i < host.n; i++) {
		char c = (char)tolower((unsigned char)host.p[i]);
		if (!((c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') ||
		      c == '-' || c == '.'))
			return false;
		out[i] = c;
	}
	out[host.n] = '\0';
	return true;
}

static void on_register(struct req *q, const char *key, size_t keylen)
{
	const struct sip_msg *m = q->m;
	const struct sip_digest *d = NULL;
	char realm[MODEL_DOMAIN_MAX], user[MODEL_USERNAME_MAX + 1];
	struct svc_sip_cred cred;

	if (m->require.p) {
		char extra[300];
		snprintf(extra, sizeof(extra), "Unsupported: %.*s\r\n",
			 (int)(m->require.n < 200 ? m->require.n : 200),
			 m->require.p);
		for (char *p = extra; *p; p++)
			if ((unsigned char)*p < 0x20 && *p != '\r' &&
			    *p != '\n')
				*p = ' ';
		reply(q, key, keylen, 420, "Bad Extension", extra);
		return;
	}
	if (!realm_of(m->to.uri.host, realm, sizeof(realm)) ||
	    !copy_token(m->to.uri.user, user, sizeof(user))) {
		reply(q, key, keylen, 400, "Bad To URI", NULL);
		return;
	}
	for (unsigned i = 0; i < m->nauth && !d; i++)
		if (m->auth[i].realm.p && sip_str_ieq(m->auth[i].realm, realm))
			d = &m->auth[i];
	if (!d) {
		challenge(q, key, keylen, realm, false);
		return;
	}
	if (!d->username.p) {
		log_auth_failed(q, d->username, "bad_parameters");
		challenge(q, key, keylen, realm, false);
		return;
	}
	if (!sip_str_eq(d->username, user)) {
		log_auth_failed(q, d->username, "user_mismatch");
		reply(q, key, keylen, 403, "Forbidden", NULL);
		return;
	}
	switch (verify(q, d, user, realm, &cred)) {
	case V_OK:
		do_bindings(q, key, keylen, user, realm, &cred);
		break;
	case V_STALE:
		challenge(q, key, keylen, realm, true);
		break;
	case V_FAIL:
		challenge(q, key, keylen, realm, false);
		break;
	case V_ERROR:
		reply_errno(q, key, keylen, EIO);
		break;
	}
	base_wipe(&cred, sizeof(cred));
}

/*
 * Where a response goes (RFC 3261 18.2.2, RFC 3581): over TCP the same
 * connection; over UDP the source address, at the source port when the top
 * Via asked for rport, else at its sent-by port (5060 when none).
 */
static void respond_to(struct sip_peer *dst, const struct sip_peer *from,
		       const struct sip_msg *m)
{
	uint16_t port;

	*dst = *from;
	if (from->proto != SIP_UDP || m->via[0].rport)
		return;
	port = htons((uint16_t)(m->via[0].port ? m->via[0].port : 5060));
	if (dst->addr.ss_family == AF_INET6)
		((struct sockaddr_in6 *)&dst->addr)->sin6_port = port;
	else
		((struct sockaddr_in *)&dst->addr)->sin_port = port;
}

void registrar_on_message(void *ctx, struct sip_transport *t,
			  const struct sip_peer *from, char *msg, size_t len)
{
	struct registrar *r = ctx;
	struct sip_msg *m = malloc(sizeof(*m)); /* sip_msg_parse clears it */
	struct req q = {.r = r, .t = t, .from = from, .m = m};
	struct sip_peer dst;
	char key[SIP_TXN_KEY_MAX];
	const char *cached;
	size_t keylen = 0, clen;
	int err;

	if (!m)
		return;
	base_addr_ip((const struct sockaddr *)&from->addr, q.src_ip,
		     sizeof(q.src_ip));
	q.src_port =
	    ntohs(from->addr.ss_family == AF_INET6
		      ? ((const struct sockaddr_in6 *)&from->addr)->sin6_port
		      : ((const struct sockaddr_in *)&from->addr)->sin_port);
	snprintf(q.src, sizeof(q.src),
		 from->addr.ss_family == AF_INET6 ? "[%s]:%u" : "%s:%u",
		 q.src_ip, q.src_port);
	err = sip_msg_parse(m, msg, len);
	if (err) {
		/* Answer 400 only when there is enough to address it. */
		if (m->is_request && m->nvia && m->from.raw.p && m->to.raw.p &&
		    m->call_id.p && m->cseq_method.p &&
		    !sip_str_eq(m->method, "ACK"))
			reply(&q, NULL, 0, 400, "Bad Request", NULL);
		LOG_DEBUG("sip_bad_message", "src=%s error=%d", q.src, err);
		goto out;
	}
	if (!m->is_request || sip_str_eq(m->method, "ACK"))
		goto out;
	respond_to(&dst, from, m);
	q.from = &dst;
	keylen = sip_txn_key(m, key, sizeof(key));
	if (keylen) {
		cached = sip_txn_find(r->txns, key, keylen, base_time_mono_s(),
				      &clen);
		if (cached) {
			sip_transport_send(t, &dst, cached, clen);
			goto out;
		}
	}
	if (sip_str_eq(m->method, "REGISTER")) {
		/* Silence for an address with too many failed checks. */
		if (!base_throttle_check(r->fails, q.src_ip,
					 base_time_mono_s()))
			on_register(&q, key, keylen);
	} else if (sip_str_eq(m->method, "OPTIONS"))
		reply(&q, key, keylen, 200, "OK",
		      "Allow: REGISTER, OPTIONS\r\n");
	else
		reply(&q, key, keylen, 405, "Method Not Allowed",
		      "Allow: REGISTER, OPTIONS\r\n");
out:
	free(m);
}

void registrar_on_tick(void *ctx)
{
	struct registrar *r = ctx;
	int64_t now = base_time_mono_s(), n = 0;

	if (now - r->last_sweep_s < r->o.sweep_interval_s)
		return;
	r->last_sweep_s = now;
	if (svc_bindings_sweep(r->svc, SWEEP_BATCH, &n) == 0 && n > 0)
		LOG_INFO("sip_bindings_swept", "count=%lld", (long long)n);
}
