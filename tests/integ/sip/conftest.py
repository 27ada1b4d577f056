"""Harness for the SIP registrar integration tests.

Reuses the REST harness (../conftest.py) by import: the server process
class, the CLI helpers and the API client. That module is loaded by path
under its own name, and only its plain helpers (never its fixtures) are
re-exported here, so `from conftest import clean_env` keeps working for any
test that imports lazily. Every fixture defined here is prefixed `sip_` so it
cannot shadow the REST suite's fixtures.
"""

import importlib.util
import hmac
import hashlib
import os
import re
import signal
import subprocess
import sys
import time
import uuid
from pathlib import Path

import pytest

sys.dont_write_bytecode = True

_HERE = Path(__file__).resolve().parent
_PARENT_PATH = _HERE.parent / "conftest.py"
_PARENT_NAME = "sipward_integ_rest_conftest"


def _load_parent():
    mod = sys.modules.get(_PARENT_NAME)
    if mod is None:
        spec = importlib.util.spec_from_file_location(_PARENT_NAME,
                                                      str(_PARENT_PATH))
        mod = importlib.util.module_from_spec(spec)
        sys.modules[_PARENT_NAME] = mod
        spec.loader.exec_module(mod)
    return mod


_parent = _load_parent()

# Re-export the parent's helpers (not its fixtures: those stay registered
# once, by pytest, from ../conftest.py).
for _k, _v in vars(_parent).items():
    if _k.startswith("__") or hasattr(_v, "_pytestfixturefunction"):
        continue
    if callable(_v) and getattr(_v, "__name__", "") in (
            "server", "api", "api_b", "fresh", "make_server"):
        continue
    globals().setdefault(_k, _v)

Server = _parent.Server
Api = _parent.Api
BIN = _parent.BIN
clean_env = _parent.clean_env
uname = _parent.uname
pw = _parent.pw
TS_RE = _parent.TS_RE
require_binary = _parent.require_binary
wait_until = _parent.wait_until

# sipclient.py sits next to this file
if str(_HERE) not in sys.path:
    sys.path.insert(0, str(_HERE))
import sipclient  # noqa: E402

# Test modules import from here under this unique name (the bare name
# `conftest` is ambiguous with two conftest.py files in the tree).
sys.modules.setdefault("sip_conftest", sys.modules[__name__])

SIP_DOMAIN = "localhost"  # resolvable: sipsak resolves the URI host
NONCE_SECRET = "sipinteg-nonce-secret-0123456789"

# Every SIP test server tolerates many failed HTTP authentications and signs
# nonces with a known secret (so tests can forge nonces of any age).
# debug: failures anyone could forge (bad nonce, parameters) are logged at
# debug level only, and the tests check their reasons.
BASE_ENV = {"SIPWARD_LOG_LEVEL": "debug",
            "SIPWARD_AUTH_FAIL_MAX": 1000,
            "SIPWARD_SIP_AUTH_FAIL_MAX": 100000,
            "SIPWARD_SIP_AUTH_FAIL_ADDR_MAX": 100000,
            "SIPWARD_SIP_CHALLENGE_RATE": 100000,
            "SIPWARD_SIP_NONCE_SECRET": NONCE_SECRET}


# --------------------------------------------------------------------------
# server

