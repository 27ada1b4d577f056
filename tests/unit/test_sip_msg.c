/* test_sip_msg.c - unit tests for src/sip/msg.c: vendor REGISTERs, RFC 4475
 * style torture cases, URIs and TCP framing. */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "sip/msg.h"

/* ---- helpers ---- */

/* The buffer under parse: malloc'd at exactly its length so that ASan
 * catches any read past it; it lives until the next parse. */
static char *cur;

static int parse_n(struct sip_msg *m, const char *text, size_t len)
{
	free(cur);
	cur = malloc(len ? len : 1);
	assert_non_null(cur);
	memcpy(cur, text, len);
	return sip_msg_parse(m, cur, len);
}

static int parse(struct sip_msg *m, const char *text)
{
	return parse_n(m, text, strlen(text));
}

/* A NUL-terminated copy of a slice, for assert_string_equal. */
static const char *cstr(struct sip_str s)
{
	static char b[8][1024];
	static unsigned k;
	char *o = b[k++ % 8];

	if (!s.p)
		return "(absent)";
	assert_true(s.n < sizeof(b[0]));
	memcpy(o, s.p, s.n);
	o[s.n] = '\0';
	return o;
}

#define assert_str(s, lit) assert_string_equal(cstr(s), lit)
#define assert_absent(s) assert_null((s).p)

static int teardown(void **state)
{
	(void)state;
	free(cur);
	cur = NULL;
	return 0;
}

/* ---- vendor REGISTERs ---- */

static const char linphone[] =
    "REGISTER sip:sip.example.com SIP/2.0\r\n"
    "Via: SIP/2.0/UDP 192.168.1.20:5060;branch=z9hG4bK.fE3qZ~tnJ;rport\r\n"
    "From: <sip:alice@sip.example.com>;tag=Hx8n2lA~p\r\n"
    "To: sip:alice@sip.example.com\r\n"
    "CSeq: 21 REGISTER\r\n"
    "Call-ID: 9cTrvcxHkE\r\n"
    "Max-Forwards: 70\r\n"
    "Supported: replaces, outbound, gruu, path\r\n"
    "Accept: application/sdp\r\n"
    "Accept: text/plain\r\n"
    "Accept: application/vnd.gsma.rcs-ft-http+xml\r\n"
    "Contact: <sip:alice@192.168.1.20;transport=udp>;"
    "+sip.instance=\"<urn:uuid:46a5e2a0-0d21-00a2-9b4c-2a3f1c8e4f10>\";"
    "+org.linphone.specs=\"conference/1.0,ephemeral/1.1,groupchat/1.1,"
    "lime\"\r\n"
    "Expires: 600\r\n"
    "User-Agent: Linphone-Desktop/5.2.6 (alice-laptop) debian/12 "
    "Qt/5.15.8 LinphoneSDK/5.3.41\r\n"
    "Authorization:  Digest realm=\"sip.example.com\", "
    "nonce=\"f1e2d3c4b5a6\", algorithm=SHA-256, opaque=\"+GNywA==\", "
    "username=\"alice\",  uri=\"sip:sip.example.com\", "
    "response=\"7e4c1f0d6a3b9e2f8c5d1a0b7e6f3c2d9a8b5c4e1f0d7a6b3c2e9f8a5b4c1d"
    "0e\", cnonce=\"Ox0pbEuTjxhTmdIT\", nc=00000001, qop=auth\r\n"
    "Content-Length: 0\r\n"
    "\r\n";

static void test_vendor_linphone(void **state)
{
	struct sip_msg m;

	(void)state;
	assert_int_equal(parse(&m, linphone), 0);
	assert_true(m.is_request);
	assert_str(m.method, "REGISTER");
	assert_str(m.ruri_raw, "sip:sip.example.com");
	assert_str(m.ruri.host, "sip.example.com");
	assert_absent(m.ruri.user);
	assert_int_equal(m.nvia, 1);
	assert_str(m.via[0].transport, "UDP");
	assert_str(m.via[0].host, "192.168.1.20");
	assert_int_equal(m.via[0].port, 5060);
	assert_str(m.via[0].branch, "z9hG4bK.fE3qZ~tnJ");
	assert_true(m.via[0].rport);
	assert_int_equal(m.via[0].rport_value, 0);
	assert_str(m.from.uri_raw, "sip:alice@sip.example.com");
	assert_str(m.from.tag, "Hx8n2lA~p");
	assert_str(m.to.raw, "sip:alice@sip.example.com");
	assert_str(m.to.uri.user, "alice");
	assert_absent(m.to.tag);
	assert_int_equal(m.cseq, 21);
	assert_str(m.cseq_method, "REGISTER");
	assert_str(m.call_id, "9cTrvcxHkE");
	assert_int_equal(m.max_forwards, 70);
	assert_str(m.supported, "replaces, outbound, gruu, path");
	assert_int_equal(m.ncontact, 1);
	assert_str(m.contact[0].uri_raw,
		   "sip:alice@192.168.1.20;transport=udp");
	assert_str(m.contact[0].uri.params, ";transport=udp");
	assert_str(m.contact[0].instance,
		   "<urn:uuid:46a5e2a0-0d21-00a2-9b4c-2a3f1c8e4f10>");
	assert_false(m.contact[0].has_expires);
	assert_true(m.has_expires);
	assert_int_equal(m.expires, 600);
	assert_str(m.user_agent, "Linphone-Desktop/5.2.6 (alice-laptop) "
				 "debian/12 Qt/5.15.8 LinphoneSDK/5.3.41");
	assert_int_equal(m.nauth, 1);
	assert_str(m.auth[0].username, "alice");
	assert_str(m.auth[0].realm, "sip.example.com");
	assert_str(m.auth[0].nonce, "f1e2d3c4b5a6");
	assert_str(m.auth[0].uri, "sip:sip.example.com");
	assert_str(m.auth[0].algorithm, "SHA-256");
	assert_str(m.auth[0].opaque, "+GNywA==");
	assert_str(m.auth[0].cnonce, "Ox0pbEuTjxhTmdIT");
	assert_str(m.auth[0].nc, "00000001");
	assert_str(m.auth[0].qop, "auth");
	assert_int_equal(m.auth[0].response.n, 64);
	assert_false(m.auth[0].userhash);
	assert_true(m.has_content_length);
	assert_int_equal(m.content_length, 0);
	assert_absent(m.body);
	assert_int_equal(m.nhdrs, 15);
}

static const char zoiper[] =
    "REGISTER sip:pbx.example.net;transport=UDP SIP/2.0\r\n"
    "Via: SIP/2.0/UDP 10.0.0.7:52345;branch=z9hG4bK-524287-1---"
    "c1e6a8f4b3d2a190;rport\r\n"
    "Max-Forwards: 70\r\n"
    "Contact: <sip:bob@10.0.0.7:52345;rinstance=7f3b2c1d0e9a8b76;"
    "transport=UDP>\r\n"
    "To: <sip:bob@pbx.example.net;transport=UDP>\r\n"
    "From: <sip:bob@pbx.example.net;transport=UDP>;tag=5f2a7c91\r\n"
    "Call-ID: Yzg3NWQ2ZTJmMTk0NmM3OTNhNDY2OTRkODc0OGIzYjE\r\n"
    "CSeq: 2 REGISTER\r\n"
    "Expires: 60\r\n"
    "Allow: INVITE, ACK, CANCEL, BYE, NOTIFY, REFER, MESSAGE, OPTIONS, "
    "INFO, SUBSCRIBE\r\n"
    "User-Agent: Z 5.6.1 v2.10.19.9\r\n"
    "Authorization: Digest username=\"bob\",realm=\"pbx.example.net\","
    "nonce=\"YzM2ZDA1NmItY2ZmZi00\",uri=\"sip:pbx.example.net;"
    "transport=UDP\",response=\"0a4f113eb9d4e3ee7c2d8e4a5e1f6b0c\","
    "cnonce=\"6b8b4567327b23c6\",nc=00000001,qop=auth,algorithm=MD5\r\n"
    "Allow-Events: presence, kpml, talk\r\n"
    "Content-Length: 0\r\n"
    "\r\n";

static void test_vendor_zoiper(void **state)
{
	struct sip_msg m;

	(void)state;
	assert_int_equal(parse(&m, zoiper), 0);
	assert_str(m.ruri.params, ";transport=UDP");
	assert_int_equal(m.via[0].port, 52345);
	assert_str(m.via[0].branch, "z9hG4bK-524287-1---c1e6a8f4b3d2a190");
	assert_str(m.contact[0].uri.user, "bob");
	assert_int_equal(m.contact[0].uri.port, 52345);
	assert_str(m.to.uri_raw, "sip:bob@pbx.example.net;transport=UDP");
	assert_str(m.from.tag, "5f2a7c91");
	assert_int_equal(m.expires, 60);
	assert_str(m.auth[0].uri, "sip:pbx.example.net;transport=UDP");
	assert_str(m.auth[0].algorithm, "MD5");
	assert_str(m.auth[0].response, "0a4f113eb9d4e3ee7c2d8e4a5e1f6b0c");
	assert_str(m.user_agent, "Z 5.6.1 v2.10.19.9");
}

static const char yealink[] =
    "REGISTER sip:voip.example.org:5060 SIP/2.0\r\n"
    "Via: SIP/2.0/UDP 192.168.10.31:5062;branch=z9hG4bK1906823847\r\n"
    "From: \"1001\" <sip:1001@voip.example.org:5060>;tag=1394829385\r\n"
    "To: \"1001\" <sip:1001@voip.example.org:5060>\r\n"
    "Call-ID: 0_2854198217@192.168.10.31\r\n"
    "CSeq: 3 REGISTER\r\n"
    "Contact: <sip:1001@192.168.10.31:5062>;reg-id=1;"
    "+sip.instance=\"<urn:uuid:00000000-0000-1000-8000-805EC0A1B2C3>\"\r\n"
    "Authorization: Digest username=\"1001\", realm=\"voip.example.org\", "
    "nonce=\"1700000000/4d6f2b1c9e\", uri=\"sip:voip.example.org:5060\", "
    "response=\"3f1c8e9a2b4d6f0e1a3c5e7f9b2d4f6a\", algorithm=MD5, "
    "cnonce=\"0a4f113b\", qop=auth, nc=00000001\r\n"
    "X-Grandstream-PBX: true\r\n"
    "Max-Forwards: 70\r\n"
    "User-Agent: Yealink SIP-T46S 66.86.0.15\r\n"
    "Expires: 3600\r\n"
    "Allow: INVITE, INFO, PRACK, ACK, BYE, CANCEL, OPTIONS, NOTIFY, "
    "REGISTER, SUBSCRIBE, REFER, PUBLISH, UPDATE, MESSAGE\r\n"
    "Supported: 100rel,path,gruu,outbound\r\n"
    "Content-Length: 0\r\n"
    "\r\n";

