"""The web console in a real browser (issue 14): Debian's Chromium, driven
by puppeteer-core (tests/node/console.js through
tests/integ/console_browser.py), on the console a real sipward serves at
/console/, with real phones (sipp, baresip) and rtpengine. It selects
elements by the ids and attributes of the console's DOM contract only
(docs/console.md, console/README.md).

1. Plain HTTP: /console/ and its files carry the strict
   Content-Security-Policy, nosniff, no-referrer, an ETag and
   Cache-Control; If-None-Match with that ETag gets 304 and no body;
   /console redirects to /console/; no file needs credentials, the API
   still does.
2. Sign-in: a wrong token shows the API's message in the form's alert and
   stores nothing; the right one signs in (the credentials in
   sessionStorage only: no localStorage, no cookie); sign-out empties
   sessionStorage.
3. The scenario, in one browser, signed in with a fresh account: two
   applications created through the page (one edited); an endpoint, bob,
   created through the page with a generated password and an
   application; sipp registers bob and the list row turns
   data-registered="true" without a reload (bob's page shows it), and the
   list's sip_registered filter finds him; "Rotate password" shows
   a new password once, the registration ends on the page (and in the
   API), and sipp's REGISTER with the old password is refused; the
   application is swapped in the form (checked through the API); a
   3-character password gets the API's own message beside the field and
   changes nothing (API); alice, created through the page with the
   application that dials bob, is registered by the in-page softphone over
   WebSocket and calls bob (baresip, registered with the rotated password
   while bob's page is open, which turns registered by itself; it answers,
   media through rtpengine); #call-state goes in-call, mute
   toggles; the calls page lists the live call, its hang-up button ends it
   (baresip gets the BYE), it leaves the live list, shows in the history,
   and the softphone shows the call ended, still registered; an endpoint
   is deleted with confirmation (cancel keeps it); deleting the
   application in use gets the 409 explained in the dialog with the
   new_endpoint_application / cascade choice, and moving its endpoints
   deletes it; sign-out unregisters the softphone and empties
   sessionStorage.
   Throughout: no page error, no console error or warning, no failed
   request, no HTTP error but those the steps provoke, no
   Content-Security-Policy violation, and no token or password in any URL
   the page requested (WebSocket included).
4. At phone width (375 px) every page fits the screen, every field has a
   label, and sign-in works from the keyboard alone.

Runs in the SQLite passes only, like test_webrtc.py (it tests the console
and the browser, not the store). Needs SIPWARD_NODE_MODULES (skips
without), node, /usr/bin/chromium, sipp, baresip and rtpengine."""

import os
import re
import time
from urllib.parse import quote

import pytest
import requests

from console_browser import Console
from sip_conftest import (ON_PG, Endpoint, assert_unchanged,
                          start_sip_server, uname, wait_until)

pytestmark = pytest.mark.skipif(
    ON_PG, reason="browser tests run in the SQLite passes (docstring)")

# A page refreshes every 2-3 s; a loaded 2-core box takes longer. Bounds
# only: every wait ends as soon as its condition holds.
SLOW = 45.0

CSP = ("default-src 'none'; script-src 'self'; style-src 'self'; "
       "img-src 'self' data:; connect-src 'self' ws: wss:; "
       "media-src 'self' blob: mediastream:; font-src 'self'; "
       "manifest-src 'self'; form-action 'self'; frame-ancestors 'none'; "
       "base-uri 'none'")

SIGNIN_SUBMIT = "#signin button[type=submit]"

# what #endpoint-view shows, each as [data-field=...]
ENDPOINT_FIELDS = ("username", "endpoint_id", "domain", "sip_uri", "alias",
                   "application", "allow_voice", "allow_message",
                   "allow_video", "allow_same_domain", "allow_other_domains",
                   "allow_phones", "allow_apps", "sip_registered",
                   "sip_contact", "sip_expires", "sip_user_agent",
                   "created_at", "updated_at")


# --------------------------------------------------------------------------
# fixtures

@pytest.fixture(scope="module")
def rtp(tmp_path_factory):
    from browser import browser_or_skip
    browser_or_skip()
    from rtpengine import Rtpengine
    r = Rtpengine(tmp_path_factory.mktemp("console_rtp"),
                  extra_args=["--delete-delay=0"]).start()
    yield r
    r.stop()


