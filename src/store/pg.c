/*
 * pg.c - the PostgreSQL store's driver (libpq): one connection per thread,
 * sql.c's statements prepared per connection, SERIALIZABLE write
 * transactions. Serialization failures and deadlocks (SQLSTATE 40001,
 * 40P01) become EBUSY so that svc retries the whole transaction, as
 * Postgres-wire distributed engines require. The SQL keeps to the subset
 * those engines share.
 */
#include <errno.h>
#include <inttypes.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <libpq-fe.h>

#include "base/log.h"
#include "base/time.h"
#include "store/sql.h"

/* At most this many parameters per statement. */
#define PARAMS_MAX 20

/* A statement of sql.c's table on one connection, with its last result. */
struct sql_q {
	struct pg *s;
	enum sql_id id;
	bool prepared;
	int nparams;		   /* the highest ?N of its SQL */
	PGresult *res;		   /* of the last run, until reset */
	int row;		   /* the current row of res */
	const char *v[PARAMS_MAX]; /* text values, NULL for NULL */
	char num[PARAMS_MAX][24];  /* integers as text */
};

struct pg {
	struct store base;
	PGconn *conn;
	struct sql_q q[SQL_COUNT];
	bool relaxed; /* synchronous_commit off now */
};

static struct pg *pg_of(struct store *st)
{
	return (struct pg *)st;
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
		if (strcmp(state, "57014") == 0) {
			/* statement_timeout at the deadline: rolled back */
			LOG_WARN("store_timeout", "backend=postgresql op=%s",
				 what);
			return ETIMEDOUT;
		}
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
 * How long past the calling thread's deadline the server's own cancel
 * (statement_timeout, set at BEGIN) is waited for before the connection is
 * given up as dead.
 */
#define SERVER_GRACE_MS 1000

/*
 * Waits for the result of the command just sent (sent is its PQsend*
 * return). A transaction's statements are cancelled by the server itself at
 * the deadline (statement_timeout, see pg_begin): SQLSTATE 57014 becomes
 * ETIMEDOUT and the connection stays open, with nothing committed. Only a
 * server silent SERVER_GRACE_MS past the deadline gets the connection
 * closed (it may not answer a cancel either): then ETIMEDOUT too, never
 * committed unless the deadline fell on its COMMIT, and svc reconnects.
 * Returns the last result in *out (NULL when none came), 0 or ETIMEDOUT.
 */
static int await_result(struct pg *s, int sent, PGresult **out)
{
	PGresult *res, *last = NULL;
	int64_t limit = base_deadline_get();

	*out = NULL;
	if (!sent)
		return 0; /* *out NULL: the connection's error is mapped */
	if (limit)
		limit += SERVER_GRACE_MS;
	while (PQisBusy(s->conn)) {
		struct pollfd p = {.fd = PQsocket(s->conn), .events = POLLIN};
		int64_t left = limit ? limit - base_time_mono_ms() : -1;
		int n = left == 0 || left < -1
			    ? 0
			    : poll(&p, 1, left < 0 ? -1 : (int)left);

		if (n == 0) {
			LOG_WARN("store_timeout",
				 "backend=postgresql msg=\"no answer\"");
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

/*
 * Rewrites the ?N placeholders of sql.c's SQL to PostgreSQL's $N. Returns
 * the text (caller frees) and the highest N in *n, or NULL.
 */
static char *rewrite(const char *sql, int *n)
{
	char *out = strdup(sql);

	*n = 0;
	for (char *c = out; c && (c = strchr(c, '?')); c++) {
		int i = atoi(c + 1);
		*c = '$';
		if (i > *n)
			*n = i;
	}
	return out;
}

/* The server-side name of q's statement. */
static void stmt_name(const struct sql_q *q, char *out, size_t cap)
{
	snprintf(out, cap, "s%d", (int)q->id);
}

/* Prepares q's statement on the server, once per connection. */
static int prepare(struct sql_q *q)
{
	struct pg *s = q->s;
	PGresult *res;
	char name[16], *sql;
	int err;

	if (q->prepared)
		return 0;
	if (!s->conn)
		return EIO;
	sql = rewrite(sql_text(SQL_PG, q->id), &q->nparams);
	if (!sql)
		return ENOMEM;
	if (q->nparams > PARAMS_MAX) { /* sql_stmt.h asks for more */
		LOG_ERROR("store_error", "backend=postgresql op=%s params=%d",
			  sql_name(q->id), q->nparams);
		free(sql);
		return EIO;
	}
	stmt_name(q, name, sizeof(name));
	err = await_result(s, PQsendPrepare(s->conn, name, sql, 0, NULL), &res);
	free(sql);
	if (err)
		return err;
	if (PQresultStatus(res) != PGRES_COMMAND_OK)
		err = map_res(s, res, "prepare");
	PQclear(res);
	q->prepared = !err;
	return err;
}

/* Runs q with its parameters; on success q->res holds the result. */
static int run(struct sql_q *q)
{
	struct pg *s = q->s;
	PGresult *res;
	ExecStatusType st;
	char name[16];
	int err;

	if (!s->conn)
		return EIO;
	stmt_name(q, name, sizeof(name));
	err = await_result(
	    s,
	    PQsendQueryPrepared(s->conn, name, q->nparams, q->v, NULL, NULL, 0),
	    &res);
	if (err)
		return err;
	st = PQresultStatus(res);
	if (st != PGRES_COMMAND_OK && st != PGRES_TUPLES_OK) {
		err = map_res(s, res, sql_name(q->id));
		PQclear(res);
		return err;
	}
	q->res = res;
	q->row = -1;
	return 0;
}

static void pg_reset(struct sql_q *q)
{
	PQclear(q->res);
	q->res = NULL;
}

static int pg_get(struct store *st, enum sql_id id, struct sql_q **out)
{
	struct sql_q *q = &pg_of(st)->q[id];
	int err;

	pg_reset(q);
	memset(q->v, 0, sizeof(q->v));
	err = prepare(q);
	if (!err)
		*out = q;
	return err;
}

static void pg_bind_text(struct sql_q *q, int i, const char *v)
{
	if (i >= 1 && i <= PARAMS_MAX)
		q->v[i - 1] = v;
}

static void pg_bind_int(struct sql_q *q, int i, int64_t v)
{
	if (i >= 1 && i <= PARAMS_MAX) {
		snprintf(q->num[i - 1], sizeof(q->num[0]), "%" PRId64, v);
		q->v[i - 1] = q->num[i - 1];
	}
}

static void pg_bind_null(struct sql_q *q, int i)
{
	pg_bind_text(q, i, NULL);
}

/* The first step runs the query; the rows are then read from its result. */
static int pg_step(struct sql_q *q)
{
	int err = q->res ? 0 : run(q);

	if (err)
		return err;
	return ++q->row < PQntuples(q->res) ? SQL_ROW : 0;
}

static int64_t pg_col_int(struct sql_q *q, int col)
{
	return col_int(q->res, q->row, col);
}

static void pg_col_text(struct sql_q *q, int col, char *out, size_t cap)
{
	snprintf(out, cap, "%s",
		 PQgetisnull(q->res, q->row, col)
		     ? ""
		     : PQgetvalue(q->res, q->row, col));
}

static int64_t pg_changes(struct sql_q *q)
{
	return q->res ? strtoll(PQcmdTuples(q->res), NULL, 10) : 0;
}

static const struct sql_drv pg_drv = {
    .dialect = SQL_PG,
    .get = pg_get,
    .bind_int = pg_bind_int,
    .bind_text = pg_bind_text,
    .bind_null = pg_bind_null,
    .step = pg_step,
    .col_int = pg_col_int,
    .col_text = pg_col_text,
    .changes = pg_changes,
    .reset = pg_reset,
};

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
	for (int i = 0; i < SQL_COUNT; i++) {
		s->q[i].s = s;
		s->q[i].id = (enum sql_id)i;
	}
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
	for (int i = 0; i < SQL_COUNT; i++)
		pg_reset(&s->q[i]);
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
		err = exec_cmd(s, sql_migration(SQL_PG, (int)v), "migrate");
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

/*
 * Begins a transaction. With a deadline on the calling thread, the server
 * is told to cancel any of its statements still running then
 * (statement_timeout), so that a statement waiting for a lock ends without
 * costing the connection.
 */
static int pg_begin(struct store *st, enum store_txn kind)
{
	static const char *const begin[] = {
	    [STORE_TXN_READ] =
		"BEGIN ISOLATION LEVEL REPEATABLE READ READ ONLY",
	    [STORE_TXN_WRITE] = "BEGIN ISOLATION LEVEL SERIALIZABLE",
	    [STORE_TXN_ROWS] = "BEGIN ISOLATION LEVEL READ COMMITTED",
	};
	char cmd[128];
	int64_t left = base_deadline_left_ms(-1);

	snprintf(cmd, sizeof(cmd), "%s", begin[kind]);
	if (left >= 0)
		snprintf(cmd + strlen(cmd), sizeof(cmd) - strlen(cmd),
			 "; SET LOCAL statement_timeout = %lld",
			 (long long)(left ? left : 1));
	return exec_cmd(pg_of(st), cmd, "begin");
}

/* How long a COMMIT already sent is waited for, whatever the deadline. */
#define COMMIT_WAIT_MS 60000

/*
 * A COMMIT, once sent, is waited for past the caller's deadline: giving up
 * then could answer "nothing changed" for a change the server made. Past
 * COMMIT_WAIT_MS the outcome is unknown: EIO, never ETIMEDOUT.
 */
static int pg_commit(struct store *st)
{
	int64_t saved = base_deadline_get();
	int err;

	base_deadline_set(base_time_mono_ms() + COMMIT_WAIT_MS);
	err = exec_cmd(pg_of(st), "COMMIT", "commit");
	base_deadline_set(saved);
	return err == ETIMEDOUT ? EIO : err;
}

static void pg_rollback(struct store *st)
{
	struct pg *s = pg_of(st);

	if (PQtransactionStatus(s->conn) != PQTRANS_IDLE)
		exec_cmd(s, "ROLLBACK", "rollback");
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

const struct store_ops store_pg_ops = {
    .name = "postgresql",
    .drv = &pg_drv,
    .open = pg_open,
    .close = pg_close,
    .migrate = pg_migrate,
    .begin = pg_begin,
    .commit = pg_commit,
    .rollback = pg_rollback,
    .durable = pg_durable,
    .savepoint = pg_savepoint,
    SQL_STORE_OPS,
};
