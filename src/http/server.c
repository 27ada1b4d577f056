/*
 * server.c - libmicrohttpd (epoll, thread pool) glue. A request's body is
 * collected up to body_max; a larger one is discarded and reported as
 * body_too_large so the handler can answer 413 in the contract's order.
 */
#include "http/server.h"

#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <unistd.h>

#include <microhttpd.h>

#include "base/addr.h"
#include "base/crypto.h"
#include "base/log.h"

struct http_server {
	struct MHD_Daemon *d;
	http_handler handler;
	void *ctx;
	size_t body_max;
};

/* An oversized chunked body is read and dropped up to this many times the
 * cap (to answer 413); past that the connection is closed. */
#define DISCARD_FACTOR 16

struct state {
	struct http_req req;
	char *buf;
	size_t len, cap;
	size_t discarded;
	bool answered;
};

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
	return MHD_lookup_connection_value((struct MHD_Connection *)req->conn,
					   MHD_HEADER_KIND, name);
}

struct query_iter {
	http_query_cb cb;
	void *ctx;
	int rc;
};

static enum MHD_Result query_one(void *cls, enum MHD_ValueKind kind,
				 const char *key, size_t key_size,
				 const char *value, size_t value_size)
{
	struct query_iter *it = cls;
	bool nul =
	    strlen(key) != key_size || (value && strlen(value) != value_size);

	(void)kind;
	it->rc = it->cb(it->ctx, key, nul ? NULL : value ? value : "");
	return it->rc ? MHD_NO : MHD_YES;
}

int http_req_query_each(const struct http_req *req, http_query_cb cb, void *ctx)
{
	struct query_iter it = {cb, ctx, 0};

	MHD_get_connection_values_n((struct MHD_Connection *)req->conn,
				    MHD_GET_ARGUMENT_KIND, query_one, &it);
	return it.rc;
}

/* Grows st->buf to hold need bytes: doubling from 4 KiB, up to max. */
static int grow(struct state *st, size_t need, size_t max)
{
	size_t cap = st->cap ? st->cap : 4096;
	char *nb;

	while (cap < need)
		cap *= 2;
	if (cap > max)
		cap = max;
	nb = malloc(cap);
	if (!nb)
		return ENOMEM;
	if (st->len)
		memcpy(nb, st->buf, st->len);
	if (st->buf) {
		base_wipe(st->buf, st->len); /* it may hold a password */
		free(st->buf);
	}
	st->buf = nb;
	st->cap = cap;
	return 0;
}

/* Calls the handler and queues its response. */
static enum MHD_Result answer(struct http_server *srv, struct MHD_Connection *c,
			      struct state *st)
{
	struct http_resp r = {0};
	struct MHD_Response *resp;
	enum MHD_Result ret;

	st->answered = true;
	st->req.body = st->buf;
	st->req.body_len = st->len;
	srv->handler(srv->ctx, &st->req, &r);
	if (r.body)
		resp = MHD_create_response_from_buffer(r.body_len, r.body,
						       MHD_RESPMEM_MUST_FREE);
	else
		resp = MHD_create_response_from_buffer(0, NULL,
						       MHD_RESPMEM_PERSISTENT);
	if (!resp) {
		free(r.body);
		return MHD_NO;
	}
	if (r.body)
		MHD_add_response_header(resp, "Content-Type",
					"application/json");
	if (r.request_id[0])
		MHD_add_response_header(resp, "X-Request-Id", r.request_id);
	for (unsigned i = 0; i < r.nheaders; i++)
		MHD_add_response_header(resp, r.headers[i].name,
					r.headers[i].value);
	if (r.close || st->req.body_too_large || st->req.bad_framing)
		MHD_add_response_header(resp, "Connection", "close");
	ret = MHD_queue_response(c, (unsigned)r.status, resp);
	MHD_destroy_response(resp);
	return ret;
}

