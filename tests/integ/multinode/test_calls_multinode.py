"""Calls across nodes (issue 10, points 6 and 7): two sipward nodes on one
PostgreSQL database. A phone registered through node A is reached by a call
placed through node B (over UDP, straight from node B's address; over TCP
through node A, which holds the phone's connection: the binding's path and
node A's Record-Route), every node's API lists the live calls of every
node, and DELETE Call/{uuid}/ sent to the node that does not carry a call
hangs it up (the carrier polls for it).

The callee's phone uses an unconnected UDP socket (sipphone.Phone with
connect=False), as a real phone does: it takes requests from any address and
answers each to where it came from."""

import time

import pytest

from mnlib import (needs_pg, rest, run_threads, sipphone, wait_until,
                   mn_cluster)  # noqa: F401 (fixture)

pytestmark = needs_pg

Phone = sipphone.Phone
SDP_AUDIO = sipphone.SDP_AUDIO

ENV = {"SIPWARD_SECRET_KEY": "5e" * 32,  # the same server key on every node
       "SIPWARD_SIP_AUTH_FAIL_ADDR_MAX": 100000,
       "SIPWARD_SIP_CHALLENGE_RATE": 100000}

# Generous bounds for messages that should come at once: a failure here is
# a message that never came, not a slow one. The DELETE-to-BYE delay is
# measured and printed, never asserted against the contract's second.
MSG_TIMEOUT = 10.0
BYE_TIMEOUT = 10.0


@pytest.fixture
def two_nodes(mn_cluster):
    """(cluster, node A, node B, API of A, API of B): two nodes on one
    fresh database, sharing the nonce secret (mnlib) and the server key."""
    c = mn_cluster(2, env=ENV)
    na, nb = c.nodes
    return c, na, nb, na.api(), nb.api()


@pytest.fixture
def phones():
    """Factory: phones(node, api, proto="udp", connect=True, register=True)
    -> a new endpoint (made through api) with a phone whose requests go to
    node; closed at teardown."""
    made = []

    def make(node, api, proto="udp", connect=True, register=True, ep=None):
        if ep is None:
            u, p = rest.uname("c"), rest.pw()
            eid = api.create_endpoint(u, p)["endpoint_id"]
            ep = (u, p, eid)
        u, p, eid = ep
        ph = Phone(node, u, p, api.domain, proto=proto, connect=connect)
        ph.ep = ep
        ph.id = eid
        made.append(ph)
        if register:
            ph.register()
        return ph

    yield make
    for ph in made:
        ph.close()


def addr(node):
    return ("127.0.0.1", node.sip_port)


def aor(ph):
    return "sip:%s@%s" % (ph.user, ph.domain)


def connect(alice, bob, via):
    """alice calls bob (her INVITE goes to her node, `via`); bob gets the
    INVITE from `via`'s address, rings, answers; both dialogs returned,
    established (alice's ACK reached bob)."""
    d = alice.call(bob.user)
    db = bob.incoming(MSG_TIMEOUT)
    assert db.invite.source == addr(via), \
        "INVITE came from %r, not from node %s %r" % (
            db.invite.source, via.name, addr(via))
    bob.respond(db.invite, 180, "Ringing", tag=db.local_tag)
    alice.wait_response("INVITE", 180, timeout=MSG_TIMEOUT)
    sdp_b = SDP_AUDIO % 50000
    bob.respond(db.invite, 200, "OK", tag=db.local_tag, sdp=sdp_b)
    ok = alice.wait_response("INVITE", 200, timeout=MSG_TIMEOUT)
    assert ok.body.decode() == sdp_b
    alice.answered(d, ok)
    ack = bob.wait_request("ACK", MSG_TIMEOUT)
    assert ack.source == addr(via), ack.source
    return d, db


def live_uuids(api):
    r = api.get("Call/", params={"status": "live"})
    assert r.status_code == 200, r.text
    return r.json()["calls"]


def live_call(api, uuid):
    """The live call's body, or None on 404."""
    r = api.get("Call/%s/" % uuid, params={"status": "live"})
    if r.status_code == 404:
        return None
    assert r.status_code == 200, r.text
    return r.json()


def live_uuid_from(api, caller):
    """The uuid of the one live call placed by `caller`, seen through api
    (None while there is none)."""
    got = [u for u in live_uuids(api)
           if (live_call(api, u) or {}).get("from") == aor(caller)]
    assert len(got) <= 1, got
    return got[0] if got else None


