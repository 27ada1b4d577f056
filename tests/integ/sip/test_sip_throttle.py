"""Failure throttling that an attacker cannot turn against others, and
the challenge rate bound (issue 8).

A failed digest check counts only when the request presents a nonce that
sipward issued to that source address for that realm (nonces carry an HMAC
over both); failures are tracked per (address, user) with
sip_auth_fail_max and per address with the much higher
sip_auth_fail_addr_max. 401s to one address are capped per second
(sip_challenge_rate), so that sipward is no UDP reflector at volume."""

import time
import uuid

import pytest

from sip_conftest import forge_nonce, pw, wait_until
from sipclient import NoResponse, authorization
from test_sip_transport import options_bytes

ALT = "127.0.0.2"  # another source address (all of 127/8 is loopback)


def forged(ua, kind, i):
    """A REGISTER for ua's user that anyone could send from any address:
    no nonce of ours for this address."""
    if kind == "bad_nonce":
        nonce = uuid.uuid4().hex
    elif kind == "other_address":
        # A genuine nonce, issued to the attacker's own address.
        nonce = forge_nonce(time.time(), ip=ALT)
    elif kind == "other_realm":
        nonce = forge_nonce(time.time(), realm="example.org")
    else:
        nonce = forge_nonce(time.time())
    user = ua.user
    if kind == "user_mismatch":
        user = "someone-else"
    auth = authorization("MD5", ua.user, ua.domain, "guess-%d" % i,
                         "REGISTER", ua.ruri, nonce, username=user,
                         cnonce="" if kind == "empty_cnonce" else None)
    return ua.register_bytes(auth=auth)


def test_forged_failures_never_lock_out_a_good_phone(sip_make_server):
    srv = sip_make_server(env={"SIPWARD_SIP_AUTH_FAIL_MAX": 20,
                               "SIPWARD_SIP_AUTH_FAIL_ADDR_MAX": 30})
    ep = srv.endpoint()
    attacker = ep.ua("udp")
    kinds = ["bad_nonce", "other_address", "other_realm", "user_mismatch",
             "empty_cnonce"]
    with attacker.c:
        for i in range(25):
            for kind in kinds:
                r = attacker.c.request(forged(attacker, kind, i))
                assert r.status in (401, 403), r.raw
    assert not srv.log_lines(r"event=sip_source_ignored")
    # Each kind was refused for its reason.
    for reason in ("bad_nonce", "user_mismatch", "bad_parameters"):
        assert srv.log_lines(r"event=auth_failed .*reason=%s" % reason)
    # The phone on the same address registers.
    phone = ep.ua("udp")
    with phone.c:
        phone.register_ok()
    ep.wait_registered("true")


def test_wrong_passwords_throttle_that_user_only(sip_make_server):
    srv = sip_make_server(env={"SIPWARD_SIP_AUTH_FAIL_MAX": 20,
                               "SIPWARD_SIP_AUTH_FAIL_ADDR_MAX": 1000,
                               "SIPWARD_SIP_AUTH_FAIL_PENALTY": 60})
    a, b = srv.endpoint(), srv.endpoint()
    ua = a.ua("udp")
    with ua.c:
        ua.challenge()
        answered = 0
        for i in range(25):
            try:
                r = ua.c.request(ua.register_bytes(
                    auth=ua.auth_header(password="Wrong-%d-%s" % (i, pw()))),
                    timeout=1.0)
            except NoResponse:
                continue
            answered += 1
            ua.take_challenge(r)
        assert answered == 20, answered  # then silence
        srv.wait_log(r"event=sip_source_ignored src=127\.0\.0\.1 user=")
        # A's right password from there is not answered either...
        with pytest.raises(NoResponse):
            ua.c.request(ua.register_bytes(auth=ua.auth_header()),
                         timeout=1.0)
        # ... while OPTIONS is.
        assert ua.c.request(options_bytes(ua.c)).status == 200
    # B registers from the same address, and A from another one.
    ub = b.ua("udp")
    with ub.c:
        ub.register_ok()
    ua2 = a.ua("udp", source=ALT)
    with ua2.c:
        ua2.register_ok()
    a.wait_registered("true")
    b.wait_registered("true")


