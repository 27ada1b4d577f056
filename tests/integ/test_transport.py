"""Paths and transport: prefixes, trailing slashes, methods and 405, request
ids, keep-alive and Connection: close."""

import json

import pytest
import requests

from conftest import (UUID_RE, RawConn, ConnectionClosed, expect_error,
                      wait_until,
                      expect_ok_json, expect_empty, uname, pw)


def test_health_without_auth(server):
    r = requests.get(server.base + "/health", timeout=10)
    assert r.status_code == 200


@pytest.mark.parametrize("prefix", ["/api/v1", "/v1"])
@pytest.mark.parametrize("slash", ["/", ""])
def test_full_endpoint_lifecycle_under_each_prefix(api, prefix, slash):
    a = api.clone(prefix=prefix)
    user = uname()
    r = a.post("Endpoint" + slash, {"username": user, "password": pw()})
    body = expect_ok_json(r, 201)
    eid = body["endpoint_id"]
    r = a.get("Endpoint/%s%s" % (eid, slash))
    assert expect_ok_json(r, 200)["username"] == user
    r = a.get("Endpoint" + slash, params={"username__exact": user})
    lst = expect_ok_json(r, 200)
    assert [o["endpoint_id"] for o in lst["objects"]] == [eid]
    r = a.post("Endpoint/%s%s" % (eid, slash), {"alias": "renamed"})
    expect_empty(r, 202)
    assert api.endpoint(eid)["alias"] == "renamed"
    r = a.delete("Endpoint/%s%s" % (eid, slash))
    expect_empty(r, 204)
    expect_error(a.get("Endpoint/%s%s" % (eid, slash)), 404)


@pytest.mark.parametrize("prefix", ["/api/v1", "/v1"])
@pytest.mark.parametrize("slash", ["/", ""])
def test_full_application_lifecycle_under_each_prefix(api, prefix, slash):
    a = api.clone(prefix=prefix)
    r = a.post("Application" + slash,
               {"app_name": "lifecycle", "answer_url": "https://e.com/a"})
    body = expect_ok_json(r, 201)
    app_id = body["app_id"]
    r = a.get("Application/%s%s" % (app_id, slash))
    assert expect_ok_json(r, 200)["app_name"] == "lifecycle"
    r = a.get("Application" + slash)
    expect_ok_json(r, 200)
    r = a.post("Application/%s%s" % (app_id, slash), {"app_name": "renamed"})
    assert expect_ok_json(r, 202)["message"] == "changed"
    assert api.app(app_id)["app_name"] == "renamed"
    r = a.delete("Application/%s%s" % (app_id, slash))
    expect_empty(r, 204)
    expect_error(a.get("Application/%s%s" % (app_id, slash)), 404)


@pytest.mark.parametrize("method", ["PUT", "PATCH"])
@pytest.mark.parametrize("kind", ["Endpoint", "Application"])
def test_put_patch_on_item_405_with_allow(api, method, kind):
    if kind == "Endpoint":
        item = api.create_endpoint()["endpoint_id"]
        before = api.endpoint(item)
    else:
        item = api.create_app()["app_id"]
        before = api.app(item)
    r = api.req(method, "%s/%s/" % (kind, item), json_body={"alias": "x",
                                                            "app_name": "x"})
    expect_error(r, 405)
    allow = r.headers.get("Allow")
    assert allow, "405 without Allow header"
    methods = {m.strip().upper() for m in allow.split(",")}
    assert {"GET", "POST", "DELETE"} <= methods, allow
    assert not methods & {"PUT", "PATCH"}, allow
    after = api.endpoint(item) if kind == "Endpoint" else api.app(item)
    assert before == {**after, "api_id": before["api_id"]}


@pytest.mark.parametrize("method", ["PUT", "PATCH", "DELETE"])
@pytest.mark.parametrize("kind", ["Endpoint", "Application"])
def test_unsupported_method_on_collection_405_with_allow(api, method, kind):
    r = api.req(method, "%s/" % kind, json_body={})
    expect_error(r, 405)
    allow = r.headers.get("Allow")
    assert allow, "405 without Allow header"
    methods = {m.strip().upper() for m in allow.split(",")}
    assert {"GET", "POST"} <= methods, allow
    assert method not in methods, allow


