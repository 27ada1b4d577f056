/*
 * sql.c - what both stores share: the statement table (sql_stmt.h), the
 * schema migrations, the row readers and the entity operations. They run
 * through the backend's driver (store_ops.drv), which only converts values
 * and maps errors, as Kamailio's srdb1 drivers do.
 */
#include <errno.h>
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>

#include "base/crypto.h"
#include "store/sql.h"

struct sql_def {
	const char *name;
	const char *text[SQL_DIALECTS];
};

static const struct sql_def defs[SQL_COUNT] = {
#define STMT(id, name, sql) [SQL_##id] = {name, {sql, sql}},
#define STMT_D(id, name, sqlite, pg) [SQL_##id] = {name, {sqlite, pg}},
#include "store/sql_stmt.h"
#undef STMT
#undef STMT_D
};

const char *sql_text(enum sql_dialect d, enum sql_id id)
{
	return defs[id].text[d];
}

const char *sql_name(enum sql_id id)
{
	return defs[id].name;
}

/*
 * Version 1: accounts, applications, endpoints. The column types are the
 * only difference: SQLite's STRICT tables take INTEGER for 64 bits.
 */
#define SCHEMA_1(PK, I64, STRICT)                                            \
	"CREATE TABLE accounts ("                                            \
	" id " PK ","                                                        \
	" auth_id TEXT NOT NULL UNIQUE,"                                     \
	" name TEXT NOT NULL,"                                               \
	" domain TEXT NOT NULL,"                                             \
	" token_sha256 TEXT NOT NULL,"                                       \
	" created_ms " I64 " NOT NULL)" STRICT ";"                           \
	"CREATE TABLE applications ("                                        \
	" id " PK ","                                                        \
	" account_id " I64 " NOT NULL REFERENCES accounts(id),"              \
	" app_id TEXT NOT NULL UNIQUE,"                                      \
	" app_name TEXT NOT NULL,"                                           \
	" answer_url TEXT NOT NULL,"                                         \
	" answer_method TEXT NOT NULL,"                                      \
	" hangup_url TEXT NOT NULL,"                                         \
	" hangup_method TEXT NOT NULL,"                                      \
	" fallback_answer_url TEXT NOT NULL,"                                \
	" fallback_method TEXT NOT NULL,"                                    \
	" message_url TEXT NOT NULL,"                                        \
	" message_method TEXT NOT NULL,"                                     \
	" default_endpoint_app INTEGER NOT NULL,"                            \
	" created_ms " I64 " NOT NULL,"                                      \
	" updated_ms " I64 " NOT NULL)" STRICT ";"                           \
	"CREATE INDEX applications_account ON applications(account_id, id);" \
	"CREATE TABLE endpoints ("                                           \
	" id " PK ","                                                        \
	" account_id " I64 " NOT NULL REFERENCES accounts(id),"              \
	" endpoint_id TEXT NOT NULL UNIQUE,"                                 \
	" username TEXT NOT NULL,"                                           \
	" domain TEXT NOT NULL,"                                             \
	" alias TEXT NOT NULL,"                                              \
	" ha1_md5 TEXT NOT NULL,"                                            \
	" ha1_sha256 TEXT NOT NULL,"                                         \
	" app_ref " I64 " REFERENCES applications(id),"                      \
	" allow_voice INTEGER NOT NULL,"                                     \
	" allow_message INTEGER NOT NULL,"                                   \
	" allow_video INTEGER NOT NULL,"                                     \
	" allow_same_domain INTEGER NOT NULL,"                               \
	" allow_other_domains INTEGER NOT NULL,"                             \
	" allow_phones INTEGER NOT NULL,"                                    \
	" allow_apps INTEGER NOT NULL,"                                      \
	" created_ms " I64 " NOT NULL,"                                      \
	" updated_ms " I64 " NOT NULL,"                                      \
	" UNIQUE (username, domain))" STRICT ";"                             \
	"CREATE INDEX endpoints_account ON endpoints(account_id, id);"       \
	"CREATE INDEX endpoints_app ON endpoints(app_ref);"

/* Version 2: registrations, written by the registrar. */
#define SCHEMA_2(PK, I64, STRICT)                       \
	"CREATE TABLE registrations ("                  \
	" id " PK ","                                   \
	" endpoint_ref " I64 " NOT NULL"                \
	"  REFERENCES endpoints(id) ON DELETE CASCADE," \
	" contact TEXT NOT NULL,"                       \
	" q TEXT NOT NULL,"                             \
	" expires_ms " I64 " NOT NULL,"                 \
	" call_id TEXT NOT NULL,"                       \
	" cseq " I64 " NOT NULL,"                       \
	" user_agent TEXT NOT NULL,"                    \
	" received TEXT NOT NULL,"                      \
	" transport TEXT NOT NULL,"                     \
	" updated_ms " I64 " NOT NULL,"                 \
	" UNIQUE (endpoint_ref, contact))" STRICT ";"   \
	"CREATE INDEX registrations_expires ON registrations(expires_ms);"

/*
 * Version 4: call detail records and the calls in progress. A CDR names
 * its endpoint by value (endpoint_ref is no foreign key, endpoint_id is
 * text): it outlives the endpoint. Lists go newest first by the
 * (account_id, end_ms, id) index; the retention sweep by end_ms. A live
 * call's row belongs to the node carrying it (node_id), which refreshes
 * updated_ms and polls hangup_requested.
 */
