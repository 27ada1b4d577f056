/*
 * fetch.c - webhook requests on one thread driving a libcurl multi handle.
 * Callers queue requests from any thread (app_fetch builds the URL, body
 * and signature headers there); the thread adds them to the multi handle,
 * waits in curl_multi_poll (woken by curl_multi_wakeup) and delivers each
 * result to its callback. The private-address check runs in two places so
 * that neither a redirect, a name resolving to several addresses, nor a
 * connection kept alive from a request that allowed private addresses
 * can reach one: CURLOPT_OPENSOCKETFUNCTION for every socket curl opens,
 * and CURLOPT_PREREQFUNCTION, which sees the address of the connection a
 * request is about to use, new or reused.
 */
#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <pthread.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/socket.h>
#include <unistd.h>

#include <curl/curl.h>

#include "app/fetch.h"
#include "base/crypto.h"
#include "base/log.h"
#include "base/metrics.h"
#include "model/model.h"

#ifndef SIPWARD_VERSION
#define SIPWARD_VERSION "0"
#endif

struct job {
	struct job *next;
	CURL *easy;
	struct curl_slist *hdrs;
	char *url, *body;
	char *buf; /* response body */
	size_t len, cap, max;
	bool too_big, refused, allow_private;
	char ip[INET6_ADDRSTRLEN];
	char errbuf[CURL_ERROR_SIZE];
	app_fetch_cb cb;
	void *arg;
	uint64_t t0_us; /* queued at, for the latency metric */
};

/* ---- metrics ---- */

static const char *const OUTCOMES[] = {"2xx",
				       "3xx",
				       "4xx",
				       "5xx",
				       "other_status",
				       "timeout",
				       "connect_failed",
				       "refused",
				       "too_large",
				       "cancelled",
				       "error"};
enum {
	O_STATUS = 0, /* + the class, 1xx counted as other_status */
	O_OTHER_STATUS = 4,
	O_TIMEOUT,
	O_CONNECT,
	O_REFUSED,
	O_TOO_LARGE,
	O_CANCELLED,
	O_ERROR,
	O__N
};

static _Atomic uint64_t fetch_v[O__N];
static struct metric_family fetches = {
    .name = "sipward_webhook_fetches_total",
    .help = "Application requests (answer_url, hangup_url, message_url ...) "
	    "by outcome: the answer's status class, or why there was none "
	    "(refused: an address webhook_allow_private forbids).",
    .kind = METRIC_COUNTER,
    .label = {"outcome"},
    .values = {OUTCOMES},
    .nvalues = {O__N},
    .v = fetch_v};
METRIC_REGISTER(fetches)

static _Atomic uint64_t fetch_lat_v[METRIC_HCELLS(1, 14)];
static struct metric_family fetch_latency = {
    .name = "sipward_webhook_fetch_duration_seconds",
    .help = "Application requests from queued to answered or failed.",
    .kind = METRIC_HISTOGRAM,
    METRIC_LATENCY,
    .v = fetch_lat_v};
METRIC_REGISTER(fetch_latency)

static void count_fetch(const struct job *j, const struct app_fetch_result *r)
{
	unsigned o;

	if (r->err == ECANCELED)
		o = O_CANCELLED;
	else if (r->err == EACCES)
		o = O_REFUSED;
	else if (r->err == ETIMEDOUT)
		o = O_TIMEOUT;
	else if (r->err == ECONNREFUSED || r->err == EHOSTUNREACH)
		o = O_CONNECT;
	else if (r->err == EFBIG)
		o = O_TOO_LARGE;
	else if (r->err)
		o = O_ERROR;
	else if (r->status >= 200 && r->status < 600)
		o = O_STATUS + (unsigned)(r->status / 100 - 2);
	else
		o = O_OTHER_STATUS;
	metric_add(&fetches, o, 0, 1);
	metric_observe(&fetch_latency, 0, 0, metric_now_us() - j->t0_us);
}

struct app_fetcher {
	CURLM *multi;
	pthread_t thread;
	pthread_mutex_t mu;
	struct job *head, *tail; /* queued, under mu */
	unsigned inflight;	 /* queued + running, under mu */
	bool stopping;		 /* under mu */
	struct job *active;	 /* running; the thread's own */
};

