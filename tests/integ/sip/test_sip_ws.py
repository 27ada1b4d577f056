"""SIP over TLS, WebSocket and secure WebSocket (RFC 7118): registrations
from every transport are equal (shown with their transport, the User-Agent
as sent, a closed connection ends its bindings at once), the WebSocket
handshake and framing rules (subprotocol sip only, masking, fragments, ping
and pong, CRLF keep-alives in frames, size limits, close codes), server
pings, TLS 1.2+ only, the certificate reloaded on SIGHUP, and a WSS
registration dialled by <Dial><User> exactly like a UDP one."""

import os
import re
import signal
import socket
import ssl
import struct
import time

import pytest

from conftest import (make_tls_cert, start_sip_server, tls_env, uname, pw,
                      wait_until)
import sipclient
import sipphone
from sipclient import ConnectionClosed, NoResponse, SipConn
from sipphone import Phone
from test_calls_app import App, answer, caller_dialog, dial_user, new_app

UA_WITH_SPACE = "JsSIP 3.12.0"


@pytest.fixture(scope="module")
def tls_files(tmp_path_factory):
    return make_tls_cert(tmp_path_factory.mktemp("ws_cert"))


@pytest.fixture(scope="module")
def ws_server(tmp_path_factory, tls_files):
    env = tls_env(*tls_files)
    env.update({"SIPWARD_WEBHOOK_ALLOW_PRIVATE": "true",
                "SIPWARD_SIP_MSG_MAX": "8192",
                # no media relay in these tests (see test_webrtc.py)
                "SIPWARD_RTPENGINE_NG": ""})
    srv = start_sip_server(tmp_path_factory.mktemp("sip_ws"), env=env)
    yield srv
    srv.stop()


@pytest.fixture
def ep(ws_server):
    return ws_server.endpoint()


def registrations(ep):
    return ep.get().get("sip_registrations") or []


def read_frame(c, timeout=3.0):
    """(opcode, payload) of the next server frame, raw (pings included)."""
    deadline = time.monotonic() + timeout
    while True:
        f = c._ws_next()
        if f is not None:
            return f
        left = deadline - time.monotonic()
        if left <= 0:
            raise NoResponse("no frame within %.1fs" % timeout)
        c.sock.settimeout(left)
        try:
            chunk = c.sock.recv(65536)
        except socket.timeout:
            continue
        if not chunk:
            raise ConnectionClosed("closed")
        c.buf += chunk


def close_code(c):
    op, data = read_frame(c)
    assert op == 8, "expected a close frame, got opcode %d %r" % (op, data)
    assert c.at_eof(), "the connection stayed open after the close"
    return struct.unpack("!H", data[:2])[0] if len(data) >= 2 else None


@pytest.mark.parametrize("proto,shown", [("ws", "WS"), ("wss", "WSS"),
                                         ("tls", "TLS")])
def test_registration_shown_with_transport_and_user_agent(ws_server, ep,
                                                          proto, shown):
    ua = ep.ua(proto, user_agent=UA_WITH_SPACE)
    r = ua.register(expires=600)
    assert r.status == 200, r
    got = ep.get()
    assert got["sip_registered"] == "true"
    regs = got["sip_registrations"]
    assert len(regs) == 1, regs
    assert regs[0]["transport"] == shown
    assert regs[0]["user_agent"] == UA_WITH_SPACE
    if proto != "tls":
        assert re.search(r"@[0-9a-f]{12}\.invalid;transport=ws$",
                         regs[0]["contact"]), regs[0]
    assert got["sip_user_agent"] == UA_WITH_SPACE
    ua.c.close()


@pytest.mark.parametrize("proto,order", [
    ("ws", ["SHA-256", "MD5"]), ("wss", ["SHA-256", "MD5"]),
    ("tls", ["MD5", "SHA-256"]), ("udp", ["MD5", "SHA-256"])])
