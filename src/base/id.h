/* id.h - identifiers and tokens drawn from the operating system's CSPRNG. */
#ifndef BASE_ID_H
#define BASE_ID_H

#include <stddef.h>

#define BASE_UUID_LEN 36
#define BASE_AUTH_ID_LEN 11 /* "MA_" + 8 */
#define BASE_TOKEN_LEN 40

/* Fills buf with n random bytes. Returns 0 or EIO. */
int base_rand_fill(void *buf, size_t n);

/* Writes a random RFC 4122 version 4 UUID (36 chars + NUL); cap >= 37. */
int base_id_uuid(char *out, size_t cap);

/*
 * Writes `digits` random decimal digits, the first one non-zero, + NUL.
 * cap must exceed digits.
 */
int base_id_decimal(char *out, size_t cap, unsigned digits);

/* Writes "MA_" + 8 random upper-case letters or digits + NUL; cap >= 12. */
int base_id_auth(char *out, size_t cap);

/* Writes BASE_TOKEN_LEN random letters and digits + NUL; cap >= 41. */
int base_id_token(char *out, size_t cap);

#endif
