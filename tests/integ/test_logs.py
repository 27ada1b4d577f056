"""log_format: logfmt (the default) or json, one JSON object a line with the
keys of the logfmt line (ts, level, event, then the fields), every request's
http_request line carrying its api_id (the X-Request-Id header), and no
secret in the log in either format."""

import json
import re
import uuid

import pytest
import requests

from conftest import (HTTP_TIMEOUT, Server, pw, run_cli, uname, udomain,
                      wait_until)

LOGFMT_PAIR = re.compile(r'([A-Za-z0-9_]+)=("(?:[^"\\]|\\.)*"|[^ ]*)')


class _Started:
    """What Server._wait_ready reads of the started line's regex match."""

    def __init__(self, o):
        self.o = o

    def group(self, i):
        if i == 0:
            return "event=started http_port=%s admin_port=%s sip_port=%s" % (
                self.o["http_port"], self.o["admin_port"], self.o["sip_port"])
        return self.o["http_port" if i == 1 else "sip_port"]


class JsonServer(Server):
    """A server whose log is JSON: its started line is an object."""

    def _started(self):
        m = super()._started()  # fails when the process exited
        if m:
            return m
        for line in self._tail_all().splitlines():
            try:
                o = json.loads(line)
            except ValueError:
                continue
            if isinstance(o, dict) and o.get("event") == "started":
                return _Started(o)
        return None


def start(tmp_path, fmt, env=None):
    e = dict(env or {})
    e["SIPWARD_LOG_FORMAT"] = fmt
    cls = JsonServer if fmt == "json" else Server
    srv = cls(tmp_path / fmt, domain=udomain("log"), env=e)
    return srv.start(expect_account=True)


def json_lines(text):
    """Every line of a JSON log, parsed; fails on one that is not an object
    with ts, level and event first and strings only."""
    out = []
    for n, line in enumerate(text.split("\n")[:-1], 1):
        try:
            o = json.loads(line)
        except ValueError as e:
            raise AssertionError("line %d is not JSON (%s): %r" % (n, e, line))
        assert isinstance(o, dict), line
        assert list(o)[:3] == ["ts", "level", "event"], line
        assert re.match(r"^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z$",
                        o["ts"]), line
        assert o["level"] in ("debug", "info", "warn", "error"), line
        assert all(isinstance(v, str) for v in o.values()), line
        out.append(o)
    assert text.endswith("\n") or not text, "a cut last line: %r" % text[-200:]
    return out


def logfmt_lines(text):
    out = []
    for line in text.splitlines():
        o = {}
        for k, v in LOGFMT_PAIR.findall(line):
            if v.startswith('"'):
                v = re.sub(r'\\(["\\])|\\x([0-9a-f]{2})',
                           lambda m: m.group(1) or chr(int(m.group(2), 16)),
                           v[1:-1])
            o.setdefault(k, v)
        assert list(o)[:3] == ["ts", "level", "event"], line
        out.append(o)
    return out


def requests_made(srv, secrets):
    """API requests of every kind (a create, reads, an update with the
    password, errors, a refused token); returns the responses."""
    a = srv.api()
    out = []
    pw1, pw2 = secrets["password"], secrets["new password"]
    r = a.create_endpoint_raw(uname("log"), pw1,
                              alias='Quote " back\\slash caf\u00e9 \u2028')
    assert r.status_code == 201, r.text
    out.append(r)
    eid = r.json()["endpoint_id"]
    out.append(a.get("Endpoint/%s/" % eid))
    out.append(a.update_endpoint(eid, {"password": pw2}))
    assert out[-1].status_code == 202
    out.append(a.get("Endpoint/", params={"username__contains": "log"}))
    out.append(a.get("Endpoint/999999999999999/"))
    assert out[-1].status_code == 404
    out.append(a.create_endpoint_raw(uname(), "short"))
    assert out[-1].status_code == 400
    out.append(requests.get(a.url("Endpoint/"), auth=(a.auth_id, a.token),
                            timeout=HTTP_TIMEOUT))
    out.append(requests.get(
        a.url("Endpoint/"),
        headers={"X-Auth-ID": a.auth_id,
                 "X-Auth-Token": secrets["wrong token"]},
        timeout=HTTP_TIMEOUT))
    assert out[-1].status_code == 401
    # a path with quotes, spaces (encoded), a newline (encoded) and UTF-8
    out.append(requests.get(a.base + '/api/v1/x"y%20z%0Aw/\u00e9',
                            timeout=HTTP_TIMEOUT))
    return out


