"""Bindings (RFC 3261 section 10.3) and how they show in the API; password
change and delete end registrations."""

import calendar
import time

import pytest

from sip_conftest import pw, store_rows, wait_until
from sipclient import new_branch


def iso_to_epoch(s):
    return calendar.timegm(time.strptime(s[:19], "%Y-%m-%dT%H:%M:%S"))


def near(a, b, slack=2):
    return abs(a - b) <= slack


def cu(ua, tag):
    return ua.contact_uri(tag)


def contacts_exp(resp):
    assert resp.status == 200, resp.raw
    return resp.contacts()


def api_contacts(ep):
    obj = ep.get()
    return {r["contact"]: iso_to_epoch(r["expires"]) - time.time()
            for r in obj["sip_registrations"]}, obj


@pytest.fixture
def ua(sip_ep):
    u = sip_ep.ua("udp")
    yield u
    u.c.close()


def test_several_contacts_header_forms(sip_ep, ua):
    c1, c2, c3 = cu(ua, "one"), cu(ua, "two"), cu(ua, "three")
    r = ua.register_ok(contacts=["<%s>" % c1, "<%s>, <%s>" % (c2, c3)],
                       expires=600)
    got = r.contacts()
    assert set(got) == {c1, c2, c3}, r.raw
    for c in got:
        assert near(got[c], 600), got
    regs, obj = api_contacts(sip_ep)
    assert set(regs) == {c1, c2, c3}
    for c in regs:
        assert near(regs[c], 600), regs
    assert obj["sip_registered"] == "true"
    assert obj["sip_contact"] in (c1, c2, c3)
    for reg in obj["sip_registrations"]:
        assert reg["transport"] == "UDP"
        assert reg["user_agent"] == ua.user_agent


def test_expires_header_vs_contact_param(sip_ep, ua):
    c1, c2, c3 = cu(ua, "p"), cu(ua, "h"), cu(ua, "z")
    r = ua.register_ok(contacts=["<%s>;expires=120" % c1, "<%s>" % c2,
                                 "<%s>;expires=900" % c3], expires=600)
    got = r.contacts()
    assert near(got[c1], 120) and near(got[c2], 600) and near(got[c3], 900), \
        r.raw
    regs, _ = api_contacts(sip_ep)
    assert near(regs[c1], 120, 3) and near(regs[c2], 600, 3), regs
    # a contact's own expires beats Expires: 0
    c4 = cu(ua, "keep")
    r = ua.register_ok(contacts=["<%s>;expires=300" % c4], expires=0)
    assert near(r.contacts()[c4], 300), r.raw


def test_default_expires_without_any(sip_ep, ua):
    r = ua.register_ok(expires=None)
    (c, e), = r.contacts().items()
    assert near(e, 3600), r.raw


def test_expires_zero_removes_one(sip_ep, ua):
    c1, c2, c3 = cu(ua, "a"), cu(ua, "b"), cu(ua, "c")
    ua.register_ok(contacts=["<%s>" % c for c in (c1, c2, c3)])
    r = ua.register_ok(contacts=["<%s>" % c1], expires=0)
    assert set(r.contacts()) == {c2, c3}, r.raw
    # the expires=0 parameter form
    r = ua.register_ok(contacts=["<%s>;expires=0" % c2], expires=3600)
    assert set(r.contacts()) == {c3}, r.raw
    regs, obj = api_contacts(sip_ep)
    assert set(regs) == {c3}
    assert obj["sip_contact"] == c3
    # removing an unknown contact is fine and changes nothing
    r = ua.register_ok(contacts=["<%s>" % cu(ua, "nobody")], expires=0)
    assert set(r.contacts()) == {c3}, r.raw


def test_star_removes_all(sip_ep, ua):
    ua.register_ok(contacts=["<%s>" % cu(ua, t) for t in "xyz"])
    assert len(sip_ep.get()["sip_registrations"]) == 3
    r = ua.register_ok(contacts="*", expires=0)
    assert r.contacts() == {}, r.raw
    obj = sip_ep.get()
    assert obj["sip_registered"] == "false"
    assert obj["sip_registrations"] == []
    for k in ("sip_contact", "sip_expires", "sip_user_agent"):
        assert obj[k] is None, obj


@pytest.mark.parametrize("expires", [3600, None])
def test_star_without_expires_zero_is_400(sip_ep, ua, expires):
    ua.register_ok(contacts=["<%s>" % cu(ua, "s")])
    r = ua.register(contacts="*", expires=expires)
    assert r.status == 400, r.raw
    assert len(sip_ep.get()["sip_registrations"]) == 1