#define SCHEMA_4(PK, I64, STRICT)                                        \
	"CREATE TABLE cdrs ("                                            \
	" id " PK ","                                                    \
	" account_id " I64 " NOT NULL"                                   \
	"  REFERENCES accounts(id) ON DELETE CASCADE,"                   \
	" call_uuid TEXT NOT NULL UNIQUE,"                               \
	" parent_call_uuid TEXT NOT NULL,"                               \
	" endpoint_ref " I64 " NOT NULL,"                                \
	" endpoint_id TEXT NOT NULL,"                                    \
	" from_number TEXT NOT NULL,"                                    \
	" to_number TEXT NOT NULL,"                                      \
	" caller_name TEXT NOT NULL,"                                    \
	" call_direction TEXT NOT NULL,"                                 \
	" initiation_ms " I64 " NOT NULL,"                               \
	" answer_ms " I64 " NOT NULL,"                                   \
	" end_ms " I64 " NOT NULL,"                                      \
	" call_duration " I64 " NOT NULL,"                               \
	" bill_duration " I64 " NOT NULL,"                               \
	" hangup_cause_name TEXT NOT NULL,"                              \
	" hangup_cause_code " I64 " NOT NULL,"                           \
	" hangup_source TEXT NOT NULL)" STRICT ";"                       \
	"CREATE INDEX cdrs_account_end ON cdrs(account_id, end_ms, id);" \
	"CREATE INDEX cdrs_end ON cdrs(end_ms);"                         \
	"CREATE TABLE live_calls ("                                      \
	" call_uuid TEXT NOT NULL PRIMARY KEY,"                          \
	" account_id " I64 " NOT NULL"                                   \
	"  REFERENCES accounts(id) ON DELETE CASCADE,"                   \
	" node_id TEXT NOT NULL,"                                        \
	" direction TEXT NOT NULL,"                                      \
	" from_number TEXT NOT NULL,"                                    \
	" to_number TEXT NOT NULL,"                                      \
	" caller_name TEXT NOT NULL,"                                    \
	" call_status TEXT NOT NULL,"                                    \
	" session_start_ms " I64 " NOT NULL,"                            \
	" updated_ms " I64 " NOT NULL,"                                  \
	" hangup_requested INTEGER NOT NULL DEFAULT 0)" STRICT ";"       \
	"CREATE INDEX live_calls_account ON live_calls(account_id, "     \
	"updated_ms);"                                                   \
	"CREATE INDEX live_calls_node ON live_calls(node_id, "           \
	"hangup_requested);"                                             \
	"CREATE INDEX live_calls_updated ON live_calls(updated_ms);"

#define SQLITE_TYPES "INTEGER PRIMARY KEY", "INTEGER", " STRICT"
#define PG_TYPES "BIGSERIAL PRIMARY KEY", "BIGINT", ""
/* Expands the type list before the schema macro sees its arguments. */
#define SCHEMA(n, types) SCHEMA_##n##_(types)
#define SCHEMA_1_(...) SCHEMA_1(__VA_ARGS__)
#define SCHEMA_2_(...) SCHEMA_2(__VA_ARGS__)
#define SCHEMA_4_(...) SCHEMA_4(__VA_ARGS__)

/*
 * Version 5: each account's token sealed under the server key (AES-256-GCM,
 * svc/account.c), so that webhooks can be signed with it; the key itself is
 * never in the database. "" means none: accounts made before version 5
 * have only the hash until their token is rotated. The same on both.
 */
#define SCHEMA_5 \
	"ALTER TABLE accounts ADD COLUMN token_enc TEXT NOT NULL DEFAULT '';"

/*
 * Version 6: a TCP binding's path, the URI of the node that holds its
 * connection (registrar.c), so that other nodes reach it through that one.
 * "" for every binding made before. The same on both.
 */
#define SCHEMA_6 \
	"ALTER TABLE registrations ADD COLUMN path TEXT NOT NULL DEFAULT '';"

/*
 * Version 7: bindings by the address they came from, so that a closed
 * TCP, TLS or WebSocket connection ends its bindings at once
 * (BIND_DROP_CONN). The same on both.
 */
#define SCHEMA_7 \
	"CREATE INDEX registrations_received ON registrations(received);"

/* Each migration takes the schema from version i to i + 1. */
static const char *const migrations[][SQL_DIALECTS] = {
    {
	/* SQLite keeps its version in the schema; pg.c makes its own. */
	"CREATE TABLE schema_version (version INTEGER NOT NULL) STRICT;"
	"INSERT INTO schema_version VALUES (0);" SCHEMA(1, SQLITE_TYPES),
	SCHEMA(1, PG_TYPES),
    },
    {SCHEMA(2, SQLITE_TYPES), SCHEMA(2, PG_TYPES)},
    /*
     * 3: each account's endpoint count, kept by triggers (so rows loaded
     * by other tools count too): an unfiltered list's total_count in O(1).
     * PostgreSQL counts on the index instead (see EP_COUNT_ALL).
     */
    {
	"ALTER TABLE accounts ADD COLUMN endpoint_count INTEGER NOT NULL"
	" DEFAULT 0;"
	"UPDATE accounts SET endpoint_count = (SELECT count(*) FROM endpoints e"
	" WHERE e.account_id = accounts.id);"
	"CREATE TRIGGER endpoints_counted AFTER INSERT ON endpoints BEGIN"
	" UPDATE accounts SET endpoint_count = endpoint_count + 1"
	" WHERE id = NEW.account_id; END;"
	"CREATE TRIGGER endpoints_uncounted AFTER DELETE ON endpoints BEGIN"
	" UPDATE accounts SET endpoint_count = endpoint_count - 1"
	" WHERE id = OLD.account_id; END;",
	"SELECT 1",
    },
    /* 4: call detail records and live calls. */
    {SCHEMA(4, SQLITE_TYPES), SCHEMA(4, PG_TYPES)},
    {SCHEMA_5, SCHEMA_5},
    {SCHEMA_6, SCHEMA_6},
    {SCHEMA_7, SCHEMA_7},
};

