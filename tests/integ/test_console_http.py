"""The web console's files over plain HTTP (issue 14): what the browser
tests (sip/test_console.py) take for granted, checked byte by byte.

- every file of console/ (and JsSIP, vendor/jssip.min.js) is served at
  /console/<path> exactly as in the tree, with its content type, an ETag,
  Cache-Control and the security headers (a strict CSP: no inline script or
  style, nothing from another origin); /console/ is index.html, /console
  redirects there;
- If-None-Match with the ETag (strong, weak, in a list, *) gets 304 with no
  body; another tag gets the file; HEAD has the headers and no body;
- anything but GET/HEAD is 405 with Allow; an unknown file, a path that
  tries to climb out (.., %2e%2e, //) is 404; no file needs credentials,
  and the API still does;
- config.json names the SIP WebSocket listeners the softphone connects to,
  with the ports actually bound, a wildcard address as host null;
- the console's requests are counted under their own route template."""

import os
import socket
from pathlib import Path

import pytest
import requests

from conftest import HTTP_TIMEOUT, expect_error, metric, scrape

ROOT = Path(__file__).resolve().parents[2]
CONSOLE = ROOT / "console"
TYPES = {".html": "text/html; charset=utf-8",
         ".css": "text/css; charset=utf-8",
         ".js": "text/javascript; charset=utf-8",
         ".json": "application/json", ".svg": "image/svg+xml",
         ".png": "image/png", ".ico": "image/x-icon",
         ".webmanifest": "application/manifest+json",
         ".txt": "text/plain; charset=utf-8", ".woff2": "font/woff2"}


def console_files():
    """(url path, bytes) of every file the build embeds."""
    out = []
    for p in sorted(CONSOLE.rglob("*")):
        rel = p.relative_to(CONSOLE).as_posix()
        if not p.is_file() or p.name in ("package.json",
                                         "package-lock.json") \
                or p.name.startswith((".", "README")) \
                or "node_modules" in rel.split("/"):
            continue
        out.append((rel, p.read_bytes()))
    return out


def jssip_file():
    """JsSIP as the build installed it beside the binary, or None."""
    p = Path(os.environ.get("SIPWARD_BIN", "")).resolve().parent / \
        "console-npm/node_modules/jssip/dist/jssip.min.js"
    return p if p.is_file() else None


def get(srv, path, **kw):
    return requests.get(srv.base + path, timeout=HTTP_TIMEOUT,
                        allow_redirects=False, **kw)


def check_security_headers(r):
    csp = r.headers["Content-Security-Policy"]
    for part in ("default-src 'none'", "script-src 'self'",
                 "style-src 'self'", "connect-src 'self' ws: wss:",
                 "frame-ancestors 'none'", "base-uri 'none'"):
        assert part in csp, csp
    assert "unsafe-inline" not in csp and "unsafe-eval" not in csp, csp
    assert r.headers["X-Content-Type-Options"] == "nosniff"
    assert r.headers["Referrer-Policy"] == "no-referrer"
    assert r.headers["Cache-Control"] == "no-cache"


@pytest.fixture(scope="module")
def srv(tmp_path_factory):
    from conftest import start_server
    s = start_server(tmp_path_factory.mktemp("console"),
                     env={"SIPWARD_SIP_WS": "127.0.0.1:0",
                          "SIPWARD_ADMIN_HTTP": "127.0.0.1:0"})
    yield s
    s.stop()
    s.drop_db()


def test_every_file_served_as_in_the_tree(srv):
    files = console_files()
    assert any(rel == "index.html" for rel, _ in files), \
        "console/index.html is missing"
    js = jssip_file()
    if js is not None:
        files.append(("vendor/jssip.min.js", js.read_bytes()))
    tags = set()
    for rel, data in files:
        r = get(srv, "/console/" + rel)
        assert r.status_code == 200, (rel, r.status_code, r.text[:200])
        assert r.content == data, rel
        ext = os.path.splitext(rel)[1]
        assert r.headers["Content-Type"] == TYPES[ext], rel
        check_security_headers(r)
        etag = r.headers["ETag"]
        assert etag.startswith('"') and etag.endswith('"') and \
            len(etag) == 34, etag
        tags.add(etag)
    assert len(tags) == len({d for _, d in files}), \
        "files with different bytes share an ETag"
    # no inline script or style anywhere in the HTML (the CSP forbids it)
    for rel, data in files:
        if rel.endswith(".html"):
            text = data.decode()
            assert "<script>" not in text and " onclick=" not in text \
                and "style=" not in text, rel


def test_index_and_redirect(srv):
    index = get(srv, "/console/index.html")
    r = get(srv, "/console/")
    assert r.status_code == 200 and r.content == index.content
    assert r.headers["ETag"] == index.headers["ETag"]
    r = get(srv, "/console")
    assert r.status_code == 301 and r.headers["Location"] == "/console/"