static void test_vendor_yealink(void **state)
{
	struct sip_msg m;

	(void)state;
	assert_int_equal(parse(&m, yealink), 0);
	assert_int_equal(m.ruri.port, 5060);
	assert_str(m.from.raw, "\"1001\" <sip:1001@voip.example.org:5060>;"
			       "tag=1394829385");
	assert_str(m.from.uri_raw, "sip:1001@voip.example.org:5060");
	assert_str(m.to.uri.user, "1001");
	assert_str(m.contact[0].reg_id, "1");
	assert_str(m.contact[0].instance,
		   "<urn:uuid:00000000-0000-1000-8000-805EC0A1B2C3>");
	assert_str(m.contact[0].raw,
		   "<sip:1001@192.168.10.31:5062>;reg-id=1;+sip.instance="
		   "\"<urn:uuid:00000000-0000-1000-8000-805EC0A1B2C3>\"");
	assert_str(m.supported, "100rel,path,gruu,outbound");
	assert_str(m.auth[0].nonce, "1700000000/4d6f2b1c9e");
	assert_str(m.call_id, "0_2854198217@192.168.10.31");
}

static const char polycom[] =
    "REGISTER sip:pbx.corp.example SIP/2.0\r\n"
    "Via: SIP/2.0/TLS 10.20.0.60:5061;branch=z9hG4bKa3e1c0f2e4C7E2D1\r\n"
    "From: \"Front Desk\" <sip:2002@pbx.corp.example>;tag=8A1F3C22-4E6B71D0\r\n"
    "To: <sip:2002@pbx.corp.example>\r\n"
    "CSeq: 1 REGISTER\r\n"
    "Call-ID: 5a3c9e17-b2d4f6a8-c0e2d4f6@10.20.0.60\r\n"
    "Contact: <sip:2002@10.20.0.60:5061;transport=tls>;methods=\"INVITE, "
    "ACK, BYE, CANCEL, OPTIONS, INFO, MESSAGE, SUBSCRIBE, NOTIFY, PRACK, "
    "UPDATE, REFER\";+sip.instance=\"<urn:uuid:"
    "6e8f4a2c-1b3d-5e7f-9a1b-0004f2a1b2c3>\";reg-id=1;audio\r\n"
    "User-Agent: PolycomVVX-VVX_411-UA/6.4.3.0976\r\n"
    "Accept-Language: en\r\n"
    "Supported: 100rel,replaces\r\n"
    "Allow-Events: conference,talk,hold\r\n"
    "Max-Forwards: 70\r\n"
    "Expires: 3600\r\n"
    "Content-Length: 0\r\n"
    "\r\n";

static void test_vendor_polycom(void **state)
{
	struct sip_msg m;

	(void)state;
	assert_int_equal(parse(&m, polycom), 0);
	assert_str(m.via[0].transport, "TLS");
	assert_int_equal(m.via[0].port, 5061);
	/* the commas in methods="..." do not split the Contact */
	assert_int_equal(m.ncontact, 1);
	assert_str(m.contact[0].reg_id, "1");
	assert_str(m.contact[0].instance,
		   "<urn:uuid:6e8f4a2c-1b3d-5e7f-9a1b-0004f2a1b2c3>");
	assert_str(m.from.tag, "8A1F3C22-4E6B71D0");
	assert_int_equal(m.nauth, 0);
}

static const char grandstream[] =
    "REGISTER sip:sip.example.com SIP/2.0\r\n"
    "Via: SIP/2.0/UDP 192.168.0.20:5060;branch=z9hG4bK1741339187;rport\r\n"
    "From: \"Warehouse\" <sip:3003@sip.example.com>;tag=1062449826\r\n"
    "To: <sip:3003@sip.example.com>\r\n"
    "Call-ID: 1547388950-5060-5@BJC.BGI.A.CA\r\n"
    "CSeq: 2003 REGISTER\r\n"
    "Contact: <sip:3003@192.168.0.20:5060>;reg-id=1;"
    "+sip.instance=\"<urn:uuid:00000000-0000-1000-8000-000B82A1B2C3>\"\r\n"
    "Authorization: Digest username=\"3003\", realm=\"sip.example.com\", "
    "algorithm=SHA-256, uri=\"sip:sip.example.com\", "
    "nonce=\"ZmEzYTg1OGItNzA4Yy00\", qop=auth, nc=00000002, "
    "cnonce=\"7c9a4d2e\", response=\"a1b2c3d4e5f60718293a4b5c6d7e8f90a1b2c3"
    "d4e5f60718293a4b5c6d7e8f90\"\r\n"
    "X-GS-Supported: gs-shared-line\r\n"
    "Max-Forwards: 70\r\n"
    "User-Agent: Grandstream GXP2170 1.0.11.23\r\n"
    "Supported: path\r\n"
    "Expires: 3600\r\n"
    "Allow: INVITE, ACK, OPTIONS, CANCEL, BYE, SUBSCRIBE, NOTIFY, INFO, "
    "REFER, UPDATE, MESSAGE\r\n"
    "Content-Length: 0\r\n"
    "\r\n";

static void test_vendor_grandstream(void **state)
{
	struct sip_msg m;

	(void)state;
	assert_int_equal(parse(&m, grandstream), 0);
	assert_int_equal(m.cseq, 2003);
	assert_str(m.auth[0].nc, "00000002");
	assert_str(m.auth[0].algorithm, "SHA-256");
	assert_str(m.supported, "path");
	assert_str(m.user_agent, "Grandstream GXP2170 1.0.11.23");
}

static const char cisco_spa[] =
    "REGISTER sip:10.1.1.1 SIP/2.0\r\n"
    "Via: SIP/2.0/UDP 10.1.1.40:5060;branch=z9hG4bK-1b3f7f22\r\n"
    "From: John Smith <sip:4004@10.1.1.1>;tag=9ac2f5a1d2b3e4f5o0\r\n"
    "To: John Smith <sip:4004@10.1.1.1>\r\n"
    "Call-ID: 2d1e4a8c-3f5b9d7e@10.1.1.40\r\n"
    "CSeq: 56214 REGISTER\r\n"
    "Max-Forwards: 70\r\n"
    "Authorization: Digest username=\"4004\",realm=\"asterisk\","
    "nonce=\"3b1a7c2e\",uri=\"sip:10.1.1.1\",algorithm=MD5,"
    "response=\"5d2e9a61b4c3f7e8d0a1b2c3d4e5f6a7\"\r\n"
    "Contact: John Smith <sip:4004@10.1.1.40:5060>;expires=3600\r\n"
    "User-Agent: Cisco/SPA504G-7.6.2f\r\n"
    "Content-Length: 0\r\n"
    "Allow: ACK, BYE, CANCEL, INFO, INVITE, NOTIFY, OPTIONS, REFER\r\n"
    "Supported: x-sipura\r\n"
    "\r\n";

static void test_vendor_cisco_spa(void **state)
{
	struct sip_msg m;

	(void)state;
	assert_int_equal(parse(&m, cisco_spa), 0);
	assert_str(m.from.uri_raw, "sip:4004@10.1.1.1");
	assert_str(m.contact[0].uri_raw, "sip:4004@10.1.1.40:5060");
	assert_true(m.contact[0].has_expires);
	assert_int_equal(m.contact[0].expires, 3600);
	assert_false(m.has_expires);
	assert_absent(m.auth[0].qop);
	assert_absent(m.auth[0].cnonce);
	assert_str(m.auth[0].realm, "asterisk");
}

/* baresip over TCP on IPv6, LF-only line ends */
static const char baresip[] =
    "REGISTER sip:example.com SIP/2.0\n"
    "Via: SIP/2.0/TCP [2001:db8::10]:43210;branch=z9hG4bK4b9e1f2a3c5d7e90;"
    "rport\n"
    "Contact: <sip:alice-0x55d1c8e0@[2001:db8::10]:43210;transport=tcp>;"
    "expires=3600;+sip.instance=\"<urn:uuid:9f3e2d1c-0b4a-4c5d-8e6f-"
    "a1b2c3d4e5f6>\";reg-id=1\n"
    "Max-Forwards: 70\n"
    "To: <sip:alice@example.com>\n"
    "From: <sip:alice@example.com>;tag=8b7e6d5c4b3a2918\n"
    "Call-ID: 6a1f0e2d3c4b5a69\n"
    "CSeq: 27391 REGISTER\n"
    "User-Agent: baresip v3.10.1 (x86_64/linux)\n"
    "Allow: INVITE,ACK,BYE,CANCEL,OPTIONS,NOTIFY,SUBSCRIBE,INFO,MESSAGE,"
    "REFER\n"
    "Supported: outbound, path, replaces, norefersub\n"
    "Authorization: Digest username=\"alice\", realm=\"example.com\", "
    "nonce=\"aGVsbG8gd29ybGQ\", uri=\"sip:example.com\", "
    "response=\"9b2f4d6e8a0c1e3f5b7d9f1a3c5e7b9d2f4a6c8e0b1d3f5a7c9e1b3d5f7a9c"
    "1e\", algorithm=SHA-256, cnonce=\"f3a1b2c4\", qop=auth, "
    "nc=00000003\n"
    "Content-Length: 0\n"
    "\n";

static void test_vendor_baresip_ipv6_lf(void **state)
{
	struct sip_msg m;

	(void)state;
	assert_int_equal(parse(&m, baresip), 0);
	assert_str(m.via[0].transport, "TCP");
	assert_str(m.via[0].host, "2001:db8::10");
	assert_int_equal(m.via[0].port, 43210);
	assert_str(m.contact[0].uri.host, "2001:db8::10");
	assert_int_equal(m.contact[0].uri.port, 43210);
	assert_str(m.contact[0].uri.user, "alice-0x55d1c8e0");
	assert_int_equal(m.contact[0].expires, 3600);
	assert_str(m.contact[0].reg_id, "1");
	assert_str(m.call_id, "6a1f0e2d3c4b5a69");
	assert_str(m.auth[0].nc, "00000003");
	assert_str(m.via_lines[0], "SIP/2.0/TCP [2001:db8::10]:43210;"
				   "branch=z9hG4bK4b9e1f2a3c5d7e90;rport");
}

/* sipp's uac REGISTER scenario with compact forms */
static const char sipp_compact[] =
    "REGISTER sip:127.0.0.1:5060 SIP/2.0\r\n"
    "v: SIP/2.0/UDP 127.0.0.1:5061;branch=z9hG4bK-4242-1-0\r\n"
    "f: sipp <sip:user1@127.0.0.1:5061>;tag=4242SIPpTag001\r\n"
    "t: sut <sip:user1@127.0.0.1:5060>\r\n"
    "i: 1-4242@127.0.0.1\r\n"
    "CSeq: 1 REGISTER\r\n"
    "m: sip:user1@127.0.0.1:5061\r\n"
    "k: path\r\n"
    "Max-Forwards: 70\r\n"
    "Expires: 3600\r\n"
    "s: Performance Test\r\n"
    "c: application/sdp\r\n"
    "l: 0\r\n"
    "\r\n";

