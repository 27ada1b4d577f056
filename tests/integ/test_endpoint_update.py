"""Update endpoint: POST .../Endpoint/{id}/ -> 202 with an empty body;
partial, all-or-nothing, locked fields, updated_at."""

from datetime import datetime

import pytest

from conftest import (ALLOW_DEFAULTS, LOCKED_FIELDS, assert_unchanged,
                      expect_empty, expect_error, uname, pw,
                      wait_clock_tick)

CHANGEABLE_FLAGS = ("allow_voice", "allow_message", "allow_video")


def ts(s):
    return datetime.strptime(s.replace("Z", "+0000"),
                             "%Y-%m-%dT%H:%M:%S.%f%z" if "." in s
                             else "%Y-%m-%dT%H:%M:%S%z")


@pytest.fixture
def ep(api):
    eid = api.create_endpoint(alias="original alias")["endpoint_id"]
    return api.endpoint(eid)


def test_update_202_empty_body_and_alias_changes(api, ep):
    r = api.update_endpoint(ep["endpoint_id"], {"alias": "new alias"})
    expect_empty(r, 202)
    after = api.endpoint(ep["endpoint_id"])
    assert after["alias"] == "new alias"


def test_only_sent_fields_change(api, ep):
    wait_clock_tick()
    expect_empty(api.update_endpoint(ep["endpoint_id"],
                                     {"alias": "only alias"}), 202)
    after = api.endpoint(ep["endpoint_id"])
    assert after["alias"] == "only alias"
    assert ts(after["updated_at"]) > ts(ep["updated_at"])
    assert after["created_at"] == ep["created_at"]
    assert_unchanged(ep, after, ignore=("api_id", "alias", "updated_at"))


def test_empty_object_is_noop(api, ep):
    wait_clock_tick()
    expect_empty(api.update_endpoint(ep["endpoint_id"], {}), 202)
    after = api.endpoint(ep["endpoint_id"])
    assert_unchanged(ep, after)  # updated_at included: nothing changed


def test_same_values_do_not_move_updated_at(api, ep):
    wait_clock_tick()
    r = api.update_endpoint(ep["endpoint_id"], {
        "alias": ep["alias"], "allow_voice": ep["allow_voice"],
        "allow_message": ep["allow_message"],
        "allow_video": ep["allow_video"],
        "application": (ep["application"]["app_id"] if ep["application"]
                        else None)})
    expect_empty(r, 202)
    assert_unchanged(ep, api.endpoint(ep["endpoint_id"]))


@pytest.mark.parametrize("flag", CHANGEABLE_FLAGS)
def test_each_changeable_flag(api, ep, flag):
    new = not ep[flag]
    expect_empty(api.update_endpoint(ep["endpoint_id"], {flag: new}), 202)
    after = api.endpoint(ep["endpoint_id"])
    assert after[flag] is new
    assert_unchanged(ep, after, ignore=("api_id", flag, "updated_at"))
    expect_empty(api.update_endpoint(ep["endpoint_id"], {flag: not new}),
                 202)
    assert api.endpoint(ep["endpoint_id"])[flag] is (not new)


def test_password_change_202_and_nothing_visible_changes(api, ep):
    wait_clock_tick()
    expect_empty(api.update_endpoint(ep["endpoint_id"],
                                     {"password": pw()}), 202)
    after = api.endpoint(ep["endpoint_id"])
    assert "password" not in after
    assert ts(after["updated_at"]) > ts(ep["updated_at"])
    assert_unchanged(ep, after, ignore=("api_id", "updated_at"))


@pytest.mark.parametrize("password", [
    "1234567", "", "a" * 129, "pass\nword", "pass\u0000word", "p\u0085ssword",
    12345678, None], ids=lambda v: repr(v)[:16])
def test_invalid_password_400(api, ep, password):
    r = api.update_endpoint(ep["endpoint_id"], {"password": password})
    expect_error(r, 400, fields=["password"])
    assert_unchanged(ep, api.endpoint(ep["endpoint_id"]))


