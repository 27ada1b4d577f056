/* test_base.c - unit tests for src/base: ids, digests, text, time, addr, log.
 */
#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>
#include <time.h>

#include <cmocka.h>

#include "base/addr.h"
#include "base/crypto.h"
#include "base/id.h"
#include "base/log.h"
#include "base/text.h"
#include "base/time.h"

/* ---- ids ---- */

static bool is_lower_hex(char c)
{
	return (c >= '0' && c <= '9') || (c >= 'a' && c <= 'f');
}

static void test_id_uuid_format(void **state)
{
	char u[BASE_UUID_LEN + 1], prev[BASE_UUID_LEN + 1] = "";

	(void)state;
	for (int n = 0; n < 200; n++) {
		memset(u, 'X', sizeof(u));
		assert_int_equal(base_id_uuid(u, sizeof(u)), 0);
		assert_int_equal(strlen(u), 36);
		for (int i = 0; i < 36; i++) {
			if (i == 8 || i == 13 || i == 18 || i == 23)
				assert_int_equal(u[i], '-');
			else
				assert_true(is_lower_hex(u[i]));
		}
		assert_int_equal(u[14], '4');		/* version 4 */
		assert_non_null(strchr("89ab", u[19])); /* RFC 4122 variant */
		assert_string_not_equal(u, prev);
		memcpy(prev, u, sizeof(u));
	}
}

static void test_id_uuid_cap(void **state)
{
	char u[BASE_UUID_LEN + 1];

	(void)state;
	assert_int_equal(base_id_uuid(u, BASE_UUID_LEN), ERANGE);
}

#define DIGITS 15
static void test_id_decimal_format(void **state)
{
	char d[DIGITS + 1], prev[DIGITS + 1] = "";
	bool seen_first[10] = {false}, seen_rest[10] = {false};

	(void)state;
	for (int n = 0; n < 1000; n++) {
		assert_int_equal(base_id_decimal(d, sizeof(d), DIGITS), 0);
		assert_int_equal(strlen(d), DIGITS);
		assert_true(d[0] >= '1' && d[0] <= '9');
		seen_first[d[0] - '0'] = true;
		for (int i = 1; i < DIGITS; i++) {
			assert_true(d[i] >= '0' && d[i] <= '9');
			seen_rest[d[i] - '0'] = true;
		}
		assert_string_not_equal(d, prev);
		memcpy(prev, d, sizeof(d));
	}
	assert_false(seen_first[0]);
	for (int i = 1; i < 10; i++)
		assert_true(seen_first[i]);
	for (int i = 0; i < 10; i++)
		assert_true(seen_rest[i]);
}

static void test_id_decimal_bounds(void **state)
{
	char d[32];

	(void)state;
	assert_int_equal(base_id_decimal(d, sizeof(d), 0), ERANGE);
	assert_int_equal(base_id_decimal(d, 15, 15), ERANGE); /* no NUL room */
	assert_int_equal(base_id_decimal(d, 2, 1), 0);
	assert_int_equal(strlen(d), 1);
	assert_true(d[0] >= '1' && d[0] <= '9');
	assert_int_equal(base_id_decimal(d, sizeof(d), 17), 0);
	assert_int_equal(strlen(d), 17);
}

static void test_id_auth(void **state)
{
	char a[BASE_AUTH_ID_LEN + 1], prev[BASE_AUTH_ID_LEN + 1] = "";

	(void)state;
	for (int n = 0; n < 200; n++) {
		assert_int_equal(base_id_auth(a, sizeof(a)), 0);
		assert_int_equal(strlen(a), 11);
		assert_memory_equal(a, "MA_", 3);
		for (int i = 3; i < 11; i++)
			assert_true((a[i] >= 'A' && a[i] <= 'Z') ||
				    (a[i] >= '0' && a[i] <= '9'));
		assert_string_not_equal(a, prev);
		memcpy(prev, a, sizeof(a));
	}
	assert_int_equal(base_id_auth(a, BASE_AUTH_ID_LEN), ERANGE);
}

