"""report.py - turns results.json into the markdown summary that goes into
docs/BENCHMARKS.md: the machine, the commands, the date, every figure and
every ratio."""
import statistics


def _mean(xs):
    xs = [x for x in xs if x is not None]
    return statistics.mean(xs) if xs else None


def f0(x):
    return "-" if x is None else "{:,.0f}".format(x)


def f1(x):
    return "-" if x is None else "{:,.1f}".format(x)


def f2(x):
    return "-" if x is None else "{:,.2f}".format(x)


def rt(a, b):
    if a is None or not b:
        return "-"
    return "**%.2f**" % (a / b)


def ms1(x):
    """sipp reports whole milliseconds: 0 means under 1 ms."""
    return "-" if x is None else ("<1" if x < 1 else "%.0f" % x)


def mib(kib):
    return "-" if kib is None else "%.1f" % (kib / 1024.0)


def machine(m, argv, quick, seconds):
    v = m.get("versions", {})
    out = ["| | |", "|---|---|"]
    rows = [("date", m.get("date")), ("host", m.get("host")),
            ("CPU", "%s x %s" % (m.get("cpus"), m.get("cpu"))),
            ("memory", "%s MiB" % m.get("mem_mib")),
            ("kernel", m.get("kernel")),
            ("results filesystem", "`%s`" % m.get("disk")),
            ("load average at start", " ".join(m.get("loadavg_start") or [])),
            ("sipward", "%s (git %s)" % (v.get("sipward"), m.get("git"))),
            ("peers and tools", ", ".join(str(v.get(k)) for k in (
                "kamailio", "nginx", "wrk", "sipp", "valgrind")) +
             ", sqlite3 " + str(v.get("sqlite3"))),
            ("command", "`%s`%s" % (" ".join(argv), " (quick smoke: not "
                                    "benchmark figures)" if quick else "")),
            ("run time", "%.0f s" % seconds)]
    for k, x in rows:
        out.append("| %s | %s |" % (k, x))
    return "\n".join(out)


def part_storm(p):
    L = ["## Registration storm", "",
         "%s endpoints, each registering once with its digest (sipp, %s "
         "calls in flight, as fast as the server answers), then each "
         "refreshing; one server after the other on the same users." %
         (f0(p["users"]), p["in_flight"]), "",
         "| server | round | ok | failed | retransmissions | calls/s | "
         "CPU s |", "|---|---|---|---|---|---|---|"]
    sv = p["servers"]
    for name, r in sv.items():
        for rnd in ("register", "refresh"):
            st = r.get(rnd)
            if st:
                L.append("| %s | %s | %s | %s | %s | %s | %s |" % (
                    name, rnd, f0(st["success"]), f0(st["failed"]),
                    f0(st["retrans"]), f0(st["rate"]), f1(st.get("cpu_s"))))
    L.append("")
    if "kamailio" in sv:
        for rnd in ("register", "refresh"):
            L.append("- %s: sipward / Kamailio = %s" % (
                rnd, rt(sv["sipward"][rnd]["rate"],
                        sv["kamailio"][rnd]["rate"])))
    sw = sv.get("sipward", {})
    if "registered" in sw:
        L.append("- endpoints registered in sipward's store afterwards: "
                 "%s of %s; warnings in its log: %s" % (
                     f0(sw["registered"]), f0(p["users"]),
                     sw.get("log_warnings") or "none"))
    return "\n".join(L)


