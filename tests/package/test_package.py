"""The Debian package (make deb, debian/, docs/package.md) on this machine:
built by `make deb` from a copy of the source tree, checked by lintian,
installed with dpkg, its binary, user, state directory, conffile, man page
and unit checked, then purged, which must keep the database.

Needs root and dpkg (a Debian machine); skipped otherwise, and skipped when
a sipward package (or its leftovers: /var/lib/sipward, /etc/sipward) is
already on the machine, which the test would clobber. Whatever happens,
the machine is left as it was found: the package purged, and the state
directory, user and group removed when the test made them.

Never starts the service and needs no running systemd (CI runs in a
container): the unit is checked with systemd-analyze, offline."""

import grp
import json
import os
import pwd
import re
import shutil
import signal
import socket
import stat
import subprocess
import tempfile
import time
import urllib.request
from pathlib import Path

import pytest

SRC = Path(__file__).resolve().parents[2]
STATE = Path("/var/lib/sipward")
ETC = Path("/etc/sipward")
CONF = ETC / "sipward.conf"
UNIT = Path("/lib/systemd/system/sipward.service")
MAN = Path("/usr/share/man/man8/sipward.8.gz")
WANTS = Path("/etc/systemd/system/multi-user.target.wants/sipward.service")
# The exposure score of `systemd-analyze security` the unit must stay
# under (docs/package.md records the measured one, 1.5).
EXPOSURE_MAX = 2.0
NOT_RUN = "package test not run: "


def run(*cmd, check=True, **kw):
    p = subprocess.run([str(c) for c in cmd], capture_output=True,
                       text=True, **kw)
    if check and p.returncode != 0:
        pytest.fail("%s exited %d\nstdout:\n%s\nstderr:\n%s"
                    % (" ".join(map(str, cmd)), p.returncode, p.stdout,
                       p.stderr))
    return p


def pkg_status():
    """dpkg's status of sipward: '' when dpkg has never heard of it."""
    p = subprocess.run(["dpkg-query", "-W", "-f=${db:Status-Status}",
                        "sipward"], capture_output=True, text=True)
    return p.stdout.strip() if p.returncode == 0 else ""


def user_exists(name):
    try:
        pwd.getpwnam(name)
        return True
    except KeyError:
        return False


def group_exists(name):
    try:
        grp.getgrnam(name)
        return True
    except KeyError:
        return False


def statoverride():
    p = subprocess.run(["dpkg-statoverride", "--list", str(CONF)],
                       capture_output=True, text=True)
    return p.stdout.split() if p.returncode == 0 else None


class Machine:
    """What was there before the test, and how to put it back."""

    def __init__(self):
        self.user = user_exists("sipward")
        self.group = group_exists("sipward")
        self.wants = WANTS.is_symlink() or WANTS.exists()

    def restore(self):
        errors = []
        if pkg_status() not in ("", "not-installed"):
            p = subprocess.run(["dpkg", "--purge", "sipward"],
                               capture_output=True, text=True)
            if p.returncode:
                errors.append("dpkg --purge: " + p.stdout + p.stderr)
        if statoverride() is not None:
            subprocess.run(["dpkg-statoverride", "--remove", str(CONF)],
                           capture_output=True)
        for d in (STATE, ETC):
            shutil.rmtree(d, ignore_errors=True)
        if not self.wants and WANTS.is_symlink():
            WANTS.unlink()
        if not self.user and user_exists("sipward"):
            subprocess.run(["userdel", "sipward"], capture_output=True)
        if not self.group and group_exists("sipward"):
            subprocess.run(["groupdel", "sipward"], capture_output=True)
        return errors


@pytest.fixture(scope="module")
def machine():
    if os.geteuid() != 0:
        pytest.skip(NOT_RUN + "needs root (dpkg -i)")
    if not shutil.which("dpkg") or not shutil.which("dpkg-buildpackage"):
        pytest.skip(NOT_RUN + "needs dpkg and dpkg-dev (Debian)")
    status = pkg_status()
    if status not in ("", "not-installed"):
        pytest.skip(NOT_RUN + "a sipward package is on this machine "
                    "(dpkg status %r): not clobbering it" % status)
    for d in (STATE, ETC):
        if d.exists():
            pytest.skip(NOT_RUN + "%s exists (a sipward package's "
                        "leftovers?): not clobbering it" % d)
    m = Machine()
    yield m
    errors = m.restore()
    assert not errors, errors


