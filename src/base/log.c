/* log.c - logfmt (or JSON) lines on stderr, one write(2) per event (or per
 * batch of an event loop that holds them). */
#include "base/log.h"

#include <errno.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include "base/text.h"
#include "base/time.h"

static enum base_log_level min_level = BASE_LOG_INFO;
static enum base_log_format format = BASE_LOG_LOGFMT;

/* Fields the calling thread adds to each of its lines (base_log_context). */
static _Thread_local const char *context;

void base_log_context(const char *fields)
{
	context = fields && fields[0] ? fields : NULL;
}

/* Appends " context" to fields (n bytes of cap); returns the new length. */
static size_t add_context(char *fields, size_t n, size_t cap)
{
	size_t c;

	if (!context || n + 2 >= cap)
		return n;
	c = strlen(context);
	if (c > cap - n - 2)
		c = cap - n - 2;
	fields[n++] = ' ';
	memcpy(fields + n, context, c);
	return n + c;
}

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

void base_log_format_set(enum base_log_format f)
{
	format = f;
}

int base_log_format_parse(const char *name, enum base_log_format *out)
{
	if (strcmp(name, "logfmt") == 0)
		*out = BASE_LOG_LOGFMT;
	else if (strcmp(name, "json") == 0)
		*out = BASE_LOG_JSON;
	else
		return EINVAL;
	return 0;
}

/* Writes a finished line now, or into the thread's held lines. */
static void emit(enum base_log_level level, const char *line, size_t n)
{
	if (hold.on) {
		if (hold.len + n > HOLD_CAP)
			base_log_flush();
		memcpy(hold.buf + hold.len, line, n);
		hold.len += n;
		if (level >= BASE_LOG_WARN)
			base_log_flush();
		return;
	}
	if (write(STDERR_FILENO, line, n) < 0)
		return;
}

/*
 * The line of base_log_write in JSON: its fields, then converted. Not
 * inlined: its buffers stay off the logfmt path's stack frame.
 */
