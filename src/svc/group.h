/*
 * group.h - group commit, inside svc: write jobs from many threads run on
 * one writer thread, several to a transaction (each in a savepoint, so one
 * job's failure leaves the others alone), with one commit - one fsync - for
 * the group. A job's caller gets its result only once that commit is
 * durable. For stores whose writers must take turns (SQLite).
 */
#ifndef SVC_GROUP_H
#define SVC_GROUP_H

#include <stdbool.h>

#include "store/store.h"

struct svc_group;

typedef int (*svc_group_fn)(struct store *st, void *arg);

/*
 * Opens the writer's own connection and starts its thread. durable: each
 * group's commit is fsynced before its callers hear of it; otherwise the
 * commits are lazy (the registrar's bindings: a crash may lose the last of
 * them, which costs a phone one REGISTER) and the group only saves the
 * per-transaction costs of many single commits.
 */
int svc_group_start(struct svc_group **out, const struct store_ops *ops,
		    const char *url, bool durable);

/* Runs the queued jobs, then stops the thread and closes the connection. */
void svc_group_stop(struct svc_group *g);

/*
 * Runs fn(st, arg) in the writer's next transaction and returns its result
 * once that transaction has committed (durably for a durable group; or the
 * commit's error). fn
 * must not have effects outside the store: on a retryable failure it runs
 * again.
 */
int svc_group_run(struct svc_group *g, svc_group_fn fn, void *arg);

/* What a queued job's caller hears: fn's result, or the commit's error. */
typedef void (*svc_group_done_fn)(void *arg, int err);

/*
 * Queues fn(st, arg) for the writer's next transaction and returns at once,
 * without waiting (the SIP transport thread submits this way): 0, or
 * EAGAIN when queue_max jobs wait already (or the writer is stopping),
 * ENOMEM. Once the transaction has committed, done(arg, err) runs on the
 * writer's thread (it must not wait for this group); a job still queued at
 * deadline_ms (base_time_mono_ms units, 0 for none) is not run and hears
 * ETIMEDOUT.
 */
int svc_group_submit(struct svc_group *g, svc_group_fn fn, void *arg,
		     svc_group_done_fn done, int64_t deadline_ms,
		     unsigned queue_max);

struct svc_ckpt;

/*
 * For a store with a checkpoint operation: a thread with its own
 * connection that checkpoints every period_ms, so that the writer threads
 * never stop for it in a commit. *out is NULL for a store without one.
 */
int svc_ckpt_start(struct svc_ckpt **out, const struct store_ops *ops,
		   const char *url, unsigned period_ms);
/* Stops the thread (one last checkpoint first) and closes its connection. */
void svc_ckpt_stop(struct svc_ckpt *c);

#endif