def copy_tree(dst):
    """The source tree as git sees it (tracked files and new ones that are
    not ignored), or everything but the build trees without git."""
    p = subprocess.run(["git", "-C", str(SRC), "ls-files", "-z", "--cached",
                        "--others", "--exclude-standard"],
                       capture_output=True)
    if p.returncode == 0:
        for name in p.stdout.decode().split("\0"):
            s = SRC / name
            if not name or not s.is_file():
                continue  # deleted in the work tree
            (dst / name).parent.mkdir(parents=True, exist_ok=True)
            shutil.copy2(s, dst / name)
        return
    shutil.copytree(SRC, dst, dirs_exist_ok=True, symlinks=True,
                    ignore=shutil.ignore_patterns("build*", ".git", "*.db"))


@pytest.fixture(scope="module")
def deb(machine, tmp_path_factory):
    """Builds the package with `make deb` in a copy of the tree (the
    developer's tree stays as it is)."""
    work = tmp_path_factory.mktemp("deb")
    tree = work / "sipward"
    tree.mkdir()
    try:
        copy_tree(tree)
        # two compile jobs, niced: CTest runs the other suites meanwhile
        p = subprocess.run(["nice", "-n", "10", "make", "-C", str(tree),
                            "deb", "JOBS=2"],
                           capture_output=True, text=True)
        if p.returncode:
            pytest.fail("make deb exited %d:\n%s\n%s" % (
                p.returncode, p.stdout[-6000:], p.stderr[-6000:]))
        debs = sorted((tree / "build-deb").glob("sipward_*.deb"))
        assert len(debs) == 1, debs
        # nothing written beside the tree (dpkg-buildpackage's default)
        assert sorted(x.name for x in work.iterdir()) == ["sipward"]
        yield debs[0]
    finally:
        shutil.rmtree(work, ignore_errors=True)


@pytest.fixture(scope="module")
def installed(deb):
    run("dpkg", "-i", deb)
    assert pkg_status() == "installed"
    return deb


def built_version(deb):
    return run("dpkg-deb", "-f", deb, "Version").stdout.strip()


def test_deb_contents(deb):
    assert re.fullmatch(r"sipward_[0-9.]+_[a-z0-9]+\.deb", deb.name), deb
    files = run("dpkg-deb", "-c", deb).stdout
    for f in ("./usr/sbin/sipward", "./lib/systemd/system/sipward.service",
              "./etc/sipward/sipward.conf",
              "./usr/share/man/man8/sipward.8.gz",
              "./usr/share/doc/sipward/copyright"):
        assert re.search(r" %s$" % re.escape(f), files, re.M), (f, files)
    # neither the tests nor the shared build trees went in
    assert "test_" not in files and "/build" not in files, files
    conffiles = run("dpkg-deb", "-e", deb, deb.parent / "control").stdout
    assert (deb.parent / "control" / "conffiles").read_text().split() == \
        ["/etc/sipward/sipward.conf"], conffiles
    assert "adduser" in run("dpkg-deb", "-f", deb, "Depends").stdout


def test_lintian_clean(deb):
    """lintian on the package, the .buildinfo and .changes: no tag but
    the one debian/sipward.lintian-overrides explains."""
    changes = list(deb.parent.glob("sipward_*.changes"))
    assert len(changes) == 1, changes
    # an override that no longer matches is a tag too (unused-override)
    p = run("lintian", "--pedantic", "-I", "--fail-on",
            "error,warning,info,pedantic", changes[0], check=False)
    tags = [line for line in p.stdout.splitlines() if line[1:3] == ": "]
    assert p.returncode == 0 and tags == [], p.stdout + p.stderr


def test_binary_user_and_state_directory(installed):
    out = run("/usr/sbin/sipward", "--version").stdout.strip()
    assert out == "sipward " + built_version(installed)
    assert shutil.which("sipward") == "/usr/sbin/sipward"
    u = pwd.getpwnam("sipward")
    assert grp.getgrgid(u.pw_gid).gr_name == "sipward"
    assert u.pw_uid < 1000, u  # a system user
    assert u.pw_dir == str(STATE)
    assert u.pw_shell in ("/usr/sbin/nologin", "/bin/false"), u
    st = STATE.stat()
    assert (st.st_uid, st.st_gid) == (u.pw_uid, u.pw_gid)
    assert stat.S_IMODE(st.st_mode) == 0o750