static void test_id_token(void **state)
{
	char t[BASE_TOKEN_LEN + 1], t2[BASE_TOKEN_LEN + 1];
	bool lower = false, upper = false, digit = false;

	(void)state;
	for (int n = 0; n < 50; n++) {
		assert_int_equal(base_id_token(t, sizeof(t)), 0);
		assert_int_equal(base_id_token(t2, sizeof(t2)), 0);
		assert_int_equal(strlen(t), 40);
		assert_int_equal(strlen(t2), 40);
		assert_string_not_equal(t, t2);
		for (int i = 0; i < 40; i++) {
			char c = t[i];
			lower |= c >= 'a' && c <= 'z';
			upper |= c >= 'A' && c <= 'Z';
			digit |= c >= '0' && c <= '9';
			assert_true((c >= 'a' && c <= 'z') ||
				    (c >= 'A' && c <= 'Z') ||
				    (c >= '0' && c <= '9'));
		}
	}
	assert_true(lower && upper && digit);
	assert_int_equal(base_id_token(t, BASE_TOKEN_LEN), ERANGE);
}

static void test_rand_fill(void **state)
{
	unsigned char a[32] = {0}, b[32] = {0}, zero[32] = {0};

	(void)state;
	assert_int_equal(base_rand_fill(a, sizeof(a)), 0);
	assert_int_equal(base_rand_fill(b, sizeof(b)), 0);
	assert_memory_not_equal(a, b, sizeof(a));
	assert_memory_not_equal(a, zero, sizeof(a));
	assert_int_equal(base_rand_fill(a, 0), 0);
}

/* ---- digests ---- */

static void test_ha1_md5_rfc2617(void **state)
{
	char out[33];

	(void)state;
	assert_int_equal(base_ha1(BASE_DIGEST_MD5, "Mufasa",
				  "testrealm@host.com", "Circle Of Life", out,
				  sizeof(out)),
			 0);
	assert_string_equal(out, "939e7578ed9e3c518a452acee763bce9");
}

static void test_ha1_sha256(void **state)
{
	char out[65];

	(void)state;
	/* printf '%s' 'user:realm:pw' | sha256sum */
	assert_int_equal(base_ha1(BASE_DIGEST_SHA256, "user", "realm", "pw",
				  out, sizeof(out)),
			 0);
	assert_string_equal(
	    out,
	    "9850658475bf2cd6c184902a7df96a9d2fc645371c6069f89e666014823210e6");
	/* RFC 7616 section 3.9.1 */
	assert_int_equal(base_ha1(BASE_DIGEST_SHA256, "Mufasa",
				  "http-auth@example.org", "Circle of Life",
				  out, sizeof(out)),
			 0);
	assert_string_equal(
	    out,
	    "7987c64c30e25f1b74be53f966b49b90f2808aa92faf9a00262392d7b4794232");
	assert_int_equal(base_ha1(BASE_DIGEST_MD5, "Mufasa",
				  "http-auth@example.org", "Circle of Life",
				  out, sizeof(out)),
			 0);
	assert_string_equal(out, "3d78807defe7de2157e2b0b6573a855f");
}

static void test_ha1_cap(void **state)
{
	char out[65];

	(void)state;
	assert_int_equal(base_ha1(BASE_DIGEST_MD5, "u", "r", "p", out, 32),
			 ERANGE);
	assert_int_equal(base_ha1(BASE_DIGEST_SHA256, "u", "r", "p", out, 64),
			 ERANGE);
	assert_int_equal(base_ha1(BASE_DIGEST_MD5, "u", "r", "p", out, 33), 0);
	assert_int_equal(strlen(out), 32);
}

