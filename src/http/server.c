/*
 * server.c - sipward's HTTP/1.1 server. N event loops (epoll, edge
 * triggered, one listening socket shared with EPOLLEXCLUSIVE) read and parse
 * requests; a complete request goes to a worker pool (GET/HEAD to the read
 * pool, everything else to the write pool, so writes blocked on the store
 * never take the workers that serve reads); the worker runs the handler and
 * hands the response back to the connection's loop, which writes it. Errors
 * the server detects itself are answered through the handler (req->error),
 * so they carry the API's JSON body.
 */
#include "http/server.h"

#include <errno.h>
#include <pthread.h>
#include <stdarg.h>
#include <stdatomic.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <time.h>
#include <unistd.h>

#include <netinet/in.h>
#include <netinet/tcp.h>
#include <sys/epoll.h>
#include <sys/ioctl.h>
#include <sys/eventfd.h>
#include <sys/socket.h>
#include <sys/uio.h>

#include "base/addr.h"
#include "base/beat.h"
#include "base/crypto.h"
#include "base/log.h"
#include "base/pool.h"
#include "base/time.h"
#include "http/parse.h"

/* An oversized body is read and dropped up to this many times the cap (to
 * answer 413 without a reset); past that the 413 is sent at once. */
#define DISCARD_FACTOR 16
/* Input buffer: a whole head plus one read of body. */
#define IN_CAP (HTTP_HEAD_MAX + 16384)
/* Queue caps per worker: reads are short, so a deep queue only smooths
 * bursts; writes may wait for the store, so a shallow queue sheds load
 * (503) soon when the store is stuck. */
#define READ_QUEUE_PER_THREAD 64
#define WRITE_QUEUE_PER_THREAD 16
/* After a final response: how long and how much we read and drop before
 * closing, so that unread input does not turn our close into a reset. */
#define LINGER_MS 2000
#define LINGER_MAX (1u << 20)
#define OUT_HEAD_MAX (1024 + HTTP_RESP_RAW_MAX)
#define ACCEPT_BATCH 64
#define LOOPS_MAX 64
/* Connections resumed per turn of a loop before it looks at new events. */
#define READY_BATCH 64

enum { L_IDLE, L_READING, L_WRITING, L_LINGER, L_BUSY, L_COUNT, L_NONE };

enum { CS_HEAD, CS_BODY, CS_BUSY, CS_WRITE, CS_LINGER, CS_DEAD };

enum { DEF_NONE, DEF_PENDING, DEF_RETURNED, DEF_DONE };

struct loop;

struct qpair {
	const char *k, *v;
};

struct http_conn {
	int fd;
	int state;
	int list;
	struct loop *loop;
	struct http_conn *prev, *next; /* in loop->lists[list] */
	int64_t since;		       /* when the list's timeout started */
	uint64_t idle_seq;	       /* order of becoming idle, server-wide */
	struct http_conn *done_next;
	struct http_conn *ready_next; /* in loop->ready */
	bool is_ready;
	struct base_pool_job job;
	unsigned char akey[17];
	/* input */
	char *in;
	size_t in_len, scanned, pos;
	/* the request */
	struct http_head h;
	struct http_req req;
	uint64_t body_left, discarded;
	struct http_chunked ch;
	char *body;
	size_t body_len, body_cap;
	bool close_after;
	bool q_done;
	/* A deferred answer (http_req_defer): DEF_*, between the handler's
	 * return and http_req_done, whichever comes second sends. */
	atomic_int def;
	struct qpair *q;
	unsigned nq, qcap;
	/* the response */
	struct http_resp resp;
	char ohead[OUT_HEAD_MAX];
	size_t ohead_len, obody_len, osent;
	size_t lingered;
};

struct list {
	struct http_conn *head, *tail;
};

struct loop {
	struct http_server *srv;
	pthread_t th;
	bool started;
	int ep, efd;
	pthread_mutex_t mu;
	struct http_conn *done; /* responses from workers */
	struct http_conn *dead; /* closed, freed after this batch of events */
	struct list lists[L_COUNT];
	/* idle_seq of the idle head (idle longest here), or UINT64_MAX */
	_Atomic uint64_t idle_oldest;
	atomic_uint evict;   /* idle connections to close, asked by
				peers at the global limit */
	atomic_bool acked;   /* saw srv->stopping */
	atomic_bool drained; /* stopping, and no connection left */
	atomic_bool exit;
	/* answered: to resume (next request or idle) after this batch */
	struct http_conn *ready, *ready_tail;
};

struct addr_slot {
	unsigned char key[17];
	unsigned n;
};

struct http_server {
	int lfd;
	unsigned port;
	http_handler handler;
	void *ctx;
	size_t body_max;
	unsigned conn_max, per_addr;
	http_inline_fn inline_ok;
	atomic_uint deferred; /* requests a handler answers later */
	int64_t idle_ms, request_ms;
	struct base_pool *rpool, *wpool;
	struct loop *loops;
	unsigned nloops;
	atomic_uint total;
	atomic_bool stopping;
	/* Numbers connections as they become idle: no two share one, so the
	 * connection idle longest is well defined across loops. */
	_Atomic uint64_t idle_seq;
	pthread_mutex_t amu;
	struct addr_slot *addrs;
	size_t amask;
};

/* Sentinels in epoll_event.data.ptr for the listening socket and eventfd. */
static char tag_listen, tag_wake;

/* ---- small helpers ---- */

void http_resp_header(struct http_resp *r, const char *name, const char *fmt,
		      ...)
{
	va_list ap;

	if (r->nheaders >= HTTP_RESP_HEADERS)
		return;
	r->headers[r->nheaders].name = name;
	va_start(ap, fmt);
	vsnprintf(r->headers[r->nheaders].value, sizeof(r->headers[0].value),
		  fmt, ap);
	va_end(ap);
	r->nheaders++;
}

const char *http_req_header(const struct http_req *req, const char *name)
{
	return http_head_header(&((struct http_conn *)req->conn)->h, name);
}

