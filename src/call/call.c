/*
 * call.c - what a call does (calls contract): an INVITE from an endpoint is
 * challenged (407) and checked with the registrar's digest rules, its
 * target classified and checked against the allow_* flags on a store
 * worker, then every live binding of the callee is rung in parallel (B
 * legs); provisional answers are relayed to the caller, the first 2xx is
 * bridged and the other legs cancelled, or the best final answer goes back
 * (RFC 3261 16.7). In-dialog requests are relayed leg to leg; a BYE ends
 * both. Runs on the engine thread only, but the job functions.
 */
#include <ctype.h>
#include <errno.h>
#include <netinet/in.h>
#include <stdio.h>
#include <stdlib.h>
#include <stddef.h>
#include <string.h>

#include "app/fetch.h"
#include "base/addr.h"
#include "base/crypto.h"
#include "base/id.h"
#include "base/log.h"
#include "base/metrics.h"
#include "base/time.h"
#include "call/internal.h"
#include "call/outcome.h"
#include "sip/build.h"
#include "sip/digest.h"
#include "sip/sdp.h"

/* ---- metrics ---- */

static const char *const CALL_KINDS[2] = {"call", "message"};

static _Atomic uint64_t setups_v[2];
static struct metric_family call_setups = {
    .name = "sipward_call_setups_total",
    .help = "Calls (INVITE) and messages (MESSAGE) of registered endpoints "
	    "accepted for routing, after their digest check.",
    .kind = METRIC_COUNTER,
    .label = {"kind"},
    .values = {CALL_KINDS},
    .nvalues = {2},
    .v = setups_v};
METRIC_REGISTER(call_setups)

static const char *cause_names[MODEL_CAUSE_COUNT];
static _Atomic uint64_t hangups_v[2 * MODEL_CAUSE_COUNT];
static struct metric_family call_hangups = {
    .name = "sipward_call_hangups_total",
    .help = "Calls and messages that ended, by hangup cause (the CDR's "
	    "hangup_cause_name).",
    .kind = METRIC_COUNTER,
    .label = {"kind", "cause"},
    .values = {CALL_KINDS, cause_names},
    .nvalues = {2, MODEL_CAUSE_COUNT},
    .v = hangups_v};

__attribute__((constructor)) static void call_hangups_register(void)
{
	for (unsigned i = 0; i < MODEL_CAUSE_COUNT; i++)
		cause_names[i] = model_cause_name((enum model_cause)i);
	metric_register(&call_hangups);
}

#define MESSAGE_MAX 65536 /* bytes of a MESSAGE body (contract: 413) */
/* The largest message the engine builds: a MESSAGE of MESSAGE_MAX with
 * its headers (sip_msg_max's default). */
#define OUT_MAX (MESSAGE_MAX + 8192)
#define HDRS_MAX 2048
#define REASON_ELSEWHERE \
	"Reason: SIP;cause=200;text=\"Call completed elsewhere\"\r\n"

/* ---- small helpers ---- */

static int64_t now_ms(void)
{
	return base_time_mono_ms();
}

/* Copies s into out as a NUL-terminated string; false when it does not
 * fit or holds a control character. */
static bool copy_str(struct sip_str s, char *out, size_t cap)
{
	if (!s.p || s.n >= cap)
		return false;
	for (size_t i = 0; i < s.n; i++)
		if ((unsigned char)s.p[i] < 0x20 || s.p[i] == 0x7f)
			return false;
	memcpy(out, s.p, s.n);
	out[s.n] = '\0';
	return true;
}

/* A lower-case host we can use as a realm; false otherwise. */
static bool realm_of(struct sip_str host, char *out, size_t cap)
{
	if (!host.p || host.n == 0 || host.n >= cap)
		return false;
	for (size_t i = 0; i < host.n; i++) {
		char ch = (char)tolower((unsigned char)host.p[i]);
		if (!((ch >= 'a' && ch <= 'z') || (ch >= '0' && ch <= '9') ||
		      ch == '-' || ch == '.'))
			return false;
		out[i] = ch;
	}
	out[host.n] = '\0';
	return true;
}

/* Parses a copy of buf (the parser writes into what it parses). */
int call_parse_copy(const char *buf, size_t len, struct sip_msg *m, char **mem)
{
	*mem = malloc(len ? len : 1);
	if (!*mem)
		return ENOMEM;
	memcpy(*mem, buf, len);
	return sip_msg_parse(m, *mem, len);
}

/* Our Contact value for a leg. */
static void our_contact(const struct call_engine *e, enum sip_proto p,
			char *out, size_t cap)
{
	bool v6 = strchr(e->o.via_host, ':') != NULL;

	snprintf(out, cap, "<sip:%s%s%s:%u%s%s>", v6 ? "[" : "", e->o.via_host,
		 v6 ? "]" : "", e->ports[p], p == SIP_UDP ? "" : ";transport=",
		 p == SIP_UDP ? "" : sip_proto_param(p));
}

/* The body to pass on from m, its m=video lines refused when asked. */
static struct sip_str body_out(const struct sip_msg *m, bool refuse_video,
			       char *buf, size_t cap)
{
	size_t n = 0;

	if (!m->body.p || !refuse_video ||
	    !sip_str_ieq(m->content_type, "application/sdp"))
		return m->body;
	if (sip_sdp_refuse_video(m->body.p, m->body.n, buf, cap, &n))
		return m->body; /* not SDP we can edit: as it came */
	return (struct sip_str){buf, n};
}

static const char *ctype_of(const struct sip_msg *m, char *buf, size_t cap)
{
	if (!m->body.p || !copy_str(m->content_type, buf, cap))
		return NULL;
	return buf;
}

/* ---- answers ---- */

void call_respond(struct call_engine *e, struct sip_tsx *tx, unsigned code,
		  const char *reason, const char *headers)
{
	struct sip_resp r = {
	    .code = code, .reason = reason, .headers = headers};
	int err;

	if (!tx)
		return;
	err = sip_tsx_respond(tx, now_ms(), &r);
	if (err)
		LOG_DEBUG("call_respond", "code=%u error=%d", code, err);
	(void)e;
}

void call_reply_stateless(struct call_engine *e, const struct sip_peer *from,
			  const struct sip_msg *m, unsigned code,
			  const char *headers)
{
	char *buf;
	struct sip_buf b;
	struct sip_peer to;
	char tag[SIP_TAG_LEN + 1];
	struct sip_resp r = {.code = code, .headers = headers};

	if (!m->is_request || sip_str_eq(m->method, "ACK"))
		return;
	buf = malloc(OUT_MAX);
	if (!buf)
		return;
	if (!sip_build_tag(tag, sizeof(tag)))
		r.to_tag = tag;
	sip_buf_init(&b, buf, OUT_MAX);
	sip_tsx_reply_peer(&to, from, m);
	if (!sip_build_response(&b, m, NULL, 0, &r))
		sip_transport_send(e->t, &to, buf, b.len);
	free(buf);
}

/* 403 whose reason phrase names the flag that refused the call. */
void call_refuse_flag(struct call_engine *e, struct sip_tsx *tx,
		      enum model_allow f)
{
	char reason[64];

	snprintf(reason, sizeof(reason), "Forbidden (%s)",
		 call_target_flag_name(f));
	call_respond(e, tx, 403, reason, NULL);
}

/* 503 with Retry-After. */
void call_unavailable(struct call_engine *e, struct sip_tsx *tx)
{
	char h[48];

	snprintf(h, sizeof(h), "Retry-After: %ld\r\n", e->o.retry_after_s);
	call_respond(e, tx, 503, NULL, h);
}

/*
 * Zeroes a store job but the entries of its two binding lists (64 KB,
 * filled up to their n by svc_sip_party): the memset of them was 7% of a
 * call's instructions.
 */
static void job_clear(struct call_job *j)
{
	memset(j, 0, offsetof(struct call_job, caller.bindings.b));
	memset(&j->callee, 0, offsetof(struct svc_sip_party, bindings.b));
	memset(&j->has_app, 0,
	       offsetof(struct call_job, msg) -
		   offsetof(struct call_job, has_app));
}

/* ---- calls and legs ---- */

static void leg_free(struct call_leg *l)
{
	free(l->invite);
	free(l->ack);
}

static void unlink_call(struct call **head, struct call *c)
{
	if (c->prev)
		c->prev->next = c->next;
	else
		*head = c->next;
	if (c->next)
		c->next->prev = c->prev;
	c->prev = c->next = NULL;
}

static void link_call(struct call **head, struct call *c)
{
	c->prev = NULL;
	c->next = *head;
	if (*head)
		(*head)->prev = c;
	*head = c;
}

/* Frees c when it has ended and nothing points to it any more. */
static void maybe_free(struct call *c)
{
	struct call_engine *e = c->e;
	struct call_leg *l, *nx;

	if (c->refs || c->state != CALL_ENDED)
		return;
	unlink_call(&e->ended, c);
	call_theap_set(e, c, SIP_TSX_NEVER);
	for (l = c->b; l; l = nx) {
		nx = l->next;
		leg_free(l);
		free(l);
	}
	while (c->relays) {
		struct relay *rl = c->relays;
		c->relays = rl->next;
		free(rl);
	}
	leg_free(&c->a);
	call_app_free(c->app);
	free(c->far);
	free(c->b_headers);
	free(c->ok);
	free(c);
}

void call_unref(struct call *c)
{
	c->refs--;
	maybe_free(c);
}

/* Ends c: no more timers, dialogs forgotten, logged, recorded.
 * Idempotent. */
void call_end(struct call *c, enum model_cause cause, enum model_source source)
{
	struct call_engine *e = c->e;

	if (c->state == CALL_ENDED)
		return;
	c->state = CALL_ENDED;
	/* Off the live list and the timers: what an ended call still has
	 * (transactions, jobs) reaches it through its references. */
	unlink_call(&e->calls, c);
	link_call(&e->ended, c);
	c->retx_on = false;
	c->ring_end_ms = c->wait_end_ms = c->limit_end_ms = 0;
	call_theap_set(e, c, SIP_TSX_NEVER);
	c->end_ms = now_ms();
	c->cause = cause;
	c->source = source;
	call_dmap_del(e, &c->a);
	for (struct call_leg *l = c->b; l; l = l->next)
		call_dmap_del(e, l);
	__atomic_sub_fetch(&e->ncalls, 1, __ATOMIC_RELAXED);
	metric_add(&call_hangups, c->is_message, (unsigned)cause, 1);
	LOG_INFO("call_ended",
		 "call_uuid=%s from=%s domain=%s cause=%s source=\"%s\" "
		 "duration_ms=%lld",
		 c->a.uuid, c->from_user, c->domain, model_cause_name(cause),
		 model_source_name(source),
		 (long long)(c->a.answer_ms ? c->end_ms - c->a.answer_ms : 0));
	call_media_end(c);
	call_record_end(c);
	call_app_ended(c);
}

/* Sends a BYE on leg l's dialog (its answer is not waited for). */
void call_send_bye(struct call_engine *e, struct call_leg *l)
{
	char *buf;
	struct sip_buf b;
	struct sip_dialog_req r = {.method = "BYE",
				   .transport = sip_proto_name(l->proto),
				   .via_host = e->o.via_host,
				   .via_port = e->ports[l->proto]};

	if (!l->has_d)
		return;
	buf = malloc(OUT_MAX);
	if (!buf)
		return;
	sip_buf_init(&b, buf, OUT_MAX);
	if (!sip_dialog_request(&l->d, &b, &r))
		sip_tsx_request(e->tsx, now_ms(), &l->peer, buf, b.len, NULL,
				NULL);
	free(buf);
}

/* Cancels every B leg still ringing. */
void call_cancel_b(struct call *c, const char *headers)
{
	for (struct call_leg *l = c->b; l; l = l->next)
		if ((l->state == LEG_TRYING || l->state == LEG_EARLY) && l->inv)
			sip_tsx_cancel(l->inv, now_ms(), headers);
}

