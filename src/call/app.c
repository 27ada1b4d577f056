/*
 * app.c - a call's application (calls contract "Fetching XML", "The XML
 * that runs", "hangup_url"): its answer_url fetched without blocking SIP
 * (app/fetch.c's thread; the result comes back through the engine queue),
 * the document parsed (app/doc.c) and run verb by verb on the engine
 * thread: Dial rings User and Number targets through call.c's B legs,
 * Hangup, Redirect, Wait; the Dial action and the hangup_url with their
 * parameters, signed with the account's token (app/sign.c).
 */
#include <ctype.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "app/doc.h"
#include "app/fetch.h"
#include "base/crypto.h"
#include "base/log.h"
#include "base/time.h"
#include "call/internal.h"
#include "call/outcome.h"
#include "model/cdr.h"

#define PARAMS_MAX 40
#define XPH_MAX 16
#define HOOK_TRIES 4 /* the first and 3 retries */

struct call_app {
	struct model_app app;
	char token[128];
	struct app_doc *doc;
	unsigned pc;	      /* the next verb */
	struct app_dial dial; /* the current Dial */
	bool dial_ringing;    /* a 180/183 came during it */
	bool dial_bridged;    /* it was answered */
	char b_uuid[MODEL_UUID_MAX];
	unsigned nxph;
	char xph_name[XPH_MAX][APP_HEADER_NAME_MAX + 1];
	char xph_value[XPH_MAX][APP_HEADER_VALUE_MAX + 1];
};

enum fetch_kind { F_ANSWER, F_FALLBACK, F_REDIRECT, F_ACTION, F_MESSAGE };

/* A fetch for a call, from its start to its result on the engine thread. */
struct fetch {
	struct call_engine *e;
	struct call *c;
	enum fetch_kind kind;
	int err;
	long status;
	bool is_doc;
	char *body;
	size_t len;
	char reason[120];
};

/* A hangup_url request, kept for its retries beyond the call. */
struct hook {
	struct hook *next;
	struct call_engine *e;
	unsigned tries;
	int64_t next_ms; /* 0: in flight */
	char url[MODEL_URL_MAX + 1];
	char method[MODEL_METHOD_MAX];
	char token[128];
	unsigned n;
	char name[PARAMS_MAX][32];
	char value[PARAMS_MAX][MODEL_URL_MAX + 1];
};

/* Parameters under construction. */
struct params {
	unsigned n;
	struct app_param p[PARAMS_MAX];
	char buf[PARAMS_MAX][64]; /* numbers written here */
};

static void add(struct params *ps, const char *name, const char *value)
{
	if (ps->n < PARAMS_MAX)
		ps->p[ps->n++] = (struct app_param){name, value ? value : ""};
}

static void addn(struct params *ps, const char *name, long long v)
{
	if (ps->n >= PARAMS_MAX)
		return;
	snprintf(ps->buf[ps->n], sizeof(ps->buf[0]), "%lld", v);
	add(ps, name, ps->buf[ps->n]);
}

/* The parameters of every request about c (calls contract). */
static void base_params(struct call *c, struct params *ps, char *from,
			size_t cap, const char *status, const char *event)
{
	struct call_app *a = c->app;

	snprintf(from, cap, "sip:%.64s@%.180s", c->from_user, c->domain);
	add(ps, "CallUUID", c->a.uuid);
	add(ps, "From", from);
	add(ps, "To", c->to);
	add(ps, "CallerName", c->alias);
	add(ps, "Direction", "inbound");
	add(ps, "CallStatus", status);
	add(ps, "Event", event);
	for (unsigned i = 0; i < a->nxph; i++)
		add(ps, a->xph_name[i], a->xph_value[i]);
}

/* ---- fetching ---- */

static void fetch_done(struct call_engine *e, void *arg);

static void fetch_cb(const struct app_fetch_result *res, void *arg)
{
	struct fetch *f = arg;

	f->err = res->err;
	f->status = res->status;
	f->is_doc = !res->err && app_fetch_is_document(res);
	snprintf(f->reason, sizeof(f->reason), "%s",
		 res->reason ? res->reason : "");
	if (f->is_doc) {
		f->body = malloc(res->body_len + 1);
		if (f->body) {
			memcpy(f->body, res->body, res->body_len);
			f->body[res->body_len] = '\0';
			f->len = res->body_len;
		}
	}
	if (call_post(f->e, fetch_done, f)) {
		/* Cannot happen but for memory: the call waits for its
		 * caller to hang up. */
		LOG_ERROR("app_fetch_lost", "call_uuid=%s", f->c->a.uuid);
	}
}

