"""A real browser on one web page, for the web console's tests (and its
screenshots): a Console runs tests/node/console.js (Debian's headless
Chromium driven by puppeteer-core), sends it one command at a time and
collects everything the page did in a reader thread: its console messages,
errors, Content-Security-Policy violations, every URL it requested, every
HTTP error answer.

    c = Console(tmp_path)
    try:
        c.goto(srv.base + "/console/")
        c.type("#auth_id", auth_id)
        c.click("#signin button[type=submit]")
        c.wait("body", attr="data-page", value="endpoints")
    finally:
        c.close()

Every command is bounded (timeout= seconds, default STEP_TIMEOUT): a failed
one raises ConsoleError with the driver's message, what the selector
matched when it gave up (its text, attributes, value, visibility) and the
page's recent console lines. Waits on the page poll in the driver; waits on
anything else use wait_until (conftest.py), re-exported here. Needs what
browser.py needs (browser_or_skip: node, SIPWARD_NODE_MODULES,
/usr/bin/chromium).

Usable outside pytest (scripts/console-shots.py): pass node and modules
to Console() and no skip is involved."""

import json
import os
import signal
import subprocess
import threading
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent
SCRIPT = HERE.parent / "node" / "console.js"
CHROMIUM = os.environ.get("SIPWARD_CHROMIUM", "/usr/bin/chromium")

START_TIMEOUT = 60.0  # Chromium start, on a busy 2-core box
STEP_TIMEOUT = 20.0   # default bound of one command
CLOSE_TIMEOUT = 15.0  # quit -> exit
MARGIN = 15.0         # the driver answers within its bound + 5 s


class ConsoleError(AssertionError):
    pass


def _tools():
    """(node, node_modules) via browser.py's browser_or_skip."""
    from browser import browser_or_skip
    return browser_or_skip()


def wait_until(*a, **kw):
    from browser import wait_until as w
    return w(*a, **kw)


def _alive(pid):
    try:
        os.kill(pid, 0)
        return True
    except OSError:
        return False