static void test_vendor_sipp_compact(void **state)
{
	struct sip_msg m;

	(void)state;
	assert_int_equal(parse(&m, sipp_compact), 0);
	assert_int_equal(m.nvia, 1);
	assert_str(m.from.tag, "4242SIPpTag001");
	assert_str(m.to.uri_raw, "sip:user1@127.0.0.1:5060");
	assert_str(m.call_id, "1-4242@127.0.0.1");
	assert_int_equal(m.ncontact, 1);
	assert_str(m.contact[0].raw, "sip:user1@127.0.0.1:5061");
	assert_str(m.supported, "path");
	assert_true(m.has_content_length);
}

/* Asterisk (PJSIP) registering as a client to a trunk, with a body of 0 */
static const char asterisk[] =
    "REGISTER sip:provider.example SIP/2.0\r\n"
    "Via: SIP/2.0/UDP 203.0.113.5:5060;rport;"
    "branch=z9hG4bKPj5f3c2e1d-9a8b-4c7d-b6e5-f4a3b2c1d0e9\r\n"
    "From: <sip:trunk42@provider.example>;"
    "tag=0e9d8c7b-6a5f-4e3d-2c1b-0a9f8e7d6c5b\r\n"
    "To: <sip:trunk42@provider.example>\r\n"
    "Call-ID: 8c7d6e5f-4a3b-2c1d-0e9f-8a7b6c5d4e3f\r\n"
    "CSeq: 41234 REGISTER\r\n"
    "Contact: <sip:s@203.0.113.5:5060;line=xkfs3g2>\r\n"
    "Expires: 3600\r\n"
    "Allow: OPTIONS, REGISTER, SUBSCRIBE, NOTIFY, PUBLISH, INVITE, ACK, "
    "BYE, CANCEL, UPDATE, PRACK, MESSAGE, REFER\r\n"
    "Max-Forwards: 70\r\n"
    "User-Agent: Asterisk PBX 20.5.0\r\n"
    "Authorization: Digest username=\"trunk42\", realm=\"provider.example\", "
    "nonce=\"1701234567/e0a3b1d2c4f5\", uri=\"sip:provider.example\", "
    "response=\"4c6e8a0b2d4f6a8c0e2b4d6f8a0c2e4b\", "
    "cnonce=\"2f4e6d8c0b1a3e5d\", nc=00000001, qop=auth, "
    "algorithm=MD5, opaque=\"5ccc069c403ebaf9f0171e9517f40e41\"\r\n"
    "Content-Length:  0\r\n"
    "\r\n";

static void test_vendor_asterisk(void **state)
{
	struct sip_msg m;

	(void)state;
	assert_int_equal(parse(&m, asterisk), 0);
	assert_true(m.via[0].rport);
	assert_str(m.via[0].branch,
		   "z9hG4bKPj5f3c2e1d-9a8b-4c7d-b6e5-f4a3b2c1d0e9");
	assert_str(m.contact[0].uri.user, "s");
	assert_str(m.contact[0].uri.params, ";line=xkfs3g2");
	assert_int_equal(m.cseq, 41234);
	assert_str(m.auth[0].opaque, "5ccc069c403ebaf9f0171e9517f40e41");
}

/* Several Contacts in one header and across headers, via a proxy. */
static const char multi_contact[] =
    "REGISTER sip:example.com SIP/2.0\r\n"
    "Via: SIP/2.0/UDP proxy.example.com:5060;branch=z9hG4bKp1, "
    "SIP/2.0/UDP 198.51.100.7:5070;branch=z9hG4bKu1;received=192.0.2.9;"
    "rport=40001\r\n"
    "Via: SIP/2.0/TCP edge.example.com;branch=z9hG4bKe1\r\n"
    "Path: <sip:edge.example.com;lr;ob>\r\n"
    "From: \"Alice, Smith\" <sip:alice@example.com>;tag=a1\r\n"
    "To: \"Alice, Smith\" <sip:alice@example.com>\r\n"
    "Call-ID: mc-1@198.51.100.7\r\n"
    "CSeq: 7 REGISTER\r\n"
    "Contact: <sip:alice@198.51.100.7:5070>;q=0.7;expires=3600, "
    "\"Desk, 2\" <sip:alice@198.51.100.8>;q=1.0;expires=60\r\n"
    "Contact: sip:alice@198.51.100.9;expires=0, "
    "<sip:alice@198.51.100.10;transport=tcp;ob>;+sip.instance="
    "\"<urn:uuid:2b6f4e0c-8a1d-4f3e-9c5b-7d2a1e0f3b4c>\";reg-id=2\r\n"
    "Supported: path, outbound\r\n"
    "Require: path\r\n"
    "Content-Length: 0\r\n"
    "\r\n";

static void test_multi_contact_via(void **state)
{
	struct sip_msg m;

	(void)state;
	assert_int_equal(parse(&m, multi_contact), 0);
	assert_int_equal(m.nvia, 3);
	assert_int_equal(m.nvia_lines, 2);
	assert_str(m.via[0].host, "proxy.example.com");
	assert_str(m.via[1].received, "192.0.2.9");
	assert_int_equal(m.via[1].rport_value, 40001);
	assert_str(m.via[1].raw, "SIP/2.0/UDP 198.51.100.7:5070;"
				 "branch=z9hG4bKu1;received=192.0.2.9;"
				 "rport=40001");
	assert_str(m.via[2].transport, "TCP");
	assert_int_equal(m.via[2].port, 0);
	assert_str(m.via_lines[1], "SIP/2.0/TCP edge.example.com;"
				   "branch=z9hG4bKe1");
	assert_int_equal(m.ncontact, 4);
	assert_str(m.contact[0].q, "0.7");
	assert_int_equal(m.contact[0].expires, 3600);
	assert_str(m.contact[1].uri_raw, "sip:alice@198.51.100.8");
	assert_str(m.contact[1].raw,
		   "\"Desk, 2\" <sip:alice@198.51.100.8>;q=1.0;expires=60");
	assert_str(m.contact[1].q, "1.0");
	assert_true(m.contact[2].has_expires);
	assert_int_equal(m.contact[2].expires, 0);
	assert_str(m.contact[2].uri_raw, "sip:alice@198.51.100.9");
	assert_str(m.contact[3].reg_id, "2");
	assert_str(m.contact[3].uri.params, ";transport=tcp;ob");
	assert_str(m.require, "path");
	assert_str(m.from.uri_raw, "sip:alice@example.com");
}

static const char unregister_star[] =
    "REGISTER sip:example.com SIP/2.0\r\n"
    "Via: SIP/2.0/UDP 192.0.2.4;branch=z9hG4bKs\r\n"
    "From: <sip:bob@example.com>;tag=s1\r\n"
    "To: <sip:bob@example.com>\r\n"
    "Call-ID: star@192.0.2.4\r\n"
    "CSeq: 9 REGISTER\r\n"
    "Contact: *\r\n"
    "Expires: 0\r\n"
    "Content-Length: 0\r\n"
    "\r\n";

static void test_contact_star(void **state)
{
	struct sip_msg m;
	char b[1024];

	(void)state;
	assert_int_equal(parse(&m, unregister_star), 0);
	assert_true(m.contact_star);
	assert_int_equal(m.ncontact, 0);
	assert_int_equal(m.expires, 0);

	/* '*' with another contact, in one header or two: refused */
	const char *bad[] = {
	    "Contact: *, <sip:bob@192.0.2.4>\r\n",
	    "Contact: <sip:bob@192.0.2.4>, *\r\n",
	    "Contact: *\r\nContact: <sip:bob@192.0.2.4>\r\n",
	    "Contact: <sip:bob@192.0.2.4>\r\nContact: *\r\n",
	    "Contact: *\r\nContact: *\r\n",
	    "Contact: *;expires=0\r\n",
	};
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		const char *at = strstr(unregister_star, "Contact: *\r\n");
		int n = (int)(at - unregister_star);

		snprintf(b, sizeof(b), "%.*s%s%s", n, unregister_star, bad[i],
			 at + strlen("Contact: *\r\n"));
		assert_int_equal(parse(&m, b), EBADMSG);
	}
}

/* ---- building blocks for the torture cases ---- */

static const char base_head[] = "REGISTER sip:example.com SIP/2.0\r\n";
static const char base_via[] =
    "Via: SIP/2.0/UDP 192.0.2.1:5060;branch=z9hG4bKt\r\n";
static const char base_from[] = "From: <sip:t@example.com>;tag=ft\r\n";
static const char base_to[] = "To: <sip:t@example.com>\r\n";
static const char base_callid[] = "Call-ID: torture-1\r\n";
static const char base_cseq[] = "CSeq: 1 REGISTER\r\n";

/* A REGISTER with the five mandatory headers plus extra, then the body. */
static int parse_with(struct sip_msg *m, const char *extra, const char *body)
{
	static char b[16384];

	snprintf(b, sizeof(b), "%s%s%s%s%s%s%s\r\n%s", base_head, base_via,
		 base_from, base_to, base_callid, base_cseq, extra, body);
	return parse(m, b);
}

static void test_minimal_and_response(void **state)
{
	struct sip_msg m;

	(void)state;
	assert_int_equal(parse_with(&m, "", ""), 0);
	assert_int_equal(m.max_forwards, -1);
	assert_false(m.has_content_length);
	assert_false(m.has_expires);
	assert_int_equal(m.nhdrs, 5);

	assert_int_equal(
	    parse(&m, "SIP/2.0 401 Unauthorized\r\n"
		      "Via: SIP/2.0/UDP 192.0.2.1;branch=z9hG4bKr\r\n"
		      "From: <sip:a@b>;tag=1\r\nTo: <sip:a@b>;tag=2\r\n"
		      "Call-ID: r\r\nCSeq: 5 REGISTER\r\n"
		      "Content-Length: 0\r\n\r\n"),
	    0);
	assert_false(m.is_request);
	assert_int_equal(m.status, 401);
	assert_str(m.reason, "Unauthorized");
	assert_str(m.to.tag, "2");
	assert_int_equal(m.cseq, 5);

	assert_int_equal(parse(&m, "SIP/2.0 200 \r\nVia: SIP/2.0/UDP h\r\n"
				   "From: <sip:a@b>\r\nTo: <sip:a@b>\r\n"
				   "Call-ID: r\r\nCSeq: 5 OPTIONS\r\n\r\n"),
			 0);
	assert_int_equal(m.status, 200);
	assert_int_equal(m.reason.n, 0);

	const char *bad_status[] = {"SIP/2.0 20 OK",  "SIP/2.0 2000 OK",
				    "SIP/2.0 099 x",  "SIP/2.0 700 x",
				    "SIP/2.0 2x0 OK", "SIP/2.0  200 OK"};
	for (size_t i = 0; i < sizeof(bad_status) / sizeof(bad_status[0]);
	     i++) {
		char b[512];

		snprintf(b, sizeof(b),
			 "%s\r\nVia: SIP/2.0/UDP h\r\nFrom: <sip:a@b>\r\n"
			 "To: <sip:a@b>\r\nCall-ID: r\r\nCSeq: 5 OPTIONS\r\n"
			 "\r\n",
			 bad_status[i]);
		assert_int_equal(parse(&m, b), EBADMSG);
	}
}