def part_sip(p):
    s = p["servers"]
    sw, ka = s.get("sipward", {}), s.get("kamailio")
    kk = ka or {}
    L = ["## 1. SIP: REGISTER with digest authentication, UDP, %s users" %
         f0(p["users"]), "",
         "sipp scenario `bench/sip/register.xml` (REGISTER, 401, REGISTER "
         "with MD5 credentials, 200) against sipward and Kamailio "
         "(`bench/kamailio/kamailio.cfg`: auth_db on SQLite, usrloc in "
         "memory, 4 UDP workers). Both warmed up the same way (every user "
         "registered once, 64 calls in flight). Ratios are sipward / "
         "Kamailio.", "",
         "| figure | sipward | Kamailio | ratio |", "|---|---|---|---|"]

    def top(r):
        if r.get("open_loop_max") is None:
            return "none passed"
        return f0(r["open_loop_max"]) + (" (top of the ladder)"
                                          if r.get("ladder_top_reached")
                                          else "")
    L.append("| open-loop rate, zero failures and zero retransmissions "
             "(calls/s) | %s | %s | %s |" %
             (top(sw), top(kk) if ka else "-",
              rt(sw.get("open_loop_max"), kk.get("open_loop_max"))))
    cl_sw = ", ".join(f0(c["rate"]) for c in sw.get("closed", []))
    cl_ka = ", ".join(f0(c["rate"]) for c in kk.get("closed", []))
    L.append("| closed-loop peak, -l 256 (calls/s; mean of rounds %s / %s) "
             "| %s | %s | %s |" % (cl_sw or "-", cl_ka or "-",
                                   f0(sw.get("closed_peak")),
                                   f0(kk.get("closed_peak")),
                                   rt(sw.get("closed_peak"),
                                      kk.get("closed_peak"))))
    fr_sw = sum(c["failed"] for c in sw.get("closed", []))
    fr_ka = sum(c["failed"] for c in kk.get("closed", []))
    rr_sw = sum(c["retrans"] for c in sw.get("closed", []))
    rr_ka = sum(c["retrans"] for c in kk.get("closed", []))
    L.append("| closed loop: failed calls / retransmissions | %d / %d | %s |"
             " |" % (fr_sw, rr_sw, ("%d / %d" % (fr_ka, rr_ka)) if ka
                     else "-"))
    L.append("| server CPU time per call, closed loop (us, lower is better) "
             "| %s | %s | %s |" % (f1(sw.get("cpu_us_per_call")),
                                   f1(kk.get("cpu_us_per_call")),
                                   rt(sw.get("cpu_us_per_call"),
                                      kk.get("cpu_us_per_call"))))
    L.append("| PSS with %s bindings (MiB; processes: %s / %s) | %s | %s | "
             "%s |" % (f0(p["users"]), sw.get("processes", "-"),
                       kk.get("processes", "-"), mib(sw.get("pss_kib")),
                       mib(kk.get("pss_kib")),
                       rt(sw.get("pss_kib"), kk.get("pss_kib"))))
    L.append("| PSS at start, before any REGISTER (MiB) | %s | %s | %s |" %
             (mib(sw.get("pss_idle_kib")), mib(kk.get("pss_idle_kib")),
              rt(sw.get("pss_idle_kib"), kk.get("pss_idle_kib"))))
    L += ["", "Ladder steps (offered calls/s: result; a failed step is "
          "tried twice):", ""]
    for name in sorted(s, key=lambda k: k != "sipward"):
        r = s[name]
        steps = []
        for st in r.get("ladder", []):
            steps.append("%d%s %s" % (
                st["offered"], "" if st["attempt"] == 1 else " (retry)",
                "ok" if st["pass"] else "FAIL (%d failed, %d retrans, "
                "%d/%d ok, %.1fs)" % (st["failed"], st["retrans"],
                                      st["success"],
                                      st["calls"],
                                      st["elapsed"])))
        L.append("- %s: %s" % (name, "; ".join(steps) or "-"))
    return "\n".join(L)


