/* transport.c - the SIP sockets and their epoll loop. */
#include "sip/transport.h"

#include <errno.h>
#include <stdatomic.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <openssl/err.h>
#include <openssl/ssl.h>
#include <pthread.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/eventfd.h>
#include <unistd.h>

#include "base/addr.h"
#include "base/beat.h"
#include "base/log.h"
#include "base/metrics.h"
#include "base/text.h"
#include "base/time.h"
#include "sip/msg.h"
#include "sip/ws.h"

/* ---- metrics: every message received and sent, whatever its fate ---- */

static const char *const DIRECTION[2] = {"in", "out"};

static _Atomic uint64_t req_v[2 * SIP_METHODS_N];
static struct metric_family sip_requests = {
    .name = "sipward_sip_requests_total",
    .help = "SIP requests received (in) and sent (out, retransmissions "
	    "included), by method.",
    .kind = METRIC_COUNTER,
    .label = {"direction", "method"},
    .values = {DIRECTION, SIP_METHOD_NAMES},
    .nvalues = {2, SIP_METHODS_N},
    .v = req_v};
METRIC_REGISTER(sip_requests)

static _Atomic uint64_t resp_v[2 * 6];
static struct metric_family sip_responses = {
    .name = "sipward_sip_responses_total",
    .help = "SIP responses received (in) and sent (out, retransmissions "
	    "included), by status class.",
    .kind = METRIC_COUNTER,
    .label = {"direction", "code"},
    .values = {DIRECTION, METRIC_STATUS_CLASS},
    .nvalues = {2, 6},
    .v = resp_v};
METRIC_REGISTER(sip_responses)

/* Counts a message by its start line (dir 0: received, 1: sent). */
static void count_msg(unsigned dir, const char *m, size_t len)
{
	if (len > 8 && memcmp(m, "SIP/2.0 ", 8) == 0)
		metric_add(
		    &sip_responses, dir,
		    m[8] >= '1' && m[8] <= '6' ? (unsigned)(m[8] - '1') : 4, 1);
	else
		metric_add(&sip_requests, dir, sip_method_index(m, len), 1);
}

/* epoll tags: TAG_LISTEN + proto for a listener, TAG_CONN + slot. */
enum {
	TAG_UDP,
	TAG_WAKE,
	TAG_OUTQ,
	TAG_LISTEN,
	TAG_CONN = TAG_LISTEN + SIP_PROTO_COUNT
};

#define OUTQ_MAX 4096	  /* sends and marks waiting for the transport thread */
#define CONN_BUF_MIN 4096 /* a TCP connection's first buffer */

/* Open connections from one address (a chained hash, for on_accept). */
struct addr_count {
	char ip[64];
	unsigned n;
	struct addr_count *next;
};

struct conn {
	int fd; /* -1 when the slot is free */
	uint32_t gen;
	enum sip_proto kind;
	SSL *ssl;      /* TLS and WSS */
	bool tls_done; /* the TLS handshake is over */
	bool ready;    /* SIP flows: handshakes over, WebSocket upgraded */
	struct sip_ws_rx ws; /* WS and WSS, once upgraded */
	int64_t open_s, ping_s;
	_Atomic uint64_t open_id; /* its id while open, else 0: any thread */
	bool registered; /* a REGISTER on it got a 200: never evicted */
	struct sockaddr_storage addr;
	socklen_t addrlen;
	struct addr_count *ac;
	char *buf;	 /* cap bytes, allocated at the first read */
	size_t len, cap; /* cap grows to msg_max as messages need it */
	int64_t last_s;
};

/* Work handed to the transport thread by other threads. */
struct outq_item {
	struct outq_item *next;
	uint64_t conn;
	struct sockaddr_storage addr; /* for conn 0: the peer's connection */
	socklen_t addrlen;
	bool mark; /* sip_transport_conn_mark, else a send of data */
	size_t len;
	char data[];
};

static _Thread_local bool on_loop; /* true on a transport thread */

#define PEER_BUCKETS 1024

/* An open TCP connection's peer address, for other threads to ask. */
struct peer_node {
	struct peer_node *next;
	struct sockaddr_storage addr;
	socklen_t addrlen;
};

struct sip_transport {
	struct sip_transport_opts o;
	sip_recv_fn recv;
	sip_tick_fn tick;
	void *ctx;
	int ep, udp, wake, outq_fd;
	int lfd[SIP_PROTO_COUNT]; /* listeners; [SIP_UDP] unused */
	unsigned ports[SIP_PROTO_COUNT];
	pthread_mutex_t tls_mu;
	SSL_CTX *tls;
	char *wbuf; /* a WebSocket frame being sent (transport thread) */
	size_t wcap;
	pthread_t thread;
	bool started;
	char *dgram;
	struct conn *conns;
	unsigned nconns;
	unsigned *free_slots; /* a stack of free slot numbers */
	unsigned nfree;
	struct addr_count **addrs; /* naddrs buckets */
	unsigned naddrs;
	pthread_mutex_t peers_mu; /* the peers of open TCP connections */
	struct peer_node *peers[PEER_BUCKETS];
	pthread_mutex_t outq_mu;
	struct outq_item *outq_head, *outq_tail;
	unsigned outq_n;
};

static unsigned addr_hash(const char *ip)
{
	uint32_t h = 2166136261u;

	for (; *ip; ip++)
		h = (h ^ (unsigned char)*ip) * 16777619u;
	return h;
}