def test_405_without_trailing_slash_and_v1(api):
    eid = api.create_endpoint()["endpoint_id"]
    r = api.clone(prefix="/v1").req("PUT", "Endpoint/%s" % eid,
                                     json_body={"alias": "y"})
    expect_error(r, 405)
    assert r.headers.get("Allow")


def test_request_ids_on_every_kind_of_response(api):
    ids = set()
    r = api.create_endpoint_raw()
    ids.add(expect_ok_json(r, 201)["api_id"])
    eid = r.json()["endpoint_id"]
    r = api.get("Endpoint/%s/" % eid)
    ids.add(expect_ok_json(r, 200)["api_id"])
    r = api.get("Endpoint/")
    ids.add(expect_ok_json(r, 200)["api_id"])
    r = api.update_endpoint(eid, {"alias": "rid"})
    expect_empty(r, 202)
    ids.add(r.headers["X-Request-Id"])
    r = api.delete("Endpoint/%s/" % eid)
    expect_empty(r, 204)
    ids.add(r.headers["X-Request-Id"])
    r = api.get("Endpoint/%s/" % eid)
    ids.add(expect_error(r, 404)["api_id"])
    r = api.req("GET", "Endpoint/", auth=False)
    ids.add(expect_error(r, 401)["api_id"])
    assert len(ids) == 7, "request ids are not unique per request: %r" % ids
    for i in ids:
        assert UUID_RE.match(i), i


def test_json_responses_declare_json(api):
    r = api.get("Endpoint/")
    assert r.headers.get("Content-Type", "").startswith("application/json")
    r = api.get("Endpoint/999999999999999/")
    assert r.status_code == 404
    assert r.headers.get("Content-Type", "").startswith("application/json")


def test_unknown_resource_404_json(api):
    expect_error(api.get("Nope/"), 404)
    expect_error(api.get("Endpoint/123/extra/"), 404)


def test_keep_alive_two_requests_one_connection(api, server):
    hdr = api.auth_headers()
    with RawConn(server.port) as c:
        r1 = c.request("GET", "/api/v1/Account/%s/Endpoint/" % api.auth_id,
                       headers=hdr)
        assert r1.status == 200
        assert not r1.closes(), "server closes a plain keep-alive request"
        body = json.dumps({"username": uname(), "password": pw()}).encode()
        r2 = c.request("POST", "/api/v1/Account/%s/Endpoint/" % api.auth_id,
                       headers=dict(hdr, **{"Content-Type":
                                            "application/json"}),
                       body=body)
        assert r2.status == 201, r2.body
        r3 = c.request("GET", "/health")
        assert r3.status == 200
        assert r3.version == "HTTP/1.1"


def test_keep_alive_after_error_response(api, server):
    """A 404 or 400 does not by itself end the connection; if it does, the
    response says Connection: close."""
    hdr = dict(api.auth_headers(), **{"Content-Type": "application/json"})
    with RawConn(server.port) as c:
        r = c.request("POST", "/api/v1/Account/%s/Endpoint/" % api.auth_id,
                      headers=hdr, body=b'{"username": ')
        assert r.status == 400
        if r.closes():
            assert c.at_eof()
            return
        r = c.request("GET", "/api/v1/Account/%s/Endpoint/" % api.auth_id,
                      headers=hdr)
        assert r.status == 200


def test_client_connection_close_is_echoed(api, server):
    with RawConn(server.port) as c:
        r = c.request("GET", "/api/v1/Account/%s/Endpoint/" % api.auth_id,
                      headers=dict(api.auth_headers(), Connection="close"))
        assert r.status == 200
        assert r.closes(), "last response lacks Connection: close: %r" \
            % r.headers
        assert c.at_eof(), "server kept the connection open"


def test_http10_request_closes_with_header(api, server):
    with RawConn(server.port) as c:
        c.send(("GET /api/v1/Account/%s/Endpoint/ HTTP/1.0\r\n"
                "Host: 127.0.0.1\r\nX-Auth-ID: %s\r\nX-Auth-Token: %s\r\n\r\n"
                % (api.auth_id, api.auth_id, api.token)).encode())
        r = c.read_response()
        assert r.status == 200
        if c.at_eof():
            assert r.closes(), \
                "server closed without Connection: close: %r" % r.headers


def test_garbage_request_line_is_4xx_and_server_survives(server):
    with RawConn(server.port) as c:
        c.send(b"\x16\x03\x01 BLAH \x00\r\n\r\n")
        try:
            r = c.read_response()
            assert 400 <= r.status < 500, r.status
        except (ConnectionClosed, ConnectionError):
            pass
    assert requests.get(server.base + "/health", timeout=10).status_code \
        == 200