_Static_assert(sizeof(migrations) / sizeof(migrations[0]) ==
		   STORE_SCHEMA_VERSION,
	       "one migration per schema version");

const char *sql_migration(enum sql_dialect d, int v)
{
	return migrations[v][d];
}

/* ---- running statements ---- */

static const struct sql_drv *drv_of(struct store *st)
{
	return st->ops->drv;
}

/* Copies the current row into a struct, in the order of its *_FIELDS. */
typedef void (*row_reader)(const struct sql_drv *d, struct sql_q *q, void *dst);

#define READ_I64(f) x->f = d->col_int(q, i++)
#define READ_U32(f) x->f = (uint32_t)d->col_int(q, i++)
#define READ_INT(f) x->f = (int)d->col_int(q, i++)
#define READ_BOOL(f) x->f = d->col_int(q, i++) != 0
#define READ_TEXT(f) d->col_text(q, i++, x->f, sizeof(x->f))
#define READ(type, column, field) READ_##type(field);

static void read_account(const struct sql_drv *d, struct sql_q *q, void *dst)
{
	struct model_account *x = dst;
	int i = 0;

	ACCOUNT_FIELDS(READ, )
}

static void read_app(const struct sql_drv *d, struct sql_q *q, void *dst)
{
	struct model_app *x = dst;
	int i = 0;

	APP_FIELDS(READ, )
}

static void read_endpoint(const struct sql_drv *d, struct sql_q *q, void *dst)
{
	struct model_endpoint *x = dst;
	int i = 0;

	ENDPOINT_FIELDS(READ, )
}

static void read_binding(const struct sql_drv *d, struct sql_q *q, void *dst)
{
	struct model_binding *x = dst;
	int i = 0;

	memset(x, 0, sizeof(*x));
	BINDING_FIELDS(READ, )
}

static void read_cdr(const struct sql_drv *d, struct sql_q *q, void *dst)
{
	struct model_cdr *x = dst;
	int i = 0;

	memset(x, 0, sizeof(*x));
	CDR_FIELDS(READ, )
}

static void read_live(const struct sql_drv *d, struct sql_q *q, void *dst)
{
	struct model_live_call *x = dst;
	int i = 0;

	memset(x, 0, sizeof(*x));
	LIVE_FIELDS(READ, )
}

/* Runs a statement; *changed (if not NULL) says how many rows changed. */
static int run(const struct sql_drv *d, struct sql_q *q, int64_t *changed)
{
	int err = d->step(q);

	if (err == SQL_ROW)
		err = 0;
	if (!err && changed)
		*changed = d->changes(q);
	d->reset(q);
	return err;
}

/* Runs a statement that changes rows; ENOENT when none changed. */
static int change_one(const struct sql_drv *d, struct sql_q *q)
{
	int64_t n = 0;
	int err = run(d, q, &n);

	return !err && n == 0 ? ENOENT : err;
}

/*
 * Runs a query returning at most one row and reads it into out. Returns 0,
 * ENOENT for no row, or the store error.
 */
static int one_row(const struct sql_drv *d, struct sql_q *q, row_reader read,
		   void *out)
{
	int err = d->step(q);

	if (err == SQL_ROW) {
		read(d, q, out);
		err = 0;
	} else if (!err) {
		err = ENOENT;
	}
	d->reset(q);
	return err;
}

/*
 * Runs a single-integer query: an INSERT's RETURNING id, or a count (no
 * row counts nothing: 0). Leaves *n alone on failure.
 */
static int scalar(const struct sql_drv *d, struct sql_q *q, int64_t *n)
{
	int err = d->step(q);

	if (err == SQL_ROW) {
		*n = d->col_int(q, 0);
		err = 0;
	} else if (!err) {
		*n = 0;
	}
	d->reset(q);
	return err;
}

/* Gets statement id and binds its first parameter, an integer. */
static int get_int(struct store *st, enum sql_id id, int64_t v,
		   struct sql_q **q)
{
	int err = drv_of(st)->get(st, id, q);

	if (!err)
		drv_of(st)->bind_int(*q, 1, v);
	return err;
}

/* Runs statement id with one integer parameter. */
static int run_int(struct store *st, enum sql_id id, int64_t v,
		   int64_t *changed)
{
	struct sql_q *q;
	int err = get_int(st, id, v, &q);

	return err ? err : run(drv_of(st), q, changed);
}

/* ---- accounts ---- */

int store_account_insert(struct store *st, struct model_account *a)
{
	const struct sql_drv *d = drv_of(st);
	struct sql_q *q;
	int err = d->get(st, SQL_ACC_INSERT, &q);

	if (err)
		return err;
	d->bind_text(q, 1, a->auth_id);
	d->bind_text(q, 2, a->name);
	d->bind_text(q, 3, a->domain);
	d->bind_text(q, 4, a->token_sha256);
	d->bind_int(q, 5, a->created_ms);
	d->bind_text(q, 6, a->token_enc);
	return scalar(d, q, &a->id);
}

int store_account_get(struct store *st, const char *auth_id,
		      struct model_account *out)
{
	const struct sql_drv *d = drv_of(st);
	struct sql_q *q;
	int err = d->get(st, SQL_ACC_GET, &q);