/* The counter for ip, created (at 0) with make; NULL when out of memory. */
static struct addr_count *addr_get(struct sip_transport *t, const char *ip,
				   bool make)
{
	struct addr_count **b = &t->addrs[addr_hash(ip) % t->naddrs], *a;

	for (a = *b; a; a = a->next)
		if (strcmp(a->ip, ip) == 0)
			return a;
	if (!make)
		return NULL;
	a = calloc(1, sizeof(*a));
	if (!a)
		return NULL;
	snprintf(a->ip, sizeof(a->ip), "%s", ip);
	a->next = *b;
	*b = a;
	return a;
}

/* Drops one connection from a's count, freeing a at zero. */
static void addr_put(struct sip_transport *t, struct addr_count *a)
{
	struct addr_count **pp = &t->addrs[addr_hash(a->ip) % t->naddrs];

	if (--a->n)
		return;
	while (*pp != a)
		pp = &(*pp)->next;
	*pp = a->next;
	free(a);
}

static uint64_t conn_id(const struct sip_transport *t, const struct conn *c)
{
	return (uint64_t)c->gen << 32 | ((uint64_t)(c - t->conns) + 1);
}

static struct conn *conn_find(struct sip_transport *t, uint64_t id)
{
	uint64_t slot = (id & 0xffffffffu) - 1;
	struct conn *c;

	if (id == 0 || slot >= t->o.tcp_max)
		return NULL;
	c = &t->conns[slot];
	return c->fd >= 0 && c->gen == (uint32_t)(id >> 32) ? c : NULL;
}

static unsigned peer_hash(const struct sockaddr_storage *a, socklen_t n)
{
	uint32_t h = 2166136261u;

	for (socklen_t i = 0; i < n; i++)
		h = (h ^ ((const unsigned char *)a)[i]) * 16777619u;
	return h % PEER_BUCKETS;
}

static void peer_add(struct sip_transport *t, const struct sockaddr_storage *a,
		     socklen_t n)
{
	struct peer_node *p = malloc(sizeof(*p));
	unsigned b = peer_hash(a, n);

	if (!p)
		return; /* a send to it then fails at once: logged by caller */
	memcpy(&p->addr, a, n);
	p->addrlen = n;
	pthread_mutex_lock(&t->peers_mu);
	p->next = t->peers[b];
	t->peers[b] = p;
	pthread_mutex_unlock(&t->peers_mu);
}

static void peer_del(struct sip_transport *t, const struct sockaddr_storage *a,
		     socklen_t n)
{
	unsigned b = peer_hash(a, n);

	pthread_mutex_lock(&t->peers_mu);
	for (struct peer_node **p = &t->peers[b]; *p; p = &(*p)->next)
		if ((*p)->addrlen == n && memcmp(&(*p)->addr, a, n) == 0) {
			struct peer_node *d = *p;
			*p = d->next;
			free(d);
			break;
		}
	pthread_mutex_unlock(&t->peers_mu);
}

static bool peer_open(struct sip_transport *t, const struct sockaddr_storage *a,
		      socklen_t n)
{
	unsigned b = peer_hash(a, n);
	bool found = false;

	pthread_mutex_lock(&t->peers_mu);
	for (struct peer_node *p = t->peers[b]; p && !found; p = p->next)
		found = p->addrlen == n && memcmp(&p->addr, a, n) == 0;
	pthread_mutex_unlock(&t->peers_mu);
	return found;
}

static void conn_close(struct sip_transport *t, struct conn *c)
{
	if (c->registered && t->o.closed) {
		struct sip_peer p = {.proto = c->kind,
				     .addr = c->addr,
				     .addrlen = c->addrlen,
				     .conn = conn_id(t, c)};
		t->o.closed(t->ctx, &p);
	}
	if (c->ssl) {
		SSL_shutdown(c->ssl); /* one try: a close_notify if it fits */
		SSL_free(c->ssl);
		c->ssl = NULL;
	}
	sip_ws_rx_free(&c->ws);
	c->tls_done = c->ready = false;
	atomic_store(&c->open_id, 0);
	peer_del(t, &c->addr, c->addrlen);
	epoll_ctl(t->ep, EPOLL_CTL_DEL, c->fd, NULL);
	close(c->fd);
	c->fd = -1;
	c->len = 0;
	c->gen++;
	c->registered = false;
	free(c->buf);
	c->buf = NULL;
	c->cap = 0;
	if (c->ac)
		addr_put(t, c->ac);
	c->ac = NULL;
	t->free_slots[t->nfree++] = (unsigned)(c - t->conns);
	t->nconns--;
}

/*
 * Makes room for a new connection when every slot is taken: closes the
 * unregistered connection idle longest. False when all are registered.
 */
static bool evict_one(struct sip_transport *t)
{
	struct conn *victim = NULL;
	char ip[64];

	for (unsigned i = 0; i < t->o.tcp_max; i++) {
		struct conn *c = &t->conns[i];
		if (c->fd >= 0 && !c->registered &&
		    (!victim || c->last_s < victim->last_s))
			victim = c;
	}
	if (!victim)
		return false;
	base_addr_ip((struct sockaddr *)&victim->addr, ip, sizeof(ip));
	LOG_INFO("sip_tcp_evicted", "src=%s idle_s=%lld", ip,
		 (long long)(base_time_mono_s() - victim->last_s));
	conn_close(t, victim);
	return true;
}

static int add_fd(int ep, int fd, uint64_t tag)
{
	struct epoll_event ev = {.events = EPOLLIN, .data.u64 = tag};

	return epoll_ctl(ep, EPOLL_CTL_ADD, fd, &ev) ? errno : 0;
}

