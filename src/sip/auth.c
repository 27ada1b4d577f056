/*
 * auth.c - digest authentication of SIP requests: challenges with signed
 * nonces, the checks that need no I/O, verification against a stored HA1,
 * replay and failure throttling (see auth.h).
 */
#include "sip/auth.h"

#include <errno.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "base/crypto.h"
#include "base/id.h"
#include "base/log.h"
#include "base/metrics.h"
#include "base/throttle.h"
#include "base/time.h"
#include "sip/digest.h"

#define NC_SETS 16384	    /* x 8 nonces, 40 bytes each: 5 MiB */
#define THROTTLE_KEY_MAX 65 /* SHA-256 hex of "ip|username" */

struct sip_auth {
	struct sip_auth_opts o; /* o.secret points to secret */
	unsigned char secret[SIP_AUTH_SECRET_MAX];
	pthread_mutex_t nc_mu;
	struct sip_nc_cache *ncs; /* under nc_mu */
	/* A challenge's rate check and its count, as one step. */
	pthread_mutex_t ch_mu;
	struct base_throttle *user_fails;      /* per "ip|username" */
	struct base_throttle *addr_fails;      /* per ip */
	struct base_throttle *challenges;      /* per ip and second */
	char dummy_ha1[2][SIP_DIGEST_HEX_MAX]; /* MD5, SHA-256: unknown users */
	atomic_uint port;
};

int sip_auth_new(struct sip_auth **out, const struct sip_auth_opts *o)
{
	struct sip_auth *a = NULL;
	unsigned char rnd[32];
	int err;

	if (o->secret_len == 0 || o->secret_len > SIP_AUTH_SECRET_MAX ||
	    o->nalgs == 0 || o->nalgs > 2 || o->nlisten > SIP_AUTH_LISTEN_MAX)
		return EINVAL;
	a = calloc(1, sizeof(*a));
	if (!a)
		return ENOMEM;
	a->o = *o;
	memcpy(a->secret, o->secret, o->secret_len);
	a->o.secret = a->secret;
	pthread_mutex_init(&a->nc_mu, NULL);
	pthread_mutex_init(&a->ch_mu, NULL);
	atomic_init(&a->port, 0);
	err = sip_nc_cache_new(&a->ncs, NC_SETS);
	if (!err)
		err = base_throttle_new(&a->user_fails, o->fail_max,
					o->fail_window_s, o->fail_penalty_s);
	if (!err)
		err = base_throttle_new(&a->addr_fails, o->fail_addr_max,
					o->fail_window_s, o->fail_penalty_s);
	if (!err)
		err =
		    base_throttle_new(&a->challenges, o->challenge_rate, 1, 1);
	if (!err)
		err = base_rand_fill(rnd, sizeof(rnd));
	if (!err)
		err = base_digest_hex(BASE_DIGEST_MD5, rnd, sizeof(rnd),
				      a->dummy_ha1[0], sizeof(a->dummy_ha1[0]));
	if (!err)
		err = base_digest_hex(BASE_DIGEST_SHA256, rnd, sizeof(rnd),
				      a->dummy_ha1[1], sizeof(a->dummy_ha1[1]));
	base_wipe(rnd, sizeof(rnd));
	if (err) {
		sip_auth_free(a);
		return err;
	}
	*out = a;
	return 0;
}

void sip_auth_free(struct sip_auth *a)
{
	if (!a)
		return;
	sip_nc_cache_free(a->ncs);
	pthread_mutex_destroy(&a->nc_mu);
	pthread_mutex_destroy(&a->ch_mu);
	base_throttle_free(a->user_fails);
	base_throttle_free(a->addr_fails);
	base_throttle_free(a->challenges);
	base_wipe(a->secret, sizeof(a->secret));
	base_wipe(a->dummy_ha1, sizeof(a->dummy_ha1));
	free(a);
}

void sip_auth_set_port(struct sip_auth *a, unsigned port)
{
	atomic_store(&a->port, port);
}

/*
 * The throttle key of (address, user) into key (THROTTLE_KEY_MAX bytes):
 * hashed, since base/throttle keys hold 63 bytes, fewer than an IPv6
 * address and a 64-byte username; 40 hex digits (160 bits) of SHA-256.
 */
static void user_key(const char *src_ip, const char *user, char *key)
{
	char text[200];
	int n = snprintf(text, sizeof(text), "%s|%s", src_ip, user);

	if (n < 0 || base_digest_hex(BASE_DIGEST_SHA256, text, (size_t)n, key,
				     THROTTLE_KEY_MAX))
		snprintf(key, THROTTLE_KEY_MAX, "%s", src_ip);
	key[40] = '\0';
}

