/* test_sip_build.c - the message builder: requests, responses, caps. */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include <cmocka.h>

#include "sip/build.h"
#include "sip/msg.h"

static const char *const routes[] = {"<sip:p1.example.net;lr>",
				     "<sip:p2.example.net;lr>"};

static struct sip_req invite(void)
{
	struct sip_req r = {
	    .method = "INVITE",
	    .ruri = "sip:bob@example.com",
	    .via_host = "10.0.0.1",
	    .via_port = 5060,
	    .from = "\"Alice\" <sip:alice@example.com>",
	    .from_tag = "ftag1",
	    .to = "<sip:bob@example.com>",
	    .call_id = "cid-1@10.0.0.1",
	    .cseq = 7,
	    .contact = "<sip:alice@10.0.0.1:5060>",
	    .max_forwards = -1,
	    .route = routes,
	    .nroute = 2,
	    .headers = "X-PH-a: 1\r\nAllow: INVITE, ACK, BYE\r\n",
	    .content_type = "application/sdp",
	    .body = {"v=0\r\n", 5},
	};
	return r;
}

static void test_request_round_trip(void **state)
{
	char mem[2048], branch[SIP_BRANCH_LEN + 1];
	struct sip_req r = invite();
	struct sip_buf b;
	struct sip_msg m;

	(void)state;
	r.branch_out = branch;
	sip_buf_init(&b, mem, sizeof(mem));
	assert_int_equal(sip_build_request(&b, &r), 0);
	assert_int_equal(strlen(branch), SIP_BRANCH_LEN);
	assert_memory_equal(branch, "z9hG4bK", 7);
	assert_int_equal(sip_msg_parse(&m, mem, b.len), 0);
	assert_true(m.is_request);
	assert_true(sip_str_eq(m.method, "INVITE"));
	assert_true(sip_str_eq(m.ruri_raw, "sip:bob@example.com"));
	assert_int_equal(m.nvia, 1);
	assert_true(sip_str_eq(m.via[0].branch, branch));
	assert_true(m.via[0].rport);
	assert_int_equal(m.via[0].port, 5060);
	assert_true(sip_str_eq(m.from.tag, "ftag1"));
	assert_null(m.to.tag.p);
	assert_true(sip_str_eq(m.call_id, "cid-1@10.0.0.1"));
	assert_int_equal(m.cseq, 7);
	assert_int_equal(m.max_forwards, SIP_MAX_FORWARDS);
	assert_int_equal(m.ncontact, 1);
	assert_true(sip_str_eq(m.content_type, "application/sdp"));
	assert_true(sip_str_eq(m.body, "v=0\r\n"));
	assert_non_null(strstr(mem, "Route: <sip:p1.example.net;lr>\r\n"
				    "Route: <sip:p2.example.net;lr>\r\n"));
	assert_non_null(strstr(mem, "X-PH-a: 1\r\n"));
}

static void test_request_fixed_branch_ipv6_ack(void **state)
{
	char mem[1024];
	struct sip_req r = invite();
	struct sip_buf b;
	struct sip_msg m;

	(void)state;
	r.method = "ACK";
	r.branch = "z9hG4bKfixed";
	r.via_host = "2001:db8::1";
	r.transport = "TCP";
	r.to_tag = "tt";
	r.nroute = 0;
	r.headers = NULL;
	r.body = (struct sip_str){0};
	r.max_forwards = 0;
	sip_buf_init(&b, mem, sizeof(mem));
	assert_int_equal(sip_build_request(&b, &r), 0);
	assert_non_null(strstr(mem, "Via: SIP/2.0/TCP [2001:db8::1]:5060;"
				    "branch=z9hG4bKfixed;rport\r\n"));
	assert_non_null(strstr(mem, "CSeq: 7 ACK\r\n"));
	assert_non_null(strstr(mem, "Content-Length: 0\r\n\r\n"));
	assert_int_equal(sip_msg_parse(&m, mem, b.len), 0);
	assert_true(sip_str_eq(m.to.tag, "tt"));
	assert_int_equal(m.max_forwards, 0);
}

static void test_request_rejects_injection(void **state)
{
	char mem[1024];
	struct sip_req r;
	struct sip_buf b;

	(void)state;
	sip_buf_init(&b, mem, sizeof(mem));
	r = invite();
	r.from = "<sip:a@b>\r\nX-Evil: 1";
	assert_int_equal(sip_build_request(&b, &r), EINVAL);
	r = invite();
	r.headers = "X-A: 1\r\n\r\nBODY";
	assert_int_equal(sip_build_request(&b, &r), EINVAL);
	r = invite();
	r.headers = "X-A: 1\n";
	assert_int_equal(sip_build_request(&b, &r), EINVAL);
	r = invite();
	r.method = "IN VITE";
	assert_int_equal(sip_build_request(&b, &r), EINVAL);
	r = invite();
	r.content_type = NULL;
	assert_int_equal(sip_build_request(&b, &r), EINVAL);
	r = invite();
	r.call_id = NULL;
	assert_int_equal(sip_build_request(&b, &r), EINVAL);
	r = invite();
	r.route = (const char *const[]){"<sip:p;lr>\r\n"};
	r.nroute = 1;
	assert_int_equal(sip_build_request(&b, &r), EINVAL);
}

