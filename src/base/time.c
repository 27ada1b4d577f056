/* time.c - clocks and ISO-8601 formatting. */
#include "base/time.h"

#include <stdio.h>
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

char *base_time_iso(int64_t ms, char *out, size_t cap)
{
	time_t s = (time_t)(ms / 1000);
	struct tm tm;

	if (cap == 0)
		return out;
	if (ms < 0)
		ms = 0;
	if (!gmtime_r(&s, &tm)) {
		out[0] = '\0';
		return out;
	}
	snprintf(out, cap, "%04d-%02d-%02dT%02d:%02d:%02d.%03dZ",
		 tm.tm_year + 1900, tm.tm_mon + 1, tm.tm_mday, tm.tm_hour,
		 tm.tm_min, tm.tm_sec, (int)(ms % 1000));
	return out;
}