/* The best final answer of the current Dial's B legs (outcome.h). */
unsigned call_best_final(const struct call *c)
{
	unsigned n = 0, best;
	unsigned *finals;

	for (const struct call_leg *l = c->b; l; l = l->next)
		n++;
	finals = calloc(n ? n : 1, sizeof(*finals));
	if (!finals)
		return 500;
	n = 0;
	for (const struct call_leg *l = c->b; l; l = l->next)
		finals[n++] = l->dial == c->dials ? l->final : 0;
	best = call_outcome_best(finals, n, c->caller_cancelled);
	free(finals);
	return best;
}

bool call_b_failed(const struct call *c)
{
	for (const struct call_leg *l = c->b; l; l = l->next)
		if (l->dial == c->dials && l->state != LEG_FAILED)
			return false;
	return true;
}

/* ---- the B legs ---- */

/*
 * The peer of a binding: its received address over its transport (a
 * connection's, whatever its Contact's host, which a browser makes up:
 * "x.invalid"); for a binding on a connection whose path names another
 * node, that node over UDP, with *route set to the path (the Route of the
 * request), NULL otherwise.
 */
static int binding_peer(const struct call_engine *e,
			const struct model_binding *b, struct sip_peer *p,
			enum sip_proto *proto, const char **route)
{
	int named = sip_proto_parse(b->transport, strlen(b->transport));
	bool self = true;

	memset(p, 0, sizeof(*p));
	*route = NULL;
	/* "GW" (the carrier) and "FAR" (another domain): over UDP */
	*proto = named < 0 ? SIP_UDP : (enum sip_proto)named;
	if (*proto != SIP_UDP && b->path[0] && e->path &&
	    !sip_path_hop(e->path, b->path, &p->addr, &p->addrlen, &self) &&
	    !self) {
		*proto = SIP_UDP;
		*route = b->path;
		p->proto = SIP_UDP;
		return 0;
	}
	if (base_addr_parse(b->received, &p->addr, &p->addrlen))
		return EINVAL;
	p->proto = *proto;
	return 0;
}

/* Writes name-addr `"display" <uri>` with the display name escaped. */
static void name_addr(char *out, size_t cap, const char *display,
		      const char *uri)
{
	char esc[2 * MODEL_TEXT_BYTES];
	size_t j = 0;

	for (size_t i = 0; display[i] && j + 2 < sizeof(esc); i++) {
		if (display[i] == '"' || display[i] == '\\')
			esc[j++] = '\\';
		esc[j++] = display[i];
	}
	esc[j] = '\0';
	if (j)
		snprintf(out, cap, "\"%s\" <%s>", esc, uri);
	else
		snprintf(out, cap, "<%s>", uri);
}

/*
 * Links B leg l to c and sends its request (len bytes of buf) in a client
 * transaction. One that never started fails the leg at once (503, no event
 * will come); a failed send comes back as EV_ERROR.
 */
static void b_all_failed(struct call *c);

static void leg_link(struct call *c, struct call_leg *l)
{
	if (!l->start_ms)
		l->start_ms = now_ms();
	l->next = c->b;
	c->b = l;
	l->inv = NULL;
}

/* Starts l's INVITE transaction with buf (l linked already). */
static void leg_invite(struct call *c, struct call_leg *l, const char *buf,
		       size_t len)
{
	c->refs++;
	if (sip_tsx_request(c->e->tsx, now_ms(), &l->peer, buf, len, l,
			    &l->inv) &&
	    !l->inv) {
		l->state = LEG_FAILED;
		l->final = 503;
		c->refs--;
	}
}

static void leg_send(struct call *c, struct call_leg *l, const char *buf,
		     size_t len)
{
	leg_link(c, l);
	leg_invite(c, l, buf, len);
}

/*
 * Writes msg (len bytes, made by sip_build_request, whose head ends with
 * its Content-Length) with body (n bytes) instead of its own into out
 * (cap bytes); *outlen its length. 0 or ERANGE.
 */
static int swap_body(const char *msg, size_t len, const char *body, size_t n,
		     char *out, size_t cap, size_t *outlen)
{
	const char *end = memmem(msg, len, "\r\n\r\n", 4), *cl = NULL;
	int k;

	for (const char *p = msg; end && p < end;) {
		const char *q =
		    memmem(p, (size_t)(end - p), "\r\nContent-Length:", 17);
		if (!q)
			break;
		cl = q;
		p = q + 2;
	}
	if (!cl)
		return ERANGE;
	k = snprintf(out, cap, "%.*sContent-Length: %zu\r\n\r\n",
		     (int)(cl + 2 - msg), msg, n);
	if (k < 0 || (size_t)k + n > cap)
		return ERANGE;
	memcpy(out + k, body, n);
	*outlen = (size_t)k + n;
	return 0;
}

void call_b_offered(struct call *c, struct call_leg *l, int err,
		    const char *sdp, size_t len)
{
	struct call_engine *e = c->e;
	char *buf = NULL;
	size_t n = 0;

	if (err)
		l->media.deleted = true; /* no session was made */
	if (c->state != CALL_RINGING || e->stopped || l->dial != c->dials ||
	    l->state != LEG_TRYING || c->caller_cancelled) {
		/* Ended, cancelled or timed out meanwhile: never sent. */
		if (l->state == LEG_TRYING) {
			l->state = LEG_FAILED;
			l->final = 487;
		}
		goto out;
	}
	if (!err) {
		buf = malloc(OUT_MAX);
		err = !buf ? ENOMEM
			   : swap_body(l->invite, l->invite_len, sdp, len, buf,
				       OUT_MAX, &n);
	}
	if (err) {
		/* As if the callee had answered 503: the caller gets the
		 * best answer of the Dial (a 500 when none is better). */
		l->state = LEG_FAILED;
		l->final = 503;
		goto out;
	}
	free(l->invite);
	l->invite = buf;
	l->invite_len = n;
	buf = NULL;
	leg_invite(c, l, l->invite, l->invite_len);
out:
	free(buf);
	if (l->state == LEG_FAILED && c->state == CALL_RINGING && !e->stopped)
		b_all_failed(c);
}

/* Starts one B leg towards binding bd of the callee; 0 or an errno. */
int call_start_b(struct call *c, const struct sip_msg *am,
		 const struct model_binding *bd, const char *callee,
		 bool video_off)
{
	struct call_engine *e = c->e;
	struct call_leg *l = calloc(1, sizeof(*l));
	char from[MODEL_TEXT_BYTES * 2 + 600], to[600], fromuri[400];
	char contact[128], call_id[SIP_CALL_ID_LEN + 80], tag[SIP_TAG_LEN + 1];
	char ctype[128], *sdp = NULL, *buf = NULL, *hdrs = NULL;
	const char *route = NULL;
	struct sip_buf b;
	struct sip_req r;
	bool b_webrtc;
	int err;

	if (!l)
		return ENOMEM;
	l->own = OWN_LEG;
	l->c = c;
	l->dial = c->dials;
	l->video_off = video_off;
	/* A browser, wherever it is reached through. */
	b_webrtc = strcmp(bd->transport, "WS") == 0 ||
		   strcmp(bd->transport, "WSS") == 0;
	err = binding_peer(e, bd, &l->peer, &l->proto, &route);
	if (!err)
		err = base_id_uuid(l->uuid, sizeof(l->uuid));
	if (!err)
		err = sip_build_tag(tag, sizeof(tag));
	if (!err)
		err =
		    sip_build_call_id(call_id, sizeof(call_id),
				      e->o.via_host[0] ? e->o.via_host : NULL);
	buf = malloc(OUT_MAX);
	sdp = malloc(OUT_MAX);
	hdrs = malloc(HDRS_MAX);
	if (!err && (!buf || !sdp || !hdrs))
		err = ENOMEM;
	if (err)
		goto out;
	snprintf(fromuri, sizeof(fromuri), "sip:%s@%s", c->b_user, c->domain);
	name_addr(from, sizeof(from), c->b_name, fromuri);
	snprintf(hdrs, HDRS_MAX, "%s%s", SIP_ALLOW_HDR,
		 c->b_headers ? c->b_headers : "");
	l->gw = bd->transport[0] == 'G'; /* see call_start_gw */
	if (bd->transport[0] == 'F')	 /* another domain: see far_start */
		snprintf(to, sizeof(to), "<%s>", callee);
	else
		snprintf(to, sizeof(to), "<sip:%s@%s>", callee,
			 l->gw ? e->o.gw_host : c->domain);
	our_contact(e, l->proto, contact, sizeof(contact));
	r = (struct sip_req){
	    .method = "INVITE",
	    .ruri = bd->contact,
	    .transport = sip_proto_name(l->proto),
	    .via_host = e->o.via_host,
	    .via_port = e->ports[l->proto],
	    .from = from,
	    .from_tag = tag,
	    .to = to,
	    .call_id = call_id,
	    .cseq = 1,
	    .contact = contact,
	    .max_forwards = c->max_forwards,
	    .route = route ? &route : NULL,
	    .nroute = route ? 1 : 0,
	    .headers = hdrs,
	    .content_type = ctype_of(am, ctype, sizeof(ctype)),
	    .body = body_out(am, video_off || c->a.video_off, sdp, OUT_MAX),
	};
	sip_buf_init(&b, buf, OUT_MAX);
	err = sip_build_request(&b, &r);
	if (err)
		goto out;
	l->invite = malloc(b.len);
	if (!l->invite) {
		err = ENOMEM;
		goto out;
	}
	memcpy(l->invite, buf, b.len);
	l->invite_len = b.len;
	if (call_media_plan(c, l, b_webrtc, r.body, call_id, tag)) {
		/* The INVITE goes once rtpengine made its offer. */
		leg_link(c, l);
		l->state = LEG_TRYING;
		if (call_media_offer(c, l, r.body)) {
			l->state = LEG_FAILED;
			l->final = 503;
			l->media.deleted = true;
			LOG_WARN("rtpengine_failed",
				 "call_uuid=%s b_leg=%s op=offer "
				 "error=\"no worker\"",
				 c->a.uuid, l->uuid);
		}
	} else {
		leg_send(c, l, buf, b.len);
	}
	l = NULL;
out:
	if (l) {
		leg_free(l);
		free(l);
	}
	free(buf);
	free(sdp);
	free(hdrs);
	return err;
}

int call_start_gw(struct call *c, const struct sip_msg *am, const char *digits)
{
	struct model_binding *bd;
	int err;

	if (!c->e->o.gw_host[0])
		return ENOENT;
	bd = calloc(1, sizeof(*bd));
	if (!bd)
		return ENOMEM;
	snprintf(bd->contact, sizeof(bd->contact), "sip:%s@%s", digits,
		 c->e->o.gw_host);
	snprintf(bd->received, sizeof(bd->received), "%s", c->e->o.gw_host);
	snprintf(bd->transport, sizeof(bd->transport), "GW");
	err = call_start_b(c, am, bd, digits, false);
	free(bd);
	return err;
}

/* The value of parameter name in a challenge ("Digest k=v, k=\"v\"") into
 * out; false when absent or too long. */
static bool challenge_param(struct sip_str ch, const char *name, char *out,
			    size_t cap)
{
	const char *p = ch.p + 7, *e = ch.p + ch.n; /* after "Digest " */
	size_t n = strlen(name);

	while (p < e) {
		while (p < e && (*p == ' ' || *p == ','))
			p++;
		if ((size_t)(e - p) > n && strncasecmp(p, name, n) == 0 &&
		    p[n] == '=') {
			const char *v = p + n + 1, *ve;
			if (v < e && *v == '"') {
				v++;
				ve = memchr(v, '"', (size_t)(e - v));
			} else {
				ve = v;
				while (ve < e && *ve != ',' && *ve != ' ')
					ve++;
			}
			if (!ve || (size_t)(ve - v) >= cap)
				return false;
			memcpy(out, v, (size_t)(ve - v));
			out[ve - v] = '\0';
			return true;
		}
		/* Skip this parameter (quoted commas included). */
		while (p < e && *p != ',') {
			if (*p == '"') {
				const char *q =
				    memchr(p + 1, '"', (size_t)(e - p - 1));
				p = q ? q + 1 : e;
			} else {
				p++;
			}
		}
	}
	return false;
}

