/*
 * test_sip_tsx.c - the transaction layer driven by an injected clock: every
 * timer at its RFC 3261 value, retransmission doubling and caps, TCP
 * without retransmissions, matching, 100 Trying, ACK, CANCEL, caps.
 */
#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "sip/build.h"
#include "sip/tsx.h"

#define MAXREC 64

/* What went on the wire and what the TU heard. */
struct sent {
	char buf[2048];
	size_t len;
	struct sip_peer to;
};
struct heard {
	enum sip_tsx_ev type;
	struct sip_tsx *tx;
	unsigned status; /* of msg, when a response */
	char method[16]; /* of msg, when a request */
	int err;
};

static struct sent sent[MAXREC];
static unsigned nsent;
static struct heard heard[MAXREC];
static unsigned nheard;
static int fail_send;
/* When set, the TU answers each new request with this at once. */
static unsigned auto_answer;
static struct sip_tsx_table *tbl;
/* When set, events are only counted (for tables of thousands). */
static bool quiet;
static unsigned nquiet[SIP_TSX_EV_TERMINATED + 1];

static int on_send(void *ctx, const struct sip_peer *to, const char *buf,
		   size_t len)
{
	(void)ctx;
	if (fail_send)
		return fail_send;
	assert_true(nsent < MAXREC && len < sizeof(sent[0].buf));
	memcpy(sent[nsent].buf, buf, len);
	sent[nsent].buf[len] = '\0';
	sent[nsent].len = len;
	sent[nsent].to = *to;
	nsent++;
	return 0;
}

static void on_event(void *ctx, const struct sip_tsx_event *ev)
{
	struct heard *h;

	(void)ctx;
	if (quiet) {
		nquiet[ev->type]++;
		return;
	}
	h = &heard[nheard++];
	assert_true(nheard <= MAXREC);
	memset(h, 0, sizeof(*h));
	h->type = ev->type;
	h->tx = ev->tx;
	h->err = ev->err;
	if (ev->msg && !ev->msg->is_request)
		h->status = ev->msg->status;
	if (ev->msg && ev->msg->is_request)
		snprintf(h->method, sizeof(h->method), "%.*s",
			 (int)ev->msg->method.n, ev->msg->method.p);
	if (ev->type == SIP_TSX_EV_REQUEST && auto_answer) {
		struct sip_resp r = {.code = auto_answer};
		assert_int_equal(sip_tsx_respond(ev->tx, 0, &r), 0);
	}
}

static const struct sip_tsx_ops ops = {on_send, on_event};

static int setup(void **state)
{
	struct sip_tsx_opts o = {.max = 16, .msg_max = 4096};

	(void)state;
	nsent = nheard = 0;
	fail_send = 0;
	auto_answer = 0;
	return sip_tsx_table_new(&tbl, &o, &ops, NULL);
}

static int teardown(void **state)
{
	(void)state;
	sip_tsx_table_free(tbl);
	tbl = NULL;
	return 0;
}

static struct sip_peer peer(enum sip_proto proto, unsigned port)
{
	struct sip_peer p = {.proto = proto};
	struct sockaddr_in *a = (struct sockaddr_in *)&p.addr;

	a->sin_family = AF_INET;
	a->sin_port = htons((uint16_t)port);
	a->sin_addr.s_addr = htonl(0x7f000001);
	p.addrlen = sizeof(*a);
	p.conn = proto == SIP_TCP ? 7 : 0;
	return p;
}

/* Parses text (copied into a static buffer) and hands it to the layer. */
static int feed(int64_t now, enum sip_proto proto, const char *fmt, ...)
{
	static char buf[4096];
	struct sip_msg m;
	struct sip_peer p = peer(proto, 5070);
	va_list ap;
	int n;

	va_start(ap, fmt);
	n = vsnprintf(buf, sizeof(buf), fmt, ap);
	va_end(ap);
	assert_int_equal(sip_msg_parse(&m, buf, (size_t)n), 0);
	return sip_tsx_recv(tbl, now, &p, &m);
}

/* A response to our request with branch br, CSeq method meth. */
static void respond_in(int64_t now, enum sip_proto proto, const char *br,
		       unsigned code, const char *meth)
{
	feed(now, proto,
	     "SIP/2.0 %u X\r\n"
	     "Via: SIP/2.0/UDP 127.0.0.1:5060;branch=%s;rport\r\n"
	     "From: <sip:a@h>;tag=fa\r\nTo: <sip:b@h>;tag=tb\r\n"
	     "Call-ID: c1\r\nCSeq: 1 %s\r\nContent-Length: 0\r\n\r\n",
	     code, br, meth);
}

