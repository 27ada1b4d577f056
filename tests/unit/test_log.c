/*
 * test_log.c - unit tests for src/base/log.c's JSON lines (log_format =
 * json): the logfmt-to-JSON conversion (quotes, backslashes, control
 * bytes, empty values, UTF-8, forged keys, cuts) and base_log_write in
 * both formats.
 */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <cmocka.h>
#include <jansson.h>

#include "base/log.h"

/* Converts fields; checks the line is one JSON object; returns it. */
static json_t *conv_cap(const char *fields, size_t cap)
{
	char *out = malloc(cap);
	json_error_t e;
	json_t *o;
	size_t n;

	assert_non_null(out);
	n = base_log_json("2026-01-02T03:04:05.678Z", "info", "ev", fields,
			  strlen(fields), out, cap);
	assert_true(n >= 3 && n <= cap);
	assert_int_equal(out[n - 1], '\n');
	assert_int_equal(out[n - 2], '}');
	assert_null(memchr(out, '\n', n - 1));
	assert_null(memchr(out, '\r', n));
	o = json_loadb(out, n, JSON_REJECT_DUPLICATES, &e);
	if (!o)
		fail_msg("not JSON (%s): %.*s", e.text, (int)n, out);
	assert_true(json_is_object(o));
	free(out);
	return o;
}

static json_t *conv(const char *fields)
{
	return conv_cap(fields, BASE_LOG_JSON_MAX);
}

/* The string value of key in o (which must be one). */
static const char *val(json_t *o, const char *key)
{
	json_t *v = json_object_get(o, key);

	if (!json_is_string(v))
		fail_msg("no string %s", key);
	return json_string_value(v);
}

static void test_json_fields(void **state)
{
	json_t *o;
	const char *key;
	json_t *v;
	static const char *const order[] = {
	    "ts", "level", "event", "api_id", "method", "path", "status", "ms"};
	unsigned i = 0;

	(void)state;
	o = conv("api_id=0f1e method=GET path=\"/v1/a b/\" status=200 ms=3");
	json_object_foreach(o, key, v)
	{
		assert_true(i < sizeof(order) / sizeof(order[0]));
		assert_string_equal(key, order[i++]);
		assert_true(json_is_string(v)); /* numbers stay strings */
	}
	assert_int_equal(i, 8);
	assert_string_equal(val(o, "ts"), "2026-01-02T03:04:05.678Z");
	assert_string_equal(val(o, "level"), "info");
	assert_string_equal(val(o, "event"), "ev");
	assert_string_equal(val(o, "path"), "/v1/a b/");
	assert_string_equal(val(o, "status"), "200");
	json_decref(o);
	/* No fields at all. */
	o = conv("");
	assert_int_equal(json_object_size(o), 3);
	json_decref(o);
	o = conv("   ");
	assert_int_equal(json_object_size(o), 3);
	json_decref(o);
}

/* base_log_quote's escapes come back as the bytes they stand for. */
static void test_json_quotes_backslashes_controls(void **state)
{
	char q[256], f[300];
	json_t *o;

	(void)state;
	snprintf(f, sizeof(f), "a=%s b=%s",
		 base_log_quote("say \"hi\" \\o/", q, sizeof(q)), "plain");
	o = conv(f);
	assert_string_equal(val(o, "a"), "say \"hi\" \\o/");
	assert_string_equal(val(o, "b"), "plain");
	json_decref(o);
	snprintf(f, sizeof(f), "c=%s",
		 base_log_quote("x\ny\r\t\x01\x1f\x7f z", q, sizeof(q)));
	o = conv(f);
	assert_string_equal(val(o, "c"), "x\ny\r\t\x01\x1f\x7f z");
	json_decref(o);
	/* A control byte that reached a line raw is escaped too. */
	o = conv("d=a\x01\x1b[2Jb e=\"\x02\"");
	assert_string_equal(val(o, "d"), "a\x01\x1b[2Jb");
	assert_string_equal(val(o, "e"), "\x02");
	json_decref(o);
	/* A backslash that escapes nothing stays; a bad \x too. */
	o = conv("f=\"a\\qb\\x4\\xzz\\x41\" g=c:\\dir");
	assert_string_equal(val(o, "f"), "a\\qb\\x4\\xzzA");
	assert_string_equal(val(o, "g"), "c:\\dir");
	json_decref(o);
}

