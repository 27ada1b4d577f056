"""Request bodies: size cap, malformed JSON, non-objects, duplicate keys,
invalid UTF-8, empty bodies, content types and charsets. A rejected request
changes nothing."""

import json

import pytest
import requests

from conftest import (RawConn, ConnectionClosed, assert_unchanged,
                      expect_empty, expect_error, expect_ok_json, uname, pw,
                      HTTP_TIMEOUT)

CAP = 65536
JSON = {"Content-Type": "application/json"}


def send(api, method, rel, data, headers=None):
    h = dict(JSON)
    if headers is not None:
        h = headers
    try:
        return api.req(method, rel, data=data, headers=h)
    except requests.ConnectionError as e:
        raise AssertionError(
            "%s %s with a %d-byte body: connection failed before an answer "
            "could be read (%s)" % (method, rel, len(data or b""), e))


def padded_create(user, size):
    """A valid create body of exactly `size` bytes (whitespace padding)."""
    head = ('{"username": "%s", "password": "%s"' % (user, pw())).encode()
    pad = size - len(head) - 1
    assert pad >= 0
    return head + b" " * pad + b"}"


def absent(api, user):
    assert api.list_endpoints(username__exact=user)["objects"] == [], \
        "rejected request created %s" % user


@pytest.fixture
def ep(api):
    eid = api.create_endpoint(alias="body tests")["endpoint_id"]
    return api.endpoint(eid)


# ------------------------------------------------------------------ size

def test_body_exactly_at_cap_accepted(api):
    user = uname()
    body = padded_create(user, CAP)
    assert len(body) == CAP
    r = send(api, "POST", "Endpoint/", body)
    expect_ok_json(r, 201)


def test_body_one_over_cap_rejected(api):
    user = uname()
    body = padded_create(user, CAP + 1)
    r = send(api, "POST", "Endpoint/", body)
    expect_error(r, (400, 413))
    absent(api, user)


def test_big_body_rejected(api):
    user = uname()
    body = json.dumps({"username": user, "password": pw(),
                       "alias": "x" * 1000000}).encode()
    r = send(api, "POST", "Endpoint/", body)
    expect_error(r, (400, 413))
    absent(api, user)


def test_oversized_update_changes_nothing(api, ep):
    body = json.dumps({"alias": "x" * (CAP + 10)}).encode()
    r = send(api, "POST", "Endpoint/%s/" % ep["endpoint_id"], body)
    expect_error(r, (400, 413))
    assert_unchanged(ep, api.endpoint(ep["endpoint_id"]))


def test_oversized_chunked_rejected(api):
    user = uname()
    payload = padded_create(user, CAP + 5000)

    def gen():
        for i in range(0, len(payload), 4096):
            yield payload[i:i + 4096]
    try:
        r = api.req("POST", "Endpoint/", data=gen(), headers=JSON)
    except requests.ConnectionError as e:
        raise AssertionError("chunked oversized body: no answer (%s)" % e)
    expect_error(r, (400, 413))
    absent(api, user)


def test_chunked_body_accepted(api):
    user = uname()
    payload = json.dumps({"username": user, "password": pw()}).encode()

    def gen():
        for i in range(0, len(payload), 7):
            yield payload[i:i + 7]
    r = api.req("POST", "Endpoint/", data=gen(), headers=JSON)
    expect_ok_json(r, 201)


def test_oversized_connection_handling(api, server):
    """After an oversized body the server either keeps the connection usable
    or says Connection: close on that response and closes."""
    user = uname()
    body = padded_create(user, CAP + 20000)
    with RawConn(server.port) as c:
        req = c.build("POST", "/api/v1/Account/%s/Endpoint/" % api.auth_id,
                      headers=dict(api.auth_headers(), **JSON), body=body)
        try:
            c.send(req)
        except (BrokenPipeError, ConnectionResetError):
            pass  # the server may answer before reading it all
        try:
            r = c.read_response("POST")
        except (ConnectionClosed, ConnectionResetError) as e:
            raise AssertionError("no response to an oversized body: %r" % e)
        assert r.status in (400, 413), r.status
        err = r.json()
        assert err.get("api_id") and err.get("error") and err.get("message")
        assert r.header("x-request-id") == err["api_id"]
        if r.closes():
            assert c.at_eof(), "said Connection: close but kept it open"
        else:
            try:
                r2 = c.request("GET", "/health")
            except (ConnectionClosed, ConnectionError, OSError):
                raise AssertionError("server closed the connection after 413 "
                                     "without Connection: close")
            assert r2.status == 200
    absent(api, user)


