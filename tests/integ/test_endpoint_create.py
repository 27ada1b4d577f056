"""Create endpoint: POST .../Endpoint/ -> 201, field rules, defaults,
conflicts."""

import pytest

from conftest import (ALLOW_DEFAULTS, ENDPOINT_ID_RE, expect_error,
                      expect_ok_json, uname, pw, udomain)


def _absent(api, username):
    lst = api.list_endpoints(username__exact=username)
    assert lst["meta"]["total_count"] == 0 and lst["objects"] == [], \
        "rejected create left %r behind: %r" % (username, lst)


def test_create_201_body(api):
    user = uname()
    r = api.post("Endpoint/", {"username": user, "password": pw(),
                               "alias": "Front desk"})
    body = expect_ok_json(r, 201)
    for k in ("api_id", "message", "endpoint_id", "username", "alias",
              "sip_uri", "resource_uri"):
        assert k in body, "create body lacks %s: %r" % (k, body)
    assert body["message"] == "created"
    assert ENDPOINT_ID_RE.match(body["endpoint_id"]), body
    assert body["username"] == user
    assert body["alias"] == "Front desk"
    assert body["sip_uri"] == "sip:%s@%s" % (user, api.domain)
    assert body["resource_uri"] == "/v1/Account/%s/Endpoint/%s/" % (
        api.auth_id, body["endpoint_id"])
    assert "password" not in body


def test_alias_defaults_to_username(api):
    user = uname()
    body = api.create_endpoint(user)
    assert body["alias"] == user
    assert api.endpoint(body["endpoint_id"])["alias"] == user


def test_defaults_of_flags_and_application(fresh):
    body = fresh.create_endpoint()
    ep = fresh.endpoint(body["endpoint_id"])
    for k, v in ALLOW_DEFAULTS.items():
        assert ep[k] is v, "%s default %r, want %r" % (k, ep[k], v)
    assert ep["application"] is None
    assert ep["sub_account"] is None
    assert ep["domain"] == fresh.domain


def test_endpoint_ids_unique_and_not_sequential(api):
    ids = [api.create_endpoint()["endpoint_id"] for _ in range(12)]
    assert len(set(ids)) == len(ids)
    for i in ids:
        assert ENDPOINT_ID_RE.match(i), i
    nums = sorted(int(i) for i in ids)
    diffs = {b - a for a, b in zip(nums, nums[1:])}
    assert diffs != {1}, "endpoint ids are sequential: %r" % ids


@pytest.mark.parametrize("username", [
    "a", "Z", "0", "_", "a" * 64, "Alice_01", "0123456789",
    "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789_"])
def test_valid_usernames(fresh, username):
    body = fresh.create_endpoint(username)
    assert body["username"] == username
    assert fresh.endpoint(body["endpoint_id"])["username"] == username


@pytest.mark.parametrize("username", [
    "", "a" * 65, "a-b", "a.b", "a b", " a", "a\n", "\u00e4lice", "a@b",
    "a:b", "a;b", "a/b", "a%20b", "a+b", "a\u0000b", "\u0430dmin",
    123, 1.5, True, None, [], {}],
    ids=lambda v: repr(v)[:20])
def test_invalid_usernames_400(api, username):
    r = api.post("Endpoint/", {"username": username, "password": pw()})
    expect_error(r, 400, fields=["username"])
    if isinstance(username, str) and username:
        _absent(api, username)


@pytest.mark.parametrize("password", [
    "12345678", "a" * 128, "pass word", "p@$$w0rd!~", "\u00e9" * 8,
    "\u65e5\u672c\u8a9e\u30d1\u30b9\u30ef\u30fc\u30c9", "\U0001F600" * 8,
    "\u00e9" * 128, "'quoted\" pw\\"],
    ids=lambda v: repr(v)[:20])
def test_valid_passwords(api, password):
    api.create_endpoint(password=password)


