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

#endif
