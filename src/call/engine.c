/*
 * engine.c - the call engine's thread: its queue (messages from the
 * transport, results from the store workers), the transaction table and
 * its timers, and the table of dialogs. What a call does is in call.c.
 */
#include <errno.h>
#include <poll.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>
#include <sys/eventfd.h>
#include <sys/socket.h>
#include <unistd.h>

#include "base/beat.h"
#include "base/id.h"
#include "base/metrics.h"
#include "base/log.h"
#include "base/time.h"
#include "call/internal.h"

/* Messages queued from the transport, at most; more are dropped (UDP
 * senders retransmit). */
#define QUEUE_MAX 20000
#define DMAP_BUCKETS 8192
/*
 * SIP transactions at once, at most: the table grows to this with the
 * load. An ended call keeps three for 64*T1 = 32 s (RFC 6026 Timers L and
 * M, Timer J) and two for 5 s, so this is room for about 3,000 calls a
 * second held.
 */
#define TSX_MAX (1u << 19)

struct item {
	struct item *next;
	enum { IT_MSG, IT_DONE, IT_STOP } kind;
	struct sip_peer from;
	call_done_fn fn; /* IT_DONE */
	void *arg;
	size_t len;
	char msg[]; /* IT_MSG */
};

static uint32_t hash(const char *s, size_t n)
{
	uint32_t h = 2166136261u;

	for (size_t i = 0; i < n; i++)
		h = (h ^ (unsigned char)s[i]) * 16777619u;
	return h;
}

/* ---- the dialog table ---- */

void call_dmap_put(struct call_engine *e, struct call_leg *l)
{
	size_t n = sip_dialog_id(&l->d, l->dkey, sizeof(l->dkey));
	uint32_t b;

	if (!n || l->in_map)
		return;
	b = hash(l->dkey, n) % DMAP_BUCKETS;
	l->dnext = e->dmap[b];
	e->dmap[b] = l;
	l->in_map = true;
}

void call_dmap_del(struct call_engine *e, struct call_leg *l)
{
	uint32_t b;

	if (!l->in_map)
		return;
	b = hash(l->dkey, strlen(l->dkey)) % DMAP_BUCKETS;
	for (struct call_leg **p = &e->dmap[b]; *p; p = &(*p)->dnext)
		if (*p == l) {
			*p = l->dnext;
			break;
		}
	l->in_map = false;
}

struct call_leg *call_dmap_find(struct call_engine *e, const char *key,
				size_t n)
{
	uint32_t b = hash(key, n) % DMAP_BUCKETS;

	for (struct call_leg *l = e->dmap[b]; l; l = l->dnext)
		if (strlen(l->dkey) == n && memcmp(l->dkey, key, n) == 0)
			return l;
	return NULL;
}

/* ---- the timer heap of calls (each call once, by its earliest timer) ---- */

static void theap_swap(struct call_engine *e, unsigned a, unsigned b)
{
	struct call *x = e->theap[a];

	e->theap[a] = e->theap[b];
	e->theap[b] = x;
	e->theap[a]->heap_i = a;
	e->theap[b]->heap_i = b;
}

static void theap_fix(struct call_engine *e, unsigned i)
{
	while (i > 0 && e->theap[(i - 1) / 2]->due > e->theap[i]->due) {
		theap_swap(e, i, (i - 1) / 2);
		i = (i - 1) / 2;
	}
	for (;;) {
		unsigned l = 2 * i + 1, r = l + 1, m = i;

		if (l < e->ntheap && e->theap[l]->due < e->theap[m]->due)
			m = l;
		if (r < e->ntheap && e->theap[r]->due < e->theap[m]->due)
			m = r;
		if (m == i)
			return;
		theap_swap(e, i, m);
		i = m;
	}
}

