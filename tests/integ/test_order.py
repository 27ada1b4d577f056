"""Order of checks: authentication (401/403), then method (405), then the
resource (404), then the body (415/413/400), then conflicts (409)."""

import requests

from conftest import expect_error, uname, pw, HTTP_TIMEOUT

UNKNOWN_EID = "999999999999998"
UNKNOWN_APP = "99999999999999998"


def test_401_before_405(api):
    eid = api.create_endpoint()["endpoint_id"]
    expect_error(api.req("PUT", "Endpoint/%s/" % eid, auth=False,
                         json_body={}), 401)
    expect_error(api.req("PATCH", "Endpoint/", auth=False, json_body={}),
                 401)


def test_403_before_405(api, api_b):
    eid = api.create_endpoint()["endpoint_id"]
    b_on_a = api_b.clone(path_id=api.auth_id)
    expect_error(b_on_a.req("PUT", "Endpoint/%s/" % eid, json_body={}), 403)


def test_401_before_404(api):
    expect_error(api.get("Endpoint/%s/" % UNKNOWN_EID, auth=False), 401)
    expect_error(api.get("Application/%s/" % UNKNOWN_APP, auth=False), 401)


def test_403_before_404(api, api_b):
    b_on_a = api_b.clone(path_id=api.auth_id)
    expect_error(b_on_a.get("Endpoint/%s/" % UNKNOWN_EID), 403)


def test_401_before_body_checks(api):
    r = api.req("POST", "Endpoint/", auth=False, data=b"not json",
                headers={"Content-Type": "text/plain"})
    expect_error(r, 401)
    r = api.req("POST", "Endpoint/", auth=False, data=b"{bad json",
                headers={"Content-Type": "application/json"})
    expect_error(r, 401)


def test_401_before_oversized_body(api):
    body = b'{"username": "' + b"a" * 70000 + b'"}'
    try:
        r = api.req("POST", "Endpoint/", auth=False, data=body,
                    headers={"Content-Type": "application/json"})
    except requests.ConnectionError as e:
        raise AssertionError("connection reset before the client could read "
                             "the answer: %s" % e)
    expect_error(r, 401)


def test_405_before_404(api):
    r = api.req("PUT", "Endpoint/%s/" % UNKNOWN_EID, json_body={})
    expect_error(r, 405)
    r = api.req("PATCH", "Application/%s/" % UNKNOWN_APP, json_body={})
    expect_error(r, 405)


def test_405_before_415(api):
    eid = api.create_endpoint()["endpoint_id"]
    r = api.req("PUT", "Endpoint/%s/" % eid, data=b"x",
                headers={"Content-Type": "text/plain"})
    expect_error(r, 405)


def test_404_before_body_checks(api):
    r = api.req("POST", "Endpoint/%s/" % UNKNOWN_EID, data=b"x=1",
                headers={"Content-Type": "text/plain"})
    expect_error(r, 404)
    r = api.req("POST", "Endpoint/%s/" % UNKNOWN_EID, data=b"{nope",
                headers={"Content-Type": "application/json"})
    expect_error(r, 404)
    r = api.post("Endpoint/%s/" % UNKNOWN_EID, {"password": "short"})
    expect_error(r, 404)
    r = api.post("Application/%s/" % UNKNOWN_APP, {"answer_url": "ftp://x"})
    expect_error(r, 404)


def test_404_before_413(api):
    body = b'{"alias": "' + b"a" * 70000 + b'"}'
    try:
        r = api.req("POST", "Endpoint/%s/" % UNKNOWN_EID, data=body,
                    headers={"Content-Type": "application/json"})
    except requests.ConnectionError as e:
        raise AssertionError("connection reset before the client could read "
                             "the answer: %s" % e)
    expect_error(r, 404)


def test_400_before_409(api):
    user = uname()
    api.create_endpoint(user)
    r = api.post("Endpoint/", {"username": user, "password": "short"})
    expect_error(r, 400, fields=["password"])
    r = api.post("Endpoint/", {"username": user, "password": pw(),
                               "allow_voice": "yes"})
    expect_error(r, 400, fields=["allow_voice"])
    r = api.post("Endpoint/", {"username": user, "password": pw(),
                               "bogus": 1})
    expect_error(r, 400, fields=["bogus"])


def test_415_before_409(api):
    user = uname()
    api.create_endpoint(user)
    r = api.req("POST", "Endpoint/", data=('{"username": "%s", '
                                           '"password": "%s"}' % (user, pw())
                                           ).encode(),
                headers={"Content-Type": "text/plain"})
    expect_error(r, 415)


def test_app_delete_409_only_after_auth_and_404(api, api_b):
    app = api.create_app()["app_id"]
    api.create_endpoint(application=app)
    expect_error(api.delete("Application/%s/" % app, auth=False), 401)
    expect_error(api_b.clone(path_id=api.auth_id)
                 .delete("Application/%s/" % app), 403)
    expect_error(api_b.delete("Application/%s/" % app), 404)
    expect_error(api.delete("Application/%s/" % app), 409)
    api.app(app)
