/*
 * endpoint.c - endpoints: their field rules (model_endpoint_fields), the
 * username's uniqueness in its domain, HA1 values in place of the
 * password, and the end of every registration when the password changes.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "base/crypto.h"
#include "base/id.h"
#include "base/log.h"
#include "base/time.h"
#include "svc/group.h"
#include "svc/internal.h"

/* The application field, for its name in errors. */
static const struct model_field *const app_field =
    &model_endpoint_fields[MODEL_EP_APPLICATION];

void svc_endpoint_input_init(struct svc_endpoint_input *in)
{
	memset(in, 0, sizeof(*in));
}

/* Resolves in's application to ep->app_ref within the account. */
static int resolve_app(struct store *st, const struct model_account *acct,
		       const struct svc_endpoint_input *in,
		       struct model_endpoint *ep, struct model_errors *errs,
		       bool create)
{
	const struct model_value *v = &in->v[MODEL_EP_APPLICATION];
	struct model_app app;
	int err;

	if (v->state == MODEL_NULL) {
		ep->app_ref = 0;
		memset(&ep->app, 0, sizeof(ep->app));
		return 0;
	}
	if (v->state == MODEL_ABSENT) {
		if (!create || app_field->def != MODEL_DEF_ACCOUNT_APP)
			return 0;
		err = st->ops->app_get_default(st, acct->id, &app);
		if (err == ENOENT)
			return 0;
	} else {
		if (model_id_check(v->id))
			return 0; /* already reported by model_field_apply */
		err = st->ops->app_get(st, acct->id, v->id, &app);
		if (err == ENOENT) {
			model_errors_add(errs, app_field->name,
					 "Unknown application");
			return EINVAL;
		}
	}
	if (err)
		return err;
	ep->app_ref = app.id;
	snprintf(ep->app.app_id, sizeof(ep->app.app_id), "%s", app.app_id);
	snprintf(ep->app.app_name, sizeof(ep->app.app_name), "%s",
		 app.app_name);
	snprintf(ep->app.answer_url, sizeof(ep->app.answer_url), "%s",
		 app.answer_url);
	snprintf(ep->app.answer_method, sizeof(ep->app.answer_method), "%s",
		 app.answer_method);
	return 0;
}

/* Sets both HA1 values of ep from its username, domain and password. */
static int set_ha1(struct model_endpoint *ep, const char *password)
{
	int err = base_ha1(BASE_DIGEST_MD5, ep->username, ep->domain, password,
			   ep->ha1_md5, sizeof(ep->ha1_md5));

	if (!err)
		err =
		    base_ha1(BASE_DIGEST_SHA256, ep->username, ep->domain,
			     password, ep->ha1_sha256, sizeof(ep->ha1_sha256));
	return err;
}

struct ep_write {
	const struct model_account *acct;
	const char *endpoint_id;
	const struct svc_endpoint_input *in;
	struct model_errors *errs;
	struct model_endpoint cur, next;
};

static int do_endpoint_create(struct store *st, void *arg)
{
	struct ep_write *w = arg;
	struct model_endpoint *ep = &w->next;
	struct model_endpoint other;
	int err;

	err = resolve_app(st, w->acct, w->in, ep, w->errs, true);
	if (err || w->errs->n)
		return err ? err : EINVAL;
	err =
	    st->ops->endpoint_get_by_user(st, ep->username, ep->domain, &other);
	if (err != ENOENT)
		return err ? err : EEXIST;
	err = st->ops->endpoint_insert(st, ep);
	if (err == ENOENT) {
		/* Its application was deleted since resolve_app read it. */
		model_errors_add(w->errs, app_field->name,
				 "Unknown application");
		return EINVAL;
	}
	/* A username taken meanwhile, or an id clash: the caller sorts. */
	return err == EEXIST ? ECANCELED : err;
}

static int do_username_taken(struct store *st, void *arg)
{
	struct model_endpoint *ep = arg;
	struct model_endpoint other;
	int err =
	    st->ops->endpoint_get_by_user(st, ep->username, ep->domain, &other);

	return err == ENOENT ? 0 : err ? err : EEXIST;
}

