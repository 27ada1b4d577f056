/*
 * msg.h - a SIP message parser for what a registrar needs (RFC 3261 sections
 * 7, 8, 10, 18, 20, 25; RFC 3581 rport). It parses a mutable buffer in place:
 * every struct sip_str points into that buffer, which must outlive the
 * message. Quoted strings are unescaped in place. Nothing is allocated.
 */
#ifndef SIP_MSG_H
#define SIP_MSG_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define SIP_HEADERS_MAX 64 /* header fields in one message */
#define SIP_VIA_MAX 16	   /* Via values */
#define SIP_CONTACT_MAX 16 /* Contact values */
#define SIP_AUTH_MAX 4	   /* Authorization headers */

/* A slice of the message buffer; p is NULL when absent. */
struct sip_str {
	const char *p;
	size_t n;
};

/* A SIP or SIPS URI: sip:user@host:port;params?headers */
struct sip_uri {
	struct sip_str scheme; /* "sip" or "sips" (case as written) */
	struct sip_str user;   /* unescaped is not needed: raw, may be empty */
	struct sip_str host;   /* without brackets for IPv6 */
	unsigned port;	       /* 0 when absent */
	struct sip_str params; /* raw ";a=b;c" after host[:port], or absent */
};

struct sip_via {
	struct sip_str transport; /* "UDP", "TCP", ... */
	struct sip_str host;	  /* sent-by host, no brackets */
	unsigned port;		  /* 0 when absent */
	struct sip_str branch;
	struct sip_str received;
	bool rport;	      /* the rport parameter is present */
	unsigned rport_value; /* its value, 0 when none */
	struct sip_str raw;   /* the whole via-parm as written */
};

/* From, To: name-addr or addr-spec with parameters. */
struct sip_nameaddr {
	struct sip_str raw;	/* the whole header value as written */
	struct sip_str uri_raw; /* the URI text */
	struct sip_uri uri;
	struct sip_str tag;
};

struct sip_contact {
	struct sip_str raw;	/* the whole contact-param as written */
	struct sip_str uri_raw; /* the URI text (without < >) */
	struct sip_uri uri;
	bool has_expires;
	uint32_t expires;	 /* delta-seconds, saturated at 2^32-1 */
	struct sip_str q;	 /* "0.5", or absent */
	struct sip_str instance; /* +sip.instance value (unquoted) */
	struct sip_str reg_id;
};

/* Digest credentials from an Authorization header (RFC 3261 25.1, 7616). */
struct sip_digest {
	struct sip_str username, realm, nonce, uri, response, algorithm, cnonce,
	    opaque, qop, nc;
	bool userhash; /* userhash=true (RFC 7616) */
};

struct sip_msg {
	bool is_request;
	struct sip_str method; /* requests */
	struct sip_str ruri_raw;
	struct sip_uri ruri;
	unsigned status; /* responses */
	struct sip_str reason;

	struct sip_via via[SIP_VIA_MAX];
	unsigned nvia;
	struct sip_str via_lines[SIP_VIA_MAX]; /* raw Via header values */
	unsigned nvia_lines;
	struct sip_nameaddr from, to;
	struct sip_str call_id;
	uint32_t cseq;
	struct sip_str cseq_method;
	struct sip_contact contact[SIP_CONTACT_MAX];
	unsigned ncontact;
	bool contact_star; /* Contact: * */
	bool has_expires;
	uint32_t expires;
	int max_forwards; /* -1 when absent */
	struct sip_str user_agent;
	struct sip_digest auth[SIP_AUTH_MAX];
	unsigned nauth;
	bool has_content_length;
	size_t content_length;
	struct sip_str
	    supported; /* raw value(s), several headers joined? no: first */
	struct sip_str require; /* first Require value, raw */
	struct sip_str body;
	unsigned nheaders;
};

/*
 * Parses one complete message of len bytes in buf (modified in place).
 * Returns 0, or EBADMSG when it is malformed or a required header (Via,
 * From, To, Call-ID, CSeq for requests; the same for responses) is missing
 * or repeated where it may not be, or E2BIG when a limit above is exceeded.
 * On error, *m may be partly filled (enough, where possible, to answer 400:
 * check m->nvia, m->call_id.p ...).
 */
int sip_msg_parse(struct sip_msg *m, char *buf, size_t len);

/*
 * Stream framing (TCP, RFC 3261 18.3): looks at the len bytes at buf and
 * sets *skip to the number of leading CRLF/LF keep-alive bytes, then, when
 * a whole message (headers + Content-Length body) follows within max bytes,
 * sets *msglen to its length and returns 0. Returns EAGAIN when more bytes
 * are needed, EBADMSG when the headers exceed max bytes or Content-Length
 * is missing, invalid or makes the message larger than max.
 */
int sip_msg_frame(const char *buf, size_t len, size_t max, size_t *skip,
		  size_t *msglen);

/* True when s equals the NUL-terminated lit, case-insensitively. */
bool sip_str_ieq(struct sip_str s, const char *lit);

/* True when s equals lit exactly. */
bool sip_str_eq(struct sip_str s, const char *lit);

/* Parses a SIP/SIPS URI (used for Request-URI, To, Contact). */
int sip_uri_parse(struct sip_str text, struct sip_uri *out);

#endif
