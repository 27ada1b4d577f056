/*
 * svc.h - business rules and transaction boundaries for accounts,
 * applications, endpoints, registrations and calls (their records and the
 * calls in progress). The only layer that calls
 * store/, and it shows none of store's types but the opaque backend that
 * main.c chooses. Each thread gets its own store connection, opened on
 * first use.
 */
#ifndef SVC_SVC_H
#define SVC_SVC_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "model/binding.h"
#include "model/cdr.h"
#include "model/field.h"
#include "model/model.h"

struct svc;
struct store_ops; /* a backend (store/store.h), for main.c */

/* Creates the service over a backend; runs migrations. */
int svc_open(struct svc **out, const struct store_ops *ops, const char *url);
/*
 * Stops the group commit, closes the calling thread's connection and wipes
 * the server key.
 */
void svc_close(struct svc *s);

/*
 * Opens one read transaction on the calling thread that every read of s
 * until svc_read_end shares: one snapshot and one transaction's locks for
 * a request that reads several times (an API GET authenticates, then
 * reads). Reads inside it are not retried on their own; a write ends it
 * first. When it cannot begin, each read runs in its own transaction as
 * without it.
 */
void svc_read_begin(struct svc *s);
/* Ends the calling thread's read transaction, if it has one. */
void svc_read_end(struct svc *s);

/*
 * Gives the service the server key (len = 32 bytes, BASE_KEY_LEN) that
 * seals account tokens at rest (AES-256-GCM), copied into s. Call it once,
 * after svc_open and before any other thread uses s. Without a key, tokens
 * are stored as hashes only and svc_account_signing_token is ENOKEY.
 * Returns 0 or EINVAL (another length).
 */
int svc_key_set(struct svc *s, const unsigned char *key, size_t len);
/* Whether svc_key_set gave s a key. */
bool svc_key_present(const struct svc *s);
/*
 * Checks the key against the newest sealed token in the store: 0 when it
 * opens it (or no token is sealed yet), ENOKEY without a key, EBADMSG when
 * another key sealed it (a node with the wrong key), or a store error.
 */
int svc_key_check(struct svc *s);

/*
 * Creates an account on `domain`; writes its generated token (shown once)
 * into token (cap >= 41). The token is stored as its SHA-256 and, with a
 * server key, sealed for signing. Returns 0, EINVAL (bad domain) or a
 * store error.
 */
int svc_account_create(struct svc *s, const char *name, const char *domain,
		       struct model_account *out, char *token, size_t cap);

/* Number of accounts (0 on a new database). */
int svc_account_count(struct svc *s, int64_t *n);

/*
 * Checks auth_id/token. Returns 0 and the account, or EACCES. The token is
 * compared by its SHA-256 in constant time, read from the store on every
 * call (no cache), so a rotated token fails at once on every node.
 */
int svc_account_auth(struct svc *s, const char *auth_id, const char *token,
		     struct model_account *out);

/*
 * Gives the account auth_id a new random token, written into token (cap >=
 * 41, shown once): its hash and, with a server key, its ciphertext replace
 * the old ones in one durable write, from which the old token no longer
 * authenticates. out is the account after it. Returns 0, ENOENT (no such
 * account), EINVAL (cap) or a store error.
 */
int svc_account_rotate_token(struct svc *s, const char *auth_id,
			     struct model_account *out, char *token,
			     size_t cap);

/*
 * Writes the auth token of the account with row id account_ref (a
 * model_account id, an endpoint's account_id) in clear into out (cap >=
 * 41), for signing its webhooks; the caller wipes it (base_wipe) after
 * use. Read from the store on every call. Returns 0; ENOKEY when the
 * server has no key or the account's token is not sealed (it predates
 * schema 5, or was made without a key: sipward account rotate-token seals
 * a new one); EBADMSG when the key does not open it (another key sealed
 * it; logged as event=account_token_unreadable, without any secret);
 * ENOENT (no such account), ERANGE (cap) or a store error. The caller
 * logs that a webhook goes unsigned.
 */
int svc_account_signing_token(struct svc *s, int64_t account_ref, char *out,
			      size_t cap);

