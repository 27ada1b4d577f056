/*
 * txn.c - the response cache that absorbs request retransmissions: a
 * chained hash of entries (doubling as it fills) and a list of the same
 * entries oldest first, which expiry and the byte budget trim from the
 * front (every entry lives SIP_TXN_LIFETIME_S from its last change, so the
 * list is also in order of expiry).
 */
#include "sip/txn.h"

#include <errno.h>
#include <pthread.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define BUCKETS_MIN 1024u
#define BUCKETS_MAX (1u << 22)

struct entry {
	struct entry *hnext;	   /* hash chain */
	struct entry *prev, *next; /* age list, oldest first */
	int64_t expires_s;
	uint32_t h;
	size_t keylen;
	char *resp; /* NULL while in progress */
	size_t len;
	char key[]; /* keylen bytes */
};

struct sip_txn_table {
	pthread_mutex_t mu;
	size_t budget, used, count;
	unsigned nbuckets; /* a power of 2 */
	struct entry **buckets;
	struct entry *oldest, *newest;
};

/* Bytes an entry is charged: its allocations and a bucket's share. */
static size_t cost(const struct entry *e)
{
	return sizeof(*e) + e->keylen + e->len + 2 * sizeof(void *);
}

int sip_txn_table_new(struct sip_txn_table **out, size_t budget)
{
	struct sip_txn_table *t = calloc(1, sizeof(*t));

	if (!t || !budget)
		goto fail;
	t->buckets = calloc(BUCKETS_MIN, sizeof(*t->buckets));
	if (!t->buckets)
		goto fail;
	t->nbuckets = BUCKETS_MIN;
	t->budget = budget;
	pthread_mutex_init(&t->mu, NULL);
	*out = t;
	return 0;
fail:
	free(t);
	return ENOMEM;
}

void sip_txn_table_free(struct sip_txn_table *t)
{
	struct entry *e, *next;

	if (!t)
		return;
	for (e = t->oldest; e; e = next) {
		next = e->next;
		free(e->resp);
		free(e);
	}
	pthread_mutex_destroy(&t->mu);
	free(t->buckets);
	free(t);
}

/* Appends the parts to key; false when they do not fit. */
static bool append(char *key, size_t cap, size_t *off, struct sip_str s)
{
	if (s.n + 1 > cap - *off)
		return false;
	if (s.n)
		memcpy(key + *off, s.p, s.n);
	*off += s.n;
	key[(*off)++] = '|';
	return true;
}

size_t sip_txn_key(const struct sip_msg *m, char *key, size_t cap)
{
	const struct sip_via *v = &m->via[0];
	char port[16], cseq[16];
	size_t off = 0;
	bool ok;

	if (m->nvia == 0)
		return 0;
	snprintf(port, sizeof(port), "%u", v->port);
	snprintf(cseq, sizeof(cseq), "%u", m->cseq);
	if (v->branch.n > 7 && memcmp(v->branch.p, "z9hG4bK", 7) == 0) {
		ok = append(key, cap, &off, v->branch) &&
		     append(key, cap, &off, v->host) &&
		     append(key, cap, &off,
			    (struct sip_str){port, strlen(port)}) &&
		     append(key, cap, &off, m->method);
	} else {
		ok = append(key, cap, &off, m->call_id) &&
		     append(key, cap, &off,
			    (struct sip_str){cseq, strlen(cseq)}) &&
		     append(key, cap, &off, m->from.tag) &&
		     append(key, cap, &off, v->raw) &&
		     append(key, cap, &off, m->method);
	}
	return ok ? off : 0;
}

static uint32_t hash_of(const char *key, size_t keylen)
{
	uint32_t h = 2166136261u;

	for (size_t i = 0; i < keylen; i++)
		h = (h ^ (unsigned char)key[i]) * 16777619u;
	return h;
}

/* The entry of key, or NULL (t->mu held). */
static struct entry *lookup(struct sip_txn_table *t, uint32_t h,
			    const char *key, size_t keylen)
{
	for (struct entry *e = t->buckets[h & (t->nbuckets - 1)]; e;
	     e = e->hnext)
		if (e->h == h && e->keylen == keylen &&
		    memcmp(e->key, key, keylen) == 0)
			return e;
	return NULL;
}

static void list_unlink(struct sip_txn_table *t, struct entry *e)
{
	*(e->prev ? &e->prev->next : &t->oldest) = e->next;
	*(e->next ? &e->next->prev : &t->newest) = e->prev;
	e->prev = e->next = NULL;
}

static void list_append(struct sip_txn_table *t, struct entry *e)
{
	e->prev = t->newest;
	e->next = NULL;
	*(t->newest ? &t->newest->next : &t->oldest) = e;
	t->newest = e;
}