/* ---- metrics ---- */

static const char *const FAIL_REASONS[] = {
    "bad_response", "unknown_user",  "nonce_count_replay",
    "bad_nonce",    "bad_algorithm", "bad_parameters",
    "uri_mismatch", "user_mismatch", "other"};
#define NREASONS (sizeof(FAIL_REASONS) / sizeof(FAIL_REASONS[0]))

static _Atomic uint64_t fail_v[NREASONS];
static struct metric_family digest_failures = {
    .name = "sipward_sip_digest_failures_total",
    .help = "Digest credentials that failed the check (REGISTER and "
	    "calls), by reason.",
    .kind = METRIC_COUNTER,
    .label = {"reason"},
    .values = {FAIL_REASONS},
    .nvalues = {NREASONS},
    .v = fail_v};
METRIC_REGISTER(digest_failures)

static const char *const THROTTLE_EVENTS[] = {
    "source_ignored", "request_ignored", "challenge_limited"};
enum { T_SOURCE, T_REQUEST, T_CHALLENGE };

static _Atomic uint64_t thr_v[3];
static struct metric_family throttled = {
    .name = "sipward_sip_throttled_total",
    .help = "Throttling: a source (address, or address and user) ignored "
	    "after too many failures, a request dropped because its source "
	    "is ignored, a challenge not sent (sip_challenge_rate).",
    .kind = METRIC_COUNTER,
    .label = {"event"},
    .values = {THROTTLE_EVENTS},
    .nvalues = {3},
    .v = thr_v};
METRIC_REGISTER(throttled)

static void count_failure(const char *reason)
{
	unsigned i = 0;

	while (i < NREASONS - 1 && strcmp(FAIL_REASONS[i], reason) != 0)
		i++;
	metric_add(&digest_failures, i, 0, 1);
}

/* How a failed check counts against its source (see log_failed). */
enum count {
	NOT_COUNTED, /* anyone could forge it from someone else's address */
	REPLAYED,    /* the right response again: no password guessed */
	COUNTED,     /* with a nonce issued to this address */
};

/*
 * Logs a failed check on one stable line. COUNTED: the request presented a
 * nonce issued to this address for this realm, so the failure counts
 * against (address, user) and the address; a failure anyone could forge
 * from someone else's address (no such nonce) never counts, nor does a
 * replay of a response that was right (a retransmission the transaction
 * cache no longer held, or a captured request: neither guesses a password,
 * and phones behind one NAT address must not be shut out by their own
 * retransmissions under load).
 */
static void log_failed(struct sip_auth *a, const struct sip_auth_req *q,
		       struct sip_str user, const char *reason, enum count c)
{
	char u[160], name[128], key[THROTTLE_KEY_MAX];
	int64_t now = base_time_mono_s();

	count_failure(reason);
	snprintf(name, sizeof(name), "%.*s", (int)(user.n < 120 ? user.n : 120),
		 user.p ? user.p : "");
	/* Those anyone can send from a forged address go at debug level,
	 * where a flood of them would not fill the log. */
	base_log_write(c == NOT_COUNTED ? BASE_LOG_DEBUG
		       : c == REPLAYED	? BASE_LOG_INFO
					: BASE_LOG_WARN,
		       "auth_failed", "user=%s src=%s reason=%s",
		       base_log_quote(name, u, sizeof(u)), q->src, reason);
	if (c != COUNTED)
		return;
	/* name is q->user here: the digest username equals it (else
	 * user_mismatch, not counted). */
	user_key(q->src_ip, name, key);
	base_throttle_fail(a->user_fails, key, now);
	base_throttle_fail(a->addr_fails, q->src_ip, now);
	if (base_throttle_check(a->addr_fails, q->src_ip, now)) {
		metric_add(&throttled, T_SOURCE, 0, 1);
		LOG_WARN("sip_source_ignored", "src=%s seconds=%ld", q->src_ip,
			 a->o.fail_penalty_s);
	} else if (base_throttle_check(a->user_fails, key, now)) {
		metric_add(&throttled, T_SOURCE, 0, 1);
		LOG_WARN("sip_source_ignored", "src=%s user=%s seconds=%ld",
			 q->src_ip, u, a->o.fail_penalty_s);
	}
}

