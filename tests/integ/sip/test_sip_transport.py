"""Transport and message handling: retransmissions, methods other than
REGISTER, TCP framing, malformed input over UDP and TCP."""

import os
import random
import re
import socket
import time

import pytest

from sip_conftest import uname
from sipclient import (ConnectionClosed, NoResponse, Response, SipConn, UA,
                       build_request, new_branch, new_callid, new_tag)


def options_bytes(conn, method="OPTIONS", branch=None, cseq=1, extra=()):
    h = [("Via", "SIP/2.0/%s %s;branch=%s;rport" % (
            conn.transport, conn.local_hostport, branch or new_branch())),
         ("Max-Forwards", "70"),
         ("From", "<sip:probe@localhost>;tag=%s" % new_tag()),
         ("To", "<sip:%s@localhost>" % ("x" if method != "OPTIONS"
                                         else "probe")),
         ("Call-ID", new_callid()),
         ("CSeq", "%d %s" % (cseq, method))] + list(extra)
    return build_request(method, "sip:localhost", h)


def expect_next_answer_is_options(c):
    """After a request that must get no answer: an OPTIONS on the same
    socket gets its own 200 and is the first thing to arrive, so the bad
    message was dropped (not answered late, not queued)."""
    req = options_bytes(c)
    cid = re.search(rb"Call-ID: (\S+)", req).group(1).decode()
    r = c.request(req)
    assert r.status == 200 and r.get("Call-ID") == cid, \
        "expected the OPTIONS' 200 first, got %r" % r.raw[:300]


def assert_alive(server, proto="udp"):
    """The process runs and answers OPTIONS."""
    assert server.alive(), "sipward exited: %s" % server._tail()
    with server.conn(proto) as c:
        r = c.request(options_bytes(c))
        assert r.status == 200, r.raw


# --------------------------------------------------------------------------
# methods

@pytest.mark.parametrize("proto", ["udp", "tcp"])
def test_options_200_with_allow(sip_server, proto):
    with sip_server.conn(proto) as c:
        req = options_bytes(c)
        r = c.request(req)
        assert r.status == 200, r.raw
        allow = {x.strip() for x in r.get("Allow").split(",")}
        assert set(ALLOW) == allow, r.raw
        assert r.to_tag()
        assert r.get("CSeq") == "1 OPTIONS"
        assert "received=" in r.get("Via")


ALLOW = ["ACK", "BYE", "CANCEL", "INFO", "INVITE", "MESSAGE", "OPTIONS", "REGISTER",
         "UPDATE"]


@pytest.mark.parametrize("method", ["SUBSCRIBE", "PUBLISH", "NOTIFY"])
def test_other_methods_405(sip_server, method):
    with sip_server.conn("udp") as c:
        r = c.request(options_bytes(c, method))
        assert r.status == 405, r.raw
        allow = [x.strip() for x in r.get("Allow").split(",")]
        assert sorted(allow) == ALLOW, r.raw
        assert r.get("CSeq") == "1 %s" % method


def test_ack_gets_no_answer(sip_server):
    for proto in ("udp", "tcp"):
        with sip_server.conn(proto) as c:
            c.send(options_bytes(c, "ACK"))
            expect_next_answer_is_options(c)


def test_responses_get_no_answer(sip_server):
    with sip_server.conn("udp") as c:
        c.send(b"SIP/2.0 200 OK\r\nVia: SIP/2.0/UDP 127.0.0.1:5;branch="
               b"z9hG4bKx\r\nFrom: <sip:a@localhost>;tag=1\r\nTo: <sip:a@"
               b"localhost>\r\nCall-ID: r1\r\nCSeq: 1 OPTIONS\r\n"
               b"Content-Length: 0\r\n\r\n")
        expect_next_answer_is_options(c)


def test_require_unknown_extension_is_420(sip_server, sip_ep):
    ua = sip_ep.ua("udp")
    with ua.c:
        r = ua.c.request(ua.register_bytes(extra=[("Require", "foo-ext")]))
        assert r.status == 420, r.raw
        assert r.get("Unsupported") == "foo-ext", r.raw


# --------------------------------------------------------------------------
# retransmissions

@pytest.mark.parametrize("proto", ["udp", "tcp"])
def test_retransmitted_challenge_is_identical(sip_server, sip_ep, proto):
    ua = sip_ep.ua(proto)
    with ua.c:
        req = ua.register_bytes()
        r1 = ua.c.request(req)
        r2 = ua.c.request(req)
        assert r1.status == 401
        assert r1.raw == r2.raw, "a retransmission got a new answer"


