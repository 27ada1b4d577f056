"""sipward under systemd (issue 13): sd_notify READY=1 once the listeners
are up, WATCHDOG=1 while the event loops turn (WATCHDOG_USEC), RELOADING=1
and READY=1 around SIGHUP, STOPPING=1 on SIGTERM; log_file reopened on
SIGHUP; SIGTERM drains: requests already sent are answered in full and
every acknowledged write is kept.

The notification socket is a real AF_UNIX datagram socket of the test, as
systemd's would be (NOTIFY_SOCKET)."""

import os
import signal
import socket
import subprocess
import threading
import time

import requests

from conftest import (BIN, HTTP_TIMEOUT, STARTED_RE, clean_env, pw,
                      require_binary, uname, wait_until)


class Notify:
    """A NOTIFY_SOCKET: collects the datagrams sipward sends."""

    def __init__(self, path):
        self.path = str(path)
        self.sock = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
        self.sock.bind(self.path)
        self.sock.settimeout(0.1)
        self.msgs = []

    def poll(self):
        while True:
            try:
                self.msgs.append(self.sock.recv(4096).decode())
            except socket.timeout:
                return self.msgs

    def count(self, line):
        return sum(line in m.split("\n") for m in self.poll())

    def wait(self, line, n=1, timeout=15):
        wait_until(lambda: self.count(line) >= n, timeout,
                   "%d notification(s) %r (seen: %r)" % (n, line,
                                                         self.msgs))

    def close(self):
        self.sock.close()


def spawn(tmp_path, env):
    require_binary()
    err = open(tmp_path / "stderr.log", "wb")
    p = subprocess.Popen(
        [BIN, "serve", "--db", "sqlite:%s" % (tmp_path / "s.db"),
         "--http", "127.0.0.1:0", "--sip", "127.0.0.1:0"],
        stdout=subprocess.DEVNULL, stderr=err, stdin=subprocess.DEVNULL,
        env=clean_env(env), cwd=str(tmp_path))
    err.close()
    return p


def test_notify_ready_watchdog_reload_stopping(tmp_path):
    n = Notify(tmp_path / "notify.sock")
    # a 9 s watchdog: fed every 3 s while every loop turned in 4.5 s
    p = spawn(tmp_path, {"NOTIFY_SOCKET": n.path,
                         "WATCHDOG_USEC": "9000000"})
    log = tmp_path / "stderr.log"
    try:
        n.wait("READY=1")
        # READY comes after the listeners are up: the started line is out
        assert STARTED_RE.search(log.read_text()), log.read_text()
        n.wait("WATCHDOG=1", 2)
        p.send_signal(signal.SIGHUP)
        n.wait("RELOADING=1")
        n.wait("READY=1", 2)
        p.send_signal(signal.SIGTERM)
        assert p.wait(timeout=30) == 0
        n.wait("STOPPING=1")
        assert "event=loop_stuck" not in log.read_text()
    finally:
        if p.poll() is None:
            p.kill()
            p.wait()
        n.close()


def test_no_notify_socket_no_notifications(tmp_path):
    """Without NOTIFY_SOCKET (not under systemd) nothing changes."""
    p = spawn(tmp_path, {})
    log = tmp_path / "stderr.log"
    try:
        wait_until(lambda: STARTED_RE.search(log.read_text()), 15,
                   "the started line")
        p.send_signal(signal.SIGTERM)
        assert p.wait(timeout=30) == 0
    finally:
        if p.poll() is None:
            p.kill()
            p.wait()