/* A TLS session for a new connection of kind k (none for TCP and WS). */
static int conn_tls(struct sip_transport *t, struct conn *c)
{
	if (c->kind != SIP_TLS && c->kind != SIP_WSS)
		return 0;
	pthread_mutex_lock(&t->tls_mu);
	c->ssl = t->tls ? SSL_new(t->tls) : NULL;
	pthread_mutex_unlock(&t->tls_mu);
	if (!c->ssl || !SSL_set_fd(c->ssl, c->fd))
		return ENOMEM;
	SSL_set_accept_state(c->ssl);
	return 0;
}

static void on_accept(struct sip_transport *t, enum sip_proto kind)
{
	for (;;) {
		struct sockaddr_storage ss;
		socklen_t sl = sizeof(ss);
		char ip[64];
		struct addr_count *a;
		struct conn *c;
		const char *why = NULL;
		int fd = accept4(t->lfd[kind], (struct sockaddr *)&ss, &sl,
				 SOCK_NONBLOCK | SOCK_CLOEXEC);

		if (fd < 0)
			return;
		base_addr_ip((struct sockaddr *)&ss, ip, sizeof(ip));
		a = addr_get(t, ip, false);
		if (a && a->n >= t->o.tcp_per_addr)
			why = "per_address_limit";
		else if (!t->nfree && !evict_one(t))
			why = "connection_limit";
		/* Again: the eviction may have freed this address's count. */
		else if (!(a = addr_get(t, ip, true)))
			why = "out_of_memory";
		if (why) {
			LOG_WARN("sip_tcp_refused", "src=%s reason=%s", ip,
				 why);
			close(fd);
			continue;
		}
		c = &t->conns[t->free_slots[--t->nfree]];
		c->fd = fd;
		c->addr = ss;
		c->addrlen = sl;
		c->len = 0;
		c->registered = false;
		c->kind = kind;
		c->ready = kind == SIP_TCP;
		c->last_s = c->open_s = c->ping_s = base_time_mono_s();
		if (conn_tls(t, c) ||
		    add_fd(t->ep, fd, TAG_CONN + (uint64_t)(c - t->conns))) {
			SSL_free(c->ssl);
			c->ssl = NULL;
			close(fd);
			c->fd = -1;
			t->nfree++;
			if (!a->n) {
				a->n = 1;
				addr_put(t, a); /* frees the new count */
			}
			continue;
		}
		a->n++;
		c->ac = a;
		t->nconns++;
		peer_add(t, &ss, sl);
		atomic_store(&c->open_id, conn_id(t, c));
	}
}

/*
 * Writes len bytes on c, all or nothing: 0, or EIO when they did not all
 * go (a peer that does not read is dropped by the caller).
 */
static int conn_write(struct conn *c, const void *buf, size_t len)
{
	ssize_t n;

	if (!c->ssl) {
		n = send(c->fd, buf, len, MSG_NOSIGNAL);
		return n == (ssize_t)len ? 0 : EIO;
	}
	if (len > INT32_MAX)
		return EIO;
	ERR_clear_error();
	return SSL_write(c->ssl, buf, (int)len) == (int)len ? 0 : EIO;
}

/* Reads into buf: the bytes read, 0 when none are there yet, -1 at the
 * end of the connection or an error. */
static ssize_t conn_read(struct conn *c, void *buf, size_t cap)
{
	ssize_t n;
	int r, e;

	if (!c->ssl) {
		n = read(c->fd, buf, cap);
		if (n < 0 && (errno == EAGAIN || errno == EINTR))
			return 0;
		return n > 0 ? n : -1;
	}
	ERR_clear_error();
	r = SSL_read(c->ssl, buf, cap > INT32_MAX ? INT32_MAX : (int)cap);
	if (r > 0)
		return r;
	e = SSL_get_error(c->ssl, r);
	return e == SSL_ERROR_WANT_READ || e == SSL_ERROR_WANT_WRITE ? 0 : -1;
}

/* Takes n bytes off the front of c's buffer. */
static void conn_consume(struct conn *c, size_t n)
{
	memmove(c->buf, c->buf + n, c->len - n);
	c->len -= n;
}

/* Sends one WebSocket frame of opcode op on c: 0 or an errno. */
static int ws_send(struct sip_transport *t, struct conn *c, enum sip_ws_op op,
		   const void *data, size_t len)
{
	size_t need = len + SIP_WS_SRV_HDR_MAX, n = 0;
	int err;

	if (need > t->wcap) {
		char *b = realloc(t->wbuf, need);
		if (!b)
			return ENOMEM;
		t->wbuf = b;
		t->wcap = need;
	}
	err = sip_ws_encode(op, data, len, t->wbuf, t->wcap, &n);
	return err ? err : conn_write(c, t->wbuf, n);
}

/* Sends a close frame with code (none for one that may not be sent). */
static void ws_close_frame(struct conn *c, unsigned code)
{
	char f[4];
	size_t n = 0;

	if (sip_ws_encode_close(code, f, sizeof(f), &n))
		sip_ws_encode_close(0, f, sizeof(f), &n);
	conn_write(c, f, n);
}

/* Delivers every complete message in c's buffer; false to close c. */
static bool conn_deliver(struct sip_transport *t, struct conn *c)
{
	struct sip_peer from = {
	    .proto = c->kind, .addr = c->addr, .addrlen = c->addrlen};

	from.conn = conn_id(t, c);
	for (;;) {
		size_t skip = 0, msglen = 0;
		int err =
		    sip_msg_frame(c->buf, c->len, t->o.msg_max, &skip, &msglen);
		if (skip) {
			/* A CRLFCRLF ping is answered with one CRLF pong. */
			if (skip >= 4 && conn_write(c, "\r\n", 2))
				return false;
			conn_consume(c, skip);
			continue;
		}
		if (err == EAGAIN)
			return c->len < t->o.msg_max;
		if (err)
			return false;
		count_msg(0, c->buf, msglen);
		t->recv(t->ctx, t, &from, c->buf, msglen);
		if (!conn_find(t, from.conn))
			return true; /* closed by a send failure */
		conn_consume(c, msglen);
	}
}

