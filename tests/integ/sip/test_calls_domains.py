"""Calls to other domains (calls contract "Where the call goes": "a SIP
request to the other domain (RFC 3263 host and port)"): a DNS server of the
test's own on 127.0.0.1 (dnslib) serves NAPTR, SRV and A records of made-up
domains that point at fake SIP servers on 127.0.0.1, and sipward is told to
ask it (dns_servers). The DNS server counts the queries it gets, so tests
can tell that no lookup was made."""

import re
import socket
import threading
import uuid

import pytest
from dnslib import NAPTR, QTYPE, RCODE, RR, SRV, A
from dnslib.server import DNSLogger, DNSServer

from conftest import pw, uname, wait_until
from sipphone import SDP_AUDIO, Phone, UdpPeer
from sip_conftest import start_sip_server


class Zone:
    """A DNS resolver for dnslib: answers from self.rr, NXDOMAIN for names
    that hold no record and have none below them (RFC 8020)."""

    def __init__(self):
        self.rr = {}  # (name, "A"|"SRV"|"NAPTR") -> [rdata]
        self.queries = []  # (name, type) as asked
        self.lock = threading.Lock()

    def add(self, name, rdata):
        kind = type(rdata).__name__
        with self.lock:
            self.rr.setdefault((name.lower(), kind), []).append(rdata)

    def asked(self, suffix):
        with self.lock:
            return [q for q in self.queries if q[0].endswith(suffix)]

    def resolve(self, request, handler):
        name = str(request.q.qname).rstrip(".").lower()
        kind = QTYPE[request.q.qtype]
        with self.lock:
            self.queries.append((name, kind))
            exists = any(n == name or n.endswith("." + name)
                         for n, _ in self.rr)
            found = list(self.rr.get((name, kind), []))
        reply = request.reply()
        if not exists:
            reply.header.rcode = RCODE.NXDOMAIN
        for rd in found:
            reply.add_answer(RR(name, getattr(QTYPE, kind), rdata=rd,
                                ttl=60))
        return reply


class FarServer(UdpPeer):
    """A UDP SIP server of another domain: answers INVITEs with `final`
    (after a 180; 180: rings for ever), everything else with 200."""

    def __init__(self, final=200):
        self.final = final
        super().__init__("far1")

    def handle(self, m, addr):
        if m.method != "INVITE":
            self.reply(m, addr, 200, "OK")
            return
        if self.final == 180:  # rings for ever
            self.reply(m, addr, 180, "Ringing")
            return
        if self.final != 200:
            self.reply(m, addr, self.final, "Go Away")
            return
        self.reply(m, addr, 180, "Ringing")
        self.reply(m, addr, 200, "OK",
                   [("Contact", "<sip:far@127.0.0.1:%d>" % self.port)],
                   sdp=SDP_AUDIO % 61000)

    def bye(self, inv):
        """Hangs up the call that INVITE inv set up (to sipward)."""
        frm = inv.get("From")
        to = inv.get("To") + ";tag=far1"
        target = re.search(r"<([^>]*)>", inv.get("Contact")).group(1)
        h = [("Via", "SIP/2.0/UDP 127.0.0.1:%d;branch=z9hG4bK%s;rport" % (
                self.port, uuid.uuid4().hex)),
             ("Max-Forwards", "70"), ("From", to), ("To", frm),
             ("Call-ID", inv.call_id), ("CSeq", "7 BYE"),
             ("Content-Length", "0")]
        data = "BYE %s SIP/2.0\r\n" % target
        data += "".join("%s: %s\r\n" % kv for kv in h) + "\r\n"
        self.s.sendto(data.encode(), self.peer)


@pytest.fixture(scope="module")
def dns():
    z = Zone()
    srv = DNSServer(z, address="127.0.0.1", port=0,
                    logger=DNSLogger(logf=lambda s: None))
    srv.start_thread()
    z.port = srv.server.server_address[1]
    yield z
    srv.stop()
    srv.server.server_close()


@pytest.fixture(scope="module")
def sw(dns, tmp_path_factory):
    srv = start_sip_server(tmp_path_factory.mktemp("domains"), env={
        "SIPWARD_DNS_SERVERS": "127.0.0.1:%d" % dns.port,
        "SIPWARD_DNS_TIMEOUT": "3",
        # The far servers of these tests are on 127.0.0.1.
        "SIPWARD_SIP_ALLOW_PRIVATE_DOMAINS": "true"})
    yield srv
    srv.stop()


