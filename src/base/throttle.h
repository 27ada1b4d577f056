/*
 * throttle.h - failed-authentication throttling per client address: too
 * many failures within a window put the address in a penalty.
 */
#ifndef BASE_THROTTLE_H
#define BASE_THROTTLE_H

#include <stdint.h>

struct base_throttle;

int base_throttle_new(struct base_throttle **out, long max_failures,
		      long window_s, long penalty_s);
void base_throttle_free(struct base_throttle *t);

/*
 * Returns the seconds left in addr's penalty at time now (monotonic
 * seconds), or 0 when it may proceed.
 */
long base_throttle_check(struct base_throttle *t, const char *addr,
			 int64_t now);

/* Records one failed authentication from addr at time now. */
void base_throttle_fail(struct base_throttle *t, const char *addr, int64_t now);

#endif