def test_star_with_another_contact_is_400(sip_ep, ua):
    ua.register_ok(contacts=["<%s>" % cu(ua, "s")])
    r = ua.register(contacts=["*", "<%s>" % cu(ua, "t")], expires=0)
    assert r.status == 400, r.raw
    assert len(sip_ep.get()["sip_registrations"]) == 1


@pytest.mark.parametrize("form", ["header", "param"])
def test_too_brief_is_423_with_min_expires(sip_ep, ua, form):
    c = cu(ua, "brief")
    if form == "header":
        r = ua.register(contacts=["<%s>" % c], expires=30)
    else:
        r = ua.register(contacts=["<%s>;expires=59" % c], expires=3600)
    assert r.status == 423, r.raw
    assert r.get("Min-Expires") == "60", r.raw
    assert sip_ep.get()["sip_registered"] == "false"
    # exactly the minimum is fine
    r = ua.register_ok(contacts=["<%s>" % c], expires=60)
    assert near(r.contacts()[c], 60), r.raw


def test_too_brief_refuses_the_whole_request(sip_ep, ua):
    ok, brief = cu(ua, "ok"), cu(ua, "brief")
    r = ua.register(contacts=["<%s>" % ok, "<%s>;expires=10" % brief],
                    expires=3600)
    assert r.status == 423, r.raw
    assert sip_ep.get()["sip_registrations"] == []


def test_too_long_is_clamped(sip_ep, ua):
    c1, c2, c3 = cu(ua, "long"), cu(ua, "longer"), cu(ua, "huge")
    r = ua.register_ok(contacts=["<%s>" % c1, "<%s>;expires=999999" % c2,
                                 "<%s>;expires=99999999999999" % c3],
                       expires=7200)
    got = r.contacts()
    assert near(got[c1], 3600) and near(got[c2], 3600), r.raw
    assert near(got[c3], 3600), r.raw
    regs, _ = api_contacts(sip_ep)
    assert near(regs[c1], 3600, 3) and near(regs[c2], 3600, 3), regs


def test_200_lists_every_live_contact_from_every_device(sip_server, sip_ep):
    a = sip_ep.ua("udp", user_agent="device-a/1")
    b = sip_ep.ua("tcp", user_agent="device-b/2")
    with a.c, b.c:
        ca, cb = cu(a, "a"), cu(b, "b")
        a.register_ok(contacts=["<%s>" % ca], expires=600)
        time.sleep(0.01)
        r = b.register_ok(contacts=["<%s>" % cb], expires=1200)
        got = r.contacts()
        assert set(got) == {ca, cb}, r.raw
        assert near(got[ca], 600) and near(got[cb], 1200)
        for line in r.all("Contact"):
            assert ";expires=" in line, line
        obj = sip_ep.get()
        assert obj["sip_contact"] == cb, "the newest binding: %r" % obj
        assert obj["sip_user_agent"] == "device-b/2"
        by = {x["contact"]: x for x in obj["sip_registrations"]}
        assert by[ca]["transport"] == "UDP" and by[cb]["transport"] == "TCP"
        assert by[ca]["user_agent"] == "device-a/1"
        assert by[cb]["received"] == "127.0.0.1:%d" % b.c.local[1]


def test_query_register_lists_bindings(sip_ep, ua):
    r = ua.register_ok(contacts=[], expires=None)
    assert r.contacts() == {}, r.raw
    c1, c2 = cu(ua, "q1"), cu(ua, "q2")
    ua.register_ok(contacts=["<%s>" % c1, "<%s>;expires=300" % c2])
    before = sip_ep.get()
    r = ua.register_ok(contacts=[], expires=None)
    got = r.contacts()
    assert set(got) == {c1, c2} and near(got[c2], 300), r.raw
    after = sip_ep.get()
    assert before["sip_registrations"] == after["sip_registrations"]


def test_same_call_id_lower_or_equal_cseq_rejected(sip_ep, ua):
    c = cu(ua, "order")
    ua.register_ok(contacts=["<%s>" % c], expires=600)
    cur = ua.cseq
    before = sip_ep.get()
    for cseq in (cur, cur - 1):
        ua.challenge(contacts=["<%s>" % c], expires=1200)
        r = ua.c.request(ua.register_bytes(
            contacts=["<%s>" % c], expires=1200, cseq=cseq,
            auth=ua.auth_header()))
        assert r.status == 400, (cseq, r.raw)
        after = sip_ep.get()
        assert after["sip_registrations"] == before["sip_registrations"]
    # and removal with an old CSeq is refused too
    ua.challenge(contacts="*", expires=0)
    r = ua.c.request(ua.register_bytes(contacts="*", expires=0, cseq=1,
                                       auth=ua.auth_header()))
    assert r.status == 400, r.raw
    assert sip_ep.get()["sip_registrations"] == before["sip_registrations"]
    # a higher CSeq is fine
    r = ua.register_ok(contacts=["<%s>" % c], expires=1200)
    assert near(r.contacts()[c], 1200)