/* Starts a fetch of url for c; 0 or an errno (nothing started). */
static int fetch(struct call *c, enum fetch_kind kind, const char *url,
		 const char *method, const struct params *ps)
{
	struct call_engine *e = c->e;
	struct fetch *f = calloc(1, sizeof(*f));
	struct app_fetch_req r = {
	    .url = url,
	    .method = method[0] ? method : "POST",
	    .params = ps->p,
	    .nparams = ps->n,
	    .token = c->app->token[0] ? c->app->token : NULL,
	    .token_len = strlen(c->app->token),
	    .redirects_max = 0,
	    .allow_private = e->o.webhook_allow_private,
	};
	int err;

	if (!f)
		return ENOMEM;
	f->e = e;
	f->c = c;
	f->kind = kind;
	c->refs++;
	err = app_fetch(e->fetcher, &r, fetch_cb, f);
	if (err) {
		c->refs--;
		free(f);
	}
	return err;
}

/* ---- running the document ---- */

static void run(struct call *c);

/* The document could not be had: the caller gets 500. */
static void app_failed(struct call *c, const char *why)
{
	LOG_WARN("app_failed", "call_uuid=%s app_id=%s reason=\"%s\"",
		 c->a.uuid, c->app->app.app_id, why);
	call_respond(c->e, c->a.inv, 500, NULL, NULL);
	call_end(c, MODEL_CAUSE_ANSWER_URL_FAILURE, MODEL_SOURCE_ERROR);
}

static void start_answer(struct call *c, enum fetch_kind kind)
{
	struct call_app *a = c->app;
	struct params ps = {0};
	char from[300];
	const char *url =
	    kind == F_ANSWER ? a->app.answer_url : a->app.fallback_answer_url;
	const char *method =
	    kind == F_ANSWER ? a->app.answer_method : a->app.fallback_method;
	int err;

	base_params(c, &ps, from, sizeof(from), "ringing", "StartApp");
	err = fetch(c, kind, url, method, &ps);
	if (err) {
		char why[64];
		snprintf(why, sizeof(why), "fetch not started: error %d", err);
		app_failed(c, why);
	}
}

static void fetch_done(struct call_engine *e, void *arg)
{
	struct fetch *f = arg;
	struct call *c = f->c;
	struct call_app *a = c->app;
	struct app_doc *doc = NULL;
	char err[APP_DOC_ERR_MAX], why[300];
	bool ok;

	if (c->state == CALL_ENDED || !a)
		goto out;
	if (f->kind == F_MESSAGE) {
		bool ok2 = !f->err && f->status >= 200 && f->status < 300;
		if (!ok2)
			LOG_WARN("message_url_failed",
				 "message_uuid=%s status=%ld error=%d",
				 c->a.uuid, f->status, f->err);
		call_respond(e, c->a.inv, ok2 ? 202 : 500, NULL, NULL);
		call_end(c,
			 ok2 ? MODEL_CAUSE_NORMAL_CLEARING
			     : MODEL_CAUSE_NORMAL_TEMPORARY_FAILURE,
			 MODEL_SOURCE_ERROR);
		goto out;
	}
	if (e->stopped) {
		call_unavailable(e, c->a.inv);
		call_end(c, MODEL_CAUSE_NORMAL_TEMPORARY_FAILURE,
			 MODEL_SOURCE_ERROR);
		goto out;
	}
	ok = f->is_doc && f->body &&
	     app_doc_parse(f->body, f->len, &doc, err, sizeof(err)) == 0;
	if (!ok) {
		if (f->err)
			snprintf(why, sizeof(why), "fetch failed: %s (%d)",
				 f->reason[0] ? f->reason : "error", f->err);
		else if (!f->is_doc)
			snprintf(why, sizeof(why),
				 "not an XML document: HTTP %ld", f->status);
		else
			snprintf(why, sizeof(why), "invalid document: %s", err);
		if (f->kind == F_ACTION && !a->dial.redirect) {
			run(c); /* the action's answer is not run anyway */
			goto out;
		}
		if (f->kind == F_ANSWER && a->app.fallback_answer_url[0]) {
			LOG_WARN("app_fallback", "call_uuid=%s reason=\"%s\"",
				 c->a.uuid, why);
			start_answer(c, F_FALLBACK);
			goto out;
		}
		app_failed(c, why);
		goto out;
	}
	if (f->kind == F_ACTION && !a->dial.redirect) {
		app_doc_free(doc);
		run(c);
		goto out;
	}
	app_doc_free(a->doc);
	a->doc = doc;
	a->pc = 0;
	run(c);
out:
	free(f->body);
	free(f);
	call_unref(c);
}

