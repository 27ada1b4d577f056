/*
 * registrar.c - one SIP request in, one response out. REGISTER: challenge
 * (401 with a signed nonce per configured algorithm), verify the digest
 * against the stored HA1 (both through sip/auth.h, which logs failures on
 * one stable line: auth_failed user=.. src=.. reason=..), apply the
 * bindings through svc, answer 200 with every live contact.
 */
#include "registrar/registrar.h"

#include <ctype.h>
#include <netinet/in.h>
#include <pthread.h>
#include <errno.h>
#include <stdarg.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "base/addr.h"
#include "base/log.h"
#include "base/metrics.h"
#include "base/pool.h"
#include "base/time.h"
#include "sip/auth.h"
#include "sip/build.h"
#include "sip/digest.h"
#include "sip/msg.h"
#include "sip/tsx.h"
#include "sip/txn.h"

#ifndef SIPWARD_VERSION
#define SIPWARD_VERSION "0"
#endif

#define RESP_MAX 8192
/*
 * The answers kept for retransmissions: about 16 MiB (at some 700 bytes a
 * transaction, the last 24,000 transactions even when they come faster than
 * the 32 s of Timer J allow to keep them all).
 */
#define TXN_BUDGET (16u << 20)
#define SWEEP_BATCH 1000

/* The registrar's names and realms fit sip_auth's (the same bounds). */
_Static_assert(SIP_AUTH_REALM_MAX == MODEL_DOMAIN_MAX, "realm size");
_Static_assert(SIP_AUTH_USER_MAX == MODEL_USERNAME_MAX + 1, "user size");
_Static_assert(sizeof(((struct registrar_opts *)0)->listen_hosts) ==
		   sizeof(((struct sip_auth_opts *)0)->listen_hosts),
	       "listen hosts");

/* The sweep of expired bindings, on a worker, one at a time. */
struct sweep_job {
	struct base_pool_job job;
	struct registrar *r;
};

struct registrar {
	struct svc *svc;
	struct registrar_opts o; /* o.secret cleared: auth holds it */
	struct sip_auth *auth;	 /* digest checks, throttles, nonces */
	bool own_auth;		 /* made here (o->auth was NULL) */
	struct sip_txn_table *txns;
	struct base_pool *pool;
	int64_t last_sweep_s; /* transport thread */
	atomic_bool sweeping;
	struct sweep_job sweep;
	const struct sip_path_key *_Atomic path; /* NULL until set */
	/* REGISTERs queued for the store's writer thread (register_queue),
	 * which registrar_stop_workers waits for. */
	pthread_mutex_t mu;
	pthread_cond_t idle;
	unsigned queued;
	bool stopping;
};

static void drop_conn_later(struct registrar *r, const char *src,
			    const char *transport);

/* A response under construction (sip/build.h writes it). */
struct out {
	struct sip_buf b;
	char buf[RESP_MAX];
};

#define outf(o, ...) sip_buf_printf(&(o)->b, __VA_ARGS__)

/* One request being answered. */
struct req {
	struct registrar *r;
	struct sip_transport *t;
	const struct sip_peer *from; /* where responses go */
	struct sip_msg *m;
	char src_ip[64];
	unsigned src_port;
	char src[80];	     /* "ip:port", "[ip6]:port" */
	int64_t deadline_ms; /* for the store, base_time_mono_ms() units */
};

/*
 * A request as it arrives, in one allocation: its bytes (parsed in place),
 * the parse, where it came from and, for a REGISTER that needs the store,
 * its prepared digest check. The transport thread fills it; such a
 * REGISTER is then handed whole to a store worker, which parses and checks
 * nothing again.
 */
struct reg_job {
	struct base_pool_job job;
	struct req q; /* q.m = &m, q.from = &to */
	struct sip_peer to;
	struct sip_msg m;
	struct sip_auth_req p;
	char key[SIP_TXN_KEY_MAX];
	size_t keylen;
	char msg[]; /* as received */
};

int registrar_algs_parse(const char *text, enum base_digest_alg *algs,
			 unsigned *n)
{
	char buf[64];
	char *save = NULL, *tok;

	if (strlen(text) >= sizeof(buf))
		return EINVAL;
	memcpy(buf, text, strlen(text) + 1);
	*n = 0;
	for (tok = strtok_r(buf, ", ", &save); tok;
	     tok = strtok_r(NULL, ", ", &save)) {
		enum base_digest_alg a;
		if (*n >= 2 ||
		    sip_digest_alg_parse((struct sip_str){tok, strlen(tok)},
					 &a) ||
		    (*n == 1 && algs[0] == a))
			return EINVAL;
		algs[(*n)++] = a;
	}
	return *n ? 0 : EINVAL;
}

