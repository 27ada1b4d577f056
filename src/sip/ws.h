/*
 * ws.h - SIP over WebSocket (RFC 6455, RFC 7118) without I/O: the opening
 * handshake (parse an HTTP/1.1 Upgrade request, build the 101 or the
 * refusal), a decoder for the frames a client sends (masked, possibly
 * fragmented, with ping, pong and close), an encoder for the frames a
 * server sends (unmasked, never fragmented), and the CRLF keep-alives that
 * SIP stacks send inside text frames. Every size is capped by the caller;
 * the only allocation is a decoder's reassembly buffer, bounded by its
 * message cap. No extension (permessage-deflate) is ever negotiated, so
 * the reserved bits are always an error.
 */
#ifndef SIP_WS_H
#define SIP_WS_H

#include <stdbool.h>
#include <stddef.h>

#include "sip/msg.h"

#define SIP_WS_HANDSHAKE_MAX 8192 /* request head, blank line included */
#define SIP_WS_ACCEPT_LEN 28	  /* base64 of a SHA-1 digest */
#define SIP_WS_REPLY_MAX 512	  /* room for any sip_ws_handshake_reply */
#define SIP_WS_HDR_MAX 14	  /* a client frame's header: 2 + 8 + mask */
#define SIP_WS_CTRL_MAX 125	  /* payload of a ping, pong or close */
#define SIP_WS_SRV_HDR_MAX 10	  /* a server frame's header (no mask) */

/* Opcodes (RFC 6455 5.2). */
enum sip_ws_op {
	SIP_WS_OP_CONT = 0x0,
	SIP_WS_OP_TEXT = 0x1,
	SIP_WS_OP_BINARY = 0x2,
	SIP_WS_OP_CLOSE = 0x8,
	SIP_WS_OP_PING = 0x9,
	SIP_WS_OP_PONG = 0xa,
};

/* Close codes (RFC 6455 7.4.1) the decoder reports or asks for. */
#define SIP_WS_CLOSE_NORMAL 1000
#define SIP_WS_CLOSE_GOING_AWAY 1001
#define SIP_WS_CLOSE_PROTOCOL 1002
#define SIP_WS_CLOSE_NO_STATUS 1005 /* a close frame without a code */
#define SIP_WS_CLOSE_BAD_DATA 1007  /* text that is not UTF-8 */
#define SIP_WS_CLOSE_TOO_BIG 1009
#define SIP_WS_CLOSE_INTERNAL 1011

/* ---- the opening handshake (RFC 6455 4.2, RFC 7118 4) ---- */

/*
 * What a handshake request said, as slices of the caller's buffer (absent
 * when not sent), for the reply and for logging.
 */
struct sip_ws_handshake {
	size_t used;		/* bytes of the request, blank line included:
				   a first frame may follow at buf + used */
	struct sip_str target;	/* request-target as written, e.g. "/ws" */
	struct sip_str host;	/* Host */
	struct sip_str origin;	/* Origin (browsers send it) */
	struct sip_str key;	/* Sec-WebSocket-Key, checked */
	struct sip_str version; /* Sec-WebSocket-Version as written */
	const char *why;	/* when refused: one static sentence */
};

/*
 * Parses the HTTP/1.1 Upgrade request at the start of buf (len bytes, not
 * modified). Returns EAGAIN while the blank line ending the head has not
 * arrived, E2BIG when it has not within SIP_WS_HANDSHAKE_MAX bytes. Once it
 * has, hs->used is set and the result says what to answer (with
 * sip_ws_handshake_reply, then close the connection unless 0):
 *   0                 a valid request for the "sip" subprotocol: 101;
 *   EBADMSG           400: not "GET target HTTP/1.1", a header line that is
 *                     not "token: value" with CRLF (obsolete folding, bare
 *                     CR or LF, controls), no Host or two, no Upgrade with
 *                     the token websocket or no Connection with the token
 *                     Upgrade (both comma lists, any case, any number of
 *                     header lines), a Sec-WebSocket-Key that is missing,
 *                     repeated or not base64 of 16 bytes;
 *   EPROTONOSUPPORT   426 with "Sec-WebSocket-Version: 13": the version is
 *                     missing, repeated or not 13;
 *   ENOPROTOOPT       400: Sec-WebSocket-Protocol missing or without the
 *                     token sip (any case, RFC 7118 4.1). Like Kamailio's
 *                     websocket module, we speak only sip and refuse rather
 *                     than accept a connection without a subprotocol.
 * On a refusal, hs->why says why and the fields parsed so far are set.
 */
int sip_ws_handshake_parse(const char *buf, size_t len,
			   struct sip_ws_handshake *hs);

/*
 * Builds the answer to a request that sip_ws_handshake_parse returned err
 * for: 101 Switching Protocols with Sec-WebSocket-Accept and
 * "Sec-WebSocket-Protocol: sip" (err 0), 426 (EPROTONOSUPPORT), 431
 * (E2BIG) or 400 (anything else), a refusal with "Connection: close" and
 * hs->why (when set) as a text/plain body. Writes at most cap bytes
 * (SIP_WS_REPLY_MAX is enough) into out, the length in *outlen, no NUL.
 * Returns 0, ERANGE (cap too small) or EIO (SHA-1 failed).
 */
int sip_ws_handshake_reply(int err, const struct sip_ws_handshake *hs,
			   char *out, size_t cap, size_t *outlen);

/*
 * Writes Sec-WebSocket-Accept for key (base64 of SHA-1 of the key and the
 * RFC 6455 GUID) into out: SIP_WS_ACCEPT_LEN characters and a NUL.
 * Returns 0, EINVAL (key empty or longer than 64 bytes) or EIO.
 */
int sip_ws_accept(struct sip_str key, char out[SIP_WS_ACCEPT_LEN + 1]);

