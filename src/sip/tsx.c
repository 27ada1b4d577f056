/*
 * tsx.c - the four RFC 3261 transaction state machines over one table: a
 * hash by transaction key, a binary heap of each transaction's earliest
 * timer, and a list of ended transactions freed when the outermost call
 * returns (see tsx.h).
 */
#include "sip/tsx.h"

#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "base/addr.h"

#define KEY_MAX 320
#define METHOD_MAX 32

struct sip_tsx {
	struct sip_tsx_table *t;
	struct sip_tsx *hnext; /* hash chain */
	struct sip_tsx *dnext; /* ended, awaiting EV_TERMINATED */
	unsigned heap_i;
	int64_t due;	/* the earliest of the three below */
	int64_t t_retx; /* A, E, G */
	int64_t t_end;	/* B, F, H, the CANCEL's 64*T1, NIST's guard */
	int64_t t_wait; /* D, I, J, K, L, M */
	unsigned retx_ms;
	enum sip_tsx_kind kind;
	enum sip_tsx_state state;
	bool reliable;
	bool cancel_wanted, cancel_sent;
	unsigned status;
	uint32_t cseq;
	char method[METHOD_MAX];
	char key[KEY_MAX];
	size_t keylen;
	char tag[SIP_TAG_LEN + 1 + 64];
	struct sip_peer peer;
	void *user;
	char *cancel_hdrs; /* ICT: extra headers of a pending CANCEL */
	/* Client: the request as sent. Server: the headers its responses
	 * copy (sip_build_response_start's output without the status line),
	 * echo_to the end of the To value, echo_tagged whether it had a tag */
	char *req;
	size_t req_len, echo_to;
	bool echo_tagged;
	char *last; /* the last message sent for retransmission */
	size_t last_len;
};

struct sip_tsx_table {
	struct sip_tsx_opts o;
	struct sip_tsx_ops ops;
	void *ctx;
	struct sip_tsx **buckets;
	unsigned nbuckets; /* a power of 2 */
	struct sip_tsx **heap;
	unsigned nheap, heap_cap; /* both grow with the load, to o.max */
	unsigned count;
	struct sip_tsx *dead;
	unsigned depth; /* sip_tsx_* calls on the stack */
	char *scratch;	/* msg_max + 1 bytes for building */
};

/* ---- time ---- */

static int64_t at(int64_t now, int64_t ms)
{
	return now > SIP_TSX_NEVER - ms ? SIP_TSX_NEVER - 1 : now + ms;
}

static int64_t t64(const struct sip_tsx_table *t)
{
	return 64 * (int64_t)t->o.t1_ms;
}

/* ---- the heap of due times ---- */

static void heap_swap(struct sip_tsx_table *t, unsigned a, unsigned b)
{
	struct sip_tsx *x = t->heap[a];

	t->heap[a] = t->heap[b];
	t->heap[b] = x;
	t->heap[a]->heap_i = a;
	t->heap[b]->heap_i = b;
}

static void heap_fix(struct sip_tsx_table *t, unsigned i)
{
	while (i > 0 && t->heap[(i - 1) / 2]->due > t->heap[i]->due) {
		heap_swap(t, i, (i - 1) / 2);
		i = (i - 1) / 2;
	}
	for (;;) {
		unsigned l = 2 * i + 1, r = l + 1, m = i;

		if (l < t->nheap && t->heap[l]->due < t->heap[m]->due)
			m = l;
		if (r < t->nheap && t->heap[r]->due < t->heap[m]->due)
			m = r;
		if (m == i)
			return;
		heap_swap(t, i, m);
		i = m;
	}
}

static void heap_remove(struct sip_tsx_table *t, struct sip_tsx *tx)
{
	unsigned i = tx->heap_i;

	if (i >= t->nheap || t->heap[i] != tx)
		return;
	heap_swap(t, i, --t->nheap);
	if (i < t->nheap)
		heap_fix(t, i);
}

/* Recomputes tx's due time after its timers changed. */
static void schedule(struct sip_tsx *tx)
{
	int64_t d = tx->t_retx;

	if (tx->t_end < d)
		d = tx->t_end;
	if (tx->t_wait < d)
		d = tx->t_wait;
	tx->due = d;
	heap_fix(tx->t, tx->heap_i);
}

/* ---- the hash ---- */

/* A key's bucket among nbuckets (a power of 2). */
static unsigned bucket(unsigned nbuckets, const char *k, size_t n)
{
	uint32_t h = 2166136261u;

	for (size_t i = 0; i < n; i++)
		h = (h ^ (unsigned char)k[i]) * 16777619u;
	return h & (nbuckets - 1);
}

static unsigned hash(const struct sip_tsx_table *t, const char *k, size_t n)
{
	return bucket(t->nbuckets, k, n);
}

