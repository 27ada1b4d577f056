"""A real browser for the integration tests: a Browser runs
tests/node/browser.js (Debian's headless Chromium driven by puppeteer-core,
its page running JsSIP or SIP.js), sends it commands and collects its
events, one JSON object per line, in a reader thread.

    b = Browser(tmp_path, stack="jssip", ws_url="wss://127.0.0.1:%d" % port,
                uri="sip:%s@%s" % (user, domain), username=user,
                password=password)
    try:
        b.register()                      # waits for "registered"
        b.call("sip:bob@" + domain)
        b.wait_event("confirmed", 20)
        b.wait_media()                    # stats until packets both ways
    finally:
        b.close()

Lower level: mark = b.send("register"), then b.wait_event("registered",
since=mark) (events are numbered; since= ignores earlier ones); b.events
holds every event so far. Waits are wait_until (conftest.py): a failure
says what was awaited and lists the events seen and the tail of the
browser's stderr (the page's console). Browser needs node on PATH,
SIPWARD_NODE_MODULES (installed by scripts/npm-deps.sh; ctest sets it) and
/usr/bin/chromium: without them, browser_or_skip() skips the test.
"""

import importlib.util
import json
import os
import shutil
import signal
import subprocess
import sys
import threading
import time
from pathlib import Path

import pytest

HERE = Path(__file__).resolve().parent
SCRIPT = HERE.parent / "node" / "browser.js"
CHROMIUM = os.environ.get("SIPWARD_CHROMIUM", "/usr/bin/chromium")

START_TIMEOUT = 60.0  # Chromium start + page load, on a busy 2-core box
STEP_TIMEOUT = 20.0   # default wait for one event
CLOSE_TIMEOUT = 15.0  # quit -> exit


def _wait_until():
    """conftest.py's wait_until: the one instance tests/integ/sip/conftest.py
    also loads (by path, under its own name), or conftest itself."""
    name = "sipward_integ_rest_conftest"
    mod = sys.modules.get(name)
    if mod is None:
        mod = sys.modules.get("conftest")
        if mod is None or not hasattr(mod, "wait_until"):
            spec = importlib.util.spec_from_file_location(
                name, str(HERE / "conftest.py"))
            mod = importlib.util.module_from_spec(spec)
            sys.modules[name] = mod
            spec.loader.exec_module(mod)
    return mod.wait_until


wait_until = _wait_until()


def browser_or_skip():
    """(node, node_modules) when a browser can run here; skips the test
    when the tools are missing (a plain pytest run without the npm
    packages), fails when SIPWARD_NODE_MODULES is set but broken."""
    modules = os.environ.get("SIPWARD_NODE_MODULES")
    node = shutil.which("node")
    if not modules:
        pytest.skip("browser tests need the npm packages: set "
                    "SIPWARD_NODE_MODULES (sh scripts/npm-deps.sh build/node; "
                    "ctest sets it)")
    # under ctest (which sets SIPWARD_NODE_MODULES) a missing browser is
    # a failure, never a silent skip: make test installs both
    assert node, "node is not installed (Debian package nodejs)"
    assert os.access(CHROMIUM, os.X_OK), \
        "%s is not installed (Debian package chromium)" % CHROMIUM
    for pkg in ("puppeteer-core", "jssip", "sip.js"):
        assert os.path.isfile(os.path.join(modules, pkg, "package.json")), \
            "SIPWARD_NODE_MODULES=%s has no %s: run sh scripts/npm-deps.sh" \
            " build/node" % (modules, pkg)
    return node, modules


def parse_line(raw):
    """One stdout line of a node driver (browser.js, console.js) as a
    dict: its JSON object, {"event": "_raw", "line": ...} for anything
    else, None for a blank line."""
    line = raw.decode(errors="replace").strip()
    if not line:
        return None
    try:
        ev = json.loads(line)
        if isinstance(ev, dict):
            return ev
    except ValueError:
        pass
    return {"event": "_raw", "line": line}


class BrowserError(AssertionError):
    pass