/*
 * The gateway challenged B leg l (401 or 407 in m): the INVITE again, CSeq
 * 2 and a fresh branch, with our credentials, as a new leg that takes l's
 * place. 0, or an errno (then l just failed).
 */
static int gw_retry(struct call *c, struct call_leg *l, const struct sip_msg *m)
{
	struct call_engine *e = c->e;
	struct sip_str ch = sip_msg_header(
	    m, m->status == 401 ? "WWW-Authenticate" : "Proxy-Authenticate",
	    NULL);
	char realm[128], nonce[256], qop[64], alg_s[32], opaque[256];
	char ha1[SIP_DIGEST_HEX_MAX], resp[SIP_DIGEST_HEX_MAX], uri[400];
	char cnonce[17], branch[SIP_BRANCH_LEN + 1], *hdr = NULL, *inv = NULL;
	enum base_digest_alg alg = BASE_DIGEST_MD5;
	struct sip_digest d = {0};
	struct call_leg *n = NULL;
	const char *cseq, *via_b, *eol;
	size_t hl, len;
	bool use_qop;
	int err = EINVAL;

	if (!ch.p || ch.n < 7 || strncasecmp(ch.p, "Digest ", 7) != 0 ||
	    !challenge_param(ch, "realm", realm, sizeof(realm)) ||
	    !challenge_param(ch, "nonce", nonce, sizeof(nonce)))
		return EINVAL;
	if (challenge_param(ch, "algorithm", alg_s, sizeof(alg_s)) &&
	    sip_digest_alg_parse((struct sip_str){alg_s, strlen(alg_s)}, &alg))
		return EINVAL;
	use_qop = challenge_param(ch, "qop", qop, sizeof(qop)) &&
		  strstr(qop, "auth") != NULL;
	/* The Request-URI as sent: the INVITE's first line. */
	eol = memchr(l->invite, '\r', l->invite_len);
	if (!eol || (size_t)(eol - l->invite) < 16 ||
	    (size_t)(eol - l->invite) - 15 >= sizeof(uri))
		return EINVAL;
	memcpy(uri, l->invite + 7, (size_t)(eol - l->invite) - 15);
	uri[(eol - l->invite) - 15] = '\0';
	if (sip_build_branch(branch, sizeof(branch)) ||
	    sip_build_tag(cnonce, sizeof(cnonce)) ||
	    base_ha1(alg, e->o.gw_user, realm, e->o.gw_password, ha1,
		     sizeof(ha1)))
		return EIO;
	d.uri = (struct sip_str){uri, strlen(uri)};
	d.nonce = (struct sip_str){nonce, strlen(nonce)};
	if (use_qop) {
		d.qop = (struct sip_str){"auth", 4};
		d.nc = (struct sip_str){"00000001", 8};
		d.cnonce = (struct sip_str){cnonce, strlen(cnonce)};
	}
	err = sip_digest_expected(alg, ha1, (struct sip_str){"INVITE", 6}, &d,
				  resp, sizeof(resp));
	base_wipe(ha1, sizeof(ha1));
	if (err)
		return err;
	hdr = malloc(2048);
	inv = malloc(l->invite_len + 2048);
	n = calloc(1, sizeof(*n));
	err = ENOMEM;
	if (!hdr || !inv || !n)
		goto out;
	hl = (size_t)snprintf(
	    hdr, 2048,
	    "%s: Digest username=\"%s\", realm=\"%s\", nonce=\"%s\", "
	    "uri=\"%s\", response=\"%s\", algorithm=%s%s%s%s%s%s\r\n",
	    m->status == 401 ? "Authorization" : "Proxy-Authorization",
	    e->o.gw_user, realm, nonce, uri, resp, sip_digest_alg_name(alg),
	    use_qop ? ", qop=auth, nc=00000001, cnonce=\"" : "",
	    use_qop ? cnonce : "", use_qop ? "\"" : "",
	    challenge_param(ch, "opaque", opaque, sizeof(opaque))
		? ", opaque=\""
		: "",
	    challenge_param(ch, "opaque", opaque, sizeof(opaque)) ? opaque
								  : "");
	if (hl >= 2048 - 2)
		goto out;
	if (challenge_param(ch, "opaque", opaque, sizeof(opaque))) {
		hdr[hl - 2] = '"';
		memcpy(hdr + hl - 1, "\r\n", 3);
		hl++;
	}
	/* The INVITE again: "CSeq: 1 INVITE" becomes 2, a new branch, and
	 * the credentials after the CSeq line. */
	memcpy(inv, l->invite, l->invite_len);
	len = l->invite_len;
	cseq = memmem(inv, len, "\r\nCSeq: 1 INVITE\r\n", 18);
	via_b = memmem(inv, len, "branch=", 7);
	err = EINVAL;
	if (!cseq || !via_b || (size_t)(via_b - inv) + 7 + SIP_BRANCH_LEN > len)
		goto out;
	memcpy((char *)via_b + 7, branch, SIP_BRANCH_LEN);
	((char *)cseq)[8] = '2';
	{
		size_t at = (size_t)(cseq - inv) + 18;
		memmove(inv + at + hl, inv + at, len - at);
		memcpy(inv + at, hdr, hl);
		len += hl;
	}
	n->own = OWN_LEG;
	n->c = c;
	n->dial = l->dial;
	n->gw = true;
	n->auth_tried = true;
	n->peer = l->peer;
	n->start_ms = l->start_ms;
	memcpy(n->uuid, l->uuid, sizeof(n->uuid));
	n->invite = inv;
	n->invite_len = len;
	inv = NULL;
	l->superseded = true;
	l->dial = 0;
	leg_send(c, n, n->invite, n->invite_len);
	err = 0;
	n = NULL;
out:
	free(n);
	free(inv);
	if (hdr)
		base_wipe(hdr, 2048);
	free(hdr);
	return err;
}

/* ---- answering ---- */

/* Makes l's dialog from its INVITE and response m (1xx with a tag or 2xx). */
static int b_dialog(struct call_leg *l, const struct sip_msg *m)
{
	struct sip_msg *req = malloc(sizeof(*req));
	char *mem = NULL;
	int err;

	if (!req)
		return ENOMEM;
	err = call_parse_copy(l->invite, l->invite_len, req, &mem);
	if (!err) {
		if (!l->has_d) {
			err = sip_dialog_uac(&l->d, req, m);
			if (!err && m->status >= 200)
				l->d.state = SIP_DIALOG_CONFIRMED;
		} else if (m->status >= 200) {
			err = sip_dialog_confirm(&l->d, m);
		}
		if (!err)
			l->has_d = true;
	}
	free(mem);
	free(req);
	return err;
}

/* ACKs l's 2xx (kept to be sent again when the 2xx is). */
static void b_ack(struct call_engine *e, struct call_leg *l)
{
	char *buf = malloc(OUT_MAX);
	struct sip_buf b;
	struct sip_dialog_req r = {.method = "ACK",
				   .transport = sip_proto_name(l->proto),
				   .via_host = e->o.via_host,
				   .via_port = e->ports[l->proto]};

	if (!buf)
		return;
	sip_buf_init(&b, buf, OUT_MAX);
	if (!sip_dialog_request(&l->d, &b, &r)) {
		free(l->ack);
		l->ack = malloc(b.len);
		if (l->ack) {
			memcpy(l->ack, buf, b.len);
			l->ack_len = b.len;
		}
		sip_transport_send(e->t, &l->peer, buf, b.len);
	}
	free(buf);
}

/* Relays provisional m of B leg l to the caller. */
static void relay_provisional(struct call *c, struct call_leg *l,
			      const struct sip_msg *m, struct sip_str media)
{
	struct call_engine *e = c->e;
	char contact[128], ctype[128], reason[128];
	char *sdp = malloc(OUT_MAX);
	struct sip_resp r;

	if (!sdp)
		return;
	our_contact(e, c->a.proto, contact, sizeof(contact));
	r = (struct sip_resp){
	    .code = m->status,
	    .reason =
		copy_str(m->reason, reason, sizeof(reason)) ? reason : NULL,
	    .contact = contact,
	    .content_type = ctype_of(m, ctype, sizeof(ctype)),
	    .body = media.p ? media
			    : body_out(m, l->video_off || c->a.video_off, sdp,
				       OUT_MAX),
	};
	if (sip_tsx_respond(c->a.inv, now_ms(), &r))
		LOG_DEBUG("call_relay_1xx", "call_uuid=%s", c->a.uuid);
	free(sdp);
}

/* The A leg's dialog, from its INVITE, once we answer it. */
static int a_dialog(struct call *c)
{
	struct sip_msg *req = malloc(sizeof(*req));
	char *mem = NULL;
	int err;

	if (!req)
		return ENOMEM;
	err = call_parse_copy(c->a.invite, c->a.invite_len, req, &mem);
	if (!err)
		err = sip_dialog_uas(&c->a.d, req, sip_tsx_tag(c->a.inv));
	if (!err)
		err = sip_dialog_confirm(&c->a.d, NULL);
	if (!err)
		c->a.has_d = true;
	free(mem);
	free(req);
	return err;
}

/* B leg l answered first: bridge it to the caller (with rtpengine's
 * version of its SDP when media.p). */
static void bridge(struct call *c, struct call_leg *l, const struct sip_msg *m,
		   struct sip_str media)
{
	struct call_engine *e = c->e;
	char contact[128], ctype[128];
	char *sdp = malloc(OUT_MAX);
	struct sip_resp r;
	const char *sent;
	size_t len = 0;

	l->state = LEG_UP;
	l->answer_ms = now_ms();
	if (!sdp || a_dialog(c) || !l->has_d) {
		free(sdp);
		call_send_bye(e, l);
		call_respond(e, c->a.inv, 500, NULL, NULL);
		call_end(c, MODEL_CAUSE_NORMAL_TEMPORARY_FAILURE,
			 MODEL_SOURCE_ERROR);
		return;
	}
	our_contact(e, c->a.proto, contact, sizeof(contact));
	r = (struct sip_resp){
	    .code = 200,
	    .contact = contact,
	    .headers = SIP_ALLOW_HDR,
	    .content_type = ctype_of(m, ctype, sizeof(ctype)),
	    .body = media.p ? media
			    : body_out(m, l->video_off || c->a.video_off, sdp,
				       OUT_MAX),
	};
	if (sip_tsx_respond(c->a.inv, now_ms(), &r) == 0) {
		sent = sip_tsx_last_sent(c->a.inv, &len);
		c->ok = malloc(len);
		if (c->ok) {
			memcpy(c->ok, sent, len);
			c->ok_len = len;
			sip_tsx_retx_start(&c->retx, e->tsx, now_ms());
			/* Timed over TCP too (no resends there): the ACK's
			 * deadline, and a callee's BYE waits for it. */
			c->retx_on = true;
			call_timer_arm(c);
		}
	}
	free(sdp);
	c->state = CALL_UP;
	c->a.state = LEG_UP;
	c->a.answer_ms = now_ms();
	c->ring_end_ms = 0;
	call_dmap_put(e, &c->a);
	call_cancel_b(c, REASON_ELSEWHERE);
	call_app_bridged(c, l);
	call_record_live(c);
	LOG_INFO("call_answered", "call_uuid=%s b_leg=%s", c->a.uuid, l->uuid);
}

static bool far_next(struct call *c);

/* When every leg of the current Dial has failed: the caller gets the best
 * answer, or the application goes on. */
static void b_all_failed(struct call *c)
{
	unsigned code;

	if (c->state != CALL_RINGING || !call_b_failed(c))
		return;
	if (far_next(c))
		return; /* another domain's next server */
	code = call_best_final(c);
	if (c->is_message) {
		call_respond(c->e, c->a.inv, 480, NULL, NULL);
		call_end(c, MODEL_CAUSE_USER_NOT_REGISTERED,
			 MODEL_SOURCE_CALLEE);
		return;
	}
	if (c->app) {
		call_app_dial_failed(c, code, false);
		return;
	}
	call_respond(c->e, c->a.inv, code, NULL, NULL);
	call_end(c, call_outcome_cause(code), MODEL_SOURCE_CALLEE);
}

