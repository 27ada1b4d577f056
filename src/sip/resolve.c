/*
 * resolve.c - RFC 3263 server location for requests to other domains:
 * NAPTR, SRV and A/AAAA lookups with c-ares, made one after the other on a
 * worker of the resolver's pool under one deadline. Every name that comes
 * from a URI or from an answer is checked before it is looked up, and the
 * records kept from each answer are capped.
 */
#include "sip/resolve.h"

#include <arpa/inet.h>
#include <ares.h>
#include <errno.h>
#include <netinet/in.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "base/id.h"
#include "base/log.h"
#include "base/time.h"

#define QUERIES_MAX 16	  /* DNS queries in one resolution, at most */
#define TRY_MS 1000	  /* one query to one server, before the next try */
#define DEFAULT_PORT 5060 /* RFC 3261 19.1.2 */

struct sip_resolver {
	struct base_pool *pool;
	char *servers; /* NULL: the system's */
	unsigned timeout_ms;
	int family;
	bool tcp;
};

/* ---- pure helpers ---- */

static bool is_alpha(char ch)
{
	return (ch >= 'a' && ch <= 'z') || (ch >= 'A' && ch <= 'Z');
}

static bool is_digit(char ch)
{
	return ch >= '0' && ch <= '9';
}

/*
 * Whether s (n bytes) is a DNS name we look up: labels of 1-63 letters,
 * digits and '-' (not first or last), and with `service` also labels that
 * start with '_' (_sip._udp, RFC 2782), at least one letter, 1-253 bytes
 * and one optional final dot.
 */
static bool name_ok(const char *s, size_t n, bool service)
{
	size_t label = 0;
	bool letter = false;

	if (n && s[n - 1] == '.')
		n--; /* the root */
	if (n == 0 || n > SIP_RESOLVE_HOST_MAX)
		return false;
	for (size_t i = 0; i < n; i++) {
		char ch = s[i];
		if (ch == '.') {
			if (label == 0 || s[i - 1] == '-')
				return false;
			label = 0;
			continue;
		}
		if (ch == '-' || (ch == '_' && service)) {
			if (label == 0 && ch == '-')
				return false;
			if (ch == '_' && label != 0)
				return false;
		} else if (is_alpha(ch)) {
			letter = true;
		} else if (!is_digit(ch)) {
			return false;
		}
		if (++label > 63)
			return false;
	}
	return label != 0 && s[n - 1] != '-' && letter;
}

enum sip_host_kind sip_host_kind(const char *host, size_t n)
{
	char buf[64];
	struct in6_addr a6;
	struct in_addr a4;

	if (!host || n == 0)
		return SIP_HOST_BAD;
	if (n < sizeof(buf) && memchr(host, '\0', n) == NULL) {
		memcpy(buf, host, n);
		buf[n] = '\0';
		if (inet_pton(AF_INET, buf, &a4) == 1)
			return SIP_HOST_IPV4;
		if (inet_pton(AF_INET6, buf, &a6) == 1)
			return SIP_HOST_IPV6;
	}
	return name_ok(host, n, false) ? SIP_HOST_NAME : SIP_HOST_BAD;
}

static int srv_cmp(const void *a, const void *b)
{
	const struct sip_srv *x = a, *y = b;

	if (x->priority != y->priority)
		return x->priority < y->priority ? -1 : 1;
	/* Weight 0 first within a priority, as RFC 2782 arranges them. */
	return (x->weight != 0) - (y->weight != 0);
}

void sip_srv_order(struct sip_srv *v, unsigned n, uint32_t (*rnd)(void *),
		   void *rnd_ctx)
{
	unsigned i = 0;

	if (n < 2)
		return;
	qsort(v, n, sizeof(*v), srv_cmp);
	/* Each priority in turn: pick by running sums of the weights
	 * (RFC 2782, "Usage rules"), the chosen one moved to the front. */
	while (i < n) {
		unsigned end = i;
		while (end < n && v[end].priority == v[i].priority)
			end++;
		for (; i + 1 < end; i++) {
			uint64_t sum = 0, run = 0, r;
			unsigned k = i;
			for (unsigned j = i; j < end; j++)
				sum += v[j].weight;
			r = sum ? (uint64_t)rnd(rnd_ctx) % (sum + 1) : 0;
			for (unsigned j = i; j < end; j++) {
				run += v[j].weight;
				if (run >= r) {
					k = j;
					break;
				}
			}
			if (k != i) {
				struct sip_srv t = v[k];
				memmove(&v[i + 1], &v[i],
					(size_t)(k - i) * sizeof(*v));
				v[i] = t;
			}
		}
		i = end;
	}
}

