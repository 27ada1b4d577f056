/* pool.c - worker threads behind one bounded FIFO queue. */
#include "base/pool.h"

#include <errno.h>
#include <pthread.h>
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>

struct base_pool {
	pthread_mutex_t mu;
	pthread_cond_t work;
	struct base_pool_job *head, *tail;
	unsigned queued, queue_max;
	bool stop;
	unsigned nthreads;
	pthread_t *threads;
};

static void *worker(void *arg)
{
	struct base_pool *p = arg;

	pthread_mutex_lock(&p->mu);
	for (;;) {
		struct base_pool_job *j;

		while (!p->head && !p->stop)
			pthread_cond_wait(&p->work, &p->mu);
		j = p->head;
		if (!j)
			break; /* stopping, and the queue is drained */
		p->head = j->next;
		if (!p->head)
			p->tail = NULL;
		p->queued--;
		pthread_mutex_unlock(&p->mu);
		j->next = NULL;
		j->fn(j);
		pthread_mutex_lock(&p->mu);
	}
	pthread_mutex_unlock(&p->mu);
	return NULL;
}

int base_pool_start(struct base_pool **out, unsigned threads,
		    unsigned queue_max, const char *name)
{
	struct base_pool *p;
	int err = 0;

	if (threads == 0 || queue_max == 0)
		return EINVAL;
	p = calloc(1, sizeof(*p));
	if (!p)
		return ENOMEM;
	p->threads = calloc(threads, sizeof(*p->threads));
	if (!p->threads) {
		free(p);
		return ENOMEM;
	}
	pthread_mutex_init(&p->mu, NULL);
	pthread_cond_init(&p->work, NULL);
	p->queue_max = queue_max;
	for (; p->nthreads < threads; p->nthreads++) {
		err = pthread_create(&p->threads[p->nthreads], NULL, worker, p);
		if (err)
			break;
		if (name) {
			char n[16];
			strncpy(n, name, sizeof(n) - 1);
			n[sizeof(n) - 1] = '\0';
			pthread_setname_np(p->threads[p->nthreads], n);
		}
	}
	if (err) {
		base_pool_stop(p);
		return err;
	}
	*out = p;
	return 0;
}

int base_pool_submit(struct base_pool *p, struct base_pool_job *job,
		     base_pool_fn fn)
{
	int err = 0;

	pthread_mutex_lock(&p->mu);
	if (p->queued >= p->queue_max || p->stop) {
		err = EAGAIN;
		goto out;
	}
	job->fn = fn;
	job->next = NULL;
	if (p->tail)
		p->tail->next = job;
	else
		p->head = job;
	p->tail = job;
	p->queued++;
	pthread_cond_signal(&p->work);
out:
	pthread_mutex_unlock(&p->mu);
	return err;
}

unsigned base_pool_queued(struct base_pool *p)
{
	unsigned n;

	pthread_mutex_lock(&p->mu);
	n = p->queued;
	pthread_mutex_unlock(&p->mu);
	return n;
}

void base_pool_drain(struct base_pool *p)
{
	if (!p)
		return;
	pthread_mutex_lock(&p->mu);
	p->stop = true;
	pthread_cond_broadcast(&p->work);
	pthread_mutex_unlock(&p->mu);
	for (unsigned i = 0; i < p->nthreads; i++)
		pthread_join(p->threads[i], NULL);
	p->nthreads = 0;
}

void base_pool_stop(struct base_pool *p)
{
	if (!p)
		return;
	base_pool_drain(p);
	pthread_cond_destroy(&p->work);
	pthread_mutex_destroy(&p->mu);
	free(p->threads);
	free(p);
}
