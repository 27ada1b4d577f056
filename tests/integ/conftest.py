"""Harness for the sipward HTTP integration tests: starts the real binary on
loopback, creates accounts with the CLI, and offers a small API client."""

import base64
import json
import os
import re
import signal
import socket
import subprocess
import sys
import time
import uuid
from pathlib import Path

import pytest
import requests

sys.dont_write_bytecode = True

REPO = Path(__file__).resolve().parents[2]
BIN = os.environ.get("SIPWARD_BIN") or str(REPO / "build" / "sipward")

READY_TIMEOUT = 10.0  # seconds to wait for /health after start
STOP_TIMEOUT = 10.0   # seconds to wait for exit after SIGTERM
HTTP_TIMEOUT = 15.0   # per-request timeout, so a hung server fails a test

AUTH_ID_RE = re.compile(r"^MA_[A-Z0-9]{8}$")
UUID_RE = re.compile(
    r"^[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-"
    r"[0-9a-fA-F]{12}$")
ENDPOINT_ID_RE = re.compile(r"^[0-9]{15}$")
APP_ID_RE = re.compile(r"^[0-9]+$")
TS_RE = re.compile(r"^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}(\.\d+)?Z$")

ENDPOINT_FIELDS = (
    "endpoint_id", "username", "alias", "domain", "sip_uri", "application",
    "allow_voice", "allow_message", "allow_video", "allow_same_domain",
    "allow_other_domains", "allow_phones", "allow_apps", "sip_registered",
    "sip_contact", "sip_expires", "sip_user_agent", "sip_registrations",
    "sub_account", "resource_uri", "created_at", "updated_at")

APPLICATION_FIELDS = (
    "app_id", "app_name", "answer_url", "answer_method", "hangup_url",
    "hangup_method", "fallback_answer_url", "fallback_method", "message_url",
    "message_method", "default_endpoint_app", "sub_account", "resource_uri",
    "created_at", "updated_at")

ALLOW_DEFAULTS = {
    "allow_voice": True, "allow_message": True, "allow_video": False,
    "allow_same_domain": True, "allow_other_domains": False,
    "allow_phones": True, "allow_apps": True,
}
LOCKED_FIELDS = ("username", "endpoint_id", "domain", "allow_same_domain",
                 "allow_other_domains", "allow_phones", "allow_apps")


# --------------------------------------------------------------------------
# backend: SQLite (default) or PostgreSQL
#
# SIPWARD_TEST_PG_URL_FILE names a file holding a libpq base URL (as
# scripts/pg-cluster.sh writes it), or SIPWARD_TEST_PG holds the URL itself.
# With either, every Server gets a fresh database of its own on that server
# (CREATE DATABASE t_<random> through psql, dropped at teardown) and --db is
# its postgresql:// URL; without, every Server has its own SQLite file.

def _pg_base_url():
    f = os.environ.get("SIPWARD_TEST_PG_URL_FILE")
    if f:
        try:
            url = Path(f).read_text().strip()
        except OSError as e:
            raise RuntimeError("SIPWARD_TEST_PG_URL_FILE=%s: %s" % (f, e))
        if not url:
            raise RuntimeError("SIPWARD_TEST_PG_URL_FILE=%s is empty" % f)
        return url
    return os.environ.get("SIPWARD_TEST_PG", "").strip() or None


PG_BASE_URL = _pg_base_url()
ON_PG = PG_BASE_URL is not None
BACKEND = "postgresql" if ON_PG else "sqlite"

skip_on_pg = pytest.mark.skipif(ON_PG, reason="SQLite-specific")
only_on_pg = pytest.mark.skipif(
    not ON_PG, reason="needs PostgreSQL: set SIPWARD_TEST_PG_URL_FILE (or "
    "SIPWARD_TEST_PG) to a base URL, e.g. ctest -R integ_pg")


def is_db_url(db):
    s = str(db)
    return s.startswith(("sqlite:", "postgresql://", "postgres://"))


def db_url_of(db):
    """--db argument for db: a URL as is, a path as sqlite:PATH."""
    return str(db) if is_db_url(db) else "sqlite:%s" % db


def pg_url_with_db(base, dbname):
    """base with its database (the URL path) replaced by dbname."""
    from urllib.parse import urlsplit, urlunsplit
    u = urlsplit(base)
    return urlunsplit((u.scheme, u.netloc, "/" + dbname, u.query,
                       u.fragment))


