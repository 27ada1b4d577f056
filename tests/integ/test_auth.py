"""Authentication: X-Auth pair, HTTP Basic, 401 vs 403, credential formats,
failed-authentication throttling."""

import time

import pytest
import requests

from conftest import (AUTH_ID_RE, basic, expect_error, expect_ok_json, uname,
                      pw, wait_past, wait_until, HTTP_TIMEOUT)

ROUTES = [
    ("GET", "Endpoint/"),
    ("POST", "Endpoint/"),
    ("GET", "Endpoint/{eid}/"),
    ("POST", "Endpoint/{eid}/"),
    ("DELETE", "Endpoint/{eid}/"),
    ("GET", "Application/"),
    ("POST", "Application/"),
    ("GET", "Application/{app}/"),
    ("POST", "Application/{app}/"),
    ("DELETE", "Application/{app}/"),
]


@pytest.fixture(scope="module")
def items(api):
    eid = api.create_endpoint()["endpoint_id"]
    app = api.create_app()["app_id"]
    return {"eid": eid, "app": app}


def _body_for(method, path):
    if method != "POST":
        return None
    if path.startswith("Endpoint/{"):
        return {"alias": "should not change"}
    if path.startswith("Endpoint"):
        return {"username": uname(), "password": pw()}
    if path.startswith("Application/{"):
        return {"app_name": "should not change"}
    return {"app_name": "x", "answer_url": "https://e.com/"}


def _assert_items_intact(api, items):
    ep = api.endpoint(items["eid"])
    assert ep["alias"] != "should not change"
    app = api.app(items["app"])
    assert app["app_name"] != "should not change"


@pytest.mark.parametrize("prefix", ["/api/v1", "/v1"])
@pytest.mark.parametrize("method,path", ROUTES)
def test_no_credentials_401_on_every_route(api, items, method, path, prefix):
    a = api.clone(prefix=prefix)
    r = a.req(method, path.format(**items), auth=False,
              json_body=_body_for(method, path))
    expect_error(r, 401)
    _assert_items_intact(api, items)


@pytest.mark.parametrize("method,path", ROUTES)
def test_wrong_token_401_on_every_route(api, items, method, path):
    a = api.clone(token=api.token[:-1] + ("A" if api.token[-1] != "A"
                                          else "B"))
    r = a.req(method, path.format(**items),
              json_body=_body_for(method, path))
    expect_error(r, 401)
    _assert_items_intact(api, items)


@pytest.mark.parametrize("headers", [
    {"X-Auth-ID": "{id}"},
    {"X-Auth-Token": "{tok}"},
    {"X-Auth-ID": "{id}", "X-Auth-Token": ""},
    {"X-Auth-ID": "", "X-Auth-Token": "{tok}"},
    {"X-Auth-ID": "{id}", "X-Auth-Token": "{tok}x"},
    {"X-Auth-ID": "{id}", "X-Auth-Token": "{short}"},
    {"X-Auth-ID": "{id}", "X-Auth-Token": "{upper}"},
    {"X-Auth-ID": "MA_ZZZZZZZZ", "X-Auth-Token": "{tok}"},
    {"X-Auth-ID": "nonsense", "X-Auth-Token": "{tok}"},
    {"X-Auth-ID": "{id}", "X-Auth-Token": "{tok}\u00e9"},
], ids=["id-only", "token-only", "empty-token", "empty-id", "token-suffix",
        "token-prefix", "token-case", "unknown-id", "malformed-id",
        "non-ascii-token"])
def test_bad_x_auth_401(api, headers):
    subst = {"id": api.auth_id, "tok": api.token, "short": api.token[:-1],
             "upper": api.token.swapcase()}
    if subst["upper"] == api.token:
        pytest.skip("token has no letters")
    h = {k: v.format(**subst).encode("utf-8") for k, v in headers.items()}
    r = requests.get(api.url("Endpoint/"), headers=h, timeout=HTTP_TIMEOUT)
    expect_error(r, 401)


def test_x_auth_valid(api):
    expect_ok_json(api.get("Endpoint/"), 200)


def test_basic_auth_accepted(api):
    h = {"Authorization": basic(api.auth_id, api.token)}
    r = requests.get(api.url("Endpoint/"), headers=h, timeout=HTTP_TIMEOUT)
    expect_ok_json(r, 200)
    # requests' own Basic support, as Plivo SDKs use it
    r = requests.post(api.url("Endpoint/"), auth=(api.auth_id, api.token),
                      json={"username": uname(), "password": pw()},
                      timeout=HTTP_TIMEOUT)
    expect_ok_json(r, 201)