/* The WebSocket opening handshake (RFC 6455 4.2): false to close c. */
static bool ws_upgrade(struct sip_transport *t, struct conn *c)
{
	struct sip_ws_handshake hs;
	char reply[SIP_WS_REPLY_MAX], ip[64];
	size_t n = 0;
	int err = sip_ws_handshake_parse(c->buf, c->len, &hs);

	if (err == EAGAIN)
		return true;
	if (!sip_ws_handshake_reply(err, &hs, reply, sizeof(reply), &n) &&
	    conn_write(c, reply, n))
		return false;
	if (err) {
		base_addr_ip((struct sockaddr *)&c->addr, ip, sizeof(ip));
		LOG_INFO("sip_ws_refused", "src=%s transport=%s reason=\"%s\"",
			 ip, sip_proto_name(c->kind),
			 hs.why ? hs.why : strerror(err));
		return false;
	}
	conn_consume(c, hs.used);
	sip_ws_rx_init(&c->ws, t->o.msg_max, t->o.msg_max);
	c->ready = true;
	return true;
}

/*
 * Delivers the messages of every whole WebSocket frame in c's buffer and
 * answers pings, keep-alives and closes; false to close c.
 */
static bool ws_deliver(struct sip_transport *t, struct conn *c)
{
	struct sip_peer from = {
	    .proto = c->kind, .addr = c->addr, .addrlen = c->addrlen};

	from.conn = conn_id(t, c);
	if (!c->ready) {
		if (!ws_upgrade(t, c))
			return false;
		if (!c->ready)
			return true; /* the rest of the request head to come */
	}
	for (;;) {
		struct sip_ws_event ev;
		size_t used = 0;
		int err = sip_ws_decode(&c->ws, c->buf, c->len, &used, &ev);
		unsigned code;

		if (err == EAGAIN) {
			conn_consume(c, used);
			return true;
		}
		if (err) {
			code = sip_ws_close_code(err);
			if (code)
				ws_close_frame(c, code);
			return false;
		}
		if (ev.type == SIP_WS_EV_PING) {
			if (ws_send(t, c, SIP_WS_OP_PONG, ev.data, ev.len))
				return false;
		} else if (ev.type == SIP_WS_EV_CLOSE) {
			/* Echo the code (RFC 6455 5.5.1), then close. */
			ws_close_frame(c, ev.code);
			return false;
		} else {
			switch (sip_ws_keepalive(ev.data, ev.len)) {
			case SIP_WS_KA_PING:
				if (ws_send(t, c, SIP_WS_OP_TEXT, "\r\n", 2))
					return false;
				break;
			case SIP_WS_KA_PONG:
				break;
			case SIP_WS_KA_NONE:
				count_msg(0, (char *)ev.data, ev.len);
				t->recv(t->ctx, t, &from, (char *)ev.data,
					ev.len);
				if (!conn_find(t, from.conn))
					return true; /* closed by a send */
				break;
			}
		}
		conn_consume(c, used);
	}
}

/* The most c's buffer may hold: a message, a frame, or a handshake. */
static size_t conn_buf_max(const struct sip_transport *t, const struct conn *c)
{
	if (c->kind != SIP_WS && c->kind != SIP_WSS)
		return t->o.msg_max;
	if (!c->ready)
		return SIP_WS_HANDSHAKE_MAX;
	return t->o.msg_max + SIP_WS_HDR_MAX + SIP_WS_CTRL_MAX;
}

/*
 * Makes room in c's buffer: CONN_BUF_MIN at the first read, then doubled
 * up to conn_buf_max when a message needs more, so that thousands of idle
 * phones' connections do not each hold the largest message.
 */
static int conn_grow(struct sip_transport *t, struct conn *c)
{
	size_t max = conn_buf_max(t, c);
	size_t cap = c->cap ? 2 * c->cap : CONN_BUF_MIN;
	char *b;

	if (cap > max)
		cap = max;
	if (cap <= c->cap)
		return E2BIG;
	b = realloc(c->buf, cap);
	if (!b)
		return ENOMEM;
	c->buf = b;
	c->cap = cap;
	return 0;
}

/* Moves c's TLS handshake on: 0 when over, EAGAIN, or an error. */
static int tls_step(struct conn *c)
{
	char ip[64];
	int r, e;

	ERR_clear_error();
	r = SSL_accept(c->ssl);
	if (r == 1) {
		c->tls_done = true;
		c->ready = c->kind == SIP_TLS;
		return 0;
	}
	e = SSL_get_error(c->ssl, r);
	if (e == SSL_ERROR_WANT_READ || e == SSL_ERROR_WANT_WRITE)
		return EAGAIN;
	base_addr_ip((struct sockaddr *)&c->addr, ip, sizeof(ip));
	LOG_INFO("sip_tls_failed", "src=%s transport=%s reason=\"%s\"", ip,
		 sip_proto_name(c->kind),
		 ERR_peek_last_error()
		     ? ERR_reason_error_string(ERR_peek_last_error())
		     : "connection closed");
	return EPROTO;
}

