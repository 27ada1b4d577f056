/*
 * pg.c - the PostgreSQL store (libpq): one connection per thread, prepared
 * statements per connection, SERIALIZABLE write transactions. Serialization
 * failures and deadlocks (SQLSTATE 40001, 40P01) become EBUSY so that svc
 * retries the whole transaction, as Postgres-wire distributed engines
 * require. The SQL keeps to the subset those engines share.
 */
#include <errno.h>
#include <inttypes.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <libpq-fe.h>

#include "base/crypto.h"
#include "base/log.h"
#include "base/time.h"
#include "store/store.h"

/* Each migration takes the schema from version i to i + 1. */
static const char *const migrations[] = {
    "CREATE TABLE accounts ("
    " id BIGSERIAL PRIMARY KEY,"
    " auth_id TEXT NOT NULL UNIQUE,"
    " name TEXT NOT NULL,"
    " domain TEXT NOT NULL,"
    " token_sha256 TEXT NOT NULL,"
    " created_ms BIGINT NOT NULL);"
    "CREATE TABLE applications ("
    " id BIGSERIAL PRIMARY KEY,"
    " account_id BIGINT NOT NULL REFERENCES accounts(id),"
    " app_id TEXT NOT NULL UNIQUE,"
    " app_name TEXT NOT NULL,"
    " answer_url TEXT NOT NULL,"
    " answer_method TEXT NOT NULL,"
    " hangup_url TEXT NOT NULL,"
    " hangup_method TEXT NOT NULL,"
    " fallback_answer_url TEXT NOT NULL,"
    " fallback_method TEXT NOT NULL,"
    " message_url TEXT NOT NULL,"
    " message_method TEXT NOT NULL,"
    " default_endpoint_app INTEGER NOT NULL,"
    " created_ms BIGINT NOT NULL,"
    " updated_ms BIGINT NOT NULL);"
    "CREATE INDEX applications_account ON applications(account_id, id);"
    "CREATE TABLE endpoints ("
    " id BIGSERIAL PRIMARY KEY,"
    " account_id BIGINT NOT NULL REFERENCES accounts(id),"
    " endpoint_id TEXT NOT NULL UNIQUE,"
    " username TEXT NOT NULL,"
    " domain TEXT NOT NULL,"
    " alias TEXT NOT NULL,"
    " ha1_md5 TEXT NOT NULL,"
    " ha1_sha256 TEXT NOT NULL,"
    " app_ref BIGINT REFERENCES applications(id),"
    " allow_voice INTEGER NOT NULL,"
    " allow_message INTEGER NOT NULL,"
    " allow_video INTEGER NOT NULL,"
    " allow_same_domain INTEGER NOT NULL,"
    " allow_other_domains INTEGER NOT NULL,"
    " allow_phones INTEGER NOT NULL,"
    " allow_apps INTEGER NOT NULL,"
    " created_ms BIGINT NOT NULL,"
    " updated_ms BIGINT NOT NULL,"
    " UNIQUE (username, domain));"
    "CREATE INDEX endpoints_account ON endpoints(account_id, id);"
    "CREATE INDEX endpoints_app ON endpoints(app_ref);",

    "CREATE TABLE registrations ("
    " id BIGSERIAL PRIMARY KEY,"
    " endpoint_ref BIGINT NOT NULL"
    "  REFERENCES endpoints(id) ON DELETE CASCADE,"
    " contact TEXT NOT NULL,"
    " q TEXT NOT NULL,"
    " expires_ms BIGINT NOT NULL,"
    " call_id TEXT NOT NULL,"
    " cseq BIGINT NOT NULL,"
    " user_agent TEXT NOT NULL,"
    " received TEXT NOT NULL,"
    " transport TEXT NOT NULL,"
    " updated_ms BIGINT NOT NULL,"
    " UNIQUE (endpoint_ref, contact));"
    "CREATE INDEX registrations_expires ON registrations(expires_ms);",

    /*
     * 3: SQLite's version 3 adds a trigger-kept endpoint counter. Here an
     * index-only count serves, and a counter row would make concurrent
     * creates in one account conflict: nothing to change.
     */
    "SELECT 1",
};

#define NMIGRATIONS (sizeof(migrations) / sizeof(migrations[0]))
_Static_assert(NMIGRATIONS == STORE_SCHEMA_VERSION, "schema version");

#define EP_COLS                                                             \
	"e.id, e.account_id, e.endpoint_id, e.username, e.domain, e.alias," \
	" e.ha1_md5, e.ha1_sha256, e.app_ref, a.app_id, a.app_name,"        \
	" a.answer_url, a.answer_method, e.allow_voice, e.allow_message,"   \
	" e.allow_video, e.allow_same_domain, e.allow_other_domains,"       \
	" e.allow_phones, e.allow_apps, e.created_ms, e.updated_ms"         \
	" FROM endpoints e LEFT JOIN applications a ON a.id = e.app_ref "

