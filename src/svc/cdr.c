/*
 * cdr.c - calls as the API and the call engine see them in the store: the
 * call detail records written when a leg ends (durable), their lists and
 * retention, and the rows of calls in progress that every node's engine
 * keeps fresh and that carry hangup requests from any node's API.
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "base/time.h"
#include "svc/internal.h"

void svc_cdr_filter_init(struct svc_cdr_filter *f)
{
	memset(f, 0, sizeof(*f));
	f->hangup_cause_code = SVC_CDR_ANY;
	f->end_gt = f->end_gte = f->end_lt = f->end_lte = SVC_CDR_ANY;
}

static int do_cdr_add(struct store *st, void *arg)
{
	return st->ops->cdr_insert(st, arg);
}

int svc_cdr_add(struct svc *s, const struct model_cdr *c)
{
	if (model_cdr_check(c))
		return EINVAL;
	return svc_txn_run(s, SVC_TXN_WRITE, do_cdr_add, (void *)c);
}

struct cdr_get {
	const struct model_account *acct;
	const char *call_uuid;
	struct model_cdr *out;
};

static int do_cdr_get(struct store *st, void *arg)
{
	struct cdr_get *g = arg;

	return st->ops->cdr_get(st, g->acct->id, g->call_uuid, g->out);
}

int svc_cdr_get(struct svc *s, const struct model_account *acct,
		const char *call_uuid, struct model_cdr *out)
{
	struct cdr_get g = {acct, call_uuid, out};

	if (!model_uuid_check(call_uuid))
		return ENOENT;
	return svc_txn_run(s, SVC_TXN_READ, do_cdr_get, &g);
}

struct cdr_list {
	const struct model_account *acct;
	struct store_cdr_filter f;
	int64_t limit, offset;
	struct model_cdr *out;
	unsigned n;
	int64_t total;
};

static int cdr_collect(void *ctx, const struct model_cdr *c)
{
	struct cdr_list *l = ctx;

	if (l->n < l->limit)
		l->out[l->n++] = *c;
	return 0;
}

static int do_cdr_list(struct store *st, void *arg)
{
	struct cdr_list *l = arg;

	l->n = 0; /* a retried transaction starts the page again */
	return st->ops->cdr_list(st, l->acct->id, &l->f, l->limit, l->offset,
				 cdr_collect, l, &l->total);
}

/*
 * Folds the four end_time bounds into one inclusive range [lo, hi] (empty
 * when lo > hi). end_lt is never INT64_MIN when given: that is
 * SVC_CDR_ANY.
 */
static void fold_range(const struct svc_cdr_filter *f, int64_t *lo, int64_t *hi)
{
	*lo = INT64_MIN;
	*hi = INT64_MAX;
	if (f->end_gt == INT64_MAX) { /* nothing ends after that */
		*lo = INT64_MAX;
		*hi = INT64_MIN;
		return;
	}
	if (f->end_gte != SVC_CDR_ANY && f->end_gte > *lo)
		*lo = f->end_gte;
	if (f->end_gt != SVC_CDR_ANY && f->end_gt + 1 > *lo)
		*lo = f->end_gt + 1;
	if (f->end_lte != SVC_CDR_ANY && f->end_lte < *hi)
		*hi = f->end_lte;
	if (f->end_lt != SVC_CDR_ANY && f->end_lt - 1 < *hi)
		*hi = f->end_lt - 1;
}

int svc_cdr_list(struct svc *s, const struct model_account *acct,
		 const struct svc_cdr_filter *f, int64_t limit, int64_t offset,
		 struct model_cdr *out, unsigned *n, int64_t *total)
{
	struct cdr_list l = {
	    .acct = acct, .limit = limit, .offset = offset, .out = out};
	int err;

