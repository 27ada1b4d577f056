"""Durability: every acknowledged (201/202/204) change survives SIGKILL of
the server right after the answer, and a clean restart."""

import signal

from conftest import (expect_empty, expect_error, expect_ok_json, uname, pw,
                      wait_until)

N = 40


def test_acknowledged_updates_survive_kill9(make_server):
    srv = make_server()
    a = srv.api()
    seq = a.create_endpoint(alias="start")["endpoint_id"]
    others = [a.create_endpoint()["endpoint_id"] for _ in range(10)]
    acked = {}
    for i in range(N):
        r = a.update_endpoint(seq, {"alias": "seq %d" % i})
        expect_empty(r, 202)
        acked[seq] = "seq %d" % i
        e = others[i % len(others)]
        r = a.update_endpoint(e, {"alias": "other %d" % i,
                                  "allow_video": bool(i % 2)})
        expect_empty(r, 202)
        acked[e] = ("other %d" % i, bool(i % 2))
    srv.kill()  # SIGKILL immediately after the last 202
    srv.start(expect_account=False)
    a = srv.api()
    assert a.endpoint(seq)["alias"] == acked.pop(seq)
    for e, (alias, video) in acked.items():
        got = a.endpoint(e)
        assert (got["alias"], got["allow_video"]) == (alias, video), e


def test_creates_deletes_and_apps_survive_kill9(make_server):
    srv = make_server()
    a = srv.api()
    created = [a.create_endpoint(uname(), alias="c%d" % i)
               for i in range(N)]
    doomed = [c["endpoint_id"] for c in created[:10]]
    for e in doomed:
        expect_empty(a.delete("Endpoint/%s/" % e), 204)
    app = a.create_app(app_name="durable app")["app_id"]
    expect_ok_json(a.post("Application/%s/" % app,
                          {"app_name": "durable renamed",
                           "default_endpoint_app": True}), 202)
    last = a.create_endpoint(application=app)["endpoint_id"]
    srv.kill()
    srv.start(expect_account=False)
    a = srv.api()
    for e in doomed:
        expect_error(a.get("Endpoint/%s/" % e), 404)
    for c in created[10:]:
        got = a.endpoint(c["endpoint_id"])
        assert got["username"] == c["username"]
        assert got["alias"] == c["alias"]
    o = a.app(app)
    assert o["app_name"] == "durable renamed"
    assert o["default_endpoint_app"] is True
    assert a.endpoint(last)["application"]["app_id"] == app
    assert a.list_endpoints()["meta"]["total_count"] == N - 10 + 1


def test_password_change_survives_kill9_without_leaking(make_server):
    srv = make_server()
    a = srv.api()
    eid = a.create_endpoint()["endpoint_id"]
    before = a.endpoint(eid)
    expect_empty(a.update_endpoint(eid, {"password": pw()}), 202)
    srv.kill()
    srv.start(expect_account=False)
    after = srv.api().endpoint(eid)
    assert "password" not in after
    assert after["username"] == before["username"]


def test_account_and_token_survive_restart(make_server):
    srv = make_server()
    first = dict(srv.account)
    b = srv.new_account()
    srv.kill()
    srv.start(expect_account=False)  # prints nothing: not a first start
    assert srv.account == first
    expect_ok_json(srv.api().get("Endpoint/"), 200)
    expect_ok_json(b.get("Endpoint/"), 200)
    srv.stop()
    srv.start(expect_account=False)
    expect_ok_json(srv.api().get("Endpoint/"), 200)


def test_sigterm_exits_zero_and_keeps_data(make_server):
    srv = make_server()
    a = srv.api()
    eid = a.create_endpoint(alias="before stop")["endpoint_id"]
    expect_empty(a.update_endpoint(eid, {"alias": "after update"}), 202)
    proc = srv.proc
    proc.send_signal(signal.SIGTERM)
    rc = proc.wait(timeout=10)
    srv.proc = None
    assert rc == 0, "exit status after SIGTERM: %r" % rc
    srv.start(expect_account=False)
    assert srv.api().endpoint(eid)["alias"] == "after update"


def test_rejected_requests_leave_nothing_after_restart(make_server):
    srv = make_server()
    a = srv.api()
    eid = a.create_endpoint(alias="stable")["endpoint_id"]
    user = uname()
    expect_error(a.post("Endpoint/", {"username": user, "password": "x"}),
                 400)
    expect_error(a.update_endpoint(eid, {"alias": "bad", "allow_apps":
                                         False}), 400)
    srv.kill()
    srv.start(expect_account=False)
    a = srv.api()
    assert a.endpoint(eid)["alias"] == "stable"
    assert a.list_endpoints(username__exact=user)["objects"] == []


def test_concurrent_acknowledged_updates_survive_kill9(make_server):
    import threading
    from concurrent.futures import ThreadPoolExecutor
    import requests
    srv = make_server()
    a = srv.api()
    ids = [a.create_endpoint()["endpoint_id"] for _ in range(60)]
    acked = {}
    lock = threading.Lock()
    hdr = dict(a.auth_headers(), **{"Content-Type": "application/json"})

    def upd(job):
        i, eid = job
        alias = "k%d-%s" % (i, eid)
        r = requests.post(a.url("Endpoint/%s/" % eid), json={"alias": alias},
                          headers=hdr, timeout=15)
        if r.status_code == 202:
            with lock:
                acked[eid] = alias
        return r.status_code

    with ThreadPoolExecutor(max_workers=16) as ex:
        codes = list(ex.map(upd, list(enumerate(ids))))
    assert all(c == 202 for c in codes), codes
    srv.kill()
    srv.start(expect_account=False)
    got = {o["endpoint_id"]: o["alias"] for o in srv.api().all_endpoints()}
    for eid, alias in acked.items():
        assert got.get(eid) == alias


