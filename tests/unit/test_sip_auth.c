/* test_sip_auth.c - unit tests for src/sip/auth.c: challenges (401 and 407
 * lines), MD5 and SHA-256 digests, failures and their counting, replays,
 * stale nonces, the uri check, the challenge rate limit, threads. */
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
#include <unistd.h>

#include <cmocka.h>

#include "base/crypto.h"
#include "base/log.h"
#include "base/time.h"
#include "sip/auth.h"
#include "sip/build.h"
#include "sip/digest.h"
#include "sip/msg.h"

static const char secret[] = "unit-test-secret-0123456789abcdef";
#define REALM "example.com"
#define IP "192.0.2.1"
#define SRC IP ":5062"
#define PASS "s3cret-pass"

/* ---- helpers ---- */

static struct sip_auth *make(long fail_max, long fail_addr_max,
			     long challenge_rate)
{
	struct sip_auth_opts o;
	struct sip_auth *a = NULL;

	memset(&o, 0, sizeof(o));
	o.secret = secret;
	o.secret_len = sizeof(secret) - 1;
	o.nonce_ttl_s = 300;
	o.algs[0] = BASE_DIGEST_MD5;
	o.algs[1] = BASE_DIGEST_SHA256;
	o.nalgs = 2;
	o.fail_max = fail_max;
	o.fail_addr_max = fail_addr_max;
	o.fail_window_s = 60;
	o.fail_penalty_s = 60;
	o.challenge_rate = challenge_rate;
	snprintf(o.listen_hosts[0], sizeof(o.listen_hosts[0]), "192.0.2.10");
	o.nlisten = 1;
	assert_int_equal(sip_auth_new(&a, &o), 0);
	sip_auth_set_port(a, 5060);
	return a;
}

static struct sip_auth *make_default(void)
{
	return make(3, 100, 1000);
}

/* A message under test: its own buffer (the parse points into it). */
struct tmsg {
	struct sip_msg m;
	char buf[8192];
};

/*
 * Parses method to ruri with the extra header line hdr (may be "") into t.
 */
static void build(struct tmsg *t, const char *method, const char *ruri,
		  const char *hdr)
{
	int n = snprintf(t->buf, sizeof(t->buf),
			 "%s %s SIP/2.0\r\n"
			 "Via: SIP/2.0/UDP " IP ":5062;branch=z9hG4bKa1\r\n"
			 "From: <sip:alice@" REALM ">;tag=f1\r\n"
			 "To: <sip:alice@" REALM ">\r\n"
			 "Call-ID: auth-test\r\n"
			 "CSeq: 2 %s\r\n"
			 "%s"
			 "Content-Length: 0\r\n\r\n",
			 method, ruri, method, hdr);

	assert_true(n > 0 && (size_t)n < sizeof(t->buf));
	assert_int_equal(sip_msg_parse(&t->m, t->buf, (size_t)n), 0);
}

static void req_init(struct sip_auth_req *q, const struct sip_msg *m,
		     bool proxy, const char *user)
{
	memset(q, 0, sizeof(*q));
	q->m = m;
	q->proxy = proxy;
	q->src_ip = IP;
	q->src = SRC;
	snprintf(q->realm, sizeof(q->realm), "%s", REALM);
	snprintf(q->user, sizeof(q->user), "%s", user);
}

/* Challenges q into text (cap bytes); returns sip_auth_challenge's. */
static int challenge_text(struct sip_auth *a, const struct sip_auth_req *q,
			  bool stale, char *text, size_t cap)
{
	struct sip_buf b;
	int err;

	sip_buf_init(&b, text, cap);
	err = sip_auth_challenge(a, q, stale, &b);
	assert_int_equal(b.err, 0);
	text[b.len < cap ? b.len : cap - 1] = '\0';
	return err;
}

/* The nonce of the first challenge line in text. */
static void nonce_of(const char *text, char *nonce, size_t cap)
{
	const char *p = strstr(text, "nonce=\""), *e;

	assert_non_null(p);
	p += 7;
	e = strchr(p, '"');
	assert_non_null(e);
	assert_true((size_t)(e - p) < cap);
	memcpy(nonce, p, (size_t)(e - p));
	nonce[e - p] = '\0';
}

/* A fresh nonce for IP and REALM, from a challenge. */
static void fresh_nonce(struct sip_auth *a, char *nonce, size_t cap)
{
	struct tmsg *t = malloc(sizeof(*t));
	struct sip_auth_req q;
	char text[1024];

	assert_non_null(t);
	build(t, "REGISTER", "sip:" REALM, "");
	req_init(&q, &t->m, false, "alice");
	assert_int_equal(challenge_text(a, &q, false, text, sizeof(text)), 0);
	nonce_of(text, nonce, cap);
	free(t);
}

