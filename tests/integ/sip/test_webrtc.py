"""Browsers registering with sipward over WebSocket (RFC 7118): JsSIP and
SIP.js in headless Chromium (tests/node/browser.js, driven by
tests/integ/browser.py), against a sipward listening for WS and WSS (a
self-signed certificate for 127.0.0.1, which Chromium is told to accept).

1. JsSIP registers over WSS and over WS: the endpoint shows
   sip_registered "true", one binding with transport WSS / WS and the
   User-Agent exactly as the browser sent it ("JsSIP 3.x.y", with its
   space); un-REGISTER makes it "false".
2. The browser closing its WebSocket (the browser quits, or the page closes
   the socket without un-REGISTER) ends the registration at once.
3. A wrong password: the browser reports a failed registration and the
   endpoint stays unregistered.
4. SIP.js registers and unregisters over WSS; two browsers of one
   endpoint have a binding each.
5. The digest challenges browsers can answer: only MD5, and only as the
   last WWW-Authenticate header, which sipward puts last over WebSocket
   whatever the configured order.
6. A JsSIP page registered over WSS calls a baresip phone registered over
   UDP through an application that dials it; rtpengine bridges the media
   (DTLS-SRTP/ICE to plain RTP); the page's microphone plays one tone and
   the phone's file another, and each side decodes the other's. And the
   other way: baresip dials the page, which answers; the phone's BYE
   reaches the page over its WebSocket.

Needs SIPWARD_NODE_MODULES (scripts/npm-deps.sh; ctest sets it), node and
/usr/bin/chromium: skips without SIPWARD_NODE_MODULES (a plain pytest
run), fails without the others. Runs in the SQLite passes (plain and
ASan+UBSan) only: what it tests is the transports and the media, not the
store, whose registrations and calls the PostgreSQL passes test with every
other registrar and call test."""

import re

import pytest

from browser import Browser, browser_or_skip
from sip_conftest import (ON_PG, TS_RE, Endpoint, make_tls_cert, pw,
                          start_sip_server, tls_env, uname, wait_until)

pytestmark = pytest.mark.skipif(
    ON_PG, reason="browser tests run in the SQLite passes (docstring)")

# "at once": the server learns of a closed WebSocket from the TCP close; a
# few seconds only absorb a loaded machine (a lapse would take 600 s).
CLOSE_SEEN = 15.0

# JsSIP and SIP.js keep only the last WWW-Authenticate (and
# Proxy-Authenticate) header of a response (their parsers setHeader() each
# one over the previous) and give up unless its algorithm is MD5: over
# WebSocket sipward puts MD5 last whatever the configured order
# (test_digest_challenge_order). These servers have the default options.
DEFAULTS = {}


@pytest.fixture(scope="module")
def cert(tmp_path_factory):
    return make_tls_cert(tmp_path_factory.mktemp("webrtc_cert"))


def start_ws_server(tmp_path_factory, cert, name, env):
    browser_or_skip()
    e = tls_env(*cert, tls=False)
    e.update(env)
    return start_sip_server(tmp_path_factory.mktemp(name), env=e)


@pytest.fixture(scope="module")
def ws_server(tmp_path_factory, cert):
    """WS and WSS on 127.0.0.1, MD5 challenges."""
    srv = start_ws_server(tmp_path_factory, cert, "webrtc", DEFAULTS)
    yield srv
    srv.stop()


@pytest.fixture
def browsers(tmp_path):
    made = []

    def make(**scenario):
        b = Browser(tmp_path, **scenario)
        made.append(b)
        return b

    yield make
    for b in made:
        b.close()


def browser_for(browsers, srv, ep, proto="wss", stack="jssip",
                password=None):
    return browsers(stack=stack,
                    ws_url="%s://127.0.0.1:%d" % (proto, srv.port_of(proto)),
                    uri="sip:%s@%s" % (ep.username, ep.domain),
                    username=ep.username,
                    password=password or ep.password)


def expected_ua(b, stack):
    """The User-Agent the page's library sends, from the version it
    reports (JsSIP: "JsSIP 3.11.1", SIP.js: "SIP.js/0.21.1")."""
    if stack == "jssip":
        return "JsSIP %s" % b.ready["jssip"]
    return "SIP.js/%s" % b.ready["sipjs"]


