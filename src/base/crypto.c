/*
 * crypto.c - thin wrappers over OpenSSL's EVP digests, AES-256-GCM and
 * CRYPTO_memcmp, and the server key file.
 */
#include "base/crypto.h"

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <openssl/core_names.h>
#include <openssl/crypto.h>
#include <openssl/evp.h>

#include "base/id.h"
#include "base/text.h"

size_t base_digest_hexlen(enum base_digest_alg alg)
{
	return alg == BASE_DIGEST_MD5 ? 32 : 64;
}

/*
 * The algorithms are fetched from OpenSSL's providers once, and every
 * thread keeps one digest and one MAC context that it resets for each use:
 * EVP_Digest and HMAC() fetch and allocate on every call, which was most of
 * the cost of a digest check (issue 12, callgrind).
 */
static pthread_once_t algs_once = PTHREAD_ONCE_INIT;
static EVP_MD *alg_md5, *alg_sha256;
static EVP_MAC *alg_hmac;
static pthread_key_t ctx_key;

/* Keys up to this long are remembered: the same key again is not set up
 * again (HMAC's inner and outer pads are kept by the context). */
#define MAC_KEY_KEEP 64

struct thread_ctx {
	EVP_MD_CTX *md;
	EVP_MAC_CTX *mac;		 /* HMAC-SHA-256 */
	unsigned char key[MAC_KEY_KEEP]; /* mac's key, when keylen > 0 */
	size_t keylen;
};

static __thread struct thread_ctx *mine; /* this thread's */

/* The key's destructor, at thread exit (also on a failed setup). */
static void ctx_free(void *p)
{
	struct thread_ctx *c = p;

	EVP_MD_CTX_free(c->md);
	EVP_MAC_CTX_free(c->mac); /* cleanses the key it holds */
	OPENSSL_cleanse(c->key, sizeof(c->key));
	free(c);
	if (mine == c)
		mine = NULL;
}

static void algs_fetch(void)
{
	alg_md5 = EVP_MD_fetch(NULL, "MD5", NULL);
	alg_sha256 = EVP_MD_fetch(NULL, "SHA256", NULL);
	alg_hmac = EVP_MAC_fetch(NULL, "HMAC", NULL);
	if (pthread_key_create(&ctx_key, ctx_free)) {
		EVP_MAC_free(alg_hmac);
		alg_hmac = NULL; /* no contexts: every use fails with EIO */
	}
}

/* This thread's contexts, made on first use; NULL when that fails. */
static struct thread_ctx *thread_ctx(void)
{
	char digest[] = "SHA256";
	OSSL_PARAM params[] = {
	    OSSL_PARAM_construct_utf8_string(OSSL_MAC_PARAM_DIGEST, digest, 0),
	    OSSL_PARAM_construct_end()};

	if (mine)
		return mine;
	pthread_once(&algs_once, algs_fetch);
	if (!alg_hmac)
		return NULL;
	mine = calloc(1, sizeof(*mine));
	if (!mine)
		return NULL;
	mine->md = EVP_MD_CTX_new();
	mine->mac = EVP_MAC_CTX_new(alg_hmac);
	if (!mine->md || !mine->mac ||
	    !EVP_MAC_CTX_set_params(mine->mac, params) ||
	    pthread_setspecific(ctx_key, mine)) {
		ctx_free(mine);
		mine = NULL;
	}
	return mine;
}

int base_digest_hex(enum base_digest_alg alg, const void *data, size_t len,
		    char *out, size_t cap)
{
	static const char hex[] = "0123456789abcdef";
	unsigned char md[EVP_MAX_MD_SIZE];
	unsigned int mdlen = 0;
	struct thread_ctx *c = thread_ctx(); /* fetches the algorithms */
	const EVP_MD *type = alg == BASE_DIGEST_MD5 ? alg_md5 : alg_sha256;

	if (cap <= base_digest_hexlen(alg))
		return ERANGE;
	/* An algorithm a provider refused (MD5 under FIPS) fails alone. */
	if (!c || !type || !EVP_DigestInit_ex2(c->md, type, NULL) ||
	    !EVP_DigestUpdate(c->md, data, len) ||
	    !EVP_DigestFinal_ex(c->md, md, &mdlen))
		return EIO;
	for (unsigned i = 0; i < mdlen; i++) {
		out[2 * i] = hex[md[i] >> 4];
		out[2 * i + 1] = hex[md[i] & 15];
	}
	out[2 * mdlen] = '\0';
	OPENSSL_cleanse(md, sizeof(md));
	return 0;
}

