/*
 * record.c - what the store keeps of calls: the live_calls row of each call
 * in progress (so that every node's API lists it and can ask its node to
 * hang it up), and the CDRs of both legs when a call ends. The writes go
 * to one "call-log" worker, in the order the engine made them; the
 * engine thread polls for hangups the API asked for, refreshes this node's
 * rows and sweeps old ones.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "base/log.h"
#include "base/time.h"
#include "call/internal.h"

#define POLL_MS 250	    /* hangups asked through the API */
#define TOUCH_MS 10000	    /* this node's live rows refreshed */
#define SWEEP_MS 60000	    /* stale live rows and old CDRs */
#define DUE_MAX 64	    /* hangups taken per poll */
#define CDR_SWEEP_MAX 10000 /* CDRs deleted per sweep */

enum rec_kind { REC_LIVE, REC_END, REC_TOUCH, REC_SWEEP };

struct rec_job {
	struct base_pool_job job;
	struct call_engine *e;
	enum rec_kind kind;
	struct model_live_call live; /* REC_LIVE */
	int64_t before_ms;	     /* REC_SWEEP: CDRs ended before */
	unsigned ncdr;
	struct model_cdr cdr[]; /* REC_END */
};

/* Wall-clock milliseconds of a monotonic time (0 stays 0). */
static int64_t wall_of(int64_t mono_ms)
{
	if (!mono_ms)
		return 0;
	return base_time_now_ms() - (base_time_mono_ms() - mono_ms);
}

static void rec_run(struct base_pool_job *job)
{
	struct rec_job *j = (struct rec_job *)job;
	struct svc *s = j->e->svc;
	int64_t n = 0;
	int err = 0;

	switch (j->kind) {
	case REC_LIVE:
		err = svc_live_put(s, &j->live);
		break;
	case REC_END:
		if (j->live.call_uuid[0])
			err = svc_live_del(s, j->live.call_uuid);
		for (unsigned i = 0; i < j->ncdr; i++) {
			int e2 = svc_cdr_add(s, &j->cdr[i]);
			if (e2)
				LOG_ERROR("cdr_lost", "call_uuid=%s error=%d",
					  j->cdr[i].call_uuid, e2);
		}
		break;
	case REC_TOUCH:
		err = svc_live_touch(s, j->e->node_id, base_time_now_ms());
		break;
	case REC_SWEEP:
		err = svc_live_sweep(s, base_time_now_ms() - SVC_LIVE_STALE_MS);
		if (!err)
			err = svc_cdr_sweep(s, j->before_ms, CDR_SWEEP_MAX, &n);
		if (!err && n)
			LOG_INFO("cdr_swept", "n=%lld", (long long)n);
		break;
	}
	if (err)
		LOG_WARN("call_record_failed", "kind=%d error=%d", (int)j->kind,
			 err);
	free(j);
}

static void rec_submit(struct call_engine *e, struct rec_job *j)
{
	j->e = e;
	if (base_pool_submit(e->log, &j->job, rec_run)) {
		LOG_ERROR("call_record_failed", "kind=%d error=queue_full",
			  (int)j->kind);
		free(j);
	}
}

static void live_of(const struct call *c, struct model_live_call *l)
{
	memset(l, 0, sizeof(*l));
	snprintf(l->call_uuid, sizeof(l->call_uuid), "%s", c->a.uuid);
	l->account_id = c->account_ref;
	snprintf(l->node_id, sizeof(l->node_id), "%s", c->e->node_id);
	snprintf(l->direction, sizeof(l->direction), "inbound");
	snprintf(l->from, sizeof(l->from), "sip:%.64s@%.180s", c->from_user,
		 c->domain);
	snprintf(l->to, sizeof(l->to), "%s", c->to);
	snprintf(l->caller_name, sizeof(l->caller_name), "%s", c->alias);
	snprintf(l->call_status, sizeof(l->call_status), "%s",
		 c->state == CALL_UP ? "in-progress" : "ringing");
	l->session_start_ms = wall_of(c->a.start_ms);
}

void call_record_live(struct call *c)
{
	struct rec_job *j;

	if (!c->account_ref || c->is_message)
		return;
	j = calloc(1, sizeof(*j));
	if (!j)
		return;
	j->kind = REC_LIVE;
	live_of(c, &j->live);
	c->live = true;
	rec_submit(c->e, j);
}

/* The CDR of leg l of c (A when l is &c->a). */
static void cdr_of(const struct call *c, const struct call_leg *l,
		   struct model_cdr *r)
{
	int64_t answer = l->answer_ms, end = c->end_ms;
	enum model_cause cause = c->cause;
	enum model_source source = c->source;