static struct sip_str S(const char *s) {
	return (struct sip_str){s, strlen(s)};
}

/*
 * The credentials header line ("Authorization" or "Proxy-Authorization")
 * a client with password pass would send for method to uri.
 */
static void
creds(char *out, size_t cap, const char *hname, enum base_digest_alg alg,
      const char *user, const char *pass, const char *method, const char *uri,
      const char *nonce, const char *nc)
{
	char ha1[SIP_DIGEST_HEX_MAX], resp[SIP_DIGEST_HEX_MAX];
	struct sip_digest d;

	memset(&d, 0, sizeof(d));
	d.uri = S(uri);
	d.nonce = S(nonce);
	d.nc = S(nc);
	d.cnonce = S("0a4f113b");
	d.qop = S("auth");
	assert_int_equal(base_ha1(alg, user, REALM, pass, ha1, sizeof(ha1)), 0);
	assert_int_equal(
	    sip_digest_expected(alg, ha1, S(method), &d, resp, sizeof(resp)),
	    0);
	snprintf(out, cap,
		 "%s: Digest username=\"%s\", realm=\"" REALM "\", "
		 "nonce=\"%s\", uri=\"%s\", response=\"%s\", algorithm=%s, "
		 "qop=auth, nc=%s, cnonce=\"0a4f113b\"\r\n",
		 hname, user, nonce, uri, resp, sip_digest_alg_name(alg), nc);
}

/* alice's stored HA1s with password PASS. */
static char ha1_md5[SIP_DIGEST_HEX_MAX], ha1_sha256[SIP_DIGEST_HEX_MAX];

static int setup(void **state)
{
	(void)state;
	assert_int_equal(base_ha1(BASE_DIGEST_MD5, "alice", REALM, PASS,
				  ha1_md5, sizeof(ha1_md5)),
			 0);
	assert_int_equal(base_ha1(BASE_DIGEST_SHA256, "alice", REALM, PASS,
				  ha1_sha256, sizeof(ha1_sha256)),
			 0);
	return 0;
}

/* ---- stderr capture, for the log lines ---- */

static int saved_fd = -1;
static FILE *capture;

static void log_begin(void)
{
	capture = tmpfile();
	assert_non_null(capture);
	saved_fd = dup(STDERR_FILENO);
	assert_true(saved_fd >= 0);
	assert_true(dup2(fileno(capture), STDERR_FILENO) >= 0);
}

/* Stops capturing; returns what was logged (static, NUL-terminated). */
static const char *log_end(void)
{
	static char text[16384];
	size_t n;

	assert_true(dup2(saved_fd, STDERR_FILENO) >= 0);
	close(saved_fd);
	rewind(capture);
	n = fread(text, 1, sizeof(text) - 1, capture);
	text[n] = '\0';
	fclose(capture);
	return text;
}

/* ---- tests ---- */

static void test_new_bounds(void **state)
{
	struct sip_auth_opts o;
	struct sip_auth *a = NULL;
	char big[SIP_AUTH_SECRET_MAX + 1] = {0};

	(void)state;
	memset(&o, 0, sizeof(o));
	o.secret = secret;
	o.secret_len = 0;
	o.nalgs = 1;
	assert_int_equal(sip_auth_new(&a, &o), EINVAL);
	o.secret = big;
	o.secret_len = sizeof(big);
	assert_int_equal(sip_auth_new(&a, &o), EINVAL);
	o.secret_len = SIP_AUTH_SECRET_MAX;
	o.nalgs = 0;
	assert_int_equal(sip_auth_new(&a, &o), EINVAL);
	o.nalgs = 3;
	assert_int_equal(sip_auth_new(&a, &o), EINVAL);
	assert_null(a);
	o.nalgs = 1;
	assert_int_equal(sip_auth_new(&a, &o), 0);
	sip_auth_free(a);
	sip_auth_free(NULL);
}

