/* test_model.c - unit tests for src/model: the field rules of the contract. */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>

#include <cmocka.h>

#include "base/text.h"
#include "model/binding.h"
#include "model/field.h"
#include "model/model.h"

/* Writes n copies of unit into buf (cap bytes) and returns the length. */
static size_t repeat(char *buf, size_t cap, const char *unit, size_t n)
{
	size_t ul = strlen(unit), len = 0;

	assert_true(ul * n < cap);
	for (size_t i = 0; i < n; i++) {
		memcpy(buf + len, unit, ul);
		len += ul;
	}
	buf[len] = '\0';
	return len;
}

typedef int (*text_check)(const char *s, size_t len, const char *field,
			  struct model_errors *errs);

/* Runs check on s; asserts rc and that errs holds one entry for field. */
static void expect(text_check check, const char *s, size_t len, int want)
{
	struct model_errors errs = {0};
	int rc = check(s, len, "f", &errs);

	if (rc != want)
		print_error("input '%.*s' (%zu bytes): got %d want %d\n",
			    (int)len, s, len, rc, want);
	assert_int_equal(rc, want);
	if (want == 0) {
		assert_int_equal(errs.n, 0);
	} else {
		assert_int_equal(errs.n, 1);
		assert_string_equal(model_errors_field(&errs, 0), "f");
		assert_true(strlen(errs.e[0].msg) > 0);
	}
}

#define EXPECT(check, lit, want) expect(check, lit, sizeof(lit) - 1, want)

/* ---- username ---- */

