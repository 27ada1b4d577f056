/*
 * admin.c - the admin listener (admin_http): GET /metrics (Prometheus),
 * /healthz (the process serves) and /readyz (the store answers and the
 * SIP sockets are bound). No authentication: it listens on loopback by
 * default and never on the API port.
 */
#include "api/admin.h"

#include <errno.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <jansson.h>

#include "base/log.h"
#include "base/metrics.h"
#include "base/time.h"

struct api_admin {
	struct svc *svc;
	unsigned timeout_ms;
	atomic_bool sip_bound;
	atomic_bool draining;
};

int api_admin_new(struct api_admin **out, struct svc *s, unsigned timeout_ms)
{
	struct api_admin *a = calloc(1, sizeof(*a));

	if (!a)
		return ENOMEM;
	a->svc = s;
	a->timeout_ms = timeout_ms;
	*out = a;
	return 0;
}

void api_admin_free(struct api_admin *a)
{
	free(a);
}

void api_admin_set_sip_bound(struct api_admin *a, bool bound)
{
	atomic_store(&a->sip_bound, bound);
}

void api_admin_set_draining(struct api_admin *a)
{
	atomic_store(&a->draining, true);
}

/* A small JSON answer: {"status": status[, "reason": reason]}. */
static void reply(struct http_resp *r, int code, const char *status,
		  const char *reason)
{
	json_t *o = json_pack("{s:s}", "status", status);

	if (o && reason)
		json_object_set_new(o, "reason", json_string(reason));
	r->status = code;
	r->body = o ? json_dumps(o, JSON_COMPACT) : NULL;
	r->body_len = r->body ? strlen(r->body) : 0;
	if (!r->body)
		r->status = 500;
	json_decref(o);
	http_resp_header(r, "Cache-Control", "no-store");
}

/* The reason the node is not ready, or NULL when it is. */
static const char *not_ready(struct api_admin *a, char *buf, size_t cap)
{
	int64_t n = 0;
	int err;

	if (atomic_load(&a->draining))
		return "draining: the server is stopping";
	if (!atomic_load(&a->sip_bound))
		return "the SIP sockets are not bound yet";
	base_deadline_set(base_time_mono_ms() + a->timeout_ms);
	err = svc_account_count(a->svc, &n);
	base_deadline_set(0);
	if (!err)
		return NULL;
	snprintf(buf, cap, "the store did not answer within %u ms (%s)",
		 a->timeout_ms, strerror(err));
	return buf;
}

void api_admin_handle(void *ctx, const struct http_req *req,
		      struct http_resp *resp)
{
	struct api_admin *a = ctx;
	char buf[160];
	const char *why;

	if (req->error) {
		reply(resp, req->error, "error",
		      req->error_msg ? req->error_msg : "invalid request");
		return;
	}
	if (req->overloaded) {
		reply(resp, 503, "busy", "the admin listener is busy");
		return;
	}
	if (strcmp(req->method, "GET") != 0) {
		reply(resp, 405, "error", "use GET");
		http_resp_header(resp, "Allow", "GET, HEAD");
		return;
	}
	if (strcmp(req->path, "/healthz") == 0) {
		reply(resp, 200, "ok", NULL);
	} else if (strcmp(req->path, "/readyz") == 0) {
		why = not_ready(a, buf, sizeof(buf));
		if (why)
			LOG_INFO("not_ready", "reason=\"%s\"", why);
		reply(resp, why ? 503 : 200, why ? "unavailable" : "ready",
		      why);
	} else if (strcmp(req->path, "/metrics") == 0) {
		if (metric_render(&resp->body, &resp->body_len)) {
			reply(resp, 500, "error", "out of memory");
			return;
		}
		resp->status = 200;
		resp->content_type = "text/plain; version=0.0.4; charset=utf-8";
		http_resp_header(resp, "Cache-Control", "no-store");
	} else {
		reply(resp, 404, "error",
		      "no such resource: /metrics, /healthz or /readyz");
	}
}
