/*
 * sqlite.c - the embedded store's driver: one connection per thread, WAL
 * with synchronous=FULL (a commit is on disk before it returns), prepared
 * statements cached per connection, migrations in schema_version. The
 * statements and entity operations are sql.c's.
 */
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include <sqlite3.h>

#include "base/log.h"
#include "base/time.h"
#include "store/sql.h"

/* Transaction control, which is SQLite's own. */
enum ctl_id {
	C_BEGIN_R,
	C_BEGIN_W,
	C_COMMIT,
	C_ROLLBACK,
	C_SYNC_FULL,
	C_SYNC_NORMAL,
	C_SP_SET,
	C_SP_RELEASE,
	C_SP_ROLLBACK,
	C_COUNT
};

static const char *const ctl_sql[C_COUNT] = {
    [C_BEGIN_R] = "BEGIN",
    [C_BEGIN_W] = "BEGIN IMMEDIATE",
    [C_COMMIT] = "COMMIT",
    [C_ROLLBACK] = "ROLLBACK",
    [C_SYNC_FULL] = "PRAGMA synchronous=FULL",
    [C_SYNC_NORMAL] = "PRAGMA synchronous=NORMAL",
    [C_SP_SET] = "SAVEPOINT job",
    [C_SP_RELEASE] = "RELEASE job",
    [C_SP_ROLLBACK] = "ROLLBACK TO job",
};

/* A statement of sql.c's table on one connection. */
struct sql_q {
	struct sq *s;
	sqlite3_stmt *stmt;
	enum sql_id id;
};