def test_per_address_limit_silences_the_address(sip_make_server):
    srv = sip_make_server(env={"SIPWARD_SIP_AUTH_FAIL_MAX": 1000,
                               "SIPWARD_SIP_AUTH_FAIL_ADDR_MAX": 6,
                               "SIPWARD_SIP_AUTH_FAIL_PENALTY": 2})
    eps = [srv.endpoint() for _ in range(3)]
    for ep in eps:
        ua = ep.ua("udp")
        with ua.c:
            ua.challenge()
            for i in range(2):
                r = ua.c.request(ua.register_bytes(
                    auth=ua.auth_header(password="Wrong-%d" % i)))
                assert r.status == 401, r.raw
                ua.take_challenge(r)
    srv.wait_log(r"event=sip_source_ignored src=127\.0\.0\.1 seconds=")
    good = srv.endpoint()
    ua = good.ua("udp")
    with ua.c:
        # Not even a challenge for a user that never failed.
        with pytest.raises(NoResponse):
            ua.c.request(ua.register_bytes(), timeout=1.0)
        assert ua.c.request(options_bytes(ua.c)).status == 200
    # Other addresses are not affected.
    other = good.ua("udp", source=ALT)
    with other.c:
        other.register_ok()

    # After the penalty, the address is answered again.
    def answered():
        ua = good.ua("udp")
        with ua.c:
            try:
                # Short: silence is the answer while the penalty lasts.
                r = ua.c.request(ua.register_bytes(), timeout=0.5)
            except NoResponse:
                return False
            ua.take_challenge(r)
            # The REGISTER itself may wait for a loaded store.
            return ua.register_ok()
    wait_until(answered, 15, "127.0.0.1 answered after its penalty")


def test_challenge_rate_per_address(sip_make_server):
    srv = sip_make_server(env={"SIPWARD_SIP_CHALLENGE_RATE": 5})
    ep = srv.endpoint()
    ua = ep.ua("udp")
    with ua.c:
        for _ in range(40):
            ua.c.send(ua.register_bytes())
        got = 0
        while True:
            try:
                r = ua.c.recv(timeout=1.0)
            except NoResponse:
                break
            assert r.status == 401, r.raw
            got += 1
        # 5 a second: the 40 sent in a burst fall in one or two seconds.
        assert 1 <= got <= 10, got
        # Anything else is still answered to this address.
        assert ua.c.request(options_bytes(ua.c)).status == 200
    # Another address gets its challenges.
    other = ep.ua("udp", source=ALT)
    with other.c:
        other.challenge()

    # The bound is per second: challenges come back.
    def challenged():
        u = ep.ua("udp", conn=srv.conn(timeout=0.5))
        with u.c:
            return u.challenge()
    wait_until(challenged, 10, "a challenge again after a second")


def test_nonce_from_another_address_or_realm_is_bad_nonce(sip_server, sip_ep):
    """A nonce is good only for the address and realm it was issued to."""
    alt = sip_ep.ua("udp", source=ALT)
    with alt.c:
        alt.challenge()
        stolen = alt.nonce
    ua = sip_ep.ua("udp")
    with ua.c:
        ua.challenge()
        ua.nonce = stolen
        r = ua.c.request(ua.register_bytes(auth=ua.auth_header()))
        assert r.status == 401 and "stale" not in r.raw.decode(), r.raw
        ua.nonce = forge_nonce(time.time(), realm="example.org")
        r = ua.c.request(ua.register_bytes(auth=ua.auth_header()))
        assert r.status == 401 and "stale" not in r.raw.decode(), r.raw
    lines = sip_server.wait_log(r'event=auth_failed user="?%s"? .*bad_nonce'
                                % sip_ep.username, 2)
    assert len(lines) >= 2
    assert sip_ep.get()["sip_registered"] == "false"


def test_empty_cnonce_is_refused(sip_server, sip_ep):
    ua = sip_ep.ua("udp")
    with ua.c:
        ua.challenge()
        r = ua.c.request(ua.register_bytes(auth=ua.auth_header(cnonce="")))
        assert r.status == 401, r.raw
    sip_server.wait_log(r'event=auth_failed user="?%s"? .*bad_parameters'
                        % sip_ep.username)
    assert sip_ep.get()["sip_registered"] == "false"


@pytest.mark.parametrize("uri,ok", [
    ("sip:{host}:{port}", True),           # a listen address (sipp)
    ("sip:{domain}", True),                # the realm
    ("sip:{domain}:{port}", True),
    ("sip:{host}:1", False),               # another port
    ("sip:192.0.2.1:{port}", False),       # not our address
    ("sip:other.example", False),          # not our domain
    ("http://{host}:{port}", False),       # not a SIP URI
])
def test_digest_uri_may_name_this_registrar(sip_server, sip_ep, uri, ok):
    """The digest uri may differ from the Request-URI when it names this
    registrar (its domain or listen address); the response is computed over
    the uri sent."""
    uri = uri.format(host="127.0.0.1", port=sip_server.sip_port,
                     domain=sip_ep.domain)
    ua = sip_ep.ua("udp")
    with ua.c:
        ua.challenge()
        r = ua.c.request(ua.register_bytes(auth=ua.auth_header(uri=uri)))
        assert r.status == (200 if ok else 401), r.raw
