/*
 * fuzz_sip_resolve.c - libFuzzer harness for the pure parts of RFC 3263
 * server location: sip_host_kind on the input as a host (a name it accepts
 * is 1-253 bytes of letters, digits, '-' and '.', and an address parses as
 * one), then the input split on newlines as NAPTR records ("order pref
 * flags service replacement") for sip_naptr_select and as SRV records
 * ("prio weight target") for sip_srv_order. Traps on broken invariants:
 * selected NAPTRs are sorted and each one was acceptable, SRV order keeps
 * every record once and priorities ascending.
 */
#include <arpa/inet.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "sip/resolve.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

#define CHECK(cond)                                                         \
	do {                                                                \
		if (!(cond)) {                                              \
			fprintf(stderr, "invariant failed: %s (line %d)\n", \
				#cond, __LINE__);                           \
			__builtin_trap();                                   \
		}                                                           \
	} while (0)

static uint32_t rnd(void *ctx)
{
	uint32_t *x = ctx;

	*x = *x * 1664525u + 1013904223u;
	return *x;
}

static void host(const char *p, size_t n)
{
	enum sip_host_kind k = sip_host_kind(p, n);
	char buf[300];

	if (k == SIP_HOST_NAME) {
		CHECK(n >= 1 && n <= 254);
		for (size_t i = 0; i < n; i++)
			CHECK((p[i] >= 'a' && p[i] <= 'z') ||
			      (p[i] >= 'A' && p[i] <= 'Z') ||
			      (p[i] >= '0' && p[i] <= '9') || p[i] == '-' ||
			      p[i] == '.');
		CHECK(p[0] != '.' && p[0] != '-');
	}
	if (k == SIP_HOST_IPV4 || k == SIP_HOST_IPV6) {
		unsigned char a[16];
		CHECK(n < sizeof(buf));
		memcpy(buf, p, n);
		buf[n] = '\0';
		CHECK(inet_pton(k == SIP_HOST_IPV4 ? AF_INET : AF_INET6, buf,
				a) == 1);
	}
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct sip_naptr nv[SIP_RESOLVE_RR_MAX];
	struct sip_srv sv[SIP_RESOLVE_RR_MAX];
	enum sip_proto proto[SIP_RESOLVE_RR_MAX];
	unsigned nn = 0, ns = 0, k, sum = 0, sum2 = 0;
	uint32_t x = 1;
	char *s = malloc(size + 1), *line, *save = NULL;

	if (!s)
		return 0;
	host((const char *)data, size);
	memcpy(s, data, size);
	s[size] = '\0';
	for (line = strtok_r(s, "\n", &save); line;
	     line = strtok_r(NULL, "\n", &save)) {
		unsigned a, b;
		char f[8], sv_[32], r[SIP_RESOLVE_HOST_MAX + 2];
		if (nn < SIP_RESOLVE_RR_MAX &&
		    sscanf(line, "%u %u %7s %31s %254s", &a, &b, f, sv_, r) ==
			5) {
			memset(&nv[nn], 0, sizeof(nv[nn]));
			nv[nn].order = a;
			nv[nn].preference = b;
			memcpy(nv[nn].flags, f, sizeof(f));
			memcpy(nv[nn].service, sv_, sizeof(sv_));
			snprintf(nv[nn].replacement, sizeof(nv[nn].replacement),
				 "%s", r);
			nv[nn].has_regexp = a & 1024;
			nn++;
		} else if (ns < SIP_RESOLVE_RR_MAX &&
			   sscanf(line, "%u %u %254s", &a, &b, r) == 3) {
			memset(&sv[ns], 0, sizeof(sv[ns]));
			sv[ns].priority = a & 0xffff;
			sv[ns].weight = b & 0xffff;
			sv[ns].port = ns;
			snprintf(sv[ns].target, sizeof(sv[ns].target), "%s", r);
			sum += ns;
			ns++;
		}
	}
	k = sip_naptr_select(nv, nn, size & 1, proto);
	CHECK(k <= nn);
	for (unsigned i = 0; i < k; i++) {
		CHECK(strcasecmp(nv[i].flags, "s") == 0 && !nv[i].has_regexp);
		CHECK(proto[i] == SIP_UDP || (size & 1));
		if (i)
			CHECK(nv[i - 1].order < nv[i].order ||
			      (nv[i - 1].order == nv[i].order &&
			       nv[i - 1].preference <= nv[i].preference));
	}
	sip_srv_order(sv, ns, rnd, &x);
	for (unsigned i = 0; i < ns; i++) {
		sum2 += sv[i].port;
		if (i)
			CHECK(sv[i - 1].priority <= sv[i].priority);
	}
	CHECK(sum == sum2);
	free(s);
	return 0;
}