#define REST                                         \
	"Via: SIP/2.0/UDP h;branch=z9hG4bKx\r\n"     \
	"From: <sip:a@b>;tag=1\r\nTo: <sip:a@b>\r\n" \
	"Call-ID: r\r\nCSeq: 1 %s\r\n\r\n"

static void test_request_line(void **state)
{
	struct sip_msg m;
	char b[1024];
	static const struct {
		const char *line, *method;
		int rc;
	} cases[] = {
	    {"OPTIONS sip:example.com SIP/2.0", "OPTIONS", 0},
	    {"REGISTER sips:example.com SIP/2.0", "REGISTER", 0},
	    {"REGISTER SIP:example.com sip/2.0", "REGISTER", 0},
	    {"REGISTER sip:example.com SIP/2.1", "REGISTER", EBADMSG},
	    {"REGISTER sip:example.com SIP/2.0 ", "REGISTER", EBADMSG},
	    {"REGISTER  sip:example.com SIP/2.0", "REGISTER", EBADMSG},
	    {"REGISTER sip:example.com  SIP/2.0", "REGISTER", EBADMSG},
	    {"REGISTER sip:example.com", "REGISTER", EBADMSG},
	    {"REGISTER tel:+15551234567 SIP/2.0", "REGISTER", EBADMSG},
	    {"REGISTER http://example.com/ SIP/2.0", "REGISTER", EBADMSG},
	    {"REG<ISTER sip:example.com SIP/2.0", "REGISTER", EBADMSG},
	    {" REGISTER sip:example.com SIP/2.0", "REGISTER", EBADMSG},
	    {"", "REGISTER", EBADMSG},
	    /* an unknown but well-formed method is parsed */
	    {"NEWMETHOD sip:example.com SIP/2.0", "NEWMETHOD", 0},
	};

	(void)state;
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		int n = snprintf(b, sizeof(b), "%s\r\n", cases[i].line);

		snprintf(b + n, sizeof(b) - (size_t)n, REST, cases[i].method);
		assert_int_equal(parse(&m, b), cases[i].rc);
		if (cases[i].rc == 0)
			assert_str(m.method, cases[i].method);
	}
	/* leading CRLFs before the start line are ignored */
	snprintf(b, sizeof(b), "\r\n\r\nOPTIONS sip:x SIP/2.0\r\n");
	snprintf(b + strlen(b), sizeof(b) - strlen(b), REST, "OPTIONS");
	assert_int_equal(parse(&m, b), 0);
	/* a start line cannot be folded */
	snprintf(b, sizeof(b), "OPTIONS sip:x\r\n SIP/2.0\r\n");
	snprintf(b + strlen(b), sizeof(b) - strlen(b), REST, "OPTIONS");
	assert_int_equal(parse(&m, b), EBADMSG);
}

/* RFC 4475 3.1.1.1 "wsinv" ideas: whitespace everywhere it is allowed. */
static void test_unusual_whitespace(void **state)
{
	struct sip_msg m;

	(void)state;
	assert_int_equal(
	    parse(&m, "REGISTER sip:example.com SIP/2.0\r\n"
		      "Via  :  SIP  /  2.0  /  UDP \t 192.0.2.2 : 5060 ; "
		      "branch = z9hG4bKws ; rport ; received = 192.0.2.200\r\n"
		      "From\t:\t\"W S\"\t<  sip:ws@example.com  >  ;  tag  =  "
		      "w1  \r\n"
		      "To    :sip:ws@example.com ;tag=w2\r\n"
		      "Call-ID   :   ws.call.id@host   \r\n"
		      "CSeq:   0009      REGISTER   \r\n"
		      "Contact : \"x\"<sip:ws@192.0.2.2>  ; expires = 30 ; "
		      "q = 0.25 , <sip:ws@192.0.2.3> ;expires=0\r\n"
		      "Expires:\t 120\t\r\n"
		      "Max-Forwards:   0\r\n"
		      "Content-Length :  0  \r\n"
		      "\r\n"),
	    0);
	assert_str(m.via[0].transport, "UDP");
	assert_str(m.via[0].host, "192.0.2.2");
	assert_int_equal(m.via[0].port, 5060);
	assert_str(m.via[0].branch, "z9hG4bKws");
	assert_str(m.via[0].received, "192.0.2.200");
	assert_true(m.via[0].rport);
	assert_str(m.from.uri_raw, "sip:ws@example.com");
	assert_str(m.from.tag, "w1");
	assert_str(m.to.uri_raw, "sip:ws@example.com");
	assert_str(m.to.tag, "w2");
	assert_str(m.call_id, "ws.call.id@host");
	assert_int_equal(m.cseq, 9);
	assert_int_equal(m.ncontact, 2);
	assert_int_equal(m.contact[0].expires, 30);
	assert_str(m.contact[0].q, "0.25");
	assert_str(m.contact[1].raw, "<sip:ws@192.0.2.3> ;expires=0");
	assert_int_equal(m.expires, 120);
	assert_int_equal(m.max_forwards, 0);
	assert_true(m.has_content_length);
}

/* RFC 3261 7.3.1 folding; RFC 4475 3.1.1.1 has it in several headers. */
static void test_folded_headers(void **state)
{
	struct sip_msg m;

	(void)state;
	assert_int_equal(
	    parse(&m, "REGISTER sip:example.com SIP/2.0\r\n"
		      "Via: SIP/2.0/UDP 192.0.2.5:5060\r\n"
		      " ;branch=z9hG4bKfold\r\n"
		      "\t;rport\r\n"
		      "From: \"Folded\r\n Name\" <sip:fold@example.com>\r\n"
		      "  ;tag=f1\r\n"
		      "To: <sip:fold@example.com>\r\n"
		      "Call-ID: fold-1\r\n"
		      "CSeq:\r\n 3\r\n REGISTER\r\n"
		      "Contact: <sip:fold@192.0.2.5>;expires=60,\r\n"
		      "   <sip:fold@192.0.2.6>;expires=30\r\n"
		      "Authorization: Digest username=\"fold\",\r\n"
		      "  realm=\"example.com\", nonce=\"n\",\r\n"
		      "\turi=\"sip:example.com\", response=\"r\"\r\n"
		      "Content-Length:\r\n 0\r\n"
		      "\r\n"),
	    0);
	assert_str(m.via[0].branch, "z9hG4bKfold");
	assert_true(m.via[0].rport);
	assert_str(
	    m.via_lines[0],
	    "SIP/2.0/UDP 192.0.2.5:5060   ;branch=z9hG4bKfold  \t;rport");
	assert_str(m.from.tag, "f1");
	assert_str(m.from.uri_raw, "sip:fold@example.com");
	assert_int_equal(m.cseq, 3);
	assert_int_equal(m.ncontact, 2);
	assert_int_equal(m.contact[1].expires, 30);
	assert_str(m.auth[0].realm, "example.com");
	assert_str(m.auth[0].uri, "sip:example.com");
	assert_int_equal(m.nhdrs, 8);

	/* the same with LF-only line ends */
	assert_int_equal(parse(&m, "REGISTER sip:example.com SIP/2.0\n"
				   "Via: SIP/2.0/UDP 192.0.2.5\n"
				   " ;branch=z9hG4bKlf\n"
				   "From: <sip:a@example.com>\n\t;tag=x\n"
				   "To: <sip:a@example.com>\nCall-ID: lf\n"
				   "CSeq: 1 REGISTER\n\n"),
			 0);
	assert_str(m.via[0].branch, "z9hG4bKlf");
	assert_str(m.from.tag, "x");

	/* mixed CRLF and LF, and a LF-only empty line after CRLF lines */
	assert_int_equal(parse(&m, "REGISTER sip:example.com SIP/2.0\r\n"
				   "Via: SIP/2.0/UDP 192.0.2.5\n"
				   "From: <sip:a@example.com>\r\n"
				   "To: <sip:a@example.com>\n"
				   "Call-ID: mix\r\n"
				   "CSeq: 1 REGISTER\r\n\nbody"),
			 0);
	assert_str(m.body, "body");
}

/* RFC 4475 3.1.1.1 / 3.1.1.3: escaped quotes and backslashes. */
static void test_escaped_quotes(void **state)
{
	struct sip_msg m;

	(void)state;
	assert_int_equal(
	    parse_with(
		&m,
		"Contact: \"Quoted \\\"Bob\\\" <sip:x>, \\\\ \" "
		"<sip:bob@192.0.2.7>;expires=5, \"\" <sip:bob@192.0.2.8>\r\n"
		"Authorization: Digest username=\"b\\\"o\\\\b\", "
		"realm=\"ex\\ample.com\", nonce=\"\", uri=\"sip:e\", "
		"response=\"00\"\r\n",
		""),
	    0);
	assert_int_equal(m.ncontact, 2);
	assert_str(m.contact[0].uri_raw, "sip:bob@192.0.2.7");
	assert_str(m.contact[0].raw,
		   "\"Quoted \\\"Bob\\\" <sip:x>, \\\\ \" <sip:bob@192.0.2.7>;"
		   "expires=5");
	assert_str(m.contact[1].uri_raw, "sip:bob@192.0.2.8");
	assert_str(m.auth[0].username, "b\"o\\b");
	assert_str(m.auth[0].realm, "example.com");
	assert_non_null(m.auth[0].nonce.p);
	assert_int_equal(m.auth[0].nonce.n, 0);

	/* an unterminated quote in a display name or parameter */
	assert_int_equal(parse_with(&m, "Contact: \"Bob <sip:b@h>\r\n", ""),
			 EBADMSG);
	assert_int_equal(
	    parse_with(&m, "Contact: <sip:b@h>;+sip.instance=\"<urn:x>\r\n",
		       ""),
	    EBADMSG);
	assert_int_equal(parse_with(&m, "Contact: \"Bob\\\" <sip:b@h>\r\n", ""),
			 EBADMSG);
	/* a missing '>' */
	assert_int_equal(parse_with(&m, "Contact: <sip:b@h\r\n", ""), EBADMSG);
}

