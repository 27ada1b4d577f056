/*
 * account.c - accounts: creation with a token shown once, and
 * authentication through a short per-thread cache.
 */
#include <ctype.h>
#include <errno.h>
#include <stdio.h>
#include <string.h>

#include "base/crypto.h"
#include "base/id.h"
#include "base/log.h"
#include "base/text.h"
#include "base/time.h"
#include "svc/internal.h"

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
	for (int i = 0; !err && i < SVC_ID_ATTEMPTS; i++) {
		a.created_ms = base_time_now_ms();
		err = base_id_auth(a.auth_id, sizeof(a.auth_id));
		if (!err)
			err = svc_txn_run(s, SVC_TXN_WRITE, do_account_insert,
					  &a);
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
	return svc_txn_run(s, SVC_TXN_READ, do_account_count, n);
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
	err = svc_txn_run(s, SVC_TXN_READ, do_account_get, &g);
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
