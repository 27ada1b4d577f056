/* beat.c - the heartbeat table: fixed slots, atomics, no lock. */
#include "base/beat.h"

#include <stdatomic.h>
#include <stdbool.h>
#include <stddef.h>

#include "base/time.h"

struct base_beat {
	atomic_bool used;
	_Atomic(const char *) name;
	_Atomic int64_t last_ms;
};

static struct base_beat slots[BASE_BEAT_MAX];

struct base_beat *base_beat_add(const char *name)
{
	for (unsigned i = 0; i < BASE_BEAT_MAX; i++) {
		bool no = false;

		if (atomic_compare_exchange_strong(&slots[i].used, &no, true)) {
			atomic_store(&slots[i].last_ms, base_time_mono_ms());
			atomic_store(&slots[i].name, name);
			return &slots[i];
		}
	}
	return NULL;
}

void base_beat(struct base_beat *b, int64_t now_ms)
{
	if (b)
		atomic_store_explicit(&b->last_ms, now_ms,
				      memory_order_relaxed);
}

void base_beat_del(struct base_beat *b)
{
	if (!b)
		return;
	atomic_store(&b->name, NULL);
	atomic_store(&b->used, false);
}

const char *base_beat_stale(int64_t now_ms, int64_t max_ms)
{
	for (unsigned i = 0; i < BASE_BEAT_MAX; i++) {
		const char *name;

		if (!atomic_load(&slots[i].used))
			continue;
		name = atomic_load(&slots[i].name);
		if (name && now_ms - atomic_load(&slots[i].last_ms) > max_ms)
			return name;
	}
	return NULL;
}