@pytest.mark.parametrize("alias", [
    "", "x" * 129, "a\tb", "a\u007f", "a\u0080", 7, None, False],
    ids=lambda v: repr(v)[:16])
def test_invalid_alias_400(api, ep, alias):
    r = api.update_endpoint(ep["endpoint_id"], {"alias": alias})
    expect_error(r, 400, fields=["alias"])
    assert_unchanged(ep, api.endpoint(ep["endpoint_id"]))


@pytest.mark.parametrize("alias", ["Bob's phone", "\u00e9" * 128, "z"])
def test_valid_alias_update(api, ep, alias):
    expect_empty(api.update_endpoint(ep["endpoint_id"], {"alias": alias}),
                 202)
    assert api.endpoint(ep["endpoint_id"])["alias"] == alias


@pytest.mark.parametrize("flag", CHANGEABLE_FLAGS)
@pytest.mark.parametrize("value", ["true", 1, None], ids=repr)
def test_flag_wrong_type_400(api, ep, flag, value):
    r = api.update_endpoint(ep["endpoint_id"], {flag: value})
    expect_error(r, 400, fields=[flag])
    assert_unchanged(ep, api.endpoint(ep["endpoint_id"]))


# ------------------------------------------------------------ locked fields

@pytest.mark.parametrize("field", LOCKED_FIELDS)
def test_locked_field_400_even_with_same_value(api, ep, field):
    value = ep[field]
    r = api.update_endpoint(ep["endpoint_id"], {field: value})
    body = expect_error(r, 400, fields=[field])
    assert "cannot be changed" in body["details"][field].lower(), body
    assert_unchanged(ep, api.endpoint(ep["endpoint_id"]))


@pytest.mark.parametrize("field", LOCKED_FIELDS)
def test_locked_field_400_with_new_value(api, ep, field):
    new = {"username": uname(), "endpoint_id": "123456789012345",
           "domain": "other.example"}.get(field)
    if new is None:
        new = not ep[field]
    r = api.update_endpoint(ep["endpoint_id"], {field: new,
                                                "alias": "must not apply"})
    expect_error(r, 400, fields=[field], not_fields=["alias"])
    assert_unchanged(ep, api.endpoint(ep["endpoint_id"]))


def test_all_locked_fields_named_at_once(api, ep):
    body = {f: ep[f] for f in LOCKED_FIELDS}
    body["allow_phones"] = not ep["allow_phones"]
    body["alias"] = "must not apply"
    r = api.update_endpoint(ep["endpoint_id"], body)
    err = expect_error(r, 400, fields=list(LOCKED_FIELDS))
    for f in LOCKED_FIELDS:
        assert "cannot be changed" in err["details"][f].lower(), err
    assert_unchanged(ep, api.endpoint(ep["endpoint_id"]))


# ------------------------------------------------------------ all or nothing

@pytest.mark.parametrize("bad", [
    {"password": "short"}, {"allow_video": "yes"}, {"alias": ""},
    {"application": "99999999999999999"}, {"unknown_field": 1},
    {"allow_apps": False}], ids=lambda d: list(d)[0])
def test_all_or_nothing(api, ep, bad):
    app = api.create_app()["app_id"]
    body = {"alias": "must not apply", "allow_voice": not ep["allow_voice"],
            "allow_video": not ep["allow_video"], "application": app,
            "password": pw()}
    body.update(bad)
    r = api.update_endpoint(ep["endpoint_id"], body)
    expect_error(r, 400, fields=list(bad))
    assert_unchanged(ep, api.endpoint(ep["endpoint_id"]))


def test_every_bad_field_named_at_once(api, ep):
    r = api.update_endpoint(ep["endpoint_id"], {
        "password": "short", "alias": "", "allow_voice": "no",
        "application": "nope", "extra": 1, "username": "x"})
    expect_error(r, 400, fields=["password", "alias", "allow_voice",
                                 "application", "extra", "username"])
    assert_unchanged(ep, api.endpoint(ep["endpoint_id"]))