/* Splits and decodes the query once, in place, into c->q. */
static int query_split(struct http_conn *c)
{
	char *p = c->h.query;
	unsigned n = 1;

	c->nq = 0;
	c->q_done = true;
	if (!p)
		return 0;
	for (const char *s = p; *s; s++)
		n += *s == '&';
	if (n > c->qcap) {
		struct qpair *nq = realloc(c->q, n * sizeof(*nq));
		if (!nq)
			return ENOMEM;
		c->q = nq;
		c->qcap = n;
	}
	while (*p) {
		char *e = strchr(p, '&'), *eq;
		char *next = e ? e + 1 : p + strlen(p);
		if (e)
			*e = '\0';
		if (*p) {
			eq = strchr(p, '=');
			if (eq)
				*eq = '\0';
			http_unescape(p, true);
			if (eq)
				http_unescape(eq + 1, true);
			c->q[c->nq].k = p;
			c->q[c->nq].v = eq ? eq + 1 : "";
			c->nq++;
		}
		p = next;
	}
	return 0;
}

int http_req_query_each(const struct http_req *req, http_query_cb cb, void *ctx)
{
	struct http_conn *c = (struct http_conn *)req->conn;
	int rc;

	if (!c->q_done && (rc = query_split(c)) != 0)
		return rc;
	for (unsigned i = 0; i < c->nq; i++) {
		/* "%00" stays literal, so a decoded NUL cannot occur here;
		 * the contract (NULL for a value with a NUL) holds. */
		rc = cb(ctx, c->q[i].k, c->q[i].v);
		if (rc)
			return rc;
	}
	return 0;
}

unsigned http_server_port(const struct http_server *srv)
{
	return srv ? srv->port : 0;
}

static const char *reason(int status)
{
	switch (status) {
	case 100:
		return "Continue";
	case 200:
		return "OK";
	case 201:
		return "Created";
	case 202:
		return "Accepted";
	case 204:
		return "No Content";
	case 301:
		return "Moved Permanently";
	case 304:
		return "Not Modified";
	case 400:
		return "Bad Request";
	case 401:
		return "Unauthorized";
	case 403:
		return "Forbidden";
	case 404:
		return "Not Found";
	case 405:
		return "Method Not Allowed";
	case 408:
		return "Request Timeout";
	case 409:
		return "Conflict";
	case 413:
		return "Content Too Large";
	case 414:
		return "URI Too Long";
	case 415:
		return "Unsupported Media Type";
	case 429:
		return "Too Many Requests";
	case 431:
		return "Request Header Fields Too Large";
	case 500:
		return "Internal Server Error";
	case 501:
		return "Not Implemented";
	case 503:
		return "Service Unavailable";
	case 505:
		return "HTTP Version Not Supported";
	}
	return "Unknown";
}

/* The Date header value, formatted once a second per thread. */
static const char *http_date(void)
{
	static __thread time_t last = -1;
	static __thread char buf[40];
	time_t now = time(NULL);
	struct tm tm;

	if (now != last && gmtime_r(&now, &tm)) {
		strftime(buf, sizeof(buf), "%a, %d %b %Y %H:%M:%S GMT", &tm);
		last = now;
	}
	return buf;
}

/* ---- per-address connection counts (open addressing, linear probing) ---- */

static size_t addr_hash(const unsigned char *k)
{
	uint64_t h = 1469598103934665603ULL;

	for (int i = 0; i < 17; i++)
		h = (h ^ k[i]) * 1099511628211ULL;
	return (size_t)(h ^ h >> 29);
}

static void addr_key(const struct sockaddr_storage *ss, unsigned char *k)
{
	memset(k, 0, 17);
	if (ss->ss_family == AF_INET) {
		const struct sockaddr_in *a = (const void *)ss;
		k[0] = 4;
		memcpy(k + 1, &a->sin_addr, 4);
	} else if (ss->ss_family == AF_INET6) {
		const struct sockaddr_in6 *a = (const void *)ss;
		k[0] = 6;
		memcpy(k + 1, &a->sin6_addr, 16);
	}
}

/* Counts one more connection from k; EAGAIN when it has per_addr already. */
static int addr_acquire(struct http_server *srv, const unsigned char *k)
{
	size_t i;
	int err = 0;

	pthread_mutex_lock(&srv->amu);
	for (i = addr_hash(k) & srv->amask; srv->addrs[i].n;
	     i = (i + 1) & srv->amask)
		if (memcmp(srv->addrs[i].key, k, 17) == 0)
			break;
	if (srv->addrs[i].n >= srv->per_addr) {
		err = EAGAIN;
	} else {
		memcpy(srv->addrs[i].key, k, 17);
		srv->addrs[i].n++;
	}
	pthread_mutex_unlock(&srv->amu);
	return err;
}

static void addr_release(struct http_server *srv, const unsigned char *k)
{
	size_t i, j;

	pthread_mutex_lock(&srv->amu);
	for (i = addr_hash(k) & srv->amask; srv->addrs[i].n;
	     i = (i + 1) & srv->amask)
		if (memcmp(srv->addrs[i].key, k, 17) == 0)
			break;
	if (!srv->addrs[i].n || --srv->addrs[i].n)
		goto out;
	/* backward-shift deletion keeps every probe chain unbroken */
	for (j = (i + 1) & srv->amask; srv->addrs[j].n;
	     j = (j + 1) & srv->amask) {
		size_t home = addr_hash(srv->addrs[j].key) & srv->amask;
		if (((j - home) & srv->amask) >= ((j - i) & srv->amask)) {
			srv->addrs[i] = srv->addrs[j];
			srv->addrs[j].n = 0;
			i = j;
		}
	}
out:
	pthread_mutex_unlock(&srv->amu);
}

/* ---- lists (each FIFO by `since`, so only heads can time out) ---- */

