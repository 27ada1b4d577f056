/*
 * txn.h - non-INVITE server transactions (RFC 3261 section 17.2.2), reduced
 * to what a registrar needs: the last response of each transaction is kept
 * for 32 s (Timer J = 64*T1) so that a retransmitted request gets the same
 * response again without being processed twice. Bounded: a fixed table
 * where a new transaction may evict an old one. Thread-safe: the transport
 * thread looks up and marks, workers store their final answers.
 */
#ifndef SIP_TXN_H
#define SIP_TXN_H

#include <stddef.h>
#include <stdint.h>

#include "sip/msg.h"

#define SIP_TXN_LIFETIME_S 32
#define SIP_TXN_KEY_MAX 512

struct sip_txn_table;

/* A table that holds up to about budget bytes of keys and responses. */
int sip_txn_table_new(struct sip_txn_table **out, size_t budget);
void sip_txn_table_free(struct sip_txn_table *t);

/*
 * Writes the transaction key of request m into key (cap bytes): the top
 * Via's branch, sent-by and the method for RFC 3261 branches, else Call-ID,
 * CSeq, From tag and the top Via (RFC 2543). Returns its length, 0 when m
 * has no Via or the key does not fit.
 */
size_t sip_txn_key(const struct sip_msg *m, char *key, size_t cap);

/*
 * Looks key up at time now_s: 0 with a copy of the stored response in buf
 * (cap bytes) and its length in *len; EINPROGRESS when the transaction is
 * being processed (a retransmission to absorb); ENOENT when unknown (or the
 * response does not fit in cap).
 */
int sip_txn_find(struct sip_txn_table *t, const char *key, size_t keylen,
		 int64_t now_s, char *buf, size_t cap, size_t *len);

/*
 * Marks key as being processed from now_s on, so that its retransmissions
 * are absorbed until sip_txn_store replaces the mark with the answer.
 * Returns 0, ERANGE (key too long) or ENOMEM.
 */
int sip_txn_begin(struct sip_txn_table *t, const char *key, size_t keylen,
		  int64_t now_s);

/* Stores a copy of the response for key. Returns 0, ENOMEM or ERANGE. */
int sip_txn_store(struct sip_txn_table *t, const char *key, size_t keylen,
		  const char *resp, size_t len, int64_t now_s);

/* Transactions held, and the bytes they are charged (for tests, metrics). */
void sip_txn_stats(struct sip_txn_table *t, size_t *count, size_t *bytes);

#endif
