/* crypto.h - digests, HA1 values and secret handling (OpenSSL EVP). */
#ifndef BASE_CRYPTO_H
#define BASE_CRYPTO_H

#include <stdbool.h>
#include <stddef.h>

enum base_digest_alg {
	BASE_DIGEST_MD5,
	BASE_DIGEST_SHA256,
};

/* Hex length of the algorithm's output (32 for MD5, 64 for SHA-256). */
size_t base_digest_hexlen(enum base_digest_alg alg);

/*
 * Writes the lower-case hex digest of data into out (cap > hexlen).
 * Returns 0, ERANGE or EIO.
 */
int base_digest_hex(enum base_digest_alg alg, const void *data, size_t len,
		    char *out, size_t cap);

/*
 * Writes HA1 = H(user ":" realm ":" password) in hex (RFC 7616 3.4.2).
 * The intermediate buffer is wiped. Returns 0, ERANGE or EIO.
 */
int base_ha1(enum base_digest_alg alg, const char *user, const char *realm,
	     const char *password, char *out, size_t cap);

/* True when a and b (each n bytes) are equal; time depends only on n. */
bool base_secure_eq(const void *a, const void *b, size_t n);

/* Overwrites n bytes at p with zeros in a way the compiler keeps. */
void base_wipe(void *p, size_t n);

#endif