static void test_username(void **state)
{
	char buf[256];
	size_t n;

	(void)state;
	EXPECT(model_username_check, "a", 0);
	EXPECT(model_username_check, "Z", 0);
	EXPECT(model_username_check, "0", 0);
	EXPECT(model_username_check, "_", 0);
	EXPECT(model_username_check, "alice_01", 0);
	EXPECT(model_username_check, "AbC_xyz_0123456789", 0);
	EXPECT(model_username_check, "", EINVAL);
	EXPECT(model_username_check, "a-b", EINVAL);
	EXPECT(model_username_check, "a.b", EINVAL);
	EXPECT(model_username_check, "a b", EINVAL);
	EXPECT(model_username_check, "a@b", EINVAL);
	EXPECT(model_username_check, "a:b", EINVAL);
	EXPECT(model_username_check, "a;b", EINVAL);
	EXPECT(model_username_check, "a+b", EINVAL);
	EXPECT(model_username_check, "a%41", EINVAL);
	EXPECT(model_username_check, "ab\n", EINVAL);
	EXPECT(model_username_check, "ab\0c", EINVAL);
	EXPECT(model_username_check, "caf\xc3\xa9", EINVAL);
	EXPECT(model_username_check, "\xc3\xa9", EINVAL);
	/* 64 is the limit, counted in characters (all ASCII here). */
	n = repeat(buf, sizeof(buf), "a", 64);
	expect(model_username_check, buf, n, 0);
	n = repeat(buf, sizeof(buf), "a", 65);
	expect(model_username_check, buf, n, EINVAL);
	n = repeat(buf, sizeof(buf), "_", 200);
	expect(model_username_check, buf, n, EINVAL);
	/* Every byte outside [A-Za-z0-9_] is refused. */
	for (int c = 1; c < 256; c++) {
		char s[3] = {'a', (char)c, '\0'};
		bool ok = (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') ||
			  (c >= '0' && c <= '9') || c == '_';
		expect(model_username_check, s, 2, ok ? 0 : EINVAL);
	}
}

/* ---- password ---- */

static void test_password_length(void **state)
{
	char buf[1024];
	size_t n;

	(void)state;
	EXPECT(model_password_check, "12345678", 0);
	EXPECT(model_password_check, "1234567", EINVAL);
	EXPECT(model_password_check, "", EINVAL);
	n = repeat(buf, sizeof(buf), "x", 128);
	expect(model_password_check, buf, n, 0);
	n = repeat(buf, sizeof(buf), "x", 129);
	expect(model_password_check, buf, n, EINVAL);
	/* Characters, not bytes: 7 x "é" is 14 bytes but 7 characters. */
	n = repeat(buf, sizeof(buf), "\xc3\xa9", 7);
	expect(model_password_check, buf, n, EINVAL);
	n = repeat(buf, sizeof(buf), "\xc3\xa9", 8);
	expect(model_password_check, buf, n, 0);
	/* 128 four-byte characters (512 bytes) are allowed; 129 are not. */
	n = repeat(buf, sizeof(buf), "\xf0\x9f\x98\x80", 128);
	expect(model_password_check, buf, n, 0);
	n = repeat(buf, sizeof(buf), "\xf0\x9f\x98\x80", 129);
	expect(model_password_check, buf, n, EINVAL);
	n = repeat(buf, sizeof(buf), "\xe2\x82\xac", 128);
	expect(model_password_check, buf, n, 0);
}

static void test_password_chars(void **state)
{
	(void)state;
	EXPECT(model_password_check, "pass word", 0);
	EXPECT(model_password_check, "p@ss'w\"rd!#$%^&*()", 0);
	EXPECT(model_password_check, "        ", 0);
	EXPECT(model_password_check, "\xf0\x9f\x98\x80secret12", 0);
	EXPECT(model_password_check, "pass\tword", EINVAL);
	EXPECT(model_password_check, "password\n", EINVAL);
	EXPECT(model_password_check, "pass\x7fword", EINVAL);
	EXPECT(model_password_check, "pass\x01word", EINVAL);
	EXPECT(model_password_check, "pass\xc2\x85word", EINVAL); /* NEL */
	EXPECT(model_password_check, "pass\xc2\x9fword", EINVAL);
	EXPECT(model_password_check, "pass\0word", EINVAL);
	EXPECT(model_password_check, "pass\xffword", EINVAL);
	EXPECT(model_password_check, "pass\xc0\xafword", EINVAL);
	EXPECT(model_password_check, "pass\xed\xa0\x80word", EINVAL);
	EXPECT(model_password_check, "password\xc3", EINVAL);
	/* Too short and with a control character: still one entry. */
	EXPECT(model_password_check, "a\n", EINVAL);
}

static void test_password_messages(void **state)
{
	struct model_errors errs = {0};
	char buf[256];
	size_t n;

	(void)state;
	/* The contract's example message, word for word. */
	assert_int_equal(model_password_check("short", 5, "password", &errs),
			 EINVAL);
	assert_int_equal(errs.n, 1);
	assert_string_equal(model_errors_field(&errs, 0), "password");
	assert_string_equal(errs.e[0].msg,
			    "Password must be at least 8 characters");
	/* The password itself never appears in the message. */
	memset(&errs, 0, sizeof(errs));
	n = repeat(buf, sizeof(buf), "Zq", 70);
	assert_int_equal(model_password_check(buf, n, "password", &errs),
			 EINVAL);
	assert_null(strstr(errs.e[0].msg, "ZqZq"));
	memset(&errs, 0, sizeof(errs));
	assert_int_equal(
	    model_password_check("Secret\tXyz", 10, "password", &errs), EINVAL);
	assert_null(strstr(errs.e[0].msg, "Secret"));
	assert_null(strstr(errs.e[0].msg, "Xyz"));
}

/* ---- alias and app_name ---- */

static void text_rule_common(text_check check, size_t max)
{
	char buf[2048];
	size_t n;

	EXPECT(check, "a", 0);
	EXPECT(check, "", EINVAL);
	EXPECT(check, "Bob's phone", 0);
	EXPECT(check, "John Doe's desk phone", 0);
	EXPECT(check, " ", 0);
	EXPECT(check, "\"quoted\" <and> & stuff", 0);
	EXPECT(check, "Caf\xc3\xa9 \xe2\x98\x95", 0);
	EXPECT(check, "\xe6\x97\xa5\xe6\x9c\xac\xe8\xaa\x9e", 0);
	EXPECT(check, "\xf0\x9f\x93\x9e desk", 0);
	EXPECT(check, "a\tb", EINVAL);
	EXPECT(check, "a\nb", EINVAL);
	EXPECT(check, "a\rb", EINVAL);
	EXPECT(check, "a\x7f", EINVAL);
	EXPECT(check, "a\x1b[31m", EINVAL);
	EXPECT(check, "a\xc2\x80", EINVAL);
	EXPECT(check, "a\xc2\x9f", EINVAL);
	EXPECT(check, "a\0b", EINVAL);
	EXPECT(check, "a\xff", EINVAL);
	EXPECT(check, "a\xc0\x80", EINVAL);
	EXPECT(check, "a\xed\xbf\xbf", EINVAL);
	EXPECT(check, "a\xf4\x90\x80\x80", EINVAL);
	EXPECT(check, "a\xe2\x82", EINVAL);
	EXPECT(check, "\xc2\xa0", 0); /* U+00A0 is not a control */
	n = repeat(buf, sizeof(buf), "a", max);
	expect(check, buf, n, 0);
	n = repeat(buf, sizeof(buf), "a", max + 1);
	expect(check, buf, n, EINVAL);
	/* Counted in code points: max x 4-byte characters pass. */
	n = repeat(buf, sizeof(buf), "\xf0\x9f\x98\x80", max);
	expect(check, buf, n, 0);
	n = repeat(buf, sizeof(buf), "\xf0\x9f\x98\x80", max + 1);
	expect(check, buf, n, EINVAL);
	n = repeat(buf, sizeof(buf), "\xc3\xa9", max);
	expect(check, buf, n, 0);
	n = repeat(buf, sizeof(buf), "\xc3\xa9", max + 1);
	expect(check, buf, n, EINVAL);
}

static void test_alias(void **state)
{
	(void)state;
	text_rule_common(model_alias_check, 128);
}

static void test_app_name(void **state)
{
	(void)state;
	text_rule_common(model_app_name_check, 128);
}

static void test_alias_message(void **state)
{
	struct model_errors errs = {0};

	(void)state;
	assert_int_equal(model_alias_check("a\nb", 3, "alias", &errs), EINVAL);
	assert_string_equal(model_errors_field(&errs, 0), "alias");
	assert_non_null(strstr(errs.e[0].msg, "Alias"));
	memset(&errs, 0, sizeof(errs));
	assert_int_equal(model_alias_check("", 0, "alias", &errs), EINVAL);
	assert_non_null(strstr(errs.e[0].msg, "1-128"));
}

/* ---- URL ---- */

static void test_url(void **state)
{
	char buf[4096];
	size_t n;

	(void)state;
	EXPECT(model_url_check, "http://example.com", 0);
	EXPECT(model_url_check, "https://example.com/answer", 0);
	EXPECT(model_url_check, "https://example.com:8443/a/b?x=1&y=2#frag", 0);
	EXPECT(model_url_check, "http://127.0.0.1:8000/", 0);
	EXPECT(model_url_check, "http://[::1]:8000/", 0);
	EXPECT(model_url_check, "HTTP://EXAMPLE.COM/", 0);
	EXPECT(model_url_check, "HtTpS://example.com/", 0);
	EXPECT(model_url_check, "http://a", 0);
	EXPECT(model_url_check, "http://user:pw@example.com/", 0);
	EXPECT(model_url_check, "", EINVAL);
	EXPECT(model_url_check, "example.com", EINVAL);
	EXPECT(model_url_check, "//example.com", EINVAL);
	EXPECT(model_url_check, "ftp://example.com", EINVAL);
	EXPECT(model_url_check, "javascript:alert(1)", EINVAL);
	EXPECT(model_url_check, "file:///etc/passwd", EINVAL);
	EXPECT(model_url_check, "http:/example.com", EINVAL);
	EXPECT(model_url_check, "http:example.com", EINVAL);
	EXPECT(model_url_check, "httpx://example.com", EINVAL);
	EXPECT(model_url_check, "http://", EINVAL);
	EXPECT(model_url_check, "https://", EINVAL);
	EXPECT(model_url_check, "http:///path", EINVAL);
	EXPECT(model_url_check, "http://?q=1", EINVAL);
	EXPECT(model_url_check, "http://#f", EINVAL);
	EXPECT(model_url_check, "http://:80/", EINVAL);
	EXPECT(model_url_check, "http://exa mple.com", EINVAL);
	EXPECT(model_url_check, " http://example.com", EINVAL);
	EXPECT(model_url_check, "http://example.com ", EINVAL);
	EXPECT(model_url_check, "http://example.com/\t", EINVAL);
	EXPECT(model_url_check, "http://example.com/\n", EINVAL);
	EXPECT(model_url_check, "http://example.com/\x7f", EINVAL);
	EXPECT(model_url_check, "http://example.com/\0x", EINVAL);
	EXPECT(model_url_check, "http://example.com/caf\xc3\xa9", EINVAL);
	EXPECT(model_url_check, "http://ex\xc2\x85.com/", EINVAL);
	/* 2048 bytes is the cap. */
	n = strlen(strcpy(buf, "http://example.com/"));
	memset(buf + n, 'a', 2048 - n);
	buf[2048] = '\0';
	expect(model_url_check, buf, 2048, 0);
	buf[2048] = 'a';
	buf[2049] = '\0';
	expect(model_url_check, buf, 2049, EINVAL);
}

/* ---- method ---- */

static void test_method(void **state)
{
	static const struct {
		const char *in;
		const char *out;
	} ok[] = {
	    {"GET", "GET"},   {"POST", "POST"}, {"get", "GET"},
	    {"post", "POST"}, {"Post", "POST"}, {"gEt", "GET"},
	};
	static const char *const bad[] = {
	    "",	    "PUT",  "DELETE", "PATCH", "HEAD",	 " GET",
	    "GET ", "GETS", "POS",    "G",     "POST\n", "p\xc3\xb6st",
	};
	char out[MODEL_METHOD_MAX];

	(void)state;
	for (size_t i = 0; i < sizeof(ok) / sizeof(ok[0]); i++) {
		struct model_errors errs = {0};
		memset(out, 'x', sizeof(out));
		assert_int_equal(model_method_check(ok[i].in, "answer_method",
						    out, sizeof(out), &errs),
				 0);
		assert_string_equal(out, ok[i].out);
		assert_int_equal(errs.n, 0);
	}
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		struct model_errors errs = {0};
		strcpy(out, "keep");
		assert_int_equal(model_method_check(bad[i], "answer_method",
						    out, sizeof(out), &errs),
				 EINVAL);
		assert_int_equal(errs.n, 1);
		assert_string_equal(model_errors_field(&errs, 0),
				    "answer_method");
		assert_string_equal(out, "keep"); /* untouched on error */
	}
}

