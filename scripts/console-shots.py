#!/usr/bin/python3
"""Screenshots of every page of the web console, at desktop (1280x800) and
phone (375x740) width, for docs/console.md (`make console-shots`).

Usage: console-shots.py --bin build/sipward --out docs/console [--doc FILE]

Starts a throwaway sipward (a temporary SQLite store, loopback ports the
kernel picks, SIP over WebSocket for the softphone, the domain
sipward.example), fills it through the REST API (two applications, three
endpoints; bob's "desk phone", a SIP client of the test suite
(tests/integ/sip/sipclient.py), registers over UDP so the registered state
shows), signs in with Debian's Chromium driven by tests/node/console.js
(puppeteer-core from SIPWARD_NODE_MODULES, default build/node/node_modules,
installed by `sh scripts/npm-deps.sh build/node`), registers the page's
softphone as alice and places a call (alice's application is down: the call
ends at once and leaves a record for the calls page), then writes sign-in,
endpoints, endpoint, applications, calls and phone as NAME-desktop.png and
NAME-phone.png (full-page PNGs, each checked under 300 KB). Rewrites the
screenshot section of the doc (after its `<!-- screenshots -->` marker,
docs/console.md by default) when the marker is there. Stops everything it
started (by pid) and removes its temporary directory, also on failure.
Exit status 0 on success, 1 with the reason otherwise."""

import argparse
import json
import os
import re
import shutil
import signal
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path[:0] = [str(ROOT / "tests/integ"), str(ROOT / "tests/integ/sip")]

import requests  # noqa: E402

from console_browser import Console, ConsoleError  # noqa: E402
import sipclient  # noqa: E402

PAGES = [("signin", "Sign in"), ("endpoints", "Endpoints"),
         ("endpoint", "One endpoint"), ("applications", "Applications"),
         ("calls", "Calls"), ("phone", "Phone")]
SIZES = [("desktop", 1280, 800), ("phone", 375, 740)]
MAX_BYTES = 300 * 1024
MARK = "<!-- screenshots -->"
DOMAIN = "sipward.example"
STEP = 30.0  # bound of one wait (a loaded machine)


class Failed(Exception):
    pass


def wait(pred, timeout, what):
    """pred() until true (returned), else Failed after timeout."""
    end = time.monotonic() + timeout
    last = None
    while True:
        try:
            v = pred()
        except (OSError, ValueError, requests.RequestException) as e:
            v, last = None, e
        if v:
            return v
        if time.monotonic() > end:
            raise Failed("no %s within %.0f s (last: %r)" % (what, timeout,
                                                            last))
        time.sleep(0.1)


class Server:
    """A throwaway `sipward serve` on loopback, stopped by its pid."""

    def __init__(self, work):
        self.work = work
        self.proc = None

    def start(self, binary):
        work = self.work
        # nothing from the caller's configuration; every listener on a
        # port the kernel picks (the admin one's default, 9091, may be a
        # running server's)
        env = {k: v for k, v in os.environ.items()
               if not k.startswith("SIPWARD_")}
        env.update(SIPWARD_SIP_WS="127.0.0.1:0",
                   SIPWARD_ADMIN_HTTP="127.0.0.1:0",
                   SIPWARD_WEBHOOK_ALLOW_PRIVATE="true",
                   SIPWARD_LOG_LEVEL="info")
        with open(work / "stdout", "wb") as out, \
                open(work / "stderr", "wb") as err:
            self.proc = subprocess.Popen(
                [binary, "serve", "--db", "sqlite:%s" % (work / "sw.db"),
                 "--http", "127.0.0.1:0", "--sip", "127.0.0.1:0",
                 "--domain", DOMAIN], stdin=subprocess.DEVNULL,
                stdout=out, stderr=err, env=env, cwd=str(work))

        def started():
            if self.proc.poll() is not None:
                raise Failed("sipward exited %s:\n%s" % (
                    self.proc.returncode, self.log()[-2000:]))
            return re.search(r"event=started .*", self.log())
        line = wait(started, STEP, "event=started line from sipward")
        self.ports = {k: int(v) for k, v in
                      re.findall(r"(\w+_port)=(\d+)", line.group(0))}
        self.account = json.loads(
            (work / "stdout").read_text().splitlines()[0])
        self.base = "http://127.0.0.1:%d" % self.ports["http_port"]
        return self

    def log(self):
        return (self.work / "stderr").read_text(errors="replace")

    def stop(self):
        p = self.proc
        if p is not None and p.poll() is None:
            p.send_signal(signal.SIGTERM)
            try:
                p.wait(15)
            except subprocess.TimeoutExpired:
                p.kill()
                p.wait(5)


