/* svc.c - the rules of api-contract.md that need the store, one txn each. */
#include "svc/svc.h"

#include <ctype.h>
#include <errno.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "base/crypto.h"
#include "base/id.h"
#include "base/log.h"
#include "base/text.h"

#include "base/time.h"
#include "svc/group.h"

#define TXN_ATTEMPTS 20
#define ID_ATTEMPTS 8

struct svc {
	const struct store_ops *ops;
	char url[1024];
	pthread_key_t key;
	struct svc_group *group; /* write funnel, for serial_writes stores */
	/* Constant-time stand-in for unknown accounts' token hash. */
	char dummy_hash[MODEL_HASH_MAX];
};

static void close_store(void *p)
{
	struct store *st = p;

	if (st)
		st->ops->close(st);
}

/* The calling thread's connection, opened on first use. */
static int thread_store(struct svc *s, struct store **out)
{
	struct store *st = pthread_getspecific(s->key);
	int err;

	if (!st) {
		err = s->ops->open(s->url, &st);
		if (err)
			return err;
		pthread_setspecific(s->key, st);
	}
	*out = st;
	return 0;
}

/* Drops the calling thread's connection so the next call reconnects. */
static void drop_store(struct svc *s)
{
	struct store *st = pthread_getspecific(s->key);

	if (st) {
		pthread_setspecific(s->key, NULL);
		st->ops->close(st);
	}
}

typedef int (*txn_fn)(struct store *st, void *arg);

enum txn_mode {
	TXN_READ,
	TXN_WRITE, /* durable when committed: API writes */
	TXN_LAZY,  /* may be lost in a crash: registrations, sweeps */
};

/*
 * Runs fn in one transaction, committing on 0 and rolling back otherwise;
 * retries the whole transaction on EBUSY (lock timeout or serialization
 * failure), so fn must not have effects outside the store.
 */
/*
 * Sleeps a little before a retry: 1-5 ms times the attempt, with jitter, so
 * that transactions that conflicted (PostgreSQL serialization failures)
 * do not meet again at once.
 */
static void backoff(int attempt)
{
	unsigned char j = 0;
	struct timespec ts;

	base_rand_fill(&j, 1);
	ts.tv_sec = 0;
	ts.tv_nsec =
	    (long)(attempt < 10 ? attempt : 10) * (1000000L + j * 16000L);
	nanosleep(&ts, NULL);
}

static int txn(struct svc *s, enum txn_mode mode, txn_fn fn, void *arg)
{
	bool write = mode != TXN_READ, reconnected = false;
	struct store *st;
	int err = EBUSY;

	/*
	 * Durable writes share the group commit. Lazy ones (the registrar's,
	 * from its one thread) need no fsync, so they commit at once on the
	 * caller's connection rather than wait for a group.
	 */
	if (mode == TXN_WRITE && s->group)
		return svc_group_run(s->group, fn, arg);
	for (int attempt = 0; attempt < TXN_ATTEMPTS && err == EBUSY;
	     attempt++) {
		bool fresh = !pthread_getspecific(s->key);

		/* Past the caller's deadline: give up, nothing changed. */
		if (base_deadline_left_ms(1) == 0) {
			err = ETIMEDOUT;
			break;
		}
		if (attempt)
			backoff(attempt);
		err = thread_store(s, &st);
		if (err)
			break;
		err = write ? st->ops->durable(st, mode == TXN_WRITE) : 0;
		if (!err)
			err = st->ops->begin(st, write);
		if (err == EIO && !fresh && !reconnected) {
			/*
			 * The connection died while idle (the database
			 * restarted): nothing was done yet, so reconnect and
			 * go on.
			 */
			drop_store(s);
			reconnected = true;
			err = EBUSY;
			attempt--;
			continue;
		}
		if (err)
			goto failed;
		err = fn(st, arg);
		if (!err)
			err = st->ops->commit(st);
		if (err)
			st->ops->rollback(st);
	failed:
		if (err == EIO || err == ETIMEDOUT)
			drop_store(s);
	}
	return err;
}

