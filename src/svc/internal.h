/*
 * internal.h - what svc's files share: the service, its transactions and
 * the bindings helpers. Not for other layers.
 */
#ifndef SVC_INTERNAL_H
#define SVC_INTERNAL_H

#include <pthread.h>
#include <stdbool.h>

#include "base/crypto.h"

#include "model/model.h"
#include "store/store.h"
#include "svc/svc.h"

/* Tries at a random id before giving up (a clash is retried). */
#define SVC_ID_ATTEMPTS 8

struct svc {
	const struct store_ops *ops;
	char url[1024];
	pthread_key_t key;
	struct svc_group *group; /* write funnel, for serial_writes stores */
	struct svc_group *lazy;	 /* the same for writes without fsync */
	struct svc_ckpt *ckpt;	 /* checkpoints off the writers' commits */
	/* Constant-time stand-in for unknown accounts' token hash. */
	char dummy_hash[MODEL_HASH_MAX];
	/* The server key that seals tokens (svc_key_set); wiped at close. */
	unsigned char server_key[BASE_KEY_LEN];
	bool has_key;
};

/* The store metrics (core.c): what a transaction did, by backend. */
enum svc_metric_kind { SVC_M_READ, SVC_M_WRITE, SVC_M_LAZY };
/* n transactions of kind committed (ops: the backend). */
void svc_metric_commit(const struct store_ops *ops, enum svc_metric_kind k,
		       unsigned n);
/* A transaction (or a group of them) run again after a conflict. */
void svc_metric_retry(const struct store_ops *ops);
/* A transaction that failed on the store's side (EIO, ETIMEDOUT, EBUSY). */
void svc_metric_error(const struct store_ops *ops, int err);
/* One group commit of n transactions (durable: the API's, else lazy). */
void svc_metric_group(bool durable, unsigned n);

/* The work of one transaction; must have no effects outside the store. */
typedef int (*svc_txn_fn)(struct store *st, void *arg);

enum svc_txn_mode {
	SVC_TXN_READ,
	SVC_TXN_WRITE, /* durable when committed: API writes */
	SVC_TXN_LAZY,  /* may be lost in a crash: registrations, sweeps */
	/* lazy, and it locks the rows it depends on before it reads them
	 * (a REGISTER: its endpoint's row), so it needs no serializable
	 * isolation (store_txn STORE_TXN_ROWS) */
	SVC_TXN_LAZY_ROWS,
};

/*
 * Runs fn in one transaction on the calling thread's connection (writes:
 * in a group commit, durable or lazy, when the store has one), committing
 * on 0
 * and rolling back otherwise; retries the whole transaction on EBUSY (lock
 * timeout or serialization failure) until the thread's deadline.
 */
int svc_txn_run(struct svc *s, enum svc_txn_mode mode, svc_txn_fn fn,
		void *arg);

/* A store_binding_cb: appends b to the struct svc_bindings ctx. */
int svc_bindings_add(void *ctx, const struct model_binding *b);

/* Reads the endpoint's bindings live now into bs. */
int svc_bindings_read(struct store *st, int64_t endpoint_ref,
		      struct svc_bindings *bs);

#endif