class Api:
    def __init__(self, srv):
        a = srv.account
        self.s = requests.Session()
        self.s.headers.update({"X-Auth-ID": a["auth_id"],
                               "X-Auth-Token": a["auth_token"]})
        self.url = srv.base + "/v1/Account/%s/" % a["auth_id"]

    def post(self, rel, body):
        r = self.s.post(self.url + rel, json=body, timeout=10)
        if r.status_code >= 300:
            raise Failed("POST %s: %d %s" % (rel, r.status_code, r.text))
        return r.json() if r.content else None

    def get(self, rel, **params):
        r = self.s.get(self.url + rel, params=params, timeout=10)
        if r.status_code != 200:
            raise Failed("GET %s: %d %s" % (rel, r.status_code, r.text))
        return r.json()


def fill(srv, api):
    """Applications, endpoints, bob's desk phone registered; returns
    {username: (endpoint_id, password)} and the phone's connection."""
    ivr = api.post("Application/", {
        "app_name": "Main IVR",
        "answer_url": "https://ivr.example.com/answer",
        "hangup_url": "https://ivr.example.com/hangup",
        "default_endpoint_app": True})["app_id"]
    # down on purpose: alice's calls end at once, with a record
    support = api.post("Application/", {
        "app_name": "Support queue",
        "answer_url": "http://127.0.0.1:9/answer"})["app_id"]
    eps = {}
    for user, alias, app in (("alice", "Front desk", support),
                             ("bob", "Bob's desk phone", ivr),
                             ("carol", "Carol (WebRTC)", None)):
        password = "Shots-%s-%s" % (user, os.urandom(8).hex())
        body = {"username": user, "password": password, "alias": alias,
                "application": app}
        eps[user] = (api.post("Endpoint/", body)["endpoint_id"], password)
    conn = sipclient.SipConn("127.0.0.1", srv.ports["sip_port"], "udp")
    ua = sipclient.UA(conn, "bob", DOMAIN, eps["bob"][1],
                      user_agent="Yealink SIP-T54W 96.86.0.70")
    ua.register_ok(expires=3600)
    wait(lambda: api.get("Endpoint/%s/" % eps["bob"][0])[
        "sip_registered"] == "true", STEP, "bob registered")
    return eps, conn