static void test_json_empty_values(void **state)
{
	json_t *o;

	(void)state;
	o = conv("a= b=\"\" c=");
	assert_string_equal(val(o, "a"), "");
	assert_string_equal(val(o, "b"), "");
	assert_string_equal(val(o, "c"), "");
	json_decref(o);
	/* An unclosed quote (a line cut by the logfmt cap) runs to the end. */
	o = conv("a=\"open b=1");
	assert_string_equal(val(o, "a"), "open b=1");
	json_decref(o);
	o = conv("a=\"");
	assert_string_equal(val(o, "a"), "");
	json_decref(o);
}

static void test_json_utf8(void **state)
{
	json_t *o;

	(void)state;
	o = conv("a=caf\xc3\xa9 b=\"\xf0\x9f\x98\x80 \xe2\x82\xac\"");
	assert_string_equal(val(o, "a"), "caf\xc3\xa9");
	assert_string_equal(val(o, "b"), "\xf0\x9f\x98\x80 \xe2\x82\xac");
	json_decref(o);
	/* Invalid: a stray continuation, a cut sequence, overlong forms, a
	 * surrogate, past U+10FFFF, bytes never in UTF-8: U+FFFD each. */
	o = conv("a=x\x80y b=\xc3 c=\xe2\x82 d=\xc0\xaf e=\xe0\x80\xaf "
		 "f=\xed\xa0\x80 g=\xf4\x90\x80\x80 h=\xff\xfe i=\xc3\"");
	assert_string_equal(val(o, "a"), "x\xef\xbf\xbdy");
	assert_string_equal(val(o, "b"), "\xef\xbf\xbd");
	assert_string_equal(val(o, "c"), "\xef\xbf\xbd");
	assert_string_equal(val(o, "d"), "\xef\xbf\xbd\xef\xbf\xbd");
	assert_non_null(strstr(val(o, "e"), "\xef\xbf\xbd"));
	assert_non_null(strstr(val(o, "f"), "\xef\xbf\xbd"));
	assert_non_null(strstr(val(o, "g"), "\xef\xbf\xbd"));
	assert_string_equal(val(o, "h"), "\xef\xbf\xbd\xef\xbf\xbd");
	assert_string_equal(val(o, "i"), "\xef\xbf\xbd\"");
	json_decref(o);
}

/* U+0085, U+2028, U+2029 are escaped: line breaks to some readers. */
static void test_json_line_separators(void **state)
{
	char out[256];
	size_t n;

	(void)state;
	n = base_log_json(
	    "t", "info", "ev", "a=x\xe2\x80\xa8y\xc2\x85z\xe2\x80\xa9",
	    strlen("a=x\xe2\x80\xa8y\xc2\x85z\xe2\x80\xa9"), out, sizeof(out));
	assert_true(n > 0);
	out[n] = '\0';
	assert_non_null(strstr(out, "\"a\":\"x\\u2028y\\u0085z\\u2029\""));
}

/* Text that is not a new key= stays with the value before it. */
static void test_json_forged_and_stray(void **state)
{
	json_t *o;

	(void)state;
	/* An unquoted client value with spaces cannot set a key. */
	o = conv("from=x level=error event=forged ts=0 src=1.2.3.4");
	assert_string_equal(val(o, "level"), "info");
	assert_string_equal(val(o, "event"), "ev");
	assert_string_equal(val(o, "from"), "x level=error event=forged ts=0");
	assert_string_equal(val(o, "src"), "1.2.3.4");
	json_decref(o);
	/* A repeated key, bare words, several spaces. */
	o = conv("a=1 a=2  b  c=3 word");
	assert_string_equal(val(o, "a"), "1 a=2  b");
	assert_string_equal(val(o, "c"), "3 word");
	json_decref(o);
	/* Text before any key, odd keys. */
	o = conv("hello world =x k-y=1 a=1");
	assert_string_equal(val(o, "_"), "hello world =x k-y=1");
	assert_string_equal(val(o, "a"), "1");
	json_decref(o);
	o = conv("x _=1");
	assert_string_equal(val(o, "_"), "x _=1");
	json_decref(o);
	/* A raw "%s" with quotes inside: a quote ends the value only before
	 * the end or a key=. */
	o = conv("msg=\"file \"a b\" not found\" code=1");
	assert_string_equal(val(o, "msg"), "file \"a b\" not found");
	assert_string_equal(val(o, "code"), "1");
	json_decref(o);
	o = conv("msg=\"x\"y z=1");
	assert_string_equal(val(o, "msg"), "x\"y z=1"); /* never closed */
	json_decref(o);
	o = conv("msg=\"x\"  z=1");
	assert_string_equal(val(o, "msg"), "x");
	assert_string_equal(val(o, "z"), "1");
	json_decref(o);
}