def psql(url, sql, timeout=60, check=True):
    """Runs sql through psql on url; returns stdout (unaligned, tuples
    only)."""
    r = subprocess.run(["psql", "-X", "-q", "-A", "-t", "-v",
                        "ON_ERROR_STOP=1", "-d", url, "-c", sql],
                       capture_output=True, timeout=timeout,
                       env=clean_env())
    if check and r.returncode != 0:
        raise AssertionError("psql %r failed (%d): %s" % (
            sql, r.returncode, r.stderr.decode(errors="replace")))
    return r.stdout.decode()


# Databases are named t_<pid>_<random>: the pid marks this run's, so the
# end of the session drops them all, even those registered through another
# instance of this module (tests/integ/sip/conftest.py loads its own).
PG_DB_PREFIX = "t_%d_" % os.getpid()


def pg_create_db(base=None):
    """A fresh, empty database on the PostgreSQL server of base (default:
    the configured one). Returns its URL."""
    base = base or PG_BASE_URL
    assert base, "no PostgreSQL configured"
    name = PG_DB_PREFIX + uuid.uuid4().hex[:12]
    psql(base, "CREATE DATABASE %s" % name)
    return pg_url_with_db(base, name)


def pg_drop_db(url):
    """Drops a database made by pg_create_db (cutting its clients off)."""
    from urllib.parse import urlsplit
    u = urlsplit(url)
    name = u.path.lstrip("/")
    if not name.startswith("t_"):
        return  # never a database this suite did not create
    base = u._replace(path="/postgres").geturl()
    psql(base, "DROP DATABASE IF EXISTS %s WITH (FORCE)" % name,
         check=False)


def pg_drop_run_dbs(base=None):
    """Drops every database of this run that is left."""
    base = base or PG_BASE_URL
    names = psql(base, "SELECT datname FROM pg_database WHERE "
                 "left(datname, %d) = '%s'" % (len(PG_DB_PREFIX),
                                                PG_DB_PREFIX)).split()
    for n in names:
        pg_drop_db(pg_url_with_db(base, n))


def pg_dump(url, timeout=60):
    """The database as SQL text (schema and data), as bytes."""
    r = subprocess.run(["pg_dump", "--no-owner", "-d", url],
                       capture_output=True, timeout=timeout,
                       env=clean_env())
    assert r.returncode == 0, "pg_dump failed: %s" % r.stderr.decode(
        errors="replace")
    return r.stdout


def new_db_url(workdir, name="sipward.db"):
    """A fresh store URL for the configured backend: a new PostgreSQL
    database, or sqlite:workdir/name."""
    if ON_PG:
        return pg_create_db()
    return "sqlite:%s" % (Path(workdir) / name)


# --------------------------------------------------------------------------
# small helpers

def uname(prefix="u"):
    """A username unique to this run: [A-Za-z0-9_] only."""
    return "%s_%s" % (prefix, uuid.uuid4().hex[:16])


def pw():
    """A fresh valid password."""
    return "Pw-%s" % uuid.uuid4().hex[:20]


def udomain(prefix="d"):
    return "%s%s.test" % (prefix, uuid.uuid4().hex[:10])


def clean_env(extra=None):
    """The environment for a child: no SIPWARD_* leaking in from outside,
    and the admin listener on a free port (its default, 127.0.0.1:9091,
    would be shared by every server a test run starts)."""
    env = {k: v for k, v in os.environ.items()
           if not k.startswith("SIPWARD_")}
    env["SIPWARD_ADMIN_HTTP"] = "127.0.0.1:0"
    if extra:
        env.update({k: str(v) for k, v in extra.items()})
    return env


def require_binary():
    if not (os.path.isfile(BIN) and os.access(BIN, os.X_OK)):
        pytest.fail("sipward binary not found at %s (set SIPWARD_BIN)" % BIN,
                    pytrace=False)


def run_cli(args, env=None, timeout=30, cwd=None):
    require_binary()
    return subprocess.run([BIN] + list(args), capture_output=True,
                          env=clean_env(env), timeout=timeout, cwd=cwd)


def parse_account_line(text, where):
    lines = [l for l in text.splitlines() if l.strip()]
    assert len(lines) == 1, "%s: expected exactly one line on stdout, got %r" \
        % (where, text)
    try:
        obj = json.loads(lines[0])
    except ValueError:
        raise AssertionError("%s: stdout line is not JSON: %r" % (where, text))
    assert isinstance(obj, dict), "%s: not an object: %r" % (where, text)
    for k in ("auth_id", "auth_token", "domain"):
        assert isinstance(obj.get(k), str) and obj[k], \
            "%s: missing %s in %r" % (where, k, obj)
    assert AUTH_ID_RE.match(obj["auth_id"]), obj
    assert len(obj["auth_token"]) >= 32, obj
    return obj