def cdrs_of(api, uuid_a):
    """The CDRs of a call: its A leg and the B legs whose parent it is."""
    r = api.get("Call/", params={"limit": 20})
    assert r.status_code == 200, r.text
    return [o for o in r.json()["objects"]
            if uuid_a in (o["call_uuid"], o["parent_call_uuid"])]


def two_cdrs(api, uuid_a, what):
    return wait_until(lambda: (lambda x: x if len(x) == 2 else None)(
        cdrs_of(api, uuid_a)), MSG_TIMEOUT, "%s: both legs' CDRs" % what)


# --------------------------------------------------------------------------
# 1. a phone registered through node A, called through node B

def test_call_through_b_reaches_udp_phone_registered_through_a(two_nodes,
                                                               phones):
    c, na, nb, a, b = two_nodes
    bob = phones(na, a, connect=False)  # REGISTER through node A
    alice = phones(nb, b)               # REGISTER through node B
    # node B knows bob's binding only through the database
    regs = b.endpoint(bob.id)["sip_registrations"]
    assert [x["transport"].upper() for x in regs] == ["UDP"], regs

    # call 1: alice hangs up
    d, db = connect(alice, bob, nb)
    inv = db.invite
    assert inv.call_id != d.call_id  # a B2BUA: sipward's own dialog
    assert aor(alice) in inv.get("From")
    assert ":%d" % nb.sip_port in inv.get("Via"), inv.get("Via")
    assert ":%d" % nb.sip_port in db.remote_target, db.remote_target
    assert inv.body.decode() == SDP_AUDIO % 40000
    assert alice.bye(d).status == 200
    bye = bob.wait_request("BYE", MSG_TIMEOUT)
    assert bye.source == addr(nb), bye.source
    bob.respond(bye, 200, "OK")
    # bob's 200 reached node B (it went to the BYE's source): no
    # retransmission (Timer E would resend it after 0.5 s)
    bob.expect_no(lambda m: m.is_request and m.method == "BYE", 1.5,
                  "retransmitted BYE")

    # call 2: bob hangs up; his BYE goes to the dialog's remote target,
    # node B (node A knows nothing of this dialog)
    d, db = connect(alice, bob, nb)
    assert bob.dialog_peer(db) == addr(nb)
    r = bob.bye(db)
    assert r.status == 200, r.raw[:300]
    assert r.source == addr(nb), r.source
    bye = alice.wait_request("BYE", MSG_TIMEOUT)
    alice.respond(bye, 200, "OK")

    # both calls are over, with both legs' CDRs, through either node
    def cdrs():
        objs = a.get("Call/", params={"limit": 20}).json()["objects"]
        return objs if len(objs) == 4 else None
    objs = wait_until(cdrs, MSG_TIMEOUT, "4 CDRs (2 calls, 2 legs each)")
    srcs = sorted(o["hangup_source"] for o in objs)
    assert srcs == ["Callee", "Callee", "Caller", "Caller"], objs
    for o in objs:
        assert o["hangup_cause_name"] == "NORMAL_CLEARING", o
        assert o["answer_time"] is not None, o
        if o["call_direction"] == "inbound":
            assert o["endpoint_id"] == alice.id, o
        else:
            assert o["endpoint_id"] == bob.id, o
    assert sorted(o["call_uuid"] for o in b.get(
        "Call/", params={"limit": 20}).json()["objects"]) == \
        sorted(o["call_uuid"] for o in objs)
    # calls in progress are written behind the signalling: wait for it
    wait_until(lambda: live_uuids(a) == [] and live_uuids(b) == [],
               MSG_TIMEOUT, "no call in progress listed on A and B")


# --------------------------------------------------------------------------
# 2. node A lists the calls node B carries