int svc_open(struct svc **out, const struct store_ops *ops, const char *url)
{
	struct svc *s;
	struct store *st;
	int err;

	s = calloc(1, sizeof(*s));
	if (!s)
		return ENOMEM;
	s->ops = ops;
	if (strlen(url) >= sizeof(s->url)) {
		free(s);
		return ERANGE;
	}
	memcpy(s->url, url, strlen(url) + 1);
	memset(s->dummy_hash, '0', 64);
	if (pthread_key_create(&s->key, close_store) != 0) {
		free(s);
		return ENOMEM;
	}
	err = thread_store(s, &st);
	if (!err)
		err = st->ops->migrate(st);
	if (!err && ops->serial_writes)
		err = svc_group_start(&s->group, ops, url);
	if (err) {
		svc_close(s);
		return err;
	}
	*out = s;
	return 0;
}

void svc_close(struct svc *s)
{
	if (!s)
		return;
	svc_group_stop(s->group);
	drop_store(s);
	pthread_key_delete(s->key);
	free(s);
}

/* ---- accounts ---- */

static int token_hash(const char *token, char *out, size_t cap)
{
	return base_digest_hex(BASE_DIGEST_SHA256, token, strlen(token), out,
			       cap);
}

static int do_account_insert(struct store *st, void *arg)
{
	return st->ops->account_insert(st, arg);
}

int svc_account_create(struct svc *s, const char *name, const char *domain,
		       struct model_account *out, char *token, size_t cap)
{
	struct model_errors errs = {0};
	struct model_account a = {0};
	char tok[BASE_TOKEN_LEN + 1];
	int err;

	if (model_domain_check(domain, "domain", &errs) ||
	    base_text_check(name, strlen(name), 0, 128) ||
	    cap <= BASE_TOKEN_LEN)
		return EINVAL;
	snprintf(a.name, sizeof(a.name), "%s", name);
	/* Domains (and so SIP realms) are case-insensitive: keep one form. */
	for (size_t i = 0; domain[i]; i++)
		a.domain[i] = (char)tolower((unsigned char)domain[i]);

	err = base_id_token(tok, sizeof(tok));
	if (!err)
		err = token_hash(tok, a.token_sha256, sizeof(a.token_sha256));
	for (int i = 0; !err && i < ID_ATTEMPTS; i++) {
		a.created_ms = base_time_now_ms();
		err = base_id_auth(a.auth_id, sizeof(a.auth_id));
		if (!err)
			err = txn(s, TXN_WRITE, do_account_insert, &a);
		if (err != EEXIST)
			break;
	}
	if (!err) {
		*out = a;
		memcpy(token, tok, BASE_TOKEN_LEN + 1);
		LOG_INFO("account_created", "auth_id=%s domain=%s", a.auth_id,
			 a.domain);
	}
	base_wipe(tok, sizeof(tok));
	return err;
}

static int do_account_count(struct store *st, void *arg)
{
	return st->ops->account_count(st, arg);
}

int svc_account_count(struct svc *s, int64_t *n)
{
	return txn(s, TXN_READ, do_account_count, n);
}

struct acct_get {
	const char *auth_id;
	struct model_account *out;
};

static int do_account_get(struct store *st, void *arg)
{
	struct acct_get *g = arg;

	return st->ops->account_get(st, g->auth_id, g->out);
}

/*
 * Accounts never change once created (no API changes them), so each thread
 * remembers the ones it has read for a few seconds: authentication then
 * costs no store read. Only the token's hash is kept, as in the store.
 */
#define ACCOUNT_CACHE 64
#define ACCOUNT_CACHE_S 10

static __thread struct {
	const struct svc *svc;
	int64_t until_s;
	struct model_account a;
} account_cache[ACCOUNT_CACHE];

static unsigned account_slot(const char *auth_id)
{
	uint32_t h = 2166136261u;

	for (const char *p = auth_id; *p; p++)
		h = (h ^ (unsigned char)*p) * 16777619u;
	return h % ACCOUNT_CACHE;
}

/* Reads the account, through this thread's cache. */
static int account_read(struct svc *s, const char *auth_id,
			struct model_account *a)
{
	unsigned i = account_slot(auth_id);
	int64_t now = base_time_mono_s();
	struct acct_get g = {auth_id, a};
	int err;

	if (account_cache[i].svc == s && account_cache[i].until_s > now &&
	    strcmp(account_cache[i].a.auth_id, auth_id) == 0) {
		*a = account_cache[i].a;
		return 0;
	}
	err = txn(s, TXN_READ, do_account_get, &g);
	if (!err) {
		account_cache[i].svc = s;
		account_cache[i].until_s = now + ACCOUNT_CACHE_S;
		account_cache[i].a = *a;
	}
	return err;
}

