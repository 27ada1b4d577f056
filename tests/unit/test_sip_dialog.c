/* test_sip_dialog.c - UAC and UAS dialogs, in-dialog requests, checks. */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include <cmocka.h>

#include "sip/dialog.h"

static const char invite_in[] =
    "INVITE sip:bob@b.example SIP/2.0\r\n"
    "Via: SIP/2.0/UDP p2.example;branch=z9hG4bKp2\r\n"
    "Via: SIP/2.0/UDP 10.0.0.1:5062;branch=z9hG4bKa1;rport\r\n"
    "Record-Route: <sip:p2.example;lr>\r\n"
    "Record-Route: <sip:p1.example;lr;transport=tcp>\r\n"
    "From: \"Alice\" <sip:alice@a.example>;tag=at1\r\n"
    "To: <sip:bob@b.example>\r\n"
    "Call-ID: call-1@a\r\n"
    "CSeq: 10 INVITE\r\n"
    "Contact: <sip:alice@10.0.0.1:5062;ob>\r\n"
    "Content-Length: 0\r\n\r\n";

static const char ok_in[] = "SIP/2.0 200 OK\r\n"
			    "Via: SIP/2.0/UDP 10.0.0.2;branch=z9hG4bKb1\r\n"
			    "Record-Route: <sip:p1.example;lr>\r\n"
			    "Record-Route: <sip:p2.example;lr>\r\n"
			    "From: <sip:bob@b.example>;tag=bt1\r\n"
			    "To: <sip:carol@c.example>;x=1;tag=ct9\r\n"
			    "Call-ID: call-2@b\r\n"
			    "CSeq: 3 INVITE\r\n"
			    "Contact: <sip:carol@192.0.2.7:5080>\r\n"
			    "Content-Length: 0\r\n\r\n";

static void parse(struct sip_msg *m, char *buf, const char *text)
{
	size_t n = strlen(text);

	memcpy(buf, text, n + 1);
	assert_int_equal(sip_msg_parse(m, buf, n), 0);
}

/* Builds r in d and parses the result into m (buf holds it). */
static void build(struct sip_dialog *d, const char *method, char *buf,
		  size_t cap, struct sip_msg *m)
{
	struct sip_dialog_req r = {.method = method,
				   .via_host = "10.0.0.2",
				   .via_port = 5060,
				   .contact = "<sip:bob@10.0.0.2>"};
	struct sip_buf b;

	sip_buf_init(&b, buf, cap);
	assert_int_equal(sip_dialog_request(d, &b, &r), 0);
	assert_int_equal(sip_msg_parse(m, buf, b.len), 0);
}

static void test_uas(void **state)
{
	char in[sizeof(invite_in)], out[2048], id[SIP_DIALOG_ID_MAX],
	    key[SIP_DIALOG_ID_MAX];
	struct sip_msg req, m;
	struct sip_dialog d;

	(void)state;
	parse(&req, in, invite_in);
	assert_int_equal(sip_dialog_uas(&d, &req, "bt1"), 0);
	assert_int_equal(d.state, SIP_DIALOG_EARLY);
	assert_false(d.uac);
	assert_string_equal(d.call_id, "call-1@a");
	assert_string_equal(d.local_tag, "bt1");
	assert_string_equal(d.remote_tag, "at1");
	assert_string_equal(d.local_uri, "<sip:bob@b.example>");
	assert_string_equal(d.remote_uri, "\"Alice\" <sip:alice@a.example>");
	assert_string_equal(d.remote_target, "sip:alice@10.0.0.1:5062;ob");
	assert_int_equal(d.nroute, 2);
	assert_string_equal(d.route[0], "<sip:p2.example;lr>");
	assert_string_equal(d.route[1], "<sip:p1.example;lr;transport=tcp>");
	assert_int_equal(d.remote_cseq, 10);
	assert_int_equal(sip_dialog_confirm(&d, NULL), 0);
	assert_int_equal(d.state, SIP_DIALOG_CONFIRMED);
	assert_int_equal(sip_dialog_next_hop(&d, id, sizeof(id)), 0);
	assert_string_equal(id, "sip:p2.example;lr");

	/* a BYE from the callee: CSeq from its own space */
	build(&d, "BYE", out, sizeof(out), &m);
	assert_true(sip_str_eq(m.ruri_raw, "sip:alice@10.0.0.1:5062;ob"));
	assert_true(sip_str_eq(m.from.tag, "bt1"));
	assert_true(sip_str_eq(m.to.tag, "at1"));
	assert_true(sip_str_eq(m.to.uri_raw, "sip:alice@a.example"));
	assert_true(sip_str_eq(m.call_id, "call-1@a"));
	assert_int_equal(m.cseq, 1);
	assert_non_null(strstr(out, "Route: <sip:p2.example;lr>\r\n"
				    "Route: <sip:p1.example;lr;transport=tcp>"
				    "\r\n"));

	/* the dialog ID of a request from the caller is ours */
	parse(&req, in, invite_in);
	assert_int_equal(sip_dialog_key(&req, key, sizeof(key)), 0);
	assert_true(sip_dialog_id(&d, id, sizeof(id)) > 0);
	assert_string_equal(id, "call-1@a|bt1|at1");
	assert_int_equal(sip_dialog_uas(&d, &req, ""), EINVAL);
}