/* No credentials: a challenge, 401's lines or 407's, one per algorithm. */
static void test_challenge_lines(void **state)
{
	struct sip_auth *a = make_default();
	struct tmsg *t = malloc(sizeof(*t));
	struct sip_auth_req q;
	char text[1024], nonce[SIP_NONCE_LEN + 1], want[1024];
	int64_t issued;

	(void)state;
	assert_non_null(t);
	build(t, "REGISTER", "sip:" REALM, "");
	req_init(&q, &t->m, false, "alice");
	assert_int_equal(sip_auth_prepare(a, &q), SIP_AUTH_CHALLENGE);
	assert_null(q.d);
	assert_int_equal(challenge_text(a, &q, false, text, sizeof(text)), 0);
	nonce_of(text, nonce, sizeof(nonce));
	assert_int_equal(strlen(nonce), SIP_NONCE_LEN);
	snprintf(want, sizeof(want),
		 "WWW-Authenticate: Digest realm=\"" REALM "\", nonce=\"%s\", "
		 "algorithm=MD5, qop=\"auth\"\r\n"
		 "WWW-Authenticate: Digest realm=\"" REALM "\", nonce=\"%s\", "
		 "algorithm=SHA-256, qop=\"auth\"\r\n",
		 nonce, nonce);
	assert_string_equal(text, want);
	/* Over WebSocket, MD5 last (browsers answer only the last one). */
	q.md5_last = true;
	assert_int_equal(challenge_text(a, &q, false, text, sizeof(text)), 0);
	nonce_of(text, nonce, sizeof(nonce));
	snprintf(want, sizeof(want),
		 "WWW-Authenticate: Digest realm=\"" REALM "\", nonce=\"%s\", "
		 "algorithm=SHA-256, qop=\"auth\"\r\n"
		 "WWW-Authenticate: Digest realm=\"" REALM "\", nonce=\"%s\", "
		 "algorithm=MD5, qop=\"auth\"\r\n",
		 nonce, nonce);
	assert_string_equal(text, want);
	q.md5_last = false;
	assert_int_equal(challenge_text(a, &q, false, text, sizeof(text)), 0);
	nonce_of(text, nonce, sizeof(nonce));
	/* The nonce is ours, for this address and realm only. */
	assert_int_equal(sip_nonce_check(secret, sizeof(secret) - 1,
					 &(struct sip_nonce_bind){IP, REALM},
					 S(nonce), base_time_now_ms(), 300000,
					 &issued),
			 0);
	assert_int_equal(
	    sip_nonce_check(secret, sizeof(secret) - 1,
			    &(struct sip_nonce_bind){"192.0.2.2", REALM},
			    S(nonce), base_time_now_ms(), 300000, &issued),
	    EINVAL);

	/* 407: Proxy-Authenticate, and stale=true when asked */
	build(t, "INVITE", "sip:bob@" REALM, "");
	req_init(&q, &t->m, true, "alice");
	assert_int_equal(sip_auth_prepare(a, &q), SIP_AUTH_CHALLENGE);
	assert_int_equal(challenge_text(a, &q, true, text, sizeof(text)), 0);
	nonce_of(text, nonce, sizeof(nonce));
	snprintf(want, sizeof(want),
		 "Proxy-Authenticate: Digest realm=\"" REALM "\", "
		 "nonce=\"%s\", algorithm=MD5, qop=\"auth\", stale=true\r\n"
		 "Proxy-Authenticate: Digest realm=\"" REALM "\", "
		 "nonce=\"%s\", algorithm=SHA-256, qop=\"auth\", "
		 "stale=true\r\n",
		 nonce, nonce);
	assert_string_equal(text, want);

	/* a realm that would need escaping is refused */
	snprintf(q.realm, sizeof(q.realm), "ex\"ample");
	assert_int_equal(challenge_text(a, &q, false, text, sizeof(text)),
			 EINVAL);
	free(t);
	sip_auth_free(a);
}

/* A client's answer to the challenge, MD5 then SHA-256; then its replay. */
static void test_verify_md5_sha256_and_replay(void **state)
{
	static const enum base_digest_alg algs[] = {BASE_DIGEST_MD5,
						    BASE_DIGEST_SHA256};
	struct sip_auth *a = make_default();
	struct tmsg *t = malloc(sizeof(*t));
	struct sip_auth_req q;
	char nonce[SIP_NONCE_LEN + 1], hdr[1024];
	const char *log;

	(void)state;
	assert_non_null(t);
	for (size_t i = 0; i < 2; i++) {
		fresh_nonce(a, nonce, sizeof(nonce));
		creds(hdr, sizeof(hdr), "Authorization", algs[i], "alice", PASS,
		      "REGISTER", "sip:" REALM, nonce, "00000001");
		build(t, "REGISTER", "sip:" REALM, hdr);
		req_init(&q, &t->m, false, "alice");
		assert_int_equal(sip_auth_prepare(a, &q), SIP_AUTH_CHECK);
		assert_ptr_equal(q.d, &t->m.auth[0]);
		assert_int_equal(q.alg, algs[i]);
		assert_int_equal(q.nerr, 0);
		assert_int_equal(sip_auth_verify(a, &q, ha1_md5, ha1_sha256),
				 SIP_AUTH_OK);

		/* the same nc again: a replay, refused and logged at info,
		 * never counted: more of them than fail_max (3) put neither
		 * the user nor the address in a penalty */
		for (int k = 0; k < 5; k++) {
			req_init(&q, &t->m, false, "alice");
			assert_int_equal(sip_auth_prepare(a, &q),
					 SIP_AUTH_CHECK);
			log_begin();
			assert_int_equal(
			    sip_auth_verify(a, &q, ha1_md5, ha1_sha256),
			    SIP_AUTH_REPLAY);
			log = log_end();
			assert_non_null(strstr(
			    log, "level=info event=auth_failed user=\"alice\" "
				 "src=" SRC " reason=nonce_count_replay"));
			assert_null(strstr(log, "sip_source_ignored"));
		}
		assert_false(sip_auth_ignored(a, IP, "alice"));
		assert_false(sip_auth_ignored(a, IP, NULL));

		/* a higher nc with the same nonce is fine */
		creds(hdr, sizeof(hdr), "Authorization", algs[i], "alice", PASS,
		      "REGISTER", "sip:" REALM, nonce, "00000002");
		build(t, "REGISTER", "sip:" REALM, hdr);
		req_init(&q, &t->m, false, "alice");
		assert_int_equal(sip_auth_prepare(a, &q), SIP_AUTH_CHECK);
		assert_int_equal(sip_auth_verify(a, &q, ha1_md5, ha1_sha256),
				 SIP_AUTH_OK);
	}
	free(t);
	sip_auth_free(a);
}