@pytest.fixture
def far():
    made = []

    def make(final=200):
        f = FarServer(final)
        made.append(f)
        return f
    yield make
    for f in made:
        f.close()


def caller(sw, other=True):
    api = sw.api()
    u, p = uname("d"), pw()
    api.create_endpoint(u, p, allow_other_domains=other)
    ph = Phone(sw, u, p, api.domain or "localhost")
    ph.register()
    return ph


def domain():
    return "far%s.test" % uuid.uuid4().hex[:8]


def connect(ph, f, ruri):
    """Dials ruri from phone ph; the call must reach f and be answered."""
    d = ph.call(None, ruri=ruri)
    assert ph.wait_response("INVITE", 180).status == 180
    ok = ph.wait_response("INVITE", 200)
    assert ok.body.decode() == SDP_AUDIO % 61000
    ph.answered(d, ok)
    wait_until(lambda: f.requests("ACK"), 10, "ACK at the far server")
    return d


def test_naptr_srv_a_call_both_hangups(sw, dns, far):
    f = far()
    dom = domain()
    # The NAPTR names an SRV name of its own (not _sip._udp.DOMAIN), and
    # one for TLS, which sipward does not do, comes first.
    dns.add(dom, NAPTR(10, 50, b"s", b"SIP+D2U", b"",
                       "_sip._udp.edge." + dom))
    dns.add(dom, NAPTR(5, 50, b"s", b"SIPS+D2T", b"", "_sips._tcp." + dom))
    dns.add("_sip._udp.edge." + dom, SRV(10, 10, f.port, "sip1." + dom))
    dns.add("sip1." + dom, A("127.0.0.1"))
    alice = caller(sw)
    try:
        ruri = "sip:bob@%s" % dom
        d = connect(alice, f, ruri)
        inv = f.requests("INVITE")[0]
        assert inv.ruri == ruri
        assert re.search(r"<([^>]*)>", inv.get("To")).group(1) == ruri
        assert alice.user in inv.get("From")
        assert int(inv.get("Max-Forwards")) == 69
        # RFC 3263: NAPTR, then the SRV it names, then the SRV target.
        assert dns.asked(dom) == [(dom, "NAPTR"),
                                  ("_sip._udp.edge." + dom, "SRV"),
                                  ("sip1." + dom, "A")]
        # The caller hangs up.
        assert alice.bye(d).status == 200
        wait_until(lambda: f.requests("BYE"), 10, "BYE at the far server")
        # Again, and the far side hangs up.
        f.got.clear()
        connect(alice, f, ruri)
        f.bye(f.requests("INVITE")[0])
        bye = alice.wait_request("BYE")
        alice.respond(bye, 200, "OK")
        wait_until(lambda: [m for m in f.got if not m.is_request and
                            m.cseq[1] == "BYE" and m.status == 200], 10,
                   "200 for the far server's BYE")
    finally:
        alice.close()


def test_srv_order_and_failover(sw, dns, far):
    first, second, last = far(final=503), far(), far()
    dom = domain()
    # No NAPTR: SRV straight away; priority 10 before 20 before 30.
    dns.add("_sip._udp." + dom, SRV(30, 0, last.port, "c." + dom))
    dns.add("_sip._udp." + dom, SRV(10, 5, first.port, "a." + dom))
    dns.add("_sip._udp." + dom, SRV(20, 5, second.port, "b." + dom))
    for h in "abc":
        dns.add("%s.%s" % (h, dom), A("127.0.0.1"))
    alice = caller(sw)
    try:
        d = connect(alice, second, "sip:carol@%s" % dom)
        assert len(first.requests("INVITE")) == 1
        # the 503 was ACKed (sent before the INVITE to `second`, but
        # `first` reads it on its own thread)
        wait_until(lambda: first.requests("ACK"), 10, "the 503's ACK")
        assert not last.got
        assert alice.bye(d).status == 200
    finally:
        alice.close()


def test_name_with_port_is_an_a_lookup(sw, dns, far):
    f = far()
    dom = domain()
    dns.add("pbx." + dom, A("127.0.0.1"))
    alice = caller(sw)
    try:
        ruri = "sip:dave@pbx.%s:%d" % (dom, f.port)
        d = connect(alice, f, ruri)
        assert f.requests("INVITE")[0].ruri == ruri
        assert dns.asked(dom) == [("pbx." + dom, "A")]
        assert alice.bye(d).status == 200
    finally:
        alice.close()