@pytest.mark.parametrize("proto", ["udp", "tcp"])
def test_retransmitted_register_processed_once(sip_server, sip_ep, proto):
    ua = sip_ep.ua(proto)
    with ua.c:
        ua.register_ok(contacts=["<%s>" % ua.contact_uri("first")])
        before = sip_ep.get()
        time.sleep(0.05)  # expires has ms resolution: a second processing
        # would move it
        ua.challenge()
        req = ua.register_bytes(contacts=["<%s>" % ua.contact_uri("new")],
                                auth=ua.auth_header(), expires=1800)
        r1 = ua.c.request(req)
        assert r1.status == 200, r1.raw
        mid = sip_ep.get()
        time.sleep(0.05)
        r2 = ua.c.request(req)
        assert r2.raw == r1.raw
        assert r2.to_tag() == r1.to_tag()
        after = sip_ep.get()
        assert after["sip_registrations"] == mid["sip_registrations"]
        assert len(after["sip_registrations"]) == 2
        assert before["sip_registrations"][0] in after["sip_registrations"]
        # a new transaction with the same credentials is a replayed nc
        r3 = ua.c.request(ua.register_bytes(
            contacts=["<%s>" % ua.contact_uri("new")], expires=1800,
            auth=req.split(b"Authorization: ")[1].split(b"\r\n")[0]
            .decode()))
        assert r3.status == 401, r3.raw


def test_retransmitted_options_identical(sip_server):
    with sip_server.conn("udp") as c:
        req = options_bytes(c)
        r1 = c.request(req)
        r2 = c.request(req)
        assert r1.raw == r2.raw
        assert r1.to_tag() == r2.to_tag()
        # another branch is another transaction: another To tag
        r3 = c.request(options_bytes(c))
        assert r3.to_tag() != r1.to_tag()


# --------------------------------------------------------------------------
# TCP framing

def test_tcp_two_messages_in_one_segment(sip_server, sip_ep):
    ua = sip_ep.ua("tcp")
    with ua.c:
        a = options_bytes(ua.c, cseq=7)
        b = ua.register_bytes()
        ua.c.send(a + b)
        r1, r2 = ua.c.recv(), ua.c.recv()
        assert (r1.status, r1.get("CSeq")) == (200, "7 OPTIONS")
        assert (r2.status, r2.get("CSeq")) == (401, "1 REGISTER")


def test_tcp_message_split_byte_by_byte(sip_server, sip_ep):
    ua = sip_ep.ua("tcp")
    with ua.c:
        ua.c.sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        ua.challenge()
        req = ua.register_bytes(auth=ua.auth_header(),
                                extra=[("X-Pad", "p" * 40)])
        assert len(req) < 1200
        deadline = time.monotonic() + 10
        for i in range(len(req)):
            ua.c.sock.send(req[i:i + 1])
            if i % 4 == 0:
                time.sleep(0.001)
            assert time.monotonic() < deadline
        r = ua.c.recv()
        assert r.status == 200, r.raw
        assert sip_ep.get()["sip_registered"] == "true"


def test_tcp_split_across_a_few_segments_with_body_boundary(sip_server):
    with sip_server.conn("tcp") as c:
        c.sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        body = b"v=0\r\n"
        req = build_request("OPTIONS", "sip:localhost", [
            ("Via", "SIP/2.0/TCP %s;branch=%s" % (c.local_hostport,
                                                  new_branch())),
            ("From", "<sip:p@localhost>;tag=1"), ("To", "<sip:p@localhost>"),
            ("Call-ID", new_callid()), ("CSeq", "1 OPTIONS"),
            ("Content-Type", "application/sdp")], body)
        cut = req.index(b"\r\n\r\n")
        for part in (req[:cut + 1], req[cut + 1:cut + 4], req[cut + 4:-2],
                     req[-2:]):
            c.sock.send(part)
            time.sleep(0.05)
        r = c.recv()
        assert r.status == 200, r.raw
        # The body was not taken for another message: the next answer on
        # the connection is that of the next request.
        expect_next_answer_is_options(c)


def test_tcp_keepalive_ping_gets_pong(sip_server):
    with sip_server.conn("tcp") as c:
        c.send(b"\r\n\r\n")
        c.sock.settimeout(3)
        assert c.sock.recv(16) == b"\r\n"
        r = c.request(options_bytes(c))
        assert r.status == 200
        # a ping between two messages
        c.send(b"\r\n\r\n" + options_bytes(c, cseq=2))
        assert c.sock.recv(2) == b"\r\n"
        r = c.recv()
        assert r.get("CSeq") == "2 OPTIONS"