int svc_endpoint_create(struct svc *s, const struct model_account *acct,
			const struct svc_endpoint_input *in,
			struct model_errors *errs, struct model_endpoint *out)
{
	struct ep_write *w;
	struct model_endpoint *ep;
	int err;

	w = calloc(1, sizeof(*w));
	if (!w)
		return ENOMEM;
	w->acct = acct;
	w->in = in;
	w->errs = errs;
	ep = &w->next;
	ep->account_id = acct->id;
	/* Required fields, checks and defaults (the alias, allow_*). */
	model_fields_apply(model_endpoint_fields, MODEL_EP_FIELDS, in->v, true,
			   ep, errs);
	/* MODEL_DEF_ACCOUNT_DOMAIN; MODEL_DEF_RANDOM_ID is below. */
	snprintf(ep->domain, sizeof(ep->domain), "%s", acct->domain);
	ep->created_ms = ep->updated_ms = base_time_now_ms();
	err = errs->n ? 0 : set_ha1(ep, in->v[MODEL_EP_PASSWORD].text);
	/*
	 * Runs even with errors, to report an unknown application too. A
	 * unique clash is a taken username (409) or, rarely, a random
	 * endpoint_id clash, retried with a new id in a new transaction.
	 */
	for (int i = 0; !err && i < SVC_ID_ATTEMPTS; i++) {
		err = base_id_decimal(ep->endpoint_id, sizeof(ep->endpoint_id),
				      MODEL_ENDPOINT_ID_DIGITS);
		if (!err)
			err = svc_txn_run(s, SVC_TXN_WRITE, do_endpoint_create,
					  w);
		if (err != ECANCELED)
			break;
		err = svc_txn_run(s, SVC_TXN_READ, do_username_taken, ep);
	}
	if (err == ECANCELED)
		err = EIO;
	if (!err) {
		*out = *ep;
		LOG_INFO("endpoint_created", "auth_id=%s endpoint_id=%s",
			 acct->auth_id, ep->endpoint_id);
	}
	base_wipe(w, sizeof(*w));
	free(w);
	return err;
}

struct ep_get {
	const struct model_account *acct;
	const char *endpoint_id;
	struct model_endpoint *out;
	struct svc_bindings *bs;
};

static int do_endpoint_get(struct store *st, void *arg)
{
	struct ep_get *g = arg;
	int err;

	if (model_id_check(g->endpoint_id))
		return ENOENT;
	err = st->ops->endpoint_get(st, g->acct->id, g->endpoint_id, g->out);
	if (!err && g->bs)
		err = svc_bindings_read(st, g->out->id, g->bs);
	return err;
}

int svc_endpoint_get(struct svc *s, const struct model_account *acct,
		     const char *endpoint_id, struct model_endpoint *out,
		     struct svc_bindings *bs)
{
	struct ep_get g = {acct, endpoint_id, out, bs};

	return svc_txn_run(s, SVC_TXN_READ, do_endpoint_get, &g);
}

static int do_endpoint_update(struct store *st, void *arg)
{
	struct ep_write *w = arg;
	const struct svc_endpoint_input *in = w->in;
	struct model_endpoint *ep = &w->next;
	int err;

	if (model_id_check(w->endpoint_id))
		return ENOENT;
	err = st->ops->endpoint_get(st, w->acct->id, w->endpoint_id, &w->cur);
	if (err)
		return err;
	*ep = w->cur;
	/* The fields sent that may change (the others are never applied). */
	model_fields_apply(model_endpoint_fields, MODEL_EP_FIELDS, in->v, false,
			   ep, w->errs);
	err = resolve_app(st, w->acct, in, ep, w->errs, false);
	if (err || w->errs->n)
		return err ? err : EINVAL;
	if (in->v[MODEL_EP_PASSWORD].state == MODEL_SET) {
		err = set_ha1(ep, in->v[MODEL_EP_PASSWORD].text);
		if (err)
			return err;
	}
	if (memcmp(ep, &w->cur, sizeof(*ep)) == 0)
		return 0; /* nothing changed: updated_at stays */
	ep->updated_ms = base_time_now_ms();
	if (ep->updated_ms <= w->cur.updated_ms)
		ep->updated_ms = w->cur.updated_ms + 1;
	err = st->ops->endpoint_update(st, ep);
	/* A new password ends every registration, in the same commit. */
	if (!err && strcmp(ep->ha1_md5, w->cur.ha1_md5) != 0)
		err = st->ops->binding_replace(st, ep->id, NULL, 0);
	return err;
}

