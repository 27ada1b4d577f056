"""The browser harness itself (tests/node/browser.js driven by
tests/integ/browser.py), proven before any test relies on it:

1. Chromium starts headless and its page loads JsSIP and SIP.js from the
   pinned npm packages (the versions the page reports are those files').
2. Two RTCPeerConnections of the page, connected to each other over
   loopback with the fake microphone, carry audio both ways: getStats()
   counts inbound-rtp packets on each. This is the media path (fake device,
   loopback ICE, stats) the call tests use.
3. JsSIP and SIP.js pointed at a ws:// URL where nothing listens report a
   connection failure and a failed registration, promptly (no hang).
4. browser.js ends Chromium and removes its profile on quit, on stdin EOF
   and on SIGTERM.

Needs SIPWARD_NODE_MODULES (scripts/npm-deps.sh; ctest sets it), node and
/usr/bin/chromium; skips without them. No sipward server is involved."""

import os
import re
import signal
import socket
from pathlib import Path

import pytest

from browser import Browser, BrowserError, browser_or_skip, wait_until
from sip_conftest import ON_PG

# No sipward and no store here: run once, in the SQLite pass of the suite.
pytestmark = pytest.mark.skipif(
    ON_PG, reason="browser harness only: runs in the SQLite pass")


def gone(pid):
    """True when pid no longer runs (or is a zombie awaiting its reaper)."""
    try:
        stat = Path("/proc/%d/stat" % pid).read_text()
    except OSError:
        return True
    return stat.rsplit(")", 1)[1].split()[0] in ("Z", "X")


@pytest.fixture
def browsers(tmp_path):
    made = []

    def make(**scenario):
        b = Browser(tmp_path, **scenario)
        made.append(b)
        return b

    yield make
    for b in made:
        b.close()


@pytest.fixture
def closed_port():
    """A loopback TCP port that refuses connections: bound, never listening,
    held for the test so no one else takes it."""
    s = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    s.bind(("127.0.0.1", 0))
    yield s.getsockname()[1]
    s.close()


def test_page_loads_jssip_and_sipjs(browsers):
    _, modules = browser_or_skip()
    b = browsers()
    r = b.ready
    # the versions the page's libraries report are those of the files
    # served from the pinned packages (the JsSIP 3.12.0 package's dist
    # bundle calls itself 3.11.1, and SIP.js 0.21.2's lib 0.21.1)
    dist = Path(modules, "jssip", "dist", "jssip.min.js").read_text()[:400]
    m = re.search(r"\bJsSIP (\d+\.\d+\.\d+)", dist)
    assert m and r["jssip"] == m.group(1), (r, dist)
    lib = Path(modules, "sip.js", "lib", "version.js").read_text()
    m = re.search(r'LIBRARY_VERSION = "([^"]+)"', lib)
    assert m and r["sipjs"] == m.group(1), (r, lib)
    assert re.match(r"^(Headless)?Chrome/\d+\.", r["chromium"]), r
    assert "HeadlessChrome" in r["user_agent"], r
    assert isinstance(r["chromium_pid"], int) and not gone(r["chromium_pid"])
    # a command the page cannot run is reported, not swallowed
    m = b.send("hangup")
    e = b.wait_event("error", since=m, fail_on=())
    assert e["cmd"] == "hangup" and "no session" in e["error"], e
    m = b.send("no_such_command")
    e = b.wait_event("error", since=m, fail_on=())
    assert "unknown command" in e["error"], e
    assert b.alive()


def test_loopback_audio_both_ways(browsers):
    b = browsers()
    b.command("loopback", timeout=30)
    lo = b.find("loopback")
    assert lo and lo["connected"] is True, b.diagnostics()
    last = {}

    def both_received():
        s = last["s"] = b.stats()
        peers = s["peers"]
        assert len(peers) == 2, s
        return all(p["inbound_packets"] > 0 and p["outbound_packets"] > 0
                   for p in peers)
    try:
        wait_until(both_received, 20, "inbound-rtp packets on both peers",
                   step=0.2)
    except AssertionError as e:
        raise AssertionError("%s; last stats %s\n%s" % (
            e, last.get("s"), b.diagnostics())) from None
    # each side has a selected candidate pair (which one, and whether both
    # sides already agree on it, depends on the machine's interfaces and
    # on when nomination completes)
    for p in last["s"]["peers"]:
        assert p["connection_state"] == "connected", last["s"]
        assert p["local"] and p["remote"], last["s"]


@pytest.mark.parametrize("stack", ["jssip", "sipjs"])
def test_nothing_listening_fails_registration(browsers, closed_port, stack):
    url = "ws://127.0.0.1:%d" % closed_port
    b = browsers(stack=stack, ws_url=url, uri="sip:alice@localhost",
                 username="alice", password="secret")
    d = b.wait_event("disconnected", 20)
    assert d["error"] is True, d
    e = b.register(expect=False, timeout=20)
    if stack == "jssip":
        assert e["cause"] == "Connection Error", e
    else:
        # SIP.js answers its own request with an internal 503
        assert e["status"] == 503, e
    assert not b.find("registered")


def profile_of(b):
    p = b.ready["profile"]
    assert p and os.path.isdir(p), b.ready
    return p


@pytest.mark.parametrize("how", ["quit", "eof", "sigterm"])
def test_exit_closes_chromium(tmp_path, how):
    b = Browser(tmp_path)
    try:
        pid, profile = b.ready["chromium_pid"], profile_of(b)
        if how == "quit":
            b.send("quit")
        elif how == "eof":
            b.proc.stdin.close()
        else:
            b.proc.send_signal(signal.SIGTERM)
        closed = b.wait_event("closed", 20)
        assert closed["code"] == {"quit": 0, "eof": 0, "sigterm": 143}[how]
        wait_until(lambda: b.proc.poll() is not None, 10, "browser.js exit")
        wait_until(lambda: gone(pid), 10, "Chromium %d gone" % pid)
        assert not os.path.exists(profile), profile
    finally:
        b.close()


def test_wait_event_fails_loudly(browsers):
    """A wait that cannot succeed fails within its timeout, saying what it
    waited for and what it saw."""
    b = browsers()
    with pytest.raises(BrowserError) as ei:
        b.wait_event("registered", 0.5)
    msg = str(ei.value)
    assert "registered" in msg and '"ready"' in msg, msg