def test_live_calls_of_b_listed_on_a(two_nodes, phones):
    c, na, nb, a, b = two_nodes
    bob = phones(na, a, connect=False)
    alice = phones(nb, b)
    # calls in progress are written behind the signalling: wait for it
    wait_until(lambda: live_uuids(a) == [] and live_uuids(b) == [],
               MSG_TIMEOUT, "no call in progress listed on A and B")
    d = alice.call(bob.user)
    db = bob.incoming(MSG_TIMEOUT)
    assert db.invite.source == addr(nb)
    bob.respond(db.invite, 180, "Ringing", tag=db.local_tag)
    alice.wait_response("INVITE", 180, timeout=MSG_TIMEOUT)

    # ringing: listed on A (which does not carry it), as on B
    uuid = wait_until(lambda: live_uuid_from(a, alice), MSG_TIMEOUT,
                      "node A to list the ringing call of node B")
    assert rest.UUID_RE.match(uuid), uuid
    assert live_uuids(a) == [uuid]
    assert live_uuids(b) == [uuid]
    ring = wait_until(lambda: (lambda x: x if x and x["call_status"] ==
                               "ringing" else None)(live_call(a, uuid)),
                      MSG_TIMEOUT, "call_status ringing on node A")
    assert ring["call_uuid"] == uuid
    assert ring["from"] == aor(alice) and ring["to"] == aor(bob), ring
    assert ring["direction"] == "inbound", ring

    bob.respond(db.invite, 200, "OK", tag=db.local_tag,
                sdp=SDP_AUDIO % 50000)
    ok = alice.wait_response("INVITE", 200, timeout=MSG_TIMEOUT)
    alice.answered(d, ok)
    bob.wait_request("ACK", MSG_TIMEOUT)

    # in progress: node A's view of node B's call
    up = wait_until(lambda: (lambda x: x if x and x["call_status"] ==
                             "in-progress" else None)(live_call(a, uuid)),
                    MSG_TIMEOUT, "call_status in-progress on node A")
    assert up["from"] == aor(alice) and up["to"] == aor(bob), up
    assert up["session_start"], up
    assert live_uuids(a) == [uuid]
    assert live_call(b, uuid)["call_status"] == "in-progress"

    # over: gone from A's list, 404 there; the CDR carries the same uuid
    assert alice.bye(d).status == 200
    bob.respond(bob.wait_request("BYE", MSG_TIMEOUT), 200, "OK")
    wait_until(lambda: uuid not in live_uuids(a), MSG_TIMEOUT,
               "the ended call to leave node A's live list")
    assert live_call(a, uuid) is None
    assert live_uuids(b) == []
    legs = {o["call_direction"]: o for o in two_cdrs(a, uuid, "node A")}
    assert legs["inbound"]["call_uuid"] == uuid
    assert legs["inbound"]["parent_call_uuid"] is None
    assert legs["outbound"]["parent_call_uuid"] == uuid


# --------------------------------------------------------------------------
# 3. DELETE through node A of a call node B carries

DELETE_ROUNDS = 3


def test_delete_on_a_hangs_up_call_carried_by_b(two_nodes, phones):
    c, na, nb, a, b = two_nodes
    bob = phones(na, a, connect=False)
    alice = phones(nb, b)
    delays = []
    for rnd in range(DELETE_ROUNDS):
        d, db = connect(alice, bob, nb)
        uuid = wait_until(lambda: live_uuid_from(a, alice), MSG_TIMEOUT,
                          "round %d: node A to list the call" % rnd)
        wait_until(lambda: (live_call(a, uuid) or {}).get("call_status") ==
                   "in-progress", MSG_TIMEOUT,
                   "round %d: in-progress on node A" % rnd)
        byes = {}

        def take(ph, key):
            byes[key] = ph.wait_request("BYE", BYE_TIMEOUT)

        t0 = time.monotonic()
        r = a.delete("Call/%s/" % uuid)
        t_204 = time.monotonic()
        assert r.status_code == 204, r.text
        run_threads([lambda: take(alice, "alice"),
                     lambda: take(bob, "bob")], BYE_TIMEOUT + 5)
        # node B (the carrier) hung up both legs within their dialogs
        assert byes["bob"].source == addr(nb), byes["bob"].source
        assert byes["alice"].call_id == d.call_id
        assert byes["bob"].call_id == db.call_id
        for ph, key in ((alice, "alice"), (bob, "bob")):
            ph.respond(byes[key], 200, "OK")
        delays.append({k: m.at - t0 for k, m in byes.items()})
        delays[-1]["http"] = t_204 - t0

        wait_until(lambda: uuid not in live_uuids(a), MSG_TIMEOUT,
                   "round %d: the call to leave node A's live list" % rnd)
        for api, name in ((a, "A"), (b, "B")):
            legs = {o["call_direction"]: o
                    for o in two_cdrs(api, uuid, "node " + name)}
            assert set(legs) == {"inbound", "outbound"}, legs
            assert legs["inbound"]["call_uuid"] == uuid
            assert legs["outbound"]["parent_call_uuid"] == uuid
            for o in legs.values():
                assert o["hangup_source"] == "API Request", o
                assert o["hangup_cause_name"] == "NORMAL_CLEARING", o
                assert o["hangup_cause_code"] == 4000, o
                assert o["answer_time"] is not None, o
            # no longer live, on either node
            assert live_call(api, uuid) is None
            assert api.delete("Call/%s/" % uuid).status_code == 404
        # bob's 200 to the BYE reached node B: not retransmitted
        bob.expect_no(lambda m: m.is_request and m.method == "BYE", 1.0,
                      "retransmitted BYE")
    worst = max(max(x["alice"], x["bob"]) for x in delays)
    print("DELETE on node A -> BYE from node B, per round (s from sending "
          "the DELETE): %s; worst %.3fs" % (
              "; ".join("alice %.3f bob %.3f (204 after %.3f)" % (
                  x["alice"], x["bob"], x["http"]) for x in delays), worst))