def part_http(p):
    L = ["## 2. HTTP: wrk, keep-alive, %d threads x %d connections, %d s "
         "per run, %d interleaved rounds" % (p["threads"], p["conns"],
                                            p["duration_s"], p["rounds"]),
         "", "sipward with %s endpoints and %s HTTP threads (its default); "
         "nginx with %s workers (one per CPU) serving static files of the sizes of sipward's answers "
         "(retrieve %s bytes, list %s bytes) and an empty 202 for the "
         "update. Ratios are sipward / nginx." % (
             f0(p["endpoints"]), p.get("sipward_http_threads"),
             p.get("nginx_workers", "-"), p.get("retrieve_bytes"),
             p.get("list_bytes")), "",
         "| operation | sipward req/s (rounds) | p50 / p99 ms | CPU us/req "
         "| nginx ceiling | nginx req/s (rounds) | p50 / p99 ms | CPU us/req "
         "| ratio |", "|---|---|---|---|---|---|---|---|---|"]
    peer = {"retrieve": "static JSON, %s B" % p.get("retrieve_bytes"),
            "list": "static JSON, %s B" % p.get("list_bytes"),
            "update": "empty 202"}
    for op in ("retrieve", "list", "update"):
        r = p.get(op)
        if not r:
            continue
        s, n = r["sipward"], r["nginx"]
        ms = _mean([x["rps"] for x in s])
        mn = _mean([x["rps"] for x in n])
        err = sum(x["errors"] for x in s) + sum(x["errors"] for x in n)
        L.append("| %s%s | %s (%s) | %s / %s | %s | %s | %s (%s) | %s / %s "
                 "| %s | %s |" % (
                     op, " (%d errors)" % err if err else "", f0(ms),
                     ", ".join(f0(x["rps"]) for x in s),
                     f2(_mean([x["lat_p50_us"] / 1e3 for x in s])),
                     f2(_mean([x["lat_p99_us"] / 1e3 for x in s])),
                     f1(_mean([x.get("cpu_us_per_req") for x in s])),
                     peer[op], f0(mn), ", ".join(f0(x["rps"]) for x in n),
                     f2(_mean([x["lat_p50_us"] / 1e3 for x in n]))
                     if n else "-",
                     f2(_mean([x["lat_p99_us"] / 1e3 for x in n]))
                     if n else "-",
                     f1(_mean([x.get("cpu_us_per_req") for x in n])),
                     rt(ms, mn)))
    tools = {x.get("tool") for op in ("retrieve", "list", "update")
             for x in p.get(op, {}).get("sipward", [])}
    if "python" in tools:
        L += ["", "wrk was not installed: the Python fallback generated the "
              "load, so these figures measure Python, not the servers."]
    pss = p.get("pss_kib", {})
    L += ["", "PSS after the runs: sipward %s MiB, nginx %s MiB." % (
        mib(pss.get("sipward")), mib(pss.get("nginx")))]
    return "\n".join(L)


def part_durable(p):
    sw = _mean([x["rps"] for x in p["sipward"]])
    sq = _mean([x["commits_per_s"] for x in p["sqlite3"]])
    L = ["## 3. Durable writes", "",
         "Endpoint updates (each a real change, on disk before the 202: "
         "sipward commits concurrent writes in groups, one fsync per group) "
         "from %d concurrent wrk connections on distinct endpoints, "
         "%d s per run, against the sqlite3 command-line tool committing "
         "single-row INSERT transactions (WAL, synchronous=FULL: one fsync "
         "per commit) in the same directory, interleaved, %d rounds." % (
             p["conns"], p["duration_s"], p["rounds"]), "",
         "| figure | value (rounds) |", "|---|---|",
         "| sipward updates/s, -c %d | %s (%s); p99 %s ms; errors %d |" % (
             p["conns"], f0(sw), ", ".join(f0(x["rps"]) for x in
                                           p["sipward"]),
             f2(_mean([x["lat_p99_us"] / 1e3 for x in p["sipward"]])),
             sum(x["errors"] for x in p["sipward"])),
         "| sqlite3 CLI commits/s (one fsync each) | %s (%s; %s commits per "
         "run) |" % (f0(sq), ", ".join(f0(x["commits_per_s"])
                                        for x in p["sqlite3"]),
                     ", ".join(str(x["commits"]) for x in p["sqlite3"])),
         "| ratio sipward / SQLite commit rate | %s |" % rt(sw, sq)]
    return "\n".join(L)


