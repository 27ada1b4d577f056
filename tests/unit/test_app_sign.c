/*
 * test_app_sign.c - Plivo V3 signatures and form encoding. The expected
 * signatures were checked with the Plivo SDK's validateV3Signature (plivo
 * 4.79.0); tests/node/ and test_app_sign_node repeat that check on every
 * run against real requests.
 */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "app/sign.h"

#define TOKEN "MAZDQ1ZTEXAMPLETOKEN"
#define NONCE "12345678901234567890"

/* Names and values that need escaping, duplicates, an empty value, and
 * a name outside the BMP that JavaScript sorts before U+FFFD. */
static const struct app_param P[] = {
    {"To", "sip:bob@example.com"},
    {"From", "+1 (555) \xc3\xa9&=%"},
    {"CallUUID", "u-1"},
    {"A", "2"},
    {"A", "10"},
    {"Z", ""},
    {"\xf0\x9f\x98\x80", "x"},
    {"\xef\xbf\xbd", "y"},
};
#define NP (sizeof(P) / sizeof(P[0]))

#define URL_Q "https://u:p@example.com:8443/a/b.xml?z=1&a=%20b+c&q#frag"

struct vector {
	const char *method, *url;
	size_t n;
	const char *canonical, *sig;
};

static const struct vector V[] = {
    {"GET", "https://example.com/answer", 0, "https://example.com/answer",
     "YPFJTx8b8aW26s8Oqq/gVwGZDpfSS8kXPtp1sXLrobs="},
    {"GET", "https://example.com/answer", NP,
     "https://example.com/answer?A=10&A=2&CallUUID=u-1&From=+1 (555) "
     "\xc3\xa9&=%&To=sip:bob@example.com&Z=&\xf0\x9f\x98\x80=x&"
     "\xef\xbf\xbd=y",
     "248aYJV4ODmxWTETQdu2zsgxelZRUo1zYgPN2n8WzW8="},
    {"GET", URL_Q, 0, "https://example.com:8443/a/b.xml?a= b c&q=&z=1",
     "FmgK8Ln/LIHPObKJkizG8sbyuXj89dkTy1ubmS1oL3Q="},
    {"GET", URL_Q, NP,
     "https://example.com:8443/a/b.xml?A=10&A=2&CallUUID=u-1&From=+1 "
     "(555) \xc3\xa9&=%&To=sip:bob@example.com&Z=&a= b c&q=&z=1&"
     "\xf0\x9f\x98\x80=x&\xef\xbf\xbd=y",
     "ru3tjKJuohIGofHMG/ndaXC+Z2LMb+tuGOdGVVwywCM="},
    {"GET", "http://example.com?x=1", NP,
     "http://example.com?A=10&A=2&CallUUID=u-1&From=+1 (555) "
     "\xc3\xa9&=%&To=sip:bob@example.com&Z=&x=1&\xf0\x9f\x98\x80=x&"
     "\xef\xbf\xbd=y",
     "uLu888Br+03146mhrlaUrL1wug3WO6GiHj05gL4oVXc="},
    {"GET", "http://h:/p", 0, "http://h/p",
     "O8KwxqWt2gD64GGefjNiza5sbY7u1qELrQ3NgE+OzOA="},
    {"POST", "https://example.com/answer", 0, "https://example.com/answer",
     "YPFJTx8b8aW26s8Oqq/gVwGZDpfSS8kXPtp1sXLrobs="},
    {"POST", "https://example.com/answer", NP,
     "https://example.com/answer?A10A2CallUUIDu-1From+1 (555) "
     "\xc3\xa9&=%Tosip:bob@example.comZ\xf0\x9f\x98\x80x\xef\xbf\xbdy",
     "P6+GTc0Ak5o9fWXOYhu3eA9G0/OnRCdHMzUMNKUOZww="},
    {"POST", URL_Q, NP,
     "https://example.com:8443/a/b.xml?a= b c&q=&z=1.A10A2CallUUIDu-1"
     "From+1 (555) \xc3\xa9&=%Tosip:bob@example.comZ\xf0\x9f\x98\x80x"
     "\xef\xbf\xbdy",
     "rIaNUpFX9UtppN9zJEILdHfyefr+9bG7JEEEq4wmTeo="},
    {"POST", "http://example.com", NP,
     "http://example.com?A10A2CallUUIDu-1From+1 (555) "
     "\xc3\xa9&=%Tosip:bob@example.comZ\xf0\x9f\x98\x80x\xef\xbf\xbdy",
     "nDeM7QqfRG1N415tHXvYTNHshAMY4WFPg5SbIfgzOjY="},
    {"POST", "http://example.com?x=1", 0, "http://example.com?x=1",
     "7S546ubqHUwzNxrBor53m6+NaY+hbDmOl54hnyqIl1Q="},
    {"POST", "http://example.com?x=1", NP,
     "http://example.com?x=1.A10A2CallUUIDu-1From+1 (555) "
     "\xc3\xa9&=%Tosip:bob@example.comZ\xf0\x9f\x98\x80x\xef\xbf\xbdy",
     "1eLWJtzrDni45dP48IMukxYtShTLF/FqFLU8fnj8j0o="},
};