static void publish_idle(struct loop *l)
{
	struct http_conn *h = l->lists[L_IDLE].head;

	atomic_store_explicit(&l->idle_oldest, h ? h->idle_seq : UINT64_MAX,
			      memory_order_relaxed);
}

static void list_del(struct http_conn *c)
{
	struct list *ls;

	if (c->list == L_NONE)
		return;
	ls = &c->loop->lists[c->list];
	if (c->prev)
		c->prev->next = c->next;
	else
		ls->head = c->next;
	if (c->next)
		c->next->prev = c->prev;
	else
		ls->tail = c->prev;
	c->prev = c->next = NULL;
	if (c->list == L_IDLE)
		publish_idle(c->loop);
	c->list = L_NONE;
}

static void list_put(struct http_conn *c, int list, int64_t since)
{
	struct list *ls = &c->loop->lists[list];

	list_del(c);
	c->list = list;
	c->since = since;
	if (list == L_IDLE)
		c->idle_seq = atomic_fetch_add(&c->loop->srv->idle_seq, 1);
	c->prev = ls->tail;
	c->next = NULL;
	if (ls->tail)
		ls->tail->next = c;
	else
		ls->head = c;
	ls->tail = c;
	if (list == L_IDLE)
		publish_idle(c->loop);
}

static int64_t list_timeout(const struct http_server *srv, int list)
{
	switch (list) {
	case L_IDLE:
	case L_WRITING:
		return srv->idle_ms;
	case L_READING:
		return srv->request_ms;
	case L_LINGER:
		return LINGER_MS;
	}
	return -1;
}

/* ---- connections ---- */

static void conn_wipe_body(struct http_conn *c)
{
	if (c->body && c->body_len)
		base_wipe(c->body, c->body_len); /* it may hold a password */
	c->body_len = 0;
}

/*
 * Closes c. The struct itself is freed by reap() once the current batch of
 * epoll events is done, since a later event of that batch may point at it.
 */
static void conn_close(struct http_conn *c)
{
	struct loop *l = c->loop;

	list_del(c);
	close(c->fd);
	addr_release(l->srv, c->akey);
	atomic_fetch_sub(&l->srv->total, 1);
	conn_wipe_body(c);
	if (c->in)
		base_wipe(c->in, c->in_len);
	free(c->resp.body);
	free(c->body);
	free(c->in);
	free(c->q);
	c->resp.body = c->body = c->in = NULL;
	c->q = NULL;
	c->state = CS_DEAD;
	c->done_next = l->dead;
	l->dead = c;
}

static void reap(struct loop *l)
{
	struct http_conn *keep = NULL;

	while (l->dead) {
		struct http_conn *c = l->dead;
		l->dead = c->done_next;
		if (c->is_ready) { /* still queued in l->ready: next time */
			c->done_next = keep;
			keep = c;
		} else {
			free(c);
		}
	}
	l->dead = keep;
}

/* Starts a new request: resets what the last one set. */
static void req_reset(struct http_conn *c)
{
	c->state = CS_HEAD;
	c->scanned = 0;
	c->pos = 0;
	c->h.method = c->h.path = c->h.query = NULL;
	c->h.nhdr = 0;
	c->h.head_len = 0;
	c->h.chunked = c->h.has_length = c->h.close = false;
	c->h.expect_continue = false;
	c->h.length = 0;
	c->h.status = 0;
	c->h.msg = NULL;
	memset(&c->req, 0, offsetof(struct http_req, client));
	c->req.conn = c;
	c->body_left = c->discarded = 0;
	memset(&c->ch, 0, sizeof(c->ch));
	c->q_done = false;
	c->nq = 0;
	memset(&c->resp, 0, sizeof(c->resp));
	c->ohead_len = c->obody_len = c->osent = 0;
}

/* Appends s, up to its NUL or max bytes, to the head at *p (cut at e). */
static void head_put(char **p, const char *e, const char *s, size_t max)
{
	size_t n = strnlen(s, max);

	if (n > (size_t)(e - *p))
		n = (size_t)(e - *p);
	memcpy(*p, s, n);
	*p += n;
}

/* A string literal appended whole. */
#define HEAD_LIT(p, e, s) head_put(p, e, s, sizeof(s) - 1)

/* Formats the status line and headers of c->resp (on the worker). */
static void resp_build(struct http_conn *c)
{
	struct http_resp *r = &c->resp;
	struct http_server *srv = c->loop->srv;
	char *p = c->ohead, *e = c->ohead + sizeof(c->ohead);
	const char *why, *date = http_date();
	char num[24];

	if (r->status < 100 || r->status > 599)
		r->status = 500;
	why = reason(r->status);
	if (r->close || c->h.close || c->req.error || c->req.body_too_large ||
	    atomic_load_explicit(&srv->stopping, memory_order_relaxed))
		c->close_after = true;
	/* No printf: this runs for every response. The fixed parts fit
	 * OUT_HEAD_MAX whatever the handler set; extra headers are cut. */
	snprintf(num, sizeof(num), "%d", r->status);
	HEAD_LIT(&p, e, "HTTP/1.1 ");
	head_put(&p, e, num, sizeof(num));
	HEAD_LIT(&p, e, " ");
	head_put(&p, e, why, strlen(why));
	HEAD_LIT(&p, e, "\r\nDate: ");
	head_put(&p, e, date, strlen(date));
	HEAD_LIT(&p, e, "\r\n");
	if (r->status != 204 && r->status != 304) {
		size_t v = r->body ? r->body_len : 0, i = sizeof(num) - 1;
		num[i] = '\0';
		do {
			num[--i] = (char)('0' + v % 10);
			v /= 10;
		} while (v);
		HEAD_LIT(&p, e, "Content-Length: ");
		head_put(&p, e, num + i, sizeof(num));
		HEAD_LIT(&p, e, "\r\n");
	}
	if (r->body && !r->content_type) {
		HEAD_LIT(&p, e, "Content-Type: application/json\r\n");
	} else if (r->body) {
		HEAD_LIT(&p, e, "Content-Type: ");
		head_put(&p, e, r->content_type, strlen(r->content_type));
		HEAD_LIT(&p, e, "\r\n");
	}
	if (r->request_id[0]) {
		HEAD_LIT(&p, e, "X-Request-Id: ");
		head_put(&p, e, r->request_id, sizeof(r->request_id));
		HEAD_LIT(&p, e, "\r\n");
	}
	for (unsigned i = 0; i < r->nheaders && i < HTTP_RESP_HEADERS; i++) {
		head_put(&p, e, r->headers[i].name, strlen(r->headers[i].name));
		HEAD_LIT(&p, e, ": ");
		head_put(&p, e, r->headers[i].value,
			 sizeof(r->headers[i].value));
		HEAD_LIT(&p, e, "\r\n");
	}
	if (r->head_raw)
		head_put(&p, e, r->head_raw,
			 strnlen(r->head_raw, HTTP_RESP_RAW_MAX));
	if (c->close_after)
		HEAD_LIT(&p, e, "Connection: close\r\n");
	HEAD_LIT(&p, e, "\r\n");
	c->ohead_len = (size_t)(p - c->ohead);
	if (c->req.head || !r->body) {
		free(r->body);
		r->body = NULL;
		c->obody_len = 0;
	} else {
		c->obody_len = r->body_len;
	}
}