def part_growth(p):
    sizes = sorted(p["sizes"], key=int)
    L = ["## 4. Growth", "",
         "A fresh database per size, endpoints written straight into SQLite "
         "(`bench/provision.py`). HTTP: wrk, %d connections, %d s per "
         "operation, over a random sample of the endpoints; list is the "
         "first page (limit 20). REGISTER: sipp closed loop, 16 calls in "
         "flight, sampled users, latency of the whole call (REGISTER to 200, "
         "1 ms resolution). Ratio: throughput at that size / at the "
         "smallest." % (p["conns"], p["duration_s"]), "",
         "| endpoints | provision (s) | DB (MiB) | retrieve req/s, p50/p99 ms "
         "| list req/s, p50/p99 ms | update req/s, p50/p99 ms | REGISTER "
         "calls/s, p50/p99 ms | PSS (MiB) |",
         "|---|---|---|---|---|---|---|---|"]
    base = p["sizes"][sizes[0]]

    def cell(r, op):
        x = r.get(op)
        if not x:
            return "-"
        b = base.get(op)
        ratio = rt(x["rps"], b["rps"]) if b and r is not base else ""
        return "%s, %s/%s%s%s" % (
            f0(x["rps"]), f2(x["lat_p50_us"] / 1e3),
            f2(x["lat_p99_us"] / 1e3),
            " (%d err)" % x["errors"] if x["errors"] else "",
            (" x" + ratio) if ratio else "")

    for n in sizes:
        r = p["sizes"][n]
        reg = r.get("register")
        if reg:
            b = base.get("register")
            regc = "%s, %s/%s%s%s" % (
                f0(reg["rate"]), ms1(reg.get("p50_ms")),
                ms1(reg.get("p99_ms")),
                " (%d failed)" % reg["failed"] if reg["failed"] else "",
                (" x" + rt(reg["rate"], b["rate"])) if r is not base else "")
        else:
            regc = "-"
        L.append("| %s | %s | %s | %s | %s | %s | %s | %s |" % (
            f0(int(n)), f1(r["provision_s"]), f1(r["db_bytes"] / 2 ** 20),
            cell(r, "retrieve"), cell(r, "list"), cell(r, "update"), regc,
            mib(r.get("pss_end_kib"))))
    if any(p["sizes"][n].get("list_keyset") for n in sizes):
        L += ["", "The last page of the list (limit 20), req/s, p50/p99 ms: "
              "by `offset` alone, and as `meta.next` gives it (`offset` and "
              "`after`, keyset). Ratio: the last page's rate / the first "
              "page's, at the same size.", "",
              "| endpoints | first page | last page by offset | ratio | "
              "last page by keyset | ratio |", "|---|---|---|---|---|---|"]
        for n in sizes:
            r = p["sizes"][n]
            if not r.get("list_keyset"):
                continue
            first = r["list"]["rps"]
            L.append("| %s | %s | %s | %s | %s | %s |" % (
                f0(int(n)), f0(first), f0(r["list_offset"]["rps"]),
                rt(r["list_offset"]["rps"], first),
                f0(r["list_keyset"]["rps"]),
                rt(r["list_keyset"]["rps"], first)))
    for n in sizes:
        m = p["sizes"][n].get("memory")
        if not m:
            continue
        ks, kb = m.get("kamailio_register_all"), m.get(
            "kamailio_pss_bindings_kib")
        s = m["sipward_register_all"]
        L += ["", "Memory with %s endpoints and %s live bindings (PSS, MiB; "
              "the bindings made by sipp, 256 calls in flight):" % (
                  f0(int(n)), f0(m["sipward_live_bindings"])), "",
              "| | sipward | Kamailio | ratio |", "|---|---|---|---|",
              "| before registering every user (sipward: after the HTTP and "
              "sample REGISTER runs above) | %s | %s | %s |" % (
                  mib(m["sipward_pss_before_kib"]),
                  mib(m.get("kamailio_pss_before_kib")),
                  rt(m["sipward_pss_before_kib"],
                     m.get("kamailio_pss_before_kib"))),
              "| with every user registered | %s | %s | %s |" % (
                  mib(m["sipward_pss_bindings_kib"]), mib(kb),
                  rt(m["sipward_pss_bindings_kib"], kb)),
              "| registering them all: calls/s (failed) | %s (%d) | %s | "
              "%s |" % (f0(s["rate"]), s["failed"],
                        ("%s (%d)" % (f0(ks["rate"]), ks["failed"]))
                        if ks else "-",
                        rt(s["rate"], ks["rate"] if ks else None))]
    return "\n".join(L)


