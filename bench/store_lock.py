#!/usr/bin/env python3
"""store_lock.py - issue 8's acceptance run: the SQLite file is locked by
another process (`BEGIN EXCLUSIVE` in the sqlite3 shell) for --seconds
(default 60) while sipward runs with its defaults (store_timeout 3 s).
Meanwhile, once per round, it measures how long these take to be answered:
OPTIONS, a REGISTER without credentials (401), an authenticated REGISTER
(503 expected), an API retrieve and /health (200 expected) and an API
update (503 expected); then it releases the lock and measures how long
until an update and a REGISTER succeed again. Prints a markdown table.
Loopback only; bounded by --seconds and --rounds; every process it starts
is stopped by its PID.

    bench/store_lock.py --bin build/sipward [--seconds 60] [--out DIR]
"""
import argparse
import json
import os
import socket
import statistics
import subprocess
import sys
import tempfile
import time
import urllib.request

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import provision as pv  # noqa: E402
from common import log  # noqa: E402
from servers import DOMAIN, Sipward, sipward_db  # noqa: E402
from sipclient import RegClient  # noqa: E402


def options(port, timeout):
    s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    s.bind(("127.0.0.1", 0))
    s.settimeout(timeout)
    lp = s.getsockname()[1]
    tag = "%d.%d" % (os.getpid(), time.monotonic_ns())
    msg = ("OPTIONS sip:%s SIP/2.0\r\n"
           "Via: SIP/2.0/UDP 127.0.0.1:%d;branch=z9hG4bKo%s;rport\r\n"
           "From: <sip:probe@%s>;tag=%s\r\nTo: <sip:%s>\r\n"
           "Call-ID: o%s@bench\r\nCSeq: 1 OPTIONS\r\nMax-Forwards: 70\r\n"
           "Content-Length: 0\r\n\r\n" % (DOMAIN, lp, tag, DOMAIN, tag,
                                          DOMAIN, tag))
    try:
        s.sendto(msg.encode(), ("127.0.0.1", port))
        return int(s.recv(65536).decode(errors="replace").split(" ", 2)[1])
    finally:
        s.close()


def http(method, url, hdr, body=None, timeout=30):
    data = json.dumps(body).encode() if body is not None else None
    h = dict(hdr)
    if data:
        h["Content-Type"] = "application/json"
    req = urllib.request.Request(url, data=data, headers=h, method=method)
    try:
        with urllib.request.urlopen(req, timeout=timeout) as r:
            return r.status
    except urllib.error.HTTPError as e:
        return e.code


def timed(fn):
    t = time.monotonic()
    try:
        v = fn()
    except (OSError, socket.timeout) as e:
        v = "error: %s" % e
    return v, (time.monotonic() - t) * 1000.0


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--bin", required=True)
    ap.add_argument("--seconds", type=float, default=60.0)
    ap.add_argument("--rounds", type=int, default=1000)
    ap.add_argument("--out", default=None)
    a = ap.parse_args()
    out = a.out or tempfile.mkdtemp(prefix="sipward-lock-")
    os.makedirs(out, exist_ok=True)
    db = os.path.join(out, "lock.db")
    sipward_db(a.bin, db, out)
    srv = Sipward(a.bin, db, out)
    holder = None
    try:
        api = "http://127.0.0.1:%d/api/v1/Account/%s/" % (srv.http_port,
                                                         srv.auth_id)
        hdr = {"X-Auth-ID": srv.auth_id, "X-Auth-Token": srv.auth_token}
        r = urllib.request.urlopen(urllib.request.Request(
            api + "Endpoint/", method="POST", headers=dict(
                hdr, **{"Content-Type": "application/json"}),
            data=json.dumps({"username": pv.username(0),
                             "password": pv.password(0)}).encode()),
            timeout=30)
        eid = json.loads(r.read())["endpoint_id"]
        ua = RegClient(srv.sip_port, DOMAIN, timeout=30)
        assert ua.challenge(0) == 401 and ua.register(0) == 200
        holder = subprocess.Popen(["sqlite3", db], stdin=subprocess.PIPE,
                                  stdout=subprocess.PIPE)
        holder.stdin.write(b"BEGIN EXCLUSIVE;\nSELECT 'locked';\n")
        holder.stdin.flush()
        assert holder.stdout.readline().strip() == b"locked"
        log("store locked for %.0f s" % a.seconds)
        t_end = time.monotonic() + a.seconds
        rows = {k: [] for k in ("OPTIONS", "REGISTER, no credentials",
                                "REGISTER, authenticated", "GET retrieve",
                                "GET /health", "POST update")}
        for i in range(a.rounds):
            if time.monotonic() >= t_end:
                break
            rows["OPTIONS"].append(timed(lambda: options(srv.sip_port, 30)))
            rows["REGISTER, no credentials"].append(
                timed(lambda: ua.challenge(0)))
            rows["REGISTER, authenticated"].append(
                timed(lambda: ua.register(0)))
            rows["GET retrieve"].append(timed(lambda: http(
                "GET", api + "Endpoint/%s/" % eid, hdr)))
            rows["GET /health"].append(timed(lambda: http(
                "GET", "http://127.0.0.1:%d/health" % srv.http_port, {})))
            rows["POST update"].append(timed(lambda: http(
                "POST", api + "Endpoint/%s/" % eid, hdr,
                {"alias": "round-%d" % i})))
        holder.stdin.write(b"ROLLBACK;\n")
        holder.stdin.close()
        holder.wait(timeout=30)
        t0 = time.monotonic()
        back = {}
        for _ in range(600):
            if "update" not in back and http(
                    "POST", api + "Endpoint/%s/" % eid, hdr,
                    {"alias": "after"}) == 202:
                back["update"] = (time.monotonic() - t0) * 1000
            if "register" not in back:
                ua.challenge(0)
                if ua.register(0) == 200:
                    back["register"] = (time.monotonic() - t0) * 1000
            if len(back) == 2:
                break
            time.sleep(0.05)
        print("| request (store locked %.0f s, store_timeout 3 s) | answers "
              "| median ms | max ms |" % a.seconds)
        print("|---|---|---|---|")
        for k, v in rows.items():
            statuses = sorted({str(s) for s, _ in v})
            ms = [m for _, m in v]
            print("| %s | %s x%d | %.1f | %.1f |" % (
                k, ", ".join(statuses), len(v), statistics.median(ms),
                max(ms)))
        print("\nAfter the lock went: update 202 after %s ms, REGISTER 200 "
              "after %s ms." % tuple("%.0f" % back[k] if k in back
                                     else "never" for k in
                                     ("update", "register")))
    finally:
        if holder and holder.poll() is None:
            holder.kill()
            holder.wait()
        srv.stop()


if __name__ == "__main__":
    main()
