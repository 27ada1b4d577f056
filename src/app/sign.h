/*
 * sign.h - Plivo-compatible webhook signatures (X-Plivo-Signature-V3) and
 * the application/x-www-form-urlencoded encoding of webhook parameters.
 */
#ifndef APP_SIGN_H
#define APP_SIGN_H

#include <stddef.h>

/* One webhook parameter: NUL-terminated name and value (UTF-8). */
struct app_param {
	const char *name;
	const char *value;
};

#define APP_SIGN_NONCE_LEN 20 /* decimal digits */
#define APP_SIGN_B64_LEN 44   /* base64 of an HMAC-SHA-256, with padding */
/* The longest canonical string signed (and form body or query built). */
#define APP_SIGN_TEXT_MAX (256 * 1024)
/* Node's querystring.parse keeps at most this many pairs of a URL query. */
#define APP_SIGN_QUERY_PAIRS_MAX 1000

/*
 * Writes params, in order, as name=value pairs joined by '&', each name and
 * value encoded as application/x-www-form-urlencoded (WHATWG: letters,
 * digits and "*-._" as is, space as '+', every other byte as %XX), into a
 * malloc'd NUL-terminated string *out (length in *len, may be NULL).
 * Returns 0, ERANGE (longer than APP_SIGN_TEXT_MAX) or ENOMEM.
 */
int app_form_encode(const struct app_param *params, size_t n, char **out,
		    size_t *len);

/*
 * Writes the string Plivo's SDK (validateV3Signature, lib/utils/
 * v3Security.js) signs for a request, before ".nonce" is appended, into a
 * malloc'd string *out. method is "GET" or "POST"; url is the webhook URL
 * as configured (absolute http or https, ASCII); params are the request's
 * parameters: for GET those added to the URL's query, for POST the form
 * body. The SDK's rules: the URL loses its user info, fragment and any
 * empty port; the query pairs are decoded (querystring.parse: '+' is a
 * space, %XX decoded) and, for GET merged with params, sorted by name then
 * value (JavaScript's sort: UTF-16 code units) and written name=value
 * joined by '&' after '?'; for POST, the sorted params follow as
 * name+value with no separators, after '?' and, when the URL had a query,
 * after a '.'. Returns 0, EINVAL (not an http(s) URL, a method other than
 * GET/POST, a query over APP_SIGN_QUERY_PAIRS_MAX pairs or that decodes to
 * invalid UTF-8), ERANGE or ENOMEM.
 */
int app_sign_canonical(const char *method, const char *url,
		       const struct app_param *params, size_t n, char **out);

/*
 * Writes a fresh random nonce of APP_SIGN_NONCE_LEN decimal digits into
 * nonce (cap > APP_SIGN_NONCE_LEN). Returns 0, ERANGE or EIO.
 */
int app_sign_nonce(char *nonce, size_t cap);

/*
 * Writes X-Plivo-Signature-V3 for a request into sig (cap >
 * APP_SIGN_B64_LEN): base64(HMAC-SHA-256(token, canonical "." nonce)).
 * token is the account's auth token (token_len bytes, never logged).
 * Returns what app_sign_canonical returns, ERANGE or EIO.
 */
int app_sign_v3(const char *token, size_t token_len, const char *method,
		const char *url, const struct app_param *params, size_t n,
		const char *nonce, char *sig, size_t cap);

#endif