def test_configured_body_max(make_server):
    srv = make_server(env={"SIPWARD_BODY_MAX": 1024})
    a = srv.api()
    ok_user, bad_user = uname(), uname()
    r = send(a, "POST", "Endpoint/", padded_create(ok_user, 1024))
    expect_ok_json(r, 201)
    r = send(a, "POST", "Endpoint/", padded_create(bad_user, 1025))
    expect_error(r, (400, 413))
    absent(a, bad_user)


# ------------------------------------------------------------------ JSON

MALFORMED = [
    b"{", b"}", b'{"username": }', b"{'username': 'x'}",
    b'{"username": "x", "password": "12345678",}', b"{username: 1}",
    b'{"a": NaN}', b'{"a": Infinity}', b'{"a": 1} trailing',
    b'{"a": 1}{"b": 2}', b"// comment\n{}", b'{"a": "unterminated}',
    b'{"a": "bad \\x escape"}', b'{"a": 01}', b'{"a": .5}',
    b"\xef\xbb\xbf{}", b"nul",
]


@pytest.mark.parametrize("body", MALFORMED, ids=lambda b: repr(b)[:24])
def test_malformed_json_create_400(api, body):
    r = send(api, "POST", "Endpoint/", body)
    expect_error(r, 400)


@pytest.mark.parametrize("body", MALFORMED[:8], ids=lambda b: repr(b)[:24])
def test_malformed_json_update_400(api, ep, body):
    r = send(api, "POST", "Endpoint/%s/" % ep["endpoint_id"], body)
    expect_error(r, 400)
    assert_unchanged(ep, api.endpoint(ep["endpoint_id"]))


NOT_OBJECTS = [b"[]", b'[{"username": "x", "password": "12345678"}]',
               b'"string"', b"1", b"null", b"true", b"false", b"3.5"]


@pytest.mark.parametrize("body", NOT_OBJECTS, ids=lambda b: repr(b)[:24])
def test_not_an_object_400(api, ep, body):
    expect_error(send(api, "POST", "Endpoint/", body), 400)
    expect_error(send(api, "POST", "Application/", body), 400)
    expect_error(send(api, "POST", "Endpoint/%s/" % ep["endpoint_id"],
                      body), 400)
    assert_unchanged(ep, api.endpoint(ep["endpoint_id"]))


def test_duplicate_keys_create_400(api):
    u1, u2 = uname(), uname()
    body = ('{"username": "%s", "username": "%s", "password": "%s"}'
            % (u1, u2, pw())).encode()
    r = send(api, "POST", "Endpoint/", body)
    err = expect_error(r, 400)
    assert "duplicate" in (err["message"] + json.dumps(
        err.get("details") or {})).lower(), err
    absent(api, u1)
    absent(api, u2)


def test_duplicate_keys_same_value_400(api):
    u = uname()
    p = pw()
    body = ('{"username": "%s", "password": "%s", "password": "%s"}'
            % (u, p, p)).encode()
    expect_error(send(api, "POST", "Endpoint/", body), 400)
    absent(api, u)


def test_duplicate_keys_update_400(api, ep):
    body = b'{"alias": "first", "alias": "second"}'
    expect_error(send(api, "POST", "Endpoint/%s/" % ep["endpoint_id"],
                      body), 400)
    assert_unchanged(ep, api.endpoint(ep["endpoint_id"]))


def test_duplicate_keys_application_400(api):
    body = (b'{"app_name": "dup", "app_name": "dup2", '
            b'"answer_url": "https://e.test/"}')
    expect_error(send(api, "POST", "Application/", body), 400)


def test_duplicate_keys_nested_400(api, ep):
    body = b'{"alias": "ok", "application": {"a": 1, "a": 2}}'
    expect_error(send(api, "POST", "Endpoint/%s/" % ep["endpoint_id"],
                      body), 400)
    assert_unchanged(ep, api.endpoint(ep["endpoint_id"]))