static int naptr_cmp(const void *a, const void *b)
{
	const struct sip_naptr *x = a, *y = b;

	if (x->order != y->order)
		return x->order < y->order ? -1 : 1;
	if (x->preference != y->preference)
		return x->preference < y->preference ? -1 : 1;
	return 0;
}

unsigned sip_naptr_select(struct sip_naptr *v, unsigned n, bool tcp,
			  enum sip_proto *proto)
{
	unsigned k = 0;

	for (unsigned i = 0; i < n; i++) {
		const struct sip_naptr *r = &v[i];
		size_t rl = strnlen(r->replacement, sizeof(r->replacement));
		bool udp_s = strcasecmp(r->service, "SIP+D2U") == 0;
		bool tcp_s = tcp && strcasecmp(r->service, "SIP+D2T") == 0;

		if (strcasecmp(r->flags, "s") != 0 || r->has_regexp ||
		    (!udp_s && !tcp_s) || rl >= sizeof(r->replacement) ||
		    !name_ok(r->replacement, rl, true))
			continue;
		if (k != i)
			v[k] = v[i];
		k++;
	}
	/* A stable order: equal records keep the order of the answer. */
	for (unsigned i = 1; i < k; i++)
		for (unsigned j = i; j > 0 && naptr_cmp(&v[j - 1], &v[j]) > 0;
		     j--) {
			struct sip_naptr t = v[j];
			v[j] = v[j - 1];
			v[j - 1] = t;
		}
	for (unsigned i = 0; i < k; i++)
		proto[i] = strcasecmp(v[i].service, "SIP+D2T") == 0 ? SIP_TCP
								    : SIP_UDP;
	return k;
}

/* ---- lookups (on a worker) ---- */

struct ctx {
	struct sip_resolver *r;
	struct sip_resolve_query *q;
	ares_channel ch;
	int64_t deadline;
	int temp; /* the first temporary failure: ETIMEDOUT or EIO */
};

struct answer {
	bool done;
	int status;
	unsigned char *buf;
	int len;
};

static void on_answer(void *arg, int status, int timeouts, unsigned char *abuf,
		      int alen)
{
	struct answer *a = arg;

	(void)timeouts;
	a->done = true;
	a->status = status;
	if (status == ARES_SUCCESS && abuf && alen > 0) {
		a->buf = malloc((size_t)alen);
		if (a->buf) {
			memcpy(a->buf, abuf, (size_t)alen);
			a->len = alen;
		} else {
			a->status = ARES_ENOMEM;
		}
	}
}

/* Drives the channel until a is answered or the deadline passes. */
static void wait_answer(struct ctx *x, struct answer *a)
{
	while (!a->done) {
		ares_socket_t socks[ARES_GETSOCK_MAXNUM];
		struct pollfd p[ARES_GETSOCK_MAXNUM];
		/* Bits i (readable) and 16 + i (writable), read as unsigned:
		 * ARES_GETSOCK_WRITABLE shifts an int by 31. */
		unsigned bits =
		    (unsigned)ares_getsock(x->ch, socks, ARES_GETSOCK_MAXNUM);
		int64_t left = x->deadline - base_time_mono_ms();
		struct timeval maxtv, tv, *tvp;
		nfds_t np = 0;
		int ms, rc;

		if (left <= 0) {
			ares_cancel(x->ch); /* answers a with ECANCELLED */
			a->status = ARES_ETIMEOUT;
			break;
		}
		for (int i = 0; i < ARES_GETSOCK_MAXNUM; i++) {
			short ev = 0;
			if (bits & (1u << i))
				ev |= POLLIN;
			if (bits & (1u << (i + ARES_GETSOCK_MAXNUM)))
				ev |= POLLOUT;
			if (ev)
				p[np++] = (struct pollfd){.fd = socks[i],
							  .events = ev};
		}
		maxtv.tv_sec = left / 1000;
		maxtv.tv_usec = (left % 1000) * 1000;
		tvp = ares_timeout(x->ch, &maxtv, &tv);
		ms = (int)(tvp->tv_sec * 1000 + (tvp->tv_usec + 999) / 1000);
		rc = poll(p, np, ms);
		if (rc <= 0) {
			/* Timeouts: c-ares retries or gives up. */
			ares_process_fd(x->ch, ARES_SOCKET_BAD,
					ARES_SOCKET_BAD);
			continue;
		}
		for (nfds_t i = 0; i < np; i++)
			if (p[i].revents)
				ares_process_fd(
				    x->ch,
				    p[i].revents & (POLLIN | POLLERR | POLLHUP)
					? p[i].fd
					: ARES_SOCKET_BAD,
				    p[i].revents & POLLOUT ? p[i].fd
							   : ARES_SOCKET_BAD);
	}
}