def test_many_headers_and_long_header_value_not_5xx(api, server):
    hdr = dict(api.auth_headers())
    for i in range(50):
        hdr["X-Filler-%d" % i] = "v" * 100
    r = requests.get(api.url("Endpoint/"), headers=hdr, timeout=15)
    assert r.status_code == 200
    try:
        r = requests.get(api.url("Endpoint/"),
                         headers=dict(api.auth_headers(),
                                      **{"X-Big": "x" * 200000}), timeout=15)
        assert r.status_code < 500
    except requests.ConnectionError:
        pass  # refusing an absurd header by closing is acceptable
    assert requests.get(server.base + "/health", timeout=10).status_code \
        == 200


def test_pipelined_requests_answered_in_order(api, server):
    hdr = "X-Auth-ID: %s\r\nX-Auth-Token: %s\r\n" % (api.auth_id, api.token)
    path = "/api/v1/Account/%s/Endpoint/" % api.auth_id
    with RawConn(server.port) as c:
        c.send(("GET %s?limit=1 HTTP/1.1\r\nHost: x\r\n%s\r\n"
                "GET /health HTTP/1.1\r\nHost: x\r\n\r\n"
                "GET %s?limit=2 HTTP/1.1\r\nHost: x\r\n%s\r\n"
                % (path, hdr, path, hdr)).encode())
        r1 = c.read_response()
        r2 = c.read_response()
        r3 = c.read_response()
    assert r1.status == 200 and r1.json()["meta"]["limit"] == 1
    assert r2.status == 200
    assert r3.status == 200 and r3.json()["meta"]["limit"] == 2


def test_pipelined_updates_and_reads_answered_in_order(api, server):
    """Updates answered later (queued for the writer thread, 202 once
    durable) keep their place among pipelined requests: each read after an
    update sees it, each answer comes in request order, and an update that
    fails (a bad field) is answered in its place too."""
    ep = api.create_endpoint()
    hdr = ("X-Auth-ID: %s\r\nX-Auth-Token: %s\r\n"
           "Content-Type: application/json\r\n" % (api.auth_id, api.token))
    path = "/api/v1/Account/%s/Endpoint/%s/" % (api.auth_id,
                                                 ep["endpoint_id"])
    reqs, want = [], []
    for i in range(5):
        body = json.dumps({"alias": "pipe%d" % i})
        reqs.append("POST %s HTTP/1.1\r\nHost: x\r\n%sContent-Length: %d"
                    "\r\n\r\n%s" % (path, hdr, len(body), body))
        want.append(("POST", 202, None))
        reqs.append("GET %s HTTP/1.1\r\nHost: x\r\n%s\r\n" % (path, hdr))
        want.append(("GET", 200, "pipe%d" % i))
    body = json.dumps({"alias": 5})
    reqs.append("POST %s HTTP/1.1\r\nHost: x\r\n%sContent-Length: %d"
                "\r\n\r\n%s" % (path, hdr, len(body), body))
    want.append(("POST", 400, None))
    reqs.append("GET %s HTTP/1.1\r\nHost: x\r\n%s\r\n" % (path, hdr))
    want.append(("GET", 200, "pipe4"))
    with RawConn(server.port) as c:
        c.send("".join(reqs).encode())
        for method, status, alias in want:
            r = c.read_response(method)
            assert r.status == status, (method, r.status, r.body)
            if alias:
                assert r.json()["alias"] == alias


def test_bad_chunked_encoding_is_400_and_closes(api, server):
    """A malformed chunk: 400 with the JSON error body (api_id,
    X-Request-Id), the connection closes, and nothing is created."""
    before = api.list_endpoints()["meta"]["total_count"]
    with RawConn(server.port) as c:
        c.send(("POST /api/v1/Account/%s/Endpoint/ HTTP/1.1\r\nHost: x\r\n"
                "X-Auth-ID: %s\r\nX-Auth-Token: %s\r\n"
                "Content-Type: application/json\r\n"
                "Transfer-Encoding: chunked\r\n\r\nzz\r\nabc\r\n0\r\n\r\n"
                % (api.auth_id, api.auth_id, api.token)).encode())
        r = c.read_response("POST")
        assert r.status == 400, r.status
        assert r.closes()
        assert "json" in (r.header("content-type") or "")
        assert r.json()["api_id"] == r.header("x-request-id")
        assert c.at_eof()
    assert api.list_endpoints()["meta"]["total_count"] == before


