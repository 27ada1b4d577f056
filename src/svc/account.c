/*
 * account.c - accounts: creation and token rotation with a token shown
 * once, stored as a hash (for logins) and sealed under the server key (for
 * webhook signatures); authentication against the store on every call.
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

/* What a sealed token starts with: the format's version. */
#define TOKEN_ENC_V1 "v1:"
/* Bound to the ciphertext with the auth_id, so it opens for no other. */
#define TOKEN_AAD_PREFIX "sipward-account-token-v1:"
/* The longest token sealed (MODEL_TOKEN_ENC_MAX has room for it). */
#define TOKEN_SEAL_MAX 64

int svc_key_set(struct svc *s, const unsigned char *key, size_t len)
{
	if (len != sizeof(s->server_key))
		return EINVAL;
	memcpy(s->server_key, key, sizeof(s->server_key));
	s->has_key = true;
	return 0;
}

bool svc_key_present(const struct svc *s)
{
	return s->has_key;
}

static int token_hash(const char *token, char *out, size_t cap)
{
	return base_digest_hex(BASE_DIGEST_SHA256, token, strlen(token), out,
			       cap);
}

/* The additional authenticated data of auth_id's sealed token. */
static int token_aad(const char *auth_id, char *out, size_t cap, size_t *len)
{
	int n = snprintf(out, cap, "%s%s", TOKEN_AAD_PREFIX, auth_id);

	if (n < 0 || (size_t)n >= cap)
		return ERANGE;
	*len = (size_t)n;
	return 0;
}

/*
 * Seals token for auth_id into out ("v1:" + hex of nonce|ciphertext|tag);
 * "" when the service has no key.
 */
static int token_seal(const struct svc *s, const char *auth_id,
		      const char *token, char *out, size_t cap)
{
	unsigned char box[TOKEN_SEAL_MAX + BASE_AEAD_OVERHEAD];
	char aad[64];
	size_t n = strlen(token), alen = 0, blen = 0;
	int err;

	out[0] = '\0';
	if (!s->has_key)
		return 0;
	if (n > TOKEN_SEAL_MAX || cap < sizeof(TOKEN_ENC_V1))
		return ERANGE;
	err = token_aad(auth_id, aad, sizeof(aad), &alen);
	if (!err)
		err = base_aead_seal(s->server_key, aad, alen, token, n, box,
				     sizeof(box), &blen);
	if (!err) {
		memcpy(out, TOKEN_ENC_V1, sizeof(TOKEN_ENC_V1));
		err = base_hex_encode(box, blen, out + strlen(TOKEN_ENC_V1),
				      cap - strlen(TOKEN_ENC_V1));
	}
	if (err)
		out[0] = '\0';
	return err;
}

/* Opens a's sealed token into out: 0, ENOKEY, EBADMSG or ERANGE. */
static int token_open(const struct svc *s, const struct model_account *a,
		      char *out, size_t cap)
{
	unsigned char box[TOKEN_SEAL_MAX + BASE_AEAD_OVERHEAD];
	unsigned char tok[TOKEN_SEAL_MAX];
	const char *hex;
	char aad[64];
	size_t alen = 0, blen = 0, n = 0;
	int err;

	if (!s->has_key || a->token_enc[0] == '\0')
		return ENOKEY;
	if (strncmp(a->token_enc, TOKEN_ENC_V1, strlen(TOKEN_ENC_V1)) != 0)
		return EBADMSG; /* a format this version does not know */
	hex = a->token_enc + strlen(TOKEN_ENC_V1);
	if (base_hex_decode(hex, strlen(hex), box, sizeof(box), &blen) != 0)
		return EBADMSG;
	err = token_aad(a->auth_id, aad, sizeof(aad), &alen);
	if (!err)
		err = base_aead_open(s->server_key, aad, alen, box, blen, tok,
				     sizeof(tok), &n);
	if (err == ERANGE)
		err = EBADMSG; /* longer than any token sealed */
	if (!err && n >= cap)
		err = ERANGE;
	if (!err) {
		memcpy(out, tok, n);
		out[n] = '\0';
	}
	base_wipe(tok, sizeof(tok));
	return err;
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
		/* Sealed for this auth_id: a new one needs a new seal. */
		if (!err)
			err = token_seal(s, a.auth_id, tok, a.token_enc,
					 sizeof(a.token_enc));
		if (!err)
			err = svc_txn_run(s, SVC_TXN_WRITE, do_account_insert,
					  &a);
		if (err != EEXIST)
			break;
	}
	if (!err) {
		*out = a;
		memcpy(token, tok, BASE_TOKEN_LEN + 1);
		LOG_INFO("account_created", "auth_id=%s domain=%s sealed=%s",
			 a.auth_id, a.domain, a.token_enc[0] ? "yes" : "no");
	}
	base_wipe(tok, sizeof(tok));
	return err;
}