@pytest.mark.parametrize("junk", [
    b"GARBAGE GARBAGE\r\n\r\n",
    b"OPTIONS sip:localhost SIP/2.0\r\nVia: SIP/2.0/TCP 1.2.3.4\r\n\r\n",
    b"OPTIONS sip:localhost SIP/2.0\r\nContent-Length: 1\r\n"
    b"Content-Length: 1\r\n\r\nx",
    b"OPTIONS sip:localhost SIP/2.0\r\nContent-Length: -5\r\n\r\n",
])
def test_tcp_garbage_closes_connection(sip_server, junk):
    with sip_server.conn("tcp") as c:
        c.send(junk)
        assert c.at_eof(3), "connection still open after %r" % junk
    assert_alive(sip_server, "tcp")


@pytest.mark.parametrize("kind", ["headers", "content_length"])
def test_tcp_oversized_message_closes_connection(sip_server, kind):
    with sip_server.conn("tcp") as c:
        if kind == "headers":
            c.send(b"OPTIONS sip:localhost SIP/2.0\r\n")
            try:  # 100 KB of headers: past the default sip_msg_max
                for _ in range(200):
                    c.send(b"X-Long: " + b"a" * 500 + b"\r\n")
            except (BrokenPipeError, ConnectionResetError):
                pass
        else:
            c.send(options_bytes(c).replace(b"Content-Length: 0",
                                            b"Content-Length: 100000"))
        assert c.at_eof(3), "an oversized %s did not close" % kind
    assert_alive(sip_server, "tcp")


def test_tcp_bad_message_after_good_one(sip_server):
    """A well-framed but unparsable message gets 400 or nothing, and the
    good messages around it are answered."""
    with sip_server.conn("tcp") as c:
        bad = options_bytes(c).replace(b"CSeq: 1 OPTIONS", b"CSeq: x OPTIONS")
        sentinel = options_bytes(c, cseq=2)
        cid = re.search(rb"Call-ID: (\S+)", sentinel).group(1).decode()
        c.send(options_bytes(c, cseq=1) + bad + sentinel)
        r = c.recv()
        assert r.get("CSeq") == "1 OPTIONS"
        # The bad one is answered 400 in its turn, or dropped: either way
        # the next answer in order is the sentinel's (or the connection is
        # closed), never a late answer.
        try:
            r2 = c.recv()
            if r2.get("Call-ID") != cid:
                assert r2.status == 400, r2.raw
                r2 = c.recv()
            assert r2.status == 200 and r2.get("Call-ID") == cid, r2.raw
        except AssertionError as e:
            if "closed" not in str(e):
                raise
    assert_alive(sip_server, "tcp")


# --------------------------------------------------------------------------
# malformed UDP

def _valid_register(c):
    return build_request("REGISTER", "sip:localhost", [
        ("Via", "SIP/2.0/UDP %s;branch=%s;rport" % (c.local_hostport,
                                                    new_branch())),
        ("Max-Forwards", "70"),
        ("From", "<sip:m@localhost>;tag=%s" % new_tag()),
        ("To", "<sip:m@localhost>"), ("Call-ID", new_callid()),
        ("CSeq", "1 REGISTER"),
        ("Contact", "<sip:m@%s>;expires=60" % c.local_hostport),
        ("Expires", "3600")])


MALFORMED = {
    "garbage": (b"\x16\x03\x01 hello there\r\n\r\n", "silence"),
    "truncated_headers": (b"REGISTER sip:localhost SIP/2.0\r\nVia: SIP/2.0/"
                          b"UDP 127.0.0.1:5060;branch=z9hG4bKt\r\nFrom: <sip:",
                          "silence"),
    "missing_call_id": (None, "either"),
    "huge_content_length": (None, 400),
    "nul_in_header": (None, "either"),
    "bad_cseq_method": (None, 400),
    "bad_expires": (None, 400),
    "two_call_ids": (None, 400),
    "bare_cr": (None, "either"),
}