def cli_account_create(db, domain=None, name=None, env=None):
    """db: a SQLite path, or a store URL (a Server's .db is either)."""
    args = ["account", "create", "--db", db_url_of(db)]
    if name is not None:
        args += ["--name", name]
    if domain is not None:
        args += ["--domain", domain]
    r = run_cli(args, env=env)
    assert r.returncode == 0, "account create failed (%d): %s" % (
        r.returncode, r.stderr.decode(errors="replace"))
    return parse_account_line(r.stdout.decode(), "account create")




# --------------------------------------------------------------------------
# server process

# Lines that sanitizers print when they find something.
SANITIZER_MARKS = ("ERROR: AddressSanitizer", "ERROR: LeakSanitizer",
                   "runtime error:", "WARNING: ThreadSanitizer")


class PortTaken(Exception):
    pass


STARTED_RE = re.compile(
    r"event=started .*\bhttp_port=(\d+) .*\bsip_port=(\d+)")
ADMIN_PORT_RE = re.compile(r"event=started .*\badmin_port=(\d+)")


class Server:
    """One sipward serve process on loopback. HTTP and SIP listen on port 0
    (the kernel picks free ports, so parallel suites never race for one); the
    ports are read from the `event=started` log line. A restart binds the
    same ports again, so clients keep their addresses, unless another socket
    took one meanwhile: then the kernel picks new ones (read them again).

    db: None = a store of its own for the configured backend (a SQLite file
    in workdir, or a fresh PostgreSQL database dropped at teardown); a path =
    that SQLite file; a URL (sqlite:..., postgresql://...) = that store, as
    is (several servers may share one). .db is the path (SQLite) or the URL
    (PostgreSQL); .db_url is always the --db argument."""

    def __init__(self, workdir, domain=None, env=None, config=None,
                 db=None, extra_args=None):
        self.dir = Path(workdir)
        self.dir.mkdir(parents=True, exist_ok=True)
        self.owns_db = False
        if db is not None and is_db_url(db):
            self.db = str(db)
            if self.db.startswith("sqlite:"):
                self.db = Path(self.db[len("sqlite:"):])
        elif db is not None:
            self.db = Path(db)
        elif ON_PG:
            self.db = pg_create_db()
            self.owns_db = True
        else:
            self.db = self.dir / "sipward.db"
        self.domain_arg = domain
        self.env = dict(env or {})
        self.config = config
        self.extra_args = list(extra_args or [])
        self.proc = None
        self.port = None      # HTTP, from the started line
        self.sip_port = None  # SIP, from the started line
        self.runs = 0
        self.account = None  # the first account, printed on first start
        self.stdout_path = None
        self.stderr_path = None
        self.last_stdout = ""

    @property
    def base(self):
        return "http://127.0.0.1:%d" % self.port

    @property
    def log_path(self):
        return self.stderr_path

    @property
    def db_url(self):
        """The --db URL of this server's store."""
        return db_url_of(self.db)

    @property
    def on_pg(self):
        return not self.db_url.startswith("sqlite:")

    def drop_db(self):
        """Drops the PostgreSQL database this server created (after stop);
        a no-op for SQLite and for shared databases."""
        if self.owns_db and self.proc is None:
            pg_drop_db(self.db)
            self.owns_db = False

    def at_rest(self):
        """What the store holds at rest, as [(name, bytes)]: the SQLite
        file with its -wal/-shm/-journal companions, or a pg_dump of the
        PostgreSQL database (schema and every row, as SQL text)."""
        if self.on_pg:
            return [("pg_dump of %s" % self.db_url.rsplit("/", 1)[-1],
                     pg_dump(self.db_url))]
        d = Path(self.db).parent
        return [(p.name, p.read_bytes()) for p in sorted(d.iterdir())
                if p.name.startswith(Path(self.db).name)]

    def http_listen(self):
        """--http: port 0 on the first start, the same port after."""
        return "127.0.0.1:%d" % (self.port or 0)

    def sip_listen(self):
        """--sip: port 0 on the first start, the same port after."""
        return "127.0.0.1:%d" % (self.sip_port or 0)

    def args(self):
        a = [BIN, "serve", "--db", self.db_url, "--http", self.http_listen(),
             "--sip", self.sip_listen()]
        if self.domain_arg:
            a += ["--domain", self.domain_arg]
        if self.config:
            a += ["--config", str(self.config)]
        return a + self.extra_args

    def start(self, expect_account=None):
        """Start and wait for the `event=started` line, then /health.
        expect_account: True = the first-start line must be on stdout,
        False = nothing may be printed, None = either (the account is
        printed before the started line, so stdout is complete by then).
        A fixed port (a subclass's choice) taken by someone else is retried
        on another (PortTaken)."""
        require_binary()
        for attempt in range(3):
            self._spawn()
            try:
                self._wait_ready()
                break
            except PortTaken:
                # the port of the last run was taken meanwhile (any socket,
                # a client's among them, may get a freed port): take new
                # ones from the kernel
                self.port = self.sip_port = None
                if attempt == 2:
                    raise AssertionError("no free port after 3 tries:\n%s"
                                         % self._tail())
        txt = self.stdout_path.read_text(errors="replace")
        if txt:
            self.last_stdout = txt
        if expect_account is False:
            assert txt.strip() == "", \
                "serve on an existing database printed %r" % txt
        elif "\n" in txt and self.account is None:
            self.account = parse_account_line(txt, "serve first start")
        elif expect_account and self.account is None:
            raise AssertionError("no account line on first start: %r" % txt)
        return self

    def _spawn(self):
        self.runs += 1
        self.stdout_path = self.dir / ("stdout.%d.log" % self.runs)
        self.stderr_path = self.dir / ("stderr.%d.log" % self.runs)
        args = [self._fix_db_arg(a) for a in self.args()]
        out = open(self.stdout_path, "wb")
        err = open(self.stderr_path, "wb")
        try:
            self.proc = subprocess.Popen(
                args, stdout=out, stderr=err, stdin=subprocess.DEVNULL,
                env=clean_env(self.env), cwd=str(self.dir))
        finally:
            out.close()
            err.close()

    def _fix_db_arg(self, a):
        """Subclasses that build `--db sqlite:%s % self.db` themselves still
        get the PostgreSQL URL when .db is one."""
        if a.startswith("sqlite:") and is_db_url(a[len("sqlite:"):]):
            return a[len("sqlite:"):]
        return a

    def _tail(self):
        try:
            return self.stderr_path.read_text(errors="replace")[-3000:]
        except OSError:
            return ""

    def _started(self):
        if self.proc.poll() is not None:
            tail = self._tail()
            if "cannot listen" in tail or "in use" in tail.lower():
                self.proc = None
                raise PortTaken(tail)
            raise AssertionError(
                "sipward serve exited with %s before ready; stderr:\n%s"
                % (self.proc.returncode, self._tail()))
        return STARTED_RE.search(self._tail_all())

    def _wait_ready(self):
        try:
            m = wait_until(self._started, READY_TIMEOUT,
                           what="the event=started line")
        except AssertionError:
            self.kill()
            raise AssertionError("sipward not ready within %ss; stderr:\n%s"
                                 % (READY_TIMEOUT, self._tail()))
        self.port, self.sip_port = int(m.group(1)), int(m.group(2))
        a = ADMIN_PORT_RE.search(m.group(0))
        self.admin_port = int(a.group(1)) if a else 0
        r = requests.get(self.base + "/health", timeout=HTTP_TIMEOUT)
        assert r.status_code == 200, "/health answered %d" % r.status_code

    def alive(self):
        return self.proc is not None and self.proc.poll() is None

    def stop(self, check=True):
        """SIGTERM, wait, then SIGKILL. Returns the exit status. With check,
        a clean stop is required: exit status 0 within STOP_TIMEOUT and no
        sanitizer report (ASan, LeakSanitizer, UBSan) in the log."""
        if self.proc is None:
            return None
        p = self.proc
        hung = False
        if p.poll() is None:
            p.send_signal(signal.SIGTERM)
            try:
                p.wait(timeout=STOP_TIMEOUT)
            except subprocess.TimeoutExpired:
                hung = True
                p.kill()
                p.wait(timeout=STOP_TIMEOUT)
        self.proc = None
        if check:
            log = self._tail_all()
            for mark in SANITIZER_MARKS:
                assert mark not in log, "sanitizer report in %s:\n%s" % (
                    self.stderr_path, log[log.index(mark) - 200:][:4000])
            assert not hung, "sipward did not stop on SIGTERM"
            assert p.returncode == 0, "sipward exited %s on SIGTERM:\n%s" % (
                p.returncode, self._tail())
        return p.returncode

    def _tail_all(self):
        try:
            return self.stderr_path.read_text(errors="replace")
        except OSError:
            return ""

    def kill(self):
        """SIGKILL (crash simulation)."""
        if self.proc is None:
            return
        p = self.proc
        if p.poll() is None:
            p.send_signal(signal.SIGKILL)
            p.wait(timeout=STOP_TIMEOUT)
        self.proc = None

    def restart(self, kill=False):
        if kill:
            self.kill()
        else:
            self.stop()
        return self.start(expect_account=False)

    def log_text(self):
        parts = []
        for p in sorted(self.dir.glob("stderr.*.log")):
            parts.append(p.read_text(errors="replace"))
        return "".join(parts)

    def api(self, account=None, **kw):
        acct = account or self.account
        kw.setdefault("domain", acct.get("domain"))
        return Api(self, acct["auth_id"], acct["auth_token"], **kw)

    def new_account(self, domain=None, name=None):
        acct = cli_account_create(self.db, domain=domain or udomain(),
                                  name=name)
        return self.api(acct)


