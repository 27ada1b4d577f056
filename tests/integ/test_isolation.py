"""Cross-account isolation: account B can neither read, list, update nor
delete A's endpoints and applications. Foreign items are 404 exactly like
unknown ones; A's auth_id in B's path is 403."""

import pytest

from conftest import (assert_unchanged, expect_error, uname, pw)

PREFIXES = ["/api/v1", "/v1"]


@pytest.fixture(scope="module")
def world(server, api):
    """A's endpoint bound to A's application, and B."""
    b = server.new_account(name="intruder")
    app = api.create_app(app_name="A private app")["app_id"]
    user = uname("Aonly")
    eid = api.create_endpoint(user, alias="A private",
                              application=app)["endpoint_id"]
    return {"a": api, "b": b, "app": app, "eid": eid, "user": user}


def _snapshot(w):
    return w["a"].endpoint(w["eid"]), w["a"].app(w["app"])


def _intact(w, snap):
    ep, app = _snapshot(w)
    assert_unchanged(snap[0], ep)
    assert_unchanged(snap[1], app)


def _same_404(foreign, unknown):
    fb = expect_error(foreign, 404)
    ub = expect_error(unknown, 404)
    assert fb["error"] == ub["error"], (fb, ub)
    assert set(fb) == set(ub), (fb, ub)


@pytest.mark.parametrize("prefix", PREFIXES)
def test_b_cannot_retrieve_a_items(world, prefix):
    b = world["b"].clone(prefix=prefix)
    _same_404(b.get("Endpoint/%s/" % world["eid"]),
              b.get("Endpoint/999999999999996/"))
    _same_404(b.get("Application/%s/" % world["app"]),
              b.get("Application/99999999999999996/"))


@pytest.mark.parametrize("prefix", PREFIXES)
def test_b_cannot_update_a_items(world, prefix):
    snap = _snapshot(world)
    b = world["b"].clone(prefix=prefix)
    _same_404(b.post("Endpoint/%s/" % world["eid"], {"alias": "pwned"}),
              b.post("Endpoint/999999999999996/", {"alias": "pwned"}))
    _same_404(b.post("Endpoint/%s/" % world["eid"], {"password": pw()}),
              b.post("Endpoint/999999999999996/", {"password": pw()}))
    _same_404(b.post("Application/%s/" % world["app"],
                     {"app_name": "pwned"}),
              b.post("Application/99999999999999996/",
                     {"app_name": "pwned"}))
    _intact(world, snap)


@pytest.mark.parametrize("prefix", PREFIXES)
def test_b_cannot_delete_a_items(world, prefix):
    snap = _snapshot(world)
    b = world["b"].clone(prefix=prefix)
    _same_404(b.delete("Endpoint/%s/" % world["eid"]),
              b.delete("Endpoint/999999999999996/"))
    _same_404(b.delete("Application/%s/" % world["app"]),
              b.delete("Application/99999999999999996/"))
    r = b.req("DELETE", "Application/%s/" % world["app"],
              json_body={"cascade": "true"})
    expect_error(r, 404)
    _intact(world, snap)


def test_a_items_absent_from_b_lists(world):
    b = world["b"]
    b.create_endpoint()
    eps = b.all_endpoints()
    assert world["eid"] not in [o["endpoint_id"] for o in eps]
    assert b.list_endpoints()["meta"]["total_count"] == len(eps)
    for params in ({"username__exact": world["user"]},
                   {"username__contains": "Aonly"},
                   {"username_startswith": "Aonly"},
                   {"alias__exact": "A private"},
                   {"alias__contains": "private"},
                   {"application_id__isnull": "false"}):
        lst = b.list_endpoints(**params)
        assert world["eid"] not in [o["endpoint_id"] for o in lst["objects"]]
        assert lst["meta"]["total_count"] == 0, (params, lst["meta"])
    r = b.get("Endpoint/", params={"application_id__exact": world["app"]})
    if r.status_code == 200:
        assert r.json()["objects"] == []
        assert r.json()["meta"]["total_count"] == 0
    else:
        expect_error(r, 400)
    assert world["app"] not in [o["app_id"] for o in b.all_apps()]


