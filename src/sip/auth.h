/*
 * auth.h - digest authentication of SIP requests (RFC 3261 22, RFC 7616
 * qop=auth, RFC 8760 SHA-256) for whoever answers them: the registrar's
 * REGISTER (Authorization, 401 + WWW-Authenticate) and the call engine's
 * INVITE and MESSAGE (Proxy-Authorization, 407 + Proxy-Authenticate). One
 * object holds everything that is not per request: the nonce secret, the
 * nonce-count replay cache, the failure throttles per (address, user) and
 * per address, the challenge rate limit per address and the dummy HA1s for
 * unknown users. It does no I/O: the caller reads the HA1 from its store
 * and sends the answers.
 *
 * One request goes through it like this:
 *
 *   sip_auth_ignored(a, ip, NULL)   address in a penalty: stay silent
 *   fill q (m, proxy, src_ip, src, realm, user)
 *   sip_auth_ignored(a, ip, user)   (address, user) in a penalty: silent
 *   sip_auth_prepare(a, &q)         CHALLENGE: 401/407 + sip_auth_challenge
 *                                   FORBIDDEN: 403
 *                                   CHECK: read the HA1s (off the
 *                                   transport thread), then
 *   sip_auth_verify(a, &q, ..)      OK, FAIL or STALE (challenge again,
 *                                   stale=true for STALE), ERROR
 *
 * Every failure is logged on one stable line, without secrets:
 * `event=auth_failed user=".." src=ip:port reason=..`. Only failures that
 * present a nonce issued to that address for that realm count against the
 * throttles (logged at warn level); the others could be forged from
 * someone else's address and are logged at debug level only, so forged
 * datagrams cannot lock out the phones behind an address. A replayed
 * nonce-count with the right response (reason=nonce_count_replay, info
 * level) fails without counting: it guesses no password, and is most often
 * a retransmission under load.
 *
 * Thread safety: everything but sip_auth_new and sip_auth_free may be
 * called from any thread at once (the registrar prepares and challenges on
 * its transport thread and verifies on its store workers; the call engine
 * does the same on its own threads, with the same object or another). The
 * throttles lock themselves (base/throttle.c), the replay cache and the
 * challenge limiter's check-and-count have a mutex each, the port is
 * atomic and the rest is read-only after sip_auth_new.
 */
#ifndef SIP_AUTH_H
#define SIP_AUTH_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "base/crypto.h"
#include "sip/build.h"
#include "sip/msg.h"

#define SIP_AUTH_REALM_MAX 254 /* a realm (a domain name) and its NUL */
#define SIP_AUTH_USER_MAX 65   /* a username and its NUL */
#define SIP_AUTH_LISTEN_MAX 16 /* listen_hosts */
#define SIP_AUTH_HOST_MAX 64   /* one listen host and its NUL */
#define SIP_AUTH_SECRET_MAX 64 /* bytes of nonce secret */

struct sip_auth_opts {
	const void *secret;  /* nonce signing key, copied; shared by nodes */
	size_t secret_len;   /* 1 to SIP_AUTH_SECRET_MAX */
	int64_t nonce_ttl_s; /* older nonces are stale */
	enum base_digest_alg algs[2]; /* challenged, in this order */
	unsigned nalgs;		      /* 1 or 2 */
	/*
	 * Failed checks (with a nonce issued to that address) from one
	 * address for one user within fail_window_s before that user's
	 * requests from there are ignored for fail_penalty_s; fail_addr_max:
	 * for all users, before the address is.
	 */
	long fail_max, fail_addr_max, fail_window_s, fail_penalty_s;
	long challenge_rate; /* challenges per second to one address */
	/*
	 * Hosts (numeric, no brackets) we listen on, accepted besides the
	 * realm as the host of a digest uri that differs from the
	 * Request-URI; its port must then be absent or the listen port.
	 */
	char listen_hosts[SIP_AUTH_LISTEN_MAX][SIP_AUTH_HOST_MAX];
	unsigned nlisten;
};

struct sip_auth;

/*
 * Makes an authenticator from o (copied, secret included). Returns 0,
 * EINVAL for a secret or algorithm list out of bounds, ENOMEM or EIO.
 */
int sip_auth_new(struct sip_auth **out, const struct sip_auth_opts *o);

/* Frees a (NULL is fine), wiping the secret. */
void sip_auth_free(struct sip_auth *a);

/* The port the transport bound (for the digest uri check); 0 until set. */
void sip_auth_set_port(struct sip_auth *a, unsigned port);

