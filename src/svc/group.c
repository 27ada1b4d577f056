/* group.c - the writer thread behind svc's write transactions (SQLite). */
#include "svc/group.h"

#include <errno.h>
#include <pthread.h>
#include <stdbool.h>
#include <stdlib.h>
#include <time.h>

#include "base/log.h"
#include "base/time.h"
#include "svc/internal.h"

#define GROUP_MAX 256	     /* jobs in one transaction */
#define GROUP_ATTEMPTS 8     /* of a whole group, on EBUSY */
#define GROUP_WAIT_NS 200000 /* longest wait for a fuller group */

struct job {
	svc_group_fn fn;
	void *arg;
	svc_group_done_fn done_fn; /* queued by svc_group_submit; else NULL */
	int err;
	int64_t deadline_ms; /* the caller's (base_deadline), 0 for none */
	bool taken;	     /* off the queue, in a group */
	bool done;
	pthread_cond_t cv;
	struct job *next;
};

struct svc_group {
	const struct store_ops *ops;
	struct store *st;
	pthread_t thread;
	pthread_mutex_t mu;
	pthread_cond_t work;
	struct job *head, *tail;
	bool stop;
	bool durable;	 /* fsync a commit: the metrics' label */
	unsigned queued; /* jobs in the queue */
	unsigned last_n; /* jobs in the last group */
	unsigned long long groups, jobs; /* for the debug log */
};

/* Runs the jobs of one group in one transaction; sets each job's err. */
static void run_group(struct svc_group *g, struct job *jobs)
{
	struct store *st = g->st;
	int err = EBUSY;
	unsigned n = 0, ok = 0;

	for (int attempt = 0; attempt < GROUP_ATTEMPTS && err == EBUSY;
	     attempt++) {
		if (attempt)
			svc_metric_retry(g->ops);
		if (base_deadline_left_ms(1) == 0) {
			err = ETIMEDOUT; /* rolled back: nothing changed */
			break;
		}
		for (struct job *j = jobs; j; j = j->next)
			j->err = 0;
		err = st->ops->begin(st, STORE_TXN_WRITE);
		for (struct job *j = jobs; !err && j; j = j->next) {
			/* A queued job whose caller's deadline passed while it
			 * waited is not run. */
			if (j->done_fn && j->deadline_ms &&
			    base_time_mono_ms() >= j->deadline_ms) {
				j->err = ETIMEDOUT;
				continue;
			}
			j->err = st->ops->savepoint(st, STORE_SP_SET);
			if (!j->err)
				j->err = j->fn(st, j->arg);
			if (j->err && j->err != EBUSY && j->err != EIO)
				err = st->ops->savepoint(st, STORE_SP_ROLLBACK);
			else if (j->err)
				err = j->err; /* the whole group again */
			if (!err)
				err = st->ops->savepoint(st, STORE_SP_RELEASE);
		}
		if (!err)
			err = st->ops->commit(st);
		if (err)
			st->ops->rollback(st);
	}
	if (err)
		LOG_ERROR("svc_group_failed", "error=%d", err);
	/* A failed commit fails every job that had succeeded. */
	for (struct job *j = jobs; j; j = j->next) {
		if (err && !j->err)
			j->err = err;
		n++;
		ok += !j->err;
	}
	svc_metric_error(g->ops, err);
	if (!err) {
		svc_metric_commit(g->ops, g->durable ? SVC_M_WRITE : SVC_M_LAZY,
				  ok);
		svc_metric_group(g->durable, n);
	}
}

