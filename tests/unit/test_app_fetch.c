/*
 * test_app_fetch.c - webhook fetches against a real HTTP server on
 * 127.0.0.1 (tests/unit/app_fetch_server.py), the private-address refusal
 * (127.0.0.1 with allow_private off, also over a kept-alive connection),
 * and the address classification.
 */
#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <pthread.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>

#include <cmocka.h>

#include "app/fetch.h"
#include "app/sign.h"
#include "child.h"

#ifndef SIPWARD_SOURCE_DIR
#define SIPWARD_SOURCE_DIR "."
#endif

#define TOKEN "MAZDQ1ZTEXAMPLETOKEN"

static pid_t server;
static int port;
static struct app_fetcher *fetcher;

struct waiter {
	pthread_mutex_t mu;
	pthread_cond_t cv;
	bool done;
	int err;
	long status;
	bool document;
	char ct[128];
	char ip[64];
	char *body;
	size_t len;
};

static void on_result(const struct app_fetch_result *r, void *arg)
{
	struct waiter *w = arg;

	pthread_mutex_lock(&w->mu);
	w->err = r->err;
	w->status = r->status;
	w->document = app_fetch_is_document(r);
	snprintf(w->ct, sizeof(w->ct), "%s", r->content_type);
	snprintf(w->ip, sizeof(w->ip), "%s", r->ip);
	w->body = malloc(r->body_len + 1);
	memcpy(w->body, r->body, r->body_len + 1);
	w->len = r->body_len;
	w->done = true;
	pthread_cond_signal(&w->cv);
	pthread_mutex_unlock(&w->mu);
}

static void waiter_init(struct waiter *w)
{
	memset(w, 0, sizeof(*w));
	pthread_mutex_init(&w->mu, NULL);
	pthread_cond_init(&w->cv, NULL);
}

/* Waits for the callback; the bound only catches a hang. */
static void waiter_wait(struct waiter *w)
{
	struct timespec ts;

	clock_gettime(CLOCK_REALTIME, &ts);
	ts.tv_sec += 60;
	pthread_mutex_lock(&w->mu);
	while (!w->done)
		if (pthread_cond_timedwait(&w->cv, &w->mu, &ts) == ETIMEDOUT)
			break;
	pthread_mutex_unlock(&w->mu);
	assert_true(w->done);
}

static void waiter_free(struct waiter *w)
{
	free(w->body);
	pthread_mutex_destroy(&w->mu);
	pthread_cond_destroy(&w->cv);
}

/* Runs one request to completion. */
static void fetch(struct app_fetch_req *req, struct waiter *w)
{
	waiter_init(w);
	assert_int_equal(app_fetch(fetcher, req, on_result, w), 0);
	waiter_wait(w);
}

static void url(char *out, size_t cap, const char *host, const char *path)
{
	snprintf(out, cap, "http://%s:%d%s", host, port, path);
}

/* The value of "key: " in an echo body. */
static const char *field(const char *body, const char *key, char *out,
			 size_t cap)
{
	char k[64];
	const char *p, *e;

	snprintf(k, sizeof(k), "\n%s: ", key);
	p = strstr(body, k);
	if (!p && strncmp(body, k + 1, strlen(k + 1)) == 0)
		p = body - 1;
	assert_non_null(p);
	p += strlen(k);
	e = strchr(p, '\n');
	snprintf(out, cap, "%.*s", (int)(e ? e - p : (long)strlen(p)), p);
	return out;
}

/* The requests the server has seen (its /count). */
static long server_count(void)
{
	struct app_fetch_req req = {0};
	struct waiter w;
	char u[128];
	long n;

	url(u, sizeof(u), "127.0.0.1", "/count");
	req.url = u;
	req.method = "GET";
	req.allow_private = true;
	fetch(&req, &w);
	assert_int_equal(w.err, 0);
	n = atol(w.body);
	waiter_free(&w);
	return n;
}

