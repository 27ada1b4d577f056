"""Many nodes on one database: two or three real sipward processes sharing
one PostgreSQL database, each with its own HTTP and SIP ports. Every change
acknowledged by one node is what every other node answers at once: there
is no cache between the API or the registrar and the database."""

import threading
import time

import requests

from mnlib import (Phone, needs_pg, new_phone, register, rest, run_threads,
                   wait_until, mn_cluster)  # noqa: F401 (fixture)

pytestmark = needs_pg

expect_error = rest.expect_error
expect_empty = rest.expect_empty
expect_ok_json = rest.expect_ok_json


def apis(cluster):
    return [n.api() for n in cluster.nodes]


def same_endpoint(a, b):
    """Equal but for the per-request api_id."""
    rest.assert_unchanged(a, b)


# --------------------------------------------------------------------------
# REST: created, updated, deleted on one node, seen by the others at once

def test_endpoint_created_updated_deleted_on_a_seen_by_b_at_once(mn_cluster):
    c = mn_cluster(3)
    a, b, cc = apis(c)
    for rnd in range(5):
        src, others = [(a, (b, cc)), (b, (a, cc)), (cc, (a, b))][rnd % 3]
        u = rest.uname("mn")
        eid = src.create_endpoint(u, alias="made %d" % rnd)["endpoint_id"]
        mine = src.endpoint(eid)
        for o in others:  # no sleep: the very next request
            same_endpoint(mine, o.endpoint(eid))
            assert [x["endpoint_id"] for x in o.list_endpoints(
                username__exact=u)["objects"]] == [eid]
        expect_empty(src.update_endpoint(eid, {"alias": "changed %d" % rnd,
                                               "allow_video": True}), 202)
        mine = src.endpoint(eid)
        assert mine["alias"] == "changed %d" % rnd
        for o in others:
            same_endpoint(mine, o.endpoint(eid))
        expect_empty(src.delete("Endpoint/%s/" % eid), 204)
        for o in others:
            expect_error(o.get("Endpoint/%s/" % eid), 404)
            assert o.list_endpoints(username__exact=u)["objects"] == []
            # and cannot be changed or deleted again there
            expect_error(o.update_endpoint(eid, {"alias": "x"}), 404)
            expect_error(o.delete("Endpoint/%s/" % eid), 404)


def test_applications_and_bindings_across_nodes(mn_cluster):
    c = mn_cluster(2)
    a, b = apis(c)
    app = a.create_app(app_name="on A")["app_id"]
    assert b.app(app)["app_name"] == "on A"
    eid = b.create_endpoint(application=app)["endpoint_id"]
    assert a.endpoint(eid)["application"]["app_id"] == app
    expect_ok_json(b.post("Application/%s/" % app,
                          {"app_name": "renamed on B",
                           "default_endpoint_app": True}), 202)
    assert a.endpoint(eid)["application"]["app_name"] == "renamed on B"
    assert a.app(app)["default_endpoint_app"] is True
    # the default set on B applies to a create on A
    e2 = a.create_endpoint()["endpoint_id"]
    assert b.endpoint(e2)["application"]["app_id"] == app
    # deleting an app in use, on A: 409; cascade on B removes the endpoints
    expect_error(a.delete("Application/%s/" % app), 409)
    r = b.req("DELETE", "Application/%s/" % app,
              json_body={"cascade": "true"})
    assert r.status_code == 204, r.text
    for e in (eid, e2):
        expect_error(a.get("Endpoint/%s/" % e), 404)
    expect_error(a.get("Application/%s/" % app), 404)


def test_account_created_by_cli_works_on_every_node(mn_cluster):
    c = mn_cluster(2)
    acct = rest.cli_account_create(c.db_url, domain=rest.udomain("cli"))
    for n in c.nodes:
        expect_ok_json(n.api(acct).get("Endpoint/"), 200)
    eid = c.nodes[0].api(acct).create_endpoint()["endpoint_id"]
    c.nodes[1].api(acct).endpoint(eid)
    # and it is isolated from the first account on every node
    for n in c.nodes:
        expect_error(n.api().get("Endpoint/%s/" % eid), 404)