/* sip_auth's options from the registrar's. */
static void auth_opts(const struct registrar_opts *o, struct sip_auth_opts *ao)
{
	memset(ao, 0, sizeof(*ao));
	ao->secret = o->secret;
	ao->secret_len = o->secret_len;
	ao->nonce_ttl_s = o->nonce_ttl_s;
	memcpy(ao->algs, o->algs, sizeof(ao->algs));
	ao->nalgs = o->nalgs;
	ao->fail_max = o->fail_max;
	ao->fail_addr_max = o->fail_addr_max;
	ao->fail_window_s = o->fail_window_s;
	ao->fail_penalty_s = o->fail_penalty_s;
	ao->challenge_rate = o->challenge_rate;
	memcpy(ao->listen_hosts, o->listen_hosts, sizeof(ao->listen_hosts));
	ao->nlisten = o->nlisten;
}

/* ---- metrics ---- */

static const char *const REG_KINDS[2] = {"endpoints", "bindings"};

static struct metric_family registrations = {
    .name = "sipward_registrations",
    .help = "Live registrations in the store (every node's): endpoints with "
	    "at least one live binding, and live bindings (contacts).",
    .kind = METRIC_GAUGE,
    .label = {"kind"},
    .values = {REG_KINDS},
    .nvalues = {2}};
METRIC_REGISTER(registrations)

/*
 * Read at a scrape, series 0 then 1: one query for both (a scrape runs on
 * the admin listener's one worker, so the values read at 0 are at hand).
 */
static int read_registrations(void *ctx, unsigned i, unsigned j, double *out)
{
	static int64_t n[2];
	static int err;
	struct registrar *r = ctx;

	(void)j;
	if (i == 0)
		err = svc_bindings_count(r->svc, &n[0], &n[1]);
	*out = (double)n[i];
	return err;
}

int registrar_new(struct registrar **out, struct svc *svc,
		  const struct registrar_opts *o)
{
	struct registrar *r;
	struct sip_auth_opts ao;
	int err;

	r = calloc(1, sizeof(*r));
	if (!r)
		return ENOMEM;
	r->svc = svc;
	r->o = *o;
	r->o.secret = NULL; /* the caller's; sip_auth keeps a copy */
	if (!r->o.queue_max)
		r->o.queue_max = 1;
	atomic_init(&r->sweeping, false);
	r->sweep.r = r;
	pthread_mutex_init(&r->mu, NULL);
	pthread_cond_init(&r->idle, NULL);
	if (o->auth) {
		r->auth = o->auth;
	} else {
		auth_opts(o, &ao);
		err = sip_auth_new(&r->auth, &ao);
		r->own_auth = !err;
		if (err)
			goto out;
	}
	err = sip_txn_table_new(&r->txns, TXN_BUDGET);
	if (!err)
		err = base_pool_start(&r->pool, o->workers ? o->workers : 1,
				      o->queue_max ? o->queue_max : 1,
				      "sip-store");
out:
	if (err) {
		registrar_free(r);
		return err;
	}
	r->last_sweep_s = base_time_mono_s();
	metric_bind(&registrations, read_registrations, r);
	*out = r;
	return 0;
}

void registrar_stop_workers(struct registrar *r)
{
	if (!r)
		return;
	/* The writer thread answers what is queued (within store_timeout). */
	pthread_mutex_lock(&r->mu);
	r->stopping = true;
	while (r->queued)
		pthread_cond_wait(&r->idle, &r->mu);
	pthread_mutex_unlock(&r->mu);
	base_pool_drain(r->pool);
}

void registrar_set_port(struct registrar *r, unsigned port)
{
	sip_auth_set_port(r->auth, port);
}

void registrar_set_path(struct registrar *r, const struct sip_path_key *k)
{
	atomic_store(&r->path, k);
}

void registrar_free(struct registrar *r)
{
	if (!r)
		return;
	if (registrations.read_ctx == r)
		metric_bind(&registrations, NULL, NULL);
	registrar_stop_workers(r);
	base_pool_stop(r->pool);
	pthread_cond_destroy(&r->idle);
	pthread_mutex_destroy(&r->mu);
	sip_txn_table_free(r->txns);
	if (r->own_auth)
		sip_auth_free(r->auth);
	free(r);
}

