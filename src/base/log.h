/*
 * log.h - one event per line (logfmt, or JSON objects) on stderr; never
 * pass secrets here.
 */
#ifndef BASE_LOG_H
#define BASE_LOG_H

#include <stddef.h>

enum base_log_level {
	BASE_LOG_DEBUG = 0,
	BASE_LOG_INFO = 1,
	BASE_LOG_WARN = 2,
	BASE_LOG_ERROR = 3,
};

/* How lines are written (log_format). */
enum base_log_format {
	BASE_LOG_LOGFMT = 0, /* ts=... level=... event=... key=value ... */
	BASE_LOG_JSON = 1,   /* {"ts":"...","level":"...","event":"...",...} */
};

/* The longest line in JSON: PIPE_BUF, so that one write(2) stays whole. */
#define BASE_LOG_JSON_MAX 4096

/* Sets the lowest level that is written. */
void base_log_level_set(enum base_log_level level);

/* Parses "debug", "info", "warn" or "error"; returns 0 or EINVAL. */
int base_log_level_parse(const char *name, enum base_log_level *out);

/* Sets how lines are written (logfmt until then). */
void base_log_format_set(enum base_log_format format);

/* Parses "logfmt" or "json"; returns 0 or EINVAL. */
int base_log_format_parse(const char *name, enum base_log_format *out);

/*
 * Writes one log line as a JSON object into out (cap bytes, at least 64):
 * "ts", "level" and "event", then each key=value of fields[0..len), the
 * logfmt text that callers of base_log_write format, in order. Every
 * value is a JSON string: a quoted one unquoted (\", \\ and \xHH undone),
 * control bytes escaped, invalid UTF-8 as U+FFFD. Text that is not a new
 * key= (a bare word, a key seen before, ts, level or event) stays with the
 * value before it, so that no key repeats and no byte is dropped. Too long
 * a line is cut at a character, its last string and the object closed.
 * Returns the length, "}
" included (0 when cap is too small).
 */
size_t base_log_json(const char *ts, const char *level, const char *event,
		     const char *fields, size_t len, char *out, size_t cap);

/*
 * Writes "ts=... level=... event=EVENT " followed by the formatted fields as
 * one line (or that line as JSON, base_log_json). Values that come from
 * clients must go through base_log_quote().
 */
void base_log_write(enum base_log_level level, const char *event,
		    const char *fmt, ...) __attribute__((format(printf, 3, 4)));

/*
 * Adds fields (logfmt, e.g. "api_id=..."; kept by pointer: it must live
 * until cleared) to every line the calling thread writes from now on, so
 * that each line a request causes names it; NULL or "" clears it.
 */
void base_log_context(const char *fields);

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
