/* test_sip_digest.c - digest responses (RFC 2617, RFC 7616 worked
 * examples), signed nonces (expiry, forgery) and nonce-count replay. */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>

#include <cmocka.h>

#include "base/crypto.h"
#include "sip/digest.h"

static struct sip_str S(const char *s) {
	return (struct sip_str){s, strlen(s)};
}

/* RFC 2617 section 3.5: "Mufasa" / "Circle Of Life", qop=auth, MD5. */
static void
test_rfc2617_example(void **state)
{
	struct sip_digest d = {0};
	char ha1[SIP_DIGEST_HEX_MAX], out[SIP_DIGEST_HEX_MAX];

	(void)state;
	assert_int_equal(base_ha1(BASE_DIGEST_MD5, "Mufasa",
				  "testrealm@host.com", "Circle Of Life", ha1,
				  sizeof(ha1)),
			 0);
	d.nonce = S("dcd98b7102dd2f0e8b11d0f600bfb0c093");
	d.uri = S("/dir/index.html");
	d.qop = S("auth");
	d.nc = S("00000001");
	d.cnonce = S("0a4f113b");
	assert_int_equal(sip_digest_expected(BASE_DIGEST_MD5, ha1, S("GET"), &d,
					     out, sizeof(out)),
			 0);
	assert_string_equal(out, "6629fae49393a05397450978507c4ef1");
}

/* RFC 7616 section 3.9.1: the same exchange with MD5 and SHA-256. */
static void test_rfc7616_examples(void **state)
{
	struct sip_digest d = {0};
	char ha1[SIP_DIGEST_HEX_MAX], out[SIP_DIGEST_HEX_MAX];

	(void)state;
	d.nonce = S("7ypf/xlj9XXwfDPEoM4URrv/xwf94BcCAzFZH4GiTo0v");
	d.uri = S("/dir/index.html");
	d.qop = S("auth");
	d.nc = S("00000001");
	d.cnonce = S("f2/wE4q74E6zIJEtWaHKaf5wv/H5QzzpXusqGemxURZJ");
	assert_int_equal(base_ha1(BASE_DIGEST_MD5, "Mufasa",
				  "http-auth@example.org", "Circle of Life",
				  ha1, sizeof(ha1)),
			 0);
	assert_int_equal(sip_digest_expected(BASE_DIGEST_MD5, ha1, S("GET"), &d,
					     out, sizeof(out)),
			 0);
	assert_string_equal(out, "8ca523f5e9506fed4657c9700eebdbec");
	assert_int_equal(base_ha1(BASE_DIGEST_SHA256, "Mufasa",
				  "http-auth@example.org", "Circle of Life",
				  ha1, sizeof(ha1)),
			 0);
	assert_int_equal(sip_digest_expected(BASE_DIGEST_SHA256, ha1, S("GET"),
					     &d, out, sizeof(out)),
			 0);
	assert_string_equal(
	    out,
	    "753927fa0e85d155564e2e272a28d1802ca10daf4496794697cf8db5856cb6c1");
}

static void test_alg_names(void **state)
{
	enum base_digest_alg a;

	(void)state;
	assert_int_equal(sip_digest_alg_parse((struct sip_str){0}, &a), 0);
	assert_int_equal(a, BASE_DIGEST_MD5);
	assert_int_equal(sip_digest_alg_parse(S("sha-256"), &a), 0);
	assert_int_equal(a, BASE_DIGEST_SHA256);
	assert_int_equal(sip_digest_alg_parse(S("MD5-sess"), &a), EINVAL);
	assert_int_equal(sip_digest_alg_parse(S("SHA-512-256"), &a), EINVAL);
	assert_string_equal(sip_digest_alg_name(BASE_DIGEST_SHA256), "SHA-256");
}

static const char secret[] = "0123456789abcdef-test-secret";
static const struct sip_nonce_bind B = {"192.0.2.1", "example.com"};

static void test_nonce_roundtrip_and_expiry(void **state)
{
	char n[SIP_NONCE_LEN + 1];
	int64_t issued = 0, t = 1800000000000LL;

	(void)state;
	assert_int_equal(
	    sip_nonce_make(secret, sizeof(secret), &B, t, n, sizeof(n)), 0);
	assert_int_equal(strlen(n), SIP_NONCE_LEN);
	assert_int_equal(sip_nonce_check(secret, sizeof(secret), &B, S(n),
					 t + 1000, 300000, &issued),
			 0);
	assert_true(issued == t);
	/* at the TTL: still fresh; one ms past it: stale */
	assert_int_equal(sip_nonce_check(secret, sizeof(secret), &B, S(n),
					 t + 300000, 300000, &issued),
			 0);
	assert_int_equal(sip_nonce_check(secret, sizeof(secret), &B, S(n),
					 t + 300001, 300000, &issued),
			 ESTALE);
	/* from the future (beyond clock skew): stale too */
	assert_int_equal(sip_nonce_check(secret, sizeof(secret), &B, S(n),
					 t - 60000, 300000, &issued),
			 ESTALE);
	/* another node with the same secret accepts it; another secret not */
	assert_int_equal(sip_nonce_check("another secret!!", 16, &B, S(n), t,
					 300000, &issued),
			 EINVAL);
	/* two nonces for the same instant differ */
	{
		char m[SIP_NONCE_LEN + 1];
		sip_nonce_make(secret, sizeof(secret), &B, t, m, sizeof(m));
		assert_string_not_equal(n, m);
	}
}