/* A wrong password fails, is logged at warn and counts: fail_max of them
 * put (address, user) in a penalty, and only that pair. */
static void test_wrong_password_counted(void **state)
{
	struct sip_auth *a = make(3, 100, 1000);
	struct tmsg *t = malloc(sizeof(*t));
	struct sip_auth_req q;
	char nonce[SIP_NONCE_LEN + 1], hdr[1024];
	const char *log;

	(void)state;
	assert_non_null(t);
	assert_false(sip_auth_ignored(a, IP, "alice"));
	for (int i = 0; i < 3; i++) {
		fresh_nonce(a, nonce, sizeof(nonce));
		creds(hdr, sizeof(hdr), "Authorization", BASE_DIGEST_MD5,
		      "alice", "wrong", "REGISTER", "sip:" REALM, nonce,
		      "00000001");
		build(t, "REGISTER", "sip:" REALM, hdr);
		req_init(&q, &t->m, false, "alice");
		assert_int_equal(sip_auth_prepare(a, &q), SIP_AUTH_CHECK);
		log_begin();
		assert_int_equal(sip_auth_verify(a, &q, ha1_md5, ha1_sha256),
				 SIP_AUTH_FAIL);
		log = log_end();
		assert_non_null(
		    strstr(log, "level=warn event=auth_failed user=\"alice\" "
				"src=" SRC " reason=bad_response"));
		if (i < 2)
			assert_false(sip_auth_ignored(a, IP, "alice"));
		else
			assert_non_null(
			    strstr(log, "event=sip_source_ignored src=" IP
					" user=\"alice\" seconds=60"));
	}
	assert_true(sip_auth_ignored(a, IP, "alice"));
	assert_false(sip_auth_ignored(a, IP, "bob"));
	assert_false(sip_auth_ignored(a, "192.0.2.2", "alice"));
	assert_false(sip_auth_ignored(a, IP, NULL));

	/* an unknown user fails the same way, with its own reason */
	fresh_nonce(a, nonce, sizeof(nonce));
	creds(hdr, sizeof(hdr), "Authorization", BASE_DIGEST_SHA256, "alice",
	      PASS, "REGISTER", "sip:" REALM, nonce, "00000001");
	build(t, "REGISTER", "sip:" REALM, hdr);
	req_init(&q, &t->m, false, "alice");
	assert_int_equal(sip_auth_prepare(a, &q), SIP_AUTH_CHECK);
	log_begin();
	assert_int_equal(sip_auth_verify(a, &q, NULL, NULL), SIP_AUTH_FAIL);
	log = log_end();
	assert_non_null(strstr(log, "reason=unknown_user"));

	free(t);
	sip_auth_free(a);
}

/* Failures anyone could forge (no nonce issued to that address) are
 * logged at debug level only and never count; the address throttle. */
