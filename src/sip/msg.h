/*
 * msg.h - a SIP message parser for what a registrar and a B2BUA need (RFC
 * 3261 sections 7, 8, 10, 18, 20, 22, 25; RFC 3581 rport). It parses a
 * mutable buffer in place: every struct sip_str points into that buffer,
 * which must outlive the message. Quoted strings are unescaped in place.
 * Nothing is allocated.
 */
#ifndef SIP_MSG_H
#define SIP_MSG_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define SIP_HEADERS_MAX 64 /* header fields in one message */
#define SIP_VIA_MAX 16	   /* Via values */
#define SIP_CONTACT_MAX 16 /* Contact values */
#define SIP_AUTH_MAX 4	   /* Authorization (and Proxy-) headers */
#define SIP_ROUTE_MAX 16   /* Record-Route values */

/* A slice of the message buffer; p is NULL when absent. */
struct sip_str {
	const char *p;
	size_t n;
};

/* A SIP or SIPS URI: sip:user@host:port;params?headers */
struct sip_uri {
	struct sip_str scheme; /* "sip" or "sips" (case as written) */
	struct sip_str user;   /* raw (%XX kept), no password; absent if none */
	struct sip_str host;   /* without brackets for IPv6 */
	unsigned port;	       /* 0 when absent */
	struct sip_str params; /* raw ";a=b;c" after host[:port], up to any
				  "?headers" (checked, not kept), or absent */
};

/* One via-parm. Parameters other than branch, received and rport are
 * skipped; of a repeated one, the first counts. */
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
	struct sip_str tag; /* absent when there is no tag parameter */
};

struct sip_contact {
	struct sip_str raw;	/* the whole contact-param as written */
	struct sip_str uri_raw; /* the URI text (without < >) */
	struct sip_uri uri;
	bool has_expires;
	uint32_t expires; /* delta-seconds, saturated at 2^32-1 */
	struct sip_str q; /* a valid qvalue as written ("0.5"), or absent */
	struct sip_str instance; /* +sip.instance without its quotes, e.g.
				    "<urn:uuid:...>"; absent when it holds a
				    backslash (never in a URN), so raw stays
				    as written */
	struct sip_str reg_id;	 /* digits, 1 to 2^31-1, or absent */
};

/*
 * Digest credentials from an Authorization or Proxy-Authorization header
 * (RFC 3261 22.2, 22.3, 25.1; RFC 7616). Quoted values are unescaped in
 * place; `realm=""` gives p set and n 0. Unknown parameters are skipped, a
 * repeated known one is a parse error. Headers of other schemes (Basic)
 * are ignored.
 */
struct sip_digest {
	struct sip_str username, realm, nonce, uri, response, algorithm, cnonce,
	    opaque, qop, nc;
	bool userhash; /* userhash=true (RFC 7616) */
};

/* One header field as received: the name as written ("v", "VIA"), the
 * value without the LWS around it and unfolded (never CR or LF). */
struct sip_hdr {
	struct sip_str name, value;
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
	/* Each Via header's value as written, but unfolded (the line breaks
	 * of continuation lines became spaces): never holds CR or LF. */
	struct sip_str via_lines[SIP_VIA_MAX];
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
	int max_forwards;		      /* -1 when absent */
	struct sip_str user_agent;	      /* the first User-Agent value */
	struct sip_digest auth[SIP_AUTH_MAX]; /* Authorization */
	unsigned nauth;
	/*
	 * Proxy-Authorization (RFC 3261 22.3), parsed like Authorization but
	 * never fatal, since a registrar ignores it: a header that does not
	 * parse, or one past SIP_AUTH_MAX, is not kept, and the first such
	 * error (EBADMSG, E2BIG) is left in pauth_err. A user of pauth may
	 * answer 400 when it is set.
	 */
	struct sip_digest pauth[SIP_AUTH_MAX];
	unsigned npauth;
	int pauth_err;
	bool has_content_length;
	size_t content_length;
	/* The whole value of the first Supported (or k) header, e.g.
	 * "path, gruu, outbound": option tags separated by commas and LWS. A
	 * later Supported header is not kept. Require likewise. */
	struct sip_str supported;
	struct sip_str require;
	/* Record-Route values in order, each a name-addr as written
	 * ("<sip:p.example;lr>"), its URI checked. */
	struct sip_str rroute[SIP_ROUTE_MAX];
	unsigned nrroute;
	struct sip_str content_type; /* the first Content-Type (or c) value */
	struct sip_str body;	     /* absent when empty */
	/*
	 * Every header field, known or not, in order (sip_msg_header finds
	 * one). The values of Authorization and Proxy-Authorization are not
	 * as written when a quoted string in them held a backslash: the
	 * digest parser unescapes in place.
	 */
	struct sip_hdr hdrs[SIP_HEADERS_MAX];
	unsigned nhdrs;
};