/* Many keys: past 32 they are text of the 32nd. */
static void test_json_many_keys(void **state)
{
	char f[1024];
	size_t n = 0;
	json_t *o;

	(void)state;
	for (int i = 0; i < 40; i++)
		n += (size_t)snprintf(f + n, sizeof(f) - n, "k%d=%d ", i, i);
	o = conv(f);
	assert_int_equal(json_object_size(o), 3 + 32);
	assert_string_equal(val(o, "k30"), "30");
	assert_non_null(strstr(val(o, "k31"), "k39=39"));
	json_decref(o);
}

/* Every cap gives a whole JSON object, cut at a character. */
static void test_json_cut(void **state)
{
	char f[600];
	json_t *o;

	(void)state;
	snprintf(f, sizeof(f),
		 "a=1 long=\"%s\xe2\x82\xac\xe2\x82\xac\\x01\\x02\" b=2 "
		 "c=\xf0\x9f\x98\x80\xf0\x9f\x98\x80",
		 "0123456789012345678901234567890123456789");
	for (size_t cap = 64; cap < 300; cap++) {
		o = conv_cap(f, cap);
		json_decref(o);
	}
	assert_int_equal(base_log_json("t", "info", "ev", "a=1", 3, f, 63), 0);
	/* A header that does not fit is no line at all. */
	memset(f, 'e', 100);
	f[100] = '\0';
	{
		char out[64];
		assert_int_equal(
		    base_log_json("t", "info", f, "", 0, out, sizeof(out)), 0);
	}
}

/*
 * Round trips: fields made with base_log_quote from values built of
 * awkward pieces (all valid UTF-8) give those values back exactly.
 */
static void test_json_round_trip(void **state)
{
	static const char *const pieces[] = {"a",
					     " ",
					     "\"",
					     "\\",
					     "=",
					     "x=1",
					     "\n",
					     "\t",
					     "\x01",
					     "\x7f",
					     "\xc3\xa9",
					     "\xe2\x82\xac",
					     "\xf0\x9f\x98\x80",
					     "\\x41",
					     "\" b=",
					     "level=error",
					     "",
					     "}",
					     "{",
					     "'"};
	unsigned seed = 12345;

	(void)state;
	for (int t = 0; t < 3000; t++) {
		char v[3][80], q[3][4 * 80 + 3], f[3 * (4 * 80 + 3) + 32];
		json_t *o;

		for (int k = 0; k < 3; k++) {
			size_t n = 0;
			int np;

			seed = seed * 1103515245u + 12345u;
			np = (int)((seed >> 16) % 8);
			v[k][0] = '\0';
			for (int i = 0; i < np; i++) {
				const char *p;
				seed = seed * 1103515245u + 12345u;
				p = pieces[(seed >> 16) % (sizeof(pieces) /
							   sizeof(pieces[0]))];
				if (n + strlen(p) >= sizeof(v[k]))
					break;
				memcpy(v[k] + n, p, strlen(p) + 1);
				n += strlen(p);
			}
			base_log_quote(v[k], q[k], sizeof(q[k]));
		}
		snprintf(f, sizeof(f), "one=%s two=%s three=%s", q[0], q[1],
			 q[2]);
		o = conv(f);
		assert_int_equal(json_object_size(o), 6);
		assert_string_equal(val(o, "one"), v[0]);
		assert_string_equal(val(o, "two"), v[1]);
		assert_string_equal(val(o, "three"), v[2]);
		json_decref(o);
	}
}