static void test_from_to_forms(void **state)
{
	struct sip_msg m;
	char b[2048];

	(void)state;
	/* addr-spec: ;tag belongs to the header, not the URI (20.10) */
	snprintf(b, sizeof(b), "%s%s%s%s%s%s\r\n", base_head, base_via,
		 "From: sip:u@h;tag=x;transport=tcp\r\n",
		 "To: sip:u@h:5070\r\n", base_callid, base_cseq);
	assert_int_equal(parse(&m, b), 0);
	assert_str(m.from.uri_raw, "sip:u@h");
	assert_absent(m.from.uri.params);
	assert_str(m.from.tag, "x");
	assert_int_equal(m.to.uri.port, 5070);

	/* name-addr: the URI keeps its own parameters */
	snprintf(b, sizeof(b), "%s%s%s%s%s%s\r\n", base_head, base_via,
		 "From: Bob <sip:u@h;transport=tcp>;tag=y\r\n",
		 "To: \"\" <sips:u@[2001:db8::1]:5061>\r\n", base_callid,
		 base_cseq);
	assert_int_equal(parse(&m, b), 0);
	assert_str(m.from.uri.params, ";transport=tcp");
	assert_str(m.from.tag, "y");
	assert_str(m.to.uri.scheme, "sips");
	assert_str(m.to.uri.host, "2001:db8::1");
	assert_int_equal(m.to.uri.port, 5061);

	const char *bad[] = {
	    "From: <sip:u@h>;tag=1, <sip:v@h>\r\n", /* two values */
	    "From: <sip:u@h>;tag=1;tag=2\r\n",	    /* two tags */
	    "From: <sip:u@h>;tag\r\n",		    /* tag without value */
	    "From: <tel:+1555>;tag=1\r\n",	    /* not a SIP URI */
	    "From: <>;tag=1\r\n",		    /* empty URI */
	    "From: \r\n",			    /* empty */
	    "From: <sip:u@h> junk\r\n",		    /* trailing junk */
	    "From: \"a\" sip:u@h\r\n",		    /* quoted name, no < */
	};
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		snprintf(b, sizeof(b), "%s%s%s%s%s%s\r\n", base_head, base_via,
			 bad[i], base_to, base_callid, base_cseq);
		assert_int_equal(parse(&m, b), EBADMSG);
	}
}

static void test_via_forms(void **state)
{
	struct sip_msg m;
	char b[2048];
	static const struct {
		const char *via;
		int rc;
	} cases[] = {
	    {"SIP/2.0/UDP [::1]:5060;branch=z9hG4bK1;rport", 0},
	    {"SIP/2.0/WSS df7jal23ls0d.invalid;branch=z9hG4bK2", 0},
	    {"sip/2.0/tcp host.example;branch=z9hG4bK3;ttl=1;maddr=1.2.3.4", 0},
	    {"SIP/2.0/UDP 192.0.2.1;received=2001:db8::9;rport=5060", 0},
	    {"SIP/2.0/UDP 192.0.2.1;branch=\"quoted\"", 0},
	    {"SIP/3.0/UDP h", EBADMSG},
	    {"SIPX/2.0/UDP h", EBADMSG},
	    {"SIP/2.0/UDP", EBADMSG},
	    {"SIP/2.0/UDPh", EBADMSG},
	    {"SIP/2.0 UDP h", EBADMSG},
	    {"SIP/2.0/ h", EBADMSG},
	    {"SIP/2.0/UDP h:0", EBADMSG},
	    {"SIP/2.0/UDP h:65536", EBADMSG},
	    {"SIP/2.0/UDP h:", EBADMSG},
	    {"SIP/2.0/UDP [::1", EBADMSG},
	    {"SIP/2.0/UDP []:5060", EBADMSG},
	    {"SIP/2.0/UDP h;rport=0", EBADMSG},
	    {"SIP/2.0/UDP h;rport=x", EBADMSG},
	    {"SIP/2.0/UDP h;branch", EBADMSG},
	    {"SIP/2.0/UDP h;", EBADMSG},
	    {"SIP/2.0/UDP h junk", EBADMSG},
	    {"SIP/2.0/UDP h,", EBADMSG},
	    {"", EBADMSG},
	};

	(void)state;
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		snprintf(b, sizeof(b), "%sVia: %s\r\n%s%s%s%s\r\n", base_head,
			 cases[i].via, base_from, base_to, base_callid,
			 base_cseq);
		assert_int_equal(parse(&m, b), cases[i].rc);
	}
	snprintf(b, sizeof(b), "%sVia: %s\r\n%s%s%s%s\r\n", base_head,
		 cases[0].via, base_from, base_to, base_callid, base_cseq);
	assert_int_equal(parse(&m, b), 0);
	assert_str(m.via[0].host, "::1");
	assert_int_equal(m.via[0].port, 5060);
	snprintf(b, sizeof(b), "%sVia: %s\r\n%s%s%s%s\r\n", base_head,
		 cases[3].via, base_from, base_to, base_callid, base_cseq);
	assert_int_equal(parse(&m, b), 0);
	assert_str(m.via[0].received, "2001:db8::9");
	assert_int_equal(m.via[0].rport_value, 5060);
	assert_absent(m.via[0].branch);
}

static void test_contact_params(void **state)
{
	struct sip_msg m;

	(void)state;
	assert_int_equal(
	    parse_with(
		&m,
		"Contact: <sip:a@h>;expires=99999999999999999999999, "
		"<sip:b@h>;EXPIRES=4294967295;Q=0, "
		"<sip:c@h>;expires=4294967296;q=1, "
		"<sip:d@h>;+SIP.INSTANCE=\"<urn:uuid:1>\";REG-ID=2147483647\r\n"
		"Expires: 18446744073709551616\r\n",
		""),
	    0);
	assert_int_equal(m.contact[0].expires, UINT32_MAX);
	assert_int_equal(m.contact[1].expires, UINT32_MAX);
	assert_str(m.contact[1].q, "0");
	assert_int_equal(m.contact[2].expires, UINT32_MAX);
	assert_str(m.contact[3].instance, "<urn:uuid:1>");
	assert_str(m.contact[3].reg_id, "2147483647");
	assert_int_equal(m.expires, UINT32_MAX);

	/* an instance with escapes is not a URN: kept out, raw intact */
	assert_int_equal(
	    parse_with(&m, "Contact: <sip:a@h>;+sip.instance=\"<urn:\\x>\"\r\n",
		       ""),
	    0);
	assert_absent(m.contact[0].instance);
	assert_str(m.contact[0].raw, "<sip:a@h>;+sip.instance=\"<urn:\\x>\"");

	const char *bad[] = {
	    "Contact: <sip:a@h>;expires=\r\n",
	    "Contact: <sip:a@h>;expires\r\n",
	    "Contact: <sip:a@h>;expires=-1\r\n",
	    "Contact: <sip:a@h>;expires=1h\r\n",
	    "Contact: <sip:a@h>;expires=1;expires=2\r\n",
	    "Contact: <sip:a@h>;q=1.5\r\n",
	    "Contact: <sip:a@h>;q=0.1234\r\n",
	    "Contact: <sip:a@h>;q=.5\r\n",
	    "Contact: <sip:a@h>;q=1.001\r\n",
	    "Contact: <sip:a@h>;reg-id=0\r\n",
	    "Contact: <sip:a@h>;reg-id=2147483648\r\n",
	    "Contact: <sip:a@h>;reg-id=x\r\n",
	    "Contact: <sip:a@h>;+sip.instance\r\n",
	    "Contact: <sip:a@h>;+sip.instance=\"\"\r\n",
	    "Contact: <sip:a@h>, \r\n",
	    "Contact: , <sip:a@h>\r\n",
	    "Contact: \r\n",
	    "Contact: <urn:uuid:1>\r\n",
	    "Contact: <sip:a@h>;=x\r\n",
	    "Expires: -1\r\n",
	    "Expires: 1 2\r\n",
	    "Expires: \r\n",
	    "Expires: 60\r\nExpires: 60\r\n",
	    "Max-Forwards: 256\r\n",
	    "Max-Forwards: -1\r\n",
	    "Max-Forwards: 1\r\nMax-Forwards: 1\r\n",
	};
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++)
		assert_int_equal(parse_with(&m, bad[i], ""), EBADMSG);
	assert_int_equal(parse_with(&m, "Contact: <sip:a@h>;q=0.\r\n", ""), 0);
	assert_int_equal(parse_with(&m, "Max-Forwards: 255\r\n", ""), 0);
	assert_int_equal(m.max_forwards, 255);
}

static void test_authorization(void **state)
{
	struct sip_msg m;
	char b[4096];

	(void)state;
	/* case-insensitive names and scheme; token and quoted values; unknown
	 * parameters ignored; userhash; Basic ignored */
	assert_int_equal(
	    parse_with(
		&m,
		"Authorization: digest USERNAME=\"u\", Realm=r, "
		"Nonce=\"n1\",uri=\"sip:example.com\",response=\"rr\","
		"algorithm=\"SHA-256\",qop=\"auth\",nc=00000001,"
		"cnonce=c,userhash=true,username*=UTF-8''x,foo=\"b,ar\"\r\n"
		"Authorization: Basic dXNlcjpwYXNz\r\n"
		"Proxy-Authorization: Digest username=\"p\"\r\n"
		"Authorization: Digest username=\"second\", "
		"userhash=\"FALSE\"\r\n",
		""),
	    0);
	assert_int_equal(m.nauth, 2);
	assert_str(m.auth[0].username, "u");
	assert_str(m.auth[0].realm, "r");
	assert_str(m.auth[0].nonce, "n1");
	assert_str(m.auth[0].algorithm, "SHA-256");
	assert_str(m.auth[0].qop, "auth");
	assert_str(m.auth[0].cnonce, "c");
	assert_true(m.auth[0].userhash);
	assert_absent(m.auth[0].opaque);
	assert_str(m.auth[1].username, "second");
	assert_false(m.auth[1].userhash);

	const char *bad[] = {
	    "Authorization: Digest\r\n",
	    "Authorization: Digest username\r\n",
	    "Authorization: Digest username=\r\n",
	    "Authorization: Digest username=\"a\" realm=\"b\"\r\n",
	    "Authorization: Digest username=\"a\r\n",
	    "Authorization: Digest username=\"a\", username=\"b\"\r\n",
	    "Authorization: Digest userhash=true, userhash=false\r\n",
	    "Authorization: Digest =x\r\n",
	    "Authorization: Digest a=b\"c\"\r\n",
	};
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++)
		assert_int_equal(parse_with(&m, bad[i], ""), EBADMSG);

	/* up to SIP_AUTH_MAX Digest headers */
	b[0] = '\0';
	for (int i = 0; i < SIP_AUTH_MAX; i++)
		strcat(b, "Authorization: Digest username=\"u\"\r\n");
	assert_int_equal(parse_with(&m, b, ""), 0);
	assert_int_equal(m.nauth, SIP_AUTH_MAX);
	strcat(b, "Authorization: Digest username=\"u\"\r\n");
	assert_int_equal(parse_with(&m, b, ""), E2BIG);
}