/* A response to B leg l's INVITE. */
static void on_b_response(struct call *c, struct call_leg *l,
			  const struct sip_msg *m)
{
	struct call_engine *e = c->e;

	if (m->status < 200) {
		if (m->status > 100)
			l->rang = true;
		if (m->status == 100 ||
		    (l->state != LEG_TRYING && l->state != LEG_EARLY) ||
		    c->state != CALL_RINGING || l->dial != c->dials) {
			if (m->status > 100 && m->to.tag.p && !l->has_d)
				b_dialog(l, m);
			return;
		}
		/* Every 18x is relayed: a 183 with early SDP after a 180 is
		 * the ringback of many carriers. */
		if (m->to.tag.p && !l->has_d && !b_dialog(l, m)) {
			l->state = LEG_EARLY;
			call_dmap_put(e, l);
		}
		/* Early media through rtpengine: relayed once it answered. */
		if (l->media.on && call_media_sdp_ok(m) && m->to.tag.p &&
		    !call_media_answer(c, l, m, e->raw, e->raw_len))
			return;
		relay_provisional(c, l, m, (struct sip_str){0});
		return;
	}
	if (m->status < 300) {
		if (l->ack) {
			/* A retransmission of the 2xx: ACK it again. */
			sip_transport_send(e->t, &l->peer, l->ack, l->ack_len);
			return;
		}
		if (b_dialog(l, m)) {
			LOG_WARN("call_bad_2xx", "call_uuid=%s", c->a.uuid);
			l->state = LEG_FAILED;
			l->final = 500;
			return;
		}
		call_dmap_put(e, l);
		b_ack(e, l);
		if (c->state == CALL_RINGING && l->dial == c->dials &&
		    l->media.on && call_media_sdp_ok(m)) {
			/* The caller gets the 2xx once rtpengine answered. */
			if (call_media_answer(c, l, m, e->raw, e->raw_len))
				call_b_answered(c, l, NULL, 0, ENOMEM, NULL, 0);
		} else if (c->state == CALL_RINGING && l->dial == c->dials) {
			bridge(c, l, m, (struct sip_str){0});
		} else {
			/* Answered too late: another leg won, or the call
			 * ended meanwhile. */
			l->state = LEG_CLOSING;
			call_send_bye(e, l);
			call_dmap_del(e, l);
		}
		return;
	}
	if ((m->status == 401 || m->status == 407) && l->gw && !l->auth_tried &&
	    c->e->o.gw_user[0] && c->state == CALL_RINGING &&
	    l->dial == c->dials) {
		l->auth_tried = true;
		l->state = LEG_FAILED;
		l->final = m->status;
		if (gw_retry(c, l, m) == 0)
			return;
		LOG_WARN("gateway_auth_failed", "call_uuid=%s", c->a.uuid);
	}
	l->state = LEG_FAILED;
	l->final = m->status;
	b_all_failed(c);
}

void call_b_answered(struct call *c, struct call_leg *l, const char *raw,
		     size_t raw_len, int err, const char *sdp, size_t len)
{
	struct call_engine *e = c->e;
	struct sip_msg *m = NULL;
	char *mem = NULL;
	bool current =
	    c->state == CALL_RINGING && !e->stopped && l->dial == c->dials;

	if (raw) {
		m = malloc(sizeof(*m));
		if (!m || call_parse_copy(raw, raw_len, m, &mem))
			err = err ? err : EBADMSG;
	}
	if (raw && m && !err && m->status < 200) {
		/* Early media: relayed while the leg still rings. */
		if (current &&
		    (l->state == LEG_TRYING || l->state == LEG_EARLY))
			relay_provisional(c, l, m, (struct sip_str){sdp, len});
		goto out;
	}
	if (raw && m && m->status < 200)
		goto out; /* a 1xx rtpengine did not take: nothing more */
	if (!current || l->state == LEG_UP || l->state == LEG_CLOSING) {
		/* Answered too late (see on_b_response). */
		if (l->state != LEG_UP) {
			l->state = LEG_CLOSING;
			call_send_bye(e, l);
			call_dmap_del(e, l);
		}
		goto out;
	}
	if (err) {
		/* The callee answered but its media cannot be bridged. */
		l->state = LEG_CLOSING;
		call_send_bye(e, l);
		call_dmap_del(e, l);
		call_cancel_b(c, REASON_ELSEWHERE);
		call_respond(e, c->a.inv, 500, "Media Relay Failed", NULL);
		call_end(c, MODEL_CAUSE_NORMAL_TEMPORARY_FAILURE,
			 MODEL_SOURCE_ERROR);
		goto out;
	}
	bridge(c, l, m, (struct sip_str){sdp, len});
out:
	free(mem);
	free(m);
}

/* B leg l got no answer or could not be reached. */
static void on_b_failed(struct call *c, struct call_leg *l, unsigned code)
{
	if (l->state == LEG_FAILED || l->state == LEG_UP ||
	    l->state == LEG_CLOSING)
		return;
	l->state = LEG_FAILED;
	l->final = code;
	b_all_failed(c);
}

/* ---- messages ---- */

/* A response to a MESSAGE sent on to one binding of the recipient. */
static void on_msg_response(struct call *c, struct call_leg *l,
			    const struct sip_msg *m)
{
	if (m->status < 200 || l->state == LEG_FAILED)
		return;
	if (m->status < 300) {
		l->state = LEG_UP;
		if (c->state == CALL_RINGING) {
			call_respond(c->e, c->a.inv, 200, NULL, NULL);
			call_end(c, MODEL_CAUSE_NORMAL_CLEARING,
				 MODEL_SOURCE_CALLEE);
		}
		return;
	}
	l->state = LEG_FAILED;
	l->final = m->status;
	b_all_failed(c);
}

/* Sends MESSAGE am on to binding bd of callee; 0 or an errno. */
static int start_msg_b(struct call *c, const struct sip_msg *am,
		       const struct model_binding *bd, const char *callee)
{
	struct call_engine *e = c->e;
	struct call_leg *l = calloc(1, sizeof(*l));
	char from[600], to[600], call_id[SIP_CALL_ID_LEN + 80];
	char tag[SIP_TAG_LEN + 1], ctype[128], *buf = malloc(OUT_MAX);
	const char *route = NULL;
	struct sip_buf b;
	struct sip_req r;
	int err = ENOMEM;

	if (!l || !buf)
		goto out;
	l->own = OWN_LEG;
	l->c = c;
	err = binding_peer(e, bd, &l->peer, &l->proto, &route);
	if (!err)
		err = base_id_uuid(l->uuid, sizeof(l->uuid));
	if (!err)
		err = sip_build_tag(tag, sizeof(tag));
	if (!err)
		err =
		    sip_build_call_id(call_id, sizeof(call_id), e->o.via_host);
	if (err)
		goto out;
	snprintf(from, sizeof(from), "<sip:%.64s@%.180s>", c->from_user,
		 c->domain);
	snprintf(to, sizeof(to), "<sip:%.64s@%.180s>", callee, c->domain);
	r = (struct sip_req){
	    .method = "MESSAGE",
	    .ruri = bd->contact,
	    .transport = sip_proto_name(l->proto),
	    .via_host = e->o.via_host,
	    .via_port = e->ports[l->proto],
	    .from = from,
	    .from_tag = tag,
	    .to = to,
	    .call_id = call_id,
	    .cseq = 1,
	    .max_forwards = c->max_forwards,
	    .route = route ? &route : NULL,
	    .nroute = route ? 1 : 0,
	    .content_type = ctype_of(am, ctype, sizeof(ctype)),
	    .body = am->body,
	};
	sip_buf_init(&b, buf, OUT_MAX);
	err = sip_build_request(&b, &r);
	if (err)
		goto out;
	leg_send(c, l, buf, b.len);
	l = NULL;
out:
	free(l);
	free(buf);
	return err;
}

/* Where an authenticated MESSAGE goes (calls contract, "Messages"). */
static void route_message(struct call *c, const struct call_job *j)
{
	struct call_engine *e = c->e;
	const struct model_endpoint *ep = &j->caller.ep;
	const struct model_endpoint *to = &j->callee.ep;
	struct sip_msg *am = malloc(sizeof(*am));
	char *mem = NULL;
	unsigned started = 0;

	if (!am || call_parse_copy(c->a.invite, c->a.invite_len, am, &mem)) {
		call_respond(e, c->a.inv, 500, NULL, NULL);
		call_end(c, MODEL_CAUSE_NORMAL_TEMPORARY_FAILURE,
			 MODEL_SOURCE_ERROR);
		goto out;
	}
	snprintf(c->to, sizeof(c->to), "sip:%.*s@%.*s",
		 (int)(am->ruri.user.n < 200 ? am->ruri.user.n : 200),
		 am->ruri.user.p ? am->ruri.user.p : "",
		 (int)(am->ruri.host.n < 50 ? am->ruri.host.n : 50),
		 am->ruri.host.p ? am->ruri.host.p : "");
	if (!ep->allow[MODEL_ALLOW_MESSAGE]) {
		call_refuse_flag(e, c->a.inv, MODEL_ALLOW_MESSAGE);
		call_end(c, MODEL_CAUSE_FORBIDDEN, MODEL_SOURCE_ERROR);
		goto out;
	}
	if (j->host_ours && j->target_ok == 0 && !j->is_app) {
		if (!to->allow[MODEL_ALLOW_MESSAGE]) {
			call_refuse_flag(e, c->a.inv, MODEL_ALLOW_MESSAGE);
			call_end(c, MODEL_CAUSE_FORBIDDEN, MODEL_SOURCE_ERROR);
			goto out;
		}
		c->state = CALL_RINGING;
		for (unsigned i = 0; i < j->callee.bindings.n; i++)
			if (start_msg_b(c, am, &j->callee.bindings.b[i],
					to->username) == 0)
				started++;
		if (c->state != CALL_RINGING)
			goto out;
		if (!started || call_b_failed(c)) {
			call_respond(e, c->a.inv, 480, NULL, NULL);
			call_end(c, MODEL_CAUSE_USER_NOT_REGISTERED,
				 MODEL_SOURCE_ERROR);
		}
		goto out;
	}
	if (!j->has_app || !j->app.message_url[0]) {
		call_respond(e, c->a.inv, 404, NULL, NULL);
		call_end(c, MODEL_CAUSE_UNALLOCATED_NUMBER, MODEL_SOURCE_ERROR);
		goto out;
	}
	if (!sip_str_ieq(am->content_type, "text/plain") && am->body.n) {
		call_respond(e, c->a.inv, 415, NULL, "Accept: text/plain\r\n");
		call_end(c, MODEL_CAUSE_NORMAL_TEMPORARY_FAILURE,
			 MODEL_SOURCE_ERROR);
		goto out;
	}
	call_app_message(c, j, am->body.p ? am->body.p : "", am->body.n);
out:
	free(mem);
	free(am);
}

/* ---- in-dialog requests ---- */

static struct call_leg *other_leg(struct call_leg *l)
{
	struct call *c = l->c;

	if (!l->is_a)
		return &c->a;
	for (struct call_leg *b = c->b; b; b = b->next)
		if (b->state == LEG_UP)
			return b;
	return NULL;
}

/* Relays request m received on leg from (server tx srv) to the other leg. */
static void relay_request(struct call *c, struct call_leg *from,
			  struct sip_tsx *srv, const struct sip_msg *m)
{
	struct call_engine *e = c->e;
	struct call_leg *to = other_leg(from);
	struct relay *rl;
	char contact[128], ctype[128], method[32];
	char *buf = NULL, *sdp = NULL;
	struct sip_buf b;
	struct sip_dialog_req r;
	int err;

