/* time.h - wall-clock time in milliseconds and its ISO-8601 form. */
#ifndef BASE_TIME_H
#define BASE_TIME_H

#include <stddef.h>
#include <stdint.h>

/* Milliseconds since the Unix epoch (CLOCK_REALTIME). */
int64_t base_time_now_ms(void);

/* Seconds on a monotonic clock, for rate limits and timeouts. */
int64_t base_time_mono_s(void);

/*
 * Writes ms as "YYYY-MM-DDThh:mm:ss.mmmZ" (UTC) into out; cap must be at
 * least 25. Returns out.
 */
char *base_time_iso(int64_t ms, char *out, size_t cap);

#endif
