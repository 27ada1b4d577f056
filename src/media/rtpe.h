/*
 * rtpe.h - the rtpengine ng client: a bencode encoder and a strict, capped
 * decoder (pure, no I/O), and blocking offer / answer / delete / ping over
 * UDP for the call engine's worker threads (never an event loop).
 */
#ifndef MEDIA_RTPE_H
#define MEDIA_RTPE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/* ---- bencode ---- */

#define MEDIA_BENC_DEPTH_MAX 32	  /* nested lists and dictionaries */
#define MEDIA_BENC_DICT_MAX 64	  /* entries of a dictionary we index */
#define MEDIA_BENC_LEN_MAX 262144 /* bytes of one decoded input */

/*
 * An encoder writing into a caller's buffer. The first failure (no room)
 * sticks: later calls do nothing and media_benc_finish reports it, so a
 * message is built without a check after every call.
 */
struct media_benc {
	char *p;
	size_t cap, len;
	int err;
	unsigned depth;
};

/* Starts encoding into buf (cap bytes). */
void media_benc_init(struct media_benc *b, char *buf, size_t cap);

/* Appends n bytes as they are (the ng cookie and its space). */
void media_benc_raw(struct media_benc *b, const void *s, size_t n);

/* Appends a byte string: "<n>:<bytes>". */
void media_benc_str(struct media_benc *b, const void *s, size_t n);

/* Appends a NUL-terminated byte string. */
void media_benc_cstr(struct media_benc *b, const char *s);

/* Appends an integer: "i<v>e". */
void media_benc_int(struct media_benc *b, int64_t v);

/* Opens a dictionary ('d') or a list ('l'); media_benc_end closes it.
 * A dictionary's keys are written with media_benc_cstr / media_benc_str. */
void media_benc_dict(struct media_benc *b);
void media_benc_list(struct media_benc *b);
void media_benc_end(struct media_benc *b);

/*
 * Ends encoding: 0 and the length in *len; EMSGSIZE (no room) or EINVAL
 * (unbalanced, or deeper than MEDIA_BENC_DEPTH_MAX).
 */
int media_benc_finish(const struct media_benc *b, size_t *len);

enum media_bkind { MEDIA_B_INT, MEDIA_B_STR, MEDIA_B_LIST, MEDIA_B_DICT };

/*
 * One decoded value, pointing into the input: a string's bytes (p, n); a
 * list's or dictionary's whole encoding, 'l'/'d' to 'e' (p, n), which
 * media_bdecode / media_bdict_parse take again; an integer's value (i).
 */
struct media_bval {
	enum media_bkind kind;
	const char *p;
	size_t n;
	int64_t i;
};

/*
 * Decodes exactly one value from s (n bytes, hostile): integers without
 * leading zeros or "-0" that fit in 64 bits, strings whose length has no
 * leading zeros and fits in what is left, dictionaries whose keys are
 * strings, at most MEDIA_BENC_DEPTH_MAX deep, n at most MEDIA_BENC_LEN_MAX
 * and nothing after the value. Allocates nothing. Returns 0 and *v, or
 * EBADMSG (v untouched).
 */
int media_bdecode(const char *s, size_t n, struct media_bval *v);

/*
 * Walks the items of c, a list or a dictionary from media_bdecode (in a
 * dictionary, keys and values alternate): *pos starts at 0. Returns 0 and
 * the next item, ENOENT after the last, or EBADMSG (c not a container).
 */
int media_bnext(const struct media_bval *c, size_t *pos,
		struct media_bval *item);

/* The entries of one dictionary, as media_bdict_parse indexes them. */
struct media_bdict {
	unsigned n;
	struct {
		struct media_bval key, val;
	} e[MEDIA_BENC_DICT_MAX];
};

/*
 * Decodes s (n bytes) as media_bdecode does, requires a dictionary of at
 * most MEDIA_BENC_DICT_MAX entries with no key twice, and indexes its
 * entries (values nested deeper are checked, not indexed). 0 or EBADMSG.
 */
int media_bdict_parse(const char *s, size_t n, struct media_bdict *d);

/* The value under key in d, or NULL. */
const struct media_bval *media_bdict_get(const struct media_bdict *d,
					 const char *key);

/* ---- the ng client ---- */

#define MEDIA_RTPE_MSG_MAX 65507    /* one UDP datagram, either way */
#define MEDIA_RTPE_FIRST_RTX_MS 250 /* then doubling, up to the deadline */

/* What the side that will receive an SDP from rtpengine speaks. */
enum media_kind {
	MEDIA_PLAIN,  /* a SIP phone: RTP/AVP, no ICE, no DTLS */
	MEDIA_WEBRTC, /* a browser: ICE, DTLS-SRTP, rtcp-mux */
};

/* An offer or an answer handed to rtpengine. */
struct media_rtpe_req {
	const char *call_id, *from_tag;
	const char *to_tag;   /* answer (required) and offer (optional) */
	enum media_kind kind; /* who receives the SDP rtpengine returns */
	const char *sdp;      /* the SDP as received from the other side */
	size_t sdp_len;
};

/*
 * Asks the rtpengine at addr ("127.0.0.1:22222" or "[::1]:22222") to
 * rewrite q's offer (media_rtpe_offer) or answer (media_rtpe_answer) for a
 * side of kind q->kind, and writes the SDP it returns into out (cap bytes,
 * NUL-terminated), its length in *out_len. Blocks the calling thread for at
 * most timeout_ms: the request is sent from a socket of its own with a
 * random cookie and sent again, same cookie, after 250 ms, 500 ms, 1 s, ...
 * until the reply with that cookie arrives (others are ignored). Thread
 * safe. Returns 0, or with one sentence in why (why_cap bytes): EINVAL (bad
 * addr or request), ETIMEDOUT (no reply in time), EPROTO (rtpengine said
 * error; its error-reason, printable characters only, is in why), EBADMSG
 * (a reply that is not a valid ng reply, or no SDP in it), EMSGSIZE (the
 * request or the SDP does not fit), or a socket errno.
 */
int media_rtpe_offer(const char *addr, unsigned timeout_ms,
		     const struct media_rtpe_req *q, char *out, size_t cap,
		     size_t *out_len, char *why, size_t why_cap);
int media_rtpe_answer(const char *addr, unsigned timeout_ms,
		      const struct media_rtpe_req *q, char *out, size_t cap,
		      size_t *out_len, char *why, size_t why_cap);

/*
 * Ends the call's media (every leg of call_id from from_tag). 0; ENOENT
 * when rtpengine did not know the call (it answers ok with a warning,
 * copied into why); or as media_rtpe_offer.
 */
int media_rtpe_delete(const char *addr, unsigned timeout_ms,
		      const char *call_id, const char *from_tag, char *why,
		      size_t why_cap);

/* 0 when rtpengine at addr answers an ng ping with pong within timeout_ms;
 * EINVAL, ETIMEDOUT, EBADMSG or a socket errno otherwise. */
int media_rtpe_ping(const char *addr, unsigned timeout_ms);

#endif