/* The list filters, on the endpoints table alone (see sqlite.c). */
#define EP_FILTER                                                      \
	"WHERE e.account_id = $1"                                      \
	" AND ($2::TEXT IS NULL OR e.username = $2)"                   \
	" AND ($3::TEXT IS NULL OR strpos(e.username, $3) > 0)"        \
	" AND ($4::TEXT IS NULL OR left(e.username, length($4)) = $4)" \
	" AND ($5::TEXT IS NULL OR e.alias = $5)"                      \
	" AND ($6::TEXT IS NULL OR strpos(e.alias, $6) > 0)"           \
	" AND ($7::TEXT IS NULL OR e.app_ref IN"                       \
	"      (SELECT id FROM applications WHERE app_id = $7))"       \
	" AND ($8::INTEGER IS NULL OR ($8 = 1 AND e.app_ref IS NULL)"  \
	"      OR ($8 = 0 AND e.app_ref IS NOT NULL)) "

#define APP_COLS                                                            \
	"id, account_id, app_id, app_name, answer_url, answer_method,"      \
	" hangup_url, hangup_method, fallback_answer_url, fallback_method," \
	" message_url, message_method, default_endpoint_app, created_ms,"   \
	" updated_ms FROM applications "

enum stmt_id {
	S_ACC_INSERT,
	S_ACC_GET,
	S_ACC_COUNT,
	S_ACC_LIST,
	S_APP_INSERT,
	S_APP_GET,
	S_APP_GET_DEFAULT,
	S_APP_UPDATE,
	S_APP_CLEAR_DEFAULT,
	S_APP_DELETE,
	S_APP_LIST,
	S_APP_COUNT,
	S_APP_EP_COUNT,
	S_EP_INSERT,
	S_EP_GET,
	S_EP_GET_BY_USER,
	S_EP_UPDATE,
	S_EP_DELETE,
	S_EP_LIST,
	S_EP_COUNT,
	S_EP_LIST_ALL,
	S_EP_COUNT_ALL,
	S_EP_REASSIGN,
	S_EP_DELETE_BY_APP,
	S_BIND_LIST,
	S_BIND_DELETE_ALL,
	S_BIND_INSERT,
	S_BIND_SWEEP,
	S_COUNT
};

static const char *const sql[S_COUNT] = {
    [S_ACC_INSERT] = "INSERT INTO accounts (auth_id, name, domain,"
		     " token_sha256, created_ms) VALUES ($1, $2, $3, $4, $5)"
		     " RETURNING id",
    [S_ACC_GET] = "SELECT id, auth_id, name, domain, token_sha256,"
		  " created_ms FROM accounts WHERE auth_id = $1",
    [S_ACC_COUNT] = "SELECT count(*) FROM accounts",
    [S_ACC_LIST] = "SELECT id, auth_id, name, domain, token_sha256,"
		   " created_ms FROM accounts ORDER BY id",
    [S_APP_INSERT] = "INSERT INTO applications (account_id, app_id,"
		     " app_name, answer_url, answer_method, hangup_url,"
		     " hangup_method, fallback_answer_url, fallback_method,"
		     " message_url, message_method, default_endpoint_app,"
		     " created_ms, updated_ms)"
		     " VALUES ($1,$2,$3,$4,$5,$6,$7,$8,$9,$10,$11,$12,$13,$14)"
		     " RETURNING id",
    [S_APP_GET] = "SELECT " APP_COLS "WHERE account_id = $1 AND app_id = $2",
    [S_APP_GET_DEFAULT] =
	"SELECT " APP_COLS "WHERE account_id = $1 AND default_endpoint_app = 1"
	" ORDER BY id LIMIT 1",
    [S_APP_UPDATE] = "UPDATE applications SET app_name = $3,"
		     " answer_url = $4, answer_method = $5,"
		     " hangup_url = $6, hangup_method = $7,"
		     " fallback_answer_url = $8, fallback_method = $9,"
		     " message_url = $10, message_method = $11,"
		     " default_endpoint_app = $12, updated_ms = $14"
		     " WHERE id = $1 AND account_id = $2 AND app_id = $13",
    [S_APP_CLEAR_DEFAULT] = "UPDATE applications SET default_endpoint_app"
			    " = 0, updated_ms = greatest(updated_ms + 1, $3)"
			    " WHERE account_id = $1 AND id <> $2 AND"
			    " default_endpoint_app = 1",
    [S_APP_DELETE] = "DELETE FROM applications WHERE id = $1",
    [S_APP_LIST] = "SELECT " APP_COLS
		   "WHERE account_id = $1 ORDER BY id LIMIT $2 OFFSET $3",
    [S_APP_COUNT] = "SELECT count(*) FROM applications WHERE account_id = $1",
    [S_APP_EP_COUNT] = "SELECT count(*) FROM endpoints WHERE app_ref = $1",
    [S_EP_INSERT] = "INSERT INTO endpoints (account_id, endpoint_id,"
		    " username, domain, alias, ha1_md5, ha1_sha256, app_ref,"
		    " allow_voice, allow_message, allow_video,"
		    " allow_same_domain, allow_other_domains, allow_phones,"
		    " allow_apps, created_ms, updated_ms)"
		    " VALUES ($1,$2,$3,$4,$5,$6,$7,$8,$9,$10,$11,$12,$13,$14,"
		    "$15,$16,$17) RETURNING id",
    [S_EP_GET] =
	"SELECT " EP_COLS "WHERE e.account_id = $1 AND e.endpoint_id = $2",
    [S_EP_GET_BY_USER] =
	"SELECT " EP_COLS "WHERE e.username = $1 AND e.domain = $2",
    [S_EP_UPDATE] = "UPDATE endpoints SET alias = $2, ha1_md5 = $3,"
		    " ha1_sha256 = $4, app_ref = $5, allow_voice = $6,"
		    " allow_message = $7, allow_video = $8, updated_ms = $9"
		    " WHERE id = $1",
    [S_EP_DELETE] = "DELETE FROM endpoints WHERE id = $1",
    [S_EP_LIST] = "SELECT " EP_COLS
		  "WHERE e.id IN (SELECT e.id FROM endpoints e " EP_FILTER
		  "ORDER BY e.id LIMIT $9 OFFSET $10) ORDER BY e.id",
    [S_EP_COUNT] = "SELECT count(*) FROM endpoints e " EP_FILTER,
    [S_EP_LIST_ALL] =
	"SELECT " EP_COLS "WHERE e.id IN (SELECT id FROM endpoints WHERE"
	" account_id = $1 ORDER BY id LIMIT $2 OFFSET $3)"
	" ORDER BY e.id",
    [S_EP_COUNT_ALL] = "SELECT count(*) FROM endpoints WHERE account_id = $1",
    [S_EP_REASSIGN] = "UPDATE endpoints SET app_ref = $2, updated_ms = $3"
		      " WHERE app_ref = $1",
    [S_EP_DELETE_BY_APP] = "DELETE FROM endpoints WHERE app_ref = $1",
    [S_BIND_LIST] = "SELECT endpoint_ref, contact, q, expires_ms, call_id,"
		    " cseq, user_agent, received, transport, updated_ms"
		    " FROM registrations WHERE endpoint_ref = $1"
		    " AND expires_ms > $2 ORDER BY id",
    [S_BIND_DELETE_ALL] = "DELETE FROM registrations WHERE endpoint_ref = $1",
    [S_BIND_INSERT] = "INSERT INTO registrations (endpoint_ref, contact,"
		      " q, expires_ms, call_id, cseq, user_agent, received,"
		      " transport, updated_ms)"
		      " VALUES ($1,$2,$3,$4,$5,$6,$7,$8,$9,$10)",
    [S_BIND_SWEEP] = "DELETE FROM registrations WHERE id IN (SELECT id"
		     " FROM registrations WHERE expires_ms <= $1 LIMIT $2)",
};

