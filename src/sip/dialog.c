/* dialog.c - SIP dialog state and in-dialog requests (see dialog.h). */
#include "sip/dialog.h"

#include <errno.h>
#include <stdio.h>
#include <string.h>
#include <strings.h>

/* Copies s into out (cap bytes) with a NUL; ERANGE when it does not fit. */
static int copy(char *out, size_t cap, struct sip_str s)
{
	if (s.n >= cap || !sip_build_value_ok(s.p ? s.p : "", s.n))
		return ERANGE;
	if (s.n)
		memcpy(out, s.p, s.n);
	out[s.n] = '\0';
	return 0;
}

/* A From/To value without its tag parameter. */
static int copy_untagged(char *out, size_t cap, const struct sip_nameaddr *na)
{
	struct sip_str raw = na->raw;
	const char *semi, *end;
	size_t a, b;

	if (!na->tag.p)
		return copy(out, cap, raw);
	end = na->tag.p + na->tag.n;
	for (semi = na->tag.p; semi > raw.p && *semi != ';'; semi--)
		;
	while (semi > raw.p && (semi[-1] == ' ' || semi[-1] == '\t'))
		semi--;
	a = (size_t)(semi - raw.p);
	b = (size_t)(raw.p + raw.n - end);
	if (a + b >= cap)
		return ERANGE;
	memcpy(out, raw.p, a);
	memcpy(out + a, end, b);
	out[a + b] = '\0';
	return 0;
}

/* The route set from m's Record-Route, in order or reversed. */
static int routes(struct sip_dialog *d, const struct sip_msg *m, bool reverse)
{
	struct sip_dialog tmp;
	int err;

	if (m->nrroute > SIP_DIALOG_ROUTE_MAX)
		return ERANGE;
	for (unsigned i = 0; i < m->nrroute; i++) {
		unsigned j = reverse ? m->nrroute - 1 - i : i;

		err = copy(tmp.route[i], sizeof(tmp.route[i]), m->rroute[j]);
		if (err)
			return err;
	}
	memcpy(d->route, tmp.route, sizeof(tmp.route[0]) * m->nrroute);
	d->nroute = m->nrroute;
	return 0;
}

int sip_dialog_uas(struct sip_dialog *d, const struct sip_msg *req,
		   const char *local_tag)
{
	struct sip_dialog n;
	int err;

	if (!req->ncontact || !req->from.tag.p || req->to.tag.p || !local_tag ||
	    !*local_tag)
		return EINVAL;
	memset(&n, 0, sizeof(n));
	n.state = SIP_DIALOG_EARLY;
	err = copy(n.call_id, sizeof(n.call_id), req->call_id);
	if (!err)
		err = copy(n.local_tag, sizeof(n.local_tag),
			   (struct sip_str){local_tag, strlen(local_tag)});
	if (!err)
		err = copy(n.remote_tag, sizeof(n.remote_tag), req->from.tag);
	if (!err)
		err = copy_untagged(n.local_uri, sizeof(n.local_uri), &req->to);
	if (!err)
		err = copy_untagged(n.remote_uri, sizeof(n.remote_uri),
				    &req->from);
	if (!err)
		err = copy(n.remote_target, sizeof(n.remote_target),
			   req->contact[0].uri_raw);
	if (!err)
		err = routes(&n, req, false);
	if (err)
		return err;
	n.remote_cseq = req->cseq;
	n.has_remote_cseq = true;
	*d = n;
	return 0;
}

int sip_dialog_uac(struct sip_dialog *d, const struct sip_msg *req,
		   const struct sip_msg *resp)
{
	struct sip_dialog n;
	int err;

	if (resp->is_request || !resp->to.tag.p || !resp->ncontact ||
	    resp->status < 101 || resp->status >= 300 || !req->from.tag.p)
		return EINVAL;
	memset(&n, 0, sizeof(n));
	n.uac = true;
	n.state = resp->status < 200 ? SIP_DIALOG_EARLY : SIP_DIALOG_CONFIRMED;
	err = copy(n.call_id, sizeof(n.call_id), req->call_id);
	if (!err)
		err = copy(n.local_tag, sizeof(n.local_tag), req->from.tag);
	if (!err)
		err = copy(n.remote_tag, sizeof(n.remote_tag), resp->to.tag);
	if (!err)
		err =
		    copy_untagged(n.local_uri, sizeof(n.local_uri), &req->from);
	if (!err)
		err =
		    copy_untagged(n.remote_uri, sizeof(n.remote_uri), &req->to);
	if (!err)
		err = copy(n.remote_target, sizeof(n.remote_target),
			   resp->contact[0].uri_raw);
	if (!err)
		err = routes(&n, resp, true);
	if (err)
		return err;
	n.local_cseq = n.invite_cseq = req->cseq;
	*d = n;
	return 0;
}

int sip_dialog_confirm(struct sip_dialog *d, const struct sip_msg *resp)
{
	char target[SIP_DIALOG_STR_MAX];
	int err;

	if (!d->uac || !resp) {
		d->state = SIP_DIALOG_CONFIRMED;
		return 0;
	}
	if (resp->is_request || resp->status < 200 || resp->status >= 300 ||
	    !resp->ncontact)
		return EINVAL;
	err = copy(target, sizeof(target), resp->contact[0].uri_raw);
	if (!err)
		err = routes(d, resp, true);
	if (err)
		return err;
	memcpy(d->remote_target, target, sizeof(target));
	d->state = SIP_DIALOG_CONFIRMED;
	return 0;
}

int sip_dialog_refresh(struct sip_dialog *d, const struct sip_msg *m)
{
	if (!m->ncontact)
		return 0;
	return copy(d->remote_target, sizeof(d->remote_target),
		    m->contact[0].uri_raw);
}

