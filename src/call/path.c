/*
 * path.c - the stateless step that carries messages between another node
 * and a phone connected here over TCP (RFC 3327 Path, RFC 3261 16.11
 * stateless proxying): a request whose top Route is this node with a
 * connection token goes down that connection (or, sent on it, up to the
 * node the token names), a response whose top Via we added goes on to the
 * Via below. Nothing here is a transaction or a call of this node.
 */
#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "base/addr.h"
#include "base/log.h"
#include "call/internal.h"
#include "sip/build.h"

/* A forwarded message: what came, plus our Via and Record-Route. */
#define FWD_MAX (72 * 1024 + 2048)

/* The index of m's first Route header, or -1. */
static int first_route(const struct sip_msg *m)
{
	for (unsigned i = 0; i < m->nhdrs; i++)
		if (sip_str_ieq(m->hdrs[i].name, "Route"))
			return (int)i;
	return -1;
}

/* The index of m's first Via header, or -1. */
static int first_via(const struct sip_msg *m)
{
	for (unsigned i = 0; i < m->nhdrs; i++)
		if (sip_str_ieq(m->hdrs[i].name, "Via") ||
		    sip_str_ieq(m->hdrs[i].name, "v"))
			return (int)i;
	return -1;
}

static void log_refused(const struct sip_peer *from, const char *why)
{
	char ip[64];

	base_addr_ip((const struct sockaddr *)&from->addr, ip, sizeof(ip));
	LOG_INFO("sip_path_refused", "src=%s reason=%s", ip, why);
}

/* Writes m's header fields, changed as forwarding requires. */
static void put_headers(struct sip_buf *b, const struct sip_msg *m, int route,
			struct sip_str route_rest, int skip_via)
{
	for (unsigned i = 0; i < m->nhdrs; i++) {
		const struct sip_hdr *h = &m->hdrs[i];
		if ((int)i == route) {
			if (route_rest.p) {
				sip_buf_puts(b, "Route: ");
				sip_buf_put(b, route_rest);
				sip_buf_puts(b, "\r\n");
			}
			continue;
		}
		if ((int)i == skip_via) {
			/* The rest of a Via line after its first value. */
			const char *p = m->via[0].raw.p + m->via[0].raw.n;
			const char *end = h->value.p + h->value.n;
			if (p < h->value.p || p > end)
				continue;
			while (p < end &&
			       (*p == ' ' || *p == '\t' || *p == ','))
				p++;
			if (p < end) {
				sip_buf_puts(b, "Via: ");
				sip_buf_put(
				    b, (struct sip_str){p, (size_t)(end - p)});
				sip_buf_puts(b, "\r\n");
			}
			continue;
		}
		if (m->is_request && sip_str_ieq(h->name, "Max-Forwards")) {
			sip_buf_printf(b, "Max-Forwards: %d\r\n",
				       m->max_forwards - 1);
			continue;
		}
		sip_buf_put(b, h->name);
		sip_buf_puts(b, ": ");
		sip_buf_put(b, h->value);
		sip_buf_puts(b, "\r\n");
	}
	if (m->is_request && m->max_forwards < 0)
		sip_buf_printf(b, "Max-Forwards: %d\r\n", SIP_MAX_FORWARDS - 1);
	if (!m->has_content_length)
		sip_buf_printf(b, "Content-Length: %zu\r\n", m->body.n);
	sip_buf_puts(b, "\r\n");
	sip_buf_put(b, m->body);
}

static unsigned port_of(const struct sip_peer *p)
{
	const struct sockaddr *sa = (const struct sockaddr *)&p->addr;

	return ntohs(sa->sa_family == AF_INET6
			 ? ((const struct sockaddr_in6 *)sa)->sin6_port
			 : ((const struct sockaddr_in *)sa)->sin_port);
}

