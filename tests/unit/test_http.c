/*
 * test_http.c - the HTTP/1.1 request parser (head, chunked bodies,
 * percent-decoding) and the server's hand-off to its handler (errors and
 * overload reach the handler, HEAD is answered as GET without a body).
 */
#include <errno.h>
#include <pthread.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <arpa/inet.h>
#include <netinet/in.h>
#include <sys/socket.h>

#include <cmocka.h>

#include "http/parse.h"
#include "http/server.h"

/* Parses text as a whole head; returns the parser's result. */
static int parse(const char *text, struct http_head *h)
{
	static char buf[HTTP_HEAD_MAX * 2];
	size_t scanned = 0, n = strlen(text);

	memset(h, 0, sizeof(*h));
	assert_true(n < sizeof(buf));
	memcpy(buf, text, n + 1);
	return http_head_parse(buf, n, &scanned, h);
}

static int status_of(const char *text)
{
	struct http_head h;

	if (parse(text, &h) != EBADMSG)
		return 0;
	return h.status;
}

static void test_head_ok(void **state)
{
	struct http_head h;

	(void)state;
	assert_int_equal(parse("\r\nGET /a%20b/%00x?q=1 HTTP/1.1\r\n"
			       "Host: x\r\nX-Auth-ID:  MA_1 \r\n"
			       "Connection: keep-alive, Close\r\n\r\nrest",
			       &h),
			 0);
	assert_string_equal(h.method, "GET");
	assert_string_equal(h.path, "/a b/%00x");
	assert_string_equal(h.query, "q=1");
	assert_int_equal(h.minor, 1);
	assert_string_equal(http_head_header(&h, "x-auth-id"), "MA_1");
	assert_true(h.close);
	assert_false(h.has_length);
	assert_int_equal(h.head_len, strlen("\r\nGET /a%20b/%00x?q=1 HTTP/1.1"
					    "\r\nHost: x\r\nX-Auth-ID:  MA_1 "
					    "\r\nConnection: keep-alive, Close"
					    "\r\n\r\n"));
	assert_int_equal(parse("GET http://h:1/p?x HTTP/1.0\r\n\r\n", &h), 0);
	assert_string_equal(h.path, "/p");
	assert_string_equal(h.query, "x");
	assert_true(h.close); /* HTTP/1.0 */
	assert_int_equal(
	    parse("GET http://h?y=2 HTTP/1.1\r\nHost: h\r\n\r\n", &h), 0);
	assert_string_equal(h.path, "/");
	assert_string_equal(h.query, "y=2");
	assert_int_equal(parse("POST / HTTP/1.1\r\nHost: x\r\n"
			       "Content-Length: 12\r\nExpect: 100-continue\r\n"
			       "\r\n",
			       &h),
			 0);
	assert_true(h.has_length);
	assert_int_equal(h.length, 12);
	assert_true(h.expect_continue);
}

static void test_head_incomplete(void **state)
{
	char buf[] = "GET / HTTP/1.1\r\nHost: x\r\n\r\n";
	struct http_head h;
	size_t scanned = 0;

	(void)state;
	/* every prefix needs more, then the whole head parses */
	for (size_t n = 0; n < sizeof(buf) - 1; n++) {
		memset(&h, 0, sizeof(h));
		assert_int_equal(http_head_parse(buf, n, &scanned, &h), EAGAIN);
	}
	memset(&h, 0, sizeof(h));
	assert_int_equal(http_head_parse(buf, sizeof(buf) - 1, &scanned, &h),
			 0);
}