/* An incoming request. */
static int request_in(int64_t now, enum sip_proto proto, const char *method,
		      const char *br, const char *to_tag)
{
	return feed(now, proto,
		    "%s sip:b@127.0.0.1 SIP/2.0\r\n"
		    "Via: SIP/2.0/%s 127.0.0.1:5070;branch=%s;rport\r\n"
		    "From: <sip:a@h>;tag=fa\r\nTo: <sip:b@h>%s%s\r\n"
		    "Call-ID: c2\r\nCSeq: 5 %s\r\nMax-Forwards: 70\r\n"
		    "Content-Length: 0\r\n\r\n",
		    method, proto == SIP_UDP ? "UDP" : "TCP", br,
		    to_tag ? ";tag=" : "", to_tag ? to_tag : "", method);
}

/* Starts our client transaction of method; its branch into br. */
static struct sip_tsx *client(int64_t now, enum sip_proto proto,
			      const char *method, char *br)
{
	static const char *const route[] = {"<sip:proxy.example;lr>"};
	struct sip_req r = {.method = method,
			    .ruri = "sip:b@127.0.0.1",
			    .via_host = "127.0.0.1",
			    .via_port = 5060,
			    .branch_out = br,
			    .from = "<sip:a@h>",
			    .from_tag = "fa",
			    .to = "<sip:b@h>",
			    .call_id = "c1",
			    .cseq = 1,
			    .contact = "<sip:a@127.0.0.1>",
			    .max_forwards = -1,
			    .route = route,
			    .nroute = 1};
	char mem[2048];
	struct sip_buf b;
	struct sip_peer p = peer(proto, 5070);
	struct sip_tsx *tx = NULL;

	sip_buf_init(&b, mem, sizeof(mem));
	assert_int_equal(sip_build_request(&b, &r), 0);
	assert_int_equal(sip_tsx_request(tbl, now, &p, mem, b.len, NULL, &tx),
			 0);
	return tx;
}

/* Runs the timers at each due time up to until; returns the send times. */
static unsigned run_until(int64_t until, int64_t *times, unsigned cap)
{
	unsigned n = 0;

	for (;;) {
		int64_t due = sip_tsx_next_timer(tbl);
		unsigned before = nsent;

		if (due > until)
			return n;
		sip_tsx_timers(tbl, due);
		if (nsent > before && n < cap)
			times[n++] = due;
	}
}

static bool has_event(enum sip_tsx_ev type)
{
	for (unsigned i = 0; i < nheard; i++)
		if (heard[i].type == type)
			return true;
	return false;
}

/* ---- client INVITE ---- */

static void test_ict_timer_a_b(void **state)
{
	char br[SIP_BRANCH_LEN + 1];
	int64_t t[16];
	static const int64_t want[] = {500, 1500, 3500, 7500, 15500, 31500};

	(void)state;
	client(0, SIP_UDP, "INVITE", br);
	assert_int_equal(nsent, 1);
	assert_int_equal(sip_tsx_next_timer(tbl), 500);
	sip_tsx_timers(tbl, 499);
	assert_int_equal(nsent, 1);
	/* Timer A: T1, doubling each time, without cap */
	assert_int_equal(run_until(31999, t, 16), 6);
	assert_memory_equal(t, want, sizeof(want));
	assert_string_equal(sent[6].buf, sent[0].buf);
	/* Timer B: 64*T1 */
	assert_false(has_event(SIP_TSX_EV_TIMEOUT));
	assert_int_equal(sip_tsx_next_timer(tbl), 32000);
	sip_tsx_timers(tbl, 32000);
	assert_int_equal(heard[0].type, SIP_TSX_EV_TIMEOUT);
	assert_int_equal(heard[0].err, ETIMEDOUT);
	assert_int_equal(heard[1].type, SIP_TSX_EV_TERMINATED);
	assert_int_equal(sip_tsx_count(tbl), 0);
	assert_int_equal(sip_tsx_next_timer(tbl), SIP_TSX_NEVER);
}

static void test_ict_tcp_no_retransmission(void **state)
{
	char br[SIP_BRANCH_LEN + 1];
	int64_t t[4];

	(void)state;
	client(1000, SIP_TCP, "INVITE", br);
	assert_int_equal(sip_tsx_next_timer(tbl), 1000 + 32000);
	assert_int_equal(run_until(1000 + 31999, t, 4), 0);
	sip_tsx_timers(tbl, 33000);
	assert_int_equal(nsent, 1);
	assert_int_equal(heard[0].type, SIP_TSX_EV_TIMEOUT);
}