/* Proxy-Authorization: its own array, the same parser, never fatal. */
static void test_proxy_authorization(void **state)
{
	struct sip_msg m;
	char b[4096];

	(void)state;
	assert_int_equal(
	    parse_with(&m,
		       "Proxy-Authorization: Digest username=\"bob\", "
		       "realm=\"example.com\", nonce=\"n\\\"2\", "
		       "uri=\"sip:carol@example.com\", response=\"r\", "
		       "algorithm=SHA-256, qop=auth, nc=00000002, "
		       "cnonce=\"c\"\r\n"
		       "Authorization: Digest username=\"alice\"\r\n"
		       "PROXY-AUTHORIZATION: Basic Ym9iOnB3\r\n"
		       "proxy-authorization: digest username=\"second\"\r\n",
		       ""),
	    0);
	assert_int_equal(m.nauth, 1);
	assert_str(m.auth[0].username, "alice");
	assert_int_equal(m.npauth, 2);
	assert_int_equal(m.pauth_err, 0);
	assert_str(m.pauth[0].username, "bob");
	assert_str(m.pauth[0].realm, "example.com");
	assert_str(m.pauth[0].nonce, "n\"2"); /* unescaped in place */
	assert_str(m.pauth[0].uri, "sip:carol@example.com");
	assert_str(m.pauth[0].algorithm, "SHA-256");
	assert_str(m.pauth[0].qop, "auth");
	assert_str(m.pauth[0].nc, "00000002");
	assert_str(m.pauth[0].cnonce, "c");
	assert_str(m.pauth[1].username, "second");

	/* A bad one is dropped and noted; the message still parses (a
	 * registrar never read Proxy-Authorization), the good ones are kept. */
	assert_int_equal(
	    parse_with(&m,
		       "Proxy-Authorization: Digest username=\"a\"\r\n"
		       "Proxy-Authorization: Digest username=\"a\", "
		       "username=\"b\"\r\n"
		       "Proxy-Authorization: Digest =x\r\n"
		       "Proxy-Authorization: Digest username=\"c\"\r\n",
		       ""),
	    0);
	assert_int_equal(m.npauth, 2);
	assert_int_equal(m.pauth_err, EBADMSG);
	assert_str(m.pauth[0].username, "a");
	assert_str(m.pauth[1].username, "c");
	assert_int_equal(m.nauth, 0);

	/* up to SIP_AUTH_MAX, then E2BIG noted, not returned */
	b[0] = '\0';
	for (int i = 0; i < SIP_AUTH_MAX; i++)
		strcat(b, "Proxy-Authorization: Digest username=\"u\"\r\n");
	assert_int_equal(parse_with(&m, b, ""), 0);
	assert_int_equal(m.npauth, SIP_AUTH_MAX);
	assert_int_equal(m.pauth_err, 0);
	strcat(b, "Proxy-Authorization: Digest username=\"v\"\r\n");
	assert_int_equal(parse_with(&m, b, ""), 0);
	assert_int_equal(m.npauth, SIP_AUTH_MAX);
	assert_int_equal(m.pauth_err, E2BIG);

	/* Authorization stays fatal, as before */
	assert_int_equal(
	    parse_with(&m, "Authorization: Digest username=\"a\" x\r\n", ""),
	    EBADMSG);
}

/* Every field kept in order; sip_msg_header finds the first by name. */
static void test_header_list(void **state)
{
	struct sip_msg m;
	struct sip_str v;

	(void)state;
	assert_int_equal(parse(&m,
			       "INVITE sip:bob@example.com SIP/2.0\r\n"
			       "v: SIP/2.0/UDP 192.0.2.1;branch=z9hG4bKh\r\n"
			       "From: <sip:alice@example.com>;tag=1\r\n"
			       "To: <sip:bob@example.com>\r\n"
			       "Call-ID: hdrs-1\r\n"
			       "CSeq: 1 INVITE\r\n"
			       "X-PH-Account:  acme \t\r\n"
			       "x-ph-account: second\r\n"
			       "X-PH-Folded: one,\r\n two\r\n"
			       "X-Empty:\r\n"
			       "Subject : hello world\r\n"
			       "c: application/sdp\r\n"
			       "Content-Length: 4\r\n"
			       "\r\n"
			       "v=0\n"),
			 0);
	assert_int_equal(m.nhdrs, 12);
	assert_str(m.hdrs[0].name, "v");
	assert_str(m.hdrs[0].value, "SIP/2.0/UDP 192.0.2.1;branch=z9hG4bKh");
	assert_str(m.hdrs[5].name, "X-PH-Account");
	assert_str(m.hdrs[5].value, "acme");
	assert_str(m.hdrs[6].name, "x-ph-account");
	assert_str(m.hdrs[7].value, "one,   two"); /* unfolded */
	assert_str(m.hdrs[9].name, "Subject");
	assert_str(m.hdrs[11].value, "4");

	assert_str(sip_msg_header(&m, "x-PH-account", NULL), "acme");
	assert_str(sip_msg_header(&m, "X-PH-Folded", NULL), "one,   two");
	assert_str(sip_msg_header(&m, "subject", "s"), "hello world");
	v = sip_msg_header(&m, "X-Empty", NULL);
	assert_non_null(v.p);
	assert_int_equal(v.n, 0);
	/* full name or compact form, whichever was written */
	assert_str(sip_msg_header(&m, "Via", "v"),
		   "SIP/2.0/UDP 192.0.2.1;branch=z9hG4bKh");
	assert_absent(sip_msg_header(&m, "Via", NULL));
	assert_str(sip_msg_header(&m, "Content-Type", "c"), "application/sdp");
	assert_absent(sip_msg_header(&m, "X-PH-Missing", NULL));
	assert_absent(sip_msg_header(&m, "X-PH", NULL)); /* no prefix match */
	assert_absent(sip_msg_header(&m, "", NULL));
	assert_str(m.body, "v=0\n");

	/* A failed parse keeps the fields read up to the first bad one and
	 * those after it (each field is parsed). */
	assert_int_equal(parse_with(&m, "Expires: x\r\nX-After: 1\r\n", ""),
			 EBADMSG);
	assert_int_equal(m.nhdrs, 7);
	assert_str(sip_msg_header(&m, "X-After", NULL), "1");
	assert_str(sip_msg_header(&m, "Expires", NULL), "x");
}

static void test_cseq(void **state)
{
	struct sip_msg m;
	char b[1024];
	static const struct {
		const char *cseq;
		int rc;
		uint32_t n;
	} cases[] = {
	    {"CSeq: 2147483647 REGISTER", 0, 2147483647u},
	    {"CSeq: 0 REGISTER", 0, 0},
	    {"CSeq: 000000000000000000000042 REGISTER", 0, 42},
	    {"CSeq: 2147483648 REGISTER", EBADMSG, 0},
	    {"CSeq: 4294967296 REGISTER", EBADMSG, 0},
	    {"CSeq: 36893488147419103232 REGISTER", EBADMSG, 0},
	    {"CSeq: -1 REGISTER", EBADMSG, 0},
	    {"CSeq: 1REGISTER", EBADMSG, 0},
	    {"CSeq: 1", EBADMSG, 0},
	    {"CSeq: REGISTER", EBADMSG, 0},
	    {"CSeq: 1 REGISTER x", EBADMSG, 0},
	    {"CSeq: 1 INVITE", EBADMSG, 0},   /* not the request method */
	    {"CSeq: 1 register", EBADMSG, 0}, /* methods are case-sensitive */
	};

	(void)state;
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		snprintf(b, sizeof(b), "%s%s%s%s%s%s\r\n\r\n", base_head,
			 base_via, base_from, base_to, base_callid,
			 cases[i].cseq);
		assert_int_equal(parse(&m, b), cases[i].rc);
		if (cases[i].rc == 0)
			assert_int_equal(m.cseq, cases[i].n);
	}
}

/* RFC 4475 3.1.2.x: missing and repeated mandatory headers */
static void test_missing_and_duplicate(void **state)
{
	const char *parts[] = {base_via, base_from, base_to, base_callid,
			       base_cseq};
	struct sip_msg m;
	char b[2048];

	(void)state;
	for (size_t skip = 0; skip < 5; skip++) {
		strcpy(b, base_head);
		for (size_t i = 0; i < 5; i++)
			if (i != skip)
				strcat(b, parts[i]);
		strcat(b, "\r\n");
		assert_int_equal(parse(&m, b), EBADMSG);
	}
	/* From, To, Call-ID, CSeq may not repeat; Via may */
	for (size_t dup = 0; dup < 5; dup++) {
		strcpy(b, base_head);
		for (size_t i = 0; i < 5; i++)
			strcat(b, parts[i]);
		strcat(b, parts[dup]);
		strcat(b, "\r\n");
		assert_int_equal(parse(&m, b), dup == 0 ? 0 : EBADMSG);
	}
	/* the compact form counts as the same header */
	assert_int_equal(parse_with(&m, "i: other\r\n", ""), EBADMSG);
	assert_int_equal(parse_with(&m, "l: 0\r\nContent-Length: 0\r\n", ""),
			 EBADMSG);
	/* Call-ID: empty, or with whitespace inside */
	snprintf(b, sizeof(b), "%s%s%s%sCall-ID: \r\n%s\r\n", base_head,
		 base_via, base_from, base_to, base_cseq);
	assert_int_equal(parse(&m, b), EBADMSG);
	snprintf(b, sizeof(b), "%s%s%s%sCall-ID: a b\r\n%s\r\n", base_head,
		 base_via, base_from, base_to, base_cseq);
	assert_int_equal(parse(&m, b), EBADMSG);
	/* RFC 4475 3.1.1.2 intmeth: Call-ID word characters */
	snprintf(b, sizeof(b),
		 "%s%s%s%sCall-ID: intmeth.word%%ZK-!.*_+'@word`~)(><:\\/\"'"
		 "?}{\r\n%s\r\n",
		 base_head, base_via, base_from, base_to, base_cseq);
	assert_int_equal(parse(&m, b), 0);
}

/* After an error, the headers needed for a 400 are still there. */
static void test_partial_on_error(void **state)
{
	struct sip_msg m;

	(void)state;
	assert_int_equal(
	    parse_with(&m,
		       "Contact: <sip:bad@h>;expires=x\r\nMax-Forwards: 9\r\n",
		       ""),
	    EBADMSG);
	assert_int_equal(m.nvia, 1);
	assert_int_equal(m.nvia_lines, 1);
	assert_str(m.call_id, "torture-1");
	assert_str(m.from.tag, "ft");
	assert_str(m.to.uri_raw, "sip:t@example.com");
	assert_str(m.cseq_method, "REGISTER");
	assert_int_equal(m.max_forwards, 9);
	assert_int_equal(m.ncontact, 0);
}