/* ---- responses ---- */

/*
 * Starts a response: status line and the headers copied from the request
 * (sip_build_response_start), with a fresh To tag.
 */
static void begin(struct out *o, const struct req *q, unsigned code,
		  const char *reason)
{
	char tag[SIP_TAG_LEN + 1];

	sip_buf_init(&o->b, o->buf, sizeof(o->buf));
	sip_build_response_start(&o->b, q->m, q->src_ip, q->src_port, code,
				 reason,
				 sip_build_tag(tag, sizeof(tag)) ? NULL : tag);
}

/* Ends the response, sends it and remembers it for retransmissions. */
static void finish(struct out *o, struct req *q, const char *key, size_t keylen)
{
	sip_buf_puts(&o->b, "Server: sipward/" SIPWARD_VERSION "\r\n");
	if (sip_build_end(&o->b, NULL, (struct sip_str){0})) {
		LOG_WARN("sip_response_too_large", "src=%s", q->src);
		return;
	}
	if (keylen)
		sip_txn_store(q->r->txns, key, keylen, o->buf, o->b.len,
			      base_time_mono_s());
	sip_transport_send(q->t, q->from, o->buf, o->b.len);
}

/* Answers with a status and no extra headers (extra may be NULL). */
static void reply(struct req *q, const char *key, size_t keylen, unsigned code,
		  const char *reason, const char *extra)
{
	struct out *o = malloc(sizeof(*o));

	if (!o)
		return;
	begin(o, q, code, reason);
	if (extra)
		outf(o, "%s", extra);
	finish(o, q, key, keylen);
	free(o);
}

/* ---- digest ---- */

/*
 * Sends 401 with one challenge per configured algorithm (sip_auth_challenge:
 * nonces bound to the source address and the realm, nothing past
 * challenge_rate a second to one address, so that sipward is no reflector
 * for forged sources).
 */
static void challenge(struct req *q, const char *key, size_t keylen,
		      const struct sip_auth_req *p, bool stale)
{
	struct out *o = malloc(sizeof(*o));

	if (!o)
		return;
	begin(o, q, 401, "Unauthorized");
	if (!sip_auth_challenge(q->r->auth, p, stale, &o->b))
		finish(o, q, key, keylen);
	free(o);
}

/* 503 with Retry-After: the store could not answer in time. */
static void reply_unavailable(struct req *q, const char *key, size_t keylen)
{
	char extra[48];

	snprintf(extra, sizeof(extra), "Retry-After: %ld\r\n",
		 q->r->o.retry_after_s);
	LOG_DEBUG("sip_unavailable", "src=%s", q->src);
	reply(q, key, keylen, 503, "Service Unavailable", extra);
}

/* The digest check that svc_register runs inside its transaction. */
struct check {
	struct registrar *r;
	struct sip_auth_req *p;
	const char *bad; /* a 400's reason, once the digest passed; or NULL */
	bool checked;	 /* v is set */
	enum sip_auth_verdict v;
	bool known; /* what v was reached with */
	struct svc_sip_cred cred;
};

/*
 * Verifies the digest against the user's HA1s (cred NULL: unknown user,
 * checked against dummies all the same). A retried transaction with the
 * same credentials gets the same verdict: the nonce count was used once.
 * Returns 0 to apply the REGISTER, ECANCELED to write nothing (c->v, or
 * c->bad, says why).
 */
static int check_cred(void *arg, const struct svc_sip_cred *cred)
{
	struct check *c = arg;
	bool same =
	    c->checked && c->known == (cred != NULL) &&
	    (!cred || (c->cred.endpoint_ref == cred->endpoint_ref &&
		       strcmp(c->cred.ha1_md5, cred->ha1_md5) == 0 &&
		       strcmp(c->cred.ha1_sha256, cred->ha1_sha256) == 0));

	if (!same) {
		c->known = cred != NULL;
		if (cred)
			c->cred = *cred;
		c->v = sip_auth_verify(c->r->auth, c->p,
				       cred ? cred->ha1_md5 : NULL,
				       cred ? cred->ha1_sha256 : NULL);
		c->checked = true;
	}
	return c->v == SIP_AUTH_OK && !c->bad ? 0 : ECANCELED;
}

/* ---- REGISTER ---- */