	if (!to || !to->has_d || !copy_str(m->method, method, sizeof(method))) {
		call_respond(e, srv, 481, NULL, NULL);
		return;
	}
	if ((from->media.on || to->media.on) && call_media_sdp_ok(m)) {
		/* A new offer in a call whose media rtpengine bridges is not
		 * carried yet (calls.md "WebRTC"): the call goes on as it
		 * was (RFC 3261 14.2). */
		call_respond(e, srv, 488, NULL, NULL);
		return;
	}
	rl = calloc(1, sizeof(*rl));
	buf = malloc(OUT_MAX);
	sdp = malloc(OUT_MAX);
	if (!rl || !buf || !sdp) {
		call_respond(e, srv, 500, NULL, NULL);
		goto out;
	}
	sip_dialog_refresh(&from->d, m);
	our_contact(e, to->proto, contact, sizeof(contact));
	r = (struct sip_dialog_req){
	    .method = method,
	    .transport = sip_proto_name(to->proto),
	    .via_host = e->o.via_host,
	    .via_port = e->ports[to->proto],
	    .contact =
		(strcmp(method, "INVITE") == 0 || strcmp(method, "UPDATE") == 0)
		    ? contact
		    : NULL,
	    .content_type = ctype_of(m, ctype, sizeof(ctype)),
	    .body = body_out(m, from->video_off || to->video_off, sdp, OUT_MAX),
	};
	sip_buf_init(&b, buf, OUT_MAX);
	err = sip_dialog_request(&to->d, &b, &r);
	if (err) {
		call_respond(e, srv, 500, NULL, NULL);
		goto out;
	}
	*rl = (struct relay){.own = OWN_RELAY, .c = c, .from = from, .to = to};
	rl->srv = srv;
	rl->refs = 1;
	c->refs++;
	sip_tsx_set_user(srv, rl);
	rl->refs++;
	c->refs++;
	err = sip_tsx_request(e->tsx, now_ms(), &to->peer, buf, b.len, rl,
			      &rl->cli);
	if (err && !rl->cli) {
		rl->refs--;
		c->refs--;
		call_respond(e, srv, 503, NULL, NULL);
	}
	rl->next = c->relays;
	c->relays = rl;
	rl = NULL;
out:
	free(rl);
	free(buf);
	free(sdp);
}

/* A response to a relayed request: back to where the request came from. */
static void on_relay_response(struct relay *rl, struct sip_tsx *tx,
			      const struct sip_msg *m)
{
	struct call *c = rl->c;
	struct call_engine *e = c->e;
	char contact[128], ctype[128], reason[128];
	char *sdp;
	struct sip_resp r;

	if (m->status == 100)
		return;
	if (m->status >= 200 && m->status < 300 &&
	    strcmp(sip_tsx_method(tx), "INVITE") == 0) {
		/* We ACK the callee's 2xx ourselves; the caller's ACK for
		 * ours is absorbed. */
		sip_dialog_refresh(&rl->to->d, m);
		b_ack(e, rl->to);
	}
	if (!rl->srv)
		return;
	sdp = malloc(OUT_MAX);
	if (!sdp)
		return;
	our_contact(e, rl->from->proto, contact, sizeof(contact));
	r = (struct sip_resp){
	    .code = m->status,
	    .reason =
		copy_str(m->reason, reason, sizeof(reason)) ? reason : NULL,
	    .contact = m->status < 300 ? contact : NULL,
	    .content_type = ctype_of(m, ctype, sizeof(ctype)),
	    .body = body_out(m, rl->from->video_off || rl->to->video_off, sdp,
			     OUT_MAX),
	};
	sip_tsx_respond(rl->srv, now_ms(), &r);
	free(sdp);
}

/* A request within a dialog we know: m on leg l, server tx tx. */
static void on_dialog_request(struct call_engine *e, struct call_leg *l,
			      struct sip_tsx *tx, const struct sip_msg *m)
{
	struct call *c = l->c;
	unsigned st = sip_dialog_check(&l->d, m);

	if (st) {
		call_respond(e, tx, st, NULL, NULL);
		return;
	}
	if (sip_str_eq(m->method, "BYE")) {
		struct call_leg *o = other_leg(l);
		call_respond(e, tx, 200, NULL, NULL);
		if (!l->is_a && c->retx_on) {
			/* The caller has not ACKed our 200 yet: its BYE waits
			 * for that ACK (RFC 3261 15), or for the 200's
			 * retransmissions to give up. */
			c->bye_after_ack = true;
			return;
		}
		if (o)
			call_send_bye(e, o);
		call_end(c, MODEL_CAUSE_NORMAL_CLEARING,
			 l->is_a ? MODEL_SOURCE_CALLER : MODEL_SOURCE_CALLEE);
		return;
	}
	if (c->state != CALL_UP) {
		call_respond(e, tx, 481, NULL, NULL);
		return;
	}
	relay_request(c, l, tx, m);
}

/* ---- a new INVITE ---- */

static void job_run(struct base_pool_job *job);

/* Whether host (from a Request-URI, with port: 0 when none) is ours for a
 * caller of domain: an address we listen on is ours on our port only. */
static bool host_is_ours(const struct call_engine *e, struct sip_str host,
			 unsigned port, const char *domain)
{
	if (sip_str_ieq(host, domain))
		return true;
	for (unsigned i = 0; i < e->o.nlisten; i++)
		if (sip_str_ieq(host, e->o.listen_hosts[i]))
			return !port || port == e->port;
	return false;
}

static void source_of(const struct sip_peer *from, char *ip, size_t ipcap,
		      char *src, size_t srccap)
{
	unsigned port;

	base_addr_ip((const struct sockaddr *)&from->addr, ip, ipcap);
	port = ntohs(from->addr.ss_family == AF_INET6
			 ? ((const struct sockaddr_in6 *)&from->addr)->sin6_port
			 : ((const struct sockaddr_in *)&from->addr)->sin_port);
	snprintf(src, srccap,
		 from->addr.ss_family == AF_INET6 ? "[%s]:%u" : "%s:%u", ip,
		 port);
}

/* Sends 407 with a challenge for q (nothing past the challenge rate). */
static void challenge(struct call_engine *e, struct sip_tsx *tx,
		      const struct sip_auth_req *q, bool stale)
{
	char h[HDRS_MAX];
	struct sip_buf b;

	sip_buf_init(&b, h, sizeof(h));
	if (sip_auth_challenge(e->o.auth, q, stale, &b) || b.err) {
		call_respond(e, tx, 503, NULL, "Retry-After: 1\r\n");
		return;
	}
	if (b.len < sizeof(h))
		h[b.len] = '\0';
	call_respond(e, tx, 407, NULL, h);
}

/* Fills q for INVITE m from `from`; false (after answering) when bad. */
static bool auth_req(struct call_engine *e, struct sip_tsx *tx,
		     const struct sip_msg *m, const struct sip_peer *from,
		     struct sip_auth_req *q, char *ip, size_t ipcap, char *src,
		     size_t srccap)
{
	memset(q, 0, sizeof(*q));
	source_of(from, ip, ipcap, src, srccap);
	q->m = m;
	q->proxy = true;
	q->md5_last = from->proto == SIP_WS || from->proto == SIP_WSS;
	q->src_ip = ip;
	q->src = src;
	if (!realm_of(m->from.uri.host, q->realm, sizeof(q->realm)) ||
	    !copy_str(m->from.uri.user, q->user, sizeof(q->user)) ||
	    !q->user[0]) {
		call_respond(e, tx, 400, "Bad From URI", NULL);
		return false;
	}
	return true;
}

static void on_invite(struct call_engine *e, struct sip_tsx *tx,
		      const struct sip_msg *m, const struct sip_peer *from,
		      const char *raw, size_t rawlen)
{
	struct sip_auth_req q;
	char ip[64], src[80];
	struct call *c;
	struct call_job *j;

	if (m->max_forwards == 0) {
		call_respond(e, tx, 483, NULL, NULL);
		return;
	}
	if (sip_str_eq(m->method, "MESSAGE") && m->body.n > MESSAGE_MAX) {
		call_respond(e, tx, 413, NULL, NULL);
		return;
	}
	if (!auth_req(e, tx, m, from, &q, ip, sizeof(ip), src, sizeof(src)))
		return;
	if (sip_auth_ignored(e->o.auth, ip, NULL) ||
	    sip_auth_ignored(e->o.auth, ip, q.user)) {
		call_respond(e, tx, 403, NULL, NULL);
		return;
	}
	switch (sip_auth_prepare(e->o.auth, &q)) {
	case SIP_AUTH_CHALLENGE:
		challenge(e, tx, &q, false);
		return;
	case SIP_AUTH_FORBIDDEN:
		call_respond(e, tx, 403, NULL, NULL);
		return;
	case SIP_AUTH_CHECK:
		break;
	}
	if (e->ncalls >= e->o.calls_max || e->stopped) {
		call_unavailable(e, tx);
		return;
	}
	c = calloc(1, sizeof(*c));
	j = malloc(sizeof(*j) + rawlen);
	if (!c || !j || base_id_uuid(c->a.uuid, sizeof(c->a.uuid))) {
		free(c);
		free(j);
		call_respond(e, tx, 500, NULL, NULL);
		return;
	}
	c->e = e;
	c->state = CALL_AUTH;
	c->is_message = sip_str_eq(m->method, "MESSAGE");
	c->a.own = OWN_LEG;
	c->a.c = c;
	c->a.is_a = true;
	c->a.inv = tx;
	c->a.start_ms = now_ms();
	c->a.proto = from->proto;
	c->a.peer = *from; /* in-dialog requests go where it came from */
	c->max_forwards =
	    (m->max_forwards < 0 ? SIP_MAX_FORWARDS : m->max_forwards) - 1;
	snprintf(c->from_user, sizeof(c->from_user), "%s", q.user);
	snprintf(c->domain, sizeof(c->domain), "%s", q.realm);
	c->a.invite = malloc(rawlen);
	if (!c->a.invite) {
		free(c);
		free(j);
		call_respond(e, tx, 500, NULL, NULL);
		return;
	}
	memcpy(c->a.invite, raw, rawlen);
	c->a.invite_len = rawlen;
	link_call(&e->calls, c);
	__atomic_add_fetch(&e->ncalls, 1, __ATOMIC_RELAXED);
	metric_add(&call_setups, c->is_message, 0, 1);
	sip_tsx_set_user(tx, &c->a);
	c->refs++; /* the A leg's transaction */

	job_clear(j);
	j->e = e;
	j->c = c;
	j->deadline_ms = now_ms() + e->o.store_timeout_ms;
	memcpy(j->src_ip, ip, sizeof(j->src_ip));
	memcpy(j->src, src, sizeof(j->src));
	j->host_ours = host_is_ours(e, m->ruri.host, m->ruri.port, q.realm);
	j->len = rawlen;
	memcpy(j->msg, raw, rawlen);
	c->refs++; /* the job */
	if (base_pool_submit(e->pool, &j->job, job_run)) {
		free(j);
		c->refs--;
		call_unavailable(e, tx);
		call_end(c, MODEL_CAUSE_NORMAL_TEMPORARY_FAILURE,
			 MODEL_SOURCE_ERROR);
	}
}

/* ---- the store job (on a worker) ---- */

/* Whether s looks like an application id (digits only). */
static bool looks_like_app_id(const char *s)
{
	if (!*s)
		return false;
	for (; *s; s++)
		if (*s < '0' || *s > '9')
			return false;
	return true;
}

