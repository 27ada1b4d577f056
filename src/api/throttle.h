/*
 * throttle.h - failed-authentication throttling per client address: too
 * many failures within a window put the address in a penalty.
 */
#ifndef API_THROTTLE_H
#define API_THROTTLE_H

#include <stdint.h>

struct api_throttle;

int api_throttle_new(struct api_throttle **out, long max_failures,
		     long window_s, long penalty_s);
void api_throttle_free(struct api_throttle *t);

/*
 * Returns the seconds left in addr's penalty at time now (monotonic
 * seconds), or 0 when it may proceed.
 */
long api_throttle_check(struct api_throttle *t, const char *addr, int64_t now);

/* Records one failed authentication from addr at time now. */
void api_throttle_fail(struct api_throttle *t, const char *addr, int64_t now);

#endif
