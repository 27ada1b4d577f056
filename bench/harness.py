"""harness.py - the sipward benchmark (issue 5), run by bench/run.sh.

Every figure is a ratio against a peer or a limit measured in the same run
on the same machine, or an instruction count: absolute numbers on a shared
machine are noise. Parts (each may be chosen with --only):

  sip        sipp REGISTER+401+REGISTER(digest)+200 over UDP, 10,000 users,
             sipward vs Kamailio 5.6 (auth_db on SQLite, usrloc in memory,
             4 UDP workers): open-loop rate ladder (highest rate with zero
             failures and zero retransmissions), closed-loop peak (-l 256),
             server CPU time per call, PSS.
  http       wrk keep-alive: sipward retrieve, list (limit 20), update vs
             nginx serving static JSON of the same sizes and an empty 202.
  durable    update throughput with 64 concurrent clients on distinct
             endpoints vs SQLite's own one-fsync-per-commit rate (sqlite3
             CLI, WAL, synchronous=FULL) on the same disk.
  growth     retrieve, update, list, REGISTER p50/p99 and throughput with
             1,000 / 100,000 / 1,000,000 endpoints; PSS with 100,000
             endpoints and 100,000 live bindings (Kamailio alongside).
  callgrind  instructions per request (retrieve, update, authenticated
             REGISTER, challenge) as (I(N2) - I(N1)) / (N2 - N1).
  calls      sipp calls between registered endpoints over UDP (INVITE,
             407, INVITE with digest, 180, 200, ACK, BYE, 200; callees a
             sipp UAS that registered from its own port), 1,000 callers
             and 1,000 callees, sipward (B2BUA) vs Kamailio 5.6 as a
             stateful proxy (proxy_authorize on SQLite, lookup in usrloc,
             record_route, t_relay): open-loop rate ladder in 5 s bursts,
             the best rate held 45 s, closed-loop peak (-l 256), server
             CPU time per call, setup latency, PSS, sipward's CDRs.
  callgrind_calls
             instructions per call, one call at a time, sipward under
             callgrind: (I(N2 calls) - I(N1 calls)) / (N2 - N1).
  scaling    (not in --quick) three sipward nodes on one PostgreSQL
             (scripts/pg-cluster.sh), 30,000 endpoints: a registration
             storm split over the nodes (256 in flight, register round
             and refresh round) and 2,000 calls at 100/s from node 1 to
             callees registered through nodes 2 and 3; PostgreSQL's
             commits, write transactions, tuples and WAL bytes per
             REGISTER and per call, and its commit rate, read from
             pg_stat_database, the XID counter and the WAL position.

Raw results go to bench/results/<date>/ (results.json, one file per tool
run), the summary to bench/results/<date>/summary.md.
"""
import argparse
import csv
import datetime
import glob
import http.client
import json
import os
import platform
import random
import re
import shutil
import signal
import statistics
import subprocess
import sys
import time
import traceback

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, HERE)

import provision as pv  # noqa: E402
from common import (Proc, cpu_seconds, free_port, log, run,  # noqa: E402
                    save_json, tree)
from servers import (DOMAIN, Kamailio, Nginx, Sipward,  # noqa: E402
                     sipward_db)
import httpload  # noqa: E402
from sipclient import RegClient  # noqa: E402

PARTS = ["sip", "storm", "calls", "http", "durable", "growth", "callgrind",
         "callgrind_calls", "scaling"]
# What runs without --only: every part (scaling skips itself, saying why,
# where no PostgreSQL server is installed). The smoke (--quick) leaves
# scaling out: it waits for PostgreSQL's statistics to settle between its
# phases (over 10 s each), two minutes even at the smoke's sizes.
DEFAULT_PARTS = list(PARTS)
QUICK_PARTS = [p for p in PARTS if p != "scaling"]
SCENARIO = os.path.join(HERE, "sip", "register.xml")
CALL_REG = os.path.join(HERE, "sip", "callee-register.xml")
CALL_UAC = os.path.join(HERE, "sip", "uac.xml")
CALL_UAS = os.path.join(HERE, "sip", "uas.xml")
WRK_SCRIPT = os.path.join(HERE, "wrk", "api.lua")
NCPU = os.cpu_count() or 1


class Skip(Exception):
    pass


# ---------------------------------------------------------------- settings

def settings(quick):
    if quick:
        return dict(
            users=50, ladder=[50, 100], step_s=1, closed_m=200,
            closed_rounds=1, http_s=1, rounds=1, conns=8, durable_conns=16,
            growth_sizes=[50, 200], growth_mem_size=200, growth_s=1,
            growth_reg_m=100, sample=50, cg_n=(10, 30),
            sqlite_max=200, wrk_threads=1,
            call_users=10, call_ladder=[20, 40], call_step_s=1,
            call_hold_s=1, call_quiet_s=0, call_hold_tries=1,
            call_closed_l=32, call_closed_m=100, call_closed_rounds=1,
            cg_call_users=5, cg_call_n=(5, 15), storm_users=200,
            scal_users=300, scal_call_users=50, scal_calls=100,
            scal_call_rate=50, scal_idle_s=2, scal_storm_timeout=60)
    return dict(
        users=10000,
        ladder=[250, 500, 1000, 1500, 2000, 3000, 4000, 6000, 8000, 10000,
                12000, 16000, 20000, 25000],
        step_s=5, closed_m=100000, closed_rounds=2, http_s=5, rounds=2,
        conns=32, durable_conns=64, growth_sizes=[1000, 100000, 1000000],
        growth_mem_size=100000, growth_s=5, growth_reg_m=5000,
        sample=10000, cg_n=(500, 2500), sqlite_max=20000,
        wrk_threads=min(2, NCPU),
        call_users=1000,
        call_ladder=[100, 150, 200, 250, 300, 400, 500, 600, 800, 1000,
                     1200, 1500, 2000, 2500, 3000, 4000],
        call_step_s=5, call_hold_s=45, call_quiet_s=35, call_hold_tries=4,
        call_closed_l=256, call_closed_m=10000,
        call_closed_rounds=2, cg_call_users=100, cg_call_n=(100, 500),
        storm_users=100000,
        scal_users=30000, scal_call_users=1000, scal_calls=2000,
        scal_call_rate=100, scal_idle_s=5, scal_storm_timeout=300)


# ---------------------------------------------------------------- helpers

# Tools to treat as missing (comma-separated), to try the paths a machine
# without the bench packages takes: SIPWARD_BENCH_HIDE=wrk,nginx,kamailio.
HIDDEN = set(filter(None, os.environ.get("SIPWARD_BENCH_HIDE", "").split(",")))


def which(name):
    if name in HIDDEN:
        return None
    return shutil.which(name) or (os.path.exists("/usr/sbin/" + name) and
                                  "/usr/sbin/" + name) or None


def mean(xs):
    xs = [x for x in xs if x is not None]
    return statistics.mean(xs) if xs else None


def ratio(a, b):
    if a is None or b in (None, 0):
        return None
    return a / b


class Template:
    """A sipward SQLite file with the first account and n endpoints,
    provisioned once and copied for each use."""

    def __init__(self, binary, workdir, outdir, n, name):
        self.dir = os.path.join(workdir, name)
        os.makedirs(self.dir, exist_ok=True)
        self.path = os.path.join(self.dir, "template.db")
        t = time.monotonic()
        self.auth_id, self.token = sipward_db(binary, self.path, outdir,
                                              name=name + "-init")
        self.ids = pv.sipward_endpoints(self.path, 1, DOMAIN, n)
        self.provision_s = time.monotonic() - t
        self.n = n
        log("provisioned %d endpoints in %s in %.1fs" % (n, self.path,
                                                         self.provision_s))

    def copy(self, dest):
        for ext in ("", "-wal", "-shm"):
            if os.path.exists(dest + ext):
                os.unlink(dest + ext)
        shutil.copyfile(self.path, dest)
        shutil.copyfile(self.path + ".account.json", dest + ".account.json")
        return dest


def parse_sipp_stats(path):
    with open(path, newline="") as f:
        rows = [r for r in csv.reader(f, delimiter=";") if r]
    if len(rows) < 2:
        return None
    h = rows[0]
    last = dict(zip(h, rows[-1]))

    def epoch(v):
        return float(v.split("\t")[-1])

    return dict(success=int(last["SuccessfulCall(C)"]),
                failed=int(last["FailedCall(C)"]),
                retrans=int(last["Retransmissions(C)"]),
                created=int(last["TotalCallCreated"]),
                elapsed=epoch(last["CurrentTime"]) - epoch(last["StartTime"]))


# sipp's socket buffers (-buff_size). sipp reads its one socket on one
# thread; with the kernel's default 208 KiB it dropped 2,600-3,900 responses
# a storm round (/proc/net/udp "drops" on its port, the same for either
# server: they were nearly all of the round's retransmissions), and a call
# whose four tries were all dropped failed on sipp's 5 s timer.
SIPP_BUF = 8 << 20
SOCK_LIMITS = ("/proc/sys/net/core/rmem_max", "/proc/sys/net/core/wmem_max")


def raise_socket_limits():
    """The kernel caps a socket's buffer at net.core.rmem_max / wmem_max
    (SO_RCVBUF): raises them to SIPP_BUF for the run when root, for sipp
    alone to use (the servers keep their own settings). Returns what to
    put back."""
    old = []
    if os.geteuid() != 0:
        return old
    for path in SOCK_LIMITS:
        try:
            with open(path) as f:
                v = int(f.read())
            if v < SIPP_BUF:
                with open(path, "w") as f:
                    f.write(str(SIPP_BUF))
                old.append((path, v))
        except (OSError, ValueError):
            pass
    return old


def restore_socket_limits(old):
    for path, v in old:
        try:
            with open(path, "w") as f:
                f.write(str(v))
        except OSError:
            pass


