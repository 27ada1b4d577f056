/*
 * registrar.h - REGISTER handling (RFC 3261 section 10.3): digest
 * challenge and verification, bindings through svc, replies; OPTIONS gets
 * 200 and other methods 405. Runs on the SIP transport thread.
 */
#ifndef REGISTRAR_REGISTRAR_H
#define REGISTRAR_REGISTRAR_H

#include "base/crypto.h"
#include "model/binding.h"
#include "sip/transport.h"
#include "svc/svc.h"

struct registrar_opts {
	const void *secret; /* nonce signing key */
	size_t secret_len;
	int64_t nonce_ttl_s;
	enum base_digest_alg algs[2]; /* challenge order */
	unsigned nalgs;
	struct model_reg_limits limits;
	int64_t sweep_interval_s;
	/* Failed digest checks from one address before it is ignored. */
	long fail_max, fail_window_s, fail_penalty_s;
};

struct registrar;

int registrar_new(struct registrar **out, struct svc *svc,
		  const struct registrar_opts *o);
void registrar_free(struct registrar *r);

/* The transport callbacks (ctx is the registrar). */
void registrar_on_message(void *ctx, struct sip_transport *t,
			  const struct sip_peer *from, char *msg, size_t len);
void registrar_on_tick(void *ctx);

/*
 * Parses "MD5,SHA-256"-style lists into algs (at most 2). Returns 0 or
 * EINVAL.
 */
int registrar_algs_parse(const char *text, enum base_digest_alg *algs,
			 unsigned *n);

#endif