bool sip_auth_ignored(struct sip_auth *a, const char *src_ip, const char *user)
{
	char key[THROTTLE_KEY_MAX];
	bool ignored;

	if (!user) {
		ignored = base_throttle_check(a->addr_fails, src_ip,
					      base_time_mono_s()) != 0;
	} else {
		user_key(src_ip, user, key);
		ignored = base_throttle_check(a->user_fails, key,
					      base_time_mono_s()) != 0;
	}
	if (ignored)
		metric_add(&throttled, T_REQUEST, 0, 1);
	return ignored;
}

/* Whether alg is one of the challenges we offer. */
static bool offered(const struct sip_auth *a, enum base_digest_alg alg)
{
	for (unsigned i = 0; i < a->o.nalgs; i++)
		if (a->o.algs[i] == alg)
			return true;
	return false;
}

/*
 * Whether a digest uri that differs from the Request-URI is still ours, as
 * Kamailio and Asterisk accept it: a well-formed SIP URI whose host is the
 * realm or an address we listen on, with no port or the port we listen on.
 */
static bool uri_is_ours(struct sip_auth *a, struct sip_str text,
			const char *realm)
{
	struct sip_uri u;
	unsigned port = atomic_load(&a->port);

	if (sip_uri_parse(text, &u) ||
	    !(sip_str_ieq(u.scheme, "sip") || sip_str_ieq(u.scheme, "sips")))
		return false;
	if (u.port && u.port != port)
		return false;
	if (!u.port && port != 5060 && !sip_str_ieq(u.host, realm))
		return false;
	if (sip_str_ieq(u.host, realm))
		return true;
	for (unsigned i = 0; i < a->o.nlisten; i++)
		if (sip_str_ieq(u.host, a->o.listen_hosts[i]))
			return true;
	return false;
}

/*
 * The digest checks that need no I/O: algorithm, parameters, uri and the
 * nonce's signature. False (after logging) when q->d fails one of them.
 */
static bool check_digest(struct sip_auth *a, struct sip_auth_req *q)
{
	const struct sip_digest *d = q->d;
	const struct sip_str ruri = q->m->ruri_raw;
	struct sip_nonce_bind b = {q->src_ip, q->realm};

	if (sip_digest_alg_parse(d->algorithm, &q->alg) ||
	    !offered(a, q->alg)) {
		log_failed(a, q, d->username, "bad_algorithm", NOT_COUNTED);
		return false;
	}
	/* qop=auth is required: without nc, a response could be replayed. */
	if (!d->nonce.p || !d->response.p || !d->uri.p || d->userhash ||
	    !d->qop.p || !sip_str_ieq(d->qop, "auth") || !d->nc.p ||
	    !d->cnonce.p || d->cnonce.n == 0) {
		log_failed(a, q, d->username, "bad_parameters", NOT_COUNTED);
		return false;
	}
	if ((d->uri.n != ruri.n || memcmp(d->uri.p, ruri.p, d->uri.n) != 0) &&
	    !uri_is_ours(a, d->uri, q->realm)) {
		log_failed(a, q, d->username, "uri_mismatch", NOT_COUNTED);
		return false;
	}
	q->nerr = sip_nonce_check(a->secret, a->o.secret_len, &b, d->nonce,
				  base_time_now_ms(), a->o.nonce_ttl_s * 1000,
				  &q->issued_ms);
	if (q->nerr == EINVAL) {
		log_failed(a, q, d->username, "bad_nonce", NOT_COUNTED);
		return false;
	}
	return true;
}

enum sip_auth_step sip_auth_prepare(struct sip_auth *a, struct sip_auth_req *q)
{
	const struct sip_msg *m = q->m;
	const struct sip_digest *ds = q->proxy ? m->pauth : m->auth;
	unsigned n = q->proxy ? m->npauth : m->nauth;

	q->d = NULL;
	q->alg = BASE_DIGEST_MD5;
	q->nerr = 0;
	q->issued_ms = 0;
	q->err = 0;
	for (unsigned i = 0; i < n && !q->d; i++)
		if (ds[i].realm.p && sip_str_ieq(ds[i].realm, q->realm))
			q->d = &ds[i];
	if (!q->d)
		return SIP_AUTH_CHALLENGE;
	if (!q->d->username.p) {
		log_failed(a, q, q->d->username, "bad_parameters", NOT_COUNTED);
		return SIP_AUTH_CHALLENGE;
	}
	if (!sip_str_eq(q->d->username, q->user)) {
		log_failed(a, q, q->d->username, "user_mismatch", NOT_COUNTED);
		return SIP_AUTH_FORBIDDEN;
	}
	if (!check_digest(a, q))
		return SIP_AUTH_CHALLENGE;
	return SIP_AUTH_CHECK;
}

