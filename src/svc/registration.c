/*
 * registration.c - for the registrar: the credentials of a SIP user, a
 * REGISTER applied to an endpoint's bindings (model_register_apply) in one
 * transaction, and the sweep of expired bindings.
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "base/crypto.h"
#include "base/time.h"
#include "svc/internal.h"

struct sip_cred_get {
	const char *username, *domain;
	struct svc_sip_cred *out;
};

static int do_sip_credentials(struct store *st, void *arg)
{
	struct sip_cred_get *g = arg;
	struct model_endpoint ep;
	int err;

	err = st->ops->endpoint_get_by_user(st, g->username, g->domain, &ep);
	if (!err) {
		g->out->endpoint_ref = ep.id;
		memcpy(g->out->ha1_md5, ep.ha1_md5, sizeof(ep.ha1_md5));
		memcpy(g->out->ha1_sha256, ep.ha1_sha256,
		       sizeof(ep.ha1_sha256));
	}
	base_wipe(&ep, sizeof(ep));
	return err;
}

int svc_sip_credentials(struct svc *s, const char *username, const char *domain,
			struct svc_sip_cred *out)
{
	struct sip_cred_get g = {username, domain, out};

	return svc_txn_run(s, SVC_TXN_READ, do_sip_credentials, &g);
}

struct reg {
	const char *username, *domain;
	const struct svc_sip_cred *cred;
	struct model_endpoint ep;
	int64_t endpoint_ref;
	const struct model_reg_request *req;
	const struct model_reg_limits *lim;
	struct svc_bindings cur;
	struct svc_bindings *out;
};

static int do_register(struct store *st, void *arg)
{
	struct reg *r = arg;
	int err;

	err = st->ops->endpoint_get_by_user(st, r->username, r->domain, &r->ep);
	if (!err && (r->ep.id != r->endpoint_ref ||
		     !base_secure_eq(r->ep.ha1_md5, r->cred->ha1_md5,
				     strlen(r->cred->ha1_md5) + 1)))
		err = EACCES; /* the password changed since it was checked */
	base_wipe(&r->ep, sizeof(r->ep));
	if (err)
		return err;
	r->cur.n = 0;
	err = st->ops->binding_list(st, r->endpoint_ref, r->req->now_ms,
				    svc_bindings_add, &r->cur);
	if (err)
		return err;
	err = model_register_apply(r->cur.b, r->cur.n, r->req, r->lim,
				   r->out->b, &r->out->n);
	for (unsigned i = 0; !err && i < r->out->n; i++)
		r->out->b[i].endpoint_ref = r->endpoint_ref;
	if (!err)
		err = st->ops->binding_replace(st, r->endpoint_ref, r->out->b,
					       r->out->n);
	return err;
}

int svc_register(struct svc *s, const char *username, const char *domain,
		 const struct svc_sip_cred *cred,
		 const struct model_reg_request *req,
		 const struct model_reg_limits *lim, struct svc_bindings *out)
{
	/* Not zeroed (80 KiB): do_register sets what it reads. */
	struct reg *r = malloc(sizeof(*r));
	int err;

	if (!r)
		return ENOMEM;
	r->cur.n = 0;
	r->username = username;
	r->domain = domain;
	r->cred = cred;
	r->endpoint_ref = cred->endpoint_ref;
	r->req = req;
	r->lim = lim;
	r->out = out;
	err = svc_txn_run(s, SVC_TXN_LAZY, do_register, r);
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

	return svc_txn_run(s, SVC_TXN_LAZY, do_drop, &w);
}