static void test_digest_hex(void **state)
{
	char out[65];

	(void)state;
	assert_int_equal(base_digest_hexlen(BASE_DIGEST_MD5), 32);
	assert_int_equal(base_digest_hexlen(BASE_DIGEST_SHA256), 64);
	assert_int_equal(
	    base_digest_hex(BASE_DIGEST_SHA256, "", 0, out, sizeof(out)), 0);
	assert_string_equal(
	    out,
	    "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855");
	assert_int_equal(
	    base_digest_hex(BASE_DIGEST_MD5, "", 0, out, sizeof(out)), 0);
	assert_string_equal(out, "d41d8cd98f00b204e9800998ecf8427e");
}

static void test_secure_eq(void **state)
{
	(void)state;
	assert_true(base_secure_eq("abcdef", "abcdef", 6));
	assert_false(base_secure_eq("abcdef", "abcdeg", 6));
	assert_false(base_secure_eq("xbcdef", "abcdef", 6));
	assert_true(base_secure_eq("abcdef", "abcdeg", 5));
	assert_true(base_secure_eq("a", "b", 0));
}

static void test_wipe(void **state)
{
	char buf[16];

	(void)state;
	memset(buf, 'x', sizeof(buf));
	base_wipe(buf, 8);
	for (int i = 0; i < 8; i++)
		assert_int_equal(buf[i], 0);
	for (int i = 8; i < 16; i++)
		assert_int_equal(buf[i], 'x');
}

/* ---- text ---- */

struct scan_case {
	const char *s;
	size_t len;
	int rc;
	size_t count;
	bool printable;
};

#define OK(str, n, pr)                         \
	{                                      \
		str, sizeof(str) - 1, 0, n, pr \
	}
#define BAD(str)                                       \
	{                                              \
		str, sizeof(str) - 1, EILSEQ, 0, false \
	}

static const struct scan_case scan_cases[] = {
    OK("", 0, true),
    OK("abc", 3, true),
    OK(" ~", 2, true),
    OK("\xc3\xa9", 1, true),	     /* é */
    OK("caf\xc3\xa9", 4, true),	     /* café */
    OK("\xe2\x82\xac", 1, true),     /* € */
    OK("\xf0\x9f\x98\x80", 1, true), /* 😀 */
    OK("\xf4\x8f\xbf\xbf", 1, true), /* U+10FFFF */
    OK("\xc2\xa0", 1, true),	     /* U+00A0, first after C1 */
    OK("\xed\x9f\xbf", 1, true),     /* U+D7FF */
    OK("\xee\x80\x80", 1, true),     /* U+E000 */
    OK("\xe0\xa0\x80", 1, true),     /* U+0800, smallest 3-byte */
    OK("\xf0\x90\x80\x80", 1, true), /* U+10000, smallest 4-byte */
    OK("\xc2\x80", 1, false),	     /* U+0080, C1 control */
    OK("\xc2\x85", 1, false),	     /* NEL */
    OK("\xc2\x9f", 1, false),	     /* U+009F */
    OK("\x01", 1, false),
    OK("\x1f", 1, false),
    OK("a\tb", 3, false),
    OK("a\nb", 3, false),
    OK("\r", 1, false),
    OK("\x7f", 1, false),
    OK("ab\0cd", 5, false),  /* NUL counted and not printable */
    BAD("\xc0\x80"),	     /* overlong NUL */
    BAD("\xc1\xbf"),	     /* overlong 2-byte */
    BAD("\xe0\x80\x80"),     /* overlong 3-byte */
    BAD("\xe0\x9f\xbf"),     /* overlong 3-byte, max */
    BAD("\xf0\x80\x80\x80"), /* overlong 4-byte */
    BAD("\xf0\x8f\xbf\xbf"), /* overlong 4-byte, max */
    BAD("\xed\xa0\x80"),     /* U+D800 */
    BAD("\xed\xbf\xbf"),     /* U+DFFF */
    BAD("\xed\xb0\x80"),     /* U+DC00 */
    BAD("\xf4\x90\x80\x80"), /* U+110000 */
    BAD("\xf5\x80\x80\x80"),
    BAD("\xf8\x88\x80\x80\x80"),
    BAD("\xfc\x84\x80\x80\x80\x80"),
    BAD("\xfe"),
    BAD("\xff"),
    BAD("\x80"), /* lone continuation */
    BAD("a\xbf"),
    BAD("\xc3"), /* truncated */
    BAD("\xe2\x82"),
    BAD("\xf0\x9f\x98"),
    BAD("abc\xc3"),
    BAD("\xc3\x41"), /* bad continuation */
    BAD("\xe2\x28\xa1"),
    BAD("\xe2\x82\x28"),
    BAD("\xf0\x9f\x98\x28"),
    BAD("\xc3\xc3\xa9"),
};