static void test_uac_and_ack(void **state)
{
	static const char inv[] =
	    "INVITE sip:carol@c.example SIP/2.0\r\n"
	    "Via: SIP/2.0/UDP 10.0.0.2;branch=z9hG4bKb1\r\n"
	    "From: <sip:bob@b.example>;tag=bt1\r\n"
	    "To: <sip:carol@c.example>;x=1\r\n"
	    "Call-ID: call-2@b\r\nCSeq: 3 INVITE\r\n"
	    "Contact: <sip:bob@10.0.0.2>\r\n\r\n";
	char a[sizeof(inv)], b[sizeof(ok_in)], out[2048],
	    br[SIP_BRANCH_LEN + 1];
	struct sip_msg req, resp, m;
	struct sip_dialog d;
	struct sip_dialog_req r = {
	    .method = "ACK", .via_host = "10.0.0.2", .branch_out = br};
	struct sip_buf buf;

	(void)state;
	parse(&req, a, inv);
	parse(&resp, b, ok_in);
	assert_int_equal(sip_dialog_uac(&d, &req, &resp), 0);
	assert_true(d.uac);
	assert_int_equal(d.state, SIP_DIALOG_CONFIRMED);
	assert_string_equal(d.local_tag, "bt1");
	assert_string_equal(d.remote_tag, "ct9");
	assert_string_equal(d.remote_uri, "<sip:carol@c.example>;x=1");
	assert_string_equal(d.remote_target, "sip:carol@192.0.2.7:5080");
	/* the route set is the 2xx's Record-Route reversed */
	assert_int_equal(d.nroute, 2);
	assert_string_equal(d.route[0], "<sip:p2.example;lr>");
	assert_string_equal(d.route[1], "<sip:p1.example;lr>");

	/* the ACK for the 2xx: the INVITE's CSeq, a branch of its own */
	sip_buf_init(&buf, out, sizeof(out));
	assert_int_equal(sip_dialog_request(&d, &buf, &r), 0);
	assert_int_equal(sip_msg_parse(&m, out, buf.len), 0);
	assert_true(sip_str_eq(m.method, "ACK"));
	assert_int_equal(m.cseq, 3);
	assert_true(sip_str_eq(m.cseq_method, "ACK"));
	assert_true(sip_str_eq(m.via[0].branch, br));
	assert_string_not_equal(br, "z9hG4bKb1");
	assert_true(sip_str_eq(m.ruri_raw, "sip:carol@192.0.2.7:5080"));
	assert_int_equal(d.local_cseq, 3);

	/* re-INVITE: next CSeq, remembered for its ACK; then BYE */
	build(&d, "INVITE", out, sizeof(out), &m);
	assert_int_equal(m.cseq, 4);
	assert_int_equal(d.invite_cseq, 4);
	assert_int_equal(m.ncontact, 1);
	build(&d, "ACK", out, sizeof(out), &m);
	assert_int_equal(m.cseq, 4);
	build(&d, "UPDATE", out, sizeof(out), &m);
	assert_int_equal(m.cseq, 5);
	build(&d, "INFO", out, sizeof(out), &m);
	build(&d, "BYE", out, sizeof(out), &m);
	assert_int_equal(m.cseq, 7);
	assert_true(sip_dialog_matches_response(&d, &resp));

	/* a 4xx makes no dialog; a 1xx without tag neither */
	parse(&resp, b, ok_in);
	resp.status = 486;
	assert_int_equal(sip_dialog_uac(&d, &req, &resp), EINVAL);
}