class StoreLock:
    """Holds the store's write lock from another process until release()
    (or the end of a with block): on SQLite `BEGIN EXCLUSIVE` in the sqlite3
    shell (readers still read, in WAL mode), on PostgreSQL `LOCK TABLE ...
    IN EXCLUSIVE MODE` in psql (blocks every writer of those tables, never a
    reader)."""

    def __init__(self, srv):
        if srv.on_pg:
            args = ["psql", "-X", "-q", "-A", "-t", "-d", srv.db_url]
            sql = ("BEGIN;\nLOCK TABLE accounts, applications, endpoints, "
                   "registrations IN EXCLUSIVE MODE;\nSELECT 'locked';\n")
        else:
            args = ["sqlite3", str(srv.db)]
            sql = "BEGIN EXCLUSIVE;\nSELECT 'locked';\n"
        self.p = subprocess.Popen(args, stdin=subprocess.PIPE,
                                  stdout=subprocess.PIPE,
                                  stderr=subprocess.PIPE, env=clean_env())
        self.p.stdin.write(sql.encode())
        self.p.stdin.flush()
        line = self.p.stdout.readline().decode().strip()
        if line != "locked":
            self.p.kill()
            self.p.wait(timeout=30)
            raise AssertionError("could not lock the store: %r %r" % (
                line, self.p.stderr.read()[:500]))

    def held(self):
        return self.p.poll() is None

    def release(self):
        if self.p.poll() is None:
            self.p.stdin.write(b"ROLLBACK;\n")
            self.p.stdin.close()
            self.p.wait(timeout=30)

    def __enter__(self):
        return self

    def __exit__(self, *a):
        self.release()