static void test_ict_non2xx_ack_timer_d(void **state)
{
	char br[SIP_BRANCH_LEN + 1];
	struct sip_tsx *tx;
	char ack[2048];
	struct sip_msg m;

	(void)state;
	tx = client(0, SIP_UDP, "INVITE", br);
	respond_in(100, SIP_UDP, br, 180, "INVITE");
	assert_int_equal(sip_tsx_state(tx), SIP_TSX_PROCEEDING);
	assert_int_equal(heard[0].status, 180);
	/* Proceeding: no more retransmissions, no Timer B */
	assert_int_equal(sip_tsx_next_timer(tbl), SIP_TSX_NEVER);
	respond_in(200, SIP_UDP, br, 486, "INVITE");
	assert_int_equal(heard[1].status, 486);
	assert_int_equal(sip_tsx_state(tx), SIP_TSX_COMPLETED);
	/* The ACK: same branch and Request-URI, To of the response */
	assert_int_equal(nsent, 2);
	memcpy(ack, sent[1].buf, sent[1].len + 1);
	assert_int_equal(sip_msg_parse(&m, ack, sent[1].len), 0);
	assert_true(sip_str_eq(m.method, "ACK"));
	assert_true(sip_str_eq(m.ruri_raw, "sip:b@127.0.0.1"));
	assert_true(sip_str_eq(m.via[0].branch, br));
	assert_true(sip_str_eq(m.to.tag, "tb"));
	assert_true(sip_str_eq(m.from.tag, "fa"));
	assert_int_equal(m.cseq, 1);
	assert_true(sip_str_eq(m.cseq_method, "ACK"));
	assert_int_equal(m.ncontact, 0);
	assert_non_null(strstr(sent[1].buf, "Route: <sip:proxy.example;lr>"));
	/* The final again: the ACK again, the TU hears nothing */
	respond_in(300, SIP_UDP, br, 486, "INVITE");
	assert_int_equal(nsent, 3);
	assert_string_equal(sent[2].buf, sent[1].buf);
	assert_int_equal(nheard, 2);
	/* Timer D: 32 s over UDP */
	assert_int_equal(sip_tsx_next_timer(tbl), 200 + 32000);
	sip_tsx_timers(tbl, 200 + 32000);
	assert_int_equal(heard[2].type, SIP_TSX_EV_TERMINATED);
	assert_int_equal(sip_tsx_count(tbl), 0);
}

static void test_ict_tcp_timer_d_zero(void **state)
{
	char br[SIP_BRANCH_LEN + 1];

	(void)state;
	client(0, SIP_TCP, "INVITE", br);
	respond_in(100, SIP_TCP, br, 603, "INVITE");
	assert_int_equal(nsent, 2); /* the ACK */
	assert_int_equal(sip_tsx_next_timer(tbl), 100);
	sip_tsx_timers(tbl, 100);
	assert_int_equal(sip_tsx_count(tbl), 0);
}

static void test_ict_2xx_accepted_timer_m(void **state)
{
	char br[SIP_BRANCH_LEN + 1];
	struct sip_tsx *tx;

	(void)state;
	tx = client(0, SIP_UDP, "INVITE", br);
	respond_in(50, SIP_UDP, br, 200, "INVITE");
	assert_int_equal(sip_tsx_state(tx), SIP_TSX_ACCEPTED);
	assert_int_equal(nsent, 1); /* no ACK: the TU's (a 2xx) */
	/* 2xx retransmissions reach the TU, which ACKs each */
	respond_in(550, SIP_UDP, br, 200, "INVITE");
	assert_int_equal(nheard, 2);
	assert_ptr_equal(heard[1].tx, tx);
	assert_int_equal(heard[1].status, 200);
	assert_int_equal(sip_tsx_next_timer(tbl), 50 + 32000);
	sip_tsx_timers(tbl, 50 + 32000);
	assert_int_equal(heard[2].type, SIP_TSX_EV_TERMINATED);
	/* afterwards a 2xx matches nothing: a stray for the core */
	respond_in(40000, SIP_UDP, br, 200, "INVITE");
	assert_int_equal(heard[3].type, SIP_TSX_EV_RESPONSE);
	assert_null(heard[3].tx);
}

/* ---- client non-INVITE ---- */

static void test_nict_timer_e_f_k(void **state)
{
	char br[SIP_BRANCH_LEN + 1];
	int64_t t[32];
	/* T1 doubling up to T2, then every T2 */
	static const int64_t want[] = {500,   1500,  3500,  7500,  11500,
				       15500, 19500, 23500, 27500, 31500};

	(void)state;
	client(0, SIP_UDP, "OPTIONS", br);
	assert_int_equal(run_until(31999, t, 32), 10);
	assert_memory_equal(t, want, sizeof(want));
	sip_tsx_timers(tbl, 32000); /* Timer F */
	assert_int_equal(heard[0].type, SIP_TSX_EV_TIMEOUT);
	assert_int_equal(nsent, 11);
}

