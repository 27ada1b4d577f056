"""SIP metrics on the admin listener (issue 13): messages by method and
status class, live registrations, digest failures. Each test has a server
of its own, so the counts it sees are its own requests' only."""

from sip_conftest import metric, scrape, wait_until


def delta(before, after, name, **labels):
    return metric(after, name, **labels) - metric(before, name, **labels)


def test_register_moves_the_sip_metrics(sip_make_server):
    srv = sip_make_server()
    api = srv.api()
    ep = srv.endpoint(api)
    before = scrape(srv)
    assert metric(before, "sipward_registrations", kind="bindings") == 0
    ua = ep.ua()
    ua.register_ok()  # a 401, then the 200
    # the registration is committed (lazily) before the gauge shows it
    wait_until(lambda: metric(scrape(srv), "sipward_registrations",
                              kind="bindings") == 1, 10,
               "sipward_registrations{kind=bindings} == 1")
    after = scrape(srv)
    req = "sipward_sip_requests_total"
    resp = "sipward_sip_responses_total"
    assert delta(before, after, req, direction="in", method="REGISTER") == 2
    assert delta(before, after, resp, direction="out", code="4xx") == 1
    assert delta(before, after, resp, direction="out", code="2xx") == 1
    assert metric(after, "sipward_registrations", kind="endpoints") == 1
    assert delta(before, after, "sipward_store_transactions_total",
                 backend="postgresql" if srv.on_pg else "sqlite",
                 kind="lazy") >= 1

    # a wrong password: one digest failure, by its reason
    r = ua.register(password="not-the-password", fresh_nonce=True)
    assert r.status in (401, 403), r
    again = scrape(srv)
    assert delta(after, again, "sipward_sip_digest_failures_total",
                 reason="bad_response") == 1
    # an OPTIONS is counted by its method, an unknown method as "other"
    c = srv.conn()
    c.request(ua.register_bytes(method="OPTIONS"))
    last = scrape(srv)
    assert delta(again, last, req, direction="in", method="OPTIONS") == 1

    # unregistering takes the gauge back to 0
    ua.register_ok(expires=0)
    wait_until(lambda: metric(scrape(srv), "sipward_registrations",
                              kind="bindings") == 0, 10,
               "sipward_registrations{kind=bindings} == 0")