def secrets_of(srv):
    out = {"password": pw() + '"\\\u00e9',
           "new password": pw() + "!'",
           "account token": srv.account["auth_token"],
           "wrong token": "WrongToken%s" % uuid.uuid4().hex}
    if not srv.on_pg:  # PostgreSQL: no key file unless configured
        out["server key"] = (srv.db.parent / (srv.db.name + ".key")) \
            .read_text().strip()
    return out


def check_no_secret(text, parsed, secrets):
    decoded = "\n".join(json.dumps(o, ensure_ascii=False) for o in parsed)
    values = "\n".join(v for o in parsed for v in o.values())
    for what, s in secrets.items():
        for blob in (text, decoded, values):
            assert s not in blob, "the %s is in the log" % what
        # escaped as JSON or logfmt would escape it
        assert json.dumps(s)[1:-1] not in text, "the %s is in the log" % what


@pytest.mark.parametrize("fmt", ["logfmt", "json"])
def test_request_lines_and_no_secrets(tmp_path, fmt):
    srv = start(tmp_path, fmt)
    try:
        secrets = secrets_of(srv)
        resps = requests_made(srv, secrets)
        parse = json_lines if fmt == "json" else logfmt_lines

        def request_lines():
            lines = [o for o in parse(srv.log_text())
                     if o["event"] == "http_request"]
            ids = {o["api_id"] for o in lines}
            return lines if all(r.headers["X-Request-Id"] in ids
                                for r in resps) else None

        lines = wait_until(request_lines, 10, "an http_request line for "
                           "every request")
        by_id = {o["api_id"]: o for o in lines}
        for r in resps:
            o = by_id[r.headers["X-Request-Id"]]
            assert o["status"] == str(r.status_code), (o, r.status_code)
            assert o["method"] == r.request.method, o
            for k in ("path", "ms"):
                assert k in o, o
        odd = by_id[resps[-1].headers["X-Request-Id"]]
        assert odd["path"].startswith('/api/v1/x"y'), odd
    finally:
        srv.stop()
    text = srv.log_text()
    parsed = parse(text)
    assert parsed[-1]["event"] == "stopping"
    check_no_secret(text, parsed, secrets)
    # the lines a request causes name it: the create's endpoint_created
    # line carries the api_id of its answer (X-Request-Id)
    created = [o for o in parsed if o["event"] == "endpoint_created"]
    assert [o.get("api_id") for o in created] == \
        [resps[0].headers["X-Request-Id"]], created
    refused = [o for o in parsed if o["event"] == "api_auth_failed"]
    assert refused and all("api_id" in o for o in refused), refused
    if fmt == "json":
        # the same events as in logfmt: the endpoint's, the failed login
        events = [o["event"] for o in parsed]
        for ev in ("started", "endpoint_created",
                   "endpoint_password_changed", "api_auth_failed"):
            assert ev in events, (ev, events)


def test_json_forged_line_stays_one(tmp_path):
    """A client's text cannot make a second line or a key of its own."""
    srv = start(tmp_path, "json")
    try:
        a = srv.api()
        r = requests.get(a.base + "/api/v1/a%0Ats=1%20level=error%22%7D"
                         "%0A%7B%22event%22:%22forged%22",
                         timeout=HTTP_TIMEOUT)
        rid = r.headers["X-Request-Id"]
        o = wait_until(lambda: next(
            (o for o in json_lines(srv.log_text())
             if o.get("api_id") == rid), None), 10, "the request's line")
        assert o["level"] == "info" and o["event"] == "http_request", o
        assert "\n" in o["path"] and '"}' in o["path"], o
    finally:
        srv.stop()
    assert not [o for o in json_lines(srv.log_text())
                if o["event"] == "forged"]


def test_log_format_cli_and_bad_value(tmp_path):
    """The CLI commands log in the format too; a bad value exits 2."""
    db = "sqlite:%s" % (tmp_path / "c.db")
    r = run_cli(["account", "create", "--db", db],
                env={"SIPWARD_LOG_FORMAT": "json"})
    assert r.returncode == 0, r.stderr
    events = [o["event"] for o in json_lines(r.stderr.decode())]
    assert "account_created" in events, events
    r = run_cli(["account", "create", "--db", db],
                env={"SIPWARD_LOG_FORMAT": "yaml"})
    assert r.returncode == 2
    assert b"log_format: must be logfmt or json" in r.stderr, r.stderr