static void conn_resume(struct http_conn *c);
static void conn_read(struct http_conn *c);

/* Reads and drops input after a final response, until EOF or the cap. */
static void conn_linger(struct http_conn *c)
{
	char buf[4096];

	for (;;) {
		ssize_t n = read(c->fd, buf, sizeof(buf));
		if (n > 0) {
			c->lingered += (size_t)n;
			if (c->lingered > LINGER_MAX)
				break;
			continue;
		}
		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0 && errno == EAGAIN)
			return;
		break;
	}
	conn_close(c);
}

/*
 * Queues c, its response sent, to be resumed by its loop after the current
 * batch: the next request is never read from inside the last one's send,
 * so requests answered inline (http_inline_fn) do not nest on the stack.
 */
static void ready_put(struct http_conn *c)
{
	struct loop *l = c->loop;

	if (c->is_ready)
		return;
	c->is_ready = true;
	c->ready_next = NULL;
	if (l->ready_tail)
		l->ready_tail->ready_next = c;
	else
		l->ready = c;
	l->ready_tail = c;
}

/* Resumes up to READY_BATCH queued connections; returns whether some wait. */
static bool ready_run(struct loop *l)
{
	for (int i = 0; i < READY_BATCH && l->ready; i++) {
		struct http_conn *c = l->ready;

		l->ready = c->ready_next;
		if (!l->ready)
			l->ready_tail = NULL;
		c->is_ready = false;
		if (c->state != CS_DEAD)
			conn_resume(c);
	}
	return l->ready != NULL;
}

/* Writes what is left of the response. Returns -1 if c was closed or is
 * done. */
static int conn_flush(struct http_conn *c)
{
	size_t total = c->ohead_len + c->obody_len;

	while (c->osent < total) {
		struct iovec iov[2];
		struct msghdr m = {.msg_iov = iov};
		ssize_t n;

		if (c->osent < c->ohead_len) {
			iov[0].iov_base = c->ohead + c->osent;
			iov[0].iov_len = c->ohead_len - c->osent;
			iov[1].iov_base = c->resp.body;
			iov[1].iov_len = c->obody_len;
			m.msg_iovlen = c->obody_len ? 2 : 1;
		} else {
			size_t off = c->osent - c->ohead_len;
			iov[0].iov_base = c->resp.body + off;
			iov[0].iov_len = c->obody_len - off;
			m.msg_iovlen = 1;
		}
		n = sendmsg(c->fd, &m, MSG_NOSIGNAL);
		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0 && errno == EAGAIN)
			return 0;
		if (n <= 0) {
			conn_close(c);
			return -1;
		}
		c->osent += (size_t)n;
	}
	free(c->resp.body);
	c->resp.body = NULL;
	conn_wipe_body(c);
	if (c->close_after) {
		shutdown(c->fd, SHUT_WR);
		c->state = CS_LINGER;
		list_put(c, L_LINGER, base_time_mono_ms());
		conn_linger(c);
		return -1;
	}
	ready_put(c);
	return -1;
}

/* Sends the response built in c->resp (loop thread). */
static void conn_send(struct http_conn *c)
{
	c->state = CS_WRITE;
	list_put(c, L_WRITING, base_time_mono_ms());
	conn_flush(c);
}

/*
 * After the handler returned: true when its answer comes later, false when
 * it is there to send (it never deferred, or http_req_done came first).
 */
static bool handler_deferred(struct http_conn *c)
{
	if (atomic_load(&c->def) == DEF_NONE)
		return false;
	if (atomic_exchange(&c->def, DEF_RETURNED) != DEF_DONE)
		return true; /* http_req_done sends */
	atomic_store(&c->def, DEF_NONE);
	return false;
}

/* Runs the handler on the loop thread and sends, unless it deferred. */
static void run_inline(struct http_conn *c)
{
	struct http_server *srv = c->loop->srv;

	c->req.t0_ms = base_time_mono_ms();
	srv->handler(srv->ctx, &c->req, &c->resp);
	if (handler_deferred(c))
		return;
	resp_build(c);
	conn_send(c);
}

/* Hands c, its answer built, to its loop to send (any thread). */
static void post_done(struct http_conn *c)
{
	struct loop *l = c->loop;
	bool wake;

	pthread_mutex_lock(&l->mu);
	wake = !l->done;
	c->done_next = l->done;
	l->done = c;
	pthread_mutex_unlock(&l->mu);
	if (wake) {
		uint64_t one = 1;
		ssize_t n = write(l->efd, &one, sizeof(one));
		(void)n; /* a full counter means a wakeup is pending anyway */
	}
}