static struct sip_tsx *find(struct sip_tsx_table *t, const char *k, size_t n)
{
	for (struct sip_tsx *x = t->buckets[hash(t, k, n)]; x; x = x->hnext)
		if (x->keylen == n && memcmp(x->key, k, n) == 0)
			return x;
	return NULL;
}

static void unhash(struct sip_tsx *tx)
{
	struct sip_tsx **pp = &tx->t->buckets[hash(tx->t, tx->key, tx->keylen)];

	for (; *pp; pp = &(*pp)->hnext) {
		if (*pp == tx) {
			*pp = tx->hnext;
			return;
		}
	}
}

/* ---- keys (RFC 3261 17.1.3, 17.2.3) ---- */

static bool keyput(char *k, size_t *off, const char *p, size_t n, bool lower)
{
	if (n + 1 > KEY_MAX - *off)
		return false;
	for (size_t i = 0; i < n; i++)
		k[*off + i] = lower && p[i] >= 'A' && p[i] <= 'Z'
				  ? (char)(p[i] - 'A' + 'a')
				  : p[i];
	*off += n;
	k[(*off)++] = '|';
	return true;
}

static bool keys(char *k, size_t *off, struct sip_str s)
{
	return keyput(k, off, s.p ? s.p : "", s.n, false);
}

static bool cookie(struct sip_str branch)
{
	return branch.n > 7 && memcmp(branch.p, "z9hG4bK", 7) == 0;
}

/*
 * A server transaction's key for request m, as method (ACK is INVITE's):
 * the branch, sent-by and method; for a pre-RFC 3261 branch, Call-ID,
 * CSeq number, From tag, the top Via and the method. 0 when too long.
 */
static size_t server_key(const struct sip_msg *m, struct sip_str method,
			 char *k)
{
	const struct sip_via *v = &m->via[0];
	char num[16];
	size_t off = 0;
	bool ok;

	if (cookie(v->branch)) {
		snprintf(num, sizeof(num), "%u", v->port ? v->port : 5060);
		ok = keyput(k, &off, "S", 1, false) &&
		     keys(k, &off, v->branch) &&
		     keyput(k, &off, v->host.p, v->host.n, true) &&
		     keyput(k, &off, num, strlen(num), false) &&
		     keys(k, &off, method);
	} else {
		snprintf(num, sizeof(num), "%u", m->cseq);
		ok = keyput(k, &off, "s", 1, false) &&
		     keys(k, &off, m->call_id) &&
		     keyput(k, &off, num, strlen(num), false) &&
		     keys(k, &off, m->from.tag) && keys(k, &off, v->raw) &&
		     keys(k, &off, method);
	}
	return ok ? off : 0;
}

/* A client transaction's key: the branch and the CSeq method. */
static size_t client_key(const struct sip_msg *m, char *k)
{
	size_t off = 0;

	if (!keyput(k, &off, "C", 1, false) ||
	    !keys(k, &off, m->via[0].branch) || !keys(k, &off, m->cseq_method))
		return 0;
	return off;
}

/* ---- table ---- */

int sip_tsx_table_new(struct sip_tsx_table **out, const struct sip_tsx_opts *o,
		      const struct sip_tsx_ops *ops, void *ctx)
{
	struct sip_tsx_table *t;

	if (!o->max || o->max > (1u << 24) || !o->msg_max || !ops->send ||
	    !ops->event)
		return EINVAL;
	t = calloc(1, sizeof(*t));
	if (!t)
		return ENOMEM;
	t->o = *o;
	t->o.t1_ms = o->t1_ms ? o->t1_ms : SIP_T1_MS;
	t->o.t2_ms = o->t2_ms ? o->t2_ms : SIP_T2_MS;
	t->o.t4_ms = o->t4_ms ? o->t4_ms : SIP_T4_MS;
	if (t->o.t2_ms < t->o.t1_ms || t->o.t1_ms > 60000 ||
	    t->o.t2_ms > 600000 || t->o.t4_ms > 600000) {
		free(t);
		return EINVAL;
	}
	t->ops = *ops;
	t->ctx = ctx;
	t->nbuckets = 1024;
	t->heap_cap = 1024 < o->max ? 1024 : o->max;
	t->buckets = calloc(t->nbuckets, sizeof(*t->buckets));
	t->heap = calloc(t->heap_cap, sizeof(*t->heap));
	t->scratch = malloc(o->msg_max + 1);
	if (!t->buckets || !t->heap || !t->scratch) {
		sip_tsx_table_free(t);
		return ENOMEM;
	}
	*out = t;
	return 0;
}

static void tx_free(struct sip_tsx *tx)
{
	free(tx->req);
	free(tx->last);
	free(tx->cancel_hdrs);
	free(tx);
}

void sip_tsx_table_free(struct sip_tsx_table *t)
{
	if (!t)
		return;
	for (unsigned i = 0; t->heap && i < t->nheap; i++)
		tx_free(t->heap[i]);
	while (t->dead) {
		struct sip_tsx *d = t->dead;

		t->dead = d->dnext;
		tx_free(d);
	}
	free(t->buckets);
	free(t->heap);
	free(t->scratch);
	free(t);
}