def test_account_create_on_a_given_database(installed, tmp_path):
    db = tmp_path / "x.db"
    p = run("sipward", "account", "create", "--db", "sqlite:%s" % db,
            "--domain", "pkg.example.org", cwd=tmp_path)
    acct = json.loads(p.stdout)
    assert sorted(acct) == ["auth_id", "auth_token", "domain"], acct
    assert re.fullmatch(r"MA_[A-Z0-9]{8}", acct["auth_id"]), acct
    assert len(acct["auth_token"]) >= 32, acct
    assert acct["domain"] == "pkg.example.org"
    assert db.exists() and Path(str(db) + ".key").exists()


def test_first_account_as_the_sipward_user(installed):
    """What docs/package.md tells the admin to run, with the packaged
    configuration, paths and permissions."""
    p = run("runuser", "-u", "sipward", "--", "sipward", "account", "create",
            "--config", CONF, cwd="/")
    acct = json.loads(p.stdout)
    assert acct["domain"] == "sipward.localhost", acct
    u = pwd.getpwnam("sipward")
    for name in ("sipward.db", "sipward.db.key"):
        st = (STATE / name).stat()
        assert st.st_uid == u.pw_uid, name
        assert stat.S_IMODE(st.st_mode) == 0o600, (name, oct(st.st_mode))
    # root reading as another user could not: the conffile is 0640
    p = run("runuser", "-u", "nobody", "--", "sipward", "account", "create",
            "--config", CONF, check=False, cwd="/")
    assert p.returncode == 2 and "Permission denied" in p.stderr, p.stderr


class Notify:
    """A NOTIFY_SOCKET like systemd's, that the sipward user may write."""

    def __init__(self, path):
        self.path = str(path)
        self.sock = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
        self.sock.bind(self.path)
        os.chmod(self.path, 0o666)
        self.sock.settimeout(0.2)
        self.msgs = []

    def wait(self, line, n=1, timeout=20, log=None):
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if sum(line in m.split("\n") for m in self.msgs) >= n:
                return
            try:
                self.msgs.append(self.sock.recv(4096).decode())
            except socket.timeout:
                pass
        pytest.fail("no %d x %r from sipward (got %r)%s" % (
            n, line, self.msgs, "\n" + log.read_text() if log else ""))


def free_privileged_port():
    for port in range(1023, 600, -1):
        with socket.socket() as s:
            try:
                s.bind(("127.0.0.1", port))
                return port
            except OSError:
                continue
    pytest.skip("no free TCP port below 1024 on 127.0.0.1")


