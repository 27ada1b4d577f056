/*
 * test_store.c - unit tests for the stores, on SQLite (no argument) or on
 * PostgreSQL ("pg": the base URL from the file SIPWARD_TEST_PG_URL_FILE
 * names, or from SIPWARD_TEST_PG; every test gets a database of its own;
 * without either every test is skipped).
 */
#include <errno.h>
#include <pthread.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include <cmocka.h>
#include <libpq-fe.h>
#include <sqlite3.h>

#include "base/time.h"
#include "model/cdr.h"
#include "base/crypto.h"
#include "model/field.h"
#include "store/sql.h"
#include "store/store.h"
#include "svc/group.h"
#include "svc/internal.h"
#include "svc/svc.h"

struct fixture {
	char dir[64];
	char path[128];
	char dbname[64];
	char url[512];
	struct store *st;
	struct model_account acct, other;
};

static const struct store_ops *ops = &store_sqlite_ops;
static bool on_pg;
static char pg_base[400]; /* the PostgreSQL server's base URL */

/* base with its database (the URL path) replaced by dbname. */
static void pg_url(char *out, size_t cap, const char *dbname)
{
	const char *host = strstr(pg_base, "://");
	const char *slash = strchr(host ? host + 3 : pg_base, '/');
	const char *query = slash ? strchr(slash, '?') : NULL;
	int n = slash ? (int)(slash - pg_base) : (int)strlen(pg_base);

	snprintf(out, cap, "%.*s/%s%s", n, pg_base, dbname, query ? query : "");
}

/* Runs one command on a PostgreSQL URL; returns the first value or -1. */
static int64_t pg_exec(const char *url, const char *q)
{
	PGconn *c = PQconnectdb(url);
	PGresult *r;
	int64_t v = -1;
	ExecStatusType st;

	assert_int_equal(PQstatus(c), CONNECTION_OK);
	r = PQexec(c, q);
	st = PQresultStatus(r);
	if (st != PGRES_COMMAND_OK && st != PGRES_TUPLES_OK)
		fail_msg("%s: %s", q, PQresultErrorMessage(r));
	if (st == PGRES_TUPLES_OK && PQntuples(r) > 0)
		v = strtoll(PQgetvalue(r, 0, 0), NULL, 10);
	PQclear(r);
	PQfinish(c);
	return v;
}

static void remove_db(struct fixture *f)
{
	char p[200];

	if (on_pg) {
		char q[128];
		char base[512];
		pg_url(base, sizeof(base), "postgres");
		snprintf(q, sizeof(q),
			 "DROP DATABASE IF EXISTS %s WITH (FORCE)", f->dbname);
		pg_exec(base, q);
		return;
	}
	unlink(f->path);
	snprintf(p, sizeof(p), "%s-wal", f->path);
	unlink(p);
	snprintf(p, sizeof(p), "%s-shm", f->path);
	unlink(p);
	snprintf(p, sizeof(p), "%s-journal", f->path);
	unlink(p);
}

/* A fresh, empty database: a file, or a database on the server. */
static int create_db(struct fixture *f)
{
	static int seq;
	char q[128], base[512];

	snprintf(f->dir, sizeof(f->dir), "/tmp/sipward-test-store-XXXXXX");
	if (!mkdtemp(f->dir))
		return -1;
	snprintf(f->path, sizeof(f->path), "%s/db.sqlite", f->dir);
	snprintf(f->url, sizeof(f->url), "sqlite:%s", f->path);
	if (!on_pg)
		return 0;
	snprintf(f->dbname, sizeof(f->dbname), "u_%d_%d", (int)getpid(), ++seq);
	pg_url(base, sizeof(base), "postgres");
	snprintf(q, sizeof(q), "CREATE DATABASE %s", f->dbname);
	pg_exec(base, q);
	pg_url(f->url, sizeof(f->url), f->dbname);
	return 0;
}

static void account(struct model_account *a, const char *auth_id,
		    const char *domain)
{
	memset(a, 0, sizeof(*a));
	snprintf(a->auth_id, sizeof(a->auth_id), "%s", auth_id);
	snprintf(a->name, sizeof(a->name), "test");
	snprintf(a->domain, sizeof(a->domain), "%s", domain);
	memset(a->token_sha256, 'a', 64);
	a->created_ms = 1000;
}

static int setup(void **state)
{
	struct fixture *f = calloc(1, sizeof(*f));

	if (!f || create_db(f))
		return -1;
	if (ops->open(f->url, &f->st) || ops->migrate(f->st))
		return -1;
	account(&f->acct, "MA_AAAAAAAA", "a.example.com");
	account(&f->other, "MA_BBBBBBBB", "b.example.com");
	if (ops->account_insert(f->st, &f->acct) ||
	    ops->account_insert(f->st, &f->other))
		return -1;
	*state = f;
	return 0;
}

static int teardown(void **state)
{
	struct fixture *f = *state;

	ops->close(f->st);
	remove_db(f);
	rmdir(f->dir);
	free(f);
	return 0;
}

static void make_app(struct model_app *a, const struct model_account *acct,
		     const char *app_id)
{
	memset(a, 0, sizeof(*a));
	a->account_id = acct->id;
	snprintf(a->app_id, sizeof(a->app_id), "%s", app_id);
	snprintf(a->app_name, sizeof(a->app_name), "app %s", app_id);
	snprintf(a->answer_url, sizeof(a->answer_url), "https://x/answer");
	snprintf(a->answer_method, sizeof(a->answer_method), "POST");
	snprintf(a->hangup_method, sizeof(a->hangup_method), "POST");
	snprintf(a->fallback_method, sizeof(a->fallback_method), "POST");
	snprintf(a->message_method, sizeof(a->message_method), "POST");
	a->created_ms = a->updated_ms = 2000;
}

static void make_ep(struct model_endpoint *ep, const struct model_account *acct,
		    const char *endpoint_id, const char *username,
		    const char *alias)
{
	memset(ep, 0, sizeof(*ep));
	ep->account_id = acct->id;
	snprintf(ep->endpoint_id, sizeof(ep->endpoint_id), "%s", endpoint_id);
	snprintf(ep->username, sizeof(ep->username), "%s", username);
	snprintf(ep->domain, sizeof(ep->domain), "%s", acct->domain);
	snprintf(ep->alias, sizeof(ep->alias), "%s", alias);
	memset(ep->ha1_md5, '1', 32);
	memset(ep->ha1_sha256, '2', 64);
	for (int i = 0; i < MODEL_ALLOW_COUNT; i++)
		ep->allow[i] =
		    model_endpoint_fields[MODEL_EP_ALLOW(i)].def_bool;
	ep->created_ms = ep->updated_ms = 3000;
}

static void insert_ep(struct fixture *f, const char *endpoint_id,
		      const char *username, const char *alias, int64_t app_ref)
{
	struct model_endpoint ep;

	make_ep(&ep, &f->acct, endpoint_id, username, alias);
	ep.app_ref = app_ref;
	assert_int_equal(ops->endpoint_insert(f->st, &ep), 0);
	assert_true(ep.id > 0);
}

/* Runs raw SQL on the database through a second connection. */
static void raw_sql(struct fixture *f, const char *q)
{
	sqlite3 *db;

	if (on_pg) {
		pg_exec(f->url, q);
		return;
	}
	assert_int_equal(sqlite3_open(f->path, &db), SQLITE_OK);
	assert_int_equal(sqlite3_exec(db, q, NULL, NULL, NULL), SQLITE_OK);
	sqlite3_close(db);
}

static int64_t raw_int(struct fixture *f, const char *q)
{
	sqlite3 *db;
	sqlite3_stmt *s;
	int64_t v;

	if (on_pg)
		return pg_exec(f->url, q);
	assert_int_equal(sqlite3_open(f->path, &db), SQLITE_OK);
	assert_int_equal(sqlite3_prepare_v2(db, q, -1, &s, NULL), SQLITE_OK);
	assert_int_equal(sqlite3_step(s), SQLITE_ROW);
	v = sqlite3_column_int64(s, 0);
	sqlite3_finalize(s);
	sqlite3_close(db);
	return v;
}

/* ---- open and migrations ---- */

static void test_open_bad_url(void **state)
{
	struct store *st = NULL;
	char url[512];

	(void)state;
	if (on_pg) {
		/* Nothing listens on port 1; a database that does not exist. */
		assert_int_equal(
		    ops->open("postgresql://sipward@127.0.0.1:1/x", &st), EIO);
		pg_url(url, sizeof(url), "no_such_database");
		assert_int_equal(ops->open(url, &st), EIO);
		assert_null(st);
		return;
	}
	assert_int_equal(ops->open("sqlite:", &st), EINVAL);
	assert_int_equal(ops->open("postgresql://localhost/x", &st), EINVAL);
	assert_int_equal(ops->open("/tmp/x.db", &st), EINVAL);
	assert_int_equal(ops->open("sqlite:/nonexistent-dir/x/y.db", &st),
			 ENOENT);
	assert_null(st);
}

static void test_file_private(void **state)
{
	struct fixture *f = *state;
	struct stat sb;

	if (on_pg)
		skip();
	assert_int_equal(stat(f->path, &sb), 0);
	assert_int_equal(sb.st_mode & 0777, 0600);
}

/* The schema version: SQLite keeps one row, PostgreSQL one per version. */
#define VERSION_SQL "SELECT max(version) FROM schema_version"

static void test_migrate_idempotent(void **state)
{
	struct fixture *f = *state;
	struct store *st2;
	int64_t n = -1;

	assert_int_equal(ops->migrate(f->st), 0);
	assert_int_equal(ops->migrate(f->st), 0);
	assert_int_equal(raw_int(f, VERSION_SQL), STORE_SCHEMA_VERSION);
	assert_int_equal(raw_int(f, "SELECT count(*) FROM schema_version"),
			 on_pg ? STORE_SCHEMA_VERSION : 1);
	/* A second connection on the same database migrates to a no-op. */
	assert_int_equal(ops->open(f->url, &st2), 0);
	assert_int_equal(ops->migrate(st2), 0);
	/* Data survives the repeated migrations. */
	assert_int_equal(ops->account_count(st2, &n), 0);
	assert_int_equal(n, 2);
	ops->close(st2);
}

static void test_migrate_refuses_newer(void **state)
{
	struct fixture *f = *state;
	struct store *st2;
	char q[96];

	snprintf(q, sizeof(q),
		 on_pg ? "INSERT INTO schema_version VALUES (%d)"
		       : "UPDATE schema_version SET version = %d",
		 STORE_SCHEMA_VERSION + 1);
	raw_sql(f, q);
	assert_int_equal(ops->open(f->url, &st2), 0);
	assert_int_equal(ops->migrate(st2), EPROTO);
	ops->close(st2);
	/* Refusing changed nothing. */
	assert_int_equal(raw_int(f, VERSION_SQL), STORE_SCHEMA_VERSION + 1);
}

struct bind_collect {
	struct model_binding b[4];
	int n;
};

static int collect_binding(void *ctx, const struct model_binding *b)
{
	struct bind_collect *c = ctx;

	if (c->n < 4)
		c->b[c->n] = *b;
	c->n++;
	return 0;
}

/*
 * A database made by a binary of schema 3 (before token_enc) keeps its
 * accounts through the upgrade: their tokens still log in (the hash) and
 * have no ciphertext (""); its bindings stay, with no path (version 6).
 */
