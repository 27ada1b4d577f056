/* time.c - clocks and ISO-8601 formatting. */
#include "base/time.h"

#include <stdio.h>
#include <string.h>
#include <time.h>

int64_t base_time_now_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_REALTIME, &ts);
	return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

int64_t base_time_mono_s(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (int64_t)ts.tv_sec;
}

int64_t base_time_mono_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

static _Thread_local int64_t deadline_ms;

void base_deadline_set(int64_t mono_ms)
{
	deadline_ms = mono_ms;
}

int64_t base_deadline_get(void)
{
	return deadline_ms;
}

int64_t base_deadline_left_ms(int64_t none)
{
	int64_t left;

	if (!deadline_ms)
		return none;
	left = deadline_ms - base_time_mono_ms();
	return left > 0 ? left : 0;
}

/* Writes v as n decimal digits, zero-padded. */
static char *digits(char *p, unsigned v, int n)
{
	for (int i = n - 1; i >= 0; i--) {
		p[i] = (char)('0' + v % 10);
		v /= 10;
	}
	return p + n;
}

char *base_time_iso(int64_t ms, char *out, size_t cap)
{
	char buf[32], *p = buf;
	int64_t days, secs;
	int64_t era, doe, yoe, doy, mp, y;
	unsigned d, m;
	size_t n;

	if (cap == 0)
		return out;
	if (ms < 0)
		ms = 0;
	if (ms > 253402300799999LL) /* 9999-12-31T23:59:59.999Z */
		ms = 253402300799999LL;
	days = ms / 86400000;
	secs = (ms / 1000) % 86400;
	/* the proleptic Gregorian date of a day count (days from civil, in
	 * reverse): no gmtime_r, whose time zone lock threads queue on */
	days += 719468;
	era = days / 146097;
	doe = days - era * 146097;
	yoe = (doe - doe / 1460 + doe / 36524 - doe / 146096) / 365;
	doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
	mp = (5 * doy + 2) / 153;
	d = (unsigned)(doy - (153 * mp + 2) / 5 + 1);
	m = (unsigned)(mp < 10 ? mp + 3 : mp - 9);
	y = yoe + era * 400 + (m <= 2);
	p = digits(p, (unsigned)y, 4);
	*p++ = '-';
	p = digits(p, m, 2);
	*p++ = '-';
	p = digits(p, d, 2);
	*p++ = 'T';
	p = digits(p, (unsigned)(secs / 3600), 2);
	*p++ = ':';
	p = digits(p, (unsigned)(secs / 60 % 60), 2);
	*p++ = ':';
	p = digits(p, (unsigned)(secs % 60), 2);
	*p++ = '.';
	p = digits(p, (unsigned)(ms % 1000), 3);
	*p++ = 'Z';
	n = (size_t)(p - buf) < cap ? (size_t)(p - buf) : cap - 1;
	memcpy(out, buf, n);
	out[n] = '\0';
	return out;
}