static void test_vectors(void **state)
{
	(void)state;
	for (size_t i = 0; i < sizeof(V) / sizeof(V[0]); i++) {
		char *c = NULL, sig[APP_SIGN_B64_LEN + 1];

		assert_int_equal(
		    app_sign_canonical(V[i].method, V[i].url, P, V[i].n, &c),
		    0);
		assert_string_equal(c, V[i].canonical);
		free(c);
		assert_int_equal(app_sign_v3(TOKEN, strlen(TOKEN), V[i].method,
					     V[i].url, P, V[i].n, NONCE, sig,
					     sizeof(sig)),
				 0);
		assert_string_equal(sig, V[i].sig);
	}
}

/* The order of the parameters given does not change the signature. */
static void test_order_independent(void **state)
{
	struct app_param r[NP];
	char a[APP_SIGN_B64_LEN + 1], b[APP_SIGN_B64_LEN + 1];

	(void)state;
	for (size_t i = 0; i < NP; i++)
		r[i] = P[NP - 1 - i];
	assert_int_equal(app_sign_v3(TOKEN, strlen(TOKEN), "POST",
				     "http://e.com/x", P, NP, NONCE, a,
				     sizeof(a)),
			 0);
	assert_int_equal(app_sign_v3(TOKEN, strlen(TOKEN), "POST",
				     "http://e.com/x", r, NP, NONCE, b,
				     sizeof(b)),
			 0);
	assert_string_equal(a, b);
	/* A different token, nonce or parameter does. */
	assert_int_equal(app_sign_v3("other", 5, "POST", "http://e.com/x", P,
				     NP, NONCE, b, sizeof(b)),
			 0);
	assert_string_not_equal(a, b);
	assert_int_equal(app_sign_v3(TOKEN, strlen(TOKEN), "POST",
				     "http://e.com/x", P, NP - 1, NONCE, b,
				     sizeof(b)),
			 0);
	assert_string_not_equal(a, b);
}