_Static_assert(sizeof(sql) / sizeof(sql[0]) == S_COUNT, "one SQL per id");

struct pg {
	struct store base;
	PGconn *conn;
	bool prepared[S_COUNT];
	bool relaxed; /* synchronous_commit off now */
};

static struct pg *pg_of(struct store *st)
{
	return (struct pg *)st;
}

/* Text parameters for one statement. */
#define PARAMS_MAX 20
struct params {
	int n;
	const char *v[PARAMS_MAX];
	char num[PARAMS_MAX][24];
};

static void p_text(struct params *p, const char *v)
{
	p->v[p->n++] = v;
}

static void p_int(struct params *p, int64_t v)
{
	snprintf(p->num[p->n], sizeof(p->num[0]), "%" PRId64, v);
	p->v[p->n] = p->num[p->n];
	p->n++;
}

static void p_null(struct params *p)
{
	p->v[p->n++] = NULL;
}

/* Maps a failed result (or a dead connection) to an errno. */
static int map_res(struct pg *s, const PGresult *res, const char *what)
{
	const char *state =
	    res ? PQresultErrorField(res, PG_DIAG_SQLSTATE) : NULL;
	const char *primary;

	if (state) {
		if (strcmp(state, "23505") == 0)
			return EEXIST;
		if (strcmp(state, "23503") == 0)
			return ENOENT; /* refers to a row deleted meanwhile */
		if (strcmp(state, "40001") == 0 ||
		    strcmp(state, "40P01") == 0 || strcmp(state, "55P03") == 0)
			return EBUSY;
	}
	/* Only the primary message: a DETAIL line may quote a row's values
	 * (HA1, token hash). */
	primary = res ? PQresultErrorField(res, PG_DIAG_MESSAGE_PRIMARY) : NULL;
	LOG_ERROR(
	    "store_error", "backend=postgresql op=%s sqlstate=%s msg=\"%s\"",
	    what, state ? state : "-",
	    primary ? primary
		    : (PQstatus(s->conn) == CONNECTION_BAD ? "connection lost"
							   : "error"));
	return EIO;
}

/*
 * Waits for the result of the command just sent (sent is its PQsend*
 * return), no longer than the calling thread's deadline (base_deadline).
 * Returns the last result in *out (NULL when none came), 0, or ETIMEDOUT:
 * the connection is then closed, since a server that does not answer may
 * not answer a cancel either; the transaction was never committed unless
 * the deadline fell on its COMMIT, and the store is reopened by svc.
 */
static int await_result(struct pg *s, int sent, PGresult **out)
{
	PGresult *res, *last = NULL;

	*out = NULL;
	if (!sent)
		return 0; /* *out NULL: the connection's error is mapped */
	while (PQisBusy(s->conn)) {
		struct pollfd p = {.fd = PQsocket(s->conn), .events = POLLIN};
		int64_t left = base_deadline_left_ms(-1);
		int n = poll(&p, 1, left < 0 ? -1 : (int)left);

		if (n == 0) {
			LOG_WARN("store_timeout", "backend=postgresql");
			PQfinish(s->conn);
			s->conn = NULL;
			return ETIMEDOUT;
		}
		if ((n < 0 && errno != EINTR) || !PQconsumeInput(s->conn))
			break;
	}
	while ((res = PQgetResult(s->conn))) {
		PQclear(last);
		last = res;
	}
	*out = last;
	return 0;
}

