/*
 * fuzz_http.c - libFuzzer harness for the HTTP/1.1 request parser: the
 * head parsed whole and fed in growing pieces (the answer must not depend
 * on how the bytes arrived), every header and the decoded path read (so ASan
 * checks their bounds), then the rest decoded as a chunked body whole and
 * byte by byte. Traps on broken invariants.
 */
#include <errno.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "http/parse.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

#define CHECK(cond)                                                         \
	do {                                                                \
		if (!(cond)) {                                              \
			fprintf(stderr, "invariant failed: %s (line %d)\n", \
				#cond, __LINE__);                           \
			__builtin_trap();                                   \
		}                                                           \
	} while (0)

static volatile size_t sink;

/* A string inside [lo, hi) with its NUL there too. */
static void touch(const char *s, const char *lo, const char *hi)
{
	CHECK(s >= lo && s < hi);
	sink += strlen(s);
	CHECK(s + strlen(s) < hi);
}

static int parse_all(char *buf, size_t len, struct http_head *h)
{
	size_t scanned = 0;

	memset(h, 0, sizeof(*h));
	return http_head_parse(buf, len, &scanned, h);
}

/* Feeds buf in pieces of step bytes, as a trickling client would. */
static int parse_steps(char *buf, size_t len, size_t step, struct http_head *h)
{
	size_t scanned = 0, n = 0;
	int rc = EAGAIN;

	while (rc == EAGAIN && n < len) {
		n = n + step > len ? len : n + step;
		memset(h, 0, sizeof(*h));
		rc = http_head_parse(buf, n, &scanned, h);
	}
	return rc;
}

static void chunks(const char *in, size_t len)
{
	struct http_chunked a = {0}, b = {0};
	char *x = malloc(len + 1), *y = malloc(len + 1);
	size_t used, out, total = 0, off = 0;
	int ra, rb = 0;

	if (!x || !y)
		goto out;
	memcpy(x, in, len);
	ra = http_chunked_decode(&a, x, len, &used, &out);
	CHECK(used <= len && out <= used);
	CHECK(ra == 0 || ra == 1 || ra == EBADMSG);
	if (ra == 0)
		CHECK(used == len);
	/* byte by byte: the same verdict and the same body */
	while (off < len) {
		size_t u, o;
		y[total] = in[off];
		rb = http_chunked_decode(&b, y + total, 1, &u, &o);
		CHECK(u == 1 && o <= 1);
		total += o;
		off++;
		if (rb)
			break;
	}
	CHECK(ra == rb);
	if (ra != EBADMSG) {
		CHECK(off == used && total == out);
		CHECK(memcmp(x, y, out) == 0);
	}
out:
	free(x);
	free(y);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct http_head *h = malloc(sizeof(*h)), *h2 = malloc(sizeof(*h2));
	char *a = malloc(size + 1), *b = malloc(size + 1);
	int rc, rc2;

	if (!h || !h2 || !a || !b)
		goto out;
	memcpy(a, data, size);
	memcpy(b, data, size);
	a[size] = b[size] = '\0';
	rc = parse_all(a, size, h);
	CHECK(rc == 0 || rc == EAGAIN || rc == EBADMSG);
	rc2 = parse_steps(b, size, 1 + (size ? data[0] % 7 : 0), h2);
	CHECK(rc == rc2);
	if (rc == EBADMSG) {
		CHECK(h->status == 400 || h->status == 414 ||
		      h->status == 431 || h->status == 501 || h->status == 505);
		CHECK(h->msg && h->msg[0]);
		CHECK(h->status == h2->status);
	}
	if (rc == 0) {
		CHECK(h->head_len <= size && h->head_len == h2->head_len);
		CHECK(h->nhdr <= HTTP_HDR_MAX);
		CHECK(!(h->chunked && h->has_length));
		touch(h->method, a, a + size + 1);
		touch(h->path, a, a + size + 1);
		CHECK(strlen(h->path) <= HTTP_TARGET_MAX);
		if (h->query)
			touch(h->query, a, a + size + 1);
		for (unsigned i = 0; i < h->nhdr; i++) {
			touch(h->hdr[i].name, a, a + size + 1);
			touch(h->hdr[i].value, a, a + size + 1);
			CHECK(!strchr(h->hdr[i].value, '\r'));
			CHECK(!strchr(h->hdr[i].value, '\n'));
		}
		if (h->query) {
			char *q = strdup(h->query);
			if (q) {
				CHECK(http_unescape(q, true) <=
				      strlen(h->query));
				free(q);
			}
		}
		chunks(a + h->head_len, size - h->head_len);
	} else {
		chunks((const char *)data, size);
	}
out:
	free(h);
	free(h2);
	free(a);
	free(b);
	return 0;
}
