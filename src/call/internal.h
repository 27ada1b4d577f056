/*
 * internal.h - the call engine's own structures, shared by engine.c (the
 * thread, the queue, the dialog table) and call.c (what calls do). Every
 * structure here belongs to the engine thread, but call_job, which a store
 * worker fills and hands back.
 */
#ifndef CALL_INTERNAL_H
#define CALL_INTERNAL_H

#include <pthread.h>
#include <stdbool.h>
#include <stdint.h>

#include "base/pool.h"
#include "call/engine.h"
#include "call/target.h"
#include "media/rtpe.h"
#include "model/cdr.h"
#include "model/model.h"
#include "sip/dialog.h"
#include "sip/resolve.h"
#include "sip/tsx.h"

#define CALL_UUID_MAX 37
#define CALL_MEDIA_ID_MAX (SIP_CALL_ID_LEN + 80)
#define CALL_MEDIA_TAG_MAX 128

/* A B leg's media through rtpengine (media.c). */
struct call_media {
	bool on; /* rtpengine carries this leg's media */
	enum media_kind a_kind, b_kind;
	char call_id[CALL_MEDIA_ID_MAX]; /* the B leg's, rtpengine's key */
	char from_tag[CALL_MEDIA_TAG_MAX];
	unsigned busy; /* requests with rtpengine */
	bool deleted;  /* the session is gone (or never was) */
};

struct call;

enum leg_state {
	LEG_TRYING,  /* B: INVITE sent; A: INVITE received */
	LEG_EARLY,   /* a provisional with a tag */
	LEG_UP,	     /* answered */
	LEG_FAILED,  /* B: a final non-2xx, a timeout or an error */
	LEG_CLOSING, /* B: answered after another leg won, BYE sent */
};

/* A user of a transaction: what its events are about. */
enum owner { OWN_LEG, OWN_RELAY };

/* One leg: the caller's dialog with us (A) or ours with a callee (B). */
struct call_leg {
	enum owner own; /* OWN_LEG: first, see struct relay */
	struct call *c;
	bool is_a;
	enum leg_state state;
	struct sip_tsx *inv;  /* A: the server INVITE, B: the client one */
	struct sip_peer peer; /* where our requests on this leg go */
	char *invite;	      /* the INVITE, as received (A) or sent (B) */
	size_t invite_len;
	char *ack; /* B: our ACK for its 2xx, sent again when it is */
	size_t ack_len;
	struct sip_dialog d;
	bool has_d;
	char dkey[SIP_DIALOG_ID_MAX];
	bool in_map;
	struct call_leg *dnext;	 /* in the dialog table's bucket */
	struct call_leg *next;	 /* B legs of a call */
	unsigned final;		 /* B: its final status */
	unsigned dial;		 /* B: the Dial that made it (c->dials) */
	bool rang;		 /* B: a 180 or 183 came */
	bool gw;		 /* B: to the carrier (sip_gateway) */
	bool auth_tried;	 /* B: the carrier's challenge was answered */
	bool superseded;	 /* B: replaced by its authenticated retry */
	bool video_off;		 /* allow_video false on this leg's party */
	enum sip_proto proto;	 /* how its peer is reached */
	struct call_media media; /* B */
	char uuid[CALL_UUID_MAX];
	int64_t start_ms, answer_ms;
};

/* A request relayed from one leg to the other, until both ends are done. */
struct relay {
	enum owner own; /* OWN_RELAY */
	struct call *c;
	struct sip_tsx *srv; /* the request received, NULL once ended */
	struct sip_tsx *cli; /* the request sent on, NULL once ended */
	struct call_leg *from, *to;
	unsigned refs;
	struct relay *next; /* the call's relays */
};

enum call_state {
	CALL_AUTH,    /* the store is checking the caller and the target */
	CALL_APP,     /* running its application: fetching, waiting */
	CALL_RINGING, /* B legs out */
	CALL_UP,      /* bridged */
	CALL_ENDED,   /* hung up; waiting for transactions to end */
};

