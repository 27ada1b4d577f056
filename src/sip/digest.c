/* digest.c - digest responses, HMAC-signed nonces and nonce-count replay. */
#include "sip/digest.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include <openssl/evp.h>
#include <openssl/hmac.h>

#include "base/id.h"

int sip_digest_alg_parse(struct sip_str s, enum base_digest_alg *out)
{
	if (!s.p || sip_str_ieq(s, "MD5")) {
		*out = BASE_DIGEST_MD5;
		return 0;
	}
	if (sip_str_ieq(s, "SHA-256")) {
		*out = BASE_DIGEST_SHA256;
		return 0;
	}
	return EINVAL;
}

const char *sip_digest_alg_name(enum base_digest_alg alg)
{
	return alg == BASE_DIGEST_MD5 ? "MD5" : "SHA-256";
}

/* Appends n bytes to buf at *off when they fit; returns 0 or ERANGE. */
static int put(char *buf, size_t cap, size_t *off, const char *p, size_t n)
{
	if (n > cap - *off)
		return ERANGE;
	memcpy(buf + *off, p, n);
	*off += n;
	return 0;
}

/* Hashes the ':'-joined parts into hex. */
static int hash_join(enum base_digest_alg alg, const struct sip_str *parts,
		     unsigned n, char *out, size_t cap)
{
	char buf[4096];
	size_t off = 0;
	int err = 0;

	for (unsigned i = 0; i < n && !err; i++) {
		if (i)
			err = put(buf, sizeof(buf), &off, ":", 1);
		if (!err && parts[i].n)
			err =
			    put(buf, sizeof(buf), &off, parts[i].p, parts[i].n);
	}
	if (!err)
		err = base_digest_hex(alg, buf, off, out, cap);
	base_wipe(buf, off);
	return err;
}

int sip_digest_expected(enum base_digest_alg alg, const char *ha1,
			struct sip_str method, const struct sip_digest *d,
			char *out, size_t cap)
{
	char ha2[SIP_DIGEST_HEX_MAX];
	struct sip_str a2[2] = {method, d->uri};
	struct sip_str h1 = {ha1, strlen(ha1)}, h2;
	int err;

	err = hash_join(alg, a2, 2, ha2, sizeof(ha2));
	if (err)
		return err;
	h2 = (struct sip_str){ha2, strlen(ha2)};
	if (d->qop.p) {
		struct sip_str r[6] = {h1,	  d->nonce, d->nc,
				       d->cnonce, d->qop,   h2};
		err = hash_join(alg, r, 6, out, cap);
	} else {
		struct sip_str r[3] = {h1, d->nonce, h2};
		err = hash_join(alg, r, 3, out, cap);
	}
	return err;
}

/* HMAC-SHA-256(secret, first 33 bytes of nonce) as 32 hex chars. */
static int nonce_mac(const void *secret, size_t secret_len, const char *text,
		     char out[33])
{
	static const char hex[] = "0123456789abcdef";
	unsigned char md[EVP_MAX_MD_SIZE];
	unsigned int mdlen = 0;

	if (!HMAC(EVP_sha256(), secret, (int)secret_len,
		  (const unsigned char *)text, 33, md, &mdlen) ||
	    mdlen < 16)
		return EIO;
	for (int i = 0; i < 16; i++) {
		out[2 * i] = hex[md[i] >> 4];
		out[2 * i + 1] = hex[md[i] & 15];
	}
	out[32] = '\0';
	return 0;
}

int sip_nonce_make(const void *secret, size_t secret_len, int64_t now_s,
		   char *out, size_t cap)
{
	unsigned char rnd[8];
	char mac[33];
	int err;

	if (cap <= SIP_NONCE_LEN)
		return ERANGE;
	err = base_rand_fill(rnd, sizeof(rnd));
	if (err)
		return err;
	snprintf(out, cap, "%016llx.%02x%02x%02x%02x%02x%02x%02x%02x.",
		 (unsigned long long)now_s, rnd[0], rnd[1], rnd[2], rnd[3],
		 rnd[4], rnd[5], rnd[6], rnd[7]);
	err = nonce_mac(secret, secret_len, out, mac);
	if (err)
		return err;
	memcpy(out + 34, mac, 33);
	return 0;
}

