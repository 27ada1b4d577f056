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
#include <pthread.h>
#include <stdarg.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "base/addr.h"
#include "base/id.h"
#include "base/log.h"
#include "base/pool.h"
#include "base/throttle.h"
#include "base/time.h"
#include "sip/build.h"
#include "sip/digest.h"
#include "sip/msg.h"
#include "sip/tsx.h"
#include "sip/txn.h"

#ifndef SIPWARD_VERSION
#define SIPWARD_VERSION "0"
#endif

#define RESP_MAX 8192
#define TXN_SLOTS 8192
#define NC_SETS 16384 /* x 8 nonces, 40 bytes each: 5 MiB */
#define SWEEP_BATCH 1000

#define THROTTLE_KEY_MAX 65 /* SHA-256 hex of "ip|username" */

/* The sweep of expired bindings, on a worker, one at a time. */
struct sweep_job {
	struct base_pool_job job;
	struct registrar *r;
};

struct registrar {
	struct svc *svc;
	struct registrar_opts o;
	unsigned char secret[64];
	struct sip_txn_table *txns;
	pthread_mutex_t nc_mu;
	struct sip_nc_cache *ncs;	   /* under nc_mu */
	struct base_throttle *user_fails;  /* per "ip|username" */
	struct base_throttle *addr_fails;  /* per ip */
	struct base_throttle *challenges;  /* 401s per ip and second */
	char dummy_ha1[2][MODEL_HASH_MAX]; /* for unknown users */
	struct base_pool *pool;
	atomic_uint port;
	int64_t last_sweep_s; /* transport thread */
	atomic_bool sweeping;
	struct sweep_job sweep;
};

/* A response under construction (sip/build.h writes it). */
struct out {
	struct sip_buf b;
	char buf[RESP_MAX];
};

#define outf(o, ...) sip_buf_printf(&(o)->b, __VA_ARGS__)

/* One request being answered. */
struct req {
	struct registrar *r;
	struct sip_transport *t;
	const struct sip_peer *from; /* where responses go */
	struct sip_msg *m;
	char src_ip[64];
	unsigned src_port;
	char src[80];	     /* "ip:port", "[ip6]:port" */
	int64_t deadline_ms; /* for the store, base_time_mono_ms() units */
};

/* What the checks that need no I/O found in a REGISTER. */
struct prep {
	char realm[MODEL_DOMAIN_MAX], user[MODEL_USERNAME_MAX + 1];
	const struct sip_digest *d;
	enum base_digest_alg alg;
	int nerr; /* the nonce: 0 fresh, ESTALE */
	int64_t issued_ms;
};