static void test_content_length(void **state)
{
	struct sip_msg m;

	(void)state;
	assert_int_equal(parse_with(&m, "Content-Length: 4\r\n", "abcd"), 0);
	assert_str(m.body, "abcd");
	assert_int_equal(m.content_length, 4);
	/* absent on a datagram: the body is the rest */
	assert_int_equal(parse_with(&m, "", "rest of it"), 0);
	assert_str(m.body, "rest of it");
	assert_false(m.has_content_length);

	/* RFC 3261 18.3: bytes beyond Content-Length are discarded */
	assert_int_equal(parse_with(&m, "Content-Length: 3\r\n", "abcd"), 0);
	assert_str(m.body, "abc");
	const char *bad[] = {"Content-Length: 5\r\n",
			     "Content-Length: -4\r\n",
			     "Content-Length: 4x\r\n",
			     "Content-Length: \r\n",
			     "Content-Length: 99999999999999999999999\r\n",
			     "Content-Length: 4 4\r\n"};
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++)
		assert_int_equal(parse_with(&m, bad[i], "abcd"), EBADMSG);
	/* larger than the body: the tail of a truncated datagram */
	assert_int_equal(parse_with(&m, "Content-Length: 1000\r\n", "v=0"),
			 EBADMSG);
}

/* RFC 4475 3.1.2.x: NUL bytes, bare CR, no empty line */
static void test_nul_and_framing_bytes(void **state)
{
	struct sip_msg m;
	char b[1024];
	int n;

	(void)state;
	n = snprintf(b, sizeof(b), "%s%s%s%s%s%sX-A: a\r\n\r\n", base_head,
		     base_via, base_from, base_to, base_callid, base_cseq);
	/* a NUL anywhere in the header part */
	for (int i = 0; i < n - 2; i++) {
		char c = b[i];

		b[i] = '\0';
		assert_int_equal(parse_n(&m, b, (size_t)n), EBADMSG);
		b[i] = c;
	}
	assert_int_equal(parse_n(&m, b, (size_t)n), 0);

	/* a NUL in the body is fine */
	n = snprintf(b, sizeof(b), "%s%s%s%s%s%sContent-Length: 3\r\n\r\na?b",
		     base_head, base_via, base_from, base_to, base_callid,
		     base_cseq);
	b[n - 2] = '\0';
	assert_int_equal(parse_n(&m, b, (size_t)n), 0);
	assert_int_equal(m.body.n, 3);
	assert_memory_equal(m.body.p, "a\0b", 3);

	/* a bare CR could split an echoed header */
	assert_int_equal(parse_with(&m, "X-A: a\rInjected: 1\r\n", ""),
			 EBADMSG);
	assert_int_equal(parse_with(&m, "X-A: a\r\r\n", ""), EBADMSG);
	/* no empty line after the headers */
	n = snprintf(b, sizeof(b), "%s%s%s%s%s%s", base_head, base_via,
		     base_from, base_to, base_callid, base_cseq);
	assert_int_equal(parse_n(&m, b, (size_t)n), EBADMSG);
	assert_int_equal(parse_n(&m, b, (size_t)n - 1), EBADMSG);
	assert_int_equal(parse_n(&m, "", 0), EBADMSG);
	assert_int_equal(parse(&m, "\r\n\r\n"), EBADMSG);
	assert_int_equal(parse(&m, "\n"), EBADMSG);
	/* a header line without a colon, or with an empty name */
	assert_int_equal(parse_with(&m, "NoColonHere\r\n", ""), EBADMSG);
	assert_int_equal(parse_with(&m, ": value\r\n", ""), EBADMSG);
	assert_int_equal(parse_with(&m, "Bad Name: value\r\n", ""), EBADMSG);
}

/* RFC 4475 3.1.1.x: very long values are fine, within the buffer */
static void test_long_lines(void **state)
{
	struct sip_msg m;
	static char extra[12000];
	int n;

	(void)state;
	n = snprintf(extra, sizeof(extra), "X-Long: ");
	memset(extra + n, 'a', 8000);
	n += 8000;
	n += snprintf(extra + n, sizeof(extra) - (size_t)n, "\r\nUser-Agent: ");
	memset(extra + n, 'u', 2000);
	n += 2000;
	snprintf(extra + n, sizeof(extra) - (size_t)n, "\r\n");
	assert_int_equal(parse_with(&m, extra, ""), 0);
	assert_int_equal(m.user_agent.n, 2000);
}

static void test_limits(void **state)
{
	struct sip_msg m;
	static char b[16000];
	size_t n;

	(void)state;
	/* 8 headers of two Via values each, plus the base one: 17 */
	b[0] = '\0';
	for (int i = 0; i < SIP_VIA_MAX / 2; i++)
		strcat(b, "Via: SIP/2.0/UDP h1;branch=z9hG4bKa, "
			  "SIP/2.0/UDP h2;branch=z9hG4bKb\r\n");
	assert_int_equal(parse_with(&m, b, ""), E2BIG);
	assert_int_equal(m.nvia, SIP_VIA_MAX - 1);
	b[0] = '\0';
	for (int i = 1; i < SIP_VIA_MAX; i++)
		strcat(b, "v: SIP/2.0/UDP h;branch=z9hG4bKv\r\n");
	assert_int_equal(parse_with(&m, b, ""), 0);
	assert_int_equal(m.nvia, SIP_VIA_MAX);
	assert_int_equal(m.nvia_lines, SIP_VIA_MAX);
	strcat(b, "v: SIP/2.0/UDP h;branch=z9hG4bKv\r\n");
	assert_int_equal(parse_with(&m, b, ""), E2BIG);

	/* SIP_CONTACT_MAX contacts in one header, then one more */
	strcpy(b, "Contact: <sip:c0@h>");
	for (int i = 1; i < SIP_CONTACT_MAX; i++)
		sprintf(b + strlen(b), ", <sip:c%d@h>", i);
	strcat(b, "\r\n");
	assert_int_equal(parse_with(&m, b, ""), 0);
	assert_int_equal(m.ncontact, SIP_CONTACT_MAX);
	strcat(b, "m: sip:more@h\r\n");
	assert_int_equal(parse_with(&m, b, ""), E2BIG);

	/* SIP_HEADERS_MAX fields, counting the 5 mandatory ones */
	b[0] = '\0';
	for (int i = 5; i < SIP_HEADERS_MAX; i++)
		sprintf(b + strlen(b), "X-H%d: %d\r\n", i, i);
	assert_int_equal(parse_with(&m, b, ""), 0);
	assert_int_equal(m.nhdrs, SIP_HEADERS_MAX);
	strcat(b, "X-Last: 1\r\n");
	assert_int_equal(parse_with(&m, b, ""), E2BIG);

	/* 1000 Vias (RFC 4475-style resource exhaustion) */
	n = 0;
	for (int i = 0; i < 300; i++)
		n += (size_t)sprintf(b + n, "Via: SIP/2.0/UDP x;branch=z\r\n");
	assert_int_equal(parse_with(&m, b, ""), E2BIG);
}

/* ---- URIs ---- */

static void test_uri(void **state)
{
	struct sip_uri u;
	static const struct {
		const char *text;
		int rc;
		const char *user, *host, *params;
		unsigned port;
	} cases[] = {
	    {"sip:alice@atlanta.com", 0, "alice", "atlanta.com", NULL, 0},
	    {"SIPS:alice@atlanta.com:5061;transport=tcp", 0, "alice",
	     "atlanta.com", ";transport=tcp", 5061},
	    {"sip:alice:secretword@atlanta.com;transport=tcp", 0, "alice",
	     "atlanta.com", ";transport=tcp", 0},
	    {"sip:+1-212-555-1212:1234@gateway.com;user=phone", 0,
	     "+1-212-555-1212", "gateway.com", ";user=phone", 0},
	    {"sip:alice@192.0.2.4", 0, "alice", "192.0.2.4", NULL, 0},
	    {"sip:atlanta.com;method=REGISTER?to=alice%40atlanta.com", 0, NULL,
	     "atlanta.com", ";method=REGISTER", 0},
	    {"sip:alice;day=tuesday@atlanta.com", 0, "alice;day=tuesday",
	     "atlanta.com", NULL, 0},
	    {"sip:%61lice@atlanta.com;transport=TCP", 0, "%61lice",
	     "atlanta.com", ";transport=TCP", 0},
	    {"sip:[2001:db8::10]:5070", 0, NULL, "2001:db8::10", NULL, 5070},
	    {"sip:[::ffff:192.0.2.1]", 0, NULL, "::ffff:192.0.2.1", NULL, 0},
	    {"sip:h:65535", 0, NULL, "h", NULL, 65535},
	    {"sip:h:00080", 0, NULL, "h", NULL, 80},
	    {"sip:user@h;lr;maddr=[2001:db8::1]", 0, "user", "h",
	     ";lr;maddr=[2001:db8::1]", 0},
	    {"sip:", EBADMSG, NULL, NULL, NULL, 0},
	    {"sip", EBADMSG, NULL, NULL, NULL, 0},
	    {"", EBADMSG, NULL, NULL, NULL, 0},
	    {"tel:+15551234567", EBADMSG, NULL, NULL, NULL, 0},
	    {"sipx:a@b", EBADMSG, NULL, NULL, NULL, 0},
	    {"sip:@h", EBADMSG, NULL, NULL, NULL, 0},
	    {"sip:a@", EBADMSG, NULL, NULL, NULL, 0},
	    {"sip:a b@h", EBADMSG, NULL, NULL, NULL, 0},
	    {"sip:a%4@h", EBADMSG, NULL, NULL, NULL, 0},
	    {"sip:a%zz@h", EBADMSG, NULL, NULL, NULL, 0},
	    {"sip:h:0", EBADMSG, NULL, NULL, NULL, 0},
	    {"sip:h:65536", EBADMSG, NULL, NULL, NULL, 0},
	    {"sip:h:99999999999999999999", EBADMSG, NULL, NULL, NULL, 0},
	    {"sip:h:", EBADMSG, NULL, NULL, NULL, 0},
	    {"sip:h:x", EBADMSG, NULL, NULL, NULL, 0},
	    {"sip:[2001:db8::1", EBADMSG, NULL, NULL, NULL, 0},
	    {"sip:[]", EBADMSG, NULL, NULL, NULL, 0},
	    {"sip:[zz::1]", EBADMSG, NULL, NULL, NULL, 0},
	    {"sip:h;a=<b>", EBADMSG, NULL, NULL, NULL, 0},
	    {"sip:h ", EBADMSG, NULL, NULL, NULL, 0},
	    {"sip:h/x", EBADMSG, NULL, NULL, NULL, 0},
	    {"sip:a@b@c", EBADMSG, NULL, NULL, NULL, 0},
	};

	(void)state;
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		size_t len = strlen(cases[i].text);
		char *t = malloc(len ? len : 1);

		assert_non_null(t);
		memcpy(t, cases[i].text, len);
		memset(&u, 0x5a, sizeof(u));
		assert_int_equal(sip_uri_parse((struct sip_str){t, len}, &u),
				 cases[i].rc);
		if (cases[i].rc == 0) {
			if (cases[i].user)
				assert_str(u.user, cases[i].user);
			else
				assert_absent(u.user);
			assert_str(u.host, cases[i].host);
			if (cases[i].params)
				assert_str(u.params, cases[i].params);
			else
				assert_absent(u.params);
			assert_int_equal(u.port, cases[i].port);
		}
		free(t);
	}
	assert_int_equal(sip_uri_parse((struct sip_str){NULL, 0}, &u), EBADMSG);
}

