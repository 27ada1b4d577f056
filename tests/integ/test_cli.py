"""Command line: --help, --version, bad flags (one line, exit 2), account
create, serve's first-start line, --domain, --config, default --db.
account rotate-token and the server key: test_token_key.py."""

import json
import re

import pytest

from conftest import (AUTH_ID_RE, BIN, ON_PG, Server, cli_account_create,
                      expect_error, expect_ok_json, parse_account_line,
                      run_cli, udomain, uname, pw)


def test_help_exit_0():
    r = run_cli(["--help"])
    assert r.returncode == 0, r.stderr
    out = r.stdout.decode()
    assert "serve" in out and "account" in out, out
    assert "rotate-token AUTH_ID" in out, out
    assert "secret_key" in out and "key_file" in out, out


def test_version_exit_0():
    r = run_cli(["--version"])
    assert r.returncode == 0, r.stderr
    out = (r.stdout or r.stderr).decode().strip()
    assert re.search(r"\d+\.\d+", out), out


@pytest.mark.parametrize("args", [
    ["--bogus"], ["-Z"], ["serve", "--bogus"], ["serve", "--db"],
    ["serve", "--http"], ["account", "create", "--bogus"],
    ["account", "create", "--db"], ["account", "rotate-token"],
    ["account", "rotate-token", "--bogus"],
    ["account", "rotate-token", "MA_AAAAAAAA", "--db"],
], ids=" ".join)
def test_bad_flag_one_line_exit_2(args, tmp_path):
    r = run_cli(args, cwd=str(tmp_path), timeout=10)
    assert r.returncode == 2, (r.returncode, r.stderr)
    err = r.stderr.decode()
    lines = [l for l in err.splitlines() if l.strip()]
    assert len(lines) == 1, "expected one error line, got %r" % err
    assert r.stdout.strip() == b"", r.stdout
    assert not list(tmp_path.glob("*.db")), "a bad flag created a database"


def test_unknown_command_fails(tmp_path):
    r = run_cli(["frobnicate"], cwd=str(tmp_path), timeout=10)
    assert r.returncode != 0
    assert r.stderr.strip()


def test_account_create_output(db_url):
    db = db_url("acct.db")  # sqlite:PATH or a fresh PostgreSQL database
    dom = udomain("cli")
    r = run_cli(["account", "create", "--db", db, "--name",
                 "Acme Ltd", "--domain", dom])
    assert r.returncode == 0, r.stderr
    out = r.stdout.decode()
    assert out.endswith("\n") and out.count("\n") == 1, repr(out)
    obj = parse_account_line(out, "account create")
    assert set(obj) == {"auth_id", "auth_token", "domain"}, obj
    assert obj["domain"] == dom
    assert AUTH_ID_RE.match(obj["auth_id"])
    assert len(obj["auth_token"]) >= 32
    other = cli_account_create(db, domain=udomain())
    assert other["auth_id"] != obj["auth_id"]
    assert other["auth_token"] != obj["auth_token"]
    # token is not derivable from the id
    assert obj["auth_id"] not in obj["auth_token"]


def test_account_create_default_domain(db_url):
    obj = cli_account_create(db_url("d.db"))
    assert obj["domain"]


def test_tokens_look_random(db_url):
    db = db_url("r.db")
    toks = [cli_account_create(db, domain=udomain())["auth_token"]
            for _ in range(4)]
    assert len(set(toks)) == 4
    for t in toks:
        assert len(set(t)) >= 10, t


def test_serve_first_start_prints_account(make_server):
    dom = udomain("first")
    srv = make_server(domain=dom)
    obj = json.loads(srv.last_stdout)
    assert set(obj) == {"auth_id", "auth_token", "domain"}
    assert obj["domain"] == dom
    assert srv.last_stdout.count("\n") == 1
    a = srv.api()
    expect_ok_json(a.get("Endpoint/"), 200)
    c = a.create_endpoint(uname())
    assert c["sip_uri"].endswith("@" + dom)