void http_req_defer(const struct http_req *req)
{
	struct http_conn *c = req->conn;

	atomic_fetch_add(&c->loop->srv->deferred, 1);
	atomic_store(&c->def, DEF_PENDING);
}

void http_req_done(const struct http_req *req)
{
	struct http_conn *c = req->conn;
	struct http_server *srv = c->loop->srv;

	if (atomic_exchange(&c->def, DEF_DONE) == DEF_RETURNED) {
		atomic_store(&c->def, DEF_NONE);
		resp_build(c);
		post_done(c);
	}
	/* last: http_server_stop waits for this to reach 0 */
	atomic_fetch_sub(&srv->deferred, 1);
}

/* Answers an error the server found itself, through the handler. */
static void server_error(struct http_conn *c, int status, const char *msg)
{
	if (!c->req.method) {
		/* A HEAD refused before its head was done: no body either. */
		c->req.head = c->h.method && strcmp(c->h.method, "HEAD") == 0;
		c->req.method = "";
		c->req.path = "";
		c->h.nhdr = 0;
		c->h.query = NULL;
	}
	c->req.error = status;
	c->req.error_msg = msg;
	c->req.body = NULL;
	c->req.body_len = 0;
	c->close_after = true;
	list_del(c);
	c->state = CS_BUSY;
	run_inline(c);
}

static void job_run(struct base_pool_job *job)
{
	struct http_conn *c =
	    (struct http_conn *)((char *)job - offsetof(struct http_conn, job));
	struct http_server *srv = c->loop->srv;

	srv->handler(srv->ctx, &c->req, &c->resp);
	if (handler_deferred(c))
		return;
	resp_build(c);
	post_done(c);
}

/*
 * Hands the complete request to a worker, or answers it inline: a request
 * the handler answers without blocking (inline_ok), or any request the
 * server cannot queue.
 */
static void dispatch(struct http_conn *c)
{
	struct http_server *srv = c->loop->srv;
	struct base_pool *p =
	    strcmp(c->req.method, "GET") == 0 ? srv->rpool : srv->wpool;

	c->state = CS_BUSY;
	list_put(c, L_BUSY, 0);
	c->req.t0_ms = base_time_mono_ms();
	if (!c->req.body_too_large && c->req.has_body) {
		c->req.body = c->body;
		c->req.body_len = c->body_len;
	}
	/* Once stopping nothing new is handled (nor deferred): 503. */
	if (!atomic_load(&srv->stopping) && !c->req.body_too_large &&
	    srv->inline_ok && srv->inline_ok(srv->ctx, &c->req)) {
		run_inline(c);
		return;
	}
	if (atomic_load_explicit(&srv->stopping, memory_order_relaxed) ||
	    base_pool_submit(p, &c->job, job_run) == EAGAIN) {
		c->req.overloaded = true;
		run_inline(c);
	}
}

/* Appends n body bytes (or drops them once the body is too large). */
static int body_take(struct http_conn *c, const char *data, size_t n)
{
	struct http_server *srv = c->loop->srv;

	if (!n)
		return 0;
	if (c->req.body_too_large) {
		c->discarded += n;
		return 0;
	}
	if (c->body_len + n > srv->body_max) {
		c->req.body_too_large = true;
		c->discarded = c->body_len + n;
		conn_wipe_body(c);
		return 0;
	}
	if (c->body_len + n + 1 > c->body_cap) {
		size_t cap = c->body_cap ? c->body_cap : 4096;
		char *nb;
		while (cap < c->body_len + n + 1)
			cap *= 2;
		if (cap > srv->body_max + 1)
			cap = srv->body_max + 1;
		nb = malloc(cap);
		if (!nb)
			return ENOMEM;
		if (c->body_len)
			memcpy(nb, c->body, c->body_len);
		if (c->body) {
			base_wipe(c->body, c->body_len);
			free(c->body);
		}
		c->body = nb;
		c->body_cap = cap;
	}
	memcpy(c->body + c->body_len, data, n);
	c->body_len += n;
	c->body[c->body_len] = '\0';
	return 0;
}

/* Sets up c->req from a complete head. Returns true if it was answered. */
static bool head_done(struct http_conn *c)
{
	struct http_server *srv = c->loop->srv;
	struct http_head *h = &c->h;

	c->pos = h->head_len;
	c->req.conn = c;
	c->req.head = strcmp(h->method, "HEAD") == 0;
	c->req.method = c->req.head ? "GET" : h->method;
	c->req.path = h->path;
	c->req.has_body = h->chunked || (h->has_length && h->length > 0);
	c->body_left = h->has_length ? h->length : 0;
	c->state = CS_BODY;
	if (h->has_length && h->length > srv->body_max) {
		c->req.body_too_large = true;
		/*
		 * A client waiting for 100-continue, or a body past what we
		 * would read to drop, is answered at once (then closed).
		 * Otherwise the body is read and dropped first: closing on
		 * unread data would reset the connection and could destroy
		 * the 413 before the client reads it.
		 */
		if (h->expect_continue ||
		    h->length > (uint64_t)DISCARD_FACTOR * srv->body_max) {
			c->close_after = true;
			dispatch(c);
			return true;
		}
	}
	if (h->expect_continue && c->req.has_body && c->in_len == c->pos) {
		static const char cont[] = "HTTP/1.1 100 Continue\r\n\r\n";
		if (send(c->fd, cont, sizeof(cont) - 1, MSG_NOSIGNAL) !=
		    (ssize_t)sizeof(cont) - 1) {
			conn_close(c);
			return true;
		}
	}
	return false;
}

/*
 * Parses what c->in holds. Returns true when c was handed off (to a
 * worker, a response or closed) and must not be read now.
 */