def test_serve_in_an_emulated_sandbox(installed, tmp_path):
    """What systemd would run, as near as a machine without systemd as PID
    1 allows: the unit's ExecStart as the sipward user, with only
    CAP_NET_BIND_SERVICE (ambient, which the REST API on a port below 1024
    needs), no_new_privs, / read-only but /var/lib/sipward (ProtectSystem=
    strict, StateDirectory=), NOTIFY_SOCKET and WATCHDOG_USEC: READY=1,
    the watchdog fed, SIGHUP (ExecReload) and SIGTERM answered."""
    ro = ("mount --bind {state} {state} && mount -o remount,bind,ro /"
          .format(state=STATE))
    probe = subprocess.run(["unshare", "-m", "--propagation", "private",
                            "sh", "-c", ro + " && ! touch /etc/sipward-ro"],
                           capture_output=True, text=True)
    if Path("/etc/sipward-ro").exists():  # / was not read-only after all
        Path("/etc/sipward-ro").unlink()
    if probe.returncode:
        pytest.skip("a private read-only mount namespace is not allowed "
                    "here (unshare -m, mount): %s" % probe.stderr.strip())
    # the socket where the sipward user reaches it (pytest's tmp_path is
    # under a directory of mode 0700)
    sockdir = Path(tempfile.mkdtemp(prefix="sipward-notify-", dir="/run"))
    os.chmod(sockdir, 0o755)
    notify = Notify(sockdir / "notify.sock")
    port = free_privileged_port()
    unit = UNIT.read_text()
    exec_start = re.search(r"^ExecStart=(.*)$", unit, re.M).group(1)
    inner = (ro + " && cd {state} && exec setpriv --reuid=sipward "
             "--regid=sipward --clear-groups "
             "--inh-caps=-all,+net_bind_service "
             "--ambient-caps=+net_bind_service "
             "--bounding-set=-all,+net_bind_service --no-new-privs "
             "{cmd} --http 127.0.0.1:{port} --sip 127.0.0.1:0"
             ).format(state=STATE, cmd=exec_start, port=port)
    env = dict(os.environ, NOTIFY_SOCKET=notify.path,
               WATCHDOG_USEC="3000000", SIPWARD_ADMIN_HTTP="127.0.0.1:0")
    err = open(tmp_path / "stderr.log", "wb")
    p = subprocess.Popen(["unshare", "-m", "--propagation", "private", "sh",
                          "-c", inner], env=env, stdout=subprocess.DEVNULL,
                         stderr=err, stdin=subprocess.DEVNULL)
    err.close()
    try:
        notify.wait("READY=1", log=tmp_path / "stderr.log")
        with urllib.request.urlopen("http://127.0.0.1:%d/health" % port,
                                    timeout=10) as r:
            assert r.status == 200
        # the web console is in the binary, JsSIP (its softphone) with it
        for path, ctype in (("/console/", "text/html"),
                            ("/console/vendor/jssip.min.js",
                             "text/javascript")):
            with urllib.request.urlopen("http://127.0.0.1:%d%s" % (
                    port, path), timeout=10) as r:
                assert r.status == 200, path
                assert r.headers["Content-Type"].startswith(ctype), path
                assert len(r.read()) > 1000, path
        notify.wait("WATCHDOG=1", 2)  # every second at 3 s
        p.send_signal(signal.SIGHUP)
        notify.wait("RELOADING=1")
        notify.wait("READY=1", 2)
        p.send_signal(signal.SIGTERM)
        assert p.wait(timeout=45) == 0, (tmp_path / "stderr.log").read_text()
        notify.wait("STOPPING=1")
    finally:
        if p.poll() is None:
            p.kill()
            p.wait()
        notify.sock.close()
        shutil.rmtree(sockdir, ignore_errors=True)


def conf_options(text):
    """{name: value} of the `#name = value` and `name = value` lines."""
    opts = {}
    for line in text.splitlines():
        m = re.match(r"^(#?)([a-z0-9_]+) =(?: (.*))?$", line)
        if m:
            opts[m.group(2)] = (m.group(1) == "", m.group(3) or "")
    return opts


def test_conffile(installed, tmp_path):
    st = CONF.stat()
    assert grp.getgrgid(st.st_gid).gr_name == "sipward" and st.st_uid == 0
    assert stat.S_IMODE(st.st_mode) == 0o640
    assert statoverride() == ["root", "sipward", "640", str(CONF)]
    text = CONF.read_text()
    opts = conf_options(text)
    # every option of the binary's table, once
    table = run("sipward", "--config-doc").stdout
    names = re.findall(r"^\| `([a-z0-9_]+)` \|", table, re.M)
    assert sorted(opts) == sorted(names)
    for name in names:
        assert len(re.findall(r"^#?%s =" % name, text, re.M)) == 1, name
    # only db is set, to the state directory
    assert {n: v for n, (on, v) in opts.items() if on} == \
        {"db": "sqlite:/var/lib/sipward/sipward.db"}
    # each commented value is the default of the table
    for row in re.finditer(r"^\| `([a-z0-9_]+)` \| [^|]+ \| `([^`]*)` \|",
                           table, re.M):
        if row.group(1) != "db":
            assert opts[row.group(1)] == (False, row.group(2)), row.group(0)
    # uncommented, the file parses (account create reads and checks the
    # whole configuration); options with an empty default one by one
    full = re.sub(r"^#([a-z0-9_]+ = .+)$", r"\1", text, flags=re.M)
    (tmp_path / "all.conf").write_text(full)
    run("sipward", "account", "create", "--config", tmp_path / "all.conf",
        "--db", "sqlite:%s" % (tmp_path / "all.db"), cwd=tmp_path)
    # (each option with an empty default takes `name =`: uncommenting any
    # line of the conffile as shipped never stops the service)
    refused = set()
    for name, (on, value) in opts.items():
        if value:
            continue
        one = tmp_path / ("%s.conf" % name)
        one.write_text("%s =\n" % name)
        p = run("sipward", "account", "create", "--config", one, "--db",
                "sqlite:%s" % (tmp_path / "empty.db"), check=False,
                cwd=tmp_path)
        if p.returncode:
            refused.add((name, p.stderr))
    assert not refused, refused
    # a bad file is refused with its line
    bad = tmp_path / "bad.conf"
    bad.write_text("db = sqlite:/nonexistent/x.db\nno_such_option = 1\n")
    p = run("sipward", "serve", "--config", bad, check=False, cwd=tmp_path)
    assert p.returncode == 2, p
    assert "bad.conf:2: unknown option 'no_such_option'" in p.stderr