BAD_UTF8 = [
    b"\xff", b"\xfe\xff", b"\xc3", b"\xc0\xaf", b"\xe0\x80\xaf",
    b"\xed\xa0\x80", b"\xf4\x90\x80\x80", b"\x80abc", b"caf\xe9",
]


@pytest.mark.parametrize("bad", BAD_UTF8, ids=lambda b: b.hex())
def test_invalid_utf8_in_value_400(api, bad):
    user = uname()
    body = (b'{"username": "' + user.encode() + b'", "password": "' +
            pw().encode() + b'", "alias": "x' + bad + b'y"}')
    expect_error(send(api, "POST", "Endpoint/", body), 400)
    absent(api, user)


def test_invalid_utf8_in_password_400(api):
    user = uname()
    body = (b'{"username": "' + user.encode() +
            b'", "password": "abc\xff\xfedefgh"}')
    expect_error(send(api, "POST", "Endpoint/", body), 400)
    absent(api, user)


def test_invalid_utf8_in_key_400(api):
    user = uname()
    body = (b'{"username": "' + user.encode() + b'", "password": "' +
            pw().encode() + b'", "al\xffias": "x"}')
    expect_error(send(api, "POST", "Endpoint/", body), 400)
    absent(api, user)


def test_invalid_utf8_update_changes_nothing(api, ep):
    body = b'{"alias": "bad \xc0\xaf"}'
    expect_error(send(api, "POST", "Endpoint/%s/" % ep["endpoint_id"],
                      body), 400)
    assert_unchanged(ep, api.endpoint(ep["endpoint_id"]))


@pytest.mark.parametrize("esc", [b"\\ud800", b"\\udc00", b"\\ud800x",
                                 b"\\udfff\\ud800"])
def test_lone_surrogate_escape_400(api, esc):
    user = uname()
    body = (b'{"username": "' + user.encode() + b'", "password": "' +
            pw().encode() + b'", "alias": "a' + esc + b'"}')
    expect_error(send(api, "POST", "Endpoint/", body), 400)
    absent(api, user)


def test_valid_surrogate_pair_escape_ok(api):
    user = uname()
    body = (b'{"username": "' + user.encode() + b'", "password": "' +
            pw().encode() + b'", "alias": "phone \\ud83d\\udcde"}')
    r = send(api, "POST", "Endpoint/", body)
    eid = expect_ok_json(r, 201)["endpoint_id"]
    assert api.endpoint(eid)["alias"] == "phone \U0001F4DE"


def test_raw_nul_byte_in_body_400(api):
    user = uname()
    body = (b'{"username": "' + user.encode() + b'", "password": "' +
            pw().encode() + b'", "alias": "a\x00b"}')
    expect_error(send(api, "POST", "Endpoint/", body), 400)
    absent(api, user)


def test_escaped_nul_in_value_400(api):
    user = uname()
    body = ('{"username": "%s", "password": "%s", "alias": "a\\u0000b"}'
            % (user, pw())).encode()
    expect_error(send(api, "POST", "Endpoint/", body), 400)
    absent(api, user)


def test_deep_nesting_400(api, ep):
    depth = 20000
    body = b'{"alias": ' + b"[" * depth + b"]" * depth + b"}"
    assert len(body) < CAP
    expect_error(send(api, "POST", "Endpoint/%s/" % ep["endpoint_id"],
                      body), 400)
    assert_unchanged(ep, api.endpoint(ep["endpoint_id"]))


@pytest.mark.parametrize("num", [b"1e999999", b"123456789012345678901234567890",
                                 b"-99999999999999999999999", b"1.0",
                                 b"1e2"])
def test_huge_or_float_numbers_400(api, ep, num):
    body = b'{"application": ' + num + b"}"
    expect_error(send(api, "POST", "Endpoint/%s/" % ep["endpoint_id"],
                      body), 400)
    assert_unchanged(ep, api.endpoint(ep["endpoint_id"]))


# ------------------------------------------------------------------ empty

@pytest.mark.parametrize("body", [b"", b" ", b"\r\n"], ids=repr)
def test_empty_body_create_400(api, body):
    expect_error(send(api, "POST", "Endpoint/", body), 400)
    expect_error(send(api, "POST", "Application/", body), 400)


