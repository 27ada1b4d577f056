"""Concurrency: parallel updates of different endpoints, parallel creates
of one username, parallel default_endpoint_app changes. Bounded in count;
every request has a timeout; no timing assertions."""

import threading
from concurrent.futures import ThreadPoolExecutor

import requests

from conftest import HTTP_TIMEOUT, uname, pw

THREADS = 32
ENDPOINTS = 200
ROUNDS = 3


def _session():
    s = requests.Session()
    a = requests.adapters.HTTPAdapter(pool_connections=2, pool_maxsize=2)
    s.mount("http://", a)
    return s


_local = threading.local()


def _sess():
    if not hasattr(_local, "s"):
        _local.s = _session()
    return _local.s


def test_parallel_updates_all_visible(fresh):
    a = fresh
    hdr = dict(a.auth_headers(), **{"Content-Type": "application/json"})

    def create(i):
        r = _sess().post(a.url("Endpoint/"), headers=hdr, timeout=HTTP_TIMEOUT,
                         json={"username": "c%03d_%s" % (i, uname("x")),
                               "password": pw()})
        return r.status_code, r.json().get("endpoint_id")

    with ThreadPoolExecutor(max_workers=16) as ex:
        res = list(ex.map(create, range(ENDPOINTS)))
    assert all(s == 201 for s, _ in res), [s for s, _ in res if s != 201]
    ids = [e for _, e in res]
    assert len(set(ids)) == ENDPOINTS

    acked = {}
    lock = threading.Lock()
    statuses = []

    def update(job):
        rnd, eid = job
        alias = "r%d-%s" % (rnd, eid)
        r = _sess().post(a.url("Endpoint/%s/" % eid), headers=hdr,
                         json={"alias": alias}, timeout=HTTP_TIMEOUT)
        with lock:
            statuses.append(r.status_code)
            if r.status_code == 202:
                acked[eid] = alias

    for rnd in range(ROUNDS):
        with ThreadPoolExecutor(max_workers=THREADS) as ex:
            list(ex.map(update, [(rnd, e) for e in ids]))
    bad = [s for s in statuses if s != 202]
    assert not bad, "non-202 answers under concurrency: %r" % bad
    assert len(acked) == ENDPOINTS
    got = {o["endpoint_id"]: o["alias"] for o in a.all_endpoints()}
    for eid, alias in acked.items():
        assert got.get(eid) == alias, (eid, got.get(eid), alias)


def test_parallel_creates_same_username_one_wins(fresh):
    a = fresh
    user = uname("race")
    hdr = dict(a.auth_headers(), **{"Content-Type": "application/json"})

    def create(_):
        r = _sess().post(a.url("Endpoint/"), headers=hdr,
                         json={"username": user, "password": pw()},
                         timeout=HTTP_TIMEOUT)
        return r.status_code

    with ThreadPoolExecutor(max_workers=THREADS) as ex:
        codes = list(ex.map(create, range(THREADS * 2)))
    assert codes.count(201) == 1, codes
    assert all(c in (201, 409) for c in codes), codes
    assert a.list_endpoints(username__exact=user)["meta"]["total_count"] == 1


def test_parallel_creates_same_username_across_accounts_same_domain(server):
    from conftest import udomain
    dom = udomain("race")
    accts = [server.new_account(domain=dom) for _ in range(4)]
    user = uname("xrace")

    def create(i):
        a = accts[i % len(accts)]
        r = _sess().post(a.url("Endpoint/"),
                         headers=dict(a.auth_headers(),
                                      **{"Content-Type": "application/json"}),
                         json={"username": user, "password": pw()},
                         timeout=HTTP_TIMEOUT)
        return r.status_code

    with ThreadPoolExecutor(max_workers=16) as ex:
        codes = list(ex.map(create, range(32)))
    assert codes.count(201) == 1, codes
    assert all(c in (201, 409) for c in codes), codes