def sipp(port, users_csv, outdir, name, rate, limit, m, rtt=False,
         timeout=120, scenario=SCENARIO, extra=()):
    """One sipp run of a client scenario (the REGISTER one unless told);
    returns its counts."""
    d = os.path.join(outdir, "sipp", name)
    os.makedirs(d, exist_ok=True)
    stf = os.path.join(d, "stat.csv")
    argv = [which("sipp"), "-sf", scenario, "-inf", users_csv,
            "127.0.0.1:%d" % port, "-t", "u1", "-i", "127.0.0.1",
            "-r", str(rate), "-l", str(limit), "-m", str(m), "-nostdin",
            "-trace_stat", "-stf", stf, "-fd", "1",
            "-timeout", "%ds" % timeout, "-recv_timeout", "5000",
            "-buff_size", str(SIPP_BUF)]
    argv += list(extra)
    if rtt:
        argv += ["-trace_rtt", "-rtt_freq", "1"]
    rc, out, err = run(argv, timeout + 30, d, "sipp", cwd=d)
    st = parse_sipp_stats(stf) if os.path.exists(stf) else None
    if st is None:
        raise RuntimeError("sipp produced no statistics (rc %s): %s" %
                           (rc, err[-400:]))
    st["rc"] = rc
    st["rate"] = st["success"] / st["elapsed"] if st["elapsed"] > 0 else 0
    if rtt:
        ms = []
        for f in glob.glob(os.path.join(d, "*_rtt.csv")):
            with open(f) as fh:
                next(fh, None)
                for line in fh:
                    p = line.split(";")
                    if len(p) >= 2:
                        ms.append(float(p[1]))
            os.unlink(f)  # large; the percentiles are kept
        ms.sort()
        if ms:
            st["p50_ms"] = ms[len(ms) // 2]
            st["p99_ms"] = ms[min(len(ms) - 1, int(len(ms) * 0.99))]
    return st


def wrk(port, mode, margs, threads, conns, dur, outdir, name, query=None):
    """One wrk run (or the Python fallback); returns its figures. query:
    more of a list's query string (wrk only)."""
    if which("wrk"):
        argv = [which("wrk"), "-t", str(threads), "-c", str(conns),
                "-d", "%ds" % dur, "--timeout", "10s", "-s", WRK_SCRIPT,
                "http://127.0.0.1:%d" % port, "--", mode] + margs
        if mode in ("retrieve", "list", "update"):
            argv.append(str(threads))
        if query:
            argv.append(query)
        rc, out, err = run(argv, dur + 60, os.path.join(outdir, "wrk"),
                           name)
        m = re.search(r"^WRKJSON (.*)$", out, re.M)
        if rc != 0 or not m:
            raise RuntimeError("wrk failed (rc %s): %s" % (rc, err[-400:]))
        r = json.loads(m.group(1))
        r["tool"] = "wrk"
    else:
        if mode in ("retrieve", "list", "update"):
            with open(margs[0]) as f:
                ids = [x.strip() for x in f if x.strip()]
            r = httpload.run(port, mode, dur, conns, ids=ids,
                             auth_id=margs[1], token=margs[2])
        else:
            r = httpload.run(port, mode, dur, conns, path=margs[0])
        r["tool"] = "python"
    r["rps"] = r["requests"] / (r["duration_us"] / 1e6)
    r["errors"] = sum(r[k] for k in ("err_connect", "err_read", "err_write",
                                     "err_status", "err_timeout"))
    os.makedirs(os.path.join(outdir, "wrk"), exist_ok=True)
    save_json(os.path.join(outdir, "wrk", name + ".json"), r)
    return r


def http_get(port, path, auth_id, token):
    c = http.client.HTTPConnection("127.0.0.1", port, timeout=30)
    c.request("GET", path, headers={"X-Auth-ID": auth_id,
                                    "X-Auth-Token": token})
    r = c.getresponse()
    body = r.read()
    c.close()
    if r.status != 200:
        raise RuntimeError("GET %s: %d" % (path, r.status))
    return body


# ---------------------------------------------------------------- the parts

def part_sip(ctx):
    S = ctx.s
    if not which("sipp"):
        raise Skip("sipp (package sip-tester) is not installed")
    n = S["users"]
    out = ctx.part_dir("sip")
    tmpl = ctx.template(n)
    users = os.path.join(out, "users.csv")
    pv.sipp_users(users, DOMAIN, range(n))
    servers = {}
    res = {"users": n, "servers": {}}
    servers["sipward"] = Sipward(ctx.binary, tmpl.copy(
        os.path.join(out, "sipward.db")), out)
    if which("kamailio") and os.path.isdir(pv.KAMAILIO_SQL_DIR):
        kdb = os.path.join(out, "kamailio.db")
        pv.kamailio_subscribers(kdb, DOMAIN, n)
        servers["kamailio"] = Kamailio(kdb, out)
    else:
        ctx.skip("sip: Kamailio (kamailio, kamailio-sqlite-modules) not "
                 "installed: sipward measured alone, no ratio")
    try:
        for name, srv in servers.items():
            res["servers"][name] = {"pss_idle_kib": srv.pss()}
        # Warm-up, the same for both: every user registered once, closed
        # loop with 64 calls in flight.
        for name, srv in servers.items():
            w = sipp(srv.sip_port, users, out, "warmup-" + name, 100000, 64,
                     n, timeout=300)
            res["servers"][name]["warmup"] = w
            log("sip warm-up %s: %d ok, %d failed, %.0f calls/s" %
                (name, w["success"], w["failed"], w["rate"]))
        # Open-loop ladder, interleaved: each step runs on every server
        # still climbing before the next step. A step passes when every
        # call succeeded with no retransmission, at the offered rate; a
        # failed step is tried once more (shared machine) before the
        # server stops climbing.
        climbing = list(servers)
        ladder = {k: [] for k in servers}
        best = {k: None for k in servers}
        for rate in S["ladder"]:
            if not climbing:
                break
            for name in list(climbing):
                srv = servers[name]
                ok = False
                for attempt in (1, 2):
                    m = rate * S["step_s"]
                    st = sipp(srv.sip_port, users, out, "ladder-%s-%d-%d" %
                              (name, rate, attempt), rate, max(1000, 3 * rate),
                              m, timeout=S["step_s"] * 4 + 30)
                    st.update(offered=rate, attempt=attempt, calls=m)
                    ok = (st["failed"] == 0 and st["retrans"] == 0 and
                          st["success"] == m and
                          st["elapsed"] <= S["step_s"] * 1.2 + 1.0)
                    st["pass"] = ok
                    ladder[name].append(st)
                    log("sip ladder %s %d/s try %d: ok=%d failed=%d "
                        "retrans=%d elapsed=%.2fs -> %s" %
                        (name, rate, attempt, st["success"], st["failed"],
                         st["retrans"], st["elapsed"],
                         "pass" if ok else "FAIL"))
                    if ok:
                        break
                if ok:
                    best[name] = rate
                else:
                    climbing.remove(name)
                time.sleep(0.5)
        for name in servers:
            res["servers"][name]["ladder"] = ladder[name]
            res["servers"][name]["open_loop_max"] = best[name]
            res["servers"][name]["ladder_top_reached"] = name in climbing
        # Closed loop, 256 calls in flight, interleaved rounds; server CPU
        # time per successful call from /proc utime+stime.
        for rnd in range(S["closed_rounds"]):
            for name, srv in servers.items():
                c0 = srv.cpu()
                st = sipp(srv.sip_port, users, out, "closed-%s-%d" %
                          (name, rnd + 1), 1000000, 256, S["closed_m"],
                          timeout=180)
                st["cpu_s"] = srv.cpu() - c0
                st["cpu_us_per_call"] = (st["cpu_s"] * 1e6 / st["success"]
                                         if st["success"] else None)
                res["servers"][name].setdefault("closed", []).append(st)
                log("sip closed %s round %d: %.0f calls/s, %d failed, "
                    "%d retrans, %.0f us CPU/call" %
                    (name, rnd + 1, st["rate"], st["failed"], st["retrans"],
                     st["cpu_us_per_call"] or 0))
        for name, srv in servers.items():
            r = res["servers"][name]
            r["closed_peak"] = mean([c["rate"] for c in r["closed"]])
            r["cpu_us_per_call"] = mean([c["cpu_us_per_call"]
                                         for c in r["closed"]])
            r["pss_kib"] = srv.pss()
            r["processes"] = len(srv.pids())
    finally:
        for srv in servers.values():
            srv.stop()
    return res


# ---------------------------------------------------------------- storm

def registered_count(db_path):
    """Endpoints with a live binding in sipward's SQLite file (what the
    API shows as sip_registered "true")."""
    import sqlite3
    c = sqlite3.connect("file:%s?mode=ro" % db_path, uri=True, timeout=30)
    try:
        return c.execute(
            "SELECT count(DISTINCT endpoint_ref) FROM registrations "
            "WHERE expires_ms > ?", (int(time.time() * 1000),)).fetchone()[0]
    finally:
        c.close()


def part_storm(ctx):
    """A registration storm (issue 12): every endpoint registers at once
    (sipp, 256 calls in flight, as fast as the server answers), then every
    one refreshes; failed calls, retransmissions and the rate of each
    round, for sipward and Kamailio one after the other on the same
    users; afterwards how many endpoints sipward's store holds registered,
    and its log's warnings."""
    S = ctx.s
    if not which("sipp"):
        raise Skip("sipp (package sip-tester) is not installed")
    n = S["storm_users"]
    out = ctx.part_dir("storm")
    tmpl = ctx.template(n)
    users = os.path.join(out, "users.csv")
    pv.sipp_users(users, DOMAIN, range(n))
    servers = {}
    res = {"users": n, "in_flight": 256, "servers": {}}
    db = os.path.join(out, "sipward.db")
    servers["sipward"] = Sipward(ctx.binary, tmpl.copy(db), out)
    if which("kamailio") and os.path.isdir(pv.KAMAILIO_SQL_DIR):
        kdb = os.path.join(out, "kamailio.db")
        pv.kamailio_subscribers(kdb, DOMAIN, n)
        servers["kamailio"] = Kamailio(kdb, out)
    else:
        ctx.skip("storm: Kamailio not installed: sipward measured alone")
    try:
        for name, srv in servers.items():
            r = res["servers"][name] = {}
            for rnd in ("register", "refresh"):
                c0 = srv.cpu()
                st = sipp(srv.sip_port, users, out, "%s-%s" % (rnd, name),
                          1000000, 256, n, timeout=600)
                st["cpu_s"] = srv.cpu() - c0
                r[rnd] = st
                log("storm %s %s: %d ok, %d failed, %d retrans, %.0f "
                    "calls/s" % (name, rnd, st["success"], st["failed"],
                                 st["retrans"], st["rate"]))
            if name == "sipward":
                r["registered"] = registered_count(db)
                warns = {}
                with open(srv.proc.err_path, errors="replace") as f:
                    text = f.read()
                for line in text.splitlines():
                    m = re.search(r"level=(?:warn|error) event=(\S+)", line)
                    if m:
                        warns[m.group(1)] = warns.get(m.group(1), 0) + 1
                r["log_warnings"] = warns
                log("storm sipward: %d of %d endpoints registered after; "
                    "warnings %r" % (r["registered"], n, warns))
    finally:
        for srv in servers.values():
            srv.stop()
    return res


# ---------------------------------------------------------------- calls

def wait_udp_bound(port, timeout, proc):
    """Waits until something holds udp 127.0.0.1:port (we can no longer
    bind it)."""
    import socket
    end = time.monotonic() + timeout
    while time.monotonic() < end:
        if proc.poll() is not None:
            raise RuntimeError("sipp UAS exited with %s" % proc.returncode)
        u = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
        try:
            u.bind(("127.0.0.1", port))
        except OSError:
            return
        finally:
            u.close()
        time.sleep(0.02)
    raise RuntimeError("sipp UAS not bound to udp %d after %.0fs" %
                       (port, timeout))


class Uas:
    """The callees: one sipp UAS (sip/uas.xml) on the port every callee
    registered from, for one run of the caller. It ends by itself after m
    calls; otherwise SIGUSR1 (sipp's soft exit), then SIGTERM and SIGKILL
    to its PID."""

    def __init__(self, port, outdir, name, m, timeout):
        self.d = os.path.join(outdir, "sipp", name)
        os.makedirs(self.d, exist_ok=True)
        self.stf = os.path.join(self.d, "stat.csv")
        argv = [which("sipp"), "-sf", CALL_UAS, "-t", "u1",
                "-i", "127.0.0.1", "-p", str(port),
                "-mp", str(free_port()), "-m", str(m), "-nostdin",
                "-trace_stat", "-stf", self.stf, "-fd", "1",
                "-timeout", "%ds" % timeout, "-trace_err",
                "-buff_size", str(SIPP_BUF)]
        self.proc = Proc("sipp-uas", argv, self.d, cwd=self.d)
        try:
            wait_udp_bound(port, 10.0, self.proc.p)
        except Exception:
            self.proc.stop()
            raise

    def finish(self, wait):
        try:
            self.proc.p.wait(wait)
        except subprocess.TimeoutExpired:
            log("sipp UAS pid %d still running: SIGUSR1" % self.proc.pid)
            try:
                os.kill(self.proc.pid, signal.SIGUSR1)
                self.proc.p.wait(10)
            except (ProcessLookupError, subprocess.TimeoutExpired):
                pass
        self.proc.stop(5)
        if not os.path.exists(self.stf):
            return None
        return parse_sipp_stats(self.stf)


def call_run(srv, uas_port, calls_csv, out, name, rate, limit, m, timeout,
             rtt=False):
    """One run of the caller (sip/uac.xml) against srv with the callee UAS
    listening; returns the caller's counts with the callees' under "uas",
    both summed in failed_all / retrans_all, and the server's CPU time
    (from before the run until it is idle again) per successful call."""
    c0 = cpu_settled(srv)
    uas = Uas(uas_port, out, name + "-uas", m, timeout + 30)
    try:
        st = sipp(srv.sip_port, calls_csv, out, name, rate, limit, m,
                  rtt=rtt, timeout=timeout, scenario=CALL_UAC,
                  extra=["-p", str(free_port()), "-mp", str(free_port()),
                         "-trace_err"])
    finally:
        u = uas.finish(15)
    st["cpu_s"] = cpu_settled(srv) - c0
    st["cpu_us_per_call"] = (st["cpu_s"] * 1e6 / st["success"]
                             if st["success"] else None)
    st["uas"] = u
    st["failed_all"] = st["failed"] + (u["failed"] if u else 0)
    st["retrans_all"] = st["retrans"] + (u["retrans"] if u else 0)
    st["uas_success"] = u["success"] if u else 0
    st["end"] = time.monotonic()
    return st


def call_pass(st, m, secs):
    """Every call through on both sides, no retransmission on either, at
    the offered rate."""
    return (st["failed_all"] == 0 and st["retrans_all"] == 0 and
            st["success"] == m and st["uas_success"] == m and
            st["elapsed"] <= secs * 1.2 + 1.0)


def call_log(what, name, rate, st):
    log("calls %s %s %d/s: ok=%d failed=%d retrans=%d callees ok=%d "
        "failed=%d retrans=%d elapsed=%.2fs setup p50 %s ms p99 %s ms, "
        "%.0f us CPU/call -> %s" %
        (what, name, rate, st["success"], st["failed"], st["retrans"],
         st["uas_success"], st["failed_all"] - st["failed"],
         st["retrans_all"] - st["retrans"], st["elapsed"], st.get("p50_ms"),
         st.get("p99_ms"), st["cpu_us_per_call"] or 0,
         "pass" if st.get("pass") else "FAIL"))


def cpu_settled(srv, limit_s=5.0):
    """The server's CPU time once it has gone idle (less than 4% of a CPU
    over 0.25 s, or limit_s passed): work a server does after the last
    answer (store writes behind a queue, timers) belongs to the calls."""
    c = srv.cpu()
    end = time.monotonic() + limit_s
    while time.monotonic() < end:
        time.sleep(0.25)
        c2 = srv.cpu()
        if c2 - c < 0.01:
            return c2
        c = c2
    return c


def sipward_cdrs(db_path):
    import sqlite3
    con = sqlite3.connect("file:%s?mode=ro" % db_path, uri=True, timeout=30)
    try:
        return con.execute("SELECT count(*) FROM cdrs").fetchone()[0]
    finally:
        con.close()


def part_calls(ctx):
    S = ctx.s
    if not which("sipp"):
        raise Skip("sipp (package sip-tester) is not installed")
    n = S["call_users"]
    out = ctx.part_dir("calls")
    # Users 0..n-1 call users n..2n-1 (caller i calls callee n+i).
    tmpl = ctx.template(2 * n)
    callees = os.path.join(out, "callees.csv")
    pv.sipp_users(callees, DOMAIN, range(n, 2 * n))
    calls = os.path.join(out, "calls.csv")
    pv.sipp_calls(calls, DOMAIN, [(i, n + i) for i in range(n)])
    servers = {}
    uas_port = {}
    res = {"callers": n, "callees": n, "step_s": S["call_step_s"],
           "hold_s": S["call_hold_s"], "quiet_s": S["call_quiet_s"],
           "closed_l": S["call_closed_l"], "closed_m": S["call_closed_m"],
           "servers": {}}
    servers["sipward"] = Sipward(ctx.binary, tmpl.copy(
        os.path.join(out, "sipward.db")), out)
    if which("kamailio") and os.path.isdir(pv.KAMAILIO_SQL_DIR):
        kdb = os.path.join(out, "kamailio.db")
        pv.kamailio_subscribers(kdb, DOMAIN, 2 * n)
        servers["kamailio"] = Kamailio(kdb, out, cfg="kamailio-proxy.cfg")
    else:
        ctx.skip("calls: Kamailio (kamailio, kamailio-sqlite-modules) not "
                 "installed: sipward measured alone, no ratio")
    ok_calls = {k: 0 for k in servers}
    last_end = {k: 0.0 for k in servers}

    def one(name, what, rate, limit, m, timeout, rtt=False):
        st = call_run(servers[name], uas_port[name], calls, out,
                      what, rate, limit, m, timeout=timeout, rtt=rtt)
        ok_calls[name] += st["success"]
        last_end[name] = st["end"]
        return st

    try:
        for name, srv in servers.items():
            res["servers"][name] = {"pss_idle_kib": srv.pss()}
            # The callees register from the port their UAS will listen on.
            uas_port[name] = free_port()
            r = sipp(srv.sip_port, callees, out, "register-" + name, 1000,
                     64, n, scenario=CALL_REG,
                     extra=["-p", str(uas_port[name]),
                            "-mp", str(free_port())], timeout=120)
            res["servers"][name]["register"] = r
            log("calls register %s: %d of %d callees, %d failed" %
                (name, r["success"], n, r["failed"]))
            if r["success"] != n:
                raise RuntimeError("%s: %d of %d callees registered" %
                                   (name, r["success"], n))
        # Warm-up, the same for both: each caller calls once, 64 calls in
        # flight.
        for name in servers:
            w = one(name, "warmup-" + name, 100000, 64, n, 300)
            res["servers"][name]["warmup"] = w
            log("calls warm-up %s: %d ok, %d failed (callees: %d ok, %d "
                "failed), %.0f calls/s" % (name, w["success"], w["failed"],
                                           w["uas_success"],
                                           w["failed_all"] - w["failed"],
                                           w["rate"]))
        # Open-loop ladder (bursts of step_s seconds), interleaved as in
        # part_sip: a step passes when every call went through on both
        # sides (caller and callee) with no retransmission on either, at
        # the offered rate; a failed step is tried once more.
        climbing = list(servers)
        ladder = {k: [] for k in servers}
        best = {k: None for k in servers}
        step_s = S["call_step_s"]
        for rate in S["call_ladder"]:
            if not climbing:
                break
            for name in list(climbing):
                ok = False
                for attempt in (1, 2):
                    m = rate * step_s
                    st = one(name, "ladder-%s-%d-%d" % (name, rate, attempt),
                             rate, max(1000, 3 * rate), m, step_s * 4 + 30,
                             rtt=True)
                    st.update(offered=rate, attempt=attempt, calls=m)
                    ok = st["pass"] = call_pass(st, m, step_s)
                    ladder[name].append(st)
                    call_log("ladder try %d" % attempt, name, rate, st)
                    if ok:
                        break
                if ok:
                    best[name] = rate
                else:
                    climbing.remove(name)
                time.sleep(0.5)
        for name in servers:
            r = res["servers"][name]
            r["ladder"] = ladder[name]
            r["open_loop_max"] = best[name]
            r["ladder_top_reached"] = name in climbing
        # Sustained: a burst of a few seconds does not show what a server
        # keeps up with once the transactions of finished calls pile up
        # (RFC 3261/6026 keep an INVITE's and a BYE's transactions for
        # 64*T1 = 32 s after the call). Each server's best ladder rate is
        # held for hold_s seconds after quiet_s seconds without traffic;
        # a failed hold is tried again at the highest ladder rate at most
        # 3/4 of it, up to hold_tries times. Interleaved.
        hold_s = S["call_hold_s"]
        todo = {k: best[k] for k in servers if best[k]}
        tries = {k: 0 for k in servers}
        holds = {k: [] for k in servers}
        held = {k: None for k in servers}
        while todo:
            for name in list(todo):
                rate = todo[name]
                wait = S["call_quiet_s"] - (time.monotonic() - last_end[name])
                if wait > 0:
                    log("calls hold %s: %.0f s quiet first" % (name, wait))
                    time.sleep(wait)
                tries[name] += 1
                m = rate * hold_s
                st = one(name, "hold-%s-%d" % (name, rate), rate,
                         max(1000, 3 * rate), m, hold_s * 4 + 30, rtt=True)
                st.update(offered=rate, calls=m)
                st["pass"] = call_pass(st, m, hold_s)
                holds[name].append(st)
                call_log("hold %ds" % hold_s, name, rate, st)
                lower = [x for x in S["call_ladder"] if x <= rate * 0.75]
                if st["pass"]:
                    held[name] = rate
                    del todo[name]
                elif tries[name] >= S["call_hold_tries"] or not lower:
                    del todo[name]
                else:
                    todo[name] = lower[-1]
        for name in servers:
            r = res["servers"][name]
            r["holds"] = holds[name]
            r["sustained_max"] = held[name]
        # The same offered rate for both: the highest ladder step every
        # server passed; its setup latency and CPU per call.
        common = [x for x in S["call_ladder"]
                  if all(any(st["offered"] == x and st["pass"]
                             for st in ladder[k]) for k in servers)]
        res["common_rate"] = common[-1] if common else None
        for name in servers:
            r = res["servers"][name]
            at = [st for st in ladder[name] if st["pass"] and
                  st["offered"] == res["common_rate"]]
            if at:
                r["common"] = {k: at[-1].get(k) for k in (
                    "p50_ms", "p99_ms", "cpu_us_per_call", "rate")}
        # Closed loop, interleaved rounds; server CPU per call.
        for rnd in range(S["call_closed_rounds"]):
            for name in servers:
                wait = S["call_quiet_s"] - (time.monotonic() - last_end[name])
                if wait > 0:
                    time.sleep(wait)
                st = one(name, "closed-%s-%d" % (name, rnd + 1), 1000000,
                         S["call_closed_l"], S["call_closed_m"], 300)
                res["servers"][name].setdefault("closed", []).append(st)
                log("calls closed %s round %d: %.0f calls/s, %d failed, "
                    "%d retrans (callees: %d failed, %d retrans), %.0f us "
                    "CPU/call" % (name, rnd + 1, st["rate"], st["failed"],
                                  st["retrans"],
                                  st["failed_all"] - st["failed"],
                                  st["retrans_all"] - st["retrans"],
                                  st["cpu_us_per_call"] or 0))
        for name, srv in servers.items():
            r = res["servers"][name]
            r["closed_peak"] = mean([c["rate"] for c in r["closed"]])
            r["cpu_us_per_call"] = mean([c["cpu_us_per_call"]
                                         for c in r["closed"]])
            r["pss_kib"] = srv.pss()
            r["processes"] = len(srv.pids())
            r["calls_ok"] = ok_calls[name]
        # sipward writes both legs' CDRs of every call through its
        # call-log worker: check they reached the store (calls that failed
        # at the caller after the callee answered have CDRs too).
        sw = servers["sipward"]
        want = 2 * ok_calls["sipward"]
        end = time.monotonic() + 30
        got = sipward_cdrs(sw.db_path)
        while got < want and time.monotonic() < end:
            time.sleep(0.5)
            got = sipward_cdrs(sw.db_path)
        res["servers"]["sipward"]["cdrs"] = got
        res["servers"]["sipward"]["cdrs_expected_min"] = want
        log("calls sipward CDRs: %d in the store, %d legs of successful "
            "calls" % (got, want))
    finally:
        for srv in servers.values():
            srv.stop()
    return res


def part_http(ctx):
    S = ctx.s
    out = ctx.part_dir("http")
    tmpl = ctx.template(S["users"])
    ids_path = os.path.join(out, "ids.txt")
    pv.id_file(ids_path, tmpl.ids)
    sw = Sipward(ctx.binary, tmpl.copy(os.path.join(out, "sipward.db")), out)
    ng = None
    res = {"endpoints": tmpl.n, "conns": S["conns"],
           "threads": S["wrk_threads"], "duration_s": S["http_s"],
           "rounds": S["rounds"], "sipward_http_threads": sw.threads}
    try:
        a = [ids_path, sw.auth_id, sw.auth_token]
        base = "/v1/Account/%s/Endpoint/" % sw.auth_id
        body_r = http_get(sw.http_port, base + tmpl.ids[0] + "/", sw.auth_id,
                          sw.auth_token)
        body_l = http_get(sw.http_port, base + "?limit=20", sw.auth_id,
                          sw.auth_token)
        res["retrieve_bytes"] = len(body_r)
        res["list_bytes"] = len(body_l)
        if which("nginx"):
            ng = Nginx(out, NCPU, {"retrieve.json": body_r,
                                   "list.json": body_l})
            res["nginx_workers"] = NCPU
        else:
            ctx.skip("http: nginx not installed: no ceiling, no ratio")
        if not which("wrk"):
            ctx.skip("http: wrk not installed: Python load generator used "
                     "(figures are not benchmark results)")
        pairs = [("retrieve", a, "get", ["/retrieve.json"]),
                 ("list", a, "get", ["/list.json"]),
                 ("update", a, "post", ["/empty"])]
        for op, sargs, nmode, nargs in pairs:
            r = res.setdefault(op, {"sipward": [], "nginx": []})
            for rnd in range(S["rounds"]):
                c0 = sw.cpu()
                x = wrk(sw.http_port, op, sargs, S["wrk_threads"], S["conns"],
                        S["http_s"], out, "%s-sipward-%d" % (op, rnd + 1))
                x["cpu_us_per_req"] = ((sw.cpu() - c0) * 1e6 / x["requests"]
                                       if x["requests"] else None)
                r["sipward"].append(x)
                log("http %s sipward: %.0f req/s p50 %.2f ms p99 %.2f ms "
                    "errors %d" % (op, x["rps"], x["lat_p50_us"] / 1e3,
                                   x["lat_p99_us"] / 1e3, x["errors"]))
                if ng:
                    c0 = ng.cpu()
                    y = wrk(ng.port, nmode, nargs, S["wrk_threads"],
                            S["conns"], S["http_s"], out,
                            "%s-nginx-%d" % (op, rnd + 1))
                    y["cpu_us_per_req"] = ((ng.cpu() - c0) * 1e6 /
                                           y["requests"]
                                           if y["requests"] else None)
                    r["nginx"].append(y)
                    log("http %s nginx: %.0f req/s p50 %.2f ms p99 %.2f ms "
                        "errors %d" % (op, y["rps"], y["lat_p50_us"] / 1e3,
                                       y["lat_p99_us"] / 1e3, y["errors"]))
        res["pss_kib"] = {"sipward": sw.pss()}
        if ng:
            res["pss_kib"]["nginx"] = ng.pss()
    finally:
        sw.stop()
        if ng:
            ng.stop()
    return res


def sqlite_commits(path, n, outdir, name):
    """n INSERT transactions, each its own commit (one fsync each in WAL
    with synchronous=FULL), by the sqlite3 command-line tool; returns
    (commits/s, seconds)."""
    for ext in ("", "-wal", "-shm"):
        if os.path.exists(path + ext):
            os.unlink(path + ext)
    setup = ("PRAGMA journal_mode=WAL;\nPRAGMA synchronous=FULL;\n"
             "CREATE TABLE t (id INTEGER PRIMARY KEY, alias TEXT NOT NULL);\n")
    p = subprocess.run([which("sqlite3"), path], input=setup.encode(),
                       capture_output=True, timeout=30)
    if p.returncode != 0:
        raise RuntimeError("sqlite3: %s" % p.stderr.decode()[-300:])
    script = ["PRAGMA synchronous=FULL;"]
    script += ["INSERT INTO t (alias) VALUES ('w0x%d');" % i
               for i in range(n)]
    script = ("\n".join(script) + "\n").encode()
    t = time.monotonic()
    p = subprocess.run([which("sqlite3"), path], input=script,
                       capture_output=True, timeout=300)
    el = time.monotonic() - t
    if p.returncode != 0:
        raise RuntimeError("sqlite3: %s" % p.stderr.decode()[-300:])
    with open(os.path.join(outdir, name + ".txt"), "w") as f:
        f.write("sqlite3 %s: %d autocommit INSERTs, WAL, synchronous=FULL: "
                "%.3f s\n" % (path, n, el))
    return n / el, el


def part_durable(ctx):
    S = ctx.s
    if not which("sqlite3"):
        raise Skip("sqlite3 command-line tool not installed")
    out = ctx.part_dir("durable")
    tmpl = ctx.template(S["users"])
    ids_path = os.path.join(out, "ids.txt")
    pv.id_file(ids_path, tmpl.ids)
    dbpath = tmpl.copy(os.path.join(out, "sipward.db"))
    sw = Sipward(ctx.binary, dbpath, out)
    res = {"conns": S["durable_conns"], "duration_s": S["http_s"],
           "rounds": S["rounds"], "filesystem_dir": out,
           "sipward": [], "sqlite3": []}
    try:
        # Calibrate the sqlite3 run to last about 3 s.
        rate, _ = sqlite_commits(os.path.join(out, "sqlite-cli.db"),
                                 min(100, S["sqlite_max"]), out,
                                 "sqlite3-calibrate")
        n = int(max(50, min(S["sqlite_max"], rate * (S["http_s"] * 0.6))))
        for rnd in range(S["rounds"]):
            x = wrk(sw.http_port, "update", [ids_path, sw.auth_id,
                                             sw.auth_token],
                    S["wrk_threads"], S["durable_conns"], S["http_s"], out,
                    "update-c%d-%d" % (S["durable_conns"], rnd + 1))
            res["sipward"].append(x)
            log("durable sipward update -c%d: %.0f/s p99 %.2f ms errors %d" %
                (S["durable_conns"], x["rps"], x["lat_p99_us"] / 1e3,
                 x["errors"]))
            r, el = sqlite_commits(os.path.join(out, "sqlite-cli.db"), n,
                                   out, "sqlite3-%d" % (rnd + 1))
            res["sqlite3"].append({"commits": n, "seconds": el,
                                   "commits_per_s": r})
            log("durable sqlite3 CLI: %d commits in %.2fs = %.0f/s" %
                (n, el, r))
    finally:
        sw.stop()
    return res


def part_growth(ctx):
    S = ctx.s
    out = ctx.part_dir("growth")
    res = {"sizes": {}, "conns": 16, "duration_s": S["growth_s"]}
    have_sipp = bool(which("sipp"))
    for size in S["growth_sizes"]:
        d = os.path.join(out, "n%d" % size)
        os.makedirs(d, exist_ok=True)
        tmpl = Template(ctx.binary, ctx.work, d, size, "n%d" % size)
        r = {"provision_s": tmpl.provision_s,
             "db_bytes": os.path.getsize(tmpl.path)}
        rnd = random.Random(size)
        sample = sorted(rnd.sample(range(size), min(S["sample"], size)))
        ids_path = os.path.join(d, "ids.txt")
        pv.id_file(ids_path, [tmpl.ids[i] for i in rnd.sample(
            sample, len(sample))])
        users = os.path.join(d, "users.csv")
        pv.sipp_users(users, DOMAIN, sample)
        db = tmpl.path  # used in place: the template is not needed again
        sw = Sipward(ctx.binary, db, d, start_timeout=120)
        try:
            r["pss_start_kib"] = sw.pss()
            a = [ids_path, sw.auth_id, sw.auth_token]
            # The last page: as meta.next gives it (offset and after,
            # keyset), and by offset alone (what a client computing offsets
            # asks). The offset run goes last: its requests (each a walk
            # of the index) still run on the server for seconds after wrk
            # stops, and would slow what is measured next (run R10: the
            # keyset page at 1,000,000 at 0.65x the first page).
            deep = "offset=%d" % (size - 20)
            keyset = [("list_keyset", "%s&after=%s" % (deep,
                                                       tmpl.ids[size - 21]))]
            offset = [("list_offset", deep)]

            def http_ops(ops):
                for op, query in ops:
                    if query and not which("wrk"):
                        continue  # the Python fallback: the first page
                    x = wrk(sw.http_port, op.split("_")[0], a,
                            S["wrk_threads"], 16, S["growth_s"], d,
                            "%s-n%d" % (op, size), query=query)
                    r[op] = x
                    log("growth n=%d %s: %.0f req/s p50 %.2f ms p99 %.2f ms "
                        "errors %d" % (size, op, x["rps"],
                                       x["lat_p50_us"] / 1e3,
                                       x["lat_p99_us"] / 1e3, x["errors"]))

            http_ops([("retrieve", None), ("list", None), ("update", None)] +
                     keyset)
            if have_sipp:
                st = sipp(sw.sip_port, users, d, "register-n%d" % size,
                          1000000, 16, S["growth_reg_m"], rtt=True,
                          timeout=120)
                r["register"] = st
                log("growth n=%d REGISTER: %.0f calls/s p50 %s ms p99 %s ms "
                    "failed %d" % (size, st["rate"], st.get("p50_ms"),
                                   st.get("p99_ms"), st["failed"]))
            http_ops(offset)
            if size == S["growth_mem_size"] and have_sipp:
                r["memory"] = growth_memory(ctx, sw, size, d)
            r["pss_end_kib"] = sw.pss()
        finally:
            sw.stop()
        for ext in ("", "-wal", "-shm"):
            if os.path.exists(db + ext) and size >= 100000:
                os.unlink(db + ext)  # hundreds of MB
        res["sizes"][str(size)] = r
    return res


def growth_memory(ctx, sw, size, d):
    """PSS of sipward with `size` endpoints before and after every one of
    them holds a live binding; Kamailio with the same users and bindings."""
    m = {"endpoints": size, "sipward_pss_before_kib": sw.pss()}
    users = os.path.join(d, "users-all.csv")
    pv.sipp_users(users, DOMAIN, range(size))
    st = sipp(sw.sip_port, users, d, "register-all-sipward", 1000000, 256,
              size, timeout=600)
    m["sipward_register_all"] = st
    m["sipward_pss_bindings_kib"] = sw.pss()
    rows = subprocess.run([which("sqlite3") or "sqlite3", sw.db_path,
                           "SELECT count(*) FROM registrations"],
                          capture_output=True, timeout=60)
    m["sipward_live_bindings"] = int(rows.stdout.strip() or 0)
    log("growth memory sipward: %d bindings, PSS %.1f MiB (%.1f MiB before)"
        % (m["sipward_live_bindings"], m["sipward_pss_bindings_kib"] / 1024,
           m["sipward_pss_before_kib"] / 1024))
    if which("kamailio") and os.path.isdir(pv.KAMAILIO_SQL_DIR):
        kdb = os.path.join(d, "kamailio.db")
        pv.kamailio_subscribers(kdb, DOMAIN, size)
        k = Kamailio(kdb, d)
        try:
            m["kamailio_pss_before_kib"] = k.pss()
            st = sipp(k.sip_port, users, d, "register-all-kamailio", 1000000,
                      256, size, timeout=600)
            m["kamailio_register_all"] = st
            m["kamailio_pss_bindings_kib"] = k.pss()
            log("growth memory kamailio: %d registered, PSS %.1f MiB" %
                (st["success"], m["kamailio_pss_bindings_kib"] / 1024))
        finally:
            k.stop()
    else:
        ctx.skip("growth: Kamailio not installed: no memory ratio")
    return m


def callgrind_total(path):
    with open(path) as f:
        for line in f:
            if line.startswith("summary:") or line.startswith("totals:"):
                return int(line.split()[1])
    raise RuntimeError("no totals in %s" % path)


def part_callgrind(ctx):
    S = ctx.s
    if not which("valgrind"):
        raise Skip("valgrind not installed")
    out = ctx.part_dir("callgrind")
    tmpl = ctx.template(S["users"])
    n1, n2 = S["cg_n"]
    res = {"n1": n1, "n2": n2, "ops": {}}
    ops = ["retrieve", "update", "register", "challenge"]
    for op in ops:
        tot = {}
        for n in (n1, n2):
            name = "%s-%d" % (op, n)
            db = tmpl.copy(os.path.join(out, name + ".db"))
            cg = os.path.join(out, "callgrind.out." + name)
            sw = Sipward(ctx.binary, db, out, name="sipward-" + name,
                         wrapper=[which("valgrind"), "--tool=callgrind",
                                  "--callgrind-out-file=" + cg],
                         start_timeout=120)
            try:
                drive(op, sw, tmpl, n)
            finally:
                rc = sw.stop()
            tot[n] = callgrind_total(cg)
            log("callgrind %s x%d: %d instructions (exit %s)" %
                (op, n, tot[n], rc))
            for ext in ("", "-wal", "-shm"):
                if os.path.exists(db + ext):
                    os.unlink(db + ext)
        if which("callgrind_annotate"):
            # Where the instructions go, for whoever compares two runs.
            run([which("callgrind_annotate"), "--inclusive=yes",
                 "--threshold=99",
                 os.path.join(out, "callgrind.out.%s-%d" % (op, n2))], 120,
                out, "annotate-%s-%d" % (op, n2))
        res["ops"][op] = {"total_n1": tot[n1], "total_n2": tot[n2],
                          "per_request": (tot[n2] - tot[n1]) / (n2 - n1)}
        log("callgrind %s: %.0f instructions per request" %
            (op, res["ops"][op]["per_request"]))
    return res


def part_callgrind_calls(ctx):
    """Instructions per call: sipward under callgrind, callees registered
    (sip/callee-register.xml) and answering (sip/uas.xml), the caller
    (sip/uac.xml) placing one call at a time (sipp -l 1): INVITE, 407,
    ACK, INVITE with credentials, 180, 200, ACK, BYE, 200, and sipward's
    own B leg. (I(N2 calls) - I(N1 calls)) / (N2 - N1), two separate
    server runs, so the start, the registrations and the first call's
    cold caches cancel out."""
    S = ctx.s
    if not which("valgrind"):
        raise Skip("valgrind not installed")
    if not which("sipp"):
        raise Skip("sipp (package sip-tester) is not installed")
    out = ctx.part_dir("callgrind_calls")
    n = S["cg_call_users"]
    tmpl = ctx.template(2 * n)
    callees = os.path.join(out, "callees.csv")
    pv.sipp_users(callees, DOMAIN, range(n, 2 * n))
    calls = os.path.join(out, "calls.csv")
    pv.sipp_calls(calls, DOMAIN, [(i, n + i) for i in range(n)])
    n1, n2 = S["cg_call_n"]
    tot = {}
    for cnt in (n1, n2):
        name = "call-%d" % cnt
        db = tmpl.copy(os.path.join(out, name + ".db"))
        cg = os.path.join(out, "callgrind.out." + name)
        sw = Sipward(ctx.binary, db, out, name="sipward-" + name,
                     wrapper=[which("valgrind"), "--tool=callgrind",
                              "--callgrind-out-file=" + cg],
                     start_timeout=120)
        try:
            port = free_port()
            r = sipp(sw.sip_port, callees, out, "register-%d" % cnt, 50, 1,
                     n, scenario=CALL_REG,
                     extra=["-p", str(port), "-mp", str(free_port())],
                     timeout=300)
            if r["success"] != n:
                raise RuntimeError("%d of %d callees registered" %
                                   (r["success"], n))
            st = call_run(sw, port, calls, out, "calls-%d" % cnt, 1000, 1,
                          cnt, timeout=600)
            if st["success"] != cnt or st["uas_success"] != cnt:
                raise RuntimeError("%s: %d of %d calls (callees: %d)" % (
                    name, st["success"], cnt, st["uas_success"]))
            # The CDRs go through a queue: let it drain before stopping.
            end = time.monotonic() + 60
            while (sipward_cdrs(db) < 2 * cnt and
                   time.monotonic() < end):
                time.sleep(0.5)
        finally:
            rc = sw.proc.stop(120)
        tot[cnt] = callgrind_total(cg)
        log("callgrind calls x%d: %d instructions (exit %s, %d "
            "retransmissions)" % (cnt, tot[cnt], rc, st["retrans_all"]))
        for ext in ("", "-wal", "-shm"):
            if os.path.exists(db + ext):
                os.unlink(db + ext)
    if which("callgrind_annotate"):
        for incl in ("yes", "no"):
            run([which("callgrind_annotate"), "--inclusive=" + incl,
                 "--threshold=99",
                 os.path.join(out, "callgrind.out.call-%d" % n2)], 120,
                out, "annotate-call-%d-%s" % (
                    n2, "inclusive" if incl == "yes" else "self"))
    per = (tot[n2] - tot[n1]) / (n2 - n1)
    log("callgrind calls: %.0f instructions per call" % per)
    return {"n1": n1, "n2": n2, "total_n1": tot[n1], "total_n2": tot[n2],
            "per_call": per, "callees": n}


def drive(op, sw, tmpl, n):
    """n sequential requests of one kind, each answered before the next."""
    if op in ("retrieve", "update"):
        c = http.client.HTTPConnection("127.0.0.1", sw.http_port, timeout=60)
        h = {"X-Auth-ID": sw.auth_id, "X-Auth-Token": sw.auth_token,
             "Content-Type": "application/json"}
        for i in range(n):
            path = "/v1/Account/%s/Endpoint/%s/" % (
                sw.auth_id, tmpl.ids[i % len(tmpl.ids)])
            if op == "retrieve":
                c.request("GET", path, headers=h)
                want = 200
            else:
                c.request("POST", path, body='{"alias": "cg%d"}' % i,
                          headers=h)
                want = 202
            r = c.getresponse()
            r.read()
            if r.status != want:
                raise RuntimeError("%s: HTTP %d" % (op, r.status))
        c.close()
        return
    rc = RegClient(sw.sip_port, DOMAIN)
    try:
        if rc.challenge(0) != 401:
            raise RuntimeError("no 401 challenge")
        for i in range(n):
            if op == "register":
                st = rc.register(i % tmpl.n)
                want = 200
            else:
                st = rc.challenge(i % tmpl.n)
                want = 401
            if st != want:
                raise RuntimeError("%s: SIP %d" % (op, st))
    finally:
        rc.close()


# ---------------------------------------------------------------- scaling

PG_CLUSTER = os.path.join(os.path.dirname(HERE), "scripts", "pg-cluster.sh")
SCAL_DB = "sipward"  # the nodes' database; the counters are read from
#                      "postgres", so that reading them adds no transaction
SCAL_NONCE = "bench-scaling-shared-nonce-secret"


def pg_bindir():
    """The PostgreSQL server binaries scripts/pg-cluster.sh uses (the
    newest /usr/lib/postgresql/*/bin), or None."""
    def key(d):
        return [int(x) for x in re.findall(r"\d+", d)]
    dirs = sorted(glob.glob("/usr/lib/postgresql/*/bin"), key=key)
    if not dirs or "postgresql" in HIDDEN:
        return None
    d = dirs[-1]
    if not all(os.access(os.path.join(d, b), os.X_OK)
               for b in ("initdb", "pg_ctl", "psql")):
        return None
    return d


class Pg:
    """A throwaway PostgreSQL cluster (scripts/pg-cluster.sh: fsync on,
    the unprivileged postgres user, 127.0.0.1 on a free port), removed by
    stop(). Its directory is a fresh one under /tmp: the cluster runs as
    postgres, which must reach it."""

    def __init__(self, bindir, outdir):
        import tempfile
        self.psql_bin = os.path.join(bindir, "psql")
        self.outdir = outdir
        self.dir = tempfile.mkdtemp(prefix="sipward-bench-pg-")
        rc, out, err = run(["sh", PG_CLUSTER, "start", self.dir], 180,
                           outdir, "pg-cluster-start")
        if rc != 0:
            self.stop()
            raise RuntimeError("pg-cluster.sh start failed (%s): %s" %
                               (rc, (out + err)[-400:]))
        with open(os.path.join(self.dir, "url")) as f:
            self.url = f.read().strip()
        self.base = self.url.rsplit("/", 1)[0]
        log("PostgreSQL cluster in %s: %s" % (self.dir, self.url))

    def db_url(self, db):
        return "%s/%s" % (self.base, db)

    def psql(self, sql, db="postgres", timeout=60):
        """Rows of one statement, each a list of strings."""
        rc, out, err = run([self.psql_bin, "-X", "-A", "-t", "-q", "-F", "|",
                            "-v", "ON_ERROR_STOP=1", "-d", self.db_url(db),
                            "-c", sql], timeout)
        if rc != 0:
            raise RuntimeError("psql %r: %s" % (sql[:60], err[-300:]))
        return [line.split("|") for line in out.splitlines() if line]

    def log_end(self):
        return os.path.getsize(os.path.join(self.dir, "server.log"))

    def log_errors(self, start, end):
        """The ERROR lines of the server log between two of its sizes,
        counted by message (numbers replaced by N)."""
        counts = {}
        with open(os.path.join(self.dir, "server.log"), "rb") as f:
            f.seek(start)
            data = f.read(max(0, end - start))
        for line in data.decode(errors="replace").splitlines():
            m = re.search(r"\bERROR:\s+(.*)", line)
            if m:
                msg = re.sub(r"\d+", "N", m.group(1))[:120]
                counts[msg] = counts.get(msg, 0) + 1
        return counts

    def pids(self):
        """The postmaster and its children (backends, walwriter, ...)."""
        try:
            with open(os.path.join(self.dir, "data", "postmaster.pid")) as f:
                pid = int(f.readline())
        except (OSError, ValueError):
            return []
        return tree(pid)

    def cpu(self):
        return cpu_seconds(self.pids())

    def stop(self):
        log_path = os.path.join(self.dir, "server.log")
        if os.path.exists(log_path):
            # Large under a storm (each serialization failure is logged
            # with its statement): compressed as tidy() does.
            dest = os.path.join(self.outdir, "postgresql.log")
            if os.path.getsize(log_path) > (1 << 20):
                import gzip
                with open(log_path, "rb") as src, \
                        gzip.open(dest + ".gz", "wb") as dst:
                    shutil.copyfileobj(src, dst)
            else:
                shutil.copyfile(log_path, dest)
        run(["sh", PG_CLUSTER, "stop", self.dir], 120, self.outdir,
            "pg-cluster-stop")
        shutil.rmtree(self.dir, ignore_errors=True)


# What pg_counters() reads. xact_commit counts every transaction of the
# nodes' database, the read-only ones too (each node polls its store four
# times a second for API hangups); the XID counter (the xmax of a snapshot)
# moves only for transactions that wrote, and reading it assigns none.
# WAL bytes, records and full-page images are the cluster's.
PG_COUNTERS = ("xact_commit", "xact_rollback", "tup_inserted",
               "tup_updated", "tup_deleted", "xids", "wal_bytes",
               "wal_records", "wal_fpi", "checkpoints")
PG_QUERY = (
    "SELECT d.xact_commit, d.xact_rollback, d.tup_inserted, d.tup_updated,"
    " d.tup_deleted, pg_snapshot_xmax(pg_current_snapshot()),"
    " pg_wal_lsn_diff(pg_current_wal_lsn(), '0/0')::bigint,"
    " w.wal_records, w.wal_fpi, b.checkpoints_timed + b.checkpoints_req"
    " FROM pg_stat_database d, pg_stat_wal w, pg_stat_bgwriter b"
    " WHERE d.datname = '%s'" % SCAL_DB)
# Counters that only move when the nodes' database is written (the WAL
# moves for the whole cluster, background processes included).
PG_WRITES = ("tup_inserted", "tup_updated", "tup_deleted", "xids",
             "xact_rollback")


def pg_counters(pg):
    rows = pg.psql(PG_QUERY)
    if len(rows) != 1:
        raise RuntimeError("pg_stat_database has no row for %s" % SCAL_DB)
    c = dict(zip(PG_COUNTERS, (int(x) for x in rows[0])))
    c["t"] = time.monotonic()
    c["log_pos"] = pg.log_end()
    return c


# PostgreSQL 15's PGSTAT_IDLE_INTERVAL: a backend flushes its statistics
# to pg_stat_database at most once a second (PGSTAT_MIN_INTERVAL) when it
# runs commands; one that goes idle less than a second after its last
# flush keeps them until a timer 10 s later. So a write made by a pooled
# connection that then idles shows up to 10 s late.
PGSTAT_IDLE_S = 10.0


def pg_settled(pg, quiet_s=PGSTAT_IDLE_S + 1.5, timeout=120.0):
    """The counters once the writes have all reached them: no write
    counter (tuples, XIDs, rollbacks) has moved for quiet_s, longer than
    a flush can be held back (PGSTAT_IDLE_S), polling every 0.25 s; fails
    when they still move after timeout. (pg_stat_force_next_flush() only
    flushes the calling session's statistics, not the nodes'.)"""
    end = time.monotonic() + timeout
    last = pg_counters(pg)
    since = last["t"]
    while True:
        time.sleep(0.25)
        cur = pg_counters(pg)
        if any(cur[k] != last[k] for k in PG_WRITES):
            since = cur["t"]
        elif cur["t"] - since >= quiet_s:
            return cur
        if time.monotonic() > end:
            raise RuntimeError(
                "PostgreSQL write counters still moving %.0fs after the "
                "load: %s" % (timeout, {k: cur[k] - last[k]
                                        for k in PG_WRITES}))
        last = cur


def pg_phase(pg, before, after, ops, wall_s, idle_commit_rate):
    """The counters' differences over a phase, per operation (a REGISTER
    round trip or a call) and per second of the load's wall time."""
    d = {k: after[k] - before[k] for k in PG_COUNTERS}
    # The server log's ERRORs between the snapshots (serialization
    # failures the nodes retried, unique conflicts ...), by message.
    d["log_errors"] = pg.log_errors(before["log_pos"], after["log_pos"])
    d["tuples"] = d["tup_inserted"] + d["tup_updated"] + d["tup_deleted"]
    # The nodes' read-only polling goes on between the two snapshots,
    # load or not: commits net of it, at the rate measured idle.
    d["idle_commits"] = idle_commit_rate * (after["t"] - before["t"])
    d["commits_net"] = d["xact_commit"] - d["idle_commits"]
    d["span_s"] = after["t"] - before["t"]
    per = {}
    for k in ("xact_commit", "commits_net", "xact_rollback", "xids",
              "tuples",
              "tup_inserted", "tup_updated", "tup_deleted", "wal_bytes",
              "wal_records", "wal_fpi"):
        per[k] = d[k] / ops if ops else None
    rate = {k: (d[k] / wall_s if wall_s > 0 else None)
            for k in ("xact_commit", "commits_net", "xact_rollback",
                      "xids", "wal_bytes")}
    return {"delta": d, "per_op": per, "per_s": rate}


def sipp_media_ports(n):
    """n distinct sipp media (-mp) ports, 4 apart (sipp binds the port and
    the one 2 above it)."""
    out = []
    for _ in range(200):
        p = free_port()
        if all(abs(p - q) >= 4 for q in out):
            out.append(p)
            if len(out) == n:
                return out
    raise RuntimeError("no %d free media ports" % n)


class NodeGroup:
    """Several sipward nodes seen as one server by call_run(): SIP to the
    first, CPU time summed over all."""

    def __init__(self, nodes):
        self.nodes = nodes
        self.sip_port = nodes[0].sip_port

    def cpu(self):
        return sum(n.cpu() for n in self.nodes)


def part_scaling(ctx):
    """Three sipward nodes on one PostgreSQL (scripts/pg-cluster.sh) under
    a registration storm and a call load, with PostgreSQL's own counters
    (pg_stat_database, the XID counter, WAL) read before and after each
    phase: commits, write transactions, tuples and WAL bytes per REGISTER
    and per call, and the commit rate, for a capacity model to be checked
    against."""
    from concurrent.futures import ThreadPoolExecutor
    S = ctx.s
    if not which("sipp"):
        raise Skip("sipp (package sip-tester) is not installed")
    bindir = pg_bindir()
    if not bindir:
        raise Skip("PostgreSQL server not installed (/usr/lib/postgresql/"
                   "*/bin: initdb, pg_ctl, psql)")
    if not os.path.exists(PG_CLUSTER):
        raise Skip("no %s" % PG_CLUSTER)
    n = S["scal_users"]
    k = S["scal_call_users"]
    n_nodes = 3
    in_flight = 256
    out = ctx.part_dir("scaling")
    # Users 0..n-1 storm; n..n+k-1 call n+k..n+2k-1 (callers and callees
    # outside the storm, so that no callee has a stale storm binding).
    tmpl = ctx.template(n + 2 * k)
    res = {"nodes": n_nodes, "users": n, "in_flight": in_flight,
           "call_users": k, "calls": S["scal_calls"],
           "call_rate": S["scal_call_rate"], "endpoints": tmpl.n}
    pg = Pg(bindir, out)
    nodes = []
    try:
        res["postgresql"] = pg.psql("SHOW server_version")[0][0]
        res["pg_settings"] = {r[0]: r[1] for r in pg.psql(
            "SELECT name, setting FROM pg_settings WHERE name IN "
            "('fsync', 'synchronous_commit', 'wal_level', 'shared_buffers',"
            " 'max_connections', 'full_page_writes', 'checkpoint_timeout',"
            " 'max_wal_size', 'commit_delay')")}
        pg.psql("CREATE DATABASE %s" % SCAL_DB)
        t = time.monotonic()
        rc, cout, cerr = run([ctx.binary, "db", "copy", "--from",
                              "sqlite:" + tmpl.path, "--to",
                              pg.db_url(SCAL_DB)], 600, out, "db-copy")
        if rc != 0:
            raise RuntimeError("db copy failed (%s): %s" % (rc, cerr[-400:]))
        res["copy"] = json.loads(cout.strip().splitlines()[-1])
        res["copy_s"] = time.monotonic() - t
        if res["copy"].get("endpoints") != tmpl.n:
            raise RuntimeError("db copy: %r, %d endpoints expected" %
                               (res["copy"], tmpl.n))
        log("scaling: %d endpoints copied into PostgreSQL in %.1fs" %
            (tmpl.n, res["copy_s"]))
        # Every node: the same nonce secret (a nonce of one node is good on
        # another) and the SQLite file's server key (the copied tokens are
        # sealed with it), as docs/operations.md says for several nodes.
        env = {"SIPWARD_SIP_NONCE_SECRET": SCAL_NONCE}
        if os.path.exists(tmpl.path + ".key"):
            env["SIPWARD_KEY_FILE"] = tmpl.path + ".key"
        for i in range(n_nodes):
            nodes.append(Sipward(ctx.binary, tmpl.path, out,
                                 name="node%d" % (i + 1), env=env,
                                 db_url=pg.db_url(SCAL_DB),
                                 start_timeout=60))
        # Idle: the commits the nodes make without load (read-only polls).
        a = pg_settled(pg)
        time.sleep(S["scal_idle_s"])
        b = pg_counters(pg)
        idle = (b["xact_commit"] - a["xact_commit"]) / (b["t"] - a["t"])
        res["idle"] = {"seconds": b["t"] - a["t"],
                       "commits": b["xact_commit"] - a["xact_commit"],
                       "xids": b["xids"] - a["xids"],
                       "commit_rate": idle}
        log("scaling idle: %.1f commits/s, %d write transactions in %.1fs"
            % (idle, res["idle"]["xids"], res["idle"]["seconds"]))

        # The storm: the users split in three, one sipp per node, all at
        # once, 256 calls in flight in all; a round of first registrations,
        # then one of refreshes.
        parts = [list(range(i * n // n_nodes, (i + 1) * n // n_nodes))
                 for i in range(n_nodes)]
        limits = [in_flight // n_nodes + (1 if i < in_flight % n_nodes
                                          else 0) for i in range(n_nodes)]
        csvs = []
        for i, p in enumerate(parts):
            path = os.path.join(out, "users-node%d.csv" % (i + 1))
            pv.sipp_users(path, DOMAIN, p)
            csvs.append(path)
        before = pg_settled(pg)
        for rnd in ("register", "refresh"):
            c0 = [x.cpu() for x in nodes]
            p0 = pg.cpu()
            mps = sipp_media_ports(n_nodes)
            t = time.monotonic()
            with ThreadPoolExecutor(n_nodes) as ex:
                futs = [ex.submit(sipp, nodes[i].sip_port, csvs[i], out,
                                  "%s-node%d" % (rnd, i + 1), 1000000,
                                  limits[i], len(parts[i]),
                                  timeout=S["scal_storm_timeout"],
                                  extra=["-mp", str(mps[i])])
                        for i in range(n_nodes)]
                sts = [f.result() for f in futs]
            wall = time.monotonic() - t
            cpu = [x.cpu() - c for x, c in zip(nodes, c0)]
            pcpu = pg.cpu() - p0
            after = pg_settled(pg)
            ok = sum(st["success"] for st in sts)
            r = {"success": ok, "failed": sum(st["failed"] for st in sts),
                 "retrans": sum(st["retrans"] for st in sts),
                 "wall_s": wall, "rate": ok / wall if wall > 0 else 0,
                 "rate_sum": sum(st["rate"] for st in sts),
                 "per_node": sts, "node_cpu_s": cpu, "pg_cpu_s": pcpu,
                 "cpu_us_per_op": ((sum(cpu) + pcpu) * 1e6 / ok
                                   if ok else None)}
            r["pg"] = pg_phase(pg, before, after, ok, wall, idle)
            res[rnd] = r
            before = after  # nothing ran in between
            log("scaling storm %s: %d ok, %d failed, %d retrans, %.0f/s in "
                "%.1fs; per REGISTER %.2f commits, %.2f rollbacks, %.2f "
                "write txns, %.2f tuples, %.0f WAL bytes; %.0f commits/s" % (
                    rnd, ok, r["failed"], r["retrans"], r["rate"], wall,
                    r["pg"]["per_op"]["xact_commit"] or 0,
                    r["pg"]["per_op"]["xact_rollback"] or 0,
                    r["pg"]["per_op"]["xids"] or 0,
                    r["pg"]["per_op"]["tuples"] or 0,
                    r["pg"]["per_op"]["wal_bytes"] or 0,
                    r["pg"]["per_s"]["xact_commit"] or 0))
        res["registered"] = int(pg.psql(
            "SELECT count(DISTINCT endpoint_ref) FROM registrations WHERE "
            "expires_ms > (extract(epoch FROM now()) * 1000)::bigint",
            db=SCAL_DB)[0][0])

        # The calls: callees registered through nodes 2 and 3 from the
        # port of one sipp UAS; the caller sends every INVITE to node 1,
        # which rings the callee's UDP binding itself.
        callees = list(range(n + k, n + 2 * k))
        uas_port = free_port()
        half = (len(callees) + 1) // 2
        regs = []
        for j, (node, who) in enumerate(((nodes[1], callees[:half]),
                                         (nodes[2 % n_nodes],
                                          callees[half:]))):
            if not who:
                continue
            path = os.path.join(out, "callees-%d.csv" % (j + 2))
            pv.sipp_users(path, DOMAIN, who)
            r = sipp(node.sip_port, path, out, "callee-register-node%d" %
                     (j + 2), 1000, 64, len(who), scenario=CALL_REG,
                     extra=["-p", str(uas_port), "-mp", str(free_port())],
                     timeout=120)
            if r["success"] != len(who):
                raise RuntimeError("node %d: %d of %d callees registered" %
                                   (j + 2, r["success"], len(who)))
            regs.append(r)
        res["callee_register"] = regs
        calls_csv = os.path.join(out, "calls.csv")
        pv.sipp_calls(calls_csv, DOMAIN, [(n + i, n + k + i)
                                          for i in range(k)])
        m, rate = S["scal_calls"], S["scal_call_rate"]
        before = pg_settled(pg)
        c0 = [x.cpu() for x in nodes]
        p0 = pg.cpu()
        t = time.monotonic()
        st = call_run(NodeGroup(nodes), uas_port, calls_csv, out, "calls",
                      rate, max(1000, 3 * rate), m,
                      timeout=int(m / rate) * 4 + 60)
        wall = time.monotonic() - t
        cpu = [x.cpu() - c for x, c in zip(nodes, c0)]
        pcpu = pg.cpu() - p0
        after = pg_settled(pg)
        ok = st["success"]
        r = {"success": ok, "failed": st["failed"], "retrans": st["retrans"],
             "uas_success": st["uas_success"],
             "failed_all": st["failed_all"],
             "retrans_all": st["retrans_all"], "offered": rate, "calls": m,
             "elapsed": st["elapsed"], "rate": st["rate"], "wall_s": wall,
             "node_cpu_s": cpu, "pg_cpu_s": pcpu,
             "cpu_us_per_op": ((sum(cpu) + pcpu) * 1e6 / ok if ok else None),
             "caller": {kk: st[kk] for kk in ("success", "failed", "retrans",
                                               "created", "elapsed", "rc")},
             "uas": st["uas"]}
        # Commit rate over the caller's run (sipp's elapsed), not the
        # wall time around it, which includes the UAS's start and end.
        r["pg"] = pg_phase(pg, before, after, ok, st["elapsed"],
                           idle)
        r["cdrs"] = int(pg.psql("SELECT count(*) FROM cdrs",
                                db=SCAL_DB)[0][0])
        r["cdrs_expected_min"] = 2 * ok
        res["calls_run"] = r
        log("scaling calls: %d ok (callees %d), %d failed, %d retrans at "
            "%d/s; per call %.2f commits, %.2f rollbacks, %.2f write txns, "
            "%.2f tuples, %.0f WAL bytes; %.0f commits/s; %d CDRs" % (
                ok, st["uas_success"], st["failed_all"], st["retrans_all"],
                rate, r["pg"]["per_op"]["xact_commit"] or 0,
                r["pg"]["per_op"]["xact_rollback"] or 0,
                r["pg"]["per_op"]["xids"] or 0,
                r["pg"]["per_op"]["tuples"] or 0,
                r["pg"]["per_op"]["wal_bytes"] or 0,
                r["pg"]["per_s"]["xact_commit"] or 0, r["cdrs"]))
        warns = {}
        for x in nodes:
            with open(x.proc.err_path, errors="replace") as f:
                for line in f:
                    mm = re.search(r"level=(?:warn|error) event=(\S+)", line)
                    if mm:
                        warns[mm.group(1)] = warns.get(mm.group(1), 0) + 1
        res["log_warnings"] = warns
    finally:
        for x in nodes:
            x.stop()
        pg.stop()
    return res


# ---------------------------------------------------------------- context

class Ctx:
    def __init__(self, args):
        self.args = args
        self.quick = args.quick
        self.s = settings(args.quick)
        self.out = args.out
        self.work = os.path.join(self.out, "work")
        os.makedirs(self.work, exist_ok=True)
        # A private copy: a rebuild during the run cannot swap the binary.
        self.binary = os.path.join(self.work, "sipward")
        shutil.copy2(os.path.abspath(args.bin), self.binary)
        self.skips = []
        self.templates = {}

    def part_dir(self, name):
        d = os.path.join(self.out, name)
        os.makedirs(d, exist_ok=True)
        return d

    def template(self, n):
        if n not in self.templates:
            self.templates[n] = Template(self.binary, self.work, self.work,
                                         n, "tmpl%d" % n)
        return self.templates[n]

    def skip(self, msg):
        print("SKIP %s" % msg, flush=True)
        self.skips.append(msg)


def version(argv, pat=None):
    try:
        p = subprocess.run(argv, capture_output=True, timeout=20)
        t = (p.stdout + p.stderr).decode(errors="replace")
    except (OSError, subprocess.TimeoutExpired):
        return None
    if pat:
        m = re.search(pat, t)
        return m.group(1) if m else t.strip().splitlines()[0]
    return t.strip().splitlines()[0] if t.strip() else None


def machine(ctx):
    cpu = None
    try:
        with open("/proc/cpuinfo") as f:
            for line in f:
                if line.startswith("model name"):
                    cpu = line.split(":", 1)[1].strip()
                    break
    except OSError:
        pass
    mem = None
    try:
        with open("/proc/meminfo") as f:
            mem = int(f.readline().split()[1]) // 1024
    except OSError:
        pass
    df = version(["df", "-hT", ctx.out])
    try:
        df = subprocess.run(["df", "-hT", ctx.out], capture_output=True,
                            timeout=10).stdout.decode().splitlines()[-1]
    except (OSError, subprocess.TimeoutExpired, IndexError):
        pass
    try:
        load = open("/proc/loadavg").read().split()[:3]
    except OSError:
        load = None
    git = version(["git", "-C", os.path.dirname(HERE), "describe",
                   "--always", "--dirty"])
    return {
        "date": datetime.datetime.now(datetime.timezone.utc).strftime(
            "%Y-%m-%d %H:%M UTC"),
        "host": platform.node(), "kernel": platform.release(),
        "cpu": cpu, "cpus": NCPU, "mem_mib": mem, "disk": df,
        "loadavg_start": load, "git": git,
        "versions": {
            "sipward": version([ctx.binary, "--version"]),
            "kamailio": version([which("kamailio") or "kamailio", "-v"],
                                r"version: (kamailio \S+)"),
            "nginx": version([which("nginx") or "nginx", "-v"],
                             r"(nginx/\S+)"),
            "wrk": version([which("wrk") or "wrk", "-v"], r"(wrk \S+)"),
            "sipp": version([which("sipp") or "sipp", "-v"],
                            r"(SIPp v\S+)"),
            "sqlite3": version([which("sqlite3") or "sqlite3", "--version"],
                               r"^(\S+)"),
            "valgrind": version([which("valgrind") or "valgrind",
                                 "--version"]),
        },
    }


def tidy(out):
    """Drops the databases (inputs, rebuilt by every run) and compresses
    the large server logs (one line per HTTP request or three per call)
    and sipp error logs."""
    import gzip
    for root, _, files in os.walk(out):
        for f in files:
            p = os.path.join(root, f)
            if f.endswith((".db", ".db-wal", ".db-shm")):
                os.unlink(p)
            elif (f.endswith((".err", "_errors.log")) and
                  os.path.getsize(p) > (1 << 20)):
                with open(p, "rb") as src, gzip.open(p + ".gz", "wb") as dst:
                    shutil.copyfileobj(src, dst)
                os.unlink(p)


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--quick", action="store_true",
                    help="the smoke: tiny sizes, 1 s runs, < 60 s")
    ap.add_argument("--only", default=None,
                    help="comma-separated parts: " + ",".join(PARTS) +
                    " (default: all; with --quick all but scaling)")
    ap.add_argument("--bin", default=os.path.join(os.path.dirname(HERE),
                                                  "build", "sipward"))
    ap.add_argument("--out", default=None,
                    help="results directory (default bench/results/<date>)")
    ap.add_argument("--keep", action="store_true",
                    help="keep the databases in <out>/work")
    args = ap.parse_args()
    if args.only is None:
        args.only = ",".join(QUICK_PARTS if args.quick else DEFAULT_PARTS)
    parts = [p.strip() for p in args.only.split(",") if p.strip()]
    for p in parts:
        if p not in PARTS:
            ap.error("unknown part %r (parts: %s)" % (p, ", ".join(PARTS)))
    if not os.access(args.bin, os.X_OK):
        ap.error("no sipward binary at %s (make build)" % args.bin)
    if args.out is None:
        args.out = os.path.join(HERE, "results", datetime.datetime.now(
        ).strftime("%Y-%m-%d_%H%M%S") + ("-quick" if args.quick else ""))
    os.makedirs(args.out, exist_ok=True)
    args.out = os.path.abspath(args.out)
    for p in parts + ["work"]:
        # A rerun into the same directory (the CTest smoke) starts clean.
        shutil.rmtree(os.path.join(args.out, p), ignore_errors=True)
    ctx = Ctx(args)
    t0 = time.monotonic()
    results = {"machine": machine(ctx), "quick": args.quick,
               "settings": ctx.s, "argv": sys.argv, "parts": {}}
    log("results in %s" % args.out)
    failed = []
    import report
    limits = raise_socket_limits()
    try:
        for p in parts:
            t = time.monotonic()
            log("== %s" % p)
            try:
                results["parts"][p] = globals()["part_" + p](ctx)
                results["parts"][p]["seconds"] = time.monotonic() - t
                print("PASS %s (%.0fs)" % (p, time.monotonic() - t),
                      flush=True)
            except Skip as e:
                ctx.skip("%s: %s" % (p, e))
                results["parts"][p] = {"skipped": str(e)}
            except Exception as e:  # noqa: BLE001 (reported, then next)
                traceback.print_exc()
                print("FAIL %s: %s" % (p, e), flush=True)
                results["parts"][p] = {"error": "%s: %s" %
                                       (type(e).__name__, e)}
                failed.append(p)
            results["skips"] = ctx.skips
            results["seconds"] = time.monotonic() - t0
            save_json(os.path.join(args.out, "results.json"), results)
            with open(os.path.join(args.out, "summary.md"), "w") as f:
                f.write(report.summary(results))
    finally:
        restore_socket_limits(limits)
    if not args.keep:
        shutil.rmtree(ctx.work, ignore_errors=True)
        tidy(args.out)
    print("summary: %s" % os.path.join(args.out, "summary.md"), flush=True)
    print("%d passed, %d failed, %d skipped" % (
        len([p for p in parts if p not in failed and
             "skipped" not in results["parts"][p]]), len(failed),
        len([p for p in parts if "skipped" in results["parts"][p]])),
        flush=True)
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