static void test_nict_proceeding_t2_then_k(void **state)
{
	char br[SIP_BRANCH_LEN + 1];
	struct sip_tsx *tx;
	int64_t t[8];

	(void)state;
	tx = client(0, SIP_UDP, "BYE", br);
	sip_tsx_timers(tbl, 500); /* E: 500, next at 1500 */
	respond_in(600, SIP_UDP, br, 100, "BYE");
	assert_int_equal(sip_tsx_state(tx), SIP_TSX_PROCEEDING);
	/* Proceeding: E fires then every T2 */
	assert_int_equal(run_until(9600, t, 8), 3);
	assert_int_equal(t[0], 1500);
	assert_int_equal(t[1], 5500);
	assert_int_equal(t[2], 9500);
	respond_in(9600, SIP_UDP, br, 200, "BYE");
	assert_int_equal(sip_tsx_state(tx), SIP_TSX_COMPLETED);
	/* retransmitted final absorbed; Timer K = T4 */
	respond_in(9700, SIP_UDP, br, 200, "BYE");
	assert_int_equal(nheard, 2);
	assert_int_equal(sip_tsx_next_timer(tbl), 9600 + SIP_T4_MS);
	sip_tsx_timers(tbl, 9600 + SIP_T4_MS);
	assert_int_equal(heard[2].type, SIP_TSX_EV_TERMINATED);
}

static void test_nict_tcp(void **state)
{
	char br[SIP_BRANCH_LEN + 1];

	(void)state;
	client(0, SIP_TCP, "MESSAGE", br);
	assert_int_equal(sip_tsx_next_timer(tbl), 32000); /* F only */
	respond_in(10, SIP_TCP, br, 202, "MESSAGE");
	assert_int_equal(sip_tsx_next_timer(tbl), 10); /* K = 0 */
	sip_tsx_timers(tbl, 10);
	assert_int_equal(sip_tsx_count(tbl), 0);
	assert_int_equal(nsent, 1);
}

/* Two concurrent transactions; a response goes to its own. */
static void test_matching_two_clients(void **state)
{
	char b1[SIP_BRANCH_LEN + 1], b2[SIP_BRANCH_LEN + 1];
	struct sip_tsx *t1, *t2;

	(void)state;
	t1 = client(0, SIP_UDP, "INVITE", b1);
	t2 = client(0, SIP_UDP, "INFO", b2);
	assert_string_not_equal(b1, b2);
	respond_in(10, SIP_UDP, b2, 200, "INFO");
	respond_in(20, SIP_UDP, b1, 183, "INVITE");
	assert_ptr_equal(heard[0].tx, t2);
	assert_int_equal(heard[0].status, 200);
	assert_ptr_equal(heard[1].tx, t1);
	assert_int_equal(heard[1].status, 183);
	/* same branch, other CSeq method: not t1's */
	respond_in(30, SIP_UDP, b1, 200, "CANCEL");
	assert_null(heard[2].tx);
	/* unknown branch: stray */
	respond_in(40, SIP_UDP, "z9hG4bKnone", 200, "INVITE");
	assert_null(heard[3].tx);
	assert_int_equal(sip_tsx_state(t1), SIP_TSX_PROCEEDING);
	assert_int_equal(sip_tsx_state(t2), SIP_TSX_COMPLETED);
}

/* ---- CANCEL, client side ---- */

static void test_client_cancel_after_provisional(void **state)
{
	char br[SIP_BRANCH_LEN + 1], buf[2048];
	struct sip_tsx *tx;
	struct sip_msg m;

	(void)state;
	tx = client(0, SIP_UDP, "INVITE", br);
	/* no provisional yet: the CANCEL waits */
	assert_int_equal(sip_tsx_cancel(tx, 100, "Reason: SIP;cause=200\r\n"),
			 0);
	assert_int_equal(nsent, 1);
	assert_int_equal(sip_tsx_cancel(tx, 100, NULL), EALREADY);
	respond_in(200, SIP_UDP, br, 180, "INVITE");
	assert_int_equal(nsent, 2);
	memcpy(buf, sent[1].buf, sent[1].len + 1);
	assert_int_equal(sip_msg_parse(&m, buf, sent[1].len), 0);
	assert_true(sip_str_eq(m.method, "CANCEL"));
	assert_true(sip_str_eq(m.via[0].branch, br));
	assert_true(sip_str_eq(m.cseq_method, "CANCEL"));
	assert_int_equal(m.cseq, 1);
	assert_null(m.to.tag.p); /* the request's To */
	assert_non_null(strstr(sent[1].buf, "Reason: SIP;cause=200\r\n"));
	assert_non_null(strstr(sent[1].buf, "Route: <sip:proxy.example;lr>"));
	/* its 200, then the INVITE's 487 (ACKed) */
	respond_in(300, SIP_UDP, br, 200, "CANCEL");
	assert_int_equal(heard[1].status, 200);
	assert_string_equal(sip_tsx_method(heard[1].tx), "CANCEL");
	respond_in(400, SIP_UDP, br, 487, "INVITE");
	assert_ptr_equal(heard[2].tx, tx);
	assert_int_equal(heard[2].status, 487);
	assert_int_equal(nsent, 3);
	assert_non_null(strstr(sent[2].buf, "ACK sip:b@127.0.0.1 SIP/2.0"));
	assert_int_equal(sip_tsx_cancel(tx, 500, NULL), EINVAL);
}