static void on_conn(struct sip_transport *t, struct conn *c)
{
	uint64_t id = conn_id(t, c);
	bool ws = c->kind == SIP_WS || c->kind == SIP_WSS;

	for (;;) {
		ssize_t n;
		int err;

		if (c->ssl && !c->tls_done) {
			err = tls_step(c);
			if (err == EAGAIN)
				return;
			if (err) {
				conn_close(t, c);
				return;
			}
		}
		if (c->len == c->cap && conn_grow(t, c)) {
			conn_close(t, c);
			return;
		}
		n = conn_read(c, c->buf + c->len, c->cap - c->len);
		if (n == 0)
			return;
		if (n < 0) {
			conn_close(t, c);
			return;
		}
		c->len += (size_t)n;
		c->last_s = base_time_mono_s();
		if (!(ws ? ws_deliver(t, c) : conn_deliver(t, c))) {
			if (conn_find(t, id))
				conn_close(t, c);
			return;
		}
		if (!conn_find(t, id))
			return;
	}
}

static void on_udp(struct sip_transport *t)
{
	for (int i = 0; i < 64; i++) {
		struct sip_peer from = {.proto = SIP_UDP};
		ssize_t n;

		from.addrlen = sizeof(from.addr);
		n = recvfrom(t->udp, t->dgram, t->o.msg_max + 1, 0,
			     (struct sockaddr *)&from.addr, &from.addrlen);
		if (n < 0)
			return;
		if ((size_t)n > t->o.msg_max || n < 4)
			continue; /* too large (truncated) or a bare ping */
		count_msg(0, t->dgram, (size_t)n);
		t->recv(t->ctx, t, &from, t->dgram, (size_t)n);
	}
}

/*
 * Closes connections idle past tcp_idle_s and those whose TLS or
 * WebSocket handshake is not over after handshake_s; pings WebSocket
 * connections silent for ws_ping_s.
 */
static void sweep_idle(struct sip_transport *t)
{
	int64_t now = base_time_mono_s();
	char ip[64];

	for (unsigned i = 0; i < t->o.tcp_max; i++) {
		struct conn *c = &t->conns[i];
		if (c->fd < 0)
			continue;
		if (!c->ready && now - c->open_s > t->o.handshake_s) {
			base_addr_ip((struct sockaddr *)&c->addr, ip,
				     sizeof(ip));
			LOG_INFO("sip_handshake_timeout", "src=%s transport=%s",
				 ip, sip_proto_name(c->kind));
			conn_close(t, c);
		} else if (now - c->last_s > t->o.tcp_idle_s) {
			if (c->ready &&
			    (c->kind == SIP_WS || c->kind == SIP_WSS))
				ws_close_frame(c, SIP_WS_CLOSE_GOING_AWAY);
			conn_close(t, c);
		} else if (c->ready && t->o.ws_ping_s &&
			   (c->kind == SIP_WS || c->kind == SIP_WSS) &&
			   now - c->last_s >= t->o.ws_ping_s &&
			   now - c->ping_s >= t->o.ws_ping_s) {
			c->ping_s = now;
			if (ws_send(t, c, SIP_WS_OP_PING, NULL, 0))
				conn_close(t, c);
		}
	}
}

/* Direct send on a connection, on the transport thread. */
/*
 * The open connection with a peer at addr, when one exists: a scan of the
 * table, made only for sends to a TCP binding (whose connection id the
 * store does not keep).
 */
static struct conn *conn_by_addr(struct sip_transport *t,
				 const struct sockaddr_storage *addr,
				 socklen_t addrlen)
{
	for (unsigned i = 0; i < t->o.tcp_max; i++) {
		struct conn *c = &t->conns[i];
		if (c->fd >= 0 && c->addrlen == addrlen &&
		    memcmp(&c->addr, addr, addrlen) == 0)
			return c;
	}
	return NULL;
}

static bool utf8(const char *s, size_t len)
{
	size_t n;
	bool printable;

	return base_text_scan(s, len, &n, &printable) == 0;
}

static int conn_send(struct sip_transport *t, uint64_t id,
		     const struct sockaddr_storage *addr, socklen_t addrlen,
		     const char *buf, size_t len)
{
	struct conn *c = id ? conn_find(t, id) : conn_by_addr(t, addr, addrlen);
	int err;

	if (!c || !c->ready)
		return ENOTCONN;
	if (c->kind == SIP_WS || c->kind == SIP_WSS)
		/* Text when it may be (browsers read either). */
		err = ws_send(
		    t, c, utf8(buf, len) ? SIP_WS_OP_TEXT : SIP_WS_OP_BINARY,
		    buf, len);
	else
		err = conn_write(c, buf, len);
	if (err) {
		/* A peer that does not read its responses is dropped. */
		conn_close(t, c);
		return EIO;
	}
	return 0;
}

/* Runs what other threads queued: sends and marks. */
static void on_outq(struct sip_transport *t)
{
	struct outq_item *it, *next;
	uint64_t v;

	if (read(t->outq_fd, &v, sizeof(v)) < 0 && errno != EAGAIN)
		LOG_ERROR("sip_outq", "error=\"%s\"", strerror(errno));
	pthread_mutex_lock(&t->outq_mu);
	it = t->outq_head;
	t->outq_head = t->outq_tail = NULL;
	t->outq_n = 0;
	pthread_mutex_unlock(&t->outq_mu);
	for (; it; it = next) {
		next = it->next;
		if (it->mark) {
			struct conn *c = conn_find(t, it->conn);
			if (c)
				c->registered = true;
		} else {
			conn_send(t, it->conn, &it->addr, it->addrlen, it->data,
				  it->len);
		}
		free(it);
	}
}

