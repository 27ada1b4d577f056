"""Calls whose media rtpengine bridges (calls.md "WebRTC"), at the SIP
level with a real rtpengine: a WebRTC caller (over WSS, offering
UDP/TLS/RTP/SAVPF with ICE and DTLS) reaches a plain RTP phone with an
RTP/AVP offer from rtpengine and gets rtpengine's WebRTC answer; the other
way round too; the session is deleted when the call ends; an unreachable
rtpengine fails the call with a clear cause and nothing hangs; calls
between alike parties stay untouched unless rtpengine_always is set.
(Real browsers with real audio: test_webrtc.py.)"""

import re
import sys
from pathlib import Path

import pytest

from conftest import (make_tls_cert, start_sip_server, tls_env, uname, pw,
                      wait_until)
from sipphone import Phone, SDP_AUDIO
from test_calls_app import App, caller_dialog, dial_user, new_app

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
from rtpengine import Rtpengine  # noqa: E402

WEBRTC_SDP = (
    "v=0\r\no=- 4611731400430051336 2 IN IP4 127.0.0.1\r\ns=-\r\nt=0 0\r\n"
    "a=group:BUNDLE 0\r\na=msid-semantic: WMS s\r\n"
    "m=audio 9 UDP/TLS/RTP/SAVPF 111 0 126\r\nc=IN IP4 0.0.0.0\r\n"
    "a=rtcp:9 IN IP4 0.0.0.0\r\n"
    "a=candidate:1467250027 1 udp 2122260223 127.0.0.1 %d typ host "
    "generation 0 network-id 1\r\n"
    "a=ice-ufrag:Xb7k\r\na=ice-pwd:4ZcD8jQ2mN5pR7tV9wYa1bCe\r\n"
    "a=ice-options:trickle\r\n"
    "a=fingerprint:sha-256 7B:8B:F0:65:5F:78:E2:51:3B:AC:6F:F3:3F:46:1B:"
    "35:DC:B8:5F:64:1A:24:C2:43:F0:A1:58:D0:A1:2C:19:08\r\n"
    "a=setup:%s\r\na=mid:0\r\na=sendrecv\r\na=rtcp-mux\r\n"
    "a=rtpmap:111 opus/48000/2\r\na=rtpmap:0 PCMU/8000\r\n"
    "a=rtpmap:126 telephone-event/8000\r\n")


def webrtc_offer(port=46243):
    return WEBRTC_SDP % (port, "actpass")


def webrtc_answer(port=46300):
    return WEBRTC_SDP % (port, "active")


def is_webrtc(sdp):
    return ("UDP/TLS/RTP/SAVPF" in sdp and "a=ice-ufrag:" in sdp and
            "a=fingerprint:" in sdp and "a=rtcp-mux" in sdp)


def is_plain(sdp):
    return (re.search(r"(?m)^m=audio \d+ RTP/AVP ", sdp) and
            "a=ice-ufrag" not in sdp and "a=fingerprint" not in sdp and
            "a=crypto" not in sdp)


@pytest.fixture(scope="module")
def rtp(tmp_path_factory):
    # no delete delay: `list` shows a deleted session gone at once
    r = Rtpengine(tmp_path_factory.mktemp("rtpengine"),
                  extra_args=["--delete-delay=0"]).start()
    yield r
    r.stop()


@pytest.fixture(scope="module")
def media_server(tmp_path_factory, rtp):
    cert, key = make_tls_cert(tmp_path_factory.mktemp("media_cert"))
    env = tls_env(cert, key, tls=False)
    env.update({"SIPWARD_WEBHOOK_ALLOW_PRIVATE": "true",
                "SIPWARD_RTPENGINE_NG": rtp.ng})
    srv = start_sip_server(tmp_path_factory.mktemp("sip_media"), env=env)
    yield srv
    srv.stop()


@pytest.fixture
def app():
    a = App()
    yield a
    a.close()


def parties(srv, app, caller_proto, callee_proto):
    """bob (callee_proto) reached by alice (caller_proto) through an
    application that dials him."""
    api = srv.api()
    made = []

    def phone(proto, **fields):
        user, password = uname("m"), pw()
        api.create_endpoint(user, password, **fields)
        p = Phone(srv, user, password, api.domain, proto=proto)
        p.register()
        made.append(p)
        return p
    bob = phone(callee_proto)
    app.xml("/answer", dial_user(bob.user, bob.domain))
    alice = phone(caller_proto, application=new_app(api, app))
    return alice, bob, made


def rtp_calls(rtp):
    return set(rtp.request({"command": "list"}).get("calls", []))


def test_browser_calls_a_phone_through_rtpengine(media_server, rtp, app):
    alice, bob, made = parties(media_server, app, "wss", "udp")
    try:
        alice.call(bob.user, sdp=webrtc_offer())
        db = bob.incoming()
        offer = db.invite.body.decode()
        assert is_plain(offer), offer
        assert db.invite.call_id in rtp_calls(rtp)
        bob.respond(db.invite, 180, "Ringing", tag=db.local_tag)
        bob.respond(db.invite, 200, "OK", tag=db.local_tag,
                    sdp=SDP_AUDIO % 41000)
        bob.wait_request("ACK")
        ok = alice.wait_response("INVITE", 200)
        ans = ok.body.decode()
        assert is_webrtc(ans), ans
        # rtpengine is the DTLS client towards a browser's offer
        # (reference/calls-webrtc.md 9: passive never finished)
        assert "a=setup:active" in ans, ans
        d = caller_dialog(alice, ok)
        assert alice.bye(d).status == 200
        bob.respond(bob.wait_request("BYE"), 200, "OK")
        # the session is deleted when the call ends
        wait_until(lambda: db.invite.call_id not in rtp_calls(rtp), 10,
                   "rtpengine's session of %s deleted" % db.invite.call_id)
    finally:
        for p in made:
            p.close()