/* ---- Dial ---- */

struct dial_job {
	struct base_pool_job job;
	struct call_engine *e;
	struct call *c;
	int64_t deadline_ms;
	unsigned n;
	struct {
		char user[MODEL_USERNAME_MAX + 1];
		int err; /* 0, ENOENT, EPERM (not ours), or a store error */
		struct svc_sip_party party;
	} t[APP_DIAL_TARGETS_MAX];
	char domain[MODEL_DOMAIN_MAX];
};

/* "sip:user@host[...]" of ours: copies user; false otherwise. */
static bool user_of(const struct call *c, const char *uri, char *user,
		    size_t cap)
{
	const char *p = uri, *at, *end;

	if (strncasecmp(p, "sip:", 4) == 0)
		p += 4;
	at = strchr(p, '@');
	if (!at || at == p || (size_t)(at - p) >= cap)
		return false;
	end = at + 1 + strcspn(at + 1, ";:?>");
	if ((size_t)(end - at - 1) != strlen(c->domain) ||
	    strncasecmp(at + 1, c->domain, strlen(c->domain)) != 0) {
		bool ours = false;
		for (unsigned i = 0; i < c->e->o.nlisten; i++)
			if ((size_t)(end - at - 1) ==
				strlen(c->e->o.listen_hosts[i]) &&
			    strncmp(at + 1, c->e->o.listen_hosts[i],
				    (size_t)(end - at - 1)) == 0)
				ours = true;
		if (!ours)
			return false;
	}
	memcpy(user, p, (size_t)(at - p));
	user[at - p] = '\0';
	return true;
}

static void dial_ready(struct call_engine *e, void *arg);

static void dial_run_post(struct base_pool_job *job)
{
	struct dial_job *j = (struct dial_job *)job;

	base_deadline_set(j->deadline_ms);
	for (unsigned i = 0; i < j->n; i++) {
		if (j->t[i].err)
			continue;
		j->t[i].err = svc_sip_party(j->e->svc, j->t[i].user, j->domain,
					    true, &j->t[i].party);
		base_wipe(j->t[i].party.ep.ha1_md5,
			  sizeof(j->t[i].party.ep.ha1_md5));
		base_wipe(j->t[i].party.ep.ha1_sha256,
			  sizeof(j->t[i].party.ep.ha1_sha256));
	}
	base_deadline_set(0);
	if (call_post(j->e, dial_ready, j))
		LOG_ERROR("app_dial_lost", "call_uuid=%s", j->c->a.uuid);
}

/* The Dial's B legs' From and headers. */
static void dial_from(struct call *c, const struct app_dial *d)
{
	size_t cap = APP_DIAL_HEADERS_MAX *
			 (APP_HEADER_NAME_MAX + APP_HEADER_VALUE_MAX + 4) +
		     1;
	size_t len = 0;

	snprintf(c->b_user, sizeof(c->b_user), "%s",
		 d->caller_id[0] ? d->caller_id : c->from_user);
	snprintf(c->b_name, sizeof(c->b_name), "%s",
		 d->has_caller_name ? d->caller_name : c->alias);
	free(c->b_headers);
	c->b_headers = NULL;
	if (!d->nheaders)
		return;
	c->b_headers = malloc(cap);
	if (!c->b_headers)
		return;
	c->b_headers[0] = '\0';
	for (unsigned i = 0; i < d->nheaders; i++)
		len += (size_t)snprintf(c->b_headers + len, cap - len,
					"%s: %s\r\n", d->headers[i].name,
					d->headers[i].value);
}