static enum MHD_Result on_request(void *cls, struct MHD_Connection *c,
				  const char *url, const char *method,
				  const char *version, const char *upload_data,
				  size_t *upload_size, void **con_cls)
{
	struct http_server *srv = cls;
	struct state *st = *con_cls;

	if (!st) {
		const union MHD_ConnectionInfo *ci;
		const char *cl, *te;

		st = calloc(1, sizeof(*st));
		if (!st)
			return MHD_NO;
		*con_cls = st;
		st->req.method = method;
		st->req.path = url;
		st->req.conn = (struct http_conn *)c;
		ci = MHD_get_connection_info(
		    c, MHD_CONNECTION_INFO_CLIENT_ADDRESS);
		base_addr_ip(ci ? ci->client_addr : NULL, st->req.client,
			     sizeof(st->req.client));
		cl = MHD_lookup_connection_value(
		    c, MHD_HEADER_KIND, MHD_HTTP_HEADER_CONTENT_LENGTH);
		te = MHD_lookup_connection_value(
		    c, MHD_HEADER_KIND, MHD_HTTP_HEADER_TRANSFER_ENCODING);
		if (te)
			st->req.has_body = true;
		if ((te && cl) ||
		    (strcmp(version, MHD_HTTP_VERSION_1_1) == 0 &&
		     !MHD_lookup_connection_value(c, MHD_HEADER_KIND,
						  MHD_HTTP_HEADER_HOST))) {
			st->req.bad_framing = true;
			return answer(srv, c, st);
		}
		if (cl) {
			unsigned long long n = strtoull(cl, NULL, 10);
			st->req.has_body = st->req.has_body || n > 0;
			if (n > srv->body_max) {
				st->req.body_too_large = true;
				st->discarded = 0;
				/*
				 * A client waiting for 100-continue, or a body
				 * past what we would read to drop, is answered
				 * at once (MHD then closes). Otherwise the body
				 * is read and dropped first: closing on unread
				 * data would reset the connection and could
				 * destroy the 413 before the client reads it.
				 */
				if (MHD_lookup_connection_value(
					c, MHD_HEADER_KIND,
					MHD_HTTP_HEADER_EXPECT) ||
				    n > DISCARD_FACTOR * srv->body_max)
					return answer(srv, c, st);
			}
		}
		return MHD_YES;
	}
	if (st->answered) {
		*upload_size = 0;
		return MHD_YES;
	}
	if (*upload_size) {
		size_t n = *upload_size;
		*upload_size = 0;
		if (st->req.body_too_large) {
			/* Dropped; 413 once it has all come, within reason. */
			st->discarded += n;
			return st->discarded > DISCARD_FACTOR * srv->body_max
				   ? MHD_NO
				   : MHD_YES;
		}
		if (st->len + n > srv->body_max) {
			st->req.body_too_large = true;
			st->discarded = st->len + n;
			base_wipe(st->buf, st->len);
			free(st->buf);
			st->buf = NULL;
			st->len = st->cap = 0;
			return MHD_YES;
		}
		if (st->len + n + 1 > st->cap &&
		    grow(st, st->len + n + 1, srv->body_max + 1))
			return MHD_NO;
		memcpy(st->buf + st->len, upload_data, n);
		st->len += n;
		st->buf[st->len] = '\0';
		return MHD_YES;
	}
	return answer(srv, c, st);
}

static int hexval(char c)
{
	if (c >= '0' && c <= '9')
		return c - '0';
	if (c >= 'a' && c <= 'f')
		return c - 'a' + 10;
	if (c >= 'A' && c <= 'F')
		return c - 'A' + 10;
	return -1;
}

/*
 * Percent-decodes the path and query values in place, except "%00": a NUL
 * would cut the C string, so "/Endpoint/123%00" must not read as
 * "/Endpoint/123". It stays literal (and so matches nothing).
 */
static size_t unescape(void *cls, struct MHD_Connection *c, char *s)
{
	char *r = s, *w = s;

	(void)cls;
	(void)c;
	while (*r) {
		int hi, lo;
		if (r[0] == '%' && (hi = hexval(r[1])) >= 0 &&
		    (lo = hexval(r[2])) >= 0 && (hi || lo)) {
			*w++ = (char)(hi << 4 | lo);
			r += 3;
		} else {
			*w++ = *r++;
		}
	}
	*w = '\0';
	return (size_t)(w - s);
}

static void on_completed(void *cls, struct MHD_Connection *c, void **con_cls,
			 enum MHD_RequestTerminationCode toe)
{
	struct state *st = *con_cls;

	(void)cls;
	(void)c;
	(void)toe;
	if (!st)
		return;
	/* The body may hold a password: wipe it. */
	if (st->buf) {
		base_wipe(st->buf, st->len);
		free(st->buf);
	}
	free(st);
	*con_cls = NULL;
}

__attribute__((format(printf, 2, 0))) static void
on_mhd_log(void *cls, const char *fmt, va_list ap)
{
	char msg[256], q[300];
	size_t n;

	(void)cls;
	vsnprintf(msg, sizeof(msg), fmt, ap);
	n = strlen(msg);
	while (n > 0 && (msg[n - 1] == '\n' || msg[n - 1] == '\r'))
		msg[--n] = '\0';
	LOG_DEBUG("http_library", "msg=%s", base_log_quote(msg, q, sizeof(q)));
}

int http_server_start(struct http_server **out, const struct http_opts *o,
		      http_handler handler, void *ctx)
{
	struct sockaddr_storage ss;
	socklen_t sl;
	struct http_server *srv;
	unsigned flags =
	    MHD_USE_EPOLL_INTERNAL_THREAD | MHD_USE_ERROR_LOG | MHD_USE_TURBO;

	if (base_addr_parse(o->listen, &ss, &sl))
		return EINVAL;
	if (ss.ss_family == AF_INET6)
		flags |= MHD_USE_IPv6;
	srv = calloc(1, sizeof(*srv));
	if (!srv)
		return ENOMEM;
	srv->handler = handler;
	srv->ctx = ctx;
	srv->body_max = o->body_max;
	srv->d = MHD_start_daemon(
	    flags, 0, NULL, NULL, on_request, srv, MHD_OPTION_SOCK_ADDR,
	    (struct sockaddr *)&ss, MHD_OPTION_THREAD_POOL_SIZE,
	    (unsigned)o->threads, MHD_OPTION_CONNECTION_LIMIT,
	    (unsigned)o->conn_max, MHD_OPTION_CONNECTION_TIMEOUT,
	    (unsigned)o->timeout_s, MHD_OPTION_NOTIFY_COMPLETED, on_completed,
	    srv, MHD_OPTION_EXTERNAL_LOGGER, on_mhd_log, srv,
	    MHD_OPTION_UNESCAPE_CALLBACK, unescape, NULL, MHD_OPTION_END);
	if (!srv->d) {
		free(srv);
		return EIO;
	}
	*out = srv;
	return 0;
}

void http_server_stop(struct http_server *srv)
{
	if (!srv)
		return;
	MHD_stop_daemon(srv->d);
	free(srv);
}
