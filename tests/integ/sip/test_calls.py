"""Calls between endpoints without an application (calls contract: "Who may
call", "What was dialled", "Where the call goes", "Settled details"): sipward
as a B2BUA between two phones that registered with it, over UDP and TCP."""

import re

import pytest

from conftest import Endpoint, pw, uname, wait_until
from sipphone import SDP_AUDIO, SDP_VIDEO, Phone


def phone(srv, ep, proto="udp"):
    p = Phone(srv, ep.username, ep.password, ep.domain, proto=proto)
    p.register()
    return p


@pytest.fixture
def phones(sip_server, sip_api):
    made = []

    def make(proto="udp", register=True, ep=None, **fields):
        if ep is None:
            ep = Endpoint(sip_server, sip_api, uname("c"), pw())
            ep.id = sip_api.create_endpoint(ep.username, ep.password,
                                            **fields)["endpoint_id"]
        p = Phone(sip_server, ep.username, ep.password, ep.domain,
                  proto=proto)
        if register:
            p.register()
        p.ep = ep
        made.append(p)
        return p

    yield make
    for p in made:
        p.close()


def connect(a, b, sdp_b=None):
    """a calls b, b rings then answers: returns both dialogs, established."""
    d = a.call(b.user)
    db = b.incoming()
    b.respond(db.invite, 180, "Ringing", tag=db.local_tag)
    a.wait_response("INVITE", 180)
    sdp_b = sdp_b or SDP_AUDIO % 50000
    b.respond(db.invite, 200, "OK", tag=db.local_tag, sdp=sdp_b)
    ok = a.wait_response("INVITE", 200)
    assert ok.body.decode() == sdp_b
    a.answered(d, ok)
    b.wait_request("ACK")
    return d, db


@pytest.mark.parametrize("proto", ["udp", "tcp"])
def test_call_answered_then_caller_hangs_up(phones, proto):
    alice, bob = phones(proto), phones(proto)
    d, db = connect(alice, bob)
    inv = db.invite
    # A B2BUA: a new dialog towards bob, from alice's AOR.
    assert inv.call_id != d.call_id
    assert ("sip:%s@" % alice.user) in inv.get("From")
    assert int(inv.get("Max-Forwards")) == 69
    assert inv.body.decode() == SDP_AUDIO % 40000
    r = alice.bye(d)
    assert r.status == 200
    bye = bob.wait_request("BYE")
    bob.respond(bye, 200, "OK")


def test_callee_hangs_up(phones):
    alice, bob = phones(), phones()
    d, db = connect(alice, bob)
    bob.send(bob.in_dialog(db, "BYE"))
    assert bob.wait_response("BYE", final=True).status == 200
    bye = alice.wait_request("BYE")
    alice.respond(bye, 200, "OK")


def test_busy_reaches_caller(phones):
    alice, bob = phones(), phones()
    alice.call(bob.user)
    db = bob.incoming()
    bob.respond(db.invite, 486, "Busy Here", tag=db.local_tag)
    bob.wait_request("ACK")
    assert alice.wait_response("INVITE", final=True).status == 486


def test_caller_cancels_while_ringing(phones):
    alice, bob = phones(), phones()
    d = alice.call(bob.user)
    db = bob.incoming()
    bob.respond(db.invite, 180, "Ringing", tag=db.local_tag)
    alice.wait_response("INVITE", 180)
    alice.cancel(d)
    assert alice.wait_response("CANCEL", final=True).status == 200
    cancel = bob.wait_request("CANCEL")
    bob.respond(cancel, 200, "OK")
    bob.respond(db.invite, 487, "Request Terminated", tag=db.local_tag)
    bob.wait_request("ACK")
    assert alice.wait_response("INVITE", final=True).status == 487


def test_every_binding_rings_first_answer_wins(phones):
    alice, bob1 = phones(), phones()
    bob2 = phones(ep=bob1.ep)  # the same endpoint on a second phone
    d = alice.call(bob1.user)
    i1, i2 = bob1.incoming(), bob2.incoming()
    bob1.respond(i1.invite, 180, "Ringing", tag=i1.local_tag)
    bob2.respond(i2.invite, 200, "OK", tag=i2.local_tag,
                 sdp=SDP_AUDIO % 50002)
    ok = alice.wait_response("INVITE", 200)
    assert ok.body.decode() == SDP_AUDIO % 50002
    alice.answered(d, ok)
    bob2.wait_request("ACK")
    cancel = bob1.wait_request("CANCEL")
    assert "Call completed elsewhere" in (cancel.get("Reason") or "")
    bob1.respond(cancel, 200, "OK")
    bob1.respond(i1.invite, 487, "Request Terminated", tag=i1.local_tag)
    bob1.wait_request("ACK")
    assert alice.bye(d).status == 200
    bob2.respond(bob2.wait_request("BYE"), 200, "OK")