static void start_dial(struct call *c, const struct app_dial *d)
{
	struct call_app *a = c->app;
	struct dial_job *j = calloc(1, sizeof(*j));

	a->dial = *d;
	a->dial_ringing = false;
	a->dial_bridged = false;
	a->b_uuid[0] = '\0';
	c->dials++;
	dial_from(c, d);
	if (!j) {
		call_app_dial_failed(c, 500, false);
		return;
	}
	j->e = c->e;
	j->c = c;
	j->deadline_ms = base_time_mono_ms() + c->e->o.store_timeout_ms;
	snprintf(j->domain, sizeof(j->domain), "%s", c->domain);
	for (unsigned i = 0; i < d->ntargets; i++) {
		if (!d->targets[i].user) {
			/* A Number: through sip_gateway (no store work). */
			j->t[j->n].err = EPERM;
			snprintf(j->t[j->n].user, sizeof(j->t[0].user), "%.24s",
				 d->targets[i].text);
			j->n++;
			continue;
		}
		if (!user_of(c, d->targets[i].text, j->t[j->n].user,
			     sizeof(j->t[0].user)))
			j->t[j->n].err = EACCES; /* another domain */
		j->n++;
	}
	c->state = CALL_APP;
	c->refs++;
	if (base_pool_submit(c->e->pool, &j->job, dial_run_post)) {
		c->refs--;
		free(j);
		call_app_dial_failed(c, 503, false);
	}
}

static void dial_ready(struct call_engine *e, void *arg)
{
	struct dial_job *j = arg;
	struct call *c = j->c;
	struct sip_msg *am = NULL;
	char *mem = NULL;
	unsigned started = 0, code = 404;
	bool caller_same = c->allow_same_domain,
	     caller_phones = c->allow_phones;

	(void)e;
	if (c->state != CALL_APP || !c->app)
		goto out;
	am = malloc(sizeof(*am));
	if (!am || call_parse_copy(c->a.invite, c->a.invite_len, am, &mem)) {
		call_app_dial_failed(c, 500, false);
		goto out;
	}
	c->state = CALL_RINGING;
	for (unsigned i = 0; i < j->n && c->state == CALL_RINGING; i++) {
		struct svc_sip_party *p = &j->t[i].party;
		if (j->t[i].err == EPERM) {
			code = caller_phones ? 404 : 403;
			if (caller_phones &&
			    call_start_gw(c, am, j->t[i].user) == 0) {
				started++;
				snprintf(c->callee_uri, sizeof(c->callee_uri),
					 "%s", j->t[i].user);
			}
			continue;
		}
		if (j->t[i].err == EACCES || !caller_same) {
			code = 403; /* FORBIDDEN */
			continue;
		}
		if (j->t[i].err) {
			code = j->t[i].err == ENOENT ? 404 : 503;
			continue;
		}
		if (!p->ep.allow[MODEL_ALLOW_VOICE]) {
			code = 403;
			continue;
		}
		if (!p->bindings.n) {
			code = 480; /* USER_NOT_REGISTERED */
			continue;
		}
		c->callee_ref = p->ep.id;
		memcpy(c->callee_id, p->ep.endpoint_id, sizeof(c->callee_id));
		snprintf(c->callee_uri, sizeof(c->callee_uri),
			 "sip:%.64s@%.180s", p->ep.username, c->domain);
		for (unsigned k = 0; k < p->bindings.n; k++)
			if (call_start_b(c, am, &p->bindings.b[k],
					 p->ep.username,
					 !p->ep.allow[MODEL_ALLOW_VIDEO]) == 0)
				started++;
	}
	if (c->state != CALL_RINGING)
		goto out; /* its legs failed at once and were answered for */
	if (!started) {
		c->state = CALL_APP;
		call_app_dial_failed(c, code, false);
		goto out;
	}
	call_timer_set(c, &c->ring_end_ms,
		       base_time_mono_ms() +
			   (int64_t)(c->app->dial.timeout
					 ? c->app->dial.timeout
					 : c->e->o.ring_timeout_s) *
			       1000);
	call_record_live(c);
	if (call_b_failed(c)) {
		c->state = CALL_APP;
		call_app_dial_failed(c, call_best_final(c), false);
	}
out:
	free(mem);
	free(am);
	for (unsigned i = 0; i < j->n; i++)
		base_wipe(&j->t[i].party.ep, sizeof(j->t[i].party.ep));
	free(j);
	call_unref(c);
}

/* Fetches the Dial's action with its outcome; false when there is none. */
static bool dial_action(struct call *c, const char *status,
			enum model_cause cause, bool run_it)
{
	struct call_app *a = c->app;
	struct params ps = {0};
	char from[300];