# --------------------------------------------------------------------------
# 4. a TCP binding is reached through the node holding its connection: node
# B sends the INVITE to node A (the binding's path) with a Route, node A
# forwards it down the connection and Record-Routes itself

def tcp_bob_and_alice(cluster, phones):
    na, nb = cluster.nodes
    a, b = na.api(), nb.api()
    bob = phones(na, a, proto="tcp")  # REGISTER through node A over TCP
    alice = phones(nb, b)             # calls through node B
    regs = b.endpoint(bob.id)["sip_registrations"]
    assert [x["transport"].upper() for x in regs] == ["TCP"], regs
    # the path (its connection token) is never shown by the API
    assert "sw=" not in repr(regs) and "path" not in repr(regs), regs
    return na, nb, a, b, alice, bob


def node_a_rr(na):
    return "<sip:127.0.0.1:%d;lr;sw=" % na.sip_port


def test_tcp_binding_through_a_reached_through_b(two_nodes, phones):
    c, na, nb, a, b = two_nodes
    na, nb, a, b, alice, bob = tcp_bob_and_alice(c, phones)

    # call 1: alice hangs up
    d = alice.call(bob.user)
    db = bob.incoming(MSG_TIMEOUT)
    inv = db.invite
    rr = inv.all("Record-Route")
    assert len(rr) == 1 and rr[0].startswith(node_a_rr(na)), rr
    vias = inv.all("Via")
    assert len(vias) == 2, vias
    assert vias[0].startswith("SIP/2.0/TCP 127.0.0.1:%d;branch=z9hG4bK-swp"
                              % na.sip_port), vias
    assert ":%d" % nb.sip_port in vias[1], vias
    assert inv.get("Route") is None, inv.get("Route")  # popped by node A
    assert aor(alice) in inv.get("From")
    assert ":%d" % nb.sip_port in db.remote_target, db.remote_target
    assert int(inv.get("Max-Forwards")) == 68, inv.get("Max-Forwards")
    bob.respond(inv, 180, "Ringing", tag=db.local_tag)
    alice.wait_response("INVITE", 180, timeout=MSG_TIMEOUT)
    sdp_b = SDP_AUDIO % 50000
    bob.respond(inv, 200, "OK", tag=db.local_tag, sdp=sdp_b)
    ok = alice.wait_response("INVITE", 200, timeout=MSG_TIMEOUT)
    assert ok.body.decode() == sdp_b
    alice.answered(d, ok)
    ack = bob.wait_request("ACK", MSG_TIMEOUT)
    assert ack.get("Route") is None
    # the call in progress is written behind the signalling: wait for it
    live = wait_until(lambda: live_uuids(b), MSG_TIMEOUT,
                      "node B to list the answered call")
    assert live_uuids(a) == live
    assert alice.bye(d).status == 200
    bye = bob.wait_request("BYE", MSG_TIMEOUT)
    bob.respond(bye, 200, "OK")
    # bob's 200 reached node B through node A: no retransmission
    bob.expect_no(lambda m: m.is_request and m.method == "BYE", 1.5,
                  "retransmitted BYE")

    # call 2: bob hangs up; his BYE goes on his connection to node A with
    # the Route node A recorded, and node A sends it on to node B
    d = alice.call(bob.user)
    db = bob.incoming(MSG_TIMEOUT)
    assert db.route and db.route[0].startswith(node_a_rr(na)), db.route
    bob.respond(db.invite, 200, "OK", tag=db.local_tag, sdp=sdp_b)
    ok = alice.wait_response("INVITE", 200, timeout=MSG_TIMEOUT)
    alice.answered(d, ok)
    bob.wait_request("ACK", MSG_TIMEOUT)
    r = bob.bye(db)
    assert r.status == 200, r.raw[:300]
    bye = alice.wait_request("BYE", MSG_TIMEOUT)
    assert bye.source == addr(nb), bye.source
    alice.respond(bye, 200, "OK")

    def cdrs():
        objs = b.get("Call/", params={"limit": 20}).json()["objects"]
        return objs if len(objs) == 4 else None
    objs = wait_until(cdrs, MSG_TIMEOUT, "4 CDRs (2 calls, 2 legs each)")
    assert sorted(o["hangup_source"] for o in objs) == \
        ["Callee", "Callee", "Caller", "Caller"], objs
    for o in objs:
        assert o["hangup_cause_name"] == "NORMAL_CLEARING", o
    # calls in progress are written behind the signalling: wait for it
    wait_until(lambda: live_uuids(a) == [] and live_uuids(b) == [],
               MSG_TIMEOUT, "no call in progress listed on A and B")


