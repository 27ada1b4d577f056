"""Faults under load: PostgreSQL stopped and restarted (on a private cluster,
so other suites running in parallel are not disturbed), and a node killed
with SIGKILL while clients fail over to another node. Nothing acknowledged
is ever lost; a write that did not commit is never acknowledged."""

import threading
import time

import requests

from mnlib import (needs_pg, new_phone, register, rest, run_threads,
                   wait_until, mn_cluster, mn_private_pg)  # noqa: F401

pytestmark = needs_pg

JSON = {"Content-Type": "application/json"}


def session():
    return requests.Session()


def hdr(api):
    return dict(api.auth_headers(), **JSON)


def check_error_body(r):
    """A 5xx must still be the JSON error of the contract."""
    body = r.json()
    assert isinstance(body, dict), r.text
    for k in ("api_id", "error", "message"):
        assert isinstance(body.get(k), str) and body[k], \
            "%d without %s: %r" % (r.status_code, k, r.text)
    assert rest.UUID_RE.match(body["api_id"]), body
    assert r.headers.get("X-Request-Id") == body["api_id"]
    return body


def final_alias_ok(final, attempts):
    """attempts: [(alias, status)] in the order sent for one endpoint. The
    stored alias must be the last acknowledged one, or one sent after it
    whose answer was not a 202 (it may have committed anyway)."""
    last_ack = max((i for i, (_, st) in enumerate(attempts) if st == 202),
                   default=None)
    if last_ack is None:
        allowed = {a for a, _ in attempts} | {None}
    else:
        allowed = {a for a, _ in attempts[last_ack:]}
    return final in allowed


# --------------------------------------------------------------------------