static bool v4_private(uint32_t a)
{
	return (a >> 24) == 0 ||			/* 0/8 this network */
	       (a >> 24) == 10 ||			/* 10/8 */
	       (a >> 22) == (100u << 2 | 1) ||		/* 100.64/10 CGNAT */
	       (a >> 24) == 127 ||			/* loopback */
	       (a >> 16) == (169u << 8 | 254) ||	/* link-local */
	       (a >> 20) == (172u << 4 | 1) ||		/* 172.16/12 */
	       (a >> 8) == (192u << 16 | 0 << 8 | 0) || /* 192.0.0/24 */
	       (a >> 16) == (192u << 8 | 168) ||	/* 192.168/16 */
	       (a >> 17) == (198u << 7 | 18 >> 1) ||	/* 198.18/15 */
	       (a >> 28) >= 14;				/* multicast, 240/4 */
}

bool app_addr_private(const struct sockaddr *sa)
{
	if (sa->sa_family == AF_INET) {
		const struct sockaddr_in *s = (const struct sockaddr_in *)sa;

		return v4_private(ntohl(s->sin_addr.s_addr));
	}
	if (sa->sa_family == AF_INET6) {
		const uint8_t *b =
		    ((const struct sockaddr_in6 *)sa)->sin6_addr.s6_addr;
		static const uint8_t zero[12];
		static const uint8_t mapped[12] = {0, 0, 0, 0, 0,    0,
						   0, 0, 0, 0, 0xff, 0xff};
		static const uint8_t nat64[12] = {0, 0x64, 0xff, 0x9b};
		uint32_t v4 = (uint32_t)b[12] << 24 | (uint32_t)b[13] << 16 |
			      (uint32_t)b[14] << 8 | b[15];

		if (memcmp(b, zero, 12) == 0) /* ::, ::1, ::a.b.c.d */
			return true;
		if (memcmp(b, mapped, 12) == 0 || memcmp(b, nat64, 12) == 0)
			return v4_private(v4);
		if (b[0] == 0x20 && b[1] == 0x02) /* 6to4 */
			return v4_private((uint32_t)b[2] << 24 |
					  (uint32_t)b[3] << 16 |
					  (uint32_t)b[4] << 8 | b[5]);
		return (b[0] & 0xfe) == 0xfc ||			  /* fc00::/7 */
		       (b[0] == 0xfe && (b[1] & 0xc0) == 0x80) || /* fe80 */
		       (b[0] == 0xfe && (b[1] & 0xc0) == 0xc0) || /* fec0 */
		       b[0] == 0xff; /* multicast */
	}
	return true;
}

static curl_socket_t open_socket(void *clientp, curlsocktype purpose,
				 struct curl_sockaddr *a)
{
	struct job *j = clientp;

	(void)purpose;
	if (a->family == AF_INET || a->family == AF_INET6)
		inet_ntop(a->family,
			  a->family == AF_INET
			      ? (const void *)&((struct sockaddr_in *)&a->addr)
				    ->sin_addr
			      : (const void *)&((struct sockaddr_in6 *)&a->addr)
				    ->sin6_addr,
			  j->ip, sizeof(j->ip));
	if (!j->allow_private && app_addr_private(&a->addr)) {
		j->refused = true;
		return CURL_SOCKET_BAD;
	}
	return socket(a->family, a->socktype | SOCK_CLOEXEC, a->protocol);
}

static int prereq(void *clientp, char *primary_ip, char *local_ip,
		  int primary_port, int local_port)
{
	struct job *j = clientp;
	struct sockaddr_storage ss = {0};
	struct sockaddr_in *s4 = (struct sockaddr_in *)&ss;
	struct sockaddr_in6 *s6 = (struct sockaddr_in6 *)&ss;

	(void)local_ip;
	(void)primary_port;
	(void)local_port;
	snprintf(j->ip, sizeof(j->ip), "%s", primary_ip);
	if (j->allow_private)
		return CURL_PREREQFUNC_OK;
	if (inet_pton(AF_INET, primary_ip, &s4->sin_addr) == 1)
		ss.ss_family = AF_INET;
	else if (inet_pton(AF_INET6, primary_ip, &s6->sin6_addr) == 1)
		ss.ss_family = AF_INET6;
	if (app_addr_private((struct sockaddr *)&ss)) {
		j->refused = true;
		return CURL_PREREQFUNC_ABORT;
	}
	return CURL_PREREQFUNC_OK;
}

static size_t on_body(char *data, size_t size, size_t n, void *clientp)
{
	struct job *j = clientp;
	size_t len = size * n;

	if (len > j->max - j->len) {
		j->too_big = true;
		return 0;
	}
	if (j->len + len + 1 > j->cap) {
		size_t cap = j->cap ? j->cap : 4096;
		char *p;

		while (cap < j->len + len + 1)
			cap *= 2;
		p = realloc(j->buf, cap);
		if (!p)
			return 0;
		j->buf = p;
		j->cap = cap;
	}
	memcpy(j->buf + j->len, data, len);
	j->len += len;
	j->buf[j->len] = '\0';
	return len;
}