def test_challenges_end_with_md5_over_websocket(ws_server, ep, proto, order):
    """JsSIP and SIP.js keep only the last WWW-Authenticate of a response
    and answer only MD5: over WebSocket MD5 comes last; elsewhere the
    configured order (MD5 first, what phones and sipp take)."""
    ua = ep.ua(proto)
    r = ua.c.request(ua.register_bytes())
    assert r.status == 401
    algs = [re.search(r"algorithm=([\w-]+)", h).group(1)
            for h in r.all("WWW-Authenticate")]
    assert algs == order, r
    ua.c.close()


@pytest.mark.parametrize("proto", ["ws", "wss", "tls", "tcp"])
def test_closed_connection_ends_its_bindings(ws_server, ep, proto):
    ua = ep.ua(proto)
    assert ua.register(expires=3600).status == 200
    other = ep.ua("udp")
    contact = "<sip:%s-u@127.0.0.1:5999>" % ep.username
    assert other.register(contacts=[contact], expires=3600).status == 200
    assert len(registrations(ep)) == 2
    ua.c.close()
    # at once: the UDP binding stays, the connection's goes
    wait_until(lambda: len(registrations(ep)) == 1, 10,
               "the %s binding gone after its connection closed" % proto)
    assert registrations(ep)[0]["transport"] == "UDP"
    ws_server.wait_log(r"event=sip_bindings_closed src=127\.0\.0\.1:%d "
                       r"transport=%s count=1" % (ua.c.local[1],
                                                  proto.upper()))
    other.c.close()


def test_crlf_keepalive_in_a_frame_answered(ws_server):
    c = ws_server.conn("ws")
    c.send_raw(c.ws_frame("\r\n\r\n"))
    assert read_frame(c) == (1, b"\r\n")
    # a single CRLF is an answer (a pong), never answered itself
    c.send_raw(c.ws_frame("\r\n"))
    with pytest.raises(NoResponse):
        read_frame(c, timeout=0.5)
    c.close()


def test_ping_answered_with_pong_of_the_same_data(ws_server):
    c = ws_server.conn("wss")
    c.send_raw(c.ws_frame(b"are you there", opcode=9))
    assert read_frame(c) == (10, b"are you there")
    c.close()


def test_fragmented_message_with_a_ping_between(ws_server, ep):
    c = ws_server.conn("ws")
    ua = sipclient.UA(c, ep.username, ep.domain, ep.password)
    msg = ua.register_bytes(expires=60)
    a, b = msg[:40], msg[40:]
    c.send_raw(c.ws_frame(a, opcode=1, fin=False))
    c.send_raw(c.ws_frame(b"p", opcode=9))
    assert read_frame(c) == (10, b"p")
    c.send_raw(c.ws_frame(b[:10], opcode=0, fin=False))
    c.send_raw(c.ws_frame(b[10:], opcode=0, fin=True))
    r = c.recv()
    assert r.status == 401
    c.close()


@pytest.mark.parametrize("protocol,extra,status", [
    ("chat", "", 400),
    ("", "", 400),
    ("sip", "", 426),
])
def test_handshake_refusals(ws_server, protocol, extra, status):
    s = socket.create_connection(("127.0.0.1", ws_server.port_of("ws")))
    s.settimeout(5)
    version = "8" if status == 426 else "13"
    head = ("GET / HTTP/1.1\r\nHost: 127.0.0.1\r\nUpgrade: websocket\r\n"
            "Connection: Upgrade\r\nSec-WebSocket-Key: "
            "dGhlIHNhbXBsZSBub25jZQ==\r\nSec-WebSocket-Version: %s\r\n" %
            version)
    if protocol:
        head += "Sec-WebSocket-Protocol: %s\r\n" % protocol
    s.sendall((head + extra + "\r\n").encode())
    got = b""
    while True:
        chunk = s.recv(4096)
        if not chunk:
            break
        got += chunk
    s.close()
    assert got.startswith(b"HTTP/1.1 %d " % status), got
    if status == 426:
        assert b"Sec-WebSocket-Version: 13" in got
    ws_server.wait_log(r"event=sip_ws_refused src=127\.0\.0\.1 transport=WS")