/* Copies an ASCII token without spaces or controls; false otherwise. */
static bool copy_token(struct sip_str s, char *out, size_t cap)
{
	if (!s.p || s.n == 0 || s.n >= cap)
		return false;
	for (size_t i = 0; i < s.n; i++)
		if ((unsigned char)s.p[i] <= 0x20 ||
		    (unsigned char)s.p[i] >= 0x7f)
			return false;
	memcpy(out, s.p, s.n);
	out[s.n] = '\0';
	return true;
}

/* Copies printable ASCII, replacing anything else with '?'. */
static void copy_printable(struct sip_str s, char *out, size_t cap)
{
	size_t n = s.p ? (s.n < cap - 1 ? s.n : cap - 1) : 0;

	for (size_t i = 0; i < n; i++) {
		unsigned char c = (unsigned char)s.p[i];
		out[i] = c >= 0x20 && c < 0x7f ? (char)c : '?';
	}
	out[n] = '\0';
}

/* The one table from a binding error (errno) to the SIP answer. */
static const struct {
	int err;
	unsigned code;
	const char *reason;
} errno_map[] = {
    {EINVAL, 400, "Invalid Contact or Expires"},
    {EALREADY, 400, "CSeq Out Of Order"},
    {E2BIG, 403, "Too Many Contacts"},
    {ENOENT, 404, "Not Found"},
};

/*
 * Answers a failed svc call; anything unlisted (storage: ETIMEDOUT past the
 * deadline, EBUSY, EIO) is 503 with Retry-After.
 */
static void reply_errno(struct req *q, const char *key, size_t keylen, int err)
{
	for (size_t i = 0; i < sizeof(errno_map) / sizeof(errno_map[0]); i++) {
		if (errno_map[i].err == err) {
			reply(q, key, keylen, errno_map[i].code,
			      errno_map[i].reason, NULL);
			return;
		}
	}
	LOG_WARN("sip_store_unavailable", "src=%s error=\"%s\"", q->src,
		 strerror(err));
	reply_unavailable(q, key, keylen);
}

/* The Contact values of the 200 OK: every live binding, its time left. */
static void contacts_out(struct out *o, const struct model_binding *b,
			 unsigned n)
{
	int64_t now = base_time_now_ms();

	for (unsigned i = 0; i < n; i++) {
		int64_t left = (b[i].expires_ms - now + 999) / 1000;
		sip_buf_puts(&o->b, "Contact: <");
		sip_buf_puts(&o->b, b[i].contact);
		sip_buf_puts(&o->b, ">;expires=");
		sip_buf_putu(&o->b, (unsigned long long)(left > 0 ? left : 0));
		if (b[i].q[0]) {
			sip_buf_puts(&o->b, ";q=");
			sip_buf_puts(&o->b, b[i].q);
		}
		sip_buf_puts(&o->b, "\r\n");
	}
}

struct reg_work {
	struct model_reg_contact contacts[SIP_CONTACT_MAX];
	char uris[SIP_CONTACT_MAX][MODEL_CONTACT_URI_MAX + 1];
	char qs[SIP_CONTACT_MAX][MODEL_Q_MAX];
	char call_id[MODEL_CALL_ID_MAX + 1];
	char ua[MODEL_UA_MAX + 1];
};

/*
 * A REGISTER whose digest was right but whose nonce count was used before.
 * When a live binding holds its Call-ID and CSeq, it is a retransmission of
 * the request that made that binding, whose answer the transaction cache
 * no longer holds (a storm of thousands a second outlasts its budget):
 * answer 200 with the bindings as they are, writing nothing. Anything else
 * is a replay: challenge again.
 */
static void answer_replay(struct req *q, const char *key, size_t keylen,
			  const struct sip_auth_req *p,
			  const struct model_reg_request *rq)
{
	struct svc_sip_party *party = malloc(sizeof(*party));
	struct out *o = malloc(sizeof(*o));
	bool again = false;

	if (party &&
	    !svc_sip_party(q->r->svc, p->user, p->realm, true, party)) {
		base_wipe(&party->ep, sizeof(party->ep));
		for (unsigned i = 0; i < party->bindings.n; i++)
			if (party->bindings.b[i].cseq == rq->cseq &&
			    strcmp(party->bindings.b[i].call_id, rq->call_id) ==
				0)
				again = true;
	}
	if (again && o) {
		LOG_DEBUG("sip_register_again", "src=%s", q->src);
		begin(o, q, 200, "OK");
		contacts_out(o, party->bindings.b, party->bindings.n);
		finish(o, q, key, keylen);
	} else {
		challenge(q, key, keylen, p, false);
	}
	free(o);
	free(party);
}

