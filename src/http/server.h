/*
 * server.h - sipward's own HTTP/1.1 server: event loops read and parse each
 * request (strictly, with capped head and body), worker pools run the one
 * handler, the loops send its reply. Knows nothing of endpoints or storage.
 */
#ifndef HTTP_SERVER_H
#define HTTP_SERVER_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

struct http_server;
struct http_conn; /* opaque: the connection the request came on */

struct http_req {
	const char *method; /* "GET" for a HEAD request (see head) */
	const char *path;   /* decoded, without the query string */
	struct http_conn *conn;
	char *body; /* NUL-terminated copy, NULL when there is none */
	size_t body_len;
	bool has_body;	     /* Content-Length > 0 or chunked */
	bool body_too_large; /* over body_max: body is NULL */
	bool head; /* a HEAD request: answered as GET, body not sent */
	/*
	 * Set when the worker queue is full: the handler runs on the event
	 * loop and must answer 503 with Retry-After without touching the store.
	 */
	bool overloaded;
	/*
	 * A request the server refused itself (400 bad framing or syntax, 408,
	 * 413, 414, 431, 501, 505): the handler must answer `error` with
	 * `error_msg` (one sentence) and nothing else; the connection is then
	 * closed. method and path may be "" then.
	 */
	int error;
	const char *error_msg;
	int64_t t0_ms;	 /* base_time_mono_ms() when the request was complete */
	char client[64]; /* client address, for rate limits and logs */
};

#define HTTP_RESP_HEADERS 4
#define HTTP_RESP_RAW_MAX 1024

struct http_resp {
	int status;
	char *body; /* malloc'd, freed by the server; NULL for none */
	size_t body_len;
	const char *content_type; /* static; NULL: application/json */
	char request_id[40];
	struct {
		const char *name;
		char value[64];
	} headers[HTTP_RESP_HEADERS];
	unsigned nheaders;
	/* static header lines sent as they are, each ending "\r\n" (at most
	 * HTTP_RESP_RAW_MAX bytes; the console's security headers), or NULL */
	const char *head_raw;
	bool close; /* close the connection after this response */
};

/* Adds a response header (name must be a static string). */
void http_resp_header(struct http_resp *r, const char *name, const char *fmt,
		      ...) __attribute__((format(printf, 3, 4)));

/* Returns the value of request header `name` (case-insensitive) or NULL. */
const char *http_req_header(const struct http_req *req, const char *name);

typedef int (*http_query_cb)(void *ctx, const char *key, const char *value);

/*
 * Calls cb for each query parameter in order; stops at the first non-zero
 * return and returns it. A parameter without '=' has value ""; a value
 * that holds a NUL byte (%00) is passed as NULL.
 */

int http_req_query_each(const struct http_req *req, http_query_cb cb,
			void *ctx);

/*
 * Fills resp for req. Runs on one of the server's worker threads; on an
 * event-loop thread (and so must not block) when req->error or
 * req->overloaded is set, and for the requests http_inline_fn chose.
 */
typedef void (*http_handler)(void *ctx, const struct http_req *req,
			     struct http_resp *resp);

/*
 * Whether the handler answers req without blocking (reads that never wait
 * on a lock or a network, writes it queues and defers): then it runs on
 * the event loop, with no hand-off to a worker.
 */
typedef bool (*http_inline_fn)(void *ctx, const struct http_req *req);

/*
 * Called by the handler that will answer req later, from another thread:
 * the server sends nothing when the handler returns. The handler then
 * fills resp and calls http_req_done, exactly once.
 */
void http_req_defer(const struct http_req *req);
/* Sends the answer of a deferred request (any thread). */
void http_req_done(const struct http_req *req);

struct http_opts {
	const char *listen; /* HOST:PORT, [v6]:PORT */
	size_t body_max;
	unsigned threads;	/* read workers (GET, HEAD) */
	unsigned write_threads; /* workers for every other method */
	unsigned loops;		/* event-loop threads; 0 = one per CPU */
	unsigned conn_max;
	unsigned conn_per_addr;
	unsigned timeout_s;	    /* idle keep-alive */
	unsigned request_timeout_s; /* whole request, from its first byte */
	http_inline_fn inline_ok;   /* NULL: every request to a worker */
};

/* Starts listening and serving. Returns 0, EINVAL (bad address) or EIO. */
int http_server_start(struct http_server **out, const struct http_opts *o,
		      http_handler handler, void *ctx);

/* The port actually bound (useful with port 0). */
unsigned http_server_port(const struct http_server *srv);

/* Stops accepting, finishes in-flight requests, frees the server. */
void http_server_stop(struct http_server *srv);

#endif