@pytest.mark.parametrize("body", [b"", b"  "], ids=repr)
def test_empty_body_update_400(api, ep, body):
    expect_error(send(api, "POST", "Endpoint/%s/" % ep["endpoint_id"],
                      body), 400)
    app = api.create_app()["app_id"]
    before = api.app(app)
    expect_error(send(api, "POST", "Application/%s/" % app, body), 400)
    assert_unchanged(before, api.app(app))
    assert_unchanged(ep, api.endpoint(ep["endpoint_id"]))


def test_post_without_body_or_content_type_400(api):
    r = api.req("POST", "Endpoint/")
    expect_error(r, (400, 411))


# ------------------------------------------------------------------ types

BAD_TYPES = ["text/plain", "application/x-www-form-urlencoded",
             "multipart/form-data; boundary=xyz", "application/xml",
             "application/jsonx", "application/json-patch+json", "text/json",
             "*/*", "application"]


@pytest.mark.parametrize("ctype", BAD_TYPES)
def test_wrong_content_type_create_415(api, ctype):
    user = uname()
    body = json.dumps({"username": user, "password": pw()}).encode()
    expect_error(send(api, "POST", "Endpoint/", body,
                      headers={"Content-Type": ctype}), 415)
    absent(api, user)


@pytest.mark.parametrize("ctype", ["text/plain",
                                   "application/x-www-form-urlencoded"])
def test_wrong_content_type_update_415(api, ep, ctype):
    body = json.dumps({"alias": "must not apply"}).encode()
    expect_error(send(api, "POST", "Endpoint/%s/" % ep["endpoint_id"], body,
                      headers={"Content-Type": ctype}), 415)
    assert_unchanged(ep, api.endpoint(ep["endpoint_id"]))
    app = api.create_app()["app_id"]
    expect_error(send(api, "POST", "Application/%s/" % app,
                      b'{"app_name": "nope"}',
                      headers={"Content-Type": ctype}), 415)
    expect_error(send(api, "POST", "Application/", b'{"app_name": "nope"}',
                      headers={"Content-Type": ctype}), 415)


def test_form_body_as_curl_sends_it_415(api):
    user = uname()
    r = send(api, "POST", "Endpoint/",
             ("username=%s&password=%s" % (user, pw())).encode(),
             headers={"Content-Type": "application/x-www-form-urlencoded"})
    expect_error(r, 415)
    absent(api, user)


GOOD_TYPES = ["application/json", "application/json; charset=utf-8",
              "application/json; charset=UTF-8", "application/json;charset=utf-8",
              "application/json; charset=\"utf-8\"", "Application/JSON",
              "application/json ; charset=utf-8"]


@pytest.mark.parametrize("ctype", GOOD_TYPES)
def test_json_content_types_accepted(api, ctype):
    user = uname()
    body = json.dumps({"username": user, "password": pw(),
                       "alias": "caf\u00e9"}, ensure_ascii=False).encode()
    r = send(api, "POST", "Endpoint/", body,
             headers={"Content-Type": ctype})
    eid = expect_ok_json(r, 201)["endpoint_id"]
    assert api.endpoint(eid)["alias"] == "caf\u00e9"


@pytest.mark.parametrize("charset", ["iso-8859-1", "latin1", "utf-16",
                                     "us-ascii", "windows-1252", "utf8mb4",
                                     ""])
def test_non_utf8_charset_415(api, ep, charset):
    user = uname()
    body = json.dumps({"username": user, "password": pw()}).encode()
    ctype = "application/json; charset=%s" % charset
    expect_error(send(api, "POST", "Endpoint/", body,
                      headers={"Content-Type": ctype}), (415,) if charset
                 else (400, 415))
    absent(api, user)
    expect_error(send(api, "POST", "Endpoint/%s/" % ep["endpoint_id"],
                      b'{"alias": "nope"}', headers={"Content-Type": ctype}),
                 (415,) if charset else (400, 415))
    assert_unchanged(ep, api.endpoint(ep["endpoint_id"]))


@pytest.mark.parametrize("ctype", [None, "application/json", "text/plain",
                                   "application/x-www-form-urlencoded"])
