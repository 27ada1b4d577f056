"""Secrets: endpoint passwords and account tokens never appear in clear in
the database files or the log, and no response carries a password or
anything derived from it (HA1)."""

import base64
import hashlib
import json
import uuid

import requests

from conftest import expect_empty, expect_error, HTTP_TIMEOUT


def ha1_variants(user, realm, password):
    s = ("%s:%s:%s" % (user, realm, password)).encode()
    out = set()
    for h in (hashlib.md5(s), hashlib.sha256(s), hashlib.sha512(s)):
        out.add(h.hexdigest())
        out.add(h.hexdigest().upper())
    try:
        out.add(hashlib.new("sha512_256", s).hexdigest())
    except ValueError:
        pass
    # plain hashes of the password alone
    p = password.encode()
    for h in (hashlib.md5(p), hashlib.sha1(p), hashlib.sha256(p)):
        out.add(h.hexdigest())
    return out


def forms(secret):
    """The ways a secret could appear in a byte stream."""
    b = secret.encode()
    return {b, base64.b64encode(b), secret.encode("utf-16-le"),
            json.dumps(secret).encode()}


def scan(srv, secrets, where):
    """Scans the store at rest (the SQLite file and its -wal/-shm, or a
    pg_dump of the PostgreSQL database) and the logs."""
    stored = srv.at_rest()
    if not srv.on_pg:
        assert any(n == srv.db.name for n, _ in stored), stored
    assert stored and all(data for _, data in stored), "nothing at rest"
    # a control: the scan sees the real rows (auth_id is stored in clear)
    assert any(srv.account["auth_id"].encode() in data
               for _, data in stored), "the account is not in %r" % [
                   n for n, _ in stored]
    logs = [(p.name, p.read_bytes())
            for p in sorted(srv.dir.glob("stderr.*.log"))]
    for fname, data in stored + logs:
        for name, s in secrets.items():
            for f in forms(s):
                assert f not in data, "%s: %s found in %s" % (where, name,
                                                               fname)


def test_no_secrets_at_rest_or_in_log_or_responses(make_server):
    srv = make_server()
    a = srv.api()
    tag = uuid.uuid4().hex[:12]
    pw1 = "FirstSecret-%s" % tag
    pw2 = "SecondSecret-%s" % tag
    pw_bad = "RejectedSecret-%s\n" % tag  # control char: 400
    pw_long = "LongSecret-%s" % tag + "y" * 120
    user = "secret_%s" % tag
    bodies = []

    r = a.post("Endpoint/", {"username": user, "password": pw1,
                             "alias": "secret holder"})
    assert r.status_code == 201
    bodies.append(r)
    eid = r.json()["endpoint_id"]
    bodies.append(a.get("Endpoint/%s/" % eid))
    bodies.append(a.get("Endpoint/"))
    r = a.update_endpoint(eid, {"password": pw2})
    expect_empty(r, 202)
    bodies.append(r)
    for bad in (pw_bad, pw_long):
        r = a.update_endpoint(eid, {"password": bad})
        expect_error(r, 400, fields=["password"])
        bodies.append(r)
        r = a.post("Endpoint/", {"username": user + "x", "password": bad})
        expect_error(r, 400, fields=["password"])
        bodies.append(r)
    # a password sent in a locked/unknown-field error, and in a 409
    r = a.update_endpoint(eid, {"password": pw2, "username": "zz"})
    expect_error(r, 400)
    bodies.append(r)
    r = a.post("Endpoint/", {"username": user, "password": pw1})
    expect_error(r, 409)
    bodies.append(r)
    # a password-shaped value in a malformed body
    r = a.req("POST", "Endpoint/%s/" % eid,
              data=('{"password": "%s",' % pw1).encode(),
              headers={"Content-Type": "application/json"})
    expect_error(r, 400)
    bodies.append(r)
    bodies.append(a.get("Endpoint/%s/" % eid))
    bodies.append(a.get("Endpoint/", params={"username__exact": user}))
    # Basic auth requests
    r = requests.get(a.url("Endpoint/"), auth=(a.auth_id, a.token),
                     timeout=HTTP_TIMEOUT)
    assert r.status_code == 200
    bodies.append(r)

    derived = set()
    for p in (pw1, pw2):
        derived |= ha1_variants(user, srv.account["domain"], p)
    for r in bodies:
        blob = r.content + json.dumps(dict(r.headers)).encode()
        for p in (pw1, pw2, pw_bad.rstrip("\n"), pw_long, a.token):
            assert p.encode() not in blob, \
                "secret in response to %s %s" % (r.request.method,
                                                  r.request.url)
        low = blob.lower()
        for d in derived:
            assert d.lower().encode() not in low, \
                "password-derived value in response to %s %s: %s" % (
                    r.request.method, r.request.url, r.content[:300])

    secrets = {"password 1": pw1, "password 2": pw2,
               "rejected password": pw_bad.rstrip("\n"),
               "long password": pw_long, "auth token": a.token,
               "basic credentials": "%s:%s" % (a.auth_id, a.token)}
    scan(srv, secrets, "while running")
    # the log must not contain derived values either
    log = srv.log_text().lower()
    for d in derived:
        assert d.lower() not in log, "HA1-like value in the log"
    srv.stop()
    scan(srv, secrets, "after stop")


def test_second_account_token_not_stored(make_server):
    srv = make_server()
    b = srv.new_account()
    r = b.get("Endpoint/")
    assert r.status_code == 200
    bad = requests.get(b.url("Endpoint/"),
                       headers={"X-Auth-ID": b.auth_id,
                                "X-Auth-Token": b.token[:-2] + "zz"},
                       timeout=HTTP_TIMEOUT)
    assert bad.status_code == 401
    scan(srv, {"token B": b.token, "token A": srv.account["auth_token"]},
         "accounts")


def test_wrong_token_not_logged(make_server):
    srv = make_server()
    a = srv.api()
    wrong = "WrongToken%s" % uuid.uuid4().hex
    r = requests.get(a.url("Endpoint/"),
                     headers={"X-Auth-ID": a.auth_id, "X-Auth-Token": wrong},
                     timeout=HTTP_TIMEOUT)
    assert r.status_code == 401
    assert wrong.encode() not in r.content
    r = requests.get(a.url("Endpoint/"), auth=(a.auth_id, wrong),
                     timeout=HTTP_TIMEOUT)
    assert r.status_code == 401
    log = srv.log_text()
    assert wrong not in log, "a presented token was logged"
    assert a.token not in log