def check_binding(ep_body, proto, ua):
    regs = ep_body["sip_registrations"]
    assert len(regs) == 1, ep_body
    r = regs[0]
    assert r["transport"] == proto.upper(), r
    assert r["user_agent"] == ua, r
    assert ep_body["sip_user_agent"] == ua, ep_body
    # RFC 7118 clients cannot be reached at their Contact (an .invalid
    # host): sipward reaches them over their connection instead
    assert ".invalid" in r["contact"] and "transport=ws" in \
        r["contact"].lower(), r
    assert re.fullmatch(r"127\.0\.0\.1:\d+", r["received"]), r
    assert TS_RE.match(r["expires"]), r


@pytest.mark.parametrize("proto", ["wss", "ws"])
def test_jssip_registers_and_unregisters(ws_server, browsers, proto):
    ep = ws_server.endpoint()
    b = browser_for(browsers, ws_server, ep, proto)
    b.register()
    body = ep.wait_registered("true")
    check_binding(body, proto, expected_ua(b, "jssip"))
    assert " " in body["sip_user_agent"]  # "JsSIP 3.x.y", space and all
    b.unregister()
    body = ep.wait_registered("false")
    assert body["sip_registrations"] == [], body


@pytest.mark.parametrize("how", ["quit", "close_ws"])
@pytest.mark.parametrize("proto", ["wss", "ws"])
def test_closed_websocket_ends_registration(ws_server, browsers, proto, how):
    """No un-REGISTER: the browser quits (Chromium closes every socket) or
    the page closes its WebSocket; the binding goes with the connection."""
    ep = ws_server.endpoint()
    b = browser_for(browsers, ws_server, ep, proto)
    b.register()
    ep.wait_registered("true")
    if how == "quit":
        assert b.close() == 0
    else:
        b.command("close_ws")
        b.wait_event("disconnected")
    body = ep.wait_registered("false", timeout=CLOSE_SEEN)
    assert body["sip_registrations"] == [], body
    if how == "close_ws":
        # JsSIP reports itself unregistered when its socket closes, with no
        # response: it sent no un-REGISTER (its log of what it sent says so)
        e = b.find("unregistered")
        assert e is None or e["status"] is None, b.diagnostics()
        sent = b.stderr_path.read_text(errors="replace")
        assert "REGISTER sip:" in sent and "Expires: 0" not in sent, sent


@pytest.mark.parametrize("stack", ["jssip", "sipjs"])
def test_wrong_password_fails_registration(ws_server, browsers, stack):
    ep = ws_server.endpoint()
    b = browser_for(browsers, ws_server, ep, "wss", stack=stack,
                    password=pw())
    e = b.register(expect=False)
    assert e["status"] in (401, 403), e
    if stack == "jssip":
        assert e["cause"] == "Authentication Error", e
    body = ep.get()
    assert body["sip_registered"] == "false", body
    assert body["sip_registrations"] == [], body


def test_sipjs_registers_and_unregisters_over_wss(ws_server, browsers):
    ep = ws_server.endpoint()
    b = browser_for(browsers, ws_server, ep, "wss", stack="sipjs")
    b.register()
    body = ep.wait_registered("true")
    check_binding(body, "wss", expected_ua(b, "sipjs"))
    b.unregister()
    body = ep.wait_registered("false")
    assert body["sip_registrations"] == [], body


def test_two_browsers_one_endpoint(ws_server, browsers):
    """Two browsers of one endpoint (WS and WSS): two bindings; one
    closing leaves the other's."""
    ep = ws_server.endpoint()
    a = browser_for(browsers, ws_server, ep, "wss")
    z = browser_for(browsers, ws_server, ep, "ws")
    a.register()
    z.register()

    def two():
        body = ep.get()
        return body if len(body["sip_registrations"]) == 2 else None
    body = wait_until(two, 10, "two bindings")
    assert sorted(r["transport"] for r in body["sip_registrations"]) == \
        ["WS", "WSS"], body
    a.close()

    def only_ws():
        body = ep.get()
        return body if [r["transport"] for r in
                        body["sip_registrations"]] == ["WS"] else None
    body = wait_until(only_ws, CLOSE_SEEN, "only the WS binding left")
    assert body["sip_registered"] == "true", body


