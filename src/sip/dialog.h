/*
 * dialog.h - SIP dialog state (RFC 3261 section 12): a UAC or UAS dialog
 * made from an INVITE and its 1xx/2xx (Call-ID, tags, CSeq spaces, remote
 * target, route set), in-dialog requests built from it (BYE, re-INVITE,
 * UPDATE, INFO, ACK for a 2xx), and in-dialog requests received checked
 * against it. Plain data, no I/O, no table: the call engine keeps its
 * dialogs where it likes, looking them up by sip_dialog_id/sip_dialog_key.
 */
#ifndef SIP_DIALOG_H
#define SIP_DIALOG_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "sip/build.h"
#include "sip/msg.h"

#define SIP_DIALOG_STR_MAX 512 /* URIs and From/To values */
#define SIP_DIALOG_ROUTE_MAX 8
#define SIP_DIALOG_CALL_ID_MAX 256
#define SIP_DIALOG_TAG_MAX 128
#define SIP_DIALOG_ID_MAX (SIP_DIALOG_CALL_ID_MAX + 2 * SIP_DIALOG_TAG_MAX + 3)

enum sip_dialog_state { SIP_DIALOG_EARLY, SIP_DIALOG_CONFIRMED };

struct sip_dialog {
	enum sip_dialog_state state;
	bool uac; /* we sent the INVITE */
	char call_id[SIP_DIALOG_CALL_ID_MAX];
	char local_tag[SIP_DIALOG_TAG_MAX];
	char remote_tag[SIP_DIALOG_TAG_MAX];
	char local_uri[SIP_DIALOG_STR_MAX];	/* our From value, no tag */
	char remote_uri[SIP_DIALOG_STR_MAX];	/* our To value, no tag */
	char remote_target[SIP_DIALOG_STR_MAX]; /* the peer's Contact URI */
	/* The route set, in the order our requests list it: each a
	 * name-addr as the Record-Route had it ("<sip:p;lr>"). */
	char route[SIP_DIALOG_ROUTE_MAX][SIP_DIALOG_STR_MAX];
	unsigned nroute;
	uint32_t local_cseq;  /* of our last request; 0 before any */
	uint32_t invite_cseq; /* of our last INVITE (its ACK uses it) */
	uint32_t remote_cseq;
	bool has_remote_cseq;
};

/*
 * A UAS dialog from request req received (an INVITE), answered with
 * local_tag (the server transaction's sip_tsx_tag): remote target from its
 * Contact, route set its Record-Route in order, remote CSeq its CSeq.
 * Early until sip_dialog_confirm (when the 2xx is sent). Returns 0, EINVAL
 * (no Contact, no From tag, a To tag already) or ERANGE (a value, or more
 * Record-Route values, than fit).
 */
int sip_dialog_uas(struct sip_dialog *d, const struct sip_msg *req,
		   const char *local_tag);

/*
 * A UAC dialog from the INVITE req we sent (parsed) and a response resp to
 * it that has a To tag: a 1xx (early) or a 2xx (confirmed). Remote target
 * from resp's Contact, route set resp's Record-Route reversed. Returns 0,
 * EINVAL (no To tag, no Contact, a final non-2xx) or ERANGE.
 */
int sip_dialog_uac(struct sip_dialog *d, const struct sip_msg *req,
		   const struct sip_msg *resp);

/*
 * The 2xx that confirms an early dialog. UAC (resp is the 2xx received):
 * route set and remote target from resp (RFC 3261 13.2.2.4). UAS (resp
 * NULL): just confirmed. Returns 0, EINVAL or ERANGE.
 */
int sip_dialog_confirm(struct sip_dialog *d, const struct sip_msg *resp);

/*
 * A target refresh (RFC 3261 12.2): a re-INVITE or UPDATE received, or a
 * 2xx to ours, with a Contact, replaces the remote target. The route set
 * never changes. Returns 0 (nothing when m has no Contact) or ERANGE.
 */
int sip_dialog_refresh(struct sip_dialog *d, const struct sip_msg *m);

/* An in-dialog request to build. */
struct sip_dialog_req {
	const char *method; /* "BYE", "INVITE", "UPDATE", "INFO", "ACK" */
	const char *transport, *via_host; /* the top Via, as sip_req */
	unsigned via_port;
	char *branch_out;	  /* the fresh branch, or NULL */
	const char *contact;	  /* ours, for INVITE and UPDATE */
	const char *headers;	  /* further "Name: value\r\n" lines */
	const char *content_type; /* with a body */
	struct sip_str body;
};

/*
 * Builds request r of dialog d into b (RFC 3261 12.2.1.1): From local URI
 * and tag, To remote URI and tag, Call-ID; CSeq the next local number
 * (INVITE remembers it), but an ACK (for the 2xx) takes the last INVITE's;
 * Request-URI and Route from the remote target and route set: loose
 * routing when the first route has ;lr, else strict (the first route is the
 * Request-URI, the remote target the last Route). Every request gets a
 * fresh branch. The CSeq moves on only when it returns 0; EINVAL, E2BIG,
 * ERANGE (no more CSeq numbers) or EIO otherwise.
 */
int sip_dialog_request(struct sip_dialog *d, struct sip_buf *b,
		       const struct sip_dialog_req *r);

/*
 * The URI a request of d goes to first (the first route's, else the remote
 * target), written without angle brackets into out. Returns 0 or ERANGE.
 */
int sip_dialog_next_hop(const struct sip_dialog *d, char *out, size_t cap);

/*
 * Checks request m received within d: 0 when it belongs to d and is in
 * order (the remote CSeq then moves to m's), else the status to answer:
 * 481 (Call-ID or tags of another dialog, RFC 3261 12.2.2) or 500 (a CSeq
 * lower than the last one). ACK and CANCEL are matched but not ordered.
 */
unsigned sip_dialog_check(struct sip_dialog *d, const struct sip_msg *m);

/* Whether response m (to our request) belongs to d. */
bool sip_dialog_matches_response(const struct sip_dialog *d,
				 const struct sip_msg *m);

/*
 * The dialog ID "Call-ID|local tag|remote tag" of d, and the one request
 * m received in a dialog would have (its To tag is ours, its From tag the
 * peer's), into out (SIP_DIALOG_ID_MAX bytes): equal strings mean the same
 * dialog. Return the length, 0 when it does not fit (or m has no To tag:
 * outside any dialog, which a UAS answers 481 when it is not an INVITE).
 */
size_t sip_dialog_id(const struct sip_dialog *d, char *out, size_t cap);
size_t sip_dialog_key(const struct sip_msg *m, char *out, size_t cap);

#endif