struct sq {
	struct store base;
	sqlite3 *db;
	struct sql_q q[SQL_COUNT];
	sqlite3_stmt *ctl[C_COUNT];
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

/* Prepares sql into *slot once, for the life of the connection. */
static int prepare(struct sq *s, sqlite3_stmt **slot, const char *sql)
{
	int rc;

	if (*slot)
		return 0;
	rc = sqlite3_prepare_v3(s->db, sql, -1, SQLITE_PREPARE_PERSISTENT, slot,
				NULL);
	if (rc != SQLITE_OK) {
		map_rc(s, rc, "prepare");
		return EIO;
	}
	return 0;
}

/* Runs transaction control statement id. */
static int ctl(struct sq *s, enum ctl_id id, const char *what)
{
	int err = prepare(s, &s->ctl[id], ctl_sql[id]);

	if (!err) {
		err = map_rc(s, sqlite3_step(s->ctl[id]), what);
		sqlite3_reset(s->ctl[id]);
	}
	return err;
}

static int sq_get(struct store *st, enum sql_id id, struct sql_q **out)
{
	struct sq *s = sq_of(st);
	struct sql_q *q = &s->q[id];
	int err = prepare(s, &q->stmt, sql_text(SQL_SQLITE, id));

	if (err)
		return err;
	sqlite3_reset(q->stmt);
	sqlite3_clear_bindings(q->stmt);
	*out = q;
	return 0;
}

static void sq_bind_int(struct sql_q *q, int i, int64_t v)
{
	sqlite3_bind_int64(q->stmt, i, v);
}

static void sq_bind_text(struct sql_q *q, int i, const char *v)
{
	sqlite3_bind_text(q->stmt, i, v, -1, SQLITE_STATIC);
}

static void sq_bind_null(struct sql_q *q, int i)
{
	sqlite3_bind_null(q->stmt, i);
}

static int sq_step(struct sql_q *q)
{
	int rc = sqlite3_step(q->stmt);

	return rc == SQLITE_ROW ? SQL_ROW : map_rc(q->s, rc, sql_name(q->id));
}

static int64_t sq_col_int(struct sql_q *q, int col)
{
	return sqlite3_column_int64(q->stmt, col);
}

static void sq_col_text(struct sql_q *q, int col, char *out, size_t cap)
{
	const unsigned char *t = sqlite3_column_text(q->stmt, col);
	size_t n = t ? (size_t)sqlite3_column_bytes(q->stmt, col) : 0;

	if (n >= cap)
		n = cap - 1; /* never: columns are validated on the way in */
	if (n)
		memcpy(out, t, n);
	out[n] = '\0';
}

static int64_t sq_changes(struct sql_q *q)
{
	return sqlite3_changes(q->s->db);
}

static void sq_reset(struct sql_q *q)
{
	sqlite3_reset(q->stmt);
}

static const struct sql_drv sq_drv = {
    .dialect = SQL_SQLITE,
    .get = sq_get,
    .bind_int = sq_bind_int,
    .bind_text = sq_bind_text,
    .bind_null = sq_bind_null,
    .step = sq_step,
    .col_int = sq_col_int,
    .col_text = sq_col_text,
    .changes = sq_changes,
    .reset = sq_reset,
};

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

/*
 * Before SQLite's first use: no memory statistics (sqlite3_status), which
 * otherwise take one process-wide mutex on every allocation of every
 * connection (the HTTP loops' reads queued on it).
 */
static void sq_configure(void)
{
	if (sqlite3_config(SQLITE_CONFIG_MEMSTATUS, 0) != SQLITE_OK)
		LOG_DEBUG("store_config", "backend=sqlite what=memstatus");
}

static pthread_once_t sq_once = PTHREAD_ONCE_INIT;

static int sq_open(const char *url, struct store **out)
{
	static const char pragmas[] = "PRAGMA journal_mode=WAL;"
				      "PRAGMA synchronous=FULL;"
				      "PRAGMA foreign_keys=ON;"
				      "PRAGMA cache_size=-1024;"
				      /* svc's checkpointer keeps the log
				       * short; a commit checkpoints only
				       * past 64 MiB of it */
				      "PRAGMA wal_autocheckpoint=16384;";
	const char *path;
	struct sq *s;
	int fd, rc, err = 0;

	if (strncmp(url, "sqlite:", 7) != 0 || url[7] == '\0')
		return EINVAL;
	path = url + 7;
	pthread_once(&sq_once, sq_configure);
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
	for (int i = 0; i < SQL_COUNT; i++) {
		s->q[i].s = s;
		s->q[i].id = (enum sql_id)i;
	}
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
	for (int i = 0; i < SQL_COUNT; i++)
		sqlite3_finalize(s->q[i].stmt);
	for (int i = 0; i < C_COUNT; i++)
		sqlite3_finalize(s->ctl[i]);
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
		rc = sqlite3_exec(s->db, sql_migration(SQL_SQLITE, (int)v),
				  NULL, NULL, NULL);
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

static int sq_begin(struct store *st, enum store_txn kind)
{
	/* one writer at a time: every write is serial */
	return ctl(sq_of(st), kind != STORE_TXN_READ ? C_BEGIN_W : C_BEGIN_R,
		   "begin");
}

static int sq_checkpoint(struct store *st)
{
	struct sq *s = sq_of(st);
	int rc = sqlite3_wal_checkpoint_v2(
	    s->db, NULL, SQLITE_CHECKPOINT_PASSIVE, NULL, NULL);

	return rc == SQLITE_OK || rc == SQLITE_BUSY
		   ? 0
		   : map_rc(s, rc, "checkpoint");
}

static int sq_commit(struct store *st)
{
	return ctl(sq_of(st), C_COMMIT, "commit");
}

static void sq_rollback(struct store *st)
{
	struct sq *s = sq_of(st);

	if (!sqlite3_get_autocommit(s->db))
		ctl(s, C_ROLLBACK, "rollback");
}

/*
 * WAL with synchronous=NORMAL skips the fsync at commit: a crash may lose
 * the last commits, never corrupt the file.
 */
static int sq_durable(struct store *st, bool on)
{
	struct sq *s = sq_of(st);
	int err;

	if (s->relaxed != on)
		return 0;
	err = ctl(s, on ? C_SYNC_FULL : C_SYNC_NORMAL, "durable");
	if (!err)
		s->relaxed = !on;
	return err;
}

static int sq_savepoint(struct store *st, enum store_sp op)
{
	static const enum ctl_id ids[] = {C_SP_SET, C_SP_RELEASE,
					  C_SP_ROLLBACK};

	return ctl(sq_of(st), ids[op], "savepoint");
}

/* ---- online backup (sipward db backup) ---- */

/* Pages copied by one backup step (4 MiB of 4 KiB pages). */
#define BACKUP_STEP_PAGES 1024

/* The busy handler's state: a deadline shared by every wait. */
struct bk {
	int64_t deadline_ms;
	bool told;
};

/*
 * While the source or the copy is locked, wait 10 ms at a time until the
 * backup's deadline; the first wait is logged once.
 */
static int bk_busy(void *arg, int count)
{
	struct bk *b = arg;
	struct timespec ts = {.tv_nsec = 10 * 1000000L};

	(void)count;
	if (base_time_mono_ms() >= b->deadline_ms)
		return 0;
	if (!b->told)
		LOG_INFO("backup_busy",
			 "msg=\"the database is locked: waiting for it\"");
	b->told = true;
	nanosleep(&ts, NULL);
	return 1;
}

/* Whether a and b name the same file (both exist). */
static bool same_file(const char *a, const char *b)
{
	struct stat sa, sb;

	return stat(a, &sa) == 0 && stat(b, &sb) == 0 &&
	       sa.st_dev == sb.st_dev && sa.st_ino == sb.st_ino;
}

/* Removes the temporary copy and what SQLite may have made beside it. */
static void bk_remove(const char *tmp)
{
	static const char *const sfx[] = {"", "-journal", "-wal", "-shm"};
	char p[PATH_MAX + 16];

	for (unsigned i = 0; i < sizeof(sfx) / sizeof(sfx[0]); i++) {
		snprintf(p, sizeof(p), "%s%s", tmp, sfx[i]);
		unlink(p);
	}
}

/* fsyncs the file or directory at path; 0 or an errno. */
static int bk_fsync(const char *path, int flags, int64_t *size)
{
	struct stat sb;
	int fd = open(path, O_RDONLY | O_CLOEXEC | flags), err = 0;

	if (fd < 0)
		return errno;
	if (fsync(fd) || (size && fstat(fd, &sb)))
		err = errno;
	else if (size)
		*size = (int64_t)sb.st_size;
	close(fd);
	return err;
}

/* Moves tmp to path, never over an existing path unless replace. */
static int bk_rename(const char *tmp, const char *path, bool replace)
{
	if (replace)
		return rename(tmp, path) ? errno : 0;
	if (renameat2(AT_FDCWD, tmp, AT_FDCWD, path, RENAME_NOREPLACE) == 0)
		return 0;
	if (errno != EINVAL && errno != ENOSYS)
		return errno;
	/* A file system without RENAME_NOREPLACE: link fails on EEXIST. */
	if (link(tmp, path))
		return errno;
	unlink(tmp);
	return 0;
}

/* Maps a failed SQLite call on db to an errno, with its message in why. */
static int bk_error(sqlite3 *db, int rc, const char *what, char *why,
		    size_t cap)
{
	snprintf(why, cap, "%s: %s", what,
		 db ? sqlite3_errmsg(db) : sqlite3_errstr(rc));
	switch (rc & 0xff) {
	case SQLITE_BUSY:
	case SQLITE_LOCKED:
		return EBUSY;
	case SQLITE_NOMEM:
		return ENOMEM;
	case SQLITE_NOTADB:
	case SQLITE_CORRUPT:
		return EBADMSG;
	case SQLITE_FULL:
		return ENOSPC;
	case SQLITE_PERM:
	case SQLITE_READONLY:
		return EACCES;
	default:
		return EIO;
	}
}

/*
 * Opens the source and begins a read transaction on it: the snapshot that
 * every backup step copies from. In WAL mode a reader never blocks the
 * writer, and a step-by-step backup without it would start again after
 * each commit of another process (so, under steady writes, never end).
 */
static int bk_source(const char *path, struct bk *b, sqlite3 **out, char *why,
		     size_t cap)
{
	sqlite3 *db = NULL;
	sqlite3_stmt *q = NULL;
	int rc, err = 0;

	rc = sqlite3_open_v2(path, &db,
			     SQLITE_OPEN_READWRITE | SQLITE_OPEN_NOMUTEX, NULL);
	if (rc != SQLITE_OK) {
		err = bk_error(db, rc, "cannot open the database", why, cap);
		goto out;
	}
	sqlite3_extended_result_codes(db, 1);
	sqlite3_busy_handler(db, bk_busy, b);
	/* Only reads: closing it must not checkpoint the server's log. */
	sqlite3_db_config(db, SQLITE_DBCONFIG_NO_CKPT_ON_CLOSE, 1, NULL);
	rc = sqlite3_exec(db, "BEGIN", NULL, NULL, NULL);
	if (rc == SQLITE_OK)
		rc = sqlite3_prepare_v2(
		    db, "SELECT version FROM schema_version", -1, &q, NULL);
	if (rc == SQLITE_OK) {
		rc = sqlite3_step(q);
		rc = rc == SQLITE_ROW ? SQLITE_OK : rc;
	}
	sqlite3_finalize(q);
	if (rc == SQLITE_ERROR) {
		snprintf(why, cap, "%s is not a sipward database", path);
		err = EBADMSG;
	} else if (rc != SQLITE_OK) {
		err = bk_error(db, rc, "cannot read the database", why, cap);
	}
out:
	if (err)
		sqlite3_close(db);
	else
		*out = db;
	return err;
}

/* Copies every page of src into the new database file tmp. */
static int bk_copy(sqlite3 *src, const char *tmp, struct bk *b, int64_t *pages,
		   char *why, size_t cap)
{
	sqlite3 *dst = NULL;
	sqlite3_backup *bk = NULL;
	int rc, err = 0;

	rc = sqlite3_open_v2(tmp, &dst,
			     SQLITE_OPEN_READWRITE | SQLITE_OPEN_NOMUTEX, NULL);
	if (rc == SQLITE_OK) {
		sqlite3_busy_handler(dst, bk_busy, b);
		/* A failed copy is deleted: it needs no journal. */
		rc = sqlite3_exec(dst,
				  "PRAGMA journal_mode=OFF;"
				  "PRAGMA synchronous=OFF;",
				  NULL, NULL, NULL);
	}
	if (rc != SQLITE_OK) {
		err = bk_error(dst, rc, "cannot write the copy", why, cap);
		goto out;
	}
	bk = sqlite3_backup_init(dst, "main", src, "main");
	if (!bk) {
		err = bk_error(dst, sqlite3_errcode(dst),
			       "cannot start the copy", why, cap);
		goto out;
	}
	for (;;) {
		rc = sqlite3_backup_step(bk, BACKUP_STEP_PAGES);
		if (rc == SQLITE_OK)
			continue;
		if ((rc & 0xff) != SQLITE_BUSY && (rc & 0xff) != SQLITE_LOCKED)
			break;
		if (!bk_busy(b, 0))
			break;
	}
	*pages = sqlite3_backup_pagecount(bk);
	sqlite3_backup_finish(bk);
	if (rc != SQLITE_DONE) {
		err = bk_error(NULL, rc, "copy", why, cap);
		goto out;
	}
	/*
	 * The copy took the source's header, which says WAL: make it a
	 * rollback-journal database, whole in its one file, that opens
	 * read-only too (a WAL database needs its -shm file written).
	 */
	rc = sqlite3_exec(dst, "PRAGMA journal_mode=DELETE", NULL, NULL, NULL);
	if (rc != SQLITE_OK)
		err = bk_error(dst, rc, "cannot finish the copy", why, cap);
out:
	rc = sqlite3_close(dst);
	if (!err && rc != SQLITE_OK)
		err = bk_error(NULL, rc, "cannot close the copy", why, cap);
	return err;
}

static int sq_backup(const char *url, const char *path, bool replace,
		     int64_t busy_ms, struct store_backup_stats *out, char *why,
		     size_t cap)
{
	static const char *const own[] = {"", "-wal", "-shm", "-journal",
					  ".key"};
	struct bk b = {.deadline_ms = base_time_mono_ms() + busy_ms};
	struct store_backup_stats st = {0};
	char tmp[PATH_MAX + 8], dir[PATH_MAX + 8], p[PATH_MAX + 16], *slash;
	const char *src;
	sqlite3 *db = NULL;
	struct stat sb;
	bool made = false;
	int fd, err = 0;

	if (strncmp(url, "sqlite:", 7) != 0 || !url[7] || !path[0]) {
		snprintf(why, cap, "not an SQLite database URL and a path");
		return EINVAL;
	}
	src = url + 7;
	if ((size_t)snprintf(tmp, sizeof(tmp), "%s.tmp", path) >= PATH_MAX) {
		snprintf(why, cap, "the path is too long");
		return ENAMETOOLONG;
	}
	if (stat(src, &sb)) {
		err = errno;
		snprintf(why, cap, "no database at %s (%s)", src,
			 strerror(err));
		return err;
	}
	pthread_once(&sq_once, sq_configure);
	/* Never over the database or a file of its own (--force). */
	for (unsigned i = 0; i < sizeof(own) / sizeof(own[0]); i++) {
		snprintf(p, sizeof(p), "%s%s", src, own[i]);
		if (same_file(p, path) || same_file(p, tmp)) {
			snprintf(why, cap,
				 "%s is %s, a file of the database itself",
				 path, p);
			return EINVAL;
		}
	}
	if (!replace && lstat(path, &sb) == 0) {
		snprintf(why, cap, "%s exists", path);
		return EEXIST;
	}
	/* Private, like the database: it holds credential hashes. */
	fd = open(tmp, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0600);
	if (fd < 0 && errno == EEXIST && replace) {
		bk_remove(tmp); /* left by a backup that was killed */
		fd = open(tmp, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0600);
	}
	if (fd < 0) {
		err = errno;
		snprintf(why, cap, "cannot create %s (%s)%s", tmp,
			 strerror(err),
			 err == EEXIST ? ": another backup is writing it, or "
					 "one was killed (remove it, or use "
					 "--force)"
				       : "");
		return err == EEXIST ? EBUSY : err;
	}
	close(fd);
	made = true;
	err = bk_source(src, &b, &db, why, cap);
	if (!err)
		err = bk_copy(db, tmp, &b, &st.pages, why, cap);
	sqlite3_close(db); /* ends the read transaction */
	if (err)
		goto out;
	err = bk_fsync(tmp, 0, &st.bytes);
	if (err) {
		snprintf(why, cap, "cannot fsync %s (%s)", tmp, strerror(err));
		goto out;
	}
	err = bk_rename(tmp, path, replace);
	if (err) {
		snprintf(why, cap, "cannot rename %s to %s (%s)", tmp, path,
			 strerror(err));
		goto out;
	}
	made = false;
	/* The rename itself on disk: fsync the directory. */
	snprintf(dir, sizeof(dir), "%s", path);
	slash = strrchr(dir, '/');
	if (!slash)
		snprintf(dir, sizeof(dir), ".");
	else if (slash == dir)
		dir[1] = '\0'; /* "/" */
	else
		*slash = '\0';
	err = bk_fsync(dir, O_DIRECTORY, NULL);
	if (err)
		snprintf(why, cap, "cannot fsync the directory of %s (%s)",
			 path, strerror(err));
	if (!err)
		*out = st;
out:
	if (made)
		bk_remove(tmp);
	return err;
}

const struct store_ops store_sqlite_ops = {
    .name = "sqlite",
    .serial_writes = true,
    .drv = &sq_drv,
    .open = sq_open,
    .close = sq_close,
    .migrate = sq_migrate,
    .begin = sq_begin,
    .commit = sq_commit,
    .rollback = sq_rollback,
    .durable = sq_durable,
    .savepoint = sq_savepoint,
    .checkpoint = sq_checkpoint,
    .backup = sq_backup,
    SQL_STORE_OPS,
};
