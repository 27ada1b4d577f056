"""The Call resource (calls-contract.md "Calls in the REST API"): CDR lists
and retrieve, their filters and paging, live calls (?status=live) and their
hangup (DELETE), authentication, methods and 404s. The call engine is not
needed: CDRs and live-call rows are written straight into the server's
store, as the engine's svc calls would write them."""

import sqlite3
import time
import uuid
from urllib.parse import parse_qs, urlsplit

import pytest

from conftest import (UUID_RE, basic, expect_empty, expect_error,
                      expect_ok_json, psql)

CDR_KEYS = ["api_id", "call_uuid", "parent_call_uuid", "from_number",
            "to_number", "caller_name", "call_direction", "call_duration",
            "bill_duration", "initiation_time", "answer_time", "end_time",
            "hangup_cause_name", "hangup_cause_code", "hangup_source",
            "endpoint_id", "resource_uri"]
LIVE_KEYS = ["api_id", "call_uuid", "direction", "from", "to",
             "caller_name", "call_status", "session_start"]
CALL_TIME_RE = r"^\d{4}-\d{2}-\d{2} \d{2}:\d{2}:\d{2}$"

# 2024-03-01 12:00:00 UTC, and the ms of a time of that day.
T0 = 1709294400
END_FILTERS = ("end_time__gt", "end_time__gte", "end_time__lt",
               "end_time__lte")


def ms(h, m, s=0, frac=0):
    return (T0 + (h - 12) * 3600 + m * 60 + s) * 1000 + frac


# --------------------------------------------------------------------------
# rows written straight into the store

def _lit(v):
    if v is None:
        return "NULL"
    if isinstance(v, int):
        return str(v)
    return "'%s'" % str(v).replace("'", "''")


def store_exec(server, sql):
    """Runs one statement on the server's store (a second connection)."""
    if server.on_pg:
        return psql(server.db_url, sql).strip()
    con = sqlite3.connect(str(server.db), timeout=30)
    try:
        rows = con.execute(sql).fetchall()
        con.commit()
    finally:
        con.close()
    return "\n".join("|".join(str(c) for c in r) for r in rows)


def account_ref(api):
    return int(store_exec(api.server, "SELECT id FROM accounts WHERE "
                          "auth_id = %s" % _lit(api.auth_id)))


def add_cdr(api, **kw):
    """A CDR of api's account; returns its call_uuid."""
    row = {"call_uuid": str(uuid.uuid4()), "parent_call_uuid": "",
           "endpoint_ref": 0, "endpoint_id": "",
           "from_number": "sip:alice@example.test",
           "to_number": "sip:bob@example.test", "caller_name": "Alice",
           "call_direction": "inbound", "initiation_ms": ms(11, 0),
           "answer_ms": 0, "end_ms": ms(11, 1), "call_duration": 0,
           "bill_duration": 0, "hangup_cause_name": "NORMAL_CLEARING",
           "hangup_cause_code": 4000, "hangup_source": "Caller"}
    row.update(kw)
    row["account_id"] = account_ref(api)
    cols = sorted(row)
    store_exec(api.server, "INSERT INTO cdrs (%s) VALUES (%s)" % (
        ", ".join(cols), ", ".join(_lit(row[c]) for c in cols)))
    return row["call_uuid"]


def now_ms():
    return int(time.time() * 1000)


def add_live(api, **kw):
    """A call in progress of api's account; returns its call_uuid."""
    row = {"call_uuid": str(uuid.uuid4()), "node_id": "node-test",
           "direction": "inbound", "from_number": "sip:alice@example.test",
           "to_number": "+14155550100", "caller_name": "Alice",
           "call_status": "ringing", "session_start_ms": ms(11, 30, 5, 250),
           "updated_ms": now_ms(), "hangup_requested": 0}
    row.update(kw)
    row["account_id"] = account_ref(api)
    cols = sorted(row)
    store_exec(api.server, "INSERT INTO live_calls (%s) VALUES (%s)" % (
        ", ".join(cols), ", ".join(_lit(row[c]) for c in cols)))
    return row["call_uuid"]


def hangup_requested(api, call_uuid):
    return int(store_exec(api.server, "SELECT hangup_requested FROM "
                          "live_calls WHERE call_uuid = %s" %
                          _lit(call_uuid)))