static void test_nonce_bound_to_address_and_realm(void **state)
{
	static const struct sip_nonce_bind other_ip = {"192.0.2.2",
						       "example.com"};
	static const struct sip_nonce_bind other_realm = {"192.0.2.1",
							  "example.org"};
	char n[SIP_NONCE_LEN + 1];
	int64_t issued, t = 1800000000000LL;

	(void)state;
	assert_int_equal(
	    sip_nonce_make(secret, sizeof(secret), &B, t, n, sizeof(n)), 0);
	assert_int_equal(sip_nonce_check(secret, sizeof(secret), &B, S(n), t,
					 300000, &issued),
			 0);
	assert_int_equal(sip_nonce_check(secret, sizeof(secret), &other_ip,
					 S(n), t, 300000, &issued),
			 EINVAL);
	assert_int_equal(sip_nonce_check(secret, sizeof(secret), &other_realm,
					 S(n), t, 300000, &issued),
			 EINVAL);
}

static void test_nonce_forgery(void **state)
{
	char n[SIP_NONCE_LEN + 1];
	int64_t issued, t = 1800000000000LL;

	(void)state;
	sip_nonce_make(secret, sizeof(secret), &B, t, n, sizeof(n));
	/* every single-character change is refused */
	for (size_t i = 0; i < SIP_NONCE_LEN; i++) {
		char m[SIP_NONCE_LEN + 1];
		memcpy(m, n, sizeof(m));
		m[i] = m[i] == '0' ? '1' : '0';
		if (m[i] == n[i])
			continue;
		assert_int_not_equal(sip_nonce_check(secret, sizeof(secret), &B,
						     S(m), t, 300000, &issued),
				     0);
	}
	/* a later issue time with the old MAC is refused */
	n[15] = n[15] == 'f' ? 'e' : 'f';
	assert_int_equal(sip_nonce_check(secret, sizeof(secret), &B, S(n), t,
					 300000, &issued),
			 EINVAL);
	assert_int_equal(sip_nonce_check(secret, sizeof(secret), &B, S("short"),
					 t, 300000, &issued),
			 EINVAL);
}

static void test_nc_replay(void **state)
{
	struct sip_nc_cache *c;
	char n[SIP_NONCE_LEN + 1];
	int64_t t = 1800000000000LL;

	(void)state;
	assert_int_equal(sip_nc_cache_new(&c, 16), 0);
	sip_nonce_make(secret, sizeof(secret), &B, t, n, sizeof(n));
	assert_int_equal(sip_nc_cache_use(c, S(n), t, S("00000001")), 0);
	assert_int_equal(sip_nc_cache_use(c, S(n), t, S("00000001")), EALREADY);
	assert_int_equal(sip_nc_cache_use(c, S(n), t, S("00000003")), 0);
	assert_int_equal(sip_nc_cache_use(c, S(n), t, S("00000002")), EALREADY);
	assert_int_equal(sip_nc_cache_use(c, S(n), t, S("0000000A")), 0);
	assert_int_equal(sip_nc_cache_use(c, S(n), t, S("00000000")), EINVAL);
	assert_int_equal(sip_nc_cache_use(c, S(n), t, S("0000001")), EINVAL);
	assert_int_equal(sip_nc_cache_use(c, S(n), t, S("0000001g")), EINVAL);
	sip_nc_cache_free(c);
}

/*
 * A full table forgets its oldest nonces, but never lets one of them be
 * used afresh: anything issued at or before a forgotten nonce is stale.
 */
static void test_nc_forgetting_is_stale_not_fresh(void **state)
{
	enum { N = 2000 };
	static char nonces[N][SIP_NONCE_LEN + 1];
	struct sip_nc_cache *c;
	int64_t t0 = 1800000000000LL;
	unsigned stale = 0;

	(void)state;
	assert_int_equal(sip_nc_cache_new(&c, 4), 0); /* 4 sets x 8 */
	for (int i = 0; i < N; i++) {
		sip_nonce_make(secret, sizeof(secret), &B, t0 + i, nonces[i],
			       sizeof(nonces[i]));
		assert_int_equal(
		    sip_nc_cache_use(c, S(nonces[i]), t0 + i, S("00000001")),
		    0);
	}
	/* Replaying any of them: refused, as a replay or as stale. */
	for (int i = 0; i < N; i++) {
		int r =
		    sip_nc_cache_use(c, S(nonces[i]), t0 + i, S("00000001"));
		assert_true(r == EALREADY || r == ESTALE);
		stale += r == ESTALE;
	}
	assert_true(stale > 0); /* the table did forget some */
	/* A nonce newer than everything is accepted. */
	{
		char fresh[SIP_NONCE_LEN + 1];
		sip_nonce_make(secret, sizeof(secret), &B, t0 + N + 10, fresh,
			       sizeof(fresh));
		assert_int_equal(
		    sip_nc_cache_use(c, S(fresh), t0 + N + 10, S("00000001")),
		    0);
	}
	sip_nc_cache_free(c);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_rfc2617_example),
	    cmocka_unit_test(test_rfc7616_examples),
	    cmocka_unit_test(test_alg_names),
	    cmocka_unit_test(test_nonce_roundtrip_and_expiry),
	    cmocka_unit_test(test_nonce_bound_to_address_and_realm),
	    cmocka_unit_test(test_nonce_forgery),
	    cmocka_unit_test(test_nc_replay),
	    cmocka_unit_test(test_nc_forgetting_is_stale_not_fresh),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