static void test_head_refused(void **state)
{
	char big[HTTP_HEAD_MAX + 200];

	(void)state;
	assert_int_equal(status_of("GET / HTTP/2.0\r\nHost: x\r\n\r\n"), 505);
	assert_int_equal(status_of("GET / HTTP/0.9\r\nHost: x\r\n\r\n"), 505);
	assert_int_equal(status_of("GET / HTTX/1.1\r\nHost: x\r\n\r\n"), 400);
	assert_int_equal(status_of("GET  / HTTP/1.1\r\nHost: x\r\n\r\n"), 400);
	assert_int_equal(status_of("GET / HTTP/1.1\r\n\r\n"), 400); /* Host */
	assert_int_equal(status_of("GET / HTTP/1.1\r\nHost: a\r\nHost: b\r\n"
				   "\r\n"),
			 400);
	assert_int_equal(status_of("GET / HTTP/1.1\nHost: x\r\n\r\n"), 400);
	assert_int_equal(status_of("GET / HTTP/1.1\r\nHost: x\rY: z\r\n\r\n"),
			 400);
	assert_int_equal(status_of("GET / HTTP/1.1\r\nHost : x\r\n\r\n"), 400);
	assert_int_equal(status_of("GET / HTTP/1.1\r\nHost: x\r\n y\r\n\r\n"),
			 400);
	assert_int_equal(status_of("GET x HTTP/1.1\r\nHost: x\r\n\r\n"), 400);
	assert_int_equal(status_of("\x16\x03\x01 BLAH\r\n\r\n"), 400);
	/* Content-Length: twice, a list, not digits, overflowing */
	assert_int_equal(status_of("POST / HTTP/1.1\r\nHost: x\r\n"
				   "Content-Length: 5\r\nContent-Length: 5\r\n"
				   "\r\n"),
			 400);
	assert_int_equal(status_of("POST / HTTP/1.1\r\nHost: x\r\n"
				   "Content-Length: 5, 5\r\n\r\n"),
			 400);
	assert_int_equal(status_of("POST / HTTP/1.1\r\nHost: x\r\n"
				   "Content-Length: +5\r\n\r\n"),
			 400);
	assert_int_equal(status_of("POST / HTTP/1.1\r\nHost: x\r\n"
				   "Content-Length: 99999999999999999999\r\n"
				   "\r\n"),
			 400);
	/* framing */
	assert_int_equal(status_of("POST / HTTP/1.1\r\nHost: x\r\n"
				   "Content-Length: 5\r\n"
				   "Transfer-Encoding: chunked\r\n\r\n"),
			 400);
	assert_int_equal(status_of("POST / HTTP/1.1\r\nHost: x\r\n"
				   "Transfer-Encoding: gzip\r\n\r\n"),
			 501);
	assert_int_equal(status_of("POST / HTTP/1.1\r\nHost: x\r\n"
				   "Transfer-Encoding: gzip, chunked\r\n\r\n"),
			 501);
	/* sizes */
	memset(big, 'a', sizeof(big));
	memcpy(big, "GET /", 5);
	big[sizeof(big) - 1] = '\0';
	assert_int_equal(status_of(big), 414);
	snprintf(big, sizeof(big), "GET / HTTP/1.1\r\nHost: x\r\nX: %0*d\r\n",
		 HTTP_HEAD_MAX, 0);
	assert_int_equal(status_of(big), 431);
	{
		char many[4000];
		size_t n = (size_t)snprintf(many, sizeof(many),
					    "GET / HTTP/1.1\r\nHost: x\r\n");
		for (int i = 0; i < HTTP_HDR_MAX; i++)
			n += (size_t)snprintf(many + n, sizeof(many) - n,
					      "X: y\r\n");
		snprintf(many + n, sizeof(many) - n, "\r\n");
		assert_int_equal(status_of(many), 431);
	}
}

/* Decodes text in one go (or byte by byte); returns rc and the body. */
static int chunked(const char *text, bool bytewise, char *out, size_t *olen)
{
	struct http_chunked st = {0};
	char buf[512];
	size_t n = strlen(text), off = 0, used, o;
	int rc = 0;

	*olen = 0;
	while (off < n) {
		size_t len = bytewise ? 1 : n - off;
		memcpy(buf, text + off, len);
		rc = http_chunked_decode(&st, buf, len, &used, &o);
		memcpy(out + *olen, buf, o);
		*olen += o;
		off += used;
		if (rc)
			break;
	}
	out[*olen] = '\0';
	return rc;
}

