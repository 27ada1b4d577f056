"""Applications: create, retrieve, list, update, delete, default_endpoint_app,
delete while in use (409, new_endpoint_application, cascade)."""

from urllib.parse import parse_qs, urlsplit

import pytest

from conftest import (APP_ID_RE, APPLICATION_FIELDS, TS_RE, UUID_RE,
                      assert_unchanged, expect_empty, expect_error,
                      expect_ok_json, wait_clock_tick)


def _app_absent(a, name):
    assert all(o["app_name"] != name for o in _all_apps(a)), \
        "rejected create left %r behind" % name


def _all_apps(a):
    return a.all_apps()


def test_create_201_body(api):
    r = api.post("Application/", {"app_name": "Created",
                                  "answer_url": "https://example.com/a"})
    body = expect_ok_json(r, 201)
    assert body["message"] == "created"
    assert isinstance(body["app_id"], str) and APP_ID_RE.match(
        body["app_id"]), body


def test_retrieve_object_and_defaults(api):
    app_id = api.create_app(app_name="Defaults",
                            answer_url="http://example.com/ans")["app_id"]
    r = api.get("Application/%s/" % app_id)
    o = expect_ok_json(r, 200)
    for k in APPLICATION_FIELDS:
        assert k in o, "application lacks %s: %r" % (k, o)
    assert o["app_id"] == app_id
    assert o["app_name"] == "Defaults"
    assert o["answer_url"] == "http://example.com/ans"
    assert o["answer_method"] == "POST"
    assert o["default_endpoint_app"] is False
    assert o["sub_account"] is None
    assert o["resource_uri"] == "/v1/Account/%s/Application/%s/" % (
        api.auth_id, app_id)
    assert TS_RE.match(o["created_at"]) and TS_RE.match(o["updated_at"]), o
    assert UUID_RE.match(o["api_id"])


def test_all_fields_roundtrip(api):
    fields = {"app_name": "Full app", "answer_url": "https://a.test/answer",
              "answer_method": "GET", "hangup_url": "https://a.test/hangup",
              "hangup_method": "GET",
              "fallback_answer_url": "https://a.test/fallback",
              "fallback_method": "POST",
              "message_url": "http://a.test/msg", "message_method": "GET"}
    app_id = api.create_app(**fields)["app_id"]
    o = api.app(app_id)
    for k, v in fields.items():
        assert o[k] == v, (k, o[k], v)


def test_missing_required_fields_named_together(api):
    r = api.post("Application/", {})
    expect_error(r, 400, fields=["app_name", "answer_url"])
    r = api.post("Application/", {"app_name": "only name x1"})
    expect_error(r, 400, fields=["answer_url"], not_fields=["app_name"])
    _app_absent(api, "only name x1")
    r = api.post("Application/", {"answer_url": "https://e.com/"})
    expect_error(r, 400, fields=["app_name"], not_fields=["answer_url"])


@pytest.mark.parametrize("url", [
    "ftp://example.com/a", "example.com/a", "javascript:alert(1)", "",
    "http://", "https:// space.test/", "file:///etc/passwd",
    "http://exa\nmple.com/", 5, None], ids=repr)
def test_bad_answer_url_400(api, url):
    r = api.post("Application/", {"app_name": "bad url app",
                                  "answer_url": url})
    expect_error(r, 400, fields=["answer_url"])


@pytest.mark.parametrize("url", ["http://example.com", "https://example.com/",
                                 "https://h.test:8443/p?q=1&r=2",
                                 "HTTPS://EXAMPLE.COM/x"])
def test_good_answer_url(api, url):
    app_id = api.create_app(answer_url=url)["app_id"]
    assert api.app(app_id)["answer_url"] == url


@pytest.mark.parametrize("method", ["GET", "POST"])
def test_answer_method_values(api, method):
    app_id = api.create_app(answer_method=method)["app_id"]
    assert api.app(app_id)["answer_method"] == method


@pytest.mark.parametrize("method", ["PUT", "DELETE", "FOO", "", 1, None],
                         ids=repr)
def test_bad_answer_method_400(api, method):
    r = api.create_app_raw(answer_method=method)
    expect_error(r, 400, fields=["answer_method"])