def _malformed(name, c):
    v = _valid_register(c)
    if name == "missing_call_id":
        return b"\r\n".join(l for l in v.split(b"\r\n")
                            if not l.startswith(b"Call-ID"))
    if name == "huge_content_length":
        return v.replace(b"Content-Length: 0", b"Content-Length: 99999999")
    if name == "nul_in_header":
        return v.replace(b"Max-Forwards: 70", b"Max-Forwards: 7\x000")
    if name == "bad_cseq_method":
        return v.replace(b"CSeq: 1 REGISTER", b"CSeq: 1 INVITE")
    if name == "bad_expires":
        return v.replace(b"Expires: 3600", b"Expires: soon")
    if name == "two_call_ids":
        return v.replace(b"Max-Forwards: 70", b"Call-ID: second")
    if name == "bare_cr":
        return v.replace(b"Max-Forwards: 70", b"Max-Forwards: 70\rX: y")
    return MALFORMED[name][0]


@pytest.mark.parametrize("name", sorted(MALFORMED))
def test_udp_malformed(sip_server, name):
    with sip_server.conn("udp") as c:
        data = _malformed(name, c)
        want = MALFORMED[name][1]
        sentinel = options_bytes(c)
        cid = re.search(rb"Call-ID: (\S+)", sentinel).group(1).decode()
        c.send(data)
        c.send(sentinel)
        # One thread answers datagrams in order: an answer to the bad one
        # comes before the sentinel's 200, or there is none.
        r = c.recv()
        if r.get("Call-ID") == cid and r.status == 200:
            r = None
        else:
            s2 = c.recv()
            assert s2.status == 200 and s2.get("Call-ID") == cid, s2.raw
        if want == "silence":
            assert r is None, r.raw
        elif want == 400:
            assert r is not None and r.status == 400, r and r.raw
        else:
            assert r is None or r.status == 400, r.raw
        if r is not None:
            assert b"\x00" not in r.raw
            assert r.get("Via") and r.get("CSeq"), r.raw
    assert_alive(sip_server)


def test_udp_oversized_datagram_dropped(sip_make_server):
    # The default sip_msg_max is above what a datagram can carry.
    srv = sip_make_server(env={"SIPWARD_SIP_MSG_MAX": "8192"})
    with srv.conn("udp") as c:
        big = options_bytes(c, extra=[("X-Big", "b" * 9000)])
        c.send(big)
        expect_next_answer_is_options(c)
    assert_alive(srv)


def test_udp_fuzz_blobs_fixed_seed(sip_server, sip_ep):
    """10000 datagrams from a fixed seed: half random bytes, half mutated
    REGISTER/OPTIONS. Every answer is a well-formed 4xx (never 5xx, never
    200 for a mutated REGISTER), and the server still answers after."""
    rnd = random.Random(20261127)
    ua = sip_ep.ua("udp")
    statuses = {}
    deadline = time.monotonic() + 25
    with ua.c as c:
        c.sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 1 << 20)
        templates = [ua.register_bytes(), options_bytes(c),
                     ua.register_bytes(contacts="*", expires=0)]

        def drain(t):
            while True:
                try:
                    raw = c.recv_raw(t)
                except NoResponse:
                    return
                r = Response(raw)  # must parse as a SIP response
                statuses[r.status] = statuses.get(r.status, 0) + 1
                t = 0.005

        for i in range(10000):
            if i % 2 == 0:
                blob = bytes(rnd.getrandbits(8)
                             for _ in range(rnd.randint(1, 1500)))
            else:
                blob = bytearray(rnd.choice(templates))
                for _ in range(rnd.randint(1, 8)):
                    op = rnd.random()
                    pos = rnd.randrange(len(blob))
                    if op < 0.5:
                        blob[pos] = rnd.getrandbits(8)
                    elif op < 0.75:
                        del blob[pos:pos + rnd.randint(1, 20)]
                    else:
                        blob[pos:pos] = rnd.choice(
                            [b"\r\n", b";", b",", b"\x00", b":", b"<", b">",
                             b"\"", b"%", b"9" * 12, b" "])
                blob = bytes(blob)
            c.send(blob)
            if i % 100 == 99:
                drain(0.02)
            assert time.monotonic() < deadline, "fuzz loop too slow"
        drain(0.5)
    assert not [s for s in statuses if s >= 500], statuses
    assert statuses.get(400, 0) > 50, statuses  # mutations were answered
    assert sip_server.alive()
    assert_alive(sip_server, "udp")
    assert_alive(sip_server, "tcp")
    assert sip_ep.get()["sip_registered"] == "false"