@pytest.mark.parametrize("framing", ["both", "no_host"])
def test_ambiguous_framing_is_json_400_and_closes(api, server, framing):
    """Content-Length together with Transfer-Encoding (request smuggling) or
    HTTP/1.1 without Host: 400 with a JSON error, then the connection
    closes."""
    head = "POST /api/v1/Account/%s/Endpoint/ HTTP/1.1\r\n" % api.auth_id
    if framing == "both":
        head += "Host: x\r\nContent-Length: 2\r\nTransfer-Encoding: chunked\r\n"
        body = "2\r\n{}\r\n0\r\n\r\n"
    else:
        head += "Content-Length: 2\r\n"
        body = "{}"
    with RawConn(server.port) as c:
        c.send((head + "X-Auth-ID: %s\r\nX-Auth-Token: %s\r\n"
                "Content-Type: application/json\r\n\r\n" % (
                    api.auth_id, api.token) + body).encode())
        r = c.read_response("POST")
        assert r.status == 400, r.status
        assert r.closes()
    assert "json" in (r.header("content-type") or "")
    err = r.json()
    assert err.get("api_id") and err.get("error") and err.get("message")
    assert r.header("x-request-id") == err["api_id"]


def test_expect_100_continue_oversized_answered_without_body(api, server):
    """curl sends Expect: 100-continue for big bodies; the server refuses
    at once instead of waiting for a body it will not take."""
    with RawConn(server.port) as c:
        c.send(("POST /api/v1/Account/%s/Endpoint/ HTTP/1.1\r\nHost: x\r\n"
                "X-Auth-ID: %s\r\nX-Auth-Token: %s\r\n"
                "Content-Type: application/json\r\n"
                "Content-Length: 1000000\r\nExpect: 100-continue\r\n\r\n"
                % (api.auth_id, api.auth_id, api.token)).encode())
        r = c.read_response("POST")
        if r.status == 100:
            try:
                c.send(b" " * 1000000)
            except OSError:
                pass
            r = c.read_response("POST")
        assert r.status in (400, 413), r.status
        assert r.json()["api_id"] == r.header("x-request-id")


def test_lowercase_auth_header_names(api):
    r = requests.get(api.url("Endpoint/"),
                     headers={"x-auth-id": api.auth_id,
                              "x-auth-token": api.token}, timeout=15)
    expect_ok_json(r, 200)


@pytest.mark.parametrize("mangle", ["0{id}", "+{id}", "%20{id}", "{id}%20",
                                    "{id}.0", "{id}0", "{id}%00"],
                         ids=["lead0", "plus", "lead-space", "trail-space",
                              "decimal", "extra-digit", "nul"])
def test_ids_are_opaque_strings(api, mangle):
    eid = api.create_endpoint()["endpoint_id"]
    app = api.create_app()["app_id"]
    expect_error(api.get("Endpoint/%s/" % mangle.format(id=eid)), 404)
    expect_error(api.get("Application/%s/" % mangle.format(id=app)), 404)
    expect_error(api.delete("Endpoint/%s/" % mangle.format(id=eid)), 404)
    api.endpoint(eid)


def test_log_lines_cannot_be_injected(api, server):
    marker = "pwned%s" % uname("")
    with RawConn(server.port) as c:
        r = c.request("GET", "/api/v1/Account/%s/Endpoint/1%%0D%%0Alevel=error"
                      "%%20event=%s%%22x/" % (api.auth_id, marker),
                      headers=dict(api.auth_headers(),
                                   **{"User-Agent": "ua\x0bevent=%s" % marker,
                                      "Connection": "close"}))
        assert r.status == 404
    # The request's own log line must come, quoted, with the marker inside
    # its path; no line may start with the injected text.
    lines = wait_until(
        lambda: [ln for ln in server.log_text().splitlines()
                 if marker in ln and "event=http_request" in ln],
        timeout=10, what="the http_request log line of the request")
    assert any("status=404" in ln for ln in lines), lines
    for line in server.log_text().splitlines():
        if marker in line:
            assert line.startswith("ts=") or \
                line.split("=", 1)[0].isidentifier(), line
            assert not line.lstrip().startswith(
                "level=error event=" + marker), "log injection: %r" % line
