/*
 * fuzz_body.c - libFuzzer harness for request-body decoding and validation:
 * jansson parsing as api_body_object() does it, then every model rule on
 * every string, the error list, and JSON output. Traps on broken invariants.
 */
#include <errno.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <jansson.h>

#include "api/internal.h"
#include "base/log.h"
#include "base/text.h"
#include "model/model.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

#define CHECK(cond)                                                         \
	do {                                                                \
		if (!(cond)) {                                              \
			fprintf(stderr, "invariant failed: %s (line %d)\n", \
				#cond, __LINE__);                           \
			__builtin_trap();                                   \
		}                                                           \
	} while (0)

/* The deepest nesting walked (jansson itself caps parsing at 2048). */
#define DEPTH_MAX 64

static bool ascii_prefix(const char *s, size_t len, const char *p)
{
	size_t n = strlen(p);

	if (len < n)
		return false;
	for (size_t i = 0; i < n; i++) {
		char c = s[i];
		if (c >= 'A' && c <= 'Z')
			c = (char)(c - 'A' + 'a');
		if (c != p[i])
			return false;
	}
	return true;
}

/* After a check: rc is 0 or EINVAL, and EINVAL leaves an entry for field. */
static void check_rc(int rc, const struct model_errors *errs, unsigned before,
		     const char *field)
{
	CHECK(rc == 0 || rc == EINVAL);
	if (rc == 0) {
		CHECK(errs->n == before);
		return;
	}
	CHECK(errs->n >= before);
	if (errs->n == before) {
		/* Only when the list is full or the field already failed. */
		bool found = errs->n == MODEL_ERRORS_MAX;
		for (unsigned i = 0; i < errs->n && !found; i++)
			found = strcmp(model_errors_field(errs, i), field) == 0;
		CHECK(found);
	}
}

/* Runs every model rule on one string and checks they agree with the scan. */
static void check_string(const char *key, const char *s, size_t len,
			 struct model_errors *errs)
{
	size_t count = 0;
	bool printable = false;
	int scan = base_text_scan(s, len, &count, &printable);
	bool has_nul = memchr(s, '\0', len) != NULL;
	unsigned before;
	int rc;

	CHECK(scan == 0 || scan == EILSEQ);
	if (scan == 0) {
		CHECK(count <= len);
		CHECK(!has_nul || !printable);
	}
	/* jansson only hands out valid UTF-8. */
	CHECK(scan == 0);

	before = errs->n;
	rc = model_username_check(s, len, key, errs);
	check_rc(rc, errs, before, key);
	if (rc == 0) {
		CHECK(len >= 1 && len <= MODEL_USERNAME_MAX);
		for (size_t i = 0; i < len; i++) {
			char c = s[i];
			CHECK((c >= 'a' && c <= 'z') ||
			      (c >= 'A' && c <= 'Z') ||
			      (c >= '0' && c <= '9') || c == '_');
		}
	}

	before = errs->n;
	rc = model_password_check(s, len, key, errs);
	check_rc(rc, errs, before, key);
	if (rc == 0)
		CHECK(printable && count >= MODEL_PASSWORD_MIN &&
		      count <= MODEL_PASSWORD_MAX);
	else
		CHECK(!printable || count < MODEL_PASSWORD_MIN ||
		      count > MODEL_PASSWORD_MAX);
	/* A password never appears in its own error message. */
	if (rc == EINVAL && len >= MODEL_PASSWORD_MIN && errs->n > before)
		CHECK(!memmem(errs->e[errs->n - 1].msg,
			      strlen(errs->e[errs->n - 1].msg), s, len));

	before = errs->n;
	rc = model_alias_check(s, len, key, errs);
	check_rc(rc, errs, before, key);
	CHECK((rc == 0) ==
	      (printable && count >= 1 && count <= MODEL_ALIAS_MAX));

	before = errs->n;
	rc = model_app_name_check(s, len, key, errs);
	check_rc(rc, errs, before, key);
	CHECK((rc == 0) ==
	      (printable && count >= 1 && count <= MODEL_APP_NAME_MAX));
	CHECK((base_text_check(s, len, 1, MODEL_ALIAS_MAX) == 0) ==
	      (printable && count >= 1 && count <= MODEL_ALIAS_MAX));

	before = errs->n;
	rc = model_url_check(s, len, key, errs);
	check_rc(rc, errs, before, key);
	if (rc == 0) {
		CHECK(len <= MODEL_URL_MAX);
		CHECK(ascii_prefix(s, len, "http://") ||
		      ascii_prefix(s, len, "https://"));
		for (size_t i = 0; i < len; i++)
			CHECK((unsigned char)s[i] > 0x20 &&
			      (unsigned char)s[i] < 0x7f);
	}

	if (!has_nul) {
		char method[MODEL_METHOD_MAX], q[96];
		size_t qn;

		/* Log quoting leaves no control byte to split a log line. */
		base_log_quote(s, q, sizeof(q));
		qn = strlen(q);
		CHECK(qn < sizeof(q) && q[0] == '"' && q[qn - 1] == '"');
		for (size_t i = 0; i < qn; i++)
			CHECK((unsigned char)q[i] >= 0x20 && q[i] != 0x7f);

		before = errs->n;
		rc = model_method_check(s, key, method, sizeof(method), errs);
		check_rc(rc, errs, before, key);
		if (rc == 0)
			CHECK(strcmp(method, "GET") == 0 ||
			      strcmp(method, "POST") == 0);

		before = errs->n;
		rc = model_domain_check(s, key, errs);
		check_rc(rc, errs, before, key);
		if (rc == 0)
			CHECK(len >= 1 && len < MODEL_DOMAIN_MAX);

		rc = model_id_check(s);
		CHECK(rc == 0 || rc == EINVAL);
		if (rc == 0) {
			CHECK(len >= 1 && len < MODEL_ID_MAX);
			for (size_t i = 0; i < len; i++)
				CHECK(s[i] >= '0' && s[i] <= '9');
		}
	}
}

/* Mirrors endpoint.c decode_app: an integer or a decimal string id. */
static void check_app_id(const char *key, json_t *v, struct model_errors *errs)
{
	char id[MODEL_ID_MAX + 8];
	const char *t = api_json_text(v);

	if (json_is_integer(v) && json_integer_value(v) >= 0) {
		snprintf(id, sizeof(id), "%lld",
			 (long long)json_integer_value(v));
		CHECK(model_id_check(id) == 0);
	} else if (t && json_string_length(v) < MODEL_ID_MAX &&
		   model_id_check(t) == 0) {
		snprintf(id, sizeof(id), "%s", t);
	} else if (!json_is_null(v)) {
		model_errors_add(errs, key, "Must be an application id");
	}
}

static void walk(const char *key, json_t *v, int depth,
		 struct model_errors *errs)
{
	const char *k;
	json_t *item;
	size_t i;

	if (depth > DEPTH_MAX)
		return;
	switch (json_typeof(v)) {
	case JSON_OBJECT:
		json_object_foreach(v, k, item)
		{
			size_t count;
			bool pr;
			/* Keys are valid UTF-8 too. */
			CHECK(base_text_scan(k, strlen(k), &count, &pr) == 0);
			walk(k, item, depth + 1, errs);
		}
		break;
	case JSON_ARRAY:
		json_array_foreach(v, i, item) walk(key, item, depth + 1, errs);
		break;
	case JSON_STRING: {
		const char *t = api_json_text(v);
		size_t len = json_string_length(v);

		/* api_json_text refuses exactly the strings with a NUL. */
		CHECK((t == NULL) ==
		      (memchr(json_string_value(v), '\0', len) != NULL));
		check_string(key, json_string_value(v), len, errs);
		check_app_id(key, v, errs);
		break;
	}
	case JSON_INTEGER:
	case JSON_REAL:
	case JSON_TRUE:
	case JSON_FALSE:
	case JSON_NULL:
		check_app_id(key, v, errs);
		break;
	}
}

/* Builds the error body api_reply_error() would send and prints it. */
static void error_body(const struct model_errors *errs)
{
	json_t *o = json_object(), *d = json_object();
	char *out;

	CHECK(errs->n <= MODEL_ERRORS_MAX);
	for (unsigned i = 0; i < errs->n; i++) {
		size_t count;
		bool pr;
		json_t *m;
		const char *f = model_errors_field(errs, i);

		CHECK(strlen(errs->e[i].msg) < sizeof(errs->e[0].msg));
		/* Names (whole) and cut messages stay valid UTF-8. */
		CHECK(base_text_scan(f, strlen(f), &count, &pr) == 0);
		CHECK(base_text_scan(errs->e[i].msg, strlen(errs->e[i].msg),
				     &count, &pr) == 0);
		/* One entry per field. */
		for (unsigned j = 0; j < i; j++)
			CHECK(strcmp(f, model_errors_field(errs, j)) != 0);
		m = json_string(errs->e[i].msg);
		CHECK(m != NULL);
		CHECK(json_object_set_new(d, f, m) == 0);
	}
	CHECK(json_object_size(d) == errs->n);
	json_object_set_new(
	    o, "api_id", json_string("00000000-0000-4000-8000-000000000000"));
	json_object_set_new(o, "error", json_string(API_E_PARAMS));
	json_object_set_new(o, "details", d);
	out = json_dumps(o, JSON_COMPACT | JSON_PRESERVE_ORDER);
	CHECK(out != NULL);
	free(out);
	json_decref(o);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static bool init;
	struct model_errors errs;
	json_error_t jerr;
	json_t *root, *again;
	char *out;

	if (!init) {
		base_log_level_set(BASE_LOG_ERROR); /* keep the run quiet */
		init = true;
	}
	/* Exactly what api_body_object() does. */
	root = json_loadb((const char *)data, size,
			  JSON_REJECT_DUPLICATES | JSON_ALLOW_NUL, &jerr);
	if (!root)
		return 0;
	if (!json_is_object(root)) {
		api_json_wipe(root);
		json_decref(root);
		return 0;
	}

	memset(&errs, 0, sizeof(errs));
	walk("", root, 0, &errs);
	error_body(&errs);
	model_errors_free(&errs);

	/* The output parses back to an equal value. */
	out = json_dumps(root, JSON_COMPACT | JSON_PRESERVE_ORDER);
	CHECK(out != NULL);
	again = json_loads(out, JSON_REJECT_DUPLICATES | JSON_ALLOW_NUL, &jerr);
	CHECK(again != NULL);
	CHECK(json_equal(root, again));
	json_decref(again);
	free(out);

	api_json_wipe(root);
	json_decref(root);
	return 0;
}