def cdr_list(api, **params):
    r = api.get("Call/", params=params)
    return expect_ok_json(r, 200)


def uuids(page):
    return [o["call_uuid"] for o in page["objects"]]


# --------------------------------------------------------------------------
# empty account

def test_empty_list_and_meta(fresh):
    for a in (fresh, fresh.clone(prefix="/v1")):
        body = cdr_list(a)
        assert list(body) == ["api_id", "meta", "objects"], body
        assert body["objects"] == []
        assert body["meta"] == {"limit": 20, "offset": 0, "total_count": 0,
                                "next": None, "previous": None}


def test_live_list_empty(fresh):
    r = fresh.get("Call/", params={"status": "live"})
    body = expect_ok_json(r, 200)
    assert body == {"api_id": body["api_id"], "calls": []}
    assert list(body) == ["api_id", "calls"]


def test_head_list(fresh):
    r = fresh.req("HEAD", "Call/")
    assert r.status_code == 200
    assert r.content == b""


# --------------------------------------------------------------------------
# validation of the list's parameters

@pytest.mark.parametrize("key,value", [
    ("call_direction", "sideways"),
    ("call_direction", "Inbound"),
    ("call_direction", ""),
    ("hangup_cause_code", "abc"),
    ("hangup_cause_code", "-1"),
    ("hangup_cause_code", "100000"),
    ("hangup_cause_code", ""),
    ("status", "queued"),
    ("status", ""),
    ("limit", "0"),
    ("limit", "101"),
    ("offset", "-1"),
    ("nonsense", "1"),
    ("end_time", "2024-03-01 12:00"),
] + [(k, v) for k in END_FILTERS for v in (
    "", "2024-03-01", "2024-03-01 12", "2024-03-01T12:00:00",
    "2024-03-01 12:00:00Z", "2024-03-01 12:00:00.5", "2024-02-30 12:00",
    "2023-02-29 00:00", "2024-03-01 24:00", "2024-03-01 12:60",
    "2024-03-01 12:00:60", "1969-12-31 23:59", "yesterday", "1709294400")])
def test_list_parameter_refused(api, key, value):
    r = api.get("Call/", params={key: value})
    body = expect_error(r, 400, fields=[key])
    assert body["error"] == "invalid request parameters"
    assert body["message"] == body["details"][key]


@pytest.mark.parametrize("key", END_FILTERS)
def test_end_time_message(api, key):
    r = api.get("Call/", params={key: "2024-03-01"})
    body = expect_error(r, 400, fields=[key])
    assert "YYYY-MM-DD HH:MM" in body["details"][key], body


@pytest.mark.parametrize("params", [
    {"call_direction": "inbound"}, {"call_direction": "outbound"},
    {"from_number": "sip:a@b"}, {"to_number": "+14155550100"},
    {"hangup_cause_code": "4000"}, {"hangup_cause_code": "0"},
    {"end_time__gt": "2024-03-01 12:00"},
    {"end_time__gte": "2024-03-01 12:00:59"},
    {"end_time__lt": "2024-02-29 23:59:59"},
    {"end_time__lte": "1970-01-01 00:00"},
    {"end_time_gt": "2024-03-01 12:00"},
    {"end_time_lte": "2024-03-01 12:00:01"},
    {"limit": "100", "offset": "5", "call_direction": "inbound",
     "end_time__gte": "2024-01-01 00:00", "end_time__lt": "2025-01-01 00:00"},
])
def test_list_parameters_accepted(fresh, params):
    body = cdr_list(fresh, **params)
    assert body["objects"] == []
    assert body["meta"]["total_count"] == 0


def test_space_encodings(fresh):
    # requests encodes a space as "+"; clients may send "%20" as well
    r = fresh.get("Call/?end_time__gt=2024-03-01%2012:00")
    expect_ok_json(r, 200)
    r = fresh.get("Call/?end_time__gt=2024-03-01+12:00:30")
    expect_ok_json(r, 200)


def test_every_bad_parameter_named(api):
    r = api.get("Call/", params={"call_direction": "x",
                                 "hangup_cause_code": "y",
                                 "end_time__lt": "z", "bogus": "1"})
    body = expect_error(r, 400, fields=["call_direction", "hangup_cause_code",
                                        "end_time__lt", "bogus"])
    assert body["message"] == "4 fields are invalid: see details"


