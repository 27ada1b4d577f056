/* transport.c - the SIP sockets and their epoll loop. */
#include "sip/transport.h"

#include <errno.h>
#include <stdatomic.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <pthread.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/eventfd.h>
#include <unistd.h>

#include "base/addr.h"
#include "base/log.h"
#include "base/time.h"
#include "sip/msg.h"

enum { TAG_UDP, TAG_LISTEN, TAG_WAKE, TAG_OUTQ, TAG_CONN };

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
	int ep, udp, tcp, wake, outq_fd;
	unsigned port;
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

static void on_accept(struct sip_transport *t)
{
	for (;;) {
		struct sockaddr_storage ss;
		socklen_t sl = sizeof(ss);
		char ip[64];
		struct addr_count *a;
		struct conn *c;
		const char *why = NULL;
		int fd = accept4(t->tcp, (struct sockaddr *)&ss, &sl,
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
		c->last_s = base_time_mono_s();
		if (add_fd(t->ep, fd, TAG_CONN + (uint64_t)(c - t->conns))) {
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

/* Delivers every complete message in c's buffer; false to close c. */
static bool conn_deliver(struct sip_transport *t, struct conn *c)
{
	struct sip_peer from = {
	    .proto = SIP_TCP, .addr = c->addr, .addrlen = c->addrlen};

	from.conn = conn_id(t, c);
	for (;;) {
		size_t skip = 0, msglen = 0;
		int err =
		    sip_msg_frame(c->buf, c->len, t->o.msg_max, &skip, &msglen);
		if (skip) {
			/* A CRLFCRLF ping is answered with one CRLF pong. */
			if (skip >= 4 && write(c->fd, "\r\n", 2) < 0)
				return false;
			memmove(c->buf, c->buf + skip, c->len - skip);
			c->len -= skip;
			continue;
		}
		if (err == EAGAIN)
			return c->len < t->o.msg_max;
		if (err)
			return false;
		t->recv(t->ctx, t, &from, c->buf, msglen);
		if (!conn_find(t, from.conn))
			return true; /* closed by a send failure */
		memmove(c->buf, c->buf + msglen, c->len - msglen);
		c->len -= msglen;
	}
}

/*
 * Makes room in c's buffer: CONN_BUF_MIN at the first read, then doubled
 * up to msg_max when a message needs more, so that thousands of idle
 * phones' connections do not each hold the largest message.
 */
static int conn_grow(struct sip_transport *t, struct conn *c)
{
	size_t cap = c->cap ? 2 * c->cap : CONN_BUF_MIN;
	char *b;

	if (cap > t->o.msg_max)
		cap = t->o.msg_max;
	if (cap <= c->cap)
		return E2BIG;
	b = realloc(c->buf, cap);
	if (!b)
		return ENOMEM;
	c->buf = b;
	c->cap = cap;
	return 0;
}

static void on_conn(struct sip_transport *t, struct conn *c)
{
	uint64_t id = conn_id(t, c);

	for (;;) {
		ssize_t n;

		if (c->len == c->cap && conn_grow(t, c)) {
			conn_close(t, c);
			return;
		}
		n = read(c->fd, c->buf + c->len, c->cap - c->len);
		if (n < 0 && (errno == EAGAIN || errno == EINTR))
			return;
		if (n <= 0) {
			conn_close(t, c);
			return;
		}
		c->len += (size_t)n;
		c->last_s = base_time_mono_s();
		if (!conn_deliver(t, c)) {
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
		t->recv(t->ctx, t, &from, t->dgram, (size_t)n);
	}
}

static void sweep_idle(struct sip_transport *t)
{
	int64_t now = base_time_mono_s();

	for (unsigned i = 0; i < t->o.tcp_max; i++) {
		struct conn *c = &t->conns[i];
		if (c->fd >= 0 && now - c->last_s > t->o.tcp_idle_s)
			conn_close(t, c);
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

static int conn_send(struct sip_transport *t, uint64_t id,
		     const struct sockaddr_storage *addr, socklen_t addrlen,
		     const char *buf, size_t len)
{
	struct conn *c = id ? conn_find(t, id) : conn_by_addr(t, addr, addrlen);
	ssize_t n;

	if (!c)
		return ENOTCONN;
	n = send(c->fd, buf, len, MSG_NOSIGNAL);
	if (n != (ssize_t)len) {
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

	on_loop = true;

	for (;;) {
		int n = epoll_wait(t->ep, ev, 64, 1000);
		int64_t now;

		for (int i = 0; i < n; i++) {
			uint64_t tag = ev[i].data.u64;
			if (tag == TAG_WAKE)
				return NULL;
			if (tag == TAG_UDP)
				on_udp(t);
			else if (tag == TAG_OUTQ)
				on_outq(t);
			else if (tag == TAG_LISTEN)
				on_accept(t);
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
		getsockname(t->udp, (struct sockaddr *)&got, &gl);
		*port_of(ss) = *port_of(&got);
		t->port = ntohs(*port_of(&got));
		err = open_socket(SOCK_STREAM, ss, sl, &t->tcp);
		if (err) {
			close(t->udp);
			t->udp = -1;
			if (!any)
				break;
		}
	}
	return err;
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
	    o->tcp_max == 0)
		return EINVAL;
	t = calloc(1, sizeof(*t));
	if (!t)
		return ENOMEM;
	t->o = *o;
	t->recv = recv;
	t->tick = tick;
	t->ctx = ctx;
	t->ep = t->udp = t->tcp = t->wake = t->outq_fd = -1;
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
		err = add_fd(t->ep, t->tcp, TAG_LISTEN);
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
	if (t->tcp >= 0)
		close(t->tcp);
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

unsigned sip_transport_port(const struct sip_transport *t)
{
	return t->port;
}
