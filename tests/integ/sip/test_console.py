"""The web console in a real browser (issue 14): Debian's Chromium, driven
by puppeteer-core (tests/node/console.js, tests/integ/console_browser.py),
on the console a real sipward serves, with real phones.

1. A wrong token is refused on the sign-in form; the right one signs in.
2. Through the pages: an application (its answer URL a real HTTP
   application dialling bob) and an endpoint, bob, with a generated
   password; sipp registers bob and the endpoints list (no reload) and
   bob's page show him registered, with his UDP contact.
3. "Rotate password": a new password is shown once; the registration ends
   at once on the page, and the old password is refused (sipp).
4. The application is swapped in the form (checked through the API); a
   3-character password gets the API's error beside the field and changes
   nothing.
5. The in-page softphone registers as alice (created with the
   application) over WebSocket and calls bob, a baresip phone answering
   with the new password, media through rtpengine; the calls page shows the
   live call, its "Hang up" ends it (baresip gets the BYE, the phone shows
   the call ended, the record appears in the history), and the phone stayed
   registered while the pages changed.
6. Delete with confirmation (cancel keeps it, confirm deletes), and the
   application "in use" 409: explained in the dialog, its endpoints moved
   to another application.
7. Sign out forgets the token (session storage empty) and unregisters the
   phone. During all of it: no page error, no console error (but the HTTP
   errors the steps provoke), no Content-Security-Policy violation, and no
   token or password in any URL the page requested.
8. At phone width (375 px) the pages fit the screen; the sign-in form works
   from the keyboard.

Runs in the SQLite passes only, like test_webrtc.py (it tests the console
and the browser, not the store)."""

import pytest

from console_browser import Console
from sip_conftest import ON_PG, Endpoint, pw, start_sip_server, uname, \
    wait_until

pytestmark = pytest.mark.skipif(
    ON_PG, reason="browser tests run in the SQLite passes (docstring)")

SLOW = 45.0  # a page refreshes every 2-3 s; a busy 2-core box is slower


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
    # baresip 1.0.0 answers MD5 challenges only; plain WebSocket, as the
    # console on http://127.0.0.1 uses
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


def sign_in(c, srv):
    c.goto(srv.base + "/console/")
    c.page("signin")
    c.type("#auth_id", srv.account["auth_id"])
    c.type("#auth_token", srv.account["auth_token"])
    c.click("#signin-submit")
    c.page("endpoints")


def create_endpoint(c, username, app_id=None):
    """Creates an endpoint through the form; returns (id, password)."""
    c.click('#nav a[href="#/endpoints"]')
    c.page("endpoints")
    c.click("#new-endpoint")
    c.type("#endpoint-create [name=username]", username)
    c.click("#generate-password")
    password = c.read("#endpoint-create [name=password]", prop="value")
    assert len(password) >= 24, password
    if app_id:
        c.select("#endpoint-create [name=application]", app_id)
    c.click("#create-endpoint")
    c.page("endpoint")
    c.wait('#endpoint-view [data-field="username"]', text=username)
    return c.read('#endpoint-view [data-field="endpoint_id"]'), password