/* ---- domain ---- */

static void test_domain(void **state)
{
	static const char *const ok[] = {
	    "sipward.localhost", "a",	     "example.com", "sip-1.example.org",
	    "EXAMPLE.COM",	 "10.0.0.1", "a-b",	    "x.y.z",
	};
	static const char *const bad[] = {
	    "",	   ".a",	   "a.",  "a..b",	   ".",
	    "-a",  "a_b",	   "a b", "a/b",	   "a:5060",
	    "a@b", "\xc3\xa4.com", "a\n", "*.example.com",
	};
	char buf[300];

	(void)state;
	for (size_t i = 0; i < sizeof(ok) / sizeof(ok[0]); i++) {
		struct model_errors errs = {0};
		print_message("domain '%s'\n", ok[i]);
		assert_int_equal(model_domain_check(ok[i], "domain", &errs), 0);
		assert_int_equal(errs.n, 0);
	}
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		struct model_errors errs = {0};
		print_message("domain '%s'\n", bad[i]);
		assert_int_equal(model_domain_check(bad[i], "domain", &errs),
				 EINVAL);
		assert_int_equal(errs.n, 1);
		assert_string_equal(model_errors_field(&errs, 0), "domain");
	}
	/* 253 characters is the longest. */
	memset(buf, 'a', 253);
	buf[253] = '\0';
	for (int i = 10; i < 253; i += 10)
		buf[i] = '.';
	{
		struct model_errors errs = {0};
		assert_int_equal(model_domain_check(buf, "domain", &errs), 0);
		buf[253] = 'a';
		buf[254] = '\0';
		assert_int_equal(model_domain_check(buf, "domain", &errs),
				 EINVAL);
	}
}

/* ---- ids ---- */