int svc_account_auth(struct svc *s, const char *auth_id, const char *token,
		     struct model_account *out)
{
	struct model_account a;
	char h[MODEL_HASH_MAX];
	const char *want;
	int err, herr;

	err = account_read(s, auth_id, &a);
	if (err && err != ENOENT)
		return err;
	herr = token_hash(token, h, sizeof(h));
	if (herr)
		return herr;
	/* Compare even for an unknown account, so timing reveals nothing. */
	want = err ? s->dummy_hash : a.token_sha256;
	if (!base_secure_eq(h, want, 64) || err)
		return EACCES;
	*out = a;
	return 0;
}

/* ---- applications ---- */

void svc_app_input_init(struct svc_app_input *in)
{
	memset(in, 0, sizeof(*in));
	in->default_endpoint_app = -1;
}

/* Checks every present field of in; required ones when `create`. */
static void app_validate(const struct svc_app_input *in, bool create,
			 struct model_app *a, struct model_errors *errs)
{
	static const struct {
		const char *name;
		size_t url_off, method_off;
		size_t in_url, in_method;
		bool required;
	} urls[] = {
	    {"answer", offsetof(struct model_app, answer_url),
	     offsetof(struct model_app, answer_method),
	     offsetof(struct svc_app_input, answer_url),
	     offsetof(struct svc_app_input, answer_method), true},
	    {"hangup", offsetof(struct model_app, hangup_url),
	     offsetof(struct model_app, hangup_method),
	     offsetof(struct svc_app_input, hangup_url),
	     offsetof(struct svc_app_input, hangup_method), false},
	    {"fallback", offsetof(struct model_app, fallback_answer_url),
	     offsetof(struct model_app, fallback_method),
	     offsetof(struct svc_app_input, fallback_answer_url),
	     offsetof(struct svc_app_input, fallback_method), false},
	    {"message", offsetof(struct model_app, message_url),
	     offsetof(struct model_app, message_method),
	     offsetof(struct svc_app_input, message_url),
	     offsetof(struct svc_app_input, message_method), false},
	};
	static const char *const url_field[] = {
	    "answer_url", "hangup_url", "fallback_answer_url", "message_url"};
	static const char *const method_field[] = {
	    "answer_method", "hangup_method", "fallback_method",
	    "message_method"};

