/*
 * digest.h - SIP digest authentication math (RFC 3261 section 22, RFC 7616
 * with qop=auth, RFC 8760 SHA-256) and stateless nonces: a nonce carries its
 * issue time and an HMAC-SHA-256 over it, the client's address and the realm,
 * keyed with a secret shared by every node, so any node can verify any nonce
 * without shared state, and a nonce is good only from the address and for
 * the realm it was issued to.
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

/* What a nonce is bound to: the client's address and the realm. */
struct sip_nonce_bind {
	const char *ip; /* numeric, as base_addr_ip writes it */
	const char *realm;
};

/*
 * Writes a new nonce issued at now_ms to b into out (cap > SIP_NONCE_LEN).
 * Returns 0, ERANGE or EIO.
 */
int sip_nonce_make(const void *secret, size_t secret_len,
		   const struct sip_nonce_bind *b, int64_t now_ms, char *out,
		   size_t cap);

/*
 * Checks a nonce presented by b: 0 when genuine (issued by us to this
 * address for this realm) and issued at most ttl_ms before now_ms, ESTALE
 * when genuine but older, EINVAL when forged, malformed or issued to
 * another address or realm. *issued_ms receives its issue time when genuine.
 */
int sip_nonce_check(const void *secret, size_t secret_len,
		    const struct sip_nonce_bind *b, struct sip_str nonce,
		    int64_t now_ms, int64_t ttl_ms, int64_t *issued_ms);

/*
 * Remembers the highest nonce-count used with each nonce, so that a
 * replayed nc is refused, in bounded memory: a set-associative table where
 * a full set forgets its oldest nonce and raises the set's floor to that
 * nonce's issue time. A nonce not found and issued at or before its set's
 * floor may have been forgotten: it is answered as stale, never accepted
 * afresh. Fresh nonces (newer than the oldest of their set) are unaffected.
 * Not thread-safe: one per SIP thread.
 */
struct sip_nc_cache;

/* sets: rounded up to a power of two; 8 nonces per set. */
int sip_nc_cache_new(struct sip_nc_cache **out, unsigned sets);
void sip_nc_cache_free(struct sip_nc_cache *c);

/*
 * Accepts nc (8 hex digits) for a genuine nonce issued at issued_ms when it
 * is higher than any seen before, recording it. Returns 0, EALREADY for a
 * replay, ESTALE when the nonce may have been forgotten, EINVAL when nc is
 * malformed.
 */
int sip_nc_cache_use(struct sip_nc_cache *c, struct sip_str nonce,
		     int64_t issued_ms, struct sip_str nc);

#endif