static void test_chunked(void **state)
{
	char out[512];
	size_t n;

	(void)state;
	for (int b = 0; b < 2; b++) {
		assert_int_equal(chunked("3\r\nabc\r\nA;x=y;z=\"q\\\"\"\r\n"
					 "0123456789\r\n0\r\nT: v\r\n\r\n",
					 b, out, &n),
				 1);
		assert_string_equal(out, "abc0123456789");
		assert_int_equal(chunked("0\r\n\r\n", b, out, &n), 1);
		assert_int_equal(n, 0);
	}
	assert_int_equal(chunked("zz\r\nabc\r\n0\r\n\r\n", false, out, &n),
			 EBADMSG);
	assert_int_equal(chunked("\r\n", false, out, &n), EBADMSG);
	assert_int_equal(chunked("3\r\nabcX\r\n", false, out, &n), EBADMSG);
	assert_int_equal(chunked("3\nabc\r\n", false, out, &n), EBADMSG);
	assert_int_equal(chunked("3;\r\nabc\r\n", false, out, &n), EBADMSG);
	assert_int_equal(chunked("3;a b\r\nabc\r\n", false, out, &n), EBADMSG);
	assert_int_equal(chunked("1000000000000000\r\n", false, out, &n),
			 EBADMSG);
	assert_int_equal(chunked("0\r\n x\r\n\r\n", false, out, &n), EBADMSG);
	/* more input after the end is left unused */
	{
		struct http_chunked st = {0};
		char b[] = "1\r\nx\r\n0\r\n\r\nGET";
		size_t used, o;
		assert_int_equal(
		    http_chunked_decode(&st, b, strlen(b), &used, &o), 1);
		assert_int_equal(used, strlen(b) - 3);
		assert_int_equal(o, 1);
	}
}

static void test_unescape(void **state)
{
	char a[] = "%41%2f%00%zz+%", b[] = "a+b%2B";

	(void)state;
	http_unescape(a, false);
	assert_string_equal(a, "A/%00%zz+%");
	http_unescape(b, true);
	assert_string_equal(b, "a b+");
}

/* ---- the server, with a handler that records what it saw ---- */

struct seen {
	int error;
	bool overloaded, head;
	char method[16];
	char q[128];
};

static int query_cb(void *ctx, const char *k, const char *v)
{
	struct seen *s = ctx;
	size_t n = strlen(s->q);

	snprintf(s->q + n, sizeof(s->q) - n, "[%s=%s]", k, v ? v : "(nul)");
	return 0;
}

static void handler(void *ctx, const struct http_req *req,
		    struct http_resp *resp)
{
	struct seen *s = ctx;

	s->error = req->error;
	s->overloaded = req->overloaded;
	s->head = req->head;
	snprintf(s->method, sizeof(s->method), "%s", req->method);
	s->q[0] = '\0';
	if (!req->error)
		http_req_query_each(req, query_cb, s);
	if (req->overloaded) {
		resp->status = 503;
		http_resp_header(resp, "Retry-After", "1");
		return;
	}
	resp->status = req->error ? req->error : 200;
	resp->body = strdup("{\"ok\":1}");
	resp->body_len = 8;
	snprintf(resp->request_id, sizeof(resp->request_id), "rid");
}

/* Sends req on a new connection, returns what came back until EOF. */
static size_t roundtrip(unsigned port, const char *req, char *out, size_t cap)
{
	struct sockaddr_in a = {.sin_family = AF_INET,
				.sin_port = htons((uint16_t)port)};
	struct timeval tv = {5, 0};
	int fd = socket(AF_INET, SOCK_STREAM, 0);
	size_t n = 0;
	ssize_t r;

	assert_true(fd >= 0);
	a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof(tv));
	assert_int_equal(connect(fd, (struct sockaddr *)&a, sizeof(a)), 0);
	assert_int_equal(write(fd, req, strlen(req)), (ssize_t)strlen(req));
	while (n + 1 < cap && (r = read(fd, out + n, cap - 1 - n)) > 0)
		n += (size_t)r;
	out[n] = '\0';
	close(fd);
	return n;
}

