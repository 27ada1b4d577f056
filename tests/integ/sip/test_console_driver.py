"""The page driver of the console tests itself (tests/node/console.js
driven by tests/integ/console_browser.py), proven on a page of its own
before test_console.py relies on it; no sipward involved.

1. It types, selects (waiting for an option that comes later), checks,
   clicks, presses keys, reads text/attributes/properties, counts,
   evaluates and takes a screenshot; a wait ends as soon as its condition
   holds.
2. What the page does wrong is reported: a Content-Security-Policy
   violation (the securitypolicyviolation event and Chromium's console
   line), a console.error, an HTTP error answer, an alert; every URL
   requested is recorded.
3. A step that cannot succeed fails within its bound and says what it saw
   (a disabled button, a text that never came, a missing option).
4. It ends Chromium and removes its profile directory on quit, on stdin
   EOF and on SIGTERM.

Needs SIPWARD_NODE_MODULES, node and /usr/bin/chromium; skips without
SIPWARD_NODE_MODULES."""

import re
import signal
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import pytest

from console_browser import Console, ConsoleError
from sip_conftest import ON_PG, wait_until

pytestmark = pytest.mark.skipif(
    ON_PG, reason="browser harness only: runs in the SQLite pass")

CSP = "default-src 'none'; script-src 'self'; img-src 'self'"

PAGE = """<!doctype html><html><head><meta charset="utf-8"><title>t</title>
<script src="app.js" defer></script></head>
<body data-page="start"><form id="f"><label for="a">A</label>
<input id="a" name="a"><label for="s">S</label>
<select id="s" name="s"><option value="">-</option></select>
<label><input type="checkbox" id="c" name="c"> c</label>
<button type="submit" id="go">Go</button>
<button type="button" id="off" disabled>off</button></form>
<p id="out"></p><div id="hid" hidden>hidden text</div>
%s
</body></html>
"""
INLINE = '<script>window.inlineRan = true;</script><img src="/nope.png" alt="">'

APP = """console.log('app loaded');
setTimeout(() => {
  const o = document.createElement('option');
  o.value = 'x'; o.textContent = 'X';
  document.getElementById('s').append(o);
}, 700);
document.getElementById('f').addEventListener('submit', (e) => {
  e.preventDefault();
  const f = e.target;
  setTimeout(() => {
    document.getElementById('out').textContent =
      'got ' + f.a.value + ' ' + f.s.value + ' ' + f.c.checked;
    document.body.dataset.page = 'done';
  }, 300);
});
"""


@pytest.fixture
def site():
    """A page with the console's CSP: /clean.html breaks no rule,
    /dirty.html has an inline script and a missing image."""
    class H(BaseHTTPRequestHandler):
        def log_message(self, *a):
            pass

        def do_GET(self):
            docs = {"/clean.html": ("text/html", PAGE % ""),
                    "/dirty.html": ("text/html", PAGE % INLINE),
                    "/app.js": ("text/javascript", APP)}
            if self.path == "/favicon.ico":
                self.send_response(204)
                self.end_headers()
                return
            ctype, body = docs.get(self.path, ("text/plain", None))
            data = (body or "not found").encode()
            self.send_response(200 if body else 404)
            self.send_header("Content-Type", ctype)
            self.send_header("Content-Security-Policy", CSP)
            self.send_header("Content-Length", str(len(data)))
            self.end_headers()
            self.wfile.write(data)

    srv = ThreadingHTTPServer(("127.0.0.1", 0), H)
    t = threading.Thread(target=srv.serve_forever, daemon=True)
    t.start()
    yield "http://127.0.0.1:%d" % srv.server_address[1]
    srv.shutdown()
    srv.server_close()


@pytest.fixture
def console(tmp_path):
    c = Console(tmp_path)
    yield c
    c.close()


def gone(pid):
    try:
        stat = Path("/proc/%d/stat" % pid).read_text()
    except OSError:
        return True
    return stat.rsplit(")", 1)[1].split()[0] in ("Z", "X")