int call_theap_set(struct call_engine *e, struct call *c, int64_t due)
{
	unsigned i;

	if (due == SIP_TSX_NEVER) {
		if (!c->in_heap)
			return 0;
		i = c->heap_i;
		c->in_heap = false;
		theap_swap(e, i, --e->ntheap);
		if (i < e->ntheap)
			theap_fix(e, i);
		return 0;
	}
	if (!c->in_heap) {
		if (e->ntheap == e->theap_cap) {
			unsigned cap = e->theap_cap ? 2 * e->theap_cap : 256;
			struct call **h = realloc(e->theap, cap * sizeof(*h));

			if (!h)
				return ENOMEM;
			e->theap = h;
			e->theap_cap = cap;
		}
		c->heap_i = e->ntheap;
		e->theap[e->ntheap++] = c;
		c->in_heap = true;
	}
	c->due = due;
	theap_fix(e, c->heap_i);
	return 0;
}

int64_t call_theap_next(const struct call_engine *e)
{
	return e->ntheap ? e->theap[0]->due : SIP_TSX_NEVER;
}

struct call *call_theap_pop(struct call_engine *e, int64_t now_ms)
{
	struct call *c;

	if (!e->ntheap || e->theap[0]->due > now_ms)
		return NULL;
	c = e->theap[0];
	call_theap_set(e, c, SIP_TSX_NEVER);
	return c;
}

/* ---- the queue ---- */

static int push(struct call_engine *e, struct item *it)
{
	uint64_t one = 1;
	bool wake;

	pthread_mutex_lock(&e->mu);
	if (it->kind == IT_MSG && e->queued >= QUEUE_MAX) {
		pthread_mutex_unlock(&e->mu);
		free(it);
		return EAGAIN;
	}
	wake = !e->head;
	if (e->tail)
		e->tail->next = it;
	else
		e->head = it;
	e->tail = it;
	e->queued++;
	pthread_mutex_unlock(&e->mu);
	if (wake && write(e->efd, &one, sizeof(one)) < 0)
		LOG_ERROR("call_queue", "error=\"%s\"", strerror(errno));
	return 0;
}

void call_on_message(void *ctx, struct sip_transport *t,
		     const struct sip_peer *from, char *msg, size_t len)
{
	struct call_engine *e = ctx;
	struct item *it = malloc(sizeof(*it) + len);

	(void)t;
	if (!it)
		return;
	*it = (struct item){.kind = IT_MSG, .from = *from, .len = len};
	memcpy(it->msg, msg, len);
	if (push(e, it))
		LOG_DEBUG("call_queue_full", "dropped=1");
}

int call_post(struct call_engine *e, call_done_fn fn, void *arg)
{
	struct item *it = malloc(sizeof(*it));

	if (!it)
		return ENOMEM;
	*it = (struct item){.kind = IT_DONE, .fn = fn, .arg = arg};
	return push(e, it);
}

static void job_done(struct call_engine *e, void *arg)
{
	call_on_job_done(e, arg);
}

void call_job_done(struct call_job *j)
{
	/* Cannot fail but for memory: the call then stays in CALL_AUTH
	 * until shutdown, and that is logged. */
	if (call_post(j->e, job_done, j))
		LOG_ERROR("call_job_lost", "error=ENOMEM");
}

/* ---- the transaction layer's callbacks ---- */

static int tsx_send(void *ctx, const struct sip_peer *to, const char *buf,
		    size_t len)
{
	struct call_engine *e = ctx;

	return sip_transport_send(e->t, to, buf, len);
}

static void tsx_event(void *ctx, const struct sip_tsx_event *ev)
{
	call_on_tsx_event(ctx, ev);
}

