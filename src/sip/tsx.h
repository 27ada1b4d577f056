/*
 * tsx.h - SIP transactions (RFC 3261 section 17, with RFC 6026's Accepted
 * state on both sides): INVITE and non-INVITE, client and server, every
 * timer (A B D E F G H I J K, and L M of RFC 6026; C is a proxy's and not
 * here), retransmissions over UDP and none over TCP, request and response
 * matching, 100 Trying, ACK for non-2xx, CANCEL.
 *
 * One table is driven from one thread (not locked): its owner passes every
 * SIP message it receives to sip_tsx_recv, calls sip_tsx_timers when
 * sip_tsx_next_timer says, and the time is always passed in (now_ms, any
 * monotonic milliseconds), so tests drive the clock without sleeping.
 * Messages go out through ops.send; what the transaction user (TU: the call
 * engine) must know arrives through ops.event. Both are called on the
 * caller's thread, from inside the sip_tsx_* function that caused them.
 *
 * Re-entrancy: from inside an event the TU may call any sip_tsx_* function
 * but sip_tsx_table_free. A transaction that ends is never freed while a
 * sip_tsx_* call is running: its SIP_TSX_EV_TERMINATED comes when the
 * outermost call returns, and its pointer is valid until that event
 * returns.
 *
 * Not the layer's job (the TU's): retransmitting a 2xx to INVITE until its
 * ACK arrives (RFC 3261 13.3.1.4; sip_tsx_retx times it), sending the ACK
 * for a 2xx (a new transaction-less request; see dialog.h), giving up on a
 * ringing INVITE (the layer times a CANCELled INVITE out after 64*T1, and
 * a client INVITE that got no provisional after Timer B, but a ringing one
 * waits for the TU).
 */
#ifndef SIP_TSX_H
#define SIP_TSX_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "sip/build.h"
#include "sip/msg.h"
#include "sip/transport.h"

#define SIP_T1_MS 500  /* RTT estimate */
#define SIP_T2_MS 4000 /* longest retransmission interval, non-INVITE */
#define SIP_T4_MS 5000 /* longest a message stays in the network */
#define SIP_TSX_NEVER INT64_MAX

enum sip_tsx_kind {
	SIP_TSX_ICT,  /* client INVITE */
	SIP_TSX_NICT, /* client non-INVITE */
	SIP_TSX_IST,  /* server INVITE */
	SIP_TSX_NIST, /* server non-INVITE */
};

enum sip_tsx_state {
	SIP_TSX_CALLING,
	SIP_TSX_TRYING,
	SIP_TSX_PROCEEDING,
	SIP_TSX_COMPLETED,
	SIP_TSX_CONFIRMED,
	SIP_TSX_ACCEPTED, /* RFC 6026: a 2xx was sent or received */
	SIP_TSX_TERMINATED,
};

enum sip_tsx_ev {
	/* A new server transaction: msg is its request (not ACK or CANCEL),
	 * peer where it came from. The TU answers with sip_tsx_respond, now
	 * or later. An INVITE has already been answered 100 Trying. */
	SIP_TSX_EV_REQUEST,
	/* A response to a client transaction (not the retransmissions that
	 * a transaction absorbs), 2xx retransmissions to an INVITE included
	 * (the TU ACKs each again). tx is NULL for a response that matches
	 * no transaction (RFC 3261 17.1.3 passes it to the core: a 2xx to
	 * an INVITE whose transaction has ended needs an ACK again). */
	SIP_TSX_EV_RESPONSE,
	/* An ACK that no transaction absorbs: the ACK for a 2xx (a new
	 * branch), tx NULL; or one with the INVITE's branch after its 2xx,
	 * tx the INVITE server transaction. */
	SIP_TSX_EV_ACK,
	/* A CANCEL matched tx, an INVITE server transaction that has sent
	 * no final response. The layer has answered the CANCEL 200; when
	 * the event returns and the TU has still sent no final response,
	 * the layer answers the INVITE 487 (RFC 3261 9.2). msg: the CANCEL. */
	SIP_TSX_EV_CANCEL,
	/* No final response (client: Timer B or F, or 64*T1 after a
	 * CANCEL; a non-INVITE server transaction the TU did not answer in
	 * 64*T1), or no ACK for a non-2xx final (server: Timer H). err is
	 * ETIMEDOUT. The transaction ends. */
	SIP_TSX_EV_TIMEOUT,
	/* ops.send failed (err its errno): the transaction ends. */
	SIP_TSX_EV_ERROR,
	/* The transaction ends; tx is freed when this returns. */
	SIP_TSX_EV_TERMINATED,
};

struct sip_tsx;
struct sip_tsx_table;

struct sip_tsx_event {
	enum sip_tsx_ev type;
	struct sip_tsx *tx;	     /* NULL for a stray response or ACK */
	const struct sip_msg *msg;   /* REQUEST, RESPONSE, ACK, CANCEL */
	const struct sip_peer *peer; /* where msg came from */
	int err;		     /* TIMEOUT, ERROR */
};

struct sip_tsx_ops {
	/* Sends len bytes to peer: 0 or an errno (then EV_ERROR). */
	int (*send)(void *ctx, const struct sip_peer *to, const char *buf,
		    size_t len);
	void (*event)(void *ctx, const struct sip_tsx_event *ev);
};

struct sip_tsx_opts {
	unsigned max;	/* transactions at once, both sides (> 0) */
	size_t msg_max; /* largest message a transaction keeps (> 0) */
	/* RFC 3261 timer bases; 0: the defaults above. */
	unsigned t1_ms, t2_ms, t4_ms;
};

/* Makes a table. Returns 0, EINVAL (bad opts) or ENOMEM. */
int sip_tsx_table_new(struct sip_tsx_table **out, const struct sip_tsx_opts *o,
		      const struct sip_tsx_ops *ops, void *ctx);