static void test_client_cancel_no_final_times_out(void **state)
{
	char br[SIP_BRANCH_LEN + 1];
	struct sip_tsx *tx;

	(void)state;
	tx = client(0, SIP_TCP, "INVITE", br);
	respond_in(100, SIP_TCP, br, 180, "INVITE");
	assert_int_equal(sip_tsx_cancel(tx, 1000, NULL), 0);
	assert_int_equal(nsent, 2);
	respond_in(1100, SIP_TCP, br, 200, "CANCEL");
	/* no 487 within 64*T1 of the CANCEL */
	sip_tsx_timers(tbl, 1000 + 31999);
	assert_int_equal(sip_tsx_state(tx), SIP_TSX_PROCEEDING);
	sip_tsx_timers(tbl, 1000 + 32000);
	assert_true(has_event(SIP_TSX_EV_TIMEOUT));
}

/* ---- server INVITE ---- */

static void test_ist_trying_retransmit_g_h(void **state)
{
	struct sip_tsx *tx;
	struct sip_resp r = {.code = 180};
	int64_t t[16];
	static const int64_t want[] = {1500,  2500,  4500,  8500,  12500,
				       16500, 20500, 24500, 28500, 32500};

	(void)state;
	assert_int_equal(request_in(0, SIP_UDP, "INVITE", "z9hG4bKi1", NULL),
			 0);
	/* 100 Trying at once, then the TU hears the request */
	assert_int_equal(nsent, 1);
	assert_non_null(strstr(sent[0].buf, "SIP/2.0 100 Trying\r\n"));
	assert_non_null(strstr(sent[0].buf, "To: <sip:b@h>\r\n"));
	assert_int_equal(heard[0].type, SIP_TSX_EV_REQUEST);
	assert_string_equal(heard[0].method, "INVITE");
	tx = heard[0].tx;
	assert_int_equal(sip_tsx_kind(tx), SIP_TSX_IST);
	assert_int_equal(strlen(sip_tsx_tag(tx)), SIP_TAG_LEN);
	/* a retransmission gets the last provisional again */
	request_in(100, SIP_UDP, "INVITE", "z9hG4bKi1", NULL);
	assert_int_equal(nsent, 2);
	assert_int_equal(nheard, 1);
	assert_int_equal(sip_tsx_respond(tx, 200, &r), 0);
	assert_non_null(strstr(sent[2].buf, sip_tsx_tag(tx)));
	assert_non_null(strstr(sent[2].buf, "received=127.0.0.1;rport=5070"));
	request_in(300, SIP_UDP, "INVITE", "z9hG4bKi1", NULL);
	assert_string_equal(sent[3].buf, sent[2].buf);
	r.code = 486;
	assert_int_equal(sip_tsx_respond(tx, 1000, &r), 0);
	assert_int_equal(sip_tsx_state(tx), SIP_TSX_COMPLETED);
	assert_int_equal(sip_tsx_respond(tx, 1000, &r), EINVAL);
	/* Timer G: T1 doubling up to T2; Timer H at 64*T1 */
	assert_int_equal(run_until(1000 + 31999, t, 16), 10);
	assert_memory_equal(t, want, sizeof(want));
	sip_tsx_timers(tbl, 1000 + 32000);
	assert_int_equal(heard[1].type, SIP_TSX_EV_TIMEOUT);
	assert_ptr_equal(heard[1].tx, tx);
}