/*
 * Runs statement id with p; on success *out is the result (caller
 * PQclear()s it) when out is not NULL.
 */
static int run(struct pg *s, enum stmt_id id, const struct params *p,
	       PGresult **out, const char *what)
{
	PGresult *res;
	ExecStatusType st;
	int err = 0;

	if (!s->prepared[id]) {
		char name[16];
		snprintf(name, sizeof(name), "s%d", (int)id);
		if (!s->conn)
			return EIO;
		err = await_result(
		    s, PQsendPrepare(s->conn, name, sql[id], 0, NULL), &res);
		if (err)
			return err;
		if (PQresultStatus(res) != PGRES_COMMAND_OK) {
			err = map_res(s, res, "prepare");
			PQclear(res);
			return err;
		}
		PQclear(res);
		s->prepared[id] = true;
	}
	{
		char name[16];
		snprintf(name, sizeof(name), "s%d", (int)id);
		if (!s->conn)
			return EIO;
		err = await_result(
		    s,
		    PQsendQueryPrepared(s->conn, name, p ? p->n : 0,
					p ? p->v : NULL, NULL, NULL, 0),
		    &res);
		if (err)
			return err;
	}
	st = PQresultStatus(res);
	if (st != PGRES_COMMAND_OK && st != PGRES_TUPLES_OK) {
		err = map_res(s, res, what);
		PQclear(res);
		return err;
	}
	if (out)
		*out = res;
	else
		PQclear(res);
	return 0;
}

/* Runs a plain command (transaction control, migrations). */
static int exec_cmd(struct pg *s, const char *cmd, const char *what)
{
	PGresult *res;
	ExecStatusType st;
	int err;

	if (!s->conn)
		return EIO;
	err = await_result(s, PQsendQuery(s->conn, cmd), &res);
	if (err)
		return err;
	st = PQresultStatus(res);
	if (st != PGRES_COMMAND_OK && st != PGRES_TUPLES_OK)
		err = map_res(s, res, what);
	PQclear(res);
	return err;
}

static int64_t col_int(const PGresult *r, int row, int col)
{
	return PQgetisnull(r, row, col)
		   ? 0
		   : strtoll(PQgetvalue(r, row, col), NULL, 10);
}

static void col_text(const PGresult *r, int row, int col, char *out, size_t cap)
{
	snprintf(out, cap, "%s",
		 PQgetisnull(r, row, col) ? "" : PQgetvalue(r, row, col));
}

/*
 * Connects, giving up by the calling thread's deadline (10 s without one)
 * unless the URL sets its own connect_timeout.
 */
static PGconn *connect_db(const char *url)
{
	const char *keys[] = {"dbname", "connect_timeout", NULL};
	const char *vals[] = {url, NULL, NULL};
	char secs[24];
	int64_t left = base_deadline_left_ms(10000);

	if (strstr(url, "connect_timeout="))
		return PQconnectdb(url);
	/* libpq counts whole seconds and takes at least 2. */
	snprintf(secs, sizeof(secs), "%lld",
		 (long long)(left < 2000 ? 2 : (left + 999) / 1000));
	vals[1] = secs;
	return PQconnectdbParams(keys, vals, 1);
}

static int pg_open(const char *url, struct store **out)
{
	struct pg *s;
	int err = 0;

	s = calloc(1, sizeof(*s));
	if (!s)
		return ENOMEM;
	s->base.ops = &store_pg_ops;
	s->conn = connect_db(url);
	if (PQstatus(s->conn) != CONNECTION_OK) {
		/* The message may hold the URL's password: do not log it. */
		LOG_ERROR("store_open", "backend=postgresql error=\"cannot "
					"connect\"");
		err = EIO;
		goto out;
	}
	err = exec_cmd(s, "SET client_min_messages = warning", "open");
	if (!err)
		*out = &s->base;
out:
	if (err) {
		PQfinish(s->conn);
		free(s);
	}
	return err;
}

static void pg_close(struct store *st)
{
	struct pg *s;

	if (!st)
		return;
	s = pg_of(st);
	PQfinish(s->conn);
	free(s);
}

static int migrate_once(struct pg *s);

/*
 * Nodes starting together race to create the schema: the losers see a
 * unique or serialization error, and retry to find it done.
 */
static int pg_migrate(struct store *st)
{
	int err = EBUSY;

	for (int i = 0; i < 10 && (err == EBUSY || err == EEXIST); i++)
		err = migrate_once(pg_of(st));
	return err;
}

