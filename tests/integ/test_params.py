"""Small API points of issue 8: one filter in both spellings is refused,
unknown body keys are named whole (never cut or merged), and a query key
that is not valid UTF-8 is named in details."""

import requests

from conftest import HTTP_TIMEOUT, expect_error


SPELLINGS = [("username__exact", "username_exact"),
             ("username__contains", "username_contains"),
             ("username__startswith", "username_startswith"),
             ("alias__exact", "alias_exact"),
             ("alias__contains", "alias_contains"),
             ("application_id__exact", "application_id_exact"),
             ("application_id__isnull", "application_id_isnull")]


def test_both_spellings_of_one_filter_400(api):
    for a, b in SPELLINGS:
        v = "true" if a.endswith("isnull") else (
            "1" if a.startswith("application") else "x")
        for first, second in ((a, b), (b, a)):
            r = api.get("Endpoint/", params=[(first, v), (second, v)])
            body = expect_error(r, 400, fields=[second])
            assert first in body["details"][second], body


def test_other_filters_still_combine(api):
    r = api.get("Endpoint/", params={"username__contains": "x",
                                     "alias_contains": "y"})
    assert r.status_code == 200, r.text


def test_unknown_body_keys_named_whole(api):
    long_a = "k" * 300 + "a"
    long_b = "k" * 300 + "b"
    huge = "q" * 5000
    r = api.post("Endpoint/", {"username": "u_whole", "password": "p" * 10,
                               long_a: 1, long_b: 2, huge: 3})
    body = expect_error(r, 400, fields=[long_a, long_b, huge])
    assert len(body["details"]) == 3, body
    ep = api.create_endpoint()
    r = api.post("Endpoint/%s/" % ep["endpoint_id"], {long_a: 1, long_b: 2})
    expect_error(r, 400, fields=[long_a, long_b])
    app = api.create_app(app_name="a", answer_url="https://example.com/a")
    r = api.post("Application/%s/" % app["app_id"], {long_a: 1, long_b: 2})
    expect_error(r, 400, fields=[long_a, long_b])
    r = api.delete("Endpoint/%s/" % ep["endpoint_id"],
                   json_body={long_a: 1, long_b: 2})
    expect_error(r, 400, fields=[long_a, long_b])
    assert api.endpoint(ep["endpoint_id"])["endpoint_id"] == ep["endpoint_id"]


def test_query_key_not_utf8_is_named(api):
    for rel in ("Endpoint/", "Application/"):
        url = api.url(rel) + "?user%FFname=1&limit=5"
        r = requests.get(url, headers=api.auth_headers(),
                         timeout=HTTP_TIMEOUT)
        body = expect_error(r, 400, fields=["user%FFname"])
        assert len(body["details"]) == 1, body
