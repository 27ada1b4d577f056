/* test_cfg.c - unit tests for src/cfg: defaults, bounds, file and env. */
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

#include "cfg/cfg.h"

static const char *const env_names[] = {
    "SIPWARD_DB",
    "SIPWARD_HTTP",
    "SIPWARD_SIP",
    "SIPWARD_DOMAIN",
    "SIPWARD_LOG_LEVEL",
    "SIPWARD_BODY_MAX",
    "SIPWARD_HTTP_THREADS",
    "SIPWARD_HTTP_CONN_MAX",
    "SIPWARD_HTTP_TIMEOUT",
    "SIPWARD_AUTH_FAIL_MAX",
    "SIPWARD_AUTH_FAIL_WINDOW",
    "SIPWARD_AUTH_FAIL_PENALTY",
};

static void clear_env(void)
{
	for (size_t i = 0; i < sizeof(env_names) / sizeof(env_names[0]); i++)
		unsetenv(env_names[i]);
}

/* Writes text to a new temporary file; its path goes into path. */
static void write_file(char *path, size_t cap, const char *text)
{
	FILE *f;
	int fd;

	snprintf(path, cap, "/tmp/sipward-test-cfg-XXXXXX");
	fd = mkstemp(path);
	assert_true(fd >= 0);
	f = fdopen(fd, "w");
	assert_non_null(f);
	assert_int_equal(fputs(text, f) >= 0, 1);
	assert_int_equal(fclose(f), 0);
}

static void test_defaults(void **state)
{
	struct cfg c;

	(void)state;
	memset(&c, 0x5a, sizeof(c));
	cfg_defaults(&c);
	assert_string_equal(c.db, "sqlite:sipward.db");
	assert_string_equal(c.http, "127.0.0.1:8080");
	assert_string_equal(c.sip, "127.0.0.1:5060");
	assert_string_equal(c.domain, "sipward.localhost");
	assert_string_equal(c.log_level, "info");
	assert_int_equal(c.body_max, 65536); /* 64 KiB, per the contract */
	assert_int_equal(c.http_threads, 0);
	assert_int_equal(c.http_write_threads, 0);
	assert_int_equal(c.http_conn_max, 4096);
	assert_int_equal(c.http_conn_per_addr, 64);
	assert_int_equal(c.http_timeout, 60);
	assert_int_equal(c.http_request_timeout, 10);
	/* 20 failures in 60 s give a 60 s penalty (contract). */
	assert_int_equal(c.auth_fail_max, 20);
	assert_int_equal(c.auth_fail_window, 60);
	assert_int_equal(c.auth_fail_penalty, 60);
}

static void test_set_int(void **state)
{
	struct cfg c;
	char err[256];

	(void)state;
	cfg_defaults(&c);
	assert_int_equal(cfg_set(&c, "body_max", "64", err, sizeof(err)), 0);
	assert_int_equal(c.body_max, 64);
	assert_int_equal(cfg_set(&c, "body_max", "16777216", err, sizeof(err)),
			 0);
	assert_int_equal(c.body_max, 16777216);
	assert_int_equal(cfg_set(&c, "http_threads", "0", err, sizeof(err)), 0);
	assert_int_equal(cfg_set(&c, "http_threads", "256", err, sizeof(err)),
			 0);
	assert_int_equal(c.http_threads, 256);
	assert_int_equal(
	    cfg_set(&c, "auth_fail_max", "1000000", err, sizeof(err)), 0);
	assert_int_equal(c.auth_fail_max, 1000000);
	assert_int_equal(cfg_set(&c, "http_timeout", "007", err, sizeof(err)),
			 0);
	assert_int_equal(c.http_timeout, 7);
}