static int migrate_once(struct pg *s)
{
	PGresult *res;
	int64_t version = 0;
	int err;

	err = exec_cmd(s, "BEGIN ISOLATION LEVEL SERIALIZABLE", "migrate");
	if (!err)
		err = exec_cmd(s,
			       "CREATE TABLE IF NOT EXISTS schema_version"
			       " (version BIGINT NOT NULL)",
			       "migrate");
	if (err)
		goto out;
	res = PQexec(s->conn, "SELECT max(version) FROM schema_version");
	if (PQresultStatus(res) != PGRES_TUPLES_OK) {
		err = map_res(s, res, "migrate");
		PQclear(res);
		goto out;
	}
	version = col_int(res, 0, 0);
	PQclear(res);
	if (version > STORE_SCHEMA_VERSION) {
		LOG_ERROR("store_schema_newer",
			  "backend=postgresql found=%lld known=%d",
			  (long long)version, STORE_SCHEMA_VERSION);
		err = EPROTO;
		goto out;
	}
	for (int64_t v = version; v < STORE_SCHEMA_VERSION && !err; v++) {
		char ins[96];
		err = exec_cmd(s, migrations[v], "migrate");
		snprintf(ins, sizeof(ins),
			 "INSERT INTO schema_version VALUES (%lld)",
			 (long long)v + 1);
		if (!err)
			err = exec_cmd(s, ins, "migrate");
		if (!err)
			LOG_INFO("store_migrated",
				 "backend=postgresql version=%lld",
				 (long long)v + 1);
	}
	if (!err)
		return exec_cmd(s, "COMMIT", "migrate");
out:
	exec_cmd(s, "ROLLBACK", "migrate");
	return err;
}

static int pg_begin(struct store *st, bool write)
{
	return exec_cmd(pg_of(st),
			write
			    ? "BEGIN ISOLATION LEVEL SERIALIZABLE"
			    : "BEGIN ISOLATION LEVEL REPEATABLE READ READ ONLY",
			"begin");
}

static int pg_commit(struct store *st)
{
	return exec_cmd(pg_of(st), "COMMIT", "commit");
}

static void pg_rollback(struct store *st)
{
	struct pg *s = pg_of(st);

	if (PQtransactionStatus(s->conn) != PQTRANS_IDLE)
		exec_cmd(s, "ROLLBACK", "rollback");
}

/* Runs an INSERT ... RETURNING id. */
static int insert_id(struct pg *s, enum stmt_id id, const struct params *p,
		     int64_t *out, const char *what)
{
	PGresult *res;
	int err = run(s, id, p, &res, what);

	if (err)
		return err;
	*out = col_int(res, 0, 0);
	PQclear(res);
	return 0;
}

/* Runs a statement that changes rows; ENOENT when none changed. */
static int change_one(struct pg *s, enum stmt_id id, const struct params *p,
		      const char *what)
{
	PGresult *res;
	int err = run(s, id, p, &res, what);

	if (err)
		return err;
	err = strcmp(PQcmdTuples(res), "0") == 0 ? ENOENT : 0;
	PQclear(res);
	return err;
}

static int scalar(struct pg *s, enum stmt_id id, const struct params *p,
		  int64_t *n, const char *what)
{
	PGresult *res;
	int err = run(s, id, p, &res, what);

	if (err)
		return err;
	*n = PQntuples(res) ? col_int(res, 0, 0) : 0;
	PQclear(res);
	return 0;
}

/* synchronous_commit off: a crash may lose the last commits, in order. */
static int pg_durable(struct store *st, bool on)
{
	struct pg *s = pg_of(st);
	int err;

	if (s->relaxed != on)
		return 0;
	err = exec_cmd(s,
		       on ? "SET synchronous_commit TO on"
			  : "SET synchronous_commit TO off",
		       "durable");
	if (!err)
		s->relaxed = !on;
	return err;
}

static int pg_savepoint(struct store *st, enum store_sp op)
{
	static const char *const cmd[] = {"SAVEPOINT job", "RELEASE job",
					  "ROLLBACK TO job"};

	return exec_cmd(pg_of(st), cmd[op], "savepoint");
}

static int pg_account_insert(struct store *st, struct model_account *a)
{
	struct params p = {0};

	p_text(&p, a->auth_id);
	p_text(&p, a->name);
	p_text(&p, a->domain);
	p_text(&p, a->token_sha256);
	p_int(&p, a->created_ms);
	return insert_id(pg_of(st), S_ACC_INSERT, &p, &a->id, "account_insert");
}

/* Copies one row of a result into a struct. */
typedef void (*row_reader)(const PGresult *r, int row, void *dst);

/*
 * Runs a query expected to return at most one row and reads it into out.
 * Returns 0, ENOENT for no row, or the store error.
 */
static int one_row(struct pg *s, enum stmt_id id, const struct params *p,
		   row_reader read, void *out, const char *what)
{
	PGresult *r;
	int err = run(s, id, p, &r, what);

	if (err)
		return err;
	if (PQntuples(r) == 0)
		err = ENOENT;
	else
		read(r, 0, out);
	PQclear(r);
	return err;
}

static void read_account(const PGresult *r, int row, void *dst)
{
	struct model_account *a = dst;

	a->id = col_int(r, row, 0);
	col_text(r, row, 1, a->auth_id, sizeof(a->auth_id));
	col_text(r, row, 2, a->name, sizeof(a->name));
	col_text(r, row, 3, a->domain, sizeof(a->domain));
	col_text(r, row, 4, a->token_sha256, sizeof(a->token_sha256));
	a->created_ms = col_int(r, row, 5);
}

static int pg_account_get(struct store *st, const char *auth_id,
			  struct model_account *out)
{
	struct params p = {0};

	p_text(&p, auth_id);
	return one_row(pg_of(st), S_ACC_GET, &p, read_account, out,
		       "account_get");
}

