/*
 * store.h - the storage interface: an ops table that each backend (sqlite.c,
 * pg.c) fills, with the entity operations of the shared sql.c. Knows
 * nothing of HTTP or SIP. Every function returns 0 or an errno: ENOENT not
 * found, EEXIST unique conflict, EBUSY retryable (serialization failure,
 * lock timeout), EIO any other storage failure.
 */
#ifndef STORE_STORE_H
#define STORE_STORE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "model/binding.h"
#include "model/cdr.h"
#include "model/model.h"

#define STORE_SCHEMA_VERSION 7

struct store;
struct sql_drv; /* store/sql.h, internal to store/ */

/* List filters; NULL / -1 means "not filtered". Strings match exactly. */
struct store_endpoint_filter {
	const char *username_exact;
	const char *username_contains;
	const char *username_startswith;
	const char *alias_exact;
	const char *alias_contains;
	const char *app_id_exact;
	int app_isnull; /* -1 any, 0 has an application, 1 has none */
	/* -1 any, 1 with a binding live at now_ms, 0 without */
	int registered;
	int64_t now_ms;
	/* Paging by key: only rows after this one (its id; 0 from the
	 * first). Not a filter: the count ignores it. */
	int64_t after_ref;
};

typedef int (*store_endpoint_cb)(void *ctx, const struct model_endpoint *ep);
/* True when f filters nothing (the index alone then serves a list). */
static inline bool store_filter_none(const struct store_endpoint_filter *f)
{
	return !f->username_exact && !f->username_contains &&
	       !f->username_startswith && !f->alias_exact &&
	       !f->alias_contains && !f->app_id_exact && f->app_isnull < 0 &&
	       f->registered < 0;
}

/*
 * A CDR list's filters: NULL / -1 means "not filtered"; strings match
 * exactly; end_ms must lie in [end_min, end_max] (INT64_MIN, INT64_MAX for
 * none).
 */
struct store_cdr_filter {
	const char *call_direction;
	const char *from_number;
	const char *to_number;
	int64_t hangup_cause_code;
	int64_t end_min, end_max;
};

typedef int (*store_cdr_cb)(void *ctx, const struct model_cdr *c);

typedef int (*store_account_cb)(void *ctx, const struct model_account *a);
typedef int (*store_binding_cb)(void *ctx, const struct model_binding *b);
typedef int (*store_app_cb)(void *ctx, const struct model_app *app);

/*
 * What a transaction is: a read; a write whose conflicts the store settles
 * (serializable); or a write that settles its own by locking the rows it
 * depends on first (PostgreSQL: read committed, so that writers of
 * different rows never fail each other on shared index pages).
 */
enum store_txn { STORE_TXN_READ, STORE_TXN_WRITE, STORE_TXN_ROWS };

/* What a backup copied (store_ops.backup). */
struct store_backup_stats {
	int64_t pages; /* database pages */
	int64_t bytes; /* size of the copy */
};

/* Savepoint operations, for running several jobs in one transaction. */
enum store_sp { STORE_SP_SET, STORE_SP_RELEASE, STORE_SP_ROLLBACK };

struct store_ops {
	const char *name;
	/*
	 * Whether writers must take turns (one writer at a time, as in SQLite):
	 * svc then funnels every write through one thread and commits them in
	 * groups, one fsync per group.
	 */
	bool serial_writes;
	/*
	 * How the shared entity operations (store/sql.c) run statements on
	 * this backend; the entity entries below are those operations.
	 */
	const struct sql_drv *drv;
	/* Opens a connection for the calling thread. */
	int (*open)(const char *url, struct store **out);
	void (*close)(struct store *st);
	/* Creates or upgrades the schema; refuses a newer one (EPROTO). */
	int (*migrate)(struct store *st);

