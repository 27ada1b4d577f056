/* test_sip_txn.c - the server transaction cache: answers, in-progress marks. */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include <cmocka.h>

#include "sip/txn.h"

static void test_store_then_find(void **state)
{
	struct sip_txn_table *t;
	char buf[64];
	size_t len = 0;

	(void)state;
	assert_int_equal(sip_txn_table_new(&t, 16), 0);
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
	assert_int_equal(sip_txn_table_new(&t, 16), 0);
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

static void test_in_progress_mark_never_evicted(void **state)
{
	struct sip_txn_table *t;
	char buf[64];
	size_t len = 0;

	(void)state;
	/* One slot: every key shares it. */
	assert_int_equal(sip_txn_table_new(&t, 1), 0);
	assert_int_equal(sip_txn_begin(t, "k5", 2, 100), 0);
	/* Other transactions cannot take the slot while k5 is in a worker. */
	assert_int_equal(sip_txn_store(t, "k6", 2, "SIP/2.0 200 OK", 14, 100),
			 EBUSY);
	assert_int_equal(sip_txn_begin(t, "k7", 2, 100), EBUSY);
	assert_int_equal(sip_txn_find(t, "k5", 2, 101, buf, sizeof(buf), &len),
			 EINPROGRESS);
	/* Its own answer replaces the mark; then the slot is free to reuse. */
	assert_int_equal(sip_txn_store(t, "k5", 2, "SIP/2.0 200 OK", 14, 101),
			 0);
	assert_int_equal(sip_txn_store(t, "k6", 2, "SIP/2.0 401 x", 13, 101),
			 0);
	assert_int_equal(sip_txn_find(t, "k6", 2, 101, buf, sizeof(buf), &len),
			 0);
	/* An expired mark does not hold the slot. */
	assert_int_equal(sip_txn_begin(t, "k8", 2, 200), 0);
	assert_int_equal(
	    sip_txn_begin(t, "k9", 2, 200 + SIP_TXN_LIFETIME_S + 1), 0);
	sip_txn_table_free(t);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_store_then_find),
	    cmocka_unit_test(test_in_progress_then_answer),
	    cmocka_unit_test(test_in_progress_mark_never_evicted),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