static void send_built(struct call_engine *e, const struct sip_peer *to,
		       struct sip_buf *b)
{
	if (b->err) {
		LOG_WARN("sip_path_too_large", "len=%zu", b->len);
		return;
	}
	sip_transport_send(e->t, to, b->p, b->len);
}

/* A request whose top Route is ours, with token tok in it. */
static void request(struct call_engine *e, const struct sip_peer *from,
		    const struct sip_msg *m, int route, struct sip_str rest,
		    struct sip_str tok)
{
	const struct sip_path_key *k = e->path;
	bool ack = sip_str_eq(m->method, "ACK");
	struct sockaddr_storage up;
	socklen_t uplen = 0;
	uint64_t conn = 0;
	struct sip_peer to = {0};
	char branch[SIP_PATH_BRANCH_MAX], mine[SIP_PATH_TOKEN_MAX + 1];
	char rr[SIP_PATH_URI_MAX], src_ip[64];
	struct sip_via below;
	unsigned src_port;
	struct sip_buf b;
	char *buf = NULL;
	bool upstream;
	int err = sip_path_token_check(k, tok, &conn, &up, &uplen);

	if (err) {
		log_refused(from, err == ESTALE ? "stale_token" : "bad_token");
		if (!ack)
			call_reply_stateless(e, from, m,
					     err == ESTALE ? 404 : 403, NULL);
		return;
	}
	if (!sip_transport_conn_open(e->t, conn)) {
		if (!ack)
			call_reply_stateless(e, from, m, 480, NULL);
		return;
	}
	if (m->max_forwards == 0) {
		if (!ack)
			call_reply_stateless(e, from, m, 483, NULL);
		return;
	}
	upstream = from->proto != SIP_UDP && from->conn == conn;
	if (upstream && !uplen) {
		/* Only a Record-Route's token names where to go up to: a
		 * phone cannot use this node as a relay to anywhere else. */
		log_refused(from, "no_upstream");
		if (!ack)
			call_reply_stateless(e, from, m, 403, NULL);
		return;
	}
	rr[0] = mine[0] = '\0';
	/* The Via below ours as we send it on: with received and rport. */
	base_addr_ip((const struct sockaddr *)&from->addr, src_ip,
		     sizeof(src_ip));
	src_port = port_of(from);
	if (m->nvia) {
		below = m->via[0];
		below.received = (struct sip_str){src_ip, strlen(src_ip)};
		below.rport_value = below.rport ? src_port : 0;
	}
	err =
	    sip_path_branch(k, m->nvia ? &below : NULL, branch, sizeof(branch));
	if (!err && upstream)
		/* The response comes back through our Via: on conn. */
		err = sip_path_token_make(k, conn, NULL, mine, sizeof(mine));
	if (!err && !upstream && sip_str_eq(m->method, "INVITE") &&
	    !m->to.tag.p)
		/* Every later request of the dialog passes here, both ways. */
		err =
		    sip_path_uri(k, conn, (const struct sockaddr *)&from->addr,
				 rr, sizeof(rr));
	buf = malloc(FWD_MAX);
	if (err || !buf)
		goto out;
	if (upstream) {
		to.proto = SIP_UDP;
		to.addr = up;
		to.addrlen = uplen;
	} else {
		to.proto = SIP_TCP;
		to.conn = conn;
	}
	sip_buf_init(&b, buf, FWD_MAX);
	sip_buf_put(&b, m->method);
	sip_buf_puts(&b, " ");
	sip_buf_put(&b, m->ruri_raw);
	sip_buf_printf(&b, " SIP/2.0\r\nVia: SIP/2.0/%s %s;branch=%s%s%s\r\n",
		       upstream ? "UDP" : "TCP", k->self, branch,
		       mine[0] ? ";sw=" : "", mine);
	if (rr[0])
		sip_buf_printf(&b, "Record-Route: %s\r\n", rr);
	if (m->nvia)
		sip_build_via_received(&b, &m->via[0], src_ip, src_port);
	put_headers(&b, m, route, rest, m->nvia ? first_via(m) : -1);
	send_built(e, &to, &b);
out:
	free(buf);
}

