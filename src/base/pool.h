/*
 * pool.h - a fixed set of worker threads behind one bounded queue, for work
 * that may block (the store, later webhooks) and so must not run on a
 * transport or event-loop thread. Jobs are intrusive: the caller embeds a
 * struct base_pool_job in its own work item, so submitting allocates nothing.
 */
#ifndef BASE_POOL_H
#define BASE_POOL_H

#include <stddef.h>

struct base_pool;
struct base_pool_job;

typedef void (*base_pool_fn)(struct base_pool_job *job);

struct base_pool_job {
	base_pool_fn fn;
	struct base_pool_job *next; /* the pool's own */
};

/*
 * Starts `threads` workers named `name` (at most 15 characters, for top and
 * gdb) that run queued jobs in order. At most queue_max jobs wait at once.
 * Returns 0, EINVAL or an errno.
 */
int base_pool_start(struct base_pool **out, unsigned threads,
		    unsigned queue_max, const char *name);

/*
 * Queues job to run job->fn(job) on a worker. Returns 0, or EAGAIN when
 * queue_max jobs already wait (job is then untouched and the caller still
 * owns it). Safe from any thread.
 */
int base_pool_submit(struct base_pool *p, struct base_pool_job *job,
		     base_pool_fn fn);

/* Jobs waiting in the queue now (not those running). */
unsigned base_pool_queued(struct base_pool *p);

/*
 * Runs every job still queued and stops the workers; p stays valid (later
 * submits get EAGAIN) until base_pool_stop, so a thread that may still
 * submit need not be stopped first. Idempotent.
 */
void base_pool_drain(struct base_pool *p);

/* Runs every job still queued, then stops the workers and frees p. */
void base_pool_stop(struct base_pool *p);

#endif