static void test_request_cap(void **state)
{
	char mem[2048];
	struct sip_req r = invite();
	struct sip_buf b;
	size_t full;

	(void)state;
	sip_buf_init(&b, mem, sizeof(mem));
	assert_int_equal(sip_build_request(&b, &r), 0);
	full = b.len;
	/* one byte short (the NUL is kept too) */
	sip_buf_init(&b, mem, full);
	assert_int_equal(sip_build_request(&b, &r), E2BIG);
	sip_buf_init(&b, mem, full + 1);
	assert_int_equal(sip_build_request(&b, &r), 0);
	assert_int_equal(b.len, full);
}

static void test_ids(void **state)
{
	char a[SIP_BRANCH_LEN + 1], c[SIP_BRANCH_LEN + 1], t[SIP_TAG_LEN + 1];
	char id[64];

	(void)state;
	assert_int_equal(sip_build_branch(a, sizeof(a)), 0);
	assert_int_equal(sip_build_branch(c, sizeof(c)), 0);
	assert_string_not_equal(a, c);
	assert_int_equal(sip_build_branch(a, SIP_BRANCH_LEN), ERANGE);
	assert_int_equal(sip_build_tag(t, sizeof(t)), 0);
	assert_int_equal(strlen(t), SIP_TAG_LEN);
	assert_int_equal(sip_build_call_id(id, sizeof(id), "h.example"), 0);
	assert_int_equal(strlen(id), SIP_CALL_ID_LEN + 10);
	assert_string_equal(id + SIP_CALL_ID_LEN, "@h.example");
	assert_int_equal(sip_build_call_id(id, 20, NULL), ERANGE);
}

static const char req_text[] =
    "INVITE sip:bob@example.com SIP/2.0\r\n"
    "Via: SIP/2.0/UDP 192.168.1.2:5062;branch=z9hG4bKabc;rport\r\n"
    "Via: SIP/2.0/UDP proxy.example;branch=z9hG4bKp1\r\n"
    "From: <sip:alice@example.com>;tag=a1\r\n"
    "To: <sip:bob@example.com>\r\n"
    "Call-ID: c1\r\n"
    "CSeq: 3 INVITE\r\n"
    "Content-Length: 0\r\n\r\n";

static void test_response(void **state)
{
	char in[sizeof(req_text)], mem[2048];
	struct sip_msg req, m;
	struct sip_buf b;
	struct sip_resp r = {.code = 180, .to_tag = "bt"};

	(void)state;
	memcpy(in, req_text, sizeof(req_text));
	assert_int_equal(sip_msg_parse(&req, in, sizeof(req_text) - 1), 0);
	sip_buf_init(&b, mem, sizeof(mem));
	assert_int_equal(sip_build_response(&b, &req, "203.0.113.9", 40000, &r),
			 0);
	assert_non_null(strstr(mem, "SIP/2.0 180 Ringing\r\n"));
	assert_non_null(strstr(mem, "Via: SIP/2.0/UDP 192.168.1.2:5062;"
				    "branch=z9hG4bKabc;received=203.0.113.9;"
				    "rport=40000\r\n"
				    "Via: SIP/2.0/UDP proxy.example;"
				    "branch=z9hG4bKp1\r\n"));
	assert_int_equal(sip_msg_parse(&m, mem, b.len), 0);
	assert_false(m.is_request);
	assert_int_equal(m.status, 180);
	assert_true(sip_str_eq(m.to.tag, "bt"));
	assert_true(sip_str_eq(m.from.tag, "a1"));
	assert_int_equal(m.cseq, 3);
	assert_true(sip_str_eq(m.cseq_method, "INVITE"));

	/* 100 Trying never gets a tag; src_ip NULL keeps the Via as is */
	r = (struct sip_resp){.code = 100, .to_tag = "bt"};
	assert_int_equal(sip_build_response(&b, &req, NULL, 0, &r), 0);
	assert_null(strstr(mem, "tag=bt"));
	assert_non_null(strstr(mem, "branch=z9hG4bKabc;rport\r\n"));

	/* a body, a contact, a custom reason */
	r = (struct sip_resp){.code = 200,
			      .reason = "Fine",
			      .to_tag = "bt",
			      .contact = "<sip:b@10.0.0.2>",
			      .content_type = "application/sdp",
			      .body = {"v=0\r\n", 5}};
	assert_int_equal(sip_build_response(&b, &req, NULL, 0, &r), 0);
	assert_non_null(strstr(mem, "SIP/2.0 200 Fine\r\n"));
	assert_non_null(strstr(mem, "Contact: <sip:b@10.0.0.2>\r\n"));
	assert_non_null(strstr(mem, "Content-Type: application/sdp\r\n"
				    "Content-Length: 5\r\n\r\nv=0\r\n"));

	r = (struct sip_resp){.code = 99};
	assert_int_equal(sip_build_response(&b, &req, NULL, 0, &r), EINVAL);
	r = (struct sip_resp){.code = 486, .reason = "Busy\r\nX: y"};
	assert_int_equal(sip_build_response(&b, &req, NULL, 0, &r), EINVAL);
	assert_string_equal(sip_build_reason(487), "Request Terminated");
	assert_string_equal(sip_build_reason(299), "Unknown");
}