static void test_id_check(void **state)
{
	static const char *const ok[] = {
	    "0",
	    "1",
	    "123456789012345",
	    "12345678901234567",
	    "99999999999999999999999", /* 23 digits */
	};
	static const char *const bad[] = {
	    "",
	    "a",
	    "12a",
	    "1.5",
	    "-1",
	    "+1",
	    " 1",
	    "1 ",
	    "0x10",
	    "1e5",
	    "\xd9\xa1",			/* ARABIC-INDIC DIGIT ONE */
	    "999999999999999999999999", /* 24 digits */
	    "1234567890123456789012345678901234567890",
	};

	(void)state;
	for (size_t i = 0; i < sizeof(ok) / sizeof(ok[0]); i++)
		assert_int_equal(model_id_check(ok[i]), 0);
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		print_message("id '%s'\n", bad[i]);
		assert_int_equal(model_id_check(bad[i]), EINVAL);
	}
}

/* ---- errors ---- */

static void test_errors_one_per_field(void **state)
{
	struct model_errors errs = {0};

	(void)state;
	model_errors_add(&errs, "password", "first %d", 1);
	model_errors_add(&errs, "password", "second %d", 2);
	model_errors_add(&errs, "alias", "alias bad");
	model_errors_add(&errs, "password", "third");
	assert_int_equal(errs.n, 2);
	assert_string_equal(model_errors_field(&errs, 0), "password");
	assert_string_equal(errs.e[0].msg, "first 1");
	assert_string_equal(model_errors_field(&errs, 1), "alias");
	assert_string_equal(errs.e[1].msg, "alias bad");

	/* Two checks failing on the same field still leave one entry. */
	memset(&errs, 0, sizeof(errs));
	model_password_check("short", 5, "password", &errs);
	model_password_check("bad\n", 4, "password", &errs);
	model_username_check("a b", 3, "username", &errs);
	model_alias_check("", 0, "alias", &errs);
	assert_int_equal(errs.n, 3);
	assert_string_equal(errs.e[0].msg,
			    "Password must be at least 8 characters");
}

static void test_errors_cap(void **state)
{
	struct model_errors errs = {0};
	char field[16];

	(void)state;
	for (int i = 0; i < MODEL_ERRORS_MAX + 10; i++) {
		snprintf(field, sizeof(field), "f%d", i);
		model_errors_add(&errs, field, "bad %d", i);
	}
	assert_int_equal(errs.n, MODEL_ERRORS_MAX);
	snprintf(field, sizeof(field), "f%d", MODEL_ERRORS_MAX - 1);
	assert_string_equal(model_errors_field(&errs, MODEL_ERRORS_MAX - 1),
			    field);
	assert_string_equal(model_errors_field(&errs, 0), "f0");
}

static void test_errors_truncation(void **state)
{
	struct model_errors errs = {0};
	char msg[400];

	(void)state;
	memset(msg, 'm', sizeof(msg) - 1);
	msg[sizeof(msg) - 1] = '\0';
	model_errors_add(&errs, "f", "%s", msg);
	assert_int_equal(errs.n, 1);
	assert_int_equal(strlen(errs.e[0].msg), sizeof(errs.e[0].msg) - 1);
}

static void test_errors_long_field(void **state)
{
	struct model_errors errs = {0};
	char field[5000], other[5000];

	(void)state;
	/* An unknown body key is named whole, however long. */
	memset(field, 'k', sizeof(field) - 1);
	field[sizeof(field) - 1] = '\0';
	model_errors_add(&errs, field, "Unknown field");
	assert_int_equal(errs.n, 1);
	assert_string_equal(model_errors_field(&errs, 0), field);
	/* The same field again must not add a second entry... */
	model_errors_add(&errs, field, "Unknown field");
	assert_int_equal(errs.n, 1);
	/* ...but one that differs only at its end is another entry. */
	memcpy(other, field, sizeof(field));
	other[sizeof(other) - 2] = 'z';
	model_errors_add(&errs, other, "Unknown field");
	assert_int_equal(errs.n, 2);
	assert_string_equal(model_errors_field(&errs, 1), other);
	model_errors_free(&errs);
	assert_int_equal(errs.n, 0);
}

static void test_errors_utf8(void **state)
{
	struct model_errors errs = {0};
	char field[200], msg[400];
	size_t n, count;
	bool pr;

	(void)state;
	/* Long UTF-8 names are kept whole; long messages are cut between
	 * characters, so the stored text stays valid UTF-8 (jansson refuses
	 * anything else). */
	for (int shift = 0; shift < 4; shift++) {
		memset(&errs, 0, sizeof(errs));
		n = repeat(field, sizeof(field) - 8, "x", (size_t)shift);
		n += repeat(field + n, sizeof(field) - n, "\xf0\x9f\x98\x80",
			    30);
		repeat(msg, sizeof(msg), "\xe2\x82\xac", 120);
		model_errors_add(&errs, field, "%s", msg);
		assert_int_equal(errs.n, 1);
		assert_string_equal(model_errors_field(&errs, 0), field);
		assert_int_equal(base_text_scan(errs.e[0].msg,
						strlen(errs.e[0].msg), &count,
						&pr),
				 0);
		assert_true(strlen(errs.e[0].msg) + 3 >=
			    sizeof(errs.e[0].msg) - 1);
		model_errors_add(&errs, field, "again");
		assert_int_equal(errs.n, 1);
		model_errors_free(&errs);
	}
	/* Bytes that are not UTF-8 (a query key) are written as %XX. */
	model_errors_add(&errs,
			 "a\xff\xc3"
			 "b\xc3\xa9",
			 "Unknown");
	assert_int_equal(errs.n, 1);
	assert_string_equal(model_errors_field(&errs, 0), "a%FF%C3"
							  "b\xc3\xa9");
	model_errors_free(&errs);
}