static void test_uncounted_and_address(void **state)
{
	struct sip_auth *a = make(2, 3, 1000);
	struct tmsg *t = malloc(sizeof(*t));
	struct sip_auth_req q;
	char nonce[SIP_NONCE_LEN + 1], hdr[1024];
	const char *log;

	(void)state;
	assert_non_null(t);
	base_log_level_set(BASE_LOG_DEBUG);
	for (int i = 0; i < 10; i++) {
		creds(hdr, sizeof(hdr), "Authorization", BASE_DIGEST_MD5,
		      "alice", "wrong", "REGISTER", "sip:" REALM,
		      "0000000000000000.0000000000000000."
		      "00000000000000000000000000000000",
		      "00000001");
		build(t, "REGISTER", "sip:" REALM, hdr);
		req_init(&q, &t->m, false, "alice");
		log_begin();
		assert_int_equal(sip_auth_prepare(a, &q), SIP_AUTH_CHALLENGE);
		log = log_end();
		assert_non_null(
		    strstr(log, "level=debug event=auth_failed user=\"alice\" "
				"src=" SRC " reason=bad_nonce"));
	}
	base_log_level_set(BASE_LOG_INFO);
	assert_false(sip_auth_ignored(a, IP, "alice"));
	assert_false(sip_auth_ignored(a, IP, NULL));

	/* counted failures for several users: the address goes silent */
	for (int i = 0; i < 3; i++) {
		char user[16];

		snprintf(user, sizeof(user), "u%d", i);
		fresh_nonce(a, nonce, sizeof(nonce));
		creds(hdr, sizeof(hdr), "Authorization", BASE_DIGEST_MD5, user,
		      "wrong", "REGISTER", "sip:" REALM, nonce, "00000001");
		build(t, "REGISTER", "sip:" REALM, hdr);
		req_init(&q, &t->m, false, user);
		assert_int_equal(sip_auth_prepare(a, &q), SIP_AUTH_CHECK);
		log_begin();
		assert_int_equal(sip_auth_verify(a, &q, NULL, NULL),
				 SIP_AUTH_FAIL);
		log = log_end();
		if (i == 2)
			assert_non_null(
			    strstr(log, "event=sip_source_ignored src=" IP
					" seconds=60"));
	}
	assert_true(sip_auth_ignored(a, IP, NULL));
	assert_false(sip_auth_ignored(a, "192.0.2.2", NULL));
	free(t);
	sip_auth_free(a);
}

/* A nonce past its ttl: STALE with the right response, FAIL without. */
static void test_stale_nonce(void **state)
{
	struct sip_auth *a = make_default();
	struct tmsg *t = malloc(sizeof(*t));
	struct sip_auth_req q;
	char nonce[SIP_NONCE_LEN + 1], hdr[1024];

	(void)state;
	assert_non_null(t);
	assert_int_equal(sip_nonce_make(secret, sizeof(secret) - 1,
					&(struct sip_nonce_bind){IP, REALM},
					base_time_now_ms() - 301000, nonce,
					sizeof(nonce)),
			 0);
	creds(hdr, sizeof(hdr), "Authorization", BASE_DIGEST_MD5, "alice", PASS,
	      "REGISTER", "sip:" REALM, nonce, "00000001");
	build(t, "REGISTER", "sip:" REALM, hdr);
	req_init(&q, &t->m, false, "alice");
	assert_int_equal(sip_auth_prepare(a, &q), SIP_AUTH_CHECK);
	assert_int_equal(q.nerr, ESTALE);
	assert_int_equal(sip_auth_verify(a, &q, ha1_md5, ha1_sha256),
			 SIP_AUTH_STALE);

	creds(hdr, sizeof(hdr), "Authorization", BASE_DIGEST_MD5, "alice",
	      "wrong", "REGISTER", "sip:" REALM, nonce, "00000001");
	build(t, "REGISTER", "sip:" REALM, hdr);
	req_init(&q, &t->m, false, "alice");
	assert_int_equal(sip_auth_prepare(a, &q), SIP_AUTH_CHECK);
	log_begin();
	assert_int_equal(sip_auth_verify(a, &q, ha1_md5, ha1_sha256),
			 SIP_AUTH_FAIL);
	assert_non_null(strstr(log_end(), "reason=bad_response"));
	free(t);
	sip_auth_free(a);
}

/* A digest username that is not the user: FORBIDDEN, never counted. */
static void test_user_mismatch(void **state)
{
	struct sip_auth *a = make(1, 1, 1000);
	struct tmsg *t = malloc(sizeof(*t));
	struct sip_auth_req q;
	char nonce[SIP_NONCE_LEN + 1], hdr[1024];

	(void)state;
	assert_non_null(t);
	fresh_nonce(a, nonce, sizeof(nonce));
	creds(hdr, sizeof(hdr), "Authorization", BASE_DIGEST_MD5, "mallory",
	      PASS, "REGISTER", "sip:" REALM, nonce, "00000001");
	build(t, "REGISTER", "sip:" REALM, hdr);
	req_init(&q, &t->m, false, "alice");
	assert_int_equal(sip_auth_prepare(a, &q), SIP_AUTH_FORBIDDEN);
	/* the username is compared exactly */
	req_init(&q, &t->m, false, "Mallory");
	assert_int_equal(sip_auth_prepare(a, &q), SIP_AUTH_FORBIDDEN);
	assert_false(sip_auth_ignored(a, IP, "alice"));
	assert_false(sip_auth_ignored(a, IP, NULL));

	/* credentials for another realm are no credentials */
	req_init(&q, &t->m, false, "mallory");
	snprintf(q.realm, sizeof(q.realm), "other.example");
	assert_int_equal(sip_auth_prepare(a, &q), SIP_AUTH_CHALLENGE);
	free(t);
	sip_auth_free(a);
}

