/* crypto.c - thin wrappers over OpenSSL's EVP digests and CRYPTO_memcmp. */
#include "base/crypto.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include <openssl/crypto.h>
#include <openssl/evp.h>

size_t base_digest_hexlen(enum base_digest_alg alg)
{
	return alg == BASE_DIGEST_MD5 ? 32 : 64;
}

int base_digest_hex(enum base_digest_alg alg, const void *data, size_t len,
		    char *out, size_t cap)
{
	static const char hex[] = "0123456789abcdef";
	unsigned char md[EVP_MAX_MD_SIZE];
	unsigned int mdlen = 0;
	const EVP_MD *type = alg == BASE_DIGEST_MD5 ? EVP_md5() : EVP_sha256();

	if (cap <= base_digest_hexlen(alg))
		return ERANGE;
	if (!EVP_Digest(data, len, md, &mdlen, type, NULL))
		return EIO;
	for (unsigned i = 0; i < mdlen; i++) {
		out[2 * i] = hex[md[i] >> 4];
		out[2 * i + 1] = hex[md[i] & 15];
	}
	out[2 * mdlen] = '\0';
	OPENSSL_cleanse(md, sizeof(md));
	return 0;
}

int base_ha1(enum base_digest_alg alg, const char *user, const char *realm,
	     const char *password, char *out, size_t cap)
{
	size_t lu = strlen(user), lr = strlen(realm), lp = strlen(password);
	size_t n = lu + lr + lp + 2;
	char *buf;
	int err;

	buf = malloc(n + 1);
	if (!buf)
		return ENOMEM;
	memcpy(buf, user, lu);
	buf[lu] = ':';
	memcpy(buf + lu + 1, realm, lr);
	buf[lu + 1 + lr] = ':';
	memcpy(buf + lu + lr + 2, password, lp);
	err = base_digest_hex(alg, buf, n, out, cap);
	OPENSSL_cleanse(buf, n + 1);
	free(buf);
	return err;
}

bool base_secure_eq(const void *a, const void *b, size_t n)
{
	return CRYPTO_memcmp(a, b, n) == 0;
}

void base_wipe(void *p, size_t n)
{
	OPENSSL_cleanse(p, n);
}