def test_log_file_reopened_on_sighup(tmp_path):
    path = tmp_path / "sipward.log"
    p = spawn(tmp_path, {"SIPWARD_LOG_FILE": str(path)})
    try:
        wait_until(lambda: path.exists() and
                   STARTED_RE.search(path.read_text()), 15,
                   "the started line in log_file")
        assert (tmp_path / "stderr.log").read_text() == ""
        os.rename(path, tmp_path / "sipward.log.1")  # logrotate's move
        p.send_signal(signal.SIGHUP)
        wait_until(lambda: path.exists() and
                   "event=log_reopened" in path.read_text(), 15,
                   "log_reopened in the new file")
        p.send_signal(signal.SIGTERM)
        assert p.wait(timeout=30) == 0
        assert "event=stopping" in path.read_text()
        assert "event=stopping" not in (tmp_path /
                                        "sipward.log.1").read_text()
    finally:
        if p.poll() is None:
            p.kill()
            p.wait()


def test_log_file_must_be_absolute(tmp_path):
    r = subprocess.run([BIN, "serve", "--db",
                        "sqlite:%s" % (tmp_path / "s.db")],
                       capture_output=True, timeout=30,
                       env=clean_env({"SIPWARD_LOG_FILE": "rel.log"}))
    assert r.returncode != 0
    assert b"log_file: must be an absolute path" in r.stderr, r.stderr


def raw_update(port, auth, eid, alias):
    """One POST update on a connection of its own, fully sent."""
    body = ('{"alias": "%s"}' % alias).encode()
    head = ("POST /v1/Account/%s/Endpoint/%s/ HTTP/1.1\r\n"
            "Host: 127.0.0.1\r\nX-Auth-ID: %s\r\nX-Auth-Token: %s\r\n"
            "Content-Type: application/json\r\nContent-Length: %d\r\n"
            "Connection: close\r\n\r\n" % (auth[0], eid, auth[0], auth[1],
                                           len(body))).encode()
    s = socket.create_connection(("127.0.0.1", port), timeout=30)
    s.sendall(head + body)
    return s


def read_all(s):
    out = b""
    while True:
        try:
            b = s.recv(65536)
        except ConnectionResetError:
            return out, "reset"
        if not b:
            return out, None
        out += b


def test_sigterm_answers_every_request_sent(make_server):
    srv = make_server()
    a = srv.api()
    made = [a.create_endpoint(uname("d"), pw()) for _ in range(8)]
    eps = [m["endpoint_id"] for m in made]
    original = {m["endpoint_id"]: m["alias"] for m in made}
    auth = (a.auth_id, a.token)
    answers = {}

    def collect(socks):
        for eid, alias, s in socks:
            data, how = read_all(s)
            s.close()
            status = data.split(b" ", 2)[1] \
                if data.startswith(b"HTTP/1.1 ") else None
            answers[alias] = (eid, status, data, how)

    # 24 updates answered before the stop, then 24 in flight at SIGTERM
    # (48 connections: under http_conn_per_addr, 64)
    collect([(eps[i % 8], "a%d" % i,
              raw_update(srv.port, auth, eps[i % 8], "a%d" % i))
             for i in range(24)])
    assert all(v[1] == b"202" for v in answers.values()), answers
    socks = [(eps[i % 8], "a%d" % i,
              raw_update(srv.port, auth, eps[i % 8], "a%d" % i))
             for i in range(24, 48)]
    srv.proc.send_signal(signal.SIGTERM)
    collect(socks)
    rc = srv.proc.wait(timeout=60)
    srv.proc = None
    assert rc == 0
    cut = {k: v for k, v in answers.items() if v[1] not in (b"202", b"503")}
    assert not cut, "requests not answered in full: %r" % cut
    for _, status, data, _ in answers.values():
        if status == b"503":
            assert b'"error"' in data, data
    # after a restart each endpoint holds one of its acknowledged updates
    # (the one committed last), never one refused with a 503
    srv.start(expect_account=False)
    a = srv.api()
    for eid in eps:
        acked = {al for al, v in answers.items()
                 if v[0] == eid and v[1] == b"202"}
        alias = a.endpoint(eid)["alias"]
        assert alias in (acked or {original[eid]}), (eid, alias, acked)
