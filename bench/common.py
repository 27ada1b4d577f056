"""common.py - what every part of the harness shares: free loopback ports,
servers started in the background and stopped by PID, per-process CPU time
and PSS from /proc, bounded waits, logging."""
import json
import os
import signal
import socket
import subprocess
import sys
import time

CLK_TCK = os.sysconf("SC_CLK_TCK")
T0 = time.monotonic()


def log(msg):
    sys.stderr.write("[bench %6.1fs] %s\n" % (time.monotonic() - T0, msg))
    sys.stderr.flush()


def free_port(udp_too=True):
    """A loopback port free for TCP (and UDP when udp_too) right now."""
    for _ in range(200):
        t = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        t.bind(("127.0.0.1", 0))
        port = t.getsockname()[1]
        if udp_too:
            u = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
            try:
                u.bind(("127.0.0.1", port))
            except OSError:
                t.close()
                u.close()
                continue
            u.close()
        t.close()
        return port
    raise RuntimeError("no free loopback port")


def wait_tcp(port, timeout=15.0, proc=None):
    """Waits until 127.0.0.1:port accepts a connection."""
    end = time.monotonic() + timeout
    while time.monotonic() < end:
        if proc is not None and proc.poll() is not None:
            raise RuntimeError("process exited with %s" % proc.returncode)
        try:
            with socket.create_connection(("127.0.0.1", port), 0.5):
                return
        except OSError:
            time.sleep(0.05)
    raise RuntimeError("nothing listening on %d after %.0fs" % (port, timeout))


def wait_udp_sip(port, timeout=15.0, proc=None):
    """Waits until an OPTIONS to 127.0.0.1:port gets any SIP answer."""
    end = time.monotonic() + timeout
    s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    s.bind(("127.0.0.1", 0))
    s.settimeout(0.3)
    lp = s.getsockname()[1]
    n = 0
    try:
        while time.monotonic() < end:
            if proc is not None and proc.poll() is not None:
                raise RuntimeError("process exited with %s" %
                                   proc.returncode)
            n += 1
            msg = ("OPTIONS sip:127.0.0.1:%d SIP/2.0\r\n"
                   "Via: SIP/2.0/UDP 127.0.0.1:%d;branch=z9hG4bKprobe%d;"
                   "rport\r\nFrom: <sip:probe@127.0.0.1>;tag=p%d\r\n"
                   "To: <sip:probe@127.0.0.1>\r\nCall-ID: probe%d@bench\r\n"
                   "CSeq: 1 OPTIONS\r\nMax-Forwards: 70\r\n"
                   "Content-Length: 0\r\n\r\n" % (port, lp, n, n, n))
            s.sendto(msg.encode(), ("127.0.0.1", port))
            try:
                data = s.recv(4096)
                if data.startswith(b"SIP/2.0"):
                    return
            except socket.timeout:
                pass
    finally:
        s.close()
    raise RuntimeError("no SIP answer on udp %d after %.0fs" % (port, timeout))


class Proc:
    """A background process with its output in files, stopped by PID."""

    def __init__(self, name, argv, outdir, env=None, cwd=None):
        self.name = name
        self.argv = argv
        self.out_path = os.path.join(outdir, name + ".out")
        self.err_path = os.path.join(outdir, name + ".err")
        self.out = open(self.out_path, "wb")
        self.err = open(self.err_path, "wb")
        e = dict(os.environ)
        if env:
            e.update(env)
        self.p = subprocess.Popen(argv, stdout=self.out, stderr=self.err,
                                  stdin=subprocess.DEVNULL, env=e, cwd=cwd)
        self.pid = self.p.pid
        log("started %s pid %d: %s" % (name, self.pid, " ".join(argv)))

    def alive(self):
        return self.p.poll() is None

    def stop(self, timeout=15.0):
        """SIGTERM to our PID, SIGKILL to the same PID after timeout."""
        if self.p.poll() is None:
            try:
                os.kill(self.pid, signal.SIGTERM)
            except ProcessLookupError:
                pass
            try:
                self.p.wait(timeout)
            except subprocess.TimeoutExpired:
                log("%s pid %d ignored SIGTERM; SIGKILL" % (self.name,
                                                           self.pid))
                os.kill(self.pid, signal.SIGKILL)
                self.p.wait(5)
        self.out.close()
        self.err.close()
        return self.p.returncode


def children(pid):
    """Every descendant PID of pid (via /proc/*/stat parent links)."""
    parent = {}
    for d in os.listdir("/proc"):
        if not d.isdigit():
            continue
        try:
            with open("/proc/%s/stat" % d) as f:
                s = f.read()
        except OSError:
            continue
        parent[int(d)] = int(s[s.rindex(")") + 2:].split()[1])
    out, todo = [], [pid]
    while todo:
        p = todo.pop()
        for c, pp in parent.items():
            if pp == p:
                out.append(c)
                todo.append(c)
    return out


def tree(pid):
    return [pid] + children(pid)


def cpu_seconds(pids):
    """utime + stime of the given processes (all their threads), seconds."""
    t = 0
    for p in pids:
        try:
            with open("/proc/%d/stat" % p) as f:
                s = f.read()
        except OSError:
            continue
        fields = s[s.rindex(")") + 2:].split()
        t += int(fields[11]) + int(fields[12])
    return t / CLK_TCK


def pss_kib(pids):
    """Proportional set size of the given processes, KiB (summed: PSS
    splits shared pages between the processes that map them)."""
    t = 0
    for p in pids:
        try:
            with open("/proc/%d/smaps_rollup" % p) as f:
                for line in f:
                    if line.startswith("Pss:"):
                        t += int(line.split()[1])
                        break
        except OSError:
            continue
    return t


def run(argv, timeout, outdir=None, name=None, env=None, cwd=None,
        check=False):
    """Runs argv to completion within timeout seconds; returns
    (returncode, stdout, stderr). Output is also saved when name given."""
    e = dict(os.environ)
    if env:
        e.update(env)
    try:
        p = subprocess.run(argv, capture_output=True, timeout=timeout,
                           env=e, cwd=cwd, stdin=subprocess.DEVNULL)
        rc, out, err = p.returncode, p.stdout.decode(
            errors="replace"), p.stderr.decode(errors="replace")
    except subprocess.TimeoutExpired as ex:
        rc = -999
        out = (ex.stdout or b"").decode(errors="replace")
        err = (ex.stderr or b"").decode(errors="replace") + "\n[timeout]"
    if outdir and name:
        os.makedirs(outdir, exist_ok=True)
        with open(os.path.join(outdir, name + ".out"), "w") as f:
            f.write("$ %s\n%s" % (" ".join(argv), out))
        if err:
            with open(os.path.join(outdir, name + ".err"), "w") as f:
                f.write(err)
    if check and rc != 0:
        raise RuntimeError("%s failed (%s): %s" % (argv[0], rc, err[-500:]))
    return rc, out, err


def save_json(path, obj):
    with open(path, "w") as f:
        json.dump(obj, f, indent=1, sort_keys=True)