static void test_format_parse(void **state)
{
	enum base_log_format f = BASE_LOG_JSON;

	(void)state;
	assert_int_equal(base_log_format_parse("logfmt", &f), 0);
	assert_int_equal(f, BASE_LOG_LOGFMT);
	assert_int_equal(base_log_format_parse("json", &f), 0);
	assert_int_equal(f, BASE_LOG_JSON);
	assert_int_equal(base_log_format_parse("JSON", &f), EINVAL);
	assert_int_equal(base_log_format_parse("", &f), EINVAL);
	assert_int_equal(f, BASE_LOG_JSON);
}

/* What base_log_write wrote to stderr while fn ran, into buf. */
static size_t capture(void (*fn)(void), char *buf, size_t cap)
{
	char path[] = "/tmp/sipward-test-log-XXXXXX";
	int fd = mkstemp(path), saved = dup(STDERR_FILENO);
	ssize_t n;

	assert_true(fd >= 0 && saved >= 0);
	unlink(path);
	assert_int_equal(dup2(fd, STDERR_FILENO), STDERR_FILENO);
	fn();
	base_log_flush();
	assert_int_equal(dup2(saved, STDERR_FILENO), STDERR_FILENO);
	close(saved);
	n = pread(fd, buf, cap - 1, 0);
	close(fd);
	assert_true(n >= 0);
	buf[n] = '\0';
	return (size_t)n;
}

static void write_lines(void)
{
	char q[64];

	LOG_INFO("http_request", "api_id=%s path=%s status=%d", "abc",
		 base_log_quote("/a\"b\n", q, sizeof(q)), 200);
	LOG_DEBUG("hidden", "x=1");
	base_log_hold();
	LOG_INFO("held", "n=%d", 1);
	LOG_WARN("warned", "msg=\"%s\"", "a warning");
	base_log_flush();
}

static void test_write_both_formats(void **state)
{
	char buf[8192], *line, *save = NULL;
	json_t *o;
	unsigned lines = 0;

	(void)state;
	capture(write_lines, buf, sizeof(buf));
	assert_non_null(strstr(buf, " level=info event=http_request "
				    "api_id=abc path=\"/a\\\"b\\x0a\" "
				    "status=200\n"));
	assert_null(strstr(buf, "hidden"));

	base_log_format_set(BASE_LOG_JSON);
	capture(write_lines, buf, sizeof(buf));
	base_log_format_set(BASE_LOG_LOGFMT);
	for (line = strtok_r(buf, "\n", &save); line;
	     line = strtok_r(NULL, "\n", &save)) {
		o = json_loads(line, JSON_REJECT_DUPLICATES, NULL);
		assert_non_null(o);
		assert_non_null(json_object_get(o, "ts"));
		if (lines == 0) {
			assert_string_equal(val(o, "event"), "http_request");
			assert_string_equal(val(o, "api_id"), "abc");
			assert_string_equal(val(o, "path"), "/a\"b\n");
			assert_string_equal(val(o, "status"), "200");
		}
		if (lines == 2) {
			assert_string_equal(val(o, "level"), "warn");
			assert_string_equal(val(o, "msg"), "a warning");
		}
		json_decref(o);
		lines++;
	}
	assert_int_equal(lines, 3);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_json_fields),
	    cmocka_unit_test(test_json_quotes_backslashes_controls),
	    cmocka_unit_test(test_json_empty_values),
	    cmocka_unit_test(test_json_utf8),
	    cmocka_unit_test(test_json_line_separators),
	    cmocka_unit_test(test_json_forged_and_stray),
	    cmocka_unit_test(test_json_many_keys),
	    cmocka_unit_test(test_json_cut),
	    cmocka_unit_test(test_json_round_trip),
	    cmocka_unit_test(test_format_parse),
	    cmocka_unit_test(test_write_both_formats),
	};

	return cmocka_run_group_tests_name("log", tests, NULL, NULL);
}