static void test_set_int_bounds(void **state)
{
	static const struct {
		const char *name;
		const char *value;
		int rc;
	} bad[] = {
	    {"body_max", "63", ERANGE},
	    {"body_max", "16777217", ERANGE},
	    {"body_max", "0", ERANGE},
	    {"http_threads", "257", ERANGE},
	    {"http_conn_max", "0", ERANGE},
	    {"http_conn_max", "65537", ERANGE},
	    {"http_timeout", "0", ERANGE},
	    {"http_timeout", "3601", ERANGE},
	    {"auth_fail_max", "0", ERANGE},
	    {"auth_fail_max", "1000001", ERANGE},
	    {"auth_fail_window", "0", ERANGE},
	    {"auth_fail_window", "86401", ERANGE},
	    {"auth_fail_penalty", "0", ERANGE},
	    {"auth_fail_penalty", "86401", ERANGE},
	    {"body_max", "", EINVAL},
	    {"body_max", "abc", EINVAL},
	    {"body_max", "1024x", EINVAL},
	    {"body_max", "1024 ", EINVAL},
	    {"body_max", " 1024", EINVAL},
	    {"body_max", "+1024", EINVAL},
	    {"body_max", "-1024", EINVAL},
	    {"body_max", "0x400", EINVAL},
	    {"body_max", "1e4", EINVAL},
	    {"body_max", "1024.0", EINVAL},
	    {"body_max", "99999999999999999999999", EINVAL},
	    {"http_threads", "-0", EINVAL},
	};
	struct cfg c, before;
	char err[256];

	(void)state;
	cfg_defaults(&c);
	before = c;
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		print_message("%s='%s'\n", bad[i].name, bad[i].value);
		err[0] = '\0';
		assert_int_equal(
		    cfg_set(&c, bad[i].name, bad[i].value, err, sizeof(err)),
		    bad[i].rc);
		assert_memory_equal(&c, &before, sizeof(c));
		/* The sentence names the option. */
		assert_non_null(strstr(err, bad[i].name));
	}
}

static void test_set_str(void **state)
{
	struct cfg c, before;
	char err[256], big[CFG_STR_MAX + 1];

	(void)state;
	cfg_defaults(&c);
	assert_int_equal(
	    cfg_set(&c, "db", "sqlite:/var/lib/x.db", err, sizeof(err)), 0);
	assert_string_equal(c.db, "sqlite:/var/lib/x.db");
	assert_int_equal(
	    cfg_set(&c, "domain", "sip.example.com", err, sizeof(err)), 0);
	assert_string_equal(c.domain, "sip.example.com");
	assert_int_equal(cfg_set(&c, "http", "[::1]:9", err, sizeof(err)), 0);
	assert_string_equal(c.http, "[::1]:9");

	memset(big, 'x', CFG_STR_MAX - 1);
	big[CFG_STR_MAX - 1] = '\0';
	assert_int_equal(cfg_set(&c, "db", big, err, sizeof(err)), 0);
	assert_int_equal(strlen(c.db), CFG_STR_MAX - 1);

	before = c;
	big[CFG_STR_MAX - 1] = 'x';
	big[CFG_STR_MAX] = '\0';
	assert_int_equal(cfg_set(&c, "db", big, err, sizeof(err)), ERANGE);
	assert_int_equal(cfg_set(&c, "db", "", err, sizeof(err)), ERANGE);
	assert_int_equal(cfg_set(&c, "domain", "a\nb", err, sizeof(err)),
			 EINVAL);
	assert_int_equal(cfg_set(&c, "domain", "a\tb", err, sizeof(err)),
			 EINVAL);
	assert_int_equal(cfg_set(&c, "domain", "a\x7f", err, sizeof(err)),
			 EINVAL);
	assert_int_equal(cfg_set(&c, "domain", "\x1b[2J", err, sizeof(err)),
			 EINVAL);
	assert_memory_equal(&c, &before, sizeof(c));
}

static void test_set_unknown(void **state)
{
	struct cfg c, before;
	char err[256] = "";

	(void)state;
	cfg_defaults(&c);
	before = c;
	assert_int_equal(cfg_set(&c, "bogus", "1", err, sizeof(err)), ENOENT);
	assert_non_null(strstr(err, "bogus"));
	assert_int_equal(cfg_set(&c, "", "1", err, sizeof(err)), ENOENT);
	assert_int_equal(cfg_set(&c, "BODY_MAX", "1024", err, sizeof(err)),
			 ENOENT);
	assert_int_equal(cfg_set(&c, "body-max", "1024", err, sizeof(err)),
			 ENOENT);
	assert_int_equal(cfg_set(&c, "body_max ", "1024", err, sizeof(err)),
			 ENOENT);
	assert_memory_equal(&c, &before, sizeof(c));
	/* A tiny err buffer is still NUL-terminated. */
	memset(err, 'z', sizeof(err));
	assert_int_equal(cfg_set(&c, "bogus", "1", err, 4), ENOENT);
	assert_int_equal(strlen(err), 3);
}