@pytest.fixture(scope="module")
def srv(tmp_path_factory, rtp):
    # plain WebSocket (the page is http://127.0.0.1); MD5 challenges only
    # (baresip 1.0.0 answers nothing else); applications on 127.0.0.1
    s = start_sip_server(tmp_path_factory.mktemp("console"), env={
        "SIPWARD_SIP_WS": "127.0.0.1:0",
        "SIPWARD_SIP_DIGEST_ALGORITHMS": "MD5",
        "SIPWARD_WEBHOOK_ALLOW_PRIVATE": "true",
        "SIPWARD_RTPENGINE_NG": rtp.ng})
    yield s
    s.stop()


@pytest.fixture
def console(tmp_path):
    c = Console(tmp_path)
    yield c
    c.close()


@pytest.fixture
def app():
    from test_calls_app import App
    a = App()
    yield a
    a.close()


# --------------------------------------------------------------------------
# helpers

def sign_in(c, srv, account=None):
    acct = account or srv.account
    c.goto(srv.base + "/console/")
    c.page("signin")
    c.type("#signin #auth_id", acct["auth_id"])
    c.type("#signin #auth_token", acct["auth_token"])
    c.click(SIGNIN_SUBMIT)
    c.page("endpoints")
    c.wait("#nav", visible=True)


def nav(c, page):
    """Follows the navigation link to page (no reload: the hash changes)."""
    c.click('#nav a[href="#/%s"]' % page)
    c.page(page)


def check_clean(c, secrets, allow=()):
    """No page error, console error or warning, failed request, CSP
    violation or HTTP error (but `allow`'s), and no secret in any URL the
    page requested (raw or percent-encoded)."""
    problems = c.problems(allow=allow)
    assert problems == [], "the page had trouble:\n%s" % "\n".join(
        map(str, problems))
    assert not c.of("csp")
    urls = c.urls()
    assert urls, "no request recorded"
    for s in secrets:
        for form in {s, quote(s, safe=""), quote(s)}:
            bad = [u for u in urls if form in u]
            assert not bad, "a secret in a URL the page requested: %s" % bad


def baresip_phone(sip_procs, tmp_path, srv, ep, wav):
    """bob's desk phone: baresip on UDP, answering by itself (as
    test_calls_clients.start_baresip, with time to spare for a page)."""
    from test_calls_clients import (BARESIP_CALL_CONFIG, BARESIP_MODULES,
                                    free_udp_tcp_port, need)
    from pathlib import Path
    tool = need("baresip")
    for m in BARESIP_MODULES:
        if not Path("/usr/lib/baresip/modules/%s.so" % m).exists():
            pytest.skip("baresip module %s missing" % m)
    cfg = tmp_path / "bob"
    dumps = cfg / "dumps"
    dumps.mkdir(parents=True)
    port = free_udp_tcp_port(30001, 40000, seed=time.time_ns(),
                             tls_next=True)
    (cfg / "config").write_text(BARESIP_CALL_CONFIG % {
        "port": port, "wav": wav, "name": "bob", "dumps": dumps,
        "cafile": "/etc/ssl/certs/ca-certificates.crt"})
    (cfg / "accounts").write_text(
        '<sip:%s@%s;transport=udp>;auth_pass=%s;answermode=auto;'
        'outbound="sip:127.0.0.1:%d;transport=udp";regint=600\n' % (
            ep.username, ep.domain, ep.password, srv.port_of("udp")))
    # -t: it quits by itself after 180 s whatever happens (and is stopped
    # by pid at teardown before that)
    return sip_procs([tool, "-f", str(cfg), "-t", "180"],
                     out=str(tmp_path / "bob.log"))


# --------------------------------------------------------------------------
# 1. plain HTTP

