/*
 * core.c - the service and its transactions: thread connections, retries,
 * deadlines and the group commit's start. The resources are in the other
 * files of svc/.
 */
#include <errno.h>
#include <stdint.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "base/crypto.h"
#include "base/id.h"
#include "base/metrics.h"
#include "base/time.h"
#include "svc/group.h"
#include "svc/internal.h"

/*
 * Attempts of a transaction that conflicts (EBUSY): as many as its
 * caller's deadline allows, or TXN_ATTEMPTS when it has none.
 */
#define TXN_ATTEMPTS 20
#define TXN_BACKOFF_MAX_MS 32
/* How often the checkpointer copies the log into the database file. */
#define CKPT_PERIOD_MS 200

static void close_store(void *p)
{
	struct store *st = p;

	if (st)
		st->ops->close(st);
}

/* The calling thread's connection, opened on first use. */
static int thread_store(struct svc *s, struct store **out)
{
	struct store *st = pthread_getspecific(s->key);
	int err;

	if (!st) {
		err = s->ops->open(s->url, &st);
		if (err)
			return err;
		pthread_setspecific(s->key, st);
	}
	*out = st;
	return 0;
}

/* The service whose read transaction the calling thread holds open, and
 * the one it asked to (svc_read_begin: opened at the first read). */
static _Thread_local struct svc *held, *wanted;

/* Drops the calling thread's connection so the next call reconnects. */
static void drop_store(struct svc *s)
{
	struct store *st = pthread_getspecific(s->key);

	if (held == s)
		held = NULL;
	if (st) {
		pthread_setspecific(s->key, NULL);
		st->ops->close(st);
	}
}

/* Opens the read transaction svc_read_begin asked for; false if not. */
static bool hold_read(struct svc *s)
{
	struct store *st;

	wanted = NULL; /* one try a request */
	if (thread_store(s, &st) || st->ops->begin(st, STORE_TXN_READ)) {
		/* a dead connection is reopened by the next transaction */
		drop_store(s);
		return false;
	}
	held = s;
	return true;
}

void svc_read_begin(struct svc *s)
{
	/* Nothing touches the store until a read does: a request answered
	 * without one (an error, an overload) costs the store nothing. */
	if (!held)
		wanted = s;
}

void svc_read_end(struct svc *s)
{
	struct store *st = pthread_getspecific(s->key);

	if (wanted == s)
		wanted = NULL;
	if (held != s)
		return;
	held = NULL;
	if (st && st->ops->commit(st)) {
		st->ops->rollback(st);
		drop_store(s);
	} else if (st) {
		svc_metric_commit(s->ops, SVC_M_READ, 1);
	}
}

/*
 * Sleeps before a retry: a random time up to 1 ms doubled per attempt,
 * capped at TXN_BACKOFF_MAX_MS and at the time left to the deadline, so
 * that transactions that conflicted (PostgreSQL serialization failures)
 * do not meet again at once and a crowd of them spreads out.
 */
static void backoff(int attempt)
{
	uint32_t j = 0;
	int64_t cap_us = 1000LL << (attempt < 6 ? attempt : 6);
	int64_t left_ms = base_deadline_left_ms(INT64_MAX);
	struct timespec ts;

	if (cap_us > TXN_BACKOFF_MAX_MS * 1000LL)
		cap_us = TXN_BACKOFF_MAX_MS * 1000LL;
	if (cap_us / 1000 >= left_ms)
		cap_us = left_ms * 1000LL;
	if (cap_us <= 0)
		return;
	base_rand_fill(&j, sizeof(j));
	cap_us = (int64_t)(j % (uint64_t)cap_us) + 1;
	ts.tv_sec = 0;
	ts.tv_nsec = (long)cap_us * 1000L;
	nanosleep(&ts, NULL);
}

/* ---- metrics ---- */

static const char *const BACKENDS[2] = {"sqlite", "postgresql"};
static const char *const TXN_KINDS[3] = {"read", "write", "lazy"};

