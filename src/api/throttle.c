/*
 * throttle.c - a fixed-size, direct-mapped table of client addresses
 * (memory stays bounded whatever the number of attackers).
 */
#include "api/throttle.h"

#include <errno.h>
#include <pthread.h>
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>

#define SLOTS 4096

struct slot {
	char addr[64];
	int64_t window_start;
	long count;
	int64_t penalty_until;
};

struct api_throttle {
	pthread_mutex_t lock;
	long max, window, penalty;
	struct slot slots[SLOTS];
};

int api_throttle_new(struct api_throttle **out, long max_failures,
		     long window_s, long penalty_s)
{
	struct api_throttle *t = calloc(1, sizeof(*t));

	if (!t)
		return ENOMEM;
	pthread_mutex_init(&t->lock, NULL);
	t->max = max_failures;
	t->window = window_s;
	t->penalty = penalty_s;
	*out = t;
	return 0;
}

void api_throttle_free(struct api_throttle *t)
{
	if (!t)
		return;
	pthread_mutex_destroy(&t->lock);
	free(t);
}

static struct slot *find(struct api_throttle *t, const char *addr, bool make)
{
	uint32_t h = 2166136261u;
	struct slot *s;

	for (const char *p = addr; *p; p++)
		h = (h ^ (unsigned char)*p) * 16777619u;
	s = &t->slots[h % SLOTS];
	if (strcmp(s->addr, addr) == 0)
		return s;
	if (!make)
		return NULL;
	memset(s, 0, sizeof(*s));
	strncpy(s->addr, addr, sizeof(s->addr) - 1);
	return s;
}

long api_throttle_check(struct api_throttle *t, const char *addr, int64_t now)
{
	struct slot *s;
	long left = 0;

	pthread_mutex_lock(&t->lock);
	s = find(t, addr, false);
	if (s && s->penalty_until > now)
		left = (long)(s->penalty_until - now);
	pthread_mutex_unlock(&t->lock);
	return left;
}

void api_throttle_fail(struct api_throttle *t, const char *addr, int64_t now)
{
	struct slot *s;

	pthread_mutex_lock(&t->lock);
	s = find(t, addr, true);
	if (now - s->window_start >= t->window) {
		s->window_start = now;
		s->count = 0;
	}
	if (++s->count >= t->max) {
		s->penalty_until = now + t->penalty;
		s->count = 0;
		s->window_start = now;
	}
	pthread_mutex_unlock(&t->lock);
}