def test_console_http_headers(sip_make_server):
    """The headers every console response carries; 304 on a matching
    If-None-Match; no credentials needed for the console, still needed
    for the API. (Plain HTTP: runs without the browser too.)"""
    srv = sip_make_server(env={"SIPWARD_SIP_WS": "127.0.0.1:0"})
    get = lambda path, **kw: requests.get(srv.base + path, timeout=10,
                                          allow_redirects=False, **kw)
    r = get("/console")
    assert r.status_code in (301, 302, 308), (r.status_code, r.headers)
    assert r.headers["Location"] in ("/console/", srv.base + "/console/")
    for path, ctype in (("/console/", "text/html"),
                        ("/console/js/app.js", "javascript"),
                        ("/console/css/console.css", "text/css"),
                        ("/console/vendor/jssip.min.js", "javascript"),
                        ("/console/config.json", "application/json")):
        r = get(path)
        if path.endswith("jssip.min.js") and r.status_code == 404 and \
                not os.environ.get("SIPWARD_NODE_MODULES"):
            continue  # a build without npm has no JsSIP (and no browser)
        assert r.status_code == 200, (path, r.status_code, r.text[:200])
        h = r.headers
        assert ctype in h["Content-Type"], (path, h)
        assert h["Content-Security-Policy"] == CSP, (path, h)
        assert h["X-Content-Type-Options"] == "nosniff", (path, h)
        assert h["Referrer-Policy"] == "no-referrer", (path, h)
        cc = h.get("Cache-Control", "")
        if path in ("/console/", "/console/config.json"):
            assert cc == "no-cache", (path, h)
        else:
            # the contract: revalidated (no-cache) or a short max-age that
            # must be revalidated; never cached blindly for long
            assert cc == "no-cache" or (
                "must-revalidate" in cc and
                re.search(r"max-age=(\d+)", cc) and
                int(re.search(r"max-age=(\d+)", cc).group(1)) <= 300), \
                (path, h)
        if path == "/console/config.json":
            continue
        etag = h["ETag"]
        assert re.fullmatch(r'(W/)?"[^"]+"', etag), (path, etag)
        r2 = get(path, headers={"If-None-Match": etag})
        assert r2.status_code == 304, (path, r2.status_code)
        assert r2.content == b"", (path, r2.content[:100])
        assert r2.headers.get("ETag") == etag, (path, r2.headers)
        r3 = get(path, headers={"If-None-Match": '"not-this-one"'})
        assert r3.status_code == 200 and r3.content == r.content, path
    # index.html loads no inline script and no other origin
    html = get("/console/").text
    assert not re.search(r"<script(?![^>]*\bsrc=)[^>]*>", html), html
    assert not re.search(r"\son\w+\s*=", html), html
    assert not re.search(r"(src|href)=\"(https?:)?//", html), html
    # the API still needs credentials
    r = requests.get(srv.base + "/v1/Account/%s/Endpoint/" %
                     srv.account["auth_id"], timeout=10)
    assert r.status_code == 401, (r.status_code, r.text)
    cfg = get("/console/config.json").json()
    assert cfg["sip_ws"] == {"host": "127.0.0.1",
                             "port": srv.port_of("ws")}, cfg


# --------------------------------------------------------------------------
# 2. sign-in and sign-out

def test_signin_wrong_token_then_right_then_signout(srv, console):
    c = console
    acct = srv.account
    token = acct["auth_token"]
    c.goto(srv.base + "/console/")
    c.page("signin")
    assert c.probe("#nav")["visible"] is False
    # type=password, named as the API names them
    assert c.attr("#signin #auth_token", "type") == "password"
    assert c.attr("#signin #auth_token", "name") == "auth_token"
    assert c.attr("#signin #auth_id", "name") == "auth_id"
    wrong = "x" * len(token)
    c.type("#signin #auth_id", acct["auth_id"])
    c.type("#signin #auth_token", wrong)
    c.click(SIGNIN_SUBMIT)
    # the API's own message
    api_msg = requests.get(
        srv.base + "/v1/Account/%s/Endpoint/" % acct["auth_id"],
        headers={"X-Auth-ID": acct["auth_id"], "X-Auth-Token": wrong},
        timeout=10).json()["message"]
    c.wait("#signin [role=alert]", text=api_msg, visible=True)
    assert c.attr("body", "data-page") == "signin"
    assert c.eval("sessionStorage.length") == 0
    c.type("#signin #auth_token", token)
    c.click(SIGNIN_SUBMIT)
    c.page("endpoints")
    c.wait("#nav", visible=True)
    for page in ("endpoints", "applications", "calls", "phone"):
        c.wait('#nav a[href="#/%s"]' % page, visible=True)
    # the credentials in this tab's sessionStorage, nowhere else
    stored = c.eval("JSON.stringify(Object.keys(sessionStorage).map("
                    "(k) => sessionStorage.getItem(k)))")
    assert token in stored, stored
    assert c.eval("localStorage.length") == 0
    assert c.eval("document.cookie") == ""
    assert token not in c.eval("location.href")
    c.click("#signout")
    c.page("signin")
    assert c.eval("sessionStorage.length") == 0
    assert c.probe("#nav")["visible"] is False
    # a reload stays signed out
    c.reload()
    c.page("signin")
    check_clean(c, [token, wrong], allow=[(401, "/Endpoint/")])