/* The store half of a REGISTER in progress: all that lives until its
 * answer (on a store worker, or on the store's writer thread). */
struct reg_store {
	struct reg_job *j;
	struct check c;
	struct model_reg_request rq;
	char path[SIP_PATH_URI_MAX];
	struct reg_work w; /* 9 KiB: not zeroed, every field used is set */
};

/*
 * Gets a REGISTER's fields ready for svc_register: one transaction reads
 * the user's HA1s, checks the digest (check_cred) and writes the bindings;
 * store_end answers. A request whose fields are bad gets its 400 only once
 * its digest passed, as before it had any effect. NULL: out of memory.
 */
static struct reg_store *store_begin(struct reg_job *j)
{
	struct req *q = &j->q;
	const struct sip_msg *m = q->m;
	struct reg_store *rs = malloc(sizeof(*rs));
	struct reg_work *w;
	const struct sip_path_key *pk;

	if (!rs)
		return NULL;
	w = &rs->w;
	rs->j = j;
	rs->c = (struct check){.r = q->r, .p = &j->p};
	rs->rq = (struct model_reg_request){0};
	if (!copy_token(m->call_id, w->call_id, sizeof(w->call_id)))
		rs->c.bad = "Bad Call-ID";
	for (unsigned i = 0; !rs->c.bad && i < m->ncontact; i++) {
		const struct sip_contact *ct = &m->contact[i];
		if (!copy_token(ct->uri_raw, w->uris[i], sizeof(w->uris[i])) ||
		    (ct->q.p &&
		     !copy_token(ct->q, w->qs[i], sizeof(w->qs[i])))) {
			rs->c.bad = "Bad Contact";
			break;
		}
		if (!ct->q.p)
			w->qs[i][0] = '\0';
		w->contacts[i].uri = w->uris[i];
		w->contacts[i].q = w->qs[i];
		w->contacts[i].expires =
		    ct->has_expires ? (int64_t)ct->expires : -1;
	}
	copy_printable(m->user_agent, w->ua, sizeof(w->ua));
	rs->rq.call_id = w->call_id;
	rs->rq.cseq = m->cseq;
	rs->rq.star = m->contact_star;
	rs->rq.expires = m->has_expires ? (int64_t)m->expires : -1;
	rs->rq.contacts = w->contacts;
	rs->rq.ncontacts = m->ncontact;
	rs->rq.user_agent = w->ua;
	rs->rq.received = q->src;
	rs->rq.transport = sip_proto_name(q->from->proto);
	/* Over a connection: how the other nodes reach it. */
	pk = atomic_load(&q->r->path);
	if (q->from->proto != SIP_UDP && pk && pk->self[0] &&
	    !sip_path_uri(pk, q->from->conn, NULL, rs->path, sizeof(rs->path)))
		rs->rq.path = rs->path;
	rs->rq.now_ms = base_time_now_ms();
	return rs;
}

/*
 * Answers a REGISTER after svc_register: its result err and the n live
 * bindings b (when err is 0); frees rs.
 */
static void store_end(struct reg_store *rs, int err,
		      const struct model_binding *b, unsigned n)
{
	struct req *q = &rs->j->q;
	const char *key = rs->j->key;
	size_t keylen = rs->j->keylen;
	struct sip_auth_req *p = &rs->j->p;
	struct check *c = &rs->c;
	struct out *o;
	char extra[64];

	base_wipe(&c->cred, sizeof(c->cred));
	if (!c->checked) {
		reply_errno(q, key, keylen, err); /* the store, before */
	} else if (c->v == SIP_AUTH_STALE || c->v == SIP_AUTH_FAIL) {
		challenge(q, key, keylen, p, c->v == SIP_AUTH_STALE);
	} else if (c->v == SIP_AUTH_REPLAY) {
		answer_replay(q, key, keylen, p, &rs->rq);
	} else if (c->v == SIP_AUTH_ERROR) {
		reply_errno(q, key, keylen, p->err);
	} else if (c->bad) {
		reply(q, key, keylen, 400, c->bad, NULL);
	} else if (err == 0) {
		/* A connection that carries a live binding is kept, and
		 * its bindings end when it closes (registrar_on_closed). */
		for (unsigned i = 0; q->from->proto != SIP_UDP && i < n; i++) {
			if (strcmp(b[i].received, q->src) == 0 &&
			    strcmp(b[i].transport, rs->rq.transport) == 0) {
				sip_transport_conn_mark(q->t, q->from->conn);
				/* Closed meanwhile: the mark came too late. */
				if (!sip_transport_conn_open(q->t,
							     q->from->conn))
					drop_conn_later(q->r, q->src,
							rs->rq.transport);
				break;
			}
		}
		o = malloc(sizeof(*o));
		if (o) {
			begin(o, q, 200, "OK");
			contacts_out(o, b, n);
			finish(o, q, key, keylen);
			free(o);
		}
	} else if (err == ERANGE) {
		snprintf(extra, sizeof(extra), "Min-Expires: %u\r\n",
			 q->r->o.limits.min_expires);
		reply(q, key, keylen, 423, "Interval Too Brief", extra);
	} else {
		reply_errno(q, key, keylen, err);
	}
	free(rs);
}