/* The fields of an application create/update, as decoded. */
struct svc_app_input {
	struct model_value v[MODEL_APP_FIELDS]; /* by enum model_app_field */
};

typedef int (*svc_app_cb)(void *ctx, const struct model_app *app);

/*
 * Each returns 0, ENOENT (unknown or foreign), EINVAL (errs says why),
 * EEXIST (conflict) or a store error. Inputs are checked here against
 * model_app_fields (required fields, defaults, value rules); errs may
 * already hold type errors found by the caller, and all are reported.
 */
int svc_app_create(struct svc *s, const struct model_account *acct,
		   const struct svc_app_input *in, struct model_errors *errs,
		   struct model_app *out);
/* Reads an application of the account. */
int svc_app_get(struct svc *s, const struct model_account *acct,
		const char *app_id, struct model_app *out);
/* Partial update; all or nothing; durable when it returns 0. */
int svc_app_update(struct svc *s, const struct model_account *acct,
		   const char *app_id, const struct svc_app_input *in,
		   struct model_errors *errs);
/* Calls cb for each application of a page, in creation order. */
int svc_app_list(struct svc *s, const struct model_account *acct, int64_t limit,
		 int64_t offset, svc_app_cb cb, void *ctx, int64_t *total);
/*
 * Deletes an application. When endpoints use it: with move_to (an app_id)
 * they move there, with cascade they are deleted too, else EEXIST and
 * *in_use says how many.
 */
int svc_app_delete(struct svc *s, const struct model_account *acct,
		   const char *app_id, const char *move_to, bool cascade,
		   struct model_errors *errs, int64_t *in_use);

/*
 * The fields of an endpoint create/update, as decoded; checked against
 * model_endpoint_fields. The application (MODEL_EP_APPLICATION): absent
 * keeps it (at creation: the account's default), null detaches, an id
 * binds.
 */
struct svc_endpoint_input {
	struct model_value v[MODEL_EP_FIELDS]; /* by enum model_ep_field */
};

/* Filters of an endpoint list; NULL / -1 means not filtered. */
struct svc_endpoint_filter {
	const char *username_exact;
	const char *username_contains;
	const char *username_startswith;
	const char *alias_exact;
	const char *alias_contains;
	const char *app_id_exact;
	int app_isnull; /* -1 any, 0 has an application, 1 has none */
	int registered; /* -1 any, 1 with a live binding, 0 without */
};

/* Marks every field of in as absent. */
void svc_endpoint_input_init(struct svc_endpoint_input *in);
/* Marks every field of in as absent. */
void svc_app_input_init(struct svc_app_input *in);

/* An endpoint's live registrations. */
struct svc_bindings {
	unsigned n;
	struct model_binding b[MODEL_BINDINGS_MAX];
};

typedef int (*svc_endpoint_cb)(void *ctx, const struct model_endpoint *ep,
			       const struct svc_bindings *bs);

/*
 * Creates an endpoint in the account: EEXIST when its username is taken in
 * the account's domain, EINVAL (errs) for a bad field or application.
 */
int svc_endpoint_create(struct svc *s, const struct model_account *acct,
			const struct svc_endpoint_input *in,
			struct model_errors *errs, struct model_endpoint *out);
/* Fills out and, when bs is not NULL, its live registrations. */
int svc_endpoint_get(struct svc *s, const struct model_account *acct,
		     const char *endpoint_id, struct model_endpoint *out,
		     struct svc_bindings *bs);
/*
 * Partial update; all or nothing; durable when it returns 0. A new password
 * ends every registration of the endpoint in the same transaction.
 */
int svc_endpoint_update(struct svc *s, const struct model_account *acct,
			const char *endpoint_id,
			const struct svc_endpoint_input *in,
			struct model_errors *errs);

/* Whether API writes queue for a writer thread (svc_endpoint_update_async)
 * rather than running on the caller's thread: a store whose writers take
 * turns (SQLite). */
bool svc_writes_queue(const struct svc *s);

/* What svc_endpoint_update_async's caller hears: svc_endpoint_update's
 * result. */
typedef void (*svc_done_fn)(void *arg, int err);

