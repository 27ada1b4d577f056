"""A slow or locked store never freezes SIP (issue 8): with the store's write
lock held by another process, OPTIONS, challenges and retransmissions are
answered at once, a REGISTER that needs the store gets 503 + Retry-After
after store_timeout, a full worker queue gets 503 at once, a failed sweep of
expired bindings is logged, and everything recovers when the lock goes.

"At once" is asserted as "within the client's normal receive timeout"
(QUICK), far below what a blocked transport took before (about 100 s)."""

import re

import pytest

from sip_conftest import StoreLock, wait_until
from sipclient import build_request, new_branch, new_callid, new_tag

QUICK = 2.0  # seconds: an answer that needed no store work


def options(c):
    return build_request("OPTIONS", "sip:%s" % c.server_hostport, [
        ("Via", "SIP/2.0/%s %s;branch=%s;rport" % (
            c.transport, c.local_hostport, new_branch())),
        ("Max-Forwards", "70"),
        ("From", "<sip:probe@localhost>;tag=%s" % new_tag()),
        ("To", "<sip:probe@localhost>"),
        ("Call-ID", new_callid()),
        ("CSeq", "1 OPTIONS")])


def check_503(r):
    assert r.status == 503, "expected 503, got %r\n%s" % (
        r, r.raw.decode("latin-1"))
    ra = r.get("Retry-After")
    assert ra and ra.isdigit() and int(ra) >= 1, \
        "503 without a usable Retry-After: %r" % ra


@pytest.mark.parametrize("proto", ["udp", "tcp"])
def test_locked_store_never_freezes_sip(sip_make_server, proto):
    # One worker: jobs finish in order, so once a later REGISTER is
    # answered, every earlier job has been answered too.
    srv = sip_make_server(env={"SIPWARD_STORE_TIMEOUT": "1",
                               "SIPWARD_SIP_SWEEP_INTERVAL": "1",
                               "SIPWARD_SIP_WORKERS": "1"})
    ep = srv.endpoint()
    ua = ep.ua(proto)
    probe = srv.conn(proto, timeout=QUICK)
    with ua.c, probe:
        ua.register_ok(expires=3600)
        nonce_before = ua.nonce
        with StoreLock(srv):
            # No store work: answered at once.
            assert probe.request(options(probe)).status == 200
            fresh = ep.ua(proto, conn=srv.conn(proto, timeout=QUICK))
            with fresh.c:
                fresh.challenge()  # asserts a 401 with a challenge
            # Store work: a worker waits store_timeout, then 503.
            req = ua.register_bytes(expires=3600, auth=ua.auth_header())
            ua.c.send(req)
            # Meanwhile the transport still answers, and a retransmission
            # of the REGISTER in the worker is absorbed (not queued again).
            assert probe.request(options(probe)).status == 200
            if proto == "udp":
                ua.c.send(req)
            r = ua.c.recv(timeout=15)
            check_503(r)
            if proto == "udp":
                # A retransmission after the answer gets the same answer.
                ua.c.send(req)
                assert ua.c.recv(timeout=QUICK).raw == r.raw
            # The sweep cannot run either, and says so.
            srv.wait_log(r"event=sip_bindings_sweep_failed error=", 1,
                         timeout=15)
        # The lock is gone: the same phone registers again by itself.
        assert ua.nonce == nonce_before
        r = ua.register(expires=3600)
        assert r.status == 200, r.raw
        ep.wait_registered("true")
        # The retransmission sent while the REGISTER was in the worker was
        # absorbed, not queued as a second job: one 503 went to the phone.
        assert len(srv.log_lines(r"event=sip_unavailable src=%s\b"
                                 % re.escape(ua.c.local_hostport))) == 1


def test_full_worker_queue_is_503_at_once(sip_make_server):
    srv = sip_make_server(env={"SIPWARD_STORE_TIMEOUT": "8",
                               "SIPWARD_SIP_WORKERS": "1",
                               "SIPWARD_SIP_QUEUE_MAX": "1"})
    eps = [srv.endpoint() for _ in range(3)]
    uas = [ep.ua(conn=srv.conn(timeout=QUICK)) for ep in eps]
    try:
        for ua in uas:
            ua.challenge()
        with StoreLock(srv):
            for ua in uas:
                ua.c.send(ua.register_bytes(auth=ua.auth_header()))
            # One worker and a queue of one hold two of them for the 8 s
            # store_timeout; the third (at least) is refused at once.
            quick = []
            for ua in uas:
                try:
                    quick.append(ua.c.recv(timeout=QUICK))
                except AssertionError:
                    pass
            assert quick, "no REGISTER was refused at once"
            for r in quick:
                check_503(r)
            assert len(quick) <= 2, "the queue held none: %r" % quick
        # a worker's queue (PostgreSQL), the writer thread's (SQLite)
        srv.wait_log(r"event=sip_store_unavailable "
                     r".*(worker|store) queue full")
    finally:
        for ua in uas:
            ua.c.close()