def test_plain_sip_on_the_websocket_port_refused(ws_server):
    s = socket.create_connection(("127.0.0.1", ws_server.port_of("ws")))
    s.settimeout(5)
    s.sendall(b"OPTIONS sip:x SIP/2.0\r\nContent-Length: 0\r\n\r\n")
    got = s.recv(4096)
    assert got.startswith(b"HTTP/1.1 400 "), got
    assert s.recv(4096) == b""
    s.close()


@pytest.mark.parametrize("frame,code", [
    (lambda c: c.ws_frame("OPTIONS", mask=False), 1002),    # unmasked
    (lambda c: c.ws_frame("x", opcode=3), 1002),            # reserved op
    (lambda c: c.ws_frame(b"\xff\xfe", opcode=1), 1007),    # not UTF-8
    (lambda c: c.ws_frame(b"a" * 9000, opcode=2), 1009),    # > msg_max
    (lambda c: c.ws_frame(b"x" * 126, opcode=9), 1002),     # long ping
])
def test_bad_frames_close_with_their_code(ws_server, frame, code):
    c = ws_server.conn("ws")
    c.send_raw(frame(c))
    assert close_code(c) == code


def test_client_close_echoed(ws_server):
    c = ws_server.conn("wss")
    c.send_raw(c.ws_frame(struct.pack("!H", 1000) + b"bye", opcode=8))
    assert close_code(c) == 1000


def test_silent_websocket_pinged_and_kept(tmp_path, tls_files):
    env = tls_env(*tls_files, tls=False)
    env.update({"SIPWARD_SIP_WS_PING": "1", "SIPWARD_SIP_TCP_IDLE": "5",
                "SIPWARD_RTPENGINE_NG": ""})
    srv = start_sip_server(tmp_path / "ping", env=env)
    try:
        ep = srv.endpoint()
        ua = ep.ua("wss")
        assert ua.register(expires=600).status == 200
        # the client answers every ping (SipConn does); past the idle
        # time the connection and its binding are still there
        seen = []

        def pinged_past_idle():
            try:
                ua.c.recv_raw(0.2)
            except NoResponse:
                pass
            seen.append(ua.c.ws_pings)
            return ua.c.ws_pings >= 7
        wait_until(pinged_past_idle, 20, "seven pings (seen %r)" % seen[-1:])
        assert ep.get()["sip_registered"] == "true"
        assert ua.register(expires=600).status == 200
        ua.c.close()
    finally:
        srv.stop()


@pytest.mark.filterwarnings("ignore::DeprecationWarning")
def test_tls_before_1_2_refused(ws_server):
    ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)
    ctx.check_hostname = False
    ctx.verify_mode = ssl.CERT_NONE
    ctx.set_ciphers("DEFAULT:@SECLEVEL=0")
    ctx.minimum_version = ssl.TLSVersion.TLSv1
    ctx.maximum_version = ssl.TLSVersion.TLSv1_1
    s = socket.create_connection(("127.0.0.1", ws_server.port_of("tls")))
    with pytest.raises(ssl.SSLError) as e:
        ctx.wrap_socket(s)
    s.close()
    assert "VERSION" in str(e.value).upper(), e.value
    ws_server.wait_log(r"event=sip_tls_failed src=127\.0\.0\.1 "
                       r"transport=TLS reason=\"unsupported protocol\"")
    # and 1.2 alone works
    ctx.minimum_version = ctx.maximum_version = ssl.TLSVersion.TLSv1_2
    ctx.set_ciphers("DEFAULT")
    s = ctx.wrap_socket(socket.create_connection(
        ("127.0.0.1", ws_server.port_of("tls"))))
    assert s.version() == "TLSv1.2"
    s.close()


def test_unfinished_handshake_closed(ws_server):
    s = socket.create_connection(("127.0.0.1", ws_server.port_of("wss")))
    s.settimeout(30)
    # no ClientHello: closed after the handshake time (10 s)
    assert s.recv(10) == b""
    s.close()
    ws_server.wait_log(r"event=sip_handshake_timeout src=127\.0\.0\.1 "
                       r"transport=WSS")


