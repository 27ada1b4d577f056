/* test_sip_txn.c - the server transaction cache: answers, in-progress marks. */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>

#include <cmocka.h>

#include "sip/txn.h"

static void test_store_then_find(void **state)
{
	struct sip_txn_table *t;
	char buf[64];
	size_t len = 0;

	(void)state;
	assert_int_equal(sip_txn_table_new(&t, 1 << 20), 0);
	assert_int_equal(sip_txn_find(t, "k1", 2, 100, buf, sizeof(buf), &len),
			 ENOENT);
	assert_int_equal(sip_txn_store(t, "k1", 2, "SIP/2.0 200 OK", 14, 100),
			 0);
	assert_int_equal(sip_txn_find(t, "k1", 2, 101, buf, sizeof(buf), &len),
			 0);
	assert_int_equal(len, 14);
	assert_memory_equal(buf, "SIP/2.0 200 OK", 14);
	/* too small a buffer: not found rather than cut */
	assert_int_equal(sip_txn_find(t, "k1", 2, 101, buf, 4, &len), ENOENT);
	/* gone after Timer J */
	assert_int_equal(sip_txn_find(t, "k1", 2, 100 + SIP_TXN_LIFETIME_S + 1,
				      buf, sizeof(buf), &len),
			 ENOENT);
	sip_txn_table_free(t);
}

static void test_in_progress_then_answer(void **state)
{
	struct sip_txn_table *t;
	char buf[64];
	size_t len = 0;

	(void)state;
	assert_int_equal(sip_txn_table_new(&t, 1 << 20), 0);
	assert_int_equal(sip_txn_begin(t, "k2", 2, 100), 0);
	/* a retransmission meanwhile is absorbed */
	assert_int_equal(sip_txn_find(t, "k2", 2, 100, buf, sizeof(buf), &len),
			 EINPROGRESS);
	/* another key is unaffected */
	assert_int_equal(sip_txn_find(t, "k3", 2, 100, buf, sizeof(buf), &len),
			 ENOENT);
	/* the worker's final answer replaces the mark */
	assert_int_equal(sip_txn_store(t, "k2", 2, "SIP/2.0 503 x", 13, 101),
			 0);
	assert_int_equal(sip_txn_find(t, "k2", 2, 102, buf, sizeof(buf), &len),
			 0);
	assert_memory_equal(buf, "SIP/2.0 503 x", 13);
	/* a mark left alone expires like an answer */
	assert_int_equal(sip_txn_begin(t, "k4", 2, 100), 0);
	assert_int_equal(sip_txn_find(t, "k4", 2, 100 + SIP_TXN_LIFETIME_S + 1,
				      buf, sizeof(buf), &len),
			 ENOENT);
	sip_txn_table_free(t);
}

/* Past its budget the table drops its oldest answers, never a mark of a
 * transaction in progress (before that mark's lifetime ends). */
static void test_budget_drops_oldest_answers(void **state)
{
	struct sip_txn_table *t;
	char buf[64], key[32];
	size_t len = 0, count = 0, bytes = 0, one;
	unsigned found = 0;

	(void)state;
	/* Learn what one answered entry costs, then allow ten of them. */
	assert_int_equal(sip_txn_table_new(&t, 1 << 20), 0);
	assert_int_equal(
	    sip_txn_store(t, "k-000", 5, "SIP/2.0 200 OK", 14, 100), 0);
	sip_txn_stats(t, &count, &one);
	assert_int_equal(count, 1);
	sip_txn_table_free(t);

	assert_int_equal(sip_txn_table_new(&t, 10 * one), 0);
	assert_int_equal(sip_txn_begin(t, "busy1", 5, 100), 0);
	for (unsigned i = 0; i < 100; i++) {
		snprintf(key, sizeof(key), "k-%03u", i);
		assert_int_equal(
		    sip_txn_store(t, key, 5, "SIP/2.0 200 OK", 14, 100), 0);
	}
	sip_txn_stats(t, &count, &bytes);
	assert_true(bytes <= 10 * one);
	/* The mark stays, and the newest answers are the ones kept. */
	assert_int_equal(
	    sip_txn_find(t, "busy1", 5, 101, buf, sizeof(buf), &len),
	    EINPROGRESS);
	assert_int_equal(
	    sip_txn_find(t, "k-099", 5, 101, buf, sizeof(buf), &len), 0);
	assert_int_equal(
	    sip_txn_find(t, "k-000", 5, 101, buf, sizeof(buf), &len), ENOENT);
	for (unsigned i = 0; i < 100; i++) {
		snprintf(key, sizeof(key), "k-%03u", i);
		if (sip_txn_find(t, key, 5, 101, buf, sizeof(buf), &len) == 0)
			found++;
	}
	assert_in_range(found, 8, 9); /* the mark takes about one's room */
	assert_int_equal(count, found + 1);
	/* The mark's own answer replaces it. */
	assert_int_equal(sip_txn_store(t, "busy1", 5, "SIP/2.0 401 x", 13, 102),
			 0);
	assert_int_equal(
	    sip_txn_find(t, "busy1", 5, 102, buf, sizeof(buf), &len), 0);
	assert_memory_equal(buf, "SIP/2.0 401 x", 13);
	/* An expired mark goes with everything else of its age. */
	assert_int_equal(sip_txn_begin(t, "busy2", 5, 200), 0);
	assert_int_equal(sip_txn_store(t, "late", 4, "SIP/2.0 200 OK", 14,
				       200 + SIP_TXN_LIFETIME_S + 1),
			 0);
	sip_txn_stats(t, &count, &bytes);
	assert_int_equal(count, 1);
	sip_txn_table_free(t);
}

/* Every transaction of a storm is found for its lifetime while the budget
 * holds them (the buckets grow; nothing is dropped). */
static void test_many_kept_within_budget(void **state)
{
	struct sip_txn_table *t;
	char buf[64], key[32];
	size_t len = 0, count = 0, bytes = 0;

	(void)state;
	assert_int_equal(sip_txn_table_new(&t, 64u << 20), 0);
	for (unsigned i = 0; i < 100000; i++) {
		int n = snprintf(key, sizeof(key), "z9hG4bK-%u|h|5060|R", i);
		assert_int_equal(
		    sip_txn_store(t, key, (size_t)n, "SIP/2.0 200 OK", 14, 100),
		    0);
	}
	sip_txn_stats(t, &count, &bytes);
	assert_int_equal(count, 100000);
	for (unsigned i = 0; i < 100000; i += 997) {
		int n = snprintf(key, sizeof(key), "z9hG4bK-%u|h|5060|R", i);
		assert_int_equal(sip_txn_find(t, key, (size_t)n, 130, buf,
					      sizeof(buf), &len),
				 0);
	}
	sip_txn_table_free(t);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_store_then_find),
	    cmocka_unit_test(test_in_progress_then_answer),
	    cmocka_unit_test(test_budget_drops_oldest_answers),
	    cmocka_unit_test(test_many_kept_within_budget),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