static void job_run(struct base_pool_job *job)
{
	struct call_job *j = (struct call_job *)job;
	struct call_engine *e = j->e;
	struct sip_msg *m = malloc(sizeof(*m));
	struct sip_auth_req q;
	struct model_account acct = {0};
	char ruser[MODEL_USERNAME_MAX + 1];
	const char *ha1[2] = {NULL, NULL};
	int err;

	j->verdict = SIP_AUTH_FAIL;
	if (!m || sip_msg_parse(m, j->msg, j->len)) {
		j->err = ENOMEM;
		goto out;
	}
	if (now_ms() >= j->deadline_ms) {
		j->err = ETIMEDOUT;
		goto out;
	}
	base_deadline_set(j->deadline_ms);
	memset(&q, 0, sizeof(q));
	q.m = m;
	q.proxy = true;
	q.src_ip = j->src_ip;
	q.src = j->src;
	if (!realm_of(m->from.uri.host, q.realm, sizeof(q.realm)) ||
	    !copy_str(m->from.uri.user, q.user, sizeof(q.user)) ||
	    sip_auth_prepare(e->o.auth, &q) != SIP_AUTH_CHECK)
		goto done; /* FAIL: challenged again */
	err = svc_sip_party(e->svc, q.user, q.realm, false, &j->caller);
	if (err && err != ENOENT) {
		j->err = err;
		goto done;
	}
	if (!err) {
		ha1[0] = j->caller.ep.ha1_md5;
		ha1[1] = j->caller.ep.ha1_sha256;
	}
	j->verdict = sip_auth_verify(e->o.auth, &q, ha1[0], ha1[1]);
	if (j->verdict == SIP_AUTH_ERROR)
		j->err = q.err ? q.err : EIO;
	base_wipe(j->caller.ep.ha1_md5, sizeof(j->caller.ep.ha1_md5));
	base_wipe(j->caller.ep.ha1_sha256, sizeof(j->caller.ep.ha1_sha256));
	if (j->verdict != SIP_AUTH_OK || !j->host_ours)
		goto done;
	j->target_ok = ENOENT;
	if (!copy_str(m->ruri.user, ruser, sizeof(ruser)) || !ruser[0])
		goto done;
	acct.id = j->caller.ep.account_id;
	if (looks_like_app_id(ruser) &&
	    svc_app_get(e->svc, &acct, ruser, &j->app) == 0)
		j->is_app = j->has_app = true;
	err = svc_sip_party(e->svc, ruser, q.realm, true, &j->callee);
	if (err && err != ENOENT)
		j->err = err;
	j->target_ok = err;
	base_wipe(j->callee.ep.ha1_md5, sizeof(j->callee.ep.ha1_md5));
	base_wipe(j->callee.ep.ha1_sha256, sizeof(j->callee.ep.ha1_sha256));
	/* The caller's application, when the target is not one. */
	if (!j->has_app && j->caller.ep.app.app_id[0] &&
	    svc_app_get(e->svc, &acct, j->caller.ep.app.app_id, &j->app) == 0)
		j->has_app = true;
	if (j->has_app && svc_account_signing_token(e->svc, acct.id, j->token,
						    sizeof(j->token)))
		j->token[0] = '\0'; /* unsigned, logged by the engine */
done:
	base_deadline_set(0);
out:
	free(m);
	call_job_done(j);
}

/* ---- the job's result (engine thread) ---- */

/* Rings every live binding of the callee but the one that called. */
static void ring(struct call *c, const struct sip_msg *am,
		 const struct call_job *j)
{
	struct call_engine *e = c->e;
	const struct svc_bindings *bs = &j->callee.bindings;
	bool video_off = !j->callee.ep.allow[MODEL_ALLOW_VIDEO];
	unsigned started = 0;

	c->state = CALL_RINGING;
	call_timer_set(c, &c->ring_end_ms,
		       now_ms() + (int64_t)e->o.ring_timeout_s * 1000);
	for (unsigned i = 0; i < bs->n && c->state == CALL_RINGING; i++) {
		struct sip_peer p;
		const char *route;
		enum sip_proto proto;
		if (binding_peer(e, &bs->b[i], &p, &proto, &route))
			continue;
		/* A call to oneself rings one's other phones only. */
		if (j->callee.ep.id == j->caller.ep.id &&
		    p.addrlen == c->a.peer.addrlen &&
		    memcmp(&p.addr, &c->a.peer.addr, p.addrlen) == 0)
			continue;
		if (call_start_b(c, am, &bs->b[i], j->callee.ep.username,
				 video_off) == 0)
			started++;
	}
	if (c->state != CALL_RINGING)
		return; /* the legs failed at once, and answered for */
	if (!started) {
		call_respond(e, c->a.inv, 480, NULL, NULL);
		call_end(c, MODEL_CAUSE_USER_NOT_REGISTERED,
			 MODEL_SOURCE_ERROR);
		return;
	}
	if (call_b_failed(c)) {
		unsigned code = call_best_final(c);
		call_respond(e, c->a.inv, code, NULL, NULL);
		call_end(c, call_outcome_cause(code), MODEL_SOURCE_ERROR);
	}
}

/* ---- calls to other domains (RFC 3263) ---- */

/* Where a direct call to another domain goes: the dialled URI, and the
 * servers found for it, tried one after the other. */
struct call_far {
	char ruri[MODEL_CONTACT_URI_MAX + 1]; /* sip:U@H[:PORT] */
	unsigned n, next;
	struct sip_peer t[SIP_RESOLVE_TARGETS];
};

/* A resolution under way: its own allocation, as the call may end first. */
struct far_job {
	struct sip_resolve_query q; /* first */
	struct call_engine *e;
	struct call *c;
};

/* Whether a Request-URI's user part (n bytes, hostile) may be passed on:
 * RFC 3261's unreserved and user-unreserved characters and %HH escapes,
 * at most 128 bytes. */
static bool far_user_ok(const char *s, size_t n)
{
	if (n > 128)
		return false;
	for (size_t i = 0; i < n; i++) {
		unsigned char ch = (unsigned char)s[i];
		if (isalnum(ch) || (ch && strchr("-_.!~*'()&=+$,;?/", ch)))
			continue;
		if (ch == '%' && i + 2 < n &&
		    isxdigit((unsigned char)s[i + 1]) &&
		    isxdigit((unsigned char)s[i + 2])) {
			i += 2;
			continue;
		}
		return false;
	}
	return true;
}

/* The transport parameter of a URI's parameters: -1 when none, SIP_UDP,
 * SIP_TCP, or -2 for another (TLS, SCTP, WS). */
static int far_transport(struct sip_str params)
{
	const char *p = params.p, *end = params.p + params.n;

	while (p && p < end) {
		const char *q = memchr(p, ';', (size_t)(end - p));
		size_t k;
		if (!q)
			q = end;
		k = (size_t)(q - p);
		if (k > 10 && strncasecmp(p, "transport=", 10) == 0) {
			struct sip_str v = {p + 10, k - 10};
			return sip_str_ieq(v, "udp")   ? SIP_UDP
			       : sip_str_ieq(v, "tcp") ? SIP_TCP
						       : -2;
		}
		p = q + 1;
	}
	return -1;
}

/* Whether p is sipward itself (an address we listen on, our port). */
static bool far_is_us(const struct call_engine *e, const struct sip_peer *p)
{
	unsigned port =
	    ntohs(p->addr.ss_family == AF_INET6
		      ? ((const struct sockaddr_in6 *)&p->addr)->sin6_port
		      : ((const struct sockaddr_in *)&p->addr)->sin_port);
	char ip[64];

	if (port != e->port)
		return false;
	base_addr_ip((const struct sockaddr *)&p->addr, ip, sizeof(ip));
	for (unsigned i = 0; i < e->o.nlisten; i++)
		if (strcasecmp(ip, e->o.listen_hosts[i]) == 0)
			return true;
	return false;
}

/* Whether p is an address of the operator's own network that calls to
 * other domains may not reach (sip_allow_private_domains). */
static bool far_private(const struct call_engine *e, const struct sip_peer *p)
{
	return !e->o.far_allow_private &&
	       app_addr_private((const struct sockaddr *)&p->addr);
}

/* Every server of the other domain was refused: sipward itself (a loop,
 * 482) or private addresses (403). */
static void far_refuse(struct call *c, bool private)
{
	call_respond(c->e, c->a.inv, private ? 403 : 482,
		     private ? "Private addresses not reachable" : NULL, NULL);
	call_end(c,
		 private ? MODEL_CAUSE_FORBIDDEN
			 : MODEL_CAUSE_NORMAL_TEMPORARY_FAILURE,
		 MODEL_SOURCE_ERROR);
}

/* Starts a B leg to server p of the other domain; 0 or an errno. */
static int far_leg(struct call *c, const struct sip_msg *am,
		   const struct sip_peer *p)
{
	struct model_binding *bd = calloc(1, sizeof(*bd));
	char ip[64];
	int err;

	if (!bd)
		return ENOMEM;
	source_of(p, ip, sizeof(ip), bd->received, sizeof(bd->received));
	snprintf(bd->contact, sizeof(bd->contact), "%s", c->far->ruri);
	/* UDP, and the To is the dialled URI (see call_start_b). */
	snprintf(bd->transport, sizeof(bd->transport), "FAR");
	LOG_INFO("call_other_domain_try", "call_uuid=%s server=%s", c->a.uuid,
		 bd->received);
	err = call_start_b(c, am, bd, c->far->ruri, false);
	free(bd);
	return err;
}

/*
 * Rings the next server of c's other domain until one takes the INVITE (a
 * server that cannot be sent to fails at once). True when the call was
 * taken care of: a leg is out, or the call ended meanwhile.
 */
static bool far_try(struct call *c)
{
	struct call_far *f = c->far;
	struct sip_msg *am = malloc(sizeof(*am));
	char *mem = NULL;
	bool done = false;

	if (!am || call_parse_copy(c->a.invite, c->a.invite_len, am, &mem))
		goto out;
	while (c->state == CALL_RINGING && f->next < f->n) {
		far_leg(c, am, &f->t[f->next++]);
		if (c->state != CALL_RINGING || !call_b_failed(c))
			break;
	}
	done = c->state != CALL_RINGING || !call_b_failed(c);
out:
	free(mem);
	free(am);
	return done;
}

/* The server tried last failed: the next one when RFC 3263 4.3 says so (a
 * timeout, 503); true when the call was taken care of. */
static bool far_next(struct call *c)
{
	struct call_far *f = c->far;

	if (!f || f->next >= f->n || !c->b ||
	    (c->b->final != 503 && c->b->final != 408))
		return false;
	return far_try(c);
}

/* The servers of c's other domain are known (engine thread). */
static void far_done(struct call_engine *e, void *arg)
{
	struct far_job *j = arg;
	struct call *c = j->c;
	struct call_far *f = c->far;
	bool us = false, private = false;
	char qh[300];

	if (c->state != CALL_RINGING || e->stopped || !f)
		goto out; /* ended meanwhile: cancelled, timed out, API */
	LOG_INFO("call_other_domain_dns",
		 "call_uuid=%s host=%s error=%d servers=%u queries=%u",
		 c->a.uuid, base_log_quote(j->q.host, qh, sizeof(qh)), j->q.err,
		 j->q.n, j->q.queries);
	if (j->q.err) {
		bool gone = j->q.err == ENOENT;
		call_respond(e, c->a.inv, gone ? 404 : 503,
			     gone ? "Domain not found" : "DNS lookup failed",
			     NULL);
		call_end(c,
			 gone ? MODEL_CAUSE_UNALLOCATED_NUMBER
			      : MODEL_CAUSE_NORMAL_TEMPORARY_FAILURE,
			 MODEL_SOURCE_ERROR);
		goto out;
	}
	for (unsigned i = 0; i < j->q.n && i < SIP_RESOLVE_TARGETS; i++) {
		if (far_is_us(e, &j->q.t[i]))
			us = true;
		else if (far_private(e, &j->q.t[i]))
		private = true;
		else f->t[f->n++] = j->q.t[i];
	}
	if (!f->n) {
		far_refuse(c, private && !us);
		goto out;
	}
	far_try(c);
	b_all_failed(c);
out:
	free(j);
	call_unref(c); /* the resolution's */
}

/* On a resolver worker: hands the result to the engine thread. */
static void far_resolved(struct sip_resolve_query *q)
{
	struct far_job *j = (struct far_job *)q;

	if (call_post(j->e, far_done, j))
		LOG_ERROR("call_job_lost", "error=ENOMEM");
}

/*
 * A direct call to another domain (calls contract: "a SIP request to the
 * other domain (RFC 3263 host and port)"): the Request-URI checked, then
 * its servers found (a numeric host is its own; a name is looked up on
 * the resolver's workers), then rung one after the other.
 */