static void job_free(struct job *j)
{
	if (!j)
		return;
	if (j->easy)
		curl_easy_cleanup(j->easy);
	curl_slist_free_all(j->hdrs);
	free(j->url);
	if (j->body) {
		base_wipe(j->body, strlen(j->body));
		free(j->body);
	}
	free(j->buf);
	free(j);
}

/* Runs the callback for a finished job (rc: curl's result) and frees it. */
static void finish(struct app_fetcher *f, struct job *j, CURLcode rc,
		   int forced)
{
	struct app_fetch_result r = {0};
	char *ct = NULL;

	r.content_type = "";
	r.body = j->buf ? j->buf : "";
	r.body_len = j->len;
	r.ip = j->ip;
	r.reason = "";
	if (forced) {
		r.err = forced;
		r.reason = forced == ECANCELED ? "fetcher stopped" : "";
	} else if (j->refused) {
		r.err = EACCES;
		r.reason = "address refused: loopback, private or link-local "
			   "(webhook_allow_private is off)";
	} else if (rc == CURLE_OK) {
		curl_easy_getinfo(j->easy, CURLINFO_RESPONSE_CODE, &r.status);
		curl_easy_getinfo(j->easy, CURLINFO_CONTENT_TYPE, &ct);
		if (ct)
			r.content_type = ct;
	} else {
		switch (rc) {
		case CURLE_OPERATION_TIMEDOUT:
			r.err = ETIMEDOUT;
			break;
		case CURLE_COULDNT_CONNECT:
			r.err = ECONNREFUSED;
			break;
		case CURLE_COULDNT_RESOLVE_HOST:
			r.err = EHOSTUNREACH;
			break;
		case CURLE_FILESIZE_EXCEEDED:
			r.err = EFBIG;
			break;
		case CURLE_WRITE_ERROR:
			r.err = j->too_big ? EFBIG : ENOMEM;
			break;
		case CURLE_TOO_MANY_REDIRECTS:
			r.err = ELOOP;
			break;
		case CURLE_UNSUPPORTED_PROTOCOL:
			r.err = EINVAL;
			break;
		case CURLE_OUT_OF_MEMORY:
			r.err = ENOMEM;
			break;
		default:
			r.err = EPROTO;
			break;
		}
		r.reason = j->errbuf[0] ? j->errbuf : curl_easy_strerror(rc);
		if (r.err == EFBIG)
			r.reason = "response body over the cap";
		curl_easy_getinfo(j->easy, CURLINFO_RESPONSE_CODE, &r.status);
	}
	if (r.err) {
		r.body = "";
		r.body_len = 0;
	}
	(void)f;
	count_fetch(j, &r);
	j->cb(&r, j->arg);
	job_free(j);
}

static void active_remove(struct app_fetcher *f, struct job *j)
{
	for (struct job **p = &f->active; *p; p = &(*p)->next) {
		if (*p == j) {
			*p = j->next;
			return;
		}
	}
}

static void done(struct app_fetcher *f, struct job *j, CURLcode rc, int forced)
{
	curl_multi_remove_handle(f->multi, j->easy);
	active_remove(f, j);
	finish(f, j, rc, forced);
	pthread_mutex_lock(&f->mu);
	f->inflight--;
	pthread_mutex_unlock(&f->mu);
}

static void *run(void *arg)
{
	struct app_fetcher *f = arg;

	for (;;) {
		struct job *q, *next;
		bool stop;
		int running = 0;
		CURLMsg *m;
		int left;

		pthread_mutex_lock(&f->mu);
		q = f->head;
		f->head = f->tail = NULL;
		stop = f->stopping;
		pthread_mutex_unlock(&f->mu);

		for (; q; q = next) {
			next = q->next;
			q->next = f->active;
			f->active = q;
			if (stop || curl_multi_add_handle(f->multi, q->easy))
				done(f, q, CURLE_OK, stop ? ECANCELED : ENOMEM);
		}
		if (stop) {
			while (f->active)
				done(f, f->active, CURLE_OK, ECANCELED);
			return NULL;
		}
		curl_multi_perform(f->multi, &running);
		while ((m = curl_multi_info_read(f->multi, &left))) {
			struct job *j = NULL;

			if (m->msg != CURLMSG_DONE)
				continue;
			curl_easy_getinfo(m->easy_handle, CURLINFO_PRIVATE,
					  (char **)&j);
			done(f, j, m->data.result, 0);
		}
		curl_multi_poll(f->multi, NULL, 0, 1000, NULL);
	}
}