@pytest.mark.parametrize("password", [
    "", "1234567", "\u00e9" * 7, "a" * 129, "\u00e9" * 129,
    "passw\nord", "passw\tord", "passw\rord", "pass\u0000word",
    "pass\u007fword", "pass\u0085word", "pass\u009fword", "pass\u001bword",
    12345678, None, True, ["password1"]],
    ids=lambda v: repr(v)[:20])
def test_invalid_passwords_400(api, password):
    user = uname()
    r = api.post("Endpoint/", {"username": user, "password": password})
    expect_error(r, 400, fields=["password"])
    _absent(api, user)


def test_missing_required_fields_named_together(api):
    r = api.post("Endpoint/", {})
    expect_error(r, 400, fields=["username", "password"])
    r = api.post("Endpoint/", {"alias": "x"})
    expect_error(r, 400, fields=["username", "password"])
    user = uname()
    r = api.post("Endpoint/", {"username": user})
    expect_error(r, 400, fields=["password"], not_fields=["username"])
    _absent(api, user)
    r = api.post("Endpoint/", {"password": pw()})
    expect_error(r, 400, fields=["username"], not_fields=["password"])


def test_every_bad_field_named_at_once(api):
    r = api.post("Endpoint/", {
        "username": "bad name", "password": "short", "alias": "a\u0001b",
        "allow_voice": "true", "allow_video": 1, "application": "abc",
        "frobnicate": True, "colour": "red"})
    expect_error(r, 400, fields=["username", "password", "alias",
                                 "allow_voice", "allow_video", "application",
                                 "frobnicate", "colour"])


@pytest.mark.parametrize("alias", [
    "a", "Alice's desk phone", "Front Desk - Room 12", "x" * 128,
    "\u65e5" * 128, "\U0001F4DE" * 128, "caf\u00e9 \u00fcber", " padded ",
    "quote\"backslash\\", "<script>alert(1)</script>", "100% _match_"],
    ids=lambda v: repr(v)[:20])
def test_valid_aliases(api, alias):
    body = api.create_endpoint(alias=alias)
    assert body["alias"] == alias
    assert api.endpoint(body["endpoint_id"])["alias"] == alias


@pytest.mark.parametrize("alias", [
    "", "x" * 129, "\u65e5" * 129, "\U0001F4DE" * 129, "line\nbreak",
    "tab\there", "nul\u0000", "del\u007f", "c1\u0080", "c1\u009f",
    "esc\u001b[31m", 5, True, None, ["a"], {"a": 1}],
    ids=lambda v: repr(v)[:20])
def test_invalid_aliases_400(api, alias):
    user = uname()
    r = api.post("Endpoint/", {"username": user, "password": pw(),
                               "alias": alias})
    expect_error(r, 400, fields=["alias"])
    _absent(api, user)


@pytest.mark.parametrize("flag", sorted(ALLOW_DEFAULTS))
def test_each_flag_can_be_set_at_creation(api, flag):
    val = not ALLOW_DEFAULTS[flag]
    eid = api.create_endpoint(**{flag: val})["endpoint_id"]
    ep = api.endpoint(eid)
    assert ep[flag] is val
    for k, v in ALLOW_DEFAULTS.items():
        if k != flag:
            assert ep[k] is v, k


def test_all_flags_explicit(api):
    flags = {k: not v for k, v in ALLOW_DEFAULTS.items()}
    ep = api.endpoint(api.create_endpoint(**flags)["endpoint_id"])
    for k, v in flags.items():
        assert ep[k] is v


@pytest.mark.parametrize("flag", sorted(ALLOW_DEFAULTS))
@pytest.mark.parametrize("value", ["true", 1, 0, None, [], "false"],
                         ids=repr)
def test_flag_wrong_type_400(api, flag, value):
    user = uname()
    r = api.post("Endpoint/", {"username": user, "password": pw(),
                               flag: value})
    expect_error(r, 400, fields=[flag])
    _absent(api, user)