@pytest.mark.parametrize("prefix", PREFIXES)
@pytest.mark.parametrize("method,path,body", [
    ("GET", "Endpoint/", None),
    ("POST", "Endpoint/", "ep"),
    ("GET", "Endpoint/{eid}/", None),
    ("POST", "Endpoint/{eid}/", {"alias": "pwned"}),
    ("DELETE", "Endpoint/{eid}/", None),
    ("GET", "Application/", None),
    ("POST", "Application/", {"app_name": "pwned", "answer_url":
                              "https://x.test/"}),
    ("GET", "Application/{app}/", None),
    ("POST", "Application/{app}/", {"app_name": "pwned"}),
    ("DELETE", "Application/{app}/", None),
    ("GET", "Endpoint/999999999999995/", None),
])
def test_b_with_a_path_403(world, prefix, method, path, body):
    snap = _snapshot(world)
    b_on_a = world["b"].clone(path_id=world["a"].auth_id, prefix=prefix)
    user = uname("pw")
    if body == "ep":
        body = {"username": user, "password": pw()}
    r = b_on_a.req(method, path.format(eid=world["eid"], app=world["app"]),
                   json_body=body)
    expect_error(r, 403)
    _intact(world, snap)
    a = world["a"]
    assert a.list_endpoints(username__exact=user)["objects"] == []
    assert all(o["app_name"] != "pwned"
               for o in a.all_apps())


def test_a_with_b_path_403(world):
    a_on_b = world["a"].clone(path_id=world["b"].auth_id)
    expect_error(a_on_b.get("Endpoint/"), 403)
    expect_error(a_on_b.post("Endpoint/", {"username": uname(),
                                           "password": pw()}), 403)


def test_b_cannot_bind_a_application(world):
    b = world["b"]
    user = uname()
    for key, val in (("application", world["app"]),
                     ("application", int(world["app"])),
                     ("app_id", world["app"])):
        expect_error(b.post("Endpoint/", {"username": user, "password": pw(),
                                          key: val}), 400)
    assert b.list_endpoints(username__exact=user)["objects"] == []
    mine = b.create_endpoint()["endpoint_id"]
    before = b.endpoint(mine)
    expect_error(b.update_endpoint(mine, {"application": world["app"]}),
                 400)
    expect_error(b.update_endpoint(mine, {"app_id": world["app"]}), 400)
    assert_unchanged(before, b.endpoint(mine))


def test_b_cannot_move_endpoints_to_a_application(world):
    b = world["b"]
    app = b.create_app()["app_id"]
    eid = b.create_endpoint(application=app)["endpoint_id"]
    r = b.req("DELETE", "Application/%s/" % app,
              json_body={"new_endpoint_application": world["app"]})
    expect_error(r, (400, 409))
    b.app(app)
    assert b.endpoint(eid)["application"]["app_id"] == app


def test_b_default_app_does_not_leak(world, server):
    """A default app in A never applies to B's endpoints."""
    c = server.new_account()
    c.create_app(default_endpoint_app=True)
    d = server.new_account()
    eid = d.create_endpoint()["endpoint_id"]
    assert d.endpoint(eid)["application"] is None


def test_a_cascade_does_not_touch_b(world, server):
    a = world["a"]
    b = world["b"]
    b_app = b.create_app()["app_id"]
    b_ep = b.create_endpoint(application=b_app)["endpoint_id"]
    a_app = a.create_app()["app_id"]
    a.create_endpoint(application=a_app)
    r = a.req("DELETE", "Application/%s/" % a_app,
              json_body={"cascade": "true"})
    assert r.status_code == 204
    b.endpoint(b_ep)
    b.app(b_app)