/* ---- field tables ---- */

/* One row of a field table as api-contract.md states it. */
struct want_field {
	const char *name, *synonym;
	enum model_type type;
	model_check_fn check;
	bool required, locked;
	enum model_default def;
	const char *def_text;
	bool def_bool;
};

static void expect_table(const struct model_field *t, unsigned n,
			 const struct want_field *want)
{
	for (unsigned i = 0; i < n; i++) {
		const struct model_field *f = &t[i];

		print_message("field %s\n", want[i].name);
		assert_non_null(f->name);
		assert_string_equal(f->name, want[i].name);
		if (want[i].synonym)
			assert_string_equal(f->synonym, want[i].synonym);
		else
			assert_null(f->synonym);
		assert_int_equal(f->type, want[i].type);
		assert_ptr_equal(f->check, want[i].check);
		assert_int_equal(f->required, want[i].required);
		assert_int_equal(f->locked, want[i].locked);
		assert_int_equal(f->def, want[i].def);
		if (want[i].def_text)
			assert_string_equal(f->def_text, want[i].def_text);
		else
			assert_null(f->def_text);
		assert_int_equal(f->def_bool, want[i].def_bool);
		assert_non_null(f->label);
		/* A string field is checked by its rule, a required one too. */
		if (f->type == MODEL_TYPE_TEXT || f->type == MODEL_TYPE_URL)
			assert_non_null(f->check);
		/* A field is required or has a default, never both. */
		if (f->required)
			assert_int_equal(f->def, MODEL_DEF_NONE);
		/* What the server assigns, the client can never change. */
		if (f->type == MODEL_TYPE_ASSIGNED)
			assert_true(f->locked && !f->required);
	}
}

/* Every endpoint field of api-contract.md, with its rules. */
static void test_endpoint_fields(void **state)
{
/* An allow_* flag: its default, and whether it is locked. */
#define ALLOW(n, dflt, lock)                                                  \
	{                                                                     \
		n, NULL, MODEL_TYPE_BOOL, NULL, false, lock, MODEL_DEF_VALUE, \
		    NULL, dflt                                                \
	}
	static const struct want_field want[] = {
	    [MODEL_EP_USERNAME] = {"username", NULL, MODEL_TYPE_TEXT,
				   model_username_check, true, true,
				   MODEL_DEF_NONE, NULL, false},
	    [MODEL_EP_PASSWORD] = {"password", NULL, MODEL_TYPE_TEXT,
				   model_password_check, true, false,
				   MODEL_DEF_NONE, NULL, false},
	    [MODEL_EP_ALIAS] = {"alias", NULL, MODEL_TYPE_TEXT,
				model_alias_check, false, false,
				MODEL_DEF_USERNAME, NULL, false},
	    [MODEL_EP_APPLICATION] = {"application", "app_id",
				      MODEL_TYPE_APP_REF, NULL, false, false,
				      MODEL_DEF_ACCOUNT_APP, NULL, false},
	    [MODEL_EP_ALLOW_VOICE] = ALLOW("allow_voice", true, false),
	    [MODEL_EP_ALLOW_MESSAGE] = ALLOW("allow_message", true, false),
	    [MODEL_EP_ALLOW_VIDEO] = ALLOW("allow_video", false, false),
	    [MODEL_EP_ALLOW_SAME_DOMAIN] =
		ALLOW("allow_same_domain", true, true),
	    [MODEL_EP_ALLOW_OTHER_DOMAINS] =
		ALLOW("allow_other_domains", false, true),
	    [MODEL_EP_ALLOW_PHONES] = ALLOW("allow_phones", true, true),
	    [MODEL_EP_ALLOW_APPS] = ALLOW("allow_apps", true, true),
	    [MODEL_EP_SUB_ACCOUNT] = {"sub_account", NULL,
				      MODEL_TYPE_ACCOUNT_REF, NULL, false, true,
				      MODEL_DEF_NONE, NULL, false},
	    [MODEL_EP_ENDPOINT_ID] = {"endpoint_id", NULL, MODEL_TYPE_ASSIGNED,
				      NULL, false, true, MODEL_DEF_RANDOM_ID,
				      NULL, false},
	    [MODEL_EP_DOMAIN] = {"domain", NULL, MODEL_TYPE_ASSIGNED, NULL,
				 false, true, MODEL_DEF_ACCOUNT_DOMAIN, NULL,
				 false},
	};
#undef ALLOW

	(void)state;
	assert_int_equal(sizeof(want) / sizeof(want[0]), MODEL_EP_FIELDS);
	expect_table(model_endpoint_fields, MODEL_EP_FIELDS, want);
	/* The allow_* rows follow enum model_allow, which indexes allow[]. */
	assert_int_equal(MODEL_ALLOW_COUNT, 7);
	for (int i = 0; i < MODEL_ALLOW_COUNT; i++)
		assert_int_equal(model_endpoint_fields[MODEL_EP_ALLOW(i)].off,
				 offsetof(struct model_endpoint, allow) +
				     (size_t)i * sizeof(bool));
}

/*
 * The contract's update rules: exactly these may change, and exactly
 * these are "cannot be changed after creation".
 */