static bool all_hex(const char *p, size_t n)
{
	for (size_t i = 0; i < n; i++)
		if (!((p[i] >= '0' && p[i] <= '9') ||
		      (p[i] >= 'a' && p[i] <= 'f')))
			return false;
	return true;
}

int sip_nonce_check(const void *secret, size_t secret_len, struct sip_str nonce,
		    int64_t now_s, int64_t ttl_s, int64_t *issued)
{
	char text[SIP_NONCE_LEN + 1], mac[33];
	unsigned long long t;

	if (nonce.n != SIP_NONCE_LEN || nonce.p[16] != '.' ||
	    nonce.p[33] != '.' || !all_hex(nonce.p, 16) ||
	    !all_hex(nonce.p + 17, 16) || !all_hex(nonce.p + 34, 32))
		return EINVAL;
	memcpy(text, nonce.p, SIP_NONCE_LEN);
	text[SIP_NONCE_LEN] = '\0';
	if (nonce_mac(secret, secret_len, text, mac) ||
	    !base_secure_eq(mac, text + 34, 32))
		return EINVAL;
	t = strtoull(text, NULL, 16);
	if (t > (unsigned long long)INT64_MAX)
		return EINVAL;
	*issued = (int64_t)t;
	if ((int64_t)t > now_s + 5 || now_s - (int64_t)t > ttl_s)
		return ESTALE;
	return 0;
}

struct nc_slot {
	char nonce[SIP_NONCE_LEN + 1];
	uint32_t nc;
};

struct sip_nc_cache {
	unsigned slots;
	struct nc_slot *s;
};

int sip_nc_cache_new(struct sip_nc_cache **out, unsigned slots)
{
	struct sip_nc_cache *c = calloc(1, sizeof(*c));

	if (!c || slots == 0)
		goto fail;
	c->s = calloc(slots, sizeof(*c->s));
	if (!c->s)
		goto fail;
	c->slots = slots;
	*out = c;
	return 0;
fail:
	free(c);
	return ENOMEM;
}

void sip_nc_cache_free(struct sip_nc_cache *c)
{
	if (!c)
		return;
	free(c->s);
	free(c);
}

int sip_nc_cache_use(struct sip_nc_cache *c, struct sip_str nonce,
		     struct sip_str nc)
{
	uint32_t h = 2166136261u, v = 0;
	struct nc_slot *s;

	if (nc.n != 8 || nonce.n != SIP_NONCE_LEN)
		return EINVAL;
	for (size_t i = 0; i < 8; i++) {
		char ch = nc.p[i];
		unsigned d;
		if (ch >= '0' && ch <= '9')
			d = (unsigned)(ch - '0');
		else if (ch >= 'a' && ch <= 'f')
			d = (unsigned)(ch - 'a' + 10);
		else if (ch >= 'A' && ch <= 'F')
			d = (unsigned)(ch - 'A' + 10);
		else
			return EINVAL;
		v = v << 4 | d;
	}
	if (v == 0)
		return EINVAL;
	for (size_t i = 0; i < nonce.n; i++)
		h = (h ^ (unsigned char)nonce.p[i]) * 16777619u;
	s = &c->s[h % c->slots];
	if (memcmp(s->nonce, nonce.p, SIP_NONCE_LEN) != 0) {
		memcpy(s->nonce, nonce.p, SIP_NONCE_LEN);
		s->nonce[SIP_NONCE_LEN] = '\0';
		s->nc = 0;
	}
	if (v <= s->nc)
		return EALREADY;
	s->nc = v;
	return 0;
}