def test_unregistered_callee_480(phones):
    alice = phones()
    bob = phones(register=False)
    alice.call(bob.user)
    assert alice.wait_response("INVITE", final=True).status == 480


def test_unknown_target_404(phones):
    alice = phones()
    alice.call("nobody-" + alice.user)
    assert alice.wait_response("INVITE", final=True).status == 404


def test_same_domain_flag_403_names_it(phones):
    alice = phones(allow_same_domain=False)
    bob = phones()
    alice.call(bob.user)
    r = alice.wait_response("INVITE", final=True)
    assert r.status == 403 and "allow_same_domain" in r.reason


def test_caller_without_voice_403(phones):
    alice = phones(allow_voice=False)
    bob = phones()
    alice.call(bob.user)
    r = alice.wait_response("INVITE", final=True)
    assert r.status == 403 and "allow_voice" in r.reason


def test_callee_without_voice_403(phones):
    alice = phones()
    bob = phones(allow_voice=False)
    alice.call(bob.user)
    r = alice.wait_response("INVITE", final=True)
    assert r.status == 403 and "allow_voice" in r.reason
    bob.expect_no(lambda m: m.is_request and m.method == "INVITE")


def test_invite_without_credentials_gets_407(phones):
    alice, bob = phones(), phones()
    alice.call(bob.user, auth=False)
    r = alice.wait_response("INVITE", final=True)
    assert r.status == 407
    ch = r.get("Proxy-Authenticate")
    assert ch and 'realm="%s"' % alice.domain in ch and "qop=" in ch
    bob.expect_no(lambda m: m.is_request and m.method == "INVITE")


def test_wrong_password_gets_a_fresh_407(phones):
    alice, bob = phones(), phones()
    alice.password = "wrong-" + alice.password
    alice.call(bob.user)
    assert alice.wait_response("INVITE", final=True).status == 407
    bob.expect_no(lambda m: m.is_request and m.method == "INVITE")


def test_video_refused_towards_callee_without_video(phones):
    alice = phones()
    bob = phones(allow_video=False)
    sdp = SDP_VIDEO % (40000, 40002)
    alice.call(bob.user, sdp=sdp)
    db = bob.incoming()
    body = db.invite.body.decode()
    assert re.search(r"(?m)^m=video 0 ", body), body
    assert re.search(r"(?m)^m=audio 40000 ", body), body
    bob.respond(db.invite, 200, "OK", tag=db.local_tag,
                sdp=SDP_VIDEO % (50000, 50002))
    ok = alice.wait_response("INVITE", 200)
    assert re.search(r"(?m)^m=video 0 ", ok.body.decode())


def test_reinvite_relayed_both_ways(phones):
    alice, bob = phones(), phones()
    d, db = connect(alice, bob)
    hold = (SDP_AUDIO % 40000) + "a=sendonly\r\n"
    alice.send(alice.in_dialog(d, "INVITE", sdp=hold))
    re_inv = bob.wait_request("INVITE")
    assert re_inv.body.decode() == hold
    assert re_inv.tag("To") == db.local_tag
    bob.respond(re_inv, 200, "OK", sdp=(SDP_AUDIO % 50000) + "a=recvonly\r\n")
    ok = alice.wait_response("INVITE", 200)
    assert "a=recvonly" in ok.body.decode()
    alice.send(alice.in_dialog(d, "ACK", cseq=d.cseq))
    # INFO from the callee reaches the caller.
    bob.send(bob.in_dialog(db, "INFO"))
    info = alice.wait_request("INFO")
    alice.respond(info, 200, "OK")
    assert bob.wait_response("INFO", final=True).status == 200
    assert alice.bye(d).status == 200
    bob.respond(bob.wait_request("BYE"), 200, "OK")


def test_unknown_dialog_481(phones):
    alice, bob = phones(), phones()
    d, db = connect(alice, bob)
    d.remote_tag = "not-" + str(d.remote_tag)
    alice.send(alice.in_dialog(d, "BYE"))
    assert alice.wait_response("BYE", final=True).status == 481


def test_ring_timeout_480_and_cancel(sip_make_server, sip_procs):
    srv = sip_make_server(env={"SIPWARD_RING_TIMEOUT": "2"})
    api = srv.api()
    ea, eb = srv.endpoint(api), srv.endpoint(api)
    alice = Phone(srv, ea.username, ea.password, ea.domain)
    bob = Phone(srv, eb.username, eb.password, eb.domain)
    try:
        alice.register()
        bob.register()
        alice.call(bob.user)
        db = bob.incoming()
        bob.respond(db.invite, 180, "Ringing", tag=db.local_tag)
        assert alice.wait_response("INVITE", final=True,
                                   timeout=20).status == 480
        cancel = bob.wait_request("CANCEL")
        bob.respond(cancel, 200, "OK")
        bob.respond(db.invite, 487, "Request Terminated", tag=db.local_tag)
    finally:
        alice.close()
        bob.close()