static void test_ist_ack_absorbed_timer_i(void **state)
{
	struct sip_tsx *tx;
	struct sip_resp r = {.code = 404};

	(void)state;
	request_in(0, SIP_UDP, "INVITE", "z9hG4bKi2", NULL);
	tx = heard[0].tx;
	assert_int_equal(sip_tsx_respond(tx, 10, &r), 0);
	request_in(20, SIP_UDP, "ACK", "z9hG4bKi2", sip_tsx_tag(tx));
	assert_int_equal(sip_tsx_state(tx), SIP_TSX_CONFIRMED);
	assert_int_equal(nheard, 1); /* absorbed */
	request_in(30, SIP_UDP, "ACK", "z9hG4bKi2", sip_tsx_tag(tx));
	assert_int_equal(nheard, 1);
	/* the INVITE again: absorbed in Confirmed */
	request_in(40, SIP_UDP, "INVITE", "z9hG4bKi2", NULL);
	assert_int_equal(nsent, 2);
	/* Timer I = T4 */
	assert_int_equal(sip_tsx_next_timer(tbl), 20 + SIP_T4_MS);
	sip_tsx_timers(tbl, 20 + SIP_T4_MS);
	assert_int_equal(heard[1].type, SIP_TSX_EV_TERMINATED);
}

static void test_ist_tcp(void **state)
{
	struct sip_tsx *tx;
	struct sip_resp r = {.code = 480};

	(void)state;
	request_in(0, SIP_TCP, "INVITE", "z9hG4bKi3", NULL);
	tx = heard[0].tx;
	assert_int_equal(sip_tsx_respond(tx, 10, &r), 0);
	/* no Timer G: H only */
	assert_int_equal(sip_tsx_next_timer(tbl), 10 + 32000);
	request_in(20, SIP_TCP, "ACK", "z9hG4bKi3", sip_tsx_tag(tx));
	assert_int_equal(sip_tsx_next_timer(tbl), 20); /* I = 0 */
	sip_tsx_timers(tbl, 20);
	assert_int_equal(sip_tsx_count(tbl), 0);
	assert_int_equal(nsent, 2);
}

static void test_ist_2xx_accepted_and_retx_helper(void **state)
{
	struct sip_tsx *tx;
	struct sip_resp r = {.code = 200, .contact = "<sip:b@127.0.0.1>"};
	struct sip_tsx_retx rx;
	int64_t times[16];
	unsigned n = 0;
	static const int64_t want[] = {500,   1500,  3500,  7500,  11500,
				       15500, 19500, 23500, 27500, 31500};

	(void)state;
	request_in(0, SIP_UDP, "INVITE", "z9hG4bKi4", NULL);
	tx = heard[0].tx;
	assert_int_equal(sip_tsx_respond(tx, 0, &r), 0);
	assert_int_equal(sip_tsx_state(tx), SIP_TSX_ACCEPTED);
	/* no retransmission by the layer; INVITE retransmissions absorbed */
	request_in(600, SIP_UDP, "INVITE", "z9hG4bKi4", NULL);
	assert_int_equal(nsent, 2);
	/* the TU's own 2xx retransmissions pass */
	assert_int_equal(sip_tsx_respond(tx, 700, &r), 0);
	assert_int_equal(nsent, 3);
	assert_string_equal(sent[2].buf, sent[1].buf);
	r.code = 486;
	assert_int_equal(sip_tsx_respond(tx, 700, &r), EINVAL);
	/* the ACK for the 2xx has its own branch: the TU's */
	request_in(800, SIP_UDP, "ACK", "z9hG4bKack", sip_tsx_tag(tx));
	assert_int_equal(heard[1].type, SIP_TSX_EV_ACK);
	assert_null(heard[1].tx);
	/* Timer L */
	assert_int_equal(sip_tsx_next_timer(tbl), 32000);
	sip_tsx_timers(tbl, 32000);
	assert_int_equal(heard[2].type, SIP_TSX_EV_TERMINATED);

	/* The TU's schedule: T1 doubling to T2, 64*T1 in all */
	sip_tsx_retx_start(&rx, tbl, 0);
	for (int64_t now = 0; now < 40000; now += 100) {
		int rc = sip_tsx_retx_poll(&rx, now);
		if (rc == ETIMEDOUT) {
			assert_int_equal(now, 32000);
			break;
		}
		if (rc == 1)
			times[n++] = now;
	}
	assert_int_equal(n, 10);
	assert_memory_equal(times, want, sizeof(want));
}

/* ---- CANCEL, server side ---- */