	/* Transactions: a write takes the write lock at once (SQLite). */
	int (*begin)(struct store *st, enum store_txn kind);
	int (*commit)(struct store *st);
	void (*rollback)(struct store *st);
	/*
	 * Outside a transaction: whether the next commits must be durable
	 * (fsync) or may be lost in a crash (and are much cheaper).
	 */
	int (*durable)(struct store *st, bool on);
	/*
	 * Copies what the log holds into the database file without waiting
	 * for a reader or a writer (SQLite: a passive WAL checkpoint), on a
	 * connection of its own, so that writers do not do it in their
	 * commits. NULL where the server does it (PostgreSQL).
	 */
	int (*checkpoint)(struct store *st);
	/* Sets, releases or rolls back to the one savepoint of a job. */
	int (*savepoint)(struct store *st, enum store_sp op);
	/*
	 * Copies the database at url into a new file at path while other
	 * processes go on writing it: one consistent snapshot, checkpointed
	 * into a single file (no -wal beside it). The copy is written to
	 * path.tmp, fsynced and renamed to path, so that path is either the
	 * whole copy or untouched. Returns 0, EEXIST when path exists and
	 * !replace, ENOENT without a database at url, EBADMSG for a file
	 * that is not a sipward database, EBUSY when the database stayed
	 * locked for busy_ms in all, EINVAL when path is the database or
	 * one of its files, or another errno; on error, one sentence in why
	 * (cap bytes). NULL where the database server has its own tools
	 * (PostgreSQL: pg_dump).
	 */
	int (*backup)(const char *url, const char *path, bool replace,
		      int64_t busy_ms, struct store_backup_stats *out,
		      char *why, size_t cap);

	int (*account_insert)(struct store *st, struct model_account *a);
	int (*account_get)(struct store *st, const char *auth_id,
			   struct model_account *out);
	/* The account of row id (an account_id or account_ref). */
	int (*account_get_ref)(struct store *st, int64_t id,
			       struct model_account *out);
	/* Replaces the token's hash and ciphertext; ENOENT: no account. */
	int (*account_token_set)(struct store *st, const char *auth_id,
				 const char *token_sha256,
				 const char *token_enc);
	/* The newest account with a ciphertext (token_enc); ENOENT: none. */
	int (*account_get_sealed)(struct store *st, struct model_account *out);
	int (*account_count)(struct store *st, int64_t *n);
	/* Calls cb for every account, in creation order. */
	int (*account_list)(struct store *st, store_account_cb cb, void *ctx);

	int (*app_insert)(struct store *st, struct model_app *app);
	int (*app_get)(struct store *st, int64_t account_id, const char *app_id,
		       struct model_app *out);
	int (*app_get_default)(struct store *st, int64_t account_id,
			       struct model_app *out);
	int (*app_update)(struct store *st, const struct model_app *app);
	/* Clears default_endpoint_app on the account's other applications. */
	int (*app_clear_default)(struct store *st, int64_t account_id,
				 int64_t except_id, int64_t now_ms);
	int (*app_delete)(struct store *st, int64_t id);
	int (*app_list)(struct store *st, int64_t account_id, int64_t limit,
			int64_t offset, store_app_cb cb, void *ctx,
			int64_t *total);
	int (*app_endpoint_count)(struct store *st, int64_t app_ref,
				  int64_t *n);

	int (*endpoint_insert)(struct store *st, struct model_endpoint *ep);
	int (*endpoint_get)(struct store *st, int64_t account_id,
			    const char *endpoint_id,
			    struct model_endpoint *out);
	/* Finds an endpoint by its SIP identity, whatever its account. */
	int (*endpoint_get_by_user)(struct store *st, const char *username,
				    const char *domain,
				    struct model_endpoint *out);
	/*
	 * Only id, ha1_md5 and ha1_sha256 of it, for a digest check (in a
	 * REGISTER's STORE_TXN_ROWS transaction). In PostgreSQL it also
	 * writes the endpoint's row (a new version, nothing changed), which
	 * locks it until the transaction ends: REGISTERs of one endpoint
	 * take turns (and with binding_drop_conn); a password change or a
	 * delete that comes first is waited for and its new HA1 read; one
	 * that read the row before the REGISTER committed fails to write it
	 * (a serialization failure) and runs again, seeing the new binding.
	 */
	int (*endpoint_cred)(struct store *st, const char *username,
			     const char *domain, struct model_endpoint *out);
	int (*endpoint_update)(struct store *st,
			       const struct model_endpoint *ep);
	int (*endpoint_delete)(struct store *st, int64_t id);
	int (*endpoint_list)(struct store *st, int64_t account_id,
			     const struct store_endpoint_filter *f,
			     int64_t limit, int64_t offset,
			     store_endpoint_cb cb, void *ctx, int64_t *total);
	/* Moves endpoints from one application to another (to=0: none). */
	int (*endpoints_reassign)(struct store *st, int64_t from_app,
				  int64_t to_app, int64_t now_ms);
	int (*endpoints_delete_by_app)(struct store *st, int64_t app_ref);