/* Queues it for the transport thread; EAGAIN when the queue is full. */
static int outq_push(struct sip_transport *t, struct outq_item *it)
{
	uint64_t one = 1;
	bool wake;

	pthread_mutex_lock(&t->outq_mu);
	if (t->outq_n >= OUTQ_MAX) {
		pthread_mutex_unlock(&t->outq_mu);
		free(it);
		return EAGAIN;
	}
	wake = !t->outq_head;
	if (t->outq_tail)
		t->outq_tail->next = it;
	else
		t->outq_head = it;
	t->outq_tail = it;
	t->outq_n++;
	pthread_mutex_unlock(&t->outq_mu);
	if (wake && write(t->outq_fd, &one, sizeof(one)) < 0)
		LOG_ERROR("sip_outq", "error=\"%s\"", strerror(errno));
	return 0;
}

static void *loop(void *arg)
{
	struct sip_transport *t = arg;
	struct epoll_event ev[64];
	int64_t last_tick = base_time_mono_s();

	struct base_beat *beat = base_beat_add("sip_transport");

	on_loop = true;

	for (;;) {
		int n = epoll_wait(t->ep, ev, 64, 1000);
		int64_t now;

		base_beat(beat, base_time_mono_ms());
		for (int i = 0; i < n; i++) {
			uint64_t tag = ev[i].data.u64;
			if (tag == TAG_WAKE) {
				base_beat_del(beat);
				return NULL;
			}
			if (tag == TAG_UDP)
				on_udp(t);
			else if (tag == TAG_OUTQ)
				on_outq(t);
			else if (tag < TAG_CONN)
				on_accept(t,
					  (enum sip_proto)(tag - TAG_LISTEN));
			else if (t->conns[tag - TAG_CONN].fd >= 0)
				on_conn(t, &t->conns[tag - TAG_CONN]);
		}
		now = base_time_mono_s();
		if (now != last_tick) {
			last_tick = now;
			sweep_idle(t);
			if (t->tick)
				t->tick(t->ctx);
		}
	}
}

static int open_socket(int type, const struct sockaddr_storage *ss,
		       socklen_t sl, int *out)
{
	int one = 1, err = 0;
	int fd = socket(ss->ss_family, type | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);

	if (fd < 0)
		return errno;
	setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one));
	if (ss->ss_family == AF_INET6)
		setsockopt(fd, IPPROTO_IPV6, IPV6_V6ONLY, &one, sizeof(one));
	if (bind(fd, (const struct sockaddr *)ss, sl) ||
	    (type == SOCK_STREAM && listen(fd, 128))) {
		err = errno;
		close(fd);
		return err;
	}
	*out = fd;
	return 0;
}

static in_port_t *port_of(struct sockaddr_storage *ss)
{
	return ss->ss_family == AF_INET6
		   ? &((struct sockaddr_in6 *)ss)->sin6_port
		   : &((struct sockaddr_in *)ss)->sin_port;
}

/*
 * Sizes the UDP socket's receive buffer: a burst of REGISTERs (phones
 * coming back after a power cut) waits there while the thread works, and
 * what does not fit is dropped by the kernel and costs each phone a 500 ms
 * retransmission. Past net.core.rmem_max only with CAP_NET_ADMIN
 * (SO_RCVBUFFORCE); the size obtained is logged.
 */
static void udp_rcvbuf(struct sip_transport *t)
{
	int want = t->o.udp_rcvbuf, got = 0;
	socklen_t gl = sizeof(got);

	if (want <= 0)
		return;
	setsockopt(t->udp, SOL_SOCKET, SO_RCVBUF, &want, sizeof(want));
	getsockopt(t->udp, SOL_SOCKET, SO_RCVBUF, &got, &gl);
	if (got / 2 < want) /* the kernel reports twice what was asked */
		setsockopt(t->udp, SOL_SOCKET, SO_RCVBUFFORCE, &want,
			   sizeof(want));
	gl = sizeof(got);
	getsockopt(t->udp, SOL_SOCKET, SO_RCVBUF, &got, &gl);
	base_log_write(got / 2 < want ? BASE_LOG_WARN : BASE_LOG_INFO,
		       "sip_udp_rcvbuf", "asked=%d got=%d", want, got / 2);
}

/*
 * Binds UDP, then TCP on the same port. With port 0, UDP picks a port and
 * TCP follows it; if that port is taken for TCP, both try again.
 */
static int open_pair(struct sip_transport *t, struct sockaddr_storage *ss,
		     socklen_t sl)
{
	bool any = *port_of(ss) == 0;
	int err = EADDRINUSE;

	for (int attempt = 0; attempt < 20 && err == EADDRINUSE; attempt++) {
		struct sockaddr_storage got;
		socklen_t gl = sizeof(got);

		if (any)
			*port_of(ss) = 0;
		err = open_socket(SOCK_DGRAM, ss, sl, &t->udp);
		if (err)
			break;
		udp_rcvbuf(t);
		getsockname(t->udp, (struct sockaddr *)&got, &gl);
		*port_of(ss) = *port_of(&got);
		t->ports[SIP_UDP] = t->ports[SIP_TCP] = ntohs(*port_of(&got));
		err = open_socket(SOCK_STREAM, ss, sl, &t->lfd[SIP_TCP]);
		if (err) {
			close(t->udp);
			t->udp = -1;
			if (!any)
				break;
		}
	}
	return err;
}

/* Opens the listener of p on listen ("" or NULL: none). */
static int open_listener(struct sip_transport *t, enum sip_proto p,
			 const char *listen)
{
	struct sockaddr_storage ss, got;
	socklen_t sl, gl = sizeof(got);
	int err;

	if (!listen || !listen[0])
		return 0;
	if (base_addr_parse(listen, &ss, &sl))
		return EINVAL;
	err = open_socket(SOCK_STREAM, &ss, sl, &t->lfd[p]);
	if (err)
		return err;
	getsockname(t->lfd[p], (struct sockaddr *)&got, &gl);
	t->ports[p] = ntohs(*port_of(&got));
	return add_fd(t->ep, t->lfd[p], TAG_LISTEN + (uint64_t)p);
}