static bool conn_process(struct http_conn *c)
{
	struct http_server *srv = c->loop->srv;
	size_t avail, used = 0, out = 0;
	int rc;

	if (c->state == CS_HEAD) {
		rc = http_head_parse(c->in, c->in_len, &c->scanned, &c->h);
		if (rc == EAGAIN)
			return false;
		if (rc) {
			server_error(c, c->h.status, c->h.msg);
			return true;
		}
		if (head_done(c))
			return true;
	}
	avail = c->in_len - c->pos;
	if (c->h.chunked) {
		rc = http_chunked_decode(&c->ch, c->in + c->pos, avail, &used,
					 &out);
		if (rc == EBADMSG) {
			server_error(c, 400, "The chunked body is malformed");
			return true;
		}
	} else {
		used = out =
		    avail < c->body_left ? avail : (size_t)c->body_left;
		c->body_left -= used;
		rc = c->body_left == 0;
	}
	if (body_take(c, c->in + c->pos, out)) {
		conn_close(c);
		return true;
	}
	memmove(c->in + c->pos, c->in + c->pos + used, avail - used);
	c->in_len -= used;
	if (c->req.body_too_large &&
	    c->discarded > (uint64_t)DISCARD_FACTOR * srv->body_max) {
		/* the 413 now, then close without reading the rest */
		c->close_after = true;
		dispatch(c);
		return true;
	}
	if (rc != 1)
		return false;
	dispatch(c);
	return true;
}

/* Reads and parses until EAGAIN or a hand-off. */
static void conn_read(struct http_conn *c)
{
	for (;;) {
		ssize_t n;

		if (c->state != CS_HEAD && c->state != CS_BODY)
			return;
		n = read(c->fd, c->in + c->in_len, IN_CAP - c->in_len);
		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0 && errno == EAGAIN)
			return;
		if (n <= 0) {
			conn_close(c);
			return;
		}
		if (c->in_len == 0 && c->state == CS_HEAD)
			list_put(c, L_READING, base_time_mono_ms());
		c->in_len += (size_t)n;
		if (conn_process(c))
			return;
	}
}

/* After a response: the next (maybe pipelined) request, or idle. */
static void conn_resume(struct http_conn *c)
{
	size_t left = c->in_len - c->pos;

	if (c->in) {
		base_wipe(c->in, c->pos); /* the head may hold a token */
		memmove(c->in, c->in + c->pos, left);
	}
	c->in_len = left;
	req_reset(c);
	if (left) {
		list_put(c, L_READING, base_time_mono_ms());
		if (conn_process(c))
			return;
	} else {
		list_put(c, L_IDLE, base_time_mono_ms());
	}
	conn_read(c);
}

/* ---- the loop ---- */

/* Closes the idle connection waiting longest, on any loop. */
static bool evict_one(struct http_server *srv, struct loop *self)
{
	struct loop *best = NULL;
	uint64_t oldest = UINT64_MAX;

	for (unsigned i = 0; i < srv->nloops; i++) {
		uint64_t t = atomic_load_explicit(&srv->loops[i].idle_oldest,
						  memory_order_relaxed);
		if (t < oldest) {
			oldest = t;
			best = &srv->loops[i];
		}
	}
	if (!best)
		return false;
	if (best == self) {
		if (!self->lists[L_IDLE].head)
			return false;
		conn_close(self->lists[L_IDLE].head);
	} else {
		uint64_t one = 1;
		atomic_fetch_add(&best->evict, 1);
		if (write(best->efd, &one, sizeof(one)) < 0)
			return false;
	}
	return true;
}

static void accept_one(struct loop *l, int fd,
		       const struct sockaddr_storage *ss)
{
	struct http_server *srv = l->srv;
	struct epoll_event ev;
	struct http_conn *c;
	unsigned char key[17];
	unsigned total;
	int one = 1;

	addr_key(ss, key);
	if (addr_acquire(srv, key)) {
		char ip[64];
		base_addr_ip((const struct sockaddr *)ss, ip, sizeof(ip));
		LOG_DEBUG("http_conn_refused", "src=%s reason=per_address", ip);
		close(fd);
		return;
	}
	total = atomic_fetch_add(&srv->total, 1) + 1;
	if (total > srv->conn_max &&
	    (total > 2 * srv->conn_max || !evict_one(srv, l))) {
		LOG_DEBUG("http_conn_refused", "reason=%s", "conn_max");
		goto refuse;
	}
	c = calloc(1, sizeof(*c));
	if (!c)
		goto refuse;
	c->in = malloc(IN_CAP);
	if (!c->in) {
		free(c);
		goto refuse;
	}
	c->fd = fd;
	c->loop = l;
	c->list = L_NONE;
	memcpy(c->akey, key, sizeof(key));
	base_addr_ip((const struct sockaddr *)ss, c->req.client,
		     sizeof(c->req.client));
	req_reset(c);
	setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
	list_put(c, L_IDLE, base_time_mono_ms());
	ev.events = EPOLLIN | EPOLLOUT | EPOLLRDHUP | EPOLLET;
	ev.data.ptr = c;
	if (epoll_ctl(l->ep, EPOLL_CTL_ADD, fd, &ev))
		conn_close(c);
	return;
refuse:
	close(fd);
	addr_release(srv, key);
	atomic_fetch_sub(&srv->total, 1);
}

/* Accepts up to batch connections; false once the backlog is empty. */
static bool on_listen(struct loop *l, int batch)
{
	for (int i = 0; i < batch; i++) {
		struct sockaddr_storage ss;
		socklen_t sl = sizeof(ss);
		int fd = accept4(l->srv->lfd, (struct sockaddr *)&ss, &sl,
				 SOCK_NONBLOCK | SOCK_CLOEXEC);
		if (fd < 0) {
			if (errno == EINTR || errno == ECONNABORTED)
				continue;
			if (errno != EAGAIN)
				LOG_WARN("http_accept_failed", "errno=%d",
					 errno);
			return false;
		}
		accept_one(l, fd, &ss);
	}
	return true;
}