/*
 * svc_endpoint_update without waiting (svc_writes_queue): queues the
 * transaction for the durable group commit and returns at once; done(arg,
 * err) runs on the writer's thread once the commit is fsynced (or the
 * update failed; errs filled as svc_endpoint_update fills it). Everything
 * passed must live until then. Still queued at deadline_ms
 * (base_time_mono_ms units): not run, ETIMEDOUT. Returns 0 (done will run),
 * EAGAIN (queue_max transactions wait already) or ENOMEM, and then done
 * does not run; ENOTSUP without such a store.
 */
int svc_endpoint_update_async(struct svc *s, const struct model_account *acct,
			      const char *endpoint_id,
			      const struct svc_endpoint_input *in,
			      struct model_errors *errs, svc_done_fn done,
			      void *arg, int64_t deadline_ms,
			      unsigned queue_max);
/*
 * Calls cb for each endpoint of a page, with its live registrations: limit
 * rows from offset, or when after names an endpoint of the account (the
 * last one of the page before: keyset paging, which costs the same at any
 * depth), the limit rows after it. An after that is gone falls back to the
 * offset. *more says whether an endpoint follows the page.
 */
int svc_endpoint_list(struct svc *s, const struct model_account *acct,
		      const struct svc_endpoint_filter *f, int64_t limit,
		      int64_t offset, const char *after, svc_endpoint_cb cb,
		      void *ctx, int64_t *total, bool *more);
/* Deletes the endpoint and, with it, every registration. */
int svc_endpoint_delete(struct svc *s, const struct model_account *acct,
			const char *endpoint_id);

/* ---- moving between stores ---- */

struct svc_copy_stats {
	int64_t accounts, applications, endpoints, registrations;
};

/*
 * Copies everything in the store at from_url into the empty store at to_url
 * (migrated first): accounts (with their token hashes), applications,
 * endpoints (with their HA1 values, so passwords keep working) and live
 * registrations, keeping every public id, in one write transaction on the
 * target. Returns 0, EEXIST when the target holds accounts already, or a
 * store error.
 */
int svc_db_copy(const struct store_ops *from_ops, const char *from_url,
		const struct store_ops *to_ops, const char *to_url,
		struct svc_copy_stats *stats);

struct svc_backup_stats {
	int64_t pages, bytes; /* database pages, bytes of the copy */
	int64_t ms;	      /* how long it took */
};

/* How long a backup waits in all for a locked database: 30 s. */
#define SVC_BACKUP_BUSY_MS 30000

/*
 * Copies the database at url into a new file at path while servers go on
 * writing it (the backend's online backup): one consistent snapshot in
 * one file, written to path.tmp then renamed, never over an existing path
 * unless replace. Returns 0, ENOTSUP for a backend without it
 * (PostgreSQL: pg_dump), EEXIST when path exists, or another errno with
 * one sentence in why (cap bytes): see store_ops.backup.
 */
int svc_db_backup(const struct store_ops *ops, const char *url,
		  const char *path, bool replace,
		  struct svc_backup_stats *stats, char *why, size_t cap);

/* ---- for the registrar ---- */

/* What the registrar needs to check a REGISTER's credentials. */
struct svc_sip_cred {
	int64_t endpoint_ref;
	char ha1_md5[MODEL_HASH_MAX];
	char ha1_sha256[MODEL_HASH_MAX];
};

/*
 * Checks a REGISTER's credentials inside svc_register's transaction: cred
 * is NULL when there is no such user. Returns 0 to apply the REGISTER, or
 * an errno that ends the transaction with nothing written. May be called
 * again with the same credentials when the store retries the transaction.
 */
typedef int (*svc_cred_check_fn)(void *arg, const struct svc_sip_cred *cred);

/*
 * Applies a REGISTER by username@domain to the endpoint's bindings
 * (model_register_apply) in one transaction that reads the user's
 * credentials, has check verify the digest against them, and writes the
 * bindings: a password change is committed either before (the check uses
 * the new HA1) or after (it ends these bindings too), so no binding made
 * with an old password outlives the change. Returns the live bindings
 * after it in out. Errors: check's; ENOENT when there is no such user
 * (after check(arg, NULL)); as model_register_apply; the store's.
 */