int sip_transport_start(struct sip_transport **out,
			const struct sip_transport_opts *o, sip_recv_fn recv,
			sip_tick_fn tick, void *ctx)
{
	struct sockaddr_storage ss;
	socklen_t sl;
	struct sip_transport *t;
	int err;

	if (base_addr_parse(o->listen, &ss, &sl) || o->msg_max < 64 ||
	    o->tcp_max == 0 ||
	    (!o->tls && ((o->listen_tls && o->listen_tls[0]) ||
			 (o->listen_wss && o->listen_wss[0]))))
		return EINVAL;
	t = calloc(1, sizeof(*t));
	if (!t)
		return ENOMEM;
	t->o = *o;
	t->recv = recv;
	t->tick = tick;
	t->ctx = ctx;
	t->ep = t->udp = t->wake = t->outq_fd = -1;
	for (int p = 0; p < SIP_PROTO_COUNT; p++)
		t->lfd[p] = -1;
	if (!t->o.handshake_s)
		t->o.handshake_s = 10;
	pthread_mutex_init(&t->tls_mu, NULL);
	if (o->tls && SSL_CTX_up_ref(o->tls))
		t->tls = o->tls;
	pthread_mutex_init(&t->outq_mu, NULL);
	pthread_mutex_init(&t->peers_mu, NULL);
	t->dgram = malloc(o->msg_max + 1);
	t->conns = calloc(o->tcp_max, sizeof(*t->conns));
	t->free_slots = calloc(o->tcp_max, sizeof(*t->free_slots));
	t->naddrs = o->tcp_max;
	t->addrs = calloc(t->naddrs, sizeof(*t->addrs));
	if (!t->dgram || !t->conns || !t->free_slots || !t->addrs) {
		err = ENOMEM;
		goto out;
	}
	for (unsigned i = 0; i < o->tcp_max; i++) {
		t->conns[i].fd = -1;
		t->free_slots[t->nfree++] = o->tcp_max - 1 - i;
	}
	err = open_pair(t, &ss, sl);
	if (err)
		goto out;
	t->ep = epoll_create1(EPOLL_CLOEXEC);
	t->wake = eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC);
	t->outq_fd = eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC);
	if (t->ep < 0 || t->wake < 0 || t->outq_fd < 0) {
		err = errno;
		goto out;
	}
	err = add_fd(t->ep, t->udp, TAG_UDP);
	if (!err)
		err = add_fd(t->ep, t->lfd[SIP_TCP], TAG_LISTEN + SIP_TCP);
	if (!err)
		err = open_listener(t, SIP_TLS, o->listen_tls);
	if (!err)
		err = open_listener(t, SIP_WS, o->listen_ws);
	if (!err)
		err = open_listener(t, SIP_WSS, o->listen_wss);
	if (!err)
		err = add_fd(t->ep, t->wake, TAG_WAKE);
	if (!err)
		err = add_fd(t->ep, t->outq_fd, TAG_OUTQ);
	if (!err)
		err = pthread_create(&t->thread, NULL, loop, t);
	if (!err)
		t->started = true;
out:
	if (err) {
		sip_transport_stop(t);
		return err;
	}
	*out = t;
	return 0;
}

void sip_transport_stop(struct sip_transport *t)
{
	uint64_t one = 1;

	if (!t)
		return;
	if (t->started) {
		if (write(t->wake, &one, sizeof(one)) < 0)
			LOG_ERROR("sip_stop", "error=\"%s\"", strerror(errno));
		pthread_join(t->thread, NULL);
	}
	for (unsigned i = 0; t->conns && i < t->o.tcp_max; i++) {
		if (t->conns[i].fd >= 0)
			close(t->conns[i].fd);
		SSL_free(t->conns[i].ssl);
		sip_ws_rx_free(&t->conns[i].ws);
		free(t->conns[i].buf);
	}
	for (unsigned i = 0; t->addrs && i < t->naddrs; i++) {
		while (t->addrs[i]) {
			struct addr_count *a = t->addrs[i];
			t->addrs[i] = a->next;
			free(a);
		}
	}
	while (t->outq_head) {
		struct outq_item *it = t->outq_head;
		t->outq_head = it->next;
		free(it);
	}
	pthread_mutex_destroy(&t->outq_mu);
	for (unsigned i = 0; i < PEER_BUCKETS; i++)
		while (t->peers[i]) {
			struct peer_node *p = t->peers[i];
			t->peers[i] = p->next;
			free(p);
		}
	pthread_mutex_destroy(&t->peers_mu);
	if (t->udp >= 0)
		close(t->udp);
	for (int p = 0; p < SIP_PROTO_COUNT; p++)
		if (t->lfd[p] >= 0)
			close(t->lfd[p]);
	SSL_CTX_free(t->tls);
	pthread_mutex_destroy(&t->tls_mu);
	free(t->wbuf);
	if (t->wake >= 0)
		close(t->wake);
	if (t->outq_fd >= 0)
		close(t->outq_fd);
	if (t->ep >= 0)
		close(t->ep);
	free(t->conns);
	free(t->free_slots);
	free(t->addrs);
	free(t->dgram);
	free(t);
}