static void enter(struct sip_tsx_table *t)
{
	t->depth++;
}

/* Leaves a call; the outermost one frees what ended meanwhile. */
static void leave(struct sip_tsx_table *t)
{
	if (t->depth > 1) {
		t->depth--;
		return;
	}
	while (t->dead) {
		struct sip_tsx *d = t->dead;
		struct sip_tsx_event ev = {.type = SIP_TSX_EV_TERMINATED,
					   .tx = d};

		t->dead = d->dnext;
		t->ops.event(t->ctx, &ev);
		t->count--;
		tx_free(d);
	}
	t->depth--;
}

/* Ends tx: out of the hash and the heap; freed by leave(). */
static void terminate(struct sip_tsx *tx)
{
	if (tx->state == SIP_TSX_TERMINATED)
		return;
	tx->state = SIP_TSX_TERMINATED;
	unhash(tx);
	heap_remove(tx->t, tx);
	tx->dnext = tx->t->dead;
	tx->t->dead = tx;
}

static void emit(struct sip_tsx *tx, enum sip_tsx_ev type,
		 const struct sip_msg *m, const struct sip_peer *peer, int err)
{
	struct sip_tsx_event ev = {type, tx, m, peer, err};

	if (tx && tx->state == SIP_TSX_TERMINATED &&
	    type != SIP_TSX_EV_TIMEOUT && type != SIP_TSX_EV_ERROR)
		return;
	tx->t->ops.event(tx->t->ctx, &ev);
}

/* Sends buf; a failure is reported and ends tx. Returns the error. */
static int tx_send(struct sip_tsx *tx, const char *buf, size_t len)
{
	int err = tx->t->ops.send(tx->t->ctx, &tx->peer, buf, len);

	if (err) {
		terminate(tx);
		emit(tx, SIP_TSX_EV_ERROR, NULL, NULL, err);
	}
	return err;
}

/* Keeps a copy of buf as the message to retransmit. */
static int keep_last(struct sip_tsx *tx, const char *buf, size_t len)
{
	char *c = malloc(len ? len : 1);

	if (!c)
		return ENOMEM;
	memcpy(c, buf, len);
	free(tx->last);
	tx->last = c;
	tx->last_len = len;
	return 0;
}

/* A new transaction in the table (hashed and in the heap, no timers). */
/*
 * Frees what a final answer made useless, so that the transactions of
 * ended calls (kept up to 64*T1 = 32 s, RFC 6026) hold little: the request
 * a client transaction keeps for ACK and CANCEL (or a server one's echo
 * headers), and with last, the request kept for retransmission.
 */
static void shed(struct sip_tsx *tx, bool last)
{
	free(tx->req);
	tx->req = NULL;
	tx->req_len = tx->echo_to = 0;
	free(tx->cancel_hdrs);
	tx->cancel_hdrs = NULL;
	if (last) {
		free(tx->last);
		tx->last = NULL;
		tx->last_len = 0;
	}
}

/*
 * Makes room for one more transaction: the heap doubles when full, the
 * hash doubles (rehashed) when it holds as many as it has buckets.
 */
static int grow(struct sip_tsx_table *t)
{
	if (t->nheap == t->heap_cap) {
		unsigned cap =
		    t->heap_cap * 2 < t->o.max ? t->heap_cap * 2 : t->o.max;
		struct sip_tsx **h = realloc(t->heap, cap * sizeof(*h));

		if (!h)
			return ENOMEM;
		t->heap = h;
		t->heap_cap = cap;
	}
	if (t->count >= t->nbuckets && t->nbuckets < (1u << 25)) {
		unsigned n = t->nbuckets * 2;
		struct sip_tsx **b = calloc(n, sizeof(*b));

		if (!b)
			return 0; /* longer chains, still correct */
		for (unsigned i = 0; i < t->nbuckets; i++) {
			struct sip_tsx *x, *nx;

			for (x = t->buckets[i]; x; x = nx) {
				unsigned h = bucket(n, x->key, x->keylen);

				nx = x->hnext;
				x->hnext = b[h];
				b[h] = x;
			}
		}
		free(t->buckets);
		t->buckets = b;
		t->nbuckets = n;
	}
	return 0;
}

static int tx_new(struct sip_tsx_table *t, enum sip_tsx_kind kind,
		  const char *key, size_t keylen, const struct sip_peer *peer,
		  struct sip_tsx **out)
{
	struct sip_tsx *tx;
	unsigned h;