static void *writer(void *arg)
{
	struct svc_group *g = arg;

	/* the lines the jobs' callers log (an API update's access line): one
	 * write(2) a group */
	base_log_hold();
	pthread_mutex_lock(&g->mu);
	for (;;) {
		struct job *jobs, *last;
		int64_t deadline, now;
		unsigned n = 0;

		while (!g->head && !g->stop)
			pthread_cond_wait(&g->work, &g->mu);
		if (!g->head)
			break;
		/*
		 * When the last group was shared, wait a moment for its
		 * members' successors: a fuller group saves fsyncs, which on
		 * a VM cost more CPU than the wait.
		 */
		if (g->last_n > 1 && !g->stop) {
			struct timespec until;
			clock_gettime(CLOCK_REALTIME, &until);
			until.tv_nsec += GROUP_WAIT_NS;
			if (until.tv_nsec >= 1000000000L) {
				until.tv_sec++;
				until.tv_nsec -= 1000000000L;
			}
			while (g->queued < g->last_n && !g->stop &&
			       pthread_cond_timedwait(&g->work, &g->mu,
						      &until) == 0)
				;
		}
		/*
		 * Take up to GROUP_MAX jobs off the queue. The group waits for
		 * the store no longer than its most pressing job may; a queued
		 * job already past its deadline is skipped (run_group), not
		 * allowed to fail the others.
		 */
		jobs = last = g->head;
		deadline = 0;
		now = base_time_mono_ms();
		for (n = 1;; n++) {
			last->taken = true;
			if (last->deadline_ms &&
			    !(last->done_fn && last->deadline_ms <= now) &&
			    (!deadline || last->deadline_ms < deadline))
				deadline = last->deadline_ms;
			if (n == GROUP_MAX || !last->next)
				break;
			last = last->next;
		}
		g->head = last->next;
		if (!g->head)
			g->tail = NULL;
		g->queued -= n;
		g->last_n = n;
		last->next = NULL;
		pthread_mutex_unlock(&g->mu);

		base_deadline_set(deadline);
		run_group(g, jobs);
		base_deadline_set(0);
		g->groups++;
		g->jobs += n;
		if (g->groups % 1000 == 0)
			LOG_DEBUG("svc_group_stats", "groups=%llu jobs=%llu",
				  (unsigned long long)g->groups,
				  (unsigned long long)g->jobs);

		/* Queued jobs hear here, on this thread; waiting callers
		 * are woken. */
		for (struct job **pp = &jobs, *j; (j = *pp);) {
			if (!j->done_fn) {
				pp = &j->next;
				continue;
			}
			*pp = j->next;
			j->done_fn(j->arg, j->err);
			free(j);
		}
		base_log_flush();
		pthread_mutex_lock(&g->mu);
		for (struct job *j = jobs, *nx; j; j = nx) {
			nx = j->next;
			j->done = true;
			pthread_cond_signal(&j->cv);
		}
	}
	pthread_mutex_unlock(&g->mu);
	base_log_flush();
	return NULL;
}

int svc_group_start(struct svc_group **out, const struct store_ops *ops,
		    const char *url, bool durable)
{
	struct svc_group *g = calloc(1, sizeof(*g));
	int err;

	if (!g)
		return ENOMEM;
	g->ops = ops;
	g->durable = durable;
	pthread_mutex_init(&g->mu, NULL);
	pthread_cond_init(&g->work, NULL);
	err = ops->open(url, &g->st);
	if (!err)
		err = ops->durable(g->st, durable);
	if (!err)
		err = pthread_create(&g->thread, NULL, writer, g);
	if (err) {
		if (g->st)
			ops->close(g->st);
		pthread_cond_destroy(&g->work);
		pthread_mutex_destroy(&g->mu);
		free(g);
		return err;
	}
	*out = g;
	return 0;
}

void svc_group_stop(struct svc_group *g)
{
	if (!g)
		return;
	pthread_mutex_lock(&g->mu);
	g->stop = true;
	pthread_cond_signal(&g->work);
	pthread_mutex_unlock(&g->mu);
	pthread_join(g->thread, NULL);
	g->ops->close(g->st);
	pthread_cond_destroy(&g->work);
	pthread_mutex_destroy(&g->mu);
	free(g);
}

/* Takes j, still queued, off the queue (g->mu held). */
static void unqueue(struct svc_group *g, struct job *j)
{
	struct job *prev = NULL;

	for (struct job *p = g->head; p; prev = p, p = p->next) {
		if (p != j)
			continue;
		if (prev)
			prev->next = j->next;
		else
			g->head = j->next;
		if (g->tail == j)
			g->tail = prev;
		g->queued--;
		return;
	}
}

int svc_group_submit(struct svc_group *g, svc_group_fn fn, void *arg,
		     svc_group_done_fn done, int64_t deadline_ms,
		     unsigned queue_max)
{
	struct job *j = calloc(1, sizeof(*j));
	int err = 0;

	if (!j)
		return ENOMEM;
	j->fn = fn;
	j->arg = arg;
	j->done_fn = done;
	j->deadline_ms = deadline_ms;
	pthread_mutex_lock(&g->mu);
	if (g->queued >= queue_max || g->stop) {
		err = EAGAIN;
	} else {
		if (g->tail)
			g->tail->next = j;
		else
			g->head = j;
		g->tail = j;
		g->queued++;
		pthread_cond_signal(&g->work);
	}
	pthread_mutex_unlock(&g->mu);
	if (err)
		free(j);
	return err;
}

