/* test_metrics.c - the metric registry and its text exposition. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "base/metrics.h"

static const char *const COLORS[2] = {"red", "bl\"ue"};
static const char *const SIZES[3] = {"s", "m", "l"};

static _Atomic uint64_t cnt_v[6];
static struct metric_family t_counter = {.name = "sipward_test_things_total",
					 .help = "Things.",
					 .kind = METRIC_COUNTER,
					 .label = {"color", "size"},
					 .values = {COLORS, SIZES},
					 .nvalues = {2, 3},
					 .v = cnt_v};
METRIC_REGISTER(t_counter)

static const double BOUNDS[3] = {0.001, 0.01, 0.1};
static _Atomic uint64_t hist_v[METRIC_HCELLS(1, 3)];
static struct metric_family t_hist = {.name = "sipward_test_wait_seconds",
				      .help = "Waits.",
				      .kind = METRIC_HISTOGRAM,
				      .bounds = BOUNDS,
				      .nbounds = 3,
				      .scale = 1e6,
				      .v = hist_v};
METRIC_REGISTER(t_hist)

static struct metric_family t_gauge = {.name = "sipward_test_level",
				       .help = "A level read at scrape time.",
				       .kind = METRIC_GAUGE,
				       .label = {"size"},
				       .values = {SIZES},
				       .nvalues = {3}};
METRIC_REGISTER(t_gauge)

static int read_level(void *ctx, unsigned i, unsigned j, double *out)
{
	(void)j;
	if (i == 1)
		return 1; /* left out */
	*out = *(double *)ctx + i;
	return 0;
}

static char *render(void)
{
	char *s;
	size_t n;

	assert_int_equal(metric_render(&s, &n), 0);
	assert_int_equal(strlen(s), n);
	return s;
}

static void test_counter_series(void **state)
{
	char *s;

	(void)state;
	metric_add(&t_counter, 1, 2, 5);
	metric_add(&t_counter, 1, 2, 1);
	metric_add(&t_counter, 2, 0, 7); /* out of range: ignored */
	metric_add(&t_counter, 0, 3, 7);
	s = render();
	assert_non_null(
	    strstr(s, "# TYPE sipward_test_things_total counter\n"));
	assert_non_null(
	    strstr(s, "sipward_test_things_total{color=\"bl\\\"ue\",size=\"l\"}"
		      " 6\n"));
	assert_non_null(strstr(
	    s, "sipward_test_things_total{color=\"red\",size=\"s\"} 0\n"));
	assert_null(strstr(s, " 7\n"));
	free(s);
}

static void test_histogram_cumulative(void **state)
{
	char *s;

	(void)state;
	metric_observe(&t_hist, 0, 0, 500);	/* 0.5 ms */
	metric_observe(&t_hist, 0, 0, 1000);	/* 1 ms: le="0.001" */
	metric_observe(&t_hist, 0, 0, 50000);	/* 50 ms */
	metric_observe(&t_hist, 0, 0, 2000000); /* 2 s: +Inf only */
	s = render();
	assert_non_null(
	    strstr(s, "sipward_test_wait_seconds_bucket{le=\"0.001\"}"
		      " 2\n"
		      "sipward_test_wait_seconds_bucket{le=\"0.01\"}"
		      " 2\n"
		      "sipward_test_wait_seconds_bucket{le=\"0.1\"} 3\n"
		      "sipward_test_wait_seconds_bucket{le=\"+Inf\"}"
		      " 4\n"
		      "sipward_test_wait_seconds_sum 2.051500\n"
		      "sipward_test_wait_seconds_count 4\n"));
	free(s);
}

static void test_gauge_read_at_scrape(void **state)
{
	double base = 41;
	char *s;

	(void)state;
	s = render(); /* not bound: no sample */
	assert_non_null(strstr(s, "# TYPE sipward_test_level gauge\n"));
	assert_null(strstr(s, "sipward_test_level{"));
	free(s);
	metric_bind(&t_gauge, read_level, &base);
	s = render();
	assert_non_null(strstr(s, "sipward_test_level{size=\"s\"} 41\n"));
	assert_null(strstr(s, "sipward_test_level{size=\"m\"}"));
	assert_non_null(strstr(s, "sipward_test_level{size=\"l\"} 43\n"));
	free(s);
	metric_bind(&t_gauge, NULL, NULL);
}

static void test_sorted_and_documented(void **state)
{
	char *s, *doc;
	size_t n;

	(void)state;
	s = render();
	assert_true(strstr(s, "sipward_test_level") <
		    strstr(s, "sipward_test_things_total"));
	assert_true(strstr(s, "sipward_test_things_total") <
		    strstr(s, "sipward_test_wait_seconds"));
	free(s);
	assert_int_equal(metric_doc(&doc, &n), 0);
	assert_non_null(strstr(doc, "| `sipward_test_things_total` | counter | "
				    "`color` (red, bl\"ue); `size` (s, m, l) "
				    "| Things. |\n"));
	free(doc);
}

static void test_status_class(void **state)
{
	(void)state;
	assert_int_equal(metric_status_class(100), 0);
	assert_int_equal(metric_status_class(202), 1);
	assert_int_equal(metric_status_class(404), 3);
	assert_int_equal(metric_status_class(599), 4);
	assert_int_equal(metric_status_class(603), 5);
	assert_int_equal(metric_status_class(42), 4);
	assert_int_equal(metric_status_class(700), 4);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_counter_series),
	    cmocka_unit_test(test_histogram_cumulative),
	    cmocka_unit_test(test_gauge_read_at_scrape),
	    cmocka_unit_test(test_sorted_and_documented),
	    cmocka_unit_test(test_status_class),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
