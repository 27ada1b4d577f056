/*
 * copy.c - `sipward db copy`: everything in one store copied into an empty
 * one, ids, token hashes and HA1 values kept, in one transaction; and
 * `sipward db backup`: the backend's online copy into a file.
 */
#include <errno.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "base/crypto.h"
#include "base/time.h"
#include "svc/internal.h"

struct copy {
	struct store *from, *to;
	struct svc_copy_stats *stats;
	int64_t to_account; /* the account being copied, in the target */
	struct model_app app;
	struct svc_bindings bs;
	int64_t now_ms;
};

static int copy_app(void *arg, const struct model_app *a)
{
	struct copy *c = arg;

	c->app = *a;
	c->app.account_id = c->to_account;
	c->stats->applications++;
	return c->to->ops->app_insert(c->to, &c->app);
}

static int copy_endpoint(void *arg, const struct model_endpoint *e)
{
	struct copy *c = arg;
	struct model_endpoint ep = *e;
	int err = 0;

	ep.account_id = c->to_account;
	ep.app_ref = 0;
	if (e->app_ref) {
		/* Applications keep their app_id: find the new row by it. */
		err = c->to->ops->app_get(c->to, c->to_account, e->app.app_id,
					  &c->app);
		ep.app_ref = c->app.id;
	}
	if (!err)
		err = c->to->ops->endpoint_insert(c->to, &ep);
	c->bs.n = 0;
	if (!err)
		err = c->from->ops->binding_list(c->from, e->id, c->now_ms,
						 svc_bindings_add, &c->bs);
	for (unsigned i = 0; i < c->bs.n; i++)
		c->bs.b[i].endpoint_ref = ep.id;
	if (!err && c->bs.n)
		err =
		    c->to->ops->binding_replace(c->to, ep.id, c->bs.b, c->bs.n);
	c->stats->endpoints++;
	c->stats->registrations += c->bs.n;
	base_wipe(&ep, sizeof(ep));
	return err;
}

static int copy_account(void *arg, const struct model_account *a)
{
	struct copy *c = arg;
	struct store_endpoint_filter all = {.app_isnull = -1, .registered = -1};
	struct model_account na = *a;
	int64_t total = 0;
	int err;

	err = c->to->ops->account_insert(c->to, &na);
	if (err)
		return err;
	c->stats->accounts++;
	c->to_account = na.id;
	/* Applications first, so that endpoints can refer to them. */
	err = c->from->ops->app_list(c->from, a->id, INT64_MAX, 0, copy_app, c,
				     &total);
	if (!err)
		err =
		    c->from->ops->endpoint_list(c->from, a->id, &all, INT64_MAX,
						0, copy_endpoint, c, &total);
	return err;
}

int svc_db_copy(const struct store_ops *from_ops, const char *from_url,
		const struct store_ops *to_ops, const char *to_url,
		struct svc_copy_stats *stats)
{
	struct copy *c = calloc(1, sizeof(*c));
	int64_t n = 0;
	int err;

	if (!c)
		return ENOMEM;
	memset(stats, 0, sizeof(*stats));
	c->stats = stats;
	c->now_ms = base_time_now_ms();
	err = from_ops->open(from_url, &c->from);
	if (!err)
		err = from_ops->migrate(c->from);
	if (!err)
		err = to_ops->open(to_url, &c->to);
	if (!err)
		err = to_ops->migrate(c->to);
	if (!err)
		err = c->from->ops->begin(c->from, STORE_TXN_READ);
	if (!err) {
		err = c->to->ops->begin(c->to, STORE_TXN_WRITE);
		if (!err)
			err = c->to->ops->account_count(c->to, &n);
		if (!err && n > 0)
			err = EEXIST;
		if (!err)
			err = c->from->ops->account_list(c->from, copy_account,
							 c);
		if (!err)
			err = c->to->ops->commit(c->to);
		if (err)
			c->to->ops->rollback(c->to);
		c->from->ops->rollback(c->from);
	}
	if (c->from)
		c->from->ops->close(c->from);
	if (c->to)
		c->to->ops->close(c->to);
	free(c);
	return err;
}

int svc_db_backup(const struct store_ops *ops, const char *url,
		  const char *path, bool replace,
		  struct svc_backup_stats *stats, char *why, size_t cap)
{
	struct store_backup_stats st;
	int64_t t0 = base_time_mono_ms();
	int err;

	if (!ops->backup) {
		snprintf(why, cap, "the %s backend has no online backup",
			 ops->name);
		return ENOTSUP;
	}
	err =
	    ops->backup(url, path, replace, SVC_BACKUP_BUSY_MS, &st, why, cap);
	if (err)
		return err;
	stats->pages = st.pages;
	stats->bytes = st.bytes;
	stats->ms = base_time_mono_ms() - t0;
	return 0;
}