struct token_set {
	const char *auth_id;
	const char *sha256, *enc;
	struct model_account *out;
};

static int do_token_set(struct store *st, void *arg)
{
	struct token_set *t = arg;
	int err = st->ops->account_token_set(st, t->auth_id, t->sha256, t->enc);

	return err ? err : st->ops->account_get(st, t->auth_id, t->out);
}

int svc_account_rotate_token(struct svc *s, const char *auth_id,
			     struct model_account *out, char *token, size_t cap)
{
	struct model_account a;
	char tok[BASE_TOKEN_LEN + 1], h[MODEL_HASH_MAX];
	char enc[MODEL_TOKEN_ENC_MAX];
	struct token_set t = {auth_id, h, enc, &a};
	int err;

	if (cap <= BASE_TOKEN_LEN)
		return EINVAL;
	err = base_id_token(tok, sizeof(tok));
	if (!err)
		err = token_hash(tok, h, sizeof(h));
	if (!err)
		err = token_seal(s, auth_id, tok, enc, sizeof(enc));
	/* One statement: from its commit the old token fails everywhere. */
	if (!err)
		err = svc_txn_run(s, SVC_TXN_WRITE, do_token_set, &t);
	if (!err) {
		*out = a;
		memcpy(token, tok, BASE_TOKEN_LEN + 1);
		LOG_INFO("account_token_rotated", "auth_id=%s sealed=%s",
			 a.auth_id, enc[0] ? "yes" : "no");
	}
	base_wipe(tok, sizeof(tok));
	return err;
}

static int do_account_get_ref(struct store *st, void *arg)
{
	struct model_account *a = arg;

	return st->ops->account_get_ref(st, a->id, a);
}

int svc_account_signing_token(struct svc *s, int64_t account_ref, char *out,
			      size_t cap)
{
	struct model_account a = {.id = account_ref};
	int err;

	if (!s->has_key)
		return ENOKEY;
	err = svc_txn_run(s, SVC_TXN_READ, do_account_get_ref, &a);
	if (!err)
		err = token_open(s, &a, out, cap);
	if (err == EBADMSG)
		LOG_WARN("account_token_unreadable",
			 "auth_id=%s msg=\"the server key does not open this "
			 "account's token (another key sealed it?): its "
			 "webhooks go unsigned until sipward account "
			 "rotate-token\"",
			 a.auth_id);
	return err;
}

static int do_account_get_sealed(struct store *st, void *arg)
{
	return st->ops->account_get_sealed(st, arg);
}

int svc_key_check(struct svc *s)
{
	struct model_account a;
	char tok[TOKEN_SEAL_MAX + 1];
	int err;

	if (!s->has_key)
		return ENOKEY;
	err = svc_txn_run(s, SVC_TXN_READ, do_account_get_sealed, &a);
	if (err == ENOENT)
		return 0; /* nothing sealed yet: any key will do */
	if (!err)
		err = token_open(s, &a, tok, sizeof(tok));
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

/* Read on every call: a rotated token fails at once, on every node. */
static int account_read(struct svc *s, const char *auth_id,
			struct model_account *a)
{
	struct acct_get g = {auth_id, a};

	return svc_txn_run(s, SVC_TXN_READ, do_account_get, &g);
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
