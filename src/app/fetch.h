/*
 * fetch.h - asynchronous webhook requests (calls-contract.md "Fetching
 * XML"): libcurl's multi interface on a thread of its own, signed as Plivo
 * signs, refusing private addresses on every connection it makes.
 */
#ifndef APP_FETCH_H
#define APP_FETCH_H

#include <stdbool.h>
#include <stddef.h>
#include <sys/socket.h>

#include "app/sign.h"

#define APP_FETCH_CONNECT_TIMEOUT_MS 5000
#define APP_FETCH_TIMEOUT_MS 10000
#define APP_FETCH_BODY_MAX (100 * 1024) /* bytes of a response body */
#define APP_FETCH_REDIRECTS_MAX 10	/* the most a request may ask for */
#define APP_FETCH_QUEUE_MAX 10000	/* requests queued or running */

struct app_fetcher;

/* One request. A zeroed struct plus url and method is a valid request:
 * default timeouts and body cap, no redirects, private addresses refused. */
struct app_fetch_req {
	const char *url;    /* absolute http:// or https:// */
	const char *method; /* "GET" (params in the query) or "POST" (form) */
	const struct app_param *params;
	size_t nparams;
	/* The account's auth token; NULL: no signature headers. */
	const char *token;
	size_t token_len;
	unsigned connect_timeout_ms; /* 0: APP_FETCH_CONNECT_TIMEOUT_MS */
	unsigned timeout_ms;	     /* 0: APP_FETCH_TIMEOUT_MS, in all */
	size_t body_max;	     /* 0: APP_FETCH_BODY_MAX */
	unsigned redirects_max;	     /* followed; 0: none */
	bool allow_private;	     /* webhook_allow_private */
};

/* What came back; every pointer is valid during the callback only. */
struct app_fetch_result {
	/*
	 * 0: an HTTP response arrived (any status). Else EACCES (an address
	 * refused as private), ETIMEDOUT, ECONNREFUSED, EHOSTUNREACH (the
	 * name did not resolve), EFBIG (body over the cap), ELOOP (too many
	 * redirects), EINVAL (redirected to another scheme), EPROTO (any
	 * other HTTP or TLS failure), ENOMEM or ECANCELED (fetcher stopped).
	 */
	int err;
	long status;		  /* HTTP status of the last response */
	const char *content_type; /* "" when none */
	const char *body;	  /* NUL-terminated, body_len bytes */
	size_t body_len;
	const char *ip;	    /* the last address connected to, or "" */
	const char *reason; /* for logs: why err, or "" */
};

/* Runs on the fetcher's thread: hand the result off, never block long. */
typedef void (*app_fetch_cb)(const struct app_fetch_result *res, void *arg);

/* Starts a fetcher and its thread. Returns 0, ENOMEM or an errno. */
int app_fetcher_start(struct app_fetcher **out);

/*
 * Stops the thread: every request still queued or running gets its
 * callback with ECANCELED (on the fetcher's thread, before this returns),
 * then frees the fetcher. NULL is a no-op. Not from a callback.
 */
void app_fetcher_stop(struct app_fetcher *f);

/*
 * Queues a request and returns at once; cb(result, arg) runs later on the
 * fetcher's thread, exactly once when this returns 0. Everything in req is
 * copied. Returns 0, EINVAL (bad URL or method, or parameters that cannot
 * be signed), ERANGE (too long), EAGAIN (APP_FETCH_QUEUE_MAX in flight),
 * ESHUTDOWN (stopping) or ENOMEM.
 */
int app_fetch(struct app_fetcher *f, const struct app_fetch_req *req,
	      app_fetch_cb cb, void *arg);

/*
 * True when res is an application document by the contract: status 200,
 * Content-Type application/xml or text/xml (any case, parameters allowed).
 */
bool app_fetch_is_document(const struct app_fetch_result *res);

/*
 * True for addresses a webhook may not reach without allow_private:
 * loopback, RFC 1918 private, link-local, unique-local (fc00::/7), and
 * also unspecified, CGNAT 100.64/10, benchmarking 198.18/15, IETF
 * 192.0.0/24, multicast, reserved 240/4, broadcast, site-local fec0::/10,
 * and IPv6 forms that embed an IPv4 address (mapped, compatible, NAT64
 * 64:ff9b::/96, 6to4 2002::/16) when the embedded address is refused.
 * Families other than IPv4 and IPv6 are refused too.
 */
bool app_addr_private(const struct sockaddr *sa);

#endif