/* A realm that goes between quotes as it is: printable, no '"' or '\'. */
static bool quotable(const char *s)
{
	for (; *s; s++)
		if ((unsigned char)*s < 0x20 || (unsigned char)*s >= 0x7f ||
		    *s == '"' || *s == '\\')
			return false;
	return true;
}

int sip_auth_challenge(struct sip_auth *a, const struct sip_auth_req *q,
		       bool stale, struct sip_buf *b)
{
	struct sip_nonce_bind nb = {q->src_ip, q->realm};
	char nonce[SIP_NONCE_LEN + 1];
	int64_t now = base_time_mono_s();
	bool limited;
	int err;

	if (!quotable(q->realm))
		return EINVAL;
	pthread_mutex_lock(&a->ch_mu);
	limited = base_throttle_check(a->challenges, q->src_ip, now) != 0;
	if (!limited)
		base_throttle_fail(a->challenges, q->src_ip, now);
	pthread_mutex_unlock(&a->ch_mu);
	if (limited) {
		metric_add(&throttled, T_CHALLENGE, 0, 1);
		LOG_DEBUG("sip_challenge_limited", "src=%s", q->src);
		return EAGAIN;
	}
	err = sip_nonce_make(a->secret, a->o.secret_len, &nb,
			     base_time_now_ms(), nonce, sizeof(nonce));
	if (err)
		return err;
	for (unsigned pass = 0; pass < 2; pass++)
		for (unsigned i = 0; i < a->o.nalgs; i++) {
			bool md5 = a->o.algs[i] == BASE_DIGEST_MD5;
			/* One pass in order; or the others, then MD5. */
			if (q->md5_last ? md5 != (pass == 1) : pass == 1)
				continue;
			sip_buf_puts(b, q->proxy ? "Proxy-Authenticate"
						 : "WWW-Authenticate");
			sip_buf_puts(b, ": Digest realm=\"");
			sip_buf_puts(b, q->realm);
			sip_buf_puts(b, "\", nonce=\"");
			sip_buf_puts(b, nonce);
			sip_buf_puts(b, "\", algorithm=");
			sip_buf_puts(b, sip_digest_alg_name(a->o.algs[i]));
			sip_buf_puts(b, stale ? ", qop=\"auth\", stale=true\r\n"
					      : ", qop=\"auth\"\r\n");
		}
	return 0;
}

enum sip_auth_verdict sip_auth_verify(struct sip_auth *a,
				      struct sip_auth_req *q,
				      const char *ha1_md5,
				      const char *ha1_sha256)
{
	const struct sip_digest *d = q->d;
	char expected[SIP_DIGEST_HEX_MAX];
	bool md5 = q->alg == BASE_DIGEST_MD5;
	bool known = ha1_md5 || ha1_sha256;
	const char *ha1 = md5 ? ha1_md5 : ha1_sha256;
	bool usable = ha1 != NULL;
	int e;

	/* A user without this algorithm's HA1 fails like a wrong password,
	 * an unknown one like a wrong password too: the same work either
	 * way. */
	if (!usable)
		ha1 = a->dummy_ha1[md5 ? 0 : 1];
	e = sip_digest_expected(q->alg, ha1, q->m->method, d, expected,
				sizeof(expected));
	if (e) {
		q->err = e;
		return SIP_AUTH_ERROR;
	}
	if (d->response.n != strlen(expected) ||
	    !base_secure_eq(d->response.p, expected, d->response.n) ||
	    !usable) {
		log_failed(a, q, d->username,
			   known ? "bad_response" : "unknown_user", COUNTED);
		return SIP_AUTH_FAIL;
	}
	if (q->nerr == ESTALE)
		return SIP_AUTH_STALE;
	pthread_mutex_lock(&a->nc_mu);
	e = sip_nc_cache_use(a->ncs, d->nonce, q->issued_ms, d->nc);
	pthread_mutex_unlock(&a->nc_mu);
	switch (e) {
	case 0:
		return SIP_AUTH_OK;
	case ESTALE:
		return SIP_AUTH_STALE; /* forgotten under load: a fresh nonce */
	default:
		log_failed(a, q, d->username, "nonce_count_replay", REPLAYED);
		return SIP_AUTH_REPLAY;
	}
}