def _integrity_ok(db):
    """SQLite: PRAGMA integrity_check on the file. PostgreSQL keeps its own
    integrity (WAL, crash recovery of the server): nothing to check on a
    client's kill -9, the acknowledged writes are checked by the caller."""
    from conftest import is_db_url
    if is_db_url(db) and not str(db).startswith("sqlite:"):
        return
    import sqlite3
    con = sqlite3.connect("file:%s?mode=ro" % db, uri=True, timeout=10)
    try:
        res = con.execute("PRAGMA integrity_check").fetchall()
    finally:
        con.close()
    assert res == [("ok",)], "database damaged: %r" % res[:5]


def test_kill9_under_write_load_keeps_acked_and_no_corruption(make_server):
    import threading
    from concurrent.futures import ThreadPoolExecutor
    import requests
    srv = make_server()
    a = srv.api()
    targets = [a.create_endpoint()["endpoint_id"] for _ in range(120)]
    hdr = dict(a.auth_headers(), **{"Content-Type": "application/json"})
    url = a.url("")
    lock = threading.Lock()
    acked_upd, acked_new = {}, {}
    enough = threading.Event()

    def work(i):
        if enough.is_set():
            return
        try:
            if i % 2 == 0:
                eid = targets[i // 2]
                alias = "load %d" % i
                r = requests.post(url + "Endpoint/%s/" % eid, headers=hdr,
                                  json={"alias": alias}, timeout=15)
                if r.status_code == 202:
                    with lock:
                        acked_upd[eid] = alias
            else:
                user = uname("load")
                r = requests.post(url + "Endpoint/", headers=hdr,
                                  json={"username": user, "password": pw()},
                                  timeout=15)
                if r.status_code == 201:
                    with lock:
                        acked_new[r.json()["endpoint_id"]] = user
            with lock:
                if len(acked_upd) + len(acked_new) >= 150:
                    enough.set()
        except requests.RequestException:
            pass  # the server was killed under this request: not acked

    with ThreadPoolExecutor(max_workers=16) as ex:
        futs = [ex.submit(work, i) for i in range(240)]
        assert enough.wait(timeout=120), \
            "150 writes not acknowledged before the kill"
        srv.kill()  # while requests are still in flight
        for f in futs:
            f.result()
    with lock:
        upd, new = dict(acked_upd), dict(acked_new)
    assert upd or new
    _integrity_ok(srv.db)
    srv.start(expect_account=False)
    a = srv.api()
    got = {o["endpoint_id"]: o for o in a.all_endpoints()}
    for eid, alias in upd.items():
        assert got[eid]["alias"] == alias, eid
    for eid, user in new.items():
        assert eid in got and got[eid]["username"] == user, eid
    srv.stop()
    _integrity_ok(srv.db)


def test_account_create_during_write_load(make_server):
    import threading
    import requests
    from conftest import cli_account_create, udomain
    srv = make_server()
    a = srv.api()
    hdr = dict(a.auth_headers(), **{"Content-Type": "application/json"})
    stop = threading.Event()
    errors = []

    def writer():
        while not stop.is_set():
            r = requests.post(a.url("Endpoint/"), headers=hdr,
                              json={"username": uname("w"), "password": pw()},
                              timeout=15)
            if r.status_code != 201:
                errors.append(r.status_code)

    threads = [threading.Thread(target=writer) for _ in range(8)]
    for t in threads:
        t.start()
    try:
        accts = [cli_account_create(srv.db, domain=udomain())
                 for _ in range(5)]
    finally:
        stop.set()
        for t in threads:
            t.join(timeout=30)
    assert not errors, errors
    for acct in accts:
        expect_ok_json(srv.api(acct).get("Endpoint/"), 200)


def test_sigterm_under_load_exits_zero(make_server):
    import threading
    import requests
    srv = make_server()
    a = srv.api()
    hdr = dict(a.auth_headers(), **{"Content-Type": "application/json"})
    stop = threading.Event()
    acked = []
    lock = threading.Lock()

    def writer():
        while not stop.is_set():
            user = uname("t")
            try:
                r = requests.post(a.url("Endpoint/"), headers=hdr,
                                  json={"username": user, "password": pw()},
                                  timeout=15)
            except requests.RequestException:
                return
            if r.status_code == 201:
                with lock:
                    acked.append(r.json()["endpoint_id"])

    threads = [threading.Thread(target=writer) for _ in range(8)]
    for t in threads:
        t.start()
    try:
        wait_until(lambda: len(acked) >= 40, timeout=60,
                   what="40 creates acknowledged before SIGTERM")
        proc = srv.proc
        proc.send_signal(signal.SIGTERM)
        rc = proc.wait(timeout=15)
        srv.proc = None
    finally:
        stop.set()
        for t in threads:
            t.join(timeout=30)
    assert rc == 0, rc
    srv.start(expect_account=False)
    a = srv.api()
    have = {o["endpoint_id"] for o in a.all_endpoints()}
    with lock:
        missing = [e for e in acked if e not in have]
    assert not missing, missing