class SipServer(Server):
    """A sipward serve process whose SIP side listens on sip_host, port 0
    (or a fixed port); sip_port is read from the `event=started` log line."""

    def __init__(self, workdir, sip_host="127.0.0.1", sip_port=0, **kw):
        super().__init__(workdir, **kw)
        self.sip_host = sip_host
        self.sip_low = sip_port == "low"
        self.sip_fixed_port = 0 if self.sip_low else sip_port

    def _spawn(self):
        # "low": a fixed port below 10000 (sipsak truncates 5-digit ports
        # in URIs), chosen again on every (re)try
        if self.sip_low:
            self.sip_fixed_port = sipclient.free_udp_tcp_port(
                5000, 9999, self.sip_host, seed=time.time_ns())
        return super()._spawn()

    def sip_listen(self):
        h = "[%s]" % self.sip_host if ":" in self.sip_host else self.sip_host
        return "%s:%d" % (h, self.sip_fixed_port or self.sip_port or 0)

    def port_of(self, proto):
        """The port the server bound for proto ("udp", "tcp", "tls", "ws",
        "wss"), from the `event=started` line (0: not listening)."""
        if proto in ("udp", "tcp"):
            return self.sip_port
        m = re.search(r"event=started .*\bsip_%s_port=(\d+)" % proto,
                      self._tail_all())
        assert m, "no sip_%s_port in the started line" % proto
        return int(m.group(1))

    def conn(self, proto="udp", timeout=sipclient.RECV_TIMEOUT,
             source=None):
        return sipclient.SipConn(self.sip_host, self.port_of(proto), proto,
                                 timeout=timeout, source=source)

    def log_lines(self, pattern=None):
        lines = self.log_text().splitlines()
        if pattern:
            rx = re.compile(pattern)
            lines = [l for l in lines if rx.search(l)]
        return lines

    def wait_log(self, pattern, count=1, timeout=10.0):
        """The log lines matching pattern, once there are at least count;
        fails (with the lines seen) when there are not within timeout."""
        seen = []

        def enough():
            seen[:] = self.log_lines(pattern)
            return len(seen) >= count
        try:
            wait_until(enough, timeout, "%d log line(s) matching %r" % (
                count, pattern))
        except AssertionError as e:
            raise AssertionError("%s; matching lines: %r; log tail:\n%s" % (
                e, seen, self._tail())) from None
        return seen

    def endpoint(self, api=None, password=None, username=None):
        api = api or self.api()
        ep = Endpoint(self, api, username or uname("s"),
                      password or pw())
        ep.create()
        return ep


def make_tls_cert(workdir, name="cert", cn="127.0.0.1"):
    """A self-signed certificate and key (PEM) for 127.0.0.1 and
    localhost, made with the openssl CLI: (cert path, key path)."""
    workdir = Path(workdir)
    workdir.mkdir(parents=True, exist_ok=True)
    cert, key = workdir / (name + ".pem"), workdir / (name + ".key")
    subprocess.run(
        ["openssl", "req", "-x509", "-newkey", "ec", "-pkeyopt",
         "ec_paramgen_curve:prime256v1", "-nodes", "-days", "2",
         "-subj", "/CN=%s" % cn, "-addext",
         "subjectAltName=IP:127.0.0.1,DNS:localhost",
         "-keyout", str(key), "-out", str(cert)],
        check=True, capture_output=True, timeout=30)
    return cert, key


def tls_env(cert, key, tls=True, ws=True, wss=True):
    """The options of a server listening for TLS, WS and WSS on free
    ports of 127.0.0.1 (see port_of)."""
    e = {"SIPWARD_TLS_CERT_FILE": str(cert), "SIPWARD_TLS_KEY_FILE": str(key)}
    if tls:
        e["SIPWARD_SIP_TLS"] = "127.0.0.1:0"
    if ws:
        e["SIPWARD_SIP_WS"] = "127.0.0.1:0"
    if wss:
        e["SIPWARD_SIP_WSS"] = "127.0.0.1:0"
    return e


def start_sip_server(workdir, env=None, sip_host="127.0.0.1", sip_port=0,
                     domain=SIP_DOMAIN):
    e = dict(BASE_ENV)
    e.update(env or {})
    srv = SipServer(workdir, sip_host=sip_host, sip_port=sip_port,
                    domain=domain, env=e)
    return srv.start(expect_account=True)


class Endpoint:
    """One endpoint on a SIP server, with helpers to register it."""

    def __init__(self, server, api, username, password):
        self.server, self.api = server, api
        self.username, self.password = username, password
        self.domain = api.domain or SIP_DOMAIN
        self.id = None

    def create(self):
        body = self.api.create_endpoint(self.username, self.password)
        self.id = body["endpoint_id"]
        return body

    def get(self):
        return self.api.endpoint(self.id)

    def ua(self, proto="udp", alg=None, conn=None, source=None, **kw):
        c = conn or self.server.conn(proto, source=source)
        return sipclient.UA(c, self.username, self.domain, self.password,
                            alg=alg, **kw)

    def wait_registered(self, want, timeout=10.0):
        """Polls the API until sip_registered == want ("true"/"false");
        fails with the last state seen otherwise."""
        last = {}

        def reached():
            last["ep"] = self.get()
            return last["ep"]["sip_registered"] == want
        wait_until(reached, timeout, "%s sip_registered=%s (last: %s)" % (
            self.username, want,
            last.get("ep", {}).get("sip_registered")), step=0.1)
        return last["ep"]