/* A request whose To has a tag keeps it (in-dialog). */
static void test_response_keeps_to_tag(void **state)
{
	static const char text[] = "BYE sip:b@h SIP/2.0\r\n"
				   "Via: SIP/2.0/TCP h;branch=z9hG4bKx\r\n"
				   "From: <sip:a@h>;tag=a\r\n"
				   "To: <sip:b@h>;tag=orig\r\n"
				   "Call-ID: c\r\nCSeq: 9 BYE\r\n\r\n";
	char in[sizeof(text)], mem[1024];
	struct sip_msg req;
	struct sip_buf b;
	struct sip_resp r = {.code = 200, .to_tag = "new"};

	(void)state;
	memcpy(in, text, sizeof(text));
	assert_int_equal(sip_msg_parse(&req, in, sizeof(text) - 1), 0);
	sip_buf_init(&b, mem, sizeof(mem));
	assert_int_equal(sip_build_response(&b, &req, "1.2.3.4", 5, &r), 0);
	assert_non_null(strstr(mem, "To: <sip:b@h>;tag=orig\r\n"));
	assert_null(strstr(mem, "new"));
	/* no rport asked: only received= */
	assert_non_null(strstr(mem, "branch=z9hG4bKx;received=1.2.3.4\r\n"));
}

/* The parser keeps Record-Route values and Content-Type. */
static void test_parse_record_route(void **state)
{
	static const char text[] =
	    "SIP/2.0 200 OK\r\n"
	    "Via: SIP/2.0/UDP h;branch=z9hG4bKx\r\n"
	    "Record-Route: <sip:p1;lr>, \"P\" <sip:p2;lr>;x=1\r\n"
	    "Record-Route: <sip:p3;lr>\r\n"
	    "From: <sip:a@h>;tag=a\r\nTo: <sip:b@h>;tag=b\r\n"
	    "Call-ID: c\r\nCSeq: 1 INVITE\r\nc: text/plain\r\n\r\nhi";
	static const char bad[] = "SIP/2.0 200 OK\r\n"
				  "Via: SIP/2.0/UDP h;branch=z9hG4bKx\r\n"
				  "Record-Route: sip:p1;lr\r\n"
				  "From: <sip:a@h>;tag=a\r\nTo: <sip:b@h>\r\n"
				  "Call-ID: c\r\nCSeq: 1 INVITE\r\n\r\n";
	char in[sizeof(text)], in2[sizeof(bad)];
	struct sip_msg m;

	(void)state;
	memcpy(in, text, sizeof(text));
	assert_int_equal(sip_msg_parse(&m, in, sizeof(text) - 1), 0);
	assert_int_equal(m.nrroute, 3);
	assert_true(sip_str_eq(m.rroute[0], "<sip:p1;lr>"));
	assert_true(sip_str_eq(m.rroute[1], "\"P\" <sip:p2;lr>;x=1"));
	assert_true(sip_str_eq(m.rroute[2], "<sip:p3;lr>"));
	assert_true(sip_str_eq(m.content_type, "text/plain"));
	memcpy(in2, bad, sizeof(bad));
	assert_int_equal(sip_msg_parse(&m, in2, sizeof(bad) - 1), EBADMSG);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_request_round_trip),
	    cmocka_unit_test(test_request_fixed_branch_ipv6_ack),
	    cmocka_unit_test(test_request_rejects_injection),
	    cmocka_unit_test(test_request_cap),
	    cmocka_unit_test(test_ids),
	    cmocka_unit_test(test_response),
	    cmocka_unit_test(test_response_keeps_to_tag),
	    cmocka_unit_test(test_parse_record_route),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