def test_numeric_host_needs_no_dns(sw, dns, far):
    f = far()
    alice = caller(sw)
    n = len(dns.queries)
    try:
        ruri = "sip:erin@127.0.0.1:%d" % f.port
        d = connect(alice, f, ruri)
        assert f.requests("INVITE")[0].ruri == ruri
        assert alice.bye(d).status == 200
        assert len(dns.queries) == n
    finally:
        alice.close()


def test_unknown_domain_404(sw, dns):
    dom = domain()
    alice = caller(sw)
    try:
        alice.call(None, ruri="sip:frank@%s" % dom)
        r = alice.wait_response("INVITE", final=True)
        assert r.status == 404 and "Domain not found" in r.reason
        assert dns.asked(dom) == [(dom, "NAPTR")]  # NXDOMAIN: nothing else
        # A domain that exists but has no SIP server nor address: 404 too.
        dns.add("www." + dom, A("127.0.0.1"))
        alice.call(None, ruri="sip:frank@%s" % dom)
        r = alice.wait_response("INVITE", final=True)
        assert r.status == 404
        assert [t for _, t in dns.asked(dom)][1:] == ["NAPTR", "SRV", "A"]
    finally:
        alice.close()


def test_flag_false_403_without_lookup(sw, dns):
    dom = domain()
    dns.add(dom, A("127.0.0.1"))
    alice = caller(sw, other=False)
    try:
        alice.call(None, ruri="sip:gina@%s" % dom)
        r = alice.wait_response("INVITE", final=True)
        assert r.status == 403 and "allow_other_domains" in r.reason
        assert dns.asked(dom) == []
    finally:
        alice.close()


def test_refused_uris(sw, dns):
    alice = caller(sw)
    n = len(dns.queries)
    try:
        alice.call(None, ruri="sip:hal@%s;transport=tcp" % domain())
        r = alice.wait_response("INVITE", final=True)
        assert r.status == 503 and "UDP" in r.reason
        alice.call(None, ruri="sip:hal@bad_host.test")
        assert alice.wait_response("INVITE", final=True).status == 400
        assert len(dns.queries) == n
    finally:
        alice.close()


def test_dns_silent_503(tmp_path):
    # A DNS server that never answers: 503 after dns_timeout.
    mute = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    mute.bind(("127.0.0.1", 0))
    srv = start_sip_server(tmp_path / "mute", env={
        "SIPWARD_DNS_SERVERS": "127.0.0.1:%d" % mute.getsockname()[1],
        "SIPWARD_DNS_TIMEOUT": "1"})
    try:
        alice = caller(srv)
        try:
            alice.call(None, ruri="sip:ivan@%s" % domain())
            r = alice.wait_response("INVITE", final=True, timeout=15)
            assert r.status == 503 and "DNS" in r.reason
        finally:
            alice.close()
    finally:
        srv.stop()
        mute.close()


def test_ring_timeout_cancels_the_far_leg(tmp_path, far):
    # A far server that rings for ever: ring_timeout ends the call (480)
    # and CANCELs the far leg, as for a call between endpoints.
    f = far(final=180)
    srv = start_sip_server(tmp_path / "ring", env={
        "SIPWARD_RING_TIMEOUT": "2",
        "SIPWARD_SIP_ALLOW_PRIVATE_DOMAINS": "true"})
    try:
        alice = caller(srv)
        try:
            alice.call(None, ruri="sip:ruth@127.0.0.1:%d" % f.port)
            r = alice.wait_response("INVITE", final=True, timeout=20)
            assert r.status == 480
            wait_until(lambda: f.requests("CANCEL"), 10,
                       "CANCEL at the far server")
        finally:
            alice.close()
    finally:
        srv.stop()


def test_private_addresses_refused_by_default(tmp_path, dns, far):
    # Without sip_allow_private_domains, neither a numeric private host nor
    # a domain whose records point into a private network is reached: 403,
    # and the server there never hears of the call.
    f = far()
    dom = domain()
    dns.add(dom, A("127.0.0.1"))
    dns.add("_sip._udp." + dom, SRV(10, 10, f.port, dom))
    srv = start_sip_server(tmp_path / "private", env={
        "SIPWARD_DNS_SERVERS": "127.0.0.1:%d" % dns.port})
    try:
        alice = caller(srv)
        try:
            for ruri in ("sip:pat@127.0.0.1:%d" % f.port, "sip:pat@" + dom):
                alice.call(None, ruri=ruri)
                r = alice.wait_response("INVITE", final=True, timeout=15)
                assert r.status == 403 and "Private" in r.reason, ruri
            assert dns.asked(dom), "the domain was looked up"
            assert not f.got
        finally:
            alice.close()
    finally:
        srv.stop()