/*
 * One query: 0 with the answer in a (free a->buf), ENODATA (no records of
 * that type), ENOENT (no such name), or a temporary failure (recorded).
 */
static int query(struct ctx *x, const char *name, int type, struct answer *a)
{
	memset(a, 0, sizeof(*a));
	if (x->q->queries >= QUERIES_MAX) {
		if (!x->temp)
			x->temp = EIO;
		return EIO;
	}
	x->q->queries++;
	ares_query(x->ch, name, 1 /* IN */, type, on_answer, a);
	wait_answer(x, a);
	switch (a->status) {
	case ARES_SUCCESS:
		return 0;
	case ARES_ENODATA:
		return ENODATA;
	case ARES_ENOTFOUND:
		return ENOENT;
	case ARES_ETIMEOUT:
	case ARES_ECANCELLED:
		if (!x->temp)
			x->temp = ETIMEDOUT;
		LOG_DEBUG("dns_timeout", "type=%d", type);
		return ETIMEDOUT;
	default:
		if (!x->temp)
			x->temp = a->status == ARES_ENOMEM ? ENOMEM : EIO;
		LOG_DEBUG("dns_failed", "type=%d status=%d", type, a->status);
		return EIO;
	}
}

static void add_target(struct ctx *x, int family, const void *ip, unsigned port,
		       enum sip_proto proto)
{
	struct sip_resolve_query *q = x->q;
	struct sip_peer *p;

	if (q->n >= SIP_RESOLVE_TARGETS)
		return;
	p = &q->t[q->n++];
	memset(p, 0, sizeof(*p));
	p->proto = proto;
	if (family == AF_INET) {
		struct sockaddr_in *s = (struct sockaddr_in *)&p->addr;
		s->sin_family = AF_INET;
		s->sin_port = htons((uint16_t)port);
		memcpy(&s->sin_addr, ip, 4);
		p->addrlen = sizeof(*s);
	} else {
		struct sockaddr_in6 *s = (struct sockaddr_in6 *)&p->addr;
		s->sin6_family = AF_INET6;
		s->sin6_port = htons((uint16_t)port);
		memcpy(&s->sin6_addr, ip, 16);
		p->addrlen = sizeof(*s);
	}
}

/* The addresses of name (A or AAAA, as our socket's family wants). */
static int addresses(struct ctx *x, const char *name, unsigned port,
		     enum sip_proto proto)
{
	struct answer a;
	int err, n = SIP_RESOLVE_TARGETS;

	if (sip_host_kind(name, strlen(name)) != SIP_HOST_NAME)
		return ENOENT;
	err = query(x, name, x->r->family == AF_INET6 ? 28 : 1, &a);
	if (err)
		goto out;
	if (x->r->family == AF_INET6) {
		struct ares_addr6ttl v[SIP_RESOLVE_TARGETS];
		if (ares_parse_aaaa_reply(a.buf, a.len, NULL, v, &n) !=
		    ARES_SUCCESS)
			n = 0;
		for (int i = 0; i < n; i++)
			add_target(x, AF_INET6, &v[i].ip6addr, port, proto);
	} else {
		struct ares_addrttl v[SIP_RESOLVE_TARGETS];
		if (ares_parse_a_reply(a.buf, a.len, NULL, v, &n) !=
		    ARES_SUCCESS)
			n = 0;
		for (int i = 0; i < n; i++)
			add_target(x, AF_INET, &v[i].ipaddr, port, proto);
	}
	err = n ? 0 : ENODATA;
out:
	free(a.buf);
	return err;
}

static uint32_t rnd32(void *ctx)
{
	uint32_t v = 0;

	(void)ctx;
	if (base_rand_fill(&v, sizeof(v)))
		v = 0;
	return v;
}

