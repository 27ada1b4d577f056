/*
 * test_app_sign_node.c - our signatures checked by the Plivo SDK itself:
 * real requests from app_fetch (GET and POST, parameters that need
 * escaping, URLs with and without a query) to tests/node/plivo_server.js,
 * which runs validateV3Signature from the npm package pinned by
 * tests/node/package-lock.json and answers a document built with the
 * SDK's XML builder, which app_doc_parse must accept. Skips (77) when node
 * or the installed SDK (scripts/npm-deps.sh) is missing.
 */
#include <errno.h>
#include <pthread.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>

#include <cmocka.h>

#include "app/doc.h"
#include "app/fetch.h"
#include "child.h"

#ifndef SIPWARD_SOURCE_DIR
#define SIPWARD_SOURCE_DIR "."
#endif

#define TOKEN "MAZDQ1ZTEXAMPLETOKEN_x9"

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
	char body[4096];
};

static void on_result(const struct app_fetch_result *r, void *arg)
{
	struct waiter *w = arg;

	pthread_mutex_lock(&w->mu);
	w->err = r->err;
	w->status = r->status;
	w->document = app_fetch_is_document(r);
	snprintf(w->body, sizeof(w->body), "%s", r->body);
	w->done = true;
	pthread_cond_signal(&w->cv);
	pthread_mutex_unlock(&w->mu);
}

/* Sends one request and waits for it (the bound only catches a hang). */
static void fetch(const char *method, const char *path, const char *token,
		  const struct app_param *p, size_t n, struct waiter *w)
{
	struct app_fetch_req req = {0};
	struct timespec ts;
	char url[256];

	memset(w, 0, sizeof(*w));
	pthread_mutex_init(&w->mu, NULL);
	pthread_cond_init(&w->cv, NULL);
	snprintf(url, sizeof(url), "http://127.0.0.1:%d%s", port, path);
	req.url = url;
	req.method = method;
	req.params = p;
	req.nparams = n;
	req.token = token;
	req.token_len = strlen(token);
	req.allow_private = true;
	assert_int_equal(app_fetch(fetcher, &req, on_result, w), 0);
	clock_gettime(CLOCK_REALTIME, &ts);
	ts.tv_sec += 60;
	pthread_mutex_lock(&w->mu);
	while (!w->done)
		if (pthread_cond_timedwait(&w->cv, &w->mu, &ts) == ETIMEDOUT)
			break;
	pthread_mutex_unlock(&w->mu);
	assert_true(w->done);
	assert_int_equal(w->err, 0);
	pthread_mutex_destroy(&w->mu);
	pthread_cond_destroy(&w->cv);
}

/* What a call's answer_url gets, with values that need escaping. */
static const struct app_param P[] = {
    {"CallUUID", "3f2a9c1e-0000-4000-8000-000000000001"},
    {"From", "sip:alice@example.com"},
    {"To", "+1 (555) 010-0200"},
    {"CallerName", "Al & Bo = \"100%\" \xc3\xa9\xe2\x82\xac"},
    {"Direction", "inbound"},
    {"CallStatus", "ringing"},
    {"Event", "StartApp"},
    {"X-PH-Trace", "a+b/c?d#e"},
    {"X-PH-Emoji", "\xf0\x9f\x98\x80"},
    {"X-PH-Dup", "2"},
    {"X-PH-Dup", "10"},
    {"Empty", ""},
};
#define NP (sizeof(P) / sizeof(P[0]))

static void test_post_and_get_accepted(void **state)
{
	static const char *const paths[] = {"/answer", "/answer?app=1",
					    "/a/b.xml?x=a%20b+c&y=%C3%A9", "/"};
	struct waiter w;

	(void)state;
	for (size_t i = 0; i < sizeof(paths) / sizeof(paths[0]); i++) {
		fetch("POST", paths[i], TOKEN, P, NP, &w);
		if (w.status != 200)
			fail_msg("POST %s: %ld %s", paths[i], w.status, w.body);
		assert_string_equal(w.body, "valid\n");
		fetch("GET", paths[i], TOKEN, P, NP, &w);
		if (w.status != 200)
			fail_msg("GET %s: %ld %s", paths[i], w.status, w.body);
		/* No parameters at all. */
		fetch("POST", paths[i], TOKEN, P, 0, &w);
		assert_int_equal(w.status, 200);
		fetch("GET", paths[i], TOKEN, P, 0, &w);
		assert_int_equal(w.status, 200);
	}
}

/* The validator really checks: another token is refused. */
static void test_wrong_token_refused(void **state)
{
	struct waiter w;

	(void)state;
	fetch("POST", "/answer", "not-the-token", P, NP, &w);
	assert_int_equal(w.status, 403);
	fetch("GET", "/answer", "not-the-token", P, NP, &w);
	assert_int_equal(w.status, 403);
}

/* A document from the SDK's XML builder is one we run. */
static void test_sdk_document_parses(void **state)
{
	struct app_doc *doc = NULL;
	const struct app_dial *d;
	struct waiter w;
	char err[APP_DOC_ERR_MAX];

	(void)state;
	fetch("POST", "/doc", TOKEN, P, NP, &w);
	assert_int_equal(w.status, 200);
	assert_true(w.document);
	if (app_doc_parse(w.body, strlen(w.body), &doc, err, sizeof(err)))
		fail_msg("%s: %s", err, w.body);
	assert_int_equal(doc->n, 4);
	d = &doc->verbs[0].u.dial;
	assert_int_equal(doc->verbs[0].kind, APP_VERB_DIAL);
	assert_string_equal(d->caller_id, "1000");
	assert_string_equal(d->caller_name, "Front Desk");
	assert_int_equal(d->timeout, 30);
	assert_int_equal(d->time_limit, 600);
	assert_string_equal(d->action, "https://app.example.com/dial");
	assert_string_equal(d->method, "GET");
	assert_false(d->redirect);
	assert_int_equal(d->nheaders, 2);
	assert_string_equal(d->headers[1].name, "X-PH-Tenant");
	assert_int_equal(d->ntargets, 2);
	assert_string_equal(d->targets[0].text, "sip:bob@sip.example.com");
	assert_string_equal(d->targets[1].text, "14155551234");
	assert_int_equal(doc->verbs[1].u.wait, 2);
	assert_string_equal(doc->verbs[2].u.redirect.url,
			    "https://app.example.com/next?a=1&b=2");
	assert_int_equal(doc->verbs[3].u.hangup, APP_HANGUP_BUSY);
	app_doc_free(doc);
}

static int setup(void **state)
{
	char *argv[] = {"node",
			SIPWARD_SOURCE_DIR "/tests/node/plivo_server.js",
			getenv("SIPWARD_NODE_MODULES"), TOKEN, NULL};

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

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_post_and_get_accepted),
	    cmocka_unit_test(test_wrong_token_refused),
	    cmocka_unit_test(test_sdk_document_parses),
	};
	const char *mods = getenv("SIPWARD_NODE_MODULES");
	char plivo[1024];
	struct stat st;

	snprintf(plivo, sizeof(plivo), "%s/plivo/package.json",
		 mods ? mods : "");
	if (!mods || stat(plivo, &st) != 0 ||
	    system("node --version "
		   ">/dev/null 2>&1") != 0) {
		printf("SKIP: node or the Plivo SDK is not installed (%s); "
		       "scripts/npm-deps.sh installs it\n",
		       plivo);
		return 77;
	}
	return cmocka_run_group_tests(tests, setup, teardown);
}