static void test_endpoint_locked(void **state)
{
	static const char *const changeable[] = {
	    "password",	   "alias",	    "application",
	    "allow_voice", "allow_message", "allow_video"};
	static const char *const locked[] = {
	    "username",		 "endpoint_id",		"domain",
	    "allow_same_domain", "allow_other_domains", "allow_phones",
	    "allow_apps",	 "sub_account"};
	bool syn;
	int i;

	(void)state;
	for (size_t k = 0; k < sizeof(changeable) / sizeof(changeable[0]);
	     k++) {
		i = model_field_find(model_endpoint_fields, MODEL_EP_FIELDS,
				     changeable[k], &syn);
		assert_true(i >= 0);
		assert_false(model_endpoint_fields[i].locked);
	}
	for (size_t k = 0; k < sizeof(locked) / sizeof(locked[0]); k++) {
		i = model_field_find(model_endpoint_fields, MODEL_EP_FIELDS,
				     locked[k], &syn);
		assert_true(i >= 0);
		assert_true(model_endpoint_fields[i].locked);
	}
	assert_int_equal(sizeof(changeable) / sizeof(changeable[0]) +
			     sizeof(locked) / sizeof(locked[0]),
			 MODEL_EP_FIELDS);
}

/* Every application field of api-contract.md, with its rules. */
static void test_app_fields(void **state)
{
#define URL(n, req)                                                   \
	{                                                             \
		n, NULL, MODEL_TYPE_URL, model_url_check, req, false, \
		    MODEL_DEF_NONE, NULL, false                       \
	}
#define METHOD(n)                                               \
	{                                                       \
		n, NULL, MODEL_TYPE_METHOD, NULL, false, false, \
		    MODEL_DEF_VALUE, "POST", false              \
	}
	static const struct want_field want[] = {
	    [MODEL_APP_NAME] = {"app_name", NULL, MODEL_TYPE_TEXT,
				model_app_name_check, true, false,
				MODEL_DEF_NONE, NULL, false},
	    [MODEL_APP_ANSWER_URL] = URL("answer_url", true),
	    [MODEL_APP_ANSWER_METHOD] = METHOD("answer_method"),
	    [MODEL_APP_HANGUP_URL] = URL("hangup_url", false),
	    [MODEL_APP_HANGUP_METHOD] = METHOD("hangup_method"),
	    [MODEL_APP_FALLBACK_ANSWER_URL] = URL("fallback_answer_url", false),
	    [MODEL_APP_FALLBACK_METHOD] = METHOD("fallback_method"),
	    [MODEL_APP_MESSAGE_URL] = URL("message_url", false),
	    [MODEL_APP_MESSAGE_METHOD] = METHOD("message_method"),
	    [MODEL_APP_DEFAULT_ENDPOINT_APP] = {"default_endpoint_app", NULL,
						MODEL_TYPE_BOOL, NULL, false,
						false, MODEL_DEF_VALUE, NULL,
						false},
	};
#undef URL
#undef METHOD

	(void)state;
	assert_int_equal(sizeof(want) / sizeof(want[0]), MODEL_APP_FIELDS);
	expect_table(model_app_fields, MODEL_APP_FIELDS, want);
}

static void test_field_find(void **state)
{
	bool syn = true;

	(void)state;
	for (unsigned i = 0; i < MODEL_EP_FIELDS; i++) {
		assert_int_equal(
		    model_field_find(model_endpoint_fields, MODEL_EP_FIELDS,
				     model_endpoint_fields[i].name, &syn),
		    (int)i);
		assert_false(syn);
	}
	/* app_id is the one synonym: it names the application field. */
	assert_int_equal(model_field_find(model_endpoint_fields,
					  MODEL_EP_FIELDS, "app_id", &syn),
			 MODEL_EP_APPLICATION);
	assert_true(syn);
	for (unsigned i = 0; i < MODEL_EP_FIELDS; i++)
		if (i != MODEL_EP_APPLICATION)
			assert_null(model_endpoint_fields[i].synonym);
	for (unsigned i = 0; i < MODEL_APP_FIELDS; i++)
		assert_null(model_app_fields[i].synonym);
	/* Names are exact: no case folding, no prefixes, no other table. */
	assert_int_equal(model_field_find(model_endpoint_fields,
					  MODEL_EP_FIELDS, "Username", &syn),
			 -1);
	assert_int_equal(model_field_find(model_endpoint_fields,
					  MODEL_EP_FIELDS, "allow", &syn),
			 -1);
	assert_int_equal(model_field_find(model_endpoint_fields,
					  MODEL_EP_FIELDS, "app_name", &syn),
			 -1);
	assert_int_equal(model_field_find(model_app_fields, MODEL_APP_FIELDS,
					  "app_id", &syn),
			 -1);
	assert_int_equal(
	    model_field_find(model_app_fields, MODEL_APP_FIELDS, "", &syn), -1);
}

/* The message errs holds for field, or NULL. */
static const char *error_of(const struct model_errors *errs, const char *field)
{
	for (unsigned i = 0; i < errs->n; i++)
		if (strcmp(model_errors_field(errs, i), field) == 0)
			return errs->e[i].msg;
	return NULL;
}

static void set_text(struct model_value *v, const char *s)
{
	v->state = MODEL_SET;
	v->text = s;
}

