"""Helpers for the multi-node tests: several real `sipward serve` processes
on one PostgreSQL database, each with its own HTTP and SIP ports, a SIP
client, private PostgreSQL clusters for the fault tests, and the fixtures
(prefixed mn_, imported by the test modules).

Reuses the REST harness (../conftest.py) by loading it by path under the
same unique name as tests/integ/sip/conftest.py does, so there is one
instance of it for both."""

import importlib.util
import os
import re
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path

import pytest

sys.dont_write_bytecode = True

HERE = Path(__file__).resolve().parent
INTEG = HERE.parent
REPO = INTEG.parents[1]
PG_CLUSTER = REPO / "scripts" / "pg-cluster.sh"


def _load(name, path):
    mod = sys.modules.get(name)
    if mod is None:
        spec = importlib.util.spec_from_file_location(name, str(path))
        mod = importlib.util.module_from_spec(spec)
        sys.modules[name] = mod
        spec.loader.exec_module(mod)
    return mod


rest = _load("sipward_integ_rest_conftest", INTEG / "conftest.py")


# The SIP suite's client (MD5 and SHA-256 digests over UDP and TCP).
sipclient = _load("sipward_integ_sipclient", INTEG / "sip" / "sipclient.py")

# The call tests' scriptable phone. Its `import sipclient` finds the module
# above (or the SIP suite's, when that was imported first: the same file).
sys.modules.setdefault("sipclient", sipclient)
sipphone = _load("sipward_integ_sipphone", INTEG / "sip" / "sipphone.py")

ON_PG = rest.ON_PG
NONCE_SECRET = "multinode-shared-nonce-secret-0123"
BASE_ENV = {"SIPWARD_AUTH_FAIL_MAX": 100000,
            "SIPWARD_SIP_AUTH_FAIL_MAX": 100000,
            "SIPWARD_SIP_NONCE_SECRET": NONCE_SECRET}
SWEPT_RE = re.compile(r"event=sip_bindings_swept\b.*\bcount=(\d+)")

needs_pg = pytest.mark.skipif(
    not ON_PG, reason="multi-node tests need PostgreSQL: set "
    "SIPWARD_TEST_PG_URL_FILE (or SIPWARD_TEST_PG) to a server's base URL; "
    "ctest -R integ_pg does")


# --------------------------------------------------------------------------
# nodes

class Node(rest.Server):
    """One sipward serve process; SIP on 127.0.0.1 at a port the kernel
    picks (read from the `event=started` line)."""

    def __init__(self, workdir, name, **kw):
        super().__init__(workdir, **kw)
        self.name = name

    def __repr__(self):
        return "<node %s http=%s sip=%s>" % (self.name, self.port,
                                             self.sip_port)

    def args(self):
        a = [rest.BIN, "serve", "--db", self.db_url,
             "--http", self.http_listen(), "--sip", self.sip_listen()]
        if self.domain_arg:
            a += ["--domain", self.domain_arg]
        return a + self.extra_args

    def conn(self, timeout=3.0):
        return sipclient.SipConn("127.0.0.1", self.sip_port, "udp",
                                 timeout=timeout)

    def port_of(self, proto):
        """The port of proto ("udp", "tcp", "ws", ...) on this node."""
        if proto in ("udp", "tcp"):
            return self.sip_port
        m = re.search(r"event=started .*\bsip_%s_port=(\d+)" % proto,
                      self._tail_all())
        assert m, "no sip_%s_port in %r's started line" % (proto, self)
        return int(m.group(1))

    def sweep_rounds(self):
        """Completed sweeps of this node (needs log_level=debug, as
        SWEEP_ENV sets: empty rounds are logged at debug)."""
        return len(SWEPT_RE.findall(self.log_text()))

    def swept(self):
        """Sum of `event=sip_bindings_swept count=N` over this node's
        logs."""
        return sum(int(m.group(1)) for m in
                   SWEPT_RE.finditer(self.log_text()))


class Cluster:
    """Nodes sharing one database. nodes[0] made the first account; every
    node's .account is that account."""

    def __init__(self, workdir, db_url, env=None):
        self.dir = Path(workdir)
        self.db_url = db_url
        self.env = dict(BASE_ENV)
        self.env.update(env or {})
        self.nodes = []
        self.domain = rest.udomain("mn")

    def add(self, env=None):
        name = "ABCDEFGH"[len(self.nodes)]
        e = dict(self.env)
        e.update(env or {})
        n = Node(self.dir / ("node" + name), name, db=self.db_url,
                 domain=self.domain, env=e)
        first = not self.nodes
        n.start(expect_account=True if first else False)
        if not first:
            n.account = self.nodes[0].account
        self.nodes.append(n)
        return n

    def stop(self):
        errors = []
        for n in self.nodes:
            try:
                n.stop(check=True)
            except AssertionError as e:
                errors.append("%s: %s" % (n.name, e))
            finally:
                if n.proc is not None:
                    n.kill()
        assert not errors, "\n".join(errors)