static void test_text_scan(void **state)
{
	(void)state;
	for (size_t i = 0; i < sizeof(scan_cases) / sizeof(scan_cases[0]);
	     i++) {
		const struct scan_case *t = &scan_cases[i];
		size_t n = 12345;
		bool pr = !t->printable;
		int rc = base_text_scan(t->s, t->len, &n, &pr);

		print_message("case %zu\n", i);
		assert_int_equal(rc, t->rc);
		if (rc == 0) {
			assert_int_equal(n, t->count);
			assert_int_equal(pr, t->printable);
		} else {
			/* Outputs are written only on success. */
			assert_int_equal(n, 12345);
		}
	}
}

static void test_text_scan_respects_len(void **state)
{
	const char s[] = "\xc3\xa9"; /* valid é when read whole */
	size_t n = 0;
	bool pr = false;

	(void)state;
	/* Only the lead byte is inside len: the decoder must not look on. */
	assert_int_equal(base_text_scan(s, 1, &n, &pr), EILSEQ);
	assert_int_equal(base_text_scan("abcdef", 3, &n, &pr), 0);
	assert_int_equal(n, 3);
	assert_int_equal(base_text_scan("\xf0\x9f\x98\x80", 3, &n, &pr),
			 EILSEQ);
}

static void test_text_check(void **state)
{
	(void)state;
	assert_int_equal(base_text_check("abc", 3, 1, 3), 0);
	assert_int_equal(base_text_check("abc", 3, 1, 2), ERANGE);
	assert_int_equal(base_text_check("abc", 3, 4, 10), ERANGE);
	assert_int_equal(base_text_check("", 0, 1, 10), ERANGE);
	assert_int_equal(base_text_check("", 0, 0, 10), 0);
	/* Four code points in eight bytes. */
	assert_int_equal(
	    base_text_check("\xc3\xa9\xc3\xa9\xc3\xa9\xc3\xa9", 8, 1, 4), 0);
	assert_int_equal(
	    base_text_check("\xc3\xa9\xc3\xa9\xc3\xa9\xc3\xa9", 8, 1, 3),
	    ERANGE);
	assert_int_equal(
	    base_text_check("\xc3\xa9\xc3\xa9\xc3\xa9\xc3\xa9", 8, 5, 8),
	    ERANGE);
	assert_int_equal(base_text_check("a\x01", 2, 1, 10), EILSEQ);
	assert_int_equal(base_text_check("a\xc2\x90", 3, 1, 10), EILSEQ);
	assert_int_equal(base_text_check("a\xc0\xaf", 3, 1, 10), EILSEQ);
	/* Invalid text is EILSEQ even when its length is also wrong. */
	assert_int_equal(base_text_check("\xff", 1, 5, 10), EILSEQ);
	assert_int_equal(base_text_check("\x01", 1, 5, 10), EILSEQ);
}

/* ---- time ---- */