	if (t->count >= t->o.max)
		return EBUSY;
	if (find(t, key, keylen))
		return EEXIST;
	if (grow(t))
		return ENOMEM;
	tx = calloc(1, sizeof(*tx));
	if (!tx)
		return ENOMEM;
	tx->t = t;
	tx->kind = kind;
	tx->peer = *peer;
	tx->reliable = peer->proto != SIP_UDP;
	memcpy(tx->key, key, keylen);
	tx->keylen = keylen;
	tx->t_retx = tx->t_end = tx->t_wait = tx->due = SIP_TSX_NEVER;
	h = hash(t, key, keylen);
	tx->hnext = t->buckets[h];
	t->buckets[h] = tx;
	tx->heap_i = t->nheap;
	t->heap[t->nheap++] = tx;
	t->count++;
	*out = tx;
	return 0;
}

/* ---- client transactions ---- */

/* The ACK or CANCEL of tx's INVITE (to: the response's To for an ACK). */
static int derive(const struct sip_tsx *tx, struct sip_buf *b,
		  const char *method, struct sip_str to, const char *extra)
{
	sip_buf_init(b, tx->t->scratch, tx->t->o.msg_max + 1);
	return sip_build_ack_cancel(b, tx->req, tx->req_len, method, tx->cseq,
				    to, extra);
}

/* Parses buf (len bytes) into m through the table's scratch copy. */
static int scratch_parse(struct sip_tsx_table *t, const char *buf, size_t len,
			 struct sip_msg *m)
{
	if (len > t->o.msg_max)
		return E2BIG;
	memcpy(t->scratch, buf, len);
	return sip_msg_parse(m, t->scratch, len) ? EINVAL : 0;
}

/* The client transaction's timers once its request is sent. */
static void client_start(struct sip_tsx *tx, int64_t now)
{
	const struct sip_tsx_table *t = tx->t;

	tx->state = tx->kind == SIP_TSX_ICT ? SIP_TSX_CALLING : SIP_TSX_TRYING;
	tx->t_end = at(now, t64(t)); /* B, F */
	if (!tx->reliable) {
		tx->retx_ms = t->o.t1_ms; /* A, E */
		tx->t_retx = at(now, tx->retx_ms);
	}
	schedule(tx);
}

/* sip_tsx_request without enter/leave. */
static int request(struct sip_tsx_table *t, int64_t now,
		   const struct sip_peer *to, const char *buf, size_t len,
		   void *user, struct sip_tsx **out)
{
	struct sip_msg *m = malloc(sizeof(*m));
	char key[KEY_MAX];
	struct sip_tsx *tx = NULL;
	size_t keylen;
	int err;

	if (!m)
		return ENOMEM;
	err = scratch_parse(t, buf, len, m);
	if (err)
		goto out;
	err = EINVAL;
	if (!m->is_request || sip_str_eq(m->method, "ACK") ||
	    !cookie(m->via[0].branch) || m->method.n >= METHOD_MAX)
		goto out;
	keylen = client_key(m, key);
	if (!keylen)
		goto out;
	err = tx_new(
	    t, sip_str_eq(m->method, "INVITE") ? SIP_TSX_ICT : SIP_TSX_NICT,
	    key, keylen, to, &tx);
	if (err)
		goto out;
	tx->user = user;
	if (out)
		*out = tx; /* even when it fails below: its events will come */
	tx->cseq = m->cseq;
	memcpy(tx->method, m->method.p, m->method.n);
	tx->req = malloc(len);
	if (!tx->req || keep_last(tx, buf, len)) {
		err = ENOMEM;
		terminate(tx);
		goto out;
	}
	memcpy(tx->req, buf, len);
	tx->req_len = len;
	client_start(tx, now);
	err = tx_send(tx, buf, len);
out:
	free(m);
	return err;
}

int sip_tsx_request(struct sip_tsx_table *t, int64_t now_ms,
		    const struct sip_peer *to, const char *buf, size_t len,
		    void *user, struct sip_tsx **out)
{
	int err;

	enter(t);
	err = request(t, now_ms, to, buf, len, user, out);
	leave(t);
	return err;
}

/* Sends tx's CANCEL now. */
static int send_cancel(struct sip_tsx *tx, int64_t now)
{
	struct sip_tsx_table *t = tx->t;
	struct sip_buf b;
	int err;

	err = derive(tx, &b, "CANCEL", (struct sip_str){0}, tx->cancel_hdrs);
	if (err)
		return err;
	tx->cancel_sent = true;
	/* Copied out of scratch, which request() parses into. */
	char *copy = malloc(b.len);
	if (!copy)
		return ENOMEM;
	memcpy(copy, b.p, b.len);
	err = request(t, now, &tx->peer, copy, b.len, tx->user, NULL);
	free(copy);
	if (!err && tx->state == SIP_TSX_PROCEEDING) {
		tx->t_end = at(now, t64(t));
		schedule(tx);
	}
	return err;
}

