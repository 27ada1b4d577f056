/*
 * build.h - SIP message builder (RFC 3261 sections 8.1.1, 8.2.6, 12.2.1):
 * requests from structured inputs and responses that copy Via, From, To,
 * Call-ID and CSeq from their request, into a capped buffer. The one way
 * this tree writes a SIP message. Every text input is checked: CR, LF or
 * NUL inside a header value is EINVAL, so nothing can inject a header.
 */
#ifndef SIP_BUILD_H
#define SIP_BUILD_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "sip/msg.h"

#define SIP_BRANCH_LEN 29 /* "z9hG4bK" + 22 random characters */
#define SIP_TAG_LEN 16
#define SIP_CALL_ID_LEN 32 /* without "@host" */
#define SIP_MAX_FORWARDS 70
/* The Allow header of every answer that lists what sipward takes. */
#define SIP_ALLOW_HDR                                                        \
	"Allow: REGISTER, OPTIONS, INVITE, ACK, CANCEL, BYE, UPDATE, INFO, " \
	"MESSAGE\r\n"

/*
 * A capped output buffer over caller memory. Writes past cap set err
 * (E2BIG) and are dropped; later writes are ignored, so a builder checks
 * err once at the end.
 */
struct sip_buf {
	char *p;
	size_t cap, len;
	int err; /* 0, E2BIG, or EINVAL for a bad input */
};

/* Makes b write into mem (cap bytes), empty. */
void sip_buf_init(struct sip_buf *b, char *mem, size_t cap);

/* Appends formatted text. */
__attribute__((format(printf, 2, 3))) void sip_buf_printf(struct sip_buf *b,
							  const char *fmt, ...);

/* Appends s (its n bytes; nothing when absent). */
void sip_buf_put(struct sip_buf *b, struct sip_str s);

/* Appends the NUL-terminated s. */
void sip_buf_puts(struct sip_buf *b, const char *s);
/* Appends v in decimal. */
void sip_buf_putu(struct sip_buf *b, unsigned long long v);

/*
 * Writes a fresh RFC 3261 branch ("z9hG4bK" + 22 random letters and
 * digits) into out (cap > SIP_BRANCH_LEN). Returns 0, EIO or ERANGE.
 */
int sip_build_branch(char *out, size_t cap);

/* Writes a random tag of SIP_TAG_LEN hex digits (cap > SIP_TAG_LEN). */
int sip_build_tag(char *out, size_t cap);

/*
 * Writes a random Call-ID of SIP_CALL_ID_LEN hex digits, "@host" after
 * it when host is not NULL. Returns 0, EIO or ERANGE.
 */
int sip_build_call_id(char *out, size_t cap, const char *host);

/* A request to build; NULL strings are absent. */
struct sip_req {
	const char *method; /* "INVITE", "ACK", ... (a token) */
	const char *ruri;   /* Request-URI */
	/* Top Via: SIP/2.0/<transport> <host>[:<port>];branch=..;rport.
	 * host is bracketed when it holds ':' (IPv6). branch: NULL draws a
	 * fresh one (written back through branch_out when not NULL). */
	const char *transport; /* "UDP", "TCP"; NULL: "UDP" */
	const char *via_host;
	unsigned via_port; /* 0: no port */
	const char *branch;
	char *branch_out; /* SIP_BRANCH_LEN + 1 bytes, or NULL */
	const char *from; /* name-addr or URI, without tag */
	const char *from_tag;
	const char *to; /* name-addr or URI, without tag */
	const char *to_tag;
	const char *call_id;
	uint32_t cseq;
	const char *cseq_method;  /* NULL: method */
	const char *contact;	  /* the Contact value, e.g. "<sip:a@h>" */
	int max_forwards;	  /* < 0: SIP_MAX_FORWARDS */
	const char *const *route; /* Route values in order ("<sip:p;lr>") */
	unsigned nroute;
	/* Further header lines, each "Name: value\r\n" (no empty line). */
	const char *headers;
	const char *content_type; /* with a body */
	struct sip_str body;
};

/*
 * Appends "Via: " v "\r\n" with received=src_ip, and rport=src_port when v
 * asked for rport (RFC 3261 18.2.1, RFC 3581; any received or rport
 * already in v dropped): what a proxy forwards of the Via it received.
 */
void sip_build_via_received(struct sip_buf *b, const struct sip_via *v,
			    const char *src_ip, unsigned src_port);

/*
 * Writes request r into b (from its start). Returns 0, EINVAL (a missing
 * or bad input: CR/LF/NUL in a value, a non-token method, headers not made
 * of CRLF-ended lines, a body without content_type), E2BIG (b too small)
 * or EIO (no randomness for the branch).
 */
int sip_build_request(struct sip_buf *b, const struct sip_req *r);

/*
 * Starts a response to request m into b (from its start): the status line,
 * every Via (the top one with received=src_ip, and rport=src_port when the
 * request asked for rport; RFC 3261 18.2.1, RFC 3581), From, To (with
 * ";tag=" to_tag appended when the request's To has no tag, code > 100 and
 * to_tag is not NULL), Call-ID, CSeq. The caller appends its headers, then
 * calls sip_build_end. src_ip NULL: the top Via is copied unchanged.
 * Returns b->err.
 */
int sip_build_response_start(struct sip_buf *b, const struct sip_msg *m,
			     const char *src_ip, unsigned src_port,
			     unsigned code, const char *reason,
			     const char *to_tag);

/*
 * Ends a message: Content-Type (when body is not empty), Content-Length,
 * the empty line, the body. Returns b->err (EINVAL for a body without a
 * content type or a content type with CR/LF).
 */
int sip_build_end(struct sip_buf *b, const char *content_type,
		  struct sip_str body);

/*
 * A response built at once: start, the optional Contact value and header
 * lines (each "Name: value\r\n"), end. Returns 0, EINVAL or E2BIG.
 */
struct sip_resp {
	unsigned code;	    /* 100..699 */
	const char *reason; /* NULL: the standard phrase */
	const char *to_tag;
	const char *contact;
	const char *headers;
	const char *content_type;
	struct sip_str body;
};
int sip_build_response(struct sip_buf *b, const struct sip_msg *m,
		       const char *src_ip, unsigned src_port,
		       const struct sip_resp *r);

/*
 * Writes into b (from its start) the ACK for a non-2xx final response (to:
 * that response's To value) or the CANCEL (to absent: the request's To) of
 * the INVITE req (len bytes, as sip_build_request wrote it), RFC 3261
 * 17.1.1.3 and 9.1: its Request-URI, first Via (so its branch),
 * Max-Forwards, Route, From, Call-ID, "CSeq: <cseq> <method>", and the
 * extra header lines (NULL or "Name: value\r\n"...). Returns 0, EINVAL or
 * E2BIG.
 */
int sip_build_ack_cancel(struct sip_buf *b, const char *req, size_t len,
			 const char *method, uint32_t cseq, struct sip_str to,
			 const char *extra);

/* The standard reason phrase of code, or "Unknown". */
const char *sip_build_reason(unsigned code);

/* True when s (n bytes) may be a header value: no CR, LF or NUL. */
bool sip_build_value_ok(const char *s, size_t n);

#endif