# --------------------------------------------------------------------------
# endpoints and SIP

class Phone:
    """One endpoint and a UA that registers it over UDP to any node."""

    def __init__(self, api, username, password, domain):
        self.api = api
        self.username, self.password, self.domain = username, password, \
            domain
        self.id = None

    def create(self):
        self.id = self.api.create_endpoint(self.username,
                                           self.password)["endpoint_id"]
        return self

    def ua(self, node, password=None, **kw):
        return sipclient.UA(node.conn(), self.username, self.domain,
                            password or self.password, alg="MD5", **kw)

    def contact(self, ua, tag="a"):
        return "sip:%s-%s@%s" % (self.username, tag, ua.c.local_hostport)


def new_phone(api, domain):
    return Phone(api, rest.uname("p"), rest.pw(), domain).create()


def register(ua, expires=3600, contacts=None, password=None,
             fresh_nonce=False):
    """REGISTER with digest credentials; returns the final response."""
    return ua.register(contacts=contacts, expires=expires, password=password,
                       fresh_nonce=fresh_nonce)


# --------------------------------------------------------------------------
# private PostgreSQL clusters (for tests that stop the server)

class PgCluster:
    """A throwaway cluster of its own (scripts/pg-cluster.sh), so stopping
    it cannot disturb other suites running in parallel."""

    def __init__(self):
        # not under pytest's tmp dirs: those are 0700 root, and the
        # cluster runs as the unprivileged postgres user
        self.dir = Path(tempfile.mkdtemp(prefix="sipward-pgfault-"))
        self.url = None

    def _run(self, cmd, timeout=120):
        r = subprocess.run(["sh", str(PG_CLUSTER), cmd, str(self.dir)],
                           capture_output=True, timeout=timeout)
        assert r.returncode == 0, "pg-cluster.sh %s failed: %s" % (
            cmd, (r.stdout + r.stderr).decode(errors="replace"))
        return r.stdout.decode()

    def start(self):
        self._run("start")
        self.url = (self.dir / "url").read_text().strip()
        return self

    def halt(self):
        self._run("halt")

    def resume(self):
        self._run("resume")

    def remove(self):
        if self.dir.exists():
            self._run("stop")


# --------------------------------------------------------------------------
# fixtures

@pytest.fixture
def mn_cluster(tmp_path):
    """Factory: mn_cluster(n, env=None, db_url=None) -> Cluster with n
    nodes on one fresh database (of the configured PostgreSQL server unless
    db_url is given). All nodes are stopped (cleanly, checked) and the
    database dropped at teardown."""
    made = []

    def make(n=2, env=None, db_url=None, sub=None):
        url = db_url or rest.pg_create_db()
        c = Cluster(tmp_path / (sub or "cluster%d" % len(made)), url, env)
        made.append(c)
        for _ in range(n):
            c.add()
        return c

    yield make
    errors = []
    for c in made:
        try:
            c.stop()
        except AssertionError as e:
            errors.append(str(e))
        rest.pg_drop_db(c.db_url)
    assert not errors, "\n".join(errors)


@pytest.fixture
def mn_private_pg():
    """A private PostgreSQL cluster, removed at teardown."""
    pg = PgCluster()
    try:
        pg.start()
        yield pg
    finally:
        pg.remove()


# --------------------------------------------------------------------------
# misc

# The suite's one condition wait (tests/integ/conftest.py).
wait_until = rest.wait_until


def run_threads(fns, timeout=60):
    """Starts one thread per callable, joins them all (bounded); re-raises
    the first exception of any."""
    errs = []

    def wrap(f):
        def g():
            try:
                f()
            except BaseException as e:  # noqa: B902
                errs.append(e)
        return g

    ts = [threading.Thread(target=wrap(f), daemon=True) for f in fns]
    for t in ts:
        t.start()
    deadline = time.monotonic() + timeout
    for t in ts:
        t.join(max(0.1, deadline - time.monotonic()))
    assert not any(t.is_alive() for t in ts), "threads still running " \
        "after %ss" % timeout
    if errs:
        raise errs[0]