static void far_start(struct call *c, const struct sip_msg *am)
{
	char qto[300], qh[300];
	struct call_engine *e = c->e;
	const struct sip_uri *u = &am->ruri;
	enum sip_host_kind hk = sip_host_kind(u->host.p, u->host.n);
	int tr = far_transport(u->params);
	bool v6 = hk == SIP_HOST_IPV6;
	char host[SIP_RESOLVE_HOST_MAX + 2], port[16] = "", addr[96];
	enum model_cause cause = MODEL_CAUSE_UNALLOCATED_NUMBER;
	const char *why = NULL;
	unsigned code = 0;
	struct call_far *f;
	struct far_job *j;

	if (!sip_str_ieq(u->scheme, "sip")) {
		code = 416;
	} else if (hk == SIP_HOST_BAD || !far_user_ok(u->user.p, u->user.n)) {
		code = 400;
		why = "Bad Request-URI";
	} else if (tr != -1 && tr != SIP_UDP) {
		code = 503;
		why = "Only UDP towards other domains";
		cause = MODEL_CAUSE_NORMAL_TEMPORARY_FAILURE;
	} else if (hk != SIP_HOST_NAME &&
		   v6 != (strchr(e->o.via_host, ':') != NULL)) {
		code = 503;
		why = "Address family not reachable";
		cause = MODEL_CAUSE_NORMAL_TEMPORARY_FAILURE;
	}
	f = code ? NULL : calloc(1, sizeof(*f));
	if (!code && !f)
		code = 500;
	if (code) {
		call_respond(e, c->a.inv, code, why, NULL);
		call_end(c, cause, MODEL_SOURCE_ERROR);
		return;
	}
	memcpy(host, u->host.p, u->host.n); /* checked: at most 253 */
	host[u->host.n] = '\0';
	if (u->port)
		snprintf(port, sizeof(port), ":%u", u->port);
	snprintf(f->ruri, sizeof(f->ruri), "sip:%.*s%s%s%s%s%s", (int)u->user.n,
		 u->user.p ? u->user.p : "", u->user.n ? "@" : "",
		 v6 ? "[" : "", host, v6 ? "]" : "", port);
	c->far = f;
	snprintf(c->callee_uri, sizeof(c->callee_uri), "%.256s", f->ruri);
	c->state = CALL_RINGING;
	call_timer_set(c, &c->ring_end_ms,
		       now_ms() + (int64_t)e->o.ring_timeout_s * 1000);
	LOG_INFO("call_started", "call_uuid=%s from=%s to=%s other_domain=%s",
		 c->a.uuid, c->from_user,
		 base_log_quote(f->ruri, qto, sizeof(qto)),
		 base_log_quote(host, qh, sizeof(qh)));
	call_record_live(c);
	if (hk != SIP_HOST_NAME) {
		snprintf(addr, sizeof(addr), v6 ? "[%s]:%u" : "%s:%u", host,
			 u->port ? u->port : 5060);
		if (base_addr_parse(addr, &f->t[0].addr, &f->t[0].addrlen)) {
			call_respond(e, c->a.inv, 400, "Bad Request-URI", NULL);
			call_end(c, cause, MODEL_SOURCE_ERROR);
			return;
		}
		f->t[0].proto = SIP_UDP;
		f->n = 1;
		if (far_is_us(e, &f->t[0]) || far_private(e, &f->t[0])) {
			far_refuse(c, !far_is_us(e, &f->t[0]));
			return;
		}
		far_try(c);
		b_all_failed(c);
		return;
	}
	j = calloc(1, sizeof(*j));
	if (j) {
		j->e = e;
		j->c = c;
		memcpy(j->q.host, host, sizeof(j->q.host));
		j->q.port = u->port;
		j->q.proto = tr;
		c->refs++; /* the resolution's */
	}
	if (!j || sip_resolve(e->dns, &j->q, far_resolved)) {
		if (j)
			c->refs--;
		free(j);
		call_unavailable(e, c->a.inv);
		call_end(c, MODEL_CAUSE_NORMAL_TEMPORARY_FAILURE,
			 MODEL_SOURCE_ERROR);
	}
}

/* A direct call to a phone number: through the carrier, or 404. */
static void ring_gateway(struct call *c, const struct sip_msg *am)
{
	struct call_engine *e = c->e;
	char qto[300];

	if (!e->o.gw_host[0]) {
		call_respond(e, c->a.inv, 404, "No sip_gateway configured",
			     NULL);
		call_end(c, MODEL_CAUSE_UNALLOCATED_NUMBER, MODEL_SOURCE_ERROR);
		return;
	}
	snprintf(c->callee_uri, sizeof(c->callee_uri), "%s", c->to);
	LOG_INFO("call_started", "call_uuid=%s from=%s to=%s gateway=%s",
		 c->a.uuid, c->from_user,
		 base_log_quote(c->to, qto, sizeof(qto)), e->o.gw_host);
	c->state = CALL_RINGING;
	call_timer_set(c, &c->ring_end_ms,
		       now_ms() + (int64_t)e->o.ring_timeout_s * 1000);
	if (call_start_gw(c, am, c->to)) {
		call_respond(e, c->a.inv, 500, NULL, NULL);
		call_end(c, MODEL_CAUSE_NORMAL_TEMPORARY_FAILURE,
			 MODEL_SOURCE_ERROR);
		return;
	}
	if (c->state != CALL_RINGING)
		return;
	call_record_live(c);
	b_all_failed(c);
}

/* Calls of c's account in progress on this node, c included. */
static unsigned account_calls(const struct call *c)
{
	unsigned n = 0;

	for (const struct call *o = c->e->calls; o; o = o->next)
		if (o->account_ref == c->account_ref && !o->is_message &&
		    o->state != CALL_ENDED)
			n++;
	return n;
}

/* Decides where the authenticated call goes. */
static void route(struct call *c, const struct call_job *j)
{
	struct call_engine *e = c->e;
	const struct model_endpoint *ep = &j->caller.ep;
	struct sip_msg *am = malloc(sizeof(*am));
	char *mem = NULL;
	enum call_target k;
	enum model_allow f;

	if (!am || call_parse_copy(c->a.invite, c->a.invite_len, am, &mem)) {
		call_respond(e, c->a.inv, 500, NULL, NULL);
		call_end(c, MODEL_CAUSE_NORMAL_TEMPORARY_FAILURE,
			 MODEL_SOURCE_ERROR);
		goto out;
	}
	memcpy(c->alias, ep->alias, sizeof(c->alias));
	memcpy(c->endpoint_id, ep->endpoint_id, sizeof(c->endpoint_id));
	c->account_ref = ep->account_id;
	c->endpoint_ref = ep->id;
	snprintf(c->to, sizeof(c->to), "sip:%.*s@%.*s",
		 (int)(am->ruri.user.n < 200 ? am->ruri.user.n : 200),
		 am->ruri.user.p ? am->ruri.user.p : "",
		 (int)(am->ruri.host.n < 50 ? am->ruri.host.n : 50),
		 am->ruri.host.p ? am->ruri.host.p : "");
	c->a.video_off = !ep->allow[MODEL_ALLOW_VIDEO];
	if (account_calls(c) > e->o.calls_max_per_account) {
		LOG_WARN("calls_max_per_account", "account_ref=%lld calls=%u",
			 (long long)c->account_ref, e->o.calls_max_per_account);
		call_unavailable(e, c->a.inv);
		call_end(c, MODEL_CAUSE_NORMAL_TEMPORARY_FAILURE,
			 MODEL_SOURCE_ERROR);
		goto out;
	}
	if (!ep->allow[MODEL_ALLOW_VOICE]) {
		call_refuse_flag(e, c->a.inv, MODEL_ALLOW_VOICE);
		call_end(c, MODEL_CAUSE_FORBIDDEN, MODEL_SOURCE_ERROR);
		goto out;
	}
	k = call_target_classify(j->host_ours, j->is_app, j->target_ok == 0,
				 am->ruri.user.p ? am->ruri.user.p : "",
				 am->ruri.user.n);
	if (k == CALL_TARGET_PHONE)
		snprintf(c->to, sizeof(c->to), "%.*s", (int)am->ruri.user.n,
			 am->ruri.user.p);
	if (k == CALL_TARGET_NONE) {
		call_respond(e, c->a.inv, 404, NULL, NULL);
		call_end(c, MODEL_CAUSE_UNALLOCATED_NUMBER, MODEL_SOURCE_ERROR);
		goto out;
	}
	f = call_target_flag(k);
	if (!ep->allow[f]) {
		call_refuse_flag(e, c->a.inv, f);
		call_end(c, MODEL_CAUSE_FORBIDDEN, MODEL_SOURCE_ERROR);
		goto out;
	}
	c->allow_same_domain = ep->allow[MODEL_ALLOW_SAME_DOMAIN];
	c->allow_phones = ep->allow[MODEL_ALLOW_PHONES];
	snprintf(c->b_user, sizeof(c->b_user), "%s", c->from_user);
	memcpy(c->b_name, c->alias, sizeof(c->b_name));
	if (j->has_app) {
		call_app_start(c, j);
		goto out;
	}
	if (k == CALL_TARGET_PHONE) {
		ring_gateway(c, am);
		goto out;
	}
	if (k == CALL_TARGET_OTHER_DOMAIN) {
		far_start(c, am);
		goto out;
	}
	if (!j->callee.ep.allow[MODEL_ALLOW_VOICE]) {
		call_refuse_flag(e, c->a.inv, MODEL_ALLOW_VOICE);
		call_end(c, MODEL_CAUSE_FORBIDDEN, MODEL_SOURCE_ERROR);
		goto out;
	}
	c->callee_ref = j->callee.ep.id;
	memcpy(c->callee_id, j->callee.ep.endpoint_id, sizeof(c->callee_id));
	snprintf(c->callee_uri, sizeof(c->callee_uri), "sip:%.64s@%.180s",
		 j->callee.ep.username, c->domain);
	LOG_INFO("call_started",
		 "call_uuid=%s from=%s to=%s domain=%s bindings=%u", c->a.uuid,
		 c->from_user, j->callee.ep.username, c->domain,
		 j->callee.bindings.n);
	ring(c, am, j);
	if (c->state == CALL_RINGING)
		call_record_live(c);
out:
	free(mem);
	free(am);
}

void call_on_job_done(struct call_engine *e, struct call_job *j)
{
	struct call *c = j->c;
	struct sip_auth_req q;
	char ip[64], src[80];
	struct sip_msg *m = NULL;
	char *mem = NULL;

	if (c->state != CALL_AUTH || !c->a.inv || e->stopped) {
		if (c->state == CALL_AUTH) {
			call_respond(e, c->a.inv, 503, NULL, NULL);
			call_end(c, MODEL_CAUSE_NORMAL_TEMPORARY_FAILURE,
				 MODEL_SOURCE_ERROR);
		}
		goto out;
	}
	if (j->err) {
		LOG_WARN("call_store_unavailable", "call_uuid=%s error=%d",
			 c->a.uuid, j->err);
		call_unavailable(e, c->a.inv);
		call_end(c, MODEL_CAUSE_NORMAL_TEMPORARY_FAILURE,
			 MODEL_SOURCE_ERROR);
		goto out;
	}
	if (j->verdict != SIP_AUTH_OK) {
		m = malloc(sizeof(*m));
		if (m &&
		    !call_parse_copy(c->a.invite, c->a.invite_len, m, &mem) &&
		    auth_req(e, c->a.inv, m, &c->a.peer, &q, ip, sizeof(ip),
			     src, sizeof(src)))
			challenge(e, c->a.inv, &q,
				  j->verdict == SIP_AUTH_STALE);
		else
			call_respond(e, c->a.inv, 500, NULL, NULL);
		call_end(c, MODEL_CAUSE_FORBIDDEN, MODEL_SOURCE_ERROR);
		goto out;
	}
	if (c->is_message)
		route_message(c, j);
	else
		route(c, j);
out:
	free(mem);
	free(m);
	base_wipe(&j->caller, sizeof(j->caller));
	base_wipe(j->token, sizeof(j->token));
	free(j);
	call_unref(c); /* the job's */
}

/* ---- transaction events ---- */

static bool is_cancel_tx(const struct sip_tsx *tx)
{
	return tx && strcmp(sip_tsx_method(tx), "CANCEL") == 0;
}

/* A request that starts no dialog of ours and is not an INVITE. */
static void on_other_request(struct call_engine *e, struct sip_tsx *tx,
			     const struct sip_msg *m)
{
	if (sip_str_eq(m->method, "BYE") || m->to.tag.p)
		call_respond(e, tx, 481, NULL, NULL);
	else
		call_respond(e, tx, 405, NULL, SIP_ALLOW_HDR);
}