class Browser:
    """One browser.js process (one Chromium, one page, at most one SIP
    user agent). scenario keys: see tests/node/browser.js (stack, ws_url,
    uri, username, password, ice_servers, user_agent, timeout, debug).
    Starts at once and waits for the page ("ready", with the library
    versions in .ready); close() always, e.g. in a finally or a fixture."""

    def __init__(self, workdir, start_timeout=START_TIMEOUT, **scenario):
        node, modules = browser_or_skip()
        self.dir = Path(workdir)
        self.dir.mkdir(parents=True, exist_ok=True)
        n = 1
        while (self.dir / ("browser.%d.log" % n)).exists():
            n += 1
        self.stderr_path = self.dir / ("browser.%d.log" % n)
        self.scenario = scenario
        self.events = []
        self.lock = threading.Lock()
        self.ready = None
        self.chromium_pid = None
        err = open(self.stderr_path, "wb")
        env = dict(os.environ)
        env["SIPWARD_NODE_MODULES"] = modules
        env["PUPPETEER_SKIP_DOWNLOAD"] = "1"
        try:
            self.proc = subprocess.Popen(
                [node, str(SCRIPT)], stdin=subprocess.PIPE,
                stdout=subprocess.PIPE, stderr=err, env=env,
                start_new_session=True)
        finally:
            err.close()
        self.reader = threading.Thread(target=self._read, daemon=True)
        self.reader.start()
        try:
            self._write(scenario)
            self.ready = self.wait_event("ready", start_timeout)
            self.chromium_pid = self.ready.get("chromium_pid")
        except BaseException:
            self.close()
            raise

    # -- plumbing

    def _read(self):
        for raw in self.proc.stdout:
            ev = parse_line(raw)
            if ev is None:
                continue
            ev["_t"] = time.monotonic()
            with self.lock:
                ev["_n"] = len(self.events)
                self.events.append(ev)

    def _write(self, obj):
        try:
            self.proc.stdin.write((json.dumps(obj) + "\n").encode())
            self.proc.stdin.flush()
        except (BrokenPipeError, OSError) as e:
            raise BrowserError("browser.js is gone (%s): exit %r\n%s" % (
                e, self.proc.poll(), self.diagnostics()))

    def stderr_tail(self, n=4000):
        try:
            return self.stderr_path.read_text(errors="replace")[-n:]
        except OSError:
            return ""

    def diagnostics(self):
        with self.lock:
            evs = [{k: v for k, v in e.items() if not k.startswith("_")}
                   for e in self.events]
        return "events: %s\nbrowser stderr (%s) tail:\n%s" % (
            json.dumps(evs), self.stderr_path, self.stderr_tail())

    def mark(self):
        """The number of events so far: since= for a later wait."""
        with self.lock:
            return len(self.events)

    def send(self, cmd, **args):
        """Sends one command; returns the mark to wait from."""
        m = self.mark()
        obj = {"cmd": cmd}
        obj.update(args)
        self._write(obj)
        return m

    def find(self, names, since=0, pred=None):
        """The first event at or after since whose name is in names (and
        which pred accepts), or None."""
        if isinstance(names, str):
            names = (names,)
        with self.lock:
            for e in self.events[since:]:
                if e.get("event") in names and (pred is None or pred(e)):
                    return e
        return None

    def wait_event(self, names, timeout=STEP_TIMEOUT, since=0, pred=None,
                   fail_on=("error",)):
        """Waits (wait_until) for the first event named names (a name or a
        tuple) at or after since, and returns it. Fails at once when an
        event in fail_on comes first or browser.js exits, and after timeout
        otherwise, listing the events seen and the page's console."""
        if isinstance(names, str):
            names = (names,)
        fail_on = tuple(n for n in (fail_on or ()) if n not in names)

        def got():
            e = self.find(names, since, pred)
            if e is not None:
                return e
            bad = self.find(fail_on, since) if fail_on else None
            if bad is not None:
                raise BrowserError("waiting for %s, got %s\n%s" % (
                    "|".join(names), bad, self.diagnostics()))
            if self.proc.poll() is not None:
                self.reader.join(2)  # the last lines it wrote
                e = self.find(names, since, pred)
                if e is not None:
                    return e
                raise BrowserError("browser.js exited (%r) while waiting "
                                   "for %s\n%s" % (self.proc.returncode,
                                                   "|".join(names),
                                                   self.diagnostics()))
            return None
        try:
            return wait_until(got, timeout, "browser event %s" %
                              "|".join(names), step=0.05)
        except BrowserError:
            raise
        except AssertionError as e:
            raise BrowserError("%s\n%s" % (e, self.diagnostics())) from None

    def command(self, cmd, timeout=STEP_TIMEOUT, **args):
        """Sends cmd and waits for the page to have run it ("done");
        a page-side failure ("error") fails."""
        m = self.send(cmd, **args)
        return self.wait_event("done", timeout, since=m,
                               pred=lambda e: e.get("cmd") == cmd)

    # -- SIP

    def register(self, timeout=STEP_TIMEOUT, expect=True):
        """REGISTERs; returns the registered event (expect=True) or the
        registrationFailed event (expect=False), failing on the other."""
        m = self.send("register")
        want, other = ("registered", "registrationFailed") if expect \
            else ("registrationFailed", "registered")
        return self.wait_event(want, timeout, since=m,
                               fail_on=("error", other))

    def unregister(self, timeout=STEP_TIMEOUT):
        m = self.send("unregister")
        return self.wait_event("unregistered", timeout, since=m)

    def call(self, target):
        """Starts a call (returns the mark; wait for "confirmed")."""
        return self.send("call", target=target)

    def answer(self):
        return self.send("answer")

    def hangup(self):
        return self.send("hangup")

    def stats(self, timeout=STEP_TIMEOUT):
        """The page's RTP counters of the current peer connection (and of
        the loopback pair under "peers")."""
        m = self.send("stats")
        return self.wait_event("stats", timeout, since=m)

    def wait_media(self, timeout=STEP_TIMEOUT, both_ways=True):
        """Polls stats until RTP packets arrived (and were sent); returns
        the last stats event."""
        last = {}

        def flowing():
            s = last["s"] = self.stats()
            return s if s.get("inbound_packets", 0) > 0 and (
                not both_ways or s.get("outbound_packets", 0) > 0) else None
        try:
            return wait_until(flowing, timeout, "RTP in the page",
                              step=0.2)
        except AssertionError as e:
            raise BrowserError("%s (last stats %s)\n%s" % (
                e, last.get("s"), self.diagnostics())) from None

    # -- end

    def alive(self):
        return self.proc.poll() is None

    def close(self, timeout=CLOSE_TIMEOUT):
        """quit, then SIGTERM, then SIGKILL, each waited for; Chromium's
        process group is killed by its pid if it outlived browser.js.
        Returns browser.js's exit status."""
        p = self.proc
        if p.poll() is None:
            try:
                p.stdin.write(b'{"cmd":"quit"}\n')
                p.stdin.flush()
                p.stdin.close()
            except (OSError, ValueError):
                pass  # gone already, or stdin closed (EOF sent)
            try:
                p.wait(timeout=timeout)
            except subprocess.TimeoutExpired:
                p.send_signal(signal.SIGTERM)
                try:
                    p.wait(timeout=5)
                except subprocess.TimeoutExpired:
                    p.kill()
                    p.wait(timeout=5)
        self._kill_chromium()
        self.reader.join(5)
        return p.returncode

    def _kill_chromium(self):
        pid = self.chromium_pid
        if not pid:
            return
        try:
            os.kill(pid, 0)
        except OSError:
            return  # gone, as it should be
        # still there (browser.js was killed before it could close it):
        # Chromium leads its own process group
        for target in (lambda: os.killpg(pid, signal.SIGKILL),
                       lambda: os.kill(pid, signal.SIGKILL)):
            try:
                target()
            except OSError:
                pass

    def __enter__(self):
        return self

    def __exit__(self, *a):
        self.close()
