/*
 * beat.h - heartbeats of the threads that must keep turning (event loops):
 * each stamps its beat at every turn, and the systemd watchdog is fed only
 * while every beat is fresh, so that a stuck loop gets the process
 * restarted.
 */
#ifndef BASE_BEAT_H
#define BASE_BEAT_H

#include <stdint.h>

#define BASE_BEAT_MAX 64

struct base_beat;

/*
 * Registers the calling loop under name (a static string) with a beat of
 * now. Returns NULL when BASE_BEAT_MAX loops are registered: that loop
 * is then not watched (base_beat and base_beat_del accept NULL).
 */
struct base_beat *base_beat_add(const char *name);

/* Stamps b's beat: the loop turned at now_ms (base_time_mono_ms()). */
void base_beat(struct base_beat *b, int64_t now_ms);

/* The loop ended: b is free again. */
void base_beat_del(struct base_beat *b);

/*
 * The name of a registered loop whose last beat is older than max_ms at
 * now_ms, or NULL when every one is fresh.
 */
const char *base_beat_stale(int64_t now_ms, int64_t max_ms);

#endif