static _Atomic uint64_t txn_v[2 * 3];
static struct metric_family store_txns = {
    .name = "sipward_store_transactions_total",
    .help = "Store transactions committed, by backend and kind (write: "
	    "durable, the API's; lazy: registrations, sweeps, call records).",
    .kind = METRIC_COUNTER,
    .label = {"backend", "kind"},
    .values = {BACKENDS, TXN_KINDS},
    .nvalues = {2, 3},
    .v = txn_v};
METRIC_REGISTER(store_txns)

static _Atomic uint64_t retry_v[2];
static struct metric_family store_retries = {
    .name = "sipward_store_retries_total",
    .help = "Store transactions (or SQLite groups of them) run again after "
	    "a conflict: SQLite busy, PostgreSQL serialization failure or "
	    "deadlock.",
    .kind = METRIC_COUNTER,
    .label = {"backend"},
    .values = {BACKENDS},
    .nvalues = {2},
    .v = retry_v};
METRIC_REGISTER(store_retries)

static const char *const STORE_ERRORS[3] = {"io", "timeout", "busy"};
static _Atomic uint64_t err_v[2 * 3];
static struct metric_family store_errors = {
    .name = "sipward_store_errors_total",
    .help = "Store transactions that failed on the store's side: io (a "
	    "broken connection, a disk error), timeout (past the request's "
	    "store_timeout), busy (conflicts past the last retry).",
    .kind = METRIC_COUNTER,
    .label = {"backend", "error"},
    .values = {BACKENDS, STORE_ERRORS},
    .nvalues = {2, 3},
    .v = err_v};
METRIC_REGISTER(store_errors)

static const double GROUP_BOUNDS[11] = {1,  2,	 4,   8,   16,	32,
					64, 128, 256, 512, 1024};
static const char *const GROUPS[2] = {"durable", "lazy"};
static _Atomic uint64_t group_v[METRIC_HCELLS(2, 11)];
static struct metric_family store_group = {
    .name = "sipward_store_group_commit_transactions",
    .help = "Transactions per SQLite group commit (durable: API writes, one "
	    "fsync a group; lazy: registrations and call records).",
    .kind = METRIC_HISTOGRAM,
    .label = {"group"},
    .values = {GROUPS},
    .nvalues = {2},
    .bounds = GROUP_BOUNDS,
    .nbounds = 11,
    .scale = 1,
    .v = group_v};
METRIC_REGISTER(store_group)

static unsigned backend_of(const struct store_ops *ops)
{
	return ops->name[0] == 'p'; /* "postgresql" */
}

void svc_metric_commit(const struct store_ops *ops, enum svc_metric_kind k,
		       unsigned n)
{
	metric_add(&store_txns, backend_of(ops), (unsigned)k, n);
}

void svc_metric_retry(const struct store_ops *ops)
{
	metric_add(&store_retries, backend_of(ops), 0, 1);
}

void svc_metric_error(const struct store_ops *ops, int err)
{
	unsigned e = err == EIO		? 0
		     : err == ETIMEDOUT ? 1
		     : err == EBUSY	? 2
					: 3;

	metric_add(&store_errors, backend_of(ops), e, 1); /* 3: ignored */
}

void svc_metric_group(bool durable, unsigned n)
{
	metric_observe(&store_group, durable ? 0 : 1, 0, n);
}

