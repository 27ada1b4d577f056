/*
 * fuzz_sip_path.c - libFuzzer harness for what stateless forwarding parses
 * of other nodes' and phones' messages: the input as a Route list
 * (sip_route_split, repeated on its rest), as URI parameters
 * (sip_param_get), as a connection token (sip_path_token_check) and as a
 * path (sip_path_hop). Traps on broken invariants: every slice lies inside
 * the input, rest strictly shrinks, and no input but a token we made
 * checks.
 */
#include <errno.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "sip/path.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

#define CHECK(cond)                                                         \
	do {                                                                \
		if (!(cond)) {                                              \
			fprintf(stderr, "invariant failed: %s (line %d)\n", \
				#cond, __LINE__);                           \
			__builtin_trap();                                   \
		}                                                           \
	} while (0)

static bool inside(struct sip_str s, const char *p, size_t n)
{
	return !s.p || (s.p >= p && s.p + s.n <= p + n);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static struct sip_path_key k;
	static bool init;
	char *p = malloc(size + 1);
	struct sip_str in = {p, size}, uri, rest, v;
	struct sockaddr_storage up, ss;
	socklen_t uplen, sl;
	uint64_t conn;
	bool self;

	if (!p)
		return 0;
	if (!init) {
		sip_path_key_init(&k, "fuzz-secret-0123", 16, "10.0.0.1:5060");
		init = true;
	}
	memcpy(p, data, size);
	p[size] = '\0';
	for (struct sip_str l = in; l.p && l.n;) {
		if (sip_route_split(l, &uri, &rest))
			break;
		CHECK(inside(uri, p, size) && inside(rest, p, size));
		CHECK(!rest.p || rest.n < l.n);
		l = rest;
	}
	v = sip_param_get(in, "sw");
	CHECK(inside(v, p, size));
	/* a random input is never a token of ours (128-bit MAC) */
	CHECK(sip_path_token_check(&k, in, &conn, &up, &uplen) == EACCES);
	if (!memchr(p, '\0', size))
		(void)sip_path_hop(&k, p, &ss, &sl, &self);
	free(p);
	return 0;
}