# --------------------------------------------------------------------------
# the call in the REST API: live calls, DELETE, CDRs of both legs

def cdrs_of(api, uuid_a):
    """The CDRs of a call (its A leg and the B legs whose parent it is)."""
    objs = api.get("Call/", params={"limit": 20}).json()["objects"]
    return [o for o in objs if uuid_a in (o["call_uuid"],
                                          o["parent_call_uuid"])]


def live_uuids(api):
    r = api.get("Call/", params={"status": "live"})
    assert r.status_code == 200, r.text
    return r.json()["calls"]


def test_live_call_then_cdrs_of_both_legs(phones, sip_api):
    alice, bob = phones(), phones()
    alice.call(bob.user)
    db = bob.incoming()
    bob.respond(db.invite, 180, "Ringing", tag=db.local_tag)
    alice.wait_response("INVITE", 180)
    got = {}

    def ringing_listed():
        for u in live_uuids(sip_api):
            r = sip_api.get("Call/%s/" % u, params={"status": "live"})
            if r.status_code == 200 and \
                    r.json()["from"] == "sip:%s@%s" % (alice.user,
                                                       alice.domain):
                got.update(r.json())
                return True
        return False
    wait_until(ringing_listed, 10, "the ringing call in ?status=live")
    assert got["call_status"] == "ringing"
    assert got["to"] == "sip:%s@%s" % (bob.user, bob.domain)
    uuid_a = got["call_uuid"]
    bob.respond(db.invite, 200, "OK", tag=db.local_tag,
                sdp=SDP_AUDIO % 50000)
    ok = alice.wait_response("INVITE", 200)
    dlg = alice_dialog(alice, ok)
    wait_until(lambda: sip_api.get(
        "Call/%s/" % uuid_a, params={"status": "live"}).json().get(
            "call_status") == "in-progress", 10, "call_status in-progress")
    assert alice.bye(dlg).status == 200
    bob.respond(bob.wait_request("BYE"), 200, "OK")
    wait_until(lambda: uuid_a not in live_uuids(sip_api), 10,
               "the call to leave ?status=live")
    wait_until(lambda: len(cdrs_of(sip_api, uuid_a)) == 2, 10,
               "two CDRs")
    legs = {o["call_direction"]: o for o in cdrs_of(sip_api, uuid_a)}
    a, b = legs["inbound"], legs["outbound"]
    assert a["call_uuid"] == uuid_a and a["parent_call_uuid"] is None
    assert b["parent_call_uuid"] == uuid_a
    assert a["endpoint_id"] == alice.ep.id and b["endpoint_id"] == bob.ep.id
    assert a["from_number"] == "sip:%s@%s" % (alice.user, alice.domain)
    assert b["to_number"] == "sip:%s@%s" % (bob.user, bob.domain)
    for o in (a, b):
        assert o["hangup_cause_name"] == "NORMAL_CLEARING"
        assert o["hangup_cause_code"] == 4000
        assert o["hangup_source"] == "Caller"
        assert o["answer_time"] is not None
    one = sip_api.get("Call/%s/" % uuid_a)
    assert one.status_code == 200 and one.json()["call_uuid"] == uuid_a


def alice_dialog(alice, ok):
    """The caller's dialog from its INVITE's 200 (ACKed)."""
    from sipphone import Dialog
    d = Dialog(ok.call_id, ok.tag("From"),
               "sip:%s@%s" % (alice.user, alice.domain),
               re.search(r"<([^>]*)>", ok.get("To")).group(1))
    d.cseq = ok.cseq[0]
    alice.answered(d, ok)
    return d


def test_busy_cdr(phones, sip_api):
    alice, bob = phones(), phones()
    alice.call(bob.user)
    db = bob.incoming()
    bob.respond(db.invite, 486, "Busy Here", tag=db.local_tag)
    assert alice.wait_response("INVITE", final=True).status == 486

    def busy_cdr():
        for o in sip_api.get("Call/", params={"limit": 20}).json()[
                "objects"]:
            if o["call_direction"] == "inbound" and o["from_number"] == \
                    "sip:%s@%s" % (alice.user, alice.domain):
                return o
        return None
    wait_until(busy_cdr, 10, "the busy call's CDR")
    o = busy_cdr()
    assert o["hangup_cause_name"] == "USER_BUSY"
    assert o["hangup_cause_code"] == 3010
    assert o["answer_time"] is None and o["bill_duration"] == 0