static pthread_once_t once = PTHREAD_ONCE_INIT;
static CURLcode global_rc;

static void global_init(void)
{
	global_rc = curl_global_init(CURL_GLOBAL_DEFAULT);
}

int app_fetcher_start(struct app_fetcher **out)
{
	struct app_fetcher *f;
	int err;

	pthread_once(&once, global_init);
	if (global_rc != CURLE_OK)
		return EIO;
	f = calloc(1, sizeof(*f));
	if (!f)
		return ENOMEM;
	f->multi = curl_multi_init();
	if (!f->multi) {
		free(f);
		return ENOMEM;
	}
	pthread_mutex_init(&f->mu, NULL);
	err = pthread_create(&f->thread, NULL, run, f);
	if (err) {
		curl_multi_cleanup(f->multi);
		pthread_mutex_destroy(&f->mu);
		free(f);
		return err;
	}
	pthread_setname_np(f->thread, "app-fetch");
	*out = f;
	return 0;
}

void app_fetcher_stop(struct app_fetcher *f)
{
	if (!f)
		return;
	pthread_mutex_lock(&f->mu);
	f->stopping = true;
	pthread_mutex_unlock(&f->mu);
	curl_multi_wakeup(f->multi);
	pthread_join(f->thread, NULL);
	curl_multi_cleanup(f->multi);
	pthread_mutex_destroy(&f->mu);
	free(f);
}

/* url without its fragment, with the form-encoded params added for GET. */
static int request_url(const char *url, bool get, const char *form, char **out)
{
	size_t n = strcspn(url, "#"), fl = strlen(form);
	const char *q = memchr(url, '?', n);
	const char *sep = "";
	char *s;

	if (get && fl)
		sep = !q					 ? "?"
		      : (url[n - 1] == '?' || url[n - 1] == '&') ? ""
								 : "&";
	if (n + fl + 2 > APP_SIGN_TEXT_MAX)
		return ERANGE;
	s = malloc(n + fl + 2);
	if (!s)
		return ENOMEM;
	snprintf(s, n + fl + 2, "%.*s%s%s", (int)n, url, sep, get ? form : "");
	*out = s;
	return 0;
}

static int add_header(struct job *j, const char *name, const char *value)
{
	char line[256];
	struct curl_slist *l;

	snprintf(line, sizeof(line), "%s: %s", name, value);
	l = curl_slist_append(j->hdrs, line);
	if (!l)
		return ENOMEM;
	j->hdrs = l;
	return 0;
}

static int sign_headers(struct job *j, const struct app_fetch_req *req)
{
	char nonce[APP_SIGN_NONCE_LEN + 1], sig[APP_SIGN_B64_LEN + 1];
	int err;

	err = app_sign_nonce(nonce, sizeof(nonce));
	if (!err)
		err = app_sign_v3(req->token, req->token_len, req->method,
				  req->url, req->params, req->nparams, nonce,
				  sig, sizeof(sig));
	if (!err)
		err = add_header(j, "X-Plivo-Signature-V3", sig);
	if (!err)
		err = add_header(j, "X-Plivo-Signature-V3-Nonce", nonce);
	if (!err)
		err = add_header(j, "X-Vobiz-Signature-V3", sig);
	if (!err)
		err = add_header(j, "X-Vobiz-Signature-V3-Nonce", nonce);
	return err;
}

