/*
 * media.c - a B leg's media through rtpengine (calls.md "WebRTC"): which
 * legs need it, and the offer, answer and delete requests, each made on
 * the engine's media worker (media/rtpe.h blocks) and finished on the
 * engine thread by call.c (call_b_offered, call_b_answered).
 */
#include <errno.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "base/log.h"
#include "base/time.h"
#include "call/internal.h"

/*
 * After a request got no answer, the requests queued behind it fail at
 * once for this long rather than wait rtpengine_timeout each; the first
 * one after it tries again.
 */
#define DOWN_MS 5000

enum media_op { M_OFFER, M_ANSWER, M_DELETE };

/* One request to rtpengine, with copies of all it needs. */
struct media_job {
	struct base_pool_job job;
	struct call_engine *e;
	struct call *c; /* a reference, but for M_DELETE */
	struct call_leg *l;
	enum media_op op;
	char call_id[CALL_MEDIA_ID_MAX];
	char from_tag[CALL_MEDIA_TAG_MAX];
	char to_tag[CALL_MEDIA_TAG_MAX];
	char uuid[CALL_UUID_MAX];
	enum media_kind kind; /* who gets the SDP rtpengine returns */
	char *in;	      /* the SDP given */
	size_t in_len;
	char *raw; /* M_ANSWER: the response it came in, as received */
	size_t raw_len;
	char *out; /* the SDP returned */
	size_t out_len;
	int err;
	char why[160];
};

static bool webrtc_proto(enum sip_proto p)
{
	return p == SIP_WS || p == SIP_WSS;
}

/* An SDP that offers DTLS-SRTP with feedback, as browsers do. */
static bool webrtc_sdp(struct sip_str body)
{
	return body.n && memmem(body.p, body.n, "RTP/SAVPF", 9) != NULL;
}

bool call_media_plan(struct call *c, struct call_leg *l, bool b_webrtc,
		     struct sip_str a_body, const char *call_id,
		     const char *tag)
{
	struct call_engine *e = c->e;
	bool a_webrtc = webrtc_proto(c->a.proto) || webrtc_sdp(a_body);
	struct call_media *m = &l->media;

	memset(m, 0, sizeof(*m));
	if (!e->o.rtpe_addr[0] || !a_body.n)
		return false; /* no rtpengine; no offer to rewrite */
	if (a_webrtc == b_webrtc && !e->o.rtpe_always)
		return false; /* both alike: their media go end to end */
	m->on = true;
	m->a_kind = a_webrtc ? MEDIA_WEBRTC : MEDIA_PLAIN;
	m->b_kind = b_webrtc ? MEDIA_WEBRTC : MEDIA_PLAIN;
	snprintf(m->call_id, sizeof(m->call_id), "%s", call_id);
	snprintf(m->from_tag, sizeof(m->from_tag), "%s", tag);
	return true;
}

static void job_free(struct media_job *j)
{
	free(j->in);
	free(j->raw);
	free(j->out);
	free(j);
}

/* On the engine thread: hands the outcome to call.c. */
static void media_done(struct call_engine *e, void *arg)
{
	struct media_job *j = arg;
	struct call *c = j->c;
	struct call_leg *l = j->l;

	(void)e;
	l->media.busy--;
	if (j->err)
		LOG_WARN(
		    "rtpengine_failed",
		    "call_uuid=%s b_leg=%s op=%s error=\"%s\" reason=\"%s\"",
		    c->a.uuid, l->uuid, j->op == M_OFFER ? "offer" : "answer",
		    strerror(j->err), j->why);
	if (j->op == M_OFFER)
		call_b_offered(c, l, j->err, j->out, j->out_len);
	else
		call_b_answered(c, l, j->raw, j->raw_len, j->err, j->out,
				j->out_len);
	job_free(j);
	call_unref(c);
}

