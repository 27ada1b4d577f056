/* test_sip_path.c - connection tokens, path URIs, Route and parameter parsing.
 */
#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>

#include <cmocka.h>

#include "sip/path.h"

static const char secret[] = "a-secret-shared-by-all-nodes";

static struct sip_str S(const char *s) {
	return (struct sip_str){s, strlen(s)};
}

static void
key(struct sip_path_key *k, const char *self)
{
	assert_int_equal(sip_path_key_init(k, secret, sizeof(secret) - 1, self),
			 0);
}

static void test_round_trip(void **state)
{
	struct sip_path_key k;
	struct sockaddr_storage up;
	struct sockaddr_in b = {.sin_family = AF_INET, .sin_port = htons(5070)};
	struct sockaddr_in6 b6 = {.sin6_family = AF_INET6,
				  .sin6_port = htons(5071)};
	socklen_t uplen = 99;
	uint64_t conn = 0, id = (uint64_t)7 << 32 | 3;
	char tok[SIP_PATH_TOKEN_MAX + 1];

	(void)state;
	key(&k, "10.0.0.1:5060");
	/* without an upstream address (a binding's path) */
	assert_int_equal(sip_path_token_make(&k, id, NULL, tok, sizeof(tok)),
			 0);
	assert_int_equal(strlen(tok), 56);
	assert_int_equal(sip_path_token_check(&k, S(tok), &conn, &up, &uplen),
			 0);
	assert_true(conn == id);
	assert_int_equal(uplen, 0);
	/* with one (a Record-Route), IPv4 and IPv6 */
	inet_pton(AF_INET, "10.0.0.2", &b.sin_addr);
	assert_int_equal(sip_path_token_make(&k, id, (struct sockaddr *)&b, tok,
					     sizeof(tok)),
			 0);
	assert_int_equal(sip_path_token_check(&k, S(tok), &conn, &up, &uplen),
			 0);
	assert_int_equal(uplen, sizeof(b));
	assert_memory_equal(&up, &b, sizeof(b));
	inet_pton(AF_INET6, "2001:db8::2", &b6.sin6_addr);
	assert_int_equal(sip_path_token_make(&k, id, (struct sockaddr *)&b6,
					     tok, sizeof(tok)),
			 0);
	assert_int_equal(sip_path_token_check(&k, S(tok), &conn, &up, &uplen),
			 0);
	assert_int_equal(uplen, sizeof(b6));
	assert_memory_equal(&up, &b6, sizeof(b6));
	/* too small a buffer; no connection; no address of ours */
	assert_int_equal(sip_path_token_make(&k, id, NULL, tok, 20), ERANGE);
	assert_int_equal(sip_path_token_make(&k, 0, NULL, tok, sizeof(tok)),
			 EINVAL);
	key(&k, "");
	assert_int_equal(sip_path_token_make(&k, id, NULL, tok, sizeof(tok)),
			 EINVAL);
}

static void test_forged(void **state)
{
	struct sip_path_key k, other, later, wrong;
	struct sockaddr_storage up;
	socklen_t uplen = 0;
	uint64_t conn = 42, id = (uint64_t)1 << 32 | 1;
	char tok[SIP_PATH_TOKEN_MAX + 1], bad[SIP_PATH_TOKEN_MAX + 1];

	(void)state;
	key(&k, "10.0.0.1:5060");
	key(&other, "10.0.0.9:5060"); /* another node, same secret */
	later = k;
	later.epoch ^= 1; /* the same node after a restart */
	assert_int_equal(
	    sip_path_key_init(&wrong, "another-secret", 14, "10.0.0.1:5060"),
	    0);
	wrong.epoch = k.epoch;
	assert_int_equal(sip_path_token_make(&k, id, NULL, tok, sizeof(tok)),
			 0);
	/* every single hex digit changed is refused */
	for (size_t i = 0; i < strlen(tok); i++) {
		snprintf(bad, sizeof(bad), "%s", tok);
		bad[i] = bad[i] == '0' ? '1' : '0';
		assert_int_equal(
		    sip_path_token_check(&k, S(bad), &conn, &up, &uplen),
		    EACCES);
	}
	/* the connection id of another connection: refused (its MAC) */
	assert_int_equal(conn, 42); /* outputs untouched on failure */
	assert_int_equal(
	    sip_path_token_check(&other, S(tok), &conn, &up, &uplen), EACCES);
	assert_int_equal(
	    sip_path_token_check(&wrong, S(tok), &conn, &up, &uplen), EACCES);
	assert_int_equal(
	    sip_path_token_check(&later, S(tok), &conn, &up, &uplen), ESTALE);
	/* malformed */
	assert_int_equal(sip_path_token_check(&k, S(""), &conn, &up, &uplen),
			 EACCES);
	assert_int_equal(
	    sip_path_token_check(&k, (struct sip_str){0}, &conn, &up, &uplen),
	    EACCES);
	snprintf(bad, sizeof(bad), "%s", tok);
	bad[3] = 'A'; /* upper case is not what we write */
	assert_int_equal(sip_path_token_check(&k, S(bad), &conn, &up, &uplen),
			 EACCES);
	bad[55] = '\0';
	assert_int_equal(sip_path_token_check(&k, S(bad), &conn, &up, &uplen),
			 EACCES);
	assert_int_equal(conn, 42);
}