	if (err)
		return err;
	d->bind_text(q, 1, auth_id);
	return one_row(d, q, read_account, out);
}

int store_account_get_ref(struct store *st, int64_t id,
			  struct model_account *out)
{
	struct sql_q *q;
	int err = get_int(st, SQL_ACC_GET_REF, id, &q);

	return err ? err : one_row(drv_of(st), q, read_account, out);
}

int store_account_token_set(struct store *st, const char *auth_id,
			    const char *token_sha256, const char *token_enc)
{
	const struct sql_drv *d = drv_of(st);
	struct sql_q *q;
	int err = d->get(st, SQL_ACC_SET_TOKEN, &q);

	if (err)
		return err;
	d->bind_text(q, 1, auth_id);
	d->bind_text(q, 2, token_sha256);
	d->bind_text(q, 3, token_enc);
	return change_one(d, q);
}

int store_account_get_sealed(struct store *st, struct model_account *out)
{
	struct sql_q *q;
	int err = drv_of(st)->get(st, SQL_ACC_GET_SEALED, &q);

	return err ? err : one_row(drv_of(st), q, read_account, out);
}

int store_account_count(struct store *st, int64_t *n)
{
	struct sql_q *q;
	int err = drv_of(st)->get(st, SQL_ACC_COUNT, &q);

	return err ? err : scalar(drv_of(st), q, n);
}

int store_account_list(struct store *st, store_account_cb cb, void *ctx)
{
	const struct sql_drv *d = drv_of(st);
	struct model_account a;
	struct sql_q *q;
	int err = d->get(st, SQL_ACC_LIST, &q);

	if (err)
		return err;
	while ((err = d->step(q)) == SQL_ROW) {
		read_account(d, q, &a);
		err = cb(ctx, &a);
		if (err)
			break;
	}
	d->reset(q);
	return err;
}

/* ---- applications ---- */

/* Binds ?3-?12, the fields that insert and update share. */
static void bind_app(const struct sql_drv *d, struct sql_q *q,
		     const struct model_app *a)
{
	d->bind_text(q, 3, a->app_name);
	d->bind_text(q, 4, a->answer_url);
	d->bind_text(q, 5, a->answer_method);
	d->bind_text(q, 6, a->hangup_url);
	d->bind_text(q, 7, a->hangup_method);
	d->bind_text(q, 8, a->fallback_answer_url);
	d->bind_text(q, 9, a->fallback_method);
	d->bind_text(q, 10, a->message_url);
	d->bind_text(q, 11, a->message_method);
	d->bind_int(q, 12, a->default_endpoint_app);
}

int store_app_insert(struct store *st, struct model_app *a)
{
	const struct sql_drv *d = drv_of(st);
	struct sql_q *q;
	int err = get_int(st, SQL_APP_INSERT, a->account_id, &q);

	if (err)
		return err;
	d->bind_text(q, 2, a->app_id);
	bind_app(d, q, a);
	d->bind_int(q, 13, a->created_ms);
	d->bind_int(q, 14, a->updated_ms);
	return scalar(d, q, &a->id);
}

int store_app_get(struct store *st, int64_t account_id, const char *app_id,
		  struct model_app *out)
{
	struct sql_q *q;
	int err = get_int(st, SQL_APP_GET, account_id, &q);

	if (err)
		return err;
	drv_of(st)->bind_text(q, 2, app_id);
	return one_row(drv_of(st), q, read_app, out);
}

int store_app_get_default(struct store *st, int64_t account_id,
			  struct model_app *out)
{
	struct sql_q *q;
	int err = get_int(st, SQL_APP_GET_DEFAULT, account_id, &q);

	return err ? err : one_row(drv_of(st), q, read_app, out);
}

int store_app_update(struct store *st, const struct model_app *a)
{
	const struct sql_drv *d = drv_of(st);
	struct sql_q *q;
	int err = get_int(st, SQL_APP_UPDATE, a->id, &q);

	if (err)
		return err;
	d->bind_int(q, 2, a->account_id);
	bind_app(d, q, a);
	d->bind_text(q, 13, a->app_id);
	d->bind_int(q, 14, a->updated_ms);
	return change_one(d, q);
}

int store_app_clear_default(struct store *st, int64_t account_id,
			    int64_t except_id, int64_t now_ms)
{
	const struct sql_drv *d = drv_of(st);
	struct sql_q *q;
	int err = get_int(st, SQL_APP_CLEAR_DEFAULT, account_id, &q);

	if (err)
		return err;
	d->bind_int(q, 2, except_id);
	d->bind_int(q, 3, now_ms);
	return run(d, q, NULL);
}

int store_app_delete(struct store *st, int64_t id)
{
	struct sql_q *q;
	int err = get_int(st, SQL_APP_DELETE, id, &q);

	return err ? err : change_one(drv_of(st), q);
}

int store_app_list(struct store *st, int64_t account_id, int64_t limit,
		   int64_t offset, store_app_cb cb, void *ctx, int64_t *total)
{
	const struct sql_drv *d = drv_of(st);
	struct model_app *a;
	struct sql_q *q;
	int64_t n;
	int err = get_int(st, SQL_APP_COUNT, account_id, &q);

	if (!err)
		err = scalar(d, q, &n);
	if (!err)
		err = get_int(st, SQL_APP_LIST, account_id, &q);
	if (err)
		return err;
	a = malloc(sizeof(*a));
	if (!a)
		return ENOMEM;
	d->bind_int(q, 2, limit);
	d->bind_int(q, 3, offset);
	while ((err = d->step(q)) == SQL_ROW) {
		read_app(d, q, a);
		err = cb(ctx, a);
		if (err)
			break;
	}
	d->reset(q);
	free(a);
	if (!err)
		*total = n;
	return err;
}

