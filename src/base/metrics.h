/*
 * metrics.h - process-wide counters, gauges and histograms, written in
 * Prometheus's text exposition format. Each layer declares its own
 * families (METRIC_FAMILY) with fixed label values, so that no request can
 * create a series; an update is one relaxed atomic add, never a lock.
 */
#ifndef BASE_METRICS_H
#define BASE_METRICS_H

#include <stdatomic.h>
#include <stddef.h>
#include <stdint.h>

enum metric_kind { METRIC_COUNTER, METRIC_GAUGE, METRIC_HISTOGRAM };

/* A gauge's value, read when the metrics are written (a scrape). */
typedef int (*metric_read_fn)(void *ctx, unsigned i, unsigned j, double *out);

#define METRIC_LABELS 2

struct metric_family {
	const char *name; /* sipward_..., with its unit and _total */
	const char *help;
	enum metric_kind kind;
	/* up to two labels, each with its fixed values (NULL: none) */
	const char *label[METRIC_LABELS];
	const char *const *values[METRIC_LABELS];
	unsigned nvalues[METRIC_LABELS];
	/*
	 * Histograms: upper bounds (+Inf implied), ascending, in the unit
	 * of the name; observations are integers of 1/scale of that unit
	 * (scale 1e6: seconds observed in microseconds; 1: counts).
	 */
	const double *bounds;
	unsigned nbounds;
	double scale;
	/*
	 * Storage: one value per series (counters, gauges set by owners),
	 * or per series nbounds + 1 bucket counts, then the count and the
	 * sum in microseconds (histograms). Sized by METRIC_CELLS.
	 */
	_Atomic uint64_t *v;
	/* gauges whose value is read at scrape time instead of stored */
	metric_read_fn read;
	void *read_ctx;
	struct metric_family *next; /* the registry, linked at load */
};

/* The number of series of a family with n0 and n1 label values. */
#define METRIC_SERIES(n0, n1) ((n0 ? n0 : 1) * (n1 ? n1 : 1))
/* Cells of storage for a histogram with nb bounds. */
#define METRIC_HCELLS(series, nb) ((series) * ((nb) + 3))

/* Links f into the registry (at load time: METRIC_REGISTER). */
void metric_register(struct metric_family *f);

/* Registers a family when the program loads, so that it is always listed. */
#define METRIC_REGISTER(fam)                                          \
	__attribute__((constructor)) static void fam##_register(void) \
	{                                                             \
		metric_register(&fam);                                \
	}

/* Adds n to series (i, j) of a counter (indexes out of range: ignored). */
void metric_add(struct metric_family *f, unsigned i, unsigned j, uint64_t n);

/* Sets series (i, j) of a gauge that its owner keeps. */
void metric_set(struct metric_family *f, unsigned i, unsigned j, int64_t v);

/* Records one observation of v (1/scale units) in series (i, j). */
void metric_observe(struct metric_family *f, unsigned i, unsigned j,
		    uint64_t v);

/*
 * Makes a gauge read its values through fn(ctx, i, j, &value) at each
 * scrape (a series whose fn fails is left out); fn NULL unbinds. Call it
 * before the admin listener starts and unbind after it stopped.
 */
void metric_bind(struct metric_family *f, metric_read_fn fn, void *ctx);

/*
 * Writes every registered family, sorted by name, in the text exposition
 * format (version 0.0.4) into a malloc'd string. Returns 0 or ENOMEM.
 */
int metric_render(char **out, size_t *len);

/* Writes a Markdown table of every family (name, type, labels, help). */
int metric_doc(char **out, size_t *len);

/* Index of a status code's class (1xx -> 0 ... 5xx -> 4; 6xx -> 5). */
unsigned metric_status_class(unsigned status);

/* The status class labels: "1xx" ... "6xx". */
extern const char *const METRIC_STATUS_CLASS[6];

/* Microseconds of CLOCK_MONOTONIC, for latencies. */
uint64_t metric_now_us(void);

/* Buckets for request latencies in seconds, 0.5 ms to 10 s. */
extern const double METRIC_LATENCY_BOUNDS[14];

/* A latency histogram's bounds and scale (microseconds observed). */
#define METRIC_LATENCY \
	.bounds = METRIC_LATENCY_BOUNDS, .nbounds = 14, .scale = 1e6

#endif