def part_callgrind(p):
    L = ["## 5. Instructions per request (callgrind)", "",
         "`valgrind --tool=callgrind` on the server, all threads, "
         "instructions (Ir) of a run with %d requests subtracted from a run "
         "with %d, divided by %d; requests sent one at a time, each answered "
         "before the next (`bench/harness.py` drive(), "
         "`bench/sipclient.py`)." % (p["n1"], p["n2"], p["n2"] - p["n1"]),
         "", "| request | instructions per request |", "|---|---|"]
    names = {"retrieve": "GET endpoint (retrieve)",
             "update": "POST endpoint (update, alias changed, committed)",
             "register": "authenticated REGISTER (MD5, qop=auth) -> 200",
             "challenge": "REGISTER without credentials -> 401"}
    for op in sorted(p["ops"], key=lambda k: (list(names).index(k)
                                              if k in names else 99)):
        r = p["ops"][op]
        L.append("| %s | %s |" % (names.get(op, op), f0(r["per_request"])))
    return "\n".join(L)


def part_calls(p):
    s = p["servers"]
    sw, ka = s.get("sipward", {}), s.get("kamailio")
    kk = ka or {}
    L = ["## 6. Calls: INVITE with digest authentication through the server, "
         "UDP, %s callers, %s callees" % (f0(p["callers"]), f0(p["callees"])),
         "",
         "Callees registered (`bench/sip/callee-register.xml`) from the port "
         "of one sipp UAS (`bench/sip/uas.xml`: 180, 200 with SDP, ACK, BYE, "
         "200); a sipp caller (`bench/sip/uac.xml`) places calls: INVITE, "
         "407, ACK, INVITE with MD5 Proxy-Authorization (qop=auth), 180, "
         "200, ACK, BYE, 200. sipward rings the callee's binding with its own "
         "B leg (B2BUA); Kamailio (`bench/kamailio/kamailio-proxy.cfg`: "
         "proxy_authorize on the SQLite subscriber table, lookup(\"location\")"
         " in usrloc in memory, record_route, t_relay, 4 UDP workers) "
         "proxies it statefully. A call counts only when both the caller and "
         "the callee completed it; a passing run has no failed call and no "
         "retransmission on either side. Ratios are sipward / Kamailio.",
         "", "| figure | sipward | Kamailio | ratio |", "|---|---|---|---|"]

    def top(r, key, reached=None):
        if r.get(key) is None:
            return "none passed"
        return f0(r[key]) + (" (top of the ladder)" if reached and
                             r.get(reached) else "")
    L.append("| open-loop rate, %d s bursts, zero failures and zero "
             "retransmissions (calls/s) | %s | %s | %s |" % (
                 p["step_s"], top(sw, "open_loop_max", "ladder_top_reached"),
                 top(kk, "open_loop_max", "ladder_top_reached") if ka
                 else "-", rt(sw.get("open_loop_max"),
                              kk.get("open_loop_max"))))
    L.append("| sustained open-loop rate, held %d s after %d s quiet, zero "
             "failures and zero retransmissions (calls/s) | %s | %s | %s |" %
             (p["hold_s"], p["quiet_s"], top(sw, "sustained_max"),
              top(kk, "sustained_max") if ka else "-",
              rt(sw.get("sustained_max"), kk.get("sustained_max"))))
    cl_sw = ", ".join(f0(c["rate"]) for c in sw.get("closed", []))
    cl_ka = ", ".join(f0(c["rate"]) for c in kk.get("closed", []))
    L.append("| closed-loop peak, -l %d, %s calls a round (calls/s; rounds "
             "%s / %s) | %s | %s | %s |" % (
                 p["closed_l"], f0(p["closed_m"]), cl_sw or "-",
                 cl_ka or "-", f0(sw.get("closed_peak")),
                 f0(kk.get("closed_peak")),
                 rt(sw.get("closed_peak"), kk.get("closed_peak"))))

    def fr(r):
        c = r.get("closed", [])
        return "%d / %d" % (sum(x["failed_all"] for x in c),
                            sum(x["retrans_all"] for x in c))
    L.append("| closed loop: failed calls / retransmissions (caller + "
             "callee) | %s | %s | |" % (fr(sw), fr(kk) if ka else "-"))
    L.append("| server CPU time per call, closed loop (us, lower is better) "
             "| %s | %s | %s |" % (f1(sw.get("cpu_us_per_call")),
                                   f1(kk.get("cpu_us_per_call")),
                                   rt(sw.get("cpu_us_per_call"),
                                      kk.get("cpu_us_per_call"))))
    cr = p.get("common_rate")
    cs, ck = sw.get("common", {}), kk.get("common", {})
    if cr:
        L.append("| server CPU time per call at %s calls/s, the highest "
                 "step both passed (us) | %s | %s | %s |" % (
                     f0(cr), f1(cs.get("cpu_us_per_call")),
                     f1(ck.get("cpu_us_per_call")),
                     rt(cs.get("cpu_us_per_call"),
                        ck.get("cpu_us_per_call"))))
        L.append("| call setup p50 / p99 at %s calls/s, first INVITE to "
                 "200, 407 round included (ms, 1 ms resolution) | %s / %s "
                 "| %s / %s | |" % (f0(cr), ms1(cs.get("p50_ms")),
                                    ms1(cs.get("p99_ms")),
                                    ms1(ck.get("p50_ms")),
                                    ms1(ck.get("p99_ms"))))
    L.append("| PSS at the end (MiB; processes: %s / %s) | %s | %s | %s |" %
             (sw.get("processes", "-"), kk.get("processes", "-"),
              mib(sw.get("pss_kib")), mib(kk.get("pss_kib")),
              rt(sw.get("pss_kib"), kk.get("pss_kib"))))
    if "cdrs" in sw:
        L.append("| CDRs in sipward's store / legs of the calls that "
                 "succeeded (A and B leg each) | %s / %s | | |" % (
                     f0(sw["cdrs"]), f0(sw.get("cdrs_expected_min"))))

    def steps(lst, retry=True):
        out = []
        for st in lst:
            out.append("%d%s %s" % (
                st["offered"], " (retry)" if retry and
                st.get("attempt", 1) > 1 else "",
                "ok" if st["pass"] else "FAIL (%d failed, %d retrans, "
                "%d/%d ok, %.1fs)" % (st["failed_all"], st["retrans_all"],
                                      min(st["success"], st["uas_success"]),
                                      st["calls"], st["elapsed"])))
        return "; ".join(out) or "-"
    L += ["", "Ladder steps (offered calls/s: result; failed and "
          "retransmissions count the caller and the callee; a failed step "
          "is tried twice):", ""]
    for name in sorted(s, key=lambda k: k != "sipward"):
        L.append("- %s: %s" % (name, steps(s[name].get("ladder", []))))
    L += ["", "Held rates (%d s each, a failed one retried at the highest "
          "step at most 3/4 of it):" % p["hold_s"], ""]
    for name in sorted(s, key=lambda k: k != "sipward"):
        L.append("- %s: %s" % (name, steps(s[name].get("holds", []),
                                           retry=False)))
    return "\n".join(L)