@pytest.mark.parametrize("value", [
    "Basic {bad}", "Basic !!!notbase64!!!", "Basic ", "Basic",
    "Basic {nocolon}", "Digest username=x", "Bearer {tok}",
], ids=["wrong-token", "not-base64", "empty", "no-param", "no-colon",
        "digest", "bearer-only"])
def test_bad_authorization_401(api, value):
    import base64
    v = value.format(
        bad=basic(api.auth_id, api.token + "x").split(" ", 1)[1],
        nocolon=base64.b64encode(api.auth_id.encode() +
                                  api.token.encode()).decode(),
        tok=api.token)
    r = requests.get(api.url("Endpoint/"), headers={"Authorization": v},
                     timeout=HTTP_TIMEOUT)
    expect_error(r, 401)


def test_bearer_beside_x_auth_is_ignored(api):
    h = dict(api.auth_headers(), Authorization="Bearer some.jwt.value")
    r = requests.get(api.url("Endpoint/"), headers=h, timeout=HTTP_TIMEOUT)
    expect_ok_json(r, 200)
    r = requests.post(api.url("Endpoint/"), headers=h,
                      json={"username": uname(), "password": pw()},
                      timeout=HTTP_TIMEOUT)
    expect_ok_json(r, 201)


def test_valid_credentials_foreign_path_403(api, api_b):
    a = api.clone(path_id=api_b.auth_id)
    expect_error(a.get("Endpoint/"), 403)


def test_valid_credentials_unknown_path_account_403(api):
    a = api.clone(path_id="MA_ZZZZZZZ9")
    expect_error(a.get("Endpoint/"), 403)
    expect_error(a.post("Endpoint/", {"username": uname(),
                                      "password": pw()}), 403)


def test_malformed_path_account_not_200(api):
    a = api.clone(path_id="not-an-id")
    r = a.get("Endpoint/")
    expect_error(r, (403, 404))


def test_basic_auth_foreign_path_403(api, api_b):
    h = {"Authorization": basic(api.auth_id, api.token)}
    r = requests.get(api_b.url("Endpoint/"), headers=h, timeout=HTTP_TIMEOUT)
    expect_error(r, 403)


def test_bad_credentials_foreign_path_401(api, api_b):
    a = api.clone(path_id=api_b.auth_id, token="x" * 40)
    expect_error(a.get("Endpoint/"), 401)


def test_other_accounts_token_with_my_id_401(api, api_b):
    a = api.clone(token=api_b.token)
    expect_error(a.get("Endpoint/"), 401)


def test_credential_formats(server, api, api_b):
    for a in (api, api_b):
        assert AUTH_ID_RE.match(a.auth_id), a.auth_id
        assert len(a.token) >= 32, a.token
    assert api.auth_id != api_b.auth_id
    assert api.token != api_b.token


def test_basic_and_x_auth_different_accounts_not_confused(api, api_b):
    """X-Auth of B plus Basic of A on A's path: whichever pair the server
    uses, it must never serve A's data to B."""
    h = dict(api_b.auth_headers(),
             Authorization=basic(api.auth_id, api.token))
    r = requests.get(api.url("Endpoint/"), headers=h, timeout=HTTP_TIMEOUT)
    assert r.status_code in (200, 400, 401, 403), r.status_code


# ---------------------------------------------------------------- throttling

def _bad_get(srv, acct):
    return requests.get(
        "%s/api/v1/Account/%s/Endpoint/" % (srv.base, acct["auth_id"]),
        headers={"X-Auth-ID": acct["auth_id"], "X-Auth-Token": "wrong" * 8},
        timeout=HTTP_TIMEOUT)


def _good_get(srv, acct):
    return requests.get(
        "%s/api/v1/Account/%s/Endpoint/" % (srv.base, acct["auth_id"]),
        headers={"X-Auth-ID": acct["auth_id"],
                 "X-Auth-Token": acct["auth_token"]},
        timeout=HTTP_TIMEOUT)


