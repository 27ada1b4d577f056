"""A slow or locked store never freezes the API (issue 8): with the store's
write lock held by another process, writes get 503 + Retry-After with the
JSON error body after store_timeout and change nothing, reads and /health
keep being answered, and everything recovers by itself when the lock goes."""

import json
import threading

import requests

from conftest import (HTTP_TIMEOUT, StoreLock, expect_error, pw, uname,
                      wait_until)


def _expect_503(r):
    body = expect_error(r, 503)
    ra = r.headers.get("Retry-After")
    assert ra and ra.strip().isdigit() and int(ra) >= 1, \
        "503 without a usable Retry-After: %r" % ra
    return body


def _raw(api, method, rel, body=None):
    h = dict(api.auth_headers())
    data = None
    if body is not None:
        data = json.dumps(body).encode()
        h["Content-Type"] = "application/json"
    return requests.request(method, api.url(rel), data=data, headers=h,
                            timeout=HTTP_TIMEOUT)


def test_locked_store_writes_503_reads_served_then_recovers(make_server):
    srv = make_server(env={"SIPWARD_STORE_TIMEOUT": "3"})
    api = srv.api()
    app = api.create_app(app_name="a", answer_url="https://example.com/a")
    ep = api.create_endpoint(alias="before")
    eid = ep["endpoint_id"]
    before = api.endpoint(eid)
    n_before = api.list_endpoints()["meta"]["total_count"]

    lock = StoreLock(srv)
    try:
        # Many writes at once, more than there are HTTP workers for them:
        # each is answered 503 while the lock is still held.
        results = [None] * 40
        created = [uname() for _ in range(20)]

        def write(i):
            if i % 2:
                r = _raw(api, "POST", "Endpoint/%s/" % eid,
                         {"alias": "during-%d" % i})
            else:
                r = _raw(api, "POST", "Endpoint/",
                         {"username": created[i // 2], "password": pw(),
                          "application": app["app_id"]})
            results[i] = r

        threads = [threading.Thread(target=write, args=(i,))
                   for i in range(len(results))]
        for t in threads:
            t.start()
        # Reads and the health probe are answered meanwhile.
        for _ in range(5):
            assert requests.get(srv.base + "/health",
                                timeout=HTTP_TIMEOUT).status_code == 200
            got = _raw(api, "GET", "Endpoint/%s/" % eid)
            assert got.status_code == 200, got.content[:300]
            assert got.json()["alias"] == "before"
            assert _raw(api, "GET", "Endpoint/").status_code == 200
            assert _raw(api, "GET", "Application/").status_code == 200
        for t in threads:
            t.join(timeout=HTTP_TIMEOUT * 2)
            assert not t.is_alive(), "a write was not answered"
        assert lock.held(), "the lock ended before the writes were answered"
        for r in results:
            _expect_503(r)
        assert "nothing was changed" in r.json()["message"]
    finally:
        lock.release()

    # Nothing changed, and writes work again by themselves.
    after = api.endpoint(eid)
    assert after["alias"] == "before"
    assert after["updated_at"] == before["updated_at"]
    assert api.list_endpoints()["meta"]["total_count"] == n_before
    wait_until(lambda: _raw(api, "POST", "Endpoint/%s/" % eid,
                            {"alias": "after"}).status_code == 202,
               timeout=30, what="a write to succeed after the lock went")
    assert api.endpoint(eid)["alias"] == "after"
    api.create_endpoint(username=created[0])


def test_locked_store_delete_503_changes_nothing(make_server):
    srv = make_server(env={"SIPWARD_STORE_TIMEOUT": "3"})
    api = srv.api()
    app = api.create_app(app_name="a", answer_url="https://example.com/a")
    ep = api.create_endpoint(application=app["app_id"])
    lock = StoreLock(srv)
    try:
        _expect_503(_raw(api, "DELETE", "Endpoint/%s/" % ep["endpoint_id"]))
        _expect_503(_raw(api, "DELETE", "Application/%s/" % app["app_id"],
                         {"cascade": "true"}))
        _expect_503(_raw(api, "POST", "Application/%s/" % app["app_id"],
                         {"app_name": "renamed"}))
        assert lock.held()
    finally:
        lock.release()
    assert api.endpoint(ep["endpoint_id"])["application"]["app_name"] == "a"