/* Proxy-Authorization counts only for proxy requests, Authorization only
 * for the others. */
static void test_proxy_only_when_proxy(void **state)
{
	struct sip_auth *a = make_default();
	struct tmsg *t = malloc(sizeof(*t));
	struct sip_auth_req q;
	char nonce[SIP_NONCE_LEN + 1], hdr[1024];

	(void)state;
	assert_non_null(t);
	fresh_nonce(a, nonce, sizeof(nonce));
	creds(hdr, sizeof(hdr), "Proxy-Authorization", BASE_DIGEST_SHA256,
	      "alice", PASS, "INVITE", "sip:bob@" REALM, nonce, "00000001");
	build(t, "INVITE", "sip:bob@" REALM, hdr);
	assert_int_equal(t->m.npauth, 1);
	req_init(&q, &t->m, false, "alice");
	assert_int_equal(sip_auth_prepare(a, &q), SIP_AUTH_CHALLENGE);
	req_init(&q, &t->m, true, "alice");
	assert_int_equal(sip_auth_prepare(a, &q), SIP_AUTH_CHECK);
	assert_ptr_equal(q.d, &t->m.pauth[0]);
	assert_int_equal(sip_auth_verify(a, &q, ha1_md5, ha1_sha256),
			 SIP_AUTH_OK);

	/* an INVITE's response does not pass for another method */
	fresh_nonce(a, nonce, sizeof(nonce));
	creds(hdr, sizeof(hdr), "Proxy-Authorization", BASE_DIGEST_MD5, "alice",
	      PASS, "INVITE", "sip:bob@" REALM, nonce, "00000001");
	build(t, "MESSAGE", "sip:bob@" REALM, hdr);
	req_init(&q, &t->m, true, "alice");
	assert_int_equal(sip_auth_prepare(a, &q), SIP_AUTH_CHECK);
	log_begin();
	assert_int_equal(sip_auth_verify(a, &q, ha1_md5, ha1_sha256),
			 SIP_AUTH_FAIL);
	log_end();

	/* Authorization on a proxy request is no credentials either */
	fresh_nonce(a, nonce, sizeof(nonce));
	creds(hdr, sizeof(hdr), "Authorization", BASE_DIGEST_MD5, "alice", PASS,
	      "INVITE", "sip:bob@" REALM, nonce, "00000001");
	build(t, "INVITE", "sip:bob@" REALM, hdr);
	req_init(&q, &t->m, true, "alice");
	assert_int_equal(sip_auth_prepare(a, &q), SIP_AUTH_CHALLENGE);
	req_init(&q, &t->m, false, "alice");
	assert_int_equal(sip_auth_prepare(a, &q), SIP_AUTH_CHECK);
	free(t);
	sip_auth_free(a);
}

