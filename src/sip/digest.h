/*
 * digest.h - SIP digest authentication math (RFC 3261 section 22, RFC 7616
 * with qop=auth, RFC 8760 SHA-256) and stateless nonces: a nonce carries its
 * issue time and an HMAC-SHA-256 over it keyed with a secret shared by every
 * node, so any node can verify any nonce without shared state.
 */
#ifndef SIP_DIGEST_H
#define SIP_DIGEST_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "base/crypto.h"
#include "sip/msg.h"

#define SIP_NONCE_LEN 66 /* 16 hex time . 16 hex random . 32 hex HMAC */
#define SIP_DIGEST_HEX_MAX 65

/* Maps an algorithm parameter ("MD5", "SHA-256", absent = MD5). */
int sip_digest_alg_parse(struct sip_str s, enum base_digest_alg *out);

/* The algorithm's name as written in challenges. */
const char *sip_digest_alg_name(enum base_digest_alg alg);

/*
 * Computes the expected response (hex, into out of cap bytes) from HA1 hex:
 * with qop: H(HA1:nonce:nc:cnonce:qop:H(method:uri)), else
 * H(HA1:nonce:H(method:uri)). Returns 0, ERANGE or ENOMEM.
 */
int sip_digest_expected(enum base_digest_alg alg, const char *ha1,
			struct sip_str method, const struct sip_digest *d,
			char *out, size_t cap);

/*
 * Writes a new nonce for time now_s into out (cap > SIP_NONCE_LEN).
 * Returns 0 or EIO.
 */
int sip_nonce_make(const void *secret, size_t secret_len, int64_t now_s,
		   char *out, size_t cap);

/*
 * Checks a nonce: 0 when genuine and issued at most ttl_s seconds before
 * now_s, ESTALE when genuine but older, EINVAL when forged or malformed.
 * *issued receives its issue time when genuine.
 */
int sip_nonce_check(const void *secret, size_t secret_len, struct sip_str nonce,
		    int64_t now_s, int64_t ttl_s, int64_t *issued);

/*
 * Tracks the highest nonce-count seen per nonce so that a replayed nc is
 * refused. Bounded: the oldest entries are forgotten first (they are soon
 * stale anyway). Not thread-safe: one per SIP thread.
 */
struct sip_nc_cache;

int sip_nc_cache_new(struct sip_nc_cache **out, unsigned slots);
void sip_nc_cache_free(struct sip_nc_cache *c);

/*
 * Accepts nc (8 hex digits) for nonce when it is higher than any seen
 * before, recording it; returns 0, EALREADY for a replay, EINVAL when nc
 * is malformed.
 */
int sip_nc_cache_use(struct sip_nc_cache *c, struct sip_str nonce,
		     struct sip_str nc);

#endif