def test_get_without_body_any_content_type(api, ep, ctype):
    h = {"Content-Type": ctype} if ctype else {}
    r = api.req("GET", "Endpoint/", headers=h)
    expect_ok_json(r, 200)
    r = api.req("GET", "Endpoint/%s/" % ep["endpoint_id"], headers=h)
    expect_ok_json(r, 200)
    r = api.req("GET", "Application/", headers=h)
    expect_ok_json(r, 200)


def test_delete_app_with_empty_object_body(api):
    app = api.create_app()["app_id"]
    r = api.req("DELETE", "Application/%s/" % app, json_body={})
    expect_empty(r, 204)


def test_delete_with_wrong_type_and_body_415(api, ep):
    r = send(api, "DELETE", "Endpoint/%s/" % ep["endpoint_id"], b"{}",
             headers={"Content-Type": "text/plain"})
    expect_error(r, 415)
    api.endpoint(ep["endpoint_id"])


def test_error_messages_are_clear(api):
    r = send(api, "POST", "Endpoint/", b"{oops")
    err = expect_error(r, 400)
    assert len(err["message"]) >= 10
    r = send(api, "POST", "Endpoint/", b"[]")
    err = expect_error(r, 400)
    assert "object" in err["message"].lower(), err


# ------------------------------------------------------------------ fuzz

WEIRD = [None, True, False, 0, -1, 1.5, 2 ** 63, -2 ** 63 - 1, "", " ",
         "x" * 300, "\u0000", "\ud7ff", "\U0010ffff", "\u202e", "%s%n",
         "' OR 1=1", [], [1, 2], {}, {"a": {"b": []}}, "true", "null",
         "12345678", "https://e.test/", "GET", "MA_ZZZZZZZZ"]
EP_FIELDS = ["username", "password", "alias", "application", "app_id",
             "allow_voice", "allow_message", "allow_video", "allow_same_domain",
             "allow_other_domains", "allow_phones", "allow_apps", "sub_account",
             "endpoint_id", "domain", "x"]
APP_FIELDS = ["app_name", "answer_url", "answer_method", "hangup_url",
              "hangup_method", "fallback_answer_url", "fallback_method",
              "message_url", "message_method", "default_endpoint_app",
              "sub_account", "app_id", "cascade", "new_endpoint_application",
              "y"]


def _random_body(rng, fields):
    body = {}
    for f in rng.sample(fields, rng.randint(0, len(fields))):
        body[f] = rng.choice(WEIRD)
    return body


def test_seeded_fuzz_never_5xx(api):
    import random
    rng = random.Random(20240607)
    eid = api.create_endpoint()["endpoint_id"]
    app = api.create_app()["app_id"]
    for i in range(300):
        kind = rng.randrange(5)
        if kind == 0:
            r = api.post("Endpoint/", _random_body(rng, EP_FIELDS))
        elif kind == 1:
            r = api.post("Endpoint/%s/" % eid, _random_body(rng, EP_FIELDS))
        elif kind == 2:
            r = api.post("Application/", _random_body(rng, APP_FIELDS))
        elif kind == 3:
            r = api.post("Application/%s/" % app,
                         _random_body(rng, APP_FIELDS))
        else:
            r = api.req("DELETE", "Application/%s/" % app,
                        json_body=_random_body(rng, APP_FIELDS))
            if r.status_code == 204:
                app = api.create_app()["app_id"]
        assert r.status_code < 500
        if r.status_code >= 400:
            expect_error(r, r.status_code)
        elif r.status_code == 201 and kind == 2:
            pass
        if kind == 1 and r.status_code == 404:
            raise AssertionError("endpoint vanished after %r" % r.request.body)


def test_huge_chunked_body_still_answered(api):
    """A chunked body far over the cap (no Content-Length to refuse early)
    still gets a 413/400 answer, not a dropped connection."""
    user = uname()
    payload = padded_create(user, 5 * CAP + 1000)

    def gen():
        for i in range(0, len(payload), 16384):
            yield payload[i:i + 16384]
    try:
        r = api.req("POST", "Endpoint/", data=gen(), headers=JSON)
    except requests.ConnectionError as e:
        raise AssertionError("%d-byte chunked body: connection dropped "
                             "without an answer (%s)" % (len(payload), e))
    expect_error(r, (400, 413))
    absent(api, user)