class Console:
    """One console.js process: one Chromium, one page. close() always (a
    fixture or a finally)."""

    def __init__(self, workdir, start_timeout=START_TIMEOUT, node=None,
                 modules=None, timeout=STEP_TIMEOUT, fake_audio_file=None,
                 width=1280, height=800):
        if node is None or modules is None:
            node, modules = _tools()
        self.dir = Path(workdir)
        self.dir.mkdir(parents=True, exist_ok=True)
        n = 1
        while (self.dir / ("console-browser.%d.log" % n)).exists():
            n += 1
        self.stderr_path = self.dir / ("console-browser.%d.log" % n)
        self.events = []
        self.answers = {}
        self.cv = threading.Condition()
        self.next_id = 0
        self.ready = None
        self.chromium_pid = None
        opts = {"timeout": timeout, "width": width, "height": height}
        if fake_audio_file:
            opts["fake_audio_file"] = str(fake_audio_file)
        env = dict(os.environ, SIPWARD_NODE_MODULES=str(modules),
                   SIPWARD_CHROMIUM=CHROMIUM, PUPPETEER_SKIP_DOWNLOAD="1")
        with open(self.stderr_path, "wb") as err:
            self.proc = subprocess.Popen(
                [node, str(SCRIPT), json.dumps(opts)],
                stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=err,
                env=env, start_new_session=True)
        self.reader = threading.Thread(target=self._read, daemon=True)
        self.reader.start()
        try:
            self.ready = self._await(
                lambda: self._find(("ready", "error")), start_timeout,
                "the browser to start")
            if self.ready.get("event") != "ready":
                raise ConsoleError("the browser did not start: %s\n%s" % (
                    self.ready.get("error"), self.diagnostics()))
            self.chromium_pid = self.ready.get("chromium_pid")
        except BaseException:
            self.close()
            raise

    # -- plumbing

    def _read(self):
        from browser import parse_line
        for raw in self.proc.stdout:
            ev = parse_line(raw)
            if ev is None:
                continue
            with self.cv:
                if "event" not in ev and "id" in ev:
                    self.answers[ev["id"]] = ev
                else:
                    ev["_t"] = time.monotonic()
                    self.events.append(ev)
                self.cv.notify_all()
        with self.cv:
            self.cv.notify_all()

    def _find(self, names):
        for e in self.events:
            if e.get("event") in names:
                return e
        return None

    def _await(self, pred, timeout, what):
        """pred() (called under the lock) until not None; fails after
        timeout, or at once when the driver has exited."""
        end = time.monotonic() + timeout
        with self.cv:
            while True:
                v = pred()
                if v is not None:
                    return v
                if self.proc.poll() is not None:
                    self.cv.wait(0.5)  # its last lines
                    v = pred()
                    if v is not None:
                        return v
                    raise ConsoleError(
                        "console.js exited (%r) while waiting for %s\n%s" % (
                            self.proc.returncode, what,
                            self._diagnostics_locked()))
                left = end - time.monotonic()
                if left <= 0:
                    raise ConsoleError("waited %.0f s for %s\n%s" % (
                        timeout, what, self._diagnostics_locked()))
                self.cv.wait(min(left, 0.5))

    def stderr_tail(self, n=3000):
        try:
            return self.stderr_path.read_text(errors="replace")[-n:]
        except OSError:
            return ""

    def _diagnostics_locked(self, n=30):
        tail = [e for e in self.events
                if e.get("event") not in ("request", "websocket")][-n:]
        lines = []
        for e in tail:
            e = {k: v for k, v in e.items() if not k.startswith("_")}
            s = json.dumps(e)
            lines.append(s if len(s) <= 600 else s[:600] + "...")
        return "page events (last %d of the page's console, errors and " \
            "failed requests):\n  %s\ndriver stderr (%s):\n%s" % (
                len(lines), "\n  ".join(lines) or "(none)",
                self.stderr_path, self.stderr_tail())

    def diagnostics(self, n=30):
        with self.cv:
            return self._diagnostics_locked(n)

    def cmd(self, cmd_name, timeout=STEP_TIMEOUT, **args):
        """Sends one command and returns its result; ConsoleError when it
        failed (with what the driver saw) or the driver is gone."""
        with self.cv:
            self.next_id += 1
            n = self.next_id
        msg = dict(args, id=n, cmd=cmd_name, timeout=timeout)
        try:
            self.proc.stdin.write((json.dumps(msg) + "\n").encode())
            self.proc.stdin.flush()
        except (BrokenPipeError, OSError, ValueError) as e:
            raise ConsoleError("console.js is gone (%s): exit %r\n%s" % (
                e, self.proc.poll(), self.diagnostics()))
        shown = dict(args)
        if cmd_name == "type":  # tokens and passwords stay out of CI logs
            shown["text"] = "<%d characters>" % len(args.get("text", ""))
        what = "%s %s" % (cmd_name, json.dumps(shown))
        ans = self._await(lambda: self.answers.pop(n, None),
                          timeout + MARGIN, what)
        if not ans.get("ok"):
            seen = ans.get("seen")
            raise ConsoleError("%s failed: %s%s\n%s" % (
                what, ans.get("error"),
                "\n  the element: %s" % json.dumps(seen)
                if seen is not None else "", self.diagnostics()))
        return ans.get("result")

    # -- navigation and actions

    def goto(self, url, timeout=STEP_TIMEOUT):
        return self.cmd("goto", url=url, timeout=timeout)

    def reload(self, timeout=STEP_TIMEOUT):
        return self.cmd("reload", timeout=timeout)

    def viewport(self, width, height, mobile=False):
        return self.cmd("viewport", width=width, height=height,
                        mobile=mobile)

    def click(self, sel, timeout=STEP_TIMEOUT):
        """Waits for sel to be visible and enabled, then clicks it."""
        return self.cmd("click", sel=sel, timeout=timeout)

    def type(self, sel, text, clear=True, timeout=STEP_TIMEOUT):
        """Empties the field (clear) and types text key by key."""
        return self.cmd("type", sel=sel, text=text, clear=clear,
                        timeout=timeout)

    def select(self, sel, value, timeout=STEP_TIMEOUT):
        """Waits for <option value=value> in sel, then picks it."""
        return self.cmd("select", sel=sel, value=value, timeout=timeout)

    def check(self, sel, on=True, timeout=STEP_TIMEOUT):
        return self.cmd("check", sel=sel, on=on, timeout=timeout)

    def key(self, key, sel=None, timeout=STEP_TIMEOUT):
        args = {"key": key}
        if sel:
            args["sel"] = sel
        return self.cmd("key", timeout=timeout, **args)

    def press(self, key):
        return self.key(key)

    def dialogs(self, accept, text=None):
        """What to do with the page's alert/confirm/prompt dialogs."""
        return self.cmd("dialogs", accept=accept, text=text)

    def screenshot(self, path, full_page=False, timeout=30.0):
        return self.cmd("screenshot", path=str(path), full_page=full_page,
                        timeout=timeout)

    # -- reading the page

    def wait(self, sel, timeout=STEP_TIMEOUT, **cond):
        """Until the first match of sel meets every condition: text=
        (contained), attr= with value= (value None: no such attribute),
        prop= with value=, visible=True, hidden=True, gone=True, count=N,
        nonempty=True; returns what it saw (text, attrs, value, visible,
        count). A timeout says what it saw instead."""
        return self.cmd("wait", sel=sel, timeout=timeout, **cond)

    def page(self, name, timeout=STEP_TIMEOUT):
        """Until the console shows page name (body data-page)."""
        return self.wait("body", attr="data-page", value=name,
                         timeout=timeout)

    def text(self, sel):
        return self.cmd("text", sel=sel)

    def attr(self, sel, name):
        return self.cmd("attr", sel=sel, name=name)

    def prop(self, sel, name):
        return self.cmd("prop", sel=sel, name=name)

    def count(self, sel):
        return self.cmd("count", sel=sel)

    def read(self, sel, attr=None, prop=None):
        """The text of sel's first match, or its attribute attr, or its
        property prop (None when nothing matches)."""
        if attr:
            return self.attr(sel, attr)
        if prop:
            return self.prop(sel, prop)
        return self.text(sel)

    def probe(self, sel):
        return self.cmd("probe", sel=sel)

    def eval(self, expr, timeout=STEP_TIMEOUT):
        return self.cmd("eval", expr=expr, timeout=timeout)

    # -- what the page did

    def mark(self):
        with self.cv:
            return len(self.events)

    def of(self, kind, since=0):
        with self.cv:
            return [e for e in self.events[since:]
                    if e.get("event") == kind]

    def urls(self):
        """Every URL the page requested (and WebSocket it opened)."""
        with self.cv:
            return [e["url"] for e in self.events
                    if e.get("event") in ("request", "websocket")]

    def problems(self, allow=(), allow_status=()):
        """What should not happen on a page: page errors, CSP violations,
        console errors and warnings, failed requests and HTTP error
        answers, the driver's own errors, and dialogs; except the HTTP
        answers `allow` accepts: (status, url part) pairs a test
        provoked on purpose (and Chromium's console line about each);
        allow_status: statuses accepted from any URL."""
        out = []
        allow = list(allow) + [(s, "") for s in allow_status]
        with self.cv:
            evs = list(self.events)
        allowed = [e for e in evs if e.get("event") == "response" and any(
            e.get("status") == s and part in e.get("url", "")
            for s, part in allow)]
        allowed_lines = {"the server responded with a status of %d" %
                         e["status"] for e in allowed}
        for e in evs:
            k = e.get("event")
            if k in ("pageerror", "csp", "error", "dialog", "_raw"):
                out.append(e)
            elif k == "console" and e.get("type") in ("error", "warn",
                                                      "warning"):
                if not any(a in e.get("text", "") for a in allowed_lines):
                    out.append(e)
            elif k == "response" and e not in allowed:
                out.append(e)
            elif k == "requestfailed":
                out.append(e)
        return [{k: v for k, v in e.items() if not k.startswith("_")}
                for e in out]

    # -- end

    def alive(self):
        return self.proc.poll() is None

    def close(self, timeout=CLOSE_TIMEOUT):
        """quit, then SIGTERM, then SIGKILL (its process group), each
        waited for; Chromium's process group is killed by its pid if it
        outlived the driver. Returns the driver's exit status."""
        p = self.proc
        if p.poll() is None:
            try:
                p.stdin.write(b'{"cmd": "quit"}\n')
                p.stdin.flush()
                p.stdin.close()
            except (BrokenPipeError, OSError, ValueError):
                pass
            try:
                p.wait(timeout=timeout)
            except subprocess.TimeoutExpired:
                p.send_signal(signal.SIGTERM)
                try:
                    p.wait(timeout=5)
                except subprocess.TimeoutExpired:
                    try:
                        os.killpg(p.pid, signal.SIGKILL)
                    except OSError:
                        p.kill()
                    p.wait(timeout=5)
        pid = self.chromium_pid
        if pid and _alive(pid):
            # console.js was killed before it could close Chromium, which
            # leads its own process group
            for kill in (lambda: os.killpg(pid, signal.SIGKILL),
                         lambda: os.kill(pid, signal.SIGKILL)):
                try:
                    kill()
                except OSError:
                    pass
        self.reader.join(5)
        return p.returncode

    def __enter__(self):
        return self

    def __exit__(self, *a):
        self.close()