def test_unknown_fields_400_naming_each(api):
    user = uname()
    r = api.post("Endpoint/", {"username": user, "password": pw(),
                               "first_name": "A", "Alias": "wrong case",
                               "domain": "evil.test"})
    body = expect_error(r, 400, fields=["first_name", "Alias", "domain"],
                        not_fields=["username", "password"])
    _absent(api, user)
    assert body


def test_sip_uri_uses_account_domain(server):
    dom = udomain("sip")
    a = server.new_account(domain=dom)
    user = uname()
    body = a.create_endpoint(user)
    assert body["sip_uri"] == "sip:%s@%s" % (user, dom)
    ep = a.endpoint(body["endpoint_id"])
    assert ep["domain"] == dom
    assert ep["sip_uri"] == "sip:%s@%s" % (user, dom)


# ------------------------------------------------------------- uniqueness

def test_duplicate_username_same_account_409(api):
    user = uname()
    eid = api.create_endpoint(user, alias="first")["endpoint_id"]
    r = api.post("Endpoint/", {"username": user, "password": pw(),
                               "alias": "second"})
    expect_error(r, 409)
    lst = api.list_endpoints(username__exact=user)
    assert [o["endpoint_id"] for o in lst["objects"]] == [eid]
    assert api.endpoint(eid)["alias"] == "first"


def test_duplicate_username_same_domain_other_account_409(server):
    dom = udomain("shared")
    a = server.new_account(domain=dom)
    b = server.new_account(domain=dom)
    user = uname()
    a.create_endpoint(user)
    expect_error(b.create_endpoint_raw(user), 409)
    assert b.list_endpoints(username__exact=user)["objects"] == []


def test_duplicate_username_domains_differing_in_case_409(server):
    """SIP host parts compare case-insensitively (RFC 3261 19.1.4), so
    Example.test and example.test are one SIP domain."""
    base = udomain("case")
    a = server.new_account(domain=base.upper())
    b = server.new_account(domain=base.lower())
    user = uname()
    a.create_endpoint(user)
    expect_error(b.create_endpoint_raw(user), 409)
    assert b.list_endpoints(username__exact=user)["objects"] == []


def test_same_username_other_domain_ok(server, api, api_b):
    assert api.domain != api_b.domain
    user = uname()
    e1 = api.create_endpoint(user)["endpoint_id"]
    e2 = api_b.create_endpoint(user)["endpoint_id"]
    assert e1 != e2


def test_usernames_case_sensitive(fresh):
    base = uname("Case")
    e1 = fresh.create_endpoint(base)["endpoint_id"]
    e2 = fresh.create_endpoint(base.lower())["endpoint_id"]
    e3 = fresh.create_endpoint(base.upper())["endpoint_id"]
    assert len({e1, e2, e3}) == 3
    expect_error(fresh.create_endpoint_raw(base.upper()), 409)


def test_username_reusable_after_delete(api):
    user = uname()
    eid = api.create_endpoint(user)["endpoint_id"]
    assert api.delete("Endpoint/%s/" % eid).status_code == 204
    eid2 = api.create_endpoint(user)["endpoint_id"]
    assert eid2 != eid


# ------------------------------------------------------------- application

def test_application_integer(api):
    app = api.create_app()
    eid = api.create_endpoint(application=int(app["app_id"]))["endpoint_id"]
    ep = api.endpoint(eid)
    assert ep["application"] is not None
    assert ep["application"]["app_id"] == app["app_id"]


def test_application_decimal_string(api):
    app = api.create_app(app_name="Desk app", answer_method="GET",
                         answer_url="http://example.com/desk")
    eid = api.create_endpoint(application=app["app_id"])["endpoint_id"]
    a = api.endpoint(eid)["application"]
    assert a["app_id"] == app["app_id"]
    assert a["app_name"] == "Desk app"
    assert a["answer_url"] == "http://example.com/desk"
    assert a["answer_method"] == "GET"