/* Frees t and every transaction in it, without events or sends. */
void sip_tsx_table_free(struct sip_tsx_table *t);

/*
 * Hands the layer a message received from `from`, parsed into m (by
 * sip_msg_parse, successfully). A retransmission is absorbed or answered
 * again; anything else becomes an event. Returns 0, or for a request that
 * starts a transaction: EBUSY when the table is full (the caller may answer
 * 503 statelessly), E2BIG when its key does not fit, ENOMEM.
 */
int sip_tsx_recv(struct sip_tsx_table *t, int64_t now_ms,
		 const struct sip_peer *from, const struct sip_msg *m);

/*
 * Starts a client transaction and sends its request: buf (len bytes) as
 * sip_build_request wrote it (one Via, an RFC 3261 branch), an INVITE
 * (INVITE client transaction) or another method but ACK (non-INVITE), to
 * `to`; TCP there disables retransmissions. user is the TU's pointer for
 * events. Returns 0 with *out set (unless out is NULL), EINVAL (not such a
 * request), EEXIST (its branch and method are taken), EBUSY (table full),
 * E2BIG (over msg_max), ENOMEM; or the send's error (the transaction then
 * ends at once, with EV_ERROR and EV_TERMINATED when the call returns).
 * *out is set whenever the transaction was made, even when an error
 * follows: then its EV_TERMINATED will come; NULL-initialise *out to tell.
 */
int sip_tsx_request(struct sip_tsx_table *t, int64_t now_ms,
		    const struct sip_peer *to, const char *buf, size_t len,
		    void *user, struct sip_tsx **out);

/*
 * Cancels INVITE client transaction tx (RFC 3261 9.1): sends a CANCEL
 * (its own non-INVITE client transaction, with tx's user pointer; extra
 * header lines such as "Reason: ...\r\n" may be NULL) once a provisional
 * response has arrived, at once when one has, else when the first does.
 * A final response then still ends tx as usual; none within 64*T1 of the
 * CANCEL times it out. Returns 0, EALREADY (a CANCEL is pending or sent),
 * EINVAL (not an INVITE client transaction, or it has a final response)
 * or an error of sip_tsx_request.
 */
int sip_tsx_cancel(struct sip_tsx *tx, int64_t now_ms, const char *headers);

/*
 * Answers server transaction tx: r built with sip_build_response on its
 * request, r->to_tag replaced by sip_tsx_tag(tx) when NULL. 1xx (not 100,
 * already sent for an INVITE) while no final was sent; one final (2xx to
 * INVITE: Accepted, where further 2xx pass through as the TU's
 * retransmissions; else Completed). Returns 0, EINVAL (bad r, or not
 * allowed in tx's state), E2BIG (over msg_max) or the send's error.
 */
int sip_tsx_respond(struct sip_tsx *tx, int64_t now_ms,
		    const struct sip_resp *r);

/* Runs every timer due at now_ms. */
void sip_tsx_timers(struct sip_tsx_table *t, int64_t now_ms);

/* When the next timer is due (now_ms units), SIP_TSX_NEVER when none. */
int64_t sip_tsx_next_timer(const struct sip_tsx_table *t);

/* Transactions in the table (ended ones awaiting EV_TERMINATED too). */
unsigned sip_tsx_count(const struct sip_tsx_table *t);

/* Accessors. */
enum sip_tsx_kind sip_tsx_kind(const struct sip_tsx *tx);
enum sip_tsx_state sip_tsx_state(const struct sip_tsx *tx);
void *sip_tsx_user(const struct sip_tsx *tx);
void sip_tsx_set_user(struct sip_tsx *tx, void *user);
/* The method ("INVITE", "CANCEL", ...) and CSeq number. */
const char *sip_tsx_method(const struct sip_tsx *tx);
uint32_t sip_tsx_cseq(const struct sip_tsx *tx);
/* Where a client transaction sends, where a server one answers. */
const struct sip_peer *sip_tsx_peer(const struct sip_tsx *tx);
/* The last status sent (server) or received (client), 0 when none. */
unsigned sip_tsx_status(const struct sip_tsx *tx);
/* A server transaction's To tag for its responses: the request's own when
 * it had one (in-dialog), else a fresh random one. "" for a client one. */
const char *sip_tsx_tag(const struct sip_tsx *tx);
/* The last message it sent: a client's request (its ACK after a non-2xx
 * to INVITE), a server's response; *len its length. */
const char *sip_tsx_last_sent(const struct sip_tsx *tx, size_t *len);

/*
 * Where a response to request m received from `from` goes (RFC 3261
 * 18.2.2, RFC 3581): the same TCP connection; over UDP the source address,
 * at the source port when the top Via has rport, else at its sent-by port
 * (5060 when none).
 */
void sip_tsx_reply_peer(struct sip_peer *dst, const struct sip_peer *from,
			const struct sip_msg *m);

/*
 * The TU's retransmission schedule for a 2xx to INVITE until its ACK (RFC
 * 3261 13.3.1.4): first at T1, doubling up to T2, for 64*T1 in all. Start
 * it when the 2xx is sent; poll it when next_ms is due.
 */
struct sip_tsx_retx {
	int64_t next_ms; /* when to send again */
	int64_t end_ms;	 /* give up (send BYE) from then on */
	unsigned interval_ms, t2_ms;
};
void sip_tsx_retx_start(struct sip_tsx_retx *r, const struct sip_tsx_table *t,
			int64_t now_ms);
/* 1: send it again now (next_ms moved on); 0: not yet; ETIMEDOUT: the
 * 64*T1 have passed without ACK. */
int sip_tsx_retx_poll(struct sip_tsx_retx *r, int64_t now_ms);

#endif
