"""Retrieve and list endpoints: object shape, envelope, paging, filters."""

from urllib.parse import parse_qs, urlsplit

import pytest

from conftest import (ALLOW_DEFAULTS, ENDPOINT_FIELDS, ENDPOINT_ID_RE, TS_RE,
                      UUID_RE, expect_error, expect_ok_json, uname, pw)


def check_endpoint_object(o, api, username=None, in_list=False):
    for k in ENDPOINT_FIELDS:
        assert k in o, "endpoint object lacks %s: %r" % (k, o)
    for k in ("password", "ha1", "ha1_md5", "ha1_sha256", "auth_token"):
        assert k not in o, "endpoint object exposes %s" % k
    if in_list:
        assert "api_id" not in o, "list items carry api_id (retrieve only)"
    else:
        assert UUID_RE.match(o.get("api_id", "")), o
    assert ENDPOINT_ID_RE.match(o["endpoint_id"]), o
    if username:
        assert o["username"] == username
    assert o["domain"] == api.domain
    assert o["sip_uri"] == "sip:%s@%s" % (o["username"], api.domain)
    for k in ALLOW_DEFAULTS:
        assert isinstance(o[k], bool), (k, o[k])
    assert o["sip_registered"] == "false", o["sip_registered"]
    assert o["sip_contact"] is None
    assert o["sip_expires"] is None
    assert o["sip_user_agent"] is None
    assert o["sip_registrations"] == []
    assert o["sub_account"] is None
    assert o["resource_uri"] == "/v1/Account/%s/Endpoint/%s/" % (
        api.auth_id, o["endpoint_id"])
    assert TS_RE.match(o["created_at"]), o["created_at"]
    assert TS_RE.match(o["updated_at"]), o["updated_at"]
    assert o["application"] is None or isinstance(o["application"], dict)
    if o["application"] is not None:
        for k in ("app_id", "app_name", "answer_url", "answer_method"):
            assert k in o["application"], o["application"]


def test_retrieve_object(api):
    user = uname()
    c = api.create_endpoint(user, alias="Retrieve me")
    r = api.get("Endpoint/%s/" % c["endpoint_id"])
    o = expect_ok_json(r, 200)
    check_endpoint_object(o, api, user)
    assert o["alias"] == "Retrieve me"
    assert o["endpoint_id"] == c["endpoint_id"]
    assert o["sip_uri"] == c["sip_uri"]
    assert o["resource_uri"] == c["resource_uri"]
    assert o["created_at"] == o["updated_at"]


def test_retrieve_application_object(api):
    app = api.create_app(app_name="Shown", answer_url="https://x.test/a",
                         answer_method="GET")["app_id"]
    eid = api.create_endpoint(application=app)["endpoint_id"]
    o = api.endpoint(eid)
    assert o["application"]["app_id"] == app
    assert isinstance(o["application"]["app_id"], str)
    assert o["application"]["app_name"] == "Shown"
    assert o["application"]["answer_url"] == "https://x.test/a"
    assert o["application"]["answer_method"] == "GET"


def test_resource_uri_is_retrievable(api):
    c = api.create_endpoint()
    r = api.get_path(c["resource_uri"])
    assert expect_ok_json(r, 200)["endpoint_id"] == c["endpoint_id"]


@pytest.mark.parametrize("eid", ["999999999999999", "0", "abc",
                                 "12345678901234567890", "-1", "%20"])
def test_retrieve_unknown_404(api, eid):
    expect_error(api.get("Endpoint/%s/" % eid), 404)


# --------------------------------------------------------------- envelope

def test_list_envelope_and_items(fresh):
    users = [uname() for _ in range(3)]
    for u in users:
        fresh.create_endpoint(u)
    r = fresh.get("Endpoint/")
    body = expect_ok_json(r, 200)
    assert set(body) >= {"api_id", "meta", "objects"}
    m = body["meta"]
    assert set(m) >= {"limit", "offset", "total_count", "next", "previous"}
    assert m["limit"] == 20 and m["offset"] == 0 and m["total_count"] == 3
    assert m["next"] is None and m["previous"] is None
    assert [o["username"] for o in body["objects"]] == users
    for o in body["objects"]:
        check_endpoint_object(o, fresh, in_list=True)
        full = fresh.endpoint(o["endpoint_id"])
        del full["api_id"]
        assert o == full, "list item differs from retrieve"