int store_app_endpoint_count(struct store *st, int64_t app_ref, int64_t *n)
{
	struct sql_q *q;
	int err = get_int(st, SQL_APP_EP_COUNT, app_ref, &q);

	return err ? err : scalar(drv_of(st), q, n);
}

/* ---- endpoints ---- */

/* An application reference: 0 is none (NULL). */
static void bind_ref(const struct sql_drv *d, struct sql_q *q, int i,
		     int64_t ref)
{
	if (ref)
		d->bind_int(q, i, ref);
	else
		d->bind_null(q, i);
}

int store_endpoint_insert(struct store *st, struct model_endpoint *ep)
{
	const struct sql_drv *d = drv_of(st);
	struct sql_q *q;
	int err = get_int(st, SQL_EP_INSERT, ep->account_id, &q);

	if (err)
		return err;
	d->bind_text(q, 2, ep->endpoint_id);
	d->bind_text(q, 3, ep->username);
	d->bind_text(q, 4, ep->domain);
	d->bind_text(q, 5, ep->alias);
	d->bind_text(q, 6, ep->ha1_md5);
	d->bind_text(q, 7, ep->ha1_sha256);
	bind_ref(d, q, 8, ep->app_ref);
	for (int i = 0; i < MODEL_ALLOW_COUNT; i++)
		d->bind_int(q, 9 + i, ep->allow[i]);
	d->bind_int(q, 16, ep->created_ms);
	d->bind_int(q, 17, ep->updated_ms);
	return scalar(d, q, &ep->id);
}

int store_endpoint_get(struct store *st, int64_t account_id,
		       const char *endpoint_id, struct model_endpoint *out)
{
	struct sql_q *q;
	int err = get_int(st, SQL_EP_GET, account_id, &q);

	if (err)
		return err;
	drv_of(st)->bind_text(q, 2, endpoint_id);
	return one_row(drv_of(st), q, read_endpoint, out);
}

int store_endpoint_get_by_user(struct store *st, const char *username,
			       const char *domain, struct model_endpoint *out)
{
	const struct sql_drv *d = drv_of(st);
	struct sql_q *q;
	int err = d->get(st, SQL_EP_GET_BY_USER, &q);

	if (err)
		return err;
	d->bind_text(q, 1, username);
	d->bind_text(q, 2, domain);
	return one_row(d, q, read_endpoint, out);
}

static void read_cred(const struct sql_drv *d, struct sql_q *q, void *dst)
{
	struct model_endpoint *x = dst;
	int i = 0;

	READ_I64(id);
	READ_TEXT(ha1_md5);
	READ_TEXT(ha1_sha256);
}

int store_endpoint_cred(struct store *st, const char *username,
			const char *domain, struct model_endpoint *out)
{
	const struct sql_drv *d = drv_of(st);
	struct sql_q *q;
	int err = d->get(st, SQL_EP_CRED, &q);

	if (err)
		return err;
	d->bind_text(q, 1, username);
	d->bind_text(q, 2, domain);
	return one_row(d, q, read_cred, out);
}

int store_endpoint_update(struct store *st, const struct model_endpoint *ep)
{
	const struct sql_drv *d = drv_of(st);
	struct sql_q *q;
	int err = get_int(st, SQL_EP_UPDATE, ep->id, &q);

	if (err)
		return err;
	d->bind_text(q, 2, ep->alias);
	d->bind_text(q, 3, ep->ha1_md5);
	d->bind_text(q, 4, ep->ha1_sha256);
	bind_ref(d, q, 5, ep->app_ref);
	d->bind_int(q, 6, ep->allow[MODEL_ALLOW_VOICE]);
	d->bind_int(q, 7, ep->allow[MODEL_ALLOW_MESSAGE]);
	d->bind_int(q, 8, ep->allow[MODEL_ALLOW_VIDEO]);
	d->bind_int(q, 9, ep->updated_ms);
	return change_one(d, q);
}

int store_endpoint_delete(struct store *st, int64_t id)
{
	struct sql_q *q;
	int err = get_int(st, SQL_EP_DELETE, id, &q);

	return err ? err : change_one(drv_of(st), q);
}

/*
 * Gets a count or page statement of an endpoint list and binds its
 * account and filters (?1-?10; unfiltered, ?1 alone). Returns the number
 * of the page's limit parameter (the offset follows it) in *page.
 */
/* What get_list prepares: the count, the page, or the page's bindings. */
enum list_q { LQ_COUNT, LQ_PAGE, LQ_BINDINGS };

static int get_list(struct store *st, enum list_q what, int64_t account_id,
		    const struct store_endpoint_filter *f, struct sql_q **q,
		    int *page)
{
	static const enum sql_id ids[3][2] = {
	    [LQ_COUNT] = {SQL_EP_COUNT, SQL_EP_COUNT_ALL},
	    [LQ_PAGE] = {SQL_EP_LIST, SQL_EP_LIST_ALL},
	    [LQ_BINDINGS] = {SQL_BIND_PAGE, SQL_BIND_PAGE_ALL},
	};
	const struct sql_drv *d = drv_of(st);
	bool all = store_filter_none(f);
	int err = get_int(st, ids[what][all], account_id, q);

	*page = all ? 2 : 11;
	if (err || all)
		return err;
	d->bind_text(*q, 2, f->username_exact);
	d->bind_text(*q, 3, f->username_contains);
	d->bind_text(*q, 4, f->username_startswith);
	d->bind_text(*q, 5, f->alias_exact);
	d->bind_text(*q, 6, f->alias_contains);
	d->bind_text(*q, 7, f->app_id_exact);
	if (f->app_isnull >= 0)
		d->bind_int(*q, 8, f->app_isnull);
	else
		d->bind_null(*q, 8);
	if (f->registered >= 0)
		d->bind_int(*q, 9, f->registered);
	else
		d->bind_null(*q, 9);
	d->bind_int(*q, 10, f->now_ms);
	return 0;
}