static void test_migrate_from_3(void **state)
{
	struct fixture f = {0};
	struct model_account a;
	struct store *st;
	char q[256];
	sqlite3 *db;

	(void)state;
	assert_int_equal(create_db(&f), 0);
	if (on_pg)
		pg_exec(f.url, "CREATE TABLE schema_version"
			       " (version BIGINT NOT NULL)");
	else
		assert_int_equal(sqlite3_open(f.path, &db), SQLITE_OK);
	for (int v = 0; v < 3; v++) {
		if (on_pg) {
			pg_exec(f.url, sql_migration(SQL_PG, v));
			snprintf(q, sizeof(q),
				 "INSERT INTO schema_version VALUES (%d)",
				 v + 1);
			pg_exec(f.url, q);
		} else {
			assert_int_equal(
			    sqlite3_exec(db, sql_migration(SQL_SQLITE, v), NULL,
					 NULL, NULL),
			    SQLITE_OK);
		}
	}
	snprintf(q, sizeof(q),
		 "INSERT INTO accounts (auth_id, name, domain, token_sha256,"
		 " created_ms) VALUES ('MA_OLD00000', 'old', 'o.example.com',"
		 " '%064d', 5)",
		 7);
	static const char *const rows[] = {
	    "INSERT INTO endpoints (account_id, endpoint_id, username, domain,"
	    " alias, ha1_md5, ha1_sha256, allow_voice, allow_message,"
	    " allow_video, allow_same_domain, allow_other_domains,"
	    " allow_phones, allow_apps, created_ms, updated_ms) SELECT id,"
	    " '100000000000009', 'old', 'o.example.com', 'old', '', '', 1, 1,"
	    " 1, 1, 1, 1, 1, 5, 5 FROM accounts",
	    "INSERT INTO registrations (endpoint_ref, contact, q, expires_ms,"
	    " call_id, cseq, user_agent, received, transport, updated_ms)"
	    " SELECT id, 'sip:old@1.2.3.4;transport=tcp', '', 9000000000000,"
	    " 'c', 1, 'ua', '1.2.3.4:5060', 'TCP', 5 FROM endpoints"};
	if (on_pg) {
		pg_exec(f.url, q);
		for (size_t i = 0; i < 2; i++)
			pg_exec(f.url, rows[i]);
	} else {
		assert_int_equal(sqlite3_exec(db,
					      "UPDATE schema_version SET "
					      "version = 3",
					      NULL, NULL, NULL),
				 SQLITE_OK);
		assert_int_equal(sqlite3_exec(db, q, NULL, NULL, NULL),
				 SQLITE_OK);
		for (size_t i = 0; i < 2; i++)
			assert_int_equal(
			    sqlite3_exec(db, rows[i], NULL, NULL, NULL),
			    SQLITE_OK);
		sqlite3_close(db);
	}
	assert_int_equal(ops->open(f.url, &st), 0);
	assert_int_equal(ops->migrate(st), 0);
	f.st = st;
	assert_int_equal(raw_int(&f, VERSION_SQL), STORE_SCHEMA_VERSION);
	memset(&a, 0x5a, sizeof(a));
	assert_int_equal(ops->account_get(st, "MA_OLD00000", &a), 0);
	assert_string_equal(a.token_enc, "");
	assert_int_equal(strspn(a.token_sha256, "0"), 63);
	assert_int_equal(ops->account_get_sealed(st, &a), ENOENT);
	{
		struct model_endpoint ep;
		struct bind_collect bc;

		memset(&bc, 0, sizeof(bc));
		assert_int_equal(
		    ops->endpoint_get_by_user(st, "old", "o.example.com", &ep),
		    0);
		assert_int_equal(
		    ops->binding_list(st, ep.id, 0, collect_binding, &bc), 0);
		assert_int_equal(bc.n, 1);
		assert_string_equal(bc.b[0].transport, "TCP");
		assert_string_equal(bc.b[0].path, "");
	}
	ops->close(st);
	remove_db(&f);
	rmdir(f.dir);
}

/* ---- accounts ---- */

static void test_account(void **state)
{
	struct fixture *f = *state;
	struct model_account a, got;
	int64_t n = 0;

	assert_true(f->acct.id > 0);
	assert_true(f->other.id > 0);
	assert_int_not_equal(f->acct.id, f->other.id);
	assert_int_equal(ops->account_get(f->st, "MA_AAAAAAAA", &got), 0);
	assert_int_equal(got.id, f->acct.id);
	assert_string_equal(got.domain, "a.example.com");
	assert_int_equal(got.created_ms, 1000);
	assert_int_equal(ops->account_get(f->st, "MA_aaaaaaaa", &got), ENOENT);
	assert_int_equal(ops->account_get(f->st, "MA_CCCCCCCC", &got), ENOENT);
	assert_int_equal(ops->account_count(f->st, &n), 0);
	assert_int_equal(n, 2);
	/* auth_id is unique. */
	account(&a, "MA_AAAAAAAA", "c.example.com");
	assert_int_equal(ops->account_insert(f->st, &a), EEXIST);
}

/* By row id; the token's hash and ciphertext replaced together. */
static void test_account_token(void **state)
{
	struct fixture *f = *state;
	struct model_account a, got;
	char h[65];

	assert_int_equal(ops->account_get_ref(f->st, f->other.id, &got), 0);
	assert_string_equal(got.auth_id, "MA_BBBBBBBB");
	assert_string_equal(got.token_enc, "");
	assert_int_equal(ops->account_get_ref(f->st, f->other.id + 99, &got),
			 ENOENT);
	assert_int_equal(ops->account_get_sealed(f->st, &got), ENOENT);
	/* Inserted with a ciphertext, it is read back. */
	account(&a, "MA_CCCCCCCC", "c.example.com");
	snprintf(a.token_enc, sizeof(a.token_enc), "v1:%0136d", 1);
	assert_int_equal(ops->account_insert(f->st, &a), 0);
	assert_int_equal(ops->account_get(f->st, "MA_CCCCCCCC", &got), 0);
	assert_string_equal(got.token_enc, a.token_enc);
	assert_int_equal(ops->account_get_sealed(f->st, &got), 0);
	assert_string_equal(got.auth_id, "MA_CCCCCCCC");
	/* Replaced on one account only. */
	memset(h, 'b', 64);
	h[64] = '\0';
	assert_int_equal(
	    ops->account_token_set(f->st, "MA_AAAAAAAA", h, "v1:beef"), 0);
	assert_int_equal(ops->account_get(f->st, "MA_AAAAAAAA", &got), 0);
	assert_string_equal(got.token_sha256, h);
	assert_string_equal(got.token_enc, "v1:beef");
	assert_int_equal(ops->account_get_sealed(f->st, &got), 0);
	assert_string_equal(got.auth_id, "MA_CCCCCCCC"); /* the newest */
	assert_int_equal(ops->account_get(f->st, "MA_BBBBBBBB", &got), 0);
	assert_int_equal(strspn(got.token_sha256, "a"), 64);
	assert_string_equal(got.token_enc, "");
	assert_int_equal(ops->account_token_set(f->st, "MA_ZZZZZZZZ", h, ""),
			 ENOENT);
}

/* ---- endpoints ---- */

static void test_endpoint_unique_user_domain(void **state)
{
	struct fixture *f = *state;
	struct model_endpoint ep;

	insert_ep(f, "100000000000001", "alice", "Alice", 0);
	/* Same username and domain, another endpoint_id: conflict. */
	make_ep(&ep, &f->acct, "100000000000002", "alice", "again");
	assert_int_equal(ops->endpoint_insert(f->st, &ep), EEXIST);
	/* Same username and domain under another account: still a conflict
	 * (usernames are unique per SIP domain). */
	make_ep(&ep, &f->other, "100000000000003", "alice", "other");
	snprintf(ep.domain, sizeof(ep.domain), "a.example.com");
	assert_int_equal(ops->endpoint_insert(f->st, &ep), EEXIST);
	/* Same endpoint_id: conflict. */
	make_ep(&ep, &f->acct, "100000000000001", "bob", "bob");
	assert_int_equal(ops->endpoint_insert(f->st, &ep), EEXIST);
	/* Usernames are case-sensitive. */
	insert_ep(f, "100000000000004", "Alice", "upper", 0);
	/* Same username in another domain is fine. */
	make_ep(&ep, &f->other, "100000000000005", "alice", "b");
	assert_int_equal(ops->endpoint_insert(f->st, &ep), 0);
}

static void test_endpoint_get(void **state)
{
	struct fixture *f = *state;
	struct model_endpoint ep, got;

	make_ep(&ep, &f->acct, "123456789012345", "carol", "Carol's phone");
	ep.allow[MODEL_ALLOW_VIDEO] = true;
	ep.allow[MODEL_ALLOW_APPS] = false;
	assert_int_equal(ops->endpoint_insert(f->st, &ep), 0);

	memset(&got, 0x5a, sizeof(got));
	assert_int_equal(
	    ops->endpoint_get(f->st, f->acct.id, "123456789012345", &got), 0);
	assert_int_equal(got.id, ep.id);
	assert_int_equal(got.account_id, f->acct.id);
	assert_string_equal(got.username, "carol");
	assert_string_equal(got.domain, "a.example.com");
	assert_string_equal(got.alias, "Carol's phone");
	assert_string_equal(got.ha1_md5, ep.ha1_md5);
	assert_string_equal(got.ha1_sha256, ep.ha1_sha256);
	assert_int_equal(got.app_ref, 0);
	assert_string_equal(got.app.app_id, "");
	for (int i = 0; i < MODEL_ALLOW_COUNT; i++)
		assert_int_equal(got.allow[i], ep.allow[i]);
	assert_int_equal(got.created_ms, 3000);

	/* Another account's endpoint does not exist for this one. */
	assert_int_equal(
	    ops->endpoint_get(f->st, f->other.id, "123456789012345", &got),
	    ENOENT);
	assert_int_equal(
	    ops->endpoint_get(f->st, f->acct.id, "999999999999999", &got),
	    ENOENT);

	assert_int_equal(
	    ops->endpoint_get_by_user(f->st, "carol", "a.example.com", &got),
	    0);
	assert_int_equal(got.id, ep.id);
	assert_int_equal(
	    ops->endpoint_get_by_user(f->st, "Carol", "a.example.com", &got),
	    ENOENT);
	assert_int_equal(
	    ops->endpoint_get_by_user(f->st, "carol", "b.example.com", &got),
	    ENOENT);
}

static void test_endpoint_update_delete(void **state)
{
	struct fixture *f = *state;
	struct model_endpoint ep, got;

	make_ep(&ep, &f->acct, "111111111111111", "dave", "Dave");
	assert_int_equal(ops->endpoint_insert(f->st, &ep), 0);
	snprintf(ep.alias, sizeof(ep.alias), "Dave's new phone");
	memset(ep.ha1_md5, 'f', 32);
	ep.allow[MODEL_ALLOW_VOICE] = false;
	ep.updated_ms = 4000;
	assert_int_equal(ops->endpoint_update(f->st, &ep), 0);
	assert_int_equal(
	    ops->endpoint_get(f->st, f->acct.id, "111111111111111", &got), 0);
	assert_string_equal(got.alias, "Dave's new phone");
	assert_string_equal(got.ha1_md5, ep.ha1_md5);
	assert_false(got.allow[MODEL_ALLOW_VOICE]);
	assert_int_equal(got.updated_ms, 4000);
	assert_int_equal(got.created_ms, 3000);

	assert_int_equal(ops->endpoint_delete(f->st, ep.id), 0);
	assert_int_equal(ops->endpoint_delete(f->st, ep.id), ENOENT);
	assert_int_equal(ops->endpoint_update(f->st, &ep), ENOENT);
	assert_int_equal(
	    ops->endpoint_get(f->st, f->acct.id, "111111111111111", &got),
	    ENOENT);
}

/* Collects usernames from a list into a comma-separated string. */
struct collect {
	char names[512];
	int n;
};

static int collect_ep(void *ctx, const struct model_endpoint *ep)
{
	struct collect *c = ctx;
	size_t l = strlen(c->names);

	snprintf(c->names + l, sizeof(c->names) - l, "%s%s", l ? "," : "",
		 ep->username);
	c->n++;
	return 0;
}

static const char *list(struct fixture *f,
			const struct store_endpoint_filter *flt, int64_t limit,
			int64_t offset, int64_t *total)
{
	static struct collect c;

	memset(&c, 0, sizeof(c));
	*total = -1;
	assert_int_equal(ops->endpoint_list(f->st, f->acct.id, flt, limit,
					    offset, collect_ep, &c, total),
			 0);
	return c.names;
}

static struct store_endpoint_filter no_filter(void)
{
	struct store_endpoint_filter flt = {0};

	flt.app_isnull = -1;
	flt.registered = -1;
	return flt;
}