def part_callgrind_calls(p):
    L = ["## 7. Instructions per call (callgrind)", "",
         "`valgrind --tool=callgrind` on sipward, all threads, with %d "
         "callees registered; the caller places one call at a time (sipp "
         "`-l 1`): INVITE, 407, ACK, INVITE with credentials, sipward's B "
         "leg (INVITE, 180, 200, ACK, BYE, 200), 180, 200, ACK, BYE, 200, "
         "both CDRs and the live-call row written. Instructions of a run "
         "with %d calls subtracted from a run with %d, divided by %d "
         "(timers that tick with wall time, such as the 250 ms poll for "
         "API hangups, are included)." % (
             p["callees"], p["n1"], p["n2"], p["n2"] - p["n1"]), "",
         "| | instructions |", "|---|---|",
         "| one call, both legs | %s |" % f0(p["per_call"])]
    return "\n".join(L)


def part_scaling(p):
    pgv = p.get("postgresql", "?")
    st = p.get("pg_settings", {})
    L = ["## Scaling: %d sipward nodes on one PostgreSQL" % p["nodes"], "",
         "PostgreSQL %s (`scripts/pg-cluster.sh`: fsync=%s, "
         "synchronous_commit=%s, shared_buffers=%s x 8 kB) with %s endpoints "
         "copied from SQLite (`sipward db copy`, %s s); %d nodes on it, the "
         "same `sip_nonce_secret` and server key. Storm: the first %s users "
         "split in %d, one sipp (`sip/register.xml`) per node, all at once, "
         "%d calls in flight in all, as fast as the nodes answer; a round of "
         "first registrations, then one of refreshes. Calls: %s calls at %s/s "
         "(`sip/uac.xml`, %s callers) sent to node 1, to %s callees "
         "registered through nodes 2 and 3 from one sipp UAS "
         "(`sip/uas.xml`), which node 1 rings itself over UDP." % (
             pgv, st.get("fsync", "?"), st.get("synchronous_commit", "?"),
             st.get("shared_buffers", "?"), f0(p["endpoints"]),
             f1(p.get("copy_s")), p["nodes"], f0(p["users"]), p["nodes"],
             p["in_flight"], f0(p["calls"]), f0(p["call_rate"]),
             f0(p["call_users"]), f0(p["call_users"])), "",
         "| phase | ok | failed | retransmissions | wall s | calls/s | "
         "node CPU s (%s) | PostgreSQL CPU s | CPU us per op, all |" %
         ", ".join(str(i + 1) for i in range(p["nodes"])),
         "|---|---|---|---|---|---|---|---|---|"]
    phases = [("storm: register", p.get("register")),
              ("storm: refresh", p.get("refresh")),
              ("calls", p.get("calls_run"))]
    for name, r in phases:
        if not r:
            continue
        failed = r.get("failed_all", r["failed"])
        retrans = r.get("retrans_all", r["retrans"])
        L.append("| %s | %s | %s | %s | %s | %s | %s | %s | %s |" % (
            name, f0(r["success"]), f0(failed), f0(retrans),
            f1(r["wall_s"]), f0(r["rate"]),
            ", ".join(f1(c) for c in r["node_cpu_s"]), f1(r["pg_cpu_s"]),
            f0(r.get("cpu_us_per_op"))))
    L += ["", "PostgreSQL per operation (a REGISTER round trip: 401 and "
          "authenticated REGISTER; a call: both legs, CDRs included) and per "
          "second of load. Commits: `pg_stat_database.xact_commit` of the "
          "nodes' database, read-only transactions included (idle, the "
          "nodes made %s a second; \"net\" subtracts that rate over the "
          "phase); rollbacks: `xact_rollback` (transactions the nodes "
          "retried, e.g. after a serialization failure); write "
          "transactions: XIDs assigned (the snapshot's xmax), rolled-back "
          "ones included; "
          "tuples: inserted + updated + deleted; WAL: `pg_current_wal_lsn()` "
          "difference, the whole cluster's. Counters read once they stopped "
          "moving for longer than PostgreSQL holds them back (up to 10 s "
          "for a connection that goes idle)."
          % f1(p.get("idle", {}).get("commit_rate")), "",
          "| phase | commits / op (net) | rollbacks / op | write txns / op "
          "| tuples / op (ins / upd / del) | WAL bytes / op | WAL FPI / op "
          "| commits/s (net) | rollbacks/s | write txns/s | WAL MB/s |",
          "|---|---|---|---|---|---|---|---|---|---|---|"]
    for name, r in phases:
        if not r:
            continue
        q = r["pg"]
        po, ps = q["per_op"], q["per_s"]
        L.append("| %s | %s (%s) | %s | %s | %s (%s / %s / %s) | %s | %s "
                 "| %s (%s) | %s | %s | %s |" % (
                     name, f2(po["xact_commit"]), f2(po["commits_net"]),
                     f2(po["xact_rollback"]), f2(po["xids"]),
                     f2(po["tuples"]),
                     f2(po["tup_inserted"]), f2(po["tup_updated"]),
                     f2(po["tup_deleted"]), f0(po["wal_bytes"]),
                     f2(po["wal_fpi"]), f0(ps["xact_commit"]),
                     f0(ps["commits_net"]), f0(ps["xact_rollback"]),
                     f0(ps["xids"]),
                     f2(ps["wal_bytes"] / 1e6
                        if ps["wal_bytes"] is not None else None)))
    L.append("")
    notes = []
    if "registered" in p:
        notes.append("endpoints registered in the store after the storm: "
                     "%s of %s" % (f0(p["registered"]), f0(p["users"])))
    c = p.get("calls_run")
    if c:
        notes.append("calls: callees completed %s; CDRs in the store %s "
                     "(two legs per successful call: %s)" % (
                         f0(c["uas_success"]), f0(c.get("cdrs")),
                         f0(c.get("cdrs_expected_min"))))
    ck = [r["pg"]["delta"]["checkpoints"] for _, r in phases if r]
    if any(ck):
        notes.append("checkpoints during the phases: %s (their full-page "
                     "images are in the WAL figures)" %
                     ", ".join(str(x) for x in ck))
    for name, r in phases:
        if r and r["pg"]["delta"].get("log_errors"):
            notes.append("PostgreSQL ERRORs during %s: %s" % (
                name, "; ".join("%s x %s" % (f0(v), m) for m, v in sorted(
                    r["pg"]["delta"]["log_errors"].items(),
                    key=lambda kv: -kv[1]))))
    notes.append("warnings in the nodes' logs: %s" %
                 (p.get("log_warnings") or "none"))
    L += ["- " + x for x in notes]
    return "\n".join(L)