@pytest.mark.parametrize("name", ["a", "x" * 128, "\u00e9" * 128,
                                  "Bob's app", "\U0001F600 app"],
                         ids=lambda v: repr(v)[:16])
def test_app_name_valid(api, name):
    app_id = api.create_app(app_name=name)["app_id"]
    assert api.app(app_id)["app_name"] == name


@pytest.mark.parametrize("name", ["", "x" * 129, "\u00e9" * 129, "a\nb",
                                  "a\u0000b", "a\u009fb", 3, None, []],
                         ids=lambda v: repr(v)[:16])
def test_app_name_invalid_400(api, name):
    r = api.create_app_raw(app_name=name)
    expect_error(r, 400, fields=["app_name"])


def test_unknown_field_400(api):
    r = api.create_app_raw(app_name="unknown field app", colour="blue",
                           application_type="XML")
    expect_error(r, 400, fields=["colour"])
    _app_absent(api, "unknown field app")


def test_default_endpoint_app_wrong_type_400(api):
    r = api.create_app_raw(default_endpoint_app="true")
    expect_error(r, 400, fields=["default_endpoint_app"])


def test_every_bad_field_named_at_once(api):
    r = api.post("Application/", {"app_name": "", "answer_url": "ftp://x",
                                  "answer_method": "PUT", "bogus": 1})
    expect_error(r, 400, fields=["app_name", "answer_url", "answer_method",
                                 "bogus"])


@pytest.mark.parametrize("app_id", ["99999999999999999", "abc", "0"])
def test_retrieve_unknown_404(api, app_id):
    expect_error(api.get("Application/%s/" % app_id), 404)


# ------------------------------------------------------------------ list

def test_list_envelope_paging_order(fresh):
    ids = [fresh.create_app(app_name="L%d" % i)["app_id"] for i in range(5)]
    r = fresh.get("Application/")
    body = expect_ok_json(r, 200)
    m = body["meta"]
    assert m["limit"] == 20 and m["offset"] == 0 and m["total_count"] == 5
    assert m["next"] is None and m["previous"] is None
    assert [o["app_id"] for o in body["objects"]] == ids
    for o in body["objects"]:
        for k in APPLICATION_FIELDS:
            assert k in o, k
    p = fresh.list_apps(limit=2)
    nxt = p["meta"]["next"]
    assert nxt.startswith("/api/v1/Account/%s/Application/" % fresh.auth_id)
    q = parse_qs(urlsplit(nxt).query)
    assert q["offset"] == ["2"] and q["limit"] == ["2"]
    seen = [o["app_id"] for o in p["objects"]]
    while nxt:
        p = expect_ok_json(fresh.get_path(nxt), 200)
        seen += [o["app_id"] for o in p["objects"]]
        nxt = p["meta"]["next"]
    assert seen == ids
    assert p["meta"]["previous"].startswith("/api/v1/")
    v1 = fresh.clone(prefix="/v1")
    p = expect_ok_json(v1.get("Application/", params={"limit": 2}), 200)
    assert p["meta"]["next"].startswith("/v1/Account/")


@pytest.mark.parametrize("params", [{"limit": 0}, {"limit": 101},
                                    {"offset": -1}, {"limit": "x"},
                                    {"foo": "bar"}], ids=repr)
def test_list_bad_params_400(api, params):
    expect_error(api.get("Application/", params=params), 400)


# ------------------------------------------------------------------ update

def test_update_202_changed_partial(api):
    app_id = api.create_app(app_name="Before", answer_method="GET")["app_id"]
    before = api.app(app_id)
    wait_clock_tick()
    r = api.post("Application/%s/" % app_id, {"app_name": "After"})
    body = expect_ok_json(r, 202)
    assert body["message"] == "changed"
    after = api.app(app_id)
    assert after["app_name"] == "After"
    assert after["answer_method"] == "GET"
    assert after["updated_at"] > before["updated_at"]
    assert_unchanged(before, after, ignore=("api_id", "app_name",
                                            "updated_at"))


def test_update_noop_keeps_updated_at(api):
    app_id = api.create_app()["app_id"]
    before = api.app(app_id)
    wait_clock_tick()
    expect_ok_json(api.post("Application/%s/" % app_id, {}), 202)
    assert_unchanged(before, api.app(app_id))