/*
 * The SRV records of name, each target's addresses in RFC 2782 order.
 * Sets *found when there were records (then no A fallback is made).
 */
static int srv(struct ctx *x, const char *name, enum sip_proto proto,
	       bool *found)
{
	struct ares_srv_reply *rr = NULL;
	struct sip_srv *v = NULL;
	struct answer a;
	unsigned n = 0;
	int err;

	if (!name_ok(name, strlen(name), true))
		return ENOENT;
	err = query(x, name, 33 /* SRV */, &a);
	if (err)
		goto out;
	if (ares_parse_srv_reply(a.buf, a.len, &rr) != ARES_SUCCESS) {
		err = ENODATA;
		goto out;
	}
	v = calloc(SIP_RESOLVE_RR_MAX, sizeof(*v));
	if (!v) {
		err = ENOMEM;
		goto out;
	}
	for (struct ares_srv_reply *s = rr; s && n < SIP_RESOLVE_RR_MAX;
	     s = s->next) {
		size_t hl = strlen(s->host);
		*found = true;
		/* "." (shown as "") : the service is not offered there. */
		if (!hl || s->port == 0 || hl >= sizeof(v[n].target))
			continue;
		v[n].priority = s->priority;
		v[n].weight = s->weight;
		v[n].port = s->port;
		memcpy(v[n].target, s->host, hl + 1);
		n++;
	}
	sip_srv_order(v, n, rnd32, NULL);
	for (unsigned i = 0; i < n && x->q->n < SIP_RESOLVE_TARGETS; i++)
		addresses(x, v[i].target, v[i].port, proto);
	err = 0;
out:
	if (rr)
		ares_free_data(rr);
	free(v);
	free(a.buf);
	return err;
}

/* NAPTR for host: 0 (the SRV lookups they point to made; *found when a
 * usable record was there), ENOENT for no such domain, or an error. */
static int naptr(struct ctx *x, const char *host, bool *found)
{
	struct ares_naptr_reply *rr = NULL;
	struct sip_naptr *v = NULL;
	enum sip_proto proto[SIP_RESOLVE_RR_MAX];
	struct answer a;
	unsigned n = 0, k;
	int err;

	err = query(x, host, 35 /* NAPTR */, &a);
	if (err)
		goto out;
	if (ares_parse_naptr_reply(a.buf, a.len, &rr) != ARES_SUCCESS) {
		err = ENODATA;
		goto out;
	}
	v = calloc(SIP_RESOLVE_RR_MAX, sizeof(*v));
	if (!v) {
		err = ENOMEM;
		goto out;
	}
	for (struct ares_naptr_reply *r = rr; r && n < SIP_RESOLVE_RR_MAX;
	     r = r->next) {
		v[n].order = r->order;
		v[n].preference = r->preference;
		snprintf(v[n].flags, sizeof(v[n].flags), "%s",
			 (const char *)r->flags);
		snprintf(v[n].service, sizeof(v[n].service), "%s",
			 (const char *)r->service);
		v[n].has_regexp = r->regexp && r->regexp[0];
		snprintf(v[n].replacement, sizeof(v[n].replacement), "%s",
			 r->replacement ? r->replacement : "");
		n++;
	}
	k = sip_naptr_select(v, n, x->r->tcp, proto);
	for (unsigned i = 0; i < k && x->q->n < SIP_RESOLVE_TARGETS; i++) {
		bool any = false;
		*found = true;
		srv(x, v[i].replacement, proto[i], &any);
	}
	err = 0;
out:
	if (rr)
		ares_free_data(rr);
	free(v);
	free(a.buf);
	return err;
}

/* RFC 3263 4.1 and 4.2, for q's host. */
static void locate(struct ctx *x)
{
	struct sip_resolve_query *q = x->q;
	enum sip_proto p = q->proto == SIP_TCP ? SIP_TCP : SIP_UDP;
	char name[SIP_RESOLVE_HOST_MAX + 16];
	bool found = false;
	int err;

	if (q->port) {
		err = addresses(x, q->host, q->port, p);
		if (err == ENOENT)
			q->err = ENOENT;
		return;
	}
	if (q->proto < 0) {
		err = naptr(x, q->host, &found);
		if (err == ENOENT) {
			q->err = ENOENT; /* NXDOMAIN: no other record either */
			return;
		}
		if (found)
			return;
	}
	if (q->proto != SIP_TCP) {
		snprintf(name, sizeof(name), "_sip._udp.%s", q->host);
		srv(x, name, SIP_UDP, &found);
	}
	if (x->r->tcp && q->proto != SIP_UDP && q->n < SIP_RESOLVE_TARGETS) {
		snprintf(name, sizeof(name), "_sip._tcp.%s", q->host);
		srv(x, name, SIP_TCP, &found);
	}
	if (found)
		return;
	if (addresses(x, q->host, DEFAULT_PORT, p) == ENOENT)
		q->err = ENOENT;
}