/*
 * Parses one complete message of len bytes in buf (modified in place:
 * continuation lines are unfolded and quoted Authorization and
 * Proxy-Authorization values unescaped). Leading CRLFs are skipped.
 * Returns 0, or EBADMSG when it is malformed (a NUL or a bare CR in the
 * headers, a bad value in a header that is parsed, a CSeq method other
 * than the request method) or a required header (Via, From, To, Call-ID,
 * CSeq, for requests and responses) is missing, or From, To, Call-ID,
 * CSeq, Expires, Max-Forwards or Content-Length is repeated, or E2BIG when
 * a limit above is exceeded (Proxy-Authorization: see pauth_err).
 * Content-Length, when present, must not exceed the rest of the buffer,
 * and bytes beyond it (datagram padding) are discarded (RFC 3261 18.3);
 * when absent, the body is the rest. On error, *m may be partly filled:
 * each header is parsed even after an earlier one failed, and a header's
 * fields are set only when it parsed, so a 400 can be built when m->nvia,
 * m->call_id.p ... are set.
 */
int sip_msg_parse(struct sip_msg *m, char *buf, size_t len);

/* The methods the metrics count by name; any other is SIP_METHOD_OTHER. */
#define SIP_METHODS_N 15
#define SIP_METHOD_OTHER (SIP_METHODS_N - 1)
extern const char *const SIP_METHOD_NAMES[SIP_METHODS_N];

/* Index in SIP_METHOD_NAMES of the method a message starts with. */
unsigned sip_method_index(const char *msg, size_t len);

/*
 * Stream framing (TCP, RFC 3261 18.3): looks at the len bytes at buf and
 * always sets *skip to the number of leading CRLF/LF keep-alive bytes
 * (RFC 5626 pings; a trailing lone CR is left for the next call). Then,
 * when a whole message (headers + Content-Length body) follows within max
 * bytes, sets *msglen to its length (the message is buf[*skip, *skip +
 * *msglen)) and returns 0. Returns EAGAIN when more bytes are needed,
 * EBADMSG when the headers exceed max bytes or Content-Length (or l) is
 * missing, repeated, invalid or makes the message larger than max. It
 * checks framing only: the message still goes through sip_msg_parse.
 */
int sip_msg_frame(const char *buf, size_t len, size_t max, size_t *skip,
		  size_t *msglen);

/*
 * The value of the first header field named name (or compact, its compact
 * form such as "c" for Content-Type; NULL when it has none), matched
 * case-insensitively; p is NULL when there is none. A field with an empty
 * value gives p set and n 0.
 */
struct sip_str sip_msg_header(const struct sip_msg *m, const char *name,
			      const char *compact);

/* True when s equals the NUL-terminated lit, case-insensitively. */
bool sip_str_ieq(struct sip_str s, const char *lit);

/* True when s equals lit exactly. */
bool sip_str_eq(struct sip_str s, const char *lit);

/*
 * Parses a SIP/SIPS URI (used for Request-URI, To, Contact): scheme
 * case-insensitive, [user[:password]@]host[:port][;params][?headers], host
 * a name, IPv4 or [IPv6], port 1-65535. The text must have no surrounding
 * whitespace. Returns 0, or EBADMSG (another scheme included); writes *out
 * only on success.
 */
int sip_uri_parse(struct sip_str text, struct sip_uri *out);

#endif