def test_same_username_on_two_nodes_at_the_same_moment(mn_cluster):
    """Exactly one 201 and one 409, round after round; never 5xx."""
    c = mn_cluster(3)
    a, b, cc = apis(c)
    rounds = 25
    outcomes = []
    for i in range(rounds):
        u = rest.uname("race")
        gate = threading.Barrier(3)
        got = {}

        def create(api, key):
            s = requests.Session()
            body = {"username": u, "password": rest.pw()}
            hdr = dict(api.auth_headers(), **{
                "Content-Type": "application/json"})
            gate.wait(timeout=10)
            r = s.post(api.url("Endpoint/"), json=body, headers=hdr,
                       timeout=rest.HTTP_TIMEOUT)
            got[key] = r

        run_threads([lambda x=x, k=k: create(x, k)
                     for k, x in (("A", a), ("B", b), ("C", cc))], 30)
        codes = sorted(r.status_code for r in got.values())
        outcomes.append(codes)
        assert codes == [201, 409, 409], \
            "round %d: status, body per node: %r" % (i, {k: (r.status_code, r.text[:200])
                                             for k, r in got.items()})
        for r in got.values():
            if r.status_code == 409:
                expect_error(r, 409)
        objs = a.list_endpoints(username__exact=u)["objects"]
        assert len(objs) == 1, objs
    print("same-username races: %d rounds, every one exactly one 201"
          % len(outcomes))


# --------------------------------------------------------------------------
# registrar across nodes

def test_phone_registered_through_a_shows_registered_on_b(mn_cluster):
    c = mn_cluster(3)
    na, nb, nc = c.nodes
    a, b, cc = apis(c)
    ph = new_phone(a, c.domain)
    assert b.endpoint(ph.id)["sip_registered"] == "false"
    ua = ph.ua(na, user_agent="phone-on-A/1")
    with ua.c:
        contact = ph.contact(ua)
        r = register(ua, expires=600, contacts=["<%s>" % contact])
        assert r.status == 200, r.raw
        for api in (b, cc, a):  # the very next request, no sleep
            ep = api.endpoint(ph.id)
            assert ep["sip_registered"] == "true", ep
            assert ep["sip_contact"] == contact, ep
            assert ep["sip_user_agent"] == "phone-on-A/1", ep
            assert rest.TS_RE.match(ep["sip_expires"]), ep
            regs = ep["sip_registrations"]
            assert [x["contact"] for x in regs] == [contact], regs
            assert regs[0]["transport"].upper() == "UDP"
    # a second contact through C: both seen on A and B
    ua2 = ph.ua(nc, user_agent="phone-on-C/1")
    with ua2.c:
        c2 = ph.contact(ua2, "c")
        r = register(ua2, expires=600, contacts=["<%s>" % c2])
        assert r.status == 200, r.raw
        # the 200 lists every live contact, the one made through A too
        assert set(r.contacts()) == {contact, c2}, r.raw
        for api in (a, b):
            regs = api.endpoint(ph.id)["sip_registrations"]
            assert {x["contact"] for x in regs} == {contact, c2}, regs
        # unregister everything through C (Contact: *, Expires: 0)
        r = ua2.c.request(ua2.register_bytes(
            contacts="*", expires=0, auth=ua2.auth_header()))
        assert r.status == 200, r.raw
        for api in (a, b, cc):
            ep = api.endpoint(ph.id)
            assert ep["sip_registered"] == "false", ep
            assert ep["sip_registrations"] == [], ep


def test_endpoint_deleted_on_b_ends_bindings_made_on_a(mn_cluster):
    c = mn_cluster(2)
    na, nb = c.nodes
    a, b = apis(c)
    ph = new_phone(a, c.domain)
    ua = ph.ua(na)
    with ua.c:
        assert register(ua).status == 200
        assert b.endpoint(ph.id)["sip_registered"] == "true"
        expect_empty(b.delete("Endpoint/%s/" % ph.id), 204)
        expect_error(a.get("Endpoint/%s/" % ph.id), 404)
        # the next REGISTER on A, with the right password and a valid
        # nonce: no such endpoint any more
        r = ua.c.request(ua.register_bytes(auth=ua.auth_header()))
        assert r.status in (401, 403, 404), \
            "REGISTER of an endpoint deleted on the other node: %r" % r.raw


def test_nonce_issued_by_a_is_accepted_by_b(mn_cluster):
    c = mn_cluster(3)
    na, nb, nc = c.nodes
    a = c.nodes[0].api()
    ph = new_phone(a, c.domain)
    for issuer, verifier in ((na, nb), (nb, nc), (nc, na)):
        ua_i = ph.ua(issuer)
        ua_v = ph.ua(verifier)
        with ua_i.c, ua_v.c:
            ua_i.challenge()
            # the verifier never saw this nonce: it only checks the
            # signature made with the shared secret
            ua_v.nonce, ua_v.nonce_alg = ua_i.nonce, ua_i.nonce_alg
            ua_v.realm, ua_v.nc = ua_i.realm, 0
            r = ua_v.c.request(ua_v.register_bytes(
                auth=ua_v.auth_header(), expires=300))
            assert r.status == 200, "nonce of %s refused by %s: %r" % (
                issuer.name, verifier.name, r.raw[:400])
            # and the wrong password with that nonce still fails there
            r = ua_v.c.request(ua_v.register_bytes(
                auth=ua_v.auth_header(password="not-the-password"),
                expires=300))
            assert r.status == 401, r.raw


