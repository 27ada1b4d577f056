/* metrics.c - the metric registry and its Prometheus text exposition. */
#include "base/metrics.h"

#include <errno.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

static struct metric_family *registry;

const char *const METRIC_STATUS_CLASS[6] = {"1xx", "2xx", "3xx",
					    "4xx", "5xx", "6xx"};

const double METRIC_LATENCY_BOUNDS[14] = {0.0005, 0.001, 0.0025, 0.005, 0.01,
					  0.025,  0.05,	 0.1,	 0.25,	0.5,
					  1,	  2.5,	 5,	 10};

void metric_register(struct metric_family *f)
{
	/* at load time, one thread: no lock */
	f->next = registry;
	registry = f;
}

static unsigned nval(const struct metric_family *f, unsigned k)
{
	return f->label[k] ? f->nvalues[k] : 1;
}

/* The series index of (i, j), or -1 when out of range. */
static long series(const struct metric_family *f, unsigned i, unsigned j)
{
	if (i >= nval(f, 0) || j >= nval(f, 1))
		return -1;
	return (long)i * nval(f, 1) + j;
}

void metric_add(struct metric_family *f, unsigned i, unsigned j, uint64_t n)
{
	long s = series(f, i, j);

	if (s >= 0)
		atomic_fetch_add_explicit(&f->v[s], n, memory_order_relaxed);
}

void metric_set(struct metric_family *f, unsigned i, unsigned j, int64_t v)
{
	long s = series(f, i, j);

	if (s >= 0)
		atomic_store_explicit(&f->v[s], (uint64_t)v,
				      memory_order_relaxed);
}

void metric_observe(struct metric_family *f, unsigned i, unsigned j, uint64_t v)
{
	long s = series(f, i, j);
	_Atomic uint64_t *h;
	unsigned b = 0;

	if (s < 0)
		return;
	h = f->v + (size_t)s * (f->nbounds + 3);
	while (b < f->nbounds && (double)v > f->bounds[b] * f->scale)
		b++;
	atomic_fetch_add_explicit(&h[b], 1, memory_order_relaxed);
	atomic_fetch_add_explicit(&h[f->nbounds + 1], 1, memory_order_relaxed);
	atomic_fetch_add_explicit(&h[f->nbounds + 2], v, memory_order_relaxed);
}

void metric_bind(struct metric_family *f, metric_read_fn fn, void *ctx)
{
	f->read = fn;
	f->read_ctx = ctx;
}

unsigned metric_status_class(unsigned status)
{
	if (status < 100 || status > 699)
		return 4; /* what the servers answer for nonsense: 5xx */
	return status / 100 - 1;
}

uint64_t metric_now_us(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000000u + (uint64_t)ts.tv_nsec / 1000u;
}

static int by_name(const void *a, const void *b)
{
	return strcmp((*(struct metric_family *const *)a)->name,
		      (*(struct metric_family *const *)b)->name);
}

/* The registry as an array sorted by name (malloc'd), or NULL. */
static struct metric_family **sorted(size_t *n)
{
	struct metric_family **v, *f;
	size_t k = 0;

	*n = 0;
	for (f = registry; f; f = f->next)
		k++;
	v = calloc(k ? k : 1, sizeof(*v));
	if (!v)
		return NULL;
	for (f = registry; f; f = f->next)
		v[(*n)++] = f;
	qsort(v, *n, sizeof(*v), by_name);
	return v;
}

static const char *kind_name(enum metric_kind k)
{
	return k == METRIC_COUNTER ? "counter"
	       : k == METRIC_GAUGE ? "gauge"
				   : "histogram";
}

/* Writes the label set {a="x",b="y"[,le="..."]} of series (i, j). */
static void labels(FILE *o, const struct metric_family *f, unsigned i,
		   unsigned j, const char *le)
{
	unsigned idx[METRIC_LABELS] = {i, j};
	bool any = false;

	for (unsigned k = 0; k < METRIC_LABELS; k++) {
		if (!f->label[k])
			continue;
		fprintf(o, "%s%s=\"", any ? "," : "{", f->label[k]);
		for (const char *p = f->values[k][idx[k]]; *p; p++) {
			if (*p == '\\' || *p == '"')
				fputc('\\', o);
			if (*p == '\n')
				fputs("\\n", o);
			else
				fputc(*p, o);
		}
		fputc('"', o);
		any = true;
	}
	if (le) {
		fprintf(o, "%sle=\"%s\"", any ? "," : "{", le);
		any = true;
	}
	if (any)
		fputc('}', o);
}