def _retry_after(r, penalty):
    ra = r.headers.get("Retry-After")
    assert ra is not None, "429 without Retry-After"
    assert ra.strip().isdigit(), "Retry-After %r is not delta-seconds" % ra
    assert 1 <= int(ra) <= penalty, "Retry-After %r outside 1..%d" % (
        ra, penalty)
    return int(ra)


def test_throttle_defaults_20_failures_then_429(make_server):
    srv = make_server()
    acct = srv.account
    for i in range(20):
        r = _bad_get(srv, acct)
        expect_error(r, 401)
    r = _bad_get(srv, acct)
    expect_error(r, 429)
    _retry_after(r, 60)
    # during the penalty even good credentials are refused
    r = _good_get(srv, acct)
    expect_error(r, 429)
    _retry_after(r, 60)


def test_throttle_configured_and_penalty_expires(make_server):
    srv = make_server(env={"SIPWARD_AUTH_FAIL_MAX": 5,
                           "SIPWARD_AUTH_FAIL_PENALTY": 3})
    acct = srv.account
    for i in range(10):  # successes do not count
        assert _good_get(srv, acct).status_code == 200
    for i in range(5):
        expect_error(_bad_get(srv, acct), 401)
    r = _bad_get(srv, acct)
    expect_error(r, 429)
    _retry_after(r, 3)
    r = _good_get(srv, acct)
    expect_error(r, 429)
    wait = _retry_after(r, 3)
    # /health stays reachable (readiness probes) during a penalty
    assert requests.get(srv.base + "/health",
                        timeout=HTTP_TIMEOUT).status_code == 200
    # Basic auth and unauthenticated requests are throttled too
    r = requests.get("%s/api/v1/Account/%s/Endpoint/" % (srv.base,
                                                         acct["auth_id"]),
                     auth=(acct["auth_id"], acct["auth_token"]),
                     timeout=HTTP_TIMEOUT)
    expect_error(r, 429)
    wait_until(lambda: _good_get(srv, acct).status_code == 200,
               timeout=wait + 10, what="the penalty to end")


def test_throttle_window_forgets_old_failures(make_server):
    srv = make_server(env={"SIPWARD_AUTH_FAIL_MAX": 5,
                           "SIPWARD_AUTH_FAIL_WINDOW": 2,
                           "SIPWARD_AUTH_FAIL_PENALTY": 30})
    acct = srv.account
    for i in range(4):
        expect_error(_bad_get(srv, acct), 401)
    wait_past(time.monotonic(), 2)
    for i in range(4):
        expect_error(_bad_get(srv, acct), 401)
    assert _good_get(srv, acct).status_code == 200


def test_throttle_is_per_pair_so_neighbours_are_not_locked_out(make_server):
    """Wrong credentials for one auth_id put only that (address, auth_id)
    pair in a penalty: another account behind the same address (a shared
    proxy or NAT) keeps working, and its own failures are counted apart."""
    srv = make_server(env={"SIPWARD_AUTH_FAIL_MAX": 4,
                           "SIPWARD_AUTH_FAIL_PENALTY": 30})
    other = srv.new_account()
    acct = srv.account
    other_acct = {"auth_id": other.auth_id, "auth_token": other.token}
    for i in range(4):
        expect_error(_bad_get(srv, acct), 401)
    expect_error(_good_get(srv, acct), 429)
    assert _good_get(srv, other_acct).status_code == 200
    for i in range(3):
        expect_error(_bad_get(srv, other_acct), 401)
    assert _good_get(srv, other_acct).status_code == 200


def test_throttle_per_address_has_its_own_higher_threshold(make_server):
    """Wrong credentials spread over many auth_ids from one address put the
    whole address in a penalty once auth_fail_addr_max is reached."""
    srv = make_server(env={"SIPWARD_AUTH_FAIL_MAX": 100,
                           "SIPWARD_AUTH_FAIL_ADDR_MAX": 6,
                           "SIPWARD_AUTH_FAIL_PENALTY": 30})
    other = srv.new_account()
    acct = srv.account
    other_acct = {"auth_id": other.auth_id, "auth_token": other.token}
    ids = [acct, other_acct, {"auth_id": "MA_NOSUCH01"},
           {"auth_id": "not-an-id"}]
    for i in range(6):
        expect_error(_bad_get(srv, ids[i % len(ids)]), 401)
    for a in (other_acct, acct):
        r = _good_get(srv, a)
        expect_error(r, 429)
        _retry_after(r, 30)