static int setup(void **state)
{
	char *argv[] = {"python3",
			SIPWARD_SOURCE_DIR "/tests/unit/app_fetch_server.py",
			NULL};

	(void)state;
	server = child_start(argv, &port);
	if (server < 0)
		return -1;
	return app_fetcher_start(&fetcher) ? -1 : 0;
}

static int teardown(void **state)
{
	(void)state;
	app_fetcher_stop(fetcher);
	child_stop(server);
	return 0;
}

static const struct app_param P[] = {
    {"CallUUID", "6f1c-0001"}, {"From", "sip:alice@example.com"},
    {"To", "+1 555 0100"},     {"CallerName", "Al & Bo = \xc3\xa9 100%"},
    {"X-PH-Trace", "a+b/c?d"},
};
#define NP (sizeof(P) / sizeof(P[0]))

static void test_post_signed(void **state)
{
	struct app_fetch_req req = {0};
	struct waiter w;
	char u[128], v[512], nonce[64], sig[APP_SIGN_B64_LEN + 1], *form;

	(void)state;
	url(u, sizeof(u), "127.0.0.1", "/echo?app=1");
	req.url = u;
	req.method = "POST";
	req.params = P;
	req.nparams = NP;
	req.token = TOKEN;
	req.token_len = strlen(TOKEN);
	req.allow_private = true;
	fetch(&req, &w);
	assert_int_equal(w.err, 0);
	assert_int_equal(w.status, 200);
	assert_false(w.document); /* text/plain */
	assert_string_equal(w.ip, "127.0.0.1");
	assert_string_equal(field(w.body, "method", v, sizeof(v)), "POST");
	assert_string_equal(field(w.body, "target", v, sizeof(v)),
			    "/echo?app=1");
	assert_string_equal(field(w.body, "content-type", v, sizeof(v)),
			    "application/x-www-form-urlencoded");
	assert_int_equal(app_form_encode(P, NP, &form, NULL), 0);
	assert_string_equal(field(w.body, "body", v, sizeof(v)), form);
	free(form);
	assert_true(strncmp(field(w.body, "user-agent", v, sizeof(v)),
			    "sipward/", 8) == 0);
	/* The signature is ours over the nonce sent, Plivo and Vobiz alike. */
	field(w.body, "x-plivo-signature-v3-nonce", nonce, sizeof(nonce));
	assert_int_equal(strlen(nonce), APP_SIGN_NONCE_LEN);
	assert_string_equal(
	    field(w.body, "x-vobiz-signature-v3-nonce", v, sizeof(v)), nonce);
	assert_int_equal(app_sign_v3(TOKEN, strlen(TOKEN), "POST", u, P, NP,
				     nonce, sig, sizeof(sig)),
			 0);
	assert_string_equal(field(w.body, "x-plivo-signature-v3", v, sizeof(v)),
			    sig);
	assert_string_equal(field(w.body, "x-vobiz-signature-v3", v, sizeof(v)),
			    sig);
	waiter_free(&w);
}

static void test_get_query(void **state)
{
	struct app_fetch_req req = {0};
	struct waiter w;
	char u[128], v[512], want[512], *form;

	(void)state;
	url(u, sizeof(u), "127.0.0.1", "/echo#frag");
	req.url = u;
	req.method = "GET";
	req.params = P;
	req.nparams = NP;
	req.allow_private = true;
	fetch(&req, &w);
	assert_int_equal(w.err, 0);
	assert_string_equal(field(w.body, "method", v, sizeof(v)), "GET");
	assert_int_equal(app_form_encode(P, NP, &form, NULL), 0);
	snprintf(want, sizeof(want), "/echo?%s", form);
	free(form);
	assert_string_equal(field(w.body, "target", v, sizeof(v)), want);
	assert_string_equal(field(w.body, "body", v, sizeof(v)), "");
	/* Unsigned: no token given. */
	assert_string_equal(field(w.body, "x-plivo-signature-v3", v, sizeof(v)),
			    "");
	waiter_free(&w);

	/* A URL with a query already gets '&'. */
	url(u, sizeof(u), "127.0.0.1", "/echo?a=1");
	req.nparams = 1;
	fetch(&req, &w);
	assert_string_equal(field(w.body, "target", v, sizeof(v)),
			    "/echo?a=1&CallUUID=6f1c-0001");
	waiter_free(&w);
}