# --------------------------------------------------------------------------
# 3. the scenario

def test_console_end_to_end(srv, rtp, app, console, sip_procs, tmp_path):
    from test_calls_app import dial_user
    from test_calls_clients import write_tone
    from test_sip_clients import run_sipp
    c = console
    # a fresh account (and domain) of its own: nothing of the other tests
    api = srv.new_account()
    domain = api.domain
    token = api.token
    secrets = [token]
    allow = []  # the HTTP errors this scenario provokes

    sign_in(c, srv, {"auth_id": api.auth_id, "auth_token": token})

    # -- two applications through the page, one edited
    bob_name, alice_name = uname("cb"), uname("ca")
    app.xml("/answer", dial_user(bob_name, domain))
    app.xml("/desk", "<Response><Hangup/></Response>")
    nav(c, "applications")
    made = {}
    for name, path in (("Dial bob", "/answer"), ("Front desk", "/desk")):
        n = c.count("table#applications tr[data-app-id]")
        c.click("#new-application")
        c.wait("form#application-form", visible=True)
        c.type("#application-form [name=app_name]", name)
        c.type("#application-form [name=answer_url]", app.url(path))
        c.click("#save-application")
        c.wait("table#applications tr[data-app-id]", count=n + 1,
               timeout=SLOW)
        got = [a for a in api.all_apps() if a["app_name"] == name]
        assert len(got) == 1, got
        made[name] = got[0]["app_id"]
        c.wait('table#applications tr[data-app-id="%s"] '
               '[data-field="app_name"]' % made[name], text=name)
        assert got[0]["answer_url"] == app.url(path), got
    dial_app, desk_app = made["Dial bob"], made["Front desk"]
    # edit one: only the name changes
    row = 'table#applications tr[data-app-id="%s"]' % desk_app
    c.click(row + " button.edit-app")
    c.wait("#application-form [name=app_name]", value="Front desk",
           prop="value")
    c.type("#application-form [name=app_name]", "Front desk 2")
    c.click("#save-application")
    c.wait(row + ' [data-field="app_name"]', text="Front desk 2",
           timeout=SLOW)
    body = api.app(desk_app)
    assert body["app_name"] == "Front desk 2", body
    assert body["answer_url"] == app.url("/desk"), body

    # -- bob through the page: a generated password, an application
    nav(c, "endpoints")
    c.click("#new-endpoint")
    c.wait("form#endpoint-create", visible=True)
    c.type("#endpoint-create [name=username]", bob_name)
    c.click("#endpoint-create #generate-password")
    c.wait("#endpoint-create [name=password]", nonempty=True)
    bob_pw = c.prop("#endpoint-create [name=password]", "value")
    secrets.append(bob_pw)
    assert len(bob_pw) >= 24, bob_pw
    c.select("#endpoint-create [name=application]", desk_app)
    # the API's defaults
    for name, on in (("allow_voice", True), ("allow_message", True),
                     ("allow_video", False)):
        assert c.prop("#endpoint-create [name=%s]" % name,
                      "checked") is on, name
    c.click("#endpoint-create button[type=submit]")
    c.page("endpoint", timeout=SLOW)
    bob_id = c.wait('#endpoint-view [data-field="endpoint_id"]',
                    nonempty=True)["text"]
    assert c.eval("location.hash") == "#/endpoints/" + bob_id
    c.wait('#endpoint-view [data-field="username"]', text=bob_name)
    bob = Endpoint(srv, api, bob_name, bob_pw)
    bob.id = bob_id
    body = bob.get()
    assert body["username"] == bob_name, body
    assert body["application"]["app_id"] == desk_app, body
    assert body["sip_registered"] == "false", body
    c.wait("#endpoint-view", attr="data-registered", value="false")
    for f in ENDPOINT_FIELDS:
        c.wait('#endpoint-view [data-field="%s"]' % f)
    c.wait('#endpoint-view [data-field="sip_uri"]',
           text="sip:%s@%s" % (bob_name, domain))
    # the locked fields: shown, not editable, with the reason
    for f in ("username", "endpoint_id", "domain", "allow_same_domain",
              "allow_other_domains", "allow_phones", "allow_apps"):
        seen = c.wait('#endpoint-update [name="%s"]' % f)
        assert seen.get("disabled") or "readonly" in seen["attrs"] or \
            c.eval("document.querySelector('#endpoint-update [name=\"%s\"]')"
                   ".matches(':disabled')" % f), (f, seen)
    c.wait("#endpoint-update", text="cannot be changed after creation")
    for f in ("alias", "application", "password", "allow_voice",
              "allow_message", "allow_video"):
        seen = c.wait('#endpoint-update [name="%s"]' % f)
        assert not seen.get("disabled"), (f, seen)

    # -- sipp registers bob: the list shows it without a reload
    nav(c, "endpoints")
    row = 'table#endpoints tr[data-endpoint-id="%s"]' % bob_id
    c.wait(row, attr="data-registered", value="false")
    c.wait(row + ' [data-field="sip_registered"]', text="Not registered")
    c.wait("#page-info", text="1-")
    assert re.fullmatch(r"1-\d+ of \d+", c.text("#page-info")), \
        c.text("#page-info")
    reloads = c.eval("performance.getEntriesByType('navigation').length")
    rc, out, port = run_sipp(sip_procs, tmp_path, srv, "sipp_register.xml",
                             bob, bob_pw, "udp")
    assert rc == 0, out[-3000:]
    c.wait(row, attr="data-registered", value="true", timeout=SLOW)
    c.wait(row + ' [data-field="sip_registered"]', text="Registered")
    c.wait(row + ' [data-field="transport"]', text="UDP")
    c.wait(row + ' [data-field="contact"]', text="127.0.0.1:%d" % port)
    c.wait(row + ' [data-field="user_agent"]', text="sipp-integ/UDP")
    c.wait(row + ' [data-field="expires"]', nonempty=True)
    # the API's sip_registered filter, through the filter form
    c.select("#endpoint-filters [name=sip_registered]", "true")
    c.click("#endpoint-filters button[type=submit]")
    c.wait("table#endpoints tr[data-endpoint-id]", count=1, timeout=SLOW)
    c.wait("table#endpoints tr[data-endpoint-id]", attr="data-endpoint-id",
           value=bob_id)
    c.select("#endpoint-filters [name=sip_registered]", "false")
    c.click("#endpoint-filters button[type=submit]")
    c.wait(row, gone=True, timeout=SLOW)
    c.select("#endpoint-filters [name=sip_registered]", "")
    c.click("#endpoint-filters button[type=submit]")
    c.wait(row, attr="data-registered", value="true", timeout=SLOW)
    assert c.eval("performance.getEntriesByType('navigation').length") \
        == reloads
    c.click(row + ' [data-field="username"] a')
    c.page("endpoint")
    c.wait("#endpoint-view", attr="data-registered", value="true")
    c.wait("table#registrations tbody tr", text="UDP")
    c.wait("table#registrations", text="127.0.0.1:%d" % port)

    # -- rotate: shown once, the registration ends, the old one refused
    c.click("#rotate-password")
    c.wait("output#new-password", nonempty=True, visible=True,
           timeout=SLOW)
    new_pw = c.prop("output#new-password", "value")
    secrets.append(new_pw)
    assert len(new_pw) >= 24 and new_pw != bob_pw, new_pw
    c.wait("#endpoint-view", attr="data-registered", value="false",
           timeout=SLOW)
    assert bob.get()["sip_registrations"] == []
    rc, out, _ = run_sipp(sip_procs, tmp_path, srv,
                          "sipp_register_wrong_password.xml", bob, bob_pw,
                          "udp")
    assert rc == 0, "the old password was not refused:\n" + out[-3000:]
    assert bob.get()["sip_registered"] == "false"
    # stored nowhere: gone once the page is left and shown again
    assert new_pw not in c.eval("JSON.stringify(Object.values("
                                "sessionStorage)) + JSON.stringify("
                                "Object.values(localStorage))")
    nav(c, "endpoints")
    c.click(row + ' [data-field="username"] a')
    c.page("endpoint")
    c.wait('#endpoint-view [data-field="username"]', text=bob_name)
    assert not c.prop("output#new-password", "value")

    # -- swap the application in the form (the API agrees)
    before = bob.get()
    c.select("#endpoint-update [name=application]", dial_app)
    c.click("#save-endpoint")
    wait_until(lambda: (bob.get()["application"] or {}).get("app_id") ==
               dial_app, SLOW, "bob's application swapped by the page")
    after = bob.get()
    for k in ("alias", "allow_voice", "allow_message", "allow_video"):
        assert after[k] == before[k], (k, before, after)
    c.wait('#endpoint-view [data-field="application"]', text="Dial bob",
           timeout=SLOW)
    c.wait("#toast", text="Saved: application")

    # -- a 3-character password: the API's error beside the field
    before = bob.get()
    expected = api.update_endpoint(bob_id, {"password": "abc"})
    assert expected.status_code == 400, expected.text
    msg = expected.json()["details"]["password"]
    allow.append((400, "/Endpoint/%s/" % bob_id))
    c.type("#endpoint-update [name=password]", "abc")
    c.click("#save-endpoint")
    c.wait('#endpoint-update [data-error-for="password"]', text=msg,
           visible=True)
    c.wait("#endpoint-update [name=password]", attr="aria-invalid",
           value="true")
    assert_unchanged(before, bob.get())
    c.type("#endpoint-update [name=password]", "")

    # -- alice through the page, bound to the application that dials bob
    nav(c, "endpoints")
    c.click("#new-endpoint")
    c.wait("form#endpoint-create", visible=True)
    c.type("#endpoint-create [name=username]", alice_name)
    c.click("#endpoint-create #generate-password")
    c.wait("#endpoint-create [name=password]", nonempty=True)
    alice_pw = c.prop("#endpoint-create [name=password]", "value")
    secrets.append(alice_pw)
    c.select("#endpoint-create [name=application]", dial_app)
    c.click("#endpoint-create button[type=submit]")
    c.page("endpoint", timeout=SLOW)
    alice_id = c.wait('#endpoint-view [data-field="endpoint_id"]',
                      nonempty=True)["text"]
    alice = Endpoint(srv, api, alice_name, alice_pw)
    alice.id = alice_id
    assert alice.get()["application"]["app_id"] == dial_app

    # -- bob's desk phone (baresip) with the rotated password: bob's page,
    # open, turns registered by itself
    nav(c, "endpoints")
    c.click('table#endpoints tr[data-endpoint-id="%s"] '
            '[data-field="username"] a' % bob_id)
    c.page("endpoint")
    c.wait('#endpoint-view [data-field="username"]', text=bob_name)
    c.wait("#endpoint-view", attr="data-registered", value="false")
    reloads = c.eval("performance.getEntriesByType('navigation').length")
    wav = tmp_path / "bob.wav"
    write_tone(wav, 1209, 120.0)
    bob.password = new_pw
    pb = baresip_phone(sip_procs, tmp_path, srv, bob, wav)
    c.wait("#endpoint-view", attr="data-registered", value="true",
           timeout=SLOW)
    c.wait("table#registrations tbody tr", text="UDP")
    c.wait('#endpoint-view [data-field="sip_registered"]',
           text="Registered")
    assert c.eval("performance.getEntriesByType('navigation').length") \
        == reloads
    bob.wait_registered("true", timeout=SLOW)

    def logs():
        return "---- baresip:\n%s\n---- rtpengine:\n%s" % (
            pb.output()[-3000:], rtp.log[-2000:])

    # -- the softphone registers as alice and calls bob
    nav(c, "phone")
    c.wait("#phone-status", attr="data-state", value="idle")
    c.select("#phone-register [name=endpoint]", alice_name)
    c.type("#phone-register [name=password]", alice_pw)
    c.wait("#phone-register [name=ws_url]", prop="value",
           value="ws://127.0.0.1:%d" % srv.port_of("ws"))
    c.click("#phone-connect")
    c.wait("#phone-status", attr="data-state", value="registered",
           timeout=SLOW)
    assert not c.prop("#phone-register [name=password]", "value")
    reg = alice.wait_registered("true", timeout=SLOW)
    assert [r["transport"] for r in reg["sip_registrations"]] == ["WS"], reg
    c.wait("#call-state", attr="data-state", value="idle")
    assert c.count('#phone-call button[data-dtmf]') == 12
    for b in ("#phone-dial", "#phone-hangup", "#phone-mute",
              "#phone-answer", "#phone-disconnect", "audio#remote"):
        c.wait(b)
    c.type("#phone-call [name=target]", bob_name)
    c.click("#phone-dial")
    try:
        c.wait("#call-state", attr="data-state", value="in-call",
               timeout=SLOW)
        wait_until(lambda: "Call established" in pb.output(), SLOW,
                   "bob's baresip in the call")
    except AssertionError as e:
        raise AssertionError("%s\n%s" % (e, logs())) from None
    assert app.got("/answer"), "alice's application was not asked"
    c.click("#phone-mute")
    c.wait("#phone-mute", attr="aria-pressed", value="true")
    c.click("#phone-mute")
    c.wait("#phone-mute", attr="aria-pressed", value="false")

    # -- the calls page: the live call, hung up from there
    c.click('#main a[href="#/calls"]')
    c.page("calls")
    live = "table#live-calls tr[data-call-uuid]"
    c.wait(live, timeout=SLOW)
    uuid = c.attr(live, "data-call-uuid")
    row = 'table#live-calls tr[data-call-uuid="%s"]' % uuid
    c.wait(row + ' [data-field="from"]', text=alice_name)
    c.wait(row + ' [data-field="to"]', text=bob_name)
    c.wait(row + ' [data-field="call_status"]', nonempty=True)
    c.wait(row + ' [data-field="session_start"]', nonempty=True)
    live_api = api.get("Call/", params={"status": "live"}).json()["calls"]
    assert uuid in live_api, (uuid, live_api)
    # a call that ends between the list and its item answers 404 (the
    # page takes it as gone)
    allow.append((404, "/Call/%s/" % uuid))
    try:
        c.click(row + " button.hangup")
        c.wait(row, gone=True, timeout=SLOW)
        # baresip says "session closed: Connection reset by peer" when a
        # BYE ends its call, then "... terminated" (its stdout, a file here,
        # is block-buffered: the second line may come late)
        wait_until(lambda: re.search(r"session closed|terminated",
                                     pb.output()), SLOW,
                   "bob's baresip got the BYE")
    except AssertionError as e:
        raise AssertionError("%s\n%s" % (e, logs())) from None
    wait_until(lambda: uuid not in api.get(
        "Call/", params={"status": "live"}).json()["calls"], SLOW,
        "the call gone from the API's live list")
    c.wait('table#call-history tr[data-call-uuid="%s"]' % uuid,
           timeout=SLOW)
    c.wait(live, gone=True, timeout=SLOW)
    # the softphone's side: the call ended, the phone still registered
    nav(c, "phone")
    c.wait("#call-state", attr="data-state", value="ended", timeout=SLOW)
    c.wait("#phone-status", attr="data-state", value="registered")
    assert alice.get()["sip_registered"] == "true"

    # -- delete an endpoint, with confirmation
    carol = srv.endpoint(api)
    nav(c, "endpoints")
    c.click('table#endpoints tr[data-endpoint-id="%s"] '
            '[data-field="username"] a' % carol.id, timeout=SLOW)
    c.page("endpoint")
    c.wait('#endpoint-view [data-field="username"]', text=carol.username)
    c.click("#delete-endpoint")
    c.wait("dialog#confirm", prop="open", value=True)
    c.click("#confirm-no")
    c.wait("dialog#confirm", prop="open", value=False)
    assert carol.get()["endpoint_id"] == carol.id
    c.click("#delete-endpoint")
    c.wait("dialog#confirm", prop="open", value=True)
    c.click("#confirm-yes")
    c.page("endpoints", timeout=SLOW)
    assert api.get("Endpoint/%s/" % carol.id).status_code == 404
    c.wait('table#endpoints tr[data-endpoint-id="%s"]' % carol.id,
           gone=True)

    # -- the application in use: 409 explained, its endpoints moved
    in_use = api.list_endpoints(application_id__exact=dial_app)[
        "meta"]["total_count"]
    assert in_use == 2, in_use  # bob (swapped to it) and alice
    nav(c, "applications")
    c.click('table#applications tr[data-app-id="%s"] button.delete-app'
            % dial_app)
    c.wait("dialog#confirm", prop="open", value=True)
    allow.append((409, "/Application/%s/" % dial_app))
    c.click("#confirm-yes")
    c.wait("#confirm [name=new_endpoint_application]", visible=True,
           timeout=SLOW)
    c.wait("#confirm input[name=cascade]", visible=True)
    c.wait("dialog#confirm", text="%d endpoint" % in_use)
    assert c.prop("dialog#confirm", "open") is True
    assert api.get("Application/%s/" % dial_app).status_code == 200
    c.select("#confirm [name=new_endpoint_application]", desk_app)
    c.click("#confirm-yes")
    c.wait("dialog#confirm", prop="open", value=False, timeout=SLOW)
    c.wait('table#applications tr[data-app-id="%s"]' % dial_app,
           gone=True, timeout=SLOW)
    assert api.get("Application/%s/" % dial_app).status_code == 404
    assert alice.get()["application"]["app_id"] == desk_app
    assert bob.get()["application"]["app_id"] == desk_app

    # -- sign out: the token forgotten, the softphone unregistered
    assert alice.get()["sip_registered"] == "true"
    c.click("#signout")
    c.page("signin")
    assert c.eval("sessionStorage.length") == 0
    assert c.eval("localStorage.length") == 0
    alice.wait_registered("false", timeout=SLOW)

    check_clean(c, secrets, allow=allow)


