/*
 * parse.h - the strict HTTP/1.1 request parser (RFC 9112) behind
 * http/server.c: the request head, chunked bodies, percent-decoding. Pure
 * functions over caller-owned buffers, no I/O and no allocation, so they can
 * be unit-tested and fuzzed on their own.
 */
#ifndef HTTP_PARSE_H
#define HTTP_PARSE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define HTTP_TARGET_MAX 8192  /* longest request-target: else 414 */
#define HTTP_HEAD_MAX 16384   /* longest request head: else 431 */
#define HTTP_HDR_MAX 100      /* most header lines: else 431 */
#define HTTP_TRAILER_MAX 4096 /* most bytes of chunked trailers: else 400 */

struct http_hdr {
	const char *name;
	const char *value;
};

struct http_head {
	char *method; /* NUL-terminated, inside the parsed buffer */
	char *path;   /* percent-decoded (%00 stays literal) */
	char *query;  /* raw query after '?', NULL when none */
	int minor;    /* HTTP/1.<minor>: 0 or 1 */
	struct http_hdr hdr[HTTP_HDR_MAX];
	unsigned nhdr;
	size_t head_len; /* bytes of the head, through its empty line */
	bool chunked;
	bool has_length;
	uint64_t length; /* Content-Length */
	bool close;	 /* Connection: close, or HTTP/1.0 */
	bool expect_continue;
	/* on error: */
	int status; /* 400, 414, 431, 501, 505 */
	const char *msg;
};

/*
 * Parses the request head at the start of buf (len bytes received so far),
 * NUL-terminating its parts in place. *scanned carries progress between
 * calls on the same growing buffer (start it at 0). Returns 0 when the head
 * is complete (h filled), EAGAIN when more bytes are needed, EBADMSG when
 * the request must be refused with h->status and h->msg (one sentence).
 */
int http_head_parse(char *buf, size_t len, size_t *scanned,
		    struct http_head *h);

/* Returns the value of header `name` (case-insensitive) in h, or NULL. */
const char *http_head_header(const struct http_head *h, const char *name);

struct http_chunked {
	int state;
	uint64_t left;	   /* data bytes left in this chunk */
	unsigned line;	   /* bytes in the current size or trailer line */
	unsigned trailers; /* trailer bytes so far */
	unsigned digits;
	int ext; /* chunk-extension sub-state */
};

/*
 * Decodes chunked data from buf[0..len) in place: decoded body bytes are
 * moved to buf[0..*out), *used is the number of input bytes consumed.
 * Returns 0 when more input is needed (all of it was consumed), 1 when the
 * last chunk and trailers ended (*used stops just after them), or EBADMSG
 * on malformed framing.
 */
int http_chunked_decode(struct http_chunked *st, char *buf, size_t len,
			size_t *used, size_t *out);

/*
 * Percent-decodes s in place ('+' becomes a space when plus is set, as in
 * a query), except "%00": a NUL would cut the C string, so it stays literal.
 * Returns the decoded length.
 */
size_t http_unescape(char *s, bool plus);

#endif
