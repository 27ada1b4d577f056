/* test_sip_resolve.c - RFC 3263 server location: host checks, NAPTR
 * selection, SRV order, and the resolver's refusals and deadline. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <string.h>

#include <cmocka.h>

#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <pthread.h>
#include <stdio.h>
#include <sys/socket.h>
#include <unistd.h>

#include "base/time.h"
#include "sip/resolve.h"

static enum sip_host_kind kind(const char *s)
{
	return sip_host_kind(s, strlen(s));
}

static void hosts(void **state)
{
	char big[300];

	(void)state;
	assert_int_equal(kind("192.0.2.1"), SIP_HOST_IPV4);
	assert_int_equal(kind("2001:db8::1"), SIP_HOST_IPV6);
	assert_int_equal(kind("::1"), SIP_HOST_IPV6);
	assert_int_equal(kind("far.test"), SIP_HOST_NAME);
	assert_int_equal(kind("far.test."), SIP_HOST_NAME);
	assert_int_equal(kind("a-b.c1.example"), SIP_HOST_NAME);
	assert_int_equal(kind("localhost"), SIP_HOST_NAME);
	assert_int_equal(kind("1.2.3.4a"), SIP_HOST_NAME);
	/* Not names. */
	assert_int_equal(kind(""), SIP_HOST_BAD);
	assert_int_equal(kind("."), SIP_HOST_BAD);
	assert_int_equal(kind("1.2.3.400"), SIP_HOST_BAD); /* no letter */
	assert_int_equal(kind("123"), SIP_HOST_BAD);
	assert_int_equal(kind("a..b"), SIP_HOST_BAD);
	assert_int_equal(kind(".a.b"), SIP_HOST_BAD);
	assert_int_equal(kind("-a.b"), SIP_HOST_BAD);
	assert_int_equal(kind("a-.b"), SIP_HOST_BAD);
	assert_int_equal(kind("a.b-"), SIP_HOST_BAD);
	assert_int_equal(kind("a_b.test"), SIP_HOST_BAD);
	assert_int_equal(kind("a b.test"), SIP_HOST_BAD);
	assert_int_equal(kind("a.test.."), SIP_HOST_BAD);
	assert_int_equal(kind("[::1]"), SIP_HOST_BAD);
	assert_int_equal(sip_host_kind("a\0b.test", 8), SIP_HOST_BAD);
	assert_int_equal(sip_host_kind("1.2.3.4\0x", 9), SIP_HOST_BAD);
	assert_int_equal(sip_host_kind(NULL, 0), SIP_HOST_BAD);
	/* Labels of 63, names of 253 at most. */
	memset(big, 'a', sizeof(big));
	assert_int_equal(sip_host_kind(big, 63), SIP_HOST_NAME);
	assert_int_equal(sip_host_kind(big, 64), SIP_HOST_BAD);
	for (size_t i = 63; i < sizeof(big); i += 64)
		big[i] = '.';
	assert_int_equal(sip_host_kind(big, 253), SIP_HOST_NAME);
	assert_int_equal(sip_host_kind(big, 254), SIP_HOST_BAD);
}

/* A fixed sequence of "random" numbers. */
struct seq {
	const uint32_t *v;
	unsigned n, i;
};

static uint32_t next(void *ctx)
{
	struct seq *s = ctx;

	return s->v[s->i++ % s->n];
}

static uint32_t lcg(void *ctx)
{
	uint32_t *x = ctx;

	*x = *x * 1664525u + 1013904223u;
	return *x >> 8;
}

static void srv(struct sip_srv *r, unsigned prio, unsigned w, const char *t)
{
	memset(r, 0, sizeof(*r));
	r->priority = prio;
	r->weight = w;
	r->port = 5060;
	strcpy(r->target, t);
}

static void srv_order(void **state)
{
	struct sip_srv v[5];
	uint32_t zero[] = {0};
	struct seq s = {zero, 1, 0};
	unsigned first_a = 0, zero_first = 0;
	uint32_t x = 42;

	(void)state;
	/* Priority first, whatever the weights. */
	srv(&v[0], 20, 100, "c");
	srv(&v[1], 10, 0, "a");
	srv(&v[2], 30, 1, "d");
	srv(&v[3], 10, 50, "b");
	sip_srv_order(v, 4, next, &s);
	assert_int_equal(v[0].priority, 10);
	assert_int_equal(v[1].priority, 10);
	assert_string_equal(v[2].target, "c");
	assert_string_equal(v[3].target, "d");
	/* r = 0 picks the weight-0 record, which RFC 2782 puts first. */
	assert_string_equal(v[0].target, "a");
	/* Within a priority, by weight: 3 to 1 over many draws. */
	for (unsigned i = 0; i < 4000; i++) {
		srv(&v[0], 1, 10, "x");
		srv(&v[1], 1, 30, "a");
		sip_srv_order(v, 2, lcg, &x);
		first_a += strcmp(v[0].target, "a") == 0;
	}
	assert_in_range(first_a, 2800, 3200);
	/* A weight-0 record beside weighted ones is first rarely. */
	for (unsigned i = 0; i < 4000; i++) {
		srv(&v[0], 1, 100, "x");
		srv(&v[1], 1, 0, "z");
		sip_srv_order(v, 2, lcg, &x);
		zero_first += strcmp(v[0].target, "z") == 0;
	}
	assert_in_range(zero_first, 1, 200);
	/* All weights 0: every record stays, none lost or repeated. */
	srv(&v[0], 1, 0, "p");
	srv(&v[1], 1, 0, "q");
	srv(&v[2], 1, 0, "r");
	sip_srv_order(v, 3, lcg, &x);
	assert_int_not_equal(strcmp(v[0].target, v[1].target), 0);
	assert_int_not_equal(strcmp(v[1].target, v[2].target), 0);
	assert_int_not_equal(strcmp(v[0].target, v[2].target), 0);
	sip_srv_order(v, 0, lcg, &x);
	sip_srv_order(v, 1, lcg, &x);
}

