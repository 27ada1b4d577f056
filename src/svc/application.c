/*
 * application.c - applications: their field rules (model_app_fields),
 * at most one default per account, and deletion with the endpoints that
 * use one (refused, moved or cascaded).
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "base/id.h"
#include "base/time.h"
#include "svc/internal.h"

void svc_app_input_init(struct svc_app_input *in)
{
	memset(in, 0, sizeof(*in));
}

/*
 * Applies in to a by model_app_fields: at creation required fields and
 * defaults too, after it the fields sent.
 */
static void app_validate(const struct svc_app_input *in, bool create,
			 struct model_app *a, struct model_errors *errs)
{
	model_fields_apply(model_app_fields, MODEL_APP_FIELDS, in->v, create, a,
			   errs);
}

static int do_app_create(struct store *st, void *arg)
{
	struct model_app *a = arg;
	int err;

	err = st->ops->app_insert(st, a);
	if (!err && a->default_endpoint_app)
		err = st->ops->app_clear_default(st, a->account_id, a->id,
						 a->updated_ms);
	return err;
}

int svc_app_create(struct svc *s, const struct model_account *acct,
		   const struct svc_app_input *in, struct model_errors *errs,
		   struct model_app *out)
{
	struct model_app *a;
	int err;

	a = calloc(1, sizeof(*a));
	if (!a)
		return ENOMEM;
	app_validate(in, true, a, errs);
	if (errs->n) {
		err = EINVAL;
		goto out;
	}
	a->account_id = acct->id;
	a->created_ms = a->updated_ms = base_time_now_ms();
	/*
	 * A clash of random ids is retried with a new id in a new transaction:
	 * after an error, a PostgreSQL transaction can do nothing more.
	 */
	err = EEXIST;
	for (int i = 0; err == EEXIST && i < SVC_ID_ATTEMPTS; i++) {
		err = base_id_decimal(a->app_id, sizeof(a->app_id),
				      MODEL_APP_ID_DIGITS);
		if (!err)
			err = svc_txn_run(s, SVC_TXN_WRITE, do_app_create, a);
	}
	if (!err)
		*out = *a;
out:
	free(a);
	return err;
}

struct app_get {
	const struct model_account *acct;
	const char *app_id;
	struct model_app *out;
};

static int do_app_get(struct store *st, void *arg)
{
	struct app_get *g = arg;

	if (model_id_check(g->app_id))
		return ENOENT;
	return st->ops->app_get(st, g->acct->id, g->app_id, g->out);
}

int svc_app_get(struct svc *s, const struct model_account *acct,
		const char *app_id, struct model_app *out)
{
	struct app_get g = {acct, app_id, out};

	return svc_txn_run(s, SVC_TXN_READ, do_app_get, &g);
}

struct app_update {
	const struct model_account *acct;
	const char *app_id;
	const struct svc_app_input *in;
	struct model_errors *errs;
	struct model_app cur, next;
};

static int do_app_update(struct store *st, void *arg)
{
	struct app_update *u = arg;
	int err;

	if (model_id_check(u->app_id))
		return ENOENT;
	err = st->ops->app_get(st, u->acct->id, u->app_id, &u->cur);
	if (err)
		return err;
	u->next = u->cur;
	app_validate(u->in, false, &u->next, u->errs);
	if (u->errs->n)
		return EINVAL;
	u->next.updated_ms = u->cur.updated_ms;
	if (memcmp(&u->next, &u->cur, sizeof(u->cur)) == 0)
		return 0;
	u->next.updated_ms = base_time_now_ms();
	if (u->next.updated_ms <= u->cur.updated_ms)
		u->next.updated_ms = u->cur.updated_ms + 1;
	err = st->ops->app_update(st, &u->next);
	if (!err && u->next.default_endpoint_app)
		err = st->ops->app_clear_default(st, u->acct->id, u->next.id,
						 u->next.updated_ms);
	return err;
}

int svc_app_update(struct svc *s, const struct model_account *acct,
		   const char *app_id, const struct svc_app_input *in,
		   struct model_errors *errs)
{
	struct app_update *u;
	int err;

	u = calloc(1, sizeof(*u));
	if (!u)
		return ENOMEM;
	u->acct = acct;
	u->app_id = app_id;
	u->in = in;
	u->errs = errs;
	err = svc_txn_run(s, SVC_TXN_WRITE, do_app_update, u);
	free(u);
	return err;
}

struct app_list {
	const struct model_account *acct;
	int64_t limit, offset;
	svc_app_cb cb;
	void *ctx;
	int64_t *total;
};

static int do_app_list(struct store *st, void *arg)
{
	struct app_list *l = arg;

	return st->ops->app_list(st, l->acct->id, l->limit, l->offset, l->cb,
				 l->ctx, l->total);
}

int svc_app_list(struct svc *s, const struct model_account *acct, int64_t limit,
		 int64_t offset, svc_app_cb cb, void *ctx, int64_t *total)
{
	struct app_list l = {acct, limit, offset, cb, ctx, total};

	return svc_txn_run(s, SVC_TXN_READ, do_app_list, &l);
}

struct app_delete {
	const struct model_account *acct;
	const char *app_id;
	const char *move_to;
	bool cascade;
	struct model_errors *errs;
	int64_t *in_use;
	struct model_app app, target;
};

static int do_app_delete(struct store *st, void *arg)
{
	struct app_delete *d = arg;
	int64_t n = 0;
	int err;

	if (model_id_check(d->app_id))
		return ENOENT;
	err = st->ops->app_get(st, d->acct->id, d->app_id, &d->app);
	if (err)
		return err;
	if (d->move_to) {
		if (model_id_check(d->move_to) ||
		    st->ops->app_get(st, d->acct->id, d->move_to, &d->target) !=
			0) {
			model_errors_add(d->errs, "new_endpoint_application",
					 "Unknown application");
			return EINVAL;
		}
		if (d->target.id == d->app.id) {
			model_errors_add(d->errs, "new_endpoint_application",
					 "Must differ from the application "
					 "being deleted");
			return EINVAL;
		}
	}
	err = st->ops->app_endpoint_count(st, d->app.id, &n);
	if (err)
		return err;
	if (n > 0) {
		if (d->move_to)
			err = st->ops->endpoints_reassign(
			    st, d->app.id, d->target.id, base_time_now_ms());
		else if (d->cascade)
			err = st->ops->endpoints_delete_by_app(st, d->app.id);
		else {
			*d->in_use = n;
			return EEXIST;
		}
		if (err)
			return err;
	}
	return st->ops->app_delete(st, d->app.id);
}

int svc_app_delete(struct svc *s, const struct model_account *acct,
		   const char *app_id, const char *move_to, bool cascade,
		   struct model_errors *errs, int64_t *in_use)
{
	struct app_delete *d;
	int err;

	d = calloc(1, sizeof(*d));
	if (!d)
		return ENOMEM;
	d->acct = acct;
	d->app_id = app_id;
	d->move_to = move_to;
	d->cascade = cascade;
	d->errs = errs;
	d->in_use = in_use;
	err = svc_txn_run(s, SVC_TXN_WRITE, do_app_delete, d);
	free(d);
	return err;
}
