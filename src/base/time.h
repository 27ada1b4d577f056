/* time.h - wall-clock time in milliseconds and its ISO-8601 form. */
#ifndef BASE_TIME_H
#define BASE_TIME_H

#include <stddef.h>
#include <stdint.h>

/* Milliseconds since the Unix epoch (CLOCK_REALTIME). */
int64_t base_time_now_ms(void);

/* Seconds on a monotonic clock, for rate limits and timeouts. */
int64_t base_time_mono_s(void);

/* Milliseconds on a monotonic clock. */
int64_t base_time_mono_ms(void);

/*
 * The calling thread's deadline for blocking work (the store), in
 * base_time_mono_ms() units; 0 means none. Set by whoever accepted the
 * request (an API worker, a SIP worker) and read where the waiting happens
 * (SQLite's busy handler, PostgreSQL's statement timeout, svc's retries).
 */
void base_deadline_set(int64_t mono_ms);
int64_t base_deadline_get(void);

/*
 * Milliseconds left before the calling thread's deadline (at least 0), or
 * `none` when it has no deadline.
 */
int64_t base_deadline_left_ms(int64_t none);

/*
 * Writes ms as "YYYY-MM-DDThh:mm:ss.mmmZ" (UTC, proleptic Gregorian; ms
 * below 0 or past year 9999 clamped to those ends) into out; cap must be
 * at least 25. Returns out.
 */
char *base_time_iso(int64_t ms, char *out, size_t cap);

#endif
