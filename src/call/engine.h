/*
 * engine.h - the call engine: a back-to-back user agent (B2BUA) for calls
 * between endpoints (calls contract). One thread owns the SIP transactions
 * (sip/tsx.h), the dialogs and the calls; the transport thread only queues
 * what it receives for it, and the store work (credentials, the callee's
 * bindings) runs on a pool of workers with a deadline, whose results come
 * back through the same queue. Nothing here blocks on I/O.
 */
#ifndef CALL_ENGINE_H
#define CALL_ENGINE_H

#include <stdint.h>

#include "sip/auth.h"
#include "sip/path.h"
#include "sip/transport.h"
#include "svc/svc.h"

struct call_opts {
	struct sip_auth *auth; /* the registrar's: nonces, replay, throttles */
	unsigned workers;      /* store threads */
	unsigned queue_max;    /* store jobs waiting, at most */
	int64_t store_timeout_ms;
	long retry_after_s;		/* in 503s */
	unsigned ring_timeout_s;	/* an unanswered call gives up then */
	unsigned calls_max;		/* calls at once on this node */
	unsigned calls_max_per_account; /* of one account, on this node */
	long cdr_retention_days;	/* CDRs older are swept */
	bool webhook_allow_private;
	/* The carrier for phone numbers: its address ("" gw_host: none),
	 * and the credentials for its digest challenge. */
	char gw_host[64]; /* "IP:PORT" or "[IP6]:PORT", as in its URIs */
	char gw_user[512];
	char gw_password[512];
	unsigned tsx_max; /* SIP transactions at once; 0: TSX_MAX */
	size_t msg_max;	  /* largest SIP message */
	/* The numeric address our Via and Contact name (no brackets). */
	char via_host[64];
	/* Hosts that are "ours" in a Request-URI besides the caller's
	 * domain: the addresses sipward listens on. */
	char listen_hosts[16][64];
	unsigned nlisten;
	/* Calls to other domains: the DNS servers ("" for the system's) and
	 * how long one resolution may take. */
	char dns_servers[512];
	unsigned dns_timeout_ms;
	bool far_allow_private; /* sip_allow_private_domains */
	/* rtpengine's ng address ("" none), when every call's media go
	 * through it, and how long one request may take. */
	char rtpe_addr[64];
	bool rtpe_always;
	unsigned rtpe_timeout_ms;
};

struct call_engine;

/* Makes the engine and starts its thread and workers. */
int call_engine_new(struct call_engine **out, struct svc *svc,
		    const struct call_opts *o);

/*
 * The transport to send on and the port it bound, and the key of this
 * node's path tokens (sip/path.h; NULL: none, it must outlive e); starts
 * the engine's thread, which handles the messages queued meanwhile.
 */
void call_engine_set_transport(struct call_engine *e, struct sip_transport *t,
			       unsigned port, const struct sip_path_key *path);

/*
 * Queues a message received by the transport (any thread): requests other
 * than REGISTER and OPTIONS, and every response.
 */
void call_on_message(void *ctx, struct sip_transport *t,
		     const struct sip_peer *from, char *msg, size_t len);

/*
 * Stops taking calls: every call still up gets its BYE (or its CANCEL and
 * final answer), then the thread and the workers stop. Call before the
 * transport stops.
 */
void call_engine_stop(struct call_engine *e);

/* Stops (when not yet) and frees. */
void call_engine_free(struct call_engine *e);

/* Calls in progress on this node. */
unsigned call_engine_count(struct call_engine *e);

#endif