def test_signout_unregisters_the_softphone(srv, console):
    """The softphone registered; sign-out stops it (un-REGISTER)."""
    c = console
    api = srv.api()
    ep = srv.endpoint(api)
    sign_in(c, srv)
    nav(c, "phone")
    c.select("#phone-register [name=endpoint]", ep.username)
    c.type("#phone-register [name=password]", ep.password)
    c.click("#phone-connect")
    c.wait("#phone-status", attr="data-state", value="registered",
           timeout=SLOW)
    ep.wait_registered("true", timeout=SLOW)
    # across pages: the same user agent, still registered
    nav(c, "endpoints")
    c.wait('table#endpoints tr[data-endpoint-id="%s"]' % ep.id,
           attr="data-registered", value="true", timeout=SLOW)
    c.click("#signout")
    c.page("signin")
    assert c.eval("sessionStorage.length") == 0
    ep.wait_registered("false", timeout=SLOW)
    check_clean(c, [srv.account["auth_token"], ep.password])


# --------------------------------------------------------------------------
# 4. phone width, labels, keyboard

def test_phone_width_and_keyboard(srv, console):
    c = console
    c.viewport(375, 740)
    c.goto(srv.base + "/console/")
    c.page("signin")
    # the keyboard alone: focus on the first field, Tab to the next,
    # Enter submits
    assert c.eval("document.activeElement && "
                  "document.activeElement.id") == "auth_id"
    c.type("#signin #auth_id", srv.account["auth_id"])
    c.key("Tab")
    assert c.eval("document.activeElement.id") == "auth_token"
    c.type("#signin #auth_token", srv.account["auth_token"])
    c.key("Enter")
    c.page("endpoints")
    ep = srv.endpoint()
    for page, sel in (("endpoints", 'table#endpoints tr[data-endpoint-id]'),
                      ("endpoint", "#endpoint-view"),
                      ("applications", "#new-application"),
                      ("calls", "table#live-calls"),
                      ("phone", "form#phone-register")):
        path = "endpoints/" + ep.id if page == "endpoint" else page
        c.goto(srv.base + "/console/#/" + path)
        c.page(page)
        c.wait(sel, timeout=SLOW)
        width = c.eval("[document.documentElement.scrollWidth, "
                       "window.innerWidth]")
        assert width[0] <= width[1], (page, width)
        # every field has a label
        unlabelled = c.eval(
            "[...document.querySelectorAll('input, select, textarea')]"
            ".filter((i) => i.type !== 'hidden' && !(i.labels && "
            "i.labels.length) && !i.getAttribute('aria-label'))"
            ".map((i) => i.name || i.id)")
        assert unlabelled == [], (page, unlabelled)
    check_clean(c, [srv.account["auth_token"]])
