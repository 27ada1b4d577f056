/* digest.c - digest responses, HMAC-signed nonces and nonce-count replay. */
#include "sip/digest.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "base/crypto.h"
#include "base/id.h"
#include "base/text.h"

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

/*
 * HMAC-SHA-256(secret, first 33 bytes of nonce "|" ip "|" realm) as 32 hex
 * chars.
 */
static int nonce_mac(const void *secret, size_t secret_len,
		     const struct sip_nonce_bind *b, const char *text,
		     char out[33])
{
	static const char hex[] = "0123456789abcdef";
	unsigned char md[BASE_HMAC_LEN];
	char in[512];
	size_t lt = strnlen(text, 33), li = strlen(b->ip);
	size_t lr = strlen(b->realm), n = lt + 1 + li + 1 + lr;

	if (n >= sizeof(in))
		return ERANGE;
	memcpy(in, text, lt);
	in[lt] = '|';
	memcpy(in + lt + 1, b->ip, li);
	in[lt + 1 + li] = '|';
	memcpy(in + lt + 2 + li, b->realm, lr);
	if (base_hmac_sha256(secret, secret_len, in, n, md))
		return EIO;
	for (int i = 0; i < 16; i++) {
		out[2 * i] = hex[md[i] >> 4];
		out[2 * i + 1] = hex[md[i] & 15];
	}
	out[32] = '\0';
	return 0;
}

int sip_nonce_make(const void *secret, size_t secret_len,
		   const struct sip_nonce_bind *b, int64_t now_ms, char *out,
		   size_t cap)
{
	static const char hex[] = "0123456789abcdef";
	unsigned char rnd[8];
	char mac[33];
	int err;

	if (cap <= SIP_NONCE_LEN)
		return ERANGE;
	err = base_rand_fill(rnd, sizeof(rnd));
	if (err)
		return err;
	/* "%016llx.%02x x 8." without printf */
	for (int i = 0; i < 16; i++)
		out[i] = hex[((unsigned long long)now_ms >> (60 - 4 * i)) & 15];
	out[16] = '.';
	for (int i = 0; i < 8; i++) {
		out[17 + 2 * i] = hex[rnd[i] >> 4];
		out[18 + 2 * i] = hex[rnd[i] & 15];
	}
	out[33] = '.';
	out[34] = '\0';
	err = nonce_mac(secret, secret_len, b, out, mac);
	if (err)
		return err;
	memcpy(out + 34, mac, 33);
	return 0;
}

int sip_nonce_check(const void *secret, size_t secret_len,
		    const struct sip_nonce_bind *b, struct sip_str nonce,
		    int64_t now_ms, int64_t ttl_ms, int64_t *issued_ms)
{
	char text[SIP_NONCE_LEN + 1], mac[33];
	unsigned long long t;

	if (nonce.n != SIP_NONCE_LEN || nonce.p[16] != '.' ||
	    nonce.p[33] != '.' || !base_hex_lower(nonce.p, 16) ||
	    !base_hex_lower(nonce.p + 17, 16) ||
	    !base_hex_lower(nonce.p + 34, 32))
		return EINVAL;
	memcpy(text, nonce.p, SIP_NONCE_LEN);
	text[SIP_NONCE_LEN] = '\0';
	if (nonce_mac(secret, secret_len, b, text, mac) ||
	    !base_secure_eq(mac, text + 34, 32))
		return EINVAL;
	t = strtoull(text, NULL, 16);
	if (t > (unsigned long long)INT64_MAX)
		return EINVAL;
	*issued_ms = (int64_t)t;
	if ((int64_t)t > now_ms + 5000 || now_ms - (int64_t)t > ttl_ms)
		return ESTALE;
	return 0;
}

#define NC_WAYS 8

struct nc_entry {
	uint64_t key[2]; /* the nonce's HMAC part; {0, 0} when empty */
	int64_t issued_ms;
	uint32_t nc;
};

struct nc_set {
	int64_t floor_ms;
	struct nc_entry e[NC_WAYS];
};

struct sip_nc_cache {
	unsigned mask;
	struct nc_set *sets;
};

int sip_nc_cache_new(struct sip_nc_cache **out, unsigned sets)
{
	struct sip_nc_cache *c = calloc(1, sizeof(*c));
	unsigned n = 1;

	while (n < sets && n < (1u << 24))
		n <<= 1;
	if (!c)
		return ENOMEM;
	c->sets = calloc(n, sizeof(*c->sets));
	if (!c->sets) {
		free(c);
		return ENOMEM;
	}
	c->mask = n - 1;
	*out = c;
	return 0;
}

void sip_nc_cache_free(struct sip_nc_cache *c)
{
	if (!c)
		return;
	free(c->sets);
	free(c);
}

/* Parses n hex digits; false when one is not hex. */
static bool hex_u64(const char *p, size_t n, uint64_t *out)
{
	uint64_t v = 0;

	for (size_t i = 0; i < n; i++) {
		int d = base_hex_digit(p[i]);
		if (d < 0)
			return false;
		v = v << 4 | (uint64_t)d;
	}
	*out = v;
	return true;
}

int sip_nc_cache_use(struct sip_nc_cache *c, struct sip_str nonce,
		     int64_t issued_ms, struct sip_str nc)
{
	uint64_t key[2], v64;
	struct nc_set *set;
	struct nc_entry *oldest = NULL;
	uint32_t v;

	if (nc.n != 8 || !hex_u64(nc.p, 8, &v64) || v64 == 0 ||
	    nonce.n != SIP_NONCE_LEN || !hex_u64(nonce.p + 34, 16, &key[0]) ||
	    !hex_u64(nonce.p + 50, 16, &key[1]))
		return EINVAL;
	v = (uint32_t)v64;
	key[0] |= 1; /* never the empty key */
	set = &c->sets[key[1] & c->mask];
	for (int i = 0; i < NC_WAYS; i++) {
		struct nc_entry *e = &set->e[i];
		if (e->key[0] == key[0] && e->key[1] == key[1]) {
			if (v <= e->nc)
				return EALREADY;
			e->nc = v;
			return 0;
		}
		if (!oldest || !e->key[0] ||
		    (oldest->key[0] && e->issued_ms < oldest->issued_ms))
			oldest = e;
	}
	if (issued_ms <= set->floor_ms)
		return ESTALE; /* perhaps seen, then forgotten */
	if (oldest->key[0] && oldest->issued_ms > set->floor_ms)
		set->floor_ms = oldest->issued_ms;
	oldest->key[0] = key[0];
	oldest->key[1] = key[1];
	oldest->issued_ms = issued_ms;
	oldest->nc = v;
	return 0;
}