static void test_endpoint_list_filters(void **state)
{
	struct fixture *f = *state;
	struct store_endpoint_filter flt;
	struct model_app app;
	struct model_endpoint ep;
	int64_t total;

	make_app(&app, &f->acct, "20000000000000001");
	assert_int_equal(ops->app_insert(f->st, &app), 0);
	insert_ep(f, "100000000000001", "alice", "Front desk", 0);
	insert_ep(f, "100000000000002", "Alice", "front DESK", app.id);
	insert_ep(f, "100000000000003", "malice", "Back office", 0);
	insert_ep(f, "100000000000004", "bob_ALI", "Bob's phone", app.id);
	/* Another account's endpoint never shows up. */
	make_ep(&ep, &f->other, "100000000000005", "alice2", "Front desk");
	assert_int_equal(ops->endpoint_insert(f->st, &ep), 0);

	flt = no_filter();
	assert_string_equal(list(f, &flt, 100, 0, &total),
			    "alice,Alice,malice,bob_ALI");
	assert_int_equal(total, 4);

	flt = no_filter();
	flt.username_exact = "alice";
	assert_string_equal(list(f, &flt, 100, 0, &total), "alice");
	assert_int_equal(total, 1);
	flt.username_exact = "ALICE";
	assert_string_equal(list(f, &flt, 100, 0, &total), "");
	assert_int_equal(total, 0);

	flt = no_filter();
	flt.username_contains = "lic";
	assert_string_equal(list(f, &flt, 100, 0, &total),
			    "alice,Alice,malice");
	assert_int_equal(total, 3);
	flt.username_contains = "ALI";
	assert_string_equal(list(f, &flt, 100, 0, &total), "bob_ALI");
	/* No LIKE wildcards. */
	flt.username_contains = "%";
	assert_string_equal(list(f, &flt, 100, 0, &total), "");
	flt.username_contains = "_";
	assert_string_equal(list(f, &flt, 100, 0, &total), "bob_ALI");

	flt = no_filter();
	flt.username_startswith = "Al";
	assert_string_equal(list(f, &flt, 100, 0, &total), "Alice");
	assert_int_equal(total, 1);
	flt.username_startswith = "al";
	assert_string_equal(list(f, &flt, 100, 0, &total), "alice");
	flt.username_startswith = "a%";
	assert_string_equal(list(f, &flt, 100, 0, &total), "");

	flt = no_filter();
	flt.alias_exact = "Front desk";
	assert_string_equal(list(f, &flt, 100, 0, &total), "alice");
	flt = no_filter();
	flt.alias_contains = "desk";
	assert_string_equal(list(f, &flt, 100, 0, &total), "alice");
	flt.alias_contains = "DESK";
	assert_string_equal(list(f, &flt, 100, 0, &total), "Alice");
	flt.alias_contains = "'s";
	assert_string_equal(list(f, &flt, 100, 0, &total), "bob_ALI");

	flt = no_filter();
	flt.app_isnull = 1;
	assert_string_equal(list(f, &flt, 100, 0, &total), "alice,malice");
	assert_int_equal(total, 2);
	flt.app_isnull = 0;
	assert_string_equal(list(f, &flt, 100, 0, &total), "Alice,bob_ALI");
	flt = no_filter();
	flt.app_id_exact = "20000000000000001";
	assert_string_equal(list(f, &flt, 100, 0, &total), "Alice,bob_ALI");
	flt.app_id_exact = "20000000000000002";
	assert_string_equal(list(f, &flt, 100, 0, &total), "");

	/* Filters combine. */
	flt = no_filter();
	flt.username_contains = "lic";
	flt.app_isnull = 1;
	assert_string_equal(list(f, &flt, 100, 0, &total), "alice,malice");
	assert_int_equal(total, 2);
}

static void test_endpoint_list_paging(void **state)
{
	struct fixture *f = *state;
	struct store_endpoint_filter flt = no_filter();
	char id[16], user[16];
	int64_t total;

	/* endpoint_ids in descending order, so creation order != id order. */
	for (int i = 0; i < 7; i++) {
		snprintf(id, sizeof(id), "%015d", 900000000 - i);
		id[0] = '9';
		snprintf(user, sizeof(user), "u%d", i);
		insert_ep(f, id, user, user, 0);
	}
	assert_string_equal(list(f, &flt, 3, 0, &total), "u0,u1,u2");
	assert_int_equal(total, 7);
	assert_string_equal(list(f, &flt, 3, 3, &total), "u3,u4,u5");
	assert_int_equal(total, 7);
	assert_string_equal(list(f, &flt, 3, 6, &total), "u6");
	assert_string_equal(list(f, &flt, 3, 7, &total), "");
	assert_int_equal(total, 7);
	assert_string_equal(list(f, &flt, 100, 2, &total), "u2,u3,u4,u5,u6");
	/* Stable across a delete before the page. */
	{
		struct model_endpoint ep;
		assert_int_equal(ops->endpoint_get_by_user(
				     f->st, "u1", "a.example.com", &ep),
				 0);
		assert_int_equal(ops->endpoint_delete(f->st, ep.id), 0);
	}
	assert_string_equal(list(f, &flt, 3, 0, &total), "u0,u2,u3");
	assert_int_equal(total, 6);
}

static int stop_after_one(void *ctx, const struct model_endpoint *ep)
{
	(void)ep;
	(*(int *)ctx)++;
	return ECANCELED;
}

static void test_endpoint_list_cb_error(void **state)
{
	struct fixture *f = *state;
	struct store_endpoint_filter flt = no_filter();
	int calls = 0;
	int64_t total;

	insert_ep(f, "100000000000001", "a1", "a", 0);
	insert_ep(f, "100000000000002", "a2", "a", 0);
	assert_int_equal(ops->endpoint_list(f->st, f->acct.id, &flt, 10, 0,
					    stop_after_one, &calls, &total),
			 ECANCELED);
	assert_int_equal(calls, 1);
	/* The statement was reset: listing again works. */
	assert_string_equal(list(f, &flt, 10, 0, &total), "a1,a2");
}

/* ---- applications ---- */

static void test_app(void **state)
{
	struct fixture *f = *state;
	struct model_app a, b, got;
	struct model_endpoint ep;
	int64_t n = -1;

	make_app(&a, &f->acct, "20000000000000001");
	snprintf(a.hangup_url, sizeof(a.hangup_url), "http://x/hangup");
	a.default_endpoint_app = true;
	assert_int_equal(ops->app_insert(f->st, &a), 0);
	make_app(&b, &f->acct, "20000000000000002");
	b.default_endpoint_app = true;
	assert_int_equal(ops->app_insert(f->st, &b), 0);
	/* app_id is unique. */
	make_app(&got, &f->other, "20000000000000001");
	assert_int_equal(ops->app_insert(f->st, &got), EEXIST);

	assert_int_equal(
	    ops->app_get(f->st, f->acct.id, "20000000000000001", &got), 0);
	assert_int_equal(got.id, a.id);
	assert_string_equal(got.app_name, "app 20000000000000001");
	assert_string_equal(got.hangup_url, "http://x/hangup");
	assert_string_equal(got.message_url, "");
	assert_true(got.default_endpoint_app);
	assert_int_equal(
	    ops->app_get(f->st, f->other.id, "20000000000000001", &got),
	    ENOENT);

	/* With two defaults (svc clears the others), the oldest wins. */
	assert_int_equal(ops->app_get_default(f->st, f->acct.id, &got), 0);
	assert_int_equal(got.id, a.id);
	assert_int_equal(ops->app_get_default(f->st, f->other.id, &got),
			 ENOENT);

	/* Update. */
	snprintf(b.app_name, sizeof(b.app_name), "renamed");
	b.updated_ms = 9000;
	assert_int_equal(ops->app_update(f->st, &b), 0);
	assert_int_equal(
	    ops->app_get(f->st, f->acct.id, "20000000000000002", &got), 0);
	assert_string_equal(got.app_name, "renamed");
	assert_int_equal(got.updated_ms, 9000);
	got.account_id = f->other.id; /* wrong account: no row */
	assert_int_equal(ops->app_update(f->st, &got), ENOENT);

	/* Endpoints bound to it: count, reassign, delete. */
	insert_ep(f, "100000000000001", "e1", "e1", a.id);
	insert_ep(f, "100000000000002", "e2", "e2", a.id);
	assert_int_equal(ops->app_endpoint_count(f->st, a.id, &n), 0);
	assert_int_equal(n, 2);
	assert_int_equal(
	    ops->endpoint_get(f->st, f->acct.id, "100000000000001", &ep), 0);
	assert_string_equal(ep.app.app_id, "20000000000000001");
	assert_string_equal(ep.app.answer_method, "POST");
	assert_int_equal(ops->endpoints_reassign(f->st, a.id, b.id, 5000), 0);
	assert_int_equal(ops->app_endpoint_count(f->st, a.id, &n), 0);
	assert_int_equal(n, 0);
	assert_int_equal(ops->app_endpoint_count(f->st, b.id, &n), 0);
	assert_int_equal(n, 2);
	assert_int_equal(
	    ops->endpoint_get(f->st, f->acct.id, "100000000000001", &ep), 0);
	assert_int_equal(ep.app_ref, b.id);
	assert_int_equal(ep.updated_ms, 5000);
	assert_int_equal(ops->endpoints_reassign(f->st, b.id, 0, 6000), 0);
	assert_int_equal(
	    ops->endpoint_get(f->st, f->acct.id, "100000000000002", &ep), 0);
	assert_int_equal(ep.app_ref, 0);
	assert_string_equal(ep.app.app_id, "");
	assert_int_equal(ops->endpoints_reassign(f->st, 0, a.id, 6000), 0);
	assert_int_equal(ops->endpoints_reassign(f->st, a.id, a.id, 6000), 0);
	ep.app_ref = a.id;
	assert_int_equal(ops->endpoint_update(f->st, &ep), 0);
	assert_int_equal(ops->endpoints_delete_by_app(f->st, a.id), 0);
	assert_int_equal(
	    ops->endpoint_get(f->st, f->acct.id, "100000000000002", &ep),
	    ENOENT);
	assert_int_equal(ops->app_delete(f->st, a.id), 0);
	assert_int_equal(ops->app_delete(f->st, a.id), ENOENT);
}

struct app_collect {
	char ids[256];
};

static int collect_app(void *ctx, const struct model_app *a)
{
	struct app_collect *c = ctx;
	size_t l = strlen(c->ids);

	snprintf(c->ids + l, sizeof(c->ids) - l, "%s%s", l ? "," : "",
		 a->app_id + 16);
	return 0;
}

static void test_app_list(void **state)
{
	struct fixture *f = *state;
	struct model_app a;
	struct app_collect c;
	char id[24];
	int64_t total = -1;

	for (int i = 5; i >= 1; i--) {
		snprintf(id, sizeof(id), "2000000000000000%d", i);
		make_app(&a, &f->acct, id);
		assert_int_equal(ops->app_insert(f->st, &a), 0);
	}
	make_app(&a, &f->other, "30000000000000001");
	assert_int_equal(ops->app_insert(f->st, &a), 0);
	memset(&c, 0, sizeof(c));
	assert_int_equal(
	    ops->app_list(f->st, f->acct.id, 2, 0, collect_app, &c, &total), 0);
	assert_string_equal(c.ids, "5,4"); /* creation order */
	assert_int_equal(total, 5);
	memset(&c, 0, sizeof(c));
	assert_int_equal(
	    ops->app_list(f->st, f->acct.id, 2, 4, collect_app, &c, &total), 0);
	assert_string_equal(c.ids, "1");
}

/* ---- registrations ---- */

static void make_binding(struct model_binding *b, int64_t endpoint_ref,
			 const char *contact, int64_t expires_ms)
{
	memset(b, 0, sizeof(*b));
	b->endpoint_ref = endpoint_ref;
	snprintf(b->contact, sizeof(b->contact), "%s", contact);
	snprintf(b->q, sizeof(b->q), "0.5");
	b->expires_ms = expires_ms;
	snprintf(b->call_id, sizeof(b->call_id), "call-%s", contact);
	b->cseq = 4000000000u;
	snprintf(b->user_agent, sizeof(b->user_agent), "ua");
	snprintf(b->received, sizeof(b->received), "127.0.0.1:5060");
	snprintf(b->transport, sizeof(b->transport), "UDP");
	b->updated_ms = 1234;
	snprintf(b->path, sizeof(b->path), "<sip:10.0.0.1:5060;lr;sw=%s>",
		 contact + 4);
}