def test_parallel_default_app_at_most_one(fresh):
    a = fresh
    apps = [a.create_app()["app_id"] for _ in range(12)]
    hdr = dict(a.auth_headers(), **{"Content-Type": "application/json"})

    def flag(app):
        r = _sess().post(a.url("Application/%s/" % app), headers=hdr,
                         json={"default_endpoint_app": True},
                         timeout=HTTP_TIMEOUT)
        return r.status_code

    for _ in range(3):
        with ThreadPoolExecutor(max_workers=12) as ex:
            codes = list(ex.map(flag, apps))
        assert all(c == 202 for c in codes), codes
        flagged = [o["app_id"] for o in a.all_apps()
                   if o["default_endpoint_app"]]
        assert len(flagged) == 1, flagged


def test_parallel_delete_app_and_bind(fresh):
    """Binding endpoints to an app while it is deleted never leaves an
    endpoint pointing at a deleted application."""
    a = fresh
    hdr = dict(a.auth_headers(), **{"Content-Type": "application/json"})
    for _ in range(3):
        app = a.create_app()["app_id"]
        eids = [a.create_endpoint()["endpoint_id"] for _ in range(10)]

        def bind(eid):
            return _sess().post(a.url("Endpoint/%s/" % eid), headers=hdr,
                                json={"application": app},
                                timeout=HTTP_TIMEOUT).status_code

        def delete(_):
            return _sess().delete(a.url("Application/%s/" % app),
                                  headers=a.auth_headers(),
                                  timeout=HTTP_TIMEOUT).status_code

        with ThreadPoolExecutor(max_workers=11) as ex:
            futs = [ex.submit(bind, e) for e in eids] + [ex.submit(delete, 0)]
            codes = [f.result() for f in futs]
        assert all(c in (202, 400) for c in codes[:-1]), codes
        assert codes[-1] in (204, 409), codes
        app_exists = a.get("Application/%s/" % app).status_code == 200
        for e in eids:
            got = a.endpoint(e)["application"]
            if got is not None:
                assert app_exists and got["app_id"] == app, \
                    "endpoint %s bound to deleted app %s" % (e, app)
        if app_exists:
            a.req("DELETE", "Application/%s/" % app,
                  json_body={"cascade": "true"})


def test_parallel_reads_and_writes_no_errors(fresh):
    a = fresh
    eids = [a.create_endpoint()["endpoint_id"] for _ in range(20)]
    hdr = dict(a.auth_headers(), **{"Content-Type": "application/json"})

    def work(i):
        eid = eids[i % len(eids)]
        s = _sess()
        if i % 3 == 0:
            r = s.post(a.url("Endpoint/%s/" % eid), headers=hdr,
                       json={"allow_video": bool(i % 2)}, timeout=HTTP_TIMEOUT)
            return r.status_code == 202
        if i % 3 == 1:
            r = s.get(a.url("Endpoint/%s/" % eid), headers=hdr,
                      timeout=HTTP_TIMEOUT)
            return r.status_code == 200 and r.json()["endpoint_id"] == eid
        r = s.get(a.url("Endpoint/"), headers=hdr, params={"limit": 100},
                  timeout=HTTP_TIMEOUT)
        return r.status_code == 200 and \
            r.json()["meta"]["total_count"] == len(eids)

    with ThreadPoolExecutor(max_workers=THREADS) as ex:
        ok = list(ex.map(work, range(600)))
    assert all(ok), ok.count(False)


def test_idle_and_half_sent_connections_do_not_block_others(server, api):
    import socket
    held = []
    try:
        for i in range(60):
            s = socket.create_connection(("127.0.0.1", server.port),
                                         timeout=10)
            if i % 2:
                # headers of a POST whose body never comes
                s.sendall(("POST /api/v1/Account/%s/Endpoint/ HTTP/1.1\r\n"
                           "Host: x\r\nContent-Type: application/json\r\n"
                           "X-Auth-ID: %s\r\nX-Auth-Token: %s\r\n"
                           "Content-Length: 100\r\n\r\n{\"user"
                           % (api.auth_id, api.auth_id, api.token)).encode())
            else:
                s.sendall(b"GET /api/v1/Acc")  # half a request line
            held.append(s)
        for _ in range(5):
            r = requests.get(api.url("Endpoint/"), headers=api.auth_headers(),
                             params={"limit": 1}, timeout=HTTP_TIMEOUT)
            assert r.status_code == 200
        api.create_endpoint()
    finally:
        for s in held:
            s.close()
