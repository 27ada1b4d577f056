/*
 * fuzz_sip_auth.c - libFuzzer harness for the Authorization header: the
 * input becomes the value of an Authorization header in a REGISTER, which is
 * parsed; every digest found is then run through the digest math
 * (algorithm, nonce, nonce-count, expected response). The same value as a
 * Proxy-Authorization header goes through sip/auth.c as the call engine
 * uses it, and as an Authorization header as the registrar does: prepare,
 * then a challenge or a verification. "@N@N@" in the input stands for a
 * genuine nonce issued to the harness's address, so that verification is
 * reached.
 */
#include <errno.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "base/crypto.h"
#include "base/log.h"
#include "base/time.h"
#include "sip/auth.h"
#include "sip/build.h"
#include "sip/digest.h"
#include "sip/msg.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static const char head[] = "REGISTER sip:example.com SIP/2.0\r\n"
			   "Via: SIP/2.0/UDP 192.0.2.1:5060;branch=z9hG4bKf\r\n"
			   "From: <sip:alice@example.com>;tag=1\r\n"
			   "To: <sip:alice@example.com>\r\n"
			   "Call-ID: fuzz@192.0.2.1\r\n"
			   "CSeq: 2 REGISTER\r\n"
			   "Authorization: ";
static const char phead[] =
    "REGISTER sip:example.com SIP/2.0\r\n"
    "Via: SIP/2.0/UDP 192.0.2.1:5060;branch=z9hG4bKf\r\n"
    "From: <sip:alice@example.com>;tag=1\r\n"
    "To: <sip:alice@example.com>\r\n"
    "Call-ID: fuzz@192.0.2.1\r\n"
    "CSeq: 2 REGISTER\r\n"
    "Proxy-Authorization: ";
static const char tail[] = "\r\nContent-Length: 0\r\n\r\n";
static const char secret[] = "fuzzing-secret-0123456789";

static struct sip_nc_cache *cache;
static struct sip_auth *auth;
static char nonce[SIP_NONCE_LEN + 1]; /* genuine, for 127.0.0.1 */
static char ha1_md5[SIP_DIGEST_HEX_MAX], ha1_sha256[SIP_DIGEST_HEX_MAX];

/* The authenticator, and a nonce it issued, made once. */
static void auth_init(void)
{
	struct sip_auth_opts o = {
	    .secret = secret,
	    .secret_len = sizeof(secret),
	    .nonce_ttl_s = 300,
	    .algs = {BASE_DIGEST_MD5, BASE_DIGEST_SHA256},
	    .nalgs = 2,
	    .fail_max = 5,
	    .fail_addr_max = 50,
	    .fail_window_s = 60,
	    .fail_penalty_s = 60,
	    .challenge_rate = 1000000000,
	    .listen_hosts = {"192.0.2.10"},
	    .nlisten = 1,
	};

	base_log_level_set(BASE_LOG_ERROR);
	if (sip_auth_new(&auth, &o) ||
	    sip_nonce_make(secret, sizeof(secret),
			   &(struct sip_nonce_bind){"127.0.0.1", "example.com"},
			   base_time_now_ms(), nonce, sizeof(nonce)) ||
	    base_ha1(BASE_DIGEST_MD5, "alice", "example.com", "password",
		     ha1_md5, sizeof(ha1_md5)) ||
	    base_ha1(BASE_DIGEST_SHA256, "alice", "example.com", "password",
		     ha1_sha256, sizeof(ha1_sha256)))
		abort();
	sip_auth_set_port(auth, 5060);
}

/* Builds head + data (with "@N@N@" replaced by the nonce) + tail into a
 * new buffer; *n its length. */
static char *compose(const char *h, size_t hlen, const uint8_t *data,
		     size_t size, size_t *n)
{
	size_t cap = hlen + size * (SIP_NONCE_LEN / 5 + 1) + sizeof(tail);
	char *buf = malloc(cap), *w;

	if (!buf)
		return NULL;
	memcpy(buf, h, hlen);
	w = buf + hlen;
	for (size_t i = 0; i < size;) {
		if (size - i >= 5 && memcmp(data + i, "@N@N@", 5) == 0) {
			memcpy(w, nonce, SIP_NONCE_LEN);
			w += SIP_NONCE_LEN;
			i += 5;
		} else {
			*w++ = (char)data[i++];
		}
	}
	memcpy(w, tail, sizeof(tail) - 1);
	w += sizeof(tail) - 1;
	*n = (size_t)(w - buf);
	return buf;
}