	memset(r, 0, sizeof(*r));
	r->account_id = c->account_ref;
	snprintf(r->call_uuid, sizeof(r->call_uuid), "%s", l->uuid);
	snprintf(r->from_number, sizeof(r->from_number), "sip:%.64s@%.180s",
		 c->from_user, c->domain);
	snprintf(r->caller_name, sizeof(r->caller_name), "%s", c->alias);
	if (l->is_a) {
		r->endpoint_ref = c->endpoint_ref;
		snprintf(r->endpoint_id, sizeof(r->endpoint_id), "%s",
			 c->endpoint_id);
		snprintf(r->to_number, sizeof(r->to_number), "%s", c->to);
		snprintf(r->call_direction, sizeof(r->call_direction),
			 "inbound");
	} else {
		snprintf(r->parent_call_uuid, sizeof(r->parent_call_uuid), "%s",
			 c->a.uuid);
		r->endpoint_ref = c->callee_ref;
		snprintf(r->endpoint_id, sizeof(r->endpoint_id), "%s",
			 c->callee_id);
		snprintf(r->to_number, sizeof(r->to_number), "%s",
			 c->callee_uri);
		snprintf(r->call_direction, sizeof(r->call_direction),
			 "outbound");
		if (l->state != LEG_UP) {
			/* A leg that lost: its own answer, or cancelled. */
			cause = l->final && l->final != 487
				    ? MODEL_CAUSE_NO_ANSWER
				    : MODEL_CAUSE_ORIGINATOR_CANCEL;
			if (l->final == 486 || l->final == 600)
				cause = MODEL_CAUSE_USER_BUSY;
			else if (l->final == 603)
				cause = MODEL_CAUSE_CALL_REJECTED;
			source = l->final && l->final != 487
				     ? MODEL_SOURCE_CALLEE
				     : source;
			answer = 0;
		}
	}
	r->initiation_ms = wall_of(l->start_ms ? l->start_ms : c->a.start_ms);
	r->answer_ms = wall_of(answer);
	r->end_ms = wall_of(end);
	if (r->end_ms < r->initiation_ms)
		r->end_ms = r->initiation_ms;
	if (r->answer_ms && r->answer_ms > r->end_ms)
		r->answer_ms = r->end_ms;
	r->call_duration = r->answer_ms ? (r->end_ms - r->answer_ms) / 1000 : 0;
	r->bill_duration = r->call_duration;
	model_cdr_set_cause(r, cause, source);
}

void call_record_end(struct call *c)
{
	unsigned nb = 0, i = 0;
	struct rec_job *j;

	if (!c->account_ref || c->is_message)
		return; /* never authenticated, or a message: not a call */
	for (struct call_leg *l = c->b; l; l = l->next)
		nb++;
	j = calloc(1, sizeof(*j) + (1 + nb) * sizeof(j->cdr[0]));
	if (!j) {
		LOG_ERROR("cdr_lost", "call_uuid=%s error=ENOMEM", c->a.uuid);
		return;
	}
	j->kind = REC_END;
	if (c->live)
		snprintf(j->live.call_uuid, sizeof(j->live.call_uuid), "%s",
			 c->a.uuid);
	cdr_of(c, &c->a, &j->cdr[i++]);
	for (struct call_leg *l = c->b; l; l = l->next)
		if (!l->superseded)
			cdr_of(c, l, &j->cdr[i++]);
	j->ncdr = i;
	rec_submit(c->e, j);
}

/* ---- hangups asked through the API, on any node ---- */

struct due {
	struct base_pool_job job;
	struct call_engine *e;
	unsigned n;
	char uuids[DUE_MAX][MODEL_UUID_MAX];
};

static void due_done(struct call_engine *e, void *arg)
{
	struct due *d = arg;

	e->polling = false;
	for (unsigned i = 0; i < d->n; i++)
		for (struct call *c = e->calls; c; c = c->next)
			if (strcmp(c->a.uuid, d->uuids[i]) == 0 &&
			    c->state != CALL_ENDED) {
				call_hangup_api(c);
				break;
			}
	free(d);
}

static void due_run(struct base_pool_job *job)
{
	struct due *d = (struct due *)job;
	int err;

	base_deadline_set(base_time_mono_ms() + d->e->o.store_timeout_ms);
	err = svc_live_due(d->e->svc, d->e->node_id, d->uuids, DUE_MAX, &d->n);
	base_deadline_set(0);
	if (err)
		d->n = 0;
	if (call_post(d->e, due_done, d)) {
		/* The engine will poll again once polling is clear: it is
		 * not, so no more polls; log it. */
		LOG_ERROR("call_poll_lost", "error=ENOMEM");
		free(d);
	}
}

static void submit_rec(struct call_engine *e, enum rec_kind kind)
{
	struct rec_job *j = calloc(1, sizeof(*j));

	if (!j)
		return;
	j->kind = kind;
	j->before_ms =
	    base_time_now_ms() - e->o.cdr_retention_days * 86400000LL;
	rec_submit(e, j);
}

void call_record_timers(struct call_engine *e, int64_t now)
{
	if (now >= e->next_poll_ms && !e->polling) {
		struct due *d = calloc(1, sizeof(*d));
		e->next_poll_ms = now + POLL_MS;
		if (d) {
			d->e = e;
			e->polling = true;
			if (base_pool_submit(e->pool, &d->job, due_run)) {
				e->polling = false;
				free(d);
			}
		}
	}
	if (now >= e->next_touch_ms) {
		e->next_touch_ms = now + TOUCH_MS;
		if (e->ncalls)
			submit_rec(e, REC_TOUCH);
	}
	if (now >= e->next_sweep_ms) {
		e->next_sweep_ms = now + SWEEP_MS;
		submit_rec(e, REC_SWEEP);
	}
}