static void test_early_then_confirmed_uac(void **state)
{
	static const char inv[] =
	    "INVITE sip:c@c.example SIP/2.0\r\n"
	    "Via: SIP/2.0/UDP 10.0.0.2;branch=z9hG4bKb1\r\n"
	    "From: <sip:bob@b.example>;tag=bt1\r\n"
	    "To: <sip:carol@c.example>\r\n"
	    "Call-ID: call-2@b\r\nCSeq: 3 INVITE\r\n\r\n";
	static const char ring[] =
	    "SIP/2.0 180 Ringing\r\n"
	    "Via: SIP/2.0/UDP 10.0.0.2;branch=z9hG4bKb1\r\n"
	    "Record-Route: <sip:old.example;lr>\r\n"
	    "From: <sip:bob@b.example>;tag=bt1\r\n"
	    "To: <sip:carol@c.example>;tag=ct9\r\n"
	    "Call-ID: call-2@b\r\nCSeq: 3 INVITE\r\n"
	    "Contact: <sip:carol@198.51.100.1>\r\n\r\n";
	char a[sizeof(inv)], b[sizeof(ring)], c[sizeof(ok_in)];
	struct sip_msg req, resp, ok;
	struct sip_dialog d;

	(void)state;
	parse(&req, a, inv);
	parse(&resp, b, ring);
	assert_int_equal(sip_dialog_uac(&d, &req, &resp), 0);
	assert_int_equal(d.state, SIP_DIALOG_EARLY);
	assert_string_equal(d.remote_target, "sip:carol@198.51.100.1");
	assert_int_equal(d.nroute, 1);
	parse(&ok, c, ok_in);
	assert_int_equal(sip_dialog_confirm(&d, &ok), 0);
	assert_int_equal(d.state, SIP_DIALOG_CONFIRMED);
	assert_string_equal(d.remote_target, "sip:carol@192.0.2.7:5080");
	assert_int_equal(d.nroute, 2);
	assert_string_equal(d.route[0], "<sip:p2.example;lr>");
}

static void test_strict_route(void **state)
{
	struct sip_dialog d = {.local_cseq = 1, .invite_cseq = 1, .nroute = 2};
	char out[2048];
	struct sip_msg m;

	(void)state;
	strcpy(d.call_id, "c");
	strcpy(d.local_tag, "l");
	strcpy(d.remote_tag, "r");
	strcpy(d.local_uri, "<sip:a@h>");
	strcpy(d.remote_uri, "<sip:b@h>");
	strcpy(d.remote_target, "sip:b@192.0.2.1");
	strcpy(d.route[0], "<sip:strict.example>");
	strcpy(d.route[1], "<sip:p2.example;lr>");
	build(&d, "BYE", out, sizeof(out), &m);
	assert_true(sip_str_eq(m.ruri_raw, "sip:strict.example"));
	assert_non_null(strstr(out, "Route: <sip:p2.example;lr>\r\n"
				    "Route: <sip:b@192.0.2.1>\r\n"));
	assert_null(strstr(out, "Route: <sip:strict.example>"));
	/* ;lr= counts, ;lrx does not */
	strcpy(d.route[0], "<sip:p.example;lrx>");
	build(&d, "BYE", out, sizeof(out), &m);
	assert_true(sip_str_eq(m.ruri_raw, "sip:p.example;lrx"));
	strcpy(d.route[0], "<sip:p.example;foo;lr=on>");
	build(&d, "BYE", out, sizeof(out), &m);
	assert_true(sip_str_eq(m.ruri_raw, "sip:b@192.0.2.1"));
}