def test_postgres_stopped_under_load(mn_private_pg, mn_cluster):
    pg = mn_private_pg
    c = mn_cluster(2, db_url=rest.pg_create_db(base=pg.url))
    na, nb = c.nodes
    apis = [n.api() for n in c.nodes]
    a = apis[0]
    THREADS, OPS, PER = 4, 200, 5
    eps = [[a.create_endpoint(alias="init")["endpoint_id"]
            for _ in range(PER)] for _ in range(THREADS)]
    ph = new_phone(a, c.domain)
    lock = threading.Lock()
    attempts = {e: [] for t in eps for e in t}  # eid -> [(alias, status)]
    statuses = []
    bad = []  # answers other than 202/503, or broken 503 bodies
    samples = {}  # phase -> {message: count} of the 503s
    acked = [0]
    outage = threading.Event()
    phase = ["before"]
    seen_in_outage = [0]
    created = {}  # endpoint_id -> username (201s)
    create_attempts = []

    def updater(k):
        s = session()
        for i in range(OPS):
            api = apis[(k + i) % 2]
            eid = eps[k][i % PER]
            alias = "t%d-%d" % (k, i)
            try:
                r = s.post(api.url("Endpoint/%s/" % eid), json={
                    "alias": alias}, headers=hdr(api), timeout=15)
            except requests.RequestException as e:
                with lock:
                    bad.append("%s: %r" % (alias, e))
                    attempts[eid].append((alias, None))
                continue
            with lock:
                attempts[eid].append((alias, r.status_code))
                statuses.append(r.status_code)
                if r.status_code == 202:
                    acked[0] += 1
                    if r.content != b"":
                        bad.append("202 with a body: %r" % r.content[:200])
                elif r.status_code == 503:
                    try:
                        m = check_error_body(r)["message"]
                        d = samples.setdefault(phase[0], {})
                        d[m] = d.get(m, 0) + 1
                    except (AssertionError, ValueError) as e:
                        bad.append("503 body: %s" % e)
                    if outage.is_set():
                        seen_in_outage[0] += 1
                else:
                    bad.append("%s: %d %r" % (alias, r.status_code,
                                              r.text[:200]))
            time.sleep(0.01)

    def creator():
        s = session()
        for i in range(OPS // 2):
            api = apis[i % 2]
            u = rest.uname("f%d" % i)
            try:
                r = s.post(api.url("Endpoint/"), json={
                    "username": u, "password": rest.pw()}, headers=hdr(api),
                    timeout=15)
            except requests.RequestException as e:
                with lock:
                    bad.append("create %s: %r" % (u, e))
                continue
            with lock:
                create_attempts.append((u, r.status_code))
                if r.status_code == 201:
                    created[r.json()["endpoint_id"]] = u
                elif r.status_code == 503:
                    try:
                        check_error_body(r)
                    except (AssertionError, ValueError) as e:
                        bad.append("503 body: %s" % e)
                else:
                    bad.append("create %s: %d %r" % (u, r.status_code,
                                                     r.text[:200]))
            time.sleep(0.02)

    sip_during = {}
    timing = {}

    def chaos():
        wait_until(lambda: acked[0] >= 120, 30, what="load acknowledged")
        t = time.monotonic()
        phase[0] = "halting"
        pg.halt()  # pg_ctl stop -m fast, while requests are in flight
        phase[0] = "down"
        outage.set()
        timing["halt"] = time.monotonic() - t
        # the registrar cannot check credentials either: 503, not 200/403
        ua = ph.ua(na)
        with ua.c:
            r = register(ua)
            sip_during["status"] = r.status
        wait_until(lambda: seen_in_outage[0] >= 20, 20,
                   what="503s while PostgreSQL is down")
        time.sleep(0.3)
        t = time.monotonic()
        pg.resume()
        phase[0] = "after"
        outage.clear()
        timing["resume"] = time.monotonic() - t

    run_threads([lambda k=k: updater(k) for k in range(THREADS)] +
                [creator, chaos], timeout=90)

    assert not bad, "unexpected answers:\n" + "\n".join(bad[:20])
    assert na.alive() and nb.alive(), "a node died with PostgreSQL"
    n503 = statuses.count(503)
    assert n503 >= 20, "no outage seen by the load: %r" % n503
    assert sip_during["status"] == 503, \
        "REGISTER while PostgreSQL is down: %r" % sip_during

    # the nodes reconnect by themselves (bounded)
    t0 = time.monotonic()

    def serving():
        for api in apis:
            try:
                r = requests.get(api.url("Endpoint/"), headers=hdr(api),
                                 timeout=5)
                if r.status_code != 200:
                    return False
                r = requests.post(api.url("Endpoint/%s/" % eps[0][0]),
                                  json={"alias": "after"}, headers=hdr(api),
                                  timeout=5)
                if r.status_code != 202:
                    return False
            except requests.RequestException:
                return False
        return True

    wait_until(serving, 20, step=0.1, what="both nodes serving again")
    recovered = time.monotonic() - t0
    attempts[eps[0][0]].append(("after", 202))

    # and then serve every request: no worker is left on a dead connection
    # (a new connection per request, so that requests reach every worker)
    after_errors = []

    def steady(k):
        for i in range(40):
            api = apis[(k + i) % 2]
            if i % 2:
                r = requests.get(api.url("Endpoint/%s/" % eps[k][0]),
                                 headers=hdr(api), timeout=15)
                want = 200
            else:
                alias = "steady-%d-%d" % (k, i)
                r = requests.post(api.url("Endpoint/%s/" % eps[k][0]),
                                  json={"alias": alias}, headers=hdr(api),
                                  timeout=15)
                want = 202
                with lock:
                    attempts[eps[k][0]].append((alias, r.status_code))
            if r.status_code != want:
                with lock:
                    after_errors.append("node %s %s: %d %s" % (
                        api.server.name, r.request.method, r.status_code,
                        r.text[:120]))

    run_threads([lambda k=k: steady(k) for k in range(THREADS)], 60)
    print("PostgreSQL down for the load: %d x 202, %d x 503 (messages by "
          "phase: %r); halt %.2fs, resume %.2fs, nodes serving again %.2fs "
          "after resume" % (statuses.count(202), n503, samples,
                            timing["halt"], timing["resume"], recovered))

    # every acknowledged value is there, read back through both nodes
    for api in apis:
        got = {o["endpoint_id"]: o for o in api.all_endpoints()}
        for eid, att in attempts.items():
            assert final_alias_ok(got[eid]["alias"], att), \
                "endpoint %s holds %r; last acknowledged: %r" % (
                    eid, got[eid]["alias"],
                    [x for x in att if x[1] == 202][-1:])
        for eid, u in created.items():
            assert eid in got and got[eid]["username"] == u, \
                "acknowledged create %s (%s) lost" % (eid, u)
    # SIP works again too
    ua = ph.ua(nb)
    with ua.c:
        r = register(ua)
        assert r.status == 200, r.raw
    # last, after the data checks: the service checks
    problems = []
    if after_errors:
        problems.append(
            "%d of %d requests failed after the nodes were serving again "
            "(PostgreSQL back for %.2fs):\n  %s" % (
                len(after_errors), THREADS * 40, recovered,
                "\n  ".join(after_errors[:8])))
    if "before" in samples:
        # with PostgreSQL up, updates of distinct endpoints (no conflict
        # between them) never get a 503
        problems.append("503 while PostgreSQL was up (before the stop): "
                        "%r" % samples["before"])
    assert not problems, "\n".join(problems)


def test_node_killed_under_load_clients_retry_elsewhere(mn_cluster):
    """kill -9 of node A while clients write through it; each client retries
    a failed request on the next node. Everything acknowledged, by any
    node, is there afterwards; every operation ends acknowledged."""
    c = mn_cluster(3)
    nodes = c.nodes
    apis = [n.api() for n in nodes]
    THREADS, OPS = 4, 60
    lock = threading.Lock()
    acked_create = {}  # eid -> username
    acked_alias = {}  # eid -> [(alias, status)]
    failed = []
    retried = [0]
    total = [0]
    killed = threading.Event()

    def call(k, send):
        """send(api, session) -> response; tries node A, then on a
        connection error or 5xx moves on to the next node (bounded)."""
        s = session()
        order = [0, 1, 2] if k % 2 == 0 else [0, 2, 1]
        for attempt in range(12):
            api = apis[order[attempt % 3]]
            try:
                r = send(api, s)
            except requests.RequestException:
                r = None
            if r is not None and r.status_code < 500:
                return r, attempt
            with lock:
                retried[0] += 1
            s = session()
            time.sleep(0.02)
        return None, 12

    def client(k):
        for i in range(OPS):
            u = rest.uname("k%d" % k)
            body = {"username": u, "password": rest.pw(), "alias": "v0"}
            r, tries = call(k, lambda api, s: s.post(
                api.url("Endpoint/"), json=body, headers=hdr(api),
                timeout=10))
            if r is None:
                with lock:
                    failed.append("create %s" % u)
                continue
            if r.status_code == 201:
                eid = r.json()["endpoint_id"]
            elif r.status_code == 409 and tries:
                # a retry after an unanswered create that had committed:
                # the client looks it up, as a real one would
                found = [o for o in apis[1].list_endpoints(
                    username__exact=u)["objects"]]
                assert len(found) == 1, found
                eid = found[0]["endpoint_id"]
            else:
                with lock:
                    failed.append("create %s: %d %s" % (u, r.status_code,
                                                        r.text[:200]))
                continue
            with lock:
                acked_create[eid] = u
                acked_alias[eid] = [("v0", 202)]
                total[0] += 1
            alias = "v1-%d-%d" % (k, i)
            r, _ = call(k, lambda api, s: s.post(
                api.url("Endpoint/%s/" % eid), json={"alias": alias},
                headers=hdr(api), timeout=10))
            with lock:
                st = r.status_code if r is not None else None
                acked_alias[eid].append((alias, st))
                if st != 202:
                    failed.append("update %s: %r" % (eid, st))
                else:
                    total[0] += 1

    def killer():
        wait_until(lambda: total[0] >= 80, 30, what="load acknowledged")
        nodes[0].kill()  # SIGKILL with requests in flight
        killed.set()

    run_threads([lambda k=k: client(k) for k in range(THREADS)] + [killer],
                timeout=90)
    assert killed.is_set()
    assert not failed, "operations never acknowledged:\n" + "\n".join(
        failed[:20])
    print("node A killed under load: %d operations acknowledged, %d "
          "retries on another node" % (total[0], retried[0]))
    assert len(acked_create) == THREADS * OPS
    for api in apis[1:]:
        got = {o["endpoint_id"]: o for o in api.all_endpoints()}
        for eid, u in acked_create.items():
            assert eid in got and got[eid]["username"] == u, \
                "acknowledged create %s (%s) lost" % (eid, u)
            assert final_alias_ok(got[eid]["alias"], acked_alias[eid]), \
                (eid, got[eid]["alias"], acked_alias[eid])
        # nothing that was not asked for: no duplicates of a username
        names = [o["username"] for o in got.values()]
        assert len(names) == len(set(names))
    # node A comes back on the same database and sees it all
    nodes[0].start(expect_account=False)
    got = {o["endpoint_id"] for o in apis[0].all_endpoints()}
    assert set(acked_create) <= got