def forge_nonce(issued_s, rnd="0123456789abcdef", secret=NONCE_SECRET,
                ip="127.0.0.1", realm=SIP_DOMAIN):
    """A nonce as the server makes them: 16 hex issue time in milliseconds
    '.' 16 hex random '.' 32 hex of HMAC-SHA-256(secret, first 33 bytes
    '|' client address '|' realm): bound to the address and realm."""
    text = "%016x.%s." % (int(issued_s * 1000), rnd)
    bound = "%s|%s|%s" % (text[:33], ip, realm.lower())
    mac = hmac.new(secret.encode(), bound.encode(),
                   hashlib.sha256).hexdigest()[:32]
    return text + mac


def store_rows(srv, table):
    """The number of rows in one of srv's tables, read straight from the
    store (to see what the API hides, e.g. expired bindings not swept)."""
    if srv.on_pg:
        out = subprocess.run(
            ["psql", "-X", "-q", "-A", "-t", "-d", srv.db_url, "-c",
             "SELECT count(*) FROM %s" % table], env=clean_env(),
            capture_output=True, timeout=30, check=True)
        return int(out.stdout.decode().strip())
    import sqlite3
    db = sqlite3.connect("file:%s?mode=ro" % srv.db, uri=True, timeout=5)
    try:
        return db.execute("SELECT count(*) FROM %s" % table).fetchone()[0]
    finally:
        db.close()


# --------------------------------------------------------------------------
# external processes

class Proc:
    """A child process (sipp, sipsak, baresip) that is always stopped by its
    pid: SIGTERM, wait, SIGKILL."""

    def __init__(self, args, cwd=None, stdin=subprocess.DEVNULL, env=None,
                 out=None):
        self.args = args
        self.out = out
        outf = open(out, "wb") if out else subprocess.PIPE
        self.p = subprocess.Popen(args, cwd=cwd, stdin=stdin, stdout=outf,
                                  stderr=subprocess.STDOUT, env=env,
                                  start_new_session=True)
        if out:
            outf.close()

    def wait(self, timeout):
        try:
            so, _ = self.p.communicate(timeout=timeout)
        except subprocess.TimeoutExpired:
            self.stop()
            raise AssertionError("%s did not finish within %ss" % (
                self.args[0], timeout))
        return self.p.returncode, (so or b"").decode(errors="replace")

    def output(self):
        if self.out:
            try:
                return Path(self.out).read_text(errors="replace")
            except OSError:
                return ""
        return ""

    def stop(self):
        if self.p.poll() is None:
            self.p.send_signal(signal.SIGTERM)
            try:
                self.p.wait(timeout=5)
            except subprocess.TimeoutExpired:
                self.p.kill()
                self.p.wait(timeout=5)
        return self.p.returncode


# --------------------------------------------------------------------------
# fixtures (all prefixed sip_)

@pytest.fixture(scope="session")
def sip_server(tmp_path_factory):
    """The shared SIP server: IPv4 loopback, default SIP options."""
    require_binary()
    srv = start_sip_server(tmp_path_factory.mktemp("sip_shared"))
    yield srv
    srv.stop()


@pytest.fixture(scope="session")
def sip_api(sip_server):
    return sip_server.api()


@pytest.fixture
def sip_ep(sip_server, sip_api):
    """A fresh endpoint (unique username) on the shared server."""
    return sip_server.endpoint(sip_api)


@pytest.fixture
def sip_make_server(tmp_path):
    """Factory for servers with their own options; stopped at teardown."""
    started = []

    def make(sub="sipsrv", **kw):
        srv = start_sip_server(tmp_path / sub, **kw)
        started.append(srv)
        return srv

    yield make
    for s in started:
        s.stop()


@pytest.fixture
def sip_procs():
    """Registry of external processes, each stopped by pid at teardown."""
    procs = []

    def spawn(args, **kw):
        p = Proc(args, **kw)
        procs.append(p)
        return p

    yield spawn
    for p in procs:
        p.stop()


@pytest.fixture(scope="session")
def sip_server6(tmp_path_factory):
    """A SIP server on the IPv6 loopback (HTTP stays on 127.0.0.1)."""
    require_binary()
    import socket
    try:
        s = socket.socket(socket.AF_INET6, socket.SOCK_DGRAM)
        s.bind(("::1", 0))
        s.close()
    except OSError as e:
        pytest.skip("no IPv6 loopback: %s" % e)
    srv = start_sip_server(tmp_path_factory.mktemp("sip_v6"), sip_host="::1")
    yield srv
    srv.stop()
