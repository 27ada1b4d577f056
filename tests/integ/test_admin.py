"""The admin listener (issue 13): GET /metrics in Prometheus's text format,
/healthz and /readyz, on admin_http only, never on the API port.

Metrics are checked by moving them: a scrape, requests of a known kind, a
scrape again, and the series of those requests grew by exactly their count
(the server is this test's own, so no other client moves them)."""

import requests

from conftest import (HTTP_TIMEOUT, clean_env, expect_error, metric,
                      parse_metrics, run_cli, scrape, uname, pw)

EP = "/v1/Account/{auth_id}/Endpoint/"
EP_ITEM = EP + "{endpoint_id}/"


def admin_get(srv, path, **kw):
    return requests.get("http://127.0.0.1:%d%s" % (srv.admin_port, path),
                        timeout=HTTP_TIMEOUT, **kw)


def test_health_and_ready(make_server):
    srv = make_server()
    assert srv.admin_port > 0
    r = admin_get(srv, "/healthz")
    assert r.status_code == 200 and r.json() == {"status": "ok"}
    r = admin_get(srv, "/readyz")
    assert r.status_code == 200 and r.json() == {"status": "ready"}
    assert r.headers["Cache-Control"] == "no-store"
    # HEAD answers as GET without a body; other methods and paths do not
    r = requests.head("http://127.0.0.1:%d/readyz" % srv.admin_port,
                      timeout=HTTP_TIMEOUT)
    assert r.status_code == 200 and r.content == b""
    r = requests.post("http://127.0.0.1:%d/metrics" % srv.admin_port,
                      timeout=HTTP_TIMEOUT)
    assert r.status_code == 405 and r.headers["Allow"] == "GET, HEAD"
    r = admin_get(srv, "/v1/Account/")
    assert r.status_code == 404 and r.json()["status"] == "error"


def test_admin_paths_are_not_on_the_api_port(make_server):
    srv = make_server()
    for path in ("/metrics", "/healthz", "/readyz"):
        r = requests.get(srv.base + path, timeout=HTTP_TIMEOUT)
        expect_error(r, 404)


def test_metrics_move_with_api_requests(make_server):
    srv = make_server()
    api = srv.api()
    ep = api.create_endpoint(uname(), pw())
    eid = ep["endpoint_id"]
    before = scrape(srv)
    for _ in range(3):
        assert requests.get(api.url("Endpoint/"), headers=api.auth_headers(),
                            timeout=HTTP_TIMEOUT).status_code == 200
    assert requests.get(api.url("Endpoint/%s/" % eid),
                        headers=api.auth_headers(),
                        timeout=HTTP_TIMEOUT).status_code == 200
    missing = "0" * 14
    assert requests.get(api.url("Endpoint/%s/" % missing),
                        headers=api.auth_headers(),
                        timeout=HTTP_TIMEOUT).status_code == 404
    r = requests.post(api.url("Endpoint/%s/" % eid), json={"alias": "m1"},
                      headers=api.auth_headers(), timeout=HTTP_TIMEOUT)
    assert r.status_code == 202
    # a path that is no route: counted as "other", never by its path
    assert requests.get(srv.base + "/v1/nowhere/" + missing,
                        timeout=HTTP_TIMEOUT).status_code == 404
    after = scrape(srv)

    def grew(route, code):
        name = "sipward_http_requests_total"
        return (metric(after, name, route=route, code=code) -
                metric(before, name, route=route, code=code))

    assert grew("GET " + EP, "2xx") == 3
    assert grew("GET " + EP_ITEM, "2xx") == 1
    assert grew("GET " + EP_ITEM, "4xx") == 1
    assert grew("POST " + EP_ITEM, "2xx") == 1
    assert grew("other", "4xx") == 1
    h = "sipward_http_request_duration_seconds"
    for route, n in (("GET " + EP, 3), ("GET " + EP_ITEM, 2)):
        c = (metric(after, h + "_count", route=route) -
             metric(before, h + "_count", route=route))
        inf = (metric(after, h + "_bucket", route=route, le="+Inf") -
               metric(before, h + "_bucket", route=route, le="+Inf"))
        assert c == n and inf == n, (route, c, inf)
        assert metric(after, h + "_sum", route=route) > 0
    # the update committed (on SQLite in a durable group commit)
    backend = "postgresql" if srv.on_pg else "sqlite"
    t = "sipward_store_transactions_total"
    assert metric(after, t, backend=backend, kind="write") > \
        metric(before, t, backend=backend, kind="write")
    g = "sipward_store_group_commit_transactions_count"
    if not srv.on_pg:
        assert metric(after, g, group="durable") > metric(before, g,
                                                          group="durable")
    # no id, username or address ever makes a series
    text = admin_get(srv, "/metrics").text
    for secret in (eid, missing, ep["username"], api.auth_id, "127.0.0.1"):
        assert secret not in text, secret


def test_buckets_are_cumulative_and_labels_bounded(make_server):
    srv = make_server()
    api = srv.api()
    for _ in range(5):
        requests.get(api.url("Endpoint/"), headers=api.auth_headers(),
                     timeout=HTTP_TIMEOUT)
    text = admin_get(srv, "/metrics").text
    samples = parse_metrics(text)
    series = {}
    for (name, labels), v in samples.items():
        if name.endswith("_bucket"):
            rest = tuple(kv for kv in labels if kv[0] != "le")
            le = dict(labels)["le"]
            series.setdefault((name, rest), []).append(
                (float("inf") if le == "+Inf" else float(le), v))
    assert series
    for key, pts in series.items():
        pts.sort()
        counts = [v for _, v in pts]
        assert counts == sorted(counts), (key, pts)
        assert pts[-1][0] == float("inf")
    # every name is sipward_* with a TYPE line
    for line in text.splitlines():
        if line.startswith("# TYPE "):
            assert line.split()[2].startswith("sipward_"), line
    assert len(samples) < 2000, len(samples)


def test_admin_listener_off_and_never_the_api_address(tmp_path):
    db = "sqlite:%s" % (tmp_path / "a.db")
    r = run_cli(["serve", "--db", db, "--http", "127.0.0.1:18321",
                 "--sip", "127.0.0.1:0"],
                env={"SIPWARD_ADMIN_HTTP": "127.0.0.1:18321"})
    assert r.returncode != 0
    err = r.stderr.decode()
    assert "admin_http" in err and "API" in err, err


def test_admin_listener_can_be_off(make_server):
    srv = make_server(env={"SIPWARD_ADMIN_HTTP": ""})
    assert srv.admin_port == 0
    assert "admin_port=0" in srv.log_text()