static void test_server_cancel_gives_487(void **state)
{
	struct sip_tsx *tx;
	char buf[2048];
	struct sip_msg m;

	(void)state;
	request_in(0, SIP_UDP, "INVITE", "z9hG4bKc1", NULL);
	tx = heard[0].tx;
	request_in(100, SIP_UDP, "CANCEL", "z9hG4bKc1", NULL);
	/* 200 to the CANCEL, the TU told, 487 to the INVITE */
	assert_int_equal(nsent, 3);
	assert_non_null(strstr(sent[1].buf, "SIP/2.0 200 OK\r\n"));
	assert_non_null(strstr(sent[1].buf, "CSeq: 5 CANCEL\r\n"));
	assert_non_null(strstr(sent[1].buf, sip_tsx_tag(tx)));
	assert_int_equal(heard[1].type, SIP_TSX_EV_CANCEL);
	assert_ptr_equal(heard[1].tx, tx);
	memcpy(buf, sent[2].buf, sent[2].len + 1);
	assert_int_equal(sip_msg_parse(&m, buf, sent[2].len), 0);
	assert_int_equal(m.status, 487);
	assert_true(sip_str_eq(m.cseq_method, "INVITE"));
	assert_true(sip_str_eq(m.to.tag, sip_tsx_tag(tx)));
	assert_int_equal(sip_tsx_state(tx), SIP_TSX_COMPLETED);
	/* a retransmitted CANCEL gets its 200 again */
	request_in(200, SIP_UDP, "CANCEL", "z9hG4bKc1", NULL);
	assert_int_equal(nsent, 4);
	assert_string_equal(sent[3].buf, sent[1].buf);
	/* the ACK of the 487 is absorbed */
	request_in(300, SIP_UDP, "ACK", "z9hG4bKc1", sip_tsx_tag(tx));
	assert_int_equal(sip_tsx_state(tx), SIP_TSX_CONFIRMED);
	assert_int_equal(nheard, 2);
	/* a CANCEL for nothing: 481 */
	request_in(400, SIP_UDP, "CANCEL", "z9hG4bKnone", NULL);
	assert_non_null(strstr(sent[4].buf, "SIP/2.0 481 "));
	assert_int_equal(nheard, 2);
}

/* ---- server non-INVITE ---- */

static void test_nist_timer_j_and_guard(void **state)
{
	struct sip_tsx *tx;
	struct sip_resp r = {.code = 200};

	(void)state;
	request_in(0, SIP_UDP, "BYE", "z9hG4bKb1", "tb");
	tx = heard[0].tx;
	assert_int_equal(sip_tsx_kind(tx), SIP_TSX_NIST);
	assert_string_equal(sip_tsx_tag(tx), "tb");
	request_in(10, SIP_UDP, "BYE", "z9hG4bKb1", "tb");
	assert_int_equal(nsent, 0); /* Trying: absorbed */
	assert_int_equal(sip_tsx_respond(tx, 20, &r), 0);
	request_in(30, SIP_UDP, "BYE", "z9hG4bKb1", "tb");
	assert_int_equal(nsent, 2);
	assert_string_equal(sent[1].buf, sent[0].buf);
	assert_int_equal(sip_tsx_next_timer(tbl), 20 + 32000); /* J */
	sip_tsx_timers(tbl, 20 + 32000);
	assert_int_equal(heard[1].type, SIP_TSX_EV_TERMINATED);

	/* unanswered: the guard ends it after 64*T1 */
	request_in(100000, SIP_UDP, "INFO", "z9hG4bKb2", "tb");
	sip_tsx_timers(tbl, 100000 + 32000);
	assert_int_equal(heard[3].type, SIP_TSX_EV_TIMEOUT);
}

/* A final answer from inside the event, over TCP (J = 0): the pointer
 * stays valid until the call returns. */
static void test_nist_answer_inside_event(void **state)
{
	(void)state;
	auto_answer = 200;
	request_in(0, SIP_TCP, "OPTIONS", "z9hG4bKo1", NULL);
	assert_int_equal(nsent, 1);
	assert_int_equal(sip_tsx_next_timer(tbl), 0);
	sip_tsx_timers(tbl, 0);
	assert_int_equal(heard[1].type, SIP_TSX_EV_TERMINATED);
	assert_int_equal(sip_tsx_count(tbl), 0);
}

/* ---- caps, errors ---- */