/* Where a response goes after our Via: the Via below (RFC 3581). */
static int next_hop(const struct sip_via *v, struct sip_peer *to)
{
	struct sip_str h = v->received.p ? v->received : v->host;
	unsigned port = v->rport_value ? v->rport_value
			: v->port      ? v->port
				       : 5060;
	bool v6 = h.p && memchr(h.p, ':', h.n);
	char text[96];
	int n;

	if (!h.p)
		return EINVAL;
	n = snprintf(text, sizeof(text), "%s%.*s%s:%u", v6 ? "[" : "", (int)h.n,
		     h.p, v6 ? "]" : "", port);
	if (n < 0 || (size_t)n >= sizeof(text))
		return EINVAL;
	memset(to, 0, sizeof(*to));
	to->proto = SIP_UDP;
	return base_addr_parse(text, &to->addr, &to->addrlen);
}

/* A response whose top Via is ours (sent-by this node, our prefix). */
static void response(struct call_engine *e, const struct sip_msg *m)
{
	const struct sip_path_key *k = e->path;
	const struct sip_via *v = &m->via[0];
	const char *semi = memchr(v->raw.p, ';', v->raw.n);
	struct sip_str params = {0}, tok;
	struct sockaddr_storage up;
	socklen_t uplen;
	struct sip_peer to = {0};
	uint64_t conn = 0;
	struct sip_buf b;
	char *buf;
	int via_hdr = -1;

	if (m->nvia < 2 || !sip_path_branch_ok(k, v->branch, &m->via[1])) {
		LOG_DEBUG("sip_path_response_dropped", "nvia=%u", m->nvia);
		return;
	}
	if (semi)
		params = (struct sip_str){
		    semi + 1, (size_t)(v->raw.p + v->raw.n - semi - 1)};
	tok = sip_param_get(params, "sw");
	if (tok.p) {
		/* To the phone that sent the request, on its connection. */
		if (sip_path_token_check(k, tok, &conn, &up, &uplen))
			return;
		to.proto = SIP_TCP;
		to.conn = conn;
	} else if (next_hop(&m->via[1], &to)) {
		return;
	}
	via_hdr = first_via(m);
	buf = malloc(FWD_MAX);
	if (!buf)
		return;
	sip_buf_init(&b, buf, FWD_MAX);
	sip_buf_printf(&b, "SIP/2.0 %u ", m->status);
	sip_buf_put(&b, m->reason);
	sip_buf_puts(&b, "\r\n");
	put_headers(&b, m, -1, (struct sip_str){0}, via_hdr);
	send_built(e, &to, &b);
	free(buf);
}

/* Whether via v names this node with our branch prefix. */
static bool our_via(const struct sip_path_key *k, const struct sip_via *v)
{
	struct sip_uri u = {.host = v->host, .port = v->port};
	size_t n = strlen(SIP_PATH_BRANCH_PREFIX);

	return v->branch.n > n &&
	       memcmp(v->branch.p, SIP_PATH_BRANCH_PREFIX, n) == 0 &&
	       sip_path_is_self(k, &u);
}

bool call_path_forward(struct call_engine *e, const struct sip_peer *from,
		       const struct sip_msg *m)
{
	struct sip_str uri, rest, tok;
	struct sip_uri u;
	int route;

	if (!m->is_request) {
		if (!m->nvia || !our_via(e->path, &m->via[0]))
			return false;
		response(e, m);
		return true;
	}
	route = first_route(m);
	if (route < 0 || sip_route_split(m->hdrs[route].value, &uri, &rest) ||
	    sip_uri_parse(uri, &u) || !sip_path_is_self(e->path, &u))
		return false;
	tok = sip_param_get(u.params, "sw");
	if (!tok.p)
		return false;
	request(e, from, m, route, rest, tok);
	return true;
}