int store_endpoint_list(struct store *st, int64_t account_id,
			const struct store_endpoint_filter *f, int64_t limit,
			int64_t offset, store_endpoint_cb cb, void *ctx,
			int64_t *total)
{
	const struct sql_drv *d = drv_of(st);
	struct model_endpoint *ep;
	struct sql_q *q;
	int64_t n;
	int page, err = get_list(st, LQ_COUNT, account_id, f, &q, &page);

	if (!err)
		err = scalar(d, q, &n);
	if (!err)
		err = get_list(st, LQ_PAGE, account_id, f, &q, &page);
	if (err)
		return err;
	ep = malloc(sizeof(*ep));
	if (!ep)
		return ENOMEM;
	d->bind_int(q, page, limit);
	d->bind_int(q, page + 1, offset);
	d->bind_int(q, page + 2, f->after_ref);
	while ((err = d->step(q)) == SQL_ROW) {
		read_endpoint(d, q, ep);
		err = cb(ctx, ep);
		if (err)
			break;
	}
	d->reset(q);
	base_wipe(ep, sizeof(*ep)); /* the HA1 values of the last row */
	free(ep);
	if (!err)
		*total = n;
	return err;
}

int store_endpoints_reassign(struct store *st, int64_t from_app, int64_t to_app,
			     int64_t now_ms)
{
	const struct sql_drv *d = drv_of(st);
	struct sql_q *q;
	int err = get_int(st, SQL_EP_REASSIGN, from_app, &q);

	if (err)
		return err;
	bind_ref(d, q, 2, to_app);
	d->bind_int(q, 3, now_ms);
	return run(d, q, NULL);
}

int store_endpoints_delete_by_app(struct store *st, int64_t app_ref)
{
	return run_int(st, SQL_EP_DELETE_BY_APP, app_ref, NULL);
}

/* ---- registrations ---- */

/* Steps q (bound) and hands each row, a binding, to cb; resets q. */
static int each_binding(const struct sql_drv *d, struct sql_q *q,
			store_binding_cb cb, void *ctx)
{
	struct model_binding *b = malloc(sizeof(*b));
	int err;

	if (!b) {
		d->reset(q);
		return ENOMEM;
	}
	while ((err = d->step(q)) == SQL_ROW) {
		read_binding(d, q, b);
		err = cb(ctx, b);
		if (err)
			break;
	}
	d->reset(q);
	free(b);
	return err;
}

int store_binding_list(struct store *st, int64_t endpoint_ref, int64_t now_ms,
		       store_binding_cb cb, void *ctx)
{
	const struct sql_drv *d = drv_of(st);
	struct sql_q *q;
	int err = get_int(st, SQL_BIND_LIST, endpoint_ref, &q);

	if (err)
		return err;
	d->bind_int(q, 2, now_ms);
	return each_binding(d, q, cb, ctx);
}

int store_binding_list_page(struct store *st, int64_t account_id,
			    const struct store_endpoint_filter *f,
			    int64_t limit, int64_t offset, int64_t now_ms,
			    store_binding_cb cb, void *ctx)
{
	const struct sql_drv *d = drv_of(st);
	struct sql_q *q;
	int page, err = get_list(st, LQ_BINDINGS, account_id, f, &q, &page);

	if (err)
		return err;
	d->bind_int(q, page, limit);
	d->bind_int(q, page + 1, offset);
	d->bind_int(q, page + 2, f->after_ref);
	d->bind_int(q, page + 3, now_ms);
	return each_binding(d, q, cb, ctx);
}

/* Binds b as parameters 2 to 11 of an insert into registrations. */
static void bind_binding(const struct sql_drv *d, struct sql_q *q,
			 const struct model_binding *b)
{
	d->bind_text(q, 2, b->contact);
	d->bind_text(q, 3, b->q);
	d->bind_int(q, 4, b->expires_ms);
	d->bind_text(q, 5, b->call_id);
	d->bind_int(q, 6, b->cseq);
	d->bind_text(q, 7, b->user_agent);
	d->bind_text(q, 8, b->received);
	d->bind_text(q, 9, b->transport);
	d->bind_int(q, 10, b->updated_ms);
	d->bind_text(q, 11, b->path);
}

/*
 * Whether every row of the endpoint (live or expired) has a contact among
 * b[0..n) and no contact is there twice: then the replace is a set of
 * upserts, which leave the rows' index entries where they are.
 */
static int rows_within(struct store *st, int64_t endpoint_ref,
		       const struct model_binding *b, unsigned n, bool *within)
{
	const struct sql_drv *d = drv_of(st);
	char contact[MODEL_CONTACT_URI_MAX + 1];
	struct sql_q *q;
	int err;

	*within = true;
	for (unsigned i = 0; i < n; i++)
		for (unsigned k = i + 1; k < n; k++)
			if (strcmp(b[i].contact, b[k].contact) == 0)
				*within = false; /* the insert fails: EEXIST */
	err = get_int(st, SQL_BIND_CONTACTS, endpoint_ref, &q);
	if (err)
		return err;
	while (*within && (err = d->step(q)) == SQL_ROW) {
		unsigned i = 0;
		d->col_text(q, 0, contact, sizeof(contact));
		while (i < n && strcmp(b[i].contact, contact) != 0)
			i++;
		*within = i < n;
	}
	d->reset(q);
	return err == SQL_ROW ? 0 : err;
}

