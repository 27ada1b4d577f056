/*
 * sqlite.c - the embedded store: one connection per thread, WAL with
 * synchronous=FULL (a commit is on disk before it returns), prepared
 * statements cached per connection, migrations in schema_version.
 */
#include <assert.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include <sqlite3.h>

#include "base/crypto.h"
#include "base/log.h"
#include "base/time.h"
#include "store/store.h"

/* Each migration takes the schema from version i to i + 1. */
static const char *const migrations[] = {
    "CREATE TABLE schema_version (version INTEGER NOT NULL) STRICT;"
    "INSERT INTO schema_version VALUES (0);"
    "CREATE TABLE accounts ("
    " id INTEGER PRIMARY KEY,"
    " auth_id TEXT NOT NULL UNIQUE,"
    " name TEXT NOT NULL,"
    " domain TEXT NOT NULL,"
    " token_sha256 TEXT NOT NULL,"
    " created_ms INTEGER NOT NULL) STRICT;"
    "CREATE TABLE applications ("
    " id INTEGER PRIMARY KEY,"
    " account_id INTEGER NOT NULL REFERENCES accounts(id),"
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
    " created_ms INTEGER NOT NULL,"
    " updated_ms INTEGER NOT NULL) STRICT;"
    "CREATE INDEX applications_account ON applications(account_id, id);"
    "CREATE TABLE endpoints ("
    " id INTEGER PRIMARY KEY,"
    " account_id INTEGER NOT NULL REFERENCES accounts(id),"
    " endpoint_id TEXT NOT NULL UNIQUE,"
    " username TEXT NOT NULL,"
    " domain TEXT NOT NULL,"
    " alias TEXT NOT NULL,"
    " ha1_md5 TEXT NOT NULL,"
    " ha1_sha256 TEXT NOT NULL,"
    " app_ref INTEGER REFERENCES applications(id),"
    " allow_voice INTEGER NOT NULL,"
    " allow_message INTEGER NOT NULL,"
    " allow_video INTEGER NOT NULL,"
    " allow_same_domain INTEGER NOT NULL,"
    " allow_other_domains INTEGER NOT NULL,"
    " allow_phones INTEGER NOT NULL,"
    " allow_apps INTEGER NOT NULL,"
    " created_ms INTEGER NOT NULL,"
    " updated_ms INTEGER NOT NULL,"
    " UNIQUE (username, domain)) STRICT;"
    "CREATE INDEX endpoints_account ON endpoints(account_id, id);"
    "CREATE INDEX endpoints_app ON endpoints(app_ref);",

    /* 2: registrations, written by the registrar. */
    "CREATE TABLE registrations ("
    " id INTEGER PRIMARY KEY,"
    " endpoint_ref INTEGER NOT NULL"
    "  REFERENCES endpoints(id) ON DELETE CASCADE,"
    " contact TEXT NOT NULL,"
    " q TEXT NOT NULL,"
    " expires_ms INTEGER NOT NULL,"
    " call_id TEXT NOT NULL,"
    " cseq INTEGER NOT NULL,"
    " user_agent TEXT NOT NULL,"
    " received TEXT NOT NULL,"
    " transport TEXT NOT NULL,"
    " updated_ms INTEGER NOT NULL,"
    " UNIQUE (endpoint_ref, contact)) STRICT;"
    "CREATE INDEX registrations_expires ON registrations(expires_ms);",

    /*
     * 3: each account's endpoint count, kept by triggers (so rows loaded by
     * other tools count too): an unfiltered list's total_count in O(1).
     */
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

/*
 * The list filters, on the endpoints table alone: with no filter given, no
 * row is read, only the (account_id, id) index - so counting and skipping
 * to an offset cost index steps, not row reads.
 */
#define EP_FILTER                                                     \
	"WHERE e.account_id = ?1"                                     \
	" AND (?2 IS NULL OR e.username = ?2)"                        \
	" AND (?3 IS NULL OR instr(e.username, ?3) > 0)"              \
	" AND (?4 IS NULL OR substr(e.username, 1, length(?4)) = ?4)" \
	" AND (?5 IS NULL OR e.alias = ?5)"                           \
	" AND (?6 IS NULL OR instr(e.alias, ?6) > 0)"                 \
	" AND (?7 IS NULL OR e.app_ref IN"                            \
	"      (SELECT id FROM applications WHERE app_id = ?7))"      \
	" AND (?8 IS NULL OR (?8 = 1 AND e.app_ref IS NULL)"          \
	"      OR (?8 = 0 AND e.app_ref IS NOT NULL)) "

#define APP_COLS                                                            \
	"id, account_id, app_id, app_name, answer_url, answer_method,"      \
	" hangup_url, hangup_method, fallback_answer_url, fallback_method," \
	" message_url, message_method, default_endpoint_app, created_ms,"   \
	" updated_ms FROM applications "

enum stmt_id {
	S_BEGIN_R,
	S_BEGIN_W,
	S_COMMIT,
	S_ROLLBACK,
	S_SYNC_FULL,
	S_SYNC_NORMAL,
	S_SP_SET,
	S_SP_RELEASE,
	S_SP_ROLLBACK,
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
    [S_BEGIN_R] = "BEGIN",
    [S_BEGIN_W] = "BEGIN IMMEDIATE",
    [S_COMMIT] = "COMMIT",
    [S_ROLLBACK] = "ROLLBACK",
    [S_SYNC_FULL] = "PRAGMA synchronous=FULL",
    [S_SYNC_NORMAL] = "PRAGMA synchronous=NORMAL",
    [S_SP_SET] = "SAVEPOINT job",
    [S_SP_RELEASE] = "RELEASE job",
    [S_SP_ROLLBACK] = "ROLLBACK TO job",
    [S_ACC_INSERT] = "INSERT INTO accounts (auth_id, name, domain,"
		     " token_sha256, created_ms) VALUES (?, ?, ?, ?, ?)",
    [S_ACC_GET] = "SELECT id, auth_id, name, domain, token_sha256,"
		  " created_ms FROM accounts WHERE auth_id = ?",
    [S_ACC_COUNT] = "SELECT count(*) FROM accounts",
    [S_ACC_LIST] = "SELECT id, auth_id, name, domain, token_sha256,"
		   " created_ms FROM accounts ORDER BY id",
    [S_APP_INSERT] = "INSERT INTO applications (account_id, app_id,"
		     " app_name, answer_url, answer_method, hangup_url,"
		     " hangup_method, fallback_answer_url, fallback_method,"
		     " message_url, message_method, default_endpoint_app,"
		     " created_ms, updated_ms)"
		     " VALUES (?,?,?,?,?,?,?,?,?,?,?,?,?,?)",
    [S_APP_GET] = "SELECT " APP_COLS "WHERE account_id = ? AND app_id = ?",
    [S_APP_GET_DEFAULT] =
	"SELECT " APP_COLS "WHERE account_id = ? AND default_endpoint_app = 1"
	" ORDER BY id LIMIT 1",
    [S_APP_UPDATE] = "UPDATE applications SET app_name = ?3,"
		     " answer_url = ?4, answer_method = ?5,"
		     " hangup_url = ?6, hangup_method = ?7,"
		     " fallback_answer_url = ?8, fallback_method = ?9,"
		     " message_url = ?10, message_method = ?11,"
		     " default_endpoint_app = ?12, updated_ms = ?14"
		     " WHERE id = ?1 AND account_id = ?2 AND app_id = ?13",
    [S_APP_CLEAR_DEFAULT] = "UPDATE applications SET default_endpoint_app"
			    " = 0, updated_ms = max(updated_ms + 1, ?3)"
			    " WHERE account_id = ?1 AND id <> ?2 AND"
			    " default_endpoint_app = 1",

    [S_APP_DELETE] = "DELETE FROM applications WHERE id = ?",
    [S_APP_LIST] =
	"SELECT " APP_COLS "WHERE account_id = ? ORDER BY id LIMIT ? OFFSET ?",
    [S_APP_COUNT] = "SELECT count(*) FROM applications WHERE account_id = ?",
    [S_APP_EP_COUNT] = "SELECT count(*) FROM endpoints WHERE app_ref = ?",
    [S_EP_INSERT] = "INSERT INTO endpoints (account_id, endpoint_id,"
		    " username, domain, alias, ha1_md5, ha1_sha256, app_ref,"
		    " allow_voice, allow_message, allow_video,"
		    " allow_same_domain, allow_other_domains, allow_phones,"
		    " allow_apps, created_ms, updated_ms)"
		    " VALUES (?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?)",
    [S_EP_GET] =
	"SELECT " EP_COLS "WHERE e.account_id = ? AND e.endpoint_id = ?",
    [S_EP_GET_BY_USER] =
	"SELECT " EP_COLS "WHERE e.username = ? AND e.domain = ?",
    [S_EP_UPDATE] = "UPDATE endpoints SET alias = ?2, ha1_md5 = ?3,"
		    " ha1_sha256 = ?4, app_ref = ?5, allow_voice = ?6,"
		    " allow_message = ?7, allow_video = ?8, updated_ms = ?9"
		    " WHERE id = ?1",
    [S_EP_DELETE] = "DELETE FROM endpoints WHERE id = ?",
    /* The page's ids first (index only), then its rows and applications. */
    [S_EP_LIST] = "SELECT " EP_COLS
		  "WHERE e.id IN (SELECT e.id FROM endpoints e " EP_FILTER
		  "ORDER BY e.id LIMIT ?9 OFFSET ?10) ORDER BY e.id",
    [S_EP_COUNT] = "SELECT count(*) FROM endpoints e " EP_FILTER,
    /* Unfiltered: the (account_id, id) index alone counts and skips. */
    [S_EP_LIST_ALL] =
	"SELECT " EP_COLS "WHERE e.id IN (SELECT id FROM endpoints WHERE"
	" account_id = ?1 ORDER BY id LIMIT ?9 OFFSET ?10)"
	" ORDER BY e.id",
    [S_EP_COUNT_ALL] = "SELECT endpoint_count FROM accounts WHERE id = ?1",
    [S_EP_REASSIGN] = "UPDATE endpoints SET app_ref = ?2, updated_ms = ?3"
		      " WHERE app_ref = ?1",
    [S_EP_DELETE_BY_APP] = "DELETE FROM endpoints WHERE app_ref = ?",
    [S_BIND_LIST] = "SELECT endpoint_ref, contact, q, expires_ms, call_id,"
		    " cseq, user_agent, received, transport, updated_ms"
		    " FROM registrations WHERE endpoint_ref = ?"
		    " AND expires_ms > ? ORDER BY id",
    [S_BIND_DELETE_ALL] = "DELETE FROM registrations WHERE endpoint_ref = ?",
    [S_BIND_INSERT] = "INSERT INTO registrations (endpoint_ref, contact,"
		      " q, expires_ms, call_id, cseq, user_agent, received,"
		      " transport, updated_ms)"
		      " VALUES (?,?,?,?,?,?,?,?,?,?)",
    [S_BIND_SWEEP] = "DELETE FROM registrations WHERE id IN (SELECT id"
		     " FROM registrations WHERE expires_ms <= ? LIMIT ?)",
};

_Static_assert(sizeof(sql) / sizeof(sql[0]) == S_COUNT, "one SQL per id");

struct sq {
	struct store base;
	sqlite3 *db;
	sqlite3_stmt *stmt[S_COUNT];
	bool relaxed; /* synchronous=NORMAL now */
	int64_t busy_since_ms;
};

/* How long a lock is waited for when the thread has no deadline. */
#define BUSY_WAIT_MS 10000

static struct sq *sq_of(struct store *st)
{
	return (struct sq *)st;
}

static int map_rc(struct sq *s, int rc, const char *what)
{
	switch (rc & 0xff) { /* extended codes are on */
	case SQLITE_OK:
	case SQLITE_DONE:
	case SQLITE_ROW:
		return 0;
	case SQLITE_CONSTRAINT:
		if (sqlite3_extended_errcode(s->db) ==
			SQLITE_CONSTRAINT_UNIQUE ||
		    sqlite3_extended_errcode(s->db) ==
			SQLITE_CONSTRAINT_PRIMARYKEY)
			return EEXIST;
		/* A row that refers to one deleted meanwhile. */
		if (sqlite3_extended_errcode(s->db) ==
		    SQLITE_CONSTRAINT_FOREIGNKEY)
			return ENOENT;
		break;
	case SQLITE_BUSY:
	case SQLITE_LOCKED:
		return EBUSY;
	case SQLITE_NOMEM:
		return ENOMEM;
	default:
		break;
	}
	LOG_ERROR("store_error", "backend=sqlite op=%s code=%d msg=\"%s\"",
		  what, sqlite3_extended_errcode(s->db), sqlite3_errmsg(s->db));
	return EIO;
}

/* Returns the cached, reset statement `id`, preparing it on first use. */
static sqlite3_stmt *stmt(struct sq *s, enum stmt_id id)
{
	if (!s->stmt[id]) {
		int rc;
		assert(sql[id]);
		rc = sqlite3_prepare_v3(s->db, sql[id], -1,
					SQLITE_PREPARE_PERSISTENT, &s->stmt[id],
					NULL);
		if (rc != SQLITE_OK) {
			map_rc(s, rc, "prepare");
			return NULL;
		}
	}
	sqlite3_reset(s->stmt[id]);
	sqlite3_clear_bindings(s->stmt[id]);
	return s->stmt[id];
}

/* Runs a statement that returns no rows; resets it afterwards. */
static int exec_stmt(struct sq *s, sqlite3_stmt *q, const char *what)
{
	int rc = sqlite3_step(q);
	int err = map_rc(s, rc, what);

	sqlite3_reset(q);
	return err;
}

static void bind_text(sqlite3_stmt *q, int i, const char *v)
{
	sqlite3_bind_text(q, i, v, -1, SQLITE_STATIC);
}

static void bind_opt_text(sqlite3_stmt *q, int i, const char *v)
{
	if (v)
		bind_text(q, i, v);
	else
		sqlite3_bind_null(q, i);
}

static void col_text(sqlite3_stmt *q, int i, char *out, size_t cap)
{
	const unsigned char *t = sqlite3_column_text(q, i);
	size_t n = t ? (size_t)sqlite3_column_bytes(q, i) : 0;

	if (n >= cap)
		n = cap - 1; /* never: columns are validated on the way in */
	if (n)
		memcpy(out, t, n);
	out[n] = '\0';
}

/*
 * SQLite's busy handler: while another connection holds the lock, wait in
 * steps of 1-5 ms until the calling thread's deadline (base_deadline_set:
 * the request's store_timeout), or BUSY_WAIT_MS without one. Returning 0
 * makes the statement fail with SQLITE_BUSY (EBUSY).
 */
static int on_busy(void *arg, int count)
{
	struct sq *s = arg;
	int64_t now = base_time_mono_ms(), limit = base_deadline_get(), left;
	struct timespec ts = {0};

	if (count == 0)
		s->busy_since_ms = now;
	if (!limit)
		limit = s->busy_since_ms + BUSY_WAIT_MS;
	left = limit - now;
	if (left <= 0)
		return 0;
	ts.tv_nsec = (count < 4 ? count + 1 : 5) * 1000000L;
	if (left < ts.tv_nsec / 1000000L)
		ts.tv_nsec = left * 1000000L;
	nanosleep(&ts, NULL);
	return 1;
}

static int sq_open(const char *url, struct store **out)
{
	static const char pragmas[] = "PRAGMA journal_mode=WAL;"
				      "PRAGMA synchronous=FULL;"
				      "PRAGMA foreign_keys=ON;"
				      "PRAGMA cache_size=-1024;";
	const char *path;
	struct sq *s;
	int fd, rc, err = 0;

	if (strncmp(url, "sqlite:", 7) != 0 || url[7] == '\0')
		return EINVAL;
	path = url + 7;
	/*
	 * The file holds credential hashes: create it private (SQLite gives
	 * its -wal and -shm files the same mode). Only when it does not exist:
	 * closing a descriptor of a file this process has open in SQLite would
	 * drop SQLite's POSIX locks on it.
	 */
	fd = open(path, O_RDWR | O_CREAT | O_EXCL | O_CLOEXEC, 0600);
	if (fd >= 0) {
		close(fd);
	} else if (errno != EEXIST) {
		err = errno;
		LOG_ERROR("store_open", "backend=sqlite error=\"%s\"",
			  strerror(err));
		return err == ENOENT || err == EACCES ? err : EIO;
	}
	s = calloc(1, sizeof(*s));
	if (!s)
		return ENOMEM;
	s->base.ops = &store_sqlite_ops;
	rc = sqlite3_open_v2(path, &s->db,
			     SQLITE_OPEN_READWRITE | SQLITE_OPEN_CREATE |
				 SQLITE_OPEN_NOMUTEX,
			     NULL);
	if (rc != SQLITE_OK) {
		err = map_rc(s, rc, "open");
		goto out;
	}
	sqlite3_extended_result_codes(s->db, 1);
	sqlite3_busy_handler(s->db, on_busy, s);
	rc = sqlite3_exec(s->db, pragmas, NULL, NULL, NULL);
	if (rc != SQLITE_OK) {
		err = map_rc(s, rc, "pragma");
		goto out;
	}
	*out = &s->base;
out:
	if (err) {
		sqlite3_close(s->db);
		free(s);
	}
	return err;
}

static void sq_close(struct store *st)
{
	struct sq *s;

	if (!st)
		return;
	s = sq_of(st);
	for (int i = 0; i < S_COUNT; i++)
		sqlite3_finalize(s->stmt[i]);
	sqlite3_close(s->db);
	free(s);
}

static int sq_migrate(struct store *st)
{
	struct sq *s = sq_of(st);
	sqlite3_stmt *q = NULL;
	int64_t version = 0;
	int rc, err;

	rc = sqlite3_exec(s->db, "BEGIN IMMEDIATE", NULL, NULL, NULL);
	if (rc != SQLITE_OK)
		return map_rc(s, rc, "migrate");
	rc = sqlite3_prepare_v2(s->db,
				"SELECT count(*) FROM sqlite_master WHERE"
				" type = 'table' AND name = 'schema_version'",
				-1, &q, NULL);
	if (rc == SQLITE_OK && sqlite3_step(q) == SQLITE_ROW &&
	    sqlite3_column_int64(q, 0) == 1) {
		sqlite3_finalize(q);
		q = NULL;
		rc = sqlite3_prepare_v2(
		    s->db, "SELECT version FROM schema_version", -1, &q, NULL);
		if (rc == SQLITE_OK && sqlite3_step(q) == SQLITE_ROW)
			version = sqlite3_column_int64(q, 0);
	}
	sqlite3_finalize(q);
	if (rc != SQLITE_OK) {
		err = map_rc(s, rc, "migrate");
		goto out;
	}
	if (version > STORE_SCHEMA_VERSION) {
		LOG_ERROR("store_schema_newer",
			  "backend=sqlite found=%lld known=%d",
			  (long long)version, STORE_SCHEMA_VERSION);
		err = EPROTO;
		goto out;
	}
	for (int64_t v = version; v < STORE_SCHEMA_VERSION; v++) {
		char upd[64];
		rc = sqlite3_exec(s->db, migrations[v], NULL, NULL, NULL);
		if (rc == SQLITE_OK) {
			snprintf(upd, sizeof(upd),
				 "UPDATE schema_version SET version = %lld",
				 (long long)v + 1);
			rc = sqlite3_exec(s->db, upd, NULL, NULL, NULL);
		}
		if (rc != SQLITE_OK) {
			err = map_rc(s, rc, "migrate");
			goto out;
		}
		LOG_INFO("store_migrated", "backend=sqlite version=%lld",
			 (long long)v + 1);
	}
	rc = sqlite3_exec(s->db, "COMMIT", NULL, NULL, NULL);
	return map_rc(s, rc, "migrate");
out:
	sqlite3_exec(s->db, "ROLLBACK", NULL, NULL, NULL);
	return err;
}

static int sq_begin(struct store *st, bool write)
{
	struct sq *s = sq_of(st);
	sqlite3_stmt *q = stmt(s, write ? S_BEGIN_W : S_BEGIN_R);

	return q ? exec_stmt(s, q, "begin") : EIO;
}

static int sq_commit(struct store *st)
{
	struct sq *s = sq_of(st);
	sqlite3_stmt *q = stmt(s, S_COMMIT);

	return q ? exec_stmt(s, q, "commit") : EIO;
}

static void sq_rollback(struct store *st)
{
	struct sq *s = sq_of(st);
	sqlite3_stmt *q;

	if (sqlite3_get_autocommit(s->db))
		return;
	q = stmt(s, S_ROLLBACK);
	if (q)
		exec_stmt(s, q, "rollback");
}

/*
 * WAL with synchronous=NORMAL skips the fsync at commit: a crash may lose
 * the last commits, never corrupt the file.
 */
static int sq_durable(struct store *st, bool on)
{
	struct sq *s = sq_of(st);
	sqlite3_stmt *q;
	int err;

	if (s->relaxed != on)
		return 0;
	q = stmt(s, on ? S_SYNC_FULL : S_SYNC_NORMAL);
	err = q ? exec_stmt(s, q, "durable") : EIO;
	if (!err)
		s->relaxed = !on;
	return err;
}

static int sq_savepoint(struct store *st, enum store_sp op)
{
	struct sq *s = sq_of(st);
	static const enum stmt_id ids[] = {S_SP_SET, S_SP_RELEASE,
					   S_SP_ROLLBACK};
	sqlite3_stmt *q = stmt(s, ids[op]);

	return q ? exec_stmt(s, q, "savepoint") : EIO;
}

static int sq_account_insert(struct store *st, struct model_account *a)
{
	struct sq *s = sq_of(st);
	sqlite3_stmt *q = stmt(s, S_ACC_INSERT);
	int err;

	if (!q)
		return EIO;
	bind_text(q, 1, a->auth_id);
	bind_text(q, 2, a->name);
	bind_text(q, 3, a->domain);
	bind_text(q, 4, a->token_sha256);
	sqlite3_bind_int64(q, 5, a->created_ms);
	err = exec_stmt(s, q, "account_insert");
	if (!err)
		a->id = sqlite3_last_insert_rowid(s->db);
	return err;
}

/* Copies the current row of a statement into a struct. */
typedef void (*row_reader)(sqlite3_stmt *q, void *dst);

/*
 * Steps a bound query expected to return at most one row and reads it into
 * out. Returns 0, ENOENT for no row, or the store error.
 */
static int one_row(struct sq *s, sqlite3_stmt *q, row_reader read, void *out,
		   const char *what)
{
	int rc = sqlite3_step(q);
	int err = ENOENT;

	if (rc == SQLITE_ROW) {
		read(q, out);
		err = 0;
	} else if (rc != SQLITE_DONE) {
		err = map_rc(s, rc, what);
	}
	sqlite3_reset(q);
	return err;
}

static void read_account(sqlite3_stmt *q, void *dst)
{
	struct model_account *out = dst;

	out->id = sqlite3_column_int64(q, 0);
	col_text(q, 1, out->auth_id, sizeof(out->auth_id));
	col_text(q, 2, out->name, sizeof(out->name));
	col_text(q, 3, out->domain, sizeof(out->domain));
	col_text(q, 4, out->token_sha256, sizeof(out->token_sha256));
	out->created_ms = sqlite3_column_int64(q, 5);
}

static int sq_account_list(struct store *st, store_account_cb cb, void *ctx)
{
	struct sq *s = sq_of(st);
	sqlite3_stmt *q = stmt(s, S_ACC_LIST);
	struct model_account a;
	int rc, err = 0;

	if (!q)
		return EIO;
	while (!err && (rc = sqlite3_step(q)) == SQLITE_ROW) {
		read_account(q, &a);
		err = cb(ctx, &a);
	}
	if (!err)
		err = map_rc(s, rc, "account_list");
	sqlite3_reset(q);
	return err;
}

static int sq_account_get(struct store *st, const char *auth_id,
			  struct model_account *out)
{
	struct sq *s = sq_of(st);
	sqlite3_stmt *q = stmt(s, S_ACC_GET);

	if (!q)
		return EIO;
	bind_text(q, 1, auth_id);
	return one_row(s, q, read_account, out, "account_get");
}

/* Runs a single-integer query (already bound). */
static int scalar(struct sq *s, sqlite3_stmt *q, int64_t *n, const char *what)
{
	int rc = sqlite3_step(q);
	int err = 0;

	if (rc == SQLITE_ROW)
		*n = sqlite3_column_int64(q, 0);
	else
		err = rc == SQLITE_DONE ? EIO : map_rc(s, rc, what);
	sqlite3_reset(q);
	return err;
}

static int sq_account_count(struct store *st, int64_t *n)
{
	struct sq *s = sq_of(st);
	sqlite3_stmt *q = stmt(s, S_ACC_COUNT);

	return q ? scalar(s, q, n, "account_count") : EIO;
}

static void bind_app(sqlite3_stmt *q, const struct model_app *a)
{
	bind_text(q, 3, a->app_name);
	bind_text(q, 4, a->answer_url);
	bind_text(q, 5, a->answer_method);
	bind_text(q, 6, a->hangup_url);
	bind_text(q, 7, a->hangup_method);
	bind_text(q, 8, a->fallback_answer_url);
	bind_text(q, 9, a->fallback_method);
	bind_text(q, 10, a->message_url);
	bind_text(q, 11, a->message_method);
	sqlite3_bind_int(q, 12, a->default_endpoint_app);
}

static int sq_app_insert(struct store *st, struct model_app *a)
{
	struct sq *s = sq_of(st);
	sqlite3_stmt *q = stmt(s, S_APP_INSERT);
	int err;

	if (!q)
		return EIO;
	sqlite3_bind_int64(q, 1, a->account_id);
	bind_text(q, 2, a->app_id);
	bind_app(q, a);
	sqlite3_bind_int64(q, 13, a->created_ms);
	sqlite3_bind_int64(q, 14, a->updated_ms);
	err = exec_stmt(s, q, "app_insert");
	if (!err)
		a->id = sqlite3_last_insert_rowid(s->db);
	return err;
}

static void read_app(sqlite3_stmt *q, void *dst)
{
	struct model_app *a = dst;

	a->id = sqlite3_column_int64(q, 0);
	a->account_id = sqlite3_column_int64(q, 1);
	col_text(q, 2, a->app_id, sizeof(a->app_id));
	col_text(q, 3, a->app_name, sizeof(a->app_name));
	col_text(q, 4, a->answer_url, sizeof(a->answer_url));
	col_text(q, 5, a->answer_method, sizeof(a->answer_method));
	col_text(q, 6, a->hangup_url, sizeof(a->hangup_url));
	col_text(q, 7, a->hangup_method, sizeof(a->hangup_method));
	col_text(q, 8, a->fallback_answer_url, sizeof(a->fallback_answer_url));
	col_text(q, 9, a->fallback_method, sizeof(a->fallback_method));
	col_text(q, 10, a->message_url, sizeof(a->message_url));
	col_text(q, 11, a->message_method, sizeof(a->message_method));
	a->default_endpoint_app = sqlite3_column_int(q, 12) != 0;
	a->created_ms = sqlite3_column_int64(q, 13);
	a->updated_ms = sqlite3_column_int64(q, 14);
}

static int sq_app_get(struct store *st, int64_t account_id, const char *app_id,
		      struct model_app *out)
{
	struct sq *s = sq_of(st);
	sqlite3_stmt *q = stmt(s, S_APP_GET);

	if (!q)
		return EIO;
	sqlite3_bind_int64(q, 1, account_id);
	bind_text(q, 2, app_id);
	return one_row(s, q, read_app, out, "app_get");
}

static int sq_app_get_default(struct store *st, int64_t account_id,
			      struct model_app *out)
{
	struct sq *s = sq_of(st);
	sqlite3_stmt *q = stmt(s, S_APP_GET_DEFAULT);

	if (!q)
		return EIO;
	sqlite3_bind_int64(q, 1, account_id);
	return one_row(s, q, read_app, out, "app_get_default");
}

static int sq_app_update(struct store *st, const struct model_app *a)
{
	struct sq *s = sq_of(st);
	sqlite3_stmt *q = stmt(s, S_APP_UPDATE);
	int err;

	if (!q)
		return EIO;
	sqlite3_bind_int64(q, 1, a->id);
	sqlite3_bind_int64(q, 2, a->account_id);
	bind_app(q, a);
	bind_text(q, 13, a->app_id);
	sqlite3_bind_int64(q, 14, a->updated_ms);
	err = exec_stmt(s, q, "app_update");
	if (!err && sqlite3_changes(s->db) != 1)
		err = ENOENT;
	return err;
}

static int sq_app_clear_default(struct store *st, int64_t account_id,
				int64_t except_id, int64_t now_ms)
{
	struct sq *s = sq_of(st);
	sqlite3_stmt *q = stmt(s, S_APP_CLEAR_DEFAULT);

	if (!q)
		return EIO;
	sqlite3_bind_int64(q, 1, account_id);
	sqlite3_bind_int64(q, 2, except_id);
	sqlite3_bind_int64(q, 3, now_ms);
	return exec_stmt(s, q, "app_clear_default");
}

static int delete_by_id(struct sq *s, enum stmt_id id, int64_t row,
			const char *what)
{
	sqlite3_stmt *q = stmt(s, id);
	int err;

	if (!q)
		return EIO;
	sqlite3_bind_int64(q, 1, row);
	err = exec_stmt(s, q, what);
	if (!err && sqlite3_changes(s->db) != 1)
		err = ENOENT;
	return err;
}

static int sq_app_delete(struct store *st, int64_t id)
{
	return delete_by_id(sq_of(st), S_APP_DELETE, id, "app_delete");
}

static int sq_app_list(struct store *st, int64_t account_id, int64_t limit,
		       int64_t offset, store_app_cb cb, void *ctx,
		       int64_t *total)
{
	struct sq *s = sq_of(st);
	sqlite3_stmt *q = stmt(s, S_APP_COUNT);
	struct model_app *a = NULL;
	int rc, err;

	if (!q)
		return EIO;
	sqlite3_bind_int64(q, 1, account_id);
	err = scalar(s, q, total, "app_count");
	if (err)
		return err;
	q = stmt(s, S_APP_LIST);
	if (!q)
		return EIO;
	a = malloc(sizeof(*a));
	if (!a)
		return ENOMEM;
	sqlite3_bind_int64(q, 1, account_id);
	sqlite3_bind_int64(q, 2, limit);
	sqlite3_bind_int64(q, 3, offset);
	while ((rc = sqlite3_step(q)) == SQLITE_ROW) {
		read_app(q, a);
		err = cb(ctx, a);
		if (err)
			goto out;
	}
	err = map_rc(s, rc, "app_list");
out:
	sqlite3_reset(q);
	free(a);
	return err;
}

static int sq_app_endpoint_count(struct store *st, int64_t app_ref, int64_t *n)
{
	struct sq *s = sq_of(st);
	sqlite3_stmt *q = stmt(s, S_APP_EP_COUNT);

	if (!q)
		return EIO;
	sqlite3_bind_int64(q, 1, app_ref);
	return scalar(s, q, n, "app_endpoint_count");
}

static void bind_app_ref(sqlite3_stmt *q, int i, int64_t ref)
{
	if (ref)
		sqlite3_bind_int64(q, i, ref);
	else
		sqlite3_bind_null(q, i);
}

static int sq_endpoint_insert(struct store *st, struct model_endpoint *ep)
{
	struct sq *s = sq_of(st);
	sqlite3_stmt *q = stmt(s, S_EP_INSERT);
	int err;

	if (!q)
		return EIO;
	sqlite3_bind_int64(q, 1, ep->account_id);
	bind_text(q, 2, ep->endpoint_id);
	bind_text(q, 3, ep->username);
	bind_text(q, 4, ep->domain);
	bind_text(q, 5, ep->alias);
	bind_text(q, 6, ep->ha1_md5);
	bind_text(q, 7, ep->ha1_sha256);
	bind_app_ref(q, 8, ep->app_ref);
	for (int i = 0; i < MODEL_ALLOW_COUNT; i++)
		sqlite3_bind_int(q, 9 + i, ep->allow[i]);
	sqlite3_bind_int64(q, 16, ep->created_ms);
	sqlite3_bind_int64(q, 17, ep->updated_ms);
	err = exec_stmt(s, q, "endpoint_insert");
	if (!err)
		ep->id = sqlite3_last_insert_rowid(s->db);
	return err;
}

static void read_endpoint(sqlite3_stmt *q, void *dst)
{
	struct model_endpoint *ep = dst;

	ep->id = sqlite3_column_int64(q, 0);
	ep->account_id = sqlite3_column_int64(q, 1);
	col_text(q, 2, ep->endpoint_id, sizeof(ep->endpoint_id));
	col_text(q, 3, ep->username, sizeof(ep->username));
	col_text(q, 4, ep->domain, sizeof(ep->domain));
	col_text(q, 5, ep->alias, sizeof(ep->alias));
	col_text(q, 6, ep->ha1_md5, sizeof(ep->ha1_md5));
	col_text(q, 7, ep->ha1_sha256, sizeof(ep->ha1_sha256));
	ep->app_ref = sqlite3_column_int64(q, 8);
	col_text(q, 9, ep->app.app_id, sizeof(ep->app.app_id));
	col_text(q, 10, ep->app.app_name, sizeof(ep->app.app_name));
	col_text(q, 11, ep->app.answer_url, sizeof(ep->app.answer_url));
	col_text(q, 12, ep->app.answer_method, sizeof(ep->app.answer_method));
	for (int i = 0; i < MODEL_ALLOW_COUNT; i++)
		ep->allow[i] = sqlite3_column_int(q, 13 + i) != 0;
	ep->created_ms = sqlite3_column_int64(q, 20);
	ep->updated_ms = sqlite3_column_int64(q, 21);
}

static int sq_endpoint_get(struct store *st, int64_t account_id,
			   const char *endpoint_id, struct model_endpoint *out)
{
	struct sq *s = sq_of(st);
	sqlite3_stmt *q = stmt(s, S_EP_GET);

	if (!q)
		return EIO;
	sqlite3_bind_int64(q, 1, account_id);
	bind_text(q, 2, endpoint_id);
	return one_row(s, q, read_endpoint, out, "endpoint_get");
}

static int sq_endpoint_get_by_user(struct store *st, const char *username,
				   const char *domain,
				   struct model_endpoint *out)
{
	struct sq *s = sq_of(st);
	sqlite3_stmt *q = stmt(s, S_EP_GET_BY_USER);

	if (!q)
		return EIO;
	bind_text(q, 1, username);
	bind_text(q, 2, domain);
	return one_row(s, q, read_endpoint, out, "endpoint_get_by_user");
}

static int sq_endpoint_update(struct store *st, const struct model_endpoint *ep)
{
	struct sq *s = sq_of(st);
	sqlite3_stmt *q = stmt(s, S_EP_UPDATE);
	int err;

	if (!q)
		return EIO;
	sqlite3_bind_int64(q, 1, ep->id);
	bind_text(q, 2, ep->alias);
	bind_text(q, 3, ep->ha1_md5);
	bind_text(q, 4, ep->ha1_sha256);
	bind_app_ref(q, 5, ep->app_ref);
	sqlite3_bind_int(q, 6, ep->allow[MODEL_ALLOW_VOICE]);
	sqlite3_bind_int(q, 7, ep->allow[MODEL_ALLOW_MESSAGE]);
	sqlite3_bind_int(q, 8, ep->allow[MODEL_ALLOW_VIDEO]);
	sqlite3_bind_int64(q, 9, ep->updated_ms);
	err = exec_stmt(s, q, "endpoint_update");
	if (!err && sqlite3_changes(s->db) != 1)
		err = ENOENT;
	return err;
}

static int sq_endpoint_delete(struct store *st, int64_t id)
{
	return delete_by_id(sq_of(st), S_EP_DELETE, id, "endpoint_delete");
}

static void bind_filter(sqlite3_stmt *q, int64_t account_id,
			const struct store_endpoint_filter *f)
{
	sqlite3_bind_int64(q, 1, account_id);
	bind_opt_text(q, 2, f->username_exact);
	bind_opt_text(q, 3, f->username_contains);
	bind_opt_text(q, 4, f->username_startswith);
	bind_opt_text(q, 5, f->alias_exact);
	bind_opt_text(q, 6, f->alias_contains);
	bind_opt_text(q, 7, f->app_id_exact);
	if (f->app_isnull >= 0)
		sqlite3_bind_int(q, 8, f->app_isnull);
}

static int sq_endpoint_list(struct store *st, int64_t account_id,
			    const struct store_endpoint_filter *f,
			    int64_t limit, int64_t offset, store_endpoint_cb cb,
			    void *ctx, int64_t *total)
{
	struct sq *s = sq_of(st);
	bool all = store_filter_none(f);
	sqlite3_stmt *q = stmt(s, all ? S_EP_COUNT_ALL : S_EP_COUNT);
	struct model_endpoint *ep = NULL;
	int rc, err;

	if (!q)
		return EIO;
	bind_filter(q, account_id, f);
	err = scalar(s, q, total, "endpoint_count");
	if (err)
		return err;
	q = stmt(s, all ? S_EP_LIST_ALL : S_EP_LIST);
	if (!q)
		return EIO;
	ep = malloc(sizeof(*ep));
	if (!ep)
		return ENOMEM;
	bind_filter(q, account_id, f);
	sqlite3_bind_int64(q, 9, limit);
	sqlite3_bind_int64(q, 10, offset);
	while ((rc = sqlite3_step(q)) == SQLITE_ROW) {
		read_endpoint(q, ep);
		err = cb(ctx, ep);
		if (err)
			goto out;
	}
	err = map_rc(s, rc, "endpoint_list");
out:
	sqlite3_reset(q);
	base_wipe(ep, sizeof(*ep)); /* the HA1 values of the last row */
	free(ep);
	return err;
}

static int sq_endpoints_reassign(struct store *st, int64_t from_app,
				 int64_t to_app, int64_t now_ms)
{
	struct sq *s = sq_of(st);
	sqlite3_stmt *q = stmt(s, S_EP_REASSIGN);

	if (!q)
		return EIO;
	sqlite3_bind_int64(q, 1, from_app);
	bind_app_ref(q, 2, to_app);
	sqlite3_bind_int64(q, 3, now_ms);
	return exec_stmt(s, q, "endpoints_reassign");
}

static int sq_endpoints_delete_by_app(struct store *st, int64_t app_ref)
{
	struct sq *s = sq_of(st);
	sqlite3_stmt *q = stmt(s, S_EP_DELETE_BY_APP);

	if (!q)
		return EIO;
	sqlite3_bind_int64(q, 1, app_ref);
	return exec_stmt(s, q, "endpoints_delete_by_app");
}

static int sq_binding_list(struct store *st, int64_t endpoint_ref,
			   int64_t now_ms, store_binding_cb cb, void *ctx)
{
	struct sq *s = sq_of(st);
	sqlite3_stmt *q = stmt(s, S_BIND_LIST);
	struct model_binding *b;
	int rc, err = 0;

	if (!q)
		return EIO;
	b = malloc(sizeof(*b));
	if (!b)
		return ENOMEM;
	sqlite3_bind_int64(q, 1, endpoint_ref);
	sqlite3_bind_int64(q, 2, now_ms);
	while ((rc = sqlite3_step(q)) == SQLITE_ROW) {
		memset(b, 0, sizeof(*b));
		b->endpoint_ref = sqlite3_column_int64(q, 0);
		col_text(q, 1, b->contact, sizeof(b->contact));
		col_text(q, 2, b->q, sizeof(b->q));
		b->expires_ms = sqlite3_column_int64(q, 3);
		col_text(q, 4, b->call_id, sizeof(b->call_id));
		b->cseq = (uint32_t)sqlite3_column_int64(q, 5);
		col_text(q, 6, b->user_agent, sizeof(b->user_agent));
		col_text(q, 7, b->received, sizeof(b->received));
		col_text(q, 8, b->transport, sizeof(b->transport));
		b->updated_ms = sqlite3_column_int64(q, 9);
		err = cb(ctx, b);
		if (err)
			goto out;
	}
	err = map_rc(s, rc, "binding_list");
out:
	sqlite3_reset(q);
	free(b);
	return err;
}

static int sq_binding_replace(struct store *st, int64_t endpoint_ref,
			      const struct model_binding *b, unsigned n)
{
	struct sq *s = sq_of(st);
	sqlite3_stmt *q = stmt(s, S_BIND_DELETE_ALL);
	int err;

	if (!q)
		return EIO;
	sqlite3_bind_int64(q, 1, endpoint_ref);
	err = exec_stmt(s, q, "binding_delete_all");
	for (unsigned i = 0; !err && i < n; i++) {
		q = stmt(s, S_BIND_INSERT);
		if (!q)
			return EIO;
		sqlite3_bind_int64(q, 1, endpoint_ref);
		bind_text(q, 2, b[i].contact);
		bind_text(q, 3, b[i].q);
		sqlite3_bind_int64(q, 4, b[i].expires_ms);
		bind_text(q, 5, b[i].call_id);
		sqlite3_bind_int64(q, 6, b[i].cseq);
		bind_text(q, 7, b[i].user_agent);
		bind_text(q, 8, b[i].received);
		bind_text(q, 9, b[i].transport);
		sqlite3_bind_int64(q, 10, b[i].updated_ms);
		err = exec_stmt(s, q, "binding_insert");
	}
	return err;
}

static int sq_binding_sweep(struct store *st, int64_t now_ms, int64_t max,
			    int64_t *n)
{
	struct sq *s = sq_of(st);
	sqlite3_stmt *q = stmt(s, S_BIND_SWEEP);
	int err;

	if (!q)
		return EIO;
	sqlite3_bind_int64(q, 1, now_ms);
	sqlite3_bind_int64(q, 2, max);
	err = exec_stmt(s, q, "binding_sweep");
	if (!err)
		*n = sqlite3_changes(s->db);
	return err;
}

const struct store_ops store_sqlite_ops = {
    .name = "sqlite",
    .serial_writes = true,
    .open = sq_open,
    .close = sq_close,
    .migrate = sq_migrate,
    .begin = sq_begin,
    .commit = sq_commit,
    .rollback = sq_rollback,
    .durable = sq_durable,
    .savepoint = sq_savepoint,
    .account_insert = sq_account_insert,
    .account_get = sq_account_get,
    .account_count = sq_account_count,
    .account_list = sq_account_list,
    .app_insert = sq_app_insert,
    .app_get = sq_app_get,
    .app_get_default = sq_app_get_default,
    .app_update = sq_app_update,
    .app_clear_default = sq_app_clear_default,
    .app_delete = sq_app_delete,
    .app_list = sq_app_list,
    .app_endpoint_count = sq_app_endpoint_count,
    .endpoint_insert = sq_endpoint_insert,
    .endpoint_get = sq_endpoint_get,
    .endpoint_get_by_user = sq_endpoint_get_by_user,
    .endpoint_update = sq_endpoint_update,
    .endpoint_delete = sq_endpoint_delete,
    .endpoint_list = sq_endpoint_list,
    .endpoints_reassign = sq_endpoints_reassign,
    .endpoints_delete_by_app = sq_endpoints_delete_by_app,
    .binding_list = sq_binding_list,
    .binding_replace = sq_binding_replace,
    .binding_sweep = sq_binding_sweep,
};