def test_etag_revalidation_and_head(srv):
    r = get(srv, "/console/")
    tag = r.headers["ETag"]
    for inm in (tag, "W/" + tag, '"nope", ' + tag, "*"):
        r2 = get(srv, "/console/", headers={"If-None-Match": inm})
        assert r2.status_code == 304, inm
        assert r2.content == b"" and r2.headers["ETag"] == tag
        assert "Content-Length" not in r2.headers
        check_security_headers(r2)
    r2 = get(srv, "/console/", headers={"If-None-Match": '"other"'})
    assert r2.status_code == 200 and r2.content == r.content
    # a tag that only starts like ours is another tag
    r2 = get(srv, "/console/", headers={"If-None-Match": tag[:-1] + 'x"'})
    assert r2.status_code == 200
    h = requests.head(srv.base + "/console/", timeout=HTTP_TIMEOUT)
    assert h.status_code == 200 and h.content == b""
    assert int(h.headers["Content-Length"]) == len(r.content)
    assert h.headers["ETag"] == tag


def test_methods_and_unknown_paths(srv):
    for m in ("POST", "PUT", "DELETE", "PATCH"):
        r = requests.request(m, srv.base + "/console/", timeout=HTTP_TIMEOUT)
        expect_error(r, 405)
        assert r.headers["Allow"] == "GET, HEAD"
    for path in ("/console/nope.js", "/console/js/", "/console/../README.md",
                 "/console/%2e%2e/CMakeLists.txt", "/console//index.html",
                 "/console/index.html/", "/consolex", "/console/package.json"):
        r = get(srv, path)
        assert r.status_code == 404, (path, r.status_code)


def raw_get(srv, target):
    """A request line sent as is (requests would normalise the path)."""
    with socket.create_connection(("127.0.0.1", srv.port), 10) as s:
        s.sendall(("GET %s HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n"
                   % target).encode())
        data = b""
        while True:
            b = s.recv(65536)
            if not b:
                break
            data += b
    return int(data.split(b" ", 2)[1])


def test_no_way_out_of_the_console(srv):
    for target in ("/console/../CMakeLists.txt", "/console/./index.html",
                   "/console/%2e%2e/%2e%2e/etc/passwd",
                   "/console/js/../index.html"):
        assert raw_get(srv, target) in (400, 404), target


def test_no_credentials_needed_and_the_api_still_wants_them(srv):
    r = get(srv, "/console/")
    assert r.status_code == 200
    acct = srv.account
    r = get(srv, "/v1/Account/%s/Endpoint/" % acct["auth_id"])
    expect_error(r, 401)
    # a console file fetched with credentials still works (same origin)
    r = get(srv, "/console/", headers={"X-Auth-ID": acct["auth_id"],
                                       "X-Auth-Token": "wrong" * 8})
    assert r.status_code == 200


def test_config_names_the_websocket_listener(srv):
    r = get(srv, "/console/config.json")
    assert r.status_code == 200
    assert r.headers["Content-Type"] == "application/json"
    check_security_headers(r)
    cfg = r.json()
    assert cfg["sip_wss"] is None
    ws = cfg["sip_ws"]
    assert ws["host"] == "127.0.0.1" and ws["port"] > 0
    # the port is the bound one: a WebSocket handshake succeeds there
    with socket.create_connection(("127.0.0.1", ws["port"]), 10) as s:
        s.sendall(b"GET / HTTP/1.1\r\nHost: x\r\nUpgrade: websocket\r\n"
                  b"Connection: Upgrade\r\nSec-WebSocket-Version: 13\r\n"
                  b"Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\n"
                  b"Sec-WebSocket-Protocol: sip\r\n\r\n")
        assert s.recv(4096).startswith(b"HTTP/1.1 101"), "no WebSocket"


def test_config_without_websocket_and_wildcard_host(make_server):
    s = make_server(env={"SIPWARD_SIP_WS": "0.0.0.0:0"})
    cfg = get(s, "/console/config.json").json()
    assert cfg["sip_ws"]["host"] is None and cfg["sip_ws"]["port"] > 0
    assert cfg["sip_wss"] is None
    s2 = make_server(sub="srv2")
    cfg = get(s2, "/console/config.json").json()
    assert cfg["sip_ws"] is None and cfg["sip_wss"] is None


def test_console_requests_have_their_route(srv):
    before = metric(scrape(srv), "sipward_http_requests_total",
                    route="GET /console/{file}", code="2xx") or 0
    for _ in range(3):
        assert get(srv, "/console/").status_code == 200
    after = metric(scrape(srv), "sipward_http_requests_total",
                   route="GET /console/{file}", code="2xx")
    assert after == before + 3