static void on_wake(struct loop *l)
{
	struct http_conn *c, *next;
	uint64_t v;
	unsigned n;

	if (read(l->efd, &v, sizeof(v)) < 0 && errno != EAGAIN)
		LOG_WARN("http_wake_failed", "errno=%d", errno);
	pthread_mutex_lock(&l->mu);
	c = l->done;
	l->done = NULL;
	pthread_mutex_unlock(&l->mu);
	for (; c; c = next) {
		next = c->done_next;
		conn_send(c);
	}
	/* Evictions asked by a peer at the limit: only while still over it
	 * (a connection that closed meanwhile made the room already). */
	n = atomic_exchange(&l->evict, 0);
	while (n-- && l->lists[L_IDLE].head &&
	       atomic_load(&l->srv->total) > l->srv->conn_max)
		conn_close(l->lists[L_IDLE].head);
}

static void on_conn(struct http_conn *c, uint32_t events)
{
	switch (c->state) {
	case CS_HEAD:
	case CS_BODY:
		if (events & (EPOLLIN | EPOLLRDHUP | EPOLLHUP | EPOLLERR))
			conn_read(c);
		break;
	case CS_WRITE:
		if (events & (EPOLLOUT | EPOLLHUP | EPOLLERR))
			conn_flush(c);
		break;
	case CS_LINGER:
		conn_linger(c);
		break;
	default: /* CS_BUSY: the worker owns the request; read later.
		  CS_DEAD: closed earlier in this batch. */
		break;
	}
}

/* Closes or answers what has waited too long; returns ms to the next. */
static int timers_run(struct loop *l, int64_t now)
{
	int64_t next = 1000;

	for (int i = 0; i < L_BUSY; i++) {
		int64_t to = list_timeout(l->srv, i);
		struct http_conn *c;

		while ((c = l->lists[i].head) && now - c->since >= to) {
			if (i == L_READING) {
				LOG_DEBUG("http_request_timeout", "src=%s",
					  c->req.client);
				server_error(c, 408,
					     "The request did not arrive in "
					     "time");
			} else {
				conn_close(c);
			}
		}
		if (c && c->since + to - now < next)
			next = c->since + to - now;
	}
	return next < 0 ? 0 : (int)next;
}

/*
 * Stopping: closes the idle connections that have nothing to read (a
 * request that arrived is read and answered first), and says when no
 * connection is left.
 */
static void drain(struct loop *l)
{
	struct http_conn *c, *next;
	bool empty = true;

	for (c = l->lists[L_IDLE].head; c; c = next) {
		int n = 0;

		next = c->next;
		if (ioctl(c->fd, FIONREAD, &n) == 0 && n == 0)
			conn_close(c);
	}
	reap(l);
	for (int k = 0; k < L_COUNT; k++)
		empty = empty && !l->lists[k].head;
	if (empty)
		atomic_store(&l->drained, true);
}

static void *loop_run(void *arg)
{
	struct loop *l = arg;
	struct http_server *srv = l->srv;
	struct epoll_event evs[64];
	struct base_beat *beat = base_beat_add("http_loop");
	int wait = 1000;
	bool more;
	int64_t now;

	base_log_hold(); /* one write(2) of the request lines per batch */
	while (!atomic_load(&l->exit)) {
		int n = epoll_wait(l->ep, evs, 64, wait);

		if (atomic_load(&srv->stopping) && !atomic_load(&l->acked)) {
			/* Connections the kernel completed already are taken
			 * (their requests answered 503), not reset when the
			 * listener closes. */
			while (on_listen(l, 1024))
				;
			epoll_ctl(l->ep, EPOLL_CTL_DEL, srv->lfd, NULL);
			atomic_store(&l->acked, true);
		}
		for (int i = 0; i < n; i++) {
			void *p = evs[i].data.ptr;
			if (p == &tag_listen) {
				if (!atomic_load(&srv->stopping))
					on_listen(l, ACCEPT_BATCH);
			} else if (p == &tag_wake) {
				on_wake(l);
			} else {
				on_conn(p, evs[i].events);
			}
		}
		more = ready_run(l);
		now = base_time_mono_ms();
		base_beat(beat, now);
		wait = timers_run(l, now);
		if (wait > 1000)
			wait = 1000; /* a beat a second at least */
		if (more)
			wait = 0;
		reap(l);
		if (atomic_load(&l->acked) && !atomic_load(&l->drained)) {
			drain(l);
			if (wait > 20)
				wait = 20;
		}
		base_log_flush();
	}
	base_beat_del(beat);
	/* Answers posted by the last workers go out before the loop ends. */
	on_wake(l);
	reap(l);
	base_log_flush();
	return NULL;
}

/* ---- start and stop ---- */

static void wake(struct loop *l)
{
	uint64_t one = 1;

	if (write(l->efd, &one, sizeof(one)) < 0 && errno != EAGAIN)
		LOG_WARN("http_wake_failed", "errno=%d", errno);
}

static void srv_free(struct http_server *srv)
{
	for (unsigned i = 0; i < srv->nloops; i++) {
		struct loop *l = &srv->loops[i];
		if (l->started) {
			atomic_store(&l->exit, true);
			wake(l);
			pthread_join(l->th, NULL);
		}
	}
	/* every job has run: the workers are gone */
	base_pool_stop(srv->rpool);
	base_pool_stop(srv->wpool);
	for (unsigned i = 0; i < srv->nloops; i++) {
		struct loop *l = &srv->loops[i];
		for (struct http_conn *c = l->ready; c; c = c->ready_next)
			c->is_ready = false;
		l->ready = l->ready_tail = NULL;
		for (int k = 0; k < L_COUNT; k++)
			while (l->lists[k].head)
				conn_close(l->lists[k].head);
		reap(l);
		if (l->ep >= 0)
			close(l->ep);
		if (l->efd >= 0)
			close(l->efd);
		pthread_mutex_destroy(&l->mu);
	}
	if (srv->lfd >= 0)
		close(srv->lfd);
	pthread_mutex_destroy(&srv->amu);
	free(srv->loops);
	free(srv->addrs);
	free(srv);
}