def test_other_call_id_may_use_lower_cseq(sip_ep, ua):
    c = cu(ua, "moved")
    ua.cseq = 100
    ua.register_ok(contacts=["<%s>" % c], expires=600)
    other = sip_ep.ua("udp")
    with other.c:
        r = other.register_ok(contacts=["<%s>" % c], expires=1800)
        assert near(r.contacts()[c], 1800), r.raw


def test_max_contacts(sip_make_server):
    srv = sip_make_server(env={"SIPWARD_SIP_MAX_CONTACTS": 2})
    ep = srv.endpoint()
    ua = ep.ua("udp")
    with ua.c:
        c1, c2, c3 = cu(ua, "1"), cu(ua, "2"), cu(ua, "3")
        # three at once: refused whole
        r = ua.register(contacts=["<%s>" % c for c in (c1, c2, c3)])
        assert r.status == 403, r.raw
        assert ep.get()["sip_registrations"] == []
        ua.register_ok(contacts=["<%s>" % c1, "<%s>" % c2])
        r = ua.register(contacts=["<%s>" % c3])
        assert r.status == 403, r.raw
        assert {x["contact"] for x in ep.get()["sip_registrations"]} == \
            {c1, c2}
        # refreshing an existing one still works
        ua.register_ok(contacts=["<%s>" % c2], expires=900)
        # removing one in the same request makes room
        r = ua.register_ok(contacts=["<%s>;expires=0" % c1, "<%s>" % c3])
        assert set(r.contacts()) == {c2, c3}, r.raw


def test_max_contacts_counts_the_final_set(sip_make_server):
    """The limit applies to the bindings the request leaves, whatever the
    order of its Contact values: adding one and removing another in one
    REGISTER at the limit is fine."""
    srv = sip_make_server(env={"SIPWARD_SIP_MAX_CONTACTS": 2})
    ep = srv.endpoint()
    ua = ep.ua("udp")
    with ua.c:
        c1, c2, c3 = cu(ua, "1"), cu(ua, "2"), cu(ua, "3")
        ua.register_ok(contacts=["<%s>" % c1, "<%s>" % c2])
        r = ua.register(contacts=["<%s>" % c3, "<%s>;expires=0" % c1])
        assert r.status == 200, r.raw
        assert set(r.contacts()) == {c2, c3}, r.raw


def test_expired_bindings_disappear(sip_make_server):
    srv = sip_make_server(env={"SIPWARD_SIP_MIN_EXPIRES": 1,
                               "SIPWARD_SIP_SWEEP_INTERVAL": 1})
    ep = srv.endpoint()
    ua = ep.ua("udp")
    with ua.c:
        short, long_ = cu(ua, "short"), cu(ua, "long")
        r = ua.register_ok(contacts=["<%s>;expires=2" % short,
                                     "<%s>" % long_], expires=60)
        assert near(r.contacts()[short], 2, 1)
        assert len(ep.get()["sip_registrations"]) == 2
        wait_until(lambda: [x["contact"] for x in
                            ep.get()["sip_registrations"]] == [long_],
                   30, "only the long binding left in the API")
        r = ua.register_ok(contacts=[], expires=None)
        assert set(r.contacts()) == {long_}, r.raw
    # the sweeper removed the row as well (not only hidden as expired)
    wait_until(lambda: store_rows(srv, "registrations") == 1, 30,
               "the expired row swept from the store")


def test_password_change_ends_bindings_at_once(sip_server, sip_ep):
    udp = sip_ep.ua("udp")
    tcp = sip_ep.ua("tcp", alg="SHA-256")
    with udp.c, tcp.c:
        udp.register_ok(contacts=["<%s>" % cu(udp, "u")])
        tcp.register_ok(contacts=["<%s>" % cu(tcp, "t")])
        assert len(sip_ep.get()["sip_registrations"]) == 2
        new = pw()
        r = sip_ep.api.update_endpoint(sip_ep.id, {"password": new})
        assert r.status_code == 202, r.text
        obj = sip_ep.get()
        assert obj["sip_registered"] == "false", obj
        assert obj["sip_registrations"] == []
        assert obj["sip_contact"] is None
        # the old password fails at once, with the nonce in hand ...
        r = udp.c.request(udp.register_bytes(auth=udp.auth_header()))
        assert r.status == 401, r.raw
        # ... and with a fresh one
        r = tcp.register(fresh_nonce=True)
        assert r.status == 401, r.raw
        assert sip_ep.get()["sip_registered"] == "false"
        # the new one works
        udp.password = tcp.password = new
        udp.register_ok(fresh_nonce=True)
        tcp.register_ok(fresh_nonce=True)
        assert len(sip_ep.get()["sip_registrations"]) == 2