static void test_time_iso(void **state)
{
	char buf[32];

	(void)state;
	assert_string_equal(base_time_iso(0, buf, sizeof(buf)),
			    "1970-01-01T00:00:00.000Z");
	assert_string_equal(base_time_iso(1700000000123LL, buf, sizeof(buf)),
			    "2023-11-14T22:13:20.123Z");
	assert_string_equal(base_time_iso(951782400007LL, buf, sizeof(buf)),
			    "2000-02-29T00:00:00.007Z");
	assert_string_equal(base_time_iso(4102444799999LL, buf, sizeof(buf)),
			    "2099-12-31T23:59:59.999Z");
	/* 24 characters + NUL fit in 25 bytes. */
	assert_string_equal(base_time_iso(1700000000123LL, buf, 25),
			    "2023-11-14T22:13:20.123Z");
	/* The same as gmtime_r from 1970 to 9999 (a step of 11 days, 1 s
	 * and 7 ms meets every day of the month, month and leap rule). */
	for (int64_t ms = 0; ms < 253402300799999LL;
	     ms += 11 * 86400000LL + 1007) {
		char want[96];
		time_t t = (time_t)(ms / 1000);
		struct tm tm;

		assert_non_null(gmtime_r(&t, &tm));
		snprintf(want, sizeof(want),
			 "%04d-%02d-%02dT%02d:%02d:%02d.%03dZ",
			 tm.tm_year + 1900, tm.tm_mon + 1, tm.tm_mday,
			 tm.tm_hour, tm.tm_min, tm.tm_sec, (int)(ms % 1000));
		assert_string_equal(base_time_iso(ms, buf, sizeof(buf)), want);
	}
	assert_string_equal(base_time_iso(-5, buf, sizeof(buf)),
			    "1970-01-01T00:00:00.000Z");
	assert_string_equal(base_time_iso(INT64_MAX, buf, sizeof(buf)),
			    "9999-12-31T23:59:59.999Z");
	/* Returns out, NUL-terminated, when the cap is short. */
	memset(buf, 'x', sizeof(buf));
	assert_ptr_equal(base_time_iso(0, buf, 5), buf);
	assert_int_equal(strlen(buf), 4);
}

static void test_time_now(void **state)
{
	int64_t a = base_time_now_ms(), m = base_time_mono_s();
	char buf[32];

	(void)state;
	assert_true(a > 1600000000000LL); /* after 2020 */
	assert_true(a < 4102444800000LL); /* before 2100 */
	assert_true(base_time_now_ms() >= a);
	assert_true(base_time_mono_s() >= m);
	base_time_iso(a, buf, sizeof(buf));
	assert_int_equal(strlen(buf), 24);
	assert_int_equal(buf[23], 'Z');
	assert_int_equal(buf[10], 'T');
}

/* ---- addr ---- */

static void test_addr_v4(void **state)
{
	struct sockaddr_storage ss;
	socklen_t len = 0;
	const struct sockaddr_in *s4 = (const struct sockaddr_in *)&ss;
	char ip[64];

	(void)state;
	assert_int_equal(base_addr_parse("127.0.0.1:8080", &ss, &len), 0);
	assert_int_equal(ss.ss_family, AF_INET);
	assert_int_equal(len, sizeof(struct sockaddr_in));
	assert_int_equal(ntohs(s4->sin_port), 8080);
	assert_int_equal(ntohl(s4->sin_addr.s_addr), 0x7f000001);
	assert_string_equal(
	    base_addr_ip((const struct sockaddr *)&ss, ip, sizeof(ip)),
	    "127.0.0.1");

	assert_int_equal(base_addr_parse("0.0.0.0:0", &ss, &len), 0);
	assert_int_equal(ntohs(s4->sin_port), 0);
	assert_int_equal(base_addr_parse("10.1.2.3:65535", &ss, &len), 0);
	assert_int_equal(ntohs(s4->sin_port), 65535);
}

