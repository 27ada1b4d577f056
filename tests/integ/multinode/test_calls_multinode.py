"""Calls across nodes (issue 10, points 6 and 7): two sipward nodes on one
PostgreSQL database. A phone registered through node A is reached by a call
placed through node B (over UDP, straight from node B's address), every
node's API lists the live calls of every node, and DELETE Call/{uuid}/ sent
to the node that does not carry a call hangs it up (the carrier polls for
it). A TCP binding is reached only through the node holding its connection
(docs/calls.md, "Not yet"): through another node the send fails at once
and the caller gets 480.

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
    assert live_uuids(a) == [] and live_uuids(b) == []


# --------------------------------------------------------------------------
# 2. node A lists the calls node B carries

def test_live_calls_of_b_listed_on_a(two_nodes, phones):
    c, na, nb, a, b = two_nodes
    bob = phones(na, a, connect=False)
    alice = phones(nb, b)
    assert live_uuids(a) == [] and live_uuids(b) == []
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
# 4. a TCP binding is reached only through the node holding its connection

def tcp_bob_and_alice(cluster, phones):
    na, nb = cluster.nodes
    a, b = na.api(), nb.api()
    bob = phones(na, a, proto="tcp")  # REGISTER through node A over TCP
    alice = phones(nb, b)             # calls through node B
    regs = b.endpoint(bob.id)["sip_registrations"]
    assert [x["transport"].upper() for x in regs] == ["TCP"], regs
    return na, nb, a, b, alice, bob


RING_TIMEOUT = 3


def test_tcp_binding_through_a_not_reached_through_b(mn_cluster, phones):
    """Known limit (docs/calls.md, "Not yet"): node B holds no connection
    to the phone, so its B leg never reaches it and the caller gets a final
    error (480 at once, see the test below); the phone sees nothing. Through node A, which holds the connection, the same
    binding rings."""
    c = mn_cluster(2, env=dict(ENV, SIPWARD_RING_TIMEOUT=RING_TIMEOUT))
    na, nb, a, b, alice, bob = tcp_bob_and_alice(c, phones)

    t0 = time.monotonic()
    alice.call(bob.user)
    r = alice.wait_response("INVITE", final=True,
                            timeout=RING_TIMEOUT + MSG_TIMEOUT)
    took = time.monotonic() - t0
    print("call through node B to a TCP binding held by node A: %d %s "
          "after %.3fs (ring_timeout %ds)" % (r.status, r.reason, took,
                                              RING_TIMEOUT))
    assert 400 <= r.status < 700, (r.status, r.reason, r.raw[:400])
    # nothing reached bob on his connection (node A does not carry the
    # call; node B could not send)
    bob.expect_no(lambda m: m.is_request and m.method == "INVITE", 0.5,
                  "INVITE")
    assert live_uuids(a) == [] and live_uuids(b) == []

    def failed_cdr():
        objs = b.get("Call/", params={"limit": 20}).json()["objects"]
        return [o for o in objs if o["call_direction"] == "inbound"] or None
    cdr = wait_until(failed_cdr, MSG_TIMEOUT, "the failed call's CDR")[0]
    print("its CDR: %s %s %s" % (cdr["hangup_cause_name"],
                                 cdr["hangup_cause_code"],
                                 cdr["hangup_source"]))
    assert cdr["answer_time"] is None and cdr["bill_duration"] == 0, cdr

    # control: through node A, which holds the connection, bob rings
    alice_on_a = phones(na, a, register=False, ep=alice.ep)
    alice_on_a.call(bob.user)
    db = bob.incoming(MSG_TIMEOUT)
    bob.respond(db.invite, 486, "Busy Here", tag=db.local_tag)
    bob.wait_request("ACK", MSG_TIMEOUT)
    assert alice_on_a.wait_response("INVITE", final=True,
                                    timeout=MSG_TIMEOUT).status == 486


def test_tcp_binding_held_by_a_fails_at_once_through_b(two_nodes, phones):
    """The send to a TCP binding without a connection on this node fails
    at once; the caller should get its error answer as soon (here: within
    MSG_TIMEOUT, the default ring_timeout being 60 s)."""
    c = two_nodes[0]
    na, nb, a, b, alice, bob = tcp_bob_and_alice(c, phones)
    alice.call(bob.user)
    r = alice.wait_response("INVITE", final=True, timeout=MSG_TIMEOUT)
    assert r.status == 480, (r.status, r.reason)