def start_server(workdir, **kw):
    srv = Server(workdir, domain=kw.pop("domain", None) or udomain("srv"),
                 **kw)
    return srv.start(expect_account=True)


# --------------------------------------------------------------------------
# API client

def _no_5xx(resp, *args, **kwargs):
    assert resp.status_code < 500, "%s %s answered %d (never 5xx): %r" % (
        resp.request.method, resp.request.url, resp.status_code,
        resp.content[:500])


class Api:
    """Client for one account. Paths are relative to .../Account/{id}/."""

    def __init__(self, server, auth_id, token, prefix="/api/v1",
                 path_id=None, domain=None):
        self.server = server
        self.auth_id = auth_id
        self.token = token
        self.prefix = prefix
        self.path_id = path_id or auth_id
        self.domain = domain
        self.s = requests.Session()
        self.s.hooks["response"].append(_no_5xx)
        if domain is None and server is not None and server.account and \
                server.account["auth_id"] == auth_id:
            self.domain = server.account["domain"]

    @property
    def base(self):
        return self.server.base

    def clone(self, **kw):
        a = Api(self.server, kw.pop("auth_id", self.auth_id),
                kw.pop("token", self.token),
                prefix=kw.pop("prefix", self.prefix),
                path_id=kw.pop("path_id", self.path_id),
                domain=kw.pop("domain", self.domain))
        assert not kw, kw
        return a

    def url(self, rel=""):
        return "%s%s/Account/%s/%s" % (self.base, self.prefix, self.path_id,
                                       rel)

    def auth_headers(self):
        return {"X-Auth-ID": self.auth_id, "X-Auth-Token": self.token}

    def req(self, method, rel, json_body=None, data=None, headers=None,
            auth=True, params=None, raw_url=None):
        h = {}
        if auth:
            h.update(self.auth_headers())
        if json_body is not None:
            data = json.dumps(json_body).encode()
            h["Content-Type"] = "application/json"
        if headers:
            h.update(headers)
        url = raw_url or self.url(rel)
        return self.s.request(method, url, data=data, headers=h,
                              params=params, timeout=HTTP_TIMEOUT)

    def get(self, rel, **kw):
        return self.req("GET", rel, **kw)

    def post(self, rel, body=None, **kw):
        return self.req("POST", rel, json_body=body, **kw)

    def delete(self, rel, **kw):
        return self.req("DELETE", rel, **kw)

    def get_path(self, path, **kw):
        """GET a server-relative path (e.g. meta.next)."""
        assert path.startswith("/"), path
        return self.req("GET", None, raw_url=self.base + path, **kw)

    # -- endpoints
    def create_endpoint_raw(self, username=None, password=None, **fields):
        body = {"username": username or uname(),
                "password": password or pw()}
        body.update(fields)
        return self.post("Endpoint/", body)

    def create_endpoint(self, username=None, password=None, **fields):
        r = self.create_endpoint_raw(username, password, **fields)
        assert r.status_code == 201, "create endpoint: %d %s" % (
            r.status_code, r.text)
        return r.json()

    def endpoint(self, eid):
        r = self.get("Endpoint/%s/" % eid)
        assert r.status_code == 200, "retrieve endpoint %s: %d %s" % (
            eid, r.status_code, r.text)
        return r.json()

    def update_endpoint(self, eid, body):
        return self.post("Endpoint/%s/" % eid, body)

    def list_endpoints(self, **params):
        r = self.get("Endpoint/", params=params)
        assert r.status_code == 200, "list endpoints %r: %d %s" % (
            params, r.status_code, r.text)
        return r.json()

    def all_endpoints(self, **params):
        out = []
        offset = 0
        while True:
            page = self.list_endpoints(limit=100, offset=offset, **params)
            out += page["objects"]
            if not page["objects"] or page["meta"]["next"] is None:
                return out
            offset += len(page["objects"])

    # -- applications
    def create_app_raw(self, **fields):
        body = {"app_name": "app %s" % uuid.uuid4().hex[:8],
                "answer_url": "https://example.com/answer"}
        body.update(fields)
        return self.post("Application/", body)

    def create_app(self, **fields):
        r = self.create_app_raw(**fields)
        assert r.status_code == 201, "create app: %d %s" % (r.status_code,
                                                            r.text)
        return r.json()

    def app(self, app_id):
        r = self.get("Application/%s/" % app_id)
        assert r.status_code == 200, "retrieve app %s: %d %s" % (
            app_id, r.status_code, r.text)
        return r.json()

    def all_apps(self):
        out = []
        offset = 0
        while True:
            page = self.list_apps(limit=100, offset=offset)
            out += page["objects"]
            if not page["objects"] or page["meta"]["next"] is None:
                return out
            offset += len(page["objects"])

    def list_apps(self, **params):
        r = self.get("Application/", params=params)
        assert r.status_code == 200, "list apps %r: %d %s" % (
            params, r.status_code, r.text)
        return r.json()