static void test_load_file(void **state)
{
	char path[64], err[512] = "";
	struct cfg c;

	(void)state;
	write_file(path, sizeof(path),
		   "# sipward test config\n"
		   "\n"
		   "   \n"
		   "  # indented comment\n"
		   "db = sqlite:/tmp/a=b.db\n"
		   "body_max=1024\n"
		   "\thttp_timeout\t=\t30\t\n"
		   "domain = sip.example.com\r\n"
		   "log_level = debug"); /* no final newline */
	cfg_defaults(&c);
	assert_int_equal(cfg_load_file(&c, path, err, sizeof(err)), 0);
	assert_string_equal(c.db, "sqlite:/tmp/a=b.db");
	assert_int_equal(c.body_max, 1024);
	assert_int_equal(c.http_timeout, 30);
	assert_string_equal(c.domain, "sip.example.com");
	assert_string_equal(c.log_level, "debug");
	assert_string_equal(c.http, "127.0.0.1:8080"); /* untouched */
	unlink(path);
}

/* Loads text and expects rc, an error naming "path:line", c unchanged. */
static void load_bad(const char *text, int rc, unsigned line, const char *also)
{
	char path[64], err[512] = "", where[96];
	struct cfg c, before;

	write_file(path, sizeof(path), text);
	cfg_defaults(&c);
	before = c;
	assert_int_equal(cfg_load_file(&c, path, err, sizeof(err)), rc);
	snprintf(where, sizeof(where), "%s:%u:", path, line);
	print_message("err: %s\n", err);
	assert_non_null(strstr(err, where));
	if (also)
		assert_non_null(strstr(err, also));
	/* Nothing changed, not even lines before the bad one. */
	assert_memory_equal(&c, &before, sizeof(c));
	unlink(path);
}

static void test_load_file_errors(void **state)
{
	char line[2048];

	(void)state;
	load_bad("body_max = 1024\n# ok\nnot_an_option = 5\n", ENOENT, 3,
		 "not_an_option");
	load_bad("db = sqlite:x.db\nbody_max 1024\n", EINVAL, 2, NULL);
	load_bad("body_max = 1024\nhttp_timeout = 0\n", ERANGE, 2,
		 "http_timeout");
	load_bad("domain = x\nbody_max = lots\n", EINVAL, 2, "body_max");
	load_bad("domain = x\ndb =\n", ERANGE, 2, "db");
	load_bad("= 5\n", ENOENT, 1, NULL);
	snprintf(line, sizeof(line), "domain = x\ndb = ");
	memset(line + strlen(line), 'x', 1500);
	line[sizeof(line) - 2] = '\n';
	line[sizeof(line) - 1] = '\0';
	load_bad(line, ERANGE, 2, NULL);
}

static void test_load_file_missing(void **state)
{
	char err[512] = "";
	struct cfg c, before;

	(void)state;
	cfg_defaults(&c);
	before = c;
	assert_int_equal(
	    cfg_load_file(&c, "/nonexistent/sipward.conf", err, sizeof(err)),
	    ENOENT);
	assert_non_null(strstr(err, "/nonexistent/sipward.conf"));
	assert_memory_equal(&c, &before, sizeof(c));
}

static void test_load_file_empty(void **state)
{
	char path[64], err[512] = "";
	struct cfg c, before;

	(void)state;
	write_file(path, sizeof(path), "");
	cfg_defaults(&c);
	before = c;
	assert_int_equal(cfg_load_file(&c, path, err, sizeof(err)), 0);
	assert_memory_equal(&c, &before, sizeof(c));
	unlink(path);
}

static void test_load_env(void **state)
{
	char err[512] = "";
	struct cfg c;

	(void)state;
	clear_env();
	cfg_defaults(&c);
	assert_int_equal(setenv("SIPWARD_BODY_MAX", "2048", 1), 0);
	assert_int_equal(setenv("SIPWARD_DB", "sqlite:/tmp/env.db", 1), 0);
	assert_int_equal(setenv("SIPWARD_AUTH_FAIL_PENALTY", "5", 1), 0);
	assert_int_equal(setenv("SIPWARD_LOG_LEVEL", "warn", 1), 0);
	assert_int_equal(setenv("SIPWARD_BOGUS", "1", 1), 0); /* ignored */
	assert_int_equal(setenv("sipward_http", "1.2.3.4:5", 1), 0);
	assert_int_equal(cfg_load_env(&c, err, sizeof(err)), 0);
	assert_int_equal(c.body_max, 2048);
	assert_string_equal(c.db, "sqlite:/tmp/env.db");
	assert_int_equal(c.auth_fail_penalty, 5);
	assert_string_equal(c.log_level, "warn");
	assert_string_equal(c.http, "127.0.0.1:8080");
	unsetenv("SIPWARD_BOGUS");
	unsetenv("sipward_http");
	clear_env();
}