/* The URI inside a route's name-addr. */
static struct sip_str route_uri(const char *route)
{
	const char *lt = strchr(route, '<'), *gt;

	if (!lt || !(gt = strchr(lt, '>')))
		return (struct sip_str){route, strlen(route)};
	return (struct sip_str){lt + 1, (size_t)(gt - lt - 1)};
}

/* Whether a route's URI has the lr parameter (loose routing). */
static bool loose(const char *route)
{
	struct sip_uri u;
	const char *p, *e;

	if (sip_uri_parse(route_uri(route), &u) || !u.params.p)
		return false;
	p = u.params.p;
	e = p + u.params.n;
	while (p < e) {
		const char *q = memchr(p + 1, ';', (size_t)(e - p - 1));
		size_t n = (size_t)((q ? q : e) - p);

		if ((n == 3 || (n > 3 && p[3] == '=')) &&
		    strncasecmp(p, ";lr", 3) == 0)
			return true;
		p = q ? q : e;
	}
	return false;
}

int sip_dialog_next_hop(const struct sip_dialog *d, char *out, size_t cap)
{
	if (d->nroute)
		return copy(out, cap, route_uri(d->route[0]));
	return copy(
	    out, cap,
	    (struct sip_str){d->remote_target, strlen(d->remote_target)});
}

int sip_dialog_request(struct sip_dialog *d, struct sip_buf *b,
		       const struct sip_dialog_req *r)
{
	const char *route[SIP_DIALOG_ROUTE_MAX + 1];
	char ruri[SIP_DIALOG_STR_MAX], last[SIP_DIALOG_STR_MAX + 2];
	bool ack = r->method && strcmp(r->method, "ACK") == 0;
	struct sip_req q = {.method = r->method,
			    .transport = r->transport,
			    .via_host = r->via_host,
			    .via_port = r->via_port,
			    .branch_out = r->branch_out,
			    .from = d->local_uri,
			    .from_tag = d->local_tag,
			    .to = d->remote_uri,
			    .to_tag = d->remote_tag,
			    .call_id = d->call_id,
			    .contact = r->contact,
			    .max_forwards = -1,
			    .route = route,
			    .headers = r->headers,
			    .content_type = r->content_type,
			    .body = r->body};
	int err;

	if (!r->method || (!ack && d->local_cseq >= INT32_MAX) ||
	    (ack && !d->invite_cseq))
		return b->err = ack ? EINVAL : ERANGE;
	q.cseq = ack ? d->invite_cseq : d->local_cseq + 1;
	q.ruri = d->remote_target;
	for (unsigned i = 0; i < d->nroute; i++)
		route[i] = d->route[i];
	q.nroute = d->nroute;
	if (d->nroute && !loose(d->route[0])) {
		/* Strict routing (RFC 3261 12.2.1.1): the first route is the
		 * Request-URI, the remote target goes last. */
		if (copy(ruri, sizeof(ruri), route_uri(d->route[0])))
			return b->err = ERANGE;
		snprintf(last, sizeof(last), "<%s>", d->remote_target);
		q.ruri = ruri;
		for (unsigned i = 1; i < d->nroute; i++)
			route[i - 1] = d->route[i];
		route[d->nroute - 1] = last;
	}
	err = sip_build_request(b, &q);
	if (err || ack)
		return err;
	d->local_cseq = q.cseq;
	if (strcmp(r->method, "INVITE") == 0)
		d->invite_cseq = q.cseq;
	return 0;
}

/* Whether s equals the NUL-terminated text exactly. */
static bool same(struct sip_str s, const char *text)
{
	return s.p && sip_str_eq(s, text);
}

unsigned sip_dialog_check(struct sip_dialog *d, const struct sip_msg *m)
{
	if (!m->is_request || !same(m->call_id, d->call_id) ||
	    !same(m->to.tag, d->local_tag) || !same(m->from.tag, d->remote_tag))
		return 481;
	if (sip_str_eq(m->method, "ACK") || sip_str_eq(m->method, "CANCEL"))
		return 0;
	if (d->has_remote_cseq && m->cseq < d->remote_cseq)
		return 500;
	d->remote_cseq = m->cseq;
	d->has_remote_cseq = true;
	return 0;
}

bool sip_dialog_matches_response(const struct sip_dialog *d,
				 const struct sip_msg *m)
{
	return !m->is_request && same(m->call_id, d->call_id) &&
	       same(m->from.tag, d->local_tag) &&
	       same(m->to.tag, d->remote_tag);
}

static size_t id3(char *out, size_t cap, struct sip_str a, struct sip_str b,
		  struct sip_str c)
{
	int n = snprintf(out, cap, "%.*s|%.*s|%.*s", (int)a.n, a.p ? a.p : "",
			 (int)b.n, b.p ? b.p : "", (int)c.n, c.p ? c.p : "");

	return n < 0 || (size_t)n >= cap ? 0 : (size_t)n;
}

size_t sip_dialog_id(const struct sip_dialog *d, char *out, size_t cap)
{
	return id3(out, cap, (struct sip_str){d->call_id, strlen(d->call_id)},
		   (struct sip_str){d->local_tag, strlen(d->local_tag)},
		   (struct sip_str){d->remote_tag, strlen(d->remote_tag)});
}

size_t sip_dialog_key(const struct sip_msg *m, char *out, size_t cap)
{
	if (!m->to.tag.p || m->call_id.n > INT32_MAX)
		return 0;
	return id3(out, cap, m->call_id, m->to.tag, m->from.tag);
}