static void test_document_and_status(void **state)
{
	struct app_fetch_req req = {0};
	struct waiter w;
	char u[128];

	(void)state;
	url(u, sizeof(u), "127.0.0.1", "/xml");
	req.url = u;
	req.method = "POST";
	req.allow_private = true;
	fetch(&req, &w);
	assert_int_equal(w.err, 0);
	assert_int_equal(w.status, 200);
	assert_string_equal(w.ct, "application/xml; charset=utf-8");
	assert_true(w.document);
	assert_string_equal(w.body, "<Response><Hangup/></Response>");
	waiter_free(&w);

	url(u, sizeof(u), "127.0.0.1", "/status/503");
	fetch(&req, &w);
	assert_int_equal(w.err, 0);
	assert_int_equal(w.status, 503);
	assert_false(w.document);
	waiter_free(&w);
}

static void test_is_document(void **state)
{
	struct app_fetch_result r = {0};

	(void)state;
	r.status = 200;
	r.content_type = "text/xml";
	assert_true(app_fetch_is_document(&r));
	r.content_type = " Application/XML ;charset=utf-8";
	assert_true(app_fetch_is_document(&r));
	r.content_type = "text/html";
	assert_false(app_fetch_is_document(&r));
	r.content_type = "application/xmlx";
	assert_false(app_fetch_is_document(&r));
	r.content_type = "";
	assert_false(app_fetch_is_document(&r));
	r.content_type = "text/xml";
	r.status = 201;
	assert_false(app_fetch_is_document(&r));
	r.status = 200;
	r.err = ETIMEDOUT;
	assert_false(app_fetch_is_document(&r));
}

/* 127.0.0.1 and a name resolving to it are refused without a request. */
static void test_private_refused(void **state)
{
	struct app_fetch_req req = {0};
	struct waiter w;
	char u[128];
	long before = server_count();

	(void)state;
	url(u, sizeof(u), "127.0.0.1", "/xml");
	req.url = u;
	req.method = "POST";
	fetch(&req, &w);
	assert_int_equal(w.err, EACCES);
	waiter_free(&w);

	url(u, sizeof(u), "localhost", "/xml");
	fetch(&req, &w);
	assert_int_equal(w.err, EACCES);
	waiter_free(&w);
	assert_int_equal(server_count(), before);
}

/*
 * A connection kept alive by a request that allowed private addresses is
 * not reused by one that does not (CURLOPT_PREREQFUNCTION sees it).
 */
static void test_private_refused_on_reused_connection(void **state)
{
	struct app_fetch_req req = {0};
	struct waiter w;
	char u[128];
	long before;

	(void)state;
	url(u, sizeof(u), "127.0.0.1", "/xml");
	req.url = u;
	req.method = "GET";
	req.allow_private = true;
	fetch(&req, &w);
	assert_int_equal(w.err, 0);
	waiter_free(&w);
	before = server_count();
	req.allow_private = false;
	fetch(&req, &w);
	assert_int_equal(w.err, EACCES);
	waiter_free(&w);
	assert_int_equal(server_count(), before);
}

static void test_redirects(void **state)
{
	struct app_fetch_req req = {0};
	struct waiter w;
	char u[256];

	(void)state;
	req.url = u;
	req.method = "GET";
	req.allow_private = true;
	url(u, sizeof(u), "127.0.0.1", "/redirect?to=/xml");
	fetch(&req, &w); /* not followed by default */
	assert_int_equal(w.err, 0);
	assert_int_equal(w.status, 302);
	waiter_free(&w);

	req.redirects_max = 2;
	fetch(&req, &w);
	assert_int_equal(w.err, 0);
	assert_int_equal(w.status, 200);
	assert_true(w.document);
	waiter_free(&w);

	/* Three hops with a limit of two. */
	snprintf(u, sizeof(u), "http://127.0.0.1:%d/redirect?to=%s", port,
		 "/redirect%3Fto%3D/redirect%253Fto%253D/xml");
	fetch(&req, &w);
	assert_int_equal(w.err, ELOOP);
	waiter_free(&w);

	/* Only http and https. */
	url(u, sizeof(u), "127.0.0.1", "/redirect?to=file:///etc/passwd");
	fetch(&req, &w);
	assert_int_equal(w.err, EINVAL);
	assert_int_equal(w.len, 0);
	waiter_free(&w);
}