static int pg_account_list(struct store *st, store_account_cb cb, void *ctx)
{
	struct model_account a;
	PGresult *r = NULL; /* run() leaves it unset when the query fails */
	int err = run(pg_of(st), S_ACC_LIST, NULL, &r, "account_list");

	for (int i = 0; !err && i < PQntuples(r); i++) {
		read_account(r, i, &a);
		err = cb(ctx, &a);
	}
	PQclear(r);
	return err;
}

static int pg_account_count(struct store *st, int64_t *n)
{
	return scalar(pg_of(st), S_ACC_COUNT, NULL, n, "account_count");
}

static void app_params(struct params *p, const struct model_app *a)
{
	p_text(p, a->app_name);
	p_text(p, a->answer_url);
	p_text(p, a->answer_method);
	p_text(p, a->hangup_url);
	p_text(p, a->hangup_method);
	p_text(p, a->fallback_answer_url);
	p_text(p, a->fallback_method);
	p_text(p, a->message_url);
	p_text(p, a->message_method);
	p_int(p, a->default_endpoint_app);
}

static int pg_app_insert(struct store *st, struct model_app *a)
{
	struct params p = {0};

	p_int(&p, a->account_id);
	p_text(&p, a->app_id);
	app_params(&p, a);
	p_int(&p, a->created_ms);
	p_int(&p, a->updated_ms);
	return insert_id(pg_of(st), S_APP_INSERT, &p, &a->id, "app_insert");
}

static void read_app(const PGresult *r, int row, void *dst)
{
	struct model_app *a = dst;

	a->id = col_int(r, row, 0);
	a->account_id = col_int(r, row, 1);
	col_text(r, row, 2, a->app_id, sizeof(a->app_id));
	col_text(r, row, 3, a->app_name, sizeof(a->app_name));
	col_text(r, row, 4, a->answer_url, sizeof(a->answer_url));
	col_text(r, row, 5, a->answer_method, sizeof(a->answer_method));
	col_text(r, row, 6, a->hangup_url, sizeof(a->hangup_url));
	col_text(r, row, 7, a->hangup_method, sizeof(a->hangup_method));
	col_text(r, row, 8, a->fallback_answer_url,
		 sizeof(a->fallback_answer_url));
	col_text(r, row, 9, a->fallback_method, sizeof(a->fallback_method));
	col_text(r, row, 10, a->message_url, sizeof(a->message_url));
	col_text(r, row, 11, a->message_method, sizeof(a->message_method));
	a->default_endpoint_app = col_int(r, row, 12) != 0;
	a->created_ms = col_int(r, row, 13);
	a->updated_ms = col_int(r, row, 14);
}

static int pg_app_get(struct store *st, int64_t account_id, const char *app_id,
		      struct model_app *out)
{
	struct params p = {0};

	p_int(&p, account_id);
	p_text(&p, app_id);
	return one_row(pg_of(st), S_APP_GET, &p, read_app, out, "app_get");
}

static int pg_app_get_default(struct store *st, int64_t account_id,
			      struct model_app *out)
{
	struct params p = {0};

	p_int(&p, account_id);
	return one_row(pg_of(st), S_APP_GET_DEFAULT, &p, read_app, out,
		       "app_get_default");
}

static int pg_app_update(struct store *st, const struct model_app *a)
{
	struct params p = {0};

	p_int(&p, a->id);
	p_int(&p, a->account_id);
	app_params(&p, a);
	p_text(&p, a->app_id);
	p_int(&p, a->updated_ms);
	return change_one(pg_of(st), S_APP_UPDATE, &p, "app_update");
}

static int pg_app_clear_default(struct store *st, int64_t account_id,
				int64_t except_id, int64_t now_ms)
{
	struct params p = {0};

	p_int(&p, account_id);
	p_int(&p, except_id);
	p_int(&p, now_ms);
	return run(pg_of(st), S_APP_CLEAR_DEFAULT, &p, NULL,
		   "app_clear_default");
}

static int pg_app_delete(struct store *st, int64_t id)
{
	struct params p = {0};

	p_int(&p, id);
	return change_one(pg_of(st), S_APP_DELETE, &p, "app_delete");
}

static int pg_app_list(struct store *st, int64_t account_id, int64_t limit,
		       int64_t offset, store_app_cb cb, void *ctx,
		       int64_t *total)
{
	struct pg *s = pg_of(st);
	struct params p = {0};
	struct model_app *a;
	PGresult *r;
	int err;

	p_int(&p, account_id);
	err = scalar(s, S_APP_COUNT, &p, total, "app_count");
	if (err)
		return err;
	p_int(&p, limit);
	p_int(&p, offset);
	err = run(s, S_APP_LIST, &p, &r, "app_list");
	if (err)
		return err;
	a = malloc(sizeof(*a));
	if (!a)
		err = ENOMEM;
	for (int i = 0; !err && i < PQntuples(r); i++) {
		read_app(r, i, a);
		err = cb(ctx, a);
	}
	free(a);
	PQclear(r);
	return err;
}

static int pg_app_endpoint_count(struct store *st, int64_t app_ref, int64_t *n)
{
	struct params p = {0};

	p_int(&p, app_ref);
	return scalar(pg_of(st), S_APP_EP_COUNT, &p, n, "app_endpoint_count");
}

