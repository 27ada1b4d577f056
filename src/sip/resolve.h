/*
 * resolve.h - where a SIP request to another domain goes (RFC 3263): a
 * numeric host as it is, a name with a port by its A (or AAAA) records, a
 * name alone by NAPTR, then SRV (RFC 2782 order), then A/AAAA on port
 * 5060. Lookups are blocking c-ares queries made on a pool of workers of
 * the resolver's own, under one deadline per resolution, so that neither
 * the caller's thread nor the store's workers ever wait on DNS.
 */
#ifndef SIP_RESOLVE_H
#define SIP_RESOLVE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "base/pool.h"
#include "sip/transport.h"

#define SIP_RESOLVE_HOST_MAX 253 /* a DNS name, without the final dot */
#define SIP_RESOLVE_TARGETS 8	 /* addresses kept per resolution */
#define SIP_RESOLVE_RR_MAX 8	 /* NAPTR or SRV records kept per answer */

/* What a host of a Request-URI is. */
enum sip_host_kind {
	SIP_HOST_BAD,  /* neither an address nor a usable DNS name */
	SIP_HOST_IPV4, /* a.b.c.d */
	SIP_HOST_IPV6, /* an IPv6 address (the URI's brackets removed) */
	SIP_HOST_NAME, /* labels of letters, digits and '-' */
};

/*
 * Classifies host (n bytes, not NUL-terminated, from a hostile URI): a
 * name is 1-253 bytes of dot-separated labels of 1-63 letters, digits and
 * '-' (not first or last in a label), with at least one letter somewhere
 * so that it cannot be a mangled address; one final dot is allowed.
 */
enum sip_host_kind sip_host_kind(const char *host, size_t n);

/* One SRV record (RFC 2782), as kept for ordering. */
struct sip_srv {
	unsigned priority, weight, port;
	char target[SIP_RESOLVE_HOST_MAX + 2];
};

/*
 * Sorts v (n records) in the order RFC 2782 says to try them: priority
 * ascending, and within a priority a weighted random order (a weight-0
 * record is picked rarely, but can be). rnd returns a uniform 32-bit number.
 */
void sip_srv_order(struct sip_srv *v, unsigned n, uint32_t (*rnd)(void *),
		   void *rnd_ctx);

/* One NAPTR record (RFC 3403), as kept for selection. */
struct sip_naptr {
	unsigned order, preference;
	char flags[8];
	char service[32];
	bool has_regexp; /* a non-empty regexp: not for SIP (RFC 3263 4.1) */
	char replacement[SIP_RESOLVE_HOST_MAX + 2];
};

/*
 * Keeps the records of v (n of them) a SIP client may follow, in the order
 * to try them (order, then preference): flag "s", service SIP+D2U (UDP) or,
 * when tcp, SIP+D2T, no regexp, a replacement that is a valid name (its
 * labels may start with '_', as _sip._udp.example.com). Writes
 * each one's transport into proto[]; returns how many were kept (moved to
 * the front of v).
 */
unsigned sip_naptr_select(struct sip_naptr *v, unsigned n, bool tcp,
			  enum sip_proto *proto);

/* The resolver: its workers and the DNS servers they ask. */
struct sip_resolver;

struct sip_resolver_opts {
	/* "IP[:PORT],[IP6]:PORT,..." or "" for /etc/resolv.conf. */
	const char *servers;
	unsigned timeout_ms; /* one resolution, all its queries together */
	unsigned workers;
	unsigned queue_max;
	int family; /* AF_INET or AF_INET6: the addresses we can send to */
	bool tcp;   /* whether TCP targets are wanted */
};

/* A resolution: filled in by the caller, completed by a worker. */
struct sip_resolve_query {
	/* In. */
	char host[SIP_RESOLVE_HOST_MAX + 2]; /* a name (sip_host_kind) */
	unsigned port;			     /* 0 when the URI had none */
	int proto; /* -1: any (NAPTR decides); else enum sip_proto */
	/* Out: 0 with n > 0 targets in the order to try; ENOENT (no such
	 * domain, or no usable record), ETIMEDOUT (no answer in time), EIO
	 * (a DNS server failed or too many queries were needed), ENOMEM.
	 * Only addresses of the resolver's family are kept. */
	int err;
	unsigned n;
	struct sip_peer t[SIP_RESOLVE_TARGETS];
	unsigned queries; /* DNS queries made */
	/* The resolver's. */
	struct base_pool_job job;
	struct sip_resolver *r;
	void (*done)(struct sip_resolve_query *q);
};

/* Starts the workers; checks opts->servers. 0, EINVAL or an errno. */
int sip_resolver_new(struct sip_resolver **out,
		     const struct sip_resolver_opts *o);

/*
 * Queues q; done(q) is then called on a worker thread once q's fields
 * "Out" are set (the caller owns q throughout and must keep it until
 * then). 0, EINVAL (q->host not a name), or EAGAIN (queue full: done will
 * not be called).
 */
int sip_resolve(struct sip_resolver *r, struct sip_resolve_query *q,
		void (*done)(struct sip_resolve_query *q));

/* Runs the queued resolutions, then stops the workers (r stays valid, later
 * calls get EAGAIN). Idempotent. */
void sip_resolver_drain(struct sip_resolver *r);

/* Drains and frees r (NULL is fine). */
void sip_resolver_free(struct sip_resolver *r);

#endif