static void test_refused(void **state)
{
	static const struct app_param bad[] = {{"a", "\xff"}};
	char *c = NULL, sig[APP_SIGN_B64_LEN + 1];

	(void)state;
	assert_int_equal(app_sign_canonical("PUT", "http://e.com/", P, 0, &c),
			 EINVAL);
	assert_int_equal(app_sign_canonical("get", "http://e.com/", P, 0, &c),
			 EINVAL);
	assert_int_equal(app_sign_canonical("GET", "ftp://e.com/", P, 0, &c),
			 EINVAL);
	assert_int_equal(app_sign_canonical("GET", "e.com/x", P, 0, &c),
			 EINVAL);
	/* The SDK's parser splits IPv6 literals wrongly: never signed. */
	assert_int_equal(
	    app_sign_canonical("GET", "http://[::1]:80/", P, 0, &c), EINVAL);
	assert_int_equal(
	    app_sign_canonical("GET", "http://e.com:8x/", P, 0, &c), EINVAL);
	assert_int_equal(
	    app_sign_canonical("GET", "http://e.com/a b", P, 0, &c), EINVAL);
	assert_int_equal(
	    app_sign_canonical("GET", "http://e.com/?a=%ff", P, 0, &c), EINVAL);
	assert_int_equal(
	    app_sign_canonical("GET", "http://e.com/?a=%00", P, 0, &c), EINVAL);
	assert_int_equal(app_sign_canonical("GET", "http://e.com/", bad, 1, &c),
			 EINVAL);
	assert_null(c);
	assert_int_equal(app_sign_v3(TOKEN, strlen(TOKEN), "GET",
				     "http://e.com/", P, 0, NONCE, sig,
				     APP_SIGN_B64_LEN),
			 ERANGE);
}

/* querystring.parse's details: empty pairs skipped, "q" is "q=", bad %
 * escapes kept, '+' is a space, only the first '=' splits. */
static void test_query_rules(void **state)
{
	char *c = NULL;

	(void)state;
	assert_int_equal(
	    app_sign_canonical("GET", "http://e.com/p?&&b=1=2&a&c=%zz+%41", P,
			       0, &c),
	    0);
	assert_string_equal(c, "http://e.com/p?a=&b=1=2&c=%zz A");
	free(c);
	assert_int_equal(app_sign_canonical("POST", "HTTP://E.com?", P, 0, &c),
			 0);
	assert_string_equal(c, "HTTP://E.com");
	free(c);
}

static void test_form_encode(void **state)
{
	static const struct app_param f[] = {
	    {"a b", "x+y&z=1"},
	    {"e", "\xc3\xa9*-._~!"},
	    {"empty", ""},
	};
	char *s = NULL;
	size_t len = 0;

	(void)state;
	assert_int_equal(app_form_encode(f, 3, &s, &len), 0);
	assert_string_equal(s, "a+b=x%2By%26z%3D1&e=%C3%A9*-._%7E%21&empty=");
	assert_int_equal(len, strlen(s));
	free(s);
	assert_int_equal(app_form_encode(f, 0, &s, NULL), 0);
	assert_string_equal(s, "");
	free(s);
}

static void test_form_encode_cap(void **state)
{
	char *big = malloc(APP_SIGN_TEXT_MAX / 3 + 2), *s = NULL;
	struct app_param p;

	(void)state;
	assert_non_null(big);
	memset(big, '&', APP_SIGN_TEXT_MAX / 3 + 1);
	big[APP_SIGN_TEXT_MAX / 3 + 1] = '\0';
	p.name = "x";
	p.value = big;
	assert_int_equal(app_form_encode(&p, 1, &s, NULL), ERANGE);
	assert_null(s);
	free(big);
}

static void test_nonce(void **state)
{
	char a[APP_SIGN_NONCE_LEN + 1], b[APP_SIGN_NONCE_LEN + 1];

	(void)state;
	assert_int_equal(app_sign_nonce(a, sizeof(a)), 0);
	assert_int_equal(app_sign_nonce(b, sizeof(b)), 0);
	assert_int_equal(strlen(a), APP_SIGN_NONCE_LEN);
	assert_int_equal(strspn(a, "0123456789"), APP_SIGN_NONCE_LEN);
	assert_string_not_equal(a, b);
	assert_int_equal(app_sign_nonce(a, APP_SIGN_NONCE_LEN), ERANGE);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_vectors),
	    cmocka_unit_test(test_order_independent),
	    cmocka_unit_test(test_refused),
	    cmocka_unit_test(test_query_rules),
	    cmocka_unit_test(test_form_encode),
	    cmocka_unit_test(test_form_encode_cap),
	    cmocka_unit_test(test_nonce),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