int svc_group_run(struct svc_group *g, svc_group_fn fn, void *arg)
{
	struct job j = {
	    .fn = fn, .arg = arg, .deadline_ms = base_deadline_get()};
	pthread_condattr_t ca;
	struct timespec until;

	pthread_condattr_init(&ca);
	pthread_condattr_setclock(&ca, CLOCK_MONOTONIC);
	pthread_cond_init(&j.cv, &ca);
	pthread_condattr_destroy(&ca);
	until.tv_sec = (time_t)(j.deadline_ms / 1000);
	until.tv_nsec = (long)(j.deadline_ms % 1000) * 1000000L;
	pthread_mutex_lock(&g->mu);
	if (g->tail)
		g->tail->next = &j;
	else
		g->head = &j;
	g->tail = &j;
	g->queued++;
	pthread_cond_signal(&g->work);
	while (!j.done) {
		if (!j.deadline_ms || j.taken) {
			/* A group holding j gives up by j's deadline itself. */
			pthread_cond_wait(&j.cv, &g->mu);
		} else if (pthread_cond_timedwait(&j.cv, &g->mu, &until) ==
			       ETIMEDOUT &&
			   !j.taken) {
			/* Still queued at the deadline: never run it. */
			unqueue(g, &j);
			j.err = ETIMEDOUT;
			break;
		}
	}
	pthread_mutex_unlock(&g->mu);
	pthread_cond_destroy(&j.cv);
	return j.err;
}

/* ---- the checkpointer ---- */

struct svc_ckpt {
	const struct store_ops *ops;
	struct store *st;
	pthread_t thread;
	pthread_mutex_t mu;
	pthread_cond_t cv; /* CLOCK_MONOTONIC */
	bool stop;
	unsigned period_ms;
};

static void *checkpointer(void *arg)
{
	struct svc_ckpt *c = arg;
	struct timespec until;

	pthread_mutex_lock(&c->mu);
	while (!c->stop) {
		clock_gettime(CLOCK_MONOTONIC, &until);
		until.tv_nsec += (long)(c->period_ms % 1000) * 1000000L;
		until.tv_sec +=
		    c->period_ms / 1000 + until.tv_nsec / 1000000000L;
		until.tv_nsec %= 1000000000L;
		while (!c->stop &&
		       pthread_cond_timedwait(&c->cv, &c->mu, &until) == 0)
			;
		pthread_mutex_unlock(&c->mu);
		if (c->ops->checkpoint(c->st))
			LOG_DEBUG("store_checkpoint_failed", "backend=%s",
				  c->ops->name);
		pthread_mutex_lock(&c->mu);
	}
	pthread_mutex_unlock(&c->mu);
	return NULL;
}

int svc_ckpt_start(struct svc_ckpt **out, const struct store_ops *ops,
		   const char *url, unsigned period_ms)
{
	struct svc_ckpt *c;
	pthread_condattr_t ca;
	int err;

	*out = NULL;
	if (!ops->checkpoint)
		return 0;
	c = calloc(1, sizeof(*c));
	if (!c)
		return ENOMEM;
	c->ops = ops;
	c->period_ms = period_ms ? period_ms : 1;
	pthread_mutex_init(&c->mu, NULL);
	pthread_condattr_init(&ca);
	pthread_condattr_setclock(&ca, CLOCK_MONOTONIC);
	pthread_cond_init(&c->cv, &ca);
	pthread_condattr_destroy(&ca);
	err = ops->open(url, &c->st);
	if (!err)
		err = pthread_create(&c->thread, NULL, checkpointer, c);
	if (err) {
		if (c->st)
			ops->close(c->st);
		pthread_cond_destroy(&c->cv);
		pthread_mutex_destroy(&c->mu);
		free(c);
		return err;
	}
	*out = c;
	return 0;
}

void svc_ckpt_stop(struct svc_ckpt *c)
{
	if (!c)
		return;
	pthread_mutex_lock(&c->mu);
	c->stop = true;
	pthread_cond_signal(&c->cv);
	pthread_mutex_unlock(&c->mu);
	pthread_join(c->thread, NULL);
	c->ops->close(c->st);
	pthread_cond_destroy(&c->cv);
	pthread_mutex_destroy(&c->mu);
	free(c);
}