def test_unknown_fields_400(api, ep):
    r = api.update_endpoint(ep["endpoint_id"], {"nickname": "x",
                                                "sip_uri": "sip:x@y"})
    expect_error(r, 400, fields=["nickname", "sip_uri"])
    assert_unchanged(ep, api.endpoint(ep["endpoint_id"]))


# ------------------------------------------------------------ application

def test_attach_change_detach_application(api, ep):
    a1 = api.create_app(app_name="one")["app_id"]
    a2 = api.create_app(app_name="two")["app_id"]
    eid = ep["endpoint_id"]
    expect_empty(api.update_endpoint(eid, {"application": int(a1)}), 202)
    got = api.endpoint(eid)["application"]
    assert got["app_id"] == a1 and got["app_name"] == "one"
    expect_empty(api.update_endpoint(eid, {"application": a2}), 202)
    assert api.endpoint(eid)["application"]["app_id"] == a2
    expect_empty(api.update_endpoint(eid, {"application": None}), 202)
    assert api.endpoint(eid)["application"] is None
    expect_empty(api.update_endpoint(eid, {"app_id": a1}), 202)
    assert api.endpoint(eid)["application"]["app_id"] == a1
    expect_empty(api.update_endpoint(eid, {"app_id": None}), 202)
    assert api.endpoint(eid)["application"] is None


def test_application_and_app_id_conflict_400(api, ep):
    a1 = api.create_app()["app_id"]
    a2 = api.create_app()["app_id"]
    r = api.update_endpoint(ep["endpoint_id"], {"application": a1,
                                                "app_id": a2})
    expect_error(r, 400)
    assert_unchanged(ep, api.endpoint(ep["endpoint_id"]))


def test_unknown_application_400(api, ep):
    for v in ("99999999999999999", 99999999999999999, "abc", -5):
        r = api.update_endpoint(ep["endpoint_id"], {"application": v})
        expect_error(r, 400, fields=["application"])
    r = api.update_endpoint(ep["endpoint_id"], {"app_id": "99999999999999"})
    expect_error(r, 400)
    assert_unchanged(ep, api.endpoint(ep["endpoint_id"]))


def test_foreign_application_400(api, api_b, ep):
    foreign = api_b.create_app()["app_id"]
    r = api.update_endpoint(ep["endpoint_id"], {"application": foreign})
    expect_error(r, 400, fields=["application"])
    assert_unchanged(ep, api.endpoint(ep["endpoint_id"]))


def test_deleted_application_400(api, ep):
    app = api.create_app()["app_id"]
    assert api.delete("Application/%s/" % app).status_code == 204
    r = api.update_endpoint(ep["endpoint_id"], {"application": app})
    expect_error(r, 400, fields=["application"])


# ------------------------------------------------------------ not found

@pytest.mark.parametrize("eid", ["999999999999999", "1", "abc",
                                 "1234567890123456"])
def test_unknown_endpoint_404(api, eid):
    expect_error(api.update_endpoint(eid, {"alias": "x"}), 404)


def test_deleted_endpoint_404(api):
    eid = api.create_endpoint()["endpoint_id"]
    assert api.delete("Endpoint/%s/" % eid).status_code == 204
    expect_error(api.update_endpoint(eid, {"alias": "x"}), 404)
    expect_error(api.update_endpoint(eid, {}), 404)


def test_updates_are_sequentially_visible(api, ep):
    for i in range(10):
        expect_empty(api.update_endpoint(ep["endpoint_id"],
                                         {"alias": "v%d" % i}), 202)
        assert api.endpoint(ep["endpoint_id"])["alias"] == "v%d" % i


def test_flags_defaults_preserved_by_update(api, ep):
    expect_empty(api.update_endpoint(ep["endpoint_id"],
                                     {"allow_video": True}), 202)
    after = api.endpoint(ep["endpoint_id"])
    for k in ("allow_same_domain", "allow_other_domains", "allow_phones",
              "allow_apps", "allow_voice", "allow_message"):
        assert after[k] is ALLOW_DEFAULTS[k]
