"""Calls run by applications (calls contract: "Where the call goes",
"Fetching XML", "The XML that runs", "hangup_url"): a real HTTP application
on 127.0.0.1 returns XML documents and records every request; phones
register and call through sipward. Signatures are checked by the Plivo
SDK's own validateV3Signature (tests/node/validate.js)."""

import json
import os
import re
import shutil
import subprocess
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from urllib.parse import parse_qsl, urlsplit

import pytest

from conftest import pw, uname, wait_until
from sipphone import SDP_AUDIO, Phone
from sipphone import Dialog  # noqa: F401  (used by helpers below)

HERE = os.path.dirname(os.path.abspath(__file__))


class App:
    """An HTTP application: documents by path, every request recorded."""

    def __init__(self):
        self.docs = {}  # path -> (status, content type, body)
        self.requests = []
        self.lock = threading.Lock()
        app = self

        class H(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def log_message(self, *a):
                pass

            def _handle(self):
                n = int(self.headers.get("Content-Length") or 0)
                body = self.rfile.read(n).decode() if n else ""
                u = urlsplit(self.path)
                params = dict(parse_qsl(body if self.command == "POST"
                                        else u.query,
                                        keep_blank_values=True))
                with app.lock:
                    app.requests.append({
                        "method": self.command, "path": u.path,
                        "url": "http://%s%s" % (self.headers["Host"],
                                                self.path),
                        "params": params,
                        "headers": {k.lower(): v for k, v in
                                    self.headers.items()}})
                    status, ctype, doc = app.docs.get(
                        u.path, (404, "text/plain", "no such path"))
                data = doc.encode()
                self.send_response(status)
                self.send_header("Content-Type", ctype)
                self.send_header("Content-Length", str(len(data)))
                self.end_headers()
                self.wfile.write(data)

            do_GET = do_POST = _handle

        self.srv = ThreadingHTTPServer(("127.0.0.1", 0), H)
        self.port = self.srv.server_address[1]
        self.t = threading.Thread(target=self.srv.serve_forever,
                                  daemon=True)
        self.t.start()

    def url(self, path):
        return "http://127.0.0.1:%d%s" % (self.port, path)

    def xml(self, path, body, status=200, ctype="application/xml"):
        self.docs[path] = (status, ctype, body)

    def got(self, path, event=None):
        with self.lock:
            return [r for r in self.requests if r["path"] == path and
                    (event is None or r["params"].get("Event") == event)]

    def wait(self, path, event=None, timeout=15):
        wait_until(lambda: self.got(path, event), timeout,
                   "a request to %s (Event=%s); got %r" % (
                       path, event, [(r["path"], r["params"].get("Event"))
                                     for r in self.requests]))
        return self.got(path, event)[-1]

    def close(self):
        self.srv.shutdown()
        self.srv.server_close()


@pytest.fixture(scope="module")
def app_server(tmp_path_factory):
    from conftest import start_sip_server, require_binary
    require_binary()
    # A server key given outright: on PostgreSQL there is no key file by
    # default, and without a key webhooks go unsigned.
    srv = start_sip_server(tmp_path_factory.mktemp("sip_app"),
                           env={"SIPWARD_WEBHOOK_ALLOW_PRIVATE": "true",
                                "SIPWARD_SECRET_KEY": "5e" * 32})
    yield srv
    srv.stop()


@pytest.fixture
def app():
    a = App()
    yield a
    a.close()


@pytest.fixture
def party(app_server):
    api = app_server.api()
    made = []

    def make(application=None, register=True):
        user, password = uname("p"), pw()
        fields = {"application": application} if application else {}
        ep = api.create_endpoint(user, password, **fields)
        p = Phone(app_server, user, password, api.domain or "localhost")
        p.ep_id = ep["endpoint_id"]
        if register:
            p.register()
        made.append(p)
        return p

    make.api = api
    yield make
    for p in made:
        p.close()


def new_app(api, app, path="/answer", **fields):
    return api.create_app(answer_url=app.url(path), **fields)["app_id"]


def dial_user(user, domain, attrs=""):
    return ('<?xml version="1.0" encoding="UTF-8"?><Response>'
            '<Dial%s><User>sip:%s@%s</User></Dial></Response>' % (
                attrs, user, domain))


def answer(callee, sdp_port=50000):
    db = callee.incoming()
    callee.respond(db.invite, 180, "Ringing", tag=db.local_tag)
    callee.respond(db.invite, 200, "OK", tag=db.local_tag,
                   sdp=SDP_AUDIO % sdp_port)
    callee.wait_request("ACK")
    return db


def caller_dialog(phone, ok):
    d = Dialog(ok.call_id, ok.tag("From"),
               "sip:%s@%s" % (phone.user, phone.domain),
               re.search(r"<([^>]*)>", ok.get("To")).group(1))
    d.cseq = ok.cseq[0]
    phone.answered(d, ok)
    return d


def test_answer_url_dial_user_then_action_and_hangup_url(party, app):
    bob = party()
    app.xml("/answer", dial_user(bob.user, bob.domain,
                                 ' action="%s" callerName="Front Desk"'
                                 ' sipHeaders="Tenant=t1"'
                                 % app.url("/action")))
    app.xml("/action", "<Response/>")
    aid = new_app(party.api, app, hangup_url=app.url("/hangup"))
    alice = party(application=aid)
    alice.call(bob.user, extra=[("X-PH-Order", "42"),
                                ("X-Other", "dropped")])
    start = app.wait("/answer", "StartApp")
    p = start["params"]
    assert p["From"] == "sip:%s@%s" % (alice.user, alice.domain)
    assert p["To"] == "sip:%s@%s" % (bob.user, bob.domain)
    assert p["Direction"] == "inbound" and p["CallStatus"] == "ringing"
    assert p["X-PH-Order"] == "42" and "X-Other" not in p
    assert re.fullmatch(r"[0-9a-f-]{36}", p["CallUUID"])
    for h in ("x-plivo-signature-v3", "x-plivo-signature-v3-nonce",
              "x-vobiz-signature-v3", "x-vobiz-signature-v3-nonce"):
        assert start["headers"].get(h), h
    db = answer(bob)
    inv = db.invite
    assert '"Front Desk"' in inv.get("From")
    assert inv.get("X-PH-Tenant") == "t1"
    ok = alice.wait_response("INVITE", 200)
    d = caller_dialog(alice, ok)
    assert alice.bye(d).status == 200
    bob.respond(bob.wait_request("BYE"), 200, "OK")
    act = app.wait("/action")["params"]
    assert act["DialStatus"] == "completed"
    assert act["DialALegUUID"] == p["CallUUID"]
    assert act["DialBLegUUID"] and act["Event"] == "Redirect"
    hup = app.wait("/hangup", "Hangup")["params"]
    assert hup["CallStatus"] == "completed"
    assert hup["HangupCause"] == "NORMAL_CLEARING"
    assert hup["HangupCauseCode"] == "4000"
    assert hup["HangupSource"] == "Caller"
    assert re.fullmatch(r"\d{4}-\d\d-\d\d \d\d:\d\d:\d\d", hup["AnswerTime"])
    assert hup["Duration"].isdigit()


def test_dialling_an_application(party, app):
    bob = party()
    app.xml("/answer", dial_user(bob.user, bob.domain))
    aid = new_app(party.api, app)
    alice = party()
    alice.call(aid)
    app.wait("/answer", "StartApp")
    answer(bob)
    ok = alice.wait_response("INVITE", 200)
    assert alice.bye(caller_dialog(alice, ok)).status == 200
    bob.respond(bob.wait_request("BYE"), 200, "OK")
    # No hangup_url: the answer_url gets the Hangup event.
    app.wait("/answer", "Hangup")


def test_hangup_busy(party, app):
    app.xml("/answer", '<Response><Hangup reason="busy"/></Response>')
    alice = party(application=new_app(party.api, app))
    alice.call("someone-" + alice.user)
    r = alice.wait_response("INVITE", final=True)
    # An unknown target is refused before the application runs.
    assert r.status == 404
    bob = party()
    alice.call(bob.user)
    assert alice.wait_response("INVITE", final=True).status == 486
    hup = app.wait("/answer", "Hangup")["params"]
    assert hup["HangupCause"] == "USER_BUSY"
    assert hup["HangupSource"] == "Answer XML"


def test_fallback_then_failure(party, app):
    bob = party()
    app.xml("/answer", "oops", status=500, ctype="text/plain")
    app.xml("/fallback", dial_user(bob.user, bob.domain))
    aid = new_app(party.api, app, fallback_answer_url=app.url("/fallback"))
    alice = party(application=aid)
    alice.call(bob.user)
    app.wait("/fallback", "StartApp")
    answer(bob)
    ok = alice.wait_response("INVITE", 200)
    assert alice.bye(caller_dialog(alice, ok)).status == 200
    bob.respond(bob.wait_request("BYE"), 200, "OK")
    # Both failing: 500 and ANSWER_URL_FAILURE.
    app.xml("/fallback", "<Response><Speak>hello</Speak></Response>")
    alice.call(bob.user)
    assert alice.wait_response("INVITE", final=True).status == 500
    bob.expect_no(lambda m: m.is_request and m.method == "INVITE")


def test_dial_no_answer_runs_action_document(party, app):
    bob = party()
    app.xml("/answer", dial_user(bob.user, bob.domain,
                                 ' timeout="1" action="%s"'
                                 % app.url("/action")))
    app.xml("/action", '<Response><Hangup reason="rejected"/></Response>')
    alice = party(application=new_app(party.api, app))
    alice.call(bob.user)
    db = bob.incoming()
    bob.respond(db.invite, 180, "Ringing", tag=db.local_tag)
    cancel = bob.wait_request("CANCEL", timeout=15)
    bob.respond(cancel, 200, "OK")
    bob.respond(db.invite, 487, "Request Terminated", tag=db.local_tag)
    act = app.wait("/action")["params"]
    assert act["DialStatus"] == "no-answer"
    assert act["DialRingStatus"] == "true"
    assert act["DialBLegUUID"] == ""
    assert alice.wait_response("INVITE", final=True).status == 603


def test_wait_then_redirect_then_end_of_xml(party, app):
    app.xml("/answer", '<Response><Wait length="1"/><Redirect method="GET">'
            '%s</Redirect></Response>' % app.url("/next"))
    app.xml("/next", "<Response/>")
    alice = party(application=new_app(party.api, app))
    bob = party()
    alice.call(bob.user)
    nxt = app.wait("/next")
    assert nxt["method"] == "GET" and nxt["params"]["Event"] == "Redirect"
    assert alice.wait_response("INVITE", final=True).status == 480
    hup = app.wait("/answer", "Hangup")["params"]
    assert hup["HangupCause"] == "END_OF_XML"
    assert hup["HangupCauseCode"] == "4010"


def test_user_not_registered(party, app):
    bob = party(register=False)
    app.xml("/answer", dial_user(bob.user, bob.domain))
    alice = party(application=new_app(party.api, app))
    alice.call(bob.user)
    assert alice.wait_response("INVITE", final=True).status == 480


def test_private_address_refused_by_default(sip_make_server, app):
    srv = sip_make_server()
    api = srv.api()
    app.xml("/answer", "<Response/>")
    aid = api.create_app(answer_url=app.url("/answer"))["app_id"]
    u, p = uname("p"), pw()
    api.create_endpoint(u, p, application=aid)
    b = uname("p")
    api.create_endpoint(b, pw())
    alice = Phone(srv, u, p, api.domain or "localhost")
    try:
        alice.register()
        alice.call(b)
        assert alice.wait_response("INVITE", final=True).status == 500
        assert not app.requests
        srv.wait_log(r"app_failed .*reason=")
    finally:
        alice.close()


def test_signatures_accepted_by_plivo_sdk(party, app):
    node_modules = os.environ.get("SIPWARD_NODE_MODULES")
    node = shutil.which("node")
    if not node_modules:
        pytest.skip("the Plivo SDK is installed by ctest (npm_deps), which "
                    "sets SIPWARD_NODE_MODULES")
    assert node and os.path.isdir(node_modules), \
        "SIPWARD_NODE_MODULES=%s but no node or no such directory" % (
            node_modules)
    app.xml("/answer", '<Response><Hangup/></Response>')
    alice = party(application=new_app(party.api, app))
    bob = party()
    alice.call(bob.user)
    alice.wait_response("INVITE", final=True)
    app.wait("/answer", "Hangup")
    reqs = [{"method": r["method"], "url": r["url"],
             "params": r["params"] if r["method"] == "POST" else {},
             "headers": r["headers"]} for r in app.got("/answer")]
    out = subprocess.run(
        [node, os.path.join(HERE, "..", "..", "node", "validate.js"),
         node_modules, party.api.token], input=json.dumps(reqs),
        capture_output=True, text=True, timeout=60)
    assert out.returncode == 0, out.stdout + out.stderr
    assert out.stdout.split() == ["valid"] * len(reqs), out.stdout


def test_message_to_message_url(party, app):
    app.xml("/msg", "ok", ctype="text/plain")
    aid = new_app(party.api, app, message_url=app.url("/msg"))
    alice = party(application=aid)
    r = alice.message("14155550100", "hello app")
    assert r.status == 202, r
    p = app.wait("/msg")["params"]
    assert p["Text"] == "hello app" and p["Type"] == "sip"
    assert p["From"] == "sip:%s@%s" % (alice.user, alice.domain)
    assert p["To"] == "sip:14155550100@%s" % alice.domain
    assert re.fullmatch(r"[0-9a-f-]{36}", p["MessageUUID"])
    # The application failing: 500; another content type: 415.
    app.xml("/msg", "no", status=500, ctype="text/plain")
    assert alice.message("14155550100", "again").status == 500
    assert alice.message("14155550100", "<b/>",
                         ctype="text/html").status == 415


def test_document_built_by_plivo_sdk_runs(party, app):
    """A document from the Plivo Node SDK's own XML builder (the shape real
    applications send) runs: its Dial rings bob with its attributes."""
    node_modules = os.environ.get("SIPWARD_NODE_MODULES")
    node = shutil.which("node")
    if not node_modules:
        pytest.skip("the Plivo SDK is installed by ctest (npm_deps), which "
                    "sets SIPWARD_NODE_MODULES")
    assert node and os.path.isdir(node_modules), node_modules
    bob = party()
    spec = {"users": ["sip:%s@%s" % (bob.user, bob.domain)],
            "callerName": "SDK Desk", "sipHeaders": "Ticket=77",
            "action": app.url("/action"), "timeout": 20}
    out = subprocess.run(
        [node, os.path.join(HERE, "..", "..", "node", "build_doc.js"),
         node_modules, json.dumps(spec)], capture_output=True, text=True,
        timeout=60)
    assert out.returncode == 0, out.stderr
    assert "<Dial" in out.stdout and "<User>" in out.stdout, out.stdout
    app.xml("/answer", out.stdout)
    app.xml("/action", "<Response/>")
    alice = party(application=new_app(party.api, app))
    alice.call(bob.user)
    db = answer(bob)
    assert '"SDK Desk"' in db.invite.get("From")
    assert db.invite.get("X-PH-Ticket") == "77"
    ok = alice.wait_response("INVITE", 200)
    assert alice.bye(caller_dialog(alice, ok)).status == 200
    bob.respond(bob.wait_request("BYE"), 200, "OK")
    assert app.wait("/action")["params"]["DialStatus"] == "completed"