int sip_tsx_cancel(struct sip_tsx *tx, int64_t now_ms, const char *headers)
{
	int err = 0;

	if (tx->kind != SIP_TSX_ICT ||
	    (tx->state != SIP_TSX_CALLING && tx->state != SIP_TSX_PROCEEDING))
		return EINVAL;
	if (tx->cancel_wanted)
		return EALREADY;
	if (headers) {
		tx->cancel_hdrs = strdup(headers);
		if (!tx->cancel_hdrs)
			return ENOMEM;
	}
	tx->cancel_wanted = true;
	if (tx->state == SIP_TSX_PROCEEDING) {
		enter(tx->t);
		err = send_cancel(tx, now_ms);
		leave(tx->t);
	}
	return err;
}

/* The ACK for a non-2xx final response m; kept for its retransmissions. */
static void send_ack(struct sip_tsx *tx, const struct sip_msg *m)
{
	struct sip_buf b;

	if (derive(tx, &b, "ACK", m->to.raw, NULL) || keep_last(tx, b.p, b.len))
		return;
	tx_send(tx, tx->last, tx->last_len);
}

/* A response for INVITE client transaction tx. */
static void ict_response(struct sip_tsx *tx, int64_t now,
			 const struct sip_msg *m, const struct sip_peer *from)
{
	const struct sip_tsx_table *t = tx->t;
	unsigned s = m->status;

	if (tx->state == SIP_TSX_COMPLETED) {
		if (s >= 300) /* the final again: so the ACK was lost */
			tx_send(tx, tx->last, tx->last_len);
		return;
	}
	if (tx->state == SIP_TSX_ACCEPTED) {
		if (s >= 200 && s < 300)
			emit(tx, SIP_TSX_EV_RESPONSE, m, from, 0);
		return;
	}
	tx->status = s;
	tx->t_retx = SIP_TSX_NEVER;
	if (s < 200) {
		bool first = tx->state == SIP_TSX_CALLING;

		tx->state = SIP_TSX_PROCEEDING;
		if (first)
			tx->t_end = SIP_TSX_NEVER; /* Timer B is Calling's */
		schedule(tx);
		if (first && tx->cancel_wanted && !tx->cancel_sent)
			send_cancel(tx, now);
	} else if (s < 300) {
		tx->state = SIP_TSX_ACCEPTED;
		tx->t_end = SIP_TSX_NEVER;
		tx->t_wait = at(now, t64(t)); /* Timer M */
		schedule(tx);
		shed(tx, true); /* the TU ACKs a 2xx */
	} else {
		tx->state = SIP_TSX_COMPLETED;
		tx->t_end = SIP_TSX_NEVER;
		tx->t_wait = tx->reliable ? now : at(now, 32000); /* Timer D */
		schedule(tx);
		send_ack(tx, m);
		shed(tx, false); /* last is the ACK, sent again if need be */
	}
	emit(tx, SIP_TSX_EV_RESPONSE, m, from, 0);
}

/* A response for non-INVITE client transaction tx. */
static void nict_response(struct sip_tsx *tx, int64_t now,
			  const struct sip_msg *m, const struct sip_peer *from)
{
	if (tx->state == SIP_TSX_COMPLETED)
		return; /* a retransmission of the final */
	tx->status = m->status;
	if (m->status < 200) {
		tx->state = SIP_TSX_PROCEEDING;
	} else {
		tx->state = SIP_TSX_COMPLETED;
		tx->t_retx = tx->t_end = SIP_TSX_NEVER;
		/* Timer K */
		tx->t_wait = tx->reliable ? now : at(now, tx->t->o.t4_ms);
		schedule(tx);
		shed(tx, true);
	}
	emit(tx, SIP_TSX_EV_RESPONSE, m, from, 0);
}

static void on_response(struct sip_tsx_table *t, int64_t now,
			const struct sip_peer *from, const struct sip_msg *m)
{
	char key[KEY_MAX];
	size_t keylen = client_key(m, key);
	struct sip_tsx *tx = keylen ? find(t, key, keylen) : NULL;
	struct sip_tsx_event ev = {SIP_TSX_EV_RESPONSE, NULL, m, from, 0};

	if (!tx) {
		t->ops.event(t->ctx, &ev);
		return;
	}
	if (tx->kind == SIP_TSX_ICT)
		ict_response(tx, now, m, from);
	else
		nict_response(tx, now, m, from);
}

/* ---- server transactions ---- */

/* The response of code etc. to tx's request into b (scratch). */
static int build_resp(struct sip_tsx *tx, struct sip_buf *b,
		      const struct sip_resp *r)
{
	const char *tag = r->to_tag ? r->to_tag : tx->tag;

	if (r->code < 100 || r->code > 699 ||
	    (r->reason && !sip_build_value_ok(r->reason, strlen(r->reason))) ||
	    !sip_build_value_ok(tag, strlen(tag)) ||
	    (r->contact &&
	     !sip_build_value_ok(r->contact, strlen(r->contact))) ||
	    (r->headers &&
	     (strstr(r->headers, "\r\n\r\n") || r->headers[0] == '\r')))
		return EINVAL;
	sip_buf_init(b, tx->t->scratch, tx->t->o.msg_max + 1);
	sip_buf_printf(b, "SIP/2.0 %u %s\r\n", r->code,
		       r->reason ? r->reason : sip_build_reason(r->code));
	sip_buf_put(b, (struct sip_str){tx->req, tx->echo_to});
	if (!tx->echo_tagged && r->code > 100 && *tag)
		sip_buf_printf(b, ";tag=%s", tag);
	sip_buf_put(b, (struct sip_str){tx->req + tx->echo_to,
					tx->req_len - tx->echo_to});
	if (r->contact)
		sip_buf_printf(b, "Contact: %s\r\n", r->contact);
	if (r->headers)
		sip_buf_puts(b, r->headers);
	return sip_build_end(b, r->content_type, r->body);
}