/* Creation: required fields reported, defaults from the table. */
static void test_endpoint_apply_create(void **state)
{
	struct model_value v[MODEL_EP_FIELDS] = {0};
	struct model_errors errs = {0};
	struct model_endpoint ep = {0};

	(void)state;
	model_fields_apply(model_endpoint_fields, MODEL_EP_FIELDS, v, true, &ep,
			   &errs);
	assert_int_equal(errs.n, 2);
	assert_string_equal(error_of(&errs, "username"),
			    "username is required");
	assert_string_equal(error_of(&errs, "password"),
			    "password is required");

	memset(&errs, 0, sizeof(errs));
	set_text(&v[MODEL_EP_USERNAME], "alice_01");
	set_text(&v[MODEL_EP_PASSWORD], "secret-password");
	v[MODEL_EP_ALLOW_VIDEO].state = MODEL_SET;
	v[MODEL_EP_ALLOW_VIDEO].flag = true;
	v[MODEL_EP_ALLOW_PHONES].state = MODEL_SET;
	v[MODEL_EP_ALLOW_PHONES].flag = false;
	model_fields_apply(model_endpoint_fields, MODEL_EP_FIELDS, v, true, &ep,
			   &errs);
	assert_int_equal(errs.n, 0);
	assert_string_equal(ep.username, "alice_01");
	assert_string_equal(ep.alias, "alice_01"); /* the username */
	assert_true(ep.allow[MODEL_ALLOW_VOICE]);
	assert_true(ep.allow[MODEL_ALLOW_MESSAGE]);
	assert_true(ep.allow[MODEL_ALLOW_VIDEO]); /* sent */
	assert_true(ep.allow[MODEL_ALLOW_SAME_DOMAIN]);
	assert_false(ep.allow[MODEL_ALLOW_OTHER_DOMAINS]);
	assert_false(ep.allow[MODEL_ALLOW_PHONES]); /* sent */
	assert_true(ep.allow[MODEL_ALLOW_APPS]);
	/* The password is never kept as sent. */
	assert_null(memmem(&ep, sizeof(ep), "secret-password", 15));

	/* Each value meets its field's rule, named by the field. */
	set_text(&v[MODEL_EP_USERNAME], "a-b");
	set_text(&v[MODEL_EP_PASSWORD], "short");
	set_text(&v[MODEL_EP_ALIAS], "a\tb");
	v[MODEL_EP_APPLICATION].state = MODEL_SET;
	snprintf(v[MODEL_EP_APPLICATION].id, MODEL_ID_MAX, "x1");
	model_fields_apply(model_endpoint_fields, MODEL_EP_FIELDS, v, true, &ep,
			   &errs);
	assert_int_equal(errs.n, 4);
	assert_non_null(error_of(&errs, "username"));
	assert_string_equal(error_of(&errs, "password"),
			    "Password must be at least 8 characters");
	assert_non_null(error_of(&errs, "alias"));
	assert_string_equal(error_of(&errs, "application"),
			    "Application must be an application id");
	model_errors_free(&errs);
}

/* After creation: locked fields are never applied, the others are. */
static void test_endpoint_apply_update(void **state)
{
	struct model_value v[MODEL_EP_FIELDS] = {0};
	struct model_errors errs = {0};
	struct model_endpoint ep = {0}, before;

	(void)state;
	snprintf(ep.username, sizeof(ep.username), "bob");
	snprintf(ep.alias, sizeof(ep.alias), "Bob");
	ep.allow[MODEL_ALLOW_SAME_DOMAIN] = true;
	before = ep;
	/* Nothing sent: nothing required, nothing defaulted. */
	model_fields_apply(model_endpoint_fields, MODEL_EP_FIELDS, v, false,
			   &ep, &errs);
	assert_int_equal(errs.n, 0);
	assert_memory_equal(&ep, &before, sizeof(ep));

	set_text(&v[MODEL_EP_USERNAME], "mallory");
	v[MODEL_EP_ALLOW_SAME_DOMAIN].state = MODEL_SET;
	v[MODEL_EP_ALLOW_SAME_DOMAIN].flag = false;
	set_text(&v[MODEL_EP_ALIAS], "Bob's desk phone");
	v[MODEL_EP_ALLOW_VIDEO].state = MODEL_SET;
	v[MODEL_EP_ALLOW_VIDEO].flag = true;
	model_fields_apply(model_endpoint_fields, MODEL_EP_FIELDS, v, false,
			   &ep, &errs);
	assert_int_equal(errs.n, 0);
	assert_string_equal(ep.username, "bob");
	assert_true(ep.allow[MODEL_ALLOW_SAME_DOMAIN]);
	assert_string_equal(ep.alias, "Bob's desk phone");
	assert_true(ep.allow[MODEL_ALLOW_VIDEO]);
}

