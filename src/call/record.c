/*
 * record.c - what the store keeps of calls: the live_calls row of each call
 * in progress (so that every node's API lists it and can ask its node to
 * hang it up), and the CDRs of both legs when a call ends. The writes go
 * to one "call-log" worker, in the order the engine made them; the
 * engine thread polls for hangups the API asked for, refreshes this node's
 * rows and sweeps old ones.
 */
#include <errno.h>
#include <pthread.h>
#include <stdbool.h>
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
	struct rec_job *next; /* the engine's log queue */
	enum rec_kind kind;
	struct model_live_call live; /* REC_LIVE */
	int64_t before_ms;	     /* REC_SWEEP: CDRs ended before */
	unsigned ncdr;
	struct model_cdr cdr[]; /* REC_END */
};

/* The worker's job that writes what the log queue holds. */
struct drain {
	struct base_pool_job job;
	struct call_engine *e;
};

#define BATCH_MAX 256 /* records of one transaction */

/* Wall-clock milliseconds of a monotonic time (0 stays 0). */
static int64_t wall_of(int64_t mono_ms)
{
	if (!mono_ms)
		return 0;
	return base_time_now_ms() - (base_time_mono_ms() - mono_ms);
}

static void maintain(struct call_engine *e, struct rec_job *j)
{
	struct svc *s = e->svc;
	int64_t n = 0;
	int err;

	if (j->kind == REC_TOUCH) {
		err = svc_live_touch(s, e->node_id, base_time_now_ms());
	} else {
		err = svc_live_sweep(s, base_time_now_ms() - SVC_LIVE_STALE_MS);
		if (!err)
			err = svc_cdr_sweep(s, j->before_ms, CDR_SWEEP_MAX, &n);
		if (!err && n)
			LOG_INFO("cdr_swept", "n=%lld", (long long)n);
	}
	if (err)
		LOG_WARN("call_record_failed", "kind=%d error=%d", (int)j->kind,
			 err);
}

/* Adds j's writes to recs (room enough); returns how many. */
static unsigned recs_of(struct rec_job *j, struct svc_call_rec *recs)
{
	unsigned n = 0;

	if (j->kind == REC_LIVE) {
		if (!j->live.updated_ms)
			j->live.updated_ms = base_time_now_ms();
		recs[n++] = (struct svc_call_rec){.kind = SVC_REC_LIVE_PUT,
						  .live = &j->live};
		return n;
	}
	if (j->live.call_uuid[0])
		recs[n++] = (struct svc_call_rec){
		    .kind = SVC_REC_LIVE_DEL, .call_uuid = j->live.call_uuid};
	for (unsigned i = 0; i < j->ncdr; i++)
		recs[n++] = (struct svc_call_rec){.kind = SVC_REC_CDR,
						  .cdr = &j->cdr[i]};
	return n;
}

/*
 * Writes a batch of live rows and CDRs in one transaction (one fsync for
 * many calls, in the order the engine made them), then frees it.
 */
static void write_batch(struct call_engine *e, struct rec_job *batch)
{
	unsigned n = 0, cap = 0;
	struct svc_call_rec *recs;
	struct rec_job *j, *nx;

	for (j = batch; j; j = j->next)
		cap += 1 + j->ncdr;
	recs = calloc(cap ? cap : 1, sizeof(*recs));
	if (recs) {
		for (j = batch; j; j = j->next)
			n += recs_of(j, recs + n);
		svc_call_log(e->svc, recs, n);
	}
	for (unsigned i = 0; i < n; i++)
		if (recs[i].err && recs[i].kind == SVC_REC_CDR)
			LOG_ERROR("cdr_lost", "call_uuid=%s error=%d",
				  recs[i].cdr->call_uuid, recs[i].err);
		else if (recs[i].err)
			LOG_WARN("call_record_failed", "kind=%d error=%d",
				 (int)recs[i].kind, recs[i].err);
	for (j = batch; j; j = nx) {
		nx = j->next;
		if (!recs && j->ncdr)
			LOG_ERROR("cdr_lost", "call_uuid=%s error=ENOMEM",
				  j->cdr[0].call_uuid);
		free(j);
	}
	free(recs);
}

/*
 * The log worker: takes what the engine queued, up to BATCH_MAX records at
 * a time, until the queue is empty. Maintenance (touch, sweep) runs on its
 * own, in its place in the order.
 */
static void drain_run(struct base_pool_job *job)
{
	struct drain *d = (struct drain *)job;
	struct call_engine *e = d->e;

	for (;;) {
		struct rec_job *batch = NULL, **tail = &batch, *j;
		unsigned n = 0;

		pthread_mutex_lock(&e->rec_mu);
		while ((j = e->recq) && n < BATCH_MAX) {
			if ((j->kind == REC_TOUCH || j->kind == REC_SWEEP) &&
			    batch)
				break;
			e->recq = j->next;
			j->next = NULL;
			*tail = j;
			tail = &j->next;
			n += 1 + j->ncdr;
			if (j->kind == REC_TOUCH || j->kind == REC_SWEEP)
				break;
		}
		if (!e->recq)
			e->recq_tail = NULL;
		if (!batch)
			e->rec_draining = false;
		pthread_mutex_unlock(&e->rec_mu);
		if (!batch)
			break;
		if (batch->kind == REC_TOUCH || batch->kind == REC_SWEEP) {
			maintain(e, batch);
			free(batch);
		} else {
			write_batch(e, batch);
		}
	}
	free(d);
}

/* Frees records that cannot be written, saying so. */
static void rec_drop(struct rec_job *j, const char *why)
{
	struct rec_job *nx;

	for (; j; j = nx) {
		nx = j->next;
		for (unsigned i = 0; i < j->ncdr; i++)
			LOG_ERROR("cdr_lost", "call_uuid=%s error=%s",
				  j->cdr[i].call_uuid, why);
		if (!j->ncdr)
			LOG_ERROR("call_record_failed", "kind=%d error=%s",
				  (int)j->kind, why);
		free(j);
	}
}

static void rec_submit(struct call_engine *e, struct rec_job *j)
{
	struct drain *d = NULL;
	bool start;

	j->next = NULL;
	pthread_mutex_lock(&e->rec_mu);
	if (e->recq_tail)
		e->recq_tail->next = j;
	else
		e->recq = j;
	e->recq_tail = j;
	start = !e->rec_draining;
	e->rec_draining = true;
	pthread_mutex_unlock(&e->rec_mu);
	if (!start)
		return;
	d = calloc(1, sizeof(*d));
	if (d) {
		d->e = e;
		if (!base_pool_submit(e->log, &d->job, drain_run))
			return;
		free(d);
	}
	/* No worker to write them: what is queued is lost. */
	pthread_mutex_lock(&e->rec_mu);
	j = e->recq;
	e->recq = e->recq_tail = NULL;
	e->rec_draining = false;
	pthread_mutex_unlock(&e->rec_mu);
	rec_drop(j, "no_worker");
}

void call_record_drop_all(struct call_engine *e)
{
	struct rec_job *j;

	pthread_mutex_lock(&e->rec_mu);
	j = e->recq;
	e->recq = e->recq_tail = NULL;
	pthread_mutex_unlock(&e->rec_mu);
	rec_drop(j, "shutdown");
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