def basic(auth_id, token):
    raw = ("%s:%s" % (auth_id, token)).encode()
    return "Basic " + base64.b64encode(raw).decode()


# --------------------------------------------------------------------------
# assertions

def expect_error(resp, status, fields=None, not_fields=None):
    """Assert an error answer: status, JSON {api_id, error, message},
    X-Request-Id == api_id, and details naming every field in `fields`."""
    if isinstance(status, int):
        status = (status,)
    assert resp.status_code in status, "%s %s: expected %s, got %d: %r" % (
        resp.request.method, resp.request.url, status, resp.status_code,
        resp.content[:600])
    ct = resp.headers.get("Content-Type", "")
    try:
        body = resp.json()
    except ValueError:
        raise AssertionError("error body is not JSON (%s): %r" % (
            ct, resp.content[:300]))
    assert isinstance(body, dict), body
    for k in ("api_id", "error", "message"):
        assert isinstance(body.get(k), str) and body[k], \
            "error body lacks %s: %r" % (k, body)
    assert UUID_RE.match(body["api_id"]), body
    assert resp.headers.get("X-Request-Id") == body["api_id"], \
        "X-Request-Id %r != api_id %r" % (resp.headers.get("X-Request-Id"),
                                          body["api_id"])
    if fields:
        d = body.get("details")
        assert isinstance(d, dict), "no details object in %r" % body
        for f in fields:
            assert f in d, "details does not name %r: %r" % (f, body)
            assert isinstance(d[f], str) and d[f], body
    if not_fields:
        d = body.get("details") or {}
        for f in not_fields:
            assert f not in d, "details wrongly names %r: %r" % (f, body)
    return body


def expect_ok_json(resp, status):
    assert resp.status_code == status, "%s %s: expected %d, got %d: %r" % (
        resp.request.method, resp.request.url, status, resp.status_code,
        resp.content[:600])
    body = resp.json()
    assert isinstance(body, dict)
    assert UUID_RE.match(body.get("api_id", "")), body
    assert resp.headers.get("X-Request-Id") == body["api_id"], \
        "X-Request-Id %r != api_id %r" % (resp.headers.get("X-Request-Id"),
                                          body["api_id"])
    return body