/* Takes e out of the table and frees it (t->mu held). */
static void drop(struct sip_txn_table *t, struct entry *e)
{
	struct entry **pp = &t->buckets[e->h & (t->nbuckets - 1)];

	while (*pp != e)
		pp = &(*pp)->hnext;
	*pp = e->hnext;
	list_unlink(t, e);
	t->used -= cost(e);
	t->count--;
	free(e->resp);
	free(e);
}

/*
 * Drops what has expired at now_s, then the oldest answered entries while
 * the table is over its budget (t->mu held). Marks of transactions in
 * progress stay until they expire: a worker is answering them.
 */
static void trim(struct sip_txn_table *t, int64_t now_s)
{
	struct entry *e = t->oldest, *next;

	while (e && e->expires_s < now_s) {
		next = e->next;
		drop(t, e);
		e = next;
	}
	for (e = t->oldest; e && t->used > t->budget; e = next) {
		next = e->next;
		if (e->resp)
			drop(t, e);
	}
}

/* Doubles the buckets when they hold as many entries as there are. */
static void grow(struct sip_txn_table *t)
{
	unsigned n = t->nbuckets * 2;
	struct entry **b;

	if (t->count < t->nbuckets || n > BUCKETS_MAX)
		return;
	b = calloc(n, sizeof(*b));
	if (!b)
		return; /* longer chains, still correct */
	for (unsigned i = 0; i < t->nbuckets; i++) {
		struct entry *e = t->buckets[i], *next;
		for (; e; e = next) {
			next = e->hnext;
			e->hnext = b[e->h & (n - 1)];
			b[e->h & (n - 1)] = e;
		}
	}
	free(t->buckets);
	t->buckets = b;
	t->nbuckets = n;
}

int sip_txn_find(struct sip_txn_table *t, const char *key, size_t keylen,
		 int64_t now_s, char *buf, size_t cap, size_t *len)
{
	uint32_t h = hash_of(key, keylen);
	struct entry *e;
	int err = ENOENT;

	pthread_mutex_lock(&t->mu);
	e = lookup(t, h, key, keylen);
	if (!e || e->expires_s < now_s)
		goto out;
	if (!e->resp) {
		err = EINPROGRESS;
	} else if (e->len <= cap) {
		memcpy(buf, e->resp, e->len);
		*len = e->len;
		err = 0;
	}
out:
	pthread_mutex_unlock(&t->mu);
	return err;
}

/*
 * Sets key's entry to resp (NULL: in progress) from now_s on, making the
 * entry if there is none; resp is the caller's allocation, taken over on
 * success.
 */
static int put(struct sip_txn_table *t, const char *key, size_t keylen,
	       char *resp, size_t len, int64_t now_s)
{
	uint32_t h = hash_of(key, keylen);
	struct entry *e;

	if (keylen > SIP_TXN_KEY_MAX)
		return ERANGE;
	pthread_mutex_lock(&t->mu);
	e = lookup(t, h, key, keylen);
	if (e) {
		t->used -= cost(e);
		list_unlink(t, e);
		free(e->resp);
	} else {
		e = malloc(sizeof(*e) + keylen);
		if (!e) {
			pthread_mutex_unlock(&t->mu);
			return ENOMEM;
		}
		e->h = h;
		e->keylen = keylen;
		memcpy(e->key, key, keylen);
		e->hnext = t->buckets[h & (t->nbuckets - 1)];
		t->buckets[h & (t->nbuckets - 1)] = e;
		t->count++;
	}
	e->resp = resp;
	e->len = len;
	e->expires_s = now_s + SIP_TXN_LIFETIME_S;
	list_append(t, e);
	t->used += cost(e);
	trim(t, now_s);
	grow(t);
	pthread_mutex_unlock(&t->mu);
	return 0;
}

int sip_txn_begin(struct sip_txn_table *t, const char *key, size_t keylen,
		  int64_t now_s)
{
	return put(t, key, keylen, NULL, 0, now_s);
}

int sip_txn_store(struct sip_txn_table *t, const char *key, size_t keylen,
		  const char *resp, size_t len, int64_t now_s)
{
	char *copy;
	int err;

	if (keylen > SIP_TXN_KEY_MAX)
		return ERANGE;
	copy = malloc(len ? len : 1);
	if (!copy)
		return ENOMEM;
	memcpy(copy, resp, len);
	err = put(t, key, keylen, copy, len, now_s);
	if (err)
		free(copy);
	return err;
}

void sip_txn_stats(struct sip_txn_table *t, size_t *count, size_t *bytes)
{
	pthread_mutex_lock(&t->mu);
	*count = t->count;
	*bytes = t->used;
	pthread_mutex_unlock(&t->mu);
}
