/*
 * crypto.h - digests, HA1 values, authenticated encryption (AES-256-GCM),
 * the server key and its file, and secret handling (OpenSSL EVP).
 */
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

#define BASE_HMAC_LEN 32 /* HMAC-SHA-256 */

/*
 * Writes HMAC-SHA-256(key, data) into out. Returns 0 or EIO. Any thread;
 * each keeps its own context.
 */
int base_hmac_sha256(const void *key, size_t keylen, const void *data,
		     size_t len, unsigned char out[BASE_HMAC_LEN]);

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

/* ---- authenticated encryption ---- */

#define BASE_KEY_LEN 32	       /* AES-256 */
#define BASE_KEY_HEX_LEN 64    /* the key written in hex */
#define BASE_AEAD_NONCE_LEN 12 /* 96 bits, random per encryption */
#define BASE_AEAD_TAG_LEN 16
/* What base_aead_seal adds to the plaintext: nonce before, tag after. */
#define BASE_AEAD_OVERHEAD (BASE_AEAD_NONCE_LEN + BASE_AEAD_TAG_LEN)

/*
 * Encrypts pt (len bytes) with AES-256-GCM under key (BASE_KEY_LEN bytes)
 * and a fresh random 96-bit nonce, authenticating aad (aadlen bytes, not
 * stored) with it, and writes nonce | ciphertext | tag into out (cap >=
 * len + BASE_AEAD_OVERHEAD), its length in *outlen. Working copies are
 * wiped. Returns 0, ERANGE or EIO.
 */
int base_aead_seal(const unsigned char *key, const void *aad, size_t aadlen,
		   const void *pt, size_t len, unsigned char *out, size_t cap,
		   size_t *outlen);

/*
 * Opens what base_aead_seal wrote (in, len bytes) with the same key and aad,
 * writing the plaintext into out (cap >= len - BASE_AEAD_OVERHEAD), its
 * length in *outlen. Returns 0; EBADMSG when in is too short or the key,
 * aad, nonce, ciphertext or tag is not what was sealed (out then holds
 * nothing: it is wiped); ERANGE or EIO.
 */
int base_aead_open(const unsigned char *key, const void *aad, size_t aadlen,
		   const void *in, size_t len, unsigned char *out, size_t cap,
		   size_t *outlen);

/* Whether the n bytes at p are all lower-case hex digits (0-9, a-f). */
bool base_hex_lower(const char *p, size_t n);

/* Writes n bytes as lower-case hex + NUL (cap > 2n). Returns 0 or ERANGE. */
int base_hex_encode(const void *data, size_t n, char *out, size_t cap);

/*
 * Decodes len hex digits (either case) into out (cap >= len / 2), the
 * byte count in *outlen. Returns 0, EINVAL (odd length or not hex) or
 * ERANGE. out is wiped on failure.
 */
int base_hex_decode(const char *hex, size_t len, unsigned char *out, size_t cap,
		    size_t *outlen);

/* ---- the server key ---- */

/*
 * Parses a key written as BASE_KEY_HEX_LEN hex digits (hex, len bytes)
 * into key (BASE_KEY_LEN bytes). Returns 0 or EINVAL (key untouched).
 */
int base_key_parse(const char *hex, size_t len, unsigned char *key);

/*
 * Reads the server key from the file at path: a regular file holding
 * BASE_KEY_HEX_LEN hex digits and at most one final newline, that neither
 * group nor others may access (mode 0600 or 0400). When the file does not
 * exist and create is true, it is made first with a fresh random key:
 * written, synced and chmod'ed 0600 under a temporary name in the same
 * directory, then linked to path, which fails if path exists - so a start
 * racing this one sees no file or the whole file, never a partial one, and
 * exactly one key wins. *created (may be NULL) says whether this call made
 * it. Returns 0 and the key; otherwise key is untouched, why (cap bytes)
 * holds one sentence naming the path (never the key), and the result is
 * ENOENT (missing, create false), EPERM (group or others have access),
 * EINVAL (not a regular file, or not a key), or the file system's errno.
 */
int base_key_file_load(const char *path, bool create, unsigned char *key,
		       bool *created, char *why, size_t cap);

#endif