def test_empty_list(fresh):
    body = fresh.list_endpoints()
    assert body["objects"] == []
    assert body["meta"]["total_count"] == 0
    assert body["meta"]["next"] is None and body["meta"]["previous"] is None


@pytest.fixture(scope="module")
def paged(server):
    """An account with 25 endpoints, created in a known order."""
    a = server.new_account()
    users = ["p%02d_%s" % (i, uname("x")) for i in range(25)]
    ids = [a.create_endpoint(u)["endpoint_id"] for u in users]
    return a, users, ids


def _q(url):
    return {k: v[0] for k, v in parse_qs(urlsplit(url).query).items()}


def test_default_paging_and_next_previous(paged):
    a, users, ids = paged
    p1 = a.list_endpoints()
    assert p1["meta"]["limit"] == 20 and p1["meta"]["total_count"] == 25
    assert [o["endpoint_id"] for o in p1["objects"]] == ids[:20]
    nxt = p1["meta"]["next"]
    assert nxt and nxt.startswith("/api/v1/Account/%s/Endpoint/" % a.auth_id)
    assert not nxt.startswith("http")
    q = _q(nxt)
    assert q.get("offset") == "20" and q.get("limit") == "20", nxt
    assert p1["meta"]["previous"] is None
    p2 = expect_ok_json(a.get_path(nxt), 200)
    assert [o["endpoint_id"] for o in p2["objects"]] == ids[20:]
    assert p2["meta"]["offset"] == 20
    assert p2["meta"]["next"] is None
    prev = p2["meta"]["previous"]
    assert prev and prev.startswith("/api/v1/"), prev
    p0 = expect_ok_json(a.get_path(prev), 200)
    assert [o["endpoint_id"] for o in p0["objects"]] == ids[:20]


def test_walk_with_small_limit_is_stable_creation_order(paged):
    a, users, ids = paged
    seen = []
    page = a.list_endpoints(limit=7)
    while True:
        seen += [o["endpoint_id"] for o in page["objects"]]
        assert page["meta"]["limit"] == 7
        if page["meta"]["next"] is None:
            break
        page = expect_ok_json(a.get_path(page["meta"]["next"]), 200)
    assert seen == ids


def test_previous_from_middle_offset_clamps_to_zero(paged):
    a, users, ids = paged
    p = a.list_endpoints(limit=10, offset=5)
    assert [o["endpoint_id"] for o in p["objects"]] == ids[5:15]
    prev = p["meta"]["previous"]
    assert prev is not None
    q = _q(prev)
    assert q.get("offset") in ("0", None), prev
    got = expect_ok_json(a.get_path(prev), 200)
    assert got["objects"][0]["endpoint_id"] == ids[0]


def test_next_previous_keep_v1_prefix(paged):
    a, users, ids = paged
    v1 = a.clone(prefix="/v1")
    p = expect_ok_json(v1.get("Endpoint/", params={"limit": 10,
                                                   "offset": 10}), 200)
    assert p["meta"]["next"].startswith("/v1/Account/%s/Endpoint/"
                                        % a.auth_id), p["meta"]
    assert p["meta"]["previous"].startswith("/v1/Account/%s/Endpoint/"
                                            % a.auth_id), p["meta"]
    n = expect_ok_json(a.get_path(p["meta"]["next"]), 200)
    assert [o["endpoint_id"] for o in n["objects"]] == ids[20:]


def test_next_keeps_filters(paged):
    a, users, ids = paged
    # users p10..p19 share the prefix "p1"
    p = a.list_endpoints(limit=4, username__startswith="p1")
    assert p["meta"]["total_count"] == 10
    nxt = p["meta"]["next"]
    assert "username__startswith=p1" in nxt or \
        "username_startswith=p1" in nxt, nxt
    seen = [o["endpoint_id"] for o in p["objects"]]
    while nxt:
        p = expect_ok_json(a.get_path(nxt), 200)
        seen += [o["endpoint_id"] for o in p["objects"]]
        nxt = p["meta"]["next"]
    assert seen == ids[10:20]