def test_throttle_never_counts_requests_without_credentials(make_server):
    """Requests with no credentials (or half of them) are plain 401s and
    never lock anybody out, however many come."""
    srv = make_server(env={"SIPWARD_AUTH_FAIL_MAX": 2,
                           "SIPWARD_AUTH_FAIL_ADDR_MAX": 3,
                           "SIPWARD_AUTH_FAIL_PENALTY": 30})
    acct = srv.account
    url = "%s/api/v1/Account/%s/Endpoint/" % (srv.base, acct["auth_id"])
    for hdrs in ({}, {"X-Auth-ID": acct["auth_id"]},
                 {"X-Auth-Token": acct["auth_token"]},
                 {"Authorization": "Bearer abc"}) * 5:
        expect_error(requests.get(url, headers=hdrs, timeout=HTTP_TIMEOUT),
                     401)
    assert _good_get(srv, acct).status_code == 200


def test_throttle_ignores_forwarded_headers(make_server):
    """Spoofed X-Forwarded-For / X-Real-IP / Forwarded values must not give
    a client a fresh failure budget."""
    srv = make_server(env={"SIPWARD_AUTH_FAIL_MAX": 3,
                           "SIPWARD_AUTH_FAIL_PENALTY": 30})
    acct = srv.account
    url = "%s/api/v1/Account/%s/Endpoint/" % (srv.base, acct["auth_id"])
    for i in range(3):
        r = requests.get(url, headers={"X-Auth-ID": acct["auth_id"],
                                       "X-Auth-Token": "bad" * 12},
                         timeout=HTTP_TIMEOUT)
        expect_error(r, 401)
    for i in range(3):
        ip = "198.51.100.%d" % (i + 1)
        r = requests.get(url, headers={
            "X-Auth-ID": acct["auth_id"], "X-Auth-Token": "bad" * 12,
            "X-Forwarded-For": ip, "X-Real-IP": ip,
            "Forwarded": "for=%s" % ip}, timeout=HTTP_TIMEOUT)
        expect_error(r, 429)


@pytest.mark.parametrize("raw", ["{id}:{tok}\x00junk", "{id}:{tok}:extra",
                                 "{id}:{tok}\n", " {id}:{tok}",
                                 "{lid}:{tok}"],
                         ids=["nul", "extra-colon", "newline", "space",
                              "lower-id"])
def test_basic_near_misses_401(api, raw):
    import base64
    v = raw.format(id=api.auth_id, tok=api.token, lid=api.auth_id.lower())
    h = {"Authorization": "Basic " + base64.b64encode(v.encode()).decode()}
    r = requests.get(api.url("Endpoint/"), headers=h, timeout=HTTP_TIMEOUT)
    expect_error(r, 401)


def test_auth_scheme_name_case_insensitive(api):
    v = basic(api.auth_id, api.token).split(" ", 1)[1]
    for scheme in ("basic", "BASIC"):
        r = requests.get(api.url("Endpoint/"),
                         headers={"Authorization": "%s %s" % (scheme, v)},
                         timeout=HTTP_TIMEOUT)
        expect_ok_json(r, 200)


def test_401_and_429_keep_connection_or_say_close(make_server):
    from conftest import RawConn
    srv = make_server(env={"SIPWARD_AUTH_FAIL_MAX": 2,
                           "SIPWARD_AUTH_FAIL_PENALTY": 30})
    acct = srv.account
    path = "/api/v1/Account/%s/Endpoint/" % acct["auth_id"]
    bad = {"X-Auth-ID": acct["auth_id"], "X-Auth-Token": "no" * 20}
    good = {"X-Auth-ID": acct["auth_id"], "X-Auth-Token": acct["auth_token"]}
    want = [(bad, 401), (bad, 401), (bad, 429), (good, 429)]
    c = RawConn(srv.port)
    try:
        for hdr, status in want:
            try:
                r = c.request("GET", path, headers=hdr)
            except Exception as e:
                raise AssertionError("connection dropped without "
                                     "Connection: close (%r)" % e)
            assert r.status == status, (r.status, status)
            assert r.json()["api_id"] == r.header("x-request-id")
            if status == 429:
                assert r.header("retry-after")
            if r.closes():
                assert c.at_eof()
                c.close()
                c = RawConn(srv.port)
    finally:
        c.close()