int svc_endpoint_update(struct svc *s, const struct model_account *acct,
			const char *endpoint_id,
			const struct svc_endpoint_input *in,
			struct model_errors *errs)
{
	struct ep_write *w;
	int err;

	w = calloc(1, sizeof(*w));
	if (!w)
		return ENOMEM;
	w->acct = acct;
	w->endpoint_id = endpoint_id;
	w->in = in;
	w->errs = errs;
	err = svc_txn_run(s, SVC_TXN_WRITE, do_endpoint_update, w);
	if (!err && memcmp(&w->cur.ha1_md5, &w->next.ha1_md5,
			   sizeof(w->cur.ha1_md5)) != 0)
		LOG_INFO("endpoint_password_changed",
			 "auth_id=%s endpoint_id=%s", acct->auth_id,
			 endpoint_id);
	base_wipe(w, sizeof(*w));
	free(w);
	return err;
}

bool svc_writes_queue(const struct svc *s)
{
	return s->group != NULL;
}

/* A queued update and whom to tell. */
struct ep_update {
	struct ep_write w;
	svc_done_fn done;
	void *arg;
};

static int do_update_job(struct store *st, void *arg)
{
	struct ep_update *u = arg;

	return do_endpoint_update(st, &u->w);
}

/* On the writer's thread, once the group is durable. */
static void update_done(void *arg, int err)
{
	struct ep_update *u = arg;

	if (!err && memcmp(&u->w.cur.ha1_md5, &u->w.next.ha1_md5,
			   sizeof(u->w.cur.ha1_md5)) != 0)
		LOG_INFO("endpoint_password_changed",
			 "auth_id=%s endpoint_id=%s", u->w.acct->auth_id,
			 u->w.endpoint_id);
	u->done(u->arg, err);
	base_wipe(u, sizeof(*u));
	free(u);
}

int svc_endpoint_update_async(struct svc *s, const struct model_account *acct,
			      const char *endpoint_id,
			      const struct svc_endpoint_input *in,
			      struct model_errors *errs, svc_done_fn done,
			      void *arg, int64_t deadline_ms,
			      unsigned queue_max)
{
	struct ep_update *u;
	int err;

	if (!s->group)
		return ENOTSUP;
	u = calloc(1, sizeof(*u));
	if (!u)
		return ENOMEM;
	u->w.acct = acct;
	u->w.endpoint_id = endpoint_id;
	u->w.in = in;
	u->w.errs = errs;
	u->done = done;
	u->arg = arg;
	err = svc_group_submit(s->group, do_update_job, u, update_done,
			       deadline_ms, queue_max);
	if (err)
		free(u);
	return err;
}

struct ep_list {
	const struct model_account *acct;
	struct store_endpoint_filter f;
	int64_t limit, offset, seen;
	bool *more;	   /* a row past the page (read, not listed) */
	const char *after; /* an endpoint_id, or NULL */
	svc_endpoint_cb cb;
	void *ctx;
	int64_t *total;
	struct svc_bindings bs;
	/* the page's live bindings, in endpoint order (read first) */
	struct model_binding *pb;
	size_t npb, cappb, next;
};

/* A store_binding_cb: keeps one of the page's bindings. */
static int page_binding_add(void *ctx, const struct model_binding *b)
{
	struct ep_list *l = ctx;

	if (l->npb == l->cappb) {
		size_t cap = l->cappb ? 2 * l->cappb : 32;
		struct model_binding *nb = realloc(l->pb, cap * sizeof(*nb));
		if (!nb)
			return ENOMEM;
		l->pb = nb;
		l->cappb = cap;
	}
	l->pb[l->npb++] = *b;
	return 0;
}