def test_next_is_keyset_and_stable_under_deletes(server):
    """meta.next names the page's last endpoint (after=): the next page is
    what follows it in creation order even when endpoints before it were
    deleted meanwhile (an offset alone would skip one), and a deep page
    costs what the first does (no OFFSET walk). meta.offset stays the
    position the client asked for."""
    a = server.new_account()
    ids = [a.create_endpoint(uname("k"))["endpoint_id"] for _ in range(7)]
    p1 = a.list_endpoints(limit=3)
    nxt = p1["meta"]["next"]
    assert _q(nxt).get("after") == ids[2] and _q(nxt)["offset"] == "3", nxt
    assert a.delete("Endpoint/%s/" % ids[0]).status_code == 204
    p2 = expect_ok_json(a.get_path(nxt), 200)
    assert [o["endpoint_id"] for o in p2["objects"]] == ids[3:6]
    assert p2["meta"]["offset"] == 3 and p2["meta"]["total_count"] == 6
    assert _q(p2["meta"]["next"]).get("after") == ids[5]
    # previous pages go by offset
    assert "after" not in _q(p2["meta"]["previous"])


def test_after_gone_or_bad(server):
    a = server.new_account()
    ids = [a.create_endpoint(uname("g"))["endpoint_id"] for _ in range(4)]
    # the named endpoint was deleted: the offset decides
    assert a.delete("Endpoint/%s/" % ids[1]).status_code == 204
    p = expect_ok_json(a.get("Endpoint/", params={
        "limit": 2, "offset": 1, "after": ids[1]}), 200)
    assert [o["endpoint_id"] for o in p["objects"]] == ids[2:4]
    # another account's endpoint is unknown here: the offset decides too
    b = server.new_account()
    other = b.create_endpoint(uname("o"))["endpoint_id"]
    p = expect_ok_json(a.get("Endpoint/", params={
        "limit": 2, "offset": 0, "after": other}), 200)
    assert [o["endpoint_id"] for o in p["objects"]] == [ids[0], ids[2]]
    # not an id, or given twice: 400
    expect_error(a.get("Endpoint/", params={"after": "x1"}), 400)
    expect_error(a.get_path("/api/v1/Account/%s/Endpoint/?after=%s&after=%s"
                            % (a.auth_id, ids[0], ids[2])), 400)
    # applications page by offset: after is not theirs
    expect_error(a.get("Application/", params={"after": ids[0]}), 400)


def test_offset_past_end_is_empty(paged):
    a, users, ids = paged
    p = a.list_endpoints(offset=25)
    assert p["objects"] == [] and p["meta"]["total_count"] == 25
    assert p["meta"]["next"] is None
    p = a.list_endpoints(offset=1000)
    assert p["objects"] == []


@pytest.mark.parametrize("limit", [1, 100])
def test_limit_bounds_accepted(paged, limit):
    a, users, ids = paged
    p = a.list_endpoints(limit=limit)
    assert p["meta"]["limit"] == limit
    assert len(p["objects"]) == min(limit, 25)


@pytest.mark.parametrize("params", [
    {"limit": 0}, {"limit": 101}, {"limit": -1}, {"limit": "abc"},
    {"limit": ""}, {"limit": "1.5"}, {"limit": "99999999999999999999"},
    {"offset": -1}, {"offset": "x"}, {"offset": ""},
    {"offset": "99999999999999999999999"}], ids=repr)
def test_bad_paging_400(api, params):
    r = api.get("Endpoint/", params=params)
    expect_error(r, 400)


@pytest.mark.parametrize("params", [
    {"foo": "1"}, {"username__regex": "a"}, {"username___exact": "a"},
    {"Username__exact": "a"}, {"page": "2"}, {"alias__startswith": "a"},
    {"application_id": "1"}], ids=repr)
def test_unknown_query_parameter_400(api, params):
    r = api.get("Endpoint/", params=params)
    body = expect_error(r, 400)
    name = list(params)[0]
    assert name in body["message"] or name in (body.get("details") or {}), \
        body


# --------------------------------------------------------------- filters