static void test_bindings(void **state)
{
	struct fixture *f = *state;
	struct model_endpoint ep;
	struct model_binding b[2];
	struct bind_collect c;
	int64_t n = -1;

	make_ep(&ep, &f->acct, "100000000000001", "reg", "reg");
	assert_int_equal(ops->endpoint_insert(f->st, &ep), 0);
	make_binding(&b[0], ep.id, "sip:a@1.2.3.4", 10000);
	make_binding(&b[1], ep.id, "sip:b@1.2.3.4", 20000);
	assert_int_equal(ops->binding_replace(f->st, ep.id, b, 2), 0);

	memset(&c, 0, sizeof(c));
	assert_int_equal(
	    ops->binding_list(f->st, ep.id, 5000, collect_binding, &c), 0);
	assert_int_equal(c.n, 2);
	assert_memory_equal(&c.b[0], &b[0], sizeof(b[0]));
	assert_memory_equal(&c.b[1], &b[1], sizeof(b[1]));
	/* Only live bindings are listed. */
	memset(&c, 0, sizeof(c));
	assert_int_equal(
	    ops->binding_list(f->st, ep.id, 15000, collect_binding, &c), 0);
	assert_int_equal(c.n, 1);
	assert_string_equal(c.b[0].contact, "sip:b@1.2.3.4");
	/* A contact is unique per endpoint (svc rolls the replace back). */
	make_binding(&b[1], ep.id, "sip:a@1.2.3.4", 20000);
	assert_int_equal(ops->begin(f->st, true), 0);
	assert_int_equal(ops->binding_replace(f->st, ep.id, b, 2), EEXIST);
	ops->rollback(f->st);

	/* The sweep deletes at most max expired bindings. */
	assert_int_equal(ops->binding_sweep(f->st, 15000, 10, &n), 0);
	assert_int_equal(n, 1);
	assert_int_equal(ops->binding_sweep(f->st, 15000, 10, &n), 0);
	assert_int_equal(n, 0);
	assert_int_equal(raw_int(f, "SELECT count(*) FROM registrations"), 1);

	/* Replacing with none empties; deleting the endpoint cascades. */
	make_binding(&b[0], ep.id, "sip:c@1.2.3.4", 30000);
	assert_int_equal(ops->binding_replace(f->st, ep.id, b, 1), 0);
	assert_int_equal(raw_int(f, "SELECT count(*) FROM registrations"), 1);
	assert_int_equal(ops->endpoint_delete(f->st, ep.id), 0);
	assert_int_equal(raw_int(f, "SELECT count(*) FROM registrations"), 0);
	assert_int_equal(ops->binding_replace(f->st, ep.id, b, 1), ENOENT);
}

/* ---- call detail records ---- */

/*
 * A CDR of the account: uuid n (a UUID ending in n), ended at end_ms,
 * from/to and direction as given, cause code 4000.
 */
static void make_cdr(struct model_cdr *c, const struct model_account *acct,
		     int n, const char *dir, const char *from, const char *to,
		     int64_t end_ms)
{
	memset(c, 0, sizeof(*c));
	c->account_id = acct->id;
	snprintf(c->call_uuid, sizeof(c->call_uuid),
		 "00000000-0000-4000-8000-%012d", n);
	snprintf(c->call_direction, sizeof(c->call_direction), "%s", dir);
	snprintf(c->from_number, sizeof(c->from_number), "%s", from);
	snprintf(c->to_number, sizeof(c->to_number), "%s", to);
	snprintf(c->caller_name, sizeof(c->caller_name), "Caller %d", n);
	c->initiation_ms = end_ms > 5000 ? end_ms - 5000 : 0;
	c->end_ms = end_ms;
	model_cdr_set_cause(c, MODEL_CAUSE_NORMAL_CLEARING,
			    MODEL_SOURCE_CALLER);
}

static void insert_cdr(struct fixture *f, int n, const char *dir,
		       const char *from, const char *to, int64_t end_ms)
{
	struct model_cdr c;

	make_cdr(&c, &f->acct, n, dir, from, to, end_ms);
	assert_int_equal(ops->cdr_insert(f->st, &c), 0);
}

static void test_cdr_insert_get(void **state)
{
	struct fixture *f = *state;
	struct model_cdr a, b, got;
	struct model_endpoint ep;

	make_ep(&ep, &f->acct, "123456789012345", "alice", "Alice");
	assert_int_equal(ops->endpoint_insert(f->st, &ep), 0);
	make_cdr(&a, &f->acct, 1, "inbound", "sip:alice@a.example.com",
		 "sip:bob@a.example.com", 1700000000123);
	a.endpoint_ref = ep.id;
	snprintf(a.endpoint_id, sizeof(a.endpoint_id), "123456789012345");
	a.answer_ms = 1700000000000 - 2000;
	a.call_duration = 3;
	a.bill_duration = 3;
	assert_int_equal(ops->cdr_insert(f->st, &a), 0);
	/* The B leg names its A leg. */
	make_cdr(&b, &f->acct, 2, "outbound", "sip:alice@a.example.com",
		 "+14155550100", 1700000000456);
	memcpy(b.parent_call_uuid, a.call_uuid, sizeof(a.call_uuid));
	model_cdr_set_cause(&b, MODEL_CAUSE_USER_BUSY, MODEL_SOURCE_CALLEE);
	assert_int_equal(ops->cdr_insert(f->st, &b), 0);

	memset(&got, 0x5a, sizeof(got));
	assert_int_equal(ops->cdr_get(f->st, f->acct.id, a.call_uuid, &got), 0);
	assert_true(got.id > 0);
	a.id = got.id;
	assert_memory_equal(&got, &a, sizeof(a));
	assert_int_equal(ops->cdr_get(f->st, f->acct.id, b.call_uuid, &got), 0);
	assert_string_equal(got.parent_call_uuid, a.call_uuid);
	assert_string_equal(got.hangup_cause_name, "USER_BUSY");
	assert_int_equal(got.hangup_cause_code, 3010);
	assert_string_equal(got.hangup_source, "Callee");
	assert_string_equal(got.endpoint_id, "");
	assert_int_equal(got.answer_ms, 0);

	/* Another account's CDR is not found; nor is an unknown one. */
	assert_int_equal(ops->cdr_get(f->st, f->other.id, a.call_uuid, &got),
			 ENOENT);
	assert_int_equal(ops->cdr_get(f->st, f->acct.id,
				      "00000000-0000-4000-8000-000000000099",
				      &got),
			 ENOENT);
	/* A second insert of a call_uuid changes nothing (a retry). */
	snprintf(a.caller_name, sizeof(a.caller_name), "changed");
	assert_int_equal(ops->cdr_insert(f->st, &a), 0);
	assert_int_equal(ops->cdr_get(f->st, f->acct.id, a.call_uuid, &got), 0);
	assert_string_equal(got.caller_name, "Caller 1");
	assert_int_equal(raw_int(f, "SELECT count(*) FROM cdrs"), 2);
	/* An unknown account is refused. */
	make_cdr(&a, &f->acct, 3, "inbound", "a", "b", 1);
	a.account_id = 999999;
	assert_int_equal(ops->cdr_insert(f->st, &a), ENOENT);
	/* Deleting the endpoint leaves its CDRs, which still name it. */
	assert_int_equal(ops->endpoint_delete(f->st, ep.id), 0);
	memset(&got, 0, sizeof(got));
	assert_int_equal(ops->cdr_get(f->st, f->acct.id,
				      "00000000-0000-4000-8000-000000000001",
				      &got),
			 0);
	assert_int_equal(got.endpoint_ref, ep.id);
	assert_string_equal(got.endpoint_id, "123456789012345");
}

/* Collects the uuid numbers (last digits) of a CDR list. */
static int collect_cdr(void *ctx, const struct model_cdr *c)
{
	struct collect *k = ctx;
	size_t l = strlen(k->names);

	snprintf(k->names + l, sizeof(k->names) - l, "%s%d", l ? "," : "",
		 atoi(c->call_uuid + 24));
	k->n++;
	return 0;
}

static const char *cdrs(struct fixture *f, const struct store_cdr_filter *flt,
			int64_t limit, int64_t offset, int64_t *total)
{
	static struct collect c;

	memset(&c, 0, sizeof(c));
	*total = -1;
	assert_int_equal(ops->cdr_list(f->st, f->acct.id, flt, limit, offset,
				       collect_cdr, &c, total),
			 0);
	return c.names;
}

static struct store_cdr_filter no_cdr_filter(void)
{
	struct store_cdr_filter flt = {0};

	flt.hangup_cause_code = -1;
	flt.end_min = INT64_MIN;
	flt.end_max = INT64_MAX;
	return flt;
}

static void test_cdr_list(void **state)
{
	struct fixture *f = *state;
	struct store_cdr_filter flt = no_cdr_filter();
	struct model_cdr c;
	int64_t total;

	insert_cdr(f, 1, "inbound", "sip:a@x", "sip:b@x", 10000);
	insert_cdr(f, 2, "outbound", "sip:a@x", "+15550001", 30000);
	insert_cdr(f, 3, "inbound", "sip:c@x", "sip:b@x", 20000);
	/* Same end time as 2, stored later: listed before it. */
	make_cdr(&c, &f->acct, 4, "outbound", "sip:c@x", "+15550002", 30000);
	model_cdr_set_cause(&c, MODEL_CAUSE_NO_ANSWER, MODEL_SOURCE_ERROR);
	assert_int_equal(ops->cdr_insert(f->st, &c), 0);
	insert_cdr(f, 5, "inbound", "sip:a@x", "sip:b@x", 40000);
	/* Another account's: never listed. */
	make_cdr(&c, &f->other, 6, "inbound", "sip:a@x", "sip:b@x", 50000);
	assert_int_equal(ops->cdr_insert(f->st, &c), 0);

	/* Newest first. */
	assert_string_equal(cdrs(f, &flt, 100, 0, &total), "5,4,2,3,1");
	assert_int_equal(total, 5);
	/* Paging keeps the total. */
	assert_string_equal(cdrs(f, &flt, 2, 0, &total), "5,4");
	assert_int_equal(total, 5);
	assert_string_equal(cdrs(f, &flt, 2, 2, &total), "2,3");
	assert_string_equal(cdrs(f, &flt, 2, 4, &total), "1");
	assert_string_equal(cdrs(f, &flt, 2, 6, &total), "");
	assert_int_equal(total, 5);

	/* Each filter, alone. */
	flt.call_direction = "outbound";
	assert_string_equal(cdrs(f, &flt, 100, 0, &total), "4,2");
	assert_int_equal(total, 2);
	flt = no_cdr_filter();
	flt.from_number = "sip:a@x";
	assert_string_equal(cdrs(f, &flt, 100, 0, &total), "5,2,1");
	assert_int_equal(total, 3);
	flt.from_number = "sip:a"; /* exact, not a prefix */
	assert_string_equal(cdrs(f, &flt, 100, 0, &total), "");
	assert_int_equal(total, 0);
	flt = no_cdr_filter();
	flt.to_number = "+15550002";
	assert_string_equal(cdrs(f, &flt, 100, 0, &total), "4");
	flt = no_cdr_filter();
	flt.hangup_cause_code = 3000;
	assert_string_equal(cdrs(f, &flt, 100, 0, &total), "4");
	flt.hangup_cause_code = 4000;
	assert_string_equal(cdrs(f, &flt, 100, 0, &total), "5,2,3,1");
	assert_int_equal(total, 4);
	/* The end-time range, inclusive at both ends, with and without
	 * other filters. */
	flt = no_cdr_filter();
	flt.end_min = 20000;
	flt.end_max = 30000;
	assert_string_equal(cdrs(f, &flt, 100, 0, &total), "4,2,3");
	assert_int_equal(total, 3);
	assert_string_equal(cdrs(f, &flt, 1, 1, &total), "2");
	assert_int_equal(total, 3);
	flt.end_min = 20001;
	assert_string_equal(cdrs(f, &flt, 100, 0, &total), "4,2");
	flt.end_min = 30001; /* empty */
	assert_string_equal(cdrs(f, &flt, 100, 0, &total), "");
	assert_int_equal(total, 0);
	/* Filters combine. */
	flt = no_cdr_filter();
	flt.end_max = 30000;
	flt.call_direction = "inbound";
	flt.to_number = "sip:b@x";
	assert_string_equal(cdrs(f, &flt, 100, 0, &total), "3,1");
	assert_int_equal(total, 2);
	assert_string_equal(cdrs(f, &flt, 1, 1, &total), "1");
	assert_int_equal(total, 2);
}

static void test_cdr_sweep(void **state)
{
	struct fixture *f = *state;
	struct model_cdr c;
	int64_t n = -1;

	for (int i = 1; i <= 5; i++)
		insert_cdr(f, i, "inbound", "a", "b", i * 1000);
	make_cdr(&c, &f->other, 6, "inbound", "a", "b", 500);
	assert_int_equal(ops->cdr_insert(f->st, &c), 0);
	/* Ended strictly before, every account, at most max at a time. */
	assert_int_equal(ops->cdr_sweep(f->st, 4000, 2, &n), 0);
	assert_int_equal(n, 2);
	assert_int_equal(ops->cdr_sweep(f->st, 4000, 10, &n), 0);
	assert_int_equal(n, 2);
	assert_int_equal(ops->cdr_sweep(f->st, 4000, 10, &n), 0);
	assert_int_equal(n, 0);
	assert_int_equal(raw_int(f, "SELECT min(end_ms) FROM cdrs"), 4000);
	assert_int_equal(raw_int(f, "SELECT count(*) FROM cdrs"), 2);
}