int sip_transport_send(struct sip_transport *t, const struct sip_peer *to,
		       const char *buf, size_t len)
{
	struct outq_item *it;
	ssize_t n;

	count_msg(1, buf, len);
	if (to->proto == SIP_UDP) {
		n = sendto(t->udp, buf, len, 0,
			   (const struct sockaddr *)&to->addr, to->addrlen);
		return n == (ssize_t)len ? 0 : errno ? errno : EIO;
	}
	if (on_loop)
		return conn_send(t, to->conn, &to->addr, to->addrlen, buf, len);
	/* By address: fail now, not later on the transport thread, when no
	 * connection with that peer is open. */
	if (!to->conn && !peer_open(t, &to->addr, to->addrlen))
		return ENOTCONN;
	it = malloc(sizeof(*it) + len);
	if (!it)
		return ENOMEM;
	*it = (struct outq_item){.conn = to->conn,
				 .addr = to->addr,
				 .addrlen = to->addrlen,
				 .len = len};
	memcpy(it->data, buf, len);
	return outq_push(t, it);
}

void sip_transport_conn_mark(struct sip_transport *t, uint64_t conn)
{
	struct outq_item *it;
	struct conn *c;

	if (on_loop) {
		c = conn_find(t, conn);
		if (c)
			c->registered = true;
		return;
	}
	it = malloc(sizeof(*it));
	if (!it)
		return;
	*it = (struct outq_item){.conn = conn, .mark = true};
	outq_push(t, it);
}

bool sip_transport_conn_open(struct sip_transport *t, uint64_t conn)
{
	uint64_t slot = (conn & 0xffffffffu) - 1;

	return conn && slot < t->o.tcp_max &&
	       atomic_load(&t->conns[slot].open_id) == conn;
}

int sip_transport_conn_kind(struct sip_transport *t, uint64_t conn)
{
	uint64_t slot = (conn & 0xffffffffu) - 1;
	int kind;

	if (!conn || slot >= t->o.tcp_max ||
	    atomic_load(&t->conns[slot].open_id) != conn)
		return -1;
	kind = (int)t->conns[slot].kind; /* set before open_id was */
	return atomic_load(&t->conns[slot].open_id) == conn ? kind : -1;
}

unsigned sip_transport_port(const struct sip_transport *t)
{
	return t->ports[SIP_UDP];
}

unsigned sip_transport_port_of(const struct sip_transport *t, enum sip_proto p)
{
	return (unsigned)p < SIP_PROTO_COUNT ? t->ports[p] : 0;
}

void sip_transport_set_tls(struct sip_transport *t, SSL_CTX *tls)
{
	SSL_CTX *old;

	if (!tls || !SSL_CTX_up_ref(tls))
		return;
	pthread_mutex_lock(&t->tls_mu);
	old = t->tls;
	t->tls = tls;
	pthread_mutex_unlock(&t->tls_mu);
	SSL_CTX_free(old); /* open connections hold their own reference */
}

static const char *const proto_names[SIP_PROTO_COUNT] = {"UDP", "TCP", "TLS",
							 "WS", "WSS"};
static const char *const proto_params[SIP_PROTO_COUNT] = {"udp", "tcp", "tls",
							  "ws", "ws"};

const char *sip_proto_name(enum sip_proto p)
{
	return (unsigned)p < SIP_PROTO_COUNT ? proto_names[p] : "UDP";
}

const char *sip_proto_param(enum sip_proto p)
{
	return (unsigned)p < SIP_PROTO_COUNT ? proto_params[p] : "udp";
}

int sip_proto_parse(const char *name, size_t len)
{
	for (int p = 0; p < SIP_PROTO_COUNT; p++)
		if (strlen(proto_names[p]) == len &&
		    strncasecmp(proto_names[p], name, len) == 0)
			return p;
	return -1;
}

int sip_tls_ctx_new(SSL_CTX **out, const char *cert_file, const char *key_file,
		    char *why, size_t cap)
{
	SSL_CTX *ctx = NULL;
	int err = 0;

	*out = NULL;
	if (!cert_file || !cert_file[0] || !key_file || !key_file[0]) {
		snprintf(why, cap,
			 "tls_cert_file and tls_key_file must be set");
		return EINVAL;
	}
	ctx = SSL_CTX_new(TLS_server_method());
	if (!ctx) {
		snprintf(why, cap, "out of memory");
		return ENOMEM;
	}
	SSL_CTX_set_min_proto_version(ctx, TLS1_2_VERSION);
	SSL_CTX_set_options(ctx, SSL_OP_NO_RENEGOTIATION |
				     SSL_OP_CIPHER_SERVER_PREFERENCE);
	SSL_CTX_set_mode(ctx, SSL_MODE_RELEASE_BUFFERS);
	ERR_clear_error();
	if (SSL_CTX_use_certificate_chain_file(ctx, cert_file) != 1) {
		snprintf(why, cap, "tls_cert_file %s: %s", cert_file,
			 ERR_reason_error_string(ERR_peek_last_error())
			     ? ERR_reason_error_string(ERR_peek_last_error())
			     : "cannot be read");
		err = EINVAL;
		goto out;
	}
	ERR_clear_error();
	if (SSL_CTX_use_PrivateKey_file(ctx, key_file, SSL_FILETYPE_PEM) != 1 ||
	    SSL_CTX_check_private_key(ctx) != 1) {
		/* Never the key's content: OpenSSL's reason only. */
		snprintf(why, cap, "tls_key_file %s: %s", key_file,
			 ERR_reason_error_string(ERR_peek_last_error())
			     ? ERR_reason_error_string(ERR_peek_last_error())
			     : "cannot be read");
		err = EINVAL;
		goto out;
	}
	*out = ctx;
	ctx = NULL;
out:
	SSL_CTX_free(ctx);
	ERR_clear_error();
	return err;
}

void sip_tls_ctx_free(SSL_CTX *tls)
{
	SSL_CTX_free(tls);
}
