/* txn.c - the response cache that absorbs request retransmissions. */
#include "sip/txn.h"

#include <errno.h>
#include <pthread.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

struct slot {
	char key[SIP_TXN_KEY_MAX];
	size_t keylen;
	char *resp; /* NULL while in progress */
	size_t len;
	int64_t expires_s; /* 0 when the slot is free */
};

struct sip_txn_table {
	pthread_mutex_t mu;
	unsigned n;
	struct slot *slots;
};

int sip_txn_table_new(struct sip_txn_table **out, unsigned slots)
{
	struct sip_txn_table *t = calloc(1, sizeof(*t));

	if (!t || !slots)
		goto fail;
	t->slots = calloc(slots, sizeof(*t->slots));
	if (!t->slots)
		goto fail;
	t->n = slots;
	pthread_mutex_init(&t->mu, NULL);
	*out = t;
	return 0;
fail:
	free(t);
	return ENOMEM;
}

void sip_txn_table_free(struct sip_txn_table *t)
{
	if (!t)
		return;
	for (unsigned i = 0; i < t->n; i++)
		free(t->slots[i].resp);
	pthread_mutex_destroy(&t->mu);
	free(t->slots);
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

static struct slot *slot_of(struct sip_txn_table *t, const char *key,
			    size_t keylen)
{
	uint32_t h = 2166136261u;

	for (size_t i = 0; i < keylen; i++)
		h = (h ^ (unsigned char)key[i]) * 16777619u;
	return &t->slots[h % t->n];
}

int sip_txn_find(struct sip_txn_table *t, const char *key, size_t keylen,
		 int64_t now_s, char *buf, size_t cap, size_t *len)
{
	struct slot *s = slot_of(t, key, keylen);
	int err = ENOENT;

	pthread_mutex_lock(&t->mu);
	if (!s->expires_s || s->expires_s < now_s || s->keylen != keylen ||
	    memcmp(s->key, key, keylen) != 0)
		goto out;
	if (!s->resp) {
		err = EINPROGRESS;
	} else if (s->len <= cap) {
		memcpy(buf, s->resp, s->len);
		*len = s->len;
		err = 0;
	}
out:
	pthread_mutex_unlock(&t->mu);
	return err;
}

/*
 * Whether slot s holds another transaction still in a worker (t->mu held):
 * its mark is never overwritten, so that a flood of other requests cannot
 * make a REGISTER in progress be processed twice.
 */
static bool busy_other(const struct slot *s, const char *key, size_t keylen,
		       int64_t now_s)
{
	return !s->resp && s->expires_s >= now_s &&
	       (s->keylen != keylen || memcmp(s->key, key, keylen) != 0);
}

int sip_txn_begin(struct sip_txn_table *t, const char *key, size_t keylen,
		  int64_t now_s)
{
	struct slot *s = slot_of(t, key, keylen);

	if (keylen > sizeof(s->key))
		return ERANGE;
	pthread_mutex_lock(&t->mu);
	if (busy_other(s, key, keylen, now_s)) {
		pthread_mutex_unlock(&t->mu);
		return EBUSY;
	}
	free(s->resp);
	s->resp = NULL;
	s->len = 0;
	memcpy(s->key, key, keylen);
	s->keylen = keylen;
	s->expires_s = now_s + SIP_TXN_LIFETIME_S;
	pthread_mutex_unlock(&t->mu);
	return 0;
}

int sip_txn_store(struct sip_txn_table *t, const char *key, size_t keylen,
		  const char *resp, size_t len, int64_t now_s)
{
	struct slot *s = slot_of(t, key, keylen);
	char *copy;

	if (keylen > sizeof(s->key))
		return ERANGE;
	copy = malloc(len);
	if (!copy)
		return ENOMEM;
	memcpy(copy, resp, len);
	pthread_mutex_lock(&t->mu);
	if (busy_other(s, key, keylen, now_s)) {
		pthread_mutex_unlock(&t->mu);
		free(copy);
		return EBUSY;
	}
	free(s->resp);
	memcpy(s->key, key, keylen);
	s->keylen = keylen;
	s->resp = copy;
	s->len = len;
	s->expires_s = now_s + SIP_TXN_LIFETIME_S;
	pthread_mutex_unlock(&t->mu);
	return 0;
}