@pytest.mark.parametrize("as_int", [False, True])
def test_app_id_synonym(api, as_int):
    app = api.create_app()["app_id"]
    eid = api.create_endpoint(
        app_id=int(app) if as_int else app)["endpoint_id"]
    assert api.endpoint(eid)["application"]["app_id"] == app


def test_application_and_app_id_equal_ok(api):
    app = api.create_app()["app_id"]
    eid = api.create_endpoint(application=int(app), app_id=app)[
        "endpoint_id"]
    assert api.endpoint(eid)["application"]["app_id"] == app


def test_application_and_app_id_different_400(api):
    a1 = api.create_app()["app_id"]
    a2 = api.create_app()["app_id"]
    user = uname()
    r = api.post("Endpoint/", {"username": user, "password": pw(),
                               "application": a1, "app_id": a2})
    expect_error(r, 400)
    _absent(api, user)


@pytest.mark.parametrize("value", [
    "99999999999999999", 99999999999999999, "abc", "", "12a", -1, 1.5,
    True, [], {}, "1e3", " 1"],
    ids=repr)
def test_application_unknown_or_bad_400(api, value):
    user = uname()
    r = api.post("Endpoint/", {"username": user, "password": pw(),
                               "application": value})
    expect_error(r, 400, fields=["application"])
    _absent(api, user)


def test_application_of_other_account_400(api, api_b):
    foreign = api_b.create_app()["app_id"]
    user = uname()
    for key, val in (("application", foreign), ("application", int(foreign)),
                     ("app_id", foreign)):
        r = api.post("Endpoint/", {"username": user, "password": pw(),
                                   key: val})
        expect_error(r, 400)
        _absent(api, user)


def test_default_endpoint_app_used_when_absent(fresh):
    fresh.create_app(app_name="not default")
    default = fresh.create_app(app_name="the default",
                               default_endpoint_app=True)["app_id"]
    eid = fresh.create_endpoint()["endpoint_id"]
    assert fresh.endpoint(eid)["application"]["app_id"] == default


def test_application_null_means_none_despite_default(fresh):
    fresh.create_app(default_endpoint_app=True)
    eid = fresh.create_endpoint(application=None)["endpoint_id"]
    assert fresh.endpoint(eid)["application"] is None


def test_explicit_application_beats_default(fresh):
    fresh.create_app(default_endpoint_app=True)
    other = fresh.create_app()["app_id"]
    eid = fresh.create_endpoint(application=other)["endpoint_id"]
    assert fresh.endpoint(eid)["application"]["app_id"] == other


def test_no_default_means_no_application(fresh):
    fresh.create_app()  # not default
    eid = fresh.create_endpoint()["endpoint_id"]
    assert fresh.endpoint(eid)["application"] is None


# ------------------------------------------------------------- sub_account

def test_sub_account_null_or_own_accepted(api):
    e1 = api.create_endpoint(sub_account=None)["endpoint_id"]
    e2 = api.create_endpoint(sub_account=api.auth_id)["endpoint_id"]
    assert api.endpoint(e1)["sub_account"] is None
    assert api.endpoint(e2)["sub_account"] is None


@pytest.mark.parametrize("value", ["MA_ZZZZZZZ1", "SA_ABCDEFGH", "", "x",
                                   5, True], ids=repr)
def test_sub_account_other_value_400(api, value):
    user = uname()
    r = api.post("Endpoint/", {"username": user, "password": pw(),
                               "sub_account": value})
    expect_error(r, 400, fields=["sub_account"])
    _absent(api, user)


def test_sub_account_other_real_account_400(api, api_b):
    user = uname()
    r = api.post("Endpoint/", {"username": user, "password": pw(),
                               "sub_account": api_b.auth_id})
    expect_error(r, 400, fields=["sub_account"])
    _absent(api, user)
    assert api_b.list_endpoints(username__exact=user)["objects"] == []