def test_serve_default_domain(tmp_path):
    srv = Server(tmp_path / "nodomain")
    try:
        srv.start(expect_account=True)
        assert srv.account["domain"]
        a = srv.api()
        u = uname()
        c = a.create_endpoint(u)
        assert c["sip_uri"] == "sip:%s@%s" % (u, srv.account["domain"])
    finally:
        srv.stop()


def test_serve_second_start_prints_nothing(make_server):
    srv = make_server()
    srv.stop()
    srv.start(expect_account=False)
    expect_ok_json(srv.api().get("Endpoint/"), 200)


def test_account_create_while_serving_works_at_once(make_server):
    srv = make_server()
    b = srv.new_account(domain=udomain("live"))
    expect_ok_json(b.get("Endpoint/"), 200)
    b.create_endpoint()
    # and is isolated from A
    expect_error(b.clone(path_id=srv.account["auth_id"]).get("Endpoint/"),
                 403)


def test_account_create_name_flag_optional(make_server):
    srv = make_server()
    named = cli_account_create(srv.db, name="Named Co", domain=udomain())
    unnamed = cli_account_create(srv.db, domain=udomain())
    for acct in (named, unnamed):
        expect_ok_json(srv.api(acct).get("Endpoint/"), 200)


def test_config_file_body_max(tmp_path):
    cfg = tmp_path / "sipward.conf"
    cfg.write_text("body_max = 512\n")
    srv = Server(tmp_path / "cfg", domain=udomain(), config=cfg)
    try:
        srv.start(expect_account=True)
        a = srv.api()
        user = uname()
        big = json.dumps({"username": user, "password": pw(),
                          "alias": "x" * 600}).encode()
        r = a.req("POST", "Endpoint/", data=big,
                  headers={"Content-Type": "application/json"})
        expect_error(r, (400, 413))
        assert r.status_code != 400 or "alias" not in (
            r.json().get("details") or {}), \
            "rejected for alias length, not body size: config not applied"
        a.create_endpoint()
        assert a.list_endpoints(username__exact=user)["objects"] == []
    finally:
        srv.stop()


def test_config_file_auth_fail_max(tmp_path):
    import requests
    cfg = tmp_path / "sipward.conf"
    cfg.write_text("auth_fail_max = 2\nauth_fail_penalty = 30\n")
    srv = Server(tmp_path / "cfg2", domain=udomain(), config=cfg)
    try:
        srv.start(expect_account=True)
        url = srv.api().url("Endpoint/")
        for _ in range(2):
            r = requests.get(url, headers={"X-Auth-ID": srv.account[
                "auth_id"], "X-Auth-Token": "nope" * 10}, timeout=10)
            assert r.status_code == 401
        r = requests.get(url, headers={"X-Auth-ID": srv.account["auth_id"],
                                       "X-Auth-Token": "nope" * 10},
                         timeout=10)
        assert r.status_code == 429
    finally:
        srv.stop()


@pytest.mark.skipif(ON_PG, reason="SQLite-specific: the default --db is "
                    "sqlite:sipward.db whatever the suite's backend")
def test_default_db_path(tmp_path):
    """Without --db, serve uses sqlite:sipward.db in the working dir."""
    import subprocess
    import requests
    from conftest import STARTED_RE, clean_env, wait_until
    err_log = tmp_path / "err.log"
    out = open(tmp_path / "out.log", "wb")
    err = open(err_log, "wb")
    args = [BIN, "serve", "--http", "127.0.0.1:0", "--sip", "127.0.0.1:0",
            "--domain", udomain()]
    p = subprocess.Popen(args, stdout=out, stderr=err, cwd=str(tmp_path),
                         env=clean_env())
    out.close()
    err.close()
    try:
        m = wait_until(lambda: p.poll() is None and
                       STARTED_RE.search(err_log.read_text()), 10,
                       what="the started line (or an exit)")
        r = requests.get("http://127.0.0.1:%s/health" % m.group(1),
                         timeout=10)
        assert r.status_code == 200, err_log.read_text()
        assert (tmp_path / "sipward.db").exists()
    finally:
        if p.poll() is None:
            p.terminate()
            try:
                p.wait(timeout=10)
            except subprocess.TimeoutExpired:
                p.kill()
                p.wait()
    assert p.returncode == 0


