/*
 * throttle.c - a fixed-size, direct-mapped table of client addresses
 * (memory stays bounded whatever the number of attackers).
 */
#include "base/throttle.h"

#include <errno.h>
#include <pthread.h>
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>

#define SETS 1024
#define WAYS 4

struct slot {
	char addr[64];
	int64_t window_start;
	long count;
	int64_t penalty_until;
};

struct base_throttle {
	pthread_mutex_t lock;
	long max, window, penalty;
	struct slot slots[SETS][WAYS];
};

int base_throttle_new(struct base_throttle **out, long max_failures,
		      long window_s, long penalty_s)
{
	struct base_throttle *t = calloc(1, sizeof(*t));

	if (!t)
		return ENOMEM;
	pthread_mutex_init(&t->lock, NULL);
	t->max = max_failures;
	t->window = window_s;
	t->penalty = penalty_s;
	*out = t;
	return 0;
}

void base_throttle_free(struct base_throttle *t)
{
	if (!t)
		return;
	pthread_mutex_destroy(&t->lock);
	free(t);
}

/*
 * Finds addr's slot; with make, takes one for it: a free one, else the one
 * with the oldest window that is not in a penalty. An address in its
 * penalty is never evicted, so a flood of new addresses cannot free it;
 * when all of a set are in a penalty, the new address is not tracked.
 */
static struct slot *find(struct base_throttle *t, const char *addr, bool make,
			 int64_t now)
{
	uint32_t h = 2166136261u;
	struct slot *set, *victim = NULL;

	for (const char *p = addr; *p; p++)
		h = (h ^ (unsigned char)*p) * 16777619u;
	set = t->slots[h % SETS];
	for (int i = 0; i < WAYS; i++)
		if (strcmp(set[i].addr, addr) == 0)
			return &set[i];
	if (!make)
		return NULL;
	for (int i = 0; i < WAYS; i++) {
		if (set[i].penalty_until > now)
			continue;
		if (!victim || set[i].window_start < victim->window_start)
			victim = &set[i];
	}
	if (victim) {
		memset(victim, 0, sizeof(*victim));
		strncpy(victim->addr, addr, sizeof(victim->addr) - 1);
	}
	return victim;
}

long base_throttle_check(struct base_throttle *t, const char *addr, int64_t now)
{
	struct slot *s;
	long left = 0;

	pthread_mutex_lock(&t->lock);
	s = find(t, addr, false, now);
	if (s && s->penalty_until > now)
		left = (long)(s->penalty_until - now);
	pthread_mutex_unlock(&t->lock);
	return left;
}

void base_throttle_fail(struct base_throttle *t, const char *addr, int64_t now)
{
	struct slot *s;

	pthread_mutex_lock(&t->lock);
	s = find(t, addr, true, now);
	if (!s)
		goto out;
	if (now - s->window_start >= t->window) {
		s->window_start = now;
		s->count = 0;
	}
	if (++s->count >= t->max) {
		s->penalty_until = now + t->penalty;
		s->count = 0;
		s->window_start = now;
	}
out:
	pthread_mutex_unlock(&t->lock);
}