def expect_empty(resp, status):
    assert resp.status_code == status, "%s %s: expected %d, got %d: %r" % (
        resp.request.method, resp.request.url, status, resp.status_code,
        resp.content[:600])
    assert resp.content == b"", "expected empty body, got %r" % resp.content
    rid = resp.headers.get("X-Request-Id")
    assert rid and UUID_RE.match(rid), "bad X-Request-Id %r" % rid


def assert_unchanged(before, after, ignore=("api_id",)):
    for k in set(before) | set(after):
        if k in ignore:
            continue
        assert before.get(k) == after.get(k), "%s changed: %r -> %r" % (
            k, before.get(k), after.get(k))


METRIC_LINE_RE = re.compile(
    r'^([a-z_:][a-z0-9_:]*)(?:\{(.*)\})? (-?[0-9.e+]+|\+Inf|NaN)$')
METRIC_LABEL_RE = re.compile(r'([a-z_]+)="((?:[^"\\]|\\.)*)"')


def parse_metrics(text):
    """Prometheus text exposition -> {(name, ((label, value), ...)): float}.
    Fails on any line that is neither a comment nor a sample, and on a
    sample given twice."""
    out = {}
    for line in text.splitlines():
        if not line or line.startswith("# HELP ") or \
                line.startswith("# TYPE "):
            continue
        m = METRIC_LINE_RE.match(line)
        assert m, "not a sample line: %r" % line
        labels = tuple(sorted(METRIC_LABEL_RE.findall(m.group(2) or "")))
        key = (m.group(1), labels)
        assert key not in out, "sample given twice: %r" % line
        out[key] = float(m.group(3))
    return out


def scrape(srv):
    """GET /metrics on srv's admin listener, parsed (parse_metrics)."""
    r = requests.get("http://127.0.0.1:%d/metrics" % srv.admin_port,
                     timeout=HTTP_TIMEOUT)
    assert r.status_code == 200, (r.status_code, r.text[:300])
    assert r.headers["Content-Type"].startswith("text/plain; version=0.0.4")
    return parse_metrics(r.text)


def metric(samples, name, **labels):
    """One sample's value (0 when absent) from scrape()'s dict."""
    return samples.get((name, tuple(sorted(labels.items()))), 0.0)


def wait_until(pred, timeout=10.0, what="condition", step=0.02):
    """The one way tests wait: polls pred() until it returns a true value
    (returned) or `timeout` seconds pass, then fails loudly with `what` and
    the last value pred() returned (or the exception it raised). Never use a
    fixed sleep to decide a result."""
    deadline = time.monotonic() + timeout
    last = None
    while True:
        try:
            v = pred()
            last = v
        except (requests.RequestException, OSError, ValueError) as e:
            # transient (a connection refused, a partial body): reported if
            # it lasts; anything else (an assertion) fails at once
            v, last = None, "%s: %s" % (type(e).__name__, e)
        if v:
            return v
        if time.monotonic() > deadline:
            raise AssertionError("waited %.1fs for %s; last saw: %r"
                                 % (timeout, what, last))
        time.sleep(step)


def wait_past(t0, seconds):
    """Waits until `seconds` whole seconds of the server's monotonic clock
    have surely passed since monotonic time t0 (taken after the server acted):
    the server counts windows and penalties in whole seconds, so one more
    second is added. For rules that are about time itself (a window that
    forgets old failures), where no condition can be polled."""
    end = t0 + seconds + 1.0
    while time.monotonic() < end:
        time.sleep(min(0.1, max(0.0, end - time.monotonic())))


def wait_clock_tick():
    """Let the wall clock pass a second so an updated_at change is visible
    even with 1-second timestamp resolution."""
    time.sleep(1.1)


# --------------------------------------------------------------------------
# raw HTTP/1.1 for keep-alive checks

class RawResponse:
    def __init__(self, status, headers, body, version):
        self.status = status
        self.headers = headers  # lower-case name -> value (last wins)
        self.body = body
        self.version = version

    def header(self, name):
        return self.headers.get(name.lower())

    def closes(self):
        return "close" in (self.header("connection") or "").lower()

    def json(self):
        return json.loads(self.body)


class ConnectionClosed(Exception):
    pass