static void test_load_env_error(void **state)
{
	char err[512] = "";
	struct cfg c, before;

	(void)state;
	clear_env();
	cfg_defaults(&c);
	before = c;
	/* A good one first: it must not stick when a later one is bad. */
	assert_int_equal(setenv("SIPWARD_DB", "sqlite:/tmp/env.db", 1), 0);
	assert_int_equal(setenv("SIPWARD_BODY_MAX", "1", 1), 0);
	assert_int_equal(cfg_load_env(&c, err, sizeof(err)), ERANGE);
	assert_non_null(strstr(err, "SIPWARD_BODY_MAX"));
	assert_memory_equal(&c, &before, sizeof(c));
	assert_int_equal(setenv("SIPWARD_BODY_MAX", "many", 1), 0);
	assert_int_equal(cfg_load_env(&c, err, sizeof(err)), EINVAL);
	assert_memory_equal(&c, &before, sizeof(c));
	assert_int_equal(setenv("SIPWARD_BODY_MAX", "", 1), 0);
	assert_int_equal(cfg_load_env(&c, err, sizeof(err)), EINVAL);
	assert_memory_equal(&c, &before, sizeof(c));
	clear_env();
	assert_int_equal(cfg_load_env(&c, err, sizeof(err)), 0);
	assert_memory_equal(&c, &before, sizeof(c));
}

static void test_print_help(void **state)
{
	char *buf = NULL;
	size_t len = 0;
	FILE *f = open_memstream(&buf, &len);
	static const char *const names[] = {
	    "db",
	    "http",
	    "sip",
	    "domain",
	    "log_level",
	    "body_max",
	    "http_threads",
	    "http_conn_max",
	    "http_timeout",
	    "auth_fail_max",
	    "auth_fail_window",
	    "auth_fail_penalty",
	};

	(void)state;
	assert_non_null(f);
	cfg_print_help(f);
	fclose(f);
	for (size_t i = 0; i < sizeof(names) / sizeof(names[0]); i++)
		assert_non_null(strstr(buf, names[i]));
	assert_non_null(strstr(buf, "65536"));
	free(buf);
}

/* Sets name=value on a fresh default configuration and validates it. */
static int validate_with(const char *name, const char *value)
{
	struct cfg c;
	char err[256];

	cfg_defaults(&c);
	assert_int_equal(cfg_set(&c, name, value, err, sizeof(err)), 0);
	err[0] = '\0';
	if (cfg_validate(&c, err, sizeof(err)) == 0)
		return 0;
	/* One sentence naming the option, never a secret's value. */
	assert_true(err[0] != '\0');
	assert_null(strstr(err, "0123456789abcde"));
	return EINVAL;
}

static void test_validate_forms(void **state)
{
	struct cfg c;
	char err[256];

	(void)state;
	cfg_defaults(&c);
	assert_int_equal(cfg_validate(&c, err, sizeof(err)), 0);
	assert_int_equal(validate_with("db", "sqlite:x.db"), 0);
	assert_int_equal(validate_with("db", "postgres://h/d"), 0);
	assert_int_equal(validate_with("db", "sqlite:"), EINVAL);
	assert_int_equal(validate_with("db", "mysql://h/d"), EINVAL);
	assert_int_equal(validate_with("http", "[::1]:0"), 0);
	assert_int_equal(validate_with("http", "localhost:80"), EINVAL);
	assert_int_equal(validate_with("sip", "127.0.0.1"), EINVAL);
	assert_int_equal(validate_with("log_level", "warn"), 0);
	assert_int_equal(validate_with("log_level", "loud"), EINVAL);
	assert_int_equal(validate_with("sip_digest_algorithms", "sha-256"), 0);
	assert_int_equal(validate_with("sip_digest_algorithms", "SHA-256, MD5"),
			 0);
	assert_int_equal(validate_with("sip_digest_algorithms", "MD5,MD5"),
			 EINVAL);
	assert_int_equal(validate_with("sip_digest_algorithms", "SHA1"),
			 EINVAL);
	assert_int_equal(validate_with("sip_digest_algorithms", ","), EINVAL);
	assert_int_equal(validate_with("dns_servers", "192.0.2.53"), 0);
	assert_int_equal(
	    validate_with("dns_servers", "127.0.0.1:5353,[2001:db8::53]:53"),
	    0);
	assert_int_equal(validate_with("dns_servers", "dns.example"), EINVAL);
	assert_int_equal(validate_with("dns_servers", "2001:db8::53"), EINVAL);
	assert_int_equal(validate_with("dns_servers", "192.0.2.53,"), EINVAL);
	assert_int_equal(validate_with("dns_servers", ",192.0.2.53"), EINVAL);
	assert_int_equal(validate_with("dns_servers", "192.0.2.53 , 1.1.1.1"),
			 EINVAL);
	assert_int_equal(
	    validate_with("dns_servers",
			  "1.1.1.1,1.1.1.2,1.1.1.3,1.1.1.4,1.1.1.5,1.1.1.6,"
			  "1.1.1.7,1.1.1.8,1.1.1.9"),
	    EINVAL);
}