static void test_str_helpers(void **state)
{
	struct sip_str s = {"Digest", 6}, none = {NULL, 0};

	(void)state;
	assert_true(sip_str_ieq(s, "digest"));
	assert_true(sip_str_ieq(s, "DIGEST"));
	assert_false(sip_str_ieq(s, "Diges"));
	assert_false(sip_str_eq(s, "digest"));
	assert_true(sip_str_eq(s, "Digest"));
	assert_false(sip_str_eq(none, "x"));
	assert_true(sip_str_eq(none, ""));
	assert_true(sip_str_ieq(none, ""));
}

/* ---- stream framing ---- */

static int frame(const char *buf, size_t len, size_t max, size_t *skip,
		 size_t *msglen)
{
	char *t = malloc(len ? len : 1);
	int rc;

	assert_non_null(t);
	memcpy(t, buf, len);
	rc = sip_msg_frame(t, len, max, skip, msglen);
	free(t);
	return rc;
}

static void test_frame_several(void **state)
{
	static char b[8192];
	size_t skip, ml, off = 0, n, lens[3];
	struct sip_msg m;
	const char *msgs[3] = {linphone, baresip, sipp_compact};

	(void)state;
	n = 0;
	for (int i = 0; i < 3; i++) {
		lens[i] = strlen(msgs[i]);
		memcpy(b + n, msgs[i], lens[i]);
		n += lens[i];
		if (i == 0) { /* a keep-alive between messages */
			memcpy(b + n, "\r\n\r\n", 4);
			n += 4;
		}
	}
	for (int i = 0; i < 3; i++) {
		assert_int_equal(frame(b + off, n - off, 4096, &skip, &ml), 0);
		assert_int_equal(skip, i == 1 ? 4 : 0);
		assert_int_equal(ml, lens[i]);
		off += skip;
		assert_int_equal(parse_n(&m, b + off, ml), 0);
		off += ml;
	}
	assert_int_equal(off, n);
	assert_int_equal(frame(b + off, 0, 4096, &skip, &ml), EAGAIN);
	assert_int_equal(skip, 0);
}

static void test_frame_split(void **state)
{
	static char b[4096];
	size_t skip, ml, n;
	const char *bodymsg = "OPTIONS sip:x SIP/2.0\r\n"
			      "Via: SIP/2.0/TCP h;branch=z9hG4bKo\r\n"
			      "From: <sip:a@b>;tag=1\r\nTo: <sip:a@b>\r\n"
			      "Call-ID: split\r\nCSeq: 1 OPTIONS\r\n"
			      "l: 11\r\n\r\nhello world";

	(void)state;
	for (int k = 0; k < 3; k++) {
		const char *msg = k == 0   ? linphone
				  : k == 1 ? baresip
					   : bodymsg;

		n = (size_t)snprintf(b, sizeof(b), "\r\n\r\n%s", msg);
		for (size_t cut = 0; cut < n; cut++) {
			ml = 12345;
			assert_int_equal(frame(b, cut, 4096, &skip, &ml),
					 EAGAIN);
			assert_int_equal(ml, 12345);
			/* a lone CR may still become a CRLF ping */
			assert_int_equal(skip, cut < 4 ? cut & ~(size_t)1 : 4);
		}
		assert_int_equal(frame(b, n, 4096, &skip, &ml), 0);
		assert_int_equal(skip, 4);
		assert_int_equal(ml, n - 4);
		/* exactly max is fine, one less is not */
		assert_int_equal(frame(b, n, n - 4, &skip, &ml), 0);
		assert_int_equal(frame(b, n, n - 5, &skip, &ml), EBADMSG);
	}
}

static void test_frame_errors(void **state)
{
	size_t skip, ml;
	char b[8192];
	int n;

	(void)state;
	/* pings only */
	assert_int_equal(frame("\r\n\r\n", 4, 100, &skip, &ml), EAGAIN);
	assert_int_equal(skip, 4);
	assert_int_equal(frame("\n\n\r\n\r", 5, 100, &skip, &ml), EAGAIN);
	assert_int_equal(skip, 4);

	/* no Content-Length on a stream */
	n = snprintf(b, sizeof(b), "%s%s%s%s%s%s\r\n", base_head, base_via,
		     base_from, base_to, base_callid, base_cseq);
	assert_int_equal(frame(b, (size_t)n, 4096, &skip, &ml), EBADMSG);
	/* bad, negative, repeated or oversize Content-Length */
	const char *bad[] = {"Content-Length: -1\r\n",
			     "Content-Length: x\r\n",
			     "Content-Length: 1 2\r\n",
			     "Content-Length:\r\n",
			     "l: 0\r\nContent-Length: 0\r\n",
			     "Content-Length: 99999999999999999999999999\r\n",
			     "Content-Length: 5000\r\n"};
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		n = snprintf(b, sizeof(b), "%s%s%s%s%s%s%s\r\n", base_head,
			     base_via, base_from, base_to, base_callid,
			     base_cseq, bad[i]);
		assert_int_equal(frame(b, (size_t)n, 4096, &skip, &ml),
				 EBADMSG);
	}
	/* folded Content-Length, and with LF-only lines */
	n = snprintf(b, sizeof(b),
		     "%s%s%s%s%s%sContent-Length:\r\n 2\r\n\r\nab", base_head,
		     base_via, base_from, base_to, base_callid, base_cseq);
	assert_int_equal(frame(b, (size_t)n, 4096, &skip, &ml), 0);
	assert_int_equal(ml, (size_t)n);
	assert_int_equal(frame(b, (size_t)n - 1, 4096, &skip, &ml), EAGAIN);
	n = snprintf(b, sizeof(b), "OPTIONS sip:x SIP/2.0\nL : 1\n\nZ");
	assert_int_equal(frame(b, (size_t)n, 4096, &skip, &ml), 0);
	assert_int_equal(ml, (size_t)n);
	/* a header called "Content-Lengthy" is not Content-Length */
	n = snprintf(b, sizeof(b),
		     "OPTIONS sip:x SIP/2.0\nContent-Lengthy: "
		     "1\nl: 0\n\n");
	assert_int_equal(frame(b, (size_t)n, 4096, &skip, &ml), 0);

	/* headers larger than max: refused without the empty line */
	memset(b, 'a', sizeof(b));
	assert_int_equal(frame(b, 100, 100, &skip, &ml), EBADMSG);
	assert_int_equal(frame(b, 99, 100, &skip, &ml), EAGAIN);
	assert_int_equal(frame(b, sizeof(b), 4096, &skip, &ml), EBADMSG);
	/* the empty line just past max */
	n = snprintf(b, sizeof(b), "OPTIONS sip:x SIP/2.0\r\nl: 0\r\n\r\n");
	assert_int_equal(frame(b, (size_t)n, (size_t)n - 1, &skip, &ml),
			 EBADMSG);
	assert_int_equal(frame(b, (size_t)n, (size_t)n, &skip, &ml), 0);
	/* max 0 */
	assert_int_equal(frame(b, (size_t)n, 0, &skip, &ml), EBADMSG);
	assert_int_equal(frame(b, 0, 0, &skip, &ml), EBADMSG);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test_teardown(test_vendor_linphone, teardown),
	    cmocka_unit_test_teardown(test_vendor_zoiper, teardown),
	    cmocka_unit_test_teardown(test_vendor_yealink, teardown),
	    cmocka_unit_test_teardown(test_vendor_polycom, teardown),
	    cmocka_unit_test_teardown(test_vendor_grandstream, teardown),
	    cmocka_unit_test_teardown(test_vendor_cisco_spa, teardown),
	    cmocka_unit_test_teardown(test_vendor_baresip_ipv6_lf, teardown),
	    cmocka_unit_test_teardown(test_vendor_sipp_compact, teardown),
	    cmocka_unit_test_teardown(test_vendor_asterisk, teardown),
	    cmocka_unit_test_teardown(test_multi_contact_via, teardown),
	    cmocka_unit_test_teardown(test_contact_star, teardown),
	    cmocka_unit_test_teardown(test_minimal_and_response, teardown),
	    cmocka_unit_test_teardown(test_request_line, teardown),
	    cmocka_unit_test_teardown(test_unusual_whitespace, teardown),
	    cmocka_unit_test_teardown(test_folded_headers, teardown),
	    cmocka_unit_test_teardown(test_escaped_quotes, teardown),
	    cmocka_unit_test_teardown(test_from_to_forms, teardown),
	    cmocka_unit_test_teardown(test_via_forms, teardown),
	    cmocka_unit_test_teardown(test_contact_params, teardown),
	    cmocka_unit_test_teardown(test_authorization, teardown),
	    cmocka_unit_test_teardown(test_proxy_authorization, teardown),
	    cmocka_unit_test_teardown(test_header_list, teardown),
	    cmocka_unit_test_teardown(test_cseq, teardown),
	    cmocka_unit_test_teardown(test_missing_and_duplicate, teardown),
	    cmocka_unit_test_teardown(test_partial_on_error, teardown),
	    cmocka_unit_test_teardown(test_content_length, teardown),
	    cmocka_unit_test_teardown(test_nul_and_framing_bytes, teardown),
	    cmocka_unit_test_teardown(test_long_lines, teardown),
	    cmocka_unit_test_teardown(test_limits, teardown),
	    cmocka_unit_test_teardown(test_uri, teardown),
	    cmocka_unit_test_teardown(test_str_helpers, teardown),
	    cmocka_unit_test_teardown(test_frame_several, teardown),
	    cmocka_unit_test_teardown(test_frame_split, teardown),
	    cmocka_unit_test_teardown(test_frame_errors, teardown),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
