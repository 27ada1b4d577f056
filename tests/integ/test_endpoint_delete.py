"""Delete endpoint: 204 with an empty body; unknown/deleted 404."""

import pytest

from conftest import expect_empty, expect_error, uname


def test_delete_204_then_gone(api):
    user = uname()
    eid = api.create_endpoint(user)["endpoint_id"]
    r = api.delete("Endpoint/%s/" % eid)
    expect_empty(r, 204)
    expect_error(api.get("Endpoint/%s/" % eid), 404)
    lst = api.list_endpoints(username__exact=user)
    assert lst["objects"] == [] and lst["meta"]["total_count"] == 0


def test_delete_twice_404(api):
    eid = api.create_endpoint()["endpoint_id"]
    expect_empty(api.delete("Endpoint/%s/" % eid), 204)
    expect_error(api.delete("Endpoint/%s/" % eid), 404)


@pytest.mark.parametrize("eid", ["999999999999997", "abc", "0"])
def test_delete_unknown_404(api, eid):
    expect_error(api.delete("Endpoint/%s/" % eid), 404)


def test_delete_only_that_endpoint(fresh):
    ids = [fresh.create_endpoint()["endpoint_id"] for _ in range(3)]
    expect_empty(fresh.delete("Endpoint/%s/" % ids[1]), 204)
    assert [o["endpoint_id"] for o in fresh.all_endpoints()] == \
        [ids[0], ids[2]]
    assert fresh.list_endpoints()["meta"]["total_count"] == 2


@pytest.mark.parametrize("ctype", ["application/json", "text/plain",
                                   "application/x-www-form-urlencoded"])
def test_delete_without_body_any_content_type(api, ctype):
    eid = api.create_endpoint()["endpoint_id"]
    r = api.delete("Endpoint/%s/" % eid, headers={"Content-Type": ctype})
    expect_empty(r, 204)


def test_delete_with_empty_object_body(api):
    eid = api.create_endpoint()["endpoint_id"]
    r = api.req("DELETE", "Endpoint/%s/" % eid, json_body={})
    expect_empty(r, 204)
    expect_error(api.get("Endpoint/%s/" % eid), 404)


def test_delete_with_malformed_body_rejected_and_kept(api):
    eid = api.create_endpoint()["endpoint_id"]
    r = api.req("DELETE", "Endpoint/%s/" % eid, data=b"{oops",
                headers={"Content-Type": "application/json"})
    expect_error(r, 400)
    api.endpoint(eid)


def test_delete_via_v1_without_slash(api):
    eid = api.create_endpoint()["endpoint_id"]
    r = api.clone(prefix="/v1").delete("Endpoint/%s" % eid)
    expect_empty(r, 204)
    expect_error(api.get("Endpoint/%s/" % eid), 404)


def test_delete_keeps_application(api):
    app = api.create_app()["app_id"]
    eid = api.create_endpoint(application=app)["endpoint_id"]
    expect_empty(api.delete("Endpoint/%s/" % eid), 204)
    api.app(app)
    # and the application is no longer in use: it can be deleted
    expect_empty(api.delete("Application/%s/" % app), 204)


def test_delete_with_fields_in_body_rejected_and_kept(api):
    eid = api.create_endpoint()["endpoint_id"]
    r = api.req("DELETE", "Endpoint/%s/" % eid, json_body={"force": True})
    expect_error(r, 400)
    api.endpoint(eid)