static void test_table_full_and_send_error(void **state)
{
	char br[SIP_BRANCH_LEN + 1], id[32];
	struct sip_req r = {.method = "OPTIONS",
			    .ruri = "sip:b@h",
			    .via_host = "h",
			    .from = "<sip:a@h>",
			    .to = "<sip:b@h>",
			    .call_id = "x",
			    .cseq = 1,
			    .max_forwards = -1};
	char mem[1024];
	struct sip_buf b;
	struct sip_peer p = peer(SIP_UDP, 5060);

	(void)state;
	for (int i = 0; i < 16; i++) {
		snprintf(id, sizeof(id), "z9hG4bKf%d", i);
		assert_int_equal(request_in(0, SIP_UDP, "OPTIONS", id, NULL),
				 0);
	}
	assert_int_equal(request_in(0, SIP_UDP, "OPTIONS", "z9hG4bKx", NULL),
			 EBUSY);
	sip_buf_init(&b, mem, sizeof(mem));
	assert_int_equal(sip_build_request(&b, &r), 0);
	assert_int_equal(sip_tsx_request(tbl, 0, &p, mem, b.len, NULL, NULL),
			 EBUSY);
	sip_tsx_timers(tbl, 32000);
	assert_int_equal(sip_tsx_count(tbl), 0);

	/* a request that cannot be sent: EV_ERROR, then ended */
	nheard = 0;
	fail_send = ECONNRESET;
	r.branch_out = br;
	assert_int_equal(sip_build_request(&b, &r), 0);
	assert_int_equal(sip_tsx_request(tbl, 0, &p, mem, b.len, NULL, NULL),
			 ECONNRESET);
	assert_int_equal(heard[0].type, SIP_TSX_EV_ERROR);
	assert_int_equal(heard[0].err, ECONNRESET);
	assert_int_equal(heard[1].type, SIP_TSX_EV_TERMINATED);
	assert_int_equal(sip_tsx_count(tbl), 0);
	/* an ACK is no client transaction; the same branch twice neither */
	fail_send = 0;
	r.method = "ACK";
	assert_int_equal(sip_build_request(&b, &r), 0);
	assert_int_equal(sip_tsx_request(tbl, 0, &p, mem, b.len, NULL, NULL),
			 EINVAL);
	r.method = "OPTIONS";
	r.branch = "z9hG4bKsame";
	assert_int_equal(sip_build_request(&b, &r), 0);
	assert_int_equal(sip_tsx_request(tbl, 0, &p, mem, b.len, NULL, NULL),
			 0);
	assert_int_equal(sip_tsx_request(tbl, 0, &p, mem, b.len, NULL, NULL),
			 EEXIST);
}

/*
 * The table starts small and grows, keeping every transaction findable,
 * up to its max; then EBUSY. Its buckets and heap are rehashed and moved
 * several times on the way.
 */
static void test_table_grows_to_max(void **state)
{
	struct sip_tsx_opts o = {.max = 5000, .msg_max = 4096};
	char br[32];

	(void)state;
	sip_tsx_table_free(tbl);
	assert_int_equal(sip_tsx_table_new(&tbl, &o, &ops, NULL), 0);
	quiet = true;
	memset(nquiet, 0, sizeof(nquiet));
	for (int i = 0; i < 5000; i++) {
		snprintf(br, sizeof(br), "z9hG4bKg%d", i);
		assert_int_equal(request_in(0, SIP_UDP, "OPTIONS", br, NULL),
				 0);
	}
	assert_int_equal(sip_tsx_count(tbl), 5000);
	assert_int_equal(nquiet[SIP_TSX_EV_REQUEST], 5000);
	/* Each one found again: retransmissions start nothing new. */
	for (int i = 4999; i >= 0; i--) {
		snprintf(br, sizeof(br), "z9hG4bKg%d", i);
		assert_int_equal(request_in(1, SIP_UDP, "OPTIONS", br, NULL),
				 0);
	}
	assert_int_equal(sip_tsx_count(tbl), 5000);
	assert_int_equal(nquiet[SIP_TSX_EV_REQUEST], 5000);
	assert_int_equal(request_in(2, SIP_UDP, "OPTIONS", "z9hG4bKover", NULL),
			 EBUSY);
	sip_tsx_timers(tbl, 64000);
	assert_int_equal(sip_tsx_count(tbl), 0);
	assert_int_equal(nquiet[SIP_TSX_EV_TERMINATED], 5000);
	quiet = false;
}

int main(void)
{
#define T(f) cmocka_unit_test_setup_teardown(f, setup, teardown)
	const struct CMUnitTest tests[] = {
	    T(test_ict_timer_a_b),
	    T(test_ict_tcp_no_retransmission),
	    T(test_ict_non2xx_ack_timer_d),
	    T(test_ict_tcp_timer_d_zero),
	    T(test_ict_2xx_accepted_timer_m),
	    T(test_nict_timer_e_f_k),
	    T(test_nict_proceeding_t2_then_k),
	    T(test_nict_tcp),
	    T(test_matching_two_clients),
	    T(test_client_cancel_after_provisional),
	    T(test_client_cancel_no_final_times_out),
	    T(test_ist_trying_retransmit_g_h),
	    T(test_ist_ack_absorbed_timer_i),
	    T(test_ist_tcp),
	    T(test_ist_2xx_accepted_and_retx_helper),
	    T(test_server_cancel_gives_487),
	    T(test_nist_timer_j_and_guard),
	    T(test_nist_answer_inside_event),
	    T(test_table_full_and_send_error),
	    T(test_table_grows_to_max),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
