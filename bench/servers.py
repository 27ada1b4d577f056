"""servers.py - the servers under test, each on free loopback ports and
stopped by PID: sipward, Kamailio (the registrar peer) and nginx (the HTTP
ceiling)."""
import json
import os
import re
import shutil
import time

from common import (Proc, free_port, log, pss_kib, tree, wait_tcp,
                    wait_udp_sip, cpu_seconds)

HERE = os.path.dirname(os.path.abspath(__file__))
DOMAIN = "bench.test"

# What the harness sets for sipward, on top of its defaults. MD5 only,
# because sipp answers MD5 challenges (Kamailio offers MD5 only too); the
# longer nonce TTL lets one nonce serve a whole callgrind run. Every sipp
# call comes from 127.0.0.1, and sip_challenge_rate (a guard against forged
# sources turning sipward into a reflector, 50 challenges a second to one
# address by default) would cap the 401s and 407s at 50/s; Kamailio has no
# such limit, so it is lifted to its maximum. Every benchmark endpoint
# belongs to one account, whose calls in progress calls_max_per_account
# (100 by default) would cap below the closed loop's 256: it is set to
# calls_max's default, 10,000, the limit of the node.
SIPWARD_ENV = {
    "SIPWARD_DOMAIN": DOMAIN,
    "SIPWARD_SIP_DIGEST_ALGORITHMS": "MD5",
    "SIPWARD_SIP_NONCE_TTL": "3600",
    "SIPWARD_SIP_CHALLENGE_RATE": "1000000",
    "SIPWARD_CALLS_MAX_PER_ACCOUNT": "10000",
    "SIPWARD_ADMIN_HTTP": "127.0.0.1:0",  # several nodes at once
}


class Sipward:
    """sipward serve on a SQLite file. The first start on an empty file
    prints the first account (auth_id, auth_token) on stdout; it is saved
    next to the database so later starts on the same file can reuse it.
    db_url: serve that store instead (a postgresql:// URL); the account is
    then read from db_path + ".account.json", which must exist (e.g. the
    SQLite file the store was copied from)."""

    def __init__(self, binary, db_path, outdir, name="sipward", env=None,
                 wrapper=None, start_timeout=20.0, db_url=None):
        self.db_path = db_path
        self.db_url = db_url or "sqlite:" + db_path
        self.http_port = free_port(udp_too=False)
        self.sip_port = free_port(udp_too=True)
        e = dict(SIPWARD_ENV)
        if env:
            e.update(env)
        argv = [binary, "serve", "--db", self.db_url,
                "--http", "127.0.0.1:%d" % self.http_port,
                "--sip", "127.0.0.1:%d" % self.sip_port]
        self.proc = Proc(name, (wrapper or []) + argv, outdir, env=e)
        self.pid = self.proc.pid
        acct_path = db_path + ".account.json"
        try:
            wait_tcp(self.http_port, start_timeout, self.proc.p)
            wait_udp_sip(self.sip_port, start_timeout, self.proc.p)
            if not os.path.exists(acct_path):
                end = time.monotonic() + start_timeout
                while time.monotonic() < end:
                    with open(self.proc.out_path) as f:
                        line = f.readline()
                    if line.endswith("\n"):
                        break
                    time.sleep(0.05)
                acct = json.loads(line)
                with open(acct_path, "w") as f:
                    json.dump(acct, f)
        except Exception:
            self.proc.stop()
            raise
        with open(acct_path) as f:
            acct = json.load(f)
        self.threads = None  # its HTTP threads, from the "started" event
        end = time.monotonic() + 5
        while self.threads is None and time.monotonic() < end:
            with open(self.proc.err_path, errors="replace") as f:
                m = re.search(r"event=started .*threads=(\d+)", f.read())
            if m:
                self.threads = int(m.group(1))
            else:
                time.sleep(0.05)
        self.auth_id = acct["auth_id"]
        self.auth_token = acct["auth_token"]

    def pids(self):
        return [self.pid]

    def cpu(self):
        return cpu_seconds(self.pids())

    def pss(self):
        return pss_kib(self.pids())

    def stop(self):
        return self.proc.stop()


def sipward_db(binary, path, outdir, name="sipward-init"):
    """Creates the schema and the first account in an empty file by one
    start of the server, then stops it. Returns (auth_id, token)."""
    for ext in ("", "-wal", "-shm", ".account.json"):
        if os.path.exists(path + ext):
            os.unlink(path + ext)
    s = Sipward(binary, path, outdir, name=name)
    s.stop()
    return s.auth_id, s.auth_token


class Kamailio:
    """Kamailio 5.6 with bench/kamailio/kamailio.cfg (the registrar) or
    kamailio-proxy.cfg (registrar and stateful proxy, the calls part):
    auth_db on the SQLite subscriber table, usrloc in memory, `children`
    UDP workers."""

    def __init__(self, db_path, outdir, children=4, shm_mb=512,
                 name="kamailio", cfg="kamailio.cfg"):
        self.sip_port = free_port(udp_too=True)
        cfg = os.path.join(HERE, "kamailio", cfg)
        self.rundir = os.path.join(outdir, name + ".run")
        os.makedirs(self.rundir, exist_ok=True)
        argv = [shutil.which("kamailio") or "/usr/sbin/kamailio",
                "-f", cfg, "-DD", "-E",
                "-m", str(shm_mb), "-M", "16",
                "-n", str(children),
                "-l", "udp:127.0.0.1:%d" % self.sip_port,
                "-Y", self.rundir,
                "-A", 'DBURL="sqlite://%s"' % db_path]
        self.proc = Proc(name, argv, outdir)
        self.pid = self.proc.pid
        try:
            wait_udp_sip(self.sip_port, 20.0, self.proc.p)
        except Exception:
            self.proc.stop()
            raise

    def pids(self):
        return tree(self.pid)

    def cpu(self):
        return cpu_seconds(self.pids())

    def pss(self):
        return pss_kib(self.pids())

    def stop(self):
        return self.proc.stop()


class Nginx:
    """nginx serving the static bodies of bench/nginx/nginx.conf from a
    prefix directory in the results."""

    def __init__(self, outdir, workers, files, name="nginx"):
        self.port = free_port(udp_too=False)
        self.prefix = os.path.join(outdir, name + ".prefix")
        for d in ("", "logs", "html", "tmp"):
            os.makedirs(os.path.join(self.prefix, d), exist_ok=True)
        for fname, body in files.items():
            with open(os.path.join(self.prefix, "html", fname), "wb") as f:
                f.write(body)
        with open(os.path.join(HERE, "nginx", "nginx.conf")) as f:
            conf = f.read()
        conf = (conf.replace("@WORKERS@", str(workers))
                .replace("@PORT@", str(self.port))
                .replace("@PREFIX@", self.prefix))
        self.conf = os.path.join(self.prefix, "nginx.conf")
        with open(self.conf, "w") as f:
            f.write(conf)
        argv = [shutil.which("nginx") or "/usr/sbin/nginx", "-c", self.conf,
                "-p", self.prefix, "-e", os.path.join(self.prefix, "logs",
                                                      "error.log"),
                "-g", "daemon off;"]
        self.proc = Proc(name, argv, outdir)
        self.pid = self.proc.pid
        try:
            wait_tcp(self.port, 15.0, self.proc.p)
        except Exception:
            self.proc.stop()
            raise

    def pids(self):
        return tree(self.pid)

    def cpu(self):
        return cpu_seconds(self.pids())

    def pss(self):
        return pss_kib(self.pids())

    def stop(self):
        return self.proc.stop()


def log_versions(outdir):
    log("results in %s" % outdir)