/* A realm we can quote: lower-case letters, digits, '-' and '.'. */
static bool realm_of(struct sip_str host, char *out, size_t cap)
{
	if (!host.p || host.n == 0 || host.n >= cap)
		return false;
	for (size_t i = 0; i < host.n; i++) {
		char c = (char)tolower((unsigned char)host.p[i]);
		if (!((c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') ||
		      c == '-' || c == '.'))
			return false;
		out[i] = c;
	}
	out[host.n] = '\0';
	return true;
}

/*
 * Everything about a REGISTER that needs no I/O. Answers (or, for a user
 * in a penalty, stays silent) and returns false, or returns true with p
 * filled when the request needs the store.
 */
static bool prepare(struct req *q, const char *key, size_t keylen,
		    struct sip_auth_req *p)
{
	const struct sip_msg *m = q->m;

	memset(p, 0, sizeof(*p));
	p->m = m;
	p->src_ip = q->src_ip;
	p->src = q->src;
	p->md5_last = q->from->proto == SIP_WS || q->from->proto == SIP_WSS;
	if (m->require.p) {
		char extra[300];
		snprintf(extra, sizeof(extra), "Unsupported: %.*s\r\n",
			 (int)(m->require.n < 200 ? m->require.n : 200),
			 m->require.p);
		for (char *c = extra; *c; c++)
			if ((unsigned char)*c < 0x20 && *c != '\r' &&
			    *c != '\n')
				*c = ' ';
		reply(q, key, keylen, 420, "Bad Extension", extra);
		return false;
	}
	if (!realm_of(m->to.uri.host, p->realm, sizeof(p->realm)) ||
	    !copy_token(m->to.uri.user, p->user, sizeof(p->user))) {
		reply(q, key, keylen, 400, "Bad To URI", NULL);
		return false;
	}
	/* Silence for this user from an address with too many failures. */
	if (sip_auth_ignored(q->r->auth, q->src_ip, p->user))
		return false;
	switch (sip_auth_prepare(q->r->auth, p)) {
	case SIP_AUTH_CHALLENGE:
		challenge(q, key, keylen, p, false);
		return false;
	case SIP_AUTH_FORBIDDEN:
		reply(q, key, keylen, 403, "Forbidden", NULL);
		return false;
	case SIP_AUTH_CHECK:
		break;
	}
	return true;
}

/* Fills the source fields of q from the address a request came from. */
static void source_of(struct req *q, const struct sip_peer *from)
{
	base_addr_ip((const struct sockaddr *)&from->addr, q->src_ip,
		     sizeof(q->src_ip));
	q->src_port =
	    ntohs(from->addr.ss_family == AF_INET6
		      ? ((const struct sockaddr_in6 *)&from->addr)->sin6_port
		      : ((const struct sockaddr_in *)&from->addr)->sin_port);
	snprintf(q->src, sizeof(q->src),
		 from->addr.ss_family == AF_INET6 ? "[%s]:%u" : "%s:%u",
		 q->src_ip, q->src_port);
}

/* Answers 503 at once: the store cannot take a REGISTER now. Frees j. */
static void store_refused(struct reg_job *j, const char *why)
{
	LOG_WARN("sip_store_unavailable", "src=%s error=\"%s\"", j->q.src, why);
	reply_unavailable(&j->q, j->key, j->keylen);
	free(j);
}

/* A worker: the store work of a REGISTER, prepared by the transport. */
static void register_job(struct base_pool_job *job)
{
	struct reg_job *j = (struct reg_job *)job;
	struct svc_bindings *bs;
	struct reg_store *rs;
	int err;

	if (base_time_mono_ms() >= j->q.deadline_ms) {
		/* Waited in the queue past its deadline: no store work. */
		store_refused(j, "queued past store_timeout");
		return;
	}
	rs = store_begin(j);
	bs = malloc(sizeof(*bs)); /* 45 KiB, not zeroed: svc sets n */
	if (!rs || !bs) {
		free(rs);
		free(bs);
		free(j);
		return;
	}
	base_deadline_set(j->q.deadline_ms);
	err = svc_register(j->q.r->svc, j->p.user, j->p.realm, check_cred,
			   &rs->c, &rs->rq, &j->q.r->o.limits, bs);
	base_deadline_set(0);
	store_end(rs, err, bs->b, err ? 0 : bs->n);
	free(bs);
	free(j);
}

/* One REGISTER fewer queued for the writer thread. */
static void unqueued(struct registrar *r)
{
	pthread_mutex_lock(&r->mu);
	if (--r->queued == 0)
		pthread_cond_broadcast(&r->idle);
	pthread_mutex_unlock(&r->mu);
}

/* On the store's writer thread: a queued REGISTER's transaction is done. */
static void register_done(void *arg, int err, const struct model_binding *b,
			  unsigned n)
{
	struct reg_store *rs = arg;
	struct reg_job *j = rs->j;
	struct registrar *r = j->q.r;

	store_end(rs, err, b, n);
	free(j);
	unqueued(r);
}

/*
 * Queues a REGISTER's transaction for the store's writer thread (SQLite's
 * lazy group commit: one transaction and one wake-up a group, not a worker
 * thread blocked per REGISTER); register_done answers. Takes j.
 */
static void register_queue(struct reg_job *j)
{
	struct registrar *r = j->q.r;
	struct reg_store *rs;
	bool stopping;
	int err;

	pthread_mutex_lock(&r->mu);
	stopping = r->stopping;
	if (!stopping)
		r->queued++;
	pthread_mutex_unlock(&r->mu);
	if (stopping) {
		store_refused(j, "stopping");
		return;
	}
	rs = store_begin(j);
	err = rs ? svc_register_async(r->svc, j->p.user, j->p.realm, check_cred,
				      &rs->c, &rs->rq, &r->o.limits,
				      register_done, rs, j->q.deadline_ms,
				      r->o.queue_max)
		 : ENOMEM;
	if (err) {
		free(rs);
		unqueued(r);
		store_refused(j, err == EAGAIN ? "store queue full"
					       : strerror(err));
	}
}

/*
 * Hands a REGISTER that needs the store on (queued for the store's writer
 * thread, or to a worker), marking its transaction in progress so that
 * retransmissions are absorbed meanwhile; a full queue is answered 503 at
 * once. Takes j (freed here or once answered).
 */
static void register_submit(struct reg_job *j)
{
	if (j->keylen)
		sip_txn_begin(j->q.r->txns, j->key, j->keylen,
			      base_time_mono_s());
	if (svc_register_queues(j->q.r->svc))
		register_queue(j);
	else if (base_pool_submit(j->q.r->pool, &j->job, register_job))
		store_refused(j, "worker queue full");
}

void registrar_on_message(void *ctx, struct sip_transport *t,
			  const struct sip_peer *from, char *msg, size_t len)
{
	struct registrar *r = ctx;
	int64_t arrival_ms = base_time_mono_ms();
	/* sip_msg_parse clears j->m; it may write into j->msg. */
	struct reg_job *j = malloc(sizeof(*j) + len);
	struct req *q;
	struct sip_msg *m;
	char cached[RESP_MAX];
	size_t clen;
	int err;

	if (!j)
		return;
	memcpy(j->msg, msg, len);
	q = &j->q;
	m = &j->m;
	*q = (struct req){.r = r, .t = t, .from = from, .m = m};
	source_of(q, from);
	q->deadline_ms = arrival_ms + r->o.store_timeout_ms;
	j->keylen = 0;
	err = sip_msg_parse(m, j->msg, len);
	if (err) {
		/* Answer 400 only when there is enough to address it. */
		if (m->is_request && m->nvia && m->from.raw.p && m->to.raw.p &&
		    m->call_id.p && m->cseq_method.p &&
		    !sip_str_eq(m->method, "ACK"))
			reply(q, NULL, 0, 400, "Bad Request", NULL);
		LOG_DEBUG("sip_bad_message", "src=%s error=%d", q->src, err);
		goto out;
	}
	if (!m->is_request || sip_str_eq(m->method, "ACK"))
		goto out;
	sip_tsx_reply_peer(&j->to, from, m);
	q->from = &j->to;
	j->keylen = sip_txn_key(m, j->key, sizeof(j->key));
	if (j->keylen) {
		err =
		    sip_txn_find(r->txns, j->key, j->keylen, base_time_mono_s(),
				 cached, sizeof(cached), &clen);
		if (err == 0)
			sip_transport_send(t, &j->to, cached, clen);
		if (err != ENOENT)
			goto out; /* answered again, or still in progress */
	}
	if (sip_str_eq(m->method, "REGISTER")) {
		/* Silence for an address with too many failed checks. */
		if (!sip_auth_ignored(r->auth, q->src_ip, NULL) &&
		    prepare(q, j->key, j->keylen, &j->p)) {
			register_submit(j);
			return;
		}
	} else if (sip_str_eq(m->method, "OPTIONS")) {
		reply(q, j->key, j->keylen, 200, "OK", SIP_ALLOW_HDR);
	} else {
		reply(q, j->key, j->keylen, 405, "Method Not Allowed",
		      SIP_ALLOW_HDR);
	}
out:
	free(j);
}

/* A closed connection's bindings, for a worker to delete. */
struct closed_job {
	struct base_pool_job job;
	struct registrar *r;
	char src[80];
	char transport[8];
};

/* Deletes the bindings made over a connection that closed, and logs it. */
static void drop_conn(struct registrar *r, const char *src,
		      const char *transport)
{
	int64_t n = 0;
	int err;

	base_deadline_set(base_time_mono_ms() + r->o.store_timeout_ms);
	err = svc_bindings_drop_conn(r->svc, src, transport, &n);
	base_deadline_set(0);
	if (err)
		LOG_WARN("sip_bindings_closed",
			 "src=%s transport=%s error=\"%s\"", src, transport,
			 strerror(err));
	else
		LOG_INFO("sip_bindings_closed",
			 "src=%s transport=%s count=%lld", src, transport,
			 (long long)n);
}

static void closed_job(struct base_pool_job *job)
{
	struct closed_job *j = (struct closed_job *)job;

	drop_conn(j->r, j->src, j->transport);
	free(j);
}

/* Hands the end of a closed connection's bindings to a worker. */
static void drop_conn_later(struct registrar *r, const char *src,
			    const char *transport)
{
	struct closed_job *j = calloc(1, sizeof(*j));

	if (!j) {
		LOG_WARN("sip_bindings_closed", "error=\"out of memory\"");
		return;
	}
	j->r = r;
	snprintf(j->src, sizeof(j->src), "%s", src);
	snprintf(j->transport, sizeof(j->transport), "%s", transport);
	if (base_pool_submit(r->pool, &j->job, closed_job)) {
		LOG_WARN("sip_bindings_closed",
			 "src=%s transport=%s error=\"worker queue full\"",
			 j->src, j->transport);
		free(j);
	}
}

void registrar_on_closed(void *ctx, const struct sip_peer *peer)
{
	struct req q;

	source_of(&q, peer);
	drop_conn_later(ctx, q.src, sip_proto_name(peer->proto));
}

/* A worker: one sweep of expired bindings, logged whatever its outcome. */
static void sweep_job(struct base_pool_job *job)
{
	struct sweep_job *sj = (struct sweep_job *)job;
	struct registrar *r = sj->r;
	int64_t n = 0;
	int err;

	base_deadline_set(base_time_mono_ms() + r->o.store_timeout_ms);
	err = svc_bindings_sweep(r->svc, SWEEP_BATCH, &n);
	base_deadline_set(0);
	if (err)
		LOG_WARN("sip_bindings_sweep_failed", "error=\"%s\"",
			 strerror(err));
	else if (n > 0)
		LOG_INFO("sip_bindings_swept", "count=%lld", (long long)n);
	else
		LOG_DEBUG("sip_bindings_swept", "count=0");
	atomic_store(&r->sweeping, false);
}

void registrar_on_tick(void *ctx)
{
	struct registrar *r = ctx;
	int64_t now = base_time_mono_s();

	if (now - r->last_sweep_s < r->o.sweep_interval_s)
		return;
	r->last_sweep_s = now;
	/* At most one sweep at a time, and never on the transport thread. */
	if (atomic_exchange(&r->sweeping, true))
		return;
	if (base_pool_submit(r->pool, &r->sweep.job, sweep_job)) {
		atomic_store(&r->sweeping, false);
		LOG_WARN("sip_bindings_sweep_failed",
			 "error=\"worker queue full\"");
	}
}