@pytest.mark.parametrize("algs", ["MD5,SHA-256", "SHA-256,MD5"])
@pytest.mark.parametrize("stack", ["jssip", "sipjs"])
def test_digest_challenge_order(tmp_path_factory, cert, browsers, stack,
                                algs):
    """Both challenges offered, in either configured order: the browser
    registers (over WebSocket MD5 is always the last challenge, the one
    browsers read)."""
    srv = start_ws_server(tmp_path_factory, cert, "webrtc_algs",
                          {"SIPWARD_SIP_DIGEST_ALGORITHMS": algs})
    try:
        ep = srv.endpoint()
        b = browser_for(browsers, srv, ep, "wss", stack=stack)
        b.register()
        ep.wait_registered("true")
    finally:
        srv.stop()


# --------------------------------------------------------------------------
# a call with media: browser -> sipward -> baresip, rtpengine in between

@pytest.fixture(scope="module")
def rtp(tmp_path_factory):
    from rtpengine import Rtpengine
    # no delete delay: `list` shows a deleted session gone at once
    r = Rtpengine(tmp_path_factory.mktemp("rtpengine"),
                  extra_args=["--delete-delay=0"]).start()
    yield r
    r.stop()


@pytest.fixture(scope="module")
def media_server(tmp_path_factory, cert, rtp):
    # baresip 1.0.0 gives up when any challenge is not MD5 (over UDP both
    # are offered): this server offers MD5 alone
    env = {"SIPWARD_SIP_DIGEST_ALGORITHMS": "MD5"}
    env.update({"SIPWARD_WEBHOOK_ALLOW_PRIVATE": "true",
                "SIPWARD_RTPENGINE_NG": rtp.ng})
    srv = start_ws_server(tmp_path_factory, cert, "webrtc_media", env)
    yield srv
    srv.stop()


@pytest.fixture
def app():
    from test_calls_app import App
    a = App()
    yield a
    a.close()


def test_jssip_calls_baresip_through_rtpengine(media_server, rtp, app,
                                               browsers, sip_procs,
                                               tmp_path):
    """alice's page (JsSIP over WSS, fake microphone playing a 697 Hz tone)
    calls; her application dials bob, a baresip phone on UDP that answers
    by itself and plays 1209 Hz. Audio flows both ways through rtpengine:
    the page counts RTP in and out and decodes sound (getStats), bob's
    baresip receives RTP from rtpengine and what it decoded is alice's
    tone. The page hangs up: bob gets the BYE, rtpengine's session goes."""
    from test_calls_app import dial_user, new_app
    from test_calls_clients import start_baresip, tone_seconds, write_tone
    srv = media_server
    api = srv.api()
    bob = srv.endpoint(api)
    b_wav, a_wav = tmp_path / "bob.wav", tmp_path / "alice.wav"
    write_tone(b_wav, 1209, 30.0)
    write_tone(a_wav, 697, 5.0, rate=48000)  # Chromium loops it
    pb = start_baresip(sip_procs, tmp_path, srv, bob, "bob", b_wav, "udp",
                       answer=True)
    bob.wait_registered("true", timeout=20)
    app.xml("/answer", dial_user(bob.username, bob.domain))
    alice = Endpoint(srv, api, uname("w"), pw())
    alice.id = api.create_endpoint(
        alice.username, alice.password,
        application=new_app(api, app))["endpoint_id"]
    b = browsers(stack="jssip",
                 ws_url="wss://127.0.0.1:%d" % srv.port_of("wss"),
                 uri="sip:%s@%s" % (alice.username, alice.domain),
                 username=alice.username, password=alice.password,
                 fake_audio_file=str(a_wav))
    b.register()

    def logs():
        return "---- bob (baresip):\n%s\n---- rtpengine:\n%s" % (
            pb.output()[-4000:], rtp.log[-3000:])
    try:
        m = b.call("sip:%s@%s" % (bob.username, bob.domain))
        b.wait_event("confirmed", 30, since=m, fail_on=("error", "ended"))
        wait_until(lambda: "Call established" in pb.output(), 20,
                   "bob's baresip in the call")
        # at least 2 s of 20 ms packets each way, and sound decoded
        last = {}

        def flowed():
            s = last["s"] = b.stats()
            return (s["inbound_packets"] >= 100 and
                    s["outbound_packets"] >= 100 and
                    s.get("inbound_audio_energy", 0) > 0)
        try:
            wait_until(flowed, 30, "2 s of audio both ways in the page",
                       step=0.5)
        except AssertionError as e:
            raise AssertionError("%s; last stats %s" % (e, last.get("s")))
        s = last["s"]
        assert s["connection_state"] == "connected", s
        # the page's media went to rtpengine (127.0.0.1), not to bob
        assert s["remote"].startswith("127.0.0.1:"), s
        port = int(s["remote"].rsplit(":", 1)[1])
        assert rtp.port_min <= port <= rtp.port_max, (s, rtp.port_min)
        out = pb.output()
        assert "incoming rtp for 'audio' established, receiving from " \
            "127.0.0.1:" in out
        call_ids = rtp.request({"command": "list"}).get("calls", [])
        assert len(call_ids) == 1, call_ids
        m = b.hangup()
        b.wait_event("ended", 15, since=m)
        wait_until(lambda: "terminated" in pb.output(), 15,
                   "bob's baresip got the BYE")
        wait_until(lambda: not rtp.request({"command": "list"}).get(
            "calls"), 10, "rtpengine's session deleted")
        # what bob decoded is alice's microphone: her tone
        dec = list(pb.dumps.glob("dump-*-dec.wav"))
        assert len(dec) == 1, dec
        secs, tone = tone_seconds(dec[0], 697)
        assert tone >= 1.0, "bob decoded %.2f s of audio, %.2f s of it " \
            "alice's 697 Hz tone" % (secs, tone)
    except AssertionError as e:
        raise AssertionError("%s\n%s\n%s" % (e, b.diagnostics(),
                                              logs())) from None