static void test_body_cap(void **state)
{
	struct app_fetch_req req = {0};
	struct waiter w;
	char u[128];

	(void)state;
	req.url = u;
	req.method = "GET";
	req.allow_private = true;
	url(u, sizeof(u), "127.0.0.1", "/big");
	fetch(&req, &w);
	assert_int_equal(w.err, EFBIG);
	assert_int_equal(w.len, 0);
	waiter_free(&w);
	url(u, sizeof(u), "127.0.0.1", "/big-stream");
	fetch(&req, &w);
	assert_int_equal(w.err, EFBIG);
	waiter_free(&w);
	/* A larger cap takes it. */
	req.body_max = 300 * 1024;
	fetch(&req, &w);
	assert_int_equal(w.err, 0);
	assert_int_equal(w.len, 200 * 1024);
	waiter_free(&w);
}

/* The server never answers /slow: the total timeout ends the request. */
static void test_timeout(void **state)
{
	struct app_fetch_req req = {0};
	struct waiter w;
	char u[128];

	(void)state;
	url(u, sizeof(u), "127.0.0.1", "/slow");
	req.url = u;
	req.method = "POST";
	req.allow_private = true;
	req.timeout_ms = 200;
	fetch(&req, &w);
	assert_int_equal(w.err, ETIMEDOUT);
	waiter_free(&w);
}

static void test_connect_refused(void **state)
{
	struct app_fetch_req req = {0};
	struct sockaddr_in sa = {.sin_family = AF_INET};
	socklen_t sl = sizeof(sa);
	struct waiter w;
	char u[128];
	int fd = socket(AF_INET, SOCK_STREAM, 0);

	(void)state;
	/* A port that was free a moment ago and has no listener. */
	sa.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	assert_int_equal(bind(fd, (struct sockaddr *)&sa, sizeof(sa)), 0);
	assert_int_equal(getsockname(fd, (struct sockaddr *)&sa, &sl), 0);
	snprintf(u, sizeof(u), "http://127.0.0.1:%d/", ntohs(sa.sin_port));
	req.url = u;
	req.method = "GET";
	req.allow_private = true;
	fetch(&req, &w);
	close(fd);
	assert_int_equal(w.err, ECONNREFUSED);
	waiter_free(&w);
}

static void test_bad_requests(void **state)
{
	struct app_fetch_req req = {0};
	struct waiter w;
	static const struct app_param bad[] = {{"a", "\xff"}};

	(void)state;
	waiter_init(&w);
	req.method = "GET";
	req.url = "ftp://example.com/";
	assert_int_equal(app_fetch(fetcher, &req, on_result, &w), EINVAL);
	req.url = "http://";
	assert_int_equal(app_fetch(fetcher, &req, on_result, &w), EINVAL);
	req.url = "http://[::1]/";
	assert_int_equal(app_fetch(fetcher, &req, on_result, &w), EINVAL);
	req.url = "http://example.com/";
	req.method = "PUT";
	assert_int_equal(app_fetch(fetcher, &req, on_result, &w), EINVAL);
	req.method = "GET";
	req.params = bad;
	req.nparams = 1;
	assert_int_equal(app_fetch(fetcher, &req, on_result, &w), EINVAL);
	assert_false(w.done);
	waiter_free(&w);
}