def test_serve_logs_to_stderr_in_logfmt(make_server):
    srv = make_server()
    srv.api().get("Endpoint/")
    srv.stop()
    log = srv.log_text()
    lines = [l for l in log.splitlines() if l.strip()]
    assert lines, "serve wrote no log lines"
    for l in lines:
        assert re.match(r'^\s*[A-Za-z_][\w.-]*=', l), \
            "not a logfmt line: %r" % l
    out = srv.stdout_path.read_text()
    assert out.count("\n") <= 1, "logs on stdout: %r" % out


def test_http_port_in_use_fails_fast(make_server, tmp_path):
    import subprocess
    srv = make_server()
    other = tmp_path / "other"
    other.mkdir()
    args = [BIN, "serve", "--db", "sqlite:%s" % (other / "o.db"),
            "--http", "127.0.0.1:%d" % srv.port]
    from conftest import clean_env
    args += ["--sip", "127.0.0.1:0"]
    p = subprocess.Popen(args, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                         env=clean_env())
    try:
        out, err = p.communicate(timeout=10)
    except subprocess.TimeoutExpired:
        p.kill()
        p.communicate()
        raise AssertionError("serve kept running on a port already in use")
    assert p.returncode != 0
    assert err.strip(), "no error message"
    expect_ok_json(srv.api().get("Endpoint/"), 200)


@pytest.mark.parametrize("env", [{"SIPWARD_BODY_MAX": "abc"},
                                 {"SIPWARD_AUTH_FAIL_MAX": "0"},
                                 {"SIPWARD_BODY_MAX": "-5"},
                                 {"SIPWARD_SIP_DEFAULT_EXPIRES": "30"},
                                 {"SIPWARD_SIP_MIN_EXPIRES": "4000"},
                                 {"SIPWARD_SIP_DIGEST_ALGORITHMS": "MD5,MD5"},
                                 {"SIPWARD_SIP_NONCE_SECRET": "sh0rt-s3cret"},
                                 {"SIPWARD_SECRET_KEY": "sh0rt-s3cret"},
                                 {"SIPWARD_LOG_LEVEL": "loud"}], ids=repr)
def test_invalid_config_value_refused(tmp_path, env):
    r = run_cli(["serve", "--db", "sqlite:%s" % (tmp_path / "x.db"),
                 "--http", "127.0.0.1:0",
                 "--sip", "127.0.0.1:0"], env=env, timeout=10)
    assert r.returncode == 2, (r.returncode, r.stderr)
    err = r.stderr.decode(errors="replace").strip()
    assert len(err.splitlines()) == 1, err
    # the message names the option, and never a secret's value
    name = list(env)[0][len("SIPWARD_"):].lower()
    assert name in err, err
    assert "sh0rt-s3cret" not in err, err


def test_missing_config_file_refused(tmp_path):
    r = run_cli(["serve", "--config", str(tmp_path / "nope.conf"),
                 "--db", "sqlite:%s" % (tmp_path / "x.db"),
                 "--http", "127.0.0.1:0",
                 "--sip", "127.0.0.1:0"], timeout=10)
    assert r.returncode != 0
    assert r.stderr.strip()


@pytest.mark.parametrize("db", ["mysql://localhost/x", "sqlite:", "nonsense"])
def test_bad_db_url_refused(tmp_path, db):
    r = run_cli(["serve", "--db", db,
                 "--http", "127.0.0.1:0",
                 "--sip", "127.0.0.1:0"], timeout=10,
                cwd=str(tmp_path))
    assert r.returncode != 0
    assert r.stderr.strip()
    r = run_cli(["account", "create", "--db", db], timeout=10,
                cwd=str(tmp_path))
    assert r.returncode != 0
    assert r.stdout.strip() == b"", "printed credentials for a bad --db"