static void p_ref(struct params *p, int64_t ref)
{
	if (ref)
		p_int(p, ref);
	else
		p_null(p);
}

static int pg_endpoint_insert(struct store *st, struct model_endpoint *ep)
{
	struct params p = {0};

	p_int(&p, ep->account_id);
	p_text(&p, ep->endpoint_id);
	p_text(&p, ep->username);
	p_text(&p, ep->domain);
	p_text(&p, ep->alias);
	p_text(&p, ep->ha1_md5);
	p_text(&p, ep->ha1_sha256);
	p_ref(&p, ep->app_ref);
	for (int i = 0; i < MODEL_ALLOW_COUNT; i++)
		p_int(&p, ep->allow[i]);
	p_int(&p, ep->created_ms);
	p_int(&p, ep->updated_ms);
	return insert_id(pg_of(st), S_EP_INSERT, &p, &ep->id,
			 "endpoint_insert");
}

static void read_endpoint(const PGresult *r, int row, void *dst)
{
	struct model_endpoint *ep = dst;

	ep->id = col_int(r, row, 0);
	ep->account_id = col_int(r, row, 1);
	col_text(r, row, 2, ep->endpoint_id, sizeof(ep->endpoint_id));
	col_text(r, row, 3, ep->username, sizeof(ep->username));
	col_text(r, row, 4, ep->domain, sizeof(ep->domain));
	col_text(r, row, 5, ep->alias, sizeof(ep->alias));
	col_text(r, row, 6, ep->ha1_md5, sizeof(ep->ha1_md5));
	col_text(r, row, 7, ep->ha1_sha256, sizeof(ep->ha1_sha256));
	ep->app_ref = col_int(r, row, 8);
	col_text(r, row, 9, ep->app.app_id, sizeof(ep->app.app_id));
	col_text(r, row, 10, ep->app.app_name, sizeof(ep->app.app_name));
	col_text(r, row, 11, ep->app.answer_url, sizeof(ep->app.answer_url));
	col_text(r, row, 12, ep->app.answer_method,
		 sizeof(ep->app.answer_method));
	for (int i = 0; i < MODEL_ALLOW_COUNT; i++)
		ep->allow[i] = col_int(r, row, 13 + i) != 0;
	ep->created_ms = col_int(r, row, 20);
	ep->updated_ms = col_int(r, row, 21);
}

static int pg_endpoint_get(struct store *st, int64_t account_id,
			   const char *endpoint_id, struct model_endpoint *out)
{
	struct params p = {0};

	p_int(&p, account_id);
	p_text(&p, endpoint_id);
	return one_row(pg_of(st), S_EP_GET, &p, read_endpoint, out,
		       "endpoint_get");
}

static int pg_endpoint_get_by_user(struct store *st, const char *username,
				   const char *domain,
				   struct model_endpoint *out)
{
	struct params p = {0};

	p_text(&p, username);
	p_text(&p, domain);
	return one_row(pg_of(st), S_EP_GET_BY_USER, &p, read_endpoint, out,
		       "endpoint_get_by_user");
}

static int pg_endpoint_update(struct store *st, const struct model_endpoint *ep)
{
	struct params p = {0};

	p_int(&p, ep->id);
	p_text(&p, ep->alias);
	p_text(&p, ep->ha1_md5);
	p_text(&p, ep->ha1_sha256);
	p_ref(&p, ep->app_ref);
	p_int(&p, ep->allow[MODEL_ALLOW_VOICE]);
	p_int(&p, ep->allow[MODEL_ALLOW_MESSAGE]);
	p_int(&p, ep->allow[MODEL_ALLOW_VIDEO]);
	p_int(&p, ep->updated_ms);
	return change_one(pg_of(st), S_EP_UPDATE, &p, "endpoint_update");
}

static int pg_endpoint_delete(struct store *st, int64_t id)
{
	struct params p = {0};

	p_int(&p, id);
	return change_one(pg_of(st), S_EP_DELETE, &p, "endpoint_delete");
}

static void filter_params(struct params *p, int64_t account_id,
			  const struct store_endpoint_filter *f)
{
	p_int(p, account_id);
	p_text(p, f->username_exact);
	p_text(p, f->username_contains);
	p_text(p, f->username_startswith);
	p_text(p, f->alias_exact);
	p_text(p, f->alias_contains);
	p_text(p, f->app_id_exact);
	if (f->app_isnull >= 0)
		p_int(p, f->app_isnull);
	else
		p_null(p);
}

static int pg_endpoint_list(struct store *st, int64_t account_id,
			    const struct store_endpoint_filter *f,
			    int64_t limit, int64_t offset, store_endpoint_cb cb,
			    void *ctx, int64_t *total)
{
	struct pg *s = pg_of(st);
	struct params p = {0};
	bool all = store_filter_none(f);
	struct model_endpoint *ep;
	PGresult *r;
	int err;

	if (all)
		p_int(&p, account_id);
	else
		filter_params(&p, account_id, f);
	err = scalar(s, all ? S_EP_COUNT_ALL : S_EP_COUNT, &p, total,
		     "endpoint_count");
	if (err)
		return err;
	p_int(&p, limit);
	p_int(&p, offset);
	err = run(s, all ? S_EP_LIST_ALL : S_EP_LIST, &p, &r, "endpoint_list");
	if (err)
		return err;
	ep = malloc(sizeof(*ep));
	if (!ep)
		err = ENOMEM;
	for (int i = 0; !err && i < PQntuples(r); i++) {
		read_endpoint(r, i, ep);
		err = cb(ctx, ep);
	}
	if (ep)
		base_wipe(ep, sizeof(*ep)); /* the HA1 values of the last row */
	free(ep);
	PQclear(r);
	return err;
}