def test_both_spellings_refused(api):
    r = api.get("Call/?end_time__gt=2024-03-01+12:00"
                "&end_time_gt=2024-03-01+12:00")
    body = expect_error(r, 400, fields=["end_time_gt"])
    assert "end_time__gt" in body["details"]["end_time_gt"]


def test_repeated_parameter_refused(api):
    r = api.get("Call/?call_direction=inbound&call_direction=outbound")
    expect_error(r, 400, fields=["call_direction"])


def test_live_list_takes_no_other_parameter(api):
    r = api.get("Call/", params={"status": "live", "limit": "5",
                                 "call_direction": "inbound"})
    expect_error(r, 400, fields=["limit", "call_direction"],
                 not_fields=["status"])


# --------------------------------------------------------------------------
# one call: 404s, parameters, methods

@pytest.mark.parametrize("cid", [
    "not-a-uuid", "12345", "0b6c1c5e-8f6e-4a53-9a8e-2f1d9c1f6a1",
    "0b6c1c5e-8f6e-4a53-9a8e-2f1d9c1f6a10a", "0b6c1c5e_8f6e_4a53_9a8e_2f1d9c1f6a10",
    "x" * 63, "x" * 200])
@pytest.mark.parametrize("method,params", [
    ("GET", None), ("GET", {"status": "live"}), ("DELETE", None)])
def test_not_a_uuid_404(api, cid, method, params):
    r = api.req(method, "Call/%s/" % cid, params=params)
    body = expect_error(r, 404)
    assert body["error"] == "not found"


@pytest.mark.parametrize("method,params", [
    ("GET", None), ("GET", {"status": "live"}), ("DELETE", None)])
def test_unknown_call_404(api, method, params):
    r = api.req(method, "Call/%s/" % uuid.uuid4(), params=params)
    expect_error(r, 404)


def test_delete_of_a_cdr_is_404(api):
    """A call that ended (it has a CDR) is not live: nothing to hang up."""
    cid = add_cdr(api)
    expect_error(api.delete("Call/%s/" % cid), 404)
    expect_error(api.get("Call/%s/" % cid, params={"status": "live"}), 404)
    expect_ok_json(api.get("Call/%s/" % cid), 200)


def test_item_parameters(api):
    cid = uuid.uuid4()
    expect_error(api.get("Call/%s/" % cid, params={"foo": "1"}), 400,
                 fields=["foo"])
    expect_error(api.get("Call/%s/" % cid, params={"status": "queued"}),
                 400, fields=["status"])
    expect_error(api.get("Call/%s/?status=live&status=live" % cid), 400,
                 fields=["status"])
    expect_error(api.delete("Call/%s/" % cid, params={"status": "live"}),
                 400, fields=["status"])
    expect_error(api.get("Call/%s/" % cid, params={"limit": "5"}), 400,
                 fields=["limit"])


@pytest.mark.parametrize("method", ["POST", "PUT", "PATCH", "DELETE",
                                    "OPTIONS"])
def test_collection_methods_405(api, method):
    r = api.req(method, "Call/", json_body={} if method != "DELETE" else None)
    body = expect_error(r, 405)
    assert body["error"] == "method not allowed"
    assert r.headers.get("Allow") == "GET, HEAD"


@pytest.mark.parametrize("method", ["POST", "PUT", "PATCH", "OPTIONS"])
def test_item_methods_405(api, method):
    r = api.req(method, "Call/%s/" % uuid.uuid4(), json_body={})
    expect_error(r, 405)
    assert r.headers.get("Allow") == "GET, HEAD, DELETE"


def test_unknown_subresource_404(api):
    expect_error(api.get("Call/%s/Request/" % uuid.uuid4()), 404)
    expect_error(api.get("Calls/"), 404)
    expect_error(api.get("call/"), 404)


# --------------------------------------------------------------------------
# authentication

