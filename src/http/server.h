/*
 * server.h - the HTTP server (libmicrohttpd glue): assembles each request
 * with a capped body, hands it to one handler, sends the handler's reply.
 * Knows nothing of endpoints or storage.
 */
#ifndef HTTP_SERVER_H
#define HTTP_SERVER_H

#include <stdbool.h>
#include <stddef.h>

struct http_server;
struct http_conn; /* opaque libmicrohttpd connection */

struct http_req {
	const char *method;
	const char *path; /* decoded, without the query string */
	struct http_conn *conn;
	char *body; /* NUL-terminated copy, NULL when there is none */
	size_t body_len;
	bool has_body;	     /* Content-Length > 0 or chunked */
	bool body_too_large; /* over body_max: body is NULL */
	/*
	 * Refused framing (RFC 9112): both Content-Length and Transfer-Encoding
	 * (a request-smuggling vector), or HTTP/1.1 without Host. The handler
	 * must answer 400; the connection is then closed.
	 */
	bool bad_framing;
	char client[64]; /* client address, for rate limits and logs */
};

#define HTTP_RESP_HEADERS 4

struct http_resp {
	int status;
	char *body; /* malloc'd JSON, freed by the server; NULL for none */
	size_t body_len;
	char request_id[40];
	struct {
		const char *name;
		char value[64];
	} headers[HTTP_RESP_HEADERS];
	unsigned nheaders;
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

/* Fills resp for req. Runs on one of the server's worker threads. */
typedef void (*http_handler)(void *ctx, const struct http_req *req,
			     struct http_resp *resp);

struct http_opts {
	const char *listen; /* HOST:PORT, [v6]:PORT */
	size_t body_max;
	unsigned threads;
	unsigned conn_max;
	unsigned timeout_s;
};

/* Starts listening and serving. Returns 0, EINVAL (bad address) or EIO. */
int http_server_start(struct http_server **out, const struct http_opts *o,
		      http_handler handler, void *ctx);

/* Stops accepting, finishes in-flight requests, frees the server. */
void http_server_stop(struct http_server *srv);

#endif
