"""Calls to phone numbers leave through sip_gateway (calls contract "Where
the call goes"): a fake carrier on 127.0.0.1 challenges sipward's INVITE
with a digest (407), checks the credentials sipward answers with, and
answers the call."""

import hashlib
import re

import pytest

from conftest import pw, uname, wait_until
from sipphone import SDP_AUDIO, Phone, UdpPeer

GW_USER, GW_PASS, GW_REALM = "trunk1", "carrier-secret-1", "carrier.test"


class Carrier(UdpPeer):
    """A carrier: challenges INVITEs, then answers them as its script says."""

    def __init__(self, challenge=True, final=200):
        self.challenge, self.final = challenge, final
        self.auth_ok = None
        super().__init__("gw1")

    def check(self, m):
        v = m.get("Proxy-Authorization") or ""
        p = dict(re.findall(r'(\w+)="?([^",]*)"?', v))
        ha1 = hashlib.md5(("%s:%s:%s" % (p.get("username"), GW_REALM,
                                         GW_PASS)).encode()).hexdigest()
        ha2 = hashlib.md5(("INVITE:%s" % p.get("uri")).encode()).hexdigest()
        want = hashlib.md5(("%s:%s:%s:%s:%s:%s" % (
            ha1, p.get("nonce"), p.get("nc"), p.get("cnonce"), p.get("qop"),
            ha2)).encode()).hexdigest()
        return (p.get("username") == GW_USER and p.get("realm") == GW_REALM
                and p.get("nonce") == "n0nce" and p.get("uri") ==
                m.ruri and p.get("response") == want)

    def handle(self, m, addr):
        if m.method != "INVITE":
            self.reply(m, addr, 200, "OK")
            return
        if self.challenge and not m.get("Proxy-Authorization"):
            self.reply(m, addr, 407, "Proxy Authentication Required",
                       [("Proxy-Authenticate",
                         'Digest realm="%s", nonce="n0nce", '
                         'qop="auth", algorithm=MD5' % GW_REALM)])
            return
        self.auth_ok = self.check(m) if self.challenge else True
        if not self.auth_ok:
            self.reply(m, addr, 403, "Forbidden")
            return
        self.reply(m, addr, 180, "Ringing")
        if self.final == 200:
            self.reply(m, addr, 200, "OK",
                       [("Contact", "<sip:gw@127.0.0.1:%d>" % self.port)],
                       sdp=SDP_AUDIO % 60000)
        else:
            self.reply(m, addr, self.final, "Busy Here")


@pytest.fixture
def carrier():
    c = Carrier()
    yield c
    c.close()


def gw_env(carrier):
    return {"SIPWARD_SIP_GATEWAY": "sip:127.0.0.1:%d" % carrier.port,
            "SIPWARD_SIP_GATEWAY_USERNAME": GW_USER,
            "SIPWARD_SIP_GATEWAY_PASSWORD": GW_PASS}


def test_number_through_gateway_with_digest(sip_make_server, carrier):
    srv = sip_make_server(env=gw_env(carrier))
    api = srv.api()
    u, p = uname("g"), pw()
    api.create_endpoint(u, p)
    alice = Phone(srv, u, p, api.domain or "localhost")
    try:
        alice.register()
        d = alice.call("+14155550100")
        ok = alice.wait_response("INVITE", 200)
        assert ok.body.decode() == SDP_AUDIO % 60000
        invs = carrier.requests("INVITE")
        assert len(invs) == 2 and carrier.auth_ok is True
        assert invs[0].ruri == "sip:+14155550100@127.0.0.1:%d" % carrier.port
        assert invs[1].cseq[0] == invs[0].cseq[0] + 1
        assert invs[1].call_id == invs[0].call_id
        from test_calls_app import caller_dialog
        dlg = caller_dialog(alice, ok)
        assert d.call_id == dlg.call_id
        assert alice.bye(dlg).status == 200
        wait_until(lambda: carrier.requests("BYE"), 10, "BYE at the carrier")
        # The password never reaches the log.
        assert GW_PASS not in srv.log_text()
    finally:
        alice.close()


def test_phones_flag_checked_before_gateway(sip_make_server):
    srv = sip_make_server()
    api = srv.api()
    u, p = uname("g"), pw()
    api.create_endpoint(u, p, allow_phones=False)
    v, q = uname("g"), pw()
    api.create_endpoint(v, q)
    alice = Phone(srv, u, p, api.domain or "localhost")
    bob = Phone(srv, v, q, api.domain or "localhost")
    try:
        alice.register()
        bob.register()
        alice.call("14155550100")
        r = alice.wait_response("INVITE", final=True)
        assert r.status == 403 and "allow_phones" in r.reason
        # Without a gateway: 404 saying so.
        bob.call("14155550100")
        r = bob.wait_response("INVITE", final=True)
        assert r.status == 404 and "sip_gateway" in r.reason
    finally:
        alice.close()
        bob.close()


def test_gateway_busy_reaches_caller(sip_make_server):
    c = Carrier(challenge=False, final=486)
    try:
        srv = sip_make_server(env={"SIPWARD_SIP_GATEWAY":
                                   "sip:127.0.0.1:%d" % c.port})
        api = srv.api()
        u, p = uname("g"), pw()
        api.create_endpoint(u, p)
        alice = Phone(srv, u, p, api.domain or "localhost")
        try:
            alice.register()
            alice.call("14155550100")
            assert alice.wait_response("INVITE", final=True).status == 486
        finally:
            alice.close()
    finally:
        c.close()