static void test_addr_v6(void **state)
{
	struct sockaddr_storage ss;
	socklen_t len = 0;
	const struct sockaddr_in6 *s6 = (const struct sockaddr_in6 *)&ss;
	char ip[64];

	(void)state;
	assert_int_equal(base_addr_parse("[::1]:5060", &ss, &len), 0);
	assert_int_equal(ss.ss_family, AF_INET6);
	assert_int_equal(len, sizeof(struct sockaddr_in6));
	assert_int_equal(ntohs(s6->sin6_port), 5060);
	assert_true(IN6_IS_ADDR_LOOPBACK(&s6->sin6_addr));
	assert_string_equal(
	    base_addr_ip((const struct sockaddr *)&ss, ip, sizeof(ip)), "::1");

	assert_int_equal(base_addr_parse("[2001:db8::10]:443", &ss, &len), 0);
	assert_string_equal(
	    base_addr_ip((const struct sockaddr *)&ss, ip, sizeof(ip)),
	    "2001:db8::10");
	assert_int_equal(base_addr_parse("[::]:0", &ss, &len), 0);
}

static void test_addr_bad(void **state)
{
	static const char *const bad[] = {
	    "",
	    ":",
	    ":80",
	    "127.0.0.1",
	    "127.0.0.1:",
	    "127.0.0.1:65536",
	    "127.0.0.1:-1",
	    "127.0.0.1:80x",
	    "127.0.0.1:99999999999999999999",
	    "127.0.0.256:80",
	    "1.2.3:80",
	    "localhost:80",
	    "example.com:80",
	    "::1:80",
	    "[::1]",
	    "[::1]80",
	    "[::1]:",
	    "[::1]:x",
	    "[::1:80",
	    "[]:80",
	    "[127.0.0.1]:80",
	    "[::g]:80",
	    "1111111111111111111111111111111111111111111111111111111111111111"
	    "1111:80",
	    "[1111111111111111111111111111111111111111111111111111111111111111"
	    "1111]:80",
	};
	struct sockaddr_storage ss;
	socklen_t len = 77;

	(void)state;
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		print_message("addr '%s'\n", bad[i]);
		assert_int_equal(base_addr_parse(bad[i], &ss, &len), EINVAL);
		assert_int_equal(len, 77); /* not written on failure */
	}
}

static void test_addr_ip_unknown(void **state)
{
	struct sockaddr sa = {.sa_family = AF_UNIX};
	char ip[64] = "junk";

	(void)state;
	assert_string_equal(base_addr_ip(&sa, ip, sizeof(ip)), "");
	strcpy(ip, "junk");
	assert_string_equal(base_addr_ip(NULL, ip, sizeof(ip)), "");
}

/* ---- log ---- */

static void test_log_quote(void **state)
{
	char out[128];

	(void)state;
	assert_string_equal(base_log_quote("abc", out, sizeof(out)), "\"abc\"");
	assert_string_equal(base_log_quote("", out, sizeof(out)), "\"\"");
	assert_string_equal(base_log_quote(NULL, out, sizeof(out)), "\"\"");
	assert_string_equal(base_log_quote("a b=c", out, sizeof(out)),
			    "\"a b=c\"");
	assert_string_equal(base_log_quote("a\"b\\c", out, sizeof(out)),
			    "\"a\\\"b\\\\c\"");
	assert_string_equal(
	    base_log_quote("x\ny\r\t\x01\x1f\x7f", out, sizeof(out)),
	    "\"x\\x0ay\\x0d\\x09\\x01\\x1f\\x7f\"");
	/* Bytes >= 0x80 (UTF-8) pass through. */
	assert_string_equal(base_log_quote("caf\xc3\xa9", out, sizeof(out)),
			    "\"caf\xc3\xa9\"");
	/* A forged second log line stays on the first. */
	base_log_quote("x level=error event=forged\nts=1", out, sizeof(out));
	assert_null(strchr(out, '\n'));
}