class RawConn:
    def __init__(self, port, timeout=HTTP_TIMEOUT):
        self.port = port
        self.sock = socket.create_connection(("127.0.0.1", port),
                                             timeout=timeout)
        self.f = self.sock.makefile("rb")

    def close(self):
        try:
            self.f.close()
        finally:
            self.sock.close()

    def __enter__(self):
        return self

    def __exit__(self, *a):
        self.close()

    def send(self, data):
        self.sock.sendall(data)

    def build(self, method, path, headers=None, body=None):
        h = {"Host": "127.0.0.1:%d" % self.port}
        if headers:
            h.update(headers)
        if body is not None and "Content-Length" not in h and \
                "Transfer-Encoding" not in h:
            h["Content-Length"] = str(len(body))
        lines = ["%s %s HTTP/1.1" % (method, path)]
        lines += ["%s: %s" % kv for kv in h.items()]
        return ("\r\n".join(lines) + "\r\n\r\n").encode() + (body or b"")

    def request(self, method, path, headers=None, body=None):
        self.send(self.build(method, path, headers, body))
        return self.read_response(method)

    def read_response(self, method="GET"):
        line = self.f.readline()
        if not line:
            raise ConnectionClosed("server closed the connection")
        parts = line.decode("latin-1").rstrip("\r\n").split(" ", 2)
        if len(parts) < 2 or not parts[0].startswith("HTTP/") or \
                not parts[1].isdigit():
            raise AssertionError("not an HTTP status line: %r" % line)
        version, status = parts[0], int(parts[1])
        headers = {}
        while True:
            l = self.f.readline()
            if not l:
                raise ConnectionClosed("closed inside headers")
            l = l.decode("latin-1").rstrip("\r\n")
            if not l:
                break
            k, _, v = l.partition(":")
            headers[k.strip().lower()] = v.strip()
        body = b""
        if method == "HEAD" or status in (204, 304) or 100 <= status < 200:
            pass
        elif "chunked" in headers.get("transfer-encoding", "").lower():
            while True:
                size = int(self.f.readline().split(b";")[0].strip(), 16)
                if size == 0:
                    while self.f.readline() not in (b"\r\n", b""):
                        pass
                    break
                body += self.f.read(size)
                self.f.readline()
        elif "content-length" in headers:
            n = int(headers["content-length"])
            body = self.f.read(n)
        else:
            body = self.f.read()
        return RawResponse(status, headers, body, version)

    def at_eof(self, timeout=5.0):
        """True if the server closed the connection (reads EOF/RST within
        timeout), False if it is still open."""
        self.sock.settimeout(timeout)
        try:
            data = self.f.read1(1) if hasattr(self.f, "read1") else \
                self.f.read(1)
            return data == b""
        except socket.timeout:
            return False
        except ConnectionError:
            return True


# --------------------------------------------------------------------------
# fixtures

# The shared server tolerates many auth failures so that the 401 tests do
# not throttle each other; throttling is tested on servers of its own. It
# keeps CDRs ten years: test_calls_api writes CDRs of 2024 straight into
# the store, which the 90-day retention sweep would delete under it.
SHARED_ENV = {"SIPWARD_AUTH_FAIL_MAX": 1000, "SIPWARD_SIP_AUTH_FAIL_MAX": 100000,
              "SIPWARD_CDR_RETENTION_DAYS": 3650}


@pytest.fixture(scope="session", autouse=True)
def _drop_test_databases():
    """At the end of the session, drops every PostgreSQL database the run
    created and has not dropped yet (servers built directly by tests)."""
    yield
    if ON_PG:
        pg_drop_run_dbs()


@pytest.fixture(scope="session")
def backend():
    """"sqlite" or "postgresql": the store every Server uses by default."""
    return BACKEND


@pytest.fixture(scope="session")
def server(tmp_path_factory):
    srv = start_server(tmp_path_factory.mktemp("shared"), env=SHARED_ENV)
    yield srv
    srv.stop()
    srv.drop_db()


@pytest.fixture(scope="session")
def server_db_url(server):
    """The --db URL of the shared server's store."""
    return server.db_url


@pytest.fixture
def db_url(tmp_path):
    """Factory: a fresh, empty store URL for the configured backend."""
    made = []

    def make(name="sipward.db"):
        u = new_db_url(tmp_path, name)
        made.append(u)
        return u

    yield make
    for u in made:
        if not u.startswith("sqlite:"):
            pg_drop_db(u)


@pytest.fixture(scope="session")
def api(server):
    """Account A: the account created by the first start."""
    return server.api()


@pytest.fixture(scope="session")
def api_b(server):
    """Account B, another domain."""
    return server.new_account(domain=udomain("b"), name="account B")


@pytest.fixture
def fresh(server):
    """A brand-new account (own domain) on the shared server, for tests
    that need an empty account (lists, defaults, paging)."""
    return server.new_account()


@pytest.fixture
def make_server(tmp_path):
    """Factory for function-scoped servers; all are stopped at teardown."""
    started = []

    def make(sub="srv", **kw):
        srv = start_server(tmp_path / sub, **kw)
        started.append(srv)
        return srv

    yield make
    try:
        for s in started:
            s.stop()
    finally:
        for s in started:
            if s.proc is not None:
                s.kill()
            s.drop_db()