/* Sets the easy handle's options; any failure is ENOMEM or EINVAL. */
static int setup(struct job *j, const struct app_fetch_req *req, bool get)
{
	CURL *e = j->easy;
	long redirects = req->redirects_max > APP_FETCH_REDIRECTS_MAX
			     ? APP_FETCH_REDIRECTS_MAX
			     : (long)req->redirects_max;
	CURLcode rc = CURLE_OK;

#define SET(opt, val)                                       \
	do {                                                \
		if (rc == CURLE_OK)                         \
			rc = curl_easy_setopt(e, opt, val); \
	} while (0)
	SET(CURLOPT_URL, j->url);
	SET(CURLOPT_PROTOCOLS_STR, "http,https");
	SET(CURLOPT_REDIR_PROTOCOLS_STR, "http,https");
	SET(CURLOPT_FOLLOWLOCATION, redirects ? 1L : 0L);
	SET(CURLOPT_MAXREDIRS, redirects);
	SET(CURLOPT_NOSIGNAL, 1L);
	SET(CURLOPT_PROXY, ""); /* no proxy from the environment */
	SET(CURLOPT_CONNECTTIMEOUT_MS,
	    (long)(req->connect_timeout_ms ? req->connect_timeout_ms
					   : APP_FETCH_CONNECT_TIMEOUT_MS));
	SET(CURLOPT_TIMEOUT_MS,
	    (long)(req->timeout_ms ? req->timeout_ms : APP_FETCH_TIMEOUT_MS));
	SET(CURLOPT_MAXFILESIZE_LARGE, (curl_off_t)j->max);
	SET(CURLOPT_OPENSOCKETFUNCTION, open_socket);
	SET(CURLOPT_OPENSOCKETDATA, j);
	SET(CURLOPT_PREREQFUNCTION, prereq);
	SET(CURLOPT_PREREQDATA, j);
	SET(CURLOPT_WRITEFUNCTION, on_body);
	SET(CURLOPT_WRITEDATA, j);
	SET(CURLOPT_ERRORBUFFER, j->errbuf);
	SET(CURLOPT_PRIVATE, j);
	SET(CURLOPT_USERAGENT, "sipward/" SIPWARD_VERSION);
	if (!get) {
		SET(CURLOPT_POST, 1L);
		SET(CURLOPT_POSTFIELDSIZE, (long)strlen(j->body));
		SET(CURLOPT_POSTFIELDS, j->body);
	} else {
		SET(CURLOPT_HTTPGET, 1L);
	}
	SET(CURLOPT_HTTPHEADER, j->hdrs);
#undef SET
	if (rc == CURLE_OUT_OF_MEMORY)
		return ENOMEM;
	return rc == CURLE_OK ? 0 : EINVAL;
}

int app_fetch(struct app_fetcher *f, const struct app_fetch_req *req,
	      app_fetch_cb cb, void *arg)
{
	struct model_errors errs = {0};
	struct job *j = NULL;
	char *form = NULL, *canon = NULL;
	bool get;
	int err;

	if (!req->url || !req->method)
		return EINVAL;
	if (strcmp(req->method, "GET") == 0)
		get = true;
	else if (strcmp(req->method, "POST") == 0)
		get = false;
	else
		return EINVAL;
	err = model_url_check(req->url, strlen(req->url), "url", &errs);
	model_errors_free(&errs);
	if (err)
		return EINVAL;
	/* What cannot be signed is refused even unsigned: one rule. */
	err = app_sign_canonical(req->method, req->url, req->params,
				 req->nparams, &canon);
	free(canon);
	if (err)
		return err;
	j = calloc(1, sizeof(*j));
	if (!j)
		return ENOMEM;
	j->cb = cb;
	j->arg = arg;
	j->t0_us = metric_now_us();
	j->allow_private = req->allow_private;
	j->max = req->body_max ? req->body_max : APP_FETCH_BODY_MAX;
	err = app_form_encode(req->params, req->nparams, &form, NULL);
	if (err)
		goto out;
	err = request_url(req->url, get, form, &j->url);
	if (err)
		goto out;
	if (!get) {
		j->body = form;
		form = NULL;
	}
	j->easy = curl_easy_init();
	if (!j->easy) {
		err = ENOMEM;
		goto out;
	}
	if (req->token)
		err = sign_headers(j, req);
	if (!err)
		err = add_header(j, "Accept", "application/xml, text/xml");
	if (!err)
		err = add_header(j, "Expect", "");
	if (!err)
		err = setup(j, req, get);
	if (err)
		goto out;

	pthread_mutex_lock(&f->mu);
	if (f->stopping)
		err = ESHUTDOWN;
	else if (f->inflight >= APP_FETCH_QUEUE_MAX)
		err = EAGAIN;
	if (!err) {
		if (f->tail)
			f->tail->next = j;
		else
			f->head = j;
		f->tail = j;
		f->inflight++;
	}
	pthread_mutex_unlock(&f->mu);
	if (err)
		goto out;
	curl_multi_wakeup(f->multi);
	j = NULL;
out:
	free(form);
	job_free(j);
	return err;
}

bool app_fetch_is_document(const struct app_fetch_result *res)
{
	const char *ct = res->content_type;
	size_t n;

	if (res->err || res->status != 200 || !ct)
		return false;
	while (*ct == ' ' || *ct == '\t')
		ct++;
	n = strcspn(ct, "; \t");
	return (n == 15 && strncasecmp(ct, "application/xml", 15) == 0) ||
	       (n == 8 && strncasecmp(ct, "text/xml", 8) == 0);
}