	if (limit < 1 || offset < 0)
		return EINVAL;
	l.f.call_direction = f->call_direction;
	l.f.from_number = f->from_number;
	l.f.to_number = f->to_number;
	l.f.hangup_cause_code =
	    f->hangup_cause_code == SVC_CDR_ANY ? -1 : f->hangup_cause_code;
	fold_range(f, &l.f.end_min, &l.f.end_max);
	if (l.f.hangup_cause_code < -1)
		l.f.hangup_cause_code = INT64_MAX; /* matches nothing */
	err = svc_txn_run(s, SVC_TXN_READ, do_cdr_list, &l);
	if (!err) {
		*n = l.n;
		*total = l.total;
	}
	return err;
}

struct sweep {
	int64_t before_ms, max, *n;
};

static int do_cdr_sweep(struct store *st, void *arg)
{
	struct sweep *w = arg;

	return st->ops->cdr_sweep(st, w->before_ms, w->max, w->n);
}

int svc_cdr_sweep(struct svc *s, int64_t before_ms, int64_t max, int64_t *n)
{
	struct sweep w = {before_ms, max, n};

	return svc_txn_run(s, SVC_TXN_LAZY, do_cdr_sweep, &w);
}

/* ---- calls in progress ---- */

/* Rows updated at or before this are stale. */
static int64_t live_since(void)
{
	return base_time_now_ms() - SVC_LIVE_STALE_MS;
}

static int do_live_put(struct store *st, void *arg)
{
	return st->ops->live_put(st, arg);
}

int svc_live_put(struct svc *s, const struct model_live_call *l)
{
	struct model_live_call *c;
	int err;

	if (model_live_check(l))
		return EINVAL;
	c = malloc(sizeof(*c));
	if (!c)
		return ENOMEM;
	*c = *l;
	if (!c->updated_ms)
		c->updated_ms = base_time_now_ms();
	err = svc_txn_run(s, SVC_TXN_LAZY, do_live_put, c);
	free(c);
	return err;
}

static int do_live_del(struct store *st, void *arg)
{
	int err = st->ops->live_delete(st, arg);

	return err == ENOENT ? 0 : err;
}

int svc_live_del(struct svc *s, const char *call_uuid)
{
	return svc_txn_run(s, SVC_TXN_LAZY, do_live_del, (void *)call_uuid);
}

/* A record of svc_call_log on its own, in the transaction at hand. */
static int call_rec_write(struct store *st, const struct svc_call_rec *r)
{
	int err;

	switch (r->kind) {
	case SVC_REC_LIVE_PUT:
		return st->ops->live_put(st, r->live);
	case SVC_REC_LIVE_DEL:
		err = st->ops->live_delete(st, r->call_uuid);
		return err == ENOENT ? 0 : err;
	case SVC_REC_CDR:
		return st->ops->cdr_insert(st, r->cdr);
	}
	return EINVAL;
}

struct call_log {
	struct svc_call_rec *recs;
	unsigned n;
};

static int do_call_log(struct store *st, void *arg)
{
	struct call_log *g = arg;
	int err = 0;

	for (unsigned i = 0; i < g->n && !err; i++)
		if (!g->recs[i].err)
			err = call_rec_write(st, &g->recs[i]);
	return err;
}

static int do_call_rec(struct store *st, void *arg)
{
	return call_rec_write(st, arg);
}

int svc_call_log(struct svc *s, struct svc_call_rec *recs, unsigned n)
{
	struct call_log g = {recs, n};
	int err, first = 0;

	for (unsigned i = 0; i < n; i++) {
		struct svc_call_rec *r = &recs[i];

		r->err = 0;
		if ((r->kind == SVC_REC_LIVE_PUT &&
		     (!r->live || model_live_check(r->live))) ||
		    (r->kind == SVC_REC_LIVE_DEL &&
		     (!r->call_uuid || !r->call_uuid[0])) ||
		    (r->kind == SVC_REC_CDR &&
		     (!r->cdr || model_cdr_check(r->cdr))))
			r->err = EINVAL;
	}
	err = svc_txn_run(s, SVC_TXN_WRITE, do_call_log, &g);
	for (unsigned i = 0; i < n; i++) {
		struct svc_call_rec *r = &recs[i];

		/* The store away: so for each; else one of them failed. */
		if (err && !r->err)
			r->err =
			    err == EIO || err == ETIMEDOUT || err == EBUSY
				? err
				: svc_txn_run(s, SVC_TXN_WRITE, do_call_rec, r);
		if (r->err && !first)
			first = r->err;
	}
	return first;
}

