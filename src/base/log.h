/* log.h - one event per line (logfmt) on stderr; never pass secrets here. */
#ifndef BASE_LOG_H
#define BASE_LOG_H

enum base_log_level {
	BASE_LOG_DEBUG = 0,
	BASE_LOG_INFO = 1,
	BASE_LOG_WARN = 2,
	BASE_LOG_ERROR = 3,
};

/* Sets the lowest level that is written. */
void base_log_level_set(enum base_log_level level);

/* Parses "debug", "info", "warn" or "error"; returns 0 or EINVAL. */
int base_log_level_parse(const char *name, enum base_log_level *out);

/*
 * Writes "ts=... level=... event=EVENT " followed by the formatted fields as
 * one line. Values that come from clients must go through base_log_quote().
 */
void base_log_write(enum base_log_level level, const char *event,
		    const char *fmt, ...) __attribute__((format(printf, 3, 4)));

/*
 * From base_log_hold on, the calling thread's lines wait in a buffer (4 KiB,
 * written when full) until base_log_flush: an event loop writes the lines
 * of a batch of events with one write(2). Warnings and errors flush at
 * once. A thread that holds must flush before it blocks.
 */
void base_log_hold(void);
void base_log_flush(void);

/*
 * Copies src into out (cap bytes) as a logfmt value: double-quoted, with
 * quotes, backslashes and control bytes escaped, truncated to fit.
 */
const char *base_log_quote(const char *src, char *out, unsigned cap);

#define LOG_DEBUG(ev, ...) base_log_write(BASE_LOG_DEBUG, ev, __VA_ARGS__)
#define LOG_INFO(ev, ...) base_log_write(BASE_LOG_INFO, ev, __VA_ARGS__)
#define LOG_WARN(ev, ...) base_log_write(BASE_LOG_WARN, ev, __VA_ARGS__)
#define LOG_ERROR(ev, ...) base_log_write(BASE_LOG_ERROR, ev, __VA_ARGS__)

#endif
