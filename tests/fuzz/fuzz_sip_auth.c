/*
 * fuzz_sip_auth.c - libFuzzer harness for the Authorization header: the
 * input becomes the value of an Authorization header in a REGISTER, which is
 * parsed; every digest found is then run through the registrar's checks
 * (algorithm, nonce, nonce-count, expected response).
 */
#include <errno.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "base/crypto.h"
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
static const char tail[] = "\r\nContent-Length: 0\r\n\r\n";
static const char secret[] = "fuzzing-secret-0123456789";

static struct sip_nc_cache *cache;

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
	size_t n = sizeof(head) - 1 + size + sizeof(tail) - 1;
	char *buf;

	if (!cache && sip_nc_cache_new(&cache, 64))
		abort();
	buf = malloc(n);
	if (!buf)
		return 0;
	memcpy(buf, head, sizeof(head) - 1);
	memcpy(buf + sizeof(head) - 1, data, size);
	memcpy(buf + sizeof(head) - 1 + size, tail, sizeof(tail) - 1);
	if (sip_msg_parse(&m, buf, n) == 0)
		for (unsigned i = 0; i < m.nauth; i++)
			check(&m, &m.auth[i]);
	free(buf);
	return 0;
}