def test_websocket_binding_through_a_reached_through_b(mn_cluster, phones):
    """A browser's WebSocket binding through node A is reached from node B
    the same way: down the connection, with node A's Via naming WS; when
    the WebSocket closes the binding ends at once for every node."""
    c = mn_cluster(2, env=dict(ENV, SIPWARD_SIP_WS="127.0.0.1:0",
                               SIPWARD_RTPENGINE_NG=""))
    na, nb = c.nodes
    a, b = na.api(), nb.api()
    bob = phones(na, a, proto="ws")
    alice = phones(nb, b)
    regs = b.endpoint(bob.id)["sip_registrations"]
    assert [x["transport"] for x in regs] == ["WS"], regs
    d = alice.call(bob.user)
    db = bob.incoming(MSG_TIMEOUT)
    inv = db.invite
    assert inv.ruri.endswith(".invalid;transport=ws"), inv.ruri
    vias = inv.all("Via")
    assert vias[0].startswith("SIP/2.0/WS 127.0.0.1:%d;branch=z9hG4bK-swp"
                              % na.sip_port), vias
    sdp_b = SDP_AUDIO % 50010
    bob.respond(inv, 200, "OK", tag=db.local_tag, sdp=sdp_b)
    ok = alice.wait_response("INVITE", 200, timeout=MSG_TIMEOUT)
    alice.answered(d, ok)
    bob.wait_request("ACK", MSG_TIMEOUT)
    assert alice.bye(d).status == 200
    bob.respond(bob.wait_request("BYE", MSG_TIMEOUT), 200, "OK")
    bob.close()
    wait_until(lambda: b.endpoint(bob.id)["sip_registered"] == "false",
               MSG_TIMEOUT, "bob's binding gone on node B once his "
               "WebSocket to node A closed")
    alice.call(bob.user)
    r = alice.wait_response("INVITE", final=True, timeout=MSG_TIMEOUT)
    assert r.status == 480, r


def test_tcp_binding_through_a_cancel_and_busy(two_nodes, phones):
    """A CANCEL while bob rings reaches him through node A (with the
    INVITE's Route), and a busy answer reaches alice."""
    c = two_nodes[0]
    na, nb, a, b, alice, bob = tcp_bob_and_alice(c, phones)
    d = alice.call(bob.user)
    db = bob.incoming(MSG_TIMEOUT)
    bob.respond(db.invite, 180, "Ringing", tag=db.local_tag)
    alice.wait_response("INVITE", 180, timeout=MSG_TIMEOUT)
    alice.cancel(d)
    assert alice.wait_response("CANCEL", final=True,
                               timeout=MSG_TIMEOUT).status == 200
    cancel = bob.wait_request("CANCEL", MSG_TIMEOUT)
    # the same branch as the INVITE (RFC 3261 9.1, 16.11)
    assert cancel.get("Via") == db.invite.get("Via"), (
        cancel.get("Via"), db.invite.get("Via"))
    bob.respond(cancel, 200, "OK")
    bob.respond(db.invite, 487, "Request Terminated", tag=db.local_tag)
    ack = bob.wait_request("ACK", MSG_TIMEOUT)
    assert ack.get("Via") == db.invite.get("Via")
    r = alice.wait_response("INVITE", final=True, timeout=MSG_TIMEOUT)
    assert r.status == 487, (r.status, r.reason)
    alice.ack_non2xx(d, r, d.ruri, d.invite_branch)

    # busy
    d = alice.call(bob.user)
    db = bob.incoming(MSG_TIMEOUT)
    bob.respond(db.invite, 486, "Busy Here", tag=db.local_tag)
    bob.wait_request("ACK", MSG_TIMEOUT)
    r = alice.wait_response("INVITE", final=True, timeout=MSG_TIMEOUT)
    assert r.status == 486, (r.status, r.reason)
    # calls in progress are written behind the signalling: wait for it
    wait_until(lambda: live_uuids(a) == [] and live_uuids(b) == [],
               MSG_TIMEOUT, "no call in progress listed on A and B")