def test_actions_and_reads(site, console, tmp_path):
    c = console
    r = c.goto(site + "/clean.html")
    assert r["status"] == 200, r
    c.page("start")
    c.type("#a", "first")
    c.type("#a", "second")  # clear=True: replaces
    c.type("#a", "!", clear=False)
    c.select("#s", "x")  # the option comes 0.7 s after the load
    c.check("#c", True)
    c.check("#c", True)  # already: stays
    c.click("#go")
    seen = c.wait("#out", text="got second! x true")
    assert seen["visible"] and seen["count"] == 1, seen
    c.page("done")
    assert c.text("#out") == "got second! x true"
    assert c.attr("body", "data-page") == "done"
    assert c.attr("body", "nothing") is None
    assert c.prop("#c", "checked") is True
    assert c.prop("#a", "value") == "second!"
    assert c.read("#a", prop="value") == "second!"
    assert c.count("input") == 2
    assert c.text("#nothing") is None
    assert c.probe("#nothing") == {"count": 0}
    assert c.wait("#hid", hidden=True)["visible"] is False
    c.wait("#nothing", gone=True)
    c.wait("option", count=2)
    assert c.eval("({a: [1, 2], b: null})") == {"a": [1, 2], "b": None}
    assert c.eval("window.inlineRan === undefined") is True
    c.key("Tab", sel="#a")
    assert c.eval("document.activeElement.id") == "s"
    c.viewport(375, 740)
    assert c.eval("window.innerWidth") == 375
    shot = tmp_path / "shot.png"
    assert c.screenshot(shot)["bytes"] == shot.stat().st_size > 1000
    assert shot.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    assert c.problems() == [], c.problems()
    urls = c.urls()
    assert site + "/clean.html" in urls and site + "/app.js" in urls, urls
    assert c.of("console")[0]["text"] == "app loaded", c.of("console")


def test_reports_what_the_page_did_wrong(site, console):
    c = console
    c.goto(site + "/dirty.html")
    c.page("start")
    wait_until(lambda: c.of("csp") and c.of("response"), 10,
               "the CSP violation and the 404 reported")
    csp = c.of("csp")[0]
    assert csp["directive"].startswith("script-src"), csp
    assert csp["blocked"] == "inline", csp
    resp = c.of("response")[0]
    assert resp["status"] == 404 and resp["url"].endswith("/nope.png"), resp
    c.eval("console.error('oops'); alert('hi'); 1")
    wait_until(lambda: c.of("dialog"), 10, "the alert reported")
    assert c.of("dialog")[0]["text"] == "hi", c.of("dialog")
    kinds = [(p["event"], p.get("type")) for p in c.problems()]
    assert ("csp", None) in kinds and ("response", None) in kinds and \
        ("dialog", "alert") in kinds and ("console", "error") in kinds, kinds
    texts = [p.get("text", "") for p in c.problems()]
    assert "oops" in texts, texts
    assert any("Content Security Policy" in t for t in texts), texts
    # an HTTP error a test provoked on purpose is not a problem
    left = c.problems(allow=[(404, "/nope.png")])
    assert not [p for p in left if p["event"] == "response"], left
    assert not [p for p in left if "status of 404" in p.get("text", "")], \
        left


def test_failures_say_what_they_saw(site, console):
    c = console
    c.goto(site + "/clean.html")
    c.page("start")
    t0 = time.monotonic()
    with pytest.raises(ConsoleError) as e:
        c.click("#off", timeout=1)
    assert time.monotonic() - t0 < 10
    assert '"disabled": true' in str(e.value), e.value
    with pytest.raises(ConsoleError) as e:
        c.wait("#out", text="never", timeout=1)
    assert "waited 1 s" in str(e.value) and '"tag": "p"' in str(e.value), \
        e.value
    with pytest.raises(ConsoleError) as e:
        c.select("#s", "zz", timeout=2)
    assert re.search(r'options: \["",?("x")?\]', str(e.value)), e.value
    with pytest.raises(ConsoleError) as e:
        c.wait("#nothing", timeout=1)
    assert "the element: {\"count\": 0}" in str(e.value), e.value
    with pytest.raises(ConsoleError) as e:
        c.eval("no_such_thing.x")
    assert "no_such_thing" in str(e.value), e.value
    # still usable after failures
    assert c.text("#out") == ""


@pytest.mark.parametrize("how", ["quit", "eof", "sigterm"])
def test_ends_chromium_and_removes_its_profile(site, tmp_path, how):
    c = Console(tmp_path)
    try:
        pid = c.chromium_pid
        profile = Path(c.ready["profile"])
        assert pid and profile.is_dir(), c.ready
        c.goto(site + "/clean.html")
        if how == "quit":
            rc = c.close()
        elif how == "eof":
            c.proc.stdin.close()
            rc = c.proc.wait(20)
        else:
            c.proc.send_signal(signal.SIGTERM)
            rc = c.proc.wait(20)
        assert rc == (143 if how == "sigterm" else 0), rc
        wait_until(lambda: gone(pid), 10, "Chromium %d gone" % pid)
        assert not profile.exists(), profile
        assert c.of("closed"), c.diagnostics()
    finally:
        c.close()