def peer_cert(port):
    ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)
    ctx.check_hostname = False
    ctx.verify_mode = ssl.CERT_NONE
    with ctx.wrap_socket(socket.create_connection(("127.0.0.1", port))) \
            as s:
        return s.getpeercert(binary_form=True)


def pem_der(path):
    return ssl.PEM_cert_to_DER_cert(open(path).read())


def test_sighup_reloads_the_certificate(tmp_path):
    cert, key = make_tls_cert(tmp_path / "c1", cn="first")
    srv = start_sip_server(tmp_path / "hup", env=dict(
        tls_env(cert, key), SIPWARD_RTPENGINE_NG=""))
    try:
        ep = srv.endpoint()
        ua = ep.ua("wss")
        assert ua.register(expires=600).status == 200
        assert peer_cert(srv.port_of("tls")) == pem_der(cert)
        # a call in progress between two browsers-to-be (WSS and TLS)
        api = srv.api()
        made = []
        for proto in ("wss", "tls"):
            u, p = uname("h"), pw()
            api.create_endpoint(u, p)
            made.append(Phone(srv, u, p, api.domain, proto=proto))
            made[-1].register()
        alice, bob = made
        d = alice.call(bob.user)
        db = bob.incoming()
        bob.respond(db.invite, 200, "OK", tag=db.local_tag,
                    sdp=sipphone.SDP_AUDIO % 50000)
        alice.answered(d, alice.wait_response("INVITE", 200))
        bob.wait_request("ACK")
        # a file that does not load keeps the old certificate
        open(key, "w").write("not a key\n")
        srv.proc.send_signal(signal.SIGHUP)
        srv.wait_log(r"event=tls_reload_failed reason=\"tls_key_file ")
        assert peer_cert(srv.port_of("wss")) == pem_der(cert)
        # new files: new connections get the new certificate
        c2, k2 = make_tls_cert(tmp_path / "c2", cn="second")
        os.replace(c2, cert)
        os.replace(k2, key)
        srv.proc.send_signal(signal.SIGHUP)
        srv.wait_log(r"event=tls_reloaded")
        assert peer_cert(srv.port_of("tls")) == pem_der(cert)
        # the open connections, their registration and call carry on
        assert ep.get()["sip_registered"] == "true"
        assert ua.register(expires=600).status == 200
        assert alice.bye(d).status == 200
        bob.respond(bob.wait_request("BYE"), 200, "OK")
        ua.c.close()
        for ph in made:
            ph.close()
        assert srv.alive()
    finally:
        srv.stop()


@pytest.mark.parametrize("proto", ["wss", "ws", "tls"])
def test_dial_user_reaches_a_connection_registration(ws_server, proto):
    api = ws_server.api()
    app = App()
    try:
        bob_user, alice_user = uname("b"), uname("a")
        bpw, apw = pw(), pw()
        api.create_endpoint(bob_user, bpw)
        bob = Phone(ws_server, bob_user, bpw, api.domain, proto=proto)
        bob.ua.user_agent = UA_WITH_SPACE
        bob.register()
        app.xml("/answer", dial_user(bob_user, api.domain))
        aid = new_app(api, app)
        api.create_endpoint(alice_user, apw, application=aid)
        alice = Phone(ws_server, alice_user, apw, api.domain)
        alice.register()
        alice.call(bob_user)
        db = answer(bob)
        inv = db.invite
        # sent over bob's connection to the Contact he registered, with
        # our Via and Contact naming that transport
        assert inv.ruri == "sip:%s@%s;transport=%s" % (
            bob_user, bob.c.local_hostport, bob.c.uri_transport)
        assert inv.get("Via").startswith("SIP/2.0/%s " % proto.upper())
        assert ";transport=%s>" % ("ws" if proto != "tls" else "tls") in \
            inv.get("Contact")
        ok = alice.wait_response("INVITE", 200)
        d = caller_dialog(alice, ok)
        assert alice.bye(d).status == 200
        bob.respond(bob.wait_request("BYE"), 200, "OK")
        bob.close()
        alice.close()
    finally:
        app.close()