	/* Calls cb for each binding of the endpoint live at now_ms. */
	int (*binding_list)(struct store *st, int64_t endpoint_ref,
			    int64_t now_ms, store_binding_cb cb, void *ctx);
	/*
	 * Calls cb for each binding live at now_ms of the endpoints that
	 * endpoint_list with the same account, filter, limit and offset
	 * lists, in endpoint order, then row order (one query a page).
	 */
	int (*binding_list_page)(struct store *st, int64_t account_id,
				 const struct store_endpoint_filter *f,
				 int64_t limit, int64_t offset, int64_t now_ms,
				 store_binding_cb cb, void *ctx);
	/* Replaces every binding of the endpoint with b[0..n). */
	int (*binding_replace)(struct store *st, int64_t endpoint_ref,
			       const struct model_binding *b, unsigned n);
	/* Deletes up to `max` bindings expired at now_ms; *n says how many. */
	/* Endpoints with a live binding, and live bindings, at now_ms. */
	int (*binding_count)(struct store *st, int64_t now_ms,
			     int64_t *endpoints, int64_t *bindings);
	int (*binding_sweep)(struct store *st, int64_t now_ms, int64_t max,
			     int64_t *n);
	/* Deletes the bindings made over the connection from `received`
	 * ("ip:port") on `transport`; *n says how many went. */
	int (*binding_drop_conn)(struct store *st, const char *received,
				 const char *transport, int64_t *n);

	/* Stores a CDR; one whose call_uuid is stored already is ignored. */
	int (*cdr_insert)(struct store *st, const struct model_cdr *c);
	int (*cdr_get)(struct store *st, int64_t account_id,
		       const char *call_uuid, struct model_cdr *out);
	/* Calls cb for each CDR of a page, newest (end_ms, then id) first. */
	int (*cdr_list)(struct store *st, int64_t account_id,
			const struct store_cdr_filter *f, int64_t limit,
			int64_t offset, store_cdr_cb cb, void *ctx,
			int64_t *total);
	/* Deletes up to max CDRs that ended before before_ms; *n: how many. */
	int (*cdr_sweep)(struct store *st, int64_t before_ms, int64_t max,
			 int64_t *n);

	/*
	 * Adds a live call, or sets a known one's call_status and updated_ms
	 * (its other columns and hangup_requested stay).
	 */
	int (*live_put)(struct store *st, const struct model_live_call *l);
	/* Deletes a live call; ENOENT when there was none. */
	int (*live_delete)(struct store *st, const char *call_uuid);
	/*
	 * The account's live calls updated after since_ms, oldest session
	 * first: at most max call_uuids into out, *n of them.
	 */
	int (*live_list)(struct store *st, int64_t account_id, int64_t since_ms,
			 char (*out)[MODEL_UUID_MAX], unsigned max,
			 unsigned *n);
	/* One live call of the account updated after since_ms, or ENOENT. */
	int (*live_get)(struct store *st, int64_t account_id,
			const char *call_uuid, int64_t since_ms,
			struct model_live_call *out);
	/* Sets hangup_requested on that call; ENOENT as live_get. */
	int (*live_hangup)(struct store *st, int64_t account_id,
			   const char *call_uuid, int64_t since_ms);
	/* The node's calls whose hangup is requested, as live_list. */
	int (*live_due)(struct store *st, const char *node_id,
			char (*out)[MODEL_UUID_MAX], unsigned max, unsigned *n);
	/* Sets updated_ms of every call of the node; *n (if set): how many. */
	int (*live_touch)(struct store *st, const char *node_id, int64_t now_ms,
			  int64_t *n);
	/* Deletes the calls updated before before_ms; *n (if set): how many. */
	int (*live_sweep)(struct store *st, int64_t before_ms, int64_t *n);
};

struct store {
	const struct store_ops *ops;
};

/* The embedded SQLite backend; url is "sqlite:PATH". */
extern const struct store_ops store_sqlite_ops;
/* The PostgreSQL backend; url is a libpq URI (postgresql://...). */
extern const struct store_ops store_pg_ops;

#endif