static void on_request(struct call_engine *e, const struct sip_tsx_event *ev)
{
	const struct sip_msg *m = ev->msg;

	if (m->to.tag.p) {
		char key[SIP_DIALOG_ID_MAX];
		size_t n = sip_dialog_key(m, key, sizeof(key));
		struct call_leg *l = n ? call_dmap_find(e, key, n) : NULL;
		if (!l) {
			call_respond(e, ev->tx, 481, NULL, NULL);
			return;
		}
		on_dialog_request(e, l, ev->tx, m);
		return;
	}
	if (sip_str_eq(m->method, "INVITE") || sip_str_eq(m->method, "MESSAGE"))
		on_invite(e, ev->tx, m, ev->peer, e->raw, e->raw_len);
	else
		on_other_request(e, ev->tx, m);
}

/* A 2xx to an INVITE whose transaction has ended: ACK it again. */
static void on_stray_response(struct call_engine *e, const struct sip_msg *m)
{
	char key[SIP_DIALOG_ID_MAX];
	int n;
	struct call_leg *l;

	if (m->status < 200 || m->status >= 300 ||
	    !sip_str_eq(m->cseq_method, "INVITE") || !m->from.tag.p ||
	    !m->to.tag.p)
		return;
	n = snprintf(key, sizeof(key), "%.*s|%.*s|%.*s", (int)m->call_id.n,
		     m->call_id.p, (int)m->from.tag.n, m->from.tag.p,
		     (int)m->to.tag.n, m->to.tag.p);
	if (n <= 0 || (size_t)n >= sizeof(key))
		return;
	l = call_dmap_find(e, key, (size_t)n);
	if (l && l->ack)
		sip_transport_send(e->t, &l->peer, l->ack, l->ack_len);
}

static void on_ack(struct call_engine *e, const struct sip_tsx_event *ev)
{
	struct call_leg *l = NULL;

	if (ev->tx) {
		struct call_leg *u = sip_tsx_user(ev->tx);
		if (u && u->own == OWN_LEG)
			l = u;
	} else {
		char key[SIP_DIALOG_ID_MAX];
		size_t n = sip_dialog_key(ev->msg, key, sizeof(key));
		l = n ? call_dmap_find(e, key, n) : NULL;
	}
	if (l && l->is_a) {
		l->c->retx_on = false;
		if (l->c->bye_after_ack && l->c->state == CALL_UP) {
			/* The callee hung up meanwhile: now the caller. */
			call_send_bye(e, &l->c->a);
			call_end(l->c, MODEL_CAUSE_NORMAL_CLEARING,
				 MODEL_SOURCE_CALLEE);
		}
	}
}

static void on_terminated(struct sip_tsx *tx)
{
	enum owner *own = sip_tsx_user(tx);
	struct relay *rl;
	struct call_leg *l;

	if (!own || is_cancel_tx(tx))
		return;
	if (*own == OWN_RELAY) {
		rl = (struct relay *)own;
		if (rl->srv == tx)
			rl->srv = NULL;
		if (rl->cli == tx)
			rl->cli = NULL;
		if (--rl->refs == 0) {
			struct call *c = rl->c;
			for (struct relay **p = &c->relays; *p; p = &(*p)->next)
				if (*p == rl) {
					*p = rl->next;
					break;
				}
			free(rl);
			call_unref(c);
		} else {
			call_unref(rl->c);
		}
		return;
	}
	l = (struct call_leg *)own;
	if (l->inv != tx)
		return;
	l->inv = NULL;
	call_unref(l->c);
}

void call_on_tsx_event(struct call_engine *e, const struct sip_tsx_event *ev)
{
	enum owner *own =
	    ev->tx && !is_cancel_tx(ev->tx) ? sip_tsx_user(ev->tx) : NULL;
	struct call_leg *l =
	    own && *own == OWN_LEG ? (struct call_leg *)own : NULL;
	struct relay *rl =
	    own && *own == OWN_RELAY ? (struct relay *)own : NULL;

	switch (ev->type) {
	case SIP_TSX_EV_REQUEST:
		on_request(e, ev);
		break;
	case SIP_TSX_EV_RESPONSE:
		if (!ev->tx)
			on_stray_response(e, ev->msg);
		else if (rl)
			on_relay_response(rl, ev->tx, ev->msg);
		else if (l && !l->is_a && l->c->is_message)
			on_msg_response(l->c, l, ev->msg);
		else if (l && !l->is_a)
			on_b_response(l->c, l, ev->msg);
		break;
	case SIP_TSX_EV_ACK:
		on_ack(e, ev);
		break;
	case SIP_TSX_EV_CANCEL:
		if (l && l->is_a && l->c->state != CALL_UP &&
		    l->c->state != CALL_ENDED) {
			l->c->caller_cancelled = true;
			call_cancel_b(l->c, NULL);
			call_end(l->c, MODEL_CAUSE_ORIGINATOR_CANCEL,
				 MODEL_SOURCE_CALLER);
		}
		break;
	case SIP_TSX_EV_TIMEOUT:
	case SIP_TSX_EV_ERROR:
		/* A send that failed (no connection to a TCP binding):
		 * the phone is unreachable, 480. */
		if (l && !l->is_a && l->inv == ev->tx)
			on_b_failed(l->c, l,
				    ev->type == SIP_TSX_EV_TIMEOUT ? 408 : 480);
		else if (rl && rl->cli == ev->tx && rl->srv)
			call_respond(e, rl->srv,
				     ev->type == SIP_TSX_EV_TIMEOUT ? 408 : 503,
				     NULL, NULL);
		break;
	case SIP_TSX_EV_TERMINATED:
		on_terminated(ev->tx);
		break;
	}
}

/* ---- timers ---- */

/* The earliest of c's timers, or SIP_TSX_NEVER. */
static int64_t call_due(const struct call *c)
{
	int64_t next = SIP_TSX_NEVER;

	if (c->ring_end_ms && c->ring_end_ms < next)
		next = c->ring_end_ms;
	if (c->retx_on && c->retx.next_ms < next)
		next = c->retx.next_ms;
	if (c->wait_end_ms && c->wait_end_ms < next)
		next = c->wait_end_ms;
	if (c->limit_end_ms && c->limit_end_ms < next)
		next = c->limit_end_ms;
	return next;
}

void call_timer_set(struct call *c, int64_t *timer, int64_t when_ms)
{
	*timer = when_ms;
	call_timer_arm(c);
}

void call_timer_arm(struct call *c)
{
	if (call_theap_set(c->e, c, call_due(c)))
		LOG_ERROR("call_timer_lost", "call_uuid=%s error=ENOMEM",
			  c->a.uuid);
}

int64_t call_next_timer(struct call_engine *e)
{
	/* The polling of hangups asked through the API (record.c) too. */
	int64_t next =
	    e->next_poll_ms && !e->polling ? e->next_poll_ms : SIP_TSX_NEVER;
	int64_t t = call_theap_next(e);

	return t < next ? t : next;
}

/*
 * Runs c's timers that are due. A timer that expires in a state it does
 * not apply to (a ring timeout after the answer) is dropped.
 */
static void run_timers(struct call *c, int64_t now)
{
	struct call_engine *e = c->e;

	if (c->ring_end_ms && now >= c->ring_end_ms) {
		c->ring_end_ms = 0;
		if (c->state == CALL_RINGING) {
			call_cancel_b(c, NULL);
			if (c->app) {
				call_app_dial_failed(c, 480, true);
			} else {
				call_respond(e, c->a.inv, 480, NULL, NULL);
				call_end(c, MODEL_CAUSE_NO_ANSWER,
					 MODEL_SOURCE_CALLEE);
			}
		}
	}
	if (c->wait_end_ms && now >= c->wait_end_ms) {
		c->wait_end_ms = 0;
		if (c->state == CALL_APP)
			call_app_wait_over(c);
	}
	if (c->limit_end_ms && now >= c->limit_end_ms) {
		c->limit_end_ms = 0;
		if (c->state == CALL_UP) {
			for (struct call_leg *l = c->b; l; l = l->next)
				if (l->state == LEG_UP)
					call_send_bye(e, l);
			call_send_bye(e, &c->a);
			call_end(c, MODEL_CAUSE_ALLOTTED_TIMEOUT,
				 MODEL_SOURCE_XML);
		}
	}
	if (c->retx_on && now >= c->retx.next_ms) {
		int r = sip_tsx_retx_poll(&c->retx, now);
		if (r == 1 && c->ok && c->a.inv && c->a.proto == SIP_UDP)
			sip_transport_send(e->t, sip_tsx_peer(c->a.inv), c->ok,
					   c->ok_len);
		else if (r == ETIMEDOUT ||
			 (r == 1 && !c->a.inv && c->a.proto == SIP_UDP)) {
			/* No ACK: the caller is gone. */
			c->retx_on = false;
			for (struct call_leg *l = c->b; l; l = l->next)
				if (l->state == LEG_UP && !c->bye_after_ack)
					call_send_bye(e, l);
			call_send_bye(e, &c->a);
			call_end(c, MODEL_CAUSE_NORMAL_TEMPORARY_FAILURE,
				 MODEL_SOURCE_ERROR);
		}
	}
}

void call_run_timers(struct call_engine *e, int64_t now)
{
	struct call *due = NULL, *c;

	/* Every call due, out of the heap first: each runs once a pass. */
	while ((c = call_theap_pop(e, now))) {
		c->refs++; /* kept while its timers run */
		c->tnext = due;
		due = c;
	}
	while ((c = due)) {
		due = c->tnext;
		run_timers(c, now);
		if (c->state != CALL_ENDED)
			call_timer_arm(c);
		call_unref(c);
	}
}

void call_hangup_api(struct call *c)
{
	struct call_engine *e = c->e;

	c->refs++;
	switch (c->state) {
	case CALL_AUTH:
	case CALL_APP:
	case CALL_RINGING:
		call_cancel_b(c, NULL);
		call_respond(e, c->a.inv, 480, "Hung up through the API", NULL);
		call_end(c, MODEL_CAUSE_NORMAL_CLEARING, MODEL_SOURCE_API);
		break;
	case CALL_UP:
		for (struct call_leg *l = c->b; l; l = l->next)
			if (l->state == LEG_UP)
				call_send_bye(e, l);
		call_send_bye(e, &c->a);
		call_end(c, MODEL_CAUSE_NORMAL_CLEARING, MODEL_SOURCE_API);
		break;
	case CALL_ENDED:
		break;
	}
	call_unref(c);
}

/* Shutting down: every call ends now. */
void call_end_all(struct call_engine *e)
{
	struct call *c, *nx;

	for (c = e->calls; c; c = nx) {
		nx = c->next; /* ending c moves it to the ended list */
		c->refs++;
		switch (c->state) {
		case CALL_AUTH:
			break; /* the job's result ends it */
		case CALL_APP:
		case CALL_RINGING:
			call_cancel_b(c, NULL);
			call_unavailable(e, c->a.inv);
			call_end(c, MODEL_CAUSE_NORMAL_TEMPORARY_FAILURE,
				 MODEL_SOURCE_ERROR);
			break;
		case CALL_UP:
			for (struct call_leg *l = c->b; l; l = l->next)
				if (l->state == LEG_UP)
					call_send_bye(e, l);
			call_send_bye(e, &c->a);
			call_end(c, MODEL_CAUSE_NORMAL_CLEARING,
				 MODEL_SOURCE_ERROR);
			break;
		case CALL_ENDED:
			break;
		}
		call_unref(c);
	}
}

/* Frees every call left (the transaction table is freed next). */
void call_free_all(struct call_engine *e)
{
	while (e->calls) /* each moves to the ended list */
		call_end(e->calls, MODEL_CAUSE_NORMAL_TEMPORARY_FAILURE,
			 MODEL_SOURCE_ERROR);
	while (e->ended) {
		struct call *c = e->ended;
		c->refs = 0;
		maybe_free(c);
	}
}
