/* path.c - connection tokens in Path and Record-Route URIs (see path.h). */
#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <stdio.h>
#include <string.h>
#include <strings.h>

#include "base/addr.h"
#include "base/crypto.h"
#include "base/id.h"
#include "sip/path.h"

#define CONN_HEX 16
#define EPOCH_HEX 8
#define MAC_HEX 32
#define V4_HEX 12 /* 4 address bytes, 2 port bytes */
#define V6_HEX 36 /* 16 address bytes, 2 port bytes */

int sip_path_key_init(struct sip_path_key *k, const void *secret, size_t len,
		      const char *self)
{
	memset(k, 0, sizeof(*k));
	if (len == 0 || len > sizeof(k->secret) || !self ||
	    strlen(self) >= sizeof(k->self))
		return EINVAL;
	if (base_rand_fill(&k->epoch, sizeof(k->epoch)))
		return EIO;
	memcpy(k->secret, secret, len);
	k->secret_len = len;
	snprintf(k->self, sizeof(k->self), "%s", self);
	return 0;
}

/* MAC_HEX hex digits of HMAC-SHA-256(secret, tag "|" text "|" self). */
static int mac(const struct sip_path_key *k, const char *tag, const char *text,
	       size_t n, char out[MAC_HEX + 1])
{
	unsigned char md[BASE_HMAC_LEN];
	char in[512];
	int len;

	len =
	    snprintf(in, sizeof(in), "%s|%.*s|%s", tag, (int)n, text, k->self);
	if (len < 0 || (size_t)len >= sizeof(in))
		return ERANGE;
	if (base_hmac_sha256(k->secret, k->secret_len, in, (size_t)len, md))
		return EIO;
	return base_hex_encode(md, MAC_HEX / 2, out, MAC_HEX + 1) ? ERANGE : 0;
}

int sip_path_token_make(const struct sip_path_key *k, uint64_t conn,
			const struct sockaddr *up, char *out, size_t cap)
{
	unsigned char a[18];
	char body[CONN_HEX + EPOCH_HEX + V6_HEX + 1], m[MAC_HEX + 1];
	size_t alen = 0;
	int n, err;

	if (!k->self[0] || conn == 0)
		return EINVAL;
	if (up && up->sa_family == AF_INET) {
		const struct sockaddr_in *s = (const struct sockaddr_in *)up;
		memcpy(a, &s->sin_addr, 4);
		memcpy(a + 4, &s->sin_port, 2);
		alen = 6;
	} else if (up && up->sa_family == AF_INET6) {
		const struct sockaddr_in6 *s = (const struct sockaddr_in6 *)up;
		memcpy(a, &s->sin6_addr, 16);
		memcpy(a + 16, &s->sin6_port, 2);
		alen = 18;
	} else if (up) {
		return EINVAL;
	}
	n = snprintf(body, sizeof(body), "%016llx%08x",
		     (unsigned long long)conn, (unsigned)k->epoch);
	if (alen &&
	    base_hex_encode(a, alen, body + n, sizeof(body) - (size_t)n))
		return ERANGE;
	err = mac(k, "sw1", body, strlen(body), m);
	if (err)
		return err;
	n = snprintf(out, cap, "%s%s", body, m);
	return n < 0 || (size_t)n >= cap ? ERANGE : 0;
}

static uint64_t hex_u64(const char *p, size_t n)
{
	uint64_t v = 0;

	for (size_t i = 0; i < n; i++)
		v = v << 4 |
		    (uint64_t)(p[i] <= '9' ? p[i] - '0' : p[i] - 'a' + 10);
	return v;
}

int sip_path_token_check(const struct sip_path_key *k, struct sip_str tok,
			 uint64_t *conn, struct sockaddr_storage *up,
			 socklen_t *uplen)
{
	size_t body = tok.n - MAC_HEX, alen;
	unsigned char a[18];
	char m[MAC_HEX + 1];
	size_t got = 0;
	uint64_t c;

	if (!k->self[0] || !tok.p ||
	    (tok.n != CONN_HEX + EPOCH_HEX + MAC_HEX &&
	     tok.n != CONN_HEX + EPOCH_HEX + V4_HEX + MAC_HEX &&
	     tok.n != CONN_HEX + EPOCH_HEX + V6_HEX + MAC_HEX) ||
	    !base_hex_lower(tok.p, tok.n))
		return EACCES;
	if (mac(k, "sw1", tok.p, body, m) ||
	    !base_secure_eq(m, tok.p + body, MAC_HEX))
		return EACCES;
	if ((uint32_t)hex_u64(tok.p + CONN_HEX, EPOCH_HEX) != k->epoch)
		return ESTALE;
	c = hex_u64(tok.p, CONN_HEX);
	if (c == 0)
		return EACCES;
	alen = body - CONN_HEX - EPOCH_HEX;
	if (alen && base_hex_decode(tok.p + CONN_HEX + EPOCH_HEX, alen, a,
				    sizeof(a), &got))
		return EACCES;
	*conn = c;
	memset(up, 0, sizeof(*up));
	*uplen = 0;
	if (got == 6) {
		struct sockaddr_in *s = (struct sockaddr_in *)up;
		s->sin_family = AF_INET;
		memcpy(&s->sin_addr, a, 4);
		memcpy(&s->sin_port, a + 4, 2);
		*uplen = sizeof(*s);
	} else if (got == 18) {
		struct sockaddr_in6 *s = (struct sockaddr_in6 *)up;
		s->sin6_family = AF_INET6;
		memcpy(&s->sin6_addr, a, 16);
		memcpy(&s->sin6_port, a + 16, 2);
		*uplen = sizeof(*s);
	}
	return 0;
}