static void job_run(struct base_pool_job *job)
{
	struct sip_resolve_query *q =
	    (struct sip_resolve_query *)((char *)job -
					 offsetof(struct sip_resolve_query,
						  job));
	struct sip_resolver *r = q->r;
	struct ares_options ao = {0};
	struct ctx x = {.r = r, .q = q};
	int st;

	q->err = 0;
	q->n = 0;
	q->queries = 0;
	x.deadline = base_time_mono_ms() + r->timeout_ms;
	ao.timeout = TRY_MS < r->timeout_ms ? TRY_MS : (int)r->timeout_ms;
	ao.tries = 3;
	ao.flags = ARES_FLAG_NOSEARCH;
	st = ares_init_options(
	    &x.ch, &ao, ARES_OPT_TIMEOUTMS | ARES_OPT_TRIES | ARES_OPT_FLAGS);
	if (st != ARES_SUCCESS) {
		LOG_ERROR("dns_init", "status=%d", st);
		q->err = st == ARES_ENOMEM ? ENOMEM : EIO;
		goto out;
	}
	if (r->servers &&
	    ares_set_servers_ports_csv(x.ch, r->servers) != ARES_SUCCESS) {
		LOG_ERROR("dns_init", "error=\"bad dns_servers\"");
		ares_destroy(x.ch);
		q->err = EIO;
		goto out;
	}
	locate(&x);
	ares_destroy(x.ch);
	if (q->n)
		q->err = 0;
	else if (!q->err)
		q->err = x.temp ? x.temp : ENOENT;
out:
	q->done(q);
}

/* ---- the resolver ---- */

int sip_resolver_new(struct sip_resolver **out,
		     const struct sip_resolver_opts *o)
{
	struct sip_resolver *r;
	ares_channel ch;
	int err;

	if (ares_library_init(ARES_LIB_INIT_ALL) != ARES_SUCCESS)
		return EIO;
	r = calloc(1, sizeof(*r));
	if (!r) {
		ares_library_cleanup();
		return ENOMEM;
	}
	r->timeout_ms = o->timeout_ms ? o->timeout_ms : 5000;
	r->family = o->family == AF_INET6 ? AF_INET6 : AF_INET;
	r->tcp = o->tcp;
	err = ENOMEM;
	if (o->servers && o->servers[0]) {
		r->servers = strdup(o->servers);
		if (!r->servers)
			goto fail;
	}
	/* The system's configuration or our servers must be usable now,
	 * not at the first call. */
	err = EINVAL;
	if (ares_init(&ch) != ARES_SUCCESS)
		goto fail;
	if (r->servers &&
	    ares_set_servers_ports_csv(ch, r->servers) != ARES_SUCCESS) {
		ares_destroy(ch);
		goto fail;
	}
	ares_destroy(ch);
	err = base_pool_start(&r->pool, o->workers ? o->workers : 2,
			      o->queue_max ? o->queue_max : 256, "sip-dns");
	if (err)
		goto fail;
	*out = r;
	return 0;
fail:
	free(r->servers);
	free(r);
	ares_library_cleanup();
	return err;
}

int sip_resolve(struct sip_resolver *r, struct sip_resolve_query *q,
		void (*done)(struct sip_resolve_query *q))
{
	size_t n = strnlen(q->host, sizeof(q->host));

	if (n >= sizeof(q->host) || sip_host_kind(q->host, n) != SIP_HOST_NAME)
		return EINVAL;
	q->r = r;
	q->done = done;
	return base_pool_submit(r->pool, &q->job, job_run);
}

void sip_resolver_drain(struct sip_resolver *r)
{
	if (r)
		base_pool_drain(r->pool);
}

void sip_resolver_free(struct sip_resolver *r)
{
	if (!r)
		return;
	base_pool_stop(r->pool);
	free(r->servers);
	free(r);
	ares_library_cleanup();
}