static void test_server(void **state)
{
	struct http_opts o = {.listen = "127.0.0.1:0",
			      .body_max = 1024,
			      .threads = 1,
			      .write_threads = 1,
			      .loops = 1,
			      .conn_max = 16,
			      .conn_per_addr = 16,
			      .timeout_s = 5,
			      .request_timeout_s = 5};
	struct http_server *srv;
	struct seen s = {0};
	char out[2048];

	(void)state;
	assert_int_equal(http_server_start(&srv, &o, handler, &s), 0);
	assert_true(http_server_port(srv) > 0);
	roundtrip(http_server_port(srv),
		  "HEAD /x?a=1&b&c=%41+%00 HTTP/1.1\r\nHost: x\r\n"
		  "Connection: close\r\n\r\n",
		  out, sizeof(out));
	assert_non_null(strstr(out, "HTTP/1.1 200 OK\r\n"));
	assert_non_null(strstr(out, "Content-Length: 8\r\n"));
	assert_non_null(strstr(out, "Connection: close\r\n"));
	assert_null(strstr(out, "{\"ok\":1}")); /* no body for HEAD */
	assert_true(s.head);
	assert_string_equal(s.method, "GET");
	assert_string_equal(s.q, "[a=1][b=][c=A %00]");
	roundtrip(http_server_port(srv),
		  "POST / HTTP/1.1\r\nHost: x\r\n"
		  "Transfer-Encoding: chunked\r\n\r\nzz\r\n",
		  out, sizeof(out));
	assert_int_equal(s.error, 400);
	assert_non_null(strstr(out, "HTTP/1.1 400 Bad Request\r\n"));
	assert_non_null(strstr(out, "X-Request-Id: rid\r\n"));
	assert_null(strstr(out + 1, "HTTP/1.1")); /* one status line */
	http_server_stop(srv);
}

/* A blocked write pool: the next write is answered inline, overloaded. */
static pthread_mutex_t gate = PTHREAD_MUTEX_INITIALIZER;

static void blocking_handler(void *ctx, const struct http_req *req,
			     struct http_resp *resp)
{
	if (!req->overloaded && strcmp(req->method, "POST") == 0) {
		pthread_mutex_lock(&gate);
		pthread_mutex_unlock(&gate);
	}
	handler(ctx, req, resp);
}

static void test_server_overloaded(void **state)
{
	struct http_opts o = {.listen = "127.0.0.1:0",
			      .body_max = 1024,
			      .threads = 1,
			      .write_threads = 1,
			      .loops = 1,
			      .conn_max = 64,
			      .conn_per_addr = 64,
			      .timeout_s = 5,
			      .request_timeout_s = 5};
	struct sockaddr_in a = {.sin_family = AF_INET};
	static const char post[] = "POST / HTTP/1.1\r\nHost: x\r\n"
				   "Content-Length: 0\r\n\r\n";
	struct http_server *srv;
	struct seen s = {0};
	int fds[40];
	char out[2048];
	int got503 = 0;

	(void)state;
	assert_int_equal(http_server_start(&srv, &o, blocking_handler, &s), 0);
	a.sin_port = htons((uint16_t)http_server_port(srv));
	a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	pthread_mutex_lock(&gate);
	/* 1 running + 16 queued (WRITE_QUEUE_PER_THREAD): the rest 503 */
	for (int i = 0; i < 40; i++) {
		struct timeval tv = {5, 0};
		fds[i] = socket(AF_INET, SOCK_STREAM, 0);
		setsockopt(fds[i], SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof(tv));
		assert_int_equal(
		    connect(fds[i], (struct sockaddr *)&a, sizeof(a)), 0);
		assert_int_equal(write(fds[i], post, sizeof(post) - 1),
				 (ssize_t)sizeof(post) - 1);
	}
	/* the reads still work while every write worker is stuck */
	roundtrip(http_server_port(srv),
		  "GET / HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n", out,
		  sizeof(out));
	assert_non_null(strstr(out, "HTTP/1.1 200 OK\r\n"));
	for (int i = 39; i >= 0 && !got503; i--) {
		ssize_t r = read(fds[i], out, sizeof(out) - 1);
		if (r > 0) {
			out[r] = '\0';
			got503 = strstr(out, "HTTP/1.1 503 ") &&
				 strstr(out, "Retry-After: 1\r\n");
		}
	}
	assert_true(got503);
	pthread_mutex_unlock(&gate);
	for (int i = 0; i < 40; i++)
		close(fds[i]);
	http_server_stop(srv);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_head_ok),
	    cmocka_unit_test(test_head_incomplete),
	    cmocka_unit_test(test_head_refused),
	    cmocka_unit_test(test_chunked),
	    cmocka_unit_test(test_unescape),
	    cmocka_unit_test(test_server),
	    cmocka_unit_test(test_server_overloaded),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