def test_console_end_to_end(srv, rtp, app, console, sip_procs, tmp_path):
    from test_calls_app import dial_user
    from test_calls_clients import start_baresip, write_tone
    from test_sip_clients import run_sipp
    c = console
    api = srv.api()
    token = srv.account["auth_token"]
    secrets = [token]

    # 1. sign in: a wrong token is refused on the form
    c.goto(srv.base + "/console/")
    c.page("signin")
    c.type("#auth_id", srv.account["auth_id"])
    c.type("#auth_token", "x" * 40)
    c.click("#signin-submit")
    c.wait("#signin [role=alert]", text="credentials")
    c.type("#auth_token", token)
    c.click("#signin-submit")
    c.page("endpoints")
    assert c.eval("sessionStorage.length") == 1
    assert c.eval("localStorage.length") == 0

    # 2. an application and an endpoint through the pages
    bob_name = uname("cb")
    app.xml("/answer", dial_user(bob_name, srv.account["domain"]))
    c.click('#nav a[href="#/applications"]')
    c.page("applications")
    c.click("#new-application")
    c.type("#application-form [name=app_name]", "Dial bob")
    c.type("#application-form [name=answer_url]", app.url("/answer"))
    c.click("#save-application")
    c.wait("table#applications tr[data-app-id]", count=1)
    app_id = c.read("table#applications tr[data-app-id]", attr="data-app-id")
    assert api.app(app_id)["answer_url"] == app.url("/answer")

    bob_id, bob_pw = create_endpoint(c, bob_name)
    secrets.append(bob_pw)
    bob = Endpoint(srv, api, bob_name, bob_pw)
    bob.id = bob_id
    assert bob.get()["application"] is None

    c.click('#nav a[href="#/endpoints"]')
    c.page("endpoints")
    row = 'table#endpoints tr[data-endpoint-id="%s"]' % bob_id
    c.wait(row, attr="data-registered", value="false")
    rc, out, port = run_sipp(sip_procs, tmp_path, srv, "sipp_register.xml",
                             bob, bob_pw, "udp")
    assert rc == 0, out
    # the list refreshes by itself: no reload, no click
    c.wait(row, attr="data-registered", value="true", timeout=SLOW)
    c.wait(row + ' [data-field="transport"]', text="UDP")
    c.wait(row + ' [data-field="contact"]', text="127.0.0.1:%d" % port)
    c.wait(row + ' [data-field="sip_registered"]', text="Registered")
    c.click(row + ' [data-field="username"] a')
    c.page("endpoint")
    c.wait("#endpoint-view", attr="data-registered", value="true")
    c.wait("table#registrations tbody tr", text="UDP")

    # 3. rotate the password: shown once, the registration ends at once
    c.click("#rotate-password")
    c.wait("#new-password", nonempty=True)
    new_pw = c.read("#new-password", prop="value")
    secrets.append(new_pw)
    assert len(new_pw) >= 24 and new_pw != bob_pw
    c.wait("#endpoint-view", attr="data-registered", value="false",
           timeout=SLOW)
    assert bob.get()["sip_registered"] == "false"
    rc, out, _ = run_sipp(sip_procs, tmp_path, srv,
                          "sipp_register_wrong_password.xml", bob, bob_pw,
                          "udp")
    assert rc == 0, "the old password was not refused:\n" + out

    # 4. swap the application; a bad password shows beside its field
    before = bob.get()
    c.select("#endpoint-update [name=application]", app_id)
    c.click("#save-endpoint")
    c.wait("#toast", text="Saved")
    wait_until(lambda: (bob.get()["application"] or {}).get("app_id") ==
               app_id, 10, "the application swapped through the console")
    c.wait('#endpoint-view [data-field="application"]', text="Dial bob",
           timeout=SLOW)
    before = bob.get()
    c.type("#endpoint-update [name=password]", "abc")
    c.click("#save-endpoint")
    c.wait('#endpoint-update [data-error-for="password"]',
           text="at least 8 characters")
    assert c.read("#endpoint-update [name=password]",
                  attr="aria-invalid") == "true"
    after = bob.get()
    assert after["updated_at"] == before["updated_at"], (before, after)
    c.type("#endpoint-update [name=password]", "")

    # 5. the softphone calls bob (baresip, new password); hang up from the
    # calls page
    alice_name = uname("ca")
    alice_id, alice_pw = create_endpoint(c, alice_name, app_id)
    secrets.append(alice_pw)
    alice = Endpoint(srv, api, alice_name, alice_pw)
    alice.id = alice_id
    assert alice.get()["application"]["app_id"] == app_id
    wav = tmp_path / "bob.wav"
    write_tone(wav, 1209, 30.0)
    bob.password = new_pw
    pb = start_baresip(sip_procs, tmp_path, srv, bob, "bob", wav, "udp",
                       answer=True)
    bob.wait_registered("true", timeout=SLOW)

    c.click('#nav a[href="#/phone"]')
    c.page("phone")
    c.select("#phone-register [name=endpoint]", alice_name)
    c.type("#phone-register [name=password]", alice_pw)
    ws = c.read("#phone-register [name=ws_url]", prop="value")
    assert ws == "ws://127.0.0.1:%d" % srv.port_of("ws"), ws
    c.click("#phone-connect")
    c.wait("#phone-status", attr="data-state", value="registered",
           timeout=SLOW)
    reg = alice.wait_registered("true")
    assert reg["sip_registrations"][0]["transport"] == "WS", reg
    assert reg["sip_user_agent"].startswith("sipward console (JsSIP "), reg
    c.type("#phone-call [name=target]", bob_name)
    c.click("#phone-dial")
    try:
        c.wait("#call-state", attr="data-state", value="in-call",
               timeout=SLOW)
        wait_until(lambda: "Call established" in pb.output(), SLOW,
                   "bob's baresip in the call")
    except AssertionError as e:
        raise AssertionError("%s\n---- baresip:\n%s\n---- rtpengine:\n%s"
                             % (e, pb.output()[-3000:], rtp.log[-2000:]))
    c.click('#nav a[href="#/calls"]')
    c.page("calls")
    live = "table#live-calls tr[data-call-uuid]"
    c.wait(live, timeout=SLOW)
    uuid = c.read(live, attr="data-call-uuid")
    c.wait(live + ' [data-field="from"]', text=alice_name)
    c.wait(live + ' [data-field="call_status"]', text="in-progress")
    c.click('table#live-calls tr[data-call-uuid="%s"] button.hangup' % uuid)
    c.wait('table#live-calls tr[data-call-uuid="%s"]' % uuid, gone=True,
           timeout=SLOW)
    # baresip reports a BYE as "session closed: Connection reset by peer"
    # (libre ends the session with ECONNRESET), or "terminated"
    wait_until(lambda: "session closed" in pb.output() or
               "terminated" in pb.output(), SLOW,
               "bob's baresip got the BYE")
    c.wait('table#call-history tr[data-call-uuid="%s"]' % uuid,
           timeout=SLOW)
    c.wait('table#call-history tr[data-call-uuid="%s"] '
           '[data-field="hangup_source"]' % uuid, text="API Request")
    c.click('#nav a[href="#/phone"]')
    c.page("phone")
    c.wait("#call-state", attr="data-state", value="ended")
    # the user agent outlived the page changes
    c.wait("#phone-status", attr="data-state", value="registered")

    # 6. delete with confirmation; the application in use (409)
    carol = srv.endpoint(api)
    c.goto(srv.base + "/console/#/endpoints/" + carol.id)
    c.page("endpoint")
    c.click("#delete-endpoint")
    c.wait("#confirm", prop="open", value=True)
    c.click("#confirm-no")
    c.wait("#confirm", prop="open", value=False)
    assert carol.get()["endpoint_id"] == carol.id
    c.click("#delete-endpoint")
    c.click("#confirm-yes")
    c.page("endpoints")
    assert api.get("Endpoint/%s/" % carol.id).status_code == 404

    other = api.create_app(app_name="Other",
                           answer_url=app.url("/other"))["app_id"]
    c.click('#nav a[href="#/applications"]')
    c.page("applications")
    c.click('table#applications tr[data-app-id="%s"] button.delete-app'
            % app_id)
    c.click("#confirm-yes")
    c.wait("#confirm .warn", text="used by 2 endpoints")
    c.select("#confirm [name=new_endpoint_application]", other)
    c.click("#confirm-yes")
    c.wait("#confirm", prop="open", value=False)
    c.wait('table#applications tr[data-app-id="%s"]' % app_id, gone=True)
    assert api.get("Application/%s/" % app_id).status_code == 404
    assert alice.get()["application"]["app_id"] == other
    assert bob.get()["application"]["app_id"] == other

    # 7. sign out: the token forgotten, the phone unregistered
    c.click("#signout")
    c.page("signin")
    assert c.eval("sessionStorage.length") == 0
    alice.wait_registered("false", timeout=SLOW)

    problems = [e for e in c.problems(allow_status=(400, 401, 404, 409))]
    assert problems == [], problems
    for e in c.of("request"):
        for s in secrets:
            assert s not in e["url"], "a secret in a URL: %s" % e["url"]
    assert not c.of("csp")


def test_phone_width_and_keyboard(srv, console):
    c = console
    c.viewport(375, 740)
    c.goto(srv.base + "/console/")
    c.page("signin")
    # the keyboard alone: the field has focus, Tab moves to the next one,
    # Enter submits
    assert c.eval("document.activeElement.id") == "auth_id"
    c.type("#auth_id", srv.account["auth_id"])
    c.press("Tab")
    assert c.eval("document.activeElement.id") == "auth_token"
    c.type("#auth_token", srv.account["auth_token"])
    c.press("Enter")
    c.page("endpoints")
    srv.endpoint()
    for page in ("endpoints", "applications", "calls", "phone"):
        c.goto(srv.base + "/console/#/" + page)
        c.page(page)
        c.wait("main h1")
        width = c.eval("[document.documentElement.scrollWidth, "
                       "window.innerWidth]")
        assert width[0] <= width[1], (page, width)
    # every input has a label
    unlabelled = c.eval(
        "[...document.querySelectorAll('input, select')].filter((i) => "
        "i.type !== 'hidden' && !(i.labels && i.labels.length)).map((i) "
        "=> i.name)")
    assert unlabelled == [], unlabelled
    assert c.problems() == [], c.problems()