	if (in->app_name) {
		if (!model_app_name_check(in->app_name, strlen(in->app_name),
					  "app_name", errs))
			snprintf(a->app_name, sizeof(a->app_name), "%s",
				 in->app_name);
	} else if (create) {
		model_errors_add(errs, "app_name", "app_name is required");
	}
	for (unsigned i = 0; i < 4; i++) {
		const char *url =
		    *(const char *const *)((const char *)in + urls[i].in_url);
		const char *method = *(const char *const *)((const char *)in +
							    urls[i].in_method);
		char *dst_url = (char *)a + urls[i].url_off;
		char *dst_method = (char *)a + urls[i].method_off;

		if (url) {
			if (*url == '\0' && !urls[i].required)
				dst_url[0] = '\0';
			else if (!model_url_check(url, strlen(url),
						  url_field[i], errs))
				snprintf(dst_url, MODEL_URL_MAX + 1, "%s", url);
		} else if (create && urls[i].required) {
			model_errors_add(errs, url_field[i], "%s is required",
					 url_field[i]);
		}
		if (method)
			model_method_check(method, method_field[i], dst_method,
					   MODEL_METHOD_MAX, errs);
		else if (create)
			snprintf(dst_method, MODEL_METHOD_MAX, "POST");
	}
	if (in->default_endpoint_app >= 0)
		a->default_endpoint_app = in->default_endpoint_app != 0;
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
	for (int i = 0; err == EEXIST && i < ID_ATTEMPTS; i++) {
		err = base_id_decimal(a->app_id, sizeof(a->app_id),
				      MODEL_APP_ID_DIGITS);
		if (!err)
			err = txn(s, TXN_WRITE, do_app_create, a);
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

	return txn(s, TXN_READ, do_app_get, &g);
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
	err = txn(s, TXN_WRITE, do_app_update, u);
	free(u);
	return err;
}

struct app_list {
	const struct model_account *acct;
	int64_t limit, offset;
	store_app_cb cb;
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
		 int64_t offset, store_app_cb cb, void *ctx, int64_t *total)
{
	struct app_list l = {acct, limit, offset, cb, ctx, total};

	return txn(s, TXN_READ, do_app_list, &l);
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
	err = txn(s, TXN_WRITE, do_app_delete, d);
	free(d);
	return err;
}

/* ---- endpoints ---- */

void svc_endpoint_input_init(struct svc_endpoint_input *in)
{
	memset(in, 0, sizeof(*in));
	in->app_mode = SVC_APP_ABSENT;
	for (int i = 0; i < MODEL_ALLOW_COUNT; i++)
		in->allow[i] = -1;
}

/* Checks the text fields of in (all present ones). */
static void endpoint_validate(const struct svc_endpoint_input *in,
			      struct model_errors *errs)
{
	if (in->username)
		model_username_check(in->username, strlen(in->username),
				     "username", errs);
	if (in->password)
		model_password_check(in->password, strlen(in->password),
				     "password", errs);
	if (in->alias)
		model_alias_check(in->alias, strlen(in->alias), "alias", errs);
	if (in->app_mode == SVC_APP_SET && model_id_check(in->app_id))
		model_errors_add(errs, "application",
				 "Application must be an application id");
}

/* Resolves in's application to ep->app_ref within the account. */
static int resolve_app(struct store *st, const struct model_account *acct,
		       const struct svc_endpoint_input *in,
		       struct model_endpoint *ep, struct model_errors *errs,
		       bool create)
{
	struct model_app app;
	int err;

	if (in->app_mode == SVC_APP_NONE) {
		ep->app_ref = 0;
		return 0;
	}
	if (in->app_mode == SVC_APP_ABSENT) {
		if (!create)
			return 0;
		err = st->ops->app_get_default(st, acct->id, &app);
		if (err == ENOENT)
			return 0;
	} else {
		if (model_id_check(in->app_id))
			return 0; /* already reported by endpoint_validate */
		err = st->ops->app_get(st, acct->id, in->app_id, &app);
		if (err == ENOENT) {
			model_errors_add(errs, "application",
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
		model_errors_add(w->errs, "application", "Unknown application");
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

	if (!in->username)
		model_errors_add(errs, "username", "username is required");
	if (!in->password)
		model_errors_add(errs, "password", "password is required");
	endpoint_validate(in, errs);
	w = calloc(1, sizeof(*w));
	if (!w)
		return ENOMEM;
	w->acct = acct;
	w->in = in;
	w->errs = errs;
	ep = &w->next;
	ep->account_id = acct->id;
	snprintf(ep->username, sizeof(ep->username), "%s",
		 in->username ? in->username : "");
	snprintf(ep->domain, sizeof(ep->domain), "%s", acct->domain);
	snprintf(ep->alias, sizeof(ep->alias), "%s",
		 in->alias ? in->alias : ep->username);
	for (int i = 0; i < MODEL_ALLOW_COUNT; i++)
		ep->allow[i] = in->allow[i] >= 0 ? in->allow[i] != 0
						 : model_allow_defaults[i];
	ep->created_ms = ep->updated_ms = base_time_now_ms();
	err = errs->n ? 0 : set_ha1(ep, in->password);
	/*
	 * Runs even with errors, to report an unknown application too. A
	 * unique clash is a taken username (409) or, rarely, a random
	 * endpoint_id clash, retried with a new id in a new transaction.
	 */
	for (int i = 0; !err && i < ID_ATTEMPTS; i++) {
		err = base_id_decimal(ep->endpoint_id, sizeof(ep->endpoint_id),
				      MODEL_ENDPOINT_ID_DIGITS);
		if (!err)
			err = txn(s, TXN_WRITE, do_endpoint_create, w);
		if (err != ECANCELED)
			break;
		err = txn(s, TXN_READ, do_username_taken, ep);
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

static int add_binding(void *ctx, const struct model_binding *b)
{
	struct svc_bindings *bs = ctx;

	if (bs->n < MODEL_BINDINGS_MAX)
		bs->b[bs->n++] = *b;
	return 0;
}

/* Reads the endpoint's live bindings into bs. */
static int read_bindings(struct store *st, int64_t endpoint_ref,
			 struct svc_bindings *bs)
{
	bs->n = 0;
	return st->ops->binding_list(st, endpoint_ref, base_time_now_ms(),
				     add_binding, bs);
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
		err = read_bindings(st, g->out->id, g->bs);
	return err;
}

int svc_endpoint_get(struct svc *s, const struct model_account *acct,
		     const char *endpoint_id, struct model_endpoint *out,
		     struct svc_bindings *bs)
{
	struct ep_get g = {acct, endpoint_id, out, bs};

	return txn(s, TXN_READ, do_endpoint_get, &g);
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
	err = resolve_app(st, w->acct, in, ep, w->errs, false);
	if (err || w->errs->n)
		return err ? err : EINVAL;
	if (in->alias)
		snprintf(ep->alias, sizeof(ep->alias), "%s", in->alias);
	for (int i = 0; i < MODEL_ALLOW_COUNT; i++)
		if (in->allow[i] >= 0 && model_allow_mutable[i])
			ep->allow[i] = in->allow[i] != 0;
	if (in->password) {
		err = set_ha1(ep, in->password);
		if (err)
			return err;
	}
	if (in->app_mode == SVC_APP_NONE)
		memset(&ep->app, 0, sizeof(ep->app));
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

	endpoint_validate(in, errs);
	w = calloc(1, sizeof(*w));
	if (!w)
		return ENOMEM;
	w->acct = acct;
	w->endpoint_id = endpoint_id;
	w->in = in;
	w->errs = errs;
	err = txn(s, TXN_WRITE, do_endpoint_update, w);
	if (!err && memcmp(&w->cur.ha1_md5, &w->next.ha1_md5,
			   sizeof(w->cur.ha1_md5)) != 0)
		LOG_INFO("endpoint_password_changed",
			 "auth_id=%s endpoint_id=%s", acct->auth_id,
			 endpoint_id);
	base_wipe(w, sizeof(*w));
	free(w);
	return err;
}

struct ep_list {
	const struct model_account *acct;
	const struct store_endpoint_filter *f;
	int64_t limit, offset;
	svc_endpoint_cb cb;
	void *ctx;
	int64_t *total;
	struct store *st;
	struct svc_bindings bs;
};

/* Adds each listed endpoint's bindings, read in the same transaction. */
static int list_one(void *arg, const struct model_endpoint *ep)
{
	struct ep_list *l = arg;
	int err = read_bindings(l->st, ep->id, &l->bs);

	return err ? err : l->cb(l->ctx, ep, &l->bs);
}

static int do_endpoint_list(struct store *st, void *arg)
{
	struct ep_list *l = arg;

	l->st = st;
	return st->ops->endpoint_list(st, l->acct->id, l->f, l->limit,
				      l->offset, list_one, l, l->total);
}

int svc_endpoint_list(struct svc *s, const struct model_account *acct,
		      const struct store_endpoint_filter *f, int64_t limit,
		      int64_t offset, svc_endpoint_cb cb, void *ctx,
		      int64_t *total)
{
	struct ep_list *l = malloc(sizeof(*l)); /* not zeroed: 38 KiB */
	int err;

	if (!l)
		return ENOMEM;
	l->acct = acct;
	l->f = f;
	l->limit = limit;
	l->offset = offset;
	l->cb = cb;
	l->ctx = ctx;
	l->total = total;
	l->st = NULL;
	l->bs.n = 0;
	err = txn(s, TXN_READ, do_endpoint_list, l);
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
	int err = txn(s, TXN_WRITE, do_endpoint_delete, &g);

	base_wipe(&ep, sizeof(ep)); /* holds the HA1 values */
	if (!err)
		LOG_INFO("endpoint_deleted", "auth_id=%s endpoint_id=%s",
			 acct->auth_id, endpoint_id);
	return err;
}

/* ---- registrar ---- */

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

	return txn(s, TXN_READ, do_sip_credentials, &g);
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
				    add_binding, &r->cur);
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
	err = txn(s, TXN_LAZY, do_register, r);
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

	return txn(s, TXN_LAZY, do_sweep, &w);
}

/* ---- moving between stores ---- */

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
						 add_binding, &c->bs);
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
	struct store_endpoint_filter all = {.app_isnull = -1};
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
		err = c->from->ops->begin(c->from, false);
	if (!err) {
		err = c->to->ops->begin(c->to, true);
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