int svc_register(struct svc *s, const char *username, const char *domain,
		 svc_cred_check_fn check, void *arg,
		 const struct model_reg_request *req,
		 const struct model_reg_limits *lim, struct svc_bindings *out);

/* Whether svc_register_async queues (SQLite's writer thread) rather than
 * running on the caller's thread. */
bool svc_register_queues(const struct svc *s);

/* What svc_register_async's caller hears: svc_register's result and, when
 * it is 0, the n live bindings after it (svc's, valid during the call). */
typedef void (*svc_reg_done_fn)(void *arg, int err,
				const struct model_binding *b, unsigned n);

/*
 * svc_register without waiting, for a store whose writers take turns
 * (svc_register_queues): queues the transaction for the lazy group commit
 * and returns at once; done(done_arg, err, bindings) runs on the writer's
 * thread when it has committed (it must not call svc writes itself).
 * Everything passed must live until then; what waits in the queue is
 * small (the bindings are made when it runs). A transaction still queued at
 * deadline_ms (base_time_mono_ms units) is not run: ETIMEDOUT. Returns 0 (done
 * will run), EAGAIN (queue_max transactions wait already) or ENOMEM; then done
 * does not run. Without such a store: ENOTSUP.
 */
int svc_register_async(struct svc *s, const char *username, const char *domain,
		       svc_cred_check_fn check, void *arg,
		       const struct model_reg_request *req,
		       const struct model_reg_limits *lim, svc_reg_done_fn done,
		       void *done_arg, int64_t deadline_ms, unsigned queue_max);

/* A SIP party for the call engine: the endpoint (HA1s included: the
 * caller wipes them) and, when asked, its live bindings. */
struct svc_sip_party {
	struct model_endpoint ep;
	struct svc_bindings bindings;
};

/*
 * Reads the endpoint username@domain (with its application summary) and,
 * when bindings is true, its live bindings, in one read transaction.
 * Returns 0, ENOENT (no such endpoint) or a store error.
 */
int svc_sip_party(struct svc *s, const char *username, const char *domain,
		  bool bindings, struct svc_sip_party *out);

/* Deletes up to max expired bindings; *n says how many went. */
int svc_bindings_sweep(struct svc *s, int64_t max, int64_t *n);

/*
 * Deletes the bindings made over a connection that closed: those from
 * received ("ip:port") on transport ("TCP", "TLS", "WS", "WSS"); *n says
 * how many went.
 */
int svc_bindings_drop_conn(struct svc *s, const char *received,
			   const char *transport, int64_t *n);

/* ---- calls: records (CDRs) and calls in progress (svc/cdr.c) ---- */

/* A CDR list filter value that is not given. */
#define SVC_CDR_ANY INT64_MIN

/*
 * Filters of a CDR list: NULL or SVC_CDR_ANY means not filtered. Strings
 * match exactly. The end_* bounds are in ms since the epoch, compared with
 * end_ms (end_gt: end_ms > end_gt, ...); several combine.
 */
struct svc_cdr_filter {
	const char *call_direction; /* "inbound" or "outbound" */
	const char *from_number;
	const char *to_number;
	int64_t hangup_cause_code;
	int64_t end_gt, end_gte, end_lt, end_lte;
};

/* Sets every filter of f to "not given". */
void svc_cdr_filter_init(struct svc_cdr_filter *f);

/*
 * Stores one leg's CDR (model_cdr_check first: EINVAL), durably: when it
 * returns 0 the record survives a crash. Adding a call_uuid that is stored
 * already changes nothing and returns 0, so a retry is harmless. ENOENT
 * when the account does not exist.
 */
int svc_cdr_add(struct svc *s, const struct model_cdr *c);

/* One CDR of the account; ENOENT when unknown, foreign or not a UUID. */
int svc_cdr_get(struct svc *s, const struct model_account *acct,
		const char *call_uuid, struct model_cdr *out);