/* Applications: methods default to POST, optional URLs clear. */
static void test_app_apply(void **state)
{
	struct model_value v[MODEL_APP_FIELDS] = {0};
	struct model_errors errs = {0};
	struct model_app a = {0};

	(void)state;
	model_fields_apply(model_app_fields, MODEL_APP_FIELDS, v, true, &a,
			   &errs);
	assert_int_equal(errs.n, 2);
	assert_string_equal(error_of(&errs, "app_name"),
			    "app_name is required");
	assert_string_equal(error_of(&errs, "answer_url"),
			    "answer_url is required");

	memset(&errs, 0, sizeof(errs));
	set_text(&v[MODEL_APP_NAME], "IVR");
	set_text(&v[MODEL_APP_ANSWER_URL], "https://example.com/answer");
	set_text(&v[MODEL_APP_HANGUP_METHOD], "get");
	model_fields_apply(model_app_fields, MODEL_APP_FIELDS, v, true, &a,
			   &errs);
	assert_int_equal(errs.n, 0);
	assert_string_equal(a.app_name, "IVR");
	assert_string_equal(a.answer_url, "https://example.com/answer");
	assert_string_equal(a.answer_method, "POST");
	assert_string_equal(a.hangup_url, "");
	assert_string_equal(a.hangup_method, "GET");
	assert_string_equal(a.fallback_method, "POST");
	assert_string_equal(a.message_method, "POST");
	assert_false(a.default_endpoint_app);

	/* Update: an optional URL is cleared by null or "", set by a URL. */
	memset(v, 0, sizeof(v));
	set_text(&v[MODEL_APP_HANGUP_URL], "http://example.com/h");
	v[MODEL_APP_DEFAULT_ENDPOINT_APP].state = MODEL_SET;
	v[MODEL_APP_DEFAULT_ENDPOINT_APP].flag = true;
	model_fields_apply(model_app_fields, MODEL_APP_FIELDS, v, false, &a,
			   &errs);
	assert_int_equal(errs.n, 0);
	assert_string_equal(a.hangup_url, "http://example.com/h");
	assert_true(a.default_endpoint_app);
	v[MODEL_APP_HANGUP_URL].state = MODEL_NULL;
	v[MODEL_APP_HANGUP_URL].text = NULL;
	model_fields_apply(model_app_fields, MODEL_APP_FIELDS, v, false, &a,
			   &errs);
	assert_string_equal(a.hangup_url, "");
	set_text(&v[MODEL_APP_MESSAGE_URL], "");
	model_fields_apply(model_app_fields, MODEL_APP_FIELDS, v, false, &a,
			   &errs);
	assert_int_equal(errs.n, 0);

	/* The required URL is never cleared; a method is GET or POST. */
	set_text(&v[MODEL_APP_ANSWER_URL], "");
	set_text(&v[MODEL_APP_ANSWER_METHOD], "PUT");
	model_fields_apply(model_app_fields, MODEL_APP_FIELDS, v, false, &a,
			   &errs);
	assert_int_equal(errs.n, 2);
	assert_string_equal(error_of(&errs, "answer_url"),
			    "Must be an absolute http or https URL");
	assert_string_equal(error_of(&errs, "answer_method"),
			    "Must be GET or POST");
	assert_string_equal(a.answer_url, "https://example.com/answer");
	model_errors_free(&errs);
}

/* ---- bindings ---- */

static void test_contact_eq(void **state)
{
	(void)state;
	assert_true(
	    model_contact_eq("sip:alice@host:5060", "sip:alice@host:5060"));
	assert_true(model_contact_eq("SIP:alice@HOST:5060;Transport=TCP",
				     "sip:alice@host:5060;transport=tcp"));
	assert_false(model_contact_eq("sip:Alice@host", "sip:alice@host"));
	assert_false(
	    model_contact_eq("sip:alice@host:5060", "sip:alice@host:5061"));
	assert_false(model_contact_eq("sips:alice@host", "sip:alice@host"));
	assert_true(model_contact_eq("sip:HOST.example", "sip:host.example"));
	assert_false(model_contact_eq("sip:alice@host", "sip:host"));
}

/* A refresh written with another case of the host is the same binding. */
static void test_register_refresh_case_insensitive_host(void **state)
{
	static struct model_binding cur[1], next[MODEL_BINDINGS_MAX];
	struct model_reg_contact c = {"sip:alice@HOST.example:5060", "", -1};
	struct model_reg_request req = {.call_id = "c1",
					.cseq = 2,
					.expires = 600,
					.contacts = &c,
					.ncontacts = 1,
					.user_agent = "ua",
					.received = "192.0.2.1:5060",
					.transport = "UDP",
					.now_ms = 1000000};
	struct model_reg_limits lim = {60, 3600, 3600, 10};
	unsigned n = 0;

	(void)state;
	snprintf(cur[0].contact, sizeof(cur[0].contact), "%s",
		 "sip:alice@host.example:5060");
	snprintf(cur[0].call_id, sizeof(cur[0].call_id), "c1");
	cur[0].cseq = 1;
	cur[0].expires_ms = 2000000;
	assert_int_equal(model_register_apply(cur, 1, &req, &lim, next, &n), 0);
	assert_int_equal(n, 1);
	assert_int_equal(next[0].cseq, 2);
	assert_true(next[0].expires_ms == 1000000 + 600 * 1000);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_username),
	    cmocka_unit_test(test_password_length),
	    cmocka_unit_test(test_password_chars),
	    cmocka_unit_test(test_password_messages),
	    cmocka_unit_test(test_alias),
	    cmocka_unit_test(test_app_name),
	    cmocka_unit_test(test_alias_message),
	    cmocka_unit_test(test_url),
	    cmocka_unit_test(test_method),
	    cmocka_unit_test(test_domain),
	    cmocka_unit_test(test_id_check),
	    cmocka_unit_test(test_errors_one_per_field),
	    cmocka_unit_test(test_errors_cap),
	    cmocka_unit_test(test_errors_truncation),
	    cmocka_unit_test(test_errors_long_field),
	    cmocka_unit_test(test_errors_utf8),
	    cmocka_unit_test(test_endpoint_fields),
	    cmocka_unit_test(test_endpoint_locked),
	    cmocka_unit_test(test_app_fields),
	    cmocka_unit_test(test_field_find),
	    cmocka_unit_test(test_endpoint_apply_create),
	    cmocka_unit_test(test_endpoint_apply_update),
	    cmocka_unit_test(test_app_apply),
	    cmocka_unit_test(test_contact_eq),
	    cmocka_unit_test(test_register_refresh_case_insensitive_host),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