@pytest.mark.parametrize("bad", [{"answer_url": "ftp://x"},
                                 {"app_name": ""},
                                 {"answer_method": "PUT"},
                                 {"nope": 1}], ids=lambda d: list(d)[0])
def test_update_invalid_changes_nothing(api, bad):
    app_id = api.create_app()["app_id"]
    before = api.app(app_id)
    body = {"app_name": "must not apply", "hangup_url": "https://h.test/"}
    body.update(bad)
    r = api.post("Application/%s/" % app_id, body)
    expect_error(r, 400, fields=list(bad))
    assert_unchanged(before, api.app(app_id))


def test_update_unknown_404(api):
    expect_error(api.post("Application/99999999999999999/",
                          {"app_name": "x"}), 404)


def test_app_rename_shows_on_endpoint(api):
    app_id = api.create_app(app_name="Old name")["app_id"]
    eid = api.create_endpoint(application=app_id)["endpoint_id"]
    expect_ok_json(api.post("Application/%s/" % app_id,
                            {"app_name": "New name",
                             "answer_url": "https://n.test/",
                             "answer_method": "GET"}), 202)
    a = api.endpoint(eid)["application"]
    assert a["app_name"] == "New name"
    assert a["answer_url"] == "https://n.test/"
    assert a["answer_method"] == "GET"


# ------------------------------------------------------ default_endpoint_app

def test_default_endpoint_app_at_most_one(fresh):
    a1 = fresh.create_app(default_endpoint_app=True)["app_id"]
    assert fresh.app(a1)["default_endpoint_app"] is True
    a2 = fresh.create_app(default_endpoint_app=True)["app_id"]
    assert fresh.app(a2)["default_endpoint_app"] is True
    assert fresh.app(a1)["default_endpoint_app"] is False
    a3 = fresh.create_app()["app_id"]
    expect_ok_json(fresh.post("Application/%s/" % a3,
                              {"default_endpoint_app": True}), 202)
    flags = {o["app_id"]: o["default_endpoint_app"] for o in _all_apps(fresh)}
    assert flags == {a1: False, a2: False, a3: True}
    eid = fresh.create_endpoint()["endpoint_id"]
    assert fresh.endpoint(eid)["application"]["app_id"] == a3
    expect_ok_json(fresh.post("Application/%s/" % a3,
                              {"default_endpoint_app": False}), 202)
    flags = {o["app_id"]: o["default_endpoint_app"] for o in _all_apps(fresh)}
    assert not any(flags.values())
    eid = fresh.create_endpoint()["endpoint_id"]
    assert fresh.endpoint(eid)["application"] is None


def test_losing_default_flag_moves_updated_at(fresh):
    a1 = fresh.create_app(default_endpoint_app=True)["app_id"]
    before = fresh.app(a1)
    wait_clock_tick()
    fresh.create_app(default_endpoint_app=True)
    after = fresh.app(a1)
    assert after["default_endpoint_app"] is False
    assert after["updated_at"] > before["updated_at"], \
        "default_endpoint_app changed but updated_at did not move"


def test_default_is_not_retroactive(fresh):
    e_before = fresh.create_endpoint()["endpoint_id"]
    fresh.create_app(default_endpoint_app=True)
    assert fresh.endpoint(e_before)["application"] is None


def test_default_is_per_account(fresh, server):
    other = server.new_account()
    fresh.create_app(default_endpoint_app=True)
    b_default = other.create_app(default_endpoint_app=True)["app_id"]
    assert any(o["default_endpoint_app"] for o in _all_apps(fresh)), \
        "setting a default in another account cleared this one's"
    eid = other.create_endpoint()["endpoint_id"]
    assert other.endpoint(eid)["application"]["app_id"] == b_default


# ------------------------------------------------------------------ delete

def test_delete_unused_204(api):
    app_id = api.create_app()["app_id"]
    expect_empty(api.delete("Application/%s/" % app_id), 204)
    expect_error(api.get("Application/%s/" % app_id), 404)
    expect_error(api.delete("Application/%s/" % app_id), 404)


def test_delete_unknown_404(api):
    expect_error(api.delete("Application/99999999999999999/"), 404)