/* ---- live calls ---- */

static void make_live(struct model_live_call *l,
		      const struct model_account *acct, int n, const char *node,
		      int64_t start_ms, int64_t updated_ms)
{
	memset(l, 0, sizeof(*l));
	snprintf(l->call_uuid, sizeof(l->call_uuid),
		 "00000000-0000-4000-9000-%012d", n);
	l->account_id = acct->id;
	snprintf(l->node_id, sizeof(l->node_id), "%s", node);
	snprintf(l->direction, sizeof(l->direction), "inbound");
	snprintf(l->from, sizeof(l->from), "sip:alice@a.example.com");
	snprintf(l->to, sizeof(l->to), "+14155550100");
	snprintf(l->caller_name, sizeof(l->caller_name), "Alice %d", n);
	snprintf(l->call_status, sizeof(l->call_status), "ringing");
	l->session_start_ms = start_ms;
	l->updated_ms = updated_ms;
}

/* The call_uuids of a list, by their last digits, comma-separated. */
static const char *uuids_str(char (*ids)[MODEL_UUID_MAX], unsigned n)
{
	static char out[256];

	out[0] = '\0';
	for (unsigned i = 0; i < n; i++) {
		size_t l = strlen(out);
		snprintf(out + l, sizeof(out) - l, "%s%d", i ? "," : "",
			 atoi(ids[i] + 24));
	}
	return out;
}

static void test_live_calls(void **state)
{
	struct fixture *f = *state;
	struct model_live_call l, got;
	char ids[8][MODEL_UUID_MAX];
	unsigned n = 99;
	int64_t k = -1;

	make_live(&l, &f->acct, 1, "node-a", 5000, 10000);
	assert_int_equal(ops->live_put(f->st, &l), 0);
	make_live(&l, &f->acct, 2, "node-b", 4000, 10000);
	assert_int_equal(ops->live_put(f->st, &l), 0);
	make_live(&l, &f->acct, 3, "node-a", 3000, 1000); /* stale */
	assert_int_equal(ops->live_put(f->st, &l), 0);
	make_live(&l, &f->other, 4, "node-a", 1000, 10000);
	assert_int_equal(ops->live_put(f->st, &l), 0);

	/* Rows updated after since_ms, of the account, oldest session first. */
	assert_int_equal(ops->live_list(f->st, f->acct.id, 2000, ids, 8, &n),
			 0);
	assert_string_equal(uuids_str(ids, n), "2,1");
	assert_int_equal(ops->live_list(f->st, f->acct.id, 0, ids, 8, &n), 0);
	assert_string_equal(uuids_str(ids, n), "3,2,1");
	assert_int_equal(ops->live_list(f->st, f->acct.id, 0, ids, 2, &n), 0);
	assert_string_equal(uuids_str(ids, n), "3,2");
	assert_int_equal(ops->live_list(f->st, f->acct.id, 10000, ids, 8, &n),
			 0);
	assert_int_equal(n, 0);

	/* One call: whole, of its account, not stale. */
	make_live(&l, &f->acct, 1, "node-a", 5000, 10000);
	memset(&got, 0x5a, sizeof(got));
	assert_int_equal(
	    ops->live_get(f->st, f->acct.id, l.call_uuid, 2000, &got), 0);
	assert_memory_equal(&got, &l, sizeof(l));
	assert_int_equal(
	    ops->live_get(f->st, f->other.id, l.call_uuid, 2000, &got), ENOENT);
	assert_int_equal(ops->live_get(f->st, f->acct.id,
				       "00000000-0000-4000-9000-000000000003",
				       2000, &got),
			 ENOENT);

	/* A put of a known call changes its status and updated_ms only. */
	snprintf(l.call_status, sizeof(l.call_status), "in-progress");
	snprintf(l.to, sizeof(l.to), "changed");
	l.updated_ms = 11000;
	assert_int_equal(ops->live_put(f->st, &l), 0);
	assert_int_equal(
	    ops->live_get(f->st, f->acct.id, l.call_uuid, 2000, &got), 0);
	assert_string_equal(got.call_status, "in-progress");
	assert_string_equal(got.to, "+14155550100");
	assert_int_equal(got.updated_ms, 11000);
	assert_int_equal(got.session_start_ms, 5000);

	/* A hangup request: on a live call of the account only. */
	assert_int_equal(
	    ops->live_hangup(f->st, f->other.id, l.call_uuid, 2000), ENOENT);
	assert_int_equal(
	    ops->live_hangup(f->st, f->acct.id,
			     "00000000-0000-4000-9000-000000000003", 2000),
	    ENOENT);
	assert_int_equal(ops->live_hangup(f->st, f->acct.id, l.call_uuid, 2000),
			 0);
	assert_int_equal(ops->live_hangup(f->st, f->acct.id, l.call_uuid, 2000),
			 0);
	assert_int_equal(
	    ops->live_get(f->st, f->acct.id, l.call_uuid, 2000, &got), 0);
	assert_true(got.hangup_requested);
	/* A later put keeps the request. */
	assert_int_equal(ops->live_put(f->st, &l), 0);
	/* The node carrying it sees it; the other node does not. */
	assert_int_equal(ops->live_due(f->st, "node-a", ids, 8, &n), 0);
	assert_string_equal(uuids_str(ids, n), "1");
	assert_int_equal(ops->live_due(f->st, "node-b", ids, 8, &n), 0);
	assert_int_equal(n, 0);

	/* The heartbeat revives every row of its node, stale or not. */
	assert_int_equal(ops->live_touch(f->st, "node-a", 20000, &k), 0);
	assert_int_equal(k, 3);
	assert_int_equal(ops->live_list(f->st, f->acct.id, 15000, ids, 8, &n),
			 0);
	assert_string_equal(uuids_str(ids, n), "3,1");

	/* The sweep deletes rows last updated before its time. */
	assert_int_equal(ops->live_sweep(f->st, 15000, &k), 0);
	assert_int_equal(k, 1); /* node-b's */
	assert_int_equal(raw_int(f, "SELECT count(*) FROM live_calls"), 3);
	/* The end of a call. */
	assert_int_equal(ops->live_delete(f->st, l.call_uuid), 0);
	assert_int_equal(ops->live_delete(f->st, l.call_uuid), ENOENT);
	assert_int_equal(ops->live_due(f->st, "node-a", ids, 8, &n), 0);
	assert_int_equal(n, 0);
	/* A live call of an unknown account is refused. */
	make_live(&l, &f->acct, 9, "node-a", 1, 1);
	l.account_id = 999999;
	assert_int_equal(ops->live_put(f->st, &l), ENOENT);
}

/* ---- the same through svc: checks, time, staleness, filters ---- */

static void test_svc_calls(void **state)
{
	struct fixture *f = *state;
	struct svc *s = NULL;
	struct svc_cdr_filter flt;
	struct model_cdr c, rows[4];
	struct model_live_call l, got;
	char ids[8][MODEL_UUID_MAX];
	int64_t now = base_time_now_ms(), total = -1, n64 = -1;
	unsigned n = 99;

	assert_int_equal(svc_open(&s, ops, f->url), 0);

	/* CDRs are checked before they are stored. */
	make_cdr(&c, &f->acct, 1, "sideways", "a", "b", 10000);
	assert_int_equal(svc_cdr_add(s, &c), EINVAL);
	make_cdr(&c, &f->acct, 1, "inbound", "a", "b", 10000);
	snprintf(c.call_uuid, sizeof(c.call_uuid), "not-a-uuid");
	assert_int_equal(svc_cdr_add(s, &c), EINVAL);
	make_cdr(&c, &f->acct, 1, "inbound", "a", "b", 10000);
	snprintf(c.parent_call_uuid, sizeof(c.parent_call_uuid), "x");
	assert_int_equal(svc_cdr_add(s, &c), EINVAL);
	for (int i = 1; i <= 4; i++) {
		make_cdr(&c, &f->acct, i, "inbound", "a", "b", i * 1000 + 500);
		assert_int_equal(svc_cdr_add(s, &c), 0);
		assert_int_equal(svc_cdr_add(s, &c), 0); /* a retry */
	}
	assert_int_equal(svc_cdr_get(s, &f->acct, c.call_uuid, &rows[0]), 0);
	assert_string_equal(rows[0].call_uuid, c.call_uuid);
	assert_int_equal(svc_cdr_get(s, &f->acct, "x", &rows[0]), ENOENT);
	assert_int_equal(svc_cdr_get(s, &f->other, c.call_uuid, &rows[0]),
			 ENOENT);

	/* The four bounds fold into one range. */
	svc_cdr_filter_init(&flt);
	assert_int_equal(
	    svc_cdr_list(s, &f->acct, &flt, 4, 0, rows, &n, &total), 0);
	assert_int_equal(n, 4);
	assert_int_equal(total, 4);
	assert_int_equal(rows[0].end_ms, 4500);
	flt.end_gt = 1500;  /* not 1500 itself */
	flt.end_lte = 3500; /* 3500 itself */
	assert_int_equal(
	    svc_cdr_list(s, &f->acct, &flt, 4, 0, rows, &n, &total), 0);
	assert_int_equal(n, 2);
	assert_int_equal(rows[0].end_ms, 3500);
	assert_int_equal(rows[1].end_ms, 2500);
	flt.end_gte = 2600; /* the tighter bound wins */
	flt.end_lt = 3500;
	assert_int_equal(
	    svc_cdr_list(s, &f->acct, &flt, 4, 0, rows, &n, &total), 0);
	assert_int_equal(n, 0);
	assert_int_equal(total, 0);
	svc_cdr_filter_init(&flt);
	flt.end_gt = INT64_MAX;
	assert_int_equal(
	    svc_cdr_list(s, &f->acct, &flt, 4, 0, rows, &n, &total), 0);
	assert_int_equal(total, 0);
	svc_cdr_filter_init(&flt);
	flt.hangup_cause_code = 4000;
	assert_int_equal(
	    svc_cdr_list(s, &f->acct, &flt, 2, 1, rows, &n, &total), 0);
	assert_int_equal(n, 2);
	assert_int_equal(total, 4);
	assert_int_equal(rows[0].end_ms, 3500);
	assert_int_equal(
	    svc_cdr_list(s, &f->acct, &flt, 0, 0, rows, &n, &total), EINVAL);
	/* Retention. */
	assert_int_equal(svc_cdr_sweep(s, 3000, 100, &n64), 0);
	assert_int_equal(n64, 2);

	/* Live calls: checked, stamped now when updated_ms is 0. */
	make_live(&l, &f->acct, 1, "node-a", now, 0);
	snprintf(l.call_status, sizeof(l.call_status), "completed");
	assert_int_equal(svc_live_put(s, &l), EINVAL);
	make_live(&l, &f->acct, 1, "", now, 0);
	assert_int_equal(svc_live_put(s, &l), EINVAL);
	make_live(&l, &f->acct, 1, "node-a", now, 0);
	assert_int_equal(svc_live_put(s, &l), 0);
	/* One whose node stopped refreshing it 31 s ago: stale. */
	make_live(&l, &f->acct, 2, "node-b", now - 60000, now - 31000);
	assert_int_equal(svc_live_put(s, &l), 0);
	assert_int_equal(svc_live_list(s, &f->acct, ids, 8, &n), 0);
	assert_string_equal(uuids_str(ids, n), "1");
	assert_int_equal(svc_live_list(s, &f->other, ids, 8, &n), 0);
	assert_int_equal(n, 0);
	assert_int_equal(svc_live_get(s, &f->acct, l.call_uuid, &got), ENOENT);
	assert_int_equal(svc_live_hangup(s, &f->acct, l.call_uuid), ENOENT);
	assert_int_equal(svc_live_hangup(s, &f->acct, "nope"), ENOENT);
	make_live(&l, &f->acct, 1, "node-a", now, 0);
	assert_int_equal(svc_live_get(s, &f->acct, l.call_uuid, &got), 0);
	assert_true(got.updated_ms >= now);
	assert_false(got.hangup_requested);
	assert_int_equal(svc_live_get(s, &f->other, l.call_uuid, &got), ENOENT);
	assert_int_equal(svc_live_hangup(s, &f->other, l.call_uuid), ENOENT);
	assert_int_equal(svc_live_hangup(s, &f->acct, l.call_uuid), 0);
	assert_int_equal(svc_live_due(s, "node-a", ids, 8, &n), 0);
	assert_string_equal(uuids_str(ids, n), "1");
	/* node-b comes back: its call is live again. */
	assert_int_equal(svc_live_touch(s, "node-b", base_time_now_ms()), 0);
	assert_int_equal(svc_live_list(s, &f->acct, ids, 8, &n), 0);
	assert_string_equal(uuids_str(ids, n), "2,1");
	/* node-b dies: the sweep removes its rows once they are stale. */
	assert_int_equal(svc_live_touch(s, "node-b", now - 40000), 0);
	assert_int_equal(svc_live_sweep(s, now - SVC_LIVE_STALE_MS), 0);
	assert_int_equal(raw_int(f, "SELECT count(*) FROM live_calls"), 1);
	/* The engine ends call 1. */
	assert_int_equal(svc_live_del(s, l.call_uuid), 0);
	assert_int_equal(svc_live_del(s, l.call_uuid), 0);
	assert_int_equal(svc_live_list(s, &f->acct, ids, 8, &n), 0);
	assert_int_equal(n, 0);
	svc_close(s);
}