static void naptr(struct sip_naptr *r, unsigned order, unsigned pref,
		  const char *flags, const char *service, const char *repl)
{
	memset(r, 0, sizeof(*r));
	r->order = order;
	r->preference = pref;
	strcpy(r->flags, flags);
	strcpy(r->service, service);
	strcpy(r->replacement, repl);
}

static void naptr_select(void **state)
{
	struct sip_naptr v[8];
	enum sip_proto p[8];
	unsigned k;

	(void)state;
	naptr(&v[0], 50, 10, "s", "SIP+D2T", "_sip._tcp.far.test");
	naptr(&v[1], 10, 10, "s", "SIPS+D2T", "_sips._tcp.far.test");
	naptr(&v[2], 20, 20, "S", "sip+d2u", "_sip._udp.far.test");
	naptr(&v[3], 20, 10, "s", "SIP+D2U", "_sip._udp.b.far.test");
	naptr(&v[4], 5, 10, "a", "SIP+D2U", "x.far.test");	    /* flag a */
	naptr(&v[5], 5, 10, "s", "SIP+D2S", "_sip._sctp.far.test"); /* SCTP */
	naptr(&v[6], 5, 10, "s", "SIP+D2U", "bad_name.test");
	naptr(&v[7], 5, 10, "s", "SIP+D2U", "r.far.test");
	v[7].has_regexp = true; /* a regexp: not for SIP */
	k = sip_naptr_select(v, 8, false, p);
	assert_int_equal(k, 2);
	assert_string_equal(v[0].replacement, "_sip._udp.b.far.test");
	assert_string_equal(v[1].replacement, "_sip._udp.far.test");
	assert_int_equal(p[0], SIP_UDP);
	assert_int_equal(p[1], SIP_UDP);

	naptr(&v[0], 50, 10, "s", "SIP+D2T", "_sip._tcp.far.test");
	naptr(&v[1], 60, 10, "s", "SIP+D2U", "_sip._udp.far.test");
	k = sip_naptr_select(v, 2, true, p);
	assert_int_equal(k, 2);
	assert_int_equal(p[0], SIP_TCP);
	assert_int_equal(p[1], SIP_UDP);
	k = sip_naptr_select(v, 2, false, p);
	assert_int_equal(k, 1);
	assert_string_equal(v[0].replacement, "_sip._udp.far.test");
	assert_int_equal(sip_naptr_select(v, 0, true, p), 0);
}

/* ---- the resolver itself ---- */

struct done {
	pthread_mutex_t mu;
	pthread_cond_t cv;
	bool done;
};

static struct done dn = {PTHREAD_MUTEX_INITIALIZER, PTHREAD_COND_INITIALIZER,
			 false};

static void on_done(struct sip_resolve_query *q)
{
	(void)q;
	pthread_mutex_lock(&dn.mu);
	dn.done = true;
	pthread_cond_signal(&dn.cv);
	pthread_mutex_unlock(&dn.mu);
}

static void resolver(void **state)
{
	struct sip_resolver *r = NULL;
	struct sip_resolve_query q;
	struct sockaddr_in sa = {.sin_family = AF_INET};
	socklen_t sl = sizeof(sa);
	char servers[64];
	int mute = socket(AF_INET, SOCK_DGRAM, 0);
	int64_t t0;

	(void)state;
	/* Servers that are not addresses are refused at once. */
	assert_int_equal(
	    sip_resolver_new(
		&r, &(struct sip_resolver_opts){.servers = "dns.example:53"}),
	    EINVAL);
	assert_null(r);
	/* A server that never answers: ETIMEDOUT by the deadline. */
	sa.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	assert_int_equal(bind(mute, (struct sockaddr *)&sa, sizeof(sa)), 0);
	assert_int_equal(getsockname(mute, (struct sockaddr *)&sa, &sl), 0);
	snprintf(servers, sizeof(servers), "127.0.0.1:%u", ntohs(sa.sin_port));
	assert_int_equal(sip_resolver_new(&r,
					  &(struct sip_resolver_opts){
					      .servers = servers,
					      .timeout_ms = 400,
					      .family = AF_INET,
					  }),
			 0);
	memset(&q, 0, sizeof(q));
	strcpy(q.host, "bad_name.test");
	assert_int_equal(sip_resolve(r, &q, on_done), EINVAL);
	strcpy(q.host, "192.0.2.1"); /* numeric: not for the resolver */
	assert_int_equal(sip_resolve(r, &q, on_done), EINVAL);
	strcpy(q.host, "far.test");
	q.proto = -1;
	t0 = base_time_mono_ms();
	assert_int_equal(sip_resolve(r, &q, on_done), 0);
	pthread_mutex_lock(&dn.mu);
	while (!dn.done)
		pthread_cond_wait(&dn.cv, &dn.mu);
	pthread_mutex_unlock(&dn.mu);
	assert_int_equal(q.err, ETIMEDOUT);
	assert_int_equal(q.n, 0);
	assert_true(base_time_mono_ms() - t0 >= 350);
	assert_true(base_time_mono_ms() - t0 < 3000);
	sip_resolver_free(r);
	close(mute);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(hosts),
	    cmocka_unit_test(srv_order),
	    cmocka_unit_test(naptr_select),
	    cmocka_unit_test(resolver),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