static int listen_on(struct http_server *srv, const char *addr)
{
	struct sockaddr_storage ss;
	socklen_t sl;
	int one = 1;

	if (base_addr_parse(addr, &ss, &sl))
		return EINVAL;
	srv->lfd =
	    socket(ss.ss_family, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
	if (srv->lfd < 0)
		return EIO;
	setsockopt(srv->lfd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one));
	if (ss.ss_family == AF_INET6)
		setsockopt(srv->lfd, IPPROTO_IPV6, IPV6_V6ONLY, &one,
			   sizeof(one));
	if (bind(srv->lfd, (struct sockaddr *)&ss, sl) ||
	    listen(srv->lfd, 1024))
		return EIO;
	sl = sizeof(ss);
	if (getsockname(srv->lfd, (struct sockaddr *)&ss, &sl))
		return EIO;
	srv->port = ntohs(ss.ss_family == AF_INET6
			      ? ((struct sockaddr_in6 *)&ss)->sin6_port
			      : ((struct sockaddr_in *)&ss)->sin_port);
	return 0;
}

static int loop_init(struct http_server *srv, struct loop *l)
{
	struct epoll_event ev = {.events = EPOLLIN | EPOLLEXCLUSIVE};

	l->srv = srv;
	atomic_store(&l->idle_oldest, UINT64_MAX);
	l->ep = epoll_create1(EPOLL_CLOEXEC);
	l->efd = eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC);
	if (l->ep < 0 || l->efd < 0)
		return EIO;
	ev.data.ptr = &tag_listen;
	if (epoll_ctl(l->ep, EPOLL_CTL_ADD, srv->lfd, &ev))
		return EIO;
	ev.events = EPOLLIN;
	ev.data.ptr = &tag_wake;
	if (epoll_ctl(l->ep, EPOLL_CTL_ADD, l->efd, &ev))
		return EIO;
	if (pthread_create(&l->th, NULL, loop_run, l))
		return EIO;
	pthread_setname_np(l->th, "http-loop");
	l->started = true;
	return 0;
}

int http_server_start(struct http_server **out, const struct http_opts *o,
		      http_handler handler, void *ctx)
{
	struct http_server *srv;
	long cpus = sysconf(_SC_NPROCESSORS_ONLN);
	size_t slots = 64;
	int err;

	if (!o->threads || !o->write_threads || !o->conn_max ||
	    !o->conn_per_addr)
		return EINVAL;
	srv = calloc(1, sizeof(*srv));
	if (!srv)
		return ENOMEM;
	srv->lfd = -1;
	srv->handler = handler;
	srv->ctx = ctx;
	srv->body_max = o->body_max;
	srv->conn_max = o->conn_max;
	srv->per_addr = o->conn_per_addr;
	srv->inline_ok = o->inline_ok;
	srv->idle_ms = (int64_t)(o->timeout_s ? o->timeout_s : 60) * 1000;
	srv->request_ms =
	    (int64_t)(o->request_timeout_s ? o->request_timeout_s : 10) * 1000;
	pthread_mutex_init(&srv->amu, NULL);
	srv->nloops = o->loops ? o->loops : cpus > 0 ? (unsigned)cpus : 1;
	if (srv->nloops > LOOPS_MAX)
		srv->nloops = LOOPS_MAX;
	/* at most 2 x conn_max connections exist: keep the table half empty */
	while (slots < 4 * (size_t)srv->conn_max)
		slots *= 2;
	srv->amask = slots - 1;
	srv->addrs = calloc(slots, sizeof(*srv->addrs));
	srv->loops = calloc(srv->nloops, sizeof(*srv->loops));
	if (!srv->addrs || !srv->loops) {
		srv->nloops = 0;
		srv_free(srv);
		return ENOMEM;
	}
	for (unsigned i = 0; i < srv->nloops; i++) {
		srv->loops[i].ep = srv->loops[i].efd = -1;
		pthread_mutex_init(&srv->loops[i].mu, NULL);
	}
	err = listen_on(srv, o->listen);
	if (!err)
		err = base_pool_start(&srv->rpool, o->threads,
				      o->threads * READ_QUEUE_PER_THREAD,
				      "http-read");
	if (!err)
		err = base_pool_start(&srv->wpool, o->write_threads,
				      o->write_threads * WRITE_QUEUE_PER_THREAD,
				      "http-write");
	for (unsigned i = 0; !err && i < srv->nloops; i++)
		err = loop_init(srv, &srv->loops[i]);
	if (err) {
		srv_free(srv);
		return err == EINVAL ? EINVAL : EIO;
	}
	*out = srv;
	return 0;
}

void http_server_stop(struct http_server *srv)
{
	int64_t deadline;

	if (!srv)
		return;
	/* No loop submits to a pool once it has seen `stopping`. */
	atomic_store(&srv->stopping, true);
	for (unsigned i = 0; i < srv->nloops; i++) {
		struct loop *l = &srv->loops[i];
		struct timespec ms = {0, 1000000};
		wake(l);
		while (!atomic_load(&l->acked))
			nanosleep(&ms, NULL);
	}
	/* New connections are refused from now on, not queued unanswered. */
	close(srv->lfd);
	srv->lfd = -1;
	/* In-flight requests finish; the loops still send their answers. */
	base_pool_stop(srv->rpool);
	base_pool_stop(srv->wpool);
	srv->rpool = srv->wpool = NULL;
	/* Deferred answers come within their handler's deadline. */
	while (atomic_load(&srv->deferred)) {
		struct timespec ms = {0, 1000000};
		nanosleep(&ms, NULL);
	}
	/* Requests already sent are answered (503 when they came after the
	 * stop) and the answers written, within a request's time. */
	deadline = base_time_mono_ms() + srv->request_ms;
	for (unsigned i = 0; i < srv->nloops; i++) {
		struct loop *l = &srv->loops[i];
		struct timespec ms = {0, 1000000};
		wake(l);
		while (!atomic_load(&l->drained) &&
		       base_time_mono_ms() < deadline)
			nanosleep(&ms, NULL);
	}
	srv_free(srv);
}