	if (!a->dial.action[0])
		return false;
	base_params(c, &ps, from, sizeof(from),
		    c->state == CALL_ENDED ? "completed" : "ringing",
		    "Redirect");
	add(&ps, "DialStatus", status);
	add(&ps, "DialRingStatus", a->dial_ringing ? "true" : "false");
	add(&ps, "DialHangupCause", model_cause_name(cause));
	add(&ps, "DialALegUUID", c->a.uuid);
	add(&ps, "DialBLegUUID", a->b_uuid);
	if (!run_it) {
		/* The caller is gone: the answer is not run. */
		bool redirect = a->dial.redirect;
		a->dial.redirect = false;
		if (fetch(c, F_ACTION, a->dial.action, a->dial.method, &ps))
			LOG_WARN("app_action_failed", "call_uuid=%s",
				 c->a.uuid);
		a->dial.redirect = redirect;
		return true;
	}
	if (fetch(c, F_ACTION, a->dial.action, a->dial.method, &ps)) {
		LOG_WARN("app_action_failed", "call_uuid=%s", c->a.uuid);
		return false;
	}
	return true;
}

void call_app_dial_failed(struct call *c, unsigned status, bool timeout)
{
	struct call_app *a = c->app;

	if (!a)
		return;
	c->state = CALL_APP;
	c->ring_end_ms = 0;
	c->app_status = status;
	for (struct call_leg *l = c->b; l; l = l->next)
		if (l->dial == c->dials && l->rang)
			a->dial_ringing = true;
	if (!dial_action(c, call_outcome_dial_status(status, timeout),
			 call_outcome_dial_cause(status, timeout), true))
		run(c);
}

/* Runs verbs from the current one until one waits. */
static void run(struct call *c)
{
	struct call_app *a = c->app;

	while (c->state == CALL_APP && a->doc && a->pc < a->doc->n) {
		const struct app_verb *v = &a->doc->verbs[a->pc++];
		struct params ps = {0};
		char from[300];

		switch (v->kind) {
		case APP_VERB_DIAL:
			start_dial(c, &v->u.dial);
			return;
		case APP_VERB_HANGUP:
			call_respond(c->e, c->a.inv,
				     call_outcome_hangup_code(v->u.hangup),
				     NULL, NULL);
			call_end(c, call_outcome_hangup_cause(v->u.hangup),
				 MODEL_SOURCE_XML);
			return;
		case APP_VERB_REDIRECT:
			base_params(c, &ps, from, sizeof(from), "ringing",
				    "Redirect");
			if (fetch(c, F_REDIRECT, v->u.redirect.url,
				  v->u.redirect.method, &ps))
				app_failed(c, "redirect not started");
			return;
		case APP_VERB_WAIT:
			call_timer_set(c, &c->wait_end_ms,
				       base_time_mono_ms() +
					   (int64_t)v->u.wait * 1000);
			return;
		}
	}
	if (c->state != CALL_APP)
		return;
	/* The end of the document: the caller gets what the last Dial got,
	 * or 480. */
	call_respond(c->e, c->a.inv, call_outcome_end_of_xml(c->app_status),
		     NULL, NULL);
	call_end(c, MODEL_CAUSE_END_OF_XML, MODEL_SOURCE_XML);
}

void call_app_wait_over(struct call *c)
{
	c->wait_end_ms = 0;
	run(c);
}

/* ---- the start ---- */

/* Copies the caller's X-PH-/X-VH- headers within the contract's limits. */
static void take_xph(struct call *c)
{
	struct call_app *a = c->app;
	struct sip_msg *m = malloc(sizeof(*m));
	char *mem = NULL;

	if (!m || call_parse_copy(c->a.invite, c->a.invite_len, m, &mem))
		goto out;
	for (unsigned i = 0; i < m->nhdrs && a->nxph < XPH_MAX; i++) {
		struct sip_str n = m->hdrs[i].name, v = m->hdrs[i].value;
		bool ok = n.n > 5 && n.n <= APP_HEADER_NAME_MAX &&
			  (strncasecmp(n.p, "X-PH-", 5) == 0 ||
			   strncasecmp(n.p, "X-VH-", 5) == 0) &&
			  v.n <= APP_HEADER_VALUE_MAX;
		for (size_t k = 0; ok && k < n.n; k++)
			ok = isalnum((unsigned char)n.p[k]) || n.p[k] == '-';
		for (size_t k = 0; ok && k < v.n; k++)
			ok = (unsigned char)v.p[k] >= 0x20;
		if (!ok)
			continue;
		memcpy(a->xph_name[a->nxph], n.p, n.n);
		a->xph_name[a->nxph][n.n] = '\0';
		memcpy(a->xph_value[a->nxph], v.p, v.n);
		a->xph_value[a->nxph][v.n] = '\0';
		a->nxph++;
	}
out:
	free(mem);
	free(m);
}

