/*
 * registration.c - for the registrar: a REGISTER checked against its
 * user's credentials and applied to the endpoint's bindings
 * (model_register_apply) in one transaction, the sweep of expired bindings
 * and the end of a closed connection's bindings.
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "base/crypto.h"
#include "base/time.h"
#include "svc/group.h"
#include "svc/internal.h"

struct reg {
	const char *username, *domain;
	svc_cred_check_fn check;
	void *arg;
	const struct model_reg_request *req;
	const struct model_reg_limits *lim;
	struct svc_bindings *out;   /* the caller's; NULL when queued: */
	struct model_binding *kept; /* a copy of the result, for done */
	unsigned nkept;
	svc_reg_done_fn done; /* svc_register_async's */
	void *done_arg;
};

static int do_register(struct store *st, void *arg)
{
	struct reg *r = arg;
	struct model_endpoint ep;
	struct svc_sip_cred cred;
	/* 45 KiB each, on the writer's or worker's stack: nothing that waits
	 * in a queue holds them. Not zeroed: n is set, and b up to it. */
	struct svc_bindings cur, res;
	struct svc_bindings *out = r->out ? r->out : &res;
	int64_t ref = 0;
	int err;

	err = st->ops->endpoint_cred(st, r->username, r->domain, &ep);
	if (!err) {
		ref = cred.endpoint_ref = ep.id;
		memcpy(cred.ha1_md5, ep.ha1_md5, sizeof(ep.ha1_md5));
		memcpy(cred.ha1_sha256, ep.ha1_sha256, sizeof(ep.ha1_sha256));
		base_wipe(&ep, sizeof(ep));
		err = r->check(r->arg, &cred);
		base_wipe(&cred, sizeof(cred));
	} else if (err == ENOENT) {
		/* An unknown user is checked too: the same answer and work. */
		err = r->check(r->arg, NULL);
		if (!err)
			err = ENOENT;
	}
	if (err)
		return err;
	cur.n = 0;
	err = st->ops->binding_list(st, ref, r->req->now_ms, svc_bindings_add,
				    &cur);
	if (!err)
		err = model_register_apply(cur.b, cur.n, r->req, r->lim, out->b,
					   &out->n);
	for (unsigned i = 0; !err && i < out->n; i++)
		out->b[i].endpoint_ref = ref;
	if (!err)
		err = st->ops->binding_replace(st, ref, out->b, out->n);
	if (!err && !r->out) {
		/* Only the bindings there are, for the answer after commit. */
		free(r->kept);
		r->nkept = out->n;
		r->kept = malloc((out->n ? out->n : 1) * sizeof(*r->kept));
		if (!r->kept)
			return ENOMEM;
		memcpy(r->kept, out->b, out->n * sizeof(*r->kept));
	}
	return err;
}

/* The work of a REGISTER, and for a queued one whom to tell. */
static struct reg *reg_new(const char *username, const char *domain,
			   svc_cred_check_fn check, void *arg,
			   const struct model_reg_request *req,
			   const struct model_reg_limits *lim,
			   struct svc_bindings *out)
{
	struct reg *r = malloc(sizeof(*r));

	if (!r)
		return NULL;
	r->username = username;
	r->domain = domain;
	r->check = check;
	r->arg = arg;
	r->req = req;
	r->lim = lim;
	r->out = out;
	r->kept = NULL;
	r->nkept = 0;
	r->done = NULL;
	r->done_arg = NULL;
	return r;
}

int svc_register(struct svc *s, const char *username, const char *domain,
		 svc_cred_check_fn check, void *arg,
		 const struct model_reg_request *req,
		 const struct model_reg_limits *lim, struct svc_bindings *out)
{
	struct reg *r = reg_new(username, domain, check, arg, req, lim, out);
	int err;

	if (!r)
		return ENOMEM;
	err = svc_txn_run(s, SVC_TXN_LAZY_ROWS, do_register, r);
	free(r);
	return err;
}

bool svc_register_queues(const struct svc *s)
{
	return s->lazy != NULL;
}

/* On the writer's thread, once the group has committed. */
static void register_done(void *arg, int err)
{
	struct reg *r = arg;

	r->done(r->done_arg, err, err ? NULL : r->kept, err ? 0 : r->nkept);
	free(r->kept);
	free(r);
}

int svc_register_async(struct svc *s, const char *username, const char *domain,
		       svc_cred_check_fn check, void *arg,
		       const struct model_reg_request *req,
		       const struct model_reg_limits *lim, svc_reg_done_fn done,
		       void *done_arg, int64_t deadline_ms, unsigned queue_max)
{
	struct reg *r;
	int err;

	if (!s->lazy)
		return ENOTSUP;
	r = reg_new(username, domain, check, arg, req, lim, NULL);
	if (!r)
		return ENOMEM;
	r->done = done;
	r->done_arg = done_arg;
	err = svc_group_submit(s->lazy, do_register, r, register_done,
			       deadline_ms, queue_max);
	if (err)
		free(r);
	return err;
}

struct sweep {
	int64_t max, *n;
};

static int do_sweep(struct store *st, void *arg)
{
	struct sweep *w = arg;

	return st->ops->binding_sweep(st, base_time_now_ms(), w->max, w->n);
}

int svc_bindings_sweep(struct svc *s, int64_t max, int64_t *n)
{
	struct sweep w = {max, n};

	return svc_txn_run(s, SVC_TXN_LAZY, do_sweep, &w);
}

struct count {
	int64_t *endpoints, *bindings;
};

static int do_count(struct store *st, void *arg)
{
	struct count *c = arg;

	return st->ops->binding_count(st, base_time_now_ms(), c->endpoints,
				      c->bindings);
}

int svc_bindings_count(struct svc *s, int64_t *endpoints, int64_t *bindings)
{
	struct count c = {endpoints, bindings};

	return svc_txn_run(s, SVC_TXN_READ, do_count, &c);
}

struct drop {
	const char *received, *transport;
	int64_t *n;
};

static int do_drop(struct store *st, void *arg)
{
	struct drop *w = arg;

	return st->ops->binding_drop_conn(st, w->received, w->transport, w->n);
}

int svc_bindings_drop_conn(struct svc *s, const char *received,
			   const char *transport, int64_t *n)
{
	struct drop w = {received, transport, n};

	return svc_txn_run(s, SVC_TXN_LAZY_ROWS, do_drop, &w);
}