int sip_path_uri(const struct sip_path_key *k, uint64_t conn,
		 const struct sockaddr *up, char *out, size_t cap)
{
	char tok[SIP_PATH_TOKEN_MAX + 1];
	int err = sip_path_token_make(k, conn, up, tok, sizeof(tok));
	int n;

	if (err)
		return err;
	n = snprintf(out, cap, "<sip:%s;lr;sw=%s>", k->self, tok);
	return n < 0 || (size_t)n >= cap ? ERANGE : 0;
}

int sip_route_split(struct sip_str list, struct sip_str *uri,
		    struct sip_str *rest)
{
	const char *p = list.p, *end = list.p ? list.p + list.n : NULL;
	const char *lt = NULL, *gt = NULL;
	bool quoted = false;

	if (!p)
		return EBADMSG;
	for (; p < end; p++) {
		if (quoted) {
			if (*p == '\\' && p + 1 < end)
				p++;
			else if (*p == '"')
				quoted = false;
		} else if (lt && !gt) {
			if (*p == '>')
				gt = p;
		} else if (*p == '"') {
			quoted = true;
		} else if (*p == '<' && !lt) {
			lt = p;
		} else if (*p == ',') {
			break;
		}
	}
	if (quoted || !lt || !gt)
		return EBADMSG;
	*uri = (struct sip_str){lt + 1, (size_t)(gt - lt - 1)};
	if (p < end)
		p++;
	while (p < end && (*p == ' ' || *p == '\t'))
		p++;
	*rest = p < end ? (struct sip_str){p, (size_t)(end - p)}
			: (struct sip_str){0};
	return 0;
}

struct sip_str sip_param_get(struct sip_str params, const char *name)
{
	size_t nl = strlen(name), i = 0;

	while (params.p && i < params.n) {
		size_t s = i, e = i, eq = 0, ne, v, ve;

		while (e < params.n && params.p[e] != ';')
			e++;
		while (s < e && (params.p[s] == ' ' || params.p[s] == '\t'))
			s++;
		for (size_t k = s; k < e && !eq; k++)
			if (params.p[k] == '=')
				eq = k;
		ne = eq ? eq : e;
		while (ne > s &&
		       (params.p[ne - 1] == ' ' || params.p[ne - 1] == '\t'))
			ne--;
		if (ne - s == nl && strncasecmp(params.p + s, name, nl) == 0) {
			v = eq ? eq + 1 : e;
			ve = e;
			while (v < ve &&
			       (params.p[v] == ' ' || params.p[v] == '\t'))
				v++;
			while (ve > v && (params.p[ve - 1] == ' ' ||
					  params.p[ve - 1] == '\t'))
				ve--;
			return (struct sip_str){params.p + v, ve - v};
		}
		i = e + 1;
	}
	return (struct sip_str){0};
}

/* "HOST:PORT" of u as a listen address would be written. */
static int hostport(const struct sip_uri *u, char *out, size_t cap)
{
	bool v6 = memchr(u->host.p, ':', u->host.n) != NULL;
	int n = snprintf(out, cap, "%s%.*s%s:%u", v6 ? "[" : "", (int)u->host.n,
			 u->host.p, v6 ? "]" : "", u->port ? u->port : 5060);

	return n < 0 || (size_t)n >= cap ? ERANGE : 0;
}

bool sip_path_is_self(const struct sip_path_key *k, const struct sip_uri *u)
{
	char hp[SIP_PATH_SELF_MAX + 8];

	return k->self[0] && u->host.p && !hostport(u, hp, sizeof(hp)) &&
	       strcasecmp(hp, k->self) == 0;
}

int sip_path_hop(const struct sip_path_key *k, const char *path,
		 struct sockaddr_storage *ss, socklen_t *len, bool *self)
{
	struct sip_str uri, rest;
	struct sip_uri u;
	char hp[SIP_PATH_SELF_MAX + 8];

	if (sip_route_split((struct sip_str){path, strlen(path)}, &uri,
			    &rest) ||
	    sip_uri_parse(uri, &u) || hostport(&u, hp, sizeof(hp)) ||
	    base_addr_parse(hp, ss, len))
		return EINVAL;
	*self = k->self[0] && strcasecmp(hp, k->self) == 0;
	return 0;
}

/* What a forwarded request's Via MAC covers of the Via below ours. */
static int via_text(const struct sip_via *v, char *out, size_t cap)
{
	static const struct sip_via none;
	int n;

	if (!v)
		v = &none;
	n = snprintf(out, cap, "%.*s|%.*s|%u|%.*s|%u", (int)v->branch.n,
		     v->branch.p ? v->branch.p : "", (int)v->host.n,
		     v->host.p ? v->host.p : "", v->port, (int)v->received.n,
		     v->received.p ? v->received.p : "", v->rport_value);
	return n < 0 || (size_t)n >= cap ? ERANGE : 0;
}

int sip_path_branch(const struct sip_path_key *k, const struct sip_via *v,
		    char *out, size_t cap)
{
	char text[400], m[MAC_HEX + 1];
	int err = via_text(v, text, sizeof(text));
	int n;

	if (!err)
		err = mac(k, "br1", text, strlen(text), m);
	if (err)
		return err;
	n = snprintf(out, cap, "%s%.22s", SIP_PATH_BRANCH_PREFIX, m);
	return n < 0 || (size_t)n >= cap ? ERANGE : 0;
}

bool sip_path_branch_ok(const struct sip_path_key *k, struct sip_str branch,
			const struct sip_via *v)
{
	char want[SIP_PATH_BRANCH_MAX];

	return branch.p && !sip_path_branch(k, v, want, sizeof(want)) &&
	       branch.n == strlen(want) &&
	       base_secure_eq(branch.p, want, branch.n);
}