static int pg_endpoints_reassign(struct store *st, int64_t from_app,
				 int64_t to_app, int64_t now_ms)
{
	struct params p = {0};

	p_int(&p, from_app);
	p_ref(&p, to_app);
	p_int(&p, now_ms);
	return run(pg_of(st), S_EP_REASSIGN, &p, NULL, "endpoints_reassign");
}

static int pg_endpoints_delete_by_app(struct store *st, int64_t app_ref)
{
	struct params p = {0};

	p_int(&p, app_ref);
	return run(pg_of(st), S_EP_DELETE_BY_APP, &p, NULL,
		   "endpoints_delete_by_app");
}

static int pg_binding_list(struct store *st, int64_t endpoint_ref,
			   int64_t now_ms, store_binding_cb cb, void *ctx)
{
	struct params p = {0};
	struct model_binding *b;
	PGresult *r;
	int err;

	p_int(&p, endpoint_ref);
	p_int(&p, now_ms);
	err = run(pg_of(st), S_BIND_LIST, &p, &r, "binding_list");
	if (err)
		return err;
	b = malloc(sizeof(*b));
	if (!b)
		err = ENOMEM;
	for (int i = 0; !err && i < PQntuples(r); i++) {
		memset(b, 0, sizeof(*b));
		b->endpoint_ref = col_int(r, i, 0);
		col_text(r, i, 1, b->contact, sizeof(b->contact));
		col_text(r, i, 2, b->q, sizeof(b->q));
		b->expires_ms = col_int(r, i, 3);
		col_text(r, i, 4, b->call_id, sizeof(b->call_id));
		b->cseq = (uint32_t)col_int(r, i, 5);
		col_text(r, i, 6, b->user_agent, sizeof(b->user_agent));
		col_text(r, i, 7, b->received, sizeof(b->received));
		col_text(r, i, 8, b->transport, sizeof(b->transport));
		b->updated_ms = col_int(r, i, 9);
		err = cb(ctx, b);
	}
	free(b);
	PQclear(r);
	return err;
}

static int pg_binding_replace(struct store *st, int64_t endpoint_ref,
			      const struct model_binding *b, unsigned n)
{
	struct pg *s = pg_of(st);
	struct params p = {0};
	int err;

	p_int(&p, endpoint_ref);
	err = run(s, S_BIND_DELETE_ALL, &p, NULL, "binding_delete_all");
	for (unsigned i = 0; !err && i < n; i++) {
		struct params q = {0};
		p_int(&q, endpoint_ref);
		p_text(&q, b[i].contact);
		p_text(&q, b[i].q);
		p_int(&q, b[i].expires_ms);
		p_text(&q, b[i].call_id);
		p_int(&q, b[i].cseq);
		p_text(&q, b[i].user_agent);
		p_text(&q, b[i].received);
		p_text(&q, b[i].transport);
		p_int(&q, b[i].updated_ms);
		err = run(s, S_BIND_INSERT, &q, NULL, "binding_insert");
	}
	return err;
}

static int pg_binding_sweep(struct store *st, int64_t now_ms, int64_t max,
			    int64_t *n)
{
	struct params p = {0};
	PGresult *r;
	int err;

	p_int(&p, now_ms);
	p_int(&p, max);
	err = run(pg_of(st), S_BIND_SWEEP, &p, &r, "binding_sweep");
	if (err)
		return err;
	*n = strtoll(PQcmdTuples(r), NULL, 10);
	PQclear(r);
	return 0;
}

const struct store_ops store_pg_ops = {
    .name = "postgresql",
    .open = pg_open,
    .close = pg_close,
    .migrate = pg_migrate,
    .begin = pg_begin,
    .commit = pg_commit,
    .rollback = pg_rollback,
    .durable = pg_durable,
    .savepoint = pg_savepoint,
    .account_insert = pg_account_insert,
    .account_get = pg_account_get,
    .account_count = pg_account_count,
    .account_list = pg_account_list,
    .app_insert = pg_app_insert,
    .app_get = pg_app_get,
    .app_get_default = pg_app_get_default,
    .app_update = pg_app_update,
    .app_clear_default = pg_app_clear_default,
    .app_delete = pg_app_delete,
    .app_list = pg_app_list,
    .app_endpoint_count = pg_app_endpoint_count,
    .endpoint_insert = pg_endpoint_insert,
    .endpoint_get = pg_endpoint_get,
    .endpoint_get_by_user = pg_endpoint_get_by_user,
    .endpoint_update = pg_endpoint_update,
    .endpoint_delete = pg_endpoint_delete,
    .endpoint_list = pg_endpoint_list,
    .endpoints_reassign = pg_endpoints_reassign,
    .endpoints_delete_by_app = pg_endpoints_delete_by_app,
    .binding_list = pg_binding_list,
    .binding_replace = pg_binding_replace,
    .binding_sweep = pg_binding_sweep,
};