/* Hands each listed endpoint over with its bindings (read before it, in
 * the same transaction). */
static int list_one(void *arg, const struct model_endpoint *ep)
{
	struct ep_list *l = arg;

	if (l->seen++ == l->limit) {
		*l->more = true; /* the one row read past the page */
		return 0;
	}
	l->bs.n = 0;
	while (l->next < l->npb && l->pb[l->next].endpoint_ref < ep->id)
		l->next++;
	while (l->next < l->npb && l->pb[l->next].endpoint_ref == ep->id) {
		if (l->bs.n < MODEL_BINDINGS_MAX)
			l->bs.b[l->bs.n++] = l->pb[l->next];
		l->next++;
	}
	return l->cb(l->ctx, ep, &l->bs);
}

static int do_endpoint_list(struct store *st, void *arg)
{
	struct ep_list *l = arg;
	int64_t offset = l->offset;
	int err;

	l->seen = 0;
	l->npb = l->next = 0;
	*l->more = false;
	l->f.after_ref = 0;
	if (l->after) {
		struct model_endpoint *ep = malloc(sizeof(*ep));
		if (!ep)
			return ENOMEM;
		err = st->ops->endpoint_get(st, l->acct->id, l->after, ep);
		if (!err) {
			l->f.after_ref = ep->id;
			offset = 0;
		}
		base_wipe(ep, sizeof(*ep));
		free(ep);
		if (err && err != ENOENT)
			return err;
	}
	/* One row more than the page: whether another follows. */
	err = st->ops->binding_list_page(st, l->acct->id, &l->f, l->limit + 1,
					 offset, l->f.now_ms, page_binding_add,
					 l);
	if (!err)
		err =
		    st->ops->endpoint_list(st, l->acct->id, &l->f, l->limit + 1,
					   offset, list_one, l, l->total);
	return err;
}

int svc_endpoint_list(struct svc *s, const struct model_account *acct,
		      const struct svc_endpoint_filter *f, int64_t limit,
		      int64_t offset, const char *after, svc_endpoint_cb cb,
		      void *ctx, int64_t *total, bool *more)
{
	struct ep_list *l = malloc(sizeof(*l)); /* not zeroed: 38 KiB */
	int err;

	if (!l)
		return ENOMEM;
	l->acct = acct;
	l->f.username_exact = f->username_exact;
	l->f.username_contains = f->username_contains;
	l->f.username_startswith = f->username_startswith;
	l->f.alias_exact = f->alias_exact;
	l->f.alias_contains = f->alias_contains;
	l->f.app_id_exact = f->app_id_exact;
	l->f.app_isnull = f->app_isnull;
	l->f.registered = f->registered;
	l->f.now_ms = base_time_now_ms();
	l->f.after_ref = 0;
	l->limit = limit;
	l->offset = offset;
	l->after = after;
	l->more = more;
	l->cb = cb;
	l->ctx = ctx;
	l->total = total;
	l->bs.n = 0;
	l->pb = NULL;
	l->npb = l->cappb = l->next = 0;
	err = svc_txn_run(s, SVC_TXN_READ, do_endpoint_list, l);
	free(l->pb);
	free(l);
	return err;
}

static int do_endpoint_delete(struct store *st, void *arg)
{
	struct ep_get *g = arg;
	int err = do_endpoint_get(st, g);

	if (!err)
		err = st->ops->endpoint_delete(st, g->out->id);
	return err;
}

int svc_endpoint_delete(struct svc *s, const struct model_account *acct,
			const char *endpoint_id)
{
	struct model_endpoint ep;
	struct ep_get g = {acct, endpoint_id, &ep, NULL};
	int err = svc_txn_run(s, SVC_TXN_WRITE, do_endpoint_delete, &g);

	base_wipe(&ep, sizeof(ep)); /* holds the HA1 values */
	if (!err)
		LOG_INFO("endpoint_deleted", "auth_id=%s endpoint_id=%s",
			 acct->auth_id, endpoint_id);
	return err;
}