static void test_log_quote_caps(void **state)
{
	/* Every cap from 0 to 40, with escapes at every position. */
	static const char *const srcs[] = {
	    "abcdefghijklmnopqrstuvwxyz0123456789",
	    "\n\n\n\n\n\n\n\n\n\n\n\n\n\n\n\n",
	    "a\nb\"c\\d\x01"
	    "e\x7f"
	    "fghijklmnop\n\n\"\"",
	};
	char buf[64];

	(void)state;
	for (size_t s = 0; s < sizeof(srcs) / sizeof(srcs[0]); s++) {
		for (unsigned cap = 0; cap <= 40; cap++) {
			const char *r;
			size_t n;

			memset(buf, '#', sizeof(buf));
			r = base_log_quote(srcs[s], buf, cap);
			if (cap < 3) {
				assert_string_equal(r, "");
				for (unsigned i = 0; i < sizeof(buf); i++)
					assert_int_equal(buf[i], '#');
				continue;
			}
			assert_ptr_equal(r, buf);
			n = strlen(buf);
			assert_true(n < cap);
			assert_true(n >= 2);
			assert_int_equal(buf[0], '"');
			assert_int_equal(buf[n - 1], '"');
			/* Nothing written past cap. */
			for (unsigned i = cap; i < sizeof(buf); i++)
				assert_int_equal(buf[i], '#');
			/* No control bytes and no cut escape. */
			for (size_t i = 0; i < n; i++)
				assert_true((unsigned char)buf[i] >= 0x20 &&
					    buf[i] != 0x7f);
			if (n >= 2 && buf[n - 2] == '\\') {
				/* a backslash before the closing quote must be
				 * an escaped backslash */
				size_t k = 0;
				for (size_t i = n - 2; i > 0 && buf[i] == '\\';
				     i--)
					k++;
				assert_int_equal(k % 2, 0);
			}
		}
	}
}

static void test_log_level_parse(void **state)
{
	enum base_log_level l = BASE_LOG_ERROR;

	(void)state;
	assert_int_equal(base_log_level_parse("debug", &l), 0);
	assert_int_equal(l, BASE_LOG_DEBUG);
	assert_int_equal(base_log_level_parse("info", &l), 0);
	assert_int_equal(l, BASE_LOG_INFO);
	assert_int_equal(base_log_level_parse("warn", &l), 0);
	assert_int_equal(l, BASE_LOG_WARN);
	assert_int_equal(base_log_level_parse("error", &l), 0);
	assert_int_equal(l, BASE_LOG_ERROR);
	assert_int_equal(base_log_level_parse("INFO", &l), EINVAL);
	assert_int_equal(base_log_level_parse("", &l), EINVAL);
	assert_int_equal(base_log_level_parse("warning", &l), EINVAL);
	assert_int_equal(l, BASE_LOG_ERROR);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_id_uuid_format),
	    cmocka_unit_test(test_id_uuid_cap),
	    cmocka_unit_test(test_id_decimal_format),
	    cmocka_unit_test(test_id_decimal_bounds),
	    cmocka_unit_test(test_id_auth),
	    cmocka_unit_test(test_id_token),
	    cmocka_unit_test(test_rand_fill),
	    cmocka_unit_test(test_ha1_md5_rfc2617),
	    cmocka_unit_test(test_ha1_sha256),
	    cmocka_unit_test(test_ha1_cap),
	    cmocka_unit_test(test_digest_hex),
	    cmocka_unit_test(test_secure_eq),
	    cmocka_unit_test(test_wipe),
	    cmocka_unit_test(test_text_scan),
	    cmocka_unit_test(test_text_scan_respects_len),
	    cmocka_unit_test(test_text_check),
	    cmocka_unit_test(test_time_iso),
	    cmocka_unit_test(test_time_now),
	    cmocka_unit_test(test_addr_v4),
	    cmocka_unit_test(test_addr_v6),
	    cmocka_unit_test(test_addr_bad),
	    cmocka_unit_test(test_addr_ip_unknown),
	    cmocka_unit_test(test_log_quote),
	    cmocka_unit_test(test_log_quote_caps),
	    cmocka_unit_test(test_log_level_parse),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