static void test_uri_and_hop(void **state)
{
	struct sip_path_key k;
	struct sockaddr_storage ss;
	socklen_t sl;
	char uri[SIP_PATH_URI_MAX], text[64];
	bool self = true;

	(void)state;
	key(&k, "10.0.0.1:5060");
	assert_int_equal(sip_path_uri(&k, 5, NULL, uri, sizeof(uri)), 0);
	assert_int_equal(strncmp(uri, "<sip:10.0.0.1:5060;lr;sw=", 25), 0);
	assert_int_equal(uri[strlen(uri) - 1], '>');
	assert_int_equal(sip_path_hop(&k, uri, &ss, &sl, &self), 0);
	assert_true(self);
	assert_int_equal(
	    sip_path_hop(&k, "<sip:10.0.0.2:5070;lr;sw=ab>", &ss, &sl, &self),
	    0);
	assert_false(self);
	assert_int_equal(ntohs(((struct sockaddr_in *)&ss)->sin_port), 5070);
	inet_ntop(AF_INET, &((struct sockaddr_in *)&ss)->sin_addr, text,
		  sizeof(text));
	assert_string_equal(text, "10.0.0.2");
	/* no port: 5060, which is ours */
	assert_int_equal(
	    sip_path_hop(&k, "<sip:10.0.0.1;lr;sw=ab>", &ss, &sl, &self), 0);
	assert_true(self);
	/* IPv6 */
	key(&k, "[2001:db8::1]:5060");
	assert_int_equal(sip_path_hop(&k, "<sip:[2001:db8::1]:5060;lr;sw=ab>",
				      &ss, &sl, &self),
			 0);
	assert_true(self);
	/* names, garbage */
	assert_int_equal(
	    sip_path_hop(&k, "<sip:node-a.example;lr>", &ss, &sl, &self),
	    EINVAL);
	assert_int_equal(sip_path_hop(&k, "sip:10.0.0.1", &ss, &sl, &self),
			 EINVAL);
	assert_int_equal(sip_path_hop(&k, "", &ss, &sl, &self), EINVAL);
}

static void test_route_split(void **state)
{
	struct sip_str uri, rest;

	(void)state;
	assert_int_equal(
	    sip_route_split(S("<sip:a;lr>, \"x,y\" <sip:b;lr>"), &uri, &rest),
	    0);
	assert_int_equal(uri.n, 8);
	assert_memory_equal(uri.p, "sip:a;lr", 8);
	assert_int_equal(rest.n, 16);
	assert_memory_equal(rest.p, "\"x,y\" <sip:b;lr>", 16);
	assert_int_equal(sip_route_split(rest, &uri, &rest), 0);
	assert_memory_equal(uri.p, "sip:b;lr", 8);
	assert_null(rest.p);
	assert_int_equal(sip_route_split(S("<sip:a,b;lr>;x=1"), &uri, &rest),
			 0);
	assert_int_equal(uri.n, 10);
	assert_null(rest.p);
	assert_int_equal(sip_route_split(S("sip:a;lr"), &uri, &rest), EBADMSG);
	assert_int_equal(sip_route_split(S("<sip:a;lr"), &uri, &rest), EBADMSG);
	assert_int_equal(sip_route_split(S("\"x <sip:a>"), &uri, &rest),
			 EBADMSG);
	assert_int_equal(sip_route_split((struct sip_str){0}, &uri, &rest),
			 EBADMSG);
}

static void test_param_get(void **state)
{
	struct sip_str v;

	(void)state;
	v = sip_param_get(S(";lr;sw=abc ; X=1"), "sw");
	assert_int_equal(v.n, 3);
	assert_memory_equal(v.p, "abc", 3);
	v = sip_param_get(S("lr;SW = d"), "sw");
	assert_int_equal(v.n, 1);
	v = sip_param_get(S(";lr;sw=abc"), "lr");
	assert_non_null(v.p);
	assert_int_equal(v.n, 0);
	assert_null(sip_param_get(S(";lr;swx=1;s=2"), "sw").p);
	assert_null(sip_param_get(S(""), "sw").p);
	assert_null(sip_param_get((struct sip_str){0}, "sw").p);
	assert_null(sip_param_get(S("=x;;"), "sw").p);
}

static void test_branch(void **state)
{
	struct sip_path_key k;
	struct sip_via v = {.branch = S("z9hG4bKabc"),
			    .host = S("10.0.0.2"),
			    .port = 5070,
			    .received = S("10.0.0.3"),
			    .rport_value = 5071};
	char a[SIP_PATH_BRANCH_MAX], b[SIP_PATH_BRANCH_MAX];

	(void)state;
	key(&k, "10.0.0.1:5060");
	assert_int_equal(sip_path_branch(&k, &v, a, sizeof(a)), 0);
	assert_int_equal(
	    strncmp(a, SIP_PATH_BRANCH_PREFIX, strlen(SIP_PATH_BRANCH_PREFIX)),
	    0);
	/* the same for the same Via (retransmission, CANCEL, ACK) */
	assert_int_equal(sip_path_branch(&k, &v, b, sizeof(b)), 0);
	assert_string_equal(a, b);
	assert_true(sip_path_branch_ok(&k, S(a), &v));
	/* another Via below ours: not ours */
	v.rport_value = 5072;
	assert_false(sip_path_branch_ok(&k, S(a), &v));
	v.rport_value = 5071;
	v.branch = S("z9hG4bKabd");
	assert_false(sip_path_branch_ok(&k, S(a), &v));
	assert_int_equal(sip_path_branch(&k, NULL, b, sizeof(b)), 0);
	assert_true(sip_path_branch_ok(&k, S(b), NULL));
	assert_false(sip_path_branch_ok(&k, (struct sip_str){0}, NULL));
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_round_trip),
	    cmocka_unit_test(test_forged),
	    cmocka_unit_test(test_uri_and_hop),
	    cmocka_unit_test(test_route_split),
	    cmocka_unit_test(test_param_get),
	    cmocka_unit_test(test_branch),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