@pytest.fixture(scope="module")
def filt(server):
    """An account with a known set of endpoints for filter tests."""
    a = server.new_account()
    app1 = a.create_app(app_name="f1")["app_id"]
    app2 = a.create_app(app_name="f2")["app_id"]
    spec = [
        ("alice", "Alice's Desk", app1),
        ("Alice", "alice upper", None),
        ("alicia", "Front desk", app2),
        ("bob", "Bob 100% real", app1),
        ("ab_cd", "under_score", None),
        ("abXcd", "underXscore", None),
        ("carol", "Caf\u00e9 phone", None),
    ]
    ids = {}
    for u, al, app in spec:
        kw = {"alias": al}
        if app:
            kw["application"] = app
        ids[u] = a.create_endpoint(u, **kw)["endpoint_id"]
    return a, ids, app1, app2


def _names(a, **params):
    body = a.list_endpoints(**params)
    names = [o["username"] for o in body["objects"]]
    assert body["meta"]["total_count"] == len(names), body["meta"]
    return names


FILTER_CASES = [
    ("username__exact", "alice", ["alice"]),
    ("username__exact", "Alice", ["Alice"]),
    ("username__exact", "ALICE", []),
    ("username__exact", "ali", []),
    ("username__contains", "lic", ["alice", "Alice", "alicia"]),
    ("username__contains", "LIC", []),
    ("username__contains", "b_c", ["ab_cd"]),
    ("username__contains", "_", ["ab_cd"]),
    ("username__contains", "%", []),
    ("username__contains", "a%d", []),
    ("username__startswith", "ali", ["alice", "alicia"]),
    ("username__startswith", "Ali", ["Alice"]),
    ("username__startswith", "ab_", ["ab_cd"]),
    ("username__startswith", "%", []),
    ("username__startswith", "zzz", []),
    ("alias__exact", "Front desk", ["alicia"]),
    ("alias__exact", "front desk", []),
    ("alias__exact", "Alice's Desk", ["alice"]),
    ("alias__contains", "desk", ["alicia"]),
    ("alias__contains", "Desk", ["alice"]),
    ("alias__contains", "100%", ["bob"]),
    ("alias__contains", "%", ["bob"]),
    ("alias__contains", "r_s", ["ab_cd"]),
    ("alias__contains", "_", ["ab_cd"]),
    ("alias__contains", "Caf\u00e9", ["carol"]),
    ("alias__contains", "'", ["alice"]),
]


@pytest.mark.parametrize("single", [False, True], ids=["double_", "single_"])
@pytest.mark.parametrize("param,value,expected", FILTER_CASES,
                         ids=["%s=%s" % (p, v) for p, v, e in FILTER_CASES])
def test_text_filters(filt, param, value, expected, single):
    a, ids, app1, app2 = filt
    if single:
        param = param.replace("__", "_")
    assert _names(a, **{param: value}) == expected


@pytest.mark.parametrize("single", [False, True], ids=["double_", "single_"])
def test_application_filters(filt, single):
    a, ids, app1, app2 = filt
    sep = "_" if single else "__"
    assert _names(a, **{"application_id%sexact" % sep: app1}) == \
        ["alice", "bob"]
    assert _names(a, **{"application_id%sexact" % sep: app2}) == ["alicia"]
    assert _names(a, **{"application_id%sisnull" % sep: "true"}) == \
        ["Alice", "ab_cd", "abXcd", "carol"]
    assert _names(a, **{"application_id%sisnull" % sep: "false"}) == \
        ["alice", "alicia", "bob"]


def test_application_filter_unknown_app_empty_or_400(filt):
    a, ids, app1, app2 = filt
    r = a.get("Endpoint/", params={"application_id__exact":
                                   "99999999999999999"})
    if r.status_code == 200:
        assert r.json()["objects"] == []
    else:
        expect_error(r, 400)


@pytest.mark.parametrize("value", ["yes", "1", "", "TRUEISH"])
def test_isnull_bad_value_400(filt, value):
    a, ids, app1, app2 = filt
    expect_error(a.get("Endpoint/", params={"application_id__isnull":
                                            value}), 400)


def test_sub_account_filter_accepted(filt):
    a, ids, app1, app2 = filt
    r = a.get("Endpoint/", params={"sub_account": a.auth_id})
    assert r.status_code == 200, r.text
    r = a.get("Endpoint/", params={"sub_account": "MA_ZZZZZZZ2"})
    assert r.status_code in (200, 400), r.text
    if r.status_code == 200:
        assert r.json()["objects"] == []