/* Stopping cancels what is still running, each callback exactly once. */
static void test_stop_cancels(void **state)
{
	struct app_fetch_req req = {0};
	struct app_fetcher *f;
	struct waiter w[3];
	char u[128];

	(void)state;
	assert_int_equal(app_fetcher_start(&f), 0);
	url(u, sizeof(u), "127.0.0.1", "/slow");
	req.url = u;
	req.method = "GET";
	req.allow_private = true;
	req.timeout_ms = 600000;
	for (int i = 0; i < 3; i++) {
		waiter_init(&w[i]);
		assert_int_equal(app_fetch(f, &req, on_result, &w[i]), 0);
	}
	app_fetcher_stop(f);
	for (int i = 0; i < 3; i++) {
		assert_true(w[i].done);
		assert_int_equal(w[i].err, ECANCELED);
		waiter_free(&w[i]);
	}
}

static bool priv(const char *ip)
{
	struct sockaddr_storage ss = {0};
	struct sockaddr_in *s4 = (struct sockaddr_in *)&ss;
	struct sockaddr_in6 *s6 = (struct sockaddr_in6 *)&ss;

	if (inet_pton(AF_INET, ip, &s4->sin_addr) == 1) {
		ss.ss_family = AF_INET;
	} else {
		assert_int_equal(inet_pton(AF_INET6, ip, &s6->sin6_addr), 1);
		ss.ss_family = AF_INET6;
	}
	return app_addr_private((struct sockaddr *)&ss);
}

static void test_addr_private(void **state)
{
	static const char *const refused[] = {
	    "127.0.0.1",
	    "127.255.255.254",
	    "10.0.0.1",
	    "10.255.255.255",
	    "172.16.0.1",
	    "172.31.255.255",
	    "192.168.1.1",
	    "169.254.169.254",
	    "0.0.0.0",
	    "100.64.0.1",
	    "100.127.255.255",
	    "192.0.0.8",
	    "198.18.0.1",
	    "198.19.255.255",
	    "224.0.0.1",
	    "240.0.0.1",
	    "255.255.255.255",
	    "::",
	    "::1",
	    "fe80::1",
	    "febf::1",
	    "fc00::1",
	    "fdff::1",
	    "fec0::1",
	    "ff02::1",
	    "::ffff:127.0.0.1",
	    "::ffff:10.1.2.3",
	    "::127.0.0.1",
	    "64:ff9b::192.168.0.1",
	    "2002:c0a8:0101::1",
	};
	static const char *const allowed[] = {
	    "8.8.8.8",		"1.1.1.1",	     "172.15.255.255",
	    "172.32.0.1",	"100.63.255.255",    "100.128.0.1",
	    "192.0.2.1",	"198.17.0.1",	     "198.20.0.1",
	    "223.255.255.255",	"169.253.0.1",	     "11.0.0.1",
	    "2001:db8::1",	"2606:4700::1",	     "::ffff:8.8.8.8",
	    "64:ff9b::808:808", "2002:0808:0808::1", "fe00::1",
	};
	struct sockaddr sa = {.sa_family = AF_UNIX};

	(void)state;
	for (size_t i = 0; i < sizeof(refused) / sizeof(refused[0]); i++)
		if (!priv(refused[i]))
			fail_msg("%s should be refused", refused[i]);
	for (size_t i = 0; i < sizeof(allowed) / sizeof(allowed[0]); i++)
		if (priv(allowed[i]))
			fail_msg("%s should be allowed", allowed[i]);
	assert_true(app_addr_private(&sa));
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_addr_private),
	    cmocka_unit_test(test_is_document),
	    cmocka_unit_test(test_bad_requests),
	    cmocka_unit_test(test_post_signed),
	    cmocka_unit_test(test_get_query),
	    cmocka_unit_test(test_document_and_status),
	    cmocka_unit_test(test_private_refused),
	    cmocka_unit_test(test_private_refused_on_reused_connection),
	    cmocka_unit_test(test_redirects),
	    cmocka_unit_test(test_body_cap),
	    cmocka_unit_test(test_timeout),
	    cmocka_unit_test(test_connect_refused),
	    cmocka_unit_test(test_stop_cancels),
	};
	return cmocka_run_group_tests(tests, setup, teardown);
}
