/*
 * fuzz_sip_txn.c - libFuzzer harness for the transaction layer (sip/tsx.c):
 * a table of server and client transactions driven by a sequence of
 * records, each moving a fuzzed clock forward and then feeding a message
 * (UDP or TCP), starting a client request, answering a server transaction,
 * cancelling an INVITE, or answering one of our requests; the timers run
 * after each. Traps when a message the layer sends does not parse, when the
 * table outgrows its cap, or when a timer due now is left after a run.
 *
 * Record: op, clock step (x 64 ms), length (2 bytes, big-endian), data.
 */
#include <errno.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <netinet/in.h>

#include "sip/build.h"
#include "sip/tsx.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

#define CHECK(cond)                                                         \
	do {                                                                \
		if (!(cond)) {                                              \
			fprintf(stderr, "invariant failed: %s (line %d)\n", \
				#cond, __LINE__);                           \
			__builtin_trap();                                   \
		}                                                           \
	} while (0)

#define MAX_TX 16
#define MSG_MAX 4096

struct client {
	struct sip_tsx *tx;
	char branch[SIP_BRANCH_LEN + 1];
	char method[16];
};

static struct sip_tsx *servers[MAX_TX];
static struct client clients[MAX_TX];
static struct sip_tsx_table *tbl;
static bool answer_inside; /* the TU answers requests inside the event */
static int64_t now;
static unsigned nsent;

static int on_send(void *ctx, const struct sip_peer *to, const char *buf,
		   size_t len)
{
	static char copy[MSG_MAX + 1];
	static struct sip_msg m;

	(void)ctx;
	(void)to;
	CHECK(len > 0 && len <= MSG_MAX + 1);
	memcpy(copy, buf, len);
	/* What the layer writes must be a message. */
	CHECK(sip_msg_parse(&m, copy, len) == 0);
	/* A few sends fail, as a closed TCP connection would. */
	return ++nsent % 97 == 0 ? ECONNRESET : 0;
}

static void forget(struct sip_tsx *tx)
{
	for (int i = 0; i < MAX_TX; i++) {
		if (servers[i] == tx)
			servers[i] = NULL;
		if (clients[i].tx == tx)
			clients[i].tx = NULL;
	}
}

static void on_event(void *ctx, const struct sip_tsx_event *ev)
{
	(void)ctx;
	CHECK(sip_tsx_count(tbl) <= MAX_TX);
	if (ev->type == SIP_TSX_EV_TERMINATED) {
		forget(ev->tx);
		return;
	}
	if (ev->type != SIP_TSX_EV_REQUEST)
		return;
	CHECK(ev->tx && ev->msg && ev->msg->is_request);
	if (answer_inside) {
		struct sip_resp r = {.code = 200};
		sip_tsx_respond(ev->tx, now, &r);
		return;
	}
	for (int i = 0; i < MAX_TX; i++) {
		if (!servers[i]) {
			servers[i] = ev->tx;
			return;
		}
	}
}

static struct sip_peer peer(bool tcp)
{
	struct sip_peer p = {.proto = tcp ? SIP_TCP : SIP_UDP};
	struct sockaddr_in *a = (struct sockaddr_in *)&p.addr;

	a->sin_family = AF_INET;
	a->sin_port = htons(5070);
	a->sin_addr.s_addr = htonl(0x7f000001);
	p.addrlen = sizeof(*a);
	return p;
}

static void feed(const uint8_t *d, size_t n, bool tcp)
{
	static char buf[MSG_MAX];
	static struct sip_msg m;
	struct sip_peer p = peer(tcp);

	if (n > sizeof(buf))
		n = sizeof(buf);
	memcpy(buf, d, n);
	if (sip_msg_parse(&m, buf, n) == 0)
		sip_tsx_recv(tbl, now, &p, &m);
}

static void start_client(const uint8_t *d, size_t n)
{
	static const char *const methods[] = {"INVITE", "BYE",	  "OPTIONS",
					      "INFO",	"UPDATE", "MESSAGE"};
	char mem[1024];
	struct sip_buf b;
	struct client c = {0};
	struct sip_req r = {.ruri = "sip:b@127.0.0.1",
			    .via_host = "127.0.0.1",
			    .via_port = 5060,
			    .from = "<sip:a@h>",
			    .from_tag = "fa",
			    .to = "<sip:b@h>",
			    .call_id = "fuzz",
			    .cseq = 1,
			    .max_forwards = -1};
	struct sip_peer p = peer(n > 1 && (d[1] & 1));

	r.method = methods[(n ? d[0] : 0) % 6];
	r.branch_out = c.branch;
	sip_buf_init(&b, mem, sizeof(mem));
	CHECK(sip_build_request(&b, &r) == 0);
	snprintf(c.method, sizeof(c.method), "%s", r.method);
	if (sip_tsx_request(tbl, now, &p, mem, b.len, NULL, &c.tx))
		return;
	for (int i = 0; i < MAX_TX; i++) {
		if (!clients[i].tx) {
			clients[i] = c;
			return;
		}
	}
}

static unsigned code_of(const uint8_t *d, size_t n)
{
	return 100 + (n > 2 ? (unsigned)(d[1] << 8 | d[2]) % 600 : 0);
}

static void answer_server(const uint8_t *d, size_t n)
{
	struct sip_tsx *tx = servers[(n ? d[0] : 0) % MAX_TX];
	struct sip_resp r = {.code = code_of(d, n)};

	if (tx)
		sip_tsx_respond(tx, now, &r);
}

static void answer_client(const uint8_t *d, size_t n)
{
	struct client *c = &clients[(n ? d[0] : 0) % MAX_TX];
	char text[512];
	int len;

	if (!c->tx)
		return;
	len = snprintf(text, sizeof(text),
		       "SIP/2.0 %u X\r\n"
		       "Via: SIP/2.0/UDP 127.0.0.1:5060;branch=%s\r\n"
		       "From: <sip:a@h>;tag=fa\r\nTo: <sip:b@h>;tag=t\r\n"
		       "Call-ID: fuzz\r\nCSeq: 1 %s\r\n"
		       "Content-Length: 0\r\n\r\n",
		       code_of(d, n), c->branch,
		       n > 3 && (d[3] & 1) ? "CANCEL" : c->method);
	feed((const uint8_t *)text, (size_t)len, n > 3 && (d[3] & 2));
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct sip_tsx_opts o = {.max = MAX_TX, .msg_max = MSG_MAX};
	struct sip_tsx_ops ops = {on_send, on_event};
	size_t off = 1;

	if (size < 1 || sip_tsx_table_new(&tbl, &o, &ops, NULL))
		return 0;
	memset(servers, 0, sizeof(servers));
	memset(clients, 0, sizeof(clients));
	answer_inside = data[0] & 1;
	now = (int64_t)(data[0] >> 1) * 1000;
	nsent = 0;
	while (size - off >= 4) {
		uint8_t op = data[off];
		size_t n = (size_t)data[off + 2] << 8 | data[off + 3];
		const uint8_t *d = data + off + 4;

		now += (int64_t)data[off + 1] * 64;
		off += 4;
		if (n > size - off)
			n = size - off;
		off += n;
		switch (op % 7) {
		case 0:
		case 1:
			feed(d, n, op % 7 == 1);
			break;
		case 2:
			start_client(d, n);
			break;
		case 3:
			answer_server(d, n);
			break;
		case 4:
			if (clients[(n ? d[0] : 0) % MAX_TX].tx)
				sip_tsx_cancel(
				    clients[(n ? d[0] : 0) % MAX_TX].tx, now,
				    NULL);
			break;
		case 5:
			answer_client(d, n);
			break;
		default:
			break;
		}
		sip_tsx_timers(tbl, now);
		CHECK(sip_tsx_next_timer(tbl) > now);
		CHECK(sip_tsx_count(tbl) <= MAX_TX);
	}
	/* Run every timer out: everything ends. */
	for (int i = 0; i < 200 && sip_tsx_next_timer(tbl) != SIP_TSX_NEVER;
	     i++) {
		now = sip_tsx_next_timer(tbl);
		sip_tsx_timers(tbl, now);
	}
	sip_tsx_table_free(tbl);
	tbl = NULL;
	return 0;
}
