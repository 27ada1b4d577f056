/*
 * registrar.h - REGISTER handling (RFC 3261 section 10.3): digest
 * challenge and verification, bindings through svc, replies; OPTIONS gets
 * 200 and other methods 405. What needs no I/O (parsing, retransmissions,
 * OPTIONS, challenges, throttles) is answered on the SIP transport thread;
 * what needs the store (credentials, bindings, the sweep) runs on a pool of
 * workers with a deadline, past which a REGISTER gets 503 + Retry-After.
 */
#ifndef REGISTRAR_REGISTRAR_H
#define REGISTRAR_REGISTRAR_H

#include "base/crypto.h"
#include "model/binding.h"
#include "sip/auth.h"
#include "sip/path.h"
#include "sip/transport.h"
#include "svc/svc.h"

struct registrar_opts {
	/*
	 * The digest authenticator to use, shared with its other users (the
	 * call engine) and freed by the caller after registrar_free; NULL:
	 * the registrar makes its own from secret ... challenge_rate and
	 * listen_hosts below, which are ignored otherwise.
	 */
	struct sip_auth *auth;
	const void *secret; /* nonce signing key */
	size_t secret_len;
	int64_t nonce_ttl_s;
	enum base_digest_alg algs[2]; /* challenge order */
	unsigned nalgs;
	struct model_reg_limits limits;
	int64_t sweep_interval_s;
	/*
	 * Failed digest checks (with a nonce issued to that address) from one
	 * address for one user before that user's REGISTERs from there are
	 * ignored; fail_addr_max: for all users, before the address is.
	 */
	long fail_max, fail_addr_max, fail_window_s, fail_penalty_s;
	long challenge_rate; /* 401s per second to one address, at most */
	unsigned workers;    /* store threads */
	unsigned queue_max;  /* REGISTERs waiting for a worker, at most */
	int64_t store_timeout_ms;
	long retry_after_s; /* in 503s */
	/*
	 * Hosts (numeric, no brackets) this registrar listens on, accepted
	 * besides the realm as the host of a digest uri that differs from the
	 * Request-URI; its port must then be absent or the listen port.
	 */
	char listen_hosts[16][64];
	unsigned nlisten;
};

struct registrar;

int registrar_new(struct registrar **out, struct svc *svc,
		  const struct registrar_opts *o);
/* Stops the workers after they finish what is queued; then frees r. */
void registrar_free(struct registrar *r);

/*
 * Finishes the queued store work and stops the workers (answering what
 * arrives meanwhile with 503); call before stopping the transport they send
 * on. registrar_free does it too.
 */
void registrar_stop_workers(struct registrar *r);

/* The port the transport bound (for the digest uri check; sets it on the
 * authenticator, shared or not). */
void registrar_set_port(struct registrar *r, unsigned port);

/*
 * The key that makes a TCP binding's path (sip/path.h), once this node's
 * address is known (after the transport started; it must outlive r).
 * Before, and with NULL or a key without an address, no path is stored.
 * Safe from any thread.
 */
void registrar_set_path(struct registrar *r, const struct sip_path_key *k);

/* The transport callbacks (ctx is the registrar). */
void registrar_on_message(void *ctx, struct sip_transport *t,
			  const struct sip_peer *from, char *msg, size_t len);
void registrar_on_tick(void *ctx);

/*
 * The transport's sip_closed_fn: a connection that carried bindings
 * closed; a worker deletes them (logged `sip_bindings_closed`).
 */
void registrar_on_closed(void *ctx, const struct sip_peer *peer);

/*
 * Parses "MD5,SHA-256"-style lists into algs (at most 2). Returns 0 or
 * EINVAL.
 */
int registrar_algs_parse(const char *text, enum base_digest_alg *algs,
			 unsigned *n);

#endif