static struct svc *open_svc(struct fixture *f, const unsigned char *key);

/*
 * The engine's log: live rows and CDRs of many calls in one transaction;
 * a record its check refuses is skipped, one the store refuses (an
 * account gone) costs only itself.
 */
static void test_svc_call_log(void **state)
{
	struct fixture *f = *state;
	struct svc *s = open_svc(f, NULL);
	struct model_cdr c[4], got;
	struct model_live_call l;
	struct model_account gone = f->acct;
	struct svc_call_rec recs[5], end[3];
	int64_t now = base_time_now_ms();

	make_live(&l, &f->acct, 11, "node-a", now, now);
	make_cdr(&c[0], &f->acct, 11, "inbound", "a", "b", 10000);
	make_cdr(&c[1], &f->acct, 12, "sideways", "a", "b", 10000);
	gone.id = 987654;
	make_cdr(&c[2], &gone, 13, "inbound", "a", "b", 10000);
	make_cdr(&c[3], &f->acct, 14, "outbound", "a", "b", 10000);
	recs[0] = (struct svc_call_rec){.kind = SVC_REC_LIVE_PUT, .live = &l};
	for (int i = 0; i < 4; i++)
		recs[i + 1] =
		    (struct svc_call_rec){.kind = SVC_REC_CDR, .cdr = &c[i]};

	assert_int_equal(svc_call_log(s, recs, 5), EINVAL);
	assert_int_equal(recs[0].err, 0);
	assert_int_equal(recs[1].err, 0);
	assert_int_equal(recs[2].err, EINVAL);
	assert_int_equal(recs[3].err, ENOENT);
	assert_int_equal(recs[4].err, 0);
	assert_int_equal(svc_cdr_get(s, &f->acct, c[0].call_uuid, &got), 0);
	assert_int_equal(svc_cdr_get(s, &f->acct, c[3].call_uuid, &got), 0);
	assert_int_equal(raw_int(f, "SELECT count(*) FROM cdrs"), 2);
	assert_int_equal(raw_int(f, "SELECT count(*) FROM live_calls"), 1);

	/* The call ends: its row goes, in the order given, with a CDR. */
	make_cdr(&c[1], &f->acct, 15, "inbound", "a", "b", 10000);
	end[0] = (struct svc_call_rec){.kind = SVC_REC_LIVE_DEL,
				       .call_uuid = l.call_uuid};
	end[1] = (struct svc_call_rec){.kind = SVC_REC_CDR, .cdr = &c[1]};
	/* c[0] again: harmless */
	end[2] = (struct svc_call_rec){.kind = SVC_REC_CDR, .cdr = &c[0]};
	assert_int_equal(svc_call_log(s, end, 3), 0);
	assert_int_equal(raw_int(f, "SELECT count(*) FROM live_calls"), 0);
	assert_int_equal(raw_int(f, "SELECT count(*) FROM cdrs"), 3);
	svc_close(s);
}

/* ---- tokens sealed under the server key (svc/account.c) ---- */

static const unsigned char key_a[BASE_KEY_LEN] = {
    0x11, 0x22, 0x33, 0x44, 0x55, 0x66, 0x77, 0x88, 0x99, 0xaa, 0xbb,
    0xcc, 0xdd, 0xee, 0xff, 0x00, 0x01, 0x02, 0x03, 0x04, 0x05, 0x06,
    0x07, 0x08, 0x09, 0x0a, 0x0b, 0x0c, 0x0d, 0x0e, 0x0f, 0x10};

/* A service on the fixture's database, with key (or none). */
static struct svc *open_svc(struct fixture *f, const unsigned char *key)
{
	struct svc *s = NULL;

	assert_int_equal(svc_open(&s, ops, f->url), 0);
	if (key)
		assert_int_equal(svc_key_set(s, key, BASE_KEY_LEN), 0);
	return s;
}

/* The account's stored columns: no token in clear, a v1 ciphertext. */
static void check_stored(struct fixture *f, const char *auth_id,
			 const char *token, bool sealed)
{
	char q[256];

	snprintf(q, sizeof(q),
		 "SELECT count(*) FROM accounts WHERE token_sha256 LIKE "
		 "'%%%s%%' OR token_enc LIKE '%%%s%%' OR name LIKE '%%%s%%'",
		 token, token, token);
	assert_int_equal(raw_int(f, q), 0);
	snprintf(q, sizeof(q),
		 "SELECT count(*) FROM accounts WHERE auth_id = '%s' AND "
		 "token_enc LIKE 'v1:%%' AND length(token_enc) = %d",
		 auth_id, 3 + 2 * (12 + 40 + 16));
	assert_int_equal(raw_int(f, q), sealed ? 1 : 0);
}

static void test_signing_token(void **state)
{
	struct fixture *f = *state;
	struct model_account a, b, got, r;
	char tok[64], tok_b[64], old[64], out[64];
	struct svc *s = open_svc(f, key_a);

	assert_true(svc_key_present(s));
	/* Nothing sealed yet: any key passes the check. */
	assert_int_equal(svc_key_check(s), 0);
	assert_int_equal(svc_account_create(s, "a", "sign.example.com", &a, tok,
					    sizeof(tok)),
			 0);
	assert_int_equal(svc_account_create(s, "b", "sign.example.com", &b,
					    tok_b, sizeof(tok_b)),
			 0);
	check_stored(f, a.auth_id, tok, true);
	/* The token comes back in clear, for signing. */
	memset(out, 'x', sizeof(out));
	assert_int_equal(svc_account_signing_token(s, a.id, out, sizeof(out)),
			 0);
	assert_string_equal(out, tok);
	assert_int_equal(svc_account_signing_token(s, b.id, out, sizeof(out)),
			 0);
	assert_string_equal(out, tok_b);
	assert_int_equal(svc_key_check(s), 0);
	/* Too small a buffer; an unknown account. */
	assert_int_equal(svc_account_signing_token(s, a.id, out, 40), ERANGE);
	assert_int_equal(
	    svc_account_signing_token(s, a.id + 1000, out, sizeof(out)),
	    ENOENT);
	/* Logins check the hash, as before. */
	assert_int_equal(svc_account_auth(s, a.auth_id, tok, &got), 0);
	assert_int_equal(got.id, a.id);
	assert_int_equal(svc_account_auth(s, a.auth_id, tok_b, &got), EACCES);

	/* Rotation: a new token logs in and signs, the old one fails. */
	snprintf(old, sizeof(old), "%s", tok);
	assert_int_equal(
	    svc_account_rotate_token(s, a.auth_id, &r, tok, sizeof(tok)), 0);
	assert_string_equal(r.auth_id, a.auth_id);
	assert_int_equal(r.id, a.id);
	assert_string_equal(r.domain, a.domain);
	assert_int_equal(strlen(tok), 40);
	assert_string_not_equal(tok, old);
	assert_int_equal(svc_account_auth(s, a.auth_id, old, &got), EACCES);
	assert_int_equal(svc_account_auth(s, a.auth_id, tok, &got), 0);
	assert_int_equal(svc_account_signing_token(s, a.id, out, sizeof(out)),
			 0);
	assert_string_equal(out, tok);
	check_stored(f, a.auth_id, tok, true);
	/* The other account is untouched. */
	assert_int_equal(svc_account_auth(s, b.auth_id, tok_b, &got), 0);
	assert_int_equal(
	    svc_account_rotate_token(s, "MA_NOSUCH00", &r, out, sizeof(out)),
	    ENOENT);
	assert_int_equal(svc_account_rotate_token(s, a.auth_id, &r, out, 40),
			 EINVAL);
	svc_close(s);
}

/* A ciphertext moved to another account does not open there. */
static void test_signing_token_bound_to_account(void **state)
{
	struct fixture *f = *state;
	struct model_account a, b;
	char tok[64], tok_b[64], out[64], q[200];
	struct svc *s = open_svc(f, key_a);

	assert_int_equal(svc_account_create(s, "a", "bind.example.com", &a, tok,
					    sizeof(tok)),
			 0);
	assert_int_equal(svc_account_create(s, "b", "bind.example.com", &b,
					    tok_b, sizeof(tok_b)),
			 0);
	snprintf(q, sizeof(q),
		 "UPDATE accounts SET token_enc = (SELECT token_enc FROM "
		 "accounts WHERE auth_id = '%s') WHERE auth_id = '%s'",
		 a.auth_id, b.auth_id);
	raw_sql(f, q);
	memset(out, 'x', sizeof(out));
	assert_int_equal(svc_account_signing_token(s, b.id, out, sizeof(out)),
			 EBADMSG);
	assert_null(memchr(out, '\0', sizeof(out))); /* out untouched */
	assert_int_equal(svc_account_signing_token(s, a.id, out, sizeof(out)),
			 0);
	assert_string_equal(out, tok);
	/* A damaged or unknown format is refused the same way. */
	snprintf(q, sizeof(q),
		 "UPDATE accounts SET token_enc = 'v2:00' WHERE auth_id = '%s'",
		 b.auth_id);
	raw_sql(f, q);
	assert_int_equal(svc_account_signing_token(s, b.id, out, sizeof(out)),
			 EBADMSG);
	snprintf(q, sizeof(q),
		 "UPDATE accounts SET token_enc = 'v1:zz' WHERE auth_id = '%s'",
		 b.auth_id);
	raw_sql(f, q);
	assert_int_equal(svc_account_signing_token(s, b.id, out, sizeof(out)),
			 EBADMSG);
	svc_close(s);
}

/* Another server key: EBADMSG, and the start-up check says so. */
static void test_signing_token_wrong_key(void **state)
{
	struct fixture *f = *state;
	unsigned char key_b[BASE_KEY_LEN];
	struct model_account a, got, r;
	char tok[64], out[64];
	struct svc *s = open_svc(f, key_a), *s2;

	assert_int_equal(
	    svc_account_create(s, "a", "key.example.com", &a, tok, sizeof(tok)),
	    0);
	memcpy(key_b, key_a, sizeof(key_b));
	key_b[31] ^= 1;
	s2 = open_svc(f, key_b);
	assert_int_equal(svc_key_check(s2), EBADMSG);
	assert_int_equal(svc_account_signing_token(s2, a.id, out, sizeof(out)),
			 EBADMSG);
	/* Logins do not need the key. */
	assert_int_equal(svc_account_auth(s2, a.auth_id, tok, &got), 0);
	/* Rotating under the new key seals with it. */
	assert_int_equal(
	    svc_account_rotate_token(s2, a.auth_id, &r, tok, sizeof(tok)), 0);
	assert_int_equal(svc_account_signing_token(s2, a.id, out, sizeof(out)),
			 0);
	assert_string_equal(out, tok);
	assert_int_equal(svc_key_check(s2), 0);
	assert_int_equal(svc_account_signing_token(s, a.id, out, sizeof(out)),
			 EBADMSG);
	svc_close(s2);
	svc_close(s);
}

/*
 * No key (PostgreSQL without secret_key or key_file), or an account whose
 * token predates schema 5: ENOKEY, until a rotation with a key seals one.
 */