static void render_one(FILE *o, const struct metric_family *f)
{
	fprintf(o, "# HELP %s %s\n# TYPE %s %s\n", f->name, f->help, f->name,
		kind_name(f->kind));
	for (unsigned i = 0; i < nval(f, 0); i++) {
		for (unsigned j = 0; j < nval(f, 1); j++) {
			size_t s = (size_t)series(f, i, j);
			double d;

			if (f->kind == METRIC_HISTOGRAM) {
				const _Atomic uint64_t *h =
				    f->v + s * (f->nbounds + 3);
				uint64_t cum = 0;
				char le[32];

				for (unsigned b = 0; b <= f->nbounds; b++) {
					cum += atomic_load_explicit(
					    &h[b], memory_order_relaxed);
					if (b < f->nbounds)
						snprintf(le, sizeof(le), "%g",
							 f->bounds[b]);
					else
						snprintf(le, sizeof(le),
							 "+Inf");
					fprintf(o, "%s_bucket", f->name);
					labels(o, f, i, j, le);
					fprintf(o, " %llu\n",
						(unsigned long long)cum);
				}
				/* the count is the +Inf bucket's, so that
				 * the two agree whatever moved meanwhile */
				fprintf(o, "%s_sum", f->name);
				labels(o, f, i, j, NULL);
				fprintf(o, " %.6f\n",
					(double)atomic_load_explicit(
					    &h[f->nbounds + 2],
					    memory_order_relaxed) /
					    f->scale);
				fprintf(o, "%s_count", f->name);
				labels(o, f, i, j, NULL);
				fprintf(o, " %llu\n", (unsigned long long)cum);
				continue;
			}
			if (f->read) {
				if (f->read(f->read_ctx, i, j, &d))
					continue;
				fprintf(o, "%s", f->name);
				labels(o, f, i, j, NULL);
				fprintf(o, " %.17g\n", d);
				continue;
			}
			if (!f->v)
				continue; /* a read gauge not bound (yet) */
			fprintf(o, "%s", f->name);
			labels(o, f, i, j, NULL);
			if (f->kind == METRIC_GAUGE)
				fprintf(o, " %lld\n",
					(long long)atomic_load_explicit(
					    &f->v[s], memory_order_relaxed));
			else
				fprintf(
				    o, " %llu\n",
				    (unsigned long long)atomic_load_explicit(
					&f->v[s], memory_order_relaxed));
		}
	}
}

/* Calls each(o, f) for every family sorted by name, after head (may be
 * NULL), into a malloc'd string. Returns 0 or ENOMEM. */
static int write_all(char **out, size_t *len, const char *head,
		     void (*each)(FILE *o, const struct metric_family *f))
{
	struct metric_family **v;
	FILE *o = NULL;
	size_t n;
	int err = ENOMEM;

	*out = NULL;
	*len = 0;
	v = sorted(&n);
	if (!v)
		goto out;
	o = open_memstream(out, len);
	if (!o)
		goto out;
	if (head)
		fputs(head, o);
	for (size_t k = 0; k < n; k++)
		each(o, v[k]);
	if (fclose(o) == 0)
		err = 0;
	o = NULL;
out:
	if (o)
		fclose(o);
	if (err) {
		free(*out);
		*out = NULL;
		*len = 0;
	}
	free(v);
	return err;
}

int metric_render(char **out, size_t *len)
{
	return write_all(out, len, NULL, render_one);
}

/* One row of metric_doc's table. */
static void doc_one(FILE *o, const struct metric_family *f)
{
	fprintf(o, "| `%s` | %s | ", f->name, kind_name(f->kind));
	for (unsigned l = 0; l < METRIC_LABELS; l++) {
		if (!f->label[l])
			continue;
		fprintf(o, "%s`%s` (", l ? "; " : "", f->label[l]);
		for (unsigned x = 0; x < f->nvalues[l]; x++)
			fprintf(o, "%s%s", x ? ", " : "", f->values[l][x]);
		fputc(')', o);
	}
	if (f->kind == METRIC_HISTOGRAM)
		fprintf(o, "%sbuckets %g to %g", f->label[0] ? "; " : "",
			f->bounds[0], f->bounds[f->nbounds - 1]);
	fprintf(o, " | %s |\n", f->help);
}

int metric_doc(char **out, size_t *len)
{
	return write_all(out, len,
			 "| metric | type | labels | what it counts |\n"
			 "|---|---|---|---|\n",
			 doc_one);
}
