/*
 * sign.c - Plivo's V3 webhook signature, computed as the Plivo SDK's
 * validateV3Signature (lib/utils/v3Security.js, plivo 4.79.0 on npm)
 * recomputes it, and the form encoding of webhook parameters.
 */
#include <errno.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include <openssl/evp.h>
#include <openssl/rand.h>

#include "app/sign.h"
#include "base/crypto.h"
#include "base/text.h"

/* A growing string capped at APP_SIGN_TEXT_MAX; err sticks. */
struct sbuf {
	char *p;
	size_t len, cap;
	int err;
};

static void put(struct sbuf *b, const char *s, size_t n)
{
	if (b->err)
		return;
	if (b->len + n + 1 > APP_SIGN_TEXT_MAX) {
		b->err = ERANGE;
		return;
	}
	if (b->len + n + 1 > b->cap) {
		size_t cap = b->cap ? b->cap : 256;
		char *np;

		while (cap < b->len + n + 1)
			cap *= 2;
		np = realloc(b->p, cap);
		if (!np) {
			b->err = ENOMEM;
			return;
		}
		b->p = np;
		b->cap = cap;
	}
	memcpy(b->p + b->len, s, n);
	b->len += n;
	b->p[b->len] = '\0';
}

static void puts_(struct sbuf *b, const char *s)
{
	put(b, s, strlen(s));
}

/* Hands the string over (an empty one when nothing was written). */
static int finish(struct sbuf *b, char **out, size_t *len)
{
	if (!b->err && !b->p)
		put(b, "", 0);
	if (b->err) {
		int err = b->err;

		free(b->p);
		return err;
	}
	*out = b->p;
	if (len)
		*len = b->len;
	return 0;
}