struct call {
	struct call_engine *e;
	struct call *prev, *next; /* the engine's live or ended calls */
	/* The engine's timer heap: due is the earliest of the timers below
	 * when it was armed (call_timer_arm); tnext links calls due now. */
	int64_t due;
	unsigned heap_i;
	bool in_heap;
	struct call *tnext;
	enum call_state state;
	unsigned refs; /* transactions and jobs that point here */
	struct call_leg a;
	struct call_leg *b;
	struct relay *relays;
	struct call_far *far; /* to another domain: its servers (call.c) */
	bool caller_cancelled;
	int64_t ring_end_ms; /* 0: none */
	/* The 2xx to the A leg, sent again until its ACK. */
	char *ok;
	size_t ok_len;
	struct sip_tsx_retx retx;
	bool retx_on;
	/* The caller, as the store had it. */
	int64_t account_ref;
	char from_user[MODEL_USERNAME_MAX + 1];
	char domain[MODEL_DOMAIN_MAX];
	char alias[MODEL_TEXT_BYTES];
	char endpoint_id[MODEL_ID_MAX];
	int64_t endpoint_ref;
	int max_forwards; /* for the B legs */
	/* The callee (a B leg's CDR), and what was dialled. */
	int64_t callee_ref;
	char callee_id[MODEL_ID_MAX];
	char to[MODEL_PARTY_MAX];
	char callee_uri[MODEL_PARTY_MAX];
	bool live; /* in live_calls */
	/* How it ended. */
	int64_t end_ms;
	enum model_cause cause;
	enum model_source source;
	/* B legs' From and extra headers (a Dial's callerId, callerName,
	 * sipHeaders; else the caller's). */
	char b_user[MODEL_USERNAME_MAX + 1];
	char b_name[MODEL_TEXT_BYTES];
	char *b_headers;
	unsigned dials; /* Dials started: B legs of the current one count */
	struct call_app *app; /* NULL: a direct call */
	int64_t limit_end_ms; /* an answered Dial's timeLimit; 0: none */
	int64_t wait_end_ms;  /* a Wait; 0: none */
	unsigned app_status;  /* the last Dial's answer, for the caller */
	bool allow_same_domain, allow_phones; /* the caller's flags */
	bool is_message;		      /* a SIP MESSAGE, not a call */
	bool bye_after_ack; /* the callee hung up before the caller ACKed */
};

/* Store work for a new INVITE: the caller's digest and the target. */
struct call_job {
	struct base_pool_job job;
	struct call_engine *e;
	struct call *c;
	int64_t deadline_ms;
	char src_ip[64], src[80];
	bool host_ours;
	/* Results. */
	int err;       /* a store error: 503 */
	int verdict;   /* enum sip_auth_verdict, or -1: forbidden */
	bool is_app;   /* the target is an application of the account */
	int target_ok; /* 0, or ENOENT: no such endpoint */
	struct svc_sip_party caller, callee;
	/* The application to run (the dialled one, else the caller's). */
	bool has_app;
	struct model_app app;
	char token[128]; /* its account's signing token, "" when none */
	size_t len;
	char msg[]; /* the INVITE */
};

struct item;

/* Work done by a store worker and finished on the engine thread. */
typedef void (*call_done_fn)(struct call_engine *e, void *arg);

struct call_engine {
	struct svc *svc;
	struct call_opts o;
	struct sip_transport *t;
	unsigned port;
	unsigned ports[SIP_PROTO_COUNT]; /* of each transport, 0: none */
	struct sip_tsx_table *tsx;
	struct base_pool *pool;
	struct base_pool *log;	 /* one worker: live calls and CDRs, in order */
	struct base_pool *media; /* one worker: rtpengine requests, in order */
	pthread_mutex_t rec_mu;	 /* the log queue, below */
	struct rec_job *recq, *recq_tail;
	bool rec_draining; /* a job of the log worker takes from it */
	struct app_fetcher *fetcher;
	struct hook *hooks; /* hangup_url requests waiting for a retry */
	char node_id[MODEL_NODE_ID_MAX];
	int64_t next_poll_ms, next_touch_ms, next_sweep_ms;
	bool polling;
	pthread_t thread;
	bool started, stopped;
	int64_t stop_deadline_ms;
	int efd;
	pthread_mutex_t mu; /* the queue */
	struct item *head, *tail;
	unsigned queued;
	struct call_leg **dmap;
	struct call *calls; /* live (not ended) */
	struct call *ended; /* ended, still referenced by transactions */
	unsigned ncalls;
	struct call **theap; /* calls with a timer, by due time */
	unsigned ntheap, theap_cap;
	struct sip_resolver *dns; /* where other domains are (RFC 3263) */
	/* The message being handled, as received (the parser writes into
	 * its own copy). */
	const char *raw;
	size_t raw_len;
	/* This node's path tokens, NULL when it has no address for them. */
	const struct sip_path_key *path;
};

/* path.c */
/*
 * Forwards m (received from from) statelessly when it goes through one of
 * this node's TCP connections: a request whose top Route is ours with a
 * connection token, or a response whose top Via we added. True when m was
 * handled so (forwarded, answered or dropped): the caller does no more.
 */
bool call_path_forward(struct call_engine *e, const struct sip_peer *from,
		       const struct sip_msg *m);

/* engine.c */
void call_dmap_put(struct call_engine *e, struct call_leg *l);
void call_dmap_del(struct call_engine *e, struct call_leg *l);
struct call_leg *call_dmap_find(struct call_engine *e, const char *key,
				size_t n);
/* Hands a finished job back to the engine thread (from a worker). */
void call_job_done(struct call_job *j);
/* Runs fn(e, arg) on the engine thread (from any thread). */
int call_post(struct call_engine *e, call_done_fn fn, void *arg);
/* Puts c in the timer heap at due, or takes it out (SIP_TSX_NEVER). */
int call_theap_set(struct call_engine *e, struct call *c, int64_t due);
/* The earliest due time in the heap, or SIP_TSX_NEVER. */
int64_t call_theap_next(const struct call_engine *e);
/* Takes the call due earliest out of the heap if it is due by now. */
struct call *call_theap_pop(struct call_engine *e, int64_t now_ms);