/* The checks that need no I/O: algorithm, parameters, uri. */
static void test_prepare_checks(void **state)
{
	struct sip_auth *a = make_default();
	struct tmsg *t = malloc(sizeof(*t));
	struct sip_auth_req q;
	char nonce[SIP_NONCE_LEN + 1], hdr[1200];
	static const struct {
		const char *uri; /* the digest uri, Request-URI sip:REALM */
		enum sip_auth_step step;
	} uris[] = {
	    {"sip:" REALM, SIP_AUTH_CHECK},
	    {"sip:" REALM ":5060", SIP_AUTH_CHECK},
	    {"sip:192.0.2.10", SIP_AUTH_CHECK},
	    {"sip:192.0.2.10:5060;transport=udp", SIP_AUTH_CHECK},
	    {"sip:192.0.2.10:5070", SIP_AUTH_CHALLENGE},
	    {"sip:192.0.2.99", SIP_AUTH_CHALLENGE},
	    {"sip:other.example", SIP_AUTH_CHALLENGE},
	    {"tel:+15551234", SIP_AUTH_CHALLENGE},
	};

	(void)state;
	assert_non_null(t);
	for (size_t i = 0; i < sizeof(uris) / sizeof(uris[0]); i++) {
		fresh_nonce(a, nonce, sizeof(nonce));
		creds(hdr, sizeof(hdr), "Authorization", BASE_DIGEST_MD5,
		      "alice", PASS, "REGISTER", uris[i].uri, nonce,
		      "00000001");
		build(t, "REGISTER", "sip:" REALM, hdr);
		req_init(&q, &t->m, false, "alice");
		assert_int_equal(sip_auth_prepare(a, &q), uris[i].step);
	}

	/* parameters: qop=auth, nc and cnonce required; no userhash; a
	 * username. Each is the header around a fresh nonce. */
	static const struct {
		const char *pre, *post;
	} bad[] = {
	    {"Authorization: Digest username=\"alice\", realm=\"" REALM
	     "\", nonce=\"",
	     "\", uri=\"sip:" REALM "\", response=\"00\"\r\n"},
	    {"Authorization: Digest username=\"alice\", realm=\"" REALM
	     "\", nonce=\"",
	     "\", uri=\"sip:" REALM "\", response=\"00\", "
	     "qop=auth, nc=00000001, cnonce=\"\"\r\n"},
	    {"Authorization: Digest username=\"alice\", realm=\"" REALM
	     "\", nonce=\"",
	     "\", uri=\"sip:" REALM "\", response=\"00\", "
	     "qop=auth-int, nc=00000001, cnonce=\"c\"\r\n"},
	    {"Authorization: Digest username=\"alice\", realm=\"" REALM
	     "\", nonce=\"",
	     "\", uri=\"sip:" REALM "\", response=\"00\", "
	     "qop=auth, nc=00000001, cnonce=\"c\", userhash=true\r\n"},
	    {"Authorization: Digest username=\"alice\", realm=\"" REALM
	     "\", nonce=\"",
	     "\", uri=\"sip:" REALM "\", response=\"00\", "
	     "qop=auth, nc=00000001, cnonce=\"c\", algorithm=SHA-512-256\r\n"},
	    {"Authorization: Digest realm=\"" REALM "\", nonce=\"",
	     "\", uri=\"sip:" REALM "\", response=\"00\", "
	     "qop=auth, nc=00000001, cnonce=\"c\"\r\n"},
	};
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		fresh_nonce(a, nonce, sizeof(nonce));
		snprintf(hdr, sizeof(hdr), "%s%s%s", bad[i].pre, nonce,
			 bad[i].post);
		build(t, "REGISTER", "sip:" REALM, hdr);
		req_init(&q, &t->m, false, "alice");
		assert_int_equal(sip_auth_prepare(a, &q), SIP_AUTH_CHALLENGE);
	}

	/* an algorithm we do not offer */
	{
		struct sip_auth_opts o;
		struct sip_auth *md5only = NULL;

		memset(&o, 0, sizeof(o));
		o.secret = secret;
		o.secret_len = sizeof(secret) - 1;
		o.nonce_ttl_s = 300;
		o.algs[0] = BASE_DIGEST_MD5;
		o.nalgs = 1;
		o.fail_max = o.fail_addr_max = 10;
		o.fail_window_s = o.fail_penalty_s = 60;
		o.challenge_rate = 100;
		assert_int_equal(sip_auth_new(&md5only, &o), 0);
		fresh_nonce(md5only, nonce, sizeof(nonce));
		creds(hdr, sizeof(hdr), "Authorization", BASE_DIGEST_SHA256,
		      "alice", PASS, "REGISTER", "sip:" REALM, nonce,
		      "00000001");
		build(t, "REGISTER", "sip:" REALM, hdr);
		req_init(&q, &t->m, false, "alice");
		assert_int_equal(sip_auth_prepare(md5only, &q),
				 SIP_AUTH_CHALLENGE);
		sip_auth_free(md5only);
	}

	/* a nonce issued to another address */
	fresh_nonce(a, nonce, sizeof(nonce));
	creds(hdr, sizeof(hdr), "Authorization", BASE_DIGEST_MD5, "alice", PASS,
	      "REGISTER", "sip:" REALM, nonce, "00000001");
	build(t, "REGISTER", "sip:" REALM, hdr);
	req_init(&q, &t->m, false, "alice");
	q.src_ip = "192.0.2.2";
	assert_int_equal(sip_auth_prepare(a, &q), SIP_AUTH_CHALLENGE);
	free(t);
	sip_auth_free(a);
}