def test_baresip_calls_jssip_through_rtpengine(media_server, rtp, browsers,
                                               sip_procs, tmp_path):
    """The other way: bob (baresip, UDP, no application) dials alice, whose
    page is registered over WSS; sipward reaches the page over its
    WebSocket (her Contact is an .invalid host), the page answers, audio
    flows both ways through rtpengine, and when bob's 6 s file ends he
    hangs up: the BYE reaches the page."""
    from test_calls_clients import start_baresip, tone_seconds, write_tone
    srv = media_server
    api = srv.api()
    alice, bob = srv.endpoint(api), srv.endpoint(api)
    b_wav, a_wav = tmp_path / "bob.wav", tmp_path / "alice.wav"
    write_tone(b_wav, 1209, 6.0)
    write_tone(a_wav, 697, 5.0, rate=48000)
    b = browsers(stack="jssip",
                 ws_url="wss://127.0.0.1:%d" % srv.port_of("wss"),
                 uri="sip:%s@%s" % (alice.username, alice.domain),
                 username=alice.username, password=alice.password,
                 fake_audio_file=str(a_wav))
    b.register()
    alice.wait_registered("true")
    pb = start_baresip(sip_procs, tmp_path, srv, bob, "bob", b_wav, "udp",
                       commands=["/dial sip:%s@%s" % (alice.username,
                                                      alice.domain)])
    try:
        inc = b.wait_event("incoming", 20)
        assert inc["from"] == "sip:%s@%s" % (bob.username, bob.domain), inc
        m = b.answer()
        b.wait_event("confirmed", 20, since=m, fail_on=("error", "ended"))
        wait_until(lambda: "Call established" in pb.output(), 20,
                   "bob's baresip in the call")
        last = {}

        def flowed():
            s = last["s"] = b.stats()
            return (s["inbound_packets"] >= 100 and
                    s["outbound_packets"] >= 100 and
                    s.get("inbound_audio_energy", 0) > 0)
        try:
            wait_until(flowed, 20, "2 s of audio both ways in the page",
                       step=0.5)
        except AssertionError as e:
            raise AssertionError("%s; last stats %s" % (e, last.get("s")))
        assert last["s"]["remote"].startswith("127.0.0.1:"), last["s"]
        # bob's file ends: he hangs up, the page gets the BYE
        ended = b.wait_event("ended", 20, since=m)
        assert ended["originator"] == "remote" and not ended.get("failed"), \
            ended
        wait_until(lambda: not rtp.request({"command": "list"}).get(
            "calls"), 10, "rtpengine's session deleted")
        wait_until(lambda: "terminated" in pb.output(), 15,
                   "bob's baresip ended the call")
        dec = list(pb.dumps.glob("dump-*-dec.wav"))
        assert len(dec) == 1, dec
        secs, tone = tone_seconds(dec[0], 697)
        assert tone >= 1.0, "bob decoded %.2f s of audio, %.2f s of it " \
            "alice's 697 Hz tone" % (secs, tone)
    except AssertionError as e:
        raise AssertionError("%s\n%s\n---- bob (baresip):\n%s" % (
            e, b.diagnostics(), pb.output()[-4000:])) from None