/* respond() after the checks: sends and moves tx on. */
static int respond(struct sip_tsx *tx, int64_t now, const struct sip_resp *r)
{
	const struct sip_tsx_table *t = tx->t;
	struct sip_buf b;
	unsigned c = r->code;
	int err;

	if (tx->state == SIP_TSX_ACCEPTED) {
		/* The TU's own 2xx retransmissions pass through. */
		if (c < 200 || c >= 300)
			return EINVAL;
	} else if (tx->state != SIP_TSX_TRYING &&
		   tx->state != SIP_TSX_PROCEEDING) {
		return EINVAL;
	}
	err = build_resp(tx, &b, r);
	if (err || (err = keep_last(tx, b.p, b.len)))
		return err;
	tx->status = c;
	if (c < 200) {
		tx->state = SIP_TSX_PROCEEDING;
	} else if (tx->kind == SIP_TSX_IST && c < 300) {
		if (tx->state != SIP_TSX_ACCEPTED)
			tx->t_wait = at(now, t64(t)); /* Timer L */
		tx->state = SIP_TSX_ACCEPTED;
	} else if (tx->kind == SIP_TSX_IST) {
		tx->state = SIP_TSX_COMPLETED;
		tx->t_end = at(now, t64(t)); /* Timer H */
		if (!tx->reliable) {
			tx->retx_ms = t->o.t1_ms; /* Timer G */
			tx->t_retx = at(now, tx->retx_ms);
		}
	} else {
		tx->state = SIP_TSX_COMPLETED;
		tx->t_end = SIP_TSX_NEVER;
		tx->t_wait = tx->reliable ? now : at(now, t64(t)); /* J */
	}
	if (c >= 200 && tx->kind == SIP_TSX_IST && c < 300)
		tx->t_end = SIP_TSX_NEVER;
	/* A final but an INVITE's 2xx (the TU may send it again through
	 * here) is the last response built: last alone is sent again. */
	if (c >= 200 && !(tx->kind == SIP_TSX_IST && c < 300))
		shed(tx, false);
	schedule(tx);
	return tx_send(tx, tx->last, tx->last_len);
}

int sip_tsx_respond(struct sip_tsx *tx, int64_t now_ms,
		    const struct sip_resp *r)
{
	int err;

	if (tx->kind != SIP_TSX_IST && tx->kind != SIP_TSX_NIST)
		return EINVAL;
	enter(tx->t);
	err = respond(tx, now_ms, r);
	leave(tx->t);
	return err;
}

/* Stores the headers tx's responses copy from request m. */
static int keep_echo(struct sip_tsx *tx, const struct sip_msg *m,
		     const struct sip_peer *from)
{
	struct sip_tsx_table *t = tx->t;
	char ip[64];
	unsigned port =
	    ntohs(from->addr.ss_family == AF_INET6
		      ? ((const struct sockaddr_in6 *)&from->addr)->sin6_port
		      : ((const struct sockaddr_in *)&from->addr)->sin_port);
	struct sip_buf b;
	const char *s, *cid;

	base_addr_ip((const struct sockaddr *)&from->addr, ip, sizeof(ip));
	sip_buf_init(&b, t->scratch, t->o.msg_max + 1);
	if (sip_build_response_start(&b, m, ip[0] ? ip : NULL, port, 100, NULL,
				     NULL))
		return E2BIG;
	s = memchr(b.p, '\n', b.len) + 1; /* after the status line */
	cid = strstr(s, "\r\nCall-ID: ");
	if (!cid)
		return EINVAL;
	tx->req_len = b.len - (size_t)(s - b.p);
	tx->echo_to = (size_t)(cid - s);
	tx->echo_tagged = m->to.tag.p != NULL;
	tx->req = malloc(tx->req_len);
	if (!tx->req)
		return ENOMEM;
	memcpy(tx->req, s, tx->req_len);
	if (m->to.tag.p) {
		if (m->to.tag.n >= sizeof(tx->tag))
			return E2BIG;
		memcpy(tx->tag, m->to.tag.p, m->to.tag.n);
		tx->tag[m->to.tag.n] = '\0';
		return 0;
	}
	return sip_build_tag(tx->tag, sizeof(tx->tag));
}

