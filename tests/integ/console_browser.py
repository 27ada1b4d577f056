"""A real browser on the web console: a Console runs tests/node/console.js
(Debian's headless Chromium driven by puppeteer-core), sends it one command
at a time and collects what the page did (console messages, errors,
Content-Security-Policy violations, every URL requested) in a reader
thread.

    c = Console(tmp_path)
    try:
        c.goto(srv.base + "/console/")
        c.type("#auth_id", auth_id)
        c.click("#signin-submit")
        c.wait("body", attr="data-page", value="endpoints")
    finally:
        c.close()

Every command is bounded (timeout= seconds); a failed one raises
ConsoleError with the driver's message (a wait says what it saw instead)
and the page's last console lines. Needs what browser.py needs
(browser_or_skip)."""

import json
import os
import signal
import subprocess
import threading
import time
from pathlib import Path

from browser import CHROMIUM, browser_or_skip

HERE = Path(__file__).resolve().parent
SCRIPT = HERE.parent / "node" / "console.js"
START_TIMEOUT = 60.0
STEP_TIMEOUT = 20.0


class ConsoleError(AssertionError):
    pass


class Console:
    def __init__(self, workdir, start_timeout=START_TIMEOUT):
        node, modules = browser_or_skip()
        self.dir = Path(workdir)
        self.dir.mkdir(parents=True, exist_ok=True)
        self.stderr_path = self.dir / ("console-browser.%d.log" % os.getpid())
        self.ready = None
        self.events = []
        self.answers = {}
        self.cv = threading.Condition()
        self.next_id = 0
        env = dict(os.environ, SIPWARD_NODE_MODULES=modules,
                   SIPWARD_CHROMIUM=CHROMIUM, PUPPETEER_SKIP_DOWNLOAD="1")
        with open(self.stderr_path, "wb") as err:
            self.proc = subprocess.Popen(
                [node, str(SCRIPT)], stdin=subprocess.PIPE,
                stdout=subprocess.PIPE, stderr=err, env=env,
                start_new_session=True)
        self.reader = threading.Thread(target=self._read, daemon=True)
        self.reader.start()
        try:
            self.ready = self._await(
                lambda: next((e for e in self.events
                              if e.get("event") in ("ready", "fatal")),
                             None), start_timeout, "the browser to start")
            if self.ready.get("event") == "fatal":
                raise ConsoleError("the browser did not start: %s"
                                   % self.ready.get("error"))
        except BaseException:
            self.close()
            raise

    def _read(self):
        for raw in self.proc.stdout:
            line = raw.decode(errors="replace").strip()
            if not line:
                continue
            try:
                ev = json.loads(line)
            except ValueError:
                ev = {"event": "_raw", "line": line}
            with self.cv:
                if "id" in ev and "event" not in ev:
                    self.answers[ev["id"]] = ev
                else:
                    ev["_t"] = time.monotonic()
                    self.events.append(ev)
                self.cv.notify_all()
        with self.cv:
            self.cv.notify_all()

    def _await(self, pred, timeout, what):
        end = time.monotonic() + timeout
        with self.cv:
            while True:
                v = pred()
                if v is not None:
                    return v
                left = end - time.monotonic()
                if left <= 0 or self.proc.poll() is not None:
                    raise ConsoleError("waited %.0f s for %s\n%s" % (
                        timeout, what, self.diagnostics()))
                self.cv.wait(min(left, 0.5))

    def diagnostics(self):
        with self.cv:
            tail = [e for e in self.events
                    if e.get("event") not in ("request",)][-25:]
        try:
            err = self.stderr_path.read_text(errors="replace")[-2000:]
        except OSError:
            err = ""
        return "page events (last %d):\n%s\ndriver stderr:\n%s" % (
            len(tail), "\n".join(json.dumps(e) for e in tail), err)

    def cmd(self, name, timeout=STEP_TIMEOUT, **args):
        with self.cv:
            self.next_id += 1
            n = self.next_id
        msg = dict(args, id=n, cmd=name, timeout=timeout)
        try:
            self.proc.stdin.write((json.dumps(msg) + "\n").encode())
            self.proc.stdin.flush()
        except (BrokenPipeError, OSError) as e:
            raise ConsoleError("the browser is gone (%s)\n%s" % (
                e, self.diagnostics()))
        ans = self._await(lambda: self.answers.pop(n, None), timeout + 15,
                          "%s %s" % (name, args))
        if not ans.get("ok"):
            raise ConsoleError("%s %s: %s\n%s" % (
                name, json.dumps(args), ans.get("error"),
                self.diagnostics()))
        return ans.get("result")

    # -- the commands

    def goto(self, url, **kw):
        return self.cmd("goto", url=url, **kw)

    def viewport(self, width, height):
        return self.cmd("viewport", width=width, height=height)

    def click(self, sel, **kw):
        return self.cmd("click", sel=sel, **kw)

    def type(self, sel, text, clear=True, **kw):
        return self.cmd("type", sel=sel, text=text, clear=clear, **kw)

    def select(self, sel, value, **kw):
        return self.cmd("select", sel=sel, value=value, **kw)

    def check(self, sel, on=True, **kw):
        return self.cmd("check", sel=sel, on=on, **kw)

    def press(self, key):
        return self.cmd("press", key=key)

    def wait(self, sel, timeout=STEP_TIMEOUT, **cond):
        return self.cmd("wait", sel=sel, timeout=timeout, **cond)

    def read(self, sel, **kw):
        return self.cmd("read", sel=sel, **kw)

    def count(self, sel):
        return self.cmd("count", sel=sel)

    def eval(self, expr, **kw):
        return self.cmd("eval", expr=expr, **kw)

    def screenshot(self, path, full_page=False):
        return self.cmd("screenshot", path=str(path), full_page=full_page,
                        timeout=30)

    def page(self, name, timeout=STEP_TIMEOUT):
        """Waits until the console shows page `name` (body data-page)."""
        return self.wait("body", attr="data-page", value=name,
                         timeout=timeout)

    # -- what the page did

    def of(self, kind):
        with self.cv:
            return [e for e in self.events if e.get("event") == kind]

    def problems(self, allow_status=()):
        """Console errors, page errors, CSP violations and failed requests,
        except HTTP answers whose status is in allow_status (a test that
        provokes a 400 expects Chromium to log it)."""
        out = []
        allowed = {"the server responded with a status of %d" % s
                   for s in allow_status}
        for e in self.events:
            k = e.get("event")
            if k in ("pageerror", "csp", "fatal"):
                out.append(e)
            elif k == "console" and e.get("type") == "error" and not any(
                    a in e.get("text", "") for a in allowed):
                out.append(e)
            elif k == "response" and e.get("status") not in allow_status:
                out.append(e)
            elif k == "requestfailed" and "ERR_ABORTED" not in \
                    (e.get("error") or ""):
                out.append(e)
        return out

    def close(self):
        if self.proc.poll() is None:
            try:
                self.proc.stdin.write(b'{"cmd": "quit"}\n')
                self.proc.stdin.flush()
                self.proc.stdin.close()
            except (BrokenPipeError, OSError, ValueError):
                pass
            try:
                self.proc.wait(15)
            except subprocess.TimeoutExpired:
                os.killpg(self.proc.pid, signal.SIGKILL)
                self.proc.wait(5)
        pid = (self.ready or {}).get("chromium_pid")
        if pid:
            try:
                os.kill(pid, signal.SIGKILL)
            except ProcessLookupError:
                pass
