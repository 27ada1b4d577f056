"""A real rtpengine for the integration tests: started on 127.0.0.1 with a
free ng port and a private range of media ports, userspace only
(--table=-1), no config file, ready once it answers an ng ping.

    rtp = Rtpengine(tmp_path)
    rtp.start()            # fails loudly (with its log) if it never answers
    ... sipward configured with rtp.ng ("127.0.0.1:PORT") ...
    rtp.stop()             # kills it by PID and reaps it

Also usable as a context manager. The ng protocol is bencode over UDP
(research calls-webrtc.md 4.7); bencode() / bdecode() here are just enough
for tests to talk to it directly.
"""

import importlib.util
import os
import random
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path

RTPENGINE = "/usr/bin/rtpengine"
START_TIMEOUT = 15.0

_PARENT_PATH = Path(__file__).resolve().parent / "conftest.py"
_PARENT_NAME = "sipward_integ_rest_conftest"  # as sip/conftest.py loads it


def _wait_until():
    # The one wait helper, from tests/integ/conftest.py: loaded by path
    # under the name sip/conftest.py uses, since the bare name `conftest`
    # is ambiguous with two conftest.py files in the tree.
    mod = sys.modules.get(_PARENT_NAME)
    if mod is None:
        spec = importlib.util.spec_from_file_location(_PARENT_NAME,
                                                      str(_PARENT_PATH))
        mod = importlib.util.module_from_spec(spec)
        sys.modules[_PARENT_NAME] = mod
        spec.loader.exec_module(mod)
    return mod.wait_until


def bencode(v):
    """Encodes str/bytes, int, list and dict (keys in the order given)."""
    if isinstance(v, bool):
        raise TypeError("no booleans in bencode")
    if isinstance(v, int):
        return b"i%de" % v
    if isinstance(v, str):
        v = v.encode()
    if isinstance(v, bytes):
        return b"%d:%s" % (len(v), v)
    if isinstance(v, list):
        return b"l" + b"".join(bencode(x) for x in v) + b"e"
    if isinstance(v, dict):
        return b"d" + b"".join(bencode(k) + bencode(x)
                               for k, x in v.items()) + b"e"
    raise TypeError("cannot bencode %r" % (v,))


def bdecode(b):
    """Decodes one value (strings as str, errors replaced); ValueError on
    anything else or trailing bytes."""
    def one(i):
        c = b[i:i + 1]
        if c == b"i":
            j = b.index(b"e", i)
            return int(b[i + 1:j]), j + 1
        if c in (b"l", b"d"):
            i += 1
            items = []
            while b[i:i + 1] != b"e":
                if i >= len(b):
                    raise ValueError("truncated")
                x, i = one(i)
                items.append(x)
            if c == b"l":
                return items, i + 1
            return dict(zip(items[0::2], items[1::2])), i + 1
        j = b.index(b":", i)
        n = int(b[i:j])
        if j + 1 + n > len(b):
            raise ValueError("truncated")
        return b[j + 1:j + 1 + n].decode(errors="replace"), j + 1 + n
    v, end = one(0)
    if end != len(b):
        raise ValueError("trailing bytes")
    return v


def _free_udp_port(host):
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as s:
        s.bind((host, 0))
        return s.getsockname()[1]


def _free_range(host, size, lo=30000, hi=39999):
    """A block of `size` media ports whose ends are free now."""
    rnd = random.Random(os.getpid() ^ time.time_ns())
    for _ in range(100):
        p = rnd.randrange(lo, hi - size) & ~1  # RTP on even ports
        try:
            for q in (p, p + size - 1):
                with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as s:
                    s.bind((host, q))
            return p, p + size - 1
        except OSError:
            continue
    raise AssertionError("no free media port range in %d-%d" % (lo, hi))


class Rtpengine:
    def __init__(self, workdir, host="127.0.0.1", media_ports=100,
                 extra_args=()):
        self.workdir = Path(workdir)
        self.host = host
        self.media_ports = media_ports
        self.extra_args = list(extra_args)
        self.proc = None
        self.port = 0
        self.port_min = self.port_max = 0
        self.log_path = self.workdir / "rtpengine.log"

    @property
    def ng(self):
        return "%s:%d" % (self.host, self.port)

    @property
    def log(self):
        try:
            return self.log_path.read_text(errors="replace")
        except OSError:
            return ""

    def start(self):
        if not os.access(RTPENGINE, os.X_OK):
            raise AssertionError(
                "%s is missing: install the Debian package rtpengine-daemon "
                "(deps/debian-packages.txt)" % RTPENGINE)
        self.workdir.mkdir(parents=True, exist_ok=True)
        self.port = _free_udp_port(self.host)
        self.port_min, self.port_max = _free_range(self.host,
                                                   self.media_ports)
        argv = [RTPENGINE, "--config-file=none", "--foreground",
                "--table=-1", "--interface=" + self.host,
                "--listen-ng=" + self.ng, "--log-stderr",
                "--pidfile=%s" % (self.workdir / "rtpengine.pid"),
                "--port-min=%d" % self.port_min,
                "--port-max=%d" % self.port_max] + self.extra_args
        with open(self.log_path, "wb") as log:
            self.proc = subprocess.Popen(argv, stdin=subprocess.DEVNULL,
                                         stdout=log, stderr=log)

        def ready():
            if self.proc.poll() is not None:
                raise AssertionError("rtpengine exited with %s; its log:\n%s"
                                     % (self.proc.returncode, self.log))
            return self.ping(timeout=0.2)
        try:
            _wait_until()(ready, timeout=START_TIMEOUT,
                          what="rtpengine to answer an ng ping on %s; log:\n"
                          "%s" % (self.ng, self.log_path))
        except BaseException:
            self.stop()
            raise
        return self

    def request(self, msg, timeout=2.0):
        """Sends one ng message (a dict) and returns the decoded reply; an
        OSError (socket.timeout) when none comes."""
        cookie = os.urandom(6).hex().encode()
        with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as s:
            s.settimeout(timeout)
            s.connect((self.host, self.port))
            s.send(cookie + b" " + bencode(msg))
            while True:
                data = s.recv(65535)
                if data.startswith(cookie + b" "):
                    return bdecode(data[len(cookie) + 1:])

    def ping(self, timeout=0.5):
        try:
            r = self.request({"command": "ping"}, timeout=timeout)
        except OSError:
            return False
        return r.get("result") == "pong"

    def stop(self):
        """Kills it by PID (TERM, then KILL after 5 s) and reaps it."""
        p, self.proc = self.proc, None
        if p is None:
            return
        if p.poll() is None:
            os.kill(p.pid, signal.SIGTERM)
            try:
                p.wait(timeout=5)
            except subprocess.TimeoutExpired:
                os.kill(p.pid, signal.SIGKILL)
                p.wait()

    def __enter__(self):
        return self.start()

    def __exit__(self, *exc):
        self.stop()