int base_hmac_sha256(const void *key, size_t keylen, const void *data,
		     size_t len, unsigned char out[BASE_HMAC_LEN])
{
	struct thread_ctx *c = thread_ctx();
	size_t n = 0;
	bool same;

	if (!c)
		return EIO;
	same =
	    keylen && keylen == c->keylen && memcmp(key, c->key, keylen) == 0;
	if (!EVP_MAC_init(c->mac, same ? NULL : key, same ? 0 : keylen, NULL)) {
		c->keylen = 0;
		return EIO;
	}
	if (!same) {
		c->keylen = keylen <= MAC_KEY_KEEP ? keylen : 0;
		memcpy(c->key, key, c->keylen);
	}
	if (!EVP_MAC_update(c->mac, data, len) ||
	    !EVP_MAC_final(c->mac, out, &n, BASE_HMAC_LEN) ||
	    n != BASE_HMAC_LEN)
		return EIO;
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

/* ---- authenticated encryption ---- */

int base_aead_seal(const unsigned char *key, const void *aad, size_t aadlen,
		   const void *pt, size_t len, unsigned char *out, size_t cap,
		   size_t *outlen)
{
	unsigned char *ct = out + BASE_AEAD_NONCE_LEN;
	EVP_CIPHER_CTX *ctx;
	int n = 0, m = 0, err = EIO;

	if (len > INT_MAX - BASE_AEAD_OVERHEAD || aadlen > INT_MAX ||
	    cap < len + BASE_AEAD_OVERHEAD)
		return ERANGE;
	/* A nonce must never repeat under one key: 96 random bits each. */
	if (base_rand_fill(out, BASE_AEAD_NONCE_LEN))
		return EIO;
	ctx = EVP_CIPHER_CTX_new();
	if (!ctx)
		return ENOMEM;
	if (EVP_EncryptInit_ex(ctx, EVP_aes_256_gcm(), NULL, NULL, NULL) != 1 ||
	    EVP_CIPHER_CTX_ctrl(ctx, EVP_CTRL_GCM_SET_IVLEN,
				BASE_AEAD_NONCE_LEN, NULL) != 1 ||
	    EVP_EncryptInit_ex(ctx, NULL, NULL, key, out) != 1)
		goto out;
	if (aadlen && EVP_EncryptUpdate(ctx, NULL, &n, aad, (int)aadlen) != 1)
		goto out;
	n = 0;
	if (len && EVP_EncryptUpdate(ctx, ct, &n, pt, (int)len) != 1)
		goto out;
	if (EVP_EncryptFinal_ex(ctx, ct + n, &m) != 1 ||
	    (size_t)(n + m) != len ||
	    EVP_CIPHER_CTX_ctrl(ctx, EVP_CTRL_GCM_GET_TAG, BASE_AEAD_TAG_LEN,
				ct + len) != 1)
		goto out;
	*outlen = len + BASE_AEAD_OVERHEAD;
	err = 0;
out:
	EVP_CIPHER_CTX_free(ctx); /* cleanses the key schedule */
	if (err)
		OPENSSL_cleanse(out, cap);
	return err;
}

int base_aead_open(const unsigned char *key, const void *aad, size_t aadlen,
		   const void *in, size_t len, unsigned char *out, size_t cap,
		   size_t *outlen)
{
	const unsigned char *nonce = in, *ct = nonce + BASE_AEAD_NONCE_LEN;
	unsigned char tag[BASE_AEAD_TAG_LEN];
	EVP_CIPHER_CTX *ctx;
	size_t clen;
	int n = 0, m = 0, err = EIO;

	if (len < BASE_AEAD_OVERHEAD)
		return EBADMSG;
	clen = len - BASE_AEAD_OVERHEAD;
	if (clen > INT_MAX || aadlen > INT_MAX || cap < clen)
		return ERANGE;
	memcpy(tag, ct + clen, sizeof(tag));
	ctx = EVP_CIPHER_CTX_new();
	if (!ctx)
		return ENOMEM;
	if (EVP_DecryptInit_ex(ctx, EVP_aes_256_gcm(), NULL, NULL, NULL) != 1 ||
	    EVP_CIPHER_CTX_ctrl(ctx, EVP_CTRL_GCM_SET_IVLEN,
				BASE_AEAD_NONCE_LEN, NULL) != 1 ||
	    EVP_DecryptInit_ex(ctx, NULL, NULL, key, nonce) != 1)
		goto out;
	if (aadlen && EVP_DecryptUpdate(ctx, NULL, &n, aad, (int)aadlen) != 1)
		goto out;
	n = 0;
	if (clen && EVP_DecryptUpdate(ctx, out, &n, ct, (int)clen) != 1)
		goto out;
	if (EVP_CIPHER_CTX_ctrl(ctx, EVP_CTRL_GCM_SET_TAG, BASE_AEAD_TAG_LEN,
				tag) != 1)
		goto out;
	/* The tag is checked here: any change to key, aad or bytes fails. */
	if (EVP_DecryptFinal_ex(ctx, out + n, &m) != 1) {
		err = EBADMSG;
		goto out;
	}
	if ((size_t)(n + m) != clen)
		goto out;
	*outlen = clen;
	err = 0;
out:
	EVP_CIPHER_CTX_free(ctx);
	if (err)
		OPENSSL_cleanse(out, cap < clen ? cap : clen);
	return err;
}

int base_hex_encode(const void *data, size_t n, char *out, size_t cap)
{
	static const char hex[] = "0123456789abcdef";
	const unsigned char *p = data;

	if (cap <= 2 * n)
		return ERANGE;
	for (size_t i = 0; i < n; i++) {
		out[2 * i] = hex[p[i] >> 4];
		out[2 * i + 1] = hex[p[i] & 15];
	}
	out[2 * n] = '\0';
	return 0;
}

bool base_hex_lower(const char *p, size_t n)
{
	for (size_t i = 0; i < n; i++)
		if (!((p[i] >= '0' && p[i] <= '9') ||
		      (p[i] >= 'a' && p[i] <= 'f')))
			return false;
	return true;
}

int base_hex_decode(const char *hex, size_t len, unsigned char *out, size_t cap,
		    size_t *outlen)
{
	if (len % 2)
		return EINVAL;
	if (cap < len / 2)
		return ERANGE;
	for (size_t i = 0; i < len; i += 2) {
		int h = base_hex_digit(hex[i]), l = base_hex_digit(hex[i + 1]);
		if (h < 0 || l < 0) {
			OPENSSL_cleanse(out, i / 2);
			return EINVAL;
		}
		out[i / 2] = (unsigned char)(h << 4 | l);
	}
	*outlen = len / 2;
	return 0;
}

/* ---- the server key ---- */

int base_key_parse(const char *hex, size_t len, unsigned char *key)
{
	unsigned char k[BASE_KEY_LEN];
	size_t n = 0;
	int err;

	if (len != BASE_KEY_HEX_LEN)
		return EINVAL;
	err = base_hex_decode(hex, len, k, sizeof(k), &n);
	if (!err)
		memcpy(key, k, sizeof(k));
	OPENSSL_cleanse(k, sizeof(k));
	return err ? EINVAL : 0;
}

/* Reads and checks the key file at path. */
static int key_read(const char *path, unsigned char *key, char *why, size_t cap)
{
	char buf[BASE_KEY_HEX_LEN + 2];
	struct stat sb;
	size_t n = 0;
	ssize_t r;
	int fd, err = 0;

	/* O_NONBLOCK: a FIFO must not hang the start; it is refused below. */
	fd = open(path, O_RDONLY | O_CLOEXEC | O_NOCTTY | O_NONBLOCK);
	if (fd < 0) {
		err = errno;
		snprintf(why, cap, "cannot open the key file %s: %s", path,
			 strerror(err));
		return err;
	}
	if (fstat(fd, &sb) != 0) {
		err = errno;
		snprintf(why, cap, "cannot stat the key file %s: %s", path,
			 strerror(err));
		goto out;
	}
	if (!S_ISREG(sb.st_mode)) {
		snprintf(why, cap, "the key file %s is not a regular file",
			 path);
		err = EINVAL;
		goto out;
	}
	if (sb.st_mode & (S_IRWXG | S_IRWXO)) {
		snprintf(why, cap,
			 "the key file %s is open to group or others "
			 "(mode %04o); make it private (chmod 600)",
			 path, (unsigned)(sb.st_mode & 07777));
		err = EPERM;
		goto out;
	}
	while (n < sizeof(buf)) {
		r = read(fd, buf + n, sizeof(buf) - n);
		if (r < 0 && errno == EINTR)
			continue;
		if (r < 0) {
			err = errno;
			snprintf(why, cap, "cannot read the key file %s: %s",
				 path, strerror(err));
			goto out;
		}
		if (r == 0)
			break;
		n += (size_t)r;
	}
	/* 64 hex digits, then nothing or one newline (as `echo` writes). */
	if (n == BASE_KEY_HEX_LEN + 1 && buf[BASE_KEY_HEX_LEN] == '\n')
		n--;
	if (n != BASE_KEY_HEX_LEN || base_key_parse(buf, n, key) != 0) {
		snprintf(why, cap,
			 "the key file %s does not hold a key (%d hex digits "
			 "and at most one newline)",
			 path, BASE_KEY_HEX_LEN);
		err = EINVAL;
	}
out:
	OPENSSL_cleanse(buf, sizeof(buf));
	close(fd);
	return err;
}

/* Writes all of buf to fd. Returns 0 or an errno. */
static int write_all(int fd, const char *buf, size_t n)
{
	while (n) {
		ssize_t w = write(fd, buf, n);
		if (w < 0 && errno == EINTR)
			continue;
		if (w < 0)
			return errno;
		buf += w;
		n -= (size_t)w;
	}
	return 0;
}

/* Syncs the directory that holds path, so that a new name in it lasts. */
static void sync_dir(const char *path)
{
	char dir[PATH_MAX];
	const char *slash = strrchr(path, '/');
	int fd;

	if (!slash)
		snprintf(dir, sizeof(dir), ".");
	else if (slash == path)
		snprintf(dir, sizeof(dir), "/");
	else
		snprintf(dir, sizeof(dir), "%.*s", (int)(slash - path), path);
	fd = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	if (fd >= 0) {
		fsync(fd);
		close(fd);
	}
}

/*
 * Makes a new key file at path: a temporary file (mkostemp: O_CREAT |
 * O_EXCL, mode 0600) written and synced, then linked to path, which fails
 * with EEXIST when path exists. Returns 0, EEXIST or an errno.
 */
static int key_create(const char *path, char *why, size_t cap)
{
	unsigned char raw[BASE_KEY_LEN];
	char hex[BASE_KEY_HEX_LEN + 2], tmp[PATH_MAX];
	int fd, err;

	if ((size_t)snprintf(tmp, sizeof(tmp), "%s.XXXXXX", path) >=
	    sizeof(tmp)) {
		snprintf(why, cap, "the key file path is too long");
		return ENAMETOOLONG;
	}
	fd = mkostemp(tmp, O_CLOEXEC);
	if (fd < 0) {
		err = errno;
		snprintf(why, cap, "cannot create the key file %s: %s", path,
			 strerror(err));
		return err;
	}
	err = base_rand_fill(raw, sizeof(raw));
	if (!err)
		err = base_hex_encode(raw, sizeof(raw), hex, sizeof(hex));
	if (!err) {
		hex[BASE_KEY_HEX_LEN] = '\n';
		err = fchmod(fd, 0600) ? errno : 0;
	}
	if (!err)
		err = write_all(fd, hex, BASE_KEY_HEX_LEN + 1);
	if (!err && fsync(fd) != 0)
		err = errno;
	if (close(fd) != 0 && !err)
		err = errno;
	if (!err && link(tmp, path) != 0)
		err = errno;
	unlink(tmp);
	OPENSSL_cleanse(raw, sizeof(raw));
	OPENSSL_cleanse(hex, sizeof(hex));
	if (err && err != EEXIST)
		snprintf(why, cap, "cannot create the key file %s: %s", path,
			 strerror(err));
	if (!err)
		sync_dir(path);
	return err;
}

int base_key_file_load(const char *path, bool create, unsigned char *key,
		       bool *created, char *why, size_t cap)
{
	bool made = false;
	int err = key_read(path, key, why, cap);

	if (err == ENOENT && create) {
		err = key_create(path, why, cap);
		/* EEXIST: another start made it meanwhile; read theirs. */
		made = err == 0;
		if (!err || err == EEXIST)
			err = key_read(path, key, why, cap);
	}
	if (created)
		*created = made && !err;
	return err;
}