@pytest.mark.parametrize("rel,method,params", [
    ("Call/", "GET", None),
    ("Call/", "GET", {"status": "live"}),
    ("Call/%s/" % uuid.uuid4(), "GET", None),
    ("Call/%s/" % uuid.uuid4(), "GET", {"status": "live"}),
    ("Call/%s/" % uuid.uuid4(), "DELETE", None),
])
def test_auth_failures(api, api_b, rel, method, params):
    r = api.req(method, rel, params=params, auth=False)
    expect_error(r, 401)
    assert r.headers.get("WWW-Authenticate")
    bad = api.clone(token="x" * 40)
    expect_error(bad.req(method, rel, params=params), 401)
    # valid credentials of account B on account A's path: 403
    other = api.clone(auth_id=api_b.auth_id, token=api_b.token)
    expect_error(other.req(method, rel, params=params), 403)
    # HTTP Basic works as the X-Auth pair does
    r = api.req(method, rel, params=params, auth=False,
                headers={"Authorization": basic(api.auth_id, api.token)})
    assert r.status_code in (200, 404), r.text


def test_another_accounts_calls_invisible(api, api_b):
    cid = add_cdr(api_b, end_ms=ms(11, 59))
    live = add_live(api_b)
    assert cid not in uuids(cdr_list(api, limit=100))
    expect_error(api.get("Call/%s/" % cid), 404)
    expect_error(api.get("Call/%s/" % live, params={"status": "live"}), 404)
    r = api.get("Call/", params={"status": "live"})
    assert live not in expect_ok_json(r, 200)["calls"]
    expect_error(api.delete("Call/%s/" % live), 404)
    assert hangup_requested(api_b, live) == 0
    # and its owner sees both
    expect_ok_json(api_b.get("Call/%s/" % cid), 200)
    o = expect_ok_json(api_b.get("Call/%s/" % live,
                                 params={"status": "live"}), 200)
    assert o["call_uuid"] == live


# --------------------------------------------------------------------------
# CDRs

def test_cdr_objects(fresh):
    a_leg = add_cdr(fresh, from_number="sip:alice@example.test",
                    to_number="+14155550100", caller_name="Alice's phone",
                    endpoint_ref=7, endpoint_id="123456789012345",
                    initiation_ms=ms(11, 0, 0, 999),
                    answer_ms=ms(11, 0, 10, 500), end_ms=ms(11, 5, 10, 400),
                    call_duration=300, bill_duration=300)
    b_leg = add_cdr(fresh, parent_call_uuid=a_leg,
                    call_direction="outbound", from_number="sip:alice@x.t",
                    to_number="+14155550100", initiation_ms=ms(11, 0, 1),
                    end_ms=ms(11, 0, 31), hangup_cause_name="NO_ANSWER",
                    hangup_cause_code=3000, hangup_source="Error")

    o = expect_ok_json(fresh.get("Call/%s/" % a_leg), 200)
    assert list(o) == CDR_KEYS
    assert o == {
        "api_id": o["api_id"], "call_uuid": a_leg, "parent_call_uuid": None,
        "from_number": "sip:alice@example.test",
        "to_number": "+14155550100", "caller_name": "Alice's phone",
        "call_direction": "inbound", "call_duration": 300,
        "bill_duration": 300, "initiation_time": "2024-03-01 11:00:00",
        "answer_time": "2024-03-01 11:00:10",
        "end_time": "2024-03-01 11:05:10",
        "hangup_cause_name": "NORMAL_CLEARING", "hangup_cause_code": 4000,
        "hangup_source": "Caller", "endpoint_id": "123456789012345",
        "resource_uri": "/v1/Account/%s/Call/%s/" % (fresh.auth_id, a_leg)}

    o = expect_ok_json(fresh.clone(prefix="/v1").get("Call/%s" % b_leg), 200)
    assert o["parent_call_uuid"] == a_leg
    assert o["call_direction"] == "outbound"
    assert o["answer_time"] is None
    assert o["endpoint_id"] is None
    assert o["call_duration"] == 0 and o["bill_duration"] == 0
    assert (o["hangup_cause_name"], o["hangup_cause_code"],
            o["hangup_source"]) == ("NO_ANSWER", 3000, "Error")
    assert o["resource_uri"] == "/v1/Account/%s/Call/%s/" % (fresh.auth_id,
                                                             b_leg)

    # list items: the same objects without api_id, newest first
    body = cdr_list(fresh)
    assert uuids(body) == [a_leg, b_leg]
    assert list(body["objects"][0]) == CDR_KEYS[1:]
    assert body["meta"]["total_count"] == 2


def test_cdr_upper_case_uuid_not_found(fresh):
    cid = add_cdr(fresh)
    expect_ok_json(fresh.get("Call/%s/" % cid), 200)
    expect_error(fresh.get("Call/%s/" % cid.upper()), 404)


