/*
 * fuzz_sip_sdp.c - libFuzzer harness for sip_sdp_refuse_video: the input is
 * an SDP body. Checks that the result is the input with only the port of
 * m=video lines changed to 0 (line for line), that it fits in the input's
 * length, that a second pass changes nothing, that an in-place edit gives
 * the same bytes, and that a cap one byte short is ERANGE with nothing
 * written. Traps on broken invariants.
 */
#include <errno.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "sip/sdp.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

#define CHECK(cond)                                                         \
	do {                                                                \
		if (!(cond)) {                                              \
			fprintf(stderr, "invariant failed: %s (line %d)\n", \
				#cond, __LINE__);                           \
			__builtin_trap();                                   \
		}                                                           \
	} while (0)

/* The length of the line at p (up to and with its LF) within n bytes. */
static size_t line_len(const char *p, size_t n)
{
	const char *nl = memchr(p, '\n', n);

	return nl ? (size_t)(nl - p) + 1 : n;
}

/* Whether the line [p, p + n) begins "m=video " (type any case). */
static bool is_video(const char *p, size_t n)
{
	return n >= 8 && p[0] == 'm' && p[1] == '=' &&
	       strncasecmp(p + 2, "video", 5) == 0 && p[7] == ' ';
}

/* Every output line is its input line, an m=video one with its port 0. */
static void check_lines(const char *in, size_t len, const char *out,
			size_t outlen)
{
	size_t i = 0, o = 0;

	while (i < len) {
		size_t a = line_len(in + i, len - i), d = 8;

		CHECK(o < outlen);
		if (is_video(in + i, a)) {
			while (d < a && in[i + d] >= '0' && in[i + d] <= '9')
				d++;
			CHECK(d > 8);
			CHECK(outlen - o >= 9 + (a - d));
			CHECK(memcmp(out + o, in + i, 8) == 0);
			CHECK(out[o + 8] == '0');
			CHECK(memcmp(out + o + 9, in + i + d, a - d) == 0);
			o += 9 + (a - d);
		} else {
			CHECK(outlen - o >= a);
			CHECK(memcmp(out + o, in + i, a) == 0);
			o += a;
		}
		i += a;
	}
	CHECK(o == outlen);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	const char *in = (const char *)data;
	char *out = malloc(size + 1), *again = malloc(size + 1),
	     *place = malloc(size + 1);
	size_t outlen = (size_t)-1, n = (size_t)-1;
	int rc;

	if (!out || !again || !place)
		goto out;
	rc = sip_sdp_refuse_video(in, size, out, size + 1, &outlen);
	CHECK(rc == 0 || rc == EINVAL);
	if (rc) {
		CHECK(outlen == (size_t)-1);
		/* Refused whatever the room. */
		CHECK(sip_sdp_refuse_video(in, size, out, 0, &n) == EINVAL);
		goto out;
	}
	CHECK(outlen <= size);
	CHECK(size >= 2 && in[0] == 'v' && in[1] == '=');
	CHECK(!memchr(in, '\0', size));
	check_lines(in, size, out, outlen);

	/* A second pass changes nothing. */
	CHECK(sip_sdp_refuse_video(out, outlen, again, outlen, &n) == 0);
	CHECK(n == outlen && memcmp(again, out, n) == 0);

	/* In place, the same bytes. */
	memcpy(place, in, size);
	CHECK(sip_sdp_refuse_video(place, size, place, size, &n) == 0);
	CHECK(n == outlen && memcmp(place, out, n) == 0);

	/* One byte short: ERANGE, nothing written. */
	if (outlen > 0) {
		memset(again, 0x5a, size + 1);
		n = (size_t)-1;
		CHECK(sip_sdp_refuse_video(in, size, again, outlen - 1, &n) ==
		      ERANGE);
		CHECK(n == (size_t)-1);
		for (size_t i = 0; i <= size; i++)
			CHECK((unsigned char)again[i] == 0x5a);
	}
out:
	free(out);
	free(again);
	free(place);
	return 0;
}