/* On the media worker: the request, then its outcome to the engine. */
static void media_run(struct base_pool_job *job)
{
	struct media_job *j = (struct media_job *)job;
	const struct call_opts *o = &j->e->o;
	struct media_rtpe_req q = {.call_id = j->call_id,
				   .from_tag = j->from_tag,
				   .to_tag = j->to_tag[0] ? j->to_tag : NULL,
				   .kind = j->kind,
				   .sdp = j->in,
				   .sdp_len = j->in_len};

	j->why[0] = '\0';
	if (base_time_mono_ms() < atomic_load(&j->e->media_down_until)) {
		j->err = ETIMEDOUT;
		snprintf(j->why, sizeof(j->why),
			 "rtpengine at %s did not answer within the last %d s",
			 o->rtpe_addr, DOWN_MS / 1000);
	} else if (j->op == M_DELETE) {
		j->err = media_rtpe_delete(o->rtpe_addr, o->rtpe_timeout_ms,
					   j->call_id, j->from_tag, j->why,
					   sizeof(j->why));
		if (j->err && j->err != ENOENT)
			LOG_WARN("rtpengine_failed",
				 "call_uuid=%s op=delete error=\"%s\" "
				 "reason=\"%s\"",
				 j->uuid, strerror(j->err), j->why);
	} else if (!(j->out = malloc(MEDIA_RTPE_MSG_MAX))) {
		j->err = ENOMEM;
	} else if (j->op == M_OFFER) {
		j->err = media_rtpe_offer(o->rtpe_addr, o->rtpe_timeout_ms, &q,
					  j->out, MEDIA_RTPE_MSG_MAX,
					  &j->out_len, j->why, sizeof(j->why));
	} else {
		j->err = media_rtpe_answer(o->rtpe_addr, o->rtpe_timeout_ms, &q,
					   j->out, MEDIA_RTPE_MSG_MAX,
					   &j->out_len, j->why, sizeof(j->why));
	}
	if (j->err == ETIMEDOUT)
		atomic_store(&j->e->media_down_until,
			     base_time_mono_ms() + DOWN_MS);
	if (j->op == M_DELETE)
		job_free(j); /* a session left behind: rtpengine times it out */
	else if (call_post(j->e, media_done, j))
		LOG_ERROR("call_job_lost", "error=ENOMEM");
}

/* A job for leg l of c with a copy of sdp; NULL when out of memory. */
static struct media_job *job_new(struct call *c, struct call_leg *l,
				 enum media_op op, struct sip_str sdp)
{
	struct media_job *j = calloc(1, sizeof(*j));

	if (!j)
		return NULL;
	j->e = c->e;
	j->c = c;
	j->l = l;
	j->op = op;
	memcpy(j->call_id, l->media.call_id, sizeof(j->call_id));
	memcpy(j->from_tag, l->media.from_tag, sizeof(j->from_tag));
	memcpy(j->uuid, c->a.uuid, sizeof(j->uuid));
	if (sdp.n) {
		j->in = malloc(sdp.n);
		if (!j->in) {
			free(j);
			return NULL;
		}
		memcpy(j->in, sdp.p, sdp.n);
		j->in_len = sdp.n;
	}
	return j;
}

/*
 * Queues j for the media worker, holding a reference to its call (but for
 * a delete). j is the worker's from then on: it may be gone on return.
 */
static int submit(struct media_job *j)
{
	struct call *c = j->op == M_DELETE ? NULL : j->c;
	struct call_leg *l = j->l;

	if (c) {
		c->refs++;
		l->media.busy++;
	}
	if (base_pool_submit(j->e->media, &j->job, media_run)) {
		job_free(j);
		if (c) {
			l->media.busy--;
			c->refs--;
		}
		return EAGAIN;
	}
	return 0;
}

int call_media_offer(struct call *c, struct call_leg *l, struct sip_str sdp)
{
	struct media_job *j = job_new(c, l, M_OFFER, sdp);

	if (!j)
		return ENOMEM;
	j->kind = l->media.b_kind;
	return submit(j);
}

int call_media_answer(struct call *c, struct call_leg *l,
		      const struct sip_msg *m, const char *raw, size_t raw_len)
{
	struct media_job *j = job_new(c, l, M_ANSWER, m->body);

	if (!j)
		return ENOMEM;
	j->kind = l->media.a_kind;
	if (m->to.tag.n >= sizeof(j->to_tag)) {
		job_free(j);
		return EINVAL;
	}
	memcpy(j->to_tag, m->to.tag.p, m->to.tag.n);
	j->raw = malloc(raw_len ? raw_len : 1);
	if (!j->raw) {
		job_free(j);
		return ENOMEM;
	}
	memcpy(j->raw, raw, raw_len);
	j->raw_len = raw_len;
	return submit(j);
}

void call_media_end(struct call *c)
{
	for (struct call_leg *l = c->b; l; l = l->next) {
		struct media_job *j;
		if (!l->media.on || l->media.deleted)
			continue;
		l->media.deleted = true;
		j = job_new(c, l, M_DELETE, (struct sip_str){0});
		if (!j || submit(j))
			LOG_WARN("rtpengine_failed",
				 "call_uuid=%s op=delete error=\"no worker\"",
				 c->a.uuid);
	}
}

bool call_media_sdp_ok(const struct sip_msg *m)
{
	return m->body.n && m->content_type.n &&
	       sip_str_ieq(m->content_type, "application/sdp");
}