def test_nonce_of_a_node_with_another_secret_is_refused(mn_cluster):
    """The control: nonces are accepted across nodes because of the shared
    secret, not because any well-formed nonce is."""
    c = mn_cluster(1)
    other = c.add(env={"SIPWARD_SIP_NONCE_SECRET":
                       "a-different-secret-0123456789"})
    ph = new_phone(c.nodes[0].api(), c.domain)
    ua_i, ua_v = ph.ua(c.nodes[0]), ph.ua(other)
    with ua_i.c, ua_v.c:
        ua_i.challenge()
        ua_v.nonce, ua_v.nonce_alg = ua_i.nonce, ua_i.nonce_alg
        ua_v.realm, ua_v.nc = ua_i.realm, 0
        r = ua_v.c.request(ua_v.register_bytes(auth=ua_v.auth_header()))
        assert r.status == 401, r.raw


def test_password_changed_on_b_old_password_fails_on_a_at_once(mn_cluster):
    """From the moment node B sends the 202, node A refuses the old password
    and A's bindings for the endpoint are gone. Measured over several
    changes: how long the old password kept working on A (must be 0)."""
    c = mn_cluster(2)
    na, nb = c.nodes
    a, b = apis(c)
    ph = new_phone(a, c.domain)
    ua = ph.ua(na)
    rounds = 8
    windows = []
    with ua.c:
        for i in range(rounds):
            old = ph.password
            # warm any cache node A might have: the old password works
            r = register(ua, expires=600, password=old)
            assert r.status == 200, r.raw
            assert a.endpoint(ph.id)["sip_registered"] == "true"
            new = rest.pw()
            # a nonce in hand so the probe is a single datagram
            ua.challenge()
            expect_empty(b.update_endpoint(ph.id, {"password": new}), 202)
            t0 = time.monotonic()
            r = ua.c.request(ua.register_bytes(
                auth=ua.auth_header(password=old), expires=600))
            first = r.status
            # keep probing (bounded) to measure any window
            accepted = 0
            last_ok = None
            while first == 200 and time.monotonic() - t0 < 5:
                accepted += 1
                last_ok = time.monotonic() - t0
                r = register(ua, expires=600, password=old,
                             fresh_nonce=True)
                if r.status != 200:
                    break
            windows.append(0.0 if first != 200 else last_ok)
            assert first == 401, \
                "round %d: old password accepted by node A right after " \
                "node B's 202 (%d accepted, for %.3fs)" % (
                    i, accepted, last_ok or 0)
            # A's bindings ended with the change: seen through A and B
            for api in (a, b):
                ep = api.endpoint(ph.id)
                assert ep["sip_registered"] == "false", \
                    "round %d: binding survived the password change: %r" \
                    % (i, ep["sip_registrations"])
            ph.password = ua.password = new
            r = register(ua, expires=600, password=new, fresh_nonce=True)
            assert r.status == 200, r.raw
    print("old password valid on the other node after the 202: max %.3fs "
          "over %d changes (0 = no cache)" % (max(windows), rounds))


def test_password_changed_on_b_while_a_registers_in_a_loop(mn_cluster):
    """A phone hammers node A with the old password while B changes it: no
    REGISTER sent after the 202 succeeds, and once the 202 is sent no
    binding made with the old password is left (one authenticated just
    before the change must not be stored after it)."""
    c = mn_cluster(2)
    na, nb = c.nodes
    a, b = apis(c)
    ph = new_phone(a, c.domain)
    old = ph.password
    results = []  # (sent, answered, status)
    stop = threading.Event()
    t_202 = []

    def phone():
        ua = ph.ua(na)
        with ua.c:
            ua.challenge()
            n = 0
            while not stop.is_set() and n < 200000:
                n += 1
                t = time.monotonic()
                try:
                    r = ua.c.request(ua.register_bytes(
                        auth=ua.auth_header(password=old), expires=600))
                except AssertionError:
                    continue
                results.append((t, time.monotonic(), r.status))
                if r.status == 401:
                    try:
                        ua.take_challenge(r)
                    except AssertionError:
                        pass

    def changer():
        try:
            wait_until(lambda: sum(1 for r in list(results) if r[2] == 200)
                       >= 5, 30, what="REGISTERs with the old password")
            expect_empty(b.update_endpoint(ph.id, {"password": rest.pw()}),
                         202)
            t_202.append(time.monotonic())
            wait_until(lambda: sum(1 for r in list(results)
                                   if r[0] > t_202[0]) >= 20, 30,
                       what="REGISTERs sent after the 202")
        finally:
            stop.set()

    run_threads([phone, changer], 30)
    assert t_202
    t0 = t_202[0]
    before = [st for t, _, st in results if t < t0]
    after = [st for t, _, st in results if t > t0]
    assert 200 in before, "the old password never worked before the change"
    assert after, "no REGISTER after the change"
    assert 200 not in after, "old password accepted after the 202: %r" % after
    ep = a.endpoint(ph.id)
    straddling = ["sent %+.1fms, 200 at %+.1fms" % ((t - t0) * 1e3,
                                                    (u - t0) * 1e3)
                  for t, u, st in results if st == 200][-3:]
    assert ep["sip_registered"] == "false", \
        "a binding made with the old password outlives the password " \
        "change (202 received at 0ms); the last REGISTERs with the old " \
        "password answered 200: %s; bindings: %r" % (straddling,
                                             ep["sip_registrations"])