static void test_signing_token_no_key(void **state)
{
	struct fixture *f = *state;
	struct model_account a, b, got, r;
	char tok[64], tok_b[64], out[64], q[200];
	struct svc *s = open_svc(f, NULL), *sk;

	assert_false(svc_key_present(s));
	assert_int_equal(svc_key_check(s), ENOKEY);
	assert_int_equal(svc_account_create(s, "a", "nokey.example.com", &a,
					    tok, sizeof(tok)),
			 0);
	check_stored(f, a.auth_id, tok, false);
	assert_int_equal(svc_account_auth(s, a.auth_id, tok, &got), 0);
	assert_int_equal(svc_account_signing_token(s, a.id, out, sizeof(out)),
			 ENOKEY);
	/* With a key now, the old account still has no ciphertext. */
	sk = open_svc(f, key_a);
	assert_int_equal(svc_account_signing_token(sk, a.id, out, sizeof(out)),
			 ENOKEY);
	/* A sealed account whose column is cleared (made before 5). */
	assert_int_equal(svc_account_create(sk, "b", "nokey.example.com", &b,
					    tok_b, sizeof(tok_b)),
			 0);
	snprintf(q, sizeof(q),
		 "UPDATE accounts SET token_enc = '' WHERE auth_id = '%s'",
		 b.auth_id);
	raw_sql(f, q);
	assert_int_equal(svc_account_signing_token(sk, b.id, out, sizeof(out)),
			 ENOKEY);
	assert_int_equal(svc_account_auth(sk, b.auth_id, tok_b, &got), 0);
	/* rotate-token fixes both. */
	assert_int_equal(
	    svc_account_rotate_token(sk, a.auth_id, &r, tok, sizeof(tok)), 0);
	assert_int_equal(svc_account_signing_token(sk, a.id, out, sizeof(out)),
			 0);
	assert_string_equal(out, tok);
	check_stored(f, a.auth_id, tok, true);
	assert_int_equal(
	    svc_account_rotate_token(sk, b.auth_id, &r, tok_b, sizeof(tok_b)),
	    0);
	assert_int_equal(svc_account_signing_token(sk, b.id, out, sizeof(out)),
			 0);
	assert_string_equal(out, tok_b);
	/* Rotating without a key: a working login, nothing sealed. */
	assert_int_equal(
	    svc_account_rotate_token(s, a.auth_id, &r, tok, sizeof(tok)), 0);
	assert_int_equal(svc_account_auth(s, a.auth_id, tok, &got), 0);
	check_stored(f, a.auth_id, tok, false);
	assert_int_equal(svc_account_signing_token(sk, a.id, out, sizeof(out)),
			 ENOKEY);
	assert_int_equal(svc_key_set(sk, key_a, 16), EINVAL);
	svc_close(sk);
	svc_close(s);
}

/* ---- transactions ---- */

static void test_txn(void **state)
{
	struct fixture *f = *state;
	struct model_endpoint got;

	assert_int_equal(ops->begin(f->st, true), 0);
	insert_ep(f, "100000000000001", "t1", "t1", 0);
	ops->rollback(f->st);
	assert_int_equal(
	    ops->endpoint_get(f->st, f->acct.id, "100000000000001", &got),
	    ENOENT);

	assert_int_equal(ops->begin(f->st, true), 0);
	insert_ep(f, "100000000000002", "t2", "t2", 0);
	assert_int_equal(ops->commit(f->st), 0);
	assert_int_equal(raw_int(f, "SELECT count(*) FROM endpoints"
				    " WHERE username = 't2'"),
			 1);
	/* Rollback outside a transaction is harmless. */
	ops->rollback(f->st);
	assert_int_equal(ops->begin(f->st, false), 0);
	assert_int_equal(
	    ops->endpoint_get(f->st, f->acct.id, "100000000000002", &got), 0);
	assert_int_equal(ops->commit(f->st), 0);
}

/* ---- online backup ---- */

/* Removes a backup made in f's directory, with what SQLite left beside. */
static void backup_remove(const char *path)
{
	static const char *const sfx[] = {"",	  ".tmp", "-journal",
					  "-wal", "-shm", ".tmp-journal"};
	char p[256];

	for (unsigned i = 0; i < sizeof(sfx) / sizeof(sfx[0]); i++) {
		snprintf(p, sizeof(p), "%s%s", path, sfx[i]);
		unlink(p);
	}
}

static void test_backup(void **state)
{
	struct fixture *f = *state;
	struct store_backup_stats bs = {0};
	struct model_account a;
	struct model_endpoint got;
	struct store *st2 = NULL;
	char to[200], url[220], why[512], tmp[220];
	unsigned char head[20];
	struct stat sb;
	int64_t n = -1;
	FILE *fp;

	if (on_pg) {
		/* PostgreSQL has pg_dump. */
		assert_null(ops->backup);
		return;
	}
	snprintf(to, sizeof(to), "%s/backup.db", f->dir);
	snprintf(url, sizeof(url), "sqlite:%s", to);
	snprintf(tmp, sizeof(tmp), "%s.tmp", to);
	insert_ep(f, "100000000000009", "bk", "bk", 0);
	/* A write in progress on the source is not in the copy. */
	assert_int_equal(ops->begin(f->st, STORE_TXN_WRITE), 0);
	account(&a, "MA_CCCCCCCC", "c.example.com");
	assert_int_equal(ops->account_insert(f->st, &a), 0);
	assert_int_equal(
	    ops->backup(f->url, to, false, 1000, &bs, why, sizeof(why)), 0);
	assert_int_equal(ops->commit(f->st), 0);
	assert_true(bs.pages > 0);
	assert_int_equal(stat(to, &sb), 0);
	assert_int_equal(bs.bytes, sb.st_size);
	assert_int_equal(sb.st_mode & 0777, 0600);
	assert_int_equal(stat(tmp, &sb), -1);
	/* A rollback-journal database: bytes 18 and 19 of the header. */
	fp = fopen(to, "rb");
	assert_non_null(fp);
	assert_int_equal(fread(head, 1, sizeof(head), fp), sizeof(head));
	fclose(fp);
	assert_int_equal(head[18], 1);
	assert_int_equal(head[19], 1);
	assert_int_equal(ops->open(url, &st2), 0);
	assert_int_equal(ops->migrate(st2), 0);
	assert_int_equal(ops->account_count(st2, &n), 0);
	assert_int_equal(n, 2);
	assert_int_equal(
	    ops->endpoint_get(st2, f->acct.id, "100000000000009", &got), 0);
	assert_string_equal(got.username, "bk");
	ops->close(st2);

	/* Never over an existing file, unless replace. */
	assert_int_equal(
	    ops->backup(f->url, to, false, 1000, &bs, why, sizeof(why)),
	    EEXIST);
	assert_int_equal(stat(tmp, &sb), -1);
	backup_remove(to); /* what the server left beside it */
	fp = fopen(to, "w");
	assert_non_null(fp);
	fclose(fp);
	assert_int_equal(
	    ops->backup(f->url, to, true, 1000, &bs, why, sizeof(why)), 0);
	assert_int_equal(raw_int(f, "SELECT count(*) FROM accounts"), 3);
	snprintf(url, sizeof(url), "sqlite:%s", to);
	assert_int_equal(ops->open(url, &st2), 0);
	assert_int_equal(ops->account_count(st2, &n), 0);
	assert_int_equal(n, 3);
	ops->close(st2);

	/* Never over the database itself, even with replace. */
	assert_int_equal(
	    ops->backup(f->url, f->path, true, 1000, &bs, why, sizeof(why)),
	    EINVAL);
	assert_int_equal(raw_int(f, "SELECT count(*) FROM accounts"), 3);
	backup_remove(to);
}

static void test_backup_errors(void **state)
{
	struct fixture *f = *state;
	struct store_backup_stats bs = {0};
	char from[200], url[220], to[200], why[512];
	sqlite3 *db;
	struct stat sb;
	int64_t t0;

	if (on_pg)
		skip();
	snprintf(from, sizeof(from), "%s/first.db", f->dir);
	snprintf(to, sizeof(to), "%s/second.db", f->dir);
	/* No database there: ENOENT, nothing written. */
	snprintf(url, sizeof(url), "sqlite:%s/none.db", f->dir);
	assert_int_equal(
	    ops->backup(url, to, false, 1000, &bs, why, sizeof(why)), ENOENT);
	assert_non_null(strstr(why, "none.db"));
	assert_int_equal(stat(to, &sb), -1);
	snprintf(url, sizeof(url), "%s.tmp", to);
	assert_int_equal(stat(url, &sb), -1);
	/* A database that is not sipward's. */
	assert_int_equal(sqlite3_open(from, &db), SQLITE_OK);
	assert_int_equal(
	    sqlite3_exec(db, "CREATE TABLE t(x)", NULL, NULL, NULL), SQLITE_OK);
	sqlite3_close(db);
	snprintf(url, sizeof(url), "sqlite:%s", from);
	assert_int_equal(
	    ops->backup(url, to, false, 1000, &bs, why, sizeof(why)), EBADMSG);
	assert_int_equal(stat(to, &sb), -1);
	backup_remove(from);

	/*
	 * A locked database (a rollback-journal one, as a backup is:
	 * readers wait for an exclusive lock there) is waited for busy_ms
	 * in all, then EBUSY, nothing written.
	 */
	assert_int_equal(
	    ops->backup(f->url, from, false, 1000, &bs, why, sizeof(why)), 0);
	assert_int_equal(sqlite3_open(from, &db), SQLITE_OK);
	assert_int_equal(sqlite3_exec(db, "BEGIN EXCLUSIVE", NULL, NULL, NULL),
			 SQLITE_OK);
	t0 = base_time_mono_ms();
	assert_int_equal(
	    ops->backup(url, to, false, 300, &bs, why, sizeof(why)), EBUSY);
	assert_true(base_time_mono_ms() - t0 >= 300);
	assert_int_equal(stat(to, &sb), -1);
	snprintf(url, sizeof(url), "%s.tmp", to);
	assert_int_equal(stat(url, &sb), -1);
	sqlite3_exec(db, "ROLLBACK", NULL, NULL, NULL);
	sqlite3_close(db);
	snprintf(url, sizeof(url), "sqlite:%s", from);
	assert_int_equal(
	    ops->backup(url, to, false, 1000, &bs, why, sizeof(why)), 0);
	backup_remove(from);
	backup_remove(to);
}

/* A transaction that conflicts (EBUSY) its first `busy` times. */
struct conflicting {
	int busy, calls;
};

static int conflict_fn(struct store *st, void *arg)
{
	struct conflicting *c = arg;

	(void)st;
	return ++c->calls <= c->busy ? EBUSY : 0;
}

/* Queued (svc_group_submit) jobs of one test, and what they heard. */
struct queued {
	pthread_mutex_t mu;
	pthread_cond_t cv;
	bool blocking, released;
	int ran[3], err[3], done;
};

struct queued_job {
	struct queued *q;
	int i;
};

static int queued_fn(struct store *st, void *arg)
{
	struct queued_job *j = arg;
	struct queued *q = j->q;

	(void)st;
	pthread_mutex_lock(&q->mu);
	q->ran[j->i]++;
	if (j->i == 0) { /* holds the writer until the others are queued */
		q->blocking = true;
		pthread_cond_broadcast(&q->cv);
		while (!q->released)
			pthread_cond_wait(&q->cv, &q->mu);
	}
	pthread_mutex_unlock(&q->mu);
	return 0;
}

static void queued_done(void *arg, int err)
{
	struct queued_job *j = arg;
	struct queued *q = j->q;

	pthread_mutex_lock(&q->mu);
	q->err[j->i] = err;
	q->done++;
	pthread_cond_broadcast(&q->cv);
	pthread_mutex_unlock(&q->mu);
}

/*
 * A queued job still waiting at its deadline is not run and hears
 * ETIMEDOUT; the others of its group run and commit all the same (a
 * REGISTER that waited too long must not fail the fresh ones beside it).
 */