def test_filters_combine(filt):
    a, ids, app1, app2 = filt
    assert _names(a, username__startswith="ali",
                  application_id__exact=app2) == ["alicia"]
    assert _names(a, username__contains="a",
                  application_id__isnull="true") == \
        ["ab_cd", "abXcd", "carol"]
    assert _names(a, username__contains="a", alias__contains="desk") == \
        ["alicia"]


def test_filters_with_paging(filt):
    a, ids, app1, app2 = filt
    p = a.list_endpoints(username__contains="a", limit=2, offset=1)
    assert p["meta"]["total_count"] == 5
    assert [o["username"] for o in p["objects"]] == ["alicia", "ab_cd"]


def test_next_link_encodes_filter_values(server):
    a = server.new_account()
    alias = "a b%&c=d+e#f \u00e9 "
    ids = [a.create_endpoint(alias=alias + str(i))["endpoint_id"]
           for i in range(3)]
    a.create_endpoint(alias="unrelated")
    seen = []
    p = a.list_endpoints(alias__contains="b%&c=d+e#f \u00e9", limit=1)
    assert p["meta"]["total_count"] == 3
    while True:
        seen += [o["endpoint_id"] for o in p["objects"]]
        if p["meta"]["next"] is None:
            break
        p = expect_ok_json(a.get_path(p["meta"]["next"]), 200)
        assert p["meta"]["total_count"] == 3
    assert seen == ids


def test_backslash_in_filters_is_literal(fresh):
    e1 = fresh.create_endpoint(alias="back\\slash")["endpoint_id"]
    fresh.create_endpoint(alias="backslash")
    fresh.create_endpoint(alias="back%slash")
    assert [o["endpoint_id"] for o in fresh.list_endpoints(
        alias__contains="k\\s")["objects"]] == [e1]
    assert [o["endpoint_id"] for o in fresh.list_endpoints(
        alias__contains="\\")["objects"]] == [e1]
    assert [o["endpoint_id"] for o in fresh.list_endpoints(
        alias__exact="back\\slash")["objects"]] == [e1]


@pytest.mark.parametrize("value", ["' OR 1=1 --", "\" OR \"\"=\"",
                                   "%' OR '%'='", "*", "%%", "_%"])
def test_filter_values_are_not_sql(filt, value):
    a, ids, app1, app2 = filt
    for p in ("username__exact", "username__contains",
              "username__startswith", "alias__exact", "alias__contains"):
        body = a.list_endpoints(**{p: value})
        assert body["objects"] == [], (p, value)


def test_large_offset_is_empty_page(paged):
    a, users, ids = paged
    p = a.list_endpoints(offset=3000000000)
    assert p["objects"] == [] and p["meta"]["total_count"] == 25
    assert p["meta"]["offset"] == 3000000000


@pytest.mark.parametrize("param,value", [
    ("username__exact", "alice\x00zzz"), ("username__startswith", "ali\x00zz"),
    ("username__contains", "\x00"), ("alias__contains", "\x00"),
    ("alias__exact", "Front desk\x00junk")], ids=repr)
def test_nul_in_filter_value_matches_nothing(filt, param, value):
    """No stored username or alias contains NUL, so the filter must match
    nothing (or be refused), never be cut short at the NUL."""
    a, ids, app1, app2 = filt
    r = a.get("Endpoint/", params={param: value})
    if r.status_code == 200:
        assert r.json()["objects"] == [], \
            "%s=%r matched %r" % (param, value,
                                  [o["username"] for o in r.json()["objects"]])
    else:
        expect_error(r, 400)


def test_deep_offset_page_answers_the_same(fresh):
    """A page past API_INLINE_OFFSET (10,000) runs on a read worker rather
    than on an event loop (src/api/api.c, api_inline): same answer."""
    a = fresh
    for _ in range(3):
        a.create_endpoint(uname())
    for off in (10000, 10001, 123456):
        p = a.list_endpoints(limit=20, offset=off)
        assert p["objects"] == [], (off, p)
        assert p["meta"]["offset"] == off and \
            p["meta"]["total_count"] == 3, (off, p["meta"])
        assert p["meta"]["next"] is None, (off, p["meta"])