def test_get_with_body_checked(fresh):
    cid = add_cdr(fresh)
    r = fresh.req("GET", "Call/%s/" % cid, data=b"x",
                  headers={"Content-Type": "text/plain"})
    expect_error(r, 415)
    r = fresh.req("GET", "Call/", data=b"{", headers={
        "Content-Type": "application/json"})
    expect_error(r, 400)


def _seed(a):
    """Seven CDRs of a fresh account; returns their uuids by name."""
    c = {}
    c["in1"] = add_cdr(a, end_ms=ms(10, 0, 0, 0))
    c["out1"] = add_cdr(a, call_direction="outbound", end_ms=ms(10, 30),
                        to_number="+14155550100", hangup_cause_code=3010,
                        hangup_cause_name="USER_BUSY")
    c["in2"] = add_cdr(a, end_ms=ms(11, 0, 0, 500),
                       from_number="sip:carol@example.test")
    c["in3"] = add_cdr(a, end_ms=ms(11, 0, 0, 999))
    c["out2"] = add_cdr(a, call_direction="outbound", end_ms=ms(11, 0, 1),
                        to_number="+14155550100")
    c["in4"] = add_cdr(a, end_ms=ms(12, 0))
    # same end time as in4, stored after it: listed before it
    c["in5"] = add_cdr(a, end_ms=ms(12, 0), to_number="sip:dave@x.test")
    return c


def test_list_newest_first_and_paging(fresh):
    c = _seed(fresh)
    order = [c[k] for k in ("in5", "in4", "out2", "in3", "in2", "out1",
                            "in1")]
    assert uuids(cdr_list(fresh, limit=100)) == order
    page = cdr_list(fresh, limit=3, offset=0, call_direction="inbound")
    assert uuids(page) == [c["in5"], c["in4"], c["in3"]]
    m = page["meta"]
    assert (m["limit"], m["offset"], m["total_count"]) == (3, 0, 5)
    assert m["previous"] is None
    nxt = urlsplit(m["next"])
    assert nxt.path == "/api/v1/Account/%s/Call/" % fresh.auth_id
    assert parse_qs(nxt.query) == {"limit": ["3"], "offset": ["3"],
                                   "call_direction": ["inbound"]}
    page = expect_ok_json(fresh.get_path(m["next"]), 200)
    assert uuids(page) == [c["in2"], c["in1"]]
    assert page["meta"]["next"] is None
    assert parse_qs(urlsplit(page["meta"]["previous"]).query)["offset"] == \
        ["0"]
    # an offset past the end: empty page, same total
    page = cdr_list(fresh, offset=50)
    assert page["objects"] == [] and page["meta"]["total_count"] == 7
    # /v1 keeps its prefix in next
    page = cdr_list(fresh.clone(prefix="/v1"), limit=2)
    assert page["meta"]["next"].startswith("/v1/Account/")


def test_list_filters(fresh):
    c = _seed(fresh)

    def got(**params):
        return set(uuids(cdr_list(fresh, limit=100, **params)))

    def names(*ks):
        return {c[k] for k in ks}

    assert got(call_direction="outbound") == names("out1", "out2")
    assert got(call_direction="inbound") == names("in1", "in2", "in3",
                                                  "in4", "in5")
    assert got(from_number="sip:carol@example.test") == names("in2")
    assert got(from_number="sip:carol") == set()  # exact
    assert got(to_number="+14155550100") == names("out1", "out2")
    assert got(hangup_cause_code="3010") == names("out1")
    assert got(hangup_cause_code="4000") == names("in1", "in2", "in3",
                                                  "out2", "in4", "in5")
    assert got(hangup_cause_code="4010") == set()
    # end times compare at whole seconds, as end_time shows them: the CDRs
    # that ended during 11:00:00 (.500, .999) are "11:00:00"
    assert got(end_time__gt="2024-03-01 11:00") == names("out2", "in4",
                                                         "in5")
    assert got(end_time__gte="2024-03-01 11:00:00") == names(
        "in2", "in3", "out2", "in4", "in5")
    assert got(end_time__lt="2024-03-01 11:00") == names("in1", "out1")
    assert got(end_time__lte="2024-03-01 11:00") == names("in1", "out1",
                                                          "in2", "in3")
    assert got(end_time_lte="2024-03-01 11:00") == names("in1", "out1",
                                                         "in2", "in3")
    assert got(end_time__gt="2024-03-01 10:00:00",
               end_time__lt="2024-03-01 11:00:01") == names(
        "out1", "in2", "in3")
    assert got(end_time__gte="2024-03-01 11:00:00",
               end_time__lte="2024-03-01 11:00:00") == names("in2", "in3")
    assert got(end_time__gt="2024-03-01 12:00") == set()
    # several filters at once, with the total
    page = cdr_list(fresh, call_direction="inbound",
                    end_time__lt="2024-03-01 12:00", limit=1)
    assert page["meta"]["total_count"] == 3
    assert uuids(page) == [c["in3"]]


