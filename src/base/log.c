/* log.c - logfmt lines on stderr, one write(2) per event (or per batch of
 * an event loop that holds them). */
#include "base/log.h"

#include <errno.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include "base/time.h"

static enum base_log_level min_level = BASE_LOG_INFO;

/* Lines the calling thread holds for one write(2) (base_log_hold). */
#define HOLD_CAP 4096 /* PIPE_BUF: one write to a pipe stays whole */
static _Thread_local struct {
	bool on;
	size_t len;
	char buf[HOLD_CAP];
} hold;
static const char *const level_names[] = {"debug", "info", "warn", "error"};

void base_log_level_set(enum base_log_level level)
{
	min_level = level;
}

int base_log_level_parse(const char *name, enum base_log_level *out)
{
	for (unsigned i = 0; i < 4; i++) {
		if (strcmp(name, level_names[i]) == 0) {
			*out = (enum base_log_level)i;
			return 0;
		}
	}
	return EINVAL;
}

void base_log_write(enum base_log_level level, const char *event,
		    const char *fmt, ...)
{
	char line[2048];
	char ts[32];
	va_list ap;
	int n, m;

	if (level < min_level)
		return;
	base_time_iso(base_time_now_ms(), ts, sizeof(ts));
	n = snprintf(line, sizeof(line), "ts=%s level=%s event=%s ", ts,
		     level_names[level], event);
	if (n < 0 || (size_t)n >= sizeof(line))
		return;
	va_start(ap, fmt);
	m = vsnprintf(line + n, sizeof(line) - (size_t)n - 1, fmt, ap);
	va_end(ap);
	if (m < 0)
		return;
	n += m;
	if ((size_t)n > sizeof(line) - 2)
		n = sizeof(line) - 2;
	line[n++] = '\n';
	if (hold.on) {
		if (hold.len + (size_t)n > HOLD_CAP)
			base_log_flush();
		memcpy(hold.buf + hold.len, line, (size_t)n);
		hold.len += (size_t)n;
		if (level >= BASE_LOG_WARN)
			base_log_flush();
		return;
	}
	if (write(STDERR_FILENO, line, (size_t)n) < 0)
		return;
}

void base_log_hold(void)
{
	hold.on = true;
}

void base_log_flush(void)
{
	size_t off = 0;

	while (off < hold.len) {
		ssize_t n =
		    write(STDERR_FILENO, hold.buf + off, hold.len - off);
		if (n < 0 && errno == EINTR)
			continue;
		if (n <= 0)
			break;
		off += (size_t)n;
	}
	hold.len = 0;
}

const char *base_log_quote(const char *src, char *out, unsigned cap)
{
	unsigned o = 0;

	if (cap < 3)
		return "";
	out[o++] = '"';
	for (; src && *src && o + 5 < cap; src++) {
		unsigned char c = (unsigned char)*src;
		if (c == '"' || c == '\\') {
			out[o++] = '\\';
			out[o++] = (char)c;
		} else if (c < 0x20 || c == 0x7f) {
			static const char hex[] = "0123456789abcdef";
			out[o++] = '\\';
			out[o++] = 'x';
			out[o++] = hex[c >> 4];
			out[o++] = hex[c & 15];
		} else {
			out[o++] = (char)c;
		}
	}
	out[o++] = '"';
	out[o] = '\0';
	return out;
}
