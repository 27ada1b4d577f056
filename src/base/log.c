/* log.c - logfmt lines on stderr, one write(2) per event. */
#include "base/log.h"

#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include "base/time.h"

static enum base_log_level min_level = BASE_LOG_INFO;
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
	if (write(STDERR_FILENO, line, (size_t)n) < 0)
		return;
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