def test_delete_in_use_409_names_count_and_keeps_all(api):
    app_id = api.create_app()["app_id"]
    eids = [api.create_endpoint(application=app_id)["endpoint_id"]
            for _ in range(3)]
    r = api.delete("Application/%s/" % app_id)
    body = expect_error(r, 409)
    assert "3" in body["message"], body
    api.app(app_id)
    for e in eids:
        assert api.endpoint(e)["application"]["app_id"] == app_id


def test_delete_in_use_with_cascade_false_409(api):
    app_id = api.create_app()["app_id"]
    eid = api.create_endpoint(application=app_id)["endpoint_id"]
    r = api.req("DELETE", "Application/%s/" % app_id,
                json_body={"cascade": "false"})
    expect_error(r, 409)
    api.app(app_id)
    api.endpoint(eid)


def test_delete_with_empty_object_body_in_use_409(api):
    app_id = api.create_app()["app_id"]
    api.create_endpoint(application=app_id)
    expect_error(api.req("DELETE", "Application/%s/" % app_id,
                         json_body={}), 409)


def test_delete_moves_endpoints_to_new_application(api):
    old = api.create_app()["app_id"]
    new = api.create_app(app_name="Target")["app_id"]
    eids = [api.create_endpoint(application=old)["endpoint_id"]
            for _ in range(2)]
    other = api.create_endpoint()["endpoint_id"]
    other_app = api.endpoint(other)["application"]
    r = api.req("DELETE", "Application/%s/" % old,
                json_body={"new_endpoint_application": new})
    expect_empty(r, 204)
    expect_error(api.get("Application/%s/" % old), 404)
    for e in eids:
        a = api.endpoint(e)["application"]
        assert a["app_id"] == new and a["app_name"] == "Target"
    assert api.endpoint(other)["application"] == other_app


def test_moved_endpoints_updated_at_moves(api):
    old = api.create_app()["app_id"]
    new = api.create_app()["app_id"]
    eid = api.create_endpoint(application=old)["endpoint_id"]
    before = api.endpoint(eid)
    wait_clock_tick()
    expect_empty(api.req("DELETE", "Application/%s/" % old,
                         json_body={"new_endpoint_application": new}), 204)
    after = api.endpoint(eid)
    assert after["application"]["app_id"] == new
    assert after["updated_at"] > before["updated_at"]
    assert_unchanged(before, after, ignore=("api_id", "application",
                                            "updated_at"))


def test_delete_cascade_deletes_endpoints(api):
    app_id = api.create_app()["app_id"]
    eids = [api.create_endpoint(application=app_id)["endpoint_id"]
            for _ in range(2)]
    keep = api.create_endpoint(application=None)["endpoint_id"]
    r = api.req("DELETE", "Application/%s/" % app_id,
                json_body={"cascade": "true"})
    expect_empty(r, 204)
    expect_error(api.get("Application/%s/" % app_id), 404)
    for e in eids:
        expect_error(api.get("Endpoint/%s/" % e), 404)
    api.endpoint(keep)


@pytest.mark.parametrize("target", ["99999999999999999", "abc", "self"])
def test_delete_move_to_bad_target_rejected_nothing_deleted(api, target):
    app_id = api.create_app()["app_id"]
    eid = api.create_endpoint(application=app_id)["endpoint_id"]
    if target == "self":
        target = app_id
    r = api.req("DELETE", "Application/%s/" % app_id,
                json_body={"new_endpoint_application": target})
    expect_error(r, (400, 409))
    api.app(app_id)
    assert api.endpoint(eid)["application"]["app_id"] == app_id


def test_delete_move_and_cascade_unknown_fields_400(api):
    app_id = api.create_app()["app_id"]
    r = api.req("DELETE", "Application/%s/" % app_id,
                json_body={"bogus": "1"})
    expect_error(r, 400)
    api.app(app_id)


def test_delete_unused_with_move_body_ok(api):
    app_id = api.create_app()["app_id"]
    new = api.create_app()["app_id"]
    r = api.req("DELETE", "Application/%s/" % app_id,
                json_body={"new_endpoint_application": new})
    expect_empty(r, 204)


def test_deleted_default_app_no_longer_applies(fresh):
    d = fresh.create_app(default_endpoint_app=True)["app_id"]
    expect_empty(fresh.delete("Application/%s/" % d), 204)
    eid = fresh.create_endpoint()["endpoint_id"]
    assert fresh.endpoint(eid)["application"] is None
