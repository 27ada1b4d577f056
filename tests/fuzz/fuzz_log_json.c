/*
 * fuzz_log_json.c - libFuzzer harness for base_log_json, the logfmt-to-JSON
 * converter of log_format = json: the input's first byte picks the line's
 * cap (128 to 4096 bytes), the rest is the fields. Traps unless the line
 * fits the cap, is one line ending in "}\n", and parses (jansson, duplicate
 * keys refused) as an object of strings whose first keys are ts, level and
 * event. Then the input (as valid UTF-8 text, short enough that its line
 * is never cut) quoted with base_log_quote must come back exactly as the
 * value.
 */
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <jansson.h>

#include "base/log.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

#define CHECK(cond)                                                         \
	do {                                                                \
		if (!(cond)) {                                              \
			fprintf(stderr, "invariant failed: %s (line %d)\n", \
				#cond, __LINE__);                           \
			__builtin_trap();                                   \
		}                                                           \
	} while (0)

static const char ts[] = "2026-12-01T00:00:00.000Z";

/* Converts fields into out (cap bytes) and checks the line; returns the
 * parsed object. */
static json_t *convert(const char *fields, size_t len, char *out, size_t cap)
{
	static const char *const first[] = {"ts", "level", "event"};
	size_t n = base_log_json(ts, "warn", "fuzz", fields, len, out, cap);
	const char *key;
	json_t *o, *v;
	unsigned i = 0;

	CHECK(n >= 3 && n <= cap);
	CHECK(out[n - 2] == '}' && out[n - 1] == '\n');
	CHECK(!memchr(out, '\n', n - 1) && !memchr(out, '\r', n));
	/* NUL bytes of the input come out as \u0000 */
	o = json_loadb(out, n, JSON_REJECT_DUPLICATES | JSON_ALLOW_NUL, NULL);
	CHECK(o && json_is_object(o));
	json_object_foreach(o, key, v)
	{
		CHECK(json_is_string(v));
		if (i < 3)
			CHECK(strcmp(key, first[i]) == 0);
		i++;
	}
	CHECK(i >= 3);
	CHECK(strcmp(json_string_value(json_object_get(o, "event")), "fuzz") ==
	      0);
	CHECK(strcmp(json_string_value(json_object_get(o, "level")), "warn") ==
	      0);
	return o;
}

/* The input as a C string of valid UTF-8 (NUL and bad bytes dropped). */
static size_t valid_text(const uint8_t *d, size_t n, char *out, size_t cap)
{
	size_t o = 0;

	for (size_t i = 0; i < n && o + 5 < cap;) {
		size_t k = d[i] < 0x80			  ? 1
			   : d[i] >= 0xc2 && d[i] <= 0xdf ? 2
			   : d[i] >= 0xe1 && d[i] <= 0xec ? 3
			   : d[i] >= 0xf1 && d[i] <= 0xf3 ? 4
							  : 0;
		bool ok = k && i + k <= n && d[i] != 0;

		for (size_t j = 1; ok && j < k; j++)
			ok = d[i + j] >= 0x80 && d[i + j] <= 0xbf;
		if (!ok) {
			i++;
			continue;
		}
		memcpy(out + o, d + i, k);
		o += k;
		i += k;
	}
	out[o] = '\0';
	return o;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static char out[BASE_LOG_JSON_MAX], text[600], q[2500], f[2600];
	size_t cap;
	json_t *o;

	if (size < 1)
		return 0;
	cap = 128 + (size_t)data[0] * (BASE_LOG_JSON_MAX - 128) / 255;
	o = convert((const char *)data + 1, size - 1, out, cap);
	json_decref(o);

	/* Round trip: any text quoted as callers quote client values. */
	valid_text(data + 1, size - 1, text, sizeof(text));
	base_log_quote(text, q, sizeof(q));
	snprintf(f, sizeof(f), "k=%s after=1", q);
	o = convert(f, strlen(f), out, sizeof(out));
	CHECK(strcmp(json_string_value(json_object_get(o, "k")), text) == 0);
	CHECK(strcmp(json_string_value(json_object_get(o, "after")), "1") == 0);
	json_decref(o);
	return 0;
}