struct live_ids {
	const struct model_account *acct;
	const char *node_id;
	int64_t since_ms;
	char (*uuids)[MODEL_UUID_MAX];
	unsigned max, n;
};

static int do_live_list(struct store *st, void *arg)
{
	struct live_ids *q = arg;

	return st->ops->live_list(st, q->acct->id, q->since_ms, q->uuids,
				  q->max, &q->n);
}

int svc_live_list(struct svc *s, const struct model_account *acct,
		  char (*uuids)[MODEL_UUID_MAX], unsigned max, unsigned *n)
{
	struct live_ids q = {
	    .acct = acct, .since_ms = live_since(), .uuids = uuids, .max = max};
	int err = svc_txn_run(s, SVC_TXN_READ, do_live_list, &q);

	if (!err)
		*n = q.n;
	return err;
}

struct live_one {
	const struct model_account *acct;
	const char *call_uuid;
	int64_t since_ms;
	struct model_live_call *out;
};

static int do_live_get(struct store *st, void *arg)
{
	struct live_one *g = arg;

	return st->ops->live_get(st, g->acct->id, g->call_uuid, g->since_ms,
				 g->out);
}

int svc_live_get(struct svc *s, const struct model_account *acct,
		 const char *call_uuid, struct model_live_call *out)
{
	struct live_one g = {acct, call_uuid, live_since(), out};

	if (!model_uuid_check(call_uuid))
		return ENOENT;
	return svc_txn_run(s, SVC_TXN_READ, do_live_get, &g);
}

static int do_live_hangup(struct store *st, void *arg)
{
	struct live_one *g = arg;

	return st->ops->live_hangup(st, g->acct->id, g->call_uuid, g->since_ms);
}

int svc_live_hangup(struct svc *s, const struct model_account *acct,
		    const char *call_uuid)
{
	struct live_one g = {acct, call_uuid, live_since(), NULL};

	if (!model_uuid_check(call_uuid))
		return ENOENT;
	return svc_txn_run(s, SVC_TXN_WRITE, do_live_hangup, &g);
}

static int do_live_due(struct store *st, void *arg)
{
	struct live_ids *q = arg;

	return st->ops->live_due(st, q->node_id, q->uuids, q->max, &q->n);
}

int svc_live_due(struct svc *s, const char *node_id,
		 char (*uuids)[MODEL_UUID_MAX], unsigned max, unsigned *n)
{
	struct live_ids q = {.node_id = node_id, .uuids = uuids, .max = max};
	int err = svc_txn_run(s, SVC_TXN_READ, do_live_due, &q);

	if (!err)
		*n = q.n;
	return err;
}

struct touch {
	const char *node_id;
	int64_t now_ms;
};

static int do_live_touch(struct store *st, void *arg)
{
	struct touch *t = arg;

	return st->ops->live_touch(st, t->node_id, t->now_ms, NULL);
}

int svc_live_touch(struct svc *s, const char *node_id, int64_t now_ms)
{
	struct touch t = {node_id, now_ms};

	return svc_txn_run(s, SVC_TXN_LAZY, do_live_touch, &t);
}

static int do_live_sweep(struct store *st, void *arg)
{
	return st->ops->live_sweep(st, *(int64_t *)arg, NULL);
}

int svc_live_sweep(struct svc *s, int64_t before_ms)
{
	return svc_txn_run(s, SVC_TXN_LAZY, do_live_sweep, &before_ms);
}