/* One received message: parsed, then through the transaction layer. */
static void on_msg(struct call_engine *e, struct item *it)
{
	struct sip_msg *m = malloc(sizeof(*m));
	char *copy = malloc(it->len ? it->len : 1);
	int err;

	if (!m || !copy)
		goto out;
	memcpy(copy, it->msg, it->len);
	err = sip_msg_parse(m, copy, it->len);
	if (err) {
		/* Answer 400 only when there is enough to address it. */
		if (m->is_request && m->nvia && m->from.raw.p && m->to.raw.p &&
		    m->call_id.p && m->cseq_method.p)
			call_reply_stateless(e, &it->from, m, 400, NULL);
		LOG_DEBUG("sip_bad_message", "error=%d", err);
		goto out;
	}
	/* Stateless forwarding through our connections: never a
	 * transaction or a call of this node. */
	if (e->path && call_path_forward(e, &it->from, m))
		goto out;
	e->raw = it->msg;
	e->raw_len = it->len;
	err = sip_tsx_recv(e->tsx, base_time_mono_ms(), &it->from, m);
	e->raw = NULL;
	if (err == EBUSY || err == E2BIG)
		call_reply_stateless(e, &it->from, m, 503,
				     "Retry-After: 5\r\n");
out:
	free(copy);
	free(m);
}

static void *loop(void *arg)
{
	struct call_engine *e = arg;
	struct base_beat *beat = base_beat_add("call_engine");
	bool stop = false;

	while (!stop || e->ncalls > 0) {
		int64_t now = base_time_mono_ms();
		int64_t next = sip_tsx_next_timer(e->tsx);
		int64_t due = call_next_timer(e);
		struct pollfd p = {.fd = e->efd, .events = POLLIN};
		struct item *it, *nx;
		uint64_t v;
		int timeout;

		if (due < next)
			next = due;
		if (stop && next > now + 200)
			next = now + 200;
		timeout = next == SIP_TSX_NEVER ? 1000
			  : next <= now		? 0
			  : next - now > 1000	? 1000
						: (int)(next - now);
		if (poll(&p, 1, timeout) > 0 &&
		    read(e->efd, &v, sizeof(v)) < 0 && errno != EAGAIN)
			LOG_ERROR("call_queue", "error=\"%s\"",
				  strerror(errno));
		pthread_mutex_lock(&e->mu);
		it = e->head;
		e->head = e->tail = NULL;
		e->queued = 0;
		pthread_mutex_unlock(&e->mu);
		for (; it; it = nx) {
			nx = it->next;
			if (it->kind == IT_MSG)
				on_msg(e, it);
			else if (it->kind == IT_DONE)
				it->fn(e, it->arg);
			else if (!stop) {
				stop = true;
				call_end_all(e);
			}
			free(it);
		}
		now = base_time_mono_ms();
		base_beat(beat, now);
		sip_tsx_timers(e->tsx, now);
		call_run_timers(e, now);
		if (!stop)
			call_record_timers(e, now);
		call_app_timers(e, now);
		if (stop && e->ncalls > 0 &&
		    base_time_mono_ms() > e->stop_deadline_ms)
			break; /* peers that never answer: give up */
	}
	base_beat_del(beat);
	return NULL;
}

static struct metric_family calls_active = {
    .name = "sipward_calls_active",
    .help = "Calls and messages in progress on this node.",
    .kind = METRIC_GAUGE};
METRIC_REGISTER(calls_active)

static int read_active(void *ctx, unsigned i, unsigned j, double *out)
{
	(void)i;
	(void)j;
	*out = call_engine_count(ctx);
	return 0;
}