/* A new server transaction for request m (not ACK), or an error. */
static int server_new(struct sip_tsx_table *t, const struct sip_msg *m,
		      const struct sip_peer *from, const char *key,
		      size_t keylen, struct sip_tsx **out)
{
	struct sip_peer dst;
	struct sip_tsx *tx;
	int err;

	if (m->method.n >= METHOD_MAX)
		return E2BIG;
	sip_tsx_reply_peer(&dst, from, m);
	err = tx_new(
	    t, sip_str_eq(m->method, "INVITE") ? SIP_TSX_IST : SIP_TSX_NIST,
	    key, keylen, &dst, &tx);
	if (err)
		return err;
	tx->cseq = m->cseq;
	memcpy(tx->method, m->method.p, m->method.n);
	tx->state =
	    tx->kind == SIP_TSX_IST ? SIP_TSX_PROCEEDING : SIP_TSX_TRYING;
	err = keep_echo(tx, m, from);
	if (err) {
		terminate(tx);
		return err;
	}
	*out = tx;
	return 0;
}

/* A CANCEL: its own transaction, answered here (RFC 3261 9.2). */
static int on_cancel(struct sip_tsx_table *t, int64_t now,
		     const struct sip_peer *from, const struct sip_msg *m,
		     const char *key, size_t keylen)
{
	char ikey[KEY_MAX];
	size_t ilen = server_key(m, (struct sip_str){"INVITE", 6}, ikey);
	struct sip_tsx *inv = ilen ? find(t, ikey, ilen) : NULL, *tx;
	struct sip_resp r = {.code = 200};
	int err = server_new(t, m, from, key, keylen, &tx);

	if (err)
		return err;
	if (!inv || inv->kind != SIP_TSX_IST) {
		r.code = 481;
		return respond(tx, now, &r);
	}
	/* The same To tag as the INVITE's responses (RFC 3261 9.2). */
	memcpy(tx->tag, inv->tag, sizeof(tx->tag));
	if (respond(tx, now, &r) || inv->state != SIP_TSX_PROCEEDING)
		return 0;
	emit(inv, SIP_TSX_EV_CANCEL, m, from, 0);
	if (inv->state == SIP_TSX_PROCEEDING) {
		r.code = 487;
		respond(inv, now, &r);
	}
	return 0;
}

/* An ACK: absorbed by its INVITE server transaction, else the TU's. */
static void on_ack(struct sip_tsx_table *t, int64_t now,
		   const struct sip_peer *from, const struct sip_msg *m)
{
	char key[KEY_MAX];
	size_t keylen = server_key(m, (struct sip_str){"INVITE", 6}, key);
	struct sip_tsx *tx = keylen ? find(t, key, keylen) : NULL;
	struct sip_tsx_event ev = {SIP_TSX_EV_ACK, NULL, m, from, 0};

	if (tx && tx->kind == SIP_TSX_IST) {
		if (tx->state == SIP_TSX_COMPLETED) {
			tx->state = SIP_TSX_CONFIRMED;
			tx->t_retx = tx->t_end = SIP_TSX_NEVER;
			/* Timer I */
			tx->t_wait = tx->reliable ? now : at(now, t->o.t4_ms);
			schedule(tx);
			return;
		}
		if (tx->state == SIP_TSX_CONFIRMED)
			return;
		if (tx->state == SIP_TSX_ACCEPTED)
			ev.tx = tx;
	}
	t->ops.event(t->ctx, &ev);
}

static int on_request(struct sip_tsx_table *t, int64_t now,
		      const struct sip_peer *from, const struct sip_msg *m)
{
	char key[KEY_MAX];
	size_t keylen;
	struct sip_tsx *tx;
	struct sip_resp trying = {.code = 100};
	int err;

	if (sip_str_eq(m->method, "ACK")) {
		on_ack(t, now, from, m);
		return 0;
	}
	keylen = server_key(m, m->method, key);
	if (!keylen)
		return E2BIG;
	tx = find(t, key, keylen);
	if (tx) {
		/* A retransmission: the last response again, if any. */
		if (tx->last && (tx->state == SIP_TSX_PROCEEDING ||
				 tx->state == SIP_TSX_COMPLETED))
			tx_send(tx, tx->last, tx->last_len);
		return 0;
	}
	if (sip_str_eq(m->method, "CANCEL"))
		return on_cancel(t, now, from, m, key, keylen);
	err = server_new(t, m, from, key, keylen, &tx);
	if (err)
		return err;
	if (tx->kind == SIP_TSX_IST) {
		if (respond(tx, now, &trying))
			return 0;
	} else {
		/* A guard: the client gives up after 64*T1 (Timer F). */
		tx->t_end = at(now, t64(t));
		schedule(tx);
	}
	emit(tx, SIP_TSX_EV_REQUEST, m, from, 0);
	return 0;
}