/* Parameters too long to hash: ERROR with ERANGE (the registrar's 503). */
static void test_verify_error(void **state)
{
	struct sip_auth *a = make_default();
	struct tmsg *t = malloc(sizeof(*t));
	struct sip_auth_req q;
	char nonce[SIP_NONCE_LEN + 1], *hdr = malloc(6000), *cn = malloc(5000);

	(void)state;
	assert_non_null(t);
	assert_non_null(hdr);
	assert_non_null(cn);
	memset(cn, 'c', 4999);
	cn[4999] = '\0';
	fresh_nonce(a, nonce, sizeof(nonce));
	snprintf(hdr, 6000,
		 "Authorization: Digest username=\"alice\", realm=\"" REALM
		 "\", nonce=\"%s\", uri=\"sip:" REALM "\", response=\"00\", "
		 "qop=auth, nc=00000001, cnonce=\"%s\"\r\n",
		 nonce, cn);
	build(t, "REGISTER", "sip:" REALM, hdr);
	req_init(&q, &t->m, false, "alice");
	assert_int_equal(sip_auth_prepare(a, &q), SIP_AUTH_CHECK);
	assert_int_equal(sip_auth_verify(a, &q, ha1_md5, ha1_sha256),
			 SIP_AUTH_ERROR);
	assert_int_equal(q.err, ERANGE);
	free(cn);
	free(hdr);
	free(t);
	sip_auth_free(a);
}

/* At most challenge_rate challenges a second to one address. */
static void test_challenge_rate(void **state)
{
	struct tmsg *t = malloc(sizeof(*t));
	struct sip_auth_req q;
	char text[1024];
	bool done = false;

	(void)state;
	assert_non_null(t);
	build(t, "REGISTER", "sip:" REALM, "");
	/* The limit is per second: retry when a second boundary passed. */
	for (int attempt = 0; attempt < 5 && !done; attempt++) {
		struct sip_auth *a = make(3, 100, 5);
		int64_t start = base_time_mono_s();
		int got[7];

		for (int i = 0; i < 6; i++) {
			req_init(&q, &t->m, false, "alice");
			got[i] =
			    challenge_text(a, &q, false, text, sizeof(text));
		}
		req_init(&q, &t->m, false, "alice");
		q.src_ip = "192.0.2.2";
		got[6] = challenge_text(a, &q, false, text, sizeof(text));
		if (base_time_mono_s() == start) {
			for (int i = 0; i < 5; i++)
				assert_int_equal(got[i], 0);
			assert_int_equal(got[5], EAGAIN);
			assert_int_equal(got[6], 0); /* another address */
			assert_non_null(strstr(text, "WWW-Authenticate: "));
			done = true;
		}
		sip_auth_free(a);
	}
	assert_true(done);
	free(t);
}

/* Threads challenging and verifying at once (the registrar's transport
 * thread and workers, the call engine's): every answer right. */
struct worker {
	struct sip_auth *a;
	int ok;
};

static void *worker_run(void *arg)
{
	struct worker *w = arg;
	struct tmsg *t = malloc(sizeof(*t));
	struct sip_auth_req q;
	char nonce[SIP_NONCE_LEN + 1], hdr[1024];

	if (!t)
		return NULL;
	for (int i = 0; i < 100; i++) {
		fresh_nonce(w->a, nonce, sizeof(nonce));
		creds(hdr, sizeof(hdr), "Proxy-Authorization",
		      i % 2 ? BASE_DIGEST_MD5 : BASE_DIGEST_SHA256, "alice",
		      PASS, "INVITE", "sip:bob@" REALM, nonce, "00000001");
		build(t, "INVITE", "sip:bob@" REALM, hdr);
		req_init(&q, &t->m, true, "alice");
		if (sip_auth_prepare(w->a, &q) == SIP_AUTH_CHECK &&
		    sip_auth_verify(w->a, &q, ha1_md5, ha1_sha256) ==
			SIP_AUTH_OK)
			w->ok++;
	}
	free(t);
	return NULL;
}

static void test_threads(void **state)
{
	struct sip_auth *a = make(3, 100, 1000000);
	pthread_t th[4];
	struct worker w[4];

	(void)state;
	for (int i = 0; i < 4; i++) {
		w[i] = (struct worker){a, 0};
		assert_int_equal(
		    pthread_create(&th[i], NULL, worker_run, &w[i]), 0);
	}
	for (int i = 0; i < 4; i++) {
		pthread_join(th[i], NULL);
		assert_int_equal(w[i].ok, 100);
	}
	sip_auth_free(a);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_new_bounds),
	    cmocka_unit_test(test_challenge_lines),
	    cmocka_unit_test(test_verify_md5_sha256_and_replay),
	    cmocka_unit_test(test_wrong_password_counted),
	    cmocka_unit_test(test_uncounted_and_address),
	    cmocka_unit_test(test_stale_nonce),
	    cmocka_unit_test(test_user_mismatch),
	    cmocka_unit_test(test_proxy_only_when_proxy),
	    cmocka_unit_test(test_prepare_checks),
	    cmocka_unit_test(test_verify_error),
	    cmocka_unit_test(test_challenge_rate),
	    cmocka_unit_test(test_threads),
	};

	base_log_level_set(BASE_LOG_INFO);
	return cmocka_run_group_tests(tests, setup, NULL);
}