/* A REGISTER handed to a worker: a copy of everything it needs. */
struct reg_job {
	struct base_pool_job job;
	struct registrar *r;
	struct sip_transport *t;
	struct sip_peer to;
	char src_ip[64];
	unsigned src_port;
	char src[80];
	int64_t deadline_ms;
	char key[SIP_TXN_KEY_MAX];
	size_t keylen;
	size_t len;
	char msg[]; /* len bytes */
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
	pthread_mutex_init(&r->nc_mu, NULL);
	atomic_init(&r->port, 0);
	atomic_init(&r->sweeping, false);
	r->sweep.r = r;
	err = sip_txn_table_new(&r->txns, TXN_SLOTS);
	if (!err)
		err = sip_nc_cache_new(&r->ncs, NC_SETS);
	if (!err)
		err = base_throttle_new(&r->user_fails, o->fail_max,
					o->fail_window_s, o->fail_penalty_s);
	if (!err)
		err = base_throttle_new(&r->addr_fails, o->fail_addr_max,
					o->fail_window_s, o->fail_penalty_s);
	if (!err)
		err =
		    base_throttle_new(&r->challenges, o->challenge_rate, 1, 1);
	if (!err)
		err = base_pool_start(&r->pool, o->workers ? o->workers : 1,
				      o->queue_max ? o->queue_max : 1,
				      "sip-store");
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

void registrar_stop_workers(struct registrar *r)
{
	if (r)
		base_pool_drain(r->pool);
}

void registrar_set_port(struct registrar *r, unsigned port)
{
	atomic_store(&r->port, port);
}

void registrar_free(struct registrar *r)
{
	if (!r)
		return;
	base_pool_stop(r->pool);
	sip_txn_table_free(r->txns);
	sip_nc_cache_free(r->ncs);
	pthread_mutex_destroy(&r->nc_mu);
	base_throttle_free(r->user_fails);
	base_throttle_free(r->addr_fails);
	base_throttle_free(r->challenges);
	base_wipe(r->secret, sizeof(r->secret));
	free(r);
}

/* ---- responses ---- */

/*
 * Starts a response: status line and the headers copied from the request
 * (sip_build_response_start), with a fresh To tag.
 */
static void begin(struct out *o, const struct req *q, unsigned code,
		  const char *reason)
{
	char tag[SIP_TAG_LEN + 1];

	sip_buf_init(&o->b, o->buf, sizeof(o->buf));
	sip_build_response_start(&o->b, q->m, q->src_ip, q->src_port, code,
				 reason,
				 sip_build_tag(tag, sizeof(tag)) ? NULL : tag);
}

/* Ends the response, sends it and remembers it for retransmissions. */
static void finish(struct out *o, struct req *q, const char *key, size_t keylen)
{
	outf(o, "Server: sipward/%s\r\n", SIPWARD_VERSION);
	if (sip_build_end(&o->b, NULL, (struct sip_str){0})) {
		LOG_WARN("sip_response_too_large", "src=%s", q->src);
		return;
	}
	if (keylen)
		sip_txn_store(q->r->txns, key, keylen, o->buf, o->b.len,
			      base_time_mono_s());
	sip_transport_send(q->t, q->from, o->buf, o->b.len);
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

/*
 * The throttle key of (address, user) into key (THROTTLE_KEY_MAX bytes):
 * hashed, since base/throttle keys hold 63 bytes, fewer than an IPv6
 * address and a 64-byte username; 40 hex digits (160 bits) of SHA-256.
 */
static void user_key(const struct req *q, const char *user, char *key)
{
	char text[200];
	int n = snprintf(text, sizeof(text), "%s|%s", q->src_ip, user);

	if (n < 0 || base_digest_hex(BASE_DIGEST_SHA256, text, (size_t)n, key,
				     THROTTLE_KEY_MAX))
		snprintf(key, THROTTLE_KEY_MAX, "%s", q->src_ip);
	key[40] = '\0';
}

/*
 * Logs a failed check on one stable line. counted: the request presented a
 * nonce issued to this address for this realm, so the failure counts
 * against (address, user) and the address; a failure anyone could forge
 * from someone else's address (no such nonce) never counts.
 */
static void log_auth_failed(const struct req *q, struct sip_str user,
			    const char *reason, bool counted)
{
	char u[160], name[128], key[THROTTLE_KEY_MAX];
	int64_t now = base_time_mono_s();

	snprintf(name, sizeof(name), "%.*s", (int)(user.n < 120 ? user.n : 120),
		 user.p ? user.p : "");
	if (!counted) {
		/* Anyone can send these from a forged address: not at warn
		 * level, where a flood of them would fill the log. */
		LOG_DEBUG("auth_failed", "user=%s src=%s reason=%s",
			  base_log_quote(name, u, sizeof(u)), q->src, reason);
		return;
	}
	LOG_WARN("auth_failed", "user=%s src=%s reason=%s",
		 base_log_quote(name, u, sizeof(u)), q->src, reason);
	/* name is the To user here: copy_token checked it, and digest
	 * username = To user (else user_mismatch, not counted). */
	user_key(q, name, key);
	base_throttle_fail(q->r->user_fails, key, now);
	base_throttle_fail(q->r->addr_fails, q->src_ip, now);
	if (base_throttle_check(q->r->addr_fails, q->src_ip, now))
		LOG_WARN("sip_source_ignored", "src=%s seconds=%ld", q->src_ip,
			 q->r->o.fail_penalty_s);
	else if (base_throttle_check(q->r->user_fails, key, now))
		LOG_WARN("sip_source_ignored", "src=%s user=%s seconds=%ld",
			 q->src_ip, u, q->r->o.fail_penalty_s);
}

/*
 * Sends 401 with one challenge per configured algorithm, its nonce bound to
 * the source address and the realm; nothing past challenge_rate a second
 * to one address, so that sipward is no reflector for forged sources.
 */
static void challenge(struct req *q, const char *key, size_t keylen,
		      const char *realm, bool stale)
{
	struct sip_nonce_bind b = {q->src_ip, realm};
	char nonce[SIP_NONCE_LEN + 1];
	int64_t now = base_time_mono_s();
	struct out *o;

	if (base_throttle_check(q->r->challenges, q->src_ip, now)) {
		LOG_DEBUG("sip_challenge_limited", "src=%s", q->src);
		return;
	}
	base_throttle_fail(q->r->challenges, q->src_ip, now);
	if (sip_nonce_make(q->r->secret, q->r->o.secret_len, &b,
			   base_time_now_ms(), nonce, sizeof(nonce)))
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

/* 503 with Retry-After: the store could not answer in time. */
static void reply_unavailable(struct req *q, const char *key, size_t keylen)
{
	char extra[48];

	snprintf(extra, sizeof(extra), "Retry-After: %ld\r\n",
		 q->r->o.retry_after_s);
	LOG_DEBUG("sip_unavailable", "src=%s", q->src);
	reply(q, key, keylen, 503, "Service Unavailable", extra);
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
 * Whether a digest uri that differs from the Request-URI is still ours, as
 * Kamailio and Asterisk accept it: a well-formed SIP URI whose host is the
 * realm or an address we listen on, with no port or the port we listen on.
 */
static bool uri_is_ours(struct registrar *r, struct sip_str text,
			const char *realm)
{
	struct sip_uri u;
	unsigned port = atomic_load(&r->port);

	if (sip_uri_parse(text, &u) ||
	    !(sip_str_ieq(u.scheme, "sip") || sip_str_ieq(u.scheme, "sips")))
		return false;
	if (u.port && u.port != port)
		return false;
	if (!u.port && port != 5060 && !sip_str_ieq(u.host, realm))
		return false;
	if (sip_str_ieq(u.host, realm))
		return true;
	for (unsigned i = 0; i < r->o.nlisten; i++)
		if (sip_str_ieq(u.host, r->o.listen_hosts[i]))
			return true;
	return false;
}

/*
 * The digest checks that need no I/O: algorithm, parameters, uri and the
 * nonce's signature. False (after logging) when d fails one of them.
 */
static bool check_digest(struct req *q, struct prep *p)
{
	struct registrar *r = q->r;
	const struct sip_digest *d = p->d;
	struct sip_nonce_bind b = {q->src_ip, p->realm};

	if (sip_digest_alg_parse(d->algorithm, &p->alg) ||
	    !offered(r, p->alg)) {
		log_auth_failed(q, d->username, "bad_algorithm", false);
		return false;
	}
	/* qop=auth is required: without nc, a response could be replayed. */
	if (!d->nonce.p || !d->response.p || !d->uri.p || d->userhash ||
	    !d->qop.p || !sip_str_ieq(d->qop, "auth") || !d->nc.p ||
	    !d->cnonce.p || d->cnonce.n == 0) {
		log_auth_failed(q, d->username, "bad_parameters", false);
		return false;
	}
	if ((d->uri.n != q->m->ruri_raw.n ||
	     memcmp(d->uri.p, q->m->ruri_raw.p, d->uri.n) != 0) &&
	    !uri_is_ours(r, d->uri, p->realm)) {
		log_auth_failed(q, d->username, "uri_mismatch", false);
		return false;
	}
	p->nerr = sip_nonce_check(r->secret, r->o.secret_len, &b, d->nonce,
				  base_time_now_ms(), r->o.nonce_ttl_s * 1000,
				  &p->issued_ms);
	if (p->nerr == EINVAL) {
		log_auth_failed(q, d->username, "bad_nonce", false);
		return false;
	}
	return true;
}

/*
 * Verifies the credentials against the store (on a worker). Returns V_OK
 * (and the endpoint in *cred), V_STALE (right digest, old nonce), V_FAIL or
 * V_ERROR (storage; its errno in *err).
 */
static enum verdict verify(struct req *q, const struct prep *p,
			   struct svc_sip_cred *cred, int *err)
{
	struct registrar *r = q->r;
	const struct sip_digest *d = p->d;
	char expected[SIP_DIGEST_HEX_MAX];
	const char *ha1;
	bool known;
	int e;

	e = svc_sip_credentials(r->svc, p->user, p->realm, cred);
	if (e && e != ENOENT) {
		*err = e;
		return V_ERROR;
	}
	known = !e;
	ha1 = p->alg == BASE_DIGEST_MD5
		  ? (known ? cred->ha1_md5 : r->dummy_ha1[0])
		  : (known ? cred->ha1_sha256 : r->dummy_ha1[1]);
	e = sip_digest_expected(p->alg, ha1, q->m->method, d, expected,
				sizeof(expected));
	if (e) {
		*err = e;
		return V_ERROR;
	}
	if (d->response.n != strlen(expected) ||
	    !base_secure_eq(d->response.p, expected, d->response.n) || !known) {
		log_auth_failed(q, d->username,
				known ? "bad_response" : "unknown_user", true);
		return V_FAIL;
	}
	if (p->nerr == ESTALE)
		return V_STALE;
	pthread_mutex_lock(&r->nc_mu);
	e = sip_nc_cache_use(r->ncs, d->nonce, p->issued_ms, d->nc);
	pthread_mutex_unlock(&r->nc_mu);
	switch (e) {
	case 0:
		return V_OK;
	case ESTALE:
		return V_STALE; /* forgotten under load: a fresh nonce */
	default:
		log_auth_failed(q, d->username, "nonce_count_replay", true);
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

/*
 * Answers a failed svc call; anything unlisted (storage: ETIMEDOUT past the
 * deadline, EBUSY, EIO) is 503 with Retry-After.
 */
static void reply_errno(struct req *q, const char *key, size_t keylen, int err)
{
	for (size_t i = 0; i < sizeof(errno_map) / sizeof(errno_map[0]); i++) {
		if (errno_map[i].err == err) {
			reply(q, key, keylen, errno_map[i].code,
			      errno_map[i].reason, NULL);
			return;
		}
	}
	LOG_WARN("sip_store_unavailable", "src=%s error=\"%s\"", q->src,
		 strerror(err));
	reply_unavailable(q, key, keylen);
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
		/* A connection that carries a live binding is kept. */
		for (unsigned i = 0; q->from->proto == SIP_TCP && i < w->bs.n;
		     i++) {
			if (strcmp(w->bs.b[i].received, q->src) == 0 &&
			    strcmp(w->bs.b[i].transport, "TCP") == 0) {
				sip_transport_conn_mark(q->t, q->from->conn);
				break;
			}
		}
		begin(&w->o, q, 200, "OK");
		contacts_out(&w->o, &w->bs);
		finish(&w->o, q, key, keylen);
	} else if (err == EACCES) {
		log_auth_failed(q, (struct sip_str){user, strlen(user)},
				"password_changed", true);
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

/*
 * Everything about a REGISTER that needs no I/O. Answers (or, for a user
 * in a penalty, stays silent) and returns false, or returns true with p
 * filled when the request needs the store.
 */
static bool prepare(struct req *q, const char *key, size_t keylen,
		    struct prep *p)
{
	const struct sip_msg *m = q->m;
	char tkey[THROTTLE_KEY_MAX];

	p->d = NULL;
	if (m->require.p) {
		char extra[300];
		snprintf(extra, sizeof(extra), "Unsupported: %.*s\r\n",
			 (int)(m->require.n < 200 ? m->require.n : 200),
			 m->require.p);
		for (char *c = extra; *c; c++)
			if ((unsigned char)*c < 0x20 && *c != '\r' &&
			    *c != '\n')
				*c = ' ';
		reply(q, key, keylen, 420, "Bad Extension", extra);
		return false;
	}
	if (!realm_of(m->to.uri.host, p->realm, sizeof(p->realm)) ||
	    !copy_token(m->to.uri.user, p->user, sizeof(p->user))) {
		reply(q, key, keylen, 400, "Bad To URI", NULL);
		return false;
	}
	/* Silence for this user from an address with too many failures. */
	user_key(q, p->user, tkey);
	if (base_throttle_check(q->r->user_fails, tkey, base_time_mono_s()))
		return false;
	for (unsigned i = 0; i < m->nauth && !p->d; i++)
		if (m->auth[i].realm.p &&
		    sip_str_ieq(m->auth[i].realm, p->realm))
			p->d = &m->auth[i];
	if (!p->d) {
		challenge(q, key, keylen, p->realm, false);
		return false;
	}
	if (!p->d->username.p) {
		log_auth_failed(q, p->d->username, "bad_parameters", false);
		challenge(q, key, keylen, p->realm, false);
		return false;
	}
	if (!sip_str_eq(p->d->username, p->user)) {
		log_auth_failed(q, p->d->username, "user_mismatch", false);
		reply(q, key, keylen, 403, "Forbidden", NULL);
		return false;
	}
	if (!check_digest(q, p)) {
		challenge(q, key, keylen, p->realm, false);
		return false;
	}
	return true;
}

/* The store half of a REGISTER, on a worker within q->deadline_ms. */
static void register_store(struct req *q, const char *key, size_t keylen,
			   const struct prep *p)
{
	struct svc_sip_cred cred;
	int err = 0;

	switch (verify(q, p, &cred, &err)) {
	case V_OK:
		do_bindings(q, key, keylen, p->user, p->realm, &cred);
		break;
	case V_STALE:
		challenge(q, key, keylen, p->realm, true);
		break;
	case V_FAIL:
		challenge(q, key, keylen, p->realm, false);
		break;
	case V_ERROR:
		reply_errno(q, key, keylen, err);
		break;
	}
	base_wipe(&cred, sizeof(cred));
}

/* Fills the source fields of q from the address a request came from. */
static void source_of(struct req *q, const struct sip_peer *from)
{
	base_addr_ip((const struct sockaddr *)&from->addr, q->src_ip,
		     sizeof(q->src_ip));
	q->src_port =
	    ntohs(from->addr.ss_family == AF_INET6
		      ? ((const struct sockaddr_in6 *)&from->addr)->sin6_port
		      : ((const struct sockaddr_in *)&from->addr)->sin_port);
	snprintf(q->src, sizeof(q->src),
		 from->addr.ss_family == AF_INET6 ? "[%s]:%u" : "%s:%u",
		 q->src_ip, q->src_port);
}

/* A worker: the REGISTER again from its copy, then the store work. */
static void register_job(struct base_pool_job *job)
{
	struct reg_job *j = (struct reg_job *)job;
	struct sip_msg *m = malloc(sizeof(*m));
	struct req q = {.r = j->r,
			.t = j->t,
			.from = &j->to,
			.m = m,
			.src_port = j->src_port,
			.deadline_ms = j->deadline_ms};
	struct prep p;

	memcpy(q.src_ip, j->src_ip, sizeof(q.src_ip));
	memcpy(q.src, j->src, sizeof(q.src));
	if (!m || sip_msg_parse(m, j->msg, j->len)) {
		/* Parsed once already: only memory can fail here. */
		if (m)
			LOG_ERROR("sip_job_reparse", "src=%s", q.src);
		goto out;
	}
	if (base_time_mono_ms() >= j->deadline_ms) {
		/* Waited in the queue past its deadline: no store work. */
		LOG_WARN("sip_store_unavailable", "src=%s error=\"%s\"", q.src,
			 "queued past store_timeout");
		reply_unavailable(&q, j->key, j->keylen);
		goto out;
	}
	base_deadline_set(j->deadline_ms);
	if (prepare(&q, j->key, j->keylen, &p))
		register_store(&q, j->key, j->keylen, &p);
	base_deadline_set(0);
out:
	free(m);
	free(j);
}

/*
 * Hands a REGISTER that needs the store to a worker, marking its
 * transaction in progress so that retransmissions are absorbed meanwhile;
 * a full queue is answered 503 at once.
 */
static void register_submit(struct req *q, const char *key, size_t keylen,
			    const char *msg, size_t len)
{
	struct reg_job *j = malloc(sizeof(*j) + len);

	if (!j) {
		reply_unavailable(q, key, keylen);
		return;
	}
	j->r = q->r;
	j->t = q->t;
	j->to = *q->from;
	memcpy(j->src_ip, q->src_ip, sizeof(j->src_ip));
	j->src_port = q->src_port;
	memcpy(j->src, q->src, sizeof(j->src));
	j->deadline_ms = q->deadline_ms;
	memcpy(j->key, key, keylen);
	j->keylen = keylen;
	j->len = len;
	memcpy(j->msg, msg, len);
	if (keylen)
		sip_txn_begin(q->r->txns, key, keylen, base_time_mono_s());
	if (base_pool_submit(q->r->pool, &j->job, register_job)) {
		free(j);
		LOG_WARN("sip_store_unavailable", "src=%s error=\"%s\"", q->src,
			 "worker queue full");
		reply_unavailable(q, key, keylen);
	}
}

void registrar_on_message(void *ctx, struct sip_transport *t,
			  const struct sip_peer *from, char *msg, size_t len)
{
	struct registrar *r = ctx;
	int64_t arrival_ms = base_time_mono_ms();
	struct sip_msg *m = malloc(sizeof(*m)); /* sip_msg_parse clears it */
	/* The bytes as received: the parser may write into msg. */
	char *copy = malloc(len);
	struct req q = {.r = r, .t = t, .from = from, .m = m};
	struct sip_peer dst;
	struct prep p;
	char key[SIP_TXN_KEY_MAX];
	char *cached = NULL;
	size_t keylen = 0, clen;
	int err;

	if (!m || !copy)
		goto out;
	memcpy(copy, msg, len);
	source_of(&q, from);
	q.deadline_ms = arrival_ms + r->o.store_timeout_ms;
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
	sip_tsx_reply_peer(&dst, from, m);
	q.from = &dst;
	keylen = sip_txn_key(m, key, sizeof(key));
	if (keylen) {
		cached = malloc(RESP_MAX);
		if (!cached)
			goto out;
		err = sip_txn_find(r->txns, key, keylen, base_time_mono_s(),
				   cached, RESP_MAX, &clen);
		if (err == 0)
			sip_transport_send(t, &dst, cached, clen);
		if (err != ENOENT)
			goto out; /* answered again, or still in progress */
	}
	if (sip_str_eq(m->method, "REGISTER")) {
		/* Silence for an address with too many failed checks. */
		if (!base_throttle_check(r->addr_fails, q.src_ip,
					 base_time_mono_s()) &&
		    prepare(&q, key, keylen, &p))
			register_submit(&q, key, keylen, copy, len);
	} else if (sip_str_eq(m->method, "OPTIONS"))
		reply(&q, key, keylen, 200, "OK",
		      "Allow: REGISTER, OPTIONS\r\n");
	else
		reply(&q, key, keylen, 405, "Method Not Allowed",
		      "Allow: REGISTER, OPTIONS\r\n");
out:
	free(cached);
	free(copy);
	free(m);
}

/* A worker: one sweep of expired bindings, logged whatever its outcome. */
static void sweep_job(struct base_pool_job *job)
{
	struct sweep_job *sj = (struct sweep_job *)job;
	struct registrar *r = sj->r;
	int64_t n = 0;
	int err;

	base_deadline_set(base_time_mono_ms() + r->o.store_timeout_ms);
	err = svc_bindings_sweep(r->svc, SWEEP_BATCH, &n);
	base_deadline_set(0);
	if (err)
		LOG_WARN("sip_bindings_sweep_failed", "error=\"%s\"",
			 strerror(err));
	else if (n > 0)
		LOG_INFO("sip_bindings_swept", "count=%lld", (long long)n);
	else
		LOG_DEBUG("sip_bindings_swept", "count=0");
	atomic_store(&r->sweeping, false);
}

void registrar_on_tick(void *ctx)
{
	struct registrar *r = ctx;
	int64_t now = base_time_mono_s();

	if (now - r->last_sweep_s < r->o.sweep_interval_s)
		return;
	r->last_sweep_s = now;
	/* At most one sweep at a time, and never on the transport thread. */
	if (atomic_exchange(&r->sweeping, true))
		return;
	if (base_pool_submit(r->pool, &r->sweep.job, sweep_job)) {
		atomic_store(&r->sweeping, false);
		LOG_WARN("sip_bindings_sweep_failed",
			 "error=\"worker queue full\"");
	}
}