def summary(res):
    m = res["machine"]
    L = ["# sipward benchmark, %s" % m.get("date"), "",
         machine(m, res.get("argv", []), res.get("quick"),
                 res.get("seconds", 0)), "",
         "Every figure below is measured on this machine in this run; "
         "compare the ratios and the instruction counts, not the absolute "
         "numbers (other work may share the machine: load average above). "
         "sipward runs with its defaults (SQLite store, its log to a file) "
         "plus "
         "sip_digest_algorithms=MD5 (sipp answers MD5), "
         "sip_nonce_ttl=3600, sip_challenge_rate=1000000 (every sipp "
         "call comes from 127.0.0.1) and calls_max_per_account=10000 (every "
         "endpoint is in one account). Peers and sipward alternate run by run "
         "(sipward, peer, sipward, peer) where rounds are listed.", ""]
    for s in res.get("skips", []):
        L.append("- SKIP: %s" % s)
    if res.get("skips"):
        L.append("")
    fns = {"sip": part_sip, "storm": part_storm, "http": part_http, "durable": part_durable,
           "growth": part_growth, "callgrind": part_callgrind,
           "calls": part_calls, "callgrind_calls": part_callgrind_calls,
           "scaling": part_scaling}
    order = ["sip", "storm", "http", "durable", "growth", "callgrind", "calls",
             "callgrind_calls", "scaling"]
    for name in sorted(res["parts"], key=lambda k: (order.index(k)
                                                  if k in order else 99)):
        p = res["parts"][name]
        if "error" in p:
            L += ["## %s: FAILED" % name, "", "`%s`" % p["error"], ""]
            continue
        if "skipped" in p:
            L += ["## %s: skipped (%s)" % (name, p["skipped"]), ""]
            continue
        try:
            L += [fns[name](p), ""]
        except Exception as e:  # noqa: BLE001 (a report bug must not lose
            L += ["## %s: report error %r" % (name, e), ""]  # the raw data)
    return "\n".join(L)


if __name__ == "__main__":
    # Rewrites the summary of a finished run:
    #   python3 bench/report.py bench/results/<date>/results.json
    import json
    import os
    import sys
    with open(sys.argv[1]) as fh:
        res = json.load(fh)
    dest = os.path.join(os.path.dirname(sys.argv[1]), "summary.md")
    with open(dest, "w") as fh:
        fh.write(summary(res))
    print(dest)