def shoot(c, out, page, size, shots):
    path = out / ("%s-%s.png" % (page, size))
    # scroll back to the top, drop the focus ring of the last click and let
    # the toast fade (the picture shows the page, not the last action)
    c.eval("window.scrollTo(0, 0); document.activeElement && "
           "document.activeElement.blur(); "
           "document.getElementById('toast') && "
           "document.getElementById('toast').classList.remove('show')")
    n = c.screenshot(path, full_page=True)["bytes"]
    if n > MAX_BYTES:
        raise Failed("%s is %d KB (more than %d KB)" % (
            path, n // 1024, MAX_BYTES // 1024))
    shots.append((page, size, path))


def take(c, srv, eps, out):
    shots = []
    base = srv.base + "/console/"
    acct = srv.account
    # sign-in, at both widths
    c.goto(base)
    c.page("signin")
    for size, w, h in SIZES:
        c.viewport(w, h)
        shoot(c, out, "signin", size, shots)
    c.viewport(*SIZES[0][1:])
    c.type("#signin #auth_id", acct["auth_id"])
    c.type("#signin #auth_token", acct["auth_token"])
    c.click("#signin button[type=submit]")
    c.page("endpoints")
    # the softphone registers as alice and calls bob: a record
    c.goto(base + "#/phone")
    c.page("phone")
    c.select("#phone-register [name=endpoint]", "alice", timeout=STEP)
    c.type("#phone-register [name=password]", eps["alice"][1])
    c.click("#phone-connect")
    c.wait("#phone-status", attr="data-state", value="registered",
           timeout=STEP)
    c.type("#phone-call [name=target]", "bob")
    c.click("#phone-dial")
    c.wait("#call-state", attr="data-state", value="ended", timeout=STEP)
    # every page at each width (hash changes: the softphone stays up)
    for size, w, h in SIZES:
        c.viewport(w, h)
        c.goto(base + "#/endpoints")
        c.page("endpoints")
        c.wait('table#endpoints tr[data-registered="true"]', timeout=STEP)
        c.wait("table#endpoints tr[data-endpoint-id]", count=3,
               timeout=STEP)
        shoot(c, out, "endpoints", size, shots)
        c.goto(base + "#/endpoints/" + eps["bob"][0])
        c.page("endpoint")
        c.wait("#endpoint-view", attr="data-registered", value="true",
               timeout=STEP)
        c.wait("table#registrations tbody tr", text="UDP", timeout=STEP)
        shoot(c, out, "endpoint", size, shots)
        c.goto(base + "#/applications")
        c.page("applications")
        c.wait("table#applications tr[data-app-id]", count=2,
               timeout=STEP)
        shoot(c, out, "applications", size, shots)
        c.goto(base + "#/calls")
        c.page("calls")
        c.wait("table#live-calls", timeout=STEP)
        c.wait("table#call-history tr[data-call-uuid]", timeout=STEP)
        shoot(c, out, "calls", size, shots)
        c.goto(base + "#/phone")
        c.page("phone")
        c.wait("#phone-status", attr="data-state", value="registered",
               timeout=STEP)
        c.type("#phone-call [name=target]", "carol")
        shoot(c, out, "phone", size, shots)
    c.click("#signout")
    c.page("signin")
    return shots


def write_doc(doc, shots):
    """The section after MARK: one heading per page, both pictures."""
    text = doc.read_text()
    if MARK not in text:
        print("console-shots: no %s marker in %s: not rewritten" % (
            MARK, doc))
        return
    rel = {(p, s): os.path.relpath(path, doc.parent)
           for p, s, path in shots}
    lines = [MARK, ""]
    for page, title in PAGES:
        lines += ["### %s" % title, ""]
        lines.append(" ".join("![%s, %s](%s)" % (title, size, rel[(
            page, size)]) for size, _, _ in SIZES if (page, size) in rel))
        lines.append("")
    doc.write_text(text.split(MARK)[0] + "\n".join(lines).rstrip() + "\n")


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--bin", required=True, help="the sipward binary")
    ap.add_argument("--out", required=True, help="where the PNGs go")
    ap.add_argument("--doc", default=str(ROOT / "docs/console.md"),
                    help="the page whose screenshot section is rewritten "
                    "('' for none)")
    a = ap.parse_args()
    binary = str(Path(a.bin).resolve())
    if not os.access(binary, os.X_OK):
        sys.exit("console-shots: %s is not an executable (make build)" %
                 binary)
    node = shutil.which("node")
    modules = os.environ.get("SIPWARD_NODE_MODULES",
                             str(ROOT / "build/node/node_modules"))
    if not node or not os.path.isfile(
            os.path.join(modules, "puppeteer-core", "package.json")):
        sys.exit("console-shots: needs node and puppeteer-core in %s "
                 "(sh scripts/npm-deps.sh build/node)" % modules)
    out = Path(a.out).resolve()
    out.mkdir(parents=True, exist_ok=True)
    work = Path(tempfile.mkdtemp(prefix="sipward-shots-"))
    srv = conn = c = None
    try:
        srv = Server(work)
        srv.start(binary)
        eps, conn = fill(srv, Api(srv))
        c = Console(work, node=node, modules=modules, timeout=STEP)
        shots = take(c, srv, eps, out)
        problems = c.problems()
        if problems:
            raise Failed("the page had trouble:\n%s" % "\n".join(
                map(str, problems)))
        if a.doc:
            write_doc(Path(a.doc).resolve(), shots)
        total = sum(p.stat().st_size for _, _, p in shots)
        print("console-shots: %d screenshots in %s (%d KB)" % (
            len(shots), out, total // 1024))
    except (Failed, ConsoleError, AssertionError, OSError) as e:
        sys.exit("console-shots: %s" % e)
    finally:
        if c is not None:
            c.close()
        if conn is not None:
            conn.close()
        if srv is not None:
            srv.stop()
        shutil.rmtree(work, ignore_errors=True)


if __name__ == "__main__":
    main()