/*
 * A page of the account's CDRs, newest first (end time, then the order
 * they were stored): at most limit of them into out[] (room for limit),
 * *n of them, and *total matching the filter. Returns 0, EINVAL (a limit
 * below 1 or a negative offset) or a store error.
 */
int svc_cdr_list(struct svc *s, const struct model_account *acct,
		 const struct svc_cdr_filter *f, int64_t limit, int64_t offset,
		 struct model_cdr *out, unsigned *n, int64_t *total);

/* Endpoints with a live registration and live bindings, of every account
 * (the metrics). */
int svc_bindings_count(struct svc *s, int64_t *endpoints, int64_t *bindings);

/*
 * Retention: deletes up to max CDRs (of every account) that ended before
 * before_ms; *n says how many went. Not durable on its own (as a
 * registration sweep): a crash may bring some back for the next sweep.
 */
int svc_cdr_sweep(struct svc *s, int64_t before_ms, int64_t max, int64_t *n);

/*
 * A live call whose updated_ms is older than this is stale: its node
 * stopped refreshing it (svc_live_touch, every 10 s), probably died, and
 * the call is no longer shown or hung up through the API.
 */
#define SVC_LIVE_STALE_MS 30000

/*
 * Records a call in progress (model_live_check first: EINVAL), or the new
 * call_status of one recorded already (updated_ms too; its other fields
 * stay). updated_ms 0 means now. Not durable: a crash of the store may
 * lose it, as a registration.
 */
int svc_live_put(struct svc *s, const struct model_live_call *l);

/* Forgets a call that ended; 0 also when it was not recorded. */
int svc_live_del(struct svc *s, const char *call_uuid);

/* One write of the call engine's log (svc_call_log). */
struct svc_call_rec {
	enum { SVC_REC_LIVE_PUT, SVC_REC_LIVE_DEL, SVC_REC_CDR } kind;
	const struct model_live_call *live; /* LIVE_PUT */
	const char *call_uuid;		    /* LIVE_DEL */
	const struct model_cdr *cdr;	    /* CDR */
	int err;			    /* out: this record's outcome */
};

/*
 * Writes the call engine's records in their order, as svc_live_put,
 * svc_live_del and svc_cdr_add would, but all in one durable transaction
 * (one fsync for the CDRs and live rows of many calls). A record that its
 * check refuses gets EINVAL in its err and is skipped. When the
 * transaction fails (an account deleted meanwhile, the store down), each
 * record is written on its own, so that one cannot cost the others (but
 * when the store is away, EIO, ETIMEDOUT or EBUSY, each gets that error):
 * every err then says what became of its record. Returns 0 when all were
 * written, else the first record's error.
 */
int svc_call_log(struct svc *s, struct svc_call_rec *recs, unsigned n);

/*
 * The account's live calls (not stale), oldest first: at most max
 * call_uuids into uuids[], *n of them.
 */
int svc_live_list(struct svc *s, const struct model_account *acct,
		  char (*uuids)[MODEL_UUID_MAX], unsigned max, unsigned *n);

/* One live call of the account; ENOENT when absent, stale or foreign. */
int svc_live_get(struct svc *s, const struct model_account *acct,
		 const char *call_uuid, struct model_live_call *out);

/*
 * Asks the node carrying a live call of the account to hang it up (it
 * sees the request through svc_live_due); durable when it returns 0.
 * ENOENT when the call is not live (absent, stale or foreign).
 */
int svc_live_hangup(struct svc *s, const struct model_account *acct,
		    const char *call_uuid);

/*
 * For the node node_id: the calls whose hangup was asked (stale or not),
 * at most max call_uuids into uuids[], *n of them. The call engine polls
 * this (about every 200 ms), ends those calls, then svc_live_del.
 */
int svc_live_due(struct svc *s, const char *node_id,
		 char (*uuids)[MODEL_UUID_MAX], unsigned max, unsigned *n);

/* Sets updated_ms = now_ms on every call of node_id (its heartbeat). */
int svc_live_touch(struct svc *s, const char *node_id, int64_t now_ms);

/* Deletes the calls last updated before before_ms (dead nodes' rows). */
int svc_live_sweep(struct svc *s, int64_t before_ms);

#endif