/* One request being checked. */
struct sip_auth_req {
	/* Filled by the caller. */
	const struct sip_msg *m; /* parsed; outlives the request */
	/* Proxy-Authorization and Proxy-Authenticate (for a 407) instead of
	 * Authorization and WWW-Authenticate (for a 401). */
	bool proxy;
	/* Challenge with MD5 last: browsers' SIP stacks (JsSIP, SIP.js)
	 * keep only the last challenge of a response and answer only MD5,
	 * so over WebSocket the other algorithms come first. */
	bool md5_last;
	const char *src_ip; /* numeric, as base_addr_ip writes it */
	const char *src;    /* "ip:port" or "[ip6]:port", for the log */
	/* The realm the credentials must be for (the caller's domain) and
	 * the user they must name; only realms that need no escaping in a
	 * quoted string can be challenged. */
	char realm[SIP_AUTH_REALM_MAX];
	char user[SIP_AUTH_USER_MAX];
	/* Set by sip_auth_prepare (CHECK), read by sip_auth_verify. */
	const struct sip_digest *d; /* the credentials for realm, in m */
	enum base_digest_alg alg;
	int nerr; /* the nonce: 0 fresh, ESTALE */
	int64_t issued_ms;
	/* Set by sip_auth_verify (ERROR). */
	int err;
};

/*
 * Whether to stay silent: user NULL asks whether src_ip is in a penalty
 * (check it first, before parsing credentials); a user asks whether that
 * user from src_ip is (check it once the user is known).
 */
bool sip_auth_ignored(struct sip_auth *a, const char *src_ip, const char *user);

enum sip_auth_step {
	SIP_AUTH_CHALLENGE, /* none for realm, or they fail a check: 401/407 */
	SIP_AUTH_FORBIDDEN, /* the digest username is not q->user: 403 */
	SIP_AUTH_CHECK,	    /* well-formed: sip_auth_verify with the HA1 */
};

/*
 * The checks that need no I/O, for the transport thread: finds the
 * credentials for q->realm in m->auth (m->pauth when q->proxy; the first
 * whose realm matches, case-insensitively) and checks the username, the
 * algorithm (one we offer), the parameters (qop=auth with nc and cnonce,
 * no userhash), the digest uri (the Request-URI as written, or a SIP URI
 * naming the realm or a listen host, with no port or the listen port) and
 * the nonce's signature. Logs what fails. Sets q->d, alg, nerr and
 * issued_ms for CHECK.
 */
enum sip_auth_step sip_auth_prepare(struct sip_auth *a, struct sip_auth_req *q);

/*
 * Appends the challenge lines to b, one per configured algorithm, in the
 * configured order (MD5 moved last when q->md5_last):
 * `WWW-Authenticate: Digest realm="..", nonce="..", algorithm=MD5,
 * qop="auth"` (Proxy-Authenticate when q->proxy), with `, stale=true`
 * when stale; each nonce is bound to q->src_ip and q->realm. The caller
 * has started a 401 (407) on b and ends it. Returns 0 (an overflow of b is
 * left in b->err), EAGAIN when more than challenge_rate challenges a
 * second would go to q->src_ip (stay silent: no reflector for forged
 * sources), EINVAL for a realm that cannot be quoted, or EIO.
 */
int sip_auth_challenge(struct sip_auth *a, const struct sip_auth_req *q,
		       bool stale, struct sip_buf *b);

enum sip_auth_verdict {
	SIP_AUTH_OK,	 /* the right response, a fresh nonce, a new nc */
	SIP_AUTH_FAIL,	 /* logged and counted: challenge again */
	SIP_AUTH_STALE,	 /* the right response, an old nonce: stale=true */
	SIP_AUTH_ERROR,	 /* not computable (q->err: ERANGE for parameters
			    too long to hash, ENOMEM) */
	SIP_AUTH_REPLAY, /* the right response with a nonce count used
			    before: a retransmission whose answer is gone,
			    or a captured request replayed. Logged, not
			    counted; refuse it (challenge again) unless the
			    caller can tell it is a retransmission. */
};

/*
 * Checks the response of a request that sip_auth_prepare let through
 * (CHECK) against the user's stored HA1s (hex), on a thread that may wait
 * for the store: ha1_md5 and ha1_sha256 both NULL for an unknown user,
 * who is checked against a random HA1 and fails like a wrong password
 * (reason=unknown_user), so answers do not tell which users exist (only
 * the one of q->alg NULL: a user without that HA1, reason=bad_response).
 * Then
 * records the nonce-count: a replayed one is REPLAY (not counted against
 * the address), a nonce the cache forgot under load is STALE.
 */
enum sip_auth_verdict sip_auth_verify(struct sip_auth *a,
				      struct sip_auth_req *q,
				      const char *ha1_md5,
				      const char *ha1_sha256);

#endif