int store_binding_replace(struct store *st, int64_t endpoint_ref,
			  const struct model_binding *b, unsigned n)
{
	const struct sql_drv *d = drv_of(st);
	bool within = false;
	struct sql_q *q;
	int err = n ? rows_within(st, endpoint_ref, b, n, &within) : 0;

	if (!err && !within)
		err = run_int(st, SQL_BIND_DELETE_ALL, endpoint_ref, NULL);
	for (unsigned i = 0; !err && i < n; i++) {
		err = get_int(st, within ? SQL_BIND_UPSERT : SQL_BIND_INSERT,
			      endpoint_ref, &q);
		if (err)
			break;
		bind_binding(d, q, &b[i]);
		err = run(d, q, NULL);
	}
	return err;
}

int store_binding_sweep(struct store *st, int64_t now_ms, int64_t max,
			int64_t *n)
{
	const struct sql_drv *d = drv_of(st);
	struct sql_q *q;
	int err = get_int(st, SQL_BIND_SWEEP, now_ms, &q);

	if (err)
		return err;
	d->bind_int(q, 2, max);
	return run(d, q, n);
}

int store_binding_count(struct store *st, int64_t now_ms, int64_t *endpoints,
			int64_t *bindings)
{
	const struct sql_drv *d = drv_of(st);
	struct sql_q *q;
	int err = get_int(st, SQL_BIND_COUNT, now_ms, &q);

	if (err)
		return err;
	err = d->step(q);
	if (err == SQL_ROW) {
		*endpoints = d->col_int(q, 0);
		*bindings = d->col_int(q, 1);
		err = 0;
	} else if (!err) {
		*endpoints = *bindings = 0;
	}
	d->reset(q);
	return err;
}

int store_binding_drop_conn(struct store *st, const char *received,
			    const char *transport, int64_t *n)
{
	const struct sql_drv *d = drv_of(st);
	struct sql_q *q;
	int err = d->get(st, SQL_BIND_DROP_CONN, &q);

	if (err)
		return err;
	d->bind_text(q, 1, received);
	d->bind_text(q, 2, transport);
	return run(d, q, n);
}

/* ---- call detail records ---- */

int store_cdr_insert(struct store *st, const struct model_cdr *c)
{
	const struct sql_drv *d = drv_of(st);
	struct sql_q *q;
	int err = get_int(st, SQL_CDR_INSERT, c->account_id, &q);

	if (err)
		return err;
	d->bind_text(q, 2, c->call_uuid);
	d->bind_text(q, 3, c->parent_call_uuid);
	d->bind_int(q, 4, c->endpoint_ref);
	d->bind_text(q, 5, c->endpoint_id);
	d->bind_text(q, 6, c->from_number);
	d->bind_text(q, 7, c->to_number);
	d->bind_text(q, 8, c->caller_name);
	d->bind_text(q, 9, c->call_direction);
	d->bind_int(q, 10, c->initiation_ms);
	d->bind_int(q, 11, c->answer_ms);
	d->bind_int(q, 12, c->end_ms);
	d->bind_int(q, 13, c->call_duration);
	d->bind_int(q, 14, c->bill_duration);
	d->bind_text(q, 15, c->hangup_cause_name);
	d->bind_int(q, 16, c->hangup_cause_code);
	d->bind_text(q, 17, c->hangup_source);
	return run(d, q, NULL);
}

int store_cdr_get(struct store *st, int64_t account_id, const char *call_uuid,
		  struct model_cdr *out)
{
	struct sql_q *q;
	int err = get_int(st, SQL_CDR_GET, account_id, &q);

	if (err)
		return err;
	drv_of(st)->bind_text(q, 2, call_uuid);
	return one_row(drv_of(st), q, read_cdr, out);
}

/*
 * Gets a count or page statement of a CDR list and binds the account, the
 * range and the filters (?1-?7; unfiltered, ?1-?3). Returns the number of
 * the page's limit parameter (the offset follows it) in *page.
 */
static int get_cdr_list(struct store *st, bool count, int64_t account_id,
			const struct store_cdr_filter *f, struct sql_q **q,
			int *page)
{
	const struct sql_drv *d = drv_of(st);
	bool all = !f->call_direction && !f->from_number && !f->to_number &&
		   f->hangup_cause_code < 0;
	enum sql_id id = all ? (count ? SQL_CDR_COUNT_ALL : SQL_CDR_LIST_ALL)
			     : (count ? SQL_CDR_COUNT : SQL_CDR_LIST);
	int err = get_int(st, id, account_id, q);

	*page = all ? 4 : 8;
	if (err)
		return err;
	d->bind_int(*q, 2, f->end_min);
	d->bind_int(*q, 3, f->end_max);
	if (all)
		return 0;
	d->bind_text(*q, 4, f->call_direction);
	d->bind_text(*q, 5, f->from_number);
	d->bind_text(*q, 6, f->to_number);
	if (f->hangup_cause_code >= 0)
		d->bind_int(*q, 7, f->hangup_cause_code);
	else
		d->bind_null(*q, 7);
	return 0;
}