/* One request through sip/auth.c, as the registrar (proxy false) or the
 * call engine (true) would: prepare, then a challenge or a verification. */
static void run_auth(const struct sip_msg *m, bool proxy)
{
	struct sip_auth_req q;
	char out[2048];
	struct sip_buf b;
	enum sip_auth_verdict v;

	memset(&q, 0, sizeof(q));
	q.m = m;
	q.proxy = proxy;
	q.src_ip = "127.0.0.1";
	q.src = "127.0.0.1:5060";
	strcpy(q.realm, "example.com");
	strcpy(q.user, "alice");
	if (sip_auth_ignored(auth, q.src_ip, NULL) ||
	    sip_auth_ignored(auth, q.src_ip, q.user))
		return;
	switch (sip_auth_prepare(auth, &q)) {
	case SIP_AUTH_CHALLENGE:
		sip_buf_init(&b, out, sizeof(out));
		if (sip_auth_challenge(auth, &q, false, &b) == 0 && b.err)
			abort();
		break;
	case SIP_AUTH_FORBIDDEN:
		if (!q.d || sip_str_eq(q.d->username, "alice"))
			abort();
		break;
	case SIP_AUTH_CHECK:
		/* credentials from the right header, for the realm */
		if (!q.d ||
		    (proxy ? !(q.d >= m->pauth && q.d < m->pauth + m->npauth)
			   : !(q.d >= m->auth && q.d < m->auth + m->nauth)) ||
		    !sip_str_ieq(q.d->realm, "example.com"))
			abort();
		v = sip_auth_verify(auth, &q, ha1_md5, ha1_sha256);
		if (v == SIP_AUTH_ERROR && q.err != ERANGE)
			abort();
		break;
	}
}

static void check(const struct sip_msg *m, const struct sip_digest *d)
{
	char ha1[SIP_DIGEST_HEX_MAX], out[SIP_DIGEST_HEX_MAX];
	enum base_digest_alg alg;
	const struct sip_nonce_bind b = {.ip = "127.0.0.1",
					 .realm = "example.com"};
	int64_t issued;
	int r;

	if (sip_digest_alg_parse(d->algorithm, &alg))
		return;
	if (base_ha1(alg, "alice", "example.com", "password", ha1, sizeof(ha1)))
		abort();
	r = sip_digest_expected(alg, ha1, m->method, d, out, sizeof(out));
	if (r != 0 && r != ERANGE)
		abort();
	if (d->nonce.p &&
	    sip_nonce_check(secret, sizeof(secret), &b, d->nonce,
			    1800000000000LL, 300000, &issued) == 0 &&
	    d->nc.p)
		sip_nc_cache_use(cache, d->nonce, issued, d->nc);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static struct sip_msg m;
	size_t n;
	char *buf;

	if (!cache && sip_nc_cache_new(&cache, 64))
		abort();
	if (!auth)
		auth_init();
	buf = compose(head, sizeof(head) - 1, data, size, &n);
	if (!buf)
		return 0;
	if (sip_msg_parse(&m, buf, n) == 0) {
		for (unsigned i = 0; i < m.nauth; i++)
			check(&m, &m.auth[i]);
		run_auth(&m, false);
		run_auth(&m, true); /* Authorization is not for proxies */
	}
	free(buf);
	buf = compose(phead, sizeof(phead) - 1, data, size, &n);
	if (!buf)
		return 0;
	if (sip_msg_parse(&m, buf, n) == 0) {
		if (m.nauth || m.npauth > SIP_AUTH_MAX ||
		    (m.npauth && m.pauth_err))
			abort();
		run_auth(&m, true);
	}
	free(buf);
	return 0;
}