__attribute__((format(printf, 4, 0), noinline)) static void
write_json(enum base_log_level level, const char *ts, const char *event,
	   const char *fmt, va_list ap)
{
	char fields[2048], line[BASE_LOG_JSON_MAX];
	int m = vsnprintf(fields, sizeof(fields), fmt, ap);
	size_t n;

	if (m < 0)
		return;
	if ((size_t)m >= sizeof(fields))
		m = sizeof(fields) - 1;
	m = (int)add_context(fields, (size_t)m, sizeof(fields));
	n = base_log_json(ts, level_names[level], event, fields, (size_t)m,
			  line, sizeof(line));
	if (n)
		emit(level, line, n);
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
	if (format == BASE_LOG_JSON) {
		va_start(ap, fmt);
		write_json(level, ts, event, fmt, ap);
		va_end(ap);
		return;
	}
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
	n = (int)add_context(line, (size_t)n, sizeof(line) - 1);
	line[n++] = '\n';
	emit(level, line, (size_t)n);
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

/* ---- logfmt to JSON (base_log_json) ---- */

/* Keys remembered to refuse a repeated one; more are taken as text. */
#define JSON_KEYS_MAX 32
#define JSON_KEY_MAX 64

/* A JSON line being written: out[0..n), never past lim (cap less room to
 * close the last string and the object: "\"}\n"). */
struct jw {
	char *out;
	size_t n, lim;
	bool full; /* something did not fit: nothing more is written */
	/* UTF-8 being checked: a sequence's bytes so far and what it needs */
	unsigned char seq[4];
	unsigned nseq, need;
	unsigned char lo, hi; /* the range of its next byte */
};

/* Appends p[0..k) whole, or nothing (and the line is full). */
static void put(struct jw *w, const char *p, size_t k)
{
	if (w->full || w->n + k > w->lim) {
		w->full = true;
		return;
	}
	memcpy(w->out + w->n, p, k);
	w->n += k;
}

/* \uXXXX: for a control byte, or U+0085, U+2028, U+2029 (line breaks to
 * some readers: Python's splitlines, JavaScript before ES2019). */
static void put_u(struct jw *w, unsigned cp)
{
	static const char hex[] = "0123456789abcdef";
	char e[6] = {'\\',
		     'u',
		     hex[(cp >> 12) & 15],
		     hex[(cp >> 8) & 15],
		     hex[(cp >> 4) & 15],
		     hex[cp & 15]};

	put(w, e, sizeof(e));
}

/* An ASCII byte, escaped as JSON needs. */
static void put_ascii(struct jw *w, unsigned char c)
{
	char e[2] = {'\\', (char)c};

	if (c == '"' || c == '\\') {
		put(w, e, 2);
	} else if (c == '\n' || c == '\t' || c == '\r') {
		e[1] = c == '\n' ? 'n' : c == '\t' ? 't' : 'r';
		put(w, e, 2);
	} else if (c < 0x20 || c == 0x7f) {
		put_u(w, c);
	} else {
		put(w, (const char *)&c, 1);
	}
}

/*
 * A whole UTF-8 sequence (w->seq, its last byte `last`): as it is, but
 * U+0085, U+2028 and U+2029 escaped.
 */
static void put_seq(struct jw *w, unsigned char last)
{
	const unsigned char *q = w->seq;

	if (q[0] == 0xc2 && last == 0x85)
		put_u(w, 0x85);
	else if (q[0] == 0xe2 && q[1] == 0x80 && (last == 0xa8 || last == 0xa9))
		put_u(w, last == 0xa8 ? 0x2028 : 0x2029);
	else
		put(w, (const char *)q,
		    q[0] >= 0xf0   ? 4
		    : q[0] >= 0xe0 ? 3
				   : 2);
}

/* Ends a UTF-8 sequence that broke off: one U+FFFD for it. */
static void utf8_broken(struct jw *w)
{
	if (w->nseq)
		put(w, "\\ufffd", 6);
	w->nseq = w->need = 0;
}

/* One byte of a value's text: UTF-8 checked (RFC 3629: no overlong
 * forms, no surrogates, nothing past U+10FFFF), escaped as JSON needs. */
static void put_byte(struct jw *w, unsigned char c)
{
	if (w->need) {
		if (c >= w->lo && c <= w->hi) {
			w->seq[w->nseq++] = c;
			w->lo = 0x80;
			w->hi = 0xbf;
			if (--w->need)
				return;
			w->nseq = 0;
			put_seq(w, c);
			return;
		}
		utf8_broken(w); /* then c on its own */
	}
	w->lo = 0x80;
	w->hi = 0xbf;
	if (c < 0x80) {
		put_ascii(w, c);
		return;
	} else if (c >= 0xc2 && c <= 0xdf) {
		w->need = 1;
	} else if (c >= 0xe0 && c <= 0xef) {
		w->need = 2;
		if (c == 0xe0)
			w->lo = 0xa0; /* no overlong form */
		else if (c == 0xed)
			w->hi = 0x9f; /* no surrogate */
	} else if (c >= 0xf0 && c <= 0xf4) {
		w->need = 3;
		if (c == 0xf0)
			w->lo = 0x90;
		else if (c == 0xf4)
			w->hi = 0x8f; /* nothing past U+10FFFF */
	} else {
		put(w, "\\ufffd", 6);
		return;
	}
	w->seq[0] = c;
	w->nseq = 1;
}

/* Raw text of a value, byte by byte. */
static void put_text(struct jw *w, const char *p, size_t k)
{
	for (size_t i = 0; i < k && !w->full; i++)
		put_byte(w, (unsigned char)p[i]);
}

static bool key_char(char c)
{
	return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') ||
	       (c >= '0' && c <= '9') || c == '_';
}

/* The length of the key= at p (0 when p has none): [A-Za-z0-9_]+ then
 * '=', at most JSON_KEY_MAX long. */
static size_t key_at(const char *p, const char *end)
{
	size_t k = 0;

	while (p + k < end && key_char(p[k]) && k <= JSON_KEY_MAX)
		k++;
	return k && k <= JSON_KEY_MAX && p + k < end && p[k] == '=' ? k : 0;
}

/*
 * A quoted value from p (just past its opening quote): writes its text
 * and returns where the fields go on. It ends at a quote followed by the
 * end, or by spaces and the end or a key= (a quote elsewhere is text, as
 * a caller's "%s" may hold some).
 */
static const char *put_quoted(struct jw *w, const char *p, const char *end)
{
	while (p < end && !w->full) {
		int h, l;

		if (*p == '"') {
			const char *q = p + 1;
			while (q < end && *q == ' ')
				q++;
			if (q == end || (q > p + 1 && key_at(q, end)))
				return p + 1;
			put_byte(w, '"');
			p++;
		} else if (*p == '\\' && p + 1 < end &&
			   (p[1] == '"' || p[1] == '\\')) {
			put_byte(w, (unsigned char)p[1]);
			p += 2;
		} else if (*p == '\\' && p + 3 < end && p[1] == 'x' &&
			   (h = base_hex_digit(p[2])) >= 0 &&
			   (l = base_hex_digit(p[3])) >= 0) {
			put_byte(w, (unsigned char)(h << 4 | l));
			p += 4;
		} else {
			put_byte(w, (unsigned char)*p++);
		}
	}
	return end;
}

/* Whether key k (its n bytes) may start a field: not seen before. */
static bool key_new(const char *k, size_t n, const char **keys, size_t *lens,
		    unsigned *nkeys)
{
	static const char *const fixed[] = {"ts", "level", "event"};

	for (unsigned i = 0; i < 3; i++)
		if (strlen(fixed[i]) == n && memcmp(fixed[i], k, n) == 0)
			return false;
	for (unsigned i = 0; i < *nkeys; i++)
		if (lens[i] == n && memcmp(keys[i], k, n) == 0)
			return false;
	if (*nkeys == JSON_KEYS_MAX)
		return false;
	keys[*nkeys] = k;
	lens[(*nkeys)++] = n;
	return true;
}

/* "key": as the start of a field, whole or not at all. */
static void put_key(struct jw *w, const char *k, size_t n)
{
	char buf[JSON_KEY_MAX + 8];

	buf[0] = ',';
	buf[1] = '"';
	memcpy(buf + 2, k, n);
	memcpy(buf + 2 + n, "\":\"", 3);
	put(w, buf, n + 5);
}

size_t base_log_json(const char *ts, const char *level, const char *event,
		     const char *fields, size_t len, char *out, size_t cap)
{
	struct jw w = {.out = out, .lim = cap - 3};
	const char *p = fields, *end = fields + len;
	const char *keys[JSON_KEYS_MAX];
	size_t lens[JSON_KEYS_MAX];
	unsigned nkeys = 0;
	bool open = false; /* a value's string is open (at the end) */

	if (cap < 64)
		return 0;
	put(&w, "{\"ts\":\"", 7);
	put_text(&w, ts, strlen(ts));
	put(&w, "\",\"level\":\"", 11);
	put_text(&w, level, strlen(level));
	put(&w, "\",\"event\":\"", 11);
	put_text(&w, event, strlen(event));
	utf8_broken(&w);
	put(&w, "\"", 1);
	if (w.full)
		return 0;
	while (p < end && !w.full) {
		const char *word = p;
		size_t k;

		while (p < end && *p == ' ')
			p++;
		if (p == end)
			break;
		k = key_at(p, end);
		if (k && key_new(p, k, keys, lens, &nkeys)) {
			size_t mark = w.n;
			if (open)
				put(&w, "\"", 1);
			put_key(&w, p, k);
			if (w.full) {
				w.n = mark; /* the last value stays open */
				break;
			}
			open = true;
			p += k + 1;
			if (p < end && *p == '"')
				p = put_quoted(&w, p + 1, end);
			else
				for (; p < end && *p != ' ' && !w.full; p++)
					put_byte(&w, (unsigned char)*p);
			utf8_broken(&w);
			continue;
		}
		/* Text: with the value before it, spaces and all. */
		if (!open) {
			key_new("_", 1, keys, lens, &nkeys);
			put(&w, ",\"_\":\"", 6);
			if (w.full)
				break;
			open = true;
			word = p;
		}
		for (; word < end && (word < p || *word != ' ') && !w.full;
		     word++)
			put_byte(&w, (unsigned char)*word);
		p = word;
		utf8_broken(&w);
	}
	utf8_broken(&w); /* (nothing, when full: a cut sequence is dropped) */
	/* The room kept by lim: close the string, the object, the line. */
	w.full = false;
	w.lim = cap;
	if (open)
		put(&w, "\"", 1);
	put(&w, "}\n", 2);
	return w.n;
}