/* ---- frames from a client (RFC 6455 5) ---- */

/* A decoder for one connection. Zero it or use sip_ws_rx_init. */
struct sip_ws_rx {
	size_t frame_max; /* a data frame's payload */
	size_t msg_max;	  /* a message's payload, fragments together */
	char *msg;	  /* reassembly of a fragmented message */
	size_t len, cap;
	unsigned op; /* opcode of the message being reassembled, 0 none */
	bool done;   /* a close or an error was returned */
};

enum sip_ws_ev {
	SIP_WS_EV_MESSAGE = 1, /* a whole text or binary message */
	SIP_WS_EV_PING,	       /* answer with a pong of the same data */
	SIP_WS_EV_CLOSE,       /* echo the code, then end the connection */
};

struct sip_ws_event {
	enum sip_ws_ev type;
	bool binary;	  /* MESSAGE: the binary opcode (else valid UTF-8) */
	const char *data; /* MESSAGE: payload; PING: payload; CLOSE: reason
			     (UTF-8); not NUL-terminated */
	size_t len;
	unsigned code; /* CLOSE: the code, SIP_WS_CLOSE_NO_STATUS if none */
};

/* Sets rx up for a connection (nothing allocated yet). */
void sip_ws_rx_init(struct sip_ws_rx *rx, size_t frame_max, size_t msg_max);

/* Frees rx's reassembly buffer; rx may then be initialised again. */
void sip_ws_rx_free(struct sip_ws_rx *rx);

/*
 * Decodes the frames at the start of buf (len bytes) until one gives an
 * event. Always sets *used to the bytes taken (whole frames), which the
 * caller drops from its buffer whatever the result - but only after it is
 * done with *ev, whose data may lie in buf[0, *used) or in rx's buffer and
 * is valid until then or the next call. Payloads are unmasked in place in
 * buf. Pongs are taken silently; fragments are copied into rx's buffer
 * (grown up to msg_max, and freed at the next call when it grew past
 * 4 KiB) and a message is reported when its last fragment arrives; a ping or
 * close may come between fragments. A frame is taken only when it is whole, so
 * the caller's buffer must hold max(frame_max, SIP_WS_CTRL_MAX) +
 * SIP_WS_HDR_MAX bytes. Returns 0 with *ev; EAGAIN when more bytes are needed;
 * or an error after which the caller sends a close with sip_ws_close_code(err)
 * and ends the connection: EBADMSG  an unmasked frame, a reserved bit or
 * opcode, a control frame longer than 125 bytes or fragmented, a length not
 * written in the fewest bytes (RFC 6455 5.2 "minimal number of bytes") or with
 * its top bit set, a continuation with no message started or a new message
 * before the last one ended, a close frame of 1 byte or with a code that may
 * not be sent (7.4); EILSEQ   a text message or a close reason that is not
 * UTF-8; E2BIG    a data frame over frame_max or a message over msg_max, known
 *            from the frame's header, before its payload arrives;
 *   ENOMEM   the reassembly buffer could not grow.
 * After a CLOSE event or an error, every call returns EPIPE (close code 0:
 * send nothing more) and takes all of buf.
 */
int sip_ws_decode(struct sip_ws_rx *rx, char *buf, size_t len, size_t *used,
		  struct sip_ws_event *ev);

/*
 * The close code to send after sip_ws_decode returned err: 1002
 * (EBADMSG), 1007 (EILSEQ), 1009 (E2BIG), 1011 (ENOMEM and others), or 0
 * for EPIPE (a close was already handled).
 */
unsigned sip_ws_close_code(int err);

/* ---- frames to a client ---- */

/*
 * Writes one final, unmasked frame of opcode op (text, binary, ping, pong
 * or close) carrying len bytes of data into out (cap >= len +
 * SIP_WS_SRV_HDR_MAX is always enough), its length in *outlen. Returns 0,
 * EINVAL (another opcode, or a control frame over SIP_WS_CTRL_MAX bytes)
 * or ERANGE (cap).
 */
int sip_ws_encode(enum sip_ws_op op, const void *data, size_t len, char *out,
		  size_t cap, size_t *outlen);

/*
 * Writes the header only of such a frame (for a writev of header and
 * payload) into out (SIP_WS_SRV_HDR_MAX bytes), its length in *outlen.
 * Returns 0 or EINVAL as sip_ws_encode.
 */
int sip_ws_encode_header(enum sip_ws_op op, size_t len,
			 unsigned char out[SIP_WS_SRV_HDR_MAX], size_t *outlen);

/*
 * Writes a close frame with code (none when code is 0 or
 * SIP_WS_CLOSE_NO_STATUS, which may not be sent) and no reason into out
 * (cap >= 4), its length in *outlen. Returns 0, EINVAL (a code that may
 * not be sent) or ERANGE.
 */
int sip_ws_encode_close(unsigned code, char *out, size_t cap, size_t *outlen);

/* ---- CRLF keep-alives inside messages (RFC 7118 6, RFC 5626 4.4.1) ---- */

enum sip_ws_keepalive {
	SIP_WS_KA_NONE, /* not a keep-alive: a SIP message for the parser */
	SIP_WS_KA_PING, /* CRLFCRLF (or more CRLFs): answer a text "\r\n" */
	SIP_WS_KA_PONG, /* one CRLF, an answer to our ping: nothing to do */
};

/*
 * Tells a keep-alive from a SIP message in a text or binary message (len
 * bytes at data): a message made only of CRLF pairs is one. JsSIP and
 * SIP.js send "\r\n\r\n" and take "\r\n" as the answer; Kamailio answers
 * both forms, but answering a pong would let two such peers ping-pong.
 */
enum sip_ws_keepalive sip_ws_keepalive(const char *data, size_t len);

#endif