# --------------------------------------------------------------------------
# calls in progress

def test_live_list_and_object(fresh):
    older = add_live(fresh, session_start_ms=ms(11, 0))
    cid = add_live(fresh, call_status="in-progress", direction="inbound",
                   from_number="sip:alice@example.test",
                   to_number="sip:bob@example.test",
                   caller_name="Alice's phone",
                   session_start_ms=ms(11, 30, 5, 250))
    stale = add_live(fresh, updated_ms=now_ms() - 60000)
    r = fresh.get("Call/", params={"status": "live"})
    body = expect_ok_json(r, 200)
    assert body["calls"] == [older, cid]  # oldest first, never the stale

    o = expect_ok_json(fresh.get("Call/%s/" % cid,
                                 params={"status": "live"}), 200)
    assert list(o) == LIVE_KEYS
    assert o == {"api_id": o["api_id"], "call_uuid": cid,
                 "direction": "inbound", "from": "sip:alice@example.test",
                 "to": "sip:bob@example.test", "caller_name": "Alice's phone",
                 "call_status": "in-progress",
                 "session_start": "2024-03-01 11:30:05"}
    # without status=live it is a CDR, which a live call has not yet
    expect_error(fresh.get("Call/%s/" % cid), 404)
    # a node that stopped refreshing its rows: not live
    expect_error(fresh.get("Call/%s/" % stale, params={"status": "live"}),
                 404)
    r = fresh.req("HEAD", "Call/%s/?status=live" % cid)
    assert r.status_code == 200 and r.content == b""


def test_delete_asks_the_carrying_node(fresh):
    cid = add_live(fresh)
    expect_empty(fresh.delete("Call/%s/" % cid), 204)
    assert hangup_requested(fresh, cid) == 1
    # the call stays live until its node ends it; asking again is fine
    r = fresh.get("Call/", params={"status": "live"})
    assert cid in expect_ok_json(r, 200)["calls"]
    expect_empty(fresh.delete("Call/%s" % cid), 204)
    # once the node has ended it (its row gone), it is not live
    store_exec(fresh.server, "DELETE FROM live_calls WHERE call_uuid = %s"
               % _lit(cid))
    expect_error(fresh.delete("Call/%s/" % cid), 404)


def test_delete_stale_call_404(fresh):
    cid = add_live(fresh, updated_ms=now_ms() - 31000)
    expect_error(fresh.delete("Call/%s/" % cid), 404)
    assert hangup_requested(fresh, cid) == 0


def test_delete_bodies(fresh):
    cid = add_live(fresh)
    r = fresh.req("DELETE", "Call/%s/" % cid, json_body={"reason": "x"})
    expect_error(r, 400, fields=["reason"])
    r = fresh.req("DELETE", "Call/%s/" % cid, data=b"{}",
                  headers={"Content-Type": "text/plain"})
    expect_error(r, 415)
    assert hangup_requested(fresh, cid) == 0
    r = fresh.req("DELETE", "Call/%s/" % cid, json_body={})
    expect_empty(r, 204)
    assert hangup_requested(fresh, cid) == 1
    # the resource is checked before the body
    r = fresh.req("DELETE", "Call/%s/" % uuid.uuid4(),
                  json_body={"reason": "x"})
    expect_error(r, 404)


def test_delete_and_list_through_v1_and_basic(fresh):
    cid = add_live(fresh)
    v1 = fresh.clone(prefix="/v1")
    r = v1.req("GET", "Call/?status=live", auth=False,
               headers={"Authorization": basic(fresh.auth_id, fresh.token)})
    assert cid in expect_ok_json(r, 200)["calls"]
    expect_empty(v1.delete("Call/%s/" % cid), 204)