void call_app_start(struct call *c, const struct call_job *j)
{
	struct call_app *a = calloc(1, sizeof(*a));

	if (!a) {
		call_respond(c->e, c->a.inv, 500, NULL, NULL);
		call_end(c, MODEL_CAUSE_NORMAL_TEMPORARY_FAILURE,
			 MODEL_SOURCE_ERROR);
		return;
	}
	a->app = j->app;
	memcpy(a->token, j->token, sizeof(a->token));
	if (!a->token[0])
		LOG_WARN("webhook_unsigned",
			 "call_uuid=%s msg=\"the account has no signing "
			 "token: rotate it (sipward account rotate-token)\"",
			 c->a.uuid);
	c->app = a;
	c->state = CALL_APP;
	take_xph(c);
	LOG_INFO("app_started", "call_uuid=%s app_id=%s", c->a.uuid,
		 a->app.app_id);
	call_record_live(c);
	start_answer(c, F_ANSWER);
}

void call_app_message(struct call *c, const struct call_job *j,
		      const char *text, size_t len)
{
	struct call_app *a = calloc(1, sizeof(*a));
	struct params ps = {0};
	char from[300], *body = malloc(len + 1);

	if (!a || !body) {
		free(a);
		free(body);
		call_respond(c->e, c->a.inv, 500, NULL, NULL);
		call_end(c, MODEL_CAUSE_NORMAL_TEMPORARY_FAILURE,
			 MODEL_SOURCE_ERROR);
		return;
	}
	memcpy(body, text, len);
	body[len] = '\0';
	a->app = j->app;
	memcpy(a->token, j->token, sizeof(a->token));
	c->app = a;
	c->state = CALL_APP;
	snprintf(from, sizeof(from), "sip:%.64s@%.180s", c->from_user,
		 c->domain);
	add(&ps, "From", from);
	add(&ps, "To", c->to);
	add(&ps, "Text", body);
	add(&ps, "Type", "sip");
	add(&ps, "MessageUUID", c->a.uuid);
	if (fetch(c, F_MESSAGE, a->app.message_url, a->app.message_method,
		  &ps)) {
		call_respond(c->e, c->a.inv, 500, NULL, NULL);
		call_end(c, MODEL_CAUSE_NORMAL_TEMPORARY_FAILURE,
			 MODEL_SOURCE_ERROR);
	}
	free(body);
}

/* ---- the end: Dial action and hangup_url ---- */

static void hook_send(struct hook *h);

static void hook_cb(const struct app_fetch_result *res, void *arg);

static void hook_done(struct call_engine *e, void *arg)
{
	struct hook *h = arg;

	(void)e;
	if (h->next_ms == -1) {
		/* Done: unlink and free. */
		for (struct hook **p = &h->e->hooks; *p; p = &(*p)->next)
			if (*p == h) {
				*p = h->next;
				break;
			}
		base_wipe(h->token, sizeof(h->token));
		free(h);
	}
}

static void hook_cb(const struct app_fetch_result *res, void *arg)
{
	struct hook *h = arg;
	bool ok = !res->err && res->status >= 200 && res->status < 300;

	if (ok || h->tries >= HOOK_TRIES || res->err == ECANCELED) {
		if (!ok)
			LOG_WARN("hangup_url_failed",
				 "tries=%u status=%ld error=%d", h->tries,
				 res->status, res->err);
		h->next_ms = -1;
	} else {
		/* Again after 1, 2, 4 s. */
		h->next_ms = base_time_mono_ms() + (1000LL << (h->tries - 1));
	}
	if (call_post(h->e, hook_done, h))
		LOG_ERROR("hangup_url_lost", "error=ENOMEM");
}