int call_engine_new(struct call_engine **out, struct svc *svc,
		    const struct call_opts *o)
{
	struct call_engine *e = calloc(1, sizeof(*e));
	struct sip_tsx_opts to = {.max = o->tsx_max ? o->tsx_max : TSX_MAX,
				  .msg_max = o->msg_max ? o->msg_max : 65535};
	static const struct sip_tsx_ops ops = {.send = tsx_send,
					       .event = tsx_event};
	int err;

	if (!e)
		return ENOMEM;
	e->svc = svc;
	e->o = *o;
	e->efd = -1;
	pthread_mutex_init(&e->mu, NULL);
	pthread_mutex_init(&e->rec_mu, NULL);
	e->dmap = calloc(DMAP_BUCKETS, sizeof(*e->dmap));
	if (!e->dmap) {
		err = ENOMEM;
		goto fail;
	}
	err = sip_tsx_table_new(&e->tsx, &to, &ops, e);
	if (err)
		goto fail;
	e->efd = eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC);
	if (e->efd < 0) {
		err = errno;
		goto fail;
	}
	err = base_pool_start(&e->pool, o->workers ? o->workers : 1,
			      o->queue_max ? o->queue_max : 1, "call-store");
	if (!err)
		err = base_pool_start(&e->log, 1, 100000, "call-log");
	if (!err)
		err = base_pool_start(&e->media, 1, 100000, "call-media");
	if (!err)
		err = base_id_uuid(e->node_id, sizeof(e->node_id));
	if (!err)
		err = call_app_engine_start(e);
	if (!err)
		err = sip_resolver_new(
		    &e->dns, &(struct sip_resolver_opts){
				 .servers = o->dns_servers,
				 .timeout_ms = o->dns_timeout_ms,
				 .workers = 4,
				 .queue_max = 1024,
				 .family = strchr(o->via_host, ':') ? AF_INET6
								    : AF_INET});
	if (err)
		goto fail;
	metric_bind(&calls_active, read_active, e);
	*out = e;
	return 0;
fail:
	call_engine_free(e);
	return err;
}

void call_engine_set_transport(struct call_engine *e, struct sip_transport *t,
			       unsigned port, const struct sip_path_key *path)
{
	e->t = t;
	e->port = port;
	for (int p = 0; p < SIP_PROTO_COUNT; p++)
		e->ports[p] = p == SIP_UDP ? port : sip_transport_port_of(t, p);
	e->path = path && path->self[0] ? path : NULL;
	if (!e->started && pthread_create(&e->thread, NULL, loop, e) == 0)
		e->started = true;
	if (!e->started)
		LOG_ERROR("call_engine_start", "error=\"no thread\"");
}

void call_engine_stop(struct call_engine *e)
{
	struct item *it;

	if (!e || !e->started || e->stopped)
		return;
	e->stop_deadline_ms = base_time_mono_ms() + 5000;
	it = calloc(1, sizeof(*it));
	if (it) {
		it->kind = IT_STOP;
		push(e, it);
	}
	pthread_join(e->thread, NULL);
	e->stopped = true;
	/* Jobs still running report to a queue nobody reads: drain the
	 * workers, then free what they queued. */
	base_pool_drain(e->pool);
	base_pool_drain(e->log);
	base_pool_drain(e->media);
	sip_resolver_drain(e->dns);
}

void call_engine_free(struct call_engine *e)
{
	struct item *it, *nx;

	if (!e)
		return;
	if (calls_active.read_ctx == e)
		metric_bind(&calls_active, NULL, NULL);
	call_engine_stop(e);
	if (e->fetcher)
		call_app_engine_stop(e); /* its callbacks queue their ends */
	/* Drained, the pools refuse new jobs (EAGAIN) but stay valid while
	 * what is left ends: a call that ends now loses its records, and
	 * says so in the log. */
	if (e->pool)
		base_pool_drain(e->pool);
	if (e->log)
		base_pool_drain(e->log);
	if (e->media)
		base_pool_drain(e->media);
	for (it = e->head; it; it = nx) {
		nx = it->next;
		if (it->kind == IT_DONE)
			it->fn(e, it->arg);
		free(it);
	}
	call_free_all(e);
	if (e->pool)
		base_pool_stop(e->pool);
	if (e->log)
		base_pool_stop(e->log);
	if (e->media)
		base_pool_stop(e->media);
	call_record_drop_all(e);
	sip_resolver_free(e->dns); /* drained when the engine stopped */
	call_app_hooks_free(e);
	sip_tsx_table_free(e->tsx);
	if (e->efd >= 0)
		close(e->efd);
	free(e->dmap);
	free(e->theap);
	pthread_mutex_destroy(&e->mu);
	pthread_mutex_destroy(&e->rec_mu);
	free(e);
}

unsigned call_engine_count(struct call_engine *e)
{
	return __atomic_load_n(&e->ncalls, __ATOMIC_RELAXED);
}