static void put_form(struct sbuf *b, const char *s)
{
	static const char hex[] = "0123456789ABCDEF";

	for (; *s; s++) {
		unsigned char c = (unsigned char)*s;
		char esc[3];

		if ((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') ||
		    (c >= '0' && c <= '9') || c == '*' || c == '-' ||
		    c == '.' || c == '_') {
			put(b, (const char *)&c, 1);
		} else if (c == ' ') {
			put(b, "+", 1);
		} else {
			esc[0] = '%';
			esc[1] = hex[c >> 4];
			esc[2] = hex[c & 15];
			put(b, esc, 3);
		}
	}
}

int app_form_encode(const struct app_param *params, size_t n, char **out,
		    size_t *len)
{
	struct sbuf b = {0};

	for (size_t i = 0; i < n; i++) {
		if (i)
			put(&b, "&", 1);
		put_form(&b, params[i].name);
		put(&b, "=", 1);
		put_form(&b, params[i].value);
	}
	return finish(&b, out, len);
}

/* One name/value pair to sort. */
struct pair {
	const char *k, *v;
};

/*
 * Reads the next code point of valid UTF-8 at *p as UTF-16 code units into
 * u; returns how many (0 at the end of the string).
 */
static int units(const unsigned char **p, uint16_t u[2])
{
	const unsigned char *s = *p;
	uint32_t cp;
	int n;

	if (!*s)
		return 0;
	if (s[0] < 0x80) {
		cp = s[0];
		n = 1;
	} else if (s[0] < 0xe0) {
		cp = (uint32_t)(s[0] & 0x1f) << 6 | (s[1] & 0x3f);
		n = 2;
	} else if (s[0] < 0xf0) {
		cp = (uint32_t)(s[0] & 0x0f) << 12 |
		     (uint32_t)(s[1] & 0x3f) << 6 | (s[2] & 0x3f);
		n = 3;
	} else {
		cp = (uint32_t)(s[0] & 0x07) << 18 |
		     (uint32_t)(s[1] & 0x3f) << 12 |
		     (uint32_t)(s[2] & 0x3f) << 6 | (s[3] & 0x3f);
		n = 4;
	}
	*p = s + n;
	if (cp < 0x10000) {
		u[0] = (uint16_t)cp;
		return 1;
	}
	cp -= 0x10000;
	u[0] = (uint16_t)(0xd800 + (cp >> 10));
	u[1] = (uint16_t)(0xdc00 + (cp & 0x3ff));
	return 2;
}

/* JavaScript's default string order (UTF-16 code units) on UTF-8 input. */
static int cmp16(const char *a, const char *b)
{
	const unsigned char *pa = (const unsigned char *)a;
	const unsigned char *pb = (const unsigned char *)b;
	uint16_t ua[2], ub[2];
	int na = 0, nb = 0, ia = 0, ib = 0;

	for (;;) {
		if (ia == na) {
			na = units(&pa, ua);
			ia = 0;
		}
		if (ib == nb) {
			nb = units(&pb, ub);
			ib = 0;
		}
		if (!na || !nb)
			return (na != 0) - (nb != 0);
		if (ua[ia] != ub[ib])
			return ua[ia] < ub[ib] ? -1 : 1;
		ia++;
		ib++;
	}
}

static int pair_cmp(const void *x, const void *y)
{
	const struct pair *a = x, *b = y;
	int c = cmp16(a->k, b->k);

	return c ? c : cmp16(a->v, b->v);
}

/*
 * Decodes s[0..n) as querystring.unescape does after '+' became a space:
 * valid %XX sequences decoded, others kept. Writes a NUL-terminated string
 * at d; returns the bytes written with the NUL, or 0 when the result has a
 * NUL or is not valid UTF-8 (the SDK would see U+FFFD there).
 */
static size_t decode(const char *s, size_t n, char *d)
{
	size_t o = 0, count;
	bool printable;

	for (size_t i = 0; i < n; i++) {
		int h, l;

		if (s[i] == '+') {
			d[o++] = ' ';
		} else if (s[i] == '%' && i + 2 < n &&
			   (h = base_hex_digit(s[i + 1])) >= 0 &&
			   (l = base_hex_digit(s[i + 2])) >= 0) {
			d[o++] = (char)(h << 4 | l);
			i += 2;
		} else {
			d[o++] = s[i];
		}
	}
	if (memchr(d, '\0', o) || base_text_scan(d, o, &count, &printable))
		return 0;
	d[o++] = '\0';
	return o;
}

/* The parts of a URL as the SDK's uri-parser (loose mode) splits it. */
struct url_parts {
	const char *scheme, *host, *path, *query;
	size_t scheme_len, host_len, path_len, query_len;
	bool has_query;
};

static int url_split(const char *url, struct url_parts *u)
{
	const char *s = strstr(url, "://"), *a, *end, *at, *q;

	memset(u, 0, sizeof(*u));
	if (!s)
		return EINVAL;
	u->scheme = url;
	u->scheme_len = (size_t)(s - url);
	if (!((u->scheme_len == 4 && strncasecmp(url, "http", 4) == 0) ||
	      (u->scheme_len == 5 && strncasecmp(url, "https", 5) == 0)))
		return EINVAL;
	for (const char *p = url; *p; p++)
		if ((unsigned char)*p <= 0x20 || (unsigned char)*p >= 0x7f)
			return EINVAL;
	a = s + 3;
	end = a + strcspn(a, "/?#");
	/* The SDK drops user info up to the first '@' ("u" or "u:p"). */
	at = memchr(a, '@', (size_t)(end - a));
	if (at) {
		const char *colon = memchr(a, ':', (size_t)(at - a));

		if (colon && memchr(colon + 1, ':', (size_t)(at - colon - 1)))
			return EINVAL;
		a = at + 1;
	}
	/* Its parser cannot split "[v6]:port" nor "h:p:q" the way curl does. */
	if (a == end || memchr(a, '[', (size_t)(end - a)) ||
	    memchr(a, '@', (size_t)(end - a)))
		return EINVAL;
	u->host = a;
	u->host_len = (size_t)(end - a);
	{
		const char *colon = memchr(a, ':', u->host_len);

		if (colon) {
			for (const char *p = colon + 1; p < end; p++)
				if (*p < '0' || *p > '9')
					return EINVAL;
			if (colon + 1 == end)
				u->host_len--; /* "h:" signs as "h" */
		}
	}
	u->path = end;
	u->path_len = strcspn(end, "?#");
	q = end + u->path_len;
	if (*q == '?') {
		u->has_query = true;
		u->query = q + 1;
		u->query_len = strcspn(q + 1, "#");
	}
	return 0;
}

/*
 * Splits the URL's query into decoded pairs appended at pairs[*np], the
 * strings stored in *store (malloc'd, freed by the caller).
 */
static int query_pairs(const struct url_parts *u, struct pair *pairs,
		       size_t *np, char **store)
{
	const char *s = u->query, *end = u->query + u->query_len;
	char *d;

	*store = NULL;
	if (!u->query_len)
		return 0;
	d = malloc(u->query_len * 2 + 2);
	if (!d)
		return ENOMEM;
	*store = d;
	while (s < end) {
		const char *amp = memchr(s, '&', (size_t)(end - s));
		const char *pe = amp ? amp : end, *eq;
		size_t n;

		if (pe == s) {
			s = pe + 1;
			continue;
		}
		if (*np >= APP_SIGN_QUERY_PAIRS_MAX)
			return EINVAL;
		eq = memchr(s, '=', (size_t)(pe - s));
		pairs[*np].k = d;
		n = decode(s, (size_t)((eq ? eq : pe) - s), d);
		if (!n)
			return EINVAL;
		d += n;
		pairs[*np].v = d;
		n = eq ? decode(eq + 1, (size_t)(pe - eq - 1), d) : 0;
		if (eq && !n)
			return EINVAL;
		if (!eq)
			*d++ = '\0';
		else
			d += n;
		(*np)++;
		s = pe + 1;
	}
	return 0;
}

static bool utf8_ok(const char *s)
{
	size_t count;
	bool printable;

	return base_text_scan(s, strlen(s), &count, &printable) == 0;
}

int app_sign_canonical(const char *method, const char *url,
		       const struct app_param *params, size_t n, char **out)
{
	struct url_parts u;
	struct pair *pairs = NULL;
	struct sbuf b = {0};
	char *store = NULL;
	size_t np = 0, nq;
	bool get;
	int err;

	if (strcmp(method, "GET") == 0)
		get = true;
	else if (strcmp(method, "POST") == 0)
		get = false;
	else
		return EINVAL;
	err = url_split(url, &u);
	if (err)
		return err;
	for (size_t i = 0; i < n; i++)
		if (!utf8_ok(params[i].name) || !utf8_ok(params[i].value))
			return EINVAL;
	if (n > APP_SIGN_TEXT_MAX)
		return ERANGE;
	pairs = calloc(APP_SIGN_QUERY_PAIRS_MAX + n + 1, sizeof(*pairs));
	if (!pairs)
		return ENOMEM;
	err = query_pairs(&u, pairs, &np, &store);
	if (err)
		goto out;
	nq = np;
	if (get) {
		for (size_t i = 0; i < n; i++) {
			pairs[np].k = params[i].name;
			pairs[np++].v = params[i].value;
		}
	}
	qsort(pairs, np, sizeof(*pairs), pair_cmp);

	put(&b, u.scheme, u.scheme_len);
	puts_(&b, "://");
	put(&b, u.host, u.host_len);
	put(&b, u.path, u.path_len);
	if (np || (!get && n))
		put(&b, "?", 1);
	for (size_t i = 0; i < np; i++) {
		if (i)
			put(&b, "&", 1);
		puts_(&b, pairs[i].k);
		put(&b, "=", 1);
		puts_(&b, pairs[i].v);
	}
	if (!get && n) {
		if (nq)
			put(&b, ".", 1);
		np = 0;
		for (size_t i = 0; i < n; i++) {
			pairs[np].k = params[i].name;
			pairs[np++].v = params[i].value;
		}
		qsort(pairs, np, sizeof(*pairs), pair_cmp);
		for (size_t i = 0; i < np; i++) {
			puts_(&b, pairs[i].k);
			puts_(&b, pairs[i].v);
		}
	}
	err = finish(&b, out, NULL);
out:
	free(store);
	free(pairs);
	return err;
}

int app_sign_nonce(char *nonce, size_t cap)
{
	unsigned char r[64];
	size_t o = 0;

	if (cap <= APP_SIGN_NONCE_LEN)
		return ERANGE;
	while (o < APP_SIGN_NONCE_LEN) {
		if (RAND_bytes(r, sizeof(r)) != 1)
			return EIO;
		/* Bytes below 250 only, so that every digit is equally likely.
		 */
		for (size_t i = 0; i < sizeof(r) && o < APP_SIGN_NONCE_LEN; i++)
			if (r[i] < 250)
				nonce[o++] = (char)('0' + r[i] % 10);
	}
	nonce[o] = '\0';
	return 0;
}

int app_sign_v3(const char *token, size_t token_len, const char *method,
		const char *url, const struct app_param *params, size_t n,
		const char *nonce, char *sig, size_t cap)
{
	unsigned char md[BASE_HMAC_LEN];
	struct sbuf b = {0};
	char *canon = NULL, *msg = NULL;
	int err;

	if (cap <= APP_SIGN_B64_LEN || token_len > INT32_MAX)
		return ERANGE;
	err = app_sign_canonical(method, url, params, n, &canon);
	if (err)
		return err;
	puts_(&b, canon);
	put(&b, ".", 1);
	puts_(&b, nonce);
	err = finish(&b, &msg, NULL);
	if (err)
		goto out;
	err = base_hmac_sha256(token, token_len, msg, strlen(msg), md);
	if (err)
		goto out;
	EVP_EncodeBlock((unsigned char *)sig, md, (int)sizeof(md));
out:
	base_wipe(md, sizeof(md));
	free(canon);
	free(msg);
	return err;
}