int sip_tsx_recv(struct sip_tsx_table *t, int64_t now_ms,
		 const struct sip_peer *from, const struct sip_msg *m)
{
	int err = 0;

	if (!m->nvia)
		return EINVAL;
	enter(t);
	if (m->is_request)
		err = on_request(t, now_ms, from, m);
	else
		on_response(t, now_ms, from, m);
	leave(t);
	return err;
}

/* ---- timers ---- */

/* A retransmission timer (A, E, G) fired. */
static void fire_retx(struct sip_tsx *tx, int64_t now)
{
	const struct sip_tsx_table *t = tx->t;

	if (tx->kind == SIP_TSX_ICT) {
		tx->retx_ms *= 2; /* A: doubling, no cap (RFC 3261 17.1.1.2) */
	} else if (tx->kind == SIP_TSX_NICT &&
		   tx->state == SIP_TSX_PROCEEDING) {
		tx->retx_ms = t->o.t2_ms; /* E in Proceeding */
	} else {
		tx->retx_ms =
		    2 * tx->retx_ms < t->o.t2_ms ? 2 * tx->retx_ms : t->o.t2_ms;
	}
	if (tx->retx_ms > 64 * t->o.t1_ms)
		tx->retx_ms = 64 * t->o.t1_ms;
	tx->t_retx = at(now, tx->retx_ms);
	schedule(tx);
	tx_send(tx, tx->last, tx->last_len);
}

static void fire(struct sip_tsx *tx, int64_t now)
{
	if (tx->t_end <= now) {
		/* B, F, H, the CANCEL's wait, NIST's guard */
		tx->t_end = SIP_TSX_NEVER;
		terminate(tx);
		emit(tx, SIP_TSX_EV_TIMEOUT, NULL, NULL, ETIMEDOUT);
	} else if (tx->t_wait <= now) {
		tx->t_wait = SIP_TSX_NEVER;
		terminate(tx); /* D, I, J, K, L, M */
	} else if (tx->t_retx <= now) {
		fire_retx(tx, now);
	}
}

void sip_tsx_timers(struct sip_tsx_table *t, int64_t now_ms)
{
	enter(t);
	while (t->nheap && t->heap[0]->due <= now_ms)
		fire(t->heap[0], now_ms);
	leave(t);
}

int64_t sip_tsx_next_timer(const struct sip_tsx_table *t)
{
	if (t->dead)
		return 0;
	return t->nheap ? t->heap[0]->due : SIP_TSX_NEVER;
}

unsigned sip_tsx_count(const struct sip_tsx_table *t)
{
	return t->count;
}

/* ---- accessors and helpers ---- */

enum sip_tsx_kind sip_tsx_kind(const struct sip_tsx *tx)
{
	return tx->kind;
}

enum sip_tsx_state sip_tsx_state(const struct sip_tsx *tx)
{
	return tx->state;
}

void *sip_tsx_user(const struct sip_tsx *tx)
{
	return tx->user;
}

void sip_tsx_set_user(struct sip_tsx *tx, void *user)
{
	tx->user = user;
}

const char *sip_tsx_method(const struct sip_tsx *tx)
{
	return tx->method;
}

uint32_t sip_tsx_cseq(const struct sip_tsx *tx)
{
	return tx->cseq;
}

const struct sip_peer *sip_tsx_peer(const struct sip_tsx *tx)
{
	return &tx->peer;
}

unsigned sip_tsx_status(const struct sip_tsx *tx)
{
	return tx->status;
}

const char *sip_tsx_tag(const struct sip_tsx *tx)
{
	return tx->tag;
}

const char *sip_tsx_last_sent(const struct sip_tsx *tx, size_t *len)
{
	*len = tx->last_len;
	return tx->last;
}

void sip_tsx_reply_peer(struct sip_peer *dst, const struct sip_peer *from,
			const struct sip_msg *m)
{
	uint16_t port;

	*dst = *from;
	if (from->proto != SIP_UDP || m->via[0].rport)
		return;
	port = htons((uint16_t)(m->via[0].port ? m->via[0].port : 5060));
	if (dst->addr.ss_family == AF_INET6)
		((struct sockaddr_in6 *)&dst->addr)->sin6_port = port;
	else
		((struct sockaddr_in *)&dst->addr)->sin_port = port;
}

void sip_tsx_retx_start(struct sip_tsx_retx *r, const struct sip_tsx_table *t,
			int64_t now_ms)
{
	r->interval_ms = t->o.t1_ms;
	r->t2_ms = t->o.t2_ms;
	r->next_ms = at(now_ms, r->interval_ms);
	r->end_ms = at(now_ms, t64(t));
}

int sip_tsx_retx_poll(struct sip_tsx_retx *r, int64_t now_ms)
{
	if (now_ms >= r->end_ms)
		return ETIMEDOUT;
	if (now_ms < r->next_ms)
		return 0;
	r->interval_ms =
	    2 * r->interval_ms < r->t2_ms ? 2 * r->interval_ms : r->t2_ms;
	r->next_ms = at(now_ms, r->interval_ms);
	return 1;
}