static void test_validate_nonce_secret(void **state)
{
	char s[80];

	(void)state;
	/* 16-64 characters, as --help and docs/config.md say, or auto. */
	assert_int_equal(validate_with("sip_nonce_secret", "auto"), 0);
	memset(s, 'k', sizeof(s));
	s[15] = '\0';
	assert_int_equal(validate_with("sip_nonce_secret", s), EINVAL);
	memcpy(s, "0123456789abcdef", 16); /* 16: the shortest */
	s[16] = '\0';
	assert_int_equal(validate_with("sip_nonce_secret", s), 0);
	memset(s, 'k', sizeof(s));
	s[64] = '\0';
	assert_int_equal(validate_with("sip_nonce_secret", s), 0);
	s[64] = 'k';
	s[65] = '\0';
	assert_int_equal(validate_with("sip_nonce_secret", s), EINVAL);
	memcpy(s, "0123456789abcde", 15);
	s[15] = '\0';
	assert_int_equal(validate_with("sip_nonce_secret", s), EINVAL);
	assert_true(cfg_is_secret("sip_nonce_secret"));
	assert_false(cfg_is_secret("db"));
	assert_false(cfg_is_secret("nonsense"));
}

static void test_validate_expires_rules(void **state)
{
	struct cfg c;
	char err[256];

	(void)state;
	cfg_defaults(&c);
	c.sip_min_expires = 120;
	c.sip_max_expires = 60;
	c.sip_default_expires = 90;
	assert_int_equal(cfg_validate(&c, err, sizeof(err)), EINVAL);
	assert_non_null(strstr(err, "sip_min_expires"));
	c.sip_max_expires = 600;
	c.sip_default_expires = 60; /* below the minimum */
	assert_int_equal(cfg_validate(&c, err, sizeof(err)), EINVAL);
	assert_non_null(strstr(err, "sip_default_expires"));
	c.sip_default_expires = 601; /* above the maximum */
	assert_int_equal(cfg_validate(&c, err, sizeof(err)), EINVAL);
	c.sip_default_expires = 600;
	assert_int_equal(cfg_validate(&c, err, sizeof(err)), 0);
	c.sip_default_expires = 120;
	assert_int_equal(cfg_validate(&c, err, sizeof(err)), 0);
}

static void test_print_markdown(void **state)
{
	char *buf = NULL;
	size_t len = 0, rows = 0;
	FILE *f = open_memstream(&buf, &len);

	(void)state;
	assert_non_null(f);
	cfg_print_markdown(f);
	fclose(f);
	for (char *p = buf; (p = strstr(p, "\n| `")); p++)
		rows++;
	/* A row per option, each with its default. */
	assert_true(rows >= 30);
	assert_non_null(strstr(buf, "| `sip_nonce_secret` | string (secret) | "
				    "`auto` | `auto`, or 16-64 characters |"));
	assert_non_null(strstr(buf, "| `store_timeout` | integer | `3` | "));
	free(buf);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_defaults),
	    cmocka_unit_test(test_set_int),
	    cmocka_unit_test(test_set_int_bounds),
	    cmocka_unit_test(test_set_str),
	    cmocka_unit_test(test_set_unknown),
	    cmocka_unit_test(test_load_file),
	    cmocka_unit_test(test_load_file_errors),
	    cmocka_unit_test(test_load_file_missing),
	    cmocka_unit_test(test_load_file_empty),
	    cmocka_unit_test(test_load_env),
	    cmocka_unit_test(test_load_env_error),
	    cmocka_unit_test(test_print_help),
	    cmocka_unit_test(test_validate_forms),
	    cmocka_unit_test(test_validate_nonce_secret),
	    cmocka_unit_test(test_validate_expires_rules),
	    cmocka_unit_test(test_print_markdown),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