def test_delete_hangs_up_both_legs(phones, sip_api):
    alice, bob = phones(), phones()
    d, db = connect(alice, bob)
    mine = []

    def listed():
        for u in live_uuids(sip_api):
            r = sip_api.get("Call/%s/" % u, params={"status": "live"})
            if r.status_code == 200 and r.json()["from"].startswith(
                    "sip:%s@" % alice.user):
                mine.append(u)
                return True
        return False
    wait_until(listed, 10, "the call in ?status=live")
    r = sip_api.delete("Call/%s/" % mine[0])
    assert r.status_code == 204, r.text
    alice.respond(alice.wait_request("BYE"), 200, "OK")
    bob.respond(bob.wait_request("BYE"), 200, "OK")
    wait_until(lambda: len(cdrs_of(sip_api, mine[0])) == 2, 10, "CDRs")
    for o in cdrs_of(sip_api, mine[0]):
        assert o["hangup_source"] == "API Request"
    assert sip_api.delete("Call/%s/" % mine[0]).status_code == 404


# --------------------------------------------------------------------------
# SIP MESSAGE between endpoints

def test_message_delivered_to_every_binding_first_2xx_wins(phones):
    alice, bob1 = phones(), phones()
    bob2 = phones(ep=bob1.ep)
    import threading
    result = {}
    t = threading.Thread(target=lambda: result.update(
        r=alice.message(bob1.user, "hello bob")))
    t.start()
    m1 = bob1.wait_request("MESSAGE")
    m2 = bob2.wait_request("MESSAGE")
    assert m1.body == b"hello bob" and m2.body == b"hello bob"
    assert ("sip:%s@" % alice.user) in m1.get("From")
    bob2.respond(m2, 486, "Busy Here", tag="x2")
    bob1.respond(m1, 200, "OK", tag="x1")
    t.join(15)
    assert result["r"].status == 200


def test_message_flags_and_unreachable(phones):
    alice = phones()
    quiet = phones(allow_message=False)
    r = alice.message(quiet.user, "hi")
    assert r.status == 403 and "allow_message" in r.reason
    mute = phones(allow_message=False)
    bob = phones()
    r = mute.message(bob.user, "hi")
    assert r.status == 403 and "allow_message" in r.reason
    offline = phones(register=False)
    assert alice.message(offline.user, "hi").status == 480
    # Not an endpoint and no message_url: 404.
    assert alice.message("nobody-" + alice.user, "hi").status == 404


def test_message_of_64_kib_delivered_over_tcp_larger_413(phones):
    # The contract's limit is 64 KiB of body: a body of 64 KiB goes
    # through (over TCP, to a phone on TCP), one byte more gets 413.
    alice, bob = phones(proto="tcp"), phones(proto="tcp")
    import threading
    result = {}
    body = b"x" * 65536
    t = threading.Thread(target=lambda: result.update(
        r=alice.message(bob.user, body)))
    t.start()
    m = bob.wait_request("MESSAGE")
    assert m.body == body
    bob.respond(m, 200, "OK", tag="b1")
    t.join(15)
    assert result["r"].status == 200
    r = alice.message(bob.user, body + b"y")
    assert r.status == 413, (r.status, r.reason)
    bob.expect_no(lambda m: m.is_request and m.method == "MESSAGE")


def test_message_needs_credentials(phones):
    alice, bob = phones(), phones()
    assert alice.message(bob.user, "hi", auth=False).status == 407
    bob.expect_no(lambda m: m.is_request and m.method == "MESSAGE")


def test_calls_max_per_account_503(sip_make_server):
    srv = sip_make_server(env={"SIPWARD_CALLS_MAX_PER_ACCOUNT": "1"})
    api = srv.api()
    eps = [srv.endpoint(api) for _ in range(3)]
    alice, bob, carol = [Phone(srv, e.username, e.password, e.domain)
                         for e in eps]
    try:
        for p in (alice, bob, carol):
            p.register()
        alice.call(bob.user)
        db = bob.incoming()
        bob.respond(db.invite, 180, "Ringing", tag=db.local_tag)
        alice.wait_response("INVITE", 180)
        carol.call(bob.user)
        r = carol.wait_response("INVITE", final=True)
        assert r.status == 503 and r.get("Retry-After"), r.raw
        bob.respond(db.invite, 486, "Busy Here", tag=db.local_tag)
        assert alice.wait_response("INVITE", final=True).status == 486
        # The first call is over: the next one goes through.
        carol.call(bob.user)
        db = bob.incoming()
        bob.respond(db.invite, 486, "Busy Here", tag=db.local_tag)
        assert carol.wait_response("INVITE", final=True).status == 486
    finally:
        for p in (alice, bob, carol):
            p.close()