static void test_group_queued_deadline(void **state)
{
	struct fixture *f = *state;
	struct svc_group *g = NULL;
	struct queued q = {.done = 0};
	struct queued_job jobs[3] = {{&q, 0}, {&q, 1}, {&q, 2}};

	if (on_pg)
		skip(); /* the writer thread is SQLite's */
	pthread_mutex_init(&q.mu, NULL);
	pthread_cond_init(&q.cv, NULL);
	assert_int_equal(svc_group_start(&g, ops, f->url, false), 0);
	assert_int_equal(
	    svc_group_submit(g, queued_fn, &jobs[0], queued_done, 0, 16), 0);
	pthread_mutex_lock(&q.mu);
	while (!q.blocking)
		pthread_cond_wait(&q.cv, &q.mu);
	pthread_mutex_unlock(&q.mu);
	/* Both wait behind job 0, so they share the next group. */
	assert_int_equal(svc_group_submit(g, queued_fn, &jobs[1], queued_done,
					  base_time_mono_ms() - 1, 16),
			 0);
	assert_int_equal(
	    svc_group_submit(g, queued_fn, &jobs[2], queued_done, 0, 16), 0);
	/* A full queue refuses at once. */
	assert_int_equal(
	    svc_group_submit(g, queued_fn, &jobs[2], queued_done, 0, 2),
	    EAGAIN);
	pthread_mutex_lock(&q.mu);
	q.released = true;
	pthread_cond_broadcast(&q.cv);
	while (q.done < 3)
		pthread_cond_wait(&q.cv, &q.mu);
	pthread_mutex_unlock(&q.mu);
	svc_group_stop(g);
	assert_int_equal(q.err[0], 0);
	assert_int_equal(q.err[1], ETIMEDOUT);
	assert_int_equal(q.ran[1], 0);
	assert_int_equal(q.err[2], 0);
	assert_int_equal(q.ran[2], 1);
	pthread_cond_destroy(&q.cv);
	pthread_mutex_destroy(&q.mu);
}

/*
 * svc's checkpointer copies a durable write into the database file itself
 * soon after its commit (a commit checkpoints only past 64 MiB of log):
 * the file opened immutable, which ignores the log, shows the account.
 */
static void test_checkpointer(void **state)
{
	struct fixture *f = *state;
	struct svc *s;
	struct model_account a;
	char tok[128], uri[600];
	int64_t until;
	int n = 0;

	if (on_pg)
		skip(); /* PostgreSQL checkpoints itself */
	s = open_svc(f, NULL);
	assert_int_equal(svc_account_create(s, "ckpt", "ckpt.example.com", &a,
					    tok, sizeof(tok)),
			 0);
	snprintf(uri, sizeof(uri), "file:%s?immutable=1", f->url + 7);
	until = base_time_mono_ms() + 20000;
	while (n != 1 && base_time_mono_ms() < until) {
		sqlite3 *db = NULL;
		sqlite3_stmt *q = NULL;
		struct timespec ms = {0, 20000000};

		if (sqlite3_open_v2(uri, &db,
				    SQLITE_OPEN_READONLY | SQLITE_OPEN_URI,
				    NULL) == SQLITE_OK &&
		    sqlite3_prepare_v2(db,
				       "SELECT count(*) FROM accounts"
				       " WHERE auth_id = ?1",
				       -1, &q, NULL) == SQLITE_OK) {
			sqlite3_bind_text(q, 1, a.auth_id, -1, SQLITE_STATIC);
			if (sqlite3_step(q) == SQLITE_ROW)
				n = sqlite3_column_int(q, 0);
		}
		sqlite3_finalize(q);
		sqlite3_close(db);
		if (n != 1)
			nanosleep(&ms, NULL);
	}
	if (n != 1)
		fail_msg("the account never reached the database file: %d", n);
	svc_close(s);
}

/*
 * A conflicting transaction is retried for as long as its caller's
 * deadline allows (not a fixed count), a fixed number of times without a
 * deadline, and never past the deadline. (On the caller's connection: with
 * SQLite, writes go through the group commits, which retry a group.)
 */
static void test_txn_retries(void **state)
{
	struct fixture *f = *state;
	struct svc *s = open_svc(f, NULL);
	struct conflicting c = {60, 0};

	base_deadline_set(base_time_mono_ms() + 60000);
	assert_int_equal(svc_txn_run(s, SVC_TXN_READ, conflict_fn, &c), 0);
	assert_int_equal(c.calls, 61);

	base_deadline_set(0);
	c = (struct conflicting){60, 0};
	assert_int_equal(svc_txn_run(s, SVC_TXN_READ, conflict_fn, &c), EBUSY);
	assert_true(c.calls > 1 && c.calls < 60);

	base_deadline_set(base_time_mono_ms() - 1);
	c = (struct conflicting){0, 0};
	assert_int_equal(svc_txn_run(s, SVC_TXN_READ, conflict_fn, &c),
			 ETIMEDOUT);
	assert_int_equal(c.calls, 0);
	base_deadline_set(0);
	svc_close(s);
}

/* ---- the statement table ---- */

/*
 * Every statement of sql_stmt.h prepares on this backend, used by an
 * operation or not yet, and its only '?' are ?N placeholders.
 */
static void test_every_statement(void **state)
{
	struct fixture *f = *state;
	struct sql_q *q = NULL;

	for (int id = 0; id < SQL_COUNT; id++) {
		const char *sql = sql_text(ops->drv->dialect, (enum sql_id)id);

		assert_non_null(sql_name((enum sql_id)id));
		for (const char *c = strchr(sql, '?'); c;
		     c = strchr(c + 1, '?'))
			assert_in_range(c[1], '1', '9');
		if (ops->drv->get(f->st, (enum sql_id)id, &q) != 0)
			fail_msg("statement %s does not prepare: %s",
				 sql_name((enum sql_id)id), sql);
		ops->drv->reset(q);
	}
}

/* ---- failures ---- */

static int count_account(void *ctx, const struct model_account *a)
{
	(void)a;
	(*(int *)ctx)++;
	return 0;
}

/*
 * Fills the stack below the caller with garbage, so that a variable read
 * before it is written (as pg.c's account_list once did when its query
 * failed) holds garbage, not a lucky NULL.
 */
static void __attribute__((noinline)) dirty_stack(void)
{
	volatile unsigned char junk[8192];

	for (size_t i = 0; i < sizeof(junk); i++)
		junk[i] = 0xa5;
}

/*
 * A query that fails (here: its table is gone) returns EIO, calls no
 * callback and leaves every output as it was. The db copy command lists
 * the accounts of a source store this way.
 */
static void test_failure_outputs_untouched(void **state)
{
	struct fixture *f = *state;
	struct store_endpoint_filter flt = {0};
	struct model_account a, a0;
	struct model_app app, app0;
	int64_t n = -7, total = -7;
	int calls = 0;

	flt.app_isnull = -1;
	flt.registered = -1;
	raw_sql(f, "ALTER TABLE accounts RENAME TO accounts_gone");
	raw_sql(f, "ALTER TABLE applications RENAME TO applications_gone");
	raw_sql(f, "ALTER TABLE endpoints RENAME TO endpoints_gone");
	dirty_stack();
	assert_int_equal(ops->account_list(f->st, count_account, &calls), EIO);
	assert_int_equal(calls, 0);
	memset(&a, 0x5a, sizeof(a));
	a0 = a;
	assert_int_equal(ops->account_get(f->st, "MA_AAAAAAAA", &a), EIO);
	assert_memory_equal(&a, &a0, sizeof(a));
	assert_int_equal(ops->account_count(f->st, &n), EIO);
	assert_int_equal(n, -7);
	memset(&app, 0x5a, sizeof(app));
	app0 = app;
	assert_int_equal(ops->app_get_default(f->st, f->acct.id, &app), EIO);
	assert_memory_equal(&app, &app0, sizeof(app));
	assert_int_equal(
	    ops->app_list(f->st, f->acct.id, 10, 0, NULL, NULL, &total), EIO);
	assert_int_equal(total, -7);
	assert_int_equal(ops->endpoint_list(f->st, f->acct.id, &flt, 10, 0,
					    NULL, NULL, &total),
			 EIO);
	assert_int_equal(total, -7);
	assert_int_equal(ops->app_endpoint_count(f->st, 1, &n), EIO);
	assert_int_equal(n, -7);
	assert_int_equal(ops->binding_sweep(f->st, 0, 10, &n), 0);
	/* The connection still works. */
	raw_sql(f, "ALTER TABLE accounts_gone RENAME TO accounts");
	assert_int_equal(ops->account_list(f->st, count_account, &calls), 0);
	assert_int_equal(calls, 2);
}

/* A failed query of calls returns EIO and leaves its outputs alone. */
static void test_calls_failure_outputs_untouched(void **state)
{
	struct fixture *f = *state;
	struct store_cdr_filter flt = {0};
	struct model_cdr c, c0;
	struct model_live_call l, l0;
	char ids[2][MODEL_UUID_MAX];
	int64_t total = -7;
	unsigned n = 7;

	flt.hangup_cause_code = -1;
	flt.end_max = INT64_MAX;
	raw_sql(f, "ALTER TABLE cdrs RENAME TO cdrs_gone");
	raw_sql(f, "ALTER TABLE live_calls RENAME TO live_calls_gone");
	dirty_stack();
	memset(&c, 0x5a, sizeof(c));
	c0 = c;
	assert_int_equal(ops->cdr_get(f->st, f->acct.id,
				      "00000000-0000-4000-8000-000000000001",
				      &c),
			 EIO);
	assert_memory_equal(&c, &c0, sizeof(c));
	assert_int_equal(
	    ops->cdr_list(f->st, f->acct.id, &flt, 10, 0, NULL, NULL, &total),
	    EIO);
	assert_int_equal(total, -7);
	flt.from_number = "x";
	assert_int_equal(
	    ops->cdr_list(f->st, f->acct.id, &flt, 10, 0, NULL, NULL, &total),
	    EIO);
	assert_int_equal(total, -7);
	memset(&l, 0x5a, sizeof(l));
	l0 = l;
	assert_int_equal(ops->live_get(f->st, f->acct.id,
				       "00000000-0000-4000-8000-000000000001",
				       0, &l),
			 EIO);
	assert_memory_equal(&l, &l0, sizeof(l));
	assert_int_equal(ops->live_list(f->st, f->acct.id, 0, ids, 2, &n), EIO);
	assert_int_equal(ops->live_due(f->st, "node", ids, 2, &n), EIO);
	assert_int_equal(n, 7);
}

static void skipped(void **state)
{
	(void)state;
	skip();
}

/* Reads the PostgreSQL base URL; false when none is configured. */
static bool pg_configure(void)
{
	const char *file = getenv("SIPWARD_TEST_PG_URL_FILE");
	const char *url = getenv("SIPWARD_TEST_PG");
	FILE *fp;

	if (file && *file) {
		fp = fopen(file, "r");
		if (!fp || !fgets(pg_base, sizeof(pg_base), fp)) {
			fprintf(stderr, "%s: cannot read\n", file);
			exit(1);
		}
		fclose(fp);
		pg_base[strcspn(pg_base, "\r\n")] = '\0';
	} else if (url && *url) {
		snprintf(pg_base, sizeof(pg_base), "%s", url);
	}
	return pg_base[0] != '\0';
}

int main(int argc, char **argv)
{
#define T(fn) cmocka_unit_test_setup_teardown(fn, setup, teardown)
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_open_bad_url),
	    T(test_file_private),
	    T(test_migrate_idempotent),
	    T(test_migrate_refuses_newer),
	    cmocka_unit_test(test_migrate_from_3),
	    T(test_account),
	    T(test_account_token),
	    T(test_endpoint_unique_user_domain),
	    T(test_endpoint_get),
	    T(test_endpoint_update_delete),
	    T(test_endpoint_list_filters),
	    T(test_endpoint_list_paging),
	    T(test_endpoint_list_cb_error),
	    T(test_app),
	    T(test_app_list),
	    T(test_bindings),
	    T(test_cdr_insert_get),
	    T(test_cdr_list),
	    T(test_cdr_sweep),
	    T(test_live_calls),
	    T(test_svc_calls),
	    T(test_svc_call_log),
	    T(test_calls_failure_outputs_untouched),
	    T(test_signing_token),
	    T(test_signing_token_bound_to_account),
	    T(test_signing_token_wrong_key),
	    T(test_signing_token_no_key),
	    T(test_txn),
	    T(test_txn_retries),
	    T(test_group_queued_deadline),
	    T(test_checkpointer),
	    T(test_failure_outputs_untouched),
	    T(test_every_statement),
	    T(test_backup),
	    T(test_backup_errors),
	};
	const struct CMUnitTest none[] = {
	    cmocka_unit_test(skipped),
	};

	if (argc > 1 && strcmp(argv[1], "pg") == 0) {
		if (!pg_configure()) {
			fprintf(stderr, "test_store pg: no PostgreSQL (set "
					"SIPWARD_TEST_PG_URL_FILE): skipped\n");
			return cmocka_run_group_tests_name("store_pg", none,
							   NULL, NULL);
		}
		on_pg = true;
		ops = &store_pg_ops;
		return cmocka_run_group_tests_name("store_pg", tests, NULL,
						   NULL);
	}
	return cmocka_run_group_tests_name("store_sqlite", tests, NULL, NULL);
}