def test_phone_calls_a_browser_through_rtpengine(media_server, rtp, app):
    alice, bob, made = parties(media_server, app, "udp", "wss")
    try:
        alice.call(bob.user, sdp=SDP_AUDIO % 41010)
        db = bob.incoming()
        offer = db.invite.body.decode()
        assert is_webrtc(offer), offer
        bob.respond(db.invite, 200, "OK", tag=db.local_tag,
                    sdp=webrtc_answer())
        bob.wait_request("ACK")
        ok = alice.wait_response("INVITE", 200)
        assert is_plain(ok.body.decode()), ok.body
        d = caller_dialog(alice, ok)
        # a new offer inside the call is refused, the call goes on
        alice.send_in_dialog(d, alice.in_dialog(d, "INVITE",
                                                sdp=SDP_AUDIO % 41012))
        r = alice.wait_response("INVITE", final=True)
        assert r.status == 488, r
        assert alice.bye(d).status == 200
        bob.respond(bob.wait_request("BYE"), 200, "OK")
        wait_until(lambda: db.invite.call_id not in rtp_calls(rtp), 10,
                   "rtpengine's session deleted")
    finally:
        for p in made:
            p.close()


def test_early_media_through_rtpengine(media_server, rtp, app):
    alice, bob, made = parties(media_server, app, "wss", "udp")
    try:
        alice.call(bob.user, sdp=webrtc_offer())
        db = bob.incoming()
        bob.respond(db.invite, 183, "Session Progress", tag=db.local_tag,
                    sdp=SDP_AUDIO % 41020)
        early = alice.wait_response("INVITE", 183)
        assert is_webrtc(early.body.decode()), early.body
        bob.respond(db.invite, 200, "OK", tag=db.local_tag,
                    sdp=SDP_AUDIO % 41020)
        ok = alice.wait_response("INVITE", 200)
        assert is_webrtc(ok.body.decode())
        d = caller_dialog(alice, ok)
        assert alice.bye(d).status == 200
        bob.respond(bob.wait_request("BYE"), 200, "OK")
    finally:
        for p in made:
            p.close()


def test_alike_parties_untouched_unless_always(media_server, rtp, app,
                                               tmp_path):
    alice, bob, made = parties(media_server, app, "udp", "udp")
    try:
        sdp = SDP_AUDIO % 41030
        alice.call(bob.user, sdp=sdp)
        db = bob.incoming()
        assert db.invite.body.decode() == sdp
        bob.respond(db.invite, 486, "Busy Here", tag=db.local_tag)
        assert alice.wait_response("INVITE", final=True).status == 486
    finally:
        for p in made:
            p.close()
    srv = start_sip_server(tmp_path / "always", env={
        "SIPWARD_WEBHOOK_ALLOW_PRIVATE": "true",
        "SIPWARD_RTPENGINE_NG": rtp.ng, "SIPWARD_RTPENGINE_ALWAYS": "true"})
    app2 = App()
    alice, bob, made = parties(srv, app2, "udp", "udp")
    try:
        alice.call(bob.user, sdp=SDP_AUDIO % 41040)
        db = bob.incoming()
        offer = db.invite.body.decode()
        assert is_plain(offer)
        assert "m=audio 41040 " not in offer, offer  # rtpengine's port
        bob.respond(db.invite, 200, "OK", tag=db.local_tag,
                    sdp=SDP_AUDIO % 41042)
        ok = alice.wait_response("INVITE", 200)
        assert "m=audio 41042 " not in ok.body.decode()
        d = caller_dialog(alice, ok)
        assert alice.bye(d).status == 200
        bob.respond(bob.wait_request("BYE"), 200, "OK")
    finally:
        for p in made:
            p.close()
        app2.close()
        srv.stop()


def test_rtpengine_unreachable_fails_the_call(tmp_path, app):
    from sipclient import free_udp_tcp_port
    dead = free_udp_tcp_port(20000, 30000)
    cert, key = make_tls_cert(tmp_path / "cert")
    env = tls_env(cert, key, tls=False, ws=False)
    env.update({"SIPWARD_WEBHOOK_ALLOW_PRIVATE": "true",
                "SIPWARD_RTPENGINE_NG": "127.0.0.1:%d" % dead,
                "SIPWARD_RTPENGINE_TIMEOUT": "1"})
    srv = start_sip_server(tmp_path / "dead", env=env)
    alice, bob, made = parties(srv, app, "wss", "udp")
    try:
        app.xml("/answer", dial_user(bob.user, bob.domain))
        alice.call(bob.user, sdp=webrtc_offer())
        r = alice.wait_response("INVITE", final=True, timeout=15)
        assert r.status == 500, r
        bob.expect_no(lambda m: m.is_request and m.method == "INVITE",
                      timeout=0.5, what="an INVITE to the phone")
        srv.wait_log(r"event=rtpengine_failed call_uuid=\S+ b_leg=\S+ "
                     r"op=offer error=\"Connection timed out\"")
        # the leg failed as a callee's 503 would: the Dial failed and
        # the document ended
        srv.wait_log(r"event=call_ended .* cause=END_OF_XML")
        assert srv.alive()
    finally:
        for p in made:
            p.close()
        srv.stop()