# --------------------------------------------------------------------------
# sweeping expired bindings

SWEEP_ENV = {"SIPWARD_SIP_MIN_EXPIRES": 1, "SIPWARD_SIP_SWEEP_INTERVAL": 1,
             "SIPWARD_LOG_LEVEL": "debug"}


def wait_more_sweeps(c, n=2):
    """Waits until every node has completed n more sweep rounds."""
    base = {x.name: x.sweep_rounds() for x in c.nodes}
    wait_until(lambda: all(x.sweep_rounds() >= base[x.name] + n
                           for x in c.nodes), 30,
               what="%d more sweep rounds on every node" % n)


def test_expired_bindings_swept_once_not_once_per_node(mn_cluster):
    c = mn_cluster(3, env=SWEEP_ENV)
    a = c.nodes[0].api()
    phones = [new_phone(a, c.domain) for _ in range(9)]
    expired = 0
    for i, ph in enumerate(phones):
        node = c.nodes[i % 3]
        ua = ph.ua(node)
        with ua.c:
            cs = ["<%s>" % ph.contact(ua, t) for t in ("x", "y")]
            r = register(ua, expires=1, contacts=cs)
            assert r.status == 200, r.raw
            expired += 2
    before = sum(n.swept() for n in c.nodes)
    assert before == 0 or before <= expired
    # every binding expires after 1 s; every node sweeps every second
    wait_until(lambda: sum(n.swept() for n in c.nodes) >= expired, 10,
               what="sweeps adding up to %d" % expired)
    wait_more_sweeps(c)  # nothing more is swept
    counts = {n.name: n.swept() for n in c.nodes}
    print("swept per node: %r (expired: %d)" % (counts, expired))
    assert sum(counts.values()) == expired, \
        "sweep counts %r add up to %d, not the %d bindings that expired" % (
            counts, sum(counts.values()), expired)
    left = rest.psql(c.db_url, "SELECT count(*) FROM registrations").strip()
    assert left == "0", left
    for ph in phones:
        assert a.endpoint(ph.id)["sip_registered"] == "false"


def test_a_node_never_removes_another_nodes_live_bindings(mn_cluster):
    c = mn_cluster(3, env=SWEEP_ENV)
    na, nb, nc = c.nodes
    a, b, cc = apis(c)
    live = new_phone(a, c.domain)
    mixed = new_phone(a, c.domain)
    ua_live = live.ua(na)
    ua_m1, ua_m2 = mixed.ua(nb), mixed.ua(nc)
    with ua_live.c, ua_m1.c, ua_m2.c:
        lc = live.contact(ua_live)
        assert register(ua_live, expires=120,
                        contacts=["<%s>" % lc]).status == 200
        keep = mixed.contact(ua_m1, "keep")
        assert register(ua_m1, expires=120,
                        contacts=["<%s>" % keep]).status == 200
        gone = mixed.contact(ua_m2, "gone")
        assert register(ua_m2, expires=1,
                        contacts=["<%s>" % gone]).status == 200
        wait_until(lambda: sum(n.swept() for n in c.nodes) >= 1, 10,
                   what="the short binding swept")
        wait_more_sweeps(c)
        assert sum(n.swept() for n in c.nodes) == 1
        for api in (a, b, cc):
            ep = api.endpoint(live.id)
            assert ep["sip_registered"] == "true", ep
            assert [x["contact"] for x in ep["sip_registrations"]] == [lc]
            ep = api.endpoint(mixed.id)
            assert [x["contact"] for x in ep["sip_registrations"]] == \
                [keep], ep
        # a re-REGISTER through another node keeps the other node's contact
        ua_m3 = mixed.ua(na)
        with ua_m3.c:
            third = mixed.contact(ua_m3, "third")
            assert register(ua_m3, expires=120,
                            contacts=["<%s>" % third]).status == 200
        got = {x["contact"] for x in b.endpoint(mixed.id)[
            "sip_registrations"]}
        assert got == {keep, third}, got