int store_cdr_list(struct store *st, int64_t account_id,
		   const struct store_cdr_filter *f, int64_t limit,
		   int64_t offset, store_cdr_cb cb, void *ctx, int64_t *total)
{
	const struct sql_drv *d = drv_of(st);
	struct model_cdr *c;
	struct sql_q *q;
	int64_t n;
	int page, err = get_cdr_list(st, true, account_id, f, &q, &page);

	if (!err)
		err = scalar(d, q, &n);
	if (!err)
		err = get_cdr_list(st, false, account_id, f, &q, &page);
	if (err)
		return err;
	c = malloc(sizeof(*c));
	if (!c) {
		d->reset(q);
		return ENOMEM;
	}
	d->bind_int(q, page, limit);
	d->bind_int(q, page + 1, offset);
	while ((err = d->step(q)) == SQL_ROW) {
		read_cdr(d, q, c);
		err = cb(ctx, c);
		if (err)
			break;
	}
	d->reset(q);
	free(c);
	if (!err)
		*total = n;
	return err;
}

int store_cdr_sweep(struct store *st, int64_t before_ms, int64_t max,
		    int64_t *n)
{
	struct sql_q *q;
	int err = get_int(st, SQL_CDR_SWEEP, before_ms, &q);

	if (err)
		return err;
	drv_of(st)->bind_int(q, 2, max);
	return run(drv_of(st), q, n);
}

/* ---- live calls ---- */

int store_live_put(struct store *st, const struct model_live_call *l)
{
	const struct sql_drv *d = drv_of(st);
	struct sql_q *q;
	int err = d->get(st, SQL_LIVE_PUT, &q);

	if (err)
		return err;
	d->bind_text(q, 1, l->call_uuid);
	d->bind_int(q, 2, l->account_id);
	d->bind_text(q, 3, l->node_id);
	d->bind_text(q, 4, l->direction);
	d->bind_text(q, 5, l->from);
	d->bind_text(q, 6, l->to);
	d->bind_text(q, 7, l->caller_name);
	d->bind_text(q, 8, l->call_status);
	d->bind_int(q, 9, l->session_start_ms);
	d->bind_int(q, 10, l->updated_ms);
	return run(d, q, NULL);
}

int store_live_delete(struct store *st, const char *call_uuid)
{
	const struct sql_drv *d = drv_of(st);
	struct sql_q *q;
	int err = d->get(st, SQL_LIVE_DELETE, &q);

	if (err)
		return err;
	d->bind_text(q, 1, call_uuid);
	return change_one(d, q);
}

/* Runs a query of call_uuids into out[0..max); *n says how many. */
static int uuid_rows(const struct sql_drv *d, struct sql_q *q,
		     char (*out)[MODEL_UUID_MAX], unsigned max, unsigned *n)
{
	unsigned k = 0;
	int err;

	while ((err = d->step(q)) == SQL_ROW) {
		if (k < max)
			d->col_text(q, 0, out[k++], MODEL_UUID_MAX);
	}
	d->reset(q);
	if (!err)
		*n = k;
	return err;
}

int store_live_list(struct store *st, int64_t account_id, int64_t since_ms,
		    char (*out)[MODEL_UUID_MAX], unsigned max, unsigned *n)
{
	struct sql_q *q;
	int err = get_int(st, SQL_LIVE_LIST, account_id, &q);

	if (err)
		return err;
	drv_of(st)->bind_int(q, 2, since_ms);
	drv_of(st)->bind_int(q, 3, max);
	return uuid_rows(drv_of(st), q, out, max, n);
}

int store_live_get(struct store *st, int64_t account_id, const char *call_uuid,
		   int64_t since_ms, struct model_live_call *out)
{
	const struct sql_drv *d = drv_of(st);
	struct sql_q *q;
	int err = d->get(st, SQL_LIVE_GET, &q);

	if (err)
		return err;
	d->bind_text(q, 1, call_uuid);
	d->bind_int(q, 2, account_id);
	d->bind_int(q, 3, since_ms);
	return one_row(d, q, read_live, out);
}

int store_live_hangup(struct store *st, int64_t account_id,
		      const char *call_uuid, int64_t since_ms)
{
	const struct sql_drv *d = drv_of(st);
	struct sql_q *q;
	int err = d->get(st, SQL_LIVE_HANGUP, &q);

	if (err)
		return err;
	d->bind_text(q, 1, call_uuid);
	d->bind_int(q, 2, account_id);
	d->bind_int(q, 3, since_ms);
	return change_one(d, q);
}

int store_live_due(struct store *st, const char *node_id,
		   char (*out)[MODEL_UUID_MAX], unsigned max, unsigned *n)
{
	const struct sql_drv *d = drv_of(st);
	struct sql_q *q;
	int err = d->get(st, SQL_LIVE_DUE, &q);

	if (err)
		return err;
	d->bind_text(q, 1, node_id);
	d->bind_int(q, 2, max);
	return uuid_rows(d, q, out, max, n);
}

int store_live_touch(struct store *st, const char *node_id, int64_t now_ms,
		     int64_t *n)
{
	const struct sql_drv *d = drv_of(st);
	struct sql_q *q;
	int err = d->get(st, SQL_LIVE_TOUCH, &q);

	if (err)
		return err;
	d->bind_text(q, 1, node_id);
	d->bind_int(q, 2, now_ms);
	return run(d, q, n);
}

int store_live_sweep(struct store *st, int64_t before_ms, int64_t *n)
{
	return run_int(st, SQL_LIVE_SWEEP, before_ms, n);
}