def test_man_page(installed):
    listed = run("dpkg", "-L", "sipward").stdout.split()
    assert str(MAN) in listed
    if not MAN.exists():
        pytest.skip("dpkg's path-exclude left out %s (a slim container)" % MAN)
    if shutil.which("man"):
        assert run("man", "-w", "sipward").stdout.strip() == str(MAN)
        p = run("man", "--warnings", "-l", MAN, env=dict(
            os.environ, MANWIDTH="80"))
        assert p.stderr == "", p.stderr
        page = p.stdout
        for heading in ("SYNOPSIS", "COMMANDS", "OPTIONS", "CONFIGURATION",
                        "FILES", "EXIT STATUS"):
            assert re.search(r"^%s$" % heading, page, re.M), heading
        # every option of the table is documented
        table = run("sipward", "--config-doc").stdout
        for name in re.findall(r"^\| `([a-z0-9_]+)` \|", table, re.M):
            assert re.search(r"^ +%s \(" % name, page, re.M), name


def test_unit(installed):
    if not shutil.which("systemd-analyze"):
        pytest.skip("systemd-analyze not installed")
    text = UNIT.read_text()
    for line in ("Type=notify", "WatchdogSec=30s", "NotifyAccess=main",
                 "ExecStart=/usr/sbin/sipward serve --config "
                 "/etc/sipward/sipward.conf",
                 "ExecReload=/bin/kill -HUP $MAINPID", "User=sipward",
                 "StateDirectory=sipward", "TimeoutStopSec=40s"):
        assert re.search(r"^%s$" % re.escape(line), text, re.M), line
    p = run("systemd-analyze", "verify", UNIT, check=False)
    problems = [x for x in (p.stdout + p.stderr).splitlines() if x.strip()]
    if not MAN.exists():  # verify runs `man` on Documentation=man:...
        problems = [x for x in problems if "man sipward(8)" not in x]
    assert problems == [], problems
    p = run("systemd-analyze", "security", "--offline=yes",
            # its threshold is in tenths (score 2.0: 20)
            "--threshold=%d" % round(EXPOSURE_MAX * 10), UNIT, check=False)
    m = re.search(r"Overall exposure level for sipward.service: ([0-9.]+)",
                  p.stdout)
    assert m and p.returncode == 0, p.stdout[-600:] + p.stderr
    assert float(m.group(1)) <= EXPOSURE_MAX
    # enabled at install, not started (docs/package.md)
    assert WANTS.is_symlink() and os.readlink(WANTS) == str(UNIT)


def test_reinstall_keeps_configuration_and_database(installed):
    if not (STATE / "sipward.db").exists():
        run("runuser", "-u", "sipward", "--", "sipward", "account", "create",
            "--config", CONF, cwd="/")
    before = (STATE / "sipward.db").stat().st_ino
    with CONF.open("a") as f:
        f.write("log_level = debug\n")
    run("dpkg", "-i", installed, env=dict(os.environ,
                                         DEBIAN_FRONTEND="noninteractive"))
    assert CONF.read_text().endswith("log_level = debug\n")
    assert statoverride() == ["root", "sipward", "640", str(CONF)]
    assert (STATE / "sipward.db").stat().st_ino == before


def test_purge_keeps_the_database(installed):
    if not (STATE / "sipward.db").exists():
        run("runuser", "-u", "sipward", "--", "sipward", "account", "create",
            "--config", CONF, cwd="/")
    key = (STATE / "sipward.db.key").read_text()
    run("dpkg", "--purge", "sipward")
    assert pkg_status() in ("", "not-installed")
    assert not Path("/usr/sbin/sipward").exists()
    assert not UNIT.exists() and not WANTS.is_symlink()
    assert not CONF.exists() and statoverride() is None
    # the database, its key and the user stay (docs/package.md)
    assert (STATE / "sipward.db").stat().st_size > 0
    assert (STATE / "sipward.db.key").read_text() == key
    assert user_exists("sipward")