static void hook_send(struct hook *h)
{
	struct app_param p[PARAMS_MAX];
	struct app_fetch_req r = {.url = h->url,
				  .method = h->method[0] ? h->method : "POST",
				  .params = p,
				  .nparams = h->n,
				  .token = h->token[0] ? h->token : NULL,
				  .token_len = strlen(h->token),
				  .allow_private =
				      h->e->o.webhook_allow_private};

	for (unsigned i = 0; i < h->n; i++)
		p[i] = (struct app_param){h->name[i], h->value[i]};
	h->tries++;
	h->next_ms = 0;
	if (app_fetch(h->e->fetcher, &r, hook_cb, h)) {
		h->next_ms = -1;
		hook_done(h->e, h);
	}
}

/* Runs the retries that are due (engine thread). */
void call_app_timers(struct call_engine *e, int64_t now)
{
	for (struct hook *h = e->hooks, *nx; h; h = nx) {
		nx = h->next;
		if (h->next_ms > 0 && now >= h->next_ms)
			hook_send(h);
	}
}

static void time_str(int64_t mono, char *out, size_t cap)
{
	if (!mono) {
		out[0] = '\0';
		return;
	}
	model_time_format(base_time_now_ms() - (base_time_mono_ms() - mono),
			  out, cap);
}

void call_app_ended(struct call *c)
{
	struct call_app *a = c->app;
	struct hook *h;
	struct params ps = {0};
	char from[300], st[MODEL_TIME_MAX], at[MODEL_TIME_MAX],
	    et[MODEL_TIME_MAX];
	int64_t dur = c->a.answer_ms ? (c->end_ms - c->a.answer_ms) / 1000 : 0;

	if (!a || c->is_message)
		return;
	if (a->dial_bridged)
		dial_action(c, "completed", c->cause, false);
	h = calloc(1, sizeof(*h));
	if (!h)
		return;
	h->e = c->e;
	snprintf(h->url, sizeof(h->url), "%s",
		 a->app.hangup_url[0] ? a->app.hangup_url : a->app.answer_url);
	snprintf(h->method, sizeof(h->method), "%s",
		 a->app.hangup_url[0] ? a->app.hangup_method
				      : a->app.answer_method);
	memcpy(h->token, a->token, sizeof(h->token));
	base_params(c, &ps, from, sizeof(from), "completed", "Hangup");
	add(&ps, "HangupCause", model_cause_name(c->cause));
	addn(&ps, "HangupCauseCode", model_cause_code(c->cause));
	add(&ps, "HangupSource", model_source_name(c->source));
	addn(&ps, "Duration", dur);
	addn(&ps, "BillDuration", dur);
	time_str(c->a.start_ms, st, sizeof(st));
	time_str(c->a.answer_ms, at, sizeof(at));
	time_str(c->end_ms, et, sizeof(et));
	add(&ps, "StartTime", st);
	add(&ps, "AnswerTime", at);
	add(&ps, "EndTime", et);
	for (unsigned i = 0; i < ps.n; i++) {
		snprintf(h->name[i], sizeof(h->name[0]), "%s", ps.p[i].name);
		snprintf(h->value[i], sizeof(h->value[0]), "%s", ps.p[i].value);
	}
	h->n = ps.n;
	h->next = c->e->hooks;
	c->e->hooks = h;
	hook_send(h);
}

void call_app_bridged(struct call *c, struct call_leg *l)
{
	struct call_app *a = c->app;

	if (!a)
		return;
	a->dial_bridged = true;
	snprintf(a->b_uuid, sizeof(a->b_uuid), "%s", l->uuid);
	call_timer_set(c, &c->limit_end_ms,
		       base_time_mono_ms() +
			   (int64_t)(a->dial.time_limit
					 ? a->dial.time_limit
					 : APP_DIAL_TIME_LIMIT_DEFAULT) *
			       1000);
}

void call_app_free(struct call_app *a)
{
	if (!a)
		return;
	app_doc_free(a->doc);
	base_wipe(a->token, sizeof(a->token));
	free(a);
}

int call_app_engine_start(struct call_engine *e)
{
	return app_fetcher_start(&e->fetcher);
}

void call_app_engine_stop(struct call_engine *e)
{
	app_fetcher_stop(e->fetcher);
	e->fetcher = NULL;
}

void call_app_hooks_free(struct call_engine *e)
{
	while (e->hooks) {
		struct hook *h = e->hooks;
		e->hooks = h->next;
		base_wipe(h->token, sizeof(h->token));
		free(h);
	}
}