def test_tcp_fuzz_connections_fixed_seed(sip_server):
    """80 connections each carrying a mutated message: each one is answered
    (never 5xx) or closed by the server; one the server waits on (a mutated
    length or line end leaves the message incomplete) is answered or closed
    once a valid request follows. The server stays up."""
    rnd = random.Random(777)
    outcomes = {"answered": 0, "closed": 0}
    deadline = time.monotonic() + 60
    for i in range(80):
        with sip_server.conn("tcp", timeout=3.0) as c:
            blob = bytearray(options_bytes(c))
            for _ in range(rnd.randint(1, 6)):
                pos = rnd.randrange(len(blob))
                blob[pos] = rnd.getrandbits(8)
            try:
                c.send(bytes(blob))
                try:
                    r = c.recv(0.3)
                except NoResponse:
                    # Incomplete as far as the server can tell (a mutated
                    # line end or length), or dropped unanswerable: a valid
                    # request that follows completes it (then it is
                    # dropped, answered 400 or closed) or is answered;
                    # the next one is answered for certain.
                    c.send(options_bytes(c))
                    try:
                        r = c.recv(1.0)
                    except NoResponse:
                        c.send(options_bytes(c))
                        r = c.recv(3.0)
                        assert r.status == 200, r.raw
                assert r.status < 500, r.raw
                outcomes["answered"] += 1
            except (ConnectionClosed, ConnectionError):
                outcomes["closed"] += 1
        assert time.monotonic() < deadline
    assert sum(outcomes.values()) == 80, outcomes
    assert outcomes["answered"] and outcomes["closed"], outcomes
    assert_alive(sip_server, "tcp")


# --------------------------------------------------------------------------
# framing details

def test_udp_extra_bytes_after_body_are_discarded(sip_server):
    """RFC 3261 18.3: over UDP, bytes after the Content-Length body 'MUST be
    discarded' -- the request itself is processed normally."""
    with sip_server.conn("udp") as c:
        r = c.request(options_bytes(c) + b"\r\n")
        assert r.status == 200, r.raw
        req = options_bytes(c).replace(b"Content-Length: 0",
                                       b"Content-Length: 3") + b"v=0junk"
        r = c.request(req)
        assert r.status == 200, r.raw


def test_udp_body_shorter_than_content_length_is_400(sip_server):
    with sip_server.conn("udp") as c:
        req = options_bytes(c).replace(b"Content-Length: 0",
                                       b"Content-Length: 10") + b"abc"
        r = c.request(req)
        assert r.status == 400, r.raw


def test_compact_header_forms(sip_server, sip_ep):
    ua = sip_ep.ua("udp")
    with ua.c:
        ua.challenge()
        b = ua.register_bytes(auth=ua.auth_header())
        for full, short in ((b"Via:", b"v:"), (b"From:", b"f:"),
                            (b"To:", b"t:"), (b"Call-ID:", b"i:"),
                            (b"Contact:", b"m:"), (b"Content-Length:", b"l:")):
            assert b"\r\n" + full in b
            b = b.replace(b"\r\n" + full, b"\r\n" + short)
        r = ua.c.request(b)
        assert r.status == 200, r.raw
        assert sip_ep.get()["sip_registered"] == "true"


def test_via_received_and_rport_rewritten(sip_server):
    """A client's own received=/rport= are replaced by what the server saw."""
    with sip_server.conn("udp") as c:
        req = options_bytes(c).replace(
            b";rport", b";received=6.6.6.6;rport=1234")
        r = c.request(req)
        v = r.get("Via")
        assert "6.6.6.6" not in v and "1234" not in v, v
        assert "received=127.0.0.1" in v
        assert "rport=%d" % c.local[1] in v, v


def test_udp_receive_buffer_sized(sip_server, sip_make_server):
    """The UDP socket gets sip_udp_rcvbuf (4 MiB by default, past
    net.core.rmem_max as root), so that a burst of REGISTERs is queued,
    not dropped; the size the kernel gave is logged. 0 keeps the
    kernel's default (no line)."""
    assert os.geteuid() == 0, "the tests run as root (make test)"
    sip_server.wait_log(r"event=sip_udp_rcvbuf asked=4194304 got=4194304")
    srv = sip_make_server("rcvbuf", env={"SIPWARD_SIP_UDP_RCVBUF": "1000000"})
    srv.wait_log(r"event=sip_udp_rcvbuf asked=1000000 got=1000000")
    off = sip_make_server("rcvbuf0", env={"SIPWARD_SIP_UDP_RCVBUF": "0"})
    assert not off.log_lines(r"event=sip_udp_rcvbuf"), off.log_lines()