int svc_txn_run(struct svc *s, enum svc_txn_mode mode, svc_txn_fn fn, void *arg)
{
	bool write = mode != SVC_TXN_READ, reconnected = false;
	enum store_txn kind = mode == SVC_TXN_READ	  ? STORE_TXN_READ
			      : mode == SVC_TXN_LAZY_ROWS ? STORE_TXN_ROWS
							  : STORE_TXN_WRITE;
	bool bounded = base_deadline_left_ms(-1) >= 0; /* retry till then */
	struct store *st;
	int err = EBUSY;

	/*
	 * Writes to a store whose writers take turns share a group commit:
	 * durable ones one fsync a group, lazy ones (the registrar's, from
	 * its workers: no fsync) one commit a group, so that a storm of
	 * REGISTERs pays for a transaction's locks and WAL writes a group at
	 * a time, not a REGISTER at a time.
	 */
	if (!write && wanted == s && !held)
		hold_read(s);
	if (held == s) {
		struct store *open = pthread_getspecific(s->key);
		if (!write && open)
			return fn(open, arg);
		svc_read_end(s); /* a write: on its own transaction */
	}
	wanted = NULL; /* a write first: no read transaction after it */
	if (mode == SVC_TXN_WRITE && s->group)
		return svc_group_run(s->group, fn, arg);
	if ((mode == SVC_TXN_LAZY || mode == SVC_TXN_LAZY_ROWS) && s->lazy)
		return svc_group_run(s->lazy, fn, arg);

	for (int attempt = 0;
	     (bounded || attempt < TXN_ATTEMPTS) && err == EBUSY; attempt++) {
		bool fresh = !pthread_getspecific(s->key);

		/* Past the caller's deadline: give up, nothing changed. */
		if (base_deadline_left_ms(1) == 0) {
			err = ETIMEDOUT;
			break;
		}
		if (attempt) {
			backoff(attempt);
			svc_metric_retry(s->ops);
		}
		err = thread_store(s, &st);
		if (err)
			break;
		err = write ? st->ops->durable(st, mode == SVC_TXN_WRITE) : 0;
		if (!err)
			err = st->ops->begin(st, kind);
		if (err == EIO && !fresh && !reconnected) {
			/*
			 * The connection died while idle (the database
			 * restarted): nothing was done yet, so reconnect and
			 * go on.
			 */
			drop_store(s);
			reconnected = true;
			err = EBUSY;
			attempt--;
			continue;
		}
		if (err)
			goto failed;
		err = fn(st, arg);
		if (!err)
			err = st->ops->commit(st);
		if (err)
			st->ops->rollback(st);
		else
			svc_metric_commit(s->ops,
					  mode == SVC_TXN_READ	  ? SVC_M_READ
					  : mode == SVC_TXN_WRITE ? SVC_M_WRITE
								  : SVC_M_LAZY,
					  1);
	failed:
		/*
		 * A deadline that passed leaves the connection usable (the
		 * driver closes one whose server went silent, and the next
		 * begin reconnects); a broken one is dropped.
		 */
		if (err == EIO)
			drop_store(s);
	}
	svc_metric_error(s->ops, err);
	return err;
}

int svc_open(struct svc **out, const struct store_ops *ops, const char *url)
{
	struct svc *s;
	struct store *st;
	int err;

	s = calloc(1, sizeof(*s));
	if (!s)
		return ENOMEM;
	s->ops = ops;
	if (strlen(url) >= sizeof(s->url)) {
		free(s);
		return ERANGE;
	}
	memcpy(s->url, url, strlen(url) + 1);
	memset(s->dummy_hash, '0', 64);
	if (pthread_key_create(&s->key, close_store) != 0) {
		free(s);
		return ENOMEM;
	}
	err = thread_store(s, &st);
	if (!err)
		err = st->ops->migrate(st);
	if (!err && ops->serial_writes)
		err = svc_group_start(&s->group, ops, url, true);
	if (!err && ops->serial_writes)
		err = svc_group_start(&s->lazy, ops, url, false);
	if (!err)
		err = svc_ckpt_start(&s->ckpt, ops, url, CKPT_PERIOD_MS);
	if (err) {
		svc_close(s);
		return err;
	}
	*out = s;
	return 0;
}

void svc_close(struct svc *s)
{
	if (!s)
		return;
	svc_ckpt_stop(s->ckpt);
	svc_group_stop(s->group);
	svc_group_stop(s->lazy);
	drop_store(s);
	pthread_key_delete(s->key);
	base_wipe(s->server_key, sizeof(s->server_key));
	free(s);
}

int svc_bindings_add(void *ctx, const struct model_binding *b)
{
	struct svc_bindings *bs = ctx;

	if (bs->n < MODEL_BINDINGS_MAX)
		bs->b[bs->n++] = *b;
	return 0;
}

int svc_bindings_read(struct store *st, int64_t endpoint_ref,
		      struct svc_bindings *bs)
{
	bs->n = 0;
	return st->ops->binding_list(st, endpoint_ref, base_time_now_ms(),
				     svc_bindings_add, bs);
}