static void test_check(void **state)
{
	static const char bye[] =
	    "BYE sip:bob@10.0.0.2 SIP/2.0\r\n"
	    "Via: SIP/2.0/UDP 10.0.0.1;branch=z9hG4bKx\r\n"
	    "From: <sip:alice@a.example>;tag=at1\r\n"
	    "To: <sip:bob@b.example>;tag=bt1\r\n"
	    "Call-ID: call-1@a\r\nCSeq: 11 BYE\r\n\r\n";
	char in[sizeof(invite_in)], b[sizeof(bye)], key[SIP_DIALOG_ID_MAX],
	    id[SIP_DIALOG_ID_MAX];
	struct sip_msg req, m;
	struct sip_dialog d;

	(void)state;
	parse(&req, in, invite_in);
	assert_int_equal(sip_dialog_uas(&d, &req, "bt1"), 0);
	parse(&m, b, bye);
	assert_true(sip_dialog_key(&m, key, sizeof(key)) > 0);
	sip_dialog_id(&d, id, sizeof(id));
	assert_string_equal(key, id);
	assert_int_equal(sip_dialog_check(&d, &m), 0);
	assert_int_equal(d.remote_cseq, 11);
	/* lower CSeq: 500; ACK is not ordered */
	m.cseq = 9;
	assert_int_equal(sip_dialog_check(&d, &m), 500);
	m.method = (struct sip_str){"ACK", 3};
	assert_int_equal(sip_dialog_check(&d, &m), 0);
	assert_int_equal(d.remote_cseq, 11);
	/* other tags or Call-ID: 481 */
	parse(&m, b, bye);
	m.to.tag = (struct sip_str){"zz", 2};
	assert_int_equal(sip_dialog_check(&d, &m), 481);
	parse(&m, b, bye);
	m.call_id = (struct sip_str){"other", 5};
	assert_int_equal(sip_dialog_check(&d, &m), 481);
	/* a target refresh */
	parse(&req, in, invite_in);
	req.contact[0].uri_raw = (struct sip_str){"sip:alice@10.9.9.9", 18};
	assert_int_equal(sip_dialog_refresh(&d, &req), 0);
	assert_string_equal(d.remote_target, "sip:alice@10.9.9.9");
}

static void test_limits(void **state)
{
	char in[sizeof(invite_in)], big[SIP_DIALOG_CALL_ID_MAX + 8], out[64];
	struct sip_msg req;
	struct sip_dialog d;
	struct sip_dialog_req r = {.method = "BYE", .via_host = "h"};
	struct sip_buf b;

	(void)state;
	parse(&req, in, invite_in);
	memset(big, 'x', sizeof(big));
	req.call_id = (struct sip_str){big, sizeof(big)};
	assert_int_equal(sip_dialog_uas(&d, &req, "t"), ERANGE);
	parse(&req, in, invite_in);
	assert_int_equal(sip_dialog_uas(&d, &req, "t"), 0);
	/* too small a buffer: E2BIG, and the CSeq does not move */
	sip_buf_init(&b, out, sizeof(out));
	assert_int_equal(sip_dialog_request(&d, &b, &r), E2BIG);
	assert_int_equal(d.local_cseq, 0);
	/* no INVITE of ours yet: no ACK */
	r.method = "ACK";
	assert_int_equal(sip_dialog_request(&d, &b, &r), EINVAL);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_uas),
	    cmocka_unit_test(test_uac_and_ack),
	    cmocka_unit_test(test_early_then_confirmed_uac),
	    cmocka_unit_test(test_strict_route),
	    cmocka_unit_test(test_check),
	    cmocka_unit_test(test_limits),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