/* call.c */
void call_on_tsx_event(struct call_engine *e, const struct sip_tsx_event *ev);
void call_on_job_done(struct call_engine *e, struct call_job *j);
int64_t call_next_timer(struct call_engine *e);
/*
 * Sets one of c's timers (&c->ring_end_ms, wait_end_ms, limit_end_ms) to
 * when_ms and puts c in the engine's timer heap: the only way to set one.
 */
void call_timer_set(struct call *c, int64_t *timer, int64_t when_ms);
/* Puts c's earliest timer in the engine's heap (after a change). */
void call_timer_arm(struct call *c);
void call_run_timers(struct call_engine *e, int64_t now_ms);
void call_end_all(struct call_engine *e);
void call_free_all(struct call_engine *e);
/* call.c: what app.c drives */
int call_parse_copy(const char *buf, size_t len, struct sip_msg *m, char **mem);
void call_respond(struct call_engine *e, struct sip_tsx *tx, unsigned code,
		  const char *reason, const char *headers);
void call_refuse_flag(struct call_engine *e, struct sip_tsx *tx,
		      enum model_allow f);
void call_unavailable(struct call_engine *e, struct sip_tsx *tx);
void call_unref(struct call *c);
void call_end(struct call *c, enum model_cause cause, enum model_source source);
void call_send_bye(struct call_engine *e, struct call_leg *l);
void call_cancel_b(struct call *c, const char *headers);
unsigned call_best_final(const struct call *c);
bool call_b_failed(const struct call *c);
/* A B leg to the carrier for a phone number: ENOENT without a gateway. */
int call_start_gw(struct call *c, const struct sip_msg *am, const char *digits);
int call_start_b(struct call *c, const struct sip_msg *am,
		 const struct model_binding *bd, const char *callee,
		 bool video_off);

/* app.c: the application of a call (calls contract "Fetching XML", "The
 * XML that runs", "hangup_url") */
struct call_app;
/* Starts the application j found for c: fetches its answer_url. */
void call_app_start(struct call *c, const struct call_job *j);
/* The current Dial rang out with no answer or failed (status for the
 * caller when the document ends). */
void call_app_dial_failed(struct call *c, unsigned status, bool timeout);
/* c ended (hung up, cancelled, refused): Dial action and hangup_url. */
void call_app_ended(struct call *c);
/* Posts MESSAGE body text (len bytes) to the application's message_url;
 * the sender gets 202 on a 2xx, 500 otherwise. */
void call_app_message(struct call *c, const struct call_job *j,
		      const char *text, size_t len);
/* A Wait ended. */
void call_app_wait_over(struct call *c);
void call_app_free(struct call_app *a);
/* B leg l answered the current Dial. */
void call_app_bridged(struct call *c, struct call_leg *l);
/* hangup_url retries that are due. */
void call_app_timers(struct call_engine *e, int64_t now_ms);
void call_app_hooks_free(struct call_engine *e);
int call_app_engine_start(struct call_engine *e);
void call_app_engine_stop(struct call_engine *e);

/* media.c: rtpengine for calls between WebRTC and plain RTP */
/*
 * Decides whether B leg l (to a browser when b_webrtc) has its media
 * through rtpengine, for the caller's offer a_body, and sets l->media up
 * with the leg's Call-ID and From tag. True when it does.
 */
bool call_media_plan(struct call *c, struct call_leg *l, bool b_webrtc,
		     struct sip_str a_body, const char *call_id,
		     const char *tag);
/* Asks rtpengine for the offer to send to l's callee; call_b_offered
 * then runs on the engine thread. 0, or an errno (nothing queued). */
int call_media_offer(struct call *c, struct call_leg *l, struct sip_str sdp);
/* Asks rtpengine for the caller's version of m's SDP (l's 18x or 2xx,
 * raw as received); call_b_answered then runs. 0, or an errno. */
int call_media_answer(struct call *c, struct call_leg *l,
		      const struct sip_msg *m, const char *raw, size_t raw_len);
/* Deletes the rtpengine sessions of c's legs (at its end). */
void call_media_end(struct call *c);
/* Whether m carries an SDP body. */
bool call_media_sdp_ok(const struct sip_msg *m);
/* call.c: where media.c's requests end */
void call_b_offered(struct call *c, struct call_leg *l, int err,
		    const char *sdp, size_t len);
void call_b_answered(struct call *c, struct call_leg *l, const char *raw,
		     size_t raw_len, int err, const char *sdp, size_t len);

/* record.c */
void call_record_live(struct call *c);
void call_record_end(struct call *c);
void call_record_timers(struct call_engine *e, int64_t now_ms);
/* Frees what the log queue still holds (at the end, no worker left). */
void call_record_drop_all(struct call_engine *e);
/* Ends call c as the API asked (DELETE Call/{uuid}/). */
void call_hangup_api(struct call *c);
void call_reply_stateless(struct call_engine *e, const struct sip_peer *from,
			  const struct sip_msg *m, unsigned code,
			  const char *headers);

#endif