def test_other_updates_keep_bindings(sip_server, sip_ep, ua):
    ua.register_ok()
    r = sip_ep.api.update_endpoint(sip_ep.id, {"alias": "renamed phone"})
    assert r.status_code == 202, r.text
    assert sip_ep.get()["sip_registered"] == "true"


def test_delete_ends_bindings(sip_server, sip_api, sip_ep, ua):
    ua.register_ok()
    keep = sip_server.endpoint(sip_api)
    k = keep.ua("udp")
    with k.c:
        k.register_ok()
        r = sip_api.delete("Endpoint/%s/" % sip_ep.id)
        assert r.status_code == 204, r.text
        # further REGISTERs, with the old nonce or a fresh one, fail
        r = ua.c.request(ua.register_bytes(auth=ua.auth_header()))
        assert r.status == 401, r.raw
        r = ua.register(fresh_nonce=True)
        assert r.status == 401, r.raw
        # a query cannot be answered with bindings either
        r = ua.register(contacts=[], expires=None, fresh_nonce=True)
        assert r.status == 401, r.raw
        # the other endpoint is untouched
        assert keep.get()["sip_registered"] == "true"
        # a new endpoint with the same username starts unregistered
        again = sip_server.endpoint(sip_api, username=sip_ep.username)
        assert again.get()["sip_registered"] == "false"
        assert again.get()["sip_registrations"] == []


def test_list_shows_registrations_too(sip_server, sip_ep, ua):
    ua.register_ok()
    one = sip_ep.get()
    objs = sip_ep.api.list_endpoints(username__exact=sip_ep.username)[
        "objects"]
    assert len(objs) == 1
    for k in ("sip_registered", "sip_contact", "sip_expires",
              "sip_user_agent", "sip_registrations"):
        assert objs[0][k] == one[k], k


def test_list_filter_sip_registered(sip_make_server):
    """sip_registered=true|false lists the endpoints with / without a live
    binding (the web console's filter), combines with the other filters,
    keeps paging, and follows un-REGISTER and expiry at once."""
    srv = sip_make_server(env={"SIPWARD_SIP_MIN_EXPIRES": 1})
    api = srv.api()
    eps = [srv.endpoint(api) for _ in range(3)]
    on, off, brief = eps
    ua_on, ua_brief = on.ua("udp"), brief.ua("udp")

    def names(**params):
        return [o["username"] for o in api.all_endpoints(**params)]

    with ua_on.c, ua_brief.c:
        ua_on.register_ok()
        assert names(sip_registered="true") == [on.username]
        assert names(sip_registered="false") == [off.username,
                                                 brief.username]
        # a binding of 1 s: listed while it lives (seen at least once, or
        # its REGISTER is repeated), then gone by expiry alone
        wait_until(lambda: ua_brief.register_ok(expires=1) and names(
            sip_registered="true") == [on.username, brief.username], 30,
            "the 1 s binding listed while it lives")
        wait_until(lambda: names(sip_registered="true") == [on.username],
                   30, "the 1 s binding expired out of the filter")
        assert names(sip_registered="false") == [off.username,
                                                 brief.username]
        assert names(sip_registered="true",
                     username__exact=off.username) == []
        assert names(sip_registered="true",
                     username__exact=on.username) == [on.username]
        page = api.list_endpoints(sip_registered="false", limit=1)
        assert page["meta"]["total_count"] == 2
        assert "sip_registered=false" in page["meta"]["next"]
        assert [o["username"] for o in page["objects"]] == [off.username]
        for o in api.list_endpoints(sip_registered="true")["objects"]:
            assert o["sip_registered"] == "true"
        ua_on.register_ok(contacts="*", expires=0)
        assert names(sip_registered="true") == []
    for bad in ("yes", "", "TRUE"):
        r = api.get("Endpoint/", params={"sip_registered": bad})
        assert r.status_code == 400, r.text
        assert r.json()["details"] == {
            "sip_registered": "Must be true or false"}