def forged(na, user, tok):
    """An INFO to node A with a Route naming node A and token tok."""
    return sipphone.build_request(
        "INFO", "sip:%s@127.0.0.1:%d;transport=tcp" % (user, na.sip_port),
        [("Via", "SIP/2.0/UDP 127.0.0.1:9;rport;branch=z9hG4bK" + tok[:8]),
         ("Route", "<sip:127.0.0.1:%d;lr;sw=%s>" % (na.sip_port, tok)),
         ("Max-Forwards", "70"), ("From", "<sip:x@x.invalid>;tag=1"),
         ("To", "<sip:%s@x.invalid>" % user),
         ("Call-ID", "forged-%s" % tok[:12]), ("CSeq", "1 INFO")], b"")


def test_forged_token_forwards_nothing(two_nodes, phones):
    """A request to node A whose Route carries a token that node A did not
    make is refused statelessly (403): bob sees nothing. A real token
    whose connection has closed reaches nothing (480), not even the
    connection that took its slot; Max-Forwards 0 is 483."""
    c = two_nodes[0]
    na, nb, a, b, alice, bob = tcp_bob_and_alice(c, phones)
    # a real token, from a call's Record-Route
    d = alice.call(bob.user)
    db = bob.incoming(MSG_TIMEOUT)
    real = db.route[0].split("sw=", 1)[1].rstrip(">")
    bob.respond(db.invite, 486, "Busy Here", tag=db.local_tag)
    bob.wait_request("ACK", MSG_TIMEOUT)
    assert alice.wait_response("INVITE", final=True,
                               timeout=MSG_TIMEOUT).status == 486

    def flip(s, i):
        return s[:i] + ("0" if s[i] != "0" else "1") + s[i + 1:]
    bad = [flip(real, len(real) - 1),  # the MAC
           flip(real, 15),             # the connection id
           flip(real, 20),             # the process's number
           "ab" * 34, "x"]
    evil = na.conn()
    for tok in bad:
        evil.send(forged(na, bob.user, tok))
        r = evil.recv(MSG_TIMEOUT)
        assert r.status == 403, (tok, r.status)
    bob.expect_no(lambda m: m.is_request, 1.0, "forwarded request")

    # Max-Forwards 0 with the real token: 483, nothing forwarded
    evil.send(forged(na, bob.user, real).replace(b"Max-Forwards: 70",
                                                 b"Max-Forwards: 0"))
    assert evil.recv(MSG_TIMEOUT).status == 483
    bob.expect_no(lambda m: m.is_request, 0.5, "forwarded request")

    # the real token still reaches bob's connection (control) ...
    evil.send(forged(na, bob.user, real))
    info = bob.wait_request("INFO", MSG_TIMEOUT)
    assert info.get("Route") is None
    bob.respond(info, 200, "OK")
    assert evil.recv(MSG_TIMEOUT).status == 200
    # ... but not once his connection closed, not even the phone whose
    # connection took its place
    bob.close()

    def closed_at_a():
        # until node A has seen the close, the token still names a live
        # connection (and the request is lost with it)
        evil.send(forged(na, bob.user, real))
        try:
            return evil.recv(0.5).status == 480
        except sipphone.sipclient.NoResponse:
            return False
    wait_until(closed_at_a, MSG_TIMEOUT, "node A seeing bob's close (480)")
    carol = phones(na, a, proto="tcp")
    evil.send(forged(na, carol.user, real))
    assert evil.recv(MSG_TIMEOUT).status == 480
    carol.expect_no(lambda m: m.is_request, 1.0, "forwarded request")
