"""httpload.py - a small keep-alive HTTP load generator in Python, used only
when wrk is not installed (the --quick smoke on a machine without the bench
packages). Same modes and the same result keys as bench/wrk/common.lua; its
throughput is bounded by Python, so its figures are not benchmark results."""
import http.client
import threading
import time


def run(port, mode, duration, conns, ids=None, auth_id=None, token=None,
        path=None):
    lat = []
    errs = {"err_status": 0, "err_read": 0}
    lock = threading.Lock()
    end = time.monotonic() + duration
    hdr = {"Content-Type": "application/json"}
    if auth_id:
        hdr.update({"X-Auth-ID": auth_id, "X-Auth-Token": token})

    def worker(w):
        c = http.client.HTTPConnection("127.0.0.1", port, timeout=10)
        mine, seq, k = [], 0, w
        while time.monotonic() < end:
            seq += 1
            body = None
            if mode == "retrieve":
                m, p = "GET", "/v1/Account/%s/Endpoint/%s/" % (
                    auth_id, ids[k % len(ids)])
            elif mode == "list":
                m, p = "GET", "/v1/Account/%s/Endpoint/?limit=20" % auth_id
            elif mode == "update":
                m, p = "POST", "/v1/Account/%s/Endpoint/%s/" % (
                    auth_id, ids[k % len(ids)])
                body = '{"alias": "p%dx%d"}' % (w, seq)
            elif mode == "get":
                m, p = "GET", path
            else:
                m, p = "POST", path
                body = '{"alias": "p%dx%d"}' % (w, seq)
            k += conns
            t = time.monotonic()
            try:
                c.request(m, p, body=body, headers=hdr)
                r = c.getresponse()
                r.read()
                ok = 200 <= r.status < 300
            except (OSError, http.client.HTTPException):
                ok = None
                c.close()
                c = http.client.HTTPConnection("127.0.0.1", port, timeout=10)
            mine.append(time.monotonic() - t)
            if ok is not True:
                with lock:
                    errs["err_status" if ok is False else "err_read"] += 1
        c.close()
        with lock:
            lat.extend(mine)

    t0 = time.monotonic()
    ths = [threading.Thread(target=worker, args=(w,)) for w in range(conns)]
    for t in ths:
        t.start()
    for t in ths:
        t.join(duration + 30)
    el = time.monotonic() - t0
    lat.sort()

    def pct(q):
        return int(lat[min(len(lat) - 1, int(q * len(lat)))] * 1e6) \
            if lat else 0

    return dict(requests=len(lat), duration_us=int(el * 1e6), bytes=0,
                err_connect=0, err_write=0, err_timeout=0,
                lat_p50_us=pct(0.5), lat_p90_us=pct(0.9), lat_p99_us=pct(0.99),
                lat_mean_us=(sum(lat) / len(lat) * 1e6) if lat else 0,
                lat_max_us=int(lat[-1] * 1e6) if lat else 0, **errs)
